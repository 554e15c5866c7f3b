/* runtime_swarm.c: the swarm runtime: the lab as a Docker Swarm stack. The
 * same node image, container.conf and proxy as the docker runtime
 * (docker_int.h), but each node, and the lab proxy, is a swarm service of
 * one replica, and the network is an attachable overlay, so nodes may run
 * on several hosts (docs/docker.md, "Several hosts").
 *
 * What one lab makes, every object labelled ekulab.lab=NAME and
 * ekulab.id=ID (ID as with docker: ekulab-NAME-HASH):
 *   network  ID                overlay, attachable, subnet 10.213.X.0/24
 *   stack    ID                STATE/stack.yaml, `docker stack deploy`ed
 *   service  ID_proxy          `ekulab proxy`, on the manager's host
 *   service  ID_NODE           ekunode, one replica, placed by the
 *                              topology's placement (else on the manager's
 *                              host), STATE/NODE bound on /lab
 *   volume   ID-NODE-data      its database: a local volume, bound to
 *                              STATE/NODE/data on the host of its task
 *
 * A swarm task has an address the swarm chooses, and a new task (a
 * restart, an upgrade) gets another one; virtual service addresses need
 * IPVS in the kernel, which not every host has. So the services use
 * endpoint_mode dnsrr: the proxy's routes name the node services
 * (ID_NODE:PORT, looked up at each connection by the engine's DNS), and
 * the nodes dial the proxy task's address. Up therefore deploys the
 * stack twice: the proxy alone first, then, once every container.conf
 * names the proxy's address, every service. Nodes listen on 0.0.0.0.
 *
 * Node operations: start = `docker service update --replicas 1 --force`
 * with the node's version in its arguments (a new task, the same volume)
 * unless a task of that version is starting or running already; stop =
 * `--replicas 0`; kill = `docker kill --signal=KILL` of the task's
 * container (restart policy none: the task stays failed, as a crash);
 * pause / resume = `docker pause` / `unpause` of the task's container.
 * The container operations reach the engine this ekulab talks to: the
 * task must run on this host (docs/docker.md says what is approximate).
 * Link faults and partitions: the proxy service, as with docker.
 *
 * stop_proxy is the teardown: every service, container, the network and
 * every volume with the lab's ekulab.id label, nothing else. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docker_int.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/pki.h"
#include "lab.h"
#include "lab_runtime.h"

#define SWARM_WAIT_S 60.0

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Where node i's task runs: its container on this engine (host ""), or
 * on another swarm host, reached as `$EKULAB_SSH-or-ssh HOST docker ...`
 * (the same way as image push). */
struct task_where {
	char host[256];
	char cid[128];
};

/* ID_what: the stack's service name. */
static void svc_name(const struct docker_lab *d, const char *what, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s_%s", d->id, what);
}

static void chomp(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

/* The engine is a swarm manager: its node id into d->manager. */
static int swarm_manager(struct docker_lab *d, char *err)
{
	char out[256], state[32] = "", ctl[16] = "", id[64] = "";
	struct docker_argv a;
	int rv;

	docker_argv_init(&a, "info");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Swarm.LocalNodeState}} "
			    "{{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}");
	if ((rv = docker_run(&a, NULL, out, sizeof(out), err)) != 0)
		return rv;
	sscanf(out, "%31s %15s %63s", state, ctl, id);
	if (strcmp(state, "active") != 0)
		return ekl_errf(err, EKL_ENOENT,
				"the Docker engine is in no swarm (swarm: %s): "
				"run scripts/swarm-engine.sh for a one-host "
				"swarm, or 'docker swarm init' / 'docker swarm "
				"join' (docs/docker.md, \"Several hosts\")",
				state[0] ? state : "unknown");
	if (strcmp(ctl, "true") != 0)
		return ekl_errf(err, EKL_EINVAL,
				"this engine is a swarm worker: run ekulab on "
				"a swarm manager (docker node ls there)");
	snprintf(d->manager, sizeof(d->manager), "%s", id);
	return 0;
}

static int stack_deploy(const struct lab *l, const struct docker_lab *d,
			int proxy_replicas, int node_replicas, char *err)
{
	char path[LAB_PATH_MAX + 32];
	struct docker_argv a;
	int rv;

	if ((rv = docker_write_stack(l, d, proxy_replicas, node_replicas,
				     err)) != 0)
		return rv;
	lab_path(l, NULL, "stack.yaml", path, sizeof(path));
	docker_argv_init(&a, "stack");
	docker_argv_add(&a, "deploy");
	docker_argv_add(&a, "--resolve-image");
	docker_argv_add(&a, "never");
	docker_argv_add(&a, "--compose-file");
	docker_argv_add(&a, "%s", path);
	docker_argv_add(&a, "%s", d->id);
	return docker_run(&a, NULL, NULL, 0, err);
}

/* The current state of the service's task that should run ("Running 3
 * seconds ago" -> "running"), "" when none should. */
static void task_state(const char *svc, char *st, size_t len)
{
	char out[4096], err[EKL_ERRLEN];
	struct docker_argv a;
	size_t k;

	st[0] = '\0';
	docker_argv_init(&a, "service");
	docker_argv_add(&a, "ps");
	docker_argv_add(&a, "--filter");
	docker_argv_add(&a, "desired-state=running");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.CurrentState}}");
	docker_argv_add(&a, "%s", svc);
	if (docker_run(&a, NULL, out, sizeof(out), err) != 0)
		return;
	for (k = 0;
	     k + 1 < len && out[k] != '\0' && out[k] != ' ' && out[k] != '\n';
	     k++)
		st[k] = (char)(out[k] >= 'A' && out[k] <= 'Z' ? out[k] + 32
							      : out[k]);
	st[k] = '\0';
}

/* A task on its way to running or running (paused included). */
static bool state_active(const char *st)
{
	static const char *const active[] = {"new",	 "pending", "assigned",
					     "accepted", "ready",   "preparing",
					     "starting", "running", NULL};

	for (size_t k = 0; active[k] != NULL; k++)
		if (strcmp(st, active[k]) == 0)
			return true;
	return false;
}

/* The newest container of the service on this host, or "". */
static void task_container(const char *svc, char *cid, size_t len)
{
	char err[EKL_ERRLEN];
	struct docker_argv a;

	docker_argv_init(&a, "ps");
	docker_argv_add(&a, "--all");
	docker_argv_add(&a, "--latest");
	docker_argv_add(&a, "--quiet");
	docker_argv_add(&a, "--filter");
	docker_argv_add(&a, "label=com.docker.swarm.service.name=%s", svc);
	if (docker_run(&a, NULL, cid, len, err) != 0)
		cid[0] = '\0';
	chomp(cid);
}

static bool service_exists(const char *svc)
{
	char err[EKL_ERRLEN];
	struct docker_argv a;

	docker_argv_init(&a, "service");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.ID}}");
	docker_argv_add(&a, "%s", svc);
	return docker_run(&a, NULL, NULL, 0, err) == 0;
}

