/* shim/oom.h: containerd's /tasks/oom: a thread that waits on the agent's
 * GetOOMEvent and publishes containerd.events.TaskOOM for each container
 * whose process the guest's OOM killer took. */
#ifndef HAKO_SHIM_OOM_H
#define HAKO_SHIM_OOM_H

#include "lib/err.h"
#include "runtime/agent.h"
#include "shim/events.h"

struct shim_oom;

/* Start watching a (the thread holds a reference of its own); events go
 * to ev, which must outlive shim_oom_free. */
int shim_oom_start(struct shim_oom **out, struct agent *a, struct shim_events *ev, struct err *e);
/* Wait for the thread and free it. Call it after agent_close: the end of
 * the stream is what ends the thread's wait. */
void shim_oom_free(struct shim_oom *o);

#endif
