/*
 * route_registry.h - the table of routing policies. Adding a router: one file exporting a
 * const struct route_ops, one row in route_registry.c.
 */
#ifndef KV_ROUTE_REGISTRY_H
#define KV_ROUTE_REGISTRY_H

#include "route_ops.h"

extern const struct route_ops *const route_registry[];

const struct route_ops *route_find(const char *name);

/* Resolves "name:k=v,..." into ops and full params. */
int route_resolve(const char *spec, const struct route_ops **ops, struct kv_params *params,
		  struct kv_err *err);

#endif
