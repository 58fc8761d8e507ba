/*
 * replay.c - live replay (see replay.h).
 *
 * The loop: send every request whose deadline has come (bounded by max_inflight), drive
 * curl, record the requests that finished, build bodies LOOKAHEAD requests ahead, then
 * sleep until the next deadline or socket activity. curl is driven through its socket API
 * (curl_multi_socket_action with an epoll set), so the cost of an event does not grow with
 * the number of requests in flight (curl_multi_perform walks them all, which made a backlog
 * feed on itself), and the wait is epoll_pwait2() with nanosecond timeouts and a small
 * timer slack: dispatch lateness stays well under a millisecond on an idle machine, and
 * nothing spins. Memory is O(requests) for the small per-request records (104 bytes) plus
 * O(LOOKAHEAD + in flight) bodies: a body is freed when its request completes.
 */
#define _GNU_SOURCE /* memmem */
#include "replay.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <time.h>

#include "capacity.h"
#include "latency.h"
#include "prom.h"
#include "registry.h"
#include "sse.h"
#include "stream_event.h"
#include "synth.h"

#define LOOKAHEAD 256
#define SCRAPE_EVERY_S 1.0

static const char *const class_names[RP_NCLASSES] = {
	"", "connect", "timeout", "http", "stream", "cancelled",
};

const char *replay_err_class_name(enum replay_err_class c)
{
	return c < RP_NCLASSES ? class_names[c] : "?";
}

struct rrec {
	uint32_t row;
	uint8_t state;              /* 0 not sent, 1 in flight, 2 recorded */
	uint8_t cls;                /* enum replay_err_class */
	uint8_t has_usage, has_cached, done_seen;
	uint8_t capped;             /* was due while --max-inflight requests were in flight */
	int http_status;
	int curl_code;
	double sched_s, sent_s, first_s, last_s, done_s; /* since t0; NAN when none */
	uint32_t prompt_tokens, completion_tokens, cached_tokens, chunks;
	uint64_t predicted;         /* hit tokens the simulator predicts */
	char *body;
	size_t body_len;
};

struct slot {
	CURL *easy;
	struct sse_parser sse;
	struct rrec *rec;
	struct replay *rp;
	int bad_json;
	char errbody[256];          /* start of a non-200 body, for the record's detail */
	size_t errlen;
};

struct replay {
	const struct kv_trace *t;
	const struct replay_opts *o;
	struct synth syn;
	struct rrec *rec;
	size_t n;
	CURLM *multi;
	struct curl_slist *headers;
	char url[2048];
	struct slot *slots;
	struct slot **free_slots;
	uint32_t nfree, inflight, max_inflight_seen;
	uint32_t *ids;              /* synthesis scratch */
	size_t ids_cap;
	double t0;
	FILE *out;
	double last_flush;
	const char *detail;         /* error body of the record being written, or NULL */
	int epfd;                   /* curl's sockets */
	double curl_deadline_s;     /* when curl wants socket_action(TIMEOUT); < 0: never */
	/* metrics scraping */
	CURL *scrape;
	char *scrape_buf;
	size_t scrape_len, scrape_cap;
	int scrape_busy;
	double next_scrape, max_running, max_waiting;
	int scrapes;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- bodies ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_grow(struct sbuf *b, size_t extra)
{
	size_t c = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + extra <= b->cap)
		return 0;
	while (c < b->len + extra)
		c *= 2;
	if (!(p = realloc(b->p, c)))
		return -1;
	b->p = p;
	b->cap = c;
	return 0;
}

static int sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (sb_grow(b, n + 1))
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static int sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(b, (size_t)n + 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

#define SB_LIT(b, lit) sb_add((b), (lit), sizeof(lit) - 1)

/* Appends an unsigned integer in decimal, then sep. O(digits). */
static void sb_u32(struct sbuf *b, uint32_t v, char sep)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[12];
	int k = 12;

	while (v >= 100) {
		uint32_t q = v / 100, d = v - q * 100;

		tmp[--k] = pairs[2 * d + 1];
		tmp[--k] = pairs[2 * d];
		v = q;
	}
	if (v >= 10) {
		tmp[--k] = pairs[2 * v + 1];
		tmp[--k] = pairs[2 * v];
	} else {
		tmp[--k] = (char)('0' + v);
	}
	memcpy(b->p + b->len, tmp + k, (size_t)(12 - k));
	b->len += (size_t)(12 - k);
	b->p[b->len++] = sep;
}

