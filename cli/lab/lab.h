/* lab.h: a lab: a state directory that holds what `ekulab lab up` made.
 *
 * STATE (default TMP/ekulab-UID/NAME, TMP from lab_tmpdir(), or --state
 * DIR):
 *   lab.conf            key value lines: the runtime, the topology path,
 *                       ports, pids (rewritten atomically on every change)
 *   pki/                the lab PKI (ekulab pki)
 *   NODE/node.conf      the node's ekunode --config file
 *   NODE/data/          its database
 *   NODE/admin.sock     its admin socket; NODE/node.log its log
 *   proxy.sock          the link-fault proxy's control socket; proxy.log
 *
 * Every directed connection the topology's dial mode makes (A dials B:
 * labmodel_dials) goes through the proxy: A is started with
 * --peer B=127.0.0.1:ROUTE_PORT(A,B) and the proxy forwards to B's listen
 * port, so link faults need no privileges. No other connection exists:
 * a direction the dial mode does not make has no route, and the nodes
 * are told (`dial=no` on the side that does not dial, `accept=no` on the
 * other), so they never open it.
 *
 * Ports: on the process runtime every listening socket (each node's, each
 * route's) is reserved by ekulab (addr_reserve: bound and listening, held
 * open) and handed to the process that serves it when it starts (the
 * LISTEN_FDS protocol), so no two can ever get the same port; a node
 * started again reserves its own port again. The docker runtime gives
 * each endpoint and the proxy an address of their own, so their ports
 * are fixed numbers.
 */
#ifndef EKULAB_CLI_LAB_H
#define EKULAB_CLI_LAB_H

#include <stdbool.h>
#include <sys/types.h>

#include "model/topology.h"

#define LAB_PATH_MAX 200
/* Fixed ports on a runtime with its own network (docker): endpoint i
 * listens on LAB_NODE_PORT_BASE + i at its own address, and for each
 * zone service it accepts on LAB_ZONE_PORT_BASE + service (enum
 * pol_service) there; the proxy's route from -> to on
 * LAB_ROUTE_PORT_BASE + from * n + to at its address (n = lab_n). */
#define LAB_NODE_PORT_BASE  7001
#define LAB_ZONE_PORT_BASE  7401
#define LAB_ROUTE_PORT_BASE 21000
#define LAB_MAX_FAULTS	    64
/* How often a lab's zone connections are probed afresh (ekunode
 * --zone-interval-ms). */
#define LAB_ZONE_INTERVAL_MS 300
/* Longest $TMPDIR a lab uses: the node and proxy Unix socket paths under
 * it must stay below the 108 bytes of sun_path. */
#define LAB_TMPDIR_MAX 60

/* A node fault the lab remembers so that `fault list` and `heal` can see
 * it (link faults live in the proxy, but for one on no route). */
struct lab_fault {
	char name[64];
	char kind[16];		      /* kill | pause, or a link fault's kind */
	char node[TOPO_NAME_MAX + 1]; /* "" for a link fault on no route:
					 one the dial mode makes no
					 connection for (it cuts nothing) */
};

struct lab_node {
	char name[TOPO_NAME_MAX + 1];
	char version[TOPO_VERSION_MAX + 1]; /* current (upgrades change it) */
	enum pki_profile profile;	    /* current certificate */
	enum pki_ca ca;
	bool has_client; /* an X15.5 client certificate */
	enum pki_profile client_profile;
	enum pki_ca client_ca;
	enum pol_mode verify; /* current verify mode */
	int port;	      /* real listen port */
	pid_t pid;	      /* process runtime; 0 = none */
	/* Its (paused) process runs with settings it no longer has (an
	 * upgrade, renewal or verify change while paused): healing starts
	 * it anew instead of resuming it. */
	bool stale;
};

/* How a lab wires and tunes its nodes. lab_open() and lab_open_topo() set
 * the defaults: every link through the proxy, fast timers so that links
 * settle in well under a second. A caller that needs other settings (the
 * bench) changes them before lab_prepare(). Not saved in lab.conf: a lab
 * with other settings is driven by the process that made it. */
struct lab_tuning {
	bool direct;	  /* peers dial each other's listen port: no proxy,
			     so no link faults */
	int heartbeat_ms; /* 0: the node's default (and the same below) */
	int dead_ms;
	int backoff_max_ms;
	long log_keep;	    /* changes kept for catch-up */
	int ack_timeout_ms; /* --ack all: how long a write waits */
};

struct lab_runtime;

/* One zone connection the lab wires (a deployment's zones: lab_zroutes
 * from the model's prediction): `from` opens `service` to `to`
 * (endpoint indices: nodes, then externals), through the proxy's route
 * FROM>TO to `to`'s zone listener for the service. mra: a traversal
 * connection that carries MRA (the initiator checks the SIP SERVICE
 * message). At most one zone connection per directed pair. */
