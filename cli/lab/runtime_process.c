/* runtime_process.c: the process runtime: nodes and the proxy are local,
 * unprivileged processes on loopback, detached from the terminal. */
#include <dirent.h>
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

#include "ekulab/core/addr.h"
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

/* pid's command line, NULs turned into spaces, into buf; its length (0
 * when pid is gone or has none: a zombie, or a process still inside
 * execve, see spawn). */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return n;
}

/* Is pid alive and ours (its command line mentions the lab's state dir)? */
static bool pid_is_ours(const struct lab *l, pid_t pid)
{
	char cmd[4096];

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	/* A zombie has an empty command line. */
	return read_cmdline(pid, cmd, sizeof(cmd)) > 0 &&
	       strstr(cmd, l->state) != NULL;
}

extern char **environ;

/* The environment for a child handed n listening sockets: ours without
 * LISTEN_*, plus LISTEN_FDS=n and a LISTEN_PID slot the child fills in
 * (its pid is known only after fork). NULL when out of memory. */
static char **child_env(int n, char *fds_var, size_t fds_len, char *pid_var)
{
	size_t k = 0, m = 0;
	char **env;

	while (environ[m] != NULL)
		m++;
	env = calloc(m + 3, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (m = 0; environ[m] != NULL; m++)
		if (strncmp(environ[m], "LISTEN_", 7) != 0)
			env[k++] = environ[m];
	if (n > 0) {
		snprintf(fds_var, fds_len, "LISTEN_FDS=%d", n);
		env[k++] = fds_var;
		env[k++] = pid_var;
	}
	env[k] = NULL;
	return env;
}

/* "LISTEN_PID=" followed by pid, without stdio (after fork). */
static void put_pid(char *var, pid_t pid)
{
	char digits[16];
	int n = 0;
	unsigned long v = (unsigned long)pid;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < (int)sizeof(digits));
	memcpy(var, "LISTEN_PID=", 11);
	var += 11;
	while (n > 0)
		*var++ = digits[--n];
	*var = '\0';
}

/* The threads of pid (entries of /proc/PID/task); 0 when it is gone. */
static int task_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Has pid finished exiting (gone, or a zombie: its files are closed)?
 * An empty command line is not enough: a process being killed loses its
 * memory before its files, so its sockets may still accept for a moment. */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

	if (pid <= 0 || kill(pid, 0) != 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	rp = strrchr(buf, ')');
	if (rp == NULL || rp[1] != ' ' || (rp[2] != 'Z' && rp[2] != 'X'))
		return false;
	/* A zombie leader whose other threads still exit keeps the files
	 * they share open: gone once it is the last task. */
	return task_count(pid) <= 1;
}

/* The close-on-exec pipe closes inside execve before the kernel has set
 * up the new program's arguments: for a moment the process's command
 * line reads empty, and pid_is_ours would call it gone. Wait (bounded)
 * until the line is there or the process has exited. */
static void wait_cmdline(pid_t pid)
{
	char cmd[64];
	int k;

	for (k = 0; k < 2000; k++) {
		if (read_cmdline(pid, cmd, sizeof(cmd)) > 0 || pid_gone(pid))
			return;
		usleep(500);
	}
}

/* fork + setsid + exec, stdout/stderr appended to log, the n listening
 * sockets fds handed over at descriptors 3.. (LISTEN_FDS: addr_listen
 * in the child picks them up). Returns once the child has exec'd (a
 * close-on-exec pipe tells) and its command line reads as its own; -1 when fork
 * or exec failed. The caller still owns and closes fds. */
