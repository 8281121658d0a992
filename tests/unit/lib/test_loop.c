/* Unit tests for lib/loop: dispatch, removal inside a handler, cross-thread
 * calls and stop. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/loop.h"

struct pipe_ctx {
	struct loop *l;
	int fds[2];
	int hits;
	int other_fd; /* removed by our handler when >= 0 */
};

static void on_read(void *data, uint32_t events)
{
	struct pipe_ctx *c = data;
	char b;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(c->fds[0], &b, 1), 1);
	c->hits++;
	if (c->other_fd >= 0)
		loop_del(c->l, c->other_fd);
}

static void test_dispatch_and_delete_inside_handler(void **state)
{
	struct pipe_ctx a = {.other_fd = -1}, b = {.other_fd = -1};
	struct loop *l;
	struct err e;

	(void)state;
	assert_int_equal(loop_new(&l, &e), 0);
	a.l = b.l = l;
	assert_int_equal(pipe(a.fds), 0);
	assert_int_equal(pipe(b.fds), 0);
	assert_int_equal(loop_add(l, a.fds[0], EPOLLIN, on_read, &a, &e), 0);
	assert_int_equal(loop_add(l, b.fds[0], EPOLLIN, on_read, &b, &e), 0);
	assert_int_equal(loop_add(l, a.fds[0], EPOLLIN, on_read, &a, &e), -1);

	/* Both ready in one batch; whichever runs first removes the other. */
	a.other_fd = b.fds[0];
	b.other_fd = a.fds[0];
	assert_int_equal(write(a.fds[1], "x", 1), 1);
	assert_int_equal(write(b.fds[1], "y", 1), 1);
	assert_int_equal(loop_run_once(l, 1000, &e), 1);
	assert_int_equal(a.hits + b.hits, 1);

	/* Nothing is watched any more: a timeout, no calls. */
	assert_int_equal(loop_run_once(l, 10, &e), 0);
	loop_free(l);
	close(a.fds[0]), close(a.fds[1]), close(b.fds[0]), close(b.fds[1]);
}

static void count_call(void *data, uint32_t events)
{
	(void)events;
	(*(int *)data)++;
}

struct stopper {
	struct loop *l;
	int *counter;
};

static void *post_and_stop(void *arg)
{
	struct stopper *s = arg;
	struct err e;

	for (int i = 0; i < 100; i++)
		assert_int_equal(loop_call(s->l, count_call, s->counter, &e), 0);
	loop_stop(s->l);
	return NULL;
}

static void test_calls_from_other_thread_then_stop(void **state)
{
	struct loop *l;
	struct err e;
	int counter = 0;
	struct stopper s;
	pthread_t t;

	(void)state;
	assert_int_equal(loop_new(&l, &e), 0);
	s.l = l;
	s.counter = &counter;
	assert_int_equal(pthread_create(&t, NULL, post_and_stop, &s), 0);
	assert_int_equal(loop_run(l, &e), 0);
	pthread_join(t, NULL);
	/* Calls queued before stop may be run by a later batch. */
	while (counter < 100)
		assert_true(loop_run_once(l, 1000, &e) > 0);
	assert_int_equal(counter, 100);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dispatch_and_delete_inside_handler),
	        cmocka_unit_test(test_calls_from_other_thread_then_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