static void node_svc(const struct lab *l, const struct docker_lab *d, int i,
		     char *svc, size_t len)
{
	svc_name(d, l->nodes[i].name, svc, len);
}

static void save_node_log(const struct lab *l, int i, const char *cid)
{
	char log[LAB_PATH_MAX + 80];

	if (cid[0] == '\0')
		return;
	lab_path(l, l->nodes[i].name, "node.log", log, sizeof(log));
	docker_save_logs(cid, log);
}

static bool node_running(const struct lab *l, int i)
{
	char svc[256], st[64], cid[128];
	struct docker_lab d;

	docker_ident(l, &d);
	node_svc(l, &d, i, svc, sizeof(svc));
	task_state(svc, st, sizeof(st));
	if (state_active(st))
		return true;
	task_container(svc, cid, sizeof(cid));
	save_node_log(l, i, cid); /* so "see NODE/node.log" holds */
	return false;
}

/* Wait until svc's task runs (true) or is no longer on its way. */
static int wait_running(const char *svc, const char *what, char *err)
{
	double t0 = now_s();
	char st[64];

	for (;;) {
		task_state(svc, st, sizeof(st));
		if (strcmp(st, "running") == 0)
			return 0;
		if (st[0] != '\0' && !state_active(st))
			return ekl_errf(err, EKL_EIO,
					"%s: its task is %s (docker service "
					"ps --no-trunc %s says why)",
					what, st, svc);
		if (now_s() - t0 > SWARM_WAIT_S)
			return ekl_errf(
			    err, EKL_ETIMEDOUT,
			    "%s: no task running after %.0f s (state '%s'; "
			    "docker service ps --no-trunc %s: a placement no "
			    "host meets, or a host without the image?)",
			    what, SWARM_WAIT_S, st[0] ? st : "none", svc);
		usleep(100000);
	}
}

struct swarm_files;
static void files_args(const struct swarm_files *fs, struct docker_argv *a);

/* `docker service update`: replicas, and with replicas > 0 a new task
 * (--force), with version in its arguments and fs's configs and secrets
 * changes (each may be NULL). */
static int update_service(const char *svc, int replicas, const char *version,
			  const struct swarm_files *fs, char *err)
{
	struct docker_argv a;

	docker_argv_init(&a, "service");
	docker_argv_add(&a, "update");
	docker_argv_add(&a, "--detach");
	docker_argv_add(&a, "--quiet");
	docker_argv_add(&a, "--replicas");
	docker_argv_add(&a, "%d", replicas);
	if (replicas > 0) {
		docker_argv_add(&a, "--force");
		if (fs != NULL)
			files_args(fs, &a);
		if (version != NULL) {
			docker_argv_add(&a, "--args");
			docker_argv_add(&a,
					"--config /lab/container.conf "
					"--version %s",
					version);
			docker_argv_add(&a, "--label-add");
			docker_argv_add(&a, "ekulab.version=%s", version);
			docker_argv_add(&a, "--container-label-add");
			docker_argv_add(&a, "ekulab.version=%s", version);
		}
	}
	docker_argv_add(&a, "%s", svc);
	return docker_run(&a, NULL, NULL, 0, err);
}

/* The address of the proxy's running task on the lab's network. */
static int proxy_address(struct docker_lab *d, char *err)
{
	char svc[256], cid[128], out[64];
	struct docker_argv a;
	int rv;

	svc_name(d, "proxy", svc, sizeof(svc));
	if ((rv = wait_running(svc, "the lab proxy", err)) != 0)
		return rv;
	task_container(svc, cid, sizeof(cid));
	if (cid[0] == '\0')
		return ekl_errf(err, EKL_EIO,
				"the lab proxy runs on another host than this "
				"manager (docker service ps %s)",
				svc);
	docker_argv_init(&a, "container");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a,
			"{{(index .NetworkSettings.Networks \"%s\")."
			"IPAddress}}",
			d->id);
	docker_argv_add(&a, "%s", cid);
	if ((rv = docker_run(&a, NULL, out, sizeof(out), err)) != 0)
		return rv;
	chomp(out);
	if (out[0] == '\0')
		return ekl_errf(err, EKL_EIO,
				"the lab proxy's container %s has no address "
				"on network %s",
				cid, d->id);
	snprintf(d->proxy_ip, sizeof(d->proxy_ip), "%.15s", out);
	return 0;
}

/* ---- the network admin channel --------------------------------------------
 *
 * Every node serves its admin protocol on SWARM_ADMIN_PORT over TLS
 * (ekunode --admin-listen), published in host mode on the host its task
 * runs on, at a port chosen once per node (STATE/NODE/admin.port: a port
 * free on this host when the lab was brought up). ekulab dials that
 * host's address (STATE/NODE/admin.addr, learned after each start: the
 * loopback when the task runs here, else the swarm node's address) with
 * the lab's admin client certificate: lab_node_admin gives
 * tls://ADDR:PORT/NODE?pki=STATE/pki. The node's Unix socket still exists
 * inside its bind mount, but the lab never uses it on this runtime. */

