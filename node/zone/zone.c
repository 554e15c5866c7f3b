/* zone.c: zone services on one endpoint: listeners, probes, the SIP
 * SERVICE message (zone.h).
 *
 * A probe (outbound) and an inbound connection are each an explicit state
 * machine:
 *
 *   probe:   IDLE --timer--> CONNECTING --writable--> HANDSHAKE
 *            HANDSHAKE --ok--> FRAME (read the acceptor's first frame)
 *            any --done/fail--> IDLE (socket to linger, timer re-armed)
 *   inbound: HANDSHAKE --ok--> SEND (our first frame) --> closed
 *
 * The outcome of each attempt is recorded in a zone_result: the
 * certificate code of whichever side refused (ours from our verify
 * record, the peer's from its alert: tls_conn_failure), or a transport
 * code. Nothing here knows the EKU rules: the contexts come from
 * tls_ctx_new (pol_rules) and MRA's chain check from tls_verify_chain
 * with pol_rules(self, initiator, POL_SVC_MRA).
 */
#include "zone/zone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"

#define ZONE_FRAME_MAX	  (TLS_CHAIN_MAX_BYTES + 1024)
#define ZONE_ACCEPT_BATCH 16

enum probe_state { P_IDLE = 0, P_CONNECTING, P_HANDSHAKE, P_FRAME };
enum in_state { I_HANDSHAKE = 0, I_SEND };

struct zone;

/* One connection in flight (either side). */
struct zconn {
	struct zone *z;
	int fd; /* owned, -1 when none */
	struct tls_conn *tls;
	ev_io rio, wio;
	ev_timer deadline;
	uint8_t *buf; /* received (probe) or to send (inbound) */
	size_t len, cap, off;
};

struct probe {
	const struct zone_peer_cfg *cfg; /* into z->peers */
	struct zone_result *res;	 /* the service's result */
	struct zone_result *mra;	 /* NULL unless cfg->mra */
	enum probe_state state;
	struct zconn c;
	ev_timer again;
};

struct inbound {
	enum pol_service service;
	enum in_state state;
	struct zconn c;
	struct inbound *next;
};

struct zlisten {
	struct zone *z;
	enum pol_service service;
	int fd;
	ev_io w;
};

struct zone {
	struct zone_env env;
	struct tls_ctx *ctx[POL_SVC_COUNT]; /* owned, per service used */
	char *chain;			    /* owned: our cert file (PEM) */
	size_t chain_len;
	struct zone_peer_cfg peers[ZONE_MAX_PEERS];
	size_t n_peers;
	struct zone_accept_cfg accepts[ZONE_MAX_ACCEPTS];
	size_t n_accepts;
	struct zlisten ls[ZONE_MAX_LISTEN];
	size_t n_ls;
	struct probe probes[ZONE_MAX_PEERS];
	/* Outbound results, then inbound ones (per accept entry, filled
	 * from its first call). */
	struct zone_result res[2 * ZONE_MAX_PEERS + ZONE_MAX_ACCEPTS];
	size_t n_res;
	size_t n_out_res;
	bool in_seen[ZONE_MAX_ACCEPTS];
	struct inbound *inbound; /* owned list */
};

static const char *const state_names[] = {"connecting", "up", "down"};

const char *zone_state_name(enum zone_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "?";
}

/* ---- the SIP SERVICE message ---- */

#define SVC_CT "application/pem-certificate-chain"

int zone_service_msg(const char *to, const char *pem, size_t len, char **out,
		     size_t *out_len)
{
	char head[400];
	int h = snprintf(head, sizeof(head),
			 "SERVICE sip:%s SIP/2.0\r\nContent-Type: " SVC_CT
			 "\r\nContent-Length: %zu\r\n\r\n",
			 to, len);
	char *b;

	if (h < 0 || (size_t)h >= sizeof(head))
		return EKL_EINVAL;
	b = ekl_malloc((size_t)h + len + 1);
	if (b == NULL)
		return EKL_ENOMEM;
	memcpy(b, head, (size_t)h);
	memcpy(b + h, pem, len);
	b[(size_t)h + len] = '\0';
	*out = b;
	*out_len = (size_t)h + len;
	return 0;
}

