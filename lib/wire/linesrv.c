/* linesrv.c: the admin protocol's line server on a libev loop.
 *
 * The happy path: a client connects and writes request lines; each line is
 * parsed (adminproto_request_parse) and handed to the handler with a reply
 * slot appended to the client's FIFO. Slots complete in any order; the
 * ready ones at the head of the FIFO are moved to the output buffer, so
 * responses leave in request order.
 *
 * The failure modes: a request line over ADMINPROTO_LINE_MAX gets an "err"
 * naming the limit and the rest of that line is skipped; a line with a
 * NUL byte or bytes that are not UTF-8 (adminproto_line_check), or a
 * malformed prefix, gets an "err" too and never reaches the handler. A client
 * that stops reading its responses (output over LINESRV_OUT_HIGH) or keeps too
 * many requests unanswered (LINESRV_INFLIGHT_MAX) is not read from until it
 * catches up (backpressure). A client is closed only on a read or write error,
 * or when memory runs out so that its responses could no longer be kept in
 * order. A client that half-closes still gets every response, then is
 * closed. accept() running out of descriptors pauses the listener for a
 * moment.
 *
 * Invariants:
 *  1. in[in_off..in_len) is unhandled input; in[in_off] starts a line (or
 *     continues the over-long line being skipped); in[in_off..in_off +
 *     scanned) holds no newline.
 *  2. Unhandled input never holds a line over ADMINPROTO_LINE_MAX + 1
 *     bytes without its newline: such a line is answered and skipped.
 *  3. out[out_off..out_len) holds whole responses, in request order,
 *     followed by nothing: a response enters out only when every earlier
 *     one has.
 *  4. A reply slot is on its client's FIFO from linesrv_reply_new until it
 *     is moved to out; a slot whose client went away has client == NULL
 *     and is freed by whoever completes it.
 */
#include "ekulab/wire/linesrv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "ekulab/core/addr.h"
#include "ekulab/core/container_of.h"
#include "ekulab/core/err.h"
#include "ekulab/core/log.h"
#include "ekulab/core/mem.h"

#define IN_CHUNK (16u << 10) /* bytes read at a time */
#define IN_MAX	 (ADMINPROTO_LINE_MAX + 2 + IN_CHUNK)
/* Unanswered requests above which a client is not read from. */
#define LINESRV_INFLIGHT_MAX 16384
#define OUT_KEEP_CAP	     (64u << 10)
#define ACCEPT_BATCH	     64
#define ACCEPT_RETRY_S	     0.5

struct linesrv_reply {
	struct lsrv_client *client; /* not owned; NULL once it has gone */
	bool ready;
	bool ok;
	bool oom;   /* no memory for the body: answer "err out of memory" */
	char *body; /* owned */
	size_t len;
	struct linesrv_reply *next;
};

struct lsrv_client {
	struct linesrv *srv; /* not owned */
	int fd;		     /* owned */
	ev_io rio;
	ev_io wio;
	char *in; /* owned */
	size_t in_off;
	size_t in_len;
	size_t in_cap;
	size_t scanned;
	bool skipping;	/* discarding an over-long line up to its newline */
	bool paused;	/* backpressure: neither reading nor handling */
	bool eof;	/* the client sent everything it will */
	bool broken;	/* responses can no longer be kept in order */
	bool flush_due; /* responses became ready: flush before the loop
			   waits (on_flush) */
	char *out;	/* owned */
	size_t out_off;
	size_t out_len;
	size_t out_cap;
	struct linesrv_reply *replies; /* FIFO; ready ones owned */
	struct linesrv_reply **replies_tail;
	size_t n_replies;
	struct lsrv_client *prev;
	struct lsrv_client *next;
};

struct linesrv {
	struct ev_loop *loop; /* not owned */
	linesrv_handler_fn fn;
	void *arg;
	char *path; /* owned; NULL until linesrv_listen */
	int fd;	    /* owned; -1 until linesrv_listen */
	ev_io accept_w;
	ev_timer retry;
	ev_prepare flush_w; /* writes ready responses before the loop waits */
	size_t n_flush_due; /* clients with flush_due set */
	struct lsrv_client *clients; /* owned */
	size_t n_clients;
};

/* ---- clients ---- */

