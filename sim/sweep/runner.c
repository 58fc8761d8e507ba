/* runner.c - runs sweep jobs as child processes with atomic, resumable results (see
 * runner.h). */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "merge.h"
#include "outfile.h"

#define FAILED_STDERR_MAX_BYTES (64 << 10) /* the tail of a failed job's stderr kept */

struct slot {
	pid_t pid;
	int lock_fd;                 /* flock held on DIR/ID/.lock while the job runs */
	const struct sweep_job *job;
	double t0_s;
	char out_tmp[4400], err_tmp[4400];
};

static char host[128];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* This host's name with anything but [A-Za-z0-9-] made '_', for temporary file names. */
static void init_host(void)
{
	if (host[0])
		return;
	if (gethostname(host, sizeof(host) - 1))
		strcpy(host, "host");
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			*p = '_';
}

void sweep_job_path(const char *dir, const struct sweep_job *j, const char *name, char *buf,
		    size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", dir, j->id, name ? "/" : "", name ? name : "");
}

/* The whole file as a NUL-terminated string (caller frees); NULL when unreadable. */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f && !fseek(f, 0, SEEK_END) && (size = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
	    (buf = malloc((size_t)size + 1))) {
		if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
			free(buf);
			buf = NULL;
		} else {
			buf[size] = 0;
		}
	}
	if (f)
		fclose(f);
	return buf;
}

int sweep_job_done(const char *dir, const struct sweep_job *j)
{
	char p[4200];
	char *text;
	int done;

	sweep_job_path(dir, j, "result.csv", p, sizeof(p));
	if (access(p, F_OK))
		return 0;
	/* a damaged result (merge lists it as failed) is not done: run the job again */
	text = read_all(p);
	done = text && sweep_result_complete(text);
	free(text);
	return done;
}

static void tmp_path(const char *dir, const struct sweep_job *j, const char *name, char *buf,
		     size_t len)
{
	char tmpname[256];

	snprintf(tmpname, sizeof(tmpname), ".tmp.%s.%ld.%s", host, (long)getpid(), name);
	sweep_job_path(dir, j, tmpname, buf, len);
}

/* Removes temporary files that runners on this host left in a job folder when they were
 * killed (their PID no longer exists). O(files in the folder). */
static void clean_stale(const char *jobdir)
{
	size_t hl = strlen(host);
	DIR *d = opendir(jobdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		char *end, path[4400];
		long pid;

		if (strncmp(n, ".tmp.", 5) || strncmp(n + 5, host, hl) || n[5 + hl] != '.')
			continue;
		pid = strtol(n + 6 + hl, &end, 10);
		if (*end != '.' || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) && errno == ESRCH) {
			snprintf(path, sizeof(path), "%s/%s", jobdir, n);
			unlink(path);
		}
	}
	closedir(d);
}

/* Writes text to DIR/ID/NAME through a temporary file and rename. */
static int put_file(const char *dir, const struct sweep_job *j, const char *name,
		    const char *text, size_t len, struct kv_err *err)
{
	char tmp[4400], path[4400];
	FILE *f;
	int bad;

	tmp_path(dir, j, name, tmp, sizeof(tmp));
	sweep_job_path(dir, j, name, path, sizeof(path));
	if (!(f = fopen(tmp, "w")))
		return kv_fail(err, KV_ERUNTIME, "%s: %s", tmp, strerror(errno));
	bad = fwrite(text, 1, len, f) != len;
	if (fclose(f) || bad || rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(e));
	}
	return KV_OK;
}

