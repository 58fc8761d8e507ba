/*
 * trace_kvt.h - the binary trace cache (.kvt): a parsed, interned trace on disk.
 *
 * `kvsim convert IN OUT.kvt` writes one; trace_load() recognises the magic at the start of
 * a file and loads it instead of parsing JSONL, with identical results.
 */
#ifndef KV_TRACE_KVT_H
#define KV_TRACE_KVT_H

#include "trace.h"

#define KVT_MAGIC "KVT\x01"

int trace_load_kvt(const char *path, const struct kv_load_opts *opts, struct kv_trace **out,
		   struct kv_err *err);

int trace_save_kvt(const struct kv_trace *t, const char *path, struct kv_err *err);

#endif
