/* route.c: the proxy's routes: a listener per directed link, and the
 * connections it accepts, forwarded to the target with each direction's
 * queue paced by the route's faults (proxy_int.h: the happy path, the
 * failure modes, invariants 2-4 and the connection states). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "proxy_int.h"
#include "resolve.h"

static const char *pconn_state_name(enum pconn_state s)
{
	static const char *names[] = {"connecting", "forwarding", "held",
				      "discarding", "closed"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* Close fd so that the other end sees a reset, not a FIN. */
static void close_rst(int fd)
{
	struct linger lg = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Close fd so that the other end sees a FIN: bytes it sent that we never
 * read would make the kernel answer with a reset instead, so they are
 * read first (a bounded amount; fd is non-blocking). */
static void close_fin(int fd)
{
	char buf[PROXY_CHUNK];
	int i;

	shutdown(fd, SHUT_WR);
	for (i = 0; i < 64; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	close(fd);
}

static void fd_close(int fd, enum close_how how)
{
	if (fd < 0)
		return;
	if (how == CLOSE_RST)
		close_rst(fd);
	else
		close_fin(fd);
}

/* "FROM>TO" with two valid node names. */
static bool valid_route_name(const char *s)
{
	const char *gt = strchr(s, '>');

	return gt != NULL && proxy_valid_name(s, (size_t)(gt - s)) &&
	       proxy_valid_name(gt + 1, strlen(gt + 1));
}

/* A target "NAME:PORT" where NAME is a host name, not an address (it has
 * a letter and is not "localhost"): into r's target_host and target_port,
 * 0. Anything else: -1, for addr_parse. */
static int target_name(const char *s, struct route *r)
{
	const char *colon = strrchr(s, ':');
	bool letter = false;
	size_t n, k;
	char *end;
	long port;

	if (colon == NULL || strchr(s, '[') != NULL)
		return -1;
	n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof(r->target_host) ||
	    (n == 9 && strncmp(s, "localhost", 9) == 0))
		return -1;
	for (k = 0; k < n; k++) {
		char c = s[k];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return -1;
		letter = letter || (c >= 'a' && c <= 'z') ||
			 (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!letter || *end != '\0' || end == colon + 1 || errno != 0 ||
	    port < 1 || port > 65535)
		return -1;
	memcpy(r->target_host, s, n);
	r->target_host[n] = '\0';
	snprintf(r->target_port, sizeof(r->target_port), "%ld", port);
	snprintf(r->target_text, sizeof(r->target_text), "%s:%ld",
		 r->target_host, port);
	return 0;
}

struct route *route_find(struct proxy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_routes; i++)
		if (strcmp(p->routes[i]->name, name) == 0)
			return p->routes[i];
	return NULL;
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
	ev_timer_stop(loop, &d->fin);
}

static void dir_drop_queue(struct pdir *d)
{
	struct chunk *k = d->head;

	while (k != NULL) {
		struct chunk *next = k->next;

		ekl_free(k);
		k = next;
	}
	d->head = d->tail = NULL;
	d->queued = 0;
}

/* Invariant 4: unlink, close both sides (the client side as `client`
 * says, the target side as `target`), free. */
static void pconn_close2(struct pconn *c, enum close_how client,
			 enum close_how target, const char *why)
{
	struct route *r = c->route;
	struct ev_loop *loop = r->proxy->loop;
	struct pconn **pp;
	int i;

	ekl_debug("route %s: conn %llu closed (%s, client %s, target %s)",
		  r->name, c->id, why, client == CLOSE_RST ? "reset" : "fin",
		  target == CLOSE_RST ? "reset" : "fin");
	(void)pconn_set_state(c, PC_CLOSED);
	for (pp = &r->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			r->n_conns--;
			break;
		}
	side_stop(loop, &c->client);
	side_stop(loop, &c->target);
	ev_timer_stop(loop, &c->tmo);
	for (i = 0; i < 2; i++) {
		dir_stop(loop, &c->dir[i]);
		dir_drop_queue(&c->dir[i]);
	}
	fd_close(c->client.fd, client);
	fd_close(c->target.fd, target);
	ekl_free(c);
}

static void pconn_close(struct pconn *c, enum close_how how, const char *why)
{
	pconn_close2(c, how, how, why);
}

/* A one-way down on d: its destination gets a FIN at once, its queue is
 * dropped, what its source sends from now on is read and discarded. The
 * other direction goes on until its own FIN. Returns false when the
 * connection was closed (both ways shut). */
static bool dir_cut(struct pdir *d)
{
	struct pconn *c = d->conn;
	struct ev_loop *loop = c->route->proxy->loop;

	d->cut = true;
	dir_drop_queue(d);
	dir_stop(loop, d);
	ev_io_stop(loop, &d->dst->wio);
	if (!d->shut) {
		shutdown(d->dst->fd, SHUT_WR);
		d->shut = true;
	}
	if (c->dir[!d->which].shut) {
		pconn_close(c, CLOSE_FIN, "down one way, the other closed");
		return false;
	}
	proxy_io_want(loop, &d->src->rio, !d->eof);
	return true;
}

/* The slicer: may d start its next piece now? When not, arms d->lat for
 * when it may. Picks the piece's size when it starts. */
static bool piece_ready(struct pdir *d, ev_tstamp now)
{
	if (d->eff.slice_avg == 0 || d->piece_left > 0)
		return true;
	if (d->piece_due > now + DUE_SLACK) {
		proxy_timer_arm(d->conn->route->proxy->loop, &d->lat,
				d->piece_due - now);
		return false;
	}
	d->piece_left = slicer_piece(d);
	return true;
}

/* Send due chunks of d as far as faults and the socket allow, pass on a
 * FIN (slow_close: later), and recompute d's watchers (dst writable, src
 * readable). Returns false when the connection was closed (and freed). */
static bool dir_pump(struct pdir *d)
{
	struct pconn *c = d->conn;
	struct route *r = c->route;
	struct ev_loop *loop = r->proxy->loop;
	ev_tstamp now = ev_now(loop);
	bool blocked = false;

	if (c->state != PC_FORWARDING)
		return true;
	if (d->cut) {
		proxy_io_want(loop, &d->src->rio, !d->eof);
		return true;
	}
	if (d->held) {
		proxy_io_want(loop, &d->src->rio, false);
		proxy_io_want(loop, &d->dst->wio, false);
		return true;
	}
	while (d->head != NULL) {
		struct chunk *k = d->head;
		size_t want = k->len - k->off, allow;
		ssize_t w;

		if (k->due > now + DUE_SLACK) {
			proxy_timer_arm(loop, &d->lat, k->due - now);
			break;
		}
		if (!piece_ready(d, now))
			break;
		if (d->eff.slice_avg > 0 && want > d->piece_left)
			want = d->piece_left;
		if (d->eff.limit_end != UINT64_MAX &&
		    want > d->eff.limit_end - d->sent)
			want = (size_t)(d->eff.limit_end - d->sent);
		allow = bucket_allow(d, want, now);
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
		d->sent += (uint64_t)w;
		k->off += (size_t)w;
		d->queued -= (size_t)w;
		if (d->eff.slice_avg > 0) {
			d->piece_left -=
			    (size_t)w; /* w <= want <= piece_left */
			if (d->piece_left == 0)
				d->piece_due =
				    now + d->eff.slice_delay_us / 1e6;
		}
		if (k->off == k->len) {
			d->head = k->next;
			if (d->head == NULL)
				d->tail = NULL;
			ekl_free(k);
		}
		if (d->sent >= d->eff.limit_end) {
			/* Invariant 5: exactly the limit went through. */
			pconn_close(c, CLOSE_FIN, "limit_data reached");
			return false;
		}
	}
	proxy_io_want(loop, &d->dst->wio, blocked);
	if (d->head == NULL && d->eof && !d->shut) {
		ev_tstamp fin_at;

		if (d->fin_ready == 0)
			d->fin_ready = now;
		fin_at = d->fin_ready + d->eff.slow_close_ms / 1000.0;
		if (fin_at > now + DUE_SLACK) {
			proxy_timer_arm(loop, &d->fin, fin_at - now);
		} else {
			shutdown(d->dst->fd, SHUT_WR);
			d->shut = true;
			if (c->dir[!d->which].shut) {
				pconn_close(c, CLOSE_FIN, "both sides closed");
				return false;
			}
		}
	}
	proxy_io_want(loop, &d->src->rio, !d->eof && d->queued < PROXY_DIR_MAX);
	return true;
}

static bool pconn_pump(struct pconn *c)
{
	return dir_pump(&c->dir[DIR_TO_TARGET]) &&
	       dir_pump(&c->dir[DIR_TO_CLIENT]);
}

/* Read and drop what s sends: a new connection swallowed by a blackhole
 * closes at its EOF; a cut direction d (one-way down) just notes it. */
static void read_discard(struct pconn *c, struct pside *s, struct pdir *d)
{
	char buf[PROXY_CHUNK];
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (c->state == PC_DISCARDING) {
		if (n <= 0)
			pconn_close(c, CLOSE_FIN, "client left a blackhole");
		return;
	}
	if (n < 0) {
		pconn_close(c, CLOSE_RST,
			    s == &c->client ? "client failed"
					    : "target failed");
		return;
	}
	if (n == 0) {
		d->eof = true;
		ev_io_stop(c->route->proxy->loop, &s->rio);
	}
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
	if (c->state == PC_DISCARDING ||
	    (c->state == PC_FORWARDING && d->cut)) {
		read_discard(c, s, d);
		return;
	}
	if (c->state != PC_FORWARDING || d->held) {
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
	k->due = fault_due_time(d, ev_now(loop));
	if (d->tail != NULL)
		d->tail->next = k;
	else
		d->head = k;
	d->tail = k;
	d->queued += (size_t)n;
	(void)dir_pump(d);
}

static void conn_apply(struct proxy *p, struct pconn *c);

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
	/* What waited for a connected target (a one-way down or reset)
	 * happens now; then the bytes flow. */
	conn_apply(r->proxy, c);
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

static void on_lat(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)dir_pump(container_of(w, struct pdir, lat));
}

static void on_bw(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)dir_pump(container_of(w, struct pdir, bw));
}

