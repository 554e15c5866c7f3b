/* cmd_ctl.c: `ekulab ctl`: send admin commands to a running node. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab ctl --socket PATH [--json] [--ack primary|all]\n"
	    "                  [--timeout MS] 'COMMAND'\n"
	    "       ekulab ctl --socket PATH [--ack primary|all] "
	    "[--timeout MS] --batch FILE|-\n"
	    "\n"
	    "Commands: 'xStatus Cluster', 'xConfiguration' (list),\n"
	    "  'xConfiguration PATH' (read), 'xConfiguration PATH: VALUE' "
	    "(write),\n"
	    "  'xCommand ConfigurationDelete Path: PATH',\n"
	    "  'xCommand ClusterPrimary Name: NODE' (send to NODE), 'help'.\n"
	    "A write returns once durable on the primary; --ack all also "
	    "waits\n"
	    "until every linked peer applied it (up to --timeout MS, "
	    "default the\n"
	    "node's --ack-timeout-ms). On timeout the write stays committed "
	    "on the\n"
	    "primary and replicates later; ctl reports it as an error.\n"
	    "--batch sends every line of FILE (xConfiguration / xCommand "
	    "lines;\n"
	    "blank lines and # comments skipped) pipelined over one "
	    "connection and\n"
	    "prints one acknowledgement per line: 'LINE ok ...' or 'LINE "
	    "err ...'.\n"
	    "Exit: 0 all ok, 1 a command failed, 2 usage error.\n");
}

struct batch {
	FILE *f;
	const char *prefix;
	size_t lineno;	 /* lines read */
	size_t *linemap; /* request index -> line number; owned */
	size_t n_req;
	size_t cap;
	size_t failed;
	char *buf; /* owned */
	size_t buf_cap;
	bool oom;
};

static int batch_next(void *arg, char *out, size_t len)
{
	struct batch *b = arg;

	for (;;) {
		ssize_t n = getline(&b->buf, &b->buf_cap, b->f);
		char *s;

		if (n < 0)
			return 0;
		b->lineno++;
		while (n > 0 &&
		       (b->buf[n - 1] == '\n' || b->buf[n - 1] == '\r'))
			b->buf[--n] = '\0';
		s = b->buf;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		if (b->n_req == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 1024;
			size_t *nm = ekl_realloc(b->linemap, cap * sizeof(*nm));

			if (nm == NULL) {
				b->oom = true;
				return 0;
			}
			b->linemap = nm;
			b->cap = cap;
		}
		b->linemap[b->n_req++] = b->lineno;
		snprintf(out, len, "%s %s", b->prefix, s);
		return 1;
	}
}

static void batch_done(void *arg, size_t index, bool ok, const char *body)
{
	struct batch *b = arg;
	size_t n = strlen(body);

	if (!ok)
		b->failed++;
	printf("%zu %s %.*s\n", index < b->n_req ? b->linemap[index] : 0,
	       ok ? "ok" : "err",
	       (int)(n > 0 && body[n - 1] == '\n' ? n - 1 : n), body);
}

static int run_batch(int fd, const char *path, const char *pfx)
{
	struct batch b;
	struct admin_pipeline p;
	char err[EKL_ERRLEN];
	int rv;

	memset(&b, 0, sizeof(b));
	b.prefix = pfx;
	b.f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (b.f == NULL) {
		cli_fail("ctl: --batch %s: %s", path, strerror(errno));
		return 2;
	}
	p.next = batch_next;
	p.done = batch_done;
	p.arg = &b;
	p.window = 256;
	rv = admin_client_pipeline(fd, &p, err);
	if (b.f != stdin)
		fclose(b.f);
	if (rv == 0 && b.oom)
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
	if (rv != 0)
		cli_fail("ctl: %s", err);
	fflush(stdout);
	ekl_free(b.linemap);
	free(b.buf);
	if (rv != 0)
		return 1;
	if (b.failed > 0)
		fprintf(stderr, "ekulab: ctl: %zu of %zu lines failed\n",
			b.failed, b.n_req);
	return b.failed > 0 ? 1 : 0;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"ack", required_argument, NULL, 'a'},
	    {"timeout", required_argument, NULL, 't'},
	    {"batch", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *batch = NULL;
	char err[EKL_ERRLEN], pfx[ADMINPROTO_PREFIX_MAX + 1];
	struct adminproto_opts o;
	bool json = false, ok = false, ack_all = false;
	long timeout = 0;
	char *body = NULL, *end;
	int opt, fd, rv;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'j': json = true; break;
		case 'a':
			if (strcmp(optarg, "all") == 0) {
				ack_all = true;
			} else if (strcmp(optarg, "primary") == 0) {
				ack_all = false;
			} else {
				cli_fail("ctl: --ack '%s': use primary or all",
					 optarg);
				return 2;
			}
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || timeout < 1 ||
			    timeout > 3600000) {
				cli_fail("ctl: --timeout '%s': milliseconds, "
					 "1-3600000",
					 optarg);
				return 2;
			}
			break;
		case 'b': batch = optarg; break;
		case 'h': usage(stdout); return 0;
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
	if (batch != NULL ? optind != argc : optind != argc - 1) {
		cli_fail(batch != NULL
			     ? "ctl: --batch takes no COMMAND argument"
			     : "ctl: give exactly one COMMAND (quote it)");
		return 2;
	}
	fd = admin_client_connect(sock, err);
	if (fd < 0) {
		cli_fail("ctl: %s", err);
		return 1;
	}
	o.format = json ? ADMINPROTO_JSON : ADMINPROTO_TEXT;
	o.ack_all = ack_all;
	o.timeout_ms = (unsigned)timeout;
	adminproto_prefix_format(&o, pfx, sizeof(pfx));
	if (batch != NULL) {
		rv = run_batch(fd, batch, pfx);
		close(fd);
		return rv;
	}
	rv = admin_client_call(fd, pfx, argv[optind], &ok, &body, err);
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
