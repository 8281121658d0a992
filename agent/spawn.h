/* agent/spawn.h: start a container's init (new namespaces, rootfs) or an
 * extra process inside an existing container (setns), in two steps: create
 * returns once the child is set up and waiting; start lets it execve.
 *
 * Child protocol over a SOCK_SEQPACKET pair: parent -> "go" (after it wrote
 * id maps and joined the cgroup); child -> "ready" (with the pty master fd
 * when terminal) or "error <msg>"; parent -> "start"; child execs, and the
 * close-on-exec socket reads EOF (success) or "error <msg>". */
#ifndef HAKO_AGENT_SPAWN_H
#define HAKO_AGENT_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent/cgroup.h"
#include "agent/oci.h"
#include "lib/err.h"

struct spawn_req {
	const struct oci_spec *spec;    /* the container's spec */
	const struct oci_process *proc; /* what to run */
	pid_t init_pid;                 /* 0: create the container; else exec into it */
	struct cgroup *cg;              /* NULL: no cgroup */
};

struct spawn_child {
	pid_t pid;
	int sync_fd;
	/* Agent ends, -1 when unused. With a terminal, pty is both stdin and
	 * stdout and the others are -1. */
	int stdin_fd, stdout_fd, stderr_fd, pty_fd;
};

/* The agent must call this once before any spawn (it remembers its own pid
 * namespace to come back to after entering a container's). */
int spawn_init(struct err *e);
int spawn_create(const struct spawn_req *r, struct spawn_child *out, struct err *e);
/* Let the child execve; returns once it has (or failed to). */
int spawn_start(struct spawn_child *c, struct err *e);
/* Close the agent's ends (the child, if still waiting, exits). */
void spawn_abort(struct spawn_child *c);

#endif
