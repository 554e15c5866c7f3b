/* cmd_lab.c: `ekulab lab up|down|status|graph|exec|fault FILE ...`: the
 * words and options into lab engine calls (cli/lab/), errors on stderr. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/proxy_client.h"
#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/adminproto.h"
#include "lab/lab.h"
#include "lab/lab_fault.h"
#include "lab/lab_graph.h"
#include "lab/lab_interrupt.h"
#include "lab/lab_runtime.h"
#include "lab/lab_status.h"

/* Each verb's --help: its purpose, every flag with its meaning and
 * default, and the exit codes (the man page ekulab(1) is made from
 * these texts: scripts/man.py). */
static const struct {
	const char *verb;
	const char *purpose;
	const char *help;
} verbs[] = {
    {"list", "every lab on this host: topology, runtime, nodes, age",
     "usage: ekulab lab list [--json]\n"
     "\n"
     "List every lab on this host, whatever its runtime or state directory:\n"
     "its name, runtime, nodes running of the total, age, topology file and\n"
     "state directory. Plan runs in progress are listed too. Every lab verb\n"
     "takes a lab's NAME wherever it takes its topology FILE.\n"
     "\n"
     "options:\n"
     "  --json                one JSON object on stdout: {\"labs\": "
     "[{\"name\",\n"
     "                        \"topology\", \"runtime\", \"nodes_running\",\n"
     "                        \"nodes_total\", \"age_s\", \"state\", "
     "\"status\"}]}\n"
     "                        (default: a table)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  listed (also when there is no lab)\n"
     "  1  the labs could not be read\n"
     "  2  a usage error\n"
     "\n"
     "See docs/lab.md.\n"},
    {"up", "bring a lab up and wait until its links agree with the model",
     "usage: ekulab lab up FILE|NAME [--state DIR] [--runtime "
     "process|docker|swarm] "
     "[--no-wait]\n"
     "\n"
     "Bring up the lab of topology FILE: a PKI, one certificate per node, "
     "node\n"
     "configs, the link-fault proxy and every node, then wait until the links\n"
     "agree with the model's prediction.\n"
     "\n"
     "A lab is up until 'lab down'. When up fails it stops everything it "
     "started\n"
     "and keeps the logs in the state directory until the next 'lab up'.\n"
     "\n"
     "options:\n"
     "  --state DIR           the lab's state directory (default:\n"
     "                        $TMPDIR/ekulab-UID/NAME, /tmp when TMPDIR is "
     "unset)\n"
     "  --runtime NAME        process (nodes are local processes), docker\n"
     "                        (one container per node) or swarm (one swarm\n"
     "                        service per node) (default: process)\n"
     "  --no-wait             return as soon as every node answers, without\n"
     "                        waiting for the links (default: wait up to 60 "
     "s)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  up, the links as the model predicts\n"
     "  1  up failed (everything stopped, logs kept), or the links did not "
     "settle\n"
     "     within 60 s (the lab stays up)\n"
     "  2  a usage or topology error\n"
     "  130, 143  interrupted (Ctrl-C, SIGTERM): everything it started "
     "stopped\n"
     "     and its state directory removed\n"
     "\n"
     "See docs/lab.md.\n"},
    {"down", "stop a lab and remove its state directory",
     "usage: ekulab lab down FILE|NAME [--state DIR] [--runtime "
     "process|docker|swarm]\n"
     "\n"
     "Stop every node and the proxy of the lab and remove its state "
     "directory.\n"
     "A lab that is not up is left as it is, and down says so; a lab whose "
     "last\n"
     "'lab up' failed keeps its logs until the next 'lab up'.\n"
     "\n"
     "options:\n"
     "  --state DIR           the lab's state directory (default: the one "
     "'lab\n"
     "                        up' uses for FILE)\n"
     "  --runtime NAME        must match the lab's runtime (default: the "
     "lab's,\n"
     "                        read from its lab.conf)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  down, or it was not up\n"
     "  1  something could not be stopped or removed\n"
     "  2  a usage or topology error\n"
     "\n"
     "See docs/lab.md.\n"},
    {"status",
     "the lab's connections, pairs and replication in the model's terms",
     "usage: ekulab lab status FILE|NAME [--json] [--watch] [--state DIR]\n"
     "                        [--runtime process|docker|swarm]\n"
     "\n"
     "Show a running lab in the model's terms: every directed connection (up, "
     "or\n"
     "the code and the side that refused), the pairs, who replicates, the "
     "faults\n"
     "in force and the live verify modes, each compared with the model's\n"
     "prediction, and a legend.\n"
     "\n"
     "options:\n"
     "  --json                one JSON object on stdout instead of the tables\n"
     "                        (default: text)\n"
     "  --watch               draw it again whenever it changes (faults,\n"
     "                        handshakes, replication lag), checked every "
     "half\n"
     "                        second, until Ctrl-C (default: once)\n"
     "  --state DIR           the lab's state directory (default: the one "
     "'lab\n"
     "                        up' uses for FILE)\n"
     "  --runtime NAME        must match the lab's runtime (default: the "
     "lab's)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  shown (--watch: stopped by Ctrl-C or SIGTERM)\n"
     "  1  the lab is not up (or its last up failed), or a node could not be\n"
     "     asked\n"
     "  2  a usage or topology error\n"
     "\n"
     "See docs/lab.md.\n"},
    {"graph",
     "draw the lab, or the model's prediction of a topology (DOT, SVG, "
     "Mermaid)",
     "usage: ekulab lab graph FILE|NAME|PLAN [--svg OUT.svg] [--dot OUT.dot] "
     "[--mermaid OUT.md|-] [--step N]\n"
     "\n"
     "Draw a lab: its nodes, the directed connections coloured by outcome\n"
     "(green up, red refused with the code, grey not running), who is the\n"
     "primary. A running lab is drawn as observed; a topology that is not up\n"
     "is drawn as the model predicts it, and the picture says so. A\n"
     "deployment (clusters:, externals:, zones:) draws each cluster and\n"
     "external as a group and each zone's services between the groups. A\n"
     "plan file draws its topology as predicted before its first step, or\n"
     "after step N with --step N. With none of --svg, --dot, --mermaid the\n"
     "DOT text goes to stdout.\n"
     "\n"
     "options:\n"
     "  --svg FILE            write an SVG picture to FILE (default: none)\n"
     "  --dot FILE            write Graphviz DOT to FILE (default: stdout "
     "when\n"
     "                        no other format is asked for)\n"
     "  --mermaid FILE|-      write a Mermaid flowchart (for Markdown pages) "
     "to\n"
     "                        FILE, or to stdout with - (default: none)\n"
     "  --step N              a plan: draw the state after its step N (0: "
     "before\n"
     "                        the first; default 0)\n"
     "  --state DIR           the lab's state directory (default: the one "
     "'lab\n"
     "                        up' uses for FILE)\n"
     "  --runtime NAME        must match the lab's runtime (default: the "
     "lab's)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  drawn (observed, or predicted when the lab is not up)\n"
     "  1  a node could not be asked, or a file could not be written\n"
     "  2  a usage or topology error\n"
     "\n"
     "See docs/lab.md.\n"},
    {"exec", "send one admin command to a node of the lab",
     "usage: ekulab lab exec FILE|NAME NODE [--json] [--ack primary|all] "
     "'COMMAND'\n"
     "\n"
     "Send one admin command to NODE of the lab, as 'ekulab ctl' does, and "
     "print\n"
     "the answer: an answer to stdout, an error to stderr.\n"
     "\n"
     "options:\n"
     "  --json                ask for the JSON body (with --json stdout holds\n"
     "                        JSON only) (default: text)\n"
     "  --ack primary|all     a write returns once durable on the primary\n"
     "                        (primary) or once every linked peer applied it\n"
     "                        (all) (default: primary)\n"
     "  --state DIR           the lab's state directory (default: the one "
     "'lab\n"
     "                        up' uses for FILE)\n"
     "  --runtime NAME        must match the lab's runtime (default: the "
     "lab's)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  the node answered ok\n"
     "  1  the node answered with an error, or could not be reached\n"
     "  2  a usage error (unknown node, no COMMAND)\n"
     "\n"
     "See docs/node.md for the commands.\n"},
    {"fault",
     "break the lab on purpose (node, link and partition faults), heal it",
     "usage: ekulab lab fault FILE|NAME FAULT [ARGS] [--name NAME] [options]\n"
     "\n"
     "Break a running lab on purpose, or heal it. FAULT is one of:\n"
     "  kill NODE | pause NODE | resume NODE | restart NODE\n"
     "  upgrade NODE VERSION\n"
     "  renew NODE PROFILE [--ca CA] [--force]\n"
     "  verify enforce|permissive [NODE]\n"
     "  down|blackhole|reset A B [--one-way]\n"
     "  latency A B --ms N [--jitter N] [--one-way]\n"
     "  bandwidth A B --rate BYTES_PER_S [--one-way]\n"
     "  slow_close A B --ms N [--one-way]\n"
     "  timeout A B --ms N [--one-way]\n"
     "  slicer A B --average-size N [--size-variation N] [--delay-us N]\n"
     "         [--one-way]\n"
     "  limit_data A B --bytes N [--one-way]\n"
     "  partition isolate NODE | halves | ring | bridge NODE | one-way FROM "
     "TO\n"
     "  list [--json] | heal NAME|all\n"
     "\n"
     "options:\n"
     "  --name NAME           the fault's name, for heal (default: KIND-N)\n"
     "  --ca CA               renew: the issuing CA, unrestricted, "
     "server-only\n"
     "                        or combined (default: the node's current CA)\n"
     "  --force               renew: put a certificate the node's upload rule\n"
     "                        refuses in place anyway, as an SCP copy would\n"
     "                        (default: refuse, as the node's web UI does)\n"
     "  --one-way             link faults: only A -> B (default: both\n"
     "                        directions)\n"
     "  --ms N                latency: added delay in milliseconds (required)\n"
     "  --jitter N            latency: random extra delay up to N ms (default: "
     "0)\n"
     "  --rate BYTES_PER_S    bandwidth: the limit (required)\n"
     "  --ms N                slow_close: delay before the close is passed\n"
     "                        on; timeout: stop passing data and close after\n"
     "                        N ms (0: never closed) (required)\n"
     "  --average-size N      slicer: average piece size in bytes (required)\n"
     "  --size-variation N    slicer: random variation of a piece (default: "
     "0)\n"
     "  --delay-us N          slicer: delay between pieces in microseconds\n"
     "                        (default: 0)\n"
     "  --bytes N             limit_data: close after N bytes (required)\n"
     "  --direction D         link faults: both, upstream (A -> B) or\n"
     "                        downstream (B -> A) data (default: both)\n"
     "  --toxicity P          link faults: the share of connections the fault\n"
     "                        acts on, 0 to 1 (default: 1)\n"
     "  --json                list: one JSON object (default: text)\n"
     "  --state DIR           the lab's state directory (default: the one "
     "'lab\n"
     "                        up' uses for FILE)\n"
     "  --runtime NAME        must match the lab's runtime (default: the "
     "lab's)\n"
     "  --help, -h            this help\n"
     "\n"
     "exit status:\n"
     "  0  done (the fault's name is printed)\n"
     "  1  the lab is not up, or the fault could not be applied\n"
     "  2  a usage error, an unknown node, or a renewal the node's upload "
     "rule\n"
     "     refuses (without --force)\n"
     "\n"
     "See docs/faults.md.\n"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: ekulab lab VERB FILE|NAME [ARGS...] [options]\n"
		"       ekulab lab list [--json]\n\n"
		"Multi-node labs: a cluster described by a topology file "
		"(docs/lab.md),\nrun as processes or containers. NAME is the "
		"name of a lab on this host\n(lab list) instead of its "
		"topology FILE.\n\n"
		"verbs:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].verb, verbs[i].purpose);
	fprintf(f, "\nRun 'ekulab lab VERB --help' for a verb's options and "
		   "exit codes.\n");
}

static const char *list_status(const struct lab_entry *e)
{
	if (e->up_failed)
		return "failed";
	if (e->running < 0)
		return "unknown";
	if (e->running == 0)
		return "down";
	return e->running == e->total ? "up" : "partial";
}

static void age_text(long s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%lds", s);
	else if (s < 7200)
		snprintf(buf, len, "%ldm", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%ldh", s / 3600);
	else
		snprintf(buf, len, "%ldd", s / 86400);
}

static int list_main(bool json)
{
	char err[EKL_ERRLEN];
	struct lab_entry *e;
	size_t n, i;

	if (lab_list(&e, &n, err) != 0) {
		cli_fail("lab list: %s", err);
		return 1;
	}
	if (json) {
		struct json j;
		const char *s;

		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "labs");
		json_arr_begin(&j);
		for (i = 0; i < n; i++) {
			json_obj_begin(&j);
			json_key(&j, "name");
			json_str(&j, e[i].name);
			json_key(&j, "topology");
			json_str(&j, e[i].topology);
			json_key(&j, "runtime");
			json_str(&j, e[i].runtime);
			json_key(&j, "nodes_running");
			if (e[i].running >= 0)
				json_int(&j, e[i].running);
			else
				json_null(&j);
			json_key(&j, "nodes_total");
			json_int(&j, e[i].total);
			json_key(&j, "age_s");
			json_int(&j, e[i].age_s);
			json_key(&j, "state");
			json_str(&j, e[i].state);
			json_key(&j, "status");
			json_str(&j, list_status(&e[i]));
			json_key(&j, "plan_run");
			json_bool(&j, e[i].plan_run);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		s = json_finish(&j);
		if (s != NULL)
			printf("%s\n", s);
		json_close(&j);
		ekl_free(e);
		if (s == NULL) {
			cli_fail("lab list: out of memory");
			return 1;
		}
		return 0;
	}
	if (n == 0)
		printf("no labs on this host\n");
	else
		printf("%-20s %-8s %-7s %-8s %-5s %s\n", "NAME", "RUNTIME",
		       "NODES", "STATUS", "AGE", "TOPOLOGY (STATE)");
	for (i = 0; i < n; i++) {
		char nodes[24], age[32];

		if (e[i].running >= 0)
			snprintf(nodes, sizeof(nodes), "%d/%d", e[i].running,
				 e[i].total);
		else
			snprintf(nodes, sizeof(nodes), "?/%d", e[i].total);
		age_text(e[i].age_s, age, sizeof(age));
		printf("%-20s %-8s %-7s %-8s %-5s %s (%s)\n", e[i].name,
		       e[i].runtime, nodes, list_status(&e[i]), age,
		       e[i].topology, e[i].state);
	}
	ekl_free(e);
	return 0;
}

/* The verb's help, or NULL for an unknown verb. */
static const char *verb_help(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].verb, verb) == 0)
			return verbs[i].help;
	return NULL;
}

