/* version.h: the program version and the git commit it was built from
 * (cmake/version.cmake writes them at every build). */
#ifndef EKULAB_VERSION_H
#define EKULAB_VERSION_H

#include <stdio.h>

/* "0.1.0". */
const char *ekl_version(void);
/* The short commit hash, "-dirty" when the tree had changes, or
 * "unknown" outside a git checkout. */
const char *ekl_git_commit(void);
/* "PROGRAM VERSION (commit COMMIT)\n" to f. */
void ekl_version_print(FILE *f, const char *program);

#endif
