/* lab_status.c: a running lab observed in the model's terms: collecting
 * each node's link table, the runtime's process states and the proxy's
 * routes; the observation built with the model's precedence of reasons;
 * the comparison with a prediction; `lab up`'s wait until they agree.
 * (Printing: lab_status_show.c.) */
#include "lab_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab_interrupt.h"
#include "lab_runtime.h"

/* How long one node may take to answer a status request. */
#define STATUS_TIMEOUT_MS 3000

/* What node i said about itself and its peers. */
static void fill(const struct lab *l, struct lab_node_status *ns,
		 const struct node_status *st)
{
	size_t k;

	snprintf(ns->primary, sizeof(ns->primary), "%s",
		 st->primary[0] ? st->primary : "-");
	snprintf(ns->verify, sizeof(ns->verify), "%s", st->verify);
	snprintf(ns->version, sizeof(ns->version), "%s", st->version);
	if (st->n_zones > 0) {
		ns->zones = ekl_calloc(st->n_zones, sizeof(*ns->zones));
		if (ns->zones != NULL) {
			memcpy(ns->zones, st->zones,
			       st->n_zones * sizeof(*ns->zones));
			ns->n_zones = st->n_zones;
		}
	}
	ns->revision = st->revision;
	ns->pid = st->pid;
	ns->uptime_ms = st->uptime_ms;
	for (k = 0; k < st->n_peers; k++) {
		const struct node_peer_status *p = &st->peers[k];
		int j = lab_node_index(l, p->name);
		struct lab_peer_status *o;

		if (j < 0)
			continue;
		o = &ns->peers[j];
		o->link_up = p->link_up;
		memcpy(o->out, p->out, sizeof(o->out));
		memcpy(o->in, p->in, sizeof(o->in));
		o->out_depth = p->out_depth;
		o->in_depth = p->in_depth;
		snprintf(o->out_by, sizeof(o->out_by), "%s", p->out_by);
		snprintf(o->in_by, sizeof(o->in_by), "%s", p->in_by);
		memcpy(o->out_unenforced, p->out_unenforced,
		       sizeof(o->out_unenforced));
		memcpy(o->in_unenforced, p->in_unenforced,
		       sizeof(o->in_unenforced));
		memcpy(o->repl, p->repl, sizeof(o->repl));
		memcpy(o->reason, p->reason, sizeof(o->reason));
		o->applied = p->applied;
		o->lag = p->lag;
	}
}

static bool is_paused(const struct lab *l, size_t i)
{
	int k;

	for (k = 0; k < l->n_faults; k++)
		if (strcmp(l->faults[k].kind, "pause") == 0 &&
		    strcmp(l->faults[k].node, l->nodes[i].name) == 0)
			return true;
	return false;
}

/* The proxy's routes and faults (nothing when the lab is direct, or the
 * proxy does not answer: then no route counts as cut). */
static int collect_proxy(const struct lab *l, struct lab_status *s, char *err)
{
	struct proxy_route_info *r = NULL;
	char sock[LAB_PATH_MAX + 32], e[EKL_ERRLEN];
	size_t nr = 0, k;

	if (l->tune.direct)
		return 0;
	lab_path(l, NULL, "proxy.sock", sock, sizeof(sock));
	if (proxy_client_routes(sock, &r, &nr, e) != 0)
		return 0;
	s->proxy_answers = true;
	for (k = 0; k < nr; k++) {
		char from[TOPO_NAME_MAX + 1], *gt;
		int i, j;

		snprintf(from, sizeof(from), "%.63s", r[k].name);
		gt = strchr(from, '>');
		if (gt == NULL)
			continue;
		*gt = '\0';
		i = lab_node_index(l, from);
		j = lab_node_index(l, strchr(r[k].name, '>') + 1);
		if (i < 0 || j < 0)
			continue;
		snprintf(s->route_state[(size_t)i * s->ne + (size_t)j],
			 sizeof(s->route_state[0]), "%s", r[k].state);
	}
	proxy_client_routes_free(r, nr);
	if (proxy_client_faults(sock, &s->lfaults, &s->n_lfaults, e) != 0) {
		s->lfaults = NULL;
		s->n_lfaults = 0;
	}
	(void)err;
	return 0;
}

/* A route a fault cuts: down, blackhole or reset (latency and bandwidth
 * leave it open). */
static bool route_cut(const struct lab_status *s, size_t i, size_t j)
{
	const char *st;

	if (s->route_state == NULL) /* a prediction: no proxy */
		return false;
	st = s->route_state[i * s->ne + j];

	return st[0] != '\0' && strcmp(st, "open") != 0;
}

