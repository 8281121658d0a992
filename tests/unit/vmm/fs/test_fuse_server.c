/* Unit tests for vmm/fs/fuse_server: FUSE requests built in buffers against
 * a temporary shared directory, including escape attempts and malformed
 * requests. Every request and reply is split over several iovecs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <seccomp.h>

#include "lib/util.h"
#include "vmm/fs/fuse_server.h"

#define HL     sizeof(struct fuse_in_header)
#define OUTMAX (512 * 1024)

static char dir[64];
static struct fuse_server *srv;
static uint64_t unique;
static uint32_t req_uid, req_gid;
static uint8_t *reqbuf, *outbuf;
static int fds_before;

/* Reply of the last call. */
static int32_t rerr;
static size_t rlen; /* payload bytes after the header */
static uint8_t *rdata;

static void path_of(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", dir, rel);
}

/* Send opcode on nodeid with arg + up to two strings; split the request
 * and the reply over several iovecs at odd places. Returns the error. */
static int call_out(uint32_t op, uint64_t nodeid, const void *arg, size_t arglen, const char *s1,
                    const char *s2, size_t outcap)
{
	struct fuse_in_header *h = (void *)reqbuf;
	size_t len = HL, a, b;
	struct iovec in[3], out[3];
	size_t written;
	struct fuse_out_header oh;

	if (arglen)
		memcpy(reqbuf + len, arg, arglen);
	len += arglen;
	if (s1) {
		memcpy(reqbuf + len, s1, strlen(s1) + 1);
		len += strlen(s1) + 1;
	}
	if (s2) {
		memcpy(reqbuf + len, s2, strlen(s2) + 1);
		len += strlen(s2) + 1;
	}
	*h = (struct fuse_in_header){.len = (uint32_t)len,
	                             .opcode = op,
	                             .unique = ++unique,
	                             .nodeid = nodeid,
	                             .uid = req_uid,
	                             .gid = req_gid,
	                             .pid = 1};
	a = len < 5 ? len : 5;
	b = len - a < HL - 2 ? len - a : HL - 2;
	in[0] = (struct iovec){reqbuf, a};
	in[1] = (struct iovec){reqbuf + a, b};
	in[2] = (struct iovec){reqbuf + a + b, len - a - b};
	a = outcap < 10 ? outcap : 10;
	b = outcap - a < 90 ? outcap - a : 90;
	out[0] = (struct iovec){outbuf, a};
	out[1] = (struct iovec){outbuf + a, b};
	out[2] = (struct iovec){outbuf + a + b, outcap - a - b};
	assert_int_equal(fuse_server_handle(srv, in, 3, out, 3, &written), 0);
	if (written == 0) {
		rerr = 1; /* marker: no reply */
		return rerr;
	}
	assert_true(written >= sizeof(oh) && written <= outcap);
	memcpy(&oh, outbuf, sizeof(oh));
	assert_int_equal(oh.len, written);
	assert_int_equal(oh.unique, unique);
	rerr = oh.error;
	rlen = written - sizeof(oh);
	rdata = outbuf + sizeof(oh);
	if (rerr)
		assert_int_equal(rlen, 0);
	return rerr;
}

static int call(uint32_t op, uint64_t nodeid, const void *arg, size_t arglen, const char *s1,
                const char *s2)
{
	return call_out(op, nodeid, arg, arglen, s1, s2, OUTMAX);
}

static void do_init(uint32_t minor)
{
	struct fuse_init_in in = {
	        .major = 7, .minor = minor, .max_readahead = 65536, .flags = 0xffffffffu};

	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	struct err e;

	(void)state;
	strcpy(dir, "/tmp/hako-test-fuse.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	reqbuf = malloc(OUTMAX);
	outbuf = malloc(OUTMAX);
	req_uid = getuid();
	req_gid = getgid();
	fds_before = count_fds();
	if (fuse_server_new(&srv, dir, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	do_init(37);
	return 0;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	fuse_server_free(srv);
	free(reqbuf);
	free(outbuf);
	/* Every inode and handle fd was closed. */
	if (count_fds() != fds_before) {
		fprintf(stderr, "fd leak: %d -> %d\n", fds_before, count_fds());
		return -1;
	}
	return util_rm_rf(dir, &e);
}

static struct fuse_entry_out lookup_ok(uint64_t parent, const char *name)
{
	struct fuse_entry_out eo;

	assert_int_equal(call(FUSE_LOOKUP, parent, NULL, 0, name, NULL), 0);
	assert_int_equal(rlen, sizeof(eo));
	memcpy(&eo, rdata, sizeof(eo));
	assert_true(eo.nodeid != 0);
	return eo;
}

static struct fuse_attr getattr_ok(uint64_t node)
{
	struct fuse_getattr_in in = {0};
	struct fuse_attr_out ao;

	assert_int_equal(call(FUSE_GETATTR, node, &in, sizeof(in), NULL, NULL), 0);
	assert_int_equal(rlen, sizeof(ao));
	memcpy(&ao, rdata, sizeof(ao));
	return ao.attr;
}

/* CREATE name under parent; returns the entry, *fh the handle. */
static struct fuse_entry_out create_ok(uint64_t parent, const char *name, uint32_t mode,
                                       uint64_t *fh)
{
	struct fuse_create_in in = {.flags = O_RDWR | O_CREAT, .mode = S_IFREG | mode};
	struct fuse_entry_out eo;
	struct fuse_open_out oo;

	assert_int_equal(call(FUSE_CREATE, parent, &in, sizeof(in), name, NULL), 0);
	assert_int_equal(rlen, sizeof(eo) + sizeof(oo));
	memcpy(&eo, rdata, sizeof(eo));
	memcpy(&oo, rdata + sizeof(eo), sizeof(oo));
	*fh = oo.fh;
	return eo;
}

static uint64_t open_ok(uint64_t node, uint32_t op, uint32_t flags)
{
	struct fuse_open_in in = {.flags = flags};
	struct fuse_open_out oo;

	assert_int_equal(call(op, node, &in, sizeof(in), NULL, NULL), 0);
	memcpy(&oo, rdata, sizeof(oo));
	return oo.fh;
}

static void release(uint64_t node, uint64_t fh, uint32_t op)
{
	struct fuse_release_in in = {.fh = fh};

	assert_int_equal(call(op, node, &in, sizeof(in), NULL, NULL), 0);
}

/* WRITE len bytes of data: the data goes in the request after write_in. */
static int write_data(uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len)
{
	size_t argl = sizeof(struct fuse_write_in) + len;
	uint8_t *arg = malloc(argl);
	struct fuse_write_in wi = {.fh = fh, .offset = off, .size = len};
	int ret;

	memcpy(arg, &wi, sizeof(wi));
	memcpy(arg + sizeof(wi), data, len);
	ret = call(FUSE_WRITE, node, arg, argl, NULL, NULL);
	free(arg);
	return ret;
}

static int read_data(uint64_t node, uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in ri = {.fh = fh, .offset = off, .size = size};

	return call(FUSE_READ, node, &ri, sizeof(ri), NULL, NULL);
}

static void forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in fi = {.nlookup = n};

	assert_int_equal(call(FUSE_FORGET, node, &fi, sizeof(fi), NULL, NULL), 1);
}

static void test_init(void **state)
{
	struct fuse_init_in in = {.major = 7,
	                          .minor = 36,
	                          .flags =
	                                  FUSE_DO_READDIRPLUS | FUSE_POSIX_LOCKS | FUSE_ASYNC_READ};
	struct fuse_init_out o;

	(void)state;
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
	assert_int_equal(rlen, sizeof(o));
	memcpy(&o, rdata, sizeof(o));
	assert_int_equal(o.major, 7);
	assert_int_equal(o.minor, 36);
	/* Only flags the kernel offered, and no locks (they stay in the guest). */
	assert_int_equal(o.flags, FUSE_DO_READDIRPLUS | FUSE_ASYNC_READ);
	assert_true(o.max_write >= 128 * 1024);
	in.minor = 40;
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
	memcpy(&o, rdata, sizeof(o));
	assert_int_equal(o.minor, 38);
	in.minor = 20;
	assert_int_equal(call(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), -EPROTO);
	/* The 16-byte INIT of older kernels is enough. */
	in.minor = 31;
	assert_int_equal(call(FUSE_INIT, 0, &in, 16, NULL, NULL), 0);
	/* After DESTROY nothing but INIT is served. */
	assert_int_equal(call(FUSE_DESTROY, 0, NULL, 0, NULL, NULL), 0);
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "x", NULL), -EIO);
	do_init(37);
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "x", NULL), -ENOENT);
	assert_int_equal(call(4000, FUSE_ROOT_ID, NULL, 0, NULL, NULL), -ENOSYS);
}

