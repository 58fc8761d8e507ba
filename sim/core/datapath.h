/*
 * datapath.h - finding kvsim's bundled data files (sample traces, generator profiles).
 *
 * A relative data path such as "traces/sample/x.jsonl.gz" is looked up, in order: in the
 * source tree the executable was built in (bin/kvsim -> bin/../REL), in the installed share
 * folder (PREFIX/bin/kvsim -> PREFIX/share/kvsim/REL), then relative to the current folder.
 */
#ifndef KV_DATAPATH_H
#define KV_DATAPATH_H

#include <stddef.h>

/* Writes the first readable candidate for rel into buf and returns buf, or NULL when none
 * is readable (buf then holds rel). */
const char *kv_data_path(const char *rel, char *buf, size_t len);

#endif
