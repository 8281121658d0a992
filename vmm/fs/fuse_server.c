/* vmm/fs/fuse_server.c: the FUSE server's frame: request parsing and
 * replies, INIT/DESTROY/FORGET, the inode table (guest nodeid -> O_PATH fd,
 * deduplicated by host dev/ino) and the file handle table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "vmm/fs/fuse_priv.h"

#define ENTRY_TIMEOUT 1 /* seconds the guest may cache names and attributes */

#define FUSE_SERVER_FLAGS                                                                          \
	(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |           \
	 FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |     \
	 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS)

/* ---- iovec helpers ---- */

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - n)
			return SIZE_MAX;
		n += iov[i].iov_len;
	}
	return n;
}

static size_t iov_copy(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len,
                       bool to_iov)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t n = l - off < len - done ? l - off : len - done;
		uint8_t *p = (uint8_t *)iov[i].iov_base + off;

		if (to_iov)
			memcpy(p, (const uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, p, n);
		done += n;
		off = 0;
	}
	return done;
}

int fuse_server_iov_window(const struct iovec *iov, int cnt, size_t off, size_t len,
                           struct iovec *win, int max)
{
	int n = 0;

	for (int i = 0; i < cnt && len > 0; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (n == max)
			return -1;
		size_t take = l - off < len ? l - off : len;

		win[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		win[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return len ? -1 : n;
}

size_t fuse_server_out_write(struct fuse_req *r, size_t off, const void *data, size_t len)
{
	return iov_copy(r->out, r->out_cnt, off, (void *)data, len, true);
}

/* ---- replies ---- */

void fuse_server_reply_len(struct fuse_req *r, size_t len)
{
	struct fuse_out_header oh = {
	        .len = (uint32_t)(sizeof(oh) + len),
	        .error = 0,
	        .unique = r->h.unique,
	};

	fuse_server_out_write(r, 0, &oh, sizeof(oh));
	r->written = sizeof(oh) + len;
}

int fuse_server_reply(struct fuse_req *r, const void *data, size_t len)
{
	if (len > r->out_cap - sizeof(struct fuse_out_header))
		return -ERANGE;
	if (len)
		fuse_server_out_write(r, sizeof(struct fuse_out_header), data, len);
	fuse_server_reply_len(r, len);
	return 0;
}

static void reply_err(struct fuse_req *r, int err)
{
	struct fuse_out_header oh = {
	        .len = sizeof(oh),
	        .error = err,
	        .unique = r->h.unique,
	};

	fuse_server_out_write(r, 0, &oh, sizeof(oh));
	r->written = sizeof(oh);
}

/* ---- arguments ---- */

const void *fuse_server_arg(const struct fuse_req *r, size_t size)
{
	return r->arglen >= size ? r->arg : NULL;
}

const char *fuse_server_arg_str(const struct fuse_req *r, size_t fixed, unsigned int n)
{
	size_t off = fixed;

	for (;;) {
		if (off >= r->arglen)
			return NULL;
		const char *p = (const char *)r->arg + off;
		const char *nul = memchr(p, '\0', r->arglen - off);

		if (!nul)
			return NULL;
		if (n-- == 0)
			return p;
		off += (size_t)(nul - p) + 1;
	}
}

bool fuse_server_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAME_MAX || strchr(name, '/'))
		return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* ---- inode table ---- */

#define INODE_CHUNK 1024

static struct fuse_inode *slot_inode(const struct fuse_server *s, unsigned int slot)
{
	return &s->chunks[slot / INODE_CHUNK][slot % INODE_CHUNK];
}

static unsigned int hash_slot(const struct fuse_server *s, dev_t dev, ino_t ino)
{
	uint64_t h =
	        ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4full);

	return (unsigned int)(h ^ (h >> 29)) & (s->nbuckets - 1);
}

static void hash_insert(struct fuse_server *s, int slot)
{
	struct fuse_inode *in = slot_inode(s, (unsigned int)slot);
	unsigned int b = hash_slot(s, in->dev, in->ino);

	in->hash_next = s->buckets[b];
	s->buckets[b] = slot;
}

static void hash_remove(struct fuse_server *s, int slot)
{
	struct fuse_inode *in = slot_inode(s, (unsigned int)slot);
	int *p = &s->buckets[hash_slot(s, in->dev, in->ino)];

	while (*p != -1 && *p != slot)
		p = &slot_inode(s, (unsigned int)*p)->hash_next;
	if (*p == slot)
		*p = in->hash_next;
}

static int hash_find(const struct fuse_server *s, dev_t dev, ino_t ino)
{
	for (int i = s->buckets[hash_slot(s, dev, ino)]; i != -1;) {
		const struct fuse_inode *in = slot_inode(s, (unsigned int)i);

		if (in->dev == dev && in->ino == ino)
			return i;
		i = in->hash_next;
	}
	return -1;
}

static int hash_grow(struct fuse_server *s)
{
	unsigned int nb = s->nbuckets * 2;
	int *b = malloc(nb * sizeof(*b));

	if (!b)
		return -ENOMEM;
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	for (unsigned int i = 0; i < nb; i++)
		b[i] = -1;
	for (unsigned int i = 0; i < s->ninodes; i++)
		if (slot_inode(s, i)->fd >= 0)
			hash_insert(s, (int)i);
	return 0;
}

static uint64_t nodeid_of(const struct fuse_inode *in)
{
	return ((uint64_t)in->gen << 32) | ((uint64_t)in->slot + 1);
}

struct fuse_inode *fuse_server_inode(struct fuse_server *s, uint64_t nodeid)
{
	uint64_t low = nodeid & 0xffffffffu;
	struct fuse_inode *in;

