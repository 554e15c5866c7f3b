/* docker_net.c: the docker runtime's lab identity (names, labels,
 * STATE/docker.conf), its network and subnet choice, and the teardown. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_int.h"
#include "lab_runtime.h"
#include "ekulab/core/err.h"
#include "lab.h"

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Names and the container user; needs no engine and no file. */
void docker_ident(const struct lab *l, struct docker_lab *d)
{
	const char *img = getenv("EKULAB_IMAGE");
	const char *user = getenv("EKULAB_DOCKER_USER");

	memset(d, 0, sizeof(*d));
	d->swarm = l->rt != NULL && strcmp(l->rt->name, "swarm") == 0;
	snprintf(d->name, sizeof(d->name), "%s", l->topo.name);
	snprintf(d->id, sizeof(d->id), "ekulab-%.100s-%08x", l->topo.name,
		 (unsigned)fnv1a(l->state));
	snprintf(d->image, sizeof(d->image), "%s",
		 img != NULL && img[0] ? img : DOCKER_IMAGE_DEFAULT);
	if (user != NULL && user[0] != '\0')
		snprintf(d->user, sizeof(d->user), "%.31s", user);
	else if (geteuid() == 0)
		snprintf(d->user, sizeof(d->user), "%d:%d", DOCKER_UID,
			 DOCKER_UID);
	else
		snprintf(d->user, sizeof(d->user), "%u:%u", (unsigned)getuid(),
			 (unsigned)getgid());
}

void docker_cname(const struct docker_lab *d, const char *what, char *buf,
		  size_t len)
{
	snprintf(buf, len, "%s-%s", d->id, what);
}

int docker_conf_save(const struct lab *l, const struct docker_lab *d, char *err)
{
	char path[LAB_PATH_MAX + 32], tmp[LAB_PATH_MAX + 40];
	size_t i;
	FILE *f;

	lab_path(l, NULL, "docker.conf", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return ekl_errf(err, EKL_EIO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "# ekulab docker runtime: written by ekulab, do not edit\n");
	fprintf(f,
		"id %s\nimage %s\nuser %s\nsubnet %s\ngateway %s\n"
		"proxy %s\n",
		d->id, d->image, d->user, d->subnet, d->gateway, d->proxy_ip);
	if (d->manager[0] != '\0')
		fprintf(f, "manager %s\n", d->manager);
	for (i = 0; i < lab_n(l); i++)
		fprintf(f, "node %s %s\n", l->nodes[i].name, d->ip[i]);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int docker_conf_load(const struct lab *l, struct docker_lab *d, char *err)
{
	char path[LAB_PATH_MAX + 32], line[512], a[256], b[256];
	FILE *f;
	int i;

	docker_ident(l, d);
	lab_path(l, NULL, "docker.conf", path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return ekl_errf(err, EKL_ENOENT,
				"lab '%s' has no docker network yet (%s)",
				l->topo.name, path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "image %255s", d->image) == 1 ||
		    sscanf(line, "user %31s", d->user) == 1 ||
		    sscanf(line, "subnet %23s", d->subnet) == 1 ||
		    sscanf(line, "gateway %15s", d->gateway) == 1 ||
		    sscanf(line, "proxy %15s", d->proxy_ip) == 1 ||
		    sscanf(line, "manager %63s", d->manager) == 1)
			continue;
		if (sscanf(line, "node %255s %255s", a, b) == 2 &&
		    (i = lab_node_index(l, a)) >= 0)
			snprintf(d->ip[i], sizeof(d->ip[i]), "%.15s", b);
	}
	fclose(f);
	if (d->proxy_ip[0] == '\0' && !d->swarm)
		return ekl_errf(err, EKL_ECONFIG,
				"%s: no proxy address; 'ekulab lab down' and "
				"up again",
				path);
	return 0;
}

/* Every object of the lab carries both labels (down finds them by id). */
void docker_add_labels(struct docker_argv *a, const struct docker_lab *d)
{
	docker_argv_add(a, "--label");
	docker_argv_add(a, "ekulab.lab=%s", d->name);
	docker_argv_add(a, "--label");
	docker_argv_add(a, "ekulab.id=%s", d->id);
}

static int cidr_parse(const char *s, uint32_t *net, uint32_t *mask)
{
	unsigned a, b, c, e, p = 32;
	int k = sscanf(s, "%u.%u.%u.%u/%u", &a, &b, &c, &e, &p);

	if (k < 4 || a > 255 || b > 255 || c > 255 || e > 255 || p > 32)
		return -1;
	*mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
	*net = ((a << 24) | (b << 16) | (c << 8) | e) & *mask;
	return 0;
}

/* Does 10.213.x.0/24 overlap a docker subnet or a host route? */
static bool subnet_taken(unsigned x, const char *used)
{
	uint32_t cand = (10u << 24) | (213u << 16) | (x << 8), n, m;
	char word[64], line[256];
	const char *p = used;
	int off;
	FILE *f;

	while (sscanf(p, "%63s%n", word, &off) == 1) {
		p += off;
		if (cidr_parse(word, &n, &m) == 0 &&
		    ((cand & m) == n || (n & 0xffffff00u) == cand))
			return true;
	}
	/* Host routes (hex, little-endian destination and mask). */
	f = fopen("/proc/net/route", "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char ifname[32];
		unsigned dst, gw, flags, refc, use, metric, rmask;
		bool hit;

		if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifname, &dst, &gw,
			   &flags, &refc, &use, &metric, &rmask) != 8 ||
		    rmask == 0)
			continue;
		dst = ntohl(dst);
		rmask = ntohl(rmask);
		hit = (cand & rmask) == dst || (dst & 0xffffff00u) == cand;
		if (hit) {
			fclose(f);
			return true;
		}
	}
	fclose(f);
	return false;
}

