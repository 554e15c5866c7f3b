/* admin.c: the node's admin socket (Unix, 0600) and its command protocol.
 *
 * The happy path: a client connects, writes request lines, and reads one
 * length-prefixed response per line, in order.
 * The failure modes: a line longer than ADMIN_LINE_MAX or a client that
 * stops reading (output over ADMIN_OUT_MAX) is disconnected; an unknown
 * command gets an "err" response naming the commands that exist.
 */
#include "admin.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"
#include "node.h"
#include "repl/repl.h"
#include "store/store.h"

#define ADMIN_LINE_MAX 65536
#define ADMIN_OUT_MAX  (64u << 20)

/* A response slot. Owned by its client's FIFO once ready; while not
 * ready, by whoever will complete it (the client only points at it). */
struct admin_reply {
	struct admin_client *client; /* NULL once the client has gone */
	bool ready;
	bool ok;
	char *body; /* owned */
	struct admin_reply *next;
};

struct admin_client {
	struct admin *admin;	     /* not owned */
	int fd;			     /* owned */
	struct admin_reply *replies; /* FIFO of responses in request order */
	struct admin_reply **replies_tail;
	bool broken; /* output over its limit: close after the next write */
	ev_io rio;
	ev_io wio;
	char *in; /* owned */
	size_t in_len;
	size_t in_cap;
	char *out; /* owned */
	size_t out_len;
	size_t out_cap;
	struct admin_client *next;
};

struct admin {
	struct node *node; /* not owned */
	char *path;	   /* owned */
	int fd;		   /* owned */
	ev_io w;
	struct admin_client *clients; /* owned */
};

