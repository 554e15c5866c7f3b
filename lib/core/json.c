/* json.c: a small JSON writer into a growable buffer. */
#include "ekulab/core/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ekulab/core/mem.h"

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_close(struct json *j)
{
	ekl_free(j->buf);
	memset(j, 0, sizeof(*j));
}

static void put(struct json *j, const char *s, size_t n)
{
	if (j->oom)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		char *nb;

		while (cap < j->len + n + 1)
			cap *= 2;
		nb = ekl_realloc(j->buf, cap);
		if (nb == NULL) {
			j->oom = true;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct json *j, const char *s)
{
	put(j, s, strlen(s));
}

/* Before a value or key at the current depth: a comma if one precedes. */
static void sep(struct json *j)
{
	if (j->depth > 0 && j->depth <= JSON_DEPTH_MAX) {
		if (j->need_comma[j->depth])
			put(j, ",", 1);
		j->need_comma[j->depth] = true;
	}
}

static void open_(struct json *j, const char *c)
{
	put(j, c, 1);
	j->depth++;
	if (j->depth <= JSON_DEPTH_MAX)
		j->need_comma[j->depth] = false;
	else
		j->too_deep = true; /* no commas could be placed right */
}

/* A value right after a key must not get another comma. */
static void value_sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	sep(j);
}

void json_obj_begin(struct json *j)
{
	value_sep(j);
	open_(j, "{");
}

void json_obj_end(struct json *j)
{
	j->depth--;
	put(j, "}", 1);
}

void json_arr_begin(struct json *j)
{
	value_sep(j);
	open_(j, "[");
}

void json_arr_end(struct json *j)
{
	j->depth--;
	put(j, "]", 1);
}

static void quoted(struct json *j, const char *s)
{
	const unsigned char *p;
	char esc[8];

	put(j, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"': puts_(j, "\\\""); break;
		case '\\': puts_(j, "\\\\"); break;
		case '\n': puts_(j, "\\n"); break;
		case '\r': puts_(j, "\\r"); break;
		case '\t': puts_(j, "\\t"); break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				puts_(j, esc);
			} else {
				put(j, (const char *)p, 1);
			}
		}
	}
	put(j, "\"", 1);
}

void json_key(struct json *j, const char *k)
{
	sep(j);
	quoted(j, k);
	put(j, ":", 1);
	j->after_key = true;
}

void json_str(struct json *j, const char *s)
{
	value_sep(j);
	if (s == NULL)
		puts_(j, "null");
	else
		quoted(j, s);
}

void json_int(struct json *j, int64_t v)
{
	char b[32];

	value_sep(j);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void json_fixed(struct json *j, double v, int decimals)
{
	char b[64];

	value_sep(j);
	if (!isfinite(v) || v > 1e15 || v < -1e15) {
		puts_(j, "null"); /* JSON has no NaN or infinity */
		return;
	}
	snprintf(b, sizeof(b), "%.*f", decimals < 0 ? 0 : decimals, v);
	puts_(j, b);
}

void json_double(struct json *j, double v)
{
	char b[40];

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	value_sep(j);
	snprintf(b, sizeof(b), "%.15g", v);
	puts_(j, b);
}

void json_bool(struct json *j, bool v)
{
	value_sep(j);
	puts_(j, v ? "true" : "false");
}

void json_null(struct json *j)
{
	value_sep(j);
	puts_(j, "null");
}

const char *json_finish(struct json *j)
{
	if (j->oom || j->too_deep)
		return NULL;
	if (j->buf == NULL)
		put(j, "", 0);
	return j->oom ? NULL : j->buf;
}

void json_raw(struct json *j, const char *text)
{
	value_sep(j);
	puts_(j, text);
}
