/* labmodel.c: a lab's state, its transitions, and the model's prediction.
 *
 * Invariants:
 *   1. s->n == s->topo->n_nodes <= TOPO_MAX_NODES and s->primary < s->n.
 *   2. Every directed verdict comes from pol_decide() (labmodel_decide);
 *      nothing here restates a certificate rule.
 *   3. A cert's file_facts, when set, points into s->facts (two chains per
 *      node: server then client), owned by the state that loaded them.
 */
#include "labmodel.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
#include "ekulab/core/file.h"
#include "ekulab/core/mem.h"

#define HOUR  INT64_C(3600)
#define DAY   INT64_C(86400)
#define YEARS (INT64_C(365) * DAY)

/* ---- shared with the audit ---- */

static struct pol_cert cert_of(unsigned eku, int64_t nb, int64_t na)
{
	struct pol_cert c;

	c.eku = eku;
	c.not_before = nb;
	c.not_after = na;
	return c;
}

unsigned labmodel_profile_eku(enum pki_profile p)
{
	/* The EKU each pki.h profile carries. */
	switch (p) {
	case PKI_PROFILE_COMBINED:
		return POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT;
	case PKI_PROFILE_SERVER_ONLY: return POL_EKU_EXT | POL_EKU_SERVER;
	case PKI_PROFILE_CLIENT_ONLY: return POL_EKU_EXT | POL_EKU_CLIENT;
	case PKI_PROFILE_NO_EKU: return 0;
	case PKI_PROFILE_ANY_EKU: return POL_EKU_EXT | POL_EKU_ANY;
	}
	return 0;
}

void labmodel_lab_chain(enum pki_profile p, enum pki_ca ca, int64_t from,
			int days, const char *name, struct pol_chain *out)
{
	unsigned leaf = labmodel_profile_eku(p);
	unsigned issuing = 0;
	int64_t nb, na, cnb, cna;

	/* The EKU each issuing CA carries. */
	switch (ca) {
	case PKI_CA_UNRESTRICTED: issuing = 0; break;
	case PKI_CA_SERVER_ONLY: issuing = POL_EKU_EXT | POL_EKU_SERVER; break;
	case PKI_CA_COMBINED:
		issuing = POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT;
		break;
	}
	if (days > 0) {
		nb = from - HOUR;
		na = from + days * DAY;
		cnb = from - DAY;
		cna = from + 20 * YEARS;
	} else {
		nb = cnb = from - 10 * YEARS;
		na = cna = from + 100 * YEARS;
	}
	memset(out, 0, sizeof(*out));
	out->anchored = true;
	out->len = 3;
	out->certs[0] = cert_of(leaf, nb, na);
	out->certs[1] = cert_of(issuing, cnb, cna);
	out->certs[2] = cert_of(0, cnb, cna);
	out->n_dns = 1;
	snprintf(out->dns[0], sizeof(out->dns[0]), "%s", name);
	snprintf(out->cn, sizeof(out->cn), "%s", name);
}

bool labmodel_dials(enum topo_dial dial, const char *from, const char *to,
		    const char *primary)
{
	switch (dial) {
	case TOPO_DIAL_BOTH: return true;
	case TOPO_DIAL_LOWER_NAME: return strcasecmp(from, to) < 0;
	case TOPO_DIAL_PRIMARY: return strcmp(from, primary) == 0;
	}
	return false;
}

static void pol_node_of(const struct lab_peer *p, struct pol_node *out)
{
	memset(out, 0, sizeof(*out));
	out->version = p->vclass;
	out->mode = p->mode;
	out->client_eku_check = p->client_eku_check;
	out->server_chain = p->server;
	out->client_chain = p->client;
}

void labmodel_decide(const struct lab_peer *ini, const struct lab_peer *acc,
		     bool names, const char *const *accepts, size_t n_accepts,
		     int64_t at, struct pol_verdict *out)
{
	struct pol_node in, an;
	struct pol_conn c;

	pol_node_of(ini, &in);
	pol_node_of(acc, &an);
	memset(&c, 0, sizeof(c));
	c.initiator = &in;
	c.acceptor = &an;
	c.service = POL_SVC_CLUSTERDB;
	if (names) {
		c.initiator_expects = acc->name;
		c.acceptor_accepts = accepts;
		c.n_acceptor_accepts = n_accepts;
	}
	c.initiator_time = at;
	c.acceptor_time = at;
	pol_decide(&c, out);
}

