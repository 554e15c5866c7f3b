/* test_plan.c: plans: parsing and every error with its line:column and
 * key, partition shapes, applying steps, expectations, `plan check` on the
 * shipped examples, and `plan explore` counts checked against brute-force
 * enumeration. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "model/plan/plan.h"
#include "testutil.h"

#ifndef EKL_SOURCE_DIR
#define EKL_SOURCE_DIR "."
#endif

static char dir[512];
static struct plan p_glob;

static void setup(void)
{
	const char *t = tu_tmpdir("plan");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
}

static const char *put(const char *name, const char *text)
{
	static char path[700];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static const char three[] = "name: three\n"
			    "cluster: {primary: node1}\n"
			    "defaults: {version: X15.3.2}\n"
			    "nodes: {node1: {}, node2: {}, node3: {}}\n";
/* The same under the `either` link rule. */
static const char three_either[] = "name: three\n"
				   "cluster: {primary: node1, link: either}\n"
				   "defaults: {version: X15.3.2}\n"
				   "nodes: {node1: {}, node2: {}, node3: {}}\n";

/* ---- plan_load ---- */

static const char good[] =
    "name: good\n"
    "at: 2026-07-01\n"
    "topology: three.yaml\n"
    "steps:\n"
    "  - write: 200\n"
    "  - renew: {node: node2, profile: server-only}\n"
    "  - upgrade: {node: node3, version: X15.4}\n"
    "  - verify: {mode: permissive}\n"
    "  - verify: {mode: enforce, node: node1}\n"
    "  - fault: {kind: kill, node: node2}\n"
    "  - fault: {kind: partition, shape: isolate, node: node3, name: p}\n"
    "  - fault: {kind: latency, link: [node1, node2], ms: 50, "
    "jitter_ms: 5}\n"
    "  - heal: p\n"
    "  - heal: all\n"
    "  - wait: 2.5\n"
    "  - expect: {link: [node1, node2], state: down, code: "
    "client-purpose}\n"
    "  - expect: {direction: [node2, node1], code: ok}\n"
    "  - expect: {replicating: [node3]}\n"
    "  - expect: {replicating: all}\n"
    "  - renew: {node: node1, profile: client-only, ca: combined, days: "
    "30, cert: client, via: scp}\n";

START_TEST(test_load)
{
	char err[EKL_ERRLEN] = "";
	const struct plan_step *s;
	struct plan p;

	put("three.yaml", three);
	ck_assert_msg(plan_load(put("good.yaml", good), &p, err) == 0, "%s",
		      err);
	ck_assert_uint_eq(p.n_steps, 16);
	ck_assert_str_eq(p.topo.name, "three");
	ck_assert_ptr_nonnull(strstr(p.topo_path, "/three.yaml"));
	ck_assert_int_eq(p.at, 1782864000);
	s = p.steps;
	ck_assert_int_eq(s[0].kind, PLAN_WRITE);
	ck_assert_int_eq(s[0].count, 200);
	ck_assert_int_eq(s[0].line, 5);
	ck_assert_int_eq(s[0].column, 5);
	ck_assert_str_eq(s[0].text, "write 200");
	ck_assert_int_eq(s[1].kind, PLAN_RENEW);
	ck_assert_int_eq(s[1].node, 1);
	ck_assert_int_eq(s[1].profile, PKI_PROFILE_SERVER_ONLY);
	ck_assert(!s[1].has_ca);
	ck_assert(!s[1].client);
	ck_assert_int_eq(s[1].via, PLAN_VIA_UPLOAD); /* the default */
	ck_assert_str_eq(s[1].text, "renew node2 server-only");
	ck_assert_str_eq(s[2].version, "X15.4");
	ck_assert_str_eq(s[2].text, "upgrade node3 to X15.4");
	ck_assert_int_eq(s[3].mode, POL_PERMISSIVE);
	ck_assert_int_eq(s[3].node, -1);
	ck_assert_int_eq(s[4].node, 0);
	ck_assert_str_eq(s[4].text, "verify node1 enforce");
	ck_assert_int_eq(s[5].fault.kind, PLAN_F_KILL);
	ck_assert_str_eq(s[5].fault.name, "kill-6");
	ck_assert_int_eq(s[5].fault.node, 1);
	ck_assert_int_eq(s[6].fault.part.shape, PLAN_SHAPE_ISOLATE);
	ck_assert_int_eq(s[6].fault.part.node, 2);
	ck_assert_str_eq(s[6].text, "fault partition isolate node3 [p]");
	ck_assert_int_eq(s[7].fault.ms, 50);
	ck_assert_int_eq(s[7].fault.jitter_ms, 5);
	ck_assert_int_eq(s[7].fault.link[1], 1);
	ck_assert_str_eq(s[8].heal, "p");
	ck_assert_str_eq(s[9].heal, "");
	ck_assert_int_eq(s[10].wait_ms, 2500);
	ck_assert(s[11].expect.has_link && s[11].expect.has_state);
	ck_assert(!s[11].expect.up);
	ck_assert_int_eq(s[11].expect.code.code, POL_CLIENT_PURPOSE);
	ck_assert_str_eq(s[11].text,
			 "expect link node1-node2 down (client-purpose)");
	ck_assert(s[12].expect.has_direction);
	ck_assert_int_eq(s[12].expect.dir_result.kind, LAB_WHY_NONE);
	ck_assert_uint_eq(s[13].expect.replicating, 4u);
	ck_assert_uint_eq(s[14].expect.replicating, 6u); /* not node1 */
	ck_assert(s[15].client && s[15].has_ca);
	ck_assert_int_eq(s[15].days, 30);
	ck_assert_int_eq(s[15].via, PLAN_VIA_SCP);
	ck_assert_str_eq(s[15].text,
			 "renew node1 client cert client-only (ca combined), "
			 "30 days via scp");
	plan_free(&p);
	plan_free(&p); /* twice is fine */
}
END_TEST

START_TEST(test_load_inline)
{
	char err[EKL_ERRLEN] = "";
	struct plan p;

	ck_assert_msg(plan_load(put("inline.yaml",
				    "topology:\n"
				    "  cluster: {dial: lower-name}\n"
				    "  defaults: {version: X15.5}\n"
				    "  nodes: {a: {}, b: {}}\n"
				    "steps:\n"
				    "  - expect: {link: [a, b], state: up}\n"),
				&p, err) == 0,
		      "%s", err);
	ck_assert_str_eq(p.topo_path, "");
	ck_assert_str_eq(p.topo.name, "inline"); /* the plan's stem */
	ck_assert_int_eq(p.topo.dial, TOPO_DIAL_LOWER_NAME);
	ck_assert_uint_eq(p.n_steps, 1);
	plan_free(&p);
}
END_TEST

