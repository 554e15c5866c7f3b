/* test_proxy.c: the link-fault proxy engine, in-process, against a local TCP
 * echo server. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "client/admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/adminproto.h"
#include "proxy/proxy.h"
#include "client/proxy_client.h"
#include "testutil.h"

/* ---- an echo server: one thread, poll() over every socket ---- */

#define ECHO_MAX 32
#define ECHO_BUF (256 * 1024)

struct echo_conn {
	int fd;
	char *buf; /* bytes read, not yet echoed */
	size_t len;
	bool eof;
};

struct echo {
	int lfd;
	int port;
	int wake[2];
	pthread_t th;
	struct echo_conn c[ECHO_MAX];
	size_t n;
};

static void echo_drop(struct echo *e, size_t i)
{
	close(e->c[i].fd);
	free(e->c[i].buf);
	e->c[i] = e->c[--e->n];
}

static void *echo_run(void *arg)
{
	struct echo *e = arg;

	for (;;) {
		struct pollfd pf[ECHO_MAX + 2];
		size_t i;

		pf[0] = (struct pollfd){e->wake[0], POLLIN, 0};
		pf[1] =
		    (struct pollfd){e->lfd, e->n < ECHO_MAX ? POLLIN : 0, 0};
		for (i = 0; i < e->n; i++) {
			struct echo_conn *c = &e->c[i];

			pf[i + 2] = (struct pollfd){
			    c->fd,
			    (short)((!c->eof && c->len < ECHO_BUF ? POLLIN
								  : 0) |
				    (c->len > 0 ? POLLOUT : 0)),
			    0};
		}
		if (poll(pf, e->n + 2, -1) < 0)
			continue;
		if (pf[0].revents)
			break;
		/* Serve the connections before accepting (indices move). */
		for (i = e->n; i-- > 0;) {
			struct echo_conn *c = &e->c[i];
			short rev = pf[i + 2].revents;
			ssize_t r;

			if (rev & POLLIN) {
				r = read(c->fd, c->buf + c->len,
					 ECHO_BUF - c->len);
				if (r > 0)
					c->len += (size_t)r;
				else if (r == 0)
					c->eof = true;
				else if (errno != EAGAIN && errno != EINTR) {
					echo_drop(e, i);
					continue;
				}
			}
			if (c->len > 0 && (rev & (POLLOUT | POLLIN))) {
				r = send(c->fd, c->buf, c->len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (r > 0) {
					memmove(c->buf, c->buf + r,
						c->len - (size_t)r);
					c->len -= (size_t)r;
				} else if (r < 0 && errno != EAGAIN &&
					   errno != EINTR) {
					echo_drop(e, i);
					continue;
				}
			}
			if ((c->eof && c->len == 0) ||
			    (rev & (POLLERR | POLLNVAL)))
				echo_drop(e, i);
		}
		if (pf[1].revents & POLLIN) {
			int fd = accept(e->lfd, NULL, NULL);

			if (fd >= 0) {
				int one = 1;

				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				fcntl(fd, F_SETFL, O_NONBLOCK);
				e->c[e->n].fd = fd;
				e->c[e->n].buf = malloc(ECHO_BUF);
				e->c[e->n].len = 0;
				e->c[e->n].eof = false;
				e->n++;
			}
		}
	}
	while (e->n > 0)
		echo_drop(e, 0);
	return NULL;
}

/* A port on 127.0.0.1 nothing listens on (right now). */
static int free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void echo_start(struct echo *e)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);

	memset(e, 0, sizeof(*e));
	e->lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(e->lfd, 64), 0);
	getsockname(e->lfd, (struct sockaddr *)&a, &len);
	e->port = ntohs(a.sin_port);
	ck_assert_int_eq(pipe(e->wake), 0);
	ck_assert_int_eq(pthread_create(&e->th, NULL, echo_run, e), 0);
}

static void echo_stop(struct echo *e)
{
	ck_assert_int_eq(write(e->wake[1], "x", 1), 1);
	pthread_join(e->th, NULL);
	close(e->wake[0]);
	close(e->wake[1]);
	close(e->lfd);
}

/* ---- the proxy on its own loop, in a thread ---- */

struct fx {
	struct echo echo;
	struct ev_loop *loop;
	struct proxy *p;
	ev_async stop;
	pthread_t th;
	char sock[512];
	int port_ab; /* a>b: to the echo server */
	int port_ba; /* b>a: to the echo server */
	int port_ac; /* a>c: to a port nobody listens on */
};

static struct fx F;

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *proxy_run(void *arg)
{
	(void)arg;
	ev_run(F.loop, 0);
	return NULL;
}

static void fx_run(void)
{
	ck_assert_int_eq(pthread_create(&F.th, NULL, proxy_run, NULL), 0);
}

static void fx_pause(void)
{
	ev_async_send(F.loop, &F.stop);
	pthread_join(F.th, NULL);
}

static void add_route(const char *name, int port, int target)
{
	char spec[256], err[EKL_ERRLEN] = "";
	int rv;

	snprintf(spec, sizeof(spec), "%s=127.0.0.1:%d,127.0.0.1:%d", name, port,
		 target);
	rv = proxy_add_route(F.p, spec, err);
	ck_assert_msg(rv == 0, "add route %s: %s", spec, err);
}

