/* Unit tests for shim/task's exit waiters against runtime's fake agent: a
 * process's exit status is recorded, and a waiter still in WaitProcess when
 * the VM stops (its agent closed) ends as EXIT_UNKNOWN on its own reference. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/agent.h"
#include "shim/events.h"
#include "shim/task_internal.h"
#include "fake_agent.h"

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

/* One task with one running container "c1", events only logged. */
struct fixture {
	struct shim_task t;
	struct ctr c;
	struct fake_agent f;
	struct agent *a;
};

static void setup(struct fixture *x)
{
	struct err e;
	int fd;

	pthread_mutex_init(&x->t.lock, NULL);
	assert_int_equal(shim_events_new(&x->t.events, NULL, "default", &e), 0);
	x->c.t = &x->t;
	x->c.id = "c1";
	x->c.init.c = &x->c;
	x->c.init.status = STATUS(RUNNING);
	fd = fake_agent_start(&x->f);
	assert_true(fd >= 0);
	assert_int_equal(agent_open_fd(&x->a, fd, 5000, &e), 0);
}

static void teardown(struct fixture *x)
{
	fake_agent_stop(&x->f);
	shim_events_free(x->t.events, 1000);
	pthread_mutex_destroy(&x->t.lock);
}

static void test_waiter_records_exit(void **state)
{
	struct fixture x = {.f = {.exit_status = 3}};
	struct err e;

	(void)state;
	setup(&x);
	assert_int_equal(task_waiter_start(&x.c.init, x.a, &e), 0);
	pthread_join(x.c.init.waiter, NULL);
	assert_int_equal(x.c.init.status, STATUS(STOPPED));
	assert_int_equal(x.c.init.exit_status, 3);
	assert_true(x.c.init.exited_at.tv_sec > 0);
	assert_null(x.c.init.agent);
	agent_close(x.a);
	teardown(&x);
}

/* stop_vm closes the agent while a process still runs: the waiter's call
 * fails, the process ends as EXIT_UNKNOWN and its reference is dropped
 * (run under valgrind: nothing read after free, nothing leaked). */
static void test_waiter_pending_when_vm_stops(void **state)
{
	struct fixture x = {.f = {.wait_hold = true}};
	struct err e;

	(void)state;
	setup(&x);
	assert_int_equal(task_waiter_start(&x.c.init, x.a, &e), 0);
	assert_int_equal(wait_count(&x.f.lock, &x.f.waits, 1), 1);
	agent_close(x.a); /* the sandbox's reference: the last but the waiter's */
	x.a = NULL;
	pthread_join(x.c.init.waiter, NULL);
	assert_int_equal(x.c.init.status, STATUS(STOPPED));
	assert_int_equal(x.c.init.exit_status, EXIT_UNKNOWN);
	assert_null(x.c.init.agent);
	teardown(&x);
}

/* The VM stops before the waiter even reached the agent: its call fails at
 * once on the reference it holds. */
static void test_waiter_started_as_vm_stops(void **state)
{
	struct fixture x = {.f = {.wait_hold = true}};
	struct err e;

	(void)state;
	setup(&x);
	assert_int_equal(task_waiter_start(&x.c.init, x.a, &e), 0);
	agent_close(x.a);
	x.a = NULL;
	pthread_join(x.c.init.waiter, NULL);
	assert_int_equal(x.c.init.status, STATUS(STOPPED));
	assert_null(x.c.init.agent);
	teardown(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_waiter_records_exit),
	        cmocka_unit_test(test_waiter_pending_when_vm_stops),
	        cmocka_unit_test(test_waiter_started_as_vm_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
