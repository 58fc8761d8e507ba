/*
 * skew.c - the node pass of `kvsim analyze`: the fraction of chain nodes ever reused and the
 * share of all reuses that the most reused x% of nodes account for. A node's reuses are its
 * accesses minus one. Counting sort over reuse counts: O(nodes + max reuses), no full sort.
 */
#include <math.h>
#include <stdlib.h>

#include "analyze.h"

/* The x of "top x of nodes", as fractions; the digest prints 1% and 10%. */
const double an_skew_points[] = {0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0};

int an_skew_run(struct analysis *a, struct kv_err *err)
{
	const struct kv_trace *t = a->t;
	struct an_skew *sk = &a->sk;
	const uint32_t *acc = a->ru.accesses_per_node;
	uint64_t *nodes_with = NULL; /* [k] = nodes reused exactly k times */

	sk->nodes = t->nnodes;
	sk->npoints = (int)(sizeof(an_skew_points) / sizeof(an_skew_points[0]));
	for (uint32_t x = 0; x < t->nnodes; x++)
		if (acc[x] > sk->max_accesses)
			sk->max_accesses = acc[x];
	nodes_with = calloc((size_t)sk->max_accesses + 1, sizeof(uint64_t));
	if (!nodes_with)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (uint32_t x = 0; x < t->nnodes; x++) {
		uint32_t k = acc[x] ? acc[x] - 1 : 0;

		nodes_with[k]++;
		sk->reuses += k;
		sk->reused_nodes += k > 0;
	}
	for (int i = 0; i < sk->npoints; i++) {
		/* top ceil(x * nodes) nodes, at least one */
		uint64_t want = (uint64_t)ceil(an_skew_points[i] * (double)sk->nodes - 1e-9);
		uint64_t taken = 0, reuses = 0;

		if (want < 1)
			want = 1;
		if (want > sk->nodes)
			want = sk->nodes;
		for (uint64_t k = sk->max_accesses + 1; k-- > 0 && taken < want;) {
			uint64_t take = nodes_with[k] < want - taken ? nodes_with[k] : want - taken;

			taken += take;
			reuses += take * k;
		}
		sk->top_nodes[i] = want;
		sk->top_share[i] = sk->reuses ? (double)reuses / (double)sk->reuses : 0;
	}
	free(nodes_with);
	return KV_OK;
}
