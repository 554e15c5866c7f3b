/* test_config.c: config_parse on argv arrays and config files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"
#include "testutil.h"

/* ---- fixtures: real certificate files, made once in main ---- */

static char dir[512];
static char cert[600], key[600], ca[600], client_cert[600], client_key[600];
static char data_dir[600], admin_path[600];

static int make_files(void)
{
	const char *base = tu_tmpdir("config");
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";

	if (base == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s", base);
	if (pki_init(dir, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.name = "n1";
	o.profile = PKI_PROFILE_COMBINED;
	if (pki_issue(dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue n1: %s\n", err);
		return -1;
	}
	o.name = "n1-client";
	o.sans[0] = "n1"; /* as the lab issues them: it names the node */
	o.n_sans = 1;
	o.profile = PKI_PROFILE_CLIENT_ONLY;
	if (pki_issue(dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue n1-client: %s\n", err);
		return -1;
	}
	snprintf(cert, sizeof(cert), "%s/n1.crt", dir);
	snprintf(key, sizeof(key), "%s/n1.key", dir);
	snprintf(client_cert, sizeof(client_cert), "%s/n1-client.crt", dir);
	snprintf(client_key, sizeof(client_key), "%s/n1-client.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(admin_path, sizeof(admin_path), "%s/n1.sock", dir);
	return 0;
}

/* ---- an editable command line ---- */

#define MAX_ARGS 64

struct args {
	int n;
	const char *v[MAX_ARGS];
};

static void args_add(struct args *a, const char *flag, const char *val)
{
	ck_assert_int_lt(a->n + 2, MAX_ARGS);
	a->v[a->n++] = flag;
	if (val != NULL)
		a->v[a->n++] = val;
}

/* A complete, valid command line for node n1 with peers n2 and n3. */
static void args_full(struct args *a)
{
	a->n = 0;
	a->v[a->n++] = "ekunode";
	args_add(a, "--name", "n1");
	args_add(a, "--cluster", "lab");
	args_add(a, "--listen", "127.0.0.1:7001");
	args_add(a, "--peer", "n2=127.0.0.1:7002");
	args_add(a, "--peer", "n3=127.0.0.1:7003");
	args_add(a, "--cert", cert);
	args_add(a, "--key", key);
	args_add(a, "--ca", ca);
	args_add(a, "--version", "X15.3.2");
	args_add(a, "--role", "c");
	args_add(a, "--verify", "enforce");
	args_add(a, "--data", data_dir);
	args_add(a, "--admin", admin_path);
}

/* Index of flag in a, or -1. */
static int args_find(const struct args *a, const char *flag)
{
	int i;

	for (i = 1; i < a->n; i++)
		if (strcmp(a->v[i], flag) == 0)
			return i;
	return -1;
}

/* Drop every occurrence of flag and its value. */
static void args_drop(struct args *a, const char *flag)
{
	int i;

	while ((i = args_find(a, flag)) >= 0) {
		memmove(&a->v[i], &a->v[i + 2],
			sizeof(a->v[0]) * (size_t)(a->n - i - 2));
		a->n -= 2;
	}
}

/* Replace flag's value (add the flag when absent). */
static void args_set(struct args *a, const char *flag, const char *val)
{
	int i = args_find(a, flag);

	if (i < 0)
		args_add(a, flag, val);
	else
		a->v[i + 1] = val;
}

/* config_parse on a copy of a (getopt may permute argv). */
static int parse(const struct args *a, struct config *c, char *err)
{
	char *v[MAX_ARGS + 1];
	int i;

	for (i = 0; i < a->n; i++)
		v[i] = (char *)a->v[i];
	v[a->n] = NULL;
	err[0] = '\0';
	return config_parse(c, a->n, v, err);
}

/* Parse, expect failure with EKL_ECONFIG and every needle in the message. */
static void expect_fail(const struct args *a, ...)
{
	struct config c;
	char err[EKL_ERRLEN];
	const char *needle;
	va_list ap;
	int rv = parse(a, &c, err);

	config_close(&c);
	ck_assert_msg(rv == EKL_ECONFIG, "expected EKL_ECONFIG, got %d (%s)",
		      rv, err);
	va_start(ap, a);
	while ((needle = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(err, needle) != NULL,
			      "error '%s' does not mention '%s'", err, needle);
	va_end(ap);
}

static void expect_ok(const struct args *a, struct config *c)
{
	char err[EKL_ERRLEN];
	int rv = parse(a, c, err);

	ck_assert_msg(rv == 0, "config_parse failed: %d %s", rv, err);
}

/* Write text to dir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* ---- config_parse: the command line ---- */

START_TEST(test_full_command_line)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--heartbeat-ms", "250");
	args_add(&a, "--dead-ms", "900");
	args_add(&a, "--backoff-max-ms", "400");
	args_add(&a, "--client-eku-check", "off");
	args_add(&a, "--debug", NULL);
	expect_ok(&a, &c);
	ck_assert_str_eq(c.name, "n1");
	ck_assert_str_eq(c.cluster, "lab");
	ck_assert_str_eq(c.listen_text, "127.0.0.1:7001");
	ck_assert_int_ne(c.listen.len, 0);
	ck_assert_int_eq(c.n_peers, 2);
	ck_assert_str_eq(c.peers[0].name, "n2");
	ck_assert_str_eq(c.peers[0].addr_text, "127.0.0.1:7002");
	ck_assert_str_eq(c.peers[1].name, "n3");
	ck_assert_str_eq(c.peers[1].addr_text, "127.0.0.1:7003");
	ck_assert_str_eq(c.cert, cert);
	ck_assert_str_eq(c.key, key);
	ck_assert_str_eq(c.ca, ca);
	ck_assert_ptr_null(c.client_cert);
	ck_assert_ptr_null(c.client_key);
	ck_assert_str_eq(c.version, "X15.3.2");
	ck_assert_int_eq(c.vclass, POL_V_PRE154);
	ck_assert_int_eq(c.role, 'c');
	ck_assert_int_eq(c.verify, POL_ENFORCE);
	ck_assert(!c.client_eku_check);
	ck_assert_str_eq(c.data, data_dir);
	ck_assert_str_eq(c.admin, admin_path);
	ck_assert(!c.at_set);
	ck_assert_int_eq(c.heartbeat_ms, 250);
	ck_assert_int_eq(c.dead_ms, 900);
	ck_assert_int_eq(c.backoff_max_ms, 400);
	ck_assert(c.debug);
	config_close(&c);
	ck_assert_ptr_null(c.cert);
	ck_assert_ptr_null(c.admin);
}
END_TEST

START_TEST(test_defaults_and_other_values)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_set(&a, "--version", "X15.4");
	args_set(&a, "--role", "e");
	args_set(&a, "--verify", "permissive");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.vclass, POL_V_X154);
	ck_assert_int_eq(c.role, 'e');
	ck_assert_int_eq(c.verify, POL_PERMISSIVE);
	ck_assert(c.client_eku_check); /* default: check */
	ck_assert(!c.debug);
	ck_assert_int_eq(c.heartbeat_ms, 1000);
	ck_assert_int_eq(c.dead_ms, 3500);
	ck_assert_int_eq(c.backoff_max_ms, 2000);
	config_close(&c);

	args_set(&a, "--version", "X14.3.7");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.vclass, POL_V_PRE154);
	config_close(&c);
	args_set(&a, "--version", "X15.5");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.vclass, POL_V_X155);
	config_close(&c);
}
END_TEST

static const char *const required_flags[] = {
    "--name",	 "--cluster", "--listen", "--cert", "--key",   "--ca",
    "--version", "--role",    "--verify", "--data", "--admin",
};

START_TEST(test_required_flag_missing)
{
	const char *flag = required_flags[_i];
	char needle[64];
	struct args a;

	args_full(&a);
	args_drop(&a, flag);
	ck_assert_int_lt(args_find(&a, flag), 0);
	snprintf(needle, sizeof(needle), "%s is required", flag);
	expect_fail(&a, needle, (char *)NULL);
}
END_TEST

START_TEST(test_no_peers_is_allowed)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_drop(&a, "--peer");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.n_peers, 0);
	config_close(&c);
}
END_TEST

