/* test_store.c: the configuration database: groups, log, apply, snapshots. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "ekulab/core/err.h"
#include "ekulab/core/mem.h"
#include "store/store.h"
#include "testutil.h"

static char err[EKL_ERRLEN];

#define OK(call)                                                               \
	do {                                                                   \
		int r_;                                                        \
		err[0] = '\0';                                                 \
		r_ = (call);                                                   \
		ck_assert_msg(r_ == 0, "%s: %d %s", #call, r_, err);           \
	} while (0)

#define FAILS(code, call)                                                      \
	do {                                                                   \
		int r_;                                                        \
		err[0] = '\0';                                                 \
		r_ = (call);                                                   \
		ck_assert_msg(r_ == (code), "%s: %d, wanted %d (%s)", #call,   \
			      r_, (code), err);                                \
		ck_assert_msg(err[0] != '\0', "%s: no message", #call);        \
	} while (0)

/* ---- fixtures ---- */

/* A fresh directory; tag + n keeps several per test apart. */
static void mkdir_fresh(char *buf, size_t n, const char *tag)
{
	const char *d = tu_tmpdir(tag);

	ck_assert_ptr_nonnull(d);
	snprintf(buf, n, "%s", d);
}

static void db_file(char *buf, size_t n, const char *dir)
{
	snprintf(buf, n, "%s/clusterdb.sqlite3", dir);
}

static struct store *open_ok(const char *dir)
{
	struct store *s = NULL;

	OK(store_open(dir, &s, err));
	ck_assert_ptr_nonnull(s);
	OK(store_check(s, err));
	return s;
}

/* Sets (value non-NULL) or deletes one row in its own group. */
static int64_t put1(struct store *s, const char *path, const char *value)
{
	int64_t rev = -1;

	OK(store_group_begin(s, err));
	OK(store_group_put(s, path, value, &rev, err));
	OK(store_group_commit(s, err));
	OK(store_check(s, err));
	return rev;
}

/* The value of path ("" compared as such), or NULL when missing. */
static char *get(struct store *s, const char *path)
{
	char *v = NULL;
	int r = store_get(s, path, &v, err);

	ck_assert_msg(r == 0 || r == EKL_ENOENT, "store_get: %d %s", r, err);
	return v;
}

/* The child pid ended by abort() (a crash at the point it chose). */
static void assert_aborted(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "child status %d", status);
}

static void assert_value(struct store *s, const char *path, const char *want)
{
	char *v = get(s, path);

	if (want == NULL) {
		ck_assert_msg(v == NULL, "%s = \"%s\", wanted none", path, v);
	} else {
		ck_assert_msg(v != NULL, "%s missing", path);
		ck_assert_str_eq(v, want);
	}
	ekl_free(v);
}

static struct store_state state(const struct store *s)
{
	struct store_state st;

	store_state(s, &st);
	return st;
}

static void assert_same_state(const struct store_state *a,
			      const struct store_state *b)
{
	ck_assert_int_eq(a->epoch, b->epoch);
	ck_assert_str_eq(a->primary, b->primary);
	ck_assert_int_eq(a->revision, b->revision);
	ck_assert_int_eq(a->rev_epoch, b->rev_epoch);
	ck_assert_int_eq(a->log_first, b->log_first);
	ck_assert_mem_eq(a->digest, b->digest, STORE_DIGEST_LEN);
	ck_assert_int_eq(a->rows, b->rows);
}

/* All rows as "path=value\n" lines, in list order. */
struct dump {
	char buf[65536];
	size_t len;
	int n;
};

static int dump_cb(void *arg, const char *path, const char *value)
{
	struct dump *d = arg;
	int k = snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%s=%s\n",
			 path, value);

	ck_assert_int_lt(d->len + (size_t)k, sizeof(d->buf));
	d->len += (size_t)k;
	d->n++;
	return 0;
}

static void dump(struct store *s, struct dump *d)
{
	memset(d, 0, sizeof(*d));
	OK(store_list(s, dump_cb, d, err));
}

/* Collects changes from store_log_read. */
#define MAXC 2048
struct changes {
	struct store_change c[MAXC];
	char *owned[2 * MAXC];
	int n, nowned;
	int stop_at; /* return 7 from the callback at this count (0: never) */
};

static char *keep(struct changes *cs, const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	ck_assert_ptr_nonnull(d);
	cs->owned[cs->nowned++] = d;
	return d;
}

static int changes_cb(void *arg, const struct store_change *c)
{
	struct changes *cs = arg;

	ck_assert_int_lt(cs->n, MAXC);
	cs->c[cs->n] = *c;
	cs->c[cs->n].path = keep(cs, c->path);
	cs->c[cs->n].value = keep(cs, c->value);
	cs->n++;
	return cs->stop_at != 0 && cs->n == cs->stop_at ? 7 : 0;
}

static void changes_free(struct changes *cs)
{
	for (int i = 0; i < cs->nowned; i++)
		free(cs->owned[i]);
	cs->nowned = cs->n = 0;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void write_all(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Runs SQL on the file with a plain connection (a "foreign" writer). */
static void raw_sql(const char *file, const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(
	    sqlite3_open_v2(file, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/* store_open must refuse file with code and leave its bytes as they were. */
static void assert_refused_untouched(const char *dir, int code,
				     const char *needle)
{
	char file[600];
	unsigned char *before, *after;
	size_t nb, na;
	struct store *s = (struct store *)1;

	db_file(file, sizeof(file), dir);
	before = read_all(file, &nb);
	FAILS(code, store_open(dir, &s, err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, file) != NULL, "no file name in: %s", err);
	ck_assert_msg(strstr(err, needle) != NULL, "no \"%s\" in: %s", needle,
		      err);
	after = read_all(file, &na);
	ck_assert_uint_eq(na, nb);
	ck_assert_msg(memcmp(before, after, nb) == 0, "the file was modified");
	free(before);
	free(after);
}

static void fill(struct store *s, int n, const char *fmt, int vlen)
{
	char path[64], value[1024];

	ck_assert_int_lt(vlen, (int)sizeof(value));
	OK(store_group_begin(s, err));
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), fmt, i);
		memset(value, 'a' + i % 26, (size_t)vlen);
		value[vlen] = '\0';
		OK(store_group_put(s, path, value, NULL, err));
	}
	OK(store_group_commit(s, err));
	OK(store_check(s, err));
}

/* ---- store_open / store_close ---- */

START_TEST(test_open_create_reopen)
{
	char dir[512], file[600], tmp[620];
	struct store *s;
	struct store_state st, st2;
	struct stat sb;
	static const uint8_t zero[STORE_DIGEST_LEN];

	mkdir_fresh(dir, sizeof(dir), "store-open");
	s = open_ok(dir);
	st = state(s);
	ck_assert_int_eq(st.epoch, 0);
	ck_assert_str_eq(st.primary, "");
	ck_assert_int_eq(st.revision, 0);
	ck_assert_int_eq(st.rev_epoch, 0);
	ck_assert_int_eq(st.log_first, 1);
	ck_assert_int_eq(st.rows, 0);
	ck_assert_mem_eq(st.digest, zero, STORE_DIGEST_LEN);

	db_file(file, sizeof(file), dir);
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.new", file);
	ck_assert_int_ne(access(tmp, F_OK), 0);

	OK(store_set_epoch(s, 3, "n1", err));
	put1(s, "a", "1");
	put1(s, "b", "2");
	put1(s, "a", NULL);
	st = state(s);
	store_close(s);

	s = open_ok(dir);
	st2 = state(s);
	assert_same_state(&st, &st2);
	ck_assert_int_eq(st2.revision, 3);
	ck_assert_int_eq(st2.epoch, 3);
	ck_assert_str_eq(st2.primary, "n1");
	ck_assert_int_eq(st2.rows, 1);
	assert_value(s, "a", NULL);
	assert_value(s, "b", "2");
	store_close(s);
	store_close(NULL);
}
END_TEST

START_TEST(test_open_missing_dir)
{
	char dir[512], sub[600];
	struct store *s = (struct store *)1;

	mkdir_fresh(dir, sizeof(dir), "store-nodir");
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	ck_assert_int_lt(store_open(sub, &s, err), 0);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, sub) != NULL, "%s", err);
}
END_TEST

