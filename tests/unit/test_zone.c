/* test_zone.c: zone services on one endpoint (node/zone): the SIP SERVICE
 * message, and real TLS handshakes on loopback between two zone endpoints
 * on one loop: the traversal zone with MRA's certificate check, a
 * neighbour zone to an external that checks (or not) the caller's
 * clientAuth, and a peer that is not there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "ekulab/x509/policy.h"
#include "testutil.h"
#include "zone/zone.h"

static char pki_dir[512];
static char path_buf[8][600];

static const char *pki_file(int slot, const char *name, const char *ext)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s.%s", pki_dir,
		 name, ext);
	return path_buf[slot];
}

static int issue(const char *name, enum pki_profile profile, enum pki_ca ca)
{
	struct pki_leaf_opts o;
	char err[EKL_ERRLEN] = "";

	memset(&o, 0, sizeof(o));
	o.name = name;
	o.profile = profile;
	o.ca = ca;
	if (pki_issue(pki_dir, &o, err) != 0) {
		fprintf(stderr, "pki_issue %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static int make_pki(void)
{
	const char *base = tu_tmpdir("zone");
	char err[EKL_ERRLEN] = "";

	if (base == NULL)
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", base);
	if (pki_init(pki_dir, false, err) != 0) {
		fprintf(stderr, "pki_init: %s\n", err);
		return -1;
	}
	if (issue("c1", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED) != 0 ||
	    issue("e1", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED) != 0 ||
	    issue("e1srv", PKI_PROFILE_SERVER_ONLY, PKI_CA_SERVER_ONLY) != 0 ||
	    issue("c1srv", PKI_PROFILE_SERVER_ONLY, PKI_CA_SERVER_ONLY) != 0 ||
	    issue("cucm", PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED) != 0)
		return -1;
	return 0;
}

/* A free port on 127.0.0.1 (reserved, then released for the zone). */
static int free_addr(struct addr *a, char *text, size_t len)
{
	char err[EKL_ERRLEN];
	int fd, port;

	if (addr_reserve(0, &fd, &port, err) != 0)
		return -1;
	close(fd);
	snprintf(text, len, "127.0.0.1:%d", port);
	return addr_parse(text, a, err);
}

static struct ev_loop *loop;

static void setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
}

static void teardown(void)
{
	ev_loop_destroy(loop);
	loop = NULL;
}

/* An endpoint's environment: its certificate `file` (stem), version,
 * kind. The files are the stem's; the identity checked is `name`. */
static void env_of(struct zone_env *e, int slot, const char *file,
		   enum pol_vclass v, enum pol_kind kind)
{
	memset(e, 0, sizeof(*e));
	e->loop = loop;
	e->tls.version = v;
	e->tls.mode = POL_ENFORCE;
	e->tls.client_eku_check = true;
	e->tls.kind = kind;
	e->tls.checks_client_eku = true;
	e->tls.ca_file = pki_file(slot, "ca", "crt");
	e->tls.cert_file = pki_file(slot + 1, file, "crt");
	e->tls.key_file = pki_file(slot + 2, file, "key");
	e->interval_ms = 100;
	e->timeout_ms = 2000;
}

