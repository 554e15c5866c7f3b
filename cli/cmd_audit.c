/* cmd_audit.c: `ekulab audit`: the options into the audit engine's
 * (cli/audit/audit.h), one call (audit_show), errors on stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "cmd.h"
#include "ekulab/core/err.h"
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
	    "CERTFILE [c|e];\n"
	    "                      public roots renewed server-only at "
	    "expiry, private\n"
	    "                      ones like for like\n"
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
	struct audit_show_opts o;
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
	memset(&o, 0, sizeof(o));
	o.system_store = a.system;
	o.public_files = a.pub;
	o.n_public = a.n_pub;
	o.private_files = a.ca;
	o.n_private = a.n_ca;
	o.run.inputs = (const char *const *)(argv + optind);
	o.run.n_inputs = (size_t)(argc - optind);
	o.run.targets = targets;
	o.run.n_targets = n_targets;
	o.run.at = at;
	o.run.timeout_ms = a.timeout_s * 1000;
	o.run.cluster = a.cluster;
	o.json = a.json;
	o.out = stdout;
	rc = audit_show(&o, err);
	if (rc == 2 && err[0] != '\0')
		cli_fail("audit: %s", err);
	return rc;
}
