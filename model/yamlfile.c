/* yamlfile.c: read a one-document YAML file with libyaml.
 *
 * The happy path: open the file without blocking, check it is a regular
 * file within YAMLFILE_MAX_BYTES, read it; walk its events once to check
 * the nesting depth (the scanner reads at most about 1 KiB ahead of the
 * event it hands out, so refusing at depth YAMLFILE_MAX_DEPTH + 1 bounds
 * the work); build the document, refuse a NUL inside a scalar, hand the
 * document to the walker, refuse a second document.
 */
#include "yamlfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/file.h"
#include "ekulab/core/mem.h"

static int open_file(const char *path, const char *kind, int *fdp, size_t *size,
		     char *err)
{
	struct stat st;
	int en;

	/* Never waits on a FIFO for a writer (file_open_read). */
	en = file_open_read(path, fdp, &st);
	if (en == ENOENT)
		return ekl_errf(err, EKL_ENOENT,
				"%s '%s': no such file; check the path", kind,
				path);
	if (en == EACCES)
		return ekl_errf(err, EKL_EPERM, "%s '%s': permission denied",
				kind, path);
	if (en != 0)
		return ekl_errf(err, EKL_EIO, "%s '%s': %s", kind, path,
				strerror(en));
	if (*fdp < 0)
		return ekl_errf(err, EKL_EIO,
				"%s '%s': not a regular file; give the %s "
				"file itself",
				kind, path, kind);
	if (st.st_size > (off_t)YAMLFILE_MAX_BYTES) {
		close(*fdp);
		*fdp = -1;
		return ekl_errf(err, EKL_ECONFIG,
				"%s '%s': %lld bytes; a %s file is at most %u "
				"bytes (%u MiB): is it the right file?",
				kind, path, (long long)st.st_size, kind,
				YAMLFILE_MAX_BYTES, YAMLFILE_MAX_BYTES >> 20);
	}
	*size = (size_t)st.st_size;
	return 0;
}

/* The whole file (at most YAMLFILE_MAX_BYTES; it may have changed since
 * fstat) into a new buffer. */
static int read_file(const char *path, const char *kind, int fd, size_t size,
		     char **out, size_t *len, char *err)
{
	size_t cap = size + 1, got = 0;
	char *buf = ekl_malloc(cap);

	if (buf == NULL)
		return ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", kind,
				path);
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *nb;

			if (cap > YAMLFILE_MAX_BYTES) {
				ekl_free(buf);
				return ekl_errf(
				    err, EKL_ECONFIG,
				    "%s '%s': over %u bytes (%u MiB), the "
				    "most a %s file may hold",
				    kind, path, YAMLFILE_MAX_BYTES,
				    YAMLFILE_MAX_BYTES >> 20, kind);
			}
			cap = cap * 2 > YAMLFILE_MAX_BYTES + 1
				  ? YAMLFILE_MAX_BYTES + 1
				  : cap * 2;
			nb = ekl_realloc(buf, cap);
			if (nb == NULL) {
				ekl_free(buf);
				return ekl_errf(err, EKL_ENOMEM,
						"%s '%s': out of memory", kind,
						path);
			}
			buf = nb;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int en = errno;

			ekl_free(buf);
			return ekl_errf(err, EKL_EIO, "%s '%s': %s", kind, path,
					strerror(en));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	return 0;
}

int yamlfile_load(const char *path, const char *kind,
		  int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		  char *err)
{
	char *buf = NULL;
	size_t size = 0, len = 0;
	int fd = -1;
	int rc;

	if ((rc = open_file(path, kind, &fd, &size, err)) != 0)
		return rc;
	rc = read_file(path, kind, fd, size, &buf, &len, err);
	close(fd);
	if (rc != 0)
		return rc;
	rc = yamlfile_load_mem(path, buf, len, kind, walk, arg, err);
	ekl_free(buf);
	return rc;
}

static int syntax_error(const char *name, const yaml_parser_t *p, char *err)
{
	if (p->error == YAML_MEMORY_ERROR)
		return ekl_errf(err, EKL_ENOMEM, "%s: out of memory", name);
	return ekl_errf(err, EKL_ECONFIG,
			"%s:%zu:%zu: YAML syntax error: %s%s%s", name,
			p->problem_mark.line + 1, p->problem_mark.column + 1,
			p->problem != NULL ? p->problem : "unreadable",
			p->context != NULL ? " " : "",
			p->context != NULL ? p->context : "");
}

/* Walk the stream's events: refuse nesting over YAMLFILE_MAX_DEPTH (and
 * report syntax errors) before anything is built. */