static bool is_cert_code(const char *c, enum pol_code *code)
{
	return pol_code_parse(c, code) == 0 && *code != POL_OK;
}

/* The facts of from -> to, resolved by the model's precedence. */
static void observe_dir(const struct lab *l, const struct lab_status *s,
			size_t i, size_t j, struct lab_dir *out)
{
	const struct lab_node_status *a = &s->nodes[i];
	const struct lab_peer_status *p = &a->peers[j];
	struct lab_dir_facts f;
	enum pol_code code;

	memset(&f, 0, sizeof(f));
	f.v.depth = -1;
	f.dialled = lab_dials(l, i, j);
	f.from_running = s->obs->running[i];
	f.to_running = s->obs->running[j];
	f.cut = route_cut(s, i, j);
	if (a->answers && strcmp(p->out, "up") == 0) {
		f.handshake = true;
		f.v.ok = true;
	} else if (a->answers && is_cert_code(p->out, &code)) {
		f.handshake = true;
		f.v.code = code;
		f.v.depth = p->out_depth;
		f.v.side = strcmp(p->out_by, "initiator") == 0
			       ? POL_SIDE_INITIATOR
			       : POL_SIDE_ACCEPTOR;
		/* The acceptor knows the depth of its own rejection. */
		if (f.v.depth < 0 && s->nodes[j].answers &&
		    strcmp(s->nodes[j].peers[i].in, p->out) == 0)
			f.v.depth = s->nodes[j].peers[i].in_depth;
	}
	labmodel_dir_resolve(&f, out);
}

/* What endpoint `from` reports of its zone connection to `to`, or NULL. */
static const struct node_zone_status *zone_report(const struct lab *l,
						  const struct lab_status *s,
						  enum pol_service svc,
						  size_t from, size_t to)
{
	const struct lab_node_status *a = &s->nodes[from];
	size_t k;

	if (!a->answers)
		return NULL;
	for (k = 0; k < a->n_zones; k++)
		if (a->zones[k].outbound &&
		    strcmp(a->zones[k].service, pol_service_name(svc)) == 0 &&
		    strcasecmp(a->zones[k].peer, l->nodes[to].name) == 0)
			return &a->zones[k];
	return NULL;
}

/* One zone connection observed, by the model's precedence: the
 * initiator's last attempt says how the handshake (and, for mra, the SIP
 * SERVICE check) ended. */
static void observe_zone(const struct lab *l, const struct lab_status *s,
			 const bool *running, const struct lab_zroute *z,
			 enum pol_service svc, struct lab_zone_conn *out)
{
	const struct node_zone_status *r =
	    zone_report(l, s, svc, z->from, z->to);
	struct lab_dir_facts f;
	enum pol_code code;

	memset(out, 0, sizeof(*out));
	out->zone = (uint8_t)z->zone;
	out->service = (uint8_t)svc;
	out->from = (uint8_t)z->from;
	out->to = (uint8_t)z->to;
	memset(&f, 0, sizeof(f));
	f.v.depth = -1;
	f.dialled = true;
	f.from_running = running[z->from];
	f.to_running = running[z->to];
	f.cut = route_cut(s, z->from, z->to);
	/* A result older than the peer's process is about the process
	 * before it (a restart for an upgrade or a renewal): not yet a
	 * handshake with this one. */
	if (r != NULL && s->nodes[z->to].uptime_ms >= 0 &&
	    (r->age_ms < 0 || r->age_ms >= s->nodes[z->to].uptime_ms))
		r = NULL;
	if (r != NULL && strcmp(r->state, "up") == 0 &&
	    strcmp(r->code, "ok") == 0) {
		f.handshake = true;
		f.v.ok = true;
	} else if (r != NULL && is_cert_code(r->code, &code)) {
		f.handshake = true;
		f.v.code = code;
		f.v.depth = r->depth;
		f.v.side = strcmp(r->by, "initiator") == 0 ? POL_SIDE_INITIATOR
							   : POL_SIDE_ACCEPTOR;
	}
	labmodel_dir_resolve(&f, &out->d);
}

/* Traversal zones whose ends run different version classes, by the
 * versions the nodes report (lab.conf's for one that does not answer). */
static void observe_mismatch(const struct lab *l, const struct lab_status *s,
			     struct lab_zones *z)
{
	size_t zi, i, j, n = l->topo.n_nodes;

