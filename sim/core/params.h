/*
 * params.h - "name:key=value,key=value" specifications for policies and routers.
 *
 * A spec names a plug-in and sets some of its parameters. Plug-ins declare their parameters
 * with defaults as the same "key=value,..." text; kv_params_parse() checks that every key the
 * user gave is declared, so a typo is an error and never a silently ignored setting.
 */
#ifndef KV_PARAMS_H
#define KV_PARAMS_H

#include "error.h"

#define KV_PARAMS_MAX 16
#define KV_PARAM_NAME_MAX 64

struct kv_param {
	char key[KV_PARAM_NAME_MAX];
	char value[KV_PARAM_NAME_MAX];
	int set_by_user;
};

struct kv_params {
	char name[KV_PARAM_NAME_MAX]; /* plug-in name, the part before ':' */
	int n;
	struct kv_param p[KV_PARAMS_MAX];
};

/* Splits "name:k=v,k=v" into name and user pairs (not yet checked against a plug-in). */
int kv_params_split(const char *spec, struct kv_params *out, struct kv_err *err);

/* Merges user pairs over the plug-in's defaults ("k=v,k=v", may be "" or NULL); fails on a
 * key the defaults do not declare. */
int kv_params_resolve(struct kv_params *pp, const char *defaults, struct kv_err *err);

/* Typed getters; fail with KV_EINPUT when the value does not parse or is out of [lo, hi]. */
int kv_param_double(const struct kv_params *pp, const char *key, double lo, double hi,
		    double *out, struct kv_err *err);
int kv_param_long(const struct kv_params *pp, const char *key, long lo, long hi, long *out,
		  struct kv_err *err);
const char *kv_param_str(const struct kv_params *pp, const char *key);

/* Writes the canonical spec: name, then ":k=v,..." for the parameters the user set. */
void kv_params_format(const struct kv_params *pp, char *buf, size_t len);

/* Splits a comma-separated list whose items may hold ':k=v,k=v' parameters: after an item
 * with a ':', a 'k=v' segment (no ':') continues it; any other segment starts a new item.
 * "lru,s3fifo:small=0.2,ghost=1,fifo" -> "lru", "s3fifo:small=0.2,ghost=1", "fifo".
 * Returns the number of items (at most max) or -1 if there are more. Modifies s. */
int kv_split_specs(char *s, char **items, int max);

/* An upper bound on kv_split_specs(s): one more than the commas. O(length). */
int kv_specs_bound(const char *s);

#endif
