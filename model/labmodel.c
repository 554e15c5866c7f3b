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

#include <openssl/x509.h>

#include "ekulab/x509/certinfo.h"
#include "ekulab/core/err.h"
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
		ns->verify = t->verify;
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
	for (i = 0; i < s->n; i++) {
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
	FILE *fp;
	int rc;

	if (c->file == NULL)
		return 0;
	fp = fopen(c->file, "rb");
	if (fp == NULL)
		return 0; /* not there (yet): the profile/ca model stands */
	fclose(fp);
	rc = certinfo_chain_file(c->file, store, slot, e);
	if (rc != 0)
		return ekl_errf(err, rc, "node %s: certificate file '%s': %s",
				s->topo->nodes[i].name, c->file, e);
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

	for (i = 0; i < s->n; i++)
		any |= s->nodes[i].cert.file != NULL ||
		       (s->nodes[i].has_client_cert &&
			s->nodes[i].client_cert.file != NULL);
	if (!any)
		return 0;
	if (s->facts == NULL) {
		s->facts = ekl_calloc(2 * (s->n ? s->n : 1), sizeof(*s->facts));
		if (s->facts == NULL)
			return ekl_errf(err, EKL_ENOMEM,
					"certificate facts: out of memory");
	}
	for (i = 0; i < s->n; i++) {
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
	if (node < s->n)
		new_cert(&s->nodes[node].cert, p, ca, days, s->at);
}

void labmodel_renew_client(struct lab_state *s, size_t node, enum pki_profile p,
			   enum pki_ca ca, int days)
{
	if (node >= s->n)
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
		if ((size_t)node < s->n)
			s->nodes[node].verify = mode;
		return;
	}
	for (i = 0; i < s->n; i++)
		s->nodes[i].verify = mode;
}

void labmodel_set_running(struct lab_state *s, size_t node, bool running)
{
	if (node < s->n) {
		s->nodes[node].running = running;
		s->nodes[node].paused = false;
	}
}

void labmodel_set_paused(struct lab_state *s, size_t node, bool paused)
{
	if (node < s->n) {
		s->nodes[node].running = !paused;
		s->nodes[node].paused = paused;
	}
}

void labmodel_cut(struct lab_state *s, size_t from, size_t to, bool cut)
{
	if (from < s->n && to < s->n && from != to)
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
			   s->topo->nodes[i].name, out);
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

	for (i = 0; i < s->n; i++) {
		const struct lab_node_state *ns = &s->nodes[i];
		struct lab_peer *p = &w->peer[i];

		chain_of(s, i, &ns->cert, &w->server[i]);
		if (ns->has_client_cert)
			chain_of(s, i, &ns->client_cert, &w->client[i]);
		w->names[i] = s->topo->nodes[i].name;
		p->name = w->names[i];
		p->vclass = ns->vclass;
		p->mode = ns->verify;
		p->client_eku_check = ns->client_eku_check;
		p->server = &w->server[i];
		p->client = ns->has_client_cert ? &w->client[i] : NULL;
	}
}

/* The names acceptor `j` accepts: every other node (its --peer list). */
static size_t accepts_of(const struct work *w, size_t n, size_t j,
			 const char **out)
{
	size_t k = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (i != j)
			out[k++] = w->names[i];
	return k;
}

static void predict_dir(const struct lab_state *s, const struct work *w,
			size_t i, size_t j, struct lab_dir *d)
{
	const char *accepts[TOPO_MAX_NODES];
	struct lab_dir_facts f;
	size_t na;

	memset(&f, 0, sizeof(f));
	f.dialled = labmodel_dials(s->topo->dial, w->names[i], w->names[j],
				   w->names[s->primary]);
	f.from_running = s->nodes[i].running;
	f.to_running = s->nodes[j].running;
	f.cut = labmodel_cuts_has(&s->cuts, i, j);
	/* A handshake happens only when nothing before it in the
	 * precedence stops the connection. */
	if (f.dialled && f.from_running && f.to_running && !f.cut) {
		na = accepts_of(w, s->n, j, accepts);
		labmodel_decide(&w->peer[i], &w->peer[j], true, accepts, na,
				s->at, &f.v);
		f.handshake = true;
	}
	labmodel_dir_resolve(&f, d);
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

void labmodel_derive(struct lab_prediction *p, const char *const *names)
{
	size_t a, b, i;

	for (a = 0; a < p->n; a++)
		for (b = a + 1; b < p->n; b++)
			labmodel_link_decide(
			    p->link, a, b, strcasecmp(names[a], names[b]) < 0,
			    &p->dir[a][b], &p->dir[b][a], &p->pair[a][b]);
	for (i = 0; i < p->n; i++)
		labmodel_repl_decide(
		    p->running[i], i == p->primary, p->running[p->primary],
		    i == p->primary ? NULL : labmodel_pair(p, i, p->primary),
		    &p->repl[i]);
}

const struct lab_pair *labmodel_pair(const struct lab_prediction *p, size_t i,
				     size_t j)
{
	return i < j ? &p->pair[i][j] : &p->pair[j][i];
}

int labmodel_predict(const struct lab_state *s, struct lab_prediction *out,
		     char *err)
{
	struct work *w;
	size_t i, j;

	out->n = s->n;
	out->primary = s->primary;
	out->link = s->topo->link;
	for (i = 0; i < s->n; i++)
		out->running[i] = s->nodes[i].running;
	w = ekl_malloc(sizeof(*w) + 2 * (s->n ? s->n : 1) * sizeof(*w->server));
	if (w == NULL)
		return ekl_errf(err, EKL_ENOMEM, "prediction: out of memory");
	w->server = (struct pol_chain *)(w + 1);
	w->client = w->server + s->n;
	build_work(s, w);
	for (i = 0; i < s->n; i++)
		for (j = 0; j < s->n; j++)
			if (i != j)
				predict_dir(s, w, i, j, &out->dir[i][j]);
	labmodel_derive(out, w->names);
	ekl_free(w);
	return 0;
}

const char *labmodel_criterion_name(enum lab_criterion c)
{
	return c == LAB_CRIT_MESH ? "mesh" : "primary";
}

int labmodel_criterion_parse(const char *s, enum lab_criterion *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "primary") == 0)
		*out = LAB_CRIT_PRIMARY;
	else if (strcmp(s, "mesh") == 0)
		*out = LAB_CRIT_MESH;
	else
		return EKL_EINVAL;
	return 0;
}

bool labmodel_safe(const struct lab_prediction *p, enum lab_criterion c)
{
	size_t i, j;

	if (c == LAB_CRIT_PRIMARY) {
		if (!p->running[p->primary])
			return false;
		for (i = 0; i < p->n; i++)
			if (p->running[i] && !p->repl[i].replicating)
				return false;
		return true;
	}
	for (i = 0; i < p->n; i++)
		for (j = i + 1; j < p->n; j++)
			if (!p->pair[i][j].linked)
				return false;
	return true;
}