struct opts {
	const char *state;
	const char *runtime;
	const char *name;
	const char *svg;
	const char *dot;
	const char *mermaid;
	const char *ca;
	const char *ack; /* exec: primary|all */
	bool json;
	bool force;
	bool one_way;
	bool no_wait;
	bool watch;
	long ms;
	bool ms_set;
	long jitter;
	long rate;
	long long bytes;
	bool bytes_set;
	long average_size;
	long size_variation;
	long delay_us;
	const char *direction;
	double toxicity;
	bool toxicity_set;
	long step; /* graph: a plan's state after this step; -1 not given */
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"name", required_argument, NULL, 'n'},
	    {"svg", required_argument, NULL, 'S'},
	    {"dot", required_argument, NULL, 'D'},
	    {"mermaid", required_argument, NULL, 'M'},
	    {"ca", required_argument, NULL, 'c'},
	    {"ack", required_argument, NULL, 'K'},
	    {"json", no_argument, NULL, 'j'},
	    {"force", no_argument, NULL, 'f'},
	    {"one-way", no_argument, NULL, 'o'},
	    {"no-wait", no_argument, NULL, 'W'},
	    {"watch", no_argument, NULL, 'w'},
	    {"ms", required_argument, NULL, 'm'},
	    {"jitter", required_argument, NULL, 'J'},
	    {"rate", required_argument, NULL, 'R'},
	    {"bytes", required_argument, NULL, 'B'},
	    {"average-size", required_argument, NULL, 'A'},
	    {"size-variation", required_argument, NULL, 'V'},
	    {"delay-us", required_argument, NULL, 'U'},
	    {"direction", required_argument, NULL, 'd'},
	    {"toxicity", required_argument, NULL, 't'},
	    {"step", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long *num;
	int opt;

	memset(o, 0, sizeof(*o));
	o->runtime = NULL; /* up: process; others: the lab's */
	o->step = -1;
	optind = 1;
	opterr = 0;
	/* GNU getopt permutes: options may follow the positional words. */
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': o->state = optarg; break;
		case 'r': o->runtime = optarg; break;
		case 'n': o->name = optarg; break;
		case 'S': o->svg = optarg; break;
		case 'D': o->dot = optarg; break;
		case 'M': o->mermaid = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'K':
			if (strcmp(optarg, "primary") != 0 &&
			    strcmp(optarg, "all") != 0) {
				cli_fail("lab: --ack '%s': use primary or all",
					 optarg);
				return 2;
			}
			o->ack = optarg;
			break;
		case 'j': o->json = true; break;
		case 'f': o->force = true; break;
		case 'o': o->one_way = true; break;
		case 'W': o->no_wait = true; break;
		case 'w': o->watch = true; break;
		case 'd': o->direction = optarg; break;
		case 'P':
			o->step = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    o->step > 100000) {
				cli_fail("lab: --step '%s': a step number (0: "
					 "before the first step)",
					 optarg);
				return 2;
			}
			break;
		case 't':
			o->toxicity = strtod(optarg, &end);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    !(o->toxicity >= 0 && o->toxicity <= 1)) {
				cli_fail("lab: --toxicity '%s': a probability "
					 "from 0 to 1 (the share of "
					 "connections the fault acts on)",
					 optarg);
				return 2;
			}
			o->toxicity_set = true;
			break;
		case 'B':
			o->bytes = strtoll(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    o->bytes < 0) {
				cli_fail("lab: --bytes '%s': a non-negative "
					 "number",
					 optarg);
				return 2;
			}
			o->bytes_set = true;
			break;
		case 'm':
		case 'J':
		case 'R':
		case 'A':
		case 'V':
		case 'U':
			num = opt == 'm'   ? &o->ms
			      : opt == 'J' ? &o->jitter
			      : opt == 'R' ? &o->rate
			      : opt == 'A' ? &o->average_size
			      : opt == 'V' ? &o->size_variation
					   : &o->delay_us;
			o->ms_set |= opt == 'm';
			*num = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || *num < 0 ||
			    *num > 1000000000) {
				cli_fail("lab: %s '%s': a non-negative number",
					 argv[optind - 1], optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 1; /* unknown verb */
		default:
			cli_fail("lab: unknown option or missing value: %s",
				 argv[optind - 1]);
			return 2;
		}
	}
	if (o->name != NULL && !topo_name_valid(o->name)) {
		cli_fail("lab: --name '%s': use letters, digits, '.', '_', '-'",
			 o->name);
		return 2;
	}
	return 0;
}

