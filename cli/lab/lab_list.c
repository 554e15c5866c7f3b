/* lab_list.c: every lab on this host (`lab list`), and a lab found by its
 * name for every lab verb.
 *
 * A lab is a state directory with a lab.conf. The default ones are
 * lab_tmpdir()/ekulab-UID/NAME; a lab brought up with --state elsewhere
 * is noted in the registry, lab_tmpdir()/ekulab-UID/.labs/, one file per
 * state directory (named by a hash of its path, holding the path). An
 * entry whose directory has gone is skipped and removed. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "lab.h"
#include "lab_runtime.h"

static void registry_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/ekulab-%u/.labs", lab_tmpdir(),
		 (unsigned)getuid());
}

/* FNV-1a of the state path: the registry file's name. */
static void registry_file(const char *state, char *buf, size_t len)
{
	char dir[LAB_PATH_MAX];
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)state; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	registry_dir(dir, sizeof(dir));
	snprintf(buf, len, "%s/%016llx", dir, (unsigned long long)h);
}

void lab_registry_add(const struct lab *l)
{
	char dir[LAB_PATH_MAX], path[LAB_PATH_MAX + 32], abs[PATH_MAX];
	FILE *f;

	if (realpath(l->state, abs) == NULL)
		return;
	registry_dir(dir, sizeof(dir));
	mkdir(dir, 0700); /* its parent is the labs' own, made already */
	registry_file(abs, path, sizeof(path));
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "%s\n", abs);
	fclose(f);
}

void lab_registry_remove(const struct lab *l)
{
	char path[LAB_PATH_MAX + 32], abs[PATH_MAX];

	if (realpath(l->state, abs) == NULL)
		return;
	registry_file(abs, path, sizeof(path));
	unlink(path);
}

/* ---- one lab's facts from its lab.conf ---- */

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Fill e from STATE/lab.conf; false when there is none. */
static bool read_entry(const char *state, struct lab_entry *e)
{
	char path[LAB_PATH_MAX + 32], line[1024], a[128], b[128];
	struct stat st;
	long pid;
	FILE *f;

	memset(e, 0, sizeof(*e));
	snprintf(path, sizeof(path), "%s/lab.conf", state);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	snprintf(e->state, sizeof(e->state), "%s", state);
	snprintf(e->runtime, sizeof(e->runtime), "process");
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "topology ", 9) == 0)
			snprintf(e->topology, sizeof(e->topology), "%.399s",
				 line + 9);
		else if (sscanf(line, "name %127s", a) == 1)
			snprintf(e->name, sizeof(e->name), "%.63s", a);
		else if (sscanf(line, "runtime %15s", a) == 1)
			snprintf(e->runtime, sizeof(e->runtime), "%.15s", a);
		else if (sscanf(line,
				"node %127s %127s %*s %*s %*s %*s %*d %ld", a,
				b, &pid) == 3) {
			e->total++;
			if (pid_alive(pid))
				e->running++;
		}
	}
	fclose(f);
	if (e->name[0] == '\0') {
		const char *s = strrchr(state, '/');

		snprintf(e->name, sizeof(e->name), "%.63s", s ? s + 1 : state);
	}
	snprintf(path, sizeof(path), "%s/pki", state);
	if (stat(path, &st) == 0)
		e->age_s = (long)(time(NULL) - st.st_mtime);
	snprintf(path, sizeof(path), "%s/" LAB_UP_FAILED, state);
	e->up_failed = access(path, F_OK) == 0;
	{
		const char *base = strrchr(state, '/');

		e->plan_run = strstr(base ? base : state, "-plan-") != NULL;
	}
	if (strcmp(e->runtime, "process") != 0) {
		/* Containers: ask the runtime, through the lab itself. */
		struct lab l;
		char err[EKL_ERRLEN];
		bool *running;
		size_t i;

		e->running = -1;
		if (!e->plan_run && !e->up_failed &&
		    lab_open(&l, e->topology, state, err) == 0) {
			if (lab_load(&l, err) == 0 &&
			    (running = ekl_calloc(lab_n(&l) + 1,
						  sizeof(*running))) != NULL) {
				lab_nodes_running(&l, running);
				e->running = 0;
				for (i = 0; i < l.topo.n_nodes; i++)
					e->running += running[i];
				ekl_free(running);
			}
			lab_close(&l);
		}
	}
	if (e->up_failed)
		e->running = 0;
	return true;
}

