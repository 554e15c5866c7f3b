/* test_tls.c: live handshakes over a socketpair, checked against pol_decide;
 * tls_verify_chain (a chain received in a message: MRA's SIP SERVICE)
 * checked against pol_check_chain and the F20 purpose table, with real
 * certificates from the lab PKI. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"
#include "ekulab/x509/tls.h"
#include "testutil.h"

#define DAY INT64_C(86400)

/* ---- the lab PKIs (made once, in main, before the suite runs) ---- */

static char pki_dir[512];   /* the cluster PKI */
static char other_dir[512]; /* an independent PKI nobody trusts */
static char path_buf[8][600];
static int path_next;

/* dir/stem.ext in a small ring of static buffers. */
static const char *pf(const char *dir, const char *stem, const char *ext)
{
	char *p = path_buf[path_next++ % 8];

	snprintf(p, sizeof(path_buf[0]), "%s/%s.%s", dir, stem, ext);
	return p;
}

static int issue(const char *dir, const char *name, enum pki_profile profile,
		 enum pki_ca ca, int64_t nb, int64_t na)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";
	int rv;

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = profile;
	o.ca = ca;
	o.not_before = nb;
	o.not_after = na;
	rv = pki_issue(dir, &o, err);
	if (rv != 0)
		fprintf(stderr, "pki_issue %s: %s\n", name, err);
	return rv;
}

/* F20's purpose table, with real certificates: a leaf of every profile
 * under every issuing CA, named p-<ca>-<profile> (also its DNS SAN). */
static const enum pki_ca table_cas[] = {PKI_CA_UNRESTRICTED, PKI_CA_SERVER_ONLY,
					PKI_CA_COMBINED};
static const enum pki_profile table_leaves[] = {
    PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY,
    PKI_PROFILE_NO_EKU, PKI_PROFILE_ANY_EKU};

static const char *leaf_name(enum pki_ca ca, enum pki_profile p)
{
	static char buf[8][64];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, sizeof(buf[0]), "p-%s-%s", pki_ca_name(ca),
		 pki_profile_name(p));
	return b;
}

static int make_purpose_leaves(void)
{
	size_t c, l;

	for (c = 0; c < sizeof(table_cas) / sizeof(table_cas[0]); c++)
		for (l = 0; l < sizeof(table_leaves) / sizeof(table_leaves[0]);
		     l++)
			if (issue(pki_dir,
				  leaf_name(table_cas[c], table_leaves[l]),
				  table_leaves[l], table_cas[c], 0, 0) != 0)
				return -1;
	return 0;
}

