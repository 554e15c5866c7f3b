/* link.c: the link to one configured peer: dialling, connections, status.
 *
 * The happy path: link_start() dials at once; the outbound conn reaches UP
 * and becomes (or stands by as) the carrier; the peer's own dial arrives as
 * an inbound conn that node.c identifies by its Hello and hands over with
 * link_adopt_inbound(). The owner hears of it through struct link_ops:
 * conn_up for each conn that passes Hello, changed on every up/down or
 * carrier change, frame for every replication message.
 *
 * The failure modes: an outbound failure is recorded as out_err and a
 * redial is scheduled with exponential backoff (100 ms doubling to
 * backoff_max_ms, reset once a connection comes up); an inbound failure is
 * recorded as in_err. An error is cleared when its direction comes up.
 *
 * Invariants:
 *   1. At most one outbound and one inbound conn at a time.
 *   2. The redial timer runs only while there is no outbound conn.
 *   3. out_err/in_err describe the most recent failure of a direction
 *      that is not currently up.
 */
#include "link.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"

#define BACKOFF_MIN_MS 100

static void on_redial(struct ev_loop *loop, ev_timer *w, int revents);
static void out_up(struct conn *c);
static void out_closed(struct conn *c);
static void in_up(struct conn *c);
static void in_closed(struct conn *c);

static void on_frame(struct conn *c, const Ekl__Envelope *env);

static const struct conn_ops out_ops = {out_up, out_closed, on_frame};
static const struct conn_ops in_ops = {in_up, in_closed, on_frame};

static void on_frame(struct conn *c, const Ekl__Envelope *env)
{
	struct link *l = c->owner;

	l->cfg.ops->frame(l, c, env);
}

const char *link_rule_name(enum link_rule r)
{
	return r == LINK_RULE_EITHER ? "either" : "both";
}

bool link_rule_linked(enum link_rule rule, bool dial, bool accept, bool out_up,
		      bool in_up)
{
	bool out_ok = dial && out_up, in_ok = accept && in_up;

	if (!dial && !accept)
		return false;
	if (rule == LINK_RULE_EITHER)
		return out_ok || in_ok;
	return (!dial || out_ok) && (!accept || in_ok);
}

void link_init(struct link *l, const struct link_config *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	l->backoff_ms = BACKOFF_MIN_MS;
	ev_init(&l->redial, on_redial);
}

static void schedule_redial(struct link *l)
{
	struct ev_loop *loop = l->cfg.env->loop;

	ev_timer_stop(loop, &l->redial);
	ev_timer_set(&l->redial, l->backoff_ms / 1000.0, 0.);
	ev_timer_start(loop, &l->redial);
	l->backoff_ms *= 2;
	if (l->backoff_ms > l->cfg.backoff_max_ms)
		l->backoff_ms = l->cfg.backoff_max_ms;
}

void link_start(struct link *l)
{
	if (!l->cfg.dial)
		return; /* dial=no: we only accept this peer's connections */
	ev_timer_set(&l->redial, 0., 0.);
	ev_timer_start(l->cfg.env->loop, &l->redial);
}

void link_stop(struct link *l)
{
	ev_timer_stop(l->cfg.env->loop, &l->redial);
	/* Say goodbye so the peer records a shutdown, not a broken link. */
	if (l->out != NULL)
		conn_close(l->out, "shutdown", "peer node stopping");
	if (l->in != NULL)
		conn_close(l->in, "shutdown", "peer node stopping");
	conn_free(l->out);
	conn_free(l->in);
	l->out = l->in = NULL;
}

bool link_is_up(const struct link *l)
{
	return link_carrier(l) != NULL;
}

struct conn *link_carrier(const struct link *l)
{
	bool out_up_ =
	    l->cfg.dial && l->out != NULL && l->out->state == CONN_UP;
	bool in_up_ = l->cfg.accept && l->in != NULL && l->in->state == CONN_UP;

	if (!link_rule_linked(l->cfg.rule, l->cfg.dial, l->cfg.accept, out_up_,
			      in_up_))
		return NULL;
	if (out_up_ && in_up_)
		/* Both directions work: the lower name's dial carries it
		 * (names compare case-insensitively, as everywhere). */
		return strcasecmp(l->cfg.env->name, l->cfg.name) < 0 ? l->out
								     : l->in;
	return out_up_ ? l->out : l->in;
}

void link_send_all(struct link *l, const Ekl__Envelope *env)
{
	if (l->out != NULL && l->out->state == CONN_UP)
		conn_send(l->out, env);
	if (l->in != NULL && l->in->state == CONN_UP)
		conn_send(l->in, env);
}