static void on_fin(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)dir_pump(container_of(w, struct pdir, fin));
}

static void on_tmo(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pconn *c = container_of(w, struct pconn, tmo);

	(void)loop;
	(void)revents;
	pconn_close(c, CLOSE_FIN, "timeout fault ended it");
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
	d->eff.limit_end = UINT64_MAX;
	ev_init(&d->lat, on_lat);
	ev_init(&d->bw, on_bw);
	ev_init(&d->fin, on_fin);
}

/* Blackhole both ways: nothing moves; both sockets stay open, queues are
 * kept. */
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
	ev_timer_stop(loop, &c->tmo);
	c->tmo_ms = 0;
}

/* Arm (or stop) c's timeout: the shortest of its directions' timeouts
 * that end, counted from when it began to act. */
static void conn_timeout(struct ev_loop *loop, struct pconn *c)
{
	unsigned ms = 0;
	int i;

	for (i = 0; i < 2; i++) {
		const struct dir_eff *e = &c->dir[i].eff;

		if (e->block == BLOCK_TIMEOUT && e->timeout_ms > 0 &&
		    (ms == 0 || e->timeout_ms < ms))
			ms = e->timeout_ms;
	}
	if (ms == c->tmo_ms)
		return;
	c->tmo_ms = ms;
	if (ms == 0)
		ev_timer_stop(loop, &c->tmo);
	else
		proxy_timer_arm(loop, &c->tmo, ms / 1000.0);
}