/* How long `lab up` waits for the links to agree with the model. */
#define UP_SETTLE_SECONDS 60.0

static int up_main(struct lab *l, const struct opts *o)
{
	char err[EKL_ERRLEN];
	int rv;

	lab_interrupt_install();
	rv =
	    lab_up_wait(l, o->runtime, o->no_wait ? 0 : UP_SETTLE_SECONDS, err);
	if (rv == 0 || rv == EKL_ETIMEDOUT) {
		printf("lab %s is up: %zu nodes%s (%s runtime), state in "
		       "%s%s\n",
		       l->topo.name, l->topo.n_nodes,
		       l->topo.n_externals == 0	  ? ""
		       : l->topo.n_externals == 1 ? " and 1 external"
						  : " and externals",
		       l->rt->name, l->state,
		       o->no_wait ? ""
		       : rv == 0
			   ? (l->topo.n_zones > 0
				  ? "; links and zone services settled as the "
				    "model predicts"
				  : "; links settled as the model predicts")
			   : "");
		if (rv == 0)
			return 0;
		cli_fail("lab up: %s; the lab stays up: see 'ekulab lab "
			 "status %s'",
			 err, l->topo_path);
		return 1;
	}
	if (rv == EKL_EINTR) {
		fprintf(stderr,
			"ekulab: lab up: %s; stopped every node and the "
			"proxy it started and removed %s\n",
			err, l->state);
		return 128 + lab_interrupted();
	}
	cli_fail("lab up: %s", err);
	/* Refused before anything was made (a runtime that cannot run this
	 * topology, a bad certificate key): no logs to point at. */
	if (rv != EKL_EEXIST && l->rt != NULL && access(l->state, F_OK) == 0)
		fprintf(stderr,
			"ekulab: lab up: stopped everything it "
			"started; its logs stay in %s until the next "
			"'lab up'\n",
			l->state);
	return 1;
}

