/* mem.c: the project allocator with failure injection for tests. */
#include "ekulab/core/mem.h"

#include <stdlib.h>
#include <string.h>

static long fail_after = -1;

static int should_fail(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void ekl_mem_fail_after(long n)
{
	fail_after = n;
}

void *ekl_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *ekl_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
}

void *ekl_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

char *ekl_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ekl_malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

void ekl_free(void *p)
{
	free(p);
}
