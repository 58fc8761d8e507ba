/* bigmem.c - large arrays with huge-page and populate hints (see bigmem.h). */
#define _GNU_SOURCE
#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define BIG_MIN_BYTES (1u << 20) /* below this, malloc's own heap is better */
/* glibc serves requests above its mmap threshold (at most 32 MiB on 64-bit) with mmap and
 * grows those with mremap, which moves page tables instead of copying. Rounding a big
 * request up to this size forces that path; the pages never touched cost no memory. */
#define MMAP_SURE_BYTES ((32u << 20) + 4096)
#define PREFAULT_STEP_BYTES (4u << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static size_t big_size(size_t bytes)
{
	if (bytes >= BIG_MIN_BYTES && bytes < MMAP_SURE_BYTES)
		return MMAP_SURE_BYTES;
	return bytes ? bytes : 1;
}

/* Applies advice to the whole pages inside [p+from, p+to). */
static void advise(void *p, size_t from, size_t to, int advice)
{
	uintptr_t a = ((uintptr_t)p + from + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + to) & ~(uintptr_t)4095;

	if (p && e > a)
		(void)madvise((void *)a, e - a, advice); /* a hint: failure is fine */
}

static void *hint(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	if (bytes >= BIG_MIN_BYTES)
		advise(p, 0, big_size(bytes), MADV_HUGEPAGE);
#endif
	return p;
}

void *kv_big_alloc(size_t bytes)
{
	void *p = hint(malloc(big_size(bytes)), bytes);

	if (bytes >= BIG_MIN_BYTES)
		advise(p, 0, bytes, MADV_POPULATE_WRITE);
	return p;
}

void *kv_big_realloc(void *p, size_t bytes)
{
	return hint(realloc(p, big_size(bytes)), bytes);
}

void kv_big_prefault(void *p, size_t from, size_t to)
{
	if (to - from >= BIG_MIN_BYTES / 4)
		advise(p, from, to, MADV_POPULATE_WRITE);
}

void kv_big_prefault_to(void *p, size_t elem, size_t *done, size_t need, size_t cap)
{
	size_t to;

	if (need <= *done)
		return;
	to = *done + PREFAULT_STEP_BYTES / elem;
	if (to < need)
		to = need;
	if (to > cap)
		to = cap;
	kv_big_prefault(p, *done * elem, to * elem);
	*done = to;
}

void kv_big_trim(void *p, size_t used, size_t cap)
{
	if (cap > used && cap - used >= 4096)
		advise(p, used, cap, MADV_DONTNEED);
}
