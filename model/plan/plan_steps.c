/* plan_steps.c: each kind of plan step: its keys, its checks, and the
 * one-line text `plan check` prints for it. */
#include "plan_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"

static bool same_pair(const int a[2], const int b[2])
{
	return (a[0] == b[0] && a[1] == b[1]) || (a[0] == b[1] && a[1] == b[0]);
}

/* ---- steps ---- */

static int parse_profile_ca(struct plan_yaml *w, const yaml_node_t *map,
			    const char *kp, struct plan_step *st)
{
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	plan_yaml_keypath(sub, sizeof(sub), "%s.profile", kp);
	if ((v = plan_yaml_get(w, map, "profile")) == NULL)
		return plan_yaml_fail(
		    w, map, sub,
		    "missing; say which profile the new "
		    "certificate has (combined, server-only, ...)");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (pki_profile_parse(s, &st->profile) != 0)
		return plan_yaml_fail(
		    w, v, sub,
		    "'%s' is not a profile; use combined, "
		    "server-only, client-only, no-eku or any-eku",
		    s);
	if ((v = plan_yaml_get(w, map, "ca")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.ca", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pki_ca_parse(s, &st->ca) != 0)
			return plan_yaml_fail(
			    w, v, sub,
			    "'%s' is not an issuing CA; use "
			    "unrestricted, server-only or combined",
			    s);
		st->has_ca = true;
	}
	return 0;
}

static int parse_renew(struct plan_yaml *w, const yaml_node_t *n,
		       const char *kp, struct plan_step *st)
{
	static const char *const keys[] = {"node", "profile", "ca", "days",
					   "cert", "via",     NULL};
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	long days;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(
		    w, n, kp,
		    "expected a mapping such as {node: node2, "
		    "profile: server-only}");
	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.node", kp);
	if ((v = plan_yaml_get(w, n, "node")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; name the node to renew");
	if ((rc = plan_yaml_endpoint_name(w, v, sub, &st->node)) != 0)
		return rc;
	if ((rc = parse_profile_ca(w, n, kp, st)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, n, "days")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.days", kp);
		if ((rc = plan_yaml_long(w, v, sub, 1, 36500,
					 "a number of days", &days)) != 0)
			return rc;
		st->days = (int)days;
	}
	if ((v = plan_yaml_get(w, n, "cert")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.cert", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "client") == 0)
			st->client = true;
		else if (strcmp(s, "server") != 0)
			return plan_yaml_fail(
			    w, v, sub,
			    "'%s' is not server or client (the "
			    "X15.5 client certificate)",
			    s);
	}
	if ((v = plan_yaml_get(w, n, "via")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.via", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (plan_via_parse(s, &st->via) != 0)
			return plan_yaml_fail(
			    w, v, sub,
			    "'%s' is not upload (the web UI, which the "
			    "upload rule may refuse) or scp (copied in, "
			    "never refused)",
			    s);
	}
	return 0;
}

static int parse_upgrade(struct plan_yaml *w, const yaml_node_t *n,
			 const char *kp, struct plan_step *st)
{
	static const char *const keys[] = {"node", "version", NULL};
	char sub[PLAN_KP_LEN];
	enum pol_vclass vc;
	yaml_node_t *v;
	const char *s;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(
		    w, n, kp,
		    "expected a mapping such as {node: node3, "
		    "version: X15.4}");
	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.node", kp);
	if ((v = plan_yaml_get(w, n, "node")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; name the node to upgrade");
	if ((rc = plan_yaml_node_name(w, v, sub, &st->node)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.version", kp);
	if ((v = plan_yaml_get(w, n, "version")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; give the new version");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (strlen(s) > TOPO_VERSION_MAX || pol_version_parse(s, &vc) != 0)
		return plan_yaml_fail(
		    w, v, sub,
		    "'%s' is not a known version; use X14.x, "
		    "X15.0-X15.3.x, X15.4 or X15.5 (e.g. X15.4)",
		    s);
	snprintf(st->version, sizeof(st->version), "%s", s);
	return 0;
}

static int parse_verify(struct plan_yaml *w, const yaml_node_t *n,
			const char *kp, struct plan_step *st)
{
	static const char *const keys[] = {"mode", "node", NULL};
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	st->node = -1;
	if (n->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(w, n, kp,
				      "expected a mapping such as {mode: "
				      "permissive}");
	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.mode", kp);
	if ((v = plan_yaml_get(w, n, "mode")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; enforce or permissive");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (pol_mode_parse(s, &st->mode) != 0)
		return plan_yaml_fail(
		    w, v, sub,
		    "'%s' is not a verify mode; use enforce or "
		    "permissive",
		    s);
	if ((v = plan_yaml_get(w, n, "node")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.node", kp);
		if ((rc = plan_yaml_endpoint_name(w, v, sub, &st->node)) != 0)
			return rc;
	}
	return 0;
}

/* Which fault keys each kind takes besides kind and name (link kinds
 * also take direction and toxicity). */
static const char *fault_needs(enum plan_fault_kind k)
{
	switch (k) {
	case PLAN_F_KILL:
	case PLAN_F_PAUSE:
	case PLAN_F_RESUME:
	case PLAN_F_RESTART: return "node";
	case PLAN_F_PARTITION: return "shape";
	case PLAN_F_DOWN:
	case PLAN_F_BLACKHOLE:
	case PLAN_F_RESET: return "link";
	case PLAN_F_LATENCY: return "link, ms";
	case PLAN_F_BANDWIDTH: return "link, kbps";
	case PLAN_F_SLOW_CLOSE:
	case PLAN_F_TIMEOUT: return "link, ms";
	case PLAN_F_SLICER: return "link, average_size";
	case PLAN_F_LIMIT_DATA: return "link, bytes";
	}
	return "";
}

/* Keys a kind takes beyond those it needs. */
static bool fault_optional(enum plan_fault_kind k, const char *key)
{
	if (k == PLAN_F_LATENCY && strcmp(key, "jitter_ms") == 0)
		return true;
	if (k == PLAN_F_SLICER && (strcmp(key, "size_variation") == 0 ||
				   strcmp(key, "delay_us") == 0))
		return true;
	return plan_fault_is_link(k) &&
	       (strcmp(key, "direction") == 0 || strcmp(key, "toxicity") == 0);
}

/* A key given to a fault kind that does not take it. */
static int fault_extra(struct plan_yaml *w, const yaml_node_t *n,
		       const char *kp, const struct plan_fault *f,
		       bool shape_node)
{
	static const char *const keys[] = {"node",
					   "shape",
					   "from",
					   "to",
					   "link",
					   "ms",
					   "jitter_ms",
					   "kbps",
					   "average_size",
					   "size_variation",
					   "delay_us",
					   "bytes",
					   "direction",
					   "toxicity",
					   NULL};
	const char *needs = fault_needs(f->kind);
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	size_t i;
	bool ok;

	for (i = 0; keys[i] != NULL; i++) {
		if ((v = plan_yaml_get(w, n, keys[i])) == NULL)
			continue;
		ok = strstr(needs, keys[i]) != NULL ||
		     fault_optional(f->kind, keys[i]);
		if (f->kind == PLAN_F_PARTITION)
			ok = strcmp(keys[i], "shape") == 0 ||
			     (strcmp(keys[i], "node") == 0 && shape_node) ||
			     ((strcmp(keys[i], "from") == 0 ||
			       strcmp(keys[i], "to") == 0) &&
			      f->part.shape == PLAN_SHAPE_ONE_WAY);
		if (!ok) {
			plan_yaml_keypath(sub, sizeof(sub), "%s.%s", kp,
					  keys[i]);
			return plan_yaml_fail(
			    w, v, sub,
			    "not used by a %s%s%s fault; it takes "
			    "%s%s",
			    plan_fault_kind_name(f->kind),
			    f->kind == PLAN_F_PARTITION ? " " : "",
			    f->kind == PLAN_F_PARTITION
				? plan_shape_name(f->part.shape)
				: "",
			    f->kind == PLAN_F_PARTITION
				? (shape_node ? "node"
				   : f->part.shape == PLAN_SHAPE_ONE_WAY
				       ? "from and to"
				       : "no node")
				: needs,
			    plan_fault_is_link(f->kind)
				? " (and optionally direction, toxicity)"
				: "");
		}
	}
	return 0;
}

/* toxicity: a probability, 0 to 1; 0 < p < 1 refused for a kind that
 * cuts (the model cannot predict which connections it cuts). */
static int parse_toxicity(struct plan_yaml *w, const yaml_node_t *v,
			  const char *key, struct plan_fault *f)
{
	const char *s;
	char *end;
	double d;
	int rc;

	if ((rc = plan_yaml_scalar(w, v, key, &s)) != 0)
		return rc;
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !(d >= 0 && d <= 1) || s[0] < '0' ||
	    s[0] > '9')
		return plan_yaml_fail(
		    w, v, key,
		    "'%s' is not a probability from 0 to 1 (the share of "
		    "connections the fault acts on)",
		    s);
	f->toxicity = d;
	if (d > 0 && d < 1) {
		struct plan_fault all = *f;

		all.toxicity = 1;
		if (plan_fault_cuts(&all))
			return plan_yaml_fail(
			    w, v, key,
			    "%s with toxicity %s cuts some connections and "
			    "not others, which the model cannot predict; a "
			    "plan takes 0 or 1 for a fault that cuts (use "
			    "'ekulab lab fault' or 'ekulab soak' for a "
			    "partial one)",
			    plan_fault_kind_name(f->kind), s);
	}
	return 0;
}

/* The parameters of a link fault kind: ms, jitter_ms, kbps,
 * average_size, size_variation, delay_us, bytes, direction, toxicity. */
static int parse_link_params(struct plan_yaml *w, const yaml_node_t *n,
			     const char *kp, struct plan_fault *f)
{
	static const struct {
		enum plan_fault_kind kind;
		const char *key;
		bool need;
		long lo, hi;
		const char *what;
	} nums[] = {
	    {PLAN_F_LATENCY, "ms", true, 0, 600000, "a delay in ms"},
	    {PLAN_F_LATENCY, "jitter_ms", false, 0, 600000, "a jitter in ms"},
	    {PLAN_F_BANDWIDTH, "kbps", true, 1, 100000000, "a rate in kbit/s"},
	    {PLAN_F_SLOW_CLOSE, "ms", true, 0, 600000,
	     "a delay of the close in ms"},
	    {PLAN_F_TIMEOUT, "ms", true, 0, 600000,
	     "the ms before the connection is closed (0: never)"},
	    {PLAN_F_SLICER, "average_size", true, 1, 65536,
	     "a piece size in bytes"},
	    {PLAN_F_SLICER, "size_variation", false, 0, 65535,
	     "a variation in bytes"},
	    {PLAN_F_SLICER, "delay_us", false, 0, 10000000,
	     "a delay between pieces in microseconds"},
	    {PLAN_F_LIMIT_DATA, "bytes", true, 0, 1125899906842624L,
	     "a number of bytes"},
	};
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	size_t i;
	long num;
	int rc;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].kind != f->kind)
			continue;
		plan_yaml_keypath(sub, sizeof(sub), "%s.%s", kp, nums[i].key);
		if ((v = plan_yaml_get(w, n, nums[i].key)) == NULL) {
			if (nums[i].need)
				return plan_yaml_fail(w, n, sub, "missing; %s",
						      nums[i].what);
			continue;
		}
		if ((rc = plan_yaml_long(w, v, sub, nums[i].lo, nums[i].hi,
					 nums[i].what, &num)) != 0)
			return rc;
		if (strcmp(nums[i].key, "ms") == 0)
			f->ms = (int)num;
		else if (strcmp(nums[i].key, "jitter_ms") == 0)
			f->jitter_ms = (int)num;
		else if (strcmp(nums[i].key, "kbps") == 0)
			f->kbps = (int)num;
		else if (strcmp(nums[i].key, "average_size") == 0)
			f->average_size = (int)num;
		else if (strcmp(nums[i].key, "size_variation") == 0) {
			if (num >= f->average_size)
				return plan_yaml_fail(
				    w, v, sub,
				    "%ld: must be below average_size (%d): a "
				    "piece is at least one byte",
				    num, f->average_size);
			f->size_variation = (int)num;
		} else if (strcmp(nums[i].key, "delay_us") == 0)
			f->delay_us = (int)num;
		else if (strcmp(nums[i].key, "bytes") == 0)
			f->bytes = num;
	}
	if ((v = plan_yaml_get(w, n, "direction")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.direction", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (plan_direction_parse(s, &f->direction) != 0)
			return plan_yaml_fail(
			    w, v, sub,
			    "'%s' is not a direction; use both, upstream "
			    "(what the dialling node sends) or downstream "
			    "(what it gets back)",
			    s);
	}
	if ((v = plan_yaml_get(w, n, "toxicity")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.toxicity", kp);
		if ((rc = parse_toxicity(w, v, sub, f)) != 0)
			return rc;
	}
	return 0;
}

static int need_node(struct plan_yaml *w, const yaml_node_t *n, const char *kp,
		     const char *key, const char *why, int *out)
{
	char sub[PLAN_KP_LEN];
	yaml_node_t *v = plan_yaml_get(w, n, key);

	plan_yaml_keypath(sub, sizeof(sub), "%s.%s", kp, key);
	if (v == NULL)
		return plan_yaml_fail(w, n, sub, "missing; %s", why);
	return plan_yaml_node_name(w, v, sub, out);
}

static int parse_partition(struct plan_yaml *w, const yaml_node_t *n,
			   const char *kp, struct plan_fault *f, bool *node)
{
	struct plan_partition *pt = &f->part;
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	pt->node = pt->from = pt->to = -1;
	plan_yaml_keypath(sub, sizeof(sub), "%s.shape", kp);
	if ((v = plan_yaml_get(w, n, "shape")) == NULL)
		return plan_yaml_fail(
		    w, n, sub,
		    "missing; isolate, halves, ring, bridge or "
		    "one-way");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (plan_shape_parse(s, &pt->shape) != 0)
		return plan_yaml_fail(
		    w, v, sub,
		    "'%s' is not a shape; use isolate, halves, "
		    "ring, bridge or one-way",
		    s);
	*node =
	    pt->shape == PLAN_SHAPE_ISOLATE || pt->shape == PLAN_SHAPE_BRIDGE;
	if (*node && (rc = need_node(w, n, kp, "node",
				     "name the node the shape is about",
				     &pt->node)) != 0)
		return rc;
	if (pt->shape == PLAN_SHAPE_ONE_WAY) {
		if ((rc = need_node(w, n, kp, "from",
				    "name the node whose connections fail",
				    &pt->from)) != 0)
			return rc;
		if ((rc = need_node(w, n, kp, "to",
				    "name the node it cannot reach",
				    &pt->to)) != 0)
			return rc;
		if (pt->from == pt->to)
			return plan_yaml_fail(w, n, kp,
					      "from and to are the same node");
	}
	return 0;
}

static int parse_fault(struct plan_yaml *w, const yaml_node_t *n,
		       const char *kp, size_t index, struct plan_step *st)
{
	static const char *const keys[] = {
	    "kind",	 "name",  "node",	  "shape",
	    "from",	 "to",	  "link",	  "ms",
	    "jitter_ms", "kbps",  "average_size", "size_variation",
	    "delay_us",	 "bytes", "direction",	  "toxicity",
	    NULL};
	struct plan_fault *f = &st->fault;
	char sub[PLAN_KP_LEN];
	bool shape_node = false;
	yaml_node_t *v;
	const char *s;
	int rc;

	plan_fault_init(f, PLAN_F_KILL);
	if (n->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(w, n, kp,
				      "expected a mapping such as {kind: kill, "
				      "node: node2}");
	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.kind", kp);
	if ((v = plan_yaml_get(w, n, "kind")) == NULL)
		return plan_yaml_fail(
		    w, n, sub,
		    "missing; kill, pause, resume, restart, "
		    "partition, down, blackhole, reset, latency, "
		    "bandwidth, slow_close, timeout, slicer or "
		    "limit_data");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (plan_fault_kind_parse(s, &f->kind) != 0)
		return plan_yaml_fail(
		    w, v, sub,
		    "'%s' is not a fault; use kill, pause, resume, "
		    "restart, partition, down, blackhole, reset, "
		    "latency, bandwidth, slow_close, timeout, slicer or "
		    "limit_data",
		    s);
	switch (f->kind) {
	case PLAN_F_KILL:
	case PLAN_F_PAUSE:
	case PLAN_F_RESUME:
	case PLAN_F_RESTART:
		plan_yaml_keypath(sub, sizeof(sub), "%s.node", kp);
		if ((v = plan_yaml_get(w, n, "node")) == NULL)
			return plan_yaml_fail(w, n, sub,
					      "missing; name the node");
		rc = plan_yaml_endpoint_name(w, v, sub, &f->node);
		break;
	case PLAN_F_PARTITION:
		rc = parse_partition(w, n, kp, f, &shape_node);
		break;
	default:
		plan_yaml_keypath(sub, sizeof(sub), "%s.link", kp);
		if ((v = plan_yaml_get(w, n, "link")) == NULL)
			return plan_yaml_fail(
			    w, n, sub, "missing; name the link as [a, b]");
		rc = plan_yaml_endpoint_pair(w, v, sub, f->link);
		break;
	}
	if (rc != 0)
		return rc;
	if ((rc = fault_extra(w, n, kp, f, shape_node)) != 0)
		return rc;
	if (plan_fault_is_link(f->kind) &&
	    (rc = parse_link_params(w, n, kp, f)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, n, "name")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.name", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (!topo_name_valid(s) || strlen(s) > PLAN_NAME_MAX ||
		    strcmp(s, "all") == 0)
			return plan_yaml_fail(
			    w, v, sub,
			    "'%s' is not a valid fault name; use "
			    "1-%d of A-Z a-z 0-9 . _ - (not all)",
			    s, PLAN_NAME_MAX);
		snprintf(f->name, sizeof(f->name), "%s", s);
	} else {
		snprintf(f->name, sizeof(f->name), "%s-%zu",
			 plan_fault_kind_name(f->kind), index + 1);
	}
	return 0;
}

static int parse_expect_code(struct plan_yaml *w, const yaml_node_t *v,
			     const char *key, bool direction,
			     struct lab_why *out)
{
	const char *s;
	int rc;

	if ((rc = plan_yaml_scalar(w, v, key, &s)) != 0)
		return rc;
	if (labmodel_why_parse(s, out) != 0 ||
	    (!direction && out->kind == LAB_WHY_NONE) ||
	    out->kind == LAB_WHY_PRIMARY_DOWN)
		return plan_yaml_fail(
		    w, v, key,
		    "'%s' is not a reason; use %sa certificate "
		    "code (client-purpose, server-purpose, "
		    "untrusted, expired, not-yet-valid, "
		    "name-mismatch, no-certificate), cut, "
		    "not-running or not-dialled",
		    s, direction ? "ok, " : "");
	return 0;
}

static int parse_replicating(struct plan_yaml *w, const yaml_node_t *v,
			     const char *key, struct plan_expect *e)
{
	const struct topo *t = w->topo;
	char sub[PLAN_KP_LEN];
	yaml_node_item_t *it;
	int k = 0;
	int idx;
	size_t i;
	int rc;

	e->has_replicating = true;
	if (v->type == YAML_SCALAR_NODE) {
		if (strcmp(plan_yaml_text(v), "none") == 0)
			return 0;
		if (strcmp(plan_yaml_text(v), "all") != 0)
			return plan_yaml_fail(
			    w, v, key,
			    "expected all, none or a list of node "
			    "names");
		e->repl_all = true;
		for (i = 0; i < t->n_nodes; i++)
			if (!topo_is_primary(t, i))
				e->replicating |= UINT64_C(1) << i;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return plan_yaml_fail(
		    w, v, key, "expected all, none or a list of node names");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, k++) {
		plan_yaml_keypath(sub, sizeof(sub), "%s[%d]", key, k + 1);
		if ((rc = plan_yaml_node_name(w, plan_yaml_node(w, *it), sub,
					      &idx)) != 0)
			return rc;
		if (topo_is_primary(t, (size_t)idx))
			return plan_yaml_fail(
			    w, plan_yaml_node(w, *it), sub,
			    "'%s' is the primary, the source of "
			    "replication; list the nodes that "
			    "replicate from it",
			    t->nodes[idx].name);
		e->replicating |= UINT64_C(1) << idx;
	}
	return 0;
}

/* Does a zone of `svc` have a and b at its two ends? */
static bool zone_pair(const struct topo *t, enum pol_service svc, int a, int b)
{
	size_t i;

	for (i = 0; i < t->n_zones; i++) {
		const struct topo_zone *z = &t->zones[i];

		if (z->type != svc && !(svc == POL_SVC_MRA &&
					z->type == POL_SVC_TRAVERSAL && z->mra))
			continue;
		if ((topo_zone_end_has(t, &z->a, (size_t)a) &&
		     topo_zone_end_has(t, &z->b, (size_t)b)) ||
		    (topo_zone_end_has(t, &z->a, (size_t)b) &&
		     topo_zone_end_has(t, &z->b, (size_t)a)))
			return true;
	}
	return false;
}

/* finding: version-mismatch, zone: [client, server], present: bool. */
static int parse_finding(struct plan_yaml *w, const yaml_node_t *n,
			 const char *kp, struct plan_expect *e)
{
	static const char *const keys[] = {"finding", "zone", "present", NULL};
	const struct topo *t = w->topo;
	char sub[PLAN_KP_LEN];
	const char *s, *names[2];
	yaml_node_t *v;
	size_t i;
	int rc;

	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	v = plan_yaml_get(w, n, "finding");
	plan_yaml_keypath(sub, sizeof(sub), "%s.finding", kp);
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (strcmp(s, "version-mismatch") != 0)
		return plan_yaml_fail(w, v, sub,
				      "'%s' is not a finding; use "
				      "version-mismatch",
				      s);
	plan_yaml_keypath(sub, sizeof(sub), "%s.zone", kp);
	if ((v = plan_yaml_get(w, n, "zone")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; name the traversal zone as "
				      "[client, server], e.g. [core, edge]");
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top - v->data.sequence.items.start != 2)
		return plan_yaml_fail(w, v, sub,
				      "expected [client, server], the two "
				      "clusters of a traversal zone");
	for (i = 0; i < 2; i++) {
		yaml_node_t *it =
		    plan_yaml_node(w, v->data.sequence.items.start[i]);

		plan_yaml_keypath(sub, sizeof(sub), "%s.zone[%zu]", kp, i + 1);
		if ((rc = plan_yaml_scalar(w, it, sub, &names[i])) != 0)
			return rc;
	}
	e->zone = -1;
	for (i = 0; i < t->n_zones; i++) {
		const struct topo_zone *z = &t->zones[i];
		const char *za = topo_zone_end_name(t, &z->a);
		const char *zb = topo_zone_end_name(t, &z->b);

		if (z->type == POL_SVC_TRAVERSAL &&
		    ((strcmp(za, names[0]) == 0 && strcmp(zb, names[1]) == 0) ||
		     (strcmp(za, names[1]) == 0 && strcmp(zb, names[0]) == 0)))
			e->zone = (int)i;
	}
	plan_yaml_keypath(sub, sizeof(sub), "%s.zone", kp);
	if (e->zone < 0)
		return plan_yaml_fail(w, v, sub,
				      "no traversal zone joins %s and %s in "
				      "the topology",
				      names[0], names[1]);
	plan_yaml_keypath(sub, sizeof(sub), "%s.present", kp);
	if ((v = plan_yaml_get(w, n, "present")) == NULL)
		return plan_yaml_fail(w, n, sub, "missing; true or false");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (strcmp(s, "true") == 0)
		e->present = true;
	else if (strcmp(s, "false") != 0)
		return plan_yaml_fail(w, v, sub, "'%s' is not true or false",
				      s);
	e->has_finding = true;
	return 0;
}

/* service: S with between: [a, b] (state:, code:) or direction: [from,
 * to] (code:). */
static int parse_service(struct plan_yaml *w, const yaml_node_t *n,
			 const char *kp, struct plan_expect *e)
{
	static const char *const keys[] = {"service", "between", "direction",
					   "state",   "code",	 NULL};
	const struct topo *t = w->topo;
	char sub[PLAN_KP_LEN];
	yaml_node_t *v, *bv, *dv;
	const int *pr;
	const char *s;
	int rc;

	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	plan_yaml_keypath(sub, sizeof(sub), "%s.service", kp);
	if ((v = plan_yaml_get(w, n, "service")) == NULL)
		return plan_yaml_fail(w, n, sub,
				      "missing; which service: clusterdb, "
				      "traversal, mra, neighbour, b2b, "
				      "federation or cloud");
	if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
		return rc;
	if (pol_service_parse(s, &e->service) != 0)
		return plan_yaml_fail(w, v, sub,
				      "'%s' is not a service; use clusterdb, "
				      "traversal, mra, neighbour, b2b, "
				      "federation or cloud",
				      s);
	bv = plan_yaml_get(w, n, "between");
	dv = plan_yaml_get(w, n, "direction");
	if ((bv == NULL) == (dv == NULL))
		return plan_yaml_fail(w, n, kp,
				      "give between: [a, b] (the service "
				      "between two ends) or direction: [from, "
				      "to] (one connection), one of them");
	if (e->service == POL_SVC_CLUSTERDB) {
		/* The ClusterDB link itself. */
		if (bv != NULL) {
			plan_yaml_keypath(sub, sizeof(sub), "%s.between", kp);
			if ((rc = plan_yaml_pair(w, bv, sub, e->link)) != 0)
				return rc;
			e->has_link = true;
		} else {
			plan_yaml_keypath(sub, sizeof(sub), "%s.direction", kp);
			if ((rc = plan_yaml_pair(w, dv, sub, e->dir)) != 0)
				return rc;
			e->has_direction = true;
		}
		pr = e->has_link ? e->link : e->dir;
		if (t->nodes[pr[0]].cluster != t->nodes[pr[1]].cluster)
			return plan_yaml_fail(w, bv != NULL ? bv : dv, sub,
					      "%s and %s are in different "
					      "clusters; ClusterDB joins the "
					      "nodes of one cluster",
					      t->nodes[pr[0]].name,
					      t->nodes[pr[1]].name);
	} else {
		e->has_service = true;
		if (bv != NULL) {
			plan_yaml_keypath(sub, sizeof(sub), "%s.between", kp);
			rc = plan_yaml_endpoint_pair(w, bv, sub, e->between);
			e->has_between = rc == 0;
			pr = e->between;
		} else {
			plan_yaml_keypath(sub, sizeof(sub), "%s.direction", kp);
			rc = plan_yaml_endpoint_pair(w, dv, sub, e->dir);
			e->has_direction = rc == 0;
			pr = e->dir;
		}
		if (rc != 0)
			return rc;
		if (!zone_pair(t, e->service, pr[0], pr[1]))
			return plan_yaml_fail(
			    w, bv != NULL ? bv : dv, sub,
			    "no %s zone joins %s and %s in the topology%s",
			    e->service == POL_SVC_MRA
				? "traversal (mra: true)"
				: pol_service_name(e->service),
			    topo_endpoint_name(t, (size_t)pr[0]),
			    topo_endpoint_name(t, (size_t)pr[1]),
			    e->service == POL_SVC_MRA
				? ""
				: " (a zone joins a cluster's nodes to the "
				  "other end's)");
	}
	if ((v = plan_yaml_get(w, n, "state")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.state", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (dv != NULL)
			return plan_yaml_fail(w, v, sub,
					      "a direction has code: ok or a "
					      "reason, not state:");
		if (strcmp(s, "up") != 0 && strcmp(s, "down") != 0)
			return plan_yaml_fail(w, v, sub,
					      "'%s' is not up or down", s);
		e->has_state = true;
		e->up = strcmp(s, "up") == 0;
	}
	plan_yaml_keypath(sub, sizeof(sub), "%s.code", kp);
	v = plan_yaml_get(w, n, "code");
	if (dv != NULL) {
		if (v == NULL)
			return plan_yaml_fail(w, dv, sub,
					      "missing; code: ok or the reason "
					      "the connection fails");
		return parse_expect_code(w, v, sub, true, &e->dir_result);
	}
	if (v != NULL) {
		if (e->has_state && e->up)
			return plan_yaml_fail(w, v, sub,
					      "is why a service is down; with "
					      "state: up remove it");
		if ((rc = parse_expect_code(w, v, sub, false, &e->code)) != 0)
			return rc;
		e->has_code = true;
	}
	if (!e->has_state && !e->has_code)
		return plan_yaml_fail(w, n, kp,
				      "says nothing about the service; add "
				      "state: up or state: down");
	return 0;
}

static int parse_expect(struct plan_yaml *w, const yaml_node_t *n,
			const char *kp, struct plan_step *st)
{
	static const char *const keys[] = {
	    "link",    "state",	      "code", "direction",
	    "carrier", "replicating", NULL};
	struct plan_expect *e = &st->expect;
	char sub[PLAN_KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(
		    w, n, kp,
		    "expected a mapping such as {link: [node1, "
		    "node2], state: up} or {replicating: all}");
	e->zone = -1;
	if (plan_yaml_get(w, n, "finding") != NULL)
		return parse_finding(w, n, kp, e);
	if (plan_yaml_get(w, n, "service") != NULL ||
	    plan_yaml_get(w, n, "between") != NULL)
		return parse_service(w, n, kp, e);
	if ((rc = plan_yaml_check_keys(w, n, kp, keys)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, n, "link")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.link", kp);
		if ((rc = plan_yaml_pair(w, v, sub, e->link)) != 0)
			return rc;
		e->has_link = true;
	}
	if ((v = plan_yaml_get(w, n, "direction")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.direction", kp);
		if ((rc = plan_yaml_pair(w, v, sub, e->dir)) != 0)
			return rc;
		if (e->has_link && !same_pair(e->link, e->dir))
			return plan_yaml_fail(
			    w, v, sub,
			    "is not a direction of the link it "
			    "names");
		if (plan_yaml_get(w, n, "code") == NULL)
			return plan_yaml_fail(
			    w, v, sub,
			    "needs code: ok or the reason the "
			    "connection fails");
		e->has_direction = true;
	}
	if ((v = plan_yaml_get(w, n, "carrier")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.carrier", kp);
		if ((rc = plan_yaml_pair(w, v, sub, e->carrier)) != 0)
			return rc;
		if (e->has_link && !same_pair(e->link, e->carrier))
			return plan_yaml_fail(
			    w, v, sub,
			    "is not a direction of the link it "
			    "names");
		e->has_carrier = true;
	}
	if ((v = plan_yaml_get(w, n, "state")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.state", kp);
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "up") != 0 && strcmp(s, "down") != 0)
			return plan_yaml_fail(w, v, sub,
					      "'%s' is not up or down", s);
		if (!e->has_link && !e->has_direction && !e->has_carrier)
			return plan_yaml_fail(
			    w, v, sub, "needs link: [a, b] to say which link");
		e->has_state = true;
		e->up = strcmp(s, "up") == 0;
		if (e->has_carrier && !e->up)
			return plan_yaml_fail(w, v, sub,
					      "a link with a carrier is up");
	}
	if ((v = plan_yaml_get(w, n, "code")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.code", kp);
		if (e->has_direction) {
			rc = parse_expect_code(w, v, sub, true, &e->dir_result);
		} else {
			if (!e->has_link)
				return plan_yaml_fail(w, v, sub,
						      "needs link: [a, b] (or "
						      "direction: [from, to])");
			if (e->has_state && e->up)
				return plan_yaml_fail(
				    w, v, sub,
				    "is why a link is down; with "
				    "state: up remove it");
			rc = parse_expect_code(w, v, sub, false, &e->code);
			e->has_code = true;
		}
		if (rc != 0)
			return rc;
	}
	if ((v = plan_yaml_get(w, n, "replicating")) != NULL) {
		plan_yaml_keypath(sub, sizeof(sub), "%s.replicating", kp);
		if ((rc = parse_replicating(w, v, sub, e)) != 0)
			return rc;
	}
	if (!e->has_link && !e->has_direction && !e->has_carrier &&
	    !e->has_replicating)
		return plan_yaml_fail(
		    w, n, kp,
		    "expects nothing; give link:, direction:, "
		    "carrier: or replicating:");
	if (e->has_link && !e->has_state && !e->has_code && !e->has_direction &&
	    !e->has_carrier)
		return plan_yaml_fail(
		    w, n, kp,
		    "says nothing about the link; add state: up "
		    "or state: down");
	return 0;
}

static int parse_wait(struct plan_yaml *w, const yaml_node_t *v, const char *kp,
		      struct plan_step *st)
{
	const char *s;
	char *end;
	double d;
	int rc;

	if ((rc = plan_yaml_scalar(w, v, kp, &s)) != 0)
		return rc;
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !(d >= 0 && d <= 3600) ||
	    (s[0] < '0' || s[0] > '9'))
		return plan_yaml_fail(
		    w, v, kp,
		    "'%s' is not a number of seconds from 0 to "
		    "3600",
		    s);
	st->wait_ms = lround(d * 1000.0);
	return 0;
}

/* Is `name` a fault of an earlier step that a heal can end? */
static int heal_target(struct plan_yaml *w, const yaml_node_t *v,
		       const char *kp, const struct plan_step *steps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (steps[i].kind != PLAN_FAULT ||
		    strcmp(steps[i].fault.name, plan_yaml_text(v)) != 0)
			continue;
		if (steps[i].fault.kind == PLAN_F_RESUME ||
		    steps[i].fault.kind == PLAN_F_RESTART)
			return plan_yaml_fail(
			    w, v, kp,
			    "'%s' (step %zu) is a %s, which ends "
			    "at once; there is nothing to heal",
			    plan_yaml_text(v), i + 1,
			    plan_fault_kind_name(steps[i].fault.kind));
		return 0;
	}
	return plan_yaml_fail(
	    w, v, kp,
	    "no earlier fault is called '%s'; use all or the name "
	    "of a fault step",
	    plan_yaml_text(v));
}

/* The fault name is not used by an earlier fault step. */
static int unique_fault(struct plan_yaml *w, const yaml_node_t *n,
			const char *kp, const struct plan_step *steps,
			size_t idx)
{
	size_t i;

	for (i = 0; i < idx; i++)
		if (steps[i].kind == PLAN_FAULT &&
		    strcmp(steps[i].fault.name, steps[idx].fault.name) == 0)
			return plan_yaml_fail(
			    w, n, kp,
			    "fault name '%s' is already used by "
			    "step %zu",
			    steps[idx].fault.name, i + 1);
	return 0;
}

static int parse_step(struct plan_yaml *w, const yaml_node_t *n, size_t idx,
		      struct plan_step *steps)
{
	static const char *const kinds[] = {"write",  "renew",	"upgrade",
					    "verify", "fault",	"heal",
					    "wait",   "expect", NULL};
	struct plan_step *st = &steps[idx];
	char kp[PLAN_KP_LEN];
	char sub[PLAN_KP_LEN];
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *s;
	size_t i;
	int rc;

	plan_yaml_keypath(kp, sizeof(kp), "steps[%zu]", idx + 1);
	memset(st, 0, sizeof(*st));
	st->node = -1;
	st->line = (int)n->start_mark.line + 1;
	st->column = (int)n->start_mark.column + 1;
	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return plan_yaml_fail(
		    w, n, kp,
		    "each step is a mapping with one key: write, "
		    "renew, upgrade, verify, fault, heal, wait or "
		    "expect");
	if ((rc = plan_yaml_check_keys(w, n, kp, kinds)) != 0)
		return rc;
	p = n->data.mapping.pairs.start;
	k = plan_yaml_node(w, p->key);
	v = plan_yaml_node(w, p->value);
	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(plan_yaml_text(k), kinds[i]) == 0)
			st->kind = (enum plan_step_kind)i;
	plan_yaml_keypath(sub, sizeof(sub), "%s.%s", kp, plan_yaml_text(k));
	switch (st->kind) {
	case PLAN_WRITE:
		return plan_yaml_long(w, v, sub, 1, 100000000,
				      "a number of writes", &st->count);
	case PLAN_RENEW: return parse_renew(w, v, sub, st);
	case PLAN_UPGRADE: return parse_upgrade(w, v, sub, st);
	case PLAN_VERIFY: return parse_verify(w, v, sub, st);
	case PLAN_FAULT:
		if ((rc = parse_fault(w, v, sub, idx, st)) != 0)
			return rc;
		return unique_fault(w, v, sub, steps, idx);
	case PLAN_HEAL:
		if ((rc = plan_yaml_scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "all") == 0)
			return 0;
		if ((rc = heal_target(w, v, sub, steps, idx)) != 0)
			return rc;
		snprintf(st->heal, sizeof(st->heal), "%s", s);
		return 0;
	case PLAN_WAIT: return parse_wait(w, v, sub, st);
	case PLAN_EXPECT: return parse_expect(w, v, sub, st);
	}
	return 0;
}

/* ---- step text ---- */

static void cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + l, len - l, fmt, ap);
	va_end(ap);
}

static void fault_text(const struct topo *t, const struct plan_fault *f,
		       char *b, size_t len)
{
	cat(b, len, "fault %s", plan_fault_kind_name(f->kind));
	switch (f->kind) {
	case PLAN_F_KILL:
	case PLAN_F_PAUSE:
	case PLAN_F_RESUME:
	case PLAN_F_RESTART:
		cat(b, len, " %s", topo_endpoint_name(t, (size_t)f->node));
		break;
	case PLAN_F_PARTITION:
		if (f->part.shape == PLAN_SHAPE_ONE_WAY)
			cat(b, len, " one-way %s->%s",
			    t->nodes[f->part.from].name,
			    t->nodes[f->part.to].name);
		else
			cat(b, len, " %s", plan_shape_name(f->part.shape));
		if (f->part.node >= 0)
			cat(b, len, " %s", t->nodes[f->part.node].name);
		break;
	default:
		cat(b, len, " %s-%s", topo_endpoint_name(t, (size_t)f->link[0]),
		    topo_endpoint_name(t, (size_t)f->link[1]));
		if (f->kind == PLAN_F_LATENCY || f->kind == PLAN_F_SLOW_CLOSE ||
		    f->kind == PLAN_F_TIMEOUT)
			cat(b, len, " %dms", f->ms);
		else if (f->kind == PLAN_F_BANDWIDTH)
			cat(b, len, " %dkbps", f->kbps);
		else if (f->kind == PLAN_F_SLICER)
			cat(b, len, " %d+-%dB/%dus", f->average_size,
			    f->size_variation, f->delay_us);
		else if (f->kind == PLAN_F_LIMIT_DATA)
			cat(b, len, " %lldB", f->bytes);
		if (f->direction != PLAN_DIR_BOTH)
			cat(b, len, " %s", plan_direction_name(f->direction));
		if (f->toxicity < 1)
			cat(b, len, " toxicity %g", f->toxicity);
		break;
	}
	cat(b, len, " [%s]", f->name);
}

void plan_step_text(const struct topo *t, struct plan_step *st)
{
	char *b = st->text;
	size_t len = sizeof(st->text);

	b[0] = '\0';
	switch (st->kind) {
	case PLAN_WRITE: cat(b, len, "write %ld", st->count); break;
	case PLAN_WAIT:
		cat(b, len, "wait %ld.%03lds", st->wait_ms / 1000,
		    st->wait_ms % 1000);
		break;
	case PLAN_RENEW:
		cat(b, len, "renew %s%s %s",
		    topo_endpoint_name(t, (size_t)st->node),
		    st->client ? " client cert" : "",
		    pki_profile_name(st->profile));
		if (st->has_ca)
			cat(b, len, " (ca %s)", pki_ca_name(st->ca));
		if (st->days > 0)
			cat(b, len, ", %d days", st->days);
		if (st->via == PLAN_VIA_SCP)
			cat(b, len, " via scp");
		break;
	case PLAN_UPGRADE:
		cat(b, len, "upgrade %s to %s", t->nodes[st->node].name,
		    st->version);
		break;
	case PLAN_VERIFY:
		cat(b, len, "verify %s%s%s",
		    st->node >= 0 ? topo_endpoint_name(t, (size_t)st->node)
				  : "",
		    st->node >= 0 ? " " : "", pol_mode_name(st->mode));
		break;
	case PLAN_FAULT: fault_text(t, &st->fault, b, len); break;
	case PLAN_HEAL:
		cat(b, len, "heal %s", st->heal[0] ? st->heal : "all");
		break;
	case PLAN_EXPECT:
		cat(b, len, "expect ");
		plan_expect_text(&st->expect, t, b + 7, len - 7);
		break;
	}
}

int plan_parse_step(struct plan_yaml *w, const yaml_node_t *n, size_t idx,
		    struct plan_step *steps)
{
	int rc = parse_step(w, n, idx, steps);

	if (rc == 0)
		plan_step_text(w->topo, &steps[idx]);
	return rc;
}
