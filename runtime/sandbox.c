/* runtime/sandbox.c: sandbox lifecycle. Host side of the shared directory:
 * RUN/shared is a bind mount of itself made a shared mount, so that the
 * container roots bind mounted under it after virtiofsd started (which
 * runs in its own mount namespace, a slave of ours) reach the guest too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/sandbox.h"
#include "runtime/spec.h"

#define DEFAULT_AGENT_TIMEOUT_MS 60000
#define ID_MAX                   128

struct container {
	struct container *next;
	char *cid;
	char *dir;             /* shared/<cid> */
	char *root;            /* shared/<cid>/rootfs */
	bool mounted;          /* root is a bind mount of the container's rootfs */
	unsigned int nr_binds; /* shared/<cid>/mounts/0..n-1 are mounted */
	bool created;          /* the agent knows it */
};

struct sandbox {
	char *id;
	char *run_dir;
	char *shared_dir;
	bool shared_mounted;
	enum hv_shared_fs shared_fs;
	const struct hv_ops *ops;
	struct hv *hv;
	struct agent *agent;
	struct container *containers;
};

/* Ids name directories: printable ASCII without '/', not starting with
 * '.' or '-'. */
static int check_id(const char *what, const char *id, struct err *e)
{
	size_t n = id ? strlen(id) : 0;

	if (!n || n > ID_MAX || id[0] == '.' || id[0] == '-')
		return err_set(e, EINVAL, "invalid %s id '%s'", what, id ? id : "");
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || strchr("_.-+", id[i])))
			return err_set(e, EINVAL, "invalid %s id '%s'", what, id);
	return 0;
}

static int mount_shared_dir(struct sandbox *s, struct err *e)
{
	if (mkdir(s->shared_dir, 0700) < 0)
		return err_sys(e, "mkdir %s", s->shared_dir);
	if (mount(s->shared_dir, s->shared_dir, NULL, MS_BIND, NULL) < 0)
		return err_sys(e, "bind mount %s", s->shared_dir);
	s->shared_mounted = true;
	/* private first: leave the peer group of whatever is above it */
	if (mount(NULL, s->shared_dir, NULL, MS_PRIVATE, NULL) < 0 ||
	    mount(NULL, s->shared_dir, NULL, MS_SHARED, NULL) < 0)
		return err_sys(e, "make %s a shared mount", s->shared_dir);
	return 0;
}

/* The storage hako-agent mounts the shared directory from. */
static void shared_storage(const struct sandbox *s, Grpc__Storage *st)
{
	static char *nine_p_options[] = {"trans=virtio", "version=9p2000.L", "msize=262144"};

	grpc__storage__init(st);
	st->source = SANDBOX_SHARED_TAG;
	st->mount_point = SANDBOX_GUEST_SHARED;
	if (s->shared_fs == HV_SHARED_FS_VIRTIO_9P) {
		st->driver = "9p";
		st->fstype = "9p";
		st->options = nine_p_options;
		st->n_options = ARRAY_SIZE(nine_p_options);
	} else {
		st->driver = "virtio-fs";
		st->fstype = "virtiofs";
	}
}

/* The run directory goes with a failed start: keep the end of the guest's
 * console (where drivers write it) in the message, it says why. */
static void add_console_tail(const struct sandbox *s, struct err *e)
{
	cleanup_free char *path = NULL, *buf = NULL;
	struct err ignored;
	size_t len, from, n;

	if (asprintf(&path, "%s/console.log", s->run_dir) < 0) {
		path = NULL;
		return;
	}
	if (util_read_file(path, 1 << 22, &buf, &len, &ignored) < 0 || !len)
		return;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	from = len > 400 ? len - 400 : 0;
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, "; guest console: ...%s", buf + from);
}

int sandbox_start(struct sandbox **out, const struct sandbox_config *cfg, struct err *e)
{
	struct hv_config hc = cfg->hv;
	Grpc__Storage storage, *storages[1] = {&storage};
	struct sandbox *s;

	if (check_id("sandbox", cfg->id, e) < 0)
		return -1;
	if (!cfg->ops)
		return err_set(e, EINVAL, "sandbox %s: no hypervisor driver", cfg->id);
	if (cfg->hv.shared_fs == HV_SHARED_FS_VIRTIO_BLK)
		return err_set(e, ENOTSUP,
		               "not supported: shared_fs virtio-blk for container roots");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ENOMEM, "sandbox: out of memory");
	s->ops = cfg->ops;
	s->shared_fs = cfg->hv.shared_fs;
	s->id = strdup(cfg->id);
	s->run_dir = cfg->run_dir ? strdup(cfg->run_dir) : NULL;
	if (!s->id || !s->run_dir || asprintf(&s->shared_dir, "%s/shared", s->run_dir) < 0) {
		free(s->id);
		free(s->run_dir);
		free(s);
		return err_set(e, cfg->run_dir ? ENOMEM : EINVAL, "sandbox: %s",
		               cfg->run_dir ? "out of memory" : "no run directory");
	}
	if (mkdir(s->run_dir, 0700) < 0) {
		err_sys(e, "mkdir %s", s->run_dir);
		/* not ours: keep it */
		free(s->run_dir);
		s->run_dir = NULL;
		goto fail;
	}
	if (mount_shared_dir(s, e) < 0)
		goto fail;

	hc.id = s->id;
	hc.run_dir = s->run_dir;
	hc.shared_dir = s->shared_dir;
	if (s->ops->create(&s->hv, &hc, e) < 0 || s->ops->start(s->hv, e) < 0)
		goto fail;
	if (agent_connect(&s->agent, s->ops, s->hv,
	                  cfg->agent_timeout_ms ? cfg->agent_timeout_ms : DEFAULT_AGENT_TIMEOUT_MS,
	                  e) < 0) {
		add_console_tail(s, e);
		goto fail;
	}
	shared_storage(s, &storage);
	if (agent_create_sandbox(s->agent, s->id, cfg->hostname, storages, 1, e) < 0)
		goto fail;
	log_debug("sandbox %s: started", s->id);
	*out = s;
	return 0;
