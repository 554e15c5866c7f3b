/* report.c: the truth table as text (one grid per distinct cross-product
 * block, then the X15.5, edge and disagreeing cases) or JSON, and the run
 * that makes it (mx_show). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "matrix.h"

/* ---- JSON -------------------------------------------------------------- */

static void verdict_json(struct json *j, const struct mx_verdict *v)
{
	json_obj_begin(j);
	json_key(j, "ok");
	json_bool(j, v->ok);
	json_key(j, "side");
	json_str(j, v->ok ? NULL : pol_side_name(v->side));
	json_key(j, "code");
	json_str(j, v->ok ? NULL : pol_code_name(v->code));
	json_key(j, "depth");
	if (!v->ok && v->depth >= 0)
		json_int(j, v->depth);
	else
		json_null(j);
	json_obj_end(j);
}

static void side_json(struct json *j, const struct mx_side *s, bool ini)
{
	json_obj_begin(j);
	json_key(j, "version");
	json_str(j, s->version);
	json_key(j, "verify");
	json_str(j, pol_mode_name(s->mode));
	json_key(j, "certificate");
	if (s->no_cert) {
		json_null(j);
	} else {
		json_obj_begin(j);
		json_key(j, "profile");
		json_str(j, pki_profile_name(s->profile));
		json_key(j, "ca");
		json_str(j, s->other_pki ? "other-pki" : pki_ca_name(s->ca));
		json_key(j, "validity");
		json_str(j, s->expired	 ? "expired"
			    : s->not_yet ? "not-yet-valid"
					 : "current");
		json_obj_end(j);
	}
	if (ini) {
		json_key(j, "client_certificate");
		json_str(j, s->has_client ? pki_profile_name(s->client_profile)
					  : NULL);
	} else {
		json_key(j, "client_eku_check");
		json_bool(j, s->client_eku_check);
	}
	json_obj_end(j);
}

