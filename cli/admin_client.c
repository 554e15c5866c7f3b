/* admin_client.c: talk to a node's admin socket (protocol: node/admin.h). */
#include "admin_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ekulab/err.h"
#include "ekulab/mem.h"

int admin_client_connect(const char *path, char *err)
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

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes. */
static int read_all(int fd, char *s, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, s, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

int admin_client_call(int fd, bool json, const char *command, bool *ok,
		      char **body, char *err)
{
	char hdr[64];
	size_t hl = 0;
	unsigned long long n;
	char *b;
	int len;

	if (strchr(command, '\n') != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"command must be one line: '%s'", command);
	len = snprintf(hdr, sizeof(hdr), "%s ", json ? "json" : "text");
	if (write_all(fd, hdr, (size_t)len) != 0 ||
	    write_all(fd, command, strlen(command)) != 0 ||
	    write_all(fd, "\n", 1) != 0)
		return ekl_errf(err, EKL_EIO, "admin socket: write: %s",
				strerror(errno));
	/* Header line: "ok N" or "err N". */
	for (;;) {
		if (hl + 1 >= sizeof(hdr) || read_all(fd, hdr + hl, 1) != 0)
			return ekl_errf(err, EKL_EIO,
					"admin socket: connection closed "
					"before a response");
		if (hdr[hl] == '\n')
			break;
		hl++;
	}
	hdr[hl] = '\0';
	if (sscanf(hdr, "ok %llu", &n) == 1)
		*ok = true;
	else if (sscanf(hdr, "err %llu", &n) == 1)
		*ok = false;
	else
		return ekl_errf(err, EKL_EPROTO,
				"admin socket: bad response header '%s'", hdr);
	if (n > (256ull << 20))
		return ekl_errf(err, EKL_EPROTO,
				"admin socket: response too large");
	b = ekl_malloc((size_t)n + 1);
	if (b == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	if (read_all(fd, b, (size_t)n) != 0) {
		ekl_free(b);
		return ekl_errf(err, EKL_EIO,
				"admin socket: response cut short");
	}
	b[n] = '\0';
	*body = b;
	return 0;
}
