/* admin.h: the node's admin socket (Unix, 0600) and its commands.
 *
 * The protocol (request lines, responses, limits) is the admin protocol of
 * lib/wire (ekulab/wire/adminproto.h), served by its line server
 * (linesrv.h): any number of requests per connection, responses in
 * request order, also when a write's answer waits for a group commit or
 * for peers. Commands: see admin_commands in admin.c and docs/node.md.
 */
#ifndef EKUNODE_ADMIN_H
#define EKUNODE_ADMIN_H

#include <stdbool.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "ekulab/x509/admintls.h"

struct admin;
struct link;
struct repl;

/* What the admin socket serves, handed over by the node (node.c). The
 * pointers are borrowed and must outlive the admin. */
struct admin_env {
	struct ev_loop *loop;	  /* not owned */
	const char *name;	  /* not owned: this node's name */
	struct repl *repl;	  /* not owned: the database, writes */
	const struct link *links; /* not owned: n_links, for xStatus Links */
	int n_links;
	/* xStatus Cluster: the node's status as JSON or a text table, owned
	 * by the caller (ekl_free); NULL when out of memory. */
	char *(*status)(void *arg, bool json);
	void *arg;
	/* The network admin channel, or tls_listen NULL: the same commands
	 * over TLS 1.3 on this TCP address, to clients whose certificate
	 * meets the admin rule (admintls.h) only. Borrowed. */
	const struct addr *tls_listen;
	const char *tls_listen_text;
	struct admintls_files tls_files;
};

/* Bind path (0600) and serve it on env->loop (env is copied), and listen
 * on env->tls_listen when set. A stale socket left by a dead node is
 * replaced; a live one, or a non-socket file, is an error; so is a TLS
 * file that cannot be loaded or an address that cannot be bound. */
int admin_start(const struct admin_env *env, const char *path,
		struct admin **out, char *err);
/* The TCP port of the network admin channel (its --admin-listen with port
 * 0 picks one), or 0 when there is none. */
int admin_tls_port(const struct admin *a);
/* Close every client and remove the socket file. Accepts NULL. */
void admin_stop(struct admin *a);

/* One pending response, in its client's order (a linesrv reply slot).
 * Whoever holds it completes it exactly once; if the client went away
 * meanwhile, completing it just frees it. */
struct admin_reply;
void admin_reply_done(struct admin_reply *r, bool ok, const char *body);

#endif
