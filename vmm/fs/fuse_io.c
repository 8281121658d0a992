/* vmm/fs/fuse_io.c: FUSE operations on open files and directories: open,
 * create, read/write straight between guest buffers and host fds,
 * readdir(plus), fsync, fallocate, lseek. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"
#include "vmm/fs/fuse_priv.h"

/* Open flags a guest may pass on. O_DIRECT is dropped: guest buffers need
 * not meet the host's alignment and the guest page cache decides caching. */
#define OPEN_FLAGS_KEPT                                                                            \
	(O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NOATIME | O_LARGEFILE)

static int reply_open(struct fuse_req *r, int fd, bool dir)
{
	struct fuse_open_out o = {0};
	int ret = fuse_server_handle_new(r->s, fd, dir, &o.fh);

	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fuse_server_reply(r, &o, sizeof(o));
}

int fuse_server_op_open(struct fuse_req *r)
{
	const struct fuse_open_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *n = fuse_server_inode(r->s, r->h.nodeid);
	bool dir = r->h.opcode == FUSE_OPENDIR;
	int fd;

	if (!n)
		return -ESTALE;
	if (!in)
		return -EINVAL;
	if (dir) {
		if (n->type != S_IFDIR)
			return -ENOTDIR;
		fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	} else {
		if (n->type == S_IFDIR)
			return -EISDIR;
		/* The guest opens its special files itself; a host device node
		 * or fifo is never opened here. */
		if (n->type != S_IFREG)
			return -ENXIO;
		fd = fuse_server_reopen(r->s, n->fd, (int)(in->flags & OPEN_FLAGS_KEPT));
		if (fd < 0)
			return fd;
	}
	return reply_open(r, fd, dir);
}

int fuse_server_op_create(struct fuse_req *r)
{
	const struct fuse_create_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_inode *parent = fuse_server_inode(r->s, r->h.nodeid);
	const char *name = fuse_server_arg_str(r, sizeof(*in), 0);
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out = {0};
	cleanup_close int fd = -1, pfd = -1;
	bool created = true;
	int flags, ret;
	struct stat st;

	if (!parent)
		return -ESTALE;
	if (!in || !name)
		return -EINVAL;
	if (!fuse_server_name_ok(name))
		return -EINVAL;
	flags = (int)(in->flags & OPEN_FLAGS_KEPT) | O_NOFOLLOW | O_CLOEXEC;
	fd = openat(parent->fd, name, flags | O_CREAT | O_EXCL, in->mode & 07777);
	if (fd < 0 && errno == EEXIST && !(in->flags & O_EXCL)) {
		/* It appeared meanwhile: open it like OPEN would, by type. */
		created = false;
		pfd = fuse_server_openat(parent->fd, name);
		if (pfd < 0)
			return pfd;
		if ((ret = fuse_server_stat(pfd, &st)) < 0)
			return ret;
		if (!S_ISREG(st.st_mode))
			return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
		fd = fuse_server_reopen(r->s, pfd, flags & ~O_NOFOLLOW);
		if (fd < 0)
			return fd;
	} else if (fd < 0) {
		return -errno;
	} else {
		pfd = fuse_server_reopen(r->s, fd, O_PATH);
		if (pfd < 0) {
			unlinkat(parent->fd, name, 0);
			return pfd;
		}
	}
	if (created) {
		struct stat pst;
		gid_t gid = r->h.gid;

		ret = fuse_server_stat(parent->fd, &pst);
		if (ret == 0 && (pst.st_mode & S_ISGID))
			gid = (gid_t)-1;
		if (ret == 0 && r->s->root && fchown(fd, r->h.uid, gid) < 0)
			ret = -errno;
		/* The VMM's umask may have cut the mode the guest asked for. */
		if (ret == 0 && fchmod(fd, in->mode & 07777) < 0)
			ret = -errno;
		if (ret < 0) {
			unlinkat(parent->fd, name, 0);
			return ret;
		}
	}
	ret = fuse_server_lookup_fd(r->s, steal_fd(pfd), &out.e);
	if (ret < 0)
		return ret;
	ret = fuse_server_handle_new(r->s, fd, false, &out.o.fh);
	if (ret < 0) {
		fuse_server_forget(r->s, out.e.nodeid, 1);
		return ret;
	}
	fd = -1;
	return fuse_server_reply(r, &out, sizeof(out));
}

