/* test_docker_compose.c: the files the docker runtime writes for a
 * deployment (cli/lab/docker_compose.c), from lab_prepare's node.conf
 * files: each endpoint's container.conf (its zone listeners at its own
 * address, its zone peers through the proxy's route, or straight to the
 * acceptor's zone listener when direct; an external's kind and no
 * ClusterDB peer) and compose.yaml (the proxy's zone routes to the zone
 * listeners, no --version for an external). No engine: the addresses are
 * made up here. And lab_prepare's refusal of a deployment on swarm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ekulab/core/err.h"
#include "lab/docker_int.h"
#include "lab/lab.h"
#include "lab/lab_runtime.h"
#include "testutil.h"

#define MRA_LAB EKL_SOURCE_DIR "/examples/deployment/mra-lab.yaml"

static char *slurp(const char *path)
{
	char *buf = calloc(1, 16384);
	size_t n;
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, 16383, f);
	ck_assert(n > 0);
	fclose(f);
	return buf;
}

/* mra-lab prepared for docker in a fresh state directory, and made-up
 * addresses: the proxy at 10.9.9.2, endpoint i at 10.9.9.(10+i). */
static void prepare(struct lab *l, struct docker_lab *d, bool direct,
		    const char *tag)
{
	const char *dir = tu_tmpdir(tag);
	char err[EKL_ERRLEN], state[LAB_PATH_MAX];
	size_t i;

	ck_assert_ptr_nonnull(dir);
	snprintf(state, sizeof(state), "%s/lab", dir);
	ck_assert_int_eq(lab_open(l, MRA_LAB, state, err), 0);
	l->tune.direct = direct;
	if (lab_prepare(l, "docker", err) != 0)
		ck_abort_msg("lab_prepare: %s", err);
	docker_ident(l, d);
	snprintf(d->proxy_ip, sizeof(d->proxy_ip), "10.9.9.2");
	for (i = 0; i < lab_n(l); i++)
		snprintf(d->ip[i], sizeof(d->ip[i]), "10.9.9.%u",
			 (unsigned)((10 + i) & 0xff));
}

static char *container_conf(struct lab *l, const struct docker_lab *d,
			    const char *node)
{
	char err[EKL_ERRLEN], path[LAB_PATH_MAX + 80];
	int i = lab_node_index(l, node);

	ck_assert_int_ge(i, 0);
	if (docker_write_container_conf(l, d, i, err) != 0)
		ck_abort_msg("container.conf of %s: %s", node, err);
	lab_path(l, node, "container.conf", path, sizeof(path));
	return slurp(path);
}

static void finish(struct lab *l)
{
	char err[EKL_ERRLEN];

	ck_assert_int_eq(lab_remove_state(l, err), 0);
	lab_close(l);
}

START_TEST(test_ports_fixed)
{
	struct docker_lab d;
	struct lab l;
	int c1, e1, cucm;
	size_t n;

	prepare(&l, &d, false, "dc_ports");
	n = lab_n(&l);
	ck_assert_uint_eq(n, 5);
	c1 = lab_node_index(&l, "c1");
	e1 = lab_node_index(&l, "e1");
	cucm = lab_node_index(&l, "cucm");
	/* Each endpoint's own address: fixed numbers, the same for all. */
	ck_assert_int_eq(l.nodes[cucm].port, LAB_NODE_PORT_BASE + cucm);
	ck_assert_int_eq(l.zone_port[cucm * POL_SVC_COUNT + POL_SVC_NEIGHBOUR],
			 LAB_ZONE_PORT_BASE + POL_SVC_NEIGHBOUR);
	ck_assert_int_eq(l.zone_port[e1 * POL_SVC_COUNT + POL_SVC_TRAVERSAL],
			 LAB_ZONE_PORT_BASE + POL_SVC_TRAVERSAL);
	ck_assert_int_eq(l.zone_port[c1 * POL_SVC_COUNT + POL_SVC_TRAVERSAL],
			 0); /* C accepts no traversal */
	ck_assert_int_eq(l.route_port[(size_t)c1 * n + (size_t)e1],
			 LAB_ROUTE_PORT_BASE + c1 * (int)n + e1);
	/* Nothing was reserved on the host. */
	ck_assert_int_eq(l.zone_fd[cucm * POL_SVC_COUNT + POL_SVC_NEIGHBOUR],
			 -1);
	ck_assert_int_eq(l.route_fd[(size_t)c1 * n + (size_t)e1], -1);
	finish(&l);
}
END_TEST

