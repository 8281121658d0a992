/* Unit tests for agent/process: stdio relay through the loop (nothing lost
 * past the buffer limit, EOF after the data), stdin writes and close, exit
 * status mapping, and change watchers. The child is a plain fork of sh. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/process.h"
#include "lib/loop.h"

static struct loop *loop;

/* A child running `sh -c script` with pipes, as spawn_create hands over. */
static struct spawn_child start_sh(const char *script)
{
	struct spawn_child c = {.sync_fd = -1, .pty_fd = -1};
	int in[2], out[2], err[2];

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c.stdin_fd = in[1];
	c.stdout_fd = out[0];
	c.stderr_fd = err[0];
	return c;
}

/* Drain a stream to EOF, driving the loop; returns the bytes (malloc'd). */
static char *drain(struct process *p, enum process_stream s, size_t *len)
{
	char *all = NULL, buf[4096];
	size_t n = 0;

	for (;;) {
		ssize_t r = process_read(p, s, buf, sizeof(buf));

		if (r > 0) {
			all = realloc(all, n + (size_t)r + 1);
			memcpy(all + n, buf, (size_t)r);
			n += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		assert_int_equal(errno, EAGAIN);
		assert_true(loop_run_once(loop, 5000, NULL) > 0);
	}
	if (!all)
		all = malloc(1);
	all[n] = '\0';
	*len = n;
	return all;
}

static int reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_output_then_eof(void **state)
{
	struct spawn_child c = start_sh("echo out; echo err >&2; exit 7");
	struct process *p;
	struct err e = {0};
	size_t n;
	char *s;
	int status = -1;

	(void)state;
	assert_int_equal(process_new(loop, "e1", &c, false, &p, &e), 0);
	assert_int_equal(c.stdout_fd, -1); /* moved into the process */
	s = drain(p, PROCESS_STDOUT, &n);
	assert_string_equal(s, "out\n");
	free(s);
	s = drain(p, PROCESS_STDERR, &n);
	assert_string_equal(s, "err\n");
	free(s);
	assert_false(process_exited(p, NULL));
	process_set_exited(p, reap(process_pid(p)));
	assert_true(process_exited(p, &status));
	assert_int_equal(status, 7);
	assert_false(process_done(p));
	process_set_waited(p);
	assert_true(process_done(p));
	process_free(p);
}

static void test_no_loss_past_buffer_limit(void **state)
{
	/* 3 MiB through a 1 MiB buffer: reading pauses, then resumes. */
	struct spawn_child c = start_sh("head -c 3145728 /dev/zero | tr '\\0' x");
	struct process *p;
	size_t n, i;
	char *s;

	(void)state;
	assert_int_equal(process_new(loop, "big", &c, false, &p, NULL), 0);
	/* Let it fill the buffer before anyone reads. */
	for (i = 0; i < 200; i++)
		loop_run_once(loop, 10, NULL);
	s = drain(p, PROCESS_STDOUT, &n);
	assert_int_equal(n, 3145728);
	for (i = 0; i < n; i++)
		if (s[i] != 'x')
			fail_msg("byte %zu is %d", i, s[i]);
	free(s);
	reap(process_pid(p));
	process_free(p);
}

static void test_stdin_write_and_close(void **state)
{
	struct spawn_child c = start_sh("cat");
	struct process *p;
	struct err e = {0};
	size_t n, w;
	char *s;

	(void)state;
	assert_int_equal(process_new(loop, "cat", &c, false, &p, NULL), 0);
	assert_int_equal(process_write(p, "ping\n", 5, &w, &e), 0);
	assert_int_equal(w, 5);
	assert_int_equal(process_close_stdin(p, &e), 0);
	assert_int_equal(process_write(p, "x", 1, &w, &e), -1);
	s = drain(p, PROCESS_STDOUT, &n);
	assert_string_equal(s, "ping\n");
	free(s);
	process_set_exited(p, reap(process_pid(p)));
	process_free(p);
}

static void woke(void *opaque)
{
	(*(int *)opaque)++;
}

static void test_signal_status_and_watchers(void **state)
{
	struct spawn_child c = start_sh("exec sleep 100");
	struct process *p;
	int status, fired = 0;

	(void)state;
	assert_int_equal(process_new(loop, "s", &c, false, &p, NULL), 0);
	assert_int_equal(process_watch(p, woke, &fired, NULL), 0);
	kill(process_pid(p), SIGTERM);
	process_set_exited(p, reap(process_pid(p)));
	assert_int_equal(fired, 1);
	assert_true(process_exited(p, &status));
	assert_int_equal(status, 128 + SIGTERM);
	/* One-shot: a second change does not call it again. */
	process_set_exited(p, 0);
	assert_int_equal(fired, 1);
	assert_int_equal(process_watch(p, woke, &fired, NULL), 0);
	process_free(p); /* freeing wakes the remaining watchers */
	assert_int_equal(fired, 2);
}

static int setup(void **state)
{
	(void)state;
	return loop_new(&loop, NULL);
}

static int teardown(void **state)
{
	(void)state;
	loop_free(loop);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_output_then_eof),
	        cmocka_unit_test(test_no_loss_past_buffer_limit),
	        cmocka_unit_test(test_stdin_write_and_close),
	        cmocka_unit_test(test_signal_status_and_watchers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
