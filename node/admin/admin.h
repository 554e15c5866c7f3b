/* admin.h: the node's admin socket (Unix, 0600) and its commands.
 *
 * The protocol (request lines, responses, limits) is the admin protocol of
 * lib/wire (ekulab/wire/adminproto.h), served by its line server
 * (linesrv.h): any number of requests per connection, responses in
 * request order, also when a write's answer waits for a group commit or
 * for peers. Commands: see admin_commands in admin.c and docs/node.md.
 */
#ifndef EKUNODE_ADMIN_H
#define EKUNODE_ADMIN_H

#include <stdbool.h>

struct node;
struct admin;

/* Bind path (0600) and serve it on n's loop. A stale socket left by a dead
 * node is replaced; a live one, or a non-socket file, is an error. */
int admin_start(struct node *n, const char *path, struct admin **out,
		char *err);
/* Close every client and remove the socket file. Accepts NULL. */
void admin_stop(struct admin *a);

/* One pending response, in its client's order (a linesrv reply slot).
 * Whoever holds it completes it exactly once; if the client went away
 * meanwhile, completing it just frees it. */
struct admin_reply;
void admin_reply_done(struct admin_reply *r, bool ok, const char *body);

#endif
