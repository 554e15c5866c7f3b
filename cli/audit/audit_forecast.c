/* audit_forecast.c: the cluster forecast and the cluster descriptions it reads.
 *
 * The forecast finds when a link first goes down, why, and which step
 * prevents it. */
#include "audit_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/x509/certinfo.h"
#include "model/labmodel.h"
#include "ekulab/core/file.h"
#include "ekulab/core/mem.h"

/* ==== the forecast =================================================== */

void audit_lab_chain(enum pki_profile p, enum pki_ca ca, int64_t from, int days,
		     const char *name, struct pol_chain *out)
{
	/* The lab PKI's default validity when none is given. */
	labmodel_lab_chain(p, ca, from, days > 0 ? days : 365, name, out);
}

/* The server chain node nd presents at time t: its current certificate
 * until renew_at, then its renewal, renewed again at each expiry (the
 * 200/100/47-day cadence for public certificates). */
static void server_at(const struct audit_fnode *nd, int64_t t,
		      struct pol_chain *out)
{
	int64_t start = nd->renew_at;
	int guard;

	if (t < nd->renew_at) {
		*out = nd->server;
		return;
	}
	for (guard = 0; guard < 100000; guard++) {
		audit_renewed_chain(&nd->server, nd->renewal, start, out);
		if (t <= out->certs[0].not_after)
			break;
		start = out->certs[0].not_after;
	}
}

/* A client certificate is renewed like for like: after its expiry the
 * same facts, valid again from t. */
static void client_at(const struct audit_fnode *nd, int64_t t,
		      struct pol_chain *out)
{
	int64_t span;

	*out = nd->client;
	if (out->len > 0 && t > out->certs[0].not_after) {
		span = out->certs[0].not_after - out->certs[0].not_before;
		out->certs[0].not_before = t - 1;
		out->certs[0].not_after = t - 1 + span;
	}
}

/* One directed connection at time t, decided by the lab model's
 * labmodel_decide (pol_decide without the identity check: the forecast
 * is about EKU and validity). */
static void decide(const struct audit_fnode *nodes, int ini, int acc,
		   enum pol_mode verify, int64_t t, struct audit_direction *d)
{
	struct pol_chain is, ic, as;
	struct lab_peer in, an;

	server_at(&nodes[ini], t, &is);
	client_at(&nodes[ini], t, &ic);
	server_at(&nodes[acc], t, &as);
	memset(&in, 0, sizeof(in));
	memset(&an, 0, sizeof(an));
	in.name = nodes[ini].name;
	in.vclass = nodes[ini].vclass;
	in.mode = verify;
	in.client_eku_check = nodes[ini].client_eku_check;
	in.server = &is;
	in.client = nodes[ini].has_client ? &ic : NULL;
	an.name = nodes[acc].name;
	an.vclass = nodes[acc].vclass;
	an.mode = verify;
	an.client_eku_check = nodes[acc].client_eku_check;
	an.server = &as;
	d->initiator = ini;
	d->acceptor = acc;
	labmodel_decide(&in, &an, false, NULL, 0, t, &d->v);
}

/* Every link at time t, by the link rule (labmodel_link_decide, as the
 * lab model decides it); the ones down go to `down`. Returns how many are
 * down. */
static size_t links_down(const struct audit_fnode *nodes, size_t n,
			 enum pol_mode verify, enum topo_dial dial,
			 enum topo_link link, const char *primary, int64_t t,
			 struct audit_link *down, size_t max_down)
{
	struct audit_link l;
	struct lab_dir_facts f;
	struct lab_dir ab, ba;
	struct lab_pair pr;
	size_t count = 0;
	size_t a, b;

