/* cmd_audit.c: `ekulab audit`: options, then the inventory as a table or
 * as the JSON contract {"certificates": [...], "errors": [...]}. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "cmd.h"
#include "ekulab/core/json.h"
#include "ekulab/x509/pki.h"

#define MAX_FILES 16

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab audit [options] INPUT...\n"
	    "       ekulab audit --cluster FILE [options] [INPUT...]\n"
	    "\n"
	    "List every certificate: EKU, issuer and root (public or "
	    "private),\n"
	    "expiry, what a target node's upload and ClusterDB mTLS "
	    "would say,\n"
	    "timeline risks and the options of the field notice's "
	    "decision tree.\n"
	    "\n"
	    "INPUT: a certificate file (PEM with one or many "
	    "certificates, DER,\n"
	    "PKCS#7), a directory (walked recursively; *.key files are "
	    "skipped)\n"
	    "or a live TLS endpoint HOST:PORT (the chain the server "
	    "presents).\n"
	    "\n"
	    "  --role c|e          target role, paired with --version "
	    "(repeatable;\n"
	    "                      one --role applies to every "
	    "--version; default c)\n"
	    "  --version V         target version: X14.x, X15.0-X15.3.x, "
	    "X15.4, X15.5\n"
	    "                      (repeatable, up to %d targets)\n"
	    "  --server-eku-upload X15.4 Expressway-E targets run with\n"
	    "                      EnableServerEkuUpload: On\n"
	    "  --ca FILE           private roots (PEM): chains anchored "
	    "there are\n"
	    "                      private (repeatable)\n"
	    "  --public-ca FILE    roots treated as public besides the "
	    "system store\n"
	    "                      (repeatable)\n"
	    "  --no-system-store   do not load the system trust store\n"
	    "  --at DATE           evaluate at DATE: YYYY-MM-DD, "
	    "YYYY-MM-DDTHH:MM:SSZ\n"
	    "                      or @EPOCH (default: now)\n"
	    "  --cluster FILE      forecast a cluster: a topology (*.yaml, "
	    "*.yml) or a\n"
	    "                      list, one node a line: NAME VERSION "
	    "CERTFILE [c|e]\n"
	    "  --timeout S         live endpoints: seconds to connect and "
	    "handshake\n"
	    "                      (default 5)\n"
	    "  --json              machine-readable output (docs/audit.md)\n"
	    "  --help              show this help\n"
	    "\n"
	    "Exit status: 0 nothing found; 1 findings (a target rejects "
	    "a certificate,\n"
	    "a timeline risk applies, a certificate is expired or not yet "
	    "valid, or the\n"
	    "cluster forecast breaks); 2 errors (an input could not be "
	    "audited, or a\n"
	    "usage error).\n",
	    AUDIT_MAX_TARGETS);
}

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
	json_key(j, "reason");
	json_str(j, u->reason);
	json_obj_end(j);
}

static void json_target(struct json *j, const struct audit_target_result *t)
{
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

static void json_step(struct json *j, const struct audit_step *s)
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
	json_key(j, "text");
	json_str(j, s->text);
	json_obj_end(j);
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
		json_key(j, "renewal_upload");
		json_upload(j, &n->renewal_upload);
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
		json_step(j, &f->steps[f->prevention]);
	else
		json_null(j);
	json_key(j, "steps");
	json_arr_begin(j);
	for (i = 0; i < f->n_steps; i++)
		json_step(j, &f->steps[i]);
	json_arr_end(j);
	json_obj_end(j);
}

static int print_json(const struct audit_run *r)
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
	json_key(&j, "exit");
	json_int(&j, audit_exit_code(r));
	json_obj_end(&j);
	json_obj_end(&j);
	s = json_finish(&j);
	if (s == NULL) {
		json_close(&j);
		cli_fail("audit: out of memory");
		return 2;
	}
	puts(s);
	json_close(&j);
	return 0;
}

/* ---- text ----------------------------------------------------------- */

