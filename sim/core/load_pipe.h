/*
 * load_pipe.h - the second stage of loading a JSONL trace: interning.
 *
 * The loader (trace_load.c) parses records and hands each record's raw hash ids to the
 * pipe, which interns them into chain nodes (intern.h) and fills the trace's node[],
 * node_parent[] and node_hash[] arrays. With `threaded`, the interning runs on a thread of
 * its own while the loader parses the next records: parsing and interning each take about
 * half of a load, and each touches its own fresh memory. Records are interned in the order
 * they were added, so node numbers are the same either way (first-appearance order).
 *
 * Batches of ids (512 KiB each, reused) travel from the loader to the interning thread through
 * a small ring; the loader waits when the ring is full, so memory does not grow with the
 * trace. The parser writes each record's ids straight into the batch being filled.
 */
#ifndef KV_LOAD_PIPE_H
#define KV_LOAD_PIPE_H

#include <stdint.h>

#include "error.h"
#include "trace.h"

struct load_pipe;

/* A pipe filling t (whose node arrays must be empty). With max_ids > 0, a bound on the
 * trace's block accesses (a plain file of S bytes has at most S/2 ids), node[] is reserved
 * once for that many (address space only) and populated by the loader's thread as it
 * parses, which takes that work off the interning thread. */
int load_pipe_start(struct load_pipe **out, struct kv_trace *t, int threaded, size_t max_ids);

/* Where the next record's ids go: room for *n ids in the batch being filled. NULL when the
 * interning has failed: stop and call load_pipe_finish(). */
uint64_t *load_pipe_space(struct load_pipe *p, size_t *n);

/* The record on `line` did not fit: makes more room (hands the batch over, or grows an
 * empty one). Returns 0, or -1 as load_pipe_space(). */
int load_pipe_more(struct load_pipe *p, uint64_t line);

/* Appends the record whose n ids were written at load_pipe_space(), with its source line
 * (for errors), and gives the offset of its first id in t->node. Returns -1, appending
 * nothing, when the ids would pass the bound given to load_pipe_start() (the file grew
 * while it was read). */
int load_pipe_commit(struct load_pipe *p, uint32_t n, uint64_t line, uint64_t *blk_off);

/* Waits until every record added is interned (or, with `discard`, drops what is left),
 * stores t->node, t->nblk, t->nnodes, t->node_parent and t->node_hash, and frees the pipe.
 * Returns KV_OK, or an error "PATH:LINE: ..." (too many chain nodes, out of memory). */
int load_pipe_finish(struct load_pipe *p, int discard, const char *path, struct kv_err *err);

/* Tests only: when set, called on the loader's thread each time it has released the ring's
 * lock to populate arrays ahead of the interning thread (LOAD_PIPE_HOOK_UNLOCKED), and on
 * the interning thread before each batch (LOAD_PIPE_HOOK_BATCH): a test stretches these. */
enum { LOAD_PIPE_HOOK_UNLOCKED, LOAD_PIPE_HOOK_BATCH };
extern void (*load_pipe_test_hook)(int where);

#endif
