/* link.h: the link to one configured peer: dialling, connections, status.
 *
 * A pair has up to two directions: ours (we dial the peer, unless the
 * peer is configured `dial=no`) and the peer's (it dials us, unless
 * `accept=no`). The link rule says when the pair is linked: `both` (the
 * default, the field notice's ClusterDB behaviour): every direction that
 * exists has a connection that passed TLS and Hello; `either`: at least
 * one does. When both directions are up, the connection dialled by the
 * lower node name (compared case-insensitively, as names are) carries the
 * link, so both ends agree on its direction. The rule is the model's
 * (docs/model.md); link_rule_linked() is its node-side statement.
 *
 * A link knows conns (below it) and nothing above: what replication makes
 * of a link reaches it through struct link_ops, which its owner (node.c)
 * wires. Ownership: the link owns its conns (out, in); the strings and the
 * env in its struct link_config are borrowed and must outlive it.
 */
#ifndef EKUNODE_LINK_H
#define EKUNODE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "conn.h"
#include "ekulab/core/json.h"

struct link;

/* What a link tells its owner, and what it asks for its status. */
struct link_ops {
	/* A conn of the link (either direction) passed Hello. */
	void (*conn_up)(struct link *l, struct conn *c);
	/* The link went up or down, or its carrier may have changed; called
	 * on every such event, before it is logged. */
	void (*changed)(struct link *l);
	/* A message other than Hello, Heartbeat or Bye arrived on an UP conn
	 * of the link (the envelope is freed after the call). */
	void (*frame)(struct link *l, struct conn *c, const Ekl__Envelope *env);
	/* Status: the replication view of this peer (state, reason or NULL,
	 * applied revision, lag); false when none runs with it. */
	bool (*repl_view)(const struct link *l, const char **state,
			  const char **reason, int64_t *applied, int64_t *lag);
	/* Status: append this peer's "replication" JSON value. */
	void (*repl_json)(const struct link *l, struct json *j);
};

/* The link rule (--link). */
enum link_rule { LINK_RULE_BOTH = 0, LINK_RULE_EITHER };
const char *link_rule_name(enum link_rule r);

/* The rule itself: is a pair linked, given which directions exist
 * (dial: we dial; accept: the peer dials us) and which are up? A
 * direction that does not exist counts as neither up nor failing; with
 * none, the pair is never linked. */
bool link_rule_linked(enum link_rule rule, bool dial, bool accept, bool out_up,
		      bool in_up);

struct link_config {
	const struct conn_env *env; /* not owned: env->name is our name */
	const struct link_ops *ops; /* not owned */
	void *arg;		    /* the owner's object, not owned */
	int index;		    /* the owner's number for this peer */
	const char *name; /* not owned: the peer's name, the identity expected
			     in its certificate and its Hello */
	const char *addr_text;	 /* not owned: "HOST:PORT" as configured */
	const struct addr *addr; /* not owned: where to dial */
	int backoff_max_ms;	 /* the redial backoff's ceiling */
	bool dial;		 /* we dial the peer (false: `dial=no`) */
	bool accept;		 /* the peer dials us (false: `accept=no`) */
	enum link_rule rule;
};

struct link {
	struct link_config cfg; /* a copy; its pointers are borrowed */
	struct conn *out;	/* owned: our outbound connection */
	struct conn *in;	/* owned: the peer's inbound one */
	ev_timer redial;
	int backoff_ms;
	bool out_err_set;
	struct conn_err out_err; /* last outbound failure */
	bool in_err_set;
	struct conn_err in_err; /* last inbound failure */
	uint64_t out_failures;	/* outbound attempts that failed */
	uint64_t in_failures;	/* inbound ones attributed to this peer */
	double up_since;	/* ev_now when the link came up */
	bool was_up;
	/* The failure last logged at warn per direction (a reason is logged
	 * once when it appears or changes; cleared when the direction comes
	 * up). */
	bool out_logged_set;
	struct conn_err out_logged;
	bool in_logged_set;
	struct conn_err in_logged;
};

void link_init(struct link *l, const struct link_config *cfg);
/* Start dialling (first attempt from the loop, right away); nothing when
 * the peer is `dial=no`. */
void link_start(struct link *l);
/* Say Bye on both conns and free them; stop dialling. */
void link_stop(struct link *l);

/* An inbound connection from this peer passed Hello: the link adopts it
 * (closing an older inbound connection). */
void link_adopt_inbound(struct link *l, struct conn *c);
/* An inbound connection attributed to this peer failed before adoption. */
void link_note_inbound_failure(struct link *l, const struct conn *c);

bool link_is_up(const struct link *l);
/* The connection carrying the link, or NULL when down. */
struct conn *link_carrier(const struct link *l);
/* Send env on every UP conn of the link (both directions). */
void link_send_all(struct link *l, const Ekl__Envelope *env);
/* Why a down link is down, from the directions that exist: a
 * certificate code if either has one, else the outbound failure, else
 * the inbound one, else "link-down". */
const char *link_down_reason(const struct link *l);

/* A plain sentence for a failure of one direction (outbound: ours),
 * e.g. "node2's certificate has no clientAuth EKU" or "node2 rejected
 * our certificate: it has no clientAuth EKU". */
void link_explain(const char *peer, bool outbound, const struct conn_err *e,
		  char *buf, size_t len);

/* One line for scripts: NAME LINK DIRECTION OUT IN REPL REASON APPLIED
 * LAG, where OUT/IN are "up", a failure code or "-", and "-" or -1 stand
 * for nothing known. */
void link_status_line(const struct link *l, char *buf, size_t len);

/* Append this link's status object to j (see docs/ for the contract). */
void link_status_json(const struct link *l, struct json *j);

#endif
