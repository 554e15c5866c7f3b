/* admin_tls.c: the network admin channel (--admin-listen).
 *
 * The happy path: each TLS connection is a relay (admintls.h) between its
 * TCP socket and one end of a socketpair whose other end linesrv serves
 * like any admin client: the commands, limits and ordering are the
 * socket's. The socketpair exists only once the handshake accepted the
 * client's certificate (the admin rule); before that no byte reaches
 * linesrv.
 * The failure modes: a certificate the admin rule refuses, or a handshake
 * that has not completed within ADMIN_TLS_HANDSHAKE_S, drops the
 * connection with a warning naming the client; so does a socketpair or
 * linesrv_adopt failure.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_int.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "ekulab/x509/admintls.h"

#define ADMIN_TLS_HANDSHAKE_S 10.0

struct admin_tconn {
	struct admin *a;	      /* not owned */
	struct admintls_relay *relay; /* owned: both sockets */
	int net_fd;		      /* the relay's */
	int plain_fd;		      /* the relay's; -1 before the handshake */
	ev_io net_w;
	ev_io plain_w;
	ev_timer hs_timer;
	char from[96];
	struct admin_tconn *prev;
	struct admin_tconn *next;
};

static void tconn_free(struct admin_tconn *t)
{
	struct ev_loop *loop = t->a->env.loop;

	ev_io_stop(loop, &t->net_w);
	ev_io_stop(loop, &t->plain_w);
	ev_timer_stop(loop, &t->hs_timer);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		t->a->tconns = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	admintls_relay_free(t->relay);
	ekl_free(t);
}

/* (Re)arm watcher w on fd for poll events ev (0: stopped). */
static void arm(struct ev_loop *loop, ev_io *w, int fd, short ev)
{
	int want =
	    ((ev & POLLIN) ? EV_READ : 0) | ((ev & POLLOUT) ? EV_WRITE : 0);

	if (ev_is_active(w) && w->fd == fd &&
	    (w->events & (EV_READ | EV_WRITE)) == want)
		return;
	ev_io_stop(loop, w);
	if (want == 0 || fd < 0)
		return;
	ev_io_set(w, fd, want);
	ev_io_start(loop, w);
}

/* Move what can be moved; free t when it is over. */
static void tconn_pump(struct admin_tconn *t)
{
	struct ev_loop *loop = t->a->env.loop;
	enum admintls_step st;
	short nev, pev;
	int sv[2];
	char err[EKL_ERRLEN];

	st = admintls_relay_pump(t->relay, &nev, &pev);
	if (st == ADMINTLS_AGAIN && t->plain_fd < 0 &&
	    admintls_relay_up(t->relay)) {
		/* Accepted: from now on an admin client like the socket's. */
		ev_timer_stop(loop, &t->hs_timer);
		if (socketpair(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       sv) != 0) {
			ekl_warn("--admin-listen %s: %s: socketpair: %s",
				 t->a->tls_listen, t->from, strerror(errno));
			tconn_free(t);
			return;
		}
		if (linesrv_adopt(t->a->srv, sv[0], err) != 0) {
			close(sv[1]);
			ekl_warn("--admin-listen %s: %s: %s", t->a->tls_listen,
				 t->from, err);
			tconn_free(t);
			return;
		}
		t->plain_fd = sv[1];
		admintls_relay_attach(t->relay, sv[1]);
		ekl_info("--admin-listen %s: admin client '%s' from %s",
			 t->a->tls_listen, admintls_relay_peer(t->relay),
			 t->from);
		st = admintls_relay_pump(t->relay, &nev, &pev);
	}
	if (st == ADMINTLS_FAILED) {
		if (!admintls_relay_up(t->relay))
			ekl_warn("--admin-listen %s: refused %s: %s",
				 t->a->tls_listen, t->from,
				 admintls_relay_error(t->relay));
		tconn_free(t);
		return;
	}
	if (st == ADMINTLS_DONE) {
		tconn_free(t);
		return;
	}
	arm(loop, &t->net_w, t->net_fd, nev);
	arm(loop, &t->plain_w, t->plain_fd, pev);
}

static void on_tconn_net(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	tconn_pump(container_of(w, struct admin_tconn, net_w));
}

static void on_tconn_plain(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	tconn_pump(container_of(w, struct admin_tconn, plain_w));
}

static void on_tconn_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct admin_tconn *t = container_of(w, struct admin_tconn, hs_timer);

	(void)loop;
	(void)revents;
	ekl_warn("--admin-listen %s: refused %s: no TLS handshake within "
		 "%.0f s",
		 t->a->tls_listen, t->from, ADMIN_TLS_HANDSHAKE_S);
	tconn_free(t);
}

static void on_tls_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin *a = container_of(w, struct admin, tls_accept_w);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct admin_tconn *t;
	struct addr peer;
	char err[EKL_ERRLEN];
	int fd;

	(void)revents;
	fd = accept4(a->tls_fd, (struct sockaddr *)&ss, &sl,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	t = ekl_calloc(1, sizeof(*t));
	if (t == NULL) {
		close(fd);
		return;
	}
	t->a = a;
	t->net_fd = fd;
	t->plain_fd = -1;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.ss, &ss, sl);
	peer.len = sl;
	addr_format(&peer, t->from, sizeof(t->from));
	if (admintls_relay_new(a->tls, fd, true, NULL, &t->relay, err) != 0) {
		ekl_warn("--admin-listen %s: %s: %s", a->tls_listen, t->from,
			 err);
		ekl_free(t);
		return;
	}
	ev_io_init(&t->net_w, on_tconn_net, fd, EV_READ);
	ev_io_init(&t->plain_w, on_tconn_plain, fd, EV_READ);
	ev_timer_init(&t->hs_timer, on_tconn_timeout, ADMIN_TLS_HANDSHAKE_S, 0);
	ev_timer_start(loop, &t->hs_timer);
	t->next = a->tconns;
	if (a->tconns != NULL)
		a->tconns->prev = t;
	a->tconns = t;
	tconn_pump(t);
}

int admin_tls_start(struct admin *a, char *err)
{
	const struct admin_env *e = &a->env;
	int rv;

	snprintf(a->tls_listen, sizeof(a->tls_listen), "%s",
		 e->tls_listen_text != NULL ? e->tls_listen_text : "?");
	rv = admintls_ctx_new(&e->tls_files, true, &a->tls, err);
	if (rv != 0)
		return rv;
	rv = addr_listen(e->tls_listen, &a->tls_fd, err);
	if (rv != 0) {
		char msg[EKL_ERRLEN];

		snprintf(msg, sizeof(msg), "%s", err);
		return ekl_errf(err, rv, "--admin-listen %s: %s", a->tls_listen,
				msg);
	}
	ev_io_init(&a->tls_accept_w, on_tls_accept, a->tls_fd, EV_READ);
	ev_io_start(e->loop, &a->tls_accept_w);
	return 0;
}

int admin_tls_port(const struct admin *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (a->tls_fd < 0 ||
	    getsockname(a->tls_fd, (struct sockaddr *)&ss, &sl) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void admin_tls_stop(struct admin *a)
{
	while (a->tconns != NULL)
		tconn_free(a->tconns);
	if (a->tls_fd >= 0) {
		ev_io_stop(a->env.loop, &a->tls_accept_w);
		close(a->tls_fd);
		a->tls_fd = -1;
	}
	SSL_CTX_free(a->tls);
	a->tls = NULL;
}
