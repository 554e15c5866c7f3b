/* docker_image.c: the node image, built when it is missing or older than
 * the programs, with no manual step: docker/build-image.sh (offline: a
 * root filesystem of the built ekunode and ekulab and the libraries they
 * load, FROM scratch) run on this ekulab and the ekunode it would start.
 * An image ekulab builds carries the label ekulab.programs (both
 * programs' mtime and size) and is built again for other programs; one
 * built by hand with build-image.sh (label ekulab.image=node alone) when
 * it is older than the programs. An image without ekulab.image is not
 * ekulab's and is used as it is. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "docker_int.h"
#include "ekulab/core/err.h"
#include "lab_runtime.h"

/* docker/build-image.sh: $EKULAB_DOCKER_DIR, the installed copy next to
 * this program (PREFIX/share/ekulab/docker), or the source tree's. */
static int find_script(char *out, size_t len)
{
	const char *env = getenv("EKULAB_DOCKER_DIR");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		return snprintf(out, len, "%s/build-image.sh", env) <
				   (int)len &&
			       access(out, R_OK) == 0
			   ? 0
			   : -1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(out, len,
				     "%s/../share/ekulab/docker/build-image.sh",
				     self) < (int)len &&
			    access(out, R_OK) == 0)
				return 0;
		}
	}
#ifdef EKL_SOURCE_DOCKER_DIR
	snprintf(out, len, "%s/build-image.sh", EKL_SOURCE_DOCKER_DIR);
	if (access(out, R_OK) == 0)
		return 0;
#endif
	return -1;
}

/* "2026-11-30T15:40:12.123456789Z" (docker's .Created) as seconds. */
static int parse_created(const char *s, time_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t = timegm(&tm);
	return 0;
}

static time_t mtime_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mtime : 0;
}

/* Which programs an image holds: both programs' mtime and size (the
 * label ekulab.programs). */
static void programs_ident(const char *ekunode, const char *ekulab, char *buf,
			   size_t len)
{
	struct stat a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	(void)stat(ekunode, &a);
	(void)stat(ekulab, &b);
	snprintf(buf, len, "%lld.%lld-%lld.%lld", (long long)a.st_mtime,
		 (long long)a.st_size, (long long)b.st_mtime,
		 (long long)b.st_size);
}

