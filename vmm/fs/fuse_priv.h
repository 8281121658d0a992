/* vmm/fs/fuse_priv.h: internals shared by the FUSE server's files (not part
 * of the module's interface): the inode and file handle tables, the request
 * being served and the reply helpers. */
#ifndef HAKO_VMM_FS_FUSE_PRIV_H
#define HAKO_VMM_FS_FUSE_PRIV_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "vmm/fs/fuse_server.h"

/* Our protocol version; we speak down to the first one virtio-fs had. */
#define FUSE_SERVER_MINOR     38
#define FUSE_SERVER_MIN_MINOR 31
#define FUSE_SERVER_MAX_WRITE (256u * 1024)
#define FUSE_SERVER_DIRBUF    (64 * 1024) /* getdents64 and xattr scratch */
#define FUSE_SERVER_IOV_MAX   1024
/* Longest request we copy whole: header, two names, an xattr value. */
#define FUSE_SERVER_REQ_MAX (sizeof(struct fuse_in_header) + 64 + 2 * 4096 + 65536)

struct fuse_inode {
	int fd; /* O_PATH|O_NOFOLLOW, -1 when the slot is free */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	uint64_t nlookup;
	uint32_t gen;  /* bumped on each reuse of the slot */
	int hash_next; /* next slot in the (dev, ino) chain, -1 ends */
	int free_next; /* next free slot, -1 ends */
	uint32_t slot; /* own index; slot 0 is the root */
};

struct fuse_handle {
	int fd; /* -1 when free */
	bool dir;
	uint32_t gen;
	int free_next;
};

struct fuse_server {
	int proc_fd; /* /proc/self/fd, to reopen O_PATH fds */
	bool initialized;
	bool root;      /* running as root: new entries get the caller's uid/gid */
	uint32_t minor; /* negotiated */
	/* Slots live in fixed chunks that never move: handlers keep inode
	 * pointers across lookups that add slots. */
	struct fuse_inode **chunks;
	unsigned int ninodes, nchunks;
	int inode_free;
	int *buckets;
	unsigned int nbuckets, inodes_used;
	struct fuse_handle *handles;
	unsigned int nhandles;
	int handle_free;
	uint8_t *reqbuf; /* FUSE_SERVER_REQ_MAX bytes */
	uint8_t *dirbuf; /* FUSE_SERVER_DIRBUF bytes of scratch */
};

/* The request being served. */
struct fuse_req {
	struct fuse_server *s;
	struct fuse_in_header h;
	const uint8_t *arg; /* flat copy of the arguments */
	size_t arglen;
	const struct iovec *in; /* the whole request, for WRITE data */
	int in_cnt;
	size_t in_len;
	const struct iovec *out;
	int out_cnt;
	size_t out_cap;
	size_t written;
	bool no_reply;
};

/* ---- tables (fuse_server.c) ---- */

/* Inode for a guest nodeid, NULL if it was never issued or was forgotten. */
struct fuse_inode *fuse_server_inode(struct fuse_server *s, uint64_t nodeid);
/* Look up name (one component, or "." / "..") under parent and count a
 * lookup on the result; fills e for the reply. Returns 0 or -errno. */
int fuse_server_lookup(struct fuse_server *s, struct fuse_inode *parent, const char *name,
                       struct fuse_entry_out *e);
/* O_PATH fd of name (one component) right under dirfd, the entry itself
 * when it is a symlink; -errno. */
int fuse_server_openat(int dirfd, const char *name);
/* Count a lookup on the inode fd refers to (fd is consumed); fills e. */
int fuse_server_lookup_fd(struct fuse_server *s, int fd, struct fuse_entry_out *e);
void fuse_server_forget(struct fuse_server *s, uint64_t nodeid, uint64_t nlookup);
/* New handle owning fd; returns fh. -errno if the table is full. */
int fuse_server_handle_new(struct fuse_server *s, int fd, bool dir, uint64_t *fh);
/* fd of handle fh of the given kind, -1 if none. */
int fuse_server_handle_fd(struct fuse_server *s, uint64_t fh, bool dir);
int fuse_server_handle_close(struct fuse_server *s, uint64_t fh, bool dir);
/* fstat an inode's fd (no symlink following). Returns 0 or -errno. */
int fuse_server_stat(int fd, struct stat *st);
void fuse_server_fill_attr(struct fuse_attr *a, const struct stat *st);
/* Reopen an O_PATH fd with open flags through /proc/self/fd. */
int fuse_server_reopen(struct fuse_server *s, int fd, int flags);

/* ---- request parsing and replies (fuse_server.c) ---- */

/* Fixed-size argument at the start of the arguments, NULL if too short. */
const void *fuse_server_arg(const struct fuse_req *r, size_t size);
/* The n-th NUL-terminated string after a fixed part of fixed bytes, NULL
 * if missing or not terminated within the arguments. */
const char *fuse_server_arg_str(const struct fuse_req *r, size_t fixed, unsigned int n);
/* A name for a new or existing directory entry: one component, not "."
 * or "..", at most NAME_MAX bytes. */
bool fuse_server_name_ok(const char *name);
/* Reply header + len bytes of data; -ERANGE if out has no room. */
int fuse_server_reply(struct fuse_req *r, const void *data, size_t len);
/* iovecs for bytes [off, off+len) of an iovec array; returns their number
 * or -1 if the range is not inside it or needs more than max entries. */
int fuse_server_iov_window(const struct iovec *iov, int cnt, size_t off, size_t len,
                           struct iovec *win, int max);
/* Write data at byte offset off of the reply buffer; bytes written. */
size_t fuse_server_out_write(struct fuse_req *r, size_t off, const void *data, size_t len);
/* Finish a reply whose payload (len bytes after the header) is already in
 * out. */
void fuse_server_reply_len(struct fuse_req *r, size_t len);

/* ---- operations (fuse_node.c, fuse_io.c) ---- */

int fuse_server_op_lookup(struct fuse_req *r);
int fuse_server_op_getattr(struct fuse_req *r);
int fuse_server_op_setattr(struct fuse_req *r);
int fuse_server_op_readlink(struct fuse_req *r);
int fuse_server_op_symlink(struct fuse_req *r);
int fuse_server_op_mknod(struct fuse_req *r);
int fuse_server_op_mkdir(struct fuse_req *r);
int fuse_server_op_unlink(struct fuse_req *r);
int fuse_server_op_rename(struct fuse_req *r);
int fuse_server_op_link(struct fuse_req *r);
int fuse_server_op_statfs(struct fuse_req *r);
int fuse_server_op_access(struct fuse_req *r);
int fuse_server_op_setxattr(struct fuse_req *r);
int fuse_server_op_getxattr(struct fuse_req *r);
int fuse_server_op_removexattr(struct fuse_req *r);

int fuse_server_op_open(struct fuse_req *r);
int fuse_server_op_create(struct fuse_req *r);
int fuse_server_op_read(struct fuse_req *r);
int fuse_server_op_write(struct fuse_req *r);
int fuse_server_op_release(struct fuse_req *r);
int fuse_server_op_fsync(struct fuse_req *r);
int fuse_server_op_flush(struct fuse_req *r);
int fuse_server_op_readdir(struct fuse_req *r);
int fuse_server_op_fallocate(struct fuse_req *r);
int fuse_server_op_lseek(struct fuse_req *r);
int fuse_server_op_syncfs(struct fuse_req *r);

#endif