	for (a = 0; a < n; a++) {
		for (b = a + 1; b < n; b++) {
			/* Each cluster's own rules (a topology), else the
			 * forecast's. */
			bool own = nodes[a].cprimary[0] != '\0';
			enum pol_mode vm = own ? nodes[a].cverify : verify;
			enum topo_dial d = own ? nodes[a].cdial : dial;
			enum topo_link lk = own ? nodes[a].clink : link;
			const char *pr_name = own ? nodes[a].cprimary : primary;

			/* ClusterDB joins the nodes of one cluster. */
			if (nodes[a].cluster != nodes[b].cluster)
				continue;
			memset(&l, 0, sizeof(l));
			l.a = (int)a;
			l.b = (int)b;
			/* Who dials whom: the lab model's rule. */
			memset(&f, 0, sizeof(f));
			f.from_running = f.to_running = f.handshake = true;
			f.dialled = labmodel_dials(d, nodes[a].name,
						   nodes[b].name, pr_name);
			if (f.dialled) {
				decide(nodes, l.a, l.b, vm, t,
				       &l.dirs[l.n_dirs]);
				f.v = l.dirs[l.n_dirs++].v;
			}
			labmodel_dir_resolve(&f, &ab);
			memset(&f, 0, sizeof(f));
			f.from_running = f.to_running = f.handshake = true;
			f.dialled = labmodel_dials(d, nodes[b].name,
						   nodes[a].name, pr_name);
			if (f.dialled) {
				decide(nodes, l.b, l.a, vm, t,
				       &l.dirs[l.n_dirs]);
				f.v = l.dirs[l.n_dirs++].v;
			}
			labmodel_dir_resolve(&f, &ba);
			if (l.n_dirs == 0)
				continue; /* no link between them */
			labmodel_link_decide(
			    lk, a, b,
			    strcasecmp(nodes[a].name, nodes[b].name) < 0, &ab,
			    &ba, &pr);
			l.up = pr.linked;
			if (!l.up) {
				if (count < max_down)
					down[count] = l;
				count++;
			}
		}
	}
	return count;
}