static void client_free(struct lsrv_client *c)
{
	struct linesrv *s = c->srv;
	struct linesrv_reply *r = c->replies;

	/* Ready replies are ours; pending ones belong to whoever completes
	 * them: cut them loose. */
	while (r != NULL) {
		struct linesrv_reply *next = r->next;

		if (r->ready) {
			ekl_free(r->body);
			ekl_free(r);
		} else {
			r->client = NULL;
			r->next = NULL;
		}
		r = next;
	}
	if (c->flush_due)
		s->n_flush_due--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_clients--;
	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	close(c->fd);
	ekl_free(c->in);
	ekl_free(c->out);
	ekl_free(c);
}

static size_t out_pending(const struct lsrv_client *c)
{
	return c->out_len - c->out_off;
}

static int out_append(struct lsrv_client *c, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (n == 0)
		return 0;
	if (c->out_off > 0 && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap) {
		cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
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

/* Move the ready replies at the head of the FIFO to out (invariant 3). */
static int drain_replies(struct lsrv_client *c)
{
	static const char oom[] = "out of memory";

	while (c->replies != NULL && c->replies->ready) {
		struct linesrv_reply *r = c->replies;
		const char *body = r->oom ? oom : r->body;
		size_t len = r->oom ? sizeof(oom) - 1 : r->len;
		char hdr[ADMINPROTO_HDR_MAX];
		size_t hl = adminproto_reply_header(hdr, r->ok && !r->oom, len);

		if (out_append(c, hdr, hl) != 0 ||
		    out_append(c, body, len) != 0)
			return EKL_ENOMEM;
		c->replies = r->next;
		if (c->replies == NULL)
			c->replies_tail = &c->replies;
		c->n_replies--;
		ekl_free(r->body);
		ekl_free(r);
	}
	return 0;
}

static struct linesrv_reply *reply_new(struct lsrv_client *c)
{
	struct linesrv_reply *r = ekl_calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->client = c;
	*c->replies_tail = r;
	c->replies_tail = &r->next;
	c->n_replies++;
	return r;
}

void linesrv_reply_take(struct linesrv_reply *r, bool ok, char *body,
			size_t len)
{
	struct lsrv_client *c = r->client;

	if (c == NULL) { /* the client went away */
		ekl_free(body);
		ekl_free(r);
		return;
	}
	if (len > ADMINPROTO_BODY_MAX) {
		char msg[160];

		ekl_free(body);
		snprintf(msg, sizeof(msg),
			 "the response of %zu bytes is over the admin "
			 "protocol's limit of %u bytes",
			 len, ADMINPROTO_BODY_MAX);
		ok = false;
		len = strlen(msg);
		body = ekl_strdup(msg);
		if (body == NULL)
			r->oom = true;
	}
	r->ok = ok;
	r->body = body;
	r->len = body != NULL ? len : 0;
	r->ready = true;
	/* Never write or free from here: we may be inside this client's
	 * read callback. The responses go out from on_flush, just before
	 * the loop waits, so that every response completed in this turn of
	 * the loop leaves in one send and without a turn of its own for
	 * the write watcher. The watcher is started as well, for a reply
	 * completed after on_flush ran; when on_flush sent everything it
	 * is stopped again before the loop tells the kernel (no system
	 * call). */
	if (drain_replies(c) != 0)
		c->broken = true;
	if (out_pending(c) > 0 || c->broken) {
		ev_io_start(c->srv->loop, &c->wio);
		if (!c->broken && !c->flush_due) {
			c->flush_due = true;
			c->srv->n_flush_due++;
		}
	}
}

void linesrv_reply_done(struct linesrv_reply *r, bool ok, const char *body)
{
	size_t n = body != NULL ? strlen(body) : 0;
	char *copy = NULL;

	if (n > 0) {
		copy = ekl_malloc(n + 1);
		if (copy == NULL) {
			if (r->client != NULL)
				r->oom = true;
			n = 0;
		} else {
			memcpy(copy, body, n + 1);
		}
	}
	linesrv_reply_take(r, ok, copy, n);
}

/* ---- input ---- */

static bool busy(const struct lsrv_client *c)
{
	return out_pending(c) >= LINESRV_OUT_HIGH ||
	       c->n_replies >= LINESRV_INFLIGHT_MAX;
}

static void pause_client(struct lsrv_client *c)
{
	c->paused = true;
	ev_io_stop(c->srv->loop, &c->rio);
}

/* Answer a line over the limit; false when even that is impossible. */
static bool answer_too_long(struct lsrv_client *c)
{
	struct linesrv_reply *r = reply_new(c);
	char err[EKL_ERRLEN];

	if (r == NULL)
		return false;
	ekl_warn("%s: request line over %d bytes: answered with an error, "
		 "skipping to its end",
		 c->srv->path != NULL ? c->srv->path : "admin socket",
		 ADMINPROTO_LINE_MAX);
	adminproto_line_too_long(err);
	linesrv_reply_done(r, false, err);
	return true;
}

static bool handle_line(struct lsrv_client *c, char *line, size_t len)
{
	struct linesrv_reply *r = reply_new(c);
	struct adminproto_request rq;
	char err[EKL_ERRLEN];

	if (r == NULL)
		return false;
	if (adminproto_line_check(line, len, err) != 0 ||
	    adminproto_request_parse(line, &rq, err) != 0) {
		linesrv_reply_done(r, false, err);
		return true;
	}
	c->srv->fn(c->srv->arg, &rq, r);
	return true;
}

/* Handle every complete line in the input, until backpressure says stop.
 * Sets broken when a response cannot be queued. */
static void handle_input(struct lsrv_client *c)
{
	while (!c->broken) {
		char *start = c->in + c->in_off, *nl;
		size_t avail = c->in_len - c->in_off, n;

		if (avail == 0) {
			c->in_off = c->in_len = c->scanned = 0;
			return;
		}
		if (busy(c)) {
			pause_client(c);
			return;
		}
		nl = memchr(start + c->scanned, '\n', avail - c->scanned);
		if (nl == NULL) {
			c->scanned = avail;
			if (c->skipping) {
				c->in_off = c->in_len = c->scanned = 0;
			} else if (avail > ADMINPROTO_LINE_MAX + 1) {
				/* Too long even before its newline (+1: a
				 * "\r" may end a maximal line). */
				if (!answer_too_long(c))
					c->broken = true;
				c->skipping = true;
				c->in_off = c->in_len = c->scanned = 0;
			}
			return;
		}
		n = (size_t)(nl - start);
		c->in_off += n + 1;
		c->scanned = 0;
		if (c->skipping) {
			c->skipping = false;
			continue;
		}
		*nl = '\0';
		if (n > 0 && start[n - 1] == '\r')
			start[--n] = '\0';
		if (n > ADMINPROTO_LINE_MAX ? !answer_too_long(c)
					    : !handle_line(c, start, n))
			c->broken = true;
	}
}

/* Write what is queued, resume a paused client, close a finished one.
 * Returns false when c was freed. */
static bool client_flush(struct lsrv_client *c)
{
	struct ev_loop *loop = c->srv->loop;

	while (out_pending(c) > 0) {
		ssize_t w = send(c->fd, c->out + c->out_off, out_pending(c),
				 MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			client_free(c);
			return false;
		}
		c->out_off += (size_t)w;
	}
	if (out_pending(c) == 0) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > OUT_KEEP_CAP) {
			ekl_free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
		if (c->broken) {
			client_free(c);
			return false;
		}
	}
	if (c->paused && !c->broken && out_pending(c) < LINESRV_OUT_LOW &&
	    c->n_replies < LINESRV_INFLIGHT_MAX / 2) {
		c->paused = false;
		handle_input(c);
		if (!c->paused && !c->eof)
			ev_io_start(loop, &c->rio);
	}
	if (c->eof && !c->paused && c->replies == NULL && out_pending(c) == 0) {
		client_free(c);
		return false;
	}
	if (c->broken)
		ev_io_stop(loop, &c->rio);
	if (out_pending(c) > 0 || c->broken)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
	return true;
}

/* The prepare watcher: flush the clients whose responses became ready in
 * this turn of the loop. Always active (and not keeping the loop alive),
 * at the lowest priority, so it runs after every other prepare watcher:
 * a group commit completes replies from its prepare watcher too. */
static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct linesrv *s = container_of(w, struct linesrv, flush_w);
	struct lsrv_client *c = s->clients;

	(void)loop;
	(void)revents;
	while (c != NULL && s->n_flush_due > 0) {
		struct lsrv_client *next = c->next;

		if (c->flush_due) {
			c->flush_due = false;
			s->n_flush_due--;
			(void)client_flush(c); /* may free c */
		}
		c = next;
	}
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)client_flush(container_of(w, struct lsrv_client, wio));
}

