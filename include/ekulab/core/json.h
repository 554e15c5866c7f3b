/* json.h: a small JSON writer into a growable buffer. */
#ifndef EKULAB_JSON_H
#define EKULAB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Objects and arrays nest at most this deep: as deep as the reader
 * (jsonr.h, JSONR_DEPTH_MAX) accepts. */
#define JSON_DEPTH_MAX 64

/* Commas are inserted automatically: call json_key() then a value inside
 * objects, values alone inside arrays. On allocation failure, or nesting
 * deeper than JSON_DEPTH_MAX, the writer records it and json_finish()
 * returns NULL (never a document that would read back differently). */
struct json {
	char *buf; /* owned */
	size_t len;
	size_t cap;
	int depth;
	bool need_comma[JSON_DEPTH_MAX + 1];
	bool after_key;
	bool oom;
	bool too_deep;
};

void json_init(struct json *j);
void json_close(struct json *j); /* frees buf; accepts a finished writer */
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *k);
void json_str(struct json *j, const char *s); /* NULL writes null */
void json_int(struct json *j, int64_t v);
/* v with that many decimals ("0.725"); null when not finite. */
void json_fixed(struct json *j, double v, int decimals);
/* A number with up to 15 significant digits; NaN and infinities, which
 * JSON cannot say, are written null. */
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* A value that is already JSON text (another writer's json_finish), as
 * is; the caller vouches that it is one complete value. */
void json_raw(struct json *j, const char *text);
/* NUL-terminated text, still owned by j (valid until json_close). */
const char *json_finish(struct json *j);

#endif
