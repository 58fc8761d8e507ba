/*
 * gz_ahead.h - a gzip stream inflated on a thread of its own, a few chunks ahead of its
 * reader.
 *
 * Loading a gzip trace spends about as long inflating as parsing; with the inflating on a
 * thread of its own, the loader's thread only parses (the interning has a thread too, see
 * load_pipe.h). The reader gets exactly the bytes, and at the same point the end or the
 * error, that gzread() on its own thread would have given: only where the work is done
 * changes.
 */
#ifndef KV_GZ_AHEAD_H
#define KV_GZ_AHEAD_H

#include <stddef.h>
#include <zlib.h>

struct gz_ahead;

/* What every gzread() of a trace asks for, on either thread. With zlib's buffer at half of
 * it (gzbuffer(gz, GZ_READ_BYTES / 2)), zlib reads or inflates straight into the caller's
 * buffer, with no copy of its own; and since zlib drops the bytes of a call that ends in an
 * error, reading alike on both threads is what makes an error show at the same line. */
#define GZ_READ_BYTES (256u << 10)

/* Starts inflating gz (already opened, and read from only by this module until
 * gz_ahead_stop). Returns NULL when no thread or memory is to be had: read gz directly. */
struct gz_ahead *gz_ahead_start(gzFile gz);

/* Reads into dst (room for cap >= GZ_READ_BYTES bytes) what one gzread(gz, dst,
 * GZ_READ_BYTES) would have: returns the count, 0 at the end of the stream, or -1 on an
 * error, with its text in msg (size msglen; as gz_read_error). */
int gz_ahead_read(struct gz_ahead *a, void *dst, size_t cap, char *msg, size_t msglen);

/* Stops the thread (at once, even mid-stream) and frees everything; gz stays open. */
void gz_ahead_stop(struct gz_ahead *a);

/* What went wrong in gz after gzread() gave n: 0 when nothing (n > 0, or n == 0 at a clean
 * end), else -1 with the text in msg. Also used by the loader when it reads gz itself. */
int gz_read_error(gzFile gz, int n, char *msg, size_t msglen);

#endif
