/* testutil.c: helpers shared by the unit tests. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_tmpdir(const char *tag)
{
	static char path[512];
	const char *base = getenv("EKL_TEST_TMP");
	char cmd[600];

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(path, sizeof(path), "%s/%s.%ld", base, tag, (long)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		return NULL;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return NULL;
	return path;
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
