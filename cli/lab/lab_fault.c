/* lab_fault.c: faults on a running lab: node faults through the runtime,
 * link faults through the lab proxy. */
#include "lab_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/proxy_client.h"
#include "ekulab/core/err.h"
#include "model/expressway.h"
#include "model/labmodel.h"
#include "model/plan/plan.h"
#include "ekulab/core/mem.h"
#include "lab_runtime.h"

/* Record fault `name` of `kind` on node `node` ("" for a link fault on
 * no route, lab_fault_links, so that no node fault logic sees it) and save
 * the lab. */
static int remember(struct lab *l, const char *name, const char *kind,
		    const char *node, char *err)
{
	struct lab_fault *f;
	int k;

	for (k = 0; k < l->n_faults; k++)
		if (strcmp(l->faults[k].name, name) == 0)
			return ekl_errf(err, EKL_EEXIST,
					"a fault called '%s' exists; choose "
					"another --name",
					name);
	if (l->n_faults == LAB_MAX_FAULTS)
		return ekl_errf(err, EKL_EINVAL, "too many faults; heal some");
	f = &l->faults[l->n_faults++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->node, sizeof(f->node), "%s", node);
	return lab_save(l, err);
}

static void forget(struct lab *l, int k)
{
	memmove(&l->faults[k], &l->faults[k + 1],
		(size_t)(l->n_faults - k - 1) * sizeof(l->faults[0]));
	l->n_faults--;
}

/* Forget node faults on `node` of `kind` (NULL: any). */
static void forget_node(struct lab *l, int node, const char *kind)
{
	int k;

	for (k = l->n_faults - 1; k >= 0; k--)
		if (strcmp(l->faults[k].node, l->nodes[node].name) == 0 &&
		    (kind == NULL || strcmp(l->faults[k].kind, kind) == 0))
			forget(l, k);
}

void lab_fault_name(const struct lab *l, const char *kind, char *buf,
		    size_t len)
{
	int n = 1, k;
	bool taken;

	do {
		snprintf(buf, len, "%s-%d", kind, n++);
		taken = false;
		for (k = 0; k < l->n_faults; k++)
			if (strcmp(l->faults[k].name, buf) == 0)
				taken = true;
	} while (taken);
}

/* Does a node fault in force (kill or pause) keep the node down? */
static bool held_down(const struct lab *l, int node)
{
	int k;

	for (k = 0; k < l->n_faults; k++)
		if (strcmp(l->faults[k].node, l->nodes[node].name) == 0)
			return true;
	return false;
}

/* Start node i from its node.conf and wait until it answers. */
static int start_wait(struct lab *l, int node, char *err)
{
	int rv;

	l->nodes[node].stale = false;
	if ((rv = lab_write_node_conf(l, node, err)) != 0 ||
	    (rv = l->rt->start_node(l, node, err)) != 0 ||
	    (rv = lab_save(l, err)) != 0)
		return rv;
	return lab_wait_node(l, node, 15, err);
}

/* After its faults changed: a node no fault holds down runs (resumed
 * when its process is there, paused; started when it is not). One still
 * held down is left as it is. */
static int bring_back(struct lab *l, int node, char *err)
{
	int rv;

	if (held_down(l, node))
		return 0;
	if (l->rt->node_running(l, node) && !l->nodes[node].stale)
		return l->rt->resume_node(l, node, err);
	/* Not running, or paused with settings it no longer has. */
	if (l->rt->node_running(l, node) &&
	    (rv = l->rt->stop_node(l, node, err)) != 0)
		return rv;
	return start_wait(l, node, err);
}

/* Apply node i's new settings (version, certificate, verify mode) the
 * way the model does: a running node restarts with them; a node that a
 * kill or pause holds down takes them without running, and starts with
 * them once its faults are healed. A paused process stays paused (its
 * admin socket still takes connections and never answers, as the model
 * says of a paused node), marked stale: healing starts it anew. */
static int reconfigure(struct lab *l, int node, char *err)
{
	int rv;

	if (held_down(l, node)) {
		if (l->rt->node_running(l, node))
			l->nodes[node].stale = true;
		if ((rv = lab_write_node_conf(l, node, err)) != 0)
			return rv;
		return lab_save(l, err);
	}
	if ((rv = l->rt->stop_node(l, node, err)) != 0)
		return rv;
	return start_wait(l, node, err);
}

int lab_fault_kill(struct lab *l, int node, const char *name, char *err)
{
	int rv = l->rt->node_running(l, node)
		     ? l->rt->kill_node(l, node, err)
		     : (held_down(l, node) ? 0
					   : ekl_errf(err, EKL_ENOENT,
						      "node %s is not running",
						      l->nodes[node].name));

	if (rv != 0)
		return rv;
	return remember(l, name, "kill", l->nodes[node].name, err);
}

int lab_fault_pause(struct lab *l, int node, const char *name, char *err)
{
	int rv = 0;

	/* A node a kill holds down has no process to freeze: the pause
	 * still holds it (the model: not running until both are healed). */
	if (l->rt->node_running(l, node) || !held_down(l, node))
		rv = l->rt->pause_node(l, node, err);
	if (rv != 0)
		return rv;
	return remember(l, name, "pause", l->nodes[node].name, err);
}