static int down_main(struct lab *l)
{
	char err[EKL_ERRLEN];

	int rv = lab_down(l, err);

	if (rv == EKL_ENOENT) {
		printf("%s\n", err);
		return 0;
	}
	if (rv != 0) {
		cli_fail("lab down: %s", err);
		return 1;
	}
	printf("lab %s is down\n", l->topo.name);
	return 0;
}

/* `lab status --watch`: the status again every half second, drawn anew
 * (the screen cleared on a terminal; otherwise each new frame after a
 * "--- HH:MM:SS" line) whenever it changed, until Ctrl-C or SIGTERM. */
static int watch_main(struct lab *l, const struct opts *o)
{
	bool tty = isatty(STDOUT_FILENO);
	char err[EKL_ERRLEN], *prev = NULL;

	lab_interrupt_install();
	while (!lab_interrupted()) {
		struct lab_status s;
		char *buf = NULL, when[16];
		size_t len = 0;
		time_t now = time(NULL);
		FILE *m = open_memstream(&buf, &len);

		if (m == NULL) {
			cli_fail("lab status --watch: out of memory");
			free(prev);
			return 1;
		}
		memset(&s, 0, sizeof(s));
		l->n_faults = 0; /* lab_load adds the faults in force */
		if (lab_up_failed(l))
			fprintf(m,
				"lab %s is not up: its last 'lab up' failed\n",
				l->topo.name);
		else if (lab_load(l, err) != 0 ||
			 lab_status_collect(l, &s, err) != 0)
			fprintf(m, "lab %s: %s\n", l->topo.name, err);
		else
			lab_status_fprint(l, &s, o->json, m);
		lab_status_free(&s);
		fclose(m);
		if (buf != NULL && (prev == NULL || strcmp(prev, buf) != 0)) {
			strftime(when, sizeof(when), "%H:%M:%S",
				 localtime(&now));
			if (tty)
				printf("\033[H\033[2J%s  (lab status --watch; "
				       "Ctrl-C stops)\n%s",
				       when, buf);
			else
				printf("--- %s\n%s", when, buf);
			fflush(stdout);
			free(prev);
			prev = buf;
		} else {
			free(buf);
		}
		(void)lab_sleep(0.5);
	}
	free(prev);
	return 0;
}