/* Moves len bytes between fd at offset off and the guest buffers iov[0..cnt)
 * from byte at, until done, end of file or an error: the bytes moved, or
 * -errno when the first transfer failed (a short count once some moved). */
static ssize_t move_data(int fd, bool write, const struct iovec *iov, int cnt, size_t at,
                         size_t len, uint64_t off)
{
	struct iovec win[FUSE_SERVER_IOV_MAX];
	size_t done = 0;

	while (done < len) {
		ssize_t got;
		int n = fuse_server_iov_window(iov, cnt, at + done, len - done, win,
		                               FUSE_SERVER_IOV_MAX);

		if (n < 0)
			return -EINVAL;
		if (write)
			got = pwritev(fd, win, n, (off_t)(off + done));
		else
			got = preadv(fd, win, n, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			if (done)
				break;
			return -errno;
		}
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

int fuse_server_op_read(struct fuse_req *r)
{
	const struct fuse_read_in *in = fuse_server_arg(r, sizeof(*in));
	size_t hl = sizeof(struct fuse_out_header), size;
	ssize_t done;
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, false);
	if (fd < 0)
		return -EBADF;
	if (in->offset > INT64_MAX)
		return -EINVAL;
	size = in->size;
	if (size > r->out_cap - hl)
		size = r->out_cap - hl;
	done = move_data(fd, false, r->out, r->out_cnt, hl, size, in->offset);
	if (done < 0)
		return (int)done;
	fuse_server_reply_len(r, (size_t)done);
	return 0;
}

int fuse_server_op_write(struct fuse_req *r)
{
	const struct fuse_write_in *in = fuse_server_arg(r, sizeof(*in));
	size_t data = sizeof(struct fuse_in_header) + sizeof(*in);
	struct fuse_write_out o = {0};
	ssize_t done;
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, false);
	if (fd < 0)
		return -EBADF;
	if (in->size > r->arglen - sizeof(*in) || in->offset > INT64_MAX)
		return -EINVAL;
	done = move_data(fd, true, r->in, r->in_cnt, data, in->size, in->offset);
	if (done < 0)
		return (int)done;
	o.size = (uint32_t)done;
	return fuse_server_reply(r, &o, sizeof(o));
}

int fuse_server_op_release(struct fuse_req *r)
{
	const struct fuse_release_in *in = fuse_server_arg(r, sizeof(*in));

	if (!in)
		return -EINVAL;
	return fuse_server_handle_close(r->s, in->fh, r->h.opcode == FUSE_RELEASEDIR);
}

int fuse_server_op_fsync(struct fuse_req *r)
{
	const struct fuse_fsync_in *in = fuse_server_arg(r, sizeof(*in));
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, r->h.opcode == FUSE_FSYNCDIR);
	if (fd < 0)
		return -EBADF;
	if ((in->fsync_flags & FUSE_FSYNC_FDATASYNC ? fdatasync(fd) : fsync(fd)) < 0)
		return -errno;
	return 0;
}

