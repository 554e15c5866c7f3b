/* admin_client.c: the admin protocol's client (adminproto.h): one request,
 * pipelines, and connections for callers that poll themselves. */
#include "admin_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/admintls.h"

#define READ_CHUNK	(64u << 10)
#define CANCEL_CHECK_MS 200
#define PIPE_OUT_HIGH	(64u << 10) /* queued request bytes before poll */

/* ---- targets ---- */

int admin_target_parse(const char *s, struct admin_target *t, char *err)
{
	const char *hp, *slash, *q;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (strncmp(s, ADMIN_TLS_SCHEME, strlen(ADMIN_TLS_SCHEME)) != 0) {
		if (strlen(s) >= sizeof(t->path))
			return ekl_errf(err, EKL_EINVAL,
					"--socket %s: path too long", s);
		snprintf(t->path, sizeof(t->path), "%s", s);
		return 0;
	}
	hp = s + strlen(ADMIN_TLS_SCHEME);
	slash = strchr(hp, '/');
	q = slash != NULL ? strstr(slash, "?pki=") : NULL;
	if (slash == NULL || q == NULL || q == slash + 1 || q[5] == '\0')
		goto bad;
	n = (size_t)(slash - hp);
	if (n == 0 || n >= sizeof(t->host) + 8)
		goto bad;
	{
		char hostport[sizeof(t->host) + 8], *colon;
		char *end;
		long port;

		memcpy(hostport, hp, n);
		hostport[n] = '\0';
		colon = strrchr(hostport, ':');
		if (colon == NULL || colon == hostport)
			goto bad;
		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			goto bad;
		if (hostport[0] == '[' && colon[-1] == ']') {
			colon[-1] = '\0';
			memmove(hostport, hostport + 1, strlen(hostport));
		}
		if (strlen(hostport) >= sizeof(t->host))
			goto bad;
		memcpy(t->host, hostport, strlen(hostport) + 1);
		t->port = (int)port;
	}
	n = (size_t)(q - slash - 1);
	if (n >= sizeof(t->name))
		goto bad;
	memcpy(t->name, slash + 1, n);
	t->name[n] = '\0';
	if (strlen(q + 5) >= sizeof(t->pki))
		goto bad;
	snprintf(t->pki, sizeof(t->pki), "%s", q + 5);
	t->tls = true;
	return 0;
bad:
	return ekl_errf(err, EKL_EINVAL,
			"'%.200s': an admin target is a socket path or "
			"tls://HOST:PORT/NODE?pki=DIR (DIR holds ca-admin.crt, "
			"admin.crt and admin.key)",
			s);
}

/* A non-blocking TCP connection to host:port within ms. */
static int tcp_connect(const struct admin_target *t, int ms, char *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0)
		return ekl_errf(err, EKL_EIO, "admin %s:%d: %s", t->host,
				t->port, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd p;
		socklen_t sl = sizeof(e);

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			p.revents = 0;
			rc = poll(&p, 1, ms);
			if (rc == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) ==
				0 &&
			    e == 0)
				break;
			if (rc == 0)
				e = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO,
				"admin %s:%d (node %s): %s; is the node "
				"running, and its admin port published there?",
				t->host, t->port, t->name, strerror(e));
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Relay threads alive: at exit the process waits a moment for them to
 * end (they do as soon as their caller closed its end), so a session is
 * closed with close_notify and nothing is left allocated. A forked child
 * has none of its parent's threads. */
#define RELAY_EXIT_WAIT_MS 500
static pthread_mutex_t relay_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relay_cv = PTHREAD_COND_INITIALIZER;
static int relay_live;
static pthread_once_t relay_once = PTHREAD_ONCE_INIT;

static void relay_atfork_child(void)
{
	relay_live = 0;
	pthread_mutex_init(&relay_mu, NULL);
	pthread_cond_init(&relay_cv, NULL);
}

static void relay_atexit(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)RELAY_EXIT_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&relay_mu);
	while (relay_live > 0 &&
	       pthread_cond_timedwait(&relay_cv, &relay_mu, &until) == 0)
		;
	pthread_mutex_unlock(&relay_mu);
}

