/*
 * fuzz_sweep.c - libFuzzer target: the parsers of `kvsim sweep` (sim/sweep/plan.c,
 * merge.c), which read plan files and job results that users and Slurm hand back.
 *
 * Byte 0 picks the parser, the rest is its input:
 *   0 sweep_split_words: accepted => every word, quoted with sweep_quote_word and joined
 *     with blanks, splits back to the same words (round trip);
 *   1 sweep_quote_word: the input cut at NULs into up to 8 words; quoted and joined they
 *     must split back to exactly those words;
 *   2 sweep_parse_selection (50 jobs): accepted => sweep_print_ranges of the bitmap parses
 *     back to the same bitmap;
 *   3 sweep_csv_record: walks every record; fields lie inside the text, *pos only advances;
 *   4 sweep_plan_read on the bytes as a file: no crash or leak; a failure names the path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "merge.h"
#include "plan.h"

static void free_words(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Quotes and joins words, splits the line, and checks the words come back. */
static void round_trip(char **words, int n)
{
	char line[16384] = "";
	char **back = NULL;
	int nback = 0;
	struct kv_err err = {{0}};
	size_t off = 0;

	if (n == 0)
		return; /* an empty command is refused by design */
	for (int i = 0; i < n; i++) {
		if (i)
			line[off++] = ' ', line[off] = 0;
		if (sweep_quote_word(words[i], line + off, sizeof(line) - off))
			return; /* too long for the buffer: nothing to check */
		off = strlen(line);
	}
	if (sweep_split_words(line, &back, &nback, &err)) {
		fprintf(stderr, "quoted line '%s' does not split: %s\n", line, err.msg);
		abort();
	}
	if (nback != n) {
		fprintf(stderr, "'%s' split into %d words, want %d\n", line, nback, n);
		abort();
	}
	for (int i = 0; i < n; i++)
		if (strcmp(back[i], words[i])) {
			fprintf(stderr, "word %d: '%s' came back as '%s'\n", i, words[i], back[i]);
			abort();
		}
	free_words(back, nback);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	struct kv_err err = {{0}};

	if (!size || size > 8192)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	switch (data[0] % 5) {
	case 0: {
		char **w = NULL;
		int n = 0;

		if (!sweep_split_words(s, &w, &n, &err)) {
			round_trip(w, n);
			free_words(w, n);
		} else if (!err.msg[0]) {
			abort();
		}
		break;
	}
	case 1: {
		char *words[8];
		int n = 0;
		size_t i = 0;

		/* words may be empty: an empty word quotes as '' */
		while (i < size - 1 && n < 8) {
			words[n++] = s + i;
			i += strlen(s + i) + 1;
		}
		/* blanks and empty words are dropped by the splitter only when unquoted, and
		 * quote_word quotes them: the round trip must hold for every word */
		round_trip(words, n);
		break;
	}
	case 2: {
		unsigned char *sel = NULL, *again = NULL;
		char *text = NULL;
		size_t tlen = 0;
		FILE *f;

		if (sweep_parse_selection(s, 50, &sel, &err)) {
			if (!err.msg[0])
				abort();
			break;
		}
		f = open_memstream(&text, &tlen);
		sweep_print_ranges(f, sel, 50);
		fclose(f);
		if (tlen && sweep_parse_selection(text, 50, &again, &err)) {
			fprintf(stderr, "ranges '%s' of '%s' do not parse back\n", text, s);
			abort();
		}
		if (tlen && memcmp(sel, again, 51))
			abort();
		free(again);
		free(text);
		free(sel);
		break;
	}
	case 3: {
		const char *fields[64];
		size_t lens[64], pos = 0, len = strlen(s);
		int n;

		while ((n = sweep_csv_record(s, &pos, fields, lens, 64)) > 0) {
			for (int i = 0; i < n; i++)
				if (fields[i] < s || fields[i] + lens[i] > s + len)
					abort();
			if (pos > len)
				abort();
		}
		break;
	}
	case 4: {
		struct sweep_plan p = {0};
		char path[64];
		int fd = memfd_create("plan", 0);

		if (fd < 0)
			abort();
		if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!sweep_plan_read(path, &p, &err))
			sweep_plan_free(&p);
		else if (strncmp(err.msg, path, strlen(path)))
			abort();
		close(fd);
		break;
	}
	}
	free(s);
	return 0;
}
