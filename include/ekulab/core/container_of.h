/* container_of.h: recover a struct from a pointer to one of its members
 * (libev watchers are embedded in the structs that own them). */
#ifndef EKULAB_CONTAINER_OF_H
#define EKULAB_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

#endif
