/* test_addr.c: HOST:PORT parsing and the socket helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "testutil.h"

static void parse_ok(const char *s, struct addr *a)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(addr_parse(s, a, err) == 0, "'%s': %s", s, err);
}

static void parse_bad(const char *s, const char *want)
{
	char err[EKL_ERRLEN] = "";
	struct addr a;

	ck_assert_msg(addr_parse(s, &a, err) == EKL_EADDR, "'%s' was accepted",
		      s);
	ck_assert_msg(strstr(err, s) != NULL, "'%s': message '%s'", s, err);
	ck_assert_msg(strstr(err, want) != NULL,
		      "'%s': message '%s' lacks '%s'", s, err, want);
}

/* An IPv4 loopback address with port 0: addr_parse refuses port 0. */
static void any_port(struct addr *a)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	v4->sin_family = AF_INET;
	v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v4->sin_port = 0;
	a->len = sizeof(*v4);
}

/* The address the kernel actually bound fd to. */
static void bound(int fd, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a->ss, &a->len),
			 0);
}

/* ---- addr_parse ---- */

START_TEST(parse_ipv4)
{
	struct addr a;
	const struct sockaddr_in *v4 = (const void *)&a.ss;

	parse_ok("10.1.2.3:7001", &a);
	ck_assert_int_eq(a.ss.ss_family, AF_INET);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(v4->sin_port), 7001);
	ck_assert_uint_eq(ntohl(v4->sin_addr.s_addr), 0x0a010203);
	parse_ok("0.0.0.0:1", &a);
	ck_assert_uint_eq(ntohs(v4->sin_port), 1);
	parse_ok("255.255.255.255:65535", &a);
	ck_assert_uint_eq(ntohs(v4->sin_port), 65535);
}
END_TEST

START_TEST(parse_ipv6)
{
	struct addr a;
	const struct sockaddr_in6 *v6 = (const void *)&a.ss;
	struct in6_addr want;

	parse_ok("[::1]:7002", &a);
	ck_assert_int_eq(a.ss.ss_family, AF_INET6);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(v6->sin6_port), 7002);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	parse_ok("[2001:db8::17]:443", &a);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::17", &want), 1);
	ck_assert_mem_eq(&v6->sin6_addr, &want, sizeof(want));
	ck_assert_uint_eq(ntohs(v6->sin6_port), 443);
}
END_TEST

START_TEST(parse_localhost)
{
	struct addr a;
	const struct sockaddr_in *v4 = (const void *)&a.ss;

	parse_ok("localhost:8443", &a);
	ck_assert_int_eq(a.ss.ss_family, AF_INET);
	ck_assert_uint_eq(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_uint_eq(ntohs(v4->sin_port), 8443);
}
END_TEST

START_TEST(parse_bad_forms)
{
	parse_bad("127.0.0.1", "HOST:PORT");
	parse_bad("127.0.0.1:", "port must be 1-65535");
	parse_bad("127.0.0.1:0", "port must be 1-65535");
	parse_bad("127.0.0.1:65536", "port must be 1-65535");
	parse_bad("127.0.0.1:-1", "port must be 1-65535");
	parse_bad("127.0.0.1:+80", "port must be 1-65535");
	parse_bad("127.0.0.1: 80", "port must be 1-65535");
	parse_bad("127.0.0.1:80x", "port must be 1-65535");
	parse_bad("127.0.0.1:http", "port must be 1-65535");
	parse_bad("127.0.0.1:99999999999999999999", "port must be 1-65535");
	parse_bad(":7001", "bad host");
	parse_bad("[::1]", "[IPV6]:PORT");
	parse_bad("[::1:7001", "[IPV6]:PORT");
	parse_bad("[::1]:", "port must be 1-65535");
	parse_bad("[]:7001", "bad host");
	parse_bad("exp-c1.example.com:7001", "names are not resolved");
	parse_bad("10.0.0.256:7001", "names are not resolved");
	parse_bad("[127.0.0.1]:7001", "names are not resolved");
	parse_bad("::1:7001", "[V6]:PORT");
	parse_bad("2001:db8::1:80", "[V6]:PORT");
}
END_TEST

START_TEST(parse_null_err)
{
	struct addr a;

	ck_assert_int_eq(addr_parse("nope", &a, NULL), EKL_EADDR);
}
END_TEST

/* ---- addr_format ---- */

START_TEST(format_roundtrip)
{
	static const char *const in[] = {
	    "127.0.0.1:7001", "10.20.30.40:1",	    "0.0.0.0:65535",
	    "[::1]:7002",     "[2001:db8::17]:443",
	};
	char buf[80];
	struct addr a, b;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		parse_ok(in[i], &a);
		addr_format(&a, buf, sizeof(buf));
		ck_assert_str_eq(buf, in[i]);
		parse_ok(buf, &b);
		ck_assert_uint_eq(a.len, b.len);
		ck_assert_mem_eq(&a.ss, &b.ss, a.len);
	}
	parse_ok("localhost:9", &a);
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "127.0.0.1:9");
}
END_TEST

