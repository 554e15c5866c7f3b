/* lab_status_show.c: a lab's observation printed: the text report (the
 * connection matrix, the pairs, the nodes, what Permissive hides, the
 * faults in force and a legend), JSON, DOT and SVG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "lab_graph.h"
#include "lab_runtime.h"
#include "lab_status.h"

/* Replication of node i as the primary reports it (or as i sees it). */
static const struct lab_peer_status *
repl_of(const struct lab *l, const struct lab_status *s, size_t i, int *primary)
{
	/* Its cluster's primary (a deployment has one per cluster). */
	*primary = (int)labmodel_primary_of(s->obs, i);
	if (*primary < 0 || (size_t)*primary == i)
		return NULL;
	if (s->nodes[*primary].answers)
		return &s->nodes[*primary].peers[i];
	if (s->nodes[i].answers)
		return &s->nodes[i].peers[*primary];
	return NULL;
}

static const char *process_word(const struct lab_node_status *ns)
{
	return !ns->running ? "stopped" : ns->paused ? "paused" : "running";
}

/* "u", "so", "c": the issuing CA, abbreviated in the text table. */
static const char *ca_abbrev(enum pki_ca ca)
{
	return ca == PKI_CA_UNRESTRICTED  ? "u"
	       : ca == PKI_CA_SERVER_ONLY ? "so"
					  : "c";
}

/* The verify mode all nodes report, or "mixed". */
static const char *verify_summary(const struct lab_status *s)
{
	size_t i;

	for (i = 1; i < s->n; i++)
		if (strcmp(s->nodes[i].verify, s->nodes[0].verify) != 0)
			return "mixed";
	return s->n > 0 ? s->nodes[0].verify : "-";
}

/* Of a pair, exactly one dialled direction refused by a certificate check
 * while the other connects: the pair the field notice is about (up under
 * either, down under both). */
static bool one_refused(const struct lab_prediction *o, size_t i, size_t j)
{
	const struct lab_dir *a = &o->dir[i][j], *b = &o->dir[j][i];

	return (a->state == LAB_DIR_REJECTED && b->state == LAB_DIR_OK) ||
	       (b->state == LAB_DIR_REJECTED && a->state == LAB_DIR_OK);
}

/* What verification saw on the connection from -> to but did not
 * enforce: the initiator's check of the acceptor (from's outbound) or the
 * acceptor's check of the initiator (to's inbound); "" when nothing. */
static const char *unenforced(const struct lab_status *s, size_t from,
			      size_t to, size_t *by)
{
	const struct lab_node_status *a = &s->nodes[from], *b = &s->nodes[to];

	if (s->obs->dir[from][to].state != LAB_DIR_OK)
		return "";
	if (b->answers && b->peers[from].in_unenforced[0] != '\0') {
		*by = to;
		return b->peers[from].in_unenforced;
	}
	if (a->answers && a->peers[to].out_unenforced[0] != '\0') {
		*by = from;
		return a->peers[to].out_unenforced;
	}
	return "";
}

static void print_faults(const struct lab *l, const struct lab_status *s,
			 FILE *out)
{
	size_t k;
	int f;

	if (l->n_faults == 0 && s->n_lfaults == 0) {
		fprintf(out, "faults in force: none%s\n",
			!l->tune.direct && !s->proxy_answers
			    ? " on the nodes (the proxy does not answer)"
			    : "");
		return;
	}
	fprintf(out, "faults in force:\n");
	for (f = 0; f < l->n_faults; f++)
		fprintf(out, "  %-16s %-9s %s\n", l->faults[f].name,
			l->faults[f].kind,
			l->faults[f].node[0]
			    ? l->faults[f].node
			    : "(no dialled connection: cuts nothing)");
	for (k = 0; k < s->n_lfaults; k++) {
		const struct proxy_fault_info *p = &s->lfaults[k];

		fprintf(out, "  %-16s %-9s %s", p->name, p->kind, p->routes);
		if (strcmp(p->kind, "latency") == 0)
			fprintf(out, " (%u ms, jitter %u ms)", p->ms,
				p->jitter_ms);
		else if (strcmp(p->kind, "bandwidth") == 0)
			fprintf(out, " (%llu B/s)", p->rate);
		fprintf(out, "\n");
	}
}

/* The model's prediction for the lab as it is (NULL for a lab that is
 * not up: the status is the prediction then). Owned by the caller. */