/* ---- the list ---- */

struct list {
	struct lab_entry *e;
	size_t n, cap;
	bool oom;
};

static void add_state(struct list *ls, const char *state)
{
	char abs[PATH_MAX], st[LAB_PATH_MAX];
	size_t i;

	if (realpath(state, abs) == NULL || strlen(abs) >= LAB_PATH_MAX)
		return;
	snprintf(st, sizeof(st), "%.*s", LAB_PATH_MAX - 1, abs);
	for (i = 0; i < ls->n; i++)
		if (strcmp(ls->e[i].state, st) == 0)
			return;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;
		struct lab_entry *ne = ekl_realloc(ls->e, cap * sizeof(*ne));

		if (ne == NULL) {
			ls->oom = true;
			return;
		}
		ls->e = ne;
		ls->cap = cap;
	}
	if (read_entry(st, &ls->e[ls->n]))
		ls->n++;
}

static int by_name(const void *a, const void *b)
{
	const struct lab_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->state, y->state);
}

int lab_list(struct lab_entry **out, size_t *n, char *err)
{
	char base[LAB_PATH_MAX], path[LAB_PATH_MAX + 260];
	struct list ls = {NULL, 0, 0, false};
	struct dirent *d;
	DIR *dir;

	*out = NULL;
	*n = 0;
	/* The default state directories. */
	snprintf(base, sizeof(base), "%s/ekulab-%u", lab_tmpdir(),
		 (unsigned)getuid());
	if ((dir = opendir(base)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", base, d->d_name);
			add_state(&ls, path);
		}
		closedir(dir);
	}
	/* The registered ones; an entry whose lab has gone is dropped. */
	registry_dir(base, sizeof(base));
	if ((dir = opendir(base)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			char state[LAB_PATH_MAX + 2], conf[LAB_PATH_MAX + 16];
			FILE *f;

			if (d->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", base, d->d_name);
			f = fopen(path, "r");
			if (f == NULL)
				continue;
			if (fgets(state, sizeof(state), f) == NULL)
				state[0] = '\0';
			fclose(f);
			state[strcspn(state, "\n")] = '\0';
			snprintf(conf, sizeof(conf), "%s/lab.conf", state);
			if (state[0] == '\0' || access(conf, F_OK) != 0)
				unlink(path);
			else
				add_state(&ls, state);
		}
		closedir(dir);
	}
	if (ls.oom) {
		ekl_free(ls.e);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	if (ls.n > 1)
		qsort(ls.e, ls.n, sizeof(*ls.e), by_name);
	*out = ls.e;
	*n = ls.n;
	return 0;
}

int lab_resolve(const char *arg, char *topo, size_t tlen, char *state,
		size_t slen, char *err)
{
	struct lab_entry *e = NULL;
	struct stat st;
	size_t n = 0, i, hit = 0, k = 0;
	int rv;

	if (stat(arg, &st) == 0 || strchr(arg, '/') != NULL ||
	    !topo_name_valid(arg)) {
		snprintf(topo, tlen, "%s", arg);
		return 0;
	}
	if ((rv = lab_list(&e, &n, err)) != 0)
		return rv;
	for (i = 0; i < n; i++)
		if (strcmp(e[i].name, arg) == 0 && !e[i].plan_run) {
			hit++;
			k = i;
		}
	if (hit == 1) {
		snprintf(topo, tlen, "%s", e[k].topology);
		snprintf(state, slen, "%s", e[k].state);
	}
	ekl_free(e);
	if (hit == 0)
		return ekl_errf(err, EKL_ENOENT,
				"'%s' is neither a topology file nor the name "
				"of a lab on this host ('ekulab lab list' "
				"shows them)",
				arg);
	if (hit > 1)
		return ekl_errf(err, EKL_EEXIST,
				"%zu labs are named '%s' ('ekulab lab list'); "
				"give the topology file and --state DIR",
				hit, arg);
	return 0;
}
