/* node.c: one ekunode: the composition root that builds and wires the
 * layers: conns (struct conn_env), links (struct link_ops), replication
 * (struct repl_io) and the admin socket (struct admin_env).
 *
 * The only file that sees every layer. Below it, the layers point one way:
 * admin -> net, repl -> store; net and repl know nothing of each other,
 * and what passes between them (a conn came up, the carrier changed, a
 * replication frame, a message to send) passes through the callbacks here.
 * Peer i of replication is links[i]; a replication channel is a conn.
 *
 * The happy path: node_start() loads the TLS material, binds the listener
 * and the admin socket, and starts every link dialling. Accepted
 * connections wait on the pending list until their Hello names a
 * configured peer, then that peer's link adopts them.
 *
 * The failure modes: a start-up error undoes everything done so far (no
 * half-configured node); a second node on the same --data is refused (an
 * exclusive lock on DATA/ekunode.lock, held until node_stop). An inbound
 * connection that fails before Hello is attributed to the configured peer
 * its certificate names only when that certificate is worth its name (see
 * pending_closed); everything else goes to the ring of unknown callers, so
 * a stranger cannot overwrite a real peer's last result. Callbacks that
 * drain a socket (accept, lingering sockets) take a bounded share per loop
 * iteration.
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "repl/repl.h"
#include "store/store.h"
#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"

/* A socket being closed gracefully (see node_linger). */
struct node_linger {
	struct node *node; /* not owned */
	int fd;		   /* owned */
	ev_io w;
	ev_timer t;
	struct node_linger *next;
};

#define LINGER_SECONDS 1.0
/* Reads of a lingering socket, and accept() calls, per callback: what is
 * left waits for the loop's next iteration (the watchers are level
 * triggered). */
#define LINGER_READS 16
#define ACCEPT_BATCH 64

static void linger_free(struct node_linger *l)
{
	struct node_linger **pp;

	for (pp = &l->node->lingering; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	ev_io_stop(l->node->loop, &l->w);
	ev_timer_stop(l->node->loop, &l->t);
	close(l->fd);
	ekl_free(l);
}

static void on_linger_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_linger *l = container_of(w, struct node_linger, w);
	char buf[4096];
	ssize_t r;
	int k = 0;

	(void)loop;
	(void)revents;
	while ((r = read(l->fd, buf, sizeof(buf))) > 0)
		if (++k == LINGER_READS)
			return; /* a peer that keeps sending: next turn */
	if (r == 0 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		linger_free(l);
}

static void on_linger_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	linger_free(container_of(w, struct node_linger, t));
}

void node_linger(struct node *n, int fd)
{
	struct node_linger *l = ekl_calloc(1, sizeof(*l));

	shutdown(fd, SHUT_WR);
	if (l == NULL) {
		close(fd);
		return;
	}
	l->node = n;
	l->fd = fd;
	ev_io_init(&l->w, on_linger_read, fd, EV_READ);
	ev_io_start(n->loop, &l->w);
	ev_timer_init(&l->t, on_linger_timeout, LINGER_SECONDS, 0.);
	ev_timer_start(n->loop, &l->t);
	l->next = n->lingering;
	n->lingering = l;
}

static void pending_up(struct conn *c);
static void pending_closed(struct conn *c);
static const struct conn_ops pending_ops = {pending_up, pending_closed, NULL};

static void pending_remove(struct node *n, struct conn *c)
{
	struct conn **pp;

	for (pp = &n->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			return;
		}
}

static void pending_up(struct conn *c)
{
	struct node *n = c->owner;
	int i = config_peer_index(&n->cfg, c->peer_name);

	/* on_hello only accepts known peers (node_known_peer), so i >= 0. */
	if (!n->cfg.peers[i].accept) {
		/* accept=no: the dial mode has only us dial this peer; its
		 * connection is refused (pending_closed files it under the
		 * peer's inbound_error). */
		conn_close(c, "not-dialled",
			   "this node is configured accept=no for the peer: "
			   "only its own dial exists");
		return;
	}
	pending_remove(n, c);
	link_adopt_inbound(&n->links[i], c);
}