/* Builds the request body of record r (owned by r). O(input tokens). */
static int build_body(struct replay *rp, struct rrec *r)
{
	const struct kv_request *q = &rp->t->req[r->row];
	uint32_t out_tok = rp->o->output_one ? 1 : (q->output_tokens ? q->output_tokens : 1);
	uint32_t n = q->input_tokens;
	struct sbuf b = {0};

	if (n > rp->ids_cap) {
		uint32_t *p = realloc(rp->ids, (size_t)n * sizeof(uint32_t));

		if (!p)
			return -1;
		rp->ids = p;
		rp->ids_cap = n;
	}
	synth_request(&rp->syn, rp->t, r->row, rp->ids);
	if (sb_printf(&b, "{\"model\":\"%s\",", rp->o->model) || sb_grow(&b, (size_t)n * 12 + 64))
		goto oom;
	if (rp->o->chat) {
		/* text: one pseudo-word per token id (block-exact sharing is lost on real
		 * tokenizers and chat templates) */
		SB_LIT(&b, "\"messages\":[{\"role\":\"user\",\"content\":\"");
		for (uint32_t i = 0; i < n; i++) {
			b.p[b.len++] = 't';
			sb_u32(&b, rp->ids[i], ' ');
		}
		if (n)
			b.len--;
		SB_LIT(&b, "\"}],");
	} else {
		SB_LIT(&b, "\"prompt\":[");
		for (uint32_t i = 0; i < n; i++)
			sb_u32(&b, rp->ids[i], ',');
		if (n)
			b.len--;
		SB_LIT(&b, "],");
	}
	if (sb_printf(&b, "\"max_tokens\":%u,\"min_tokens\":%u,\"ignore_eos\":true,"
		      "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
		      out_tok, out_tok))
		goto oom;
	r->body = b.p;
	r->body_len = b.len;
	return 0;
oom:
	free(b.p);
	return -1;
}

/* ---- one response ---- */

static int on_event(void *ctx, const char *data, size_t len)
{
	struct slot *s = ctx;
	struct rrec *r = s->rec;
	struct stream_event ev;

	stream_event_parse(data, len, 1, &ev);
	if (ev.done)
		r->done_seen = 1;
	if (ev.bad)
		s->bad_json = 1;
	if (ev.chunk) {
		double now = mono_s() - s->rp->t0;

		if (isnan(r->first_s))
			r->first_s = now;
		r->last_s = now;
		r->chunks++;
	}
	if (ev.has_usage) {
		r->has_usage = 1;
		r->prompt_tokens = ev.prompt_tokens;
		r->completion_tokens = ev.completion_tokens;
	}
	if (ev.has_cached) {
		r->has_cached = 1;
		r->cached_tokens = ev.cached_tokens;
	}
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) { /* an error body, not a stream: keep its start */
		size_t k = n < sizeof(s->errbody) - 1 - s->errlen ? n :
			   sizeof(s->errbody) - 1 - s->errlen;

		memcpy(s->errbody + s->errlen, ptr, k);
		s->errlen += k;
		s->errbody[s->errlen] = 0;
		return n;
	}
	if (sse_feed(&s->sse, ptr, n) < 0)
		return 0; /* out of memory: abort the transfer */
	return n;
}

/* ---- output ---- */

static void num_or_null(FILE *f, const char *key, double v, double scale)
{
	if (isnan(v))
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.3f", key, v * scale);
}

/* Writes a string's characters JSON-escaped (without the quotes). */
static void put_escaped(FILE *f, const char *c)
{
	for (; *c; c++)
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*c);
		else
			fputc(*c, f);
}

static void write_line(struct replay *rp, const struct rrec *r)
{
	const struct kv_request *q = &rp->t->req[r->row];
	FILE *f = rp->out;
	double tpot = NAN;

	if (!f)
		return;
	if (r->completion_tokens > 1 && !isnan(r->first_s) && !isnan(r->last_s))
		tpot = (r->last_s - r->first_s) / (r->completion_tokens - 1);
	fprintf(f, "{\"row\":%u,\"chat_id\":%lld,\"parent\":%lld,\"turn\":%d,\"type\":\"",
		r->row, (long long)q->chat_id, (long long)q->parent_chat_id, q->turn);
	put_escaped(f, rp->t->type_names[q->type]);
	fprintf(f, "\",\"input_length\":%u,\"output_length\":%u", q->input_tokens,
		q->output_tokens);
	num_or_null(f, "scheduled_s", r->sched_s, 1);
	num_or_null(f, "sent_s", r->sent_s, 1);
	num_or_null(f, "first_token_s", r->first_s, 1);
	num_or_null(f, "last_token_s", r->last_s, 1);
	num_or_null(f, "done_s", r->done_s, 1);
	num_or_null(f, "lateness_ms", r->sent_s - r->sched_s, 1e3);
	num_or_null(f, "ttft_ms", r->first_s - r->sent_s, 1e3);
	num_or_null(f, "tpot_ms", tpot, 1e3);
	num_or_null(f, "e2e_ms", r->done_s - r->sent_s, 1e3);
	if (r->http_status)
		fprintf(f, ",\"http_status\":%d", r->http_status);
	else
		fprintf(f, ",\"http_status\":null");
	if (r->cls == RP_OK)
		fprintf(f, ",\"error\":null");
	else
		fprintf(f, ",\"error\":\"%s\"", class_names[r->cls]);
	if (r->curl_code) {
		fprintf(f, ",\"detail\":\"%s\"", curl_easy_strerror((CURLcode)r->curl_code));
	} else if (rp->detail) {
		fputs(",\"detail\":\"", f);
		put_escaped(f, rp->detail);
		fputc('"', f);
	}
	if (r->has_usage)
		fprintf(f, ",\"prompt_tokens\":%u,\"completion_tokens\":%u", r->prompt_tokens,
			r->completion_tokens);
	else
		fprintf(f, ",\"prompt_tokens\":null,\"completion_tokens\":null");
	if (r->has_cached)
		fprintf(f, ",\"cached_tokens\":%u", r->cached_tokens);
	else
		fprintf(f, ",\"cached_tokens\":null");
	fprintf(f, ",\"predicted_hit_tokens\":%llu}\n", (unsigned long long)r->predicted);
}