/* A small file of the node's directory into buf ("" when none). */
static void node_file(const struct lab *l, int i, const char *name, char *buf,
		      size_t len)
{
	char path[LAB_PATH_MAX + 80];
	FILE *f;

	buf[0] = '\0';
	lab_path(l, l->nodes[i].name, name, path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	chomp(buf);
}

static int node_file_write(const struct lab *l, int i, const char *name,
			   const char *text, char *err)
{
	char path[LAB_PATH_MAX + 80], tmp[LAB_PATH_MAX + 90];
	FILE *f;

	lab_path(l, l->nodes[i].name, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "%s\n", text);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

static int admin_port(const struct lab *l, int i)
{
	char buf[32];

	node_file(l, i, "admin.port", buf, sizeof(buf));
	return atoi(buf);
}

static int issue_admin(const char *pki, const char *name, const char *san,
		       enum pki_profile profile, char *err)
{
	char path[LAB_PATH_MAX + 120];
	struct pki_leaf_opts o;

	snprintf(path, sizeof(path), "%s/%s.crt", pki, name);
	if (access(path, F_OK) == 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = profile;
	o.admin = true;
	if (san != NULL) {
		o.sans[0] = san;
		o.n_sans = 1;
	}
	return pki_issue(pki, &o, err);
}

/* The admin CA, the admin client's certificate, each node's admin
 * certificate (serverAuth, naming the node) and published port. */
static int admin_prepare(const struct lab *l, char *err)
{
	char pki[LAB_PATH_MAX + 16], name[TOPO_NAME_MAX + 8];
	int fds[TOPO_MAX_NODES];
	size_t i, n = l->topo.n_nodes, held = 0;
	int rv;

	lab_path(l, NULL, "pki", pki, sizeof(pki));
	if ((rv = pki_admin_init(pki, err)) != 0 ||
	    (rv = issue_admin(pki, "admin", NULL, PKI_PROFILE_CLIENT_ONLY,
			      err)) != 0)
		return rv;
	for (i = 0; i < n && rv == 0; i++) {
		char text[16];
		int port;

		snprintf(name, sizeof(name), "admin-%s", l->nodes[i].name);
		if ((rv = issue_admin(pki, name, l->nodes[i].name,
				      PKI_PROFILE_SERVER_ONLY, err)) != 0)
			break;
		if (admin_port(l, (int)i) > 0)
			continue;
		/* Held until every port is chosen: no two alike. */
		if ((rv = addr_reserve(0, &fds[held], &port, err)) != 0)
			break;
		held++;
		snprintf(text, sizeof(text), "%d", port);
		rv = node_file_write(l, (int)i, "admin.port", text, err);
	}
	while (held > 0)
		close(fds[--held]);
	return rv;
}

int swarm_admin_conf(const struct lab *l, const struct docker_lab *d, int i,
		     FILE *out, char *err)
{
	static const char *const keys[3] = {"admin-cert", "admin-key",
					    "admin-ca"};
	const char *node = l->nodes[i].name;
	char src[LAB_PATH_MAX + 120], dst[LAB_PATH_MAX + 200],
	    base[TOPO_NAME_MAX + 16];
	int k, rv;

	fprintf(out, "admin-listen = 0.0.0.0:%d\n", SWARM_ADMIN_PORT);
	for (k = 0; k < 3; k++) {
		if (k == 2)
			snprintf(base, sizeof(base), "ca-admin.crt");
		else
			snprintf(base, sizeof(base), "admin-%s.%s", node,
				 k == 0 ? "crt" : "key");
		snprintf(src, sizeof(src), "%s/pki/%s", l->state, base);
		snprintf(dst, sizeof(dst), "%s/%s/tls/%s", l->state, node,
			 base);
		if ((rv = docker_copy_given(d, src, dst, err)) != 0)
			return rv;
		fprintf(out, "%s = /lab/tls/%s\n", keys[k], base);
	}
	return 0;
}

void swarm_admin_ports(const struct lab *l, int i, FILE *f)
{
	int port = admin_port(l, i);

	if (port > 0)
		fprintf(f,
			"    ports:\n      - target: %d\n        published: "
			"%d\n        protocol: tcp\n        mode: host\n",
			SWARM_ADMIN_PORT, port);
}

static int node_host(const struct lab *l, int i, char *out, size_t len);

/* This engine's swarm node's hostname. */
static void self_host(char *out, size_t len)
{
	char err[EKL_ERRLEN];
	struct docker_argv a;

	docker_argv_init(&a, "node");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Description.Hostname}}");
	docker_argv_add(&a, "self");
	if (docker_run(&a, NULL, out, len, err) != 0)
		out[0] = '\0';
	chomp(out);
}

/* The address ekulab dials for a task on swarm node `host`: the loopback
 * for this host, else the address the swarm knows the host by. */
static int host_address(const char *host, char *out, size_t len, char *err)
{
	char self[256];
	struct docker_argv a;
	int rv;

	self_host(self, sizeof(self));
	if (strcmp(host, self) == 0) {
		snprintf(out, len, "127.0.0.1");
		return 0;
	}
	docker_argv_init(&a, "node");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Status.Addr}}");
	docker_argv_add(&a, "%s", host);
	if ((rv = docker_run(&a, NULL, out, len, err)) != 0)
		return rv;
	chomp(out);
	if (out[0] == '\0')
		return ekl_errf(err, EKL_EIO,
				"swarm node %s has no address (docker node "
				"inspect %s)",
				host, host);
	return 0;
}

/* After a start: where node i's admin channel is now (admin.addr). */
static int admin_locate(const struct lab *l, int i, char *err)
{
	char host[256], addr[64];
	int rv;

	if (node_host(l, i, host, sizeof(host)) != 0)
		return ekl_errf(err, EKL_EIO,
				"node %s: the swarm names no host for its "
				"task",
				l->nodes[i].name);
	if ((rv = host_address(host, addr, sizeof(addr), err)) != 0)
		return rv;
	/* Another host holds its data volume: down removes it there. */
	if ((rv = node_file_write(l, i, "host",
				  strcmp(addr, "127.0.0.1") == 0 ? "" : host,
				  err)) != 0)
		return rv;
	return node_file_write(l, i, "admin.addr", addr, err);
}

static int node_admin(const struct lab *l, int i, char *out, size_t len)
{
	char addr[64];
	int port = admin_port(l, i);

	if (port <= 0)
		return -1;
	node_file(l, i, "admin.addr", addr, sizeof(addr));
	snprintf(out, len, "tls://%s:%d/%s?pki=%s/pki",
		 addr[0] != '\0' ? addr : "127.0.0.1", port, l->nodes[i].name,
		 l->state);
	return 0;
}

/* ---- node files: swarm configs and secrets ------------------------------
 *
 * A task may run on a host where the lab's state directory does not
 * exist, so nothing of a node comes from a bind mount: its container.conf
 * (as NODE/container.swarm.conf, whose key paths name /run/secrets) and
 * its certificates are swarm configs mounted in /lab, its keys swarm
 * secrets in /run/secrets, all 0400 and the container user's; its data is
 * a local volume on the host its task runs on. A config or secret cannot
 * change, so each is named by its content (ekl-HASH, the hash also over
 * the lab's id, node and target, so that no two labs share one); a start
 * that finds different files swaps them in the service update that starts
 * the new task. Down removes them by the lab's label. */

#define SWARM_FILES_MAX 12

struct swarm_file {
	char src[LAB_PATH_MAX + 120];
	char target[160]; /* a config's path, a secret's /run/secrets name */
	char object[32];  /* ekl-HASH */
	char key[TOPO_NAME_MAX + 8]; /* NODE-fK: its name in the stack */
	bool secret;
};

struct swarm_files {
	struct swarm_file f[SWARM_FILES_MAX];
	size_t n;
	char uid[16], gid[16];
	/* What the service has now and must lose (files_diff). */
	char rm[2 * SWARM_FILES_MAX][32];
	bool rm_secret[2 * SWARM_FILES_MAX];
	size_t n_rm;
	bool add[SWARM_FILES_MAX];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < n; k++) {
		h ^= b[k];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_key_file(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".key") == 0;
}

/* NODE/container.swarm.conf: container.conf with its keys in
 * /run/secrets. */