static void test_nofile_raised(void **state)
{
	struct rlimit rl;

	(void)state;
	/* Every inode the guest holds is an fd: the soft limit is lifted. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == rl.rlim_max);
}

static void test_lookup_getattr(void **state)
{
	char p[128];
	struct stat st;
	struct fuse_entry_out eo, eo2;
	struct fuse_attr a;
	struct err e;

	(void)state;
	path_of(p, sizeof(p), "hello");
	assert_int_equal(util_write_file(p, "hello world", 11, 0644, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	eo = lookup_ok(FUSE_ROOT_ID, "hello");
	assert_int_equal(eo.attr.size, 11);
	assert_int_equal(eo.attr.ino, st.st_ino);
	assert_int_equal(eo.attr.mode, st.st_mode);
	eo2 = lookup_ok(FUSE_ROOT_ID, "hello");
	assert_int_equal(eo2.nodeid, eo.nodeid);
	a = getattr_ok(eo.nodeid);
	assert_int_equal(a.size, 11);
	assert_int_equal(a.uid, st.st_uid);
	a = getattr_ok(FUSE_ROOT_ID);
	assert_true(S_ISDIR(a.mode));
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "nope", NULL), -ENOENT);
	/* Two lookups, two forgets: then the nodeid is gone. */
	forget(eo.nodeid, 1);
	getattr_ok(eo.nodeid);
	forget(eo.nodeid, 1);
	assert_int_equal(call(FUSE_GETATTR, eo.nodeid, &(struct fuse_getattr_in){0},
	                      sizeof(struct fuse_getattr_in), NULL, NULL),
	                 -ESTALE);
	/* A new lookup gets a different nodeid for the reused slot. */
	eo2 = lookup_ok(FUSE_ROOT_ID, "hello");
	assert_true(eo2.nodeid != eo.nodeid);
	assert_int_equal(call(FUSE_GETATTR, eo.nodeid, &(struct fuse_getattr_in){0},
	                      sizeof(struct fuse_getattr_in), NULL, NULL),
	                 -ESTALE);
}

static void test_create_write_read(void **state)
{
	enum { BIG = 256 * 1024 };
	uint8_t *big = malloc(BIG);
	struct fuse_entry_out eo;
	struct fuse_write_out wo;
	char p[128];
	struct stat st;
	uint64_t fh;

	(void)state;
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	eo = create_ok(FUSE_ROOT_ID, "data", 0666, &fh);
	path_of(p, sizeof(p), "data");
	assert_int_equal(stat(p, &st), 0);
	/* The mode is what the guest asked for, whatever the VMM's umask. */
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(eo.attr.ino, st.st_ino);
	assert_int_equal(write_data(eo.nodeid, fh, 0, big, BIG), 0);
	memcpy(&wo, rdata, sizeof(wo));
	assert_int_equal(wo.size, BIG);
	assert_int_equal(write_data(eo.nodeid, fh, BIG, "tail", 4), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, BIG + 4);
	assert_int_equal(read_data(eo.nodeid, fh, 0, BIG), 0);
	assert_int_equal(rlen, BIG);
	assert_memory_equal(rdata, big, BIG);
	/* Short read at EOF; reply limited by the reply buffer. */
	assert_int_equal(read_data(eo.nodeid, fh, BIG - 2, 100), 0);
	assert_int_equal(rlen, 6);
	assert_memory_equal(rdata + 2, "tail", 4);
	struct fuse_read_in ri = {.fh = fh, .offset = 0, .size = 4096};
	assert_int_equal(call_out(FUSE_READ, eo.nodeid, &ri, sizeof(ri), NULL, NULL, 16 + 50), 0);
	assert_int_equal(rlen, 50);
	assert_memory_equal(rdata, big, 50);
	struct fuse_fsync_in fi = {.fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC};
	assert_int_equal(call(FUSE_FSYNC, eo.nodeid, &fi, sizeof(fi), NULL, NULL), 0);
	struct fuse_flush_in fl = {.fh = fh};
	assert_int_equal(call(FUSE_FLUSH, eo.nodeid, &fl, sizeof(fl), NULL, NULL), 0);
	release(eo.nodeid, fh, FUSE_RELEASE);
	/* The handle is gone. */
	assert_int_equal(read_data(eo.nodeid, fh, 0, 10), -EBADF);
	assert_int_equal(call(FUSE_FLUSH, eo.nodeid, &fl, sizeof(fl), NULL, NULL), -EBADF);
	/* OPEN read-only, O_TRUNC through OPEN. */
	fh = open_ok(eo.nodeid, FUSE_OPEN, O_RDONLY);
	assert_int_equal(write_data(eo.nodeid, fh, 0, "x", 1), -EBADF);
	release(eo.nodeid, fh, FUSE_RELEASE);
	fh = open_ok(eo.nodeid, FUSE_OPEN, O_WRONLY | O_TRUNC);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	release(eo.nodeid, fh, FUSE_RELEASE);
	/* CREATE O_EXCL of an existing name fails; without O_EXCL it opens. */
	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0600};
	assert_int_equal(call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "data", NULL), -EEXIST);
	create_ok(FUSE_ROOT_ID, "data", 0600, &fh);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	release(eo.nodeid, fh, FUSE_RELEASE);
	free(big);
}

