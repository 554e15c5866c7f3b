/* ctl.c: the proxy's control commands, each a handler that writes its
 * response body and says whether it is "ok" (proxy.h lists them), and
 * the control socket: a linesrv (lib/wire) that hands each request to
 * ctl_handle. */
#include <stdio.h>
#include <string.h>

#include "ekulab/core/json.h"
#include "ekulab/core/log.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "ekulab/wire/linesrv.h"
#include "proxy_int.h"

/* The kinds and their parameters, for the usage and help texts. */
#define FAULT_KINDS_USAGE                                                      \
	"down | blackhole | reset | latency ms=N [jitter=N] | bandwidth "      \
	"rate=BYTES_PER_S | slow_close ms=N | timeout ms=N | slicer "          \
	"average_size=N [size_variation=N] [delay_us=N] | limit_data "         \
	"bytes=N; any kind: [direction=both|upstream|downstream] "             \
	"[toxicity=0-1]"

typedef bool (*ctl_fn)(struct proxy *p, bool json, char *arg, struct sbuf *out);

static void json_out(struct json *j, struct sbuf *out)
{
	const char *s = json_finish(j);

	if (s == NULL)
		out->oom = true;
	else
		sb_printf(out, "%s\n", s);
}

static bool cmd_routes(struct proxy *p, bool json, char *arg, struct sbuf *out)
{
	struct json j;
	size_t i;

	if (arg[0] != '\0') {
		sb_printf(out, "routes takes no argument");
		return false;
	}
	json_init(&j);
	if (json) {
		json_obj_begin(&j);
		json_key(&j, "routes");
		json_arr_begin(&j);
	}
	for (i = 0; i < p->n_routes; i++) {
		struct route *r = p->routes[i];
		const struct fault *f;
		bool any = false;

		if (json) {
			char from[PROXY_NAME_MAX + 1];
			const char *gt = strchr(r->name, '>');

			snprintf(from, sizeof(from), "%.*s",
				 (int)(gt - r->name), r->name);
			json_obj_begin(&j);
			json_key(&j, "name");
			json_str(&j, r->name);
			json_key(&j, "from");
			json_str(&j, from);
			json_key(&j, "to");
			json_str(&j, gt + 1);
			json_key(&j, "listen");
			json_str(&j, r->listen_text);
			json_key(&j, "target");
			json_str(&j, r->target_text);
			json_key(&j, "state");
			json_str(&j, route_state_name(r->eff.state));
			json_key(&j, "connections");
			json_int(&j, (int64_t)r->n_conns);
			json_key(&j, "accepted");
			json_int(&j, (int64_t)r->accepted);
			json_key(&j, "refused");
			json_int(&j, (int64_t)r->refused);
			json_key(&j, "bytes_to_target");
			json_int(&j, (int64_t)r->bytes[DIR_TO_TARGET]);
			json_key(&j, "bytes_to_client");
			json_int(&j, (int64_t)r->bytes[DIR_TO_CLIENT]);
			json_key(&j, "latency_ms");
			json_int(&j, r->eff.latency_ms);
			json_key(&j, "jitter_ms");
			json_int(&j, r->eff.jitter_ms);
			json_key(&j, "rate");
			json_int(&j, (int64_t)r->eff.rate);
			json_key(&j, "faults");
			json_arr_begin(&j);
			for (f = p->faults; f != NULL; f = f->next)
				if (fault_covers(f, r))
					json_str(&j, f->name);
			json_arr_end(&j);
			json_obj_end(&j);
			continue;
		}
		sb_printf(out,
			  "%s listen=%s target=%s state=%s conns=%zu "
			  "accepted=%llu refused=%llu to_target=%llu "
			  "to_client=%llu latency_ms=%u jitter_ms=%u "
			  "rate=%llu faults=",
			  r->name, r->listen_text, r->target_text,
			  route_state_name(r->eff.state), r->n_conns,
			  r->accepted, r->refused, r->bytes[DIR_TO_TARGET],
			  r->bytes[DIR_TO_CLIENT], r->eff.latency_ms,
			  r->eff.jitter_ms, (unsigned long long)r->eff.rate);
		for (f = p->faults; f != NULL; f = f->next)
			if (fault_covers(f, r)) {
				sb_printf(out, "%s%s", any ? "," : "", f->name);
				any = true;
			}
		sb_printf(out, "%s\n", any ? "" : "-");
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_out(&j, out);
	}
	json_close(&j);
	return true;
}

static bool cmd_fault_list(struct proxy *p, bool json, char *arg,
			   struct sbuf *out)
{
	const struct fault *f;
	struct json j;
	size_t i;

