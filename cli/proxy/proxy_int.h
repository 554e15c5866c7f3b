/* proxy_int.h: what the proxy's files share; callers use proxy.h.
 *
 * The files: route.c (listeners, connections, forwarding), fault.c (fault
 * kinds, their parsing, and what they make of a route: blocking, latency
 * scheduling, the bandwidth bucket), ctl.c (the control commands, and the
 * handler the control socket's line server calls), proxy.c (lifecycle,
 * helpers). The control socket itself is a linesrv (lib/wire).
 *
 * The happy path: each route listens on its own address; an accepted
 * connection (the "client" side, node FROM) gets a non-blocking connect to
 * the route's target (node TO); once it completes, bytes flow both ways.
 * Each direction is a FIFO of chunks stamped with the time they may leave
 * (now, or now + latency); the writer sends due chunks as far as the
 * route's token bucket (bandwidth) allows.
 *
 * The failure modes: the target refuses (the client side is reset); a side
 * closes (its FIN is passed on after the queued bytes) or fails (the other
 * side is reset); a side stops reading (its queue reaches PROXY_DIR_MAX and
 * we stop reading the other side: backpressure); accept() runs out of
 * descriptors (the listener pauses for a moment). The control socket is
 * a linesrv (lib/wire): over-long lines, bad prefixes and clients that
 * stop reading are handled there; bad commands get an "err" response
 * naming what is wrong.
 *
 * Invariants:
 *  1. A route's effective settings (route->eff) are a function of the
 *     fault list only; route_apply() recomputes them and brings every
 *     connection of the route in line, whenever a fault covering the route
 *     is added or removed.
 *  2. Bytes leave a direction in the order they arrived: due times are
 *     non-decreasing along a queue (dir->last_due).
 *  3. dir->queued is the number of unsent bytes in the queue and never
 *     exceeds PROXY_DIR_MAX by more than one read.
 *  4. A pconn is on its route's list from pconn_new() until pconn_close(),
 *     which frees it; no callback touches it afterwards.
 *
 * Connection states (enum pconn_state), and who moves them:
 *
 *   accept, route open        -> CONNECTING   on_accept()
 *   accept, route blackholed  -> DISCARDING   on_accept()
 *   CONNECTING  --on_connect_done()--> FORWARDING   target accepted
 *   CONNECTING  --pconn_hold()-------> HELD         blackhole added
 *   FORWARDING  --pconn_hold()-------> HELD         blackhole added
 *   HELD        --pconn_resume()-----> CONNECTING or FORWARDING (as held)
 *   any         --pconn_close()------> CLOSED (freed): refused, EOF both
 *               ways, errors, down/reset, blackhole removed (DISCARDING),
 *               shutdown
 *
 * pconn_set_state() refuses any other move.
 */
#ifndef EKULAB_CLI_PROXY_INT_H
#define EKULAB_CLI_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "proxy.h"

#define PROXY_CHUNK    16384	    /* most bytes read at once */
#define PROXY_DIR_MAX  (256 * 1024) /* queued bytes per direction */
#define PROXY_MAX_MS   600000	    /* latency and jitter bound (10 min) */
#define PROXY_MAX_RATE (1ull << 40) /* bandwidth bound, bytes/s */
#define ACCEPT_BATCH   64
#define ACCEPT_PAUSE   0.5  /* seconds the listener rests on EMFILE */
#define DUE_SLACK      1e-4 /* a chunk this close to due is due */

enum fault_kind {
	FAULT_DOWN,
	FAULT_BLACKHOLE,
	FAULT_RESET,
	FAULT_LATENCY,
	FAULT_BANDWIDTH,
};

#define N_KINDS 5
/* "down" "blackhole" "reset" "latency" "bandwidth", by enum fault_kind. */
extern const char *const fault_kind_names[N_KINDS];

/* What blocks a route, mildest first: the harshest fault wins. */
enum block { BLOCK_NONE, BLOCK_BLACKHOLE, BLOCK_DOWN, BLOCK_RESET };

/* "open" "blackhole" "down" "reset". */
const char *block_name(enum block b);

enum pconn_state {
	PC_CONNECTING,
	PC_FORWARDING,
	PC_HELD,
	PC_DISCARDING,
	PC_CLOSED,
};

enum close_how { CLOSE_FIN, CLOSE_RST };

/* Bytes waiting in one direction; leave at `due` (ev_now time). */
struct chunk {
	struct chunk *next;
	ev_tstamp due;
	size_t len;
	size_t off; /* bytes already sent */
	char data[];
};

/* One socket of a forwarded connection. */
struct pside {
	struct pconn *conn; /* not owned */
	int fd;		    /* owned; -1 when none */
	ev_io rio;
	ev_io wio;
};

enum { DIR_TO_TARGET, DIR_TO_CLIENT };