const char *link_down_reason(const struct link *l)
{
	static const char *const cert_codes[] = {
	    "untrusted",      "expired",	"not-yet-valid",
	    "name-mismatch",  "server-purpose", "client-purpose",
	    "no-certificate",
	};
	/* Only the directions that exist, and only while they are not up
	 * (an error is cleared when its direction comes up). */
	bool out = l->cfg.dial && l->out_err_set;
	bool in = l->cfg.accept && l->in_err_set;
	size_t i;

	for (i = 0; i < sizeof(cert_codes) / sizeof(cert_codes[0]); i++) {
		if (out && strcmp(l->out_err.code, cert_codes[i]) == 0)
			return cert_codes[i];
		if (in && strcmp(l->in_err.code, cert_codes[i]) == 0)
			return cert_codes[i];
	}
	if (out)
		return l->out_err.code;
	if (in)
		return l->in_err.code;
	return "link-down";
}

static bool is_cert_code(const char *code)
{
	enum pol_code c;

	return pol_code_parse(code, &c) == 0 && c != POL_OK;
}

void link_explain(const char *peer, bool outbound, const struct conn_err *e,
		  char *buf, size_t len)
{
	/* Did we reject the peer's certificate (else the peer rejected
	 * ours)? We are the initiator of our outbound connections. */
	bool ours =
	    e->side == (outbound ? POL_SIDE_INITIATOR : POL_SIDE_ACCEPTOR);
	const char *c = e->code;
	char whose[160];

	if (e->depth > 0)
		snprintf(whose, sizeof(whose),
			 "the CA at depth %d of %.63s's chain", e->depth, peer);
	else
		snprintf(whose, sizeof(whose), "%.63s's certificate", peer);
	if (is_cert_code(c) && e->side != POL_SIDE_NONE && !ours) {
		const char *what = "it fails the peer's check";

		if (strcmp(c, "client-purpose") == 0)
			what = "it has no clientAuth EKU";
		else if (strcmp(c, "server-purpose") == 0)
			what = "it has no serverAuth EKU";
		else if (strcmp(c, "untrusted") == 0)
			what = "its issuer is not in the peer's trust bundle";
		else if (strcmp(c, "expired") == 0)
			what = "it (or its chain) has expired";
		else if (strcmp(c, "not-yet-valid") == 0)
			what = "it (or its chain) is not valid yet";
		else if (strcmp(c, "name-mismatch") == 0)
			what = "it does not name us as the peer expects";
		else if (strcmp(c, "no-certificate") == 0)
			what = "we presented none";
		snprintf(buf, len, "%.63s rejected our certificate: %s", peer,
			 what);
	} else if (strcmp(c, "client-purpose") == 0) {
		snprintf(buf, len, "%s has no clientAuth EKU", whose);
	} else if (strcmp(c, "server-purpose") == 0) {
		snprintf(buf, len, "%s has no serverAuth EKU", whose);
	} else if (strcmp(c, "untrusted") == 0) {
		snprintf(buf, len,
			 "%.63s's certificate does not chain to a root in our "
			 "trust bundle",
			 peer);
	} else if (strcmp(c, "expired") == 0) {
		snprintf(buf, len, "%s has expired", whose);
	} else if (strcmp(c, "not-yet-valid") == 0) {
		snprintf(buf, len, "%s is not valid yet", whose);
	} else if (strcmp(c, "name-mismatch") == 0) {
		snprintf(buf, len,
			 outbound ? "%.63s's certificate does not name %.63s"
				  : "%.63s's certificate names none of our "
				    "peers",
			 peer, peer);
	} else if (strcmp(c, "no-certificate") == 0) {
		snprintf(buf, len, "%.63s presented no certificate", peer);
	} else if (strcmp(c, "connect-failed") == 0) {
		snprintf(buf, len, "we cannot connect to %.63s", peer);
	} else if (strcmp(c, "timeout") == 0) {
		snprintf(buf, len,
			 "%.63s went silent (no frame within the dead or "
			 "handshake time)",
			 peer);
	} else if (strcmp(c, "closed") == 0 || strcmp(c, "shutdown") == 0) {
		snprintf(buf, len, "%.63s closed the connection", peer);
	} else if (strcmp(c, "tls") == 0) {
		snprintf(buf, len, "the TLS handshake with %.63s failed", peer);
	} else if (strcmp(c, "not-dialled") == 0) {
		snprintf(buf, len,
			 "%.63s dialled us although it is configured "
			 "accept=no here",
			 peer);
	} else {
		snprintf(buf, len, "the connection with %.63s failed", peer);
	}
}

/* Log a direction's failure at warn when its reason first appears or
 * changes (code, depth, who rejected): once, not on every retry. */
