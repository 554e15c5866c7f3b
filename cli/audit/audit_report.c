/* audit_report.c: an audit run as the JSON contract {"certificates":
 * [...], "errors": [...], "forecast": {...}, "summary": {...}}
 * (docs/audit.md) or as text, and the whole `ekulab audit` (audit_show). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ekulab/core/json.h"

/* ---- JSON ----------------------------------------------------------- */

static void json_date(struct json *j, int64_t t)
{
	char buf[32];

	audit_format_date(t, buf, sizeof(buf));
	json_str(j, buf);
}

static void json_time(struct json *j, int64_t t)
{
	char buf[32];

	audit_format_time(t, buf, sizeof(buf));
	json_str(j, buf);
}

static void json_strv(struct json *j, const struct audit_strv *v)
{
	size_t i;

	json_arr_begin(j);
	for (i = 0; i < v->n; i++)
		json_str(j, v->v[i]);
	json_arr_end(j);
}

static void json_upload(struct json *j, const struct xpw_upload *u)
{
	json_obj_begin(j);
	json_key(j, "verdict");
	json_str(j, u->accept ? "accept" : "reject");
	json_key(j, "rule");
	json_str(j, xpw_rule_name(u->rule));
	json_key(j, "reason");
	json_str(j, u->reason);
	json_obj_end(j);
}

