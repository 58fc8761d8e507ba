/*
 * registry.h - the table of eviction policies. Adding a policy: one file exporting a const
 * struct evict_ops, one row in registry.c.
 */
#ifndef KV_EVICT_REGISTRY_H
#define KV_EVICT_REGISTRY_H

#include "evict_ops.h"

extern const struct evict_ops *const evict_registry[];

const struct evict_ops *evict_find(const char *name);

/* Resolves "name:k=v,..." into ops and full params. */
int evict_resolve(const char *spec, const struct evict_ops **ops, struct kv_params *params,
		  struct kv_err *err);

/* Checks the parameter values too: creates the policy on a one-block trace (a policy's
 * create() validates its parameters) and destroys it. Commands call it before loading a
 * trace or planning a sweep, so that a bad value is reported at once. O(1). */
int evict_check(const char *spec, struct kv_err *err);

#endif
