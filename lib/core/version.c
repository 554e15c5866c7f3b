/* version.c: the program version and git commit (generated header). */
#include "ekulab/core/version.h"

#include "ekl_version_gen.h"

const char *ekl_version(void)
{
	return EKL_VERSION;
}

const char *ekl_git_commit(void)
{
	return EKL_GIT_COMMIT;
}

void ekl_version_print(FILE *f, const char *program)
{
	fprintf(f, "%s %s (commit %s)\n", program, EKL_VERSION, EKL_GIT_COMMIT);
}
