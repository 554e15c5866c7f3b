/* docker_compose.c: the files the docker runtime writes for its containers:
 * each node's container.conf (and its copied certificates), and
 * STATE/compose.yaml, the same lab as a compose project. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docker_int.h"
#include "ekulab/core/err.h"
#include "lab.h"

/* Uid and gid of "UID:GID", or -1 when the user is a name. */
static int user_ids(const struct docker_lab *d, uid_t *uid, gid_t *gid)
{
	unsigned u, g;
	char c;

	if (sscanf(d->user, "%u:%u%c", &u, &g, &c) != 2)
		return -1;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* Give path to the container user when we are root (see the header). */
static void give(const struct docker_lab *d, const char *path)
{
	uid_t u;
	gid_t g;

	if (geteuid() == 0 && user_ids(d, &u, &g) == 0 &&
	    lchown(path, u, g) != 0)
		fprintf(stderr, "ekulab: chown %s: %s\n", path,
			strerror(errno));
}

int docker_mkdir_given(const struct docker_lab *d, const char *path, char *err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return ekl_errf(err, EKL_EIO, "mkdir %s: %s", path,
				strerror(errno));
	give(d, path);
	return 0;
}

static int copy_file(const struct docker_lab *d, const char *src,
		     const char *dst, char *err)
{
	char buf[8192];
	int in, out, rv = 0;
	ssize_t r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ekl_errf(err, EKL_EIO, "%s: %s", src, strerror(errno));
	unlink(dst);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rv = ekl_errf(err, EKL_EIO, "%s: %s", dst, strerror(errno));
		goto out_in;
	}
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r) {
			rv = ekl_errf(err, EKL_EIO, "%s: %s", dst,
				      strerror(errno));
			break;
		}
	if (r < 0 && rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s: %s", src, strerror(errno));
	close(out);
	give(d, dst);
out_in:
	close(in);
	return rv;
}

