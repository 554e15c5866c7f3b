/* topology.c: read and validate the lab's cluster topology file (libyaml).
 *
 * The file is loaded as one YAML document (yaml_parser_load), then walked
 * with every key checked against the keys its mapping allows. Values are
 * parsed into "partial" records that remember which keys were given, so
 * that defaults merge into each node per key (a node that sets only
 * cert.profile keeps defaults.cert.ca). Everything is validated before
 * anything is returned: on error the caller gets no topology.
 */
#include "yamlfile.h"
#include "topology.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

#define KEYPATH_LEN 256
#define MAX_DAYS    36500

/* ---- names ---- */

const char *topo_dial_name(enum topo_dial d)
{
	switch (d) {
	case TOPO_DIAL_BOTH: return "both";
	case TOPO_DIAL_LOWER_NAME: return "lower-name";
	case TOPO_DIAL_PRIMARY: return "primary";
	}
	return "?";
}

int topo_dial_parse(const char *s, enum topo_dial *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "both") == 0)
		*out = TOPO_DIAL_BOTH;
	else if (strcmp(s, "lower-name") == 0)
		*out = TOPO_DIAL_LOWER_NAME;
	else if (strcmp(s, "primary") == 0)
		*out = TOPO_DIAL_PRIMARY;
	else
		return EKL_EINVAL;
	return 0;
}

const char *topo_link_name(enum topo_link l)
{
	switch (l) {
	case TOPO_LINK_BOTH: return "both";
	case TOPO_LINK_EITHER: return "either";
	}
	return "?";
}

int topo_link_parse(const char *s, enum topo_link *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "both") == 0)
		*out = TOPO_LINK_BOTH;
	else if (strcmp(s, "either") == 0)
		*out = TOPO_LINK_EITHER;
	else
		return EKL_EINVAL;
	return 0;
}

const char *topo_root_name(enum topo_root r)
{
	return r == TOPO_ROOT_PUBLIC ? "public" : "private";
}

int topo_root_parse(const char *s, enum topo_root *out)
{
	if (s != NULL && strcmp(s, "private") == 0)
		*out = TOPO_ROOT_PRIVATE;
	else if (s != NULL && strcmp(s, "public") == 0)
		*out = TOPO_ROOT_PUBLIC;
	else
		return EKL_EINVAL;
	return 0;
}

const char *topo_role_name(enum topo_role r)
{
	switch (r) {
	case TOPO_ROLE_C: return "c";
	case TOPO_ROLE_E: return "e";
	}
	return "?";
}

int topo_role_parse(const char *s, enum topo_role *out)
{
	if (s == NULL)
		return EKL_EINVAL;
	if (strcmp(s, "c") == 0)
		*out = TOPO_ROLE_C;
	else if (strcmp(s, "e") == 0)
		*out = TOPO_ROLE_E;
	else
		return EKL_EINVAL;
	return 0;
}