struct lab_zroute {
	size_t zone; /* index into topo.zones */
	size_t from;
	size_t to;
	enum pol_service service;
	bool mra;
};

struct lab {
	char state[LAB_PATH_MAX]; /* the state directory */
	char topo_path[LAB_PATH_MAX * 2];
	struct topo topo;	      /* owned unless topo_borrowed */
	bool topo_borrowed;	      /* a plan owns the topology */
	const struct lab_runtime *rt; /* not owned: static table */
	/* owned, one per endpoint (lab_n): the nodes, then the externals
	 * (each an ekunode --kind KIND: docs/lab.md, "Deployments"). */
	struct lab_node *nodes;
	int *route_port; /* owned: [from * lab_n + to] */
	/* Zone listeners: zone_port[i * POL_SVC_COUNT + service], 0 when
	 * endpoint i accepts no such connection; zone_fd likewise (the
	 * reservation, or -1). Owned. */
	int *zone_port;
	int *zone_fd;
	struct lab_zroute *zroutes; /* owned, n_zroutes */
	size_t n_zroutes;
	/* Reserved listening sockets not yet handed to their process
	 * (process runtime), or -1: node_fd[i], route_fd[from * n + to].
	 * Owned; lab_close closes what is left. */
	int *node_fd;
	int *route_fd;
	pid_t proxy_pid;
	struct lab_fault faults[LAB_MAX_FAULTS];
	int n_faults;
	struct lab_tuning tune;
};

/* Endpoints: the nodes, then the externals (topo_endpoints). */
size_t lab_n(const struct lab *l);
/* The zone connection from -> to, or NULL. */
const struct lab_zroute *lab_zroute_find(const struct lab *l, size_t from,
					 size_t to);
/* Where the proxy's route from -> to forwards: `to`'s ClusterDB listen
 * port, or its zone listener for the zone connection. */
int lab_route_target(const struct lab *l, size_t from, size_t to);
/* The listening sockets endpoint i serves (process runtime): its listen
 * socket, then its zone listeners, each the one reserved at prepare or a
 * new reservation of its port. fds has room for 1 + POL_SVC_COUNT; the
 * caller owns what comes back in it (*n). */
int lab_node_sockets(struct lab *l, int i, int *fds, int *n, char *err);

/* Paths inside the state directory (into buf). */
void lab_path(const struct lab *l, const char *node, const char *file,
	      char *buf, size_t len);

/* Where ekulab's temporary files go: $TMPDIR, or /tmp when it is unset,
 * empty or longer than LAB_TMPDIR_MAX. Never NULL. */
const char *lab_tmpdir(void);
/* Default state directory for a topology name: lab_tmpdir()/ekulab-UID/
 * NAME. */
void lab_default_state(const char *name, char *buf, size_t len);

/* Can the live lab run t? Deployments (clusters:, externals:, zones:)
 * run on the process and docker runtimes; lab_prepare refuses them on
 * swarm. A
 * deployment where two zones join the same two endpoints is refused (one
 * zone connection per directed pair). Returns 0 or EKL_ECONFIG with err
 * saying so. lab_open and lab_open_topo ask it. */
int lab_topo_supported(const struct topo *t, char *err);

/* Read the topology; the state directory is `state` or the default. */
int lab_open(struct lab *l, const char *topo_path, const char *state,
	     char *err);
/* The same for a topology already parsed (a plan's); `where` names it in
 * messages. t must outlive the lab. */
int lab_open_topo(struct lab *l, const struct topo *t, const char *where,
		  const char *state, char *err);
/* Load lab.conf of a lab that is up (EKL_ENOENT when it is not). When
 * l->rt is set on entry (--runtime), lab.conf must name that runtime. */
int lab_load(struct lab *l, char *err);
/* Write lab.conf atomically. */
int lab_save(const struct lab *l, char *err);
void lab_close(struct lab *l);

int lab_node_index(const struct lab *l, const char *name);

/* Create the PKI, certificates and node configs, pick ports (up): on a
 * runtime without its own network the ports are reserved (held in
 * node_fd / route_fd until the serving process starts). */
int lab_prepare(struct lab *l, const char *runtime, char *err);
/* (Re)write NODE/node.conf from the node's current settings. */
int lab_write_node_conf(struct lab *l, int i, char *err);
/* Issue node i's certificate with its current profile/CA (force). */
int lab_issue_cert(struct lab *l, int i, char *err);

/* Start the proxy (unless tune.direct) and every node, wait until each
 * answers (up). */
int lab_start_all(struct lab *l, char *err);
/* Stop every node and the proxy (down, or after a failed up). */
void lab_stop_all(struct lab *l);
/* `lab up`: refuse a lab that is up already (EKL_EEXIST), prepare it on
 * `runtime` (NULL: process) and start it; when that fails, stop whatever
 * it started (l->rt is then set) and leave the logs in the state
 * directory (marked LAB_UP_FAILED) until the next up, which removes them. */
