/* cmd_soak.c: `ekulab soak TOPOLOGY --faults N --seed S [--json]`: argv
 * into soak options, one soak_run, the summary or the JSON object. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "lab/lab_interrupt.h"
#include "soak/soak.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ekulab soak TOPOLOGY --faults N --seed S [--json] "
		"[--kinds K1,K2...]\n"
		"                   [--state DIR] [--keep] [--dry-run] "
		"[--runtime NAME]\n"
		"Bring the topology up as a lab, write on the primary with "
		"two writers (ack=all\n"
		"and ack=primary), put N random faults on it (every kind the "
		"lab has, at most\n"
		"two at once), heal, then check: every acknowledged write on "
		"every node, no\n"
		"unexpected row, every node on the same digest, no process "
		"left behind.\n"
		"  --faults N   how many faults (1-%ld)\n"
		"  --seed S     the draws (a number); the same seed draws the "
		"same faults\n"
		"  --json       stdout is one JSON object (progress stays on "
		"stderr)\n"
		"  --kinds LIST only these kinds (comma-separated), e.g. "
		"kill,latency,slicer\n"
		"  --state DIR  the lab's state directory (default: a fresh "
		"one under $TMPDIR)\n"
		"  --keep       keep the state directory (logs, databases); a "
		"run that\n"
		"               fails keeps it anyway and says where\n"
		"  --dry-run    print the faults the seed draws; no lab\n"
		"  --runtime NAME  process, docker or swarm (default: "
		"process; docs/docker.md)\n"
		"Kinds: kill pause restart partition down blackhole reset "
		"latency bandwidth\n"
		"slow_close timeout slicer limit_data renew upgrade primary "
		"(docs/testing.md).\n"
		"Exit 0: nothing lost or unexpected, converged; 1: the "
		"checker failed; 2: usage.\n"
		"Ctrl-C or SIGTERM stops everything the soak started.\n",
		SOAK_MAX_FAULTS);
}

/* A whole number in [lo, hi] or false. */
static bool whole(const char *s, long long lo, long long hi, long long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return *end == '\0' && errno == 0 && *out >= lo && *out <= hi;
}

int cmd_soak(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"faults", required_argument, NULL, 'f'},
	    {"seed", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"kinds", required_argument, NULL, 'k'},
	    {"state", required_argument, NULL, 'S'},
	    {"keep", no_argument, NULL, 'K'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct soak_opts o;
	struct soak_result res;
	char err[EKL_ERRLEN] = "";
	bool json = false, have_faults = false, have_seed = false;
	long long v;
	int opt, rv;

	memset(&o, 0, sizeof(o));
	o.progress = stderr;
	o.out = stdout;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!whole(optarg, 1, SOAK_MAX_FAULTS, &v)) {
				cli_fail("soak: --faults '%s': give a number "
					 "of faults from 1 to %ld",
					 optarg, SOAK_MAX_FAULTS);
				return 2;
			}
			o.faults = (long)v;
			have_faults = true;
			break;
		case 's':
			if (!whole(optarg, 0, INT64_MAX, &v)) {
				cli_fail("soak: --seed '%s': give a whole "
					 "number from 0 to %lld (the same seed "
					 "draws the same faults)",
					 optarg, (long long)INT64_MAX);
				return 2;
			}
			o.seed = (uint64_t)v;
			have_seed = true;
			break;
		case 'j': json = true; break;
		case 'k':
			if (soak_kinds_parse(optarg, &o.kinds, err) != 0) {
				cli_fail("soak: %s", err);
				return 2;
			}
			break;
		case 'S': o.state = optarg; break;
		case 'K': o.keep = true; break;
		case 'n': o.dry_run = true; break;
		case 'r': o.runtime = optarg; break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail("soak: unknown option or missing value: %s "
				 "(ekulab soak --help)",
				 argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		cli_fail("soak: give one TOPOLOGY file (ekulab soak --help)");
		return 2;
	}
	if (!have_faults || !have_seed) {
		cli_fail("soak: give --faults N and --seed S (the same seed "
			 "replays the same faults)");
		return 2;
	}
	o.topology = argv[optind];
	if (!o.dry_run)
		lab_interrupt_install();
	rv = soak_run(&o, &res, err);
	if (rv != 0) {
		cli_fail("soak: %s", err);
		if (lab_interrupted())
			return 128 + lab_interrupted();
		return rv == EKL_EINTR ? 130
		       : rv == EKL_EINVAL || rv == EKL_ECONFIG ||
			       rv == EKL_ENOENT
			   ? 2
			   : 1;
	}
	if (o.dry_run)
		return 0;
	soak_summary(&res, json ? stderr : stdout);
	if (json && soak_json(&res, stdout) != 0) {
		cli_fail("soak: out of memory");
		return 1;
	}
	return soak_passed(&res) ? 0 : 1;
}
