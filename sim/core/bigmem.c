/* bigmem.c - large arrays with a huge-page hint (see bigmem.h). */
#define _GNU_SOURCE
#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define BIG_MIN_BYTES (4u << 20) /* below this, malloc's own heap is better */

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
	return hint(malloc(bytes ? bytes : 1), bytes);
}

void *kv_big_realloc(void *p, size_t bytes)
{
	return hint(realloc(p, bytes ? bytes : 1), bytes);
}
