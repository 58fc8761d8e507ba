/*
 * serve.c - the emulated OpenAI-compatible engine (see serve.h).
 *
 * Request life: parse and validate (400 on anything wrong) -> prefix-cache lookup and touch
 * at arrival, exactly as cache mode does -> fault draws (500 at once; a stall before the
 * engine; a drop after the first bytes of the answer) -> the engine.
 * With a zero cost the whole answer is written at once. Otherwise requests wait in a FIFO,
 * up to max_num_seqs run together, and each iteration (prefill of the newly admitted,
 * one decode token for the others) lasts pace_iteration_s(shape); at its end every running
 * request emits one token. A client that goes away is noticed through evhttp's detached
 * request (no connection) and its request is dropped from the batch.
 */
#define _GNU_SOURCE /* memmem */
#include "serve.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capacity.h"
#include "latency.h"
#include "live_cache.h"
#include "outfile.h"
#include "pace.h"
#include "synth.h"

/* Request limits. The body: 64 bytes per token of the longest request (a token id with
 * its comma takes at most 11; chat messages add their JSON per word), at least 1 MiB; the
 * headers: 64 KiB (libevent's default is unbounded: a client sending an endless header
 * line grew the server without limit). Larger requests get 413 / 400 from libevent. */
#define MIN_BODY_BYTES (1u << 20)
#define BODY_BYTES_PER_TOKEN 64u
#define MAX_HEADERS_BYTES (64u << 10)

struct server;

struct sreq {
	struct sreq *next;            /* waiting FIFO */
	struct sreq *sprev, *snext;   /* stalled list */
	struct server *srv;
	struct evhttp_request *req;
	struct event *stall_ev;
	uint64_t id;
	int chat, stream, include_usage, started, prefilled, drop;
	uint32_t prompt_tokens, cached_tokens, max_tokens, emitted;
	time_t created;
};

struct server {
	const struct serve_opts *o;
	struct event_base *base;
	struct evhttp *http;
	struct live_cache *cache;
	struct pace *pace;
	struct event *iter_ev;
	int iter_pending;
	struct sreq *wait_head, *wait_tail;
	struct sreq *stalled;         /* held: stalled, or dropped and waiting to be cut */
	uint32_t nwaiting;
	struct sreq **running;
	uint32_t nrunning;
	uint32_t *ids;                /* prompt scratch, max_model_len */
	uint64_t next_id, fault_seq;
	/* counters for /metrics */
	uint64_t prompt_tokens_total, generation_tokens_total, success_total, bad_total,
		 fail_injected, stall_injected, drop_injected;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- replies ---- */

static void send_json(struct evhttp_request *req, int code, const char *reason,
		      struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, reason, body);
}

/* OpenAI-style error body. */
static void send_error(struct evhttp_request *req, int code, const char *type, const char *msg)
{
	struct evbuffer *b = evbuffer_new();
	json_t *j = json_pack("{s:{s:s,s:s,s:n,s:i}}", "error", "message", msg, "type", type,
			      "param", "code", code);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (b && s)
		evbuffer_add(b, s, strlen(s));
	send_json(req, code, code == 400 ? "Bad Request" : code == 404 ? "Not Found" :
		  code == 405 ? "Method Not Allowed" : "Internal Server Error", b);
	free(s);
	json_decref(j);
	if (b)
		evbuffer_free(b);
}

static void usage_json(struct evbuffer *b, const struct sreq *r, uint32_t completion)
{
	evbuffer_add_printf(b, "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
			    "\"total_tokens\":%u,\"prompt_tokens_details\":{\"cached_tokens\":%u}}",
			    r->prompt_tokens, completion, r->prompt_tokens + completion,
			    r->cached_tokens);
}

static void head_json(struct evbuffer *b, const struct sreq *r, const char *object)
{
	evbuffer_add_printf(b, "{\"id\":\"%s-%llu\",\"object\":\"%s\",\"created\":%lld,"
			    "\"model\":\"%s\",", r->chat ? "chatcmpl" : "cmpl",
			    (unsigned long long)r->id, object, (long long)r->created,
			    r->srv->o->served_name);
}

