/* gz_ahead.c - gzip inflated on a thread of its own (see gz_ahead.h). */
#include "gz_ahead.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOT 4 /* slots of GZ_READ_BYTES in the ring */

struct slot {
	char *data;
	size_t n;      /* bytes in data */
	int end;       /* the stream ended after these bytes (failed: with an error) */
	int failed;
	char msg[256];
};

struct gz_ahead {
	gzFile gz;
	struct slot slot[NSLOT];
	size_t fill;   /* slot the thread inflates into next */
	size_t take;   /* slot the reader reads from */
	size_t full;   /* slots inflated and not yet read to the end */
	size_t off;    /* bytes of slot[take] read */
	int stop;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
};

int gz_read_error(gzFile gz, int n, char *msg, size_t msglen)
{
	int errnum = Z_OK;
	const char *m, *fdname;

	if (n > 0)
		return 0;
	m = gzerror(gz, &errnum);
	if (n == 0 && errnum == Z_OK)
		return 0;
	/* zlib's text is "<fd:N>: what": its name for the descriptor, then for an I/O error
	 * the strerror() of the errno of the failed call (errno itself is another thread's
	 * when the call that failed was made on it) */
	if (!strncmp(m, "<fd:", 4) && (fdname = strstr(m, ">: ")))
		m = fdname + 3;
	snprintf(msg, msglen, "%s%s", errnum == Z_ERRNO ? "" : "bad gzip data: ", m);
	return -1;
}

static void *inflating(void *arg)
{
	struct gz_ahead *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct slot *s;
		int n;

		while (a->full == NSLOT && !a->stop)
			pthread_cond_wait(&a->changed, &a->lock);
		if (a->stop)
			break;
		s = &a->slot[a->fill];
		pthread_mutex_unlock(&a->lock);
		n = gzread(a->gz, s->data, GZ_READ_BYTES);
		s->failed = gz_read_error(a->gz, n, s->msg, sizeof(s->msg));
		s->n = n > 0 ? (size_t)n : 0;
		s->end = n <= 0;
		pthread_mutex_lock(&a->lock);
		a->fill = (a->fill + 1) % NSLOT;
		a->full++;
		pthread_cond_broadcast(&a->changed);
		if (s->end)
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct gz_ahead *gz_ahead_start(gzFile gz)
{
	struct gz_ahead *a = calloc(1, sizeof(*a));
	int i;

	if (!a)
		return NULL;
	a->gz = gz;
	for (i = 0; i < NSLOT; i++)
		if (!(a->slot[i].data = malloc(GZ_READ_BYTES)))
			goto fail;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->changed, NULL);
	if (!pthread_create(&a->thread, NULL, inflating, a))
		return a;
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->changed);
fail:
	for (i = 0; i < NSLOT; i++)
		free(a->slot[i].data);
	free(a);
	return NULL;
}

int gz_ahead_read(struct gz_ahead *a, void *dst, size_t cap, char *msg, size_t msglen)
{
	struct slot *s;
	size_t k;

	pthread_mutex_lock(&a->lock);
	while (!a->full)
		pthread_cond_wait(&a->changed, &a->lock);
	s = &a->slot[a->take];
	pthread_mutex_unlock(&a->lock);
	if (a->off == s->n && s->end) { /* the end stays: a later call gives it again */
		if (!s->failed)
			return 0;
		snprintf(msg, msglen, "%s", s->msg);
		return -1;
	}
	k = s->n - a->off < cap ? s->n - a->off : cap; /* all of it, with cap as documented */
	memcpy(dst, s->data + a->off, k);
	a->off += k;
	if (a->off == s->n && !s->end) { /* give the slot back */
		pthread_mutex_lock(&a->lock);
		a->take = (a->take + 1) % NSLOT;
		a->full--;
		a->off = 0;
		pthread_cond_broadcast(&a->changed);
		pthread_mutex_unlock(&a->lock);
	}
	return (int)k;
}

void gz_ahead_stop(struct gz_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = 1;
	pthread_cond_broadcast(&a->changed);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->changed);
	for (int i = 0; i < NSLOT; i++)
		free(a->slot[i].data);
	free(a);
}
