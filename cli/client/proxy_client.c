/* proxy_client.c: the lab's calls to a running `ekulab proxy` (commands:
 * cli/proxy/proxy.h), over the admin protocol client; lists are read from
 * the proxy's JSON. */
#include "proxy_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin_client.h"
#include "ekulab/core/err.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"

int proxy_client_call(const char *control, bool json, const char *command,
		      char **body, char *err)
{
	struct stat st;
	bool ok = false;
	char *b = NULL;
	int fd, rv;

	*body = NULL;
	fd = admin_client_connect(control, err);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO,
				"lab proxy control socket %s: %s; is 'ekulab "
				"proxy --control %s' running?",
				control,
				stat(control, &st) != 0 ? "does not exist"
							: "nobody answers",
				control);
	/* Every control command is answered at once by the proxy's loop; a
	 * stalled proxy is reported, never waited for. */
	{
		struct timeval tv = {PROXY_CLIENT_TIMEOUT_MS / 1000,
				     (PROXY_CLIENT_TIMEOUT_MS % 1000) * 1000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	rv = admin_client_call(fd, json ? "json" : "text", command, &ok, &b,
			       err);
	close(fd);
	if (rv != 0)
		return rv;
	if (!ok) {
		size_t n = strlen(b);

		if (strncmp(b, "a fault named", 13) == 0)
			rv = EKL_EEXIST;
		else if (strncmp(b, "no fault named", 14) == 0)
			rv = EKL_ENOENT;
		else
			rv = EKL_EINVAL;
		while (n > 0 && b[n - 1] == '\n')
			b[--n] = '\0';
		ekl_errf(err, rv, "lab proxy: %s", b);
		ekl_free(b);
		return rv;
	}
	*body = b;
	return 0;
}

/* Words the proxy would split differently than we meant. */
static bool one_word(const char *s)
{
	return s != NULL && s[0] != '\0' && strpbrk(s, " \t\r\n") == NULL;
}

int proxy_client_fault_add(const char *control,
			   const struct proxy_fault_spec *f, char *err)
{
	char cmd[4096];
	char *body = NULL;
	int n, rv;

	if (!one_word(f->name) || !one_word(f->kind) || !one_word(f->routes))
		return ekl_errf(err, EKL_EINVAL,
				"fault: name, kind and routes must be single "
				"words (routes as A>B,C>D or *)");
	n = snprintf(cmd, sizeof(cmd), "fault add %s %s %s", f->name, f->kind,
		     f->routes);
	if (n > 0 && (size_t)n + 1 < sizeof(cmd)) {
		cmd[n] = ' ';
		if (proxy_fault_params(f, cmd + n + 1,
				       sizeof(cmd) - (size_t)n - 1) != 0)
			return ekl_errf(err, EKL_EINVAL,
					"fault %.60s: route list too long or "
					"bad direction",
					f->name);
		n = (int)strlen(cmd);
	}
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return ekl_errf(err, EKL_EINVAL,
				"fault %.60s: route list too long", f->name);
	rv = proxy_client_call(control, false, cmd, &body, err);
	ekl_free(body);
	return rv;
}

int proxy_client_fault_remove(const char *control, const char *name, char *err)
{
	char cmd[256];
	char *body = NULL;
	int rv;

	if (!one_word(name) || strlen(name) > 128)
		return ekl_errf(err, EKL_EINVAL,
				"fault remove: give one fault name or 'all'");
	snprintf(cmd, sizeof(cmd), "fault remove %s", name);
	rv = proxy_client_call(control, false, cmd, &body, err);
	ekl_free(body);
	return rv;
}

int proxy_fault_params(const struct proxy_fault_spec *f, char *buf, size_t len)
{
	size_t m = 0;
	int k = 0;

	if (len == 0)
		return EKL_EINVAL;
	buf[0] = '\0';
	if (f->direction != NULL && !one_word(f->direction))
		return EKL_EINVAL;
	if (strcmp(f->kind, "latency") == 0)
		k = snprintf(buf, len, " ms=%u jitter=%u", f->ms, f->jitter_ms);
	else if (strcmp(f->kind, "bandwidth") == 0)
		k = snprintf(buf, len, " rate=%llu", f->rate);
	else if (strcmp(f->kind, "slow_close") == 0 ||
		 strcmp(f->kind, "timeout") == 0)
		k = snprintf(buf, len, " ms=%u", f->ms);
	else if (strcmp(f->kind, "slicer") == 0)
		k = snprintf(buf, len,
			     " average_size=%u size_variation=%u delay_us=%u",
			     f->average_size, f->size_variation, f->delay_us);
	else if (strcmp(f->kind, "limit_data") == 0)
		k = snprintf(buf, len, " bytes=%llu", f->bytes);
	if (k < 0 || (size_t)k >= len)
		return EKL_EINVAL;
	m = (size_t)k;
	if (f->direction != NULL && strcmp(f->direction, "both") != 0) {
		k = snprintf(buf + m, len - m, " direction=%s", f->direction);
		if (k < 0 || (size_t)k >= len - m)
			return EKL_EINVAL;
		m += (size_t)k;
	}
	if (f->has_toxicity) {
		k = snprintf(buf + m, len - m, " toxicity=%.6f", f->toxicity);
		if (k < 0 || (size_t)k >= len - m)
			return EKL_EINVAL;
		m += (size_t)k;
	}
	/* Without the leading space. */
	memmove(buf, buf + (m > 0), m + (m == 0));
	return 0;
}

/* ---- the proxy's JSON ---- */

/* A JSON response's document and root object under `key`, an array. */
static int json_list(const char *control, const char *command, const char *key,
		     struct jsonr_doc **doc, const struct jsonr_value **list,
		     char *err)
{
	char *body = NULL, jerr[EKL_ERRLEN];
	int rv = proxy_client_call(control, true, command, &body, err);

	*doc = NULL;
	if (rv != 0)
		return rv;
	rv = jsonr_parse(body, strlen(body), doc, jerr);
	ekl_free(body);
	if (rv != 0)
		return ekl_errf(err, rv == EKL_ENOMEM ? EKL_ENOMEM : EKL_EPROTO,
				"lab proxy: '%s': %s", command, jerr);
	*list = jsonr_get(jsonr_root(*doc), key);
	if (!jsonr_is(*list, JSONR_ARRAY)) {
		jsonr_free(*doc);
		*doc = NULL;
		return ekl_errf(err, EKL_EPROTO,
				"lab proxy: '%s': no \"%s\" list", command,
				key);
	}
	return 0;
}

static bool copy(char *dst, size_t len, const char *v)
{
	if (v == NULL || strlen(v) >= len)
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

static bool get_ull(const struct jsonr_value *o, const char *key,
		    unsigned long long *out)
{
	int64_t v;

	if (!jsonr_get_int(o, key, &v) || v < 0)
		return false;
	*out = (unsigned long long)v;
	return true;
}

static bool get_uint(const struct jsonr_value *o, const char *key,
		     unsigned *out)
{
	unsigned long long v;

	if (!get_ull(o, key, &v) || v > 0xffffffffull)
		return false;
	*out = (unsigned)v;
	return true;
}

/* The strings of an array joined with ',' (owned), "" for none. */
static char *join(const struct jsonr_value *arr)
{
	const struct jsonr_value *v;
	size_t n = 1;
	char *s;

	if (!jsonr_is(arr, JSONR_ARRAY))
		return NULL;
	for (v = jsonr_first(arr); v != NULL; v = v->next) {
		if (jsonr_str(v) == NULL)
			return NULL;
		n += v->u.str.len + 1;
	}
	s = ekl_malloc(n);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (v = jsonr_first(arr); v != NULL; v = v->next) {
		if (s[0] != '\0')
			strcat(s, ",");
		strcat(s, jsonr_str(v));
	}
	return s;
}

void proxy_client_faults_free(struct proxy_fault_info *f, size_t n)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < n; i++)
		ekl_free(f[i].routes);
	ekl_free(f);
}

