/* runtime/agent.c: typed wrappers over lib/ttrpc for the agent API, and the
 * wait for a freshly booted guest's agent to answer. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/health.pb-c.h"
#include "runtime/agent.h"

#define DEFAULT_CALL_TIMEOUT_MS 120000
#define CHECK_TRY_MS            1000

struct agent {
	struct ttrpc_client *client;
	int call_timeout_ms;
	pthread_mutex_t lock; /* refs */
	int refs;
};

static int code_errno(int code)
{
	switch (code) {
	case TTRPC_NOT_FOUND:
		return ENOENT;
	case TTRPC_ALREADY_EXISTS:
		return EEXIST;
	case TTRPC_INVALID_ARGUMENT:
		return EINVAL;
	case TTRPC_PERMISSION_DENIED:
		return EPERM;
	case TTRPC_DEADLINE_EXCEEDED:
		return ETIMEDOUT;
	case TTRPC_UNIMPLEMENTED:
		return ENOTSUP;
	case TTRPC_RESOURCE_EXHAUSTED:
		return ENOSPC;
	case TTRPC_FAILED_PRECONDITION:
		return EBUSY;
	default:
		return EIO;
	}
}

/* One call; a status from the agent becomes -1 with e "METHOD: CODE: msg"
 * and *code (if code) set to it; a transport failure leaves *code 0. */
