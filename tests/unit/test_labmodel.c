/* test_labmodel.c: the lab model: lab chains, who dials whom, directed
 * verdicts, links, carriers, replication, cuts, stopped nodes, verify
 * modes, upgrades, renewals, file certificates and the safety criteria. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ekulab/core/err.h"
#include "model/labmodel.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "testutil.h"

#define AT INT64_C(1780000000) /* 2026-05-28 */

static char dir[512];
static struct topo topo;
static struct lab_state st;
static struct lab_prediction *pred;

static void setup(void)
{
	const char *t = tu_tmpdir("labmodel");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
	memset(&topo, 0, sizeof(topo));
	memset(&st, 0, sizeof(st));
	pred = ekl_malloc(sizeof(*pred));
	ck_assert_ptr_nonnull(pred);
}

static void teardown(void)
{
	labmodel_free(&st);
	topo_free(&topo);
	ekl_free(pred);
}

/* Load a topology from text and start a state on it. */
static void load(const char *yaml)
{
	char path[700];
	char err[EKL_ERRLEN] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t.yaml", dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(yaml, fp);
	fclose(fp);
	ck_assert_msg(topo_load(path, &topo, err) == 0, "%s", err);
	labmodel_init(&st, &topo, AT);
}

static void predict(void)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_int_eq(labmodel_predict(&st, pred, err), 0);
}

static int idx(const char *name)
{
	int i = labmodel_index(&st, name);

	ck_assert_int_ge(i, 0);
	return i;
}

static const struct lab_dir *dir_of(const char *from, const char *to)
{
	return &pred->dir[idx(from)][idx(to)];
}

static const struct lab_pair *pair_of(const char *a, const char *b)
{
	return labmodel_pair(pred, (size_t)idx(a), (size_t)idx(b));
}

static const char *why(const struct lab_why *w)
{
	return labmodel_why_name(w);
}

/* Under the `either` link rule: a pair survives while one direction
 * works (test_predict_link_both has the default rule). */
static const char two_pre[] = "cluster: {primary: a, link: either}\n"
			      "defaults: {version: X15.3.2}\n"
			      "nodes:\n"
			      "  a: {}\n"
			      "  b: {cert: {profile: server-only}}\n";

/* ---- labmodel_lab_chain ---- */

START_TEST(test_lab_chain)
{
	struct pol_chain ch;

	labmodel_lab_chain(PKI_PROFILE_SERVER_ONLY, PKI_CA_COMBINED, AT, 30,
			   "n1", &ch);
	ck_assert(ch.anchored);
	ck_assert_int_eq(ch.len, 3);
	ck_assert_uint_eq(ch.certs[0].eku, POL_EKU_EXT | POL_EKU_SERVER);
	ck_assert_uint_eq(ch.certs[1].eku,
			  POL_EKU_EXT | POL_EKU_SERVER | POL_EKU_CLIENT);
	ck_assert_uint_eq(ch.certs[2].eku, 0);
	ck_assert_int_eq(ch.certs[0].not_before, AT - 3600);
	ck_assert_int_eq(ch.certs[0].not_after, AT + 30 * 86400);
	ck_assert_str_eq(ch.dns[0], "n1");
	ck_assert_str_eq(ch.cn, "n1");
	ck_assert(pol_name_matches(&ch, "n1"));

	labmodel_lab_chain(PKI_PROFILE_NO_EKU, PKI_CA_SERVER_ONLY, AT, 0, "x",
			   &ch);
	ck_assert_uint_eq(ch.certs[0].eku, 0);
	ck_assert_uint_eq(ch.certs[1].eku, POL_EKU_EXT | POL_EKU_SERVER);
	/* Wide validity: decades either side. */
	ck_assert_int_lt(ch.certs[0].not_before, AT - 5 * 365 * 86400LL);
	ck_assert_int_gt(ch.certs[0].not_after, AT + 50 * 365 * 86400LL);

	labmodel_lab_chain(PKI_PROFILE_ANY_EKU, PKI_CA_UNRESTRICTED, AT, 0, "x",
			   &ch);
	ck_assert_uint_eq(ch.certs[0].eku, POL_EKU_EXT | POL_EKU_ANY);
	ck_assert_uint_eq(ch.certs[1].eku, 0);
	labmodel_lab_chain(PKI_PROFILE_CLIENT_ONLY, PKI_CA_UNRESTRICTED, AT, 0,
			   "x", &ch);
	ck_assert_uint_eq(ch.certs[0].eku, POL_EKU_EXT | POL_EKU_CLIENT);
}
END_TEST

/* ---- labmodel_dials ---- */

START_TEST(test_dials)
{
	ck_assert(labmodel_dials(TOPO_DIAL_BOTH, "b", "a", "a"));
	ck_assert(labmodel_dials(TOPO_DIAL_LOWER_NAME, "a", "b", "b"));
	ck_assert(!labmodel_dials(TOPO_DIAL_LOWER_NAME, "b", "a", "b"));
	ck_assert(labmodel_dials(TOPO_DIAL_PRIMARY, "p", "x", "p"));
	ck_assert(!labmodel_dials(TOPO_DIAL_PRIMARY, "x", "p", "p"));
	ck_assert(!labmodel_dials(TOPO_DIAL_PRIMARY, "x", "y", "p"));
	/* Case-insensitively, as ekunode compares names: "a" < "B". */
	ck_assert(labmodel_dials(TOPO_DIAL_LOWER_NAME, "a", "B", "a"));
	ck_assert(!labmodel_dials(TOPO_DIAL_LOWER_NAME, "B", "a", "a"));
}
END_TEST