static const struct {
	const char *steps; /* after "topology: three.yaml\nsteps:\n" */
	const char *where; /* ":LINE:COLUMN: key 'K': " */
	const char *says;
} bad[] = {
    {"  - writ: 1\n", ":3:5: key 'steps[1].writ': ", "unknown key"},
    {"  - write: 0\n", ":3:12: key 'steps[1].write': ", "number of writes"},
    {"  - {write: 1, wait: 2}\n", ":3:5: key 'steps[1]': ", "one key"},
    {"  - renew: {node: node9, profile: combined}\n",
     ":3:19: key 'steps[1].renew.node': ", "'node9' is not a node"},
    {"  - renew: {node: node1, profile: combo}\n",
     ":3:35: key 'steps[1].renew.profile': ", "not a profile"},
    {"  - renew: {node: node1}\n",
     ":3:12: key 'steps[1].renew.profile': ", "missing"},
    {"  - renew: {node: node1, profile: combined, ca: public}\n",
     ":3:49: key 'steps[1].renew.ca': ", "not an issuing CA"},
    {"  - write: 1\n  - upgrade: {node: node1, version: X16}\n",
     ":4:37: key 'steps[2].upgrade.version': ", "not a known version"},
    {"  - verify: {mode: lax}\n",
     ":3:20: key 'steps[1].verify.mode': ", "not a verify mode"},
    {"  - fault: {kind: partition, shape: star}\n",
     ":3:37: key 'steps[1].fault.shape': ", "not a shape"},
    {"  - fault: {kind: partition, shape: isolate}\n",
     ":3:12: key 'steps[1].fault.node': ", "missing"},
    {"  - fault: {kind: partition, shape: halves, node: node1}\n",
     ":3:51: key 'steps[1].fault.node': ", "not used by a partition halves"},
    {"  - fault: {kind: partition, shape: one-way, from: node1, to: node1}\n",
     ":3:12: key 'steps[1].fault': ", "same node"},
    {"  - fault: {kind: explode, node: node1}\n",
     ":3:19: key 'steps[1].fault.kind': ", "not a fault"},
    {"  - fault: {kind: kill, node: node1, link: [node1, node2]}\n",
     ":3:44: key 'steps[1].fault.link': ", "not used by a kill"},
    {"  - fault: {kind: latency, link: [node1, node2]}\n",
     ":3:12: key 'steps[1].fault.ms': ", "missing"},
    {"  - fault: {kind: down, link: [node1, node1]}\n",
     ":3:31: key 'steps[1].fault.link': ", "same node twice"},
    {"  - fault: {kind: kill, node: node1, name: x}\n"
     "  - fault: {kind: pause, node: node2, name: x}\n",
     ":4:12: key 'steps[2].fault': ", "already used by step 1"},
    {"  - heal: nothing\n", ":3:11: key 'steps[1].heal': ", "no earlier fault"},
    {"  - fault: {kind: resume, node: node1, name: r}\n  - heal: r\n",
     ":4:11: key 'steps[2].heal': ", "nothing to heal"},
    {"  - wait: soon\n", ":3:11: key 'steps[1].wait': ", "seconds"},
    {"  - expect: {link: [node1, node2], state: up, code: expired}\n",
     ":3:53: key 'steps[1].expect.code': ", "with state: up"},
    {"  - expect: {link: [node1, node2], state: sideways}\n",
     ":3:43: key 'steps[1].expect.state': ", "not up or down"},
    {"  - expect: {link: [node1, node2], state: down, code: broken}\n",
     ":3:55: key 'steps[1].expect.code': ", "not a reason"},
    {"  - expect: {link: [node1, node2]}\n",
     ":3:13: key 'steps[1].expect': ", "add state"},
    {"  - expect: {replicating: [node1]}\n",
     ":3:28: key 'steps[1].expect.replicating[1]': ", "is the primary"},
    {"  - expect: {replicating: some}\n",
     ":3:27: key 'steps[1].expect.replicating': ", "all, none"},
    {"  - expect: {link: [node1, node2], direction: [node2, node3], "
     "code: ok}\n",
     ":3:47: key 'steps[1].expect.direction': ", "not a direction"},
    {"  - expect: {direction: [node2, node3]}\n",
     ":3:25: key 'steps[1].expect.direction': ", "needs code"},
    {"  - expect: {}\n", ":3:13: key 'steps[1].expect': ", "expects nothing"},
    {"  - renew: {node: node2, profile: combined, via: ftp}\n",
     ":3:50: key 'steps[1].renew.via': ", "'ftp' is not upload"},
    {"  - fault: {kind: timeout, link: [node1, node2]}\n",
     ":3:12: key 'steps[1].fault.ms': ", "missing"},
    {"  - fault: {kind: slow_close, link: [node1, node2], ms: -5}\n",
     ":3:57: key 'steps[1].fault.ms': ", "delay of the close"},
    {"  - fault: {kind: slicer, link: [node1, node2], delay_us: 10}\n",
     ":3:12: key 'steps[1].fault.average_size': ", "missing"},
    {"  - fault: {kind: slicer, link: [node1, node2], average_size: 4, "
     "size_variation: 4}\n",
     ":3:82: key 'steps[1].fault.size_variation': ", "below average_size"},
    {"  - fault: {kind: limit_data, link: [node1, node2], bytes: x}\n",
     ":3:60: key 'steps[1].fault.bytes': ", "number of bytes"},
    {"  - fault: {kind: limit_data, link: [node1, node2]}\n",
     ":3:12: key 'steps[1].fault.bytes': ", "missing"},
    {"  - fault: {kind: down, link: [node1, node2], bytes: 5}\n",
     ":3:54: key 'steps[1].fault.bytes': ", "not used by a down fault"},
    {"  - fault: {kind: down, link: [node1, node2], direction: up}\n",
     ":3:58: key 'steps[1].fault.direction': ", "'up' is not a direction"},
    {"  - fault: {kind: latency, link: [node1, node2], ms: 5, "
     "toxicity: 1.5}\n",
     ":3:67: key 'steps[1].fault.toxicity': ", "probability from 0 to 1"},
    {"  - fault: {kind: blackhole, link: [node1, node2], toxicity: 0.5}\n",
     ":3:62: key 'steps[1].fault.toxicity': ",
     "blackhole with toxicity 0.5 cuts some connections"},
    {"  - fault: {kind: limit_data, link: [node1, node2], bytes: 9, "
     "toxicity: 0.99}\n",
     ":3:73: key 'steps[1].fault.toxicity': ", "the model cannot predict"},
    {"  - fault: {kind: kill, node: node1, toxicity: 1}\n",
     ":3:48: key 'steps[1].fault.toxicity': ", "not used by a kill"},
    {"  - fault: {kind: partition, shape: halves, direction: upstream}\n",
     ":3:56: key 'steps[1].fault.direction': ", "not used by a partition"},
};

START_TEST(test_load_errors)
{
	char text[1024];
	char err[EKL_ERRLEN] = "";
	const char *path;
	struct plan p;

	put("three.yaml", three);
	snprintf(text, sizeof(text), "topology: three.yaml\nsteps:\n%s",
		 bad[_i].steps);
	path = put("bad.yaml", text);
	ck_assert_int_eq(plan_load(path, &p, err), EKL_ECONFIG);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
	ck_assert_msg(strstr(err, bad[_i].where) != NULL, "case %d: %s", _i,
		      err);
	ck_assert_msg(strstr(err, bad[_i].says) != NULL, "case %d: %s", _i,
		      err);
	ck_assert_ptr_null(p.steps);
	ck_assert_uint_eq(p.topo.n_nodes, 0);
}
END_TEST

/* The link faults Toxiproxy users know: their keys, their text and what
 * the model says of each (plan_fault_cuts through the lab's cuts). */
START_TEST(test_link_toxics)
{
	static const struct {
		const char *fault;
		const char *text; /* the step's text contains it */
		bool cut;	  /* the model: node1-node2 is down (cut) */
	} cases[] = {
	    {"{kind: slow_close, link: [node1, node2], ms: 300}",
	     "fault slow_close node1-node2 300ms", false},
	    {"{kind: timeout, link: [node1, node2], ms: 0}",
	     "fault timeout node1-node2 0ms", true},
	    {"{kind: slicer, link: [node1, node2], average_size: 1, "
	     "delay_us: 100}",
	     "fault slicer node1-node2 1+-0B/100us", false},
	    {"{kind: limit_data, link: [node1, node2], bytes: 4096, "
	     "direction: downstream}",
	     "fault limit_data node1-node2 4096B downstream", true},
	    {"{kind: down, link: [node1, node2], direction: upstream}",
	     "fault down node1-node2 upstream", true},
	    {"{kind: blackhole, link: [node1, node2], toxicity: 0}",
	     "toxicity 0", false},
	    {"{kind: reset, link: [node1, node2], toxicity: 1.0}",
	     "fault reset node1-node2 [", true},
	    {"{kind: latency, link: [node1, node2], ms: 20, toxicity: 0.5}",
	     "fault latency node1-node2 20ms toxicity 0.5", false},
	    {"{kind: bandwidth, link: [node1, node2], kbps: 8, direction: "
	     "downstream, toxicity: 0.25}",
	     "8kbps downstream toxicity 0.25", false},
	};
	struct lab_prediction *pred = ekl_calloc(1, sizeof(*pred));
	char err[EKL_ERRLEN] = "", text[512];
	size_t i;

	ck_assert_ptr_nonnull(pred);
	put("three.yaml", three);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plan_sim sim;
		struct plan p;

		snprintf(text, sizeof(text),
			 "topology: three.yaml\nsteps:\n  - fault: %s\n",
			 cases[i].fault);
		ck_assert_msg(plan_load(put("toxic.yaml", text), &p, err) == 0,
			      "%s: %s", cases[i].fault, err);
		ck_assert_msg(strstr(p.steps[0].text, cases[i].text) != NULL,
			      "'%s' lacks '%s'", p.steps[0].text,
			      cases[i].text);
		ck_assert(plan_fault_is_link(p.steps[0].fault.kind));
		ck_assert(plan_fault_cuts(&p.steps[0].fault) == cases[i].cut);
		plan_sim_init(&sim, &p, 0);
		ck_assert_int_eq(plan_apply(&sim, &p.steps[0], err), 0);
		ck_assert_int_eq(labmodel_predict(&sim.lab, pred, err), 0);
		ck_assert_msg(
		    labmodel_pair(pred, 0, 1)->linked == !cases[i].cut,
		    "%s: node1-node2 %s", cases[i].fault,
		    labmodel_pair(pred, 0, 1)->linked ? "up" : "down");
		if (cases[i].cut) {
			ck_assert_int_eq(labmodel_pair(pred, 0, 1)->why.kind,
					 LAB_WHY_CUT);
			ck_assert(!pred->repl[1].replicating);
		}
		ck_assert(labmodel_pair(pred, 0, 2)->linked);
		plan_sim_free(&sim);
		plan_free(&p);
	}
	/* The parameters as parsed. */
	ck_assert_int_eq(
	    plan_load(put("toxic.yaml",
			  "topology: three.yaml\nsteps:\n"
			  "  - fault: {kind: slicer, link: [node2, node3], "
			  "average_size: 10, size_variation: 3, delay_us: 50, "
			  "direction: upstream, toxicity: 0.75}\n"
			  "  - fault: {kind: limit_data, link: [node1, node3], "
			  "bytes: 1125899906842624, name: big}\n"),
		      &p_glob, err),
	    0);
	ck_assert_int_eq(p_glob.steps[0].fault.average_size, 10);
	ck_assert_int_eq(p_glob.steps[0].fault.size_variation, 3);
	ck_assert_int_eq(p_glob.steps[0].fault.delay_us, 50);
	ck_assert_int_eq(p_glob.steps[0].fault.direction, PLAN_DIR_UPSTREAM);
	ck_assert(p_glob.steps[0].fault.toxicity == 0.75);
	ck_assert(p_glob.steps[1].fault.bytes == 1125899906842624LL);
	ck_assert(p_glob.steps[1].fault.toxicity == 1.0);
	ck_assert_int_eq(p_glob.steps[1].fault.direction, PLAN_DIR_BOTH);
	plan_free(&p_glob);
	ekl_free(pred);
}
END_TEST

