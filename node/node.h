/* node.h: one ekunode: the composition root that builds every layer and
 * wires them together: the loop, listener, links, replication, admin.
 *
 * The layers below know nothing of struct node: conns get a struct
 * conn_env, links a struct link_config with struct link_ops, replication a
 * struct repl_io, the admin socket a struct admin_env, all built here.
 */
#ifndef EKUNODE_NODE_H
#define EKUNODE_NODE_H

#include <ev.h>

#include "config.h"
#include "net/conn.h"
#include "net/link.h"
#include "repl/repl.h"
#include "zone/zone.h"

struct admin;
struct node_linger;

#define NODE_MAX_UNKNOWN 16

/* An inbound failure we could not attribute to a configured peer. */
struct node_unknown {
	char remote[80];
	char claimed[64]; /* identity in the presented certificate, or "" */
	struct conn_err err;
};

struct node {
	struct ev_loop *loop;	  /* not owned (the default loop) */
	struct config cfg;	  /* owned */
	struct tls_ctx *tls;	  /* owned */
	struct conn_env conn_env; /* every conn's view of this node */
	struct repl_io repl_io;	  /* replication's view of the links */
	int listen_fd;		  /* owned */
	int lock_fd;		  /* owned: DATA/ekunode.lock, locked */
	ev_io listen_w;
	struct link *links;   /* owned, cfg.n_peers entries; peer i of
				 repl_io is links[i] */
	struct conn *pending; /* owned: inbound, not yet identified */
	struct node_unknown unknown[NODE_MAX_UNKNOWN]; /* ring */
	int n_unknown;
	int unknown_next;
	struct admin *admin; /* owned */
	struct repl *repl;   /* owned: the database and its replication */
	struct zone *zone;   /* owned: zone services (NULL: none) */
	struct node_linger *lingering; /* owned: sockets closing gracefully */
	ev_signal sigterm;
	ev_signal sigint;
	double started;
};

/* Load TLS material, bind the listener and admin socket, start dialling.
 * Takes ownership of cfg's contents (cfg is zeroed). On error nothing is
 * left open or bound and err says what to fix. n must not move while it
 * runs (the layers keep pointers into it). */
int node_start(struct node *n, struct ev_loop *loop, struct config *cfg,
	       char *err);
/* Close every connection and socket, remove the admin socket. */
void node_stop(struct node *n);

/* Close fd gracefully: send FIN, discard what the peer still sends for up
 * to a second, then close. A plain close() with unread bytes would send a
 * RST, and the peer could lose the TLS alert that explains the failure.
 * Takes ownership of fd. (conn_env.linger) */
void node_linger(struct node *n, int fd);

/* Record an inbound failure that is not attributed to a configured peer
 * (node.c's pending_closed says which are). */
void node_note_unknown(struct node *n, const struct conn *c);

/* Status of the node and its links as JSON (contract: see docs/) or as a
 * text table. Returned text is owned by the caller (ekl_free). */
char *node_status(struct node *n, bool json);

#endif
