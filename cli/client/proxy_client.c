/* proxy_client.c: the lab's calls to a running `ekulab proxy` (commands:
 * cli/proxy.h). */
#include "proxy_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin_client.h"
#include "ekulab/core/err.h"
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
	if (n > 0 && (size_t)n < sizeof(cmd) && strcmp(f->kind, "latency") == 0)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
			      " ms=%u jitter=%u", f->ms, f->jitter_ms);
	else if (n > 0 && (size_t)n < sizeof(cmd) &&
		 strcmp(f->kind, "bandwidth") == 0)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " rate=%llu",
			      f->rate);
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

/* Split body into lines (in place); returns how many, *lines owned. */
static int split_lines(char *body, char ***lines, size_t *n, char *err)
{
	size_t count = 0, i = 0;
	char *s, *save = NULL;

	for (s = body; *s != '\0'; s++)
		if (*s == '\n')
			count++;
	*lines = ekl_calloc(count + 1, sizeof(char *));
	if (*lines == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (s = strtok_r(body, "\n", &save); s != NULL && i <= count;
	     s = strtok_r(NULL, "\n", &save))
		(*lines)[i++] = s;
	*n = i;
	return 0;
}

static bool get_ull(const char *v, unsigned long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool get_uint(const char *v, unsigned *out)
{
	unsigned long long x;

	if (!get_ull(v, &x) || x > 0xffffffffull)
		return false;
	*out = (unsigned)x;
	return true;
}

/* "KEY=VALUE" words after the leading ones; calls set() for each. */
static bool each_pair(char *words, void *arg,
		      bool (*set)(void *arg, const char *k, const char *v))
{
	char *w, *save = NULL;

	if (words == NULL)
		return true;
	for (w = strtok_r(words, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		if (eq == NULL)
			return false;
		*eq = '\0';
		if (!set(arg, w, eq + 1))
			return false;
	}
	return true;
}

static bool copy(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

static bool fault_set(void *arg, const char *k, const char *v)
{
	struct proxy_fault_info *f = arg;

	if (strcmp(k, "routes") == 0) {
		f->routes = ekl_strdup(v);
		return f->routes != NULL;
	}
	if (strcmp(k, "ms") == 0)
		return get_uint(v, &f->ms);
	if (strcmp(k, "jitter") == 0)
		return get_uint(v, &f->jitter_ms);
	if (strcmp(k, "rate") == 0)
		return get_ull(v, &f->rate);
	return true; /* newer proxies may say more */
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

int proxy_client_faults(const char *control, struct proxy_fault_info **out,
			size_t *n, char *err)
{
	struct proxy_fault_info *f = NULL;
	char *body = NULL, **lines = NULL;
	size_t count = 0, i;
	int rv;

	*out = NULL;
	*n = 0;
	rv = proxy_client_call(control, false, "fault list", &body, err);
	if (rv != 0)
		return rv;
	rv = split_lines(body, &lines, &count, err);
	if (rv != 0)
		goto out;
	f = ekl_calloc(count ? count : 1, sizeof(*f));
	if (f == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i++) {
		char *save = NULL;
		char *name = strtok_r(lines[i], " ", &save);
		char *kind = strtok_r(NULL, " ", &save);

		if (name == NULL || kind == NULL ||
		    !copy(f[i].name, sizeof(f[i].name), name) ||
		    !copy(f[i].kind, sizeof(f[i].kind), kind) ||
		    !each_pair(save, &f[i], fault_set) || f[i].routes == NULL) {
			rv = ekl_errf(err, EKL_EPROTO,
				      "lab proxy: unexpected fault list line "
				      "%zu",
				      i + 1);
			proxy_client_faults_free(f, count);
			f = NULL;
			goto out;
		}
	}
	*out = f;
	*n = count;
out:
	ekl_free(lines);
	ekl_free(body);
	return rv;
}

static bool route_set(void *arg, const char *k, const char *v)
{
	struct proxy_route_info *r = arg;

	if (strcmp(k, "listen") == 0)
		return copy(r->listen, sizeof(r->listen), v);
	if (strcmp(k, "target") == 0)
		return copy(r->target, sizeof(r->target), v);
	if (strcmp(k, "state") == 0)
		return copy(r->state, sizeof(r->state), v);
	if (strcmp(k, "conns") == 0)
		return get_ull(v, &r->conns);
	if (strcmp(k, "accepted") == 0)
		return get_ull(v, &r->accepted);
	if (strcmp(k, "refused") == 0)
		return get_ull(v, &r->refused);
	if (strcmp(k, "to_target") == 0)
		return get_ull(v, &r->to_target);
	if (strcmp(k, "to_client") == 0)
		return get_ull(v, &r->to_client);
	if (strcmp(k, "latency_ms") == 0)
		return get_uint(v, &r->latency_ms);
	if (strcmp(k, "jitter_ms") == 0)
		return get_uint(v, &r->jitter_ms);
	if (strcmp(k, "rate") == 0)
		return get_ull(v, &r->rate);
	if (strcmp(k, "faults") == 0) {
		r->faults = ekl_strdup(strcmp(v, "-") == 0 ? "" : v);
		return r->faults != NULL;
	}
	return true;
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

int proxy_client_routes(const char *control, struct proxy_route_info **out,
			size_t *n, char *err)
{
	struct proxy_route_info *r = NULL;
	char *body = NULL, **lines = NULL;
	size_t count = 0, i;
	int rv;

	*out = NULL;
	*n = 0;
	rv = proxy_client_call(control, false, "routes", &body, err);
	if (rv != 0)
		return rv;
	rv = split_lines(body, &lines, &count, err);
	if (rv != 0)
		goto out;
	r = ekl_calloc(count ? count : 1, sizeof(*r));
	if (r == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i++) {
		char *save = NULL;
		char *name = strtok_r(lines[i], " ", &save);

		if (name == NULL || !copy(r[i].name, sizeof(r[i].name), name) ||
		    !each_pair(save, &r[i], route_set) || r[i].faults == NULL) {
			rv = ekl_errf(err, EKL_EPROTO,
				      "lab proxy: unexpected routes line %zu",
				      i + 1);
			proxy_client_routes_free(r, count);
			r = NULL;
			goto out;
		}
	}
	*out = r;
	*n = count;
out:
	ekl_free(lines);
	ekl_free(body);
	return rv;
}
