/* agent/mount.c: guest filesystems, storages, and the container rootfs
 * (runs in the container's child process, in its own mount namespace). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/mount.h"
#include "lib/util.h"

static int mount_sys(const char *src, const char *dst, const char *type, unsigned long flags,
                     const char *data, struct err *e)
{
	if (mount(src, dst, type, flags, data) < 0)
		return err_sys(e, "mount %s on %s (type %s)", src ? src : "none", dst,
		               type ? type : "none");
	return 0;
}

int mount_guest_basics(struct err *e)
{
	static const struct {
		const char *src, *dst, *type;
		unsigned long flags;
		const char *data;
	} m[] = {
	        {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	        {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	        {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
	        {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	         "gid=5,mode=0620,ptmxmode=0666"},
	        {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
	        {"cgroup2", CGROUP_ROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
	        {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
	        {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		if (util_mkdir_p(m[i].dst, 0755, e) < 0)
			return -1;
		if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data) < 0 &&
		    errno != EBUSY)
			return err_sys(e, "mount %s on %s", m[i].type, m[i].dst);
	}
	/* devtmpfs has no ptmx link to the devpts instance. */
	if (symlink("pts/ptmx", "/dev/ptmx") < 0 && errno != EEXIST)
		return err_sys(e, "symlink /dev/ptmx");
	return 0;
}

/* An overlay's upper and work directories usually live on a fresh tmpfs
 * (an "ephemeral" storage): make them. */
static int make_overlay_dirs(const struct mount_storage *st, struct err *e)
{
	for (size_t i = 0; i < st->nr_options; i++) {
		const char *o = st->options[i];

		if (!strncmp(o, "upperdir=", 9) && util_mkdir_p(o + 9, 0755, e) < 0)
			return err_ctx(e, "overlay upperdir");
		if (!strncmp(o, "workdir=", 8) && util_mkdir_p(o + 8, 0755, e) < 0)
			return err_ctx(e, "overlay workdir");
	}
	return 0;
}

int mount_storage(const struct mount_storage *st, struct err *e)
{
	const char *d = st->driver;
	unsigned long flags, prop;
	cleanup_free char *data = NULL;
	const char *type = st->fstype;

	if (!st->mount_point || st->mount_point[0] != '/')
		return err_set(e, EINVAL, "storage.mount_point: must be an absolute path");
	if (oci_mount_options_strv(st->options, st->nr_options, &flags, &prop, &data, e) < 0)
		return -1;
	if (util_mkdir_p(st->mount_point, 0755, e) < 0)
		return -1;
	if (!strcmp(d, "local"))
		return 0;
	if (!strcmp(d, "virtio-fs") || !strcmp(d, "virtiofs")) {
		type = "virtiofs";
	} else if (!strcmp(d, "ephemeral")) {
		type = "tmpfs";
	} else if (!strcmp(d, "bind")) {
		if (mount_sys(st->source, st->mount_point, NULL, MS_BIND | MS_REC, NULL, e) < 0)
			return -1;
		if (flags & ~(MS_BIND | MS_REC))
			return mount_sys(NULL, st->mount_point, NULL,
			                 MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL, e);
		return 0;
	} else if (!strcmp(d, "blk") || !strcmp(d, "virtio-blk") || !strcmp(d, "mmioblk")) {
		if (!st->source || st->source[0] != '/')
			return err_set(
			        e, ENOTSUP,
			        "not supported: block storage source \"%s\" (want a /dev path)",
			        st->source ? st->source : "");
	} else if (!strcmp(d, "overlayfs")) {
		if (!type || !type[0])
			type = "overlay";
		if (make_overlay_dirs(st, e) < 0)
			return -1;
	} else {
		return err_set(e, ENOTSUP, "not supported: storage driver \"%s\"", d);
	}
	if (!type || !type[0])
		return err_set(e, EINVAL, "storage.fstype: is required for driver \"%s\"", d);
	return mount_sys(st->source, st->mount_point, type, flags & ~(MS_BIND | MS_REC), data, e);
}