static int print_json(FILE *f, const struct mx_run *r, char *err)
{
	struct json j;
	const char *s;
	size_t i;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "total");
	json_int(&j, (int64_t)r->n);
	json_key(&j, "disagreements");
	json_int(&j, (int64_t)r->disagreements);
	json_key(&j, "seconds");
	json_int(&j, (int64_t)(r->seconds * 1000) / 1000);
	json_key(&j, "cases");
	json_arr_begin(&j);
	for (i = 0; i < r->n; i++) {
		const struct mx_case *c = &r->cases[i];

		json_obj_begin(&j);
		json_key(&j, "group");
		json_str(&j, c->group);
		json_key(&j, "service");
		json_str(&j, pol_service_name(c->service));
		json_key(&j, "initiator");
		side_json(&j, &c->ini, true);
		json_key(&j, "acceptor");
		side_json(&j, &c->acc, false);
		json_key(&j, "initiator_expects");
		json_str(&j, c->ini_expects);
		json_key(&j, "predicted");
		verdict_json(&j, &c->predicted);
		json_key(&j, "observed");
		verdict_json(&j, &c->observed);
		json_key(&j, "peer_saw");
		json_str(&j,
			 c->observed.ok ? NULL : pol_code_name(c->peer_saw));
		json_key(&j, "detail");
		json_str(&j, c->detail[0] ? c->detail : NULL);
		json_key(&j, "agree");
		json_bool(&j, c->agree);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	s = json_finish(&j);
	if (s == NULL) {
		json_close(&j);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	fprintf(f, "%s\n", s);
	json_close(&j);
	return 0;
}

/* ---- text -------------------------------------------------------------- */

/* One cell of a grid: '.' ok; 'C' acceptor rejects (client-purpose);
 * 'S' initiator rejects (server-purpose); other codes by initial; '!'
 * model and handshake disagree. */
static char cell(const struct mx_case *c)
{
	if (!c->agree)
		return '!';
	if (c->observed.ok)
		return '.';
	switch (c->observed.code) {
	case POL_CLIENT_PURPOSE: return 'C';
	case POL_SERVER_PURPOSE: return 'S';
	default: return '?';
	}
}

#define NCERT 8 /* 4 leaf profiles x 2 issuing CAs, in generation order */

/* The cross cases come in blocks of 64 (initiator cert x acceptor cert)
 * per (mode, initiator version, acceptor version). Identical grids are
 * printed once with every version pair they hold for. */
static void print_cross(FILE *f, const struct mx_run *r)
{
	static const char *cert_names[NCERT] = {
	    "combined/u",     "combined/so",   "server-only/u",
	    "server-only/so", "client-only/u", "client-only/so",
	    "no-eku/u",	      "no-eku/so"};
	size_t nblocks = 0, b, b2, i;
	char grids[64][NCERT * NCERT + 1];
	bool printed[64];

	for (i = 0; i < r->n && strcmp(r->cases[i].group, "cross") == 0;
	     i += NCERT * NCERT) {
		size_t k;

		if (nblocks == 64)
			break;
		for (k = 0; k < NCERT * NCERT; k++)
			grids[nblocks][k] = cell(&r->cases[i + k]);
		grids[nblocks][NCERT * NCERT] = '\0';
		printed[nblocks] = false;
		nblocks++;
	}
	fprintf(f, "Cross product: initiator certificate (rows) x acceptor "
		   "certificate (columns, numbered as the rows).\n"
		   "  .  linked    C  acceptor rejects: client-purpose    "
		   "S  initiator rejects: server-purpose    !  model and live "
		   "disagree\n"
		   "  certificate = leaf profile / issuing CA (u = no EKU on "
		   "the CA, so = CA restricted to serverAuth)\n\n");
	for (b = 0; b < nblocks; b++) {
		const struct mx_case *first;
		int col;

		if (printed[b])
			continue;
		first = &r->cases[b * NCERT * NCERT];
		fprintf(f, "verify %s, initiator -> acceptor:",
			pol_mode_name(first->ini.mode));
		for (b2 = b; b2 < nblocks; b2++) {
			const struct mx_case *o = &r->cases[b2 * NCERT * NCERT];

			if (printed[b2] || o->ini.mode != first->ini.mode ||
			    strcmp(grids[b2], grids[b]) != 0)
				continue;
			printed[b2] = true;
			fprintf(f, " %s->%s", o->ini.version, o->acc.version);
		}
		fprintf(f, "\n%18s", "");
		for (col = 0; col < NCERT; col++)
			fprintf(f, "%3d", col + 1);
		fprintf(f, "\n");
		for (i = 0; i < NCERT; i++) {
			fprintf(f, "  %zu %-14s", i + 1, cert_names[i]);
			for (col = 0; col < NCERT; col++)
				fprintf(f, "  %c",
					grids[b][i * NCERT + (size_t)col]);
			fprintf(f, "\n");
		}
		fprintf(f, "\n");
	}
}

static void verdict_text(char *buf, size_t len, const struct mx_verdict *v)
{
	if (v->ok)
		snprintf(buf, len, "ok");
	else if (v->side == POL_SIDE_NONE)
		snprintf(buf, len, "failed");
	else if (v->depth >= 0 && (v->code == POL_CLIENT_PURPOSE ||
				   v->code == POL_SERVER_PURPOSE))
		snprintf(buf, len, "%s rejects: %s@%d", pol_side_name(v->side),
			 pol_code_name(v->code), v->depth);
	else
		snprintf(buf, len, "%s rejects: %s", pol_side_name(v->side),
			 pol_code_name(v->code));
}

static void print_case_line(FILE *f, const struct mx_case *c)
{
	char ic[96], ac[96], p[96], o[96];

	mx_cert_label(&c->ini, ic, sizeof(ic));
	mx_cert_label(&c->acc, ac, sizeof(ac));
	verdict_text(p, sizeof(p), &c->predicted);
	verdict_text(o, sizeof(o), &c->observed);
	fprintf(
	    f,
	    "  %-6s %-9s %-10s %-7s %-22s%s%-13s -> %-7s %-22s %s "
	    "%-32s %s\n",
	    c->group, pol_service_name(c->service), pol_mode_name(c->ini.mode),
	    c->ini.version, c->ini.no_cert ? "no certificate" : ic,
	    c->ini.has_client ? " +client " : "         ",
	    c->ini.has_client ? pki_profile_name(c->ini.client_profile) : "",
	    c->acc.version, ac,
	    c->acc.client_eku_check ? "eku-check:on " : "eku-check:off", o,
	    c->agree ? "" : p);
	if (!c->agree)
		fprintf(f,
			"         DISAGREE: model says '%s', live says '%s' "
			"(peer saw %s): %s\n",
			p, o, pol_code_name(c->peer_saw), c->detail);
}

static void print_text(FILE *f, const struct mx_run *r, bool all)
{
	size_t i;

	print_cross(f, r);
	fprintf(f,
		"X15.5 (client certificates, client EKU check), edge cases "
		"(every code), %s:\n",
		all ? "every case" : "and any disagreement");
	fprintf(f,
		"  %-6s %-9s %-10s %-7s %-22s %-22s -> %-7s %-22s %-13s "
		"%s\n",
		"group", "service", "verify", "init", "init cert",
		"client cert", "accept", "acceptor cert", "", "live result");
	for (i = 0; i < r->n; i++) {
		const struct mx_case *c = &r->cases[i];

		if (all || strcmp(c->group, "cross") != 0 || !c->agree)
			print_case_line(f, c);
	}
	fprintf(f, "\n%zu cases, %zu disagreements, %.1f s\n", r->n,
		r->disagreements, r->seconds);
}

int mx_show(const struct mx_opts *o, char *err)
{
	struct mx_run r;
	int rv;

	err[0] = '\0';
	rv = mx_run(&r, o->jobs, err);
	if (rv != 0) {
		mx_run_free(&r);
		return 2;
	}
	if (o->json)
		rv = print_json(o->out, &r, err) != 0 ? 2 : 0;
	else
		print_text(o->out, &r, o->all);
	if (rv == 0)
		rv = r.disagreements > 0 ? 1 : 0;
	mx_run_free(&r);
	return rv;
}
