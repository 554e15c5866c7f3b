/* file.h: opening a file a user named without ever blocking on it. */
#ifndef EKULAB_FILE_H
#define EKULAB_FILE_H

#include <sys/stat.h>

/* Open path read-only and close-on-exec. The open itself is non-blocking,
 * so a FIFO (which would wait for a writer) or a device is opened at
 * once, found not to be a regular file and closed.
 *
 * Returns 0 with *fd open (blocking mode) on a regular file and *st its
 * status; 0 with *fd == -1 when path is not a regular file (*st says what
 * it is: a directory, a FIFO...); or the errno value of a failed open or
 * fstat (ENOENT, EACCES, ...), *fd == -1. The caller closes *fd. */
int file_open_read(const char *path, int *fd, struct stat *st);

#endif