/* ---- labmodel_predict ---- */

START_TEST(test_predict_both)
{
	load(two_pre);
	predict();
	/* a -> b: b (pre-X15.4) checks a's combined certificate: ok. */
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	/* b -> a: a refuses b's server-only certificate. */
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_REJECTED);
	ck_assert_int_eq(dir_of("b", "a")->v.code, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(dir_of("b", "a")->v.side, POL_SIDE_ACCEPTOR);
	ck_assert_int_eq(dir_of("b", "a")->v.depth, 0);
	ck_assert(pair_of("a", "b")->linked);
	ck_assert_int_eq(pair_of("a", "b")->carrier_from, idx("a"));
	ck_assert_int_eq(pair_of("a", "b")->carrier_to, idx("b"));
	ck_assert(pred->repl[idx("b")].replicating);
	ck_assert(pred->repl[idx("a")].replicating); /* the primary */
	ck_assert(labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(labmodel_safe(pred, LAB_CRIT_MESH));

	/* Both server-only: down with the code, b stops replicating. */
	labmodel_renew(&st, (size_t)idx("a"), PKI_PROFILE_SERVER_ONLY,
		       PKI_CA_UNRESTRICTED, 0);
	predict();
	ck_assert(!pair_of("a", "b")->linked);
	ck_assert_int_eq(pair_of("a", "b")->why.kind, LAB_WHY_CERT);
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "client-purpose");
	ck_assert(!pred->repl[idx("b")].replicating);
	ck_assert_str_eq(why(&pred->repl[idx("b")].why), "client-purpose");
	ck_assert(!labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(!labmodel_safe(pred, LAB_CRIT_MESH));

	/* Upgrading either to X15.4 brings it back: the X15.4 acceptor
	 * skips the client purpose. */
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("b"), "X15.4"), 0);
	ck_assert_int_eq(st.nodes[idx("b")].vclass, POL_V_X154);
	predict();
	ck_assert(pair_of("a", "b")->linked);
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_REJECTED);
	ck_assert_int_eq(pair_of("a", "b")->carrier_from, idx("a"));
	ck_assert_int_eq(labmodel_upgrade(&st, 0, "X16.0"), EKL_EVERSION);
	ck_assert_str_eq(st.nodes[0].version, "X15.3.2");
}
END_TEST

/* The lower name's dial carries the link when both work, whatever the
 * file order. */
START_TEST(test_predict_carrier)
{
	load("defaults: {version: X15.4}\n"
	     "nodes: {zed: {}, alpha: {}}\n");
	predict();
	ck_assert_int_eq(dir_of("zed", "alpha")->state, LAB_DIR_OK);
	ck_assert_int_eq(dir_of("alpha", "zed")->state, LAB_DIR_OK);
	ck_assert_int_eq(pair_of("zed", "alpha")->carrier_from, idx("alpha"));
	ck_assert_int_eq(pair_of("zed", "alpha")->carrier_to, idx("zed"));
	/* Names compare case-insensitively: "alpha" < "Zed" although 'Z'
	 * sorts before 'a' byte by byte. */
	labmodel_free(&st);
	topo_free(&topo);
	load("defaults: {version: X15.4}\n"
	     "nodes: {Zed: {}, alpha: {}}\n");
	predict();
	ck_assert_int_eq(pair_of("Zed", "alpha")->carrier_from, idx("alpha"));
}
END_TEST

START_TEST(test_predict_lower_name)
{
	/* Only a dials; a's certificate is server-only: b refuses it and
	 * no one else dials: down. */
	load("cluster: {dial: lower-name}\n"
	     "defaults: {version: X15.3.2}\n"
	     "nodes: {a: {cert: {profile: server-only}}, b: {}}\n");
	predict();
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_NOT_DIALLED);
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_REJECTED);
	ck_assert(!pair_of("a", "b")->linked);
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "client-purpose");
	/* With both dialling, b -> a works: enough under `either`. */
	labmodel_free(&st);
	topo_free(&topo);
	load("cluster: {dial: both, link: either}\n"
	     "defaults: {version: X15.3.2}\n"
	     "nodes: {a: {cert: {profile: server-only}}, b: {}}\n");
	predict();
	ck_assert(pair_of("a", "b")->linked);
	ck_assert_int_eq(pair_of("a", "b")->carrier_from, idx("b"));
}
END_TEST