static struct lab_prediction *zone_prediction(const struct lab *l,
					      const struct lab_status *s)
{
	struct lab_prediction *p;
	char err[EKL_ERRLEN];

	if (s->predicted || s->obs->zones.n == 0 ||
	    (p = ekl_calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (lab_status_predict(l, s, p, err) != 0) {
		ekl_free(p);
		return NULL;
	}
	return p;
}

static const char *zone_word(const struct lab_dir *d)
{
	struct lab_why w;

	labmodel_dir_why(d, &w);
	return d->state == LAB_DIR_OK ? "ok" : labmodel_why_name(&w);
}

/* Zone services: each connection as observed, next to the model's
 * prediction; the version-mismatch finding of each traversal zone. */
static void print_zones_text(const struct lab *l, const struct lab_status *s,
			     FILE *out)
{
	const struct lab_zones *z = &s->obs->zones;
	struct lab_prediction *pred = zone_prediction(l, s);
	size_t k;

	if (z->n == 0) {
		ekl_free(pred);
		return;
	}
	fprintf(out, "\nzone services (FROM opens the connection to TO)\n");
	fprintf(out, "  %-11s %-14s %-14s %-16s %s\n", "service", "from", "to",
		s->predicted ? "predicted" : "observed",
		s->predicted ? "" : "model");
	for (k = 0; k < z->n; k++) {
		const struct lab_zone_conn *c = &z->c[k];
		const struct lab_zone_conn *pc =
		    pred != NULL
			? labmodel_zone_dir(pred, (enum pol_service)c->service,
					    c->from, c->to)
			: NULL;
		const char *obs = lab_status_zone_cell(
		    l, s, (enum pol_service)c->service, c->from, c->to);
		const char *mod = pc != NULL ? zone_word(&pc->d) : "";

		fprintf(out, "  %-11s %-14s %-14s %-16s %s%s\n",
			pol_service_name((enum pol_service)c->service),
			l->nodes[c->from].name, l->nodes[c->to].name, obs, mod,
			pc != NULL && strcmp(mod, obs) != 0 ? "  (differs)"
							    : "");
	}
	for (k = 0; k < l->topo.n_zones && k < TOPO_MAX_ZONES; k++) {
		const struct topo_zone *t = &l->topo.zones[k];

		if (t->type != POL_SVC_TRAVERSAL)
			continue;
		fprintf(out, "  finding: version-mismatch %s-%s %s%s\n",
			topo_zone_end_name(&l->topo, &t->a),
			topo_zone_end_name(&l->topo, &t->b),
			z->mismatch[k] ? "present (C and E must run the same "
					 "version)"
				       : "absent",
			pred != NULL &&
				pred->zones.mismatch[k] != z->mismatch[k]
			    ? "  (the model differs)"
			    : "");
	}
	ekl_free(pred);
}

static void zones_json(const struct lab *l, const struct lab_status *s,
		       struct json *js)
{
	const struct lab_zones *z = &s->obs->zones;
	struct lab_prediction *pred = zone_prediction(l, s);
	size_t k;

	json_key(js, "zones");
	json_arr_begin(js);
	for (k = 0; k < z->n; k++) {
		const struct lab_zone_conn *c = &z->c[k];
		const struct lab_zone_conn *pc =
		    pred != NULL
			? labmodel_zone_dir(pred, (enum pol_service)c->service,
					    c->from, c->to)
			: NULL;

		json_obj_begin(js);
		json_key(js, "service");
		json_str(js, pol_service_name((enum pol_service)c->service));
		json_key(js, "zone");
		json_int(js, (int64_t)c->zone + 1);
		json_key(js, "from");
		json_str(js, l->nodes[c->from].name);
		json_key(js, "to");
		json_str(js, l->nodes[c->to].name);
		json_key(js, "state");
		json_str(js, c->d.state == LAB_DIR_OK ? "up" : "down");
		json_key(js, "code");
		json_str(js, lab_status_zone_cell(l, s,
						  (enum pol_service)c->service,
						  c->from, c->to));
		json_key(js, "rejected_by");
		json_str(js, c->d.state == LAB_DIR_REJECTED
				 ? pol_side_name(c->d.v.side)
				 : NULL);
		json_key(js, "predicted");
		if (pc != NULL)
			json_str(js, zone_word(&pc->d));
		else
			json_null(js);
		json_obj_end(js);
	}
	json_arr_end(js);
	json_key(js, "findings");
	json_arr_begin(js);
	for (k = 0; k < l->topo.n_zones && k < TOPO_MAX_ZONES; k++) {
		const struct topo_zone *t = &l->topo.zones[k];

		if (t->type != POL_SVC_TRAVERSAL)
			continue;
		json_obj_begin(js);
		json_key(js, "finding");
		json_str(js, "version-mismatch");
		json_key(js, "zone");
		json_arr_begin(js);
		json_str(js, topo_zone_end_name(&l->topo, &t->a));
		json_str(js, topo_zone_end_name(&l->topo, &t->b));
		json_arr_end(js);
		json_key(js, "present");
		json_bool(js, z->mismatch[k]);
		json_key(js, "predicted");
		if (pred != NULL)
			json_bool(js, pred->zones.mismatch[k]);
		else
			json_null(js);
		json_obj_end(js);
	}
	json_arr_end(js);
	ekl_free(pred);
}

static void print_text(const struct lab *l, const struct lab_status *s,
		       FILE *out)
{
	const struct lab_prediction *o = s->obs;
	size_t i, j, n = l->topo.n_nodes, by = 0;
	bool any_star = false, any_pending = false;
	int p;

	fprintf(
	    out,
	    "lab %s (%s runtime): primary %s, dial %s, link %s, verify %s\n",
	    l->topo.name, l->rt->name, l->topo.primary,
	    topo_dial_name(l->topo.dial), topo_link_name(l->topo.link),
	    verify_summary(s));
	if (l->topo.multi) {
		size_t c;

		/* Each cluster has its own ClusterDB and primary. */
		fprintf(out, "clusters:");
		for (c = 0; c < l->topo.n_clusters; c++)
			fprintf(out,
				"%s %s (role %s, primary %s, dial %s, link %s)",
				c > 0 ? ";" : "", l->topo.clusters[c].name,
				topo_role_name(l->topo.clusters[c].role),
				l->topo.nodes[l->topo.clusters[c].primary].name,
				topo_dial_name(l->topo.clusters[c].dial),
				topo_link_name(l->topo.clusters[c].link));
		fprintf(out, "\n");
	}
	print_faults(l, s, out);
	fprintf(out,
		"\nconnections (the row node dials the column node)\n%-14s",
		"");
	for (j = 0; j < n; j++)
		fprintf(out, " %-15s", l->nodes[j].name);
	fprintf(out, "\n");
	for (i = 0; i < n; i++) {
		fprintf(out, "%-14s", l->nodes[i].name);
		for (j = 0; j < n; j++) {
			char cell[40];
			const char *c =
			    i == j ? "" : lab_status_cell(l, s, i, j);
			bool star = i != j && unenforced(s, i, j, &by)[0] != 0;

			any_star |= star;
			any_pending |=
			    strcmp(c, "pending") == 0 || strcmp(c, "?") == 0;
			snprintf(cell, sizeof(cell), "%s%s", c,
				 star ? "*" : "");
			fprintf(out, " %-15s", cell);
		}
		fprintf(out, "\n");
	}
	fprintf(out, "\npairs (link rule %s: %s)\n",
		topo_link_name(l->topo.link),
		l->topo.link == TOPO_LINK_BOTH
		    ? "linked when every dialled direction connects"
		    : "linked when a dialled direction connects");
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			const struct lab_pair *pr = labmodel_pair(o, i, j);
			char name[2 * TOPO_NAME_MAX + 4],
			    state[TOPO_NAME_MAX + 40];

			if (!pr->linked && pr->why.kind == LAB_WHY_NOT_DIALLED)
				continue;
			snprintf(name, sizeof(name), "%s-%s", l->nodes[i].name,
				 l->nodes[j].name);
			if (pr->linked)
				snprintf(state, sizeof(state), "up (%s dials)",
					 l->nodes[pr->carrier_from].name);
			else
				snprintf(state, sizeof(state), "down (%s)",
					 labmodel_why_name(&pr->why));
			fprintf(out, "  %-24s %-28s%s\n", name, state,
				one_refused(o, i, j)
				    ? "  ! one direction refused"
				    : "");
		}
	fprintf(out, "\n%-14s %-8s %-10s %-14s %-9s %-28s %-8s %s\n", "node",
		"version", "verify", "certificate", "process", "replication",
		"revision", "lag");
	for (i = 0; i < n; i++) {
		const struct lab_node_status *ns = &s->nodes[i];
		const struct lab_peer_status *r = repl_of(l, s, i, &p);
		char cert[40], state[96], rev[24], lag[24];

		snprintf(cert, sizeof(cert), "%s/%s",
			 pki_profile_name(l->nodes[i].profile),
			 ca_abbrev(l->nodes[i].ca));
		if (p >= 0 && (size_t)p == i)
			snprintf(state, sizeof(state), "primary%s",
				 o->running[i] ? "" : " (not-running)");
		else if (o->repl[i].replicating)
			snprintf(state, sizeof(state), "%s",
				 r != NULL ? r->repl : "replicating");
		else
			snprintf(state, sizeof(state), "stopped (%s)",
				 labmodel_why_name(&o->repl[i].why));
		snprintf(rev, sizeof(rev), "%lld", (long long)ns->revision);
		snprintf(lag, sizeof(lag), "%lld",
			 r != NULL ? (long long)r->lag : 0LL);
		fprintf(out, "%-14s %-8s %-10s %-14s %-9s %-28s %-8s %s\n",
			l->nodes[i].name, l->nodes[i].version, ns->verify, cert,
			process_word(ns), state, ns->revision >= 0 ? rev : "-",
			r != NULL && ns->revision >= 0 && o->repl[i].replicating
			    ? lag
			    : "-");
	}
	for (i = n; i < s->ne; i++) {
		const struct topo_external *x =
		    topo_endpoint_external(&l->topo, i);
		char cert[40], kind[40];

		snprintf(cert, sizeof(cert), "%s/%s",
			 pki_profile_name(l->nodes[i].profile),
			 ca_abbrev(l->nodes[i].ca));
		snprintf(kind, sizeof(kind), "external %s%s",
			 pol_kind_name(x->kind),
			 x->checks_client_eku ? "" : " (no client EKU check)");
		fprintf(out, "%-14s %-8s %-10s %-14s %-9s %s\n",
			l->nodes[i].name, "-", s->nodes[i].verify, cert,
			process_word(&s->nodes[i]), kind);
	}
	print_zones_text(l, s, out);
	if (l->rt->node_host != NULL) {
		fprintf(out, "\nhosts (%s runtime)\n", l->rt->name);
		for (i = 0; i < n; i++)
			fprintf(out, "  %-14s %s\n", l->nodes[i].name,
				s->nodes[i].host[0] ? s->nodes[i].host
						    : "- (not running)");
	}
	if (any_star) {
		fprintf(out,
			"\n* accepted although verification found a problem "
			"(not enforced):\n");
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++) {
				const char *u =
				    i == j ? "" : unenforced(s, i, j, &by);

				if (u[0] == '\0')
					continue;
				fprintf(out,
					"  %s -> %s: %s accepted %s's "
					"certificate: %s (%s)\n",
					l->nodes[i].name, l->nodes[j].name,
					l->nodes[by].name,
					l->nodes[by == i ? j : i].name, u,
					strcmp(s->nodes[by].verify,
					       "permissive") == 0
					    ? "Permissive hides it"
					    : "the X15.4+ ClusterDB bypass");
			}
	}
	fprintf(out,
		"\nlegend:\n"
		"  ok            connected (TLS and Hello passed)\n"
		"  CODE          refused by that certificate check, e.g. "
		"client-purpose (docs/model.md)\n"
		"  cut           a link fault or partition cuts the "
		"connection\n"
		"  not-running   a node of the connection is killed or "
		"paused\n"
		"  -             the dial mode (%s) does not make this "
		"connection\n",
		topo_dial_name(l->topo.dial));
	if (any_pending)
		fprintf(out,
			"  pending       dialled, no result yet; ? the node "
			"does not answer; connect-failed,\n"
			"                timeout, tls, closed: no handshake "
			"yet, as the dialling node reports it\n");
	if (any_star)
		fprintf(out,
			"  *             accepted with a problem verification "
			"did not enforce (listed above)\n");
	fprintf(out,
		"  !             one direction of the pair refused by a "
		"certificate check, the other connects\n"
		"  up (A dials)  linked; A's connection carries the link\n"
		"  PROFILE/CA    the certificate's profile and issuing CA: "
		"u unrestricted, so server-only,\n"
		"                c combined\n"
		"  lag           revisions behind the primary; revision and "
		"lag - : not known (not running,\n"
		"                not answering or not replicating)\n");
}