static void json_target(struct json *j, const struct audit_target_result *t)
{
	size_t i;

	json_obj_begin(j);
	json_key(j, "role");
	json_str(j, topo_role_name(t->target.role));
	json_key(j, "version");
	json_str(j, t->target.version);
	json_key(j, "upload");
	json_upload(j, &t->upload);
	json_key(j, "upload_client");
	if (t->has_client_slot)
		json_upload(j, &t->upload_client);
	else
		json_null(j);
	json_key(j, "clusterdb_as_client");
	json_str(j, pol_code_name(t->as_client));
	json_key(j, "clusterdb_as_server");
	json_str(j, pol_code_name(t->as_server));
	json_key(j, "renewed_server_only");
	json_obj_begin(j);
	json_key(j, "upload");
	json_upload(j, &t->renewed_upload);
	json_key(j, "clusterdb_as_client");
	json_str(j, pol_code_name(t->renewed_as_client));
	json_key(j, "clusterdb_as_server");
	json_str(j, pol_code_name(t->renewed_as_server));
	json_key(j, "breaks");
	json_bool(j, t->breaks_when_renewed);
	json_obj_end(j);
	json_key(j, "services");
	json_arr_begin(j);
	for (i = 0; i < t->n_services; i++) {
		const struct audit_service *a = &t->services[i];

		json_obj_begin(j);
		json_key(j, "service");
		json_str(j, pol_service_name(a->service));
		json_key(j, "now");
		json_str(j, pol_code_name(a->now));
		json_key(j, "now_rejected_by");
		if (a->now == POL_OK)
			json_null(j);
		else
			json_str(j, a->now_by_peer ? "peer" : "self");
		json_key(j, "renewed");
		json_str(j, pol_code_name(a->renewed));
		json_key(j, "renewed_rejected_by");
		if (a->renewed == POL_OK)
			json_null(j);
		else
			json_str(j, a->renewed_by_peer ? "peer" : "self");
		json_key(j, "fix");
		json_str(j, a->fix[0] ? a->fix : NULL);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void json_cert(struct json *j, const struct audit_cert *c)
{
	size_t i;

	json_obj_begin(j);
	json_key(j, "source");
	json_str(j, c->source);
	json_key(j, "index");
	json_int(j, c->index);
	json_key(j, "subject");
	json_str(j, c->subject);
	json_key(j, "sans");
	json_strv(j, &c->sans);
	json_key(j, "issuer");
	json_str(j, c->issuer);
	json_key(j, "serial");
	json_str(j, c->serial);
	json_key(j, "sha256");
	json_str(j, c->sha256);
	json_key(j, "ca");
	json_bool(j, c->f.ca);
	json_key(j, "self_signed");
	json_bool(j, c->self_signed);
	json_key(j, "chain");
	json_strv(j, &c->chain);
	json_key(j, "root");
	json_str(j, audit_root_name(c->f.root));
	json_key(j, "root_subject");
	json_str(j, c->root_subject[0] ? c->root_subject : NULL);
	json_key(j, "eku");
	if (c->has_eku)
		json_strv(j, &c->eku);
	else
		json_null(j);
	json_key(j, "key_type");
	json_str(j, c->key_type);
	json_key(j, "key_bits");
	json_int(j, c->key_bits);
	json_key(j, "key_curve");
	json_str(j, c->key_curve[0] ? c->key_curve : NULL);
	json_key(j, "not_before");
	json_time(j, c->f.not_before);
	json_key(j, "not_after");
	json_time(j, c->f.not_after);
	json_key(j, "days_left");
	json_int(j, c->days_left);
	json_key(j, "validity");
	json_str(j, pol_code_name(c->validity));
	json_key(j, "targets");
	json_arr_begin(j);
	for (i = 0; i < c->n_targets; i++)
		json_target(j, &c->targets[i]);
	json_arr_end(j);
	json_key(j, "risks");
	json_arr_begin(j);
	for (i = 0; i < c->n_risks; i++) {
		json_obj_begin(j);
		json_key(j, "risk");
		json_str(j, audit_risk_name(c->risks[i].code));
		json_key(j, "date");
		json_date(j, c->risks[i].date);
		json_key(j, "text");
		json_str(j, c->risks[i].text);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "options");
	json_arr_begin(j);
	for (i = 0; i < c->n_options; i++) {
		json_obj_begin(j);
		json_key(j, "option");
		json_str(j, audit_opt_name(c->options[i].code));
		json_key(j, "before");
		if (c->options[i].before != 0)
			json_date(j, c->options[i].before);
		else
			json_null(j);
		json_key(j, "text");
		json_str(j, c->options[i].text);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "findings");
	json_arr_begin(j);
	for (i = 0; i < c->n_findings; i++)
		json_str(j, c->findings[i]);
	json_arr_end(j);
	json_obj_end(j);
}

static void json_step(struct json *j, const struct audit_forecast *f,
		      const struct audit_step *s)
{
	json_obj_begin(j);
	json_key(j, "step");
	json_str(j, audit_opt_name(s->code));
	json_key(j, "prevents");
	json_bool(j, s->prevents);
	json_key(j, "before");
	json_date(j, s->before);
	json_key(j, "postpones_to");
	if (s->postpones_to != 0)
		json_date(j, s->postpones_to);
	else
		json_null(j);
	json_key(j, "upload_ok");
	json_bool(j, s->upload_ok);
	json_key(j, "refused_by");
	if (s->upload_ok) {
		json_null(j);
	} else {
		json_obj_begin(j);
		json_key(j, "node");
		json_str(j, f->nodes[s->refused_node].name);
		json_key(j, "rule");
		json_str(j, xpw_rule_name(s->refused.rule));
		json_key(j, "reason");
		json_str(j, s->refused.reason);
		json_obj_end(j);
	}
	json_key(j, "available_from");
	if (s->available != 0)
		json_date(j, s->available);
	else
		json_null(j);
	json_key(j, "in_time");
	json_bool(j, s->in_time);
	json_key(j, "text");
	json_str(j, s->text);
	json_obj_end(j);
}

/* The failing zone connections (n may exceed what was kept). */
static void json_zone_down(struct json *j, const struct audit_zone_down *d,
			   size_t n)
{
	size_t i;

	json_arr_begin(j);
	for (i = 0; i < n && i < AUDIT_MAX_ZONE_DOWN; i++) {
		json_obj_begin(j);
		json_key(j, "service");
		json_str(j, pol_service_name(d[i].service));
		json_key(j, "initiator");
		json_str(j, d[i].from);
		json_key(j, "acceptor");
		json_str(j, d[i].to);
		json_key(j, "verdict");
		json_str(j, pol_code_name(d[i].code));
		json_key(j, "rejected_by");
		json_str(j, pol_side_name(d[i].side));
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void json_forecast(struct json *j, const struct audit_forecast *f)
{
	size_t i;
	int k;

	json_obj_begin(j);
	json_key(j, "name");
	json_str(j, f->name);
	json_key(j, "verify");
	json_str(j, pol_mode_name(f->verify));
	json_key(j, "dial");
	json_str(j, topo_dial_name(f->dial));
	json_key(j, "link");
	json_str(j, topo_link_name(f->link));
	json_key(j, "primary");
	json_str(j, f->primary);
	json_key(j, "from");
	json_date(j, f->at);
	json_key(j, "nodes");
	json_arr_begin(j);
	for (i = 0; i < f->n_nodes; i++) {
		const struct audit_fnode *n = &f->nodes[i];

		json_obj_begin(j);
		json_key(j, "name");
		json_str(j, n->name);
		json_key(j, "version");
		json_str(j, n->version);
		json_key(j, "role");
		json_str(j, topo_role_name(n->role));
		json_key(j, "certificate");
		json_str(j, n->cert_label);
		json_key(j, "root");
		json_str(j, audit_root_name(n->root));
		json_key(j, "renewal");
		json_date(j, n->renew_at);
		json_key(j, "renewal_kind");
		json_str(j, n->renewal == AUDIT_RENEW_LIKE ? "like-for-like"
							   : "server-only");
		json_key(j, "renewal_upload");
		json_upload(j, &n->renewal_upload);
		/* Its cluster's verify mode (a deployment's clusters each
		 * have their own; "verify" above is the first's). */
		json_key(j, "verify");
		json_str(j, pol_mode_name(n->cprimary[0] != '\0' ? n->cverify
								 : f->verify));
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "breaks");
	json_bool(j, f->breaks);
	json_key(j, "date");
	if (f->breaks)
		json_date(j, f->date);
	else
		json_null(j);
	json_key(j, "links_down");
	json_arr_begin(j);
	for (i = 0; i < f->n_down; i++) {
		const struct audit_link *l = &f->down[i];

		json_obj_begin(j);
		json_key(j, "a");
		json_str(j, f->nodes[l->a].name);
		json_key(j, "b");
		json_str(j, f->nodes[l->b].name);
		json_key(j, "directions");
		json_arr_begin(j);
		for (k = 0; k < l->n_dirs; k++) {
			const struct audit_direction *d = &l->dirs[k];

			json_obj_begin(j);
			json_key(j, "initiator");
			json_str(j, f->nodes[d->initiator].name);
			json_key(j, "acceptor");
			json_str(j, f->nodes[d->acceptor].name);
			json_key(j, "verdict");
			json_str(j, pol_code_name(d->v.code));
			json_key(j, "rejected_by");
			json_str(j, d->v.ok ? NULL : pol_side_name(d->v.side));
			json_key(j, "depth");
			if (!d->v.ok && d->v.depth >= 0)
				json_int(j, d->v.depth);
			else
				json_null(j);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "cause");
	json_str(j, f->breaks ? f->cause : NULL);
	json_key(j, "prevention");
	if (f->prevention >= 0)
		json_step(j, f, &f->steps[f->prevention]);
	else
		json_null(j);
	json_key(j, "steps");
	json_arr_begin(j);
	for (i = 0; i < f->n_steps; i++)
		json_step(j, f, &f->steps[i]);
	json_arr_end(j);
	json_key(j, "zones");
	if (f->n_zones == 0) {
		json_null(j);
	} else {
		json_obj_begin(j);
		json_key(j, "connections");
		json_int(j, (int64_t)f->zone_conns);
		json_key(j, "now");
		json_zone_down(j, f->zones_now, f->n_zones_now);
		json_key(j, "after_renewals");
		json_obj_begin(j);
		json_key(j, "date");
		json_date(j, f->later_at);
		json_key(j, "down");
		json_zone_down(j, f->zones_later, f->n_zones_later);
		json_obj_end(j);
		json_obj_end(j);
	}
	json_key(j, "version_mismatch");
	json_arr_begin(j);
	for (i = 0; i < f->n_mismatch; i++) {
		json_obj_begin(j);
		json_key(j, "zone");
		json_arr_begin(j);
		json_str(j, f->mismatch[i].client);
		json_str(j, f->mismatch[i].server);
		json_arr_end(j);
		json_key(j, "client_versions");
		json_str(j, f->mismatch[i].client_versions);
		json_key(j, "server_versions");
		json_str(j, f->mismatch[i].server_versions);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

int audit_report_json(const struct audit_run *r, FILE *f)
{
	struct json j;
	const char *s;
	size_t i;
	size_t with = 0;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "at");
	json_time(&j, r->at);
	json_key(&j, "certificates");
	json_arr_begin(&j);
	for (i = 0; i < r->n_certs; i++) {
		json_cert(&j, &r->certs[i]);
		with += r->certs[i].n_findings > 0;
	}
	json_arr_end(&j);
	json_key(&j, "errors");
	json_arr_begin(&j);
	for (i = 0; i < r->n_errors; i++) {
		json_obj_begin(&j);
		json_key(&j, "source");
		json_str(&j, r->errors[i].source);
		json_key(&j, "message");
		json_str(&j, r->errors[i].message);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	if (r->has_forecast) {
		json_key(&j, "forecast");
		json_forecast(&j, &r->forecast);
	}
	json_key(&j, "summary");
	json_obj_begin(&j);
	json_key(&j, "certificates");
	json_int(&j, (int64_t)r->n_certs);
	json_key(&j, "with_findings");
	json_int(&j, (int64_t)with);
	json_key(&j, "errors");
	json_int(&j, (int64_t)r->n_errors);
	json_key(&j, "skipped_key_files");
	json_int(&j, (int64_t)r->skipped);
	json_key(&j, "forecast_nodes");
	json_int(&j, r->has_forecast ? (int64_t)r->forecast.n_nodes : 0);
	json_key(&j, "forecast_breaks");
	json_bool(&j, r->has_forecast && r->forecast.breaks);
	json_key(&j, "forecast_zones_down");
	json_int(&j, r->has_forecast ? (int64_t)r->forecast.n_zones_later : 0);
	json_key(&j, "forecast_version_mismatch");
	json_int(&j, r->has_forecast ? (int64_t)r->forecast.n_mismatch : 0);
	json_key(&j, "exit");
	json_int(&j, audit_exit_code(r));
	json_obj_end(&j);
	json_obj_end(&j);
	s = json_finish(&j);
	if (s == NULL) {
		json_close(&j);
		return EKL_ENOMEM;
	}
	fprintf(f, "%s\n", s);
	json_close(&j);
	return 0;
}

/* ---- text ----------------------------------------------------------- */

static void print_list(FILE *f, const char *label, const struct audit_strv *v,
		       const char *sep, const char *empty)
{
	size_t i;

	fprintf(f, "  %-10s", label);
	if (v->n == 0)
		fprintf(f, "%s", empty);
	for (i = 0; i < v->n; i++)
		fprintf(f, "%s%s", i ? sep : "", v->v[i]);
	fprintf(f, "\n");
}

static void verdict_text(enum pol_code code, int depth, char *buf, size_t len)
{
	if (code == POL_OK)
		snprintf(buf, len, "ok");
	else if (depth >= 0 &&
		 (code == POL_CLIENT_PURPOSE || code == POL_SERVER_PURPOSE))
		snprintf(buf, len, "%s at depth %d", pol_code_name(code),
			 depth);
	else
		snprintf(buf, len, "%s", pol_code_name(code));
}

/* The zone services of one target: now and renewed server-only. */
static void print_services(FILE *f, const struct audit_target_result *t)
{
	size_t i;

	for (i = 0; i < t->n_services; i++) {
		const struct audit_service *a = &t->services[i];

		fprintf(f,
			"  %-10s  %-10s now %s%s, renewed server-only %s%s\n",
			i == 0 ? "" : "", pol_service_name(a->service),
			pol_code_name(a->now),
			a->now == POL_OK ? ""
			: a->now_by_peer ? " (the peer rejects it)"
					 : " (this node rejects the peer)",
			pol_code_name(a->renewed),
			a->renewed != POL_OK && a->renewed == a->now &&
				a->renewed_by_peer == a->now_by_peer
			    ? ""
			: a->renewed == POL_OK ? ""
			: a->renewed_by_peer   ? " (the peer rejects it)"
					     : " (this node rejects the peer)");
	}
}

/* ---- findings as sentences (the codes stay in the JSON) ---- */

static const char *code_meaning(enum pol_code code)
{
	switch (code) {
	case POL_CLIENT_PURPOSE:
		return "it lacks the clientAuth EKU that version asks of a "
		       "node that dials";
	case POL_SERVER_PURPOSE:
		return "it lacks the serverAuth EKU a node that accepts must "
		       "show";
	case POL_EXPIRED: return "it has expired";
	case POL_NOT_YET_VALID: return "it is not valid yet";
	case POL_UNTRUSTED: return "its root is not trusted";
	default: return pol_code_name(code);
	}
}

static const char *role_word(enum topo_role r)
{
	return r == TOPO_ROLE_E ? "Expressway-E" : "Expressway-C";
}

/* "the sentence" into buf: one per finding of c, in findings_of's order
 * (audit_cert.c), from the same facts. Returns how many. */
static size_t finding_sentences(const struct audit_cert *c, char out[][400],
				size_t max)
{
	char d[16];
	size_t i, n = 0;

	if (c->validity != POL_OK && n < max) {
		audit_format_date(c->validity == POL_EXPIRED ? c->f.not_after
							     : c->f.not_before,
				  d, sizeof(d));
		snprintf(out[n++], 400, "%s on %s: every node refuses it.",
			 c->validity == POL_EXPIRED ? "It expired"
						    : "It becomes valid only",
			 d);
	}
	for (i = 0; i < c->n_targets && !c->f.ca; i++) {
		const struct audit_target_result *t = &c->targets[i];
		const char *who = role_word(t->target.role);

		if (!t->upload.accept && n < max)
			snprintf(out[n++], 400,
				 "An %s on %s refuses to upload it: %s.", who,
				 t->target.version, t->upload.reason);
		if (t->as_client != POL_OK && n < max) {
			char depth[24] = "";

			if (t->as_client_depth >= 0)
				snprintf(depth, sizeof(depth), " at depth %d",
					 t->as_client_depth);
			snprintf(out[n++], 400,
				 "An %s on %s in Enforce refuses its ClusterDB "
				 "connection when this node dials (%s%s): %s.",
				 who, t->target.version,
				 pol_code_name(t->as_client), depth,
				 code_meaning(t->as_client));
		}
		if (t->as_server != POL_OK && n < max)
			snprintf(out[n++], 400,
				 "An %s on %s in Enforce refuses it when it "
				 "dials this node (%s): %s.",
				 who, t->target.version,
				 pol_code_name(t->as_server),
				 code_meaning(t->as_server));
	}
	for (i = 0; i < c->n_targets && !c->f.ca; i++) {
		const struct audit_target_result *t = &c->targets[i];
		size_t k;

		for (k = 0; k < t->n_services && n < max; k++)
			if (t->services[k].now != POL_OK)
				snprintf(
				    out[n++], 400,
				    "Its %s zone connection as an %s on "
				    "%s fails now: %s (%s).",
				    pol_service_name(t->services[k].service),
				    role_word(t->target.role),
				    t->target.version,
				    pol_code_name(t->services[k].now),
				    t->services[k].now_by_peer
					? "the peer rejects it"
					: "this node rejects the peer");
	}
	for (i = 0; i < c->n_risks && n < max; i++) {
		audit_format_date(c->risks[i].date, d, sizeof(d));
		snprintf(out[n++], 400, "From %s: %s.", d, c->risks[i].text);
	}
	return n;
}

static void print_findings(FILE *f, const struct audit_cert *c)
{
	char s[AUDIT_MAX_FINDINGS][400];
	size_t i, n = finding_sentences(c, s, AUDIT_MAX_FINDINGS);

	if (n == 0) {
		fprintf(f, "  %-10snone\n", "findings");
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "  %-10s- %s\n", i == 0 ? "findings" : "", s[i]);
}

/* When c must be acted on: now (at) for what fails today, else the
 * earliest date a timeline risk takes effect; false when never. */
static bool action_date(const struct audit_cert *c, int64_t at, int64_t *when)
{
	size_t i;

	if (c->n_findings == 0)
		return false;
	*when = INT64_MAX;
	if (c->validity != POL_OK)
		*when = at;
	for (i = 0; i < c->n_targets && !c->f.ca; i++) {
		size_t k;

		if (!c->targets[i].upload.accept ||
		    c->targets[i].as_client != POL_OK ||
		    c->targets[i].as_server != POL_OK)
			*when = at;
		for (k = 0; k < c->targets[i].n_services; k++)
			if (c->targets[i].services[k].now != POL_OK)
				*when = at;
	}
	for (i = 0; i < c->n_risks; i++)
		if (c->risks[i].date < *when)
			*when = c->risks[i].date > at ? c->risks[i].date : at;
	return *when != INT64_MAX;
}

/* What c needs, in a few words: "upload refused by c X15.3.2, c X15.4;
 * ClusterDB refused by c X15.3.2 (client-purpose); public-no-client-auth
 * from 2026-05-01". */
static void short_reason(const struct audit_cert *c, char *buf, size_t len)
{
	size_t i, n = 0, k;
	char d[16];
	bool any;

	buf[0] = '\0';
	if (c->validity != POL_OK)
		n += (size_t)snprintf(buf + n, len - n, "%s",
				      pol_code_name(c->validity));
	for (k = 0; k < 2 && !c->f.ca; k++) {
		any = false;
		for (i = 0; i < c->n_targets && n < len; i++) {
			const struct audit_target_result *t = &c->targets[i];
			bool bad = k == 0 ? !t->upload.accept
					  : t->as_client != POL_OK ||
						t->as_server != POL_OK;

			if (!bad)
				continue;
			n += (size_t)snprintf(
			    buf + n, len - n, "%s%s%s %s",
			    any ? ", " : (n ? "; " : ""),
			    any ? ""
				: (k == 0 ? "upload refused by "
					  : "ClusterDB refused by "),
			    topo_role_name(t->target.role), t->target.version);
			if (k == 1 && n < len)
				n += (size_t)snprintf(
				    buf + n, len - n, " (%s)",
				    pol_code_name(t->as_client != POL_OK
						      ? t->as_client
						      : t->as_server));
			any = true;
		}
	}
	for (i = 0; i < c->n_targets && !c->f.ca && n < len; i++) {
		const struct audit_target_result *t = &c->targets[i];

		for (k = 0; k < t->n_services && n < len; k++)
			if (t->services[k].now != POL_OK)
				n += (size_t)snprintf(
				    buf + n, len - n,
				    "%szone %s fails on %s %s", n ? "; " : "",
				    pol_service_name(t->services[k].service),
				    topo_role_name(t->target.role),
				    t->target.version);
	}
	for (i = 0; i < c->n_risks && n < len; i++) {
		audit_format_date(c->risks[i].date, d, sizeof(d));
		n += (size_t)snprintf(buf + n, len - n, "%s%s from %s",
				      n ? "; " : "",
				      audit_risk_name(c->risks[i].code), d);
	}
}

/* c is a CA certificate an earlier entry of r holds already. */
static bool ca_seen(const struct audit_run *r, size_t i)
{
	size_t k;

	for (k = 0; r->certs[i].f.ca && k < i; k++)
		if (r->certs[k].f.ca &&
		    strcmp(r->certs[k].sha256, r->certs[i].sha256) == 0)
			return true;
	return false;
}

/* "3 certificates need action before 2026-06-15:" and one line per
 * certificate (when, what), or that none does. */
static void print_action_summary(FILE *f, const struct audit_run *r)
{
	char d[16], first[16], why[400];
	int64_t when, earliest = INT64_MAX;
	size_t i, n = 0, now = 0;

	for (i = 0; i < r->n_certs; i++)
		if (!ca_seen(r, i) && action_date(&r->certs[i], r->at, &when)) {
			n++;
			now += when <= r->at;
			if (when > r->at && when < earliest)
				earliest = when;
		}
	if (n == 0) {
		fprintf(f, "No certificate needs action.\n");
		return;
	}
	audit_format_date(earliest, first, sizeof(first));
	if (now == n)
		fprintf(f, "%zu certificate%s need%s action now:\n", n,
			n == 1 ? "" : "s", n == 1 ? "s" : "");
	else if (now == 0)
		fprintf(f, "%zu certificate%s need%s action before %s:\n", n,
			n == 1 ? "" : "s", n == 1 ? "s" : "", first);
	else
		fprintf(f,
			"%zu certificates need action: %zu now, the others "
			"before %s:\n",
			n, now, first);
	for (i = 0; i < r->n_certs; i++) {
		const struct audit_cert *c = &r->certs[i];

		if (ca_seen(r, i) || !action_date(c, r->at, &when))
			continue;
		audit_format_date(when, d, sizeof(d));
		short_reason(c, why, sizeof(why));
		fprintf(f, "  %s #%d (%s) %s%s: %s\n", c->source, c->index,
			c->subject, when <= r->at ? "now" : "before ",
			when <= r->at ? "" : d, why);
	}
}

static void print_cert(FILE *f, const struct audit_cert *c)
{
	char nb[16], na[16], d[16], vc[64], vs[64];
	size_t i;

	audit_format_date(c->f.not_before, nb, sizeof(nb));
	audit_format_date(c->f.not_after, na, sizeof(na));
	fprintf(f, "%s #%d%s\n", c->source, c->index,
		c->f.ca ? "  (CA certificate)" : "");
	fprintf(f, "  %-10s%s\n", "subject", c->subject);
	print_list(f, "SANs", &c->sans, ", ", "none");
	fprintf(f, "  %-10s%s\n", "issuer", c->issuer);
	print_list(f, "chain", &c->chain, " > ", "?");
	fprintf(f, "  %-10s%s%s%s%s\n", "root", audit_root_name(c->f.root),
		c->root_subject[0] ? " (" : "", c->root_subject,
		c->root_subject[0] ? ")" : "");
	if (c->has_eku)
		print_list(f, "EKU", &c->eku, ", ",
			   "(extension without a readable usage)");
	else
		fprintf(f, "  %-10s%s\n", "EKU",
			"none (no EKU extension: every purpose)");
	fprintf(f, "  %-10s%s %d bits%s%s%s\n", "key", c->key_type, c->key_bits,
		c->key_curve[0] ? " (" : "", c->key_curve,
		c->key_curve[0] ? ")" : "");
	fprintf(f, "  %-10s%s .. %s, %lld days left%s%s\n", "validity", nb, na,
		(long long)c->days_left, c->validity == POL_OK ? "" : ": ",
		c->validity == POL_OK ? "" : pol_code_name(c->validity));
	for (i = 0; i < c->n_targets && !c->f.ca; i++) {
		const struct audit_target_result *t = &c->targets[i];

		verdict_text(t->as_client, t->as_client_depth, vc, sizeof(vc));
		verdict_text(t->as_server, t->as_server_depth, vs, sizeof(vs));
		fprintf(f, "  %-10s%s %s: upload %s (%s)\n", "target",
			topo_role_name(t->target.role), t->target.version,
			t->upload.accept ? "accept" : "reject",
			t->upload.reason);
		if (t->has_client_slot)
			fprintf(f, "  %-10s  client slot: %s (%s)\n", "",
				t->upload_client.accept ? "accept" : "reject",
				t->upload_client.reason);
		fprintf(f,
			"  %-10s  ClusterDB in Enforce: as client %s, as "
			"server %s\n",
			"", vc, vs);
		fprintf(f,
			"  %-10s  renewed server-only: upload %s, as client "
			"%s, as server %s%s\n",
			"", t->renewed_upload.accept ? "accept" : "reject",
			pol_code_name(t->renewed_as_client),
			pol_code_name(t->renewed_as_server),
			t->breaks_when_renewed ? "  <- breaks" : "");
		print_services(f, t);
	}
	for (i = 0; i < c->n_risks; i++) {
		audit_format_date(c->risks[i].date, d, sizeof(d));
		fprintf(f, "  %-10s%s (%s): %s\n", "risk",
			audit_risk_name(c->risks[i].code), d, c->risks[i].text);
	}
	for (i = 0; i < c->n_options; i++)
		fprintf(f, "  %-10s%zu. %s\n", i == 0 ? "options" : "", i + 1,
			c->options[i].text);
	print_findings(f, c);
	fprintf(f, "\n");
}

static void print_zone_down(FILE *out, const char *when,
			    const struct audit_zone_down *d, size_t n,
			    size_t conns)
{
	size_t i;

	if (n == 0) {
		fprintf(out, "  zones %s: all %zu connections work\n", when,
			conns);
		return;
	}
	fprintf(out, "  zones %s: %zu of %zu connections FAIL\n", when, n,
		conns);
	for (i = 0; i < n && i < AUDIT_MAX_ZONE_DOWN; i++)
		fprintf(out, "    %-10s %s -> %s: the %s rejects: %s\n",
			pol_service_name(d[i].service), d[i].from, d[i].to,
			pol_side_name(d[i].side), pol_code_name(d[i].code));
	if (n > AUDIT_MAX_ZONE_DOWN)
		fprintf(out, "    ... and %zu more\n", n - AUDIT_MAX_ZONE_DOWN);
}

/* The zones of the forecast and the version-mismatch findings. */
static void print_zones(FILE *out, const struct audit_forecast *f)
{
	char d[16], w[48];
	size_t i;

	if (f->n_zones > 0) {
		audit_format_date(f->at, d, sizeof(d));
		snprintf(w, sizeof(w), "on %s", d);
		print_zone_down(out, w, f->zones_now, f->n_zones_now,
				f->zone_conns);
		audit_format_date(f->later_at, d, sizeof(d));
		snprintf(w, sizeof(w), "after every renewal (%s)", d);
		print_zone_down(out, w, f->zones_later, f->n_zones_later,
				f->zone_conns);
	}
	for (i = 0; i < f->n_mismatch; i++)
		fprintf(out,
			"  finding: version-mismatch: traversal zone %s -> %s: "
			"C runs %s, E runs %s; Expressway-C and -E must run "
			"the same version (X15.4 or X15.5) for correct "
			"operation\n",
			f->mismatch[i].client, f->mismatch[i].server,
			f->mismatch[i].client_versions,
			f->mismatch[i].server_versions);
}

static void print_forecast(FILE *out, const struct audit_forecast *f)
{
	char d[16];
	size_t i;
	int k;
	bool mixed = false; /* a deployment whose clusters verify apart */

	for (i = 0; i < f->n_nodes; i++)
		mixed |= f->nodes[i].cprimary[0] != '\0' &&
			 f->nodes[i].cverify != f->verify;
	audit_format_date(f->at, d, sizeof(d));
	fprintf(out,
		"Cluster forecast: %s (verify %s, dial %s, link %s, primary "
		"%s), from %s,\nevery certificate renewed at its expiry "
		"(public root: server-only from a public CA; private root: "
		"like for like):\n",
		f->name, mixed ? "per cluster" : pol_mode_name(f->verify),
		topo_dial_name(f->dial), topo_link_name(f->link), f->primary,
		d);
	for (i = 0; i < f->n_nodes; i++) {
		const struct audit_fnode *n = &f->nodes[i];

		audit_format_date(n->renew_at, d, sizeof(d));
		fprintf(out,
			"  %-12s %-8s %s  %s, %s root; renewal %s (%s), its "
			"upload: %s (%s)\n",
			n->name, n->version, topo_role_name(n->role),
			n->cert_label, audit_root_name(n->root), d,
			n->renewal == AUDIT_RENEW_LIKE ? "like for like"
						       : "server-only",
			n->renewal_upload.accept ? "accept" : "reject",
			xpw_rule_name(n->renewal_upload.rule));
		/* A deployment: each cluster verifies as it is set. */
		if (mixed && n->cprimary[0] != '\0')
			fprintf(out, "  %-12s (its cluster verifies %s)\n", "",
				pol_mode_name(n->cverify));
	}
	if (!f->breaks) {
		fprintf(out,
			"  No link goes down: every renewal keeps the cluster "
			"linked (its uploads as above).\n");
		print_zones(out, f);
		fprintf(out, "\n");
		return;
	}
	audit_format_date(f->date, d, sizeof(d));
	fprintf(out, "  BREAKS on %s: %zu link%s down\n", d, f->n_down,
		f->n_down == 1 ? "" : "s");
	for (i = 0; i < f->n_down; i++) {
		const struct audit_link *l = &f->down[i];

		fprintf(out, "    %s - %s\n", f->nodes[l->a].name,
			f->nodes[l->b].name);
		for (k = 0; k < l->n_dirs; k++) {
			const struct audit_direction *dd = &l->dirs[k];
			char v[64];

			verdict_text(dd->v.code, dd->v.depth, v, sizeof(v));
			if (dd->v.ok)
				fprintf(out, "      %s -> %s: ok\n",
					f->nodes[dd->initiator].name,
					f->nodes[dd->acceptor].name);
			else
				fprintf(out,
					"      %s -> %s: the %s rejects: %s\n",
					f->nodes[dd->initiator].name,
					f->nodes[dd->acceptor].name,
					pol_side_name(dd->v.side), v);
		}
	}
	fprintf(out, "  cause: %s\n", f->cause);
	if (f->prevention >= 0)
		fprintf(out, "  prevention: %s\n",
			f->steps[f->prevention].text);
	else
		fprintf(out,
			"  prevention: none of the steps keeps every link up "
			"with uploads the web UI accepts, in time\n");
	fprintf(out, "  steps checked:\n");
	for (i = 0; i < f->n_steps; i++)
		fprintf(out, "    - %s\n", f->steps[i].text);
	print_zones(out, f);
	fprintf(out, "\n");
}

void audit_report_text(const struct audit_run *r, FILE *f)
{
	char at[32];
	size_t i;
	size_t with = 0;

	audit_format_date(r->at, at, sizeof(at));
	fprintf(f, "ekulab audit at %s\n\n", at);
	for (i = 0; i < r->n_certs; i++) {
		const struct audit_cert *c = &r->certs[i], *seen = NULL;
		size_t k;

		with += c->n_findings > 0;
		/* A CA certificate is shown once, however many chains
		 * hold it. */
		for (k = 0; ca_seen(r, i) && k < i && seen == NULL; k++)
			if (r->certs[k].f.ca &&
			    strcmp(r->certs[k].sha256, c->sha256) == 0)
				seen = &r->certs[k];
		if (seen != NULL)
			fprintf(f,
				"%s #%d  (CA certificate %s: shown above as "
				"%s #%d)\n\n",
				c->source, c->index, c->subject, seen->source,
				seen->index);
		else
			print_cert(f, c);
	}
	if (r->has_forecast)
		print_forecast(f, &r->forecast);
	if (r->n_errors > 0) {
		fprintf(f, "Errors:\n");
		for (i = 0; i < r->n_errors; i++)
			fprintf(f, "  %s: %s\n", r->errors[i].source,
				r->errors[i].message);
		fprintf(f, "\n");
	}
	fprintf(f, "%zu certificate%s, %zu with findings, ", r->n_certs,
		r->n_certs == 1 ? "" : "s", with);
	if (r->has_forecast) {
		audit_format_date(r->forecast.date, at, sizeof(at));
		fprintf(f,
			"cluster forecast of %zu node%s: ", r->forecast.n_nodes,
			r->forecast.n_nodes == 1 ? "" : "s");
		if (r->forecast.breaks)
			fprintf(f, "breaks on %s (%zu link%s down), ", at,
				r->forecast.n_down,
				r->forecast.n_down == 1 ? "" : "s");
		else
			fprintf(f, "no link goes down, ");
		if (r->forecast.n_zones > 0)
			fprintf(f,
				"zones: %zu connection%s fail now, %zu after "
				"the renewals, ",
				r->forecast.n_zones_now,
				r->forecast.n_zones_now == 1 ? "" : "s",
				r->forecast.n_zones_later);
		if (r->forecast.n_mismatch > 0)
			fprintf(f, "%zu version mismatch%s, ",
				r->forecast.n_mismatch,
				r->forecast.n_mismatch == 1 ? "" : "es");
	}
	fprintf(f, "%zu error%s", r->n_errors, r->n_errors == 1 ? "" : "s");
	if (r->skipped > 0)
		fprintf(f, ", %zu *.key file%s skipped", r->skipped,
			r->skipped == 1 ? "" : "s");
	fprintf(f, ".\n");
	print_action_summary(f, r);
}

int audit_show(const struct audit_show_opts *o, char *err)
{
	struct audit_trust trust;
	struct audit_opts ro;
	struct audit_run r;
	int rc;

	err[0] = '\0';
	if (audit_trust_init(&trust, o->system_store, o->public_files,
			     o->n_public, o->private_files, o->n_private,
			     err) != 0)
		return 2;
	ro = o->run;
	ro.trust = &trust;
	if (audit_run(&ro, &r, err) != 0) {
		rc = 2;
		goto out;
	}
	if (o->json) {
		rc = audit_report_json(&r, o->out);
		if (rc != 0) {
			ekl_errf(err, rc, "out of memory");
			rc = 2;
		}
	} else {
		rc = 0;
		audit_report_text(&r, o->out);
	}
	if (rc == 0)
		rc = audit_exit_code(&r);
out:
	audit_run_free(&r);
	audit_trust_free(&trust);
	return rc;
}