START_TEST(test_predict_primary_dial)
{
	load("cluster: {dial: primary, primary: p}\n"
	     "defaults: {version: X15.3.2}\n"
	     "nodes: {b: {cert: {profile: server-only}}, p: {}, "
	     "c: {cert: {profile: server-only}}}\n");
	predict();
	ck_assert_uint_eq(pred->primary, (size_t)idx("p"));
	ck_assert_int_eq(dir_of("b", "c")->state, LAB_DIR_NOT_DIALLED);
	ck_assert_int_eq(dir_of("b", "p")->state, LAB_DIR_NOT_DIALLED);
	ck_assert_int_eq(dir_of("p", "b")->state, LAB_DIR_OK);
	ck_assert(!pair_of("b", "c")->linked);
	ck_assert_str_eq(why(&pair_of("b", "c")->why), "not-dialled");
	ck_assert(pred->repl[idx("b")].replicating);
	ck_assert(pred->repl[idx("c")].replicating);
	ck_assert(labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(!labmodel_safe(pred, LAB_CRIT_MESH));
}
END_TEST

START_TEST(test_predict_cuts)
{
	load(two_pre);
	/* Cutting the failing direction changes nothing. */
	labmodel_cut(&st, 1, 0, true);
	predict();
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_CUT);
	ck_assert(pair_of("a", "b")->linked);
	/* Cutting the working one takes the link down; the cut comes
	 * before the certificate code in the precedence of reasons. */
	labmodel_cut(&st, 1, 0, false);
	labmodel_cut(&st, 0, 1, true);
	predict();
	ck_assert(!pair_of("a", "b")->linked);
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "cut");
	ck_assert_int_eq(dir_of("b", "a")->v.code, POL_CLIENT_PURPOSE);
	/* Both cut: "cut". */
	labmodel_cut(&st, 1, 0, true);
	predict();
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "cut");
	ck_assert_str_eq(why(&pred->repl[1].why), "cut");
	ck_assert_uint_eq(labmodel_cuts_count(&st.cuts), 2);
	/* A node cannot cut itself. */
	labmodel_cut(&st, 0, 0, true);
	ck_assert_uint_eq(labmodel_cuts_count(&st.cuts), 2);
}
END_TEST

START_TEST(test_predict_not_running)
{
	load("defaults: {version: X15.4}\n"
	     "nodes: {n1: {}, n2: {}, n3: {}}\n");
	labmodel_set_running(&st, 1, false);
	predict();
	ck_assert_int_eq(dir_of("n1", "n2")->state, LAB_DIR_NOT_RUNNING);
	ck_assert_int_eq(dir_of("n2", "n3")->state, LAB_DIR_NOT_RUNNING);
	ck_assert(!pair_of("n1", "n2")->linked);
	ck_assert_str_eq(why(&pair_of("n1", "n2")->why), "not-running");
	ck_assert(!pred->repl[1].replicating);
	ck_assert_str_eq(why(&pred->repl[1].why), "not-running");
	ck_assert(pred->repl[2].replicating);
	/* The criterion ignores stopped nodes; mesh does not. */
	ck_assert(labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(!labmodel_safe(pred, LAB_CRIT_MESH));
	/* The primary stopped: nobody replicates. */
	labmodel_set_running(&st, 1, true);
	labmodel_set_running(&st, 0, false);
	predict();
	ck_assert(!pred->repl[0].replicating);
	ck_assert_str_eq(why(&pred->repl[1].why), "primary-not-running");
	ck_assert(!labmodel_safe(pred, LAB_CRIT_PRIMARY));
}
END_TEST

START_TEST(test_predict_verify)
{
	load(two_pre);
	labmodel_renew(&st, 0, PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED, 0);
	predict();
	ck_assert(!pair_of("a", "b")->linked);
	/* b permissive: a -> b is accepted by b (a only checks server
	 * purpose). */
	labmodel_set_verify(&st, POL_PERMISSIVE, 1);
	predict();
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_REJECTED);
	ck_assert(pair_of("a", "b")->linked);
	/* Everyone permissive: both ways. */
	labmodel_set_verify(&st, POL_PERMISSIVE, -1);
	predict();
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_OK);
	ck_assert_int_eq(st.nodes[0].verify, POL_PERMISSIVE);
}
END_TEST

START_TEST(test_predict_server_only_ca)
{
	/* A server-only issuing CA fails client purpose at depth 1 even for
	 * a combined leaf; X15.4 skips it at any depth. */
	load("defaults: {version: X15.3.2, cert: {ca: server-only}}\n"
	     "nodes: {a: {}, b: {}}\n");
	predict();
	ck_assert(!pair_of("a", "b")->linked);
	ck_assert_int_eq(dir_of("a", "b")->v.depth, 1);
	labmodel_upgrade(&st, 1, "X15.4.1");
	predict();
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	/* The combined issuing CA (the "alternate root") works everywhere. */
	labmodel_upgrade(&st, 1, "X15.3.2");
	labmodel_renew(&st, 0, PKI_PROFILE_COMBINED, PKI_CA_COMBINED, 0);
	labmodel_renew(&st, 1, PKI_PROFILE_COMBINED, PKI_CA_COMBINED, 0);
	predict();
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_OK);
}
END_TEST

START_TEST(test_predict_client_cert)
{
	/* An X15.5 node with a client-only client certificate dials a
	 * pre-X15.4 node: it presents the client certificate, accepted. */
	load("cluster: {dial: lower-name}\n"
	     "nodes:\n"
	     "  a: {version: X15.5, cert: {profile: server-only}}\n"
	     "  b: {version: X15.3.2}\n");
	predict();
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "client-purpose");
	labmodel_renew_client(&st, 0, PKI_PROFILE_CLIENT_ONLY,
			      PKI_CA_UNRESTRICTED, 0);
	ck_assert(st.nodes[0].has_client_cert);
	predict();
	ck_assert(pair_of("a", "b")->linked);
	/* Only X15.5 presents it. */
	labmodel_upgrade(&st, 0, "X15.4");
	predict();
	ck_assert(!pair_of("a", "b")->linked);
}
END_TEST

