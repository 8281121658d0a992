/* agent/process.h: one process the agent started (a container's init or an
 * exec'd process): its stdio relayed through buffers that lose nothing until
 * EOF, its exit status kept until collected, and one-shot change watchers
 * that let RPCs answer later instead of blocking. */
#ifndef HAKO_AGENT_PROCESS_H
#define HAKO_AGENT_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent/spawn.h"
#include "lib/err.h"
#include "lib/loop.h"

#define PROCESS_STREAM_MAX (1u << 20) /* buffered per stream before reading pauses */

struct process;

enum process_stream { PROCESS_STDOUT, PROCESS_STDERR };

typedef void (*process_watch_fn)(void *opaque);

/* Take over a created child (its fds move into the process). */
int process_new(struct loop *loop, const char *exec_id, struct spawn_child *child, bool terminal,
                struct process **out, struct err *e);
/* Wake watchers (they find the process gone if it was unlinked), close
 * everything. Does not kill. */
void process_free(struct process *p);

int process_start(struct process *p, struct err *e);
const char *process_exec_id(const struct process *p);
pid_t process_pid(const struct process *p);

/* Copy up to max buffered bytes: > 0 bytes, 0 at EOF, -1 with errno EAGAIN
 * when nothing is there yet (watch and retry). */
ssize_t process_read(struct process *p, enum process_stream s, void *buf, size_t max);
/* Non-blocking: *written may be less than len (the pipe is full). */
int process_write(struct process *p, const void *buf, size_t len, size_t *written, struct err *e);
int process_close_stdin(struct process *p, struct err *e);
int process_resize(struct process *p, unsigned rows, unsigned cols, struct err *e);

/* Exit status as a shell reports it: code, or 128 + signal. */
void process_set_exited(struct process *p, int wait_status);
bool process_exited(const struct process *p, int *status);
/* Exited, collected, and both streams read up to their EOF answer: safe to
 * forget. Idle: the same except that nobody asked for the EOF yet. */
void process_set_waited(struct process *p);
bool process_done(const struct process *p);
bool process_idle(const struct process *p);

/* Call fn(opaque) once, at the next change (output, EOF, exit, free). */
int process_watch(struct process *p, process_watch_fn fn, void *opaque, struct err *e);

#endif
