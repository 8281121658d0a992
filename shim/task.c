/* shim/task.c: containerd.task.v2.Task on lib/ttrpc (see task.h).
 * Threads: the server's loop thread answers State, Connect and Wait from
 * the state under t->lock; every request that reaches the guest is queued
 * to one worker thread (which boots and owns the VM: qemu dies with the
 * thread that forked it); each running process has a waiter thread
 * (WaitProcess, then drain its output, then publish the exit and answer
 * the Waits) and its stdio threads (shim/io.c); the VM has an OOM watcher
 * (shim/oom.c). */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "proto/containerd/events.pb-c.h"
#include "proto/containerd/runtimeoptions.pb-c.h"
#include "proto/containerd/shim.pb-c.h"
#include "proto/empty.pb-c.h"
#include "runtime/bundle.h"
#include "runtime/config.h"
#include "runtime/sandbox.h"
#include "runtime/spec.h"
#include "runtime/state.h"
#include "shim/io.h"
#include "shim/shim.h"
#include "shim/task.h"
#include "shim/task_internal.h"

/* ---- helpers ---------------------------------------------------------------- */

const char *task_pid_name(const struct proc *p)
{
	return p->exec_id ? p->exec_id : p->c->id;
}

struct ctr *task_find_ctr(struct shim_task *t, const char *id)
{
	for (struct ctr *c = t->ctrs; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

/* Under t->lock. exec_id "" is the init process. */
struct proc *task_find_proc(struct shim_task *t, const char *id, const char *exec_id)
{
	struct ctr *c = task_find_ctr(t, id);

	if (!c)
		return NULL;
	if (!exec_id || !exec_id[0])
		return &c->init;
	for (struct proc *p = c->execs; p; p = p->next)
		if (!strcmp(p->exec_id, exec_id))
			return p;
	return NULL;
}

void task_not_found(struct ttrpc_call *call, const char *id, const char *exec_id)
{
	if (exec_id && exec_id[0])
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "process %s of container %s: not found",
		                 exec_id, id);
	else
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "container %s: not found", id);
}

/* An error from the runtime as a ttrpc status. */
/* The request, decoded as d; NULL once the call is answered
 * INVALID_ARGUMENT for a payload that does not decode. */
void *task_decode(struct ttrpc_call *call, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                  size_t n)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);

	if (!m)
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "undecodable %s", d->short_name);
	return m;
}

void task_fail(struct ttrpc_call *call, const struct err *e)
{
	int code = TTRPC_UNKNOWN;

	switch (e->errnum) {
	case ENOENT:
	case ESRCH:
		code = TTRPC_NOT_FOUND;
		break;
	case EEXIST:
		code = TTRPC_ALREADY_EXISTS;
		break;
	case EINVAL:
		code = TTRPC_INVALID_ARGUMENT;
		break;
	case ENOTSUP:
		code = TTRPC_UNIMPLEMENTED;
		break;
	case EBUSY:
		code = TTRPC_FAILED_PRECONDITION;
		break;
	}
	ttrpc_call_error(call, code, "%s", e->msg);
}

void task_reply_empty(struct ttrpc_call *call)
{
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	ttrpc_call_reply_msg(call, &empty.base);
}

void task_set_ts(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
	ts->seconds = t->tv_sec;
	ts->nanos = (int32_t)t->tv_nsec;
}

char *task_dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

void task_proc_free_fields(struct proc *p)
{
	shim_io_free(p->io);
	if (p->spec)
		protobuf_c_message_free_unpacked(&p->spec->base, NULL);
	free(p->exec_id);
	free(p->stdin_);
	free(p->stdout_);
	free(p->stderr_);
}

static void wait_reply(struct ttrpc_call *call, const struct proc *p)
{
	Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	task_set_ts(&ts, &p->exited_at);
	resp.exit_status = p->exit_status;
	resp.exited_at = &ts;
	ttrpc_call_reply_msg(call, &resp.base);
}

