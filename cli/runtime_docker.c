/* runtime_docker.c: the docker runtime: each node, and the lab proxy, in its
 * own container of the offline node image (docker/build-image.sh) on a
 * network the lab creates, driven by plain `docker` commands (fork/exec).
 *
 * What one lab makes, every object labelled ekulab.lab=NAME and
 * ekulab.id=ID, where ID = "ekulab-NAME-HASH" and HASH is of the state
 * directory (two labs of one name in two state directories never meet):
 *   network   ID             bridge, subnet 10.213.X.0/24: X from the
 *                            hash, moved on past every subnet in use
 *   container ID-proxy       `ekulab proxy` at .2, STATE/proxy on /lab;
 *                            STATE/proxy.sock links to its control socket
 *   container ID-NODE        ekunode at .(10+i), STATE/NODE on /lab: its
 *                            container.conf, tls/ (its own certificate,
 *                            key and the CA bundle), admin.sock
 *   volume    ID-NODE-data   its database on /data: a local volume bound
 *                            to STATE/NODE/data, so restarts and upgrades
 *                            keep it and the host can read it
 * STATE/docker.conf remembers the subnet and the addresses;
 * STATE/compose.yaml is the same project as a compose file, to read or to
 * run by hand.
 *
 * Node operations: start = `docker start` of the node's stopped container
 * when it has the same image and version, else remove it and `docker run`
 * a new one (an upgrade is a new container of the same image with another
 * --version, on the same volume); stop = `docker stop`; kill = `docker
 * kill` (SIGKILL); pause / resume = `docker pause` / `unpause` (the cgroup
 * freezer). Link faults and partitions stay with the proxy, exactly as
 * with processes, so a plan's observations (e.g. `cut`) are the same.
 *
 * Containers run as uid 10001 (the image's user) when ekulab runs as root,
 * after the node's directory is given to that uid; otherwise as the
 * invoking user (--user UID:GID), who owns the state directory already.
 * Either way the host reaches the admin sockets through the bind mount.
 *
 * stop_proxy is the teardown: lab_stop_all calls it last, after every
 * node. It removes every container, the network and the volumes labelled
 * with the lab's ID, and nothing else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/err.h"
#include "ekulab/mem.h"
#include "lab.h"
#include "lab_runtime.h"

#define DK_IMAGE_DEFAULT "ekulab-node:latest"
#define DK_UID		 10001 /* the image's user (docker/build-image.sh) */
#define DK_TIMEOUT_S	 120.0
#define DK_OUT_MAX	 65536

/* The lab's docker identity and addresses (STATE/docker.conf). */
struct dk {
	char id[160];
	char name[TOPO_NAME_MAX + 1];
	char image[256];
	char user[32];
	char subnet[24];
	char gateway[16];
	char proxy_ip[16];
	char ip[TOPO_MAX_NODES][16];
};

/* ---- running docker ------------------------------------------------------ */

/* An argument vector that owns its strings. */
struct dk_argv {
	char **v;
	size_t n, cap;
	bool oom;
};

