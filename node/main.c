/* main.c: ekunode entry point: parse the configuration, run the loop. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "config.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/version.h"
#include "node.h"

int main(int argc, char **argv)
{
	struct config cfg;
	struct node node;
	char err[EKL_ERRLEN] = "";
	struct ev_loop *loop;
	int rv;

	signal(SIGPIPE, SIG_IGN);
	/* Alone, --version is ekunode's own; with a value, the version
	 * played. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		ekl_version_print(stdout, "ekunode");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "-h") == 0) {
		config_usage(stdout);
		return 0;
	}
	rv = config_parse(&cfg, argc, argv, err);
	if (rv == EKL_EINVAL && strcmp(err, "help") == 0) {
		config_usage(stdout);
		config_close(&cfg);
		return 0;
	}
	if (rv != 0) {
		fprintf(stderr, "ekunode: %s\n", err);
		config_close(&cfg);
		return 2;
	}
	ekl_log_set_name(cfg.name);
	if (cfg.log_level_set)
		ekl_log_set_level((enum ekl_log_level)cfg.log_level);
	if (cfg.debug)
		ekl_log_set_level(EKL_LOG_DEBUG);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		fprintf(stderr, "ekunode: cannot initialise libev\n");
		config_close(&cfg);
		return 1;
	}
	rv = node_start(&node, loop, &cfg, err);
	if (rv != 0) {
		fprintf(stderr, "ekunode: %s\n", err);
		ev_loop_destroy(loop);
		return 1;
	}
	ev_run(loop, 0);
	node_stop(&node);
	ev_loop_destroy(loop);
	ekl_info("stopped");
	return 0;
}
