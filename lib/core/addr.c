/* addr.c: HOST:PORT parsing and non-blocking socket helpers. */
#include "ekulab/core/addr.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"

int addr_parse(const char *s, struct addr *out, char *err)
{
	char host[128];
	const char *port_s;
	const char *h;
	size_t hl;
	char *end;
	long port;
	bool bracketed;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	bracketed = s[0] == '[';
	if (bracketed) {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return ekl_errf(err, EKL_EADDR,
					"address '%s': expected [IPV6]:PORT",
					s);
		h = s + 1;
		hl = (size_t)(rb - h);
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (colon == NULL)
			return ekl_errf(err, EKL_EADDR,
					"address '%s': expected HOST:PORT", s);
		h = s;
		hl = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return ekl_errf(err, EKL_EADDR, "address '%s': bad host", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	/* "2001:db8::1:80" could be an address without a port. */
	if (!bracketed && strchr(host, ':') != NULL)
		return ekl_errf(err, EKL_EADDR,
				"address '%s': write IPv6 as [V6]:PORT", s);
	errno = 0;
	port = strtol(port_s, &end, 10);
	/* strtol would also take " 80" and "+80". */
	if (!isdigit((unsigned char)*port_s) || *end != '\0' || errno != 0 ||
	    port < 1 || port > 65535)
		return ekl_errf(err, EKL_EADDR,
				"address '%s': port must be 1-65535", s);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*v4);
		return 0;
	}
	if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*v6);
		return 0;
	}
	return ekl_errf(err, EKL_EADDR,
			"address '%s': host must be a numeric IPv4 address, "
			"[IPV6] or localhost (names are not resolved)",
			s);
}

void addr_format(const struct addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)&a->ss;

		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(v4->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)&a->ss;

		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(v6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

void addr_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int inherit_take(const struct addr *a);

int addr_listen(const struct addr *a, int *fd, char *err)
{
	char buf[80];
	int one = 1;
	int s;

	addr_format(a, buf, sizeof(buf));
	s = inherit_take(a);
	if (s >= 0) {
		/* Handed over by our parent, bound and listening already. */
		if (listen(s, 128) < 0 || set_flags(s) < 0)
			return ekl_errf(err, EKL_EIO,
					"listen %s (handed over): %s", buf,
					strerror(errno));
		*fd = s;
		return 0;
	}
	s = socket(a->ss.ss_family, SOCK_STREAM, 0);
	if (s < 0)
		return ekl_errf(err, EKL_EIO, "listen %s: socket: %s", buf,
				strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (const struct sockaddr *)&a->ss, a->len) < 0) {
		int e = errno;

		close(s);
		if (e == EADDRINUSE)
			return ekl_errf(err, EKL_EADDR,
					"listen %s: address already in use; "
					"choose another port or stop what "
					"holds it",
					buf);
		return ekl_errf(err, EKL_EADDR, "listen %s: bind: %s", buf,
				strerror(e));
	}
	if (listen(s, 128) < 0 || set_flags(s) < 0) {
		int e = errno;

		close(s);
		if (e == EADDRINUSE)
			return ekl_errf(err, EKL_EADDR,
					"listen %s: address already in use; "
					"choose another port or stop what "
					"holds it",
					buf);
		return ekl_errf(err, EKL_EIO, "listen %s: %s", buf,
				strerror(e));
	}
	*fd = s;
	return 0;
}

int addr_connect(const struct addr *a, int *fd, char *err)
{
	char buf[80];
	int s;

	addr_format(a, buf, sizeof(buf));
	s = socket(a->ss.ss_family, SOCK_STREAM, 0);
	if (s < 0)
		return ekl_errf(err, EKL_EIO, "connect %s: socket: %s", buf,
				strerror(errno));
	if (set_flags(s) < 0) {
		int e = errno; /* close() may change errno */

		close(s);
		return ekl_errf(err, EKL_EIO, "connect %s: fcntl: %s", buf,
				strerror(e));
	}
	addr_nodelay(s);
	if (connect(s, (const struct sockaddr *)&a->ss, a->len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(s);
		return ekl_errf(err, EKL_EIO, "connect %s: %s", buf,
				strerror(e));
	}
	*fd = s;
	return 0;
}

/* Remove a socket file left by a process that died; refuse a live one. */
static int clear_stale(const char *path, const char *flag, const char *who,
		       const struct sockaddr_un *sun, char *err)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return ekl_errf(err, EKL_ECONFIG,
				"%s %s exists and is not a socket; choose "
				"another path",
				flag, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live)
		return ekl_errf(err, EKL_ECONFIG,
				"%s %s: another %s serves this socket; stop it "
				"or choose another path",
				flag, path, who);
	unlink(path);
	return 0;
}