/* Answer every pending Wait on p (after its exit was recorded). */
static void answer_waits(struct proc *p, struct wait *w)
{
	while (w) {
		struct wait *next = w->next;

		wait_reply(w->call, p);
		free(w);
		w = next;
	}
}

/* Record p's exit (under no lock), publish it, then answer its Waits:
 * containerd sees /tasks/exit before a Wait returns. */
static void proc_exited(struct shim_task *t, struct proc *p, uint32_t status)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct wait *w;

	pthread_mutex_lock(&t->lock);
	p->status = STATUS(STOPPED);
	p->exit_status = status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	w = p->waits;
	p->waits = NULL;
	pthread_mutex_unlock(&t->lock);

	task_set_ts(&ts, &p->exited_at);
	ev.container_id = p->c->id;
	ev.id = (char *)task_pid_name(p);
	ev.pid = (uint32_t)t->vm_pid;
	ev.exit_status = status;
	ev.exited_at = &ts;
	shim_events_publish(t->events, SHIM_TOPIC_EXIT, &ev.base);
	answer_waits(p, w);
}

static void *waiter(void *arg)
{
	struct proc *p = arg;
	struct shim_task *t = p->c->t;
	struct err e;
	int status;

	if (agent_wait_process(sandbox_agent(t->sb), p->c->id, p->exec_id, &status, &e) < 0) {
		log_warn("%s: wait: %s", task_pid_name(p), e.msg);
		status = EXIT_UNKNOWN;
	}
	/* every byte the process wrote reaches containerd before its exit */
	if (p->io)
		shim_io_finish(p->io, DRAIN_TIMEOUT_MS);
	log_info("%s: exited with status %d", task_pid_name(p), status);
	proc_exited(t, p, (uint32_t)status);
	return NULL;
}

/* ---- rootfs ----------------------------------------------------------------- */

/* containerd's snapshot mounts (overlay, bind) onto the bundle's rootfs. */
static int mount_rootfs(Containerd__Types__Mount **mounts, size_t n, const char *target,
                        struct err *e)
{
	const Containerd__Types__Mount *m;
	unsigned long flags = 0;
	char data[8192] = "";
	bool bind;

	if (n == 0)
		return 0;
	if (n > 1)
		return err_set(e, ENOTSUP, "not supported: %zu rootfs mounts", n);
	m = mounts[0];
	bind = !strcmp(m->type, "bind") || !strcmp(m->type, "rbind");
	if (bind)
		flags |= MS_BIND | (!strcmp(m->type, "rbind") ? MS_REC : 0);
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];

		if (!strcmp(o, "ro"))
			flags |= MS_RDONLY;
		else if (!strcmp(o, "rw"))
			continue;
		else if (!strcmp(o, "bind"))
			flags |= MS_BIND;
		else if (!strcmp(o, "rbind"))
			flags |= MS_BIND | MS_REC;
		else if (!strcmp(o, "nosuid"))
			flags |= MS_NOSUID;
		else if (!strcmp(o, "nodev"))
			flags |= MS_NODEV;
		else if (!strcmp(o, "noexec"))
			flags |= MS_NOEXEC;
		else if (strlen(data) + strlen(o) + 2 < sizeof(data))
			snprintf(data + strlen(data), sizeof(data) - strlen(data), "%s%s",
			         data[0] ? "," : "", o);
		else
			return err_set(e, E2BIG, "rootfs mount options too long");
	}
	if (flags & MS_BIND) {
		if (mount(m->source, target, NULL, flags & ~MS_RDONLY, NULL) < 0)
			return err_sys(e, "bind mount %s on %s", m->source, target);
		if ((flags & MS_RDONLY) &&
		    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
			err_sys(e, "remount %s read-only", target);
			umount2(target, MNT_DETACH);
			return -1;
		}
		return 0;
	}
	if (mount(m->source, target, m->type, flags, data[0] ? data : NULL) < 0)
		return err_sys(e, "mount %s (%s) on %s", m->source, m->type, target);
	return 0;
}

