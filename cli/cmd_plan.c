/* cmd_plan.c: `ekulab plan check|explore|run`: the options of each into
 * the engine's (cli/plan/plan_show.h, plan_run.h), one engine call, and
 * what went wrong on stderr. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "lab/lab_interrupt.h"
#include "plan/plan_generate.h"
#include "plan/plan_run.h"
#include "plan/plan_show.h"

struct plan_args {
	bool json;
	const char *at;
	const char *ca;
	const char *goal_version;
	const char *goal_cert;
	const char *goal_ca;
	const char *criterion;
	bool allow_scp;	  /* explore: SCP copies count as allowed */
	long verify_live; /* explore: orderings to run live (0 = none) */
};

/* Each verb's --help: its purpose, every flag with its meaning and
 * default, and the exit codes (ekulab(1) is made from them). */
static const char help_check[] =
    "usage: ekulab plan check PLAN [--json] [--at TIME] [--ca FILE]\n"
    "\n"
    "Predict every step of PLAN from the policy model alone, with no lab: the\n"
    "links (up, or down with the reason) and which nodes replicate after each\n"
    "step, whether each expect step agrees, which renewals the upload rule\n"
    "refuses, and where replication breaks.\n"
    "\n"
    "options:\n"
    "  --json                one JSON object on stdout (default: text)\n"
    "  --at TIME             evaluate certificates at TIME: YYYY-MM-DD,\n"
    "                        YYYY-MM-DDTHH:MM:SSZ or @EPOCH (default: the "
    "plan's\n"
    "                        at:, else now)\n"
    "  --ca FILE             the trust bundle for file: certificates "
    "(default:\n"
    "                        every root trusted)\n"
    "  --help, -h            this help\n"
    "\n"
    "exit status:\n"
    "  0  every expectation agrees with the model\n"
    "  1  an expectation disagrees\n"
    "  2  a plan error (the message names FILE:LINE:COLUMN and the key)\n"
    "\n"
    "See docs/plans.md.\n";

static const char help_run[] =
    "usage: ekulab plan run PLAN [--json FILE|-] [--html FILE] [--state DIR] "
    "[--keep]\n"
    "                [--no-workload] [--runtime process|docker|swarm]\n"
    "                [--dial both|lower-name|primary] [--link both|either]\n"
    "\n"
    "Run PLAN live on a lab of its own, step by step, each step compared with\n"
    "the model's prediction, with a background writer on the primary and a "
    "set\n"
    "check of every acknowledged write at the end. The step table goes to\n"
    "stdout as it runs (to stderr with --json -).\n"
    "\n"
    "options:\n"
    "  --json FILE|-         write the JSON report to FILE, or to stdout with "
    "-\n"
    "                        (stdout then holds the JSON only) (default: "
    "none)\n"
    "  --html FILE           write an HTML report to FILE (default: none)\n"
    "  --state DIR           the lab's state directory (default:\n"
    "                        $TMPDIR/ekulab-UID/NAME-plan-PID)\n"
    "  --keep                keep the state directory and logs afterwards\n"
    "                        (default: removed)\n"
    "  --no-workload         no background writer (default: one on the "
    "primary)\n"
    "  --runtime NAME        process, docker or swarm (default: process)\n"
    "  --dial MODE           run the topology under another dial mode: both,\n"
    "                        lower-name or primary (default: the topology's)\n"
    "  --link RULE           run it under another link rule: both or either\n"
    "                        (default: the topology's)\n"
    "  --help, -h            this help\n"
    "\n"
    "exit status:\n"
    "  0  every step as the model predicts, every expectation held, no write\n"
    "     lost\n"
    "  1  a deviation, a failed expectation, or the lab failed during "
    "the run\n"
    "  2  the plan could not run: a plan error, an unknown --dial/--link, "
    "or a\n"
    "     lab that could not be made or started\n"
    "  130, 143  interrupted (Ctrl-C, SIGTERM): everything it started stopped\n"
    "\n"
    "See docs/plans.md.\n";