START_TEST(test_load_file_errors)
{
	char err[EKL_ERRLEN] = "";
	struct plan p;
	char missing[700];

	snprintf(missing, sizeof(missing), "%s/none.yaml", dir);
	ck_assert_int_eq(plan_load(missing, &p, err), EKL_ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no such file"));
	/* The topology's own error, located in the plan and in the
	 * topology file. */
	put("t.yaml", "nodes: {a: {}}\n");
	ck_assert_int_eq(plan_load(put("p.yaml", "topology: t.yaml\n"
						 "steps: [write: 1]\n"),
				   &p, err),
			 EKL_ECONFIG);
	ck_assert_msg(strstr(err, "p.yaml:1:11: key 'topology': ") != NULL,
		      "%s", err);
	ck_assert_msg(strstr(err, "t.yaml:1:9: ") != NULL, "%s", err);
	/* Inline: keys carry the topology. prefix. */
	ck_assert_int_eq(plan_load(put("p.yaml", "topology:\n"
						 "  nodes: {a: {version: X9}}\n"
						 "steps: [write: 1]\n"),
				   &p, err),
			 EKL_ECONFIG);
	ck_assert_msg(strstr(err, ":2:24: key 'topology.nodes.a.version'") !=
			  NULL,
		      "%s", err);
	ck_assert_int_eq(
	    plan_load(put("p.yaml", "topology: t.yaml\n"), &p, err),
	    EKL_ECONFIG);
	put("t.yaml", three);
	ck_assert_int_eq(
	    plan_load(put("p.yaml", "topology: t.yaml\n"), &p, err),
	    EKL_ECONFIG);
	ck_assert_msg(strstr(err, "key 'steps': missing") != NULL, "%s", err);
	ck_assert_int_eq(plan_load(put("p.yaml", "topology: t.yaml\n"
						 "steps: [write: 1]\n"
						 "speed: fast\n"),
				   &p, err),
			 EKL_ECONFIG);
	ck_assert_msg(strstr(err, ":3:1: key 'speed': unknown key") != NULL,
		      "%s", err);
	ck_assert_int_eq(plan_load(put("p.yaml", "topology: t.yaml\n"
						 "steps: [write: 1\n"),
				   &p, err),
			 EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "YAML syntax error"));
}
END_TEST

/* Every allocation failure is reported, and nothing leaks. */
START_TEST(test_load_nomem)
{
	char err[EKL_ERRLEN] = "";
	const char *path;
	struct plan_check c;
	struct plan p;
	long n;
	int rc;

	put("three.yaml", three);
	path = put("good.yaml", good);
	for (n = 0; n < 40; n++) {
		ekl_mem_fail_after(n);
		rc = plan_load(path, &p, err);
		ekl_mem_fail_after(-1);
		if (rc != 0) {
			ck_assert_int_eq(rc, EKL_ENOMEM);
			continue;
		}
		ekl_mem_fail_after(n);
		rc = plan_check_run(&p, 0, NULL, &c, err);
		ekl_mem_fail_after(-1);
		ck_assert(rc == 0 || rc == EKL_ENOMEM);
		plan_check_free(&c);
		plan_free(&p);
	}
}
END_TEST

/* ---- plan_partition_cuts ---- */

static struct topo *topo_n(size_t n)
{
	static struct topo t;
	static struct topo_node nodes[TOPO_MAX_NODES];
	size_t i;

	memset(&t, 0, sizeof(t));
	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++)
		snprintf(nodes[i].name, sizeof(nodes[i].name), "n%zu", i + 1);
	t.nodes = nodes;
	t.n_nodes = n;
	return &t;
}

