/* test_node_status.c: the client's typed node status, parsed from JSON
 * captured from a live cluster (tests/unit/data/node), and fetched over a
 * socket from a fake node. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "client/node_status.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "testutil.h"

/* A captured file, NUL-terminated; free() it. */
static char *data(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/node/%s", EKL_TEST_DATA, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void teardown(void)
{
	ekl_mem_fail_after(-1);
}

/* ---- xStatus Cluster ---- */

START_TEST(cluster_primary)
{
	struct node_status st;
	const struct node_peer_status *p;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("cluster_primary.json", &len);

	ck_assert_msg(node_status_parse(json, len, &st, err) == 0, "%s", err);
	ck_assert_str_eq(st.node, "node1");
	ck_assert_str_eq(st.cluster, "lab");
	ck_assert_str_eq(st.version, "X15.3.2");
	ck_assert_str_eq(st.verify, "enforce");
	ck_assert_str_eq(st.primary, "node1");
	ck_assert_int_eq(st.epoch, 1);
	ck_assert_int_eq(st.revision, 2);
	ck_assert_int_eq(st.rows, 2);
	ck_assert_str_eq(st.digest, "b3d8366398f027e2184acffc06d0f1e866cb17b3"
				    "63bb51f96cd961c0c96949df");
	ck_assert_uint_eq(st.n_peers, 2);
	ck_assert_uint_eq(st.n_unknown_callers, 0);
	p = node_status_peer(&st, "node2");
	ck_assert_ptr_nonnull(p);
	ck_assert(p->link_up);
	ck_assert(p->outbound);
	ck_assert_str_eq(p->out, "up");
	ck_assert_str_eq(p->in, "up");
	ck_assert(p->replicates);
	ck_assert_str_eq(p->repl, "replicating");
	ck_assert_str_eq(p->reason, "-");
	ck_assert_int_eq(p->applied, 2);
	ck_assert_int_eq(p->lag, 0);
	p = node_status_peer(&st, "node3");
	ck_assert_ptr_nonnull(p);
	ck_assert(!p->link_up);
	ck_assert(!p->outbound);
	ck_assert_str_eq(p->out, "connect-failed");
	ck_assert_str_eq(p->in, "shutdown");
	ck_assert_str_eq(p->repl, "stopped");
	ck_assert_str_eq(p->reason, "connect-failed");
	ck_assert_ptr_null(node_status_peer(&st, "node4"));
	node_status_free(&st);
	node_status_free(&st); /* twice is fine */
	free(json);
}
END_TEST

/* A replica: no replication with the other replica. */
START_TEST(cluster_replica)
{
	struct node_status st;
	const struct node_peer_status *p;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("cluster_replica.json", &len);

	ck_assert_msg(node_status_parse(json, len, &st, err) == 0, "%s", err);
	ck_assert_str_eq(st.node, "node2");
	ck_assert_str_eq(st.primary, "node1");
	p = node_status_peer(&st, "node1");
	ck_assert(p->link_up && !p->outbound);
	ck_assert_str_eq(p->repl, "replicating");
	p = node_status_peer(&st, "node3");
	ck_assert(!p->replicates);
	ck_assert_str_eq(p->repl, "-");
	ck_assert_str_eq(p->reason, "-");
	ck_assert_int_eq(p->applied, -1);
	ck_assert_int_eq(p->lag, -1);
	node_status_free(&st);
	free(json);
}
END_TEST

/* The JSON says what node1's table for people (`xStatus Links`) said at
 * the same moment, field for field; the rows below are that table,
 * transcribed:
 *   node2 up outbound up up replicating - 2 0
 *   node3 down - connect-failed shutdown stopped connect-failed 2 0 */
START_TEST(cluster_matches_links_table)
{
	static const struct {
		const char *name;
		bool link_up, outbound;
		const char *out, *in, *repl, *reason;
		int64_t applied, lag;
	} table[] = {
	    {"node2", true, true, "up", "up", "replicating", "-", 2, 0},
	    {"node3", false, false, "connect-failed", "shutdown", "stopped",
	     "connect-failed", 2, 0},
	};
	struct node_status st;
	char err[EKL_ERRLEN];
	size_t len, i;
	char *json = data("cluster_primary.json", &len);

	ck_assert_int_eq(node_status_parse(json, len, &st, err), 0);
	ck_assert_uint_eq(st.n_peers, 2);
	for (i = 0; i < 2; i++) {
		const struct node_peer_status *p =
		    node_status_peer(&st, table[i].name);

		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(p->link_up, table[i].link_up);
		ck_assert_int_eq(p->outbound, table[i].outbound);
		ck_assert_str_eq(p->out, table[i].out);
		ck_assert_str_eq(p->in, table[i].in);
		ck_assert_str_eq(p->repl, table[i].repl);
		ck_assert_str_eq(p->reason, table[i].reason);
		ck_assert_int_eq(p->applied, table[i].applied);
		ck_assert_int_eq(p->lag, table[i].lag);
	}
	node_status_free(&st);
	free(json);
}
END_TEST

/* What a newer node may add is ignored; what the contract needs is
 * checked, and the message names the field. */
START_TEST(cluster_refusals)
{
	static const struct {
		const char *from, *to, *want;
	} edits[] = {
	    {"\"revision\":2", "\"revision\":\"2\"", "\"revision\""},
	    {"\"revision\":2", "\"revisions\":2", "\"revision\""},
	    {"\"digest\":\"b3", "\"digest\":\"", "\"digest\""},
	    {"\"peers\":[", "\"peers\":{\"x\":[", "JSON at byte"},
	    {"\"link\":\"up\"", "\"link\":true", "\"link\""},
	    {"\"outbound\":{\"state\":\"up\"", "\"outbound\":{\"s\":\"up\"",
	     "\"outbound\""},
	    {"\"code\":\"connect-failed\"", "\"code\":7", "\"code\""},
	    {"\"applied_revision\":2", "\"applied_revision\":2.5",
	     "\"applied_revision\""},
	    {"\"name\":\"node2\"",
	     "\"name\":\"a-name-that-is-far-longer-than-any-node-name-may-"
	     "be-in-a-cluster\"",
	     "\"name\""},
	};
	char *json = data("cluster_primary.json", NULL);
	size_t i;

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *at = strstr(json, edits[i].from), err[EKL_ERRLEN] = "";
		size_t n = strlen(json) + strlen(edits[i].to) + 1;
		char *edited = malloc(n);
		struct node_status st;

		ck_assert_ptr_nonnull(at);
		ck_assert_ptr_nonnull(edited);
		snprintf(edited, n, "%.*s%s%s", (int)(at - json), json,
			 edits[i].to, at + strlen(edits[i].from));
		ck_assert_msg(node_status_parse(edited, strlen(edited), &st,
						err) == EKL_EPROTO,
			      "edit %zu accepted", i);
		ck_assert_msg(strstr(err, edits[i].want) != NULL,
			      "edit %zu: '%s' lacks '%s'", i, err,
			      edits[i].want);
		ck_assert_ptr_null(st.peers);
		free(edited);
	}
	/* A newer node's extra fields are fine; null primary reads "". */
	{
		const char *j = "{\"node\":\"n\",\"cluster\":\"c\",\"version\":"
				"\"X15.5\",\"verify\":\"enforce\",\"primary\":"
				"null,\"epoch\":0,\"revision\":0,\"rows\":0,"
				"\"digest\":\"0000000000000000000000000000000"
				"000000000000000000000000000000000\",\"peers\":"
				"[],\"new\":{\"x\":[1,2]}}";
		struct node_status st;
		char err[EKL_ERRLEN];

		ck_assert_msg(node_status_parse(j, strlen(j), &st, err) == 0,
			      "%s", err);
		ck_assert_str_eq(st.primary, "");
		ck_assert_uint_eq(st.n_peers, 0);
		node_status_free(&st);
	}
	free(json);
}
END_TEST

