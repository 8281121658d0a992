/* tests/unit/runtime/fake_agent.c: see fake_agent.h. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/loop.h"
#include "lib/ttrpc.h"
#include "proto/agent.pb-c.h"
#include "proto/health.pb-c.h"
#include "fake_agent.h"

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void reply_empty(struct ttrpc_call *call)
{
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	ttrpc_call_reply_msg(call, &empty.base);
}

#define UNPACK(type, fn)                                                                           \
	type *req = fn(NULL, len, payload);                                                        \
	if (!req) {                                                                                \
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "undecodable");                     \
		return;                                                                            \
	}

static void on_check(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)payload;
	(void)len;
	pthread_mutex_lock(&f->lock);
	resp.status = f->checks++ < f->not_serving
	                      ? GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
	                      : GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	pthread_mutex_unlock(&f->lock);
	ttrpc_call_reply_msg(call, &resp.base);
}

static void on_create_sandbox(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                              void *opaque)
{
	struct fake_agent *f = opaque;
	UNPACK(Grpc__CreateSandboxRequest, grpc__create_sandbox_request__unpack);

	pthread_mutex_lock(&f->lock);
	copy(f->sandbox_id, sizeof(f->sandbox_id), req->sandbox_id);
	if (req->n_storages == 1)
		snprintf(f->storage, sizeof(f->storage), "%s %s %s %s", req->storages[0]->driver,
		         req->storages[0]->source, req->storages[0]->fstype,
		         req->storages[0]->mount_point);
	pthread_mutex_unlock(&f->lock);
	grpc__create_sandbox_request__free_unpacked(req, NULL);
	reply_empty(call);
}

static void on_create_container(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                                void *opaque)
{
	struct fake_agent *f = opaque;
	UNPACK(Grpc__CreateContainerRequest, grpc__create_container_request__unpack);

	if (!strcmp(req->container_id, "refused")) {
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "refused on purpose");
	} else {
		pthread_mutex_lock(&f->lock);
		copy(f->created, sizeof(f->created), req->container_id);
		if (req->oci && req->oci->root) {
			copy(f->root, sizeof(f->root), req->oci->root->path);
			f->root_readonly = req->oci->root->readonly;
		}
		f->mounts[0] = 0;
		for (size_t i = 0; req->oci && i < req->oci->n_mounts; i++) {
			size_t n = strlen(f->mounts);

			snprintf(f->mounts + n, sizeof(f->mounts) - n, "%s %s %s;",
			         req->oci->mounts[i]->destination, req->oci->mounts[i]->type,
			         req->oci->mounts[i]->source);
		}
		pthread_mutex_unlock(&f->lock);
		reply_empty(call);
	}
	grpc__create_container_request__free_unpacked(req, NULL);
}

static void on_start(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;
	UNPACK(Grpc__StartContainerRequest, grpc__start_container_request__unpack);

	if (strcmp(req->container_id, f->created)) {
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "container %s not found",
		                 req->container_id);
	} else {
		pthread_mutex_lock(&f->lock);
		copy(f->started, sizeof(f->started), req->container_id);
		pthread_mutex_unlock(&f->lock);
		reply_empty(call);
	}
	grpc__start_container_request__free_unpacked(req, NULL);
}

static void on_remove(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;
	UNPACK(Grpc__RemoveContainerRequest, grpc__remove_container_request__unpack);

	pthread_mutex_lock(&f->lock);
	copy(f->removed, sizeof(f->removed), req->container_id);
	pthread_mutex_unlock(&f->lock);
	grpc__remove_container_request__free_unpacked(req, NULL);
	reply_empty(call);
}

static void on_signal(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;
	UNPACK(Grpc__SignalProcessRequest, grpc__signal_process_request__unpack);

	pthread_mutex_lock(&f->lock);
	f->signal = (int)req->signal;
	pthread_mutex_unlock(&f->lock);
	grpc__signal_process_request__free_unpacked(req, NULL);
	reply_empty(call);
}

static void on_wait(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;
	Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

	(void)payload;
	(void)len;
	resp.status = f->exit_status;
	ttrpc_call_reply_msg(call, &resp.base);
}

/* The data once, then the end of the stream as Kata's agent says it. */
static void on_read_stdout(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                           void *opaque)
{
	struct fake_agent *f = opaque;
	Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;
	int n;
	UNPACK(Grpc__ReadStreamRequest, grpc__read_stream_request__unpack);

	pthread_mutex_lock(&f->lock);
	n = f->stdout_reads++;
	pthread_mutex_unlock(&f->lock);
	if (strcmp(req->container_id, f->created)) {
		ttrpc_call_error(call, TTRPC_NOT_FOUND, "container %s not found",
		                 req->container_id);
	} else if (n == 0 && f->stdout_data) {
		resp.data.data = (uint8_t *)f->stdout_data;
		resp.data.len = strlen(f->stdout_data);
		ttrpc_call_reply_msg(call, &resp.base);
	} else {
		ttrpc_call_error(call, TTRPC_UNKNOWN, "EOF");
	}
	grpc__read_stream_request__free_unpacked(req, NULL);
}