static void test_ownership(void **state)
{
	struct fuse_mkdir_in mi = {.mode = 0750};
	struct fuse_entry_out eo;
	char p[128];
	struct stat st;
	uint64_t fh;

	(void)state;
	if (geteuid() != 0)
		skip();
	req_uid = 1234;
	req_gid = 5678;
	eo = create_ok(FUSE_ROOT_ID, "owned", 0640, &fh);
	assert_int_equal(eo.attr.uid, 1234);
	assert_int_equal(eo.attr.gid, 5678);
	release(eo.nodeid, fh, FUSE_RELEASE);
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "odir", NULL), 0);
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "olink", "owned"), 0);
	path_of(p, sizeof(p), "owned");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mode & 07777, 0640);
	path_of(p, sizeof(p), "odir");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_mode & 07777, 0750);
	path_of(p, sizeof(p), "olink");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	/* A setgid directory passes its group on. */
	assert_int_equal(chmod(dir, 02755), 0);
	req_gid = 42;
	eo = create_ok(FUSE_ROOT_ID, "sg", 0600, &fh);
	release(eo.nodeid, fh, FUSE_RELEASE);
	assert_int_equal(eo.attr.gid, getgid());
	assert_int_equal(chmod(dir, 0700), 0);
	req_uid = getuid();
	req_gid = getgid();
}

static void test_dirs_rename_link_symlink(void **state)
{
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_entry_out d, f, g, l;
	struct fuse_rename_in rn;
	struct fuse_rename2_in r2 = {0};
	struct fuse_link_in li;
	char p[128], q[128];
	struct stat st;
	uint64_t fh;

	(void)state;
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "d", NULL), 0);
	memcpy(&d, rdata, sizeof(d));
	assert_true(S_ISDIR(d.attr.mode));
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "d", NULL), -EEXIST);
	f = create_ok(d.nodeid, "f", 0644, &fh);
	assert_int_equal(write_data(f.nodeid, fh, 0, "abc", 3), 0);
	release(f.nodeid, fh, FUSE_RELEASE);
	path_of(p, sizeof(p), "d/f");
	assert_int_equal(stat(p, &st), 0);

	/* RENAME d/f -> g (root). */
	rn.newdir = FUSE_ROOT_ID;
	assert_int_equal(call(FUSE_RENAME, d.nodeid, &rn, sizeof(rn), "f", "g"), 0);
	path_of(p, sizeof(p), "g");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	g = create_ok(FUSE_ROOT_ID, "h", 0644, &fh);
	release(g.nodeid, fh, FUSE_RELEASE);
	/* RENAME2 NOREPLACE onto an existing name, EXCHANGE, bad flags. */
	r2.newdir = FUSE_ROOT_ID;
	r2.flags = RENAME_NOREPLACE;
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, &r2, sizeof(r2), "g", "h"), -EEXIST);
	r2.flags = RENAME_EXCHANGE;
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, &r2, sizeof(r2), "g", "h"), 0);
	path_of(p, sizeof(p), "h");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	r2.flags = RENAME_WHITEOUT;
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, &r2, sizeof(r2), "g", "h"), -EINVAL);
	r2.flags = RENAME_NOREPLACE;
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, &r2, sizeof(r2), "g", "g2"), 0);

	/* LINK h -> d/hl: same host inode, same nodeid. */
	memcpy(&li, &(struct fuse_link_in){.oldnodeid = f.nodeid}, sizeof(li));
	assert_int_equal(call(FUSE_LINK, d.nodeid, &li, sizeof(li), "hl", NULL), 0);
	memcpy(&l, rdata, sizeof(l));
	assert_int_equal(l.nodeid, f.nodeid);
	assert_int_equal(l.attr.nlink, 2);
	path_of(q, sizeof(q), "d/hl");
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	li.oldnodeid = d.nodeid;
	assert_int_equal(call(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), "dl", NULL), -EPERM);

	/* SYMLINK + READLINK; the target is only text. */
	assert_int_equal(call(FUSE_SYMLINK, d.nodeid, NULL, 0, "sl", "../h"), 0);
	memcpy(&l, rdata, sizeof(l));
	assert_true(S_ISLNK(l.attr.mode));
	assert_int_equal(call(FUSE_READLINK, l.nodeid, NULL, 0, NULL, NULL), 0);
	assert_int_equal(rlen, 4);
	assert_memory_equal(rdata, "../h", 4);
	assert_int_equal(call(FUSE_READLINK, d.nodeid, NULL, 0, NULL, NULL), -EINVAL);

	/* UNLINK, RMDIR. */
	assert_int_equal(call(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "d", NULL), -ENOTEMPTY);
	assert_int_equal(call(FUSE_UNLINK, d.nodeid, NULL, 0, "hl", NULL), 0);
	assert_int_equal(call(FUSE_UNLINK, d.nodeid, NULL, 0, "sl", NULL), 0);
	assert_int_equal(call(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "d", NULL), -EISDIR);
	assert_int_equal(call(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "d", NULL), 0);
	assert_int_equal(stat(q, &st), -1);
	path_of(p, sizeof(p), "d");
	assert_int_equal(stat(p, &st), -1);
	/* A removed directory the guest still holds answers GETATTR. */
	assert_int_equal(getattr_ok(d.nodeid).nlink, 0);

	/* MKNOD: a fifo and a device node. */
	struct fuse_mknod_in mk = {.mode = S_IFIFO | 0600};
	assert_int_equal(call(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "fifo", NULL), 0);
	path_of(p, sizeof(p), "fifo");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	mk.mode = S_IFREG | 0640;
	assert_int_equal(call(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "plain", NULL), 0);
	path_of(p, sizeof(p), "plain");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	mk.mode = S_IFDIR | 0755;
	assert_int_equal(call(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "mkdir", NULL), -EINVAL);
}

