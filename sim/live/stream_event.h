/*
 * stream_event.h - one server-sent event of an OpenAI-compatible streaming completion, as
 * replay reads it: the "[DONE]" marker, a token chunk (a non-empty "choices" array), and
 * the usage object (prompt, completion and cached prompt tokens) that vLLM and SGLang send
 * in the last chunk when asked for it (stream_options.include_usage).
 */
#ifndef KV_LIVE_STREAM_EVENT_H
#define KV_LIVE_STREAM_EVENT_H

#include <stddef.h>
#include <stdint.h>

struct stream_event {
	uint8_t done;       /* the "[DONE]" marker */
	uint8_t chunk;      /* a JSON object with a non-empty "choices" array */
	uint8_t bad;        /* not a JSON object, or a usage count that is not a whole number
			     * in [0, 2^32) (such a count is left out, never wrapped) */
	uint8_t has_usage;  /* "usage" is an object: prompt_tokens, completion_tokens */
	uint8_t has_cached; /* usage.prompt_tokens_details.cached_tokens is a count */
	uint32_t prompt_tokens, completion_tokens, cached_tokens;
};

/* Reads one event's data (len bytes). With `fast`, an event whose every "usage" key is
 * followed by null (or that has none) and that holds "choices":[{ is taken as a token chunk
 * without building a JSON tree - most events of a stream; it never skips a usage object,
 * however the server spaces its JSON. O(len). */
void stream_event_parse(const char *data, size_t len, int fast, struct stream_event *ev);

#endif
