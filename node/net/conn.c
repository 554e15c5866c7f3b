/* conn.c: one peer connection: TCP connect, TLS handshake, Hello, heartbeats.
 *
 * The happy path: (outbound) a non-blocking connect completes; the TLS
 * handshake runs on the read/write watchers; both ends send Hello; after a
 * valid Hello the connection is UP and heartbeats flow every heartbeat_ms.
 *
 * The failure modes: connect refused or timed out; the handshake fails
 * (we reject the peer's certificate, or the peer rejects ours: TLS alert);
 * in TLS 1.3 the acceptor's rejection reaches the initiator only after its
 * handshake completed, on the first read; a Hello from another cluster, an
 * unknown node or a node whose certificate names someone else; an
 * oversized, zero-length or undecodable frame; no frame for dead_ms; no
 * Hello within handshake_ms of the conn's creation (a deadline: bytes that
 * trickle in do not extend it). Each ends in conn_fail(), which records a
 * struct conn_err, stops the watchers and tells the owner from the loop (a
 * zero timer), so an owner may free the conn inside its callback. Our own
 * refusals and timeouts first say why in a Bye and close TLS, so the peer
 * records our reason rather than a broken connection. conn_free() hands a
 * socket on which TLS ran to env->linger, so a closing peer still receives
 * our alert or Bye instead of a reset.
 *
 * A peer that sends without pause gets one read budget (CONN_READ_FRAMES /
 * CONN_READ_BYTES) per loop iteration: do_read() stops there and the
 * resume timer (0 s) goes on in the next iteration, after every other
 * watcher had its turn.
 *
 * Everything from outside comes through the struct conn_env (conn.h): the
 * loop, the TLS context, our Hello values, the timers, known_peer() and
 * linger(). This file includes nothing of the node above it.
 */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"

#define PROTO_VERSION 1