/* Collect READDIR(PLUS) names until the end, in small reply buffers. */
static int list_dir(uint64_t node, uint32_t op, uint32_t bufsize, char names[][32], int max,
                    uint64_t *nodeids)
{
	uint64_t fh = open_ok(node, FUSE_OPENDIR, O_RDONLY), off = 0;
	int n = 0;

	for (;;) {
		struct fuse_read_in ri = {.fh = fh, .offset = off, .size = bufsize};
		size_t pos = 0;

		assert_int_equal(call(op, node, &ri, sizeof(ri), NULL, NULL), 0);
		assert_true(rlen <= bufsize);
		if (rlen == 0)
			break;
		while (pos < rlen) {
			struct fuse_dirent de;
			size_t base = 0;

			if (op == FUSE_READDIRPLUS) {
				struct fuse_entry_out eo;

				memcpy(&eo, rdata + pos, sizeof(eo));
				nodeids[n] = eo.nodeid;
				base = sizeof(eo);
			}
			memcpy(&de, rdata + pos + base, sizeof(de));
			assert_true(n < max && de.namelen < 32);
			memcpy(names[n], rdata + pos + base + sizeof(de), de.namelen);
			names[n][de.namelen] = '\0';
			n++;
			off = de.off;
			pos += FUSE_DIRENT_ALIGN(base + sizeof(de) + de.namelen);
		}
		assert_int_equal(pos, rlen);
	}
	release(node, fh, FUSE_RELEASEDIR);
	return n;
}

static bool has(char names[][32], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void test_readdir(void **state)
{
	static char names[200][32];
	uint64_t nodeids[200];
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_entry_out d;
	char p[128], name[32];
	struct err e;
	int n;

	(void)state;
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "ls", NULL), 0);
	memcpy(&d, rdata, sizeof(d));
	for (int i = 0; i < 100; i++) {
		snprintf(p, sizeof(p), "%s/ls/file-%03d", dir, i);
		assert_int_equal(util_write_file(p, "x", 1, 0644, &e), 0);
	}
	n = list_dir(d.nodeid, FUSE_READDIR, 200, names, 200, NULL);
	assert_int_equal(n, 102);
	assert_true(has(names, n, ".") && has(names, n, ".."));
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		assert_true(has(names, n, name));
	}
	n = list_dir(d.nodeid, FUSE_READDIRPLUS, 1000, names, 200, nodeids);
	assert_int_equal(n, 102);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], ".") == 0 || strcmp(names[i], "..") == 0) {
			assert_int_equal(nodeids[i], 0);
			continue;
		}
		/* Each entry counted one lookup: getattr works, forget drops it. */
		struct fuse_attr a = getattr_ok(nodeids[i]);
		assert_int_equal(a.size, 1);
		forget(nodeids[i], 1);
		assert_int_equal(call(FUSE_GETATTR, nodeids[i], &(struct fuse_getattr_in){0},
		                      sizeof(struct fuse_getattr_in), NULL, NULL),
		                 -ESTALE);
	}
	/* A reply buffer smaller than one entry: empty reply, not an error. */
	uint64_t fh = open_ok(d.nodeid, FUSE_OPENDIR, O_RDONLY);
	struct fuse_read_in ri = {.fh = fh, .size = 8};
	assert_int_equal(call(FUSE_READDIRPLUS, d.nodeid, &ri, sizeof(ri), NULL, NULL), 0);
	assert_int_equal(rlen, 0);
	struct fuse_fsync_in fi = {.fh = fh};
	assert_int_equal(call(FUSE_FSYNCDIR, d.nodeid, &fi, sizeof(fi), NULL, NULL), 0);
	/* A directory handle is not a file handle and vice versa. */
	assert_int_equal(read_data(d.nodeid, fh, 0, 10), -EBADF);
	release(d.nodeid, fh, FUSE_RELEASEDIR);
	assert_int_equal(call(FUSE_READDIR, d.nodeid, &ri, sizeof(ri), NULL, NULL), -EBADF);
	struct fuse_open_in oi = {.flags = O_RDONLY};
	assert_int_equal(call(FUSE_OPEN, d.nodeid, &oi, sizeof(oi), NULL, NULL), -EISDIR);
}

