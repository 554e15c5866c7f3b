/* plan_yaml.c: the YAML walking helpers of the plan parser: located
 * errors, scalars, key checks, numbers, node names. */
#include "plan_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ekulab/core/err.h"
#include "model/yamlfile.h"

/* A key path into out (truncated, never overflowing). */
void plan_yaml_keypath(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

int plan_yaml_fail(struct plan_yaml *w, const yaml_node_t *n, const char *key,
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

yaml_node_t *plan_yaml_node(struct plan_yaml *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

const char *plan_yaml_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool plan_yaml_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = plan_yaml_text(n);
	return s[0] == '\0' || strcmp(s, "~") == 0 ||
	       strcasecmp(s, "null") == 0;
}

const char *plan_yaml_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "list"
					       : "single value";
}

int plan_yaml_scalar(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		     const char **out)
{
	*out = NULL; /* set on every path: callers read it only on 0 */
	if (n->type != YAML_SCALAR_NODE)
		return plan_yaml_fail(w, n, key,
				      "expected a single value, found a %s",
				      plan_yaml_kind(n));
	if (plan_yaml_is_null(n) || plan_yaml_text(n)[0] == '\0')
		return plan_yaml_fail(w, n, key, "the value is empty");
	*out = plan_yaml_text(n);
	return 0;
}

/* Every key of `map` a scalar among `allowed`, once. */
int plan_yaml_check_keys(struct plan_yaml *w, const yaml_node_t *map,
			 const char *kp, const char *const *allowed)
{
	const yaml_node_t *at;
	char sub[PLAN_KP_LEN], msg[EKL_ERRLEN];

	if (yamlfile_check_keys(w->doc, map, kp, allowed, &at, sub, sizeof(sub),
				msg, sizeof(msg)))
		return 0;
	return plan_yaml_fail(w, at, sub, "%s", msg);
}

yaml_node_t *plan_yaml_get(struct plan_yaml *w, const yaml_node_t *map,
			   const char *key)
{
	const yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = plan_yaml_node(w, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(plan_yaml_text(k), key) == 0)
			return plan_yaml_node(w, p->value);
	}
	return NULL;
}

/* A whole number in [lo, hi]. */
int plan_yaml_long(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   long lo, long hi, const char *what, long *out)
{
	const char *s;
	char *end;
	long v;
	int rc;

	if ((rc = plan_yaml_scalar(w, n, key, &s)) != 0)
		return rc;
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < lo ||
	    v > hi)
		return plan_yaml_fail(w, n, key,
				      "'%s' is not %s from %ld to %ld", s, what,
				      lo, hi);
	*out = v;
	return 0;
}

/* A node name of the topology; returns its index through *out. */
/* A node (or, with `ext`, an external) of w->topo. */
static int endpoint_name(struct plan_yaml *w, const yaml_node_t *n,
			 const char *key, bool ext, int *out)
{
	const struct topo *t = w->topo;
	char names[300] = "";
	const char *s;
	size_t i;
	int rc;

	if ((rc = plan_yaml_scalar(w, n, key, &s)) != 0)
		return rc;
	for (i = 0; i < topo_endpoints(t); i++) {
		size_t l = strlen(names);

		if (i >= t->n_nodes && !ext)
			break;
		if (strcmp(topo_endpoint_name(t, i), s) == 0) {
			*out = (int)i;
			return 0;
		}
		snprintf(names + l, sizeof(names) - l, "%s%s", i ? ", " : "",
			 topo_endpoint_name(t, i));
	}
	if (!ext && topo_endpoint_index(t, s) >= 0)
		return plan_yaml_fail(w, n, key,
				      "'%s' is an external; this names an "
				      "Expressway node (%s)",
				      s, names);
	return plan_yaml_fail(w, n, key,
			      "'%s' is not a %s of the topology (%s)", s,
			      ext ? "node or external" : "node", names);
}

int plan_yaml_node_name(struct plan_yaml *w, const yaml_node_t *n,
			const char *key, int *out)
{
	return endpoint_name(w, n, key, false, out);
}

int plan_yaml_endpoint_name(struct plan_yaml *w, const yaml_node_t *n,
			    const char *key, int *out)
{
	return endpoint_name(w, n, key, true, out);
}

/* [a, b]: two different nodes (or, with ext, nodes or externals). */
static int pair_of(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   bool ext, int out[2])
{
	char sub[PLAN_KP_LEN];
	yaml_node_item_t *it;
	int k = 0;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE ||
	    n->data.sequence.items.top - n->data.sequence.items.start != 2)
		return plan_yaml_fail(
		    w, n, key,
		    "expected two node names, such as [node1, "
		    "node2]");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, k++) {
		plan_yaml_keypath(sub, sizeof(sub), "%s[%d]", key, k + 1);
		if ((rc = endpoint_name(w, plan_yaml_node(w, *it), sub, ext,
					&out[k])) != 0)
			return rc;
	}
	if (out[0] == out[1])
		return plan_yaml_fail(w, n, key, "names the same node twice");
	return 0;
}

int plan_yaml_pair(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   int out[2])
{
	return pair_of(w, n, key, false, out);
}

int plan_yaml_endpoint_pair(struct plan_yaml *w, const yaml_node_t *n,
			    const char *key, int out[2])
{
	return pair_of(w, n, key, true, out);
}