START_TEST(test_predict_validity)
{
	load(two_pre);
	/* A 30-day renewal, evaluated 31 days later: expired. */
	labmodel_renew(&st, 0, PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, 30);
	st.at = AT + 31 * 86400;
	predict();
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_REJECTED);
	ck_assert_int_eq(dir_of("b", "a")->v.code, POL_EXPIRED);
	ck_assert_int_eq(dir_of("b", "a")->v.side, POL_SIDE_INITIATOR);
	/* Explicit validity wins over days. */
	st.nodes[0].cert.not_before = AT + 40 * 86400;
	st.nodes[0].cert.not_after = AT + 80 * 86400;
	predict();
	ck_assert_int_eq(dir_of("b", "a")->v.code, POL_NOT_YET_VALID);
}
END_TEST

START_TEST(test_predict_file)
{
	char err[EKL_ERRLEN] = "";
	char yaml[2048];
	struct pki_leaf_opts o;

	ck_assert_msg(pki_init(dir, false, err) == 0, "%s", err);
	memset(&o, 0, sizeof(o));
	o.name = "other"; /* a certificate for another name */
	o.profile = PKI_PROFILE_COMBINED;
	ck_assert_msg(pki_issue(dir, &o, err) == 0, "%s", err);
	snprintf(yaml, sizeof(yaml),
		 "defaults: {version: X15.4}\n"
		 "nodes:\n"
		 "  a: {cert: {file: other.crt, profile: server-only}}\n"
		 "  b: {}\n"
		 "  c: {cert: {file: missing.crt, profile: server-only}}\n");
	load(yaml);
	st.at = (int64_t)time(NULL); /* the file is valid from now */
	ck_assert_msg(labmodel_load_files(&st, NULL, err) == 0, "%s", err);
	ck_assert_ptr_nonnull(st.nodes[0].cert.file_facts);
	ck_assert_ptr_null(st.nodes[2].cert.file_facts); /* not there */
	predict();
	/* b dialling a expects "a" but a presents "other". */
	ck_assert_int_eq(dir_of("b", "a")->v.code, POL_NAME_MISMATCH);
	ck_assert_int_eq(dir_of("b", "a")->v.side, POL_SIDE_INITIATOR);
	ck_assert(!pair_of("a", "b")->linked);
	/* A renewal replaces the file. */
	labmodel_renew(&st, 0, PKI_PROFILE_COMBINED, PKI_CA_UNRESTRICTED, 0);
	predict();
	ck_assert(pair_of("a", "b")->linked);
	/* A file that is not a certificate is an error naming it. */
	labmodel_free(&st);
	topo_free(&topo);
	load("defaults: {version: X15.4}\n"
	     "nodes: {a: {cert: {file: t.yaml}}, b: {}}\n");
	ck_assert_int_ne(labmodel_load_files(&st, NULL, err), 0);
	ck_assert_ptr_nonnull(strstr(err, "node a"));
}
END_TEST

/* ---- labmodel_derive (a live observation) ---- */

START_TEST(test_derive)
{
	const char *names[3] = {"x", "y", "z"};

	memset(pred, 0, sizeof(*pred));
	pred->n = 3;
	pred->primary = 0;
	pred->running[0] = pred->running[1] = pred->running[2] = true;
	pred->dir[0][1].state = LAB_DIR_OK;
	pred->dir[1][0].state = LAB_DIR_OK;
	pred->dir[0][2].state = LAB_DIR_REJECTED;
	pred->dir[0][2].v.code = POL_SERVER_PURPOSE;
	pred->dir[2][0].state = LAB_DIR_CUT;
	pred->dir[1][2].state = LAB_DIR_NOT_DIALLED;
	pred->dir[2][1].state = LAB_DIR_NOT_DIALLED;
	labmodel_derive(pred, names); /* link: both (a zeroed prediction) */
	ck_assert(pred->pair[0][1].linked);
	ck_assert_int_eq(pred->pair[0][1].carrier_from, 0);
	ck_assert(!pred->pair[0][2].linked);
	/* Cut before a certificate code. */
	ck_assert_str_eq(why(&pred->pair[0][2].why), "cut");
	ck_assert_str_eq(why(&pred->pair[1][2].why), "not-dialled");
	ck_assert(pred->repl[1].replicating);
	ck_assert(!pred->repl[2].replicating);
	ck_assert_str_eq(why(&pred->repl[2].why), "cut");
	/* x -> y rejected: down under both, up over y -> x under either. */
	pred->dir[0][1].state = LAB_DIR_REJECTED;
	pred->dir[0][1].v.code = POL_EXPIRED;
	labmodel_derive(pred, names);
	ck_assert(!pred->pair[0][1].linked);
	ck_assert_str_eq(why(&pred->pair[0][1].why), "expired");
	pred->link = TOPO_LINK_EITHER;
	labmodel_derive(pred, names);
	ck_assert(pred->pair[0][1].linked);
	ck_assert_int_eq(pred->pair[0][1].carrier_from, 1);
	ck_assert_int_eq(pred->pair[0][1].carrier_to, 0);
	ck_assert_str_eq(why(&pred->pair[0][2].why), "cut");
}
END_TEST

/* ---- the precedence of reasons ---- */

static void facts(struct lab_dir_facts *f, bool dialled, bool fr, bool tr,
		  bool cut, bool hs, enum pol_code code)
{
	memset(f, 0, sizeof(*f));
	f->dialled = dialled;
	f->from_running = fr;
	f->to_running = tr;
	f->cut = cut;
	f->handshake = hs;
	f->v.ok = code == POL_OK;
	f->v.code = code;
	f->v.side = POL_SIDE_ACCEPTOR;
	f->v.depth = code == POL_OK ? -1 : 0;
}