START_TEST(test_partition)
{
	struct plan_partition pt = {PLAN_SHAPE_ISOLATE, 1, -1, -1};
	char err[EKL_ERRLEN] = "";
	struct lab_cuts c;
	size_t i, j;

	ck_assert_int_eq(plan_partition_cuts(topo_n(4), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 6);
	ck_assert(labmodel_cuts_has(&c, 1, 3) && labmodel_cuts_has(&c, 3, 1));
	ck_assert(!labmodel_cuts_has(&c, 0, 2));

	/* halves of 5: n1 n2 n3 | n4 n5. */
	pt.shape = PLAN_SHAPE_HALVES;
	ck_assert_int_eq(plan_partition_cuts(topo_n(5), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 12);
	ck_assert(labmodel_cuts_has(&c, 2, 3));
	ck_assert(!labmodel_cuts_has(&c, 0, 2));
	ck_assert(!labmodel_cuts_has(&c, 3, 4));

	/* ring of 5: each reaches its two neighbours only. */
	pt.shape = PLAN_SHAPE_RING;
	ck_assert_int_eq(plan_partition_cuts(topo_n(5), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 10);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 5; j++)
			if (i != j)
				ck_assert_int_eq(
				    labmodel_cuts_has(&c, i, j),
				    !(j == (i + 1) % 5 || i == (j + 1) % 5));
	ck_assert_int_eq(plan_partition_cuts(topo_n(3), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 0);

	/* bridge n3 of 5: n1 n2 | n4 n5, n3 reaches all. */
	pt.shape = PLAN_SHAPE_BRIDGE;
	pt.node = 2;
	ck_assert_int_eq(plan_partition_cuts(topo_n(5), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 8);
	ck_assert(labmodel_cuts_has(&c, 0, 4) && labmodel_cuts_has(&c, 4, 1));
	for (i = 0; i < 5; i++)
		ck_assert(!labmodel_cuts_has(&c, 2, i) &&
			  !labmodel_cuts_has(&c, i, 2));
	ck_assert_int_eq(plan_partition_cuts(topo_n(2), &pt, &c, err),
			 EKL_EINVAL);

	pt.shape = PLAN_SHAPE_ONE_WAY;
	pt.from = 3;
	pt.to = 0;
	ck_assert_int_eq(plan_partition_cuts(topo_n(4), &pt, &c, err), 0);
	ck_assert_uint_eq(labmodel_cuts_count(&c), 1);
	ck_assert(labmodel_cuts_has(&c, 3, 0) && !labmodel_cuts_has(&c, 0, 3));
	pt.to = 9;
	ck_assert_int_eq(plan_partition_cuts(topo_n(4), &pt, &c, err),
			 EKL_EINVAL);
	pt.shape = PLAN_SHAPE_ISOLATE;
	pt.node = -1;
	ck_assert_int_eq(plan_partition_cuts(topo_n(4), &pt, &c, err),
			 EKL_EINVAL);
}
END_TEST

/* ---- plan_apply ---- */

START_TEST(test_apply)
{
	char err[EKL_ERRLEN] = "";
	struct plan_sim *sim;
	struct plan p;
	size_t i;

	put("three.yaml", three);
	ck_assert_msg(
	    plan_load(put("apply.yaml",
			  "topology: three.yaml\n"
			  "steps:\n"
			  "  - fault: {kind: kill, node: node2, name: k}\n"
			  "  - fault: {kind: pause, node: node3}\n"
			  "  - fault: {kind: resume, node: node3}\n"
			  "  - fault: {kind: restart, node: node2}\n"
			  "  - fault: {kind: partition, shape: isolate, node: "
			  "node1, name: iso}\n"
			  "  - fault: {kind: reset, link: [node2, node3]}\n"
			  "  - heal: iso\n"
			  "  - renew: {node: node2, profile: server-only, "
			  "via: scp}\n"
			  "  - renew: {node: node3, profile: client-only, "
			  "cert: client, via: scp}\n"
			  "  - heal: all\n"
			  "  - renew: {node: node1, profile: server-only}\n"
			  "  - renew: {node: node1, profile: combined}\n"
			  "  - renew: {node: node1, profile: client-only, "
			  "cert: client}\n"),
		      &p, err) == 0,
	    "%s", err);
	sim = ekl_calloc(1, sizeof(*sim));
	ck_assert_ptr_nonnull(sim);
	plan_sim_init(sim, &p, 0);
	sim->lab.nodes[1].cert.ca = PKI_CA_COMBINED; /* kept by renew */
	for (i = 0; i < p.n_steps; i++) {
		struct plan_outcome o;

		ck_assert_int_eq(plan_apply_outcome(sim, &p.steps[i], &o, err),
				 0);
		ck_assert(o.renew == (p.steps[i].kind == PLAN_RENEW));
		switch (i) {
		case 0:
			ck_assert(!sim->lab.nodes[1].running);
			ck_assert_uint_eq(sim->n_faults, 1);
			break;
		case 1: ck_assert(!sim->lab.nodes[2].running); break;
		case 2:
			ck_assert(sim->lab.nodes[2].running);
			ck_assert(!sim->lab.nodes[1].running);
			ck_assert_uint_eq(sim->n_faults, 1);
			break;
		case 3:
			ck_assert(sim->lab.nodes[1].running);
			ck_assert_uint_eq(sim->n_faults, 0);
			break;
		case 4:
			ck_assert_uint_eq(labmodel_cuts_count(&sim->lab.cuts),
					  4);
			break;
		case 5:
			ck_assert_uint_eq(labmodel_cuts_count(&sim->lab.cuts),
					  6);
			break;
		case 6:
			ck_assert_uint_eq(labmodel_cuts_count(&sim->lab.cuts),
					  2);
			ck_assert(labmodel_cuts_has(&sim->lab.cuts, 1, 2));
			break;
		case 7:
			ck_assert_int_eq(sim->lab.nodes[1].cert.profile,
					 PKI_PROFILE_SERVER_ONLY);
			ck_assert_int_eq(sim->lab.nodes[1].cert.ca,
					 PKI_CA_COMBINED);
			/* Copied in, though the web UI would refuse it. */
			ck_assert_int_eq(o.result, PLAN_RENEW_COPIED);
			ck_assert(!o.upload.accept);
			ck_assert_int_eq(o.upload.rule, XPW_RULE_PRE154);
			break;
		case 8:
			ck_assert(sim->lab.nodes[2].has_client_cert);
			ck_assert_int_eq(sim->lab.nodes[2].client_cert.profile,
					 PKI_PROFILE_CLIENT_ONLY);
			ck_assert_int_eq(sim->lab.nodes[2].client_cert.ca,
					 PKI_CA_UNRESTRICTED);
			break;
		case 9:
			ck_assert_uint_eq(sim->n_faults, 0);
			ck_assert_uint_eq(labmodel_cuts_count(&sim->lab.cuts),
					  0);
			break;
		case 10:
			/* Refused by the web UI: an outcome, nothing
			 * changes. */
			ck_assert_int_eq(o.result, PLAN_RENEW_REFUSED);
			ck_assert_int_eq(o.upload.rule, XPW_RULE_PRE154);
			ck_assert_str_eq(o.version, "X15.3.2");
			ck_assert_int_eq(sim->lab.nodes[0].cert.profile,
					 PKI_PROFILE_COMBINED);
			ck_assert_int_eq(sim->lab.nodes[0].cert.issued,
					 sim->lab.at);
			break;
		case 11:
			ck_assert_int_eq(o.result, PLAN_RENEW_UPLOADED);
			ck_assert(o.upload.accept);
			break;
		case 12:
			/* No client slot before X15.5. */
			ck_assert_int_eq(o.result, PLAN_RENEW_REFUSED);
			ck_assert_int_eq(o.upload.rule,
					 XPW_RULE_NO_CLIENT_SLOT);
			ck_assert(!sim->lab.nodes[0].has_client_cert);
			break;
		}
	}
	plan_sim_free(sim);
	ekl_free(sim);
	plan_free(&p);
}
END_TEST

/* ---- outcomes: renewals, writes, node processes ---- */

START_TEST(test_outcome_text)
{
	char err[EKL_ERRLEN] = "";
	char text[1200];
	struct plan_sim *sim = ekl_calloc(1, sizeof(*sim));
	struct plan_outcome o;
	struct plan p;

	ck_assert_ptr_nonnull(sim);
	ck_assert_msg(
	    plan_load(put("o.yaml",
			  "topology:\n"
			  "  cluster: {primary: c}\n"
			  "  defaults: {version: X15.4}\n"
			  "  nodes: {c: {}, e: {role: e}, "
			  "f: {role: e, server_eku_upload: true}}\n"
			  "steps:\n"
			  "  - renew: {node: c, profile: server-only}\n"
			  "  - renew: {node: e, profile: server-only}\n"
			  "  - renew: {node: f, profile: server-only}\n"
			  "  - renew: {node: c, profile: server-only, "
			  "via: scp}\n"),
		      &p, err) == 0,
	    "%s", err);
	plan_sim_init(sim, &p, xpw_date(2026, 4, 1));
	ck_assert_int_eq(plan_apply_outcome(sim, &p.steps[0], &o, err), 0);
	ck_assert_int_eq(o.result, PLAN_RENEW_REFUSED);
	ck_assert_str_eq(xpw_rule_name(o.upload.rule),
			 "X15.4 Expressway-C upload");
	plan_outcome_text(&o, &p.topo, &p.steps[0], sim->lab.at, false, text,
			  sizeof(text));
	/* The rule's words, what would unblock it, dated by `at`: X15.5
	 * is not out on 2026-04-01. */
	ck_assert_msg(strstr(text, "refused: c (X15.4, Expressway-C) refuses "
				   "the upload: X15.4 Expressway-C upload "
				   "still requires combined EKU") == text,
		      "%s", text);
	ck_assert_msg(strstr(text, "c keeps its certificate (would pass "
				   "with: X15.5 (due May 2026, not out at "
				   "the evaluation time), a combined-EKU "
				   "certificate from an alternate root, or "
				   "an SCP copy") != NULL,
		      "%s", text);
	plan_outcome_text(&o, &p.topo, &p.steps[0], sim->lab.at, true, text,
			  sizeof(text));
	ck_assert_ptr_null(strstr(text, "would pass"));
	ck_assert_ptr_nonnull(strstr(text, "c keeps its certificate"));
	/* X15.4 Expressway-E: the setting decides. */
	ck_assert_int_eq(plan_apply_outcome(sim, &p.steps[1], &o, err), 0);
	ck_assert_int_eq(o.result, PLAN_RENEW_REFUSED);
	plan_outcome_text(&o, &p.topo, &p.steps[1], sim->lab.at, false, text,
			  sizeof(text));
	ck_assert_msg(strstr(text, "EnableServerEkuUpload: On (topology: "
				   "server_eku_upload: true)") != NULL,
		      "%s", text);
	ck_assert_int_eq(plan_apply_outcome(sim, &p.steps[2], &o, err), 0);
	ck_assert_int_eq(o.result, PLAN_RENEW_UPLOADED);
	ck_assert_int_eq(sim->lab.nodes[2].cert.profile,
			 PKI_PROFILE_SERVER_ONLY);
	plan_outcome_text(&o, &p.topo, &p.steps[2], sim->lab.at, false, text,
			  sizeof(text));
	ck_assert_str_eq(text, "uploaded: X15.4 Expressway-E with "
			       "EnableServerEkuUpload: On accepts server-only "
			       "certificates");
	ck_assert_int_eq(plan_apply_outcome(sim, &p.steps[3], &o, err), 0);
	ck_assert_int_eq(o.result, PLAN_RENEW_COPIED);
	ck_assert_int_eq(sim->lab.nodes[0].cert.profile,
			 PKI_PROFILE_SERVER_ONLY);
	plan_outcome_text(&o, &p.topo, &p.steps[3], sim->lab.at, false, text,
			  sizeof(text));
	ck_assert_str_eq(text,
			 "copied in by SCP (the upload would have been "
			 "refused: X15.4 Expressway-C upload still "
			 "requires combined EKU (serverAuth+clientAuth))");
	plan_sim_free(sim);
	ekl_free(sim);
	plan_free(&p);
}
END_TEST

/* What a write does: applied (to whom), refused (killed primary),
 * timeout (paused primary), whatever links are cut. */
START_TEST(test_write_predict)
{
	char err[EKL_ERRLEN] = "";
	char text[300];
	struct plan_sim *sim = ekl_calloc(1, sizeof(*sim));
	struct lab_prediction *pr = ekl_malloc(sizeof(*pr));
	struct plan_write w;
	struct plan p;
	size_t i;

	ck_assert(sim && pr);
	put("three.yaml", three);
	ck_assert_msg(
	    plan_load(put("w.yaml",
			  "topology: three.yaml\n"
			  "steps:\n"
			  "  - fault: {kind: partition, shape: isolate, node: "
			  "node3, name: iso}\n"
			  "  - fault: {kind: pause, node: node1, name: p}\n"
			  "  - fault: {kind: kill, node: node1, name: k}\n"
			  "  - heal: p\n"
			  "  - heal: k\n"
			  "  - fault: {kind: pause, node: node1, name: p2}\n"
			  "  - fault: {kind: resume, node: node1}\n"),
		      &p, err) == 0,
	    "%s", err);
	plan_sim_init(sim, &p, 0);
	for (i = 0; i < p.n_steps; i++) {
		ck_assert_int_eq(plan_apply(sim, &p.steps[i], err), 0);
		ck_assert_int_eq(labmodel_predict(&sim->lab, pr, err), 0);
		plan_write_predict(&sim->lab, pr, &w);
		plan_write_text(&w, &p.topo, pr->primary, text, sizeof(text));
		switch (i) {
		case 0:
		case 4:
		case 6:
			/* node3 is isolated (the partition is never
			 * healed): it does not receive them. */
			ck_assert_int_eq(w.result, PLAN_WRITE_APPLIED);
			ck_assert_uint_eq(w.replicas, 2u);
			ck_assert_str_eq(text, "applied on node1, replicated "
					       "to node2");
			break;
		case 1:
		case 5:
			ck_assert_int_eq(w.result, PLAN_WRITE_TIMEOUT);
			ck_assert(sim->lab.nodes[0].paused);
			ck_assert_str_eq(text, "times out after 5 s: node1 is "
					       "paused");
			break;
		case 2:
		case 3:
			/* Killed wins over paused. */
			ck_assert_int_eq(w.result, PLAN_WRITE_REFUSED);
			ck_assert(!sim->lab.nodes[0].paused);
			ck_assert_str_eq(text, "refused: node1 is not running "
					       "(connection refused)");
			break;
		}
	}
	ck_assert_str_eq(plan_write_result_name(PLAN_WRITE_TIMEOUT), "timeout");
	plan_sim_free(sim);
	ekl_free(sim);
	ekl_free(pr);
	plan_free(&p);
}
END_TEST

/* No step but heal, resume and restart starts a node: an upgrade,
 * renewal or verify change leaves a killed or paused node not running. */
START_TEST(test_stopped_stays_stopped)
{
	char err[EKL_ERRLEN] = "";
	struct plan_check c;
	struct plan p;

	put("three.yaml", three);
	ck_assert_msg(
	    plan_load(put("s.yaml",
			  "topology: three.yaml\n"
			  "steps:\n"
			  "  - fault: {kind: pause, node: node2, name: p}\n"
			  "  - fault: {kind: kill, node: node3, name: k}\n"
			  "  - upgrade: {node: node2, version: X15.4}\n"
			  "  - upgrade: {node: node3, version: X15.4}\n"
			  "  - renew: {node: node2, profile: combined}\n"
			  "  - verify: {mode: permissive}\n"
			  "  - expect: {replicating: none}\n"
			  "  - expect: {link: [node1, node2], code: "
			  "not-running}\n"
			  "  - fault: {kind: resume, node: node2}\n"
			  "  - expect: {replicating: [node2]}\n"
			  "  - fault: {kind: restart, node: node3}\n"
			  "  - expect: {replicating: all}\n"),
		      &p, err) == 0,
	    "%s", err);
	ck_assert_msg(plan_check_run(&p, 0, NULL, &c, err) == 0, "%s", err);
	ck_assert_uint_eq(c.n_expect, 4);
	ck_assert_msg(c.n_disagree == 0, "%s %s", c.steps[6].why,
		      c.steps[7].why);
	/* The upgrades, renewal and verify change did not start them. */
	ck_assert(!c.steps[5].pred->running[1]);
	ck_assert(!c.steps[5].pred->running[2]);
	plan_check_free(&c);
	plan_free(&p);
}
END_TEST

/* ---- plan_expect_eval ---- */

START_TEST(test_expect)
{
	char err[EKL_ERRLEN] = "";
	char why[256];
	char text[256];
	struct lab_prediction *pr;
	struct lab_state st;
	struct plan p;

	put("three-either.yaml", three_either);
	ck_assert_msg(
	    plan_load(put("e.yaml",
			  "topology: three-either.yaml\n"
			  "steps:\n"
			  "  - expect: {link: [node1, node2], state: up, "
			  "carrier: [node1, node2]}\n"
			  "  - expect: {link: [node2, node1], state: down}\n"
			  "  - expect: {direction: [node2, node1], code: "
			  "client-purpose}\n"
			  "  - expect: {replicating: [node3]}\n"
			  "  - expect: {link: [node1, node3], code: cut, "
			  "replicating: none}\n"),
		      &p, err) == 0,
	    "%s", err);
	pr = ekl_malloc(sizeof(*pr));
	ck_assert_ptr_nonnull(pr);
	labmodel_init(&st, &p.topo, 0);
	labmodel_renew(&st, 1, PKI_PROFILE_SERVER_ONLY, PKI_CA_UNRESTRICTED, 0);
	ck_assert_int_eq(labmodel_predict(&st, pr, err), 0);

	ck_assert(plan_expect_eval(&p.steps[0].expect, &p.topo, pr, why,
				   sizeof(why)));
	ck_assert(!plan_expect_eval(&p.steps[1].expect, &p.topo, pr, why,
				    sizeof(why)));
	ck_assert_str_eq(why, "node2-node1 is up (carried by node1 -> node2)");
	ck_assert(plan_expect_eval(&p.steps[2].expect, &p.topo, pr, why,
				   sizeof(why)));
	ck_assert(!plan_expect_eval(&p.steps[3].expect, &p.topo, pr, why,
				    sizeof(why)));
	ck_assert_str_eq(why, "replicating: node2 node3");
	labmodel_cut(&st, 0, 2, true);
	labmodel_cut(&st, 2, 0, true);
	ck_assert_int_eq(labmodel_predict(&st, pr, err), 0);
	ck_assert(!plan_expect_eval(&p.steps[4].expect, &p.topo, pr, why,
				    sizeof(why)));
	ck_assert_str_eq(why, "replicating: node2; node3 not (cut)");
	ck_assert(!plan_expect_eval(&p.steps[3].expect, &p.topo, pr, why,
				    sizeof(why)));
	ck_assert_str_eq(why, "replicating: node2; node3 not (cut)");
	plan_expect_text(&p.steps[4].expect, &p.topo, text, sizeof(text));
	ck_assert_str_eq(text, "link node1-node3 down (cut); replicating: "
			       "none");
	plan_expect_text(&p.steps[0].expect, &p.topo, text, sizeof(text));
	ck_assert_str_eq(text, "link node1-node2 up; carried by node1 -> "
			       "node2");
	/* The default rule (both): node2's refused dial takes node1-node2
	 * down, whatever carries it under either. */
	p.topo.link = TOPO_LINK_BOTH;
	labmodel_cut(&st, 0, 2, false);
	labmodel_cut(&st, 2, 0, false);
	ck_assert_int_eq(labmodel_predict(&st, pr, err), 0);
	ck_assert(!plan_expect_eval(&p.steps[0].expect, &p.topo, pr, why,
				    sizeof(why)));
	ck_assert_str_eq(why, "node1-node2 is down (client-purpose)");
	ck_assert(plan_expect_eval(&p.steps[1].expect, &p.topo, pr, why,
				   sizeof(why)));
	ck_assert(plan_expect_eval(&p.steps[3].expect, &p.topo, pr, why,
				   sizeof(why)));
	ekl_free(pr);
	plan_free(&p);
}
END_TEST

/* ---- plan_check_run on the examples ---- */

static int check_file(const char *path, struct plan *p, struct plan_check *c)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(plan_load(path, p, err) == 0, "%s", err);
	ck_assert_msg(plan_check_run(p, 0, NULL, c, err) == 0, "%s", err);
	return 0;
}

/* ---- the deployment: zone services in plans ---- */

static const char deploy[] =
    "name: dep\n"
    "defaults: {version: X15.3.2}\n"
    "clusters:\n"
    "  core: {role: c, nodes: {c1: {}, c2: {}}}\n"
    "  edge: {role: e, server_eku_upload: true, nodes: {e1: {}}}\n"
    "externals:\n"
    "  cucm: {kind: cucm}\n"
    "  fed: {kind: federation-peer}\n"
    "zones:\n"
    "  - {type: traversal, client: core, server: edge, mra: true}\n"
    "  - {type: neighbour, from: core, to: cucm}\n"
    "  - {type: federation, from: edge, to: fed}\n";

static const struct {
	const char *steps; /* after "topology: dep.yaml\nsteps:\n" */
	const char *where;
	const char *says;
} dbad[] = {
    {"  - expect: {service: sip, between: [c1, e1], state: up}\n",
     ":3:23: key 'steps[1].expect.service': ", "'sip' is not a service"},
    {"  - expect: {service: mra, state: up}\n",
     ":3:13: key 'steps[1].expect': ", "give between: [a, b]"},
    {"  - expect: {service: mra, between: [c1, e1], direction: [c1, e1], "
     "code: ok}\n",
     ":3:13: key 'steps[1].expect': ", "one of them"},
    {"  - expect: {service: neighbour, between: [e1, cucm], state: up}\n",
     ":3:43: key 'steps[1].expect.between': ",
     "no neighbour zone joins e1 and cucm"},
    {"  - expect: {service: mra, between: [c1, c2], state: up}\n",
     ":3:37: key 'steps[1].expect.between': ",
     "no traversal (mra: true) zone joins c1 and c2"},
    {"  - expect: {service: clusterdb, between: [c1, e1], state: up}\n",
     "key 'steps[1].expect.between': ", "in different clusters"},
    {"  - expect: {service: mra, between: [c1, nope], state: up}\n",
     ":3:42: key 'steps[1].expect.between[2]': ",
     "'nope' is not a node or external"},
    {"  - expect: {service: mra, direction: [c1, e1]}\n",
     ":3:39: key 'steps[1].expect.code': ", "missing; code: ok"},
    {"  - expect: {service: mra, direction: [c1, e1], state: up, code: ok}\n",
     ":3:56: key 'steps[1].expect.state': ", "not state:"},
    {"  - expect: {service: mra, between: [c1, e1]}\n",
     ":3:13: key 'steps[1].expect': ", "add state: up"},
    {"  - expect: {service: mra, between: [c1, e1], state: up, code: "
     "expired}\n",
     ":3:64: key 'steps[1].expect.code': ", "with state: up remove it"},
    {"  - expect: {finding: drift, zone: [core, edge], present: true}\n",
     ":3:23: key 'steps[1].expect.finding': ", "'drift' is not a finding"},
    {"  - expect: {finding: version-mismatch, zone: [core, cucm], present: "
     "true}\n",
     ":3:47: key 'steps[1].expect.zone': ",
     "no traversal zone joins core and cucm"},
    {"  - expect: {finding: version-mismatch, zone: [core, edge]}\n",
     ":3:13: key 'steps[1].expect.present': ", "missing; true or false"},
    {"  - expect: {finding: version-mismatch, zone: [core, edge], present: "
     "maybe}\n",
     ":3:70: key 'steps[1].expect.present': ", "not true or false"},
    {"  - upgrade: {node: cucm, version: X15.4}\n",
     ":3:21: key 'steps[1].upgrade.node': ", "'cucm' is an external"},
    {"  - expect: {replicating: [e1]}\n",
     ":3:28: key 'steps[1].expect.replicating[1]': ", "is the primary"},
};

START_TEST(test_load_deploy_errors)
{
	char text[1024];
	char err[EKL_ERRLEN] = "";
	const char *path;
	struct plan p;

	put("dep.yaml", deploy);
	snprintf(text, sizeof(text), "topology: dep.yaml\nsteps:\n%s",
		 dbad[_i].steps);
	path = put("bad.yaml", text);
	ck_assert_int_eq(plan_load(path, &p, err), EKL_ECONFIG);
	ck_assert_msg(strstr(err, dbad[_i].where) != NULL, "case %d: %s", _i,
		      err);
	ck_assert_msg(strstr(err, dbad[_i].says) != NULL, "case %d: %s", _i,
		      err);
	ck_assert_ptr_null(p.steps);
}
END_TEST

/* Steps on externals and service expectations, judged against the
 * model: text, agreement and what the model says when they disagree. */
START_TEST(test_expect_services)
{
	char err[EKL_ERRLEN] = "";
	char why[256], text[256];
	struct plan_check c;
	struct plan p;

	put("dep.yaml", deploy);
	check_file(
	    put("s.yaml",
		"topology: dep.yaml\n"
		"steps:\n"
		"  - expect: {service: mra, between: [c1, e1], state: "
		"up}\n"
		"  - upgrade: {node: e1, version: X15.4}\n"
		"  - renew: {node: e1, profile: server-only, ca: "
		"server-only}\n"
		"  - expect: {service: mra, between: [c1, e1], state: "
		"up}\n"
		"  - expect: {direction: [c2, e1], service: mra, code: "
		"client-purpose}\n"
		"  - expect: {finding: version-mismatch, zone: [edge, "
		"core], present: false}\n"
		"  - renew: {node: fed, profile: server-only}\n"
		"  - expect: {service: federation, between: [e1, fed], "
		"state: down, code: client-purpose}\n"
		"  - fault: {kind: kill, node: cucm}\n"
		"  - expect: {service: neighbour, between: [cucm, c2], "
		"state: down, code: not-running}\n"
		"  - fault: {kind: down, link: [c1, cucm], name: l}\n"
		"  - heal: all\n"
		"  - fault: {kind: down, link: [c1, cucm], name: l2}\n"
		"  - expect: {direction: [cucm, c1], service: neighbour, "
		"code: cut}\n"
		"  - expect: {service: clusterdb, between: [c1, c2], "
		"state: up}\n"
		"  - expect: {direction: [e1, c1], service: traversal, "
		"code: not-dialled}\n"),
	    &p, &c);
	ck_assert_uint_eq(c.n_expect, 9);
	ck_assert_uint_eq(c.n_disagree, 2);
	ck_assert(c.steps[0].agrees);
	ck_assert(!c.steps[3].agrees);
	ck_assert_str_eq(c.steps[3].why, "mra c1-e1 is down (client-purpose)");
	ck_assert(c.steps[4].agrees);
	ck_assert(!c.steps[5].agrees);
	ck_assert_str_eq(c.steps[5].why, "version-mismatch is present (the two "
					 "ends run different versions)");
	ck_assert(c.steps[7].agrees);
	ck_assert(c.steps[9].agrees);
	ck_assert(c.steps[13].agrees);
	ck_assert(c.steps[14].agrees);
	ck_assert(c.steps[15].agrees);
	/* the renewal of an external has no upload rule */
	ck_assert(!c.steps[6].outcome.renew);
	ck_assert_str_eq(p.steps[6].text, "renew fed server-only");
	ck_assert_str_eq(p.steps[8].text, "fault kill cucm [kill-9]");
	plan_expect_text(&p.steps[4].expect, &p.topo, text, sizeof(text));
	ck_assert_str_eq(text, "service mra c2 -> e1 client-purpose");
	plan_expect_text(&p.steps[5].expect, &p.topo, text, sizeof(text));
	ck_assert_str_eq(text, "finding version-mismatch core-edge absent");
	plan_expect_text(&p.steps[9].expect, &p.topo, text, sizeof(text));
	ck_assert_str_eq(text, "service neighbour cucm-c2 down (not-running)");
	/* A live observation has no zone connections: never agrees. */
	{
		struct lab_prediction *o = ekl_calloc(1, sizeof(*o));

		ck_assert_ptr_nonnull(o);
		o->n = 3;
		ck_assert(!plan_expect_eval(&p.steps[0].expect, &p.topo, o, why,
					    sizeof(why)));
		ck_assert_str_eq(why, "mra c1-e1: no connection observed");
		ekl_free(o);
	}
	(void)err;
	plan_check_free(&c);
	plan_free(&p);
}
END_TEST

/* Every plan of examples/deployment agrees with the model. */
START_TEST(test_check_deployment)
{
	char path[1024];
	struct plan_check c;
	struct dirent *de;
	struct plan p;
	size_t seen = 0;
	DIR *d;

	d = opendir(EKL_SOURCE_DIR "/examples/deployment");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		/* Plans are X-name.yaml; the rest are topologies. */
		if (l < 5 || strcmp(de->d_name + l - 5, ".yaml") != 0 ||
		    de->d_name[1] != '-')
			continue;
		snprintf(path, sizeof(path), "%s/examples/deployment/%s",
			 EKL_SOURCE_DIR, de->d_name);
		check_file(path, &p, &c);
		ck_assert_msg(c.n_expect > 0, "%s has no expectation", path);
		ck_assert_msg(c.n_disagree == 0, "%s: %zu disagree", path,
			      c.n_disagree);
		seen++;
		plan_check_free(&c);
		plan_free(&p);
	}
	closedir(d);
	ck_assert_uint_ge(seen, 5);
}
END_TEST

/* explore --criterion services over both clusters: upgrading E and C to
 * X15.4 keeping combined certificates is safe in any order; with E's
 * certificates going server-only, MRA needs every C upgraded before any E
 * renewal. */
START_TEST(test_explore_services)
{
	char err[EKL_ERRLEN] = "";
	struct plan_explore x;
	struct plan_goal g;
	struct topo t;

	ck_assert_msg(
	    topo_load(put("d.yaml", "name: d\n"
				    "defaults: {version: X15.3.2}\n"
				    "clusters:\n"
				    "  core: {role: c, nodes: {c1: {}}}\n"
				    "  edge: {role: e, server_eku_upload: on,\n"
				    "         nodes: {e1: {}, e2: {}}}\n"
				    "zones: [{type: traversal, client: core, "
				    "server: edge, mra: true}]\n"),
		      &t, err) == 0,
	    "%s", err);
	memset(&g, 0, sizeof(g));
	g.version = "X15.4";
	g.profile = PKI_PROFILE_COMBINED;
	g.criterion = LAB_CRIT_SERVICES;
	ck_assert_msg(plan_explore_run(&t, &g, INT64_C(1790000000), &x, err) ==
			  0,
		      "%s", err);
	ck_assert_uint_eq(x.n_steps, 3);
	ck_assert_uint_eq(x.orderings, 6);
	ck_assert_uint_eq(x.safe, 6);
	/* E on X15.4 with server-only certificates (C keeps combined: it
	 * is the traversal client): ClusterDB on E holds, MRA under the
	 * pre-X15.4 C does not. */
	snprintf(t.nodes[1].version, sizeof(t.nodes[1].version), "X15.4");
	snprintf(t.nodes[2].version, sizeof(t.nodes[2].version), "X15.4");
	t.nodes[1].vclass = t.nodes[2].vclass = POL_V_X154;
	t.nodes[1].cert.profile = PKI_PROFILE_SERVER_ONLY;
	t.nodes[2].cert.profile = PKI_PROFILE_SERVER_ONLY;
	t.nodes[1].cert.ca = PKI_CA_SERVER_ONLY;
	t.nodes[2].cert.ca = PKI_CA_SERVER_ONLY;
	/* The start already breaks MRA. */
	ck_assert_msg(plan_explore_run(&t, &g, INT64_C(1790000000), &x, err) ==
			  0,
		      "%s", err);
	ck_assert(!x.start_safe);
	ck_assert_int_eq(x.start_failure.service, POL_SVC_MRA);
	ck_assert_int_eq(x.start_failure.a, 0);
	ck_assert_str_eq(labmodel_why_name(&x.start_failure.why),
			 "client-purpose");
	g.criterion = LAB_CRIT_PRIMARY;
	ck_assert_msg(plan_explore_run(&t, &g, INT64_C(1790000000), &x, err) ==
			  0,
		      "%s", err);
	ck_assert(x.start_safe);
	topo_free(&t);
}
END_TEST

START_TEST(test_check_examples)
{
	char path[1024];
	struct plan_check c;
	struct dirent *de;
	struct plan p;
	size_t seen = 0;
	DIR *d;

	d = opendir(EKL_SOURCE_DIR "/examples/plans");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 5, ".yaml") != 0 ||
		    strncmp(de->d_name, "cluster", 7) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/examples/plans/%s",
			 EKL_SOURCE_DIR, de->d_name);
		check_file(path, &p, &c);
		ck_assert_msg(c.n_expect > 0, "%s has no expectation", path);
		ck_assert_msg(c.n_disagree == 0, "%s: %zu disagree", path,
			      c.n_disagree);
		seen++;
		plan_check_free(&c);
		plan_free(&p);
	}
	closedir(d);
	ck_assert_uint_ge(seen, 7);
}
END_TEST

