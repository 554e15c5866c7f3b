/* runtime_docker.c: the docker runtime: each node, and the lab proxy, in its
 * own container of the offline node image (docker/build-image.sh) on a
 * network the lab creates, driven by plain `docker` commands (fork/exec).
 *
 * What one lab makes, every object labelled ekulab.lab=NAME and
 * ekulab.id=ID, where ID = "ekulab-NAME-HASH" and HASH is of the state
 * directory (two labs of one name in two state directories never meet):
 *   network   ID             bridge, subnet 10.213.X.0/24: X from the
 *                            hash, moved on past every subnet in use
 *   container ID-proxy       `ekulab proxy` at .2, STATE/proxy on /lab;
 *                            STATE/proxy.sock links to its control socket
 *   container ID-NODE        ekunode at .(10+i), STATE/NODE on /lab: its
 *                            container.conf, tls/ (its own certificate,
 *                            key and the CA bundle), admin.sock; a
 *                            deployment's externals after its nodes
 *                            (kind = KIND in container.conf, no
 *                            --version)
 *   volume    ID-NODE-data   its database on /data: a local volume bound
 *                            to STATE/NODE/data, so restarts and upgrades
 *                            keep it and the host can read it
 * STATE/docker.conf remembers the subnet and the addresses;
 * STATE/compose.yaml is the same project as a compose file, to read or to
 * run by hand.
 *
 * Node operations: start = `docker start` of the node's stopped container
 * when it has the same image and version, else remove it and `docker run`
 * a new one (an upgrade is a new container of the same image with another
 * --version, on the same volume); stop = `docker stop`; kill = `docker
 * kill` (SIGKILL); pause / resume = `docker pause` / `unpause` (the cgroup
 * freezer). Link faults and partitions stay with the proxy, exactly as
 * with processes, so a plan's observations (e.g. `cut`) are the same.
 * A deployment's zone connections too: each initiator's zone-peer is the
 * proxy's route, which forwards to the acceptor's zone listener
 * (lab_route_target) at its own address (docker_write_container_conf).
 *
 * Containers run as uid 10001 (the image's user) when ekulab runs as root,
 * after the node's directory is given to that uid; otherwise as the
 * invoking user (--user UID:GID), who owns the state directory already.
 * Either way the host reaches the admin sockets through the bind mount.
 *
 * stop_proxy is the teardown: lab_stop_all calls it last, after every
 * node. It removes every container, the network and the volumes labelled
 * with the lab's ID, and nothing else (docker_teardown).
 *
 * This file holds the struct lab_runtime operations; the rest is in
 * docker_cmd.c (running docker), docker_net.c (identity, network, labels,
 * teardown) and docker_compose.c (container.conf, compose.yaml), which
 * share docker_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker_int.h"
#include "ekulab/core/err.h"
#include "lab.h"
#include "lab_interrupt.h"
#include "lab_runtime.h"

static void node_names(const struct lab *l, const struct docker_lab *d, int i,
		       char *cn, size_t cnlen, char *log, size_t loglen)
{
	docker_cname(d, l->nodes[i].name, cn, cnlen);
	lab_path(l, l->nodes[i].name, "node.log", log, loglen);
}

/* Pass a sanitizer setting of ours on to the container. */
static void pass_env(struct docker_argv *a, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL) {
		docker_argv_add(a, "--env");
		docker_argv_add(a, "%s=%s", name, v);
	}
}

