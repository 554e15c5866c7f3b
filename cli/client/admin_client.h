/* admin_client.h: talk to a node's admin socket (protocol: node/admin.h). */
#ifndef EKULAB_CLI_ADMIN_CLIENT_H
#define EKULAB_CLI_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* Connect to the socket at path; returns the fd or a negative code with
 * err naming the path and what to check. */
int admin_client_connect(const char *path, char *err);

/* Send one command and read its response. prefix is the request's format
 * and options ("text", "json", "text,ack=all,timeout=500"). *body is owned
 * by the caller (ekl_free); *ok says whether the node answered ok or err. */
int admin_client_call(int fd, const char *prefix, const char *command, bool *ok,
		      char **body, char *err);

/* Pipelined requests: keep up to `window` requests in flight on fd.
 * next() fills the next request line (without newline, prefix included)
 * into buf and returns 1, or 0 when there are no more. done() gets each
 * response in order with its 0-based index. Returns 0 when every request
 * got a response, or a negative code (err says why). */
struct admin_pipeline {
	int (*next)(void *arg, char *buf, size_t len);
	void (*done)(void *arg, size_t index, bool ok, const char *body);
	void *arg;
	size_t window;
};
int admin_client_pipeline(int fd, const struct admin_pipeline *p, char *err);

#endif
