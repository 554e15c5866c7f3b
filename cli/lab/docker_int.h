/* docker_int.h: what the docker runtime's files share (runtime_docker.c). */
#ifndef EKULAB_CLI_DOCKER_INT_H
#define EKULAB_CLI_DOCKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lab.h"

#define DOCKER_IMAGE_DEFAULT "ekulab-node:latest"
#define DOCKER_UID	     10001 /* the image's user (docker/build-image.sh) */
#define DOCKER_TIMEOUT_S     120.0
#define DOCKER_OUT_MAX	     65536

/* The lab's docker identity and addresses (STATE/docker.conf). The swarm
 * runtime (runtime_swarm.c) shares it: swarm set, ip[] and proxy_ip are
 * the services' virtual addresses on the overlay network, manager the
 * swarm node id of the manager the lab was brought up from. */
struct docker_lab {
	bool swarm;
	char manager[64];
	char id[160];
	char name[TOPO_NAME_MAX + 1];
	char image[256];
	char user[32];
	char subnet[24];
	char gateway[16];
	char proxy_ip[16];
	char ip[TOPO_MAX_NODES][16];
};

/* An argument vector that owns its strings. */
struct docker_argv {
	char **v;
	size_t n, cap;
	bool oom;
};

/* ---- docker_cmd.c: running the docker program ---------------------------- */

/* A new vector: the docker client ($EKULAB_DOCKER or docker) and sub. */
void docker_argv_init(struct docker_argv *a, const char *sub);
/* Append one formatted argument; out of memory is kept for docker_run. */
void docker_argv_add(struct docker_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void docker_argv_free(struct docker_argv *a);
/* Run a docker command; frees a. Its stdout goes to `out` (NUL-terminated,
 * cut at outlen; may be NULL) or, with to_file, stdout and stderr both go
 * to that file. Non-zero exit: EKL_EIO with docker's last error line. */
int docker_run(struct docker_argv *a, const char *to_file, char *out,
	       size_t outlen, char *err);
/* `docker SUB [OPT] NAME`. */
/* Did a `docker pause` fail only because the cgroup freezer timed out
 * (runc: "unable to freeze": a task of the container was in an
 * uninterruptible wait, e.g. an fdatasync on a busy disk)? Worth another
 * try a moment later. */
bool docker_freeze_timed_out(const char *err);
/* Tries of `docker pause` when the freezer times out, DOCKER_PAUSE_GAP_US
 * apart. */
#define DOCKER_PAUSE_TRIES  10
#define DOCKER_PAUSE_GAP_US 100000
int docker_simple(const char *sub, const char *opt, const char *name,
		  char *err);
/* Whether the object NAME of kind what (network, container) exists. */
bool docker_exists(const char *what, const char *name);
/* 0 when d's image is there, else an error that says how to get it. */
int docker_check_image(const struct docker_lab *d, char *err);
/* `docker KIND inspect --format FORMAT` of every object `docker KIND ls`
 * lists (network, node), into out; empty when there is none. An object
 * removed between the list and the inspect (another lab's down) makes
 * it list again, up to DOCKER_INSPECT_TRIES times DOCKER_INSPECT_GAP_US
 * apart. */
#define DOCKER_INSPECT_TRIES  10
#define DOCKER_INSPECT_GAP_US 50000
int docker_inspect_all(const char *kind, const char *format, char *out,
		       size_t len, char *err);
/* "STATUS VERSION IMAGEID" of a container; EKL_ENOENT when none. */
int docker_inspect(const char *name, char *out, size_t len);
/* The container's output into path (its log, as node.log would be). */
void docker_save_logs(const char *name, const char *path);

/* ---- docker_net.c: identity, network, labels and teardown ---------------- */

/* Names and the container user; needs no engine and no file. */
void docker_ident(const struct lab *l, struct docker_lab *d);
/* The name of the lab's container (or volume prefix) what: ID-what. */
void docker_cname(const struct docker_lab *d, const char *what, char *buf,
		  size_t len);
/* The network, addresses, docker.conf and compose.yaml, made once per up. */
int docker_ensure(struct lab *l, struct docker_lab *d, char *err);
/* STATE/docker.conf: write d; read it over docker_ident's values
 * (EKL_ENOENT: none yet). */
int docker_conf_save(const struct lab *l, const struct docker_lab *d,
		     char *err);
int docker_conf_load(const struct lab *l, struct docker_lab *d, char *err);
/* Every object of the lab carries both labels (down finds them by id). */
void docker_add_labels(struct docker_argv *a, const struct docker_lab *d);
/* Remove every container, the network and every volume of the lab, in
 * that order, going on past a failure (the first one is returned); with
 * swarm, every service labelled with the lab's id first. */
int docker_teardown(const struct docker_lab *d, char *err);

/* ---- docker_compose.c: files the containers and compose read ------------- */

/* Copy src to dst (0600), given to the container user. */
int docker_copy_given(const struct docker_lab *d, const char *src,
		      const char *dst, char *err);
/* mkdir path (0700, existing is fine), given to the container user. */
int docker_mkdir_given(const struct docker_lab *d, const char *path, char *err);
/* STATE/NODE/container.conf, with NODE/tls and NODE/data. */
int docker_write_container_conf(const struct lab *l, const struct docker_lab *d,
				int i, char *err);
/* STATE/compose.yaml. */
int docker_write_compose(const struct lab *l, const struct docker_lab *d,
			 char *err);
/* STATE/stack.yaml: the lab as a swarm stack (docker stack deploy): the
 * proxy and node services with so many replicas, on the lab's overlay
 * network (external), with the placement constraints of the topology;
 * the proxy's routes name the node services (resolved per connection). */
int docker_write_stack(const struct lab *l, const struct docker_lab *d,
		       int proxy_replicas, int node_replicas, char *err);

/* ---- runtime_swarm.c ------------------------------------------------------
 */

/* Does every host that may run one of the lab's nodes have d's image?
 * 0, or an error naming the host that lacks it and the command that puts
 * it there (ekulab image push --to HOST). */
int swarm_check_hosts(const struct lab *l, const struct docker_lab *d,
		      char *err);
/* The network admin channel of node i (docs/docker.md, "The admin
 * channel"): its lines of container.conf (admin-listen on
 * SWARM_ADMIN_PORT, the admin certificate, key and CA copied into
 * NODE/tls), and its published port in the stack file. */
#define SWARM_ADMIN_PORT 7443
int swarm_admin_conf(const struct lab *l, const struct docker_lab *d, int i,
		     FILE *out, char *err);
void swarm_admin_ports(const struct lab *l, int i, FILE *f);
/* Node i's files in the stack (docs/docker.md, "Several hosts"): its
 * container.conf and certificates as swarm configs, its keys as swarm
 * secrets (0400, the container user's), its data on a volume of the host
 * its task runs on; and the top-level configs, secrets and volumes. The
 * objects are made beforehand (swarm_node_objects, named by content). */
void swarm_node_mounts(const struct lab *l, const struct docker_lab *d, int i,
		       FILE *f);
void swarm_stack_objects(const struct lab *l, const struct docker_lab *d,
			 FILE *f);

#endif