static int cmp_time(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x;
	int64_t b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

bool audit_simulate(const struct audit_fnode *nodes, size_t n,
		    enum pol_mode verify, enum topo_dial dial,
		    enum topo_link link, const char *primary, int64_t at,
		    int64_t *date, struct audit_link *down, size_t max_down,
		    size_t *n_down)
{
	int64_t times[TOPO_MAX_NODES + 1];
	size_t nt = 0;
	size_t i;
	size_t k;

	*n_down = 0;
	times[nt++] = at;
	for (i = 0; i < n && i < TOPO_MAX_NODES; i++)
		if (nodes[i].renew_at > at)
			times[nt++] = nodes[i].renew_at;
	qsort(times, nt, sizeof(times[0]), cmp_time);
	for (i = 0; i < nt; i++) {
		if (i > 0 && times[i] == times[i - 1])
			continue;
		k = links_down(nodes, n, verify, dial, link, primary, times[i],
			       down, max_down);
		if (k > 0) {
			*date = times[i];
			*n_down = k < max_down ? k : max_down;
			return true;
		}
	}
	return false;
}

/* One node's certificate: a real file (chain against the trust store)
 * or the facts of a lab certificate issued at `at`. */
static int node_cert(const struct topo_node *tn, const struct topo_cert *tc,
		     const struct audit_trust *trust, int64_t at,
		     struct pol_chain *ch, enum audit_root *root, char *label,
		     size_t label_len, char *err)
{
	STACK_OF(X509) *extra = NULL;
	X509 *leaf = NULL;
	char e[EKL_ERRLEN];
	int rc;

	if (tc->file == NULL) {
		audit_lab_chain(tc->profile, tc->ca, at, tc->days, tn->name,
				ch);
		/* The topology says what the lab certificate stands for. */
		*root = tc->root == TOPO_ROOT_PUBLIC ? AUDIT_ROOT_PUBLIC
						     : AUDIT_ROOT_PRIVATE;
		snprintf(label, label_len, "lab %s/%s",
			 pki_profile_name(tc->profile), pki_ca_name(tc->ca));
		return 0;
	}
	snprintf(label, label_len, "file %s", tc->file);
	rc = certinfo_load_chain(tc->file, &leaf, &extra, e);
	if (rc == 0)
		rc = audit_classify(trust, leaf, extra, root, NULL, e);
	if (rc == 0)
		rc = certinfo_chain(leaf, extra, trust->store, ch, e);
	X509_free(leaf);
	sk_X509_pop_free(extra, X509_free);
	if (rc != 0)
		return ekl_errf(err, rc, "node %s: %s", tn->name, e);
	return 0;
}

/* The upload verdict on node nd (with version class vc and the setting
 * seu) of the certificate its renewal gives it. */
static void renewal_upload(const struct audit_fnode *nd, enum pol_vclass vc,
			   bool seu, enum audit_renewal how,
			   struct xpw_upload *out)
{
	struct pol_chain ch;
	struct xpw_node x;

	audit_renewed_chain(&nd->server, how, nd->renew_at, &ch);
	x.role = nd->role;
	x.vclass = vc;
	x.server_eku_upload = seu;
	xpw_upload(&x, XPW_SLOT_SERVER, ch.certs[0].eku, out);
}

static int fill_nodes(const struct topo *t, const struct audit_trust *trust,
		      int64_t at, struct audit_fnode *nodes, char *err)
{
	enum audit_root croot;
	char clabel[600];
	size_t i;
	int rc;

	for (i = 0; i < t->n_nodes; i++) {
		const struct topo_node *tn = &t->nodes[i];
		struct audit_fnode *nd = &nodes[i];

		snprintf(nd->name, sizeof(nd->name), "%s", tn->name);
		snprintf(nd->version, sizeof(nd->version), "%s", tn->version);
		nd->vclass = tn->vclass;
		nd->role = tn->role;
		nd->client_eku_check = tn->client_eku_check;
		nd->server_eku_upload = tn->server_eku_upload;
		nd->cluster = tn->cluster;
		if (t->multi) {
			const struct topo_cluster *c =
			    &t->clusters[tn->cluster];

			snprintf(nd->cprimary, sizeof(nd->cprimary), "%s",
				 t->nodes[c->primary].name);
			nd->cverify = c->verify;
			nd->cdial = c->dial;
			nd->clink = c->link;
		}
		rc = node_cert(tn, &tn->cert, trust, at, &nd->server, &nd->root,
			       nd->cert_label, sizeof(nd->cert_label), err);
		if (rc != 0)
			return rc;
		if (tn->has_client_cert) {
			nd->has_client = true;
			rc = node_cert(tn, &tn->client_cert, trust, at,
				       &nd->client, &croot, clabel,
				       sizeof(clabel), err);
			if (rc != 0)
				return rc;
		}
		nd->renew_at =
		    nd->server.len > 0 && nd->server.certs[0].not_after > at
			? nd->server.certs[0].not_after
			: at;
		/* F4: a private PKI is not affected; an unknown root is
		 * assumed public (the worse case). */
		nd->renewal = nd->root == AUDIT_ROOT_PRIVATE
				  ? AUDIT_RENEW_LIKE
				  : AUDIT_RENEW_SERVER_ONLY;
		renewal_upload(nd, nd->vclass, nd->server_eku_upload,
			       nd->renewal, &nd->renewal_upload);
	}
	return 0;
}

/* Which nodes' renewals (by `date`) take part in the links down: only
 * public ones change anything. */
static void describe_cause(struct audit_forecast *f)
{
	char d[16];
	size_t off = 0;
	size_t i;
	bool any = false;
	bool first = true;
	bool in_down;
	size_t k;

	audit_format_date(f->date, d, sizeof(d));
	for (i = 0; i < f->n_nodes; i++) {
		const struct audit_fnode *nd = &f->nodes[i];

		in_down = false;
		for (k = 0; k < f->n_down; k++)
			in_down |=
			    f->down[k].a == (int)i || f->down[k].b == (int)i;
		if (!in_down || nd->renewal != AUDIT_RENEW_SERVER_ONLY ||
		    nd->renew_at > f->date ||
		    (nd->renew_at == f->at &&
		     nd->server.certs[0].not_after > f->at))
			continue;
		if (!any)
			off += (size_t)snprintf(
			    f->cause + off, sizeof(f->cause) - off,
			    "renewed server-only from a public CA:");
		any = true;
		if (off < sizeof(f->cause)) {
			char rd[16];

			audit_format_date(nd->renew_at, rd, sizeof(rd));
			off += (size_t)snprintf(
			    f->cause + off, sizeof(f->cause) - off,
			    "%s %s (%s)", first ? "" : ",", nd->name, rd);
			first = false;
		}
	}
	if (!any && f->n_down > 0) {
		const struct audit_link *l = &f->down[0];
		const struct audit_direction *dd = &l->dirs[0];
		int k2;

		for (k2 = 0; k2 < l->n_dirs; k2++)
			if (!l->dirs[k2].v.ok) {
				dd = &l->dirs[k2];
				break;
			}
		snprintf(f->cause, sizeof(f->cause),
			 "the certificates in place on %s already fail: %s -> "
			 "%s is rejected by the %s: %s%s",
			 d, f->nodes[dd->initiator].name,
			 f->nodes[dd->acceptor].name, pol_side_name(dd->v.side),
			 pol_code_name(dd->v.code),
			 dd->v.code == POL_UNTRUSTED
			     ? " (give the roots with --ca or --public-ca)"
			     : "");
	}
}

/* The earliest renewal that takes part in the break (the deadline of
 * steps that change how certificates are renewed). */
static int64_t first_breaking_renewal(const struct audit_forecast *f)
{
	int64_t best = f->date;
	size_t i, k;

	for (k = 0; k < f->n_down; k++) {
		int ends[2] = {f->down[k].a, f->down[k].b};

		for (i = 0; i < 2; i++) {
			int64_t r = f->nodes[ends[i]].renew_at;

			if (r <= f->date && r < best && r > f->at)
				best = r;
		}
	}
	return best;
}

/* Does every renewal of `trial` pass its node's upload rule? The first
 * refusal goes to the step. */
static void check_uploads(const struct audit_fnode *trial, size_t n,
			  struct audit_step *s)
{
	struct xpw_upload up;
	size_t i;

	s->upload_ok = true;
	s->refused_node = -1;
	for (i = 0; i < n; i++) {
		renewal_upload(&trial[i], trial[i].vclass,
			       trial[i].server_eku_upload, trial[i].renewal,
			       &up);
		if (!up.accept) {
			s->upload_ok = false;
			s->refused_node = (int)i;
			s->refused = up;
			return;
		}
	}
}

/* Check one step by simulating the cluster with it (`trial`); `needs`
 * is the version class it needs, or -1. */
static void add_step(struct audit_forecast *f, struct audit_fnode *trial,
		     enum pol_mode verify, enum audit_opt code, int64_t before,
		     int needs, const char *what)
{
	struct audit_step *s;
	struct audit_link one;
	int64_t date2 = 0;
	size_t nd, l;
	bool breaks;
	char d[16], d2[16], rel[16], why[400];

	if (f->n_steps >= AUDIT_MAX_STEPS)
		return;
	s = &f->steps[f->n_steps++];
	memset(s, 0, sizeof(*s));
	s->code = code;
	s->before = before;
	breaks = audit_simulate(trial, f->n_nodes, verify, f->dial, f->link,
				f->primary, f->at, &date2, &one, 1, &nd);
	s->prevents = !breaks;
	check_uploads(trial, f->n_nodes, s);
	s->in_time = true;
	if (needs >= 0) {
		s->available = xpw_release((enum pol_vclass)needs);
		s->in_time = s->available <= before;
	}
	audit_format_date(before, d, sizeof(d));
	if (breaks) {
		s->postpones_to = date2 > f->date ? date2 : 0;
		audit_format_date(date2, d2, sizeof(d2));
	}
	snprintf(s->text, sizeof(s->text), "%s before %s", what, d);
	l = strlen(s->text);
	if (needs >= 0 && s->available > f->at) {
		audit_format_date(s->available, rel, sizeof(rel));
		snprintf(s->text + l, sizeof(s->text) - l,
			 s->in_time
			     ? " (%s is due %s: from %s)"
			     : " (%s is due %s, counted from %s: too late)",
			 needs == POL_V_X155 ? "X15.5" : "X15.4",
			 xpw_release_month((enum pol_vclass)needs), rel);
		l = strlen(s->text);
	}
	snprintf(s->text + l, sizeof(s->text) - l, ": %s%s",
		 !breaks		? "keeps every link up"
		 : s->postpones_to != 0 ? "only postpones the break to "
					: "does not help: a link still goes "
					  "down on ",
		 breaks ? d2 : "");
	l = strlen(s->text);
	if (!s->upload_ok) {
		const struct audit_fnode *rn = &trial[s->refused_node];
		struct xpw_node x;

		x.role = rn->role;
		x.vclass = rn->vclass;
		x.server_eku_upload = rn->server_eku_upload;
		xpw_refusal_text(rn->name,
				 rn->vclass == f->nodes[s->refused_node].vclass
				     ? rn->version
				 : rn->vclass == POL_V_X155 ? "X15.5"
							    : "X15.4",
				 &x, &s->refused, why, sizeof(why));
		snprintf(s->text + l, sizeof(s->text) - l,
			 ", but only with SCP copies of the renewals: %s", why);
	}
	if (f->prevention < 0 && s->prevents && s->upload_ok && s->in_time &&
	    code != AUDIT_OPT_RENEW_EARLY)
		f->prevention = (int)(f->n_steps - 1);
}

static void plan_steps(struct audit_forecast *f, struct audit_fnode *trial)
{
	size_t n = f->n_nodes;
	size_t sz = n * sizeof(*trial);
	int64_t renew_by = first_breaking_renewal(f);
	bool any_pre = false, any_not155 = false, any_c = false;
	bool any_public = false;
	size_t i;

	for (i = 0; i < n; i++) {
		any_pre |= f->nodes[i].vclass == POL_V_PRE154;
		any_not155 |= f->nodes[i].vclass != POL_V_X155;
		any_c |= f->nodes[i].role == TOPO_ROLE_C &&
			 f->nodes[i].renewal == AUDIT_RENEW_SERVER_ONLY;
		any_public |= f->nodes[i].renewal == AUDIT_RENEW_SERVER_ONLY;
	}
	if (any_pre) {
		/* Expressway-E with the upload setting: part of the step. */
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++) {
			if (trial[i].vclass == POL_V_PRE154)
				trial[i].vclass = POL_V_X154;
			if (trial[i].role == TOPO_ROLE_E)
				trial[i].server_eku_upload = true;
		}
		add_step(f, trial, f->verify, AUDIT_OPT_UPGRADE_X154, f->date,
			 POL_V_X154,
			 "upgrade every node to X15.4 (ClusterDB skips the "
			 "clientAuth check; Expressway-E with "
			 "EnableServerEkuUpload: On; all nodes on the same "
			 "version)");
	}
	if (any_not155) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			trial[i].vclass = POL_V_X155;
		add_step(f, trial, f->verify, AUDIT_OPT_UPGRADE_X155, f->date,
			 POL_V_X155,
			 "upgrade every node to X15.5 (separate server and "
			 "client certificates)");
	}
	if (any_public) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			if (trial[i].renewal == AUDIT_RENEW_SERVER_ONLY)
				trial[i].renewal = AUDIT_RENEW_ALTERNATE_ROOT;
		add_step(f, trial, f->verify, AUDIT_OPT_ALTERNATE_ROOT,
			 renew_by, -1,
			 "renew the public certificates from an alternate "
			 "root with combined EKU (IdenTrust Public Sector "
			 "Root CA 1, DigiCert Assured ID Root G2) that every "
			 "node trusts");
	}
	if (any_c) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++)
			if (trial[i].role == TOPO_ROLE_C &&
			    trial[i].renewal == AUDIT_RENEW_SERVER_ONLY)
				trial[i].renewal = AUDIT_RENEW_PRIVATE;
		add_step(f, trial, f->verify, AUDIT_OPT_PRIVATE_PKI, renew_by,
			 -1,
			 "renew the Expressway-C nodes from a private PKI with "
			 "combined EKU (not for Expressway-E)");
	}
	if (any_public && f->at < xpw_public_no_client()) {
		memcpy(trial, f->nodes, sz);
		for (i = 0; i < n; i++) {
			struct pol_chain now;

			if (trial[i].renewal != AUDIT_RENEW_SERVER_ONLY)
				continue;
			audit_renewed_chain(&trial[i].server,
					    AUDIT_RENEW_ALTERNATE_ROOT, f->at,
					    &now);
			trial[i].server = now;
			trial[i].renew_at = now.certs[0].not_after;
		}
		add_step(f, trial, f->verify, AUDIT_OPT_RENEW_EARLY,
			 xpw_public_no_client(), -1,
			 "renew every public certificate now with combined EKU "
			 "from a public CA, while public CAs still issue it");
	}
	memcpy(trial, f->nodes, sz);
	for (i = 0; i < n; i++)
		trial[i].cverify = POL_PERMISSIVE;
	add_step(f, trial, POL_PERMISSIVE, AUDIT_OPT_PERMISSIVE, f->date, -1,
		 "insecure last resort: set the cluster's TLS verify mode to "
		 "Permissive (peers are no longer authenticated)");
}