START_TEST(test_check_break)
{
	struct plan_check c;
	struct plan p;

	check_file(EKL_SOURCE_DIR
		   "/examples/plans/a-renewal-breaks-pre-x15.4.yaml",
		   &p, &c);
	/* The web UI refuses node2's first renewal; its SCP copy breaks
	 * replication at once: under the link rule both, node1 refusing
	 * node2 is enough. */
	ck_assert_uint_eq(c.n_refused, 1);
	ck_assert_int_eq(c.steps[2].outcome.result, PLAN_RENEW_REFUSED);
	ck_assert(!c.steps[2].changed);
	ck_assert_int_ge(c.break_step, 0);
	ck_assert_str_eq(p.steps[c.break_step].text,
			 "renew node2 server-only (ca server-only) via scp");
	ck_assert_str_eq(p.topo.nodes[c.break_node].name, "node2");
	ck_assert_str_eq(labmodel_why_name(&c.break_why), "client-purpose");
	/* write and expect steps share the prediction before them. */
	ck_assert(!c.steps[0].changed);
	ck_assert_ptr_eq(c.steps[0].pred, c.start);
	plan_check_free(&c);
	plan_free(&p);

	/* A wrong expectation disagrees and says what the model says. */
	put("three.yaml", three);
	check_file(put("w.yaml", "topology: three.yaml\n"
				 "steps:\n"
				 "  - renew: {node: node1, profile: "
				 "server-only, via: scp}\n"
				 "  - renew: {node: node2, profile: "
				 "server-only, via: scp}\n"
				 "  - expect: {replicating: all}\n"
				 "  - expect: {link: [node1, node2], state: "
				 "down}\n"),
		   &p, &c);
	ck_assert_uint_eq(c.n_expect, 2);
	ck_assert_uint_eq(c.n_disagree, 1);
	ck_assert(!c.steps[2].agrees);
	/* node1's own renewal: node2 and node3 refuse its dial. */
	ck_assert_str_eq(c.steps[2].why,
			 "replicating: none; node2 not (client-purpose); "
			 "node3 not (client-purpose)");
	ck_assert(c.steps[3].agrees);
	ck_assert_int_eq(c.break_step, 0);
	plan_check_free(&c);
	plan_free(&p);
}
END_TEST