/* ---- the VM ------------------------------------------------------------------ */

/* The configuration file CRI names in the runtime's options (ConfigPath),
 * or NULL for the default ($HAKO_CONFIG, /etc/hako/configuration.toml). */
static int options_config_path(const Google__Protobuf__Any *options, char **path, struct err *e)
{
	Runtimeoptions__V1__Options *o;
	const char *url = options ? options->type_url : NULL;
	size_t n = url ? strlen(url) : 0, suffix = strlen("runtimeoptions.v1.Options");

	*path = NULL;
	if (n < suffix || strcmp(url + n - suffix, "runtimeoptions.v1.Options"))
		return 0; /* none, or another runtime's options: not ours to read */
	o = runtimeoptions__v1__options__unpack(NULL, options->value.len, options->value.data);
	if (!o)
		return err_set(e, EINVAL, "undecodable runtime options (%s)", url);
	if (o->config_path[0] && !(*path = strdup(o->config_path))) {
		runtimeoptions__v1__options__free_unpacked(o, NULL);
		return err_set(e, ENOMEM, "out of memory");
	}
	runtimeoptions__v1__options__free_unpacked(o, NULL);
	return 0;
}

static int boot(struct shim_task *t, const char *id, const char *config_path, struct err *e)
{
	struct sandbox_config sc = {.id = id, .run_dir = t->run_dir, .hostname = id};
	cleanup_free char *parent = strdup(t->run_dir), *pidfile = NULL, *pids = NULL;
	struct config_choice ch;
	struct err we;

	if (!parent)
		return err_set(e, ENOMEM, "out of memory");
	if (!t->cfg && config_load(config_path, &t->cfg, e) < 0)
		return -1;
	if (config_resolve_hypervisor(t->cfg, NULL, &ch, e) < 0)
		return -1;
	sc.ops = hv_lookup(ch.hypervisor);
	if (!sc.ops)
		return err_set(e, ENOTSUP, "not supported: hypervisor %s in this build",
		               ch.hypervisor);
	log_info("%s: %s", id, ch.reason);
	free(t->kernel);
	free(t->initrd);
	t->kernel = t->initrd = NULL;
	if (config_hv_config(t->cfg, &ch, &sc.hv, &t->kernel, &t->initrd, e) < 0)
		return -1;
	sc.agent_timeout_ms = (int)t->cfg->agent.dial_timeout * 1000;
	if (util_mkdir_p(dirname(parent), 0700, e) < 0)
		return -1;
	if (sandbox_start(&t->sb, &sc, e) < 0)
		return -1;
	/* without it containers still run: only their OOM events go unseen */
	if (shim_oom_start(&t->oom, sandbox_agent(t->sb), t->events, &we) < 0)
		log_warn("%s: %s", id, we.msg);
	t->vm_pid = sc.ops->pid(sandbox_hv(t->sb));
	/* for `delete` after this shim died */
	if (asprintf(&pidfile, "%s/vm.pid", t->run_dir) < 0 ||
	    asprintf(&pids, "%d %llu\n", (int)t->vm_pid, state_proc_start(t->vm_pid)) < 0)
		return err_set(e, ENOMEM, "out of memory");
	if (util_write_file(pidfile, pids, strlen(pids), 0600, e) < 0)
		log_warn("%s", e->msg);
	return 0;
}

static void stop_vm(struct shim_task *t)
{
	struct err e;

	if (!t->sb)
		return;
	if (sandbox_stop(t->sb, &e) < 0)
		log_warn("stop the VM: %s", e.msg);
	/* the agent's stream has ended: so has the watcher's wait */
	shim_oom_free(t->oom);
	t->oom = NULL;
	sandbox_free(t->sb);
	t->sb = NULL;
}

/* ---- Create / Start / Delete --------------------------------------------------- */