void node_note_unknown(struct node *n, const struct conn *c)
{
	struct node_unknown *u = &n->unknown[n->unknown_next];
	const struct tls_verify *v =
	    c->tls != NULL ? tls_conn_verify(c->tls) : NULL;

	memset(u, 0, sizeof(*u));
	snprintf(u->remote, sizeof(u->remote), "%s", c->remote);
	if (v != NULL && v->have_cert)
		snprintf(u->claimed, sizeof(u->claimed), "%.63s", v->claimed);
	u->err = c->err;
	n->unknown_next = (n->unknown_next + 1) % NODE_MAX_UNKNOWN;
	if (n->n_unknown < NODE_MAX_UNKNOWN)
		n->n_unknown++;
}

/* The configured peer an inbound failure belongs to, or -1. Only a
 * certificate whose chain verified names anyone: a self-signed or foreign
 * certificate can claim any name. And the caller must have proved it
 * holds that certificate's key (TLS completed) unless our verification
 * rejected the certificate itself (then the verdict is about the
 * certificate, true whoever presents it). */
static int pending_peer(struct node *n, const struct conn *c)
{
	const struct tls_verify *v =
	    c->tls != NULL ? tls_conn_verify(c->tls) : NULL;

	if (v == NULL || !v->have_cert || v->code == POL_UNTRUSTED)
		return -1;
	if (c->failed_in != CONN_HELLO && !v->rejected)
		return -1;
	return config_peer_index(&n->cfg, v->claimed);
}