/* Room for one read (invariant 2 keeps the buffer under IN_MAX). */
static bool in_room(struct lsrv_client *c)
{
	size_t cap;
	char *nb;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len >= IN_CHUNK)
		return true;
	cap = c->in_cap ? c->in_cap * 2 : IN_CHUNK;
	while (cap - c->in_len < IN_CHUNK)
		cap *= 2;
	if (cap > IN_MAX)
		cap = IN_MAX;
	if (cap - c->in_len < IN_CHUNK)
		return false; /* cannot happen (invariant 2) */
	nb = ekl_realloc(c->in, cap);
	if (nb == NULL)
		return false;
	c->in = nb;
	c->in_cap = cap;
	return true;
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lsrv_client *c = container_of(w, struct lsrv_client, rio);
	ssize_t r;

	(void)revents;
	if (!in_room(c)) {
		ekl_warn("admin socket: out of memory; client closed");
		client_free(c);
		return;
	}
	r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (r < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r < 0) {
		client_free(c);
		return;
	}
	if (r == 0) {
		/* Half-closed: answer what was asked, then close. An
		 * unterminated last line is not a request. */
		c->eof = true;
		ev_io_stop(loop, &c->rio);
	} else {
		c->in_len += (size_t)r;
		handle_input(c);
	}
	(void)client_flush(c);
}

