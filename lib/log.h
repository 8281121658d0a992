/* lib/log.h: leveled logging to stderr or a file, as text or JSON lines
 * (runc's --log-format). Logging is for diagnostics; user-facing errors are
 * printed by main from a struct err. */
#ifndef HAKO_LIB_LOG_H
#define HAKO_LIB_LOG_H

#include "lib/err.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* path NULL: stderr. json: one JSON object per line. */
int log_open(const char *path, int json, struct err *e);
void log_set_level(enum log_level level);
void log_set_name(const char *name);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_close(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