static void argv_add(struct dk_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void argv_add(struct dk_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int len;

	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = ekl_realloc(a->v, cap * sizeof(*v));

		if (v == NULL) {
			a->oom = true;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = len < 0 ? NULL : ekl_malloc((size_t)len + 1);
	if (s == NULL) {
		a->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	va_end(ap);
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* A new vector: the docker client ($EKULAB_DOCKER or docker) and sub. */
static void argv_init(struct dk_argv *a, const char *sub)
{
	const char *docker = getenv("EKULAB_DOCKER");

	memset(a, 0, sizeof(*a));
	argv_add(a, "%s", docker != NULL && docker[0] ? docker : "docker");
	argv_add(a, "%s", sub);
}

static void argv_free(struct dk_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		ekl_free(a->v[i]);
	ekl_free(a->v);
	memset(a, 0, sizeof(*a));
}

/* Every object of the lab carries both labels (down finds them by id). */
static void add_labels(struct dk_argv *a, const struct dk *d)
{
	argv_add(a, "--label");
	argv_add(a, "ekulab.lab=%s", d->name);
	argv_add(a, "--label");
	argv_add(a, "ekulab.id=%s", d->id);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The last non-empty line of s, for error messages. */
static const char *last_line(char *s)
{
	char *e = s + strlen(s), *p;

	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		*--e = '\0';
	p = strrchr(s, '\n');
	return p != NULL ? p + 1 : s;
}

/* Run a docker command; frees a. Its stdout goes to `out` (NUL-terminated,
 * cut at outlen; may be NULL) or, with to_file, stdout and stderr both go
 * to that file. Non-zero exit: EKL_EIO with docker's last error line. */
static int dk_run(struct dk_argv *a, const char *to_file, char *out,
		  size_t outlen, char *err)
{
	char ebuf[2048], sink[4096];
	size_t olen = 0, elen = 0;
	int opipe[2] = {-1, -1}, epipe[2] = {-1, -1}, st = 0, rv = 0;
	double t0 = now_s();
	pid_t pid;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	ebuf[0] = '\0';
	if (a->oom) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out_free;
	}
	if (pipe2(opipe, O_CLOEXEC) != 0 || pipe2(epipe, O_CLOEXEC) != 0) {
		rv = ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
		goto out_close;
	}
	pid = fork();
	if (pid < 0) {
		rv = ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
		goto out_close;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		if (to_file != NULL) {
			int fd =
			    open(to_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			dup2(fd >= 0 ? fd : nul, 1);
			dup2(fd >= 0 ? fd : nul, 2);
		} else {
			dup2(opipe[1], 1);
			dup2(epipe[1], 2);
		}
		execvp(a->v[0], a->v);
		dprintf(2, "cannot run %s: %s\n", a->v[0], strerror(errno));
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = {{opipe[0], POLLIN, 0},
				      {epipe[0], POLLIN, 0}};
		int k;

		if (now_s() - t0 > DK_TIMEOUT_S) {
			kill(pid, SIGKILL);
			snprintf(ebuf, sizeof(ebuf),
				 "no answer within %.0f s (is the engine "
				 "hung?)",
				 DK_TIMEOUT_S);
			break;
		}
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		for (k = 0; k < 2; k++) {
			char *buf = k == 0 ? out : ebuf;
			size_t cap = k == 0 ? outlen : sizeof(ebuf);
			size_t *len = k == 0 ? &olen : &elen;
			ssize_t r;

			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP)))
				continue;
			if (buf == NULL || *len + 1 >= cap) {
				buf = sink; /* full: read and drop */
				cap = sizeof(sink);
				r = read(p[k].fd, sink, sizeof(sink));
			} else {
				r = read(p[k].fd, buf + *len, cap - *len - 1);
				if (r > 0) {
					*len += (size_t)r;
					buf[*len] = '\0';
				}
			}
			if (r == 0 || (r < 0 && errno != EINTR)) {
				close(p[k].fd);
				if (k == 0)
					opipe[0] = -1;
				else
					epipe[0] = -1;
				open_fds--;
			}
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		const char *why = last_line(ebuf);

		if (WIFEXITED(st) && WEXITSTATUS(st) == 127 &&
		    strncmp(why, "cannot run ", 11) == 0)
			rv = ekl_errf(err, EKL_ENOENT,
				      "%s; install Debian's docker.io "
				      "(scripts/docker-engine.sh) or set "
				      "EKULAB_DOCKER",
				      why);
		else
			rv = ekl_errf(err, EKL_EIO, "docker %s: %s", a->v[1],
				      why[0] != '\0' ? why
						     : "failed (see above)");
	}
out_close:
	for (int k = 0; k < 2; k++) {
		if (opipe[k] >= 0)
			close(opipe[k]);
		if (epipe[k] >= 0)
			close(epipe[k]);
	}
out_free:
	argv_free(a);
	return rv;
}

/* ---- the lab's identity, addresses and files ----------------------------- */

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
static void dk_ident(const struct lab *l, struct dk *d)
{
	const char *img = getenv("EKULAB_IMAGE");
	const char *user = getenv("EKULAB_DOCKER_USER");

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", l->topo.name);
	snprintf(d->id, sizeof(d->id), "ekulab-%.100s-%08x", l->topo.name,
		 (unsigned)fnv1a(l->state));
	snprintf(d->image, sizeof(d->image), "%s",
		 img != NULL && img[0] ? img : DK_IMAGE_DEFAULT);
	if (user != NULL && user[0] != '\0')
		snprintf(d->user, sizeof(d->user), "%.31s", user);
	else if (geteuid() == 0)
		snprintf(d->user, sizeof(d->user), "%d:%d", DK_UID, DK_UID);
	else
		snprintf(d->user, sizeof(d->user), "%u:%u", (unsigned)getuid(),
			 (unsigned)getgid());
}

static void cname(const struct dk *d, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", d->id, what);
}

static int dk_save(const struct lab *l, const struct dk *d, char *err)
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
	for (i = 0; i < l->topo.n_nodes; i++)
		fprintf(f, "node %s %s\n", l->nodes[i].name, d->ip[i]);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return ekl_errf(err, EKL_EIO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* Read STATE/docker.conf over dk_ident's values (EKL_ENOENT: none). */
static int dk_load(const struct lab *l, struct dk *d, char *err)
{
	char path[LAB_PATH_MAX + 32], line[512], a[256], b[256];
	FILE *f;
	int i;

	dk_ident(l, d);
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
		    sscanf(line, "proxy %15s", d->proxy_ip) == 1)
			continue;
		if (sscanf(line, "node %255s %255s", a, b) == 2 &&
		    (i = lab_node_index(l, a)) >= 0)
			snprintf(d->ip[i], sizeof(d->ip[i]), "%.15s", b);
	}
	fclose(f);
	if (d->proxy_ip[0] == '\0')
		return ekl_errf(err, EKL_ECONFIG,
				"%s: no proxy address; 'ekulab lab down' and "
				"up again",
				path);
	return 0;
}

/* Uid and gid of "UID:GID", or -1 when the user is a name. */
static int user_ids(const struct dk *d, uid_t *uid, gid_t *gid)
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
static void give(const struct dk *d, const char *path)
{
	uid_t u;
	gid_t g;

	if (geteuid() == 0 && user_ids(d, &u, &g) == 0 &&
	    lchown(path, u, g) != 0)
		fprintf(stderr, "ekulab: chown %s: %s\n", path,
			strerror(errno));
}

static int mkdir_given(const struct dk *d, const char *path, char *err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return ekl_errf(err, EKL_EIO, "mkdir %s: %s", path,
				strerror(errno));
	give(d, path);
	return 0;
}

static int copy_file(const struct dk *d, const char *src, const char *dst,
		     char *err)
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

/* STATE/NODE/container.conf: node.conf (lab.c's, for the host) seen from
 * inside the container: the node's own address, peers through the proxy's
 * address, its certificate files copied to /lab/tls, data on /data. */
static int write_container_conf(struct lab *l, const struct dk *d, int i,
				char *err)
{
	const char *node = l->nodes[i].name;
	char src[LAB_PATH_MAX + 80], dst[LAB_PATH_MAX + 80],
	    tmp[LAB_PATH_MAX + 90], dir[LAB_PATH_MAX + 80];
	char line[1024], copy[1024];
	size_t n = l->topo.n_nodes;
	FILE *in = NULL, *out = NULL;
	int rv = 0;

	lab_path(l, node, "", dir, sizeof(dir));
	if ((rv = mkdir_given(d, dir, err)) != 0)
		return rv;
	lab_path(l, node, "tls", dir, sizeof(dir));
	if ((rv = mkdir_given(d, dir, err)) != 0)
		return rv;
	lab_path(l, node, "data", dir, sizeof(dir));
	if ((rv = mkdir_given(d, dir, err)) != 0)
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
			fprintf(out, "listen = %s:%d\n", d->ip[i],
				l->nodes[i].port);
		} else if (strcmp(k, "peer") == 0) {
			char *peq = strchr(v, '=');
			int j;

			if (peq != NULL)
				*peq = '\0';
			j = lab_node_index(l, trim(v));
			if (j < 0 || j == i) {
				fputs(line, out);
				continue;
			}
			if (l->route_port[(size_t)i * n + (size_t)j] > 0)
				fprintf(
				    out, "peer = %s=%s:%d\n", l->nodes[j].name,
				    d->proxy_ip,
				    l->route_port[(size_t)i * n + (size_t)j]);
			else
				fprintf(out, "peer = %s=%s:%d\n",
					l->nodes[j].name, d->ip[j],
					l->nodes[j].port);
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

static void compose_labels(FILE *f, const struct dk *d, const char *indent)
{
	fprintf(f, "%slabels:\n%s  ekulab.lab: ", indent, indent);
	yq(f, d->name);
	fprintf(f, "\n%s  ekulab.id: ", indent);
	yq(f, d->id);
	fputc('\n', f);
}

/* STATE/compose.yaml: the project this runtime drives, as compose sees it
 * (docker compose v2 or Debian's docker-compose 1.29). */
static int write_compose(const struct lab *l, const struct dk *d, char *err)
{
	char path[LAB_PATH_MAX + 32];
	size_t i, j, n = l->topo.n_nodes;
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
					d->ip[j], l->nodes[j].port);
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
			"    command: [\"--config\", \"/lab/container.conf\", "
			"\"--version\", \"%s\"]\n    volumes:\n      - ",
			d->id, nd->name, nd->name, d->user, nd->version);
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

/* ---- the network --------------------------------------------------------- */

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
	char ids[DK_OUT_MAX], *save = NULL, *id;
	struct dk_argv a;
	int rv;

	argv_init(&a, "network");
	argv_add(&a, "ls");
	argv_add(&a, "-q");
	if ((rv = dk_run(&a, NULL, ids, sizeof(ids), err)) != 0)
		return rv;
	argv_init(&a, "network");
	argv_add(&a, "inspect");
	argv_add(&a, "--format");
	argv_add(&a, "{{range .IPAM.Config}}{{.Subnet}} {{end}}");
	for (id = strtok_r(ids, " \n", &save); id != NULL;
	     id = strtok_r(NULL, " \n", &save))
		argv_add(&a, "%s", id);
	if (a.n == 4) {
		argv_free(&a);
		out[0] = '\0';
		return 0;
	}
	return dk_run(&a, NULL, out, len, err);
}

static bool exists(const char *what, const char *name)
{
	struct dk_argv a;
	char err[EKL_ERRLEN];

	argv_init(&a, what);
	argv_add(&a, "inspect");
	argv_add(&a, "--format");
	argv_add(&a, "{{.Name}}");
	argv_add(&a, "%s", name);
	return dk_run(&a, NULL, NULL, 0, err) == 0;
}

static int check_image(const struct dk *d, char *err)
{
	struct dk_argv a;
	char e[EKL_ERRLEN];
	int rv;

	argv_init(&a, "image");
	argv_add(&a, "inspect");
	argv_add(&a, "--format");
	argv_add(&a, "{{.Id}}");
	argv_add(&a, "%s", d->image);
	if ((rv = dk_run(&a, NULL, NULL, 0, e)) == 0)
		return 0;
	if (rv == EKL_ENOENT)
		return ekl_errf(err, rv, "%s", e);
	if (strstr(e, "No such image") == NULL &&
	    strstr(e, "no such image") == NULL)
		return ekl_errf(err, EKL_EIO,
				"%s (scripts/docker-engine.sh starts an "
				"engine)",
				e);
	return ekl_errf(err, EKL_ENOENT,
			"no image %s; build it offline with "
			"'docker/build-image.sh --build BUILD_DIR' (or set "
			"EKULAB_IMAGE)",
			d->image);
}

/* The network, addresses, docker.conf and compose.yaml, made once per up. */
static int dk_ensure(struct lab *l, struct dk *d, char *err)
{
	char used[DK_OUT_MAX], e[EKL_ERRLEN];
	unsigned x0, k;
	size_t i;
	int rv, tries = 0;

	if (dk_load(l, d, e) == 0 && exists("network", d->id))
		return 0;
	dk_ident(l, d);
	if (l->topo.n_nodes > 200)
		return ekl_errf(err, EKL_EINVAL, "too many nodes for a /24");
	if ((rv = check_image(d, err)) != 0)
		return rv;
	x0 = fnv1a(d->id) % 256;
	for (k = 0; k < 256; k++) {
		unsigned x = (x0 + k) % 256;
		struct dk_argv a;

		if (k == 0 || tries > 0) {
			if ((rv = used_subnets(used, sizeof(used), err)) != 0)
				return rv;
		}
		if (subnet_taken(x, used))
			continue;
		snprintf(d->subnet, sizeof(d->subnet), "10.213.%u.0/24", x);
		snprintf(d->gateway, sizeof(d->gateway), "10.213.%u.1", x);
		snprintf(d->proxy_ip, sizeof(d->proxy_ip), "10.213.%u.2", x);
		for (i = 0; i < l->topo.n_nodes; i++)
			snprintf(d->ip[i], sizeof(d->ip[i]), "10.213.%u.%u", x,
				 (unsigned)((10 + i) & 0xff)); /* n <= 200 */
		argv_init(&a, "network");
		argv_add(&a, "create");
		argv_add(&a, "--driver");
		argv_add(&a, "bridge");
		argv_add(&a, "--subnet");
		argv_add(&a, "%s", d->subnet);
		argv_add(&a, "--gateway");
		argv_add(&a, "%s", d->gateway);
		add_labels(&a, d);
		argv_add(&a, "%s", d->id);
		rv = dk_run(&a, NULL, NULL, 0, err);
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
	if ((rv = dk_save(l, d, err)) != 0 || (rv = write_compose(l, d, err)))
		return rv;
	return 0;
}

/* ---- containers ---------------------------------------------------------- */

/* "STATUS VERSION IMAGEID" of a container; EKL_ENOENT when none. */
static int inspect(const char *name, char *out, size_t len)
{
	struct dk_argv a;
	char err[EKL_ERRLEN];

	argv_init(&a, "container");
	argv_add(&a, "inspect");
	argv_add(&a, "--format");
	argv_add(&a, "{{.State.Status}} {{index .Config.Labels "
		     "\"ekulab.version\"}} {{.Image}}");
	argv_add(&a, "%s", name);
	if (dk_run(&a, NULL, out, len, err) != 0)
		return EKL_ENOENT;
	return 0;
}

static int simple(const char *sub, const char *opt, const char *name, char *err)
{
	struct dk_argv a;

	argv_init(&a, sub);
	if (opt != NULL)
		argv_add(&a, "%s", opt);
	argv_add(&a, "%s", name);
	return dk_run(&a, NULL, NULL, 0, err);
}

/* The container's output into path (its log, as node.log would be). */
static void save_logs(const char *name, const char *path)
{
	struct dk_argv a;
	char err[EKL_ERRLEN];

	argv_init(&a, "logs");
	argv_add(&a, "%s", name);
	(void)dk_run(&a, path, NULL, 0, err);
}

static void node_names(const struct lab *l, const struct dk *d, int i, char *cn,
		       size_t cnlen, char *log, size_t loglen)
{
	cname(d, l->nodes[i].name, cn, cnlen);
	lab_path(l, l->nodes[i].name, "node.log", log, loglen);
}

/* Pass a sanitizer setting of ours on to the container. */
static void pass_env(struct dk_argv *a, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL) {
		argv_add(a, "--env");
		argv_add(a, "%s=%s", name, v);
	}
}

static int run_node(struct lab *l, const struct dk *d, int i, char *err)
{
	const struct lab_node *nd = &l->nodes[i];
	char cn[256], dir[LAB_PATH_MAX + 80];
	struct dk_argv a;
	int rv;

	cname(d, nd->name, cn, sizeof(cn));
	lab_path(l, nd->name, "data", dir, sizeof(dir));
	argv_init(&a, "volume");
	argv_add(&a, "create");
	argv_add(&a, "--driver");
	argv_add(&a, "local");
	argv_add(&a, "--opt");
	argv_add(&a, "type=none");
	argv_add(&a, "--opt");
	argv_add(&a, "o=bind");
	argv_add(&a, "--opt");
	argv_add(&a, "device=%s", dir);
	add_labels(&a, d);
	argv_add(&a, "%s-data", cn);
	if ((rv = dk_run(&a, NULL, NULL, 0, err)) != 0)
		return rv;
	lab_path(l, nd->name, "", dir, sizeof(dir));
	dir[strlen(dir) - 1] = '\0'; /* no trailing slash */
	argv_init(&a, "run");
	argv_add(&a, "--detach");
	argv_add(&a, "--name");
	argv_add(&a, "%s", cn);
	argv_add(&a, "--hostname");
	argv_add(&a, "%s", nd->name);
	argv_add(&a, "--network");
	argv_add(&a, "%s", d->id);
	argv_add(&a, "--ip");
	argv_add(&a, "%s", d->ip[i]);
	argv_add(&a, "--user");
	argv_add(&a, "%s", d->user);
	add_labels(&a, d);
	argv_add(&a, "--label");
	argv_add(&a, "ekulab.node=%s", nd->name);
	argv_add(&a, "--label");
	argv_add(&a, "ekulab.version=%s", nd->version);
	pass_env(&a, "ASAN_OPTIONS");
	pass_env(&a, "UBSAN_OPTIONS");
	argv_add(&a, "--mount");
	argv_add(&a, "type=bind,source=%s,target=/lab", dir);
	argv_add(&a, "--mount");
	argv_add(&a, "type=volume,source=%s-data,target=/data,volume-nocopy",
		 cn);
	argv_add(&a, "%s", d->image);
	argv_add(&a, "--config");
	argv_add(&a, "/lab/container.conf");
	argv_add(&a, "--version");
	argv_add(&a, "%s", nd->version);
	return dk_run(&a, NULL, NULL, 0, err);
}

static int start_node(struct lab *l, int i, char *err)
{
	char cn[256], st[512], status[64] = "", ver[64] = "", img[160] = "",
			       want[160] = "";
	struct dk_argv a;
	struct dk d;
	int rv;

	if ((rv = dk_ensure(l, &d, err)) != 0 ||
	    (rv = write_container_conf(l, &d, i, err)) != 0)
		return rv;
	l->nodes[i].pid = 0;
	cname(&d, l->nodes[i].name, cn, sizeof(cn));
	if (inspect(cn, st, sizeof(st)) == 0) {
		sscanf(st, "%63s %63s %159s", status, ver, img);
		argv_init(&a, "image");
		argv_add(&a, "inspect");
		argv_add(&a, "--format");
		argv_add(&a, "{{.Id}}");
		argv_add(&a, "%s", d.image);
		(void)dk_run(&a, NULL, want, sizeof(want), err);
		want[strcspn(want, "\n")] = '\0';
		/* The same container again: a restart. */
		if ((strcmp(status, "exited") == 0 ||
		     strcmp(status, "created") == 0) &&
		    strcmp(ver, l->nodes[i].version) == 0 &&
		    strcmp(img, want) == 0)
			return simple("start", NULL, cn, err);
		/* Another version or image, or still there: recreate. */
		if ((rv = simple("rm", "--force", cn, err)) != 0)
			return rv;
	}
	return run_node(l, &d, i, err);
}

static bool node_running(const struct lab *l, int i)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct dk d;

	dk_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (inspect(cn, st, sizeof(st)) != 0)
		return false;
	if (strncmp(st, "running ", 8) == 0 || strncmp(st, "paused ", 7) == 0)
		return true;
	save_logs(cn, log); /* so "see NODE/node.log" holds */
	return false;
}