static const char help_explore[] =
    "usage: ekulab plan explore TOPOLOGY --goal-version V --goal-cert PROFILE\n"
    "                [--goal-ca CA] [--criterion primary|mesh|services]\n"
    "                [--allow-scp]\n"
    "                [--at TIME] [--json] [--verify-live N]\n"
    "\n"
    "Every node goes to version V and a PROFILE certificate: one upgrade "
    "and/or\n"
    "one renew step per node. Count the orderings of those steps that keep "
    "the\n"
    "criterion after every step and whose renewals pass the node's upload "
    "rule\n"
    "when they happen; show where the others first fail, what blocks the "
    "goal,\n"
    "and recommend a safe order.\n"
    "\n"
    "options:\n"
    "  --goal-version V      the version every node ends on (required)\n"
    "  --goal-cert PROFILE   combined, server-only, client-only, no-eku or\n"
    "                        any-eku (required)\n"
    "  --goal-ca CA          the issuing CA of the new certificates:\n"
    "                        unrestricted, server-only or combined (default:\n"
    "                        each node's own)\n"
    "  --criterion NAME      primary: every running node replicates from its\n"
    "                        cluster's primary; mesh: every pair of a cluster\n"
    "                        is linked; services: primary, and every zone\n"
    "                        connection works (default: primary)\n"
    "  --allow-scp           a renewal the upload rule refuses is copied in "
    "by\n"
    "                        SCP and counts as allowed (default: refused)\n"
    "  --at TIME             evaluate at TIME: YYYY-MM-DD, "
    "YYYY-MM-DDTHH:MM:SSZ\n"
    "                        or @EPOCH (default: now)\n"
    "  --json                one JSON object on stdout (with --verify-live "
    "the\n"
    "                        live runs' tables go to stderr) (default: text)\n"
    "  --verify-live N       run N orderings live (1-100): the recommended "
    "one,\n"
    "                        then random ones, each as a plan run (default: "
    "none)\n"
    "  --help, -h            this help\n"
    "\n"
    "exit status:\n"
    "  0  a safe ordering exists (and every live ordering as the model says)\n"
    "  1  none, or a live ordering deviated from the model\n"
    "  2  a usage or topology error\n"
    "  130, 143  interrupted during --verify-live\n"
    "\n"
    "See docs/plans.md.\n";

static void usage(FILE *f)
{
	fputs("usage: ekulab plan VERB ... [options]\n\n"
	      "Plans: upgrade and renewal campaigns checked against the model "
	      "and run live.\n\n"
	      "verbs:\n"
	      "  check     predict every step of a plan from the model alone\n"
	      "  run       run a plan live on a lab, each step compared with "
	      "the model\n"
	      "  explore   count the safe orderings of an upgrade campaign, "
	      "recommend one\n"
	      "  generate  a random plan (for tests)\n\n"
	      "Run 'ekulab plan VERB --help' for a verb's options and exit "
	      "codes.\n",
	      f);
}

/* ---- options ---- */

/* argv[0] is the subcommand. Returns 0, -1 (help printed) or 2 (usage
 * error, printed). Operands start at optind. */
static int parse_args(int argc, char **argv, struct plan_args *a)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"at", required_argument, NULL, 'a'},
	    {"ca", required_argument, NULL, 'c'},
	    {"goal-version", required_argument, NULL, 'V'},
	    {"goal-cert", required_argument, NULL, 'P'},
	    {"goal-ca", required_argument, NULL, 'C'},
	    {"criterion", required_argument, NULL, 'k'},
	    {"allow-scp", no_argument, NULL, 'S'},
	    {"verify-live", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': a->json = true; break;
		case 'a': a->at = optarg; break;
		case 'c': a->ca = optarg; break;
		case 'V': a->goal_version = optarg; break;
		case 'P': a->goal_cert = optarg; break;
		case 'C': a->goal_ca = optarg; break;
		case 'k': a->criterion = optarg; break;
		case 'S': a->allow_scp = true; break;
		case 'L': {
			char *end;

			a->verify_live = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' ||
			    a->verify_live < 1 || a->verify_live > 100) {
				cli_fail("plan %s: --verify-live '%s': 1-100",
					 argv[0], optarg);
				return 2;
			}
			break;
		}
		case 'h':
			fputs(strcmp(argv[0], "check") == 0 ? help_check
							    : help_explore,
			      stdout);
			return -1;
		default:
			cli_fail(
			    "plan %s: unknown option or missing value: %s; "
			    "see 'ekulab plan %s --help'",
			    argv[0], argv[optind - 1], argv[0]);
			return 2;
		}
	}
	return 0;
}

