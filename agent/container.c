/* agent/container.c: container registry and lifecycle on top of spawn (the
 * child), process (stdio, exit), cgroup and mount; SIGCHLD reaping and OOM
 * events arrive through the agent's loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/container.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_PROCS 256

struct storage {
	char *driver, *mount_point;
	int refs;
	struct storage *next;
};

struct container {
	char *id;
	struct oci_spec *spec;
	enum container_status status;
	struct cgroup *cg;
	int oom_fd;
	struct process *procs[MAX_PROCS]; /* [0] is init */
	size_t nr_procs;
	struct storage **storages;
	size_t nr_storages;
	struct container *next;
};

struct oom_event {
	char *id;
	struct oom_event *next;
};

static struct {
	struct loop *loop;
	int sigfd;
	struct container *list;
	struct storage *storages;
	struct oom_event *oom_head, **oom_tail;
	struct oom_watcher {
		process_watch_fn fn;
		void *opaque;
		struct oom_watcher *next;
	} * oom_watchers;
} eng = {.sigfd = -1};

static struct container *find(const char *id, struct err *e)
{
	for (struct container *c = eng.list; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	err_set(e, ENOENT, "container %s not found", id);
	return NULL;
}

static struct process *find_proc(struct container *c, const char *exec_id, size_t *index)
{
	for (size_t i = 0; i < c->nr_procs; i++) {
		if ((!exec_id || !exec_id[0]) ? i == 0
		                              : !strcmp(process_exec_id(c->procs[i]), exec_id)) {
			if (index)
				*index = i;
			return c->procs[i];
		}
	}
	return NULL;
}

struct process *container_process(const char *id, const char *exec_id, struct err *e)
{
	struct container *c = find(id, e);
	struct process *p;

	if (!c)
		return NULL;
	p = find_proc(c, exec_id, NULL);
	if (!p)
		err_set(e, ENOENT, "process %s not found in container %s", exec_id, id);
	return p;
}

/* ---- reaping and OOM ---------------------------------------------------- */

static void on_child_exit(pid_t pid, int status)
{
	for (struct container *c = eng.list; c; c = c->next) {
		for (size_t i = 0; i < c->nr_procs; i++) {
			if (process_pid(c->procs[i]) != pid)
				continue;
			log_debug("container %s: process %s (pid %d) exited, status 0x%x", c->id,
			          process_exec_id(c->procs[i]), (int)pid, status);
			if (i == 0)
				c->status = CONTAINER_STOPPED;
			process_set_exited(c->procs[i], status);
			return;
		}
	}
}

static void on_sigchld(void *data, uint32_t events)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	(void)data;
	(void)events;
	while (read(eng.sigfd, &si, sizeof(si)) == sizeof(si))
		;
	/* Reap everything: as PID 1 (or a subreaper) orphans land here too. */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_child_exit(pid, status);
}

static void oom_notify(void)
{
	struct oom_watcher *w = eng.oom_watchers;

	eng.oom_watchers = NULL;
	while (w) {
		struct oom_watcher *next = w->next;

		w->fn(w->opaque);
		free(w);
		w = next;
	}
}

static void on_oom(void *data, uint32_t events)
{
	struct container *c = data;
	struct oom_event *ev;

	(void)events;
	if (cgroup_oom_count(c->cg) <= 0)
		return;
	log_info("container %s: OOM", c->id);
	ev = calloc(1, sizeof(*ev));
	if (!ev || !(ev->id = strdup(c->id))) {
		free(ev);
		return;
	}
	*eng.oom_tail = ev;
	eng.oom_tail = &ev->next;
	oom_notify();
}

int container_oom_pop(char **id)
{
	struct oom_event *ev = eng.oom_head;

	if (!ev) {
		errno = EAGAIN;
		return -1;
	}
	eng.oom_head = ev->next;
	if (!eng.oom_head)
		eng.oom_tail = &eng.oom_head;
	*id = ev->id;
	free(ev);
	return 0;
}

int container_oom_watch(process_watch_fn fn, void *opaque, struct err *e)
{
	struct oom_watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return err_set(e, ENOMEM, "out of memory");
	w->fn = fn;
	w->opaque = opaque;
	w->next = eng.oom_watchers;
	eng.oom_watchers = w;
	return 0;
}

