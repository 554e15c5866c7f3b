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
/* Disable Nagle: peer links carry small frames that must not wait. */
void addr_nodelay(int fd);
/* Start a non-blocking connect; 0 when started or done. */
int addr_connect(const struct addr *a, int *fd, char *err);

#endif
