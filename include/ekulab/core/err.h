/* err.h: project error codes (one X-macro table) and error messages. */
#ifndef EKULAB_ERR_H
#define EKULAB_ERR_H

#include <stddef.h>

/* Functions return 0 on success or one of these negative codes. The human
 * detail (which file, which peer, what to do) goes into a caller-supplied
 * buffer of EKL_ERRLEN bytes, conventionally named `err`. */
#define EKL_ERRORS(X)                                                          \
	X(EKL_ENOMEM, -1, "out of memory")                                     \
	X(EKL_EINVAL, -2, "invalid argument")                                  \
	X(EKL_EIO, -3, "input/output error")                                   \
	X(EKL_ENOENT, -4, "not found")                                         \
	X(EKL_EEXIST, -5, "already exists")                                    \
	X(EKL_EPERM, -6, "permission problem")                                 \
	X(EKL_ECONFIG, -7, "configuration error")                              \
	X(EKL_EVERSION, -8, "unknown software version")                        \
	X(EKL_ETLS, -9, "TLS error")                                           \
	X(EKL_EPROTO, -10, "protocol error")                                   \
	X(EKL_ETOOBIG, -11, "frame larger than the maximum")                   \
	X(EKL_ECLOSED, -12, "connection closed")                               \
	X(EKL_EAGAIN, -13, "operation would block")                            \
	X(EKL_EADDR, -14, "bad address")                                       \
	X(EKL_ECRYPTO, -15, "cryptographic operation failed")                  \
	X(EKL_EINTR, -16, "interrupted by a signal")                           \
	X(EKL_ETIMEDOUT, -17, "timed out")

enum {
#define EKL_ERR_ENUM(name, value, text) name = value,
	EKL_ERRORS(EKL_ERR_ENUM)
#undef EKL_ERR_ENUM
};

#define EKL_ERRLEN 512

/* Static text for an error code; never NULL. */
const char *ekl_strerror(int code);

/* Format a detail message into err (EKL_ERRLEN bytes); returns code so a
 * caller can write `return ekl_errf(err, EKL_EIO, "...", ...)`. err may be
 * NULL. */
int ekl_errf(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
