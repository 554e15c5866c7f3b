/* plan_yaml.h: internal to the plan parser (plan_parse.c, plan_steps.c,
 * plan_yaml.c): the walk over a loaded YAML document and its helpers.
 * Every error is "PATH:LINE:COLUMN: key 'KEY': MESSAGE" (1-based). */
#ifndef EKULAB_LIB_PLAN_YAML_H
#define EKULAB_LIB_PLAN_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "plan.h"

#define PLAN_KP_LEN 160 /* a key path such as steps[3].renew.profile */

struct plan_yaml {
	const char *path;	 /* the plan file, for messages */
	yaml_document_t *doc;	 /* the loaded document */
	const struct topo *topo; /* once loaded: node names resolve */
	char *err;		 /* EKL_ERRLEN bytes, or NULL */
};

/* Format a key path into out (cut when too long, never overflowing). */
void plan_yaml_keypath(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record the located error; returns EKL_ECONFIG. */
int plan_yaml_fail(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
yaml_node_t *plan_yaml_node(struct plan_yaml *w, int id);
/* A scalar node's text. */
const char *plan_yaml_text(const yaml_node_t *n);
/* A plain empty, "~" or "null" scalar. */
bool plan_yaml_is_null(const yaml_node_t *n);
/* "mapping", "list" or "single value". */
const char *plan_yaml_kind(const yaml_node_t *n);
/* A non-empty single value; *out is NULL when it returns an error. */
int plan_yaml_scalar(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		     const char **out);
/* Every key of `map` a scalar among `allowed` (NULL-terminated), once. */
int plan_yaml_check_keys(struct plan_yaml *w, const yaml_node_t *map,
			 const char *kp, const char *const *allowed);
/* The value of `key` in a mapping, or NULL. */
yaml_node_t *plan_yaml_get(struct plan_yaml *w, const yaml_node_t *map,
			   const char *key);
/* A whole number in [lo, hi]; `what` names it in the message. */
int plan_yaml_long(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   long lo, long hi, const char *what, long *out);
/* A node name of w->topo; its index through *out. */
int plan_yaml_node_name(struct plan_yaml *w, const yaml_node_t *n,
			const char *key, int *out);
/* [a, b]: two different nodes. */
int plan_yaml_pair(struct plan_yaml *w, const yaml_node_t *n, const char *key,
		   int out[2]);
/* The same for nodes and externals (endpoint indices, topo_endpoints). */
int plan_yaml_endpoint_name(struct plan_yaml *w, const yaml_node_t *n,
			    const char *key, int *out);
int plan_yaml_endpoint_pair(struct plan_yaml *w, const yaml_node_t *n,
			    const char *key, int out[2]);

/* Parse steps[idx] (earlier steps are complete: heal and fault names are
 * checked against them) and set its text. plan_steps.c. */
int plan_parse_step(struct plan_yaml *w, const yaml_node_t *n, size_t idx,
		    struct plan_step *steps);

#endif