static int run_node(const struct lab *l, const struct docker_lab *d, int i,
		    char *err)
{
	const struct lab_node *nd = &l->nodes[i];
	char cn[256], dir[LAB_PATH_MAX + 80];
	struct docker_argv a;
	int rv;

	docker_cname(d, nd->name, cn, sizeof(cn));
	lab_path(l, nd->name, "data", dir, sizeof(dir));
	docker_argv_init(&a, "volume");
	docker_argv_add(&a, "create");
	docker_argv_add(&a, "--driver");
	docker_argv_add(&a, "local");
	docker_argv_add(&a, "--opt");
	docker_argv_add(&a, "type=none");
	docker_argv_add(&a, "--opt");
	docker_argv_add(&a, "o=bind");
	docker_argv_add(&a, "--opt");
	docker_argv_add(&a, "device=%s", dir);
	docker_add_labels(&a, d);
	docker_argv_add(&a, "%s-data", cn);
	if ((rv = docker_run(&a, NULL, NULL, 0, err)) != 0)
		return rv;
	lab_path(l, nd->name, "", dir, sizeof(dir));
	dir[strlen(dir) - 1] = '\0'; /* no trailing slash */
	docker_argv_init(&a, "run");
	docker_argv_add(&a, "--detach");
	docker_argv_add(&a, "--name");
	docker_argv_add(&a, "%s", cn);
	docker_argv_add(&a, "--hostname");
	docker_argv_add(&a, "%s", nd->name);
	docker_argv_add(&a, "--network");
	docker_argv_add(&a, "%s", d->id);
	docker_argv_add(&a, "--ip");
	docker_argv_add(&a, "%s", d->ip[i]);
	docker_argv_add(&a, "--user");
	docker_argv_add(&a, "%s", d->user);
	docker_add_labels(&a, d);
	docker_argv_add(&a, "--label");
	docker_argv_add(&a, "ekulab.node=%s", nd->name);
	docker_argv_add(&a, "--label");
	docker_argv_add(&a, "ekulab.version=%s", nd->version);
	pass_env(&a, "ASAN_OPTIONS");
	pass_env(&a, "UBSAN_OPTIONS");
	docker_argv_add(&a, "--mount");
	docker_argv_add(&a, "type=bind,source=%s,target=/lab", dir);
	docker_argv_add(&a, "--mount");
	docker_argv_add(
	    &a, "type=volume,source=%s-data,target=/data,volume-nocopy", cn);
	docker_argv_add(&a, "%s", d->image);
	docker_argv_add(&a, "--config");
	docker_argv_add(&a, "/lab/container.conf");
	/* An external (ekunode --kind KIND) has no version. */
	if ((size_t)i < l->topo.n_nodes) {
		docker_argv_add(&a, "--version");
		docker_argv_add(&a, "%s", nd->version);
	}
	return docker_run(&a, NULL, NULL, 0, err);
}

/* The state docker lists for container cn in out ("NAME STATE" lines),
 * into state; false when it is not listed. */
static bool listed_state(const char *out, const char *cn, char *state,
			 size_t len)
{
	size_t cl = strlen(cn);
	const char *p = out;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t ll = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (ll > cl && strncmp(p, cn, cl) == 0 && p[cl] == ' ') {
			snprintf(state, len, "%.*s", (int)(ll - cl - 1),
				 p + cl + 1);
			return true;
		}
		p += ll + (eol != NULL);
	}
	return false;
}

/* Every container of the lab, a "NAME STATE" line each, in one call. */
static int list_containers(const struct docker_lab *d, char *out, size_t len)
{
	char err[EKL_ERRLEN];
	struct docker_argv a;

	docker_argv_init(&a, "container");
	docker_argv_add(&a, "ls");
	docker_argv_add(&a, "--all");
	docker_argv_add(&a, "--filter");
	docker_argv_add(&a, "label=ekulab.id=%s", d->id);
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Names}} {{.State}}");
	return docker_run(&a, NULL, out, len, err);
}

/* Node i on the lab's network (docker_ensure made it): its stopped
 * container started again, or a new one. maybe_there false: the engine
 * just listed no container of the node (no inspect needed). */
static int start_ensured(const struct lab *l, const struct docker_lab *d, int i,
			 bool maybe_there, char *err)
{
	char cn[256], st[512], status[64] = "", ver[64] = "", img[160] = "",
			       want[160] = "";
	struct docker_argv a;
	int rv;

	if ((rv = docker_write_container_conf(l, d, i, err)) != 0)
		return rv;
	docker_cname(d, l->nodes[i].name, cn, sizeof(cn));
	if (maybe_there && docker_inspect(cn, st, sizeof(st)) == 0) {
		sscanf(st, "%63s %63s %159s", status, ver, img);
		docker_argv_init(&a, "image");
		docker_argv_add(&a, "inspect");
		docker_argv_add(&a, "--format");
		docker_argv_add(&a, "{{.Id}}");
		docker_argv_add(&a, "%s", d->image);
		(void)docker_run(&a, NULL, want, sizeof(want), err);
		want[strcspn(want, "\n")] = '\0';
		/* The same container again: a restart. */
		if ((strcmp(status, "exited") == 0 ||
		     strcmp(status, "created") == 0) &&
		    strcmp(ver, l->nodes[i].version) == 0 &&
		    strcmp(img, want) == 0)
			return docker_simple("start", NULL, cn, err);
		/* Another version or image, or still there: recreate. */
		if ((rv = docker_simple("rm", "--force", cn, err)) != 0)
			return rv;
	}
	return run_node(l, d, i, err);
}