const char *zone_service_chain(const char *body, size_t len, size_t *chain_len)
{
	const char *end;
	const char *cl;
	unsigned long n;
	size_t hl;

	if (len < 8 || memcmp(body, "SERVICE ", 8) != 0)
		return NULL;
	end = memmem(body, len, "\r\n\r\n", 4);
	if (end == NULL)
		return NULL;
	hl = (size_t)(end - body) + 4;
	cl = memmem(body, hl, "Content-Length: ", 16);
	if (cl == NULL || sscanf(cl + 16, "%lu", &n) != 1 || n != len - hl)
		return NULL;
	*chain_len = len - hl;
	return end + 4;
}

/* ---- results ---- */

static void res_set(struct zone_result *r, enum zone_state st, const char *code,
		    enum pol_side side, int depth, const char *msg)
{
	if (r == NULL)
		return;
	r->at = ev_now(r->loop);
	r->state = st;
	snprintf(r->code, sizeof(r->code), "%.31s", code);
	r->side = side;
	r->depth = depth;
	/* A longer message (an OpenSSL one) is cut: the code says it all. */
	snprintf(r->message, sizeof(r->message), "%.199s",
		 msg != NULL ? msg : "");
	r->attempts++;
}

/* A failed session: the certificate code of whoever refused, else a
 * transport code. */
static void res_tls_fail(struct zone_result *r, struct tls_conn *t,
			 const char *during)
{
	struct tls_failure f;
	char msg[200];

	memset(&f, 0, sizeof(f));
	f.depth = -1;
	if (t != NULL)
		tls_conn_failure(t, &f);
	snprintf(msg, sizeof(msg), "%.40s: %.150s", during, f.message);
	if (f.code != POL_OK)
		res_set(r, ZONE_DOWN, pol_code_name(f.code), f.side, f.depth,
			msg);
	else
		res_set(r, ZONE_DOWN, "tls", POL_SIDE_NONE, -1, msg);
}

/* ---- one connection's plumbing ---- */

static void zconn_init(struct zone *z, struct zconn *c)
{
	memset(c, 0, sizeof(*c));
	c->z = z;
	c->fd = -1;
}

/* Stop watchers, free TLS, hand the socket over. */
static void zconn_end(struct zconn *c)
{
	struct ev_loop *loop = c->z->env.loop;

	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	ev_timer_stop(loop, &c->deadline);
	if (c->tls != NULL)
		tls_shutdown(c->tls);
	tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0) {
		if (c->z->env.linger != NULL)
			c->z->env.linger(c->z->env.arg, c->fd);
		else
			close(c->fd);
	}
	c->fd = -1;
	ekl_free(c->buf);
	c->buf = NULL;
	c->len = c->cap = c->off = 0;
}

static void want(struct zconn *c, enum tls_io r)
{
	struct ev_loop *loop = c->z->env.loop;

	if (r == TLS_IO_WANT_WRITE)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
	ev_io_start(loop, &c->rio);
}

/* ---- probes (outbound) ---- */

static void probe_schedule(struct probe *p)
{
	struct zone *z = p->c.z;

	p->state = P_IDLE;
	ev_timer_stop(z->env.loop, &p->again);
	ev_timer_set(&p->again, z->env.interval_ms / 1000.0, 0.);
	ev_timer_start(z->env.loop, &p->again);
}

static void probe_fail(struct probe *p, const char *code, const char *msg)
{
	res_set(p->res, ZONE_DOWN, code, POL_SIDE_NONE, -1, msg);
	res_set(p->mra, ZONE_DOWN, code, POL_SIDE_NONE, -1, msg);
	zconn_end(&p->c);
	probe_schedule(p);
}

static void probe_fail_tls(struct probe *p, const char *during)
{
	res_tls_fail(p->res, p->c.tls, during);
	/* MRA rides on the traversal connection: it fails the same way. */
	res_set(p->mra, p->res->state, p->res->code, p->res->side,
		p->res->depth, p->res->message);
	zconn_end(&p->c);
	probe_schedule(p);
}