START_TEST(test_open_garbage)
{
	char dir[512], file[600];
	unsigned char junk[8192];

	mkdir_fresh(dir, sizeof(dir), "store-garbage");
	db_file(file, sizeof(file), dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	write_all(file, junk, sizeof(junk));
	assert_refused_untouched(dir, EKL_EIO, "is damaged");
	ck_assert_msg(strstr(err, "left untouched") != NULL, "%s", err);
}
END_TEST

START_TEST(test_open_truncated)
{
	char dir[512], file[600];
	struct store *s;
	struct stat sb;

	mkdir_fresh(dir, sizeof(dir), "store-trunc");
	s = open_ok(dir);
	fill(s, 400, "xConfiguration Row %04d", 300);
	store_close(s);
	db_file(file, sizeof(file), dir);
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert_int_gt(sb.st_size, 100000);
	ck_assert_int_eq(truncate(file, sb.st_size / 2), 0);
	assert_refused_untouched(dir, EKL_EIO, "is damaged");
}
END_TEST

START_TEST(test_open_schema_version)
{
	char dir[512], file[600];
	struct store *s;

	mkdir_fresh(dir, sizeof(dir), "store-schema");
	s = open_ok(dir);
	put1(s, "a", "1");
	store_close(s);
	db_file(file, sizeof(file), dir);
	raw_sql(file, "UPDATE meta SET v = 3 WHERE k = 'schema_version'");
	assert_refused_untouched(dir, EKL_ECONFIG,
				 "schema version 3, this ekunode needs 2");

	raw_sql(file, "UPDATE meta SET v = 2 WHERE k = 'schema_version';"
		      "DELETE FROM meta WHERE k = 'log_first'");
	assert_refused_untouched(dir, EKL_ECONFIG, "meta");
}
END_TEST

/* One integer from a plain connection (what a foreign reader sees). */
static int64_t raw_int(const char *file, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v;

	ck_assert_int_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
	return v;
}

/* Invariant 6: a commit writes the row and the log entry, not meta; the
 * state read back at open comes from the log's last entry, and from meta
 * once compaction has emptied the log. */
START_TEST(test_commit_leaves_meta)
{
	char dir[512], file[600];
	struct store_state before, after;
	struct store *s;

	mkdir_fresh(dir, sizeof(dir), "store-meta");
	s = open_ok(dir);
	OK(store_set_epoch(s, 3, "n1", err));
	put1(s, "a", "1");
	put1(s, "b", "2");
	ck_assert_int_eq(put1(s, "a", NULL), 3);
	db_file(file, sizeof(file), dir);
	ck_assert_int_eq(
	    raw_int(file, "SELECT v FROM meta WHERE k = 'revision'"), 0);
	ck_assert_int_eq(raw_int(file, "SELECT count(*) FROM changelog WHERE "
				       "length(digest) = 32"),
			 3);
	before = state(s);
	store_close(s);
	s = open_ok(dir);
	after = state(s);
	assert_same_state(&before, &after);
	ck_assert_int_eq(after.rev_epoch, 3);

	/* The whole log compacted away: meta carries the state. */
	OK(store_compact(s, 0, err));
	ck_assert_int_eq(
	    raw_int(file, "SELECT v FROM meta WHERE k = 'revision'"), 3);
	ck_assert_int_eq(raw_int(file, "SELECT count(*) FROM changelog"), 0);
	before = state(s);
	store_close(s);
	s = open_ok(dir);
	after = state(s);
	assert_same_state(&before, &after);
	ck_assert_int_eq(put1(s, "c", "3"), 4);
	store_close(s);

	/* A last log entry without its digest is refused, untouched. */
	raw_sql(file, "UPDATE changelog SET digest = NULL WHERE rev = 4");
	assert_refused_untouched(dir, EKL_ECONFIG, "meta");
}
END_TEST

/* A file of schema 1 (meta written at each commit, no digest in the log)
 * opens as schema 2 with the same state and takes writes. */
START_TEST(test_open_schema_1_updated)
{
	char dir[512], file[600];
	struct store_state before, after;
	struct store *s;

	mkdir_fresh(dir, sizeof(dir), "store-schema1");
	s = open_ok(dir);
	put1(s, "a", "1");
	put1(s, "b", "2");
	before = state(s);
	store_close(s);
	db_file(file, sizeof(file), dir);
	/* What schema 1 left: meta current, the log without digests. */
	raw_sql(file,
		"UPDATE meta SET v = (SELECT digest FROM changelog WHERE rev = "
		"2) WHERE k = 'digest';"
		"UPDATE meta SET v = 2 WHERE k = 'revision';"
		"UPDATE meta SET v = 1 WHERE k = 'schema_version';"
		"ALTER TABLE changelog DROP COLUMN digest");
	s = open_ok(dir);
	after = state(s);
	assert_same_state(&before, &after);
	ck_assert_int_eq(
	    raw_int(file, "SELECT v FROM meta WHERE k = 'schema_version'"), 2);
	ck_assert_int_eq(put1(s, "c", "3"), 3);
	before = state(s);
	store_close(s);
	s = open_ok(dir);
	after = state(s);
	assert_same_state(&before, &after);
	store_close(s);
}
END_TEST

START_TEST(test_open_foreign)
{
	char dir[512], file[600];

	mkdir_fresh(dir, sizeof(dir), "store-foreign");
	db_file(file, sizeof(file), dir);
	raw_sql(file, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	assert_refused_untouched(dir, EKL_ECONFIG, "not an ekunode");
}
END_TEST

START_TEST(test_open_orphan_wal)
{
	char dir[512], file[600], wal[620];
	struct store *s = NULL;

	mkdir_fresh(dir, sizeof(dir), "store-wal");
	db_file(file, sizeof(file), dir);
	snprintf(wal, sizeof(wal), "%s-wal", file);
	write_all(wal, "stale", 5);
	FAILS(EKL_ECONFIG, store_open(dir, &s, err));
	ck_assert_ptr_null(s);
	ck_assert_int_ne(access(file, F_OK), 0);
}
END_TEST

START_TEST(test_open_nomem)
{
	char dir[512];
	struct store *s = NULL;
	int r;

	mkdir_fresh(dir, sizeof(dir), "store-nomem");
	ekl_mem_fail_after(0);
	r = store_open(dir, &s, err);
	ekl_mem_fail_after(-1);
	ck_assert_int_eq(r, EKL_ENOMEM);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- store_group_* / store_get / store_list ---- */

START_TEST(test_group_put_get_list_delete)
{
	char dir[512];
	struct store *s;
	struct dump d;
	int64_t rev = 0;
	struct store_state st;

	mkdir_fresh(dir, sizeof(dir), "store-group");
	s = open_ok(dir);
	ck_assert(!store_group_open(s));
	OK(store_group_begin(s, err));
	ck_assert(store_group_open(s));
	OK(store_group_put(s, "xConfiguration B", "two", &rev, err));
	ck_assert_int_eq(rev, 1);
	OK(store_group_put(s, "xConfiguration A", "one", &rev, err));
	ck_assert_int_eq(rev, 2);
	OK(store_group_put(s, "xConfiguration C", "", &rev, err));
	ck_assert_int_eq(rev, 3);
	assert_value(s, "xConfiguration A", "one"); /* reads see the group */
	/* Not committed yet: the cached state has not moved. */
	ck_assert_int_eq(state(s).revision, 0);
	OK(store_group_commit(s, err));
	ck_assert(!store_group_open(s));
	OK(store_check(s, err));
	st = state(s);
	ck_assert_int_eq(st.revision, 3);
	ck_assert_int_eq(st.rows, 3);

	dump(s, &d);
	ck_assert_str_eq(d.buf, "xConfiguration A=one\nxConfiguration "
				"B=two\nxConfiguration C=\n");

	OK(store_group_begin(s, err));
	OK(store_group_put(s, "xConfiguration A", NULL, &rev, err));
	ck_assert_int_eq(rev, 4);
	FAILS(EKL_ENOENT,
	      store_group_put(s, "xConfiguration Z", NULL, &rev, err));
	ck_assert_int_eq(rev, 4);
	OK(store_group_put(s, "xConfiguration B", "2", &rev, err));
	ck_assert_int_eq(rev, 5); /* the failed delete consumed nothing */
	OK(store_group_commit(s, err));
	OK(store_check(s, err));
	assert_value(s, "xConfiguration A", NULL);
	assert_value(s, "xConfiguration B", "2");
	ck_assert_int_eq(state(s).rows, 2);
	FAILS(EKL_ENOENT,
	      store_get(s, "xConfiguration A", &(char *){NULL}, err));
	store_close(s);
}
END_TEST

static int stop_cb(void *arg, const char *path, const char *value)
{
	int *n = arg;

	(void)path;
	(void)value;
	return ++*n == 2 ? 42 : 0;
}

START_TEST(test_group_list_stops)
{
	char dir[512];
	struct store *s;
	int n = 0;

	mkdir_fresh(dir, sizeof(dir), "store-list");
	s = open_ok(dir);
	fill(s, 5, "p%d", 3);
	ck_assert_int_eq(store_list(s, stop_cb, &n, err), 42);
	ck_assert_int_eq(n, 2);
	n = 0; /* the statement was reset: a new listing starts over */
	ck_assert_int_eq(store_list(s, stop_cb, &n, err), 42);
	ck_assert_int_eq(n, 2);
	store_close(s);
}
END_TEST

START_TEST(test_group_invalid)
{
	char dir[512], longp[STORE_PATH_MAX + 2];
	char *longv;
	struct store *s;
	int64_t rev = 0;

	mkdir_fresh(dir, sizeof(dir), "store-invalid");
	s = open_ok(dir);
	longv = malloc(STORE_VALUE_MAX + 2);
	ck_assert_ptr_nonnull(longv);
	memset(longv, 'v', STORE_VALUE_MAX + 1);
	longv[STORE_VALUE_MAX + 1] = '\0';
	memset(longp, 'p', STORE_PATH_MAX + 1);
	longp[STORE_PATH_MAX + 1] = '\0';

	OK(store_group_begin(s, err));
	FAILS(EKL_EINVAL, store_group_put(s, "", "1", &rev, err));
	FAILS(EKL_EINVAL, store_group_put(s, NULL, "1", &rev, err));
	FAILS(EKL_EINVAL, store_group_put(s, "a\nb", "1", &rev, err));
	FAILS(EKL_EINVAL, store_group_put(s, "a", "1\n2", &rev, err));
	FAILS(EKL_EINVAL, store_group_put(s, longp, "1", &rev, err));
	FAILS(EKL_EINVAL, store_group_put(s, "a", longv, &rev, err));
	OK(store_group_put(s, "ok", "1", &rev, err));
	ck_assert_int_eq(rev, 1);
	longp[STORE_PATH_MAX] = '\0'; /* exactly the maximum */
	longv[STORE_VALUE_MAX] = '\0';
	OK(store_group_put(s, longp, longv, &rev, err));
	ck_assert_int_eq(rev, 2);
	OK(store_group_commit(s, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).revision, 2);
	ck_assert_int_eq(state(s).rows, 2);
	assert_value(s, "ok", "1");
	assert_value(s, longp, longv);
	free(longv);
	store_close(s);
}
END_TEST

/* The row rules, with explicit lengths: what an admin writes and what a
 * peer sends are judged alike. */
START_TEST(test_row_rules)
{
	static const struct {
		const char *path;
		size_t plen;
		const char *value; /* NULL: a delete */
		size_t vlen;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {"a/b", 3, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", 14, NULL},
	    {"a", 1, NULL, 0, NULL},
	    {"a", 1, "", 0, NULL},
	    {"", 0, "1", 1, "the path is empty"},
	    {"a\0b", 3, "1", 1, "the path contains a NUL byte"},
	    {"a", 1, "x\0y", 3, "the value contains a NUL byte"},
	    {"a", 1, "x\ry", 3, "the value contains a line break"},
	    {"a\nb", 3, "1", 1, "the path contains a line break"},
	    {"a", 1, "\xff\xfe", 2, "the value is not valid UTF-8"},
	    {"\xc3", 1, "1", 1, "the path is not valid UTF-8"}, /* truncated */
	    {"a", 1, "\xc0\x80", 2,
	     "the value is not valid UTF-8"}, /* overlong */
	    {"a", 1, "\xed\xa0\x80", 3,
	     "the value is not valid UTF-8"}, /* a surrogate */
	    {"a", 1, "\xf4\x90\x80\x80", 4,
	     "the value is not valid UTF-8"}, /* above U+10FFFF */
	    /* Past the first eight bytes (read a word at a time), and after
	     * other characters: */
	    {"a", 1, "abcdefghijklmnop\xc3\xa9qrstuvw", 25, NULL},
	    {"a", 1, "abcdefghijklmnop\xff", 17,
	     "the value is not valid UTF-8"},
	    {"a", 1, "abcdefgh\xc3\xa9ijklmnop\xc3", 19,
	     "the value is not valid UTF-8"},
	    {"a", 1, "caf\xc3\xa9 \xe2\x82\xac\0", 11,
	     "the value contains a NUL byte"},
	    {"a", 1, "abcdefghij\nk\0", 13, "the value contains a line break"},
	    {"a", 1, "abcdefghij\0k\r\n", 14, "the value contains a NUL byte"},
	    {"a", 1, "\xff\n", 2, "the value contains a line break"},
	};
	char longp[STORE_PATH_MAX + 2], want[64];
	char *longv = malloc(STORE_VALUE_MAX + 2);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why =
		    store_row_invalid(cases[i].path, cases[i].plen,
				      cases[i].value, cases[i].vlen);

		if (cases[i].why == NULL)
			ck_assert_msg(why == NULL, "case %zu: %s", i, why);
		else
			ck_assert_msg(
			    why != NULL && strcmp(why, cases[i].why) == 0,
			    "case %zu: '%s', expected '%s'", i,
			    why != NULL ? why : "(accepted)", cases[i].why);
	}
	/* The limits are the admin protocol's, and the messages say them. */
	ck_assert_ptr_nonnull(longv);
	memset(longp, 'p', sizeof(longp));
	memset(longv, 'v', STORE_VALUE_MAX + 2);
	ck_assert_ptr_null(
	    store_row_invalid(longp, STORE_PATH_MAX, longv, STORE_VALUE_MAX));
	snprintf(want, sizeof(want), "the path is longer than %d bytes",
		 ADMINPROTO_KEY_MAX);
	ck_assert_str_eq(store_row_invalid(longp, STORE_PATH_MAX + 1, "1", 1),
			 want);
	snprintf(want, sizeof(want), "the value is longer than %d bytes",
		 ADMINPROTO_VALUE_MAX);
	ck_assert_str_eq(store_row_invalid("a", 1, longv, STORE_VALUE_MAX + 1),
			 want);
	free(longv);
}
END_TEST

/* Invalid UTF-8 is refused by a write group and by apply alike: a row
 * that is not text would make every node's JSON listing invalid. */
START_TEST(test_not_utf8_refused)
{
	char dir[512];
	struct store *s;
	struct store_change bad[2] = {{1, 1, "ok", "1"},
				      {2, 1, "v", "\xc3\x28"}};
	int64_t rev = 0;

	mkdir_fresh(dir, sizeof(dir), "store-utf8");
	s = open_ok(dir);
	OK(store_group_begin(s, err));
	FAILS(EKL_EINVAL, store_group_put(s, "a", "\xff\xfe", &rev, err));
	ck_assert_msg(strstr(err, "not valid UTF-8") != NULL, "%s", err);
	FAILS(EKL_EINVAL, store_group_put(s, "\xe2\x82", "1", &rev, err));
	OK(store_group_put(s, "caf\xc3\xa9", "\xe2\x82\xac", &rev, err));
	OK(store_group_commit(s, err));
	ck_assert_int_eq(state(s).revision, 1);
	store_close(s);

	mkdir_fresh(dir, sizeof(dir), "store-utf8-apply");
	s = open_ok(dir);
	FAILS(EKL_EPROTO, store_apply(s, bad, 2, err));
	ck_assert_msg(strstr(err, "change 2") != NULL &&
			  strstr(err, "not valid UTF-8") != NULL,
		      "%s", err);
	ck_assert_int_eq(state(s).revision, 0); /* nothing of it applied */
	OK(store_check(s, err));
	store_close(s);
}
END_TEST

START_TEST(test_group_rollback)
{
	char dir[512];
	struct store *s;
	struct store_state before, after;
	struct changes cs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-rollback");
	s = open_ok(dir);
	put1(s, "a", "1");
	before = state(s);
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "a", "2", NULL, err));
	OK(store_group_put(s, "b", "3", NULL, err));
	OK(store_group_put(s, "a", NULL, NULL, err));
	store_group_rollback(s);
	ck_assert(!store_group_open(s));
	after = state(s);
	assert_same_state(&before, &after);
	OK(store_check(s, err));
	assert_value(s, "a", "1");
	assert_value(s, "b", NULL);
	ck_assert_int_eq(
	    store_log_read(s, 0, 100, 1 << 20, changes_cb, &cs, err), 1);
	changes_free(&cs);
	/* The next revision is 2 again. */
	ck_assert_int_eq(put1(s, "c", "4"), 2);

	/* store_close rolls an open group back. */
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "d", "5", NULL, err));
	store_close(s);
	s = open_ok(dir);
	assert_value(s, "d", NULL);
	ck_assert_int_eq(state(s).revision, 2);
	store_close(s);
}
END_TEST

