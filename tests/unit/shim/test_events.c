/* Unit tests for shim/events: the Forward request's encoding (Envelope,
 * Any type_url), and in-order delivery to a fake containerd events
 * service over ttrpc, including an event published before containerd
 * listens. */
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
#include "shim/events.h"

static void test_encode(void **state)
{
	Containerd__Events__TaskExit exit_ = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req;
	Containerd__Events__TaskExit *got;
	struct timespec when = {.tv_sec = 1700000000, .tv_nsec = 42};
	uint8_t *buf;
	size_t len;
	struct err e;

	(void)state;
	exit_.container_id = "c1";
	exit_.id = "c1";
	exit_.pid = 77;
	exit_.exit_status = 3;
	assert_int_equal(
	        shim_events_encode("default", SHIM_TOPIC_EXIT, &exit_.base, &when, &buf, &len, &e),
	        0);
	req = containerd__services__events__ttrpc__v1__forward_request__unpack(NULL, len, buf);
	assert_non_null(req);
	assert_non_null(req->envelope);
	assert_string_equal(req->envelope->namespace_, "default");
	assert_string_equal(req->envelope->topic, "/tasks/exit");
	assert_int_equal(req->envelope->timestamp->seconds, 1700000000);
	assert_int_equal(req->envelope->timestamp->nanos, 42);
	assert_string_equal(req->envelope->event->type_url, "containerd.events.TaskExit");
	got = containerd__events__task_exit__unpack(NULL, req->envelope->event->value.len,
	                                            req->envelope->event->value.data);
	assert_non_null(got);
	assert_string_equal(got->container_id, "c1");
	assert_int_equal(got->pid, 77);
	assert_int_equal(got->exit_status, 3);
	containerd__events__task_exit__free_unpacked(got, NULL);
	containerd__services__events__ttrpc__v1__forward_request__free_unpacked(req, NULL);
	free(buf);
}

/* ---- a fake containerd ------------------------------------------------------ */

struct fake {
	struct loop *loop;
	struct ttrpc_server *server;
	pthread_t thread;
	pthread_mutex_t lock;
	char topics[8][32];
	char types[8][64];
	int n;
};

static struct fake fake;

static void on_forward(struct ttrpc_call *call, const uint8_t *payload, size_t len, void *opaque)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	(void)opaque;
	req = containerd__services__events__ttrpc__v1__forward_request__unpack(NULL, len, payload);
	if (!req || !req->envelope || !req->envelope->event) {
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "bad request");
		return;
	}
	pthread_mutex_lock(&fake.lock);
	if (fake.n < 8) {
		snprintf(fake.topics[fake.n], 32, "%s", req->envelope->topic);
		snprintf(fake.types[fake.n], 64, "%s", req->envelope->event->type_url);
		fake.n++;
	}
	pthread_mutex_unlock(&fake.lock);
	containerd__services__events__ttrpc__v1__forward_request__free_unpacked(req, NULL);
	ttrpc_call_reply_msg(call, &empty.base);
}

static void *loop_thread(void *arg)
{
	struct err e;

	(void)arg;
	loop_run(fake.loop, &e);
	return NULL;
}

static void fake_listen(const char *path)
{
	static const struct ttrpc_method methods[] = {{SHIM_EVENTS_SERVICE, "Forward", on_forward}};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct err e;
	int fd;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	pthread_mutex_init(&fake.lock, NULL);
	assert_int_equal(loop_new(&fake.loop, &e), 0);
	assert_int_equal(
	        ttrpc_server_new(&fake.server, fake.loop, methods, ARRAY_SIZE(methods), NULL, &e),
	        0);
	assert_int_equal(ttrpc_server_listen(fake.server, fd, &e), 0);
	pthread_create(&fake.thread, NULL, loop_thread, NULL);
}

static void fake_stop(void)
{
	loop_stop(fake.loop);
	pthread_join(fake.thread, NULL);
	ttrpc_server_free(fake.server);
	loop_free(fake.loop);
}

static void test_publish_in_order(void **state)
{
	Containerd__Events__TaskCreate create = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskStart start = CONTAINERD__EVENTS__TASK_START__INIT;
	Containerd__Events__TaskExit exit_ = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Containerd__Events__TaskDelete del = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	char dir[] = "/tmp/hako-test-events.XXXXXX", path[128];
	struct shim_events *ev;
	struct err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock.ttrpc", dir);
	create.container_id = start.container_id = exit_.container_id = del.container_id = "c1";
	assert_int_equal(shim_events_new(&ev, path, "default", &e), 0);
	/* published before containerd listens: delivered once it does */
	shim_events_publish(ev, SHIM_TOPIC_CREATE, &create.base);
	usleep(50000);
	fake_listen(path);
	shim_events_publish(ev, SHIM_TOPIC_START, &start.base);
	shim_events_publish(ev, SHIM_TOPIC_EXIT, &exit_.base);
	shim_events_publish(ev, SHIM_TOPIC_DELETE, &del.base);
	shim_events_free(ev, 5000);
	fake_stop();
	assert_int_equal(fake.n, 4);
	assert_string_equal(fake.topics[0], "/tasks/create");
	assert_string_equal(fake.types[0], "containerd.events.TaskCreate");
	assert_string_equal(fake.topics[1], "/tasks/start");
	assert_string_equal(fake.topics[2], "/tasks/exit");
	assert_string_equal(fake.types[2], "containerd.events.TaskExit");
	assert_string_equal(fake.topics[3], "/tasks/delete");
	assert_int_equal(util_rm_rf(dir, &e), 0);
}

static void test_no_address(void **state)
{
	Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
	struct shim_events *ev;
	struct err e;

	(void)state;
	oom.container_id = "c1";
	assert_int_equal(shim_events_new(&ev, "", "default", &e), 0);
	shim_events_publish(ev, SHIM_TOPIC_OOM, &oom.base);
	shim_events_free(ev, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_encode),
	        cmocka_unit_test(test_publish_in_order),
	        cmocka_unit_test(test_no_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