START_TEST(test_dir_resolve)
{
	struct lab_dir_facts f;
	struct lab_dir d;
	struct lab_why w;

	/* not-dialled > not-running > cut > the handshake, whatever else
	 * is known. */
	facts(&f, false, false, false, true, true, POL_CLIENT_PURPOSE);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_NOT_DIALLED);
	facts(&f, true, true, false, true, true, POL_CLIENT_PURPOSE);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_NOT_RUNNING);
	ck_assert_int_eq(d.v.depth, -1);
	facts(&f, true, false, true, false, false, POL_OK);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_NOT_RUNNING);
	facts(&f, true, true, true, true, true, POL_CLIENT_PURPOSE);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_CUT);
	ck_assert(!d.v.ok);
	/* No handshake happened (refused, timed out): cut. */
	facts(&f, true, true, true, false, false, POL_OK);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_CUT);
	facts(&f, true, true, true, false, true, POL_CLIENT_PURPOSE);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_REJECTED);
	ck_assert_int_eq(d.v.code, POL_CLIENT_PURPOSE);
	ck_assert_int_eq(d.v.depth, 0);
	labmodel_dir_why(&d, &w);
	ck_assert_str_eq(why(&w), "client-purpose");
	facts(&f, true, true, true, false, true, POL_OK);
	labmodel_dir_resolve(&f, &d);
	ck_assert_int_eq(d.state, LAB_DIR_OK);
	labmodel_dir_why(&d, &w);
	ck_assert_str_eq(why(&w), "ok");
}
END_TEST

static void dir_set(struct lab_dir *d, enum lab_dir_state s, enum pol_code c)
{
	memset(d, 0, sizeof(*d));
	d->state = s;
	d->v.ok = s == LAB_DIR_OK;
	d->v.code = c;
	d->v.depth = -1;
}

START_TEST(test_link_decide)
{
	struct lab_dir ab, ba;
	struct lab_pair p;
	struct lab_repl r;

	/* Both ok: the lower name's dial carries, under either rule. */
	dir_set(&ab, LAB_DIR_OK, POL_OK);
	dir_set(&ba, LAB_DIR_OK, POL_OK);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, false, &ab, &ba, &p);
	ck_assert(p.linked);
	ck_assert_int_eq(p.carrier_from, 5);
	ck_assert_int_eq(p.carrier_to, 3);
	ck_assert_int_eq(p.why.kind, LAB_WHY_NONE);
	/* One refused: both says down with the code; either carries over
	 * the other. */
	dir_set(&ab, LAB_DIR_REJECTED, POL_CLIENT_PURPOSE);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, true, &ab, &ba, &p);
	ck_assert(!p.linked);
	ck_assert_int_eq(p.carrier_from, -1);
	ck_assert_str_eq(why(&p.why), "client-purpose");
	labmodel_link_decide(TOPO_LINK_EITHER, 3, 5, true, &ab, &ba, &p);
	ck_assert(p.linked);
	ck_assert_int_eq(p.carrier_from, 5);
	/* One dialled direction (lower-name, primary): it alone decides,
	 * under both rules. */
	dir_set(&ba, LAB_DIR_NOT_DIALLED, POL_OK);
	dir_set(&ab, LAB_DIR_OK, POL_OK);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, false, &ab, &ba, &p);
	ck_assert(p.linked);
	ck_assert_int_eq(p.carrier_from, 3); /* the only one */
	dir_set(&ab, LAB_DIR_REJECTED, POL_UNTRUSTED);
	labmodel_link_decide(TOPO_LINK_EITHER, 3, 5, false, &ab, &ba, &p);
	ck_assert(!p.linked);
	ck_assert_str_eq(why(&p.why), "untrusted");
	/* Nothing dialled: not-dialled under both rules. */
	dir_set(&ab, LAB_DIR_NOT_DIALLED, POL_OK);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, false, &ab, &ba, &p);
	ck_assert(!p.linked);
	ck_assert_str_eq(why(&p.why), "not-dialled");
	/* not-running > cut > certificate, in either direction. */
	dir_set(&ab, LAB_DIR_REJECTED, POL_EXPIRED);
	dir_set(&ba, LAB_DIR_CUT, POL_OK);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, true, &ab, &ba, &p);
	ck_assert_str_eq(why(&p.why), "cut");
	dir_set(&ab, LAB_DIR_NOT_RUNNING, POL_OK);
	labmodel_link_decide(TOPO_LINK_EITHER, 3, 5, true, &ab, &ba, &p);
	ck_assert_str_eq(why(&p.why), "not-running");
	/* Two codes: the lower name's dial first. */
	dir_set(&ab, LAB_DIR_REJECTED, POL_EXPIRED);
	dir_set(&ba, LAB_DIR_REJECTED, POL_UNTRUSTED);
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, false, &ab, &ba, &p);
	ck_assert_str_eq(why(&p.why), "untrusted");
	labmodel_link_decide(TOPO_LINK_BOTH, 3, 5, true, &ab, &ba, &p);
	ck_assert_str_eq(why(&p.why), "expired");

	/* Replication: not-running > primary-not-running > the pair. */
	labmodel_repl_decide(false, false, false, &p, &r);
	ck_assert(!r.replicating);
	ck_assert_str_eq(why(&r.why), "not-running");
	labmodel_repl_decide(true, false, false, &p, &r);
	ck_assert_str_eq(why(&r.why), "primary-not-running");
	labmodel_repl_decide(true, false, true, &p, &r);
	ck_assert(!r.replicating);
	ck_assert_str_eq(why(&r.why), "expired");
	labmodel_repl_decide(true, true, true, NULL, &r);
	ck_assert(r.replicating);
	labmodel_repl_decide(false, true, false, NULL, &r);
	ck_assert_str_eq(why(&r.why), "not-running");
}
END_TEST