START_TEST(test_group_put_fails_midway)
{
	char dir[512], file[600];
	struct store *s;
	int64_t rev = 0;

	mkdir_fresh(dir, sizeof(dir), "store-midway");
	s = open_ok(dir);
	put1(s, "a", "old");
	db_file(file, sizeof(file), dir);
	/* A foreign log row at revision 3 makes the second put fail after
	 * it has written the config row. There is no savepoint per put: the
	 * whole group is rolled back (the first put too), later puts and the
	 * commit say so, and nothing of it is applied. */
	raw_sql(file, "INSERT INTO changelog VALUES (3, 0, 'x', 'y', NULL)");
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "b", "1", &rev, err));
	ck_assert_int_eq(rev, 2);
	FAILS(EKL_EIO, store_group_put(s, "a", "new", &rev, err));
	ck_assert(store_group_open(s));
	assert_value(s, "a", "old");
	assert_value(s, "b", NULL);
	FAILS(EKL_EIO, store_group_put(s, "c", "1", &rev, err));
	ck_assert_msg(strstr(err, "rolled back") != NULL, "%s", err);
	FAILS(EKL_EIO, store_group_commit(s, err));
	ck_assert_msg(strstr(err, "UNIQUE") != NULL, "%s", err);
	ck_assert(!store_group_open(s));
	ck_assert_int_eq(state(s).revision, 1);
	assert_value(s, "b", NULL);
	raw_sql(file, "DELETE FROM changelog WHERE rev = 3");
	OK(store_check(s, err));
	assert_value(s, "a", "old");
	ck_assert_int_eq(put1(s, "a", "new"), 2);
	store_close(s);
}
END_TEST

START_TEST(test_group_durable)
{
	char dir[512];
	struct store *s;

	mkdir_fresh(dir, sizeof(dir), "store-durable");
	s = open_ok(dir);
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "xConfiguration SIP Domain 1 Name", "example.com",
			   NULL, err));
	OK(store_group_put(s, "xConfiguration NTP Server 1 Address",
			   "pool.ntp.org", NULL, err));
	OK(store_group_commit(s, err));
	store_close(s);
	s = open_ok(dir);
	assert_value(s, "xConfiguration SIP Domain 1 Name", "example.com");
	assert_value(s, "xConfiguration NTP Server 1 Address", "pool.ntp.org");
	ck_assert_int_eq(state(s).revision, 2);
	store_close(s);
}
END_TEST

START_TEST(test_group_misuse)
{
	char dir[512];
	struct store *s;
	struct store_change c = {1, 0, "a", "1"};

	mkdir_fresh(dir, sizeof(dir), "store-misuse");
	s = open_ok(dir);
	FAILS(EKL_EINVAL, store_group_put(s, "a", "1", NULL, err));
	FAILS(EKL_EINVAL, store_group_commit(s, err));
	store_group_rollback(s); /* harmless */
	OK(store_group_begin(s, err));
	FAILS(EKL_EINVAL, store_group_begin(s, err));
	FAILS(EKL_EINVAL, store_apply(s, &c, 1, err));
	FAILS(EKL_EINVAL, store_set_epoch(s, 5, "n1", err));
	FAILS(EKL_EINVAL, store_snap_stage_begin(s, err));
	OK(store_group_put(s, "a", "1", NULL, err));
	FAILS(EKL_EINVAL, store_compact(s, 0, err));
	OK(store_group_commit(s, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).revision, 1);
	ck_assert_int_eq(state(s).epoch, 0);
	store_close(s);
}
END_TEST

/* ---- the digest ---- */

START_TEST(test_digest_order_independent)
{
	char d1[512], d2[512];
	struct store *a, *b;
	struct store_state sa, sb;
	uint8_t h[32];
	unsigned char buf[64];
	unsigned int hl = 0;

	mkdir_fresh(d1, sizeof(d1), "store-dig1");
	a = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-dig2");
	b = open_ok(d2);

	/* One row: the digest is exactly its hash. */
	put1(a, "ab", "xyz");
	memcpy(buf, "\0\0\0\2ab\0\0\0\3xyz", 13);
	ck_assert_int_eq(EVP_Digest(buf, 13, h, &hl, EVP_sha256(), NULL), 1);
	ck_assert_mem_eq(state(a).digest, h, 32);

	put1(a, "p1", "1");
	put1(a, "p2", "2");
	put1(a, "p3", "3");

	put1(b, "p3", "3");
	put1(b, "p9", "gone soon");
	put1(b, "p1", "wrong");
	put1(b, "p2", "2");
	put1(b, "ab", "xyz");
	put1(b, "p1", "1");
	put1(b, "p9", NULL);

	sa = state(a);
	sb = state(b);
	ck_assert_int_ne(sa.revision, sb.revision);
	ck_assert_int_eq(sa.rows, sb.rows);
	ck_assert_mem_eq(sa.digest, sb.digest, STORE_DIGEST_LEN);

	put1(b, "p2", "two");
	sb = state(b);
	ck_assert_mem_ne(sa.digest, sb.digest, STORE_DIGEST_LEN);
	put1(b, "p2", "2");
	sb = state(b);
	ck_assert_mem_eq(sa.digest, sb.digest, STORE_DIGEST_LEN);

	/* Swapping a path and its value is a different row. */
	put1(a, "k", "v");
	put1(b, "v", "k");
	ck_assert_mem_ne(state(a).digest, state(b).digest, STORE_DIGEST_LEN);
	store_close(a);
	store_close(b);
}
END_TEST

START_TEST(test_digest_hex)
{
	uint8_t d[STORE_DIGEST_LEN];
	char hex[2 * STORE_DIGEST_LEN + 1];

	for (int i = 0; i < STORE_DIGEST_LEN; i++)
		d[i] = (uint8_t)(i * 17);
	store_digest_hex(d, hex);
	ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff"
			      "102132435465768798a9bacbdcedfe0f");
}
END_TEST

/* ---- store_check ---- */

START_TEST(test_check_detects_tampering)
{
	char dir[512], file[600];
	struct store *s;

	mkdir_fresh(dir, sizeof(dir), "store-check");
	s = open_ok(dir);
	fill(s, 5, "p%d", 4);
	db_file(file, sizeof(file), dir);

	raw_sql(file, "UPDATE config SET value = 'evil' WHERE path = 'p1'");
	FAILS(EKL_EIO, store_check(s, err));
	ck_assert_msg(strstr(err, "digest") != NULL, "%s", err);
	raw_sql(file, "UPDATE config SET value = 'bbbb' WHERE path = 'p1'");
	OK(store_check(s, err));

	raw_sql(file, "DELETE FROM changelog WHERE rev = 3");
	FAILS(EKL_EIO, store_check(s, err));
	ck_assert_msg(strstr(err, "change log") != NULL, "%s", err);
	store_close(s);
}
END_TEST

/* ---- store_log_read / store_log_epoch ---- */