/* ---- cuts ---- */

void labmodel_cuts_clear(struct lab_cuts *c)
{
	memset(c, 0, sizeof(*c));
}

void labmodel_cuts_set(struct lab_cuts *c, size_t from, size_t to, bool cut)
{
	uint64_t bit;

	if (from >= TOPO_MAX_NODES || to >= TOPO_MAX_NODES)
		return;
	bit = UINT64_C(1) << to;
	if (cut)
		c->row[from] |= bit;
	else
		c->row[from] &= ~bit;
}

bool labmodel_cuts_has(const struct lab_cuts *c, size_t from, size_t to)
{
	if (from >= TOPO_MAX_NODES || to >= TOPO_MAX_NODES)
		return false;
	return (c->row[from] >> to) & 1u;
}

void labmodel_cuts_add(struct lab_cuts *dst, const struct lab_cuts *src)
{
	size_t i;

	for (i = 0; i < TOPO_MAX_NODES; i++)
		dst->row[i] |= src->row[i];
}

size_t labmodel_cuts_count(const struct lab_cuts *c)
{
	size_t n = 0;
	size_t i;

	for (i = 0; i < TOPO_MAX_NODES; i++)
		n += (size_t)__builtin_popcountll(c->row[i]);
	return n;
}

/* ---- the state ---- */

static void cert_from_topo(const struct topo_cert *tc, int64_t at,
			   struct lab_cert *out)
{
	memset(out, 0, sizeof(*out));
	out->profile = tc->profile;
	out->ca = tc->ca;
	out->days = tc->days;
	out->issued = at;
	out->file = tc->file;
}

void labmodel_init(struct lab_state *s, const struct topo *t, int64_t at)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->topo = t;
	s->n = t->n_nodes < TOPO_MAX_NODES ? t->n_nodes : TOPO_MAX_NODES;
	s->at = at != 0 ? at : (int64_t)time(NULL);
	s->n_ext = t->n_externals;
	if (s->n + s->n_ext > TOPO_MAX_NODES)
		s->n_ext = TOPO_MAX_NODES - s->n;
	for (i = 0; i < s->n_ext; i++) {
		const struct topo_external *x = &t->externals[i];
		struct lab_node_state *ns = &s->nodes[s->n + i];

		cert_from_topo(&x->cert, s->at, &ns->cert);
		ns->has_client_cert = x->has_client_cert;
		if (x->has_client_cert)
			cert_from_topo(&x->client_cert, s->at,
				       &ns->client_cert);
		ns->client_eku_check = x->checks_client_eku;
		ns->verify = x->verify;
		ns->running = true;
	}
	for (i = 0; i < s->n; i++) {
		const struct topo_node *tn = &t->nodes[i];
		struct lab_node_state *ns = &s->nodes[i];

		snprintf(ns->version, sizeof(ns->version), "%s", tn->version);
		ns->vclass = tn->vclass;
		cert_from_topo(&tn->cert, s->at, &ns->cert);
		ns->has_client_cert = tn->has_client_cert;
		if (tn->has_client_cert)
			cert_from_topo(&tn->client_cert, s->at,
				       &ns->client_cert);
		ns->client_eku_check = tn->client_eku_check;
		/* The single-cluster form reads the topology's own fields
		 * (callers such as plan run --dial change them). */
		ns->verify =
		    t->multi ? t->clusters[tn->cluster].verify : t->verify;
		ns->running = true;
		if (strcmp(tn->name, t->primary) == 0)
			s->primary = i;
	}
}

void labmodel_free(struct lab_state *s)
{
	size_t i;

	if (s == NULL || s->facts == NULL)
		return;
	for (i = 0; i < s->n + s->n_ext; i++) {
		s->nodes[i].cert.file_facts = NULL;
		s->nodes[i].client_cert.file_facts = NULL;
	}
	ekl_free(s->facts);
	s->facts = NULL;
}

static int load_one(struct lab_state *s, size_t i, struct lab_cert *c,
		    struct pol_chain *slot, X509_STORE *store, char *err)
{
	char e[EKL_ERRLEN];
	struct stat st;
	int fd;
	int rc;

