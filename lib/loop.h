/* lib/loop.h: an epoll event loop. One thread runs it; handlers are called
 * on that thread. loop_stop() and loop_call() may be used from any thread. */
#ifndef HAKO_LIB_LOOP_H
#define HAKO_LIB_LOOP_H

#include <stdint.h>

#include "lib/err.h"

struct loop;

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as returned by epoll. */
typedef void (*loop_fn)(void *data, uint32_t events);

int loop_new(struct loop **out, struct err *e);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT...). One registration per fd. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *data, struct err *e);
int loop_mod(struct loop *l, int fd, uint32_t events, struct err *e);
/* Stop watching fd; safe from inside a handler, also for another fd. */
void loop_del(struct loop *l, int fd);

/* Dispatch until loop_stop(); returns 0, or -1 if epoll fails. */
int loop_run(struct loop *l, struct err *e);
/* Wait at most timeout_ms (-1: forever) and dispatch one batch; returns the
 * number of handlers called. */
int loop_run_once(struct loop *l, int timeout_ms, struct err *e);
/* Make loop_run return after the current batch; thread-safe. */
void loop_stop(struct loop *l);
/* Run fn(data, 0) on the loop thread soon; thread-safe. */
int loop_call(struct loop *l, loop_fn fn, void *data, struct err *e);

#endif
