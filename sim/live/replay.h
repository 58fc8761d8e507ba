/*
 * replay.h - live replay of a trace against an OpenAI-compatible server (`kvsim replay`,
 * `kvsim validate`; DESIGN.md section 5).
 *
 * One thread, one libcurl multi handle with keep-alive connections. Every selected request
 * is sent at its absolute deadline t0 + (ts - first ts) / rate_scale (no drift accumulates),
 * with its body built ahead of time, as a streamed POST /v1/completions whose prompt is the
 * synthesised token ids (synth.h). Each request is recorded as it completes, failures
 * included, with its error class; the cache core predicts each request's hit tokens under
 * the same capacity, policy and hit rule, so measured and predicted hits can be compared.
 */
#ifndef KV_LIVE_REPLAY_H
#define KV_LIVE_REPLAY_H

#include <signal.h>
#include <stdint.h>

#include "cache.h"
#include "error.h"
#include "trace.h"

enum replay_err_class {
	RP_OK = 0,
	RP_CONNECT,   /* could not connect */
	RP_TIMEOUT,   /* --timeout elapsed */
	RP_HTTP,      /* an HTTP status other than 200 */
	RP_STREAM,    /* the connection broke or the stream ended early or was malformed */
	RP_CANCELLED, /* stopped by SIGINT/SIGTERM before it completed */
	RP_NCLASSES,
};

const char *replay_err_class_name(enum replay_err_class c);

struct replay_opts {
	const char *url;            /* http://host:port, without the /v1/... path */
	const char *metrics_url;    /* NULL: URL/metrics; "" disables scraping */
	const char *model;          /* passed through in the body */
	const char *api_key;        /* NULL: none */
	int chat;                   /* /v1/chat/completions with a text prompt */
	double rate_scale;          /* > 0 */
	double begin_s, end_s;      /* window relative to the first timestamp; end < 0: none */
	double sample_sessions;     /* fraction of whole conversations kept, (0, 1] */
	uint32_t max_inflight;
	double timeout_s;
	double grace_s;             /* wait for in-flight requests after a stop signal */
	int sequential;             /* one at a time, in order, ignoring timestamps */
	int output_one;             /* max_tokens = 1 */
	uint64_t seed;
	uint32_t vocab;
	const char *special_ids;
	/* prediction */
	const char *policy;
	uint64_t capacity_blocks;
	enum kv_hit_rule hit_rule;
	/* outputs */
	const char *out_path;       /* JSONL, one line per request; NULL: none */
	int validate;               /* compare cached with predicted tokens per request */
	int reset_cache;            /* POST /reset_prefix_cache before starting */
};

struct replay_mismatch {
	uint32_t row;
	int64_t chat_id;
	int64_t measured;           /* -1: no usage (failed request or not reported) */
	uint64_t predicted;
};

#define REPLAY_MAX_MISMATCHES 10

struct replay_summary {
	uint64_t requests, sent, succeeded, failed[RP_NCLASSES];
	uint64_t compared, exact, mismatches;
	struct replay_mismatch first[REPLAY_MAX_MISMATCHES];
	int nfirst;
	double duration_s;
	struct json_t *json;        /* the summary object (owned; replay_summary_free) */
};

/* Runs the replay. *stop is set by the caller's signal handler (SIGINT/SIGTERM). Returns a
 * status (a failed request is not an error); the summary is filled in any case. */
int replay_run(const struct kv_trace *t, const struct replay_opts *o,
	       volatile sig_atomic_t *stop, struct replay_summary *sum, struct kv_err *err);

void replay_summary_free(struct replay_summary *sum);

#endif
