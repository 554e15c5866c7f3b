/* plan_parse.c: read and validate a plan file (libyaml), in the style of
 * topology.c: the file is loaded as one document, every mapping's keys are
 * checked against the keys it allows, and every error names
 * FILE:LINE:COLUMN and the key ("steps[3].renew.profile", steps counted
 * from 1 as `plan check` prints them). The steps themselves are parsed in
 * plan_steps.c, the YAML helpers live in plan_yaml.c.
 */
#include "plan_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/yamlfile.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

/* ---- names ---- */

const char *plan_step_kind_name(enum plan_step_kind k)
{
	static const char *const names[] = {"write",  "renew", "upgrade",
					    "verify", "fault", "heal",
					    "wait",   "expect"};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *plan_via_name(enum plan_via v)
{
	return v == PLAN_VIA_SCP ? "scp" : "upload";
}

int plan_via_parse(const char *s, enum plan_via *out)
{
	if (s != NULL && strcmp(s, "upload") == 0)
		*out = PLAN_VIA_UPLOAD;
	else if (s != NULL && strcmp(s, "scp") == 0)
		*out = PLAN_VIA_SCP;
	else
		return EKL_EINVAL;
	return 0;
}

static const char *const fault_names[] = {
    "kill",	  "pause",     "resume", "restart",   "partition",
    "down",	  "blackhole", "reset",	 "latency",   "bandwidth",
    "slow_close", "timeout",   "slicer", "limit_data"};

bool plan_fault_is_link(enum plan_fault_kind k)
{
	return k >= PLAN_F_DOWN && k <= PLAN_F_LIMIT_DATA;
}

static const char *const direction_names[] = {"both", "upstream", "downstream"};

const char *plan_direction_name(enum plan_direction d)
{
	return (unsigned)d <
		       sizeof(direction_names) / sizeof(direction_names[0])
		   ? direction_names[d]
		   : "?";
}

int plan_direction_parse(const char *s, enum plan_direction *out)
{
	size_t i;

	for (i = 0; s != NULL &&
		    i < sizeof(direction_names) / sizeof(direction_names[0]);
	     i++)
		if (strcmp(s, direction_names[i]) == 0) {
			*out = (enum plan_direction)i;
			return 0;
		}
	return EKL_EINVAL;
}

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

static const char *const shape_names[] = {"isolate", "halves", "ring", "bridge",
					  "one-way"};

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

/* ---- the file ---- */

static int parse_topology(struct plan_yaml *w, yaml_node_t *root,
			  struct plan *p)
{
	yaml_node_t *v = plan_yaml_get(w, root, "topology");
	const char *s;
	const char *slash;
	int rc;

	if (v == NULL)
		return plan_yaml_fail(
		    w, root, "topology",
		    "missing; give a topology file (relative to "
		    "the plan) or a topology mapping");
	if (v->type == YAML_MAPPING_NODE)
		return topo_load_node(p->path, "topology", w->doc, v, &p->topo,
				      w->err);
	if ((rc = plan_yaml_scalar(w, v, "topology", &s)) != 0)
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

static int parse_steps(struct plan_yaml *w, yaml_node_t *root, struct plan *p)
{
	yaml_node_t *v = plan_yaml_get(w, root, "steps");
	yaml_node_item_t *it;
	size_t n;
	int rc;

	if (v == NULL)
		return plan_yaml_fail(w, root, "steps",
				      "missing; list the steps");
	if (v->type != YAML_SEQUENCE_NODE)
		return plan_yaml_fail(
		    w, v, "steps",
		    "expected a list of steps (- write: 10, ...)");
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return plan_yaml_fail(w, v, "steps",
				      "no step; list at least one");
	if (n > PLAN_MAX_STEPS)
		return plan_yaml_fail(w, v, "steps", "%zu steps; at most %d", n,
				      PLAN_MAX_STEPS);
	p->steps = ekl_calloc(n, sizeof(*p->steps));
	if (p->steps == NULL)
		return ekl_errf(w->err, EKL_ENOMEM, "%s: out of memory",
				p->path);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		rc = plan_parse_step(w, plan_yaml_node(w, *it), p->n_steps,
				     p->steps);
		if (rc != 0)
			return rc;
		p->n_steps++;
	}
	return 0;
}

static int walk_plan(struct plan_yaml *w, struct plan *p)
{
	static const char *const keys[] = {"name",     "description", "at",
					   "topology", "steps",	      NULL};
	yaml_node_t *root = yaml_document_get_root_node(w->doc);
	yaml_node_t *v;
	const char *s;
	int rc;

	if (root == NULL || plan_yaml_is_null(root))
		return ekl_errf(w->err, EKL_ECONFIG,
				"%s: the plan is empty; it needs topology: "
				"and steps:",
				w->path);
	if (root->type != YAML_MAPPING_NODE)
		return plan_yaml_fail(
		    w, root, "(top)",
		    "expected a mapping with topology and steps");
	if ((rc = plan_yaml_check_keys(w, root, "", keys)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, root, "name")) != NULL &&
	    (rc = plan_yaml_scalar(w, v, "name", &s)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, root, "description")) != NULL &&
	    (rc = plan_yaml_scalar(w, v, "description", &s)) != 0)
		return rc;
	if ((v = plan_yaml_get(w, root, "at")) != NULL) {
		if ((rc = plan_yaml_scalar(w, v, "at", &s)) != 0)
			return rc;
		if (pki_parse_time(s, &p->at) != 0)
			return plan_yaml_fail(
			    w, v, "at",
			    "'%s' is not a time; use YYYY-MM-DD, "
			    "YYYY-MM-DDTHH:MM:SSZ or @EPOCH",
			    s);
	}
	if ((rc = parse_topology(w, root, p)) != 0)
		return rc;
	w->topo = &p->topo;
	return parse_steps(w, root, p);
}

struct load_ctx {
	const char *path;
	struct plan *p;
	char *err;
};

static int walk_file(void *arg, yaml_document_t *doc)
{
	struct load_ctx *c = arg;
	struct plan_yaml w;

	memset(&w, 0, sizeof(w));
	w.path = c->path;
	w.doc = doc;
	w.err = c->err;
	return walk_plan(&w, c->p);
}

int plan_load(const char *path, struct plan *p, char *err)
{
	struct load_ctx c = {path, p, err};
	int rc;

	memset(p, 0, sizeof(*p));
	if (strlen(path) >= sizeof(p->path))
		return ekl_errf(err, EKL_EINVAL, "plan '%s': path too long",
				path);
	snprintf(p->path, sizeof(p->path), "%s", path);
	rc = yamlfile_load(path, "plan", walk_file, &c, err);
	if (rc != 0)
		plan_free(p);
	return rc;
}
