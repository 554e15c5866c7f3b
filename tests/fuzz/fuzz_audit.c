/* fuzz_audit.c: `ekulab audit`'s certificate input (cli/audit): PEM files
 * (any blocks, text around them), DER certificates, PKCS#7 bundles in PEM
 * or DER, and the `--cluster` list; then every record the audit makes of
 * what it read, and its JSON and text reports.
 *
 * Input: a file's content. One starting with "# cluster" is a cluster list
 * ("NAME VERSION CERTFILE [c|e]" a line; a.pem, b.pem and c.pem next to it
 * are real lab certificates) and gets a forecast; anything else is
 * audited as a certificate file. The trust store holds the lab root
 * (tests/fuzz/data/lab-root.pem) as a private root; the targets are
 * X15.3.2 C, X15.4 E (server EKU upload on) and X15.5 C.
 *
 * Properties checked on every input:
 *  - the JSON report is valid JSON (strict reader), however odd the names
 *    in the certificates, with one certificate object per record and one
 *    error object per error;
 *  - every record has a source, and the run never runs out of memory;
 *  - key material never reaches a report: a PEM block labelled as a key
 *    is reported by its label, and its base64 body appears nowhere;
 *  - no sanitizer report, no leak.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "ekulab/core/err.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "fuzzutil.h"

#define AT 1767225600 /* 2026-01-01: a fixed evaluation time */

static struct audit_trust trust;
static struct audit_target targets[3];
static char list_path[600];

static void copy_seed(const char *from_name, const char *to_name)
{
	char from[1024], to[600];
	static char buf[1 << 16];
	size_t n;
	FILE *f;

	snprintf(from, sizeof(from), "%s/tests/fuzz/corpus/fuzz_audit/%s",
		 EKL_SOURCE_DIR, from_name);
	f = fopen(from, "rb");
	if (f == NULL) {
		perror(from);
		abort();
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fz_write_file(to_name, buf, n, to, sizeof(to));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const roots[] = {EKL_SOURCE_DIR
					    "/tests/fuzz/data/lab-root.pem"};
	char err[EKL_ERRLEN] = "";

	(void)argc;
	(void)argv;
	fz_quiet();
	if (audit_trust_init(&trust, false, NULL, 0, roots, 1, err) != 0) {
		fprintf(stderr, "fuzz_audit: %s\n", err);
		abort();
	}
	copy_seed("combined-chain.pem", "a.pem");
	copy_seed("server-only-rsa-chain.pem", "b.pem");
	copy_seed("client-only-chain.pem", "c.pem");
	targets[0].role = TOPO_ROLE_C;
	snprintf(targets[0].version, sizeof(targets[0].version), "X15.3.2");
	targets[1].role = TOPO_ROLE_E;
	snprintf(targets[1].version, sizeof(targets[1].version), "X15.4");
	targets[1].server_eku_upload = true;
	targets[2].role = TOPO_ROLE_C;
	snprintf(targets[2].version, sizeof(targets[2].version), "X15.5");
	for (int i = 0; i < 3; i++)
		if (pol_version_parse(targets[i].version, &targets[i].vclass) !=
		    0)
			abort();
	return 0;
}

/* How often s occurs in data. */
static size_t occurs(const uint8_t *data, size_t size, const char *s)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0, len = strlen(s);

	while ((p = memmem(p, (size_t)(end - p), s, len)) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* The base64 body of a key-labelled PEM block must not reach a report:
 * any line of it, 16 characters or more, is looked for. */
static void no_key_material(const uint8_t *data, size_t size,
			    const char *report)
{
	const char *p = (const char *)data, *end = p + size;

	while ((p = memmem(p, (size_t)(end - p), "PRIVATE KEY-----\n", 17)) !=
	       NULL) {
		const char *line = p + 17;
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n =
		    nl != NULL ? (size_t)(nl - line) : (size_t)(end - line);
		char probe[65];

		p = line;
		if (n < 16 || memchr(line, '-', n) != NULL)
			continue;
		if (n > 64)
			n = 64;
		memcpy(probe, line, n);
		probe[n] = '\0';
		if (strlen(probe) < 16 || occurs(data, size, probe) > 1)
			continue; /* also given elsewhere in the input (e.g. a
				     cluster list's version field, which an
				     error quotes): not only key material */
		FZ_CHECK(strstr(report, probe) == NULL,
			 "key material '%s' in a report", probe);
	}
}

static void check_reports(const struct audit_run *r, const uint8_t *data,
			  size_t size)
{
	const struct jsonr_value *root, *certs, *errors;
	char err[EKL_ERRLEN] = "";
	struct jsonr_doc *doc = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	if (f == NULL)
		abort();
	(void)audit_report_json(r, f);
	fclose(f);
	FZ_CHECK(jsonr_parse(text, len, &doc, err) == 0,
		 "the JSON report is not JSON: %s", err);
	root = jsonr_root(doc);
	certs = jsonr_get(root, "certificates");
	errors = jsonr_get(root, "errors");
	FZ_CHECK(jsonr_is(certs, JSONR_ARRAY) && jsonr_len(certs) == r->n_certs,
		 "%zu certificates in the JSON of %zu", jsonr_len(certs),
		 r->n_certs);
	FZ_CHECK(
	    jsonr_is(errors, JSONR_ARRAY) && jsonr_len(errors) == r->n_errors,
	    "%zu errors in the JSON of %zu", jsonr_len(errors), r->n_errors);
	no_key_material(data, size, text);
	jsonr_free(doc);
	free(text);

	text = NULL;
	f = open_memstream(&text, &len);
	if (f == NULL)
		abort();
	audit_report_text(r, f);
	fclose(f);
	no_key_material(data, size, text);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_opts o;
	struct audit_run r;
	char err[EKL_ERRLEN] = "";
	size_t i;

	memset(&o, 0, sizeof(o));
	o.targets = targets;
	o.n_targets = 3;
	o.trust = &trust;
	o.at = AT;
	o.timeout_ms = 1000;
	memset(&r, 0, sizeof(r));
	r.at = AT;
	if (size >= 9 && memcmp(data, "# cluster", 9) == 0) {
		fz_write_file("cluster.txt", data, size, list_path,
			      sizeof(list_path));
		o.cluster = list_path;
		FZ_CHECK(audit_run(&o, &r, err) == 0, "audit: %s", err);
	} else if (size > 0) {
		audit_data(&r, &o, "fuzz.pem", data, (long)size);
	}
	FZ_CHECK(!r.oom, "out of memory");
	for (i = 0; i < r.n_certs; i++)
		FZ_CHECK(r.certs[i].source[0] != '\0',
			 "a record without source");
	check_reports(&r, data, size);
	audit_run_free(&r);
	return 0;
}