static void pending_closed(struct conn *c)
{
	struct node *n = c->owner;
	int i;

	pending_remove(n, c);
	i = pending_peer(n, c);
	if (i >= 0)
		link_note_inbound_failure(&n->links[i], c);
	else
		node_note_unknown(n, c);
	ekl_debug("inbound from %s failed: %s: %s", c->remote, c->err.code,
		  c->err.message);
	conn_free(c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node *n = container_of(w, struct node, listen_w);
	char err[EKL_ERRLEN];
	int k;

	(void)loop;
	(void)revents;
	for (k = 0; k < ACCEPT_BATCH; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct addr a;
		struct conn *c;
		int fd = accept4(n->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				ekl_warn("accept: %s", strerror(errno));
			return;
		}
		addr_nodelay(fd);
		memcpy(&a.ss, &ss, sizeof(ss));
		a.len = sl;
		{
			char remote[80];

			addr_format(&a, remote, sizeof(remote));
			if (conn_accept(&n->conn_env, &pending_ops, n, fd,
					remote, &c, err) != 0) {
				ekl_warn("inbound from %s: %s", remote, err);
				continue;
			}
		}
		c->next = n->pending;
		n->pending = c;
	}
}

/* ---- conn_env: what a conn asks the node --------------------------- */

static bool node_known_peer(void *arg, const char *name)
{
	struct node *n = arg;

	return config_peer_index(&n->cfg, name) >= 0;
}

static void node_linger_fd(void *arg, int fd)
{
	node_linger(arg, fd);
}

/* ---- repl_io: replication's peers are the links ----------------------- */

/* A replication channel is a conn; repl only compares and hands back the
 * pointer, never dereferences it. */
static struct repl_chan *chan_of(struct conn *c)
{
	return (struct repl_chan *)(void *)c;
}

static struct conn *conn_of(struct repl_chan *ch)
{
	return (struct conn *)(void *)ch;
}

static struct node *node_of_io(struct repl_io *io)
{
	return io->data;
}

static const char *io_peer_name(struct repl_io *io, int peer)
{
	return node_of_io(io)->cfg.peers[peer].name;
}

static struct repl_chan *io_carrier(struct repl_io *io, int peer)
{
	struct node *n = node_of_io(io);

	if (n->links == NULL)
		return NULL;
	return chan_of(link_carrier(&n->links[peer]));
}

static bool io_chan_up(struct repl_io *io, struct repl_chan *ch)
{
	(void)io;
	return conn_of(ch)->state == CONN_UP;
}

static const char *io_chan_version(struct repl_io *io, struct repl_chan *ch)
{
	(void)io;
	return conn_of(ch)->peer_version;
}

static int io_send(struct repl_io *io, struct repl_chan *ch,
		   const Ekl__Envelope *env)
{
	(void)io;
	return conn_send(conn_of(ch), env);
}

static void io_send_all(struct repl_io *io, int peer, const Ekl__Envelope *env)
{
	struct node *n = node_of_io(io);

	if (n->links != NULL)
		link_send_all(&n->links[peer], env);
}

static void io_close(struct repl_io *io, struct repl_chan *ch, const char *code,
		     const char *message)
{
	(void)io;
	conn_close(conn_of(ch), code, message);
}

static const char *io_down_reason(struct repl_io *io, int peer)
{
	struct node *n = node_of_io(io);

	return n->links != NULL ? link_down_reason(&n->links[peer])
				: "link-down";
}

static void io_write_done(struct repl_io *io, void *reply, bool ok,
			  const char *body)
{
	(void)io;
	admin_reply_done(reply, ok, body);
}

/* ---- link_ops: what a link tells replication -------------------------- */

static void on_link_conn_up(struct link *l, struct conn *c)
{
	struct node *n = l->cfg.arg;

	repl_conn_up(n->repl, l->cfg.index, chan_of(c));
}

static void on_link_changed(struct link *l)
{
	struct node *n = l->cfg.arg;

	repl_link_changed(n->repl, l->cfg.index);
}

static void on_link_frame(struct link *l, struct conn *c,
			  const Ekl__Envelope *env)
{
	struct node *n = l->cfg.arg;

	repl_on_frame(n->repl, l->cfg.index, chan_of(c), env);
}

static bool link_repl_view(const struct link *l, const char **state,
			   const char **reason, int64_t *applied, int64_t *lag)
{
	struct node *n = l->cfg.arg;

	return repl_peer_view(n->repl, l->cfg.index, state, reason, applied,
			      lag);
}

static void link_repl_json(const struct link *l, struct json *j)
{
	struct node *n = l->cfg.arg;

	repl_peer_json(n->repl, l->cfg.index, j);
}

static const struct link_ops node_link_ops = {
    on_link_conn_up, on_link_changed, on_link_frame,
    link_repl_view,  link_repl_json,
};

static char *admin_status(void *arg, bool json)
{
	return node_status(arg, json);
}

_Static_assert(CONFIG_MAX_PEERS <= REPL_MAX_PEERS,
	       "replication must handle every configured peer");

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ekl_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static int make_data_dir(const char *dir, char *err)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ekl_errf(err, EKL_ECONFIG, "--data %s: %s", dir,
				strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return ekl_errf(err, EKL_ECONFIG, "--data %s: not a directory",
				dir);
	return 0;
}

/* Take DIR for this process: an exclusive lock on DIR/ekunode.lock, our
 * pid written in it so that a second node can say who holds it. The lock
 * goes with the descriptor (*fd, kept open until node_stop), also when the
 * process is killed. */
static int lock_data_dir(const char *dir, int *fd, char *err)
{
	char path[4096], pid[32];
	ssize_t r;
	int f;

	snprintf(path, sizeof(path), "%s/ekunode.lock", dir);
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0)
		return ekl_errf(err, EKL_ECONFIG, "--data %s: %s: %s", dir,
				path, strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		r = pread(f, pid, sizeof(pid) - 1, 0);
		close(f);
		pid[r > 0 ? r : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e != EWOULDBLOCK)
			return ekl_errf(err, EKL_ECONFIG,
					"--data %s: lock %s: %s", dir, path,
					strerror(e));
		return ekl_errf(err, EKL_ECONFIG,
				"--data %s: data directory in use by pid %s; "
				"stop that ekunode first, or give this one its "
				"own --data",
				dir, pid[0] != '\0' ? pid : "(unknown)");
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 ||
	    pwrite(f, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
		int e = errno;

		close(f);
		return ekl_errf(err, EKL_ECONFIG, "--data %s: writing %s: %s",
				dir, path, strerror(e));
	}
	*fd = f;
	return 0;
}

int node_start(struct node *n, struct ev_loop *loop, struct config *cfg,
	       char *err)
{
	struct tls_config tc;
	const char *names[CONFIG_MAX_PEERS];
	int i, rv;

	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	n->listen_fd = -1;
	n->lock_fd = -1;
	n->started = ev_now(loop);

	rv = make_data_dir(n->cfg.data, err);
	if (rv == 0)
		rv = lock_data_dir(n->cfg.data, &n->lock_fd, err);
	if (rv != 0)
		goto err;
	n->repl_io.data = n;
	n->repl_io.n_peers = n->cfg.n_peers;
	n->repl_io.peer_name = io_peer_name;
	n->repl_io.carrier = io_carrier;
	n->repl_io.chan_up = io_chan_up;
	n->repl_io.chan_version = io_chan_version;
	n->repl_io.send = io_send;
	n->repl_io.send_all = io_send_all;
	n->repl_io.close = io_close;
	n->repl_io.down_reason = io_down_reason;
	n->repl_io.write_done = io_write_done;
	{
		struct repl_config rc;

		memset(&rc, 0, sizeof(rc));
		rc.loop = loop;
		rc.name = n->cfg.name;
		rc.vclass = n->cfg.vclass;
		rc.log_keep = n->cfg.log_keep;
		rc.skew_strict = n->cfg.skew_strict;
		rc.ack_timeout_ms = n->cfg.ack_timeout_ms;
		rv = repl_start(&rc, &n->repl_io, n->cfg.data, n->cfg.primary,
				&n->repl, err);
		if (rv != 0)
			goto err_after_lock;
	}
	memset(&tc, 0, sizeof(tc));
	tc.version = n->cfg.vclass;
	tc.mode = n->cfg.verify;
	tc.client_eku_check = n->cfg.client_eku_check;
	tc.service = POL_SVC_CLUSTERDB;
	tc.ca_file = n->cfg.ca;
	tc.cert_file = n->cfg.cert;
	tc.key_file = n->cfg.key;
	tc.client_cert_file = n->cfg.client_cert;
	tc.client_key_file = n->cfg.client_key;
	tc.at_set = n->cfg.at_set;
	tc.at = n->cfg.at;
	for (i = 0; i < n->cfg.n_peers; i++)
		names[i] = n->cfg.peers[i].name;
	tc.peer_names = names;
	tc.n_peer_names = (size_t)n->cfg.n_peers;
	rv = tls_ctx_new(&tc, &n->tls, err);
	if (rv != 0)
		goto err_after_repl;
	n->conn_env.loop = loop;
	n->conn_env.tls = n->tls;
	n->conn_env.name = n->cfg.name;
	n->conn_env.cluster = n->cfg.cluster;
	n->conn_env.version = n->cfg.version;
	n->conn_env.role = n->cfg.role;
	n->conn_env.verify = n->cfg.verify;
	n->conn_env.heartbeat_ms = n->cfg.heartbeat_ms;
	n->conn_env.dead_ms = n->cfg.dead_ms;
	n->conn_env.handshake_ms = CONN_HANDSHAKE_MS;
	n->conn_env.known_peer = node_known_peer;
	n->conn_env.linger = node_linger_fd;
	n->conn_env.arg = n;

	rv = addr_listen(&n->cfg.listen, &n->listen_fd, err);
	if (rv != 0)
		goto err_after_tls;
	n->links = ekl_calloc((size_t)(n->cfg.n_peers ? n->cfg.n_peers : 1),
			      sizeof(*n->links));
	if (n->links == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto err_after_listen;
	}
	{
		struct admin_env ae;

		memset(&ae, 0, sizeof(ae));
		ae.loop = loop;
		ae.name = n->cfg.name;
		ae.repl = n->repl;
		ae.links = n->links;
		ae.n_links = n->cfg.n_peers;
		ae.status = admin_status;
		ae.arg = n;
		if (n->cfg.admin_listen.len != 0) {
			ae.tls_listen = &n->cfg.admin_listen;
			ae.tls_listen_text = n->cfg.admin_listen_text;
			ae.tls_files.ca = n->cfg.admin_ca;
			ae.tls_files.cert = n->cfg.admin_cert;
			ae.tls_files.key = n->cfg.admin_key;
		}
		rv = admin_start(&ae, n->cfg.admin, &n->admin, err);
		if (rv != 0)
			goto err_after_links;
	}
	if (n->cfg.n_zone_listen > 0 || n->cfg.n_zone_peers > 0) {
		struct zone_env ze;

		memset(&ze, 0, sizeof(ze));
		ze.loop = loop;
		ze.tls = tc;
		ze.tls.kind = n->cfg.kind;
		ze.tls.checks_client_eku = n->cfg.checks_client_eku;
		ze.tls.peer_names = NULL;
		ze.tls.n_peer_names = 0;
		ze.interval_ms = n->cfg.zone_interval_ms;
		ze.linger = node_linger_fd;
		ze.arg = n;
		rv =
		    zone_start(&ze, n->cfg.zone_listen,
			       (size_t)n->cfg.n_zone_listen, n->cfg.zone_peers,
			       (size_t)n->cfg.n_zone_peers, n->cfg.zone_accepts,
			       (size_t)n->cfg.n_zone_accepts, &n->zone, err);
		if (rv != 0)
			goto err_after_admin;
	}
	ev_io_init(&n->listen_w, on_accept, n->listen_fd, EV_READ);
	ev_io_start(loop, &n->listen_w);
	ev_signal_init(&n->sigterm, on_signal, SIGTERM);
	ev_signal_start(loop, &n->sigterm);
	ev_signal_init(&n->sigint, on_signal, SIGINT);
	ev_signal_start(loop, &n->sigint);
	for (i = 0; i < n->cfg.n_peers; i++) {
		struct link_config lc;

		memset(&lc, 0, sizeof(lc));
		lc.env = &n->conn_env;
		lc.ops = &node_link_ops;
		lc.arg = n;
		lc.index = i;
		lc.name = n->cfg.peers[i].name;
		lc.addr_text = n->cfg.peers[i].addr_text;
		lc.addr = &n->cfg.peers[i].addr;
		lc.backoff_max_ms = n->cfg.backoff_max_ms;
		lc.dial = n->cfg.peers[i].dial;
		lc.accept = n->cfg.peers[i].accept;
		lc.rule = n->cfg.link == CONFIG_LINK_EITHER ? LINK_RULE_EITHER
							    : LINK_RULE_BOTH;
		link_init(&n->links[i], &lc);
		link_start(&n->links[i]);
	}
	ekl_info("ready: version %s (class %s), role %c, verify %s, listening "
		 "on %s, %d peers, link rule %s",
		 n->cfg.version, pol_vclass_name(n->cfg.vclass), n->cfg.role,
		 pol_mode_name(n->cfg.verify), n->cfg.listen_text,
		 n->cfg.n_peers,
		 n->cfg.link == CONFIG_LINK_EITHER ? "either" : "both");
	return 0;

err_after_admin:
	admin_stop(n->admin);
	n->admin = NULL;
err_after_links:
	ekl_free(n->links);
	n->links = NULL;
err_after_listen:
	close(n->listen_fd);
	n->listen_fd = -1;
err_after_tls:
	tls_ctx_free(n->tls);
	n->tls = NULL;
err_after_repl:
	repl_stop(n->repl);
	n->repl = NULL;
err_after_lock:
	close(n->lock_fd);
	n->lock_fd = -1;
err:
	config_close(&n->cfg);
	return rv;
}

void node_stop(struct node *n)
{
	int i;

	repl_stop(n->repl); /* answers waiting writes, closes the store */
	n->repl = NULL;
	for (i = 0; n->links != NULL && i < n->cfg.n_peers; i++)
		link_stop(&n->links[i]);
	while (n->pending != NULL) {
		struct conn *c = n->pending;

		n->pending = c->next;
		conn_free(c);
	}
	ekl_free(n->links);
	n->links = NULL;
	zone_stop(n->zone); /* hands its sockets to the linger list */
	n->zone = NULL;
	while (n->lingering != NULL)
		linger_free(n->lingering);
	admin_stop(n->admin);
	n->admin = NULL;
	if (n->listen_fd >= 0) {
		ev_io_stop(n->loop, &n->listen_w);
		close(n->listen_fd);
		n->listen_fd = -1;
	}
	ev_signal_stop(n->loop, &n->sigterm);
	ev_signal_stop(n->loop, &n->sigint);
	tls_ctx_free(n->tls);
	n->tls = NULL;
	if (n->lock_fd >= 0)
		close(n->lock_fd); /* the store is closed: let go of DATA */
	n->lock_fd = -1;
	config_close(&n->cfg);
}

static void status_json(struct node *n, struct json *j)
{
	int i;

	json_obj_begin(j);
	json_key(j, "node");
	json_str(j, n->cfg.name);
	json_key(j, "cluster");
	json_str(j, n->cfg.cluster);
	json_key(j, "version");
	json_str(j, n->cfg.version);
	json_key(j, "version_class");
	json_str(j, pol_vclass_name(n->cfg.vclass));
	json_key(j, "role");
	json_str(j, n->cfg.role == 'e' ? "e" : "c");
	json_key(j, "kind");
	json_str(j, pol_kind_name(n->cfg.kind));
	json_key(j, "verify");
	json_str(j, pol_mode_name(n->cfg.verify));
	json_key(j, "client_eku_check");
	json_bool(j, n->cfg.client_eku_check);
	json_key(j, "client_certificate");
	json_bool(j, n->cfg.client_cert != NULL);
	json_key(j, "listen");
	json_str(j, n->cfg.listen_text);
	json_key(j, "link_rule");
	json_str(j, n->cfg.link == CONFIG_LINK_EITHER ? "either" : "both");
	json_key(j, "pid");
	json_int(j, (int64_t)getpid());
	json_key(j, "uptime_ms");
	json_int(j, (int64_t)((ev_now(n->loop) - n->started) * 1000.0));
	repl_status_json(n->repl, j);
	json_key(j, "peers");
	json_arr_begin(j);
	for (i = 0; i < n->cfg.n_peers; i++)
		link_status_json(&n->links[i], j);
	json_arr_end(j);
	json_key(j, "zones");
	zone_status_json(n->zone, j);
	json_key(j, "unknown_callers");
	json_arr_begin(j);
	for (i = 0; i < n->n_unknown; i++) {
		/* Oldest first. */
		int k =
		    (n->unknown_next - n->n_unknown + i + NODE_MAX_UNKNOWN) %
		    NODE_MAX_UNKNOWN;
		const struct node_unknown *u = &n->unknown[k];

		json_obj_begin(j);
		json_key(j, "remote");
		json_str(j, u->remote);
		json_key(j, "claimed");
		json_str(j, u->claimed[0] ? u->claimed : NULL);
		json_key(j, "code");
		json_str(j, u->err.code);
		json_key(j, "message");
		json_str(j, u->err.message);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void errtext(char *buf, size_t len, bool set, const struct conn_err *e)
{
	if (!set)
		snprintf(buf, len, "-");
	else if (e->depth >= 0)
		snprintf(buf, len, "%s@%d", e->code, e->depth);
	else
		snprintf(buf, len, "%s", e->code);
}

/* A growable text buffer for the status table. */
struct textbuf {
	char *s; /* owned */
	size_t len;
	size_t cap;
	bool oom;
};

static void textf(struct textbuf *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void textf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || t->oom)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *nb;

		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		nb = ekl_realloc(t->s, cap);
		if (nb == NULL) {
			t->oom = true;
			return;
		}
		t->s = nb;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static char *status_text(struct node *n)
{
	struct textbuf t = {NULL, 0, 0, false};
	int i;
	const char *vclass = pol_vclass_name(n->cfg.vclass);
	/* "X15.3.2 (X15.3)"; the class once when it is the version. */
	bool same = strcmp(vclass, n->cfg.version) == 0;

	textf(&t,
	      "node %s  cluster %s  version %s%s%s%s  role %c  verify %s  "
	      "link %s\n",
	      n->cfg.name, n->cfg.cluster, n->cfg.version, same ? "" : " (",
	      same ? "" : vclass, same ? "" : ")", n->cfg.role,
	      pol_mode_name(n->cfg.verify),
	      n->cfg.link == CONFIG_LINK_EITHER ? "either" : "both");
	{
		struct store_state st;
		char hex[2 * STORE_DIGEST_LEN + 1];

		store_state(repl_store(n->repl), &st);
		store_digest_hex(st.digest, hex);
		textf(&t,
		      "primary %s  epoch %lld  revision %lld  rows %lld  "
		      "digest %.16s\n",
		      st.primary[0] ? st.primary : "(none)",
		      (long long)st.epoch, (long long)st.revision,
		      (long long)st.rows, hex);
	}
	textf(&t, "%-16s %-5s %-9s %-22s %-22s %s\n", "peer", "link",
	      "direction", "outbound_error", "inbound_error", "replication");
	for (i = 0; i < n->cfg.n_peers; i++) {
		const struct link *l = &n->links[i];
		struct conn *c = link_carrier(l);
		char oe[64], ie[64], rp[96];

		errtext(oe, sizeof(oe), l->out_err_set, &l->out_err);
		errtext(ie, sizeof(ie), l->in_err_set, &l->in_err);
		repl_peer_text(n->repl, i, rp, sizeof(rp));
		textf(&t, "%-16s %-5s %-9s %-22s %-22s %s\n", l->cfg.name,
		      c ? "up" : "down",
		      c == NULL			      ? "-"
		      : c->side == POL_SIDE_INITIATOR ? "outbound"
						      : "inbound",
		      oe, ie, rp);
	}
	if (n->zone != NULL) {
		const struct zone_result *zr;
		size_t k, nz = zone_results(n->zone, &zr);

		textf(&t, "%-10s %-16s %-9s %-10s %s\n", "zone", "peer",
		      "direction", "state", "code");
		for (k = 0; k < nz; k++)
			textf(&t, "%-10s %-16s %-9s %-10s %s\n",
			      pol_service_name(zr[k].service), zr[k].peer,
			      zr[k].outbound ? "outbound" : "inbound",
			      zone_state_name(zr[k].state), zr[k].code);
	}
	if (n->n_unknown > 0)
		textf(&t, "unknown callers: %d (see --json)\n", n->n_unknown);
	if (t.oom) {
		ekl_free(t.s);
		return NULL;
	}
	return t.s;
}

char *node_status(struct node *n, bool json)
{
	struct json j;
	char *out = NULL;
	const char *s;

	if (!json)
		return status_text(n);
	json_init(&j);
	status_json(n, &j);
	s = json_finish(&j);
	if (s != NULL)
		out = ekl_strdup(s);
	json_close(&j);
	return out;
}
