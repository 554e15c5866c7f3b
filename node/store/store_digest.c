/* store_digest.c: the store's digest, an additive sum of SHA-256 row hashes.
 *
 * The digest (invariant 3 of store.h) is the sum mod 2^256 of the row
 * hashes, so a change updates it by subtracting the old row's hash and
 * adding the new one's. The row hash is SHA-256 through one reused
 * EVP_MD_CTX and a fetched EVP_MD: EVP_Digest() would allocate a context
 * per row, and store_apply() hashes two rows per change.
 */
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ekulab/core/be32.h"
#include "ekulab/core/err.h"
#include "ekulab/x509/sslerr.h"
#include "store_int.h"

/* ---- the digest: a sum of row hashes mod 2^256, big-endian ---- */

void store_digest_add(uint8_t *d, const uint8_t *h)
{
	unsigned carry = 0;

	for (int i = STORE_DIGEST_LEN - 1; i >= 0; i--) {
		unsigned v = (unsigned)d[i] + h[i] + carry;
		d[i] = (uint8_t)v;
		carry = v >> 8;
	}
}

void store_digest_sub(uint8_t *d, const uint8_t *h)
{
	int borrow = 0;

	for (int i = STORE_DIGEST_LEN - 1; i >= 0; i--) {
		int v = (int)d[i] - h[i] - borrow;
		borrow = v < 0;
		d[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
}

/* SHA-256(len(path) path len(value) value), lengths 4-byte big-endian. */
int store_row_hash(struct store *s, const char *path, size_t plen,
		   const char *value, size_t vlen, uint8_t *out, char *err)
{
	uint8_t lp[4], lv[4];
	unsigned int n = 0;

	ekl_put_be32(lp, (uint32_t)plen);
	ekl_put_be32(lv, (uint32_t)vlen);
	if (EVP_DigestInit_ex2(s->mdctx, s->md, NULL) != 1 ||
	    EVP_DigestUpdate(s->mdctx, lp, sizeof(lp)) != 1 ||
	    EVP_DigestUpdate(s->mdctx, path, plen) != 1 ||
	    EVP_DigestUpdate(s->mdctx, lv, sizeof(lv)) != 1 ||
	    EVP_DigestUpdate(s->mdctx, value, vlen) != 1 ||
	    EVP_DigestFinal_ex(s->mdctx, out, &n) != 1 || n != STORE_DIGEST_LEN)
		return ekl_errf_ssl(err, EKL_ECRYPTO,
				    "%s: hashing a configuration row", s->file);
	return 0;
}

/* Adds the hash of the row at column 0 (path) and 1 (value) of stmt. */
int store_row_hash_add(struct store *s, sqlite3_stmt *stmt, uint8_t *digest,
		       char *err)
{
	const char *p = (const char *)sqlite3_column_text(stmt, 0);
	size_t plen = (size_t)sqlite3_column_bytes(stmt, 0);
	const char *v = (const char *)sqlite3_column_text(stmt, 1);
	size_t vlen = (size_t)sqlite3_column_bytes(stmt, 1);
	uint8_t h[STORE_DIGEST_LEN];
	int r;

	if (p == NULL || v == NULL)
		return store_fail(s, SQLITE_NOMEM, "reading a row", err);
	r = store_row_hash(s, p, plen, v, vlen, h, err);
	if (r == 0)
		store_digest_add(digest, h);
	return r;
}

void store_digest_hex(const uint8_t *digest, char *buf)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < STORE_DIGEST_LEN; i++) {
		buf[2 * i] = hex[digest[i] >> 4];
		buf[2 * i + 1] = hex[digest[i] & 0xf];
	}
	buf[2 * STORE_DIGEST_LEN] = '\0';
}