static void print_list(const char *label, const struct audit_strv *v,
		       const char *sep, const char *empty)
{
	size_t i;

	printf("  %-10s", label);
	if (v->n == 0)
		printf("%s", empty);
	for (i = 0; i < v->n; i++)
		printf("%s%s", i ? sep : "", v->v[i]);
	printf("\n");
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

static void print_cert(const struct audit_cert *c)
{
	char nb[16], na[16], d[16], vc[64], vs[64];
	size_t i;

	audit_format_date(c->f.not_before, nb, sizeof(nb));
	audit_format_date(c->f.not_after, na, sizeof(na));
	printf("%s #%d%s\n", c->source, c->index,
	       c->f.ca ? "  (CA certificate)" : "");
	printf("  %-10s%s\n", "subject", c->subject);
	print_list("SANs", &c->sans, ", ", "none");
	printf("  %-10s%s\n", "issuer", c->issuer);
	print_list("chain", &c->chain, " > ", "?");
	printf("  %-10s%s%s%s%s\n", "root", audit_root_name(c->f.root),
	       c->root_subject[0] ? " (" : "", c->root_subject,
	       c->root_subject[0] ? ")" : "");
	if (c->has_eku)
		print_list("EKU", &c->eku, ", ",
			   "(extension without a readable usage)");
	else
		printf("  %-10s%s\n", "EKU",
		       "none (no EKU extension: every purpose)");
	printf("  %-10s%s %d bits%s%s%s\n", "key", c->key_type, c->key_bits,
	       c->key_curve[0] ? " (" : "", c->key_curve,
	       c->key_curve[0] ? ")" : "");
	printf("  %-10s%s .. %s, %lld days left%s%s\n", "validity", nb, na,
	       (long long)c->days_left, c->validity == POL_OK ? "" : ": ",
	       c->validity == POL_OK ? "" : pol_code_name(c->validity));
	for (i = 0; i < c->n_targets && !c->f.ca; i++) {
		const struct audit_target_result *t = &c->targets[i];

		verdict_text(t->as_client, t->as_client_depth, vc, sizeof(vc));
		verdict_text(t->as_server, t->as_server_depth, vs, sizeof(vs));
		printf("  %-10s%s %s: upload %s (%s)\n", "target",
		       topo_role_name(t->target.role), t->target.version,
		       t->upload.accept ? "accept" : "reject",
		       t->upload.reason);
		if (t->has_client_slot)
			printf("  %-10s  client slot: %s (%s)\n", "",
			       t->upload_client.accept ? "accept" : "reject",
			       t->upload_client.reason);
		printf("  %-10s  ClusterDB in Enforce: as client %s, as "
		       "server %s\n",
		       "", vc, vs);
		printf("  %-10s  renewed server-only: upload %s, as client "
		       "%s, as server %s%s\n",
		       "", t->renewed_upload.accept ? "accept" : "reject",
		       pol_code_name(t->renewed_as_client),
		       pol_code_name(t->renewed_as_server),
		       t->breaks_when_renewed ? "  <- breaks" : "");
	}
	for (i = 0; i < c->n_risks; i++) {
		audit_format_date(c->risks[i].date, d, sizeof(d));
		printf("  %-10s%s (%s): %s\n", "risk",
		       audit_risk_name(c->risks[i].code), d, c->risks[i].text);
	}
	for (i = 0; i < c->n_options; i++)
		printf("  %-10s%zu. %s\n", i == 0 ? "options" : "", i + 1,
		       c->options[i].text);
	printf("  %-10s", "findings");
	if (c->n_findings == 0)
		printf("none");
	for (i = 0; i < c->n_findings; i++)
		printf("%s%s", i ? ", " : "", c->findings[i]);
	printf("\n\n");
}

static void print_forecast(const struct audit_forecast *f)
{
	char d[16];
	size_t i;
	int k;

	audit_format_date(f->at, d, sizeof(d));
	printf("Cluster forecast: %s (verify %s, dial %s, primary %s), from "
	       "%s,\nevery certificate renewed server-only from a public CA "
	       "at its expiry:\n",
	       f->name, pol_mode_name(f->verify), topo_dial_name(f->dial),
	       f->primary, d);
	for (i = 0; i < f->n_nodes; i++) {
		const struct audit_fnode *n = &f->nodes[i];

		audit_format_date(n->renew_at, d, sizeof(d));
		printf("  %-12s %-8s %s  %s, %s root; renewal %s, its "
		       "upload: %s\n",
		       n->name, n->version, topo_role_name(n->role),
		       n->cert_label, audit_root_name(n->root), d,
		       n->renewal_upload.accept ? "accept" : "reject");
	}
	if (!f->breaks) {
		printf("  No link goes down: every renewal keeps the cluster "
		       "linked.\n\n");
		return;
	}
	audit_format_date(f->date, d, sizeof(d));
	printf("  BREAKS on %s: %zu link%s down\n", d, f->n_down,
	       f->n_down == 1 ? "" : "s");
	for (i = 0; i < f->n_down; i++) {
		const struct audit_link *l = &f->down[i];

		printf("    %s - %s\n", f->nodes[l->a].name,
		       f->nodes[l->b].name);
		for (k = 0; k < l->n_dirs; k++) {
			const struct audit_direction *dd = &l->dirs[k];
			char v[64];

			verdict_text(dd->v.code, dd->v.depth, v, sizeof(v));
			if (dd->v.ok)
				printf("      %s -> %s: ok\n",
				       f->nodes[dd->initiator].name,
				       f->nodes[dd->acceptor].name);
			else
				printf("      %s -> %s: the %s rejects: %s\n",
				       f->nodes[dd->initiator].name,
				       f->nodes[dd->acceptor].name,
				       pol_side_name(dd->v.side), v);
		}
	}
	printf("  cause: %s\n", f->cause);
	if (f->prevention >= 0)
		printf("  prevention: %s\n", f->steps[f->prevention].text);
	else
		printf("  prevention: none of the steps keeps every link up\n");
	printf("  steps checked:\n");
	for (i = 0; i < f->n_steps; i++)
		printf("    - %s\n", f->steps[i].text);
	printf("\n");
}

static void print_text(const struct audit_run *r)
{
	char at[32];
	size_t i;
	size_t with = 0;

	audit_format_date(r->at, at, sizeof(at));
	printf("ekulab audit at %s\n\n", at);
	for (i = 0; i < r->n_certs; i++) {
		print_cert(&r->certs[i]);
		with += r->certs[i].n_findings > 0;
	}
	if (r->has_forecast)
		print_forecast(&r->forecast);
	if (r->n_errors > 0) {
		printf("Errors:\n");
		for (i = 0; i < r->n_errors; i++)
			printf("  %s: %s\n", r->errors[i].source,
			       r->errors[i].message);
		printf("\n");
	}
	printf("%zu certificate%s, %zu with findings, %zu error%s", r->n_certs,
	       r->n_certs == 1 ? "" : "s", with, r->n_errors,
	       r->n_errors == 1 ? "" : "s");
	if (r->skipped > 0)
		printf(", %zu *.key file%s skipped", r->skipped,
		       r->skipped == 1 ? "" : "s");
	printf(".\n");
}

/* ---- options -------------------------------------------------------- */

struct args {
	const char *roles[AUDIT_MAX_TARGETS];
	size_t n_roles;
	const char *versions[AUDIT_MAX_TARGETS];
	size_t n_versions;
	const char *ca[MAX_FILES];
	size_t n_ca;
	const char *pub[MAX_FILES];
	size_t n_pub;
	bool system;
	bool json;
	bool server_eku_upload;
	const char *at;
	const char *cluster;
	int timeout_s;
};

static int push_arg(const char **list, size_t *n, size_t max, const char *flag,
		    const char *v)
{
	if (*n >= max) {
		cli_fail("audit: %s given more than %zu times", flag, max);
		return 2;
	}
	list[(*n)++] = v;
	return 0;
}

static int make_targets(const struct args *a, struct audit_target *t, size_t *n)
{
	size_t i;

	*n = 0;
	if (a->n_roles > 0 && a->n_versions == 0) {
		cli_fail("audit: --role needs a --version");
		return 2;
	}
	if (a->n_roles > 1 && a->n_roles != a->n_versions) {
		cli_fail("audit: %zu --role for %zu --version: give one "
			 "--role for all, or one per --version",
			 a->n_roles, a->n_versions);
		return 2;
	}
	for (i = 0; i < a->n_versions; i++) {
		const char *role = a->n_roles == 0   ? "c"
				   : a->n_roles == 1 ? a->roles[0]
						     : a->roles[i];

		memset(&t[i], 0, sizeof(t[i]));
		if (topo_role_parse(role, &t[i].role) != 0) {
			cli_fail("audit: --role '%s': use c (Expressway-C) or "
				 "e (Expressway-E)",
				 role);
			return 2;
		}
		if (strlen(a->versions[i]) > TOPO_VERSION_MAX ||
		    pol_version_parse(a->versions[i], &t[i].vclass) != 0) {
			cli_fail("audit: --version '%s': use X14.x, "
				 "X15.0-X15.3.x, X15.4 or X15.5 (e.g. "
				 "X15.3.2)",
				 a->versions[i]);
			return 2;
		}
		snprintf(t[i].version, sizeof(t[i].version), "%s",
			 a->versions[i]);
		t[i].server_eku_upload = a->server_eku_upload;
	}
	*n = a->n_versions;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'},
	    {"version", required_argument, NULL, 'v'},
	    {"server-eku-upload", no_argument, NULL, 'U'},
	    {"ca", required_argument, NULL, 'c'},
	    {"public-ca", required_argument, NULL, 'p'},
	    {"no-system-store", no_argument, NULL, 'N'},
	    {"at", required_argument, NULL, 'a'},
	    {"cluster", required_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int opt;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	a->system = true;
	a->timeout_s = 5;
	optind = 1;
	opterr = 0;
	while (rc == 0 &&
	       (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			rc = push_arg(a->roles, &a->n_roles, AUDIT_MAX_TARGETS,
				      "--role", optarg);
			break;
		case 'v':
			rc = push_arg(a->versions, &a->n_versions,
				      AUDIT_MAX_TARGETS, "--version", optarg);
			break;
		case 'U': a->server_eku_upload = true; break;
		case 'c':
			rc = push_arg(a->ca, &a->n_ca, MAX_FILES, "--ca",
				      optarg);
			break;
		case 'p':
			rc = push_arg(a->pub, &a->n_pub, MAX_FILES,
				      "--public-ca", optarg);
			break;
		case 'N': a->system = false; break;
		case 'a': a->at = optarg; break;
		case 'C': a->cluster = optarg; break;
		case 't':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    v > 120) {
				cli_fail("audit: --timeout '%s': use 1-120 "
					 "seconds",
					 optarg);
				return 2;
			}
			a->timeout_s = (int)v;
			break;
		case 'j': a->json = true; break;
		case 'h': usage(stdout); return -1;
		default:
			cli_fail("audit: unknown option or missing value: %s",
				 argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_target targets[AUDIT_MAX_TARGETS];
	struct audit_trust trust;
	struct audit_opts o;
	struct audit_run r;
	char err[EKL_ERRLEN] = "";
	struct args a;
	int64_t at;
	size_t n_targets;
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (optind == argc && a.cluster == NULL) {
		cli_fail("audit: nothing to audit: give files, directories, "
			 "HOST:PORT endpoints or --cluster FILE");
		usage(stderr);
		return 2;
	}
	if ((rc = make_targets(&a, targets, &n_targets)) != 0)
		return rc;
	at = (int64_t)time(NULL);
	if (a.at != NULL && pki_parse_time(a.at, &at) != 0) {
		cli_fail("audit: --at '%s': use YYYY-MM-DD, "
			 "YYYY-MM-DDTHH:MM:SSZ or @EPOCH",
			 a.at);
		return 2;
	}
	if (audit_trust_init(&trust, a.system, a.pub, a.n_pub, a.ca, a.n_ca,
			     err) != 0) {
		cli_fail("audit: %s", err);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.inputs = (const char *const *)(argv + optind);
	o.n_inputs = (size_t)(argc - optind);
	o.targets = targets;
	o.n_targets = n_targets;
	o.trust = &trust;
	o.at = at;
	o.timeout_ms = a.timeout_s * 1000;
	o.cluster = a.cluster;
	if (audit_run(&o, &r, err) != 0) {
		cli_fail("audit: %s", err);
		rc = 2;
		goto out;
	}
	if (a.json)
		rc = print_json(&r);
	else
		print_text(&r);
	if (rc == 0)
		rc = audit_exit_code(&r);
out:
	audit_run_free(&r);
	audit_trust_free(&trust);
	return rc;
}
