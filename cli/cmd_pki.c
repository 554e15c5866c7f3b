/* cmd_pki.c: `ekulab pki init|issue`, the lab PKI from the command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/pki.h"

#define CAS	   "unrestricted, server-only, combined"
#define PROFILES   "combined, server-only, client-only, no-eku, any-eku"
#define KEYS	   "ec-p256, rsa-2048"
#define TIME_FORMS "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @EPOCH"
#define MAX_DAYS   36500

static void usage_pki(FILE *f)
{
	fprintf(f,
		"usage: ekulab pki init --dir D [--force]\n"
		"       ekulab pki issue --dir D --name NAME --profile P "
		"[options]\n"
		"\nRun 'ekulab pki init --help' or 'ekulab pki issue --help' "
		"for details.\n");
}

static void usage_init(FILE *f)
{
	fprintf(f,
		"usage: ekulab pki init --dir D [--force]\n"
		"\n"
		"Create a lab PKI in D (made 0700 if missing):\n"
		"  ca.crt                the trust bundle (root \"ekulab lab "
		"root\")\n"
		"  root.key              the root key\n"
		"  ca-unrestricted.crt   issuing CA without an EKU extension\n"
		"  ca-server-only.crt    issuing CA with EKU serverAuth\n"
		"  ca-combined.crt       issuing CA with EKU "
		"serverAuth+clientAuth\n"
		"  (each with its .key; keys are EC P-256, mode 0600)\n"
		"\n"
		"  --dir D     PKI directory (required)\n"
		"  --force     replace an existing PKI in D\n"
		"  --help      show this help\n");
}

static void usage_issue(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab pki issue --dir D --name NAME --profile P "
	    "[options]\n"
	    "\n"
	    "Issue a leaf: D/NAME.crt (leaf then issuing CA) and D/NAME.key "
	    "(0600).\n"
	    "\n"
	    "  --dir D            PKI directory made by 'ekulab pki init' "
	    "(required)\n"
	    "  --name NAME        file stem and subject CN (required; "
	    "[A-Za-z0-9._-])\n"
	    "  --profile P        EKU: " PROFILES " (required)\n"
	    "  --ca C             issuing CA: " CAS " (default unrestricted)\n"
	    "  --san S            DNS name or IP address, bare or as "
	    "DNS:NAME / IP:ADDR;\n"
	    "                     repeat up to %d times (default: "
	    "DNS:NAME)\n"
	    "  --days N           valid from now-1h for N days (default "
	    "365)\n"
	    "  --not-before T     explicit validity start, with "
	    "--not-after;\n"
	    "  --not-after T      T is " TIME_FORMS "\n"
	    "  --key K            key type: " KEYS " (default ec-p256)\n"
	    "  --self-signed      self-signed leaf (no --ca)\n"
	    "  --force            replace an existing NAME.crt/NAME.key\n"
	    "  --help             show this help\n",
	    PKI_MAX_SANS);
}

/* Anything getopt_long did not accept, as one line naming the flag. */
static int bad_option(const char *cmd, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		cli_fail("pki %s: option %s needs a value; see 'ekulab pki %s "
			 "--help'",
			 cmd, opt, cmd);
	else
		cli_fail("pki %s: unknown option %s; see 'ekulab pki %s "
			 "--help'",
			 cmd, opt, cmd);
	return 2;
}

static int no_operands(const char *cmd, int argc, char **argv)
{
	if (optind < argc) {
		cli_fail("pki %s: unexpected argument '%s'; see 'ekulab pki %s "
			 "--help'",
			 cmd, argv[optind], cmd);
		return 2;
	}
	return 0;
}

static int run_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	bool force = false;
	char err[EKL_ERRLEN] = "";
	int c;
	int rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f': force = true; break;
		case 'h': usage_init(stdout); return 0;
		default: return bad_option("init", c, argv);
		}
	}
	if (no_operands("init", argc, argv) != 0)
		return 2;
	if (dir == NULL || dir[0] == '\0') {
		cli_fail("pki init: --dir D is required (the directory to "
			 "create the PKI in)");
		return 2;
	}
	rc = pki_init(dir, force, err);
	if (rc != 0) {
		cli_fail("pki init: %s",
			 err[0] != '\0' ? err : ekl_strerror(rc));
		return rc == EKL_EINVAL ? 2 : 1;
	}
	printf("initialised PKI in %s: ca.crt (root \"ekulab lab root\"), "
	       "root.key, ca-unrestricted, ca-server-only, ca-combined "
	       "(.crt/.key)\n",
	       dir);
	return 0;
}

static void format_day(const ASN1_TIME *t, char *out, size_t len)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(out, len, "?");
		return;
	}
	strftime(out, len, "%Y-%m-%d", &tm);
}

/* "2026-11-26..2027-11-27" read back from the written certificate. */
static void validity_of(const char *path, char *out, size_t len)
{
	char nb[32] = "?";
	char na[32] = "?";
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	if (x != NULL) {
		format_day(X509_get0_notBefore(x), nb, sizeof(nb));
		format_day(X509_get0_notAfter(x), na, sizeof(na));
	}
	snprintf(out, len, "%s..%s", nb, na);
	X509_free(x);
	BIO_free(b);
}

