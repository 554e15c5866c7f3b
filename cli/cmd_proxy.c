/* cmd_proxy.c: `ekulab proxy`: run the lab's link-fault proxy in the
 * foreground. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "proxy/proxy.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab proxy --control PATH --route FROM>TO=LISTEN,TARGET\n"
	    "                    [--route ...] [--log FILE] [--debug]\n"
	    "\n"
	    "Forwards each route's TCP connections from LISTEN to TARGET "
	    "(the\n"
	    "node TO's real listen address; a NAME:PORT is looked up again "
	    "at\n"
	    "each connection) and applies the link faults added\n"
	    "on the control socket (Unix, 0600; the admin protocol of "
	    "ekunode,\n"
	    "so 'ekulab ctl --socket PATH COMMAND' talks to it):\n"
	    "  routes\n"
	    "  fault add NAME KIND ROUTES [KEY=VALUE...]   ROUTES: "
	    "A>B[,C>D...] or *\n"
	    "      KIND: down | blackhole | reset | latency ms=N "
	    "[jitter=N]\n"
	    "            | bandwidth rate=BYTES_PER_S | slow_close ms=N\n"
	    "            | timeout ms=N (0: never closes)\n"
	    "            | slicer average_size=N [size_variation=N] "
	    "[delay_us=N]\n"
	    "            | limit_data bytes=N\n"
	    "      any kind: [direction=both|upstream|downstream] "
	    "[toxicity=0-1]\n"
	    "  fault list\n"
	    "  fault remove NAME | fault remove all\n"
	    "The control socket appears once every route listens. "
	    "SIGTERM or\n"
	    "SIGINT closes everything, removes the socket and exits 0.\n"
	    "--log FILE appends the log there instead of stderr. See "
	    "docs/faults.md.\n");
}

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	ekl_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* Send stderr (the log) to path; the old stderr stays reachable through
 * *saved so start-up errors still reach whoever started us. */
static int redirect_log(const char *path, int *saved, char *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return ekl_errf(err, EKL_ECONFIG, "--log %s: %s", path,
				strerror(errno));
	*saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (*saved < 0 || dup2(fd, 2) < 0) {
		int e = errno;

		close(fd);
		return ekl_errf(err, EKL_EIO, "--log %s: %s", path,
				strerror(e));
	}
	close(fd);
	return 0;
}

int cmd_proxy(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"control", required_argument, NULL, 'c'},
	    {"route", required_argument, NULL, 'r'},
	    {"log", required_argument, NULL, 'l'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *control = NULL, *logfile = NULL;
	const char **routes = NULL;
	char err[EKL_ERRLEN] = "";
	struct ev_loop *loop = NULL;
	struct proxy *p = NULL;
	ev_signal sigterm, sigint;
	int n_routes = 0, saved_stderr = -1, status = 1, opt, i;

	routes = ekl_calloc((size_t)argc + 1, sizeof(*routes));
	if (routes == NULL) {
		cli_fail("out of memory");
		return 1;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': control = optarg; break;
		case 'r': routes[n_routes++] = optarg; break;
		case 'l': logfile = optarg; break;
		case 'd': ekl_log_set_level(EKL_LOG_DEBUG); break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (optind < argc) {
		cli_fail("proxy: unexpected argument '%s'", argv[optind]);
		status = 2;
		goto out;
	}
	if (control == NULL) {
		cli_fail("proxy: --control PATH is required (the control "
			 "socket)");
		status = 2;
		goto out;
	}
	ekl_log_set_name("proxy");
	if (logfile != NULL && redirect_log(logfile, &saved_stderr, err) != 0) {
		cli_fail("proxy: %s", err);
		goto out;
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		snprintf(err, sizeof(err), "cannot initialise libev");
		goto fail;
	}
	if (proxy_new(loop, &p, err) != 0)
		goto fail;
	for (i = 0; i < n_routes; i++)
		if (proxy_add_route(p, routes[i], err) != 0)
			goto fail;
	if (n_routes == 0)
		ekl_warn("no --route given: nothing to forward");
	if (proxy_control_start(p, control, err) != 0)
		goto fail;
	ev_signal_init(&sigterm, on_stop, SIGTERM);
	ev_signal_start(loop, &sigterm);
	ev_signal_init(&sigint, on_stop, SIGINT);
	ev_signal_start(loop, &sigint);
	ekl_info("ready: %d routes, control socket %s", n_routes, control);
	ev_run(loop, 0);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	proxy_free(p);
	p = NULL;
	ekl_info("stopped");
	status = 0;
	goto out;

fail:
	if (saved_stderr >= 0) {
		ekl_error("%s", err); /* into the log */
		dprintf(saved_stderr, "ekulab: proxy: %s\n", err);
	} else {
		cli_fail("proxy: %s", err);
	}
	status = 1;
out:
	proxy_free(p);
	if (loop != NULL)
		ev_loop_destroy(loop);
	if (saved_stderr >= 0)
		close(saved_stderr);
	ekl_free(routes);
	return status;
}