static void finish(struct replay *rp, struct rrec *r, enum replay_err_class cls)
{
	if (isnan(r->done_s))
		r->done_s = isnan(r->sent_s) ? NAN : mono_s() - rp->t0;
	r->cls = (uint8_t)cls;
	r->state = 2;
	free(r->body);
	r->body = NULL;
	write_line(rp, r);
}

static void release_slot(struct replay *rp, struct slot *s, enum replay_err_class cls)
{
	curl_multi_remove_handle(rp->multi, s->easy);
	rp->detail = s->errlen ? s->errbody : NULL;
	finish(rp, s->rec, cls);
	rp->detail = NULL;
	s->errlen = 0;
	s->rec = NULL;
	rp->free_slots[rp->nfree++] = s;
	rp->inflight--;
}

static void on_done(struct replay *rp, struct slot *s, CURLcode code)
{
	struct rrec *r = s->rec;
	long status = 0, req_bytes = 0;
	enum replay_err_class cls;

	sse_finish(&s->sse);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	r->done_s = mono_s() - rp->t0;
	if (code == CURLE_OK) {
		if (status != 200)
			cls = RP_HTTP;
		else if (!r->done_seen || s->bad_json || !r->chunks)
			cls = RP_STREAM;
		else
			cls = RP_OK;
	} else {
		r->curl_code = code;
		/* a timeout before the request went out is a connect failure (no SYN-ACK, a
		 * full accept queue): curl reports both as OPERATION_TIMEDOUT */
		if (code == CURLE_OPERATION_TIMEDOUT &&
		    (curl_easy_getinfo(s->easy, CURLINFO_REQUEST_SIZE, &req_bytes) != CURLE_OK ||
		     req_bytes > 0))
			cls = RP_TIMEOUT;
		else if (code == CURLE_OPERATION_TIMEDOUT)
			cls = RP_CONNECT;
		else if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
			 code == CURLE_COULDNT_RESOLVE_PROXY)
			cls = RP_CONNECT;
		else
			cls = RP_STREAM;
	}
	release_slot(rp, s, cls);
}

static int send_one(struct replay *rp, struct rrec *r, double now)
{
	struct slot *s = rp->free_slots[--rp->nfree];

	if (!r->body && build_body(rp, r))
		return -1;
	s->rec = r;
	s->bad_json = 0;
	sse_reset(&s->sse);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	r->sent_s = now - rp->t0;
	r->state = 1;
	rp->inflight++;
	if (curl_multi_add_handle(rp->multi, s->easy) != CURLM_OK) {
		r->curl_code = CURLE_FAILED_INIT;
		release_slot(rp, s, RP_STREAM);
	}
	return 0;
}

static void drain(struct replay *rp)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(rp->multi, &left))) {
		void *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&priv);
		if (priv == rp) { /* the metrics scrape */
			curl_multi_remove_handle(rp->multi, rp->scrape);
			if (m->data.result == CURLE_OK && rp->scrape_buf) {
				double v;

				rp->scrapes++;
				if (prom_sum(rp->scrape_buf, "vllm:num_requests_running", &v) &&
				    v > rp->max_running)
					rp->max_running = v;
				if (prom_sum(rp->scrape_buf, "vllm:num_requests_waiting", &v) &&
				    v > rp->max_waiting)
					rp->max_waiting = v;
			}
			rp->scrape_busy = 0;
			continue;
		}
		on_done(rp, priv, m->data.result);
	}
}

