/* matrix.c: the live truth table: real handshakes vs the policy model.
 *
 * Every case is one directed connection between an initiator and an
 * acceptor, each configured like an ekunode (version, verify mode, X15.5
 * settings) or like an external peer (kind, verify, checks_client_eku),
 * with certificates from a lab PKI made for the run. The prediction comes
 * from pol_decide() fed with certificate facts read back from the very
 * files (certinfo); the observation comes from a real TLS handshake over
 * loopback TCP through the daemon's own TLS code (tls.h). A case agrees
 * when both say the same: ok, or the same rejecting side, code and (for
 * purpose errors) depth, and the other side learned that same code from
 * the TLS alert, as a node's link table would show it.
 *
 * MRA cases run the traversal handshake and then the SIP SERVICE exchange
 * over it: E sends its certificate chain (its PEM file) in a message, C
 * checks it with tls_verify_chain() under pol_rules(C, initiator, mra) and
 * answers with the code, which is how E learns it.
 *
 * Who dials in a zone service is the policy's (pol_may_initiate): the
 * generators ask it which directions exist, and every case is checked
 * against it before it runs.
 */
#include "matrix.h"

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#include "matrix_int.h"

/* ---- certificates --------------------------------------------------- */

struct mx_env {
	char dir[256];
	char pki[300];
	char other[300];
	char ca_file[320];
	X509_STORE *store;
	/* The PKI's files parsed once for every TLS context. */
	struct tls_files *files;
	int64_t now;
	/* Facts per certificate file, read once; each allocated apart so
	 * that a pointer to one stays valid while the list grows. */
	struct fact {
		char path[400];
		struct pol_chain chain;
	} * *facts;
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
	struct fact *f;
	size_t i;

	if (path[0] == '\0')
		return &empty;
	for (i = 0; i < e->n_facts; i++)
		if (strcmp(e->facts[i]->path, path) == 0)
			return &e->facts[i]->chain;
	if (e->n_facts == e->cap_facts) {
		size_t cap = e->cap_facts ? e->cap_facts * 2 : 64;
		struct fact **nf = ekl_realloc(e->facts, cap * sizeof(*nf));

		if (nf == NULL)
			return NULL;
		e->facts = nf;
		e->cap_facts = cap;
	}
	f = ekl_calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (certinfo_chain_file(path, e->store, &f->chain, err) != 0) {
		ekl_free(f);
		return NULL;
	}
	e->facts[e->n_facts++] = f;
	return &f->chain;
}

/* ---- prediction --------------------------------------------------- */

/* The policy's view of one side (chains left NULL): the same for the
 * prediction and for the rules the live MRA check runs with. */
static int node_of(const struct mx_side *s, struct pol_node *n, char *err)
{
	memset(n, 0, sizeof(*n));
	n->kind = s->kind;
	n->role = s->role;
	n->mode = s->mode;
	n->client_eku_check = s->client_eku_check;
	memcpy(n->client_eku_service, s->client_eku_service,
	       sizeof(n->client_eku_service));
	n->checks_client_eku = s->checks_client_eku;
	if (pol_kind_external(s->kind))
		return 0;
	if (pol_version_parse(s->version, &n->version) != 0)
		return ekl_errf(err, EKL_EVERSION, "bad version '%s' in case",
				s->version != NULL ? s->version : "(none)");
	return 0;
}