/* E's chain in the SIP SERVICE message, checked with our MRA rule. */
static void probe_check_mra(struct probe *p, const char *body, size_t len)
{
	struct zone *z = p->c.z;
	const struct tls_config *t = &z->env.tls;
	struct pol_node self;
	struct pol_rules rules;
	struct tls_chain_check chk;
	struct tls_verify v;
	const char *names[1] = {p->cfg->name};
	const char *chain;
	size_t clen = 0;
	char err[EKL_ERRLEN];

	chain = zone_service_chain(body, len, &clen);
	if (chain == NULL) {
		res_set(p->mra, ZONE_DOWN, "protocol", POL_SIDE_NONE, -1,
			"the traversal server sent no SIP SERVICE message");
		return;
	}
	memset(&self, 0, sizeof(self));
	self.version = t->version;
	self.mode = t->mode;
	self.client_eku_check = t->client_eku_check;
	self.kind = t->kind;
	self.role = POL_ROLE_C;
	memcpy(self.client_eku_service, t->client_eku_service,
	       sizeof(self.client_eku_service));
	pol_rules(&self, POL_SIDE_INITIATOR, POL_SVC_MRA, &rules);
	memset(&chk, 0, sizeof(chk));
	chk.store = tls_ctx_store(z->ctx[POL_SVC_TRAVERSAL]);
	chk.at = t->at_set ? t->at : (int64_t)time(NULL);
	chk.rules = &rules;
	chk.names = names;
	chk.n_names = 1;
	if (tls_verify_chain(&chk, chain, clen, &v, err) != 0) {
		res_set(p->mra, ZONE_DOWN, "protocol", POL_SIDE_INITIATOR, -1,
			err);
		return;
	}
	if (v.rejected)
		res_set(p->mra, ZONE_DOWN, pol_code_name(v.code),
			POL_SIDE_INITIATOR, v.depth,
			"SIP SERVICE: the traversal server's certificate "
			"fails this node's MRA check");
	else
		res_set(p->mra, ZONE_UP, "ok", POL_SIDE_NONE, -1,
			"SIP SERVICE certificate accepted");
}

/* Read the acceptor's first frame. */
static void probe_read(struct probe *p)
{
	struct zconn *c = &p->c;

	for (;;) {
		size_t n = 0, need;
		enum tls_io r;

		if (c->len >= 4) {
			uint32_t l = ((uint32_t)c->buf[0] << 24) |
				     ((uint32_t)c->buf[1] << 16) |
				     ((uint32_t)c->buf[2] << 8) | c->buf[3];

			if (l == 0 || l > ZONE_FRAME_MAX) {
				probe_fail(p, "protocol",
					   "bad frame length from the peer");
				return;
			}
			need = 4 + l;
			if (c->len >= need) {
				const char *body = (const char *)c->buf + 4;

				res_set(p->res, ZONE_UP, "ok", POL_SIDE_NONE,
					-1, "accepted");
				if (p->mra != NULL)
					probe_check_mra(p, body, l);
				zconn_end(c);
				probe_schedule(p);
				return;
			}
		} else {
			need = 4;
		}
		if (c->cap < need) {
			size_t cap = need < 4096 ? 4096 : need;
			uint8_t *nb = ekl_realloc(c->buf, cap);

			if (nb == NULL) {
				probe_fail(p, "protocol", "out of memory");
				return;
			}
			c->buf = nb;
			c->cap = cap;
		}
		r = tls_read(c->tls, c->buf + c->len, c->cap - c->len, &n);
		if (r == TLS_IO_OK) {
			c->len += n;
			continue;
		}
		if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
			want(c, r);
			return;
		}
		probe_fail_tls(p, "waiting for the acceptor");
		return;
	}
}

static void probe_handshake(struct probe *p)
{
	enum tls_io r = tls_handshake(p->c.tls);

	if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
		want(&p->c, r);
		return;
	}
	if (r != TLS_IO_OK) {
		probe_fail_tls(p, "TLS handshake");
		return;
	}
	p->state = P_FRAME;
	probe_read(p);
}