/* The SSE chunk carrying token number r->emitted (0-based). */
static void token_chunk(struct evbuffer *b, const struct sreq *r, int last)
{
	evbuffer_add(b, "data: ", 6);
	head_json(b, r, r->chat ? "chat.completion.chunk" : "text_completion");
	if (r->chat)
		evbuffer_add_printf(b, "\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\" x\"},"
				    "\"logprobs\":null,\"finish_reason\":%s}]}\n\n",
				    r->emitted == 0 ? "\"role\":\"assistant\"," : "",
				    last ? "\"length\"" : "null");
	else
		evbuffer_add_printf(b, "\"choices\":[{\"index\":0,\"text\":\" x\",\"logprobs\":null,"
				    "\"finish_reason\":%s}]}\n\n", last ? "\"length\"" : "null");
}

static void free_sreq(struct sreq *r)
{
	if (r->stall_ev)
		event_free(r->stall_ev);
	free(r);
}

/* At shutdown: frees a request that is still queued, running or held. A request whose
 * client went away is detached from any connection, so evhttp_free would not free it. */
static void abandon_sreq(struct sreq *r)
{
	if (r->req && !evhttp_request_get_connection(r->req)) {
		if (r->started)
			evhttp_send_reply_end(r->req); /* frees a detached request */
		else
			evhttp_request_free(r->req);
	}
	free_sreq(r);
}

/* The held list: stalled requests and dropped ones waiting for their connection to be
 * cut; whatever is still there at exit is freed. O(1). */
static void held_add(struct server *s, struct sreq *r)
{
	r->sprev = NULL;
	r->snext = s->stalled;
	if (s->stalled)
		s->stalled->sprev = r;
	s->stalled = r;
}

static void held_del(struct server *s, struct sreq *r)
{
	if (r->sprev)
		r->sprev->snext = r->snext;
	else
		s->stalled = r->snext;
	if (r->snext)
		r->snext->sprev = r->sprev;
	r->sprev = r->snext = NULL;
}

/* --drop-connection-rate, second half: the first bytes were written; cut the connection
 * (the client sees a broken stream, which it cannot retry) and release the request. */
static void drop_now(evutil_socket_t fd, short what, void *arg)
{
	struct sreq *r = arg;
	struct evhttp_connection *c = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;

	(void)fd;
	(void)what;
	held_del(r->srv, r);
	if (bev)
		shutdown(bufferevent_getfd(bev), SHUT_RDWR);
	evhttp_send_reply_end(r->req); /* fails to write; libevent frees req and connection */
	free_sreq(r);
}

/* First half: 10 ms after the partial answer was queued (it is written by then on
 * loopback), drop_now cuts the connection. */
static void drop_later(struct sreq *r)
{
	struct timeval tv = {0, 10000};

	r->srv->drop_injected++;
	if (!r->stall_ev)
		r->stall_ev = evtimer_new(r->srv->base, drop_now, r);
	else
		event_assign(r->stall_ev, r->srv->base, -1, 0, drop_now, r);
	if (!r->stall_ev) { /* out of memory: end the answer normally */
		evhttp_send_reply_end(r->req);
		free_sreq(r);
		return;
	}
	held_add(r->srv, r);
	evtimer_add(r->stall_ev, &tv);
}

/* Writes the whole non-streaming answer and frees r. */
static void send_full(struct sreq *r)
{
	struct evbuffer *b = evbuffer_new();

	head_json(b, r, r->chat ? "chat.completion" : "text_completion");
	if (r->chat)
		evbuffer_add_printf(b, "\"choices\":[{\"index\":0,\"message\":{\"role\":"
				    "\"assistant\",\"content\":\"");
	else
		evbuffer_add_printf(b, "\"choices\":[{\"index\":0,\"text\":\"");
	for (uint32_t i = 0; i < r->max_tokens; i++)
		evbuffer_add(b, " x", 2);
	evbuffer_add_printf(b, "\"%s,\"logprobs\":null,\"finish_reason\":\"length\"}],",
			    r->chat ? "}" : "");
	usage_json(b, r, r->max_tokens);
	evbuffer_add(b, "}", 1);
	if (r->drop && evhttp_request_get_connection(r->req)) {
		/* half the body, then the connection is cut */
		evbuffer_drain(b, evbuffer_get_length(b) / 2);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
				  "application/json");
		evhttp_send_reply_start(r->req, 200, "OK");
		evhttp_send_reply_chunk(r->req, b);
		evbuffer_free(b);
		drop_later(r);
		return;
	}
	r->srv->generation_tokens_total += r->max_tokens;
	r->srv->success_total++;
	if (evhttp_request_get_connection(r->req))
		send_json(r->req, 200, "OK", b);
	else
		evhttp_request_free(r->req);
	evbuffer_free(b);
	free_sreq(r);
}