static int predict(struct mx_env *e, struct mx_case *c, char *err)
{
	char icert[400], iclient[400], acert[400], aclient[400];
	struct pol_node ini, acc;
	struct pol_conn conn;
	struct pol_verdict v;
	const char *accepts[] = {MX_INI_NAME};
	int rv;

	if ((rv = side_files(e, &c->ini, true, icert, iclient, 400, err)) ||
	    (rv = side_files(e, &c->acc, false, acert, aclient, 400, err)) ||
	    (rv = node_of(&c->ini, &ini, err)) ||
	    (rv = node_of(&c->acc, &acc, err)))
		return rv;
	if (!pol_may_initiate(c->service, &ini, &acc))
		return ekl_errf(err, EKL_EINVAL,
				"case %s/%s: the policy says %s does not "
				"initiate %s to %s",
				c->group, pol_service_name(c->service),
				pol_kind_name(ini.kind),
				pol_service_name(c->service),
				pol_kind_name(acc.kind));
	ini.server_chain = facts(e, icert, err);
	ini.client_chain = c->ini.has_client ? facts(e, iclient, err) : NULL;
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
	struct pol_rules ra, ri;
	struct pol_node n;
	struct tls_config tc;
	size_t i;

	if (side_files(e, s, ini, cert, client, 400, err) != 0 ||
	    node_of(s, &n, err) != 0)
		return NULL;
	/* One context per distinct endpoint: what it presents and the rules
	 * it enforces on both sides (settings that give the same rules, say
	 * the neighbour and b2b zones, share it). */
	pol_rules(&n, POL_SIDE_ACCEPTOR, pol_service_handshake(svc), &ra);
	pol_rules(&n, POL_SIDE_INITIATOR, pol_service_handshake(svc), &ri);
	snprintf(k, sizeof(k), "%d|%d|%d|%d%d%d%u|%d%d%d%u|%.250s|%.250s", ini,
		 pol_kind_external(n.kind), n.version, ra.verify,
		 ra.require_cert, ra.check_purpose, ra.purpose, ri.verify,
		 ri.require_cert, ri.check_purpose, ri.purpose, cert, client);
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
	/* The endpoint's settings as the policy sees them (node_of). */
	memset(&tc, 0, sizeof(tc));
	tc.version = n.version;
	tc.mode = n.mode;
	tc.client_eku_check = n.client_eku_check;
	tc.kind = n.kind;
	tc.checks_client_eku = n.checks_client_eku;
	memcpy(tc.client_eku_service, n.client_eku_service,
	       sizeof(tc.client_eku_service));
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
	tc.files = e->files;
	snprintf(e->ctxs[e->n_ctxs].key, sizeof(e->ctxs[0].key), "%s", k);
	if (tls_ctx_new(&tc, &e->ctxs[e->n_ctxs].ctx, err) != 0)
		return NULL;
	return e->ctxs[e->n_ctxs++].ctx;
}

/* ---- the exchange after the handshake ------------------------------- */

/* Every message is a frame: u32 big-endian length, then the payload. A
 * plain case exchanges a ping and a pong, so that a TLS 1.3 initiator
 * learns of the acceptor's rejection. An MRA case plays the SIP SERVICE
 * exchange on the traversal connection: C pings, E answers with its
 * certificate chain, C checks it and answers with the code. */
#define MSG_MAX (TLS_CHAIN_MAX_BYTES + 4)

enum op { OP_SEND, OP_RECV };

static const enum op ini_plain[] = {OP_SEND, OP_RECV};
static const enum op acc_plain[] = {OP_RECV, OP_SEND};
static const enum op ini_mra[] = {OP_SEND, OP_RECV, OP_SEND};
static const enum op acc_mra[] = {OP_RECV, OP_SEND, OP_RECV};

/* One end's progress: handshake, then its script of frames. */
enum end_phase { END_HS, END_IO, END_DONE, END_FAILED };

struct exchange;

struct end {
	int fd;
	struct tls_conn *tls;
	enum end_phase phase;
	bool is_ini;
	const enum op *ops;
	int n_ops;
	int op;
	unsigned char *buf; /* the frame being sent or received */
	size_t len;	    /* its length (send), or bytes wanted (recv) */
	size_t off;	    /* bytes moved so far */
	bool loaded;	    /* buf holds the frame to send */
	short want;	    /* POLLIN / POLLOUT */
	struct exchange *x;
};

/* What the two ends of an MRA case share. */
struct exchange {
	bool mra;
	const unsigned char *chain; /* E's chain (its PEM file) */
	size_t chain_len;
	struct tls_chain_check check; /* C's check of it */
	struct tls_verify msg;	      /* C's result */
	int msg_rv;		      /* 0, or why the chain was unreadable */
	bool checked;		      /* C has checked the message */
	enum pol_code e_learned;      /* the code C answered E with */
	bool answered;
	char err[EKL_ERRLEN];
};

