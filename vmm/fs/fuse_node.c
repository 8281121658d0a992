/* vmm/fs/fuse_node.c: FUSE operations on names and inodes: lookup, attributes,
 * creating and removing entries, links, statfs, access and xattrs. Every
 * host call is relative to an O_PATH fd and never follows a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/util.h"
#include "vmm/fs/fuse_priv.h"

static struct fuse_inode *req_node(struct fuse_req *r)
{
	return fuse_server_inode(r->s, r->h.nodeid);
}

int fuse_server_op_lookup(struct fuse_req *r)
{
	struct fuse_inode *parent = req_node(r);
	const char *name = fuse_server_arg_str(r, 0, 0);
	struct fuse_entry_out e;
	int ret;

	if (!parent)
		return -ESTALE;
	if (!name)
		return -EINVAL;
	ret = fuse_server_lookup(r->s, parent, name, &e);
	return ret < 0 ? ret : fuse_server_reply(r, &e, sizeof(e));
}

static int reply_attr(struct fuse_req *r, int fd)
{
	struct fuse_attr_out o = {.attr_valid = 1};
	struct stat st;
	int ret = fuse_server_stat(fd, &st);

	if (ret < 0)
		return ret;
	fuse_server_fill_attr(&o.attr, &st);
	return fuse_server_reply(r, &o, sizeof(o));
}

int fuse_server_op_getattr(struct fuse_req *r)
{
	struct fuse_inode *n = req_node(r);

	return n ? reply_attr(r, n->fd) : -ESTALE;
}

static int proc_chmod(struct fuse_server *s, int fd, mode_t mode)
{
	char name[16];

	/* chmod cannot take an O_PATH fd; its /proc link names the very
	 * inode (callers made sure it is not a symlink). */
	snprintf(name, sizeof(name), "%d", fd);
	return fchmodat(s->proc_fd, name, mode, 0) < 0 ? -errno : 0;
}

/* Give a new entry (O_PATH fd) to the guest caller and the mode it asked
 * for, which the VMM's umask may have cut. mode (mode_t)-1: a symlink. */
