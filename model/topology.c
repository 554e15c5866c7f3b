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
	const yaml_node_pair_t *p;
	const yaml_node_pair_t *q;
	char kp[KEYPATH_LEN];
	char list[200] = "";
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
				       prefix[0] ? prefix : "(top)",
				       "keys must be plain names");
		snprintf(kp, sizeof(kp), "%s%s%s", prefix, prefix[0] ? "." : "",
			 text(k));
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(text(k), allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return fail_at(
			    w, k, kp, "unknown key; expected one of: %s", list);
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node_at(w, q->key);

			if (strcmp(text(k2), text(k)) == 0)
				return fail_at(w, k, kp,
					       "duplicate key (first at line "
					       "%zu)",
					       k2->start_mark.line + 1);
		}
	}
	return 0;
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

/* The keys a node (or `defaults`) may set. */
static int parse_node(struct walk *w, const yaml_node_t *n, const char *kp,
		      struct part_node *pn)
{
	static const char *const keys[] = {"version",
					   "role",
					   "cert",
					   "client_cert",
					   "client_eku_check",
					   "server_eku_upload",
					   "log_level",
					   NULL};
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
	return 0;
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

static int merge_node(struct walk *w, const yaml_node_t *key,
		      const struct part_node *pn, const struct part_node *def,
		      struct topo_node *out)
{
	static const struct part_cert no_cert;
	const char *version = pn->version != NULL ? pn->version : def->version;
	int rc;

	snprintf(out->name, sizeof(out->name), "%s", text(key));
	out->line = (int)key->start_mark.line + 1;
	if (version == NULL)
		return fail_at(w, key, "nodes",
			       "node '%s' has no version; set "
			       "nodes.%s.version or defaults.version",
			       out->name, out->name);
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

static int parse_nodes(struct walk *w, yaml_node_t *root, struct topo *t)
{
	yaml_node_t *defs = get(w, root, "defaults", NULL);
	yaml_node_t *nodes = get(w, root, "nodes", NULL);
	const yaml_node_pair_t *p;
	struct part_node def;
	struct part_node pn;
	char kp[KEYPATH_LEN];
	size_t count;
	int rc;

	memset(&def, 0, sizeof(def));
	if (defs != NULL && (rc = parse_node(w, defs, "defaults", &def)) != 0)
		return rc;
	if (nodes == NULL)
		return fail_at(w, root, "nodes",
			       "missing; list at least one node under "
			       "nodes:");
	if (nodes->type != YAML_MAPPING_NODE)
		return fail_at(w, nodes, "nodes",
			       "expected a mapping of node name to settings");
	count = (size_t)(nodes->data.mapping.pairs.top -
			 nodes->data.mapping.pairs.start);
	if (count == 0)
		return fail_at(w, nodes, "nodes",
			       "no node; list at least one node");
	if (count > TOPO_MAX_NODES)
		return fail_at(w, nodes, "nodes",
			       "%zu nodes; at most %d are supported", count,
			       TOPO_MAX_NODES);
	t->nodes = ekl_calloc(count, sizeof(*t->nodes));
	if (t->nodes == NULL)
		return ekl_errf(w->err, EKL_ENOMEM, "%s: out of memory",
				w->path);
	for (p = nodes->data.mapping.pairs.start;
	     p < nodes->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key);
		yaml_node_t *v = node_at(w, p->value);
		const yaml_node_pair_t *q;

		if (k == NULL || k->type != YAML_SCALAR_NODE)
			return fail_at(w, k != NULL ? k : nodes, "nodes",
				       "node names must be plain names");
		snprintf(kp, sizeof(kp), "nodes.%s", text(k));
		if (!topo_name_valid(text(k)))
			return fail_at(
			    w, k, kp,
			    "'%s' is not a valid node name; use 1-%d "
			    "of A-Z a-z 0-9 . _ - (it names files)",
			    text(k), TOPO_NAME_MAX);
		for (q = nodes->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node_at(w, q->key);

			if (strcmp(text(k2), text(k)) == 0)
				return fail_at(w, k, kp,
					       "duplicate node (first at line "
					       "%zu)",
					       k2->start_mark.line + 1);
			if (strcasecmp(text(k2), text(k)) == 0)
				return fail_at(
				    w, k, kp,
				    "'%s' differs from '%s' (line %zu) only "
				    "in case; node names compare "
				    "case-insensitively, as certificate names "
				    "and ekunode do",
				    text(k), text(k2), k2->start_mark.line + 1);
		}
		if ((rc = parse_node(w, v, kp, &pn)) != 0)
			return rc;
		rc = merge_node(w, k, &pn, &def, &t->nodes[t->n_nodes]);
		t->n_nodes++; /* counted even on error: topo_free frees it */
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int walk_root(struct walk *w, struct topo *t)
{
	static const char *const keys[] = {"name", "cluster", "defaults",
					   "nodes", NULL};
	yaml_node_t *root = w->root;
	const yaml_node_t *primary = NULL;
	yaml_node_t *v;
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
			       "defaults and nodes");
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
	if ((rc = parse_cluster(w, root, t, &primary)) != 0)
		return rc;
	if ((rc = parse_nodes(w, root, t)) != 0)
		return rc;
	if (primary != NULL) {
		if (topo_find(t, text(primary)) == NULL)
			return fail_at(w, primary, "cluster.primary",
				       "'%s' is not one of the nodes",
				       text(primary));
		snprintf(t->primary, sizeof(t->primary), "%s", text(primary));
	} else {
		snprintf(t->primary, sizeof(t->primary), "%s",
			 t->nodes[0].name);
	}
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
