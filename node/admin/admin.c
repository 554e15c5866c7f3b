/* admin.c: the node's admin commands, served on its admin socket.
 *
 * The happy path: linesrv (lib/wire) accepts clients on the socket, reads
 * their request lines and hands each parsed request to admin_handle, which
 * finds the command in admin_commands. A command completes its reply now,
 * or hands it to replication (writes), which completes it after the group
 * commit or the peers' acknowledgements; linesrv keeps the responses in
 * request order.
 * The failure modes: an unknown command gets an "err" pointing at 'help';
 * a command with bad arguments an "err" saying what to write. Protocol
 * failures (over-long lines, bad prefixes, clients that stop reading) are
 * linesrv's (see adminproto.h for the limits).
 * The network admin channel (--admin-listen) serves the same commands over
 * TLS: admin_tls.c; admin_int.h holds what both files share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_int.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "net/link.h"
#include "repl/repl.h"
#include "store/store.h"

/* Replication completes replies under the name struct admin_reply; the
 * slot is the linesrv reply, converted at this boundary only. */
static struct admin_reply *as_admin_reply(struct linesrv_reply *r)
{
	return (struct admin_reply *)(void *)r;
}

void admin_reply_done(struct admin_reply *r, bool ok, const char *body)
{
	linesrv_reply_done((struct linesrv_reply *)(void *)r, ok, body);
}

/* Complete a reply now. */
static int respond(struct linesrv_reply *r, bool ok, const char *body)
{
	linesrv_reply_done(r, ok, body);
	return 0;
}

/* Complete a reply with the JSON in j (or "out of memory"). */
static int respond_json(struct linesrv_reply *r, struct json *j)
{
	const char *s = json_finish(j);

	linesrv_reply_done(r, s != NULL, s != NULL ? s : "out of memory");
	return 0;
}

/* Commands. Each completes its reply now, or hands it to replication.
 * arg (after the command name) may be modified. */
typedef int (*admin_fn)(struct admin *a, struct linesrv_reply *reply,
			const struct adminproto_opts *o, char *arg);

static bool want_json(const struct adminproto_opts *o)
{
	return o->format == ADMINPROTO_JSON;
}

static int cmd_status_cluster(struct admin *a, struct linesrv_reply *reply,
			      const struct adminproto_opts *o, char *arg)
{
	char *s;

	if (arg[0] != '\0')
		return respond(reply, false,
			       "xStatus Cluster takes no argument");
	s = a->env.status(a->env.arg, want_json(o));
	if (s == NULL)
		return respond(reply, false, "out of memory");
	linesrv_reply_take(reply, true, s, strlen(s));
	return 0;
}

/* The database summary: "key value" lines, or one JSON object. */
static int cmd_status_database(struct admin *a, struct linesrv_reply *reply,
			       const struct adminproto_opts *o, char *arg)
{
	struct store_state st;
	char hex[2 * STORE_DIGEST_LEN + 1], buf[512];

	if (arg[0] != '\0')
		return respond(reply, false,
			       "xStatus Database takes no argument");
	store_state(repl_store(a->env.repl), &st);
	store_digest_hex(st.digest, hex);
	if (want_json(o)) {
		struct json j;

		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "node");
		json_str(&j, a->env.name);
		json_key(&j, "primary");
		json_str(&j, st.primary[0] ? st.primary : NULL);
		json_key(&j, "epoch");
		json_int(&j, st.epoch);
		json_key(&j, "revision");
		json_int(&j, st.revision);
		json_key(&j, "rev_epoch");
		json_int(&j, st.rev_epoch);
		json_key(&j, "rows");
		json_int(&j, st.rows);
		json_key(&j, "log_first");
		json_int(&j, st.log_first);
		json_key(&j, "digest");
		json_str(&j, hex);
		json_obj_end(&j);
		respond_json(reply, &j);
		json_close(&j);
		return 0;
	}
	snprintf(buf, sizeof(buf),
		 "node %s\nprimary %s\nepoch %lld\nrevision %lld\n"
		 "rev_epoch %lld\nrows %lld\nlog_first %lld\ndigest %s\n",
		 a->env.name, st.primary[0] ? st.primary : "-",
		 (long long)st.epoch, (long long)st.revision,
		 (long long)st.rev_epoch, (long long)st.rows,
		 (long long)st.log_first, hex);
	return respond(reply, true, buf);
}