static int parse_days(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 1 ||
	    v > MAX_DAYS) {
		cli_fail("pki issue: --days must be a whole number from 1 to "
			 "%d, got '%s'",
			 MAX_DAYS, s);
		return 2;
	}
	*out = (int)v;
	return 0;
}

static int parse_when(const char *flag, const char *s, int64_t *out)
{
	if (pki_parse_time(s, out) != 0 || *out == 0) {
		cli_fail("pki issue: %s must be " TIME_FORMS
			 " (UTC, after 1970-01-01), got '%s'",
			 flag, s);
		return 2;
	}
	return 0;
}

static int run_issue(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"profile", required_argument, NULL, 'p'},
	    {"ca", required_argument, NULL, 'c'},
	    {"san", required_argument, NULL, 's'},
	    {"days", required_argument, NULL, 'D'},
	    {"not-before", required_argument, NULL, 'b'},
	    {"not-after", required_argument, NULL, 'a'},
	    {"key", required_argument, NULL, 'k'},
	    {"self-signed", no_argument, NULL, 'S'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct pki_leaf_opts o = {0};
	const char *dir = NULL;
	bool have_profile = false;
	bool have_ca = false;
	bool have_days = false;
	char err[EKL_ERRLEN] = "";
	char crt[PATH_MAX];
	char when[80];
	int c;
	int rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': o.name = optarg; break;
		case 'p':
			if (pki_profile_parse(optarg, &o.profile) != 0) {
				cli_fail("pki issue: --profile must be one "
					 "of " PROFILES ", got '%s'",
					 optarg);
				return 2;
			}
			have_profile = true;
			break;
		case 'c':
			if (pki_ca_parse(optarg, &o.ca) != 0) {
				cli_fail("pki issue: --ca must be one of " CAS
					 ", got '%s'",
					 optarg);
				return 2;
			}
			have_ca = true;
			break;
		case 's':
			if (o.n_sans == PKI_MAX_SANS) {
				cli_fail("pki issue: at most %d --san values "
					 "are allowed",
					 PKI_MAX_SANS);
				return 2;
			}
			o.sans[o.n_sans++] = optarg;
			break;
		case 'D':
			if (parse_days(optarg, &o.days) != 0)
				return 2;
			have_days = true;
			break;
		case 'b':
			if (parse_when("--not-before", optarg, &o.not_before))
				return 2;
			break;
		case 'a':
			if (parse_when("--not-after", optarg, &o.not_after))
				return 2;
			break;
		case 'k':
			if (pki_key_parse(optarg, &o.key) != 0) {
				cli_fail("pki issue: --key must be one of " KEYS
					 ", got '%s'",
					 optarg);
				return 2;
			}
			break;
		case 'S': o.self_signed = true; break;
		case 'f': o.force = true; break;
		case 'h': usage_issue(stdout); return 0;
		default: return bad_option("issue", c, argv);
		}
	}
	if (no_operands("issue", argc, argv) != 0)
		return 2;
	if (dir == NULL || dir[0] == '\0') {
		cli_fail("pki issue: --dir D is required (a directory made by "
			 "'ekulab pki init')");
		return 2;
	}
	if (o.name == NULL) {
		cli_fail("pki issue: --name NAME is required (file stem and "
			 "subject CN)");
		return 2;
	}
	if (!have_profile) {
		cli_fail("pki issue: --profile is required: one of " PROFILES);
		return 2;
	}
	if (have_days && (o.not_before != 0 || o.not_after != 0)) {
		cli_fail("pki issue: --days cannot be combined with "
			 "--not-before/--not-after");
		return 2;
	}
	if ((o.not_before != 0) != (o.not_after != 0)) {
		cli_fail(
		    "pki issue: --not-before and --not-after must be given "
		    "together");
		return 2;
	}
	if (o.not_before != 0 && o.not_after <= o.not_before) {
		cli_fail("pki issue: --not-after must be later than "
			 "--not-before");
		return 2;
	}
	if (o.self_signed && have_ca) {
		cli_fail("pki issue: --ca cannot be combined with "
			 "--self-signed");
		return 2;
	}

	rc = pki_issue(dir, &o, err);
	if (rc != 0) {
		cli_fail("pki issue: %s",
			 err[0] != '\0' ? err : ekl_strerror(rc));
		return rc == EKL_EINVAL ? 2 : 1;
	}
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, o.name);
	validity_of(crt, when, sizeof(when));
	if (o.self_signed)
		printf("issued %s: %s %s/%s.key (%s, self-signed, %s, %s)\n",
		       o.name, crt, dir, o.name, pki_profile_name(o.profile),
		       pki_key_name(o.key), when);
	else
		printf("issued %s: %s %s/%s.key (%s, ca %s, %s, %s)\n", o.name,
		       crt, dir, o.name, pki_profile_name(o.profile),
		       pki_ca_name(o.ca), pki_key_name(o.key), when);
	return 0;
}

int cmd_pki(int argc, char **argv)
{
	if (argc < 2) {
		cli_fail("pki: missing subcommand: init or issue; see 'ekulab "
			 "pki --help'");
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_pki(stdout);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return run_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return run_issue(argc - 1, argv + 1);
	cli_fail("pki: unknown subcommand '%s': use init or issue", argv[1]);
	return 2;
}