int addr_listen_unix(const char *path, const char *flag, const char *who,
		     int *out, char *err)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ekl_errf(err, EKL_ECONFIG,
				"%s %s: path too long (max %zu bytes)", flag,
				path, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	rv = clear_stale(path, flag, who, &sun, err);
	if (rv != 0)
		return rv;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	old = umask(0177);
	rv = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rv != 0) {
		rv = ekl_errf(err, EKL_ECONFIG, "%s %s: bind: %s", flag, path,
			      strerror(errno));
		goto err_after_socket;
	}
	if (chmod(path, 0600) != 0 || listen(fd, 64) != 0) {
		rv = ekl_errf(err, EKL_EIO, "%s %s: %s", flag, path,
			      strerror(errno));
		goto err_after_bind;
	}
	*out = fd;
	return 0;

err_after_bind:
	unlink(path);
err_after_socket:
	close(fd);
	return rv;
}

/* ---- reserving ports ---- */

/* The kernel's ephemeral range (outgoing connections take their local
 * port from it). */
static void ephemeral_range(int *lo, int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	*lo = 32768;
	*hi = 60999;
	if (f == NULL)
		return;
	if (fscanf(f, "%d %d", lo, hi) != 2) {
		*lo = 32768;
		*hi = 60999;
	}
	fclose(f);
}

/* Bind and listen on 127.0.0.1:port (0: any); 0 or errno. */
static int reserve_one(int port, int *fd)
{
	struct sockaddr_in sin;
	int one = 1, s, e;

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(s, 128) != 0) {
		e = errno;
		close(s);
		return e;
	}
	*fd = s;
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

int addr_reserve(int port, int *fd, int *port_out, char *err)
{
	static unsigned seed;
	int lo, hi, k, e = 0;

	*fd = -1;
	if (port > 0) {
		e = reserve_one(port, fd);
		if (e == 0) {
			*port_out = port;
			return 0;
		}
		return ekl_errf(err, EKL_EADDR, "port 127.0.0.1:%d: %s%s", port,
				strerror(e),
				e == EADDRINUSE
				    ? " (another process took it while no "
				      "one served it)"
				    : "");
	}
	/* Below the ephemeral range, at random: other labs and tests pick
	 * their own at random too, and a reservation that collides with
	 * one of theirs fails to bind and moves on. */
	ephemeral_range(&lo, &hi);
	hi = lo < 20000 ? lo : 20000;
	lo = hi - 10000 > 1024 ? hi - 10000 : 1024;
	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (k = 0; hi - lo >= 1000 && k < 200; k++) {
		int p = lo + (int)(rand_r(&seed) % (unsigned)(hi - lo));

		e = reserve_one(p, fd);
		if (e == 0) {
			*port_out = p;
			return 0;
		}
		if (e != EADDRINUSE && e != EACCES)
			break;
	}
	/* No room below the ephemeral range: let the kernel choose. */
	e = reserve_one(0, fd);
	if (e == 0 && (*port_out = bound_port(*fd)) > 0)
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return ekl_errf(err, EKL_EADDR, "no free TCP port on 127.0.0.1: %s",
			strerror(e != 0 ? e : EADDRINUSE));
}

/* ---- listening sockets handed over by the parent ---- */

#define INHERIT_MAX 256

static bool inherit_loaded;
static int inherit_n;
static bool inherit_taken[INHERIT_MAX];

static void inherit_load(void)
{
	const char *fds = getenv("LISTEN_FDS");
	const char *pid = getenv("LISTEN_PID");
	char *end;
	long n, p;
	int i;

	if (inherit_loaded)
		return;
	inherit_loaded = true;
	if (fds == NULL || pid == NULL)
		return;
	p = strtol(pid, &end, 10);
	if (*pid == '\0' || *end != '\0' || p != (long)getpid())
		return;
	n = strtol(fds, &end, 10);
	if (*fds == '\0' || *end != '\0' || n <= 0 || n > INHERIT_MAX)
		return;
	inherit_n = (int)n;
	for (i = 0; i < inherit_n; i++)
		(void)fcntl(ADDR_LISTEN_FDS_START + i, F_SETFD, FD_CLOEXEC);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
}

/* An inherited listening socket bound to exactly a, or -1. */
static int inherit_take(const struct addr *a)
{
	int i;

	inherit_load();
	for (i = 0; i < inherit_n; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = ADDR_LISTEN_FDS_START + i;

		if (inherit_taken[i])
			continue;
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    sl != a->len || memcmp(&ss, &a->ss, sl) != 0)
			continue;
		inherit_taken[i] = true;
		return fd;
	}
	return -1;
}
