/* shim/task_ops.c: the task service's requests beyond the lifecycle: Exec,
 * ResizePty, CloseIO, Pause, Resume, Update, Stats, Pids, Checkpoint (run
 * on the worker thread, see task.c). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/pbjson.h"
#include "lib/util.h"
#include "proto/containerd/events.pb-c.h"
#include "proto/containerd/metrics.pb-c.h"
#include "proto/containerd/shim.pb-c.h"
#include "runtime/sandbox.h"
#include "shim/io.h"
#include "shim/task_internal.h"

#define METRICS_TYPE_URL "io.containerd.cgroups.v1.Metrics"

/* The Any containerd sends for a process spec is its OCI JSON. */
int task_any_json(const Google__Protobuf__Any *any, const ProtobufCMessageDescriptor *d,
                  ProtobufCMessage **out, struct err *e)
{
	cleanup_free char *json = NULL;

	if (!any)
		return err_set(e, EINVAL, "missing %s", d->short_name);
	json = strndup((const char *)any->value.data, any->value.len);
	if (!json)
		return err_set(e, ENOMEM, "out of memory");
	if (pbjson_from_string(d, json, PBJSON_OCI | PBJSON_LENIENT, out, e) < 0)
		return err_ctx(e, "%s (%s)", d->short_name, any->type_url);
	return 0;
}

