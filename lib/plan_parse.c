/* plan_parse.c: read and validate a plan file (libyaml), in the style of
 * topology.c: the file is loaded as one document, every mapping's keys are
 * checked against the keys it allows, and every error names
 * FILE:LINE:COLUMN and the key ("steps[3].renew.profile", steps counted
 * from 1 as `plan check` prints them).
 */
#include "ekulab/plan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "ekulab/err.h"
#include "ekulab/mem.h"

#define KP_LEN 128

/* ---- names ---- */

const char *plan_step_kind_name(enum plan_step_kind k)
{
	static const char *const names[] = {"write", "renew", "upgrade",
					    "verify", "fault", "heal",
					    "wait", "expect"};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k]
							       : "?";
}

static const char *const fault_names[] = {
    "kill", "pause",   "resume",	"restart", "partition",
    "down", "blackhole", "reset", "latency", "bandwidth"};

const char *plan_fault_kind_name(enum plan_fault_kind k)
{
	return (unsigned)k < sizeof(fault_names) / sizeof(fault_names[0])
		   ? fault_names[k]
		   : "?";
}

int plan_fault_kind_parse(const char *s, enum plan_fault_kind *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(fault_names) / sizeof(*fault_names);
	     i++) {
		if (strcmp(s, fault_names[i]) == 0) {
			*out = (enum plan_fault_kind)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

static const char *const shape_names[] = {"isolate", "halves", "ring",
					  "bridge", "one-way"};

const char *plan_shape_name(enum plan_shape s)
{
	return (unsigned)s < sizeof(shape_names) / sizeof(shape_names[0])
		   ? shape_names[s]
		   : "?";
}

int plan_shape_parse(const char *s, enum plan_shape *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(shape_names) / sizeof(*shape_names);
	     i++) {
		if (strcmp(s, shape_names[i]) == 0) {
			*out = (enum plan_shape)i;
			return 0;
		}
	}
	return EKL_EINVAL;
}

void plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	topo_free(&p->topo);
	ekl_free(p->steps);
	memset(p, 0, sizeof(*p));
}

/* ---- YAML helpers ---- */

/* A key path into out (truncated, never overflowing). */
static void kpf(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kpf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

struct pwalk {
	const char *path;
	yaml_document_t *doc;
	const struct topo *topo; /* once loaded */
	char *err;
};

static int fail_at(struct pwalk *w, const yaml_node_t *n, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(struct pwalk *w, const yaml_node_t *n, const char *key,
		   const char *fmt, ...)
{
	char msg[EKL_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ekl_errf(w->err, EKL_ECONFIG, "%s:%zu:%zu: key '%s': %s",
			w->path, n->start_mark.line + 1,
			n->start_mark.column + 1, key, msg);
}

static yaml_node_t *node_at(struct pwalk *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = text(n);
	return s[0] == '\0' || strcmp(s, "~") == 0 ||
	       strcasecmp(s, "null") == 0;
}

static const char *kind_of(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "list"
					       : "single value";
}

static int scalar(struct pwalk *w, const yaml_node_t *n, const char *key,
		  const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail_at(w, n, key, "expected a single value, found a %s",
			       kind_of(n));
	if (is_null(n) || text(n)[0] == '\0')
		return fail_at(w, n, key, "the value is empty");
	*out = text(n);
	return 0;
}

/* Every key of `map` a scalar among `allowed`, once. */
static int check_keys(struct pwalk *w, const yaml_node_t *map, const char *kp,
		      const char *const *allowed)
{
	const yaml_node_pair_t *p, *q;
	char list[200] = "";
	char sub[KP_LEN];
	size_t i;

	for (i = 0; allowed[i] != NULL; i++) {
		size_t n = strlen(list);

		snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
			 allowed[i]);
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key);

		if (k == NULL || k->type != YAML_SCALAR_NODE)
			return fail_at(w, k != NULL ? k : map,
				       kp[0] ? kp : "(top)",
				       "keys must be plain names");
		kpf(sub, sizeof(sub), "%s%s%s", kp, kp[0] ? "." : "",
			 text(k));
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(text(k), allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return fail_at(w, k, sub,
				       "unknown key; expected one of: %s",
				       list);
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node_at(w, q->key);

			if (strcmp(text(k2), text(k)) == 0)
				return fail_at(w, k, sub,
					       "duplicate key (first at line "
					       "%zu)",
					       k2->start_mark.line + 1);
		}
	}
	return 0;
}

static yaml_node_t *get(struct pwalk *w, const yaml_node_t *map,
			const char *key)
{
	const yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(text(k), key) == 0)
			return node_at(w, p->value);
	}
	return NULL;
}

