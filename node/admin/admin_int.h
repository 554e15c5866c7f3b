/* admin_int.h: what the admin files share: struct admin.
 *
 * Internal to node/admin/admin*.c; everyone else uses admin.h. The files:
 * admin.c (the command table, its handlers, admin_start/admin_stop) and
 * admin_tls.c (the network admin channel, --admin-listen: the TLS
 * listener and one relay per connection into the line server).
 *
 * Ownership: struct admin owns the line server, the TLS context, the TLS
 * listening socket and the TLS connections; env's pointers are borrowed.
 */
#ifndef EKUNODE_ADMIN_INT_H
#define EKUNODE_ADMIN_INT_H

#include <ev.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "ekulab/wire/linesrv.h"

struct admin_tconn;

struct admin {
	struct admin_env env; /* a copy; its pointers are borrowed */
	struct linesrv *srv;  /* owned */
	/* The network admin channel (--admin-listen), or tls_fd -1. */
	SSL_CTX *tls; /* owned */
	int tls_fd;   /* owned */
	char tls_listen[96];
	ev_io tls_accept_w;
	struct admin_tconn *tconns; /* owned: TLS connections */
};

/* admin_tls.c. Listen on a->env.tls_listen (set) and serve each client
 * whose certificate meets the admin rule through a->srv. On failure
 * a->tls may be set and a->tls_fd is -1; admin_tls_stop frees either. */
int admin_tls_start(struct admin *a, char *err);
/* Close every TLS connection and the listener, and free the TLS context.
 * Does nothing for a channel never started (tls_fd -1, tls NULL). */
void admin_tls_stop(struct admin *a);

#endif