START_TEST(test_bad_values)
{
	struct args a;

	args_full(&a);
	args_set(&a, "--version", "X16.1");
	expect_fail(&a, "--version", "X16.1", (char *)NULL);
	args_set(&a, "--version", "15.4");
	expect_fail(&a, "--version", "'15.4'", (char *)NULL);

	args_full(&a);
	args_set(&a, "--verify", "strict");
	expect_fail(&a, "--verify", "strict", "enforce or permissive",
		    (char *)NULL);

	args_full(&a);
	args_set(&a, "--role", "x");
	expect_fail(&a, "--role", "'x'", "c or e", (char *)NULL);
	args_set(&a, "--role", "cc");
	expect_fail(&a, "--role", (char *)NULL);

	args_full(&a);
	args_add(&a, "--client-eku-check", "maybe");
	expect_fail(&a, "--client-eku-check", "maybe", "on or off",
		    (char *)NULL);

	args_full(&a);
	args_set(&a, "--listen", "nowhere");
	expect_fail(&a, "--listen", (char *)NULL);

	args_full(&a);
	args_set(&a, "--name", "");
	expect_fail(&a, "--name", (char *)NULL);

	args_full(&a);
	args_add(&a, "--heartbeat-ms", "5");
	expect_fail(&a, "--heartbeat-ms", "'5'", (char *)NULL);
	args_set(&a, "--heartbeat-ms", "12x");
	expect_fail(&a, "--heartbeat-ms", (char *)NULL);

	args_full(&a);
	args_add(&a, "--bogus", "1");
	expect_fail(&a, "--bogus", (char *)NULL);

	args_full(&a);
	args_add(&a, "--cluster", "again");
	expect_fail(&a, "--cluster", "twice", (char *)NULL);

	args_full(&a);
	args_add(&a, "stray", NULL);
	expect_fail(&a, "stray", (char *)NULL);
}
END_TEST

