/* test_file.c: opening a file a user named without blocking on it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/core/file.h"
#include "testutil.h"

static char dir[512];

static void setup(void)
{
	const char *t = tu_tmpdir("file");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
}

START_TEST(test_regular)
{
	char path[700], buf[8];
	struct stat st;
	FILE *fp;
	int fd = -2;

	snprintf(path, sizeof(path), "%s/a.txt", dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("hello", fp);
	fclose(fp);
	ck_assert_int_eq(file_open_read(path, &fd, &st), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 5);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 5);
	close(fd);
}
END_TEST

/* A FIFO with no writer: answered at once (the test would time out if the
 * open waited), as not a regular file. */
START_TEST(test_fifo_not_waited_on)
{
	char path[700];
	struct stat st;
	int fd = -2;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(file_open_read(path, &fd, &st), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert(S_ISFIFO(st.st_mode));
}
END_TEST

START_TEST(test_other_kinds)
{
	char path[700];
	struct stat st;
	int fd = -2;

	ck_assert_int_eq(file_open_read(dir, &fd, &st), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(file_open_read("/dev/null", &fd, &st), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert(S_ISCHR(st.st_mode));
	snprintf(path, sizeof(path), "%s/missing", dir);
	fd = -2;
	ck_assert_int_eq(file_open_read(path, &fd, &st), ENOENT);
	ck_assert_int_eq(fd, -1);
}
END_TEST

static Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file_open_read");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_regular);
	tcase_add_test(tc, test_fifo_not_waited_on);
	tcase_add_test(tc, test_other_kinds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(file_suite());
}
