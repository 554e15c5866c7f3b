/* admin.c: the node's admin socket (Unix, 0600) and its command protocol.
 *
 * The happy path: a client connects, writes request lines, and reads one
 * length-prefixed response per line, in order.
 * The failure modes: a line longer than ADMIN_LINE_MAX or a client that
 * stops reading (output over ADMIN_OUT_MAX) is disconnected; an unknown
 * command gets an "err" response naming the commands that exist.
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "ekulab/err.h"
#include "ekulab/log.h"
#include "ekulab/mem.h"
#include "node.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define ADMIN_LINE_MAX 65536
#define ADMIN_OUT_MAX (64u << 20)

struct admin_client {
	struct admin *admin; /* not owned */
	int fd;              /* owned */
	ev_io rio;
	ev_io wio;
	char *in;            /* owned */
	size_t in_len;
	size_t in_cap;
	char *out;           /* owned */
	size_t out_len;
	size_t out_cap;
	struct admin_client *next;
};

struct admin {
	struct node *node; /* not owned */
	char *path;        /* owned */
	int fd;            /* owned */
	ev_io w;
	struct admin_client *clients; /* owned */
};

static void client_free(struct admin_client *c)
{
	struct admin_client **pp;
	struct ev_loop *loop = c->admin->node->loop;

	for (pp = &c->admin->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	close(c->fd);
	ekl_free(c->in);
	ekl_free(c->out);
	ekl_free(c);
}

static int out_append(struct admin_client *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *nb;

		while (cap < c->out_len + n)
			cap *= 2;
		if (cap > ADMIN_OUT_MAX)
			return EKL_ENOMEM;
		nb = ekl_realloc(c->out, cap);
		if (nb == NULL)
			return EKL_ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

static int respond(struct admin_client *c, bool ok, const char *body)
{
	char hdr[32];
	size_t n = strlen(body);
	int rv;

	snprintf(hdr, sizeof(hdr), "%s %zu\n", ok ? "ok" : "err", n);
	rv = out_append(c, hdr, strlen(hdr));
	if (rv == 0)
		rv = out_append(c, body, n);
	return rv;
}

/* Commands. Each fills a response for one request line. */
typedef int (*admin_fn)(struct admin_client *c, bool json, const char *arg);

static int cmd_status_cluster(struct admin_client *c, bool json,
			      const char *arg)
{
	char *s = node_status(c->admin->node, json);
	int rv;

	(void)arg;
	if (s == NULL)
		return respond(c, false, "out of memory");
	rv = respond(c, true, s);
	ekl_free(s);
	return rv;
}

static int cmd_help(struct admin_client *c, bool json, const char *arg);

static const struct {
	const char *name;
	admin_fn fn;
	const char *help;
} admin_commands[] = {
	{"xStatus Cluster", cmd_status_cluster,
	 "links to every peer, with each direction's last failure"},
	{"help", cmd_help, "this list"},
};

#define N_COMMANDS (sizeof(admin_commands) / sizeof(admin_commands[0]))

static int cmd_help(struct admin_client *c, bool json, const char *arg)
{
	char buf[2048];
	size_t len = 0, i;

	(void)json;
	(void)arg;
	for (i = 0; i < N_COMMANDS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%-18s %s\n", admin_commands[i].name,
					admin_commands[i].help);
	return respond(c, true, buf);
}

static int handle_line(struct admin_client *c, char *line)
{
	bool json;
	char *cmd;
	size_t i;

	if (strncmp(line, "json ", 5) == 0)
		json = true;
	else if (strncmp(line, "text ", 5) == 0)
		json = false;
	else
		return respond(c, false,
			       "request must start with 'text ' or 'json '");
	cmd = line + 5;
	for (i = 0; i < N_COMMANDS; i++) {
		size_t n = strlen(admin_commands[i].name);

		if (strncmp(cmd, admin_commands[i].name, n) == 0 &&
		    (cmd[n] == '\0' || cmd[n] == ' '))
			return admin_commands[i].fn(
				c, json, cmd[n] ? cmd + n + 1 : "");
	}
	{
		char msg[512];

		snprintf(msg, sizeof(msg),
			 "unknown command '%.200s'; try 'help'", cmd);
		return respond(c, false, msg);
	}
}

static void client_flush(struct admin_client *c)
{
	struct ev_loop *loop = c->admin->node->loop;

	while (c->out_len > 0) {
		ssize_t w = write(c->fd, c->out, c->out_len);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_free(c);
			return;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	if (c->out_len > 0)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	client_flush(container_of(w, struct admin_client, wio));
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_client *c = container_of(w, struct admin_client, rio);
	char *nl;
	ssize_t r;

	(void)loop;
	(void)revents;
	if (c->in_cap - c->in_len < 4096) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
		char *nb;

		if (cap > ADMIN_LINE_MAX * 2 || (nb = ekl_realloc(c->in, cap)) ==
							  NULL) {
			client_free(c);
			return;
		}
		c->in = nb;
		c->in_cap = cap;
	}
	r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		client_free(c);
		return;
	}
	c->in_len += (size_t)r;
	c->in[c->in_len] = '\0';
	while ((nl = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t used = (size_t)(nl - c->in) + 1;

		*nl = '\0';
		if (nl > c->in && nl[-1] == '\r')
			nl[-1] = '\0';
		if (handle_line(c, c->in) != 0) {
			client_free(c);
			return;
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		c->in[c->in_len] = '\0';
	}
	if (c->in_len > ADMIN_LINE_MAX) {
		client_free(c);
		return;
	}
	client_flush(c);
}

static void on_admin_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin *a = container_of(w, struct admin, w);

	(void)revents;
	for (;;) {
		struct admin_client *c;
		int fd = accept4(a->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		c = ekl_calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->admin = a;
		c->fd = fd;
		ev_io_init(&c->rio, on_client_read, fd, EV_READ);
		ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
		ev_io_start(loop, &c->rio);
		c->next = a->clients;
		a->clients = c;
	}
}

/* Remove a socket file left by a node that died; refuse a live one. */
static int clear_stale(const char *path, const struct sockaddr_un *sun,
		       char *err)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return ekl_errf(err, EKL_ECONFIG,
				"--admin %s exists and is not a socket; "
				"choose another path",
				path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live)
		return ekl_errf(err, EKL_ECONFIG,
				"--admin %s: another node is serving this "
				"socket; stop it or choose another path",
				path);
	unlink(path);
	return 0;
}

int admin_start(struct node *n, const char *path, struct admin **out,
		char *err)
{
	struct sockaddr_un sun;
	struct admin *a;
	mode_t old;
	int rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ekl_errf(err, EKL_ECONFIG,
				"--admin %s: path too long (max %zu bytes)",
				path, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	rv = clear_stale(path, &sun, err);
	if (rv != 0)
		return rv;
	a = ekl_calloc(1, sizeof(*a));
	if (a == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	a->node = n;
	a->path = ekl_strdup(path);
	if (a->path == NULL) {
		rv = ekl_errf(err, EKL_ENOMEM, "out of memory");
		goto err_after_alloc;
	}
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		rv = ekl_errf(err, EKL_EIO, "socket: %s", strerror(errno));
		goto err_after_alloc;
	}
	/* Created 0600 from the start: no window where others can connect. */
	old = umask(0177);
	rv = bind(a->fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rv != 0) {
		rv = ekl_errf(err, EKL_ECONFIG, "--admin %s: bind: %s", path,
			      strerror(errno));
		goto err_after_socket;
	}
	if (chmod(path, 0600) != 0 || listen(a->fd, 64) != 0) {
		rv = ekl_errf(err, EKL_EIO, "--admin %s: %s", path,
			      strerror(errno));
		goto err_after_bind;
	}
	ev_io_init(&a->w, on_admin_accept, a->fd, EV_READ);
	ev_io_start(n->loop, &a->w);
	*out = a;
	return 0;

err_after_bind:
	unlink(path);
err_after_socket:
	close(a->fd);
err_after_alloc:
	ekl_free(a->path);
	ekl_free(a);
	return rv;
}

void admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	while (a->clients != NULL)
		client_free(a->clients);
	ev_io_stop(a->node->loop, &a->w);
	close(a->fd);
	unlink(a->path);
	ekl_free(a->path);
	ekl_free(a);
}