START_TEST(test_help)
{
	struct args a;
	struct config c;
	char err[EKL_ERRLEN];

	args_full(&a);
	args_add(&a, "--help", NULL);
	ck_assert_int_eq(parse(&a, &c, err), EKL_EINVAL);
	ck_assert_str_eq(err, "help");
	config_close(&c);
}
END_TEST

/* ---- peers ---- */

START_TEST(test_peer_syntax)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--peer", "n4");
	expect_fail(&a, "--peer", "'n4'", "NAME=HOST:PORT", (char *)NULL);

	args_full(&a);
	args_add(&a, "--peer", "=127.0.0.1:7004");
	expect_fail(&a, "--peer", "NAME=HOST:PORT", (char *)NULL);

	args_full(&a);
	args_add(&a, "--peer", "n4=nohost");
	expect_fail(&a, "--peer", (char *)NULL);
}
END_TEST

/* Zones: the flag forms, repeatable, and what is refused. */
START_TEST(test_zone_flags)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--zone-listen", "neighbour=127.0.0.1:7101");
	args_add(&a, "--zone-listen", "traversal=127.0.0.1:7102");
	args_add(&a, "--zone-accept", "neighbour=cucm");
	args_add(&a, "--zone-peer", "e1=traversal,127.0.0.1:7201,mra");
	args_add(&a, "--zone-peer", "cucm=neighbour,127.0.0.1:7202");
	args_add(&a, "--zone-interval-ms", "250");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.n_zone_listen, 2);
	ck_assert_int_eq(c.zone_listen[1].service, POL_SVC_TRAVERSAL);
	ck_assert_int_eq(c.n_zone_accepts, 1);
	ck_assert_str_eq(c.zone_accepts[0].name, "cucm");
	ck_assert_int_eq(c.n_zone_peers, 2);
	ck_assert_str_eq(c.zone_peers[0].name, "e1");
	ck_assert(c.zone_peers[0].mra);
	ck_assert(!c.zone_peers[1].mra);
	ck_assert_str_eq(c.zone_peers[1].addr_text, "127.0.0.1:7202");
	ck_assert_int_eq(c.zone_interval_ms, 250);
	ck_assert_int_eq(c.kind, POL_KIND_EXPRESSWAY);
	config_close(&c);

	args_full(&a);
	args_add(&a, "--zone-listen", "clusterdb=127.0.0.1:7101");
	expect_fail(&a, "--zone-listen", "SERVICE=HOST:PORT", (char *)NULL);
	args_full(&a);
	args_add(&a, "--zone-listen", "b2b=127.0.0.1:7101");
	args_add(&a, "--zone-listen", "b2b=127.0.0.1:7102");
	expect_fail(&a, "--zone-listen", "twice", (char *)NULL);
	args_full(&a);
	args_add(&a, "--zone-peer", "cucm=neighbour,127.0.0.1:7202,mra");
	expect_fail(&a, "--zone-peer", "mra, on a traversal peer",
		    (char *)NULL);
	args_full(&a);
	args_add(&a, "--zone-peer", "e1=mra,127.0.0.1:7202");
	expect_fail(&a, "--zone-peer", "NAME=SERVICE,HOST:PORT", (char *)NULL);
	args_full(&a);
	args_add(&a, "--zone-accept", "neighbour=");
	expect_fail(&a, "--zone-accept", "SERVICE=NAME", (char *)NULL);
}
END_TEST

/* An external: --kind, no ClusterDB peers, no role or version needed. */
START_TEST(test_kind_external)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_set(&a, "--kind", "cucm");
	expect_fail(&a, "--kind cucm", "no ClusterDB peers", (char *)NULL);
	args_drop(&a, "--peer");
	args_drop(&a, "--role");
	args_drop(&a, "--version");
	args_add(&a, "--checks-client-eku", "off");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.kind, POL_KIND_CUCM);
	ck_assert(!c.checks_client_eku);
	ck_assert_str_eq(c.version, "-");
	config_close(&c);
	args_set(&a, "--kind", "toaster");
	expect_fail(&a, "--kind", "cucm, unity", (char *)NULL);
}
END_TEST

