/* matrix.c: the live truth table: real handshakes vs the policy model.
 *
 * Every case is one directed connection between an initiator and an
 * acceptor, each configured like an ekunode (version, verify mode, X15.5
 * settings, certificates from a lab PKI made for the run). The prediction
 * comes from pol_decide() fed with certificate facts read back from the
 * very files (certinfo); the observation comes from a real TLS handshake
 * over loopback TCP through the daemon's own TLS code (tls.h). A case
 * agrees when both say the same: ok, or the same rejecting side, code and
 * (for purpose errors) depth, and the other side learned that same code
 * from the TLS alert, as a node's link table would show it.
 */
#include "matrix.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/tls.h"

#define MX_INI_NAME "initiator"
#define MX_ACC_NAME "acceptor"

static const char *const versions[] = {"X14.3.7", "X15.3.2", "X15.4", "X15.5"};
static const enum pki_profile leaf_profiles[] = {
    PKI_PROFILE_COMBINED, PKI_PROFILE_SERVER_ONLY, PKI_PROFILE_CLIENT_ONLY,
    PKI_PROFILE_NO_EKU};
static const enum pki_ca issuing[] = {PKI_CA_UNRESTRICTED, PKI_CA_SERVER_ONLY};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- case list ---------------------------------------------------- */

struct case_list {
	struct mx_case *v;
	size_t n;
	size_t cap;
};

static int push(struct case_list *l, const struct mx_case *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct mx_case *nv = ekl_realloc(l->v, cap * sizeof(*nv));

		if (nv == NULL)
			return EKL_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return 0;
}

static struct mx_side side(const char *version, enum pol_mode mode,
			   enum pki_profile p, enum pki_ca ca)
{
	struct mx_side s;

	memset(&s, 0, sizeof(s));
	s.version = version;
	s.mode = mode;
	s.client_eku_check = true;
	s.profile = p;
	s.ca = ca;
	return s;
}

static struct mx_case mkcase(const char *group, struct mx_side ini,
			     struct mx_side acc, enum pol_service svc)
{
	struct mx_case c;

	memset(&c, 0, sizeof(c));
	c.group = group;
	c.ini = ini;
	c.acc = acc;
	c.service = svc;
	c.ini_expects = MX_ACC_NAME;
	return c;
}

/* The cross product the issue asks for: version x version x mode x leaf
 * profile x issuing CA, for each side. One flat index, decoded digit by
 * digit (mixed radix), keeps the seven dimensions readable. */