const char *conn_state_name(enum conn_state s)
{
	static const char *names[] = {"connecting", "handshake", "hello", "up",
				      "closed"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The legal moves of the state machine (see conn.h). */
bool conn_transition_ok(enum conn_state from, enum conn_state to)
{
	switch (to) {
	case CONN_HANDSHAKE: return from == CONN_CONNECTING;
	case CONN_HELLO: return from == CONN_HANDSHAKE;
	case CONN_UP: return from == CONN_HELLO;
	case CONN_CLOSED: return from != CONN_CLOSED;
	case CONN_CONNECTING: return false;
	}
	return false;
}

static void conn_set_state(struct conn *c, enum conn_state to)
{
	if (!conn_transition_ok(c->state, to)) {
		ekl_error("internal: conn %s: illegal move %s -> %s", c->remote,
			  conn_state_name(c->state), conn_state_name(to));
		return;
	}
	c->state = to;
	c->since = ev_now(c->env->loop);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents);
static void on_idle(struct ev_loop *loop, ev_timer *w, int revents);
static void on_hb(struct ev_loop *loop, ev_timer *w, int revents);
static void on_notify(struct ev_loop *loop, ev_timer *w, int revents);
static void on_resume(struct ev_loop *loop, ev_timer *w, int revents);

/* Record why and stop; the owner hears about it from the loop. */
static void conn_fail(struct conn *c, const char *code, int depth,
		      enum pol_side side, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void conn_fail(struct conn *c, const char *code, int depth,
		      enum pol_side side, const char *fmt, ...)
{
	struct ev_loop *loop = c->env->loop;
	va_list ap;

	if (c->state == CONN_CLOSED)
		return;
	snprintf(c->err.code, sizeof(c->err.code), "%s", code);
	c->err.depth = depth;
	c->err.side = side;
	va_start(ap, fmt);
	vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
	va_end(ap);
	c->err.at = ev_now(loop);
	c->failed_in = c->state;
	conn_set_state(c, CONN_CLOSED);
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->hb);
	ev_timer_stop(loop, &c->idle);
	ev_timer_stop(loop, &c->resume);
	/* Tell the owner from the loop: the idle timer, re-armed at 0. */
	ev_init(&c->idle, on_notify);
	ev_timer_set(&c->idle, 0., 0.);
	ev_timer_start(loop, &c->idle);
}

static void on_notify(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, idle);

	(void)loop;
	(void)revents;
	c->ops->closed(c); /* may free c: touch nothing after */
}

/* Fail from a TLS_IO_FATAL/CLOSED result, explaining who rejected what. */
static void conn_fail_tls(struct conn *c, enum tls_io r, const char *during)
{
	struct tls_failure f;

	tls_conn_failure(c->tls, &f);
	if (f.code != POL_OK) {
		conn_fail(c, pol_code_name(f.code), f.depth, f.side, "%s: %s",
			  during, f.message);
		return;
	}
	if (r == TLS_IO_CLOSED)
		conn_fail(c, "closed", -1, POL_SIDE_NONE,
			  "%s: peer closed the connection", during);
	else
		conn_fail(c, "tls", -1, POL_SIDE_NONE, "%s: %s", during,
			  f.message);
}

/* Watchers follow what TLS wants: read always, write when needed. */
static void want_write(struct conn *c, bool on)
{
	if (on && !ev_is_active(&c->wio))
		ev_io_start(c->env->loop, &c->wio);
	else if (!on && ev_is_active(&c->wio))
		ev_io_stop(c->env->loop, &c->wio);
}

static int conn_alloc(const struct conn_env *env, const struct conn_ops *ops,
		      void *owner, int fd, enum pol_side side,
		      struct conn **out, char *err)
{
	struct conn *c = ekl_calloc(1, sizeof(*c));

	if (c == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	c->env = env;
	c->ops = ops;
	c->owner = owner;
	c->side = side;
	c->failed_in = CONN_CLOSED;
	c->fd = fd;
	c->since = ev_now(env->loop);
	c->err.depth = -1;
	frame_dec_init(&c->dec, FRAME_MAX_DEFAULT);
	ev_io_init(&c->rio, on_io, fd, EV_READ);
	ev_io_init(&c->wio, on_io, fd, EV_WRITE);
	ev_init(&c->idle, on_idle);
	ev_init(&c->hb, on_hb);
	ev_timer_init(&c->resume, on_resume, 0., 0.);
	*out = c;
	return 0;
}

/* (Re)arm the idle timer for `after` seconds from now. The loop's clock
 * is brought up to date first: a callback that ran for a while must not
 * arm a timer that is already partly spent. */
static void idle_arm(struct conn *c, double after)
{
	ev_now_update(c->env->loop);
	c->idle.repeat = after;
	ev_timer_again(c->env->loop, &c->idle);
}

static int start_tls(struct conn *c, char *err)
{
	int rv = tls_conn_new(c->env->tls, c->fd, c->side,
			      c->side == POL_SIDE_INITIATOR ? c->expect : NULL,
			      &c->tls, err);

	/* do_read reads until TLS_IO_WANT_READ (or resumes itself). */
	if (rv == 0)
		tls_read_ahead(c->tls);
	return rv;
}

int conn_dial(const struct conn_env *env, const struct conn_ops *ops,
	      void *owner, const struct addr *addr, const char *expect,
	      struct conn **out, char *err)
{
	struct conn *c = NULL;
	int fd, rv;

	rv = addr_connect(addr, &fd, err);
	if (rv != 0)
		return rv;
	rv = conn_alloc(env, ops, owner, fd, POL_SIDE_INITIATOR, &c, err);
	if (rv != 0) {
		close(fd);
		return rv;
	}
	snprintf(c->expect, sizeof(c->expect), "%s", expect);
	addr_format(addr, c->remote, sizeof(c->remote));
	c->state = CONN_CONNECTING;
	ev_io_start(env->loop, &c->wio); /* writable = connect finished */
	idle_arm(c, env->handshake_ms / 1000.0);
	*out = c;
	return 0;
}

int conn_accept(const struct conn_env *env, const struct conn_ops *ops,
		void *owner, int fd, const char *remote, struct conn **out,
		char *err)
{
	struct conn *c = NULL;
	int rv;

	rv = conn_alloc(env, ops, owner, fd, POL_SIDE_ACCEPTOR, &c, err);
	if (rv != 0) {
		close(fd);
		return rv;
	}
	snprintf(c->remote, sizeof(c->remote), "%s", remote);
	rv = start_tls(c, err);
	if (rv != 0) {
		conn_free(c);
		return rv;
	}
	c->state = CONN_HANDSHAKE;
	ev_io_start(env->loop, &c->rio);
	idle_arm(c, env->handshake_ms / 1000.0);
	*out = c;
	return 0;
}

/* Queue one message; flushing happens in flush(). */
static int queue_env(struct conn *c, const Ekl__Envelope *env)
{
	uint8_t *buf;
	size_t len;
	int rv;

	rv = frame_pack(env, FRAME_MAX_DEFAULT, &buf, &len);
	if (rv != 0)
		return rv;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *nb;

		while (cap < c->out_len + len)
			cap *= 2;
		nb = ekl_realloc(c->out, cap);
		if (nb == NULL) {
			ekl_free(buf);
			return EKL_ENOMEM;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	ekl_free(buf);
	return 0;
}

/* Write what is queued; returns false when the conn failed. */
static bool flush(struct conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		size_t n = 0;
		enum tls_io r =
		    tls_write(c->tls, c->out + off, c->out_len - off, &n);

		if (r == TLS_IO_OK) {
			off += n;
			continue;
		}
		if (r == TLS_IO_WANT_WRITE || r == TLS_IO_WANT_READ)
			break;
		conn_fail_tls(c, r, "write");
		return false;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	want_write(c, c->out_len > 0);
	return true;
}

int conn_send(struct conn *c, const Ekl__Envelope *env)
{
	int rv;

	if (c->state != CONN_UP && c->state != CONN_HELLO)
		return EKL_ECLOSED;
	rv = queue_env(c, env);
	if (rv != 0) {
		conn_fail(c, "protocol", -1, POL_SIDE_NONE,
			  "cannot send a message: %s", ekl_strerror(rv));
		return rv;
	}
	(void)flush(c);
	return 0;
}

static void send_hello(struct conn *c)
{
	const struct conn_env *e = c->env;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Hello hello = EKL__HELLO__INIT;
	char role[2] = {e->role, '\0'};

	hello.proto_version = PROTO_VERSION;
	hello.cluster = (char *)e->cluster;
	hello.node = (char *)e->name;
	hello.version = (char *)e->version;
	hello.role = role;
	env.msg_case = EKL__ENVELOPE__MSG_HELLO;
	env.hello = &hello;
	if (queue_env(c, &env) != 0)
		conn_fail(c, "protocol", -1, POL_SIDE_NONE,
			  "cannot encode Hello");
}

static void send_bye(struct conn *c, const char *code, const char *message)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Bye bye = EKL__BYE__INIT;

	bye.code = (char *)code;
	bye.message = (char *)message;
	env.msg_case = EKL__ENVELOPE__MSG_BYE;
	env.bye = &bye;
	if (queue_env(c, &env) == 0)
		(void)flush(c);
}

/* Refuse the peer: tell it why (Bye), then fail locally. */
static void refuse(struct conn *c, const char *code, const char *message)
{
	send_bye(c, code, message);
	tls_shutdown(c->tls);
	conn_fail(c, code, -1, POL_SIDE_NONE, "%s", message);
}

static void on_hello(struct conn *c, const Ekl__Hello *h)
{
	const struct conn_env *e = c->env;
	char msg[256];

	if (h->proto_version != PROTO_VERSION) {
		snprintf(msg, sizeof(msg),
			 "peer speaks protocol %u, we speak %u",
			 h->proto_version, PROTO_VERSION);
		refuse(c, "protocol", msg);
		return;
	}
	if (strcmp(h->cluster, e->cluster) != 0) {
		snprintf(msg, sizeof(msg),
			 "peer %.60s is in cluster '%.60s', we are in '%.60s'",
			 h->node, h->cluster, e->cluster);
		refuse(c, "wrong-cluster", msg);
		return;
	}
	if (!e->known_peer(e->arg, h->node)) {
		snprintf(msg, sizeof(msg),
			 "node '%.60s' is not one of our configured peers",
			 h->node);
		refuse(c, "unknown-peer", msg);
		return;
	}
	if (c->side == POL_SIDE_INITIATOR &&
	    strcasecmp(h->node, c->expect) != 0) {
		snprintf(msg, sizeof(msg),
			 "we dialled %.60s but node '%.60s' answered",
			 c->expect, h->node);
		refuse(c, "identity-mismatch", msg);
		return;
	}
	if (e->verify == POL_ENFORCE &&
	    !tls_conn_peer_matches(c->tls, h->node)) {
		snprintf(msg, sizeof(msg),
			 "node says it is '%.60s' but its certificate names "
			 "'%.60s'",
			 h->node, tls_conn_verify(c->tls)->claimed);
		refuse(c, "identity-mismatch", msg);
		return;
	}
	snprintf(c->peer_name, sizeof(c->peer_name), "%s", h->node);
	snprintf(c->peer_version, sizeof(c->peer_version), "%s", h->version);
	snprintf(c->peer_role, sizeof(c->peer_role), "%s", h->role);
	conn_set_state(c, CONN_UP);
	idle_arm(c, e->dead_ms / 1000.0); /* also brings ev_now up to date */
	ev_timer_set(&c->hb, e->heartbeat_ms / 1000.0,
		     e->heartbeat_ms / 1000.0);
	ev_timer_start(e->loop, &c->hb);
	c->ops->up(c);
}

static void on_frame(struct conn *c, const Ekl__Envelope *env)
{
	switch (env->msg_case) {
	case EKL__ENVELOPE__MSG_HELLO:
		if (c->state != CONN_HELLO) {
			refuse(c, "protocol", "second Hello on a link");
			return;
		}
		on_hello(c, env->hello);
		return;
	case EKL__ENVELOPE__MSG_HEARTBEAT:
		if (c->state != CONN_UP)
			refuse(c, "protocol", "heartbeat before Hello");
		return;
	case EKL__ENVELOPE__MSG_BYE:
		conn_fail(c, env->bye->code[0] ? env->bye->code : "closed", -1,
			  POL_SIDE_NONE, "peer closed the link: %s",
			  env->bye->message);
		return;
	default: {
		char msg[128];

		if (c->state == CONN_UP && c->ops->frame != NULL) {
			c->ops->frame(c, env);
			return;
		}
		snprintf(msg, sizeof(msg),
			 c->state == CONN_UP
			     ? "unexpected message (kind %d): nothing on this "
			       "link takes it"
			     : "unexpected message (kind %d) before Hello",
			 (int)env->msg_case);
		refuse(c, "protocol", msg);
		return;
	}
	}
}

/* The read budget is used up: stop reading the socket, go on from the
 * loop's next iteration (on_resume). */
static void resume_later(struct conn *c)
{
	ev_io_stop(c->env->loop, &c->rio);
	if (!ev_is_active(&c->resume))
		ev_timer_start(c->env->loop, &c->resume);
}

/* Handle the frames already decoded, then read and handle more, until the
 * socket has nothing for us or the budget (CONN_READ_FRAMES frames,
 * CONN_READ_BYTES bytes) is used up. */
static void do_read(struct conn *c)
{
	uint8_t buf[16384];
	size_t bytes = 0;
	int frames = 0;

	for (;;) {
		Ekl__Envelope *env = NULL;
		enum frame_res fr;
		size_t n = 0;
		enum tls_io r;

		for (;;) {
			if (frames >= CONN_READ_FRAMES) {
				resume_later(c);
				return;
			}
			fr = frame_dec_next(&c->dec, &env);
			if (fr != FRAME_READY)
				break;
			frames++;
			c->frames_in++;
			on_frame(c, env);
			ekl__envelope__free_unpacked(env, NULL);
			if (c->state == CONN_CLOSED)
				return;
		}
		if (fr != FRAME_NEED_MORE) {
			refuse(c, "protocol", frame_res_name(fr));
			return;
		}
		if (bytes >= CONN_READ_BYTES) {
			resume_later(c);
			return;
		}
		r = tls_read(c->tls, buf, sizeof(buf), &n);
		if (r == TLS_IO_WANT_READ)
			return;
		if (r == TLS_IO_WANT_WRITE) {
			want_write(c, true);
			return;
		}
		if (r != TLS_IO_OK) {
			conn_fail_tls(c, r,
				      c->state == CONN_HELLO
					  ? "waiting for Hello"
					  : "read");
			return;
		}
		if (frame_dec_feed(&c->dec, buf, n) == EKL_ENOMEM) {
			conn_fail(c, "protocol", -1, POL_SIDE_NONE,
				  "out of memory buffering a frame");
			return;
		}
		bytes += n;
		/* Once UP, any bytes show the link is alive. Before, the
		 * handshake timer is a deadline: it is never re-armed. */
		if (c->state == CONN_UP)
			idle_arm(c, c->env->dead_ms / 1000.0);
	}
}

static void on_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, resume);

	(void)revents;
	if (c->state != CONN_HELLO && c->state != CONN_UP)
		return;
	ev_io_start(loop, &c->rio);
	if (c->out_len > 0 && !flush(c))
		return;
	do_read(c);
}