fail:
	err_ctx(e, "sandbox %s", cfg->id);
	sandbox_free(s);
	return -1;
}

static struct container *find(struct sandbox *s, const char *cid)
{
	for (struct container *c = s->containers; c; c = c->next)
		if (!strcmp(c->cid, cid))
			return c;
	return NULL;
}

/* Undo what sandbox_create_container did on the host; -1 if a mount stays. */
static int container_unshare(struct container *c, struct err *e)
{
	int r = 0;

	while (c->nr_binds) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/mounts/%u", c->dir, c->nr_binds - 1);
		if (umount2(path, MNT_DETACH) < 0)
			return err_sys(e, "unmount %s", path);
		c->nr_binds--;
	}
	if (c->mounted) {
		if (umount2(c->root, MNT_DETACH) < 0)
			r = err_sys(e, "unmount %s", c->root);
		else
			c->mounted = false;
	}
	if (!c->mounted && util_rm_rf(c->dir, e) < 0)
		r = -1;
	return r;
}

/* The spec's bind mounts name host paths: share each under
 * shared/<cid>/mounts/<n> and point the mount there. A /dev/shm bind (a
 * host tmpfs, e.g. podman's) becomes a tmpfs of the guest instead. */
static int share_binds(struct container *c, Grpc__Spec *spec, struct err *e)
{
	static const char *const shm_options[] = {"nosuid", "noexec", "nodev", "mode=1777",
	                                          "size=65536k"};

	for (size_t i = 0; i < spec->n_mounts; i++) {
		Grpc__Mount *m = spec->mounts[i];
		char host[PATH_MAX], guest[PATH_MAX];
		bool ro = false;
		struct stat st;
		int fd;

		if (!spec_mount_is_bind(m))
			continue;
		if (!strcmp(m->destination, "/dev/shm")) {
			if (spec_mount_replace(m, "tmpfs", "shm", shm_options,
			                       ARRAY_SIZE(shm_options), e) < 0)
				return -1;
			continue;
		}
		if (stat(m->source, &st) < 0)
			return err_sys(e, "mount %s: source %s", m->destination, m->source);
		snprintf(host, sizeof(host), "%s/mounts", c->dir);
		if (util_mkdir_p(host, 0755, e) < 0)
			return -1;
		snprintf(host, sizeof(host), "%s/mounts/%u", c->dir, c->nr_binds);
		snprintf(guest, sizeof(guest), "%s/%s/mounts/%u", SANDBOX_GUEST_SHARED, c->cid,
		         c->nr_binds);
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(host, 0755) < 0)
				return err_sys(e, "mkdir %s", host);
		} else {
			fd = open(host, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0)
				return err_sys(e, "create %s", host);
			close(fd);
		}
		if (mount(m->source, host, NULL, MS_BIND | MS_REC, NULL) < 0)
			return err_sys(e, "bind mount %s on %s", m->source, host);
		c->nr_binds++;
		for (size_t k = 0; k < m->n_options; k++)
			ro |= !strcmp(m->options[k], "ro");
		if (ro && mount(NULL, host, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return err_sys(e, "remount %s read-only", host);
		if (spec_mount_replace(m, NULL, guest, NULL, 0, e) < 0)
			return -1;
	}
	return 0;
}

static void container_free(struct container *c)
{
	free(c->cid);
	free(c->dir);
	free(c->root);
	free(c);
}