static void json_dir(struct json *js, const struct lab *l,
		     const struct lab_status *s, size_t i, size_t j)
{
	const struct lab_dir *d = &s->obs->dir[i][j];
	const char *c = lab_status_cell(l, s, i, j);
	struct lab_why why;
	size_t by = 0;
	const char *u = unenforced(s, i, j, &by);

	labmodel_dir_why(d, &why);
	json_obj_begin(js);
	json_key(js, "from");
	json_str(js, l->nodes[i].name);
	json_key(js, "to");
	json_str(js, l->nodes[j].name);
	json_key(js, "state");
	json_str(js, d->state == LAB_DIR_OK ? "up" : "down");
	json_key(js, "code");
	json_str(js, d->state == LAB_DIR_OK ? NULL : c);
	json_key(js, "reason");
	json_str(js, labmodel_why_name(&why));
	json_key(js, "rejected_by");
	json_str(js, d->state == LAB_DIR_REJECTED ? pol_side_name(d->v.side)
						  : NULL);
	json_key(js, "depth");
	if (d->state == LAB_DIR_REJECTED && d->v.depth >= 0)
		json_int(js, d->v.depth);
	else
		json_null(js);
	json_key(js, "unenforced");
	json_str(js, u[0] != '\0' ? u : NULL);
	json_obj_end(js);
}

