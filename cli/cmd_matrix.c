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
	fputs("usage: ekulab matrix [--json] [--jobs N] [--verbose] [--all]\n"
	      "\n"
	      "Run every case live (real TLS handshakes on loopback with "
	      "ekunode's TLS code:\n"
	      "ClusterDB, every zone service in each direction it is "
	      "dialled, MRA's SIP\n"
	      "SERVICE check) and compare each with the policy model. By "
	      "default: the\n"
	      "compact grids, any disagreeing case and a one-line summary; "
	      "progress on\n"
	      "stderr when it is a terminal.\n"
	      "\n"
	      "options:\n"
	      "  --json                {\"total\", \"disagreements\", "
	      "\"cases\": [...]} on stdout\n"
	      "                        (default: text)\n"
	      "  --jobs N              worker processes, 1-16 (default: the "
	      "number of CPUs)\n"
	      "  --verbose             also list the X15.5, edge and zone-edge "
	      "cases (default:\n"
	      "                        the grids and a summary)\n"
	      "  --all                 list every case, the gridded ones too "
	      "(default: off)\n"
	      "  --help, -h            this help\n"
	      "\n"
	      "exit status:\n"
	      "  0  the model and the handshakes agree on every case\n"
	      "  1  a case disagrees, or the run failed\n"
	      "  2  a usage error\n",
	      f);
}

int cmd_matrix(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"jobs", required_argument, NULL, 'J'},
	    {"all", no_argument, NULL, 'a'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[EKL_ERRLEN] = "";
	bool json = false, all = false, verbose = false;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	struct mx_opts o = {0};
	char *end;
	int opt, rv;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'a': all = true; break;
		case 'v': verbose = true; break;
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
	o.verbose = verbose;
	o.progress = isatty(STDERR_FILENO) ? stderr : NULL;
	o.out = stdout;
	rv = mx_show(&o, err);
	if (rv == 2)
		cli_fail("matrix: %s", err);
	return rv != 0 ? 1 : 0;
}
