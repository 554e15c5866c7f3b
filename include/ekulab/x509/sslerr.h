/* sslerr.h: error messages that carry the OpenSSL error queue (kept out of
 * core so that core does not link libcrypto). */
#ifndef EKULAB_X509_SSLERR_H
#define EKULAB_X509_SSLERR_H

#include "ekulab/core/err.h"

/* Append the OpenSSL error queue (most recent reason) to err and clear the
 * queue. Returns code. */
int ekl_errf_ssl(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