/* Thaw a paused container before stopping or killing it, as the process
 * runtime sends SIGCONT before SIGTERM (and some engines refuse). */
static void thaw(const char *cn)
{
	char st[512], err[EKL_ERRLEN];

	if (inspect(cn, st, sizeof(st)) == 0 && strncmp(st, "paused ", 7) == 0)
		(void)simple("unpause", NULL, cn, err);
}

static int stop_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct dk d;

	(void)err;
	dk_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	l->nodes[i].pid = 0;
	if (inspect(cn, st, sizeof(st)) != 0)
		return 0;
	thaw(cn);
	(void)simple("stop", "--time=5", cn, err);
	save_logs(cn, log);
	return 0;
}

static int kill_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct dk d;
	int rv, k;

	dk_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (!node_running(l, i))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	thaw(cn);
	if ((rv = simple("kill", "--signal=KILL", cn, err)) != 0)
		return rv;
	for (k = 0; k < 100; k++) {
		if (inspect(cn, st, sizeof(st)) != 0 ||
		    strncmp(st, "running ", 8) != 0)
			break;
		usleep(20000);
	}
	save_logs(cn, log);
	return 0;
}

static int pause_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct dk d;

	dk_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (inspect(cn, st, sizeof(st)) != 0 ||
	    (strncmp(st, "running ", 8) != 0 && strncmp(st, "paused ", 7) != 0))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	if (strncmp(st, "paused ", 7) == 0)
		return 0;
	return simple("pause", NULL, cn, err);
}