/* ---- metrics ---- */

static size_t on_scrape(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct replay *rp = ud;
	size_t n = size * nmemb;

	if (rp->scrape_len + n + 1 > rp->scrape_cap) {
		size_t c = rp->scrape_cap ? rp->scrape_cap : 65536;
		char *p;

		while (c < rp->scrape_len + n + 1)
			c *= 2;
		if (c > (64u << 20) || !(p = realloc(rp->scrape_buf, c)))
			return 0;
		rp->scrape_buf = p;
		rp->scrape_cap = c;
	}
	memcpy(rp->scrape_buf + rp->scrape_len, ptr, n);
	rp->scrape_len += n;
	rp->scrape_buf[rp->scrape_len] = 0;
	return n;
}

static void scrape_reset(struct replay *rp)
{
	rp->scrape_len = 0;
	if (rp->scrape_buf)
		rp->scrape_buf[0] = 0;
}

struct counters {
	int ok;
	double queries, hits, preemptions;
	int have_queries, have_preemptions;
};

/* A blocking scrape (before and after the run). */
static void scrape_now(struct replay *rp, struct counters *c)
{
	memset(c, 0, sizeof(*c));
	if (!rp->scrape)
		return;
	scrape_reset(rp);
	if (curl_easy_perform(rp->scrape) != CURLE_OK || !rp->scrape_buf)
		return;
	c->ok = 1;
	rp->scrapes++;
	c->have_queries = prom_sum(rp->scrape_buf, "vllm:prefix_cache_queries_total",
				   &c->queries) > 0;
	if (c->have_queries)
		prom_sum(rp->scrape_buf, "vllm:prefix_cache_hits_total", &c->hits);
	else if ((c->have_queries = prom_sum(rp->scrape_buf, "vllm:gpu_prefix_cache_queries_total",
					     &c->queries) > 0))
		prom_sum(rp->scrape_buf, "vllm:gpu_prefix_cache_hits_total", &c->hits);
	c->have_preemptions = prom_sum(rp->scrape_buf, "vllm:num_preemptions_total",
				       &c->preemptions) > 0;
}

static void scrape_async(struct replay *rp, double now)
{
	if (!rp->scrape || rp->scrape_busy || now < rp->next_scrape)
		return;
	rp->next_scrape = now + SCRAPE_EVERY_S;
	scrape_reset(rp);
	if (curl_multi_add_handle(rp->multi, rp->scrape) == CURLM_OK)
		rp->scrape_busy = 1;
}

/* ---- selection and prediction ---- */

/* Root row of a request's conversation. O(turns). */
static uint32_t root_row(const struct kv_trace *t, uint32_t r)
{
	for (int guard = 0; t->req[r].parent_row != KV_NO_ROW && guard < 1 << 20; guard++)
		r = (uint32_t)t->req[r].parent_row;
	return r;
}

static int select_rows(struct replay *rp, struct kv_err *err)
{
	const struct kv_trace *t = rp->t;
	const struct replay_opts *o = rp->o;
	double first = t->nreq ? t->req[0].ts_s : 0, first_sel = NAN;

	if (!(rp->rec = calloc(t->nreq ? t->nreq : 1, sizeof(*rp->rec))))
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t i = 0; i < t->nreq; i++) {
		double rel = t->req[i].ts_s - first;
		struct rrec *r;

		if (rel < o->begin_s || (o->end_s >= 0 && rel >= o->end_s))
			continue;
		if (o->sample_sessions < 1) {
			uint64_t h = synth_mix64(o->seed ^ synth_mix64(
				(uint64_t)t->req[root_row(t, (uint32_t)i)].chat_id + 0x5e55));

			if ((double)(h >> 11) * (1.0 / 9007199254740992.0) >= o->sample_sessions)
				continue;
		}
		if (isnan(first_sel))
			first_sel = t->req[i].ts_s;
		r = &rp->rec[rp->n++];
		r->row = (uint32_t)i;
		r->sched_s = (t->req[i].ts_s - first_sel) / o->rate_scale;
		r->sent_s = r->first_s = r->last_s = r->done_s = NAN;
	}
	if (!rp->n && t->nreq)
		return kv_fail(err, KV_EINPUT, "--begin/--end%s select no request: the trace's "
			       "requests arrive from 0 to %.3f s after its first",
			       o->sample_sessions < 1 ? " and --sample-sessions" : "",
			       t->req[t->nreq - 1].ts_s - first);
	return KV_OK;
}

