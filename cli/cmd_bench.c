/* cmd_bench.c: `ekulab bench`: the options into the bench engine's
 * (cli/bench/bench.h), one run, what went wrong on stderr. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cmd.h"
#include "lab/lab_interrupt.h"
#include "ekulab/core/err.h"
#include "lab/lab.h"

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"catchup", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"keep", no_argument, NULL, 'k'},
	    {"writers-only", required_argument, NULL, 'w'},
	    {"snapshot-rows", required_argument, NULL, 'r'},
	    {"value-bytes", required_argument, NULL, 'v'},
	    {"lab", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_opts o;
	char err[EKL_ERRLEN] = "", kept[LAB_PATH_MAX], *end;
	int opt, rv;

	memset(&o, 0, sizeof(o));
	o.seconds = 3;
	o.catchup = 1000000;
	o.value_bytes = 2048;
	o.out = stdout;
	o.progress = stderr;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.seconds = strtod(optarg, &end);
			if (*end != '\0' || o.seconds < 0.2 ||
			    o.seconds > 600) {
				cli_fail("bench: --seconds '%s': 0.2-600",
					 optarg);
				return 2;
			}
			break;
		case 'c':
			o.catchup = strtol(optarg, &end, 10);
			if (*end != '\0' || o.catchup < 1000 ||
			    o.catchup > 3000000) {
				cli_fail("bench: --catchup '%s': 1000-3000000",
					 optarg);
				return 2;
			}
			break;
		case 'r':
			o.snapshot_rows = strtol(optarg, &end, 10);
			if (*end != '\0' || o.snapshot_rows < 1000 ||
			    o.snapshot_rows > 10000000) {
				cli_fail("bench: --snapshot-rows '%s': "
					 "1000-10000000",
					 optarg);
				return 2;
			}
			break;
		case 'v':
			o.value_bytes = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.value_bytes < 16 ||
			    o.value_bytes > 65536) {
				cli_fail("bench: --value-bytes '%s': 16-65536",
					 optarg);
				return 2;
			}
			break;
		case 'l': o.lab = true; break;
		case 'j': o.json = true; break;
		case 'k': o.keep = true; break;
		case 'w': o.writers_only = optarg; break;
		case 'h':
			printf(
			    "usage: ekulab bench [--seconds S] [--catchup N] "
			    "[--json] [--keep]\n"
			    "       ekulab bench --snapshot-rows N "
			    "[--value-bytes B] [--json] [--keep]\n"
			    "       ekulab bench --lab [--json]\n"
			    "  Starts 3 ekunode processes on loopback and "
			    "prints the figures (see docs/benchmarks.md).\n"
			    "  --seconds S  per writer run (default 3)\n"
			    "  --catchup N  changes a stopped peer misses "
			    "(default 1000000)\n"
			    "  --keep       keep the work directory and logs\n"
			    "  --writers-only SOCKET  only the writer runs, "
			    "against the primary\n"
			    "               serving SOCKET\n"
			    "  --snapshot-rows N  instead: a peer misses N "
			    "rows "
			    "and receives them\n"
			    "               as a snapshot (rows/s, peak RSS)\n"
			    "  --value-bytes B  bytes of each of those rows' "
			    "values (default 2048)\n"
			    "  --lab        instead: time `lab up` of 6 nodes "
			    "until the links are up,\n"
			    "               with processes and with "
			    "containers\n");
			return 0;
		default:
			cli_fail("bench: unknown option or missing value: %s",
				 argv[optind - 1]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	lab_interrupt_install();
	rv = bench_run(&o, kept, sizeof(kept), err);
	if (err[0] != '\0')
		cli_fail("bench: %s", err);
	if (rv != 0 && kept[0] != '\0')
		fprintf(stderr, "ekulab: bench: logs kept in %s\n", kept);
	return lab_interrupted() ? 128 + lab_interrupted() : rv;
}