START_TEST(test_peer_options)
{
	struct args a;
	struct config c;

	/* Default: both directions. */
	args_full(&a);
	expect_ok(&a, &c);
	ck_assert(c.peers[0].dial && c.peers[0].accept);
	ck_assert_int_eq(c.link, CONFIG_LINK_BOTH);
	config_close(&c);

	args_full(&a);
	args_drop(&a, "--peer");
	args_add(&a, "--peer", "n2=127.0.0.1:7002,dial=no");
	args_add(&a, "--peer", "n3=127.0.0.1:7003, accept=no");
	args_add(&a, "--peer", "n4=[::1]:7004,dial=yes,accept=yes");
	expect_ok(&a, &c);
	ck_assert_str_eq(c.peers[0].addr_text, "127.0.0.1:7002");
	ck_assert(!c.peers[0].dial && c.peers[0].accept);
	ck_assert_str_eq(c.peers[1].addr_text, "127.0.0.1:7003");
	ck_assert(c.peers[1].dial && !c.peers[1].accept);
	ck_assert_str_eq(c.peers[2].addr_text, "[::1]:7004");
	ck_assert(c.peers[2].dial && c.peers[2].accept);
	config_close(&c);

	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7004,dial=no,accept=no");
	expect_fail(&a, "--peer", "no connection", (char *)NULL);
	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7004,dial=maybe");
	expect_fail(&a, "--peer", "yes or no", (char *)NULL);
	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7004,listen=no");
	expect_fail(&a, "--peer", "unknown peer option", "dial=yes|no",
		    (char *)NULL);
	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7004,dial");
	expect_fail(&a, "--peer", "KEY=VALUE", (char *)NULL);
}
END_TEST

START_TEST(test_link_and_log_level)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--link", "either");
	args_add(&a, "--log-level", "warn");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.link, CONFIG_LINK_EITHER);
	ck_assert(c.log_level_set);
	ck_assert_int_eq(c.log_level, 2);
	config_close(&c);

	args_full(&a);
	args_add(&a, "--link", "one");
	expect_fail(&a, "--link", "'one'", "both", "either", (char *)NULL);
	args_full(&a);
	args_add(&a, "--log-level", "loud");
	expect_fail(&a, "--log-level", "debug, info, warn or error",
		    (char *)NULL);

	/* The same keys in a config file, peer options included. */
	args_full(&a);
	args_drop(&a, "--peer");
	args_add(&a, "--config",
		 write_file("link.conf", "link = either\n"
					 "log-level = error\n"
					 "peer = n2=127.0.0.1:7002,dial=no\n"));
	expect_ok(&a, &c);
	ck_assert_int_eq(c.link, CONFIG_LINK_EITHER);
	ck_assert_int_eq(c.log_level, 3);
	ck_assert(!c.peers[0].dial && c.peers[0].accept);
	config_close(&c);
}
END_TEST

START_TEST(test_peer_listed_twice)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--peer", "n2=127.0.0.1:7102");
	expect_fail(&a, "--peer", "'n2'", "listed twice", (char *)NULL);

	/* Names are host names: case does not make a new peer. */
	args_full(&a);
	args_add(&a, "--peer", "N2=127.0.0.1:7102");
	expect_fail(&a, "--peer", "N2", "listed twice", (char *)NULL);
}
END_TEST

START_TEST(test_peer_same_address)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7002");
	expect_fail(&a, "--peer", "127.0.0.1:7002", "two peers", (char *)NULL);
}
END_TEST

START_TEST(test_peer_is_self)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--peer", "n1=127.0.0.1:7009");
	expect_fail(&a, "--peer n1", "itself", (char *)NULL);

	args_full(&a);
	args_add(&a, "--peer", "N1=127.0.0.1:7009");
	expect_fail(&a, "itself", (char *)NULL);
}
END_TEST

START_TEST(test_peer_index)
{
	struct args a;
	struct config c;

	args_full(&a);
	expect_ok(&a, &c);
	ck_assert_int_eq(config_peer_index(&c, "n2"), 0);
	ck_assert_int_eq(config_peer_index(&c, "N3"), 1);
	ck_assert_int_eq(config_peer_index(&c, "n4"), -1);
	ck_assert_int_eq(config_peer_index(&c, "n1"), -1);
	config_close(&c);
}
END_TEST

/* ---- certificates and files ---- */

START_TEST(test_client_cert_pairing)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_set(&a, "--version", "X15.5");
	args_add(&a, "--client-cert", client_cert);
	expect_fail(&a, "--client-cert", "--client-key", (char *)NULL);

	args_full(&a);
	args_set(&a, "--version", "X15.5");
	args_add(&a, "--client-key", client_key);
	expect_fail(&a, "--client-cert", "--client-key", (char *)NULL);

	args_add(&a, "--client-cert", client_cert);
	expect_ok(&a, &c);
	ck_assert_str_eq(c.client_cert, client_cert);
	ck_assert_str_eq(c.client_key, client_key);
	config_close(&c);
	ck_assert_ptr_null(c.client_cert);
	ck_assert_ptr_null(c.client_key);
}
END_TEST