static int parse_at(const char *cmd, const char *s, int64_t *at)
{
	*at = 0;
	if (s != NULL && pki_parse_time(s, at) != 0) {
		cli_fail("plan %s: --at '%s': use YYYY-MM-DD, "
			 "YYYY-MM-DDTHH:MM:SSZ or @EPOCH",
			 cmd, s);
		return 2;
	}
	return 0;
}

static int goal_of(const struct plan_args *a, struct plan_goal *g)
{
	memset(g, 0, sizeof(*g));
	if (a->goal_version == NULL || a->goal_cert == NULL) {
		cli_fail("plan explore: --goal-version and --goal-cert are "
			 "required");
		return 2;
	}
	g->version = a->goal_version;
	g->allow_scp = a->allow_scp;
	if (pki_profile_parse(a->goal_cert, &g->profile) != 0) {
		cli_fail("plan explore: --goal-cert '%s': use combined, "
			 "server-only, client-only, no-eku or any-eku",
			 a->goal_cert);
		return 2;
	}
	if (a->goal_ca != NULL) {
		if (pki_ca_parse(a->goal_ca, &g->ca) != 0) {
			cli_fail("plan explore: --goal-ca '%s': use "
				 "unrestricted, server-only or combined",
				 a->goal_ca);
			return 2;
		}
		g->has_ca = true;
	}
	if (a->criterion != NULL &&
	    labmodel_criterion_parse(a->criterion, &g->criterion) != 0) {
		cli_fail("plan explore: --criterion '%s': use primary, mesh or "
			 "services",
			 a->criterion);
		return 2;
	}
	return 0;
}

/* ---- the subcommands ---- */

static int check_main(int argc, char **argv)
{
	struct plan_check_opts o;
	char err[EKL_ERRLEN] = "";
	struct plan_args a;
	int rc;

	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind != argc - 1) {
		cli_fail("plan check: give exactly one plan file");
		fputs(help_check, stderr);
		return 2;
	}
	if (a.goal_version || a.goal_cert || a.goal_ca || a.criterion ||
	    a.allow_scp) {
		cli_fail("plan check: --goal-*, --criterion and --allow-scp "
			 "belong to plan explore");
		return 2;
	}
	memset(&o, 0, sizeof(o));
	if ((rc = parse_at("check", a.at, &o.at)) != 0)
		return rc;
	o.plan = argv[optind];
	o.ca = a.ca;
	o.json = a.json;
	o.out = stdout;
	rc = plan_check_show(&o, err);
	if (err[0] != '\0')
		cli_fail("plan check: %s", err);
	return rc;
}

static int explore_main(int argc, char **argv)
{
	struct plan_explore_opts o;
	char err[EKL_ERRLEN] = "";
	struct plan_args a;
	int rc;

	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind != argc - 1) {
		cli_fail("plan explore: give exactly one topology file");
		fputs(help_explore, stderr);
		return 2;
	}
	if (a.ca != NULL) {
		cli_fail("plan explore: --ca belongs to plan check");
		return 2;
	}
	memset(&o, 0, sizeof(o));
	if ((rc = parse_at("explore", a.at, &o.at)) != 0 ||
	    (rc = goal_of(&a, &o.goal)) != 0)
		return rc;
	o.topology = argv[optind];
	o.json = a.json;
	o.verify_live = a.verify_live;
	o.out = stdout;
	if (o.verify_live > 0)
		lab_interrupt_install();
	rc = plan_explore_show(&o, err);
	if (err[0] != '\0')
		cli_fail("plan explore: %s", err);
	return lab_interrupted() ? 128 + lab_interrupted() : rc;
}