int container_engine_init(struct loop *loop, struct err *e)
{
	sigset_t set;

	eng.loop = loop;
	eng.oom_tail = &eng.oom_head;
	if (spawn_init(e) < 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return err_sys(e, "block SIGCHLD");
	eng.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (eng.sigfd < 0)
		return err_sys(e, "signalfd");
	return loop_add(loop, eng.sigfd, EPOLLIN, on_sigchld, NULL, e);
}

/* ---- storages ----------------------------------------------------------- */

static struct storage *storage_get(const struct mount_storage *st, struct err *e)
{
	struct storage *s;

	for (s = eng.storages; s; s = s->next) {
		if (!strcmp(s->mount_point, st->mount_point)) {
			s->refs++;
			return s;
		}
	}
	if (mount_storage(st, e) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->driver = strdup(st->driver)) ||
	    !(s->mount_point = strdup(st->mount_point))) {
		if (s)
			free(s->driver);
		free(s);
		mount_storage_release(st->driver, st->mount_point, NULL);
		err_set(e, ENOMEM, "out of memory");
		return NULL;
	}
	s->refs = 1;
	s->next = eng.storages;
	eng.storages = s;
	return s;
}

static void storage_put(struct storage *s)
{
	struct err e = {0};

	if (--s->refs > 0)
		return;
	for (struct storage **pp = &eng.storages; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (mount_storage_release(s->driver, s->mount_point, &e) < 0)
		log_warn("%s", e.msg);
	free(s->driver);
	free(s->mount_point);
	free(s);
}

int container_sandbox_storage(const struct mount_storage *st, struct err *e)
{
	return storage_get(st, e) ? 0 : -1;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void container_free(struct container *c)
{
	struct err e = {0};

	for (size_t i = 0; i < c->nr_procs; i++) {
		pid_t pid = process_pid(c->procs[i]);

		if (pid > 0 && !process_exited(c->procs[i], NULL))
			kill(pid, SIGKILL);
	}
	if (c->oom_fd >= 0)
		loop_del(eng.loop, c->oom_fd);
	if (c->cg) {
		if (cgroup_destroy(c->cg, &e) < 0)
			log_warn("container %s: %s", c->id, e.msg);
		cgroup_free(c->cg);
	}
	for (size_t i = 0; i < c->nr_procs; i++)
		process_free(c->procs[i]);
	for (size_t i = 0; i < c->nr_storages; i++)
		storage_put(c->storages[i]);
	free(c->storages);
	oci_spec_free(c->spec);
	free(c->id);
	free(c);
}

static bool valid_id(const char *id)
{
	if (!id[0] || strlen(id) > 128)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-_.", *p)))
			return false;
	return id[0] != '.';
}

static int setup_cgroup(struct container *c, struct err *e)
{
	const char *path = c->spec->cgroups_path;
	cleanup_free char *def = NULL;
	uint32_t events;
	int fd;

	if (cgroup_version() == 0) {
		log_warn("container %s: no cgroup hierarchy, running without limits", c->id);
		return 0;
	}
	/* systemd-style "slice:prefix:name" paths have no meaning here. */
	if (!path || path[0] != '/' || strchr(path, ':') || strstr(path, "..")) {
		if (asprintf(&def, "/hako/%s", c->id) < 0)
			return err_set(e, ENOMEM, "out of memory");
		path = def;
	}
	if (cgroup_create(path, &c->cg, e) < 0 || cgroup_apply(c->cg, &c->spec->resources, e) < 0)
		return err_ctx(e, "linux.resources");
	fd = cgroup_oom_fd(c->cg, &events, e);
	if (fd < 0)
		return -1;
	if (loop_add(eng.loop, fd, events, on_oom, c, e) < 0)
		return -1;
	c->oom_fd = fd;
	return 0;
}

int container_create(const char *id, const char *exec_id, struct oci_spec *spec,
                     const struct mount_storage *storages, size_t nr_storages, struct err *e)
{
	struct spawn_req req = {0};
	struct spawn_child child;
	struct container *c;

	if (!valid_id(id)) {
		oci_spec_free(spec);
		return err_set(e, EINVAL, "container_id: invalid \"%s\"", id);
	}
	if (find(id, NULL)) {
		oci_spec_free(spec);
		return err_set(e, EEXIST, "container %s already exists", id);
	}
	if (!spec->process) {
		oci_spec_free(spec);
		return err_set(e, EINVAL, "process: is required");
	}
	if (spec->root_path[0] != '/') {
		oci_spec_free(spec);
		return err_set(e, EINVAL, "root.path: must be an absolute path in the guest");
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->id = strdup(id))) {
		free(c);
		oci_spec_free(spec);
		return err_set(e, ENOMEM, "out of memory");
	}
	c->spec = spec;
	c->oom_fd = -1;
	if (nr_storages && !(c->storages = calloc(nr_storages, sizeof(*c->storages)))) {
		err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nr_storages; i++) {
		c->storages[i] = storage_get(&storages[i], e);
		if (!c->storages[i]) {
			err_ctx(e, "storages[%zu]", i);
			goto fail;
		}
		c->nr_storages++;
	}
	if (setup_cgroup(c, e) < 0)
		goto fail;
	req.spec = spec;
	req.proc = spec->process;
	req.cg = c->cg;
	if (spawn_create(&req, &child, e) < 0)
		goto fail;
	if (process_new(eng.loop, exec_id && exec_id[0] ? exec_id : id, &child,
	                spec->process->terminal, &c->procs[0], e) < 0) {
		kill(child.pid, SIGKILL);
		spawn_abort(&child);
		goto fail;
	}
	c->nr_procs = 1;
	c->status = CONTAINER_CREATED;
	c->next = eng.list;
	eng.list = c;
	log_info("container %s: created, init pid %d", id, (int)process_pid(c->procs[0]));
	return 0;
fail:
	/* A missing file or path here comes from the request (root, storage
	 * source, mount), not from an unknown container. */
	if (e->errnum == ENOENT)
		e->errnum = EINVAL;
	err_ctx(e, "create container %s", id);
	container_free(c);
	return -1;
}

int container_start(const char *id, struct err *e)
{
	struct container *c = find(id, e);

	if (!c)
		return -1;
	if (c->status != CONTAINER_CREATED)
		return err_set(e, EBUSY, "container %s: already started", id);
	if (process_start(c->procs[0], e) < 0)
		return err_ctx(e, "start container %s", id);
	if (c->status == CONTAINER_CREATED)
		c->status = CONTAINER_RUNNING;
	log_info("container %s: started", id);
	return 0;
}

int container_remove(const char *id, struct err *e)
{
	struct container **pp, *c = find(id, e);

	if (!c)
		return -1;
	for (pp = &eng.list; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	/* Unlinked first: watchers woken by the frees find it gone. */
	container_free(c);
	log_info("container %s: removed", id);
	return 0;
}

void container_engine_cleanup(void)
{
	while (eng.list) {
		struct container *c = eng.list;

		eng.list = c->next;
		container_free(c);
	}
	while (eng.storages) {
		eng.storages->refs = 1;
		storage_put(eng.storages);
	}
}

static void forget(struct container *c, size_t i)
{
	struct process *p = c->procs[i];

	memmove(&c->procs[i], &c->procs[i + 1], (c->nr_procs - i - 1) * sizeof(c->procs[0]));
	c->nr_procs--;
	process_free(p);
}

/* Exec'd processes whose client never asked for some EOF: make room. */
static void forget_idle(struct container *c)
{
	for (size_t i = c->nr_procs; i-- > 1;)
		if (process_idle(c->procs[i]))
			forget(c, i);
}

int container_exec(const char *id, const char *exec_id, struct oci_process *proc, struct err *e)
{
	struct container *c = find(id, e);
	struct spawn_req req = {0};
	struct spawn_child child;
	struct process *p;
	int rc = -1;

	if (!c)
		goto out;
	if (!exec_id || !exec_id[0]) {
		err_set(e, EINVAL, "exec_id: is required");
		goto out;
	}
	if (find_proc(c, exec_id, NULL)) {
		err_set(e, EEXIST, "process %s already exists in container %s", exec_id, id);
		goto out;
	}
	if (c->status != CONTAINER_RUNNING) {
		err_set(e, EBUSY, "container %s is not running", id);
		goto out;
	}
	if (c->nr_procs == MAX_PROCS)
		forget_idle(c);
	if (c->nr_procs == MAX_PROCS) {
		err_set(e, EAGAIN, "container %s: too many processes", id);
		goto out;
	}
	req.spec = c->spec;
	req.proc = proc;
	req.init_pid = process_pid(c->procs[0]);
	req.cg = c->cg;
	if (spawn_create(&req, &child, e) < 0)
		goto out;
	if (process_new(eng.loop, exec_id, &child, proc->terminal, &p, e) < 0) {
		kill(child.pid, SIGKILL);
		spawn_abort(&child);
		goto out;
	}
	c->procs[c->nr_procs++] = p;
	if (process_start(p, e) < 0) {
		kill(process_pid(p), SIGKILL);
		c->nr_procs--;
		process_free(p);
		goto out;
	}
	log_info("container %s: exec %s, pid %d", id, exec_id, (int)process_pid(p));
	rc = 0;
out:
	if (rc < 0 && c) {
		if (e->errnum == ENOENT)
			e->errnum = EINVAL;
		err_ctx(e, "exec in container %s", id);
	}
	oci_process_free(proc);
	return rc;
}

int container_signal(const char *id, const char *exec_id, int sig, struct err *e)
{
	struct process *p = container_process(id, exec_id, e);

	if (!p)
		return -1;
	if (process_exited(p, NULL))
		return 0;
	if (kill(process_pid(p), sig) < 0 && errno != ESRCH)
		return err_sys(e, "signal %d to process %s", sig, process_exec_id(p));
	return 0;
}

static int need_cgroup(struct container *c, struct err *e)
{
	if (!c->cg)
		return err_set(e, ENOTSUP, "not supported: container %s has no cgroup", c->id);
	return 0;
}

int container_pause(const char *id, struct err *e)
{
	struct container *c = find(id, e);

	if (!c || need_cgroup(c, e) < 0)
		return -1;
	if (c->status != CONTAINER_RUNNING)
		return err_set(e, EBUSY, "container %s is not running", id);
	if (cgroup_freeze(c->cg, true, e) < 0)
		return -1;
	c->status = CONTAINER_PAUSED;
	return 0;
}

int container_resume(const char *id, struct err *e)
{
	struct container *c = find(id, e);

	if (!c || need_cgroup(c, e) < 0)
		return -1;
	if (c->status != CONTAINER_PAUSED)
		return err_set(e, EBUSY, "container %s is not paused", id);
	if (cgroup_freeze(c->cg, false, e) < 0)
		return -1;
	c->status = CONTAINER_RUNNING;
	return 0;
}

int container_update(const char *id, const struct oci_resources *r, struct err *e)
{
	struct container *c = find(id, e);

	if (!c || need_cgroup(c, e) < 0)
		return -1;
	return cgroup_apply(c->cg, r, e);
}

int container_stats(const char *id, struct cgroup_stats *st, struct err *e)
{
	struct container *c = find(id, e);

	if (!c || need_cgroup(c, e) < 0)
		return -1;
	return cgroup_stats(c->cg, st, e);
}

int container_status(const char *id, enum container_status *st, struct err *e)
{
	struct container *c = find(id, e);

	if (!c)
		return -1;
	*st = c->status;
	return 0;
}

int container_cgroup_file(const char *id, const char *ctrl, const char *file, char *out,
                          size_t size, struct err *e)
{
	struct container *c = find(id, e);

	if (!c || need_cgroup(c, e) < 0)
		return -1;
	if (cgroup_file_path(c->cg, ctrl, file, out, size) < 0)
		return err_set(e, ENOTSUP, "not supported: controller %s", ctrl);
	return 0;
}

void container_process_release(const char *id, const char *exec_id)
{
	struct container *c = find(id, NULL);
	size_t i;
	struct process *p;

	if (!c || !exec_id || !exec_id[0])
		return;
	p = find_proc(c, exec_id, &i);
	if (p && i > 0 && process_done(p))
		forget(c, i);
}
