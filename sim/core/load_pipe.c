/* load_pipe.c - interning of parsed records, on a thread of its own (see load_pipe.h). */
#include "load_pipe.h"

#include <pthread.h>
#include <stdlib.h>

#include "bigmem.h"
#include "intern.h"

#define BATCH_IDS (1u << 16) /* ids a batch holds before it is handed over (512 KiB; 2 MiB */
                             /* batches, fresh memory and further out of cache, were slower) */
#define BATCH_RECS 8192      /* records a batch holds */
#define NBATCH 4             /* batches in the ring */
#define BLK_STEP (1u << 20)  /* node[] entries populated at a time (4 MiB) */
#define NODE_STEP (1u << 18) /* nodes populated at a time (5 MiB over four arrays) */
#define AHEAD 4              /* steps the loader's thread populates ahead when it waits */

struct batch {
	uint64_t *ids;
	size_t nids, ids_cap;
	uint32_t nb[BATCH_RECS];   /* ids of each record */
	uint64_t line[BATCH_RECS]; /* source line of each record */
	size_t nrec;
};

/* The interning's state. The interning thread writes it for every block, so it sits on
 * cache lines of its own (as do the loader's fields and the few both threads touch): a line
 * written by one thread and read by the other moves between the cores at every write. */
struct interner {
	uint32_t *node, *node_parent;  /* become t->node and t->node_parent at the end */
	uint64_t nblk;                 /* block accesses interned */
	uint32_t nnodes;
	size_t node_cap, node_pop;     /* node[]: capacity, populated ahead (bigmem.h) */
	size_t nodes_cap, nodes_pop;   /* node_parent[] */
	int rc;                        /* KV_OK, KV_EINPUT (too large) or KV_ERUNTIME (memory) */
	uint64_t err_line;             /*   and the record's line */
} __attribute__((aligned(64)));

struct load_pipe {
	struct kv_trace *t;
	struct kv_intern *in;
	struct interner w;
	/* both threads, rarely: */
	struct {
		int node_fixed;        /* the arrays were reserved for the bound and never move;
					* both threads populate them, claiming ranges: */
		uint32_t *node, *node_parent; /* the reserved arrays */
		size_t node_cap, nodes_cap;   /*   and their sizes */
		size_t blk_mark;       /*   node[] is populated or claimed up to here (atomic) */
		size_t nodes_mark;     /*   node_parent[] and the interning's arrays (atomic) */
		size_t done_nblk;      /* published by the interning thread after each batch */
		size_t done_nnodes;
	} __attribute__((aligned(64))) sh;
	/* the loader's side */
	size_t add_nblk __attribute__((aligned(64))); /* ids committed */
	int add_rc;                    /* out of memory in load_pipe_more() */
	uint64_t add_line;
	/* the ring */
	struct batch ring[NBATCH];
	size_t fill;                   /* batch the loader fills */
	size_t take;                   /* batch the interning thread takes next */
	size_t full;                   /* batches handed over and not yet interned */
	int closed;                    /* the loader has handed over its last batch */
	int failed;                    /* rc != KV_OK, read by the loader under the lock */
	int stop;                      /* the loader gave up: drain without interning */
	int threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
};

/* Claims [mark, max(need, mark + step)) of a reserved array for populating, but no further
 * than `limit` (the most the records committed so far can use: populating beyond it would
 * zero pages the trace may never need, a cost at the end of every load) nor cap; 0 when
 * [0, need) is already populated or claimed. Lock-free: both threads call it. */
