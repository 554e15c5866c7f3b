/* runtime_process.c: the process runtime: nodes and the proxy are local,
 * unprivileged processes on loopback, detached from the terminal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "lab.h"
#include "lab_runtime.h"

/* A program next to this ekulab: ../node/ekunode in a build tree, or the
 * same directory once installed; $EKUNODE wins. */
int lab_find_program(const char *name, const char *env, char *out, size_t len)
{
	const char *e = getenv(env);
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (e != NULL && access(e, X_OK) == 0) {
		snprintf(out, len, "%s", e);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if (strcmp(name, "ekulab") == 0) {
		snprintf(out, len, "%s", self);
		return 0;
	}
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	snprintf(out, len, "%.3000s/../node/%s", self, name);
	if (access(out, X_OK) == 0)
		return 0;
	snprintf(out, len, "%.3000s/%s", self, name);
	return access(out, X_OK) == 0 ? 0 : -1;
}

/* Is pid alive and ours (its command line mentions the lab's state dir)? */
static bool pid_is_ours(const struct lab *l, pid_t pid)
{
	char path[64], cmd[4096];
	ssize_t n;
	int fd, i;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	/* A zombie has an empty command line. */
	return strstr(cmd, l->state) != NULL;
}

/* fork + setsid + exec, stdout/stderr appended to log. Returns once the
 * child has exec'd (a close-on-exec pipe tells), so the new process's
 * command line is already its own; -1 when fork or exec failed. */
static pid_t spawn(char *const argv[], const char *log)
{
	int pfd[2], e = 0;
	pid_t pid;
	ssize_t r;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int fd =
		    open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY);

		close(pfd[0]);
		setsid();
		if (nul >= 0)
			dup2(nul, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	do
		r = read(pfd[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(pfd[0]);
	if (r == sizeof(e)) {
		int st;

		waitpid(pid, &st, 0);
		errno = e;
		return -1;
	}
	return pid;
}

/* Reap if it is our child (it is when started by this very command). */
static void reap(pid_t pid)
{
	int st;

	(void)waitpid(pid, &st, WNOHANG);
}

static int start_node(struct lab *l, int i, char *err)
{
	char prog[PATH_MAX], conf[LAB_PATH_MAX + 80], log[LAB_PATH_MAX + 80];
	char *argv[4];

	if (lab_find_program("ekunode", "EKUNODE", prog, sizeof(prog)) != 0)
		return ekl_errf(err, EKL_ENOENT,
				"cannot find ekunode next to ekulab; set "
				"EKUNODE=/path/to/ekunode");
	lab_path(l, l->nodes[i].name, "node.conf", conf, sizeof(conf));
	lab_path(l, l->nodes[i].name, "node.log", log, sizeof(log));
	argv[0] = prog;
	argv[1] = "--config";
	argv[2] = conf;
	argv[3] = NULL;
	l->nodes[i].pid = spawn(argv, log);
	if (l->nodes[i].pid < 0)
		return ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
	return 0;
}

static bool node_running(const struct lab *l, int i)
{
	reap(l->nodes[i].pid);
	return pid_is_ours(l, l->nodes[i].pid);
}

/* Signal, then wait up to `grace` seconds for the process to go. */
static int stop_pid(const struct lab *l, pid_t pid, double grace)
{
	struct timespec t0, t;

	if (!pid_is_ours(l, pid))
		return 0;
	kill(pid, SIGCONT); /* a paused process cannot handle SIGTERM */
	kill(pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		reap(pid);
		if (!pid_is_ours(l, pid))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    grace)
			break;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	for (int k = 0; k < 200 && pid_is_ours(l, pid); k++) {
		reap(pid);
		usleep(10000);
	}
	return 0;
}

static int stop_node(struct lab *l, int i, char *err)
{
	(void)err;
	stop_pid(l, l->nodes[i].pid, 5.0);
	l->nodes[i].pid = 0;
	return 0;
}

static int kill_node(struct lab *l, int i, char *err)
{
	pid_t pid = l->nodes[i].pid;

	if (!pid_is_ours(l, pid))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	kill(pid, SIGKILL);
	for (int k = 0; k < 200 && pid_is_ours(l, pid); k++) {
		reap(pid);
		usleep(5000);
	}
	l->nodes[i].pid = 0;
	return 0;
}

static int signal_node(struct lab *l, int i, int sig, char *err)
{
	if (!pid_is_ours(l, l->nodes[i].pid))
		return ekl_errf(err, EKL_ENOENT, "node %s is not running",
				l->nodes[i].name);
	kill(l->nodes[i].pid, sig);
	return 0;
}

static int pause_node(struct lab *l, int i, char *err)
{
	return signal_node(l, i, SIGSTOP, err);
}

static int resume_node(struct lab *l, int i, char *err)
{
	return signal_node(l, i, SIGCONT, err);
}

static int start_proxy(struct lab *l, char *err)
{
	char prog[PATH_MAX], ctl[LAB_PATH_MAX + 32], log[LAB_PATH_MAX + 32];
	size_t i, j, n = l->topo.n_nodes, a = 0;
	char **argv = calloc(8 + 2 * n * n, sizeof(char *));
	char(*routes)[192] = calloc(n * n + 1, sizeof(*routes));
	int rv = 0;

	if (argv == NULL || routes == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto out;
	}
	if (lab_find_program("ekulab", "EKULAB", prog, sizeof(prog)) != 0) {
		rv = ekl_errf(err, EKL_ENOENT, "cannot find ekulab itself");
		goto out;
	}
	lab_path(l, NULL, "proxy.sock", ctl, sizeof(ctl));
	lab_path(l, NULL, "proxy.log", log, sizeof(log));
	argv[a++] = prog;
	argv[a++] = "proxy";
	argv[a++] = "--control";
	argv[a++] = ctl;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int port = l->route_port[i * n + j];

			if (port <= 0)
				continue;
			snprintf(routes[i * n + j], sizeof(routes[0]),
				 "%s>%s=127.0.0.1:%d,127.0.0.1:%d",
				 l->nodes[i].name, l->nodes[j].name, port,
				 l->nodes[j].port);
			argv[a++] = "--route";
			argv[a++] = routes[i * n + j];
		}
	argv[a] = NULL;
	l->proxy_pid = spawn(argv, log);
	if (l->proxy_pid < 0)
		rv = ekl_errf(err, EKL_EIO, "fork: %s", strerror(errno));
out:
	free(argv);
	free(routes);
	return rv;
}

static int stop_proxy(struct lab *l, char *err)
{
	(void)err;
	stop_pid(l, l->proxy_pid, 3.0);
	l->proxy_pid = 0;
	return 0;
}

const struct lab_runtime lab_runtime_process = {
    .name = "process",
    .start_node = start_node,
    .stop_node = stop_node,
    .kill_node = kill_node,
    .pause_node = pause_node,
    .resume_node = resume_node,
    .node_running = node_running,
    .start_proxy = start_proxy,
    .stop_proxy = stop_proxy,
};

const struct lab_runtime *lab_runtime_find(const char *name)
{
	if (strcmp(name, "process") == 0)
		return &lab_runtime_process;
	if (strcmp(name, "docker") == 0)
		return &lab_runtime_docker;
	return NULL;
}