int lab_fault_resume(struct lab *l, int node, char *err)
{
	int rv;

	forget_node(l, node, "pause");
	if ((rv = lab_save(l, err)) != 0)
		return rv;
	return bring_back(l, node, err);
}

/* A new process: ends the node's kill and pause faults (SIGTERM, the node
 * says Bye; a paused one is thawed first), then starts it again. */
int lab_fault_restart(struct lab *l, int node, char *err)
{
	int rv;

	forget_node(l, node, NULL);
	if ((rv = l->rt->stop_node(l, node, err)) != 0)
		return rv;
	return start_wait(l, node, err);
}

int lab_fault_upgrade(struct lab *l, int node, const char *version, char *err)
{
	enum pol_vclass v;

	if (pol_version_parse(version, &v) != 0)
		return ekl_errf(err, EKL_EVERSION,
				"unknown version '%s'; use X14.x.y, "
				"X15.0-X15.3.x, X15.4 or X15.5",
				version);
	if ((size_t)node >= l->topo.n_nodes)
		return ekl_errf(err, EKL_EINVAL,
				"%s is an external peer: it has no Expressway "
				"version to upgrade (renew or verify it "
				"instead)",
				l->nodes[node].name);
	snprintf(l->nodes[node].version, sizeof(l->nodes[node].version), "%s",
		 version);
	return reconfigure(l, node, err);
}

int lab_fault_renew(struct lab *l, int node, enum pki_profile p, enum pki_ca ca,
		    bool force, char *err)
{
	struct lab_node *nd = &l->nodes[node];
	struct lab_node saved = *nd;
	int rv;

	/* An external has no upload rule (docs/model.md): it takes any. */
	if (!force && (size_t)node < l->topo.n_nodes) {
		/* The node's own rule (the model's, with the topology's
		 * server_eku_upload): would its web UI take this file? */
		struct xpw_node x;
		struct xpw_upload up;
		char why[400];

		x.role = l->topo.nodes[node].role;
		if (pol_version_parse(nd->version, &x.vclass) != 0)
			return ekl_errf(err, EKL_EVERSION, "bad version");
		x.server_eku_upload = l->topo.nodes[node].server_eku_upload;
		xpw_upload(&x, XPW_SLOT_SERVER, labmodel_profile_eku(p), &up);
		if (!up.accept) {
			xpw_refusal_text(nd->name, nd->version, &x, &up, why,
					 sizeof(why));
			return ekl_errf(err, EKL_EPERM,
					"%s; use --force to copy the file in "
					"by hand, as over SCP",
					why);
		}
	}
	nd->profile = p;
	nd->ca = ca;
	if ((rv = lab_issue_cert(l, node, err)) != 0) {
		*nd = saved;
		return rv;
	}
	return reconfigure(l, node, err);
}

int lab_fault_renew_client(struct lab *l, int node, enum pki_profile p,
			   enum pki_ca ca, char *err)
{
	struct lab_node *nd = &l->nodes[node];
	struct lab_node saved = *nd;
	int rv;

	nd->has_client = true;
	nd->client_profile = p;
	nd->client_ca = ca;
	if ((rv = lab_issue_cert(l, node, err)) != 0) {
		*nd = saved;
		return rv;
	}
	return reconfigure(l, node, err);
}

int lab_fault_verify(struct lab *l, enum pol_mode mode, int node, char *err)
{
	size_t i;
	int rv;

	/* node < 0: every Expressway node; an external only by name. */
	for (i = 0; i < (node >= 0 ? lab_n(l) : l->topo.n_nodes); i++) {
		if (node >= 0 && (size_t)node != i)
			continue;
		l->nodes[i].verify = mode;
		if ((rv = reconfigure(l, (int)i, err)) != 0)
			return rv;
	}
	return lab_save(l, err);
}

/* ---- the proxy ------------------------------------------------------------
 */

static int proxy_call(struct lab *l, const char *prefix, const char *cmd,
		      char **body, char *err)
{
	char sock[LAB_PATH_MAX + 32];

	lab_path(l, NULL, "proxy.sock", sock, sizeof(sock));
	return proxy_client_call(sock, strcmp(prefix, "json") == 0, cmd, body,
				 err);
}

