/* cmd_ctl.c: `ekulab ctl`: send admin commands to a running node. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin_client.h"
#include "cmd.h"
#include "ekulab/err.h"
#include "ekulab/mem.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ekulab ctl --socket PATH [--json] 'COMMAND'\n"
		   "  e.g. ekulab ctl --socket /tmp/n1.sock --json "
		   "'xStatus Cluster'\n"
		   "  'help' lists the node's commands.\n");
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	char err[EKL_ERRLEN];
	bool json = false, ok = false;
	char *body = NULL;
	int opt, fd, rv;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			cli_fail("ctl: unknown option or missing value: %s",
				 argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (sock == NULL) {
		cli_fail("ctl: --socket PATH is required");
		return 2;
	}
	if (optind != argc - 1) {
		cli_fail("ctl: give exactly one COMMAND (quote it)");
		return 2;
	}
	fd = admin_client_connect(sock, err);
	if (fd < 0) {
		cli_fail("ctl: %s", err);
		return 1;
	}
	rv = admin_client_call(fd, json, argv[optind], &ok, &body, err);
	close(fd);
	if (rv != 0) {
		cli_fail("ctl: %s", err);
		return 1;
	}
	if (ok) {
		fputs(body, stdout);
		if (body[0] != '\0' && body[strlen(body) - 1] != '\n')
			fputc('\n', stdout);
	} else {
		cli_fail("ctl: %s", body);
	}
	ekl_free(body);
	return ok ? 0 : 1;
}