static int start_node(struct lab *l, int i, char *err)
{
	struct docker_lab d;
	int rv;

	if ((rv = docker_ensure(l, &d, err)) != 0)
		return rv;
	l->nodes[i].pid = 0;
	return start_ensured(l, &d, i, true, err);
}

/* ---- every node at once ------------------------------------------------ */

/* Containers start_nodes has the engine start side by side. Starting
 * one costs the engine ~1.5 s of CPU on the 2-core development machine
 * (runc, the shim, dockerd run again as the network's set-up hook) and
 * the client ~0.1 s more; side by side they keep both cores busy where
 * one after the other they wait on each other's round trips (docs/
 * benchmarks.md, round 10). More at once would only queue in the
 * engine. */
#define DOCKER_START_AT_ONCE 8

/* What a starter child sends back: start_ensured's code and message. */
struct start_result {
	int rv;
	char err[EKL_ERRLEN];
};

/* Fork a child that starts node i (start_ensured) and writes its
 * start_result to *fd's other end; the child's pid, or -1 (err says
 * why). */
static pid_t start_child(const struct lab *l, const struct docker_lab *d, int i,
			 bool maybe_there, int *fd, char *err)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		struct start_result r;

		memset(&r, 0, sizeof(r));
		close(p[0]);
		r.rv = start_ensured(l, d, i, maybe_there, r.err);
		/* Smaller than PIPE_BUF: written whole or not at all. */
		if (write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(r.rv == 0 ? 0 : 1);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

/* Wait for node i's starter child: 0, or its failure in err. */
static int child_result(const struct lab *l, int i, pid_t pid, int fd,
			char *err)
{
	struct start_result r;
	size_t got = 0;
	int st = 0;

	while (got < sizeof(r)) {
		ssize_t n = read(fd, (char *)&r + got, sizeof(r) - got);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	close(fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof(r)) {
		r.err[sizeof(r.err) - 1] = '\0';
		return r.rv == 0 ? 0 : ekl_errf(err, r.rv, "%s", r.err);
	}
	return ekl_errf(err, EKL_EIO,
			"the process starting %s ended without a result (wait "
			"status %d)",
			l->nodes[i].name, st);
}

/* lab up: every node as start_node would start it, up to
 * DOCKER_START_AT_ONCE at a time, each by a child of ours (a `docker
 * run` is a process of its own anyway). The network is made once,
 * first. The first failure in node order is the answer; lab up then
 * stops every node, as after a failed start_node. */
static int start_nodes(struct lab *l, char *err)
{
	char out[DOCKER_OUT_MAX], cn[256], state[32];
	pid_t pid[DOCKER_START_AT_ONCE];
	int fd[DOCKER_START_AT_ONCE];
	size_t n = lab_n(l), i, k, m;
	struct docker_lab d;
	bool listed;
	int rv = 0;

	if ((rv = docker_ensure(l, &d, err)) != 0)
		return rv;
	listed = list_containers(&d, out, sizeof(out)) == 0;
	for (i = 0; i < n; i++)
		l->nodes[i].pid = 0;
	for (i = 0; i < n && rv == 0; i += m) {
		if (lab_interrupted())
			return ekl_errf(err, EKL_EINTR, "interrupted by %s",
					lab_interrupt_name());
		for (m = 0; m < DOCKER_START_AT_ONCE && i + m < n; m++) {
			docker_cname(&d, l->nodes[i + m].name, cn, sizeof(cn));
			pid[m] =
			    start_child(l, &d, (int)(i + m),
					!listed || listed_state(out, cn, state,
								sizeof(state)),
					&fd[m], err);
			if (pid[m] < 0) {
				rv = EKL_EIO;
				break;
			}
		}
		for (k = 0; k < m; k++) {
			char e[EKL_ERRLEN];
			int r = child_result(l, (int)(i + k), pid[k], fd[k], e);

			if (r != 0 && rv == 0)
				rv = ekl_errf(err, r, "starting %s: %s",
					      l->nodes[i + k].name, e);
		}
	}
	if (rv == 0 && lab_interrupted())
		return ekl_errf(err, EKL_EINTR, "interrupted by %s",
				lab_interrupt_name());
	return rv;
}

static bool node_running(const struct lab *l, int i)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct docker_lab d;

	docker_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (docker_inspect(cn, st, sizeof(st)) != 0)
		return false;
	if (strncmp(st, "running ", 8) == 0 || strncmp(st, "paused ", 7) == 0)
		return true;
	docker_save_logs(cn, log); /* so "see NODE/node.log" holds */
	return false;
}

/* node_running of every node from one list of the lab's containers. */
static int nodes_running(const struct lab *l, bool *running)
{
	char out[DOCKER_OUT_MAX], state[32];
	char cn[256], log[LAB_PATH_MAX + 80];
	struct docker_lab d;
	size_t i;

	docker_ident(l, &d);
	if (list_containers(&d, out, sizeof(out)) != 0)
		return -1;
	for (i = 0; i < lab_n(l); i++) {
		node_names(l, &d, (int)i, cn, sizeof(cn), log, sizeof(log));
		if (!listed_state(out, cn, state, sizeof(state))) {
			running[i] = false;
			continue;
		}
		running[i] = strcmp(state, "running") == 0 ||
			     strcmp(state, "paused") == 0;
		if (!running[i])
			docker_save_logs(cn, log); /* as node_running */
	}
	return 0;
}

/* Thaw a paused container before stopping or killing it, as the process
 * runtime sends SIGCONT before SIGTERM (and some engines refuse). */
static void thaw(const char *cn)
{
	char st[512], err[EKL_ERRLEN];

	if (docker_inspect(cn, st, sizeof(st)) == 0 &&
	    strncmp(st, "paused ", 7) == 0)
		(void)docker_simple("unpause", NULL, cn, err);
}

static int stop_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct docker_lab d;

	(void)err;
	docker_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	l->nodes[i].pid = 0;
	if (docker_inspect(cn, st, sizeof(st)) != 0)
		return 0;
	thaw(cn);
	(void)docker_simple("stop", "--time=5", cn, err);
	docker_save_logs(cn, log);
	return 0;
}