/* --admin-listen: all three TLS files or none; never without them. */
START_TEST(test_admin_listen)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--admin-listen", "0.0.0.0:7443");
	expect_fail(&a, "--admin-listen needs --admin-cert",
		    "never runs "
		    "without TLS",
		    (char *)NULL);
	args_add(&a, "--admin-cert", client_cert);
	args_add(&a, "--admin-key", client_key);
	expect_fail(&a, "--admin-ca", (char *)NULL);
	args_add(&a, "--admin-ca", "/nonexistent/ca-admin.crt");
	expect_fail(&a, "--admin-ca /nonexistent/ca-admin.crt", (char *)NULL);
	args_set(&a, "--admin-ca", ca);
	expect_ok(&a, &c);
	ck_assert_str_eq(c.admin_listen_text, "0.0.0.0:7443");
	ck_assert_str_eq(c.admin_ca, ca);
	config_close(&c);
	ck_assert_ptr_null(c.admin_cert);

	args_full(&a);
	args_add(&a, "--admin-cert", client_cert);
	expect_fail(&a, "are for --admin-listen", (char *)NULL);
	args_full(&a);
	args_add(&a, "--admin-listen", "nowhere");
	args_add(&a, "--admin-cert", client_cert);
	args_add(&a, "--admin-key", client_key);
	args_add(&a, "--admin-ca", ca);
	expect_fail(&a, "admin-listen", (char *)NULL);
}
END_TEST

START_TEST(test_client_cert_needs_x155)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--client-cert", client_cert);
	args_add(&a, "--client-key", client_key);
	expect_fail(&a, "--client-cert", "X15.5", "X15.3.2", (char *)NULL);
	args_set(&a, "--version", "X15.4");
	expect_fail(&a, "--client-cert", "X15.5", (char *)NULL);
}
END_TEST

START_TEST(test_missing_files)
{
	static const char *const flags[] = {"--cert", "--key", "--ca"};
	char missing[700];
	char needle[800];
	struct args a;
	size_t i;

	snprintf(missing, sizeof(missing), "%s/absent.pem", dir);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		args_full(&a);
		args_set(&a, flags[i], missing);
		snprintf(needle, sizeof(needle), "%s %s", flags[i], missing);
		expect_fail(&a, needle, "No such file", (char *)NULL);
	}

	args_full(&a);
	args_set(&a, "--version", "X15.5");
	args_add(&a, "--client-cert", missing);
	args_add(&a, "--client-key", client_key);
	snprintf(needle, sizeof(needle), "--client-cert %s", missing);
	expect_fail(&a, needle, (char *)NULL);

	args_set(&a, "--client-cert", client_cert);
	args_set(&a, "--client-key", missing);
	snprintf(needle, sizeof(needle), "--client-key %s", missing);
	expect_fail(&a, needle, (char *)NULL);
}
END_TEST

/* ---- --at and timers ---- */

START_TEST(test_at)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--at", "2026-06-15");
	expect_ok(&a, &c);
	ck_assert(c.at_set);
	ck_assert_int_eq(c.at, INT64_C(1781481600));
	config_close(&c);

	args_set(&a, "--at", "2026-06-15T12:30:05Z");
	expect_ok(&a, &c);
	ck_assert(c.at_set);
	ck_assert_int_eq(c.at, INT64_C(1781526605));
	config_close(&c);

	args_set(&a, "--at", "@1700000000");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.at, INT64_C(1700000000));
	config_close(&c);

	args_set(&a, "--at", "tomorrow");
	expect_fail(&a, "--at", "'tomorrow'", "YYYY-MM-DD", (char *)NULL);
	args_set(&a, "--at", "2026-02-30");
	expect_fail(&a, "--at", (char *)NULL);
}
END_TEST

START_TEST(test_dead_vs_heartbeat)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--heartbeat-ms", "200");
	args_add(&a, "--dead-ms", "200");
	expect_fail(&a, "--dead-ms (200)", "--heartbeat-ms (200)",
		    (char *)NULL);
	args_set(&a, "--dead-ms", "150");
	expect_fail(&a, "--dead-ms (150)", (char *)NULL);
	args_set(&a, "--dead-ms", "201");
	expect_ok(&a, &c);
	ck_assert_int_eq(c.dead_ms, 201);
	config_close(&c);

	/* The default dead time (3500) against a slow heartbeat. */
	args_full(&a);
	args_add(&a, "--heartbeat-ms", "5000");
	expect_fail(&a, "--dead-ms (3500)", (char *)NULL);
}
END_TEST

/* ---- config files ---- */