static void unlink_container(struct sandbox *s, struct container *c)
{
	for (struct container **p = &s->containers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
}

int sandbox_create_container(struct sandbox *s, const char *cid, const char *rootfs, bool readonly,
                             Grpc__Spec *spec, struct err *e)
{
	cleanup_free char *guest_root = NULL;
	struct container *c;
	struct err ignored;

	if (check_id("container", cid, e) < 0)
		return -1;
	if (find(s, cid))
		return err_set(e, EEXIST, "container %s already exists", cid);
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, ENOMEM, "sandbox: out of memory");
	c->cid = strdup(cid);
	if (!c->cid || asprintf(&c->dir, "%s/%s", s->shared_dir, cid) < 0 ||
	    asprintf(&c->root, "%s/rootfs", c->dir) < 0 ||
	    asprintf(&guest_root, "%s/%s/rootfs", SANDBOX_GUEST_SHARED, cid) < 0) {
		c->dir = c->root = NULL;
		guest_root = NULL;
		container_free(c);
		return err_set(e, ENOMEM, "sandbox: out of memory");
	}
	c->next = s->containers;
	s->containers = c;
	if (util_mkdir_p(c->root, 0755, e) < 0)
		goto fail;
	if (mount(rootfs, c->root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		err_sys(e, "bind mount %s on %s", rootfs, c->root);
		goto fail;
	}
	c->mounted = true;
	if (readonly && mount(NULL, c->root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		err_sys(e, "remount %s read-only", c->root);
		goto fail;
	}
	if (spec_set_root(spec, guest_root, readonly, e) < 0 || share_binds(c, spec, e) < 0)
		goto fail;
	/* the rootfs is reached through the sandbox's shared storage */
	if (agent_create_container(s->agent, cid, spec, NULL, 0, e) < 0)
		goto fail;
	c->created = true;
	return 0;
fail:
	err_ctx(e, "container %s", cid);
	if (container_unshare(c, &ignored) == 0) {
		unlink_container(s, c);
		container_free(c);
	}
	return -1;
}

int sandbox_start_container(struct sandbox *s, const char *cid, struct err *e)
{
	if (!find(s, cid))
		return err_set(e, ENOENT, "container %s does not exist", cid);
	return agent_start_container(s->agent, cid, e);
}

int sandbox_remove_container(struct sandbox *s, const char *cid, unsigned int timeout_s,
                             struct err *e)
{
	struct container *c = find(s, cid);

	if (!c)
		return err_set(e, ENOENT, "container %s does not exist", cid);
	if (c->created && agent_remove_container(s->agent, cid, timeout_s, e) < 0)
		return -1;
	c->created = false;
	if (container_unshare(c, e) < 0)
		return err_ctx(e, "container %s", cid);
	unlink_container(s, c);
	container_free(c);
	return 0;
}

struct agent *sandbox_agent(struct sandbox *s)
{
	return s->agent;
}

struct hv *sandbox_hv(struct sandbox *s)
{
	return s->hv;
}

const char *sandbox_run_dir(const struct sandbox *s)
{
	return s->run_dir;
}

int sandbox_pause(struct sandbox *s, struct err *e)
{
	if (!s->hv)
		return err_set(e, ESRCH, "sandbox %s is not running", s->id);
	return s->ops->pause(s->hv, e);
}

int sandbox_resume(struct sandbox *s, struct err *e)
{
	if (!s->hv)
		return err_set(e, ESRCH, "sandbox %s is not running", s->id);
	return s->ops->resume(s->hv, e);
}

/* Cleanup goes on after a failure; e keeps the first one. */
static void note_failure(int *r, struct err *e, const struct err *got)
{
	log_error("%s", got->msg);
	if (*r == 0)
		*e = *got;
	*r = -1;
}

int sandbox_stop(struct sandbox *s, struct err *e)
{
	struct err ignored, ce;
	int r = 0;

	if (s->agent) {
		/* the VM goes away next: a failure here only costs a log line */
		if (agent_destroy_sandbox(s->agent, &ignored) < 0)
			log_debug("sandbox %s: %s", s->id, ignored.msg);
		agent_close(s->agent);
		s->agent = NULL;
	}
	if (s->hv) {
		if (s->ops->stop(s->hv, &ce) < 0)
			note_failure(&r, e, &ce);
		s->ops->free(s->hv);
		s->hv = NULL;
	}
	while (s->containers) {
		struct container *c = s->containers;

		if (container_unshare(c, &ce) < 0)
			note_failure(&r, e, &ce);
		s->containers = c->next;
		container_free(c);
	}
	if (s->shared_mounted) {
		if (umount2(s->shared_dir, MNT_DETACH) < 0) {
			err_sys(&ce, "unmount %s", s->shared_dir);
			note_failure(&r, e, &ce);
		} else {
			s->shared_mounted = false;
		}
	}
	/* rm -rf stops at mount points: what is still mounted stays */
	if (s->run_dir && !s->shared_mounted) {
		if (util_rm_rf(s->run_dir, &ce) < 0)
			note_failure(&r, e, &ce);
		free(s->run_dir);
		s->run_dir = NULL;
	}
	if (r < 0)
		return err_ctx(e, "sandbox %s: stop", s->id);
	return 0;
}

void sandbox_free(struct sandbox *s)
{
	struct err e;

	if (!s)
		return;
	if (sandbox_stop(s, &e) < 0)
		log_error("%s", e.msg);
	free(s->id);
	free(s->run_dir);
	free(s->shared_dir);
	free(s);
}