	if (low == 0 || low > s->ninodes)
		return NULL;
	in = slot_inode(s, (unsigned int)(low - 1));
	if (in->fd < 0 || in->gen != (uint32_t)(nodeid >> 32))
		return NULL;
	return in;
}

int fuse_server_stat(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static uint32_t encode_dev(dev_t d)
{
	/* The guest kernel's new_decode_dev() layout. */
	uint32_t ma = major(d), mi = minor(d);

	return (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xffu) << 12);
}

void fuse_server_fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = encode_dev(st->st_rdev);
	a->blksize = (uint32_t)st->st_blksize;
}

static void fill_entry(struct fuse_inode *in, const struct stat *st, struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid_of(in);
	e->entry_valid = ENTRY_TIMEOUT;
	e->attr_valid = ENTRY_TIMEOUT;
	fuse_server_fill_attr(&e->attr, st);
}

static int inode_slot_new(struct fuse_server *s)
{
	if (s->inode_free != -1) {
		int slot = s->inode_free;

		s->inode_free = slot_inode(s, (unsigned int)slot)->free_next;
		return slot;
	}
	if (s->ninodes == s->nchunks * INODE_CHUNK) {
		struct fuse_inode **c, *chunk;

		if (s->nchunks >= 0x7fffffffu / INODE_CHUNK)
			return -ENFILE;
		c = realloc(s->chunks, (s->nchunks + 1) * sizeof(*c));
		if (!c)
			return -ENOMEM;
		s->chunks = c;
		chunk = calloc(INODE_CHUNK, sizeof(*chunk));
		if (!chunk)
			return -ENOMEM;
		for (unsigned int i = 0; i < INODE_CHUNK; i++) {
			chunk[i].fd = -1;
			chunk[i].slot = s->nchunks * INODE_CHUNK + i;
		}
		c[s->nchunks++] = chunk;
	}
	return (int)s->ninodes++;
}

int fuse_server_lookup_fd(struct fuse_server *s, int fd, struct fuse_entry_out *e)
{
	struct stat st;
	struct fuse_inode *in;
	int slot, r = fuse_server_stat(fd, &st);

	if (r < 0) {
		close(fd);
		return r;
	}
	slot = hash_find(s, st.st_dev, st.st_ino);
	if (slot != -1) {
		close(fd);
		in = slot_inode(s, (unsigned int)slot);
		if (slot != 0)
			in->nlookup++;
		fill_entry(in, &st, e);
		return 0;
	}
	if (s->inodes_used >= s->nbuckets && (r = hash_grow(s)) < 0) {
		close(fd);
		return r;
	}
	slot = inode_slot_new(s);
	if (slot < 0) {
		close(fd);
		return slot;
	}
	in = slot_inode(s, (unsigned int)slot);
	in->fd = fd;
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->type = st.st_mode & S_IFMT;
	in->nlookup = 1;
	/* Generation 0 is the root's; a reused slot gets a new nodeid. */
	if (++in->gen == 0)
		in->gen = 1;
	hash_insert(s, slot);
	s->inodes_used++;
	fill_entry(in, &st, e);
	return 0;
}

/* name is a single component (callers checked): the O_NOFOLLOW openat()
 * alone cannot leave dirfd; openat2's resolve flags are a second guard
 * where the kernel (5.6+) and the seccomp policy allow the call. */
