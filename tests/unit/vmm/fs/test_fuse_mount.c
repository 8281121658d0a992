/* Integration test for vmm/fs/fuse_server with a real FUSE client: the host
 * kernel mounts /dev/fuse and a thread serves its requests through
 * fuse_server_handle, exactly as virtio-fs would carry them from a guest.
 * Runs ordinary file system work (stdio, cp -a, diff -r, rename, links,
 * xattrs, sparse files) on the mount and prints throughput figures. Needs
 * root and /dev/fuse; exits 77 (skipped) without them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "vmm/fs/fuse_server.h"

#define BUFSZ (1024 * 1024 + 4096) /* more than max_write + a header */

static char share[64], mnt[64];
static struct fuse_server *srv;
static int fuse_fd = -1;
static pthread_t thread;

static void *serve(void *arg)
{
	uint8_t *in = malloc(BUFSZ), *out = malloc(BUFSZ);

	(void)arg;
	for (;;) {
		ssize_t n = read(fuse_fd, in, BUFSZ);
		struct iovec iv = {in, n > 0 ? (size_t)n : 0}, ov = {out, BUFSZ};
		size_t written;

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue; /* interrupted, or a request the kernel withdrew */
		if (n <= 0)
			break; /* ENODEV: unmounted */
		fuse_server_handle(srv, &iv, 1, &ov, 1, &written);
		if (written && write(fuse_fd, out, written) < 0 && errno != ENOENT)
			break;
	}
	free(in);
	free(out);
	return NULL;
}

static void path_in(char *buf, size_t size, const char *base, const char *rel)
{
	snprintf(buf, size, "%s/%s", base, rel);
}

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void test_big_file(void **state)
{
	enum { MB = 1024 * 1024, SIZE = 64 * MB };
	uint8_t *buf = malloc(MB), *back = malloc(MB);
	char p[128], q[128];
	unsigned long long t0, t1, t2;
	int fd;

	(void)state;
	for (int i = 0; i < MB; i++)
		buf[i] = (uint8_t)(i * 13 + (i >> 12));
	path_in(p, sizeof(p), mnt, "big");
	fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	t0 = util_now_ns();
	for (int i = 0; i < SIZE / MB; i++)
		assert_int_equal(write(fd, buf, MB), MB);
	assert_int_equal(fsync(fd), 0);
	t1 = util_now_ns();
	close(fd);
	/* Read it back through the host path and through the mount. */
	path_in(q, sizeof(q), share, "big");
	fd = open(q, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, MB), MB);
	assert_memory_equal(buf, back, MB);
	close(fd);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	/* Drop the mount's page cache so the reads go through the server. */
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	t2 = util_now_ns();
	for (int i = 0; i < SIZE / MB; i++) {
		assert_int_equal(read(fd, back, MB), MB);
		if (i == 0 || i == SIZE / MB - 1)
			assert_memory_equal(buf, back, MB);
	}
	printf("fuse-mount: sequential write %.0f MB/s, read %.0f MB/s (64 MiB, 1 MiB calls)\n",
	       64.0 / ((double)(t1 - t0) / 1e9), 64.0 / ((double)(util_now_ns() - t2) / 1e9));
	close(fd);
	assert_int_equal(unlink(p), 0);
	free(buf);
	free(back);
}

static void test_tree_ops(void **state)
{
	char p[128], q[128], lbuf[64];
	struct stat st;
	struct timespec ts[2] = {{.tv_sec = 123456789}, {.tv_sec = 987654321}};
	unsigned long long t0;
	ssize_t n;
	int fd;

	(void)state;
	path_in(p, sizeof(p), mnt, "a/b/c");
	assert_int_equal(sh("mkdir -p %s", p), 0);
	path_in(p, sizeof(p), mnt, "a/b/c/f");
	fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "content", 7), 7);
	close(fd);
	path_in(q, sizeof(q), mnt, "a/g");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(q, 0751), 0);
	assert_int_equal(chown(q, 1000, 1001), 0);
	assert_int_equal(truncate(q, 3), 0);
	assert_int_equal(utimensat(AT_FDCWD, q, ts, 0), 0);
	path_in(p, sizeof(p), share, "a/g");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mtim.tv_sec, 987654321);
	assert_int_equal(st.st_size, 3);
	/* Links. */
	path_in(p, sizeof(p), mnt, "a/hard");
	assert_int_equal(link(q, p), 0);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	path_in(p, sizeof(p), mnt, "a/soft");
	assert_int_equal(symlink("g", p), 0);
	n = readlink(p, lbuf, sizeof(lbuf));
	assert_int_equal(n, 1);
	assert_int_equal(stat(p, &st), 0); /* followed by the client */
	assert_int_equal(st.st_size, 3);
	/* A symlink leading out of the share is text to the client. */
	path_in(p, sizeof(p), share, "out");
	assert_int_equal(symlink("/etc", p), 0);
	path_in(p, sizeof(p), mnt, "out");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* xattrs, where the share's file system has them. */
	if (setxattr(q, "user.k", "v1", 2, 0) == 0) {
		char v[8];

		assert_int_equal(getxattr(q, "user.k", v, sizeof(v)), 2);
		assert_memory_equal(v, "v1", 2);
		path_in(p, sizeof(p), share, "a/g");
		assert_int_equal(getxattr(p, "user.k", v, sizeof(v)), 2);
	}
	/* Many small files, listed and removed. */
	t0 = util_now_ns();
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "%s/a/many-%d", mnt, i);
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	printf("fuse-mount: %.0f file creates/s\n", 1000 / ((double)(util_now_ns() - t0) / 1e9));
	path_in(p, sizeof(p), mnt, "a");
	assert_int_equal(sh("test $(ls %s | wc -l) -eq 1004", p), 0);
	assert_int_equal(sh("rm -rf %s", p), 0);
	path_in(p, sizeof(p), share, "a");
	assert_int_equal(stat(p, &st), -1);
}