static int make_pkis(void)
{
	const char *base = tu_tmpdir("tls");
	int64_t now = (int64_t)time(NULL);
	char err[EKL_ERRLEN] = "";

	if (base == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", base);
	snprintf(other_dir, sizeof(other_dir), "%s/other", base);
	if (pki_init(pki_dir, false, err) != 0 ||
	    pki_init(other_dir, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		return -1;
	}
	if (issue(pki_dir, "nodea", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
		  0, 0) ||
	    issue(pki_dir, "nodeb", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
		  0, 0) ||
	    issue(pki_dir, "srvonly", PKI_PROFILE_SERVER_ONLY,
		  PKI_CA_UNRESTRICTED, 0, 0) ||
	    issue(pki_dir, "clionly", PKI_PROFILE_CLIENT_ONLY,
		  PKI_CA_UNRESTRICTED, 0, 0) ||
	    issue(pki_dir, "public", PKI_PROFILE_COMBINED, PKI_CA_SERVER_ONLY,
		  0, 0) ||
	    issue(pki_dir, "expired", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
		  now - 30 * DAY, now - DAY) ||
	    issue(pki_dir, "srvexpired", PKI_PROFILE_SERVER_ONLY,
		  PKI_CA_UNRESTRICTED, now - 30 * DAY, now - DAY) ||
	    issue(pki_dir, "future", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
		  now + DAY, now + 30 * DAY) ||
	    issue(other_dir, "rogue", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
		  0, 0))
		return -1;
	return make_purpose_leaves();
}

/* ---- one end of a connection ---- */

/* An enforcing pre-X15.4 ClusterDB node of the cluster PKI presenting
 * `name` from `dir`. */
static struct tls_config node_cfg(const char *dir, const char *name)
{
	struct tls_config c;

	memset(&c, 0, sizeof(c));
	c.version = POL_V_PRE154;
	c.mode = POL_ENFORCE;
	c.client_eku_check = true;
	c.service = POL_SVC_CLUSTERDB;
	c.ca_file = pf(pki_dir, "ca", "crt");
	c.cert_file = pf(dir, name, "crt");
	c.key_file = pf(dir, name, "key");
	return c;
}

/* ---- running a handshake ---- */

enum { INI = 0, ACC = 1 };

struct outcome {
	enum tls_io io[2]; /* OK only when the handshake and one message each
			      way succeeded */
	struct tls_failure f[2];
	struct tls_verify v[2];
	char version[32];
};

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static bool finished(enum tls_io io)
{
	return io == TLS_IO_OK || io == TLS_IO_FATAL || io == TLS_IO_CLOSED;
}

/* Wait (briefly) for whatever the unfinished ends want. */
static void wait_io(const int fd[2], const enum tls_io st[2],
		    const bool done[2])
{
	struct pollfd p[2];
	nfds_t n = 0;
	int i;

	for (i = 0; i < 2; i++) {
		if (done[i])
			continue;
		p[n].fd = fd[i];
		p[n].events = st[i] == TLS_IO_WANT_WRITE ? POLLOUT : POLLIN;
		p[n].revents = 0;
		n++;
	}
	if (n > 0)
		(void)poll(p, n, 100);
}

/* The failing end stops writing, so the other end sees EOF after the
 * alert instead of waiting forever. */
static void end_failed(int fd, enum tls_io io)
{
	if (io != TLS_IO_OK)
		shutdown(fd, SHUT_WR);
}

static void pump(struct tls_conn *c[2], const int fd[2], struct outcome *o)
{
	enum tls_io st[2] = {TLS_IO_WANT_READ, TLS_IO_WANT_READ};
	bool done[2] = {false, false};
	char buf[64];
	size_t n;
	int iter;
	int i;

	/* 1. Both handshakes. */
	for (iter = 0; iter < 200 && !(done[0] && done[1]); iter++) {
		for (i = 0; i < 2; i++) {
			if (done[i])
				continue;
			st[i] = tls_handshake(c[i]);
			if (finished(st[i])) {
				done[i] = true;
				end_failed(fd[i], st[i]);
			}
		}
		wait_io(fd, st, done);
	}
	ck_assert_msg(done[0] && done[1], "handshake did not finish");
	o->io[INI] = st[INI];
	o->io[ACC] = st[ACC];

	/* 2. One small message each way, so an initiator whose TLS 1.3
	 * handshake completed learns of the acceptor's rejection. */
	for (i = 0; i < 2; i++) {
		done[i] = st[i] != TLS_IO_OK;
		if (done[i])
			continue;
		st[i] = tls_write(c[i], i == INI ? "ping" : "pong", 4, &n);
		if (st[i] == TLS_IO_OK)
			ck_assert_uint_eq(n, 4);
		if (st[i] == TLS_IO_FATAL || st[i] == TLS_IO_CLOSED) {
			done[i] = true;
			o->io[i] = st[i];
			end_failed(fd[i], st[i]);
		}
	}
	for (iter = 0; iter < 200 && !(done[0] && done[1]); iter++) {
		for (i = 0; i < 2; i++) {
			if (done[i])
				continue;
			st[i] = tls_read(c[i], buf, sizeof(buf), &n);
			if (st[i] == TLS_IO_OK) {
				ck_assert_uint_eq(n, 4);
				ck_assert(memcmp(buf,
						 i == INI ? "pong" : "ping",
						 4) == 0);
			}
			if (finished(st[i])) {
				done[i] = true;
				o->io[i] = st[i];
				end_failed(fd[i], st[i]);
			}
		}
		wait_io(fd, st, done);
	}
	ck_assert_msg(done[0] && done[1], "message exchange did not finish");
}

/* What a test does with both ends once the handshake and the first
 * message are through (NULL: nothing); run_pair calls it. */
static void (*after_pump)(struct tls_conn *c[2], const int fd[2]);

/* Handshake between an initiator (ic, expecting `expect`) and an acceptor
 * (ac) over a socketpair; both ends' views land in o. */
static void run_pair(const struct tls_config *ic, const struct tls_config *ac,
		     const char *expect, struct outcome *o)
{
	struct tls_ctx *ctx[2] = {NULL, NULL};
	struct tls_conn *c[2] = {NULL, NULL};
	char err[EKL_ERRLEN] = "";
	int fd[2];
	int i;

	memset(o, 0, sizeof(*o));
	ck_assert_msg(tls_ctx_new(ic, &ctx[INI], err) == 0, "%s", err);
	ck_assert_msg(tls_ctx_new(ac, &ctx[ACC], err) == 0, "%s", err);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	set_nonblock(fd[0]);
	set_nonblock(fd[1]);
	ck_assert_msg(tls_conn_new(ctx[INI], fd[INI], POL_SIDE_INITIATOR,
				   expect, &c[INI], err) == 0,
		      "%s", err);
	ck_assert_msg(tls_conn_new(ctx[ACC], fd[ACC], POL_SIDE_ACCEPTOR, NULL,
				   &c[ACC], err) == 0,
		      "%s", err);
	ck_assert_int_eq(tls_conn_side(c[INI]), POL_SIDE_INITIATOR);
	ck_assert_int_eq(tls_conn_side(c[ACC]), POL_SIDE_ACCEPTOR);

	pump(c, fd, o);
	if (after_pump != NULL)
		after_pump(c, fd);

	for (i = 0; i < 2; i++) {
		if (o->io[i] != TLS_IO_OK)
			tls_conn_failure(c[i], &o->f[i]);
		o->v[i] = *tls_conn_verify(c[i]);
	}
	snprintf(o->version, sizeof(o->version), "%s",
		 tls_conn_version(c[INI]));
	for (i = 0; i < 2; i++) {
		tls_shutdown(c[i]);
		tls_conn_free(c[i]);
		tls_ctx_free(ctx[i]);
		close(fd[i]);
	}
}

/* ---- the model's view of the same configuration ---- */

static void facts(const char *cert, const char *verifier_ca,
		  struct pol_chain *ch)
{
	X509_STORE *store = NULL;
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(certinfo_load_store(verifier_ca, &store, err) == 0, "%s",
		      err);
	ck_assert_msg(certinfo_chain_file(cert, store, ch, err) == 0, "%s",
		      err);
	X509_STORE_free(store);
}

static void model(const struct tls_config *ic, const struct tls_config *ac,
		  const char *expect, struct pol_verdict *out)
{
	static struct pol_chain a_srv, i_srv, i_cli;
	struct pol_node ini, acc;
	struct pol_conn conn;
	int64_t now = (int64_t)time(NULL);

	memset(&i_srv, 0, sizeof(i_srv));
	memset(&ini, 0, sizeof(ini));
	memset(&acc, 0, sizeof(acc));
	facts(ac->cert_file, ic->ca_file, &a_srv);
	if (!ic->no_cert)
		facts(ic->cert_file, ac->ca_file, &i_srv);
	ini.version = ic->version;
	ini.mode = ic->mode;
	ini.client_eku_check = ic->client_eku_check;
	ini.kind = ic->kind;
	ini.checks_client_eku = ic->checks_client_eku;
	ini.server_chain = &i_srv;
	if (!ic->no_cert && ic->client_cert_file != NULL) {
		facts(ic->client_cert_file, ac->ca_file, &i_cli);
		ini.client_chain = &i_cli;
	}
	acc.version = ac->version;
	acc.mode = ac->mode;
	acc.client_eku_check = ac->client_eku_check;
	acc.kind = ac->kind;
	acc.checks_client_eku = ac->checks_client_eku;
	memcpy(acc.client_eku_service, ac->client_eku_service,
	       sizeof(acc.client_eku_service));
	acc.server_chain = &a_srv;

	memset(&conn, 0, sizeof(conn));
	conn.initiator = &ini;
	conn.acceptor = &acc;
	conn.service = ac->service;
	conn.initiator_expects = expect;
	conn.acceptor_accepts = ac->peer_names;
	conn.n_acceptor_accepts = ac->n_peer_names;
	conn.initiator_time = ic->at_set ? ic->at : now;
	conn.acceptor_time = ac->at_set ? ac->at : now;
	pol_decide(&conn, out);
}

/* Run the pair, and check that both ends and the model agree on the
 * expected outcome: who rejects (side), why (code) and where (depth). */
static void check_case(const struct tls_config *ic, const struct tls_config *ac,
		       const char *expect, enum pol_side side,
		       enum pol_code code, int depth, struct outcome *o)
{
	struct pol_verdict mv;
	int rej;

	model(ic, ac, expect, &mv);
	ck_assert_int_eq(mv.side, side);
	ck_assert_int_eq(mv.code, code);
	ck_assert_int_eq(mv.depth, depth);
	ck_assert(mv.ok == (side == POL_SIDE_NONE));

	run_pair(ic, ac, expect, o);
	ck_assert_str_eq(o->version, "TLSv1.3");
	if (mv.ok) {
		ck_assert_msg(
		    o->io[INI] == TLS_IO_OK && o->io[ACC] == TLS_IO_OK,
		    "expected success, got %d/%d: %s / %s", o->io[INI],
		    o->io[ACC], o->f[INI].message, o->f[ACC].message);
		ck_assert(!o->v[INI].rejected && !o->v[ACC].rejected);
		return;
	}
	rej = side == POL_SIDE_INITIATOR ? INI : ACC;
	ck_assert_int_eq(o->io[INI], TLS_IO_FATAL);
	ck_assert_int_eq(o->io[ACC], TLS_IO_FATAL);
	/* The rejecting end knows from its verify record... */
	ck_assert_msg(o->f[rej].side == side && o->f[rej].code == code,
		      "rejecting end says %s/%s: %s",
		      pol_side_name(o->f[rej].side),
		      pol_code_name(o->f[rej].code), o->f[rej].message);
	ck_assert_int_eq(o->f[rej].depth, depth);
	/* ...and the other end from the alert. */
	ck_assert_msg(o->f[1 - rej].side == side && o->f[1 - rej].code == code,
		      "other end says %s/%s: %s",
		      pol_side_name(o->f[1 - rej].side),
		      pol_code_name(o->f[1 - rej].code), o->f[1 - rej].message);
	ck_assert_int_eq(o->f[1 - rej].depth, -1);
	if (code != POL_NO_CERTIFICATE) {
		ck_assert(o->v[rej].rejected);
		ck_assert_int_eq(o->v[rej].code, code);
		ck_assert(strstr(o->f[rej].message,
				 "we rejected the peer certificate") != NULL);
		ck_assert(strstr(o->f[1 - rej].message,
				 "peer rejected our certificate") != NULL);
	}
}

/* ---- tls_handshake: one test per outcome ---- */

START_TEST(test_ok)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert(o.v[INI].have_cert && o.v[ACC].have_cert);
	ck_assert_str_eq(o.v[INI].claimed, "nodeb");
	ck_assert_str_eq(o.v[ACC].claimed, "nodea");
	ck_assert(strstr(o.v[ACC].subject, "CN=nodea") != NULL);
	ck_assert_uint_eq(o.v[ACC].eku,
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
	ck_assert_int_eq(o.v[INI].code, POL_OK);
	ck_assert_int_eq(o.v[ACC].code, POL_OK);
	ck_assert_int_eq(o.v[ACC].depth, -1);
}
END_TEST

/* Read-ahead: three records sent at once are taken from the socket by
 * the first read, then handed out one by one without the socket, and
 * the reader learns it has them all when tls_read says WANT_READ. */
static void three_records(struct tls_conn *c[2], const int fd[2])
{
	const char *rec[3] = {"one", "two", "three"};
	char buf[64];
	size_t n;
	int i, left = -1;

	tls_read_ahead(c[ACC]);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tls_write(c[INI], rec[i], strlen(rec[i]), &n),
				 TLS_IO_OK);
		ck_assert_uint_eq(n, strlen(rec[i]));
	}
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tls_read(c[ACC], buf, sizeof(buf), &n),
				 TLS_IO_OK);
		ck_assert_uint_eq(n, strlen(rec[i]));
		ck_assert(memcmp(buf, rec[i], n) == 0);
		if (i == 0) {
			ck_assert_int_eq(ioctl(fd[ACC], FIONREAD, &left), 0);
			ck_assert_msg(left == 0,
				      "%d bytes left in the socket after the "
				      "first record: no read-ahead",
				      left);
		}
	}
	ck_assert_int_eq(tls_read(c[ACC], buf, sizeof(buf), &n),
			 TLS_IO_WANT_READ);
}

