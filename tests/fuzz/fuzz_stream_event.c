/*
 * fuzz_stream_event.c - libFuzzer target: replay's reading of one streamed completion event
 * (sim/live/stream_event.c), the bytes a server sends as an SSE event's data.
 *
 * Checked: the fast path (no JSON tree) never changes what the full parse reads from the
 * event other than claiming a token chunk - above all it never drops a usage object, whose
 * cached_tokens is the measured hit; every count read equals the one jansson parses from the
 * same bytes and lies in [0, 2^32); and nothing leaks (LSan).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream_event.h"

/* The JSON count at usage[key] (or usage.prompt_tokens_details[key]) as jansson reads it. */
static long long count(json_t *usage, const char *key, int in_details)
{
	json_t *o = in_details ? json_object_get(usage, "prompt_tokens_details") : usage;
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_event fast, slow;
	const char *s = (const char *)data;
	json_error_t jerr;
	json_t *j, *usage;

	stream_event_parse(s, size, 1, &fast);
	stream_event_parse(s, size, 0, &slow);
	if (fast.done != slow.done || fast.has_usage != slow.has_usage ||
	    fast.prompt_tokens != slow.prompt_tokens ||
	    fast.completion_tokens != slow.completion_tokens ||
	    fast.has_cached != slow.has_cached || fast.cached_tokens != slow.cached_tokens)
		abort();
	if (memcmp(&fast, &slow, sizeof(fast)) && !(fast.chunk && !fast.bad && !fast.has_usage))
		abort(); /* the fast path may only claim a token chunk */
	if (slow.done)
		return 0;
	j = json_loadb(s, size, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		if (!slow.bad)
			abort(); /* not an object must be flagged */
		return 0;
	}
	usage = json_object_get(j, "usage");
	if (slow.bad && !json_is_object(usage))
		abort(); /* an object is flagged only for its usage counts */
	if (slow.has_usage &&
	    (!json_is_object(usage) || count(usage, "prompt_tokens", 0) != slow.prompt_tokens ||
	     count(usage, "completion_tokens", 0) != slow.completion_tokens))
		abort();
	if (slow.has_cached && count(usage, "cached_tokens", 1) != slow.cached_tokens)
		abort();
	if (json_is_object(usage) && !slow.has_usage && !slow.bad)
		abort(); /* a usage object whose counts were not read must be flagged */
	json_decref(j);
	return 0;
}