/* The last `max` bytes of a file (NUL-terminated, caller frees); "" when unreadable. */
static char *read_tail(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(max + 1);
	long size;
	size_t n = 0;

	if (buf && f && !fseek(f, 0, SEEK_END) && (size = ftell(f)) >= 0) {
		if ((size_t)size > max)
			fseek(f, size - (long)max, SEEK_SET);
		else
			fseek(f, 0, SEEK_SET);
		n = fread(buf, 1, max, f);
	}
	if (f)
		fclose(f);
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

/* fsync(2) of a file by name; errors are left to the rename that follows. */
static void sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static pid_t start_child(const struct sweep_run_opts *o, struct slot *s, struct kv_err *err)
{
	pid_t parent = getpid(), pid;
	int out, errfd, in;

	out = open(s->out_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	errfd = open(s->err_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (out < 0 || errfd < 0 || in < 0) {
		int e = errno;
		if (out >= 0)
			close(out);
		if (errfd >= 0)
			close(errfd);
		if (in >= 0)
			close(in);
		return kv_fail(err, KV_ERUNTIME, "%s: %s", s->out_tmp, strerror(e)), -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* die with the runner, so a killed sweep leaves no orphans writing results */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
			_exit(126);
		execv(o->exe, s->job->argv);
		dprintf(2, "kvsim sweep: cannot run %s: %s\n", o->exe, strerror(errno));
		_exit(127);
	}
	close(out);
	close(errfd);
	close(in);
	if (pid < 0)
		return kv_fail(err, KV_ERUNTIME, "fork: %s", strerror(errno)), -1;
	return pid;
}

/* Records a finished child: result files on success, DIR/ID/failed otherwise. Returns
 * whether the job succeeded (1), failed (0), or a runner error (-1, err filled). */
static int finish_child(const struct sweep_run_opts *o, struct slot *s, int status,
			struct kv_err *err)
{
	const struct sweep_job *j = s->job;
	char head[8192], path[4400], *tail;
	size_t tlen;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0, n;

	if (WIFEXITED(status))
		n = snprintf(head, sizeof(head), "exit %d\n", WEXITSTATUS(status));
	else
		n = snprintf(head, sizeof(head), "signal %d (%s)\n", WTERMSIG(status),
			     strsignal(WTERMSIG(status)));
	n += snprintf(head + n, sizeof(head) - (size_t)n,
		      "job %zu\nid %s\nhost %s\nwall_s %.3f\ncommand %.4000s\n", j->index, j->id,
		      host, now_s() - s->t0_s, j->command);
	if (ok) {
		/* on disk before the rename, so that a crash cannot leave a renamed but empty
		 * result.csv */
		sync_file(s->out_tmp);
		sync_file(s->err_tmp);
		sweep_job_path(o->dir, j, "stderr.txt", path, sizeof(path));
		if (rename(s->err_tmp, path))
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno)), -1;
		if (put_file(o->dir, j, "run.txt", head, (size_t)n, err))
			return -1;
		sweep_job_path(o->dir, j, "result.csv", path, sizeof(path));
		if (rename(s->out_tmp, path))
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno)), -1;
		sweep_job_path(o->dir, j, "failed", path, sizeof(path));
		unlink(path);
		return 1;
	}
	tail = read_tail(s->err_tmp, FAILED_STDERR_MAX_BYTES, &tlen);
	unlink(s->out_tmp);
	unlink(s->err_tmp);
	if (!tail)
		return kv_fail(err, KV_ERUNTIME, "out of memory"), -1;
	{
		size_t total = (size_t)n + 8 + tlen;
		char *text = malloc(total + 1);
		int rc;

		if (!text) {
			free(tail);
			return kv_fail(err, KV_ERUNTIME, "out of memory"), -1;
		}
		memcpy(text, head, (size_t)n);
		memcpy(text + n, "stderr\n", 7);
		memcpy(text + n + 7, tail, tlen);
		total = (size_t)n + 7 + tlen;
		rc = put_file(o->dir, j, "failed", text, total, err);
		free(text);
		free(tail);
		return rc ? -1 : 0;
	}
}

static void progress(const struct sweep_run_stats *st, size_t todo, int running)
{
	fprintf(stderr, "\rkvsim sweep: %zu/%zu done (%zu skipped), %zu failed, %d running   ",
		st->ok + st->skipped, todo, st->skipped, st->failed, running);
}

/* Takes job j's lock (an flock on DIR/ID/.lock, so that two runners on one results folder,
 * or a Slurm task resubmitted while the first still runs, never run one job twice). Returns
 * the lock's descriptor, -1 when another runner holds it, -2 on an error (err filled). The
 * kernel drops the lock when the runner dies, even by SIGKILL. O(1). */
static int lock_job(const char *dir, const struct sweep_job *j, struct kv_err *err)
{
	char path[4400];
	int fd;

	sweep_job_path(dir, j, ".lock", path, sizeof(path));
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
		return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno)), -2;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		/* a file system without locks (NFS without lockd): run as before, unlocked */
		if (e == ENOLCK || e == EOPNOTSUPP || e == EINVAL)
			return fd;
		close(fd);
		if (e == EWOULDBLOCK)
			return -1;
		return kv_fail(err, KV_ERUNTIME, "%s: flock: %s", path, strerror(e)), -2;
	}
	return fd;
}

/* Was job j recorded as failed after this runner started (by a runner working beside it)?
 * A failure recorded before is retried; one recorded during this run is not run again. */
static int failed_since(const char *dir, const struct sweep_job *j, const struct timespec *t0)
{
	char path[4400];
	struct stat sb;

	sweep_job_path(dir, j, "failed", path, sizeof(path));
	if (stat(path, &sb))
		return 0;
	return sb.st_mtim.tv_sec > t0->tv_sec ||
	       (sb.st_mtim.tv_sec == t0->tv_sec && sb.st_mtim.tv_nsec >= t0->tv_nsec);
}

enum { PICK_NONE, PICK_JOB, PICK_ERROR };

/* The next job to start, locked: first the selected jobs in plan order, then those that
 * another runner held (deferred[], retried each call). Jobs found done (or failed by another
 * runner during this run) are counted and passed over. O(jobs) per call at worst. */
