/*
 * sessions.c - the sessions-and-turns pass of `kvsim analyze` (Bailian traces): session roots,
 * turns per session, requests per turn, parent->child arrival gaps, context growth per turn,
 * and how a child's blocks relate to its parent's. One pass over req[] (parents precede their
 * children: trace_load resolves parent_row only to earlier rows), plus a sort of the
 * (session, turn) keys and of the gaps. O(requests log requests).
 */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Leading blocks a child shares with its parent. Chain nodes are equal at position k only
 * when the whole prefix 0..k is equal, so "equal at k" is monotone in k: binary search.
 * O(log min(P, C)). */
static uint32_t common_prefix(const uint32_t *pn, uint32_t np, const uint32_t *cn, uint32_t nc)
{
	uint32_t lo = 0, hi = np < nc ? np : nc; /* answer in [lo, hi] */

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2; /* is the prefix of length mid shared? */

		if (pn[mid - 1] == cn[mid - 1])
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static enum an_relation relation_of(uint32_t common, uint32_t parent_blocks)
{
	if (common == parent_blocks)
		return AN_REL_ALL;
	if (parent_blocks >= 2 && common == parent_blocks - 1)
		return AN_REL_ALL_BUT_LAST;
	return common ? AN_REL_SHORTER : AN_REL_NONE;
}

/* Turns per session and requests per (session, turn) from sorted (root << 16 | turn) keys. */
static int count_turns(struct an_sessions *s, uint64_t *keys, size_t n, struct kv_err *err)
{
	uint32_t *turns_of = NULL, *rpt = NULL;
	size_t nsess = 0, ngroups = 0;
	int rc = KV_OK;

	qsort(keys, n, sizeof(*keys), cmp_u64);
	turns_of = malloc((n + 1) * sizeof(uint32_t));
	rpt = malloc((n + 1) * sizeof(uint32_t));
	if (!turns_of || !rpt) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t root = keys[i] >> 16;

		turns_of[nsess] = 0;
		while (j < n && keys[j] >> 16 == root) {
			size_t k = j;

			while (k < n && keys[k] == keys[j])
				k++;
			rpt[ngroups++] = (uint32_t)(k - j);
			turns_of[nsess]++;
			j = k;
		}
		nsess++;
		i = j;
	}
	s->turn_groups = ngroups;
	for (size_t i = 0; i < nsess; i++)
		if (turns_of[i] > s->max_turns)
			s->max_turns = turns_of[i];
	for (size_t i = 0; i < ngroups; i++)
		if (rpt[i] > s->max_rpt)
			s->max_rpt = rpt[i];
	s->turns_hist = calloc((size_t)s->max_turns + 1, sizeof(uint64_t));
	s->rpt_hist = calloc((size_t)s->max_rpt + 1, sizeof(uint64_t));
	if (!s->turns_hist || !s->rpt_hist) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsess; i++)
		s->turns_hist[turns_of[i]]++;
	for (size_t i = 0; i < ngroups; i++)
		s->rpt_hist[rpt[i]]++;
out:
	free(turns_of);
	free(rpt);
	return rc;
}

int an_sessions_run(struct analysis *a, struct kv_err *err)
{
	const struct kv_trace *t = a->t;
	struct an_sessions *s = &a->ss;
	uint64_t *keys = NULL;
	int rc;

	s->available = t->format == KV_FMT_BAILIAN;
	for (size_t r = 0; r < t->nreq && !s->available; r++)
		s->available = t->req[r].turn > 0 || t->req[r].parent_chat_id >= 0;
	s->root = malloc((t->nreq + 1) * sizeof(int32_t));
	s->turn = malloc((t->nreq + 1) * sizeof(uint16_t));
	s->gap_sorted = malloc((t->nreq + 1) * sizeof(double));
	keys = malloc((t->nreq + 1) * sizeof(uint64_t));
	if (!s->root || !s->turn || !s->gap_sorted || !keys) {
		free(keys);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		int32_t p = q->parent_row;
		uint32_t turn;

		if (p == KV_NO_ROW) {
			s->root[r] = (int32_t)r;
			s->sessions++;
			s->orphans += q->parent_chat_id != -1;
			turn = q->turn > 0 ? (uint32_t)q->turn : 1;
		} else {
			const struct kv_request *pq = &t->req[p];
			uint32_t common = common_prefix(trace_req_nodes(t, (size_t)p), pq->nblocks,
							trace_req_nodes(t, r), q->nblocks);

			s->root[r] = s->root[p];
			s->children++;
			turn = q->turn > 0 ? (uint32_t)q->turn : (uint32_t)s->turn[p] + 1;
			s->gap_sorted[s->ngaps++] = q->ts_s - pq->ts_s;
			s->relation[relation_of(common, pq->nblocks)]++;
			s->common_blocks += common;
		}
		if (turn > AN_MAX_TURN)
			turn = AN_MAX_TURN;
		s->turn[r] = (uint16_t)turn;
		if (turn + 1 > s->nturns)
			s->nturns = turn + 1;
		s->turn_requests[turn]++;
		s->turn_input[turn] += q->input_tokens;
		if (p != KV_NO_ROW) {
			s->turn_children[turn]++;
			s->turn_growth[turn] +=
				(int64_t)q->input_tokens - (int64_t)t->req[p].input_tokens;
		}
		keys[r] = (uint64_t)s->root[r] << 16 | turn;
	}
	dist_summarise_f64(s->gap_sorted, s->ngaps, &s->gap);
	rc = s->available ? count_turns(s, keys, t->nreq, err) : KV_OK;
	free(keys);
	return rc;
}
