/* proxy_int.h: what the proxy's files share; callers use proxy.h.
 *
 * The files: route.c (listeners, connections, forwarding), fault.c (fault
 * kinds, their parsing, and what they make of a connection: blocking,
 * latency scheduling, the bandwidth bucket, slicing, byte limits), ctl.c
 * (the control commands, and the handler the control socket's line server
 * calls), proxy.c (lifecycle, helpers). The control socket itself is a
 * linesrv (lib/wire).
 *
 * The happy path: each route listens on its own address; an accepted
 * connection (the "client" side, node FROM) gets a non-blocking connect to
 * the route's target (node TO); once it completes, bytes flow both ways.
 * Each direction (upstream: FROM -> TO, DIR_TO_TARGET; downstream: TO ->
 * FROM, DIR_TO_CLIENT) is a FIFO of chunks stamped with the time they may
 * leave (now, or now + latency); the writer sends due chunks as far as the
 * route's token bucket (bandwidth), the slicer's pieces and the byte limit
 * allow.
 *
 * Which faults act on a connection: every fault covering its route, each
 * with probability `toxicity`, drawn once per connection (when it is
 * accepted, or when the fault is added); a fault acts on the direction it
 * names (both by default). conn->applies holds the draws.
 *
 * The failure modes: the target refuses (the client side is reset); a side
 * closes (its FIN is passed on after the queued bytes, slow_close later)
 * or fails (the other side is reset); a side stops reading (its queue
 * reaches PROXY_DIR_MAX and we stop reading the other side: backpressure);
 * accept() runs out of descriptors (the listener pauses for a moment). The
 * control socket is a linesrv (lib/wire): over-long lines, bad prefixes and
 * clients that stop reading are handled there; bad commands get an "err"
 * response naming what is wrong.
 *
 * Invariants:
 *  1. A connection's effective settings (dir[].eff) are a function of the
 *     faults that apply to it (conn->applies) only; conn_apply()
 *     recomputes them and brings the connection in line whenever a fault
 *     covering its route is added or removed. A route's report (route->eff)
 *     is a function of the fault list only (route_compute).
 *  2. Bytes leave a direction in the order they arrived: due times are
 *     non-decreasing along a queue (dir->last_due).
 *  3. dir->queued is the number of unsent bytes in the queue and never
 *     exceeds PROXY_DIR_MAX by more than one read.
 *  4. A pconn is on its route's list from pconn_new() until pconn_close(),
 *     which frees it; no callback touches it afterwards.
 *  5. A direction sends nothing past its byte limit: dir->sent never
 *     exceeds dir->eff.limit_end; reaching it closes the connection.
 *  6. A fault occupies one slot (fault->slot < PROXY_MAX_FAULTS) from
 *     `fault add` to `fault remove`; bit `slot` of conn->applies is
 *     cleared on every connection when it is removed.
 *
 * Connection states (enum pconn_state), and who moves them:
 *
 *   accept, route open        -> CONNECTING   on_accept()
 *   accept, both ways blackholed -> DISCARDING on_accept()
 *   CONNECTING  --on_connect_done()--> FORWARDING   target accepted
 *   CONNECTING  --pconn_hold()-------> HELD         blackhole both ways
 *   FORWARDING  --pconn_hold()-------> HELD         blackhole both ways
 *   HELD        --pconn_resume()-----> CONNECTING or FORWARDING (as held)
 *   any         --pconn_close()------> CLOSED (freed): refused, EOF both
 *               ways, errors, down/reset, a timeout's end, a byte limit,
 *               blackhole removed (DISCARDING), shutdown
 *
 * pconn_set_state() refuses any other move. A direction can also be held
 * on its own (dir->held: a one-way blackhole, or a timeout) or cut (a
 * one-way down: its destination got a FIN, what its source sends is
 * discarded) while the connection forwards the other way.
 */
#ifndef EKULAB_CLI_PROXY_INT_H
#define EKULAB_CLI_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "proxy.h"

#define PROXY_CHUNK	 16384	      /* most bytes read at once */
#define PROXY_DIR_MAX	 (256 * 1024) /* queued bytes per direction */
#define PROXY_MAX_MS	 600000	      /* latency, jitter, timeout bound */
#define PROXY_MAX_RATE	 (1ull << 40) /* bandwidth bound, bytes/s */
#define PROXY_MAX_BYTES	 (1ull << 50) /* limit_data bound */
#define PROXY_MAX_PIECE	 65536	      /* slicer piece bound */
#define PROXY_MAX_US	 10000000     /* slicer delay bound (10 s) */
#define PROXY_MAX_FAULTS 64	      /* faults in force at once */
#define ACCEPT_BATCH	 64
#define ACCEPT_PAUSE	 0.5  /* seconds the listener rests on EMFILE */
#define DUE_SLACK	 1e-4 /* a chunk this close to due is due */

