/* fault.c: the proxy's faults: their kinds and parameters, and what they
 * make of a connection's direction: whether it is blocked (the harshest
 * fault wins), when a chunk may leave (latency and jitter add up), how fast
 * (the lowest bandwidth wins, as a token bucket per route and direction),
 * in which pieces (the finest slicer wins), how late its FIN (slow_close
 * delays add up) and how many bytes it may carry (the lowest limit wins).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/mem.h"
#include "proxy_int.h"

const char *const fault_kind_names[N_KINDS] = {
    "down",	  "blackhole", "reset",	 "latency",   "bandwidth",
    "slow_close", "timeout",   "slicer", "limit_data"};

const char *fault_dir_name(enum fault_dir d)
{
	static const char *names[] = {"both", "upstream", "downstream"};

	return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "?";
}

int fault_dir_parse(const char *s, enum fault_dir *out)
{
	enum fault_dir d;

	for (d = FDIR_BOTH; d <= FDIR_DOWNSTREAM; d++)
		if (strcmp(s, fault_dir_name(d)) == 0) {
			*out = d;
			return 0;
		}
	return -1;
}

const char *route_state_name(enum route_state s)
{
	static const char *names[] = {"open",	 "blackhole", "limit_data",
				      "timeout", "down",      "reset"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

bool fault_covers(const struct fault *f, const struct route *r)
{
	return f->all || f->on[r->index];
}

bool fault_cuts(const struct fault *f)
{
	switch (f->kind) {
	case FAULT_DOWN:
	case FAULT_BLACKHOLE:
	case FAULT_RESET:
	case FAULT_TIMEOUT:
	case FAULT_LIMIT_DATA: return true;
	default: return false;
	}
}

bool fault_draw(struct proxy *p, const struct fault *f)
{
	if (f->toxicity >= 1.0)
		return true;
	if (f->toxicity <= 0.0)
		return false;
	return proxy_rng_unit(p) < f->toxicity;
}

static double bucket_burst(uint64_t rate)
{
	double b = (double)rate / 50.0; /* about 20 ms of traffic */

	if (b < 512)
		b = rate < 512 ? (double)rate : 512.0;
	if (b > 1048576.0)
		b = 1048576.0;
	return b;
}

size_t bucket_allow(struct pdir *d, size_t want, ev_tstamp now)
{
	struct route *r = d->conn->route;
	struct bucket *b = &r->bucket[d->which];
	uint64_t rate = d->eff.rate;
	double burst, need;

	if (rate == 0)
		return want;
	burst = bucket_burst(rate);
	if (now > b->at)
		b->tokens += (now - b->at) * (double)rate;
	b->at = now;
	if (b->tokens > burst)
		b->tokens = burst;
	need = (double)want < burst ? (double)want : burst;
	if (b->tokens + 1e-6 < need) {
		proxy_timer_arm(r->proxy->loop, &d->bw,
				(need - b->tokens) / (double)rate);
		return 0;
	}
	need = b->tokens + 1e-6;
	return (double)want < need ? want : (size_t)need;
}

void bucket_spend(struct pdir *d, size_t n)
{
	struct route *r = d->conn->route;

	if (d->eff.rate != 0)
		r->bucket[d->which].tokens -= (double)n;
}

ev_tstamp fault_due_time(struct pdir *d, ev_tstamp now)
{
	struct route *r = d->conn->route;
	double ms = d->eff.latency_ms;
	ev_tstamp due;

	if (d->eff.jitter_ms > 0) {
		uint64_t span = 2ull * d->eff.jitter_ms + 1;

		ms += (double)(proxy_rng_next(r->proxy) % span) -
		      (double)d->eff.jitter_ms;
	}
	due = ms > 0 ? now + ms / 1000.0 : now;
	if (due < d->last_due)
		due = d->last_due;
	d->last_due = due;
	return due;
}

size_t slicer_piece(struct pdir *d)
{
	long n = (long)d->eff.slice_avg;

	if (d->eff.slice_var > 0) {
		uint64_t span = 2ull * d->eff.slice_var + 1;

		n += (long)(proxy_rng_next(d->conn->route->proxy) % span) -
		     (long)d->eff.slice_var;
	}
	return n < 1 ? 1 : (size_t)n;
}

