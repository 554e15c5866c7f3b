/* jsonr.c: a small strict JSON reader (RFC 8259) into an arena tree. */
#include "ekulab/core/jsonr.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"

/* Every value and string lives in blocks chained from the document. */
#define BLOCK_SIZE (64u << 10)

struct jsonr_block {
	struct jsonr_block *next;
	size_t used;
	size_t cap;
	alignas(max_align_t) unsigned char data[];
};

struct jsonr_doc {
	struct jsonr_block *blocks; /* owned; the newest first */
	struct jsonr_value *root;
};

struct parser {
	const unsigned char *s;
	size_t len;
	size_t pos;
	struct jsonr_doc *doc;
	char *err;
};

static void *arena_alloc(struct jsonr_doc *d, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct jsonr_block *b = d->blocks;
	size_t at;

	n = (n + align - 1) / align * align;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > BLOCK_SIZE / 4 ? n : BLOCK_SIZE;

		b = ekl_malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		if (cap > BLOCK_SIZE || d->blocks == NULL) {
			/* A big one-off goes behind the current block, which
			 * keeps serving small requests. */
			b->next = d->blocks != NULL ? d->blocks->next : NULL;
			if (d->blocks != NULL)
				d->blocks->next = b;
			else
				d->blocks = b;
		} else {
			b->next = d->blocks;
			d->blocks = b;
		}
	}
	at = b->used;
	b->used += n;
	return b->data + at;
}

void jsonr_free(struct jsonr_doc *d)
{
	struct jsonr_block *b, *next;

	if (d == NULL)
		return;
	for (b = d->blocks; b != NULL; b = next) {
		next = b->next;
		ekl_free(b);
	}
	ekl_free(d);
}

const struct jsonr_value *jsonr_root(const struct jsonr_doc *d)
{
	return d != NULL ? d->root : NULL;
}

/* ---- the parser ---- */

static int fail(struct parser *p, const char *what)
{
	return ekl_errf(p->err, EKL_EPROTO, "JSON at byte %zu: %s", p->pos,
			what);
}