START_TEST(test_container_conf_zones)
{
	char want[256], *c;
	struct docker_lab d;
	struct lab l;
	int c1, e1, cucm;
	size_t n;

	prepare(&l, &d, false, "dc_zones");
	n = lab_n(&l);
	c1 = lab_node_index(&l, "c1");
	e1 = lab_node_index(&l, "e1");
	cucm = lab_node_index(&l, "cucm");

	c = container_conf(&l, &d, "c1");
	/* Traversal (with MRA) through the proxy's route c1>e1. */
	snprintf(want, sizeof(want),
		 "\nzone-peer = e1=traversal,10.9.9.2:%d,mra\n",
		 l.route_port[(size_t)c1 * n + (size_t)e1]);
	ck_assert_ptr_nonnull(strstr(c, want));
	snprintf(want, sizeof(want), "\nzone-listen = neighbour=10.9.9.10:%d\n",
		 LAB_ZONE_PORT_BASE + POL_SVC_NEIGHBOUR);
	ck_assert_ptr_nonnull(strstr(c, want));
	ck_assert_ptr_nonnull(strstr(c, "\nzone-accept = neighbour=cucm\n"));
	ck_assert_ptr_null(strstr(c, "127.0.0.1"));
	free(c);

	c = container_conf(&l, &d, "cucm");
	snprintf(want, sizeof(want), "\nzone-listen = neighbour=10.9.9.%d:%d\n",
		 10 + cucm, LAB_ZONE_PORT_BASE + POL_SVC_NEIGHBOUR);
	ck_assert_ptr_nonnull(strstr(c, want));
	snprintf(want, sizeof(want), "\nzone-peer = c1=neighbour,10.9.9.2:%d\n",
		 l.route_port[(size_t)cucm * n + (size_t)c1]);
	ck_assert_ptr_nonnull(strstr(c, want));
	ck_assert_ptr_nonnull(strstr(c, "\nkind = cucm\n"));
	ck_assert_ptr_nonnull(strstr(c, "\ncert = /lab/tls/cucm.crt\n"));
	ck_assert_ptr_null(strstr(c, "\npeer ="));
	ck_assert_ptr_null(strstr(c, "\nversion ="));
	ck_assert_ptr_null(strstr(c, "127.0.0.1"));
	free(c);
	finish(&l);
}
END_TEST

/* Direct (no proxy): straight to the acceptor's zone listener. */
START_TEST(test_container_conf_direct)
{
	char want[256], *c;
	struct docker_lab d;
	struct lab l;
	int e1;

	prepare(&l, &d, true, "dc_direct");
	e1 = lab_node_index(&l, "e1");
	c = container_conf(&l, &d, "c1");
	snprintf(want, sizeof(want),
		 "\nzone-peer = e1=traversal,10.9.9.%d:%d,mra\n", 10 + e1,
		 LAB_ZONE_PORT_BASE + POL_SVC_TRAVERSAL);
	ck_assert_ptr_nonnull(strstr(c, want));
	free(c);
	finish(&l);
}
END_TEST

START_TEST(test_compose_zone_routes)
{
	char err[EKL_ERRLEN], path[LAB_PATH_MAX + 40], want[256], *c, *x;
	struct docker_lab d;
	struct lab l;
	int c1, cucm;
	size_t n;

	prepare(&l, &d, false, "dc_compose");
	n = lab_n(&l);
	c1 = lab_node_index(&l, "c1");
	cucm = lab_node_index(&l, "cucm");
	ck_assert_int_eq(docker_write_compose(&l, &d, err), 0);
	lab_path(&l, NULL, "compose.yaml", path, sizeof(path));
	c = slurp(path);
	/* The proxy's route c1>cucm forwards to cucm's neighbour listener. */
	snprintf(want, sizeof(want), "\"c1>cucm=10.9.9.2:%d,10.9.9.%d:%d\"",
		 l.route_port[(size_t)c1 * n + (size_t)cucm], 10 + cucm,
		 LAB_ZONE_PORT_BASE + POL_SVC_NEIGHBOUR);
	ck_assert_ptr_nonnull(strstr(c, want));
	/* The external's service: no --version; a node's has one. */
	x = strstr(c, "\n  cucm:\n");
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(
	    strstr(x, "command: [\"--config\", \"/lab/container.conf\"]\n"));
	ck_assert_ptr_nonnull(
	    strstr(c, "command: [\"--config\", \"/lab/container.conf\", "
		      "\"--version\", \"X15.3.2\"]\n"));
	free(c);
	finish(&l);
}
END_TEST

/* Swarm runs no deployment yet: refused by name, nothing made. */
START_TEST(test_swarm_refuses_deployment)
{
	const char *dir = tu_tmpdir("dc_swarm");
	char err[EKL_ERRLEN], state[LAB_PATH_MAX];
	struct stat st;
	struct lab l;

	ck_assert_ptr_nonnull(dir);
	snprintf(state, sizeof(state), "%s/lab", dir);
	ck_assert_int_eq(lab_open(&l, MRA_LAB, state, err), 0);
	ck_assert_int_eq(lab_prepare(&l, "swarm", err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not yet on swarm"));
	ck_assert_ptr_nonnull(strstr(err, "--runtime docker or process"));
	ck_assert_int_ne(stat(state, &st), 0);
	lab_close(&l);
}
END_TEST

static Suite *docker_compose_suite(void)
{
	Suite *s = suite_create("docker_compose");
	TCase *tc = tcase_create("deployment");

	tcase_add_test(tc, test_ports_fixed);
	tcase_add_test(tc, test_container_conf_zones);
	tcase_add_test(tc, test_container_conf_direct);
	tcase_add_test(tc, test_compose_zone_routes);
	tcase_add_test(tc, test_swarm_refuses_deployment);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(docker_compose_suite());
}
