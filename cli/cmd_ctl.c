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
#include "ekulab/core/json.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ekulab ctl --socket PATH [--json] [--ack primary|all]\n"
	    "                  [--timeout MS] 'COMMAND'\n"
	    "       ekulab ctl --socket PATH [--json] [--ack primary|all] "
	    "[--timeout MS]\n"
	    "                  --batch FILE|-\n"
	    "\n"
	    "PATH is the node's admin socket, or its network admin channel\n"
	    "tls://HOST:PORT/NODE?pki=DIR (DIR holds ca-admin.crt, admin.crt\n"
	    "and admin.key; docs/node.md, \"Network admin channel\").\n"
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
	    "err ...';\n"
	    "with --json one JSON object: {\"results\": [{\"line\", "
	    "\"ok\", \"revision\"|\"result\"|\n"
	    "\"error\"}...], \"requests\", \"failed\", \"complete\"}. "
	    "With --json stdout holds JSON only.\n"
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
	bool json;     /* one JSON object on stdout */
	size_t n_done; /* results printed */
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

/* --json: one element of "results": {"line": N, "ok": true, "revision":
 * R} for a write, {"line", "ok": true, "result": {...}} for a read (the
 * node's JSON as is), {"line", "ok": false, "error": "..."}. */
static void batch_json(struct batch *b, size_t line, bool ok, const char *body,
		       size_t n)
{
	char perr[EKL_ERRLEN];
	struct jsonr_doc *d = NULL;
	const char *s;
	long long rev;
	struct json j;
	char *text;

	text = ekl_malloc(n + 1);
	if (text == NULL) {
		b->oom = true;
		return;
	}
	memcpy(text, body, n);
	text[n] = '\0';
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "line");
	json_int(&j, (int64_t)line);
	json_key(&j, "ok");
	json_bool(&j, ok);
	if (!ok) {
		json_key(&j, "error");
		json_str(&j, text);
	} else if (sscanf(text, "revision %lld", &rev) == 1) {
		json_key(&j, "revision");
		json_int(&j, rev);
	} else if (!(n > 0 && (text[0] == '{' || text[0] == '[') &&
		     jsonr_parse(text, n, &d, perr) == 0)) {
		json_key(&j, "reply");
		json_str(&j, text);
	}
	json_obj_end(&j);
	s = json_finish(&j);
	if (s == NULL) {
		b->oom = true;
	} else if (d != NULL) {
		/* the object without its closing brace, then the result */
		printf("%s%.*s,\"result\":%s}", b->n_done++ ? "," : "",
		       (int)strlen(s) - 1, s, text);
	} else {
		printf("%s%s", b->n_done++ ? "," : "", s);
	}
	json_close(&j);
	jsonr_free(d);
	ekl_free(text);
}

static void batch_done(void *arg, size_t index, bool ok, const char *body)
{
	struct batch *b = arg;
	size_t n = strlen(body), line;

	if (!ok)
		b->failed++;
	line = index < b->n_req ? b->linemap[index] : 0;
	n = n > 0 && body[n - 1] == '\n' ? n - 1 : n;
	if (b->json)
		batch_json(b, line, ok, body, n);
	else
		printf("%zu %s %.*s\n", line, ok ? "ok" : "err", (int)n, body);
}

static int run_batch(int fd, const char *path, const char *pfx, bool json)
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
	memset(&p, 0, sizeof(p));
	p.next = batch_next;
	p.done = batch_done;
	p.arg = &b;
	p.window = 256;
	b.json = json;
	if (json)
		printf("{\"results\":[");
	rv = admin_client_pipeline(fd, &p, err);
	if (json)
		printf("],\"requests\":%zu,\"failed\":%zu,\"complete\":%s}\n",
		       b.n_req, b.failed, rv == 0 && !b.oom ? "true" : "false");
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
		rv = run_batch(fd, batch, pfx, json);
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