static int kill_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct docker_lab d;
	int rv, k;

	docker_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (!node_running(l, i))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	thaw(cn);
	if ((rv = docker_simple("kill", "--signal=KILL", cn, err)) != 0)
		return rv;
	for (k = 0; k < 100; k++) {
		if (docker_inspect(cn, st, sizeof(st)) != 0 ||
		    strncmp(st, "running ", 8) != 0)
			break;
		usleep(20000);
	}
	docker_save_logs(cn, log);
	return 0;
}

static int pause_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct docker_lab d;

	docker_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (docker_inspect(cn, st, sizeof(st)) != 0 ||
	    (strncmp(st, "running ", 8) != 0 && strncmp(st, "paused ", 7) != 0))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	if (strncmp(st, "paused ", 7) == 0)
		return 0;
	for (int k = 1;; k++) {
		int rv = docker_simple("pause", NULL, cn, err);

		if (rv == 0 || k == DOCKER_PAUSE_TRIES ||
		    !docker_freeze_timed_out(err))
			return rv;
		usleep(DOCKER_PAUSE_GAP_US);
	}
}

static int resume_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct docker_lab d;

	docker_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (docker_inspect(cn, st, sizeof(st)) != 0 ||
	    (strncmp(st, "running ", 8) != 0 && strncmp(st, "paused ", 7) != 0))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	if (strncmp(st, "paused ", 7) != 0)
		return 0; /* as SIGCONT to a running process */
	return docker_simple("unpause", NULL, cn, err);
}

