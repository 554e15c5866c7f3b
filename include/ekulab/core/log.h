/* log.h: leveled logging to stderr, prefixed with time and a component name. */
#ifndef EKULAB_LOG_H
#define EKULAB_LOG_H

enum ekl_log_level { EKL_LOG_DEBUG, EKL_LOG_INFO, EKL_LOG_WARN, EKL_LOG_ERROR };

/* The name printed on every line (e.g. the node name); copied. */
void ekl_log_set_name(const char *name);
void ekl_log_set_level(enum ekl_log_level level);
void ekl_log(enum ekl_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ekl_debug(...) ekl_log(EKL_LOG_DEBUG, __VA_ARGS__)
#define ekl_info(...)  ekl_log(EKL_LOG_INFO, __VA_ARGS__)
#define ekl_warn(...)  ekl_log(EKL_LOG_WARN, __VA_ARGS__)
#define ekl_error(...) ekl_log(EKL_LOG_ERROR, __VA_ARGS__)

#endif
