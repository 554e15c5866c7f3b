/* report.c: the truth table as text (one grid per distinct cross-product
 * block, one grid per zone service and direction and for MRA, then the
 * X15.5, edge and zone-edge cases and any disagreeing one) or JSON, and
 * the run that makes it (mx_show). */
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

static bool is_external(const struct mx_side *s)
{
	return pol_kind_external(s->kind);
}

/* The X15.5 per-service overrides, {"traversal": false, ...}: true =
 * check, false = ignore the peer's client EKU. */
static void overrides_json(struct json *j, const struct mx_side *s)
{
	int i;

	json_obj_begin(j);
	for (i = 0; i < POL_SVC_COUNT; i++) {
		if (s->client_eku_service[i] == POL_SW_DEFAULT)
			continue;
		json_key(j, pol_service_name((enum pol_service)i));
		json_bool(j, s->client_eku_service[i] == POL_SW_CHECK);
	}
	json_obj_end(j);
}

static void side_json(struct json *j, const struct mx_side *s, bool ini)
{
	json_obj_begin(j);
	json_key(j, "kind");
	json_str(j, pol_kind_name(s->kind));
	json_key(j, "role");
	json_str(j, is_external(s) ? NULL : pol_role_name(s->role));
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
		json_key(j, "client_eku_check_services");
		overrides_json(j, s);
		json_key(j, "checks_client_eku");
		if (is_external(s))
			json_bool(j, s->checks_client_eku);
		else
			json_null(j);
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

/* One cell of a grid: '.' ok; 'C' client-purpose (the acceptor rejects
 * the initiator; for mra, C rejects E's message); 'S' server-purpose (the
 * initiator rejects the acceptor); U untrusted, E expired, Y not yet
 * valid, N name mismatch, 0 no certificate; '!' model and handshake
 * disagree. */
static char cell(const struct mx_case *c)
{
	if (!c->agree)
		return '!';
	if (c->observed.ok)
		return '.';
	switch (c->observed.code) {
	case POL_CLIENT_PURPOSE: return 'C';
	case POL_SERVER_PURPOSE: return 'S';
	case POL_UNTRUSTED: return 'U';
	case POL_EXPIRED: return 'E';
	case POL_NOT_YET_VALID: return 'Y';
	case POL_NAME_MISMATCH: return 'N';
	case POL_NO_CERTIFICATE: return '0';
	case POL_OK:
	case POL_CODE_COUNT: break;
	}
	return '?';
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
		{
			size_t same = 0, col2 = 2;

			for (b2 = b; b2 < nblocks; b2++) {
				const struct mx_case *o =
				    &r->cases[b2 * NCERT * NCERT];

				if (o->ini.mode == first->ini.mode &&
				    strcmp(grids[b2], grids[b]) == 0)
					same++;
			}
			fprintf(f,
				"verify %s: this grid holds for all %zu "
				"version pair%s below (initiator -> "
				"acceptor)\n ",
				pol_mode_name(first->ini.mode), same,
				same == 1 ? "" : "s");
			for (b2 = b; b2 < nblocks; b2++) {
				const struct mx_case *o =
				    &r->cases[b2 * NCERT * NCERT];
				size_t w;

				if (printed[b2] ||
				    o->ini.mode != first->ini.mode ||
				    strcmp(grids[b2], grids[b]) != 0)
					continue;
				printed[b2] = true;
				w = strlen(o->ini.version) +
				    strlen(o->acc.version) + 3;
				if (col2 + w > 78) {
					fprintf(f, "\n ");
					col2 = 2;
				}
				fprintf(f, " %s->%s", o->ini.version,
					o->acc.version);
				col2 += w;
			}
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

/* ---- zone service grids ---------------------------------------------- */

#define GRID_ROWS 24
#define GRID_COLS 8
#define GRID_MAX  48

/* One block of consecutive cases (same group, title and service), laid
 * out by the cases' row and column labels. */
struct grid {
	size_t start; /* index of its first case */
	const struct mx_case *first;
	char title[200]; /* the services it holds, with their externals */
	int nr, nc;
	const char *rows[GRID_ROWS];
	const char *cols[GRID_COLS];
	char cells[GRID_ROWS][GRID_COLS];
	bool printed;
};

static int label_index(const char **v, int *n, int max, const char *label)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(v[i], label) == 0)
			return i;
	if (*n == max)
		return -1;
	v[*n] = label;
	return (*n)++;
}

/* "neighbour (cucm)": the service, and the external kind when there is
 * one. */
static void service_label(const struct mx_case *c, char *buf, size_t len)
{
	const struct mx_side *ext = is_external(&c->ini)   ? &c->ini
				    : is_external(&c->acc) ? &c->acc
							   : NULL;

	if (ext != NULL)
		snprintf(buf, len, "%s (%s)", pol_service_name(c->service),
			 pol_kind_name(ext->kind));
	else
		snprintf(buf, len, "%s", pol_service_name(c->service));
}

static bool same_block(const struct mx_case *a, const struct mx_case *b)
{
	return b->block != NULL && strcmp(a->group, b->group) == 0 &&
	       strcmp(a->block, b->block) == 0 && a->service == b->service;
}

/* Lay out the block starting at case i; returns the case after it. */
static size_t grid_build(const struct mx_run *r, size_t i, struct grid *g)
{
	size_t k;
	int row, col;

	memset(g, 0, sizeof(*g));
	memset(g->cells, ' ', sizeof(g->cells));
	g->start = i;
	g->first = &r->cases[i];
	service_label(g->first, g->title, sizeof(g->title));
	for (k = i; k < r->n && same_block(g->first, &r->cases[k]); k++) {
		row = label_index(g->rows, &g->nr, GRID_ROWS, r->cases[k].row);
		col = label_index(g->cols, &g->nc, GRID_COLS, r->cases[k].col);
		if (row >= 0 && col >= 0)
			g->cells[row][col] = cell(&r->cases[k]);
	}
	return k;
}

/* Same title, labels and cells: printed once, naming every service. */
static bool same_grid(const struct grid *a, const struct grid *b)
{
	int i;

	if (strcmp(a->first->block, b->first->block) != 0 || a->nr != b->nr ||
	    a->nc != b->nc)
		return false;
	for (i = 0; i < a->nr; i++)
		if (strcmp(a->rows[i], b->rows[i]) != 0 &&
		    !(is_external(&a->first->ini) &&
		      is_external(&b->first->ini)))
			return false;
	for (i = 0; i < a->nc; i++)
		if (strcmp(a->cols[i], b->cols[i]) != 0)
			return false;
	return memcmp(a->cells, b->cells, sizeof(a->cells)) == 0;
}

static void grid_print(FILE *f, const struct grid *g, const char *title)
{
	int w = 0, i, j, cw;

	for (i = 0; i < g->nr; i++)
		if ((int)strlen(g->rows[i]) > w)
			w = (int)strlen(g->rows[i]);
	fprintf(f, "%s:\n  %s\n  %-*s", title, g->first->block, w, "");
	for (j = 0; j < g->nc; j++)
		fprintf(f, "  %s", g->cols[j]);
	fprintf(f, "\n");
	for (i = 0; i < g->nr; i++) {
		/* An external's kind starts its row label; merged grids
		 * name every kind in the title instead. */
		const char *label = g->rows[i];

		if (is_external(&g->first->ini) && strchr(label, ' ') != NULL)
			label = strchr(label, ' ') + 1;
		fprintf(f, "  %-*s", w, label);
		for (j = 0; j < g->nc; j++) {
			cw = (int)strlen(g->cols[j]);
			fprintf(f, "  %*c", (cw + 1) / 2, g->cells[i][j]);
			if (j + 1 < g->nc)
				fprintf(f, "%*s", cw - (cw + 1) / 2, "");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

static void print_services(FILE *f, const struct mx_run *r)
{
	static struct grid grids[GRID_MAX];
	size_t n = 0, i = 0, a, b;
	char title[400];

	while (i < r->n) {
		if (r->cases[i].block == NULL || n == GRID_MAX) {
			i++;
			continue;
		}
		i = grid_build(r, i, &grids[n++]);
	}
	if (n == 0)
		return;
	fprintf(f,
		"Zone services and MRA: the row initiates, the column accepts "
		"(mra: rows are E,\nwhose certificate C checks in the SIP "
		"SERVICE message).\n"
		"  .  works    C  client-purpose (the acceptor rejects; mra: C "
		"rejects E's message)\n"
		"  S  server-purpose (the initiator rejects)    !  model and "
		"live disagree\n"
		"  +client = also an X15.5 client certificate (client-only); "
		"X15.5 off = the\n"
		"  acceptor's client EKU switch off for this service only\n\n");
	for (a = 0; a < n; a++) {
		if (grids[a].printed)
			continue;
		snprintf(title, sizeof(title), "%s", grids[a].title);
		for (b = a + 1; b < n; b++) {
			size_t used = strlen(title);

			if (grids[b].printed ||
			    !same_grid(&grids[a], &grids[b]))
				continue;
			grids[b].printed = true;
			snprintf(title + used, sizeof(title) - used, ", %s",
				 grids[b].title);
		}
		grid_print(f, &grids[a], title);
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

/* What one side is, for a case line: its version, or the external kind. */
static const char *who(const struct mx_side *s)
{
	return is_external(s) ? pol_kind_name(s->kind) : s->version;
}

/* "enforce", "permissive", or initiator/acceptor when they differ. */
static const char *modes(const struct mx_case *c)
{
	if (c->ini.mode == c->acc.mode)
		return pol_mode_name(c->ini.mode);
	return c->ini.mode == POL_ENFORCE ? "enf/perm" : "perm/enf";
}

/* The acceptor's client EKU setting for the case's service. */
static void setting(const struct mx_case *c, char *buf, size_t len)
{
	const struct mx_side *a = &c->acc;
	int i;

	if (is_external(a)) {
		snprintf(buf, len, "checks-eku:%s",
			 a->checks_client_eku ? "on" : "off");
		return;
	}
	snprintf(buf, len, "eku-check:%s", a->client_eku_check ? "on" : "off");
	for (i = 0; i < POL_SVC_COUNT; i++)
		if (a->client_eku_service[i] != POL_SW_DEFAULT) {
			size_t used = strlen(buf);

			snprintf(buf + used, len - used, " %s:%s",
				 pol_service_name((enum pol_service)i),
				 a->client_eku_service[i] == POL_SW_CHECK
				     ? "on"
				     : "off");
		}
}

static void print_case_line(FILE *f, const struct mx_case *c)
{
	char ic[96], ac[96], p[96], o[96], st[96];

	mx_cert_label(&c->ini, ic, sizeof(ic));
	mx_cert_label(&c->acc, ac, sizeof(ac));
	verdict_text(p, sizeof(p), &c->predicted);
	verdict_text(o, sizeof(o), &c->observed);
	setting(c, st, sizeof(st));
	fprintf(
	    f,
	    "  %-9s %-10s %-10s %-7s %-22s%s%-13s -> %-7s %-22s %-13s %-32s "
	    "%s\n",
	    c->group, pol_service_name(c->service), modes(c), who(&c->ini),
	    c->ini.no_cert ? "no certificate" : ic,
	    c->ini.has_client ? " +client " : "         ",
	    c->ini.has_client ? pki_profile_name(c->ini.client_profile) : "",
	    who(&c->acc), ac, st, o, c->agree ? "" : p);
	if (!c->agree)
		fprintf(f,
			"         DISAGREE: model says '%s', live says '%s' "
			"(peer saw %s): %s\n",
			p, o, pol_code_name(c->peer_saw), c->detail);
}

/* Cases shown as grids are listed only with --all or when they
 * disagree. */
static bool gridded(const struct mx_case *c)
{
	return strcmp(c->group, "cross") == 0 || c->block != NULL;
}

static void print_text(FILE *f, const struct mx_run *r, bool all, bool verbose)
{
	size_t i, more = 0;

	print_cross(f, r);
	print_services(f, r);
	if (!all && !verbose) {
		for (i = 0; i < r->n; i++)
			if (!gridded(&r->cases[i]))
				more++;
		if (r->disagreements > 0) {
			fprintf(f, "Cases where the model and the live "
				   "handshake disagree:\n");
			for (i = 0; i < r->n; i++)
				if (!r->cases[i].agree)
					print_case_line(f, &r->cases[i]);
			fprintf(f, "\n");
		}
		fprintf(f,
			"%zu cases, %zu disagreement%s: %s (%.1f s; %zu "
			"X15.5, edge and zone-edge cases are not in the "
			"grids: --verbose lists them)\n",
			r->n, r->disagreements,
			r->disagreements == 1 ? "" : "s",
			r->disagreements == 0
			    ? "the model and the live handshakes agree"
			    : "the model and the live handshakes DISAGREE",
			r->seconds, more);
		return;
	}
	fprintf(f,
		"X15.5 (client certificates, client EKU check), edge cases "
		"(every code), zone\nedge cases (the switch per service, "
		"externals that do not verify, MRA's own\ncodes), %s:\n",
		all ? "every case" : "and any disagreement");
	fprintf(f,
		"  %-9s %-10s %-10s %-7s %-22s %-22s -> %-7s %-22s %-13s "
		"%s\n",
		"group", "service", "verify", "init", "init cert",
		"client cert", "accept", "acceptor cert", "", "live result");
	for (i = 0; i < r->n; i++) {
		const struct mx_case *c = &r->cases[i];

		if (all || !gridded(c) || !c->agree)
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
	rv = mx_run_progress(&r, o->jobs, o->progress, err);
	if (rv != 0) {
		mx_run_free(&r);
		return 2;
	}
	if (o->json)
		rv = print_json(o->out, &r, err) != 0 ? 2 : 0;
	else
		print_text(o->out, &r, o->all, o->verbose);
	if (rv == 0)
		rv = r.disagreements > 0 ? 1 : 0;
	mx_run_free(&r);
	return rv;
}
