/* fuzzutil.h: what the fuzz targets share: input splitting, a scratch
 * directory, files written from the input, and the check that aborts
 * (so libFuzzer records the input) when a property does not hold. */
#ifndef EKL_FUZZUTIL_H
#define EKL_FUZZUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test failed: print it and abort. */
#define FZ_CHECK(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);       \
	} while (0)
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* A per-process scratch directory under $TMPDIR (else /tmp), created on
 * first use and removed at exit. */
const char *fz_tmpdir(void);
/* Write data to DIR/name (replacing it); returns the path (static buffer
 * per call site is the caller's: copied into out). Aborts on I/O error. */
void fz_write_file(const char *name, const void *data, size_t len, char *out,
		   size_t outlen);

/* A NUL-terminated copy of data (ekl_malloc; the caller frees). */
char *fz_strndup(const uint8_t *data, size_t len);

/* Quiet the project's log (stderr) unless FUZZ_VERBOSE is set. */
void fz_quiet(void);

#endif