START_TEST(test_file_values)
{
	char text[4096];
	struct args a;
	struct config c;
	const char *path;

	snprintf(text, sizeof(text),
		 "# ekunode n1\n"
		 "\n"
		 "   # indented comment\n"
		 "cluster = filelab\n"
		 "listen=127.0.0.1:7001\n"
		 "\tcert = %s  \n"
		 "key = %s\r\n"
		 "ca = %s\n"
		 "version = X15.4\n"
		 "role = e\n"
		 "verify = permissive\n"
		 "client-eku-check = off\n"
		 "data = %s\n"
		 "admin = %s\n"
		 "at = 2026-06-15\n"
		 "heartbeat-ms = 300\n"
		 "dead-ms = 1200\n"
		 "backoff-max-ms = 500\n"
		 "debug = on\n"
		 "peer = n3=127.0.0.1:7003\n"
		 "peer = n4 = 127.0.0.1:7004\n",
		 cert, key, ca, data_dir, admin_path);
	path = write_file("values.conf", text);
	a.n = 0;
	a.v[a.n++] = "ekunode";
	args_add(&a, "--name", "n1");
	args_add(&a, "--peer", "n2=127.0.0.1:7002");
	args_add(&a, "--config", path);
	expect_ok(&a, &c);
	ck_assert_str_eq(c.cluster, "filelab");
	ck_assert_str_eq(c.listen_text, "127.0.0.1:7001");
	ck_assert_str_eq(c.cert, cert); /* trailing blanks trimmed */
	ck_assert_str_eq(c.key, key);	/* CRLF trimmed */
	ck_assert_str_eq(c.ca, ca);
	ck_assert_int_eq(c.vclass, POL_V_X154);
	ck_assert_int_eq(c.role, 'e');
	ck_assert_int_eq(c.verify, POL_PERMISSIVE);
	ck_assert(!c.client_eku_check);
	ck_assert_str_eq(c.data, data_dir);
	ck_assert_str_eq(c.admin, admin_path);
	ck_assert(c.at_set);
	ck_assert_int_eq(c.at, INT64_C(1781481600));
	ck_assert_int_eq(c.heartbeat_ms, 300);
	ck_assert_int_eq(c.dead_ms, 1200);
	ck_assert_int_eq(c.backoff_max_ms, 500);
	ck_assert(c.debug);
	/* peer lines add to the command line's peers. */
	ck_assert_int_eq(c.n_peers, 3);
	ck_assert_str_eq(c.peers[0].name, "n2");
	ck_assert_str_eq(c.peers[1].name, "n3");
	ck_assert_str_eq(c.peers[2].addr_text, "127.0.0.1:7004");
	config_close(&c);
}
END_TEST

START_TEST(test_file_command_line_wins)
{
	char text[2048];
	struct args a;
	struct config c;
	const char *path;

	snprintf(text, sizeof(text),
		 "name = fromfile\n"
		 "cluster = filelab\n"
		 "version = X15.4\n"
		 "verify = permissive\n"
		 "heartbeat-ms = 300\n"
		 "cert = %s/absent.pem\n"
		 "peer = n4=127.0.0.1:7004\n",
		 dir);
	path = write_file("wins.conf", text);
	args_full(&a);
	args_add(&a, "--heartbeat-ms", "100");
	args_add(&a, "--config", path);
	expect_ok(&a, &c);
	ck_assert_str_eq(c.name, "n1");
	ck_assert_str_eq(c.cluster, "lab");
	ck_assert_str_eq(c.version, "X15.3.2");
	ck_assert_int_eq(c.vclass, POL_V_PRE154);
	ck_assert_int_eq(c.verify, POL_ENFORCE);
	ck_assert_int_eq(c.heartbeat_ms, 100);
	ck_assert_str_eq(c.cert, cert); /* the file's missing one is unused */
	ck_assert_int_eq(c.n_peers, 3);
	ck_assert_str_eq(c.peers[2].name, "n4");
	config_close(&c);
}
END_TEST

START_TEST(test_file_errors)
{
	char needle[800];
	struct args a;
	const char *path;

	path = write_file("unknown.conf", "# comment\n"
					  "cluster = lab2\n"
					  "colour = blue\n");
	args_full(&a);
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:3: unknown key 'colour'", path);
	expect_fail(&a, needle, (char *)NULL);

	path = write_file("badline.conf", "\n\njust some words\n");
	args_full(&a);
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:3:", path);
	expect_fail(&a, needle, "key = value", (char *)NULL);

	/* --config and --help are not keys of a file. */
	path = write_file("nested.conf", "config = other.conf\n");
	args_full(&a);
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:1: unknown key 'config'", path);
	expect_fail(&a, needle, (char *)NULL);

	path = write_file("badver.conf", "role = c\nversion = X99\n");
	args_full(&a);
	args_drop(&a, "--version");
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:2: version", path);
	expect_fail(&a, needle, "X99", (char *)NULL);

	path = write_file("badpeer.conf", "peer = n2=127.0.0.1:7102\n");
	args_full(&a);
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:1: peer", path);
	expect_fail(&a, needle, "listed twice", (char *)NULL);

	path = write_file("baddebug.conf", "debug = yes\n");
	args_full(&a);
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:1: debug", path);
	expect_fail(&a, needle, (char *)NULL);

	/* Required flags are checked after the file. */
	path = write_file("partial.conf", "cluster = lab\n");
	args_full(&a);
	args_drop(&a, "--cluster");
	args_drop(&a, "--admin");
	args_add(&a, "--config", path);
	expect_fail(&a, "--admin is required", (char *)NULL);

	snprintf(needle, sizeof(needle), "%s/absent.conf", dir);
	args_full(&a);
	args_add(&a, "--config", needle);
	expect_fail(&a, "--config", needle, (char *)NULL);
}
END_TEST

