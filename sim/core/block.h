/*
 * block.h - the block record: one per chain node, owned by a cache.
 *
 * A cache keeps one record per node of the trace, indexed by node number, so the hot loop
 * works on dense indices with no lookups. The record holds what the cache core needs
 * (residency, the intrusive list of resident children for prefix closure, pin count) and a
 * small policy area where an eviction policy keeps its own per-block state (intrusive list
 * links, counters, a timestamp): no side tables. The chain parent and depth are read from
 * the trace (trace->node_parent, trace_node_depth()).
 *
 * 40 bytes.
 */
#ifndef KV_BLOCK_H
#define KV_BLOCK_H

#include <stdint.h>

union kv_policy_area {
	uint32_t u32[6];
	uint64_t u64[3];
	double f64[3];
	float f32[6];
};

struct kv_block {
	/* Resident children of this node, linked through next_sib/prev_sib. Maintained for
	 * every node, resident or not, so an orphan inserted before its parent (tail-first
	 * touch) is found when the parent is evicted. */
	uint32_t first_child;
	uint32_t next_sib;
	uint32_t prev_sib;
	uint16_t refcnt;    /* running requests pinning the block (timed mode); 0 in cache mode */
	uint8_t resident;
	uint8_t flags;      /* free for the policy */
	union kv_policy_area pol;
};

#endif
