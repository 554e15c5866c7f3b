/* cmd_matrix.c: `ekulab matrix`: the options into the matrix engine's
 * (cli/matrix/matrix.h), one run, errors on stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "matrix/matrix.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab matrix [--json] [--jobs N] [--all]\n"
	    "  Runs every case live (real TLS handshakes on loopback with\n"
	    "  ekunode's TLS code: ClusterDB, every zone service in each\n"
	    "  direction it is dialled, MRA's SIP SERVICE check) and compares\n"
	    "  with the policy model.\n"
	    "  --json   {\"total\", \"disagreements\", \"cases\": [...]}\n"
	    "  --jobs N worker processes (default: number of CPUs)\n"
	    "  --all    list every case in the text output, not only the\n"
	    "           X15.5, edge, zone-edge and disagreeing ones\n"
	    "  Exit 0 when model and handshakes agree on every case, 1 when\n"
	    "  any case disagrees, 2 on usage errors.\n");
}

int cmd_matrix(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"jobs", required_argument, NULL, 'J'},
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[EKL_ERRLEN] = "";
	bool json = false, all = false;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	struct mx_opts o = {0};
	char *end;
	int opt, rv;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'a': all = true; break;
		case 'J':
			jobs = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || jobs < 1 ||
			    jobs > 16) {
				cli_fail("matrix: --jobs '%s': use 1-16",
					 optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail("matrix: unknown option or missing value: %s",
				 argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		cli_fail("matrix: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (jobs < 1)
		jobs = 1;
	o.jobs = (int)jobs;
	o.json = json;
	o.all = all;
	o.out = stdout;
	rv = mx_show(&o, err);
	if (rv == 2)
		cli_fail("matrix: %s", err);
	return rv != 0 ? 1 : 0;
}