static int resume_node(struct lab *l, int i, char *err)
{
	char cn[256], log[LAB_PATH_MAX + 80], st[512];
	struct dk d;

	dk_ident(l, &d);
	node_names(l, &d, i, cn, sizeof(cn), log, sizeof(log));
	if (inspect(cn, st, sizeof(st)) != 0 ||
	    (strncmp(st, "running ", 8) != 0 && strncmp(st, "paused ", 7) != 0))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	if (strncmp(st, "paused ", 7) != 0)
		return 0; /* as SIGCONT to a running process */
	return simple("unpause", NULL, cn, err);
}

/* ---- the proxy and the teardown ------------------------------------------ */

static int start_proxy(struct lab *l, char *err)
{
	char cn[256], dir[LAB_PATH_MAX + 16], link[LAB_PATH_MAX + 32];
	size_t i, j, n = l->topo.n_nodes;
	struct dk_argv a;
	struct dk d;
	int rv;

	if ((rv = dk_ensure(l, &d, err)) != 0)
		return rv;
	l->proxy_pid = 0;
	lab_path(l, NULL, "proxy", dir, sizeof(dir));
	if ((rv = mkdir_given(&d, dir, err)) != 0)
		return rv;
	/* lab_fault talks to STATE/proxy.sock: point it into the mount. */
	lab_path(l, NULL, "proxy.sock", link, sizeof(link));
	unlink(link);
	if (symlink("proxy/proxy.sock", link) != 0)
		return ekl_errf(err, EKL_EIO, "symlink %s: %s", link,
				strerror(errno));
	cname(&d, "proxy", cn, sizeof(cn));
	(void)simple("rm", "--force", cn, err);
	argv_init(&a, "run");
	argv_add(&a, "--detach");
	argv_add(&a, "--name");
	argv_add(&a, "%s", cn);
	argv_add(&a, "--hostname");
	argv_add(&a, "proxy");
	argv_add(&a, "--network");
	argv_add(&a, "%s", d.id);
	argv_add(&a, "--ip");
	argv_add(&a, "%s", d.proxy_ip);
	argv_add(&a, "--user");
	argv_add(&a, "%s", d.user);
	add_labels(&a, &d);
	argv_add(&a, "--no-healthcheck");
	pass_env(&a, "ASAN_OPTIONS");
	pass_env(&a, "UBSAN_OPTIONS");
	argv_add(&a, "--mount");
	argv_add(&a, "type=bind,source=%s,target=/lab", dir);
	argv_add(&a, "--entrypoint");
	argv_add(&a, "/usr/bin/ekulab");
	argv_add(&a, "%s", d.image);
	argv_add(&a, "proxy");
	argv_add(&a, "--control");
	argv_add(&a, "/lab/proxy.sock");
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int port = l->route_port[i * n + j];

			if (port <= 0)
				continue;
			argv_add(&a, "--route");
			argv_add(&a, "%s>%s=%s:%d,%s:%d", l->nodes[i].name,
				 l->nodes[j].name, d.proxy_ip, port, d.ip[j],
				 l->nodes[j].port);
		}
	if ((rv = dk_run(&a, NULL, NULL, 0, err)) != 0)
		return rv;
	/* The control socket appears once every route listens. */
	for (int k = 0; k < 500; k++) {
		struct stat sb;

		if (stat(link, &sb) == 0)
			return 0;
		usleep(20000);
	}
	lab_path(l, NULL, "proxy.log", dir, sizeof(dir));
	save_logs(cn, dir);
	return ekl_errf(err, EKL_EIO,
			"the proxy container %s made no control socket within "
			"10 s (see %s)",
			cn, dir);
}