void task_do_exec(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__ExecProcessRequest *req;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct shim_io_config io = {0};
	ProtobufCMessage *spec = NULL;
	struct proc *pr = NULL;
	struct ctr *c;
	struct err e;

	req = task_decode(call, &containerd__task__v2__exec_process_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	c = task_find_ctr(t, req->id);
	if (c && req->exec_id[0] && task_find_proc(t, req->id, req->exec_id)) {
		pthread_mutex_unlock(&t->lock);
		ttrpc_call_error(call, TTRPC_ALREADY_EXISTS, "exec %s: already exists",
		                 req->exec_id);
		goto out;
	}
	pthread_mutex_unlock(&t->lock);
	if (!c || !req->exec_id[0]) {
		task_not_found(call, req->id, "");
		goto out;
	}
	if (task_any_json(req->spec, &grpc__process__descriptor, &spec, &e) < 0) {
		task_fail(call, &e);
		goto out;
	}
	pr = calloc(1, sizeof(*pr));
	if (!pr || !(pr->exec_id = strdup(req->exec_id))) {
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	pr->c = c;
	pr->spec = (Grpc__Process *)steal_ptr(spec);
	pr->status = STATUS(CREATED);
	pr->terminal = req->terminal;
	pr->stdin_ = task_dup_or_null(req->stdin);
	pr->stdout_ = task_dup_or_null(req->stdout);
	pr->stderr_ = task_dup_or_null(req->stderr);
	io.agent = sandbox_agent(t->sb);
	io.cid = req->id;
	io.exec_id = req->exec_id;
	io.stdin_path = req->stdin;
	io.stdout_path = req->stdout;
	io.stderr_path = req->stderr;
	io.terminal = req->terminal;
	if (shim_io_open(&pr->io, &io, &e) < 0) {
		task_fail(call, &e);
		goto out;
	}
	pthread_mutex_lock(&t->lock);
	pr->next = c->execs;
	c->execs = pr;
	pthread_mutex_unlock(&t->lock);
	ev.container_id = req->id;
	ev.exec_id = req->exec_id;
	shim_events_publish(t->events, SHIM_TOPIC_EXEC_ADDED, &ev.base);
	task_reply_empty(call);
	pr = NULL;
out:
	if (pr) {
		task_proc_free_fields(pr);
		free(pr);
	}
	if (spec)
		protobuf_c_message_free_unpacked(spec, NULL);
	containerd__task__v2__exec_process_request__free_unpacked(req, NULL);
}

void task_do_resize_pty(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__ResizePtyRequest *req;
	struct proc *pr;
	struct err e;

	req = task_decode(call, &containerd__task__v2__resize_pty_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	pthread_mutex_unlock(&t->lock);
	if (!pr)
		task_not_found(call, req->id, req->exec_id);
	else if (agent_tty_resize(sandbox_agent(t->sb), req->id, pr->exec_id, req->height,
	                          req->width, &e) < 0)
		task_fail(call, &e);
	else
		task_reply_empty(call);
	containerd__task__v2__resize_pty_request__free_unpacked(req, NULL);
}

void task_do_close_io(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__CloseIORequest *req;
	struct proc *pr;

	req = task_decode(call, &containerd__task__v2__close_iorequest__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, req->id, req->exec_id);
	pthread_mutex_unlock(&t->lock);
	if (!pr) {
		task_not_found(call, req->id, req->exec_id);
	} else {
		if (req->stdin && pr->io)
			shim_io_close_stdin(pr->io);
		task_reply_empty(call);
	}
	containerd__task__v2__close_iorequest__free_unpacked(req, NULL);
}

/* ---- Pause / Resume / Update / Stats / Pids --------------------------------------- */

static void pause_resume(struct shim_task *t, struct ttrpc_call *call, const char *id, bool pause)
{
	struct proc *pr;
	struct err e;
	int r;

	pthread_mutex_lock(&t->lock);
	pr = task_find_proc(t, id, "");
	pthread_mutex_unlock(&t->lock);
	if (!pr) {
		task_not_found(call, id, "");
		return;
	}
	r = pause ? agent_pause_container(sandbox_agent(t->sb), id, &e)
	          : agent_resume_container(sandbox_agent(t->sb), id, &e);
	if (r < 0) {
		task_fail(call, &e);
		return;
	}
	pthread_mutex_lock(&t->lock);
	if (pr->status != STATUS(STOPPED))
		pr->status = pause ? STATUS(PAUSED) : STATUS(RUNNING);
	pthread_mutex_unlock(&t->lock);
	if (pause) {
		Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

		ev.container_id = (char *)id;
		shim_events_publish(t->events, SHIM_TOPIC_PAUSED, &ev.base);
	} else {
		Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

		ev.container_id = (char *)id;
		shim_events_publish(t->events, SHIM_TOPIC_RESUMED, &ev.base);
	}
	task_reply_empty(call);
}

void task_do_pause(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__PauseRequest *req =
	        task_decode(call, &containerd__task__v2__pause_request__descriptor, p, n);

	if (!req)
		return;
	pause_resume(t, call, req->id, true);
	containerd__task__v2__pause_request__free_unpacked(req, NULL);
}

void task_do_resume(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__ResumeRequest *req =
	        task_decode(call, &containerd__task__v2__resume_request__descriptor, p, n);

	if (!req)
		return;
	pause_resume(t, call, req->id, false);
	containerd__task__v2__resume_request__free_unpacked(req, NULL);
}

void task_do_update(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__UpdateTaskRequest *req;
	ProtobufCMessage *res = NULL;
	struct err e;
	bool known;

	req = task_decode(call, &containerd__task__v2__update_task_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	known = task_find_ctr(t, req->id) != NULL;
	pthread_mutex_unlock(&t->lock);
	if (!known)
		task_not_found(call, req->id, "");
	else if (task_any_json(req->resources, &grpc__linux_resources__descriptor, &res, &e) < 0 ||
	         agent_update_container(sandbox_agent(t->sb), req->id, (Grpc__LinuxResources *)res,
	                                &e) < 0)
		task_fail(call, &e);
	else
		task_reply_empty(call);
	if (res)
		protobuf_c_message_free_unpacked(res, NULL);
	containerd__task__v2__update_task_request__free_unpacked(req, NULL);
}

static uint64_t mem_stat(const Grpc__MemoryStats *m, const char *key)
{
	for (size_t i = 0; i < m->n_stats; i++)
		if (!strcmp(m->stats[i]->key, key))
			return m->stats[i]->value;
	return 0;
}

static void mem_entry(Io__Containerd__Cgroups__V1__MemoryEntry *out, const Grpc__MemoryData *d)
{
	if (!d)
		return;
	out->usage = d->usage;
	out->max = d->max_usage;
	out->failcnt = d->failcnt;
	out->limit = d->limit;
}

/* The agent's cgroup statistics as containerd's cgroups v1 Metrics. */
static void fill_metrics(Io__Containerd__Cgroups__V1__Metrics *m, const Grpc__CgroupStats *cg,
                         Io__Containerd__Cgroups__V1__PidsStat *pids,
                         Io__Containerd__Cgroups__V1__CPUStat *cpu,
                         Io__Containerd__Cgroups__V1__CPUUsage *usage,
                         Io__Containerd__Cgroups__V1__Throttle *thr,
                         Io__Containerd__Cgroups__V1__MemoryStat *mem,
                         Io__Containerd__Cgroups__V1__MemoryEntry ent[3])
{
	if (!cg)
		return;
	if (cg->pids_stats) {
		pids->current = cg->pids_stats->current;
		pids->limit = cg->pids_stats->limit;
		m->pids = pids;
	}
	if (cg->cpu_stats && cg->cpu_stats->cpu_usage) {
		const Grpc__CpuUsage *u = cg->cpu_stats->cpu_usage;

		usage->total = u->total_usage;
		usage->kernel = u->usage_in_kernelmode;
		usage->user = u->usage_in_usermode;
		usage->n_per_cpu = u->n_percpu_usage;
		usage->per_cpu = u->percpu_usage;
		cpu->usage = usage;
		if (cg->cpu_stats->throttling_data) {
			thr->periods = cg->cpu_stats->throttling_data->periods;
			thr->throttled_periods = cg->cpu_stats->throttling_data->throttled_periods;
			thr->throttled_time = cg->cpu_stats->throttling_data->throttled_time;
			cpu->throttling = thr;
		}
		m->cpu = cpu;
	}
	if (cg->memory_stats) {
		const Grpc__MemoryStats *ms = cg->memory_stats;

		mem->cache = ms->cache;
		mem->rss = mem_stat(ms, "rss");
		mem->mapped_file = mem_stat(ms, "mapped_file");
		mem->pg_fault = mem_stat(ms, "pgfault");
		mem->pg_maj_fault = mem_stat(ms, "pgmajfault");
		mem->inactive_file = mem_stat(ms, "inactive_file");
		mem->active_file = mem_stat(ms, "active_file");
		mem->inactive_anon = mem_stat(ms, "inactive_anon");
		mem->active_anon = mem_stat(ms, "active_anon");
		mem_entry(&ent[0], ms->usage);
		mem_entry(&ent[1], ms->swap_usage);
		mem_entry(&ent[2], ms->kernel_usage);
		mem->usage = &ent[0];
		mem->swap = &ent[1];
		mem->kernel = &ent[2];
		m->memory = mem;
	}
}

void task_do_stats(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__StatsRequest *req;
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
	Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
	Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
	Io__Containerd__Cgroups__V1__Throttle thr = IO__CONTAINERD__CGROUPS__V1__THROTTLE__INIT;
	Io__Containerd__Cgroups__V1__MemoryStat mem =
	        IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
	Io__Containerd__Cgroups__V1__MemoryEntry ent[3] = {
	        IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT,
	        IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT,
	        IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT};
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Grpc__StatsContainerResponse *st = NULL;
	cleanup_free uint8_t *buf = NULL;
	bool known;
	struct err e;

	req = task_decode(call, &containerd__task__v2__stats_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	known = task_find_ctr(t, req->id) != NULL;
	pthread_mutex_unlock(&t->lock);
	if (!known) {
		task_not_found(call, req->id, "");
		goto out;
	}
	if (agent_stats_container(sandbox_agent(t->sb), req->id, &st, &e) < 0) {
		task_fail(call, &e);
		goto out;
	}
	fill_metrics(&m, st->cgroup_stats, &pids, &cpu, &usage, &thr, &mem, ent);
	any.value.len = protobuf_c_message_get_packed_size(&m.base);
	buf = malloc(any.value.len ? any.value.len : 1);
	if (!buf) {
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	protobuf_c_message_pack(&m.base, buf);
	any.value.data = buf;
	any.type_url = METRICS_TYPE_URL;
	resp.stats = &any;
	ttrpc_call_reply_msg(call, &resp.base);
out:
	if (st)
		protobuf_c_message_free_unpacked(&st->base, NULL);
	containerd__task__v2__stats_request__free_unpacked(req, NULL);
}

void task_do_pids(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	Containerd__Task__V2__PidsRequest *req;
	Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	Containerd__V1__Types__ProcessInfo info = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
	Containerd__V1__Types__ProcessInfo *infos[1] = {&info};
	bool known;

	req = task_decode(call, &containerd__task__v2__pids_request__descriptor, p, n);
	if (!req)
		return;
	pthread_mutex_lock(&t->lock);
	known = task_find_ctr(t, req->id) != NULL;
	pthread_mutex_unlock(&t->lock);
	if (!known) {
		task_not_found(call, req->id, "");
	} else {
		/* guest pids mean nothing on the host: the VM stands for them */
		info.pid = (uint32_t)t->vm_pid;
		resp.n_processes = 1;
		resp.processes = infos;
		ttrpc_call_reply_msg(call, &resp.base);
	}
	containerd__task__v2__pids_request__free_unpacked(req, NULL);
}

void task_do_checkpoint(struct shim_task *t, struct ttrpc_call *call, const uint8_t *p, size_t n)
{
	(void)t;
	(void)p;
	(void)n;
	ttrpc_call_error(call, TTRPC_UNIMPLEMENTED, "not supported: checkpoint");
}
