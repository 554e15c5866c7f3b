/* admin_client.h: the client of the admin protocol (request lines,
 * responses and limits: ekulab/wire/adminproto.h), spoken by a node's
 * admin socket and the lab proxy's control socket.
 *
 * Every response the CLI reads goes through adminproto's reader, here.
 * node_status.h builds the node's typed status on these calls and
 * proxy_client.h the proxy's; tools use those rather than the text.
 *
 * Errors: EKL_EIO when the socket fails or closes (err names the socket or
 * the step), EKL_EPROTO on a malformed response, EKL_ETOOBIG for a request
 * line over ADMINPROTO_LINE_MAX (refused here, never sent), EKL_EINVAL for
 * a request that is not one line. A server's "err" response is not an
 * error of these calls: *ok says which it was.
 */
#ifndef EKULAB_CLI_ADMIN_CLIENT_H
#define EKULAB_CLI_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "ekulab/wire/adminproto.h"

/* Where a node's admin protocol is served: its Unix socket (path), or
 * its network admin channel (tls): TLS 1.3 to host:port, the node's
 * certificate naming `name`, with the admin CA and the admin client
 * certificate of the lab PKI in `pki` (ca-admin.crt, admin.crt,
 * admin.key; docs/node.md, "Network admin channel"). As text: the path,
 * or "tls://HOST:PORT/NAME?pki=DIR". */
#define ADMIN_TLS_SCHEME	"tls://"
#define ADMIN_CLIENT_CONNECT_MS 10000 /* TCP connect + TLS handshake */
struct admin_target {
	bool tls;
	char path[108];
	char host[256];
	int port;
	char name[64];
	char pki[256];
};
int admin_target_parse(const char *s, struct admin_target *t, char *err);

/* Connect to a target; returns the fd (blocking, close-on-exec) or a
 * negative code with err naming the target and what to check. Over TLS
 * the handshake is done here (within ms, 0: ADMIN_CLIENT_CONNECT_MS): a
 * node that refuses our certificate, or whose certificate does not meet
 * the admin rule, is an error of this call. The fd is then one end of a
 * socketpair; a thread of this process relays its bytes over the TLS
 * session until either end closes, so every call below works on it the
 * same, timeouts set on it included. */
int admin_client_dial(const struct admin_target *t, int ms, char *err);
/* admin_target_parse, then admin_client_dial. */
int admin_client_connect(const char *target, char *err);
/* Connect to the Unix socket at path. */
int admin_client_connect_unix(const char *path, char *err);

/* Send one command and read its response on fd (blocking; a receive
 * timeout set on fd bounds the wait). prefix is the request's format and
 * options ("text", "json,ack=all,timeout=500"), sent as given so the
 * server judges it. *body is owned by the caller (ekl_free); *ok says
 * whether the server answered ok or err. Reads no byte past the response,
 * so calls may follow each other on one fd. */
int admin_client_call(int fd, const char *prefix, const char *command, bool *ok,
		      char **body, char *err);
/* The same with typed options. */
int admin_client_request(int fd, const struct adminproto_opts *o,
			 const char *command, bool *ok, char **body, char *err);
/* The same, where only "ok" will do: an "err" response returns EKL_EINVAL
 * with err "'COMMAND': THE SERVER'S MESSAGE" and *body NULL. */
int admin_client_get(int fd, const struct adminproto_opts *o,
		     const char *command, char **body, char *err);

/* Pipelined requests: keep up to `window` requests in flight on fd.
 * next() fills the next request line (prefix included, no newline) into
 * buf and returns 1, or 0 when there are no more. done() gets each
 * response in order with its 0-based index; a line over
 * ADMINPROTO_LINE_MAX (or with a line break) is not sent and gets
 * done(index, false, message naming the limit) in its turn. cancel (optional)
 * is asked at least every 200 ms and after a signal: true abandons the requests
 * in flight. Returns 0 when every request got a response, EKL_ECLOSED when
 * cancelled, or another negative code (err says why). */
struct admin_pipeline {
	int (*next)(void *arg, char *buf, size_t len);
	void (*done)(void *arg, size_t index, bool ok, const char *body);
	void *arg;
	size_t window;
	bool (*cancel)(void *arg);
};
int admin_client_pipeline(int fd, const struct admin_pipeline *p, char *err);

/* A connection for callers that poll() several sockets themselves: send
 * requests, and when poll says the fd is readable, read and take the
 * responses that are complete. */
struct admin_conn {
	int fd; /* owned; -1 when closed */
	struct adminproto_reader rd;
};

/* Also on error c is left closed, ready for admin_conn_close. */
int admin_conn_open(struct admin_conn *c, const char *path, char *err);
/* Close fd and free the reader; safe to call twice. */
void admin_conn_close(struct admin_conn *c);
/* Write one request line (blocking). */
int admin_conn_send(struct admin_conn *c, const struct adminproto_opts *o,
		    const char *command, char *err);
/* One read of what the socket holds: 0, or EKL_ECLOSED at end of stream,
 * EKL_EIO, EKL_EPROTO, EKL_ENOMEM. */
int admin_conn_read(struct admin_conn *c, char *err);
/* The next complete response: 1 with *r filled (r->body is the
 * caller's), 0 when none is complete yet, or a negative code. */
int admin_conn_next(struct admin_conn *c, struct adminproto_reply *r,
		    char *err);

#endif