/* Invariant 1 for one connection: its directions from the faults that
 * act on it, and the connection brought in line. May close c. */
static void conn_apply(struct proxy *p, struct pconn *c)
{
	struct ev_loop *loop = p->loop;
	struct pdir *up = &c->dir[DIR_TO_TARGET], *dn = &c->dir[DIR_TO_CLIENT];
	enum close_how how_c, how_t;
	int i;

	conn_compute(p, c, DIR_TO_TARGET, &up->eff);
	conn_compute(p, c, DIR_TO_CLIENT, &dn->eff);
	how_c = dn->eff.block == BLOCK_RESET ? CLOSE_RST : CLOSE_FIN;
	how_t = up->eff.block == BLOCK_RESET ? CLOSE_RST : CLOSE_FIN;
	if (up->eff.block >= BLOCK_DOWN && dn->eff.block >= BLOCK_DOWN) {
		pconn_close2(c, how_c, how_t, "down or reset both ways");
		return;
	}
	if (c->state == PC_DISCARDING) {
		/* Its first bytes are gone: the stream cannot be resumed.
		 * The client sees a FIN and redials. */
		if (up->eff.block != BLOCK_BLACKHOLE ||
		    dn->eff.block != BLOCK_BLACKHOLE)
			pconn_close(c, CLOSE_FIN, "blackhole lifted");
		return;
	}
	if (up->eff.block == BLOCK_BLACKHOLE &&
	    dn->eff.block == BLOCK_BLACKHOLE) {
		if (c->state != PC_HELD)
			pconn_hold(c);
		return;
	}
	if (c->state == PC_HELD) {
		if (!pconn_set_state(c, c->held_in)) {
			pconn_close(c, CLOSE_RST, "internal error");
			return;
		}
		if (c->state == PC_CONNECTING) /* a finished connect reports */
			ev_io_start(loop, &c->target.wio);
	}
	/* A reset one way needs the target connected: it gets the RST. */
	if (c->state == PC_FORWARDING &&
	    (how_c == CLOSE_RST || how_t == CLOSE_RST)) {
		pconn_close2(c, how_c, how_t, "reset one way");
		return;
	}
	for (i = 0; i < 2; i++)
		if (c->dir[i].sent >= c->dir[i].eff.limit_end) {
			pconn_close(c, CLOSE_FIN, "limit_data reached");
			return;
		}
	for (i = 0; i < 2; i++) {
		struct pdir *d = &c->dir[i];

		d->held = d->eff.block == BLOCK_BLACKHOLE ||
			  d->eff.block == BLOCK_TIMEOUT;
		if (c->state == PC_FORWARDING && d->eff.block == BLOCK_DOWN &&
		    !d->cut && !dir_cut(d))
			return;
		if (d->eff.latency_ms == 0 && d->eff.jitter_ms == 0) {
			struct chunk *k;

			for (k = d->head; k != NULL; k = k->next)
				k->due = 0;
			d->last_due = 0;
		}
		if (d->eff.slice_avg == 0) {
			d->piece_left = 0;
			d->piece_due = 0;
		}
	}
	conn_timeout(loop, c);
	if (c->state == PC_FORWARDING)
		(void)pconn_pump(c);
}