int fuse_server_op_flush(struct fuse_req *r)
{
	const struct fuse_flush_in *in = fuse_server_arg(r, sizeof(*in));

	/* No host locks are taken for the guest (POSIX locks stay in the
	 * guest kernel), so a close() has nothing to flush here. */
	if (!in)
		return -EINVAL;
	return fuse_server_handle_fd(r->s, in->fh, false) < 0 ? -EBADF : 0;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Put one entry at reply offset pos; returns its size, 0 if it does not
 * fit in size, -errno. */
static int put_dirent(struct fuse_req *r, struct fuse_inode *dir, size_t pos, size_t size,
                      const struct linux_dirent64 *d, bool plus)
{
	struct {
		struct fuse_direntplus p;
		char name[NAME_MAX + 1];
	} ent;
	size_t namelen = strlen(d->d_name);
	size_t base = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	size_t len = FUSE_DIRENT_ALIGN(base + namelen);
	struct fuse_dirent *de = plus ? &ent.p.dirent : (struct fuse_dirent *)&ent;
	int ret;

	if (namelen > NAME_MAX)
		return -ENAMETOOLONG;
	if (pos + len > size)
		return 0;
	memset(&ent, 0, sizeof(ent));
	if (plus) {
		if (is_dot(d->d_name)) {
			/* No lookup is counted for "." and ".." (nodeid 0). */
			ent.p.entry_out.attr.ino = d->d_ino;
			ent.p.entry_out.attr.mode = (uint32_t)d->d_type << 12;
		} else if ((ret = fuse_server_lookup(r->s, dir, d->d_name, &ent.p.entry_out)) < 0) {
			return ret;
		}
	}
	de->ino = d->d_ino;
	de->off = (uint64_t)d->d_off;
	de->namelen = (uint32_t)namelen;
	de->type = d->d_type;
	memcpy(de->name, d->d_name, namelen);
	/* Either layout starts at &ent. */
	fuse_server_out_write(r, sizeof(struct fuse_out_header) + pos, &ent, len);
	return (int)len;
}

int fuse_server_op_readdir(struct fuse_req *r)
{
	const struct fuse_read_in *in = fuse_server_arg(r, sizeof(*in));
	bool plus = r->h.opcode == FUSE_READDIRPLUS;
	struct fuse_inode *dir = fuse_server_inode(r->s, r->h.nodeid);
	size_t size, chunk, pos = 0;
	bool full = false;
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, true);
	if (fd < 0)
		return -EBADF;
	if (plus && !dir)
		return -ESTALE;
	size = in->size;
	if (size > r->out_cap - sizeof(struct fuse_out_header))
		size = r->out_cap - sizeof(struct fuse_out_header);
	/* Stateless: offset is the d_off of the last entry the guest took. */
	if (lseek(fd, (off_t)in->offset, SEEK_SET) < 0)
		return -errno;
	/* Read about as many host entries as the reply can take: the rest is
	 * read again from the next offset anyway. */
	chunk = size < 1024 ? 1024 : size > FUSE_SERVER_DIRBUF ? FUSE_SERVER_DIRBUF : size;
	while (!full) {
		long n = syscall(SYS_getdents64, fd, r->s->dirbuf, chunk);

		if (n < 0) {
			if (pos)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			const struct linux_dirent64 *d = (const void *)(r->s->dirbuf + off);
			int len = put_dirent(r, dir, pos, size, d, plus);

			off += d->d_reclen;
			if (len == -ENOENT)
				continue; /* removed since getdents */
			if (len < 0) {
				if (pos)
					goto done;
				return len;
			}
			if (len == 0) {
				full = true;
				break;
			}
			pos += (size_t)len;
		}
	}
done:
	fuse_server_reply_len(r, pos);
	return 0;
}

int fuse_server_op_fallocate(struct fuse_req *r)
{
	const struct fuse_fallocate_in *in = fuse_server_arg(r, sizeof(*in));
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, false);
	if (fd < 0)
		return -EBADF;
	if (in->offset > INT64_MAX || in->length > INT64_MAX)
		return -EINVAL;
	if (fallocate(fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0)
		return -errno;
	return 0;
}

int fuse_server_op_lseek(struct fuse_req *r)
{
	const struct fuse_lseek_in *in = fuse_server_arg(r, sizeof(*in));
	struct fuse_lseek_out o;
	off_t pos;
	int fd;

	if (!in)
		return -EINVAL;
	fd = fuse_server_handle_fd(r->s, in->fh, false);
	if (fd < 0)
		return -EBADF;
	switch (in->whence) {
	case SEEK_SET:
	case SEEK_CUR:
	case SEEK_END:
	case SEEK_DATA:
	case SEEK_HOLE:
		break;
	default:
		return -EINVAL;
	}
	pos = lseek(fd, (off_t)in->offset, (int)in->whence);
	if (pos < 0)
		return -errno;
	o.offset = (uint64_t)pos;
	return fuse_server_reply(r, &o, sizeof(o));
}

int fuse_server_op_syncfs(struct fuse_req *r)
{
	struct fuse_inode *root = fuse_server_inode(r->s, FUSE_ROOT_ID);
	cleanup_close int fd = openat(root->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return syncfs(fd) < 0 ? -errno : 0;
}
