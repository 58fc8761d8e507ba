/* bigmem.c - large arrays with a huge-page hint (see bigmem.h). */
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

static size_t big_size(size_t bytes)
{
	if (bytes >= BIG_MIN_BYTES && bytes < MMAP_SURE_BYTES)
		return MMAP_SURE_BYTES;
	return bytes ? bytes : 1;
}

static void *hint(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	if (p && bytes >= BIG_MIN_BYTES) {
		uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
		uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)4095;

		if (e > a)
			(void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* a hint: failure is fine */
	}
#else
	(void)bytes;
#endif
	return p;
}

void *kv_big_alloc(size_t bytes)
{
	return hint(malloc(big_size(bytes)), big_size(bytes));
}

void *kv_big_realloc(void *p, size_t bytes)
{
	return hint(realloc(p, big_size(bytes)), big_size(bytes));
}
