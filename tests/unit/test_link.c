/* test_link.c: the link to one peer: the link rule (both / either over
 * the directions that exist), the carrier (lower name's dial, compared
 * case-insensitively), the down reason from existing directions only, the
 * plain sentences of link_explain, and the warn line logged once per
 * reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/log.h"
#include "net/link.h"
#include "testutil.h"

/* ---- link_rule_linked: the whole table ---- */

START_TEST(test_rule_table)
{
	int dial, accept, out, in;

	for (dial = 0; dial < 2; dial++)
		for (accept = 0; accept < 2; accept++)
			for (out = 0; out < 2; out++)
				for (in = 0; in < 2; in++) {
					/* The model's rule (docs/model.md):
					 * the directions that exist; both:
					 * each of them works; either: one. */
					bool o = dial && out, i = accept && in;
					bool any = dial || accept;
					bool both = any && (!dial || o) &&
						    (!accept || i);
					bool either = o || i;

					ck_assert_int_eq(
					    link_rule_linked(LINK_RULE_BOTH,
							     dial, accept, out,
							     in),
					    both);
					ck_assert_int_eq(
					    link_rule_linked(LINK_RULE_EITHER,
							     dial, accept, out,
							     in),
					    either);
				}
	/* The cases the field notice is about, spelled out. */
	ck_assert(!link_rule_linked(LINK_RULE_BOTH, true, true, true, false));
	ck_assert(link_rule_linked(LINK_RULE_EITHER, true, true, true, false));
	/* dial=no: only the peer's direction counts. */
	ck_assert(link_rule_linked(LINK_RULE_BOTH, false, true, false, true));
	ck_assert(!link_rule_linked(LINK_RULE_BOTH, false, true, true, false));
	/* accept=no: only ours. */
	ck_assert(link_rule_linked(LINK_RULE_BOTH, true, false, true, false));
	ck_assert_str_eq(link_rule_name(LINK_RULE_BOTH), "both");
	ck_assert_str_eq(link_rule_name(LINK_RULE_EITHER), "either");
}
END_TEST

/* ---- a link with hand-made conns ---- */

static struct conn_env env;
static struct conn out_c, in_c;

static void no_conn_up(struct link *l, struct conn *c)
{
	(void)l;
	(void)c;
}

static void no_changed(struct link *l)
{
	(void)l;
}

/* An owner that closes the carrier when told of the change (a send that
 * failed, as replication may do). */
static void closing_changed(struct link *l)
{
	struct conn *c = link_carrier(l);

	if (c != NULL)
		c->state = CONN_CLOSED; /* what conn_close leaves behind */
}

static void no_frame(struct link *l, struct conn *c, const Ekl__Envelope *e)
{
	(void)l;
	(void)c;
	(void)e;
}

static bool no_view(const struct link *l, const char **state,
		    const char **reason, int64_t *applied, int64_t *lag)
{
	(void)l;
	(void)state;
	(void)reason;
	(void)applied;
	(void)lag;
	return false;
}

static void no_json(const struct link *l, struct json *j)
{
	(void)l;
	json_null(j);
}

static const struct link_ops ops = {no_conn_up, no_changed, no_frame, no_view,
				    no_json};

/* A link from `self` to `peer` with the given directions and rule; the
 * conns are set by the caller. */
static void make(struct link *l, const char *self, const char *peer, bool dial,
		 bool accept, enum link_rule rule)
{
	struct link_config lc;

	memset(&env, 0, sizeof(env));
	env.loop = EV_DEFAULT;
	env.name = self;
	memset(&lc, 0, sizeof(lc));
	lc.env = &env;
	lc.ops = &ops;
	lc.name = peer;
	lc.addr_text = "127.0.0.1:1";
	lc.backoff_max_ms = 100;
	lc.dial = dial;
	lc.accept = accept;
	lc.rule = rule;
	link_init(l, &lc);
	memset(&out_c, 0, sizeof(out_c));
	memset(&in_c, 0, sizeof(in_c));
	out_c.side = POL_SIDE_INITIATOR;
	in_c.side = POL_SIDE_ACCEPTOR;
}

START_TEST(test_carrier)
{
	struct link l;

	/* Both up: the lower name's dial, compared case-insensitively:
	 * "nodea" sorts before "nodeB" (strcmp would say the opposite). */
	make(&l, "nodeB", "nodea", true, true, LINK_RULE_BOTH);
	out_c.state = in_c.state = CONN_UP;
	l.out = &out_c;
	l.in = &in_c;
	ck_assert_ptr_eq(link_carrier(&l), &in_c); /* nodea dials: inbound */
	make(&l, "nodea", "nodeB", true, true, LINK_RULE_BOTH);
	out_c.state = in_c.state = CONN_UP;
	l.out = &out_c;
	l.in = &in_c;
	ck_assert_ptr_eq(link_carrier(&l), &out_c);

	/* both: one direction down takes the link down. */
	in_c.state = CONN_HELLO;
	ck_assert_ptr_null(link_carrier(&l));
	ck_assert(!link_is_up(&l));
	l.cfg.rule = LINK_RULE_EITHER;
	ck_assert_ptr_eq(link_carrier(&l), &out_c);

	/* dial=no: an outbound conn (there is none in practice) does not
	 * count; the inbound one carries the link. */
	make(&l, "a", "b", false, true, LINK_RULE_BOTH);
	in_c.state = CONN_UP;
	l.in = &in_c;
	ck_assert_ptr_eq(link_carrier(&l), &in_c);
	/* accept=no: ours alone. */
	make(&l, "a", "b", true, false, LINK_RULE_BOTH);
	out_c.state = CONN_UP;
	l.out = &out_c;
	ck_assert_ptr_eq(link_carrier(&l), &out_c);
}
END_TEST

