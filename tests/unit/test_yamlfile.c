/* test_yamlfile.c: reading a one-document YAML file: the limits checked
 * before the document is built (size, nesting), NUL inside a scalar,
 * non-regular files (a FIFO must not block), files and memory alike; the
 * key check every walker uses (yamlfile_check_keys). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "model/yamlfile.h"
#include "testutil.h"

static char dir[512];

static void setup(void)
{
	const char *t = tu_tmpdir("yamlfile");

	ck_assert_ptr_nonnull(t);
	snprintf(dir, sizeof(dir), "%s", t);
}

/* Write len bytes to dir/name; returns the path (static buffer). */
static const char *put(const char *name, const char *text, size_t len)
{
	static char path[700];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	fclose(fp);
	return path;
}

/* The walker: counts calls and the root's kind. */
static int walked;
static yaml_node_type_t root_type;

static int walk(void *arg, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);

	(void)arg;
	walked++;
	root_type = root != NULL ? root->type : YAML_NO_NODE;
	return 0;
}

static int load(const char *path, char *err)
{
	walked = 0;
	return yamlfile_load(path, "topology", walk, NULL, err);
}

/* "[" * depth + "x" + "]" * depth, on one line. */
static char *flow_nest(size_t depth, size_t *len)
{
	char *s = malloc(2 * depth + 3);
	size_t i, n = 0;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < depth; i++)
		s[n++] = '[';
	s[n++] = 'x';
	for (i = 0; i < depth; i++)
		s[n++] = ']';
	s[n++] = '\n';
	s[n] = '\0';
	*len = n;
	return s;
}

/* ---- yamlfile_load ---- */

START_TEST(test_load_ok)
{
	char err[EKL_ERRLEN] = "";
	const char *p = put("ok.yaml", "nodes: {a: {}}\n", 15);

	ck_assert_int_eq(load(p, err), 0);
	ck_assert_int_eq(walked, 1);
	ck_assert_int_eq(root_type, YAML_MAPPING_NODE);
}
END_TEST

/* 100 000 levels took libyaml 42 s to scan; the nesting is refused at the
 * limit, naming the file, the line and column, the limit and the fix. */
START_TEST(test_deep_nesting_refused)
{
	char err[EKL_ERRLEN] = "";
	size_t len;
	char *s = flow_nest(100000, &len);
	const char *p = put("deep.yaml", s, len);

	ck_assert_int_eq(load(p, err), EKL_ECONFIG);
	ck_assert_int_eq(walked, 0);
	ck_assert_ptr_nonnull(strstr(err, "deep.yaml:1:65:"));
	ck_assert_ptr_nonnull(strstr(err, "nested more than 64 levels"));
	ck_assert_ptr_nonnull(strstr(err, "flatten it"));
	free(s);
}
END_TEST

/* Block nesting ("- - - ... x") counts the same. */
START_TEST(test_deep_block_nesting_refused)
{
	char err[EKL_ERRLEN] = "";
	char s[400];
	size_t i, n = 0;
	const char *p;

	for (i = 0; i < 65; i++) {
		s[n++] = '-';
		s[n++] = ' ';
	}
	s[n++] = 'x';
	s[n++] = '\n';
	p = put("block.yaml", s, n);
	ck_assert_int_eq(load(p, err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "nested more than 64 levels"));
}
END_TEST

START_TEST(test_nesting_at_limit_ok)
{
	char err[EKL_ERRLEN] = "";
	size_t len;
	char *s = flow_nest(YAMLFILE_MAX_DEPTH, &len);

	ck_assert_int_eq(load(put("64.yaml", s, len), err), 0);
	ck_assert_int_eq(root_type, YAML_SEQUENCE_NODE);
	free(s);
	s = flow_nest(YAMLFILE_MAX_DEPTH + 1, &len);
	ck_assert_int_eq(load(put("65.yaml", s, len), err), EKL_ECONFIG);
	free(s);
}
END_TEST