int docker_copy_given(const struct docker_lab *d, const char *src,
		      const char *dst, char *err)
{
	return copy_file(d, src, dst, err);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* "zone-listen = SERVICE=127.0.0.1:PORT" (node.conf) seen from inside
 * endpoint i's container: the same port at its own address. */
static int zone_listen_line(const struct docker_lab *d, int i, char *v,
			    FILE *out, char *err)
{
	char *colon = strrchr(v, ':'), *eq = strchr(v, '=');

	if (eq == NULL || colon == NULL || colon < eq)
		return ekl_errf(err, EKL_ECONFIG, "zone-listen '%s': no port",
				v);
	*eq = '\0';
	fprintf(out, "zone-listen = %s=%s:%s\n", v, d->ip[i], colon + 1);
	return 0;
}

/* "zone-peer = NAME=SERVICE,127.0.0.1:PORT[,mra]" (node.conf) seen from
 * inside endpoint i's container: through the proxy's route i>NAME at the
 * proxy's address, or (direct) straight to NAME's zone listener at its
 * address. */
static int zone_peer_line(const struct lab *l, const struct docker_lab *d,
			  int i, char *v, FILE *out, char *err)
{
	char *eq = strchr(v, '='), *svc, *addr, *rest;
	size_t n = lab_n(l);
	int j;

	if (eq == NULL || (addr = strchr(eq, ',')) == NULL)
		return ekl_errf(err, EKL_ECONFIG, "zone-peer '%s': no address",
				v);
	*eq = '\0';
	svc = eq + 1;
	*addr++ = '\0';
	rest = strchr(addr, ',');
	j = lab_node_index(l, trim(v));
	if (j < 0)
		return ekl_errf(err, EKL_ECONFIG,
				"zone-peer: no endpoint '%s' in the lab", v);
	if (l->route_port[(size_t)i * n + (size_t)j] > 0)
		fprintf(out, "zone-peer = %s=%s,%s:%d%s\n", l->nodes[j].name,
			svc, d->proxy_ip,
			l->route_port[(size_t)i * n + (size_t)j],
			rest != NULL ? rest : "");
	else
		fprintf(out, "zone-peer = %s=%s,%s:%d%s\n", l->nodes[j].name,
			svc, d->ip[j],
			lab_route_target(l, (size_t)i, (size_t)j),
			rest != NULL ? rest : "");
	return 0;
}

/* STATE/NODE/container.conf: node.conf (lab.c's, for the host) seen from
 * inside the container: the node's own address and zone listeners, peers
 * and zone peers through the proxy's address, its certificate files
 * copied to /lab/tls, data on /data. */
int docker_write_container_conf(const struct lab *l, const struct docker_lab *d,
				int i, char *err)
{
	const char *node = l->nodes[i].name;
	char src[LAB_PATH_MAX + 80], dst[LAB_PATH_MAX + 80],
	    tmp[LAB_PATH_MAX + 90], dir[LAB_PATH_MAX + 80];
	char line[1024], copy[1024];
	size_t n = lab_n(l);
	FILE *in = NULL, *out = NULL;
	int rv = 0;

	lab_path(l, node, "", dir, sizeof(dir));
	if ((rv = docker_mkdir_given(d, dir, err)) != 0)
		return rv;
	lab_path(l, node, "tls", dir, sizeof(dir));
	if ((rv = docker_mkdir_given(d, dir, err)) != 0)
		return rv;
	lab_path(l, node, "data", dir, sizeof(dir));
	if ((rv = docker_mkdir_given(d, dir, err)) != 0)
		return rv;
	lab_path(l, node, "node.conf", src, sizeof(src));
	lab_path(l, node, "container.conf", dst, sizeof(dst));
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = fopen(src, "r");
	if (in == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", src, strerror(errno));
	out = fopen(tmp, "w");
	if (out == NULL) {
		rv = ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fprintf(out,
		"# %s seen from inside container %s-%s (written by the "
		"docker runtime)\n",
		src, d->id, node);
	while (rv == 0 && fgets(line, sizeof(line), in) != NULL) {
		char *eq, *k, *v;

		snprintf(copy, sizeof(copy), "%s", line);
		eq = strchr(copy, '=');
		if (copy[0] == '#' || eq == NULL) {
			fputs(line, out);
			continue;
		}
		*eq = '\0';
		k = trim(copy);
		v = trim(eq + 1);
		if (strcmp(k, "listen") == 0) {
			/* A swarm task's own address changes with every
			 * task: it listens on all of them, and is reached
			 * through its service's virtual address. */
			fprintf(out, "listen = %s:%d\n",
				d->swarm ? "0.0.0.0" : d->ip[i],
				l->nodes[i].port);
		} else if (strcmp(k, "peer") == 0) {
			char *peq = strchr(v, '=');
			const char *opts = "";
			int j;

			if (peq != NULL) {
				*peq = '\0';
				/* `,dial=no` / `,accept=no` stay as they are.
				 */
				opts = strchr(peq + 1, ',');
				opts = opts != NULL ? opts : "";
			}
			j = lab_node_index(l, trim(v));
			if (j < 0 || j == i) {
				fputs(line, out);
				continue;
			}
			if (l->route_port[(size_t)i * n + (size_t)j] > 0)
				fprintf(
				    out, "peer = %s=%s:%d%s\n",
				    l->nodes[j].name, d->proxy_ip,
				    l->route_port[(size_t)i * n + (size_t)j],
				    opts);
			else if (d->swarm) /* never dialled: an address */
				fprintf(out, "peer = %s=%s:%d%s\n",
					l->nodes[j].name, d->proxy_ip,
					LAB_ROUTE_PORT_BASE + i * (int)n + j,
					opts);
			else
				fprintf(out, "peer = %s=%s:%d%s\n",
					l->nodes[j].name, d->ip[j],
					l->nodes[j].port, opts);
		} else if (strcmp(k, "zone-listen") == 0) {
			rv = zone_listen_line(d, i, v, out, err);
		} else if (strcmp(k, "zone-peer") == 0) {
			rv = zone_peer_line(l, d, i, v, out, err);
		} else if (strcmp(k, "cert") == 0 || strcmp(k, "key") == 0 ||
			   strcmp(k, "client-cert") == 0 ||
			   strcmp(k, "client-key") == 0 ||
			   strcmp(k, "ca") == 0) {
			const char *base = strrchr(v, '/');
			char to[LAB_PATH_MAX + 160];

			base = base != NULL ? base + 1 : v;
			snprintf(to, sizeof(to), "%s/%s/tls/%s", l->state, node,
				 base);
			rv = copy_file(d, v, to, err);
			fprintf(out, "%s = /lab/tls/%s\n", k, base);
		} else if (strcmp(k, "data") == 0) {
			fprintf(out, "data = /data\n");
		} else if (strcmp(k, "admin") == 0) {
			fprintf(out, "admin = /lab/admin.sock\n");
		} else {
			fputs(line, out);
		}
	}
	if (rv == 0 && d->swarm) /* the network admin channel */
		rv = swarm_admin_conf(l, d, i, out, err);
	if (fclose(out) != 0 && rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	out = NULL;
	if (rv == 0 && rename(tmp, dst) != 0)
		rv = ekl_errf(err, EKL_EIO, "%s: %s", dst, strerror(errno));
	if (rv == 0) {
		chmod(dst, 0600);
		give(d, dst);
	} else {
		unlink(tmp);
	}
out:
	if (in != NULL)
		fclose(in);
	return rv;
}

/* A YAML double-quoted scalar. */
static void yq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void compose_labels(FILE *f, const struct docker_lab *d,
			   const char *indent)
{
	fprintf(f, "%slabels:\n%s  ekulab.lab: ", indent, indent);
	yq(f, d->name);
	fprintf(f, "\n%s  ekulab.id: ", indent);
	yq(f, d->id);
	fputc('\n', f);
}

/* STATE/compose.yaml: the project this runtime drives, as compose sees it
 * (docker compose v2 or Debian's docker-compose 1.29). */
int docker_write_compose(const struct lab *l, const struct docker_lab *d,
			 char *err)
{
	char path[LAB_PATH_MAX + 32];
	size_t i, j, n = lab_n(l);
	FILE *f;

	lab_path(l, NULL, "compose.yaml", path, sizeof(path));
	f = fopen(path, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	fprintf(f,
		"# Lab %s as a compose project: what `ekulab lab up --runtime "
		"docker`\n"
		"# made from %s.\n"
		"# ekulab drives docker itself; this file is to read, or to "
		"run the same\n"
		"# lab by hand from a copy of the state directory (down "
		"removes it):\n"
		"#   cp -a %s COPY && ekulab lab down TOPOLOGY\n"
		"#   EKULAB_STATE=COPY docker compose -p %s -f "
		"COPY/compose.yaml up -d\n",
		l->topo.name, l->topo_path, l->state, d->id);
	fprintf(f, "services:\n  proxy:\n    image: ");
	yq(f, d->image);
	fprintf(f, "\n    container_name: %s-proxy\n    hostname: proxy\n",
		d->id);
	fprintf(f,
		"    user: \"%s\"\n    entrypoint: [\"/usr/bin/ekulab\", "
		"\"proxy\"]\n    command:\n      - \"--control\"\n"
		"      - \"/lab/proxy.sock\"\n",
		d->user);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (l->route_port[i * n + j] > 0)
				fprintf(f,
					"      - \"--route\"\n      - "
					"\"%s>%s=%s:%d,%s:%d\"\n",
					l->nodes[i].name, l->nodes[j].name,
					d->proxy_ip, l->route_port[i * n + j],
					d->ip[j], lab_route_target(l, i, j));
	fprintf(f, "    volumes:\n      - ");
	{
		char v[LAB_PATH_MAX + 48];

		snprintf(v, sizeof(v), "${EKULAB_STATE:-%s}/proxy:/lab",
			 l->state);
		yq(f, v);
	}
	fprintf(f,
		"\n    networks:\n      lab:\n        ipv4_address: %s\n"
		"    healthcheck:\n      disable: true\n",
		d->proxy_ip);
	compose_labels(f, d, "    ");
	for (i = 0; i < n; i++) {
		const struct lab_node *nd = &l->nodes[i];
		char v[LAB_PATH_MAX + 112];

		fprintf(f, "  %s:\n    image: ", nd->name);
		yq(f, d->image);
		fprintf(f,
			"\n    container_name: %s-%s\n    hostname: %s\n"
			"    user: \"%s\"\n"
			"    command: [\"--config\", \"/lab/container.conf\"",
			d->id, nd->name, nd->name, d->user);
		/* An external (ekunode --kind) has no version. */
		if (i < l->topo.n_nodes)
			fprintf(f, ", \"--version\", \"%s\"", nd->version);
		fprintf(f, "]\n    volumes:\n      - ");
		snprintf(v, sizeof(v), "${EKULAB_STATE:-%s}/%s:/lab", l->state,
			 nd->name);
		yq(f, v);
		fprintf(f,
			"\n      - type: volume\n        source: %s-data\n"
			"        target: /data\n        volume:\n"
			"          nocopy: true\n",
			nd->name);
		fprintf(f,
			"    networks:\n      lab:\n        ipv4_address: "
			"%s\n    depends_on: [proxy]\n",
			d->ip[i]);
		compose_labels(f, d, "    ");
		fprintf(f,
			"      ekulab.node: \"%s\"\n      ekulab.version: "
			"\"%s\"\n",
			nd->name, nd->version);
	}
	fprintf(f,
		"networks:\n  lab:\n    name: %s\n    driver: bridge\n"
		"    ipam:\n      config:\n        - subnet: %s\n"
		"          gateway: %s\n",
		d->id, d->subnet, d->gateway);
	compose_labels(f, d, "    ");
	fprintf(f, "volumes:\n");
	for (i = 0; i < n; i++) {
		char dev[LAB_PATH_MAX + 112];

		snprintf(dev, sizeof(dev), "${EKULAB_STATE:-%s}/%s/data",
			 l->state, l->nodes[i].name);
		fprintf(f,
			"  %s-data:\n    name: %s-%s-data\n    driver: "
			"local\n    driver_opts:\n      type: none\n"
			"      o: bind\n      device: ",
			l->nodes[i].name, d->id, l->nodes[i].name);
		yq(f, dev);
		fputc('\n', f);
		compose_labels(f, d, "    ");
	}
	if (fclose(f) != 0)
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	return 0;
}

/* Pass a sanitizer setting of ours on to the stack's containers. */
static void stack_env(FILE *f)
{
	static const char *const names[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
					    NULL};
	bool any = false;

	for (size_t k = 0; names[k] != NULL; k++) {
		const char *v = getenv(names[k]);

		if (v == NULL)
			continue;
		if (!any)
			fprintf(f, "    environment:\n");
		any = true;
		fprintf(f, "      %s: ", names[k]);
		yq(f, v);
		fputc('\n', f);
	}
}

/* deploy: replicas, no restarts (a fault's kill stays a kill), placement,
 * and the lab's labels on the service itself. */
static void stack_deploy(FILE *f, const struct docker_lab *d, int replicas,
			 const struct topo_placement *p, const char *node,
			 const char *version)
{
	fprintf(f,
		"    stop_grace_period: 5s\n"
		"    deploy:\n      replicas: %d\n      endpoint_mode: dnsrr\n"
		"      restart_policy:\n        condition: none\n"
		"      placement:\n        constraints:\n",
		replicas);
	if (p == NULL || (p->host[0] == '\0' && p->n_labels == 0)) {
		/* The manager's host: where the lab's state directory is. */
		fprintf(f, "          - ");
		{
			char c[128];

			snprintf(c, sizeof(c), "node.id == %s", d->manager);
			yq(f, c);
		}
		fputc('\n', f);
	} else {
		char c[512];

		if (p->host[0] != '\0') {
			snprintf(c, sizeof(c), "node.hostname == %s", p->host);
			fprintf(f, "          - ");
			yq(f, c);
			fputc('\n', f);
		}
		for (size_t k = 0; k < p->n_labels; k++) {
			snprintf(c, sizeof(c), "node.labels.%s == %s",
				 p->label_key[k], p->label_value[k]);
			fprintf(f, "          - ");
			yq(f, c);
			fputc('\n', f);
		}
	}
	compose_labels(f, d, "      ");
	if (node != NULL)
		fprintf(f,
			"        ekulab.node: \"%s\"\n        ekulab.version: "
			"\"%s\"\n",
			node, version);
}

int docker_write_stack(const struct lab *l, const struct docker_lab *d,
		       int proxy_replicas, int node_replicas, char *err)
{
	char path[LAB_PATH_MAX + 32], tmp[LAB_PATH_MAX + 40],
	    v[LAB_PATH_MAX + 112];
	size_t i, j, n = l->topo.n_nodes;
	FILE *f;

	lab_path(l, NULL, "stack.yaml", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f,
		"# Lab %s as a swarm stack: what `ekulab lab up --runtime "
		"swarm`\n# deployed from %s (docker stack deploy -c "
		"stack.yaml %s).\n"
		"# ekulab then scales and updates each service itself; "
		"`ekulab lab down`\n# removes the stack, its network and "
		"volumes by the label ekulab.id.\n",
		l->topo.name, l->topo_path, d->id);
	fprintf(f, "version: \"3.8\"\nservices:\n  proxy:\n    image: ");
	yq(f, d->image);
	fprintf(f,
		"\n    hostname: proxy\n    user: \"%s\"\n"
		"    entrypoint: [\"/usr/bin/ekulab\", \"proxy\"]\n"
		"    command:\n      - \"--control\"\n"
		"      - \"/lab/proxy.sock\"\n",
		d->user);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (l->route_port[i * n + j] > 0)
				fprintf(f,
					"      - \"--route\"\n      - "
					"\"%s>%s=0.0.0.0:%d,%s_%s:%d\"\n",
					l->nodes[i].name, l->nodes[j].name,
					l->route_port[i * n + j], d->id,
					l->nodes[j].name, l->nodes[j].port);
	snprintf(v, sizeof(v), "%s/proxy", l->state);
	fprintf(f, "    volumes:\n      - type: bind\n        source: ");
	yq(f, v);
	fprintf(f, "\n        target: /lab\n    networks: [lab]\n"
		   "    healthcheck:\n      disable: true\n");
	stack_env(f);
	compose_labels(f, d, "    ");
	stack_deploy(f, d, proxy_replicas, NULL, NULL, NULL);
	for (i = 0; i < n; i++) {
		const struct lab_node *nd = &l->nodes[i];

		fprintf(f, "  %s:\n    image: ", nd->name);
		yq(f, d->image);
		fprintf(f,
			"\n    hostname: %s\n    user: \"%s\"\n"
			"    command: [\"--config\", \"/lab/container.conf\", "
			"\"--version\", \"%s\"]\n",
			nd->name, d->user, nd->version);
		/* Its files as configs and secrets, its data on a volume
		 * of its host: nothing bound from this host. */
		swarm_node_mounts(l, d, (int)i, f);
		fprintf(f, "    networks: [lab]\n"
			   "    healthcheck:\n      disable: true\n");
		swarm_admin_ports(l, (int)i, f);
		stack_env(f);
		compose_labels(f, d, "    ");
		fprintf(f,
			"      ekulab.node: \"%s\"\n      ekulab.version: "
			"\"%s\"\n",
			nd->name, nd->version);
		stack_deploy(f, d, node_replicas, &l->topo.nodes[i].placement,
			     nd->name, nd->version);
	}
	fprintf(f, "networks:\n  lab:\n    external: true\n    name: %s\n",
		d->id);
	swarm_stack_objects(l, d, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}
