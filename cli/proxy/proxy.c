/* proxy.c: the lab's link-fault proxy: lifecycle and the helpers its
 * files share (proxy_int.h says which file holds what). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "proxy_int.h"

uint64_t proxy_rng_next(struct proxy *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ull;
}

double proxy_rng_unit(struct proxy *p)
{
	return (double)(proxy_rng_next(p) >> 11) / 9007199254740992.0;
}

void proxy_timer_arm(struct ev_loop *loop, ev_timer *t, ev_tstamp after)
{
	ev_timer_stop(loop, t);
	ev_timer_set(t, after > 0 ? after : 0., 0.);
	ev_timer_start(loop, t);
}

void proxy_io_want(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

bool proxy_valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > PROXY_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->oom = true;
		return;
	}
	if (s->len + (size_t)n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *nb;

		while (cap < s->len + (size_t)n + 1)
			cap *= 2;
		nb = ekl_realloc(s->buf, cap);
		if (nb == NULL) {
			s->oom = true;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* ---- lifecycle ---- */

int proxy_new(struct ev_loop *loop, struct proxy **out, char *err)
{
	struct proxy *p = ekl_calloc(1, sizeof(*p));
	struct timespec ts;

	if (p == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	p->loop = loop;
	clock_gettime(CLOCK_REALTIME, &ts);
	p->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		 ((uint64_t)getpid() << 40);
	if (p->rng == 0)
		p->rng = 0x9e3779b97f4a7c15ull;
	*out = p;
	return 0;
}

void proxy_free(struct proxy *p)
{
	size_t i;

	if (p == NULL)
		return;
	linesrv_free(p->control);
	for (i = 0; i < p->n_routes; i++)
		route_free(p, p->routes[i]);
	ekl_free(p->routes);
	while (p->faults != NULL) {
		struct fault *f = p->faults;

		p->faults = f->next;
		fault_free(f);
	}
	ekl_free(p);
}
