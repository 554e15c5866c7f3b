/* cmd_verify.c: `ekulab verify-cluster`: do the nodes hold the same rows? */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "client/node_status.h"
#include "cmd.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"

#define VERIFY_MAX_NODES  64
#define VERIFY_NAME_MAX	  64
#define VERIFY_DIGEST_HEX 64
#define VERIFY_TEXT_DIFFS 50 /* differing paths printed in text */
#define VERIFY_TEXT_VALUE 80 /* bytes of a value printed in text */

struct verify_node {
	const char *socket; /* argv: not owned */
	int fd;		    /* owned; -1 when closed */
	char name[VERIFY_NAME_MAX];
	char primary[VERIFY_NAME_MAX]; /* "" when none */
	long long epoch;
	long long revision;
	long long rows;
	char digest[VERIFY_DIGEST_HEX + 1];
	struct node_rows list; /* owned: the rows, sorted by path */
	size_t cur;	       /* merge-walk cursor */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ekulab verify-cluster --socket PATH --socket PATH "
		"[--socket ...]\n"
		"                             [--json] [--timeout MS]\n"
		"\n"
		"Compares the configuration databases of the nodes behind the "
		"admin\n"
		"sockets: revision and digest ('xStatus Database'); when they "
		"differ,\n"
		"the rows ('xConfiguration'), printing each path whose value "
		"differs\n"
		"(the first %d; --json gives all) with every node's value or "
		"(missing).\n"
		"The nodes agree when every revision and every digest are "
		"equal.\n"
		"--timeout MS bounds each node's answer (default 30000).\n"
		"Exit: 0 the nodes agree, 1 they differ, 2 usage error or a "
		"node that\n"
		"cannot be asked (the socket is named).\n",
		VERIFY_TEXT_DIFFS);
}

static int status_of(struct verify_node *n, char *err)
{
	struct node_database db;
	char cerr[EKL_ERRLEN];
	int rv = node_database_get(n->fd, &db, cerr);

	if (rv != 0)
		return ekl_errf(err, rv, "--socket %s: %s", n->socket, cerr);
	memcpy(n->name, db.node, sizeof(n->name));
	memcpy(n->primary, db.primary, sizeof(n->primary));
	n->epoch = db.epoch;
	n->revision = db.revision;
	n->rows = db.rows;
	memcpy(n->digest, db.digest, sizeof(n->digest));
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node_row *)a)->path,
		      ((const struct node_row *)b)->path);
}

/* Fetch the rows (`xConfiguration` as JSON) sorted by path (byte order,
 * as the store lists them). */
static int rows_of(struct verify_node *n, char *err)
{
	char cerr[EKL_ERRLEN];
	int rv = node_rows_get(n->fd, &n->list, cerr);

	if (rv != 0)
		return ekl_errf(err, rv, "--socket %s: %s", n->socket, cerr);
	qsort(n->list.row, n->list.n, sizeof(*n->list.row), row_cmp);
	return 0;
}

/* Receives each differing path with every node's value (NULL = missing). */
typedef void (*verify_diff_fn)(void *arg, const char *path,
			       const char *const *values);

/* Merge-walk the sorted rows of all nodes; returns how many paths differ. */
static size_t merge_walk(struct verify_node *nodes, size_t n,
			 const char **values, verify_diff_fn fn, void *arg)
{
	size_t count = 0, i;

	for (i = 0; i < n; i++)
		nodes[i].cur = 0;
	for (;;) {
		const char *min = NULL;
		bool differ = false;

		for (i = 0; i < n; i++) {
			struct verify_node *v = &nodes[i];

			if (v->cur < v->list.n &&
			    (min == NULL ||
			     strcmp(v->list.row[v->cur].path, min) < 0))
				min = v->list.row[v->cur].path;
		}
		if (min == NULL)
			break;
		for (i = 0; i < n; i++) {
			struct verify_node *v = &nodes[i];

			values[i] = NULL;
			if (v->cur < v->list.n &&
			    strcmp(v->list.row[v->cur].path, min) == 0)
				values[i] = v->list.row[v->cur].value;
		}
		for (i = 1; i < n && !differ; i++)
			differ = values[i] == NULL || values[0] == NULL
				     ? values[i] != values[0]
				     : strcmp(values[i], values[0]) != 0;
		if (differ) {
			count++;
			fn(arg, min, values);
		}
		for (i = 0; i < n; i++) {
			struct verify_node *v = &nodes[i];

			if (values[i] != NULL)
				v->cur++;
		}
	}
	return count;
}