/* ---- zones ---- */

/* The chain, named `name` (the forecast does not check identity). */
static void named(struct pol_chain *ch, const char *name)
{
	ch->n_dns = 1;
	ch->n_ip = 0;
	snprintf(ch->dns[0], sizeof(ch->dns[0]), "%s", name);
	snprintf(ch->cn, sizeof(ch->cn), "%s", name);
}

/* The zone connections that fail at time `when`, the nodes presenting
 * their forecast certificates then (lab model, pol_decide). */
static int zones_at(const struct topo *t, const struct audit_trust *trust,
		    const struct audit_forecast *f, int64_t when,
		    struct audit_zone_down *out, size_t *n_out, size_t *conns,
		    char *err)
{
	struct lab_prediction *p = NULL;
	struct pol_chain *ch = NULL;
	struct lab_state *s = NULL;
	size_t i, k = 0;
	int rc;

	s = ekl_calloc(1, sizeof(*s));
	p = ekl_calloc(1, sizeof(*p));
	ch = ekl_calloc(2 * (f->n_nodes ? f->n_nodes : 1), sizeof(*ch));
	if (s == NULL || p == NULL || ch == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "forecast: out of memory");
		goto out;
	}
	labmodel_init(s, t, when);
	/* Externals' file: certificates; nodes' are the forecast's own. */
	if ((rc = labmodel_load_files(s, trust->store, err)) != 0)
		goto out;
	for (i = 0; i < f->n_nodes && i < s->n; i++) {
		server_at(&f->nodes[i], when, &ch[2 * i]);
		named(&ch[2 * i], f->nodes[i].name);
		s->nodes[i].cert.file_facts = &ch[2 * i];
		s->nodes[i].has_client_cert = f->nodes[i].has_client;
		if (f->nodes[i].has_client) {
			client_at(&f->nodes[i], when, &ch[2 * i + 1]);
			named(&ch[2 * i + 1], f->nodes[i].name);
			s->nodes[i].client_cert.file_facts = &ch[2 * i + 1];
		}
	}
	if ((rc = labmodel_predict(s, p, err)) != 0)
		goto out;
	*conns = p->zones.n;
	for (i = 0; i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];
		struct audit_zone_down *d;

		if (c->d.state == LAB_DIR_OK)
			continue;
		if (k < AUDIT_MAX_ZONE_DOWN) {
			d = &out[k];
			memset(d, 0, sizeof(*d));
			d->service = (enum pol_service)c->service;
			snprintf(d->from, sizeof(d->from), "%s",
				 topo_endpoint_name(t, c->from));
			snprintf(d->to, sizeof(d->to), "%s",
				 topo_endpoint_name(t, c->to));
			d->code = c->d.v.code;
			d->side = c->d.v.side;
		}
		k++;
	}
	*n_out = k;
	rc = 0;