/* The payload an end sends for its current step. */
static void produce(struct end *x, const unsigned char **p, size_t *n)
{
	static const unsigned char ping[] = "p";
	const struct exchange *ex = x->x;
	const char *answer;

	*p = ping;
	*n = 1;
	if (!ex->mra || x->op == 0)
		return;
	if (!x->is_ini) { /* E: the SIP SERVICE message */
		*p = ex->chain;
		*n = ex->chain_len;
		return;
	}
	/* C: its answer to the message names the code ("ok" when it
	 * accepted the chain, "error" when it could not read it). */
	answer = ex->msg_rv != 0    ? "error"
		 : ex->msg.rejected ? pol_code_name(ex->msg.code)
				    : "ok";
	*p = (const unsigned char *)answer;
	*n = strlen(answer);
}

/* A frame has arrived. */
static void consume(struct end *x, const unsigned char *p, size_t n)
{
	struct exchange *ex = x->x;
	char text[32];

	if (!ex->mra || x->op == 0)
		return;
	if (x->is_ini) { /* C checks E's chain */
		ex->msg_rv =
		    tls_verify_chain(&ex->check, p, n, &ex->msg, ex->err);
		ex->checked = true;
		return;
	}
	snprintf(text, sizeof(text), "%.*s", (int)(n < 31 ? n : 31),
		 (const char *)p);
	ex->answered = true;
	if (pol_code_parse(text, &ex->e_learned) != 0)
		ex->e_learned = POL_OK;
}

static void frame_load(struct end *x)
{
	const unsigned char *p;
	size_t n;

	produce(x, &p, &n);
	if (n > MSG_MAX - 4)
		n = MSG_MAX - 4;
	x->buf[0] = (unsigned char)(n >> 24);
	x->buf[1] = (unsigned char)(n >> 16);
	x->buf[2] = (unsigned char)(n >> 8);
	x->buf[3] = (unsigned char)n;
	memcpy(x->buf + 4, p, n);
	x->len = n + 4;
	x->off = 0;
	x->loaded = true;
}

/* One step of the script; true when the step is complete. */
static enum tls_io io_step(struct end *x, bool *complete)
{
	enum tls_io r;
	size_t n = 0;

	*complete = false;
	if (x->ops[x->op] == OP_SEND) {
		if (!x->loaded)
			frame_load(x);
		r = tls_write(x->tls, x->buf + x->off, x->len - x->off, &n);
		if (r != TLS_IO_OK)
			return r;
		x->off += n;
		*complete = x->off == x->len;
		return r;
	}
	if (x->off < 4)
		x->len = 4;
	r = tls_read(x->tls, x->buf + x->off, x->len - x->off, &n);
	if (r != TLS_IO_OK)
		return r;
	x->off += n;
	if (x->off == 4 && x->len == 4) {
		size_t body = (size_t)x->buf[0] << 24 |
			      (size_t)x->buf[1] << 16 | (size_t)x->buf[2] << 8 |
			      x->buf[3];

		if (body > MSG_MAX - 4)
			return TLS_IO_FATAL;
		x->len = 4 + body;
	}
	if (x->off >= 4 && x->off == x->len) {
		consume(x, x->buf + 4, x->len - 4);
		*complete = true;
	}
	return r;
}

