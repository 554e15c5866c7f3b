/* lab.c: a lab's state directory: lab.conf, PKI, node configs, ports. */
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client/admin_client.h"
#include "ekulab/core/addr.h"
#include "ekulab/core/err.h"
#include "model/labmodel.h"
#include "ekulab/core/mem.h"
#include "ekulab/x509/pki.h"
#include "lab_interrupt.h"
#include "lab_runtime.h"
#include "lab_status.h"

void lab_path(const struct lab *l, const char *node, const char *file,
	      char *buf, size_t len)
{
	if (node != NULL)
		snprintf(buf, len, "%s/%s/%s", l->state, node, file);
	else
		snprintf(buf, len, "%s/%s", l->state, file);
}

const char *lab_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > LAB_TMPDIR_MAX)
		tmp = "/tmp";
	return tmp;
}

void lab_default_state(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/ekulab-%u/%s", lab_tmpdir(), (unsigned)getuid(),
		 name);
}

size_t lab_n(const struct lab *l)
{
	return topo_endpoints(&l->topo);
}

int lab_node_index(const struct lab *l, const char *name)
{
	size_t i;

	for (i = 0; i < lab_n(l); i++)
		if (strcasecmp(l->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void nodes_from_topo(struct lab *l);

/* The zone connections of t, as the model lists them (every connection
 * of every zone: labmodel_predict's zones, mra folded into its traversal
 * connection). *out owned by the caller (ekl_free). */
static int compute_zroutes(const struct topo *t, struct lab_zroute **out,
			   size_t *n, char *err)
{
	struct lab_prediction *p;
	struct lab_state st;
	struct lab_zroute *z;
	size_t i, k, m = 0;
	int rv;

	*out = NULL;
	*n = 0;
	if (t->n_zones == 0)
		return 0;
	p = ekl_calloc(1, sizeof(*p));
	if (p == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	labmodel_init(&st, t, 0);
	rv = labmodel_predict(&st, p, err);
	z = ekl_calloc(p->zones.n + 1, sizeof(*z));
	if (rv == 0 && z == NULL)
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
	for (i = 0; rv == 0 && i < p->zones.n; i++) {
		const struct lab_zone_conn *c = &p->zones.c[i];
		bool mra = c->service == POL_SVC_MRA;
		enum pol_service svc = mra ? POL_SVC_TRAVERSAL : c->service;

		for (k = 0; k < m; k++)
			if (z[k].from == c->from && z[k].to == c->to)
				break;
		if (k < m && z[k].service != svc) {
			rv = ekl_errf(
			    err, EKL_ECONFIG,
			    "topology %s: %s and %s both join %s and %s; the "
			    "live lab runs one zone connection per pair of "
			    "endpoints (plan check models it)",
			    t->name, pol_service_name(z[k].service),
			    pol_service_name(svc),
			    topo_endpoint_name(t, c->from),
			    topo_endpoint_name(t, c->to));
			break;
		}
		if (k == m) {
			z[m].zone = c->zone;
			z[m].from = c->from;
			z[m].to = c->to;
			z[m].service = svc;
			m++;
		}
		if (mra)
			z[k].mra = true;
	}
	ekl_free(p);
	if (rv != 0) {
		ekl_free(z);
		return rv;
	}
	*out = z;
	*n = m;
	return 0;
}

int lab_topo_supported(const struct topo *t, char *err)
{
	struct lab_zroute *z = NULL;
	size_t n = 0;
	int rv = compute_zroutes(t, &z, &n, err);

	ekl_free(z);
	return rv;
}

const struct lab_zroute *lab_zroute_find(const struct lab *l, size_t from,
					 size_t to)
{
	size_t k;

	for (k = 0; k < l->n_zroutes; k++)
		if (l->zroutes[k].from == from && l->zroutes[k].to == to)
			return &l->zroutes[k];
	return NULL;
}

int lab_route_target(const struct lab *l, size_t from, size_t to)
{
	const struct lab_zroute *z = lab_zroute_find(l, from, to);

	if (z != NULL)
		return l->zone_port[to * POL_SVC_COUNT + z->service];
	return l->nodes[to].port;
}

/* The certificate settings of endpoint i. */
static const struct topo_cert *ep_cert(const struct lab *l, size_t i,
				       bool client)
{
	const struct topo_external *x = topo_endpoint_external(&l->topo, i);

	if (x != NULL)
		return client ? &x->client_cert : &x->cert;
	return client ? &l->topo.nodes[i].client_cert : &l->topo.nodes[i].cert;
}

static int lab_init_nodes(struct lab *l, const char *state, char *err)
{
	size_t i, n;
	int rv;

	if ((rv = compute_zroutes(&l->topo, &l->zroutes, &l->n_zroutes, err)) !=
	    0) {
		if (!l->topo_borrowed)
			topo_free(&l->topo);
		return rv;
	}
	if (state != NULL)
		snprintf(l->state, sizeof(l->state), "%s", state);
	else
		lab_default_state(l->topo.name, l->state, sizeof(l->state));
	l->tune.heartbeat_ms = 300;
	l->tune.dead_ms = 1500;
	l->tune.backoff_max_ms = 500;
	n = lab_n(l);
	l->nodes = ekl_calloc(n, sizeof(*l->nodes));
	l->route_port = ekl_calloc(n * n, sizeof(*l->route_port));
	l->node_fd = ekl_calloc(n, sizeof(*l->node_fd));
	l->route_fd = ekl_calloc(n * n, sizeof(*l->route_fd));
	l->zone_port = ekl_calloc(n * POL_SVC_COUNT, sizeof(*l->zone_port));
	l->zone_fd = ekl_calloc(n * POL_SVC_COUNT, sizeof(*l->zone_fd));
	if (l->nodes == NULL || l->route_port == NULL || l->node_fd == NULL ||
	    l->route_fd == NULL || l->zone_port == NULL || l->zone_fd == NULL) {
		lab_close(l);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++)
		l->node_fd[i] = -1;
	for (i = 0; i < n * n; i++)
		l->route_fd[i] = -1;
	for (i = 0; i < n * POL_SVC_COUNT; i++)
		l->zone_fd[i] = -1;
	nodes_from_topo(l);
	return 0;
}

/* Every node's settings as the topology gives them, no faults. */
static void nodes_from_topo(struct lab *l)
{
	size_t i;

	l->n_faults = 0;
	l->proxy_pid = 0;
	for (i = 0; i < l->topo.n_nodes; i++) {
		const struct topo_node *t = &l->topo.nodes[i];
		struct lab_node *nd = &l->nodes[i];

		snprintf(nd->name, sizeof(nd->name), "%s", t->name);
		snprintf(nd->version, sizeof(nd->version), "%s", t->version);
		nd->profile = t->cert.profile;
		nd->ca = t->cert.ca;
		nd->has_client = t->has_client_cert;
		nd->client_profile = t->client_cert.profile;
		nd->client_ca = t->client_cert.ca;
		/* The first cluster's settings are the topology's (also for
		 * a topology built in code, with no clusters[]). */
		nd->verify = t->cluster == 0
				 ? l->topo.verify
				 : l->topo.clusters[t->cluster].verify;
		nd->stale = false;
		nd->pid = 0;
	}
	for (i = 0; i < l->topo.n_externals; i++) {
		const struct topo_external *x = &l->topo.externals[i];
		struct lab_node *nd = &l->nodes[l->topo.n_nodes + i];

		snprintf(nd->name, sizeof(nd->name), "%s", x->name);
		snprintf(nd->version, sizeof(nd->version), "-");
		nd->profile = x->cert.profile;
		nd->ca = x->cert.ca;
		nd->has_client = x->has_client_cert;
		nd->client_profile = x->client_cert.profile;
		nd->client_ca = x->client_cert.ca;
		nd->verify = x->verify;
		nd->stale = false;
		nd->pid = 0;
	}
}

int lab_open(struct lab *l, const char *topo_path, const char *state, char *err)
{
	int rv;

	memset(l, 0, sizeof(*l));
	if (realpath(topo_path, l->topo_path) == NULL)
		return ekl_errf(err, EKL_ENOENT, "topology %s: %s", topo_path,
				strerror(errno));
	rv = topo_load(l->topo_path, &l->topo, err);
	if (rv != 0)
		return rv;
	return lab_init_nodes(l, state, err);
}

int lab_open_topo(struct lab *l, const struct topo *t, const char *where,
		  const char *state, char *err)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->topo_path, sizeof(l->topo_path), "%s", where);
	l->topo = *t;
	l->topo_borrowed = true;
	return lab_init_nodes(l, state, err);
}

/* Close the reservations no process took. */
static void close_reserved(struct lab *l)
{
	size_t i, n = lab_n(l);

	for (i = 0; l->zone_fd != NULL && i < n * POL_SVC_COUNT; i++)
		if (l->zone_fd[i] >= 0) {
			close(l->zone_fd[i]);
			l->zone_fd[i] = -1;
		}
	for (i = 0; l->node_fd != NULL && i < n; i++)
		if (l->node_fd[i] >= 0) {
			close(l->node_fd[i]);
			l->node_fd[i] = -1;
		}
	for (i = 0; l->route_fd != NULL && i < n * n; i++)
		if (l->route_fd[i] >= 0) {
			close(l->route_fd[i]);
			l->route_fd[i] = -1;
		}
}

void lab_close(struct lab *l)
{
	close_reserved(l);
	if (!l->topo_borrowed)
		topo_free(&l->topo);
	ekl_free(l->nodes);
	ekl_free(l->route_port);
	ekl_free(l->node_fd);
	ekl_free(l->route_fd);
	ekl_free(l->zone_port);
	ekl_free(l->zone_fd);
	ekl_free(l->zroutes);
	l->zone_port = l->zone_fd = NULL;
	l->zroutes = NULL;
	l->n_zroutes = 0;
	l->nodes = NULL;
	l->route_port = NULL;
	l->node_fd = NULL;
	l->route_fd = NULL;
}

bool lab_dials(const struct lab *l, size_t i, size_t j)
{
	const struct topo_cluster *c;

	if (i == j || i >= l->topo.n_nodes || j >= l->topo.n_nodes ||
	    l->topo.nodes[i].cluster != l->topo.nodes[j].cluster)
		return false;
	c = &l->topo.clusters[l->topo.nodes[i].cluster];
	/* The single-cluster form's dial may be overridden (plan run
	 * --dial): topo.dial is the first cluster's. */
	if (l->topo.nodes[i].cluster == 0)
		return labmodel_dials(l->topo.dial, l->nodes[i].name,
				      l->nodes[j].name, l->topo.primary);
	return labmodel_dials(c->dial, l->nodes[i].name, l->nodes[j].name,
			      l->topo.nodes[c->primary].name);
}

int lab_node_socket(struct lab *l, int i, int *fd, char *err)
{
	char e[EKL_ERRLEN];
	int port;

	if (l->node_fd[i] >= 0) {
		*fd = l->node_fd[i];
		l->node_fd[i] = -1;
		return 0;
	}
	if (addr_reserve(l->nodes[i].port, fd, &port, e) != 0)
		return ekl_errf(err, EKL_EADDR, "node %s's listen port: %s",
				l->nodes[i].name, e);
	return 0;
}

int lab_node_sockets(struct lab *l, int i, int *fds, int *n, char *err)
{
	char e[EKL_ERRLEN];
	int s, rv, port;

	*n = 0;
	if ((rv = lab_node_socket(l, i, &fds[0], err)) != 0)
		return rv;
	*n = 1;
	for (s = 0; s < POL_SVC_COUNT; s++) {
		size_t k = (size_t)i * POL_SVC_COUNT + (size_t)s;

		if (l->zone_port[k] <= 0)
			continue;
		if (l->zone_fd[k] >= 0) {
			fds[(*n)++] = l->zone_fd[k];
			l->zone_fd[k] = -1;
			continue;
		}
		if (addr_reserve(l->zone_port[k], &fds[*n], &port, e) != 0) {
			while (*n > 0)
				close(fds[--(*n)]);
			return ekl_errf(
			    err, EKL_EADDR, "%s's %s zone listener: %s",
			    l->nodes[i].name,
			    pol_service_name((enum pol_service)s), e);
		}
		(*n)++;
	}
	return 0;
}

int lab_route_socket(struct lab *l, size_t from, size_t to, int *fd, char *err)
{
	size_t k = from * lab_n(l) + to;
	char e[EKL_ERRLEN];
	int port;

	if (l->route_fd[k] >= 0) {
		*fd = l->route_fd[k];
		l->route_fd[k] = -1;
		return 0;
	}
	if (addr_reserve(l->route_port[k], fd, &port, e) != 0)
		return ekl_errf(err, EKL_EADDR, "the proxy's route %s>%s: %s",
				l->nodes[from].name, l->nodes[to].name, e);
	return 0;
}

/* ---- lab.conf ------------------------------------------------------------ */

int lab_save(const struct lab *l, char *err)
{
	char path[LAB_PATH_MAX + 32], tmp[LAB_PATH_MAX + 40];
	size_t i, j, n = lab_n(l);
	FILE *f;
	int k, s;

	lab_path(l, NULL, "lab.conf", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "# ekulab lab state: written by ekulab, do not edit\n");
	fprintf(f, "runtime %s\n", l->rt != NULL ? l->rt->name : "process");
	fprintf(f, "topology %s\n", l->topo_path);
	fprintf(f, "name %s\n", l->topo.name);
	fprintf(f, "proxy_pid %d\n", (int)l->proxy_pid);
	for (i = 0; i < n; i++) {
		const struct lab_node *nd = &l->nodes[i];

		fprintf(f, "node %s %s %s %s %s %s %d %d\n", nd->name,
			nd->version, pki_profile_name(nd->profile),
			pki_ca_name(nd->ca),
			nd->has_client ? pki_profile_name(nd->client_profile)
				       : "none",
			pol_mode_name(nd->verify), nd->port, (int)nd->pid);
		if (nd->has_client)
			fprintf(f, "client %s %s %s\n", nd->name,
				pki_profile_name(nd->client_profile),
				pki_ca_name(nd->client_ca));
		if (nd->stale)
			fprintf(f, "stale %s\n", nd->name);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (l->route_port[i * n + j] > 0)
				fprintf(f, "route %s %s %d\n", l->nodes[i].name,
					l->nodes[j].name,
					l->route_port[i * n + j]);
	for (i = 0; i < n; i++)
		for (s = 0; s < POL_SVC_COUNT; s++)
			if (l->zone_port[i * POL_SVC_COUNT + (size_t)s] > 0)
				fprintf(f, "zone %s %s %d\n", l->nodes[i].name,
					pol_service_name((enum pol_service)s),
					l->zone_port[i * POL_SVC_COUNT +
						     (size_t)s]);
	for (k = 0; k < l->n_faults; k++)
		fprintf(f, "fault %s %s %s\n", l->faults[k].name,
			l->faults[k].kind,
			l->faults[k].node[0] ? l->faults[k].node : "-");
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int lab_load(struct lab *l, char *err)
{
	char path[LAB_PATH_MAX + 32], line[1024];
	const struct lab_runtime *want = l->rt; /* asked with --runtime */
	size_t n = lab_n(l);
	FILE *f;
	int lineno = 0;

	lab_path(l, NULL, "lab.conf", path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return ekl_errf(err, EKL_ENOENT,
				"lab '%s' is not up (no %s); run 'ekulab lab "
				"up %s' first",
				l->topo.name, path, l->topo_path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char a[128], b[128], c[128], d[128], e[128], g[128];
		int p1, p2, i, j;

		lineno++;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "runtime %127s", a) == 1) {
			l->rt = lab_runtime_find(a);
			if (l->rt == NULL)
				goto bad;
		} else if (sscanf(line, "proxy_pid %d", &p1) == 1) {
			l->proxy_pid = p1;
		} else if (sscanf(line,
				  "node %127s %127s %127s %127s %127s %127s "
				  "%d %d",
				  a, b, c, d, e, g, &p1, &p2) == 8) {
			struct lab_node *nd;

			if ((i = lab_node_index(l, a)) < 0)
				goto bad;
			nd = &l->nodes[i];
			snprintf(nd->version, sizeof(nd->version), "%.31s", b);
			if (pki_profile_parse(c, &nd->profile) != 0 ||
			    pki_ca_parse(d, &nd->ca) != 0 ||
			    pol_mode_parse(g, &nd->verify) != 0)
				goto bad;
			nd->has_client = strcmp(e, "none") != 0;
			if (nd->has_client &&
			    pki_profile_parse(e, &nd->client_profile) != 0)
				goto bad;
			nd->port = p1;
			nd->pid = p2;
		} else if (sscanf(line, "client %127s %127s %127s", a, b, c) ==
			   3) {
			if ((i = lab_node_index(l, a)) < 0 ||
			    pki_profile_parse(b, &l->nodes[i].client_profile) !=
				0 ||
			    pki_ca_parse(c, &l->nodes[i].client_ca) != 0)
				goto bad;
			l->nodes[i].has_client = true;
		} else if (sscanf(line, "stale %127s", a) == 1) {
			if ((i = lab_node_index(l, a)) < 0)
				goto bad;
			l->nodes[i].stale = true;
		} else if (sscanf(line, "route %127s %127s %d", a, b, &p1) ==
			   3) {
			if ((i = lab_node_index(l, a)) < 0 ||
			    (j = lab_node_index(l, b)) < 0)
				goto bad;
			l->route_port[(size_t)i * n + (size_t)j] = p1;
		} else if (sscanf(line, "zone %127s %127s %d", a, b, &p1) ==
			   3) {
			enum pol_service svc;

			if ((i = lab_node_index(l, a)) < 0 ||
			    pol_service_parse(b, &svc) != 0)
				goto bad;
			l->zone_port[(size_t)i * POL_SVC_COUNT + svc] = p1;
		} else if (sscanf(line, "fault %63s %15s %63s", a, b, c) == 3) {
			struct lab_fault *ft;

			if (l->n_faults == LAB_MAX_FAULTS)
				goto bad;
			ft = &l->faults[l->n_faults++];
			snprintf(ft->name, sizeof(ft->name), "%.63s", a);
			snprintf(ft->kind, sizeof(ft->kind), "%.15s", b);
			snprintf(ft->node, sizeof(ft->node), "%.63s",
				 strcmp(c, "-") == 0 ? "" : c);
		} else if (strncmp(line, "topology ", 9) != 0 &&
			   strncmp(line, "name ", 5) != 0) {
			goto bad;
		}
	}
	fclose(f);
	if (l->rt == NULL)
		l->rt = &lab_runtime_process;
	if (want != NULL && want != l->rt)
		return ekl_errf(err, EKL_ECONFIG,
				"lab '%s' runs on the %s runtime (%s), not %s; "
				"drop --runtime or give --runtime %s",
				l->topo.name, l->rt->name, path, want->name,
				l->rt->name);
	return 0;
bad:
	fclose(f);
	return ekl_errf(err, EKL_ECONFIG,
			"%s:%d: unexpected line (written by another ekulab "
			"version, or edited?); 'ekulab lab down' and up again",
			path, lineno);
}

/* ---- preparing --------------------------------------------------------------
 */

static int mkdirs(const char *path, char *err)
{
	char buf[LAB_PATH_MAX * 2];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return ekl_errf(err, EKL_EIO, "mkdir %s: %s", buf,
					strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return ekl_errf(err, EKL_EIO, "mkdir %s: %s", buf,
				strerror(errno));
	return 0;
}

int lab_issue_cert(struct lab *l, int i, char *err)
{
	struct lab_node *nd = &l->nodes[i];
	struct pki_leaf_opts o;
	char pki[LAB_PATH_MAX + 8], name[TOPO_NAME_MAX + 16];
	int rv;

	lab_path(l, NULL, "pki", pki, sizeof(pki));
	memset(&o, 0, sizeof(o));
	o.name = nd->name;
	o.profile = nd->profile;
	o.ca = nd->ca;
	o.days = ep_cert(l, (size_t)i, false)->days;
	o.force = true;
	rv = pki_issue(pki, &o, err);
	if (rv != 0 || !nd->has_client)
		return rv;
	snprintf(name, sizeof(name), "%s-client", nd->name);
	memset(&o, 0, sizeof(o));
	o.name = name;
	o.sans[0] = nd->name;
	o.n_sans = 1;
	o.profile = nd->client_profile;
	o.ca = nd->client_ca;
	o.days = ep_cert(l, (size_t)i, true)->days;
	o.force = true;
	return pki_issue(pki, &o, err);
}

/* The zone lines of endpoint i: a listener per service it accepts, the
 * names it accepts, and a peer per connection it opens (through the
 * proxy's route, or straight to the listener when direct). */
static void write_zone_conf(const struct lab *l, size_t i, FILE *f)
{
	size_t k, n = lab_n(l);
	int s;

	for (s = 0; s < POL_SVC_COUNT; s++)
		if (l->zone_port[i * POL_SVC_COUNT + (size_t)s] > 0)
			fprintf(f, "zone-listen = %s=127.0.0.1:%d\n",
				pol_service_name((enum pol_service)s),
				l->zone_port[i * POL_SVC_COUNT + (size_t)s]);
	for (k = 0; k < l->n_zroutes; k++) {
		const struct lab_zroute *z = &l->zroutes[k];
		int port;

		if (z->to == i)
			fprintf(f, "zone-accept = %s=%s\n",
				pol_service_name(z->service),
				l->nodes[z->from].name);
		if (z->from != i)
			continue;
		port = l->route_port[z->from * n + z->to] > 0
			   ? l->route_port[z->from * n + z->to]
			   : lab_route_target(l, z->from, z->to);
		fprintf(f, "zone-peer = %s=%s,127.0.0.1:%d%s\n",
			l->nodes[z->to].name, pol_service_name(z->service),
			port, z->mra ? ",mra" : "");
	}
	if (l->n_zroutes > 0)
		fprintf(f, "zone-interval-ms = %d\n", LAB_ZONE_INTERVAL_MS);
}

/* An external: an ekunode --kind KIND with no ClusterDB peers. */
static void write_external_conf(const struct lab *l, size_t i, FILE *f)
{
	const struct topo_external *x = topo_endpoint_external(&l->topo, i);
	const struct lab_node *nd = &l->nodes[i];

	fprintf(f, "kind = %s\n", pol_kind_name(x->kind));
	fprintf(f, "checks-client-eku = %s\n",
		x->checks_client_eku ? "on" : "off");
	if (nd->has_client)
		fprintf(f,
			"client-cert = %s/pki/%s-client.crt\n"
			"client-key = %s/pki/%s-client.key\n",
			l->state, nd->name, l->state, nd->name);
	fprintf(f, "verify = %s\n", pol_mode_name(nd->verify));
}

int lab_write_node_conf(struct lab *l, int i, char *err)
{
	struct lab_node *nd = &l->nodes[i];
	const struct topo_node *t =
	    (size_t)i < l->topo.n_nodes ? &l->topo.nodes[i] : NULL;
	const struct topo_cluster *cl =
	    t != NULL ? &l->topo.clusters[t->cluster] : NULL;
	char path[LAB_PATH_MAX + 80], tmp[LAB_PATH_MAX + 90];
	size_t j, n = lab_n(l);
	enum pol_vclass v;
	FILE *f;

	lab_path(l, nd->name, "node.conf", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "# written by ekulab lab for topology %s\n", l->topo.name);
	fprintf(f, "name = %s\ncluster = %s\n", nd->name,
		cl == NULL				? nd->name
		: !l->topo.multi || cl->name[0] == '\0' ? l->topo.name
							: cl->name);
	fprintf(f, "listen = 127.0.0.1:%d\n", nd->port);
	/* A peer for every node with a direction to or from this one: we
	 * dial it through its route (or its port, direct); `dial=no` when
	 * the dial mode has only the peer dial, `accept=no` when only we
	 * do. Two nodes the dial mode never connects do not know each
	 * other (the model's not-dialled); nor do nodes of two clusters. */
	for (j = 0; t != NULL && j < l->topo.n_nodes; j++) {
		bool out = lab_dials(l, (size_t)i, j);
		bool in = lab_dials(l, j, (size_t)i);

		if (!out && !in)
			continue;
		fprintf(f, "peer = %s=127.0.0.1:%d%s%s\n", l->nodes[j].name,
			l->route_port[(size_t)i * n + j] > 0
			    ? l->route_port[(size_t)i * n + j]
			    : l->nodes[j].port,
			out ? "" : ",dial=no", in ? "" : ",accept=no");
	}
	write_zone_conf(l, (size_t)i, f);
	fprintf(f, "cert = %s/pki/%s.crt\nkey = %s/pki/%s.key\n", l->state,
		nd->name, l->state, nd->name);
	fprintf(f, "ca = %s/pki/ca.crt\n", l->state);
	fprintf(f, "data = %s/%s/data\nadmin = %s/%s/admin.sock\n", l->state,
		nd->name, l->state, nd->name);
	if (l->tune.heartbeat_ms > 0)
		fprintf(f, "heartbeat-ms = %d\n", l->tune.heartbeat_ms);
	if (l->tune.dead_ms > 0)
		fprintf(f, "dead-ms = %d\n", l->tune.dead_ms);
	if (l->tune.backoff_max_ms > 0)
		fprintf(f, "backoff-max-ms = %d\n", l->tune.backoff_max_ms);
	if (t == NULL) {
		write_external_conf(l, (size_t)i, f);
		goto done;
	}
	/* A client certificate exists from X15.5 on; earlier versions ignore
	 * the topology's (as the model does). */
	if (nd->has_client && pol_version_parse(nd->version, &v) == 0 &&
	    v == POL_V_X155)
		fprintf(f,
			"client-cert = %s/pki/%s-client.crt\n"
			"client-key = %s/pki/%s-client.key\n",
			l->state, nd->name, l->state, nd->name);
	fprintf(f, "version = %s\nrole = %s\nverify = %s\n", nd->version,
		topo_role_name(t->role), pol_mode_name(nd->verify));
	fprintf(f, "client-eku-check = %s\n",
		t->client_eku_check ? "on" : "off");
	if (t->log_level[0] != '\0')
		fprintf(f, "log-level = %s\n", t->log_level);
	/* The single-cluster form's primary and link may be overridden (plan
	 * run --link): topo.primary and topo.link are the first cluster's. */
	fprintf(f, "primary = %s\n",
		t->cluster == 0 ? l->topo.primary
				: l->topo.nodes[cl->primary].name);
	fprintf(f, "link = %s\n",
		topo_link_name(t->cluster == 0 ? l->topo.link : cl->link));
	if (l->tune.log_keep > 0)
		fprintf(f, "log-keep = %ld\n", l->tune.log_keep);
	if (l->tune.ack_timeout_ms > 0)
		fprintf(f, "ack-timeout-ms = %d\n", l->tune.ack_timeout_ms);
done:
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* Every node's listen port, a zone listener per service an endpoint
 * accepts, and a route port for each direction the dial mode makes and
 * each zone connection (none when direct). The docker runtime's endpoints
 * and proxy have addresses of their own: fixed numbers. Otherwise each port is
 * reserved and held (lab.h), so none is handed out twice. */
static int pick_ports(struct lab *l, char *err)
{
	size_t i, j, k, n = lab_n(l);
	struct rlimit rl;
	char e[EKL_ERRLEN];

	/* A socket per node and per route stays open until its process
	 * starts: allow as many descriptors as the hard limit does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	close_reserved(l);
	for (i = 0; i < n; i++) {
		if (l->rt->own_network) {
			l->nodes[i].port = LAB_NODE_PORT_BASE + (int)i;
			continue;
		}
		if (addr_reserve(0, &l->node_fd[i], &l->nodes[i].port, e) != 0)
			return ekl_errf(err, EKL_EADDR,
					"a listen port for node %s: %s",
					l->nodes[i].name, e);
	}
	/* A zone listener per service an endpoint accepts. */
	for (k = 0; k < n * POL_SVC_COUNT; k++)
		l->zone_port[k] = 0;
	for (k = 0; k < l->n_zroutes; k++) {
		size_t z =
		    l->zroutes[k].to * POL_SVC_COUNT + l->zroutes[k].service;

		if (l->zone_port[z] > 0)
			continue;
		if (l->rt->own_network) {
			l->zone_port[z] =
			    LAB_ZONE_PORT_BASE + (int)l->zroutes[k].service;
			continue;
		}
		if (addr_reserve(0, &l->zone_fd[z], &l->zone_port[z], e) != 0)
			return ekl_errf(err, EKL_EADDR,
					"a %s zone port for %s: %s",
					pol_service_name(l->zroutes[k].service),
					l->nodes[l->zroutes[k].to].name, e);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			k = i * n + j;

			l->route_port[k] = 0;
			if (l->tune.direct ||
			    (!lab_dials(l, i, j) &&
			     lab_zroute_find(l, i, j) == NULL))
				continue;
			if (l->rt->own_network) {
				l->route_port[k] = LAB_ROUTE_PORT_BASE + (int)k;
				continue;
			}
			if (addr_reserve(0, &l->route_fd[k], &l->route_port[k],
					 e) != 0)
				return ekl_errf(err, EKL_EADDR,
						"a port for the proxy's route "
						"%s>%s: %s",
						l->nodes[i].name,
						l->nodes[j].name, e);
		}
	return 0;
}

int lab_prepare(struct lab *l, const char *runtime, char *err)
{
	char pki[LAB_PATH_MAX + 8], dir[LAB_PATH_MAX + 80];
	size_t i, n = lab_n(l);
	int rv;

	l->rt = lab_runtime_find(runtime);
	if (l->rt == NULL)
		return ekl_errf(err, EKL_EINVAL,
				"unknown runtime '%s'; this build has: "
				"process, docker, swarm",
				runtime);
	/* The swarm runtime's stack (docker_write_stack) has no zone
	 * listeners, zone routes or externals yet. */
	if (l->rt == &lab_runtime_swarm && topo_is_deployment(&l->topo))
		return ekl_errf(err, EKL_ECONFIG,
				"%s: a deployment (clusters:, externals:, "
				"zones:) runs on the process and docker "
				"runtimes, not yet on swarm; give --runtime "
				"docker or process",
				l->topo_path);
	for (i = 0; i < n; i++)
		if (ep_cert(l, i, false)->file != NULL ||
		    (l->nodes[i].has_client &&
		     ep_cert(l, i, true)->file != NULL))
			return ekl_errf(
			    err, EKL_ECONFIG,
			    "%s: node %s: cert.file is for 'ekulab "
			    "audit --cluster'; a lab issues its own "
			    "certificates (give profile and ca)",
			    l->topo_path, l->nodes[i].name);
	if ((rv = mkdirs(l->state, err)) != 0)
		return rv;
	lab_registry_add(l);
	lab_path(l, NULL, "pki", pki, sizeof(pki));
	if ((rv = pki_init(pki, true, err)) != 0)
		return rv;
	for (i = 0; i < n; i++) {
		lab_path(l, l->nodes[i].name, "data", dir, sizeof(dir));
		if ((rv = mkdirs(dir, err)) != 0)
			return rv;
		if ((rv = lab_issue_cert(l, (int)i, err)) != 0)
			return rv;
	}
	if ((rv = pick_ports(l, err)) != 0)
		return rv;
	for (i = 0; i < n; i++)
		if ((rv = lab_write_node_conf(l, (int)i, err)) != 0)
			return rv;
	return lab_save(l, err);
}

/* ---- talking to nodes
 * --------------------------------------------------------- */

void lab_node_admin(const struct lab *l, int i, char *buf, size_t len)
{
	if (l->rt != NULL && l->rt->node_admin != NULL &&
	    l->rt->node_admin(l, i, buf, len) == 0)
		return;
	lab_path(l, l->nodes[i].name, "admin.sock", buf, len);
}

int lab_node_connect_ms(const struct lab *l, int i, int ms, char *err)
{
	char target[LAB_ADMIN_TARGET_MAX];
	struct admin_target t;
	struct timeval tv;
	int fd;

	lab_node_admin(l, i, target, sizeof(target));
	if ((fd = admin_target_parse(target, &t, err)) != 0)
		return fd;
	fd = admin_client_dial(&t, ms, err);
	if (fd < 0)
		return fd;
	/* A paused node's socket accepts (the kernel queues the
	 * connection) but never answers: every call on it is bounded. */
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int lab_node_connect(const struct lab *l, int i, char *err)
{
	return lab_node_connect_ms(l, i, LAB_ADMIN_TIMEOUT_MS, err);
}

int lab_ask(const struct lab *l, int i, const char *prefix, const char *cmd,
	    bool *ok, char **body, char *err)
{
	int fd, rv;

	fd = lab_node_connect(l, i, err);
	if (fd < 0)
		return fd;
	rv = admin_client_call(fd, prefix, cmd, ok, body, err);
	close(fd);
	return rv;
}

/* ": LAST LINE" of node i's log (its own word on why it stopped), or "". */
static const char *last_log_line(const struct lab *l, int i)
{
	static char out[300];
	char path[LAB_PATH_MAX + 80], line[512], last[512] = "";
	FILE *f;

	lab_path(l, l->nodes[i].name, "node.log", path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return "";
	while (fgets(line, sizeof(line), f) != NULL)
		if (line[0] != '\n')
			snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	last[strcspn(last, "\n")] = '\0';
	if (last[0] == '\0')
		return "";
	snprintf(out, sizeof(out), ": %.280s", last);
	return out;
}

int lab_wait_node(const struct lab *l, int i, double seconds, char *err)
{
	struct timespec t0, t;
	char *body = NULL;
	bool ok = false;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (lab_ask(l, i, "text", "xStatus Database", &ok, &body,
			    err) == 0) {
			ekl_free(body);
			return 0;
		}
		if (!l->rt->node_running(l, i))
			return ekl_errf(err, EKL_EIO,
					"node %s exited during start-up (see "
					"%s/%s/node.log)%s",
					l->nodes[i].name, l->state,
					l->nodes[i].name, last_log_line(l, i));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    seconds)
			return ekl_errf(
			    err, EKL_EIO,
			    "node %s did not answer on its admin "
			    "socket within %.0f s (see %s/%s/node.log)",
			    l->nodes[i].name, seconds, l->state,
			    l->nodes[i].name);
		if (!lab_sleep(0.02))
			return ekl_errf(err, EKL_EINTR,
					"interrupted by %s while node %s "
					"started",
					lab_interrupt_name(), l->nodes[i].name);
	}
}

void lab_nodes_running(const struct lab *l, bool *running)
{
	size_t i;

	if (l->rt->nodes_running != NULL &&
	    l->rt->nodes_running(l, running) == 0)
		return;
	for (i = 0; i < lab_n(l); i++)
		running[i] = l->rt->node_running(l, (int)i);
}

/* ---- starting and stopping --------------------------------------------------
 */

/* Every node, one after the other (a runtime without start_nodes). */
static int start_each(struct lab *l, char *err)
{
	size_t i;
	int rv;

	for (i = 0; i < lab_n(l); i++) {
		if (lab_interrupted())
			return ekl_errf(err, EKL_EINTR, "interrupted by %s",
					lab_interrupt_name());
		if ((rv = l->rt->start_node(l, (int)i, err)) != 0)
			return rv;
	}
	return 0;
}

int lab_start_all(struct lab *l, char *err)
{
	size_t i;
	int rv;

	if (!l->tune.direct && (rv = l->rt->start_proxy(l, err)) != 0)
		return rv;
	if (l->rt->start_nodes != NULL)
		rv = l->rt->start_nodes(l, err);
	else
		rv = start_each(l, err);
	if (rv != 0 || (rv = lab_save(l, err)) != 0)
		return rv;
	for (i = 0; i < lab_n(l); i++)
		if ((rv = lab_wait_node(l, (int)i, 20, err)) != 0)
			return rv;
	return 0;
}

void lab_stop_all(struct lab *l)
{
	char err[EKL_ERRLEN];
	size_t i;

	for (i = 0; i < lab_n(l); i++)
		l->rt->stop_node(l, (int)i, err);
	if (!l->tune.direct)
		l->rt->stop_proxy(l, err);
	(void)lab_save(l, err);
}

int lab_remove_dir(const char *dir, char *err)
{
	char cmd[LAB_PATH_MAX + 16];

	if (strchr(dir, '\'') != NULL || strlen(dir) < 5 ||
	    strlen(dir) >= LAB_PATH_MAX)
		return ekl_errf(err, EKL_EINVAL, "refusing to remove '%s'",
				dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return ekl_errf(err, EKL_EIO, "could not remove %s", dir);
	return 0;
}

int lab_remove_state(const struct lab *l, char *err)
{
	/* The state directory holds only what up made. */
	lab_registry_remove(l);
	return lab_remove_dir(l->state, err);
}

/* A failed up leaves this file beside its logs. */
static void mark_up_failed(const struct lab *l)
{
	char path[LAB_PATH_MAX + 32];
	FILE *f;

	lab_path(l, NULL, LAB_UP_FAILED, path, sizeof(path));
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("the last 'ekulab lab up' failed; the next one removes "
		      "this directory\n",
		      f);
		fclose(f);
	}
}

int lab_up(struct lab *l, const char *runtime, char *err)
{
	return lab_up_wait(l, runtime, 0, err);
}

int lab_up_wait(struct lab *l, const char *runtime, double settle, char *err)
{
	char probe[EKL_ERRLEN];
	size_t i;
	int rv;

	if (lab_load(l, probe) == 0) {
		for (i = 0; i < lab_n(l); i++)
			if (l->rt->node_running(l, (int)i))
				return ekl_errf(err, EKL_EEXIST,
						"lab '%s' is already up (%s); "
						"'ekulab lab down %s' first",
						l->topo.name, l->state,
						l->topo_path);
		/* No node runs: what is left is a failed up's logs (or a
		 * lab whose nodes all died): this up replaces it. */
		lab_stop_all(l);
		if ((rv = lab_remove_state(l, err)) != 0)
			return rv;
	} else if (lab_up_failed(l) && (rv = lab_remove_state(l, err)) != 0) {
		return rv;
	}
	nodes_from_topo(l);
	l->rt = NULL;
	if ((rv = lab_prepare(l, runtime != NULL ? runtime : "process", err)) !=
		0 ||
	    (rv = lab_start_all(l, err)) != 0 ||
	    (settle > 0 && (rv = lab_status_settle(l, settle, err)) != 0 &&
	     rv != EKL_ETIMEDOUT)) {
		if (l->rt != NULL)
			lab_stop_all(l);
		/* Interrupted: nothing of this lab is left behind. */
		if (rv == EKL_EINTR)
			(void)lab_remove_state(l, probe);
		else
			mark_up_failed(l);
		return rv;
	}
	return rv;
}

bool lab_up_failed(const struct lab *l)
{
	char path[LAB_PATH_MAX + 32];

	lab_path(l, NULL, LAB_UP_FAILED, path, sizeof(path));
	return access(path, F_OK) == 0;
}

int lab_down(struct lab *l, char *err)
{
	size_t i;
	int rv;

	if (lab_up_failed(l))
		return ekl_errf(err, EKL_ENOENT,
				"lab %s is not up: its last 'lab up' failed; "
				"its logs stay in %s until the next 'lab up'",
				l->topo.name, l->state);
	if ((rv = lab_load(l, err)) != 0) {
		if (rv == EKL_ENOENT)
			ekl_errf(err, EKL_ENOENT,
				 "lab %s is not up (no %s/lab.conf); nothing "
				 "to do",
				 l->topo.name, l->state);
		return rv;
	}
	lab_stop_all(l);
	for (i = 0; i < lab_n(l); i++)
		l->nodes[i].pid = 0;
	return lab_remove_state(l, err);
}