/* A file over the limit is refused from its size, before it is read. */
START_TEST(test_big_file_refused)
{
	char err[EKL_ERRLEN] = "";
	const char *p = put("big.yaml", "a: b\n", 5);

	ck_assert_int_eq(truncate(p, (off_t)YAMLFILE_MAX_BYTES + 1), 0);
	ck_assert_int_eq(load(p, err), EKL_ECONFIG);
	ck_assert_int_eq(walked, 0);
	ck_assert_ptr_nonnull(strstr(err, "big.yaml"));
	ck_assert_ptr_nonnull(strstr(err, "4194305 bytes"));
	ck_assert_ptr_nonnull(strstr(err, "at most 4194304 bytes (4 MiB)"));
	ck_assert_int_eq(truncate(p, (off_t)YAMLFILE_MAX_BYTES), 0);
	ck_assert_int_ne(load(p, err), 0); /* NULs: not YAML, but read */
	ck_assert_ptr_null(strstr(err, "at most"));
}
END_TEST

/* "X15.4\u0000x" was read as "X15.4". Both escapes, in values and keys. */
START_TEST(test_nul_in_scalar_refused)
{
	static const char *const bad[] = {
	    "version: \"X15.4\\u0000x\"\n",
	    "version: \"X15.4\\0\"\n",
	    "nodes:\n  \"n\\0de1\": {}\n",
	};
	char err[EKL_ERRLEN] = "";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = put("nul.yaml", bad[i], strlen(bad[i]));

		ck_assert_int_eq(load(p, err), EKL_ECONFIG);
		ck_assert_int_eq(walked, 0);
		ck_assert_ptr_nonnull(strstr(err, "nul.yaml:"));
		ck_assert_ptr_nonnull(strstr(err, "a NUL character"));
	}
	/* The same escape spelled out is text. */
	ck_assert_int_eq(load(put("ok.yaml", "v: \"a\\\\0\"\n", 10), err), 0);
}
END_TEST

/* A FIFO used to block in open() until a writer came; it is refused at
 * once (the test would time out otherwise). */
START_TEST(test_fifo_refused)
{
	char err[EKL_ERRLEN] = "";
	char path[700];

	snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(load(path, err), EKL_EIO);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_eq(load(dir, err), EKL_EIO);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_eq(load("/dev/null", err), EKL_EIO);
}
END_TEST

START_TEST(test_missing_and_second_document)
{
	char err[EKL_ERRLEN] = "";
	char path[700];
	const char *p;

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	ck_assert_int_eq(load(path, err), EKL_ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no such file"));
	p = put("two.yaml", "a: 1\n---\nb: 2\n", 14);
	ck_assert_int_eq(load(p, err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "two.yaml:3:1: a second YAML"));
	p = put("bad.yaml", "a: [1\n", 6);
	ck_assert_int_eq(load(p, err), EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "bad.yaml:"));
	ck_assert_ptr_nonnull(strstr(err, "YAML syntax error"));
}
END_TEST

/* ---- yamlfile_load_mem ---- */

START_TEST(test_load_mem)
{
	char err[EKL_ERRLEN] = "";
	static const char nul[] = "a: \"x\\u0000\"\n";

	walked = 0;
	ck_assert_int_eq(
	    yamlfile_load_mem("inline", "[1, 2]", 6, "plan", walk, NULL, err),
	    0);
	ck_assert_int_eq(walked, 1);
	ck_assert_int_eq(root_type, YAML_SEQUENCE_NODE);
	ck_assert_int_eq(yamlfile_load_mem("inline", nul, sizeof(nul) - 1,
					   "plan", walk, NULL, err),
			 EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "inline:1:4: a NUL character"));
	ck_assert_int_eq(yamlfile_load_mem("big", "", YAMLFILE_MAX_BYTES + 1,
					   "plan", walk, NULL, err),
			 EKL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "a plan is at most"));
}
END_TEST

/* ---- yamlfile_check_keys ---- */