/* A whole number in [lo, hi]. */
static int parse_long(struct pwalk *w, const yaml_node_t *n, const char *key,
		      long lo, long hi, const char *what, long *out)
{
	const char *s;
	char *end;
	long v;
	int rc;

	if ((rc = scalar(w, n, key, &s)) != 0)
		return rc;
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < lo ||
	    v > hi)
		return fail_at(w, n, key, "'%s' is not %s from %ld to %ld", s,
			       what, lo, hi);
	*out = v;
	return 0;
}

/* A node name of the topology; returns its index through *out. */
static int parse_node_name(struct pwalk *w, const yaml_node_t *n,
			   const char *key, int *out)
{
	char names[300] = "";
	const char *s;
	size_t i;
	int rc;

	if ((rc = scalar(w, n, key, &s)) != 0)
		return rc;
	for (i = 0; i < w->topo->n_nodes; i++) {
		size_t l = strlen(names);

		if (strcmp(w->topo->nodes[i].name, s) == 0) {
			*out = (int)i;
			return 0;
		}
		snprintf(names + l, sizeof(names) - l, "%s%s", i ? ", " : "",
			 w->topo->nodes[i].name);
	}
	return fail_at(w, n, key, "'%s' is not a node of the topology (%s)", s,
		       names);
}

/* [a, b]: two different nodes. */
static int parse_pair(struct pwalk *w, const yaml_node_t *n, const char *key,
		      int out[2])
{
	char sub[KP_LEN];
	yaml_node_item_t *it;
	int k = 0;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE ||
	    n->data.sequence.items.top - n->data.sequence.items.start != 2)
		return fail_at(w, n, key,
			       "expected two node names, such as [node1, "
			       "node2]");
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, k++) {
		kpf(sub, sizeof(sub), "%s[%d]", key, k + 1);
		if ((rc = parse_node_name(w, node_at(w, *it), sub, &out[k])) !=
		    0)
			return rc;
	}
	if (out[0] == out[1])
		return fail_at(w, n, key, "names the same node twice");
	return 0;
}

static bool same_pair(const int a[2], const int b[2])
{
	return (a[0] == b[0] && a[1] == b[1]) || (a[0] == b[1] && a[1] == b[0]);
}

/* ---- steps ---- */