/* One direction: bytes read from src wait in the queue, then go to dst. */
struct pdir {
	struct pconn *conn; /* not owned */
	int which;	    /* DIR_TO_TARGET or DIR_TO_CLIENT */
	struct pside *src;  /* not owned: a side of conn */
	struct pside *dst;
	struct chunk *head; /* owned */
	struct chunk *tail;
	size_t queued;	    /* unsent bytes in the queue */
	ev_tstamp last_due; /* keeps the order under jitter */
	bool eof;	    /* src sent FIN */
	bool shut;	    /* FIN passed on to dst */
	ev_timer lat;	    /* the head chunk becomes due */
	ev_timer bw;	    /* the bucket holds enough tokens again */
};

struct pconn {
	struct route *route; /* not owned */
	unsigned long long id;
	enum pconn_state state;
	enum pconn_state held_in; /* the state to resume (HELD only) */
	struct pside client;	  /* accepted from FROM */
	struct pside target;	  /* dialled to TO */
	struct pdir dir[2];	  /* DIR_TO_TARGET, DIR_TO_CLIENT */
	struct pconn *next;
};

/* A route's settings as the current faults make them (invariant 1). */
struct route_eff {
	enum block block;
	unsigned latency_ms; /* sum over latency faults */
	unsigned jitter_ms;
	uint64_t rate; /* bytes/s per direction; 0 = unlimited */
};

/* Token bucket, one per direction of a route (shared by its conns). */
struct bucket {
	double tokens;
	ev_tstamp at; /* last refill */
};

struct route {
	struct proxy *proxy; /* not owned */
	size_t index;	     /* in proxy->routes */
	char name[PROXY_ROUTE_MAX + 1];
	struct addr listen;
	struct addr target;
	char listen_text[80];
	char target_text[80];
	int fd; /* owned: the listener */
	ev_io accept_w;
	ev_timer accept_pause;
	struct pconn *conns; /* owned */
	size_t n_conns;
	unsigned long long next_id;
	unsigned long long accepted;
	unsigned long long refused; /* closed at once by down/reset */
	unsigned long long bytes[2];
	struct route_eff eff;
	struct bucket bucket[2];
};

struct fault {
	char name[PROXY_NAME_MAX + 1];
	enum fault_kind kind;
	bool all; /* "*": every route */
	bool *on; /* owned: n_routes flags (when !all) */
	unsigned ms;
	unsigned jitter_ms;
	uint64_t rate;
	struct fault *next;
};

struct linesrv;

struct proxy {
	struct ev_loop *loop;  /* not owned */
	struct route **routes; /* owned, each owned */
	size_t n_routes;
	struct fault *faults;	 /* owned, in the order added */
	struct linesrv *control; /* owned; NULL until proxy_control_start */
	uint64_t rng;
};

/* ---- helpers (proxy.c) ---- */

/* xorshift64*: jitter only needs to look random. */
uint64_t proxy_rng_next(struct proxy *p);
/* (Re)arm a one-shot timer `after` seconds from now (0 when negative). */
void proxy_timer_arm(struct ev_loop *loop, ev_timer *t, ev_tstamp after);
/* Start or stop w as `on` says (nothing when it already is). */
void proxy_io_want(struct ev_loop *loop, ev_io *w, bool on);
/* A node or fault name: 1 to PROXY_NAME_MAX of [A-Za-z0-9._-]. */
bool proxy_valid_name(const char *s, size_t n);

/* Growable text for responses; oom once an allocation failed. */
struct sbuf {
	char *buf; /* owned */
	size_t len;
	size_t cap;
	bool oom;
};

void sb_printf(struct sbuf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- routes and connections (route.c) ---- */

struct route *route_find(struct proxy *p, const char *name);
/* Invariant 1: recompute r's settings and bring its connections in
 * line. */
void route_apply(struct proxy *p, struct route *r);
/* Close r's connections and listener, free r. Accepts NULL. */
void route_free(struct proxy *p, struct route *r);

/* ---- faults (fault.c) ---- */

bool fault_covers(const struct fault *f, const struct route *r);
struct fault *fault_find(struct proxy *p, const char *name);
/* Accepts NULL. */
void fault_free(struct fault *f);
/* r's settings as the fault list makes them (invariant 1). */
void route_compute(struct proxy *p, struct route *r, struct route_eff *e);
/* "A>B,C>D" or "*" into f; an error (false) names every unknown route in
 * out. Takes list apart (strtok_r). */
bool fault_parse_routes(struct proxy *p, struct fault *f, char *list,
			struct sbuf *out);
/* The KEY=VALUE parameters of a latency or bandwidth fault, the rest of a
 * strtok_r walk on " " from save; false with the reason in out. */
bool fault_parse_params(struct fault *f, char *save, struct sbuf *out);
/* "NAME KIND routes=A>B,... [ms=N jitter=N | rate=N]" */
void fault_describe(struct proxy *p, const struct fault *f, struct sbuf *out);
/* When a chunk read now may leave: now + latency +- jitter, never before
 * the chunk ahead of it (invariant 2). */
ev_tstamp fault_due_time(struct pdir *d, ev_tstamp now);
/* How many of `want` bytes d may send now under the route's rate; 0 arms
 * d's bandwidth timer for when enough tokens are in. */
size_t bucket_allow(struct pdir *d, size_t want, ev_tstamp now);
void bucket_spend(struct pdir *d, size_t n);

#endif
