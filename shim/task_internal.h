/* shim/task_internal.h: what task.c and task_ops.c share: the task
 * service's state (containers, processes, the worker's job queue) and the
 * helpers both use. Not for other modules: shim/task.h is the interface. */
#ifndef HAKO_SHIM_TASK_INTERNAL_H
#define HAKO_SHIM_TASK_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/err.h"
#include "lib/ttrpc.h"
#include "proto/any.pb-c.h"
#include "proto/containerd/task.pb-c.h"
#include "proto/containerd/timestamp.pb-c.h"
#include "proto/oci.pb-c.h"
#include "runtime/config.h"
#include "runtime/sandbox.h"
#include "shim/events.h"
#include "shim/io.h"
#include "shim/oom.h"
#include "shim/task.h"

#define STATUS(x)        CONTAINERD__V1__TYPES__STATUS__##x
#define DRAIN_TIMEOUT_MS 5000
#define REMOVE_TIMEOUT_S 10
#define EXIT_UNKNOWN     255

struct wait {
	struct wait *next;
	struct ttrpc_call *call;
};

struct ctr;

struct proc {
	struct proc *next; /* in ctr->execs */
	struct ctr *c;
	char *exec_id; /* NULL: the container's init */
	char *stdin_, *stdout_, *stderr_;
	bool terminal;
	Grpc__Process *spec; /* exec: what to run */
	Containerd__V1__Types__Status status;
	uint32_t exit_status;
	struct timespec exited_at;
	struct shim_io *io;
	pthread_t waiter;
	bool waiter_running;
	struct wait *waits;
};

struct ctr {
	struct ctr *next;
	struct shim_task *t;
	char *id, *bundle, *rootfs;
	bool rootfs_mounted;
	struct proc init;
	struct proc *execs;
};

struct job {
	struct job *next;
	void (*fn)(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
	struct ttrpc_call *call;
	uint8_t *payload;
	size_t len;
};

struct shim_task {
	char *ns, *run_dir;
	struct loop *loop;
	struct shim_events *events;
	pthread_mutex_t lock; /* ctrs, process states, waits, jobs */
	pthread_cond_t cond;
	struct ctr *ctrs;
	/* worker thread only */
	struct sandbox *sb;
	struct shim_oom *oom; /* its OOM watcher */
	struct config *cfg;
	char *kernel, *initrd;
	pid_t vm_pid;
	struct job *jobs, **jobs_tail;
	bool stopping;
	pthread_t worker;
	bool worker_running;
};

/* Lookups, under t->lock. exec_id "" or NULL is the container's init. */
struct ctr *task_find_ctr(struct shim_task *t, const char *id);
struct proc *task_find_proc(struct shim_task *t, const char *id, const char *exec_id);
/* The exec id, or the container id for the init process. */
const char *task_pid_name(const struct proc *p);

/* Answers: NotFound naming the process; a runtime error as a ttrpc status
 * (ENOENT: NotFound, EEXIST: AlreadyExists, EINVAL: InvalidArgument,
 * ENOTSUP: Unimplemented, EBUSY: FailedPrecondition, else Unknown);
 * google.protobuf.Empty. */
void task_not_found(struct ttrpc_call *call, const char *id, const char *exec_id);
void task_fail(struct ttrpc_call *call, const struct err *e);
/* Decodes a request as d, answering INVALID_ARGUMENT (NULL) when it does not. */
void *task_decode(struct ttrpc_call *call, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                  size_t n);
void task_reply_empty(struct ttrpc_call *call);

void task_set_ts(Google__Protobuf__Timestamp *ts, const struct timespec *t);
/* strdup, with "" and NULL as NULL */
char *task_dup_or_null(const char *s);
/* Everything a proc owns (its io, spec, strings), not the proc itself. */
void task_proc_free_fields(struct proc *p);
/* An Any holding OCI JSON (a process spec, resources) as the message d. */
int task_any_json(const Google__Protobuf__Any *any, const ProtobufCMessageDescriptor *d,
                  ProtobufCMessage **out, struct err *e);

/* Worker-thread handlers in task_ops.c; each answers its call. */
void task_do_exec(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_resize_pty(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_close_io(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_pause(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_resume(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_update(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_stats(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_pids(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);
void task_do_checkpoint(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n);

#endif