/* The link table for people: a header line "node NAME primary P revision
 * R", then one line per peer (link_status_line). Programs read the same
 * facts from 'json xStatus Cluster'. */
static int cmd_status_links(struct admin *a, struct linesrv_reply *reply,
			    const struct adminproto_opts *o, char *arg)
{
	const struct admin_env *n = &a->env;
	struct store_state st;
	size_t cap = 256 + (size_t)n->n_links * 256, len;
	char *buf;
	int i;

	if (want_json(o))
		return respond(reply, false,
			       "xStatus Links is a table for people; 'json "
			       "xStatus Cluster' has the same facts");
	if (arg[0] != '\0')
		return respond(reply, false, "xStatus Links takes no argument");
	buf = ekl_malloc(cap);
	if (buf == NULL)
		return respond(reply, false, "out of memory");
	store_state(repl_store(n->repl), &st);
	len = (size_t)snprintf(buf, cap, "node %s primary %s revision %lld\n",
			       n->name, st.primary[0] ? st.primary : "-",
			       (long long)st.revision);
	for (i = 0; i < n->n_links && len < cap; i++) {
		link_status_line(&n->links[i], buf + len, cap - len);
		len += strlen(buf + len);
	}
	linesrv_reply_take(reply, true, buf, len);
	return 0;
}

static void int_or_null(struct json *j, bool known, int64_t v)
{
	if (known)
		json_int(j, v);
	else
		json_null(j);
}

/* Replication latency on the primary: commit to applied on every peer, for
 * --ack all writes since the last reset. "reset" clears it. */
static int cmd_status_latency(struct admin *a, struct linesrv_reply *reply,
			      const struct adminproto_opts *o, char *arg)
{
	struct repl_latency lat;
	struct json j;
	char buf[256];

	if (strcmp(arg, "reset") == 0) {
		repl_latency_reset(a->env.repl);
		return respond(reply, true,
			       want_json(o) ? "{\"reset\":true}" : "reset\n");
	}
	if (arg[0] != '\0')
		return respond(reply, false,
			       "xStatus Latency takes no argument but 'reset'");
	if (!want_json(o)) {
		repl_latency_text(a->env.repl, buf, sizeof(buf));
		return respond(reply, true, buf);
	}
	repl_latency_get(a->env.repl, &lat);
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "count");
	json_int(&j, (int64_t)lat.count);
	json_key(&j, "p50_us");
	int_or_null(&j, lat.count > 0, lat.p50_us);
	json_key(&j, "p99_us");
	int_or_null(&j, lat.count > 0, lat.p99_us);
	json_key(&j, "max_us");
	int_or_null(&j, lat.count > 0, lat.max_us);
	json_key(&j, "groups");
	json_int(&j, (int64_t)lat.groups);
	json_key(&j, "writes");
	json_int(&j, (int64_t)lat.writes);
	json_obj_end(&j);
	respond_json(reply, &j);
	json_close(&j);
	return 0;
}

/* Strip one pair of surrounding double quotes, as xConfiguration allows. */
static char *unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

struct list_ctx {
	struct json j;
	char *text; /* owned */
	size_t len;
	size_t cap;
	bool json;
	bool oom;
};

static int list_row(void *arg, const char *path, const char *value)
{
	struct list_ctx *l = arg;
	size_t need;

	if (l->json) {
		json_key(&l->j, path);
		json_str(&l->j, value);
		return 0;
	}
	need = strlen(path) + strlen(value) + 4;
	if (l->len + need + 1 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		char *nb;

		while (cap < l->len + need + 1)
			cap *= 2;
		nb = ekl_realloc(l->text, cap);
		if (nb == NULL) {
			l->oom = true;
			return EKL_ENOMEM;
		}
		l->text = nb;
		l->cap = cap;
	}
	l->len += (size_t)snprintf(l->text + l->len, l->cap - l->len,
				   "%s: %s\n", path, value);
	return 0;
}