static int parse_profile_ca(struct pwalk *w, const yaml_node_t *map,
			    const char *kp, struct plan_step *st)
{
	char sub[KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	kpf(sub, sizeof(sub), "%s.profile", kp);
	if ((v = get(w, map, "profile")) == NULL)
		return fail_at(w, map, sub,
			       "missing; say which profile the new "
			       "certificate has (combined, server-only, ...)");
	if ((rc = scalar(w, v, sub, &s)) != 0)
		return rc;
	if (pki_profile_parse(s, &st->profile) != 0)
		return fail_at(w, v, sub,
			       "'%s' is not a profile; use combined, "
			       "server-only, client-only, no-eku or any-eku",
			       s);
	if ((v = get(w, map, "ca")) != NULL) {
		kpf(sub, sizeof(sub), "%s.ca", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pki_ca_parse(s, &st->ca) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not an issuing CA; use "
				       "unrestricted, server-only or combined",
				       s);
		st->has_ca = true;
	}
	return 0;
}

static int parse_renew(struct pwalk *w, const yaml_node_t *n, const char *kp,
		       struct plan_step *st)
{
	static const char *const keys[] = {"node", "profile", "ca",
					   "days", "cert", NULL};
	char sub[KP_LEN];
	yaml_node_t *v;
	const char *s;
	long days;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {node: node2, "
			       "profile: server-only}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	kpf(sub, sizeof(sub), "%s.node", kp);
	if ((v = get(w, n, "node")) == NULL)
		return fail_at(w, n, sub, "missing; name the node to renew");
	if ((rc = parse_node_name(w, v, sub, &st->node)) != 0)
		return rc;
	if ((rc = parse_profile_ca(w, n, kp, st)) != 0)
		return rc;
	if ((v = get(w, n, "days")) != NULL) {
		kpf(sub, sizeof(sub), "%s.days", kp);
		if ((rc = parse_long(w, v, sub, 1, 36500, "a number of days",
				     &days)) != 0)
			return rc;
		st->days = (int)days;
	}
	if ((v = get(w, n, "cert")) != NULL) {
		kpf(sub, sizeof(sub), "%s.cert", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "client") == 0)
			st->client = true;
		else if (strcmp(s, "server") != 0)
			return fail_at(w, v, sub,
				       "'%s' is not server or client (the "
				       "X15.5 client certificate)",
				       s);
	}
	return 0;
}

static int parse_upgrade(struct pwalk *w, const yaml_node_t *n, const char *kp,
			 struct plan_step *st)
{
	static const char *const keys[] = {"node", "version", NULL};
	char sub[KP_LEN];
	enum pol_vclass vc;
	yaml_node_t *v;
	const char *s;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {node: node3, "
			       "version: X15.4}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	kpf(sub, sizeof(sub), "%s.node", kp);
	if ((v = get(w, n, "node")) == NULL)
		return fail_at(w, n, sub, "missing; name the node to upgrade");
	if ((rc = parse_node_name(w, v, sub, &st->node)) != 0)
		return rc;
	kpf(sub, sizeof(sub), "%s.version", kp);
	if ((v = get(w, n, "version")) == NULL)
		return fail_at(w, n, sub, "missing; give the new version");
	if ((rc = scalar(w, v, sub, &s)) != 0)
		return rc;
	if (strlen(s) > TOPO_VERSION_MAX || pol_version_parse(s, &vc) != 0)
		return fail_at(w, v, sub,
			       "'%s' is not a known version; use X14.x, "
			       "X15.0-X15.3.x, X15.4 or X15.5 (e.g. X15.4)",
			       s);
	snprintf(st->version, sizeof(st->version), "%s", s);
	return 0;
}

static int parse_verify(struct pwalk *w, const yaml_node_t *n, const char *kp,
			struct plan_step *st)
{
	static const char *const keys[] = {"mode", "node", NULL};
	char sub[KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	st->node = -1;
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {mode: "
			       "permissive}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	kpf(sub, sizeof(sub), "%s.mode", kp);
	if ((v = get(w, n, "mode")) == NULL)
		return fail_at(w, n, sub, "missing; enforce or permissive");
	if ((rc = scalar(w, v, sub, &s)) != 0)
		return rc;
	if (pol_mode_parse(s, &st->mode) != 0)
		return fail_at(w, v, sub,
			       "'%s' is not a verify mode; use enforce or "
			       "permissive",
			       s);
	if ((v = get(w, n, "node")) != NULL) {
		kpf(sub, sizeof(sub), "%s.node", kp);
		if ((rc = parse_node_name(w, v, sub, &st->node)) != 0)
			return rc;
	}
	return 0;
}

/* Which fault keys each kind takes besides kind and name. */
static const char *fault_needs(enum plan_fault_kind k)
{
	switch (k) {
	case PLAN_F_KILL:
	case PLAN_F_PAUSE:
	case PLAN_F_RESUME:
	case PLAN_F_RESTART:
		return "node";
	case PLAN_F_PARTITION:
		return "shape";
	case PLAN_F_DOWN:
	case PLAN_F_BLACKHOLE:
	case PLAN_F_RESET:
		return "link";
	case PLAN_F_LATENCY:
		return "link, ms";
	case PLAN_F_BANDWIDTH:
		return "link, kbps";
	}
	return "";
}

/* A key given to a fault kind that does not take it. */
static int fault_extra(struct pwalk *w, const yaml_node_t *n, const char *kp,
		       const struct plan_fault *f, bool shape_node)
{
	static const char *const keys[] = {"node", "shape", "from", "to",
					   "link", "ms",    "jitter_ms",
					   "kbps", NULL};
	const char *needs = fault_needs(f->kind);
	char sub[KP_LEN];
	yaml_node_t *v;
	size_t i;
	bool ok;

	for (i = 0; keys[i] != NULL; i++) {
		if ((v = get(w, n, keys[i])) == NULL)
			continue;
		ok = strstr(needs, keys[i]) != NULL;
		if (f->kind == PLAN_F_PARTITION)
			ok = strcmp(keys[i], "shape") == 0 ||
			     (strcmp(keys[i], "node") == 0 && shape_node) ||
			     ((strcmp(keys[i], "from") == 0 ||
			       strcmp(keys[i], "to") == 0) &&
			      f->part.shape == PLAN_SHAPE_ONE_WAY);
		if (f->kind == PLAN_F_LATENCY && strcmp(keys[i], "jitter_ms") == 0)
			ok = true;
		if (!ok) {
			kpf(sub, sizeof(sub), "%s.%s", kp, keys[i]);
			return fail_at(w, v, sub,
				       "not used by a %s%s%s fault; it takes "
				       "%s",
				       plan_fault_kind_name(f->kind),
				       f->kind == PLAN_F_PARTITION ? " " : "",
				       f->kind == PLAN_F_PARTITION
					   ? plan_shape_name(f->part.shape)
					   : "",
				       f->kind == PLAN_F_PARTITION
					   ? (shape_node ? "node"
					      : f->part.shape ==
						      PLAN_SHAPE_ONE_WAY
						  ? "from and to"
						  : "no node")
					   : needs);
		}
	}
	return 0;
}

static int need_node(struct pwalk *w, const yaml_node_t *n, const char *kp,
		     const char *key, const char *why, int *out)
{
	char sub[KP_LEN];
	yaml_node_t *v = get(w, n, key);

	kpf(sub, sizeof(sub), "%s.%s", kp, key);
	if (v == NULL)
		return fail_at(w, n, sub, "missing; %s", why);
	return parse_node_name(w, v, sub, out);
}

static int parse_partition(struct pwalk *w, const yaml_node_t *n,
			   const char *kp, struct plan_fault *f, bool *node)
{
	struct plan_partition *pt = &f->part;
	char sub[KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	pt->node = pt->from = pt->to = -1;
	kpf(sub, sizeof(sub), "%s.shape", kp);
	if ((v = get(w, n, "shape")) == NULL)
		return fail_at(w, n, sub,
			       "missing; isolate, halves, ring, bridge or "
			       "one-way");
	if ((rc = scalar(w, v, sub, &s)) != 0)
		return rc;
	if (plan_shape_parse(s, &pt->shape) != 0)
		return fail_at(w, v, sub,
			       "'%s' is not a shape; use isolate, halves, "
			       "ring, bridge or one-way",
			       s);
	*node = pt->shape == PLAN_SHAPE_ISOLATE ||
		pt->shape == PLAN_SHAPE_BRIDGE;
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
			return fail_at(w, n, kp, "from and to are the same node");
	}
	return 0;
}

static int parse_fault(struct pwalk *w, const yaml_node_t *n, const char *kp,
		       size_t index, struct plan_step *st)
{
	static const char *const keys[] = {
	    "kind", "name", "node", "shape", "from",	  "to",
	    "link", "ms",   "jitter_ms", "kbps", NULL};
	struct plan_fault *f = &st->fault;
	char sub[KP_LEN];
	bool shape_node = false;
	yaml_node_t *v;
	const char *s;
	long num;
	int rc;

	f->node = f->link[0] = f->link[1] = -1;
	f->part.node = f->part.from = f->part.to = -1;
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {kind: kill, "
			       "node: node2}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	kpf(sub, sizeof(sub), "%s.kind", kp);
	if ((v = get(w, n, "kind")) == NULL)
		return fail_at(w, n, sub,
			       "missing; kill, pause, resume, restart, "
			       "partition, down, blackhole, reset, latency or "
			       "bandwidth");
	if ((rc = scalar(w, v, sub, &s)) != 0)
		return rc;
	if (plan_fault_kind_parse(s, &f->kind) != 0)
		return fail_at(w, v, sub,
			       "'%s' is not a fault; use kill, pause, resume, "
			       "restart, partition, down, blackhole, reset, "
			       "latency or bandwidth",
			       s);
	switch (f->kind) {
	case PLAN_F_KILL:
	case PLAN_F_PAUSE:
	case PLAN_F_RESUME:
	case PLAN_F_RESTART:
		rc = need_node(w, n, kp, "node", "name the node", &f->node);
		break;
	case PLAN_F_PARTITION:
		rc = parse_partition(w, n, kp, f, &shape_node);
		break;
	default:
		kpf(sub, sizeof(sub), "%s.link", kp);
		if ((v = get(w, n, "link")) == NULL)
			return fail_at(w, n, sub,
				       "missing; name the link as [a, b]");
		rc = parse_pair(w, v, sub, f->link);
		break;
	}
	if (rc != 0)
		return rc;
	if ((rc = fault_extra(w, n, kp, f, shape_node)) != 0)
		return rc;
	if (f->kind == PLAN_F_LATENCY) {
		kpf(sub, sizeof(sub), "%s.ms", kp);
		if ((v = get(w, n, "ms")) == NULL)
			return fail_at(w, n, sub, "missing; the delay in ms");
		if ((rc = parse_long(w, v, sub, 0, 600000, "a delay in ms",
				     &num)) != 0)
			return rc;
		f->ms = (int)num;
		if ((v = get(w, n, "jitter_ms")) != NULL) {
			kpf(sub, sizeof(sub), "%s.jitter_ms", kp);
			if ((rc = parse_long(w, v, sub, 0, 600000,
					     "a jitter in ms", &num)) != 0)
				return rc;
			f->jitter_ms = (int)num;
		}
	}
	if (f->kind == PLAN_F_BANDWIDTH) {
		kpf(sub, sizeof(sub), "%s.kbps", kp);
		if ((v = get(w, n, "kbps")) == NULL)
			return fail_at(w, n, sub,
				       "missing; the rate in kbit/s");
		if ((rc = parse_long(w, v, sub, 1, 100000000,
				     "a rate in kbit/s", &num)) != 0)
			return rc;
		f->kbps = (int)num;
	}
	if ((v = get(w, n, "name")) != NULL) {
		kpf(sub, sizeof(sub), "%s.name", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (!topo_name_valid(s) || strlen(s) > PLAN_NAME_MAX ||
		    strcmp(s, "all") == 0)
			return fail_at(w, v, sub,
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

static int parse_expect_code(struct pwalk *w, const yaml_node_t *v,
			     const char *key, bool direction,
			     struct lab_why *out)
{
	const char *s;
	int rc;

	if ((rc = scalar(w, v, key, &s)) != 0)
		return rc;
	if (labmodel_why_parse(s, out) != 0 ||
	    (!direction && out->kind == LAB_WHY_NONE) ||
	    out->kind == LAB_WHY_PRIMARY_DOWN)
		return fail_at(w, v, key,
			       "'%s' is not a reason; use %sa certificate "
			       "code (client-purpose, server-purpose, "
			       "untrusted, expired, not-yet-valid, "
			       "name-mismatch, no-certificate), cut, "
			       "not-running or not-dialled",
			       s, direction ? "ok, " : "");
	return 0;
}

static int parse_replicating(struct pwalk *w, const yaml_node_t *v,
			     const char *key, struct plan_expect *e)
{
	const struct topo *t = w->topo;
	char sub[KP_LEN];
	yaml_node_item_t *it;
	int k = 0;
	int idx;
	size_t i;
	int rc;

	e->has_replicating = true;
	if (v->type == YAML_SCALAR_NODE) {
		if (strcmp(text(v), "none") == 0)
			return 0;
		if (strcmp(text(v), "all") != 0)
			return fail_at(w, v, key,
				       "expected all, none or a list of node "
				       "names");
		e->repl_all = true;
		for (i = 0; i < t->n_nodes; i++)
			if (strcmp(t->nodes[i].name, t->primary) != 0)
				e->replicating |= UINT64_C(1) << i;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(w, v, key,
			       "expected all, none or a list of node names");
	for (it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++, k++) {
		kpf(sub, sizeof(sub), "%s[%d]", key, k + 1);
		if ((rc = parse_node_name(w, node_at(w, *it), sub, &idx)) != 0)
			return rc;
		if (strcmp(t->nodes[idx].name, t->primary) == 0)
			return fail_at(w, node_at(w, *it), sub,
				       "'%s' is the primary, the source of "
				       "replication; list the nodes that "
				       "replicate from it",
				       t->primary);
		e->replicating |= UINT64_C(1) << idx;
	}
	return 0;
}

static int parse_expect(struct pwalk *w, const yaml_node_t *n, const char *kp,
			struct plan_step *st)
{
	static const char *const keys[] = {"link",    "state",	"code",
					   "direction", "carrier", "replicating",
					   NULL};
	struct plan_expect *e = &st->expect;
	char sub[KP_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {link: [node1, "
			       "node2], state: up} or {replicating: all}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	if ((v = get(w, n, "link")) != NULL) {
		kpf(sub, sizeof(sub), "%s.link", kp);
		if ((rc = parse_pair(w, v, sub, e->link)) != 0)
			return rc;
		e->has_link = true;
	}
	if ((v = get(w, n, "direction")) != NULL) {
		kpf(sub, sizeof(sub), "%s.direction", kp);
		if ((rc = parse_pair(w, v, sub, e->dir)) != 0)
			return rc;
		if (e->has_link && !same_pair(e->link, e->dir))
			return fail_at(w, v, sub,
				       "is not a direction of the link it "
				       "names");
		if (get(w, n, "code") == NULL)
			return fail_at(w, v, sub,
				       "needs code: ok or the reason the "
				       "connection fails");
		e->has_direction = true;
	}
	if ((v = get(w, n, "carrier")) != NULL) {
		kpf(sub, sizeof(sub), "%s.carrier", kp);
		if ((rc = parse_pair(w, v, sub, e->carrier)) != 0)
			return rc;
		if (e->has_link && !same_pair(e->link, e->carrier))
			return fail_at(w, v, sub,
				       "is not a direction of the link it "
				       "names");
		e->has_carrier = true;
	}
	if ((v = get(w, n, "state")) != NULL) {
		kpf(sub, sizeof(sub), "%s.state", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "up") != 0 && strcmp(s, "down") != 0)
			return fail_at(w, v, sub, "'%s' is not up or down", s);
		if (!e->has_link && !e->has_direction && !e->has_carrier)
			return fail_at(w, v, sub,
				       "needs link: [a, b] to say which link");
		e->has_state = true;
		e->up = strcmp(s, "up") == 0;
		if (e->has_carrier && !e->up)
			return fail_at(w, v, sub,
				       "a link with a carrier is up");
	}
	if ((v = get(w, n, "code")) != NULL) {
		kpf(sub, sizeof(sub), "%s.code", kp);
		if (e->has_direction) {
			rc = parse_expect_code(w, v, sub, true, &e->dir_result);
		} else {
			if (!e->has_link)
				return fail_at(w, v, sub,
					       "needs link: [a, b] (or "
					       "direction: [from, to])");
			if (e->has_state && e->up)
				return fail_at(w, v, sub,
					       "is why a link is down; with "
					       "state: up remove it");
			rc = parse_expect_code(w, v, sub, false, &e->code);
			e->has_code = true;
		}
		if (rc != 0)
			return rc;
	}
	if ((v = get(w, n, "replicating")) != NULL) {
		kpf(sub, sizeof(sub), "%s.replicating", kp);
		if ((rc = parse_replicating(w, v, sub, e)) != 0)
			return rc;
	}
	if (!e->has_link && !e->has_direction && !e->has_carrier &&
	    !e->has_replicating)
		return fail_at(w, n, kp,
			       "expects nothing; give link:, direction:, "
			       "carrier: or replicating:");
	if (e->has_link && !e->has_state && !e->has_code && !e->has_direction &&
	    !e->has_carrier)
		return fail_at(w, n, kp,
			       "says nothing about the link; add state: up "
			       "or state: down");
	return 0;
}

static int parse_wait(struct pwalk *w, const yaml_node_t *v, const char *kp,
		      struct plan_step *st)
{
	const char *s;
	char *end;
	double d;
	int rc;

	if ((rc = scalar(w, v, kp, &s)) != 0)
		return rc;
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !(d >= 0 && d <= 3600) ||
	    (s[0] < '0' || s[0] > '9'))
		return fail_at(w, v, kp,
			       "'%s' is not a number of seconds from 0 to "
			       "3600",
			       s);
	st->wait_ms = lround(d * 1000.0);
	return 0;
}

/* Is `name` a fault of an earlier step that a heal can end? */
static int heal_target(struct pwalk *w, const yaml_node_t *v, const char *kp,
		       const struct plan_step *steps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (steps[i].kind != PLAN_FAULT ||
		    strcmp(steps[i].fault.name, text(v)) != 0)
			continue;
		if (steps[i].fault.kind == PLAN_F_RESUME ||
		    steps[i].fault.kind == PLAN_F_RESTART)
			return fail_at(w, v, kp,
				       "'%s' (step %zu) is a %s, which ends "
				       "at once; there is nothing to heal",
				       text(v), i + 1,
				       plan_fault_kind_name(steps[i].fault.kind));
		return 0;
	}
	return fail_at(w, v, kp,
		       "no earlier fault is called '%s'; use all or the name "
		       "of a fault step",
		       text(v));
}

/* The fault name is not used by an earlier fault step. */
static int unique_fault(struct pwalk *w, const yaml_node_t *n, const char *kp,
			const struct plan_step *steps, size_t idx)
{
	size_t i;

	for (i = 0; i < idx; i++)
		if (steps[i].kind == PLAN_FAULT &&
		    strcmp(steps[i].fault.name, steps[idx].fault.name) == 0)
			return fail_at(w, n, kp,
				       "fault name '%s' is already used by "
				       "step %zu",
				       steps[idx].fault.name, i + 1);
	return 0;
}

static int parse_step(struct pwalk *w, const yaml_node_t *n, size_t idx,
		      struct plan_step *steps)
{
	static const char *const kinds[] = {"write",  "renew", "upgrade",
					    "verify", "fault", "heal",
					    "wait",   "expect", NULL};
	struct plan_step *st = &steps[idx];
	char kp[KP_LEN];
	char sub[KP_LEN];
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *s;
	size_t i;
	int rc;

	kpf(kp, sizeof(kp), "steps[%zu]", idx + 1);
	memset(st, 0, sizeof(*st));
	st->node = -1;
	st->line = (int)n->start_mark.line + 1;
	st->column = (int)n->start_mark.column + 1;
	if (n->type != YAML_MAPPING_NODE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return fail_at(w, n, kp,
			       "each step is a mapping with one key: write, "
			       "renew, upgrade, verify, fault, heal, wait or "
			       "expect");
	if ((rc = check_keys(w, n, kp, kinds)) != 0)
		return rc;
	p = n->data.mapping.pairs.start;
	k = node_at(w, p->key);
	v = node_at(w, p->value);
	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(text(k), kinds[i]) == 0)
			st->kind = (enum plan_step_kind)i;
	kpf(sub, sizeof(sub), "%s.%s", kp, text(k));
	switch (st->kind) {
	case PLAN_WRITE:
		return parse_long(w, v, sub, 1, 100000000, "a number of writes",
				  &st->count);
	case PLAN_RENEW:
		return parse_renew(w, v, sub, st);
	case PLAN_UPGRADE:
		return parse_upgrade(w, v, sub, st);
	case PLAN_VERIFY:
		return parse_verify(w, v, sub, st);
	case PLAN_FAULT:
		if ((rc = parse_fault(w, v, sub, idx, st)) != 0)
			return rc;
		return unique_fault(w, v, sub, steps, idx);
	case PLAN_HEAL:
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "all") == 0)
			return 0;
		if ((rc = heal_target(w, v, sub, steps, idx)) != 0)
			return rc;
		snprintf(st->heal, sizeof(st->heal), "%s", s);
		return 0;
	case PLAN_WAIT:
		return parse_wait(w, v, sub, st);
	case PLAN_EXPECT:
		return parse_expect(w, v, sub, st);
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
		cat(b, len, " %s", t->nodes[f->node].name);
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
		cat(b, len, " %s-%s", t->nodes[f->link[0]].name,
		    t->nodes[f->link[1]].name);
		if (f->kind == PLAN_F_LATENCY)
			cat(b, len, " %dms", f->ms);
		else if (f->kind == PLAN_F_BANDWIDTH)
			cat(b, len, " %dkbps", f->kbps);
		break;
	}
	cat(b, len, " [%s]", f->name);
}

static void step_text(const struct topo *t, struct plan_step *st)
{
	char *b = st->text;
	size_t len = sizeof(st->text);

	b[0] = '\0';
	switch (st->kind) {
	case PLAN_WRITE:
		cat(b, len, "write %ld", st->count);
		break;
	case PLAN_WAIT:
		cat(b, len, "wait %ld.%03lds", st->wait_ms / 1000,
		    st->wait_ms % 1000);
		break;
	case PLAN_RENEW:
		cat(b, len, "renew %s%s %s", t->nodes[st->node].name,
		    st->client ? " client cert" : "",
		    pki_profile_name(st->profile));
		if (st->has_ca)
			cat(b, len, " (ca %s)", pki_ca_name(st->ca));
		if (st->days > 0)
			cat(b, len, ", %d days", st->days);
		break;
	case PLAN_UPGRADE:
		cat(b, len, "upgrade %s to %s", t->nodes[st->node].name,
		    st->version);
		break;
	case PLAN_VERIFY:
		cat(b, len, "verify %s%s%s",
		    st->node >= 0 ? t->nodes[st->node].name : "",
		    st->node >= 0 ? " " : "", pol_mode_name(st->mode));
		break;
	case PLAN_FAULT:
		fault_text(t, &st->fault, b, len);
		break;
	case PLAN_HEAL:
		cat(b, len, "heal %s", st->heal[0] ? st->heal : "all");
		break;
	case PLAN_EXPECT:
		cat(b, len, "expect ");
		plan_expect_text(&st->expect, t, b + 7, len - 7);
		break;
	}
}

/* ---- the file ---- */

static int parse_topology(struct pwalk *w, yaml_node_t *root, struct plan *p)
{
	yaml_node_t *v = get(w, root, "topology");
	const char *s;
	const char *slash;
	int rc;

	if (v == NULL)
		return fail_at(w, root, "topology",
			       "missing; give a topology file (relative to "
			       "the plan) or a topology mapping");
	if (v->type == YAML_MAPPING_NODE)
		return topo_load_node(p->path, "topology", w->doc, v, &p->topo,
				      w->err);
	if ((rc = scalar(w, v, "topology", &s)) != 0)
		return rc;
	slash = strrchr(p->path, '/');
	if (s[0] == '/' || slash == NULL)
		snprintf(p->topo_path, sizeof(p->topo_path), "%s", s);
	else
		snprintf(p->topo_path, sizeof(p->topo_path), "%.*s/%s",
			 (int)(slash - p->path), p->path, s);
	rc = topo_load(p->topo_path, &p->topo, w->err);
	if (rc != 0) {
		char e[EKL_ERRLEN];

		snprintf(e, sizeof(e), "%s", w->err != NULL ? w->err : "");
		return ekl_errf(w->err, rc, "%s:%zu:%zu: key 'topology': %s",
				p->path, v->start_mark.line + 1,
				v->start_mark.column + 1, e);
	}
	return 0;
}

static int parse_steps(struct pwalk *w, yaml_node_t *root, struct plan *p)
{
	yaml_node_t *v = get(w, root, "steps");
	yaml_node_item_t *it;
	size_t n;
	int rc;

	if (v == NULL)
		return fail_at(w, root, "steps", "missing; list the steps");
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(w, v, "steps",
			       "expected a list of steps (- write: 10, ...)");
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return fail_at(w, v, "steps", "no step; list at least one");
	if (n > PLAN_MAX_STEPS)
		return fail_at(w, v, "steps", "%zu steps; at most %d", n,
			       PLAN_MAX_STEPS);
	p->steps = ekl_calloc(n, sizeof(*p->steps));
	if (p->steps == NULL)
		return ekl_errf(w->err, EKL_ENOMEM, "%s: out of memory",
				p->path);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		rc = parse_step(w, node_at(w, *it), p->n_steps, p->steps);
		if (rc != 0)
			return rc;
		step_text(&p->topo, &p->steps[p->n_steps]);
		p->n_steps++;
	}
	return 0;
}

static int walk_plan(struct pwalk *w, struct plan *p)
{
	static const char *const keys[] = {"name", "description", "at",
					   "topology", "steps", NULL};
	yaml_node_t *root = yaml_document_get_root_node(w->doc);
	yaml_node_t *v;
	const char *s;
	int rc;

	if (root == NULL || is_null(root))
		return ekl_errf(w->err, EKL_ECONFIG,
				"%s: the plan is empty; it needs topology: "
				"and steps:",
				w->path);
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(w, root, "(top)",
			       "expected a mapping with topology and steps");
	if ((rc = check_keys(w, root, "", keys)) != 0)
		return rc;
	if ((v = get(w, root, "name")) != NULL &&
	    (rc = scalar(w, v, "name", &s)) != 0)
		return rc;
	if ((v = get(w, root, "description")) != NULL &&
	    (rc = scalar(w, v, "description", &s)) != 0)
		return rc;
	if ((v = get(w, root, "at")) != NULL) {
		if ((rc = scalar(w, v, "at", &s)) != 0)
			return rc;
		if (pki_parse_time(s, &p->at) != 0)
			return fail_at(w, v, "at",
				       "'%s' is not a time; use YYYY-MM-DD, "
				       "YYYY-MM-DDTHH:MM:SSZ or @EPOCH",
				       s);
	}
	if ((rc = parse_topology(w, root, p)) != 0)
		return rc;
	w->topo = &p->topo;
	return parse_steps(w, root, p);
}

static int open_plan(const char *path, FILE **fp, char *err)
{
	struct stat st;
	int en;

	*fp = fopen(path, "rb");
	if (*fp == NULL) {
		en = errno;
		if (en == ENOENT)
			return ekl_errf(err, EKL_ENOENT,
					"plan '%s': no such file; check the "
					"path",
					path);
		if (en == EACCES)
			return ekl_errf(err, EKL_EPERM,
					"plan '%s': permission denied", path);
		return ekl_errf(err, EKL_EIO, "plan '%s': %s", path,
				strerror(en));
	}
	if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(*fp);
		*fp = NULL;
		return ekl_errf(err, EKL_EIO, "plan '%s': not a regular file",
				path);
	}
	return 0;
}

int plan_load(const char *path, struct plan *p, char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_document_t extra;
	struct pwalk w;
	FILE *fp;
	int rc;

	memset(p, 0, sizeof(*p));
	if (strlen(path) >= sizeof(p->path))
		return ekl_errf(err, EKL_EINVAL, "plan '%s': path too long",
				path);
	snprintf(p->path, sizeof(p->path), "%s", path);
	if ((rc = open_plan(path, &fp, err)) != 0)
		return rc;
	if (!yaml_parser_initialize(&parser)) {
		rc = ekl_errf(err, EKL_ENOMEM, "plan '%s': out of memory", path);
		goto err_after_open;
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = ekl_errf(err, EKL_ECONFIG,
			      "%s:%zu:%zu: YAML syntax error: %s%s%s", path,
			      parser.problem_mark.line + 1,
			      parser.problem_mark.column + 1,
			      parser.problem != NULL ? parser.problem
						     : "unreadable",
			      parser.context != NULL ? " " : "",
			      parser.context != NULL ? parser.context : "");
		goto err_after_parser;
	}
	memset(&w, 0, sizeof(w));
	w.path = path;
	w.doc = &doc;
	w.err = err;
	rc = walk_plan(&w, p);
	if (rc == 0) {
		if (!yaml_parser_load(&parser, &extra)) {
			rc = ekl_errf(err, EKL_ECONFIG,
				      "%s:%zu:%zu: YAML syntax error: %s", path,
				      parser.problem_mark.line + 1,
				      parser.problem_mark.column + 1,
				      parser.problem != NULL ? parser.problem
							     : "unreadable");
		} else {
			yaml_node_t *r = yaml_document_get_root_node(&extra);

			if (r != NULL)
				rc = ekl_errf(err, EKL_ECONFIG,
					      "%s:%zu:%zu: a second YAML "
					      "document; a plan is one "
					      "document (remove the ---)",
					      path, r->start_mark.line + 1,
					      r->start_mark.column + 1);
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	if (rc != 0)
		plan_free(p);
err_after_parser:
	yaml_parser_delete(&parser);
err_after_open:
	fclose(fp);
	return rc;
}