static int oom(struct parser *p)
{
	return ekl_errf(p->err, EKL_ENOMEM, "out of memory reading JSON");
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len &&
	       (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
		p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static struct jsonr_value *value_new(struct parser *p, enum jsonr_type t)
{
	struct jsonr_value *v = arena_alloc(p->doc, sizeof(*v));

	if (v != NULL) {
		memset(v, 0, sizeof(*v));
		v->type = t;
	}
	return v;
}

/* The length of the UTF-8 sequence at s[0..n), or 0 when invalid
 * (overlong, surrogate, over U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* over U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int hex4(const unsigned char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One \uXXXX escape (a surrogate pair takes two) at s[pos] == 'u'. */
static int unicode_escape(struct parser *p, char *o, size_t *olen)
{
	unsigned cp, lo;

	if (p->len - p->pos < 5 || hex4(p->s + p->pos + 1, &cp) != 0)
		return fail(p, "\\u needs four hex digits");
	p->pos += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(p, "a low surrogate without a high one");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - p->pos < 6 || p->s[p->pos] != '\\' ||
		    p->s[p->pos + 1] != 'u' ||
		    hex4(p->s + p->pos + 2, &lo) != 0 || lo < 0xdc00 ||
		    lo > 0xdfff)
			return fail(p, "a high surrogate without a low one");
		p->pos += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(p, "\\u0000 is not supported");
	*olen += put_utf8(o + *olen, cp);
	return 0;
}

/* A string at s[pos] == '"': decoded into the arena. */
static int parse_string(struct parser *p, const char **out, size_t *out_len)
{
	size_t start = ++p->pos, end = start, olen = 0;
	char *o;
	int rv;

	/* Find the closing quote; escapes never grow, so the raw length
	 * bounds the decoded one. */
	while (end < p->len && p->s[end] != '"') {
		if (p->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->len)
		return fail(p, "unterminated string");
	o = arena_alloc(p->doc, end - start + 1);
	if (o == NULL)
		return oom(p);
	while (p->pos < end) {
		unsigned char c = p->s[p->pos];
		size_t n;

		if (c == '\\') {
			p->pos++;
			switch (p->s[p->pos]) {
			case '"': o[olen++] = '"'; break;
			case '\\': o[olen++] = '\\'; break;
			case '/': o[olen++] = '/'; break;
			case 'b': o[olen++] = '\b'; break;
			case 'f': o[olen++] = '\f'; break;
			case 'n': o[olen++] = '\n'; break;
			case 'r': o[olen++] = '\r'; break;
			case 't': o[olen++] = '\t'; break;
			case 'u':
				rv = unicode_escape(p, o, &olen);
				if (rv != 0)
					return rv;
				if (p->pos > end)
					return fail(p, "unterminated string");
				continue;
			default: return fail(p, "unknown escape");
			}
			p->pos++;
			continue;
		}
		if (c < 0x20)
			return fail(p, "a control character in a string");
		n = utf8_len(p->s + p->pos, end - p->pos);
		if (n == 0)
			return fail(p, "invalid UTF-8 in a string");
		memcpy(o + olen, p->s + p->pos, n);
		olen += n;
		p->pos += n;
	}
	o[olen] = '\0';
	p->pos = end + 1;
	*out = o;
	*out_len = olen;
	return 0;
}

static bool digit(const struct parser *p, size_t at)
{
	return at < p->len && p->s[at] >= '0' && p->s[at] <= '9';
}

static int parse_number(struct parser *p, struct jsonr_value *v)
{
	size_t start = p->pos, at = p->pos;
	bool is_int = true, neg = false;
	char small[64], *copy = small;
	uint64_t u = 0;
	bool overflow = false;

	if (at < p->len && p->s[at] == '-') {
		neg = true;
		at++;
	}
	if (!digit(p, at))
		return fail(p, "a number needs a digit");
	if (p->s[at] == '0' && digit(p, at + 1))
		return fail(p, "a number with a leading zero");
	while (digit(p, at)) {
		unsigned d = (unsigned)(p->s[at] - '0');

		if (u > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			u = u * 10 + d;
		at++;
	}
	if (at < p->len && p->s[at] == '.') {
		is_int = false;
		if (!digit(p, ++at))
			return fail(p, "a fraction needs a digit");
		while (digit(p, at))
			at++;
	}
	if (at < p->len && (p->s[at] == 'e' || p->s[at] == 'E')) {
		is_int = false;
		at++;
		if (at < p->len && (p->s[at] == '+' || p->s[at] == '-'))
			at++;
		if (!digit(p, at))
			return fail(p, "an exponent needs a digit");
		while (digit(p, at))
			at++;
	}
	if (at - start >= sizeof(small)) {
		copy = ekl_malloc(at - start + 1);
		if (copy == NULL)
			return oom(p);
	}
	memcpy(copy, p->s + start, at - start);
	copy[at - start] = '\0';
	v->u.num.d = strtod(copy, NULL);
	if (copy != small)
		ekl_free(copy);
	if (is_int && !overflow &&
	    (neg ? u <= (uint64_t)INT64_MAX + 1 : u <= (uint64_t)INT64_MAX)) {
		v->u.num.is_int = true;
		v->u.num.i = neg ? (int64_t)(0 - u) : (int64_t)u;
	}
	p->pos = at;
	return 0;
}

static int parse_value(struct parser *p, int depth, struct jsonr_value **out);

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

/* Items of an array or members of an object, after the opening bracket. */
static int parse_container(struct parser *p, int depth, struct jsonr_value *c)
{
	bool obj = c->type == JSONR_OBJECT;
	char close = obj ? '}' : ']';
	struct jsonr_value **tail = &c->u.kids.first;
	int rv;

	if (depth >= JSONR_DEPTH_MAX)
		return fail(p, "nested deeper than the limit of 64");
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len = 0;
		struct jsonr_value *v;

		skip_ws(p);
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a member name");
			rv = parse_string(p, &key, &key_len);
			if (rv != 0)
				return rv;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		rv = parse_value(p, depth + 1, &v);
		if (rv != 0)
			return rv;
		v->key = key;
		v->key_len = key_len;
		*tail = v;
		tail = &v->next;
		c->u.kids.n++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return fail(p, obj ? "expected ',' or '}'"
				   : "expected ',' or ']'");
	}
}

static int parse_value(struct parser *p, int depth, struct jsonr_value **out)
{
	struct jsonr_value *v;
	unsigned char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "expected a value");
	c = p->s[p->pos];
	v = value_new(p, JSONR_NULL);
	if (v == NULL)
		return oom(p);
	*out = v;
	switch (c) {
	case '{':
	case '[':
		v->type = c == '{' ? JSONR_OBJECT : JSONR_ARRAY;
		return parse_container(p, depth, v);
	case '"':
		v->type = JSONR_STRING;
		return parse_string(p, &v->u.str.s, &v->u.str.len);
	case 't':
	case 'f':
		v->type = JSONR_BOOL;
		v->u.b = c == 't';
		if (literal(p, c == 't' ? "true" : "false"))
			return 0;
		break;
	case 'n':
		if (literal(p, "null"))
			return 0;
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			v->type = JSONR_NUMBER;
			return parse_number(p, v);
		}
	}
	return fail(p, "expected a value");
}

