/* proxy.c: the lab's link-fault proxy: TCP routes between nodes, named faults.
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
#include "proxy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"

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

static const char *const fault_kind_names[] = {"down", "blackhole", "reset",
					       "latency", "bandwidth"};
#define N_KINDS (sizeof(fault_kind_names) / sizeof(fault_kind_names[0]))

/* What blocks a route, mildest first: the harshest fault wins. */
enum block { BLOCK_NONE, BLOCK_BLACKHOLE, BLOCK_DOWN, BLOCK_RESET };

static const char *block_name(enum block b)
{
	static const char *names[] = {"open", "blackhole", "down", "reset"};

	return (unsigned)b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

enum pconn_state {
	PC_CONNECTING,
	PC_FORWARDING,
	PC_HELD,
	PC_DISCARDING,
	PC_CLOSED,
};

static const char *pconn_state_name(enum pconn_state s)
{
	static const char *names[] = {"connecting", "forwarding", "held",
				      "discarding", "closed"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

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

struct proxy {
	struct ev_loop *loop;  /* not owned */
	struct route **routes; /* owned, each owned */
	size_t n_routes;
	struct fault *faults;	 /* owned, in the order added */
	struct linesrv *control; /* owned; NULL until proxy_control_start */
	uint64_t rng;
};

/* ---- small helpers ---- */

static uint64_t rng_next(struct proxy *p)
{
	/* xorshift64*: jitter only needs to look random. */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ull;
}

static void timer_arm(struct ev_loop *loop, ev_timer *t, ev_tstamp after)
{
	ev_timer_stop(loop, t);
	ev_timer_set(t, after > 0 ? after : 0., 0.);
	ev_timer_start(loop, t);
}

static void io_want(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

/* Close fd so that the other end sees a reset, not a FIN. */
static void close_rst(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void fd_close(int fd, enum close_how how)
{
	if (fd < 0)
		return;
	if (how == CLOSE_RST)
		close_rst(fd);
	else
		close(fd);
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static bool valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > PROXY_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* "FROM>TO" with two valid node names. */
static bool valid_route_name(const char *s)
{
	const char *gt = strchr(s, '>');

	return gt != NULL && valid_name(s, (size_t)(gt - s)) &&
	       valid_name(gt + 1, strlen(gt + 1));
}

static struct route *route_find(struct proxy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_routes; i++)
		if (strcmp(p->routes[i]->name, name) == 0)
			return p->routes[i];
	return NULL;
}

static bool fault_covers(const struct fault *f, const struct route *r)
{
	return f->all || f->on[r->index];
}

/* ---- growable text for responses ---- */

struct sbuf {
	char *buf; /* owned */
	size_t len;
	size_t cap;
	bool oom;
};

static void sb_printf(struct sbuf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->oom = true;
		return;
	}
	if (s->len + (size_t)n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *nb;

		while (cap < s->len + (size_t)n + 1)
			cap *= 2;
		nb = ekl_realloc(s->buf, cap);
		if (nb == NULL) {
			s->oom = true;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* ---- connections ---- */

static bool transition_ok(enum pconn_state from, enum pconn_state to)
{
	switch (to) {
	case PC_FORWARDING: return from == PC_CONNECTING || from == PC_HELD;
	case PC_HELD: return from == PC_CONNECTING || from == PC_FORWARDING;
	case PC_CONNECTING: return from == PC_HELD;
	case PC_DISCARDING: return false; /* only ever a starting state */
	case PC_CLOSED: return from != PC_CLOSED;
	}
	return false;
}

static bool pconn_set_state(struct pconn *c, enum pconn_state to)
{
	if (!transition_ok(c->state, to)) {
		ekl_error("internal: route %s conn %llu: illegal move %s -> %s",
			  c->route->name, c->id, pconn_state_name(c->state),
			  pconn_state_name(to));
		return false;
	}
	c->state = to;
	return true;
}

static void side_stop(struct ev_loop *loop, struct pside *s)
{
	ev_io_stop(loop, &s->rio);
	ev_io_stop(loop, &s->wio);
}

static void dir_stop(struct ev_loop *loop, struct pdir *d)
{
	ev_timer_stop(loop, &d->lat);
	ev_timer_stop(loop, &d->bw);
}

/* Invariant 4: unlink, close both sides, free. */
static void pconn_close(struct pconn *c, enum close_how how, const char *why)
{
	struct route *r = c->route;
	struct ev_loop *loop = r->proxy->loop;
	struct pconn **pp;
	int i;

	ekl_debug("route %s: conn %llu closed (%s, %s)", r->name, c->id, why,
		  how == CLOSE_RST ? "reset" : "fin");
	(void)pconn_set_state(c, PC_CLOSED);
	for (pp = &r->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			r->n_conns--;
			break;
		}
	side_stop(loop, &c->client);
	side_stop(loop, &c->target);
	for (i = 0; i < 2; i++) {
		struct chunk *k = c->dir[i].head;

		dir_stop(loop, &c->dir[i]);
		while (k != NULL) {
			struct chunk *next = k->next;

			ekl_free(k);
			k = next;
		}
	}
	fd_close(c->client.fd, how);
	fd_close(c->target.fd, how);
	ekl_free(c);
}

static double bucket_burst(uint64_t rate)
{
	double b = (double)rate / 50.0; /* about 20 ms of traffic */

	if (b < 512)
		b = rate < 512 ? (double)rate : 512.0;
	if (b > 1048576.0)
		b = 1048576.0;
	return b;
}

/* How many of `want` bytes d may send now under the route's rate; 0 arms
 * d's bandwidth timer for when enough tokens are in. */
static size_t bucket_allow(struct pdir *d, size_t want, ev_tstamp now)
{
	struct route *r = d->conn->route;
	struct bucket *b = &r->bucket[d->which];
	uint64_t rate = r->eff.rate;
	double burst, need;

	if (rate == 0)
		return want;
	burst = bucket_burst(rate);
	if (now > b->at)
		b->tokens += (now - b->at) * (double)rate;
	b->at = now;
	if (b->tokens > burst)
		b->tokens = burst;
	need = (double)want < burst ? (double)want : burst;
	if (b->tokens + 1e-6 < need) {
		timer_arm(r->proxy->loop, &d->bw,
			  (need - b->tokens) / (double)rate);
		return 0;
	}
	need = b->tokens + 1e-6;
	return (double)want < need ? want : (size_t)need;
}

static void bucket_spend(struct pdir *d, size_t n)
{
	struct route *r = d->conn->route;

	if (r->eff.rate != 0)
		r->bucket[d->which].tokens -= (double)n;
}

/* Send due chunks of d as far as faults and the socket allow, pass on a
 * FIN, and recompute d's watchers (dst writable, src readable). Returns
 * false when the connection was closed (and freed). */
static bool dir_pump(struct pdir *d)
{
	struct pconn *c = d->conn;
	struct route *r = c->route;
	struct ev_loop *loop = r->proxy->loop;
	ev_tstamp now = ev_now(loop);
	bool blocked = false;

	if (c->state != PC_FORWARDING)
		return true;
	while (d->head != NULL) {
		struct chunk *k = d->head;
		size_t allow;
		ssize_t w;

		if (k->due > now + DUE_SLACK) {
			timer_arm(loop, &d->lat, k->due - now);
			break;
		}
		allow = bucket_allow(d, k->len - k->off, now);
		if (allow == 0)
			break;
		w = send(d->dst->fd, k->data + k->off, allow, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				blocked = true;
				break;
			}
			pconn_close(c, CLOSE_RST,
				    d->which == DIR_TO_TARGET
					? "write to target failed"
					: "write to client failed");
			return false;
		}
		bucket_spend(d, (size_t)w);
		r->bytes[d->which] += (unsigned long long)w;
		k->off += (size_t)w;
		d->queued -= (size_t)w;
		if (k->off == k->len) {
			d->head = k->next;
			if (d->head == NULL)
				d->tail = NULL;
			ekl_free(k);
		}
	}
	io_want(loop, &d->dst->wio, blocked);
	if (d->head == NULL && d->eof && !d->shut) {
		shutdown(d->dst->fd, SHUT_WR);
		d->shut = true;
		if (c->dir[!d->which].shut) {
			pconn_close(c, CLOSE_FIN, "both sides closed");
			return false;
		}
	}
	io_want(loop, &d->src->rio, !d->eof && d->queued < PROXY_DIR_MAX);
	return true;
}

static bool pconn_pump(struct pconn *c)
{
	return dir_pump(&c->dir[DIR_TO_TARGET]) &&
	       dir_pump(&c->dir[DIR_TO_CLIENT]);
}

/* When a chunk read now may leave: now + latency +- jitter, never before
 * the chunk ahead of it (invariant 2). */
static ev_tstamp due_time(struct pdir *d, ev_tstamp now)
{
	struct route *r = d->conn->route;
	double ms = r->eff.latency_ms;
	ev_tstamp due;

	if (r->eff.jitter_ms > 0) {
		uint64_t span = 2ull * r->eff.jitter_ms + 1;

		ms += (double)(rng_next(r->proxy) % span) -
		      (double)r->eff.jitter_ms;
	}
	due = ms > 0 ? now + ms / 1000.0 : now;
	if (due < d->last_due)
		due = d->last_due;
	d->last_due = due;
	return due;
}

static void on_discard_read(struct pconn *c)
{
	char buf[PROXY_CHUNK];
	ssize_t n = recv(c->client.fd, buf, sizeof(buf), 0);

	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0)
		pconn_close(c, CLOSE_FIN, "client left a blackhole");
}

static void on_side_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pside *s = container_of(w, struct pside, rio);
	struct pconn *c = s->conn;
	struct pdir *d =
	    &c->dir[s == &c->client ? DIR_TO_TARGET : DIR_TO_CLIENT];
	char buf[PROXY_CHUNK];
	struct chunk *k;
	size_t room;
	ssize_t n;

	(void)revents;
	if (c->state == PC_DISCARDING) {
		on_discard_read(c);
		return;
	}
	if (c->state != PC_FORWARDING) {
		ev_io_stop(loop, w);
		return;
	}
	room = PROXY_DIR_MAX > d->queued ? PROXY_DIR_MAX - d->queued : 0;
	if (room == 0) {
		ev_io_stop(loop, w);
		return;
	}
	n = recv(s->fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		pconn_close(c, CLOSE_RST,
			    d->which == DIR_TO_TARGET ? "client failed"
						      : "target failed");
		return;
	}
	if (n == 0) {
		d->eof = true;
		(void)dir_pump(d);
		return;
	}
	k = ekl_malloc(sizeof(*k) + (size_t)n);
	if (k == NULL) {
		pconn_close(c, CLOSE_RST, "out of memory");
		return;
	}
	memcpy(k->data, buf, (size_t)n);
	k->len = (size_t)n;
	k->off = 0;
	k->next = NULL;
	k->due = due_time(d, ev_now(loop));
	if (d->tail != NULL)
		d->tail->next = k;
	else
		d->head = k;
	d->tail = k;
	d->queued += (size_t)n;
	(void)dir_pump(d);
}

static void on_connect_done(struct pconn *c)
{
	struct route *r = c->route;
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->target.fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY)
		return;
	ev_io_stop(r->proxy->loop, &c->target.wio);
	if (e != 0) {
		ekl_debug("route %s: target %s: %s", r->name, r->target_text,
			  strerror(e));
		pconn_close(c, CLOSE_RST, "target refused");
		return;
	}
	if (!pconn_set_state(c, PC_FORWARDING)) {
		pconn_close(c, CLOSE_RST, "internal error");
		return;
	}
	ekl_debug("route %s: conn %llu forwarding", r->name, c->id);
	(void)pconn_pump(c);
}

static void on_side_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pside *s = container_of(w, struct pside, wio);
	struct pconn *c = s->conn;

	(void)revents;
	if (c->state == PC_CONNECTING && s == &c->target) {
		on_connect_done(c);
		return;
	}
	if (c->state != PC_FORWARDING) {
		ev_io_stop(loop, w);
		return;
	}
	(void)dir_pump(
	    &c->dir[s == &c->target ? DIR_TO_TARGET : DIR_TO_CLIENT]);
}

static void on_dir_timer(struct pdir *d)
{
	(void)dir_pump(d);
}

static void on_lat(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	on_dir_timer(container_of(w, struct pdir, lat));
}

static void on_bw(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	on_dir_timer(container_of(w, struct pdir, bw));
}

static void side_init(struct pconn *c, struct pside *s, int fd)
{
	s->conn = c;
	s->fd = fd;
	ev_io_init(&s->rio, on_side_read, fd, EV_READ);
	ev_io_init(&s->wio, on_side_write, fd, EV_WRITE);
}

static void dir_init(struct pconn *c, int which)
{
	struct pdir *d = &c->dir[which];

	d->conn = c;
	d->which = which;
	d->src = which == DIR_TO_TARGET ? &c->client : &c->target;
	d->dst = which == DIR_TO_TARGET ? &c->target : &c->client;
	ev_init(&d->lat, on_lat);
	ev_init(&d->bw, on_bw);
}

/* A connection accepted on r: dial the target (CONNECTING) or, under a
 * blackhole, swallow what the client sends (DISCARDING). Takes fd. */
static void pconn_new(struct route *r, int fd, enum pconn_state state)
{
	struct ev_loop *loop = r->proxy->loop;
	char err[EKL_ERRLEN];
	struct pconn *c = ekl_calloc(1, sizeof(*c));
	int tfd = -1;

	if (c == NULL) {
		ekl_warn("route %s: out of memory: connection dropped",
			 r->name);
		close_rst(fd);
		return;
	}
	if (state == PC_CONNECTING &&
	    addr_connect(&r->target, &tfd, err) != 0) {
		ekl_debug("route %s: %s", r->name, err);
		ekl_free(c);
		close_rst(fd);
		return;
	}
	c->route = r;
	c->id = ++r->next_id;
	c->state = state;
	side_init(c, &c->client, fd);
	side_init(c, &c->target, tfd);
	dir_init(c, DIR_TO_TARGET);
	dir_init(c, DIR_TO_CLIENT);
	addr_nodelay(fd);
	c->next = r->conns;
	r->conns = c;
	r->n_conns++;
	if (state == PC_CONNECTING)
		ev_io_start(loop, &c->target.wio); /* writable = connected */
	else
		ev_io_start(loop, &c->client.rio);
	ekl_debug("route %s: conn %llu accepted (%s)", r->name, c->id,
		  pconn_state_name(state));
}

/* Blackhole: nothing moves; both sockets stay open, queues are kept. */
static void pconn_hold(struct pconn *c)
{
	struct ev_loop *loop = c->route->proxy->loop;
	enum pconn_state was = c->state;

	if (!pconn_set_state(c, PC_HELD))
		return;
	c->held_in = was;
	side_stop(loop, &c->client);
	side_stop(loop, &c->target);
	dir_stop(loop, &c->dir[0]);
	dir_stop(loop, &c->dir[1]);
}

/* The blackhole lifted: carry on where we stopped. Returns false when the
 * connection was closed. */
static bool pconn_resume(struct pconn *c)
{
	if (!pconn_set_state(c, c->held_in)) {
		pconn_close(c, CLOSE_RST, "internal error");
		return false;
	}
	if (c->state == PC_CONNECTING) {
		/* A connect that finished meanwhile reports at once. */
		ev_io_start(c->route->proxy->loop, &c->target.wio);
		return true;
	}
	return pconn_pump(c);
}

/* ---- routes ---- */

static void route_compute(struct proxy *p, struct route *r, struct route_eff *e)
{
	const struct fault *f;

	memset(e, 0, sizeof(*e));
	for (f = p->faults; f != NULL; f = f->next) {
		enum block b = BLOCK_NONE;

		if (!fault_covers(f, r))
			continue;
		switch (f->kind) {
		case FAULT_DOWN: b = BLOCK_DOWN; break;
		case FAULT_BLACKHOLE: b = BLOCK_BLACKHOLE; break;
		case FAULT_RESET: b = BLOCK_RESET; break;
		case FAULT_LATENCY:
			e->latency_ms += f->ms;
			e->jitter_ms += f->jitter_ms;
			break;
		case FAULT_BANDWIDTH:
			if (e->rate == 0 || f->rate < e->rate)
				e->rate = f->rate;
			break;
		}
		if (b > e->block)
			e->block = b;
	}
}

/* Invariant 1: recompute r's settings and bring its connections in
 * line. */
static void route_apply(struct proxy *p, struct route *r)
{
	struct route_eff old = r->eff;
	ev_tstamp now = ev_now(p->loop);
	struct pconn *c, *next;
	int i;

	route_compute(p, r, &r->eff);
	if (r->eff.rate != old.rate)
		for (i = 0; i < 2; i++) {
			r->bucket[i].tokens = 0;
			r->bucket[i].at = now;
		}
	if (r->eff.block != old.block)
		ekl_info("route %s: %s", r->name, block_name(r->eff.block));
	for (c = r->conns; c != NULL; c = next) {
		next = c->next; /* c may be freed below; only c */
		switch (r->eff.block) {
		case BLOCK_DOWN:
			pconn_close(c, CLOSE_FIN, "route down");
			continue;
		case BLOCK_RESET:
			pconn_close(c, CLOSE_RST, "route reset");
			continue;
		case BLOCK_BLACKHOLE:
			if (c->state == PC_CONNECTING ||
			    c->state == PC_FORWARDING)
				pconn_hold(c);
			continue;
		case BLOCK_NONE: break;
		}
		if (c->state == PC_DISCARDING) {
			/* Its first bytes are gone: the stream cannot be
			 * resumed. The client sees a FIN and redials. */
			pconn_close(c, CLOSE_FIN, "blackhole lifted");
			continue;
		}
		if (r->eff.latency_ms == 0 && r->eff.jitter_ms == 0)
			for (i = 0; i < 2; i++) {
				struct chunk *k;

				for (k = c->dir[i].head; k != NULL; k = k->next)
					k->due = 0;
				c->dir[i].last_due = 0;
			}
		if (c->state == PC_HELD) {
			(void)pconn_resume(c);
			continue;
		}
		(void)pconn_pump(c);
	}
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct route *r = container_of(w, struct route, accept_pause);

	(void)revents;
	ev_io_start(loop, &r->accept_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct route *r = container_of(w, struct route, accept_w);
	int i;

	(void)revents;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd =
		    accept4(r->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				ekl_warn("route %s: accept: %s; pausing "
					 "%.1f s",
					 r->name, strerror(errno),
					 ACCEPT_PAUSE);
				ev_io_stop(loop, &r->accept_w);
				timer_arm(loop, &r->accept_pause, ACCEPT_PAUSE);
			}
			return;
		}
		r->accepted++;
		switch (r->eff.block) {
		case BLOCK_DOWN:
			r->refused++;
			close(fd);
			break;
		case BLOCK_RESET:
			r->refused++;
			close_rst(fd);
			break;
		case BLOCK_BLACKHOLE: pconn_new(r, fd, PC_DISCARDING); break;
		case BLOCK_NONE: pconn_new(r, fd, PC_CONNECTING); break;
		}
	}
}

static void route_free(struct proxy *p, struct route *r)
{
	if (r == NULL)
		return;
	while (r->conns != NULL)
		pconn_close(r->conns, CLOSE_FIN, "proxy stopping");
	ev_io_stop(p->loop, &r->accept_w);
	ev_timer_stop(p->loop, &r->accept_pause);
	if (r->fd >= 0)
		close(r->fd);
	ekl_free(r);
}

int proxy_add_route(struct proxy *p, const char *spec, char *err)
{
	const char *eq = strchr(spec, '=');
	const char *comma;
	struct route *r, **nr;
	char buf[128];
	size_t n;
	int rv;

	if (p->faults != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"--route %s: routes cannot be added while "
				"faults exist",
				spec);
	if (eq == NULL || (comma = strchr(eq, ',')) == NULL)
		return ekl_errf(err, EKL_ECONFIG,
				"--route '%s': expected FROM>TO=LISTEN,TARGET "
				"(e.g. node1>node2=127.0.0.1:21001,"
				"127.0.0.1:20002)",
				spec);
	r = ekl_calloc(1, sizeof(*r));
	if (r == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	r->proxy = p;
	r->fd = -1;
	n = (size_t)(eq - spec);
	if (n > PROXY_ROUTE_MAX) {
		rv = ekl_errf(err, EKL_ECONFIG,
			      "--route '%s': name longer than %d bytes", spec,
			      PROXY_ROUTE_MAX);
		goto err_after_alloc;
	}
	memcpy(r->name, spec, n);
	r->name[n] = '\0';
	if (!valid_route_name(r->name)) {
		rv = ekl_errf(err, EKL_ECONFIG,
			      "--route '%s': the name must be FROM>TO, node "
			      "names of letters, digits, '.', '_', '-'",
			      spec);
		goto err_after_alloc;
	}
	if (route_find(p, r->name) != NULL) {
		rv = ekl_errf(err, EKL_ECONFIG,
			      "--route '%s': route %s is given twice", spec,
			      r->name);
		goto err_after_alloc;
	}
	n = (size_t)(comma - eq - 1);
	if (n >= sizeof(buf)) {
		rv = ekl_errf(err, EKL_ECONFIG,
			      "--route '%s': listen address too long", spec);
		goto err_after_alloc;
	}
	memcpy(buf, eq + 1, n);
	buf[n] = '\0';
	rv = addr_parse(buf, &r->listen, err);
	if (rv == 0)
		rv = addr_parse(comma + 1, &r->target, err);
	if (rv != 0) {
		char detail[EKL_ERRLEN];

		snprintf(detail, sizeof(detail), "%s", err);
		rv = ekl_errf(err, EKL_ECONFIG, "--route %s: %s", r->name,
			      detail);
		goto err_after_alloc;
	}
	addr_format(&r->listen, r->listen_text, sizeof(r->listen_text));
	addr_format(&r->target, r->target_text, sizeof(r->target_text));
	rv = addr_listen(&r->listen, &r->fd, err);
	if (rv != 0) {
		char detail[EKL_ERRLEN];

		snprintf(detail, sizeof(detail), "%s", err);
		rv = ekl_errf(err, rv, "--route %s: %s", r->name, detail);
		goto err_after_alloc;
	}
	nr = ekl_realloc(p->routes, (p->n_routes + 1) * sizeof(*nr));
	if (nr == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto err_after_listen;
	}
	p->routes = nr;
	r->index = p->n_routes;
	p->routes[p->n_routes++] = r;
	ev_io_init(&r->accept_w, on_accept, r->fd, EV_READ);
	ev_init(&r->accept_pause, on_accept_pause);
	ev_io_start(p->loop, &r->accept_w);
	ekl_info("route %s: listening on %s, forwarding to %s", r->name,
		 r->listen_text, r->target_text);
	return 0;

err_after_listen:
	close(r->fd);
err_after_alloc:
	ekl_free(r);
	return rv;
}

/* ---- faults ---- */

static struct fault *fault_find(struct proxy *p, const char *name)
{
	struct fault *f;

	for (f = p->faults; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void fault_free(struct fault *f)
{
	if (f == NULL)
		return;
	ekl_free(f->on);
	ekl_free(f);
}

/* Parse a decimal in [lo, hi]. */
static bool parse_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "A>B,C>D" or "*" into f; an error names every unknown route. */
static bool parse_routes(struct proxy *p, struct fault *f, char *list,
			 struct sbuf *out)
{
	char *tok, *save = NULL;
	size_t unknown = 0, i;

	if (strcmp(list, "*") == 0) {
		f->all = true;
		return true;
	}
	f->on = ekl_calloc(p->n_routes ? p->n_routes : 1, sizeof(bool));
	if (f->on == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		struct route *r = route_find(p, tok);

		if (r != NULL) {
			f->on[r->index] = true;
			continue;
		}
		sb_printf(out, "%s'%.*s'", unknown++ ? ", " : "unknown route ",
			  PROXY_ROUTE_MAX + 1, tok);
	}
	if (unknown > 0) {
		sb_printf(out, "; routes are:");
		for (i = 0; i < p->n_routes && i < 100; i++)
			sb_printf(out, " %s", p->routes[i]->name);
		if (p->n_routes == 0)
			sb_printf(out, " (none)");
		return false;
	}
	for (i = 0; i < p->n_routes; i++)
		if (f->on[i])
			return true;
	sb_printf(out, "no route given: use A>B[,C>D...] or '*'");
	return false;
}

/* key=value parameters of a latency or bandwidth fault. */
static bool parse_params(struct fault *f, char *save, struct sbuf *out)
{
	bool have_ms = false, have_rate = false;
	char *tok;

	while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (eq == NULL) {
			sb_printf(out, "'%.100s': parameters are KEY=VALUE",
				  tok);
			return false;
		}
		*eq = '\0';
		if (f->kind == FAULT_LATENCY &&
		    (strcmp(tok, "ms") == 0 || strcmp(tok, "jitter") == 0)) {
			if (!parse_num(eq + 1, 0, PROXY_MAX_MS, &v)) {
				sb_printf(out,
					  "%s=%.40s: milliseconds 0-%d "
					  "expected",
					  tok, eq + 1, PROXY_MAX_MS);
				return false;
			}
			if (tok[0] == 'm') {
				f->ms = (unsigned)v;
				have_ms = true;
			} else {
				f->jitter_ms = (unsigned)v;
			}
		} else if (f->kind == FAULT_BANDWIDTH &&
			   strcmp(tok, "rate") == 0) {
			if (!parse_num(eq + 1, 1, PROXY_MAX_RATE, &v)) {
				sb_printf(out,
					  "rate=%.40s: bytes per second "
					  "1-%llu expected",
					  eq + 1,
					  (unsigned long long)PROXY_MAX_RATE);
				return false;
			}
			f->rate = v;
			have_rate = true;
		} else {
			sb_printf(out,
				  "%s fault takes no parameter '%.40s'; it "
				  "takes %s",
				  fault_kind_names[f->kind], tok,
				  f->kind == FAULT_LATENCY ? "ms=N [jitter=N]"
				  : f->kind == FAULT_BANDWIDTH
				      ? "rate=BYTES_PER_S"
				      : "none");
			return false;
		}
	}
	if (f->kind == FAULT_LATENCY && !have_ms) {
		sb_printf(out, "latency needs ms=N (and optionally jitter=N)");
		return false;
	}
	if (f->kind == FAULT_BANDWIDTH && !have_rate) {
		sb_printf(out, "bandwidth needs rate=BYTES_PER_S");
		return false;
	}
	return true;
}

static void fault_describe(struct proxy *p, const struct fault *f,
			   struct sbuf *out)
{
	size_t i;
	bool first = true;

	sb_printf(out, "%s %s routes=", f->name, fault_kind_names[f->kind]);
	if (f->all)
		sb_printf(out, "*");
	else
		for (i = 0; i < p->n_routes; i++)
			if (f->on[i]) {
				sb_printf(out, "%s%s", first ? "" : ",",
					  p->routes[i]->name);
				first = false;
			}
	if (f->kind == FAULT_LATENCY)
		sb_printf(out, " ms=%u jitter=%u", f->ms, f->jitter_ms);
	if (f->kind == FAULT_BANDWIDTH)
		sb_printf(out, " rate=%llu", (unsigned long long)f->rate);
}

/* ---- control commands ---- */

/* Each writes its response body to out and says whether it is "ok". */
typedef bool (*ctl_fn)(struct proxy *p, bool json, char *arg, struct sbuf *out);

static void json_out(struct json *j, struct sbuf *out)
{
	const char *s = json_finish(j);

	if (s == NULL)
		out->oom = true;
	else
		sb_printf(out, "%s\n", s);
}

static bool cmd_routes(struct proxy *p, bool json, char *arg, struct sbuf *out)
{
	struct json j;
	size_t i;

	if (arg[0] != '\0') {
		sb_printf(out, "routes takes no argument");
		return false;
	}
	json_init(&j);
	if (json) {
		json_obj_begin(&j);
		json_key(&j, "routes");
		json_arr_begin(&j);
	}
	for (i = 0; i < p->n_routes; i++) {
		struct route *r = p->routes[i];
		const struct fault *f;
		bool any = false;

		if (json) {
			char from[PROXY_NAME_MAX + 1];
			const char *gt = strchr(r->name, '>');

			snprintf(from, sizeof(from), "%.*s",
				 (int)(gt - r->name), r->name);
			json_obj_begin(&j);
			json_key(&j, "name");
			json_str(&j, r->name);
			json_key(&j, "from");
			json_str(&j, from);
			json_key(&j, "to");
			json_str(&j, gt + 1);
			json_key(&j, "listen");
			json_str(&j, r->listen_text);
			json_key(&j, "target");
			json_str(&j, r->target_text);
			json_key(&j, "state");
			json_str(&j, block_name(r->eff.block));
			json_key(&j, "connections");
			json_int(&j, (int64_t)r->n_conns);
			json_key(&j, "accepted");
			json_int(&j, (int64_t)r->accepted);
			json_key(&j, "refused");
			json_int(&j, (int64_t)r->refused);
			json_key(&j, "bytes_to_target");
			json_int(&j, (int64_t)r->bytes[DIR_TO_TARGET]);
			json_key(&j, "bytes_to_client");
			json_int(&j, (int64_t)r->bytes[DIR_TO_CLIENT]);
			json_key(&j, "latency_ms");
			json_int(&j, r->eff.latency_ms);
			json_key(&j, "jitter_ms");
			json_int(&j, r->eff.jitter_ms);
			json_key(&j, "rate");
			json_int(&j, (int64_t)r->eff.rate);
			json_key(&j, "faults");
			json_arr_begin(&j);
			for (f = p->faults; f != NULL; f = f->next)
				if (fault_covers(f, r))
					json_str(&j, f->name);
			json_arr_end(&j);
			json_obj_end(&j);
			continue;
		}
		sb_printf(out,
			  "%s listen=%s target=%s state=%s conns=%zu "
			  "accepted=%llu refused=%llu to_target=%llu "
			  "to_client=%llu latency_ms=%u jitter_ms=%u "
			  "rate=%llu faults=",
			  r->name, r->listen_text, r->target_text,
			  block_name(r->eff.block), r->n_conns, r->accepted,
			  r->refused, r->bytes[DIR_TO_TARGET],
			  r->bytes[DIR_TO_CLIENT], r->eff.latency_ms,
			  r->eff.jitter_ms, (unsigned long long)r->eff.rate);
		for (f = p->faults; f != NULL; f = f->next)
			if (fault_covers(f, r)) {
				sb_printf(out, "%s%s", any ? "," : "", f->name);
				any = true;
			}
		sb_printf(out, "%s\n", any ? "" : "-");
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_out(&j, out);
	}
	json_close(&j);
	return true;
}

static bool cmd_fault_list(struct proxy *p, bool json, char *arg,
			   struct sbuf *out)
{
	const struct fault *f;
	struct json j;
	size_t i;

	if (arg[0] != '\0') {
		sb_printf(out, "fault list takes no argument");
		return false;
	}
	if (!json) {
		for (f = p->faults; f != NULL; f = f->next) {
			fault_describe(p, f, out);
			sb_printf(out, "\n");
		}
		return true;
	}
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "faults");
	json_arr_begin(&j);
	for (f = p->faults; f != NULL; f = f->next) {
		json_obj_begin(&j);
		json_key(&j, "name");
		json_str(&j, f->name);
		json_key(&j, "kind");
		json_str(&j, fault_kind_names[f->kind]);
		json_key(&j, "all");
		json_bool(&j, f->all);
		json_key(&j, "routes");
		json_arr_begin(&j);
		for (i = 0; i < p->n_routes; i++)
			if (f->all || f->on[i])
				json_str(&j, p->routes[i]->name);
		json_arr_end(&j);
		if (f->kind == FAULT_LATENCY) {
			json_key(&j, "ms");
			json_int(&j, f->ms);
			json_key(&j, "jitter");
			json_int(&j, f->jitter_ms);
		}
		if (f->kind == FAULT_BANDWIDTH) {
			json_key(&j, "rate");
			json_int(&j, (int64_t)f->rate);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_out(&j, out);
	json_close(&j);
	return true;
}

/* fault add NAME KIND ROUTES [KEY=VALUE ...] */
static bool cmd_fault_add(struct proxy *p, bool json, char *arg,
			  struct sbuf *out)
{
	char *save = NULL;
	char *name = strtok_r(arg, " ", &save);
	char *kind = strtok_r(NULL, " ", &save);
	char *routes = strtok_r(NULL, " ", &save);
	struct fault *f, **tail;
	size_t i;

	if (name == NULL || kind == NULL || routes == NULL) {
		sb_printf(out, "usage: fault add NAME KIND ROUTES "
			       "[KEY=VALUE...]; KIND: down, blackhole, "
			       "reset, latency ms=N [jitter=N], bandwidth "
			       "rate=BYTES_PER_S; ROUTES: A>B[,C>D...] or *");
		return false;
	}
	if (!valid_name(name, strlen(name)) || strcmp(name, "all") == 0) {
		sb_printf(out,
			  "fault name '%.80s': use up to %d letters, digits, "
			  "'.', '_', '-' (and not 'all')",
			  name, PROXY_NAME_MAX);
		return false;
	}
	if (fault_find(p, name) != NULL) {
		sb_printf(out,
			  "a fault named '%s' exists; remove it first or "
			  "choose another name",
			  name);
		return false;
	}
	f = ekl_calloc(1, sizeof(*f));
	if (f == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	for (i = 0; i < N_KINDS; i++)
		if (strcmp(kind, fault_kind_names[i]) == 0)
			break;
	if (i == N_KINDS) {
		sb_printf(out,
			  "unknown fault kind '%.40s'; kinds: down, blackhole, "
			  "reset, latency, bandwidth",
			  kind);
		goto err;
	}
	f->kind = (enum fault_kind)i;
	if (!parse_routes(p, f, routes, out) || !parse_params(f, save, out))
		goto err;
	for (tail = &p->faults; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = f;
	{
		struct sbuf d = {0};

		fault_describe(p, f, &d);
		ekl_info("fault added: %s", d.buf != NULL ? d.buf : f->name);
		ekl_free(d.buf);
	}
	for (i = 0; i < p->n_routes; i++)
		if (fault_covers(f, p->routes[i]))
			route_apply(p, p->routes[i]);
	if (json)
		sb_printf(out, "{\"added\":\"%s\"}\n", f->name);
	else
		sb_printf(out, "added %s\n", f->name);
	return true;

err:
	fault_free(f);
	return false;
}

/* Unlink every fault (or the one named) and re-apply the routes they
 * covered. */
static bool cmd_fault_remove(struct proxy *p, bool json, char *arg,
			     struct sbuf *out)
{
	bool all = strcmp(arg, "all") == 0;
	bool *touched = NULL;
	struct fault **pp = &p->faults;
	size_t i, n = 0;

	if (arg[0] == '\0' || strchr(arg, ' ') != NULL) {
		sb_printf(out, "usage: fault remove NAME | fault remove all");
		return false;
	}
	if (!all && fault_find(p, arg) == NULL) {
		sb_printf(out, "no fault named '%.80s'; see 'fault list'", arg);
		return false;
	}
	touched = ekl_calloc(p->n_routes ? p->n_routes : 1, sizeof(bool));
	if (touched == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	if (json)
		sb_printf(out, "{\"removed\":[");
	while (*pp != NULL) {
		struct fault *f = *pp;

		if (!all && strcmp(f->name, arg) != 0) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		for (i = 0; i < p->n_routes; i++)
			if (fault_covers(f, p->routes[i]))
				touched[i] = true;
		ekl_info("fault removed: %s", f->name);
		if (json)
			sb_printf(out, "%s\"%s\"", n ? "," : "", f->name);
		else
			sb_printf(out, "removed %s\n", f->name);
		n++;
		fault_free(f);
	}
	if (json)
		sb_printf(out, "]}\n");
	else if (n == 0)
		sb_printf(out, "no faults\n");
	for (i = 0; i < p->n_routes; i++)
		if (touched[i])
			route_apply(p, p->routes[i]);
	ekl_free(touched);
	return true;
}

static bool cmd_help(struct proxy *p, bool json, char *arg, struct sbuf *out);

static const struct {
	const char *name;
	ctl_fn fn;
	const char *help;
} ctl_commands[] = {
    {"routes", cmd_routes,
     "each route: listen, target, state, connections, bytes, faults"},
    {"fault add", cmd_fault_add,
     "NAME KIND ROUTES [KEY=VALUE...]: down | blackhole | reset | "
     "latency ms=N [jitter=N] | bandwidth rate=BYTES_PER_S; ROUTES "
     "A>B[,C>D...] or *"},
    {"fault list", cmd_fault_list, "the faults in force"},
    {"fault remove", cmd_fault_remove, "NAME | all"},
    {"help", cmd_help, "this list"},
};

#define N_CTL_COMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static bool cmd_help(struct proxy *p, bool json, char *arg, struct sbuf *out)
{
	size_t i;

	(void)p;
	(void)json;
	(void)arg;
	for (i = 0; i < N_CTL_COMMANDS; i++)
		sb_printf(out, "%-13s %s\n", ctl_commands[i].name,
			  ctl_commands[i].help);
	return true;
}

/* Run COMMAND, response body in out. */
static bool ctl_dispatch(struct proxy *p, bool json, char *line,
			 struct sbuf *out)
{
	size_t i;

	for (i = 0; i < N_CTL_COMMANDS; i++) {
		size_t n = strlen(ctl_commands[i].name);

		if (strncmp(line, ctl_commands[i].name, n) == 0 &&
		    (line[n] == '\0' || line[n] == ' '))
			return ctl_commands[i].fn(
			    p, json, line[n] ? line + n + 1 : line + n, out);
	}
	sb_printf(out, "unknown command '%.200s'; try 'help'", line);
	return false;
}

/* ---- control socket ---- */

/* linesrv's handler: one request, answered now. */
static void ctl_handle(void *arg, struct adminproto_request *rq,
		       struct linesrv_reply *reply)
{
	struct proxy *p = arg;
	struct sbuf body = {0};
	bool ok;

	if (rq->has_options) {
		sb_printf(&body, "the proxy takes no options: request must be "
				 "'text|json COMMAND'");
		ok = false;
	} else {
		ok = ctl_dispatch(p, rq->opts.format == ADMINPROTO_JSON,
				  rq->command, &body);
	}
	if (body.oom) {
		ekl_free(body.buf);
		linesrv_reply_done(reply, false, "out of memory");
		return;
	}
	linesrv_reply_take(reply, ok, body.buf, body.len);
}

int proxy_control_start(struct proxy *p, const char *path, char *err)
{
	struct linesrv *s = NULL;
	int rv;

	if (p->control != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"--control %s: the proxy already serves a "
				"control socket",
				path);
	rv = linesrv_new(p->loop, ctl_handle, p, &s, err);
	if (rv != 0)
		return rv;
	rv = linesrv_listen(s, path, "--control", "process", err);
	if (rv != 0) {
		linesrv_free(s);
		return rv;
	}
	p->control = s;
	return 0;
}

/* ---- lifecycle ---- */

int proxy_new(struct ev_loop *loop, struct proxy **out, char *err)
{
	struct proxy *p = ekl_calloc(1, sizeof(*p));
	struct timespec ts;

	if (p == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	p->loop = loop;
	clock_gettime(CLOCK_REALTIME, &ts);
	p->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		 ((uint64_t)getpid() << 40);
	if (p->rng == 0)
		p->rng = 0x9e3779b97f4a7c15ull;
	*out = p;
	return 0;
}

void proxy_free(struct proxy *p)
{
	size_t i;

	if (p == NULL)
		return;
	linesrv_free(p->control);
	for (i = 0; i < p->n_routes; i++)
		route_free(p, p->routes[i]);
	ekl_free(p->routes);
	while (p->faults != NULL) {
		struct fault *f = p->faults;

		p->faults = f->next;
		fault_free(f);
	}
	ekl_free(p);
}
