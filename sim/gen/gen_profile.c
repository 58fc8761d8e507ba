/* gen_profile.c - reads a generator profile from JSON with jansson (see gen_profile.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath.h"
#include "gen_profile.h"

#define PROFILE_DIR "traces/profiles"

const char *gen_profile_find(const char *name)
{
	static char buf[PATH_MAX + 128];
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s.json", PROFILE_DIR, name);
	return kv_data_path(rel, buf, sizeof(buf));
}

/* Rejects a member of object `o` whose name is not in `keys` (NULL-terminated), so that a
 * misspelt key ("contnue") is an error rather than a silently different trace. O(members x
 * keys). Non-objects pass: the readers of their members report them. */
static int only_keys(const json_t *o, const char *const *keys, const char *where,
		     struct kv_err *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return KV_OK;
	json_object_foreach((json_t *)o, key, v) {
		size_t i = 0;

		while (keys[i] && strcmp(keys[i], key))
			i++;
		if (!keys[i])
			return kv_fail(err, KV_EINPUT, "%s: unknown key \"%s\"", where, key);
	}
	return KV_OK;
}

/* Reads a number member; `def` when absent (NAN: required). */
static int get_num(const json_t *o, const char *key, double def, double lo, double hi,
		   const char *where, double *out, struct kv_err *err)
{
	const json_t *v = json_object_get(o, key);

	if (!v) {
		if (isnan(def))
			return kv_fail(err, KV_EINPUT, "%s: missing \"%s\"", where, key);
		*out = def;
		return KV_OK;
	}
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return kv_fail(err, KV_EINPUT, "%s: \"%s\" must be a number in [%g, %g]", where, key,
			       lo, hi);
	*out = json_number_value(v);
	return KV_OK;
}

/* get_num for a count: the value must also be a whole number. */
static int get_int(const json_t *o, const char *key, double def, double lo, double hi,
		   const char *where, double *out, struct kv_err *err)
{
	int rc = get_num(o, key, def, lo, hi, where, out, err);

	if (!rc && *out != floor(*out))
		return kv_fail(err, KV_EINPUT, "%s: \"%s\" must be a whole number", where, key);
	return rc;
}

static int get_dist(const json_t *o, const char *key, const char *where, struct gen_dist *d,
		    struct kv_err *err)
{
	char w[512];

	snprintf(w, sizeof(w), "%s.%s", where, key);
	return gen_dist_parse(json_object_get(o, key), w, d, err);
}

static int parse_pools(struct gen_profile *p, json_t *pools, struct kv_err *err)
{
	const char *key;
	json_t *v;
	char w[512];
	double x;
	int rc;

	if (!pools)
		return KV_OK;
	if (!json_is_object(pools) || json_object_size(pools) > GEN_MAX_POOLS)
		return kv_fail(err, KV_EINPUT, "%s: head_pools must be an object of at most %d pools",
			       p->path, GEN_MAX_POOLS);
	json_object_foreach(pools, key, v) {
		struct gen_pool_conf *c = &p->pools[p->npools++];

		snprintf(c->name, sizeof(c->name), "%s", key);
		snprintf(w, sizeof(w), "%s: head_pools.%s", p->path, key);
		if (!json_is_object(v))
			return kv_fail(err, KV_EINPUT, "%s: not an object", w);
		if ((rc = only_keys(v, (const char *const[]){"size", "zipf", "blocks", NULL}, w,
				    err)) ||
		    (rc = get_int(v, "size", NAN, 1, 1e7, w, &x, err)))
			return rc;
		c->size = (uint32_t)x;
		if ((rc = get_num(v, "zipf", 1.0, 0, 10, w, &c->zipf, err)) ||
		    (rc = get_dist(v, "blocks", w, &c->blocks, err)))
			return rc;
	}
	return KV_OK;
}

static int find_pool(const struct gen_profile *p, const char *name)
{
	for (int i = 0; i < p->npools; i++)
		if (!strcmp(p->pools[i].name, name))
			return i;
	return -1;
}