	for (zi = 0; zi < l->topo.n_zones && zi < TOPO_MAX_ZONES; zi++) {
		const struct topo_zone *t = &l->topo.zones[zi];

		z->mismatch[zi] = false;
		if (t->type != POL_SVC_TRAVERSAL)
			continue;
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++) {
				enum pol_vclass a, b;
				const char *va = s->nodes[i].answers
						     ? s->nodes[i].version
						     : l->nodes[i].version;
				const char *vb = s->nodes[j].answers
						     ? s->nodes[j].version
						     : l->nodes[j].version;

				if (topo_zone_end_has(&l->topo, &t->a, i) &&
				    topo_zone_end_has(&l->topo, &t->b, j) &&
				    pol_version_parse(va, &a) == 0 &&
				    pol_version_parse(vb, &b) == 0 && a != b)
					z->mismatch[zi] = true;
			}
	}
}

static void observe_zones(const struct lab *l, struct lab_status *s)
{
	struct lab_zones *z = &s->obs->zones;
	bool running[TOPO_MAX_NODES];
	size_t i, k;

	for (i = 0; i < s->ne && i < TOPO_MAX_NODES; i++)
		running[i] = s->nodes[i].running && !s->nodes[i].paused;
	z->n = 0;
	for (k = 0; k < l->n_zroutes; k++) {
		const struct lab_zroute *r = &l->zroutes[k];

		if (z->n + 2 > LAB_MAX_ZONE_CONNS)
			break;
		observe_zone(l, s, running, r, r->service, &z->c[z->n++]);
		if (r->mra)
			observe_zone(l, s, running, r, POL_SVC_MRA,
				     &z->c[z->n++]);
	}
	observe_mismatch(l, s, z);
}

/* The observation: directions, pairs (each cluster's link rule) and
 * replication as each cluster's primary reports it, reasons by the
 * model's precedence; then the zone connections. */
