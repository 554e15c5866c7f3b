/* node_status.c: a node's state, typed, from its admin socket's JSON. */
#include "node_status.h"

#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

static const struct adminproto_opts json_opts = {ADMINPROTO_JSON, false, 0};

/* Fetch `json COMMAND` and parse it; *doc owned by the caller. */
static int fetch(int fd, const char *command, struct jsonr_doc **doc, char *err)
{
	char *body = NULL, jerr[EKL_ERRLEN];
	int rv = admin_client_get(fd, &json_opts, command, &body, err);

	*doc = NULL;
	if (rv != 0)
		return rv;
	rv = jsonr_parse(body, strlen(body), doc, jerr);
	ekl_free(body);
	if (rv != 0)
		return ekl_errf(err, rv == EKL_ENOMEM ? EKL_ENOMEM : EKL_EPROTO,
				"'%s': %s", command, jerr);
	return 0;
}

static int parse(const char *what, const char *json, size_t len,
		 struct jsonr_doc **doc, char *err)
{
	char jerr[EKL_ERRLEN];
	int rv = jsonr_parse(json, len, doc, jerr);

	if (rv != 0)
		return ekl_errf(err, rv == EKL_ENOMEM ? EKL_ENOMEM : EKL_EPROTO,
				"'%s': %s", what, jerr);
	if (!jsonr_is(jsonr_root(*doc), JSONR_OBJECT)) {
		jsonr_free(*doc);
		*doc = NULL;
		return ekl_errf(err, EKL_EPROTO, "'%s': not a JSON object",
				what);
	}
	return 0;
}

/* Field readers: false (with err naming the field) when the field is
 * missing, of another type, or too long. */
struct reader {
	const char *what; /* the command, for messages */
	char *err;
	int rv;
};

static bool bad(struct reader *r, const char *field, const char *want)
{
	if (r->rv == 0)
		r->rv = ekl_errf(r->err, EKL_EPROTO,
				 "'%s': \"%s\" is missing or not %s; is this "
				 "an ekunode?",
				 r->what, field, want);
	return false;
}

/* A string into buf; null gives `if_null` when that is not NULL. */
static bool str(struct reader *r, const struct jsonr_value *o,
		const char *field, char *buf, size_t len, const char *if_null)
{
	const struct jsonr_value *v = jsonr_get(o, field);
	const char *s = jsonr_str(v);

	if (s == NULL && if_null != NULL && jsonr_is(v, JSONR_NULL))
		s = if_null;
	if (s == NULL || strlen(s) >= len)
		return bad(r, field,
			   if_null != NULL ? "a string or null" : "a string");
	memcpy(buf, s, strlen(s) + 1);
	return true;
}

static bool i64(struct reader *r, const struct jsonr_value *o,
		const char *field, int64_t *out)
{
	if (!jsonr_get_int(o, field, out))
		return bad(r, field, "an integer");
	return true;
}

/* An integer, or null read as `if_null`. */
static bool i64_or(struct reader *r, const struct jsonr_value *o,
		   const char *field, int64_t if_null, int64_t *out)
{
	if (jsonr_is(jsonr_get(o, field), JSONR_NULL)) {
		*out = if_null;
		return true;
	}
	return i64(r, o, field, out);
}

static bool digest(struct reader *r, const struct jsonr_value *o, char *buf)
{
	if (!str(r, o, "digest", buf, NODE_STATUS_DIGEST + 1, NULL) ||
	    strlen(buf) != NODE_STATUS_DIGEST)
		return bad(r, "digest", "64 hex digits");
	return true;
}

/* ---- xStatus Cluster ---- */

/* One direction: "up", the last failure's code, or "-". */
static bool direction(struct reader *r, const struct jsonr_value *peer,
		      const char *conn_field, const char *err_field, char *buf)
{
	const struct jsonr_value *c = jsonr_get(peer, conn_field);
	const struct jsonr_value *e = jsonr_get(peer, err_field);
	const char *state = jsonr_get_str(c, "state");

	if (c == NULL || (!jsonr_is(c, JSONR_NULL) && state == NULL))
		return bad(r, conn_field, "a connection object or null");
	if (state != NULL && strcmp(state, "up") == 0) {
		snprintf(buf, NODE_STATUS_CODE_MAX, "up");
		return true;
	}
	if (jsonr_is(e, JSONR_NULL)) {
		snprintf(buf, NODE_STATUS_CODE_MAX, "-");
		return true;
	}
	return str(r, e, "code", buf, NODE_STATUS_CODE_MAX, NULL) ||
	       bad(r, err_field, "an error object or null");
}

