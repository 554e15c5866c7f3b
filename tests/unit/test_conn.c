/* test_conn.c: one peer connection over real TLS on loopback, with the lab
 * PKI: the state machine, Hello, heartbeats, timeouts, closing reasons. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/frame.h"
#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"
#include "ekulab/x509/tls.h"
#include "net/conn.h"
#include "testutil.h"

/* ---- the lab PKI (made once, in main, before the suite runs) ---- */

static char pki_dir[512];

static int issue(const char *name, enum pki_profile profile)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = profile;
	o.ca = PKI_CA_UNRESTRICTED;
	if (pki_issue(pki_dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static int make_pki(void)
{
	const char *base = tu_tmpdir("conn");
	char err[EKL_ERRLEN] = "";

	if (base == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", base);
	if (pki_init(pki_dir, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		return -1;
	}
	if (issue("nodea", PKI_PROFILE_COMBINED) != 0 ||
	    issue("nodeb", PKI_PROFILE_COMBINED) != 0 ||
	    issue("srvonly", PKI_PROFILE_SERVER_ONLY) != 0)
		return -1;
	return 0;
}

/* ---- one node's side: its TLS identity and its conn_env ---- */

struct node_side {
	struct tls_ctx *tls;
	struct conn_env env;
	bool known;	    /* known_peer's answer */
	char names[2][64];  /* name, cluster */
	int lingered;	    /* sockets handed to linger */
	int linger_fds[16]; /* kept open (after SHUT_WR) until teardown */
};

static struct ev_loop *loop;
static struct node_side sides[2];

static bool known_peer(void *arg, const char *name)
{
	struct node_side *s = arg;

	(void)name;
	return s->known;
}

/* Like node_linger: FIN now, keep the socket so no reset is sent. */
static void linger(void *arg, int fd)
{
	struct node_side *s = arg;

	shutdown(fd, SHUT_WR);
	if (s->lingered < 16)
		s->linger_fds[s->lingered] = fd;
	else
		close(fd);
	s->lingered++;
}

static void path(char *buf, size_t len, const char *stem, const char *ext)
{
	snprintf(buf, len, "%s/%s.%s", pki_dir, stem, ext);
}

/* An enforcing pre-X15.4 ClusterDB node called `name` presenting the
 * certificate `cert`. */
static struct node_side *side_init(int i, const char *name, const char *cert,
				   enum pol_vclass version)
{
	struct node_side *s = &sides[i];
	struct tls_config tc;
	char ca[600], crt[600], key[600], err[EKL_ERRLEN] = "";

	memset(s, 0, sizeof(*s));
	path(ca, sizeof(ca), "ca", "crt");
	path(crt, sizeof(crt), cert, "crt");
	path(key, sizeof(key), cert, "key");
	memset(&tc, 0, sizeof(tc));
	tc.version = version;
	tc.mode = POL_ENFORCE;
	tc.client_eku_check = true;
	tc.service = POL_SVC_CLUSTERDB;
	tc.ca_file = ca;
	tc.cert_file = crt;
	tc.key_file = key;
	ck_assert_msg(tls_ctx_new(&tc, &s->tls, err) == 0, "%s", err);
	snprintf(s->names[0], sizeof(s->names[0]), "%s", name);
	snprintf(s->names[1], sizeof(s->names[1]), "lab");
	s->known = true;
	s->env.loop = loop;
	s->env.tls = s->tls;
	s->env.name = s->names[0];
	s->env.cluster = s->names[1];
	s->env.version = version == POL_V_X154 ? "X15.4.0" : "X15.3.2";
	s->env.role = 'c';
	s->env.verify = POL_ENFORCE;
	s->env.heartbeat_ms = 1000;
	s->env.dead_ms = 3500;
	s->env.handshake_ms = CONN_HANDSHAKE_MS;
	s->env.known_peer = known_peer;
	s->env.linger = linger;
	s->env.arg = s;
	return s;
}

/* ---- one end of a connection: what its owner heard ---- */

struct end {
	struct conn *c; /* NULL once freed */
	int ups;
	int closes;
	int frames;
	Ekl__Envelope__MsgCase last_frame;
	enum conn_state state_at_up;
	char peer_name[64];
	char peer_version[32];
	struct conn_err err; /* copied when closed */
	double up_at;	     /* loop time of the up callback */
	double closed_at;    /* ...and of the closed one */
};

static void end_up(struct conn *c)
{
	struct end *e = c->owner;

	e->ups++;
	e->up_at = ev_now(loop);
	e->state_at_up = c->state;
	snprintf(e->peer_name, sizeof(e->peer_name), "%s", c->peer_name);
	snprintf(e->peer_version, sizeof(e->peer_version), "%s",
		 c->peer_version);
}

static void end_closed(struct conn *c)
{
	struct end *e = c->owner;

	e->closes++;
	e->err = c->err;
	e->closed_at = ev_now(loop);
	conn_free(c);
	e->c = NULL;
}

static void end_frame(struct conn *c, const Ekl__Envelope *env)
{
	struct end *e = c->owner;

	e->frames++;
	e->last_frame = env->msg_case;
}

static const struct conn_ops ops = {end_up, end_closed, end_frame};
static const struct conn_ops ops_no_frames = {end_up, end_closed, NULL};

/* ---- the loop ---- */

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* Run the loop until pred(arg) holds or `seconds` pass. */
static bool run_until(bool (*pred)(void *arg), void *arg, double seconds)
{
	ev_timer t;
	double end = ev_time() + seconds;

	ev_timer_init(&t, tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (!pred(arg) && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return pred(arg);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void run_for(double seconds)
{
	(void)run_until(never, NULL, seconds);
}

static bool closed(void *arg)
{
	return ((struct end *)arg)->closes > 0;
}

static bool got_frame(void *arg)
{
	return ((struct end *)arg)->frames > 0;
}

struct pair {
	struct end ini;
	struct end acc;
};

static bool both_up(void *arg)
{
	struct pair *p = arg;

	return (p->ini.ups > 0 || p->ini.closes > 0) &&
	       (p->acc.ups > 0 || p->acc.closes > 0);
}

static bool both_closed(void *arg)
{
	struct pair *p = arg;

	return p->ini.closes > 0 && p->acc.closes > 0;
}

/* ---- a listener on loopback ---- */

static int listen_fd = -1;
static struct addr listen_addr;

static void setup(void)
{
	char err[EKL_ERRLEN] = "";
	struct addr a;

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	/* 127.0.0.1, any port (addr_parse refuses port 0). */
	ck_assert_int_eq(addr_parse("127.0.0.1:1", &a, err), 0);
	((struct sockaddr_in *)&a.ss)->sin_port = 0;
	ck_assert_msg(addr_listen(&a, &listen_fd, err) == 0, "%s", err);
	listen_addr.len = sizeof(listen_addr.ss);
	ck_assert_int_eq(getsockname(listen_fd,
				     (struct sockaddr *)&listen_addr.ss,
				     &listen_addr.len),
			 0);
}

static void teardown(void)
{
	int i, k;

	for (i = 0; i < 2; i++) {
		for (k = 0; k < sides[i].lingered && k < 16; k++)
			close(sides[i].linger_fds[k]);
		tls_ctx_free(sides[i].tls);
		sides[i].tls = NULL;
	}
	close(listen_fd);
	listen_fd = -1;
	ev_loop_destroy(loop);
	loop = NULL;
}

/* The next connection on the listener (the dial is in flight). */
static int accept_one(void)
{
	struct pollfd p = {listen_fd, POLLIN, 0};
	int fd;

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	fd = accept(listen_fd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* sides[0] dials sides[1] (expecting `expect`); both conns exist. */
static void dial_pair(struct pair *p, const char *expect,
		      const struct conn_ops *acc_ops)
{
	char err[EKL_ERRLEN] = "";

	memset(p, 0, sizeof(*p));
	ck_assert_msg(conn_dial(&sides[0].env, &ops, &p->ini, &listen_addr,
				expect, &p->ini.c, err) == 0,
		      "%s", err);
	ck_assert_int_eq(p->ini.c->state, CONN_CONNECTING);
	ck_assert_int_eq(p->ini.c->side, POL_SIDE_INITIATOR);
	ck_assert_msg(conn_accept(&sides[1].env, acc_ops, &p->acc, accept_one(),
				  "test", &p->acc.c, err) == 0,
		      "%s", err);
	ck_assert_int_eq(p->acc.c->state, CONN_HANDSHAKE);
	ck_assert_int_eq(p->acc.c->side, POL_SIDE_ACCEPTOR);
}

/* Dial, and run until both ends are UP. */
static void up_pair(struct pair *p)
{
	dial_pair(p, "nodeb", &ops);
	ck_assert(run_until(both_up, p, 10));
	ck_assert_msg(p->ini.ups == 1 && p->acc.ups == 1,
		      "not up: initiator %s: %s / acceptor %s: %s",
		      p->ini.err.code, p->ini.err.message, p->acc.err.code,
		      p->acc.err.message);
}

static void free_pair(struct pair *p)
{
	conn_free(p->ini.c);
	conn_free(p->acc.c);
	p->ini.c = p->acc.c = NULL;
}

/* ---- conn_transition_ok: the table and nothing else ---- */

START_TEST(test_transition_table)
{
	static const bool legal[5][5] = {
	    /* to:  CONNECTING HANDSHAKE HELLO UP CLOSED */
	    [CONN_CONNECTING] = {false, true, false, false, true},
	    [CONN_HANDSHAKE] = {false, false, true, false, true},
	    [CONN_HELLO] = {false, false, false, true, true},
	    [CONN_UP] = {false, false, false, false, true},
	    [CONN_CLOSED] = {false, false, false, false, false},
	};
	int from, to;

	for (from = CONN_CONNECTING; from <= CONN_CLOSED; from++)
		for (to = CONN_CONNECTING; to <= CONN_CLOSED; to++)
			ck_assert_msg(conn_transition_ok(from, to) ==
					  legal[from][to],
				      "%s -> %s", conn_state_name(from),
				      conn_state_name(to));
	ck_assert_str_eq(conn_state_name(CONN_CONNECTING), "connecting");
	ck_assert_str_eq(conn_state_name(CONN_HANDSHAKE), "handshake");
	ck_assert_str_eq(conn_state_name(CONN_HELLO), "hello");
	ck_assert_str_eq(conn_state_name(CONN_UP), "up");
	ck_assert_str_eq(conn_state_name(CONN_CLOSED), "closed");
	ck_assert_str_eq(conn_state_name((enum conn_state)42), "?");
}
END_TEST

/* ---- conn_dial / conn_accept: the live state machine ---- */

START_TEST(test_up)
{
	struct pair p;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplState rs = EKL__REPL_STATE__INIT;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[1].env.version = "X15.3.9";
	rs.primary = "nodea";
	env.msg_case = EKL__ENVELOPE__MSG_REPL_STATE;
	env.repl_state = &rs;

	dial_pair(&p, "nodeb", &ops);
	/* Nothing may be sent before Hello, and no callback runs before the
	 * loop does. */
	ck_assert_int_eq(conn_send(p.ini.c, &env), EKL_ECLOSED);
	ck_assert_int_eq(p.ini.ups + p.ini.closes, 0);
	ck_assert(run_until(both_up, &p, 10));
	ck_assert_int_eq(p.ini.ups, 1);
	ck_assert_int_eq(p.acc.ups, 1);
	ck_assert_int_eq(p.ini.state_at_up, CONN_UP);
	ck_assert_int_eq(p.acc.state_at_up, CONN_UP);
	/* Each knows the other from its Hello. */
	ck_assert_str_eq(p.ini.peer_name, "nodeb");
	ck_assert_str_eq(p.acc.peer_name, "nodea");
	ck_assert_str_eq(p.ini.peer_version, "X15.3.9");
	ck_assert_str_eq(p.acc.peer_version, "X15.3.2");
	ck_assert_str_eq(p.acc.c->peer_role, "c");

	/* Other messages reach the owner, in order of arrival. */
	ck_assert_int_eq(conn_send(p.ini.c, &env), 0);
	ck_assert(run_until(got_frame, &p.acc, 10));
	ck_assert_int_eq(p.acc.frames, 1);
	ck_assert_int_eq(p.acc.last_frame, EKL__ENVELOPE__MSG_REPL_STATE);
	ck_assert_int_eq(p.ini.closes + p.acc.closes, 0);
	free_pair(&p);
}
END_TEST

START_TEST(test_connect_failed)
{
	struct end e;
	char err[EKL_ERRLEN] = "";
	struct addr a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	/* A port that is ours but not listening: connections are refused,
	 * and nobody else can take it meanwhile. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(addr_parse("127.0.0.1:1", &a, err), 0);
	((struct sockaddr_in *)&a.ss)->sin_port = 0;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
	a.len = sizeof(a.ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a.ss, &a.len), 0);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(
	    conn_dial(&sides[0].env, &ops, &e, &a, "nodeb", &e.c, err), 0);
	ck_assert(run_until(closed, &e, 10));
	ck_assert_str_eq(e.err.code, "connect-failed");
	ck_assert_int_eq(e.ups, 0);
	/* No TLS ran: the socket was closed, not handed to linger. */
	ck_assert_int_eq(sides[0].lingered, 0);
	close(fd);
}
END_TEST

/* ---- Hello: every refusal, told to both ends ---- */

START_TEST(test_hello_wrong_cluster)
{
	struct pair p;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	snprintf(sides[1].names[1], sizeof(sides[1].names[1]), "other");
	dial_pair(&p, "nodeb", &ops);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_int_eq(p.ini.ups + p.acc.ups, 0);
	/* Each end refuses the other's Hello and says why in a Bye; the
	 * first reason recorded wins. */
	ck_assert_str_eq(p.ini.err.code, "wrong-cluster");
	ck_assert_str_eq(p.acc.err.code, "wrong-cluster");
	ck_assert(strstr(p.acc.err.message, "cluster 'lab'") != NULL ||
		  strstr(p.acc.err.message, "cluster 'other'") != NULL);
}
END_TEST

START_TEST(test_hello_unknown_peer)
{
	struct pair p;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[1].known = false; /* nodea is not configured on nodeb */
	dial_pair(&p, "nodeb", &ops);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_str_eq(p.acc.err.code, "unknown-peer");
	ck_assert(strstr(p.acc.err.message, "'nodea'") != NULL);
	/* The dialler learns it from the Bye. */
	ck_assert_str_eq(p.ini.err.code, "unknown-peer");
	ck_assert(strstr(p.ini.err.message, "not one of our configured") !=
		  NULL);
}
END_TEST

START_TEST(test_hello_dialled_someone_else)
{
	struct pair p;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	/* The certificate says nodeb, so TLS passes; the Hello says nodex. */
	side_init(1, "nodex", "nodeb", POL_V_PRE154);
	dial_pair(&p, "nodeb", &ops);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_str_eq(p.ini.err.code, "identity-mismatch");
	ck_assert_msg(strstr(p.ini.err.message,
			     "we dialled nodeb but node 'nodex' answered") !=
			  NULL,
		      "%s", p.ini.err.message);
	ck_assert_str_eq(p.acc.err.code, "identity-mismatch");
}
END_TEST

START_TEST(test_hello_name_not_in_certificate)
{
	struct pair p;

	/* nodea's certificate, but its Hello claims to be nodez. */
	side_init(0, "nodez", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	dial_pair(&p, "nodeb", &ops);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_str_eq(p.acc.err.code, "identity-mismatch");
	ck_assert_msg(strstr(p.acc.err.message, "certificate names 'nodea'") !=
			  NULL,
		      "%s", p.acc.err.message);
	ck_assert_str_eq(p.ini.err.code, "identity-mismatch");

	/* Permissive: the name is not checked against the certificate. */
	teardown();
	setup();
	side_init(0, "nodez", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[1].env.verify = POL_PERMISSIVE;
	up_pair(&p);
	ck_assert_str_eq(p.acc.peer_name, "nodez");
	free_pair(&p);
}
END_TEST

START_TEST(test_second_hello_refused)
{
	struct pair p;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Hello h = EKL__HELLO__INIT;
	char role[] = "c";

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	up_pair(&p);
	/* UP -> HELLO is not a move: a second Hello closes the link. */
	h.proto_version = 1;
	h.cluster = "lab";
	h.node = "nodea";
	h.version = "X15.3.2";
	h.role = role;
	env.msg_case = EKL__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	ck_assert_int_eq(conn_send(p.ini.c, &env), 0);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_str_eq(p.acc.err.code, "protocol");
	ck_assert(strstr(p.acc.err.message, "second Hello") != NULL);
	ck_assert_str_eq(p.ini.err.code, "protocol");
}
END_TEST

START_TEST(test_frame_without_handler_refused)
{
	struct pair p;
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__ReplAck ack = EKL__REPL_ACK__INIT;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	dial_pair(&p, "nodeb", &ops_no_frames);
	ck_assert(run_until(both_up, &p, 10));
	ck_assert_int_eq(p.acc.ups, 1);
	env.msg_case = EKL__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	ck_assert_int_eq(conn_send(p.ini.c, &env), 0);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_str_eq(p.acc.err.code, "protocol");
	ck_assert_str_eq(p.ini.err.code, "protocol");
	/* The link was up: the reason says so, not "before Hello". */
	ck_assert_msg(strstr(p.acc.err.message,
			     "unexpected message (kind 6): nothing on this "
			     "link takes it") != NULL,
		      "%s", p.acc.err.message);
	ck_assert_msg(strstr(p.acc.err.message, "before Hello") == NULL, "%s",
		      p.acc.err.message);
}
END_TEST

/* ---- heartbeats and the dead-link timer ---- */

START_TEST(test_heartbeats_keep_link_up)
{
	struct pair p;
	int i;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	for (i = 0; i < 2; i++) {
		sides[i].env.heartbeat_ms = 100;
		sides[i].env.dead_ms = 800;
	}
	up_pair(&p);
	/* Three dead_ms periods with nothing but heartbeats on the wire
	 * (dead_ms leaves room for a loaded machine). */
	run_for(2.4);
	ck_assert_msg(p.ini.closes + p.acc.closes == 0, "closed: %s / %s",
		      p.ini.err.message, p.acc.err.message);
	ck_assert_int_ge(p.ini.c->hb_seq, 12);
	ck_assert_int_ge(p.acc.c->hb_seq, 12);
	/* Each end counts what it handled: the other's Hello and heartbeats
	 * (the status's frames_in). */
	ck_assert_uint_ge(p.ini.c->frames_in, 12);
	ck_assert_uint_le(p.ini.c->frames_in, p.acc.c->hb_seq + 1);
	/* Heartbeats are the conn's business: the owner never sees them. */
	ck_assert_int_eq(p.ini.frames + p.acc.frames, 0);
	free_pair(&p);
}
END_TEST

START_TEST(test_dead_link_timeout)
{
	struct pair p;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[0].env.heartbeat_ms = 50;
	sides[0].env.dead_ms = 300;
	/* nodeb goes quiet once up: no heartbeat for a minute. */
	sides[1].env.heartbeat_ms = 60000;
	sides[1].env.dead_ms = 60000;
	up_pair(&p);
	ck_assert(run_until(closed, &p.ini, 10));
	ck_assert_str_eq(p.ini.err.code, "timeout");
	ck_assert_msg(strstr(p.ini.err.message, "300 ms: link dead") != NULL,
		      "%s", p.ini.err.message);
	/* dead_ms after the last frame, nodeb's Hello. */
	ck_assert_double_ge(p.ini.closed_at - p.ini.up_at, 0.29);
	/* nodea said why before closing: nodeb records the timeout from the
	 * Bye, not a TLS error from a connection that just ended. */
	ck_assert_int_eq(sides[0].lingered, 1);
	ck_assert(run_until(closed, &p.acc, 10));
	ck_assert_int_eq(p.acc.ups, 1);
	ck_assert_msg(strcmp(p.acc.err.code, "timeout") == 0, "nodeb: %s: %s",
		      p.acc.err.code, p.acc.err.message);
	ck_assert_msg(strstr(p.acc.err.message, "300 ms: link dead") != NULL,
		      "%s", p.acc.err.message);
}
END_TEST

/* ---- the handshake timeout ---- */

START_TEST(test_handshake_timeout_inbound)
{
	struct end e;
	char err[EKL_ERRLEN] = "";
	int sv[2];
	double t0;

	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[1].env.handshake_ms = 200;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	memset(&e, 0, sizeof(e));
	ev_now_update(loop);
	t0 = ev_now(loop);
	/* A caller that connects and never says anything. */
	ck_assert_int_eq(
	    conn_accept(&sides[1].env, &ops, &e, sv[0], "silent", &e.c, err),
	    0);
	ck_assert(run_until(closed, &e, 10));
	ck_assert_str_eq(e.err.code, "timeout");
	ck_assert_msg(strstr(e.err.message,
			     "handshake with silent did not finish in 0.2 s") !=
			  NULL,
		      "%s", e.err.message);
	/* Timers count from the loop's clock, which may lag ev_time(). */
	ck_assert_double_ge(e.closed_at - t0, 0.19);
	close(sv[1]);
}
END_TEST

START_TEST(test_handshake_timeout_outbound)
{
	struct end e;
	char err[EKL_ERRLEN] = "";

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	sides[0].env.handshake_ms = 200;
	memset(&e, 0, sizeof(e));
	/* The listener's backlog completes TCP, but nobody answers TLS. */
	ck_assert_int_eq(conn_dial(&sides[0].env, &ops, &e, &listen_addr,
				   "nodeb", &e.c, err),
			 0);
	ck_assert(run_until(closed, &e, 10));
	ck_assert_str_eq(e.err.code, "timeout");
	ck_assert_msg(strstr(e.err.message, "handshake with 127.0.0.1:") !=
			  NULL,
		      "%s", e.err.message);
}
END_TEST

/* ---- a raw TLS client in a child process ---- */

/* Fork a child that connects to the listener with sides[0]'s certificate,
 * completes TLS (blocking) and runs body; the parent gets the accepted
 * socket in *fd. The child never returns. */
static pid_t raw_client(void (*body)(struct tls_conn *t, void *arg), void *arg,
			int *fd)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[EKL_ERRLEN] = "";
		struct tls_conn *t = NULL;
		int s = socket(AF_INET, SOCK_STREAM, 0);
		enum tls_io r;

		/* Not the test's handlers: check's SIGTERM handler would end
		 * the whole process group. */
		signal(SIGTERM, SIG_DFL);
		if (s < 0 || connect(s, (struct sockaddr *)&listen_addr.ss,
				     listen_addr.len) != 0)
			_exit(2);
		if (tls_conn_new(sides[0].tls, s, POL_SIDE_INITIATOR, "nodeb",
				 &t, err) != 0)
			_exit(3);
		while ((r = tls_handshake(t)) == TLS_IO_WANT_READ ||
		       r == TLS_IO_WANT_WRITE)
			;
		if (r != TLS_IO_OK)
			_exit(4);
		body(t, arg);
		_exit(0);
	}
	*fd = accept_one();
	return pid;
}

static void reap(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* Write all of buf; false when the connection is gone. */
static bool write_all(struct tls_conn *t, const uint8_t *buf, size_t len)
{
	size_t off = 0, n;
	enum tls_io r;

	while (off < len) {
		r = tls_write(t, buf + off, len - off, &n);
		if (r == TLS_IO_OK)
			off += n;
		else if (r != TLS_IO_WANT_READ && r != TLS_IO_WANT_WRITE)
			return false;
	}
	return true;
}

/* Our Hello as nodea, framed. */
static uint8_t *hello_frame(size_t *len)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Hello h = EKL__HELLO__INIT;
	uint8_t *buf = NULL;

	h.proto_version = 1;
	h.cluster = "lab";
	h.node = "nodea";
	h.version = "X15.3.2";
	h.role = "c";
	env.msg_case = EKL__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	if (frame_pack(&env, FRAME_MAX_DEFAULT, &buf, len) != 0)
		return NULL;
	return buf;
}

/* The Hello, one byte every 50 ms. */
static void drip_hello(struct tls_conn *t, void *arg)
{
	size_t len = 0, i;
	uint8_t *buf = hello_frame(&len);

	(void)arg;
	if (buf == NULL)
		_exit(5);
	for (i = 0; i < len; i++) {
		if (!write_all(t, buf + i, 1))
			_exit(0);
		usleep(50000);
	}
	pause(); /* the parent ends us */
}

START_TEST(test_hello_deadline)
{
	struct end e;
	char err[EKL_ERRLEN] = "";
	size_t len = 0;
	uint8_t *hello = NULL;
	pid_t pid;
	int fd;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	sides[1].env.handshake_ms = 400;
	hello = hello_frame(&len);
	ck_assert_ptr_nonnull(hello);
	ck_assert_uint_gt(len, 20); /* over a second at 50 ms a byte */
	ekl_free(hello);
	memset(&e, 0, sizeof(e));
	pid = raw_client(drip_hello, NULL, &fd);
	ck_assert_int_eq(
	    conn_accept(&sides[1].env, &ops, &e, fd, "dripper", &e.c, err), 0);
	/* Each byte that arrives must not buy the caller more time: the
	 * Hello is cut at the deadline, long before its last byte. */
	ck_assert(run_until(closed, &e, 10));
	ck_assert_int_eq(e.ups, 0);
	ck_assert_str_eq(e.err.code, "timeout");
	ck_assert_msg(strstr(e.err.message,
			     "hello with dripper did not finish in 0.4 s") !=
			  NULL,
		      "%s", e.err.message);
	reap(pid);
}
END_TEST

/* Heartbeat frames without pause for 3 s or until the connection is
 * gone. */
static void flood(struct tls_conn *t, void *arg)
{
	Ekl__Envelope env = EKL__ENVELOPE__INIT;
	Ekl__Heartbeat hb = EKL__HEARTBEAT__INIT;
	uint8_t *one = NULL, *many;
	size_t len = 0, k;

	(void)arg;
	env.msg_case = EKL__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	{
		size_t hlen;
		uint8_t *h = hello_frame(&hlen);

		if (h == NULL || !write_all(t, h, hlen))
			_exit(0);
		ekl_free(h);
	}
	hb.seq = 1;
	if (frame_pack(&env, FRAME_MAX_DEFAULT, &one, &len) != 0)
		_exit(6);
	many = ekl_malloc(len * 8192);
	if (many == NULL)
		_exit(7);
	for (k = 0; k < 8192; k++)
		memcpy(many + k * len, one, len);
	{
		double end = ev_time() + 3;

		while (ev_time() < end && write_all(t, many, len * 8192))
			;
	}
	_exit(0);
}

static int ticks;

static void count_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	ticks++;
}

START_TEST(test_flood_read_budget)
{
	struct end e;
	struct pair p;
	char err[EKL_ERRLEN] = "";
	ev_timer tick10;
	pid_t pid;
	int fd, i;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	for (i = 0; i < 2; i++) {
		sides[i].env.heartbeat_ms = 50;
		sides[i].env.dead_ms = 400;
	}
	/* A well-behaved pair on the same loop. */
	up_pair(&p);
	/* A peer that completes Hello and then sends heartbeats without
	 * pause. */
	memset(&e, 0, sizeof(e));
	pid = raw_client(flood, NULL, &fd);
	ck_assert_int_eq(
	    conn_accept(&sides[1].env, &ops, &e, fd, "flooder", &e.c, err), 0);
	ticks = 0;
	ev_timer_init(&tick10, count_tick, 0.01, 0.01);
	ev_timer_start(loop, &tick10);
	run_for(1.5);
	ev_timer_stop(loop, &tick10);
	/* The flood was taken in turns: the loop kept running its timers,
	 * and the other link kept its heartbeats and stayed up. */
	ck_assert_int_eq(e.ups, 1);
	ck_assert_msg(e.closes == 0, "flooder closed: %s: %s", e.err.code,
		      e.err.message);
	ck_assert_msg(ticks >= 30, "a 10 ms timer ran %d times in 1.5 s",
		      ticks);
	ck_assert_msg(p.ini.closes + p.acc.closes == 0, "closed: %s / %s",
		      p.ini.err.message, p.acc.err.message);
	conn_free(e.c);
	e.c = NULL;
	reap(pid);
	free_pair(&p);
}
END_TEST

/* ---- closing: the peer learns the exact reason ---- */

START_TEST(test_close_keeps_tls_alert)
{
	struct pair p;

	/* A server-only certificate dials a pre-X15.4 enforcing acceptor,
	 * which checks the caller's certificate for clientAuth. */
	side_init(0, "srvonly", "srvonly", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	dial_pair(&p, "nodeb", &ops);
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_int_eq(p.ini.ups + p.acc.ups, 0);
	ck_assert_str_eq(p.acc.err.code, "client-purpose");
	ck_assert_int_eq(p.acc.err.side, POL_SIDE_ACCEPTOR);
	ck_assert_int_eq(p.acc.err.depth, 0);
	/* The acceptor's socket was closed gracefully... */
	ck_assert_int_eq(sides[1].lingered, 1);
	/* ...so the dialler got its alert: the same code, not "closed". */
	ck_assert_msg(strcmp(p.ini.err.code, "client-purpose") == 0,
		      "initiator: %s: %s", p.ini.err.code, p.ini.err.message);
	ck_assert_int_eq(p.ini.err.side, POL_SIDE_ACCEPTOR);
	ck_assert(strstr(p.ini.err.message, "peer rejected our certificate") !=
		  NULL);
}
END_TEST

START_TEST(test_client_purpose_skipped_from_x154)
{
	struct pair p;

	/* The same certificate is fine for an X15.4 ClusterDB acceptor. */
	side_init(0, "srvonly", "srvonly", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_X154);
	up_pair(&p);
	ck_assert_str_eq(p.acc.peer_name, "srvonly");
	free_pair(&p);
}
END_TEST

START_TEST(test_close_says_bye)
{
	struct pair p;

	side_init(0, "nodea", "nodea", POL_V_PRE154);
	side_init(1, "nodeb", "nodeb", POL_V_PRE154);
	up_pair(&p);
	conn_close(p.ini.c, "shutdown", "peer node stopping");
	/* The owner hears of it from the loop, never inside conn_close. */
	ck_assert_int_eq(p.ini.closes, 0);
	ck_assert_int_eq(p.ini.c->state, CONN_CLOSED);
	ck_assert_int_eq(
	    conn_send(p.ini.c, &(Ekl__Envelope)EKL__ENVELOPE__INIT),
	    EKL_ECLOSED);
	/* A second close changes nothing: the first reason stays. */
	conn_close(p.ini.c, "protocol", "second thoughts");
	ck_assert(run_until(both_closed, &p, 10));
	ck_assert_int_eq(p.ini.closes, 1);
	ck_assert_str_eq(p.ini.err.code, "shutdown");
	ck_assert_str_eq(p.acc.err.code, "shutdown");
	ck_assert_msg(strstr(p.acc.err.message, "peer node stopping") != NULL,
		      "%s", p.acc.err.message);
	ck_assert_int_eq(sides[0].lingered, 1);
	conn_free(NULL); /* accepted */
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc;

#define ADD(name, fn)                                                          \
	tc = tcase_create(name);                                               \
	tcase_add_checked_fixture(tc, setup, teardown);                        \
	tcase_add_test(tc, fn);                                                \
	suite_add_tcase(s, tc)

	ADD("conn_transition_ok", test_transition_table);
	ADD("up", test_up);
	ADD("connect_failed", test_connect_failed);
	ADD("hello_wrong_cluster", test_hello_wrong_cluster);
	ADD("hello_unknown_peer", test_hello_unknown_peer);
	ADD("hello_dialled_someone_else", test_hello_dialled_someone_else);
	ADD("hello_name_not_in_certificate",
	    test_hello_name_not_in_certificate);
	ADD("second_hello_refused", test_second_hello_refused);
	ADD("frame_without_handler_refused",
	    test_frame_without_handler_refused);
	ADD("heartbeats", test_heartbeats_keep_link_up);
	ADD("dead_link_timeout", test_dead_link_timeout);
	ADD("handshake_timeout_inbound", test_handshake_timeout_inbound);
	ADD("handshake_timeout_outbound", test_handshake_timeout_outbound);
	ADD("hello_deadline", test_hello_deadline);
	ADD("flood_read_budget", test_flood_read_budget);
	ADD("close_keeps_tls_alert", test_close_keeps_tls_alert);
	ADD("client_purpose_skipped_from_x154",
	    test_client_purpose_skipped_from_x154);
	ADD("close_says_bye", test_close_says_bye);
#undef ADD
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (make_pki() != 0)
		return EXIT_FAILURE;
	return tu_run(conn_suite());
}
