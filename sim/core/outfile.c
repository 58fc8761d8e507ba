/* outfile.c - atomic result files (see outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A symlink into /proc: /dev/stdout (-> /proc/self/fd/1), /dev/fd/N, /proc/self/fd/N. It
 * names an open descriptor, whose file is not ours to replace. */
static int descriptor_link(const char *path)
{
	char link[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink(path, link, sizeof(link) - 1);

	if (n > 0) {
		link[n] = 0;
		if (!strncmp(link, "/proc/", 6))
			return 1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	return realpath(dirname(dir), real) && !strncmp(real, "/proc/", 6);
}

/* The descriptor a path names: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N; -1
 * for any other. Written through a duplicate, such a path shares the descriptor's offset,
 * as the user means it (`kvsim ... --requests /dev/stdout > out.csv`); opening it anew
 * would truncate out.csv under the shell's descriptor. */
static int descriptor_of(const char *path)
{
	const char *p = NULL;
	char *end;
	long fd;

	if (!strcmp(path, "/dev/stdout"))
		return 1;
	if (!strcmp(path, "/dev/stderr"))
		return 2;
	if (!strncmp(path, "/dev/fd/", 8))
		p = path + 8;
	else if (!strncmp(path, "/proc/self/fd/", 14))
		p = path + 14;
	if (!p || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	fd = strtol(p, &end, 10);
	return *end || errno || fd > INT_MAX ? -1 : (int)fd;
}

int outfile_open(struct kv_outfile *o, const char *path, struct kv_err *err)
{
	struct stat st;
	char real[PATH_MAX];
	int in_place = 0, fd;

	memset(o, 0, sizeof(*o));
	if (strlen(path) >= sizeof(o->path))
		return kv_fail(err, KV_EINPUT, "%s: path too long", path);
	strcpy(o->path, path);
	if ((fd = descriptor_of(path)) >= 0) {
		fflush(NULL); /* what was printed before comes first */
		if ((fd = dup(fd)) < 0 || !(o->f = fdopen(fd, "w"))) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(e));
		}
		return KV_OK;
	}
	/* An existing non-regular target (/dev/null, a FIFO, a terminal) is written in place:
	 * renaming a temporary file over it would replace the device node itself. So is a
	 * descriptor (/dev/stdout, even when it is a regular file). A symlink to a regular file
	 * stays a symlink: its target is the file replaced. */
	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		in_place = 1;
	else if (!lstat(path, &st) && S_ISLNK(st.st_mode)) {
		if (descriptor_link(path))
			in_place = 1;
		else if (realpath(path, real) && strlen(real) < sizeof(o->path))
			strcpy(o->path, real);
		else
			in_place = 1; /* a dangling link: fopen creates its target */
	}
	if (in_place) {
		o->f = fopen(path, "w");
		if (!o->f)
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno));
		return KV_OK;
	}
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.%ld", o->path, (long)getpid());
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
	{
		struct stat st;

		if (stat(buf, &st) || !S_ISDIR(st.st_mode))
			return kv_fail(err, KV_EINPUT, "%s: %s", buf, strerror(ENOTDIR));
	}
	return KV_OK;
}
