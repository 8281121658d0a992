/* Unit tests for runtime/agent: the typed calls against a fake agent. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/agent.h"
#include "fake_agent.h"

static void test_waits_for_serving_then_calls(void **state)
{
	struct fake_agent f = {.not_serving = 2, .exit_status = 3, .stdout_data = "hi\n"};
	Grpc__Spec spec = GRPC__SPEC__INIT;
	struct agent *a = NULL;
	char buf[16];
	struct err e;
	int fd, status = -1;

	(void)state;
	fd = fake_agent_start(&f);
	assert_true(fd >= 0);
	assert_int_equal(agent_open_fd(&a, fd, 5000, &e), 0);
	assert_int_equal(f.checks, 3);

	assert_int_equal(agent_create_container(a, "c1", &spec, NULL, 0, &e), 0);
	assert_int_equal(agent_start_container(a, "c1", &e), 0);
	assert_int_equal(agent_write_stdin(a, "c1", NULL, "in", 2, &e), 2);
	assert_int_equal(agent_close_stdin(a, "c1", NULL, &e), 0);
	assert_int_equal(agent_read_stream(a, "c1", NULL, true, buf, sizeof(buf), &e), 3);
	assert_memory_equal(buf, "hi\n", 3);
	/* the agent's error at the end of the stream reads as EOF */
	assert_int_equal(agent_read_stream(a, "c1", NULL, true, buf, sizeof(buf), &e), 0);
	assert_int_equal(agent_signal_process(a, "c1", NULL, SIGTERM, &e), 0);
	assert_int_equal(agent_wait_process(a, "c1", NULL, &status, &e), 0);
	assert_int_equal(status, 3);
	assert_int_equal(agent_remove_container(a, "c1", 5, &e), 0);
	assert_int_equal(agent_destroy_sandbox(a, &e), 0);
	agent_close(a);
	fake_agent_stop(&f);

	assert_string_equal(f.created, "c1");
	assert_string_equal(f.started, "c1");
	assert_string_equal(f.stdin_data, "in");
	assert_true(f.stdin_closed);
	assert_int_equal(f.signal, SIGTERM);
	assert_string_equal(f.removed, "c1");
	assert_true(f.destroyed);
}

static void test_errors_carry_method_and_code(void **state)
{
	struct fake_agent f = {0};
	Grpc__Spec spec = GRPC__SPEC__INIT;
	struct agent *a = NULL;
	char buf[8];
	struct err e;
	int fd;

	(void)state;
	fd = fake_agent_start(&f);
	assert_int_equal(agent_open_fd(&a, fd, 5000, &e), 0);
	assert_int_equal(agent_start_container(a, "nope", &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_non_null(strstr(e.msg, "StartContainer"));
	assert_non_null(strstr(e.msg, "NOT_FOUND"));
	assert_non_null(strstr(e.msg, "container nope not found"));
	assert_int_equal(agent_create_container(a, "refused", &spec, NULL, 0, &e), -1);
	assert_int_equal(e.errnum, EINVAL);
	/* an unknown container is an error, not the end of a stream */
	assert_int_equal(agent_read_stream(a, "nope", NULL, true, buf, sizeof(buf), &e), -1);
	/* a method the agent lacks */
	assert_int_equal(agent_pause_container(a, "c", &e), -1);
	assert_int_equal(e.errnum, ENOTSUP);
	agent_close(a);
	fake_agent_stop(&f);
}

static void test_open_times_out_when_never_serving(void **state)
{
	struct fake_agent f = {.not_serving = 1 << 30};
	struct agent *a = NULL;
	struct err e;
	int fd;

	(void)state;
	fd = fake_agent_start(&f);
	assert_int_equal(agent_open_fd(&a, fd, 200, &e), -1);
	assert_null(a);
	assert_non_null(strstr(e.msg, "not serving"));
	fake_agent_stop(&f);
}

struct oom_waiter {
	struct agent *a; /* its own reference */
	char *cid;
	int rc;
	struct err e;
};

static void *oom_wait(void *arg)
{
	struct oom_waiter *w = arg;

	w->rc = agent_get_oom_event(w->a, &w->cid, &w->e);
	agent_unref(w->a);
	return NULL;
}

/* GetOOMEvent answers the container's id; a second one, pending without a
 * deadline, does not hold up other calls on the one stream, and ends with
 * an error when the agent is closed (the struct lives on through the
 * waiter's reference). */
static void test_oom_event(void **state)
{
	struct fake_agent f = {.oom_id = "c1"};
	Grpc__Spec spec = GRPC__SPEC__INIT;
	struct oom_waiter w = {0};
	struct agent *a = NULL;
	char *cid = NULL;
	pthread_t th;
	struct err e;
	int fd, calls;

	(void)state;
	fd = fake_agent_start(&f);
	assert_int_equal(agent_open_fd(&a, fd, 5000, &e), 0);
	assert_int_equal(agent_get_oom_event(a, &cid, &e), 0);
	assert_string_equal(cid, "c1");
	free(cid);

	w.a = agent_ref(a);
	assert_int_equal(pthread_create(&th, NULL, oom_wait, &w), 0);
	do {
		usleep(1000);
		pthread_mutex_lock(&f.lock);
		calls = f.oom_calls;
		pthread_mutex_unlock(&f.lock);
	} while (calls < 2);
	assert_int_equal(agent_check(a, 2000, &e), 0);
	assert_int_equal(agent_create_container(a, "c2", &spec, NULL, 0, &e), 0);
	assert_int_equal(agent_start_container(a, "c2", &e), 0);

	agent_close(a);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, -1);
	assert_int_equal(w.e.errnum, ECONNRESET);
	assert_non_null(strstr(w.e.msg, "GetOOMEvent"));
	assert_null(w.cid);
	fake_agent_stop(&f);
	assert_string_equal(f.started, "c2");
}

/* Once closed, a reference holder's calls fail at once. */
static void test_call_after_close_fails(void **state)
{
	struct fake_agent f = {0};
	struct agent *a = NULL, *ref;
	char *cid = NULL;
	struct err e;
	int fd;

	(void)state;
	fd = fake_agent_start(&f);
	assert_int_equal(agent_open_fd(&a, fd, 5000, &e), 0);
	ref = agent_ref(a);
	agent_close(a);
	assert_int_equal(agent_get_oom_event(ref, &cid, &e), -1);
	assert_int_equal(e.errnum, ECONNRESET);
	assert_int_equal(agent_check(ref, 1000, &e), -1);
	agent_unref(ref);
	fake_agent_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_waits_for_serving_then_calls),
	        cmocka_unit_test(test_errors_carry_method_and_code),
	        cmocka_unit_test(test_open_times_out_when_never_serving),
	        cmocka_unit_test(test_oom_event),
	        cmocka_unit_test(test_call_after_close_fails),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