/* Run build-image.sh with EKUNODE and EKULAB set; its output into log. */
static int run_build(const char *script, const char *image, const char *ekunode,
		     const char *ekulab, const char *ident, const char *log,
		     char *err)
{
	char label[160];
	pid_t pid;
	int st, fd;

	pid = fork();
	if (pid < 0)
		return ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("EKUNODE", ekunode, 1);
		setenv("EKULAB", ekulab, 1);
		snprintf(label, sizeof(label), "ekulab.programs=%s", ident);
		execl("/bin/sh", "sh", script, "--tag", image, "--label", label,
		      (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return ekl_errf(err, EKL_EIO, "waitpid: %s",
					strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char line[512], last[512] = "";
		FILE *f = fopen(log, "r");

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (line[0] != '\n')
				snprintf(last, sizeof(last), "%s", line);
		if (f != NULL)
			fclose(f);
		last[strcspn(last, "\n")] = '\0';
		return ekl_errf(err, EKL_EIO,
				"building the node image %s with %s failed: %s",
				image, script, last[0] ? last : "no output");
	}
	return 0;
}

int docker_check_image(const struct docker_lab *d, char *err)
{
	char out[256], e[EKL_ERRLEN], script[PATH_MAX + 32];
	char ekunode[PATH_MAX], ekulab[PATH_MAX], log[PATH_MAX];
	const char *why = NULL;
	char ident[128];
	struct docker_argv a;
	struct timespec t0, t1;
	time_t created = 0, newest;
	int rv;

	if (lab_find_program("ekunode", "EKUNODE", ekunode, sizeof(ekunode)) !=
		0 ||
	    lab_find_program("ekulab", "EKULAB", ekulab, sizeof(ekulab)) != 0)
		return ekl_errf(err, EKL_ENOENT,
				"cannot find ekunode and ekulab for the node "
				"image; set EKUNODE and EKULAB");
	{
		char rp[PATH_MAX];

		if (realpath(ekunode, rp) != NULL)
			snprintf(ekunode, sizeof(ekunode), "%s", rp);
	}
	newest = mtime_of(ekunode) > mtime_of(ekulab) ? mtime_of(ekunode)
						      : mtime_of(ekulab);
	programs_ident(ekunode, ekulab, ident, sizeof(ident));
	docker_argv_init(&a, "image");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Created}} {{index .Config.Labels "
			    "\"ekulab.image\"}} {{index .Config.Labels "
			    "\"ekulab.programs\"}}");
	docker_argv_add(&a, "%s", d->image);
	rv = docker_run(&a, NULL, out, sizeof(out), e);
	if (rv == EKL_ENOENT) /* no docker client */
		return ekl_errf(err, rv, "%s", e);
	if (rv != 0) {
		if (strstr(e, "No such image") == NULL &&
		    strstr(e, "no such image") == NULL)
			return ekl_errf(err, EKL_EIO,
					"%s (scripts/docker-engine.sh starts "
					"an engine)",
					e);
		why = "it was missing";
	} else {
		char c[64] = "", kind[32] = "", progs[128] = "";

		out[strcspn(out, "\n")] = '\0';
		sscanf(out, "%63s %31s %127s", c, kind, progs);
		/* Ours (built by build-image.sh): when it names its programs,
		 * from others than these; else older than these. */
		bool older =
		    parse_created(c, &created) == 0 && created < newest;

		if (strcmp(kind, "node") == 0 &&
		    (progs[0] != '\0' ? strcmp(progs, ident) != 0 : older))
			why = older ? "it was older than the programs"
				    : "it was built from other programs";
	}
	if (why == NULL)
		return 0;
	if (find_script(script, sizeof(script)) != 0)
		return ekl_errf(err, EKL_ENOENT,
				"no image %s, and no docker/build-image.sh to "
				"build it (set EKULAB_DOCKER_DIR to the "
				"folder that holds it, or EKULAB_IMAGE)",
				d->image);
	snprintf(log, sizeof(log), "%s/ekulab-image-%d.log", lab_tmpdir(),
		 (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = run_build(script, d->image, ekunode, ekulab, ident, log, err);
	unlink(log);
	if (rv != 0)
		return rv;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr,
		"ekulab: built the node image %s offline from %s (%s) in "
		"%.1f s\n",
		d->image, ekunode, why,
		(double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

/* ---- ekulab image push ------------------------------------------------------
 */

static bool host_ok(const char *h)
{
	size_t k, n = strlen(h);

	if (n == 0 || n > 255 || h[0] == '-')
		return false;
	for (k = 0; k < n; k++)
		if (!((h[k] >= 'a' && h[k] <= 'z') ||
		      (h[k] >= 'A' && h[k] <= 'Z') ||
		      (h[k] >= '0' && h[k] <= '9') || h[k] == '.' ||
		      h[k] == '-' || h[k] == '_' || h[k] == '@' || h[k] == ':'))
			return false;
	return true;
}

static const char *ssh_prog(void)
{
	const char *s = getenv("EKULAB_SSH");

	return s != NULL && s[0] != '\0' ? s : "ssh";
}

/* The last non-empty line of file path, into buf. */
static void last_line_of(const char *path, char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(buf, len, "%s", line);
	}
	fclose(f);
}

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int lab_image_ready(const char *image, char *name, size_t len, char *err)
{
	struct docker_lab d;

	memset(&d, 0, sizeof(d));
	if (image == NULL || image[0] == '\0')
		image = getenv("EKULAB_IMAGE");
	snprintf(d.image, sizeof(d.image), "%s",
		 image != NULL && image[0] ? image : DOCKER_IMAGE_DEFAULT);
	if (name != NULL)
		snprintf(name, len, "%s", d.image);
	return docker_check_image(&d, err);
}

int lab_image_push(const char *image, const char *host,
		   struct lab_image_pushed *out, char *err)
{
	const char *docker = getenv("EKULAB_DOCKER");
	char log[PATH_MAX], last[512], rid[160] = "";
	struct docker_lab d;
	struct docker_argv a;
	int p[2], st1 = 0, st2 = 0, rv;
	pid_t save_pid, load_pid;
	double t0;

	memset(out, 0, sizeof(*out));
	if (!host_ok(host))
		return ekl_errf(err, EKL_EINVAL,
				"--to '%s': not a host name (letters, digits, "
				"'.', '-', '_', and USER@ as ssh takes it)",
				host);
	memset(&d, 0, sizeof(d));
	if ((rv = lab_image_ready(image, d.image, sizeof(d.image), err)) != 0)
		return rv;
	snprintf(out->image, sizeof(out->image), "%s", d.image);
	docker_argv_init(&a, "image");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Id}} {{.Size}}");
	docker_argv_add(&a, "%s", d.image);
	if ((rv = docker_run(&a, NULL, last, sizeof(last), err)) != 0)
		return rv;
	sscanf(last, "%159s %lld", out->id, &out->bytes);
	snprintf(log, sizeof(log), "%s/ekulab-push-%d.log", lab_tmpdir(),
		 (int)getpid());
	t0 = mono_s();
	if (pipe2(p, O_CLOEXEC) != 0)
		return ekl_errf(err, EKL_EIO, "pipe: %s", strerror(errno));
	save_pid = fork();
	if (save_pid == 0) {
		const char *dk =
		    docker != NULL && docker[0] ? docker : "docker";

		dup2(p[1], 1);
		execlp(dk, dk, "save", d.image, (char *)NULL);
		dprintf(2, "cannot run %s: %s\n", dk, strerror(errno));
		_exit(127);
	}
	load_pid = save_pid < 0 ? -1 : fork();
	if (load_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(p[0], 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(ssh_prog(), ssh_prog(), host, "docker", "load",
		       (char *)NULL);
		dprintf(2, "cannot run %s: %s\n", ssh_prog(), strerror(errno));
		_exit(127);
	}
	close(p[0]);
	close(p[1]);
	if (save_pid < 0 || load_pid < 0) {
		if (save_pid > 0)
			waitpid(save_pid, &st1, 0);
		return ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
	}
	while (waitpid(save_pid, &st1, 0) < 0 && errno == EINTR)
		;
	while (waitpid(load_pid, &st2, 0) < 0 && errno == EINTR)
		;
	last_line_of(log, last, sizeof(last));
	unlink(log);
	if (!WIFEXITED(st2) || WEXITSTATUS(st2) != 0)
		return ekl_errf(err, EKL_EIO,
				"%s %s docker load failed: %s (can this user "
				"ssh to %s without a password and run docker "
				"there?)",
				ssh_prog(), host, last[0] ? last : "no output",
				host);
	if (!WIFEXITED(st1) || WEXITSTATUS(st1) != 0)
		return ekl_errf(err, EKL_EIO, "docker save %s failed", d.image);
	/* Check what the host has now. */
	memset(&a, 0, sizeof(a));
	docker_argv_add(&a, "%s", ssh_prog());
	docker_argv_add(&a, "%s", host);
	docker_argv_add(&a, "docker");
	docker_argv_add(&a, "image");
	docker_argv_add(&a, "inspect");
	docker_argv_add(&a, "--format");
	docker_argv_add(&a, "{{.Id}}");
	docker_argv_add(&a, "%s", d.image);
	if ((rv = docker_run(&a, NULL, rid, sizeof(rid), err)) != 0)
		return rv;
	rid[strcspn(rid, "\n")] = '\0';
	if (strcmp(rid, out->id) != 0)
		return ekl_errf(
		    err, EKL_EIO, "after docker load, %s has %s as %s, not %s",
		    host, d.image, rid[0] ? rid : "nothing", out->id);
	out->seconds = mono_s() - t0;
	return 0;
}
