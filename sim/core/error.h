/*
 * error.h - status codes and the error message every library function fills.
 *
 * Library code never prints and never exits: it returns a status and writes one line into a
 * struct kv_err ("FILE:LINE: what is wrong" for bad input). Only main() prints it and turns the
 * status into the process exit code (0 ok, 1 runtime failure, 2 bad input or usage).
 */
#ifndef KV_ERROR_H
#define KV_ERROR_H

#include <stddef.h>

enum kv_status {
	KV_OK = 0,
	KV_ERUNTIME = 1, /* out of memory, I/O failure, a peer that went away */
	KV_EINPUT = 2,   /* bad input or usage: the user can fix it */
};

struct kv_err {
	char msg[1024];
};

/* Formats the message into err (if not NULL) and returns status, so that callers can write
 * `return kv_fail(err, KV_EINPUT, "%s:%zu: ...", ...)`. */
int kv_fail(struct kv_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an existing message: "prefix: old message". */
void kv_err_prefix(struct kv_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