START_TEST(test_read_ahead)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	after_pump = three_records;
	run_pair(&ic, &ac, "nodeb", &o);
	after_pump = NULL;
	ck_assert_int_eq(o.io[INI], TLS_IO_OK);
	ck_assert_int_eq(o.io[ACC], TLS_IO_OK);
}
END_TEST

START_TEST(test_untrusted)
{
	struct tls_config ic = node_cfg(other_dir, "rogue");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	/* The acceptor rejects an initiator from another PKI at the top of
	 * what was presented (leaf, issuing CA). */
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_UNTRUSTED, 1, &o);
	ck_assert_str_eq(o.v[ACC].claimed, "rogue");
	/* And the initiator rejects such an acceptor first. */
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(other_dir, "rogue");
	check_case(&ic, &ac, "rogue", POL_SIDE_INITIATOR, POL_UNTRUSTED, 1, &o);
}
END_TEST

START_TEST(test_expired)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "expired");
	struct outcome o;

	check_case(&ic, &ac, "expired", POL_SIDE_INITIATOR, POL_EXPIRED, 0, &o);
	ic = node_cfg(pki_dir, "expired");
	ac = node_cfg(pki_dir, "nodeb");
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_EXPIRED, 0, &o);
}
END_TEST

START_TEST(test_not_yet_valid)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "future");
	struct outcome o;

	check_case(&ic, &ac, "future", POL_SIDE_INITIATOR, POL_NOT_YET_VALID, 0,
		   &o);
	/* Time travel to before the root existed: the root (depth 2) is
	 * checked first. */
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(pki_dir, "nodeb");
	ac.at_set = true;
	ac.at = (int64_t)time(NULL) - 10 * DAY;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_NOT_YET_VALID, 2,
		   &o);
	/* ...and a certificate is fine once its time has come. */
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(pki_dir, "future");
	ic.at_set = true;
	ic.at = (int64_t)time(NULL) + 10 * DAY;
	check_case(&ic, &ac, "future", POL_SIDE_NONE, POL_OK, -1, &o);
}
END_TEST

START_TEST(test_name_mismatch)
{
	static const char *const peers[] = {"nodex", "nodey"};
	static const char *const peers_ok[] = {"nodex", "nodea"};
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	check_case(&ic, &ac, "nodez", POL_SIDE_INITIATOR, POL_NAME_MISMATCH, 0,
		   &o);
	ck_assert_int_eq(o.v[INI].x509_err, X509_V_ERR_HOSTNAME_MISMATCH);
	ck_assert(strstr(o.f[INI].message, "ostname mismatch") != NULL);
	/* An IP literal is checked against IP SANs only. */
	check_case(&ic, &ac, "10.0.0.2", POL_SIDE_INITIATOR, POL_NAME_MISMATCH,
		   0, &o);
	ck_assert_int_eq(o.v[INI].x509_err, X509_V_ERR_IP_ADDRESS_MISMATCH);

	ac.peer_names = peers;
	ac.n_peer_names = 2;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0,
		   &o);
	ac.peer_names = peers_ok;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
}
END_TEST

START_TEST(test_server_purpose)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "clionly");
	struct outcome o;

	check_case(&ic, &ac, "clionly", POL_SIDE_INITIATOR, POL_SERVER_PURPOSE,
		   0, &o);
	ck_assert_int_eq(o.v[INI].x509_err, X509_V_ERR_INVALID_PURPOSE);
	/* Every version checks serverAuth as initiator. */
	ic.version = POL_V_X155;
	ic.client_eku_check = false;
	check_case(&ic, &ac, "clionly", POL_SIDE_INITIATOR, POL_SERVER_PURPOSE,
		   0, &o);
}
END_TEST

START_TEST(test_client_purpose)
{
	struct tls_config ic = node_cfg(pki_dir, "srvonly");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	/* A combined leaf under the server-only issuing CA (the 2026 public
	 * hierarchy) fails one level up. */
	ic = node_cfg(pki_dir, "public");
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 1,
		   &o);
	/* The same certificate serves fine as a server certificate. */
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(pki_dir, "public");
	check_case(&ic, &ac, "public", POL_SIDE_NONE, POL_OK, -1, &o);
}
END_TEST

START_TEST(test_no_certificate)
{
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	ic.no_cert = true;
	ic.cert_file = NULL;
	ic.key_file = NULL;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_NO_CERTIFICATE, -1,
		   &o);
	ck_assert(!o.v[ACC].have_cert);
	ck_assert(strstr(o.f[ACC].message, "no certificate") != NULL);
	ck_assert_msg(strstr(o.f[INI].message, "certificate required") != NULL,
		      "%s", o.f[INI].message);
}
END_TEST