static void do_handshake(struct conn *c)
{
	enum tls_io r = tls_handshake(c->tls);

	switch (r) {
	case TLS_IO_WANT_READ: want_write(c, false); return;
	case TLS_IO_WANT_WRITE: want_write(c, true); return;
	case TLS_IO_OK:
		conn_set_state(c, CONN_HELLO);
		ekl_debug("%s %s: TLS up (%s %s)",
			  c->side == POL_SIDE_INITIATOR ? "to" : "from",
			  c->remote, tls_conn_version(c->tls),
			  tls_conn_cipher(c->tls));
		send_hello(c);
		if (c->state == CONN_CLOSED || !flush(c))
			return;
		do_read(c);
		return;
	default: conn_fail_tls(c, r, "TLS handshake"); return;
	}
}

static void on_connect_ready(struct conn *c)
{
	char err[EKL_ERRLEN];
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr != 0) {
		conn_fail(c, "connect-failed", -1, POL_SIDE_NONE,
			  "connect %s: %s", c->remote, strerror(soerr));
		return;
	}
	if (start_tls(c, err) != 0) {
		conn_fail(c, "tls", -1, POL_SIDE_NONE, "%s", err);
		return;
	}
	conn_set_state(c, CONN_HANDSHAKE);
	ev_io_start(c->env->loop, &c->rio);
	do_handshake(c);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (w->events & EV_READ)
			     ? container_of(w, struct conn, rio)
			     : container_of(w, struct conn, wio);

	(void)loop;
	(void)revents;
	switch (c->state) {
	case CONN_CONNECTING:
		ev_io_stop(loop, &c->wio);
		on_connect_ready(c);
		return;
	case CONN_HANDSHAKE: do_handshake(c); return;
	case CONN_HELLO:
	case CONN_UP:
		if (c->out_len > 0 && !flush(c))
			return;
		do_read(c);
		return;
	case CONN_CLOSED: return;
	}
}

