/* vmm/fs/fuse_server.h: a FUSE passthrough server over one host directory,
 * fed one request at a time (virtio-fs carries FUSE requests in virtqueue
 * chains; vmm/fs/virtio_fs.c is the device that calls this).
 *
 * Security model: the guest controls every byte of a request. Each inode
 * the guest knows is an O_PATH fd opened one name at a time relative to its
 * parent's fd, never following symlinks, so no request can name a host path
 * outside the shared directory ("..": the root's parent is the root).
 * Regular files and directories are reopened for I/O only after their type
 * was checked; device nodes, fifos and sockets are never opened on the host.
 * Operations run as the VMM's user (root) and creations are chowned to the
 * guest caller's uid/gid (passthrough ownership, container rootfs use).
 *
 * Not thread-safe: the caller serializes calls for one server. Every host
 * inode the guest holds a lookup on keeps one fd open: fuse_server_new
 * raises the process's RLIMIT_NOFILE (soft to hard; as root, hard to
 * fs.nr_open); at the limit requests fail with EMFILE.
 *
 * Not running as root, new entries keep the VMM's uid/gid.
 *
 * Host system calls a seccomp policy for the VMM must allow for this server:
 * openat2 (else ENOSYS: plain openat is the fallback), openat, close, fstat/
 * newfstatat, fstatfs, getdents64, lseek, preadv, pwritev, ftruncate,
 * fallocate, fsync, fdatasync, syncfs, mkdirat, mknodat, symlinkat, linkat,
 * unlinkat, renameat2 (renameat for flags 0), readlinkat, fchownat, fchown, fchmodat, fchmod,
 * utimensat, fgetxattr, fsetxattr, flistxattr, fremovexattr. */
#ifndef HAKO_VMM_FS_FUSE_SERVER_H
#define HAKO_VMM_FS_FUSE_SERVER_H

#include <stddef.h>
#include <sys/uio.h>

#include "lib/err.h"

struct fuse_server;

/* Serve shared_dir (must be a directory; symlinks in the path are resolved
 * once here, by the host's trusted configuration). */
int fuse_server_new(struct fuse_server **out, const char *shared_dir, struct err *e);

/* Handle one request: in[0..in_cnt) hold the request (fuse_in_header and
 * its arguments), out[0..out_cnt) receive the reply (fuse_out_header and
 * data). *written is the reply length, 0 for requests that take no reply
 * (FORGET, BATCH_FORGET, INTERRUPT). Errors go to the guest as a negative
 * errno in the reply header. Returns -1 (with *written 0) only when no
 * reply could be formed at all: fewer bytes than a header, or no room
 * for one in out. */
int fuse_server_handle(struct fuse_server *s, const struct iovec *in, int in_cnt,
                       const struct iovec *out, int out_cnt, size_t *written);

void fuse_server_free(struct fuse_server *s);

#endif
