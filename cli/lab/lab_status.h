/* lab_status.h: what a running lab looks like: the directional link
 * matrix and replication per node, from each node's admin socket. */
#ifndef EKULAB_CLI_LAB_STATUS_H
#define EKULAB_CLI_LAB_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/node_status.h"
#include "lab.h"

/* One peer as a node sees it (from its `xStatus Cluster` JSON). */
struct lab_peer_status {
	bool link_up;
	char out[NODE_STATUS_CODE_MAX]; /* "up", a failure code, "-" */
	char in[NODE_STATUS_CODE_MAX];
	/* replicating | catching-up | snapshot | stopped | - */
	char repl[NODE_STATUS_CODE_MAX];
	char reason[NODE_STATUS_CODE_MAX];
	int64_t applied;
	int64_t lag;
};

struct lab_node_status {
	bool running; /* the process runs */
	bool answers; /* its admin socket answered */
	bool paused;
	char primary[TOPO_NAME_MAX + 1];
	int64_t revision;
	struct lab_peer_status *peers; /* owned; indexed like lab nodes */
};

struct lab_status {
	size_t n;
	struct lab_node_status *nodes; /* owned */
};

int lab_status_collect(const struct lab *l, struct lab_status *s, char *err);
void lab_status_free(struct lab_status *s);

/* The directed connection from -> to: "ok", a failure code, "-" when
 * from does not dial to, "stopped" when either node is down. */
const char *lab_status_cell(const struct lab *l, const struct lab_status *s,
			    size_t from, size_t to);
/* The link between i and j is up (seen from either end). */
bool lab_status_linked(const struct lab_status *s, size_t i, size_t j);

void lab_status_print(const struct lab *l, const struct lab_status *s,
		      bool json);
void lab_status_dot(const struct lab *l, const struct lab_status *s, FILE *f);
void lab_status_svg(const struct lab *l, const struct lab_status *s, FILE *f);

#endif