/* What the diff callbacks need. */
struct diff_out {
	const struct verify_node *nodes;
	size_t n;
	size_t printed; /* text: paths printed */
	struct json *j; /* json: the open "differences" array */
};

/* A value for a human: quoted, backslash and quote escaped, cut short. */
static void print_value(const char *v)
{
	size_t i;

	if (v == NULL) {
		fputs("(missing)", stdout);
		return;
	}
	putchar('"');
	for (i = 0; v[i] != '\0' && i < VERIFY_TEXT_VALUE; i++) {
		if (v[i] == '"' || v[i] == '\\')
			putchar('\\');
		putchar(v[i]);
	}
	putchar('"');
	if (v[i] != '\0')
		printf("... (%zu bytes)", strlen(v));
}

static void text_diff(void *arg, const char *path, const char *const *values)
{
	struct diff_out *t = arg;
	size_t i;

	if (t->printed++ >= VERIFY_TEXT_DIFFS)
		return;
	printf("  %s:", path);
	for (i = 0; i < t->n; i++) {
		printf("%s %s ", i ? "," : "", t->nodes[i].name);
		print_value(values[i]);
	}
	putchar('\n');
}

static void json_diff(void *arg, const char *path, const char *const *values)
{
	const struct diff_out *d = arg;
	struct json *j = d->j;
	size_t i;

	json_obj_begin(j);
	json_key(j, "path");
	json_str(j, path);
	json_key(j, "values");
	json_obj_begin(j);
	for (i = 0; i < d->n; i++) {
		json_key(j, d->nodes[i].name);
		json_str(j, values[i]);
	}
	json_obj_end(j);
	json_obj_end(j);
}

static void print_node_text(const struct verify_node *v)
{
	printf("  %s: revision %lld, %lld rows, digest %.16s..., epoch %lld, "
	       "primary %s\n",
	       v->name, v->revision, v->rows, v->digest, v->epoch,
	       v->primary[0] ? v->primary : "-");
}

