/*
 * fuzz_serve_request.c - libFuzzer target: the request parser of `kvsim serve`
 * (serve_parse_request in sim/live/serve.c), on arbitrary request bodies.
 *
 * Byte 0 picks the endpoint (even: /v1/completions, odd: /v1/chat/completions); the rest
 * is the body. Checked: no crash, leak or undefined behaviour (ASan/UBSan/LSan); a request
 * the parser accepts has a prompt of 1..max_model_len tokens, every id in [0, vocab), and
 * prompt + max_tokens within max_model_len; and, for completions, the token-id fast path
 * gives exactly what the full JSON parse gives (same verdict, length, ids, max_tokens).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define MAX_LEN 256
#define VOCAB 1000

static void check_accepted(long n, const uint32_t *ids, long long max_tokens)
{
	if (n < 1 || n > MAX_LEN || max_tokens < 1 || max_tokens > MAX_LEN - n)
		abort();
	for (long i = 0; i < n; i++)
		if (ids[i] >= VOCAB)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_opts o = {.served_name = "m", .max_model_len = MAX_LEN, .vocab = VOCAB};
	uint32_t ids_fast[MAX_LEN + 1], ids_full[MAX_LEN + 1];
	long long mt_fast = 0, mt_full = 0;
	char msg[256];
	long n_fast, n_full;
	int chat;

	if (size < 1)
		return 0;
	chat = data[0] & 1;
	data++, size--;
	n_fast = serve_parse_request(&o, (const char *)data, size, chat, 0, ids_fast, &mt_fast,
				     msg, sizeof(msg));
	if (n_fast >= 0)
		check_accepted(n_fast, ids_fast, mt_fast);
	if (chat)
		return 0;
	n_full = serve_parse_request(&o, (const char *)data, size, chat, 1, ids_full, &mt_full,
				     msg, sizeof(msg));
	if (n_fast != n_full || (n_fast >= 0 && (mt_fast != mt_full ||
						 memcmp(ids_fast, ids_full,
							(size_t)n_fast * sizeof(uint32_t)))))
		abort();
	return 0;
}