static void probe_connected(struct probe *p)
{
	struct zone *z = p->c.z;
	char err[EKL_ERRLEN], msg[200];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	ev_io_stop(z->env.loop, &p->c.wio);
	getsockopt(p->c.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr != 0) {
		snprintf(msg, sizeof(msg), "connect %s: %s", p->cfg->addr_text,
			 strerror(soerr));
		close(p->c.fd); /* no TLS ran: nothing to linger for */
		p->c.fd = -1;
		probe_fail(p, "connect-failed", msg);
		return;
	}
	if (tls_conn_new(z->ctx[pol_service_handshake(p->cfg->service)],
			 p->c.fd, POL_SIDE_INITIATOR, p->cfg->name, &p->c.tls,
			 err) != 0) {
		probe_fail(p, "tls", err);
		return;
	}
	p->state = P_HANDSHAKE;
	probe_handshake(p);
}

static void on_probe_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct zconn *c = (w->events & EV_READ)
			      ? container_of(w, struct zconn, rio)
			      : container_of(w, struct zconn, wio);
	struct probe *p = container_of(c, struct probe, c);

	(void)loop;
	(void)revents;
	switch (p->state) {
	case P_CONNECTING: probe_connected(p); return;
	case P_HANDSHAKE: probe_handshake(p); return;
	case P_FRAME: probe_read(p); return;
	case P_IDLE: return;
	}
}

static void on_probe_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct zconn *c = container_of(w, struct zconn, deadline);
	struct probe *p = container_of(c, struct probe, c);

	(void)loop;
	(void)revents;
	probe_fail(p, "timeout", "no answer within the deadline");
}

static void on_probe_again(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = container_of(w, struct probe, again);
	struct zone *z = p->c.z;
	char err[EKL_ERRLEN];

	(void)revents;
	if (addr_connect(&p->cfg->addr, &p->c.fd, err) != 0) {
		p->c.fd = -1;
		probe_fail(p, "connect-failed", err);
		return;
	}
	addr_nodelay(p->c.fd);
	p->state = P_CONNECTING;
	ev_io_init(&p->c.rio, on_probe_io, p->c.fd, EV_READ);
	ev_io_init(&p->c.wio, on_probe_io, p->c.fd, EV_WRITE);
	ev_io_start(loop, &p->c.wio);
	ev_timer_set(&p->c.deadline, z->env.timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &p->c.deadline);
}

/* ---- inbound ---- */

static void in_free(struct inbound *in)
{
	struct inbound **pp;

	for (pp = &in->c.z->inbound; *pp != NULL; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	zconn_end(&in->c);
	ekl_free(in);
}

/* The result slot of an inbound caller that names `claimed`, or NULL. */
static struct zone_result *in_result(struct zone *z, enum pol_service s,
				     const char *claimed)
{
	size_t k;

	for (k = 0; k < z->n_accepts; k++) {
		struct zone_result *r = &z->res[z->n_out_res + k];

		if (z->accepts[k].service != s ||
		    strcasecmp(z->accepts[k].name, claimed) != 0)
			continue;
		z->in_seen[k] = true;
		return r;
	}
	return NULL;
}

static struct zone_result *in_claimed(struct inbound *in)
{
	const struct tls_verify *v =
	    in->c.tls != NULL ? tls_conn_verify(in->c.tls) : NULL;

	/* Only a certificate whose chain verified names anyone. */
	if (v == NULL || !v->have_cert || v->code == POL_UNTRUSTED)
		return NULL;
	return in_result(in->c.z, in->service, v->claimed);
}

static void in_send(struct inbound *in)
{
	struct zconn *c = &in->c;

	while (c->off < c->len) {
		size_t n = 0;
		enum tls_io r =
		    tls_write(c->tls, c->buf + c->off, c->len - c->off, &n);

		if (r == TLS_IO_OK) {
			c->off += n;
			continue;
		}
		if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
			want(c, r);
			return;
		}
		res_tls_fail(in_claimed(in), c->tls, "sending our answer");
		in_free(in);
		return;
	}
	res_set(in_claimed(in), ZONE_UP, "ok", POL_SIDE_NONE, -1, "accepted");
	in_free(in); /* close_notify, then linger */
}