static void note_failure(struct link *l, bool outbound,
			 const struct conn_err *e)
{
	bool *set = outbound ? &l->out_logged_set : &l->in_logged_set;
	struct conn_err *last = outbound ? &l->out_logged : &l->in_logged;
	char sentence[320], depth[24] = "";

	if (*set && strcmp(last->code, e->code) == 0 &&
	    last->depth == e->depth && last->side == e->side)
		return;
	*last = *e;
	*set = true;
	if (e->depth >= 0)
		snprintf(depth, sizeof(depth), " at depth %d", e->depth);
	link_explain(l->cfg.name, outbound, e, sentence, sizeof(sentence));
	ekl_warn("peer %s %s: %s%s: %s (%s)", l->cfg.name,
		 outbound ? "outbound" : "inbound", e->code, depth, sentence,
		 e->message);
}

/* Log link transitions (up/down), once each, and let the owner
 * (replication) follow the carrier. */
static void note_transition(struct link *l, const struct conn_err *why)
{
	struct conn *c;
	bool up;

	l->cfg.ops->changed(l);
	/* After the owner followed the change: it may have closed a
	 * connection (a send that failed), so the link may be down again
	 * (its closed callback brings us back here). Computed before, `up`
	 * could name a carrier that is gone. */
	c = link_carrier(l);
	up = c != NULL;
	if (up && !l->was_up) {
		l->up_since = ev_now(l->cfg.env->loop);
		ekl_info("link %s up (%s, %s)", l->cfg.name,
			 c->side == POL_SIDE_INITIATOR ? "outbound" : "inbound",
			 tls_conn_version(c->tls));
	} else if (!up && l->was_up) {
		ekl_warn("link %s down: %s: %s", l->cfg.name,
			 why != NULL ? why->code : "closed",
			 why != NULL ? why->message : "");
	}
	l->was_up = up;
}

static void on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = container_of(w, struct link, redial);
	char err[EKL_ERRLEN];

	(void)loop;
	(void)revents;
	if (l->out != NULL)
		return;
	if (conn_dial(l->cfg.env, &out_ops, l, l->cfg.addr, l->cfg.name,
		      &l->out, err) != 0) {
		l->out = NULL;
		snprintf(l->out_err.code, sizeof(l->out_err.code),
			 "connect-failed");
		snprintf(l->out_err.message, sizeof(l->out_err.message),
			 "%.255s", err);
		l->out_err.depth = -1;
		l->out_err.side = POL_SIDE_NONE;
		l->out_err.at = ev_now(l->cfg.env->loop);
		l->out_err_set = true;
		l->out_failures++;
		note_failure(l, true, &l->out_err);
		schedule_redial(l);
	}
}

static void out_up(struct conn *c)
{
	struct link *l = c->owner;

	l->out_err_set = false;
	l->out_logged_set = false;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->cfg.ops->conn_up(l, c);
	note_transition(l, NULL);
}

static void out_closed(struct conn *c)
{
	struct link *l = c->owner;

	l->out_err = c->err;
	l->out_err_set = true;
	l->out_failures++;
	if (strcmp(c->err.code, "connect-failed") != 0 &&
	    strcmp(c->err.code, "closed") != 0)
		ekl_debug("outbound to %s failed: %s: %s", l->cfg.name,
			  c->err.code, c->err.message);
	note_failure(l, true, &l->out_err);
	l->out = NULL;
	conn_free(c);
	note_transition(l, &l->out_err);
	schedule_redial(l);
}

static void in_up(struct conn *c)
{
	(void)c; /* inbound conns come up in node.c, then get adopted */
}

static void in_closed(struct conn *c)
{
	struct link *l = c->owner;

	l->in_err = c->err;
	l->in_err_set = true;
	l->in_failures++;
	note_failure(l, false, &l->in_err);
	if (l->in == c)
		l->in = NULL;
	conn_free(c);
	note_transition(l, &l->in_err);
}

void link_adopt_inbound(struct link *l, struct conn *c)
{
	struct conn *old = l->in;

	c->ops = &in_ops;
	c->owner = l;
	l->in = c;
	l->in_err_set = false;
	l->in_logged_set = false;
	if (old != NULL) {
		/* The peer reconnected: the new connection replaces it. */
		old->owner = NULL;
		conn_free(old);
	}
	l->cfg.ops->conn_up(l, c);
	note_transition(l, NULL);
}

void link_note_inbound_failure(struct link *l, const struct conn *c)
{
	l->in_err = c->err;
	l->in_err_set = true;
	l->in_failures++;
	note_failure(l, false, &l->in_err);
}