/* A target given by name: its address as last looked up (never blocks:
 * resolve.h). */
static int route_resolve(struct route *r, char *err)
{
	char why[EKL_ERRLEN];

	if (r->resolver == NULL)
		return 0;
	if (resolve_get(r->resolver, &r->target, why) != 0)
		return ekl_errf(err, EKL_EADDR, "target %s: %s", r->target_text,
				why);
	return 0;
}

/* A connection accepted on r: draw which faults act on it; closed at once
 * when both ways are down or reset, swallowed (DISCARDING) when both ways
 * are blackholed, else dial the target (CONNECTING). Takes fd. */
static void pconn_new(struct route *r, int fd)
{
	struct proxy *p = r->proxy;
	struct ev_loop *loop = p->loop;
	char err[EKL_ERRLEN];
	struct pconn *c = ekl_calloc(1, sizeof(*c));
	const struct fault *f;
	struct dir_eff up, dn;
	int tfd = -1;

	if (c == NULL) {
		ekl_warn("route %s: out of memory: connection dropped",
			 r->name);
		close_rst(fd);
		return;
	}
	c->route = r;
	for (f = p->faults; f != NULL; f = f->next)
		if (fault_covers(f, r) && fault_draw(p, f))
			c->applies |= UINT64_C(1) << f->slot;
	conn_compute(p, c, DIR_TO_TARGET, &up);
	conn_compute(p, c, DIR_TO_CLIENT, &dn);
	if (up.block >= BLOCK_DOWN && dn.block >= BLOCK_DOWN) {
		r->refused++;
		fd_close(fd, dn.block == BLOCK_RESET ? CLOSE_RST : CLOSE_FIN);
		ekl_free(c);
		return;
	}
	c->state = up.block == BLOCK_BLACKHOLE && dn.block == BLOCK_BLACKHOLE
		       ? PC_DISCARDING
		       : PC_CONNECTING;
	if (c->state == PC_CONNECTING &&
	    (route_resolve(r, err) != 0 ||
	     addr_connect(&r->target, &tfd, err) != 0)) {
		ekl_debug("route %s: %s", r->name, err);
		ekl_free(c);
		close_rst(fd);
		return;
	}
	c->id = ++r->next_id;
	side_init(c, &c->client, fd);
	side_init(c, &c->target, tfd);
	dir_init(c, DIR_TO_TARGET);
	dir_init(c, DIR_TO_CLIENT);
	ev_init(&c->tmo, on_tmo);
	addr_nodelay(fd);
	c->next = r->conns;
	r->conns = c;
	r->n_conns++;
	if (c->state == PC_CONNECTING)
		ev_io_start(loop, &c->target.wio); /* writable = connected */
	else
		ev_io_start(loop, &c->client.rio);
	ekl_debug("route %s: conn %llu accepted (%s)", r->name, c->id,
		  pconn_state_name(c->state));
	conn_apply(p, c);
}

