/* conn.h: one peer connection: TCP connect, TLS handshake, Hello, heartbeats.
 *
 * A conn is the lowest layer of the node: it knows nothing of links,
 * replication or the node around it. Everything it needs from outside
 * comes in a struct conn_env that its creator builds once (node.c, or a
 * test) and that outlives every conn made with it.
 *
 * Ownership: a conn is owned by whoever created it (node.c for inbound
 * connections until they are identified, then the peer's link; link.c for
 * outbound ones). It reports to its owner through struct conn_ops and never
 * frees itself: the owner calls conn_free(), also from inside `closed`.
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

/* How long TCP connect + TLS handshake + Hello may take, by default. */
#define CONN_HANDSHAKE_MS 5000

/* What one read callback may take from a connection before it returns to
 * the loop: at most this many frames handled, or this many bytes read,
 * whichever comes first. What is left (in the socket, in OpenSSL or in the
 * frame decoder) is taken in later loop iterations, one budget each, so a
 * peer that never stops sending cannot starve the other connections, the
 * timers or the admin socket. */
#define CONN_READ_FRAMES 64
#define CONN_READ_BYTES	 (64u << 10)

/* What a conn needs from the node: its loop and TLS identity, the values
 * its Hello carries and checks, its timers, and two questions it cannot
 * answer itself. Not owned by any conn; must outlive them all. */
struct conn_env {
	struct ev_loop *loop; /* not owned */
	struct tls_ctx *tls;  /* not owned: our certificates and rules */
	/* Our Hello. */
	const char *name;    /* not owned: our node name */
	const char *cluster; /* not owned: a Hello from another is refused */
	const char *version; /* not owned: our software version, "X15.3.2" */
	char role;	     /* 'c' or 'e' */
	/* POL_ENFORCE: a Hello must name the identity in the peer's
	 * certificate (identity-mismatch otherwise). */
	enum pol_mode verify;
	int heartbeat_ms; /* interval between our heartbeats once UP */
	int dead_ms;	  /* UP with no frame for this long: timeout */
	/* Connect + TLS + Hello must finish this long after the conn was
	 * made (CONN_HANDSHAKE_MS): a deadline, not an idle timer. */
	int handshake_ms;
	/* Is `name` (from a Hello) one of our configured peers? Unknown ones
	 * are refused with unknown-peer. */
	bool (*known_peer)(void *arg, const char *name);
	/* Close fd gracefully (conn_free hands over every socket on which
	 * TLS ran, so the peer receives our last alert or Bye instead of a
	 * reset). Takes ownership of fd. NULL: close() at once. */
	void (*linger)(void *arg, int fd);
	void *arg; /* passed to the callbacks above */
};

/* Why a connection failed: a policy code (see policy.h) or a transport /
 * protocol code: connect-failed, timeout, closed, wrong-cluster,
 * identity-mismatch, unknown-peer, protocol, tls, or the code of a peer's
 * Bye (e.g. shutdown). */
struct conn_err {
	char code[32];
	int depth;	    /* certificate depth for purpose errors, else -1 */
	enum pol_side side; /* who rejected, for certificate codes */
	char message[256];
	double at; /* ev_now when it happened */
};

/*
 * States and transitions (conn_set_state() refuses any other move; the
 * table is conn_transition_ok()):
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
/* Is from -> to one of the moves above? */
bool conn_transition_ok(enum conn_state from, enum conn_state to);

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
	const struct conn_env *env; /* not owned */
	const struct conn_ops *ops; /* not owned */
	void *owner;		    /* the owner's object, not owned */
	enum pol_side side;
	enum conn_state state;
	enum conn_state failed_in; /* the state conn_fail() found (CLOSED:
				      not failed yet) */
	int fd;			   /* owned */
	struct tls_conn *tls;	   /* owned */
	char expect[64];	   /* outbound: the peer we dialled */
	char remote[80];	   /* "127.0.0.1:40312" */
	ev_io rio;
	ev_io wio;
	ev_timer idle;	 /* handshake deadline, then dead-link detector */
	ev_timer hb;	 /* heartbeat sender */
	ev_timer resume; /* read budget used up: go on from the loop */
	struct frame_dec dec;
	uint8_t *out; /* owned: bytes waiting to be written */
	size_t out_len;
	size_t out_cap;
	uint64_t hb_seq;    /* heartbeats sent */
	uint64_t frames_in; /* frames received and handled (any kind) */
	double since;	    /* ev_now when the state last changed */
	/* From the peer's Hello. */
	char peer_name[64];
	char peer_version[32];
	char peer_role[4];
	struct conn_err err;
	struct conn *next; /* owner's list link */
};

/* Start an outbound connection to addr, expecting peer `expect`. The
 * callbacks run later, never before this returns. */
int conn_dial(const struct conn_env *env, const struct conn_ops *ops,
	      void *owner, const struct addr *addr, const char *expect,
	      struct conn **out, char *err);

/* Take over an accepted, non-blocking socket (fd is owned from now on,
 * also on error). */
int conn_accept(const struct conn_env *env, const struct conn_ops *ops,
		void *owner, int fd, const char *remote, struct conn **out,
		char *err);

/* Queue one message and write what the socket takes. Returns 0;
 * EKL_ECLOSED unless the conn is in HELLO or UP; or another negative code
 * when it cannot be encoded (the conn is then closed). */
int conn_send(struct conn *c, const Ekl__Envelope *env);

/* Close with a reason (sends Bye when UP or in HELLO); the owner's `closed`
 * callback runs from the event loop, not from inside this call. */
void conn_close(struct conn *c, const char *code, const char *message);

/* Stop watchers, hand the socket to env->linger, free everything. Accepts
 * NULL. */
void conn_free(struct conn *c);

#endif