#define FIND_FMT                                                                                   \
	"\\( -type d -printf '%p %y %m %U %G %T@\\n' \\) -o -printf '%p %y %m %U %G %s %T@ %l\\n'"

static void test_copy_tree(void **state)
{
	char p[128];

	(void)state;
	/* A real tree with cp -a (modes, times, symlinks), compared back. */
	path_in(p, sizeof(p), mnt, "inc");
	assert_int_equal(sh("cp -a /usr/include/linux %s", p), 0);
	assert_int_equal(sh("diff -r /usr/include/linux %s", p), 0);
	assert_int_equal(sh("diff -r /usr/include/linux %s/inc", share), 0);
	/* Types, modes, owners, sizes, times and link targets came across. */
	assert_int_equal(sh("cd /usr/include/linux && find . %s | sort >%s/.l1 && cd %s && "
	                    "find . %s | sort >%s/.l2 && cmp -s %s/.l1 %s/.l2",
	                    FIND_FMT, share, p, FIND_FMT, share, share, share),
	                 0);
	assert_int_equal(sh("rm -rf %s", p), 0);
}

static void test_sparse(void **state)
{
	char p[128];
	int fd;

	(void)state;
	path_in(p, sizeof(p), mnt, "sparse");
	fd = open(p, O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fallocate(fd, 0, 0, 1 << 20), 0);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	assert_int_equal(pwrite(fd, "x", 1, 4 << 20), 1);
	assert_int_equal(lseek(fd, 2 << 20, SEEK_DATA), 4 << 20);
	close(fd);
	unlink(p);
}

/* Mount the share; -1 with a reason when this host cannot. */
static int mount_share(void)
{
	char opts[256];
	struct err e;

	strcpy(share, "/tmp/hako-fm-share.XXXXXX");
	strcpy(mnt, "/tmp/hako-fm-mnt.XXXXXX");
	if (!mkdtemp(share) || !mkdtemp(mnt))
		return -1;
	if (fuse_server_new(&srv, share, &e) < 0) {
		printf("skip: %s\n", e.msg);
		return -1;
	}
	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0) {
		printf("skip: /dev/fuse: %s\n", strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts),
	         "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other",
	         fuse_fd);
	if (mount("hako-test", mnt, "fuse.hako-test", MS_NOSUID | MS_NODEV, opts) < 0) {
		printf("skip: mount fuse: %s\n", strerror(errno));
		return -1;
	}
	if (pthread_create(&thread, NULL, serve, NULL)) {
		umount2(mnt, MNT_DETACH);
		return -1;
	}
	return 0;
}

static void unmount_share(bool mounted)
{
	struct err e;

	if (mounted) {
		umount2(mnt, MNT_DETACH);
		pthread_join(thread, NULL);
	}
	if (fuse_fd >= 0)
		close(fuse_fd);
	fuse_server_free(srv);
	rmdir(mnt);
	util_rm_rf(share, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tree_ops),
	        cmocka_unit_test(test_big_file),
	        cmocka_unit_test(test_copy_tree),
	        cmocka_unit_test(test_sparse),
	};
	int ret;

	if (geteuid() != 0) {
		printf("skip: needs root to mount FUSE\n");
		return 77;
	}
	if (mount_share() < 0) {
		unmount_share(false);
		return 77;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unmount_share(true);
	return ret;
}
