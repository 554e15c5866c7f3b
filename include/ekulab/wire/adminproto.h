/* adminproto.h: the admin protocol's limits, request lines and replies.
 *
 * The node's admin socket and the lab proxy's control socket speak it; the
 * client library (cli/client) is its only client.
 *
 *   request:  "FORMAT[,OPTION...] COMMAND\n"
 *             FORMAT: text | json; OPTION: ack=all | ack=primary |
 *             timeout=MS (1-3600000)
 *   response: "ok N\n" or "err N\n", then exactly N bytes of body.
 *
 * A request line is UTF-8 text without NUL bytes; anything else gets an
 * "err" naming the byte (adminproto_line_check), and nothing is done.
 *
 * Responses come in request order, so a client may pipeline. A request
 * line over ADMINPROTO_LINE_MAX gets an "err" response naming the limit;
 * the server then skips to the end of that line and goes on serving the
 * connection.
 */
#ifndef EKULAB_ADMINPROTO_H
#define EKULAB_ADMINPROTO_H

#include <stdbool.h>
#include <stddef.h>

/* The one set of limits. The store refuses longer paths and values, the
 * servers longer lines, the reader longer bodies. */
#define ADMINPROTO_KEY_MAX    512   /* bytes of an xConfiguration path */
#define ADMINPROTO_VALUE_MAX  65536 /* bytes of a value (quotes excluded) */
#define ADMINPROTO_PREFIX_MAX 64    /* bytes of "FORMAT[,OPTION...]" */
/* The longest request line, newline excluded: a maximal prefix, a space
 * and 'xConfiguration PATH: "VALUE"' with a maximal path and value
 * (15 = strlen("xConfiguration "), 2 = ": ", 2 = the quotes). */
#define ADMINPROTO_LINE_MAX                                                    \
	(ADMINPROTO_PREFIX_MAX + 1 + 15 + ADMINPROTO_KEY_MAX + 2 + 2 +         \
	 ADMINPROTO_VALUE_MAX)
#define ADMINPROTO_BODY_MAX    (256u << 20) /* bytes of a response body */
#define ADMINPROTO_HDR_MAX     32      /* a response header, "\n" included */
#define ADMINPROTO_TIMEOUT_MAX 3600000 /* timeout=MS */

/* ---- requests ---- */

enum adminproto_format { ADMINPROTO_TEXT = 0, ADMINPROTO_JSON };

struct adminproto_opts {
	enum adminproto_format format;
	bool ack_all;	     /* ack=all: wait for every linked peer */
	unsigned timeout_ms; /* 0: the server's default */
};

struct adminproto_request {
	struct adminproto_opts opts;
	bool has_options; /* an OPTION was given (servers without any refuse) */
	char *command;	  /* points into the parsed line; may be "" */
};

/* Is line[0..len) (newline removed) a line the protocol takes? 0, or
 * EKL_EINVAL with err naming the offending byte: a NUL (a C server would
 * see the line end there and act on part of it) or bytes that are not
 * UTF-8 (a value stored and replicated that way would make every node's
 * JSON invalid). Servers call it before adminproto_request_parse; the
 * request builders below call it too, so a client refuses before it
 * sends. */
int adminproto_line_check(const char *line, size_t len, char *err);

/* Parse one request line (newline removed) in place: the prefix is cut off
 * and rq->command points after it. On error (EKL_EINVAL) err holds the
 * message a server sends back in its "err" response. */
int adminproto_request_parse(char *line, struct adminproto_request *rq,
			     char *err);

/* "text", "json,ack=all,timeout=500" into buf (ADMINPROTO_PREFIX_MAX + 1
 * bytes are always enough). */
void adminproto_prefix_format(const struct adminproto_opts *o, char *buf,
			      size_t len);

/* The request line "PREFIX COMMAND\n" in a new buffer (*line owned by the
 * caller, ekl_free; *len counts the newline). prefix is sent as given, so
 * a server judges it. Refuses (EKL_EINVAL) a line break in prefix or
 * command or bytes that are not UTF-8, and (EKL_ETOOBIG) a line over
 * ADMINPROTO_LINE_MAX. */
int adminproto_line_new(const char *prefix, const char *command, char **line,
			size_t *len, char *err);
/* The same with a prefix formatted from o. */
int adminproto_request_new(const struct adminproto_opts *o, const char *command,
			   char **line, size_t *len, char *err);

/* The message for a request line over the limit (the text a server sends
 * back and a client reports). Returns EKL_ETOOBIG. */
int adminproto_line_too_long(char *err);

/* ---- responses ---- */

/* "ok N\n" / "err N\n" into buf (ADMINPROTO_HDR_MAX bytes); returns its
 * length. */
size_t adminproto_reply_header(char *buf, bool ok, size_t body_len);

enum adminproto_res {
	ADMINPROTO_NEED_MORE = 0, /* not a whole response yet */
	ADMINPROTO_REPLY,	  /* *reply holds one response, ok or err */
	ADMINPROTO_ERR_HEADER,	  /* the header is not "ok N" / "err N" */
	ADMINPROTO_ERR_TOO_BIG,	  /* N is over the reader's maximum */
	ADMINPROTO_ERR_NOMEM,	  /* no memory for the body; try again */
};

/* One response. body is NUL-terminated and owned by whoever took it from
 * the reader (ekl_free); len excludes the NUL. */
struct adminproto_reply {
	bool ok;
	char *body;
	size_t len;
};

/* Incremental response reader.
 *
 * Invariants:
 *  1. buf[off..len) holds the unconsumed bytes; buf[off] is the first byte
 *     of a response header.
 *  2. A header is judged as soon as its newline arrives, and a length over
 *     max is refused before anything is allocated for its body; a header
 *     without a newline within ADMINPROTO_HDR_MAX bytes is refused too.
 *  3. Once err is set it stays; feed and next keep reporting it.
 * Drain with adminproto_reader_next until NEED_MORE after each feed: then
 * the buffer holds at most one response plus one feed. */
struct adminproto_reader {
	char *buf; /* owned */
	size_t off;
	size_t len;
	size_t cap;
	size_t max;		 /* longest body accepted */
	enum adminproto_res err; /* sticky; NEED_MORE while healthy */
};

/* max 0 means ADMINPROTO_BODY_MAX. */
void adminproto_reader_init(struct adminproto_reader *r, size_t max);
/* Frees the buffer; accepts a reader that was never fed. */
void adminproto_reader_close(struct adminproto_reader *r);
/* Append received bytes. Returns 0, EKL_ENOMEM, or EKL_EPROTO /
 * EKL_ETOOBIG once the stream is known to be bad (see next for which). */
int adminproto_reader_feed(struct adminproto_reader *r, const void *data,
			   size_t len);
/* Take the next response. On ADMINPROTO_REPLY, reply->body is the
 * caller's. After ERR_HEADER or ERR_TOO_BIG the stream cannot be resynced:
 * close the connection. */
enum adminproto_res adminproto_reader_next(struct adminproto_reader *r,
					   struct adminproto_reply *reply);
/* Bytes still missing for the pending response: its exact remainder once
 * its header is judged, else 1 (a header is read a byte at a time). A
 * client that reads no more than this never takes bytes of the next
 * response off the socket. 0 when a whole response is buffered or after
 * an error. */
size_t adminproto_reader_need(const struct adminproto_reader *r);
const char *adminproto_res_name(enum adminproto_res res);

#endif
