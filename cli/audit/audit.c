/* audit.c: `ekulab audit`: the run that ties inputs, rules and forecast.
 *
 * The happy path of a run: each input is a file (PEM with one or many
 * certificates, DER, PKCS#7), a directory (walked recursively) or a live
 * endpoint (HOST:PORT, the chain the server presents). Each certificate of
 * a source becomes one record: its facts (names, EKU, key, validity), its
 * chain built against the trust store (system roots, --public-ca, --ca)
 * and the class of the root that anchors it, then for every target node
 * the upload verdict (xpw_upload, the Expressway model's rule), the ClusterDB
 * verdicts (asked of the policy function), the same on a server-only
 * renewal, the timeline risks and the options of the notice's decision
 * tree.
 *
 * The failure modes: an unreadable file, garbage, a PEM block cut short,
 * a chain out of order, a private key or a request where a certificate was
 * expected, an unreachable or non-TLS endpoint. Each becomes one entry of
 * the run's errors (source and message; key material is never read past
 * its PEM label or printed) and the rest of the inputs is still audited.
 *
 * The files: audit_input.c reads the inputs, audit_cert.c makes each
 * record, audit_trust.c classifies roots, audit_rules.c holds the rules,
 * audit_forecast.c the cluster forecast; this file runs them and keeps
 * the helpers the records share (audit_int.h).
 */
#include "audit_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/mem.h"
#include "ekulab/core/utf8.h"

/* ==== small helpers ================================================== */

int audit_strv_push(struct audit_strv *v, const char *s)
{
	char **nv = ekl_realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return EKL_ENOMEM;
	v->v = nv;
	v->v[v->n] = ekl_strdup(s);
	if (v->v[v->n] == NULL)
		return EKL_ENOMEM;
	v->n++;
	return 0;
}

void audit_strv_free(struct audit_strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		ekl_free(v->v[i]);
	ekl_free(v->v);
	v->v = NULL;
	v->n = 0;
}

void audit_clean_utf8(char *s)
{
	size_t len = strlen(s), i = 0;

	/* Control characters and whatever is not UTF-8 (lib/core/utf8.c:
	 * no overlong form, no surrogate, nothing above U+10FFFF) become
	 * '?', so every report, JSON included, is valid text. */
	while (i < len) {
		size_t ok = utf8_valid_prefix(s + i, len - i);
		size_t k;

		for (k = i; k < i + ok; k++)
			if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
				s[k] = '?';
		i += ok;
		if (i < len)
			s[i++] = '?';
	}
}

void audit_add_error(struct audit_run *r, const char *source, const char *fmt,
		     ...)
{
	struct audit_error *e;
	va_list ap;

	if (r->n_errors == r->cap_errors) {
		size_t cap = r->cap_errors ? r->cap_errors * 2 : 16;
		struct audit_error *ne =
		    ekl_realloc(r->errors, cap * sizeof(*ne));

		if (ne == NULL) {
			r->oom = true;
			return;
		}
		r->errors = ne;
		r->cap_errors = cap;
	}
	e = &r->errors[r->n_errors++];
	snprintf(e->source, sizeof(e->source), "%s", source);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	audit_clean_utf8(e->source);
	audit_clean_utf8(e->message);
}

bool audit_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ==== the run ======================================================== */

int audit_run(const struct audit_opts *o, struct audit_run *r, char *err)
{
	char e[EKL_ERRLEN] = "";
	struct topo t;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->at = o->at;
	for (i = 0; i < o->n_inputs && !r->oom; i++)
		audit_input(r, o, o->inputs[i]);
	if (o->cluster != NULL && !r->oom) {
		if (audit_cluster_load(o->cluster, &t, e) != 0) {
			audit_add_error(r, o->cluster, "%s", e);
		} else {
			if (audit_forecast_run(&t, o->trust, o->at,
					       &r->forecast, e) != 0)
				audit_add_error(r, o->cluster, "%s", e);
			else
				r->has_forecast = true;
			topo_free(&t);
		}
	}
	if (r->oom)
		return ekl_errf(err, EKL_ENOMEM, "audit: out of memory");
	return 0;
}

void audit_run_free(struct audit_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_certs; i++) {
		audit_strv_free(&r->certs[i].sans);
		audit_strv_free(&r->certs[i].eku);
		audit_strv_free(&r->certs[i].chain);
	}
	ekl_free(r->certs);
	ekl_free(r->errors);
	audit_forecast_free(&r->forecast);
	memset(r, 0, sizeof(*r));
}

int audit_exit_code(const struct audit_run *r)
{
	size_t i;

	if (r->n_errors > 0 || r->oom)
		return 2;
	if (r->has_forecast &&
	    (r->forecast.breaks || r->forecast.n_zones_now > 0 ||
	     r->forecast.n_zones_later > 0 || r->forecast.n_mismatch > 0))
		return 1;
	for (i = 0; i < r->n_certs; i++)
		if (r->certs[i].n_findings > 0)
			return 1;
	return 0;
}