/* The default rule, on a model prediction: one refused direction takes
 * the pair down (the field notice's FAQ). */
START_TEST(test_predict_link_both)
{
	load("cluster: {primary: a}\n"
	     "defaults: {version: X15.3.2}\n"
	     "nodes:\n"
	     "  a: {}\n"
	     "  b: {cert: {profile: server-only}}\n"
	     "  c: {}\n");
	ck_assert_int_eq(topo.link, TOPO_LINK_BOTH);
	predict();
	ck_assert_int_eq(pred->link, TOPO_LINK_BOTH);
	ck_assert_int_eq(dir_of("a", "b")->state, LAB_DIR_OK);
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_REJECTED);
	ck_assert(!pair_of("a", "b")->linked);
	ck_assert_str_eq(why(&pair_of("a", "b")->why), "client-purpose");
	ck_assert(!pred->repl[idx("b")].replicating);
	ck_assert(pred->repl[idx("c")].replicating);
	ck_assert(pair_of("a", "c")->linked);
	ck_assert_int_eq(pair_of("a", "c")->carrier_from, idx("a"));
	/* X15.4 on both ends of a pair skips the client purpose: up. */
	labmodel_upgrade(&st, (size_t)idx("a"), "X15.4");
	predict();
	ck_assert_int_eq(dir_of("b", "a")->state, LAB_DIR_OK);
	ck_assert(pair_of("a", "b")->linked);
	ck_assert(!pair_of("b", "c")->linked); /* c refuses b */
	ck_assert(labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(!labmodel_safe(pred, LAB_CRIT_MESH));
	/* One direction cut: down (cut), under both. */
	labmodel_cut(&st, (size_t)idx("c"), (size_t)idx("a"), true);
	predict();
	ck_assert(!pair_of("a", "c")->linked);
	ck_assert_str_eq(why(&pair_of("a", "c")->why), "cut");
	ck_assert_str_eq(why(&pred->repl[idx("c")].why), "cut");
	/* Killed and cut: not-running wins. */
	labmodel_set_running(&st, (size_t)idx("c"), false);
	predict();
	ck_assert_str_eq(why(&pair_of("a", "c")->why), "not-running");
	ck_assert_str_eq(why(&pred->repl[idx("c")].why), "not-running");
}
END_TEST

/* ---- reasons and criteria ---- */

START_TEST(test_why)
{
	static const char *const words[] = {"ok",
					    "cut",
					    "not-running",
					    "not-dialled",
					    "primary-not-running",
					    "client-purpose",
					    "untrusted",
					    "expired"};
	struct lab_why w, w2;
	enum lab_criterion c;
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		ck_assert_int_eq(labmodel_why_parse(words[i], &w), 0);
		ck_assert_str_eq(labmodel_why_name(&w), words[i]);
		ck_assert_int_eq(labmodel_why_parse(words[i], &w2), 0);
		ck_assert(labmodel_why_eq(&w, &w2));
	}
	ck_assert_int_eq(labmodel_why_parse("down", &w), EKL_EINVAL);
	ck_assert_int_eq(labmodel_why_parse(NULL, &w), EKL_EINVAL);
	labmodel_why_parse("expired", &w);
	labmodel_why_parse("untrusted", &w2);
	ck_assert(!labmodel_why_eq(&w, &w2));
	ck_assert_int_eq(labmodel_criterion_parse("mesh", &c), 0);
	ck_assert_int_eq(c, LAB_CRIT_MESH);
	ck_assert_str_eq(labmodel_criterion_name(c), "mesh");
	ck_assert_int_eq(labmodel_criterion_parse("all", &c), EKL_EINVAL);
}
END_TEST

START_TEST(test_cuts)
{
	struct lab_cuts a, b;

	labmodel_cuts_clear(&a);
	labmodel_cuts_clear(&b);
	labmodel_cuts_set(&a, 63, 0, true);
	labmodel_cuts_set(&b, 0, 63, true);
	labmodel_cuts_set(&b, 64, 1, true); /* out of range: ignored */
	labmodel_cuts_add(&a, &b);
	ck_assert(labmodel_cuts_has(&a, 63, 0));
	ck_assert(labmodel_cuts_has(&a, 0, 63));
	ck_assert(!labmodel_cuts_has(&a, 0, 62));
	ck_assert_uint_eq(labmodel_cuts_count(&a), 2);
	labmodel_cuts_set(&a, 63, 0, false);
	ck_assert_uint_eq(labmodel_cuts_count(&a), 1);
}
END_TEST

/* ---- the deployment: clusters, externals, zones ---- */

static const char deployment[] =
    "name: mra-lab\n"
    "defaults: {version: X15.3.2, cert: {profile: combined}}\n"
    "clusters:\n"
    "  core: {role: c, primary: c1, nodes: {c1: {}, c2: {}}}\n"
    "  edge: {role: e, primary: e1, server_eku_upload: true, nodes: {e1: "
    "{}, e2: {}}}\n"
    "externals:\n"
    "  cucm: {kind: cucm, checks_client_eku: true}\n"
    "zones:\n"
    "  - {type: traversal, client: core, server: edge, mra: true}\n"
    "  - {type: neighbour, from: core, to: cucm, tls_verify: true}\n";