START_TEST(test_log_read)
{
	char dir[512];
	struct store *s;
	struct changes cs = {0};
	int64_t ep = -1;

	mkdir_fresh(dir, sizeof(dir), "store-log");
	s = open_ok(dir);
	OK(store_set_epoch(s, 1, "n1", err));
	fill(s, 6, "p%02d", 100); /* revisions 1..6, epoch 1 */
	OK(store_set_epoch(s, 2, "n2", err));
	put1(s, "p00", NULL);	  /* 7 */
	fill(s, 3, "q%02d", 100); /* 8..10 */

	ck_assert_int_eq(store_log_read(s, 0, 3, 1 << 20, changes_cb, &cs, err),
			 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cs.c[i].rev, i + 1);
	ck_assert_str_eq(cs.c[0].path, "p00");
	ck_assert_int_eq(cs.c[0].epoch, 1);
	ck_assert_uint_eq(strlen(cs.c[0].value), 100);
	changes_free(&cs);

	ck_assert_int_eq(
	    store_log_read(s, 3, 100, 1 << 20, changes_cb, &cs, err), 7);
	ck_assert_int_eq(cs.c[0].rev, 4);
	ck_assert_int_eq(cs.c[3].rev, 7);
	ck_assert_ptr_null(cs.c[3].value); /* the delete */
	ck_assert_int_eq(cs.c[3].epoch, 2);
	ck_assert_int_eq(cs.c[6].rev, 10);
	changes_free(&cs);

	ck_assert_int_eq(
	    store_log_read(s, 10, 100, 1 << 20, changes_cb, &cs, err), 0);
	ck_assert_int_eq(
	    store_log_read(s, 50, 100, 1 << 20, changes_cb, &cs, err), 0);
	FAILS(EKL_EINVAL, store_log_read(s, -1, 10, 100, changes_cb, &cs, err));

	/* Each change is 103 bytes of path+value. */
	ck_assert_int_eq(store_log_read(s, 0, 100, 250, changes_cb, &cs, err),
			 2);
	changes_free(&cs);
	ck_assert_int_eq(store_log_read(s, 0, 100, 1, changes_cb, &cs, err),
			 1); /* always progress */
	changes_free(&cs);
	cs.stop_at = 2;
	ck_assert_int_eq(
	    store_log_read(s, 0, 100, 1 << 20, changes_cb, &cs, err), 7);
	ck_assert_int_eq(cs.n, 2);
	changes_free(&cs);
	cs.stop_at = 0;

	/* Uncommitted changes of an open group are not in the log yet. */
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "r", "1", NULL, err));
	ck_assert_int_eq(
	    store_log_read(s, 9, 100, 1 << 20, changes_cb, &cs, err), 1);
	changes_free(&cs);
	OK(store_group_commit(s, err));
	ck_assert_int_eq(
	    store_log_read(s, 9, 100, 1 << 20, changes_cb, &cs, err), 2);
	changes_free(&cs);

	/* After compaction the old part is gone: send a snapshot. */
	OK(store_compact(s, 5, err)); /* keeps 7..11 */
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).log_first, 7);
	FAILS(EKL_ENOENT,
	      store_log_read(s, 5, 100, 1 << 20, changes_cb, &cs, err));
	ck_assert_msg(strstr(err, "snapshot") != NULL, "%s", err);
	ck_assert_int_eq(
	    store_log_read(s, 6, 100, 1 << 20, changes_cb, &cs, err), 5);
	ck_assert_int_eq(cs.c[0].rev, 7);
	changes_free(&cs);

	/* store_log_epoch */
	OK(store_log_epoch(s, 0, &ep, err));
	ck_assert_int_eq(ep, 0);
	OK(store_log_epoch(s, 8, &ep, err));
	ck_assert_int_eq(ep, 2);
	FAILS(EKL_ENOENT, store_log_epoch(s, 3, &ep, err));
	FAILS(EKL_ENOENT, store_log_epoch(s, 12, &ep, err));
	store_close(s);
}
END_TEST

START_TEST(test_log_epoch)
{
	char dir[512];
	struct store *s;
	int64_t ep = -1;

	mkdir_fresh(dir, sizeof(dir), "store-logep");
	s = open_ok(dir);
	put1(s, "a", "1"); /* epoch 0 */
	OK(store_set_epoch(s, 4, "n1", err));
	put1(s, "b", "1"); /* epoch 4 */
	OK(store_log_epoch(s, 1, &ep, err));
	ck_assert_int_eq(ep, 0);
	OK(store_log_epoch(s, 2, &ep, err));
	ck_assert_int_eq(ep, 4);
	/* With the log emptied, the last revision's epoch is still known. */
	OK(store_compact(s, 0, err));
	ep = -1;
	OK(store_log_epoch(s, 2, &ep, err));
	ck_assert_int_eq(ep, 4);
	FAILS(EKL_ENOENT, store_log_epoch(s, 1, &ep, err));
	store_close(s);
}
END_TEST

/* ---- store_compact ---- */

START_TEST(test_compact)
{
	char dir[512];
	struct store *s;
	struct changes cs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-compact");
	s = open_ok(dir);
	fill(s, 10, "p%d", 2);
	OK(store_compact(s, 100, err));
	ck_assert_int_eq(state(s).log_first, 1);
	OK(store_compact(s, 3, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).log_first, 8);
	OK(store_compact(s, 5, err)); /* cannot grow back: nothing to do */
	ck_assert_int_eq(state(s).log_first, 8);
	FAILS(EKL_EINVAL, store_compact(s, -1, err));
	OK(store_compact(s, 0, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).log_first, 11);
	ck_assert_int_eq(store_log_read(s, 10, 10, 1000, changes_cb, &cs, err),
			 0);
	FAILS(EKL_ENOENT, store_log_read(s, 9, 10, 1000, changes_cb, &cs, err));
	/* The rows are untouched, and writes go on after an empty log. */
	ck_assert_int_eq(state(s).rows, 10);
	ck_assert_int_eq(put1(s, "x", "y"), 11);
	ck_assert_int_eq(store_log_read(s, 10, 10, 1000, changes_cb, &cs, err),
			 1);
	changes_free(&cs);
	store_close(s);

	s = open_ok(dir);
	ck_assert_int_eq(state(s).log_first, 11);
	ck_assert_int_eq(state(s).revision, 11);
	store_close(s);
}
END_TEST

/* ---- store_apply ---- */

/* Copies every change of p after r's revision into r, batch by batch. */
static void catch_up(struct store *p, struct store *r, size_t batch)
{
	struct changes cs = {0};
	int n;

	do {
		n = store_log_read(p, state(r).revision, batch, 1 << 20,
				   changes_cb, &cs, err);
		ck_assert_msg(n >= 0, "store_log_read: %d %s", n, err);
		OK(store_apply(r, cs.c, (size_t)n, err));
		OK(store_check(r, err));
		changes_free(&cs);
	} while (n > 0);
}

START_TEST(test_apply_consecutive)
{
	char d1[512], d2[512];
	struct store *p, *r;
	struct store_state sp, sr;
	struct dump dp, dr;
	int64_t ep = -1;

	mkdir_fresh(d1, sizeof(d1), "store-applyp");
	p = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-applyr");
	r = open_ok(d2);

	OK(store_set_epoch(p, 1, "p", err));
	fill(p, 20, "xConfiguration Row %d", 10);
	OK(store_set_epoch(p, 2, "p", err));
	put1(p, "xConfiguration Row 3", NULL);
	put1(p, "xConfiguration Row 4", "changed");
	catch_up(p, r, 7);

	sp = state(p);
	sr = state(r);
	ck_assert_int_eq(sr.revision, 22);
	ck_assert_int_eq(sr.revision, sp.revision);
	ck_assert_int_eq(sr.rev_epoch, 2);
	ck_assert_int_eq(sr.rows, sp.rows);
	ck_assert_mem_eq(sr.digest, sp.digest, STORE_DIGEST_LEN);
	ck_assert_int_eq(sr.epoch, 0); /* store_apply does not adopt epochs */
	dump(p, &dp);
	dump(r, &dr);
	ck_assert_str_eq(dp.buf, dr.buf);
	OK(store_log_epoch(r, 5, &ep, err));
	ck_assert_int_eq(ep, 1);
	OK(store_log_epoch(r, 21, &ep, err));
	ck_assert_int_eq(ep, 2);

	/* Applied changes survive a restart. */
	store_close(r);
	r = open_ok(d2);
	sr = state(r);
	ck_assert_mem_eq(sr.digest, sp.digest, STORE_DIGEST_LEN);
	ck_assert_int_eq(sr.revision, 22);
	OK(store_apply(r, NULL, 0, err));
	store_close(p);
	store_close(r);
}
END_TEST

/* store_apply of c must fail with EKL_EPROTO and change nothing. */
static void assert_apply_refused(struct store *s, const struct store_change *c,
				 size_t n, const char *needle)
{
	struct store_state before = state(s), after;
	struct dump d1, d2;
	struct changes cs = {0};
	int nlog;

	dump(s, &d1);
	nlog = store_log_read(s, before.log_first - 1, MAXC, 1 << 30,
			      changes_cb, &cs, err);
	changes_free(&cs);
	FAILS(EKL_EPROTO, store_apply(s, c, n, err));
	ck_assert_msg(strstr(err, needle) != NULL, "no \"%s\" in: %s", needle,
		      err);
	after = state(s);
	assert_same_state(&before, &after);
	dump(s, &d2);
	ck_assert_str_eq(d1.buf, d2.buf);
	ck_assert_int_eq(store_log_read(s, before.log_first - 1, MAXC, 1 << 30,
					changes_cb, &cs, err),
			 nlog);
	changes_free(&cs);
	OK(store_check(s, err));
}

START_TEST(test_apply_refused)
{
	char dir[512];
	struct store *s;
	struct store_change ok[3] = {
	    {1, 1, "a", "1"}, {2, 1, "b", "2"}, {3, 1, "c", "3"}};
	struct store_change gap[3] = {
	    {4, 1, "a", "x"}, {5, 1, "b", "x"}, {7, 1, "c", "x"}};
	struct store_change skip[1] = {{5, 1, "a", "x"}};
	struct store_change repeat[2] = {{3, 1, "c", "x"}, {4, 1, "d", "x"}};
	struct store_change dup[2] = {{4, 1, "d", "x"}, {4, 1, "d", "y"}};
	struct store_change back[2] = {{4, 1, "d", "x"}, {5, 0, "e", "x"}};
	struct store_change missing[2] = {{4, 1, "d", "x"}, {5, 1, "zz", NULL}};
	struct store_change bad[2] = {{4, 1, "d", "x"}, {5, 1, "", "x"}};

	mkdir_fresh(dir, sizeof(dir), "store-applybad");
	s = open_ok(dir);
	OK(store_apply(s, ok, 3, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).revision, 3);
	ck_assert_int_eq(state(s).rev_epoch, 1);

	assert_apply_refused(s, gap, 3, "gap");
	assert_apply_refused(s, skip, 1, "change 5 follows revision 3: a gap");
	assert_apply_refused(s, repeat, 2, "repeat");
	assert_apply_refused(s, ok, 1, "repeat");
	assert_apply_refused(s, dup, 2, "repeat");
	assert_apply_refused(s, back, 2, "epoch");
	assert_apply_refused(s, missing, 2, "does not have");
	assert_apply_refused(s, bad, 2, "empty");
	assert_value(s, "a", "1");
	assert_value(s, "d", NULL);

	/* And the store still takes the right next change. */
	OK(store_apply(s, gap, 2, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).revision, 5);
	assert_value(s, "a", "x");
	store_close(s);
}
END_TEST

START_TEST(test_apply_large_batch)
{
	char dir[512];
	struct store *s;
	static struct store_change c[1000];
	static char paths[1000][40], values[1000][80];

	mkdir_fresh(dir, sizeof(dir), "store-applybig");
	s = open_ok(dir);
	for (int i = 0; i < 1000; i++) {
		snprintf(paths[i], sizeof(paths[i]), "xConfiguration Row %d",
			 i % 700);
		snprintf(values[i], sizeof(values[i]), "value %d", i);
		c[i].rev = i + 1;
		c[i].epoch = 1;
		c[i].path = paths[i];
		c[i].value = i % 97 == 96 ? NULL : values[i];
	}
	/* Deletes must hit present rows: row (i % 700) was set at i - 700
	 * or earlier only when i >= 700. */
	for (int i = 0; i < 1000; i++)
		if (c[i].value == NULL && i < 700)
			c[i].value = values[i];
	OK(store_apply(s, c, 1000, err));
	OK(store_check(s, err));
	ck_assert_int_eq(state(s).revision, 1000);
	ck_assert_int_eq(state(s).rows, 700 - 3); /* 3 deletes at i >= 700 */
	store_close(s);
}
END_TEST

/* ---- store_set_epoch ---- */

