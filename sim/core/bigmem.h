/*
 * bigmem.h - large arrays (one entry per block access or per chain node).
 *
 * On this project's machines (virtual machines) the first touch of fresh memory is the most
 * expensive part of loading a trace: page faults taken one page at a time cost 10-30 times
 * more than asking the kernel to populate the range in one call (MADV_POPULATE_WRITE, Linux
 * 5.14+), measured with a 256 MiB memset (docs/mrc-kvt-bench.md). So:
 *  - kv_big_alloc() allocates an array that will be filled entirely and populates it;
 *  - kv_big_realloc() grows an array without populating (the tail may stay unused); its
 *    owner populates ahead of use with kv_big_prefault();
 *  - both add a transparent-huge-page hint, and round a request of 1 MiB or more up so that
 *    glibc maps it with mmap and grows it with mremap (no copy); untouched pages cost no
 *    memory.
 * Memory is released with free(). Every hint may fail (older kernels): behaviour is the
 * same, only slower. Costs: as malloc/realloc plus one madvise call per array or range.
 */
#ifndef KV_BIGMEM_H
#define KV_BIGMEM_H

#include <stddef.h>

void *kv_big_alloc(size_t bytes);
void *kv_big_realloc(void *p, size_t bytes);

/* Populates bytes [from, to) of an array from kv_big_alloc/kv_big_realloc. */
void kv_big_prefault(void *p, size_t from, size_t to);

/* Keeps an array populated ahead of use: when `need` elements exceed *done, populates up
 * to max(need, *done + 4 MiB worth) elements, at most cap, and updates *done. */
void kv_big_prefault_to(void *p, size_t elem, size_t *done, size_t need, size_t cap);

/* Gives back the populated pages of an array past its first `used` bytes (up to `cap`
 * bytes): what kv_big_prefault_to() populated ahead and was never used. */
void kv_big_trim(void *p, size_t used, size_t cap);

#endif
