/* linesrv.h: the admin protocol's server side: a Unix socket (0600) on a
 * libev loop that hands each request line to a handler and writes the
 * responses back in request order.
 *
 * The node's admin socket and the lab proxy's control socket are each one
 * linesrv with their own command table (protocol: adminproto.h).
 *
 * Ownership: the server owns its clients and their buffers. A reply slot
 * (struct linesrv_reply) is handed to the handler, which completes it
 * exactly once, now or later (e.g. after a group commit). If its client
 * went away meanwhile, completing it just frees it. Everything runs on the
 * loop's thread; no function is thread safe.
 */
#ifndef EKULAB_LINESRV_H
#define EKULAB_LINESRV_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "ekulab/wire/adminproto.h"

struct linesrv;
struct linesrv_reply;

/* Output a client has not read yet above which the server stops reading
 * and handling its requests, and below which it starts again. */
#define LINESRV_OUT_HIGH (1u << 20)
#define LINESRV_OUT_LOW	 (256u << 10)

/* One parsed request. rq->command may be modified by the handler and is
 * valid during the call only. The handler must not free the server. */
typedef void (*linesrv_handler_fn)(void *arg, struct adminproto_request *rq,
				   struct linesrv_reply *reply);

/* A server with no socket yet on loop (not owned; must outlive it). */
int linesrv_new(struct ev_loop *loop, linesrv_handler_fn fn, void *arg,
		struct linesrv **out, char *err);
/* Serve a Unix socket at path, created 0600 (addr_listen_unix: a stale
 * socket is replaced, a live one refused). flag and who name it in
 * errors: "--admin", "node". At most one per server. */
int linesrv_listen(struct linesrv *s, const char *path, const char *flag,
		   const char *who, char *err);
/* Serve one connected stream socket (a socketpair end, say). Takes fd
 * (made non-blocking), also on error. */
int linesrv_adopt(struct linesrv *s, int fd, char *err);
/* Clients being served. */
size_t linesrv_clients(const struct linesrv *s);
/* Close every client, the listener, and remove the socket file. Pending
 * replies stay valid for whoever completes them. Accepts NULL. */
void linesrv_free(struct linesrv *s);

/* Complete a reply: body (NUL-terminated, NULL for none) is copied. A body
 * over ADMINPROTO_BODY_MAX is replaced by an "err" naming the limit. Never
 * writes or frees a client from here, so a handler may call it inline. */
void linesrv_reply_done(struct linesrv_reply *r, bool ok, const char *body);
/* The same, taking body (ekl_malloc'd, len bytes, may be NULL) over. */
void linesrv_reply_take(struct linesrv_reply *r, bool ok, char *body,
			size_t len);

#endif