/* The optional details of one direction: depth and side of its failure,
 * the unenforced code of its connection. */
static void direction_details(const struct jsonr_value *peer,
			      const char *conn_field, const char *err_field,
			      int *depth, char *by, size_t by_len,
			      char *unenforced)
{
	const struct jsonr_value *e = jsonr_get(peer, err_field);
	const char *side = jsonr_get_str(e, "rejected_by");
	const char *u =
	    jsonr_get_str(jsonr_get(peer, conn_field), "unenforced");
	int64_t d;

	*depth =
	    jsonr_get_int(e, "depth", &d) && d >= 0 && d < 100 ? (int)d : -1;
	snprintf(by, by_len, "%s", side != NULL ? side : "");
	snprintf(unenforced, NODE_STATUS_CODE_MAX, "%s", u != NULL ? u : "");
}

static bool peer_from(struct reader *r, const struct jsonr_value *o,
		      struct node_peer_status *p)
{
	const struct jsonr_value *rep = jsonr_get(o, "replication");
	const char *link = jsonr_get_str(o, "link");
	const char *dir = jsonr_get_str(o, "direction");

	if (!str(r, o, "name", p->name, sizeof(p->name), NULL))
		return false;
	if (link == NULL)
		return bad(r, "link", "a string");
	p->link_up = strcmp(link, "up") == 0;
	p->outbound = dir != NULL && strcmp(dir, "outbound") == 0;
	if (!direction(r, o, "outbound", "outbound_error", p->out) ||
	    !direction(r, o, "inbound", "inbound_error", p->in))
		return false;
	direction_details(o, "outbound", "outbound_error", &p->out_depth,
			  p->out_by, sizeof(p->out_by), p->out_unenforced);
	direction_details(o, "inbound", "inbound_error", &p->in_depth, p->in_by,
			  sizeof(p->in_by), p->in_unenforced);
	if (!jsonr_get_bool(o, "dial", &p->dial))
		p->dial = true;
	if (!jsonr_get_bool(o, "accept", &p->accept))
		p->accept = true;
	if (jsonr_is(rep, JSONR_NULL)) {
		p->replicates = false;
		snprintf(p->repl, sizeof(p->repl), "-");
		snprintf(p->reason, sizeof(p->reason), "-");
		p->applied = p->lag = -1;
		return true;
	}
	if (!jsonr_is(rep, JSONR_OBJECT))
		return bad(r, "replication", "an object or null");
	p->replicates = true;
	return str(r, rep, "state", p->repl, sizeof(p->repl), NULL) &&
	       str(r, rep, "reason", p->reason, sizeof(p->reason), "-") &&
	       i64(r, rep, "applied_revision", &p->applied) &&
	       i64(r, rep, "lag", &p->lag) &&
	       i64_or(r, rep, "snapshots", 0, &p->snapshots);
}