/* Every subnet the engine's networks use, blank-separated. */
static int used_subnets(char *out, size_t len, char *err)
{
	return docker_inspect_all("network",
				  "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
				  out, len, err);
}

/* The network, addresses, docker.conf and compose.yaml, made once per up. */
int docker_ensure(struct lab *l, struct docker_lab *d, char *err)
{
	char used[DOCKER_OUT_MAX], e[EKL_ERRLEN];
	unsigned x0, k;
	size_t i;
	int rv, tries = 0;

	if (docker_conf_load(l, d, e) == 0 && docker_exists("network", d->id))
		return 0;
	docker_ident(l, d);
	if (lab_n(l) > 200)
		return ekl_errf(err, EKL_EINVAL, "too many nodes for a /24");
	if ((rv = docker_check_image(d, err)) != 0 ||
	    (d->swarm && (rv = swarm_check_hosts(l, d, err)) != 0))
		return rv;
	x0 = fnv1a(d->id) % 256;
	for (k = 0; k < 256; k++) {
		unsigned x = (x0 + k) % 256;
		struct docker_argv a;

		if (k == 0 || tries > 0) {
			if ((rv = used_subnets(used, sizeof(used), err)) != 0)
				return rv;
		}
		if (subnet_taken(x, used))
			continue;
		snprintf(d->subnet, sizeof(d->subnet), "10.213.%u.0/24", x);
		snprintf(d->gateway, sizeof(d->gateway), "10.213.%u.1", x);
		snprintf(d->proxy_ip, sizeof(d->proxy_ip), "10.213.%u.2", x);
		for (i = 0; i < lab_n(l); i++)
			snprintf(d->ip[i], sizeof(d->ip[i]), "10.213.%u.%u", x,
				 (unsigned)((10 + i) & 0xff)); /* n <= 200 */
		docker_argv_init(&a, "network");
		docker_argv_add(&a, "create");
		docker_argv_add(&a, "--driver");
		docker_argv_add(&a, d->swarm ? "overlay" : "bridge");
		if (d->swarm)
			docker_argv_add(&a, "--attachable");
		docker_argv_add(&a, "--subnet");
		docker_argv_add(&a, "%s", d->subnet);
		docker_argv_add(&a, "--gateway");
		docker_argv_add(&a, "%s", d->gateway);
		docker_add_labels(&a, d);
		docker_argv_add(&a, "%s", d->id);
		rv = docker_run(&a, NULL, NULL, 0, err);
		if (rv == 0)
			break;
		/* Another lab took the subnet meanwhile: next one. */
		if (strstr(err, "overlap") == NULL || ++tries > 8)
			return rv;
	}
	if (k == 256)
		return ekl_errf(err, EKL_EEXIST,
				"every subnet 10.213.0.0/24 to 10.213.255.0/24 "
				"is in use; remove some docker networks");
	if ((rv = docker_conf_save(l, d, err)) != 0 ||
	    (!d->swarm && (rv = docker_write_compose(l, d, err)) != 0))
		return rv;
	return 0;
}

/* Ids of every object of kind (container, volume) with the lab's label. */
static int labelled(const struct docker_lab *d, const char *kind, char *out,
		    size_t len, char *err)
{
	struct docker_argv a;

	docker_argv_init(&a, kind);
	docker_argv_add(&a, "ls");
	docker_argv_add(&a, "--quiet");
	if (strcmp(kind, "container") == 0)
		docker_argv_add(&a, "--all");
	docker_argv_add(&a, "--filter");
	docker_argv_add(&a, "label=ekulab.id=%s", d->id);
	return docker_run(&a, NULL, out, len, err);
}

static int remove_labelled(const struct docker_lab *d, const char *kind,
			   char *err)
{
	char ids[DOCKER_OUT_MAX], *save = NULL, *id;
	struct docker_argv a;
	int rv;

	if ((rv = labelled(d, kind, ids, sizeof(ids), err)) != 0)
		return rv;
	docker_argv_init(&a, kind);
	docker_argv_add(&a, "rm");
	if (strcmp(kind, "container") == 0)
		docker_argv_add(&a, "--force");
	for (id = strtok_r(ids, " \n", &save); id != NULL;
	     id = strtok_r(NULL, " \n", &save))
		docker_argv_add(&a, "%s", id);
	if (a.n == (strcmp(kind, "container") == 0 ? 3u : 2u)) {
		docker_argv_free(&a);
		return 0;
	}
	return docker_run(&a, NULL, NULL, 0, err);
}

int docker_teardown(const struct docker_lab *d, char *err)
{
	char e[EKL_ERRLEN];
	int rv = 0;

	/* In dependency order; go on past a failure. */
	if (d->swarm && remove_labelled(d, "service", e) != 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	if (remove_labelled(d, "container", e) != 0 && rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	/* A swarm releases an overlay network's addresses a moment after its
	 * services go. */
	for (int k = 0; k < (d->swarm ? 100 : 1); k++) {
		if (!docker_exists("network", d->id))
			break;
		if (docker_simple("network", "rm", d->id, e) == 0) {
			/* A swarm's network goes a moment after rm says so. */
			for (int w = 0; d->swarm && w < 100 &&
					docker_exists("network", d->id);
			     w++)
				usleep(100000);
			break;
		}
		if (k + 1 == (d->swarm ? 100 : 1)) {
			if (rv == 0)
				rv = ekl_errf(err, EKL_EIO, "%s", e);
		} else {
			usleep(100000);
		}
	}
	if (remove_labelled(d, "volume", e) != 0 && rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	return rv;
}