static int claim(size_t *mark, size_t need, size_t limit, size_t step, size_t cap, size_t *from,
		 size_t *to)
{
	size_t m = __atomic_load_n(mark, __ATOMIC_RELAXED), e;

	if (limit < need)
		limit = need;
	do {
		if (m >= need || m >= cap)
			return 0;
		e = m + step > need ? m + step : need;
		if (e > limit)
			e = limit;
		if (e > cap)
			e = cap;
	} while (!__atomic_compare_exchange_n(mark, &m, e, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	*from = m;
	*to = e;
	return 1;
}

/* Ids committed by the loader so far: the interning never goes past them. */
static size_t committed(struct load_pipe *p)
{
	return __atomic_load_n(&p->add_nblk, __ATOMIC_RELAXED);
}

/* Populates node[] up to need, and a step ahead as far as the committed ids go. */
static int populate_blk(struct load_pipe *p, size_t need)
{
	size_t a, b;

	if (!claim(&p->sh.blk_mark, need, committed(p), BLK_STEP, p->sh.node_cap, &a, &b))
		return 0;
	kv_big_prefault(p->sh.node, a * 4, b * 4);
	return 1;
}

/* Populates the per-node arrays up to need, and a step ahead as far as `nodes` nodes, with
 * `nblk` ids interned, and every committed id after them a new node, could go. */
static int populate_nodes(struct load_pipe *p, size_t need, size_t nodes, size_t nblk)
{
	size_t a, b, add = committed(p);

	if (!claim(&p->sh.nodes_mark, need, nodes + (add > nblk ? add - nblk : 0), NODE_STEP,
		   p->sh.nodes_cap, &a, &b))
		return 0;
	kv_big_prefault(p->sh.node_parent, a * 4, b * 4);
	intern_prefault(p->in, a, b);
	return 1;
}

/* Interns one record; sets w->rc on failure. */
static int intern_record(struct load_pipe *p, const uint64_t *ids, uint32_t n, uint64_t line)
{
	struct interner *w = &p->w;
	uint32_t parent = KV_NO_NODE;

	if ((uint64_t)w->nnodes + n > KV_MAX_NODES) {
		w->rc = KV_EINPUT;
		w->err_line = line;
		return -1;
	}
	if (w->nblk + n > w->node_cap) {
		size_t cap = w->node_cap ? w->node_cap : 1024;
		void *a;

		if (p->sh.node_fixed) /* cannot happen: the bound holds */
			goto oom;
		while (cap < w->nblk + n)
			cap *= 2;
		if (!(a = kv_big_realloc(w->node, cap * sizeof(*w->node))))
			goto oom;
		w->node = a;
		w->node_cap = cap;
	}
	if (!p->sh.node_fixed)
		kv_big_prefault_to(w->node, sizeof(*w->node), &w->node_pop, w->nblk + n,
				   w->node_cap);
	else if (w->nblk + n > w->node_pop) { /* node_pop: the claimed mark, as last seen */
		populate_blk(p, w->nblk + n);
		w->node_pop = __atomic_load_n(&p->sh.blk_mark, __ATOMIC_RELAXED);
	}
	for (uint32_t i = 0; i < n; i++) {
		int added;
		uint32_t c = intern_get(p->in, parent, ids[i], w->nnodes, &added);

		if (c == KV_NO_NODE)
			goto oom;
		if (added) {
			if (w->nnodes == w->nodes_cap) {
				if (p->sh.node_fixed)
					goto oom; /* cannot happen: the bound holds */
				size_t cap = w->nodes_cap ? w->nodes_cap * 2 : 1024;
				void *a = kv_big_realloc(w->node_parent, cap * 4);

				if (!a)
					goto oom;
				w->node_parent = a;
				w->nodes_cap = cap;
			}
			if (!p->sh.node_fixed)
				kv_big_prefault_to(w->node_parent, 4, &w->nodes_pop,
						   (size_t)w->nnodes + 1, w->nodes_cap);
			else if (c >= w->nodes_pop) {
				populate_nodes(p, (size_t)c + 1, w->nnodes, w->nblk + i);
				w->nodes_pop = __atomic_load_n(&p->sh.nodes_mark,
							       __ATOMIC_RELAXED);
			}
			w->node_parent[c] = parent;
			w->nnodes++;
		}
		w->node[w->nblk + i] = c;
		parent = c;
	}
	w->nblk += n;
	return 0;
oom:
	w->rc = KV_ERUNTIME;
	w->err_line = line;
	return -1;
}

static int intern_batch(struct load_pipe *p, struct batch *b)
{
	const uint64_t *ids = b->ids;

	for (size_t r = 0; r < b->nrec; ids += b->nb[r], r++)
		if (intern_record(p, ids, b->nb[r], b->line[r]))
			return -1;
	/* for the loader's thread, which populates ahead of these */
	__atomic_store_n(&p->sh.done_nblk, p->w.nblk, __ATOMIC_RELAXED);
	__atomic_store_n(&p->sh.done_nnodes, p->w.nnodes, __ATOMIC_RELAXED);
	return 0;
}

static void *interning_thread(void *arg)
{
	struct load_pipe *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct batch *b;
		int rc, skip;

		while (!p->full && !p->closed)
			pthread_cond_wait(&p->changed, &p->lock);
		if (!p->full)
			break;
		b = &p->ring[p->take];
		skip = p->failed || p->stop; /* then drain */
		pthread_mutex_unlock(&p->lock);
		if (load_pipe_test_hook)
			load_pipe_test_hook(LOAD_PIPE_HOOK_BATCH);
		rc = skip ? 0 : intern_batch(p, b);
		pthread_mutex_lock(&p->lock);
		if (rc)
			p->failed = 1;
		p->take = (p->take + 1) % NBATCH;
		p->full--;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int load_pipe_start(struct load_pipe **out, struct kv_trace *t, int threaded, size_t max_ids)
{
	struct load_pipe *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return KV_ERUNTIME;
	p->t = t;
	p->threaded = threaded;
	if (!(p->in = intern_create(1u << 16)))
		goto fail;
	if (threaded && max_ids >= BATCH_IDS && max_ids <= SIZE_MAX / 8) {
		/* address space only, populated as records come: see load_pipe.h */
		size_t max_nodes = max_ids < KV_MAX_NODES ? max_ids : KV_MAX_NODES;
		uint32_t *node = kv_big_realloc(NULL, max_ids * 4);
		uint32_t *parent = kv_big_realloc(NULL, max_nodes * 4);

		if (node && parent && !intern_reserve(p->in, max_nodes)) {
			p->w.node = p->sh.node = node;
			p->w.node_parent = p->sh.node_parent = parent;
			p->w.node_cap = p->sh.node_cap = max_ids;
			p->w.nodes_cap = p->sh.nodes_cap = max_nodes;
			p->sh.node_fixed = 1;
		} else { /* grow as needed instead */
			free(node);
			free(parent);
		}
	}
	for (int i = 0; i < NBATCH; i++) {
		p->ring[i].ids_cap = BATCH_IDS;
		if (!(p->ring[i].ids = malloc(BATCH_IDS * sizeof(uint64_t))))
			goto fail;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	if (threaded && pthread_create(&p->thread, NULL, interning_thread, p))
		p->threaded = 0; /* no thread: intern on the loader's */
	*out = p;
	return KV_OK;
fail:
	free(p->w.node);
	free(p->w.node_parent);
	intern_destroy(p->in);
	for (int i = 0; i < NBATCH; i++)
		free(p->ring[i].ids);
	free(p);
	return KV_ERUNTIME;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

void (*load_pipe_test_hook)(int where);

/* Whether a reserved array populated or claimed up to *mark lacks [.., need) (of cap). */
static int lacks(size_t *mark, size_t need, size_t cap)
{
	size_t m = __atomic_load_n(mark, __ATOMIC_RELAXED);

	return m < need && m < cap;
}

/* The loader's thread would wait for the interning thread: populates a step of the arrays
 * ahead of it instead, with the lock released, no further than the ids committed so far
 * can use. Returns 1 when it released the lock (the ring may have changed meanwhile: look
 * again before waiting), 0 when there was nothing to populate and it kept the lock. */
static int help(struct load_pipe *p)
{
	size_t blk = __atomic_load_n(&p->sh.done_nblk, __ATOMIC_RELAXED);
	size_t nodes = __atomic_load_n(&p->sh.done_nnodes, __ATOMIC_RELAXED);
	size_t add = committed(p); /* >= blk: these were interned */
	size_t want_nodes = nodes + min_size(AHEAD * NODE_STEP, add - blk);
	size_t want_blk = min_size(blk + AHEAD * BLK_STEP, add);

	if (!lacks(&p->sh.nodes_mark, want_nodes, p->sh.nodes_cap) &&
	    !lacks(&p->sh.blk_mark, want_blk, p->sh.node_cap))
		return 0;
	pthread_mutex_unlock(&p->lock);
	if (load_pipe_test_hook)
		load_pipe_test_hook(LOAD_PIPE_HOOK_UNLOCKED);
	if (!populate_nodes(p, want_nodes, nodes, blk))
		populate_blk(p, want_blk);
	pthread_mutex_lock(&p->lock);
	return 1;
}

/* Hands the batch being filled over, and waits for a free one. */
static int hand_over(struct load_pipe *p)
{
	int failed;

	if (!p->threaded) {
		struct batch *b = &p->ring[0];
		int rc = intern_batch(p, b);

		b->nids = b->nrec = 0;
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	p->full++;
	p->fill = (p->fill + 1) % NBATCH;
	pthread_cond_broadcast(&p->changed);
	/* help() returns 1 whenever it released the lock: the ring is then looked at again
	 * before waiting (the interning thread may have emptied it meanwhile and be waiting in
	 * turn, its wakeup sent while nobody waited: both would wait for ever) */
	while (p->full == NBATCH && !p->failed)
		if (!p->sh.node_fixed || !help(p))
			pthread_cond_wait(&p->changed, &p->lock);
	failed = p->failed;
	pthread_mutex_unlock(&p->lock);
	p->ring[p->fill].nids = p->ring[p->fill].nrec = 0; /* free: the thread is done with it */
	return failed ? -1 : 0;
}

uint64_t *load_pipe_space(struct load_pipe *p, size_t *n)
{
	struct batch *b = &p->ring[p->fill];

	if (b->nrec == BATCH_RECS) {
		if (hand_over(p))
			return NULL;
		b = &p->ring[p->fill];
	}
	*n = b->ids_cap - b->nids;
	return b->ids + b->nids;
}

int load_pipe_more(struct load_pipe *p, uint64_t line)
{
	struct batch *b = &p->ring[p->fill];
	uint64_t *a;

	if (b->nrec)
		return hand_over(p);
	/* one record longer than a batch: b is free (the thread, if any, holds no batch) */
	if (!(a = realloc(b->ids, b->ids_cap * 2 * sizeof(*a)))) {
		p->add_rc = KV_ERUNTIME;
		p->add_line = line;
		return -1;
	}
	b->ids = a;
	b->ids_cap *= 2;
	return 0;
}

int load_pipe_commit(struct load_pipe *p, uint32_t n, uint64_t line, uint64_t *blk_off)
{
	struct batch *b = &p->ring[p->fill];

	if (p->sh.node_fixed && p->add_nblk + n > p->sh.node_cap)
		return -1;
	*blk_off = p->add_nblk;
	__atomic_store_n(&p->add_nblk, p->add_nblk + n, __ATOMIC_RELAXED); /* read by committed() */
	b->nids += n;
	b->nb[b->nrec] = n;
	b->line[b->nrec++] = line;
	return 0;
}

static void *shrink(void *a, size_t bytes)
{
	void *s = realloc(a, bytes ? bytes : 1);

	return s ? s : a;
}

int load_pipe_finish(struct load_pipe *p, int discard, const char *path, struct kv_err *err)
{
	struct kv_trace *t = p->t;
	struct batch *b = &p->ring[p->fill];
	size_t pop = 0;
	uint64_t line;
	int rc;

	if (discard)
		b->nrec = b->nids = 0;
	if (p->threaded) {
		pthread_mutex_lock(&p->lock);
		if (b->nrec)
			p->full++;
		p->closed = 1;
		p->stop = discard;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	} else if (b->nrec && p->w.rc == KV_OK) {
		intern_batch(p, b);
	}
	rc = p->w.rc ? p->w.rc : p->add_rc;
	line = p->w.rc ? p->w.err_line : p->add_line;
	t->node = p->w.node;
	t->node_parent = p->w.node_parent;
	t->nblk = p->w.nblk;
	t->nnodes = p->w.nnodes;
	t->node_hash = intern_take_ids(p->in, &pop); /* node -> hash id, from the interning */
	if (p->sh.node_fixed) {
		p->w.node_pop = p->sh.blk_mark;
		p->w.nodes_pop = pop = p->sh.nodes_mark;
	}
	/* give back what was populated ahead and not used (bigmem.h) */
	kv_big_trim(t->node, t->nblk * 4, p->w.node_pop * 4);
	kv_big_trim(t->node_parent, (size_t)t->nnodes * 4, p->w.nodes_pop * 4);
	kv_big_trim(t->node_hash, (size_t)t->nnodes * 8, pop * 8);
	if (p->sh.node_fixed) { /* and the address space reserved: shrinking mremaps, no copy */
		t->node = shrink(t->node, t->nblk * 4);
		t->node_parent = shrink(t->node_parent, (size_t)t->nnodes * 4);
		t->node_hash = shrink(t->node_hash, (size_t)t->nnodes * 8);
	}
	if (rc == KV_EINPUT)
		kv_fail(err, rc, "%s:%llu: trace is too large (limits: %zu records, %u chain "
			"nodes)", path, (unsigned long long)line, KV_MAX_REQUESTS, KV_MAX_NODES);
	else if (rc)
		kv_fail(err, rc, "%s:%llu: out of memory", path, (unsigned long long)line);
	else if (!discard && p->w.nblk != p->add_nblk) /* every committed id was interned */
		rc = kv_fail(err, KV_ERUNTIME, "%s: internal error: %llu block accesses read, "
			     "%llu interned", path, (unsigned long long)p->add_nblk,
			     (unsigned long long)p->w.nblk);
	intern_destroy(p->in);
	for (int i = 0; i < NBATCH; i++)
		free(p->ring[i].ids);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p);
	return rc;
}
