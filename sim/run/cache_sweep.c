/* cache_sweep.c - running cache-mode jobs on worker threads (see cache_sweep.h). */
#include "cache_sweep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cache_job_run(const struct kv_trace *t, const struct cache_job *job,
		  enum kv_hit_rule rule, struct cache_job_result *res)
{
	struct kv_cache *c;
	double t0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);

	memset(res, 0, sizeof(*res));
	res->rc = cache_create_run(&c, t, job->ops, &job->params, job->capacity_blocks, rule,
			       &res->err);
	if (res->rc)
		return res->rc;
	for (size_t r = 0; r < t->nreq; r++)
		cache_run_request(c, (uint32_t)r, t->req[r].ts_s);
	res->st = c->st;
	cache_destroy(c);
	res->wall_s = clock_s(CLOCK_MONOTONIC) - t0;
	res->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	return KV_OK;
}

struct pool {
	const struct kv_trace *t;
	const struct cache_job *jobs;
	struct cache_job_result *res;
	size_t n;
	const struct cache_sweep_opts *o;
	atomic_size_t next, done;
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		cache_job_run(p->t, &p->jobs[i], p->o->hit_rule, &p->res[i]);
		if (p->o->progress) {
			size_t d = atomic_fetch_add(&p->done, 1) + 1;
			pthread_mutex_lock(&p->lock);
			fprintf(stderr, "\rkvsim: %zu/%zu runs done", d, p->n);
			if (d == p->n)
				fputc('\n', stderr);
			fflush(stderr);
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

int cache_sweep_run(const struct kv_trace *t, const struct cache_job *jobs, size_t n,
		    const struct cache_sweep_opts *o, struct cache_job_result *res)
{
	struct pool p = {.t = t, .jobs = jobs, .res = res, .n = n, .o = o};
	int threads = o->threads < 1 ? 1 : o->threads;
	pthread_t tid[64];
	int started = 0;

	if ((size_t)threads > n)
		threads = (int)n;
	if (threads > 64)
		threads = 64;
	atomic_init(&p.next, 0);
	atomic_init(&p.done, 0);
	pthread_mutex_init(&p.lock, NULL);
	for (int i = 1; i < threads; i++)
		if (!pthread_create(&tid[started], NULL, worker, &p))
			started++;
	worker(&p); /* the calling thread works too */
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.lock);
	for (size_t i = 0; i < n; i++)
		if (res[i].rc)
			return res[i].rc;
	return KV_OK;
}