/* The harshest route state among the faults that cut. */
static enum route_state cut_state(enum fault_kind k)
{
	switch (k) {
	case FAULT_BLACKHOLE: return RS_BLACKHOLE;
	case FAULT_LIMIT_DATA: return RS_LIMIT_DATA;
	case FAULT_TIMEOUT: return RS_TIMEOUT;
	case FAULT_DOWN: return RS_DOWN;
	case FAULT_RESET: return RS_RESET;
	default: return RS_OPEN;
	}
}

void route_compute(struct proxy *p, struct route *r, struct route_eff *e)
{
	const struct fault *f;

	memset(e, 0, sizeof(*e));
	for (f = p->faults; f != NULL; f = f->next) {
		if (!fault_covers(f, r))
			continue;
		if (f->toxicity >= 1.0 && cut_state(f->kind) > e->state)
			e->state = cut_state(f->kind);
		if (f->kind == FAULT_LATENCY) {
			e->latency_ms += f->ms;
			e->jitter_ms += f->jitter_ms;
		}
		if (f->kind == FAULT_BANDWIDTH &&
		    (e->rate == 0 || f->rate < e->rate))
			e->rate = f->rate;
	}
}

static bool acts_on(const struct fault *f, int which)
{
	return f->dir == FDIR_BOTH ||
	       (f->dir == FDIR_UPSTREAM && which == DIR_TO_TARGET) ||
	       (f->dir == FDIR_DOWNSTREAM && which == DIR_TO_CLIENT);
}

static enum block kind_block(enum fault_kind k)
{
	switch (k) {
	case FAULT_DOWN: return BLOCK_DOWN;
	case FAULT_BLACKHOLE: return BLOCK_BLACKHOLE;
	case FAULT_RESET: return BLOCK_RESET;
	case FAULT_TIMEOUT: return BLOCK_TIMEOUT;
	default: return BLOCK_NONE;
	}
}

void conn_compute(struct proxy *p, const struct pconn *c, int which,
		  struct dir_eff *e)
{
	const struct fault *f;

	memset(e, 0, sizeof(*e));
	e->limit_end = UINT64_MAX;
	for (f = p->faults; f != NULL; f = f->next) {
		enum block b = kind_block(f->kind);

		if (!(c->applies & (UINT64_C(1) << f->slot)) ||
		    !acts_on(f, which))
			continue;
		switch (f->kind) {
		case FAULT_TIMEOUT:
			/* The shortest timeout that ends at all wins. */
			if (f->ms > 0 &&
			    (e->timeout_ms == 0 || f->ms < e->timeout_ms))
				e->timeout_ms = f->ms;
			break;
		case FAULT_LATENCY:
			e->latency_ms += f->ms;
			e->jitter_ms += f->jitter_ms;
			break;
		case FAULT_BANDWIDTH:
			if (e->rate == 0 || f->rate < e->rate)
				e->rate = f->rate;
			break;
		case FAULT_SLOW_CLOSE: e->slow_close_ms += f->ms; break;
		case FAULT_SLICER:
			if (e->slice_avg == 0 ||
			    f->average_size < e->slice_avg) {
				e->slice_avg = f->average_size;
				e->slice_var = f->size_variation;
				e->slice_delay_us = f->delay_us;
			}
			break;
		case FAULT_LIMIT_DATA: {
			uint64_t end = c->base[f->slot][which] + f->bytes;

			if (end < e->limit_end)
				e->limit_end = end;
			break;
		}
		default: break;
		}
		if (b > e->block)
			e->block = b;
	}
}

/* ---- the fault list ---- */

struct fault *fault_find(struct proxy *p, const char *name)
{
	struct fault *f;

	for (f = p->faults; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

void fault_free(struct fault *f)
{
	if (f == NULL)
		return;
	ekl_free(f->on);
	ekl_free(f);
}

/* Parse a decimal in [lo, hi]. */
static bool parse_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* A probability: a decimal from 0 to 1 ("0", "0.25", "1", "1.0"). */
static bool parse_prob(const char *s, double *out)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 1)
		return false;
	*out = v;
	return true;
}