int jsonr_parse(const char *text, size_t len, struct jsonr_doc **out, char *err)
{
	struct parser p;
	struct jsonr_doc *d;
	int rv;

	*out = NULL;
	d = ekl_calloc(1, sizeof(*d));
	if (d == NULL)
		return ekl_errf(err, EKL_ENOMEM, "out of memory reading JSON");
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)text;
	p.len = len;
	p.doc = d;
	p.err = err;
	rv = parse_value(&p, 0, &d->root);
	if (rv == 0) {
		skip_ws(&p);
		if (p.pos != p.len)
			rv = fail(&p, "unexpected text after the value");
	}
	if (rv != 0) {
		jsonr_free(d);
		return rv;
	}
	*out = d;
	return 0;
}

const char *jsonr_type_name(enum jsonr_type t)
{
	switch (t) {
	case JSONR_NULL: return "null";
	case JSONR_BOOL: return "boolean";
	case JSONR_NUMBER: return "number";
	case JSONR_STRING: return "string";
	case JSONR_ARRAY: return "array";
	case JSONR_OBJECT: return "object";
	}
	return "unknown";
}

/* ---- lookups ---- */

const struct jsonr_value *jsonr_get(const struct jsonr_value *obj,
				    const char *key)
{
	const struct jsonr_value *v;
	size_t n;

	if (obj == NULL || obj->type != JSONR_OBJECT)
		return NULL;
	n = strlen(key);
	for (v = obj->u.kids.first; v != NULL; v = v->next)
		if (v->key_len == n && memcmp(v->key, key, n) == 0)
			return v;
	return NULL;
}

const struct jsonr_value *jsonr_first(const struct jsonr_value *v)
{
	if (v == NULL || (v->type != JSONR_ARRAY && v->type != JSONR_OBJECT))
		return NULL;
	return v->u.kids.first;
}

size_t jsonr_len(const struct jsonr_value *v)
{
	if (v == NULL || (v->type != JSONR_ARRAY && v->type != JSONR_OBJECT))
		return 0;
	return v->u.kids.n;
}

const struct jsonr_value *jsonr_at(const struct jsonr_value *arr, size_t i)
{
	const struct jsonr_value *v;

	if (arr == NULL || arr->type != JSONR_ARRAY)
		return NULL;
	for (v = arr->u.kids.first; v != NULL && i > 0; v = v->next)
		i--;
	return v;
}

bool jsonr_is(const struct jsonr_value *v, enum jsonr_type t)
{
	return v != NULL && v->type == t;
}

const char *jsonr_str(const struct jsonr_value *v)
{
	return jsonr_is(v, JSONR_STRING) ? v->u.str.s : NULL;
}

bool jsonr_int(const struct jsonr_value *v, int64_t *out)
{
	if (!jsonr_is(v, JSONR_NUMBER) || !v->u.num.is_int)
		return false;
	*out = v->u.num.i;
	return true;
}

bool jsonr_bool(const struct jsonr_value *v, bool *out)
{
	if (!jsonr_is(v, JSONR_BOOL))
		return false;
	*out = v->u.b;
	return true;
}

const char *jsonr_get_str(const struct jsonr_value *obj, const char *key)
{
	return jsonr_str(jsonr_get(obj, key));
}

bool jsonr_get_int(const struct jsonr_value *obj, const char *key, int64_t *out)
{
	return jsonr_int(jsonr_get(obj, key), out);
}

bool jsonr_get_bool(const struct jsonr_value *obj, const char *key, bool *out)
{
	return jsonr_bool(jsonr_get(obj, key), out);
}