START_TEST(test_down_reason_existing_directions)
{
	struct link l;

	make(&l, "a", "b", false, true, LINK_RULE_BOTH);
	/* dial=no: a stale outbound error is not a reason. */
	l.out_err_set = true;
	snprintf(l.out_err.code, sizeof(l.out_err.code), "client-purpose");
	ck_assert_str_eq(link_down_reason(&l), "link-down");
	l.in_err_set = true;
	snprintf(l.in_err.code, sizeof(l.in_err.code), "timeout");
	ck_assert_str_eq(link_down_reason(&l), "timeout");
	/* A certificate code wins over a transport code. */
	l.cfg.dial = true;
	ck_assert_str_eq(link_down_reason(&l), "client-purpose");
}
END_TEST

/* ---- link_explain ---- */

static const char *explain(bool outbound, const char *code, int depth,
			   enum pol_side side)
{
	static char buf[320];
	struct conn_err e;

	memset(&e, 0, sizeof(e));
	snprintf(e.code, sizeof(e.code), "%s", code);
	e.depth = depth;
	e.side = side;
	link_explain("node2", outbound, &e, buf, sizeof(buf));
	return buf;
}

START_TEST(test_explain)
{
	/* We accepted node2's connection and rejected its certificate. */
	ck_assert_str_eq(explain(false, "client-purpose", 0, POL_SIDE_ACCEPTOR),
			 "node2's certificate has no clientAuth EKU");
	ck_assert_str_eq(
	    explain(false, "client-purpose", 1, POL_SIDE_ACCEPTOR),
	    "the CA at depth 1 of node2's chain has no clientAuth EKU");
	/* We dialled node2 and node2 rejected ours. */
	ck_assert_str_eq(explain(true, "client-purpose", -1, POL_SIDE_ACCEPTOR),
			 "node2 rejected our certificate: it has no "
			 "clientAuth EKU");
	/* We dialled and rejected node2's server certificate. */
	ck_assert_str_eq(explain(true, "server-purpose", 0, POL_SIDE_INITIATOR),
			 "node2's certificate has no serverAuth EKU");
	ck_assert_str_eq(explain(true, "name-mismatch", 0, POL_SIDE_INITIATOR),
			 "node2's certificate does not name node2");
	ck_assert_str_eq(explain(true, "connect-failed", -1, POL_SIDE_NONE),
			 "we cannot connect to node2");
	ck_assert_str_eq(explain(false, "not-dialled", -1, POL_SIDE_NONE),
			 "node2 dialled us although it is configured "
			 "accept=no here");
}
END_TEST

/* ---- the warn line, once per reason ---- */

/* Count lines of `path` containing needle. */
static int count_lines(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

START_TEST(test_warn_once)
{
	char path[600];
	struct link l;
	struct conn c;
	int saved, fd, k;

	snprintf(path, sizeof(path), "%s/stderr.log", tu_tmpdir("link"));
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	ekl_log_set_level(EKL_LOG_WARN);

	make(&l, "node1", "node2", true, true, LINK_RULE_BOTH);
	memset(&c, 0, sizeof(c));
	c.side = POL_SIDE_ACCEPTOR;
	snprintf(c.err.code, sizeof(c.err.code), "client-purpose");
	c.err.depth = 0;
	c.err.side = POL_SIDE_ACCEPTOR;
	/* Every retry fails the same way: one line. */
	for (k = 0; k < 5; k++)
		link_note_inbound_failure(&l, &c);
	/* The reason changes: one more. */
	c.err.depth = 1;
	link_note_inbound_failure(&l, &c);
	link_note_inbound_failure(&l, &c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(count_lines(path, "warn: peer node2 inbound: "
					   "client-purpose at depth 0: node2's "
					   "certificate has no clientAuth EKU"),
			 1);
	ck_assert_int_eq(count_lines(path, "client-purpose at depth 1"), 1);
	ck_assert_int_eq(count_lines(path, "peer node2"), 2);
}
END_TEST

/* The owner's change callback closes the connection that just came up:
 * the link must not log it as up (it used to read a carrier that was
 * gone: a crash seen once in 200 random plans). */
START_TEST(test_changed_closes_carrier)
{
	static const struct link_ops closing = {no_conn_up, closing_changed,
						no_frame, no_view, no_json};
	struct link l;

	make(&l, "node1", "node2", false, true, LINK_RULE_BOTH);
	l.cfg.ops = &closing;
	in_c.state = CONN_UP;
	in_c.env = &env;
	link_adopt_inbound(&l, &in_c);
	ck_assert(!l.was_up);
	ck_assert_ptr_null(link_carrier(&l));
	l.in = NULL;
}
END_TEST

static Suite *link_suite(void)
{
	Suite *s = suite_create("link");
	TCase *tc = tcase_create("link");

	tcase_add_test(tc, test_rule_table);
	tcase_add_test(tc, test_carrier);
	tcase_add_test(tc, test_down_reason_existing_directions);
	tcase_add_test(tc, test_explain);
	tcase_add_test(tc, test_warn_once);
	tcase_add_test(tc, test_changed_closes_carrier);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(link_suite());
}