START_TEST(format_unknown_and_short)
{
	struct addr a;
	char buf[8];

	memset(&a, 0, sizeof(a));
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
	parse_ok("192.168.100.200:7001", &a);
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168"); /* truncated, still terminated */
}
END_TEST

/* ---- addr_listen ---- */

START_TEST(listen_and_in_use)
{
	char err[EKL_ERRLEN] = "";
	struct addr a, got;
	int fd = -1, fd2 = -1;
	int fl;

	any_port(&a);
	ck_assert_msg(addr_listen(&a, &fd, err) == 0, "%s", err);
	ck_assert_int_ge(fd, 0);
	fl = fcntl(fd, F_GETFL);
	ck_assert(fl & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	bound(fd, &got);
	ck_assert_int_eq(got.ss.ss_family, AF_INET);
	ck_assert_uint_ne(ntohs(((struct sockaddr_in *)&got.ss)->sin_port), 0);

	/* The same port again: refused, with a message saying why. */
	err[0] = '\0';
	ck_assert_int_eq(addr_listen(&got, &fd2, err), EKL_EADDR);
	ck_assert_int_eq(fd2, -1);
	ck_assert_msg(strstr(err, "already in use") != NULL, "got '%s'", err);
	ck_assert_msg(strstr(err, "127.0.0.1:") != NULL, "got '%s'", err);
	close(fd);
}
END_TEST

START_TEST(listen_bad_address)
{
	char err[EKL_ERRLEN] = "";
	struct addr a;
	int fd = -1;

	/* 192.0.2.1 (TEST-NET-1) is not a local address. */
	parse_ok("192.0.2.1:7001", &a);
	ck_assert_int_eq(addr_listen(&a, &fd, err), EKL_EADDR);
	ck_assert_int_eq(fd, -1);
	ck_assert_msg(strstr(err, "192.0.2.1:7001") != NULL, "got '%s'", err);
}
END_TEST

/* ---- addr_connect ---- */

START_TEST(connect_to_listener)
{
	char err[EKL_ERRLEN] = "";
	struct addr a, got;
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int lfd = -1, cfd = -1, afd = -1;
	int soerr = -1;
	int n;

	any_port(&a);
	ck_assert_msg(addr_listen(&a, &lfd, err) == 0, "%s", err);
	bound(lfd, &got);
	ck_assert_msg(addr_connect(&got, &cfd, err) == 0, "%s", err);
	ck_assert_int_ge(cfd, 0);
	ck_assert(fcntl(cfd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(cfd, F_GETFD) & FD_CLOEXEC);

	p.fd = cfd;
	p.events = POLLOUT;
	p.revents = 0;
	n = poll(&p, 1, 5000);
	ck_assert_int_eq(n, 1);
	ck_assert(p.revents & POLLOUT);
	ck_assert_int_eq(getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
	ck_assert_int_eq(soerr, 0);

	/* The listener sees it: non-blocking accept after poll. */
	p.fd = lfd;
	p.events = POLLIN;
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(write(cfd, "hi", 2), 2);
	close(afd);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(connect_refused)
{
	char err[EKL_ERRLEN] = "";
	struct addr a, got;
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int lfd = -1, cfd = -1;
	int soerr = 0;
	int rc;

	/* Learn a free port, then close it so nobody listens there. */
	any_port(&a);
	ck_assert_msg(addr_listen(&a, &lfd, err) == 0, "%s", err);
	bound(lfd, &got);
	close(lfd);
	rc = addr_connect(&got, &cfd, err);
	if (rc != 0) {
		/* Refused straight away is fine too, with a message. */
		ck_assert_int_eq(rc, EKL_EIO);
		ck_assert_msg(strstr(err, "refused") != NULL, "got '%s'", err);
		return;
	}
	p.fd = cfd;
	p.events = POLLOUT;
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
	ck_assert_int_eq(soerr, ECONNREFUSED);
	close(cfd);
}
END_TEST

/* ---- addr_reserve and the handover ---- */

START_TEST(reserve_distinct_and_below_ephemeral)
{
	char err[EKL_ERRLEN] = "";
	int fd[64], port[64], i, j, lo = 32768, hi = 60999, fdx, px;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f != NULL) {
		ck_assert_int_eq(fscanf(f, "%d %d", &lo, &hi), 2);
		fclose(f);
	}
	/* Held reservations never share a port (addr_free_port's bug was
	 * to release the port it found, so the next call could return it
	 * again). */
	for (i = 0; i < 64; i++) {
		ck_assert_msg(addr_reserve(0, &fd[i], &port[i], err) == 0, "%s",
			      err);
		ck_assert(fcntl(fd[i], F_GETFD) & FD_CLOEXEC);
		if (lo > 11000)
			ck_assert_int_lt(port[i], lo);
		for (j = 0; j < i; j++)
			ck_assert_int_ne(port[i], port[j]);
	}
	/* A held port cannot be reserved again; the message says so. */
	ck_assert_int_eq(addr_reserve(port[0], &fdx, &px, err), EKL_EADDR);
	ck_assert_int_eq(fdx, -1);
	ck_assert_msg(strstr(err, "in use") != NULL, "got '%s'", err);
	ck_assert_msg(strstr(err, "took it") != NULL, "got '%s'", err);
	/* Released: the same port can be reserved again (a restart). */
	close(fd[0]);
	ck_assert_msg(addr_reserve(port[0], &fd[0], &i, err) == 0, "%s", err);
	ck_assert_int_eq(i, port[0]);
	for (i = 0; i < 64; i++)
		close(fd[i]);
}
END_TEST

/* A child given the socket at descriptor 3 with LISTEN_FDS=1 and its pid:
 * addr_listen on the reserved address uses it (it listens on the port
 * while ours is closed), and clears the variables. */
START_TEST(listen_takes_handed_over_socket)
{
	char err[EKL_ERRLEN] = "", a_text[64];
	struct addr a;
	int fd, port, st;
	pid_t pid;

	ck_assert_msg(addr_reserve(0, &fd, &port, err) == 0, "%s", err);
	snprintf(a_text, sizeof(a_text), "127.0.0.1:%d", port);
	parse_ok(a_text, &a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char pidv[32];
		int lfd = -1, other = -1;

		if (dup2(fd, ADDR_LISTEN_FDS_START) < 0)
			_exit(10);
		close(fd);
		snprintf(pidv, sizeof(pidv), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pidv, 1);
		if (addr_listen(&a, &lfd, err) != 0)
			_exit(11);
		if (lfd != ADDR_LISTEN_FDS_START)
			_exit(12);
		if (getenv("LISTEN_FDS") != NULL)
			_exit(13);
		if (!(fcntl(lfd, F_GETFL) & O_NONBLOCK) ||
		    !(fcntl(lfd, F_GETFD) & FD_CLOEXEC))
			_exit(14);
		/* Taken once: the same address again binds anew, and fails
		 * (the handed-over socket holds it). */
		if (addr_listen(&a, &other, err) != EKL_EADDR)
			_exit(15);
		_exit(0);
	}
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child failed with %d", WEXITSTATUS(st));
}
END_TEST

/* LISTEN_PID of another process: the sockets are not ours to take. */
START_TEST(listen_ignores_other_pid)
{
	char err[EKL_ERRLEN] = "", a_text[64];
	struct addr a;
	int fd, port, st;
	pid_t pid;

	ck_assert_msg(addr_reserve(0, &fd, &port, err) == 0, "%s", err);
	snprintf(a_text, sizeof(a_text), "127.0.0.1:%d", port);
	parse_ok(a_text, &a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int lfd = -1;

		if (dup2(fd, ADDR_LISTEN_FDS_START) < 0)
			_exit(10);
		close(fd);
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", "1", 1);
		/* Not taken, so binding the held port fails. */
		_exit(addr_listen(&a, &lfd, err) == EKL_EADDR ? 0 : 11);
	}
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc;

	tc = tcase_create("addr_parse");
	tcase_add_test(tc, parse_ipv4);
	tcase_add_test(tc, parse_ipv6);
	tcase_add_test(tc, parse_localhost);
	tcase_add_test(tc, parse_bad_forms);
	tcase_add_test(tc, parse_null_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr_format");
	tcase_add_test(tc, format_roundtrip);
	tcase_add_test(tc, format_unknown_and_short);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr_listen");
	tcase_add_test(tc, listen_and_in_use);
	tcase_add_test(tc, listen_bad_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr_reserve");
	tcase_add_test(tc, reserve_distinct_and_below_ephemeral);
	tcase_add_test(tc, listen_takes_handed_over_socket);
	tcase_add_test(tc, listen_ignores_other_pid);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr_connect");
	tcase_add_test(tc, connect_to_listener);
	tcase_add_test(tc, connect_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(addr_suite());
}