/* Ids of every object of kind (container, volume) with the lab's label. */
static int labelled(const struct dk *d, const char *kind, char *out, size_t len,
		    char *err)
{
	struct dk_argv a;

	argv_init(&a, kind);
	argv_add(&a, "ls");
	argv_add(&a, "--quiet");
	if (strcmp(kind, "container") == 0)
		argv_add(&a, "--all");
	argv_add(&a, "--filter");
	argv_add(&a, "label=ekulab.id=%s", d->id);
	return dk_run(&a, NULL, out, len, err);
}

static int remove_labelled(const struct dk *d, const char *kind, char *err)
{
	char ids[DK_OUT_MAX], *save = NULL, *id;
	struct dk_argv a;
	int rv;

	if ((rv = labelled(d, kind, ids, sizeof(ids), err)) != 0)
		return rv;
	argv_init(&a, kind);
	argv_add(&a, "rm");
	if (strcmp(kind, "container") == 0)
		argv_add(&a, "--force");
	for (id = strtok_r(ids, " \n", &save); id != NULL;
	     id = strtok_r(NULL, " \n", &save))
		argv_add(&a, "%s", id);
	if (a.n == (strcmp(kind, "container") == 0 ? 3u : 2u)) {
		argv_free(&a);
		return 0;
	}
	return dk_run(&a, NULL, NULL, 0, err);
}

