/* matrix_int.h: what the matrix's files share; not for other folders. */
#ifndef EKULAB_CLI_MATRIX_INT_H
#define EKULAB_CLI_MATRIX_INT_H

#include <stddef.h>

#include "matrix.h"

/* The names the two sides of every case carry (their certificates' SAN)
 * and expect of each other. */
#define MX_INI_NAME "initiator"
#define MX_ACC_NAME "acceptor"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A growing array of cases; v is owned (ekl_free). */
struct mx_case_list {
	struct mx_case *v;
	size_t n;
	size_t cap;
};

/* Append every case of the matrix to l (cases.c). Returns 0 or
 * EKL_ENOMEM; on error l holds what was appended so far. */
int mx_cases_build(struct mx_case_list *l);

#endif