static void client_free(struct admin_client *c)
{
	struct admin_client **pp;
	struct ev_loop *loop = c->admin->node->loop;
	struct admin_reply *r = c->replies;

	/* Ready replies are ours; pending ones belong to whoever completes
	 * them: cut them loose. */
	while (r != NULL) {
		struct admin_reply *next = r->next;

		if (r->ready) {
			ekl_free(r->body);
			ekl_free(r);
		} else {
			r->client = NULL;
			r->next = NULL;
		}
		r = next;
	}
	for (pp = &c->admin->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	close(c->fd);
	ekl_free(c->in);
	ekl_free(c->out);
	ekl_free(c);
}

static int out_append(struct admin_client *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *nb;

		while (cap < c->out_len + n)
			cap *= 2;
		if (cap > ADMIN_OUT_MAX)
			return EKL_ENOMEM;
		nb = ekl_realloc(c->out, cap);
		if (nb == NULL)
			return EKL_ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

static void client_flush(struct admin_client *c);

/* Move ready replies from the head of the FIFO to the output buffer. */
static int drain_replies(struct admin_client *c)
{
	while (c->replies != NULL && c->replies->ready) {
		struct admin_reply *r = c->replies;
		char hdr[32];
		size_t n = r->body != NULL ? strlen(r->body) : 0;
		int rv;

		snprintf(hdr, sizeof(hdr), "%s %zu\n", r->ok ? "ok" : "err", n);
		rv = out_append(c, hdr, strlen(hdr));
		if (rv == 0 && n > 0)
			rv = out_append(c, r->body, n);
		if (rv != 0)
			return rv;
		c->replies = r->next;
		if (c->replies == NULL)
			c->replies_tail = &c->replies;
		ekl_free(r->body);
		ekl_free(r);
	}
	return 0;
}

static struct admin_reply *reply_new(struct admin_client *c)
{
	struct admin_reply *r = ekl_calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->client = c;
	*c->replies_tail = r;
	c->replies_tail = &r->next;
	return r;
}

void admin_reply_done(struct admin_reply *r, bool ok, const char *body)
{
	struct admin_client *c = r->client;

	if (c == NULL) { /* the client went away */
		ekl_free(r);
		return;
	}
	r->ok = ok;
	r->body = ekl_strdup(body != NULL ? body : "");
	r->ready = true;
	/* Never write or free from here: we may be inside this client's read
	 * callback. The write watcher does it. */
	if (drain_replies(c) != 0)
		c->broken = true;
	if (c->out_len > 0 || c->broken)
		ev_io_start(c->admin->node->loop, &c->wio);
}

/* Complete a reply now. */
static int respond(struct admin_reply *r, bool ok, const char *body)
{
	admin_reply_done(r, ok, body);
	return 0;
}

/* Commands. Each completes its reply now, or hands it to replication. */
struct request {
	bool json;
	bool ack_all;
	int timeout_ms; /* 0 = the node's default */
};

typedef int (*admin_fn)(struct admin_client *c, struct admin_reply *reply,
			const struct request *rq, const char *arg);

static struct node *node_of(struct admin_client *c)
{
	return c->admin->node;
}

static int cmd_status_cluster(struct admin_client *c, struct admin_reply *reply,
			      const struct request *rq, const char *arg)
{
	char *s;

	if (arg[0] != '\0')
		return respond(reply, false,
			       "xStatus Cluster takes no argument");
	s = node_status(node_of(c), rq->json);
	if (s == NULL)
		return respond(reply, false, "out of memory");
	admin_reply_done(reply, true, s);
	ekl_free(s);
	return 0;
}

/* Machine-friendly summary of the database, one "key value" per line. */
static int cmd_status_database(struct admin_client *c,
			       struct admin_reply *reply,
			       const struct request *rq, const char *arg)
{
	struct store_state st;
	char hex[2 * STORE_DIGEST_LEN + 1], buf[512];

	(void)rq;
	(void)arg;
	store_state(repl_store(node_of(c)->repl), &st);
	store_digest_hex(st.digest, hex);
	snprintf(buf, sizeof(buf),
		 "node %s\nprimary %s\nepoch %lld\nrevision %lld\n"
		 "rev_epoch %lld\nrows %lld\nlog_first %lld\ndigest %s\n",
		 node_of(c)->cfg.name, st.primary[0] ? st.primary : "-",
		 (long long)st.epoch, (long long)st.revision,
		 (long long)st.rev_epoch, (long long)st.rows,
		 (long long)st.log_first, hex);
	return respond(reply, true, buf);
}

/* The link table for scripts: a header line "node NAME primary P
 * revision R", then one line per peer (link_status_line). */
static int cmd_status_links(struct admin_client *c, struct admin_reply *reply,
			    const struct request *rq, const char *arg)
{
	struct node *n = node_of(c);
	struct store_state st;
	size_t cap = 256 + (size_t)n->cfg.n_peers * 256, len;
	char *buf = ekl_malloc(cap);
	int i;

	(void)rq;
	(void)arg;
	if (buf == NULL)
		return respond(reply, false, "out of memory");
	store_state(repl_store(n->repl), &st);
	len = (size_t)snprintf(buf, cap, "node %s primary %s revision %lld\n",
			       n->cfg.name, st.primary[0] ? st.primary : "-",
			       (long long)st.revision);
	for (i = 0; i < n->cfg.n_peers && len < cap; i++) {
		link_status_line(&n->links[i], buf + len, cap - len);
		len += strlen(buf + len);
	}
	admin_reply_done(reply, true, buf);
	ekl_free(buf);
	return 0;
}

/* Replication latency on the primary: commit to applied on every peer, for
 * --ack all writes since the last reset. "reset" clears it. */
static int cmd_status_latency(struct admin_client *c, struct admin_reply *reply,
			      const struct request *rq, const char *arg)
{
	char buf[256];

	(void)rq;
	if (strcmp(arg, "reset") == 0) {
		repl_latency_reset(node_of(c)->repl);
		return respond(reply, true, "reset\n");
	}
	repl_latency_text(node_of(c)->repl, buf, sizeof(buf));
	return respond(reply, true, buf);
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

static int config_list(struct admin_client *c, struct admin_reply *reply,
		       const struct request *rq)
{
	struct list_ctx l;
	char err[EKL_ERRLEN];
	int rv;

	memset(&l, 0, sizeof(l));
	l.json = rq->json;
	json_init(&l.j);
	if (l.json)
		json_obj_begin(&l.j);
	rv = store_list(repl_store(node_of(c)->repl), list_row, &l, err);
	if (l.json)
		json_obj_end(&l.j);
	if (rv != 0)
		admin_reply_done(reply, false, l.oom ? "out of memory" : err);
	else if (l.json)
		admin_reply_done(reply, json_finish(&l.j) != NULL,
				 json_finish(&l.j) != NULL ? json_finish(&l.j)
							   : "out of memory");
	else
		admin_reply_done(reply, true, l.text != NULL ? l.text : "");
	json_close(&l.j);
	ekl_free(l.text);
	return 0;
}

static int config_get(struct admin_client *c, struct admin_reply *reply,
		      const struct request *rq, const char *path)
{
	char err[EKL_ERRLEN];
	char *value = NULL;
	int rv = store_get(repl_store(node_of(c)->repl), path, &value, err);

	if (rv == EKL_ENOENT) {
		char msg[STORE_PATH_MAX + 64];

		snprintf(msg, sizeof(msg), "no configuration at '%.*s'",
			 STORE_PATH_MAX, path);
		return respond(reply, false, msg);
	}
	if (rv != 0)
		return respond(reply, false, err);
	if (rq->json) {
		struct json j;

		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, path);
		json_str(&j, value);
		json_obj_end(&j);
		admin_reply_done(reply, json_finish(&j) != NULL,
				 json_finish(&j) != NULL ? json_finish(&j)
							 : "out of memory");
		json_close(&j);
	} else {
		size_t n = strlen(path) + strlen(value) + 4;
		char *line = ekl_malloc(n);

		if (line == NULL) {
			admin_reply_done(reply, false, "out of memory");
		} else {
			snprintf(line, n, "%s: %s\n", path, value);
			admin_reply_done(reply, true, line);
			ekl_free(line);
		}
	}
	ekl_free(value);
	return 0;
}

/* xConfiguration                 list every row
 * xConfiguration PATH            read one
 * xConfiguration PATH: VALUE     write one (on the primary) */
static int cmd_configuration(struct admin_client *c, struct admin_reply *reply,
			     const struct request *rq, const char *arg)
{
	char buf[STORE_PATH_MAX + STORE_VALUE_MAX + 8];
	char *colon;

	if (arg[0] == '\0')
		return config_list(c, reply, rq);
	if (strlen(arg) >= sizeof(buf))
		return respond(reply, false, "request too long");
	memcpy(buf, arg, strlen(arg) + 1);
	colon = strstr(buf, ": ");
	if (colon == NULL) {
		size_t n = strlen(buf);

		if (n > 0 && buf[n - 1] == ':')
			return respond(reply, false,
				       "missing value: use 'xConfiguration "
				       "PATH: VALUE'");
		return config_get(c, reply, rq, buf);
	}
	*colon = '\0';
	repl_write(node_of(c)->repl, reply, buf, unquote(colon + 2),
		   rq->ack_all, rq->timeout_ms);
	return 0;
}

/* xCommand ConfigurationDelete Path: PATH
 * xCommand ClusterPrimary Name: NODE   (send it to NODE) */
static int cmd_command(struct admin_client *c, struct admin_reply *reply,
		       const struct request *rq, const char *arg)
{
	static const char del[] = "ConfigurationDelete Path: ";
	static const char prim[] = "ClusterPrimary Name: ";
	struct node *n = node_of(c);
	char err[EKL_ERRLEN];

	if (strncmp(arg, del, sizeof(del) - 1) == 0) {
		repl_write(n->repl, reply, arg + sizeof(del) - 1, NULL,
			   rq->ack_all, rq->timeout_ms);
		return 0;
	}
	if (strncmp(arg, prim, sizeof(prim) - 1) == 0) {
		const char *who = arg + sizeof(prim) - 1;

		if (strcasecmp(who, n->cfg.name) != 0) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "send ClusterPrimary to the node that "
				 "becomes primary (%.60s), not to %s",
				 who, n->cfg.name);
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

static int cmd_help(struct admin_client *c, struct admin_reply *reply,
		    const struct request *rq, const char *arg);

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

static int cmd_help(struct admin_client *c, struct admin_reply *reply,
		    const struct request *rq, const char *arg)
{
	char buf[2048];
	size_t len = 0, i;

	(void)c;
	(void)rq;
	(void)arg;
	for (i = 0; i < N_COMMANDS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%-16s %s\n", admin_commands[i].name,
					admin_commands[i].help);
	return respond(reply, true, buf);
}

/* "FORMAT[,ack=all][,timeout=MS] COMMAND" */
static int parse_request(char *line, struct request *rq, char **cmd)
{
	char *sp = strchr(line, ' ');
	char *opt, *save = NULL;

	memset(rq, 0, sizeof(*rq));
	if (sp == NULL)
		return -1;
	*sp = '\0';
	*cmd = sp + 1;
	for (opt = strtok_r(line, ",", &save); opt != NULL;
	     opt = strtok_r(NULL, ",", &save)) {
		if (strcmp(opt, "json") == 0)
			rq->json = true;
		else if (strcmp(opt, "text") == 0)
			rq->json = false;
		else if (strcmp(opt, "ack=all") == 0)
			rq->ack_all = true;
		else if (strcmp(opt, "ack=primary") == 0)
			rq->ack_all = false;
		else if (strncmp(opt, "timeout=", 8) == 0)
			rq->timeout_ms = atoi(opt + 8);
		else
			return -1;
	}
	return 0;
}

static int handle_line(struct admin_client *c, char *line)
{
	struct admin_reply *reply = reply_new(c);
	struct request rq;
	char *cmd;
	size_t i;

	if (reply == NULL)
		return EKL_ENOMEM;
	if (parse_request(line, &rq, &cmd) != 0)
		return respond(reply, false,
			       "request must be 'text|json[,ack=all]"
			       "[,timeout=MS] COMMAND'");
	for (i = 0; i < N_COMMANDS; i++) {
		size_t n = strlen(admin_commands[i].name);

		if (strncmp(cmd, admin_commands[i].name, n) == 0 &&
		    (cmd[n] == '\0' || cmd[n] == ' '))
			return admin_commands[i].fn(c, reply, &rq,
						    cmd[n] ? cmd + n + 1 : "");
	}
	{
		char msg[512];

		snprintf(msg, sizeof(msg),
			 "unknown command '%.200s'; try 'help'", cmd);
		return respond(reply, false, msg);
	}
}

static void client_flush(struct admin_client *c)
{
	struct ev_loop *loop = c->admin->node->loop;

	if (c->broken) {
		client_free(c);
		return;
	}
	while (c->out_len > 0) {
		ssize_t w = write(c->fd, c->out, c->out_len);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_free(c);
			return;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	if (c->out_len > 0)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	client_flush(container_of(w, struct admin_client, wio));
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_client *c = container_of(w, struct admin_client, rio);
	char *nl;
	ssize_t r;

	(void)loop;
	(void)revents;
	if (c->in_cap - c->in_len < 4096) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
		char *nb;

		if (cap > ADMIN_LINE_MAX * 2 ||
		    (nb = ekl_realloc(c->in, cap)) == NULL) {
			client_free(c);
			return;
		}
		c->in = nb;
		c->in_cap = cap;
	}
	r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
	if (r < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		client_free(c);
		return;
	}
	c->in_len += (size_t)r;
	c->in[c->in_len] = '\0';
	while ((nl = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t used = (size_t)(nl - c->in) + 1;

		*nl = '\0';
		if (nl > c->in && nl[-1] == '\r')
			nl[-1] = '\0';
		if (handle_line(c, c->in) != 0) {
			client_free(c);
			return;
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		c->in[c->in_len] = '\0';
	}
	if (c->in_len > ADMIN_LINE_MAX) {
		client_free(c);
		return;
	}
	client_flush(c);
}

static void on_admin_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin *a = container_of(w, struct admin, w);

	(void)revents;
	for (;;) {
		struct admin_client *c;
		int fd =
		    accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		c = ekl_calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->admin = a;
		c->fd = fd;
		c->replies_tail = &c->replies;
		ev_io_init(&c->rio, on_client_read, fd, EV_READ);
		ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
		ev_io_start(loop, &c->rio);
		c->next = a->clients;
		a->clients = c;
	}
}

int admin_start(struct node *n, const char *path, struct admin **out, char *err)
{
	struct admin *a;
	int rv;

	a = ekl_calloc(1, sizeof(*a));
	if (a == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	a->node = n;
	a->fd = -1;
	a->path = ekl_strdup(path);
	if (a->path == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto err_after_alloc;
	}
	rv = addr_listen_unix(path, "--admin", "node", &a->fd, err);
	if (rv != 0)
		goto err_after_alloc;
	ev_io_init(&a->w, on_admin_accept, a->fd, EV_READ);
	ev_io_start(n->loop, &a->w);
	*out = a;
	return 0;

err_after_alloc:
	ekl_free(a->path);
	ekl_free(a);
	return rv;
}

void admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	while (a->clients != NULL)
		client_free(a->clients);
	ev_io_stop(a->node->loop, &a->w);
	close(a->fd);
	unlink(a->path);
	ekl_free(a->path);
	ekl_free(a);
}
