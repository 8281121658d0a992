/* runtime/state.h: what hako remembers about each container between CLI
 * calls: <root>/<id>/state.json, written atomically, guarded by a flock on
 * <root>/<id>/lock so concurrent calls do not interleave. */
#ifndef HAKO_RUNTIME_STATE_H
#define HAKO_RUNTIME_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

#define STATE_DEFAULT_ROOT "/run/hako"
#define STATE_ID_MAX       128

enum state_status { STATE_CREATED, STATE_RUNNING, STATE_PAUSED, STATE_STOPPED };

struct state_annotation {
	char *key;
	char *value;
};

struct state {
	char *id;
	pid_t owner_pid;                /* process holding the sandbox (VM) alive */
	unsigned long long owner_start; /* its start time (/proc/PID/stat), against pid reuse */
	pid_t monitor_pid;              /* hypervisor process (qemu), 0 if in-process */
	pid_t pid;                      /* container's init, as the runtime reports it */
	enum state_status status;
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339, UTC */
	char *hypervisor;
	char *sandbox_id;
	struct state_annotation *annotations;
	size_t nr_annotations;
};

/* runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..". */
int state_check_id(const char *id, struct err *e);
/* <root>/<id>, the per-container directory (sockets and logs live there too). */
int state_dir(const char *root, const char *id, char *buf, size_t size, struct err *e);

/* Make <root>/<id>/ (fails with EEXIST "container ID already exists"), take
 * its lock (returned in *lock_fd) and write s. */
int state_create(const char *root, const struct state *s, int *lock_fd, struct err *e);
/* Exclusive lock on an existing container; ENOENT when it does not exist
 * (also when it was deleted while we waited). The lock lasts while any copy
 * of the fd is open: a forked child that does not exec must close it. */
int state_lock(const char *root, const char *id, int *lock_fd, struct err *e);
void state_unlock(int lock_fd);
/* Write state.json atomically (caller holds the lock). */
int state_save(const char *root, const struct state *s, struct err *e);
/* Read state.json. A container whose owner process is gone reads as
 * STATE_STOPPED. Unknown id: ENOENT, "container ID does not exist". */
int state_load(const char *root, const char *id, struct state **out, struct err *e);
/* Ids of all containers under root, sorted; NULL-terminated. */
int state_list(const char *root, char ***ids, struct err *e);
void state_list_free(char **ids);
/* Remove <root>/<id>/ (caller holds the lock or knows no one else does). */
int state_remove(const char *root, const char *id, struct err *e);

int state_set_annotation(struct state *s, const char *key, const char *value, struct err *e);
const char *state_annotation(const struct state *s, const char *key);
void state_free(struct state *s);

const char *state_status_name(enum state_status status);
int state_status_parse(const char *name, enum state_status *out);
/* Now as RFC 3339 with nanoseconds, UTC ("2026-11-29T01:02:03.123456789Z"). */
void state_now_rfc3339(char *buf, size_t size);
/* Start time of pid in clock ticks since boot, 0 when it does not exist. */
unsigned long long state_proc_start(pid_t pid);

#endif