static int start_proxy(struct lab *l, char *err)
{
	char cn[256], dir[LAB_PATH_MAX + 16], link[LAB_PATH_MAX + 32];
	size_t i, j, n = lab_n(l);
	struct docker_argv a;
	struct docker_lab d;
	int rv;

	if ((rv = docker_ensure(l, &d, err)) != 0)
		return rv;
	l->proxy_pid = 0;
	lab_path(l, NULL, "proxy", dir, sizeof(dir));
	if ((rv = docker_mkdir_given(&d, dir, err)) != 0)
		return rv;
	/* lab_fault talks to STATE/proxy.sock: point it into the mount. */
	lab_path(l, NULL, "proxy.sock", link, sizeof(link));
	unlink(link);
	if (symlink("proxy/proxy.sock", link) != 0)
		return ekl_errf(err, EKL_EIO, "symlink %s: %s", link,
				strerror(errno));
	docker_cname(&d, "proxy", cn, sizeof(cn));
	(void)docker_simple("rm", "--force", cn, err);
	docker_argv_init(&a, "run");
	docker_argv_add(&a, "--detach");
	docker_argv_add(&a, "--name");
	docker_argv_add(&a, "%s", cn);
	docker_argv_add(&a, "--hostname");
	docker_argv_add(&a, "proxy");
	docker_argv_add(&a, "--network");
	docker_argv_add(&a, "%s", d.id);
	docker_argv_add(&a, "--ip");
	docker_argv_add(&a, "%s", d.proxy_ip);
	docker_argv_add(&a, "--user");
	docker_argv_add(&a, "%s", d.user);
	docker_add_labels(&a, &d);
	docker_argv_add(&a, "--no-healthcheck");
	pass_env(&a, "ASAN_OPTIONS");
	pass_env(&a, "UBSAN_OPTIONS");
	docker_argv_add(&a, "--mount");
	docker_argv_add(&a, "type=bind,source=%s,target=/lab", dir);
	docker_argv_add(&a, "--entrypoint");
	docker_argv_add(&a, "/usr/bin/ekulab");
	docker_argv_add(&a, "%s", d.image);
	docker_argv_add(&a, "proxy");
	docker_argv_add(&a, "--control");
	docker_argv_add(&a, "/lab/proxy.sock");
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int port = l->route_port[i * n + j];

			if (port <= 0)
				continue;
			docker_argv_add(&a, "--route");
			docker_argv_add(&a, "%s>%s=%s:%d,%s:%d",
					l->nodes[i].name, l->nodes[j].name,
					d.proxy_ip, port, d.ip[j],
					lab_route_target(l, i, j));
		}
	if ((rv = docker_run(&a, NULL, NULL, 0, err)) != 0)
		return rv;
	/* The control socket appears once every route listens. */
	for (int k = 0; k < 500; k++) {
		struct stat sb;

		if (stat(link, &sb) == 0)
			return 0;
		usleep(20000);
	}
	lab_path(l, NULL, "proxy.log", dir, sizeof(dir));
	docker_save_logs(cn, dir);
	return ekl_errf(err, EKL_EIO,
			"the proxy container %s made no control socket within "
			"10 s (see %s)",
			cn, dir);
}

static int stop_proxy(struct lab *l, char *err)
{
	char cn[256], path[LAB_PATH_MAX + 32];
	struct docker_lab d;
	int rv;

	docker_ident(l, &d);
	l->proxy_pid = 0;
	docker_cname(&d, "proxy", cn, sizeof(cn));
	lab_path(l, NULL, "proxy.log", path, sizeof(path));
	if (docker_exists("container", cn))
		docker_save_logs(cn, path);
	rv = docker_teardown(&d, err);
	lab_path(l, NULL, "proxy.sock", path, sizeof(path));
	unlink(path);
	lab_path(l, NULL, "docker.conf", path, sizeof(path));
	unlink(path);
	return rv;
}

const struct lab_runtime lab_runtime_docker = {
    .name = "docker",
    .own_network = true,
    .start_node = start_node,
    .start_nodes = start_nodes,
    .stop_node = stop_node,
    .kill_node = kill_node,
    .pause_node = pause_node,
    .resume_node = resume_node,
    .node_running = node_running,
    .nodes_running = nodes_running,
    .start_proxy = start_proxy,
    .stop_proxy = stop_proxy,
};