/* ---- plan_explore_run, against brute force ---- */

/* std::next_permutation on ints. */
static bool next_perm(int *a, size_t n)
{
	size_t i, j;
	int t;

	if (n < 2)
		return false;
	i = n - 1;
	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return false;
	j = n - 1;
	while (a[j] <= a[i - 1])
		j--;
	t = a[i - 1];
	a[i - 1] = a[j];
	a[j] = t;
	for (j = n - 1; i < j; i++, j--) {
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return true;
}

/* One step applied directly with the labmodel API (not the explore
 * code). */
static void apply_one(struct lab_state *s, const struct plan_xstep *x)
{
	if (x->upgrade)
		ck_assert_int_eq(
		    labmodel_upgrade(s, (size_t)x->node, x->version), 0);
	else
		labmodel_renew(s, (size_t)x->node, x->profile, x->ca, 0);
}

static bool safe_now(const struct lab_state *s, enum lab_criterion c,
		     struct lab_prediction *pr)
{
	char err[EKL_ERRLEN];

	ck_assert_int_eq(labmodel_predict(s, pr, err), 0);
	return labmodel_safe(pr, c);
}

/* Count safe orderings by enumerating every permutation and applying its
 * steps one by one, in order; `memo` (when not NULL, 2^k entries of -1)
 * caches the safety of a set of steps to make 8 steps affordable. Also
 * counts the orderings whose first unsafe prefix is exactly `probe`. */
static uint64_t brute(const struct topo *t, const struct plan_explore *x,
		      enum lab_criterion c, signed char *memo, uint32_t probe,
		      uint64_t *probe_count)
{
	struct lab_prediction *pr = ekl_malloc(sizeof(*pr));
	struct lab_state *base = ekl_malloc(sizeof(*base));
	struct lab_state *s = ekl_malloc(sizeof(*s));
	int perm[PLAN_EXPLORE_MAX_STEPS];
	uint64_t safe = 0;
	size_t k;

	ck_assert(pr && base && s);
	labmodel_init(base, t, 1780000000);
	for (k = 0; k < x->n_steps; k++)
		perm[k] = (int)k;
	*probe_count = 0;
	do {
		uint32_t done = 0;
		bool ok = true;

		*s = *base;
		for (k = 0; k < x->n_steps && ok; k++) {
			done |= UINT32_C(1) << perm[k];
			apply_one(s, &x->steps[perm[k]]);
			if (memo != NULL && memo[done] >= 0) {
				ok = memo[done];
			} else {
				ok = safe_now(s, c, pr);
				if (memo != NULL)
					memo[done] = (signed char)ok;
			}
		}
		if (ok)
			safe++;
		else if (done == probe)
			(*probe_count)++;
	} while (next_perm(perm, x->n_steps));
	ekl_free(s);
	ekl_free(base);
	ekl_free(pr);
	return safe;
}

static void load_topo(const char *text, struct topo *t)
{
	char err[EKL_ERRLEN] = "";

	ck_assert_msg(topo_load(put("x.yaml", text), t, err) == 0, "%s", err);
}

static const char *const small[] = {
    /* pre-X15.4 both-dial */
    "cluster: {primary: b}\n"
    "defaults: {version: X15.3.2}\n"
    "nodes: {a: {}, b: {}, c: {}}\n",
    /* lower-name dial, 4 nodes: 8 steps */
    "cluster: {dial: lower-name, primary: c}\n"
    "defaults: {version: X15.3.2}\n"
    "nodes: {a: {}, b: {}, c: {}, d: {}}\n",
    /* one node already X15.4, one from the combined CA: 5 steps */
    "defaults: {version: X15.3.2}\n"
    "nodes: {a: {version: X15.4}, b: {cert: {ca: combined}}, c: {}}\n",
    /* primary dial */
    "cluster: {dial: primary, primary: c}\n"
    "defaults: {version: X14.3.7}\n"
    "nodes: {a: {}, b: {}, c: {}}\n",
};

START_TEST(test_explore_brute)
{
	struct plan_goal g = {"X15.4",
			      PKI_PROFILE_SERVER_ONLY,
			      true,
			      PKI_CA_SERVER_ONLY,
			      LAB_CRIT_PRIMARY,
			      true};
	char err[EKL_ERRLEN] = "";
	struct plan_explore *x = ekl_calloc(1, sizeof(*x));
	uint64_t brute_safe, probe_count;
	signed char *memo = NULL;
	struct topo t;
	int crit;

	ck_assert_ptr_nonnull(x);
	load_topo(small[_i], &t);
	for (crit = 0; crit < 2; crit++) {
		g.criterion = (enum lab_criterion)crit;
		ck_assert_msg(plan_explore_run(&t, &g, 1780000000, x, err) == 0,
			      "%s", err);
		if (!x->start_safe) {
			ck_assert_uint_eq(x->safe, 0);
			continue;
		}
		if (x->n_steps > 6) {
			memo = malloc((size_t)1 << x->n_steps);
			ck_assert_ptr_nonnull(memo);
			memset(memo, -1, (size_t)1 << x->n_steps);
		}
		brute_safe = brute(&t, x, g.criterion, memo,
				   x->n_failures ? x->failures[0].done : 0,
				   &probe_count);
		free(memo);
		memo = NULL;
		ck_assert_uint_eq(x->orderings, x->n_steps == 5	  ? 120
						: x->n_steps == 6 ? 720
								  : 40320);
		ck_assert_uint_eq(x->safe, brute_safe);
		if (x->n_failures > 0)
			ck_assert_uint_eq(x->failures[0].count, probe_count);
	}
	topo_free(&t);
	ekl_free(x);
}
END_TEST

/* The recommended ordering is safe at every step, upgrades first. */
START_TEST(test_explore_recommend)
{
	struct plan_goal g = {"X15.4",	     PKI_PROFILE_SERVER_ONLY,
			      false,	     PKI_CA_UNRESTRICTED,
			      LAB_CRIT_MESH, true};
	char err[EKL_ERRLEN] = "";
	struct plan_explore *x = ekl_calloc(1, sizeof(*x));
	struct lab_prediction *pr = ekl_malloc(sizeof(*pr));
	struct lab_state s;
	struct topo t;
	size_t k;

	ck_assert(x && pr);
	load_topo(small[0], &t);
	ck_assert_int_eq(plan_explore_run(&t, &g, 0, x, err), 0);
	ck_assert_uint_eq(x->n_steps, 6);
	ck_assert_str_eq(x->steps[1].to, "server-only/unrestricted");
	ck_assert_uint_gt(x->safe, 0);
	labmodel_init(&s, &t, 0);
	for (k = 0; k < x->n_steps; k++) {
		apply_one(&s, &x->steps[x->recommended[k]]);
		ck_assert(safe_now(&s, g.criterion, pr));
	}
	ck_assert(x->steps[x->recommended[0]].upgrade);

	/* Already at the goal: nothing to order, one (empty) ordering. */
	g.profile = PKI_PROFILE_COMBINED;
	g.version = "X15.3.2";
	ck_assert_int_eq(plan_explore_run(&t, &g, 0, x, err), 0);
	ck_assert_uint_eq(x->n_steps, 0);
	ck_assert_uint_eq(x->orderings, 1);
	ck_assert_uint_eq(x->safe, 1);
	/* A bad goal version. */
	g.version = "X99";
	ck_assert_int_eq(plan_explore_run(&t, &g, 0, x, err), EKL_EINVAL);
	topo_free(&t);

	/* An unsafe start. */
	load_topo("defaults: {version: X15.3.2, cert: {profile: "
		  "server-only}}\n"
		  "nodes: {a: {}, b: {}}\n",
		  &t);
	g.version = "X15.4";
	g.profile = PKI_PROFILE_SERVER_ONLY;
	ck_assert_int_eq(plan_explore_run(&t, &g, 0, x, err), 0);
	ck_assert(!x->start_safe);
	ck_assert_uint_eq(x->safe, 0);
	ck_assert_uint_eq(x->orderings, 2); /* two upgrades */
	ck_assert_uint_eq(x->start_failure.count, 2);
	ck_assert_str_eq(labmodel_why_name(&x->start_failure.why),
			 "client-purpose");
	topo_free(&t);
	ekl_free(pr);
	ekl_free(x);
}
END_TEST

/* 6 nodes x 2 steps: 12! orderings; K checked against a forward DP
 * written here from scratch. (How long it takes is a benchmark's
 * business, not a test's.) */
START_TEST(test_explore_twelve)
{
	struct plan_goal g = {"X15.4",
			      PKI_PROFILE_SERVER_ONLY,
			      true,
			      PKI_CA_SERVER_ONLY,
			      LAB_CRIT_PRIMARY,
			      true};
	char err[EKL_ERRLEN] = "";
	struct plan_explore *x = ekl_calloc(1, sizeof(*x));
	struct lab_prediction *pr = ekl_malloc(sizeof(*pr));
	uint64_t *ways = ekl_calloc(4096, sizeof(*ways));
	uint64_t fails = 0, fact[13];
	struct lab_state base, s;
	uint32_t S;
	size_t k;
	struct topo t;

	ck_assert(x && pr && ways);
	load_topo("cluster: {primary: n3}\n"
		  "defaults: {version: X15.3.2}\n"
		  "nodes: {n1: {}, n2: {}, n3: {}, n4: {}, n5: {}, n6: {}}\n",
		  &t);
	ck_assert_int_eq(plan_explore_run(&t, &g, 1780000000, x, err), 0);
	ck_assert_uint_eq(x->n_steps, 12);
	ck_assert_uint_eq(x->orderings, UINT64_C(479001600));
	ck_assert_uint_gt(x->safe, 0);
	ck_assert_uint_lt(x->safe, x->orderings);

	/* Independent count: safe(S) by applying S with the labmodel API,
	 * ways by the number of safe orderings of S; and every ordering is
	 * either safe or fails first at exactly one unsafe set. */
	fact[0] = 1;
	for (k = 1; k <= 12; k++)
		fact[k] = fact[k - 1] * k;
	labmodel_init(&base, &t, 1780000000);
	for (S = 0; S < 4096; S++) {
		uint64_t reach = S == 0 ? 1 : 0;

		s = base;
		for (k = 0; k < 12; k++)
			if ((S >> k) & 1u) {
				apply_one(&s, &x->steps[k]);
				reach += ways[S & ~(UINT32_C(1) << k)];
			}
		if (safe_now(&s, g.criterion, pr)) {
			ways[S] = reach;
		} else {
			ways[S] = 0;
			fails +=
			    reach * fact[12 - (size_t)__builtin_popcount(S)];
		}
	}
	ck_assert_uint_eq(ways[4095], x->safe);
	ck_assert_uint_eq(fails + x->safe, x->orderings);
	topo_free(&t);
	ekl_free(ways);
	ekl_free(pr);
	ekl_free(x);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc;

	tc = tcase_create("plan_load");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_load_inline);
	tcase_add_loop_test(tc, test_load_errors, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_link_toxics);
	tcase_add_test(tc, test_load_nomem);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_partition_cuts");
	tcase_add_test(tc, test_partition);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_apply");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_apply);
	tcase_add_test(tc, test_outcome_text);
	tcase_add_test(tc, test_write_predict);
	tcase_add_test(tc, test_stopped_stays_stopped);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_expect_eval");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_expect);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_check_run");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_check_examples);
	tcase_add_test(tc, test_check_deployment);
	tcase_add_test(tc, test_expect_services);
	tcase_add_loop_test(tc, test_load_deploy_errors, 0,
			    (int)(sizeof(dbad) / sizeof(dbad[0])));
	tcase_add_test(tc, test_explore_services);
	tcase_add_test(tc, test_check_break);
	suite_add_tcase(s, tc);

	tc = tcase_create("plan_explore_run");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_explore_brute, 0,
			    (int)(sizeof(small) / sizeof(small[0])));
	tcase_add_test(tc, test_explore_recommend);
	tcase_add_test(tc, test_explore_twelve);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
