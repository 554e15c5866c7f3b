/* fuzz_jsonr.c: the strict JSON reader (lib/core/jsonr.c), which reads
 * every node status, proxy reply and captured JSON ekulab takes in, and the
 * JSON writer (lib/core/json.c) that writes them.
 *
 * Input: the text.
 *
 * Properties checked on every input:
 *  - an accepted document obeys the reader's promises: strings are valid
 *    UTF-8 with no NUL and len == strlen, nesting is at most
 *    JSONR_DEPTH_MAX, each container's n is the length of its list, an
 *    integer number fits its double;
 *  - the document written back with the JSON writer (non-integer numbers
 *    as null) is accepted again and is the same tree;
 *  - with an allocation failing (ekl_mem_fail_after), the reader answers
 *    EKL_ENOMEM with no document, or succeeds; no leak either way;
 *  - a refusal always comes with a message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ekulab/core/err.h"
#include "ekulab/core/json.h"
#include "ekulab/core/jsonr.h"
#include "ekulab/core/mem.h"
#include "fuzzutil.h"

static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, k, len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void check_str(const char *s, size_t len, const char *what)
{
	FZ_CHECK(s != NULL, "%s is NULL", what);
	FZ_CHECK(strlen(s) == len, "%s: strlen %zu, len %zu", what, strlen(s),
		 len);
	FZ_CHECK(utf8_ok((const unsigned char *)s, len), "%s: bad UTF-8", what);
}

static void check_tree(const struct jsonr_value *v, int depth)
{
	const struct jsonr_value *k;
	size_t n = 0;

	FZ_CHECK(depth <= JSONR_DEPTH_MAX, "depth %d accepted", depth);
	switch (v->type) {
	case JSONR_STRING: check_str(v->u.str.s, v->u.str.len, "string"); break;
	case JSONR_NUMBER:
		if (v->u.num.is_int)
			FZ_CHECK((double)v->u.num.i == v->u.num.d ||
				     fabs(v->u.num.d) > 9007199254740992.0,
				 "int %lld vs double %g", (long long)v->u.num.i,
				 v->u.num.d);
		break;
	case JSONR_ARRAY:
	case JSONR_OBJECT:
		for (k = v->u.kids.first; k != NULL; k = k->next, n++) {
			if (v->type == JSONR_OBJECT)
				check_str(k->key, k->key_len, "key");
			else
				FZ_CHECK(k->key == NULL, "array item with key");
			check_tree(k, depth + 1);
		}
		FZ_CHECK(n == v->u.kids.n, "%zu kids listed, n says %zu", n,
			 v->u.kids.n);
		FZ_CHECK(jsonr_len(v) == n, "jsonr_len %zu, %zu kids",
			 jsonr_len(v), n);
		break;
	case JSONR_NULL:
	case JSONR_BOOL: break;
	default: FZ_CHECK(0, "unknown type %d", (int)v->type);
	}
}

static void write_tree(struct json *j, const struct jsonr_value *v)
{
	const struct jsonr_value *k;

	switch (v->type) {
	case JSONR_NULL: json_null(j); break;
	case JSONR_BOOL: json_bool(j, v->u.b); break;
	case JSONR_NUMBER:
		if (v->u.num.is_int)
			json_int(j, v->u.num.i);
		else
			json_null(j);
		break;
	case JSONR_STRING: json_str(j, v->u.str.s); break;
	case JSONR_ARRAY:
		json_arr_begin(j);
		for (k = v->u.kids.first; k != NULL; k = k->next)
			write_tree(j, k);
		json_arr_end(j);
		break;
	case JSONR_OBJECT:
		json_obj_begin(j);
		for (k = v->u.kids.first; k != NULL; k = k->next) {
			json_key(j, k->key);
			write_tree(j, k);
		}
		json_obj_end(j);
		break;
	}
}

static void same_tree(const struct jsonr_value *a, const struct jsonr_value *b)
{
	const struct jsonr_value *x, *y;

	if (a->type == JSONR_NUMBER && !a->u.num.is_int) {
		FZ_CHECK(b->type == JSONR_NULL,
			 "a fraction did not become null");
		return;
	}
	FZ_CHECK(a->type == b->type, "type %s became %s",
		 jsonr_type_name(a->type), jsonr_type_name(b->type));
	switch (a->type) {
	case JSONR_BOOL: FZ_CHECK(a->u.b == b->u.b, "bool changed"); break;
	case JSONR_NUMBER:
		FZ_CHECK(b->u.num.is_int && a->u.num.i == b->u.num.i,
			 "integer %lld changed", (long long)a->u.num.i);
		break;
	case JSONR_STRING:
		FZ_CHECK(a->u.str.len == b->u.str.len &&
			     memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0,
			 "string changed in a round trip");
		break;
	case JSONR_ARRAY:
	case JSONR_OBJECT:
		FZ_CHECK(a->u.kids.n == b->u.kids.n, "container size changed");
		for (x = a->u.kids.first, y = b->u.kids.first;
		     x != NULL && y != NULL; x = x->next, y = y->next) {
			if (a->type == JSONR_OBJECT)
				FZ_CHECK(
				    x->key_len == y->key_len &&
					memcmp(x->key, y->key, x->key_len) == 0,
				    "key changed in a round trip");
			same_tree(x, y);
		}
		break;
	case JSONR_NULL: break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[EKL_ERRLEN] = "";
	struct jsonr_doc *doc = NULL, *again = NULL;
	struct json j;
	const char *text;
	int rc;

	rc = jsonr_parse((const char *)data, size, &doc, err);
	if (rc == EKL_ENOMEM)
		abort();
	if (rc != 0) {
		FZ_CHECK(doc == NULL, "a document after a refusal");
		FZ_CHECK(rc == EKL_EPROTO && err[0] != '\0',
			 "refusal %d without a message", rc);
		return 0;
	}
	FZ_CHECK(doc != NULL && jsonr_root(doc) != NULL, "no root");
	check_tree(jsonr_root(doc), 0);

	json_init(&j);
	write_tree(&j, jsonr_root(doc));
	text = json_finish(&j);
	if (text == NULL)
		abort(); /* out of memory */
	rc = jsonr_parse(text, strlen(text), &again, err);
	FZ_CHECK(rc == 0, "the writer's JSON is refused: %s", err);
	same_tree(jsonr_root(doc), jsonr_root(again));
	jsonr_free(again);
	json_close(&j);
	jsonr_free(doc);

	/* The same text with one allocation failing. */
	ekl_mem_fail_after((long)(size % 7));
	doc = NULL;
	rc = jsonr_parse((const char *)data, size, &doc, err);
	ekl_mem_fail_after(-1);
	FZ_CHECK(rc == 0 || (rc == EKL_ENOMEM && doc == NULL),
		 "allocation failure gave %d", rc);
	jsonr_free(doc);
	return 0;
}
