/* utf8.c: is a byte string UTF-8 text? (RFC 3629, table 3-7 of Unicode) */
#include "ekulab/core/utf8.h"

#include <stdint.h>

size_t utf8_valid_prefix(const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0; /* overlong below U+0800 */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates U+D800-U+DFFF */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i; /* 0x80-0xC1 and 0xF5-0xFF never start one */
		}
		if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (k = 2; k < n; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xBF)
				return i;
		i += n;
	}
	return len;
}
