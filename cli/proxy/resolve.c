/* resolve.c: a target name looked up by a thread of its own (resolve.h).
 *
 * Ownership: the struct is shared by the loop and the thread, counted by
 * `refs` under `mu` (2 while both hold it); whichever lets go last frees
 * it, so resolve_free never waits for a lookup that may take seconds. */
#include "resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

struct resolve {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled by resolve_free: stop sleeping */
	int refs;	   /* under mu */
	bool stop;	   /* under mu */
	char host[256];
	char port[8];
	/* The latest answer, under mu. */
	int rc;	       /* 0, or the lookup's EAI_* code; -1 not yet */
	struct addr a; /* when rc == 0 */
	struct timespec at;
};

static void put_ref(struct resolve *r)
{
	bool last;

	pthread_mutex_lock(&r->mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		ekl_free(r);
	}
}

static double age_ms(const struct timespec *at)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - at->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - at->tv_nsec) / 1e6;
}

static void *run(void *arg)
{
	struct resolve *r = arg;
	struct addrinfo hints, *res;
	struct timespec until;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	for (;;) {
		res = NULL;
		rc = getaddrinfo(r->host, r->port, &hints, &res);
		pthread_mutex_lock(&r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		r->rc = rc == 0 && res == NULL ? EAI_NONAME : rc;
		if (r->rc == 0 && res->ai_addrlen <= sizeof(r->a.ss)) {
			memcpy(&r->a.ss, res->ai_addr, res->ai_addrlen);
			r->a.len = res->ai_addrlen;
		}
		clock_gettime(CLOCK_MONOTONIC, &r->at);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += RESOLVE_EVERY_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!r->stop &&
		       pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
			;
		rc = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (res != NULL)
			freeaddrinfo(res);
		if (rc)
			break;
	}
	put_ref(r);
	return NULL;
}

int resolve_start(const char *host, const char *port, struct resolve **out,
		  char *err)
{
	struct resolve *r = ekl_calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t t;
	int e;

	*out = NULL;
	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->port, sizeof(r->port), "%s", port);
	r->rc = -1;
	r->refs = 2;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, run, r);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		ekl_free(r);
		return ekl_errf(err, EKL_EIO, "looking up %s: no thread: %s",
				host, strerror(e));
	}
	*out = r;
	return 0;
}

int resolve_get(struct resolve *r, struct addr *a, char *err)
{
	int rc;

	pthread_mutex_lock(&r->mu);
	rc = r->rc;
	if (rc == 0 && age_ms(&r->at) > RESOLVE_FRESH_MS)
		rc = EAI_AGAIN; /* the lookups since are still waiting */
	else if (rc == 0)
		*a = r->a;
	pthread_mutex_unlock(&r->mu);
	if (rc == 0)
		return 0;
	return ekl_errf(err, EKL_EADDR, "%s: %s", r->host,
			rc < 0		  ? "not looked up yet"
			: rc == EAI_AGAIN ? "no answer from the name service"
					  : gai_strerror(rc));
}

void resolve_free(struct resolve *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	put_ref(r);
}