static int write_swarm_conf(const struct lab *l, int i, char *err)
{
	char src[LAB_PATH_MAX + 80], dst[LAB_PATH_MAX + 80], line[1024];
	FILE *in, *out;
	int rv = 0;

	lab_path(l, l->nodes[i].name, "container.conf", src, sizeof(src));
	lab_path(l, l->nodes[i].name, "container.swarm.conf", dst, sizeof(dst));
	in = fopen(src, "r");
	if (in == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", src, strerror(errno));
	out = fopen(dst, "w");
	if (out == NULL) {
		fclose(in);
		return ekl_errf(err, EKL_EIO, "%s: %s", dst, strerror(errno));
	}
	fchmod(fileno(out), 0600);
	while (fgets(line, sizeof(line), in) != NULL) {
		char *v = strstr(line, "= /lab/tls/");
		char base[512];

		snprintf(base, sizeof(base), "%s", v != NULL ? v + 11 : "");
		chomp(base);
		if (v != NULL && is_key_file(base)) {
			*v = '\0';
			fprintf(out, "%s= /run/secrets/%s\n", line, base);
		} else {
			fputs(line, out);
		}
	}
	if (ferror(in) || fclose(out) != 0)
		rv = ekl_errf(err, EKL_EIO, "%s: %s", dst, strerror(errno));
	fclose(in);
	return rv;
}

static int file_hash(const char *path, uint64_t *h, char *err)
{
	char buf[8192];
	size_t r;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
		*h = fnv(*h, buf, r);
	fclose(f);
	return 0;
}

/* Node i's files, named by content: container.swarm.conf, then NODE/tls
 * in name order. */
static int node_files(const struct lab *l, const struct docker_lab *d, int i,
		      struct swarm_files *fs, char *err)
{
	const char *node = l->nodes[i].name;
	char dir[LAB_PATH_MAX + 80], *names[SWARM_FILES_MAX];
	size_t k, nn = 0;
	struct dirent *e;
	DIR *dp;
	int rv = 0;

	memset(fs, 0, sizeof(*fs));
	if (sscanf(d->user, "%15[0-9]:%15[0-9]", fs->uid, fs->gid) != 2)
		fs->uid[0] = fs->gid[0] = '\0';
	lab_path(l, node, "tls", dir, sizeof(dir));
	dp = opendir(dir);
	if (dp == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", dir, strerror(errno));
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp") != NULL)
			continue;
		if (nn + 1 >= SWARM_FILES_MAX) {
			rv = ekl_errf(err, EKL_EINVAL,
				      "%s: more files than a swarm node takes",
				      dir);
			break;
		}
		names[nn] = strdup(e->d_name);
		if (names[nn] == NULL) {
			rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
			break;
		}
		nn++;
	}
	closedir(dp);
	if (rv == 0)
		qsort(names, nn, sizeof(names[0]), name_cmp);
	for (k = 0; rv == 0 && k <= nn; k++) {
		struct swarm_file *f = &fs->f[fs->n];
		uint64_t h = UINT64_C(14695981039346656037);

		if (k == 0) {
			lab_path(l, node, "container.swarm.conf", f->src,
				 sizeof(f->src));
			snprintf(f->target, sizeof(f->target),
				 "/lab/container.conf");
		} else {
			snprintf(f->src, sizeof(f->src), "%s/%s", dir,
				 names[k - 1]);
			f->secret = is_key_file(names[k - 1]);
			if (f->secret)
				snprintf(f->target, sizeof(f->target), "%s",
					 names[k - 1]);
			else
				snprintf(f->target, sizeof(f->target),
					 "/lab/tls/%s", names[k - 1]);
		}
		h = fnv(h, d->id, strlen(d->id) + 1);
		h = fnv(h, node, strlen(node) + 1);
		h = fnv(h, f->target, strlen(f->target) + 1);
		if ((rv = file_hash(f->src, &h, err)) != 0)
			break;
		snprintf(f->object, sizeof(f->object), "ekl-%016llx",
			 (unsigned long long)h);
		snprintf(f->key, sizeof(f->key), "%s-f%zu", node, k);
		fs->n++;
	}
	for (k = 0; k < nn; k++)
		free(names[k]);
	return rv;
}

/* Make node i's configs and secrets that do not exist yet; fs gets
 * them. */
static int node_objects(const struct lab *l, const struct docker_lab *d, int i,
			struct swarm_files *fs, char *err)
{
	int rv;

	if ((rv = write_swarm_conf(l, i, err)) != 0 ||
	    (rv = node_files(l, d, i, fs, err)) != 0)
		return rv;
	for (size_t k = 0; k < fs->n; k++) {
		const struct swarm_file *f = &fs->f[k];
		const char *kind = f->secret ? "secret" : "config";
		struct docker_argv a;
		char e[EKL_ERRLEN];

		docker_argv_init(&a, kind);
		docker_argv_add(&a, "inspect");
		docker_argv_add(&a, "--format");
		docker_argv_add(&a, "{{.ID}}");
		docker_argv_add(&a, "%s", f->object);
		if (docker_run(&a, NULL, NULL, 0, e) == 0)
			continue;
		docker_argv_init(&a, kind);
		docker_argv_add(&a, "create");
		docker_add_labels(&a, d);
		docker_argv_add(&a, "--label");
		docker_argv_add(&a, "ekulab.node=%s", l->nodes[i].name);
		docker_argv_add(&a, "%s", f->object);
		docker_argv_add(&a, "%s", f->src);
		if ((rv = docker_run(&a, NULL, NULL, 0, err)) != 0)
			return rv;
	}
	return 0;
}

/* What the service svc has now that fs does not (to remove) and what fs
 * has that it lacks (to add); *changed when either. */
static int files_diff(const char *svc, struct swarm_files *fs, bool *changed,
		      char *err)
{
	char out[4096], *bar, *tok, *save = NULL;
	struct docker_argv a;
	int rv, part;

	*changed = false;
	docker_argv_init(&a, "service");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}"
			    "{{.ConfigName}} {{end}}|{{range "
			    ".Spec.TaskTemplate.ContainerSpec.Secrets}}"
			    "{{.SecretName}} {{end}}");
	docker_argv_add(&a, "%s", svc);
	if ((rv = docker_run(&a, NULL, out, sizeof(out), err)) != 0)
		return rv;
	chomp(out);
	bar = strchr(out, '|');
	if (bar == NULL)
		return ekl_errf(err, EKL_EPROTO, "docker service inspect %s",
				svc);
	*bar = '\0';
	for (size_t k = 0; k < fs->n; k++)
		fs->add[k] = true;
	for (part = 0; part < 2; part++)
		for (tok = strtok_r(part == 0 ? out : bar + 1, " ", &save);
		     tok != NULL; tok = strtok_r(NULL, " ", &save)) {
			bool want = false;

			for (size_t k = 0; k < fs->n; k++)
				if (fs->f[k].secret == (part == 1) &&
				    strcmp(fs->f[k].object, tok) == 0) {
					fs->add[k] = false;
					want = true;
				}
			if (!want && fs->n_rm < 2 * SWARM_FILES_MAX) {
				snprintf(fs->rm[fs->n_rm], sizeof(fs->rm[0]),
					 "%.31s", tok);
				fs->rm_secret[fs->n_rm++] = part == 1;
			}
		}
	*changed = fs->n_rm > 0;
	for (size_t k = 0; k < fs->n; k++)
		*changed = *changed || fs->add[k];
	return 0;
}

static void files_args(const struct swarm_files *fs, struct docker_argv *a)
{
	for (size_t k = 0; k < fs->n_rm; k++) {
		docker_argv_add(a, fs->rm_secret[k] ? "--secret-rm"
						    : "--config-rm");
		docker_argv_add(a, "%s", fs->rm[k]);
	}
	for (size_t k = 0; k < fs->n; k++) {
		const struct swarm_file *f = &fs->f[k];

		if (!fs->add[k])
			continue;
		docker_argv_add(a, f->secret ? "--secret-add" : "--config-add");
		if (fs->uid[0] != '\0')
			docker_argv_add(a,
					"source=%s,target=%s,uid=%s,gid=%s,"
					"mode=0400",
					f->object, f->target, fs->uid, fs->gid);
		else
			docker_argv_add(a, "source=%s,target=%s,mode=0400",
					f->object, f->target);
	}
}