static void setup(void)
{
	char err[EKL_ERRLEN] = "";
	const char *dir = tu_tmpdir("proxy");

	signal(SIGPIPE, SIG_IGN);
	ekl_log_set_level(EKL_LOG_WARN);
	ck_assert_ptr_nonnull(dir);
	memset(&F, 0, sizeof(F));
	snprintf(F.sock, sizeof(F.sock), "%s/proxy.sock", dir);
	echo_start(&F.echo);
	F.loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(F.loop);
	ck_assert_int_eq(proxy_new(F.loop, &F.p, err), 0);
	F.port_ab = free_port();
	add_route("a>b", F.port_ab, F.echo.port);
	F.port_ba = free_port();
	add_route("b>a", F.port_ba, F.echo.port);
	F.port_ac = free_port();
	add_route("a>c", F.port_ac, free_port());
	ck_assert_msg(proxy_control_start(F.p, F.sock, err) == 0, "%s", err);
	ev_async_init(&F.stop, on_stop);
	ev_async_start(F.loop, &F.stop);
	fx_run();
}

static void teardown(void)
{
	struct stat st;

	fx_pause();
	ev_async_stop(F.loop, &F.stop);
	proxy_free(F.p);
	ck_assert_msg(stat(F.sock, &st) != 0,
		      "proxy_free left the control socket behind");
	ev_loop_destroy(F.loop);
	echo_stop(&F.echo);
}

/* ---- client helpers ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0,
		      "connect to proxy port %d: %s", port, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_all(int fd, const void *buf, size_t n)
{
	ck_assert_int_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read exactly n bytes within ms; false on timeout, EOF or error. */