bool fault_parse_routes(struct proxy *p, struct fault *f, char *list,
			struct sbuf *out)
{
	char *tok, *save = NULL;
	size_t unknown = 0, i;

	if (strcmp(list, "*") == 0) {
		f->all = true;
		return true;
	}
	f->on = ekl_calloc(p->n_routes ? p->n_routes : 1, sizeof(bool));
	if (f->on == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		struct route *r = route_find(p, tok);

		if (r != NULL) {
			f->on[r->index] = true;
			continue;
		}
		sb_printf(out, "%s'%.*s'", unknown++ ? ", " : "unknown route ",
			  PROXY_ROUTE_MAX + 1, tok);
	}
	if (unknown > 0) {
		sb_printf(out, "; routes are:");
		for (i = 0; i < p->n_routes && i < 100; i++)
			sb_printf(out, " %s", p->routes[i]->name);
		if (p->n_routes == 0)
			sb_printf(out, " (none)");
		return false;
	}
	for (i = 0; i < p->n_routes; i++)
		if (f->on[i])
			return true;
	sb_printf(out, "no route given: use A>B[,C>D...] or '*'");
	return false;
}

/* The parameters each kind takes, as its usage says them. */
static const char *kind_usage(enum fault_kind k)
{
	switch (k) {
	case FAULT_LATENCY: return "ms=N [jitter=N]";
	case FAULT_BANDWIDTH: return "rate=BYTES_PER_S";
	case FAULT_SLOW_CLOSE: return "ms=N";
	case FAULT_TIMEOUT: return "ms=N (0: never closes)";
	case FAULT_SLICER:
		return "average_size=N [size_variation=N] [delay_us=N]";
	case FAULT_LIMIT_DATA: return "bytes=N";
	default: return "no parameter of its own";
	}
}

/* One numeric key of one kind: its bounds and where it goes. */
struct num_key {
	enum fault_kind kind;
	const char *key;
	uint64_t lo, hi;
	const char *what;
};

static const struct num_key num_keys[] = {
    {FAULT_LATENCY, "ms", 0, PROXY_MAX_MS, "milliseconds"},
    {FAULT_LATENCY, "jitter", 0, PROXY_MAX_MS, "milliseconds"},
    {FAULT_BANDWIDTH, "rate", 1, PROXY_MAX_RATE, "bytes per second"},
    {FAULT_SLOW_CLOSE, "ms", 0, PROXY_MAX_MS, "milliseconds"},
    {FAULT_TIMEOUT, "ms", 0, PROXY_MAX_MS, "milliseconds"},
    {FAULT_SLICER, "average_size", 1, PROXY_MAX_PIECE, "bytes"},
    {FAULT_SLICER, "size_variation", 0, PROXY_MAX_PIECE, "bytes"},
    {FAULT_SLICER, "delay_us", 0, PROXY_MAX_US, "microseconds"},
    {FAULT_LIMIT_DATA, "bytes", 0, PROXY_MAX_BYTES, "bytes"},
};

static void set_num(struct fault *f, const char *key, uint64_t v)
{
	if (strcmp(key, "ms") == 0)
		f->ms = (unsigned)v;
	else if (strcmp(key, "jitter") == 0)
		f->jitter_ms = (unsigned)v;
	else if (strcmp(key, "rate") == 0)
		f->rate = v;
	else if (strcmp(key, "average_size") == 0)
		f->average_size = (unsigned)v;
	else if (strcmp(key, "size_variation") == 0)
		f->size_variation = (unsigned)v;
	else if (strcmp(key, "delay_us") == 0)
		f->delay_us = (unsigned)v;
	else if (strcmp(key, "bytes") == 0)
		f->bytes = v;
}

/* The key each kind cannot do without. */
static const char *required_key(enum fault_kind k)
{
	switch (k) {
	case FAULT_LATENCY:
	case FAULT_SLOW_CLOSE:
	case FAULT_TIMEOUT: return "ms";
	case FAULT_BANDWIDTH: return "rate";
	case FAULT_SLICER: return "average_size";
	case FAULT_LIMIT_DATA: return "bytes";
	default: return NULL;
	}
}