out:
	if (s != NULL) {
		/* The node chains are ours, not the state's. */
		for (i = 0; i < s->n; i++) {
			s->nodes[i].cert.file_facts = NULL;
			s->nodes[i].client_cert.file_facts = NULL;
		}
		labmodel_free(s);
	}
	ekl_free(s);
	ekl_free(p);
	ekl_free(ch);
	return rc;
}

/* "X15.3.2" or "X15.3.2, X15.4": the versions of a cluster's nodes. */
static void versions_of(const struct topo *t, size_t cluster, char *buf,
			size_t len)
{
	size_t i, j, l;
	bool seen;

	buf[0] = '\0';
	for (i = 0; i < t->n_nodes; i++) {
		if (t->nodes[i].cluster != cluster)
			continue;
		seen = false;
		for (j = 0; j < i; j++)
			seen |= t->nodes[j].cluster == cluster &&
				strcmp(t->nodes[j].version,
				       t->nodes[i].version) == 0;
		if (seen)
			continue;
		l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s", l ? ", " : "",
			 t->nodes[i].version);
	}
}

/* Traversal zones whose ends run different versions (the model's rule,
 * labmodel's mismatch: version classes differ). */
static void mismatches(const struct topo *t, struct audit_forecast *f)
{
	size_t z, i, j;

	for (z = 0; z < t->n_zones; z++) {
		const struct topo_zone *zn = &t->zones[z];
		struct audit_mismatch *m;
		bool differ = false;

		if (zn->type != POL_SVC_TRAVERSAL)
			continue;
		for (i = 0; i < t->n_nodes; i++)
			for (j = 0; j < t->n_nodes; j++)
				differ |=
				    topo_zone_end_has(t, &zn->a, i) &&
				    topo_zone_end_has(t, &zn->b, j) &&
				    t->nodes[i].vclass != t->nodes[j].vclass;
		if (!differ)
			continue;
		m = &f->mismatch[f->n_mismatch++];
		snprintf(m->client, sizeof(m->client), "%s",
			 topo_zone_end_name(t, &zn->a));
		snprintf(m->server, sizeof(m->server), "%s",
			 topo_zone_end_name(t, &zn->b));
		versions_of(t, zn->a.index, m->client_versions,
			    sizeof(m->client_versions));
		versions_of(t, zn->b.index, m->server_versions,
			    sizeof(m->server_versions));
	}
}

