/* err.c: error code text and detail-message formatting. */
#include "ekulab/core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ekl_strerror(int code)
{
	switch (code) {
	case 0: return "success";
#define EKL_ERR_TEXT(name, value, text)                                        \
	case name: return text;
		EKL_ERRORS(EKL_ERR_TEXT)
#undef EKL_ERR_TEXT
	}
	return "unknown error";
}

int ekl_errf(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(err, EKL_ERRLEN, fmt, ap);
	va_end(ap);
	return code;
}