static int parse_type(struct gen_profile *p, const json_t *o, int i, struct kv_err *err)
{
	struct gen_type_conf *t = &p->types[i];
	const json_t *heads, *cont, *v;
	char w[512];
	double x;
	int rc;

	snprintf(w, sizeof(w), "%s: types[%d]", p->path, i);
	if (!json_is_object(o))
		return kv_fail(err, KV_EINPUT, "%s: not an object", w);
	if ((rc = only_keys(o, (const char *const[]){"name", "description", "weight", "heads",
			    "heads_exclusive", "message_tokens", "followup_tokens", "output_tokens",
			    "output_kept", "continue", "max_turns", "gap_s", NULL}, w, err)))
		return rc;
	v = json_object_get(o, "name");
	if (!json_is_string(v) || !*json_string_value(v) ||
	    strlen(json_string_value(v)) >= sizeof(t->name) || strpbrk(json_string_value(v), "\"\\"))
		return kv_fail(err, KV_EINPUT, "%s: \"name\" must be a short plain string", w);
	snprintf(t->name, sizeof(t->name), "%s", json_string_value(v));
	for (const char *c = t->name; *c; c++)
		if ((unsigned char)*c < 0x20)
			return kv_fail(err, KV_EINPUT, "%s: \"name\" has a control character", w);
	if ((rc = get_num(o, "weight", 1.0, 0, 1e9, w, &t->weight, err)) ||
	    (rc = get_dist(o, "message_tokens", w, &t->message_tokens, err)) ||
	    (rc = get_dist(o, "output_tokens", w, &t->output_tokens, err)) ||
	    (rc = get_num(o, "output_kept", 1.0, 0, 1, w, &t->output_kept, err)) ||
	    (rc = get_int(o, "max_turns", 1000, 1, 1e6, w, &x, err)))
		return rc;
	t->max_turns = (int)x;
	heads = json_object_get(o, "heads");
	if (heads && (!json_is_array(heads) || json_array_size(heads) > GEN_MAX_HEADS))
		return kv_fail(err, KV_EINPUT, "%s: \"heads\" must be an array of at most %d",
			       w, GEN_MAX_HEADS);
	for (size_t h = 0; heads && h < json_array_size(heads); h++) {
		const json_t *ho = json_array_get(heads, h);
		const json_t *pn = json_object_get(ho, "pool");

		if ((rc = only_keys(ho, (const char *const[]){"pool", "prob", NULL}, w, err)))
			return rc;
		if (!json_is_string(pn) || (t->heads[h].pool = find_pool(p, json_string_value(pn))) < 0)
			return kv_fail(err, KV_EINPUT, "%s: heads[%zu]: \"pool\" must name one of "
				       "head_pools", w, h);
		if ((rc = get_num(ho, "prob", 1.0, 0, 1, w, &t->heads[h].prob, err)))
			return rc;
		t->nheads++;
	}
	if ((v = json_object_get(o, "heads_exclusive"))) {
		double psum = 0;

		if (!json_is_boolean(v))
			return kv_fail(err, KV_EINPUT, "%s: \"heads_exclusive\" must be true or false", w);
		t->heads_exclusive = json_is_true(v);
		for (int h = 0; h < t->nheads; h++)
			psum += t->heads[h].prob;
		if (t->heads_exclusive && psum > 1 + 1e-9)
			return kv_fail(err, KV_EINPUT, "%s: exclusive head probabilities sum to more "
				       "than 1", w);
	}
	cont = json_object_get(o, "continue");
	if (cont && (!json_is_array(cont) || json_array_size(cont) > GEN_MAX_CONTINUE))
		return kv_fail(err, KV_EINPUT, "%s: \"continue\" must be an array of at most %d "
			       "probabilities", w, GEN_MAX_CONTINUE);
	for (size_t k = 0; cont && k < json_array_size(cont); k++) {
		v = json_array_get(cont, k);
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1)
			return kv_fail(err, KV_EINPUT, "%s: continue[%zu] must be in [0, 1)", w, k);
		t->cont[t->ncontinue++] = json_number_value(v);
	}
	if (t->ncontinue) {
		if ((rc = get_dist(o, "followup_tokens", w, &t->followup_tokens, err)) ||
		    (rc = get_dist(o, "gap_s", w, &t->gap_s, err)))
			return rc;
	}
	return KV_OK;
}