	if (arg[0] != '\0') {
		sb_printf(out, "fault list takes no argument");
		return false;
	}
	if (!json) {
		for (f = p->faults; f != NULL; f = f->next) {
			fault_describe(p, f, out);
			sb_printf(out, "\n");
		}
		return true;
	}
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "faults");
	json_arr_begin(&j);
	for (f = p->faults; f != NULL; f = f->next) {
		json_obj_begin(&j);
		json_key(&j, "name");
		json_str(&j, f->name);
		json_key(&j, "kind");
		json_str(&j, fault_kind_names[f->kind]);
		json_key(&j, "all");
		json_bool(&j, f->all);
		json_key(&j, "routes");
		json_arr_begin(&j);
		for (i = 0; i < p->n_routes; i++)
			if (f->all || f->on[i])
				json_str(&j, p->routes[i]->name);
		json_arr_end(&j);
		switch (f->kind) {
		case FAULT_LATENCY:
			json_key(&j, "ms");
			json_int(&j, f->ms);
			json_key(&j, "jitter");
			json_int(&j, f->jitter_ms);
			break;
		case FAULT_BANDWIDTH:
			json_key(&j, "rate");
			json_int(&j, (int64_t)f->rate);
			break;
		case FAULT_SLOW_CLOSE:
		case FAULT_TIMEOUT:
			json_key(&j, "ms");
			json_int(&j, f->ms);
			break;
		case FAULT_SLICER:
			json_key(&j, "average_size");
			json_int(&j, f->average_size);
			json_key(&j, "size_variation");
			json_int(&j, f->size_variation);
			json_key(&j, "delay_us");
			json_int(&j, f->delay_us);
			break;
		case FAULT_LIMIT_DATA:
			json_key(&j, "bytes");
			json_int(&j, (int64_t)f->bytes);
			break;
		default: break;
		}
		json_key(&j, "direction");
		json_str(&j, fault_dir_name(f->dir));
		json_key(&j, "toxicity");
		json_double(&j, f->toxicity);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_out(&j, out);
	json_close(&j);
	return true;
}

/* fault add NAME KIND ROUTES [KEY=VALUE ...] */
static bool cmd_fault_add(struct proxy *p, bool json, char *arg,
			  struct sbuf *out)
{
	char *save = NULL;
	char *name = strtok_r(arg, " ", &save);
	char *kind = strtok_r(NULL, " ", &save);
	char *routes = strtok_r(NULL, " ", &save);
	struct fault *f, **tail;
	size_t i;