/* The report. Returns the exit status (0 agree, 1 differ, 2 error). */
static int report(struct verify_node *nodes, size_t n, bool json, char *err)
{
	const char **values = NULL;
	bool agree = true;
	size_t i, count = 0;
	int rv;

	for (i = 1; i < n; i++)
		if (strcmp(nodes[i].digest, nodes[0].digest) != 0 ||
		    nodes[i].revision != nodes[0].revision)
			agree = false;
	if (!agree) {
		bool rows_differ = false;

		for (i = 1; i < n; i++)
			if (strcmp(nodes[i].digest, nodes[0].digest) != 0)
				rows_differ = true;
		/* Equal digests mean equal rows: only fetch them when not. */
		for (i = 0; rows_differ && i < n; i++) {
			rv = rows_of(&nodes[i], err);
			if (rv != 0)
				return 2;
		}
		values = ekl_calloc(n, sizeof(*values));
		if (values == NULL) {
			ekl_errf(err, EKL_ENOMEM, "out of memory");
			return 2;
		}
	}
	if (json) {
		struct json j;
		struct diff_out d = {nodes, n, 0, &j};
		const char *out;

		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "agree");
		json_bool(&j, agree);
		json_key(&j, "nodes");
		json_arr_begin(&j);
		for (i = 0; i < n; i++) {
			json_obj_begin(&j);
			json_key(&j, "node");
			json_str(&j, nodes[i].name);
			json_key(&j, "socket");
			json_str(&j, nodes[i].socket);
			json_key(&j, "revision");
			json_int(&j, nodes[i].revision);
			json_key(&j, "digest");
			json_str(&j, nodes[i].digest);
			json_key(&j, "rows");
			json_int(&j, nodes[i].rows);
			json_key(&j, "epoch");
			json_int(&j, nodes[i].epoch);
			json_key(&j, "primary");
			json_str(&j,
				 nodes[i].primary[0] ? nodes[i].primary : NULL);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_key(&j, "differences");
		json_arr_begin(&j);
		if (!agree)
			merge_walk(nodes, n, values, json_diff, &d);
		json_arr_end(&j);
		json_obj_end(&j);
		out = json_finish(&j);
		if (out != NULL)
			printf("%s\n", out);
		json_close(&j);
		ekl_free(values);
		if (out == NULL) {
			ekl_errf(err, EKL_ENOMEM, "out of memory");
			return 2;
		}
		return agree ? 0 : 1;
	}
	if (agree) {
		printf("%zu nodes agree: revision %lld, %lld rows, digest "
		       "%.16s...\n",
		       n, nodes[0].revision, nodes[0].rows, nodes[0].digest);
		return 0;
	}
	printf("%zu nodes differ:\n", n);
	for (i = 0; i < n; i++)
		print_node_text(&nodes[i]);
	{
		struct diff_out t = {nodes, n, 0, NULL};

		count = merge_walk(nodes, n, values, text_diff, &t);
	}
	if (count > VERIFY_TEXT_DIFFS)
		printf("  ... and %zu more\n", count - VERIFY_TEXT_DIFFS);
	if (count > 0)
		printf("%zu path%s differ%s\n", count, count == 1 ? "" : "s",
		       count == 1 ? "s" : "");
	else
		printf("the rows are equal; the revisions differ (a node is "
		       "behind, or the rows changed while they were read)\n");
	ekl_free(values);
	return 1;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verify_node nodes[VERIFY_MAX_NODES];
	char err[EKL_ERRLEN];
	size_t n = 0, i, k;
	bool json = false;
	long timeout = 30000;
	char *end;
	int opt, status = 2;

	memset(nodes, 0, sizeof(nodes));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (n == VERIFY_MAX_NODES) {
				cli_fail("verify-cluster: at most %d --socket",
					 VERIFY_MAX_NODES);
				return 2;
			}
			nodes[n].fd = -1;
			nodes[n++].socket = optarg;
			break;
		case 'j': json = true; break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || timeout < 1 ||
			    timeout > 3600000) {
				cli_fail("verify-cluster: --timeout '%s': "
					 "milliseconds, 1-3600000",
					 optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default:
			cli_fail("verify-cluster: unknown option or missing "
				 "value: %s",
				 argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		cli_fail("verify-cluster: unexpected argument '%s'",
			 argv[optind]);
		return 2;
	}
	if (n < 2) {
		cli_fail("verify-cluster: give at least two nodes "
			 "(--socket PATH --socket PATH)");
		return 2;
	}
	for (i = 0; i < n; i++) {
		struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
		int fd = admin_client_connect(nodes[i].socket, err);

		if (fd < 0) {
			cli_fail("verify-cluster: %s", err);
			goto out;
		}
		nodes[i].fd = fd;
		/* A node that stops answering fails the read, not us. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (status_of(&nodes[i], err) != 0) {
			cli_fail("verify-cluster: %s", err);
			goto out;
		}
		for (k = 0; k < i; k++)
			if (strcmp(nodes[k].name, nodes[i].name) == 0) {
				cli_fail("verify-cluster: --socket %s and "
					 "--socket %s both reach node %s; give "
					 "each node once",
					 nodes[k].socket, nodes[i].socket,
					 nodes[i].name);
				goto out;
			}
	}
	status = report(nodes, n, json, err);
	if (status == 2)
		cli_fail("verify-cluster: %s", err);
out:
	fflush(stdout);
	for (i = 0; i < n; i++) {
		if (nodes[i].fd >= 0)
			close(nodes[i].fd);
		node_rows_free(&nodes[i].list);
	}
	return status;
}