static void observe(const struct lab *l, struct lab_status *s)
{
	struct lab_prediction *o = s->obs;
	const struct topo *t = &l->topo;
	const char *names[TOPO_MAX_NODES];
	size_t i, j, n = s->n;
	int p = lab_node_index(l, l->topo.primary);

	o->n = n;
	o->primary = p >= 0 ? (size_t)p : 0;
	o->link = l->topo.link;
	/* The clusters as labmodel_predict sets them. */
	o->n_clusters = t->n_clusters;
	for (i = 0; i < t->n_clusters; i++) {
		o->cprimary[i] = t->multi ? t->clusters[i].primary : o->primary;
		o->clink[i] = t->multi ? t->clusters[i].link : t->link;
	}
	for (i = 0; i < n; i++) {
		o->cluster[i] = t->nodes[i].cluster;
		names[i] = l->nodes[i].name;
		o->running[i] = s->nodes[i].running && !s->nodes[i].paused;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (i != j)
				observe_dir(l, s, i, j, &o->dir[i][j]);
	labmodel_derive(o, names);
	/* Replication as each primary reports it; the reason, when it
	 * stops, by the model's precedence over what was observed. */
	for (i = 0; i < n; i++) {
		const struct lab_peer_status *r;
		struct lab_why why;
		size_t pr = labmodel_primary_of(o, i);
		bool live;

		if (i == pr)
			continue;
		r = s->nodes[pr].answers ? &s->nodes[pr].peers[i] : NULL;
		live = r != NULL && o->running[i] && o->running[pr] &&
		       (strcmp(r->repl, "replicating") == 0 ||
			strcmp(r->repl, "catching-up") == 0 ||
			strcmp(r->repl, "snapshot") == 0);
		if (live) {
			o->repl[i].replicating = true;
			memset(&o->repl[i].why, 0, sizeof(o->repl[i].why));
		} else if (o->repl[i].replicating) {
			/* Linked, yet the primary does not replicate to it
			 * (starting, or a cause outside the model such as
			 * version skew): say what the node says when it is
			 * a word of the model. */
			o->repl[i].replicating = false;
			if (r != NULL &&
			    labmodel_why_parse(r->reason, &why) == 0)
				o->repl[i].why = why;
			else
				o->repl[i].why.kind = LAB_WHY_CUT;
		}
	}
	observe_zones(l, s);
}

int lab_status_collect(const struct lab *l, struct lab_status *s, char *err)
{
	size_t i, k, n = l->topo.n_nodes, ne = lab_n(l);
	bool *running;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->ne = ne;
	s->nodes = ekl_calloc(ne, sizeof(*s->nodes));
	s->route_state = ekl_calloc(ne * ne + 1, sizeof(*s->route_state));
	s->obs = ekl_calloc(1, sizeof(*s->obs));
	running = ekl_calloc(ne + 1, sizeof(*running));
	if (s->nodes == NULL || s->route_state == NULL || s->obs == NULL ||
	    running == NULL) {
		ekl_free(running);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	lab_nodes_running(l, running);
	for (i = 0; i < ne; i++) {
		struct lab_node_status *ns = &s->nodes[i];
		struct node_status st;
		char e[EKL_ERRLEN];
		int fd;

		ns->peers = ekl_calloc(n, sizeof(*ns->peers));
		if (ns->peers == NULL) {
			ekl_free(running);
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
		}
		for (k = 0; k < n; k++) {
			snprintf(ns->peers[k].out, sizeof(ns->peers[k].out),
				 "-");
			snprintf(ns->peers[k].in, sizeof(ns->peers[k].in), "-");
			snprintf(ns->peers[k].repl, sizeof(ns->peers[k].repl),
				 "-");
			snprintf(ns->peers[k].reason,
				 sizeof(ns->peers[k].reason), "-");
			ns->peers[k].out_depth = ns->peers[k].in_depth = -1;
			ns->peers[k].applied = ns->peers[k].lag = -1;
		}
		snprintf(ns->verify, sizeof(ns->verify), "%s",
			 pol_mode_name(l->nodes[i].verify));
		snprintf(ns->version, sizeof(ns->version), "%s",
			 l->nodes[i].version);
		ns->running = running[i];
		ns->host[0] = '\0';
		if (ns->running && l->rt->node_host != NULL)
			(void)l->rt->node_host(l, (int)i, ns->host,
					       sizeof(ns->host));
		ns->paused = is_paused(l, i);
		ns->revision = -1;
		ns->pid = ns->uptime_ms = -1;
		if (!ns->running || ns->paused)
			continue;
		fd = lab_node_connect_ms(l, (int)i, STATUS_TIMEOUT_MS, e);
		if (fd < 0)
			continue;
		if (node_status_get(fd, &st, e) == 0) {
			ns->answers = true;
			fill(l, ns, &st);
		}
		node_status_free(&st);
		close(fd);
	}
	ekl_free(running);
	collect_proxy(l, s, err);
	observe(l, s);
	return 0;
}

void lab_status_free(struct lab_status *s)
{
	size_t i;

	for (i = 0; s->nodes != NULL && i < s->ne; i++) {
		ekl_free(s->nodes[i].peers);
		ekl_free(s->nodes[i].zones);
	}
	ekl_free(s->nodes);
	ekl_free(s->route_state);
	ekl_free(s->obs);
	proxy_client_faults_free(s->lfaults, s->n_lfaults);
	memset(s, 0, sizeof(*s));
}

const char *lab_status_cell(const struct lab *l, const struct lab_status *s,
			    size_t from, size_t to)
{
	const struct lab_dir *d = &s->obs->dir[from][to];
	const struct lab_node_status *a = &s->nodes[from];

	switch (d->state) {
	case LAB_DIR_NOT_DIALLED: return "-";
	case LAB_DIR_NOT_RUNNING: return "not-running";
	case LAB_DIR_OK: return "ok";
	case LAB_DIR_REJECTED: return pol_code_name(d->v.code);
	case LAB_DIR_CUT: break;
	}
	(void)l;
	if (route_cut(s, from, to))
		return "cut";
	/* Dialled between running nodes, nothing cuts it, no handshake
	 * (yet): what the dialling node says. */
	if (!a->answers)
		return "?";
	if (strcmp(a->peers[to].out, "-") == 0)
		return "pending";
	return a->peers[to].out;
}

const char *lab_status_zone_cell(const struct lab *l,
				 const struct lab_status *s,
				 enum pol_service service, size_t from,
				 size_t to)
{
	const struct lab_zone_conn *c =
	    labmodel_zone_dir(s->obs, service, from, to);
	const struct node_zone_status *r;

	if (c == NULL)
		return "-";
	switch (c->d.state) {
	case LAB_DIR_NOT_DIALLED: return "-";
	case LAB_DIR_NOT_RUNNING: return "not-running";
	case LAB_DIR_OK: return "ok";
	case LAB_DIR_REJECTED: return pol_code_name(c->d.v.code);
	case LAB_DIR_CUT: break;
	}
	if (route_cut(s, from, to))
		return "cut";
	if (s->predicted)
		return "cut";
	r = zone_report(l, s, service, from, to);
	if (r == NULL || strcmp(r->code, "-") == 0)
		return "pending";
	return r->code;
}

bool lab_status_linked(const struct lab_status *s, size_t i, size_t j)
{
	return labmodel_pair(s->obs, i, j)->linked;
}

/* ---- comparing with the model ---- */

static const char *dir_word(const struct lab_dir *d, bool observed)
{
	switch (d->state) {
	case LAB_DIR_OK: return "ok";
	case LAB_DIR_REJECTED: return pol_code_name(d->v.code);
	case LAB_DIR_CUT: return observed ? "no connection (cut)" : "cut";
	case LAB_DIR_NOT_RUNNING: return "not-running";
	case LAB_DIR_NOT_DIALLED: return "not-dialled";
	}
	return "?";
}

bool lab_status_matches(const struct lab_prediction *pred,
			const struct lab_prediction *obs, const struct lab *l,
			char *why, size_t len)
{
	size_t i, j, n = pred->n;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const struct lab_dir *a = &pred->dir[i][j],
					     *b = &obs->dir[i][j];

			if (i == j || (a->state == LAB_DIR_NOT_DIALLED &&
				       b->state == LAB_DIR_NOT_DIALLED))
				continue;
			if (a->state != b->state ||
			    (a->state == LAB_DIR_REJECTED &&
			     a->v.code != b->v.code)) {
				snprintf(why, len,
					 "%s -> %s: predicted %s, observed %s",
					 l->nodes[i].name, l->nodes[j].name,
					 dir_word(a, false), dir_word(b, true));
				return false;
			}
		}
	for (i = 0; i < pred->zones.n; i++) {
		const struct lab_zone_conn *a = &pred->zones.c[i];
		const struct lab_zone_conn *b = labmodel_zone_dir(
		    obs, (enum pol_service)a->service, a->from, a->to);

		if (b == NULL)
			continue; /* the lab runs no such connection */
		if (a->d.state != b->d.state ||
		    (a->d.state == LAB_DIR_REJECTED &&
		     a->d.v.code != b->d.v.code)) {
			snprintf(why, len,
				 "%s %s -> %s: predicted %s, observed %s",
				 pol_service_name((enum pol_service)a->service),
				 l->nodes[a->from].name, l->nodes[a->to].name,
				 dir_word(&a->d, false), dir_word(&b->d, true));
			return false;
		}
	}
	for (i = 0; i < TOPO_MAX_ZONES; i++)
		if (pred->zones.mismatch[i] != obs->zones.mismatch[i]) {
			snprintf(why, len,
				 "zone %zu: version-mismatch predicted %s, "
				 "observed %s",
				 i + 1,
				 pred->zones.mismatch[i] ? "present" : "absent",
				 obs->zones.mismatch[i] ? "present" : "absent");
			return false;
		}
	for (i = 0; i < n; i++) {
		if (labmodel_is_primary(pred, i) || !pred->running[i])
			continue;
		if (pred->repl[i].replicating != obs->repl[i].replicating) {
			snprintf(why, len, "%s: predicted %s, observed %s",
				 l->nodes[i].name,
				 pred->repl[i].replicating ? "replicating"
							   : "not replicating",
				 obs->repl[i].replicating ? "replicating"
							  : "not replicating");
			return false;
		}
	}
	return true;
}

void lab_status_summarize(const struct lab_prediction *p, const struct lab *l,
			  char *buf, size_t len)
{
	size_t i, j, n = p->n, off = 0;
	bool any = false;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++) {
			const struct lab_pair *pr = labmodel_pair(p, i, j);

			if (pr->linked || pr->why.kind == LAB_WHY_NOT_DIALLED ||
			    off + 80 > len)
				continue;
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%s-%s down (%s)",
			    any ? ", " : "", l->nodes[i].name, l->nodes[j].name,
			    labmodel_why_name(&pr->why));
			any = true;
		}
	for (i = 0; i < n; i++) {
		if (labmodel_is_primary(p, i) || p->repl[i].replicating ||
		    off + 80 > len)
			continue;
		off += (size_t)snprintf(buf + off, len - off,
					"%s%s not replicating (%s)",
					any ? "; " : "", l->nodes[i].name,
					labmodel_why_name(&p->repl[i].why));
		any = true;
	}
	for (i = 0; i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];
		struct lab_why w;

		if (c->d.state == LAB_DIR_OK || off + 80 > len)
			continue;
		labmodel_dir_why(&c->d, &w);
		off += (size_t)snprintf(
		    buf + off, len - off, "%s%s %s>%s down (%s)",
		    any ? "; " : "",
		    pol_service_name((enum pol_service)c->service),
		    l->nodes[c->from].name, l->nodes[c->to].name,
		    labmodel_why_name(&w));
		any = true;
	}
	if (!any)
		snprintf(buf, len, "%s",
			 p->zones.n > 0
			     ? "all links up, all replicating, all zone "
			       "services up"
			     : "all links up, all replicating");
}