void swarm_node_mounts(const struct lab *l, const struct docker_lab *d, int i,
		       FILE *f)
{
	struct swarm_files fs;
	char err[EKL_ERRLEN];
	int part;

	if (node_files(l, d, i, &fs, err) == 0)
		for (part = 0; part < 2; part++) {
			bool any = false;

			for (size_t k = 0; k < fs.n; k++) {
				const struct swarm_file *x = &fs.f[k];

				if (x->secret != (part == 1))
					continue;
				if (!any)
					fprintf(f, "    %s:\n",
						part ? "secrets" : "configs");
				any = true;
				fprintf(f,
					"      - source: %s\n        target: "
					"%s\n",
					x->key, x->target);
				if (fs.uid[0] != '\0')
					fprintf(f,
						"        uid: \"%s\"\n        "
						"gid: \"%s\"\n",
						fs.uid, fs.gid);
				fprintf(f, "        mode: 0400\n");
			}
		}
	fprintf(f,
		"    volumes:\n      - type: volume\n        source: %s-data\n"
		"        target: /data\n",
		l->nodes[i].name);
}

void swarm_stack_objects(const struct lab *l, const struct docker_lab *d,
			 FILE *f)
{
	size_t i, n = l->topo.n_nodes;
	struct swarm_files fs;
	char err[EKL_ERRLEN];
	int part;

	for (part = 0; part < 2; part++) {
		bool any = false;

		for (i = 0; i < n; i++) {
			if (node_files(l, d, (int)i, &fs, err) != 0)
				continue;
			for (size_t k = 0; k < fs.n; k++) {
				if (fs.f[k].secret != (part == 1))
					continue;
				if (!any)
					fprintf(f, "%s:\n",
						part ? "secrets" : "configs");
				any = true;
				fprintf(f,
					"  %s:\n    external: true\n    name: "
					"%s\n",
					fs.f[k].key, fs.f[k].object);
			}
		}
	}
	fprintf(f, "volumes:\n");
	for (i = 0; i < n; i++)
		fprintf(f,
			"  %s-data:\n    name: %s-%s-data\n    driver: "
			"local\n    labels:\n      ekulab.lab: \"%s\"\n"
			"      ekulab.id: \"%s\"\n",
			l->nodes[i].name, d->id, l->nodes[i].name, d->name,
			d->id);
}

/* The network and the stack: made once per up (see the top). */
static int swarm_ensure(struct lab *l, struct docker_lab *d, char *err)
{
	char e[EKL_ERRLEN], dir[LAB_PATH_MAX + 80];
	size_t i, n = l->topo.n_nodes;
	int rv;

	if (docker_conf_load(l, d, e) == 0 && d->proxy_ip[0] != '\0' &&
	    docker_exists("network", d->id))
		return 0;
	docker_ident(l, d);
	if (l->tune.direct)
		return ekl_errf(err, EKL_EINVAL,
				"the swarm runtime needs the lab proxy (its "
				"nodes are reached by service name)");
	if ((rv = swarm_manager(d, err)) != 0 ||
	    (rv = docker_ensure(l, d, err)) != 0 ||
	    (rv = swarm_manager(d, err)) != 0) /* docker_ensure reset d */
		return rv;
	lab_path(l, NULL, "proxy", dir, sizeof(dir));
	if ((rv = docker_mkdir_given(d, dir, err)) != 0)
		return rv;
	if ((rv = admin_prepare(l, err)) != 0)
		return rv;
	for (i = 0; i < n; i++) {
		lab_path(l, l->nodes[i].name, "", dir, sizeof(dir));
		if ((rv = docker_mkdir_given(d, dir, err)) != 0)
			return rv;
		lab_path(l, l->nodes[i].name, "data", dir, sizeof(dir));
		if ((rv = docker_mkdir_given(d, dir, err)) != 0)
			return rv;
	}
	/* 1. The proxy alone: its address is the nodes' peers' address. */
	if ((rv = stack_deploy(l, d, 1, 0, err)) != 0 ||
	    (rv = proxy_address(d, err)) != 0 ||
	    (rv = docker_conf_save(l, d, err)) != 0)
		return rv;
	for (i = 0; i < n; i++) {
		struct swarm_files fs;

		if ((rv = docker_write_container_conf(l, d, (int)i, err)) !=
			0 ||
		    (rv = node_objects(l, d, (int)i, &fs, err)) != 0)
			return rv;
	}
	/* 2. Every service with its one replica: the file as it stays. */
	return stack_deploy(l, d, 1, 1, err);
}

static int start_node(struct lab *l, int i, char *err)
{
	const struct lab_node *nd = &l->nodes[i];
	char svc[256], st[64], out[256], what[400];
	struct docker_argv a;
	struct docker_lab d;
	struct swarm_files *fs = NULL;
	bool changed = false;
	int rv, replicas = -1;
	char ver[64] = "";

	if ((rv = swarm_ensure(l, &d, err)) != 0 ||
	    (rv = docker_write_container_conf(l, &d, i, err)) != 0)
		return rv;
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	l->nodes[i].pid = 0;
	node_svc(l, &d, i, svc, sizeof(svc));
	snprintf(what, sizeof(what), "node %s (service %s)", nd->name, svc);
	docker_argv_init(&a, "service");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Spec.Mode.Replicated.Replicas}} {{index "
			    ".Spec.Labels \"ekulab.version\"}}");
	docker_argv_add(&a, "%s", svc);
	if ((rv = docker_run(&a, NULL, out, sizeof(out), err)) != 0 ||
	    (rv = node_objects(l, &d, i, fs, err)) != 0 ||
	    (rv = files_diff(svc, fs, &changed, err)) != 0)
		goto out;
	sscanf(out, "%d %63s", &replicas, ver);
	task_state(svc, st, sizeof(st));
	/* Up's deploy started it already, with this version and files. */
	if (!(replicas == 1 && strcmp(ver, nd->version) == 0 && !changed &&
	      state_active(st)) &&
	    (rv = update_service(svc, 1, nd->version, fs, err)) != 0)
		goto out;
	if ((rv = wait_running(svc, what, err)) == 0)
		rv = admin_locate(l, i, err);
out:
	free(fs);
	return rv;
}

static int node_where(const struct lab *l, const struct docker_lab *d, int i,
		      struct task_where *w, char *err);
static void where_state(const struct task_where *w, char *st, size_t len);
static int where_docker(const struct task_where *w, const char *sub,
			const char *opt, const char *format, char *out,
			size_t outlen, char *err);
static void where_save_log(const struct lab *l, int i,
			   const struct task_where *w);