static int lab_status(struct lab *l, const struct opts *o, bool graph)
{
	char err[EKL_ERRLEN];
	struct lab_status s;
	int rv = 0, lr = 0;

	memset(&s, 0, sizeof(s));
	if (graph &&
	    (lab_up_failed(l) || (lr = lab_load(l, err)) == EKL_ENOENT)) {
		/* Not up: draw what the model predicts for the topology. */
		fprintf(stderr,
			"ekulab: lab graph: lab %s is not up: drawing the "
			"model's prediction for %s\n",
			l->topo.name, l->topo_path);
		if (lab_status_predicted(l, &s, err) != 0) {
			cli_fail("lab graph: %s", err);
			lab_status_free(&s);
			return 1;
		}
	} else if (lab_up_failed(l)) {
		cli_fail("lab: lab %s is not up: its last 'lab up' failed; "
			 "its logs are in %s",
			 l->topo.name, l->state);
		return 1;
	} else if ((!graph && lab_load(l, err) != 0) || lr != 0 ||
		   lab_status_collect(l, &s, err) != 0) {
		cli_fail("lab: %s", err);
		lab_status_free(&s);
		return 1;
	}
	if (!graph && o->watch) {
		lab_status_free(&s);
		return watch_main(l, o);
	} else if (!graph) {
		lab_status_print(l, &s, o->json);
	} else if (o->svg == NULL && o->dot == NULL && o->mermaid == NULL) {
		lab_status_dot(l, &s, stdout);
	} else {
		const char *paths[3] = {o->dot, o->svg, o->mermaid};
		int k;

		for (k = 0; k < 3; k++) {
			bool out =
			    paths[k] != NULL && strcmp(paths[k], "-") == 0;
			FILE *f;

			if (paths[k] == NULL)
				continue;
			f = out ? stdout : fopen(paths[k], "w");
			if (f == NULL) {
				cli_fail("lab graph: %s: %s", paths[k],
					 strerror(errno));
				rv = 1;
				continue;
			}
			if (k == 0)
				lab_status_dot(l, &s, f);
			else if (k == 1)
				lab_status_svg(l, &s, f);
			else
				lab_status_mermaid(l, &s, f);
			if (!out) {
				fclose(f);
				fprintf(stderr, "wrote %s\n", paths[k]);
			}
		}
	}
	lab_status_free(&s);
	return rv;
}