static pid_t spawn(char *const argv[], const char *log, const int *fds, int n)
{
	char fds_var[32], pid_var[40];
	char **env;
	int pfd[2], e = 0, k, *moved;
	pid_t pid;
	ssize_t r;

	env = child_env(n, fds_var, sizeof(fds_var), pid_var);
	moved = calloc((size_t)n + 1, sizeof(*moved));
	if (env == NULL || moved == NULL || pipe2(pfd, O_CLOEXEC) != 0) {
		free(env);
		free(moved);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(env);
		free(moved);
		return -1;
	}
	if (pid == 0) {
		int fd =
		    open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int hi = ADDR_LISTEN_FDS_START + n + 3;

		close(pfd[0]);
		setsid();
		if (nul >= 0)
			dup2(nul, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* Out of the way first (a source may sit on a target), then
		 * into place; dup2 clears close-on-exec on the copies. */
		if (pfd[1] < hi) {
			int w = fcntl(pfd[1], F_DUPFD_CLOEXEC, hi);

			if (w >= 0)
				pfd[1] = w;
		}
		for (k = 0; k < n; k++)
			if ((moved[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, hi)) < 0)
				_exit(126);
		for (k = 0; k < n; k++)
			if (dup2(moved[k], ADDR_LISTEN_FDS_START + k) < 0)
				_exit(126);
		put_pid(pid_var, getpid());
		execve(argv[0], argv, env);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	free(env);
	free(moved);
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
	wait_cmdline(pid);
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
	int fds[1 + POL_SVC_COUNT], nfds = 0, rv, e, k;

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
	if ((rv = lab_node_sockets(l, i, fds, &nfds, err)) != 0)
		return rv;
	l->nodes[i].pid = spawn(argv, log, fds, nfds);
	e = errno;
	for (k = 0; k < nfds; k++)
		close(fds[k]); /* the node has its copy */
	if (l->nodes[i].pid < 0)
		return ekl_errf(err, EKL_EIO, "starting node %s: %s",
				l->nodes[i].name, strerror(e));
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
		if (pid_gone(pid)) {
			reap(pid); /* a zombie since the reap above */
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    grace)
			break;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	for (int k = 0; k < 500 && !pid_gone(pid); k++) {
		reap(pid);
		usleep(10000);
	}
	reap(pid); /* it may have turned zombie after the last reap */
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
	/* Until its sockets are closed: a write then finds the admin socket
	 * refusing, as the model says of a killed node. */
	for (int k = 0; k < 1000 && !pid_gone(pid); k++) {
		reap(pid);
		usleep(5000);
	}
	reap(pid); /* a zombie since the last reap: no zombie is left */
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

/* The control socket appears once every route listens; the proxy that
 * exits first says why in its log. */
static int wait_proxy(struct lab *l, const char *ctl, const char *log,
		      char *err)
{
	struct stat sb;
	int k;

	for (k = 0; k < 1000; k++) {
		if (stat(ctl, &sb) == 0)
			return 0;
		reap(l->proxy_pid);
		if (!pid_is_ours(l, l->proxy_pid))
			return ekl_errf(err, EKL_EIO,
					"the proxy exited during start-up "
					"(see %s)",
					log);
		usleep(10000);
	}
	return ekl_errf(err, EKL_EIO,
			"the proxy made no control socket within 10 s (see %s)",
			log);
}

static int start_proxy(struct lab *l, char *err)
{
	char prog[PATH_MAX], ctl[LAB_PATH_MAX + 32], log[LAB_PATH_MAX + 32];
	size_t i, j, n = lab_n(l), a = 0;
	char **argv = calloc(8 + 2 * n * n, sizeof(char *));
	char(*routes)[192] = calloc(n * n + 1, sizeof(*routes));
	int *fds = calloc(n * n + 1, sizeof(int));
	int rv = 0, nfds = 0, k;

	if (argv == NULL || routes == NULL || fds == NULL) {
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
				 lab_route_target(l, i, j));
			argv[a++] = "--route";
			argv[a++] = routes[i * n + j];
			if ((rv = lab_route_socket(l, i, j, &fds[nfds], err)) !=
			    0)
				goto out;
			nfds++;
		}
	argv[a] = NULL;
	l->proxy_pid = spawn(argv, log, fds, nfds);
	if (l->proxy_pid < 0) {
		rv = ekl_errf(err, EKL_EIO, "starting the proxy: %s",
			      strerror(errno));
		goto out;
	}
	rv = wait_proxy(l, ctl, log, err);
out:
	for (k = 0; fds != NULL && k < nfds; k++)
		close(fds[k]);
	free(argv);
	free(routes);
	free(fds);
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
    .own_network = false,
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
	if (strcmp(name, "swarm") == 0)
		return &lab_runtime_swarm;
	return NULL;
}