static void print_json(const struct lab *l, const struct lab_status *s,
		       FILE *out)
{
	const struct lab_prediction *o = s->obs;
	size_t i, j, k, n = l->topo.n_nodes;
	struct json js;
	int p, f;

	json_init(&js);
	json_obj_begin(&js);
	json_key(&js, "lab");
	json_str(&js, l->topo.name);
	json_key(&js, "runtime");
	json_str(&js, l->rt->name);
	json_key(&js, "primary");
	json_str(&js, l->topo.primary);
	json_key(&js, "dial");
	json_str(&js, topo_dial_name(l->topo.dial));
	json_key(&js, "link_rule");
	json_str(&js, topo_link_name(l->topo.link));
	json_key(&js, "verify");
	json_str(&js, verify_summary(s));
	if (l->topo.multi) {
		size_t c;

		json_key(&js, "clusters");
		json_arr_begin(&js);
		for (c = 0; c < l->topo.n_clusters; c++) {
			const struct topo_cluster *tc = &l->topo.clusters[c];

			json_obj_begin(&js);
			json_key(&js, "name");
			json_str(&js, tc->name);
			json_key(&js, "role");
			json_str(&js, topo_role_name(tc->role));
			json_key(&js, "primary");
			json_str(&js, l->topo.nodes[tc->primary].name);
			json_key(&js, "dial");
			json_str(&js, topo_dial_name(tc->dial));
			json_key(&js, "link_rule");
			json_str(&js, topo_link_name(tc->link));
			json_obj_end(&js);
		}
		json_arr_end(&js);
	}
	json_key(&js, "faults");
	json_arr_begin(&js);
	for (f = 0; f < l->n_faults; f++) {
		json_obj_begin(&js);
		json_key(&js, "name");
		json_str(&js, l->faults[f].name);
		json_key(&js, "kind");
		json_str(&js, l->faults[f].kind);
		json_key(&js, "node");
		json_str(&js, l->faults[f].node[0] ? l->faults[f].node : NULL);
		if (l->faults[f].node[0] == '\0') {
			json_key(&js, "routes");
			json_str(&js, ""); /* the dial mode makes none */
		}
		json_obj_end(&js);
	}
	for (k = 0; k < s->n_lfaults; k++) {
		json_obj_begin(&js);
		json_key(&js, "name");
		json_str(&js, s->lfaults[k].name);
		json_key(&js, "kind");
		json_str(&js, s->lfaults[k].kind);
		json_key(&js, "routes");
		json_str(&js, s->lfaults[k].routes);
		json_obj_end(&js);
	}
	json_arr_end(&js);
	json_key(&js, "links");
	json_arr_begin(&js);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (i != j && lab_dials(l, i, j))
				json_dir(&js, l, s, i, j);
	json_arr_end(&js);
	json_key(&js, "pairs");
	json_arr_begin(&js);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			const struct lab_pair *pr = labmodel_pair(o, i, j);

			if (!labmodel_same_cluster(o, i, j))
				continue; /* no ClusterDB between clusters */
			json_obj_begin(&js);
			json_key(&js, "nodes");
			json_arr_begin(&js);
			json_str(&js, l->nodes[i].name);
			json_str(&js, l->nodes[j].name);
			json_arr_end(&js);
			json_key(&js, "linked");
			json_bool(&js, pr->linked);
			json_key(&js, "reason");
			json_str(&js, pr->linked ? NULL
						 : labmodel_why_name(&pr->why));
			json_key(&js, "carrier");
			if (pr->linked) {
				json_arr_begin(&js);
				json_str(&js, l->nodes[pr->carrier_from].name);
				json_str(&js, l->nodes[pr->carrier_to].name);
				json_arr_end(&js);
			} else {
				json_null(&js);
			}
			json_key(&js, "one_refused");
			json_bool(&js, one_refused(o, i, j));
			json_obj_end(&js);
		}
	json_arr_end(&js);
	json_key(&js, "nodes");
	json_arr_begin(&js);
	for (i = 0; i < n; i++) {
		const struct lab_node_status *ns = &s->nodes[i];
		const struct lab_peer_status *r = repl_of(l, s, i, &p);

		json_obj_begin(&js);
		json_key(&js, "name");
		json_str(&js, l->nodes[i].name);
		json_key(&js, "version");
		json_str(&js, l->nodes[i].version);
		json_key(&js, "certificate");
		json_str(&js, pki_profile_name(l->nodes[i].profile));
		json_key(&js, "ca");
		json_str(&js, pki_ca_name(l->nodes[i].ca));
		json_key(&js, "verify");
		json_str(&js, ns->verify);
		json_key(&js, "process");
		json_str(&js, process_word(ns));
		json_key(&js, "pid");
		json_int(&js, ns->pid);
		if (l->rt->node_host != NULL) {
			json_key(&js, "host");
			json_str(&js, ns->host[0] ? ns->host : NULL);
		}
		json_key(&js, "uptime_ms");
		json_int(&js, ns->uptime_ms);
		json_key(&js, "revision");
		json_int(&js, ns->revision);
		json_key(&js, "replication");
		if (p >= 0 && (size_t)p == i) {
			json_str(&js, "primary");
		} else if (r == NULL && o->repl[i].replicating) {
			json_null(&js);
		} else {
			json_obj_begin(&js);
			json_key(&js, "state");
			json_str(&js, o->repl[i].replicating && r != NULL
					  ? r->repl
					  : "stopped");
			json_key(&js, "reason");
			json_str(&js, o->repl[i].replicating
					  ? NULL
					  : labmodel_why_name(&o->repl[i].why));
			json_key(&js, "applied_revision");
			json_int(&js, r != NULL ? r->applied : -1);
			json_key(&js, "lag");
			json_int(&js, r != NULL ? r->lag : -1);
			json_obj_end(&js);
		}
		json_obj_end(&js);
	}
	for (i = n; i < s->ne; i++) {
		const struct lab_node_status *ns = &s->nodes[i];
		const struct topo_external *x =
		    topo_endpoint_external(&l->topo, i);

		json_obj_begin(&js);
		json_key(&js, "name");
		json_str(&js, l->nodes[i].name);
		json_key(&js, "kind");
		json_str(&js, pol_kind_name(x->kind));
		json_key(&js, "checks_client_eku");
		json_bool(&js, x->checks_client_eku);
		json_key(&js, "certificate");
		json_str(&js, pki_profile_name(l->nodes[i].profile));
		json_key(&js, "ca");
		json_str(&js, pki_ca_name(l->nodes[i].ca));
		json_key(&js, "verify");
		json_str(&js, ns->verify);
		json_key(&js, "process");
		json_str(&js, process_word(ns));
		json_key(&js, "pid");
		json_int(&js, ns->pid);
		json_obj_end(&js);
	}
	json_arr_end(&js);
	if (s->obs->zones.n > 0)
		zones_json(l, s, &js);
	json_obj_end(&js);
	if (json_finish(&js) != NULL)
		fprintf(out, "%s\n", json_finish(&js));
	json_close(&js);
}