static int predict(struct replay *rp, struct kv_err *err)
{
	const struct evict_ops *ops;
	struct kv_params params;
	struct kv_cache *c;
	int rc;

	if ((rc = evict_resolve(rp->o->policy, &ops, &params, err)) ||
	    (rc = cache_create(&c, rp->t, ops, &params, rp->o->capacity_blocks, rp->o->hit_rule,
			       err)))
		return rc;
	for (size_t i = 0; i < rp->n; i++) {
		const struct kv_request *q = &rp->t->req[rp->rec[i].row];
		uint32_t hits = cache_run_request(c, rp->rec[i].row, q->ts_s);

		rp->rec[i].predicted = trace_hit_tokens(rp->t, q, hits);
	}
	cache_destroy(c);
	return KV_OK;
}

/* ---- summary ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* {p50, p90, p99, max, mean} of v[0..n) in ms (sorted in place); null when n == 0. */
static json_t *dist_json(double *v, size_t n)
{
	double sum = 0;

	if (!n)
		return json_null();
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
#define PCT(p) v[(size_t)ceil((p) / 100.0 * (double)n) ? (size_t)ceil((p) / 100.0 * (double)n) - 1 : 0]
	return json_pack("{s:f,s:f,s:f,s:f,s:f,s:I}", "p50", PCT(50) * 1e3, "p90", PCT(90) * 1e3,
			 "p99", PCT(99) * 1e3, "max", v[n - 1] * 1e3, "mean", sum / n * 1e3,
			 "count", (json_int_t)n);
#undef PCT
}

static json_t *ratio_json(double num, double den)
{
	return den > 0 ? json_real(num / den) : json_null();
}