int lab_fault_links(struct lab *l, const char *name, const char *kind,
		    const int *from, const int *to, int n, const char *params,
		    char *err)
{
	size_t cap = 256 + (size_t)n * 2 * (TOPO_NAME_MAX + 2), len;
	char *cmd = ekl_malloc(cap), *body = NULL;
	size_t nn = lab_n(l);
	int k, used = 0, rv;

	if (cmd == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	len = (size_t)snprintf(cmd, cap, "fault add %s %s ", name, kind);
	for (k = 0; k < n; k++) {
		if (l->route_port[(size_t)from[k] * nn + (size_t)to[k]] <= 0)
			continue; /* not dialled under this dial mode */
		len += (size_t)snprintf(
		    cmd + len, cap - len, "%s%s>%s", used++ ? "," : "",
		    l->nodes[from[k]].name, l->nodes[to[k]].name);
	}
	if (used == 0) {
		/* The dial mode makes none of these connections: the fault
		 * cuts nothing, as in the model, but it is in force (listed,
		 * healed by name). The lab remembers it: the proxy has no
		 * route to put it on. */
		ekl_free(cmd);
		return remember(l, name, kind, "", err);
	}
	if (params != NULL && params[0] != '\0')
		snprintf(cmd + len, cap - len, " %s", params);
	rv = proxy_call(l, "text", cmd, &body, err);
	ekl_free(body);
	ekl_free(cmd);
	return rv;
}

int lab_fault_plan_link(struct lab *l, const struct plan_fault *f, char *err)
{
	struct proxy_fault_spec spec;
	int from[2] = {f->link[0], f->link[1]};
	int to[2] = {f->link[1], f->link[0]};
	char params[256];

	if (!plan_fault_is_link(f->kind) || f->link[0] < 0 || f->link[1] < 0)
		return ekl_errf(err, EKL_EINVAL,
				"fault %s: not a link fault on two nodes",
				f->name);
	memset(&spec, 0, sizeof(spec));
	spec.kind = plan_fault_kind_name(f->kind);
	spec.ms = (unsigned)f->ms;
	spec.jitter_ms = (unsigned)f->jitter_ms;
	spec.rate = (unsigned long long)f->kbps * 125; /* kbit/s -> B/s */
	spec.bytes = (unsigned long long)f->bytes;
	spec.average_size = (unsigned)f->average_size;
	spec.size_variation = (unsigned)f->size_variation;
	spec.delay_us = (unsigned)f->delay_us;
	spec.direction = f->direction == PLAN_DIR_BOTH
			     ? NULL
			     : plan_direction_name(f->direction);
	spec.has_toxicity = f->toxicity < 1.0;
	spec.toxicity = f->toxicity;
	if (proxy_fault_params(&spec, params, sizeof(params)) != 0)
		return ekl_errf(err, EKL_EINVAL, "fault %s: bad parameters",
				f->name);
	return lab_fault_links(l, f->name, spec.kind, from, to, 2, params, err);
}

int lab_fault_heal(struct lab *l, const char *name, char *err)
{
	bool all = strcmp(name, "all") == 0, found = false;
	char cmd[128], *body = NULL, perr[EKL_ERRLEN], nerr[EKL_ERRLEN] = "";
	int k, rv, first = 0;

	for (k = l->n_faults - 1; k >= 0; k--) {
		struct lab_fault f = l->faults[k];
		int i;

		if (!all && strcmp(f.name, name) != 0)
			continue;
		found = true;
		i = lab_node_index(l, f.node);
		forget(l, k);
		if (i < 0)
			continue;
		rv = bring_back(l, i, err);
		if (rv != 0 && first == 0) {
			/* Keep healing the rest; report the first failure. */
			first = rv;
			snprintf(nerr, sizeof(nerr), "%.500s", err);
		}
	}
	if ((rv = lab_save(l, err)) != 0)
		return rv;
	snprintf(cmd, sizeof(cmd), "fault remove %s", name);
	rv = proxy_call(l, "text", cmd, &body, perr);
	ekl_free(body);
	if (first != 0)
		return ekl_errf(err, first, "%s", nerr);
	if (rv == 0 || all)
		return all && rv != 0 ? ekl_errf(err, rv, "%s", perr) : 0;
	if (found)
		return 0;
	return ekl_errf(err, EKL_ENOENT, "no fault called '%s' (%s)", name,
			perr);
}

int lab_fault_list(struct lab *l, bool json, FILE *out, char *err)
{
	char *body = NULL;
	int k, rv;

	if (!json) {
		fprintf(out, "%-20s %-10s %s\n", "name", "kind", "target");
		for (k = 0; k < l->n_faults; k++)
			fprintf(out, "%-20s %-10s %s\n", l->faults[k].name,
				l->faults[k].kind,
				l->faults[k].node[0] ? l->faults[k].node
						     : "(no dialled "
						       "connection: cuts "
						       "nothing)");
	}
	rv = proxy_call(l, json ? "json" : "text", "fault list", &body, err);
	if (rv != 0)
		return rv;
	if (json) {
		/* {"node_faults": [...], "link_faults": <proxy's JSON>} */
		fprintf(out, "{\"node_faults\":[");
		for (k = 0; k < l->n_faults; k++)
			fprintf(
			    out,
			    "%s{\"name\":\"%s\",\"kind\":\"%s\",\"node\":"
			    "%s%s%s}",
			    k ? "," : "", l->faults[k].name, l->faults[k].kind,
			    l->faults[k].node[0] ? "\"" : "",
			    l->faults[k].node[0] ? l->faults[k].node : "null",
			    l->faults[k].node[0] ? "\"" : "");
		fprintf(out, "],\"link_faults\":%s}\n",
			body[0] != '\0' ? body : "null");
	} else {
		fputs(body, out);
	}
	ekl_free(body);
	return 0;
}
