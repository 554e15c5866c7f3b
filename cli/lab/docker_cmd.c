/* docker_cmd.c: running the docker program for the docker runtime: an
 * argument vector, fork/exec with its output captured and a timeout, and
 * docker's failures turned into EKL_* errors that say what to do. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "docker_int.h"
#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

void docker_argv_add(struct docker_argv *a, const char *fmt, ...)
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
void docker_argv_init(struct docker_argv *a, const char *sub)
{
	const char *docker = getenv("EKULAB_DOCKER");

	memset(a, 0, sizeof(*a));
	docker_argv_add(a, "%s",
			docker != NULL && docker[0] ? docker : "docker");
	docker_argv_add(a, "%s", sub);
}

void docker_argv_free(struct docker_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		ekl_free(a->v[i]);
	ekl_free(a->v);
	memset(a, 0, sizeof(*a));
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
int docker_run(struct docker_argv *a, const char *to_file, char *out,
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

		if (now_s() - t0 > DOCKER_TIMEOUT_S) {
			kill(pid, SIGKILL);
			snprintf(ebuf, sizeof(ebuf),
				 "no answer within %.0f s (is the engine "
				 "hung?)",
				 DOCKER_TIMEOUT_S);
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
	docker_argv_free(a);
	return rv;
}

bool docker_exists(const char *what, const char *name)
{
	struct docker_argv a;
	char err[EKL_ERRLEN];

	docker_argv_init(&a, what);
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Name}}");
	docker_argv_add(&a, "%s", name);
	return docker_run(&a, NULL, NULL, 0, err) == 0;
}

int docker_inspect_all(const char *kind, const char *format, char *out,
		       size_t len, char *err)
{
	char ids[DOCKER_OUT_MAX], *save, *id;
	struct docker_argv a;
	int rv = 0, tries;

	for (tries = 0; tries < DOCKER_INSPECT_TRIES; tries++) {
		docker_argv_init(&a, kind);
		docker_argv_add(&a, "ls");
		docker_argv_add(&a, "--quiet");
		if ((rv = docker_run(&a, NULL, ids, sizeof(ids), err)) != 0)
			return rv;
		docker_argv_init(&a, kind);
		docker_argv_add(&a, "inspect");
		docker_argv_add(&a, "--format");
		docker_argv_add(&a, "%s", format);
		save = NULL;
		for (id = strtok_r(ids, " \n", &save); id != NULL;
		     id = strtok_r(NULL, " \n", &save))
			docker_argv_add(&a, "%s", id);
		if (a.n == 4) {
			docker_argv_free(&a);
			out[0] = '\0';
			return 0;
		}
		rv = docker_run(&a, NULL, out, len, err);
		if (rv == 0 || (strstr(err, "not found") == NULL &&
				strstr(err, "No such") == NULL))
			return rv;
		usleep(DOCKER_INSPECT_GAP_US);
	}
	return rv;
}

/* "STATUS VERSION IMAGEID" of a container; EKL_ENOENT when none. */
int docker_inspect(const char *name, char *out, size_t len)
{
	struct docker_argv a;
	char err[EKL_ERRLEN];

	docker_argv_init(&a, "container");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.State.Status}} {{index .Config.Labels "
			    "\"ekulab.version\"}} {{.Image}}");
	docker_argv_add(&a, "%s", name);
	if (docker_run(&a, NULL, out, len, err) != 0)
		return EKL_ENOENT;
	return 0;
}

int docker_simple(const char *sub, const char *opt, const char *name, char *err)
{
	struct docker_argv a;

	docker_argv_init(&a, sub);
	if (opt != NULL)
		docker_argv_add(&a, "%s", opt);
	docker_argv_add(&a, "%s", name);
	return docker_run(&a, NULL, NULL, 0, err);
}

bool docker_freeze_timed_out(const char *err)
{
	return strstr(err, "unable to freeze") != NULL;
}

/* The container's output into path (its log, as node.log would be). */
void docker_save_logs(const char *name, const char *path)
{
	struct docker_argv a;
	char err[EKL_ERRLEN];

	docker_argv_init(&a, "logs");
	docker_argv_add(&a, "%s", name);
	(void)docker_run(&a, path, NULL, 0, err);
}
