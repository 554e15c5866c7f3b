/* main.c: the ekulab command line: dispatch to a subcommand. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "ekulab/core/version.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
    {"pki", cmd_pki, "lab PKI: init a root and issuing CAs, issue leaves"},
    {"matrix", cmd_matrix,
     "live handshake truth table compared with the policy model"},
    {"ctl", cmd_ctl, "talk to a node's admin socket"},
    {"lab", cmd_lab, "multi-node labs: up, down, status, graph, exec, fault"},
    {"bench", cmd_bench, "replication benchmark on a 3-node loopback cluster"},
    {"audit", cmd_audit,
     "certificate inventory: EKU, roots, expiry, targets, forecast"},
    {"verify-cluster", cmd_verify,
     "do the nodes hold the same configuration rows?"},
    {"plan", cmd_plan,
     "plans: check a plan against the model, explore upgrade orders"},
    {"soak", cmd_soak,
     "random faults on a live lab, then check nothing was lost"},
    {"image", cmd_image,
     "the node image: push it to another host of a swarm (ssh)"},
    {"proxy", cmd_proxy,
     "the lab's link-fault proxy (foreground daemon; control socket)"},
};

void cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ekulab: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ekulab COMMAND [ARGS...]\n"
		   "       ekulab --version | --help | -h\n\n"
		   "Makes Cisco field notice FN74362 (public CAs drop the "
		   "clientAuth EKU) executable:\n"
		   "a lab PKI, the live handshake truth table, node "
		   "administration, multi-node\n"
		   "labs with faults, upgrade plans, a benchmark and a "
		   "certificate audit.\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun 'ekulab COMMAND --help' for a command's options "
		   "('ekulab lab VERB --help',\n'ekulab plan VERB --help' "
		   "for theirs).\n\n"
		   "exit status:\n"
		   "  0  success\n"
		   "  1  the command ran and found a failure (see each "
		   "command)\n"
		   "  2  a usage error\n");
}

int main(int argc, char **argv)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		ekl_version_print(stdout, "ekulab");
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	cli_fail("unknown command '%s'; run 'ekulab --help'", argv[1]);
	return 2;
}