void lab_status_print(const struct lab *l, const struct lab_status *s,
		      bool json)
{
	lab_status_fprint(l, s, json, stdout);
}

void lab_status_fprint(const struct lab *l, const struct lab_status *s,
		       bool json, FILE *out)
{
	if (json)
		print_json(l, s, out);
	else
		print_text(l, s, out);
}

/* A colour per version class, as graph nodes. */
static const char *version_colour(const char *version)
{
	enum pol_vclass v;

	if (pol_version_parse(version, &v) != 0)
		return "#dddddd";
	switch (v) {
	case POL_V_PRE154: return "#f6c38b";
	case POL_V_X154: return "#9ecae1";
	case POL_V_X155: return "#a1d99b";
	}
	return "#dddddd";
}

static const char *edge_colour(const char *cell)
{
	if (strcmp(cell, "ok") == 0)
		return "#2ca02c";
	if (strcmp(cell, "stopped") == 0 || strcmp(cell, "paused") == 0 ||
	    strcmp(cell, "pending") == 0 || strcmp(cell, "?") == 0)
		return "#999999";
	return "#d62728";
}

/* A deployment drawn from the observation: the model's state of the lab
 * as it is (versions, certificates, faults, cuts) with what each endpoint
 * is observed doing, and the observed connections in the model's words.
 * false when it is not a deployment (the caller draws the nodes). */