int mount_storage_release(const char *driver, const char *mount_point, struct err *e)
{
	if (!strcmp(driver, "local"))
		return 0;
	if (umount2(mount_point, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return err_sys(e, "umount %s", mount_point);
	return 0;
}

int mount_secure_join(const char *root, const char *path, char *out, size_t size, struct err *e)
{
	char cur[PATH_MAX] = ""; /* resolved part, relative to root, starts with '/' or empty */
	char rest[PATH_MAX * 2]; /* still to walk */
	int links = 0;

	snprintf(rest, sizeof(rest), "%s", path);
	while (rest[0]) {
		char comp[NAME_MAX + 1], full[PATH_MAX * 2], target[PATH_MAX];
		char *p = rest, *end;
		size_t n;
		ssize_t tl;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n > NAME_MAX)
			return err_set(e, ENAMETOOLONG, "%s: name too long", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		memmove(rest, end, strlen(end) + 1);
		if (!n || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = '\0';
			continue;
		}
		snprintf(full, sizeof(full), "%s%s/%s", root, cur, comp);
		tl = readlink(full, target, sizeof(target) - 1);
		if (tl < 0) {
			if (strlen(cur) + n + 2 > sizeof(cur))
				return err_set(e, ENAMETOOLONG, "%s: path too long", path);
			strcat(cur, "/");
			strcat(cur, comp);
			continue;
		}
		if (++links > 40)
			return err_set(e, ELOOP, "%s: too many symlinks", path);
		target[tl] = '\0';
		if (target[0] == '/')
			cur[0] = '\0';
		if (strlen(target) + strlen(rest) + 2 > sizeof(rest))
			return err_set(e, ENAMETOOLONG, "%s: path too long", path);
		memmove(rest + strlen(target) + 1, rest, strlen(rest) + 1);
		memcpy(rest, target, strlen(target));
		rest[strlen(target)] = '/';
	}
	if ((size_t)snprintf(out, size, "%s%s", root, cur[0] ? cur : "/") >= size)
		return err_set(e, ENAMETOOLONG, "%s: path too long", path);
	return 0;
}

/* Keep a mount's lock-in flags when remounting it (a bind remount must not
 * silently drop nosuid/nodev/noexec). */
static unsigned long current_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount_ro(const char *path, struct err *e)
{
	return mount_sys(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | current_flags(path),
	                 NULL, e);
}

/* Mount point for a bind of a file must be a file. */
static int make_target(const char *dst, bool file, struct err *e)
{
	struct stat st;

	if (stat(dst, &st) == 0)
		return 0;
	if (!file)
		return util_mkdir_p(dst, 0755, e);
	{
		char parent[PATH_MAX];
		char *slash;
		int fd;

		snprintf(parent, sizeof(parent), "%s", dst);
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			if (util_mkdir_p(parent, 0755, e) < 0)
				return -1;
		}
		fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_sys(e, "create %s", dst);
		close(fd);
	}
	return 0;
}

static int mount_one(const char *root, const struct oci_mount *m, struct err *e)
{
	char dst[PATH_MAX];
	unsigned long flags = m->flags & ~(MS_BIND | MS_REC);

	if (mount_secure_join(root, m->destination, dst, sizeof(dst), e) < 0)
		return -1;
	if (m->flags & MS_BIND) {
		struct stat st;

		if (stat(m->source, &st) < 0)
			return err_sys(e, "bind source %s", m->source);
		if (make_target(dst, !S_ISDIR(st.st_mode), e) < 0)
			return -1;
		if (mount_sys(m->source, dst, NULL, MS_BIND | (m->flags & MS_REC), NULL, e) < 0)
			return -1;
		if (flags &&
		    mount_sys(NULL, dst, NULL, MS_REMOUNT | MS_BIND | flags | current_flags(dst),
		              NULL, e) < 0)
			return -1;
	} else if (!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2")) {
		if (make_target(dst, false, e) < 0)
			return -1;
		if (cgroup_version() == 2) {
			if (mount_sys("cgroup2", dst, "cgroup2", flags, NULL, e) < 0)
				return -1;
		} else {
			/* v1 hierarchies (host mode): show the host's tree. */
			if (mount_sys(CGROUP_ROOT, dst, NULL, MS_BIND | MS_REC, NULL, e) < 0)
				return -1;
			if ((flags & MS_RDONLY) && remount_ro(dst, e) < 0)
				return -1;
		}
	} else {
		if (make_target(dst, false, e) < 0)
			return -1;
		if (mount_sys(m->source ? m->source : m->type, dst, m->type, flags, m->data, e) < 0)
			return -1;
	}
	if (m->propagation && mount_sys(NULL, dst, NULL, m->propagation, NULL, e) < 0)
		return -1;
	return 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
        {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
        {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int make_device(const char *root, const char *path, char type, unsigned major,
                       unsigned minor, mode_t mode, uid_t uid, gid_t gid, struct err *e)
{
	char dst[PATH_MAX];
	mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;

	if (mount_secure_join(root, path, dst, sizeof(dst), e) < 0)
		return -1;
	unlink(dst);
	if (mknod(dst, fmt | mode, makedev(major, minor)) < 0) {
		/* Without CAP_MKNOD (a user namespace): bind the agent's node. */
		if (errno != EPERM || make_target(dst, true, e) < 0)
			return err_sys(e, "mknod %s", dst);
		return mount_sys(path, dst, NULL, MS_BIND, NULL, e);
	}
	if (chmod(dst, mode) < 0 || chown(dst, uid, gid) < 0)
		return err_sys(e, "chmod/chown %s", dst);
	return 0;
}

static int setup_dev(const char *root, const struct oci_spec *s, struct err *e)
{
	static const char *const links[][2] = {
	        {"/proc/self/fd", "/dev/fd"},       {"/proc/self/fd/0", "/dev/stdin"},
	        {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
	        {"pts/ptmx", "/dev/ptmx"},
	};
	bool dev_mounted = false;
	char dst[PATH_MAX];

	for (size_t i = 0; i < s->nr_mounts; i++)
		if (!strcmp(s->mounts[i].destination, "/dev"))
			dev_mounted = true;
	/* Only a /dev the spec mounted is ours to fill; never write device
	 * nodes into an image directory. */
	if (dev_mounted) {
		for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
			if (make_device(root, default_devices[i].path, 'c',
			                default_devices[i].major, default_devices[i].minor, 0666, 0,
			                0, e) < 0)
				return -1;
		for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
			snprintf(dst, sizeof(dst), "%s%s", root, links[i][1]);
			unlink(dst);
			if (symlink(links[i][0], dst) < 0)
				return err_sys(e, "symlink %s", dst);
		}
	}
	for (size_t i = 0; i < s->nr_devices; i++) {
		const struct oci_device *d = &s->devices[i];

		if (make_device(root, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
		                (unsigned)d->minor, d->has_mode ? d->mode : 0666, d->uid, d->gid,
		                e) < 0)
			return -1;
	}
	return 0;
}

/* pivot_root(".", ".") stacks the old root under the new one; detaching
 * it leaves only the container's tree. The initramfs ("rootfs") cannot be
 * pivoted away from (EINVAL): there, move the new root over / and chroot,
 * as switch_root does. */
static int enter_root(const char *root, struct err *e)
{
	if (chdir(root) < 0)
		return err_sys(e, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return err_sys(e, "detach old root");
	} else if (errno == EINVAL) {
		if (mount_sys(".", "/", NULL, MS_MOVE, NULL, e) < 0)
			return -1;
		if (chroot(".") < 0)
			return err_sys(e, "chroot %s", root);
	} else {
		return err_sys(e, "pivot_root %s", root);
	}
	if (chdir("/") < 0)
		return err_sys(e, "chdir /");
	return 0;
}

static int mask_paths(const struct oci_spec *s, struct err *e)
{
	for (size_t i = 0; i < s->nr_masked_paths; i++) {
		const char *p = s->masked_paths[i];
		struct stat st;

		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return err_sys(e, "masked path %s", p);
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount_sys("tmpfs", p, "tmpfs", MS_RDONLY, NULL, e) < 0)
				return -1;
		} else if (mount_sys("/dev/null", p, NULL, MS_BIND, NULL, e) < 0) {
			return -1;
		}
	}
	for (size_t i = 0; i < s->nr_readonly_paths; i++) {
		const char *p = s->readonly_paths[i];

		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return err_sys(e, "readonly path %s", p);
		}
		if (remount_ro(p, e) < 0)
			return -1;
	}
	return 0;
}

int mount_rootfs(const struct oci_spec *s, struct err *e)
{
	char root[PATH_MAX];

	if (!realpath(s->root_path, root))
		return err_sys(e, "root.path %s", s->root_path);
	/* Nothing done here may reach the agent's namespace. */
	if (mount_sys(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL, e) < 0)
		return -1;
	if (mount_sys(root, root, NULL, MS_BIND | MS_REC, NULL, e) < 0)
		return -1;
	for (size_t i = 0; i < s->nr_mounts; i++)
		if (mount_one(root, &s->mounts[i], e) < 0)
			return err_ctx(e, "mounts[%zu] (%s)", i, s->mounts[i].destination);
	if (setup_dev(root, s, e) < 0)
		return -1;
	return enter_root(root, e);
}

int mount_rootfs_finish(const struct oci_spec *s, struct err *e)
{
	if (s->root_readonly && remount_ro("/", e) < 0)
		return err_ctx(e, "root.readonly");
	return mask_paths(s, e);
}