/* One fault of 'json fault list'. */
static bool fault_from(const struct jsonr_value *o, struct proxy_fault_info *f)
{
	const struct jsonr_value *v;
	bool all = false;

	if (!copy(f->name, sizeof(f->name), jsonr_get_str(o, "name")) ||
	    !copy(f->kind, sizeof(f->kind), jsonr_get_str(o, "kind")) ||
	    !jsonr_get_bool(o, "all", &all))
		return false;
	f->routes = all ? ekl_strdup("*") : join(jsonr_get(o, "routes"));
	if (f->routes == NULL)
		return false;
	/* Parameters appear for the kinds that have them. */
	if (jsonr_get(o, "ms") != NULL && !get_uint(o, "ms", &f->ms))
		return false;
	if (jsonr_get(o, "jitter") != NULL &&
	    !get_uint(o, "jitter", &f->jitter_ms))
		return false;
	if (jsonr_get(o, "rate") != NULL && !get_ull(o, "rate", &f->rate))
		return false;
	if (jsonr_get(o, "bytes") != NULL && !get_ull(o, "bytes", &f->bytes))
		return false;
	if (jsonr_get(o, "average_size") != NULL &&
	    (!get_uint(o, "average_size", &f->average_size) ||
	     !get_uint(o, "size_variation", &f->size_variation) ||
	     !get_uint(o, "delay_us", &f->delay_us)))
		return false;
	/* Proxies before direction and toxicity: both, every connection. */
	snprintf(f->direction, sizeof(f->direction), "both");
	f->toxicity = 1.0;
	if (jsonr_get(o, "direction") != NULL &&
	    !copy(f->direction, sizeof(f->direction),
		  jsonr_get_str(o, "direction")))
		return false;
	v = jsonr_get(o, "toxicity");
	if (v != NULL) {
		if (!jsonr_is(v, JSONR_NUMBER) || !(v->u.num.d >= 0.0) ||
		    v->u.num.d > 1.0)
			return false;
		f->toxicity = v->u.num.d;
	}
	return true;
}