	if (name == NULL || kind == NULL || routes == NULL) {
		sb_printf(out, "usage: fault add NAME KIND ROUTES "
			       "[KEY=VALUE...]; KIND: " FAULT_KINDS_USAGE
			       "; ROUTES: A>B[,C>D...] or *");
		return false;
	}
	if (!proxy_valid_name(name, strlen(name)) || strcmp(name, "all") == 0) {
		sb_printf(out,
			  "fault name '%.80s': use up to %d letters, digits, "
			  "'.', '_', '-' (and not 'all')",
			  name, PROXY_NAME_MAX);
		return false;
	}
	if (fault_find(p, name) != NULL) {
		sb_printf(out,
			  "a fault named '%s' exists; remove it first or "
			  "choose another name",
			  name);
		return false;
	}
	f = ekl_calloc(1, sizeof(*f));
	if (f == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	for (i = 0; i < N_KINDS; i++)
		if (strcmp(kind, fault_kind_names[i]) == 0)
			break;
	if (i == N_KINDS) {
		sb_printf(out,
			  "unknown fault kind '%.40s'; kinds: down, blackhole, "
			  "reset, latency, bandwidth, slow_close, timeout, "
			  "slicer, limit_data",
			  kind);
		goto err;
	}
	f->kind = (enum fault_kind)i;
	if (!fault_parse_routes(p, f, routes, out) ||
	    !fault_parse_params(f, save, out))
		goto err;
	if (p->slots == UINT64_MAX) {
		sb_printf(out,
			  "%d faults are in force, the most the proxy holds; "
			  "remove some first",
			  PROXY_MAX_FAULTS);
		goto err;
	}
	for (f->slot = 0; p->slots & (UINT64_C(1) << f->slot); f->slot++)
		;
	p->slots |= UINT64_C(1) << f->slot;
	for (tail = &p->faults; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = f;
	{
		struct sbuf d = {0};

		fault_describe(p, f, &d);
		ekl_info("fault added: %s", d.buf != NULL ? d.buf : f->name);
		ekl_free(d.buf);
	}
	for (i = 0; i < p->n_routes; i++)
		if (fault_covers(f, p->routes[i]))
			route_fault_added(p, p->routes[i], f);
	if (json)
		sb_printf(out, "{\"added\":\"%s\"}\n", f->name);
	else
		sb_printf(out, "added %s\n", f->name);
	return true;

err:
	fault_free(f);
	return false;
}

/* Unlink every fault (or the one named) and re-apply the routes they
 * covered. */
static bool cmd_fault_remove(struct proxy *p, bool json, char *arg,
			     struct sbuf *out)
{
	bool all = strcmp(arg, "all") == 0;
	bool *touched = NULL;
	struct fault **pp = &p->faults;
	size_t i, n = 0;

	if (arg[0] == '\0' || strchr(arg, ' ') != NULL) {
		sb_printf(out, "usage: fault remove NAME | fault remove all");
		return false;
	}
	if (!all && fault_find(p, arg) == NULL) {
		sb_printf(out, "no fault named '%.80s'; see 'fault list'", arg);
		return false;
	}
	touched = ekl_calloc(p->n_routes ? p->n_routes : 1, sizeof(bool));
	if (touched == NULL) {
		sb_printf(out, "out of memory");
		return false;
	}
	if (json)
		sb_printf(out, "{\"removed\":[");
	while (*pp != NULL) {
		struct fault *f = *pp;

		if (!all && strcmp(f->name, arg) != 0) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		for (i = 0; i < p->n_routes; i++)
			if (fault_covers(f, p->routes[i])) {
				touched[i] = true;
				route_fault_removed(p, p->routes[i], f->slot);
			}
		p->slots &= ~(UINT64_C(1) << f->slot);
		ekl_info("fault removed: %s", f->name);
		if (json)
			sb_printf(out, "%s\"%s\"", n ? "," : "", f->name);
		else
			sb_printf(out, "removed %s\n", f->name);
		n++;
		fault_free(f);
	}
	if (json)
		sb_printf(out, "]}\n");
	else if (n == 0)
		sb_printf(out, "no faults\n");
	for (i = 0; i < p->n_routes; i++)
		if (touched[i])
			route_apply(p, p->routes[i]);
	ekl_free(touched);
	return true;
}

static bool cmd_help(struct proxy *p, bool json, char *arg, struct sbuf *out);

static const struct {
	const char *name;
	ctl_fn fn;
	const char *help;
} ctl_commands[] = {
    {"routes", cmd_routes,
     "each route: listen, target, state, connections, bytes, faults"},
    {"fault add", cmd_fault_add,
     "NAME KIND ROUTES [KEY=VALUE...]: " FAULT_KINDS_USAGE
     "; ROUTES A>B[,C>D...] or *"},
    {"fault list", cmd_fault_list, "the faults in force"},
    {"fault remove", cmd_fault_remove, "NAME | all"},
    {"help", cmd_help, "this list"},
};

#define N_CTL_COMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static bool cmd_help(struct proxy *p, bool json, char *arg, struct sbuf *out)
{
	size_t i;

	(void)p;
	(void)json;
	(void)arg;
	for (i = 0; i < N_CTL_COMMANDS; i++)
		sb_printf(out, "%-13s %s\n", ctl_commands[i].name,
			  ctl_commands[i].help);
	return true;
}

/* Run COMMAND, response body in out. */
static bool ctl_dispatch(struct proxy *p, bool json, char *line,
			 struct sbuf *out)
{
	size_t i;

	for (i = 0; i < N_CTL_COMMANDS; i++) {
		size_t n = strlen(ctl_commands[i].name);

		if (strncmp(line, ctl_commands[i].name, n) == 0 &&
		    (line[n] == '\0' || line[n] == ' '))
			return ctl_commands[i].fn(
			    p, json, line[n] ? line + n + 1 : line + n, out);
	}
	sb_printf(out, "unknown command '%.200s'; try 'help'", line);
	return false;
}

/* ---- control socket ---- */

/* linesrv's handler: one request, answered now. */
static void ctl_handle(void *arg, struct adminproto_request *rq,
		       struct linesrv_reply *reply)
{
	struct proxy *p = arg;
	struct sbuf body = {0};
	bool ok;

	if (rq->has_options) {
		sb_printf(&body, "the proxy takes no options: request must be "
				 "'text|json COMMAND'");
		ok = false;
	} else {
		ok = ctl_dispatch(p, rq->opts.format == ADMINPROTO_JSON,
				  rq->command, &body);
	}
	if (body.oom) {
		ekl_free(body.buf);
		linesrv_reply_done(reply, false, "out of memory");
		return;
	}
	linesrv_reply_take(reply, ok, body.buf, body.len);
}

int proxy_control_start(struct proxy *p, const char *path, char *err)
{
	struct linesrv *s = NULL;
	int rv;

	if (p->control != NULL)
		return ekl_errf(err, EKL_EINVAL,
				"--control %s: the proxy already serves a "
				"control socket",
				path);
	rv = linesrv_new(p->loop, ctl_handle, p, &s, err);
	if (rv != 0)
		return rv;
	rv = linesrv_listen(s, path, "--control", "process", err);
	if (rv != 0) {
		linesrv_free(s);
		return rv;
	}
	p->control = s;
	return 0;
}