static int lab_exec(struct lab *l, const struct opts *o, int argc, char **argv)
{
	char err[EKL_ERRLEN], *body = NULL, pfx[ADMINPROTO_PREFIX_MAX + 1];
	struct adminproto_opts ao;
	bool ok = false;
	int i;

	if (argc != 2) {
		cli_fail("lab exec: give NODE and one quoted COMMAND");
		return 2;
	}
	if (lab_load(l, err) != 0) {
		cli_fail("lab exec: %s", err);
		return 1;
	}
	i = lab_node_index(l, argv[0]);
	if (i < 0) {
		cli_fail("lab exec: no node '%s' in %s", argv[0], l->topo_path);
		return 2;
	}
	ao.format = o->json ? ADMINPROTO_JSON : ADMINPROTO_TEXT;
	ao.ack_all = o->ack != NULL && strcmp(o->ack, "all") == 0;
	ao.timeout_ms = 0;
	adminproto_prefix_format(&ao, pfx, sizeof(pfx));
	if (lab_ask(l, i, pfx, argv[1], &ok, &body, err) != 0) {
		cli_fail("lab exec: %s: %s", argv[0], err);
		return 1;
	}
	fputs(body, ok ? stdout : stderr);
	if (body[0] && body[strlen(body) - 1] != '\n')
		fputc('\n', ok ? stdout : stderr);
	ekl_free(body);
	return ok ? 0 : 1;
}

static int node_arg(struct lab *l, const char *name)
{
	int i = lab_node_index(l, name);

	if (i < 0)
		cli_fail("lab fault: no node '%s' in %s", name, l->topo_path);
	return i;
}

static bool is_link_kind(const char *k)
{
	static const char *const kinds[] = {
	    "down",	  "blackhole", "reset",	 "latency",    "bandwidth",
	    "slow_close", "timeout",   "slicer", "limit_data", NULL};
	size_t i;

	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(k, kinds[i]) == 0)
			return true;
	return false;
}

/* The proxy parameters of link fault `kind` from the options, or 2 with
 * the reason printed. */