static int create(struct shim_task *t, const Containerd__Task__V2__CreateTaskRequest *req,
                  struct ctr *c, struct err *e)
{
	struct bundle *b = NULL;
	Grpc__Spec *spec = NULL;
	struct shim_io_config io = {0};
	int r = -1;

	if (req->checkpoint && req->checkpoint[0])
		return err_set(e, ENOTSUP, "not supported: checkpoint (restore)");
	if (bundle_load(req->bundle, &b, e) < 0)
		return -1;
	if (!(c->rootfs = strdup(b->rootfs)))
		goto oom;
	if (mount_rootfs(req->rootfs, req->n_rootfs, b->rootfs, e) < 0)
		goto out;
	c->rootfs_mounted = req->n_rootfs > 0;
	if (spec_from_json_object(b->spec, &spec, e) < 0)
		goto out;
	if (!t->sb) {
		if (b->kind == BUNDLE_CONTAINER)
			log_warn("%s: its pod sandbox %s is not in this shim: booting a VM for it",
			         req->id, bundle_sandbox_id(b));
		cleanup_free char *config_path = NULL;

		if (options_config_path(req->options, &config_path, e) < 0 ||
		    boot(t, req->id, config_path, e) < 0)
			goto out;
	}
	if (sandbox_create_container(t->sb, req->id, b->rootfs, b->readonly, spec, e) < 0)
		goto out;
	io.agent = sandbox_agent(t->sb);
	io.cid = req->id;
	io.stdin_path = req->stdin;
	io.stdout_path = req->stdout;
	io.stderr_path = req->stderr;
	io.terminal = req->terminal;
	if (shim_io_open(&c->init.io, &io, e) < 0) {
		struct err ce;

		if (sandbox_remove_container(t->sb, req->id, REMOVE_TIMEOUT_S, &ce) < 0)
			log_warn("%s", ce.msg);
		goto out;
	}
	r = 0;
	goto out;
oom:
	err_set(e, ENOMEM, "out of memory");
out:
	if (r < 0 && c->rootfs_mounted) {
		umount2(b->rootfs, MNT_DETACH);
		c->rootfs_mounted = false;
	}
	if (spec)
		spec_free(spec);
	bundle_free(b);
	return r;
}

static void do_create(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__CreateTaskRequest *req;
	Containerd__Task__V2__CreateTaskResponse resp =
	        CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO evio = CONTAINERD__EVENTS__TASK_IO__INIT;
	struct ctr *c;
	struct err e;

	req = task_decode(call, &containerd__task__v2__create_task_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	c = task_find_ctr(t, req->id);
	pthread_mutex_unlock(&t->lock);
	if (c) {
		ttrpc_call_error(call, TTRPC_ALREADY_EXISTS, "container %s: already exists",
		                 req->id);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->id = strdup(req->id)) || !(c->bundle = strdup(req->bundle))) {
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto free_c;
	}
	c->t = t;
	c->init.c = c;
	c->init.status = STATUS(CREATED);
	c->init.terminal = req->terminal;
	c->init.stdin_ = task_dup_or_null(req->stdin);
	c->init.stdout_ = task_dup_or_null(req->stdout);
	c->init.stderr_ = task_dup_or_null(req->stderr);
	if (create(t, req, c, &e) < 0) {
		log_error("create %s: %s", req->id, e.msg);
		task_fail(call, &e);
		goto free_c;
	}
	pthread_mutex_lock(&t->lock);
	c->next = t->ctrs;
	t->ctrs = c;
	pthread_mutex_unlock(&t->lock);
	log_info("%s: created", c->id);

	ev.container_id = req->id;
	ev.bundle = req->bundle;
	ev.n_rootfs = req->n_rootfs;
	ev.rootfs = req->rootfs;
	evio.stdin = req->stdin;
	evio.stdout = req->stdout;
	evio.stderr = req->stderr;
	evio.terminal = req->terminal;
	ev.io = &evio;
	ev.pid = (uint32_t)t->vm_pid;
	shim_events_publish(t->events, SHIM_TOPIC_CREATE, &ev.base);
	resp.pid = (uint32_t)t->vm_pid;
	ttrpc_call_reply_msg(call, &resp.base);
	goto out;
free_c:
	if (c) {
		task_proc_free_fields(&c->init);
		free(c->id);
		free(c->bundle);
		free(c->rootfs);
		free(c);
	}
out:
	containerd__task__v2__create_task_request__free_unpacked(req, NULL);
}