static int gen_cross(struct case_list *l)
{
	static const enum pol_mode modes[] = {POL_ENFORCE, POL_PERMISSIVE};
	const size_t nv = ARRAY_LEN(versions), np = ARRAY_LEN(leaf_profiles),
		     nc = ARRAY_LEN(issuing);
	size_t total = ARRAY_LEN(modes) * nv * nv * np * nc * np * nc, i;
	int rv;

	for (i = 0; i < total; i++) {
		size_t k = i, ac, ap, ic, ip, av, iv, m;
		struct mx_case c;

		ac = k % nc, k /= nc;
		ap = k % np, k /= np;
		ic = k % nc, k /= nc;
		ip = k % np, k /= np;
		av = k % nv, k /= nv;
		iv = k % nv, k /= nv;
		m = k;
		c = mkcase("cross",
			   side(versions[iv], modes[m], leaf_profiles[ip],
				issuing[ic]),
			   side(versions[av], modes[m], leaf_profiles[ap],
				issuing[ac]),
			   POL_SVC_CLUSTERDB);
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* X15.5: client certificate absent or present (several profiles), the
 * acceptor's client EKU check on or off, for ClusterDB and for another
 * mTLS service (where the switch is what matters). */
static int gen_x155(struct case_list *l)
{
	static const int clients[] = {-1, PKI_PROFILE_CLIENT_ONLY,
				      PKI_PROFILE_COMBINED,
				      PKI_PROFILE_SERVER_ONLY};
	static const char *const acc_versions[] = {"X15.3.2", "X15.4", "X15.5"};
	static const enum pki_profile servers[] = {PKI_PROFILE_COMBINED,
						   PKI_PROFILE_SERVER_ONLY};
	static const enum pol_service svcs[] = {POL_SVC_CLUSTERDB,
						POL_SVC_MTLS};
	const size_t nav = ARRAY_LEN(acc_versions), ncl = ARRAY_LEN(clients),
		     ns = ARRAY_LEN(servers), nsv = ARRAY_LEN(svcs);
	size_t total = nav * ncl * ns * ns * 2 * nsv, i;
	int rv;

	for (i = 0; i < total; i++) {
		size_t k = i, sv, chk, as, is, cl, av;
		struct mx_side ini, acc;
		struct mx_case c;

		sv = k % nsv, k /= nsv;
		chk = k % 2, k /= 2;
		as = k % ns, k /= ns;
		is = k % ns, k /= ns;
		cl = k % ncl, k /= ncl;
		av = k;
		ini = side("X15.5", POL_ENFORCE, servers[is],
			   PKI_CA_UNRESTRICTED);
		acc = side(acc_versions[av], POL_ENFORCE, servers[as],
			   PKI_CA_UNRESTRICTED);
		if (clients[cl] >= 0) {
			ini.has_client = true;
			ini.client_profile = (enum pki_profile)clients[cl];
		}
		acc.client_eku_check = chk == 0;
		c = mkcase("x15.5", ini, acc, svcs[sv]);
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* Every other code, live: untrusted, expired, not-yet-valid,
 * name-mismatch, no-certificate, anyExtendedKeyUsage, the combined CA. */
#define EDGE_CASES 14

/* Edge case k on top of two combined-certificate sides. */
static void edge_case(int k, struct mx_side *ini, struct mx_side *acc,
		      enum pol_service *svc, const char **expects)
{
	switch (k) {
	case 0: ini->other_pki = true; break;
	case 1: acc->other_pki = true; break;
	case 2: ini->expired = true; break;
	case 3: acc->expired = true; break;
	case 4: ini->not_yet = true; break;
	case 5: acc->not_yet = true; break;
	case 6: *expects = "someone-else"; break;
	case 7: ini->no_cert = true; break;
	case 8: ini->profile = PKI_PROFILE_ANY_EKU; break;
	case 9: acc->profile = PKI_PROFILE_ANY_EKU; break;
	case 10:
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		ini->ca = PKI_CA_COMBINED;
		break;
	case 11:
		acc->profile = PKI_PROFILE_CLIENT_ONLY;
		acc->ca = PKI_CA_COMBINED;
		break;
	case 12:
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		*svc = POL_SVC_MTLS;
		break;
	case 13:
		/* Two problems: the initiator's check comes first. */
		ini->profile = PKI_PROFILE_SERVER_ONLY;
		acc->profile = PKI_PROFILE_CLIENT_ONLY;
		break;
	}
}

static int gen_edge(struct case_list *l)
{
	static const char *const vs[] = {"X15.3.2", "X15.4"};
	static const enum pol_mode modes[] = {POL_ENFORCE, POL_PERMISSIVE};
	size_t total = ARRAY_LEN(modes) * ARRAY_LEN(vs) * EDGE_CASES, i;
	int rv;

	for (i = 0; i < total; i++) {
		int k = (int)(i % EDGE_CASES);
		size_t v = (i / EDGE_CASES) % ARRAY_LEN(vs);
		size_t m = i / EDGE_CASES / ARRAY_LEN(vs);
		struct mx_side ini = side(vs[v], modes[m], PKI_PROFILE_COMBINED,
					  PKI_CA_UNRESTRICTED);
		struct mx_side acc = side(vs[v], modes[m], PKI_PROFILE_COMBINED,
					  PKI_CA_UNRESTRICTED);
		enum pol_service svc = POL_SVC_CLUSTERDB;
		const char *expects = MX_ACC_NAME;
		struct mx_case c;

		edge_case(k, &ini, &acc, &svc, &expects);
		c = mkcase("edge", ini, acc, svc);
		c.ini_expects = expects;
		if ((rv = push(l, &c)) != 0)
			return rv;
	}
	return 0;
}

/* ---- certificates --------------------------------------------------- */

struct mx_env {
	char dir[256];
	char pki[300];
	char other[300];
	char ca_file[320];
	X509_STORE *store;
	int64_t now;
	/* Facts per certificate file, read once. */
	struct fact {
		char path[400];
		struct pol_chain chain;
	} * facts;
	size_t n_facts;
	size_t cap_facts;
	/* TLS contexts per side configuration, built once per process. */
	struct ctx_entry {
		char key[600];
		struct tls_ctx *ctx;
	} * ctxs;
	size_t n_ctxs;
	size_t cap_ctxs;
};

void mx_cert_label(const struct mx_side *s, char *buf, size_t len)
{
	static const char *ca_short[] = {"u", "so", "c"};

	snprintf(buf, len, "%s/%s%s%s%s", pki_profile_name(s->profile),
		 ca_short[s->ca], s->other_pki ? "/other-pki" : "",
		 s->expired ? "/expired" : "", s->not_yet ? "/not-yet" : "");
}

/* The certificate file a side presents as server, issued on first use. */
static int cert_file(struct mx_env *e, const char *who, enum pki_profile p,
		     enum pki_ca ca, bool other, bool expired, bool not_yet,
		     char *path, size_t len, char *err)
{
	struct pki_leaf_opts o;
	char name[96];
	const char *dir = other ? e->other : e->pki;
	int rv;

	snprintf(name, sizeof(name), "%s-%s-%s%s%s", who, pki_profile_name(p),
		 pki_ca_name(ca), expired ? "-expired" : "",
		 not_yet ? "-notyet" : "");
	snprintf(path, len, "%.200s/%.90s.crt", dir, name);
	if (access(path, R_OK) == 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = p;
	o.ca = ca;
	o.sans[0] = who[0] == 'i' ? MX_INI_NAME : MX_ACC_NAME;
	o.n_sans = 1;
	o.key = PKI_KEY_EC_P256;
	if (expired) {
		o.not_before = e->now - 30 * 86400;
		o.not_after = e->now - 86400;
	} else if (not_yet) {
		o.not_before = e->now + 86400;
		o.not_after = e->now + 30 * 86400;
	}
	rv = pki_issue(dir, &o, err);
	return rv;
}

static int side_files(struct mx_env *e, const struct mx_side *s, bool ini,
		      char *cert, char *client, size_t len, char *err)
{
	int rv;

	cert[0] = client[0] = '\0';
	if (!s->no_cert) {
		rv = cert_file(e, ini ? "i" : "a", s->profile, s->ca,
			       s->other_pki, s->expired, s->not_yet, cert, len,
			       err);
		if (rv != 0)
			return rv;
	}
	if (s->has_client) {
		rv = cert_file(e, "ic", s->client_profile, PKI_CA_UNRESTRICTED,
			       false, false, false, client, len, err);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static void key_of(const char *crt, char *key, size_t len)
{
	size_t n = strlen(crt);

	snprintf(key, len, "%.*s.key", (int)(n - 4), crt);
}

static const struct pol_chain *facts(struct mx_env *e, const char *path,
				     char *err)
{
	static const struct pol_chain empty;
	size_t i;

	if (path[0] == '\0')
		return &empty;
	for (i = 0; i < e->n_facts; i++)
		if (strcmp(e->facts[i].path, path) == 0)
			return &e->facts[i].chain;
	if (e->n_facts == e->cap_facts) {
		size_t cap = e->cap_facts ? e->cap_facts * 2 : 64;
		struct fact *nf = ekl_realloc(e->facts, cap * sizeof(*nf));

		if (nf == NULL)
			return NULL;
		e->facts = nf;
		e->cap_facts = cap;
	}
	snprintf(e->facts[e->n_facts].path, sizeof(e->facts[0].path), "%s",
		 path);
	if (certinfo_chain_file(path, e->store, &e->facts[e->n_facts].chain,
				err) != 0)
		return NULL;
	return &e->facts[e->n_facts++].chain;
}

/* ---- prediction --------------------------------------------------- */

static int predict(struct mx_env *e, struct mx_case *c, char *err)
{
	char icert[400], iclient[400], acert[400], aclient[400];
	struct pol_node ini, acc;
	struct pol_conn conn;
	struct pol_verdict v;
	const char *accepts[] = {MX_INI_NAME};
	int rv;

	if ((rv = side_files(e, &c->ini, true, icert, iclient, 400, err)) ||
	    (rv = side_files(e, &c->acc, false, acert, aclient, 400, err)))
		return rv;
	memset(&ini, 0, sizeof(ini));
	memset(&acc, 0, sizeof(acc));
	if (pol_version_parse(c->ini.version, &ini.version) != 0 ||
	    pol_version_parse(c->acc.version, &acc.version) != 0)
		return ekl_errf(err, EKL_EVERSION, "bad version in case");
	ini.mode = c->ini.mode;
	ini.client_eku_check = c->ini.client_eku_check;
	ini.server_chain = facts(e, icert, err);
	ini.client_chain = c->ini.has_client ? facts(e, iclient, err) : NULL;
	acc.mode = c->acc.mode;
	acc.client_eku_check = c->acc.client_eku_check;
	acc.server_chain = facts(e, acert, err);
	if (ini.server_chain == NULL || acc.server_chain == NULL ||
	    (c->ini.has_client && ini.client_chain == NULL))
		return EKL_EIO;
	memset(&conn, 0, sizeof(conn));
	conn.initiator = &ini;
	conn.acceptor = &acc;
	conn.service = c->service;
	conn.initiator_expects = c->ini_expects;
	conn.acceptor_accepts = accepts;
	conn.n_acceptor_accepts = 1;
	conn.initiator_time = e->now;
	conn.acceptor_time = e->now;
	pol_decide(&conn, &v);
	c->predicted.ok = v.ok;
	c->predicted.side = v.side;
	c->predicted.code = v.code;
	c->predicted.depth = v.depth;
	return 0;
}

/* ---- observation ------------------------------------------------------ */

static struct tls_ctx *ctx_for(struct mx_env *e, const struct mx_side *s,
			       bool ini, enum pol_service svc, char *err)
{
	char cert[400], client[400], key[400], ckey[400], k[600];
	const char *peers[] = {ini ? MX_ACC_NAME : MX_INI_NAME};
	struct tls_config tc;
	size_t i;

	if (side_files(e, s, ini, cert, client, 400, err) != 0)
		return NULL;
	snprintf(k, sizeof(k), "%d|%s|%d|%d|%d|%.280s|%.280s", ini, s->version,
		 s->mode, s->client_eku_check, svc, cert, client);
	for (i = 0; i < e->n_ctxs; i++)
		if (strcmp(e->ctxs[i].key, k) == 0)
			return e->ctxs[i].ctx;
	if (e->n_ctxs == e->cap_ctxs) {
		size_t cap = e->cap_ctxs ? e->cap_ctxs * 2 : 64;
		struct ctx_entry *nc = ekl_realloc(e->ctxs, cap * sizeof(*nc));

		if (nc == NULL)
			return NULL;
		e->ctxs = nc;
		e->cap_ctxs = cap;
	}
	memset(&tc, 0, sizeof(tc));
	if (pol_version_parse(s->version, &tc.version) != 0)
		return NULL;
	tc.mode = s->mode;
	tc.client_eku_check = s->client_eku_check;
	tc.service = svc;
	tc.ca_file = e->ca_file;
	if (s->no_cert) {
		tc.no_cert = true;
		/* A TLS server always needs a certificate: borrow one. */
		if (cert_file(e, "i", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED,
			      false, false, false, cert, sizeof(cert),
			      err) != 0)
			return NULL;
	}
	key_of(cert, key, sizeof(key));
	tc.cert_file = cert;
	tc.key_file = key;
	if (client[0] != '\0') {
		key_of(client, ckey, sizeof(ckey));
		tc.client_cert_file = client;
		tc.client_key_file = ckey;
	}
	tc.peer_names = peers;
	tc.n_peer_names = 1;
	snprintf(e->ctxs[e->n_ctxs].key, sizeof(e->ctxs[0].key), "%s", k);
	if (tls_ctx_new(&tc, &e->ctxs[e->n_ctxs].ctx, err) != 0)
		return NULL;
	return e->ctxs[e->n_ctxs++].ctx;
}

/* One end's progress through handshake then a ping/pong exchange. */
enum end_phase { END_HS, END_SEND, END_RECV, END_DONE, END_FAILED };

struct end {
	int fd;
	struct tls_conn *tls;
	enum end_phase phase;
	bool sends_first; /* initiator: ping then wait for pong */
	bool sent;
	short want; /* POLLIN / POLLOUT */
};

static void end_step(struct end *x)
{
	enum tls_io r = TLS_IO_OK;
	char b[8];
	size_t n = 0;

	for (;;) {
		switch (x->phase) {
		case END_HS:
			r = tls_handshake(x->tls);
			if (r == TLS_IO_OK)
				x->phase = x->sends_first ? END_SEND : END_RECV;
			break;
		case END_SEND:
			r = tls_write(x->tls, "p", 1, &n);
			if (r == TLS_IO_OK) {
				x->sent = true;
				x->phase = x->sends_first ? END_RECV : END_DONE;
			}
			break;
		case END_RECV:
			r = tls_read(x->tls, b, sizeof(b), &n);
			if (r == TLS_IO_OK)
				x->phase = x->sends_first ? END_DONE : END_SEND;
			break;
		case END_DONE:
		case END_FAILED: return;
		}
		if (r == TLS_IO_WANT_READ) {
			x->want = POLLIN;
			return;
		}
		if (r == TLS_IO_WANT_WRITE) {
			x->want = POLLOUT;
			return;
		}
		if (r != TLS_IO_OK) {
			x->phase = END_FAILED;
			/* Make sure the other end stops waiting for us. */
			shutdown(x->fd, SHUT_WR);
			return;
		}
	}
}

static int loopback_pair(int lfd, int *cfd, int *afd, char *err)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int c, a, one = 1;

	if (getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
		return ekl_errf(err, EKL_EIO, "getsockname: %s",
				strerror(errno));
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	if (connect(c, (struct sockaddr *)&sin, sl) != 0 &&
	    errno != EINPROGRESS) {
		close(c);
		return ekl_errf(err, EKL_EIO, "connect: %s", strerror(errno));
	}
	a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (a < 0) {
		struct pollfd p = {lfd, POLLIN, 0};

		poll(&p, 1, 2000);
		a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	if (a < 0) {
		close(c);
		return ekl_errf(err, EKL_EIO, "accept: %s", strerror(errno));
	}
	/* Small TLS records back and forth: Nagle + delayed ACK would add
	 * 40 ms per handshake. */
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*cfd = c;
	*afd = a;
	return 0;
}

static int observe(struct mx_env *e, int lfd, struct mx_case *c, char *err)
{
	struct tls_ctx *ictx = ctx_for(e, &c->ini, true, c->service, err);
	struct tls_ctx *actx =
	    ictx ? ctx_for(e, &c->acc, false, c->service, err) : NULL;
	struct end ends[2];
	struct tls_failure fi, fa;
	const struct tls_verify *vi;
	int rounds, rv, i;

	if (actx == NULL)
		return EKL_ETLS;
	memset(ends, 0, sizeof(ends));
	rv = loopback_pair(lfd, &ends[0].fd, &ends[1].fd, err);
	if (rv != 0)
		return rv;
	ends[0].sends_first = true;
	if ((rv = tls_conn_new(ictx, ends[0].fd, POL_SIDE_INITIATOR,
			       c->ini_expects, &ends[0].tls, err)) != 0 ||
	    (rv = tls_conn_new(actx, ends[1].fd, POL_SIDE_ACCEPTOR, NULL,
			       &ends[1].tls, err)) != 0)
		goto out;
	for (rounds = 0; rounds < 10000; rounds++) {
		struct pollfd p[2];
		int np = 0;

		for (i = 0; i < 2; i++)
			end_step(&ends[i]);
		/* Finished when each end is done or failed, or one failed
		 * and the other has nothing more to learn. */
		if ((ends[0].phase >= END_DONE && ends[1].phase >= END_DONE))
			break;
		for (i = 0; i < 2; i++)
			if (ends[i].phase < END_DONE) {
				p[np].fd = ends[i].fd;
				p[np].events = ends[i].want;
				p[np].revents = 0;
				np++;
			}
		if (poll(p, (nfds_t)np, 2000) == 0)
			break; /* stuck: reported as a transport failure */
	}
	vi = tls_conn_verify(ends[0].tls);
	tls_conn_failure(ends[0].tls, &fi);
	tls_conn_failure(ends[1].tls, &fa);
	memset(&c->observed, 0, sizeof(c->observed));
	c->observed.depth = -1;
	c->peer_saw = POL_OK;
	c->detail[0] = '\0';
	if (vi->rejected) {
		c->observed.side = POL_SIDE_INITIATOR;
		c->observed.code = vi->code;
		c->observed.depth = vi->depth;
		c->peer_saw = fa.code;
		snprintf(c->detail, sizeof(c->detail), "%.190s", fi.message);
	} else if (ends[1].phase == END_FAILED &&
		   fa.side == POL_SIDE_ACCEPTOR && fa.code != POL_OK) {
		c->observed.side = POL_SIDE_ACCEPTOR;
		c->observed.code = fa.code;
		c->observed.depth = fa.depth;
		c->peer_saw = fi.code;
		snprintf(c->detail, sizeof(c->detail), "%.190s", fa.message);
	} else if (ends[0].phase == END_DONE && ends[1].phase == END_DONE) {
		c->observed.ok = true;
	} else {
		snprintf(c->detail, sizeof(c->detail),
			 "transport failure: initiator %.70s / acceptor %.70s",
			 fi.message, fa.message);
	}
out:
	for (i = 0; i < 2; i++) {
		tls_conn_free(ends[i].tls);
		close(ends[i].fd);
	}
	return rv;
}

static bool verdicts_agree(const struct mx_case *c)
{
	const struct mx_verdict *p = &c->predicted, *o = &c->observed;
	bool purpose =
	    p->code == POL_SERVER_PURPOSE || p->code == POL_CLIENT_PURPOSE;

	if (p->ok || o->ok)
		return p->ok == o->ok;
	return p->side == o->side && p->code == o->code &&
	       (!purpose || p->depth == o->depth) && c->peer_saw == o->code;
}

/* ---- running ------------------------------------------------------- */

static int env_init(struct mx_env *e, char *err)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[200];
	int rv;

	memset(e, 0, sizeof(*e));
	/* Files only (no Unix sockets): any $TMPDIR that fits will do. */
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 150)
		tmp = "/tmp";
	snprintf(tmpl, sizeof(tmpl), "%s/ekulab-matrix.XXXXXX", tmp);
	if (mkdtemp(tmpl) == NULL)
		return ekl_errf(err, EKL_EIO, "mkdtemp %s: %s", tmpl,
				strerror(errno));
	snprintf(e->dir, sizeof(e->dir), "%s", tmpl);
	snprintf(e->pki, sizeof(e->pki), "%s/pki", e->dir);
	snprintf(e->other, sizeof(e->other), "%s/other", e->dir);
	snprintf(e->ca_file, sizeof(e->ca_file), "%s/ca.crt", e->pki);
	e->now = (int64_t)time(NULL);
	if ((rv = pki_init(e->pki, false, err)) != 0 ||
	    (rv = pki_init(e->other, false, err)) != 0)
		return rv;
	return certinfo_load_store(e->ca_file, &e->store, err);
}

static void env_close(struct mx_env *e)
{
	char cmd[400];
	size_t i;

	for (i = 0; i < e->n_ctxs; i++)
		tls_ctx_free(e->ctxs[i].ctx);
	ekl_free(e->ctxs);
	ekl_free(e->facts);
	X509_STORE_free(e->store);
	if (e->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "ekulab: could not remove %s\n",
				e->dir);
	}
}

static int listener(int *lfd, char *err)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 16) != 0) {
		close(fd);
		return ekl_errf(err, EKL_EIO, "listen on loopback: %s",
				strerror(errno));
	}
	*lfd = fd;
	return 0;
}

/* What a worker sends back per case. */
struct wire {
	unsigned idx;
	struct mx_verdict observed;
	enum pol_code peer_saw;
	char detail[200];
	int rv;
};

static int run_slice(struct mx_env *e, struct mx_case *cases, size_t n,
		     int jobs, int k, int out_fd, char *err)
{
	int lfd = -1, rv;
	size_t i;

	rv = listener(&lfd, err);
	if (rv != 0)
		return rv;
	for (i = (size_t)k; i < n; i += (size_t)jobs) {
		struct wire w;

		memset(&w, 0, sizeof(w));
		w.rv = observe(e, lfd, &cases[i], err);
		w.idx = (unsigned)i;
		w.observed = cases[i].observed;
		w.peer_saw = cases[i].peer_saw;
		memcpy(w.detail, w.rv ? err : cases[i].detail,
		       sizeof(w.detail) - 1);
		if (out_fd >= 0 && write(out_fd, &w, sizeof(w)) != sizeof(w))
			break;
	}
	close(lfd);
	return 0;
}

int mx_run(struct mx_run *r, int jobs, char *err)
{
	struct case_list l = {NULL, 0, 0};
	struct timespec t0, t1;
	struct mx_env e;
	int pfd[2] = {-1, -1};
	pid_t pids[16];
	size_t i, got = 0;
	int k, rv;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (jobs < 1)
		jobs = 1;
	if (jobs > 16)
		jobs = 16;
	rv = env_init(&e, err);
	if (rv != 0)
		goto out;
	if ((rv = gen_cross(&l)) || (rv = gen_x155(&l)) ||
	    (rv = gen_edge(&l))) {
		ekl_errf(err, rv, "out of memory");
		goto out;
	}
	/* Predict first: this also issues every certificate, so the workers
	 * only read files. */
	for (i = 0; i < l.n; i++)
		if ((rv = predict(&e, &l.v[i], err)) != 0)
			goto out;
	if (pipe(pfd) != 0) {
		rv = ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	for (k = 0; k < jobs; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(pfd[0]);
			rv = run_slice(&e, l.v, l.n, jobs, k, pfd[1], err);
			_exit(rv == 0 ? 0 : 1);
		}
		if (pids[k] < 0) {
			rv =
			    ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
			jobs = k;
			break;
		}
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		struct wire w;
		ssize_t n = read(pfd[0], &w, sizeof(w));

		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(w) || w.idx >= l.n)
			break;
		l.v[w.idx].observed = w.observed;
		l.v[w.idx].peer_saw = w.peer_saw;
		memcpy(l.v[w.idx].detail, w.detail, sizeof(w.detail));
		l.v[w.idx].detail[sizeof(w.detail) - 1] = '\0';
		got++;
	}
	for (k = 0; k < jobs; k++)
		waitpid(pids[k], NULL, 0);
	if (rv == 0 && got != l.n)
		rv = ekl_errf(err, EKL_EIO,
			      "only %zu of %zu cases came back from the "
			      "workers",
			      got, l.n);
	if (rv != 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		l.v[i].agree = verdicts_agree(&l.v[i]);
		if (!l.v[i].agree)
			r->disagreements++;
	}
	r->cases = l.v;
	r->n = l.n;
	l.v = NULL;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	env_close(&e);
	ekl_free(l.v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rv;
}

void mx_run_free(struct mx_run *r)
{
	ekl_free(r->cases);
	r->cases = NULL;
	r->n = 0;
}
