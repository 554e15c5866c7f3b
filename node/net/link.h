/* link.h: the link to one configured peer: dialling, connections, status.
 *
 * Both peers of a pair dial each other. The pair is linked when either
 * direction has a connection that passed TLS and Hello. When both do, the
 * connection dialled by the lower node name carries the link, so both ends
 * agree on its direction.
 */
#ifndef EKUNODE_LINK_H
#define EKUNODE_LINK_H

#include <stdbool.h>

#include <ev.h>

#include "conn.h"
#include "ekulab/core/json.h"
#include "repl/repl.h"

struct node;
struct config_peer;

struct link {
	struct node *node;		/* not owned */
	const struct config_peer *peer; /* not owned (in node->cfg) */
	struct conn *out;		/* owned: our outbound connection */
	struct conn *in;		/* owned: the peer's inbound one */
	ev_timer redial;
	int backoff_ms;
	bool out_err_set;
	struct conn_err out_err; /* last outbound failure */
	bool in_err_set;
	struct conn_err in_err; /* last inbound failure */
	double up_since;	/* ev_now when the link came up */
	bool was_up;
	struct repl_peer rp; /* replication with this peer */
};

void link_init(struct link *l, struct node *n, const struct config_peer *p);
/* Start dialling (first attempt from the loop, right away). */
void link_start(struct link *l);
void link_stop(struct link *l);

/* An inbound connection from this peer passed Hello: the link adopts it
 * (closing an older inbound connection). */
void link_adopt_inbound(struct link *l, struct conn *c);
/* An inbound connection attributed to this peer failed before adoption. */
void link_note_inbound_failure(struct link *l, const struct conn *c);

bool link_is_up(const struct link *l);
/* The connection carrying the link, or NULL when down. */
struct conn *link_carrier(const struct link *l);

/* One line for scripts: NAME LINK DIRECTION OUT IN REPL REASON APPLIED
 * LAG, where OUT/IN are "up", a failure code or "-", and "-" or -1 stand
 * for nothing known. */
void link_status_line(const struct link *l, char *buf, size_t len);

/* Append this link's status object to j (see docs/ for the contract). */
void link_status_json(const struct link *l, struct json *j);

#endif