static int pick_job(const struct sweep_plan *p, const struct sweep_run_opts *o, size_t *next,
		    unsigned char *deferred, size_t *ndeferred, const struct timespec *t0,
		    struct sweep_run_stats *st, const struct sweep_job **out, int *fd_out,
		    struct kv_err *err)
{
	size_t i = 0;

	for (;;) {
		const struct sweep_job *j;
		char jobdir[4400];
		int fd, from_plan = *next < p->n;

		if (from_plan) {
			j = &p->job[(*next)++];
			if (o->only && !o->only[j->index])
				continue;
			if (sweep_job_done(o->dir, j)) {
				st->skipped++;
				continue;
			}
			sweep_job_path(o->dir, j, NULL, jobdir, sizeof(jobdir));
			if (make_dirs(jobdir, err))
				return PICK_ERROR;
		} else {
			while (i < p->n && !deferred[i])
				i++;
			if (i == p->n)
				return PICK_NONE;
			j = &p->job[i++];
		}
		fd = lock_job(o->dir, j, err);
		if (fd == -2)
			return PICK_ERROR;
		if (fd == -1) {
			if (from_plan) {
				deferred[j->index - 1] = 1;
				(*ndeferred)++;
			}
			continue;
		}
		if (!from_plan) {
			deferred[j->index - 1] = 0;
			(*ndeferred)--;
		}
		if (sweep_job_done(o->dir, j) || failed_since(o->dir, j, t0)) {
			if (sweep_job_done(o->dir, j))
				st->skipped++;
			else
				st->failed++, st->failed_other++;
			close(fd);
			continue;
		}
		*out = j;
		*fd_out = fd;
		return PICK_JOB;
	}
}

int sweep_run(const struct sweep_plan *p, const struct sweep_run_opts *o,
	      struct sweep_run_stats *st, struct kv_err *err)
{
	struct slot *slots = calloc((size_t)o->jobs, sizeof(*slots));
	unsigned char *deferred = calloc(p->n + 1, 1);
	size_t next = 0, ndeferred = 0;
	int running = 0, rc = KV_OK;
	struct timespec t0;

	memset(st, 0, sizeof(*st));
	if (!slots || !deferred) {
		free(slots);
		free(deferred);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	clock_gettime(CLOCK_REALTIME, &t0);
	init_host();
	if ((rc = make_dirs(o->dir, err)))
		goto out;
	for (size_t i = 0; i < p->n; i++)
		st->selected += !o->only || o->only[i + 1];
	for (;;) {
		/* start jobs while there are free slots */
		while (rc == KV_OK && running < o->jobs) {
			const struct sweep_job *j = NULL;
			struct slot *s = NULL;
			char jobdir[4400];
			int fd = -1, r;

			r = pick_job(p, o, &next, deferred, &ndeferred, &t0, st, &j, &fd, err);
			if (r == PICK_ERROR)
				rc = KV_ERUNTIME;
			if (r != PICK_JOB)
				break;
			for (int k = 0; k < o->jobs; k++)
				if (!slots[k].pid) {
					s = &slots[k];
					break;
				}
			sweep_job_path(o->dir, j, NULL, jobdir, sizeof(jobdir));
			clean_stale(jobdir);
			s->job = j;
			s->lock_fd = fd;
			tmp_path(o->dir, j, "result.csv", s->out_tmp, sizeof(s->out_tmp));
			tmp_path(o->dir, j, "stderr.txt", s->err_tmp, sizeof(s->err_tmp));
			s->t0_s = now_s();
			if ((s->pid = start_child(o, s, err)) < 0) {
				s->pid = 0;
				close(fd);
				rc = KV_ERUNTIME;
				break;
			}
			running++;
			st->ran++;
		}
		if (o->progress)
			progress(st, st->selected, running);
		if (!running) {
			/* only jobs that other runners hold are left: wait for them, so that the
			 * exit status still says whether every selected job is done */
			if (rc == KV_OK && ndeferred) {
				usleep(200000);
				continue;
			}
			break;
		}
		/* reap one child */
		{
			int status, r;
			pid_t pid = waitpid(-1, &status, 0);

			if (pid < 0) {
				if (errno == EINTR)
					continue;
				rc = kv_fail(err, KV_ERUNTIME, "waitpid: %s", strerror(errno));
				break;
			}
			for (int k = 0; k < o->jobs; k++) {
				if (slots[k].pid != pid)
					continue;
				slots[k].pid = 0;
				running--;
				r = finish_child(o, &slots[k], status, rc ? NULL : err);
				close(slots[k].lock_fd); /* after the result is in place */
				if (r > 0)
					st->ok++;
				else if (r == 0)
					st->failed++;
				else if (!rc)
					rc = KV_ERUNTIME;
				break;
			}
		}
	}
	if (o->progress)
		fputc('\n', stderr);
out:
	/* on a runner error, wait for the children already started */
	while (running > 0 && wait(NULL) > 0)
		running--;
	free(slots);
	free(deferred);
	return rc;
}