static bool deployment_graph(const struct lab *l, const struct lab_status *s,
			     enum lab_graph_format fmt, FILE *f)
{
	struct lab_state *st;
	char err[EKL_ERRLEN], title[TOPO_NAME_MAX + 96];
	size_t i;

	if (!topo_is_deployment(&l->topo) || s->obs == NULL)
		return false;
	st = ekl_calloc(1, sizeof(*st));
	if (st == NULL || lab_status_state(l, s, st, err) != 0) {
		fprintf(stderr, "ekulab: lab graph: %s\n",
			st == NULL ? "out of memory" : err);
		ekl_free(st);
		return true;
	}
	for (i = 0; i < s->ne; i++)
		if (!s->nodes[i].running)
			labmodel_set_running(st, i, false);
	snprintf(title, sizeof(title), "deployment %s%s", l->topo.name,
		 s->predicted ? ": the model's prediction (the lab is not up)"
			      : ": as observed");
	lab_graph_write(st, s->obs, title, fmt, f);
	ekl_free(st);
	return true;
}

void lab_status_dot(const struct lab *l, const struct lab_status *s, FILE *f)
{
	size_t i, j, n = l->topo.n_nodes;

	if (deployment_graph(l, s, LAB_GRAPH_DOT, f))
		return;

	fprintf(f,
		"digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, "
		"style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
		l->topo.name);
	if (s->predicted)
		fprintf(f,
			"  labelloc=t;\n  label=\"%s: the model's "
			"prediction (the lab is not up)\";\n",
			l->topo.name);
	for (i = 0; i < n; i++)
		fprintf(f,
			"  \"%s\" [label=\"%s\\n%s\\n%s/%s%s\", "
			"fillcolor=\"%s\"%s];\n",
			l->nodes[i].name, l->nodes[i].name, l->nodes[i].version,
			pki_profile_name(l->nodes[i].profile),
			pki_ca_name(l->nodes[i].ca),
			strcasecmp(l->nodes[i].name, l->topo.primary) == 0
			    ? "\\n(primary)"
			    : "",
			version_colour(l->nodes[i].version),
			s->nodes[i].running ? ""
					    : ", style=\"rounded,dashed\"");
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *c;

			if (i == j || !lab_dials(l, i, j))
				continue;
			c = lab_status_cell(l, s, i, j);
			fprintf(f,
				"  \"%s\" -> \"%s\" [color=\"%s\", "
				"fontcolor=\"%s\", label=\"%s\"%s];\n",
				l->nodes[i].name, l->nodes[j].name,
				edge_colour(c), edge_colour(c),
				strcmp(c, "ok") == 0 ? "" : c,
				strcmp(c, "ok") == 0 ? ", penwidth=2"
						     : ", style=dashed");
		}
	fprintf(f, "}\n");
}

/* A self-contained SVG: nodes on a circle inside a box for the cluster,
 * one curved arrow per directed connection, the two directions of a pair
 * bowed to opposite sides with their own ends, coloured by state, each
 * refusal labelled near its source with the code and the side that
 * refused; a legend for every mark (version colours, the primary's
 * outline, a stopped node, arrows). */
