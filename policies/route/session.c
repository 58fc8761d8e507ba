/*
 * session.c - sticky sessions: every turn of a conversation goes where its root went; a
 * new conversation goes to the least-loaded instance (vLLM's rule, see least_requests.c:
 * 4 x waiting + running). A uthash map from session (root chat id) to instance; O(1) per
 * request plus O(N) for a new session.
 */
#include <uthash.h>

#include "route_simple.h"

struct sticky {
	int64_t session;
	uint32_t inst;
	UT_hash_handle hh;
};

struct session_state {
	struct sticky *map;
};

static int session_create(void **state, const struct kv_params *p, uint32_t n, uint64_t seed,
			  struct kv_err *err)
{
	struct session_state *s = calloc(1, sizeof(*s));

	(void)p;
	(void)n;
	(void)seed;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	*state = s;
	return KV_OK;
}

static void session_destroy(void *state)
{
	struct session_state *s = state;
	struct sticky *e, *tmp;

	HASH_ITER(hh, s->map, e, tmp) {
		HASH_DEL(s->map, e);
		free(e);
	}
	free(s);
}

static uint32_t session_pick(void *state, const struct route_request *r,
			     const struct route_view *v)
{
	struct session_state *s = state;
	struct sticky *e;

	HASH_FIND(hh, s->map, &r->session, sizeof(r->session), e);
	if (e && e->inst < v->n)
		return e->inst;
	return route_least_requests(v);
}

static void session_dispatch(void *state, const struct route_request *r, uint32_t inst)
{
	struct session_state *s = state;
	struct sticky *e;

	HASH_FIND(hh, s->map, &r->session, sizeof(r->session), e);
	if (e) {
		e->inst = inst;
		return;
	}
	if (!(e = malloc(sizeof(*e))))
		return; /* out of memory: the session is simply not sticky */
	e->session = r->session;
	e->inst = inst;
	HASH_ADD(hh, s->map, session, sizeof(e->session), e);
}

const struct route_ops route_session = {
	.name = "session",
	.doc = "sticky by conversation root; new sessions to min 4 x waiting + running",
	.defaults = "",
	.create = session_create,
	.destroy = session_destroy,
	.pick = session_pick,
	.on_dispatch = session_dispatch,
};
