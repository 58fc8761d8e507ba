/*
 * pace.h - how long one continuous-batching iteration of the emulated engine takes.
 *
 * "zero" (everything is streamed at once), "fixed:iter_ms=X" (every iteration takes X ms),
 * or any spec the timed layer's cost model (sim/timed/cost.h) takes ("roofline" with --gpu
 * and --model presets, "linear:..."), through cost_iteration_s().
 */
#ifndef KV_LIVE_PACE_H
#define KV_LIVE_PACE_H

#include <stdint.h>

#include "error.h"

#include "cost.h"

struct pace;

int pace_create(struct pace **out, const char *spec, const char *gpu, const char *model,
		struct kv_err *err);
void pace_destroy(struct pace *p);
/* 1 when every iteration takes no time (serve answers at once). */
int pace_is_zero(const struct pace *p);
/* Seconds one iteration of this shape takes. O(1). */
double pace_iteration_s(const struct pace *p, const struct kv_batch_shape *b);
/* The specs understood, for --help. */
const char *pace_help(void);

#endif
