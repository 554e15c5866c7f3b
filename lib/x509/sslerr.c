/* sslerr.c: error messages that carry the OpenSSL error queue. */
#include "ekulab/x509/sslerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int ekl_errf_ssl(char *err, int code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	char reason[256] = "";
	size_t n;

	/* The last error queued is the most specific one. */
	while ((e = ERR_get_error()) != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, EKL_ERRLEN, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (reason[0] != '\0' && n + 3 < EKL_ERRLEN)
		snprintf(err + n, EKL_ERRLEN - n, " (%s)", reason);
	return code;
}
