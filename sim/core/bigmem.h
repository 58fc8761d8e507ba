/*
 * bigmem.h - large arrays (one entry per block access or per chain node).
 *
 * malloc/realloc plus a transparent-huge-page hint (madvise MADV_HUGEPAGE) on the page-aligned
 * part of the array: a trace of millions of nodes otherwise pays one page fault per 4 KiB on
 * first touch, which on a virtual machine costs more than filling the array. Memory is
 * released with free(). Costs: as malloc/realloc, plus one madvise call.
 */
#ifndef KV_BIGMEM_H
#define KV_BIGMEM_H

#include <stddef.h>

void *kv_big_alloc(size_t bytes);
void *kv_big_realloc(void *p, size_t bytes);

#endif