static void test_setattr_statfs(void **state)
{
	struct fuse_setattr_in si = {0};
	struct fuse_entry_out eo;
	struct fuse_attr_out ao;
	char p[128];
	struct stat st;
	uint64_t fh;

	(void)state;
	eo = create_ok(FUSE_ROOT_ID, "attrs", 0644, &fh);
	path_of(p, sizeof(p), "attrs");
	si.valid = FATTR_SIZE;
	si.size = 12345;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	memcpy(&ao, rdata, sizeof(ao));
	assert_int_equal(ao.attr.size, 12345);
	si.valid = FATTR_SIZE | FATTR_FH;
	si.fh = fh;
	si.size = 10;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 10);
	si.valid = FATTR_MODE;
	si.mode = S_IFREG | 0600;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	si.valid = FATTR_ATIME | FATTR_MTIME;
	si.atime = 1000000;
	si.atimensec = 5;
	si.mtime = 2000000;
	si.mtimensec = 7;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	si.valid = FATTR_MTIME | FATTR_MTIME_NOW;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mtim.tv_sec > 2000000);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	if (geteuid() == 0) {
		si.valid = FATTR_UID | FATTR_GID;
		si.uid = 777;
		si.gid = 888;
		assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_uid, 777);
		assert_int_equal(st.st_gid, 888);
	}
	si.valid = FATTR_SIZE | FATTR_FH;
	si.fh = fh + 1;
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), -EBADF);
	si.valid = FATTR_SIZE;
	assert_int_equal(call(FUSE_SETATTR, FUSE_ROOT_ID, &si, sizeof(si), NULL, NULL), -EISDIR);
	release(eo.nodeid, fh, FUSE_RELEASE);

	struct fuse_statfs_out so;
	assert_int_equal(call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, NULL), 0);
	assert_int_equal(rlen, sizeof(so));
	memcpy(&so, rdata, sizeof(so));
	assert_true(so.st.blocks > 0 && so.st.bsize > 0 && so.st.namelen == 255);

	struct fuse_access_in ai = {.mask = R_OK | W_OK};
	assert_int_equal(call(FUSE_ACCESS, eo.nodeid, &ai, sizeof(ai), NULL, NULL), 0);
	ai.mask = X_OK;
	assert_int_equal(call(FUSE_ACCESS, eo.nodeid, &ai, sizeof(ai), NULL, NULL), -EACCES);
}

static void test_xattr(void **state)
{
	struct fuse_entry_out eo;
	struct fuse_getxattr_in gi = {0};
	struct fuse_getxattr_out go;
	uint8_t arg[64];
	struct fuse_setxattr_in si = {.size = 5};
	char p[128];
	uint64_t fh;

	(void)state;
	eo = create_ok(FUSE_ROOT_ID, "xa", 0644, &fh);
	release(eo.nodeid, fh, FUSE_RELEASE);
	path_of(p, sizeof(p), "xa");
	if (setxattr(p, "user.probe", "1", 1, 0) < 0)
		skip(); /* the temp directory's filesystem has no user xattrs */
	memcpy(arg, &si, 8);
	memcpy(arg + 8, "user.k\0value", 12);
	assert_int_equal(call(FUSE_SETXATTR, eo.nodeid, arg, 8 + 12, NULL, NULL), 0);
	/* Value size past the request: rejected. */
	si.size = 500;
	memcpy(arg, &si, 8);
	assert_int_equal(call(FUSE_SETXATTR, eo.nodeid, arg, 8 + 12, NULL, NULL), -EINVAL);
	assert_int_equal(call(FUSE_GETXATTR, eo.nodeid, &gi, sizeof(gi), "user.k", NULL), 0);
	memcpy(&go, rdata, sizeof(go));
	assert_int_equal(go.size, 5);
	gi.size = 100;
	assert_int_equal(call(FUSE_GETXATTR, eo.nodeid, &gi, sizeof(gi), "user.k", NULL), 0);
	assert_int_equal(rlen, 5);
	assert_memory_equal(rdata, "value", 5);
	gi.size = 2;
	assert_int_equal(call(FUSE_GETXATTR, eo.nodeid, &gi, sizeof(gi), "user.k", NULL), -ERANGE);
	gi.size = 100;
	assert_int_equal(call(FUSE_GETXATTR, eo.nodeid, &gi, sizeof(gi), "user.none", NULL),
	                 -ENODATA);
	assert_int_equal(call(FUSE_LISTXATTR, eo.nodeid, &gi, sizeof(gi), NULL, NULL), 0);
	assert_non_null(memmem(rdata, rlen, "user.k\0", 7));
	assert_int_equal(call(FUSE_REMOVEXATTR, eo.nodeid, NULL, 0, "user.k", NULL), 0);
	assert_int_equal(call(FUSE_GETXATTR, eo.nodeid, &gi, sizeof(gi), "user.k", NULL), -ENODATA);
	/* Directories too; symlinks are never opened. */
	gi.size = 0;
	assert_int_equal(call(FUSE_LISTXATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, NULL), 0);
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "xl", "xa"), 0);
	memcpy(&eo, rdata, sizeof(eo));
	assert_int_equal(call(FUSE_LISTXATTR, eo.nodeid, &gi, sizeof(gi), NULL, NULL), -EOPNOTSUPP);
}

