/* test_resolve.c: cli/proxy/resolve.c, a route's target name looked up off
 * the proxy's loop. */
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "ekulab/core/err.h"
#include "proxy/resolve.h"
#include "testutil.h"

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A name the host knows: found by the thread, handed out with its port,
 * and kept fresh (still there after RESOLVE_FRESH_MS). */
START_TEST(test_name_found)
{
	char err[EKL_ERRLEN] = "";
	struct resolve *r = NULL;
	struct addr a;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
	int k, rc = -1;

	ck_assert_int_eq(resolve_start("localhost", "7443", &r, err), 0);
	ck_assert_ptr_nonnull(r);
	for (k = 0; k < 100 && rc != 0; k++) {
		rc = resolve_get(r, &a, err);
		if (rc != 0)
			nap_ms(50);
	}
	ck_assert_msg(rc == 0, "localhost: %s", err);
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 7443);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	nap_ms(RESOLVE_FRESH_MS + 300);
	memset(&a, 0, sizeof(a));
	ck_assert_msg(resolve_get(r, &a, err) == 0, "refreshed: %s", err);
	ck_assert_uint_eq(ntohs(sin->sin_port), 7443);
	resolve_free(r);
}
END_TEST

/* Before any answer, and for a name nobody knows: an error that names
 * the name, never an address, and never a wait on the caller's side. */
START_TEST(test_name_unknown)
{
	char err[EKL_ERRLEN] = "";
	struct resolve *r = NULL;
	struct addr a;
	int k, rc = 0;

	ck_assert_int_eq(resolve_start("no-such-node.invalid", "7443", &r, err),
			 0);
	for (k = 0; k < 40; k++) {
		rc = resolve_get(r, &a, err);
		ck_assert_int_eq(rc, EKL_EADDR);
		ck_assert_msg(strstr(err, "no-such-node.invalid") != NULL, "%s",
			      err);
		nap_ms(50);
	}
	/* Freed while the thread may still be waiting for its lookup: the
	 * thread lets go of it when it is done (ASan sees no leak or use
	 * after free). */
	resolve_free(r);
	resolve_free(NULL);
}
END_TEST

static Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("lookup");

	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, test_name_found);
	tcase_add_test(tc, test_name_unknown);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(resolve_suite());
}
