/* lab_runtime.h: how a lab's nodes and proxy are run. Faults and plans use
 * only this interface, so they do not care which runtime runs the lab. */
#ifndef EKULAB_CLI_LAB_RUNTIME_H
#define EKULAB_CLI_LAB_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

struct lab;

struct lab_runtime {
	const char *name; /* "process" */
	/* Each node and the proxy have an address of their own (docker): the
	 * lab's ports are fixed numbers. Otherwise they share the host's
	 * loopback and the lab reserves every port (lab.h). */
	bool own_network;
	/* Start node i from its node.conf; returns once the process runs
	 * (not necessarily healthy: see lab_wait_node). */
	int (*start_node)(struct lab *l, int i, char *err);
	/* Start every node at once (each as start_node would), when the
	 * runtime gains by it (docker: the engine starts containers side by
	 * side); NULL: lab_start_all calls start_node for each in turn. */
	int (*start_nodes)(struct lab *l, char *err);
	/* SIGTERM, then SIGKILL after a grace period. */
	int (*stop_node)(struct lab *l, int i, char *err);
	/* SIGKILL: no goodbye, as a crash. */
	int (*kill_node)(struct lab *l, int i, char *err);
	int (*pause_node)(struct lab *l, int i, char *err);  /* SIGSTOP */
	int (*resume_node)(struct lab *l, int i, char *err); /* SIGCONT */
	bool (*node_running)(const struct lab *l, int i);
	/* running[i] = node_running(l, i) for every node, asked in one go
	 * (docker: one `docker container ls` instead of an inspect per
	 * node, ~0.1 s each); NULL: lab_nodes_running asks node_running.
	 * 0, or -1 when it could not ask (then node_running is asked). */
	int (*nodes_running)(const struct lab *l, bool *running);
	int (*start_proxy)(struct lab *l, char *err);
	int (*stop_proxy)(struct lab *l, char *err);
	/* The host node i runs on, for a runtime that spans hosts (swarm);
	 * NULL for the others (every node runs on this host). 0 or -1. */
	int (*node_host)(const struct lab *l, int i, char *out, size_t len);
	/* Node i's admin target (lab_node_admin) when it is not its socket
	 * in the state directory, or NULL. 0, or -1 for the socket. */
	int (*node_admin)(const struct lab *l, int i, char *out, size_t len);
};

extern const struct lab_runtime lab_runtime_process;
/* Each node and the proxy in a container (runtime_docker.c, docs/docker.md). */
extern const struct lab_runtime lab_runtime_docker;
/* Each node and the proxy a swarm service of a stack (runtime_swarm.c). */
extern const struct lab_runtime lab_runtime_swarm;

/* A program of ours: $ENV when set and executable; "ekulab" is this very
 * program; anything else is looked for next to it (../node/NAME in a
 * build tree, the same directory once installed). 0 or -1. */
int lab_find_program(const char *name, const char *env, char *out, size_t len);

/* `ekulab image push --to HOST`: the node image (image, else
 * $EKULAB_IMAGE, else ekulab-node:latest; built offline first when it is
 * missing or older than the programs) onto HOST over `docker save |
 * $EKULAB_SSH-or-ssh HOST docker load`, then checked there by its id. */
struct lab_image_pushed {
	char image[256];
	char id[160];
	long long bytes;
	double seconds;
};
int lab_image_push(const char *image, const char *host,
		   struct lab_image_pushed *out, char *err);
/* The node image (image, else $EKULAB_IMAGE, else ekulab-node:latest),
 * built offline first when it is missing or older than the programs, as
 * lab up --runtime docker makes sure before anything else; its name into
 * name (may be NULL). 0, or what is wrong and what to do. */
int lab_image_ready(const char *image, char *name, size_t len, char *err);

/* The runtime called name, or NULL. */
const struct lab_runtime *lab_runtime_find(const char *name);

#endif