static int link_params(const char *kind, const struct opts *o, char *buf,
		       size_t len)
{
	struct proxy_fault_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.kind = kind;
	if ((strcmp(kind, "latency") == 0 || strcmp(kind, "slow_close") == 0) &&
	    o->ms <= 0) {
		cli_fail("lab fault %s: --ms N is needed", kind);
		return 2;
	}
	if (strcmp(kind, "timeout") == 0 && !o->ms_set) {
		cli_fail("lab fault timeout: --ms N is needed (0: the "
			 "connections are never closed)");
		return 2;
	}
	if (strcmp(kind, "bandwidth") == 0 && o->rate <= 0) {
		cli_fail("lab fault bandwidth: --rate BYTES_PER_S is needed");
		return 2;
	}
	if (strcmp(kind, "slicer") == 0 && o->average_size <= 0) {
		cli_fail("lab fault slicer: --average-size N (bytes, 1 or "
			 "more) is needed");
		return 2;
	}
	if (strcmp(kind, "limit_data") == 0 && !o->bytes_set) {
		cli_fail("lab fault limit_data: --bytes N is needed");
		return 2;
	}
	if (o->direction != NULL && strcmp(o->direction, "both") != 0 &&
	    strcmp(o->direction, "upstream") != 0 &&
	    strcmp(o->direction, "downstream") != 0) {
		cli_fail("lab fault %s: --direction is both, upstream (what "
			 "the dialling node sends) or downstream (what it "
			 "gets back)",
			 kind);
		return 2;
	}
	spec.ms = (unsigned)o->ms;
	spec.jitter_ms = (unsigned)o->jitter;
	spec.rate = (unsigned long long)o->rate;
	spec.bytes = (unsigned long long)o->bytes;
	spec.average_size = (unsigned)o->average_size;
	spec.size_variation = (unsigned)o->size_variation;
	spec.delay_us = (unsigned)o->delay_us;
	spec.direction = o->direction;
	spec.has_toxicity = o->toxicity_set;
	spec.toxicity = o->toxicity;
	if (proxy_fault_params(&spec, buf, len) != 0) {
		cli_fail("lab fault %s: bad parameters", kind);
		return 2;
	}
	return 0;
}

static int lab_fault(struct lab *l, const struct opts *o, int argc, char **argv)
{
	char err[EKL_ERRLEN] = "", name[64], params[256] = "";
	const char *kind;
	int rv = 0, a = -1, b = -1;

	if (argc < 1) {
		fputs(verb_help("fault"), stderr);
		return 2;
	}
	if (lab_load(l, err) != 0) {
		cli_fail("lab fault: %s", err);
		return 1;
	}
	kind = argv[0];
	if (o->name != NULL)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		lab_fault_name(l, kind, name, sizeof(name));
	if (strcmp(kind, "list") == 0) {
		rv = lab_fault_list(l, o->json, stdout, err);
	} else if (strcmp(kind, "heal") == 0) {
		if (argc != 2) {
			cli_fail("lab fault heal: give a fault NAME or all");
			return 2;
		}
		rv = lab_fault_heal(l, argv[1], err);
	} else if (strcmp(kind, "kill") == 0 || strcmp(kind, "pause") == 0 ||
		   strcmp(kind, "resume") == 0 ||
		   strcmp(kind, "restart") == 0) {
		if (argc != 2 || (a = node_arg(l, argv[1])) < 0)
			return 2;
		if (strcmp(kind, "kill") == 0)
			rv = lab_fault_kill(l, a, name, err);
		else if (strcmp(kind, "pause") == 0)
			rv = lab_fault_pause(l, a, name, err);
		else if (strcmp(kind, "resume") == 0)
			rv = lab_fault_resume(l, a, err);
		else
			rv = lab_fault_restart(l, a, err);
	} else if (strcmp(kind, "upgrade") == 0) {
		if (argc != 3 || (a = node_arg(l, argv[1])) < 0)
			return 2;
		rv = lab_fault_upgrade(l, a, argv[2], err);
	} else if (strcmp(kind, "renew") == 0) {
		enum pki_profile p;
		enum pki_ca ca = PKI_CA_UNRESTRICTED;

		if (argc != 3 || (a = node_arg(l, argv[1])) < 0)
			return 2;
		ca = l->nodes[a].ca;
		if (pki_profile_parse(argv[2], &p) != 0 ||
		    (o->ca != NULL && pki_ca_parse(o->ca, &ca) != 0)) {
			cli_fail("lab fault renew: profile is one of combined, "
				 "server-only, client-only, no-eku, any-eku; "
				 "--ca one of unrestricted, server-only, "
				 "combined");
			return 2;
		}
		rv = lab_fault_renew(l, a, p, ca, o->force, err);
	} else if (strcmp(kind, "verify") == 0) {
		enum pol_mode m;

		if (argc < 2 || argc > 3 || pol_mode_parse(argv[1], &m) != 0) {
			cli_fail("lab fault verify: enforce|permissive [NODE]");
			return 2;
		}
		if (argc == 3 && (a = node_arg(l, argv[2])) < 0)
			return 2;
		rv = lab_fault_verify(l, m, a, err);
	} else if (is_link_kind(kind)) {
		int from[2], to[2];

		if (argc != 3 || (a = node_arg(l, argv[1])) < 0 ||
		    (b = node_arg(l, argv[2])) < 0 || a == b) {
			cli_fail("lab fault %s: give two different nodes A B",
				 kind);
			return 2;
		}
		if (link_params(kind, o, params, sizeof(params)) != 0)
			return 2;
		from[0] = a;
		to[0] = b;
		from[1] = b;
		to[1] = a;
		rv = lab_fault_links(l, name, kind, from, to,
				     o->one_way ? 1 : 2, params, err);
	} else if (strcmp(kind, "partition") == 0) {
		rv = lab_fault_partition(l, name, argc - 1, argv + 1, err);
		if (rv == EKL_EINVAL && err[0] == '\0')
			return 2;
	} else {
		cli_fail("lab fault: unknown fault '%s'", kind);
		fputs(verb_help("fault"), stderr);
		return 2;
	}
	if (rv != 0) {
		cli_fail("lab fault %s: %s", kind, err);
		return rv == EKL_EINVAL || rv == EKL_EPERM ? 2 : 1;
	}
	if (strcmp(kind, "list") != 0)
		printf("%s: %s\n", kind,
		       strcmp(kind, "heal") == 0 ||
			       strcmp(kind, "resume") == 0 ||
			       strcmp(kind, "restart") == 0 ||
			       strcmp(kind, "upgrade") == 0 ||
			       strcmp(kind, "renew") == 0 ||
			       strcmp(kind, "verify") == 0
			   ? "done"
			   : name);
	return 0;
}

