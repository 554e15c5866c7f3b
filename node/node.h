/* node.h: one ekunode: the event loop, listener, links and admin socket. */
#ifndef EKUNODE_NODE_H
#define EKUNODE_NODE_H

#include <ev.h>

#include "config.h"
#include "net/conn.h"
#include "net/link.h"

struct admin;
struct node_linger;
struct repl;

#define NODE_MAX_UNKNOWN 16

/* An inbound failure we could not attribute to a configured peer. */
struct node_unknown {
	char remote[80];
	char claimed[64]; /* identity in the presented certificate, or "" */
	struct conn_err err;
};

struct node {
	struct ev_loop *loop; /* not owned (the default loop) */
	struct config cfg;    /* owned */
	struct tls_ctx *tls;  /* owned */
	int listen_fd;	      /* owned */
	ev_io listen_w;
	struct link *links;   /* owned, cfg.n_peers entries */
	struct conn *pending; /* owned: inbound, not yet identified */
	struct node_unknown unknown[NODE_MAX_UNKNOWN]; /* ring */
	int n_unknown;
	int unknown_next;
	struct admin *admin; /* owned */
	struct repl *repl;   /* owned: the database and its replication */
	struct node_linger *lingering; /* owned: sockets closing gracefully */
	ev_signal sigterm;
	ev_signal sigint;
	double started;
};

/* Load TLS material, bind the listener and admin socket, start dialling.
 * Takes ownership of cfg's contents (cfg is zeroed). On error nothing is
 * left open or bound and err says what to fix. */
int node_start(struct node *n, struct ev_loop *loop, struct config *cfg,
	       char *err);
/* Close every connection and socket, remove the admin socket. */
void node_stop(struct node *n);

/* Close fd gracefully: send FIN, discard what the peer still sends for up
 * to a second, then close. A plain close() with unread bytes would send a
 * RST, and the peer could lose the TLS alert that explains the failure.
 * Takes ownership of fd. */
void node_linger(struct node *n, int fd);

/* Record an inbound failure that names no configured peer. */
void node_note_unknown(struct node *n, const struct conn *c);

/* Status of the node and its links as JSON (contract: see docs/) or as a
 * text table. Returned text is owned by the caller (ekl_free). */
char *node_status(struct node *n, bool json);

#endif