static int stop_node(struct lab *l, int i, char *err)
{
	char svc[256], st[64], e[EKL_ERRLEN];
	struct task_where w;
	struct docker_lab d;
	double t0 = now_s();
	int rv;

	docker_ident(l, &d);
	node_svc(l, &d, i, svc, sizeof(svc));
	l->nodes[i].pid = 0;
	if (!service_exists(svc))
		return 0;
	/* A paused task is resumed first, wherever it runs. */
	if (node_where(l, &d, i, &w, e) == 0) {
		where_state(&w, st, sizeof(st));
		if (strcmp(st, "paused") == 0)
			(void)where_docker(&w, "unpause", NULL, NULL, NULL, 0,
					   e);
	}
	if ((rv = update_service(svc, 0, NULL, NULL, err)) != 0)
		return rv;
	do {
		task_state(svc, st, sizeof(st));
		if (st[0] == '\0')
			break;
		usleep(100000);
	} while (now_s() - t0 < SWARM_WAIT_S);
	/* The task is shut down once its container stopped. */
	while (w.cid[0] != '\0' && now_s() - t0 < SWARM_WAIT_S) {
		where_state(&w, st, sizeof(st));
		if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
			break;
		usleep(100000);
	}
	where_save_log(l, i, &w);
	return 0;
}

/* A docker command on the task's container, wherever it runs. */
static int where_docker(const struct task_where *w, const char *sub,
			const char *opt, const char *format, char *out,
			size_t outlen, char *err)
{
	const char *ssh = getenv("EKULAB_SSH");
	struct docker_argv a;

	if (w->host[0] == '\0') {
		docker_argv_init(&a, sub);
	} else {
		memset(&a, 0, sizeof(a));
		docker_argv_add(&a, "%s", ssh != NULL && ssh[0] ? ssh : "ssh");
		docker_argv_add(&a, "%s", w->host);
		docker_argv_add(&a, "docker");
		docker_argv_add(&a, "%s", sub);
	}
	if (opt != NULL)
		docker_argv_add(&a, "%s", opt);
	if (format != NULL) {
		docker_argv_add(&a, "--format");
		docker_argv_add(&a, "%s", format);
	}
	docker_argv_add(&a, "%s", w->cid);
	return docker_run(&a, NULL, out, outlen, err);
}

/* "running", "paused", "exited"... of the task's container, or "". */
static void where_state(const struct task_where *w, char *st, size_t len)
{
	char err[EKL_ERRLEN];

	if (w->cid[0] == '\0' ||
	    where_docker(w, "inspect", NULL, "{{.State.Status}}", st, len,
			 err) != 0)
		st[0] = '\0';
	chomp(st);
}

/* The task of node i that should run, wherever it runs; an error when
 * there is none or its container is not running (or paused). */
static int node_where(const struct lab *l, const struct docker_lab *d, int i,
		      struct task_where *w, char *err)
{
	char svc[256], out[512], st[64], task[128] = "", e[EKL_ERRLEN];
	struct docker_argv a;

	memset(w, 0, sizeof(*w));
	node_svc(l, d, i, svc, sizeof(svc));
	task_container(svc, w->cid, sizeof(w->cid));
	if (w->cid[0] == '\0') {
		/* Not on this engine: the swarm says where. */
		docker_argv_init(&a, "service");
		docker_argv_add(&a, "ps");
		docker_argv_add(&a, "--no-trunc");
		docker_argv_add(&a, "--filter");
		docker_argv_add(&a, "desired-state=running");
		docker_argv_add(&a, "--format");
		docker_argv_add(&a, "{{.ID}} {{.Node}}");
		docker_argv_add(&a, "%s", svc);
		if (docker_run(&a, NULL, out, sizeof(out), e) == 0)
			sscanf(out, "%127s %255s", task, w->host);
		if (task[0] != '\0') {
			docker_argv_init(&a, "inspect");
			docker_argv_add(&a, "--type");
			docker_argv_add(&a, "task");
			docker_argv_add(&a, "--format");
			docker_argv_add(&a, "{{.Status.ContainerStatus."
					    "ContainerID}}");
			docker_argv_add(&a, "%s", task);
			if (docker_run(&a, NULL, w->cid, sizeof(w->cid), e) !=
			    0)
				w->cid[0] = '\0';
			chomp(w->cid);
		}
	}
	where_state(w, st, sizeof(st));
	if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
		return ekl_errf(err, EKL_ENOENT,
				"node %s is not running%s%s (docker service "
				"ps %s)",
				l->nodes[i].name, w->host[0] ? " on " : "",
				w->host, svc);
	return 0;
}

static void where_save_log(const struct lab *l, int i,
			   const struct task_where *w)
{
	char log[LAB_PATH_MAX + 80], err[EKL_ERRLEN];
	const char *ssh = getenv("EKULAB_SSH");
	struct docker_argv a;

	if (w->host[0] == '\0') {
		save_node_log(l, i, w->cid);
		return;
	}
	lab_path(l, l->nodes[i].name, "node.log", log, sizeof(log));
	memset(&a, 0, sizeof(a));
	docker_argv_add(&a, "%s", ssh != NULL && ssh[0] ? ssh : "ssh");
	docker_argv_add(&a, "%s", w->host);
	docker_argv_add(&a, "docker");
	docker_argv_add(&a, "logs");
	docker_argv_add(&a, "%s", w->cid);
	(void)docker_run(&a, log, NULL, 0, err);
}

static int kill_node(struct lab *l, int i, char *err)
{
	struct task_where w;
	struct docker_lab d;
	double t0 = now_s();
	char st[64];
	int rv;

	docker_ident(l, &d);
	if ((rv = node_where(l, &d, i, &w, err)) != 0)
		return rv;
	where_state(&w, st, sizeof(st));
	if (strcmp(st, "paused") == 0)
		(void)where_docker(&w, "unpause", NULL, NULL, NULL, 0, err);
	if ((rv = where_docker(&w, "kill", "--signal=KILL", NULL, NULL, 0,
			       err)) != 0)
		return rv;
	/* The swarm marks the task failed; restart policy none keeps it so. */
	while (node_running(l, i) && now_s() - t0 < SWARM_WAIT_S)
		usleep(50000);
	where_save_log(l, i, &w);
	return 0;
}

static int pause_node(struct lab *l, int i, char *err)
{
	struct task_where w;
	struct docker_lab d;
	char st[64];
	int rv;

	docker_ident(l, &d);
	if ((rv = node_where(l, &d, i, &w, err)) != 0)
		return rv;
	where_state(&w, st, sizeof(st));
	if (strcmp(st, "paused") == 0)
		return 0;
	for (int k = 1;; k++) {
		rv = where_docker(&w, "pause", NULL, NULL, NULL, 0, err);
		if (rv == 0 || k == DOCKER_PAUSE_TRIES ||
		    !docker_freeze_timed_out(err))
			return rv;
		usleep(DOCKER_PAUSE_GAP_US);
	}
}

