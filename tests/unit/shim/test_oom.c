/* Unit tests for shim/oom: an OOM the (fake) agent reports reaches a fake
 * containerd as /tasks/oom with containerd.events.TaskOOM{container_id},
 * and closing the agent ends the watcher's pending call and its thread. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/loop.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/containerd/events.pb-c.h"
#include "proto/containerd/ttrpc_events.pb-c.h"
#include "proto/empty.pb-c.h"
#include "runtime/agent.h"
#include "shim/events.h"
#include "shim/oom.h"
#include "fake_agent.h"

/* ---- a fake containerd: records the TaskOOM events it is sent ---------------- */

static struct {
	struct loop *loop;
	struct ttrpc_server *server;
	pthread_t thread;
	pthread_mutex_t lock;
	char topic[32], type[64], cid[64];
	int n;
} fc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_forward(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	Containerd__Events__TaskOOM *oom = NULL;

	(void)opaque;
	req = containerd__services__events__ttrpc__v1__forward_request__unpack(NULL, len, payload);
	if (!req || !req->envelope || !req->envelope->event) {
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "bad request");
		return;
	}
	oom = containerd__events__task_oom__unpack(NULL, req->envelope->event->value.len,
	                                           req->envelope->event->value.data);
	pthread_mutex_lock(&fc.lock);
	snprintf(fc.topic, sizeof(fc.topic), "%s", req->envelope->topic);
	snprintf(fc.type, sizeof(fc.type), "%s", req->envelope->event->type_url);
	snprintf(fc.cid, sizeof(fc.cid), "%s", oom ? oom->container_id : "");
	fc.n++;
	pthread_mutex_unlock(&fc.lock);
	if (oom)
		containerd__events__task_oom__free_unpacked(oom, NULL);
	containerd__services__events__ttrpc__v1__forward_request__free_unpacked(req, NULL);
	ttrpc_call_reply_msg(call, &empty.base);
}

static void *fc_run(void *arg)
{
	struct err e;

	(void)arg;
	loop_run(fc.loop, &e);
	return NULL;
}

static void fc_listen(const char *path)
{
	static const struct ttrpc_method methods[] = {{SHIM_EVENTS_SERVICE, "Forward", on_forward}};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct err e;
	int fd;

	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(loop_new(&fc.loop, &e), 0);
	assert_int_equal(
	        ttrpc_server_new(&fc.server, fc.loop, methods, ARRAY_SIZE(methods), NULL, &e), 0);
	assert_int_equal(ttrpc_server_listen(fc.server, fd, &e), 0);
	assert_int_equal(pthread_create(&fc.thread, NULL, fc_run, NULL), 0);
}

static void fc_stop(void)
{
	loop_stop(fc.loop);
	pthread_join(fc.thread, NULL);
	ttrpc_server_free(fc.server);
	loop_free(fc.loop);
}

/* Poll *n (under lock) until it reaches want, for at most 5 s. */
static int wait_count(pthread_mutex_t *lock, const int *n, int want)
{
	for (int i = 0; i < 5000; i++) {
		int got;

		pthread_mutex_lock(lock);
		got = *n;
		pthread_mutex_unlock(lock);
		if (got >= want)
			return got;
		usleep(1000);
	}
	return -1;
}

static void test_oom_published_then_stops_on_close(void **state)
{
	struct fake_agent f = {.oom_id = "c1"};
	char dir[] = "/tmp/hako-test-oom.XXXXXX", path[128];
	struct shim_events *ev;
	struct shim_oom *o = NULL;
	struct agent *a = NULL;
	struct err e;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock.ttrpc", dir);
	fc_listen(path);
	assert_int_equal(shim_events_new(&ev, path, "default", &e), 0);
	fd = fake_agent_start(&f);
	assert_true(fd >= 0);
	assert_int_equal(agent_open_fd(&a, fd, 5000, &e), 0);

	assert_int_equal(shim_oom_start(&o, a, ev, &e), 0);
	assert_int_equal(wait_count(&fc.lock, &fc.n, 1), 1);
	assert_string_equal(fc.topic, SHIM_TOPIC_OOM);
	assert_string_equal(fc.type, "containerd.events.TaskOOM");
	assert_string_equal(fc.cid, "c1");
	/* it waits again; other calls still go through meanwhile */
	assert_int_equal(wait_count(&f.lock, &f.oom_calls, 2), 2);
	assert_int_equal(agent_check(a, 2000, &e), 0);

	/* the VM stops: its stream ends, and so does the watcher */
	agent_close(a);
	shim_oom_free(o);
	shim_events_free(ev, 1000);
	fake_agent_stop(&f);
	fc_stop();
	assert_int_equal(fc.n, 1);
	assert_int_equal(util_rm_rf(dir, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_oom_published_then_stops_on_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