static int forecast_zones(const struct topo *t, const struct audit_trust *trust,
			  struct audit_forecast *f, char *err)
{
	size_t i, conns = 0;
	int rc;

	f->n_zones = t->n_zones;
	if (t->n_zones == 0)
		return 0;
	mismatches(t, f);
	f->later_at = f->at;
	for (i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].renew_at > f->later_at)
			f->later_at = f->nodes[i].renew_at;
	rc = zones_at(t, trust, f, f->at, f->zones_now, &f->n_zones_now,
		      &f->zone_conns, err);
	if (rc == 0)
		rc = zones_at(t, trust, f, f->later_at, f->zones_later,
			      &f->n_zones_later, &conns, err);
	return rc;
}

int audit_forecast_run(const struct topo *t, const struct audit_trust *trust,
		       int64_t at, struct audit_forecast *out, char *err)
{
	struct audit_fnode *trial = NULL;
	size_t max_links;
	int rc;

	memset(out, 0, sizeof(*out));
	out->prevention = -1;
	snprintf(out->name, sizeof(out->name), "%s", t->name);
	snprintf(out->primary, sizeof(out->primary), "%s", t->primary);
	out->verify = t->verify;
	out->dial = t->dial;
	out->link = t->link;
	out->at = at;
	if (t->n_nodes == 0 || t->n_nodes > TOPO_MAX_NODES)
		return ekl_errf(err, EKL_EINVAL,
				"cluster '%s': %zu nodes; "
				"give 1 to %d",
				t->name, t->n_nodes, TOPO_MAX_NODES);
	max_links = t->n_nodes * (t->n_nodes - 1) / 2 + 1;
	out->nodes = ekl_calloc(t->n_nodes, sizeof(*out->nodes));
	out->down = ekl_calloc(max_links, sizeof(*out->down));
	trial = ekl_calloc(t->n_nodes, sizeof(*trial));
	if (out->nodes == NULL || out->down == NULL || trial == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "forecast: out of memory");
		goto err;
	}
	out->n_nodes = t->n_nodes;
	rc = fill_nodes(t, trust, at, out->nodes, err);
	if (rc != 0)
		goto err;
	out->breaks = audit_simulate(
	    out->nodes, out->n_nodes, out->verify, out->dial, out->link,
	    out->primary, at, &out->date, out->down, max_links, &out->n_down);
	if (out->breaks) {
		describe_cause(out);
		plan_steps(out, trial);
	}
	if ((rc = forecast_zones(t, trust, out, err)) != 0)
		goto err;
	ekl_free(trial);
	return 0;
