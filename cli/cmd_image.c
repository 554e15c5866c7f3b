/* cmd_image.c: `ekulab image push --to HOST [--image NAME]`: argv into one
 * lab_image_push call, its one line or its error. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "lab/lab_runtime.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ekulab image push --to HOST [--image NAME]\n"
		"\n"
		"Put the node image on another host of a swarm, with no "
		"registry:\n"
		"docker save NAME | ssh HOST docker load, then check that "
		"HOST has\n"
		"the same image id. The image is built offline first when it "
		"is\n"
		"missing or older than the programs (as 'lab up --runtime "
		"docker'\n"
		"does). 'lab up --runtime swarm' checks every placement host "
		"has it.\n"
		"\n"
		"options:\n"
		"  --to HOST      the host (as ssh takes it: NAME or "
		"USER@NAME); needs\n"
		"                 ssh without a password and docker on HOST\n"
		"  --image NAME   the image (default: $EKULAB_IMAGE, else "
		"ekulab-node:latest)\n"
		"\n"
		"environment: EKULAB_SSH another ssh client, EKULAB_DOCKER "
		"another docker\n"
		"client. See docs/docker.md, \"Several hosts\".\n");
}

int cmd_image(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"image", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *to = NULL, *image = NULL;
	struct lab_image_pushed r;
	char err[EKL_ERRLEN];
	int opt;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "push") != 0) {
		cli_fail("image: unknown verb '%s'; the verb is push", argv[1]);
		return 2;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'i': image = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc - 1) {
		cli_fail("image push: unexpected argument '%s'",
			 argv[optind + 1]);
		return 2;
	}
	if (to == NULL) {
		cli_fail("image push: --to HOST is required");
		return 2;
	}
	if (lab_image_push(image, to, &r, err) != 0) {
		cli_fail("image push: %s", err);
		return 1;
	}
	printf("pushed %s (%.19s, %.1f MB) to %s in %.1f s\n", r.image, r.id,
	       (double)r.bytes / 1e6, to, r.seconds);
	return 0;
}