static int openat_resolve(int dirfd, const char *name, uint64_t resolve)
{
	static bool no_openat2;
	struct open_how how = {
	        .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	        .resolve = resolve,
	};
	long fd;

	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd < 0 ? -errno : (int)fd;
		__atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
	}
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

int fuse_server_openat(int dirfd, const char *name)
{
	return openat_resolve(dirfd, name,
	                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int fuse_server_lookup(struct fuse_server *s, struct fuse_inode *parent, const char *name,
                       struct fuse_entry_out *e)
{
	int fd;

	if (strchr(name, '/') || strlen(name) > NAME_MAX || !*name)
		return -EINVAL;
	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	if (strcmp(name, "..") == 0 && parent->slot == 0)
		name = ".";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		/* ".." below the root ends at the root at most: the result is
		 * deduplicated against the root's dev/ino. */
		fd = openat_resolve(parent->fd, name, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	else
		fd = fuse_server_openat(parent->fd, name);
	if (fd < 0)
		return fd;
	return fuse_server_lookup_fd(s, fd, e);
}

void fuse_server_forget(struct fuse_server *s, uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_inode *in = fuse_server_inode(s, nodeid);
	int slot;

	if (!in || in->slot == 0)
		return;
	if (nlookup < in->nlookup) {
		in->nlookup -= nlookup;
		return;
	}
	slot = (int)in->slot;
	hash_remove(s, slot);
	close(in->fd);
	in->fd = -1;
	in->free_next = s->inode_free;
	s->inode_free = slot;
	s->inodes_used--;
}

int fuse_server_reopen(struct fuse_server *s, int fd, int flags)
{
	char name[16];
	int nfd;

	snprintf(name, sizeof(name), "%d", fd);
	nfd = openat(s->proc_fd, name, flags | O_CLOEXEC);
	return nfd < 0 ? -errno : nfd;
}

/* ---- handle table ---- */

int fuse_server_handle_new(struct fuse_server *s, int fd, bool dir, uint64_t *fh)
{
	int slot = s->handle_free;

	if (slot == -1) {
		unsigned int n = s->nhandles ? s->nhandles * 2 : 64;
		struct fuse_handle *h;

		if (n > 0x7fffffffu)
			return -ENFILE;
		h = realloc(s->handles, n * sizeof(*h));
		if (!h)
			return -ENOMEM;
		s->handles = h;
		for (unsigned int i = s->nhandles; i < n; i++) {
			h[i].fd = -1;
			h[i].gen = 0;
			h[i].free_next = i + 1 < n ? (int)i + 1 : -1;
		}
		slot = (int)s->nhandles;
		s->nhandles = n;
	}
	s->handle_free = s->handles[slot].free_next;
	s->handles[slot].fd = fd;
	s->handles[slot].dir = dir;
	s->handles[slot].gen++;
	*fh = ((uint64_t)s->handles[slot].gen << 32) | (uint64_t)slot;
	return 0;
}

static struct fuse_handle *handle_get(struct fuse_server *s, uint64_t fh, bool dir)
{
	uint64_t slot = fh & 0xffffffffu;
	struct fuse_handle *h;

	if (slot >= s->nhandles)
		return NULL;
	h = &s->handles[slot];
	if (h->fd < 0 || h->gen != (uint32_t)(fh >> 32) || h->dir != dir)
		return NULL;
	return h;
}

int fuse_server_handle_fd(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct fuse_handle *h = handle_get(s, fh, dir);

	return h ? h->fd : -1;
}

int fuse_server_handle_close(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct fuse_handle *h = handle_get(s, fh, dir);

	if (!h)
		return -EBADF;
	close(h->fd);
	h->fd = -1;
	h->free_next = s->handle_free;
	s->handle_free = (int)(h - s->handles);
	return 0;
}

/* ---- session ---- */

/* Forget everything the guest held but the root (INIT and DESTROY). */
static void session_reset(struct fuse_server *s)
{
	for (unsigned int i = 1; i < s->ninodes; i++) {
		struct fuse_inode *in = slot_inode(s, i);

		if (in->fd < 0)
			continue;
		hash_remove(s, (int)i);
		close(in->fd);
		in->fd = -1;
		in->free_next = s->inode_free;
		s->inode_free = (int)i;
	}
	s->inodes_used = 1;
	for (unsigned int i = 0; i < s->nhandles; i++)
		if (s->handles[i].fd >= 0)
			fuse_server_handle_close(s, ((uint64_t)s->handles[i].gen << 32) | i,
			                         s->handles[i].dir);
}

static int op_init(struct fuse_req *r)
{
	const struct fuse_init_in *in = fuse_server_arg(r, 16);
	struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION};

	if (!in)
		return -EINVAL;
	if (in->major < FUSE_KERNEL_VERSION)
		return -EPROTO;
	if (in->major > FUSE_KERNEL_VERSION) {
		/* The kernel retries with our major. */
		o.minor = FUSE_SERVER_MINOR;
		return fuse_server_reply(r, &o, sizeof(o));
	}
	if (in->minor < FUSE_SERVER_MIN_MINOR) {
		log_warn("virtio-fs: guest FUSE 7.%u too old", in->minor);
		return -EPROTO;
	}
	session_reset(r->s);
	r->s->minor = in->minor < FUSE_SERVER_MINOR ? in->minor : FUSE_SERVER_MINOR;
	o.minor = r->s->minor;
	o.max_readahead = in->max_readahead;
	o.flags = in->flags & FUSE_SERVER_FLAGS;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FUSE_SERVER_MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = FUSE_SERVER_MAX_WRITE / 4096;
	r->s->initialized = true;
	return fuse_server_reply(r, &o, sizeof(o));
}

static int op_forget(struct fuse_req *r)
{
	r->no_reply = true;
	if (r->h.opcode == FUSE_FORGET) {
		const struct fuse_forget_in *f = fuse_server_arg(r, sizeof(*f));

		if (f)
			fuse_server_forget(r->s, r->h.nodeid, f->nlookup);
		return 0;
	}
	const struct fuse_batch_forget_in *b = fuse_server_arg(r, sizeof(*b));

	if (!b)
		return 0;
	/* count is guest data: take only the entries actually present. */
	size_t have = (r->arglen - sizeof(*b)) / sizeof(struct fuse_forget_one);

	for (size_t i = 0; i < b->count && i < have; i++) {
		struct fuse_forget_one one;

		memcpy(&one, r->arg + sizeof(*b) + i * sizeof(one), sizeof(one));
		fuse_server_forget(r->s, one.nodeid, one.nlookup);
	}
	return 0;
}

static int dispatch(struct fuse_req *r)
{
	switch (r->h.opcode) {
	case FUSE_INIT:
		return op_init(r);
	case FUSE_DESTROY:
		session_reset(r->s);
		r->s->initialized = false;
		return 0;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		return op_forget(r);
	case FUSE_INTERRUPT:
		/* Requests finish before the next is read: nothing to stop. */
		r->no_reply = true;
		return 0;
	case FUSE_LOOKUP:
		return fuse_server_op_lookup(r);
	case FUSE_GETATTR:
		return fuse_server_op_getattr(r);
	case FUSE_SETATTR:
		return fuse_server_op_setattr(r);
	case FUSE_READLINK:
		return fuse_server_op_readlink(r);
	case FUSE_SYMLINK:
		return fuse_server_op_symlink(r);
	case FUSE_MKNOD:
		return fuse_server_op_mknod(r);
	case FUSE_MKDIR:
		return fuse_server_op_mkdir(r);
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		return fuse_server_op_unlink(r);
	case FUSE_RENAME:
	case FUSE_RENAME2:
		return fuse_server_op_rename(r);
	case FUSE_LINK:
		return fuse_server_op_link(r);
	case FUSE_STATFS:
		return fuse_server_op_statfs(r);
	case FUSE_ACCESS:
		return fuse_server_op_access(r);
	case FUSE_SETXATTR:
		return fuse_server_op_setxattr(r);
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return fuse_server_op_getxattr(r);
	case FUSE_REMOVEXATTR:
		return fuse_server_op_removexattr(r);
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		return fuse_server_op_open(r);
	case FUSE_CREATE:
		return fuse_server_op_create(r);
	case FUSE_READ:
		return fuse_server_op_read(r);
	case FUSE_WRITE:
		return fuse_server_op_write(r);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return fuse_server_op_release(r);
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		return fuse_server_op_fsync(r);
	case FUSE_FLUSH:
		return fuse_server_op_flush(r);
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return fuse_server_op_readdir(r);
	case FUSE_FALLOCATE:
		return fuse_server_op_fallocate(r);
	case FUSE_LSEEK:
		return fuse_server_op_lseek(r);
	case FUSE_SYNCFS:
		return fuse_server_op_syncfs(r);
	default:
		return -ENOSYS;
	}
}

static bool takes_no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

int fuse_server_handle(struct fuse_server *s, const struct iovec *in, int in_cnt,
                       const struct iovec *out, int out_cnt, size_t *written)
{
	struct fuse_req r = {.s = s, .in = in, .in_cnt = in_cnt, .out = out, .out_cnt = out_cnt};
	size_t hl = sizeof(r.h), ext, copy;
	int ret;

	*written = 0;
	if (in_cnt < 0 || out_cnt < 0)
		return -1;
	r.in_len = iov_total(in, in_cnt);
	r.out_cap = iov_total(out, out_cnt);
	if (iov_copy(in, in_cnt, 0, &r.h, hl, false) < hl)
		return -1;
	if (r.out_cap < sizeof(struct fuse_out_header) && !takes_no_reply(r.h.opcode))
		return -1;

	ext = (size_t)r.h.total_extlen * 8;
	if (r.h.len < hl || r.h.len > r.in_len || r.h.len - hl < ext) {
		ret = -EINVAL;
		goto reply;
	}
	r.arglen = r.h.len - hl - ext;
	copy = r.arglen;
	if (r.h.opcode == FUSE_WRITE && copy > sizeof(struct fuse_write_in))
		copy = sizeof(struct fuse_write_in);
	if (copy > FUSE_SERVER_REQ_MAX) {
		ret = -E2BIG;
		goto reply;
	}
	iov_copy(in, in_cnt, hl, s->reqbuf, copy, false);
	r.arg = s->reqbuf;
	if (r.h.opcode != FUSE_WRITE)
		r.arglen = copy;

	if (!s->initialized && r.h.opcode != FUSE_INIT)
		ret = -EIO;
	else
		ret = dispatch(&r);
reply:
	if (takes_no_reply(r.h.opcode) || r.no_reply)
		return 0;
	if (ret > 0 || ret < -4095)
		ret = -EIO;
	if (ret < 0)
		reply_err(&r, ret);
	else if (r.written == 0)
		fuse_server_reply_len(&r, 0);
	*written = r.written;
	return 0;
}

/* Each inode the guest holds is an open fd, and a guest listing a big
 * directory holds thousands: lift the soft limit to the hard one, and as root
 * the hard one to the system's per-process maximum. */
static void raise_nofile(void)
{
	struct rlimit rl;
	char *buf = NULL;
	size_t len;
	struct err e;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (geteuid() == 0 && util_read_file("/proc/sys/fs/nr_open", 32, &buf, &len, &e) == 0) {
		rlim_t max = strtoull(buf, NULL, 10);

		if (max > rl.rlim_max)
			rl.rlim_max = max;
		free(buf);
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int fuse_server_new(struct fuse_server **out, const char *shared_dir, struct err *e)
{
	cleanup_close int fd = -1, proc = -1;
	struct fuse_server *s;
	struct stat st;

	fd = open(shared_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "virtio-fs: open shared directory %s", shared_dir);
	if (fstat(fd, &st) < 0)
		return err_sys(e, "virtio-fs: stat %s", shared_dir);
	proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return err_sys(e, "virtio-fs: open /proc/self/fd");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ENOMEM, "virtio-fs: out of memory");
	s->proc_fd = -1;
	s->nbuckets = 64;
	s->buckets = malloc(s->nbuckets * sizeof(*s->buckets));
	s->reqbuf = malloc(FUSE_SERVER_REQ_MAX);
	s->dirbuf = malloc(FUSE_SERVER_DIRBUF);
	s->inode_free = -1;
	s->handle_free = -1;
	if (!s->buckets || !s->reqbuf || !s->dirbuf || inode_slot_new(s) != 0) {
		fuse_server_free(s);
		return err_set(e, ENOMEM, "virtio-fs: out of memory");
	}
	for (unsigned int i = 0; i < s->nbuckets; i++)
		s->buckets[i] = -1;
	*slot_inode(s, 0) = (struct fuse_inode){
	        .fd = steal_fd(fd),
	        .dev = st.st_dev,
	        .ino = st.st_ino,
	        .type = S_IFDIR,
	        .nlookup = 1,
	        .hash_next = -1,
	        .free_next = -1,
	        .slot = 0,
	};
	s->inodes_used = 1;
	hash_insert(s, 0);
	s->proc_fd = steal_fd(proc);
	s->root = geteuid() == 0;
	raise_nofile();
	*out = s;
	return 0;
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	if (s->ninodes) {
		session_reset(s);
		if (slot_inode(s, 0)->fd >= 0)
			close(slot_inode(s, 0)->fd);
	}
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	for (unsigned int i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->buckets);
	free(s->handles);
	free(s->reqbuf);
	free(s->dirbuf);
	free(s);
}