/* The result of `service` to/from `peer`, or NULL. */
static const struct zone_result *result(const struct zone *z,
					enum pol_service s, const char *peer,
					bool outbound)
{
	const struct zone_result *r;
	size_t i, n = zone_results(z, &r);

	for (i = 0; i < n; i++)
		if (r[i].service == s && r[i].outbound == outbound &&
		    strcmp(r[i].peer, peer) == 0)
			return &r[i];
	return NULL;
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop until r has ended `attempts` attempts (at most 5 s). */
static void run_until(const struct zone_result *r, unsigned attempts)
{
	ev_timer t;
	int k;

	ev_timer_init(&t, on_tick, 0.05, 0.05);
	ev_timer_start(loop, &t);
	for (k = 0; k < 100 && r->attempts < attempts; k++)
		ev_run(loop, 0);
	ev_timer_stop(loop, &t);
	ck_assert_msg(r->attempts >= attempts, "%s to %s: no attempt ended",
		      pol_service_name(r->service), r->peer);
}

/* C (initiator, version cv) opens traversal with mra to E (acceptor,
 * X15.4, certificate estem). */
static void traversal(enum pol_vclass cv, const char *estem, struct zone **cz,
		      struct zone **ez)
{
	struct zone_env ce, ee;
	struct zone_listen_cfg ls;
	struct zone_peer_cfg ps;
	struct zone_accept_cfg as;
	char err[EKL_ERRLEN] = "";

	memset(&ls, 0, sizeof(ls));
	ls.service = POL_SVC_TRAVERSAL;
	ck_assert_int_eq(
	    free_addr(&ls.addr, ls.addr_text, sizeof(ls.addr_text)), 0);
	memset(&as, 0, sizeof(as));
	as.service = POL_SVC_TRAVERSAL;
	snprintf(as.name, sizeof(as.name), "c1");
	env_of(&ee, 0, estem, POL_V_X154, POL_KIND_EXPRESSWAY);
	ck_assert_msg(zone_start(&ee, &ls, 1, NULL, 0, &as, 1, ez, err) == 0,
		      "%s", err);
	memset(&ps, 0, sizeof(ps));
	/* The identity C expects: the SAN of E's certificate. */
	snprintf(ps.name, sizeof(ps.name), "%s", estem);
	ps.service = POL_SVC_TRAVERSAL;
	ps.addr = ls.addr;
	snprintf(ps.addr_text, sizeof(ps.addr_text), "%s", ls.addr_text);
	ps.mra = true;
	env_of(&ce, 3, "c1", cv, POL_KIND_EXPRESSWAY);
	ck_assert_msg(zone_start(&ce, NULL, 0, &ps, 1, NULL, 0, cz, err) == 0,
		      "%s", err);
}

START_TEST(test_service_message)
{
	const char pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n";
	char *msg = NULL;
	size_t len = 0, clen = 0;
	const char *chain;

	ck_assert_int_eq(zone_service_msg("c1", pem, strlen(pem), &msg, &len),
			 0);
	ck_assert(strncmp(msg, "SERVICE sip:c1 SIP/2.0\r\n", 24) == 0);
	chain = zone_service_chain(msg, len, &clen);
	ck_assert_ptr_nonnull(chain);
	ck_assert_uint_eq(clen, strlen(pem));
	ck_assert(memcmp(chain, pem, clen) == 0);
	/* A body whose length disagrees, or no SERVICE at all: refused. */
	ck_assert_ptr_null(zone_service_chain(msg, len - 1, &clen));
	ck_assert_ptr_null(zone_service_chain("OK\r\n", 4, &clen));
	ekl_free(msg);
}
END_TEST

/* The field notice's MRA case: E on X15.4 with a serverAuth-only
 * certificate. The traversal handshake works (E checks C's clientAuth: C
 * is combined; C checks E's serverAuth), but a pre-X15.4 C refuses the
 * certificate in the SIP SERVICE message: client-purpose at depth 0,
 * rejected by C. */
START_TEST(test_mra_pre154_refuses_server_only)
{
	struct zone *cz = NULL, *ez = NULL;
	const struct zone_result *t, *m, *in;

	traversal(POL_V_PRE154, "e1srv", &cz, &ez);
	t = result(cz, POL_SVC_TRAVERSAL, "e1srv", true);
	m = result(cz, POL_SVC_MRA, "e1srv", true);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(m);
	run_until(m, 1);
	ck_assert_int_eq(t->state, ZONE_UP);
	ck_assert_str_eq(t->code, "ok");
	ck_assert_int_eq(m->state, ZONE_DOWN);
	ck_assert_str_eq(m->code, "client-purpose");
	ck_assert_int_eq(m->side, POL_SIDE_INITIATOR);
	ck_assert_int_eq(m->depth, 0);
	/* E saw C call and accepted it. */
	in = result(ez, POL_SVC_TRAVERSAL, "c1", false);
	ck_assert_ptr_nonnull(in);
	run_until(in, 1);
	ck_assert_str_eq(in->code, "ok");
	zone_stop(cz);
	zone_stop(ez);
}
END_TEST

/* X15.4's headline fix: C requires serverAuth only. */
START_TEST(test_mra_x154_accepts_server_only)
{
	struct zone *cz = NULL, *ez = NULL;
	const struct zone_result *m;

	traversal(POL_V_X154, "e1srv", &cz, &ez);
	m = result(cz, POL_SVC_MRA, "e1srv", true);
	run_until(m, 1);
	ck_assert_int_eq(m->state, ZONE_UP);
	ck_assert_str_eq(m->code, "ok");
	zone_stop(cz);
	zone_stop(ez);
}
END_TEST

/* A combined E certificate passes a pre-X15.4 C's MRA check. */
START_TEST(test_mra_pre154_accepts_combined)
{
	struct zone *cz = NULL, *ez = NULL;
	const struct zone_result *m;

	traversal(POL_V_PRE154, "e1", &cz, &ez);
	m = result(cz, POL_SVC_MRA, "e1", true);
	run_until(m, 1);
	ck_assert_str_eq(m->code, "ok");
	zone_stop(cz);
	zone_stop(ez);
}
END_TEST

/* Neighbour zone to Unified CM: CUCM, as acceptor, checks the caller's
 * clientAuth when checks_client_eku; C presents a serverAuth-only
 * certificate: CUCM refuses, and C learns it from the alert. With the
 * check off, it connects. */
static void neighbour(bool checks, const char **code, enum pol_side *side)
{
	struct zone_env ce, xe;
	struct zone_listen_cfg ls;
	struct zone_peer_cfg ps;
	struct zone_accept_cfg as;
	struct zone *cz = NULL, *xz = NULL;
	const struct zone_result *r;
	char err[EKL_ERRLEN] = "";
	static char got[32];

	memset(&ls, 0, sizeof(ls));
	ls.service = POL_SVC_NEIGHBOUR;
	ck_assert_int_eq(
	    free_addr(&ls.addr, ls.addr_text, sizeof(ls.addr_text)), 0);
	memset(&as, 0, sizeof(as));
	as.service = POL_SVC_NEIGHBOUR;
	snprintf(as.name, sizeof(as.name), "c1srv");
	env_of(&xe, 0, "cucm", POL_V_X154, POL_KIND_CUCM);
	xe.tls.checks_client_eku = checks;
	ck_assert_msg(zone_start(&xe, &ls, 1, NULL, 0, &as, 1, &xz, err) == 0,
		      "%s", err);
	memset(&ps, 0, sizeof(ps));
	snprintf(ps.name, sizeof(ps.name), "cucm");
	ps.service = POL_SVC_NEIGHBOUR;
	ps.addr = ls.addr;
	snprintf(ps.addr_text, sizeof(ps.addr_text), "%s", ls.addr_text);
	env_of(&ce, 3, "c1srv", POL_V_X155, POL_KIND_EXPRESSWAY);
	ck_assert_msg(zone_start(&ce, NULL, 0, &ps, 1, NULL, 0, &cz, err) == 0,
		      "%s", err);
	r = result(cz, POL_SVC_NEIGHBOUR, "cucm", true);
	run_until(r, 1);
	snprintf(got, sizeof(got), "%s", r->code);
	*code = got;
	*side = r->side;
	zone_stop(cz);
	zone_stop(xz);
}

START_TEST(test_neighbour_external_checks_client_eku)
{
	const char *code;
	enum pol_side side;

	neighbour(true, &code, &side);
	ck_assert_str_eq(code, "client-purpose");
	ck_assert_int_eq(side, POL_SIDE_ACCEPTOR);
	neighbour(false, &code, &side);
	ck_assert_str_eq(code, "ok");
}
END_TEST

/* Nobody listens: a transport code, never a certificate code; the status
 * JSON says so. */
START_TEST(test_peer_not_there)
{
	struct zone_env ce;
	struct zone_peer_cfg ps;
	struct zone *cz = NULL;
	const struct zone_result *r;
	char err[EKL_ERRLEN] = "";
	struct json j;
	const char *s;

	memset(&ps, 0, sizeof(ps));
	snprintf(ps.name, sizeof(ps.name), "e1");
	ps.service = POL_SVC_TRAVERSAL;
	ps.mra = true;
	ck_assert_int_eq(
	    free_addr(&ps.addr, ps.addr_text, sizeof(ps.addr_text)), 0);
	env_of(&ce, 3, "c1", POL_V_PRE154, POL_KIND_EXPRESSWAY);
	ck_assert_msg(zone_start(&ce, NULL, 0, &ps, 1, NULL, 0, &cz, err) == 0,
		      "%s", err);
	r = result(cz, POL_SVC_MRA, "e1", true);
	run_until(r, 1);
	ck_assert_int_eq(r->state, ZONE_DOWN);
	ck_assert_str_eq(r->code, "connect-failed");
	json_init(&j);
	zone_status_json(cz, &j);
	s = json_finish(&j);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s, "\"service\":\"mra\""));
	ck_assert_ptr_nonnull(strstr(s, "\"code\":\"connect-failed\""));
	json_close(&j);
	zone_stop(cz);
}
END_TEST

