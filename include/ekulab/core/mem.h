/* mem.h: the project allocator; a test can make the Nth allocation fail. */
#ifndef EKULAB_MEM_H
#define EKULAB_MEM_H

#include <stddef.h>

void *ekl_malloc(size_t n);
void *ekl_calloc(size_t nmemb, size_t size);
void *ekl_realloc(void *p, size_t n);
char *ekl_strdup(const char *s);
/* Accepts NULL. */
void ekl_free(void *p);

/* Test hook: the allocation after `n` more successful ones fails (returns
 * NULL). n < 0 disables failure injection (the default). */
void ekl_mem_fail_after(long n);

#endif