static int run_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", required_argument, NULL, 'j'},
	    {"html", required_argument, NULL, 'H'},
	    {"state", required_argument, NULL, 's'},
	    {"keep", no_argument, NULL, 'k'},
	    {"no-workload", no_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"dial", required_argument, NULL, 'd'},
	    {"link", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct plan_run_opts o;
	char err[EKL_ERRLEN] = "";
	int opt, rc;

	memset(&o, 0, sizeof(o));
	o.runtime = "process";
	o.workload = true;
	o.out = stdout;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': o.json = optarg; break;
		case 'H': o.html = optarg; break;
		case 's': o.state = optarg; break;
		case 'k': o.keep = true; break;
		case 'n': o.workload = false; break;
		case 'r': o.runtime = optarg; break;
		case 'd': o.dial = optarg; break;
		case 'l': o.link = optarg; break;
		case 'h': fputs(help_run, stdout); return 0;
		default:
			cli_fail(
			    "plan run: unknown option or missing value: %s",
			    argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		cli_fail("plan run: give one PLAN file");
		return 2;
	}
	o.plan = argv[optind];
	/* --json -: stdout holds the JSON only; the run's table goes to
	 * stderr. */
	if (o.json != NULL && strcmp(o.json, "-") == 0)
		o.out = stderr;
	lab_interrupt_install();
	rc = plan_run(&o, err);
	if (err[0] != '\0')
		cli_fail("plan run: %s", err);
	return lab_interrupted() ? 128 + lab_interrupted() : rc;
}

static int generate_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"steps", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct plan_gen_opts o;
	char err[EKL_ERRLEN] = "", *end;
	bool have_seed = false;
	int opt, rc;

	memset(&o, 0, sizeof(o));
	o.out = stdout;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		unsigned long long v;

		if (opt == 'h') {
			printf("usage: ekulab plan generate --seed S [--nodes "
			       "N] [--steps K]\n"
			       "A random plan with its topology inline, the "
			       "same for the same seed and options:\n"
			       "random versions, roles, certificates, verify "
			       "mode, dial mode and link rule,\n"
			       "then K actions (default 8-16) of every step "
			       "and fault kind, and the\n"
			       "model's predictions as expectations. N: 2-%d "
			       "nodes (default 3 or 4).\n"
			       "  ekulab plan generate --seed 7 > p.yaml && "
			       "ekulab plan run p.yaml\n"
			       "scripts/random-plans.sh runs many seeds.\n",
			       PLAN_GEN_MAX_NODES);
			return 0;
		}
		if (opt != 's' && opt != 'n' && opt != 'k') {
			cli_fail("plan generate: unknown option or missing "
				 "value: %s",
				 argv[optind - 1]);
			return 2;
		}
		errno = 0;
		v = strtoull(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || errno != 0 ||
		    optarg[0] == '-' ||
		    (opt == 'n' && (v < 2 || v > PLAN_GEN_MAX_NODES)) ||
		    (opt == 'k' && (v < 1 || v > PLAN_GEN_MAX_STEPS))) {
			cli_fail("plan generate: %s '%s': %s", argv[optind - 1],
				 optarg,
				 opt == 's'   ? "a number, 0 or more"
				 : opt == 'n' ? "2-8 nodes"
					      : "1-200 actions");
			return 2;
		}
		if (opt == 's') {
			o.seed = v;
			have_seed = true;
		} else if (opt == 'n') {
			o.nodes = (int)v;
		} else {
			o.steps = (int)v;
		}
	}
	if (!have_seed || optind != argc) {
		cli_fail("plan generate: give --seed S (and no other "
			 "argument); see --help");
		return 2;
	}
	rc = plan_generate(&o, err);
	if (rc != 0) {
		cli_fail("plan generate: %s", err);
		return 1;
	}
	return 0;
}

int cmd_plan(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "explore") == 0)
		return explore_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return run_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "generate") == 0)
		return generate_main(argc - 1, argv + 1);
	cli_fail("plan: unknown subcommand '%s'; use check, explore, run or "
		 "generate",
		 argv[1]);
	usage(stderr);
	return 2;
}