START_TEST(test_set_epoch)
{
	char dir[512], longname[STORE_NAME_MAX + 1];
	struct store *s;
	struct changes cs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-epoch");
	s = open_ok(dir);
	OK(store_set_epoch(s, 1, "n1", err));
	ck_assert_int_eq(state(s).epoch, 1);
	ck_assert_str_eq(state(s).primary, "n1");
	OK(store_set_epoch(s, 1, "n1", err)); /* the same: no-op */
	FAILS(EKL_EINVAL, store_set_epoch(s, 1, "n2", err));
	FAILS(EKL_EINVAL, store_set_epoch(s, 0, "n1", err));
	memset(longname, 'n', STORE_NAME_MAX);
	longname[STORE_NAME_MAX] = '\0';
	FAILS(EKL_EINVAL, store_set_epoch(s, 9, longname, err));
	ck_assert_int_eq(state(s).epoch, 1);
	ck_assert_str_eq(state(s).primary, "n1");

	OK(store_set_epoch(s, 3, "", err));   /* newer, primary unknown */
	OK(store_set_epoch(s, 3, "n3", err)); /* named later */
	FAILS(EKL_EINVAL, store_set_epoch(s, 3, "n4", err));
	OK(store_check(s, err));

	put1(s, "a", "1");
	ck_assert_int_eq(state(s).rev_epoch, 3);
	ck_assert_int_eq(store_log_read(s, 0, 10, 1000, changes_cb, &cs, err),
			 1);
	ck_assert_int_eq(cs.c[0].epoch, 3);
	changes_free(&cs);
	store_close(s);

	s = open_ok(dir);
	ck_assert_int_eq(state(s).epoch, 3);
	ck_assert_str_eq(state(s).primary, "n3");
	store_close(s);
}
END_TEST

/* ---- snapshots: the reader ---- */

struct rows {
	const char *paths[256];
	const char *values[256];
	int n;
};

static int rows_cb(void *arg, const char *path, const char *value)
{
	struct rows *rs = arg;

	ck_assert_int_lt(rs->n, 256);
	rs->paths[rs->n] = strdup(path);
	rs->values[rs->n] = strdup(value);
	rs->n++;
	return 0;
}

static void rows_free(struct rows *rs)
{
	for (int i = 0; i < rs->n; i++) {
		free((char *)rs->paths[i]);
		free((char *)rs->values[i]);
	}
	rs->n = 0;
}

START_TEST(test_snap_reader_consistent)
{
	char dir[512];
	struct store *s;
	struct store_snap_reader *rd = NULL;
	struct store_state at, now;
	struct rows rs = {0};
	int n;

	mkdir_fresh(dir, sizeof(dir), "store-snapread");
	s = open_ok(dir);
	OK(store_set_epoch(s, 2, "n1", err));
	fill(s, 25, "row%02d", 5); /* values "aaaaa", "bbbbb", ... */
	now = state(s);
	OK(store_snap_open(s, &rd, &at, err));
	assert_same_state(&now, &at);

	/* The writer goes on; the reader must not see any of it. */
	fill(s, 5, "new%02d", 3);
	put1(s, "row03", "changed");
	put1(s, "row04", NULL);
	OK(store_group_begin(s, err)); /* even an open group */
	OK(store_group_put(s, "row05", "uncommitted", NULL, err));

	do {
		n = store_snap_next(rd, 7, SIZE_MAX, rows_cb, &rs, err);
		ck_assert_msg(n >= 0, "store_snap_next: %d %s", n, err);
	} while (n > 0);
	ck_assert_int_eq(store_snap_next(rd, 7, SIZE_MAX, rows_cb, &rs, err),
			 0);
	store_snap_close(rd);
	OK(store_group_commit(s, err));

	ck_assert_int_eq(rs.n, 25);
	for (int i = 0; i < 25; i++) {
		char p[16], v[8];

		snprintf(p, sizeof(p), "row%02d", i);
		memset(v, 'a' + i, 5);
		v[5] = '\0';
		ck_assert_str_eq(rs.paths[i], p);
		ck_assert_str_eq(rs.values[i], v);
	}
	rows_free(&rs);

	/* A new reader sees the new rows. */
	OK(store_snap_open(s, &rd, &at, err));
	ck_assert_int_eq(at.revision, state(s).revision);
	ck_assert_int_eq(at.rows, 29);
	ck_assert_int_eq(store_snap_next(rd, 100, SIZE_MAX, rows_cb, &rs, err),
			 29);
	ck_assert_int_eq(store_snap_next(rd, 100, SIZE_MAX, rows_cb, &rs, err),
			 0);
	store_snap_close(rd);
	rows_free(&rs);
	store_snap_close(NULL);
	store_close(s);
}
END_TEST

/* A reader opened while a group is open describes the committed state:
 * the group's new row is neither counted nor read. */
START_TEST(test_snap_reader_during_group)
{
	char dir[512];
	struct store *s;
	struct store_snap_reader *rd = NULL;
	struct store_state at, now;
	struct rows rs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-snapgroup");
	s = open_ok(dir);
	fill(s, 12, "g%02d", 4);
	put1(s, "g03", NULL);
	now = state(s);
	ck_assert_int_eq(now.rows, 11);
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "g99", "uncommitted", NULL, err));
	OK(store_group_put(s, "g04", NULL, NULL, err));
	OK(store_snap_open(s, &rd, &at, err));
	assert_same_state(&now, &at);
	ck_assert_int_eq(at.rows, 11);
	ck_assert_int_eq(store_snap_next(rd, 100, SIZE_MAX, rows_cb, &rs, err),
			 11);
	ck_assert_int_eq(store_snap_next(rd, 100, SIZE_MAX, rows_cb, &rs, err),
			 0);
	ck_assert_str_eq(rs.paths[3], "g04");
	store_snap_close(rd);
	rows_free(&rs);
	OK(store_group_commit(s, err));
	OK(store_snap_open(s, &rd, &at, err));
	ck_assert_int_eq(at.rows, 11); /* one added, one deleted */
	ck_assert_int_eq(at.revision, now.revision + 2);
	store_snap_close(rd);
	store_close(s);
}
END_TEST

START_TEST(test_snap_reader_exact_batches)
{
	char dir[512];
	struct store *s;
	struct store_snap_reader *rd = NULL;
	struct store_state at;
	struct rows rs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-snapbatch");
	s = open_ok(dir);
	OK(store_snap_open(s, &rd, &at, err)); /* an empty store */
	ck_assert_int_eq(at.rows, 0);
	ck_assert_int_eq(store_snap_next(rd, 5, SIZE_MAX, rows_cb, &rs, err),
			 0);
	store_snap_close(rd);

	fill(s, 10, "r%d", 1);
	OK(store_snap_open(s, &rd, &at, err));
	ck_assert_int_eq(store_snap_next(rd, 5, SIZE_MAX, rows_cb, &rs, err),
			 5);
	ck_assert_int_eq(store_snap_next(rd, 5, SIZE_MAX, rows_cb, &rs, err),
			 5);
	ck_assert_int_eq(store_snap_next(rd, 5, SIZE_MAX, rows_cb, &rs, err),
			 0);
	ck_assert_int_eq(rs.n, 10);
	ck_assert_str_eq(rs.paths[0], "r0");
	ck_assert_str_eq(rs.paths[9], "r9");
	store_snap_close(rd);
	rows_free(&rs);
	store_close(s);
}
END_TEST

/* A chunk stops at max_bytes of path+value, never skips a row, and a row
 * larger than max_bytes goes alone. */
START_TEST(test_snap_reader_byte_bound)
{
	char dir[512], big[200];
	struct store *s;
	struct store_snap_reader *rd = NULL;
	struct store_state at;
	struct rows rs = {0};

	mkdir_fresh(dir, sizeof(dir), "store-snapbytes");
	s = open_ok(dir);
	fill(s, 10, "r%d", 8); /* 2 + 8 bytes a row */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put1(s, "r5a", big); /* 3 + 199 bytes, between r5 and r6 */
	OK(store_snap_open(s, &rd, &at, err));
	ck_assert_int_eq(at.rows, 11);
	/* 35 bytes: three rows of 10, not a fourth. */
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 3);
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 3);
	/* r5a alone is over the bound: it goes alone, next time. */
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 1);
	ck_assert_str_eq(rs.paths[rs.n - 1], "r5a");
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 3);
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 1);
	ck_assert_int_eq(store_snap_next(rd, 100, 35, rows_cb, &rs, err), 0);
	ck_assert_int_eq(rs.n, 11);
	ck_assert_str_eq(rs.paths[0], "r0");
	ck_assert_str_eq(rs.paths[10], "r9");
	store_snap_close(rd);
	rows_free(&rs);
	store_close(s);
}
END_TEST

/* ---- snapshots: staging and the swap ---- */

/* Sends p's rows to r as a snapshot through staging. */
static int send_snapshot(struct store *p, struct store *r, size_t batch,
			 const uint8_t *override_digest)
{
	struct store_snap_reader *rd = NULL;
	struct store_state at;
	struct rows rs = {0};
	int n, ret;

	OK(store_snap_open(p, &rd, &at, err));
	OK(store_snap_stage_begin(r, err));
	do {
		n = store_snap_next(rd, batch, SIZE_MAX, rows_cb, &rs, err);
		ck_assert_msg(n >= 0, "store_snap_next: %d %s", n, err);
		OK(store_snap_stage_rows(r, rs.paths, rs.values, (size_t)rs.n,
					 err));
		rows_free(&rs);
	} while (n > 0);
	store_snap_close(rd);
	err[0] = '\0';
	ret = store_snap_finish(
	    r, at.revision, at.rev_epoch,
	    override_digest != NULL ? override_digest : at.digest, err);
	return ret;
}

START_TEST(test_snap_finish_swaps)
{
	char d1[512], d2[512];
	struct store *p, *r;
	struct store_state sp, sr;
	struct dump dp, dr;
	struct changes cs = {0};
	int64_t ep = -1;

	mkdir_fresh(d1, sizeof(d1), "store-swapp");
	p = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-swapr");
	r = open_ok(d2);
	OK(store_set_epoch(p, 5, "p", err));
	fill(p, 40, "xConfiguration Row %d", 20);
	put1(p, "xConfiguration Row 7", NULL);
	OK(store_compact(p, 3, err));
	put1(r, "old", "row"); /* r's own history, to be replaced */
	put1(r, "xConfiguration Row 1", "stale");

	OK(send_snapshot(p, r, 9, NULL));
	OK(store_check(r, err));
	sp = state(p);
	sr = state(r);
	ck_assert_int_eq(sr.revision, sp.revision);
	ck_assert_int_eq(sr.rev_epoch, 5);
	ck_assert_int_eq(sr.epoch, 5); /* adopted: newer than 0 */
	ck_assert_str_eq(sr.primary, "");
	ck_assert_int_eq(sr.log_first, sp.revision + 1);
	ck_assert_int_eq(sr.rows, 39);
	ck_assert_mem_eq(sr.digest, sp.digest, STORE_DIGEST_LEN);
	dump(p, &dp);
	dump(r, &dr);
	ck_assert_str_eq(dp.buf, dr.buf);
	assert_value(r, "old", NULL);
	ck_assert_int_eq(
	    store_log_read(r, sr.revision, 10, 1000, changes_cb, &cs, err), 0);
	FAILS(EKL_ENOENT, store_log_read(r, 0, 10, 1000, changes_cb, &cs, err));
	OK(store_log_epoch(r, sr.revision, &ep, err));
	ck_assert_int_eq(ep, 5);

	/* Replication continues from the snapshot's revision. */
	put1(p, "after", "snapshot");
	catch_up(p, r, 10);
	ck_assert_mem_eq(state(r).digest, state(p).digest, STORE_DIGEST_LEN);
	store_close(r);

	r = open_ok(d2);
	ck_assert_int_eq(state(r).revision, state(p).revision);
	store_close(r);
	store_close(p);
}
END_TEST

