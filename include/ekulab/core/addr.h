/* addr.h: HOST:PORT parsing and socket helpers shared by node and CLI. */
#ifndef EKULAB_ADDR_H
#define EKULAB_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parse "HOST:PORT" or "[V6]:PORT" (numeric hosts, or "localhost"). */
int addr_parse(const char *s, struct addr *out, char *err);
/* "127.0.0.1:7001" / "[::1]:7001" into buf. */
void addr_format(const struct addr *a, char *buf, size_t len);
/* Non-blocking, close-on-exec listening TCP socket with SO_REUSEADDR. */
int addr_listen(const struct addr *a, int *fd, char *err);
/* A non-blocking, close-on-exec Unix listening socket at path, created
 * 0600 from the start (no window where others can connect). A stale
 * socket file left by a dead process is replaced; a live one ("another
 * WHO serves this socket") or a file that is not a socket is refused.
 * Errors name `flag path`, e.g. "--admin /run/n1.sock: ...". */
int addr_listen_unix(const char *path, const char *flag, const char *who,
		     int *fd, char *err);

/* A TCP port on 127.0.0.1 that is free right now (bound, then released),
 * or -1. For labs and benchmarks that hand ports to other processes. */
int addr_free_port(void);

/* Disable Nagle: peer links carry small frames that must not wait. */
void addr_nodelay(int fd);
/* Start a non-blocking connect; 0 when started or done. */
int addr_connect(const struct addr *a, int *fd, char *err);

#endif
