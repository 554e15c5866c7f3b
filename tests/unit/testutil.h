/* testutil.h: helpers shared by the unit tests. */
#ifndef EKULAB_TESTUTIL_H
#define EKULAB_TESTUTIL_H

#include <check.h>

/* A fresh empty directory under $EKL_TEST_TMP (or /tmp) for this test;
 * returns a static buffer valid until the next call. */
const char *tu_tmpdir(const char *tag);

/* Run one suite; returns the process exit status (0 when all passed). */
int tu_run(Suite *s);

#endif