static void relay_init(void)
{
	pthread_atfork(NULL, NULL, relay_atfork_child);
	atexit(relay_atexit);
}

/* The relay's own thread: bytes both ways until either side ends. */
static void *relay_main(void *arg)
{
	struct admintls_relay *r = arg;
	int fds[2];

	admintls_relay_fds(r, &fds[0], &fds[1]);
	for (;;) {
		struct pollfd p[2];
		short nev, pev;

		if (admintls_relay_pump(r, &nev, &pev) != ADMINTLS_AGAIN)
			break;
		p[0].fd = nev ? fds[0] : -1;
		p[0].events = nev;
		p[1].fd = pev ? fds[1] : -1;
		p[1].events = pev;
		p[0].revents = p[1].revents = 0;
		if (nev == 0 && pev == 0)
			break; /* cannot happen once attached */
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
	}
	admintls_relay_free(r);
	/* This thread's OpenSSL state (its error queue) now, not in a
	 * destructor that may run after the process's exit wait. */
	OPENSSL_thread_stop();
	pthread_mutex_lock(&relay_mu);
	relay_live--;
	pthread_cond_broadcast(&relay_cv);
	pthread_mutex_unlock(&relay_mu);
	return NULL;
}

/* TLS to the node's admin port: handshake here (bounded by ms), then a
 * thread relays between the TLS session and a socketpair whose other end
 * is returned, so that every call of this file works on it unchanged. */