START_TEST(test_x154_service)
{
	struct tls_config ic = node_cfg(pki_dir, "srvonly");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	ac.version = POL_V_X154;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	/* Seen and skipped, not enforced. */
	ck_assert_int_eq(o.v[ACC].code, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(o.v[ACC].depth, 0);
	ck_assert(!o.v[ACC].rejected);

	/* Every zone service still checks client EKU on X15.4 (F12, F19);
	 * an mra context is a traversal one. */
	ac.service = POL_SVC_NEIGHBOUR;
	ic.service = POL_SVC_NEIGHBOUR;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	ac.service = POL_SVC_MRA;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
}
END_TEST

START_TEST(test_skipped_purpose_hides_nothing)
{
	static const char *const peers[] = {"nodex"};
	struct tls_config ic = node_cfg(pki_dir, "srvexpired");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	/* X15.4 skips the purpose error at depth 0, then finds the expiry. */
	ac.version = POL_V_X154;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_EXPIRED, 0, &o);
	ck_assert_int_eq(o.v[ACC].x509_err, X509_V_ERR_CERT_HAS_EXPIRED);
	/* ...or the identity. */
	ic = node_cfg(pki_dir, "srvonly");
	ac.peer_names = peers;
	ac.n_peer_names = 1;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_NAME_MISMATCH, 0,
		   &o);
	/* X15.5 with the client EKU check off skips it for every service. */
	ac = node_cfg(pki_dir, "nodeb");
	ac.version = POL_V_X155;
	ac.client_eku_check = false;
	ac.service = POL_SVC_B2B;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ac.client_eku_check = true;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
}
END_TEST

START_TEST(test_x155_client_cert)
{
	struct tls_config ic = node_cfg(pki_dir, "srvonly");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	ic.version = POL_V_X155;
	ic.client_cert_file = pf(pki_dir, "clionly", "crt");
	ic.client_key_file = pf(pki_dir, "clionly", "key");
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert_str_eq(o.v[ACC].claimed, "clionly");
	ck_assert_uint_eq(o.v[ACC].eku, POL_EKU_EXT | POL_EKU_CLIENT);
	/* Before X15.5 the client certificate is not used. */
	ic.version = POL_V_X154;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	ck_assert_str_eq(o.v[ACC].claimed, "srvonly");
}
END_TEST

START_TEST(test_permissive)
{
	struct tls_config ic = node_cfg(other_dir, "rogue");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	ac.mode = POL_PERMISSIVE;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert(o.v[ACC].have_cert);
	ck_assert_int_eq(o.v[ACC].code, POL_UNTRUSTED);
	ck_assert_int_eq(o.v[ACC].depth, 1);
	ck_assert(!o.v[ACC].rejected);

	/* A permissive initiator records a name mismatch, connects anyway. */
	ic = node_cfg(pki_dir, "nodea");
	ic.mode = POL_PERMISSIVE;
	check_case(&ic, &ac, "nodez", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert_int_eq(o.v[INI].code, POL_NAME_MISMATCH);
	ck_assert_int_eq(o.v[INI].depth, 0);

	/* The first problem is recorded, not the name. */
	ac = node_cfg(pki_dir, "expired");
	check_case(&ic, &ac, "nodez", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert_int_eq(o.v[INI].code, POL_EXPIRED);

	/* Still requested, so its absence is recorded too. */
	ic = node_cfg(pki_dir, "nodea");
	ic.no_cert = true;
	ac = node_cfg(pki_dir, "nodeb");
	ac.mode = POL_PERMISSIVE;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert(!o.v[ACC].have_cert);
	ck_assert_int_eq(o.v[ACC].code, POL_NO_CERTIFICATE);
}
END_TEST

START_TEST(test_external_peers)
{
	struct tls_config ic = node_cfg(pki_dir, "srvonly");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	/* Expressway (server-only) -> CUCM: the CUCM's own setting decides
	 * (F20: not every stack checks the client EKU). */
	ic.service = ac.service = POL_SVC_NEIGHBOUR;
	ac.kind = POL_KIND_CUCM;
	ac.checks_client_eku = true;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	ac.checks_client_eku = false;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	/* Seen and skipped, not enforced. */
	ck_assert_int_eq(o.v[ACC].code, POL_CLIENT_PURPOSE);
	ck_assert(!o.v[ACC].rejected);
	/* Not checking EKU is still verifying: an untrusted caller fails. */
	ic = node_cfg(other_dir, "rogue");
	ic.service = POL_SVC_NEIGHBOUR;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_UNTRUSTED, 1, &o);
	/* A CUCM that does not verify (tls_verify off) takes it. */
	ac.mode = POL_PERMISSIVE;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);

	/* CUCM -> Expressway: the Expressway checks clientAuth on X15.4
	 * (F19), an external initiator checks serverAuth like any client. */
	ic = node_cfg(pki_dir, "srvonly");
	ic.kind = POL_KIND_CUCM;
	ac = node_cfg(pki_dir, "nodeb");
	ic.service = ac.service = POL_SVC_NEIGHBOUR;
	ac.version = POL_V_X154;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	ac = node_cfg(pki_dir, "clionly");
	ac.service = POL_SVC_NEIGHBOUR;
	ic = node_cfg(pki_dir, "nodea");
	ic.kind = POL_KIND_CUCM;
	ic.service = POL_SVC_NEIGHBOUR;
	check_case(&ic, &ac, "clionly", POL_SIDE_INITIATOR, POL_SERVER_PURPOSE,
		   0, &o);

	/* An external presents its client certificate when it has one. */
	ic = node_cfg(pki_dir, "srvonly");
	ic.kind = POL_KIND_FEDERATION_PEER;
	ic.client_cert_file = pf(pki_dir, "clionly", "crt");
	ic.client_key_file = pf(pki_dir, "clionly", "key");
	ac = node_cfg(pki_dir, "nodeb");
	ic.service = ac.service = POL_SVC_FEDERATION;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ck_assert_str_eq(o.v[ACC].claimed, "clionly");
}
END_TEST

START_TEST(test_switch_per_service)
{
	struct tls_config ic = node_cfg(pki_dir, "srvonly");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct outcome o;

	/* X15.5 E, switch on by default, off for traversal only. */
	ic.version = POL_V_X155;
	ac.version = POL_V_X155;
	ac.client_eku_service[POL_SVC_TRAVERSAL] = POL_SW_IGNORE;
	ic.service = ac.service = POL_SVC_TRAVERSAL;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ic.service = ac.service = POL_SVC_NEIGHBOUR;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	/* Off node-wide, back on for the neighbour zone. */
	ac.client_eku_check = false;
	ac.client_eku_service[POL_SVC_NEIGHBOUR] = POL_SW_CHECK;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 0,
		   &o);
	ic.service = ac.service = POL_SVC_B2B;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
}
END_TEST

/* ---- tls_verify_chain ---- */