/* A listener that cannot bind: an error naming the flag, nothing left. */
START_TEST(test_bad_listen)
{
	struct zone_env e;
	struct zone_listen_cfg ls[2];
	struct zone *z = NULL;
	char err[EKL_ERRLEN] = "";

	memset(ls, 0, sizeof(ls));
	ls[0].service = POL_SVC_NEIGHBOUR;
	ck_assert_int_eq(
	    free_addr(&ls[0].addr, ls[0].addr_text, sizeof(ls[0].addr_text)),
	    0);
	ls[1] = ls[0]; /* the same address twice: the second bind fails */
	ls[1].service = POL_SVC_B2B;
	env_of(&e, 0, "cucm", POL_V_X154, POL_KIND_EXPRESSWAY);
	ck_assert_int_ne(zone_start(&e, ls, 2, NULL, 0, NULL, 0, &z, err), 0);
	ck_assert_ptr_null(z);
	ck_assert_ptr_nonnull(strstr(err, "--zone-listen b2b="));
}
END_TEST

static Suite *zone_suite(void)
{
	Suite *s = suite_create("zone");
	TCase *tc = tcase_create("zone");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_service_message);
	tcase_add_test(tc, test_mra_pre154_refuses_server_only);
	tcase_add_test(tc, test_mra_x154_accepts_server_only);
	tcase_add_test(tc, test_mra_pre154_accepts_combined);
	tcase_add_test(tc, test_neighbour_external_checks_client_eku);
	tcase_add_test(tc, test_peer_not_there);
	tcase_add_test(tc, test_bad_listen);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (make_pki() != 0)
		return 1;
	return tu_run(zone_suite());
}