static void test_fallocate_lseek(void **state)
{
	struct fuse_entry_out eo;
	struct fuse_fallocate_in fa;
	struct fuse_lseek_in li;
	struct fuse_lseek_out lo;
	struct fuse_setattr_in si = {.valid = FATTR_SIZE, .size = 1 << 20};
	char p[128];
	struct stat st;
	uint64_t fh;

	(void)state;
	eo = create_ok(FUSE_ROOT_ID, "sparse", 0644, &fh);
	path_of(p, sizeof(p), "sparse");
	fa = (struct fuse_fallocate_in){.fh = fh, .offset = 0, .length = 8192};
	assert_int_equal(call(FUSE_FALLOCATE, eo.nodeid, &fa, sizeof(fa), NULL, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_true(st.st_blocks >= 16);
	fa.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	assert_int_equal(call(FUSE_FALLOCATE, eo.nodeid, &fa, sizeof(fa), NULL, NULL), 0);
	assert_int_equal(call(FUSE_SETATTR, eo.nodeid, &si, sizeof(si), NULL, NULL), 0);
	assert_int_equal(write_data(eo.nodeid, fh, 65536, "data", 4), 0);
	li = (struct fuse_lseek_in){.fh = fh, .offset = 0, .whence = SEEK_DATA};
	assert_int_equal(call(FUSE_LSEEK, eo.nodeid, &li, sizeof(li), NULL, NULL), 0);
	memcpy(&lo, rdata, sizeof(lo));
	assert_true(lo.offset <= 65536);
	li.offset = 65536;
	li.whence = SEEK_HOLE;
	assert_int_equal(call(FUSE_LSEEK, eo.nodeid, &li, sizeof(li), NULL, NULL), 0);
	memcpy(&lo, rdata, sizeof(lo));
	assert_true(lo.offset >= 65540 && lo.offset <= (1 << 20));
	li.offset = 2 << 20;
	li.whence = SEEK_DATA;
	assert_int_equal(call(FUSE_LSEEK, eo.nodeid, &li, sizeof(li), NULL, NULL), -ENXIO);
	li.whence = 99;
	assert_int_equal(call(FUSE_LSEEK, eo.nodeid, &li, sizeof(li), NULL, NULL), -EINVAL);
	release(eo.nodeid, fh, FUSE_RELEASE);
	assert_int_equal(call(FUSE_SYNCFS, FUSE_ROOT_ID, &(uint64_t){0}, 8, NULL, NULL), 0);
}

static void test_batch_forget(void **state)
{
	struct fuse_entry_out a, b;
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one[2];
	} bf;
	char p[128];
	struct err e;

	(void)state;
	path_of(p, sizeof(p), "b1");
	assert_int_equal(util_write_file(p, "1", 1, 0644, &e), 0);
	path_of(p, sizeof(p), "b2");
	assert_int_equal(util_write_file(p, "2", 1, 0644, &e), 0);
	a = lookup_ok(FUSE_ROOT_ID, "b1");
	b = lookup_ok(FUSE_ROOT_ID, "b2");
	bf.h = (struct fuse_batch_forget_in){.count = 2};
	bf.one[0] = (struct fuse_forget_one){a.nodeid, 1};
	bf.one[1] = (struct fuse_forget_one){b.nodeid, 1};
	assert_int_equal(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, NULL), 1);
	assert_int_equal(call(FUSE_GETATTR, a.nodeid, &(struct fuse_getattr_in){0},
	                      sizeof(struct fuse_getattr_in), NULL, NULL),
	                 -ESTALE);
	/* A count larger than the entries sent only takes those present. */
	a = lookup_ok(FUSE_ROOT_ID, "b1");
	bf.h.count = 1000000;
	bf.one[0] = (struct fuse_forget_one){a.nodeid, 1};
	assert_int_equal(
	        call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf.h) + sizeof(bf.one[0]), NULL, NULL), 1);
	assert_int_equal(call(FUSE_GETATTR, a.nodeid, &(struct fuse_getattr_in){0},
	                      sizeof(struct fuse_getattr_in), NULL, NULL),
	                 -ESTALE);
	/* Forgetting the root or an unknown node is ignored. */
	forget(FUSE_ROOT_ID, 100);
	forget(0xdeadbeef00000007ull, 1);
	getattr_ok(FUSE_ROOT_ID);
	struct fuse_interrupt_in ii = {.unique = 1};
	assert_int_equal(call(FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL, NULL), 1);
}

static void test_escape(void **state)
{
	struct fuse_entry_out eo, up, sl;
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct stat st, rst;
	char p[128];

	(void)state;
	assert_int_equal(stat(dir, &rst), 0);
	/* ".." at the root stays at the root. */
	up = lookup_ok(FUSE_ROOT_ID, "..");
	assert_int_equal(up.nodeid, FUSE_ROOT_ID);
	assert_int_equal(up.attr.ino, rst.st_ino);
	up = lookup_ok(FUSE_ROOT_ID, ".");
	assert_int_equal(up.nodeid, FUSE_ROOT_ID);
	/* ".." of a subdirectory is the root, same nodeid. */
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "sub", NULL), 0);
	memcpy(&eo, rdata, sizeof(eo));
	up = lookup_ok(eo.nodeid, "..");
	assert_int_equal(up.nodeid, FUSE_ROOT_ID);
	/* Names with '/' are refused everywhere. */
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "../etc", NULL), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "/etc", NULL), -EINVAL);
	assert_int_equal(call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "", NULL), -EINVAL);
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "a/b", NULL), -EINVAL);
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "..", NULL), -EEXIST);
	assert_int_equal(call(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "../x", NULL), -EINVAL);
	assert_int_equal(call(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "..", NULL), -EBUSY);
	struct fuse_rename_in rn = {.newdir = FUSE_ROOT_ID};
	assert_int_equal(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "sub", "../../tmp/x"),
	                 -EINVAL);
	assert_int_equal(call(FUSE_RENAME, eo.nodeid, &rn, sizeof(rn), "..", "y"), -EINVAL);
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "x/y", "/etc"), -EINVAL);
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = S_IFREG | 0644};
	assert_int_equal(call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "../evil", NULL),
	                 -EINVAL);
	path_of(p, sizeof(p), "../evil");
	assert_int_equal(stat(p, &st), -1);

	/* A symlink to /etc inside the share: a lookup through it does not
	 * reach the host's /etc. */
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "etc", "/etc"), 0);
	memcpy(&sl, rdata, sizeof(sl));
	assert_true(S_ISLNK(sl.attr.mode));
	sl = lookup_ok(FUSE_ROOT_ID, "etc");
	assert_true(S_ISLNK(sl.attr.mode));
	assert_int_equal(call(FUSE_LOOKUP, sl.nodeid, NULL, 0, "passwd", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_LOOKUP, sl.nodeid, NULL, 0, ".", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_LOOKUP, sl.nodeid, NULL, 0, "..", NULL), -ENOTDIR);
	struct fuse_open_in oi = {.flags = O_RDONLY};
	assert_int_equal(call(FUSE_OPEN, sl.nodeid, &oi, sizeof(oi), NULL, NULL), -ENXIO);
	assert_int_equal(call(FUSE_OPENDIR, sl.nodeid, &oi, sizeof(oi), NULL, NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_MKDIR, sl.nodeid, &mi, sizeof(mi), "x", NULL), -ENOTDIR);
	struct fuse_setattr_in si = {.valid = FATTR_SIZE, .size = 0};
	assert_int_equal(call(FUSE_SETATTR, sl.nodeid, &si, sizeof(si), NULL, NULL), -EINVAL);
	si.valid = FATTR_MODE;
	si.mode = 0777;
	assert_int_equal(call(FUSE_SETATTR, sl.nodeid, &si, sizeof(si), NULL, NULL), -EOPNOTSUPP);
	assert_int_equal(stat("/etc", &st), 0);
	assert_true((st.st_mode & 07777) != 0777);
	/* Creating under the symlink's name does not follow it either. */
	assert_int_equal(call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "etc", NULL), -EEXIST);
	/* A symlink whose name is reused as a new symlink target is data. */
	assert_int_equal(call(FUSE_READLINK, sl.nodeid, NULL, 0, NULL, NULL), 0);
	assert_memory_equal(rdata, "/etc", 4);

	/* Device nodes made by the guest are never opened on the host. */
	if (geteuid() == 0) {
		struct fuse_mknod_in mk = {.mode = S_IFCHR | 0666, .rdev = (1 << 8) | 3};
		assert_int_equal(call(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "null", NULL), 0);
		memcpy(&eo, rdata, sizeof(eo));
		path_of(p, sizeof(p), "null");
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(major(st.st_rdev), 1);
		assert_int_equal(minor(st.st_rdev), 3);
		assert_int_equal(eo.attr.rdev, (1 << 8) | 3);
		oi.flags = O_RDWR;
		assert_int_equal(call(FUSE_OPEN, eo.nodeid, &oi, sizeof(oi), NULL, NULL), -ENXIO);
		struct fuse_getxattr_in gi = {0};
		assert_int_equal(call(FUSE_LISTXATTR, eo.nodeid, &gi, sizeof(gi), NULL, NULL),
		                 -EOPNOTSUPP);
		ci.flags = O_RDWR;
		assert_int_equal(call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "null", NULL),
		                 -EEXIST);
	}
	/* CREATE (no O_EXCL) over a fifo answers at once instead of blocking
	 * in open(). */
	path_of(p, sizeof(p), "pipe");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "pipe", NULL), -EEXIST);

	/* Nodeids and handles never issued. */
	uint64_t bad[] = {0, 2, 0x100000001ull, 0xffffffffffffffffull, 1ull << 40, 999999};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(call(FUSE_LOOKUP, bad[i], NULL, 0, "x", NULL), -ESTALE);
		assert_int_equal(call(FUSE_GETATTR, bad[i], &(struct fuse_getattr_in){0},
		                      sizeof(struct fuse_getattr_in), NULL, NULL),
		                 -ESTALE);
		assert_int_equal(read_data(FUSE_ROOT_ID, bad[i], 0, 10), -EBADF);
		struct fuse_rename_in r = {.newdir = bad[i]};
		assert_int_equal(call(FUSE_RENAME, FUSE_ROOT_ID, &r, sizeof(r), "sub", "z"),
		                 -ESTALE);
	}
}