static int config_list(struct admin *a, struct linesrv_reply *reply,
		       const struct adminproto_opts *o)
{
	struct list_ctx l;
	char err[EKL_ERRLEN];
	int rv;

	memset(&l, 0, sizeof(l));
	l.json = want_json(o);
	json_init(&l.j);
	if (l.json)
		json_obj_begin(&l.j);
	rv = store_list(repl_store(a->env.repl), list_row, &l, err);
	if (l.json)
		json_obj_end(&l.j);
	if (rv != 0) {
		linesrv_reply_done(reply, false, l.oom ? "out of memory" : err);
		ekl_free(l.text);
	} else if (l.json) {
		respond_json(reply, &l.j);
		ekl_free(l.text);
	} else {
		linesrv_reply_take(reply, true, l.text, l.len);
	}
	json_close(&l.j);
	return 0;
}

static int config_get(struct admin *a, struct linesrv_reply *reply,
		      const struct adminproto_opts *o, const char *path)
{
	char err[EKL_ERRLEN];
	char *value = NULL;
	int rv = store_get(repl_store(a->env.repl), path, &value, err);

	if (rv == EKL_ENOENT) {
		char msg[STORE_PATH_MAX + 64];

		snprintf(msg, sizeof(msg), "no configuration at '%.*s'",
			 STORE_PATH_MAX, path);
		return respond(reply, false, msg);
	}
	if (rv != 0)
		return respond(reply, false, err);
	if (want_json(o)) {
		struct json j;

		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, path);
		json_str(&j, value);
		json_obj_end(&j);
		respond_json(reply, &j);
		json_close(&j);
	} else {
		size_t n = strlen(path) + strlen(value) + 4;
		char *line = ekl_malloc(n);

		if (line == NULL) {
			linesrv_reply_done(reply, false, "out of memory");
		} else {
			snprintf(line, n, "%s: %s\n", path, value);
			linesrv_reply_take(reply, true, line, strlen(line));
		}
	}
	ekl_free(value);
	return 0;
}

/* xConfiguration                 list every row
 * xConfiguration PATH            read one
 * xConfiguration PATH: VALUE     write one (on the primary); the store
 *                                judges the lengths */
static int cmd_configuration(struct admin *a, struct linesrv_reply *reply,
			     const struct adminproto_opts *o, char *arg)
{
	char *colon;

	if (arg[0] == '\0' || strstr(arg, ": ") == NULL)
		/* A read sees the writes queued before it. */
		repl_commit_queued(a->env.repl);
	if (arg[0] == '\0')
		return config_list(a, reply, o);
	colon = strstr(arg, ": ");
	if (colon == NULL) {
		size_t n = strlen(arg);

		if (n > 0 && arg[n - 1] == ':')
			return respond(reply, false,
				       "missing value: use 'xConfiguration "
				       "PATH: VALUE'");
		return config_get(a, reply, o, arg);
	}
	*colon = '\0';
	repl_write(a->env.repl, as_admin_reply(reply), arg, unquote(colon + 2),
		   o->ack_all, (int)o->timeout_ms);
	return 0;
}

/* xCommand ConfigurationDelete Path: PATH
 * xCommand ClusterPrimary Name: NODE   (send it to NODE) */