static int resume_node(struct lab *l, int i, char *err)
{
	struct task_where w;
	struct docker_lab d;
	char st[64];
	int rv;

	docker_ident(l, &d);
	if ((rv = node_where(l, &d, i, &w, err)) != 0)
		return rv;
	where_state(&w, st, sizeof(st));
	if (strcmp(st, "paused") != 0)
		return 0; /* as SIGCONT to a running process */
	return where_docker(&w, "unpause", NULL, NULL, NULL, 0, err);
}

static int start_proxy(struct lab *l, char *err)
{
	char svc[256], dir[LAB_PATH_MAX + 16], link[LAB_PATH_MAX + 32], st[64],
	    cid[128];
	struct docker_lab d;
	double t0;
	int rv;

	if ((rv = swarm_ensure(l, &d, err)) != 0)
		return rv;
	l->proxy_pid = 0;
	lab_path(l, NULL, "proxy.sock", link, sizeof(link));
	unlink(link);
	if (symlink("proxy/proxy.sock", link) != 0)
		return ekl_errf(err, EKL_EIO, "symlink %s: %s", link,
				strerror(errno));
	svc_name(&d, "proxy", svc, sizeof(svc));
	task_state(svc, st, sizeof(st));
	if (!state_active(st)) {
		lab_path(l, NULL, "proxy/proxy.sock", dir, sizeof(dir));
		unlink(dir);
		if ((rv = update_service(svc, 1, NULL, NULL, err)) != 0)
			return rv;
	}
	if ((rv = wait_running(svc, "the lab proxy", err)) != 0)
		return rv;
	/* The control socket appears once every route listens. */
	for (t0 = now_s(); now_s() - t0 < 10.0; usleep(20000)) {
		struct stat sb;

		if (stat(link, &sb) == 0)
			return 0;
	}
	lab_path(l, NULL, "proxy.log", dir, sizeof(dir));
	task_container(svc, cid, sizeof(cid));
	if (cid[0] != '\0')
		docker_save_logs(cid, dir);
	return ekl_errf(err, EKL_EIO,
			"the proxy service %s made no control socket within "
			"10 s (see %s)",
			svc, dir);
}

/* The lab's volumes on the other hosts its nodes ran on (STATE/NODE/host),
 * over `$EKULAB_SSH HOST docker`: by the lab's id label only, retried
 * while that host's engine still removes the task's container. */
static int remove_remote_volumes(const struct lab *l,
				 const struct docker_lab *d, char *err)
{
	const char *ssh = getenv("EKULAB_SSH");
	size_t i, j, n = l->topo.n_nodes;
	int rv = 0;

	for (i = 0; i < n; i++) {
		char host[256], ids[DOCKER_OUT_MAX], *save = NULL, *id;
		double t0 = now_s();
		struct docker_argv a;
		bool again = true;

		node_file(l, (int)i, "host", host, sizeof(host));
		if (host[0] == '\0')
			continue;
		for (j = 0; j < i; j++) { /* each host once */
			char h2[256];

			node_file(l, (int)j, "host", h2, sizeof(h2));
			if (strcmp(h2, host) == 0)
				break;
		}
		if (j < i)
			continue;
		while (again) {
			again = false;
			memset(&a, 0, sizeof(a));
			docker_argv_add(&a, "%s",
					ssh != NULL && ssh[0] ? ssh : "ssh");
			docker_argv_add(&a, "%s", host);
			docker_argv_add(&a, "docker");
			docker_argv_add(&a, "volume");
			docker_argv_add(&a, "ls");
			docker_argv_add(&a, "--quiet");
			docker_argv_add(&a, "--filter");
			docker_argv_add(&a, "label=ekulab.id=%s", d->id);
			if ((rv = docker_run(&a, NULL, ids, sizeof(ids),
					     err)) != 0)
				break;
			for (id = strtok_r(ids, " \n", &save); id != NULL;
			     id = strtok_r(NULL, " \n", &save)) {
				memset(&a, 0, sizeof(a));
				docker_argv_add(&a, "%s",
						ssh != NULL && ssh[0] ? ssh
								      : "ssh");
				docker_argv_add(&a, "%s", host);
				docker_argv_add(&a, "docker");
				docker_argv_add(&a, "volume");
				docker_argv_add(&a, "rm");
				docker_argv_add(&a, "%s", id);
				if ((rv = docker_run(&a, NULL, NULL, 0, err)) !=
				    0)
					again = now_s() - t0 < SWARM_WAIT_S;
			}
			if (again)
				usleep(200000);
		}
	}
	return rv;
}

/* Every config and secret with the lab's id (its services are gone, but
 * their tasks may hold them a moment longer). */
static int remove_objects(const struct docker_lab *d, char *err)
{
	static const char *const kinds[2] = {"config", "secret"};
	double t0 = now_s();
	int k, rv = 0;

	for (k = 0; k < 2; k++) {
		for (;;) {
			char ids[DOCKER_OUT_MAX], *save = NULL, *id;
			struct docker_argv a;
			bool failed = false;

			docker_argv_init(&a, kinds[k]);
			docker_argv_add(&a, "ls");
			docker_argv_add(&a, "--quiet");
			docker_argv_add(&a, "--filter");
			docker_argv_add(&a, "label=ekulab.id=%s", d->id);
			if ((rv = docker_run(&a, NULL, ids, sizeof(ids),
					     err)) != 0)
				return rv;
			for (id = strtok_r(ids, " \n", &save); id != NULL;
			     id = strtok_r(NULL, " \n", &save)) {
				docker_argv_init(&a, kinds[k]);
				docker_argv_add(&a, "rm");
				docker_argv_add(&a, "%s", id);
				if ((rv = docker_run(&a, NULL, NULL, 0, err)) !=
				    0)
					failed = true;
			}
			if (!failed)
				break;
			if (now_s() - t0 > SWARM_WAIT_S)
				return rv;
			usleep(200000);
		}
	}
	return 0;
}

static int stop_proxy(struct lab *l, char *err)
{
	char svc[256], cid[128], path[LAB_PATH_MAX + 32];
	struct docker_lab d;
	int rv;

	docker_ident(l, &d);
	l->proxy_pid = 0;
	svc_name(&d, "proxy", svc, sizeof(svc));
	task_container(svc, cid, sizeof(cid));
	lab_path(l, NULL, "proxy.log", path, sizeof(path));
	if (cid[0] != '\0')
		docker_save_logs(cid, path);
	rv = docker_teardown(&d, err);
	{
		char e[EKL_ERRLEN];
		int r2 = remove_objects(&d, e);

		if (r2 == 0)
			r2 = remove_remote_volumes(l, &d, e);
		if (r2 != 0 && rv == 0) {
			rv = r2;
			snprintf(err, EKL_ERRLEN, "%s", e);
		}
	}
	lab_path(l, NULL, "proxy.sock", path, sizeof(path));
	unlink(path);
	lab_path(l, NULL, "docker.conf", path, sizeof(path));
	unlink(path);
	return rv;
}

