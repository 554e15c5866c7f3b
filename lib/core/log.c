/* log.c: leveled logging to stderr. */
#include "ekulab/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static char log_name[64] = "ekulab";
static enum ekl_log_level log_level = EKL_LOG_INFO;

void ekl_log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

void ekl_log_set_level(enum ekl_log_level level)
{
	log_level = level;
}

void ekl_log(enum ekl_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[1024];
	char stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", stamp,
		     (long)(tv.tv_usec / 1000), log_name, names[level]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several processes do not mix. */
	fprintf(stderr, "%s\n", line);
}