/* The dead-link timer (UP) or the handshake deadline: close, telling the
 * peer why (Bye, then TLS close_notify) when TLS is up, so that it records
 * a timeout and not a broken connection. */
static void on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, idle);
	char msg[256];

	(void)loop;
	(void)revents;
	if (c->state == CONN_UP)
		snprintf(msg, sizeof(msg),
			 "no frame from %s for %d ms: link dead", c->remote,
			 c->env->dead_ms);
	else
		snprintf(msg, sizeof(msg), "%s with %s did not finish in %g s",
			 conn_state_name(c->state), c->remote,
			 c->env->handshake_ms / 1000.0);
	conn_close(c, "timeout", msg);
}

static void on_hb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, hb);
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Heartbeat hb = EKL__HEARTBEAT__INIT;

	(void)loop;
	(void)revents;
	hb.seq = ++c->hb_seq;
	env.msg_case = EKL__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	if (queue_env(c, &env) != 0) {
		conn_fail(c, "protocol", -1, POL_SIDE_NONE,
			  "cannot queue heartbeat");
		return;
	}
	(void)flush(c);
}

void conn_close(struct conn *c, const char *code, const char *message)
{
	if (c->state == CONN_CLOSED)
		return;
	if (c->state == CONN_HELLO || c->state == CONN_UP)
		send_bye(c, code, message);
	if (c->tls != NULL && c->state != CONN_CONNECTING)
		tls_shutdown(c->tls);
	conn_fail(c, code, -1, POL_SIDE_NONE, "%s", message);
}

void conn_free(struct conn *c)
{
	struct ev_loop *loop;

	if (c == NULL)
		return;
	loop = c->env->loop;
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->idle);
	ev_timer_stop(loop, &c->hb);
	ev_timer_stop(loop, &c->resume);
	/* Once TLS ran, close gracefully so the peer gets our last alert or
	 * Bye instead of a reset. */
	if (c->fd >= 0 && c->tls != NULL && c->env->linger != NULL)
		c->env->linger(c->env->arg, c->fd);
	else if (c->fd >= 0)
		close(c->fd);
	tls_conn_free(c->tls);
	frame_dec_close(&c->dec);
	ekl_free(c->out);
	ekl_free(c);
}