static int call(struct agent *a, const char *service, const char *method,
                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                ProtobufCMessage **resp, int timeout_ms, int *code, struct err *e)
{
	ProtobufCMessage *r = NULL;
	int rc;

	if (code)
		*code = 0;
	rc = ttrpc_client_call(a->client, service, method, req, desc, &r, timeout_ms, e);
	if (rc < 0)
		return err_ctx(e, "agent %s", method);
	if (rc > 0) {
		if (code)
			*code = rc;
		e->errnum = code_errno(rc);
		return err_ctx(e, "agent %s: %s", method, ttrpc_code_name(rc));
	}
	if (resp)
		*resp = r;
	else
		protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

/* A call answered by google.protobuf.Empty. */
static int call_empty(struct agent *a, const char *method, const ProtobufCMessage *req,
                      struct err *e)
{
	return call(a, AGENT_SERVICE, method, req, &google__protobuf__empty__descriptor, NULL,
	            a->call_timeout_ms, NULL, e);
}

int agent_check(struct agent *a, int timeout_ms, struct err *e)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	Grpc__HealthCheckResponse *resp = NULL;
	int status;

	if (call(a, HEALTH_SERVICE, "Check", &req.base, &grpc__health_check_response__descriptor,
	         (ProtobufCMessage **)&resp, timeout_ms, NULL, e) < 0)
		return -1;
	status = resp->status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (status != GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
		return err_set(e, EAGAIN, "agent Check: not serving (status %d)", status);
	return 0;
}

static int remaining_ms(unsigned long long deadline)
{
	unsigned long long now = util_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Retry Check on this stream until SERVING: a guest still booting leaves
 * the request unanswered (timeout) or says NOT_SERVING. A lost stream ends
 * the wait (the caller may dial again). */
static int wait_serving(struct agent *a, unsigned long long deadline, struct err *e)
{
	for (;;) {
		int left = remaining_ms(deadline);

		if (agent_check(a, left < CHECK_TRY_MS ? left : CHECK_TRY_MS, e) == 0)
			return 0;
		if (e->errnum != ETIMEDOUT && e->errnum != EAGAIN)
			return -1;
		if (!remaining_ms(deadline))
			return err_ctx(e, "agent did not answer in time");
		if (e->errnum == EAGAIN)
			usleep(20000);
	}
}

static int agent_new(struct agent **out, int fd, struct err *e)
{
	struct agent *a = calloc(1, sizeof(*a));

	if (!a) {
		close(fd);
		return err_set(e, ENOMEM, "agent: out of memory");
	}
	if (ttrpc_client_new(&a->client, fd, e) < 0) {
		free(a);
		return err_ctx(e, "agent");
	}
	a->call_timeout_ms = DEFAULT_CALL_TIMEOUT_MS;
	pthread_mutex_init(&a->lock, NULL);
	a->refs = 1;
	*out = a;
	return 0;
}

int agent_open_fd(struct agent **out, int fd, int timeout_ms, struct err *e)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	struct agent *a = NULL;

	if (agent_new(&a, fd, e) < 0)
		return -1;
	if (wait_serving(a, deadline, e) < 0) {
		agent_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

int agent_connect(struct agent **out, const struct hv_ops *ops, struct hv *h, int timeout_ms,
                  struct err *e)
{
	unsigned long long t0 = util_now_ns();
	unsigned long long deadline = t0 + (unsigned long long)timeout_ms * 1000000ull;

	for (;;) {
		int fd;

		if (!ops->alive(h))
			return err_set(e, ESRCH, "agent: the VM is not running");
		if (ops->agent_dial(h, remaining_ms(deadline), &fd, e) == 0 &&
		    agent_open_fd(out, fd, remaining_ms(deadline), e) == 0) {
			log_debug("agent: serving after %llu ms", (util_now_ns() - t0) / 1000000);
			return 0;
		}
		if (!remaining_ms(deadline))
			return err_ctx(e, "agent: no answer after %d ms", timeout_ms);
		log_debug("agent: %s; dialling again", e->msg);
		usleep(50000);
	}
}

void agent_close(struct agent *a)
{
	if (!a)
		return;
	ttrpc_client_shutdown(a->client);
	agent_unref(a);
}

struct agent *agent_ref(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->refs++;
	pthread_mutex_unlock(&a->lock);
	return a;
}

void agent_unref(struct agent *a)
{
	int left;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	left = --a->refs;
	pthread_mutex_unlock(&a->lock);
	if (left)
		return;
	ttrpc_client_free(a->client);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void agent_set_call_timeout(struct agent *a, int timeout_ms)
{
	a->call_timeout_ms = timeout_ms;
}

int agent_create_sandbox(struct agent *a, const char *sandbox_id, const char *hostname,
                         Grpc__Storage **storages, size_t nr_storages, struct err *e)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;

	req.sandbox_id = (char *)sandbox_id;
	if (hostname)
		req.hostname = (char *)hostname;
	req.storages = storages;
	req.n_storages = nr_storages;
	return call_empty(a, "CreateSandbox", &req.base, e);
}

int agent_destroy_sandbox(struct agent *a, struct err *e)
{
	Grpc__DestroySandboxRequest req = GRPC__DESTROY_SANDBOX_REQUEST__INIT;

	return call_empty(a, "DestroySandbox", &req.base, e);
}

int agent_create_container(struct agent *a, const char *cid, Grpc__Spec *spec,
                           Grpc__Storage **storages, size_t nr_storages, struct err *e)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	req.oci = spec;
	req.storages = storages;
	req.n_storages = nr_storages;
	return call_empty(a, "CreateContainer", &req.base, e);
}

int agent_start_container(struct agent *a, const char *cid, struct err *e)
{
	Grpc__StartContainerRequest req = GRPC__START_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	return call_empty(a, "StartContainer", &req.base, e);
}

int agent_remove_container(struct agent *a, const char *cid, uint32_t timeout_s, struct err *e)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	req.timeout = timeout_s;
	return call_empty(a, "RemoveContainer", &req.base, e);
}

int agent_exec_process(struct agent *a, const char *cid, const char *exec_id, Grpc__Process *proc,
                       struct err *e)
{
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;

	req.container_id = (char *)cid;
	req.exec_id = (char *)exec_id;
	req.process = proc;
	return call_empty(a, "ExecProcess", &req.base, e);
}

int agent_signal_process(struct agent *a, const char *cid, const char *exec_id, int sig,
                         struct err *e)
{
	Grpc__SignalProcessRequest req = GRPC__SIGNAL_PROCESS_REQUEST__INIT;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	req.signal = (uint32_t)sig;
	return call_empty(a, "SignalProcess", &req.base, e);
}

int agent_wait_process(struct agent *a, const char *cid, const char *exec_id, int *status,
                       struct err *e)
{
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__WaitProcessResponse *resp = NULL;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	if (call(a, AGENT_SERVICE, "WaitProcess", &req.base,
	         &grpc__wait_process_response__descriptor, (ProtobufCMessage **)&resp, 0, NULL,
	         e) < 0)
		return -1;
	*status = resp->status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

int agent_pause_container(struct agent *a, const char *cid, struct err *e)
{
	Grpc__PauseContainerRequest req = GRPC__PAUSE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	return call_empty(a, "PauseContainer", &req.base, e);
}

int agent_resume_container(struct agent *a, const char *cid, struct err *e)
{
	Grpc__ResumeContainerRequest req = GRPC__RESUME_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	return call_empty(a, "ResumeContainer", &req.base, e);
}

int agent_stats_container(struct agent *a, const char *cid, Grpc__StatsContainerResponse **resp,
                          struct err *e)
{
	Grpc__StatsContainerRequest req = GRPC__STATS_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	return call(a, AGENT_SERVICE, "StatsContainer", &req.base,
	            &grpc__stats_container_response__descriptor, (ProtobufCMessage **)resp,
	            a->call_timeout_ms, NULL, e);
}

int agent_update_container(struct agent *a, const char *cid, Grpc__LinuxResources *res,
                           struct err *e)
{
	Grpc__UpdateContainerRequest req = GRPC__UPDATE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)cid;
	req.resources = res;
	return call_empty(a, "UpdateContainer", &req.base, e);
}

/* Kata's agent ends a stream with an error status once the process's pipe
 * is drained and closed; an empty answer means the same. An unknown
 * container or process stays an error. */
ssize_t agent_read_stream(struct agent *a, const char *cid, const char *exec_id, bool stdout_,
                          void *buf, size_t len, struct err *e)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	Grpc__ReadStreamResponse *resp = NULL;
	const char *method = stdout_ ? "ReadStdout" : "ReadStderr";
	size_t n;
	int code;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	req.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	if (call(a, AGENT_SERVICE, method, &req.base, &grpc__read_stream_response__descriptor,
	         (ProtobufCMessage **)&resp, 0, &code, e) < 0)
		return code && code != TTRPC_NOT_FOUND && code != TTRPC_INVALID_ARGUMENT ? 0 : -1;
	n = resp->data.len < len ? resp->data.len : len;
	memcpy(buf, resp->data.data, n);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return (ssize_t)n;
}