static void err_json(struct json *j, bool set, const struct conn_err *e)
{
	if (!set) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_key(j, "code");
	json_str(j, e->code);
	json_key(j, "depth");
	if (e->depth >= 0)
		json_int(j, e->depth);
	else
		json_null(j);
	json_key(j, "message");
	json_str(j, e->message);
	json_key(j, "rejected_by");
	json_str(j, e->side == POL_SIDE_NONE ? NULL : pol_side_name(e->side));
	json_obj_end(j);
}

static void conn_json(struct json *j, const struct conn *c)
{
	const struct tls_verify *v;

	if (c == NULL) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_key(j, "state");
	json_str(j, conn_state_name(c->state));
	json_key(j, "remote");
	json_str(j, c->remote);
	if (c->tls != NULL && c->state >= CONN_HELLO) {
		v = tls_conn_verify(c->tls);
		json_key(j, "tls_version");
		json_str(j, tls_conn_version(c->tls));
		json_key(j, "cipher");
		json_str(j, tls_conn_cipher(c->tls));
		json_key(j, "peer_subject");
		json_str(j, v->have_cert ? v->subject : NULL);
		json_key(j, "peer_eku");
		json_arr_begin(j);
		if (v->eku & POL_EKU_SERVER)
			json_str(j, "serverAuth");
		if (v->eku & POL_EKU_CLIENT)
			json_str(j, "clientAuth");
		if (v->eku & POL_EKU_ANY)
			json_str(j, "anyExtendedKeyUsage");
		if (v->eku & POL_EKU_OTHER)
			json_str(j, "other");
		json_arr_end(j);
		json_key(j, "peer_eku_extension");
		json_bool(j, (v->eku & POL_EKU_EXT) != 0);
		/* What verification saw but did not enforce (permissive, or
		 * a purpose error skipped by the ClusterDB bypass). */
		json_key(j, "unenforced");
		json_str(j, !v->rejected && v->code != POL_OK
				? pol_code_name(v->code)
				: NULL);
	}
	if (c->state == CONN_UP) {
		json_key(j, "peer_version");
		json_str(j, c->peer_version);
		json_key(j, "peer_role");
		json_str(j, c->peer_role);
		json_key(j, "frames_in");
		json_int(j, (int64_t)c->frames_in);
	}
	json_obj_end(j);
}

static const char *dir_text(const struct conn *c, bool set,
			    const struct conn_err *e)
{
	if (c != NULL && c->state == CONN_UP)
		return "up";
	if (set)
		return e->code;
	return "-";
}

void link_status_line(const struct link *l, char *buf, size_t len)
{
	struct conn *carrier = link_carrier(l);
	const char *state = "-", *reason = NULL;
	int64_t applied = -1, lag = -1;

	(void)l->cfg.ops->repl_view(l, &state, &reason, &applied, &lag);
	snprintf(buf, len, "%s %s %s %s %s %s %s %lld %lld\n", l->cfg.name,
		 carrier != NULL ? "up" : "down",
		 carrier == NULL		       ? "-"
		 : carrier->side == POL_SIDE_INITIATOR ? "outbound"
						       : "inbound",
		 dir_text(l->out, l->out_err_set, &l->out_err),
		 dir_text(l->in, l->in_err_set, &l->in_err), state,
		 reason != NULL ? reason : "-", (long long)applied,
		 (long long)lag);
}

void link_status_json(const struct link *l, struct json *j)
{
	struct conn *carrier = link_carrier(l);

	json_obj_begin(j);
	json_key(j, "name");
	json_str(j, l->cfg.name);
	json_key(j, "address");
	json_str(j, l->cfg.addr_text);
	json_key(j, "link");
	json_str(j, carrier != NULL ? "up" : "down");
	json_key(j, "direction");
	if (carrier == NULL)
		json_null(j);
	else
		json_str(j, carrier->side == POL_SIDE_INITIATOR ? "outbound"
								: "inbound");
	json_key(j, "dial");
	json_bool(j, l->cfg.dial);
	json_key(j, "accept");
	json_bool(j, l->cfg.accept);
	json_key(j, "outbound_error");
	err_json(j, l->out_err_set, &l->out_err);
	json_key(j, "inbound_error");
	err_json(j, l->in_err_set, &l->in_err);
	json_key(j, "outbound_failures");
	json_int(j, (int64_t)l->out_failures);
	json_key(j, "inbound_failures");
	json_int(j, (int64_t)l->in_failures);
	json_key(j, "replication");
	l->cfg.ops->repl_json(l, j);
	json_key(j, "outbound");
	conn_json(j, l->out);
	json_key(j, "inbound");
	conn_json(j, l->in);
	json_obj_end(j);
}