void proxy_fault_info_text(const struct proxy_fault_info *f, char *buf,
			   size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (strcmp(f->kind, "latency") == 0)
		n = (size_t)snprintf(buf, len, "%u ms, jitter %u ms", f->ms,
				     f->jitter_ms);
	else if (strcmp(f->kind, "bandwidth") == 0)
		n = (size_t)snprintf(buf, len, "%llu B/s", f->rate);
	else if (strcmp(f->kind, "slow_close") == 0)
		n = (size_t)snprintf(buf, len, "close delayed %u ms", f->ms);
	else if (strcmp(f->kind, "timeout") == 0)
		n = f->ms > 0 ? (size_t)snprintf(buf, len,
						 "nothing moves, closed after "
						 "%u ms",
						 f->ms)
			      : (size_t)snprintf(buf, len,
						 "nothing moves, never closed");
	else if (strcmp(f->kind, "slicer") == 0)
		n = (size_t)snprintf(
		    buf, len, "pieces of %u+-%u bytes every %u us",
		    f->average_size, f->size_variation, f->delay_us);
	else if (strcmp(f->kind, "limit_data") == 0)
		n = (size_t)snprintf(buf, len, "close after %llu bytes",
				     f->bytes);
	if (n < len && strcmp(f->direction, "both") != 0 &&
	    f->direction[0] != '\0')
		n += (size_t)snprintf(buf + n, len - n, "%s%s only",
				      n ? ", " : "", f->direction);
	if (n < len && f->toxicity < 1.0)
		(void)snprintf(buf + n, len - n, "%son %g%% of connections",
			       n ? ", " : "", f->toxicity * 100.0);
}

int proxy_client_faults(const char *control, struct proxy_fault_info **out,
			size_t *n, char *err)
{
	const struct jsonr_value *list = NULL, *v;
	struct proxy_fault_info *f = NULL;
	struct jsonr_doc *doc = NULL;
	size_t count, i = 0;
	int rv;

	*out = NULL;
	*n = 0;
	rv = json_list(control, "fault list", "faults", &doc, &list, err);
	if (rv != 0)
		return rv;
	count = jsonr_len(list);
	f = ekl_calloc(count ? count : 1, sizeof(*f));
	if (f == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	for (v = jsonr_first(list); v != NULL; v = v->next, i++)
		if (!fault_from(v, &f[i])) {
			rv = ekl_errf(err, EKL_EPROTO,
				      "lab proxy: unexpected fault %zu in "
				      "'fault list'",
				      i + 1);
			proxy_client_faults_free(f, count);
			goto out;
		}
	*out = f;
	*n = count;
out:
	jsonr_free(doc);
	return rv;
}

void proxy_client_routes_free(struct proxy_route_info *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		ekl_free(r[i].faults);
	ekl_free(r);
}

/* One route of 'json routes'. */
static bool route_from(const struct jsonr_value *o, struct proxy_route_info *r)
{
	if (!copy(r->name, sizeof(r->name), jsonr_get_str(o, "name")) ||
	    !copy(r->listen, sizeof(r->listen), jsonr_get_str(o, "listen")) ||
	    !copy(r->target, sizeof(r->target), jsonr_get_str(o, "target")) ||
	    !copy(r->state, sizeof(r->state), jsonr_get_str(o, "state")) ||
	    !get_ull(o, "connections", &r->conns) ||
	    !get_ull(o, "accepted", &r->accepted) ||
	    !get_ull(o, "refused", &r->refused) ||
	    !get_ull(o, "bytes_to_target", &r->to_target) ||
	    !get_ull(o, "bytes_to_client", &r->to_client) ||
	    !get_uint(o, "latency_ms", &r->latency_ms) ||
	    !get_uint(o, "jitter_ms", &r->jitter_ms) ||
	    !get_ull(o, "rate", &r->rate))
		return false;
	r->faults = join(jsonr_get(o, "faults"));
	return r->faults != NULL;
}

int proxy_client_routes(const char *control, struct proxy_route_info **out,
			size_t *n, char *err)
{
	const struct jsonr_value *list = NULL, *v;
	struct proxy_route_info *r = NULL;
	struct jsonr_doc *doc = NULL;
	size_t count, i = 0;
	int rv;

	*out = NULL;
	*n = 0;
	rv = json_list(control, "routes", "routes", &doc, &list, err);
	if (rv != 0)
		return rv;
	count = jsonr_len(list);
	r = ekl_calloc(count ? count : 1, sizeof(*r));
	if (r == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	for (v = jsonr_first(list); v != NULL; v = v->next, i++)
		if (!route_from(v, &r[i])) {
			rv = ekl_errf(err, EKL_EPROTO,
				      "lab proxy: unexpected route %zu in "
				      "'routes'",
				      i + 1);
			proxy_client_routes_free(r, count);
			goto out;
		}
	*out = r;
	*n = count;
out:
	jsonr_free(doc);
	return rv;
}
