/* shim/task.h: the containerd.task.v2.Task service of one shim: the pod's
 * VM (booted by the first Create), its containers and exec'd processes. */
#ifndef HAKO_SHIM_TASK_H
#define HAKO_SHIM_TASK_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/loop.h"
#include "lib/ttrpc.h"
#include "shim/events.h"

#define SHIM_TASK_SERVICE "containerd.task.v2.Task"

struct shim_task_config {
	const char *ns;
	const char *run_dir; /* the pod's run directory (see shim_run_dir) */
	struct loop *loop;   /* the server's; stopped after Shutdown */
	struct shim_events *events;
};

struct shim_task;

/* The service; requests that reach the guest run on a worker thread of
 * its own, which also owns the VM (the VM's processes die with it). */
int shim_task_new(struct shim_task **out, const struct shim_task_config *cfg, struct err *e);
/* The method table to give ttrpc_server_new with the task as opaque. */
const struct ttrpc_method *shim_task_methods(size_t *n);
/* Stop the VM (if still running) and free everything. */
void shim_task_free(struct shim_task *t);

#endif