static int check_depth(const char *name, const char *kind,
		       const unsigned char *buf, size_t len, char *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return ekl_errf(err, EKL_ENOMEM, "%s: out of memory", name);
	yaml_parser_set_input_string(&parser, buf, len);
	for (;;) {
		yaml_event_type_t type;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(name, &parser, err);
			break;
		}
		type = ev.type;
		if (type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT) {
			if (++depth > YAMLFILE_MAX_DEPTH) {
				rc = ekl_errf(
				    err, EKL_ECONFIG,
				    "%s:%zu:%zu: nested more than %d levels "
				    "deep; a %s needs only a few: flatten it "
				    "(is it the right file?)",
				    name, ev.start_mark.line + 1,
				    ev.start_mark.column + 1,
				    YAMLFILE_MAX_DEPTH, kind);
				yaml_event_delete(&ev);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT ||
			   type == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* Scalars are handed out as C strings: one holding a NUL would be cut
 * there, silently ("X15.4\u0000x" read as "X15.4"). */
static int check_scalars(const char *name, yaml_document_t *doc, char *err)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n < doc->nodes.top; n++) {
		if (n->type != YAML_SCALAR_NODE ||
		    memchr(n->data.scalar.value, '\0', n->data.scalar.length) ==
			NULL)
			continue;
		return ekl_errf(err, EKL_ECONFIG,
				"%s:%zu:%zu: a NUL character (\\0 or \\u0000) "
				"inside a value; remove it",
				name, n->start_mark.line + 1,
				n->start_mark.column + 1);
	}
	return 0;
}

int yamlfile_load_mem(const char *name, const void *buf, size_t len,
		      const char *kind,
		      int (*walk)(void *arg, yaml_document_t *doc), void *arg,
		      char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_document_t extra;
	int rc;

	if (len > YAMLFILE_MAX_BYTES)
		return ekl_errf(err, EKL_ECONFIG,
				"%s: %zu bytes; a %s is at most %u bytes (%u "
				"MiB): is it the right file?",
				name, len, kind, YAMLFILE_MAX_BYTES,
				YAMLFILE_MAX_BYTES >> 20);
	if ((rc = check_depth(name, kind, (const unsigned char *)buf, len,
			      err)) != 0)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return ekl_errf(err, EKL_ENOMEM, "%s '%s': out of memory", kind,
				name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(name, &parser, err);
		goto err_after_parser;
	}
	rc = check_scalars(name, &doc, err);
	if (rc == 0)
		rc = walk(arg, &doc);
	if (rc == 0) {
		/* One document only: a second one would be ignored. */
		if (!yaml_parser_load(&parser, &extra)) {
			rc = syntax_error(name, &parser, err);
		} else {
			yaml_node_t *r = yaml_document_get_root_node(&extra);

			if (r != NULL)
				rc = ekl_errf(err, EKL_ECONFIG,
					      "%s:%zu:%zu: a second YAML "
					      "document; a %s is one document "
					      "(remove the ---)",
					      name, r->start_mark.line + 1,
					      r->start_mark.column + 1, kind);
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
err_after_parser:
	yaml_parser_delete(&parser);
	return rc;
}

bool yamlfile_check_keys(yaml_document_t *doc, const yaml_node_t *map,
			 const char *kp, const char *const *allowed,
			 const yaml_node_t **at, char *key, size_t keylen,
			 char *msg, size_t msglen)
{
	const yaml_node_pair_t *p, *q;
	char list[200] = "";
	size_t i;

	for (i = 0; allowed[i] != NULL; i++) {
		size_t n = strlen(list);

		snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
			 allowed[i]);
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		const char *name;

		if (k == NULL || k->type != YAML_SCALAR_NODE) {
			*at = k != NULL ? k : map;
			snprintf(key, keylen, "%s", kp[0] ? kp : "(top)");
			snprintf(msg, msglen, "keys must be plain names");
			return false;
		}
		name = (const char *)k->data.scalar.value;
		*at = k;
		snprintf(key, keylen, "%s%s%s", kp, kp[0] ? "." : "", name);
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(name, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			snprintf(msg, msglen,
				 "unknown key; expected one of: %s", list);
			return false;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(doc, q->key);

			if (strcmp((const char *)k2->data.scalar.value, name) ==
			    0) {
				snprintf(msg, msglen,
					 "duplicate key (first at line %zu)",
					 k2->start_mark.line + 1);
				return false;
			}
		}
	}
	return true;
}