int lab_status_state(const struct lab *l, const struct lab_status *s,
		     struct lab_state *st, char *err)
{
	size_t i, j, n = l->topo.n_nodes, ne = lab_n(l);
	int k;

	labmodel_init(st, &l->topo, 0);
	for (i = n; i < ne; i++) {
		const struct lab_node *nd = &l->nodes[i];
		const struct topo_external *x =
		    topo_endpoint_external(&l->topo, i);

		if (nd->profile != x->cert.profile || nd->ca != x->cert.ca)
			labmodel_renew(st, i, nd->profile, nd->ca,
				       x->cert.days);
		labmodel_set_verify(st, nd->verify, (int)i);
	}
	for (i = 0; i < n; i++) {
		const struct lab_node *nd = &l->nodes[i];
		const struct topo_node *tn = &l->topo.nodes[i];

		if (labmodel_upgrade(st, i, nd->version) != 0)
			return ekl_errf(err, EKL_EVERSION,
					"node %s: unknown version %s", nd->name,
					nd->version);
		if (nd->profile != tn->cert.profile || nd->ca != tn->cert.ca)
			labmodel_renew(st, i, nd->profile, nd->ca,
				       tn->cert.days);
		labmodel_set_verify(st, nd->verify, (int)i);
	}
	for (k = 0; k < l->n_faults; k++) {
		int i2 = lab_node_index(l, l->faults[k].node);

		if (i2 >= 0)
			labmodel_set_running(st, (size_t)i2, false);
	}
	for (i = 0; s != NULL && i < ne; i++)
		for (j = 0; j < ne; j++)
			if (i != j && route_cut(s, i, j))
				labmodel_cut(st, i, j, true);
	return 0;
}

