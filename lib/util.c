/* lib/util.c: cleanup helpers, whole reads and writes, small file helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

void util_freep(void *p)
{
	free(*(void **)p);
}

void util_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

void util_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

ssize_t util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t util_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int util_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t limit = max + 2; /* room for one byte too many, and the NUL */
	size_t cap = limit < 4096 ? limit : 4096, n = 0;

	if (fd < 0)
		return err_sys(e, "open %s", path);
	buf = malloc(cap);
	if (!buf)
		return err_set(e, ENOMEM, "read %s: out of memory", path);
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			char *nb;

			if (cap == limit)
				break;
			cap = cap * 2 > limit ? limit : cap * 2;
			nb = realloc(buf, cap);
			if (!nb)
				return err_set(e, ENOMEM, "read %s: out of memory", path);
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(e, "read %s", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max)
		return err_set(e, EFBIG, "read %s: larger than %zu bytes", path, max);
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = steal_ptr(buf);
	return 0;
}

int util_write_file(const char *path, const void *data, size_t len, int mode, struct err *e)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return err_set(e, ENAMETOOLONG, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return err_sys(e, "create %s", tmp);
	if (util_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		err_sys(e, "write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		err_sys(e, "rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int util_mkdir_p(const char *path, int mode, struct err *e)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return err_set(e, EINVAL, "mkdir: bad path '%s'", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
				return err_sys(e, "mkdir %s", buf);
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

static int rm_at(int dirfd, const char *name, dev_t dev, struct err *e)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(e, "stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return err_sys(e, "unlink %s", name);
		return 0;
	}
	if (st.st_dev != dev)
		return err_set(e, EBUSY, "refusing to remove %s: it is a mount point", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "open %s", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_sys(e, "opendir %s", name);
	}
	while (ret == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = rm_at(fd, de->d_name, dev, e);
	}
	closedir(d);
	if (ret < 0)
		return err_ctx(e, "remove %s", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_sys(e, "rmdir %s", name);
	return 0;
}

int util_rm_rf(const char *path, struct err *e)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_sys(e, "stat %s", path);
	return rm_at(AT_FDCWD, path, st.st_dev, e);
}

unsigned long long util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}