bool fault_parse_params(struct fault *f, char *save, struct sbuf *out)
{
	const char *need = required_key(f->kind);
	bool have_need = need == NULL;
	char *tok;
	size_t i;

	f->toxicity = 1.0;
	f->dir = FDIR_BOTH;
	while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (eq == NULL) {
			sb_printf(out, "'%.100s': parameters are KEY=VALUE",
				  tok);
			return false;
		}
		*eq = '\0';
		if (strcmp(tok, "toxicity") == 0) {
			if (!parse_prob(eq + 1, &f->toxicity)) {
				sb_printf(out,
					  "toxicity=%.40s: a probability from "
					  "0 to 1 expected (the share of "
					  "connections the fault acts on)",
					  eq + 1);
				return false;
			}
			continue;
		}
		if (strcmp(tok, "direction") == 0) {
			if (fault_dir_parse(eq + 1, &f->dir) != 0) {
				sb_printf(out,
					  "direction=%.40s: use both, "
					  "upstream (what the dialling node "
					  "sends) or downstream (what it gets "
					  "back)",
					  eq + 1);
				return false;
			}
			continue;
		}
		for (i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++)
			if (num_keys[i].kind == f->kind &&
			    strcmp(num_keys[i].key, tok) == 0)
				break;
		if (i == sizeof(num_keys) / sizeof(num_keys[0])) {
			sb_printf(out,
				  "%s fault takes no parameter '%.40s'; it "
				  "takes %s, and toxicity=P direction=D",
				  fault_kind_names[f->kind], tok,
				  kind_usage(f->kind));
			return false;
		}
		if (!parse_num(eq + 1, num_keys[i].lo, num_keys[i].hi, &v)) {
			sb_printf(out, "%s=%.40s: %s %llu-%llu expected", tok,
				  eq + 1, num_keys[i].what,
				  (unsigned long long)num_keys[i].lo,
				  (unsigned long long)num_keys[i].hi);
			return false;
		}
		set_num(f, tok, v);
		if (need != NULL && strcmp(tok, need) == 0)
			have_need = true;
	}
	if (!have_need) {
		sb_printf(out, "%s needs %s", fault_kind_names[f->kind],
			  kind_usage(f->kind));
		return false;
	}
	if (f->kind == FAULT_SLICER && f->size_variation >= f->average_size) {
		sb_printf(out,
			  "size_variation=%u: must be below average_size=%u "
			  "(a piece is at least one byte)",
			  f->size_variation, f->average_size);
		return false;
	}
	return true;
}

void fault_describe(struct proxy *p, const struct fault *f, struct sbuf *out)
{
	size_t i;
	bool first = true;

	sb_printf(out, "%s %s routes=", f->name, fault_kind_names[f->kind]);
	if (f->all)
		sb_printf(out, "*");
	else
		for (i = 0; i < p->n_routes; i++)
			if (f->on[i]) {
				sb_printf(out, "%s%s", first ? "" : ",",
					  p->routes[i]->name);
				first = false;
			}
	switch (f->kind) {
	case FAULT_LATENCY:
		sb_printf(out, " ms=%u jitter=%u", f->ms, f->jitter_ms);
		break;
	case FAULT_BANDWIDTH:
		sb_printf(out, " rate=%llu", (unsigned long long)f->rate);
		break;
	case FAULT_SLOW_CLOSE:
	case FAULT_TIMEOUT: sb_printf(out, " ms=%u", f->ms); break;
	case FAULT_SLICER:
		sb_printf(out, " average_size=%u size_variation=%u delay_us=%u",
			  f->average_size, f->size_variation, f->delay_us);
		break;
	case FAULT_LIMIT_DATA:
		sb_printf(out, " bytes=%llu", (unsigned long long)f->bytes);
		break;
	default: break;
	}
	if (f->dir != FDIR_BOTH)
		sb_printf(out, " direction=%s", fault_dir_name(f->dir));
	if (f->toxicity < 1.0)
		sb_printf(out, " toxicity=%g", f->toxicity);
}