static int in_prepare_answer(struct inbound *in)
{
	struct zone *z = in->c.z;
	char *body = NULL;
	size_t blen = 0;
	int rv;

	if (in->service == POL_SVC_TRAVERSAL) {
		const struct tls_verify *v = tls_conn_verify(in->c.tls);

		rv = zone_service_msg(v != NULL && v->claimed[0] ? v->claimed
								 : "client",
				      z->chain, z->chain_len, &body, &blen);
		if (rv != 0)
			return rv;
	} else {
		body = ekl_strdup("OK\r\n");
		if (body == NULL)
			return EKL_ENOMEM;
		blen = strlen(body);
	}
	in->c.buf = ekl_malloc(blen + 4);
	if (in->c.buf == NULL) {
		ekl_free(body);
		return EKL_ENOMEM;
	}
	in->c.buf[0] = (uint8_t)(blen >> 24);
	in->c.buf[1] = (uint8_t)(blen >> 16);
	in->c.buf[2] = (uint8_t)(blen >> 8);
	in->c.buf[3] = (uint8_t)blen;
	memcpy(in->c.buf + 4, body, blen);
	in->c.len = blen + 4;
	in->c.off = 0;
	ekl_free(body);
	return 0;
}

static void in_handshake(struct inbound *in)
{
	enum tls_io r = tls_handshake(in->c.tls);

	if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
		want(&in->c, r);
		return;
	}
	if (r != TLS_IO_OK) {
		res_tls_fail(in_claimed(in), in->c.tls, "TLS handshake");
		in_free(in);
		return;
	}
	if (in_prepare_answer(in) != 0) {
		in_free(in);
		return;
	}
	in->state = I_SEND;
	in_send(in);
}

static void on_in_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct zconn *c = (w->events & EV_READ)
			      ? container_of(w, struct zconn, rio)
			      : container_of(w, struct zconn, wio);
	struct inbound *in = container_of(c, struct inbound, c);

	(void)loop;
	(void)revents;
	if (in->state == I_HANDSHAKE)
		in_handshake(in);
	else
		in_send(in);
}

static void on_in_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct zconn *c = container_of(w, struct zconn, deadline);

	(void)loop;
	(void)revents;
	in_free(container_of(c, struct inbound, c));
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct zlisten *zl = container_of(w, struct zlisten, w);
	struct zone *z = zl->z;
	char err[EKL_ERRLEN];
	int k;

	(void)revents;
	for (k = 0; k < ZONE_ACCEPT_BATCH; k++) {
		struct inbound *in;
		int fd =
		    accept4(zl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		addr_nodelay(fd);
		in = ekl_calloc(1, sizeof(*in));
		if (in == NULL) {
			close(fd);
			return;
		}
		zconn_init(z, &in->c);
		in->c.fd = fd;
		in->service = zl->service;
		if (tls_conn_new(z->ctx[zl->service], fd, POL_SIDE_ACCEPTOR,
				 NULL, &in->c.tls, err) != 0) {
			ekl_warn("zone %s: inbound: %s",
				 pol_service_name(zl->service), err);
			close(fd);
			ekl_free(in);
			continue;
		}
		in->state = I_HANDSHAKE;
		ev_io_init(&in->c.rio, on_in_io, fd, EV_READ);
		ev_io_init(&in->c.wio, on_in_io, fd, EV_WRITE);
		ev_timer_init(&in->c.deadline, on_in_deadline,
			      z->env.timeout_ms / 1000.0, 0.);
		ev_timer_start(loop, &in->c.deadline);
		ev_io_start(loop, &in->c.rio);
		in->next = z->inbound;
		z->inbound = in;
	}
}

/* ---- start, stop, status ---- */