static int ep(const char *name)
{
	int i = labmodel_endpoint(&st, name);

	ck_assert_int_ge(i, 0);
	return i;
}

/* The service between a and b: up, or down with `code` (a certificate
 * code name, cut, not-running). */
static void service_is(enum pol_service s, const char *a, const char *b,
		       const char *code)
{
	struct lab_pair pr;

	ck_assert_msg(labmodel_service_between(pred, s, (size_t)ep(a),
					       (size_t)ep(b), &pr),
		      "%s %s-%s: no connection", pol_service_name(s), a, b);
	if (code == NULL) {
		ck_assert_msg(pr.linked, "%s %s-%s is down (%s)",
			      pol_service_name(s), a, b,
			      labmodel_why_name(&pr.why));
		return;
	}
	ck_assert_msg(!pr.linked, "%s %s-%s is up", pol_service_name(s), a, b);
	ck_assert_str_eq(labmodel_why_name(&pr.why), code);
}

static const struct lab_zone_conn *zdir(enum pol_service s, const char *a,
					const char *b)
{
	return labmodel_zone_dir(pred, s, (size_t)ep(a), (size_t)ep(b));
}

START_TEST(test_zones_connections)
{
	struct lab_pair pr;

	load(deployment);
	predict();
	/* traversal and mra: C -> E only, every node to every node (4 + 4);
	 * neighbour: either side, core's 2 nodes and cucm (4). */
	ck_assert_uint_eq(pred->zones.n, 12);
	ck_assert_ptr_nonnull(zdir(POL_SVC_TRAVERSAL, "c2", "e1"));
	ck_assert_ptr_null(zdir(POL_SVC_TRAVERSAL, "e1", "c2"));
	ck_assert_ptr_nonnull(zdir(POL_SVC_MRA, "c1", "e2"));
	ck_assert_ptr_nonnull(zdir(POL_SVC_NEIGHBOUR, "cucm", "c2"));
	ck_assert_ptr_nonnull(zdir(POL_SVC_NEIGHBOUR, "c2", "cucm"));
	ck_assert_ptr_null(zdir(POL_SVC_NEIGHBOUR, "e1", "cucm"));
	ck_assert(!labmodel_service_between(pred, POL_SVC_B2B, 0, 4, &pr));
	ck_assert(labmodel_services_ok(pred));
	ck_assert(!pred->zones.mismatch[0]);
	/* ClusterDB stays inside each cluster, each from its primary. */
	ck_assert_int_eq(dir_of("c1", "e1")->state, LAB_DIR_NOT_DIALLED);
	ck_assert_int_eq(dir_of("c1", "c2")->state, LAB_DIR_OK);
	ck_assert(pred->repl[idx("c2")].replicating);
	ck_assert(pred->repl[idx("e2")].replicating);
	ck_assert(labmodel_is_primary(pred, (size_t)idx("e1")));
	ck_assert(!labmodel_is_primary(pred, (size_t)idx("e2")));
	ck_assert(labmodel_safe(pred, LAB_CRIT_MESH));
	ck_assert(labmodel_safe(pred, LAB_CRIT_SERVICES));
}
END_TEST

/* E upgraded to X15.4 and renewed server-only before C: MRA breaks (a
 * pre-X15.4 C requires clientAuth on E's certificate in the SIP SERVICE
 * message) until C runs X15.4; the traversal handshake itself works. */
START_TEST(test_zones_mra)
{
	const struct lab_zone_conn *c;

	load(deployment);
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("e1"), "X15.4"), 0);
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("e2"), "X15.4"), 0);
	predict();
	ck_assert(pred->zones.mismatch[0]);
	ck_assert(labmodel_services_ok(pred));
	labmodel_renew(&st, (size_t)idx("e1"), PKI_PROFILE_SERVER_ONLY,
		       PKI_CA_SERVER_ONLY, 0);
	predict();
	service_is(POL_SVC_MRA, "c1", "e1", "client-purpose");
	service_is(POL_SVC_MRA, "c1", "e2", NULL);
	service_is(POL_SVC_TRAVERSAL, "c1", "e1", NULL);
	c = zdir(POL_SVC_MRA, "c2", "e1");
	ck_assert_int_eq(c->d.state, LAB_DIR_REJECTED);
	ck_assert_int_eq(c->d.v.side, POL_SIDE_INITIATOR);
	ck_assert_int_eq(c->d.v.depth, 0);
	ck_assert(!labmodel_services_ok(pred));
	ck_assert(labmodel_safe(pred, LAB_CRIT_PRIMARY));
	ck_assert(!labmodel_safe(pred, LAB_CRIT_SERVICES));
	ck_assert_ptr_eq(labmodel_services_first_down(pred),
			 zdir(POL_SVC_MRA, "c1", "e1"));
	/* C on X15.4: serverAuth is enough; the versions match again. */
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("c1"), "X15.4"), 0);
	predict();
	service_is(POL_SVC_MRA, "c1", "e1", NULL);
	service_is(POL_SVC_MRA, "c2", "e1", "client-purpose");
	ck_assert(pred->zones.mismatch[0]);
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("c2"), "X15.4"), 0);
	predict();
	ck_assert(labmodel_services_ok(pred));
	ck_assert(!pred->zones.mismatch[0]);
}
END_TEST