static bool recv_exact(int fd, char *buf, size_t n, int ms)
{
	double end = now_s() + ms / 1000.0;

	while (n > 0) {
		struct pollfd pf = {fd, POLLIN, 0};
		int left = (int)((end - now_s()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return false;
		r = recv(fd, buf, n, 0);
		if (r <= 0)
			return false;
		buf += r;
		n -= (size_t)r;
	}
	return true;
}

/* Nothing arrives and the connection stays open for ms. */
static bool quiet_and_open(int fd, int ms)
{
	struct pollfd pf = {fd, POLLIN, 0};

	return poll(&pf, 1, ms) == 0;
}

/* How the proxy ended fd within ms: 0 FIN, ECONNRESET, or -1 (still
 * open; data read meanwhile is skipped). */
static int end_of(int fd, int ms)
{
	double end = now_s() + ms / 1000.0;
	char buf[4096];

	for (;;) {
		struct pollfd pf = {fd, POLLIN, 0};
		int left = (int)((end - now_s()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			return 0;
		if (r < 0)
			return errno;
	}
}

static void echo_ok(int fd, const char *msg)
{
	char buf[256];
	size_t n = strlen(msg);

	send_all(fd, msg, n);
	ck_assert_msg(recv_exact(fd, buf, n, 3000), "no echo of '%s'", msg);
	ck_assert(memcmp(buf, msg, n) == 0);
}

/* Send n pattern bytes while reading the echo; returns the seconds it
 * took, checking every byte. */
static double xfer(int fd, size_t n)
{
	char *out = malloc(n), *in = malloc(n);
	size_t sent = 0, got = 0, i;
	double t0 = now_s();

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < n; i++)
		out[i] = (char)(i * 7 + i / 251);
	while (got < n) {
		struct pollfd pf = {fd, POLLIN | (sent < n ? POLLOUT : 0), 0};

		ck_assert_msg(now_s() - t0 < 30, "transfer stuck at %zu/%zu",
			      got, n);
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		if ((pf.revents & POLLOUT) && sent < n) {
			ssize_t w = send(fd, out + sent, n - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0)
				sent += (size_t)w;
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in + got, n - got, MSG_DONTWAIT);

			ck_assert_msg(r > 0 || (r < 0 && errno == EAGAIN),
				      "connection ended after %zu bytes", got);
			if (r > 0)
				got += (size_t)r;
		}
	}
	ck_assert_msg(memcmp(in, out, n) == 0, "bytes changed in transit");
	free(out);
	free(in);
	return now_s() - t0;
}

/* A control command; returns the client's code, body freed. */
static int ctl(const char *cmd)
{
	char err[EKL_ERRLEN] = "", *body = NULL;
	int rv = proxy_client_call(F.sock, false, cmd, &body, err);

	ekl_free(body);
	return rv;
}

static void ctl_ok(const char *cmd)
{
	char err[EKL_ERRLEN] = "", *body = NULL;
	int rv = proxy_client_call(F.sock, false, cmd, &body, err);

	ck_assert_msg(rv == 0, "'%s': %s", cmd, err);
	ekl_free(body);
}

/* The proxy refuses cmd; its message contains want. */
static void ctl_refused(const char *cmd, const char *want)
{
	char err[EKL_ERRLEN] = "", *body = NULL;
	int rv = proxy_client_call(F.sock, false, cmd, &body, err);

	ck_assert_msg(rv != 0, "'%s' was accepted", cmd);
	ck_assert_msg(rv != EKL_EIO && rv != EKL_EPROTO,
		      "'%s': not an answer: %s", cmd, err);
	ck_assert_msg(strstr(err, want) != NULL,
		      "'%s': message '%s' lacks '%s'", cmd, err, want);
	ck_assert_ptr_null(body);
}

/* One route's line as the client parses it. */
static struct proxy_route_info route_info(const char *name)
{
	struct proxy_route_info *r = NULL, out;
	char err[EKL_ERRLEN] = "";
	size_t n = 0, i;

	ck_assert_msg(proxy_client_routes(F.sock, &r, &n, err) == 0, "%s", err);
	for (i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			break;
	ck_assert_msg(i < n, "route %s not listed", name);
	out = r[i];
	out.faults = NULL;
	/* Keep the names: copy them into a static buffer. */
	{
		static char faults[1024];

		snprintf(faults, sizeof(faults), "%s", r[i].faults);
		out.faults = faults;
	}
	proxy_client_routes_free(r, n);
	return out;
}

/* ---- proxy_add_route ---- */

START_TEST(test_add_route_refusals)
{
	char err[EKL_ERRLEN], spec[256];
	static const char *bad[] = {
	    "a>b",			     /* no = */
	    "a>b=127.0.0.1:1",		     /* no target */
	    "ab=127.0.0.1:1,127.0.0.1:2",    /* no > */
	    "a>=127.0.0.1:1,127.0.0.1:2",    /* empty TO */
	    "a b>c=127.0.0.1:1,127.0.0.1:2", /* space in a name */
	    "a>b=nohost:1,127.0.0.1:2",
	    "a>b=127.0.0.1:99999,127.0.0.1:2",
	    "a>b=127.0.0.1:1,127.0.0.1",
	};
	size_t i;

	fx_pause();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(proxy_add_route(F.p, bad[i], err) != 0,
			      "'%s' accepted", bad[i]);
		ck_assert_msg(err[0] != '\0', "'%s': no message", bad[i]);
	}
	/* A name given twice, and a listen port in use (a>b's). */
	snprintf(spec, sizeof(spec), "a>b=127.0.0.1:%d,127.0.0.1:1",
		 free_port());
	ck_assert_int_eq(proxy_add_route(F.p, spec, err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	snprintf(spec, sizeof(spec), "x>y=127.0.0.1:%d,127.0.0.1:1", F.port_ab);
	ck_assert_int_ne(proxy_add_route(F.p, spec, err), 0);
	ck_assert_ptr_nonnull(strstr(err, "x>y"));
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	fx_run();
	/* Routes are fixed once a fault exists. */
	ctl_ok("fault add f down a>b");
	fx_pause();
	snprintf(spec, sizeof(spec), "p>q=127.0.0.1:%d,127.0.0.1:1",
		 free_port());
	ck_assert_int_eq(proxy_add_route(F.p, spec, err), EKL_EINVAL);
	fx_run();
}
END_TEST

/* ---- forwarding ---- */

START_TEST(test_forward_both_ways)
{
	struct proxy_route_info r;
	int fd = dial(F.port_ab);
	double t;
	char buf[8];

	echo_ok(fd, "hello");
	t = xfer(fd, 1 << 20); /* 1 MiB each way, more than the queues */
	ck_assert(t > 0);
	r = route_info("a>b");
	ck_assert_str_eq(r.state, "open");
	ck_assert_uint_eq(r.conns, 1);
	ck_assert_uint_ge(r.accepted, 1);
	ck_assert_uint_eq(r.to_target, (1 << 20) + 5);
	ck_assert_uint_eq(r.to_client, (1 << 20) + 5);
	ck_assert_str_eq(r.faults, "");
	/* Half close: our FIN reaches the echo server, which echoes what
	 * it had and closes; that FIN comes back. */
	send_all(fd, "bye", 3);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert(recv_exact(fd, buf, 3, 3000));
	ck_assert(memcmp(buf, "bye", 3) == 0);
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	/* The other route is independent. */
	fd = dial(F.port_ba);
	echo_ok(fd, "from b");
	close(fd);
}
END_TEST

START_TEST(test_forward_target_refuses)
{
	int fd = dial(F.port_ac);
	int how = end_of(fd, 3000);

	ck_assert_msg(how == ECONNRESET,
		      "a refused target should reset the client (got %d)", how);
	close(fd);
	ck_assert_uint_eq(route_info("a>c").conns, 0);
}
END_TEST

/* ---- down ---- */

START_TEST(test_fault_down)
{
	int old = dial(F.port_ab), fd, other;

	echo_ok(old, "before");
	ctl_ok("fault add cut down a>b");
	ck_assert_int_eq(end_of(old, 3000), 0); /* existing: closed */
	close(old);
	fd = dial(F.port_ab); /* accepted, then closed at once */
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	ck_assert_str_eq(route_info("a>b").state, "down");
	ck_assert_uint_ge(route_info("a>b").refused, 1);
	ck_assert_str_eq(route_info("a>b").faults, "cut");
	other = dial(F.port_ba); /* b>a is not affected */
	echo_ok(other, "still here");
	close(other);
	ctl_ok("fault remove cut");
	fd = dial(F.port_ab);
	echo_ok(fd, "after");
	close(fd);
	ck_assert_str_eq(route_info("a>b").state, "open");
}
END_TEST

/* ---- blackhole ---- */

START_TEST(test_fault_blackhole)
{
	int old = dial(F.port_ab), fd, fresh;
	char *junk = calloc(1, 1 << 20), buf[8];
	size_t sent = 0;
	double t0;

	echo_ok(old, "before");
	ctl_ok("fault add hole blackhole a>b");
	ck_assert_str_eq(route_info("a>b").state, "blackhole");
	/* Existing: held, nothing moves, still open. */
	send_all(old, "held", 4);
	ck_assert_msg(quiet_and_open(old, 300), "held connection answered");
	/* New: accepted and held; what it sends is swallowed. */
	fd = dial(F.port_ab);
	send_all(fd, "lost", 4);
	ck_assert_msg(quiet_and_open(fd, 300), "blackholed connection "
					       "answered or closed");
	t0 = now_s();
	while (sent < (1u << 20) && now_s() - t0 < 10) {
		ssize_t w =
		    send(fd, junk + sent, (1u << 20) - sent, MSG_NOSIGNAL);

		ck_assert_int_gt(w, 0);
		sent += (size_t)w;
	}
	ck_assert_uint_eq(sent, 1u << 20); /* read and discarded */
	ck_assert(quiet_and_open(fd, 100));
	ctl_ok("fault remove hole");
	/* The held connection resumes without loss; the swallowing one is
	 * closed (its stream lost bytes); new ones work. */
	ck_assert_msg(recv_exact(old, buf, 4, 3000), "held bytes not "
						     "delivered on resume");
	ck_assert(memcmp(buf, "held", 4) == 0);
	echo_ok(old, "after");
	ck_assert_int_eq(end_of(fd, 3000), 0);
	fresh = dial(F.port_ab);
	echo_ok(fresh, "fresh");
	close(fresh);
	close(fd);
	close(old);
	free(junk);
}
END_TEST

/* ---- reset ---- */

START_TEST(test_fault_reset)
{
	int old = dial(F.port_ab), fd;

	echo_ok(old, "before");
	ctl_ok("fault add rst reset a>b");
	ck_assert_int_eq(end_of(old, 3000), ECONNRESET);
	close(old);
	fd = dial(F.port_ab);
	ck_assert_int_eq(end_of(fd, 3000), ECONNRESET);
	close(fd);
	ck_assert_str_eq(route_info("a>b").state, "reset");
	ctl_ok("fault remove rst");
	fd = dial(F.port_ab);
	echo_ok(fd, "after");
	close(fd);
}
END_TEST

/* ---- latency ---- */

START_TEST(test_fault_latency)
{
	int fd = dial(F.port_ab), i;
	struct proxy_route_info r;
	char buf[4 * 40];
	double t0, t;

	echo_ok(fd, "warm");
	ctl_ok("fault add slow latency a>b ms=150");
	r = route_info("a>b");
	ck_assert_uint_eq(r.latency_ms, 150);
	/* An existing connection is delayed too, once per direction. */
	t0 = now_s();
	echo_ok(fd, "x");
	t = now_s() - t0;
	ck_assert_msg(t >= 0.298, "round trip %.3f s under 2 x 150 ms", t);
	ctl_ok("fault remove slow");
	/* Jitter never reorders: 40 separate chunks come back in order. */
	ctl_ok("fault add jit latency a>b ms=30 jitter=25");
	r = route_info("a>b");
	ck_assert_uint_eq(r.latency_ms, 30);
	ck_assert_uint_eq(r.jitter_ms, 25);
	for (i = 0; i < 40; i++) {
		char m[4] = {'s', (char)i, (char)(i * 3), '.'};

		send_all(fd, m, 4);
		usleep(2000);
	}
	ck_assert(recv_exact(fd, buf, sizeof(buf), 10000));
	for (i = 0; i < 40; i++)
		ck_assert_msg(buf[4 * i + 1] == (char)i &&
				  buf[4 * i + 2] == (char)(i * 3),
			      "chunk %d out of order", i);
	ctl_ok("fault remove jit");
	echo_ok(fd, "after");
	close(fd);
}
END_TEST

/* ---- bandwidth ---- */

START_TEST(test_fault_bandwidth)
{
	int fd = dial(F.port_ab);
	struct proxy_route_info r;
	double t;

	echo_ok(fd, "warm");
	ctl_ok("fault add cap bandwidth a>b rate=50000");
	/* 50 000 bytes at 50 000 B/s each way (pipelined): about 1 s. */
	t = xfer(fd, 50000);
	ck_assert_msg(t >= 0.8, "50000 bytes at 50000 B/s took %.3f s", t);
	/* Several faults on one route: the smallest rate, plus latency. */
	ctl_ok("fault add cap2 bandwidth a>b rate=20000");
	ctl_ok("fault add slow latency * ms=5");
	r = route_info("a>b");
	ck_assert_uint_eq(r.rate, 20000);
	ck_assert_uint_eq(r.latency_ms, 5);
	ck_assert_str_eq(r.faults, "cap,cap2,slow");
	t = xfer(fd, 10000);
	ck_assert_msg(t >= 0.4, "10000 bytes at 20000 B/s took %.3f s", t);
	ctl_ok("fault remove all");
	ck_assert_uint_eq(route_info("a>b").rate, 0);
	ck_assert(xfer(fd, 1 << 20) > 0);
	close(fd);
}
END_TEST

/* ---- slow_close ---- */

START_TEST(test_fault_slow_close)
{
	int fd = dial(F.port_ab);
	char buf[8];
	double t0, t;

	echo_ok(fd, "warm");
	ctl_ok("fault add late slow_close a>b ms=400");
	/* Bytes are not delayed, only the close: our FIN waits 400 ms on
	 * its way to the echo server, the server's FIN 400 ms on its way
	 * back. */
	echo_ok(fd, "quick");
	send_all(fd, "bye", 3);
	t0 = now_s();
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert(recv_exact(fd, buf, 3, 3000));
	ck_assert(memcmp(buf, "bye", 3) == 0);
	ck_assert_int_eq(end_of(fd, 5000), 0);
	t = now_s() - t0;
	ck_assert_msg(t >= 0.79, "FIN came back after %.3f s, under 2 x 400 ms",
		      t);
	close(fd);
	/* Removed while a FIN waits: it leaves at once. */
	fd = dial(F.port_ab);
	echo_ok(fd, "again");
	ctl_ok("fault add later slow_close a>b ms=600000 direction=upstream");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(end_of(fd, 300), -1);
	ctl_ok("fault remove later");
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	ctl_ok("fault remove late");
}
END_TEST

/* ---- timeout ---- */

START_TEST(test_fault_timeout)
{
	int old = dial(F.port_ab), fd;
	char buf[8];

	echo_ok(old, "before");
	ctl_ok("fault add stop timeout a>b ms=300");
	ck_assert_str_eq(route_info("a>b").state, "timeout");
	/* Existing: nothing moves, then closed (FIN) after 300 ms. */
	send_all(old, "held", 4);
	ck_assert_int_eq(end_of(old, 5000), 0);
	close(old);
	/* New: accepted and dialled, nothing moves, closed the same way. */
	fd = dial(F.port_ab);
	send_all(fd, "x", 1);
	ck_assert_int_eq(end_of(fd, 5000), 0);
	close(fd);
	ctl_ok("fault remove stop");
	/* ms=0: held for as long as the fault lasts, never closed; removed,
	 * the held bytes arrive, none lost (the data was delayed, not
	 * dropped). */
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault add forever timeout a>b ms=0");
	send_all(fd, "kept", 4);
	ck_assert_msg(quiet_and_open(fd, 500), "a timeout of 0 closed or "
					       "let bytes through");
	ctl_ok("fault remove forever");
	ck_assert_msg(recv_exact(fd, buf, 4, 3000), "held bytes lost");
	ck_assert(memcmp(buf, "kept", 4) == 0);
	echo_ok(fd, "after");
	close(fd);
	ck_assert_str_eq(route_info("a>b").state, "open");
}
END_TEST

/* ---- slicer ---- */

START_TEST(test_fault_slicer)
{
	int fd = dial(F.port_ab), reads = 0;
	char buf[16];
	size_t got = 0;

	echo_ok(fd, "warm");
	/* Pieces of one byte, 20 ms apart, on the way back: ten bytes
	 * arrive in (nearly) ten reads, in order. */
	ctl_ok("fault add thin slicer a>b average_size=1 delay_us=20000 "
	       "direction=downstream");
	send_all(fd, "0123456789", 10);
	while (got < 10) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		ck_assert_msg(poll(&pf, 1, 3000) == 1, "slicer stalled at %zu",
			      got);
		r = recv(fd, buf + got, sizeof(buf) - got, 0);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
		reads++;
	}
	ck_assert(memcmp(buf, "0123456789", 10) == 0);
	ck_assert_msg(reads >= 5,
		      "10 bytes in 1-byte pieces 20 ms apart came "
		      "in %d reads",
		      reads);
	ctl_ok("fault remove thin");
	/* Bytes are never changed or reordered, whatever the pieces. */
	ctl_ok("fault add chop slicer a>b average_size=100 size_variation=99");
	ck_assert(xfer(fd, 300000) > 0);
	ctl_ok("fault remove chop");
	close(fd);
}
END_TEST

/* ---- limit_data ---- */

START_TEST(test_fault_limit_data)
{
	unsigned long long before;
	int fd = dial(F.port_ab);
	char buf[32];
	size_t got = 0;

	echo_ok(fd, "warm");
	/* Counted from when the fault begins: ten more bytes back, then
	 * the connection closes (FIN). */
	ctl_ok("fault add cap limit_data a>b bytes=10 direction=downstream");
	send_all(fd, "abcdefghijklmnopqrst", 20);
	for (;;) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		ck_assert(poll(&pf, 1, 3000) == 1);
		r = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (r <= 0) {
			ck_assert_int_eq(r, 0); /* FIN, not a reset */
			break;
		}
		got += (size_t)r;
	}
	ck_assert_uint_eq(got, 10);
	ck_assert(memcmp(buf, "abcdefghij", 10) == 0);
	close(fd);
	ctl_ok("fault remove cap");
	/* Upstream, on a new connection: exactly 5 bytes reach the target,
	 * then it closes. */
	ctl_ok("fault add up5 limit_data a>b bytes=5 direction=upstream");
	ck_assert_str_eq(route_info("a>b").state, "limit_data");
	before = route_info("a>b").to_target;
	fd = dial(F.port_ab);
	send_all(fd, "hello world", 11);
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	ck_assert_uint_eq(route_info("a>b").to_target - before, 5);
	ctl_ok("fault remove up5");
	/* bytes=0: closed before anything passes. */
	ctl_ok("fault add none limit_data a>b bytes=0");
	fd = dial(F.port_ab);
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	ctl_ok("fault remove none");
	fd = dial(F.port_ab);
	echo_ok(fd, "after");
	close(fd);
}
END_TEST

/* ---- direction ---- */

START_TEST(test_fault_direction)
{
	struct proxy_route_info r0, r1;
	int fd;
	char buf[8];

	/* A reset acts on the side its direction leads to: downstream, the
	 * client gets the RST; upstream, the target does and the client
	 * a FIN. */
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault add rd reset a>b direction=downstream");
	ck_assert_int_eq(end_of(fd, 3000), ECONNRESET);
	close(fd);
	ctl_ok("fault remove rd");
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault add ru reset a>b direction=upstream");
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	fd = dial(F.port_ab); /* new ones too: dialled, then ended */
	ck_assert_int_eq(end_of(fd, 3000), 0);
	close(fd);
	ctl_ok("fault remove ru");
	/* Down downstream: the client gets a FIN at once; what it still
	 * sends reaches the target, whose echo is discarded. */
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault add dd down a>b direction=downstream");
	ck_assert_int_eq(end_of(fd, 3000), 0);
	r0 = route_info("a>b");
	send_all(fd, "more", 4);
	for (int i = 0; i < 300; i++) {
		r1 = route_info("a>b");
		if (r1.to_target >= r0.to_target + 4)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(r1.to_target, r0.to_target + 4);
	usleep(100000);
	ck_assert_uint_eq(route_info("a>b").to_client, r0.to_client);
	close(fd);
	ctl_ok("fault remove dd");
	/* Blackhole upstream: what the client sends is held, what comes
	 * back still flows (an echo already under way arrives); removed,
	 * the held bytes go on, none lost. */
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault add lag latency a>b ms=300 direction=downstream");
	send_all(fd, "ab", 2);
	usleep(50000); /* "ab" is through upstream, its echo waits */
	ctl_ok("fault add hold blackhole a>b direction=upstream");
	ck_assert_str_eq(route_info("a>b").state, "blackhole");
	send_all(fd, "cd", 2);
	ck_assert_msg(recv_exact(fd, buf, 2, 3000), "downstream stopped too");
	ck_assert(memcmp(buf, "ab", 2) == 0);
	ck_assert_msg(quiet_and_open(fd, 600), "held upstream bytes moved");
	ctl_ok("fault remove hold");
	ck_assert_msg(recv_exact(fd, buf, 2, 3000), "held bytes lost");
	ck_assert(memcmp(buf, "cd", 2) == 0);
	ctl_ok("fault remove lag");
	close(fd);
}
END_TEST

/* ---- toxicity ---- */

/* Dial n connections one after the other and count those the proxy
 * closed at once (a down fault that acts on them) vs served. */
static int count_refused(int n)
{
	unsigned long long before = route_info("a>b").refused;
	int i, served = 0;

	for (i = 0; i < n; i++) {
		int fd = dial(F.port_ab);
		char c;

		send_all(fd, "t", 1);
		if (recv_exact(fd, &c, 1, 3000))
			served++;
		close(fd);
	}
	ck_assert_uint_eq(route_info("a>b").refused - before,
			  (unsigned long long)(n - served));
	return n - served;
}

START_TEST(test_fault_toxicity)
{
	struct proxy_fault_info *f = NULL;
	char err[EKL_ERRLEN];
	size_t n = 0;
	int refused, i, old[24], closed = 0;

	ctl_ok("fault add half down a>b toxicity=0.5");
	/* A fault that acts on half the connections does not decide the
	 * route's state: only toxicity 1 does. */
	ck_assert_str_eq(route_info("a>b").state, "open");
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(f[0].toxicity == 0.5);
	ck_assert_str_eq(f[0].direction, "both");
	proxy_client_faults_free(f, n);
	/* 200 connections, each drawn once: about half refused (outside
	 * 60-140 happens with a probability under 1e-8). */
	refused = count_refused(200);
	ck_assert_msg(refused >= 60 && refused <= 140,
		      "toxicity 0.5 refused %d of 200", refused);
	ctl_ok("fault remove half");
	ctl_ok("fault add never down a>b toxicity=0");
	ck_assert_int_eq(count_refused(20), 0);
	ctl_ok("fault remove never");
	ctl_ok("fault add always down a>b toxicity=1.0");
	ck_assert_int_eq(count_refused(20), 20);
	ctl_ok("fault remove always");
	/* Added while connections exist: drawn for each of them. */
	for (i = 0; i < 24; i++) { /* the echo server holds 32 */
		old[i] = dial(F.port_ab);
		echo_ok(old[i], "o");
	}
	ctl_ok("fault add some reset a>b toxicity=0.5");
	for (i = 0; i < 24; i++) {
		if (end_of(old[i], 50) == ECONNRESET)
			closed++;
		else
			echo_ok(old[i], "alive");
		close(old[i]);
	}
	ck_assert_msg(closed >= 2 && closed <= 22,
		      "toxicity 0.5 reset %d of 24 connections", closed);
	ctl_ok("fault remove some");
}
END_TEST

/* ---- fault list / remove ---- */

START_TEST(test_fault_list_remove)
{
	struct proxy_fault_info *f = NULL;
	struct proxy_fault_spec spec = {.name = "f3",
					.kind = "bandwidth",
					.routes = "b>a,a>b",
					.rate = 1000};
	char err[EKL_ERRLEN], *body = NULL;
	size_t n = 0;

	ctl_ok("fault add f1 down a>b");
	ctl_ok("fault add f2 latency * ms=10 jitter=2");
	ck_assert_int_eq(proxy_client_fault_add(F.sock, &spec, err), 0);
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(f[0].name, "f1");
	ck_assert_str_eq(f[0].kind, "down");
	ck_assert_str_eq(f[0].routes, "a>b");
	ck_assert_str_eq(f[1].name, "f2");
	ck_assert_str_eq(f[1].routes, "*");
	ck_assert_uint_eq(f[1].ms, 10);
	ck_assert_uint_eq(f[1].jitter_ms, 2);
	ck_assert_str_eq(f[2].kind, "bandwidth");
	ck_assert_str_eq(f[2].routes, "a>b,b>a"); /* route order */
	ck_assert_uint_eq(f[2].rate, 1000);
	proxy_client_faults_free(f, n);
	/* "*" reaches every route. */
	ck_assert_uint_eq(route_info("a>c").latency_ms, 10);
	ck_assert_str_eq(route_info("b>a").faults, "f2,f3");
	ck_assert_int_eq(
	    proxy_client_call(F.sock, true, "fault list", &body, err), 0);
	ck_assert_ptr_nonnull(strstr(body, "\"name\":\"f2\",\"kind\":"
					   "\"latency\",\"all\":true"));
	ck_assert_ptr_nonnull(strstr(body, "\"rate\":1000"));
	ekl_free(body);
	ck_assert_int_eq(proxy_client_call(F.sock, true, "routes", &body, err),
			 0);
	ck_assert_ptr_nonnull(strstr(body, "\"name\":\"a>b\",\"from\":\"a\","
					   "\"to\":\"b\""));
	ck_assert_ptr_nonnull(strstr(body, "\"state\":\"down\""));
	ekl_free(body);
	/* A name used twice; removing one; an unknown name. */
	spec.name = "f1";
	ck_assert_int_eq(proxy_client_fault_add(F.sock, &spec, err),
			 EKL_EEXIST);
	ck_assert_int_eq(proxy_client_fault_remove(F.sock, "f1", err), 0);
	ck_assert_str_eq(route_info("a>b").state, "open");
	ck_assert_int_eq(proxy_client_fault_remove(F.sock, "f1", err),
			 EKL_ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "f1"));
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_eq(n, 2);
	proxy_client_faults_free(f, n);
	ck_assert_int_eq(proxy_client_fault_remove(F.sock, "all", err), 0);
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	proxy_client_faults_free(f, n);
	ck_assert_uint_eq(route_info("a>c").latency_ms, 0);
	ck_assert_str_eq(route_info("b>a").faults, "");
	/* remove all with nothing left is fine. */
	ck_assert_int_eq(proxy_client_fault_remove(F.sock, "all", err), 0);
}
END_TEST

START_TEST(test_fault_worst_wins)
{
	int fd;

	ctl_ok("fault add bh blackhole *");
	ctl_ok("fault add dn down a>b");
	ck_assert_str_eq(route_info("a>b").state, "down");
	ck_assert_str_eq(route_info("b>a").state, "blackhole");
	ctl_ok("fault add rs reset a>b");
	ck_assert_str_eq(route_info("a>b").state, "reset");
	fd = dial(F.port_ab);
	ck_assert_int_eq(end_of(fd, 3000), ECONNRESET);
	close(fd);
	ctl_ok("fault remove rs");
	ctl_ok("fault remove dn");
	ck_assert_str_eq(route_info("a>b").state, "blackhole");
	ctl_ok("fault remove bh");
	fd = dial(F.port_ab);
	echo_ok(fd, "open again");
	close(fd);
}
END_TEST

/* ---- bad requests ---- */

START_TEST(test_bad_commands)
{
	static const struct {
		const char *cmd;
		const char *want;
	} bad[] = {
	    {"fault add x down a>b,zz>yy,qq>rr", "'zz>yy', 'qq>rr'"},
	    {"fault add x down nosuch", "routes are: a>b b>a a>c"},
	    {"fault add x melt a>b", "unknown fault kind 'melt'"},
	    {"fault add x latency a>b", "latency needs ms=N"},
	    {"fault add x latency a>b ms=abc", "ms=abc"},
	    {"fault add x latency a>b ms=-1", "ms=-1"},
	    {"fault add x latency a>b ms=99999999", "ms=99999999"},
	    {"fault add x latency a>b ms=5 speed=2", "'speed'"},
	    {"fault add x bandwidth a>b", "rate=BYTES_PER_S"},
	    {"fault add x bandwidth a>b rate=0", "rate=0"},
	    {"fault add x down a>b ms=5", "takes no parameter 'ms'"},
	    {"fault add x down a>b junk", "KEY=VALUE"},
	    {"fault add x down a>b toxicity=2", "toxicity=2"},
	    {"fault add x down a>b toxicity=-0.5", "toxicity=-0.5"},
	    {"fault add x down a>b toxicity=nan", "from 0 to 1"},
	    {"fault add x down a>b toxicity=0.5x", "toxicity=0.5x"},
	    {"fault add x down a>b direction=sideways", "direction=sideways"},
	    {"fault add x slow_close a>b", "slow_close needs ms=N"},
	    {"fault add x timeout a>b", "timeout needs ms=N"},
	    {"fault add x timeout a>b ms=700000", "milliseconds 0-600000"},
	    {"fault add x slicer a>b delay_us=5", "needs average_size=N"},
	    {"fault add x slicer a>b average_size=0", "average_size=0"},
	    {"fault add x slicer a>b average_size=4 size_variation=4",
	     "below average_size"},
	    {"fault add x slicer a>b average_size=4 bytes=3",
	     "takes no parameter 'bytes'"},
	    {"fault add x limit_data a>b", "limit_data needs bytes=N"},
	    {"fault add x limit_data a>b bytes=-1", "bytes=-1"},
	    {"fault add x latency a>b ms=5 bytes=3",
	     "takes no parameter 'bytes'"},
	    {"fault add all down a>b", "not 'all'"},
	    {"fault add a/b down a>b", "fault name 'a/b'"},
	    {"fault add x down", "usage: fault add"},
	    {"fault add x down ,,", "no route given"},
	    {"fault remove", "usage: fault remove"},
	    {"fault remove nosuch", "no fault named 'nosuch'"},
	    {"fault list now", "takes no argument"},
	    {"routes please", "takes no argument"},
	    {"fault", "unknown command"},
	    {"bogus", "unknown command 'bogus'"},
	};
	struct proxy_fault_info *f = NULL;
	char err[EKL_ERRLEN], *body = NULL;
	size_t i, n = 1;
	bool ok = true;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ctl_refused(bad[i].cmd, bad[i].want);
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_eq(n, 0); /* nothing half-added */
	proxy_client_faults_free(f, n);
	/* The request format itself. */
	fd = admin_client_connect(F.sock, err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
	    admin_client_call(fd, "xml", "routes", &ok, &body, err), 0);
	ck_assert(!ok);
	ck_assert_ptr_nonnull(strstr(body, "text|json"));
	ekl_free(body);
	ck_assert_int_eq(
	    admin_client_call(fd, "text,ack=all", "routes", &ok, &body, err),
	    0);
	ck_assert(!ok);
	ekl_free(body);
	/* Still usable after errors: pipelining on one connection. */
	ck_assert_int_eq(admin_client_call(fd, "text", "help", &ok, &body, err),
			 0);
	ck_assert(ok);
	ck_assert_ptr_nonnull(strstr(body, "fault add"));
	ekl_free(body);
	close(fd);
	/* A line over the limit (the admin protocol's, shared with the
	 * node): an err naming the limit, the rest of the line skipped, the
	 * connection still served, the proxy lives. */
	fd = admin_client_connect(F.sock, err);
	ck_assert_int_ge(fd, 0);
	{
		size_t blen = ADMINPROTO_LINE_MAX + 10;
		char *big = malloc(blen);
		struct adminproto_reader rd;
		struct adminproto_reply rep[2];
		size_t got = 0;

		ck_assert_ptr_nonnull(big);
		memset(big, 'A', blen);
		send_all(fd, big, blen);
		send_all(fd, "\ntext help\n", 11);
		free(big);
		adminproto_reader_init(&rd, 0);
		while (got < 2) {
			char buf[4096];
			ssize_t r;

			ck_assert_msg(recv_exact(fd, buf, 1, 3000),
				      "no answer to an over-long line");
			ck_assert_int_eq(adminproto_reader_feed(&rd, buf, 1),
					 0);
			r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				ck_assert_int_eq(
				    adminproto_reader_feed(&rd, buf, (size_t)r),
				    0);
			while (got < 2 &&
			       adminproto_reader_next(&rd, &rep[got]) ==
				   ADMINPROTO_REPLY)
				got++;
		}
		ck_assert(!rep[0].ok);
		ck_assert_ptr_nonnull(strstr(rep[0].body, "limit of 66132"));
		ck_assert(rep[1].ok);
		ck_assert_ptr_nonnull(strstr(rep[1].body, "fault add"));
		ekl_free(rep[0].body);
		ekl_free(rep[1].body);
		adminproto_reader_close(&rd);
	}
	close(fd);
	/* Binary junk and an empty line get errors, not a crash. */
	fd = admin_client_connect(F.sock, err);
	send_all(fd, "\x01\x02\xff text\n\n", 10);
	{
		char buf[256];
		ssize_t r;

		ck_assert(recv_exact(fd, buf, 4, 3000));
		ck_assert(memcmp(buf, "err ", 4) == 0);
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		(void)r;
	}
	close(fd);
	ctl_ok("routes");
	ck_assert_int_eq(ctl("fault add ok down a>b"), 0);
}
END_TEST

/* Allocation failures anywhere (proxy or client: one process) never
 * crash and never leave a broken fault list. */
START_TEST(test_fault_add_alloc_failures)
{
	struct proxy_fault_info *f = NULL;
	char err[EKL_ERRLEN];
	size_t n = 0;
	long k;

	for (k = 0; k < 40; k++) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd),
			 "fault add f%ld latency a>b,b>a "
			 "ms=1",
			 k);
		ekl_mem_fail_after(k);
		(void)ctl(cmd);
		ekl_mem_fail_after(-1);
	}
	ck_assert_int_eq(proxy_client_faults(F.sock, &f, &n, err), 0);
	ck_assert_uint_le(n, 40);
	proxy_client_faults_free(f, n);
	ctl_ok("fault remove all");
	ck_assert_uint_eq(route_info("a>b").latency_ms, 0);
}
END_TEST

