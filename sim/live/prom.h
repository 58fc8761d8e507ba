/*
 * prom.h - reading counters out of Prometheus text exposition format (what vLLM's /metrics
 * serves): "name{label="v",...} value [timestamp]" lines, "#" comments.
 */
#ifndef KV_LIVE_PROM_H
#define KV_LIVE_PROM_H

/* Sums the values of every sample of metric `name` (all label sets) in text. Returns the
 * number of samples found (0: absent, *out = 0). Malformed lines are skipped. O(text). */
int prom_sum(const char *text, const char *name, double *out);

#endif
