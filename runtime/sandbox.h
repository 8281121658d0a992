/* runtime/sandbox.h: one VM and the containers in it: the run directory,
 * the directory shared with the guest (container root filesystems are bind
 * mounted into it), the hypervisor driver and the agent connection. */
#ifndef HAKO_RUNTIME_SANDBOX_H
#define HAKO_RUNTIME_SANDBOX_H

#include <stdbool.h>

#include "lib/err.h"
#include "proto/oci.pb-c.h"
#include "runtime/agent.h"
#include "runtime/hypervisor.h"

/* Where the shared directory appears in the guest (tag "hako"): a container
 * cid has its root at SANDBOX_GUEST_SHARED/<cid>/rootfs. hako-agent mounts
 * it from the CreateSandbox storage (driver "virtio-fs", source "hako"). */
#define SANDBOX_GUEST_SHARED "/run/hako/shared"
#define SANDBOX_SHARED_TAG   "hako"

struct sandbox_config {
	const char *id;
	/* the sandbox's own directory (sockets, logs, shared/): created by
	 * sandbox_start (its parent must exist, it must not), removed by
	 * sandbox_stop. Keep it short: unix socket paths live in it. */
	const char *run_dir;
	const struct hv_ops *ops;
	/* driver settings; run_dir and shared_dir are filled in by the sandbox */
	struct hv_config hv;
	const char *hostname;
	int agent_timeout_ms; /* boot until the agent answers; 0: 60 s */
};

struct sandbox;

/* Create the run and shared directories, boot the VM, wait for the agent
 * and send CreateSandbox. On failure nothing is left behind. */
int sandbox_start(struct sandbox **out, const struct sandbox_config *cfg, struct err *e);

/* Share rootfs (host path) with the guest as the container's root, point
 * spec's root there and send CreateContainer. spec is changed (root path)
 * but not consumed. */
int sandbox_create_container(struct sandbox *s, const char *cid, const char *rootfs, bool readonly,
                             Grpc__Spec *spec, struct err *e);
int sandbox_start_container(struct sandbox *s, const char *cid, struct err *e);
/* RemoveContainer (waiting timeout_s for its processes) and unshare its root. */
int sandbox_remove_container(struct sandbox *s, const char *cid, unsigned int timeout_s,
                             struct err *e);

struct agent *sandbox_agent(struct sandbox *s);
struct hv *sandbox_hv(struct sandbox *s);
const char *sandbox_run_dir(const struct sandbox *s);

int sandbox_pause(struct sandbox *s, struct err *e);
int sandbox_resume(struct sandbox *s, struct err *e);

/* DestroySandbox (best effort), stop the VM, unmount what the sandbox
 * mounted and remove its run directory. Idempotent; also called by
 * sandbox_free. Returns -1 if something could not be cleaned up. */
int sandbox_stop(struct sandbox *s, struct err *e);
void sandbox_free(struct sandbox *s);

#endif