/* Emits the next token of a streaming request; returns 1 when the request is finished
 * (and freed) or gone. */
static int stream_token(struct sreq *r)
{
	struct evhttp_request *req = r->req;
	struct evbuffer *b;
	int last = r->emitted + 1 == r->max_tokens;

	if (!evhttp_request_get_connection(req)) { /* the client went away */
		if (r->started)
			evhttp_send_reply_end(req); /* frees a detached request */
		else
			evhttp_request_free(req);
		free_sreq(r);
		return 1;
	}
	if (!r->started) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		evhttp_add_header(h, "Content-Type", "text/event-stream");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		evhttp_send_reply_start(req, 200, "OK");
		r->started = 1;
	}
	b = evbuffer_new();
	token_chunk(b, r, last);
	r->emitted++;
	r->srv->generation_tokens_total++;
	if (last) {
		if (r->include_usage) {
			evbuffer_add(b, "data: ", 6);
			head_json(b, r, r->chat ? "chat.completion.chunk" : "text_completion");
			evbuffer_add(b, "\"choices\":[],", 13);
			usage_json(b, r, r->emitted);
			evbuffer_add(b, "}\n\n", 3);
		}
		evbuffer_add(b, "data: [DONE]\n\n", 14);
	}
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
	if (r->drop) {
		drop_later(r);
		return 1;
	}
	if (!last)
		return 0;
	r->srv->success_total++;
	evhttp_send_reply_end(req);
	free_sreq(r);
	return 1;
}

/* ---- the engine ---- */

static void start_iteration(struct server *s);

static void run_now(struct sreq *r)
{
	if (!r->stream) {
		send_full(r);
		return;
	}
	while (!stream_token(r))
		;
}

static void enqueue(struct sreq *r)
{
	struct server *s = r->srv;

	if (pace_is_zero(s->pace)) {
		run_now(r);
		return;
	}
	r->next = NULL;
	if (s->wait_tail)
		s->wait_tail->next = r;
	else
		s->wait_head = r;
	s->wait_tail = r;
	s->nwaiting++;
	start_iteration(s);
}

/* Admits waiting requests and schedules the end of one iteration. O(running). */
static void start_iteration(struct server *s)
{
	struct kv_batch_shape shape = {0};
	double dt;
	struct timeval tv;

	if (s->iter_pending)
		return;
	while (s->wait_head && s->nrunning < s->o->max_num_seqs) {
		struct sreq *r = s->wait_head;

		s->wait_head = r->next;
		if (!s->wait_head)
			s->wait_tail = NULL;
		s->nwaiting--;
		s->running[s->nrunning++] = r;
	}
	if (!s->nrunning)
		return;
	for (uint32_t i = 0; i < s->nrunning; i++) {
		const struct sreq *r = s->running[i];

		if (!r->prefilled) {
			double p = r->prompt_tokens, c = r->cached_tokens;

			shape.prefill_tokens += r->prompt_tokens - r->cached_tokens;
			/* new query i (c < i <= p) attends to i keys */
			shape.prefill_attn_pairs += (p * (p + 1) - c * (c + 1)) / 2;
		} else {
			shape.decode_seqs++;
			shape.decode_ctx_tokens += r->prompt_tokens + r->emitted;
		}
	}
	dt = pace_iteration_s(s->pace, &shape);
	if (!(dt >= 0) || dt > 3600)
		dt = 0;
	tv.tv_sec = (time_t)dt;
	tv.tv_usec = (suseconds_t)((dt - (double)tv.tv_sec) * 1e6);
	/* the timer counts from now, not from when this loop pass began (libevent's cache) */
	event_base_update_cache_time(s->base);
	evtimer_add(s->iter_ev, &tv);
	s->iter_pending = 1;
}

