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
/* Non-blocking, close-on-exec listening TCP socket with SO_REUSEADDR.
 * When the process was handed listening sockets by the one that started
 * it (the LISTEN_FDS protocol below) and one of them is bound to exactly
 * `a`, that socket is used instead of binding a new one. */
int addr_listen(const struct addr *a, int *fd, char *err);
/* A non-blocking, close-on-exec Unix listening socket at path, created
 * 0600 from the start (no window where others can connect). A stale
 * socket file left by a dead process is replaced; a live one ("another
 * WHO serves this socket") or a file that is not a socket is refused.
 * Errors name `flag path`, e.g. "--admin /run/n1.sock: ...". */
int addr_listen_unix(const char *path, const char *flag, const char *who,
		     int *fd, char *err);

/* A listening TCP socket on 127.0.0.1 for a port that another process
 * will serve (labs, plans, benchmarks). port 0: a free port chosen at
 * random below the kernel's ephemeral range (so no outgoing connection
 * can ever take it while the socket is closed), else exactly `port`.
 * The caller holds *fd until the serving process has it (handed over
 * with addr_handover_env), so two reservations never get the same port.
 * Returns 0, or EKL_EADDR naming the port and the cause (in use, none
 * free). The socket is close-on-exec. */
int addr_reserve(int port, int *fd, int *port_out, char *err);

/* Handing listening sockets to a child (the LISTEN_FDS protocol of
 * sd_listen_fds(3)): the child finds them at descriptors 3, 4, ... and
 * LISTEN_FDS=N, LISTEN_PID=its pid in its environment; addr_listen()
 * picks up the one bound to the address it is asked for. The first call
 * of addr_listen() takes the environment in and removes it, so the
 * child's own children do not see it. */
#define ADDR_LISTEN_FDS_START 3

/* Disable Nagle: peer links carry small frames that must not wait. */
void addr_nodelay(int fd);
/* Start a non-blocking connect; 0 when started or done. */
int addr_connect(const struct addr *a, int *fd, char *err);

#endif