START_TEST(test_snap_finish_wrong_digest)
{
	char d1[512], d2[512];
	struct store *p, *r;
	struct store_state before, after;
	struct dump d1b, d1a;
	uint8_t bad[STORE_DIGEST_LEN];
	const char *paths[2] = {"a", "a"}, *values[2] = {"1", "2"};

	mkdir_fresh(d1, sizeof(d1), "store-wrongp");
	p = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-wrongr");
	r = open_ok(d2);
	fill(p, 12, "r%d", 3);
	put1(r, "mine", "1");
	put1(r, "mine2", "2");
	before = state(r);
	dump(r, &d1b);

	memcpy(bad, state(p).digest, STORE_DIGEST_LEN);
	bad[31] ^= 1;
	ck_assert_int_eq(send_snapshot(p, r, 5, bad), EKL_EPROTO);
	ck_assert_msg(strstr(err, "not applied") != NULL, "%s", err);
	after = state(r);
	assert_same_state(&before, &after);
	dump(r, &d1a);
	ck_assert_str_eq(d1b.buf, d1a.buf);

	/* Abort clears the staging; the store is whole. */
	store_snap_abort(r);
	OK(store_check(r, err));
	FAILS(EKL_EINVAL, store_snap_stage_rows(r, paths, values, 1, err));
	FAILS(EKL_EINVAL, store_snap_finish(r, 1, 0, bad, err));

	/* A row sent twice, or an invalid row, is refused. */
	OK(store_snap_stage_begin(r, err));
	FAILS(EKL_EPROTO, store_snap_stage_rows(r, paths, values, 2, err));
	paths[0] = "";
	FAILS(EKL_EPROTO, store_snap_stage_rows(r, paths, values, 1, err));
	store_snap_abort(r);
	OK(store_check(r, err));

	/* Then a correct snapshot goes through. */
	OK(send_snapshot(p, r, 5, NULL));
	OK(store_check(r, err));
	ck_assert_mem_eq(state(r).digest, state(p).digest, STORE_DIGEST_LEN);
	store_close(p);
	store_close(r);
}
END_TEST

START_TEST(test_snap_crash_midway)
{
	char dir[512];
	struct store *s;
	struct store_state before, after;
	const char *paths[3] = {"x", "y", "z"}, *values[3] = {"1", "2", "3"};

	mkdir_fresh(dir, sizeof(dir), "store-snapcrash");
	s = open_ok(dir);
	fill(s, 8, "keep%d", 4);
	before = state(s);
	OK(store_snap_stage_begin(s, err));
	OK(store_snap_stage_rows(s, paths, values, 3, err));
	store_close(s); /* the node dies before store_snap_finish */

	s = open_ok(dir); /* open_ok runs store_check: staging was cleared */
	after = state(s);
	assert_same_state(&before, &after);
	assert_value(s, "keep3", "dddd");
	assert_value(s, "x", NULL);
	store_close(s);
}
END_TEST

/* ---- the rows a snapshot replaced ---- */

/* Rows of the table named t, read on a connection of its own (the raw
 * file, as another process would see it); -1 when there is no such
 * table. */
static int64_t raw_count(const char *dir, const char *t)
{
	char file[600], sql[200];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	db_file(file, sizeof(file), dir);
	ck_assert_int_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", t);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Steps until nothing is pending; the number of steps it took. */
static int drain(struct store *s, double budget)
{
	int steps = 0;

	while (store_trash_pending(s)) {
		OK(store_trash_step(s, budget, err));
		ck_assert_int_lt(++steps, 100000);
	}
	return steps;
}

/* The swap renames the old rows aside instead of deleting them: readers
 * see the new rows at once, the old ones go a step at a time, and
 * replication goes on between the steps. */
START_TEST(test_snap_trash_deferred)
{
	char d1[512], d2[512];
	struct store *p, *r;
	struct dump dp, dr;
	int64_t before;
	int steps;

	mkdir_fresh(d1, sizeof(d1), "store-trashp");
	p = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-trashr");
	r = open_ok(d2);
	fill(p, 30, "new%d", 50);
	fill(r, 1500, "old%04d", 900); /* r's own, larger table */
	ck_assert(!store_trash_pending(r));

	OK(send_snapshot(p, r, 7, NULL));
	/* Right after the swap: the new rows are the store's... */
	OK(store_check(r, err));
	ck_assert_int_eq(state(r).rows, 30);
	ck_assert_mem_eq(state(r).digest, state(p).digest, STORE_DIGEST_LEN);
	assert_value(r, "old0007", NULL);
	dump(p, &dp);
	dump(r, &dr);
	ck_assert_str_eq(dp.buf, dr.buf);
	/* ...and the old ones were not deleted by the swap. */
	ck_assert(store_trash_pending(r));
	ck_assert_int_eq(store_trash_tables(r), 1);
	before = raw_count(d2, "config_retired_1");
	ck_assert_int_eq(before, 1500);
	ck_assert_int_eq(raw_count(d2, "snap_config"), 0);

	/* A step with no time to spare deletes one small bite. */
	OK(store_trash_step(r, 0, err));
	ck_assert_int_eq(raw_count(d2, "config_retired_1"), before - 16);
	ck_assert(store_trash_pending(r));

	/* Replication goes on between steps, and is not touched by them. */
	put1(p, "new3", "changed");
	catch_up(p, r, 10);
	OK(store_trash_step(r, 0, err));
	OK(store_check(r, err));
	assert_value(r, "new3", "changed");

	steps = drain(r, 0.0005);
	ck_assert_int_gt(steps, 1);
	ck_assert_int_eq(raw_count(d2, "config_retired_1"), -1); /* dropped */
	ck_assert_int_eq(store_trash_tables(r), 0);
	OK(store_trash_step(r, 1, err)); /* nothing to do: fine */
	OK(store_check(r, err));
	ck_assert_mem_eq(state(r).digest, state(p).digest, STORE_DIGEST_LEN);

	/* Two snapshots before the first one's rows are gone: two tables,
	 * deleted oldest first. */
	OK(send_snapshot(p, r, 7, NULL));
	put1(p, "more", "rows");
	OK(send_snapshot(p, r, 7, NULL));
	ck_assert_int_eq(store_trash_tables(r), 2);
	ck_assert_int_eq(raw_count(d2, "config_retired_2"), 30);
	ck_assert_int_eq(raw_count(d2, "config_retired_3"), 30);
	OK(store_trash_step(r, 1, err));
	ck_assert_int_eq(raw_count(d2, "config_retired_2"), -1);
	ck_assert_int_eq(raw_count(d2, "config_retired_3"), 30);
	drain(r, 1);
	OK(store_check(r, err));
	ck_assert_int_eq(raw_count(d2, "config_retired_3"), -1);
	store_close(r);
	store_close(p);
}
END_TEST

/* Killed between the swap and the last step: the store opens consistent
 * with the snapshot's rows, finds the old table and deletes it. */
START_TEST(test_snap_trash_crash)
{
	char d1[512], d2[512];
	struct store *p, *r;
	struct store_state sp;
	pid_t pid;

	mkdir_fresh(d1, sizeof(d1), "store-trashcp");
	p = open_ok(d1);
	mkdir_fresh(d2, sizeof(d2), "store-trashcr");
	r = open_ok(d2);
	fill(p, 20, "new%d", 40);
	fill(r, 600, "old%04d", 700);
	store_close(r);
	sp = state(p);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *c = NULL;
		char e[EKL_ERRLEN];

		if (store_open(d2, &c, e) != 0 ||
		    send_snapshot(p, c, 5, NULL) != 0 ||
		    store_trash_step(c, 0, e) != 0)
			_exit(3);
		abort(); /* swapped, one step made: die holding the rest */
	}
	assert_aborted(pid);

	r = open_ok(d2); /* store_check included */
	ck_assert_int_eq(state(r).revision, sp.revision);
	ck_assert_mem_eq(state(r).digest, sp.digest, STORE_DIGEST_LEN);
	assert_value(r, "old0001", NULL);
	assert_value(r, "new1", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	ck_assert(store_trash_pending(r));
	ck_assert_int_eq(raw_count(d2, "config_retired_1"), 600 - 16);
	drain(r, 0.001);
	ck_assert_int_eq(raw_count(d2, "config_retired_1"), -1);
	OK(store_check(r, err));
	store_close(r);

	/* Reopened: nothing left; the next swap renames aside again (the
	 * numbers start over once no table is left). */
	r = open_ok(d2);
	ck_assert(!store_trash_pending(r));
	OK(send_snapshot(p, r, 5, NULL));
	ck_assert_int_eq(raw_count(d2, "config_retired_1"), 20);
	drain(r, 1);
	store_close(r);
	store_close(p);
}
END_TEST

/* ---- durability across a crash ---- */

START_TEST(test_crash_after_commit)
{
	char dir[512];
	struct store *s;
	pid_t pid;

	mkdir_fresh(dir, sizeof(dir), "store-kill");
	s = open_ok(dir);
	put1(s, "before", "1");
	store_close(s);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *c = NULL;
		char e[EKL_ERRLEN];

		if (store_open(dir, &c, e) != 0 ||
		    store_group_begin(c, e) != 0 ||
		    store_group_put(c, "acked", "yes", NULL, e) != 0 ||
		    store_group_put(c, "before", NULL, NULL, e) != 0 ||
		    store_group_commit(c, e) != 0)
			_exit(3);
		/* Acked: now die without closing anything. */
		abort();
	}
	assert_aborted(pid);

	s = open_ok(dir);
	assert_value(s, "acked", "yes");
	assert_value(s, "before", NULL);
	ck_assert_int_eq(state(s).revision, 3);
	store_close(s);
}
END_TEST

/* ---- store_ckpt ---- */

/* Small marks, so that a test crosses them in a few hundred commits. */
#define CK_FRAMES 16
#define CK_CAP	  64
/* Frames one commit of put_n adds (a row's page, the log's page and
 * their parents when they split): the most the WAL passes the cap by. */
#define CK_SLACK 8
/* One WAL frame: its header and a page (SQLite's default 4096 bytes). */
#define CK_FRAME_BYTES (24 + 4096)

/* One commit, without store_check (thousands of them). */
static void put_n(struct store *s, int i)
{
	char path[32], value[32];

	snprintf(path, sizeof(path), "ck/%d", i % 64);
	snprintf(value, sizeof(value), "v%d", i);
	OK(store_group_begin(s, err));
	OK(store_group_put(s, path, value, NULL, err));
	OK(store_group_commit(s, err));
}

/* Every ck/ row holds the value of the last of n commits that wrote it. */
static void assert_put_n(struct store *s, int n)
{
	char path[32], value[32];

	for (int k = 0; k < 64 && k < n; k++) {
		int last = k + ((n - 1 - k) / 64) * 64;

		snprintf(path, sizeof(path), "ck/%d", k);
		snprintf(value, sizeof(value), "v%d", last);
		assert_value(s, path, value);
	}
}