/* At most PROXY_MAX_FAULTS (64) faults at once; a removed fault's slot
 * is used again and acts only on the connections that draw it. */
START_TEST(test_fault_slots)
{
	char cmd[128];
	int i, fd;

	for (i = 0; i < 64; i++) {
		snprintf(cmd, sizeof(cmd), "fault add f%d latency b>a ms=0", i);
		ctl_ok(cmd);
	}
	ctl_refused("fault add f64 latency b>a ms=0", "64 faults are in force");
	fd = dial(F.port_ab);
	echo_ok(fd, "warm");
	ctl_ok("fault remove f7");
	/* Slot 7 again: a fault that acts on no connection (toxicity 0)
	 * must not inherit the old fault's draws. */
	ctl_ok("fault add g down a>b toxicity=0");
	echo_ok(fd, "still");
	ctl_ok("fault remove all");
	echo_ok(fd, "after");
	close(fd);
}
END_TEST

static TCase *tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	return tc;
}

static Suite *proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc;

	tc = tcase("proxy_add_route");
	tcase_add_test(tc, test_add_route_refusals);
	suite_add_tcase(s, tc);
	tc = tcase("forward");
	tcase_add_test(tc, test_forward_both_ways);
	tcase_add_test(tc, test_forward_target_refuses);
	suite_add_tcase(s, tc);
	tc = tcase("fault_down");
	tcase_add_test(tc, test_fault_down);
	suite_add_tcase(s, tc);
	tc = tcase("fault_blackhole");
	tcase_add_test(tc, test_fault_blackhole);
	suite_add_tcase(s, tc);
	tc = tcase("fault_reset");
	tcase_add_test(tc, test_fault_reset);
	suite_add_tcase(s, tc);
	tc = tcase("fault_latency");
	tcase_add_test(tc, test_fault_latency);
	suite_add_tcase(s, tc);
	tc = tcase("fault_bandwidth");
	tcase_add_test(tc, test_fault_bandwidth);
	suite_add_tcase(s, tc);
	tc = tcase("fault_slow_close");
	tcase_add_test(tc, test_fault_slow_close);
	suite_add_tcase(s, tc);
	tc = tcase("fault_timeout");
	tcase_add_test(tc, test_fault_timeout);
	suite_add_tcase(s, tc);
	tc = tcase("fault_slicer");
	tcase_add_test(tc, test_fault_slicer);
	suite_add_tcase(s, tc);
	tc = tcase("fault_limit_data");
	tcase_add_test(tc, test_fault_limit_data);
	suite_add_tcase(s, tc);
	tc = tcase("fault_direction");
	tcase_add_test(tc, test_fault_direction);
	suite_add_tcase(s, tc);
	tc = tcase("fault_toxicity");
	tcase_add_test(tc, test_fault_toxicity);
	tcase_add_test(tc, test_fault_slots);
	suite_add_tcase(s, tc);
	tc = tcase("fault_list_remove");
	tcase_add_test(tc, test_fault_list_remove);
	tcase_add_test(tc, test_fault_worst_wins);
	suite_add_tcase(s, tc);
	tc = tcase("control_errors");
	tcase_add_test(tc, test_bad_commands);
	tcase_add_test(tc, test_fault_add_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(proxy_suite());
}
