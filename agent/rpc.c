/* agent/rpc.c: ttrpc handlers of grpc.AgentService and grpc.Health: a thin
 * layer that decodes, converts grpc.Spec to OCI JSON (lib/pbjson) for the
 * engine, and answers. Blocking calls are deferred through engine watchers.
 * A stream read at EOF answers OK with empty data (never otherwise empty). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent/container.h"
#include "agent/network.h"
#include "agent/rpc.h"
#include "lib/log.h"
#include "lib/pbjson.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/empty.pb-c.h"
#include "proto/health.pb-c.h"

#define AGENT_SVC  "grpc.AgentService"
#define HEALTH_SVC "grpc.Health"
#define READ_MAX   (1u << 20)

struct rpc {
	struct loop *loop;
	bool host_mode;
	struct ttrpc_server *server;
};

static struct rpc *the_rpc; /* handlers get it as opaque; watchers need it too */

static int code_of(const struct err *e)
{
	switch (e->errnum) {
	case ENOENT:
		return TTRPC_NOT_FOUND;
	case EEXIST:
		return TTRPC_ALREADY_EXISTS;
	case EINVAL:
		return TTRPC_INVALID_ARGUMENT;
	case ENOTSUP:
		return TTRPC_UNIMPLEMENTED;
	case EBUSY:
	case EPIPE:
		return TTRPC_FAILED_PRECONDITION;
	case EAGAIN:
	case ENOMEM:
		return TTRPC_RESOURCE_EXHAUSTED;
	case EPERM:
	case EACCES:
		return TTRPC_PERMISSION_DENIED;
	default:
		return TTRPC_INTERNAL;
	}
}

static void fail(struct ttrpc_call *call, const struct err *e)
{
	log_debug("%s: %s", ttrpc_call_method(call), e->msg);
	ttrpc_call_error(call, code_of(e), "%s", e->msg);
}

static void reply_empty(struct ttrpc_call *call)
{
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	ttrpc_call_reply_msg(call, &empty.base);
}

static void *unpack(struct ttrpc_call *call, const ProtobufCMessageDescriptor *d,
                    const uint8_t *payload, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, payload);

	if (!m)
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "cannot decode %s", d->name);
	return m;
}