int cmd_lab(int argc, char **argv)
{
	char err[EKL_ERRLEN];
	struct opts o;
	struct lab l;
	char topo[LAB_PATH_MAX * 2], state[LAB_PATH_MAX] = "";
	const char *sub;
	int rv, i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	for (i = 2; i < argc && verb_help(sub) != NULL; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(verb_help(sub), stdout);
			return 0;
		}
	rv = parse_opts(argc - 1, argv + 1, &o);
	if (rv != 0)
		return rv == 1 ? 0 : rv;
	argc -= 1 + optind;
	argv += 1 + optind;
	if (strcmp(sub, "list") == 0) {
		if (argc != 0) {
			cli_fail("lab list takes no FILE; see 'ekulab lab list "
				 "--help'");
			return 2;
		}
		return list_main(o.json);
	}
	if (argc < 1) {
		cli_fail("lab %s: give the topology FILE or a lab's NAME", sub);
		return 2;
	}
	if (strcmp(sub, "graph") == 0 && argc == 1) {
		/* A plan, or a deployment that is not up: the model's
		 * prediction (lab_graph.c); else the lab, below. */
		struct lab_graph_opts go = {o.dot, o.svg, o.mermaid, o.step,
					    o.state};

		rv = lab_graph_offline(argv[0], &go);
		if (rv >= 0)
			return rv;
	} else if (o.step >= 0) {
		cli_fail("lab %s: --step is for lab graph of a plan", sub);
		return 2;
	}
	if (lab_resolve(argv[0], topo, sizeof(topo), state, sizeof(state),
			err) != 0) {
		cli_fail("lab %s: %s", sub, err);
		return 2;
	}
	if (o.state == NULL && state[0] != '\0')
		o.state = state;
	if (lab_open(&l, topo, o.state, err) != 0) {
		cli_fail("lab %s: %s", sub, err);
		return 2;
	}
	argc--;
	argv++;
	if (o.runtime != NULL && strcmp(sub, "up") != 0 &&
	    (l.rt = lab_runtime_find(o.runtime)) == NULL) {
		cli_fail("lab %s: unknown runtime '%s'; use process, docker or "
			 "swarm",
			 sub, o.runtime);
		lab_close(&l);
		return 2;
	}
	if (strcmp(sub, "up") == 0)
		rv = argc == 0 ? up_main(&l, &o) : 2;
	else if (strcmp(sub, "down") == 0)
		rv = argc == 0 ? down_main(&l) : 2;
	else if (strcmp(sub, "status") == 0)
		rv = argc == 0 ? lab_status(&l, &o, false) : 2;
	else if (strcmp(sub, "graph") == 0)
		rv = argc == 0 ? lab_status(&l, &o, true) : 2;
	else if (strcmp(sub, "exec") == 0)
		rv = lab_exec(&l, &o, argc, argv);
	else if (strcmp(sub, "fault") == 0)
		rv = lab_fault(&l, &o, argc, argv);
	else {
		cli_fail("lab: unknown subcommand '%s'", sub);
		usage(stderr);
		rv = 2;
	}
	lab_close(&l);
	return rv;
}
