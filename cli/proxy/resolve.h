/* resolve.h: the address behind a route's target name, looked up off the
 * proxy's event loop.
 *
 * The swarm runtime gives the proxy targets as NAME:PORT (node services
 * resolved by the engine's DNS), and the address behind a name changes
 * when a node's task is replaced. A lookup can block for seconds (a
 * service with no task is forwarded to the host's upstream DNS, which a
 * lab network may not reach), so it never runs on the loop: a thread per
 * name looks it up every RESOLVE_EVERY_MS and keeps the latest answer.
 * The loop only reads that answer (resolve_get), which never blocks. */
#ifndef EKULAB_CLI_PROXY_RESOLVE_H
#define EKULAB_CLI_PROXY_RESOLVE_H

#include "ekulab/core/addr.h"

#define RESOLVE_EVERY_MS 100
/* An answer older than this (the last lookups are still waiting) is not
 * used: the task behind the name may have been replaced meanwhile. */
#define RESOLVE_FRESH_MS 2000

struct resolve;

/* Start looking up host:port (IPv4, TCP). Returns 0 and *out (owned by
 * the caller: resolve_free), or EKL_ENOMEM / EKL_EIO with err. */
int resolve_start(const char *host, const char *port, struct resolve **out,
		  char *err);

/* The latest answer: 0 and *a when the last lookup found an address no
 * older than RESOLVE_FRESH_MS; else EKL_EADDR with err saying why (not
 * looked up yet, the lookup's error, or stale). Never blocks. */
int resolve_get(struct resolve *r, struct addr *a, char *err);

/* Stop: the thread ends after its lookup in progress (it is not waited
 * for) and frees what it shares. Accepts NULL. */
void resolve_free(struct resolve *r);

#endif
