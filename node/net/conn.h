/* conn.h: one peer connection: TCP connect, TLS handshake, Hello, heartbeats.
 *
 * A conn is owned by whoever created it (node.c for inbound connections
 * until they are identified, then the peer's link; link.c for outbound
 * ones). It reports to its owner through two callbacks and never frees
 * itself: the owner calls conn_free(), also from inside `closed`.
 */
#ifndef EKUNODE_CONN_H
#define EKUNODE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "ekulab/wire/frame.h"
#include "ekulab/x509/policy.h"
#include "ekulab/x509/tls.h"

struct node;

/* Why a connection failed: a policy code (see policy.h) or a transport /
 * protocol code: connect-failed, timeout, closed, wrong-cluster,
 * identity-mismatch, unknown-peer, protocol, tls. */
struct conn_err {
	char code[32];
	int depth;	    /* certificate depth for purpose errors, else -1 */
	enum pol_side side; /* who rejected, for certificate codes */
	char message[256];
	double at; /* ev_now when it happened */
};

/*
 * States and transitions (conn_set_state() refuses any other move):
 *
 *   CONNECTING --on_connect_ready()---> HANDSHAKE   outbound only
 *   HANDSHAKE  --do_handshake()-------> HELLO       our Hello queued
 *   HELLO      --on_hello()-----------> UP          their Hello accepted
 *   any        --conn_fail()----------> CLOSED      owner told once
 */
enum conn_state {
	CONN_CONNECTING = 0,
	CONN_HANDSHAKE,
	CONN_HELLO,
	CONN_UP,
	CONN_CLOSED,
};
const char *conn_state_name(enum conn_state s);

struct conn;

struct conn_ops {
	/* Hello accepted: c->peer_name is set. */
	void (*up)(struct conn *c);
	/* The connection failed or closed; c->err says why. The owner must
	 * not touch c after freeing it. */
	void (*closed)(struct conn *c);
	/* Any other message on an UP connection (replication). The envelope
	 * is freed after the call. May be NULL: such messages are refused. */
	void (*frame)(struct conn *c, const Ekl__Envelope *env);
};

struct conn {
	struct node *node;	    /* not owned */
	const struct conn_ops *ops; /* not owned */
	void *owner;		    /* the owner's object, not owned */
	enum pol_side side;
	enum conn_state state;
	int fd;		      /* owned */
	struct tls_conn *tls; /* owned */
	char expect[64];      /* outbound: the peer we dialled */
	char remote[80];      /* "127.0.0.1:40312" */
	ev_io rio;
	ev_io wio;
	ev_timer idle; /* handshake timeout, then dead-link detector */
	ev_timer hb;   /* heartbeat sender */
	struct frame_dec dec;
	uint8_t *out; /* owned: bytes waiting to be written */
	size_t out_len;
	size_t out_cap;
	uint64_t hb_seq;
	double since; /* ev_now when the state last changed */
	/* From the peer's Hello. */
	char peer_name[64];
	char peer_version[32];
	char peer_role[4];
	struct conn_err err;
	struct conn *next; /* owner's list link */
};

/* Start an outbound connection to addr, expecting peer `expect`. The
 * callbacks run later, never before this returns. */
int conn_dial(struct node *n, const struct conn_ops *ops, void *owner,
	      const struct addr *addr, const char *expect, struct conn **out,
	      char *err);

/* Take over an accepted socket (fd is owned from now on, also on error). */
int conn_accept(struct node *n, const struct conn_ops *ops, void *owner, int fd,
		const char *remote, struct conn **out, char *err);

/* Queue one message and write what the socket takes. Returns 0, or a
 * negative code when it cannot be encoded (the conn is then closed). */
int conn_send(struct conn *c, const Ekl__Envelope *env);

/* Close with a reason (sends Bye when UP or in HELLO); the owner's `closed`
 * callback runs from the event loop, not from inside this call. */
void conn_close(struct conn *c, const char *code, const char *message);

/* Stop watchers, free everything. Accepts NULL. */
void conn_free(struct conn *c);

#endif