static struct store_ckpt_stats ck_stats(struct store *s)
{
	struct store_ckpt_stats st;

	store_ckpt_stats(s, &st);
	return st;
}

/* Waits (without a deadline of its own: the test's timeout is the limit)
 * until the checkpointer is idle, having done at least `runs` runs. */
static struct store_ckpt_stats ck_wait_idle(struct store *s, uint64_t runs)
{
	struct store_ckpt_stats st = ck_stats(s);

	while (!st.idle || st.thread_ckpts + st.failures + st.busy < runs) {
		usleep(1000);
		st = ck_stats(s);
	}
	return st;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_size;
}

/* The WAL holds no more than cap frames (2 x cap while the thread
 * runs), a commit's frames and its header. */
static void assert_wal_bounded(struct store *s, int cap)
{
	struct store_ckpt_stats st = ck_stats(s);
	off_t max = (off_t)(cap + CK_SLACK) * CK_FRAME_BYTES + 32;

	ck_assert_msg(st.wal_max <= cap + CK_SLACK,
		      "the WAL reached %lld frames (bound %d)",
		      (long long)st.wal_max, cap);
	ck_assert_msg(file_size(store_wal_path(s)) <= max,
		      "the WAL is %lld bytes, over %lld",
		      (long long)file_size(store_wal_path(s)), (long long)max);
}

START_TEST(test_ckpt_thread)
{
	char dir[512];
	struct store *s;
	struct store_ckpt_stats st;
	struct stat before, after;
	int i = 0;

	mkdir_fresh(dir, sizeof(dir), "store-ckpt-thread");
	s = open_ok(dir);
	FAILS(EKL_EINVAL, store_ckpt_start(s, 0, 10, err));
	FAILS(EKL_EINVAL, store_ckpt_start(s, 10, 5, err));
	/* A cap out of reach: only the thread checkpoints. */
	OK(store_ckpt_start(s, CK_FRAMES, 1 << 30, err));
	FAILS(EKL_EINVAL, store_ckpt_start(s, CK_FRAMES, CK_CAP, err));
	while (ck_stats(s).wal < CK_FRAMES)
		put_n(s, i++);
	/* Asked once at the mark; it copies every frame. */
	st = ck_wait_idle(s, 1);
	ck_assert_uint_ge(st.thread_ckpts, 1);
	ck_assert_int_eq(st.copied, st.wal);
	ck_assert_uint_eq(st.restarts, 0);
	/* So the next commit starts the WAL over, and the loop never
	 * checkpointed. The WAL is the same file, rewritten from its start
	 * (the syncer keeps its descriptor open: sync.c). */
	ck_assert_int_eq(stat(store_wal_path(s), &before), 0);
	put_n(s, i++);
	ck_assert_int_eq(stat(store_wal_path(s), &after), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	ck_assert_int_eq(before.st_size, after.st_size);
	st = ck_stats(s);
	ck_assert_uint_eq(st.restarts, 1);
	ck_assert_int_lt(st.wal, CK_FRAMES);
	ck_assert_uint_eq(st.loop_ckpts, 0);
	ck_assert_uint_eq(st.failures, 0);
	OK(store_check(s, err));
	store_ckpt_stop(s);
	store_ckpt_stop(s); /* twice is fine; SQLite's own again */
	st = ck_stats(s);
	ck_assert_uint_eq(st.thread_ckpts, 0);
	put_n(s, i++);
	store_close(s);

	s = open_ok(dir);
	assert_put_n(s, i);
	store_close(s);
}
END_TEST

/* A thread that never catches up (held): the loop's checkpoint at the
 * cap alone keeps the WAL bounded. */
START_TEST(test_ckpt_cap_fallback)
{
	char dir[512];
	struct store *s;
	struct store_ckpt_stats st;
	int n = 3000;

	mkdir_fresh(dir, sizeof(dir), "store-ckpt-cap");
	s = open_ok(dir);
	OK(store_set_deferred_sync(s, true, err)); /* quicker */
	OK(store_ckpt_start(s, CK_FRAMES, CK_CAP, err));
	store_ckpt_hold(s, true);
	for (int i = 0; i < n; i++)
		put_n(s, i);
	assert_wal_bounded(s, CK_CAP);
	st = ck_stats(s);
	ck_assert_uint_eq(st.thread_ckpts, 0);
	ck_assert_uint_ge(st.loop_ckpts, 1);
	ck_assert_uint_ge(st.restarts, 1);
	ck_assert_uint_eq(st.failures, 0);
	store_ckpt_hold(s, false);
	OK(store_check(s, err));
	store_close(s);

	s = open_ok(dir);
	assert_put_n(s, n);
	ck_assert_int_eq(state(s).revision, n);
	store_close(s);
}
END_TEST

/* Sustained writes with the thread checkpointing alongside (deferred
 * sync, as on a node), then a crash: the WAL stayed bounded and every
 * commit is there after reopening. */
START_TEST(test_ckpt_sustained_crash)
{
	char dir[512];
	struct store *s;
	pid_t pid;
	int n = 4000;

	mkdir_fresh(dir, sizeof(dir), "store-ckpt-sustained");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store_ckpt_stats st;

		s = open_ok(dir);
		OK(store_set_deferred_sync(s, true, err));
		OK(store_ckpt_start(s, CK_FRAMES, CK_CAP, err));
		for (int i = 0; i < n; i++)
			put_n(s, i);
		st = ck_stats(s);
		if (st.thread_ckpts == 0 || st.failures != 0)
			_exit(3);
		assert_wal_bounded(s, 2 * CK_CAP);
		/* A sync of the WAL (what the node's syncer does), then die
		 * without closing anything. */
		{
			int fd = open(store_wal_path(s), O_RDONLY);

			if (fd < 0 || fdatasync(fd) != 0)
				_exit(4);
		}
		abort();
	}
	assert_aborted(pid);

	s = open_ok(dir);
	ck_assert_int_eq(state(s).revision, n);
	assert_put_n(s, n);
	store_close(s);
}
END_TEST

/* The highest descriptor open on path: the checkpointer's connection
 * opened the database after the main one. */
static int last_fd_on(const char *path)
{
	char link[64], target[1024];
	int found = -1;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t k;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (strcmp(target, path) == 0)
			found = fd;
	}
	return found;
}

/* The thread's checkpoints fail (its database descriptor refuses
 * writes): each failure is counted, the loop's checkpoint at the cap
 * still bounds the WAL, and nothing committed is lost. */
START_TEST(test_ckpt_thread_fails)
{
	char dir[512], file[600], real[PATH_MAX];
	struct store *s;
	struct store_ckpt_stats st;
	int i = 0, n = 2000, fd, ro;

	mkdir_fresh(dir, sizeof(dir), "store-ckpt-fail");
	db_file(file, sizeof(file), dir);
	s = open_ok(dir);
	OK(store_set_deferred_sync(s, true, err)); /* quicker */
	OK(store_ckpt_start(s, CK_FRAMES, CK_CAP, err));
	ck_assert_ptr_nonnull(realpath(file, real));
	fd = last_fd_on(real);
	ck_assert_int_ge(fd, 0);
	ro = open(real, O_RDONLY);
	ck_assert_int_ge(ro, 0);
	ck_assert_int_eq(dup2(ro, fd), fd);
	close(ro);

	while (ck_stats(s).wal < CK_FRAMES)
		put_n(s, i++);
	st = ck_wait_idle(s, 1);
	ck_assert_uint_ge(st.failures, 1);
	ck_assert_uint_eq(st.thread_ckpts, 0);
	for (; i < n; i++)
		put_n(s, i);
	/* (The thread's runs that found nothing to copy succeed.) */
	assert_wal_bounded(s, 2 * CK_CAP);
	st = ck_stats(s);
	ck_assert_uint_ge(st.failures, 2);
	ck_assert_uint_ge(st.loop_ckpts, 1);
	OK(store_check(s, err));
	store_close(s);

	s = open_ok(dir);
	ck_assert_int_eq(state(s).revision, n);
	assert_put_n(s, n);
	store_close(s);
}
END_TEST

/* ---- store_vfs ---- */

/* What the unix VFS's pwrite()s to WAL files did, counted through its
 * system-call table (xSetSystemCall): the bytes and offsets SQLite's own
 * VFS sends to the kernel under the store's. */
static struct {
	long writes;	/* pwrite()s to a WAL file */
	long rewrites;	/* ...of a frame header below the end of the WAL */
	size_t longest; /* the longest */
	off_t end;	/* where the WAL's furthest write ended */
	bool fail;	/* fail them (EIO) */
	long fail_at;	/* fail only the write with this number (from 1) */
} wal_io;

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

static bool is_wal(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path));
	return n > 4 && memcmp(path + n - 4, "-wal", 4) == 0;
}

static ssize_t counting_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (is_wal(fd)) {
		if (wal_io.fail || wal_io.writes + 1 == wal_io.fail_at) {
			wal_io.fail_at = 0;
			errno = EIO;
			return -1;
		}
		wal_io.writes++;
		if (n > wal_io.longest)
			wal_io.longest = n;
		if (off == 0)
			wal_io.end = 0; /* the WAL restarts */
		if (n == 24 && off + 24 < wal_io.end)
			wal_io.rewrites++;
		if (off + (off_t)n > wal_io.end)
			wal_io.end = off + (off_t)n;
	}
	return real_pwrite(fd, buf, n, off);
}

/* Count (and fail on demand) the unix VFS's WAL writes, whichever of
 * pwrite or pwrite64 this build of SQLite calls. */
static void count_wal_io(void)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
	const char *names[] = {"pwrite", "pwrite64"};
	size_t i;

	ck_assert_ptr_nonnull(unix_vfs);
	memset(&wal_io, 0, sizeof(wal_io));
	real_pwrite = pwrite;
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(unix_vfs->xSetSystemCall(
				     unix_vfs, names[i],
				     (sqlite3_syscall_ptr)counting_pwrite),
				 SQLITE_OK);
}

/* A deferred-sync store (as the node runs it: SQLite never syncs the WAL
 * at a commit, so only the VFS's own rule writes the frames out). */
static struct store *open_deferred(const char *dir)
{
	struct store *s = open_ok(dir);

	OK(store_set_deferred_sync(s, true, err));
	return s;
}

/* A one-row commit (a change-log page and a config leaf: two frames,
 * four writes under SQLite's own VFS) reaches the WAL in one write. */
START_TEST(test_vfs_one_write_per_commit)
{
	char dir[512];
	struct store *s;
	long before;
	int i;

	mkdir_fresh(dir, sizeof(dir), "store-vfs-one");
	count_wal_io();
	s = open_deferred(dir);
	put1(s, "warm", "up"); /* the WAL's header, written through */
	for (i = 0; i < 20; i++) {
		char path[32];

		snprintf(path, sizeof(path), "p%d", i);
		before = wal_io.writes;
		put1(s, path, "v");
		ck_assert_msg(wal_io.writes - before == 1,
			      "commit %d: %ld WAL writes", i,
			      wal_io.writes - before);
	}
	store_close(s);
	s = open_ok(dir);
	assert_value(s, "p19", "v");
	ck_assert_int_eq(state(s).revision, 21);
	store_close(s);
}
END_TEST

/* The write that carries the commit frame fails: the commit fails, and
 * nothing of it is there afterwards, in this connection or after a
 * reopen; the next commit works. */