static void on_iteration(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint32_t k = 0;

	(void)fd;
	(void)what;
	s->iter_pending = 0;
	for (uint32_t i = 0; i < s->nrunning; i++) {
		struct sreq *r = s->running[i];
		int done;

		r->prefilled = 1;
		if (r->stream) {
			done = stream_token(r);
		} else if (++r->emitted == r->max_tokens) {
			send_full(r);
			done = 1;
		} else {
			done = 0;
		}
		if (!done)
			s->running[k++] = r;
	}
	s->nrunning = k;
	start_iteration(s);
}

static void on_stall_over(evutil_socket_t fd, short what, void *arg)
{
	struct sreq *r = arg;

	(void)fd;
	(void)what;
	held_del(r->srv, r);
	enqueue(r);
}

/* ---- request parsing ---- */

/* Pseudo-tokens of a text: one id per whitespace-separated word. O(len). */
static uint32_t text_tokens(const char *t, uint32_t *ids, uint32_t max, uint32_t vocab)
{
	uint32_t n = 0;

	while (*t) {
		uint64_t h = 0xcbf29ce484222325ull;

		while (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')
			t++;
		if (!*t)
			break;
		while (*t && *t != ' ' && *t != '\n' && *t != '\t' && *t != '\r')
			h = (h ^ (unsigned char)*t++) * 0x100000001b3ull;
		if (n < max)
			ids[n] = (uint32_t)(synth_mix64(h) % vocab);
		n++;
	}
	return n;
}

/* Fills s->ids from the request; returns the prompt length or -1 with msg set. */
static long parse_prompt(struct server *s, json_t *body, int chat, char *msg, size_t msglen)
{
	uint32_t max = s->o->max_model_len + 1, n = 0;
	json_t *p;

	if (chat) {
		json_t *m = json_object_get(body, "messages");
		size_t i;
		json_t *it;

		if (!json_is_array(m) || !json_array_size(m)) {
			snprintf(msg, msglen, "'messages' must be a non-empty array");
			return -1;
		}
		json_array_foreach(m, i, it) {
			const char *role = json_string_value(json_object_get(it, "role"));
			json_t *content = json_object_get(it, "content"), *part;
			size_t k;

			if (!role || !(json_is_string(content) || json_is_array(content))) {
				snprintf(msg, msglen, "messages[%zu] needs a string 'role' and a "
					 "string or list 'content'", i);
				return -1;
			}
			n += text_tokens(role, s->ids + (n < max ? n : max), n < max ? max - n : 0,
					 s->o->vocab);
			if (json_is_string(content)) {
				n += text_tokens(json_string_value(content), s->ids + (n < max ? n : max),
						 n < max ? max - n : 0, s->o->vocab);
				continue;
			}
			/* OpenAI's content parts: [{"type": "text", "text": ...}, ...] */
			json_array_foreach(content, k, part) {
				const char *text = json_string_value(json_object_get(part, "text"));
				const char *type = json_string_value(json_object_get(part, "type"));

				if (!text || !type || strcmp(type, "text")) {
					snprintf(msg, msglen, "messages[%zu].content[%zu]: only text parts "
						 "are supported", i, k);
					return -1;
				}
				n += text_tokens(text, s->ids + (n < max ? n : max),
						 n < max ? max - n : 0, s->o->vocab);
			}
		}
		return n;
	}
	p = json_object_get(body, "prompt");
	if (json_is_array(p) && json_array_size(p) == 1 &&
	    (json_is_array(json_array_get(p, 0)) || json_is_string(json_array_get(p, 0))))
		p = json_array_get(p, 0); /* a batch of one */
	if (json_is_string(p))
		return text_tokens(json_string_value(p), s->ids, max, s->o->vocab);
	if (!json_is_array(p) || !json_array_size(p)) {
		snprintf(msg, msglen, "'prompt' must be a string or a non-empty list of token ids "
			 "(batches of several prompts are not supported)");
		return -1;
	}
	for (size_t i = 0; i < json_array_size(p); i++) {
		json_t *v = json_array_get(p, i);
		json_int_t x;

		if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 ||
		    x >= (json_int_t)s->o->vocab) {
			snprintf(msg, msglen, "prompt[%zu] is not a token id in [0, %u)", i,
				 s->o->vocab);
			return -1;
		}
		if (n < max)
			s->ids[n] = (uint32_t)x;
		n++;
	}
	return n;
}