static size_t read_all(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_msg(f != NULL, "%s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* The same chain as DER certificates back to back. */
static size_t pem_to_der(const unsigned char *pem, size_t len,
			 unsigned char *out, size_t cap)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	size_t n = 0;
	unsigned char *p;
	int k;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		k = i2d_X509(x, NULL);
		ck_assert(k > 0 && n + (size_t)k <= cap);
		p = out + n;
		i2d_X509(x, &p);
		n += (size_t)k;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

static X509_STORE *lab_store(void)
{
	X509_STORE *st = NULL;
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(certinfo_load_store(pf(pki_dir, "ca", "crt"), &st, err) ==
			  0,
		      "%s", err);
	return st;
}

/* Check `name` (dir/name.crt) with rules r, live and in the model, and
 * return the live result after asserting they agree. */
static struct tls_verify chain_case(X509_STORE *st, const char *dir,
				    const char *name, const char *expect,
				    const struct pol_rules *r, int64_t at)
{
	static unsigned char pem[16384], der[16384];
	const char *const names[1] = {expect};
	struct tls_chain_check chk = {st, at, r, names, expect ? 1 : 0};
	struct tls_verify live, live_der;
	struct pol_chain facts_;
	char err[EKL_ERRLEN] = "";
	size_t n = read_all(pf(dir, name, "crt"), pem, sizeof(pem));
	size_t nd = pem_to_der(pem, n, der, sizeof(der));
	enum pol_code code;
	int depth;

	ck_assert_msg(tls_verify_chain(&chk, pem, n, &live, err) == 0, "%s",
		      err);
	ck_assert_msg(tls_verify_chain(&chk, der, nd, &live_der, err) == 0,
		      "%s", err);
	ck_assert_int_eq(live_der.code, live.code);
	ck_assert_int_eq(live_der.depth, live.depth);
	ck_assert(live_der.rejected == live.rejected);

	ck_assert_msg(
	    certinfo_chain_file(pf(dir, name, "crt"), st, &facts_, err) == 0,
	    "%s", err);
	code = pol_check_chain(r, &facts_, names, expect ? 1 : 0, at, &depth);
	ck_assert_msg(live.code == code && live.depth == depth,
		      "%s: live %s@%d, model %s@%d", name,
		      pol_code_name(live.code), live.depth, pol_code_name(code),
		      depth);
	ck_assert(live.rejected == (r->verify && code != POL_OK));
	ck_assert(live.have_cert);
	if (strncmp(name, "p-", 2) == 0) /* the purpose-table leaves */
		ck_assert_str_eq(live.claimed, name);
	return live;
}

START_TEST(test_chain_purpose_table)
{
	/* docs/model.md F20, measured with OpenSSL 3.0: the first failing
	 * certificate from the leaf up, -1 = ok. Rows: issuing CA x leaf,
	 * in table_cas x table_leaves order. */
	static const int want[3][5][2] = {
	    /* CA unrestricted: combined, server-only, client-only, no-eku,
	     * any-eku; {as client, as server} */
	    {{-1, -1}, {0, -1}, {-1, 0}, {-1, -1}, {0, 0}},
	    /* CA server-only */
	    {{1, -1}, {0, -1}, {1, 0}, {1, -1}, {0, 0}},
	    /* CA combined */
	    {{-1, -1}, {0, -1}, {-1, 0}, {-1, -1}, {0, 0}},
	};
	X509_STORE *st = lab_store();
	struct pol_rules cli = {true, true, true, POL_EKU_CLIENT, 0};
	struct pol_rules srv = {true, true, true, POL_EKU_SERVER, 0};
	int64_t now = (int64_t)time(NULL);
	struct tls_verify v;
	size_t c, l;

	for (c = 0; c < 3; c++)
		for (l = 0; l < 5; l++) {
			const char *n =
			    leaf_name(table_cas[c], table_leaves[l]);

			v = chain_case(st, pki_dir, n, n, &cli, now);
			ck_assert_msg(v.depth == want[c][l][0], "%s client %d",
				      n, v.depth);
			ck_assert_int_eq(v.code, want[c][l][0] < 0
						     ? POL_OK
						     : POL_CLIENT_PURPOSE);
			v = chain_case(st, pki_dir, n, n, &srv, now);
			ck_assert_msg(v.depth == want[c][l][1], "%s server %d",
				      n, v.depth);
			ck_assert_int_eq(v.code, want[c][l][1] < 0
						     ? POL_OK
						     : POL_SERVER_PURPOSE);
		}
	X509_STORE_free(st);
}
END_TEST

START_TEST(test_chain_mra)
{
	/* F17: what a C of each version makes of E's certificate in the SIP
	 * SERVICE message. {leaf profile, CA, code and depth per version:
	 * pre-X15.4, X15.4, X15.5}. */
	static const struct {
		enum pki_profile leaf;
		enum pki_ca ca;
		enum pol_code code[3];
		int depth[3];
	} rows[] = {
	    {PKI_PROFILE_COMBINED,
	     PKI_CA_UNRESTRICTED,
	     {POL_OK, POL_OK, POL_OK},
	     {-1, -1, -1}},
	    {PKI_PROFILE_SERVER_ONLY,
	     PKI_CA_UNRESTRICTED,
	     {POL_CLIENT_PURPOSE, POL_OK, POL_OK},
	     {0, -1, -1}},
	    /* The 2026 public hierarchy: combined leaf, server-only CA. */
	    {PKI_PROFILE_COMBINED,
	     PKI_CA_SERVER_ONLY,
	     {POL_CLIENT_PURPOSE, POL_OK, POL_OK},
	     {1, -1, -1}},
	    {PKI_PROFILE_SERVER_ONLY,
	     PKI_CA_SERVER_ONLY,
	     {POL_CLIENT_PURPOSE, POL_OK, POL_OK},
	     {0, -1, -1}},
	    /* Both EKUs missing: serverAuth is checked first. */
	    {PKI_PROFILE_ANY_EKU,
	     PKI_CA_UNRESTRICTED,
	     {POL_SERVER_PURPOSE, POL_SERVER_PURPOSE, POL_SERVER_PURPOSE},
	     {0, 0, 0}},
	    {PKI_PROFILE_CLIENT_ONLY,
	     PKI_CA_UNRESTRICTED,
	     {POL_SERVER_PURPOSE, POL_SERVER_PURPOSE, POL_SERVER_PURPOSE},
	     {0, 0, 0}},
	    {PKI_PROFILE_NO_EKU,
	     PKI_CA_UNRESTRICTED,
	     {POL_OK, POL_OK, POL_OK},
	     {-1, -1, -1}},
	};
	const enum pol_vclass vs[3] = {POL_V_PRE154, POL_V_X154, POL_V_X155};
	X509_STORE *st = lab_store();
	int64_t now = (int64_t)time(NULL);
	struct pol_chain e_chain;
	char err[EKL_ERRLEN] = "";
	size_t i;
	int k, m;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (k = 0; k < 3; k++)
			for (m = 0; m < 2; m++) {
				const char *n =
				    leaf_name(rows[i].ca, rows[i].leaf);
				struct pol_node c, e;
				struct pol_rules r;
				struct pol_conn conn;
				struct pol_verdict pv;
				struct tls_verify v;

				/* C's rules come from the policy, in either
				 * verify mode: the check does not depend on
				 * it. */
				memset(&c, 0, sizeof(c));
				c.version = vs[k];
				c.mode = (enum pol_mode)m;
				pol_rules(&c, POL_SIDE_INITIATOR, POL_SVC_MRA,
					  &r);
				v = chain_case(st, pki_dir, n, n, &r, now);
				ck_assert_msg(v.code == rows[i].code[k] &&
						  v.depth == rows[i].depth[k],
					      "%s for C %s: %s@%d", n,
					      pol_vclass_name(vs[k]),
					      pol_code_name(v.code), v.depth);
				ck_assert(v.rejected ==
					  (rows[i].code[k] != POL_OK));
				/* The model's own entry point agrees. */
				ck_assert(certinfo_chain_file(
					      pf(pki_dir, n, "crt"), st,
					      &e_chain, err) == 0);
				memset(&e, 0, sizeof(e));
				e.role = POL_ROLE_E;
				e.server_chain = &e_chain;
				memset(&conn, 0, sizeof(conn));
				conn.initiator = &c;
				conn.acceptor = &e;
				conn.initiator_expects = n;
				conn.initiator_time = now;
				pol_decide_mra(&conn, &pv);
				ck_assert_int_eq(pv.code, v.code);
				ck_assert_int_eq(pv.depth, v.depth);
				ck_assert(pv.ok == !v.rejected);
				if (!pv.ok)
					ck_assert_int_eq(pv.side,
							 POL_SIDE_INITIATOR);
			}
	X509_STORE_free(st);
}
END_TEST

START_TEST(test_chain_other_codes)
{
	X509_STORE *st = lab_store();
	struct pol_node c;
	struct pol_rules r;
	struct tls_verify v;
	int64_t now = (int64_t)time(NULL);

	memset(&c, 0, sizeof(c));
	pol_rules(&c, POL_SIDE_INITIATOR, POL_SVC_MRA, &r);
	/* Chain, validity and identity apply as in a handshake. */
	v = chain_case(st, other_dir, "rogue", "rogue", &r, now);
	ck_assert_int_eq(v.code, POL_UNTRUSTED);
	ck_assert_int_eq(v.depth, 1);
	v = chain_case(st, pki_dir, "expired", "expired", &r, now);
	ck_assert_int_eq(v.code, POL_EXPIRED);
	v = chain_case(st, pki_dir, "future", "future", &r, now);
	ck_assert_int_eq(v.code, POL_NOT_YET_VALID);
	v = chain_case(st, pki_dir, "future", "future", &r, now + 10 * DAY);
	ck_assert_int_eq(v.code, POL_OK);
	v = chain_case(st, pki_dir, "nodeb", "nodez", &r, now);
	ck_assert_int_eq(v.code, POL_NAME_MISMATCH);
	ck_assert_int_eq(v.x509_err, X509_V_ERR_HOSTNAME_MISMATCH);
	v = chain_case(st, pki_dir, "nodeb", "10.0.0.2", &r, now);
	ck_assert_int_eq(v.code, POL_NAME_MISMATCH);
	ck_assert_int_eq(v.x509_err, X509_V_ERR_IP_ADDRESS_MISMATCH);
	/* Validity before the second purpose; no names: no identity. */
	v = chain_case(st, pki_dir, "srvexpired", "srvexpired", &r, now);
	ck_assert_int_eq(v.code, POL_EXPIRED);
	v = chain_case(st, pki_dir, "srvonly", NULL, &r, now);
	ck_assert_int_eq(v.code, POL_CLIENT_PURPOSE);
	/* Permissive rules record the first problem and never reject. */
	r.verify = false;
	r.check_purpose = false;
	v = chain_case(st, pki_dir, "srvonly", "srvonly", &r, now);
	ck_assert_int_eq(v.code, POL_CLIENT_PURPOSE);
	ck_assert(!v.rejected);
	X509_STORE_free(st);
}
END_TEST

START_TEST(test_chain_bad_input)
{
	static unsigned char big[TLS_CHAIN_MAX_BYTES + 1];
	static unsigned char pem[65536];
	X509_STORE *st = lab_store();
	struct pol_node c;
	struct pol_rules r;
	struct tls_chain_check chk;
	struct tls_verify v;
	char err[EKL_ERRLEN] = "";
	size_t n, one;
	int i;

	memset(&c, 0, sizeof(c));
	pol_rules(&c, POL_SIDE_INITIATOR, POL_SVC_MRA, &r);
	memset(&chk, 0, sizeof(chk));
	chk.store = st;
	chk.at = (int64_t)time(NULL);
	chk.rules = &r;

	/* Nothing sent: no-certificate, rejected. */
	ck_assert_int_eq(tls_verify_chain(&chk, "", 0, &v, err), 0);
	ck_assert_int_eq(v.code, POL_NO_CERTIFICATE);
	ck_assert(v.rejected && !v.have_cert);
	/* Not a chain at all. */
	ck_assert_int_eq(tls_verify_chain(&chk, "hello", 5, &v, err),
			 EKL_EINVAL);
	ck_assert(strstr(err, "neither PEM nor DER") != NULL);
	/* A damaged PEM certificate after a good one. */
	n = read_all(pf(pki_dir, "nodeb", "crt"), pem, sizeof(pem));
	memcpy(pem + n,
	       "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
	       "CERTIFICATE-----\n",
	       58);
	ck_assert_int_eq(tls_verify_chain(&chk, pem, n + 58, &v, err),
			 EKL_EINVAL);
	ck_assert(strstr(err, "PEM certificate 3") != NULL);
	/* Leading blank lines are fine. */
	memmove(pem + 2, pem, n);
	pem[0] = '\n';
	pem[1] = ' ';
	chk.names = (const char *const[]){"nodeb"};
	chk.n_names = 1;
	ck_assert_int_eq(tls_verify_chain(&chk, pem, n + 2, &v, err), 0);
	ck_assert_int_eq(v.code, POL_OK);
	ck_assert_str_eq(v.claimed, "nodeb");
	/* Over the limits. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(tls_verify_chain(&chk, big, sizeof(big), &v, err),
			 EKL_ETOOBIG);
	one = read_all(pf(pki_dir, "nodeb", "crt"), pem, sizeof(pem));
	for (i = 1; i <= TLS_CHAIN_MAX_CERTS / 2; i++)
		memcpy(pem + (size_t)i * one, pem, one);
	ck_assert_int_eq(tls_verify_chain(&chk, pem,
					  one * (TLS_CHAIN_MAX_CERTS / 2 + 1),
					  &v, err),
			 EKL_ETOOBIG);
	ck_assert(strstr(err, "at most") != NULL);
	/* No store or rules: refused, not accepted. */
	chk.store = NULL;
	ck_assert_int_eq(tls_verify_chain(&chk, pem, one, &v, err), EKL_EINVAL);
	X509_STORE_free(st);
}
END_TEST

START_TEST(test_chain_ctx_store)
{
	/* A node checks the message with the trust store of its context. */
	static unsigned char pem[16384];
	struct tls_config cfg = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	struct pol_node c;
	struct pol_rules r;
	struct tls_chain_check chk;
	struct tls_verify v;
	char err[EKL_ERRLEN] = "";
	size_t n;

	ck_assert_msg(tls_ctx_new(&cfg, &ctx, err) == 0, "%s", err);
	memset(&c, 0, sizeof(c));
	c.version = POL_V_X154;
	pol_rules(&c, POL_SIDE_INITIATOR, POL_SVC_MRA, &r);
	memset(&chk, 0, sizeof(chk));
	chk.store = tls_ctx_store(ctx);
	chk.at = (int64_t)time(NULL);
	chk.rules = &r;
	chk.names = (const char *const[]){"srvonly"};
	chk.n_names = 1;
	ck_assert_ptr_nonnull(chk.store);
	n = read_all(pf(pki_dir, "srvonly", "crt"), pem, sizeof(pem));
	ck_assert_int_eq(tls_verify_chain(&chk, pem, n, &v, err), 0);
	ck_assert_int_eq(v.code, POL_OK);
	n = read_all(pf(other_dir, "rogue", "crt"), pem, sizeof(pem));
	ck_assert_int_eq(tls_verify_chain(&chk, pem, n, &v, err), 0);
	ck_assert_int_eq(v.code, POL_UNTRUSTED);
	ck_assert(v.rejected);
	tls_ctx_free(ctx);
}
END_TEST

/* ---- tls_ctx_new ---- */

START_TEST(test_ctx_ok)
{
	struct tls_config c = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(tls_ctx_new(&c, &ctx, err) == 0, "%s", err);
	ck_assert_ptr_nonnull(ctx);
	tls_ctx_free(ctx);
	tls_ctx_free(NULL);
}
END_TEST

START_TEST(test_ctx_key_mode)
{
	struct tls_config c = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	char err[EKL_ERRLEN] = "";
	const char *key = pf(pki_dir, "nodea", "key");
	int rv;

	ck_assert_int_eq(chmod(key, 0644), 0);
	rv = tls_ctx_new(&c, &ctx, err);
	chmod(key, 0600);
	ck_assert_int_eq(rv, EKL_EPERM);
	ck_assert_ptr_null(ctx);
	ck_assert(strstr(err, key) != NULL);
	ck_assert(strstr(err, "0644") != NULL);
	ck_assert(strstr(err, "chmod 600") != NULL);
}
END_TEST

START_TEST(test_ctx_key_mismatch)
{
	struct tls_config c = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	char err[EKL_ERRLEN] = "";

	c.key_file = pf(pki_dir, "nodeb", "key");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ECONFIG);
	ck_assert_ptr_null(ctx);
	ck_assert(strstr(err, "does not match certificate") != NULL);
	ck_assert(strstr(err, c.key_file) != NULL);
	ck_assert(strstr(err, c.cert_file) != NULL);

	/* The X15.5 client certificate is checked the same way. */
	c = node_cfg(pki_dir, "nodea");
	c.version = POL_V_X155;
	c.client_cert_file = pf(pki_dir, "clionly", "crt");
	c.client_key_file = pf(pki_dir, "nodea", "key");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ECONFIG);
	ck_assert(strstr(err, c.client_cert_file) != NULL);
}
END_TEST