static void summarise(struct replay *rp, struct replay_summary *sum,
		      const struct counters *before, const struct counters *after)
{
	size_t n = rp->n;
	double *ttft = malloc((n + 1) * sizeof(double)), *tpot = malloc((n + 1) * sizeof(double));
	double *e2e = malloc((n + 1) * sizeof(double)), *late = malloc((n + 1) * sizeof(double));
	size_t nt = 0, np = 0, ne = 0, nl = 0, ncapped = 0;
	double meas_hit = 0, meas_tok = 0, pred_hit = 0, pred_tok = 0, all_pred = 0, all_tok = 0;
	json_t *j, *failed, *metrics;

	for (size_t i = 0; i < n; i++) {
		const struct rrec *r = &rp->rec[i];
		const struct kv_request *q = &rp->t->req[r->row];

		all_pred += (double)r->predicted;
		ncapped += r->capped;
		all_tok += q->input_tokens;
		if (r->state == 0 && r->cls != RP_CANCELLED)
			continue;
		if (!isnan(r->sent_s)) {
			sum->sent++;
			if (late)
				late[nl++] = r->sent_s - r->sched_s;
		}
		sum->failed[r->cls]++;
		if (r->cls != RP_OK)
			continue;
		sum->succeeded++;
		if (ttft && !isnan(r->first_s))
			ttft[nt++] = r->first_s - r->sent_s;
		if (tpot && r->completion_tokens > 1)
			tpot[np++] = (r->last_s - r->first_s) / (r->completion_tokens - 1);
		if (e2e)
			e2e[ne++] = r->done_s - r->sent_s;
		if (r->has_cached) {
			meas_hit += r->cached_tokens;
			meas_tok += r->prompt_tokens;
			pred_hit += (double)r->predicted;
			pred_tok += q->input_tokens;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct rrec *r = &rp->rec[i];
		int64_t measured = r->cls == RP_OK && r->has_cached ? (int64_t)r->cached_tokens : -1;

		if (r->state != 2)
			continue;
		sum->compared++;
		if (measured == (int64_t)r->predicted) {
			sum->exact++;
			continue;
		}
		sum->mismatches++;
		if (sum->nfirst < REPLAY_MAX_MISMATCHES) {
			struct replay_mismatch *m = &sum->first[sum->nfirst++];

			m->row = r->row;
			m->chat_id = rp->t->req[r->row].chat_id;
			m->measured = measured;
			m->predicted = r->predicted;
		}
	}
	failed = json_object();
	for (int c = 1; c < RP_NCLASSES; c++)
		json_object_set_new(failed, class_names[c], json_integer((json_int_t)sum->failed[c]));
	metrics = json_object();
	json_object_set_new(metrics, "url", json_string(rp->o->metrics_url ? rp->o->metrics_url :
							 ""));
	json_object_set_new(metrics, "scrapes", json_integer(rp->scrapes));
	if (before->ok && after->ok && before->have_queries && after->have_queries) {
		double dq = after->queries - before->queries, dh = after->hits - before->hits;

		json_object_set_new(metrics, "prefix_cache_queries_delta", json_real(dq));
		json_object_set_new(metrics, "prefix_cache_hits_delta", json_real(dh));
		json_object_set_new(metrics, "prefix_cache_hit_ratio", ratio_json(dh, dq));
	}
	if (before->ok && after->ok && before->have_preemptions && after->have_preemptions)
		json_object_set_new(metrics, "num_preemptions_delta",
				    json_real(after->preemptions - before->preemptions));
	if (rp->scrapes) {
		json_object_set_new(metrics, "max_requests_running", json_real(rp->max_running));
		json_object_set_new(metrics, "max_requests_waiting", json_real(rp->max_waiting));
	}
	j = json_object();
	json_object_set_new(j, "url", json_string(rp->o->url));
	json_object_set_new(j, "trace", json_string(rp->t->path ? rp->t->path : ""));
	json_object_set_new(j, "requests", json_integer((json_int_t)n));
	json_object_set_new(j, "sent", json_integer((json_int_t)sum->sent));
	json_object_set_new(j, "succeeded", json_integer((json_int_t)sum->succeeded));
	json_object_set_new(j, "failed", failed);
	json_object_set_new(j, "duration_s", json_real(sum->duration_s));
	json_object_set_new(j, "throughput_rps", sum->duration_s > 0 ?
			    json_real((double)sum->sent / sum->duration_s) : json_null());
	json_object_set_new(j, "max_in_flight", json_integer(rp->max_inflight_seen));
	json_object_set_new(j, "delayed_by_max_inflight", json_integer((json_int_t)ncapped));
	json_object_set_new(j, "ttft_ms", ttft ? dist_json(ttft, nt) : json_null());
	json_object_set_new(j, "tpot_ms", tpot ? dist_json(tpot, np) : json_null());
	json_object_set_new(j, "e2e_ms", e2e ? dist_json(e2e, ne) : json_null());
	json_object_set_new(j, "lateness_ms", late ? dist_json(late, nl) : json_null());
	json_object_set_new(j, "token_hit_ratio", json_pack(
		"{s:o,s:o,s:o}", "measured", ratio_json(meas_hit, meas_tok),
		"predicted_same_requests", ratio_json(pred_hit, pred_tok),
		"predicted_all_requests", ratio_json(all_pred, all_tok)));
	json_object_set_new(j, "exact_matches", json_pack("{s:I,s:I}", "compared",
		(json_int_t)sum->compared, "exact", (json_int_t)sum->exact));
	json_object_set_new(j, "prediction", json_pack("{s:s,s:I,s:s}", "policy", rp->o->policy,
		"capacity_blocks", rp->o->capacity_blocks == KV_CAPACITY_INF ? (json_int_t)-1 :
		(json_int_t)rp->o->capacity_blocks, "hit_rule",
		cache_hit_rule_name(rp->o->hit_rule)));
	json_object_set_new(j, "metrics", metrics);
	sum->json = j;
	free(ttft);
	free(tpot);
	free(e2e);
	free(late);
}

/* ---- the run ---- */

/* CURLMOPT_SOCKETFUNCTION: keeps the epoll set in step with curl's sockets. O(1). */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct replay *rp = userp;
	struct epoll_event ev = {0};

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(rp->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(rp->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (!socketp) {
		if (epoll_ctl(rp->epfd, EPOLL_CTL_ADD, fd, &ev) && errno == EEXIST)
			epoll_ctl(rp->epfd, EPOLL_CTL_MOD, fd, &ev);
		curl_multi_assign(rp->multi, fd, rp);
	} else if (epoll_ctl(rp->epfd, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT) {
		epoll_ctl(rp->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl next needs a timeout call. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct replay *rp = userp;

	(void)m;
	rp->curl_deadline_s = timeout_ms < 0 ? -1 : mono_s() + timeout_ms / 1000.0;
	return 0;
}

/* Runs curl's due timeout, if any. */
static void curl_timeouts(struct replay *rp)
{
	int running;

	if (rp->curl_deadline_s >= 0 && mono_s() >= rp->curl_deadline_s) {
		rp->curl_deadline_s = -1;
		curl_multi_socket_action(rp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

/* Sleeps until socket activity, curl's timeout or wait_s, whichever comes first, and
 * hands the ready sockets to curl. O(ready sockets). */
static void wait_sockets(struct replay *rp, double wait_s)
{
	struct epoll_event evs[64];
	struct timespec ts;
	int n, running;

	if (rp->curl_deadline_s >= 0 && rp->curl_deadline_s - mono_s() < wait_s)
		wait_s = rp->curl_deadline_s - mono_s();
	if (wait_s < 0)
		wait_s = 0;
	ts.tv_sec = (time_t)wait_s;
	ts.tv_nsec = (long)((wait_s - (double)ts.tv_sec) * 1e9);
	n = epoll_pwait2(rp->epfd, evs, 64, &ts, NULL);
	if (n < 0 && errno == ENOSYS) /* kernels before 5.11: millisecond timeouts */
		n = epoll_wait(rp->epfd, evs, 64, (int)ceil(wait_s * 1000));
	for (int i = 0; i < n; i++) {
		int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			    (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

		curl_multi_socket_action(rp->multi, evs[i].data.fd, flags, &running);
	}
	curl_timeouts(rp);
}

static int setup(struct replay *rp, struct kv_err *err)
{
	const struct replay_opts *o = rp->o;
	char auth[1100];

	if (!(rp->multi = curl_multi_init()))
		return kv_fail(err, KV_ERUNTIME, "curl_multi_init failed");
	curl_multi_setopt(rp->multi, CURLMOPT_MAXCONNECTS, (long)o->max_inflight + 4);
	if ((rp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return kv_fail(err, KV_ERUNTIME, "epoll_create1 failed");
	rp->curl_deadline_s = -1;
	curl_multi_setopt(rp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(rp->multi, CURLMOPT_SOCKETDATA, rp);
	curl_multi_setopt(rp->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(rp->multi, CURLMOPT_TIMERDATA, rp);
	rp->headers = curl_slist_append(NULL, "Content-Type: application/json");
	rp->headers = curl_slist_append(rp->headers, "Expect:");
	if (o->api_key && *o->api_key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->api_key);
		rp->headers = curl_slist_append(rp->headers, auth);
	}
	snprintf(rp->url, sizeof(rp->url), "%s%s", o->url,
		 o->chat ? "/v1/chat/completions" : "/v1/completions");
	rp->slots = calloc(o->max_inflight, sizeof(*rp->slots));
	rp->free_slots = calloc(o->max_inflight, sizeof(*rp->free_slots));
	if (!rp->headers || !rp->slots || !rp->free_slots)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (uint32_t i = 0; i < o->max_inflight; i++) {
		struct slot *s = &rp->slots[i];

		if (!(s->easy = curl_easy_init()))
			return kv_fail(err, KV_ERUNTIME, "curl_easy_init failed");
		s->rp = rp;
		sse_init(&s->sse, on_event, s);
		curl_easy_setopt(s->easy, CURLOPT_URL, rp->url);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, rp->headers);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
		curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)(o->timeout_s < 10 ? o->timeout_s * 1000 : 10000));
		rp->free_slots[rp->nfree++] = s;
	}
	if (o->metrics_url && *o->metrics_url) {
		if (!(rp->scrape = curl_easy_init()))
			return kv_fail(err, KV_ERUNTIME, "curl_easy_init failed");
		curl_easy_setopt(rp->scrape, CURLOPT_URL, o->metrics_url);
		curl_easy_setopt(rp->scrape, CURLOPT_WRITEFUNCTION, on_scrape);
		curl_easy_setopt(rp->scrape, CURLOPT_WRITEDATA, rp);
		curl_easy_setopt(rp->scrape, CURLOPT_PRIVATE, rp);
		curl_easy_setopt(rp->scrape, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(rp->scrape, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(rp->scrape, CURLOPT_FAILONERROR, 1L);
	}
	return KV_OK;
}

static void teardown(struct replay *rp)
{
	for (uint32_t i = 0; rp->slots && i < rp->o->max_inflight; i++) {
		if (rp->slots[i].easy) {
			curl_multi_remove_handle(rp->multi, rp->slots[i].easy);
			curl_easy_cleanup(rp->slots[i].easy);
		}
		sse_free(&rp->slots[i].sse);
	}
	if (rp->scrape) {
		curl_multi_remove_handle(rp->multi, rp->scrape);
		curl_easy_cleanup(rp->scrape);
	}
	if (rp->multi)
		curl_multi_cleanup(rp->multi);
	if (rp->epfd > 0)
		close(rp->epfd);
	curl_slist_free_all(rp->headers);
	for (size_t i = 0; rp->rec && i < rp->n; i++)
		free(rp->rec[i].body);
	free(rp->rec);
	free(rp->slots);
	free(rp->free_slots);
	free(rp->ids);
	free(rp->scrape_buf);
}

static size_t on_data_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

/* POST /reset_prefix_cache (validation starts from an empty cache). */
static void reset_cache(struct replay *rp)
{
	CURL *e = curl_easy_init();
	char url[2100];
	long status = 0;

	if (!e)
		return;
	snprintf(url, sizeof(url), "%s/reset_prefix_cache", rp->o->url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data_discard);
	if (curl_easy_perform(e) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) || status != 200)
		fprintf(stderr, "kvsim replay: warning: POST %s failed (status %ld); the server's "
			"cache may not start empty\n", url, status);
	curl_easy_cleanup(e);
}

int replay_run(const struct kv_trace *t, const struct replay_opts *o,
	       volatile sig_atomic_t *stop, struct replay_summary *sum, struct kv_err *err)
{
	struct replay rp;
	struct counters before, after;
	size_t next = 0, built = 0;
	double stop_deadline = -1;
	int rc;

	memset(sum, 0, sizeof(*sum));
	memset(&rp, 0, sizeof(rp));
	rp.t = t;
	rp.o = o;
	if ((rc = synth_init(&rp.syn, o->seed, o->vocab, o->special_ids, err)) ||
	    (rc = select_rows(&rp, err)) || (rc = predict(&rp, err)) || (rc = setup(&rp, err)))
		goto out;
	sum->requests = rp.n;
	if (o->out_path) {
		if (!(rp.out = fopen(o->out_path, "w"))) {
			rc = kv_fail(err, KV_ERUNTIME, "cannot write %s", o->out_path);
			goto out;
		}
		setvbuf(rp.out, NULL, _IOFBF, 1 << 16);
	}
	if (o->reset_cache)
		reset_cache(&rp);
	scrape_now(&rp, &before);
	for (; built < rp.n && built < LOOKAHEAD; built++)
		if (build_body(&rp, &rp.rec[built]))
			goto oom;
	latency_hint(); /* short slices, 10 us timer slack: wake-ups close to the deadlines */
	rp.t0 = mono_s();
	rp.next_scrape = rp.t0 + SCRAPE_EVERY_S;
	for (;;) {
		double now = mono_s(), wait_s = 0.05;

		if (*stop && stop_deadline < 0)
			stop_deadline = now + o->grace_s;
		if (stop_deadline >= 0) {
			if (!rp.inflight || now >= stop_deadline || *stop > 1)
				break;
		} else {
			while (next < rp.n && rp.nfree) {
				struct rrec *r = &rp.rec[next];

				if (o->sequential) {
					if (rp.inflight)
						break;
					r->sched_s = now - rp.t0;
				} else if (rp.t0 + r->sched_s > now) {
					break;
				}
				if (send_one(&rp, r, now))
					goto oom;
				next++;
				now = mono_s();
			}
			if (next < rp.n && !rp.nfree && !o->sequential &&
			    rp.t0 + rp.rec[next].sched_s <= now)
				rp.rec[next].capped = 1;
			if (rp.inflight > rp.max_inflight_seen)
				rp.max_inflight_seen = rp.inflight;
			if (next == rp.n && !rp.inflight)
				break;
		}
		curl_timeouts(&rp);
		drain(&rp);
		scrape_async(&rp, now);
		for (; built < rp.n && built < next + LOOKAHEAD; built++)
			if (!rp.rec[built].body && rp.rec[built].state == 0 &&
			    build_body(&rp, &rp.rec[built]))
				goto oom;
		if (rp.out && now - rp.last_flush > 0.1) {
			fflush(rp.out);
			rp.last_flush = now;
		}
		now = mono_s();
		if (stop_deadline < 0 && next < rp.n && rp.nfree && !o->sequential)
			wait_s = rp.t0 + rp.rec[next].sched_s - now;
		if (stop_deadline < 0 && o->sequential && !rp.inflight)
			wait_s = 0;
		if (wait_s > 0.05)
			wait_s = 0.05;
		if (wait_s < 0)
			wait_s = 0;
		wait_sockets(&rp, wait_s);
		drain(&rp);
	}
	/* whatever is still in flight or unsent was cancelled */
	for (uint32_t i = 0; i < o->max_inflight; i++)
		if (rp.slots[i].rec) {
			rp.slots[i].rec->done_s = mono_s() - rp.t0;
			release_slot(&rp, &rp.slots[i], RP_CANCELLED);
		}
	for (size_t i = next; i < rp.n; i++)
		finish(&rp, &rp.rec[i], RP_CANCELLED);
	sum->duration_s = mono_s() - rp.t0;
	if (rp.scrape_busy) {
		curl_multi_remove_handle(rp.multi, rp.scrape);
		rp.scrape_busy = 0;
	}
	scrape_now(&rp, &after);
	summarise(&rp, sum, &before, &after);
	rc = KV_OK;
	if (rp.out) {
		if (fflush(rp.out) || ferror(rp.out))
			rc = kv_fail(err, KV_ERUNTIME, "error writing %s", o->out_path);
		if (fclose(rp.out) && !rc)
			rc = kv_fail(err, KV_ERUNTIME, "error writing %s", o->out_path);
		rp.out = NULL;
	}
	goto out;
oom:
	rc = kv_fail(err, KV_ERUNTIME, "out of memory building request bodies");
out:
	if (rp.out)
		fclose(rp.out);
	teardown(&rp);
	return rc;
}

void replay_summary_free(struct replay_summary *sum)
{
	json_decref(sum->json);
	sum->json = NULL;
}
