/* test_util.c - see test_util.h. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[PATH_MAX];

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (tmpdir[0] && !getenv("KVSIM_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd)) {
		}
	}
}

const char *tu_path(const char *name)
{
	static char paths[64][PATH_MAX];
	static int next;
	char *p;

	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(tmpdir, sizeof(tmpdir), "%s/kvsim-test-XXXXXX", base);
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
		atexit(cleanup);
	}
	p = paths[next++ % 64];
	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

const char *tu_write_bytes(const char *name, const void *content, size_t len)
{
	const char *p = tu_path(name);
	FILE *f = fopen(p, "wb");

	if (!f || fwrite(content, 1, len, f) != len || fclose(f)) {
		perror(p);
		exit(1);
	}
	return p;
}

const char *tu_write(const char *name, const char *content)
{
	return tu_write_bytes(name, content, strlen(content));
}

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

int tu_run(const char *const *args, const char *stdin_data, char **out, char **err)
{
	const char *bin = getenv("KVSIM_BIN") ? getenv("KVSIM_BIN") : "bin/kvsim";
	int pin[2], pout[2], perr[2], status;
	const char *argv[64];
	struct buf bo = {0}, be = {0};
	size_t in_off = 0, in_len = stdin_data ? strlen(stdin_data) : 0;
	pid_t pid;
	int n = 0;

	argv[n++] = bin;
	while (args[n - 1] && n < 63)
		argv[n] = args[n - 1], n++;
	argv[n] = NULL;
	if (pipe(pin) || pipe(pout) || pipe(perr))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		execv(bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (!in_len) {
		close(pin[1]);
		pin[1] = -1;
	}
	buf_add(&bo, "", 0);
	buf_add(&be, "", 0);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd pf[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0},
				       {pin[1], POLLOUT, 0}};
		char tmp[65536];

		if (poll(pf, pin[1] >= 0 ? 3 : 2, -1) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			int fd = i ? perr[0] : pout[0];
			ssize_t r;

			if (fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = read(fd, tmp, sizeof(tmp));
			if (r <= 0) {
				close(fd);
				if (i)
					perr[0] = -1, pf[1].fd = -1;
				else
					pout[0] = -1, pf[0].fd = -1;
				open_fds--;
				continue;
			}
			buf_add(i ? &be : &bo, tmp, (size_t)r);
		}
		if (pin[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(pin[1], stdin_data + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if (w <= 0 || in_off == in_len) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
	}
	if (pin[1] >= 0)
		close(pin[1]);
	waitpid(pid, &status, 0);
	if (out)
		*out = bo.p;
	else
		free(bo.p);
	if (err)
		*err = be.p;
	else
		free(be.p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct kv_trace *tu_load_str(const char *name, const char *jsonl, const struct kv_load_opts *o,
			     int *rc, struct kv_err *err)
{
	struct kv_trace *t = NULL;

	*rc = trace_load(tu_write(name, jsonl), o, &t, err);
	return t;
}

const char *tu_real_trace(const char *file)
{
	static char path[PATH_MAX];
	static int told;
	const char *dir = getenv("KVSIM_TRACES");

	if (!dir || !*dir) {
		if (!told++)
			fprintf(stderr,
				"\nNOTE: KVSIM_TRACES is not set: tests on the real Mooncake traces are "
				"skipped. Get the traces with scripts/fetch-traces.sh (or point "
				"KVSIM_TRACES at a folder holding %s).\n",
				file);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (access(path, R_OK)) {
		char msg[PATH_MAX + 128];
		snprintf(msg, sizeof(msg), "KVSIM_TRACES is set but %s is missing", path);
		fprintf(stderr, "\nFAIL: %s (scripts/fetch-traces.sh downloads it)\n", msg);
		CU_FAIL_FATAL("KVSIM_TRACES is set but a real trace is missing");
		return NULL;
	}
	return path;
}

int tu_unit_only(void)
{
	return getenv("KVSIM_UNIT_ONLY") != NULL;
}

char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char tmp[65536];
	size_t n;

	if (!f)
		return NULL;
	buf_add(&b, "", 0);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	if (len)
		*len = b.n;
	return b.p;
}

const char *tu_line(const char *text, int n)
{
	static char line[65536];
	const char *p = text, *e;

	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p) {
		line[0] = 0;
		return line;
	}
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
	return line;
}

const char *tu_csv(const char *csv, int row, const char *col)
{
	static char val[4096];
	char header[65536], data[65536];
	char *save1, *save2, *h, *d;
	int idx = 0, want = -1;

	snprintf(header, sizeof(header), "%s", tu_line(csv, 0));
	snprintf(data, sizeof(data), "%s", tu_line(csv, row + 1));
	for (h = strtok_r(header, ",", &save1); h; h = strtok_r(NULL, ",", &save1), idx++)
		if (!strcmp(h, col))
			want = idx;
	val[0] = 0;
	if (want < 0)
		return val;
	/* simple split that keeps empty fields; fields here are never quoted */
	d = data;
	for (idx = 0; idx < want && d; idx++) {
		d = strchr(d, ',');
		if (d)
			d++;
	}
	if (!d)
		return val;
	save2 = strchr(d, ',');
	snprintf(val, sizeof(val), "%.*s", save2 ? (int)(save2 - d) : (int)strlen(d), d);
	return val;
}

const char *tu_fixture(const char *fixture, const char *name)
{
	char *data = tu_slurp(fixture, NULL);
	const char *path;

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	path = tu_write(name, data);
	free(data);
	return path;
}