static void end_step(struct end *x)
{
	enum tls_io r = TLS_IO_OK;
	bool complete;

	for (;;) {
		switch (x->phase) {
		case END_HS:
			r = tls_handshake(x->tls);
			if (r == TLS_IO_OK)
				x->phase = END_IO;
			break;
		case END_IO:
			r = io_step(x, &complete);
			if (r == TLS_IO_OK && complete) {
				x->loaded = false;
				x->off = 0;
				x->len = 0;
				if (++x->op == x->n_ops)
					x->phase = END_DONE;
			}
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

/* The MRA exchange's inputs: E's chain as it sends it (its PEM file), and
 * C's check of it: C's trust bundle, time, expected name and the rules the
 * policy gives C for mra. */
static int mra_setup(struct mx_env *e, const struct mx_case *c,
		     struct exchange *x, unsigned char **chain,
		     struct pol_rules *rules, char *err)
{
	char cert[400], client[400];
	struct pol_node cn;
	FILE *f;
	size_t n;
	int rv;

	if ((rv = side_files(e, &c->acc, false, cert, client, 400, err)) ||
	    (rv = node_of(&c->ini, &cn, err)))
		return rv;
	pol_rules(&cn, POL_SIDE_INITIATOR, POL_SVC_MRA, rules);
	*chain = ekl_malloc(TLS_CHAIN_MAX_BYTES);
	if (*chain == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	f = fopen(cert, "rb");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", cert, strerror(errno));
	n = fread(*chain, 1, TLS_CHAIN_MAX_BYTES, f);
	fclose(f);
	x->mra = true;
	x->chain = *chain;
	x->chain_len = n;
	x->check.store = e->store;
	x->check.at = e->now;
	x->check.rules = rules;
	x->check.names = &c->ini_expects;
	x->check.n_names = 1;
	return 0;
}

/* Frame buffers of the two ends, allocated once per worker. */
struct bufs {
	unsigned char *b[2];
};

static int observe(struct mx_env *e, int lfd, struct bufs *bufs,
		   struct mx_case *c, char *err)
{
	struct tls_ctx *ictx = ctx_for(e, &c->ini, true, c->service, err);
	struct tls_ctx *actx =
	    ictx ? ctx_for(e, &c->acc, false, c->service, err) : NULL;
	struct end ends[2];
	struct exchange x;
	struct pol_rules mra_rules;
	unsigned char *chain = NULL;
	struct tls_failure fi, fa;
	const struct tls_verify *vi;
	int rounds, rv, i;

	if (actx == NULL)
		return EKL_ETLS;
	memset(ends, 0, sizeof(ends));
	memset(&x, 0, sizeof(x));
	ends[0].fd = ends[1].fd = -1;
	if (c->service == POL_SVC_MRA &&
	    (rv = mra_setup(e, c, &x, &chain, &mra_rules, err)) != 0)
		goto out;
	for (i = 0; i < 2; i++) {
		ends[i].is_ini = i == 0;
		ends[i].x = &x;
		ends[i].ops = x.mra ? (i == 0 ? ini_mra : acc_mra)
				    : (i == 0 ? ini_plain : acc_plain);
		ends[i].n_ops = x.mra ? 3 : 2;
		ends[i].buf = bufs->b[i];
	}
	rv = loopback_pair(lfd, &ends[0].fd, &ends[1].fd, err);
	if (rv != 0)
		goto out;
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
		/* Finished when each end is done or failed. */
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
	} else if (x.mra && x.checked && x.msg_rv != 0) {
		snprintf(c->detail, sizeof(c->detail),
			 "C could not read E's SIP SERVICE chain: %.150s",
			 x.err);
	} else if (x.mra && x.checked && x.msg.rejected &&
		   ends[0].phase == END_DONE && ends[1].phase == END_DONE) {
		/* C rejected E's certificate in the message; E learned the
		 * code from C's answer. */
		c->observed.side = POL_SIDE_INITIATOR;
		c->observed.code = x.msg.code;
		c->observed.depth = x.msg.depth;
		c->peer_saw = x.answered ? x.e_learned : POL_OK;
		snprintf(c->detail, sizeof(c->detail),
			 "C rejected E's SIP SERVICE certificate: %s at depth "
			 "%d",
			 pol_code_name(x.msg.code), x.msg.depth);
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
		if (ends[i].fd >= 0)
			close(ends[i].fd);
	}
	ekl_free(chain);
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
	    (rv = pki_init(e->other, false, err)) != 0 ||
	    (rv = tls_files_new(&e->files, err)) != 0)
		return rv;
	return certinfo_load_store(e->ca_file, &e->store, err);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 &&
	       errno != ENOENT;
}

static void env_close(struct mx_env *e)
{
	size_t i;

	for (i = 0; i < e->n_ctxs; i++)
		tls_ctx_free(e->ctxs[i].ctx);
	ekl_free(e->ctxs);
	tls_files_free(e->files);
	for (i = 0; i < e->n_facts; i++)
		ekl_free(e->facts[i]);
	ekl_free(e->facts);
	X509_STORE_free(e->store);
	if (e->dir[0] != '\0' &&
	    nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "ekulab: could not remove %s: %s\n", e->dir,
			strerror(errno));
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

/* Cases are handed out in chunks from a counter the workers share, so
 * that a worker slowed down by the rest of the machine takes fewer. */
#define CHUNK 8

static int run_slice(struct mx_env *e, struct mx_case *cases, size_t n,
		     size_t *next, int out_fd, char *err)
{
	struct bufs bufs = {{NULL, NULL}};
	int lfd = -1, rv;
	size_t i, start;

	rv = listener(&lfd, err);
	if (rv != 0)
		return rv;
	bufs.b[0] = ekl_malloc(MSG_MAX);
	bufs.b[1] = ekl_malloc(MSG_MAX);
	if (bufs.b[0] == NULL || bufs.b[1] == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	while ((start = __atomic_fetch_add(next, CHUNK, __ATOMIC_RELAXED)) <
	       n) {
		for (i = start; i < n && i < start + CHUNK; i++) {
			struct wire w;

			memset(&w, 0, sizeof(w));
			w.rv = observe(e, lfd, &bufs, &cases[i], err);
			w.idx = (unsigned)i;
			w.observed = cases[i].observed;
			w.peer_saw = cases[i].peer_saw;
			memcpy(w.detail, w.rv ? err : cases[i].detail,
			       sizeof(w.detail) - 1);
			if (write(out_fd, &w, sizeof(w)) != sizeof(w))
				goto out;
		}
	}
out:
	ekl_free(bufs.b[0]);
	ekl_free(bufs.b[1]);
	close(lfd);
	return rv;
}

int mx_run(struct mx_run *r, int jobs, char *err)
{
	return mx_run_progress(r, jobs, NULL, err);
}

int mx_run_progress(struct mx_run *r, int jobs, FILE *progress, char *err)
{
	struct mx_case_list l = {NULL, 0, 0};
	struct timespec t0, t1;
	struct mx_env e;
	size_t *next = MAP_FAILED; /* the next case to hand out (shared) */
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
	if ((rv = mx_cases_build(&l)) != 0) {
		ekl_errf(err, rv, "out of memory");
		goto out;
	}
	/* Predict first: this also issues every certificate, so the workers
	 * only read files. Then build every TLS context once, here: the
	 * workers inherit them instead of each building its own. */
	for (i = 0; i < l.n; i++)
		if ((rv = predict(&e, &l.v[i], err)) != 0)
			goto out;
	for (i = 0; i < l.n; i++)
		if (ctx_for(&e, &l.v[i].ini, true, l.v[i].service, err) ==
			NULL ||
		    ctx_for(&e, &l.v[i].acc, false, l.v[i].service, err) ==
			NULL) {
			rv = EKL_ETLS;
			goto out;
		}
	next = mmap(NULL, sizeof(*next), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (next == MAP_FAILED) {
		rv = ekl_errf(err, EKL_ENOMEM, "mmap: %s", strerror(errno));
		goto out;
	}
	*next = 0;
	if (pipe(pfd) != 0) {
		rv = ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	for (k = 0; k < jobs; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(pfd[0]);
			rv = run_slice(&e, l.v, l.n, next, pfd[1], err);
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
		if (progress != NULL && (got % 64 == 0 || got == l.n)) {
			fprintf(progress, "\rmatrix: %zu of %zu handshakes",
				got, l.n);
			fflush(progress);
		}
	}
	if (progress != NULL) {
		fputs("\r\033[K", progress); /* the line goes away */
		fflush(progress);
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
	if (next != MAP_FAILED)
		munmap(next, sizeof(*next));
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
