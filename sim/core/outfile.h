/*
 * outfile.h - result files that are never left half-written.
 *
 * Output goes to "PATH.tmp.PID" and is renamed over PATH only when complete
 * (outfile_commit); on any failure outfile_abort removes the temporary file.
 * An existing target that is not a regular file (/dev/null, a FIFO) is written in place, and
 * so is a descriptor (/dev/stdout, /dev/fd/N), whatever its file; a symlink to a regular
 * file stays a symlink (its target is replaced).
 */
#ifndef KV_OUTFILE_H
#define KV_OUTFILE_H

#include <stdio.h>

#include "error.h"

struct kv_outfile {
	FILE *f;
	char path[4096];
	char tmp[4200];
};

int outfile_open(struct kv_outfile *o, const char *path, struct kv_err *err);
int outfile_commit(struct kv_outfile *o, struct kv_err *err);
void outfile_abort(struct kv_outfile *o);

/* Creates a directory and its parents (like mkdir -p). */
int make_dirs(const char *dir, struct kv_err *err);

#endif