static int tls_connect(const struct admin_target *t, int ms, char *err)
{
	char ca[sizeof(t->pki) + 16], cert[sizeof(t->pki) + 16],
	    key[sizeof(t->pki) + 16];
	struct admintls_files f = {ca, cert, key};
	struct admintls_relay *r = NULL;
	SSL_CTX *ctx = NULL;
	long long t0 = now_ms();
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int fd, sv[2], rv;

	snprintf(ca, sizeof(ca), "%s/ca-admin.crt", t->pki);
	snprintf(cert, sizeof(cert), "%s/admin.crt", t->pki);
	snprintf(key, sizeof(key), "%s/admin.key", t->pki);
	if ((rv = admintls_ctx_new(&f, false, &ctx, err)) != 0)
		return rv;
	fd = tcp_connect(t, ms, err);
	if (fd < 0) {
		SSL_CTX_free(ctx);
		return fd;
	}
	rv = admintls_relay_new(ctx, fd, false, t->name, &r, err);
	SSL_CTX_free(ctx); /* the session holds its own reference */
	if (rv != 0)
		return rv;
	while (!admintls_relay_up(r)) {
		struct pollfd p;
		short nev = 0, pev = 0;
		long long left = ms - (now_ms() - t0);

		if (admintls_relay_pump(r, &nev, &pev) != ADMINTLS_AGAIN) {
			rv = ekl_errf(err, EKL_EIO, "admin %s:%d (node %s): %s",
				      t->host, t->port, t->name,
				      admintls_relay_error(r));
			goto err;
		}
		if (admintls_relay_up(r))
			break;
		if (left <= 0) {
			rv = ekl_errf(err, EKL_EIO,
				      "admin %s:%d (node %s): no TLS handshake "
				      "within the timeout (a paused node?)",
				      t->host, t->port, t->name);
			goto err;
		}
		p.fd = fd;
		p.events = nev;
		p.revents = 0;
		(void)poll(&p, 1, (int)left);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rv = ekl_errf(err, EKL_EIO, "socketpair: %s", strerror(errno));
		goto err;
	}
	if (fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK) != 0) {
		rv = ekl_errf(err, EKL_EIO, "fcntl: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		goto err;
	}
	admintls_relay_attach(r, sv[1]);
	pthread_once(&relay_once, relay_init);
	pthread_mutex_lock(&relay_mu);
	relay_live++;
	pthread_mutex_unlock(&relay_mu);
	/* The relay thread takes no signal: they stay the caller's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&th, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		pthread_mutex_lock(&relay_mu);
		relay_live--;
		pthread_mutex_unlock(&relay_mu);
		close(sv[0]);
		rv = ekl_errf(err, EKL_EIO, "admin relay thread: %s",
			      strerror(rv));
		goto err;
	}
	return sv[0];
err:
	admintls_relay_free(r);
	return rv;
}

int admin_client_dial(const struct admin_target *t, int ms, char *err)
{
	if (t->tls)
		return tls_connect(t, ms > 0 ? ms : ADMIN_CLIENT_CONNECT_MS,
				   err);
	return admin_client_connect_unix(t->path, err);
}

int admin_client_connect(const char *target, char *err)
{
	struct admin_target t;
	int rv = admin_target_parse(target, &t, err);

	if (rv != 0)
		return rv;
	return admin_client_dial(&t, 0, err);
}

int admin_client_connect_unix(const char *path, char *err)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ekl_errf(err, EKL_EINVAL, "--socket %s: path too long",
				path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;

		close(fd);
		return ekl_errf(err, EKL_EIO,
				"--socket %s: %s; is the node running and is "
				"this its --admin path?",
				path, strerror(e));
	}
	return fd;
}

static int write_all(int fd, const char *s, size_t n, char *err)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ekl_errf(err, EKL_EIO, "admin socket: write: %s",
					strerror(errno));
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Map a reader result that is not a reply to a code and message. */
static int reader_error(enum adminproto_res res, char *err)
{
	switch (res) {
	case ADMINPROTO_ERR_TOO_BIG:
		return ekl_errf(err, EKL_EPROTO,
				"admin socket: a response over the protocol's "
				"limit of %u bytes",
				ADMINPROTO_BODY_MAX);
	case ADMINPROTO_ERR_NOMEM:
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	default:
		return ekl_errf(err, EKL_EPROTO,
				"admin socket: a malformed response (not 'ok "
				"N' or 'err N')");
	}
}

/* Feed bytes; a bad stream becomes a code and message. */
static int feed(struct adminproto_reader *rd, const char *buf, size_t n,
		char *err)
{
	int rv = adminproto_reader_feed(rd, buf, n);
	struct adminproto_reply r;

	if (rv == EKL_ENOMEM)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	if (rv != 0)
		return reader_error(adminproto_reader_next(rd, &r), err);
	return 0;
}

/* Read exactly one response off fd, never a byte more. */
static int recv_one(int fd, struct adminproto_reply *r, char *err)
{
	struct adminproto_reader rd;
	char buf[READ_CHUNK];
	int rv = 0;

	adminproto_reader_init(&rd, 0);
	for (;;) {
		enum adminproto_res res = adminproto_reader_next(&rd, r);
		size_t need;
		ssize_t n;

		if (res == ADMINPROTO_REPLY)
			break;
		if (res != ADMINPROTO_NEED_MORE) {
			rv = reader_error(res, err);
			break;
		}
		need = adminproto_reader_need(&rd);
		n = recv(fd, buf, need < sizeof(buf) ? need : sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rv = ekl_errf(err, EKL_EIO,
				      "admin socket: no response within the "
				      "timeout");
			break;
		}
		if (n == 0) {
			rv = ekl_errf(err, EKL_EIO,
				      "admin socket: connection closed before "
				      "a response");
			break;
		}
		if (n < 0) {
			rv = ekl_errf(err, EKL_EIO, "admin socket: read: %s",
				      strerror(errno));
			break;
		}
		rv = feed(&rd, buf, (size_t)n, err);
		if (rv != 0)
			break;
	}
	adminproto_reader_close(&rd);
	return rv;
}

static int call_line(int fd, const char *line, size_t len, bool *ok,
		     char **body, char *err)
{
	struct adminproto_reply r;
	int rv = write_all(fd, line, len, err);

	*body = NULL;
	if (rv == 0)
		rv = recv_one(fd, &r, err);
	if (rv != 0)
		return rv;
	*ok = r.ok;
	*body = r.body;
	return 0;
}

int admin_client_call(int fd, const char *prefix, const char *command, bool *ok,
		      char **body, char *err)
{
	char *line = NULL;
	size_t len = 0;
	int rv = adminproto_line_new(prefix, command, &line, &len, err);

	*body = NULL;
	if (rv != 0)
		return rv;
	rv = call_line(fd, line, len, ok, body, err);
	ekl_free(line);
	return rv;
}

int admin_client_request(int fd, const struct adminproto_opts *o,
			 const char *command, bool *ok, char **body, char *err)
{
	char prefix[ADMINPROTO_PREFIX_MAX + 1];

	adminproto_prefix_format(o, prefix, sizeof(prefix));
	return admin_client_call(fd, prefix, command, ok, body, err);
}

int admin_client_get(int fd, const struct adminproto_opts *o,
		     const char *command, char **body, char *err)
{
	bool ok = false;
	int rv = admin_client_request(fd, o, command, &ok, body, err);
	size_t n;

	if (rv != 0 || ok)
		return rv;
	n = strlen(*body);
	while (n > 0 && (*body)[n - 1] == '\n')
		n--;
	ekl_errf(err, EKL_EINVAL, "'%.80s': %.*s", command, (int)n, *body);
	ekl_free(*body);
	*body = NULL;
	return EKL_EINVAL;
}

/* ---- pipelines ---- */

struct pipe_state {
	const struct admin_pipeline *p;
	char *out; /* owned: request bytes not yet written */
	size_t out_len;
	size_t out_off;
	size_t out_cap;
	/* owned: ring of `window` slots; a request refused here has its
	 * message in its slot, answered in its turn */
	const char **local;
	size_t sent; /* requests queued (local ones too) */
	size_t answered;
	char too_long[EKL_ERRLEN];
};

static const char not_one_line[] = "an admin request must be one line";

/* Answer the local refusals at the head of the line. */
static void answer_local(struct pipe_state *s)
{
	size_t w = s->p->window;

	while (s->answered < s->sent && s->local[s->answered % w] != NULL) {
		const char *msg = s->local[s->answered % w];

		s->local[s->answered % w] = NULL;
		s->p->done(s->p->arg, s->answered++, false, msg);
	}
}

static int out_add(struct pipe_state *s, const char *line, size_t n)
{
	if (s->out_off > 0 && s->out_len + n + 1 > s->out_cap) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	if (s->out_len + n + 1 > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		char *nb;

		while (cap < s->out_len + n + 1)
			cap *= 2;
		nb = ekl_realloc(s->out, cap);
		if (nb == NULL)
			return EKL_ENOMEM;
		s->out = nb;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, line, n);
	s->out[s->out_len + n] = '\n';
	s->out_len += n + 1;
	return 0;
}

int admin_client_pipeline(int fd, const struct admin_pipeline *p, char *err)
{
	struct pipe_state s;
	struct adminproto_reader rd;
	char *line = NULL, *in = NULL; /* owned */
	bool more = true;
	int rv = 0;

	memset(&s, 0, sizeof(s));
	s.p = p;
	adminproto_line_too_long(s.too_long);
	adminproto_reader_init(&rd, 0);
	if (p->window == 0)
		return ekl_errf(err, EKL_EINVAL, "pipeline: window 0");
	s.local = ekl_calloc(p->window, sizeof(*s.local));
	line = ekl_malloc(ADMINPROTO_LINE_MAX + 2);
	in = ekl_malloc(READ_CHUNK);
	if (s.local == NULL || line == NULL || in == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	while (more || s.answered < s.sent) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr;

		/* Queue requests while the window has room. */
		while (more && s.sent - s.answered < p->window &&
		       s.out_len - s.out_off < PIPE_OUT_HIGH) {
			size_t n;

			if (p->next(p->arg, line, ADMINPROTO_LINE_MAX + 2) !=
			    1) {
				more = false;
				break;
			}
			n = strlen(line);
			if (n > ADMINPROTO_LINE_MAX ||
			    memchr(line, '\n', n) != NULL) {
				s.local[s.sent++ % p->window] =
				    n > ADMINPROTO_LINE_MAX ? s.too_long
							    : not_one_line;
				answer_local(&s);
				continue;
			}
			if (out_add(&s, line, n) != 0) {
				rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
				goto out;
			}
			s.sent++;
		}
		if (!more && s.answered == s.sent)
			break;
		if (s.out_len > s.out_off)
			pfd.events |= POLLOUT;
		pr = poll(&pfd, 1, p->cancel != NULL ? CANCEL_CHECK_MS : -1);
		if (p->cancel != NULL && p->cancel(p->arg)) {
			rv = ekl_errf(err, EKL_ECLOSED,
				      "pipeline cancelled after %zu of %zu "
				      "responses",
				      s.answered, s.sent);
			goto out;
		}
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rv =
			    ekl_errf(err, EKL_EIO, "poll: %s", strerror(errno));
			goto out;
		}
		if (pfd.revents & POLLOUT) {
			/* Never block writing: the server may be waiting for
			 * us to read its responses. */
			ssize_t w =
			    send(fd, s.out + s.out_off, s.out_len - s.out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				rv = ekl_errf(err, EKL_EIO,
					      "admin socket: write: %s",
					      strerror(errno));
				goto out;
			}
			if (w > 0)
				s.out_off += (size_t)w;
			if (s.out_off == s.out_len)
				s.out_off = s.out_len = 0;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			struct adminproto_reply r;
			enum adminproto_res res;
			ssize_t n = recv(fd, in, READ_CHUNK, MSG_DONTWAIT);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				rv =
				    ekl_errf(err, EKL_EIO,
					     "admin socket closed after %zu of "
					     "%zu responses",
					     s.answered, s.sent);
				goto out;
			}
			rv = feed(&rd, in, (size_t)n, err);
			if (rv != 0)
				goto out;
			while ((res = adminproto_reader_next(&rd, &r)) ==
			       ADMINPROTO_REPLY) {
				answer_local(&s);
				if (s.answered == s.sent) {
					ekl_free(r.body);
					rv =
					    ekl_errf(err, EKL_EPROTO,
						     "admin socket: a response "
						     "nobody asked for");
					goto out;
				}
				p->done(p->arg, s.answered++, r.ok, r.body);
				ekl_free(r.body);
				answer_local(&s);
			}
			if (res != ADMINPROTO_NEED_MORE) {
				rv = reader_error(res, err);
				goto out;
			}
		}
	}