int lab_up(struct lab *l, const char *runtime, char *err);
/* lab_up, then, with settle > 0, wait up to `settle` seconds until the
 * links agree with the model's prediction (lab_status_settle). Returns 0;
 * EKL_ETIMEDOUT when they did not settle (the lab stays up; err says the
 * last difference); EKL_EINTR when a signal came (lab_interrupt.h):
 * everything it started is stopped and the state directory removed; or
 * the error of lab_up. */
int lab_up_wait(struct lab *l, const char *runtime, double settle, char *err);
/* `lab down`: load lab.conf, stop everything, remove the state directory.
 * EKL_ENOENT (err says why) when the lab is not up: nothing was started,
 * or its last up failed (lab_up_failed: its logs stay until the next up). */
int lab_down(struct lab *l, char *err);
/* The file a failed up leaves in the state directory; the next up removes
 * the directory (the failed up's logs) before it starts. */
#define LAB_UP_FAILED "up-failed"
bool lab_up_failed(const struct lab *l);
/* Remove the state directory. */
int lab_remove_state(const struct lab *l, char *err);
/* rm -rf dir, a directory ekulab made (refuses a path with a quote, or
 * shorter than 5 bytes). */
int lab_remove_dir(const char *dir, char *err);

/* ---- every lab on this host (lab_list.c) ---- */

/* One lab as `lab list` shows it. */
struct lab_entry {
	char name[TOPO_NAME_MAX + 1];
	char topology[LAB_PATH_MAX * 2]; /* the topology (or plan) file */
	char runtime[16];
	char state[LAB_PATH_MAX];
	int running; /* nodes running; -1 when it cannot be told */
	int total;
	long age_s;	/* since it was brought up */
	bool up_failed; /* its last up failed (logs kept) */
	bool plan_run;	/* made by a plan run (its topology is a plan) */
};

/* Every lab the user has on this host, whatever its runtime and state
 * directory: the default state directories (lab_default_state) and those
 * `lab up --state` registered. *out is owned by the caller (ekl_free),
 * sorted by name. */
int lab_list(struct lab_entry **out, size_t *n, char *err);
/* A lab verb's FILE argument: an existing file is a topology (topo =
 * arg, state untouched); otherwise the name of a lab on this host (topo
 * and state set from it). EKL_ENOENT (err says what to do) when neither,
 * EKL_EEXIST when two labs have that name (give the file and --state). */
int lab_resolve(const char *arg, char *topo, size_t tlen, char *state,
		size_t slen, char *err);
/* Note the lab's state directory so `lab list` finds it anywhere
 * (lab_prepare does); forget it (lab_remove_state does). */
void lab_registry_add(const struct lab *l);
void lab_registry_remove(const struct lab *l);

/* How long one admin call on a lab node may wait for its answer. */
#define LAB_ADMIN_TIMEOUT_MS 10000

/* Where node i's admin is served, as an admin target (admin_client.h):
 * NODE/admin.sock in the state directory, or, on a runtime whose nodes
 * may run on other hosts (swarm), its network admin channel
 * "tls://HOST:PORT/NODE?pki=STATE/pki". */
#define LAB_ADMIN_TARGET_MAX 512
void lab_node_admin(const struct lab *l, int i, char *buf, size_t len);
/* Connect to node i's admin (lab_node_admin): the fd (for the calls of
 * client/admin_client.h and client/node_status.h), or a negative code.
 * Every read and write on it gives up after LAB_ADMIN_TIMEOUT_MS (or
 * `ms`): the call then fails with "no response within the timeout". */
int lab_node_connect(const struct lab *l, int i, char *err);
int lab_node_connect_ms(const struct lab *l, int i, int ms, char *err);
/* Ask a node's admin socket; body owned by the caller (ekl_free). */
int lab_ask(const struct lab *l, int i, const char *prefix, const char *cmd,
	    bool *ok, char **body, char *err);
/* Wait until node i answers on its admin socket (bounded). */
int lab_wait_node(const struct lab *l, int i, double seconds, char *err);
/* running[i]: does node i run (the runtime's node_running), for each of
 * the lab_n(l) nodes, in one question when the runtime can. */
void lab_nodes_running(const struct lab *l, bool *running);

/* The ClusterDB directions between nodes i and j: does i dial j? Only
 * nodes of one cluster, by its dial mode and primary (labmodel_dials). */
bool lab_dials(const struct lab *l, size_t i, size_t j);
/* The listening socket for node i (process runtime): the one reserved at
 * prepare, or a new reservation of its port (a restart). The caller owns
 * the fd. Returns 0 or EKL_EADDR naming the node, port and cause. */
int lab_node_socket(struct lab *l, int i, int *fd, char *err);
/* The same for route from -> to. */
int lab_route_socket(struct lab *l, size_t from, size_t to, int *fd, char *err);

#endif