/* ---- routes ---- */

void route_apply(struct proxy *p, struct route *r)
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
	if (r->eff.state != old.state)
		ekl_info("route %s: %s", r->name,
			 route_state_name(r->eff.state));
	for (c = r->conns; c != NULL; c = next) {
		next = c->next; /* c may be freed below; only c */
		conn_apply(p, c);
	}
}

void route_fault_added(struct proxy *p, struct route *r, const struct fault *f)
{
	struct pconn *c;

	for (c = r->conns; c != NULL; c = c->next)
		if (fault_draw(p, f)) {
			c->applies |= UINT64_C(1) << f->slot;
			c->base[f->slot][0] = c->dir[0].sent;
			c->base[f->slot][1] = c->dir[1].sent;
		}
	route_apply(p, r);
}

void route_fault_removed(struct proxy *p, struct route *r, unsigned slot)
{
	struct pconn *c;

	(void)p;
	for (c = r->conns; c != NULL; c = c->next)
		c->applies &= ~(UINT64_C(1) << slot);
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
				proxy_timer_arm(loop, &r->accept_pause,
						ACCEPT_PAUSE);
			}
			return;
		}
		r->accepted++;
		pconn_new(r, fd);
	}
}

void route_free(struct proxy *p, struct route *r)
{
	if (r == NULL)
		return;
	while (r->conns != NULL)
		pconn_close(r->conns, CLOSE_FIN, "proxy stopping");
	ev_io_stop(p->loop, &r->accept_w);
	ev_timer_stop(p->loop, &r->accept_pause);
	if (r->fd >= 0)
		close(r->fd);
	resolve_free(r->resolver);
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
	if (rv == 0 && target_name(comma + 1, r) != 0)
		rv = addr_parse(comma + 1, &r->target, err);
	if (rv != 0) {
		char detail[EKL_ERRLEN];

		snprintf(detail, sizeof(detail), "%s", err);
		rv = ekl_errf(err, EKL_ECONFIG, "--route %s: %s", r->name,
			      detail);
		goto err_after_alloc;
	}
	addr_format(&r->listen, r->listen_text, sizeof(r->listen_text));
	if (r->target_host[0] == '\0')
		addr_format(&r->target, r->target_text, sizeof(r->target_text));
	else if ((rv = resolve_start(r->target_host, r->target_port,
				     &r->resolver, err)) != 0)
		goto err_after_alloc;
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
	resolve_free(r->resolver);
	ekl_free(r);
	return rv;
}
