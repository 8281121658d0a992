/* agent/mount.h: the guest's own filesystems (PID 1), storages the runtime
 * hands over (virtio-fs shares, block devices, binds in host mode), and a
 * container's root filesystem set up inside its new mount namespace. */
#ifndef HAKO_AGENT_MOUNT_H
#define HAKO_AGENT_MOUNT_H

#include <stddef.h>

#include "agent/oci.h"
#include "lib/err.h"

/* PID 1: proc, sys, dev, dev/pts, dev/shm, cgroup2, tmp, run. */
int mount_guest_basics(struct err *e);

/* A storage of Kata's agent.proto: driver "virtio-fs"/"virtiofs" (source is
 * the tag), "blk"/"virtio-blk"/"mmioblk" (source a /dev path), "overlayfs",
 * "ephemeral" (tmpfs), "local" (an empty directory), "bind" (host mode: a
 * bind mount of a host path). */
struct mount_storage {
	const char *driver;
	const char *source;
	const char *fstype;
	char *const *options;
	size_t nr_options;
	const char *mount_point;
};
int mount_storage(const struct mount_storage *st, struct err *e);
/* Undo mount_storage (lazy unmount; a "local" directory is left). */
int mount_storage_release(const char *driver, const char *mount_point, struct err *e);

/* In the container's new mount namespace: mounts, devices, pivot_root (or
 * MS_MOVE + chroot from an initramfs, which cannot be pivoted). Returns with
 * / as the container root. */
int mount_rootfs(const struct oci_spec *s, struct err *e);
/* Then, after sysctls were written through /proc/sys: readonly root,
 * masked and readonly paths. */
int mount_rootfs_finish(const struct oci_spec *s, struct err *e);

/* Resolve `path` inside `root` as if root were "/", following symlinks
 * without leaving root. out gets root + resolved path. */
int mount_secure_join(const char *root, const char *path, char *out, size_t size, struct err *e);

#endif
