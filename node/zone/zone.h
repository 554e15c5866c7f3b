/* zone.h: an Expressway deployment's zone services on one endpoint: the
 * traversal zone (with MRA's SIP SERVICE message), neighbour, B2B,
 * federation and cloud zones (docs/node.md, "Zones").
 *
 * An endpoint (an Expressway node, or an ekunode playing an external peer:
 * `--kind cucm` ...) listens for the services it accepts (`--zone-listen
 * SERVICE=HOST:PORT`) and opens the zone connections it initiates
 * (`--zone-peer NAME=SERVICE,HOST:PORT[,mra]`). Each is a real TLS
 * handshake with a context built for that service (tls.h: the rules come
 * from pol_rules(), never from here). A connection is probed: opened,
 * handshaken, the acceptor's first frame read, closed, and opened again
 * every interval_ms, so the status always tells how a fresh connection of
 * the service ends now (a modelling choice, like a SIP OPTIONS keepalive).
 *
 * The acceptor's first frame (u32 big-endian length + body) says it
 * accepted us (TLS 1.3 finishes the client's handshake before the server
 * has checked the client's certificate): on a traversal connection it is
 * the SIP SERVICE message carrying the acceptor's certificate chain (its
 * server certificate file, PEM); on any other service "OK". An initiator
 * whose peer is marked mra validates that chain with
 * tls_verify_chain() under pol_rules(self, initiator, POL_SVC_MRA): chain
 * to its trust store, serverAuth, then clientAuth before X15.4.
 *
 * Ownership: struct zone owns its listeners, contexts and connections;
 * sockets on which TLS ran go to env->linger when done. Everything runs
 * on env->loop.
 */
#ifndef EKUNODE_ZONE_H
#define EKUNODE_ZONE_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "ekulab/core/json.h"
#include "ekulab/x509/policy.h"
#include "ekulab/x509/tls.h"

#define ZONE_MAX_LISTEN	 8
#define ZONE_MAX_PEERS	 32
#define ZONE_MAX_ACCEPTS 64
#define ZONE_NAME_MAX	 64
/* Probe interval and per-attempt deadline, by default. */
#define ZONE_INTERVAL_MS 1000
#define ZONE_TIMEOUT_MS	 3000

/* --zone-listen SERVICE=HOST:PORT */
struct zone_listen_cfg {
	enum pol_service service;
	char addr_text[96];
	struct addr addr;
};

/* --zone-peer NAME=SERVICE,HOST:PORT[,mra]: this endpoint opens SERVICE
 * to NAME; mra (traversal only): check the SIP SERVICE message. */
struct zone_peer_cfg {
	char name[ZONE_NAME_MAX];
	enum pol_service service;
	char addr_text[96];
	struct addr addr;
	bool mra;
};

/* --zone-accept SERVICE=NAME: a name accepted from inbound callers of
 * SERVICE (the identity the acceptor checks). */
struct zone_accept_cfg {
	enum pol_service service;
	char name[ZONE_NAME_MAX];
};

struct zone_env {
	struct ev_loop *loop; /* not owned */
	/* The endpoint's TLS identity and policy (kind, version, mode,
	 * switches, files, at); service and peer_names are set per
	 * context by zone_start. Strings not owned, must outlive zone. */
	struct tls_config tls;
	int interval_ms; /* 0: ZONE_INTERVAL_MS */
	int timeout_ms;	 /* 0: ZONE_TIMEOUT_MS */
	/* Close fd gracefully (takes it). NULL: close(). */
	void (*linger)(void *arg, int fd);
	void *arg;
};

/* One zone connection as the status reports it. */
enum zone_state { ZONE_CONNECTING = 0, ZONE_UP, ZONE_DOWN };
const char *zone_state_name(enum zone_state s); /* connecting up down */

struct zone_result {
	enum pol_service service;
	char peer[ZONE_NAME_MAX];
	bool outbound;
	enum zone_state state;
	/* "ok", a pol_code name (client-purpose...), or a transport code:
	 * connect-failed, timeout, closed, tls, protocol; "-" before the
	 * first attempt ends. */
	char code[32];
	enum pol_side side; /* who rejected, for a certificate code */
	int depth;	    /* -1 unknown */
	char message[200];
	unsigned attempts;
	double at;	      /* ev_now of the last attempt's end */
	struct ev_loop *loop; /* not owned */
};

struct zone;

/* Build a TLS context per service used, bind the listeners and start
 * probing. On error nothing is left open and err names the flag. */
int zone_start(const struct zone_env *env, const struct zone_listen_cfg *ls,
	       size_t n_ls, const struct zone_peer_cfg *ps, size_t n_ps,
	       const struct zone_accept_cfg *as, size_t n_as, struct zone **out,
	       char *err);
void zone_stop(struct zone *z); /* accepts NULL */

/* Every result: outbound peers (an mra peer twice: traversal, then mra),
 * then inbound (one per accepted name and service, once it called). */
size_t zone_results(const struct zone *z, const struct zone_result **out);
/* "zones": [...] as a JSON array value (docs/node.md): each result with
 * age_ms, how long ago its last attempt ended (null before the first),
 * so that an observer can tell a result older than the peer's process. */
void zone_status_json(const struct zone *z, struct json *j);

/* ---- the SIP SERVICE frame (exposed for tests) ---- */

/* Body of the frame that carries `pem` (len bytes) as a SIP SERVICE
 * message. *out owned by the caller (ekl_free); 0 or EKL_ENOMEM. */
int zone_service_msg(const char *to, const char *pem, size_t len, char **out,
		     size_t *out_len);
/* The chain inside a SIP SERVICE body (points into body), or NULL when
 * body is not one. */
const char *zone_service_chain(const char *body, size_t len, size_t *chain_len);

#endif