static int status_from(const struct jsonr_value *root, struct node_status *st,
		       char *err)
{
	struct reader r = {"xStatus Cluster", err, 0};
	const struct jsonr_value *peers = jsonr_get(root, "peers"), *v;
	size_t i = 0;

	memset(st, 0, sizeof(*st));
	if (!str(&r, root, "node", st->node, sizeof(st->node), NULL) ||
	    !str(&r, root, "cluster", st->cluster, sizeof(st->cluster), NULL) ||
	    !str(&r, root, "version", st->version, sizeof(st->version), NULL) ||
	    !str(&r, root, "verify", st->verify, sizeof(st->verify), NULL) ||
	    !str(&r, root, "primary", st->primary, sizeof(st->primary), "") ||
	    !i64(&r, root, "epoch", &st->epoch) ||
	    !i64(&r, root, "revision", &st->revision) ||
	    !i64(&r, root, "rows", &st->rows) || !digest(&r, root, st->digest))
		return r.rv;
	if (!jsonr_is(peers, JSONR_ARRAY)) {
		bad(&r, "peers", "an array");
		return r.rv;
	}
	st->n_unknown_callers = jsonr_len(jsonr_get(root, "unknown_callers"));
	{
		const char *lr = jsonr_get_str(root, "link_rule");

		snprintf(st->link_rule, sizeof(st->link_rule), "%.20s",
			 lr != NULL ? lr : "");
		if (!jsonr_get_int(root, "pid", &st->pid))
			st->pid = -1;
		if (!jsonr_get_int(root, "uptime_ms", &st->uptime_ms))
			st->uptime_ms = -1;
	}
	{
		const char *kind = jsonr_get_str(root, "kind");
		const struct jsonr_value *zs = jsonr_get(root, "zones");

		snprintf(st->kind, sizeof(st->kind), "%.20s",
			 kind != NULL ? kind : "expressway");
		if (jsonr_is(zs, JSONR_ARRAY) && jsonr_len(zs) > 0) {
			st->zones =
			    ekl_calloc(jsonr_len(zs), sizeof(*st->zones));
			if (st->zones == NULL)
				return ekl_errf(err, EKL_ENOMEM,
						"out of memory");
			for (v = jsonr_first(zs); v != NULL; v = v->next) {
				struct node_zone_status *z =
				    &st->zones[st->n_zones];
				const char *dir = jsonr_get_str(v, "direction");
				const char *by = jsonr_get_str(v, "by");
				int64_t d;

				if (!str(&r, v, "service", z->service,
					 sizeof(z->service), NULL) ||
				    !str(&r, v, "peer", z->peer,
					 sizeof(z->peer), NULL) ||
				    !str(&r, v, "state", z->state,
					 sizeof(z->state), NULL) ||
				    !str(&r, v, "code", z->code,
					 sizeof(z->code), NULL) ||
				    dir == NULL) {
					node_status_free(st);
					return r.rv != 0
						   ? r.rv
						   : ekl_errf(err, EKL_EPROTO,
							      "xStatus "
							      "Cluster: "
							      "zones: no "
							      "direction");
				}
				z->outbound = strcmp(dir, "outbound") == 0;
				if (!jsonr_get_int(v, "age_ms", &z->age_ms))
					z->age_ms = -1;
				snprintf(z->by, sizeof(z->by), "%.15s",
					 by != NULL ? by : "");
				z->depth = jsonr_get_int(v, "depth", &d) &&
						   d >= 0 && d < 100
					       ? (int)d
					       : -1;
				st->n_zones++;
			}
		}
	}
	st->peers = ekl_calloc(jsonr_len(peers) + 1, sizeof(*st->peers));
	if (st->peers == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (v = jsonr_first(peers); v != NULL; v = v->next, i++) {
		if (!peer_from(&r, v, &st->peers[i])) {
			node_status_free(st);
			return r.rv;
		}
		st->n_peers = i + 1;
	}
	return 0;
}

int node_status_parse(const char *json, size_t len, struct node_status *st,
		      char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = parse("xStatus Cluster", json, len, &doc, err);

	memset(st, 0, sizeof(*st));
	if (rv != 0)
		return rv;
	rv = status_from(jsonr_root(doc), st, err);
	jsonr_free(doc);
	return rv;
}

int node_status_get(int fd, struct node_status *st, char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = fetch(fd, "xStatus Cluster", &doc, err);

	memset(st, 0, sizeof(*st));
	if (rv != 0)
		return rv;
	rv = status_from(jsonr_root(doc), st, err);
	jsonr_free(doc);
	return rv;
}

void node_status_free(struct node_status *st)
{
	ekl_free(st->zones);
	st->zones = NULL;
	st->n_zones = 0;
	ekl_free(st->peers);
	st->peers = NULL;
	st->n_peers = 0;
}

const struct node_peer_status *node_status_peer(const struct node_status *st,
						const char *name)
{
	size_t i;

	for (i = 0; i < st->n_peers; i++)
		if (strcmp(st->peers[i].name, name) == 0)
			return &st->peers[i];
	return NULL;
}

/* ---- xStatus Database ---- */

static int database_from(const struct jsonr_value *root,
			 struct node_database *db, char *err)
{
	struct reader r = {"xStatus Database", err, 0};

	memset(db, 0, sizeof(*db));
	if (!str(&r, root, "node", db->node, sizeof(db->node), NULL) ||
	    !str(&r, root, "primary", db->primary, sizeof(db->primary), "") ||
	    !i64(&r, root, "epoch", &db->epoch) ||
	    !i64(&r, root, "revision", &db->revision) ||
	    !i64(&r, root, "rev_epoch", &db->rev_epoch) ||
	    !i64(&r, root, "rows", &db->rows) ||
	    !i64(&r, root, "log_first", &db->log_first) ||
	    !digest(&r, root, db->digest))
		return r.rv;
	return 0;
}

int node_database_parse(const char *json, size_t len, struct node_database *db,
			char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = parse("xStatus Database", json, len, &doc, err);

	if (rv == 0)
		rv = database_from(jsonr_root(doc), db, err);
	jsonr_free(doc);
	return rv;
}

int node_database_get(int fd, struct node_database *db, char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = fetch(fd, "xStatus Database", &doc, err);

	if (rv == 0)
		rv = database_from(jsonr_root(doc), db, err);
	jsonr_free(doc);
	return rv;
}

/* ---- xStatus Latency ---- */

static int latency_from(const struct jsonr_value *root,
			struct node_latency *lat, char *err)
{
	struct reader r = {"xStatus Latency", err, 0};

	memset(lat, 0, sizeof(*lat));
	if (!i64(&r, root, "count", &lat->count) ||
	    !i64_or(&r, root, "p50_us", 0, &lat->p50_us) ||
	    !i64_or(&r, root, "p99_us", 0, &lat->p99_us) ||
	    !i64_or(&r, root, "max_us", 0, &lat->max_us) ||
	    !i64(&r, root, "groups", &lat->groups) ||
	    !i64(&r, root, "writes", &lat->writes))
		return r.rv;
	return 0;
}

int node_latency_parse(const char *json, size_t len, struct node_latency *lat,
		       char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = parse("xStatus Latency", json, len, &doc, err);

	if (rv == 0)
		rv = latency_from(jsonr_root(doc), lat, err);
	jsonr_free(doc);
	return rv;
}

int node_latency_get(int fd, struct node_latency *lat, char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = fetch(fd, "xStatus Latency", &doc, err);

	if (rv == 0)
		rv = latency_from(jsonr_root(doc), lat, err);
	jsonr_free(doc);
	return rv;
}

int node_latency_reset(int fd, char *err)
{
	char *body = NULL;
	int rv = admin_client_get(fd, &json_opts, "xStatus Latency reset",
				  &body, err);

	ekl_free(body);
	return rv;
}

/* ---- xConfiguration ---- */

static int rows_from(struct jsonr_doc *doc, struct node_rows *rows, char *err)
{
	const struct jsonr_value *v;
	size_t i = 0;

	rows->row =
	    ekl_calloc(jsonr_len(jsonr_root(doc)) + 1, sizeof(*rows->row));
	if (rows->row == NULL) {
		jsonr_free(doc);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	for (v = jsonr_first(jsonr_root(doc)); v != NULL; v = v->next, i++) {
		if (jsonr_str(v) == NULL) {
			int rv = ekl_errf(err, EKL_EPROTO,
					  "'xConfiguration': the value of "
					  "\"%.80s\" is not a string",
					  v->key);

			ekl_free(rows->row);
			rows->row = NULL;
			jsonr_free(doc);
			return rv;
		}
		rows->row[i].path = v->key;
		rows->row[i].value = jsonr_str(v);
	}
	rows->n = i;
	rows->doc = doc;
	return 0;
}

int node_rows_parse(const char *json, size_t len, struct node_rows *rows,
		    char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = parse("xConfiguration", json, len, &doc, err);

	memset(rows, 0, sizeof(*rows));
	if (rv != 0)
		return rv;
	return rows_from(doc, rows, err);
}

int node_rows_get(int fd, struct node_rows *rows, char *err)
{
	struct jsonr_doc *doc = NULL;
	int rv = fetch(fd, "xConfiguration", &doc, err);

	memset(rows, 0, sizeof(*rows));
	if (rv != 0)
		return rv;
	if (!jsonr_is(jsonr_root(doc), JSONR_OBJECT)) {
		jsonr_free(doc);
		return ekl_errf(err, EKL_EPROTO,
				"'xConfiguration': not a JSON object");
	}
	return rows_from(doc, rows, err);
}

void node_rows_free(struct node_rows *rows)
{
	ekl_free(rows->row);
	jsonr_free(rows->doc);
	memset(rows, 0, sizeof(*rows));
}