static int start_proc(struct shim_task *t, struct proc *p, struct err *e)
{
	int r;

	if (p->exec_id) {
		if (agent_exec_process(sandbox_agent(t->sb), p->c->id, p->exec_id, p->spec, e) < 0)
			return -1;
	} else if (sandbox_start_container(t->sb, p->c->id, e) < 0) {
		return -1;
	}
	pthread_mutex_lock(&t->lock);
	p->status = STATUS(RUNNING);
	pthread_mutex_unlock(&t->lock);
	if (p->io && shim_io_start(p->io, e) < 0)
		log_warn("%s: %s", task_pid_name(p), e->msg);
	r = pthread_create(&p->waiter, NULL, waiter, p);
	if (r) {
		errno = r;
		return err_sys(e, "%s: waiter thread", task_pid_name(p));
	}
	p->waiter_running = true;
	return 0;
}

static void do_start(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__StartRequest *req;
	Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	struct proc *pr;
	struct err e;
	bool created;

	req = task_decode(call, &containerd__task__v2__start_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	created = pr && pr->status == STATUS(CREATED);
	pthread_mutex_unlock(&t->lock);
	if (!pr) {
		task_not_found(call, req->id, req->exec_id);
	} else if (!created) {
		ttrpc_call_error(call, TTRPC_FAILED_PRECONDITION, "%s: not in the created state",
		                 task_pid_name(pr));
	} else if (start_proc(t, pr, &e) < 0) {
		log_error("start %s: %s", task_pid_name(pr), e.msg);
		task_fail(call, &e);
	} else {
		if (pr->exec_id) {
			Containerd__Events__TaskExecStarted ev =
			        CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

			ev.container_id = req->id;
			ev.exec_id = req->exec_id;
			ev.pid = (uint32_t)t->vm_pid;
			shim_events_publish(t->events, SHIM_TOPIC_EXEC_STARTED, &ev.base);
		} else {
			Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

			ev.container_id = req->id;
			ev.pid = (uint32_t)t->vm_pid;
			shim_events_publish(t->events, SHIM_TOPIC_START, &ev.base);
		}
		resp.pid = (uint32_t)t->vm_pid;
		ttrpc_call_reply_msg(call, &resp.base);
	}
	containerd__task__v2__start_request__free_unpacked(req, NULL);
}

/* A process that never ran (or whose container goes away) ends as killed. */
static void proc_discard(struct shim_task *t, struct proc *p)
{
	if (p->waiter_running) {
		pthread_join(p->waiter, NULL);
		p->waiter_running = false;
	} else if (p->status != STATUS(STOPPED)) {
		if (p->io)
			shim_io_finish(p->io, 0);
		proc_exited(t, p, 128 + SIGKILL);
	}
}

static void do_delete(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__DeleteRequest *req;
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct proc *pr;
	struct ctr *c;
	struct err e;
	bool running;

	req = task_decode(call, &containerd__task__v2__delete_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	c = pr ? pr->c : NULL;
	running = pr && (pr->status == STATUS(RUNNING) || pr->status == STATUS(PAUSED));
	pthread_mutex_unlock(&t->lock);
	if (!pr) {
		task_not_found(call, req->id, req->exec_id);
		goto out;
	}
	if (running) {
		ttrpc_call_error(call, TTRPC_FAILED_PRECONDITION,
		                 "%s: cannot delete a running process", task_pid_name(pr));
		goto out;
	}
	if (!pr->exec_id) {
		/* the container, and its execs with it */
		if (sandbox_remove_container(t->sb, c->id, REMOVE_TIMEOUT_S, &e) < 0)
			log_warn("delete %s: %s", c->id, e.msg);
		for (struct proc *x = c->execs; x; x = x->next)
			proc_discard(t, x);
		if (c->rootfs_mounted && umount2(c->rootfs, MNT_DETACH) < 0)
			log_warn("delete %s: unmount %s: %s", c->id, c->rootfs, strerror(errno));
	}
	proc_discard(t, pr);

	task_set_ts(&ts, &pr->exited_at);
	resp.pid = ev.pid = (uint32_t)t->vm_pid;
	resp.exit_status = ev.exit_status = pr->exit_status;
	resp.exited_at = ev.exited_at = &ts;
	ev.container_id = req->id;
	ev.id = (char *)task_pid_name(pr);
	shim_events_publish(t->events, SHIM_TOPIC_DELETE, &ev.base);
	ttrpc_call_reply_msg(call, &resp.base);
	log_info("%s: deleted", task_pid_name(pr));

	pthread_mutex_lock(&t->lock);
	if (pr->exec_id) {
		struct proc **pp = &c->execs;

		while (*pp != pr)
			pp = &(*pp)->next;
		*pp = pr->next;
		task_proc_free_fields(pr);
		free(pr);
	} else {
		struct ctr **cp = &t->ctrs;

		while (*cp != c)
			cp = &(*cp)->next;
		*cp = c->next;
		while (c->execs) {
			struct proc *x = c->execs;

			c->execs = x->next;
			task_proc_free_fields(x);
			free(x);
		}
		task_proc_free_fields(&c->init);
		free(c->id);
		free(c->bundle);
		free(c->rootfs);
		free(c);
	}
	pthread_mutex_unlock(&t->lock);
out:
	containerd__task__v2__delete_request__free_unpacked(req, NULL);
}

/* ---- Kill / Exec / stdio ------------------------------------------------------- */

static void do_kill(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__KillRequest *req;
	struct proc *pr;
	Containerd__V1__Types__Status st = STATUS(UNKNOWN);
	struct err e;

	req = task_decode(call, &containerd__task__v2__kill_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	if (pr)
		st = pr->status;
	pthread_mutex_unlock(&t->lock);
	if (!pr) {
		task_not_found(call, req->id, req->exec_id);
	} else if (st == STATUS(STOPPED)) {
		/* what containerd's runc shim answers, and containerd expects */
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "process already finished: not found");
	} else if (st == STATUS(CREATED)) {
		/* never started: nothing runs in the guest yet; it ends here */
		if (pr->io)
			shim_io_finish(pr->io, 0);
		proc_exited(t, pr, 128 + req->signal);
		task_reply_empty(call);
	} else if (agent_signal_process(sandbox_agent(t->sb), req->id, pr->exec_id,
	                                (int)req->signal, &e) < 0) {
		task_fail(call, &e);
	} else {
		/* all: the agent signals the container's init, whose pid
		 * namespace takes every other process of it along */
		log_info("%s: signal %u%s", task_pid_name(pr), req->signal,
		         req->all ? " (all)" : "");
		task_reply_empty(call);
	}
	containerd__task__v2__kill_request__free_unpacked(req, NULL);
}

static void do_shutdown(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	bool busy;

	(void)p;
	(void)n;
	pthread_mutex_lock(&t->lock);
	busy = t->ctrs != NULL;
	pthread_mutex_unlock(&t->lock);
	if (busy) { /* other containers of the pod still use this shim */
		task_reply_empty(call);
		return;
	}
	stop_vm(t);
	task_reply_empty(call);
	log_info("shutdown");
	loop_stop(t->loop);
}

/* ---- answered on the loop thread ---------------------------------------------- */

static void on_state(struct ttrpc_call *call, const uint8_t *p, size_t n, void *opaque)
{
	struct shim_task *t = opaque;
	Containerd__Task__V2__StateRequest *req;
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct proc *pr;

	req = task_decode(call, &containerd__task__v2__state_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	if (pr) {
		resp.id = pr->c->id;
		resp.bundle = pr->c->bundle;
		resp.pid = (uint32_t)t->vm_pid;
		resp.status = pr->status;
		resp.stdin = pr->stdin_ ? pr->stdin_ : "";
		resp.stdout = pr->stdout_ ? pr->stdout_ : "";
		resp.stderr = pr->stderr_ ? pr->stderr_ : "";
		resp.terminal = pr->terminal;
		resp.exit_status = pr->exit_status;
		resp.exec_id = pr->exec_id ? pr->exec_id : "";
		if (pr->status == STATUS(STOPPED)) {
			task_set_ts(&ts, &pr->exited_at);
			resp.exited_at = &ts;
		}
		ttrpc_call_reply_msg(call, &resp.base);
	}
	pthread_mutex_unlock(&t->lock);
	if (!pr)
		task_not_found(call, req->id, req->exec_id);
	containerd__task__v2__state_request__free_unpacked(req, NULL);
}

static void on_wait(struct ttrpc_call *call, const uint8_t *p, size_t n, void *opaque)
{
	struct shim_task *t = opaque;
	Containerd__Task__V2__WaitRequest *req;
	struct proc *pr;
	struct wait *w = NULL;
	bool stopped = false;

	req = task_decode(call, &containerd__task__v2__wait_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	if (pr && pr->status == STATUS(STOPPED)) {
		stopped = true;
	} else if (pr) {
		w = calloc(1, sizeof(*w));
		if (w) {
			w->call = call;
			w->next = pr->waits;
			pr->waits = w;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!pr)
		task_not_found(call, req->id, req->exec_id);
	else if (stopped)
		wait_reply(call, pr);
	else if (!w)
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
	containerd__task__v2__wait_request__free_unpacked(req, NULL);
}

static void on_connect(struct ttrpc_call *call, const uint8_t *p, size_t n, void *opaque)
{
	struct shim_task *t = opaque;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)p;
	(void)n;
	resp.shim_pid = (uint32_t)getpid();
	pthread_mutex_lock(&t->lock);
	resp.task_pid = (uint32_t)t->vm_pid;
	pthread_mutex_unlock(&t->lock);
	resp.version = HAKO_VERSION;
	ttrpc_call_reply_msg(call, &resp.base);
}

/* ---- the worker ------------------------------------------------------------------ */

static void *worker(void *arg)
{
	struct shim_task *t = arg;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct job *j;

		while (!t->jobs && !t->stopping)
			pthread_cond_wait(&t->cond, &t->lock);
		if (!t->jobs)
			break;
		j = t->jobs;
		t->jobs = j->next;
		if (!t->jobs)
			t->jobs_tail = &t->jobs;
		pthread_mutex_unlock(&t->lock);
		log_debug("%s", ttrpc_call_method(j->call));
		j->fn(t, j->call, j->payload, j->len);
		free(j->payload);
		free(j);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	/* the VM's processes die with this thread: stop it properly first */
	stop_vm(t);
	return NULL;
}

static void enqueue(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n,
                    void (*fn)(struct shim_task *, struct ttrpc_call *, const uint8_t *, size_t))
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j || !(j->payload = malloc(n ? n : 1))) {
		free(j);
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	memcpy(j->payload, p, n);
	j->len = n;
	j->call = call;
	j->fn = fn;
	pthread_mutex_lock(&t->lock);
	*t->jobs_tail = j;
	t->jobs_tail = &j->next;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* A loop-thread handler that hands the request to the worker. */
#define ON_WORKER(name)                                                                            \
	static void q_##name(struct ttrpc_call *call, const uint8_t *p, size_t n, void *opaque)    \
	{                                                                                          \
		enqueue(opaque, call, p, n, do_##name);                                            \
	}

#define ON_WORKER_OPS(name)                                                                        \
	static void q_##name(struct ttrpc_call *call, const uint8_t *p, size_t n, void *opaque)    \
	{                                                                                          \
		enqueue(opaque, call, p, n, task_do_##name);                                       \
	}

ON_WORKER(create)
ON_WORKER(start)
ON_WORKER(delete)
ON_WORKER_OPS(pids)
ON_WORKER_OPS(pause)
ON_WORKER_OPS(resume)
ON_WORKER_OPS(checkpoint)
ON_WORKER(kill)
ON_WORKER_OPS(exec)
ON_WORKER_OPS(resize_pty)
ON_WORKER_OPS(close_io)
ON_WORKER_OPS(update)
ON_WORKER_OPS(stats)
ON_WORKER(shutdown)

static const struct ttrpc_method methods[] = {
        {SHIM_TASK_SERVICE, "State", on_state},
        {SHIM_TASK_SERVICE, "Create", q_create},
        {SHIM_TASK_SERVICE, "Start", q_start},
        {SHIM_TASK_SERVICE, "Delete", q_delete},
        {SHIM_TASK_SERVICE, "Pids", q_pids},
        {SHIM_TASK_SERVICE, "Pause", q_pause},
        {SHIM_TASK_SERVICE, "Resume", q_resume},
        {SHIM_TASK_SERVICE, "Checkpoint", q_checkpoint},
        {SHIM_TASK_SERVICE, "Kill", q_kill},
        {SHIM_TASK_SERVICE, "Exec", q_exec},
        {SHIM_TASK_SERVICE, "ResizePty", q_resize_pty},
        {SHIM_TASK_SERVICE, "CloseIO", q_close_io},
        {SHIM_TASK_SERVICE, "Update", q_update},
        {SHIM_TASK_SERVICE, "Wait", on_wait},
        {SHIM_TASK_SERVICE, "Stats", q_stats},
        {SHIM_TASK_SERVICE, "Connect", on_connect},
        {SHIM_TASK_SERVICE, "Shutdown", q_shutdown},
};

const struct ttrpc_method *shim_task_methods(size_t *n)
{
	*n = ARRAY_SIZE(methods);
	return methods;
}

int shim_task_new(struct shim_task **out, const struct shim_task_config *cfg, struct err *e)
{
	struct shim_task *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return err_set(e, ENOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->jobs_tail = &t->jobs;
	t->loop = cfg->loop;
	t->events = cfg->events;
	t->ns = strdup(cfg->ns);
	t->run_dir = strdup(cfg->run_dir);
	if (!t->ns || !t->run_dir) {
		shim_task_free(t);
		return err_set(e, ENOMEM, "out of memory");
	}
	r = pthread_create(&t->worker, NULL, worker, t);
	if (r) {
		shim_task_free(t);
		errno = r;
		return err_sys(e, "worker thread");
	}
	t->worker_running = true;
	*out = t;
	return 0;
}

void shim_task_free(struct shim_task *t)
{
	if (!t)
		return;
	if (t->worker_running) {
		pthread_mutex_lock(&t->lock);
		t->stopping = true;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->worker, NULL);
	}
	/* the VM is gone: what still waits for a process ends with it */
	while (t->ctrs) {
		struct ctr *c = t->ctrs;

		t->ctrs = c->next;
		while (c->execs) {
			struct proc *x = c->execs;

			c->execs = x->next;
			if (x->waiter_running)
				pthread_join(x->waiter, NULL);
			task_proc_free_fields(x);
			free(x);
		}
		if (c->init.waiter_running)
			pthread_join(c->init.waiter, NULL);
		if (c->rootfs_mounted)
			umount2(c->rootfs, MNT_DETACH);
		task_proc_free_fields(&c->init);
		free(c->id);
		free(c->bundle);
		free(c->rootfs);
		free(c);
	}
	config_free(t->cfg);
	free(t->kernel);
	free(t->initrd);
	free(t->ns);
	free(t->run_dir);
	free(t);
}