static int stop_proxy(struct lab *l, char *err)
{
	char cn[256], path[LAB_PATH_MAX + 32], e[EKL_ERRLEN];
	struct dk d;
	int rv = 0;

	dk_ident(l, &d);
	l->proxy_pid = 0;
	cname(&d, "proxy", cn, sizeof(cn));
	lab_path(l, NULL, "proxy.log", path, sizeof(path));
	if (exists("container", cn))
		save_logs(cn, path);
	/* The teardown, in dependency order; go on past a failure. */
	if (remove_labelled(&d, "container", e) != 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	if (exists("network", d.id) && simple("network", "rm", d.id, e) != 0 &&
	    rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	if (remove_labelled(&d, "volume", e) != 0 && rv == 0)
		rv = ekl_errf(err, EKL_EIO, "%s", e);
	lab_path(l, NULL, "proxy.sock", path, sizeof(path));
	unlink(path);
	lab_path(l, NULL, "docker.conf", path, sizeof(path));
	unlink(path);
	return rv;
}

const struct lab_runtime lab_runtime_docker = {
    .name = "docker",
    .start_node = start_node,
    .stop_node = stop_node,
    .kill_node = kill_node,
    .pause_node = pause_node,
    .resume_node = resume_node,
    .node_running = node_running,
    .start_proxy = start_proxy,
    .stop_proxy = stop_proxy,
};