#define UNPACK(var, type, lower)                                                                   \
	type *var = unpack(call, &lower##__descriptor, payload, len);                              \
	if (!var)                                                                                  \
		return;

static void free_msg(void *m)
{
	protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- containers --------------------------------------------------------- */

static void h_create_container(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                               void *opaque)
{
	UNPACK(req, Grpc__CreateContainerRequest, grpc__create_container_request);
	struct mount_storage *st = NULL;
	struct json_object *json = NULL;
	struct oci_spec *spec = NULL;
	struct err e = {0};

	(void)opaque;
	if (!req->oci) {
		err_set(&e, EINVAL, "OCI: is required");
		goto out;
	}
	if (req->n_devices || req->sandbox_pidns || req->n_shared_mounts ||
	    (req->string_user && req->string_user->uid[0])) {
		err_set(&e, ENOTSUP, "not supported: CreateContainerRequest.%s",
		        req->n_devices         ? "devices"
		        : req->sandbox_pidns   ? "sandbox_pidns"
		        : req->n_shared_mounts ? "shared_mounts"
		                               : "string_user");
		goto out;
	}
	if (pbjson_to_json(&req->oci->base, PBJSON_OCI, &json, &e) < 0 ||
	    oci_spec_from_json(json, &spec, &e) < 0) {
		e.errnum = EINVAL;
		err_ctx(&e, "OCI");
		goto out;
	}
	if (req->n_storages && !(st = calloc(req->n_storages, sizeof(*st)))) {
		err_set(&e, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_storages; i++) {
		Grpc__Storage *s = req->storages[i];

		st[i] = (struct mount_storage){s->driver,  s->source,    s->fstype,
		                               s->options, s->n_options, s->mount_point};
	}
	if (container_create(req->container_id, req->exec_id, steal_ptr(spec), st, req->n_storages,
	                     &e) < 0)
		goto out;
	reply_empty(call);
	e.msg[0] = '\0';
out:
	if (e.msg[0])
		fail(call, &e);
	oci_spec_free(spec);
	if (json)
		json_object_put(json);
	free(st);
	free_msg(req);
}

static void h_start_container(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                              void *opaque)
{
	UNPACK(req, Grpc__StartContainerRequest, grpc__start_container_request);
	struct err e = {0};

	(void)opaque;
	if (container_start(req->container_id, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

static void h_remove_container(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                               void *opaque)
{
	UNPACK(req, Grpc__RemoveContainerRequest, grpc__remove_container_request);
	struct err e = {0};

	(void)opaque;
	if (container_remove(req->container_id, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

static void h_exec_process(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                           void *opaque)
{
	UNPACK(req, Grpc__ExecProcessRequest, grpc__exec_process_request);
	struct json_object *json = NULL;
	struct oci_process *proc = NULL;
	struct err e = {0};

	(void)opaque;
	if (!req->process) {
		err_set(&e, EINVAL, "process: is required");
	} else if (pbjson_to_json(&req->process->base, PBJSON_OCI, &json, &e) < 0 ||
	           oci_process_parse(json, "process", &proc, &e) < 0) {
		e.errnum = EINVAL;
	} else if (container_exec(req->container_id, req->exec_id, proc, &e) == 0) {
		reply_empty(call);
		e.msg[0] = '\0';
	}
	if (e.msg[0])
		fail(call, &e);
	if (json)
		json_object_put(json);
	free_msg(req);
}

static void h_signal_process(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                             void *opaque)
{
	UNPACK(req, Grpc__SignalProcessRequest, grpc__signal_process_request);
	struct err e = {0};

	(void)opaque;
	if (req->signal == 0 || req->signal >= 65)
		err_set(&e, EINVAL, "signal: %u is not a signal", req->signal);
	else if (container_signal(req->container_id, req->exec_id, (int)req->signal, &e) == 0)
		reply_empty(call);
	if (e.msg[0])
		fail(call, &e);
	free_msg(req);
}

static void h_pause(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__PauseContainerRequest, grpc__pause_container_request);
	struct err e = {0};

	(void)opaque;
	if (container_pause(req->container_id, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

static void h_resume(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__ResumeContainerRequest, grpc__resume_container_request);
	struct err e = {0};

	(void)opaque;
	if (container_resume(req->container_id, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

static void h_update(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__UpdateContainerRequest, grpc__update_container_request);
	struct json_object *json = NULL;
	struct oci_resources r = {0};
	struct err e = {0};

	(void)opaque;
	if (!req->resources) {
		err_set(&e, EINVAL, "resources: is required");
	} else if (pbjson_to_json(&req->resources->base, PBJSON_OCI, &json, &e) < 0 ||
	           oci_resources_parse(json, "resources", &r, &e) < 0) {
		e.errnum = EINVAL;
	} else if (container_update(req->container_id, &r, &e) == 0) {
		reply_empty(call);
	}
	if (e.msg[0])
		fail(call, &e);
	oci_resources_clear(&r);
	if (json)
		json_object_put(json);
	free_msg(req);
}

static void h_stats(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__StatsContainerRequest, grpc__stats_container_request);
	Grpc__StatsContainerResponse resp = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	Grpc__CpuStats cpu = GRPC__CPU_STATS__INIT;
	Grpc__CpuUsage usage = GRPC__CPU_USAGE__INIT;
	Grpc__MemoryStats mem = GRPC__MEMORY_STATS__INIT;
	Grpc__MemoryData mdata = GRPC__MEMORY_DATA__INIT;
	Grpc__PidsStats pids = GRPC__PIDS_STATS__INIT;
	struct cgroup_stats st;
	struct err e = {0};

	(void)opaque;
	if (container_stats(req->container_id, &st, &e) < 0) {
		fail(call, &e);
		free_msg(req);
		return;
	}
	usage.total_usage = st.cpu_total_ns;
	usage.usage_in_usermode = st.cpu_user_ns;
	usage.usage_in_kernelmode = st.cpu_kernel_ns;
	cpu.cpu_usage = &usage;
	mdata.usage = st.mem_usage;
	mdata.max_usage = st.mem_max_usage;
	mdata.failcnt = st.mem_failcnt;
	mdata.limit = st.mem_limit;
	mem.usage = &mdata;
	mem.cache = st.mem_cache;
	mem.use_hierarchy = true;
	pids.current = st.pids_current;
	pids.limit = st.pids_limit;
	cg.cpu_stats = &cpu;
	cg.memory_stats = &mem;
	cg.pids_stats = &pids;
	resp.cgroup_stats = &cg;
	ttrpc_call_reply_msg(call, &resp.base);
	free_msg(req);
}

/* ---- deferred: wait, read, OOM ----------------------------------------- */

enum pending_kind { PENDING_WAIT, PENDING_STDOUT, PENDING_STDERR };

struct pending {
	struct ttrpc_call *call;
	enum pending_kind kind;
	char *cid, *eid;
	uint32_t len;
};

static void pending_free(struct pending *pd)
{
	free(pd->cid);
	free(pd->eid);
	free(pd);
}

static void pending_retry(void *opaque);

/* Answer now if possible; else watch the process and come back. */
static void pending_try(struct pending *pd)
{
	struct err e = {0};
	struct process *p = container_process(pd->cid, pd->eid, &e);
	int status;

	if (!p) {
		fail(pd->call, &e);
		pending_free(pd);
		return;
	}
	if (!ttrpc_call_connected(pd->call)) {
		ttrpc_call_error(pd->call, TTRPC_CANCELLED, "client gone");
		pending_free(pd);
		return;
	}
	if (pd->kind == PENDING_WAIT) {
		if (process_exited(p, &status)) {
			Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

			resp.status = status;
			ttrpc_call_reply_msg(pd->call, &resp.base);
			process_set_waited(p);
			container_process_release(pd->cid, pd->eid);
			pending_free(pd);
			return;
		}
	} else {
		Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;
		size_t max = pd->len && pd->len < READ_MAX ? pd->len : READ_MAX;
		cleanup_free uint8_t *buf = malloc(max);
		ssize_t n;

		if (!buf) {
			ttrpc_call_error(pd->call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
			pending_free(pd);
			return;
		}
		n = process_read(p, pd->kind == PENDING_STDOUT ? PROCESS_STDOUT : PROCESS_STDERR,
		                 buf, max);
		if (n >= 0) {
			resp.data.data = buf;
			resp.data.len = (size_t)n;
			ttrpc_call_reply_msg(pd->call, &resp.base);
			if (n == 0)
				container_process_release(pd->cid, pd->eid);
			pending_free(pd);
			return;
		}
	}
	if (process_watch(p, pending_retry, pd, &e) < 0) {
		fail(pd->call, &e);
		pending_free(pd);
	}
}

static void pending_try_cb(void *data, uint32_t events)
{
	(void)events;
	pending_try(data);
}

static void pending_retry(void *opaque)
{
	/* Called from inside the engine: answer from the loop, not from the
	 * middle of an engine operation. */
	if (loop_call(the_rpc->loop, pending_try_cb, opaque, NULL) < 0)
		pending_try(opaque);
}

static void start_pending(struct ttrpc_call *call, enum pending_kind kind, const char *cid,
                          const char *eid, uint32_t len)
{
	struct pending *pd = calloc(1, sizeof(*pd));

	if (!pd || !(pd->cid = strdup(cid)) || !(pd->eid = strdup(eid))) {
		if (pd)
			free(pd->cid);
		free(pd);
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	pd->call = call;
	pd->kind = kind;
	pd->len = len;
	pending_try(pd);
}

static void h_wait(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__WaitProcessRequest, grpc__wait_process_request);

	(void)opaque;
	start_pending(call, PENDING_WAIT, req->container_id, req->exec_id, 0);
	free_msg(req);
}

static void h_read_stdout(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__ReadStreamRequest, grpc__read_stream_request);

	(void)opaque;
	start_pending(call, PENDING_STDOUT, req->container_id, req->exec_id, req->len);
	free_msg(req);
}

static void h_read_stderr(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__ReadStreamRequest, grpc__read_stream_request);

	(void)opaque;
	start_pending(call, PENDING_STDERR, req->container_id, req->exec_id, req->len);
	free_msg(req);
}

static void oom_try(void *opaque);

static void oom_try_cb(void *data, uint32_t events)
{
	(void)events;
	oom_try(data);
}

static void oom_retry(void *opaque)
{
	if (loop_call(the_rpc->loop, oom_try_cb, opaque, NULL) < 0)
		oom_try(opaque);
}

static void oom_try(void *opaque)
{
	struct ttrpc_call *call = opaque;
	Grpc__OOMEvent ev = GRPC__OOMEVENT__INIT;
	struct err e = {0};
	char *id;

	if (!ttrpc_call_connected(call)) {
		ttrpc_call_error(call, TTRPC_CANCELLED, "client gone");
		return;
	}
	if (container_oom_pop(&id) == 0) {
		ev.container_id = id;
		ttrpc_call_reply_msg(call, &ev.base);
		free(id);
		return;
	}
	if (container_oom_watch(oom_retry, call, &e) < 0)
		fail(call, &e);
}

static void h_get_oom_event(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                            void *opaque)
{
	(void)payload;
	(void)len;
	(void)opaque;
	oom_try(call);
}

/* ---- stdio -------------------------------------------------------------- */

static void h_write_stdin(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__WriteStreamRequest, grpc__write_stream_request);
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
	struct err e = {0};
	struct process *p = container_process(req->container_id, req->exec_id, &e);
	size_t n;

	(void)opaque;
	if (!p || process_write(p, req->data.data, req->data.len, &n, &e) < 0) {
		fail(call, &e);
	} else {
		resp.len = (uint32_t)n;
		ttrpc_call_reply_msg(call, &resp.base);
	}
	free_msg(req);
}

static void h_close_stdin(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__CloseStdinRequest, grpc__close_stdin_request);
	struct err e = {0};
	struct process *p = container_process(req->container_id, req->exec_id, &e);

	(void)opaque;
	if (!p || process_close_stdin(p, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

static void h_tty_resize(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__TtyWinResizeRequest, grpc__tty_win_resize_request);
	struct err e = {0};
	struct process *p = container_process(req->container_id, req->exec_id, &e);

	(void)opaque;
	if (!p || process_resize(p, req->row, req->column, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

/* ---- sandbox and guest -------------------------------------------------- */

static void h_create_sandbox(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                             void *opaque)
{
	UNPACK(req, Grpc__CreateSandboxRequest, grpc__create_sandbox_request);
	struct err e = {0};

	(void)opaque;
	/* dns is not applied: containers get resolv.conf through their mounts
	 * (CopyFile, storages), as with Kata's shared files. */
	if (req->sandbox_pidns || req->n_kernel_modules || req->guest_hook_path[0])
		err_set(&e, ENOTSUP, "not supported: CreateSandboxRequest.%s",
		        req->sandbox_pidns      ? "sandbox_pidns"
		        : req->n_kernel_modules ? "kernel_modules (the guest kernel has no modules)"
		                                : "guest_hook_path");
	else if (req->hostname[0] && sethostname(req->hostname, strlen(req->hostname)) < 0)
		err_sys(&e, "hostname");
	for (size_t i = 0; !e.msg[0] && i < req->n_storages; i++) {
		Grpc__Storage *s = req->storages[i];
		struct mount_storage st = {s->driver,  s->source,    s->fstype,
		                           s->options, s->n_options, s->mount_point};

		if (container_sandbox_storage(&st, &e) < 0)
			err_ctx(&e, "storages[%zu]", i);
	}
	if (e.msg[0])
		fail(call, &e);
	else
		reply_empty(call);
	log_info("sandbox %s created", req->sandbox_id);
	free_msg(req);
}

static void h_destroy_sandbox(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                              void *opaque)
{
	(void)payload;
	(void)len;
	(void)opaque;
	container_engine_cleanup();
	reply_empty(call);
	log_info("sandbox destroyed");
}

static void h_guest_details(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                            void *opaque)
{
	UNPACK(req, Grpc__GuestDetailsRequest, grpc__guest_details_request);
	Grpc__GuestDetailsResponse resp = GRPC__GUEST_DETAILS_RESPONSE__INIT;
	Grpc__AgentDetails ad = GRPC__AGENT_DETAILS__INIT;
	static char *storages[] = {"virtio-fs", "blk", "overlayfs", "ephemeral", "local", "bind"};
	char *text = NULL;

	(void)opaque;
	if (req->mem_block_size && util_read_file("/sys/devices/system/memory/block_size_bytes", 64,
	                                          &text, NULL, NULL) == 0)
		resp.mem_block_size_bytes = strtoull(text, NULL, 16);
	free(text);
	ad.version = HAKO_VERSION;
	ad.init_daemon = getpid() == 1 && !the_rpc->host_mode;
	ad.n_storage_handlers = ARRAY_SIZE(storages);
	ad.storage_handlers = storages;
	ad.supports_seccomp = true;
	resp.agent_details = &ad;
	ttrpc_call_reply_msg(call, &resp.base);
	free_msg(req);
}

static void h_set_time(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__SetGuestDateTimeRequest, grpc__set_guest_date_time_request);
	struct timeval tv = {.tv_sec = req->sec, .tv_usec = req->usec};

	(void)opaque;
	if (the_rpc->host_mode)
		ttrpc_call_error(call, TTRPC_FAILED_PRECONDITION,
		                 "SetGuestDateTime: not supported in host mode (it would set the "
		                 "host's clock)");
	else if (settimeofday(&tv, NULL) < 0)
		ttrpc_call_error(call, TTRPC_INTERNAL, "settimeofday: %s", strerror(errno));
	else
		reply_empty(call);
	free_msg(req);
}

/* Kata's CopyFile: chunks of one file (data at offset), or a directory or
 * symlink (by the type bits of file_mode; a symlink's target is data). */
static int copy_file(const Grpc__CopyFileRequest *r, struct err *e)
{
	cleanup_free char *parent = NULL;
	cleanup_close int fd = -1;
	char *slash;

	if (!r->path[0] || r->path[0] != '/' || strstr(r->path, "/../"))
		return err_set(e, EINVAL, "path: must be an absolute path");
	if (the_rpc->host_mode && strncmp(r->path, "/run/", 5) != 0)
		return err_set(e, EPERM,
		               "path: host mode only writes under /run (a private tmpfs)");
	parent = strdup(r->path);
	if (!parent)
		return err_set(e, ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (parent[0] &&
	    util_mkdir_p(parent, r->dir_mode ? (int)(r->dir_mode & 07777) : 0755, e) < 0)
		return -1;
	if (S_ISDIR(r->file_mode)) {
		if (mkdir(r->path, r->file_mode & 07777) < 0 && errno != EEXIST)
			return err_sys(e, "mkdir %s", r->path);
	} else if (S_ISLNK(r->file_mode)) {
		cleanup_free char *target = strndup((const char *)r->data.data, r->data.len);

		if (!target)
			return err_set(e, ENOMEM, "out of memory");
		unlink(r->path);
		if (symlink(target, r->path) < 0)
			return err_sys(e, "symlink %s", r->path);
		return lchown(r->path, (uid_t)r->uid, (gid_t)r->gid) < 0
		               ? err_sys(e, "chown %s", r->path)
		               : 0;
	} else {
		fd = open(r->path, O_WRONLY | O_CREAT | O_CLOEXEC | (r->offset == 0 ? O_TRUNC : 0),
		          r->file_mode & 07777);
		if (fd < 0)
			return err_sys(e, "open %s", r->path);
		if (r->data.len &&
		    pwrite(fd, r->data.data, r->data.len, r->offset) != (ssize_t)r->data.len)
			return err_sys(e, "write %s", r->path);
	}
	if (chmod(r->path, r->file_mode & 07777) < 0 ||
	    chown(r->path, (uid_t)r->uid, (gid_t)r->gid) < 0)
		return err_sys(e, "chmod/chown %s", r->path);
	return 0;
}

static void h_copy_file(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	UNPACK(req, Grpc__CopyFileRequest, grpc__copy_file_request);
	struct err e = {0};

	(void)opaque;
	if (copy_file(req, &e) < 0)
		fail(call, &e);
	else
		reply_empty(call);
	free_msg(req);
}

/* ---- network ------------------------------------------------------------ */

static void h_update_interface(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                               void *opaque)
{
	UNPACK(req, Grpc__UpdateInterfaceRequest, grpc__update_interface_request);
	Types__Interface *out = NULL;
	struct err e = {0};

	(void)opaque;
	if (!req->interface)
		err_set(&e, EINVAL, "interface: is required");
	else if (network_update_interface(req->interface, &out, &e) == 0)
		ttrpc_call_reply_msg(call, &out->base);
	if (e.msg[0])
		fail(call, &e);
	network_free_interface(out);
	free_msg(req);
}

static void h_update_routes(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                            void *opaque)
{
	UNPACK(req, Grpc__UpdateRoutesRequest, grpc__update_routes_request);
	Grpc__Routes *out = NULL;
	struct err e = {0};

	(void)opaque;
	if (network_update_routes(req->routes, &e) == 0 && network_list_routes(&out, &e) == 0)
		ttrpc_call_reply_msg(call, &out->base);
	if (e.msg[0])
		fail(call, &e);
	network_free_routes(out);
	free_msg(req);
}

static void h_list_interfaces(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                              void *opaque)
{
	Grpc__Interfaces *out = NULL;
	struct err e = {0};

	(void)payload;
	(void)len;
	(void)opaque;
	if (network_list_interfaces(&out, &e) < 0)
		fail(call, &e);
	else
		ttrpc_call_reply_msg(call, &out->base);
	network_free_interfaces(out);
}

static void h_list_routes(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	Grpc__Routes *out = NULL;
	struct err e = {0};

	(void)payload;
	(void)len;
	(void)opaque;
	if (network_list_routes(&out, &e) < 0)
		fail(call, &e);
	else
		ttrpc_call_reply_msg(call, &out->base);
	network_free_routes(out);
}

/* ---- health ------------------------------------------------------------- */

static void h_check(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)payload;
	(void)len;
	(void)opaque;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_call_reply_msg(call, &resp.base);
}

static void h_version(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	Grpc__VersionCheckResponse resp = GRPC__VERSION_CHECK_RESPONSE__INIT;

	(void)payload;
	(void)len;
	(void)opaque;
	resp.grpc_version = "ttrpc";
	resp.agent_version = HAKO_VERSION;
	ttrpc_call_reply_msg(call, &resp.base);
}

static const struct ttrpc_method methods[] = {
        {AGENT_SVC, "CreateContainer", h_create_container},
        {AGENT_SVC, "StartContainer", h_start_container},
        {AGENT_SVC, "RemoveContainer", h_remove_container},
        {AGENT_SVC, "ExecProcess", h_exec_process},
        {AGENT_SVC, "SignalProcess", h_signal_process},
        {AGENT_SVC, "WaitProcess", h_wait},
        {AGENT_SVC, "UpdateContainer", h_update},
        {AGENT_SVC, "StatsContainer", h_stats},
        {AGENT_SVC, "PauseContainer", h_pause},
        {AGENT_SVC, "ResumeContainer", h_resume},
        {AGENT_SVC, "WriteStdin", h_write_stdin},
        {AGENT_SVC, "ReadStdout", h_read_stdout},
        {AGENT_SVC, "ReadStderr", h_read_stderr},
        {AGENT_SVC, "CloseStdin", h_close_stdin},
        {AGENT_SVC, "TtyWinResize", h_tty_resize},
        {AGENT_SVC, "UpdateInterface", h_update_interface},
        {AGENT_SVC, "UpdateRoutes", h_update_routes},
        {AGENT_SVC, "ListInterfaces", h_list_interfaces},
        {AGENT_SVC, "ListRoutes", h_list_routes},
        {AGENT_SVC, "CreateSandbox", h_create_sandbox},
        {AGENT_SVC, "DestroySandbox", h_destroy_sandbox},
        {AGENT_SVC, "GetGuestDetails", h_guest_details},
        {AGENT_SVC, "SetGuestDateTime", h_set_time},
        {AGENT_SVC, "CopyFile", h_copy_file},
        {AGENT_SVC, "GetOOMEvent", h_get_oom_event},
        {HEALTH_SVC, "Check", h_check},
        {HEALTH_SVC, "Version", h_version},
};

int rpc_new(struct loop *loop, bool host_mode, struct rpc **out, struct err *e)
{
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(e, ENOMEM, "out of memory");
	r->loop = loop;
	r->host_mode = host_mode;
	if (ttrpc_server_new(&r->server, loop, methods, ARRAY_SIZE(methods), r, e) < 0) {
		free(r);
		return -1;
	}
	the_rpc = r;
	*out = r;
	return 0;
}

int rpc_listen(struct rpc *r, int listen_fd, struct err *e)
{
	return ttrpc_server_listen(r->server, listen_fd, e);
}

int rpc_serve_fd(struct rpc *r, int fd, struct err *e)
{
	return ttrpc_server_serve_fd(r->server, fd, e);
}

void rpc_free(struct rpc *r)
{
	if (!r)
		return;
	ttrpc_server_free(r->server);
	if (the_rpc == r)
		the_rpc = NULL;
	free(r);
}