enum fault_kind {
	FAULT_DOWN,
	FAULT_BLACKHOLE,
	FAULT_RESET,
	FAULT_LATENCY,
	FAULT_BANDWIDTH,
	FAULT_SLOW_CLOSE,
	FAULT_TIMEOUT,
	FAULT_SLICER,
	FAULT_LIMIT_DATA,
};

#define N_KINDS 9
/* "down" "blackhole" "reset" "latency" "bandwidth" "slow_close" "timeout"
 * "slicer" "limit_data", by enum fault_kind. */
extern const char *const fault_kind_names[N_KINDS];

/* Which bytes of a connection a fault acts on. */
enum fault_dir {
	FDIR_BOTH,	 /* both ways (the default) */
	FDIR_UPSTREAM,	 /* FROM -> TO: what the dialling node sends */
	FDIR_DOWNSTREAM, /* TO -> FROM: what the dialled node sends back */
};
/* "both" "upstream" "downstream"; parse: 0 or -1. */
const char *fault_dir_name(enum fault_dir d);
int fault_dir_parse(const char *s, enum fault_dir *out);

/* What blocks one direction of a connection, mildest first: the harshest
 * fault wins. */
enum block {
	BLOCK_NONE,
	BLOCK_BLACKHOLE,
	BLOCK_TIMEOUT,
	BLOCK_DOWN,
	BLOCK_RESET
};

/* A route's state as `routes` reports it: the harshest fault of toxicity 1
 * that cuts its connections (whatever its direction), mildest first. */
enum route_state {
	RS_OPEN,
	RS_BLACKHOLE,
	RS_LIMIT_DATA,
	RS_TIMEOUT,
	RS_DOWN,
	RS_RESET,
};
/* "open" "blackhole" "limit_data" "timeout" "down" "reset". */
const char *route_state_name(enum route_state s);

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

/* One direction's settings as the faults that apply to it make them
 * (invariant 1). */
struct dir_eff {
	enum block block;
	unsigned timeout_ms; /* BLOCK_TIMEOUT: close after; 0 = never */
	unsigned latency_ms; /* sum over latency faults */
	unsigned jitter_ms;
	uint64_t rate;		/* bytes/s; 0 = unlimited (smallest wins) */
	unsigned slow_close_ms; /* sum over slow_close faults */
	unsigned slice_avg;	/* slicer (the finest wins); 0 = none */
	unsigned slice_var;
	unsigned slice_delay_us;
	uint64_t limit_end; /* close once `sent` reaches it; UINT64_MAX:
			       no limit */
};

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
	bool held;	    /* blackhole (one way) or timeout: nothing moves */
	bool cut;	    /* one-way down: dst got a FIN, src is discarded */
	struct dir_eff eff;
	uint64_t sent;	     /* bytes sent to dst */
	size_t piece_left;   /* slicer: bytes left in the current piece */
	ev_tstamp piece_due; /* slicer: when the next piece may start */
	ev_tstamp fin_ready; /* slow_close: when the FIN was ready to
				leave (src EOF, queue empty); 0 = not yet */
	ev_timer lat;	     /* the head chunk or the next piece is due */
	ev_timer bw;	     /* the bucket holds enough tokens again */
	ev_timer fin;	     /* slow_close: the FIN may leave */
};

struct pconn {
	struct route *route; /* not owned */
	unsigned long long id;
	enum pconn_state state;
	enum pconn_state held_in; /* the state to resume (HELD only) */
	struct pside client;	  /* accepted from FROM */
	struct pside target;	  /* dialled to TO */
	struct pdir dir[2];	  /* DIR_TO_TARGET, DIR_TO_CLIENT */
	uint64_t applies;	  /* bit s: the fault in slot s acts on it */
	/* dir[d].sent when the fault in slot s began to act (limit_data) */
	uint64_t base[PROXY_MAX_FAULTS][2];
	unsigned tmo_ms; /* the timeout armed, 0 = none */
	ev_timer tmo;	 /* a timeout fault ends the connection */
	struct pconn *next;
};