/* The hot path of token-id prompts: finds '"prompt":[' and reads plain decimal ids into
 * s->ids without building a JSON tree; [*a0, *a1) is the array's content, cut out of the
 * body before jansson parses the rest. Returns the id count, or -1 to use jansson for
 * everything (anything unusual: whitespace inside numbers, signs, floats, ids out of the
 * vocabulary, nested arrays). O(body). */
static long fast_prompt(struct server *s, const char *b, size_t len, size_t *a0, size_t *a1)
{
	const char *p = memmem(b, len, "\"prompt\"", 8), *e = b + len;
	uint32_t max = s->o->max_model_len + 1;
	long n = 0;

	if (!p)
		return -1;
	for (p += 8; p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'); p++)
		;
	if (p == e || *p++ != ':')
		return -1;
	while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	if (p == e || *p++ != '[')
		return -1;
	*a0 = (size_t)(p - b);
	for (;;) {
		uint64_t v = 0;
		int digits = 0;

		while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
			p++;
		while (p < e && *p >= '0' && *p <= '9' && digits < 11) {
			v = v * 10 + (uint64_t)(*p++ - '0');
			digits++;
		}
		/* no digits, a leading zero ("00" is not JSON: jansson must refuse it), or an id
		 * out of the vocabulary: the full parse decides */
		if (!digits || (digits > 1 && p[-digits] == '0') || v >= s->o->vocab)
			return -1;
		if (n < max)
			s->ids[n] = (uint32_t)v;
		n++;
		while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
			p++;
		if (p == e)
			return -1;
		if (*p == ']')
			break;
		if (*p++ != ',')
			return -1;
	}
	*a1 = (size_t)(p - b);
	return n;
}

/* What replaces the token ids cut out by fast_prompt (JSON text, and its decoded value). */
#define CUT_MARK "\"\\u0001kvsim-ids\""
#define CUT_MARK_VALUE "\001kvsim-ids"

static double fault_draw(struct server *s, uint64_t seq, int which)
{
	uint64_t x = synth_mix64(s->o->seed ^ synth_mix64(seq * 4 + (uint64_t)which));

	return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* Parses a completion request body as the engine does: the token ids go to s->ids.
 * Returns 200 with *body_out (the caller decrefs), the prompt length and max_tokens, or an
 * HTTP status (400, 404) with msg and *type set. no_fast skips the token-id fast path
 * (tests compare both paths). O(body). */
static int parse_completion(struct server *s, const char *raw, size_t len, int chat,
			    int no_fast, json_t **body_out, long *n_out, json_int_t *max_out,
			    char *msg, size_t msglen, const char **type)
{
	size_t a0 = 0, a1 = 0;
	char *small;
	json_error_t jerr;
	json_t *body = NULL, *v;
	long fast_n, n;
	json_int_t max_tokens = 16;
	const char *model;

	*body_out = NULL;
	*type = "BadRequestError";
	fast_n = chat || no_fast ? -1 : fast_prompt(s, raw, len, &a0, &a1);
	if (fast_n >= 0 && (small = malloc(len + sizeof(CUT_MARK)))) {
		/* parse the rest with the id array replaced by a marker: unless the top-level
		 * prompt is exactly the marker, the ids came from elsewhere (a nested "prompt",
		 * a duplicate key) and jansson parses the original */
		memcpy(small, raw, a0);
		memcpy(small + a0, CUT_MARK, sizeof(CUT_MARK) - 1);
		memcpy(small + a0 + sizeof(CUT_MARK) - 1, raw + a1, len - a1);
		body = json_loadb(small, len - (a1 - a0) + sizeof(CUT_MARK) - 1, 0, &jerr);
		free(small);
		v = json_object_get(body, "prompt");
		if (!json_is_array(v) || json_array_size(v) != 1 ||
		    !json_is_string(json_array_get(v, 0)) ||
		    strcmp(json_string_value(json_array_get(v, 0)), CUT_MARK_VALUE)) {
			json_decref(body);
			body = NULL;
		}
	}
	if (!body) {
		fast_n = -1;
		body = json_loadb(raw, len, 0, &jerr);
	}
	if (!json_is_object(body)) {
		snprintf(msg, msglen, "malformed JSON body: %s", body ? "not an object" :
			 jerr.text);
		json_decref(body);
		return 400;
	}
	model = json_string_value(json_object_get(body, "model"));
	if (json_object_get(body, "model") && (!model || strcmp(model, s->o->served_name))) {
		snprintf(msg, msglen, "The model `%s` does not exist.", model ? model : "?");
		*type = "NotFoundError";
		json_decref(body);
		return 404;
	}
	if ((v = json_object_get(body, chat ? "max_completion_tokens" : "max_tokens")) ||
	    (chat && (v = json_object_get(body, "max_tokens")))) {
		if (!json_is_integer(v) || (max_tokens = json_integer_value(v)) < 1) {
			snprintf(msg, msglen, "max_tokens must be an integer >= 1");
			json_decref(body);
			return 400;
		}
	}
	n = fast_n >= 0 ? fast_n : parse_prompt(s, body, chat, msg, msglen);
	/* compared without adding: n + max_tokens could overflow (max_tokens up to 2^63) */
	if (n >= 0 && (n == 0 || n > (long)s->o->max_model_len ||
		       max_tokens > (json_int_t)s->o->max_model_len - n)) {
		snprintf(msg, msglen, "This model's maximum context length is %u tokens; the "
			 "request has %ld prompt tokens and max_tokens %lld", s->o->max_model_len, n,
			 (long long)max_tokens);
		if (n == 0)
			snprintf(msg, msglen, "the prompt is empty");
		n = -1;
	}
	if (n < 0) {
		json_decref(body);
		return 400;
	}
	*body_out = body;
	*n_out = n;
	*max_out = max_tokens;
	return 200;
}

long serve_parse_request(const struct serve_opts *o, const char *raw, size_t len, int chat,
			 int no_fast, uint32_t *ids, long long *max_tokens, char *msg,
			 size_t msglen)
{
	struct server s;
	json_t *body;
	json_int_t mt = 0;
	const char *type;
	long n = -1;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.ids = ids;
	if (parse_completion(&s, raw, len, chat, no_fast, &body, &n, &mt, msg, msglen, &type) !=
	    200)
		return -1;
	json_decref(body);
	*max_tokens = mt;
	return n;
}

static void handle_completion(struct server *s, struct evhttp_request *req, int chat)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char msg[256];
	const char *raw, *type;
	json_t *body;
	long n;
	json_int_t max_tokens;
	struct sreq *r;
	uint64_t seq;
	int status;

	raw = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	status = parse_completion(s, raw, len, chat, 0, &body, &n, &max_tokens, msg, sizeof(msg),
				  &type);
	if (status != 200) {
		s->bad_total++;
		send_error(req, status, type, msg);
		return;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		send_error(req, 500, "InternalServerError", "out of memory");
		json_decref(body);
		return;
	}
	r->srv = s;
	r->req = req;
	r->id = s->next_id++;
	r->chat = chat;
	r->stream = json_is_true(json_object_get(body, "stream"));
	r->include_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"),
							"include_usage"));
	r->prompt_tokens = (uint32_t)n;
	r->max_tokens = (uint32_t)max_tokens;
	r->created = time(NULL);
	json_decref(body);

	seq = s->fault_seq++;
	if (fault_draw(s, seq, 0) < s->o->fail_rate) {
		s->fail_injected++;
		send_error(req, 500, "InternalServerError", "injected failure (--fail-rate)");
		free_sreq(r);
		return;
	}
	r->drop = fault_draw(s, seq, 1) < s->o->drop_rate;
	s->prompt_tokens_total += r->prompt_tokens;
	r->cached_tokens = live_cache_request(s->cache, s->ids, r->prompt_tokens, now_s());
	if (fault_draw(s, seq, 2) < s->o->stall_rate) {
		struct timeval tv;

		s->stall_injected++;
		tv.tv_sec = (time_t)s->o->stall_s;
		tv.tv_usec = (suseconds_t)((s->o->stall_s - (double)tv.tv_sec) * 1e6);
		r->stall_ev = evtimer_new(s->base, on_stall_over, r);
		if (r->stall_ev) {
			evtimer_add(r->stall_ev, &tv);
			held_add(s, r);
			return;
		}
	}
	enqueue(r);
}