void lab_status_svg(const struct lab *l, const struct lab_status *s, FILE *f)
{
	size_t i, j, n = l->topo.n_nodes;
	double rad = n > 1 ? 150 + 40 * (double)n : 0;
	double w = 2 * rad + 360, h = 2 * rad + 300, cx = w / 2,
	       cy = 70 + rad + 60;
	double *x, *y;

	if (deployment_graph(l, s, LAB_GRAPH_SVG, f))
		return;
	x = calloc(n, sizeof(double));
	y = calloc(n, sizeof(double));
	if (x == NULL || y == NULL) {
		free(x);
		free(y);
		return;
	}
	if (w < 840)
		w = 840, cx = w / 2;
	for (i = 0; i < n; i++) {
		double a = -M_PI / 2 + 2 * M_PI * (double)i / (double)n;

		x[i] = cx + rad * cos(a);
		y[i] = cy + rad * sin(a);
	}
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"Helvetica,Arial,sans-serif\">\n"
		"<title>ekulab lab %s</title>\n"
		"<defs>\n",
		w, h, w, h, l->topo.name);
	{
		static const char *const cols[] = {"#2ca02c", "#d62728",
						   "#999999"};
		size_t k;

		for (k = 0; k < 3; k++)
			fprintf(f,
				"<marker id=\"m%zu\" viewBox=\"0 0 10 10\" "
				"refX=\"10\" refY=\"5\" markerWidth=\"8\" "
				"markerHeight=\"8\" orient=\"auto\"><path "
				"d=\"M0,0 L10,5 L0,10 z\" fill=\"%s\"/>"
				"</marker>\n",
				k, cols[k]);
	}
	fprintf(f, "</defs>\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n");
	fprintf(f,
		"<text x=\"20\" y=\"30\" font-size=\"18\">lab %s: verify "
		"%s, primary %s, dial %s, link %s%s</text>\n",
		l->topo.name, pol_mode_name(l->topo.verify), l->topo.primary,
		topo_dial_name(l->topo.dial), topo_link_name(l->topo.link),
		s->predicted ? " \xe2\x80\x94 the model's prediction (the lab "
			       "is not up)"
			     : "");
	/* The cluster as a group. */
	fprintf(f,
		"<g class=\"cluster\"><rect x=\"%.1f\" y=\"%.1f\" "
		"width=\"%.1f\" height=\"%.1f\" rx=\"18\" fill=\"#f7f9fc\" "
		"stroke=\"#9aa7b8\" stroke-dasharray=\"8,5\"/>\n"
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
		"fill=\"#5a6b80\">cluster %s</text></g>\n",
		cx - rad - 110, cy - rad - 60, 2 * rad + 220, 2 * rad + 120,
		cx - rad - 96, cy - rad - 40, l->topo.name);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const struct lab_dir *d = &s->obs->dir[i][j];
			const char *c, *col, *who = "";
			double dx, dy, len, nx, ny, sx, sy, ex, ey, mx, my, lx,
			    ly, t = 0.24;
			int m;

			if (i == j || !lab_dials(l, i, j))
				continue;
			c = lab_status_cell(l, s, i, j);
			col = edge_colour(c);
			m = strcmp(col, "#2ca02c") == 0	  ? 0
			    : strcmp(col, "#d62728") == 0 ? 1
							  : 2;
			if (d->state == LAB_DIR_REJECTED)
				who = d->v.side == POL_SIDE_ACCEPTOR
					  ? l->nodes[j].name
					  : l->nodes[i].name;
			dx = x[j] - x[i];
			dy = y[j] - y[i];
			len = sqrt(dx * dx + dy * dy);
			nx = -dy / len;
			ny = dx / len;
			/* Each direction leaves and arrives 9 px to its own
			 * side, and bows 45 px that way: the two never
			 * share a point. */
			sx = x[i] + dx / len * 72 + nx * 9;
			sy = y[i] + dy / len * 34 + ny * 9;
			ex = x[j] - dx / len * 72 + nx * 9;
			ey = y[j] - dy / len * 34 + ny * 9;
			mx = (sx + ex) / 2 + nx * 45;
			my = (sy + ey) / 2 + ny * 45;
			fprintf(f,
				"<path d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\" "
				"stroke=\"%s\" stroke-width=\"%s\" "
				"fill=\"none\"%s marker-end=\"url(#m%d)\">"
				"<title>%s -&gt; %s: %s</title></path>\n",
				sx, sy, mx, my, ex, ey, col,
				m == 0 ? "2.5" : "1.8",
				m == 0 ? "" : " stroke-dasharray=\"6,4\"", m,
				l->nodes[i].name, l->nodes[j].name, c);
			if (m == 0)
				continue;
			/* The label near the source, on the curve. */
			lx = (1 - t) * (1 - t) * sx + 2 * (1 - t) * t * mx +
			     t * t * ex + nx * 10;
			ly = (1 - t) * (1 - t) * sy + 2 * (1 - t) * t * my +
			     t * t * ey + ny * 10;
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
				"fill=\"%s\" text-anchor=\"middle\" "
				"stroke=\"white\" stroke-width=\"3\" "
				"paint-order=\"stroke\">%s%s%s%s</text>\n",
				lx, ly, col, c, who[0] ? " (" : "", who,
				who[0] ? " rejects)" : "");
		}
	for (i = 0; i < n; i++) {
		bool prim = strcasecmp(l->nodes[i].name, l->topo.primary) == 0;

		fprintf(
		    f,
		    "<g class=\"node\"><rect x=\"%.1f\" y=\"%.1f\" "
		    "width=\"144\" height=\"64\" rx=\"10\" fill=\"%s\" "
		    "stroke=\"#333\" stroke-width=\"%s\"%s/>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
		    "text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "text-anchor=\"middle\">%s%s%s</text>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "text-anchor=\"middle\">%s/%s</text></g>\n",
		    x[i] - 72, y[i] - 32, version_colour(l->nodes[i].version),
		    prim ? "3.5" : "1",
		    s->nodes[i].running ? ""
					: " stroke-dasharray=\"5,3\" "
					  "opacity=\"0.6\"",
		    x[i], y[i] - 12, l->nodes[i].name, x[i], y[i] + 4,
		    l->nodes[i].version, prim ? " (primary)" : "",
		    s->nodes[i].running ? "" : " stopped", x[i], y[i] + 20,
		    pki_profile_name(l->nodes[i].profile),
		    pki_ca_name(l->nodes[i].ca));
	}
	/* The legend. */
	{
		double ly = h - 110;

		fprintf(
		    f,
		    "<g class=\"legend\" font-size=\"12\">"
		    "<rect x=\"20\" y=\"%.1f\" width=\"%.1f\" height=\"96\" "
		    "rx=\"8\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n",
		    ly, w - 40);
		fprintf(
		    f,
		    "<rect x=\"34\" y=\"%.1f\" width=\"18\" height=\"12\" "
		    "fill=\"#f6c38b\" stroke=\"#333\"/><text x=\"58\" "
		    "y=\"%.1f\">pre-X15.4</text>"
		    "<rect x=\"140\" y=\"%.1f\" width=\"18\" height=\"12\" "
		    "fill=\"#9ecae1\" stroke=\"#333\"/><text x=\"164\" "
		    "y=\"%.1f\">X15.4</text>"
		    "<rect x=\"230\" y=\"%.1f\" width=\"18\" height=\"12\" "
		    "fill=\"#a1d99b\" stroke=\"#333\"/><text x=\"254\" "
		    "y=\"%.1f\">X15.5</text>"
		    "<rect x=\"320\" y=\"%.1f\" width=\"18\" height=\"12\" "
		    "fill=\"white\" stroke=\"#333\" stroke-width=\"3.5\"/>"
		    "<text x=\"344\" y=\"%.1f\">the primary (thick "
		    "outline)</text>"
		    "<rect x=\"520\" y=\"%.1f\" width=\"18\" height=\"12\" "
		    "fill=\"white\" stroke=\"#333\" stroke-dasharray=\"5,3\"/>"
		    "<text x=\"544\" y=\"%.1f\">stopped (killed or "
		    "paused)</text>\n",
		    ly + 14, ly + 25, ly + 14, ly + 25, ly + 14, ly + 25,
		    ly + 14, ly + 25, ly + 14, ly + 25);
		fprintf(f,
			"<path d=\"M34,%.1f L74,%.1f\" stroke=\"#2ca02c\" "
			"stroke-width=\"2.5\" marker-end=\"url(#m0)\"/>"
			"<text x=\"82\" y=\"%.1f\">connection up (TLS and "
			"Hello passed)</text>"
			"<path d=\"M330,%.1f L370,%.1f\" stroke=\"#d62728\" "
			"stroke-width=\"1.8\" stroke-dasharray=\"6,4\" "
			"marker-end=\"url(#m1)\"/><text x=\"378\" y=\"%.1f\">"
			"refused: the code, and which node rejects, next to "
			"the dialling node</text>\n"
			"<path d=\"M34,%.1f L74,%.1f\" stroke=\"#999999\" "
			"stroke-width=\"1.8\" stroke-dasharray=\"6,4\" "
			"marker-end=\"url(#m2)\"/><text x=\"82\" y=\"%.1f\">"
			"not running, cut, or no handshake yet</text>"
			"<text x=\"330\" y=\"%.1f\">arrows: from the node "
			"that dials; a pair's two directions bow apart</text>"
			"</g>\n",
			ly + 48, ly + 48, ly + 52, ly + 48, ly + 48, ly + 52,
			ly + 76, ly + 76, ly + 80, ly + 80);
	}
	fprintf(f, "</svg>\n");
	free(x);
	free(y);
}