	if (c->file == NULL)
		return 0;
	/* Not there (yet): the profile/ca model stands. A FIFO is not waited
	 * on: certinfo refuses it as not a regular file. */
	if (file_open_read(c->file, &fd, &st) != 0)
		return 0;
	if (fd >= 0)
		close(fd);
	rc = certinfo_chain_file(c->file, store, slot, e);
	if (rc != 0)
		return ekl_errf(err, rc, "%s %s: certificate file '%s': %s",
				i < s->n ? "node" : "external",
				topo_endpoint_name(s->topo, i), c->file, e);
	if (store == NULL)
		slot->anchored = true; /* the lab trusts its roots */
	c->file_facts = slot;
	return 0;
}

int labmodel_load_files(struct lab_state *s, struct x509_store_st *store,
			char *err)
{
	size_t i;
	int rc;
	bool any = false;
	size_t ne = s->n + s->n_ext;

	for (i = 0; i < ne; i++)
		any |= s->nodes[i].cert.file != NULL ||
		       (s->nodes[i].has_client_cert &&
			s->nodes[i].client_cert.file != NULL);
	if (!any)
		return 0;
	if (s->facts == NULL) {
		s->facts = ekl_calloc(2 * (ne ? ne : 1), sizeof(*s->facts));
		if (s->facts == NULL)
			return ekl_errf(err, EKL_ENOMEM,
					"certificate facts: out of memory");
	}
	for (i = 0; i < ne; i++) {
		struct lab_node_state *ns = &s->nodes[i];

		rc = load_one(s, i, &ns->cert, &s->facts[2 * i], store, err);
		if (rc == 0 && ns->has_client_cert)
			rc = load_one(s, i, &ns->client_cert,
				      &s->facts[2 * i + 1], store, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int labmodel_index(const struct lab_state *s, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->topo->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

int labmodel_endpoint(const struct lab_state *s, const char *name)
{
	int i = topo_endpoint_index(s->topo, name);

	return i >= 0 && (size_t)i < s->n + s->n_ext ? i : -1;
}

static bool endpoint_ok(const struct lab_state *s, size_t i)
{
	return i < s->n + s->n_ext;
}

static void new_cert(struct lab_cert *c, enum pki_profile p, enum pki_ca ca,
		     int days, int64_t at)
{
	memset(c, 0, sizeof(*c));
	c->profile = p;
	c->ca = ca;
	c->days = days > 0 ? days : 0;
	c->issued = at;
}

void labmodel_renew(struct lab_state *s, size_t node, enum pki_profile p,
		    enum pki_ca ca, int days)
{
	if (endpoint_ok(s, node))
		new_cert(&s->nodes[node].cert, p, ca, days, s->at);
}

void labmodel_renew_client(struct lab_state *s, size_t node, enum pki_profile p,
			   enum pki_ca ca, int days)
{
	if (!endpoint_ok(s, node))
		return;
	new_cert(&s->nodes[node].client_cert, p, ca, days, s->at);
	s->nodes[node].has_client_cert = true;
}

void labmodel_xpw_node(const struct lab_state *s, size_t node,
		       struct xpw_node *out)
{
	memset(out, 0, sizeof(*out));
	if (node >= s->n)
		return;
	out->role = s->topo->nodes[node].role;
	out->vclass = s->nodes[node].vclass;
	out->server_eku_upload = s->topo->nodes[node].server_eku_upload;
}

void labmodel_upload(const struct lab_state *s, size_t node, bool client,
		     enum pki_profile p, struct xpw_upload *out)
{
	struct xpw_node x;

	labmodel_xpw_node(s, node, &x);
	xpw_upload(&x, client ? XPW_SLOT_CLIENT : XPW_SLOT_SERVER,
		   labmodel_profile_eku(p), out);
}

int labmodel_upgrade(struct lab_state *s, size_t node, const char *version)
{
	enum pol_vclass v;

	if (node >= s->n || version == NULL ||
	    strlen(version) > TOPO_VERSION_MAX ||
	    pol_version_parse(version, &v) != 0)
		return EKL_EVERSION;
	snprintf(s->nodes[node].version, sizeof(s->nodes[node].version), "%s",
		 version);
	s->nodes[node].vclass = v;
	return 0;
}

void labmodel_set_verify(struct lab_state *s, enum pol_mode mode, int node)
{
	size_t i;

	if (node >= 0) {
		if (endpoint_ok(s, (size_t)node))
			s->nodes[node].verify = mode;
		return;
	}
	for (i = 0; i < s->n; i++)
		s->nodes[i].verify = mode;
}

void labmodel_set_running(struct lab_state *s, size_t node, bool running)
{
	if (endpoint_ok(s, node)) {
		s->nodes[node].running = running;
		s->nodes[node].paused = false;
	}
}

void labmodel_set_paused(struct lab_state *s, size_t node, bool paused)
{
	if (endpoint_ok(s, node)) {
		s->nodes[node].running = !paused;
		s->nodes[node].paused = paused;
	}
}

void labmodel_cut(struct lab_state *s, size_t from, size_t to, bool cut)
{
	if (endpoint_ok(s, from) && endpoint_ok(s, to) && from != to)
		labmodel_cuts_set(&s->cuts, from, to, cut);
}

/* ---- the prediction ---- */

const char *labmodel_why_name(const struct lab_why *w)
{
	switch (w->kind) {
	case LAB_WHY_NONE: return "ok";
	case LAB_WHY_CERT: return pol_code_name(w->code);
	case LAB_WHY_CUT: return "cut";
	case LAB_WHY_NOT_RUNNING: return "not-running";
	case LAB_WHY_NOT_DIALLED: return "not-dialled";
	case LAB_WHY_PRIMARY_DOWN: return "primary-not-running";
	}
	return "?";
}

int labmodel_why_parse(const char *s, struct lab_why *out)
{
	static const struct {
		const char *name;
		enum lab_why_kind kind;
	} words[] = {
	    {"ok", LAB_WHY_NONE},
	    {"cut", LAB_WHY_CUT},
	    {"not-running", LAB_WHY_NOT_RUNNING},
	    {"not-dialled", LAB_WHY_NOT_DIALLED},
	    {"primary-not-running", LAB_WHY_PRIMARY_DOWN},
	};
	enum pol_code code;
	size_t i;

	if (s == NULL)
		return EKL_EINVAL;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(s, words[i].name) == 0) {
			out->kind = words[i].kind;
			return 0;
		}
	}
	if (pol_code_parse(s, &code) != 0 || code == POL_OK)
		return EKL_EINVAL;
	out->kind = LAB_WHY_CERT;
	out->code = code;
	return 0;
}

bool labmodel_why_eq(const struct lab_why *a, const struct lab_why *b)
{
	if (a->kind != b->kind)
		return false;
	return a->kind != LAB_WHY_CERT || a->code == b->code;
}

/* The chain a certificate presents at the state's time. */
static void chain_of(const struct lab_state *s, size_t i,
		     const struct lab_cert *c, struct pol_chain *out)
{
	if (c->file_facts != NULL) {
		*out = *c->file_facts;
		return;
	}
	labmodel_lab_chain(c->profile, c->ca, c->issued, c->days,
			   topo_endpoint_name(s->topo, i), out);
	if (c->not_before != 0 && c->not_after != 0) {
		out->certs[0].not_before = c->not_before;
		out->certs[0].not_after = c->not_after;
	}
}

/* Chains and peers built once per prediction (heap: they are large). */
struct work {
	struct pol_chain *server; /* n of each, in one allocation */
	struct pol_chain *client;
	struct lab_peer peer[TOPO_MAX_NODES];
	const char *names[TOPO_MAX_NODES];
};

static void build_work(const struct lab_state *s, struct work *w)
{
	size_t i;

	for (i = 0; i < s->n + s->n_ext; i++) {
		const struct lab_node_state *ns = &s->nodes[i];
		struct lab_peer *p = &w->peer[i];

		chain_of(s, i, &ns->cert, &w->server[i]);
		if (ns->has_client_cert)
			chain_of(s, i, &ns->client_cert, &w->client[i]);
		w->names[i] = topo_endpoint_name(s->topo, i);
		p->name = w->names[i];
		p->vclass = ns->vclass;
		p->mode = ns->verify;
		p->client_eku_check = ns->client_eku_check;
		p->server = &w->server[i];
		p->client = ns->has_client_cert ? &w->client[i] : NULL;
	}
}

/* The names acceptor `j` accepts: every other node of its cluster (its
 * --peer list). */
static size_t accepts_of(const struct lab_state *s, const struct work *w,
			 size_t j, const char **out)
{
	const struct topo_node *tn = s->topo->nodes;
	size_t k = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (i != j && tn[i].cluster == tn[j].cluster)
			out[k++] = w->names[i];
	return k;
}

static void predict_dir(const struct lab_state *s, const struct work *w,
			size_t i, size_t j, struct lab_dir *d)
{
	const char *accepts[TOPO_MAX_NODES];
	struct lab_dir_facts f;
	size_t na;

	const struct topo *t = s->topo;
	const struct topo_cluster *c = &t->clusters[t->nodes[i].cluster];

	memset(&f, 0, sizeof(f));
	/* ClusterDB joins the nodes of one cluster only. */
	f.dialled = t->nodes[i].cluster == t->nodes[j].cluster &&
		    labmodel_dials(
			t->multi ? c->dial : t->dial, w->names[i], w->names[j],
			w->names[t->multi ? c->primary : s->primary]);
	f.from_running = s->nodes[i].running;
	f.to_running = s->nodes[j].running;
	f.cut = labmodel_cuts_has(&s->cuts, i, j);
	/* A handshake happens only when nothing before it in the
	 * precedence stops the connection. */
	if (f.dialled && f.from_running && f.to_running && !f.cut) {
		na = accepts_of(s, w, j, accepts);
		labmodel_decide(&w->peer[i], &w->peer[j], true, accepts, na,
				s->at, &f.v);
		f.handshake = true;
	}
	labmodel_dir_resolve(&f, d);
}

/* ---- zone services ---- */

/* Endpoint i as policy sees it in zone z. */
static void zone_pol_node(const struct lab_state *s, const struct work *w,
			  const struct topo_zone *z, size_t i,
			  struct pol_node *out)
{
	const struct topo_external *x = topo_endpoint_external(s->topo, i);
	const struct lab_node_state *ns = &s->nodes[i];

	memset(out, 0, sizeof(*out));
	out->mode = ns->verify;
	out->server_chain = w->peer[i].server;
	out->client_chain = w->peer[i].client;
	if (x != NULL) {
		out->kind = x->kind;
		/* The state's copy of checks_client_eku. */
		out->checks_client_eku = ns->client_eku_check;
		return;
	}
	out->kind = POL_KIND_EXPRESSWAY;
	out->version = ns->vclass;
	out->client_eku_check = ns->client_eku_check;
	out->role =
	    s->topo->nodes[i].role == TOPO_ROLE_E ? POL_ROLE_E : POL_ROLE_C;
	if (!z->tls_verify)
		out->mode = POL_PERMISSIVE;
}

/* The endpoints of one zone end. */
static size_t zone_members(const struct lab_state *s,
			   const struct topo_zone_end *e, size_t *out)
{
	size_t k = 0;
	size_t i;

	for (i = 0; i < s->n + s->n_ext; i++)
		if (topo_zone_end_has(s->topo, e, i))
			out[k++] = i;
	return k;
}

static void zone_conn(const struct lab_state *s, const struct work *w,
		      size_t zi, enum pol_service svc, size_t from, size_t to,
		      const char *const *accepts, size_t n_accepts,
		      struct lab_zones *out)
{
	const struct topo_zone *z = &s->topo->zones[zi];
	struct lab_zone_conn *c;
	struct pol_node a, b;
	struct lab_dir_facts f;
	struct pol_conn pc;

	zone_pol_node(s, w, z, from, &a);
	zone_pol_node(s, w, z, to, &b);
	if (!pol_may_initiate(svc, &a, &b) || out->n >= LAB_MAX_ZONE_CONNS)
		return;
	c = &out->c[out->n++];
	memset(c, 0, sizeof(*c));
	c->zone = (uint8_t)zi;
	c->service = (uint8_t)svc;
	c->from = (uint8_t)from;
	c->to = (uint8_t)to;
	memset(&f, 0, sizeof(f));
	f.dialled = true;
	f.from_running = s->nodes[from].running;
	f.to_running = s->nodes[to].running;
	f.cut = labmodel_cuts_has(&s->cuts, from, to);
	if (f.from_running && f.to_running && !f.cut) {
		memset(&pc, 0, sizeof(pc));
		pc.initiator = &a;
		pc.acceptor = &b;
		pc.service = svc;
		pc.initiator_expects = w->names[to];
		pc.acceptor_accepts = accepts;
		pc.n_acceptor_accepts = n_accepts;
		pc.initiator_time = s->at;
		pc.acceptor_time = s->at;
		pol_decide(&pc, &f.v);
		f.handshake = true;
	}
	labmodel_dir_resolve(&f, &c->d);
}

static bool zone_mismatch(const struct lab_state *s, const struct topo_zone *z)
{
	size_t i, j;

	if (z->type != POL_SVC_TRAVERSAL)
		return false;
	for (i = 0; i < s->n; i++)
		for (j = 0; j < s->n; j++)
			if (topo_zone_end_has(s->topo, &z->a, i) &&
			    topo_zone_end_has(s->topo, &z->b, j) &&
			    s->nodes[i].vclass != s->nodes[j].vclass)
				return true;
	return false;
}

static void predict_zones(const struct lab_state *s, const struct work *w,
			  struct lab_zones *out)
{
	const struct topo *t = s->topo;
	size_t am[TOPO_MAX_NODES], bm[TOPO_MAX_NODES];
	const char *an[TOPO_MAX_NODES], *bn[TOPO_MAX_NODES];
	size_t zi, na, nb, i, j, k;

	out->n = 0;
	memset(out->mismatch, 0, sizeof(out->mismatch));
	for (zi = 0; zi < t->n_zones && zi < TOPO_MAX_ZONES; zi++) {
		const struct topo_zone *z = &t->zones[zi];
		enum pol_service svcs[2] = {z->type, POL_SVC_MRA};
		size_t nsvc = z->type == POL_SVC_TRAVERSAL && z->mra ? 2 : 1;

		out->mismatch[zi] = zone_mismatch(s, z);
		na = zone_members(s, &z->a, am);
		nb = zone_members(s, &z->b, bm);
		for (i = 0; i < na; i++)
			an[i] = w->names[am[i]];
		for (j = 0; j < nb; j++)
			bn[j] = w->names[bm[j]];
		/* b accepts a's names; a accepts b's. */
		for (k = 0; k < nsvc; k++) {
			for (i = 0; i < na; i++) {
				for (j = 0; j < nb; j++) {
					zone_conn(s, w, zi, svcs[k], am[i],
						  bm[j], an, na, out);
					zone_conn(s, w, zi, svcs[k], bm[j],
						  am[i], bn, nb, out);
				}
			}
		}
	}
}

const struct lab_zone_conn *labmodel_zone_dir(const struct lab_prediction *p,
					      enum pol_service service,
					      size_t from, size_t to)
{
	size_t i;

	for (i = 0; i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];

		if (c->service == service && c->from == from && c->to == to)
			return c;
	}
	return NULL;
}

bool labmodel_service_between(const struct lab_prediction *p,
			      enum pol_service service, size_t a, size_t b,
			      struct lab_pair *out)
{
	const struct lab_zone_conn *ab = labmodel_zone_dir(p, service, a, b);
	const struct lab_zone_conn *ba = labmodel_zone_dir(p, service, b, a);
	struct lab_dir none;

	memset(out, 0, sizeof(*out));
	if (ab == NULL && ba == NULL)
		return false;
	memset(&none, 0, sizeof(none));
	none.state = LAB_DIR_NOT_DIALLED;
	labmodel_link_decide(TOPO_LINK_BOTH, a, b, true,
			     ab != NULL ? &ab->d : &none,
			     ba != NULL ? &ba->d : &none, out);
	out->carrier_from = out->carrier_to = -1;
	return true;
}

const struct lab_zone_conn *
labmodel_services_first_down(const struct lab_prediction *p)
{
	size_t i;

	for (i = 0; i < p->zones.n; i++)
		if (p->zones.c[i].d.state != LAB_DIR_OK)
			return &p->zones.c[i];
	return NULL;
}

bool labmodel_services_ok(const struct lab_prediction *p)
{
	return labmodel_services_first_down(p) == NULL;
}

/* ---- the one precedence of reasons ---- */

void labmodel_dir_resolve(const struct lab_dir_facts *f, struct lab_dir *out)
{
	memset(out, 0, sizeof(*out));
	out->v.depth = -1;
	if (!f->dialled)
		out->state = LAB_DIR_NOT_DIALLED;
	else if (!f->from_running || !f->to_running)
		out->state = LAB_DIR_NOT_RUNNING;
	else if (f->cut || !f->handshake)
		out->state = LAB_DIR_CUT;
	else {
		out->v = f->v;
		out->state = f->v.ok ? LAB_DIR_OK : LAB_DIR_REJECTED;
	}
}

void labmodel_dir_why(const struct lab_dir *d, struct lab_why *out)
{
	memset(out, 0, sizeof(*out));
	switch (d->state) {
	case LAB_DIR_OK: out->kind = LAB_WHY_NONE; break;
	case LAB_DIR_REJECTED:
		out->kind = LAB_WHY_CERT;
		out->code = d->v.code;
		break;
	case LAB_DIR_CUT: out->kind = LAB_WHY_CUT; break;
	case LAB_DIR_NOT_RUNNING: out->kind = LAB_WHY_NOT_RUNNING; break;
	case LAB_DIR_NOT_DIALLED: out->kind = LAB_WHY_NOT_DIALLED; break;
	}
}

/* Why a pair is down, from its directions (the lower name's dial first):
 * over the dialled directions that are not OK, not-running, then cut,
 * then a certificate code; not-dialled when none is dialled. */
static void pair_why(const struct lab_dir *first, const struct lab_dir *second,
		     struct lab_why *out)
{
	const struct lab_dir *d[2] = {first, second};
	static const enum lab_dir_state order[] = {
	    LAB_DIR_NOT_RUNNING, LAB_DIR_CUT, LAB_DIR_REJECTED};
	size_t k, o;

	memset(out, 0, sizeof(*out));
	for (o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (k = 0; k < 2; k++)
			if (d[k]->state == order[o]) {
				labmodel_dir_why(d[k], out);
				return;
			}
	out->kind = LAB_WHY_NOT_DIALLED;
}

void labmodel_link_decide(enum topo_link rule, size_t a, size_t b, bool a_lower,
			  const struct lab_dir *ab, const struct lab_dir *ba,
			  struct lab_pair *out)
{
	const struct lab_dir *low = a_lower ? ab : ba;
	const struct lab_dir *high = a_lower ? ba : ab;
	size_t lo = a_lower ? a : b;
	size_t hi = a_lower ? b : a;
	bool low_d = low->state != LAB_DIR_NOT_DIALLED;
	bool high_d = high->state != LAB_DIR_NOT_DIALLED;
	bool low_ok = low->state == LAB_DIR_OK;
	bool high_ok = high->state == LAB_DIR_OK;

	memset(out, 0, sizeof(*out));
	out->carrier_from = out->carrier_to = -1;
	if (rule == TOPO_LINK_EITHER)
		out->linked = low_ok || high_ok;
	else
		out->linked = (low_d || high_d) && (!low_d || low_ok) &&
			      (!high_d || high_ok);
	if (!out->linked) {
		pair_why(low, high, &out->why);
		return;
	}
	out->carrier_from = (int)(low_ok ? lo : hi);
	out->carrier_to = (int)(low_ok ? hi : lo);
}

void labmodel_repl_decide(bool running, bool primary, bool primary_running,
			  const struct lab_pair *with_primary,
			  struct lab_repl *out)
{
	memset(out, 0, sizeof(*out));
	if (!running) {
		out->why.kind = LAB_WHY_NOT_RUNNING;
	} else if (primary) {
		out->replicating = true;
	} else if (!primary_running) {
		out->why.kind = LAB_WHY_PRIMARY_DOWN;
	} else {
		out->replicating = with_primary->linked;
		out->why = with_primary->why;
	}
}

size_t labmodel_primary_of(const struct lab_prediction *p, size_t i)
{
	if (p->n_clusters == 0 || i >= p->n || p->cluster[i] >= p->n_clusters)
		return p->primary;
	return p->cprimary[p->cluster[i]];
}

bool labmodel_is_primary(const struct lab_prediction *p, size_t i)
{
	return labmodel_primary_of(p, i) == i;
}

bool labmodel_same_cluster(const struct lab_prediction *p, size_t i, size_t j)
{
	return p->n_clusters == 0 || p->cluster[i] == p->cluster[j];
}

static enum topo_link link_of(const struct lab_prediction *p, size_t i)
{
	if (p->n_clusters == 0 || p->cluster[i] >= p->n_clusters)
		return p->link;
	return p->clink[p->cluster[i]];
}

void labmodel_derive(struct lab_prediction *p, const char *const *names)
{
	size_t a, b, i;

	for (a = 0; a < p->n; a++)
		for (b = a + 1; b < p->n; b++)
			labmodel_link_decide(link_of(p, a), a, b,
					     strcasecmp(names[a], names[b]) < 0,
					     &p->dir[a][b], &p->dir[b][a],
					     &p->pair[a][b]);
	for (i = 0; i < p->n; i++) {
		size_t pr = labmodel_primary_of(p, i);

		labmodel_repl_decide(p->running[i], i == pr, p->running[pr],
				     i == pr ? NULL : labmodel_pair(p, i, pr),
				     &p->repl[i]);
	}
}

const struct lab_pair *labmodel_pair(const struct lab_prediction *p, size_t i,
				     size_t j)
{
	return i < j ? &p->pair[i][j] : &p->pair[j][i];
}

int labmodel_predict(const struct lab_state *s, struct lab_prediction *out,
		     char *err)
{
	const struct topo *t = s->topo;
	struct work *w;
	size_t i, j, ne;

	out->n = s->n;
	out->primary = s->primary;
	out->link = t->link;
	out->n_clusters = t->n_clusters;
	for (i = 0; i < t->n_clusters; i++) {
		out->cprimary[i] =
		    t->multi ? t->clusters[i].primary : s->primary;
		out->clink[i] = t->multi ? t->clusters[i].link : t->link;
	}
	for (i = 0; i < s->n; i++)
		out->cluster[i] = t->nodes[i].cluster;
	for (i = 0; i < s->n; i++)
		out->running[i] = s->nodes[i].running;
	ne = s->n + s->n_ext;
	w = ekl_malloc(sizeof(*w) + 2 * (ne ? ne : 1) * sizeof(*w->server));
	if (w == NULL)
		return ekl_errf(err, EKL_ENOMEM, "prediction: out of memory");
	w->server = (struct pol_chain *)(w + 1);
	w->client = w->server + ne;
	build_work(s, w);
	for (i = 0; i < s->n; i++)
		for (j = 0; j < s->n; j++)
			if (i != j)
				predict_dir(s, w, i, j, &out->dir[i][j]);
	labmodel_derive(out, w->names);
	predict_zones(s, w, &out->zones);
	ekl_free(w);
	return 0;
}

const char *labmodel_criterion_name(enum lab_criterion c)
{
	switch (c) {
	case LAB_CRIT_PRIMARY: return "primary";
	case LAB_CRIT_MESH: return "mesh";
	case LAB_CRIT_SERVICES: return "services";
	}
	return "?";
}

int labmodel_criterion_parse(const char *s, enum lab_criterion *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "primary") == 0)
		*out = LAB_CRIT_PRIMARY;
	else if (strcmp(s, "mesh") == 0)
		*out = LAB_CRIT_MESH;
	else if (strcmp(s, "services") == 0)
		*out = LAB_CRIT_SERVICES;
	else
		return EKL_EINVAL;
	return 0;
}

bool labmodel_safe(const struct lab_prediction *p, enum lab_criterion c)
{
	size_t i, j;

	if (c == LAB_CRIT_PRIMARY || c == LAB_CRIT_SERVICES) {
		for (i = 0; i < p->n; i++) {
			if (!p->running[labmodel_primary_of(p, i)])
				return false;
			if (p->running[i] && !p->repl[i].replicating)
				return false;
		}
		return c == LAB_CRIT_PRIMARY || labmodel_services_ok(p);
	}
	for (i = 0; i < p->n; i++)
		for (j = i + 1; j < p->n; j++)
			if (labmodel_same_cluster(p, i, j) &&
			    !p->pair[i][j].linked)
				return false;
	return true;
}