static void handle_metrics(struct server *s, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	const struct kv_cache_stats *st = live_cache_stats(s->cache);
	const char *m = s->o->served_name;
	double usage = (double)live_cache_resident(s->cache) /
		       (double)live_cache_capacity(s->cache);

#define COUNTER(name, help, v)                                                             \
	evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name " counter\n" name      \
			    "{model_name=\"%s\"} %llu\n", m, (unsigned long long)(v))
#define GAUGE(name, help, fmt, v)                                                          \
	evbuffer_add_printf(b, "# HELP " name " " help "\n# TYPE " name " gauge\n" name        \
			    "{model_name=\"%s\"} " fmt "\n", m, v)
	COUNTER("vllm:prefix_cache_queries_total", "Prefix cache queries, in tokens.",
		st->tokens);
	COUNTER("vllm:prefix_cache_hits_total", "Prefix cache hits, in tokens.", st->hit_tokens);
	GAUGE("vllm:num_requests_running", "Requests in the running batch.", "%u", s->nrunning);
	GAUGE("vllm:num_requests_waiting", "Requests waiting to be admitted.", "%u", s->nwaiting);
	GAUGE("vllm:kv_cache_usage_perc", "KV cache usage (1 = full).", "%.6f", usage);
	GAUGE("vllm:gpu_cache_usage_perc", "KV cache usage (1 = full).", "%.6f", usage);
	COUNTER("vllm:num_preemptions_total", "Preemptions (never, in the emulator).", 0);
	COUNTER("vllm:prompt_tokens_total", "Prompt tokens processed.", s->prompt_tokens_total);
	COUNTER("vllm:generation_tokens_total", "Tokens generated.", s->generation_tokens_total);
	COUNTER("vllm:request_success_total", "Requests finished.", s->success_total);
	COUNTER("kvsim:prefix_cache_evictions_total", "Blocks evicted.", st->evictions);
	COUNTER("kvsim:injected_failures_total", "Injected 5xx answers.", s->fail_injected);
	COUNTER("kvsim:injected_stalls_total", "Injected stalls.", s->stall_injected);
	COUNTER("kvsim:injected_drops_total", "Injected dropped connections.", s->drop_injected);
	COUNTER("kvsim:bad_requests_total", "Requests answered 400/404.", s->bad_total);