static int node_host(const struct lab *l, int i, char *out, size_t len)
{
	char svc[256], buf[512], err[EKL_ERRLEN];
	struct docker_argv a;
	struct docker_lab d;

	out[0] = '\0';
	docker_ident(l, &d);
	node_svc(l, &d, i, svc, sizeof(svc));
	docker_argv_init(&a, "service");
	docker_argv_add(&a, "ps");
	docker_argv_add(&a, "--filter");
	docker_argv_add(&a, "desired-state=running");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Node}}");
	docker_argv_add(&a, "%s", svc);
	if (docker_run(&a, NULL, buf, sizeof(buf), err) != 0)
		return -1;
	chomp(buf);
	snprintf(out, len, "%s", buf);
	return out[0] != '\0' ? 0 : -1;
}

/* ---- the image on every host ---------------------------------------------
 */

/* "ID" of image on host (this engine when host is NULL), or "". */
static void image_id_on(const char *host, const char *image, char *id,
			size_t len, char *why, size_t wlen)
{
	const char *ssh = getenv("EKULAB_SSH");
	char err[EKL_ERRLEN];
	struct docker_argv a;

	id[0] = '\0';
	if (host == NULL) {
		docker_argv_init(&a, "image");
	} else {
		/* ssh HOST docker image inspect ...: the same client. */
		memset(&a, 0, sizeof(a));
		docker_argv_add(&a, "%s", ssh != NULL && ssh[0] ? ssh : "ssh");
		docker_argv_add(&a, "%s", host);
		docker_argv_add(&a, "docker");
		docker_argv_add(&a, "image");
	}
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Id}}");
	docker_argv_add(&a, "%s", image);
	if (docker_run(&a, NULL, id, len, err) != 0) {
		snprintf(why, wlen, "%s", err);
		id[0] = '\0';
	}
	chomp(id);
}

/* Does the swarm node described by line "HOST ,K=V,K=V," meet p? */
static bool meets(const char *line, const struct topo_placement *p)
{
	char host[256] = "", want[160];
	const char *labels = strchr(line, ' ');

	sscanf(line, "%255s", host);
	if (p->host[0] != '\0' && strcmp(host, p->host) != 0)
		return false;
	for (size_t k = 0; k < p->n_labels; k++) {
		snprintf(want, sizeof(want), ",%s=%s,", p->label_key[k],
			 p->label_value[k]);
		if (labels == NULL || strstr(labels, want) == NULL)
			return false;
	}
	return true;
}

/* The placement as words, for messages. */
static void place_text(const struct topo_placement *p, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (p->host[0] != '\0')
		off += (size_t)snprintf(buf, len, "host %s", p->host);
	for (size_t k = 0; k < p->n_labels && off < len; k++)
		off += (size_t)snprintf(buf + off, len - off, "%slabel %s=%s",
					off ? ", " : "", p->label_key[k],
					p->label_value[k]);
}

/* "HOST ,K=V,...,\n..." as "HOST (labels K=V ...), ..." for messages. */
static void nodes_text(const char *nodes, char *buf, size_t len)
{
	size_t off = 0;
	const char *p = nodes;

	buf[0] = '\0';
	while (*p != '\0' && off + 1 < len) {
		const char *e = strchr(p, '\n'), *sp;
		size_t ll = e != NULL ? (size_t)(e - p) : strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)ll, p);
		p += ll + (e != NULL);
		if (line[0] == '\0')
			continue;
		sp = strchr(line, ' ');
		if (sp != NULL) {
			size_t hl = (size_t)(sp - line);
			char lab[400];
			size_t k;

			snprintf(lab, sizeof(lab), "%s", sp + 2);
			for (k = 0; lab[k]; k++)
				if (lab[k] == ',')
					lab[k] = ' ';
			while (k > 0 && lab[k - 1] == ' ')
				lab[--k] = '\0';
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%.*s (%s%s)",
			    off ? ", " : "", (int)hl, line,
			    lab[0] ? "labels " : "no labels", lab);
		} else {
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						off ? ", " : "", line);
		}
	}
}

int swarm_check_hosts(const struct lab *l, const struct docker_lab *d,
		      char *err)
{
	char nodes[DOCKER_OUT_MAX], self[256] = "", want[160], have[160],
				    why[EKL_ERRLEN];
	struct docker_argv a;
	size_t i, n = l->topo.n_nodes;
	int rv;

	/* One line per swarm node: "HOSTNAME ,KEY=VALUE,...," */
	if ((rv =
		 docker_inspect_all("node",
				    "{{.Description.Hostname}} ,{{range $k, "
				    "$v := .Spec.Labels}}{{$k}}={{$v}},{{end}}",
				    nodes, sizeof(nodes), err)) != 0)
		return rv;
	docker_argv_init(&a, "node");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Description.Hostname}}");
	docker_argv_add(&a, "self");
	if ((rv = docker_run(&a, NULL, self, sizeof(self), err)) != 0)
		return rv;
	chomp(self);
	image_id_on(NULL, d->image, want, sizeof(want), why, sizeof(why));
	if (want[0] == '\0')
		return ekl_errf(err, EKL_ENOENT, "image %s: %s", d->image, why);
	for (i = 0; i < n; i++) {
		const struct topo_placement *p = &l->topo.nodes[i].placement;
		char copy[DOCKER_OUT_MAX], what[600], *s2 = NULL, *line;
		int hits = 0;

		if (p->host[0] == '\0' && p->n_labels == 0)
			continue; /* the manager's host: checked above */
		place_text(p, what, sizeof(what));
		snprintf(copy, sizeof(copy), "%s", nodes);
		for (line = strtok_r(copy, "\n", &s2); line != NULL;
		     line = strtok_r(NULL, "\n", &s2)) {
			char host[256] = "";

			if (!meets(line, p))
				continue;
			hits++;
			sscanf(line, "%255s", host);
			if (strcmp(host, self) == 0)
				continue; /* this host: the image was checked */
			image_id_on(host, d->image, have, sizeof(have), why,
				    sizeof(why));
			if (strcmp(have, want) != 0)
				return ekl_errf(
				    err, EKL_ENOENT,
				    "host %s (node %s, %s) lacks the image "
				    "%s%s%s: put it there with 'ekulab image "
				    "push --to %s'",
				    host, l->nodes[i].name, what, d->image,
				    have[0] ? " (it has another build)" : ": ",
				    have[0] ? "" : why, host);
		}
		if (hits == 0) {
			nodes_text(nodes, copy, sizeof(copy));
			return ekl_errf(err, EKL_ECONFIG,
					"%s: node %s: no node of this swarm "
					"meets its placement (%s); docker node "
					"ls has: %s. Join the host (docker "
					"swarm join), label it (docker node "
					"update --label-add KEY=VALUE HOST) or "
					"fix the topology",
					l->topo_path, l->nodes[i].name, what,
					copy);
		}
	}
	return 0;
}

const struct lab_runtime lab_runtime_swarm = {
    .name = "swarm",
    .own_network = true,
    .start_node = start_node,
    .stop_node = stop_node,
    .kill_node = kill_node,
    .pause_node = pause_node,
    .resume_node = resume_node,
    .node_running = node_running,
    .start_proxy = start_proxy,
    .stop_proxy = stop_proxy,
    .node_host = node_host,
    .node_admin = node_admin,
};