bool topo_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];

		if (i >= TOPO_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

const struct topo_node *topo_find(const struct topo *t, const char *name)
{
	size_t i;

	if (t == NULL || name == NULL)
		return NULL;
	for (i = 0; i < t->n_nodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return &t->nodes[i];
	return NULL;
}

size_t topo_endpoints(const struct topo *t)
{
	return t->n_nodes + t->n_externals;
}

bool topo_is_deployment(const struct topo *t)
{
	return t->multi || t->n_externals > 0 || t->n_zones > 0;
}

int topo_endpoint_index(const struct topo *t, const char *name)
{
	size_t i;

	if (t == NULL || name == NULL)
		return -1;
	for (i = 0; i < t->n_nodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return (int)i;
	for (i = 0; i < t->n_externals; i++)
		if (strcmp(t->externals[i].name, name) == 0)
			return (int)(t->n_nodes + i);
	return -1;
}

const char *topo_endpoint_name(const struct topo *t, size_t i)
{
	if (i < t->n_nodes)
		return t->nodes[i].name;
	if (i < t->n_nodes + t->n_externals)
		return t->externals[i - t->n_nodes].name;
	return "?";
}

const struct topo_external *topo_endpoint_external(const struct topo *t,
						   size_t i)
{
	if (i >= t->n_nodes && i < t->n_nodes + t->n_externals)
		return &t->externals[i - t->n_nodes];
	return NULL;
}

int topo_cluster_index(const struct topo *t, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < t->n_clusters; i++)
		if (strcmp(t->clusters[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool topo_is_primary(const struct topo *t, size_t i)
{
	return i < t->n_nodes && t->nodes[i].cluster < t->n_clusters &&
	       t->clusters[t->nodes[i].cluster].primary == i;
}

const char *topo_zone_end_name(const struct topo *t,
			       const struct topo_zone_end *e)
{
	if (e->external)
		return e->index < t->n_externals ? t->externals[e->index].name
						 : "?";
	return e->index < t->n_clusters ? t->clusters[e->index].name : "?";
}

bool topo_zone_end_has(const struct topo *t, const struct topo_zone_end *e,
		       size_t i)
{
	if (e->external)
		return i == t->n_nodes + e->index;
	return i < t->n_nodes && t->nodes[i].cluster == e->index;
}

static void cert_free(struct topo_cert *c)
{
	ekl_free(c->file);
	c->file = NULL;
}

void topo_free(struct topo *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_nodes; i++) {
		cert_free(&t->nodes[i].cert);
		cert_free(&t->nodes[i].client_cert);
	}
	for (i = 0; i < t->n_externals; i++) {
		cert_free(&t->externals[i].cert);
		cert_free(&t->externals[i].client_cert);
	}
	ekl_free(t->nodes);
	memset(t, 0, sizeof(*t));
}

/* ---- the walk ---- */

struct walk {
	const char *path;   /* the topology file, for messages */
	char dir[512];	    /* its directory, for relative cert files */
	const char *prefix; /* key path of the topology in its file, or "" */
	yaml_document_t *doc;
	yaml_node_t *root; /* the topology's mapping */
	char *err;
	bool has_verify; /* defaults.verify was given */
	enum pol_mode verify;
};

/* Partial records: what one mapping gave, before defaults merge in. */
struct part_cert {
	bool given; /* the key was present */
	bool none;  /* client_cert: none */
	bool has_profile, has_ca, has_days, has_root;
	enum pki_profile profile;
	enum pki_ca ca;
	enum topo_root root;
	int days;
	const char *file; /* points into the YAML document, or NULL */
};

struct part_node {
	const char *version; /* into the document, or NULL */
	enum pol_vclass vclass;
	bool has_role;
	enum topo_role role;
	struct part_cert cert;
	struct part_cert client;
	bool has_check;
	bool check;
	bool has_seu;
	bool seu;	       /* server_eku_upload */
	const char *log_level; /* into the document, or NULL */
	bool has_place;
	struct topo_placement place;
};

/* "PATH:LINE:COLUMN: key 'KEY': MESSAGE" (1-based line and column). */
static int fail_at(struct walk *w, const yaml_node_t *n, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(struct walk *w, const yaml_node_t *n, const char *key,
		   const char *fmt, ...)
{
	char msg[EKL_ERRLEN];
	bool top = strcmp(key, "(top)") == 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->prefix[0] != '\0')
		return ekl_errf(
		    w->err, EKL_ECONFIG, "%s:%zu:%zu: key '%s%s%s': %s",
		    w->path, n->start_mark.line + 1, n->start_mark.column + 1,
		    w->prefix, top ? "" : ".", top ? "" : key, msg);
	return ekl_errf(w->err, EKL_ECONFIG, "%s:%zu:%zu: key '%s': %s",
			w->path, n->start_mark.line + 1,
			n->start_mark.column + 1, key, msg);
}

static yaml_node_t *node_at(struct walk *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
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

/* The value of `key` as a non-empty single string. */
static int scalar(struct walk *w, const yaml_node_t *n, const char *key,
		  const char **out)
{
	*out = NULL; /* set on every path (gcc -O2 cannot tell) */
	if (n->type != YAML_SCALAR_NODE)
		return fail_at(w, n, key, "expected a single value, found a %s",
			       n->type == YAML_MAPPING_NODE ? "mapping"
							    : "list");
	if (is_null(n) || text(n)[0] == '\0')
		return fail_at(w, n, key, "the value is empty");
	*out = text(n);
	return 0;
}

/* Check that every key of mapping `map` is a scalar among `allowed`
 * (NULL-terminated) and appears once. `prefix` is the mapping's dotted
 * path ("" at the top). */
static int check_keys(struct walk *w, const yaml_node_t *map,
		      const char *prefix, const char *const *allowed)
{
	const yaml_node_t *at;
	char kp[KEYPATH_LEN], msg[EKL_ERRLEN];

	if (yamlfile_check_keys(w->doc, map, prefix, allowed, &at, kp,
				sizeof(kp), msg, sizeof(msg)))
		return 0;
	return fail_at(w, at, kp, "%s", msg);
}

/* The value node of `key` in a checked mapping, or NULL. The key node is
 * returned through *key_node when asked. */
static yaml_node_t *get(struct walk *w, const yaml_node_t *map, const char *key,
			yaml_node_t **key_node)
{
	const yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(text(k), key) == 0) {
			if (key_node != NULL)
				*key_node = k;
			return node_at(w, p->value);
		}
	}
	return NULL;
}

static int parse_bool(struct walk *w, const yaml_node_t *n, const char *key,
		      bool *out)
{
	static const char *const yes[] = {"on", "true", "yes"};
	static const char *const no[] = {"off", "false", "no"};
	const char *s;
	size_t i;
	int rc;

	if ((rc = scalar(w, n, key, &s)) != 0)
		return rc;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return fail_at(w, n, key, "'%s' is not on or off (true/false, yes/no)",
		       s);
}

static int parse_days(struct walk *w, const yaml_node_t *n, const char *key,
		      int *out)
{
	const char *s;
	char *end;
	long v;
	int rc;

	if ((rc = scalar(w, n, key, &s)) != 0)
		return rc;
	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > MAX_DAYS)
		return fail_at(w, n, key,
			       "'%s' is not a number of days from 1 to %d", s,
			       MAX_DAYS);
	*out = (int)v;
	return 0;
}

/* cert / client_cert: a mapping of profile, ca, days, file; for a client
 * certificate also the scalar `none`; null counts as an empty mapping. */
static int parse_cert(struct walk *w, const yaml_node_t *n, const char *kp,
		      bool client, struct part_cert *pc)
{
	static const char *const keys[] = {"profile", "ca",   "days",
					   "root",    "file", NULL};
	char sub[KEYPATH_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	pc->given = true;
	if (n->type == YAML_SCALAR_NODE) {
		if (is_null(n))
			return 0;
		if (client && strcmp(text(n), "none") == 0) {
			pc->none = true;
			return 0;
		}
		return fail_at(w, n, kp,
			       "expected a mapping such as {profile: %s, ca: "
			       "unrestricted}%s",
			       client ? "client-only" : "combined",
			       client ? " or none" : "");
	}
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping such as {profile: "
			       "combined}, found a list");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	if ((v = get(w, n, "profile", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.profile", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pki_profile_parse(s, &pc->profile) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a profile; use combined, "
				       "server-only, client-only, no-eku or "
				       "any-eku",
				       s);
		pc->has_profile = true;
	}
	if ((v = get(w, n, "ca", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.ca", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pki_ca_parse(s, &pc->ca) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not an issuing CA; use "
				       "unrestricted, server-only or combined",
				       s);
		pc->has_ca = true;
	}
	if ((v = get(w, n, "days", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.days", kp);
		if ((rc = parse_days(w, v, sub, &pc->days)) != 0)
			return rc;
		pc->has_days = true;
	}
	if ((v = get(w, n, "root", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.root", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (topo_root_parse(s, &pc->root) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a root; use private (a "
				       "private PKI, renewed like for like) or "
				       "public (a public CA, renewed "
				       "server-only)",
				       s);
		pc->has_root = true;
	}
	if ((v = get(w, n, "file", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.file", kp);
		if ((rc = scalar(w, v, sub, &pc->file)) != 0)
			return rc;
	}
	return 0;
}

/* A placement word: a host name, a label key or value (what a swarm
 * constraint can carry unquoted). */
static bool place_word(const char *s, size_t max)
{
	size_t k, n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (k = 0; k < n; k++)
		if (!isalnum((unsigned char)s[k]) && s[k] != '.' &&
		    s[k] != '-' && s[k] != '_')
			return false;
	return true;
}

/* placement: {host: NAME, labels: {KEY: VALUE, ...}} */
static int parse_placement(struct walk *w, const yaml_node_t *n, const char *kp,
			   struct topo_placement *out)
{
	static const char *const keys[] = {"host", "labels", NULL};
	char sub[KEYPATH_LEN];
	const yaml_node_pair_t *p;
	yaml_node_t *v;
	const char *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping of host and labels, e.g. "
			       "{host: dmz1} or {labels: {zone: dmz}}");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	if ((v = get(w, n, "host", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%.200s.host", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (!place_word(s, TOPO_PLACE_HOST_MAX))
			return fail_at(w, v, sub,
				       "'%s' is not a host name; use the name "
				       "`docker node ls` shows (letters, "
				       "digits, '.', '-', '_')",
				       s);
		snprintf(out->host, sizeof(out->host), "%s", s);
	}
	if ((v = get(w, n, "labels", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%.200s.labels", kp);
		if (v->type != YAML_MAPPING_NODE)
			return fail_at(w, v, sub,
				       "expected a mapping of node labels, "
				       "e.g. {zone: dmz}");
		for (p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node_at(w, p->key);
			yaml_node_t *val = node_at(w, p->value);
			const char *ks, *vs;
			char lsub[KEYPATH_LEN];

			if ((rc = scalar(w, k, sub, &ks)) != 0)
				return rc;
			snprintf(lsub, sizeof(lsub), "%.*s.%.63s",
				 (int)(sizeof(lsub) - 70), sub, ks);
			if (!place_word(ks, TOPO_PLACE_TEXT_MAX))
				return fail_at(w, k, lsub,
					       "'%s' is not a label key; use "
					       "1-63 of letters, digits, '.', "
					       "'-', '_'",
					       ks);
			if ((rc = scalar(w, val, lsub, &vs)) != 0)
				return rc;
			if (!place_word(vs, TOPO_PLACE_TEXT_MAX))
				return fail_at(w, val, lsub,
					       "'%s' is not a label value; use "
					       "1-63 of letters, digits, '.', "
					       "'-', '_'",
					       vs);
			if (out->n_labels == TOPO_PLACE_LABELS)
				return fail_at(w, k, lsub, "at most %d labels",
					       TOPO_PLACE_LABELS);
			for (size_t q = 0; q < out->n_labels; q++)
				if (strcmp(out->label_key[q], ks) == 0)
					return fail_at(w, k, lsub,
						       "label '%s' is given "
						       "twice",
						       ks);
			snprintf(out->label_key[out->n_labels],
				 sizeof(out->label_key[0]), "%s", ks);
			snprintf(out->label_value[out->n_labels],
				 sizeof(out->label_value[0]), "%s", vs);
			out->n_labels++;
		}
	}
	if (out->host[0] == '\0' && out->n_labels == 0)
		return fail_at(w, n, kp,
			       "gives neither host nor labels; give one or "
			       "drop the key");
	return 0;
}

/* The keys a node (or `defaults`) may set. */
static const char *const node_keys[] = {"version",
					"role",
					"cert",
					"client_cert",
					"client_eku_check",
					"server_eku_upload",
					"log_level",
					"placement",
					NULL};

/* The node keys of mapping n (whose allowed keys are `keys`, node_keys for
 * a node) into *pn. */
static int parse_node_keys(struct walk *w, const yaml_node_t *n, const char *kp,
			   const char *const *keys, struct part_node *pn)
{
	char sub[KEYPATH_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	memset(pn, 0, sizeof(*pn));
	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, kp,
			       "expected a mapping of node settings (use {} "
			       "for none)");
	if ((rc = check_keys(w, n, kp, keys)) != 0)
		return rc;
	if ((v = get(w, n, "version", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.version", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strlen(s) > TOPO_VERSION_MAX ||
		    pol_version_parse(s, &pn->vclass) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a known version; use "
				       "X14.x, X15.0-X15.3.x, X15.4 or X15.5 "
				       "(e.g. X15.3.2)",
				       s);
		pn->version = s;
	}
	if ((v = get(w, n, "role", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.role", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (topo_role_parse(s, &pn->role) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a role; use c "
				       "(Expressway-C) or e (Expressway-E)",
				       s);
		pn->has_role = true;
	}
	if ((v = get(w, n, "cert", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.cert", kp);
		if ((rc = parse_cert(w, v, sub, false, &pn->cert)) != 0)
			return rc;
	}
	if ((v = get(w, n, "client_cert", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.client_cert", kp);
		if ((rc = parse_cert(w, v, sub, true, &pn->client)) != 0)
			return rc;
	}
	if ((v = get(w, n, "client_eku_check", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.client_eku_check", kp);
		if ((rc = parse_bool(w, v, sub, &pn->check)) != 0)
			return rc;
		pn->has_check = true;
	}
	if ((v = get(w, n, "server_eku_upload", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.server_eku_upload", kp);
		if ((rc = parse_bool(w, v, sub, &pn->seu)) != 0)
			return rc;
		pn->has_seu = true;
	}
	if ((v = get(w, n, "log_level", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.log_level", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (strcmp(s, "debug") != 0 && strcmp(s, "info") != 0 &&
		    strcmp(s, "warn") != 0 && strcmp(s, "error") != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a log level; use debug, "
				       "info, warn or error",
				       s);
		pn->log_level = s;
	}
	if ((v = get(w, n, "placement", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.placement", kp);
		if ((rc = parse_placement(w, v, sub, &pn->place)) != 0)
			return rc;
		pn->has_place = true;
	}
	return 0;
}

static int parse_node(struct walk *w, const yaml_node_t *n, const char *kp,
		      struct part_node *pn)
{
	return parse_node_keys(w, n, kp, node_keys, pn);
}

/* An owned copy of `file`, relative paths taken from the topology's
 * directory. */
static int resolve_file(struct walk *w, const char *file, char **out)
{
	size_t n;

	if (file[0] == '/' || w->dir[0] == '\0') {
		*out = ekl_strdup(file);
	} else {
		n = strlen(w->dir) + strlen(file) + 2;
		*out = ekl_malloc(n);
		if (*out != NULL)
			snprintf(*out, n, "%s%s%s", w->dir,
				 strcmp(w->dir, "/") == 0 ? "" : "/", file);
	}
	if (*out == NULL)
		return ekl_errf(w->err, EKL_ENOMEM, "%s: out of memory",
				w->path);
	return 0;
}

/* Node value over defaults value over built-in default, per key. */
static int merge_cert(struct walk *w, const struct part_cert *node,
		      const struct part_cert *def, enum pki_profile profile,
		      struct topo_cert *out)
{
	const char *file;

	out->profile = node->has_profile  ? node->profile
		       : def->has_profile ? def->profile
					  : profile;
	out->ca = node->has_ca	? node->ca
		  : def->has_ca ? def->ca
				: PKI_CA_UNRESTRICTED;
	out->days = node->has_days ? node->days : def->has_days ? def->days : 0;
	out->root = node->has_root  ? node->root
		    : def->has_root ? def->root
				    : TOPO_ROOT_PRIVATE;
	file = node->file != NULL ? node->file : def->file;
	out->file = NULL;
	if (file != NULL)
		return resolve_file(w, file, &out->file);
	return 0;
}

static int merge_node(struct walk *w, const yaml_node_t *key, const char *nkp,
		      const struct part_node *pn, const struct part_node *def,
		      struct topo_node *out)
{
	static const struct part_cert no_cert;
	const char *version = pn->version != NULL ? pn->version : def->version;
	int rc;

	snprintf(out->name, sizeof(out->name), "%s", text(key));
	out->line = (int)key->start_mark.line + 1;
	if (version == NULL)
		return fail_at(w, key, nkp,
			       "node '%s' has no version; set "
			       "%s.%s.version or defaults.version",
			       out->name, nkp, out->name);
	snprintf(out->version, sizeof(out->version), "%s", version);
	out->vclass = pn->version != NULL ? pn->vclass : def->vclass;
	out->role = pn->has_role    ? pn->role
		    : def->has_role ? def->role
				    : TOPO_ROLE_C;
	out->client_eku_check = pn->has_check	 ? pn->check
				: def->has_check ? def->check
						 : true;
	out->server_eku_upload = pn->has_seu	? pn->seu
				 : def->has_seu ? def->seu
						: false;
	snprintf(out->log_level, sizeof(out->log_level), "%s",
		 pn->log_level != NULL	  ? pn->log_level
		 : def->log_level != NULL ? def->log_level
					  : "");
	/* A node's placement replaces the default's as a whole. */
	if (pn->has_place)
		out->placement = pn->place;
	else if (def->has_place)
		out->placement = def->place;
	if ((rc = merge_cert(w, &pn->cert, &def->cert, PKI_PROFILE_COMBINED,
			     &out->cert)) != 0)
		return rc;
	/* A node's own client_cert (even `none`) replaces the default's
	 * presence; its keys still merge over the default's. */
	if (pn->client.given)
		out->has_client_cert = !pn->client.none;
	else
		out->has_client_cert = def->client.given && !def->client.none;
	if (out->has_client_cert)
		return merge_cert(w, &pn->client,
				  def->client.none ? &no_cert : &def->client,
				  PKI_PROFILE_CLIENT_ONLY, &out->client_cert);
	return 0;
}

/* The cluster name by default: the file's stem. */
static void default_name(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	char *dot;

	base = base != NULL ? base + 1 : path;
	snprintf(out, len, "%s", base);
	dot = strrchr(out, '.');
	if (dot != NULL &&
	    (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
		*dot = '\0';
}

static int parse_cluster(struct walk *w, const yaml_node_t *root,
			 struct topo *t, const yaml_node_t **primary)
{
	static const char *const keys[] = {"verify", "primary", "dial", "link",
					   NULL};
	yaml_node_t *c = get(w, root, "cluster", NULL);
	yaml_node_t *v;
	const char *s;
	int rc;

	*primary = NULL;
	if (c == NULL || is_null(c))
		return 0;
	if (c->type != YAML_MAPPING_NODE)
		return fail_at(w, c, "cluster",
			       "expected a mapping of verify, primary, dial, "
			       "link");
	if ((rc = check_keys(w, c, "cluster", keys)) != 0)
		return rc;
	if ((v = get(w, c, "verify", NULL)) != NULL) {
		if ((rc = scalar(w, v, "cluster.verify", &s)) != 0)
			return rc;
		if (pol_mode_parse(s, &t->verify) != 0)
			return fail_at(w, v, "cluster.verify",
				       "'%s' is not a verify mode; use enforce "
				       "or permissive",
				       s);
	}
	if ((v = get(w, c, "dial", NULL)) != NULL) {
		if ((rc = scalar(w, v, "cluster.dial", &s)) != 0)
			return rc;
		if (topo_dial_parse(s, &t->dial) != 0)
			return fail_at(w, v, "cluster.dial",
				       "'%s' is not a dial mode; use both, "
				       "lower-name or primary",
				       s);
	}
	if ((v = get(w, c, "link", NULL)) != NULL) {
		if ((rc = scalar(w, v, "cluster.link", &s)) != 0)
			return rc;
		if (topo_link_parse(s, &t->link) != 0)
			return fail_at(w, v, "cluster.link",
				       "'%s' is not a link rule; use both "
				       "(every dialled direction must work) or "
				       "either (one working direction is "
				       "enough)",
				       s);
	}
	if ((v = get(w, c, "primary", NULL)) != NULL) {
		if ((rc = scalar(w, v, "cluster.primary", &s)) != 0)
			return rc;
		*primary = v;
	}
	return 0;
}

/* defaults: any node key, and verify (every cluster's verify mode unless
 * the cluster sets its own). */
static int parse_defaults(struct walk *w, const yaml_node_t *n,
			  struct part_node *def)
{
	static const char *const keys[] = {"version",
					   "role",
					   "cert",
					   "client_cert",
					   "client_eku_check",
					   "server_eku_upload",
					   "log_level",
					   "placement",
					   "verify",
					   NULL};
	yaml_node_t *v;
	const char *s;
	int rc;

	memset(def, 0, sizeof(*def));
	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(w, n, "defaults",
			       "expected a mapping of node settings");
	if ((rc = parse_node_keys(w, n, "defaults", keys, def)) != 0)
		return rc;
	if ((v = get(w, n, "verify", NULL)) != NULL) {
		if ((rc = scalar(w, v, "defaults.verify", &s)) != 0)
			return rc;
		if (pol_mode_parse(s, &w->verify) != 0)
			return fail_at(w, v, "defaults.verify",
				       "'%s' is not a verify mode; use enforce "
				       "or permissive",
				       s);
		w->has_verify = true;
	}
	return 0;
}

/* Is `name` taken by a node, a cluster or an external already loaded?
 * Names compare case-insensitively (they name files and certificates). */
static int name_taken(struct walk *w, const yaml_node_t *k, const char *kp,
		      const struct topo *t)
{
	const char *name = text(k);
	size_t i;

	for (i = 0; i < t->n_nodes; i++) {
		if (strcmp(t->nodes[i].name, name) == 0)
			return fail_at(w, k, kp,
				       "duplicate node (first at line %d): "
				       "every node, cluster and external "
				       "needs its own name",
				       t->nodes[i].line);
		if (strcasecmp(t->nodes[i].name, name) == 0)
			return fail_at(w, k, kp,
				       "'%s' differs from '%s' (line %d) only "
				       "in case; names compare "
				       "case-insensitively, as certificate "
				       "names and ekunode do",
				       name, t->nodes[i].name,
				       t->nodes[i].line);
	}
	for (i = 0; i < t->n_clusters; i++)
		if (t->multi && strcasecmp(t->clusters[i].name, name) == 0)
			return fail_at(
			    w, k, kp,
			    "'%s' is already the name of a cluster "
			    "(line %d); every node, cluster and external "
			    "needs its own name",
			    name, t->clusters[i].line);
	for (i = 0; i < t->n_externals; i++)
		if (strcasecmp(t->externals[i].name, name) == 0)
			return fail_at(
			    w, k, kp,
			    "'%s' is already the name of an external "
			    "(line %d); every node, cluster and external "
			    "needs its own name",
			    name, t->externals[i].line);
	return 0;
}

static int check_name(struct walk *w, const yaml_node_t *k, const char *kp,
		      const char *what)
{
	if (k == NULL || k->type != YAML_SCALAR_NODE)
		return ekl_errf(w->err, EKL_ECONFIG,
				"%s: key '%s': %s names must be plain names",
				w->path, kp, what);
	if (!topo_name_valid(text(k)))
		return fail_at(w, k, kp,
			       "'%s' is not a valid %s name; use 1-%d of A-Z "
			       "a-z 0-9 . _ - (it names files)",
			       text(k), what, TOPO_NAME_MAX);
	return 0;
}

/* The nodes of one `nodes:` mapping (key path `nkp`), appended to
 * t->nodes (allocated for TOPO_MAX_NODES) in cluster `cluster`. */
static int parse_node_map(struct walk *w, const yaml_node_t *holder,
			  yaml_node_t *nodes, const char *nkp,
			  const struct part_node *def, size_t cluster,
			  struct topo *t)
{
	const yaml_node_pair_t *p;
	struct part_node pn;
	char kp[KEYPATH_LEN];
	size_t count;
	int rc;

	if (nodes == NULL)
		return fail_at(w, holder, nkp,
			       "missing; list at least one node under "
			       "nodes:");
	if (nodes->type != YAML_MAPPING_NODE)
		return fail_at(w, nodes, nkp,
			       "expected a mapping of node name to settings");
	count = (size_t)(nodes->data.mapping.pairs.top -
			 nodes->data.mapping.pairs.start);
	if (count == 0)
		return fail_at(w, nodes, nkp,
			       "no node; list at least one node");
	if (t->n_nodes + count > TOPO_MAX_NODES)
		return fail_at(w, nodes, nkp,
			       "%zu nodes in all; at most %d are supported",
			       t->n_nodes + count, TOPO_MAX_NODES);
	for (p = nodes->data.mapping.pairs.start;
	     p < nodes->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key);
		yaml_node_t *v = node_at(w, p->value);
		struct topo_node *tn;

		if (k == NULL || k->type != YAML_SCALAR_NODE)
			return fail_at(w, k != NULL ? k : nodes, nkp,
				       "node names must be plain names");
		snprintf(kp, sizeof(kp), "%s.%s", nkp, text(k));
		if ((rc = check_name(w, k, kp, "node")) != 0)
			return rc;
		if ((rc = name_taken(w, k, kp, t)) != 0)
			return rc;
		if ((rc = parse_node(w, v, kp, &pn)) != 0)
			return rc;
		tn = &t->nodes[t->n_nodes];
		rc = merge_node(w, k, nkp, &pn, def, tn);
		t->n_nodes++; /* counted even on error: topo_free frees it */
		if (rc != 0)
			return rc;
		tn->cluster = cluster;
	}
	return 0;
}

static int alloc_nodes(struct walk *w, struct topo *t)
{
	t->nodes = ekl_calloc(TOPO_MAX_NODES, sizeof(*t->nodes));
	if (t->nodes == NULL)
		return ekl_errf(w->err, EKL_ENOMEM, "%s: out of memory",
				w->path);
	return 0;
}

static int parse_nodes(struct walk *w, yaml_node_t *root, struct topo *t)
{
	yaml_node_t *defs = get(w, root, "defaults", NULL);
	struct part_node def;
	int rc;

	memset(&def, 0, sizeof(def));
	if (defs != NULL && (rc = parse_defaults(w, defs, &def)) != 0)
		return rc;
	if ((rc = alloc_nodes(w, t)) != 0)
		return rc;
	return parse_node_map(w, root, get(w, root, "nodes", NULL), "nodes",
			      &def, 0, t);
}

/* Per key: hi over lo. */
static void part_cert_over(const struct part_cert *hi,
			   const struct part_cert *lo, struct part_cert *out)
{
	*out = *lo;
	if (!hi->given)
		return;
	out->given = true;
	out->none = hi->none;
	if (hi->has_profile) {
		out->has_profile = true;
		out->profile = hi->profile;
	}
	if (hi->has_ca) {
		out->has_ca = true;
		out->ca = hi->ca;
	}
	if (hi->has_days) {
		out->has_days = true;
		out->days = hi->days;
	}
	if (hi->has_root) {
		out->has_root = true;
		out->root = hi->root;
	}
	if (hi->file != NULL)
		out->file = hi->file;
}

static void part_over(const struct part_node *hi, const struct part_node *lo,
		      struct part_node *out)
{
	*out = *lo;
	if (hi->version != NULL) {
		out->version = hi->version;
		out->vclass = hi->vclass;
	}
	if (hi->has_role) {
		out->has_role = true;
		out->role = hi->role;
	}
	part_cert_over(&hi->cert, &lo->cert, &out->cert);
	part_cert_over(&hi->client, &lo->client, &out->client);
	if (hi->has_check) {
		out->has_check = true;
		out->check = hi->check;
	}
	if (hi->has_seu) {
		out->has_seu = true;
		out->seu = hi->seu;
	}
	if (hi->log_level != NULL)
		out->log_level = hi->log_level;
	if (hi->has_place) {
		out->has_place = true;
		out->place = hi->place;
	}
}

/* verify, dial, link of a cluster mapping (key path kp) into c. */
static int parse_cluster_modes(struct walk *w, const yaml_node_t *m,
			       const char *kp, struct topo_cluster *c)
{
	char sub[KEYPATH_LEN];
	yaml_node_t *v;
	const char *s;
	int rc;

	if ((v = get(w, m, "verify", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.verify", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pol_mode_parse(s, &c->verify) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a verify mode; use enforce "
				       "or permissive",
				       s);
	}
	if ((v = get(w, m, "dial", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.dial", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (topo_dial_parse(s, &c->dial) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a dial mode; use both, "
				       "lower-name or primary",
				       s);
	}
	if ((v = get(w, m, "link", NULL)) != NULL) {
		snprintf(sub, sizeof(sub), "%s.link", kp);
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (topo_link_parse(s, &c->link) != 0)
			return fail_at(w, v, sub,
				       "'%s' is not a link rule; use both "
				       "(every dialled direction must work) or "
				       "either (one working direction is "
				       "enough)",
				       s);
	}
	return 0;
}

/* The primary of cluster c: `v` names one of its nodes, or NULL for the
 * first. */
static int set_primary(struct walk *w, const yaml_node_t *v, const char *kp,
		       struct topo *t, struct topo_cluster *c)
{
	size_t i;

	c->primary = c->first;
	if (v == NULL)
		return 0;
	for (i = c->first; i < c->first + c->count; i++) {
		if (strcmp(t->nodes[i].name, text(v)) == 0) {
			c->primary = i;
			return 0;
		}
	}
	return fail_at(w, v, kp, "'%s' is not one of the nodes of %s", text(v),
		       c->name);
}

/* clusters: {NAME: {role, primary, verify, dial, link, nodes, and any node
 * key as the cluster's defaults}}. */
static int parse_clusters(struct walk *w, yaml_node_t *root,
			  yaml_node_t *clusters, struct topo *t)
{
	static const char *const keys[] = {"role",
					   "primary",
					   "verify",
					   "dial",
					   "link",
					   "nodes",
					   "version",
					   "cert",
					   "client_cert",
					   "client_eku_check",
					   "server_eku_upload",
					   "log_level",
					   "placement",
					   NULL};
	yaml_node_t *defs = get(w, root, "defaults", NULL);
	const yaml_node_pair_t *p;
	struct part_node def, cdef, merged;
	char kp[KEYPATH_LEN - 96], sub[KEYPATH_LEN];
	size_t i;
	int rc;

	memset(&def, 0, sizeof(def));
	if (defs != NULL && (rc = parse_defaults(w, defs, &def)) != 0)
		return rc;
	if (clusters->type != YAML_MAPPING_NODE)
		return fail_at(w, clusters, "clusters",
			       "expected a mapping of cluster name to {role, "
			       "primary, nodes}");
	if (clusters->data.mapping.pairs.top ==
	    clusters->data.mapping.pairs.start)
		return fail_at(w, clusters, "clusters",
			       "no cluster; list at least one");
	if (clusters->data.mapping.pairs.top -
		clusters->data.mapping.pairs.start >
	    TOPO_MAX_CLUSTERS)
		return fail_at(w, clusters, "clusters",
			       "at most %d clusters are supported",
			       TOPO_MAX_CLUSTERS);
	if ((rc = alloc_nodes(w, t)) != 0)
		return rc;
	t->multi = true;
	for (p = clusters->data.mapping.pairs.start;
	     p < clusters->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key);
		yaml_node_t *v = node_at(w, p->value);
		struct topo_cluster *c = &t->clusters[t->n_clusters];
		yaml_node_t *role;

		snprintf(kp, sizeof(kp), "clusters.%s",
			 k != NULL && k->type == YAML_SCALAR_NODE ? text(k)
								  : "?");
		if ((rc = check_name(w, k, kp, "cluster")) != 0)
			return rc;
		for (i = 0; i < t->n_clusters; i++)
			if (strcasecmp(t->clusters[i].name, text(k)) == 0)
				return fail_at(w, k, kp,
					       "'%s' is already a cluster "
					       "(line %d); names compare "
					       "case-insensitively",
					       text(k), t->clusters[i].line);
		if ((rc = name_taken(w, k, kp, t)) != 0)
			return rc;
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", text(k));
		c->line = (int)k->start_mark.line + 1;
		if (v->type != YAML_MAPPING_NODE)
			return fail_at(w, v, kp,
				       "expected a mapping such as {role: c, "
				       "primary: c1, nodes: {c1: {}, c2: {}}}");
		if ((rc = check_keys(w, v, kp, keys)) != 0)
			return rc;
		role = get(w, v, "role", NULL);
		snprintf(sub, sizeof(sub), "%s.role", kp);
		if (role == NULL)
			return fail_at(
			    w, v, sub,
			    "missing; say role: c (Expressway-C, the "
			    "traversal client) or role: e "
			    "(Expressway-E, the traversal server)");
		if ((rc = parse_node_keys(w, v, kp, keys, &cdef)) != 0)
			return rc;
		c->role = cdef.role;
		c->verify = w->has_verify ? w->verify : POL_ENFORCE;
		if ((rc = parse_cluster_modes(w, v, kp, c)) != 0)
			return rc;
		cdef.has_role = true;
		part_over(&cdef, &def, &merged);
		c->first = t->n_nodes;
		t->n_clusters++;
		snprintf(sub, sizeof(sub), "%s.nodes", kp);
		rc = parse_node_map(w, v, get(w, v, "nodes", NULL), sub,
				    &merged, t->n_clusters - 1, t);
		if (rc != 0)
			return rc;
		c->count = t->n_nodes - c->first;
		for (i = c->first; i < t->n_nodes; i++) {
			const struct topo_node *tn = &t->nodes[i];

			if (tn->role != c->role) {
				snprintf(sub, sizeof(sub), "%s.nodes.%s.role",
					 kp, tn->name);
				return fail_at(
				    w, v, sub,
				    "node %s is in cluster %s, whose role is "
				    "%s; a cluster's nodes share its role "
				    "(remove role: from the node)",
				    tn->name, c->name, topo_role_name(c->role));
			}
		}
		snprintf(sub, sizeof(sub), "%s.primary", kp);
		{
			yaml_node_t *pv = get(w, v, "primary", NULL);
			const char *ps;

			if (pv != NULL && (rc = scalar(w, pv, sub, &ps)) != 0)
				return rc;
			if ((rc = set_primary(w, pv, sub, t, c)) != 0)
				return rc;
		}
	}
	return 0;
}

/* externals: {NAME: {kind, checks_client_eku, verify, cert, client_cert}}. */
static int parse_externals(struct walk *w, yaml_node_t *ext, struct topo *t)
{
	static const char *const keys[] = {
	    "kind", "checks_client_eku", "verify", "cert", "client_cert", NULL};
	static const struct part_cert no_cert;
	const yaml_node_pair_t *p;
	char kp[KEYPATH_LEN - 96], sub[KEYPATH_LEN];
	struct part_cert pc, pcc;
	yaml_node_t *v;
	const char *s;
	int rc;

	if (ext->type != YAML_MAPPING_NODE)
		return fail_at(w, ext, "externals",
			       "expected a mapping of name to {kind: cucm, "
			       "checks_client_eku: true}");
	for (p = ext->data.mapping.pairs.start; p < ext->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(w, p->key);
		yaml_node_t *m = node_at(w, p->value);
		struct topo_external *x;

		snprintf(kp, sizeof(kp), "externals.%s",
			 k != NULL && k->type == YAML_SCALAR_NODE ? text(k)
								  : "?");
		if ((rc = check_name(w, k, kp, "external")) != 0)
			return rc;
		if ((rc = name_taken(w, k, kp, t)) != 0)
			return rc;
		if (t->n_externals >= TOPO_MAX_EXTERNALS ||
		    t->n_nodes + t->n_externals >= TOPO_MAX_NODES)
			return fail_at(w, k, kp,
				       "too many externals: at most %d, and at "
				       "most %d nodes and externals in all",
				       TOPO_MAX_EXTERNALS, TOPO_MAX_NODES);
		if (m->type != YAML_MAPPING_NODE)
			return fail_at(w, m, kp,
				       "expected a mapping such as {kind: "
				       "cucm, checks_client_eku: true}");
		if ((rc = check_keys(w, m, kp, keys)) != 0)
			return rc;
		x = &t->externals[t->n_externals];
		memset(x, 0, sizeof(*x));
		snprintf(x->name, sizeof(x->name), "%s", text(k));
		x->line = (int)k->start_mark.line + 1;
		x->verify = POL_ENFORCE;
		x->checks_client_eku = true;
		snprintf(sub, sizeof(sub), "%s.kind", kp);
		if ((v = get(w, m, "kind", NULL)) == NULL)
			return fail_at(w, m, sub,
				       "missing; say what the peer is: cucm, "
				       "unity, cube, cms, b2b-peer, "
				       "federation-peer or cloud");
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pol_kind_parse(s, &x->kind) != 0 ||
		    !pol_kind_external(x->kind))
			return fail_at(
			    w, v, sub,
			    "'%s' is not an external kind; use cucm, "
			    "unity, cube, cms, b2b-peer, "
			    "federation-peer or cloud (an "
			    "Expressway is a node of a cluster)",
			    s);
		if ((v = get(w, m, "checks_client_eku", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.checks_client_eku", kp);
			if ((rc = parse_bool(w, v, sub,
					     &x->checks_client_eku)) != 0)
				return rc;
		}
		if ((v = get(w, m, "verify", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.verify", kp);
			if ((rc = scalar(w, v, sub, &s)) != 0)
				return rc;
			if (pol_mode_parse(s, &x->verify) != 0)
				return fail_at(w, v, sub,
					       "'%s' is not a verify mode; use "
					       "enforce (it verifies its peer) "
					       "or permissive",
					       s);
		}
		memset(&pc, 0, sizeof(pc));
		memset(&pcc, 0, sizeof(pcc));
		if ((v = get(w, m, "cert", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.cert", kp);
			if ((rc = parse_cert(w, v, sub, false, &pc)) != 0)
				return rc;
		}
		if ((v = get(w, m, "client_cert", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.client_cert", kp);
			if ((rc = parse_cert(w, v, sub, true, &pcc)) != 0)
				return rc;
		}
		t->n_externals++; /* counted now: topo_free frees its files */
		if ((rc = merge_cert(w, &pc, &no_cert, PKI_PROFILE_COMBINED,
				     &x->cert)) != 0)
			return rc;
		x->has_client_cert = pcc.given && !pcc.none;
		if (x->has_client_cert &&
		    (rc = merge_cert(w, &pcc, &no_cert, PKI_PROFILE_CLIENT_ONLY,
				     &x->client_cert)) != 0)
			return rc;
	}
	return 0;
}

/* A zone end: a cluster or an external, by name. */
static int zone_end(struct walk *w, const yaml_node_t *v, const char *kp,
		    const struct topo *t, struct topo_zone_end *out)
{
	const char *s;
	size_t i;
	int rc;

	if ((rc = scalar(w, v, kp, &s)) != 0)
		return rc;
	for (i = 0; i < t->n_clusters; i++) {
		if (strcmp(t->clusters[i].name, s) == 0) {
			out->external = false;
			out->index = i;
			return 0;
		}
	}
	for (i = 0; i < t->n_externals; i++) {
		if (strcmp(t->externals[i].name, s) == 0) {
			out->external = true;
			out->index = i;
			return 0;
		}
	}
	if (topo_find(t, s) != NULL)
		return fail_at(w, v, kp,
			       "'%s' is a node; a zone joins clusters and "
			       "externals (name its cluster)",
			       s);
	return fail_at(
	    w, v, kp,
	    "'%s' is not a cluster or an external of the "
	    "topology%s",
	    s, t->multi ? "" : " (the single cluster is named by name:)");
}

/* Connections a zone makes, at most: every pair across it, both ways,
 * twice for a traversal zone with MRA. */
static size_t zone_size(const struct topo *t, const struct topo_zone *z)
{
	size_t a = z->a.external ? 1 : t->clusters[z->a.index].count;
	size_t b = z->b.external ? 1 : t->clusters[z->b.index].count;

	return a * b * 2 * (z->mra ? 2 : 1);
}

static int check_zone(struct walk *w, const yaml_node_t *m, const char *kp,
		      const struct topo *t, const struct topo_zone *z)
{
	const struct topo_zone_end *e[2] = {&z->a, &z->b};
	const char *svc = pol_service_name(z->type);
	size_t i;

	if (z->type == POL_SVC_TRAVERSAL) {
		if (z->a.external ||
		    t->clusters[z->a.index].role != TOPO_ROLE_C)
			return fail_at(w, m, kp,
				       "the client of a traversal zone is an "
				       "Expressway-C cluster (role c); %s is "
				       "%s",
				       topo_zone_end_name(t, &z->a),
				       z->a.external ? "an external"
						     : "role e");
		if (z->b.external ||
		    t->clusters[z->b.index].role != TOPO_ROLE_E)
			return fail_at(w, m, kp,
				       "the server of a traversal zone is an "
				       "Expressway-E cluster (role e); %s is "
				       "%s",
				       topo_zone_end_name(t, &z->b),
				       z->b.external ? "an external"
						     : "role c");
		return 0;
	}
	if (z->a.external && z->b.external)
		return fail_at(w, m, kp,
			       "both ends are externals; a zone has an "
			       "Expressway cluster at one end at least");
	if (!z->a.external && !z->b.external && z->a.index == z->b.index)
		return fail_at(w, m, kp,
			       "joins cluster %s to itself; its own nodes "
			       "talk ClusterDB",
			       topo_zone_end_name(t, &z->a));
	if (z->type == POL_SVC_CLOUD && (z->a.external || !z->b.external))
		return fail_at(w, m, kp,
			       "a cloud zone goes from an Expressway cluster "
			       "(from:) to a cloud peer (to:); the Expressway "
			       "initiates");
	for (i = 0; i < 2; i++) {
		const struct topo_external *x;

		if (!e[i]->external)
			continue;
		x = &t->externals[e[i]->index];
		if (!pol_kind_serves(x->kind, z->type))
			return fail_at(
			    w, m, kp,
			    "%s is a %s peer, which takes no part in %s "
			    "zones (neighbour: cucm, unity, cube, cms; b2b: "
			    "b2b-peer; federation: federation-peer; cloud: "
			    "cloud)",
			    x->name, pol_kind_name(x->kind), svc);
	}
	return 0;
}

/* zones: a list of {type, client, server, mra} (traversal) or {type,
 * from, to, tls_verify}. */
static int parse_zones(struct walk *w, yaml_node_t *zones, struct topo *t)
{
	static const char *const tkeys[] = {"type", "client", "server", "mra",
					    NULL};
	static const char *const nkeys[] = {"type", "from", "to", "tls_verify",
					    NULL};
	static const char *const ckeys[] = {"type", "from", "to", NULL};
	const yaml_node_item_t *it;
	char kp[KEYPATH_LEN - 96], sub[KEYPATH_LEN];
	size_t total = 0;
	int idx = 0;
	int rc;

	if (zones->type != YAML_SEQUENCE_NODE)
		return fail_at(w, zones, "zones",
			       "expected a list such as [{type: traversal, "
			       "client: core, server: edge}]");
	for (it = zones->data.sequence.items.start;
	     it < zones->data.sequence.items.top; it++, idx++) {
		yaml_node_t *m = node_at(w, *it);
		struct topo_zone *z;
		yaml_node_t *v;
		const char *s;
		const char *ka, *kb;

		snprintf(kp, sizeof(kp), "zones[%d]", idx + 1);
		if (t->n_zones >= TOPO_MAX_ZONES)
			return fail_at(w, m, kp, "at most %d zones",
				       TOPO_MAX_ZONES);
		if (m->type != YAML_MAPPING_NODE)
			return fail_at(w, m, kp,
				       "expected a mapping such as {type: "
				       "neighbour, from: core, to: cucm}");
		z = &t->zones[t->n_zones];
		memset(z, 0, sizeof(*z));
		z->line = (int)m->start_mark.line + 1;
		z->tls_verify = true;
		snprintf(sub, sizeof(sub), "%s.type", kp);
		if ((v = get(w, m, "type", NULL)) == NULL)
			return fail_at(
			    w, m, sub,
			    "missing; use traversal, neighbour, b2b, "
			    "federation or cloud");
		if ((rc = scalar(w, v, sub, &s)) != 0)
			return rc;
		if (pol_service_parse(s, &z->type) != 0 ||
		    z->type == POL_SVC_CLUSTERDB || z->type == POL_SVC_MRA)
			return fail_at(
			    w, v, sub,
			    "'%s' is not a zone type; use traversal, "
			    "neighbour, b2b, federation or cloud%s",
			    s,
			    strcmp(s, "mra") == 0
				? " (MRA runs over a traversal "
				  "zone: mra: true)"
				: "");
		if (z->type == POL_SVC_TRAVERSAL) {
			rc = check_keys(w, m, kp, tkeys);
			ka = "client";
			kb = "server";
		} else {
			rc = check_keys(
			    w, m, kp, z->type == POL_SVC_CLOUD ? ckeys : nkeys);
			ka = "from";
			kb = "to";
		}
		if (rc != 0)
			return rc;
		snprintf(sub, sizeof(sub), "%s.%s", kp, ka);
		if ((v = get(w, m, ka, NULL)) == NULL)
			return fail_at(w, m, sub, "missing; name a cluster%s",
				       z->type == POL_SVC_TRAVERSAL
					   ? " of role c"
					   : " or an external");
		if ((rc = zone_end(w, v, sub, t, &z->a)) != 0)
			return rc;
		snprintf(sub, sizeof(sub), "%s.%s", kp, kb);
		if ((v = get(w, m, kb, NULL)) == NULL)
			return fail_at(w, m, sub, "missing; name a cluster%s",
				       z->type == POL_SVC_TRAVERSAL
					   ? " of role e"
					   : " or an external");
		if ((rc = zone_end(w, v, sub, t, &z->b)) != 0)
			return rc;
		if ((v = get(w, m, "mra", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.mra", kp);
			if ((rc = parse_bool(w, v, sub, &z->mra)) != 0)
				return rc;
		}
		if ((v = get(w, m, "tls_verify", NULL)) != NULL) {
			snprintf(sub, sizeof(sub), "%s.tls_verify", kp);
			if ((rc = parse_bool(w, v, sub, &z->tls_verify)) != 0)
				return rc;
		}
		if ((rc = check_zone(w, m, kp, t, z)) != 0)
			return rc;
		total += zone_size(t, z);
		if (total > TOPO_MAX_ZONE_CONNS)
			return fail_at(w, m, kp,
				       "the zones make more than %d "
				       "connections; use fewer or smaller "
				       "clusters",
				       TOPO_MAX_ZONE_CONNS);
		t->n_zones++;
	}
	return 0;
}

/* The single-cluster form's one cluster. */
static void single_cluster(struct topo *t)
{
	struct topo_cluster *c = &t->clusters[0];
	size_t i;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", t->name);
	c->role = t->nodes[0].role;
	c->verify = t->verify;
	c->dial = t->dial;
	c->link = t->link;
	c->first = 0;
	c->count = t->n_nodes;
	for (i = 0; i < t->n_nodes; i++)
		if (strcmp(t->nodes[i].name, t->primary) == 0)
			c->primary = i;
	t->n_clusters = 1;
}

static int walk_root(struct walk *w, struct topo *t)
{
	static const char *const keys[] = {"name",  "cluster",	"defaults",
					   "nodes", "clusters", "externals",
					   "zones", NULL};
	yaml_node_t *root = w->root;
	const yaml_node_t *primary = NULL;
	yaml_node_t *v, *clusters, *kn;
	const char *s;
	int rc;

	if (root == NULL || is_null(root))
		return ekl_errf(w->err, EKL_ECONFIG,
				"%s: the topology is empty; it needs at least "
				"a nodes: mapping",
				w->path);
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(w, root, "(top)",
			       "expected a mapping with name, cluster, "
			       "defaults and nodes (or clusters)");
	if ((rc = check_keys(w, root, "", keys)) != 0)
		return rc;
	t->verify = POL_ENFORCE;
	t->dial = TOPO_DIAL_BOTH;
	t->link = TOPO_LINK_BOTH;
	if ((v = get(w, root, "name", NULL)) != NULL) {
		if ((rc = scalar(w, v, "name", &s)) != 0)
			return rc;
		if (!topo_name_valid(s))
			return fail_at(w, v, "name",
				       "'%s' is not a valid cluster name; use "
				       "1-%d of A-Z a-z 0-9 . _ -",
				       s, TOPO_NAME_MAX);
		snprintf(t->name, sizeof(t->name), "%s", s);
	} else {
		default_name(w->path, t->name, sizeof(t->name));
		if (!topo_name_valid(t->name))
			return fail_at(w, root, "name",
				       "missing, and the file name '%s' is not "
				       "a valid cluster name; set name:",
				       t->name);
	}
	clusters = get(w, root, "clusters", &kn);
	if (clusters != NULL) {
		yaml_node_t *other = get(w, root, "cluster", NULL);
		const char *which = "cluster";

		if (other == NULL) {
			other = get(w, root, "nodes", NULL);
			which = "nodes";
		}
		if (other != NULL)
			return fail_at(w, kn, "clusters",
				       "use either cluster: and nodes: (one "
				       "cluster) or clusters: (one or more), "
				       "not both (remove %s:)",
				       which);
		if ((rc = parse_clusters(w, root, clusters, t)) != 0)
			return rc;
		t->verify = t->clusters[0].verify;
		t->dial = t->clusters[0].dial;
		t->link = t->clusters[0].link;
		snprintf(t->primary, sizeof(t->primary), "%s",
			 t->nodes[t->clusters[0].primary].name);
	} else {
		if ((rc = parse_cluster(w, root, t, &primary)) != 0)
			return rc;
		if ((rc = parse_nodes(w, root, t)) != 0)
			return rc;
		if (w->has_verify) {
			yaml_node_t *c = get(w, root, "cluster", NULL);

			if (c == NULL || c->type != YAML_MAPPING_NODE ||
			    get(w, c, "verify", NULL) == NULL)
				t->verify = w->verify;
		}
		if (primary != NULL) {
			if (topo_find(t, text(primary)) == NULL)
				return fail_at(w, primary, "cluster.primary",
					       "'%s' is not one of the nodes",
					       text(primary));
			snprintf(t->primary, sizeof(t->primary), "%s",
				 text(primary));
		} else {
			snprintf(t->primary, sizeof(t->primary), "%s",
				 t->nodes[0].name);
		}
		single_cluster(t);
	}
	if ((v = get(w, root, "externals", NULL)) != NULL && !is_null(v) &&
	    (rc = parse_externals(w, v, t)) != 0)
		return rc;
	if ((v = get(w, root, "zones", NULL)) != NULL && !is_null(v) &&
	    (rc = parse_zones(w, v, t)) != 0)
		return rc;
	return 0;
}

/* ---- loading ---- */

static void walk_init(struct walk *w, const char *path, const char *prefix,
		      yaml_document_t *doc, yaml_node_t *root, char *err)
{
	const char *slash = strrchr(path, '/');

	memset(w, 0, sizeof(*w));
	w->path = path;
	w->prefix = prefix != NULL ? prefix : "";
	w->err = err;
	w->doc = doc;
	w->root = root;
	if (slash != NULL)
		snprintf(w->dir, sizeof(w->dir), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
}

int topo_load_node(const char *path, const char *prefix,
		   struct yaml_document_s *doc, struct yaml_node_s *node,
		   struct topo *t, char *err)
{
	struct walk w;
	int rc;

	memset(t, 0, sizeof(*t));
	walk_init(&w, path, prefix, doc, node, err);
	rc = walk_root(&w, t);
	if (rc != 0)
		topo_free(t);
	return rc;
}

struct load_ctx {
	const char *path;
	struct topo *t;
	char *err;
};

static int walk_file(void *arg, yaml_document_t *doc)
{
	struct load_ctx *c = arg;

	return topo_load_node(c->path, "", doc,
			      yaml_document_get_root_node(doc), c->t, c->err);
}

int topo_load(const char *path, struct topo *t, char *err)
{
	struct load_ctx c = {path, t, err};
	int rc;

	memset(t, 0, sizeof(*t));
	rc = yamlfile_load(path, "topology", walk_file, &c, err);
	if (rc != 0)
		topo_free(t);
	return rc;
}
