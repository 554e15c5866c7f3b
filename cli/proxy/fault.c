/* fault.c: the proxy's faults: their kinds and parameters, and what they
 * make of a route: whether it is blocked (the harshest fault wins), when
 * a chunk may leave (latency and jitter add up), how fast (the lowest
 * bandwidth wins, as a token bucket per direction). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/mem.h"
#include "proxy_int.h"

const char *const fault_kind_names[N_KINDS] = {"down", "blackhole", "reset",
					       "latency", "bandwidth"};

const char *block_name(enum block b)
{
	static const char *names[] = {"open", "blackhole", "down", "reset"};

	return (unsigned)b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

bool fault_covers(const struct fault *f, const struct route *r)
{
	return f->all || f->on[r->index];
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

/* How many of `want` bytes d may send now under the route's rate; 0 arms
 * d's bandwidth timer for when enough tokens are in. */
size_t bucket_allow(struct pdir *d, size_t want, ev_tstamp now)
{
	struct route *r = d->conn->route;
	struct bucket *b = &r->bucket[d->which];
	uint64_t rate = r->eff.rate;
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

	if (r->eff.rate != 0)
		r->bucket[d->which].tokens -= (double)n;
}

/* When a chunk read now may leave: now + latency +- jitter, never before
 * the chunk ahead of it (invariant 2). */
ev_tstamp fault_due_time(struct pdir *d, ev_tstamp now)
{
	struct route *r = d->conn->route;
	double ms = r->eff.latency_ms;
	ev_tstamp due;

	if (r->eff.jitter_ms > 0) {
		uint64_t span = 2ull * r->eff.jitter_ms + 1;

		ms += (double)(proxy_rng_next(r->proxy) % span) -
		      (double)r->eff.jitter_ms;
	}
	due = ms > 0 ? now + ms / 1000.0 : now;
	if (due < d->last_due)
		due = d->last_due;
	d->last_due = due;
	return due;
}

void route_compute(struct proxy *p, struct route *r, struct route_eff *e)
{
	const struct fault *f;

	memset(e, 0, sizeof(*e));
	for (f = p->faults; f != NULL; f = f->next) {
		enum block b = BLOCK_NONE;

		if (!fault_covers(f, r))
			continue;
		switch (f->kind) {
		case FAULT_DOWN: b = BLOCK_DOWN; break;
		case FAULT_BLACKHOLE: b = BLOCK_BLACKHOLE; break;
		case FAULT_RESET: b = BLOCK_RESET; break;
		case FAULT_LATENCY:
			e->latency_ms += f->ms;
			e->jitter_ms += f->jitter_ms;
			break;
		case FAULT_BANDWIDTH:
			if (e->rate == 0 || f->rate < e->rate)
				e->rate = f->rate;
			break;
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

/* "A>B,C>D" or "*" into f; an error names every unknown route. */
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

/* key=value parameters of a latency or bandwidth fault. */
bool fault_parse_params(struct fault *f, char *save, struct sbuf *out)
{
	bool have_ms = false, have_rate = false;
	char *tok;

	while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (eq == NULL) {
			sb_printf(out, "'%.100s': parameters are KEY=VALUE",
				  tok);
			return false;
		}
		*eq = '\0';
		if (f->kind == FAULT_LATENCY &&
		    (strcmp(tok, "ms") == 0 || strcmp(tok, "jitter") == 0)) {
			if (!parse_num(eq + 1, 0, PROXY_MAX_MS, &v)) {
				sb_printf(out,
					  "%s=%.40s: milliseconds 0-%d "
					  "expected",
					  tok, eq + 1, PROXY_MAX_MS);
				return false;
			}
			if (tok[0] == 'm') {
				f->ms = (unsigned)v;
				have_ms = true;
			} else {
				f->jitter_ms = (unsigned)v;
			}
		} else if (f->kind == FAULT_BANDWIDTH &&
			   strcmp(tok, "rate") == 0) {
			if (!parse_num(eq + 1, 1, PROXY_MAX_RATE, &v)) {
				sb_printf(out,
					  "rate=%.40s: bytes per second "
					  "1-%llu expected",
					  eq + 1,
					  (unsigned long long)PROXY_MAX_RATE);
				return false;
			}
			f->rate = v;
			have_rate = true;
		} else {
			sb_printf(out,
				  "%s fault takes no parameter '%.40s'; it "
				  "takes %s",
				  fault_kind_names[f->kind], tok,
				  f->kind == FAULT_LATENCY ? "ms=N [jitter=N]"
				  : f->kind == FAULT_BANDWIDTH
				      ? "rate=BYTES_PER_S"
				      : "none");
			return false;
		}
	}
	if (f->kind == FAULT_LATENCY && !have_ms) {
		sb_printf(out, "latency needs ms=N (and optionally jitter=N)");
		return false;
	}
	if (f->kind == FAULT_BANDWIDTH && !have_rate) {
		sb_printf(out, "bandwidth needs rate=BYTES_PER_S");
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
	if (f->kind == FAULT_LATENCY)
		sb_printf(out, " ms=%u jitter=%u", f->ms, f->jitter_ms);
	if (f->kind == FAULT_BANDWIDTH)
		sb_printf(out, " rate=%llu", (unsigned long long)f->rate);
}