err:
	ekl_free(trial);
	audit_forecast_free(out);
	return rc;
}

void audit_forecast_free(struct audit_forecast *f)
{
	if (f == NULL)
		return;
	ekl_free(f->nodes);
	ekl_free(f->down);
	f->nodes = NULL;
	f->down = NULL;
	f->n_nodes = 0;
	f->n_down = 0;
}

/* "NAME VERSION CERTFILE [c|e]" a line. */
static int load_list(const char *path, struct topo *t, char *err)
{
	char line[2048];
	char dir[512] = "";
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	struct stat st;
	FILE *fp;
	int fd, en;
	int lineno = 0;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (slash != NULL)
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
	/* Never waits on a FIFO for a writer (file_open_read). */
	en = file_open_read(path, &fd, &st);
	if (en != 0)
		return ekl_errf(err, en == ENOENT ? EKL_ENOENT : EKL_EIO,
				"cluster list '%s': %s", path, strerror(en));
	if (fd < 0)
		return ekl_errf(err, EKL_EIO,
				"cluster list '%s': not a regular file", path);
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return ekl_errf(err, EKL_ENOMEM, "cluster list: out of memory");
	}
	t->nodes = ekl_calloc(TOPO_MAX_NODES, sizeof(*t->nodes));
	if (t->nodes == NULL) {
		rc = ekl_errf(err, EKL_ENOMEM, "cluster list: out of memory");
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%.*s", (int)strcspn(base, "."),
		 base);
	t->verify = POL_ENFORCE;
	t->dial = TOPO_DIAL_BOTH;
	t->link = TOPO_LINK_BOTH;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tok[5];
		char *save = NULL;
		char *hash = strchr(line, '#');
		struct topo_node *nd;
		int nt = 0;
		size_t n;

		lineno++;
		if (hash != NULL)
			*hash = '\0';
		for (tok[nt] = strtok_r(line, " \t\r\n", &save);
		     tok[nt] != NULL && nt < 4;)
			tok[++nt] = strtok_r(NULL, " \t\r\n", &save);
		if (nt == 0)
			continue;
		if (nt < 3 || tok[nt] != NULL) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: expected NAME VERSION CERTFILE "
				      "[c|e]",
				      path, lineno);
			goto out;
		}
		if (t->n_nodes == TOPO_MAX_NODES) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: more than %d nodes", path, lineno,
				      TOPO_MAX_NODES);
			goto out;
		}
		nd = &t->nodes[t->n_nodes];
		if (!topo_name_valid(tok[0]) || topo_find(t, tok[0]) != NULL) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a valid, unique node "
				      "name (A-Z a-z 0-9 . _ -)",
				      path, lineno, tok[0]);
			goto out;
		}
		if (strlen(tok[1]) > TOPO_VERSION_MAX ||
		    pol_version_parse(tok[1], &nd->vclass) != 0) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a known version; use "
				      "X14.x, X15.0-X15.3.x, X15.4 or X15.5",
				      path, lineno, tok[1]);
			goto out;
		}
		if (nt == 4 && topo_role_parse(tok[3], &nd->role) != 0) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%d: '%s' is not a role; use c or e",
				      path, lineno, tok[3]);
			goto out;
		}
		snprintf(nd->name, sizeof(nd->name), "%s", tok[0]);
		snprintf(nd->version, sizeof(nd->version), "%s", tok[1]);
		nd->client_eku_check = true;
		nd->line = lineno;
		n = strlen(dir) + strlen(tok[2]) + 2;
		nd->cert.file = ekl_malloc(n);
		if (nd->cert.file == NULL) {
			rc = ekl_errf(err, EKL_ENOMEM,
				      "cluster list: out of memory");
			goto out;
		}
		if (tok[2][0] == '/' || dir[0] == '\0')
			snprintf(nd->cert.file, n, "%s", tok[2]);
		else
			snprintf(nd->cert.file, n, "%s%s%s", dir,
				 strcmp(dir, "/") == 0 ? "" : "/", tok[2]);
		t->n_nodes++;
	}
	if (t->n_nodes == 0) {
		rc = ekl_errf(err, EKL_ECONFIG,
			      "cluster list '%s': no node; write one line per "
			      "node: NAME VERSION CERTFILE [c|e]",
			      path);
		goto out;
	}
	snprintf(t->primary, sizeof(t->primary), "%s", t->nodes[0].name);
out:
	fclose(fp);
	if (rc != 0)
		topo_free(t);
	return rc;
}

int audit_cluster_load(const char *path, struct topo *t, char *err)
{
	if (audit_ends_with(path, ".yaml") || audit_ends_with(path, ".yml"))
		return topo_load(path, t, err);
	return load_list(path, t, err);
}
