/* agent/container.h: the container engine: the registry of containers and
 * their processes, lifecycle (create/start/exec/signal/pause/resume/update/
 * remove), child reaping through a signalfd on the loop, storages, and the
 * queue of OOM events. Errors carry errno-style codes the RPC layer maps to
 * gRPC codes: ENOENT (not found), EEXIST, EINVAL, ENOTSUP, EBUSY. */
#ifndef HAKO_AGENT_CONTAINER_H
#define HAKO_AGENT_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/cgroup.h"
#include "agent/mount.h"
#include "agent/oci.h"
#include "agent/process.h"
#include "lib/err.h"
#include "lib/loop.h"

enum container_status {
	CONTAINER_CREATED,
	CONTAINER_RUNNING,
	CONTAINER_PAUSED,
	CONTAINER_STOPPED,
};

/* Block SIGCHLD, watch it on loop; call once. */
int container_engine_init(struct loop *loop, struct err *e);
/* Kill and remove every container (agent shutdown, DestroySandbox). */
void container_engine_cleanup(void);

/* The spec moves into the container (also on failure). exec_id names the
 * init process (Kata: the container id, or the request's exec_id). */
int container_create(const char *id, const char *exec_id, struct oci_spec *spec,
                     const struct mount_storage *storages, size_t nr_storages, struct err *e);
int container_start(const char *id, struct err *e);
int container_remove(const char *id, struct err *e);
/* proc moves into the engine (also on failure). */
int container_exec(const char *id, const char *exec_id, struct oci_process *proc, struct err *e);
/* exec_id NULL or "": the init process. */
int container_signal(const char *id, const char *exec_id, int sig, struct err *e);
int container_pause(const char *id, struct err *e);
int container_resume(const char *id, struct err *e);
int container_update(const char *id, const struct oci_resources *r, struct err *e);
int container_stats(const char *id, struct cgroup_stats *st, struct err *e);
int container_status(const char *id, enum container_status *st, struct err *e);
/* The path of one of the container's cgroup files (tests, diagnostics). */
int container_cgroup_file(const char *id, const char *ctrl, const char *file, char *out,
                          size_t size, struct err *e);

/* Look a process up (exec_id NULL or "": init); ENOENT naming what is missing. */
struct process *container_process(const char *id, const char *exec_id, struct err *e);
/* Forget an exec'd process once it is done (collected and drained). */
void container_process_release(const char *id, const char *exec_id);

/* Storages not tied to a container (CreateSandbox): mounted until
 * container_engine_cleanup. */
int container_sandbox_storage(const struct mount_storage *st, struct err *e);

/* OOM events: pop the oldest container id (malloc'd), or -1/EAGAIN. */
int container_oom_pop(char **id);
int container_oom_watch(process_watch_fn fn, void *opaque, struct err *e);

#endif