/* C is always the traversal client: a server-only C certificate fails at
 * E on every version unless X15.5's switch on E ignores the client EKU;
 * the neighbour zone fails where cucm checks clientAuth. */
START_TEST(test_zones_client_side)
{
	const struct lab_zone_conn *c;
	size_t i;

	load(deployment);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(labmodel_upgrade(&st, i, "X15.4"), 0);
	labmodel_renew(&st, (size_t)idx("c1"), PKI_PROFILE_SERVER_ONLY,
		       PKI_CA_UNRESTRICTED, 0);
	predict();
	c = zdir(POL_SVC_TRAVERSAL, "c1", "e2");
	ck_assert_int_eq(c->d.state, LAB_DIR_REJECTED);
	ck_assert_int_eq(c->d.v.side, POL_SIDE_ACCEPTOR);
	ck_assert_int_eq(c->d.v.code, POL_CLIENT_PURPOSE);
	/* mra rides on the traversal handshake. */
	service_is(POL_SVC_MRA, "c1", "e1", "client-purpose");
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", "client-purpose");
	ck_assert_int_eq(zdir(POL_SVC_NEIGHBOUR, "cucm", "c1")->d.state,
			 LAB_DIR_OK);
	/* ClusterDB on X15.4 no longer needs it. */
	ck_assert(pred->repl[idx("c2")].replicating);

	/* X15.5 E with its switch off (ignore the peer's client EKU). */
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("e1"), "X15.5"), 0);
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("e2"), "X15.5"), 0);
	predict();
	service_is(POL_SVC_TRAVERSAL, "c1", "e1", "client-purpose");
	st.nodes[idx("e1")].client_eku_check = false;
	st.nodes[idx("e2")].client_eku_check = false;
	predict();
	service_is(POL_SVC_TRAVERSAL, "c1", "e1", NULL);
	service_is(POL_SVC_MRA, "c1", "e2", NULL);
	/* Unified CM that ignores client EKU. */
	st.nodes[ep("cucm")].client_eku_check = false;
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", NULL);
	/* An X15.5 C with a client certificate presents it instead. */
	st.nodes[ep("cucm")].client_eku_check = true;
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", "client-purpose");
	ck_assert_int_eq(labmodel_upgrade(&st, (size_t)idx("c1"), "X15.5"), 0);
	labmodel_renew_client(&st, (size_t)idx("c1"), PKI_PROFILE_CLIENT_ONLY,
			      PKI_CA_UNRESTRICTED, 0);
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", NULL);
}
END_TEST

/* Externals and zone connections take faults like nodes: not running,
 * cut, and a zone with tls_verify off. */
START_TEST(test_zones_faults)
{
	load(deployment);
	labmodel_set_running(&st, (size_t)ep("cucm"), false);
	labmodel_cut(&st, (size_t)idx("c2"), (size_t)idx("e1"), true);
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", "not-running");
	service_is(POL_SVC_TRAVERSAL, "c2", "e1", "cut");
	service_is(POL_SVC_TRAVERSAL, "c2", "e2", NULL);
	ck_assert(!labmodel_safe(pred, LAB_CRIT_SERVICES));
	labmodel_set_running(&st, (size_t)ep("cucm"), true);
	labmodel_cut(&st, (size_t)idx("c2"), (size_t)idx("e1"), false);
	/* cucm renewed server-only: C accepts it only as initiator... */
	labmodel_renew(&st, (size_t)ep("cucm"), PKI_PROFILE_SERVER_ONLY,
		       PKI_CA_UNRESTRICTED, 0);
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", "client-purpose");
	ck_assert_int_eq(zdir(POL_SVC_NEIGHBOUR, "c1", "cucm")->d.state,
			 LAB_DIR_OK);
	/* ...and does not check anything with tls_verify off. */
	topo.zones[1].tls_verify = false;
	predict();
	service_is(POL_SVC_NEIGHBOUR, "c1", "cucm", NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("labmodel");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
	    {"labmodel_lab_chain", test_lab_chain},
	    {"labmodel_dials", test_dials},
	    {"labmodel_predict_both", test_predict_both},
	    {"labmodel_predict_carrier", test_predict_carrier},
	    {"labmodel_predict_lower_name", test_predict_lower_name},
	    {"labmodel_predict_primary_dial", test_predict_primary_dial},
	    {"labmodel_cut", test_predict_cuts},
	    {"labmodel_set_running", test_predict_not_running},
	    {"labmodel_set_verify", test_predict_verify},
	    {"labmodel_upgrade", test_predict_server_only_ca},
	    {"labmodel_renew_client", test_predict_client_cert},
	    {"labmodel_renew", test_predict_validity},
	    {"labmodel_load_files", test_predict_file},
	    {"labmodel_derive", test_derive},
	    {"labmodel_dir_resolve", test_dir_resolve},
	    {"labmodel_link_decide", test_link_decide},
	    {"labmodel_predict_link_both", test_predict_link_both},
	    {"labmodel_why", test_why},
	    {"labmodel_cuts", test_cuts},
	    {"labmodel_zones", test_zones_connections},
	    {"labmodel_zones_mra", test_zones_mra},
	    {"labmodel_zones_client", test_zones_client_side},
	    {"labmodel_zones_faults", test_zones_faults},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return tu_run(suite());
}
