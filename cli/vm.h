/* cli/vm.h: the process that owns one container's VM (the "monitor"): it
 * boots the sandbox, creates the container, relays the container's stdio
 * to its own fds 0-2, serves a control socket (<root>/<id>/ctl.sock) for
 * start/kill/pause/resume/delete, and returns the container's exit status.
 * `hako run` runs it in the foreground, `hako create` forks it. */
#ifndef HAKO_CLI_VM_H
#define HAKO_CLI_VM_H

#include <stdbool.h>

#include "cli/cli.h"
#include "proto/oci.pb-c.h"
#include "runtime/state.h"

struct vm_opts {
	const char *id;
	const char *bundle; /* "" when none */
	const char *rootfs;
	/* when set: a directory the monitor moves into the state directory as
	 * <root>/<id>/image once the state exists (rootfs is then taken as
	 * relative to it), so that it goes with the state; `run --image` */
	const char *image_dir;
	bool readonly;
	Grpc__Spec *spec;               /* not consumed */
	unsigned int memory_mib, vcpus; /* 0: the configuration's */
	bool tty, stdin_open;
	/* foreground (`run`): start at once, pass signals to the container,
	 * put a terminal in raw mode; remove the state at the end if rm */
	bool foreground, rm;
	/* detached (`create`): "ok\n" or the error is written here once the
	 * container is created, then it is closed; -1 if none */
	int ready_fd;
	const char *pid_file;
};

/* Returns the container's exit status, or -1 with e (e empty when the
 * error already went to ready_fd). */
int vm_monitor(const struct cli_ctx *ctx, const struct vm_opts *o, struct err *e);

/* Read a child's one-line ready report ("ok" or an error) from fd until
 * EOF, close fd, drop the newline; returns its length. */
size_t vm_read_ready(int fd, char *buf, size_t size);

/* Fork a detached monitor for o (o->foreground false) and wait until it
 * has created the container; its stdio is this process's, or a pty whose
 * master goes to the unix socket console (runc's protocol) when not NULL.
 * Returns the monitor's pid, or -1 with e (the monitor has exited then). */
int vm_spawn(struct cli_ctx *ctx, struct vm_opts *o, const char *console, struct err *e);

/* Send one command ("start", "kill 15", "kill-all 9", "pause", "resume",
 * "delete") to id's monitor and wait for its answer. */
int vm_control(const struct cli_ctx *ctx, const char *id, const char *cmd, struct err *e);

/* The same for commands that answer with data: "stats" (the cgroup
 * stats as JSON), "update JSON" (linux.resources); *data is malloc'd. */
int vm_request(const struct cli_ctx *ctx, const char *id, const char *cmd, char **data,
               struct err *e);
/* Connect to id's control socket. */
int vm_connect(const struct cli_ctx *ctx, const char *id, int *fd, struct err *e);
/* Read one reply line (without its newline) within timeout_ms (-1: no
 * limit); returns its length, 0 when none came. */
int vm_read_reply(int fd, int timeout_ms, char *reply, size_t size);
/* An exec is "exec EXEC_ID PROCESS_JSON" sent with SCM_RIGHTS fds 0-2; the
 * answer is "exit N" once the process is gone, or "error MSG". Its signals
 * go as "kill-exec EXEC_ID SIG". */

/* Wait up to timeout_s for the monitor of s to exit; 0 once it has. */
int vm_wait_gone(const struct state *s, int timeout_s, struct err *e);
/* After a monitor died without cleaning up: detach what it left mounted
 * under <root>/<id>/vm so that the state directory can go. */
void vm_cleanup_leftovers(const struct cli_ctx *ctx, const char *id);
/* A signal by number or name ("9", "KILL", "SIGKILL"); -1 with e if unknown. */
int vm_parse_signal(const char *s, struct err *e);

#endif