/* A route's settings as the faults covering it would make them if every
 * one acted on every connection both ways: what `routes` reports. */
struct route_eff {
	enum route_state state;
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
	/* A target given as NAME:PORT (the swarm runtime's service names):
	 * the address behind the name changes when the node's task is
	 * replaced, so each connection takes the resolver's latest answer
	 * (resolve.h; owned). "" and NULL when numeric. */
	char target_host[64];
	char target_port[8];
	struct resolve *resolver;
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
	unsigned slot; /* < PROXY_MAX_FAULTS (invariant 6) */
	bool all;      /* "*": every route */
	bool *on;      /* owned: n_routes flags (when !all) */
	enum fault_dir dir;
	double toxicity; /* 0-1: the share of connections it acts on */
	unsigned ms;	 /* latency, slow_close, timeout */
	unsigned jitter_ms;
	uint64_t rate;	       /* bandwidth */
	uint64_t bytes;	       /* limit_data */
	unsigned average_size; /* slicer */
	unsigned size_variation;
	unsigned delay_us;
	struct fault *next;
};

struct linesrv;

struct proxy {
	struct ev_loop *loop;  /* not owned */
	struct route **routes; /* owned, each owned */
	size_t n_routes;
	struct fault *faults;	 /* owned, in the order added */
	uint64_t slots;		 /* bit s: a fault holds slot s */
	struct linesrv *control; /* owned; NULL until proxy_control_start */
	uint64_t rng;
};

/* ---- helpers (proxy.c) ---- */

/* xorshift64*: jitter, pieces and toxicity only need to look random. */
uint64_t proxy_rng_next(struct proxy *p);
/* Uniform in [0, 1). */
double proxy_rng_unit(struct proxy *p);
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
/* Invariant 1: recompute r's report and bring every connection of r in
 * line with the faults that act on it. */
void route_apply(struct proxy *p, struct route *r);
/* Fault f was added: draw its toxicity for each connection of r, then
 * route_apply. */
void route_fault_added(struct proxy *p, struct route *r, const struct fault *f);
/* Clear slot s from every connection of r (invariant 6). */
void route_fault_removed(struct proxy *p, struct route *r, unsigned slot);
/* Close r's connections and listener, free r. Accepts NULL. */
void route_free(struct proxy *p, struct route *r);

/* ---- faults (fault.c) ---- */

bool fault_covers(const struct fault *f, const struct route *r);
struct fault *fault_find(struct proxy *p, const char *name);
/* Accepts NULL. */
void fault_free(struct fault *f);
/* r's report as the fault list makes it (invariant 1). */
void route_compute(struct proxy *p, struct route *r, struct route_eff *e);
/* Does f cut the connections it acts on (down, blackhole, reset, timeout,
 * limit_data)? */
bool fault_cuts(const struct fault *f);
/* Draw whether f acts on a connection (its toxicity). */
bool fault_draw(struct proxy *p, const struct fault *f);
/* c's direction `which` as the faults in c->applies make it. */
void conn_compute(struct proxy *p, const struct pconn *c, int which,
		  struct dir_eff *e);
/* "A>B,C>D" or "*" into f; an error (false) names every unknown route in
 * out. Takes list apart (strtok_r). */
bool fault_parse_routes(struct proxy *p, struct fault *f, char *list,
			struct sbuf *out);
/* The KEY=VALUE parameters of a fault (its kind's, toxicity= and
 * direction=), the rest of a strtok_r walk on " " from save; false with
 * the reason in out. */
bool fault_parse_params(struct fault *f, char *save, struct sbuf *out);
/* "NAME KIND routes=A>B,... [ms=N jitter=N | rate=N | ...]
 * [direction=D] [toxicity=P]" */
void fault_describe(struct proxy *p, const struct fault *f, struct sbuf *out);
/* When a chunk read now may leave: now + latency +- jitter, never before
 * the chunk ahead of it (invariant 2). */
ev_tstamp fault_due_time(struct pdir *d, ev_tstamp now);
/* How many of `want` bytes d may send now under its rate; 0 arms d's
 * bandwidth timer for when enough tokens are in. */
size_t bucket_allow(struct pdir *d, size_t want, ev_tstamp now);
void bucket_spend(struct pdir *d, size_t n);
/* The size of the slicer's next piece on d: average +- variation, at
 * least 1. */
size_t slicer_piece(struct pdir *d);

#endif