int lab_status_predict(const struct lab *l, const struct lab_status *s,
		       struct lab_prediction *pred, char *err)
{
	struct lab_state st;
	int rv = lab_status_state(l, s, &st, err);

	return rv != 0 ? rv : labmodel_predict(&st, pred, err);
}

int lab_status_predicted(const struct lab *l, struct lab_status *s, char *err)
{
	size_t i, n = l->topo.n_nodes, ne = lab_n(l);
	int rv;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->ne = ne;
	s->predicted = true;
	s->nodes = ekl_calloc(ne, sizeof(*s->nodes));
	s->obs = ekl_calloc(1, sizeof(*s->obs));
	if (s->nodes == NULL || s->obs == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (i = 0; i < ne; i++) {
		s->nodes[i].peers = ekl_calloc(n, sizeof(*s->nodes[i].peers));
		if (s->nodes[i].peers == NULL)
			return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	if ((rv = lab_status_predict(l, NULL, s->obs, err)) != 0)
		return rv;
	for (i = 0; i < ne; i++) {
		s->nodes[i].running = i < n ? s->obs->running[i] : true;
		s->nodes[i].pid = -1;
		s->nodes[i].uptime_ms = -1;
	}
	return 0;
}

int lab_status_settle(const struct lab *l, double seconds, char *err)
{
	struct lab_prediction *pred = ekl_calloc(1, sizeof(*pred));
	char why[320] = "no observation yet";
	struct timespec t0, t;
	int rv;

	if (pred == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct lab_status s;

		rv = lab_status_collect(l, &s, err);
		if (rv == 0)
			rv = lab_status_predict(l, &s, pred, err);
		if (rv == 0 &&
		    lab_status_matches(pred, s.obs, l, why, sizeof(why))) {
			lab_status_free(&s);
			break;
		}
		lab_status_free(&s);
		if (rv != 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    seconds) {
			rv = ekl_errf(err, EKL_ETIMEDOUT,
				      "the links did not settle to the "
				      "model's prediction within %.0f s: %s",
				      seconds, why);
			break;
		}
		if (!lab_sleep(0.2)) {
			rv = ekl_errf(err, EKL_EINTR, "interrupted by %s",
				      lab_interrupt_name());
			break;
		}
	}
	ekl_free(pred);
	return rv;
}