static int read_file(const char *path, char **out, size_t *len, char *err)
{
	FILE *f = fopen(path, "rb");
	char *b;
	size_t n;

	if (f == NULL)
		return ekl_errf(err, EKL_ENOENT, "%s: %s", path,
				strerror(errno));
	b = ekl_malloc(TLS_CHAIN_MAX_BYTES + 1);
	if (b == NULL) {
		fclose(f);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	n = fread(b, 1, TLS_CHAIN_MAX_BYTES + 1, f);
	fclose(f);
	if (n > TLS_CHAIN_MAX_BYTES) {
		ekl_free(b);
		return ekl_errf(err, EKL_ETOOBIG,
				"%s: over %d bytes: too large for a SIP "
				"SERVICE message",
				path, TLS_CHAIN_MAX_BYTES);
	}
	*out = b;
	*len = n;
	return 0;
}

static bool service_used(const struct zone *z, enum pol_service s)
{
	size_t i;

	for (i = 0; i < z->n_ls; i++)
		if (z->ls[i].service == s)
			return true;
	for (i = 0; i < z->n_peers; i++)
		if (pol_service_handshake(z->peers[i].service) == s)
			return true;
	return false;
}

static struct zone_result *res_new(struct zone *z, enum pol_service s,
				   const char *peer, bool outbound)
{
	struct zone_result *r = &z->res[z->n_res++];

	memset(r, 0, sizeof(*r));
	r->service = s;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->outbound = outbound;
	r->loop = z->env.loop;
	r->state = ZONE_CONNECTING;
	snprintf(r->code, sizeof(r->code), "-");
	r->depth = -1;
	return r;
}

int zone_start(const struct zone_env *env, const struct zone_listen_cfg *ls,
	       size_t n_ls, const struct zone_peer_cfg *ps, size_t n_ps,
	       const struct zone_accept_cfg *as, size_t n_as, struct zone **out,
	       char *err)
{
	struct zone *z;
	size_t i, k;
	int s, rv = 0;

	*out = NULL;
	if (n_ls > ZONE_MAX_LISTEN || n_ps > ZONE_MAX_PEERS ||
	    n_as > ZONE_MAX_ACCEPTS)
		return ekl_errf(err, EKL_EINVAL,
				"too many zone listeners, peers or accepted "
				"names (at most %d, %d, %d)",
				ZONE_MAX_LISTEN, ZONE_MAX_PEERS,
				ZONE_MAX_ACCEPTS);
	z = ekl_calloc(1, sizeof(*z));
	if (z == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	z->env = *env;
	if (z->env.interval_ms <= 0)
		z->env.interval_ms = ZONE_INTERVAL_MS;
	if (z->env.timeout_ms <= 0)
		z->env.timeout_ms = ZONE_TIMEOUT_MS;
	if (n_ps > 0)
		memcpy(z->peers, ps, n_ps * sizeof(*ps));
	z->n_peers = n_ps;
	if (n_as > 0)
		memcpy(z->accepts, as, n_as * sizeof(*as));
	z->n_accepts = n_as;
	for (i = 0; i < n_ls; i++) {
		z->ls[i].z = z;
		z->ls[i].service = ls[i].service;
		z->ls[i].fd = -1;
	}
	z->n_ls = n_ls;
	/* A context per service, accepting the names given for it. */
	for (s = 0; s < POL_SVC_COUNT; s++) {
		struct tls_config tc = z->env.tls;
		const char *names[ZONE_MAX_ACCEPTS];
		size_t nn = 0;

		if (s == POL_SVC_CLUSTERDB || s == POL_SVC_MRA ||
		    !service_used(z, (enum pol_service)s))
			continue;
		for (k = 0; k < n_as; k++)
			if (as[k].service == (enum pol_service)s)
				names[nn++] = as[k].name;
		tc.service = (enum pol_service)s;
		tc.peer_names = names;
		tc.n_peer_names = nn;
		if ((rv = tls_ctx_new(&tc, &z->ctx[s], err)) != 0)
			goto fail;
	}
	if (z->ctx[POL_SVC_TRAVERSAL] != NULL && n_ls > 0 &&
	    (rv = read_file(env->tls.cert_file, &z->chain, &z->chain_len,
			    err)) != 0)
		goto fail;
	for (i = 0; i < n_ls; i++) {
		char e[EKL_ERRLEN];

		if (addr_listen(&ls[i].addr, &z->ls[i].fd, e) != 0) {
			rv = ekl_errf(err, EKL_EADDR, "--zone-listen %s=%s: %s",
				      pol_service_name(ls[i].service),
				      ls[i].addr_text, e);
			goto fail;
		}
	}
	/* Results: each outbound peer (an mra peer also gets mra), then a
	 * slot per accepted name. */
	for (i = 0; i < n_ps; i++) {
		struct probe *p = &z->probes[i];

		p->cfg = &z->peers[i];
		p->res =
		    res_new(z, z->peers[i].service, z->peers[i].name, true);
		p->mra = z->peers[i].mra
			     ? res_new(z, POL_SVC_MRA, z->peers[i].name, true)
			     : NULL;
	}
	z->n_out_res = z->n_res;
	for (k = 0; k < n_as; k++)
		res_new(z, as[k].service, as[k].name, false);
	for (i = 0; i < n_ls; i++) {
		ev_io_init(&z->ls[i].w, on_accept, z->ls[i].fd, EV_READ);
		ev_io_start(z->env.loop, &z->ls[i].w);
	}
	for (i = 0; i < n_ps; i++) {
		struct probe *p = &z->probes[i];

		zconn_init(z, &p->c);
		ev_timer_init(&p->c.deadline, on_probe_deadline, 0., 0.);
		ev_timer_init(&p->again, on_probe_again, 0.01, 0.);
		p->state = P_IDLE;
		ev_timer_start(z->env.loop, &p->again);
	}
	*out = z;
	return 0;
fail:
	zone_stop(z);
	return rv;
}

void zone_stop(struct zone *z)
{
	size_t i;
	int s;

	if (z == NULL)
		return;
	for (i = 0; i < z->n_peers; i++) {
		struct probe *p = &z->probes[i];

		if (p->cfg == NULL)
			continue;
		ev_timer_stop(z->env.loop, &p->again);
		zconn_end(&p->c);
	}
	while (z->inbound != NULL)
		in_free(z->inbound);
	for (i = 0; i < z->n_ls; i++)
		if (z->ls[i].fd >= 0) {
			ev_io_stop(z->env.loop, &z->ls[i].w);
			close(z->ls[i].fd);
		}
	for (s = 0; s < POL_SVC_COUNT; s++)
		tls_ctx_free(z->ctx[s]);
	ekl_free(z->chain);
	ekl_free(z);
}

size_t zone_results(const struct zone *z, const struct zone_result **out)
{
	*out = z->res;
	return z->n_res;
}

void zone_status_json(const struct zone *z, struct json *j)
{
	size_t i;

	json_arr_begin(j);
	for (i = 0; z != NULL && i < z->n_res; i++) {
		const struct zone_result *r = &z->res[i];

		if (!r->outbound && !z->in_seen[i - z->n_out_res])
			continue;
		json_obj_begin(j);
		json_key(j, "service");
		json_str(j, pol_service_name(r->service));
		json_key(j, "peer");
		json_str(j, r->peer);
		json_key(j, "direction");
		json_str(j, r->outbound ? "outbound" : "inbound");
		json_key(j, "state");
		json_str(j, zone_state_name(r->state));
		json_key(j, "code");
		json_str(j, r->code);
		json_key(j, "by");
		json_str(j, r->side == POL_SIDE_NONE ? NULL
						     : pol_side_name(r->side));
		json_key(j, "depth");
		json_int(j, r->depth);
		json_key(j, "attempts");
		json_int(j, (int64_t)r->attempts);
		json_key(j, "age_ms");
		if (r->attempts > 0)
			json_int(j, (int64_t)((ev_now(z->env.loop) - r->at) *
					      1000.0));
		else
			json_null(j);
		json_key(j, "message");
		json_str(j, r->message);
		json_obj_end(j);
	}
	json_arr_end(j);
}
