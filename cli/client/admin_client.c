/* admin_client.c: talk to a node's admin socket (protocol: node/admin.h). */
#include "admin_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

/* Longest request line: an xConfiguration path and value plus prefix. */
#define STORE_LINE_MAX (512 + 65536 + 64)

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

int admin_client_call(int fd, const char *prefix, const char *command, bool *ok,
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
	len = snprintf(hdr, sizeof(hdr), "%s ", prefix);
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

/* Parse complete responses out of in[0..*len); returns how many bytes were
 * consumed, calling done() for each. -1 on a malformed header. */
static long parse_responses(const struct admin_pipeline *p, char *in,
			    size_t len, size_t *index)
{
	size_t off = 0;

	for (;;) {
		char *nl = memchr(in + off, '\n', len - off);
		unsigned long long n;
		bool ok;
		char save;

		if (nl == NULL)
			break;
		*nl = '\0';
		if (sscanf(in + off, "ok %llu", &n) == 1)
			ok = true;
		else if (sscanf(in + off, "err %llu", &n) == 1)
			ok = false;
		else
			return -1;
		*nl = '\n';
		if ((size_t)(nl + 1 - in) + n > len)
			break; /* body not complete yet */
		save = nl[1 + n];
		nl[1 + n] = '\0';
		p->done(p->arg, (*index)++, ok, nl + 1);
		nl[1 + n] = save;
		off = (size_t)(nl + 1 - in) + (size_t)n;
	}
	return (long)off;
}

int admin_client_pipeline(int fd, const struct admin_pipeline *p, char *err)
{
	size_t in_cap = 1 << 16, out_cap = 1 << 16;
	char *in = ekl_malloc(in_cap), *out = ekl_malloc(out_cap);
	size_t in_len = 0, out_len = 0, sent = 0, answered = 0;
	char *line = NULL; /* owned: one request being formed */
	bool more = true;
	int rv = 0;

	if (in == NULL || out == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	line = ekl_malloc(STORE_LINE_MAX);
	if (line == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	while (more || answered < sent) {
		struct pollfd pfd = {fd, POLLIN, 0};

		/* Queue requests while the window has room. */
		while (more && sent - answered < p->window &&
		       out_len < (1u << 16)) {
			size_t n;

			if (p->next(p->arg, line, STORE_LINE_MAX) != 1) {
				more = false;
				break;
			}
			n = strlen(line);
			if (out_len + n + 1 > out_cap) {
				char *nb = ekl_realloc(out, out_len + n + 1);

				if (nb == NULL) {
					rv = ekl_errf(err, EKL_ENOMEM,
						      "out of memory");
					goto out;
				}
				out = nb;
				out_cap = out_len + n + 1;
			}
			memcpy(out + out_len, line, n);
			out[out_len + n] = '\n';
			out_len += n + 1;
			sent++;
		}
		if (out_len > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			rv =
			    ekl_errf(err, EKL_EIO, "poll: %s", strerror(errno));
			goto out;
		}
		if (pfd.revents & POLLOUT) {
			ssize_t w = write(fd, out, out_len);

			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				rv = ekl_errf(err, EKL_EIO,
					      "admin socket: write: %s",
					      strerror(errno));
				goto out;
			}
			if (w > 0) {
				memmove(out, out + w, out_len - (size_t)w);
				out_len -= (size_t)w;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r;
			long used;

			if (in_len + 4096 > in_cap) {
				char *nb = ekl_realloc(in, in_cap * 2);

				if (nb == NULL) {
					rv = ekl_errf(err, EKL_ENOMEM,
						      "out of memory");
					goto out;
				}
				in = nb;
				in_cap *= 2;
			}
			r = read(fd, in + in_len, in_cap - in_len - 1);
			if (r == 0 ||
			    (r < 0 && errno != EAGAIN && errno != EINTR)) {
				rv =
				    ekl_errf(err, EKL_EIO,
					     "admin socket closed after %zu of "
					     "%zu responses",
					     answered, sent);
				goto out;
			}
			if (r > 0)
				in_len += (size_t)r;
			used = parse_responses(p, in, in_len, &answered);
			if (used < 0) {
				rv = ekl_errf(err, EKL_EPROTO,
					      "admin socket: bad response");
				goto out;
			}
			memmove(in, in + used, in_len - (size_t)used);
			in_len -= (size_t)used;
		}
	}
out:
	ekl_free(line);
	ekl_free(in);
	ekl_free(out);
	return rv;
}
