/* outfile.c - atomic result files (see outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outfile_open(struct kv_outfile *o, const char *path, struct kv_err *err)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	if (strlen(path) >= sizeof(o->path))
		return kv_fail(err, KV_EINPUT, "%s: path too long", path);
	strcpy(o->path, path);
	/* An existing non-regular target (/dev/null, a FIFO, a terminal) is written in place:
	 * renaming a temporary file over it would replace the device node itself. */
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "w");
		if (!o->f)
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno));
		return KV_OK;
	}
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.%ld", path, (long)getpid());
	o->f = fopen(o->tmp, "w");
	if (!o->f)
		return kv_fail(err, KV_ERUNTIME, "%s: %s", o->tmp, strerror(errno));
	return KV_OK;
}

int outfile_commit(struct kv_outfile *o, struct kv_err *err)
{
	int bad = ferror(o->f);

	if (fclose(o->f) || bad) {
		o->f = NULL;
		if (o->tmp[0])
			unlink(o->tmp);
		return kv_fail(err, KV_ERUNTIME, "%s: write failed", o->path);
	}
	o->f = NULL;
	if (o->tmp[0] && rename(o->tmp, o->path)) {
		int e = errno;
		unlink(o->tmp);
		return kv_fail(err, KV_ERUNTIME, "%s: %s", o->path, strerror(e));
	}
	return KV_OK;
}

void outfile_abort(struct kv_outfile *o)
{
	if (o->f) {
		fclose(o->f);
		o->f = NULL;
		if (o->tmp[0])
			unlink(o->tmp);
	}
}

int make_dirs(const char *dir, struct kv_err *err)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return kv_fail(err, KV_EINPUT, "bad directory name '%s'", dir);
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0777) && errno != EEXIST)
			return kv_fail(err, KV_EINPUT, "%s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0777) && errno != EEXIST)
		return kv_fail(err, KV_EINPUT, "%s: %s", buf, strerror(errno));
	return KV_OK;
}
