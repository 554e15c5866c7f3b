/* node_status.h: a node's state, typed, from its admin socket's JSON
 * (the contract in docs/node.md): `xStatus Cluster` (links and
 * replication), `xStatus Database`, `xStatus Latency` and the rows of
 * `xConfiguration`.
 *
 * Each *_get sends one request on fd (admin_client.h) and parses the
 * JSON; each *_parse parses a body already read (the tests feed captured
 * JSON). Errors: those of admin_client_get (EKL_EIO, EKL_EINVAL for a
 * refusal with the node's message in err...), and EKL_EPROTO when the JSON
 * lacks a field of the contract or has one of the wrong type (err names
 * the field). Unknown fields are ignored, so newer nodes may say more.
 */
#ifndef EKULAB_CLI_NODE_STATUS_H
#define EKULAB_CLI_NODE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekulab/core/jsonr.h"

#define NODE_STATUS_NAME_MAX 64 /* node and peer names, NUL included */
#define NODE_STATUS_CODE_MAX 32 /* failure codes, states */
#define NODE_STATUS_DIGEST   64 /* hex digits of a database digest */

/* One configured peer, as `xStatus Cluster` reports it. */
struct node_peer_status {
	char name[NODE_STATUS_NAME_MAX];
	bool link_up;  /* either direction passed TLS and Hello */
	bool outbound; /* the link is carried by our connection */
	/* Each direction: "up", the code of its last failure, or "-" when
	 * nothing happened yet. */
	char out[NODE_STATUS_CODE_MAX];
	char in[NODE_STATUS_CODE_MAX];
	/* For a failure code: the certificate depth (-1 when unknown) and who
	 * rejected ("initiator", "acceptor" or ""). */
	int out_depth, in_depth;
	char out_by[16], in_by[16];
	/* What verification saw on an up connection but did not enforce
	 * (permissive, or the X15.4+ ClusterDB bypass): a code, or "". */
	char out_unenforced[NODE_STATUS_CODE_MAX];
	char in_unenforced[NODE_STATUS_CODE_MAX];
	/* The directions that exist (peer options dial=no, accept=no); both
	 * true from a node that does not say. */
	bool dial;
	bool accept;
	/* Replication with this peer; false between two non-primaries,
	 * then repl and reason are "-" and the numbers -1. */
	bool replicates;
	char repl[NODE_STATUS_CODE_MAX];   /* replicating, catching-up,
					      snapshot or stopped */
	char reason[NODE_STATUS_CODE_MAX]; /* why stopped, or "-" */
	int64_t applied;		   /* revision applied there */
	int64_t lag;
	int64_t snapshots;
};

/* One zone connection (optional "zones" array, docs/node.md "Zones"). */
struct node_zone_status {
	char service[NODE_STATUS_CODE_MAX]; /* traversal, mra, neighbour... */
	char peer[NODE_STATUS_NAME_MAX];
	bool outbound;
	char state[NODE_STATUS_CODE_MAX]; /* connecting, up, down */
	char code[NODE_STATUS_CODE_MAX];  /* ok, a policy code, a transport
					     code, or "-" */
	char by[16];			  /* initiator, acceptor or "" */
	int depth;			  /* -1 unknown */
	int64_t age_ms; /* since the last attempt ended; -1 unknown */
};

struct node_status {
	char node[NODE_STATUS_NAME_MAX];
	char cluster[NODE_STATUS_NAME_MAX];
	char version[NODE_STATUS_NAME_MAX];
	char verify[NODE_STATUS_CODE_MAX];
	char primary[NODE_STATUS_NAME_MAX]; /* "" when there is none */
	int64_t epoch;
	int64_t revision;
	int64_t rows;
	char digest[NODE_STATUS_DIGEST + 1];
	struct node_peer_status *peers; /* owned, n_peers entries */
	size_t n_peers;
	size_t n_unknown_callers;
	/* Optional fields (-1 or "" from a node that does not report them):
	 * the link rule, the process id and how long it has run. */
	char link_rule[NODE_STATUS_CODE_MAX];
	int64_t pid;
	int64_t uptime_ms;
	char kind[NODE_STATUS_CODE_MAX]; /* "expressway" when not said */
	struct node_zone_status *zones;	 /* owned, n_zones; none when not
					    said */
	size_t n_zones;
};

int node_status_get(int fd, struct node_status *st, char *err);
int node_status_parse(const char *json, size_t len, struct node_status *st,
		      char *err);
/* Frees the peers; accepts a zeroed or failed status. */
void node_status_free(struct node_status *st);
/* The peer named name, or NULL. */
const struct node_peer_status *node_status_peer(const struct node_status *st,
						const char *name);

/* `xStatus Database`. */
struct node_database {
	char node[NODE_STATUS_NAME_MAX];
	char primary[NODE_STATUS_NAME_MAX]; /* "" when there is none */
	int64_t epoch;
	int64_t revision;
	int64_t rev_epoch;
	int64_t rows;
	int64_t log_first;
	char digest[NODE_STATUS_DIGEST + 1];
};

int node_database_get(int fd, struct node_database *db, char *err);
int node_database_parse(const char *json, size_t len, struct node_database *db,
			char *err);

/* `xStatus Latency` (primary): --ack all writes, commit to applied on
 * every peer; the percentiles are 0 when count is 0. */
struct node_latency {
	int64_t count;
	int64_t p50_us;
	int64_t p99_us;
	int64_t max_us;
	int64_t groups; /* group commits */
	int64_t writes; /* writes in them */
};

int node_latency_get(int fd, struct node_latency *lat, char *err);
int node_latency_reset(int fd, char *err);
int node_latency_parse(const char *json, size_t len, struct node_latency *lat,
		       char *err);

/* Every row of `xConfiguration`, in the node's order (path order). */
struct node_row {
	const char *path;  /* in doc */
	const char *value; /* in doc */
};

struct node_rows {
	struct node_row *row; /* owned, n entries */
	size_t n;
	struct jsonr_doc *doc; /* owned: the strings */
};

int node_rows_get(int fd, struct node_rows *rows, char *err);
int node_rows_parse(const char *json, size_t len, struct node_rows *rows,
		    char *err);
/* Accepts a zeroed or failed list. */
void node_rows_free(struct node_rows *rows);

#endif