static void on_write_stdin(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                           void *opaque)
{
	struct fake_agent *f = opaque;
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
	UNPACK(Grpc__WriteStreamRequest, grpc__write_stream_request__unpack);

	pthread_mutex_lock(&f->lock);
	snprintf(f->stdin_data, sizeof(f->stdin_data), "%.*s", (int)req->data.len,
	         (const char *)req->data.data);
	pthread_mutex_unlock(&f->lock);
	resp.len = (uint32_t)req->data.len;
	grpc__write_stream_request__free_unpacked(req, NULL);
	ttrpc_call_reply_msg(call, &resp.base);
}

static void on_close_stdin(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                           void *opaque)
{
	struct fake_agent *f = opaque;

	(void)payload;
	(void)len;
	pthread_mutex_lock(&f->lock);
	f->stdin_closed = true;
	pthread_mutex_unlock(&f->lock);
	reply_empty(call);
}

static void on_destroy(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	struct fake_agent *f = opaque;

	(void)payload;
	(void)len;
	pthread_mutex_lock(&f->lock);
	f->destroyed = true;
	pthread_mutex_unlock(&f->lock);
	reply_empty(call);
}

/* One OOM, then no more: the later calls stay unanswered (as the agent's
 * do until the next OOM) until the connection goes. */
static void on_get_oom_event(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                             void *opaque)
{
	struct fake_agent *f = opaque;
	Grpc__OOMEvent resp = GRPC__OOMEVENT__INIT;
	int n;

	(void)payload;
	(void)len;
	pthread_mutex_lock(&f->lock);
	n = f->oom_calls++;
	pthread_mutex_unlock(&f->lock);
	if (n == 0 && f->oom_id) {
		resp.container_id = (char *)f->oom_id;
		ttrpc_call_reply_msg(call, &resp.base);
	} else {
		if (f->oom_held) /* the client gave up on the last one */
			ttrpc_call_error(f->oom_held, TTRPC_CANCELLED, "superseded");
		f->oom_held = call;
	}
}

static const struct ttrpc_method methods[] = {
        {"grpc.Health", "Check", on_check},
        {"grpc.AgentService", "CreateSandbox", on_create_sandbox},
        {"grpc.AgentService", "DestroySandbox", on_destroy},
        {"grpc.AgentService", "CreateContainer", on_create_container},
        {"grpc.AgentService", "StartContainer", on_start},
        {"grpc.AgentService", "RemoveContainer", on_remove},
        {"grpc.AgentService", "SignalProcess", on_signal},
        {"grpc.AgentService", "WaitProcess", on_wait},
        {"grpc.AgentService", "ReadStdout", on_read_stdout},
        {"grpc.AgentService", "WriteStdin", on_write_stdin},
        {"grpc.AgentService", "CloseStdin", on_close_stdin},
        {"grpc.AgentService", "GetOOMEvent", on_get_oom_event},
};

static void *run(void *arg)
{
	struct fake_agent *f = arg;
	struct err e;

	loop_run(f->loop, &e);
	return NULL;
}

/* Called before the loop thread runs: serve_fd is not for other threads. */
static int fake_agent_connect(struct fake_agent *f)
{
	int sv[2];
	struct err e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (ttrpc_server_serve_fd(f->server, sv[1], &e) < 0) {
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

int fake_agent_start(struct fake_agent *f)
{
	struct err e;
	int fd;

	pthread_mutex_init(&f->lock, NULL);
	if (loop_new(&f->loop, &e) < 0 ||
	    ttrpc_server_new(&f->server, f->loop, methods, sizeof(methods) / sizeof(methods[0]), f,
	                     &e) < 0)
		return -1;
	fd = fake_agent_connect(f);
	if (fd < 0 || pthread_create(&f->thread, NULL, run, f) != 0)
		return -1;
	return fd;
}

void fake_agent_stop(struct fake_agent *f)
{
	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	if (f->oom_held)
		ttrpc_call_error(f->oom_held, TTRPC_CANCELLED, "agent stopped");
	ttrpc_server_free(f->server);
	loop_free(f->loop);
	pthread_mutex_destroy(&f->lock);
}