static int cmd_command(struct admin *a, struct linesrv_reply *reply,
		       const struct adminproto_opts *o, char *arg)
{
	static const char del[] = "ConfigurationDelete Path: ";
	static const char prim[] = "ClusterPrimary Name: ";
	const struct admin_env *n = &a->env;
	char err[EKL_ERRLEN];

	if (strncmp(arg, del, sizeof(del) - 1) == 0) {
		repl_write(n->repl, as_admin_reply(reply),
			   arg + sizeof(del) - 1, NULL, o->ack_all,
			   (int)o->timeout_ms);
		return 0;
	}
	if (strncmp(arg, prim, sizeof(prim) - 1) == 0) {
		const char *who = arg + sizeof(prim) - 1;

		if (strcasecmp(who, n->name) != 0) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "send ClusterPrimary to the node that "
				 "becomes primary (%.60s), not to %s",
				 who, n->name);
			return respond(reply, false, msg);
		}
		if (repl_promote(n->repl, err) != 0)
			return respond(reply, false, err);
		return respond(reply, true, "promoted\n");
	}
	return respond(reply, false,
		       "unknown xCommand; known: 'xCommand ConfigurationDelete "
		       "Path: PATH', 'xCommand ClusterPrimary Name: NODE'");
}

static int cmd_help(struct admin *a, struct linesrv_reply *reply,
		    const struct adminproto_opts *o, char *arg);

static const struct {
	const char *name;
	admin_fn fn;
	const char *help;
} admin_commands[] = {
    {"xStatus Cluster", cmd_status_cluster,
     "links, replication and the database state"},
    {"xStatus Database", cmd_status_database,
     "node, primary, epoch, revision, rows, digest (key value lines)"},
    {"xStatus Links", cmd_status_links,
     "one line per peer: NAME LINK DIRECTION OUT IN REPL REASON APPLIED LAG"},
    {"xStatus Latency", cmd_status_latency,
     "--ack all replication latency p50/p99 (primary); 'reset' clears"},
    {"xConfiguration", cmd_configuration,
     "list; PATH reads one; 'PATH: VALUE' writes (primary only)"},
    {"xCommand", cmd_command,
     "ConfigurationDelete Path: PATH | ClusterPrimary Name: NODE"},
    {"help", cmd_help, "this list"},
};

#define N_COMMANDS (sizeof(admin_commands) / sizeof(admin_commands[0]))

static int cmd_help(struct admin *a, struct linesrv_reply *reply,
		    const struct adminproto_opts *o, char *arg)
{
	char buf[2048];
	size_t len = 0, i;

	(void)a;
	(void)o;
	(void)arg;
	for (i = 0; i < N_COMMANDS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%-16s %s\n", admin_commands[i].name,
					admin_commands[i].help);
	return respond(reply, true, buf);
}

/* linesrv's handler: one parsed request. */
static void admin_handle(void *arg, struct adminproto_request *rq,
			 struct linesrv_reply *reply)
{
	struct admin *a = arg;
	const char *cmd = rq->command;
	char msg[512];
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		size_t n = strlen(admin_commands[i].name);

		if (strncmp(cmd, admin_commands[i].name, n) == 0 &&
		    (cmd[n] == '\0' || cmd[n] == ' ')) {
			admin_commands[i].fn(a, reply, &rq->opts,
					     rq->command + n +
						 (cmd[n] != '\0'));
			return;
		}
	}
	snprintf(msg, sizeof(msg), "unknown command '%.200s'; try 'help'", cmd);
	linesrv_reply_done(reply, false, msg);
}

int admin_start(const struct admin_env *env, const char *path,
		struct admin **out, char *err)
{
	struct admin *a;
	int rv;

	a = ekl_calloc(1, sizeof(*a));
	if (a == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	a->env = *env;
	a->tls_fd = -1;
	rv = linesrv_new(env->loop, admin_handle, a, &a->srv, err);
	if (rv != 0)
		goto err_after_alloc;
	rv = linesrv_listen(a->srv, path, "--admin", "node", err);
	if (rv != 0)
		goto err_after_srv;
	if (env->tls_listen != NULL && (rv = admin_tls_start(a, err)) != 0)
		goto err_after_srv;
	*out = a;
	return 0;

err_after_srv:
	admin_tls_stop(a);
	linesrv_free(a->srv);
err_after_alloc:
	ekl_free(a);
	return rv;
}

void admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	admin_tls_stop(a);
	linesrv_free(a->srv);
	ekl_free(a);
}