START_TEST(test_vfs_failed_write_fails_commit)
{
	char dir[512];
	struct store *s;
	int rv;

	mkdir_fresh(dir, sizeof(dir), "store-vfs-fail");
	count_wal_io();
	s = open_deferred(dir);
	put1(s, "kept", "1");
	OK(store_group_begin(s, err));
	OK(store_group_put(s, "lost", "2", NULL, err));
	wal_io.fail = true;
	rv = store_group_commit(s, err);
	wal_io.fail = false;
	ck_assert_msg(rv != 0, "a commit whose WAL write failed succeeded");
	ck_assert_int_eq(state(s).revision, 1);
	assert_value(s, "lost", NULL);
	put1(s, "after", "3");
	store_close(s);

	s = open_ok(dir);
	assert_value(s, "kept", "1");
	assert_value(s, "lost", NULL);
	assert_value(s, "after", "3");
	ck_assert_int_eq(state(s).revision, 2);
	store_close(s);
}
END_TEST

/* Killed right after a commit returned (deferred sync: the WAL was never
 * synced, but it was written): the commit is in the file. */
START_TEST(test_vfs_crash_after_commit)
{
	char dir[512];
	struct store *s;
	pid_t pid;

	mkdir_fresh(dir, sizeof(dir), "store-vfs-kill");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *c = NULL;
		char e[EKL_ERRLEN];
		int64_t rev;

		if (store_open(dir, &c, e) != 0 ||
		    store_set_deferred_sync(c, true, e) != 0 ||
		    store_group_begin(c, e) != 0 ||
		    store_group_put(c, "one", "1", &rev, e) != 0 ||
		    store_group_commit(c, e) != 0 ||
		    store_group_begin(c, e) != 0 ||
		    store_group_put(c, "two", "2", &rev, e) != 0 ||
		    store_group_commit(c, e) != 0)
			_exit(3);
		abort();
	}
	assert_aborted(pid);

	s = open_ok(dir);
	assert_value(s, "one", "1");
	assert_value(s, "two", "2");
	ck_assert_int_eq(state(s).revision, 2);
	store_close(s);
}
END_TEST

/* PRAGMA integrity_check of file says ok. */
static void assert_integrity(const char *file)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A transaction far larger than one write and than SQLite's page cache
 * (a catch-up batch): SQLite spills pages to the WAL before the commit,
 * overwrites some of them in place and rewrites the frame headers after
 * them at the commit. Every write stays within what the unix VFS writes
 * in one call, and after a crash right after the commit, recovery (which
 * checks every frame's checksum, unlike a live reader) finds it all. */
START_TEST(test_vfs_large_transaction)
{
	enum { N = 4000 };
	char dir[512], file[600], value[1024];
	struct store *s;
	pid_t pid;
	int status;

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	mkdir_fresh(dir, sizeof(dir), "store-vfs-big");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store_change *c = calloc(N, sizeof(*c));
		char(*paths)[16] = calloc(N, sizeof(*paths));
		struct store *w = NULL;
		char e[EKL_ERRLEN];
		int i;

		if (c == NULL || paths == NULL)
			_exit(2);
		count_wal_io();
		/* No checkpoint copies the transaction into the database
		 * before the crash: recovery reads it from the WAL. */
		if (store_open(dir, &w, e) != 0 ||
		    store_set_deferred_sync(w, true, e) != 0 ||
		    store_ckpt_start(w, INT32_MAX, INT32_MAX, e) != 0)
			_exit(3);
		for (i = 0; i < N; i++) {
			snprintf(paths[i], sizeof(paths[i]), "big/%05d",
				 (i * 7919) % N);
			c[i].rev = i + 1;
			c[i].epoch = 1;
			c[i].path = paths[i];
			c[i].value = value;
		}
		if (store_apply(w, c, N, e) != 0) {
			fprintf(stderr, "store_apply: %s\n", e);
			_exit(4);
		}
		if (wal_io.longest > 0x1ffff)
			_exit(5); /* more than the unix VFS writes */
		if (wal_io.rewrites == 0)
			_exit(6); /* the test misses the path */
		abort();
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "child status %d (exit %d)", status,
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	db_file(file, sizeof(file), dir);
	assert_integrity(file);

	s = open_ok(dir);
	ck_assert_int_eq(state(s).revision, N);
	ck_assert_int_eq(state(s).rows, N);
	assert_value(s, "big/00000", value);
	assert_value(s, "big/03999", value);
	store_close(s);
}
END_TEST

/* Rows of `bytes` bytes, enough of them to spill SQLite's page cache to
 * the WAL before the commit. */
static void put_big_rows(struct store *s, const char *prefix, int n,
			 size_t bytes)
{
	char *value = ekl_malloc(bytes + 1);
	int i;

	ck_assert_ptr_nonnull(value);
	memset(value, 'v', bytes);
	value[bytes] = '\0';
	for (i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "%s/%05d", prefix, i);
		OK(store_group_put(s, path, value, NULL, err));
	}
	ekl_free(value);
}

/* A large write group rolled back after SQLite spilled some of it to the
 * WAL, then another connection commits at the same place in the WAL:
 * what was gathered of the spill is never written over the other's
 * commit (SQLite's rollback reads the WAL, which writes it first; what
 * is still gathered when the writer's lock goes is dropped). */
START_TEST(test_vfs_rollback_drops_spilled)
{
	char dir[512], file[600];
	struct store *s;
	sqlite3 *db;
	long before;

	mkdir_fresh(dir, sizeof(dir), "store-vfs-rollback");
	count_wal_io();
	s = open_deferred(dir);
	put1(s, "first", "1");
	OK(store_group_begin(s, err));
	before = wal_io.writes;
	put_big_rows(s, "spill", 3000, 2000);
	ck_assert_msg(wal_io.writes > before,
		      "nothing spilled: the test misses the path");
	store_group_rollback(s);

	/* Another connection (SQLite's own VFS) commits at the same place
	 * in the WAL. */
	db_file(file, sizeof(file), dir);
	ck_assert_int_eq(
	    sqlite3_open_v2(file, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "CREATE TABLE other(x); INSERT INTO "
				      "other VALUES (randomblob(12000000))",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	put1(s, "second", "2");
	store_close(s);
	s = open_ok(dir);
	assert_value(s, "first", "1");
	assert_value(s, "second", "2");
	assert_value(s, "spill/00000", NULL);
	store_close(s);
	assert_integrity(file);
}
END_TEST

/* One WAL write fails in the middle of a large transaction (a transient
 * EIO): the transaction fails whole, the next one works, and after a
 * crash recovery finds exactly what committed. */
START_TEST(test_vfs_transient_failure)
{
	char dir[512];
	struct store *s;
	pid_t pid;

	mkdir_fresh(dir, sizeof(dir), "store-vfs-eio");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *w = NULL;
		char e[EKL_ERRLEN], big[2001];
		int64_t rev;
		int fails = 0, i, j;

		memset(big, 'v', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		count_wal_io();
		if (store_open(dir, &w, e) != 0 ||
		    store_set_deferred_sync(w, true, e) != 0 ||
		    store_ckpt_start(w, INT32_MAX, INT32_MAX, e) != 0)
			_exit(3);
		for (i = 0; i < 8; i++) {
			char path[32];
			int r;

			snprintf(path, sizeof(path), "round/%d", i);
			/* Fail one write, a different one each round, some
			 * in the middle of the spilled frames. */
			wal_io.fail_at = wal_io.writes + 1 + i * 7;
			r = store_group_begin(w, e);
			for (j = 0; r == 0 && j < 1500; j++) {
				char row[48];

				snprintf(row, sizeof(row), "%s/%05d", path, j);
				r = store_group_put(w, row, big, NULL, e);
			}
			if (r == 0)
				r = store_group_put(w, path, "done", &rev, e);
			if (r == 0)
				r = store_group_commit(w, e);
			if (r != 0) {
				store_group_rollback(w);
				fails++;
			}
			wal_io.fail_at = 0;
			if (store_group_begin(w, e) != 0 ||
			    store_group_put(w, "after", path, &rev, e) != 0 ||
			    store_group_commit(w, e) != 0)
				_exit(4);
		}
		if (fails == 0)
			_exit(5); /* no write failed: the test misses it */
		abort();
	}
	assert_aborted(pid);

	s = open_ok(dir); /* recovery; store_check below */
	assert_value(s, "after", "round/7");
	store_close(s);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("store_open");
	tcase_add_test(tc, test_open_create_reopen);
	tcase_add_test(tc, test_open_missing_dir);
	tcase_add_test(tc, test_open_garbage);
	tcase_add_test(tc, test_open_truncated);
	tcase_add_test(tc, test_open_schema_version);
	tcase_add_test(tc, test_open_schema_1_updated);
	tcase_add_test(tc, test_commit_leaves_meta);
	tcase_add_test(tc, test_open_foreign);
	tcase_add_test(tc, test_open_orphan_wal);
	tcase_add_test(tc, test_open_nomem);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_group");
	tcase_add_test(tc, test_group_put_get_list_delete);
	tcase_add_test(tc, test_group_list_stops);
	tcase_add_test(tc, test_group_invalid);
	tcase_add_test(tc, test_row_rules);
	tcase_add_test(tc, test_not_utf8_refused);
	tcase_add_test(tc, test_group_rollback);
	tcase_add_test(tc, test_group_put_fails_midway);
	tcase_add_test(tc, test_group_durable);
	tcase_add_test(tc, test_group_misuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("digest");
	tcase_add_test(tc, test_digest_order_independent);
	tcase_add_test(tc, test_digest_hex);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_check");
	tcase_add_test(tc, test_check_detects_tampering);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_log_read");
	tcase_add_test(tc, test_log_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_log_epoch");
	tcase_add_test(tc, test_log_epoch);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_compact");
	tcase_add_test(tc, test_compact);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_apply");
	tcase_add_test(tc, test_apply_consecutive);
	tcase_add_test(tc, test_apply_refused);
	tcase_add_test(tc, test_apply_large_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_set_epoch");
	tcase_add_test(tc, test_set_epoch);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_snap_reader");
	tcase_add_test(tc, test_snap_reader_consistent);
	tcase_add_test(tc, test_snap_reader_during_group);
	tcase_add_test(tc, test_snap_reader_exact_batches);
	tcase_add_test(tc, test_snap_reader_byte_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_snap_finish");
	tcase_add_test(tc, test_snap_finish_swaps);
	tcase_add_test(tc, test_snap_finish_wrong_digest);
	tcase_add_test(tc, test_snap_crash_midway);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_trash_step");
	tcase_add_test(tc, test_snap_trash_deferred);
	tcase_add_test(tc, test_snap_trash_crash);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_ckpt");
	tcase_add_test(tc, test_ckpt_thread);
	tcase_add_test(tc, test_ckpt_cap_fallback);
	tcase_add_test(tc, test_ckpt_sustained_crash);
	tcase_add_test(tc, test_ckpt_thread_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("store_vfs");
	tcase_add_test(tc, test_vfs_one_write_per_commit);
	tcase_add_test(tc, test_vfs_failed_write_fails_commit);
	tcase_add_test(tc, test_vfs_crash_after_commit);
	tcase_add_test(tc, test_vfs_large_transaction);
	tcase_add_test(tc, test_vfs_rollback_drops_spilled);
	tcase_add_test(tc, test_vfs_transient_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("durability");
	tcase_add_test(tc, test_crash_after_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(store_suite());
}