static int client_new(struct linesrv *s, int fd, char *err)
{
	struct lsrv_client *c = ekl_calloc(1, sizeof(*c));

	if (c == NULL) {
		close(fd);
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	}
	c->srv = s;
	c->fd = fd;
	c->replies_tail = &c->replies;
	ev_io_init(&c->rio, on_client_read, fd, EV_READ);
	ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
	ev_io_start(s->loop, &c->rio);
	c->next = s->clients;
	if (s->clients != NULL)
		s->clients->prev = c;
	s->clients = c;
	s->n_clients++;
	return 0;
}

/* ---- the listener ---- */

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct linesrv *s = container_of(w, struct linesrv, retry);

	(void)revents;
	ev_io_start(loop, &s->accept_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct linesrv *s = container_of(w, struct linesrv, accept_w);
	int i;

	(void)revents;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		int fd =
		    accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				ekl_warn("%s: accept: %s; pausing for %.1f s",
					 s->path, strerror(errno),
					 ACCEPT_RETRY_S);
				ev_io_stop(loop, &s->accept_w);
				ev_timer_set(&s->retry, ACCEPT_RETRY_S, 0);
				ev_timer_start(loop, &s->retry);
			}
			return;
		}
		if (client_new(s, fd, NULL) != 0)
			return;
	}
}

int linesrv_new(struct ev_loop *loop, linesrv_handler_fn fn, void *arg,
		struct linesrv **out, char *err)
{
	struct linesrv *s = ekl_calloc(1, sizeof(*s));

	if (s == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	s->loop = loop;
	s->fn = fn;
	s->arg = arg;
	s->fd = -1;
	ev_init(&s->retry, on_retry);
	ev_prepare_init(&s->flush_w, on_flush);
	ev_set_priority(&s->flush_w, EV_MINPRI);
	ev_prepare_start(loop, &s->flush_w);
	ev_unref(loop); /* it alone does not keep the loop running */
	*out = s;
	return 0;
}

int linesrv_listen(struct linesrv *s, const char *path, const char *flag,
		   const char *who, char *err)
{
	int rv, fd;

	if (s->path != NULL)
		return ekl_errf(err, EKL_EINVAL, "%s %s: already serving %s",
				flag, path, s->path);
	s->path = ekl_strdup(path);
	if (s->path == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory");
	rv = addr_listen_unix(path, flag, who, &fd, err);
	if (rv != 0)
		goto err_after_path;
	s->fd = fd;
	ev_io_init(&s->accept_w, on_accept, fd, EV_READ);
	ev_io_start(s->loop, &s->accept_w);
	return 0;

err_after_path:
	ekl_free(s->path);
	s->path = NULL;
	return rv;
}

int linesrv_adopt(struct linesrv *s, int fd, char *err)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		int e = errno;

		close(fd);
		return ekl_errf(err, EKL_EIO, "admin client: fcntl: %s",
				strerror(e));
	}
	return client_new(s, fd, err);
}

size_t linesrv_clients(const struct linesrv *s)
{
	return s->n_clients;
}

void linesrv_free(struct linesrv *s)
{
	if (s == NULL)
		return;
	while (s->clients != NULL)
		client_free(s->clients);
	ev_ref(s->loop);
	ev_prepare_stop(s->loop, &s->flush_w);
	ev_timer_stop(s->loop, &s->retry);
	if (s->fd >= 0) {
		ev_io_stop(s->loop, &s->accept_w);
		close(s->fd);
		unlink(s->path);
	}
	ekl_free(s->path);
	ekl_free(s);
}