#undef COUNTER
#undef GAUGE
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char path[256];
	size_t n = strcspn(uri, "?");

	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri, n);
	path[n] = 0;
	if (!strcmp(path, "/v1/completions") || !strcmp(path, "/v1/chat/completions")) {
		if (cmd != EVHTTP_REQ_POST) {
			send_error(req, 405, "MethodNotAllowed", "use POST");
			return;
		}
		handle_completion(s, req, path[4] == 'c' && path[5] == 'h');
	} else if (!strcmp(path, "/health")) {
		evhttp_send_reply(req, 200, "OK", NULL);
	} else if (!strcmp(path, "/metrics")) {
		handle_metrics(s, req);
	} else if (!strcmp(path, "/reset_prefix_cache")) {
		struct kv_err err;

		if (live_cache_reset(s->cache, &err))
			send_error(req, 500, "InternalServerError", err.msg);
		else
			evhttp_send_reply(req, 200, "OK", NULL);
	} else if (!strcmp(path, "/v1/models")) {
		struct evbuffer *b = evbuffer_new();

		evbuffer_add_printf(b, "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":"
				    "\"model\",\"created\":%lld,\"owned_by\":\"kvsim\","
				    "\"max_model_len\":%u}]}", s->o->served_name,
				    (long long)time(NULL), s->o->max_model_len);
		send_json(req, 200, "OK", b);
		evbuffer_free(b);
	} else {
		send_error(req, 404, "NotFoundError", "no such route");
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static int write_port_file(const char *path, int port, struct kv_err *err)
{
	struct kv_outfile of;
	int rc;

	if ((rc = outfile_open(&of, path, err)))
		return rc;
	fprintf(of.f, "%d\n", port);
	return outfile_commit(&of, err);
}

int serve_run(const struct serve_opts *o, struct kv_err *err)
{
	struct server s;
	struct evhttp_bound_socket *hs;
	struct event *sigint_ev = NULL, *sigterm_ev = NULL;
	struct event_config *cfg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc, port, one = 1;

	memset(&s, 0, sizeof(s));
	s.o = o;
	signal(SIGPIPE, SIG_IGN);
	if ((rc = live_cache_create(&s.cache, o->policy, o->block_size, o->capacity_blocks,
				    o->max_model_len, err)))
		return rc;
	if ((rc = pace_create(&s.pace, o->cost, o->gpu, o->model, err)))
		goto out;
	rc = KV_ERUNTIME;
	s.ids = malloc(((size_t)o->max_model_len + 2) * sizeof(uint32_t));
	s.running = malloc((size_t)o->max_num_seqs * sizeof(*s.running));
	if (!s.ids || !s.running) {
		kv_fail(err, rc, "out of memory");
		goto out;
	}
	/* one thread: no locks; batch epoll_ctl changes per loop iteration */
	if ((cfg = event_config_new())) {
		event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		/* iterations are timers: libevent's default clock (CLOCK_MONOTONIC_COARSE)
		 * let them end up to a jiffy early (TTFT 47 ms at iter_ms=50) */
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		s.base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (!s.base || !(s.http = evhttp_new(s.base)) ||
	    !(s.iter_ev = evtimer_new(s.base, on_iteration, &s))) {
		kv_fail(err, rc, "cannot set up the event loop");
		goto out;
	}
	evhttp_set_max_body_size(s.http, (ev_ssize_t)(o->max_model_len * (uint64_t)
		BODY_BYTES_PER_TOKEN > MIN_BODY_BYTES ? o->max_model_len * (uint64_t)
		BODY_BYTES_PER_TOKEN : MIN_BODY_BYTES));
	evhttp_set_max_headers_size(s.http, MAX_HEADERS_BYTES);
	/* libevent's default: no timeout at all, so a client that sent half a request (or
	 * nothing) held its connection forever; answers in progress are not cut by it */
	evhttp_set_timeout(s.http, o->idle_timeout_s > 0 ? o->idle_timeout_s : 60);
	evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(s.http, on_request, &s);
	if (!(hs = evhttp_bind_socket_with_handle(s.http, o->host, (ev_uint16_t)o->port))) {
		kv_fail(err, rc, "cannot listen on %s:%d", o->host, o->port);
		goto out;
	}
	/* token chunks are small writes spaced in time: Nagle's algorithm (with the client's
	 * delayed ACKs) would hold them back. Accepted connections inherit TCP_NODELAY from
	 * the listening socket on Linux (checked with getsockopt on an accepted one). */
	setsockopt(evhttp_bound_socket_get_fd(hs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (getsockname(evhttp_bound_socket_get_fd(hs), (struct sockaddr *)&ss, &sl)) {
		kv_fail(err, rc, "getsockname failed");
		goto out;
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
	sigint_ev = evsignal_new(s.base, SIGINT, on_signal, s.base);
	sigterm_ev = evsignal_new(s.base, SIGTERM, on_signal, s.base);
	if (!sigint_ev || !sigterm_ev || evsignal_add(sigint_ev, NULL) ||
	    evsignal_add(sigterm_ev, NULL)) {
		kv_fail(err, rc, "cannot install signal handlers");
		goto out;
	}
	if (o->port_file && (rc = write_port_file(o->port_file, port, err)))
		goto out;
	fprintf(stderr, "kvsim serve: listening on http://%s:%d (model %s, capacity %llu blocks "
		"of %u tokens, policy %s, cost %s)\n", o->host, port, o->served_name,
		(unsigned long long)o->capacity_blocks, o->block_size, o->policy, o->cost);
	latency_hint();
	event_base_dispatch(s.base);
	rc = KV_OK;
out:
	/* requests still queued, running or held: those whose connection is open go with
	 * evhttp_free; those whose client went away are detached and freed here */
	for (struct sreq *r = s.wait_head, *nx; r; r = nx) {
		nx = r->next;
		abandon_sreq(r);
	}
	for (uint32_t i = 0; i < s.nrunning; i++)
		abandon_sreq(s.running[i]);
	for (struct sreq *r = s.stalled, *nx; r; r = nx) {
		nx = r->snext;
		abandon_sreq(r);
	}
	if (sigint_ev)
		event_free(sigint_ev);
	if (sigterm_ev)
		event_free(sigterm_ev);
	if (s.http)
		evhttp_free(s.http);
	if (s.iter_ev)
		event_free(s.iter_ev);
	if (s.base)
		event_base_free(s.base);
	free(s.running);
	free(s.ids);
	pace_destroy(s.pace);
	live_cache_destroy(s.cache);
	return rc;
}