START_TEST(cluster_alloc_failures)
{
	struct node_status st;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("cluster_primary.json", &len);
	int rv = EKL_ENOMEM;
	long k;

	for (k = 0; rv == EKL_ENOMEM && k < 50; k++) {
		ekl_mem_fail_after(k);
		rv = node_status_parse(json, len, &st, err);
		ekl_mem_fail_after(-1);
		if (rv != 0)
			ck_assert_ptr_null(st.peers);
	}
	ck_assert_int_eq(rv, 0);
	node_status_free(&st);
	free(json);
}
END_TEST

/* ---- xStatus Database, Latency, the rows ---- */

START_TEST(database_fields)
{
	struct node_database db;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("database.json", &len);

	ck_assert_msg(node_database_parse(json, len, &db, err) == 0, "%s", err);
	ck_assert_str_eq(db.node, "node1");
	ck_assert_str_eq(db.primary, "node1");
	ck_assert_int_eq(db.epoch, 1);
	ck_assert_int_eq(db.revision, 2);
	ck_assert_int_eq(db.rev_epoch, 1);
	ck_assert_int_eq(db.rows, 2);
	ck_assert_int_eq(db.log_first, 1);
	ck_assert_uint_eq(strlen(db.digest), 64);
	ck_assert_int_eq(node_database_parse("{}", 2, &db, err), EKL_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "'xStatus Database'"));
	ck_assert_int_eq(node_database_parse("[]", 2, &db, err), EKL_EPROTO);
	ck_assert_int_eq(node_database_parse("node node1\n", 11, &db, err),
			 EKL_EPROTO);
	free(json);
}
END_TEST

START_TEST(latency_fields)
{
	struct node_latency lat;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("latency.json", &len);

	ck_assert_msg(node_latency_parse(json, len, &lat, err) == 0, "%s", err);
	ck_assert_int_eq(lat.count, 1);
	ck_assert_int_eq(lat.p50_us, 864);
	ck_assert_int_eq(lat.p99_us, 864);
	ck_assert_int_eq(lat.max_us, 864);
	ck_assert_int_eq(lat.groups, 2);
	ck_assert_int_eq(lat.writes, 2);
	free(json);
	json = data("latency_empty.json", &len);
	ck_assert_msg(node_latency_parse(json, len, &lat, err) == 0, "%s", err);
	ck_assert_int_eq(lat.count, 0);
	ck_assert_int_eq(lat.p50_us, 0);
	free(json);
}
END_TEST