/* ---- start-up refusals that say what to fix ---- */

START_TEST(test_config_not_a_file)
{
	struct args a;

	args_full(&a);
	args_add(&a, "--config", dir); /* a directory */
	expect_fail(&a, "--config", dir, "is a directory",
		    "file of `key = value` lines", (char *)NULL);
	args_full(&a);
	args_add(&a, "--config", "/dev/null"); /* a device */
	expect_fail(&a, "/dev/null is a special file", (char *)NULL);
}
END_TEST

START_TEST(test_file_key_twice)
{
	char needle[800];
	struct args a;
	struct config c;
	const char *path;

	path = write_file("twice.conf", "cluster = a\n"
					"heartbeat-ms = 100\n"
					"# the second one\n"
					"heartbeat-ms = 200\n");
	args_full(&a);
	args_drop(&a, "--cluster");
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle),
		 "%s:4: 'heartbeat-ms' is given twice (first on line 2)", path);
	expect_fail(&a, needle, "give it once", (char *)NULL);
	/* Also when the command line would win anyway: the file is wrong. */
	args_add(&a, "--heartbeat-ms", "300");
	expect_fail(&a, needle, (char *)NULL);
	/* `peer` adds up and may repeat. */
	path = write_file("peers.conf", "peer = n4=127.0.0.1:7004\n"
					"peer = n5=127.0.0.1:7005\n");
	args_full(&a);
	args_add(&a, "--config", path);
	expect_ok(&a, &c);
	ck_assert_int_eq(c.n_peers, 4);
	config_close(&c);
}
END_TEST

/* Nothing of a file is read cut short: "cluster = lab\0x" was taken as
 * cluster lab, and a line over the read buffer was split in two, its tail
 * read as a line of its own (a comment when it began with '#'). Found by
 * fuzz_config (tests/fuzz/corpus/fuzz_config/regress-nul). */
START_TEST(test_file_nothing_cut)
{
	char needle[800], nul[700];
	static char text[CONFIG_LINE_MAX + 64];
	struct args a;
	struct config c;
	const char *path;
	FILE *f;
	size_t n;

	snprintf(nul, sizeof(nul), "%s/nul.conf", dir);
	f = fopen(nul, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite("# a lab\ncluster = lab\0x\n", 1, 24, f), 24);
	ck_assert_int_eq(fclose(f), 0);
	args_full(&a);
	args_drop(&a, "--cluster");
	args_add(&a, "--config", nul);
	snprintf(needle, sizeof(needle), "%s:2: a NUL byte", nul);
	expect_fail(&a, needle, (char *)NULL);

	/* A line over CONFIG_LINE_MAX whose tail looks like a comment. */
	n = (size_t)snprintf(text, sizeof(text), "cluster = ");
	memset(text + n, 'a', CONFIG_LINE_MAX - n);
	snprintf(text + CONFIG_LINE_MAX, sizeof(text) - CONFIG_LINE_MAX,
		 "#tail\n");
	path = write_file("long.conf", text);
	args_full(&a);
	args_drop(&a, "--cluster");
	args_add(&a, "--config", path);
	snprintf(needle, sizeof(needle), "%s:1: a line over %d bytes", path,
		 CONFIG_LINE_MAX);
	expect_fail(&a, needle, (char *)NULL);

	/* A line longer than the old 1023-byte buffer is read whole: its
	 * tail ("#tail") used to be read as a comment line of its own,
	 * leaving --data cut short without a word. */
	n = (size_t)snprintf(text, sizeof(text), "data = %s/", dir);
	memset(text + n, 'd', 1023 - n);
	snprintf(text + 1023, sizeof(text) - 1023, "#tail\n");
	path = write_file("split.conf", text);
	args_full(&a);
	args_drop(&a, "--data");
	args_add(&a, "--config", path);
	expect_ok(&a, &c);
	ck_assert_uint_eq(strlen(c.data), 1023 - 7 + 5);
	ck_assert_str_eq(c.data + strlen(c.data) - 5, "#tail");
	config_close(&c);

	/* A line of exactly CONFIG_LINE_MAX bytes is read whole. */
	text[CONFIG_LINE_MAX] = '\n';
	text[CONFIG_LINE_MAX + 1] = '\0';
	text[0] = '#';
	path = write_file("max.conf", text);
	args_full(&a);
	args_add(&a, "--config", path);
	expect_ok(&a, &c);
	config_close(&c);
}
END_TEST

START_TEST(test_peer_is_own_listen)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_add(&a, "--peer", "n4=127.0.0.1:7001");
	expect_fail(&a, "--peer n4=127.0.0.1:7001",
		    "own --listen 127.0.0.1:7001", "dial itself",
		    "give n4's address", (char *)NULL);
	/* Listening on every address: loopback with our port is us. */
	args_full(&a);
	args_set(&a, "--listen", "0.0.0.0:7001");
	args_add(&a, "--peer", "n4=127.0.0.1:7001");
	expect_fail(&a, "n4=127.0.0.1:7001", "own --listen", (char *)NULL);
	args_full(&a);
	args_set(&a, "--listen", "[::]:7001");
	args_add(&a, "--peer", "n4=[::1]:7001");
	expect_fail(&a, "own --listen", (char *)NULL);
	/* Another port, or another host with our port, is somebody else. */
	args_full(&a);
	args_set(&a, "--listen", "0.0.0.0:7001");
	args_add(&a, "--peer", "n4=10.0.0.4:7001");
	expect_ok(&a, &c);
	config_close(&c);
}
END_TEST

