/* test_soak.c: the soak's draws (cli/soak/soak.c) without a lab (its dry
 * run: the same draws, the model only), its --kinds list, its refusal of
 * a topology that does not replicate, and its reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "soak/soak.h"
#include "testutil.h"

static const char four[] = "name: t-four\n"
			   "cluster: {verify: enforce, primary: node1, "
			   "dial: DIAL}\n"
			   "defaults: {version: X15.3.2, cert: {profile: "
			   "combined}}\n"
			   "nodes:\n"
			   "  node1: {}\n"
			   "  node2: {}\n"
			   "  node3: {version: X15.4}\n"
			   "  node4: {version: X15.5}\n";

/* The topology above with dial mode `dial`, as a file; its path. */
static const char *topo_file(const char *dial)
{
	static char path[512];
	char text[sizeof(four) + 32], *at;
	FILE *f;

	snprintf(path, sizeof(path), "%s/four.yaml", tu_tmpdir("soak"));
	snprintf(text, sizeof(text), "%s", four);
	at = strstr(text, "DIAL");
	memmove(at + strlen(dial), at + 4, strlen(at + 4) + 1);
	memcpy(at, dial, strlen(dial));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* The dry run's lines for a seed (freed by the caller). */
static char *draws(const char *topo, long n, uint64_t seed, uint32_t kinds,
		   struct soak_result *res)
{
	struct soak_opts o;
	char err[EKL_ERRLEN] = "", *buf = NULL;
	size_t len = 0;

	memset(&o, 0, sizeof(o));
	o.topology = topo;
	o.faults = n;
	o.seed = seed;
	o.kinds = kinds;
	o.dry_run = true;
	o.out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(o.out);
	ck_assert_msg(soak_run(&o, res, err) == 0, "%s", err);
	fclose(o.out);
	return buf;
}

static size_t lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_same_seed_same_faults)
{
	const char *t = topo_file("both");
	struct soak_result r1, r2, r3;
	char *a = draws(t, 300, 42, 0, &r1), *b = draws(t, 300, 42, 0, &r2);
	char *c = draws(t, 300, 43, 0, &r3);
	long sum = 0;
	int k;

	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_uint_eq(lines(a), 300);
	ck_assert_int_eq(r1.faults, 300);
	for (k = 0; k < SOAK_N_KINDS; k++) {
		/* 300 draws of 16 kinds: every kind comes up. */
		ck_assert_msg(r1.by_kind[k] > 0, "no %s in 300 faults",
			      soak_kind_name((enum soak_kind)k));
		sum += r1.by_kind[k];
	}
	ck_assert_int_eq(sum, 300);
	/* Toxics with a direction and a toxicity, and the ring (4 nodes). */
	ck_assert_ptr_nonnull(strstr(a, "toxicity 0."));
	ck_assert_ptr_nonnull(strstr(a, "downstream"));
	ck_assert_ptr_nonnull(strstr(a, "partition ring"));
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_kinds_filter)
{
	const char *t = topo_file("both");
	struct soak_result r;
	uint32_t kinds;
	char err[EKL_ERRLEN], *a, *line, *save = NULL;

	ck_assert_int_eq(soak_kinds_parse("limit_data,slicer", &kinds, err), 0);
	a = draws(t, 50, 7, kinds, &r);
	for (line = strtok_r(a, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(strstr(line, " fault limit_data ") != NULL ||
				  strstr(line, " fault slicer ") != NULL,
			      "%s", line);
	ck_assert_int_eq(r.by_kind[SOAK_LIMIT_DATA] + r.by_kind[SOAK_SLICER],
			 50);
	free(a);
}
END_TEST

/* Under dial: primary the routes follow the primary: never moved. */
START_TEST(test_no_primary_move_under_dial_primary)
{
	const char *t = topo_file("primary");
	struct soak_result r;
	uint32_t kinds;
	char err[EKL_ERRLEN], *a;

	ck_assert_int_eq(soak_kinds_parse("primary,kill", &kinds, err), 0);
	a = draws(t, 40, 1, kinds, &r);
	ck_assert_int_eq(r.by_kind[SOAK_PRIMARY], 0);
	ck_assert_int_eq(r.by_kind[SOAK_KILL], 40);
	free(a);
	a = draws(topo_file("both"), 40, 1, kinds, &r);
	ck_assert_int_gt(r.by_kind[SOAK_PRIMARY], 0);
	free(a);
}
END_TEST

/* node1 (X15.4) accepts node2's and node3's server-only certificates
 * (the ClusterDB bypass), but node2 and node3 (pre-X15.4) refuse each
 * other's: every node replicates from node1 and from no other, so the
 * primary never moves, and a soak of primary moves only cannot draw. */
START_TEST(test_primary_moves_only_where_linked)
{
	static const char star[] =
	    "name: t-star\n"
	    "cluster: {verify: enforce, primary: node1}\n"
	    "defaults: {version: X15.3.2, cert: {profile: server-only}}\n"
	    "nodes:\n"
	    "  node1: {version: X15.4, cert: {profile: combined}}\n"
	    "  node2: {}\n"
	    "  node3: {}\n";
	struct soak_opts o;
	struct soak_result r;
	char path[512], err[EKL_ERRLEN] = "", *a;
	uint32_t kinds;
	FILE *f;

	snprintf(path, sizeof(path), "%s/star.yaml", tu_tmpdir("soakstar"));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(star, f);
	fclose(f);
	ck_assert_int_eq(soak_kinds_parse("primary,kill", &kinds, err), 0);
	a = draws(path, 30, 3, kinds, &r);
	ck_assert_int_eq(r.by_kind[SOAK_PRIMARY], 0);
	ck_assert_int_eq(r.by_kind[SOAK_KILL], 30);
	free(a);
	memset(&o, 0, sizeof(o));
	o.topology = path;
	o.faults = 3;
	o.dry_run = true;
	o.out = stdout;
	ck_assert_int_eq(soak_kinds_parse("primary", &o.kinds, err), 0);
	ck_assert_int_eq(soak_run(&o, &r, err), EKL_EINVAL);
	ck_assert_msg(strstr(err, "none of the kinds asked for") != NULL, "%s",
		      err);
}
END_TEST

START_TEST(test_kinds_parse_refusals)
{
	uint32_t kinds = 0;
	char err[EKL_ERRLEN] = "";

	ck_assert_int_eq(soak_kinds_parse("kill,flood", &kinds, err),
			 EKL_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "'flood' is not a fault kind"));
	ck_assert_ptr_nonnull(strstr(err, "limit_data"));
	ck_assert_int_eq(soak_kinds_parse(",", &kinds, err), EKL_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at least one"));
	ck_assert_int_eq(soak_kinds_parse("kill,primary", &kinds, err), 0);
	ck_assert_uint_eq(kinds, (1u << SOAK_KILL) | (1u << SOAK_PRIMARY));
}
END_TEST

/* A node the model says never replicates: the checker could never pass,
 * so the soak refuses before anything starts. */
START_TEST(test_refuses_unlinked_topology)
{
	static const char bad[] =
	    "name: t-bad\n"
	    "cluster: {verify: enforce, primary: node1}\n"
	    "defaults: {version: X15.3.2, cert: {profile: combined}}\n"
	    "nodes:\n"
	    "  node1: {}\n"
	    "  node2: {cert: {profile: server-only}}\n";
	struct soak_opts o;
	struct soak_result r;
	char path[512], err[EKL_ERRLEN] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.yaml", tu_tmpdir("soakbad"));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(bad, f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.topology = path;
	o.faults = 5;
	o.dry_run = true;
	o.out = stdout;
	ck_assert_int_eq(soak_run(&o, &r, err), EKL_EINVAL);
	ck_assert_msg(strstr(err, "node2 does not replicate") != NULL, "%s",
		      err);
	ck_assert_msg(strstr(err, "client-purpose") != NULL, "%s", err);
}
END_TEST

START_TEST(test_report)
{
	struct soak_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	memset(&r, 0, sizeof(r));
	r.seed = 9;
	r.faults = 3;
	r.by_kind[SOAK_KILL] = 2;
	r.by_kind[SOAK_SLICER] = 1;
	r.acked = 10;
	r.converged = true;
	ck_assert(soak_passed(&r));
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(soak_json(&r, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"faults\":3"));
	ck_assert_ptr_nonnull(strstr(buf, "\"kill\":2"));
	ck_assert_ptr_nonnull(strstr(buf, "\"slicer\":1"));
	ck_assert_ptr_nonnull(strstr(buf, "\"converged\":true"));
	ck_assert_ptr_nonnull(strstr(buf, "\"passed\":true"));
	ck_assert_ptr_nonnull(strstr(buf, "\"state\":null"));
	ck_assert_uint_eq(lines(buf), 1);
	free(buf);
	/* Each failure fails the soak. */
	r.unexpected = 1;
	ck_assert(!soak_passed(&r));
	r.unexpected = 0;
	r.converged = false;
	ck_assert(!soak_passed(&r));
	r.converged = true;
	r.left_behind = 1;
	ck_assert(!soak_passed(&r));
	r.left_behind = 0;
	r.lost = 1;
	ck_assert(!soak_passed(&r));
	r.lost = 0;
	r.errors = 1;
	ck_assert(!soak_passed(&r));
	snprintf(r.why, sizeof(r.why), "fault 2 (kill node1): gone");
	/* A failed run keeps its state directory and says where. */
	snprintf(r.state, sizeof(r.state), "/tmp/x-soak-1");
	buf = NULL;
	f = open_memstream(&buf, &len);
	soak_summary(&r, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "FAIL: fault 2 (kill node1): gone"));
	ck_assert_ptr_nonnull(strstr(buf, "kill 2 slicer 1"));
	ck_assert_ptr_nonnull(strstr(buf, "lab state kept in /tmp/x-soak-1\n"));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(soak_json(&r, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"state\":\"/tmp/x-soak-1\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"passed\":false"));
	free(buf);
}
END_TEST

static Suite *soak_suite(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("draws");

	tcase_add_test(tc, test_same_seed_same_faults);
	tcase_add_test(tc, test_kinds_filter);
	tcase_add_test(tc, test_no_primary_move_under_dial_primary);
	tcase_add_test(tc, test_primary_moves_only_where_linked);
	tcase_add_test(tc, test_kinds_parse_refusals);
	tcase_add_test(tc, test_refuses_unlinked_topology);
	suite_add_tcase(s, tc);
	tc = tcase_create("report");
	tcase_add_test(tc, test_report);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(soak_suite());
}
