/* test_lab.c: the lab's pure pieces (cli/lab/lab.c): where its temporary
 * files go, node configs under each tuning, and the directory removal's
 * refusals. No node is started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "lab/lab.h"
#include "testutil.h"

/* ---- lab_tmpdir, lab_default_state ---- */

START_TEST(test_tmpdir)
{
	char buf[LAB_PATH_MAX], want[LAB_PATH_MAX];
	char longdir[LAB_TMPDIR_MAX + 2];

	unsetenv("TMPDIR");
	ck_assert_str_eq(lab_tmpdir(), "/tmp");
	setenv("TMPDIR", "", 1);
	ck_assert_str_eq(lab_tmpdir(), "/tmp");
	setenv("TMPDIR", "/var/tmp/x", 1);
	ck_assert_str_eq(lab_tmpdir(), "/var/tmp/x");
	lab_default_state("three", buf, sizeof(buf));
	snprintf(want, sizeof(want), "/var/tmp/x/ekulab-%u/three",
		 (unsigned)getuid());
	ck_assert_str_eq(buf, want);
	/* Too long for the sockets under a lab: /tmp instead. */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	setenv("TMPDIR", longdir, 1);
	ck_assert_str_eq(lab_tmpdir(), "/tmp");
	longdir[LAB_TMPDIR_MAX] = '\0';
	setenv("TMPDIR", longdir, 1);
	ck_assert_str_eq(lab_tmpdir(), longdir);
	unsetenv("TMPDIR");
}
END_TEST

/* ---- lab_write_node_conf ---- */

static struct topo three(void)
{
	struct topo t;
	size_t i;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "three");
	t.verify = POL_ENFORCE;
	t.n_nodes = 3;
	t.nodes = calloc(3, sizeof(*t.nodes));
	ck_assert_ptr_nonnull(t.nodes);
	for (i = 0; i < 3; i++) {
		snprintf(t.nodes[i].name, sizeof(t.nodes[i].name), "node%zu",
			 i + 1);
		snprintf(t.nodes[i].version, sizeof(t.nodes[i].version),
			 "X15.3.2");
		t.nodes[i].client_eku_check = true;
	}
	snprintf(t.primary, sizeof(t.primary), "node1");
	return t;
}

/* node1's node.conf of a lab in dir with these settings. */
static char *node1_conf(struct lab *l, const char *dir)
{
	char path[LAB_PATH_MAX + 40], err[EKL_ERRLEN], *buf;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/node1", dir);
	mkdir(path, 0700);
	ck_assert_int_eq(lab_write_node_conf(l, 0, err), 0);
	snprintf(path, sizeof(path), "%s/node1/node.conf", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	buf = calloc(1, 8192);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, 8191, f);
	ck_assert(n > 0);
	fclose(f);
	return buf;
}

START_TEST(test_node_conf_defaults)
{
	const char *dir = tu_tmpdir("lab_conf");
	struct topo t = three();
	char err[EKL_ERRLEN], *c;
	struct lab l;

	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(lab_open_topo(&l, &t, "three.yaml", dir, err), 0);
	ck_assert(!l.tune.direct);
	l.nodes[0].port = 20001;
	l.nodes[1].port = 20002;
	l.nodes[2].port = 20003;
	l.route_port[0 * 3 + 1] = 21002; /* node1 dials node2 via the proxy */
	c = node1_conf(&l, dir);
	ck_assert_ptr_nonnull(strstr(c, "listen = 127.0.0.1:20001\n"));
	ck_assert_ptr_nonnull(strstr(c, "peer = node2=127.0.0.1:21002\n"));
	ck_assert_ptr_nonnull(strstr(c, "peer = node3=127.0.0.1:20003\n"));
	ck_assert_ptr_nonnull(strstr(
	    c, "heartbeat-ms = 300\ndead-ms = 1500\nbackoff-max-ms = 500\n"));
	ck_assert_ptr_null(strstr(c, "log-keep"));
	ck_assert_ptr_null(strstr(c, "ack-timeout-ms"));
	free(c);
	lab_close(&l);
	free(t.nodes);
}
END_TEST

START_TEST(test_node_conf_tuned)
{
	const char *dir = tu_tmpdir("lab_tuned");
	struct topo t = three();
	char err[EKL_ERRLEN], *c;
	struct lab l;

	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(lab_open_topo(&l, &t, "three.yaml", dir, err), 0);
	l.tune.direct = true;
	l.tune.heartbeat_ms = 0;
	l.tune.dead_ms = 0;
	l.tune.backoff_max_ms = 0;
	l.tune.log_keep = 4000000;
	l.tune.ack_timeout_ms = 30000;
	l.nodes[1].port = 20002;
	l.nodes[2].port = 20003;
	c = node1_conf(&l, dir);
	ck_assert_ptr_nonnull(strstr(c, "peer = node2=127.0.0.1:20002\n"));
	ck_assert_ptr_nonnull(strstr(c, "peer = node3=127.0.0.1:20003\n"));
	ck_assert_ptr_null(strstr(c, "heartbeat-ms"));
	ck_assert_ptr_null(strstr(c, "dead-ms"));
	ck_assert_ptr_null(strstr(c, "backoff-max-ms"));
	ck_assert_ptr_nonnull(strstr(c, "log-keep = 4000000\n"));
	ck_assert_ptr_nonnull(strstr(c, "ack-timeout-ms = 30000\n"));
	free(c);
	lab_close(&l);
	free(t.nodes);
}
END_TEST

/* ---- lab_remove_dir ---- */

START_TEST(test_remove_dir)
{
	const char *dir = tu_tmpdir("lab_rm");
	char err[EKL_ERRLEN], sub[600];
	struct stat st;

	ck_assert_ptr_nonnull(dir);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(lab_remove_dir(dir, err), 0);
	ck_assert_int_ne(stat(dir, &st), 0);
	ck_assert_int_eq(lab_remove_dir("/tmp", err), EKL_EINVAL);
	ck_assert_int_eq(lab_remove_dir("/tmp/it's", err), EKL_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "refusing"));
}
END_TEST

static Suite *lab_suite(void)
{
	Suite *s = suite_create("lab");
	TCase *tc;

	tc = tcase_create("lab_tmpdir");
	tcase_add_test(tc, test_tmpdir);
	suite_add_tcase(s, tc);

	tc = tcase_create("lab_write_node_conf");
	tcase_add_test(tc, test_node_conf_defaults);
	tcase_add_test(tc, test_node_conf_tuned);
	suite_add_tcase(s, tc);

	tc = tcase_create("lab_remove_dir");
	tcase_add_test(tc, test_remove_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(lab_suite());
}