START_TEST(test_ctx_missing_files)
{
	struct tls_config c = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	char err[EKL_ERRLEN] = "";

	c.ca_file = pf(pki_dir, "nosuchca", "crt");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ENOENT);
	ck_assert(strstr(err, "trust bundle") != NULL);
	ck_assert(strstr(err, c.ca_file) != NULL);

	c = node_cfg(pki_dir, "nosuchnode");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ENOENT);
	ck_assert(strstr(err, c.cert_file) != NULL);

	c = node_cfg(pki_dir, "nodea");
	c.key_file = pf(pki_dir, "nosuchkey", "key");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ENOENT);
	ck_assert(strstr(err, c.key_file) != NULL);

	/* A trust bundle without any certificate. */
	c = node_cfg(pki_dir, "nodea");
	c.ca_file = pf(pki_dir, "nodea", "key");
	ck_assert_int_eq(tls_ctx_new(&c, &ctx, err), EKL_ECRYPTO);
	ck_assert(strstr(err, c.ca_file) != NULL);
	ck_assert_ptr_null(ctx);
}
END_TEST

/* Contexts built from files parsed once (tls_files, the matrix's way)
 * behave like contexts that read their files: the same outcomes, the same
 * refusals, and a context outlives the cache it was built with. */
START_TEST(test_ctx_files)
{
	struct tls_files *fs = NULL;
	struct tls_config ic = node_cfg(pki_dir, "nodea");
	struct tls_config ac = node_cfg(pki_dir, "nodeb");
	struct tls_ctx *ctx = NULL;
	char err[EKL_ERRLEN] = "";
	char key[600];
	struct outcome o;
	int rv;

	ck_assert_msg(tls_files_new(&fs, err) == 0, "%s", err);
	ic.files = ac.files = fs;
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	/* The same files again, from the cache, and other outcomes (pf's
	 * ring of paths holds two configurations). */
	check_case(&ic, &ac, "nodeb", POL_SIDE_NONE, POL_OK, -1, &o);
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(pki_dir, "clionly");
	ic.files = ac.files = fs;
	check_case(&ic, &ac, "clionly", POL_SIDE_INITIATOR, POL_SERVER_PURPOSE,
		   0, &o);
	ic = node_cfg(pki_dir, "public");
	ac = node_cfg(pki_dir, "nodeb");
	ic.files = ac.files = fs;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_CLIENT_PURPOSE, 1,
		   &o);
	ic = node_cfg(other_dir, "rogue");
	ac = node_cfg(pki_dir, "nodeb");
	ic.files = ac.files = fs;
	check_case(&ic, &ac, "nodeb", POL_SIDE_ACCEPTOR, POL_UNTRUSTED, 1, &o);

	/* Refusals: a key others can read (not yet in the cache), a key of
	 * another certificate, missing files, a bundle with no certificate. */
	tls_files_free(fs);
	ck_assert_int_eq(tls_files_new(&fs, err), 0);
	ic = node_cfg(pki_dir, "nodea");
	ic.files = fs;
	snprintf(key, sizeof(key), "%s", ic.key_file);
	ck_assert_int_eq(chmod(key, 0644), 0);
	rv = tls_ctx_new(&ic, &ctx, err);
	chmod(key, 0600);
	ck_assert_int_eq(rv, EKL_EPERM);
	ck_assert_ptr_null(ctx);
	ck_assert(strstr(err, "chmod 600") != NULL);
	ic.key_file = pf(pki_dir, "nodeb", "key");
	ck_assert_int_eq(tls_ctx_new(&ic, &ctx, err), EKL_ECONFIG);
	ck_assert(strstr(err, "does not match certificate") != NULL);
	ic = node_cfg(pki_dir, "nosuchnode");
	ic.files = fs;
	ck_assert_int_eq(tls_ctx_new(&ic, &ctx, err), EKL_ENOENT);
	ck_assert(strstr(err, ic.cert_file) != NULL);
	ic = node_cfg(pki_dir, "nodea");
	ic.files = fs;
	ic.ca_file = pf(pki_dir, "nodea", "key");
	ck_assert_int_eq(tls_ctx_new(&ic, &ctx, err), EKL_ECRYPTO);
	ck_assert(strstr(err, "trust bundle") != NULL);
	ck_assert_ptr_null(ctx);

	/* A context keeps what it uses: free the cache, then handshake. */
	ic = node_cfg(pki_dir, "nodea");
	ac = node_cfg(pki_dir, "nodeb");
	ic.files = ac.files = fs;
	{
		struct tls_ctx *cx[2] = {NULL, NULL};
		struct tls_conn *c[2] = {NULL, NULL};
		int fd[2], i;

		ck_assert_msg(tls_ctx_new(&ic, &cx[INI], err) == 0, "%s", err);
		ck_assert_msg(tls_ctx_new(&ac, &cx[ACC], err) == 0, "%s", err);
		tls_files_free(fs);
		fs = NULL;
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
		set_nonblock(fd[0]);
		set_nonblock(fd[1]);
		ck_assert_int_eq(tls_conn_new(cx[INI], fd[INI],
					      POL_SIDE_INITIATOR, "nodeb",
					      &c[INI], err),
				 0);
		ck_assert_int_eq(tls_conn_new(cx[ACC], fd[ACC],
					      POL_SIDE_ACCEPTOR, NULL, &c[ACC],
					      err),
				 0);
		memset(&o, 0, sizeof(o));
		pump(c, fd, &o);
		ck_assert_int_eq(o.io[INI], TLS_IO_OK);
		ck_assert_int_eq(o.io[ACC], TLS_IO_OK);
		for (i = 0; i < 2; i++) {
			tls_conn_free(c[i]);
			tls_ctx_free(cx[i]);
			close(fd[i]);
		}
	}
	tls_files_free(NULL);
}
END_TEST