/* LOOKUP without cmocka asserts (for a forked child); returns the error. */
static int raw_lookup(uint64_t parent, const char *name, struct fuse_entry_out *eo)
{
	struct {
		struct fuse_in_header h;
		char name[64];
	} req = {.h = {.opcode = FUSE_LOOKUP, .unique = 1, .nodeid = parent}};
	struct {
		struct fuse_out_header h;
		struct fuse_entry_out e;
	} rep = {0};
	struct iovec in = {&req, HL + strlen(name) + 1}, out = {&rep, sizeof(rep)};
	size_t written;

	strcpy(req.name, name);
	req.h.len = (uint32_t)in.iov_len;
	if (fuse_server_handle(srv, &in, 1, &out, 1, &written) < 0 || written < sizeof(rep.h))
		return 1;
	*eo = rep.e;
	return rep.h.error;
}

/* Every creating or renaming request whose directory is a symlink to a
 * directory outside the share: refused, and nothing appears outside. */
static void test_symlink_parent(void **state)
{
	char out[64], p[128];
	struct fuse_entry_out sl, f;
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct fuse_mknod_in mk = {.mode = S_IFREG | 0644};
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = S_IFREG | 0644};
	struct fuse_rename2_in rn = {0};
	struct fuse_link_in li;
	struct err e;
	uint64_t fh;
	DIR *d;
	int n = 0;

	(void)state;
	strcpy(out, "/tmp/hako-test-fuse-out.XXXXXX");
	assert_non_null(mkdtemp(out));
	path_of(p, sizeof(p), "victim");
	assert_int_equal(util_write_file(p, "v", 1, 0644, &e), 0);
	snprintf(p, sizeof(p), "%s/inside", out);
	assert_int_equal(util_write_file(p, "i", 1, 0644, &e), 0);
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "out", out), 0);
	memcpy(&sl, rdata, sizeof(sl));
	f = create_ok(FUSE_ROOT_ID, "mine", 0644, &fh);
	release(f.nodeid, fh, FUSE_RELEASE);

	assert_int_equal(call(FUSE_LOOKUP, sl.nodeid, NULL, 0, "inside", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_MKDIR, sl.nodeid, &mi, sizeof(mi), "x", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_MKNOD, sl.nodeid, &mk, sizeof(mk), "x", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_CREATE, sl.nodeid, &ci, sizeof(ci), "x", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_SYMLINK, sl.nodeid, NULL, 0, "x", "/"), -ENOTDIR);
	li.oldnodeid = f.nodeid;
	assert_int_equal(call(FUSE_LINK, sl.nodeid, &li, sizeof(li), "x", NULL), -ENOTDIR);
	rn.newdir = sl.nodeid;
	assert_int_equal(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, 8, "victim", "x"), -ENOTDIR);
	rn.newdir = FUSE_ROOT_ID;
	assert_int_equal(call(FUSE_RENAME, sl.nodeid, &rn, 8, "inside", "stolen"), -ENOTDIR);
	rn.flags = RENAME_EXCHANGE;
	rn.newdir = sl.nodeid;
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "victim", "inside"),
	                 -ENOTDIR);
	assert_int_equal(call(FUSE_UNLINK, sl.nodeid, NULL, 0, "inside", NULL), -ENOTDIR);
	assert_int_equal(call(FUSE_OPENDIR, sl.nodeid, &(struct fuse_open_in){0},
	                      sizeof(struct fuse_open_in), NULL, NULL),
	                 -ENOTDIR);
	/* Outside: still exactly the one file, untouched. */
	d = opendir(out);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	assert_int_equal(n, 1);
	path_of(p, sizeof(p), "victim");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(util_rm_rf(out, &e), 0);
}

/* Where openat2 is refused (old kernel, seccomp), lookups fall back to a
 * plain O_NOFOLLOW openat of the one component and stay inside. */
