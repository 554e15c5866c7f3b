/* utf8.h: is a byte string UTF-8 text? */
#ifndef EKULAB_UTF8_H
#define EKULAB_UTF8_H

#include <stddef.h>

/* The length of the longest valid UTF-8 prefix of s[0..len): len when all
 * of it is valid (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), else the offset of the first byte of the first invalid
 * or truncated sequence. A NUL byte is valid UTF-8: callers that refuse it
 * look for it themselves. */
size_t utf8_valid_prefix(const void *s, size_t len);

#endif