int gen_profile_load(const char *name_or_path, struct gen_profile **out, struct kv_err *err)
{
	const char *path = name_or_path;
	struct gen_profile *p;
	json_error_t jerr;
	json_t *root, *types, *v;
	char wb[1100], wc[1100], wt[1100]; /* "PATH: burst" etc. (p->path holds 1024) */
	double x, wsum = 0;
	int rc;

	*out = NULL;
	if (!strchr(name_or_path, '/') && !strstr(name_or_path, ".json")) {
		path = gen_profile_find(name_or_path);
		if (!path)
			return kv_fail(err, KV_EINPUT, "no profile '%s' (bundled: to-c, to-b, thinking, "
				       "coder; or give a JSON file)", name_or_path);
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return kv_fail(err, KV_EINPUT, "%s:%d: %s", path, jerr.line, jerr.text);
	p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(root);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	snprintf(p->path, sizeof(p->path), "%s", path);
	rc = KV_EINPUT;
	if (!json_is_object(root)) {
		kv_fail(err, KV_EINPUT, "%s: a profile is a JSON object", path);
		goto fail;
	}
	snprintf(wb, sizeof(wb), "%s: burst", p->path);
	snprintf(wc, sizeof(wc), "%s: common_ids", p->path);
	snprintf(wt, sizeof(wt), "%s: targets", p->path);
	if ((rc = only_keys(root, (const char *const[]){"name", "description", "duration_s",
			    "block_size", "sessions_per_s", "burst", "max_input_tokens", "common_ids",
			    "head_pools", "types", "targets", NULL}, path, err)) ||
	    (rc = only_keys(json_object_get(root, "burst"),
			    (const char *const[]){"window_s", "sigma", NULL}, wb, err)) ||
	    (rc = only_keys(json_object_get(root, "common_ids"),
			    (const char *const[]){"prob", "pool", "zipf", NULL}, wc, err)) ||
	    (rc = only_keys(json_object_get(root, "targets"),
			    (const char *const[]){"source", "requests", "input_tokens",
			    "output_tokens", "with_parent_share", "turns", "types", "gap_s",
			    "block_accesses", "distinct_nodes", "ceiling", "lru",
			    "same_session_share", "cross_session_share", "ceiling_by_type", NULL},
			    wt, err)))
		goto fail;
	v = json_object_get(root, "name");
	snprintf(p->name, sizeof(p->name), "%s", json_is_string(v) ? json_string_value(v) : path);
	if ((rc = get_num(root, "duration_s", 7200, 1, 1e9, path, &p->duration_s, err)) ||
	    (rc = get_int(root, "block_size", 16, 1, 1 << 20, path, &x, err)))
		goto fail;
	p->block_size = (uint32_t)x;
	if ((rc = get_num(root, "sessions_per_s", NAN, 1e-9, 1e7, path, &p->sessions_per_s, err)) ||
	    (rc = get_int(root, "max_input_tokens", 1 << 20, 1, 1 << 30, path, &x, err)))
		goto fail;
	p->max_input_tokens = (uint32_t)x;
	v = json_object_get(root, "burst");
	p->burst_window_s = 60;
	if (v && ((rc = get_num(v, "window_s", 60, 1e-3, 1e9, path, &p->burst_window_s, err)) ||
		  (rc = get_num(v, "sigma", 0, 0, 5, path, &p->burst_sigma, err))))
		goto fail;
	v = json_object_get(root, "common_ids");
	p->common_pool = 1;
	if (v) {
		if ((rc = get_num(v, "prob", 0, 0, 1, path, &p->common_prob, err)) ||
		    (rc = get_int(v, "pool", 1000, 1, 1e7, path, &x, err)) ||
		    (rc = get_num(v, "zipf", 1.0, 0, 10, path, &p->common_zipf, err)))
			goto fail;
		p->common_pool = (uint32_t)x;
	}
	if ((rc = parse_pools(p, json_object_get(root, "head_pools"), err)))
		goto fail;
	types = json_object_get(root, "types");
	if (!json_is_array(types) || !json_array_size(types) ||
	    json_array_size(types) > GEN_MAX_TYPES) {
		rc = kv_fail(err, KV_EINPUT, "%s: \"types\" must be an array of 1 to %d types", path,
			     GEN_MAX_TYPES);
		goto fail;
	}
	p->ntypes = (int)json_array_size(types);
	for (int i = 0; i < p->ntypes; i++) {
		if ((rc = parse_type(p, json_array_get(types, (size_t)i), i, err)))
			goto fail;
		wsum += p->types[i].weight;
	}
	if (wsum <= 0) {
		rc = kv_fail(err, KV_EINPUT, "%s: type weights sum to 0", path);
		goto fail;
	}
	p->targets = json_incref(json_object_get(root, "targets"));
	json_decref(root);
	*out = p;
	return KV_OK;
fail:
	json_decref(root);
	free(p);
	return rc;
}

void gen_profile_free(struct gen_profile *p)
{
	if (!p)
		return;
	json_decref(p->targets);
	free(p);
}