static void test_without_openat2(void **state)
{
	struct fuse_entry_out eo;
	scmp_filter_ctx ctx;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "etc", "/etc"), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) ||
		    seccomp_load(ctx))
			_exit(2);
		if (raw_lookup(FUSE_ROOT_ID, "etc", &eo) || !S_ISLNK(eo.attr.mode))
			_exit(3);
		if (raw_lookup(eo.nodeid, "passwd", &eo) != -ENOTDIR)
			_exit(4);
		if (raw_lookup(FUSE_ROOT_ID, "..", &eo) || eo.nodeid != FUSE_ROOT_ID)
			_exit(5);
		if (raw_lookup(FUSE_ROOT_ID, "../etc", &eo) != -EINVAL)
			_exit(6);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_malformed(void **state)
{
	struct fuse_in_header h = {.len = HL, .opcode = FUSE_GETATTR, .unique = 77, .nodeid = 1};
	struct iovec in[2], out[2];
	uint8_t buf[256], ob[256];
	struct fuse_out_header oh;
	size_t written;

	(void)state;
	/* Shorter than a header: no reply possible. */
	in[0] = (struct iovec){&h, 10};
	out[0] = (struct iovec){ob, sizeof(ob)};
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), -1);
	assert_int_equal(written, 0);
	/* No room for a reply header. */
	in[0] = (struct iovec){&h, HL};
	out[0] = (struct iovec){ob, 8};
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), -1);
	/* Header len claims more than was sent. */
	h.len = HL + 100;
	out[0] = (struct iovec){ob, sizeof(ob)};
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(written, sizeof(oh));
	assert_int_equal(oh.error, -EINVAL);
	assert_int_equal(oh.unique, 77);
	/* Header len shorter than the header. */
	h.len = 4;
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(oh.error, -EINVAL);
	/* Extension length past the request. */
	h.len = HL;
	h.total_extlen = 3;
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(oh.error, -EINVAL);
	h.total_extlen = 0;
	/* Reply that does not fit the writable part: error, no overflow. */
	out[0] = (struct iovec){ob, 20};
	memset(ob, 0x5a, sizeof(ob));
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(oh.error, -ERANGE);
	assert_int_equal(ob[20], 0x5a);
	/* Name without its NUL: the bytes after it are never read. */
	memcpy(buf,
	       &(struct fuse_in_header){
	               .len = HL + 3, .opcode = FUSE_LOOKUP, .unique = 78, .nodeid = 1},
	       HL);
	memcpy(buf + HL, "abcdef", 6);
	in[0] = (struct iovec){buf, HL + 3};
	out[0] = (struct iovec){ob, sizeof(ob)};
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(oh.error, -EINVAL);
	/* Fixed arguments cut short. */
	assert_int_equal(call(FUSE_SETATTR, FUSE_ROOT_ID, "abc", 3, NULL, NULL), -EINVAL);
	assert_int_equal(call(FUSE_READ, FUSE_ROOT_ID, "abc", 3, NULL, NULL), -EINVAL);
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, "abc", 3, NULL, NULL), -EINVAL);
	assert_int_equal(call(FUSE_RENAME2, FUSE_ROOT_ID, "abcdefghij", 10, NULL, NULL), -EINVAL);
	assert_int_equal(call(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "only-name", NULL), -EINVAL);
	assert_int_equal(call(FUSE_INIT, 0, "abc", 3, NULL, NULL), -EINVAL);
	/* WRITE whose size is past the data sent. */
	uint64_t fh;
	struct fuse_entry_out eo = create_ok(FUSE_ROOT_ID, "w", 0644, &fh);
	struct {
		struct fuse_write_in wi;
		char d[4];
	} w = {{.fh = fh, .size = 100000}, "abcd"};
	assert_int_equal(call(FUSE_WRITE, eo.nodeid, &w, sizeof(w), NULL, NULL), -EINVAL);
	w.wi.size = 4;
	w.wi.offset = 1ull << 63;
	assert_int_equal(call(FUSE_WRITE, eo.nodeid, &w, sizeof(w), NULL, NULL), -EINVAL);
	release(eo.nodeid, fh, FUSE_RELEASE);
	/* Oversized non-WRITE request. */
	size_t big = 200 * 1024;
	uint8_t *bb = calloc(1, big);
	memcpy(bb,
	       &(struct fuse_in_header){
	               .len = (uint32_t)big, .opcode = FUSE_SETXATTR, .unique = 79, .nodeid = 1},
	       HL);
	in[0] = (struct iovec){bb, big};
	assert_int_equal(fuse_server_handle(srv, in, 1, out, 1, &written), 0);
	memcpy(&oh, ob, sizeof(oh));
	assert_int_equal(oh.error, -E2BIG);
	free(bb);
}

/* Random arguments on every opcode (but FALLOCATE, which could fill the
 * disk) with real and random nodeids: answers, never a crash. */
static void test_fuzz(void **state)
{
	uint8_t arg[512];
	uint64_t nodes[4] = {FUSE_ROOT_ID};
	struct fuse_mkdir_in mi = {.mode = 0755};
	uint64_t fh;

	(void)state;
	assert_int_equal(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "fz", NULL), 0);
	nodes[1] = ((struct fuse_entry_out *)(void *)rdata)->nodeid;
	nodes[2] = create_ok(nodes[1], "ff", 0644, &fh).nodeid;
	srand(1234);
	for (int i = 0; i < 20000; i++) {
		uint32_t op = (uint32_t)(rand() % 52);
		size_t len = (size_t)(rand() % (int)sizeof(arg));

		if (op == FUSE_FALLOCATE || op == FUSE_INIT || op == FUSE_DESTROY)
			continue;
		/* A non-root run could not clean up after a random chmod. */
		if (op == FUSE_SETATTR && geteuid() != 0)
			continue;
		for (size_t j = 0; j < len; j++)
			arg[j] = (uint8_t)rand();
		/* Often a plausible handle or nodeid at the front. */
		if (len >= 8 && rand() % 2) {
			uint64_t v = rand() % 2 ? fh : nodes[rand() % 3];

			memcpy(arg, &v, 8);
		}
		nodes[3] = (uint64_t)rand() << 32 | (uint64_t)(rand() % 64);
		call_out(op, nodes[rand() % 4], arg, len, NULL, NULL,
		         (size_t)(rand() % 2 ? OUTMAX : 16 + rand() % 200));
	}
	/* Still serving, and the host's files outside the share untouched. */
	getattr_ok(FUSE_ROOT_ID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_init, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_nofile_raised, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lookup_getattr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_create_write_read, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dirs_rename_link_symlink, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_readdir, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_setattr_statfs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_xattr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fallocate_lseek, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_batch_forget, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_symlink_parent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_without_openat2, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
