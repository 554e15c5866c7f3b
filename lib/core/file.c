/* file.c: opening a file a user named without ever blocking on it. */
#include "ekulab/core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int file_open_read(const char *path, int *fd, struct stat *st)
{
	int en;
	int fl;
	int f;

	*fd = -1;
	f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		return errno;
	if (fstat(f, st) != 0) {
		en = errno;
		close(f);
		return en;
	}
	if (!S_ISREG(st->st_mode)) {
		close(f);
		return 0;
	}
	fl = fcntl(f, F_GETFL);
	if (fl >= 0)
		(void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
	*fd = f;
	return 0;
}
