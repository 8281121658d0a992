/* lib/err.h: errors are values. A fallible function takes `struct err *e`
 * last, fills it and returns -1; callers add context and return; only main
 * prints. */
#ifndef HAKO_LIB_ERR_H
#define HAKO_LIB_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 1024

struct err {
	int errnum;            /* errno-style code, 0 when none applies */
	char msg[ERR_MSG_MAX]; /* "context: context: cause" */
};

/* Set the message; returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_set with errno, appending ": strerror(errno)". */
int err_sys(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "context: " to the message already set; returns -1. */
int err_ctx(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the error. */
void err_clear(struct err *e);

#endif
