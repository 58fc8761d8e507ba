/* stream_event.c - one event of a streaming completion (see stream_event.h). */
#define _GNU_SOURCE
#include "stream_event.h"

#include <jansson.h>
#include <string.h>

/* Every "usage" key in [p, p+len) is followed by `: null`; 1 also when there is none. A
 * "usage" inside a string cannot match: its quotes would be escaped. */
static int usage_is_null(const char *p, size_t len)
{
	const char *end = p + len, *u = p;

	while ((u = memmem(u, (size_t)(end - u), "\"usage\"", 7))) {
		u += 7;
		while (u < end && (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r'))
			u++;
		if (u == end || *u != ':')
			continue; /* a value "usage", not a key */
		u++;
		while (u < end && (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r'))
			u++;
		if (end - u < 4 || memcmp(u, "null", 4))
			return 0;
	}
	return 1;
}

/* A JSON integer in [0, 2^32) into *out; 0 when it is not one. */
static int count_of(json_t *v, uint32_t *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return 0;
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)UINT32_MAX)
		return 0;
	*out = (uint32_t)n;
	return 1;
}

void stream_event_parse(const char *data, size_t len, int fast, struct stream_event *ev)
{
	json_t *j, *choices, *usage;
	json_error_t jerr;

	memset(ev, 0, sizeof(*ev));
	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		ev->done = 1;
		return;
	}
	if (fast && len >= 2 && data[0] == '{' && data[len - 1] == '}' &&
	    memmem(data, len, "\"choices\":[{", 12) && usage_is_null(data, len)) {
		ev->chunk = 1;
		return;
	}
	j = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(j)) {
		ev->bad = 1;
		json_decref(j);
		return;
	}
	choices = json_object_get(j, "choices");
	ev->chunk = json_is_array(choices) && json_array_size(choices) > 0;
	usage = json_object_get(j, "usage");
	if (json_is_object(usage)) {
		json_t *details = json_object_get(usage, "prompt_tokens_details");
		json_t *cached = json_object_get(details, "cached_tokens");

		ev->has_usage = count_of(json_object_get(usage, "prompt_tokens"),
					 &ev->prompt_tokens) &
				count_of(json_object_get(usage, "completion_tokens"),
					 &ev->completion_tokens);
		if (!ev->has_usage)
			ev->prompt_tokens = ev->completion_tokens = 0;
		ev->has_cached = count_of(cached, &ev->cached_tokens);
		if (!ev->has_usage || (cached && !json_is_null(cached) && !ev->has_cached))
			ev->bad = 1;
	}
	json_decref(j);
}
