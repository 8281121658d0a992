/* runtime/qmp.h: a small client for QEMU's machine protocol (QMP) over a
 * unix socket: greeting, capabilities negotiation, synchronous commands.
 * Asynchronous events are read and skipped. */
#ifndef HAKO_RUNTIME_QMP_H
#define HAKO_RUNTIME_QMP_H

#include <json-c/json.h>

#include "lib/err.h"

struct qmp;

/* Connect to the QMP socket at path, retrying while it does not exist yet or
 * refuses, until timeout_ms; then read the greeting and enter command mode. */
int qmp_connect(struct qmp **out, const char *path, int timeout_ms, struct err *e);
/* Same on an already connected stream (owned from now, closed on failure). */
int qmp_open_fd(struct qmp **out, int fd, int timeout_ms, struct err *e);
/* Run cmd with args (may be NULL; not consumed) and wait at most timeout_ms
 * for its answer. On success *ret (if ret) holds the "return" value (put it
 * with json_object_put). A QMP error is -1 with e "qmp CMD: CLASS: DESC". */
int qmp_execute(struct qmp *q, const char *cmd, struct json_object *args, struct json_object **ret,
                int timeout_ms, struct err *e);
void qmp_close(struct qmp *q);

#endif
