/* shim/shim.h: the containerd runtime v2 start protocol of
 * containerd-shim-hako-v2 (containerd 1.6): its Go-style flags, the socket
 * address containerd expects, `start` (daemonize or reuse the pod's shim),
 * `delete` (clean up after a dead shim) and the server mode. */
#ifndef HAKO_SHIM_SHIM_H
#define HAKO_SHIM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* containerd 1.6 keeps shim sockets here, whatever its --state is. */
#define SHIM_SOCKET_DIR "/run/containerd/s"
/* Per-pod run directories (VM sockets, the shared directory). */
#define SHIM_RUN_ROOT    "/run/hako/shim"
#define SHIM_ADDRESS_MAX 128

struct shim_args {
	const char *namespace_;     /* -namespace */
	const char *address;        /* -address: containerd's gRPC socket */
	const char *publish_binary; /* -publish-binary */
	const char *id;             /* -id */
	const char *bundle;         /* -bundle (delete); NULL: the cwd */
	const char *socket;         /* -socket: server mode without an inherited fd 3 */
	bool debug;                 /* -debug */
	const char *action;         /* "start", "delete", or NULL for the server */
};

/* Parse argv as Go's flag package does for containerd's shims: "-f v",
 * "-f=v", "--f v", bools as "-f" or "-f=true"; flags stop at the first
 * non-flag, which is the action. -namespace and -id are required; the
 * strings point into argv. */
int shim_args_parse(int argc, char *const *argv, struct shim_args *a, struct err *e);

/* containerd 1.6's shim address for (containerd address, namespace, id):
 * "unix:///run/containerd/s/" + hex(sha256(filepath.Join(address, ns, id))). */
int shim_socket_address(const char *containerd_address, const char *ns, const char *id, char *buf,
                        size_t size, struct err *e);

/* The id the shim of bundle_dir's container is keyed by: the pod sandbox's
 * id for a CRI container (io.kubernetes.cri.container-type=container with
 * io.kubernetes.cri.sandbox-id), else the container's own id. *out is
 * malloc'd. A bundle without config.json keys by id. */
int shim_grouping_id(const char *bundle_dir, const char *id, char **out, struct err *e);

/* The run directory of the pod keyed (containerd address, ns, group):
 * SHIM_RUN_ROOT/<16 hex digits of the sha256 the socket address hashes>,
 * short because VM sockets live in it, and distinct per containerd. */
int shim_run_dir(const char *containerd_address, const char *ns, const char *group, char *buf,
                 size_t size, struct err *e);

/* `start`: reuse the running shim of the container's pod, or bind the
 * socket and launch a server (this binary, same flags, no action, socket
 * on fd 3, own session, cwd the bundle). Writes the address to
 * <bundle>/address and to addr. */
int shim_start(const struct shim_args *a, char *addr, size_t size, struct err *e);

/* `delete`: clean up what a dead shim left of container a->id (the
 * bundle's rootfs mount; its pod's VM and run directory when the pod's
 * shim is gone) and encode the DeleteResponse containerd expects on
 * stdout (exit status 128+SIGKILL, now). *out is malloc'd. */
int shim_delete(const struct shim_args *a, uint8_t **out, size_t *len, struct err *e);

/* Server mode: serve containerd.task.v2.Task on the socket (fd 3 or
 * -socket) until Shutdown. */
int shim_serve(const struct shim_args *a, struct err *e);

#endif