/* ---- tls_conn_failure ---- */

START_TEST(test_failure_not_a_certificate)
{
	struct tls_config c = node_cfg(pki_dir, "nodea");
	struct tls_ctx *ctx = NULL;
	struct tls_conn *conn = NULL;
	struct tls_failure f;
	char err[EKL_ERRLEN] = "";
	enum tls_io io;
	int fd[2];
	int i;

	ck_assert(tls_ctx_new(&c, &ctx, err) == 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	set_nonblock(fd[0]);
	ck_assert(tls_conn_new(ctx, fd[0], POL_SIDE_INITIATOR, "nodeb", &conn,
			       err) == 0);
	ck_assert_int_eq(tls_handshake(conn), TLS_IO_WANT_READ);
	/* The peer is not TLS at all and hangs up. */
	ck_assert_int_eq(write(fd[1], "HTTP/1.0 400\r\n\r\n", 16), 16);
	close(fd[1]);
	for (i = 0; i < 10; i++) {
		io = tls_handshake(conn);
		if (io != TLS_IO_WANT_READ)
			break;
	}
	ck_assert_int_eq(io, TLS_IO_FATAL);
	tls_conn_failure(conn, &f);
	ck_assert_int_eq(f.side, POL_SIDE_NONE);
	ck_assert_int_eq(f.code, POL_OK);
	ck_assert_int_eq(f.depth, -1);
	ck_assert(f.message[0] != '\0');
	ck_assert(!tls_conn_verify(conn)->have_cert);
	tls_conn_free(conn);
	tls_ctx_free(ctx);
	close(fd[0]);
}
END_TEST

START_TEST(test_failure_closed)
{
	struct tls_config c = node_cfg(pki_dir, "nodeb");
	struct tls_ctx *ctx = NULL;
	struct tls_conn *conn = NULL;
	struct tls_failure f;
	char err[EKL_ERRLEN] = "";
	int fd[2];

	ck_assert(tls_ctx_new(&c, &ctx, err) == 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	set_nonblock(fd[0]);
	ck_assert(
	    tls_conn_new(ctx, fd[0], POL_SIDE_ACCEPTOR, NULL, &conn, err) == 0);
	close(fd[1]);
	ck_assert_int_eq(tls_handshake(conn), TLS_IO_FATAL);
	tls_conn_failure(conn, &f);
	ck_assert_int_eq(f.side, POL_SIDE_NONE);
	ck_assert_int_eq(f.code, POL_OK);
	ck_assert(f.message[0] != '\0');
	tls_conn_free(conn);
	tls_ctx_free(ctx);
	close(fd[0]);
}
END_TEST

/* ---- tls_alert_code ---- */

START_TEST(test_alert_code)
{
	ck_assert_int_eq(tls_alert_code(48, POL_SIDE_INITIATOR), POL_UNTRUSTED);
	ck_assert_int_eq(tls_alert_code(45, POL_SIDE_ACCEPTOR), POL_EXPIRED);
	ck_assert_int_eq(tls_alert_code(42, POL_SIDE_ACCEPTOR),
			 POL_NOT_YET_VALID);
	ck_assert_int_eq(tls_alert_code(46, POL_SIDE_INITIATOR),
			 POL_NAME_MISMATCH);
	ck_assert_int_eq(tls_alert_code(43, POL_SIDE_INITIATOR),
			 POL_SERVER_PURPOSE);
	ck_assert_int_eq(tls_alert_code(43, POL_SIDE_ACCEPTOR),
			 POL_CLIENT_PURPOSE);
	ck_assert_int_eq(tls_alert_code(116, POL_SIDE_ACCEPTOR),
			 POL_NO_CERTIFICATE);
	/* handshake_failure also means "no shared cipher": no code. */
	ck_assert_int_eq(tls_alert_code(40, POL_SIDE_ACCEPTOR), POL_OK);
	ck_assert_int_eq(tls_alert_code(0, POL_SIDE_ACCEPTOR), POL_OK);
	ck_assert_int_eq(tls_alert_code(80, POL_SIDE_INITIATOR), POL_OK);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc;

	tc = tcase_create("tls_handshake");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_read_ahead);
	tcase_add_test(tc, test_untrusted);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_not_yet_valid);
	tcase_add_test(tc, test_name_mismatch);
	tcase_add_test(tc, test_server_purpose);
	tcase_add_test(tc, test_client_purpose);
	tcase_add_test(tc, test_no_certificate);
	tcase_add_test(tc, test_x154_service);
	tcase_add_test(tc, test_skipped_purpose_hides_nothing);
	tcase_add_test(tc, test_x155_client_cert);
	tcase_add_test(tc, test_permissive);
	tcase_add_test(tc, test_external_peers);
	tcase_add_test(tc, test_switch_per_service);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_verify_chain");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chain_purpose_table);
	tcase_add_test(tc, test_chain_mra);
	tcase_add_test(tc, test_chain_other_codes);
	tcase_add_test(tc, test_chain_bad_input);
	tcase_add_test(tc, test_chain_ctx_store);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_ctx_new");
	tcase_add_test(tc, test_ctx_ok);
	tcase_add_test(tc, test_ctx_key_mode);
	tcase_add_test(tc, test_ctx_key_mismatch);
	tcase_add_test(tc, test_ctx_missing_files);
	tcase_add_test(tc, test_ctx_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_conn_failure");
	tcase_add_test(tc, test_failure_not_a_certificate);
	tcase_add_test(tc, test_failure_closed);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_alert_code");
	tcase_add_test(tc, test_alert_code);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (make_pkis() != 0)
		return EXIT_FAILURE;
	return tu_run(tls_suite());
}