START_TEST(test_cert_names_node)
{
	struct args a;
	struct config c;

	args_full(&a);
	args_set(&a, "--name", "n9");
	expect_fail(&a, "--cert", cert, "names 'n1'",
		    "not this node (--name n9)", "identity-mismatch",
		    "issue one for n9", (char *)NULL);
	/* The client certificate is presented as this node too. */
	args_full(&a);
	args_set(&a, "--version", "X15.5");
	args_add(&a, "--client-cert", cert);
	args_add(&a, "--client-key", key);
	expect_ok(&a, &c); /* n1's own certificate names n1 */
	config_close(&c);
	args_set(&a, "--client-cert", ca); /* the CA names nobody here */
	expect_fail(&a, "--client-cert", "not this node (--name n1)",
		    (char *)NULL);
	/* Names compare as the handshake compares them: case-insensitive
	 * DNS names. */
	args_full(&a);
	args_set(&a, "--name", "N1");
	args_drop(&a, "--peer");
	expect_ok(&a, &c);
	config_close(&c);
}
END_TEST

/* ---- config_close ---- */

START_TEST(test_close_after_failure)
{
	struct args a;
	struct config c;
	char err[EKL_ERRLEN];

	/* Every owned string is set, then the last flag fails. */
	args_full(&a);
	args_set(&a, "--version", "X15.5");
	args_add(&a, "--client-cert", client_cert);
	args_add(&a, "--client-key", client_key);
	args_add(&a, "--role", "z");
	ck_assert_int_eq(parse(&a, &c, err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(c.cert);
	ck_assert_ptr_nonnull(c.client_key);
	ck_assert_ptr_nonnull(c.admin);
	config_close(&c);
	ck_assert_ptr_null(c.cert);
	ck_assert_ptr_null(c.key);
	ck_assert_ptr_null(c.client_cert);
	ck_assert_ptr_null(c.client_key);
	ck_assert_ptr_null(c.ca);
	ck_assert_ptr_null(c.data);
	ck_assert_ptr_null(c.admin);
	/* Twice is harmless. */
	config_close(&c);

	/* A failure inside a config file after strings were set. */
	args_full(&a);
	args_add(&a, "--config", write_file("late.conf", "peer = n9\n"));
	ck_assert_int_eq(parse(&a, &c, err), EKL_ECONFIG);
	config_close(&c);
	ck_assert_ptr_null(c.ca);

	/* Immediately: nothing set yet. */
	a.n = 1;
	args_add(&a, "--nope", NULL);
	ck_assert_int_eq(parse(&a, &c, err), EKL_ECONFIG);
	config_close(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("config_parse");
	tcase_add_test(tc, test_full_command_line);
	tcase_add_test(tc, test_defaults_and_other_values);
	tcase_add_loop_test(
	    tc, test_required_flag_missing, 0,
	    (int)(sizeof(required_flags) / sizeof(required_flags[0])));
	tcase_add_test(tc, test_no_peers_is_allowed);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_peer_syntax);
	tcase_add_test(tc, test_peer_options);
	tcase_add_test(tc, test_link_and_log_level);
	tcase_add_test(tc, test_peer_listed_twice);
	tcase_add_test(tc, test_peer_same_address);
	tcase_add_test(tc, test_peer_is_self);
	tcase_add_test(tc, test_client_cert_pairing);
	tcase_add_test(tc, test_admin_listen);
	tcase_add_test(tc, test_client_cert_needs_x155);
	tcase_add_test(tc, test_missing_files);
	tcase_add_test(tc, test_at);
	tcase_add_test(tc, test_dead_vs_heartbeat);
	tcase_add_test(tc, test_file_values);
	tcase_add_test(tc, test_file_command_line_wins);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_config_not_a_file);
	tcase_add_test(tc, test_file_key_twice);
	tcase_add_test(tc, test_file_nothing_cut);
	tcase_add_test(tc, test_peer_is_own_listen);
	tcase_add_test(tc, test_cert_names_node);
	tcase_add_test(tc, test_zone_flags);
	tcase_add_test(tc, test_kind_external);
	suite_add_tcase(s, tc);

	tc = tcase_create("config_peer_index");
	tcase_add_test(tc, test_peer_index);
	suite_add_tcase(s, tc);

	tc = tcase_create("config_close");
	tcase_add_test(tc, test_close_after_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (make_files() != 0)
		return EXIT_FAILURE;
	return tu_run(config_suite());
}