START_TEST(rows_list)
{
	struct node_rows rows;
	char err[EKL_ERRLEN];
	size_t len;
	char *json = data("rows.json", &len);

	ck_assert_msg(node_rows_parse(json, len, &rows, err) == 0, "%s", err);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_str_eq(rows.row[0].path, "A/b");
	ck_assert_str_eq(rows.row[0].value, "quoted");
	ck_assert_str_eq(rows.row[1].path, "Uni/code");
	ck_assert_str_eq(rows.row[1].value, "caf\xc3\xa9 \xe2\x82\xac");
	node_rows_free(&rows);
	node_rows_free(&rows);
	ck_assert_int_eq(node_rows_parse("{\"a\":1}", 7, &rows, err),
			 EKL_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "\"a\""));
	ck_assert_ptr_null(rows.row);
	/* Values with line breaks survive (a text list could not say). */
	ck_assert_int_eq(
	    node_rows_parse("{\"a\":\"x\\ny: z\"}", 15, &rows, err), 0);
	ck_assert_str_eq(rows.row[0].value, "x\ny: z");
	node_rows_free(&rows);
	free(json);
}
END_TEST

/* ---- over a socket, from a fake node ---- */

struct fake {
	int fd;
	const char *responses; /* written after the first request line */
	char request[256];
};

static void *fake_node(void *arg)
{
	struct fake *f = arg;
	size_t n = 0;

	/* One request line, then the canned bytes, then close. */
	while (n + 1 < sizeof(f->request)) {
		ssize_t r = read(f->fd, f->request + n, 1);

		if (r <= 0 || f->request[n] == '\n')
			break;
		n++;
	}
	f->request[n] = '\0';
	if (write(f->fd, f->responses, strlen(f->responses)) < 0)
		f->request[0] = '\0';
	close(f->fd);
	return NULL;
}

/* Run one *_get against canned responses; returns its code. */
static int fake_get(const char *responses, struct fake *f,
		    int (*get)(int fd, void *out, char *err), void *out,
		    char *err)
{
	pthread_t th;
	int sv[2], rv;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(f, 0, sizeof(*f));
	f->fd = sv[1];
	f->responses = responses;
	ck_assert_int_eq(pthread_create(&th, NULL, fake_node, f), 0);
	rv = get(sv[0], out, err);
	pthread_join(th, NULL);
	close(sv[0]);
	return rv;
}

static int get_status(int fd, void *out, char *err)
{
	return node_status_get(fd, out, err);
}

static int get_database(int fd, void *out, char *err)
{
	return node_database_get(fd, out, err);
}

START_TEST(fetch_over_socket)
{
	struct node_database db;
	struct node_status st;
	struct fake f;
	char err[EKL_ERRLEN], *json = data("database.json", NULL), *resp;
	size_t n = strlen(json) + 32;

	resp = malloc(n);
	ck_assert_ptr_nonnull(resp);
	snprintf(resp, n, "ok %zu\n%s", strlen(json), json);
	ck_assert_msg(fake_get(resp, &f, get_database, &db, err) == 0, "%s",
		      err);
	ck_assert_str_eq(f.request, "json xStatus Database");
	ck_assert_int_eq(db.revision, 2);
	/* The node refuses: its message, EKL_EINVAL. */
	ck_assert_int_eq(
	    fake_get("err 14\nno such thing\n", &f, get_status, &st, err),
	    EKL_EINVAL);
	ck_assert_str_eq(f.request, "json xStatus Cluster");
	ck_assert_str_eq(err, "'xStatus Cluster': no such thing");
	/* Cut short, malformed, too big: errors, no crash. */
	ck_assert_int_eq(fake_get("ok 100\n{", &f, get_status, &st, err),
			 EKL_EIO);
	ck_assert_int_eq(fake_get("OK 1\n{", &f, get_status, &st, err),
			 EKL_EPROTO);
	ck_assert_int_eq(
	    fake_get("ok 999999999999\n", &f, get_database, &db, err),
	    EKL_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	ck_assert_int_eq(fake_get("ok 2\nno", &f, get_database, &db, err),
			 EKL_EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "JSON at byte"));
	free(resp);
	free(json);
}
END_TEST

static Suite *node_status_suite(void)
{
	Suite *s = suite_create("node_status");
	TCase *tc;

	tc = tcase_create("node_status_parse");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, cluster_primary);
	tcase_add_test(tc, cluster_replica);
	tcase_add_test(tc, cluster_matches_links_table);
	tcase_add_test(tc, cluster_refusals);
	tcase_add_test(tc, cluster_alloc_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("node_database_parse");
	tcase_add_test(tc, database_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("node_latency_parse");
	tcase_add_test(tc, latency_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("node_rows_parse");
	tcase_add_test(tc, rows_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("node_status_get");
	tcase_add_test(tc, fetch_over_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tu_run(node_status_suite());
}