/* What the key check said about the root mapping. */
static struct {
	const char *kp;
	bool ok;
	char key[64];
	char msg[EKL_ERRLEN];
	size_t line, column; /* of the node to blame, 1-based */
} K;

static int check_walk(void *arg, yaml_document_t *doc)
{
	static const char *const allowed[] = {"name", "port", NULL};
	const yaml_node_t *at = NULL;

	(void)arg;
	K.ok = yamlfile_check_keys(doc, yaml_document_get_root_node(doc), K.kp,
				   allowed, &at, K.key, sizeof(K.key), K.msg,
				   sizeof(K.msg));
	if (!K.ok) {
		ck_assert_ptr_nonnull(at);
		K.line = at->start_mark.line + 1;
		K.column = at->start_mark.column + 1;
	}
	return 0;
}

static bool check(const char *kp, const char *text)
{
	char err[EKL_ERRLEN] = "";

	memset(&K, 0, sizeof(K));
	K.kp = kp;
	ck_assert_msg(yamlfile_load_mem("inline", text, strlen(text), "plan",
					check_walk, NULL, err) == 0,
		      "%s", err);
	return K.ok;
}

START_TEST(test_check_keys)
{
	/* Allowed keys, any subset, any order. */
	ck_assert(check("", "port: 1\nname: a\n"));
	ck_assert(check("", "{}\n"));
	/* An unknown key: named with its path, the allowed ones listed. */
	ck_assert(!check("nodes.n1", "name: a\nprot: 1\n"));
	ck_assert_str_eq(K.key, "nodes.n1.prot");
	ck_assert_str_eq(K.msg, "unknown key; expected one of: name, port");
	ck_assert_uint_eq(K.line, 2);
	ck_assert_uint_eq(K.column, 1);
	ck_assert(!check("", "prot: 1\n"));
	ck_assert_str_eq(K.key, "prot");
	/* A key given twice: the second is blamed, the first's line said. */
	ck_assert(!check("", "name: a\nport: 1\nname: b\n"));
	ck_assert_str_eq(K.key, "name");
	ck_assert_str_eq(K.msg, "duplicate key (first at line 1)");
	ck_assert_uint_eq(K.line, 3);
	/* A key that is not a plain name: the mapping's path, "(top)" at
	 * the top. */
	ck_assert(!check("", "name: a\n? [x]\n: 1\n"));
	ck_assert_str_eq(K.key, "(top)");
	ck_assert_str_eq(K.msg, "keys must be plain names");
	ck_assert_uint_eq(K.line, 2);
	ck_assert(!check("cluster", "? {x: 1}\n: 1\n"));
	ck_assert_str_eq(K.key, "cluster");
	/* A path longer than the buffer is cut, never overflowing. */
	ck_assert(!check("a.very.long.key.path.that.does.not.fit.in.sixty."
			 "four.bytes.at.all",
			 "prot: 1\n"));
	ck_assert_uint_eq(strlen(K.key), sizeof(K.key) - 1);
}
END_TEST

static Suite *yamlfile_suite(void)
{
	Suite *s = suite_create("yamlfile");
	TCase *tc;

	tc = tcase_create("yamlfile_load");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_load_ok);
	tcase_add_test(tc, test_deep_nesting_refused);
	tcase_add_test(tc, test_deep_block_nesting_refused);
	tcase_add_test(tc, test_nesting_at_limit_ok);
	tcase_add_test(tc, test_big_file_refused);
	tcase_add_test(tc, test_nul_in_scalar_refused);
	tcase_add_test(tc, test_fifo_refused);
	tcase_add_test(tc, test_missing_and_second_document);
	suite_add_tcase(s, tc);

	tc = tcase_create("yamlfile_load_mem");
	tcase_add_test(tc, test_load_mem);
	suite_add_tcase(s, tc);

	tc = tcase_create("yamlfile_check_keys");
	tcase_add_test(tc, test_check_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(yamlfile_suite());
}