static int set_owner(struct fuse_req *r, struct fuse_inode *parent, int fd, mode_t mode)
{
	struct stat pst, st;
	gid_t gid = r->h.gid;
	int ret = fuse_server_stat(parent->fd, &pst);

	if (ret < 0)
		return ret;
	if (pst.st_mode & S_ISGID)
		gid = (gid_t)-1; /* BSD group semantics of a setgid directory */
	if (r->s->root && fchownat(fd, "", r->h.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (mode == (mode_t)-1)
		return 0;
	if ((ret = fuse_server_stat(fd, &st)) < 0)
		return ret;
	mode &= 07777;
	if (S_ISDIR(st.st_mode))
		mode |= st.st_mode & S_ISGID;
	if ((st.st_mode & 07777) == mode)
		return 0;
	return proc_chmod(r->s, fd, mode);
}

/* After an entry was made under parent: fix its owner and count the
 * lookup the reply stands for; on failure take the entry away again. */
static int finish_new(struct fuse_req *r, struct fuse_inode *parent, const char *name, mode_t mode,
                      bool dir)
{
	struct fuse_entry_out e;
	int fd = fuse_server_openat(parent->fd, name);
	int ret = fd;

	if (fd >= 0 && (ret = set_owner(r, parent, fd, mode)) < 0)
		close(fd);
	if (ret >= 0)
		ret = fuse_server_lookup_fd(r->s, fd, &e);
	if (ret < 0) {
		unlinkat(parent->fd, name, dir ? AT_REMOVEDIR : 0);
		return ret;
	}
	return fuse_server_reply(r, &e, sizeof(e));
}

static int setattr_size(struct fuse_req *r, struct fuse_inode *n, int hfd, uint64_t size)
{
	cleanup_close int fd = -1;

	if (size > INT64_MAX)
		return -EINVAL;
	if (hfd < 0) {
		if (n->type == S_IFDIR)
			return -EISDIR;
		if (n->type != S_IFREG)
			return -EINVAL;
		fd = fuse_server_reopen(r->s, n->fd, O_WRONLY | O_NONBLOCK);
		if (fd < 0)
			return fd;
		hfd = fd;
	}
	return ftruncate(hfd, (off_t)size) < 0 ? -errno : 0;
}

static void set_time(struct timespec *ts, uint32_t valid, uint32_t set, uint32_t now, uint64_t sec,
                     uint32_t nsec)
{
	if (valid & now)
		ts->tv_nsec = UTIME_NOW;
	else if (valid & set) {
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = nsec;
	} else
		ts->tv_nsec = UTIME_OMIT;
}

int fuse_server_op_setattr(struct fuse_req *r)
{
	const struct fuse_setattr_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *n = req_node(r);
	int hfd = -1, ret;

	if (!n)
		return -ESTALE;
	if (!in)
		return -EINVAL;
	if (in->valid & FATTR_FH) {
		hfd = fuse_server_handle_fd(r->s, in->fh, false);
		if (hfd < 0)
			return -EBADF;
	}
	if (in->valid & FATTR_MODE) {
		if (n->type == S_IFLNK)
			return -EOPNOTSUPP;
		ret = hfd >= 0 ? (fchmod(hfd, in->mode & 07777) < 0 ? -errno : 0)
		               : proc_chmod(r->s, n->fd, in->mode & 07777);
		if (ret < 0)
			return ret;
	}
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = in->valid & FATTR_UID ? in->uid : (uid_t)-1;
		gid_t gid = in->valid & FATTR_GID ? in->gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (in->valid & FATTR_SIZE && (ret = setattr_size(r, n, hfd, in->size)) < 0)
		return ret;
	if (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		struct timespec ts[2];

		set_time(&ts[0], in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime, in->atimensec);
		set_time(&ts[1], in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime, in->mtimensec);
		if (utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	return reply_attr(r, n->fd);
}

int fuse_server_op_readlink(struct fuse_req *r)
{
	struct fuse_inode *n = req_node(r);
	char buf[PATH_MAX];
	ssize_t len;

	if (!n)
		return -ESTALE;
	if (n->type != S_IFLNK)
		return -EINVAL;
	len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0)
		return -errno;
	return fuse_server_reply(r, buf, (size_t)len);
}

/* The parent directory and new entry name of a creating request. */
static int new_entry(struct fuse_req *r, size_t fixed, struct fuse_inode **parent,
                     const char **name)
{
	*parent = req_node(r);
	if (!*parent)
		return -ESTALE;
	if (r->arglen < fixed)
		return -EINVAL;
	*name = fuse_server_arg_str(r, fixed, 0);
	if (!*name)
		return -EINVAL;
	if (!fuse_server_name_ok(*name))
		return strcmp(*name, ".") && strcmp(*name, "..") ? -EINVAL : -EEXIST;
	return 0;
}

int fuse_server_op_symlink(struct fuse_req *r)
{
	struct fuse_inode *parent;
	const char *name, *target;
	int ret = new_entry(r, 0, &parent, &name);

	if (ret < 0)
		return ret;
	/* The target is data for the guest; it is never resolved here. */
	target = fuse_server_arg_str(r, 0, 1);
	if (!target || !*target || strlen(target) >= PATH_MAX)
		return -EINVAL;
	if (symlinkat(target, parent->fd, name) < 0)
		return -errno;
	return finish_new(r, parent, name, (mode_t)-1, false);
}

static dev_t decode_dev(uint32_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

int fuse_server_op_mknod(struct fuse_req *r)
{
	const struct fuse_mknod_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *parent;
	const char *name;
	int ret = new_entry(r, sizeof(*in), &parent, &name);

	if (ret < 0)
		return ret;
	switch (in->mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	/* Device nodes are made for the guest's use; this server never opens
	 * anything but regular files and directories on the host. */
	if (mknodat(parent->fd, name, in->mode & (S_IFMT | 07777), decode_dev(in->rdev)) < 0)
		return -errno;
	return finish_new(r, parent, name, in->mode, false);
}

int fuse_server_op_mkdir(struct fuse_req *r)
{
	const struct fuse_mkdir_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *parent;
	const char *name;
	int ret = new_entry(r, sizeof(*in), &parent, &name);

	if (ret < 0)
		return ret;
	if (mkdirat(parent->fd, name, in->mode & 07777) < 0)
		return -errno;
	return finish_new(r, parent, name, in->mode, true);
}

int fuse_server_op_unlink(struct fuse_req *r)
{
	struct fuse_inode *parent;
	const char *name;
	int ret = new_entry(r, 0, &parent, &name);

	if (ret == -EEXIST)
		return r->h.opcode == FUSE_RMDIR ? -EBUSY : -EISDIR;
	if (ret < 0)
		return ret;
	if (unlinkat(parent->fd, name, r->h.opcode == FUSE_RMDIR ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

int fuse_server_op_rename(struct fuse_req *r)
{
	bool two = r->h.opcode == FUSE_RENAME2;
	size_t fixed = two ? sizeof(struct fuse_rename2_in) : sizeof(struct fuse_rename_in);
	const struct fuse_rename2_in *in = fuse_server_arg(r, fixed);
	struct fuse_inode *olddir = req_node(r), *newdir;
	const char *oldname, *newname;
	unsigned int flags;

	if (!olddir)
		return -ESTALE;
	if (!in)
		return -EINVAL;
	flags = two ? in->flags : 0;
	if (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	newdir = fuse_server_inode(r->s, in->newdir);
	if (!newdir)
		return -ESTALE;
	oldname = fuse_server_arg_str(r, fixed, 0);
	newname = fuse_server_arg_str(r, fixed, 1);
	if (!oldname || !newname || !fuse_server_name_ok(oldname) || !fuse_server_name_ok(newname))
		return -EINVAL;
	if (renameat2(olddir->fd, oldname, newdir->fd, newname, flags) < 0)
		return -errno;
	return 0;
}

int fuse_server_op_link(struct fuse_req *r)
{
	const struct fuse_link_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *parent, *old;
	struct fuse_entry_out e;
	const char *name;
	int ret = new_entry(r, sizeof(*in), &parent, &name);

	if (ret < 0)
		return ret;
	old = fuse_server_inode(r->s, in->oldnodeid);
	if (!old)
		return -ESTALE;
	if (old->type == S_IFDIR)
		return -EPERM;
	if (linkat(old->fd, "", parent->fd, name, AT_EMPTY_PATH) < 0)
		return -errno;
	ret = fuse_server_lookup(r->s, parent, name, &e);
	return ret < 0 ? ret : fuse_server_reply(r, &e, sizeof(e));
}

int fuse_server_op_statfs(struct fuse_req *r)
{
	struct fuse_inode *n = req_node(r);
	struct fuse_statfs_out o = {0};
	struct statfs sf;

	if (!n)
		return -ESTALE;
	if (fstatfs(n->fd, &sf) < 0)
		return -errno;
	o.st.blocks = sf.f_blocks;
	o.st.bfree = sf.f_bfree;
	o.st.bavail = sf.f_bavail;
	o.st.files = sf.f_files;
	o.st.ffree = sf.f_ffree;
	o.st.bsize = (uint32_t)sf.f_bsize;
	o.st.namelen = (uint32_t)sf.f_namelen;
	o.st.frsize = (uint32_t)sf.f_frsize;
	return fuse_server_reply(r, &o, sizeof(o));
}

int fuse_server_op_access(struct fuse_req *r)
{
	const struct fuse_access_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *n = req_node(r);
	unsigned int mask, bits;
	struct stat st;
	int ret;

	if (!n)
		return -ESTALE;
	if (!in)
		return -EINVAL;
	if ((ret = fuse_server_stat(n->fd, &st)) < 0)
		return ret;
	mask = in->mask & 7;
	/* The guest mounts with default_permissions and checks itself; this
	 * answers the rare explicit ACCESS with the classic mode bits. */
	if (r->h.uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111))
			return -EACCES;
		return 0;
	}
	if (st.st_uid == r->h.uid)
		bits = (st.st_mode >> 6) & 7;
	else if (st.st_gid == r->h.gid)
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	return (bits & mask) == mask ? 0 : -EACCES;
}

/* An fd xattr calls can use: only regular files and directories are
 * opened (a device node or fifo must never be opened on the host). */
static int xattr_fd(struct fuse_req *r, struct fuse_inode **np)
{
	struct fuse_inode *n = req_node(r);

	*np = n;
	if (!n)
		return -ESTALE;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EOPNOTSUPP;
	return fuse_server_reopen(r->s, n->fd, O_RDONLY | O_NONBLOCK);
}

static bool xattr_name_ok(const char *name)
{
	return name && *name && strlen(name) <= XATTR_NAME_MAX;
}

int fuse_server_op_setxattr(struct fuse_req *r)
{
	/* FUSE_SETXATTR_EXT is not negotiated: the short argument layout. */
	const struct fuse_setxattr_in *in = fuse_server_arg(r, FUSE_COMPAT_SETXATTR_IN_SIZE);
	const char *name = fuse_server_arg_str(r, FUSE_COMPAT_SETXATTR_IN_SIZE, 0);
	struct fuse_inode *n;
	cleanup_close int fd = -1;
	size_t voff;

	if (!in || !xattr_name_ok(name))
		return -EINVAL;
	voff = (size_t)((const uint8_t *)name - r->arg) + strlen(name) + 1;
	if (in->size > XATTR_SIZE_MAX || in->size > r->arglen - voff)
		return -EINVAL;
	fd = xattr_fd(r, &n);
	if (fd < 0)
		return fd;
	if (fsetxattr(fd, name, r->arg + voff, in->size, (int)in->flags) < 0)
		return -errno;
	return 0;
}

int fuse_server_op_getxattr(struct fuse_req *r)
{
	bool list = r->h.opcode == FUSE_LISTXATTR;
	const struct fuse_getxattr_in *in = fuse_server_arg(r, sizeof(*in));
	const char *name = list ? NULL : fuse_server_arg_str(r, sizeof(*in), 0);
	size_t room = r->out_cap - sizeof(struct fuse_out_header), size;
	struct fuse_inode *n;
	cleanup_close int fd = -1;
	ssize_t len;

	if (!in || (!list && !xattr_name_ok(name)))
		return -EINVAL;
	fd = xattr_fd(r, &n);
	if (fd < 0)
		return fd;
	size = in->size;
	if (size > FUSE_SERVER_DIRBUF)
		size = FUSE_SERVER_DIRBUF;
	if (size > room)
		size = room;
	if (in->size && !size)
		return -ERANGE;
	if (list)
		len = flistxattr(fd, in->size ? (char *)r->s->dirbuf : NULL, size);
	else
		len = fgetxattr(fd, name, in->size ? r->s->dirbuf : NULL, size);
	if (len < 0)
		return -errno;
	if (in->size == 0) {
		struct fuse_getxattr_out o = {.size = (uint32_t)len};

		return fuse_server_reply(r, &o, sizeof(o));
	}
	return fuse_server_reply(r, r->s->dirbuf, (size_t)len);
}

int fuse_server_op_removexattr(struct fuse_req *r)
{
	const char *name = fuse_server_arg_str(r, 0, 0);
	struct fuse_inode *n;
	cleanup_close int fd = -1;

	if (!xattr_name_ok(name))
		return -EINVAL;
	fd = xattr_fd(r, &n);
	if (fd < 0)
		return fd;
	return fremovexattr(fd, name) < 0 ? -errno : 0;
}