out:
	adminproto_reader_close(&rd);
	ekl_free(line);
	ekl_free(in);
	ekl_free(s.out);
	ekl_free(s.local);
	return rv;
}

/* ---- connections polled by the caller ---- */

int admin_conn_open(struct admin_conn *c, const char *path, char *err)
{
	adminproto_reader_init(&c->rd, 0);
	c->fd = admin_client_connect(path, err);
	return c->fd < 0 ? c->fd : 0;
}

void admin_conn_close(struct admin_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	adminproto_reader_close(&c->rd);
}

int admin_conn_send(struct admin_conn *c, const struct adminproto_opts *o,
		    const char *command, char *err)
{
	char *line = NULL;
	size_t len = 0;
	int rv = adminproto_request_new(o, command, &line, &len, err);

	if (rv == 0)
		rv = write_all(c->fd, line, len, err);
	ekl_free(line);
	return rv;
}

int admin_conn_read(struct admin_conn *c, char *err)
{
	char buf[READ_CHUNK];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n == 0)
		return ekl_errf(err, EKL_ECLOSED,
				"admin socket: connection closed");
	if (n < 0)
		return ekl_errf(err, EKL_EIO, "admin socket: read: %s",
				strerror(errno));
	return feed(&c->rd, buf, (size_t)n, err);
}

int admin_conn_next(struct admin_conn *c, struct adminproto_reply *r, char *err)
{
	enum adminproto_res res = adminproto_reader_next(&c->rd, r);

	if (res == ADMINPROTO_REPLY)
		return 1;
	if (res == ADMINPROTO_NEED_MORE)
		return 0;
	return reader_error(res, err);
}
