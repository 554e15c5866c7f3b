/* floors.c: the bench's physical floors on this machine, measured in the
 * same run as everything else: one fdatasync of a 4 KiB overwrite in the
 * bench's directory (what one durable commit cannot go below), and one
 * round trip of one byte between two processes over loopback TCP (what a
 * replication round cannot go below) and over a Unix socket (the admin
 * path). Each is the median of many. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_int.h"
#include "ekulab/core/err.h"

#define FLOOR_SAMPLES 2000
#define FLOOR_SECONDS 1.0

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n) in microseconds; -1 when n is 0. */
static double median_us(double *v, size_t n)
{
	if (n == 0)
		return -1;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2] * 1e6;
}

static double fdatasync_floor(const char *dir)
{
	static double v[FLOOR_SAMPLES];
	char path[LAB_PATH_MAX + 32], page[4096];
	double t0;
	size_t n = 0;
	int fd, i;

	snprintf(path, sizeof(path), "%s/fdatasync.floor", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	memset(page, 'x', sizeof(page));
	/* Sixteen pages written and synced once: then only overwrites, as
	 * a WAL that SQLite restarts. */
	for (i = 0; i < 16; i++)
		if (pwrite(fd, page, sizeof(page), (off_t)i * 4096) < 0)
			goto out;
	if (fsync(fd) != 0)
		goto out;
	t0 = bench_now();
	while (n < FLOOR_SAMPLES && bench_now() - t0 < FLOOR_SECONDS) {
		double t;

		if (pwrite(fd, page, sizeof(page), (off_t)(n % 16) * 4096) < 0)
			break;
		t = bench_now();
		if (fdatasync(fd) != 0)
			break;
		v[n++] = bench_now() - t;
	}
out:
	close(fd);
	unlink(path);
	return median_us(v, n);
}

/* One byte back and forth between this process and a child on the two
 * ends of a connected pair; the median round trip. */
static double ping_pong(int a, int b)
{
	static double v[FLOOR_SAMPLES];
	double t0;
	size_t n = 0;
	pid_t pid;
	char c = 'p';
	int st;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(a);
		while (read(b, &c, 1) == 1)
			if (write(b, &c, 1) != 1)
				break;
		_exit(0);
	}
	close(b);
	t0 = bench_now();
	while (n < FLOOR_SAMPLES && bench_now() - t0 < FLOOR_SECONDS) {
		double t = bench_now();

		if (write(a, &c, 1) != 1 || read(a, &c, 1) != 1)
			break;
		v[n++] = bench_now() - t;
	}
	close(a); /* the child reads EOF and ends */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return median_us(v, n);
}

static double tcp_floor(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1, l, a = -1, b = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0 ||
	    (a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(a, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (b = accept(l, NULL, NULL)) < 0) {
		close(l);
		if (a >= 0)
			close(a);
		return -1;
	}
	close(l);
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return ping_pong(a, b);
}

static double unix_floor(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	return ping_pong(sv[0], sv[1]);
}

void bench_floors(struct bench *b)
{
	b->fdatasync_us = fdatasync_floor(b->dir);
	b->tcp_rtt_us = tcp_floor();
	b->unix_rtt_us = unix_floor();
}