void lab_status_mermaid(const struct lab *l, const struct lab_status *s,
			FILE *f)
{
	size_t i, j, n = l->topo.n_nodes;
	int k = 0;

	if (deployment_graph(l, s, LAB_GRAPH_MERMAID, f))
		return;
	fprintf(
	    f, "---\ntitle: \"lab %s%s\"\n---\nflowchart LR\n", l->topo.name,
	    s->predicted ? " (the model's prediction: the lab is not up)" : "");
	for (i = 0; i < n; i++) {
		enum pol_vclass v;
		const char *cls = "other";

		if (pol_version_parse(l->nodes[i].version, &v) == 0)
			cls = v == POL_V_PRE154 ? "pre154"
			      : v == POL_V_X154 ? "x154"
						: "x155";
		/* ids n0, n1, ...: node names may hold '.' */
		fprintf(f, "  n%zu[\"%s<br/>%s<br/>%s/%s%s\"]:::%s%s\n", i,
			l->nodes[i].name, l->nodes[i].version,
			pki_profile_name(l->nodes[i].profile),
			pki_ca_name(l->nodes[i].ca),
			strcasecmp(l->nodes[i].name, l->topo.primary) == 0
			    ? "<br/>(primary)"
			    : "",
			cls, s->nodes[i].running ? "" : "_stopped");
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *c;

			if (i == j || !lab_dials(l, i, j))
				continue;
			c = lab_status_cell(l, s, i, j);
			fprintf(f, "  n%zu %s|%s| n%zu\n", i,
				strcmp(c, "ok") == 0 ? "==>" : "-.->", c, j);
			fprintf(f, "  linkStyle %d stroke:%s,color:%s\n", k,
				edge_colour(c), edge_colour(c));
			k++;
		}
	fprintf(f, "  classDef pre154 fill:#f6c38b,stroke:#333\n"
		   "  classDef x154 fill:#9ecae1,stroke:#333\n"
		   "  classDef x155 fill:#a1d99b,stroke:#333\n"
		   "  classDef other fill:#dddddd,stroke:#333\n"
		   "  classDef pre154_stopped fill:#f6c38b,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef x154_stopped fill:#9ecae1,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef x155_stopped fill:#a1d99b,stroke:#333,"
		   "stroke-dasharray:4\n"
		   "  classDef other_stopped fill:#dddddd,stroke:#333,"
		   "stroke-dasharray:4\n");
}
