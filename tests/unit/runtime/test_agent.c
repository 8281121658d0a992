/* Unit tests for runtime/agent: the typed calls against a fake agent. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_waits_for_serving_then_calls),
	        cmocka_unit_test(test_errors_carry_method_and_code),
	        cmocka_unit_test(test_open_times_out_when_never_serving),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