ssize_t agent_write_stdin(struct agent *a, const char *cid, const char *exec_id, const void *buf,
                          size_t len, struct err *e)
{
	Grpc__WriteStreamRequest req = GRPC__WRITE_STREAM_REQUEST__INIT;
	Grpc__WriteStreamResponse *resp = NULL;
	ssize_t n;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	req.data.data = (uint8_t *)buf;
	req.data.len = len;
	if (call(a, AGENT_SERVICE, "WriteStdin", &req.base,
	         &grpc__write_stream_response__descriptor, (ProtobufCMessage **)&resp,
	         a->call_timeout_ms, NULL, e) < 0)
		return -1;
	n = resp->len;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return n;
}

int agent_close_stdin(struct agent *a, const char *cid, const char *exec_id, struct err *e)
{
	Grpc__CloseStdinRequest req = GRPC__CLOSE_STDIN_REQUEST__INIT;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	return call_empty(a, "CloseStdin", &req.base, e);
}

int agent_get_oom_event(struct agent *a, char **cid, struct err *e)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	Grpc__OOMEvent *resp = NULL;

	if (call(a, AGENT_SERVICE, "GetOOMEvent", &req.base, &grpc__oomevent__descriptor,
	         (ProtobufCMessage **)&resp, 0, NULL, e) < 0)
		return -1;
	*cid = strdup(resp->container_id);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (!*cid)
		return err_set(e, ENOMEM, "agent GetOOMEvent: out of memory");
	return 0;
}

int agent_tty_resize(struct agent *a, const char *cid, const char *exec_id, unsigned int rows,
                     unsigned int cols, struct err *e)
{
	Grpc__TtyWinResizeRequest req = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;

	req.container_id = (char *)cid;
	if (exec_id)
		req.exec_id = (char *)exec_id;
	req.row = rows;
	req.column = cols;
	return call_empty(a, "TtyWinResize", &req.base, e);
}
