/* Unit tests for runtime/qmp: a scripted fake QEMU on the other end of a
 * socketpair. */
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

#include "lib/util.h"
#include "runtime/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"

/* One step of the fake server: wait for a line containing expect (NULL: no
 * read), then send reply (NULL: send nothing). */
struct step {
	const char *expect;
	const char *reply;
};

struct fake {
	int fd;
	const struct step *steps;
	int failures;
	char seen[4096];
};

static void *fake_qemu(void *arg)
{
	struct fake *f = arg;
	size_t used = 0;

	for (const struct step *s = f->steps; s->expect || s->reply; s++) {
		if (s->expect) {
			char *nl;
			ssize_t n;

			while (!(nl = memchr(f->seen, '\n', used))) {
				n = read(f->fd, f->seen + used, sizeof(f->seen) - 1 - used);
				if (n <= 0)
					goto out;
				used += (size_t)n;
			}
			*nl = 0;
			if (!strstr(f->seen, s->expect))
				f->failures++;
			used -= (size_t)(nl + 1 - f->seen);
			memmove(f->seen, nl + 1, used);
		}
		if (s->reply && util_write_all(f->fd, s->reply, strlen(s->reply)) < 0)
			break;
	}
out:
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static pthread_t start_fake(struct fake *f, const struct step *steps, int *client_fd)
{
	int sv[2];
	pthread_t t;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	f->steps = steps;
	f->failures = 0;
	*client_fd = sv[0];
	assert_int_equal(pthread_create(&t, NULL, fake_qemu, f), 0);
	return t;
}

static void stop_fake(struct fake *f, pthread_t t)
{
	pthread_join(t, NULL);
	close(f->fd);
	assert_int_equal(f->failures, 0);
}

static void test_commands_events_and_errors(void **state)
{
	static const struct step steps[] = {
	        {NULL, GREETING},
	        {"\"execute\":\"qmp_capabilities\"", "{\"return\": {}}\r\n"},
	        {"\"execute\":\"query-status\"",
	         "{\"event\": \"RESUME\", \"timestamp\": {}}\r\n"
	         "{\"return\": {\"status\": \"running\", \"running\": true}}\r\n"},
	        {"\"arguments\":{\"device\":\"x\"}",
	         "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"no x\"}}\r\n"},
	        {"\"execute\":\"stop\"", "{\"timestamp\": {}, \"event\": \"STOP\"}\r\n{\"return\""},
	        {NULL, ": {}}\r\n"},
	        {NULL, NULL},
	};
	struct fake f;
	struct qmp *q = NULL;
	struct json_object *ret = NULL, *v, *args;
	struct err e;
	pthread_t t;
	int fd;

	(void)state;
	t = start_fake(&f, steps, &fd);
	assert_int_equal(qmp_open_fd(&q, fd, 2000, &e), 0);
	assert_int_equal(qmp_execute(q, "query-status", NULL, &ret, 2000, &e), 0);
	assert_true(json_object_object_get_ex(ret, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	json_object_put(ret);

	args = json_object_new_object();
	json_object_object_add(args, "device", json_object_new_string("x"));
	assert_int_equal(qmp_execute(q, "device_del", args, NULL, 2000, &e), -1);
	json_object_put(args);
	assert_non_null(strstr(e.msg, "device_del"));
	assert_non_null(strstr(e.msg, "DeviceNotFound: no x"));

	/* a reply split across two writes, after an event */
	assert_int_equal(qmp_execute(q, "stop", NULL, NULL, 2000, &e), 0);
	/* the fake has hung up: the next command fails, it does not hang */
	assert_int_equal(qmp_execute(q, "cont", NULL, NULL, 2000, &e), -1);
	qmp_close(q);
	stop_fake(&f, t);
}

static void test_timeout(void **state)
{
	static const struct step steps[] = {
	        {NULL, GREETING},       {"qmp_capabilities", "{\"return\": {}}\n"},
	        {"query-status", NULL}, {"never", NULL},
	        {NULL, NULL},
	};
	struct fake f;
	struct qmp *q = NULL;
	struct err e;
	unsigned long long t0;
	pthread_t t;
	int fd;

	(void)state;
	t = start_fake(&f, steps, &fd);
	assert_int_equal(qmp_open_fd(&q, fd, 2000, &e), 0);
	t0 = util_now_ns();
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, 100, &e), -1);
	assert_true(util_now_ns() - t0 < 1000000000ull);
	assert_non_null(strstr(e.msg, "timed out"));
	qmp_close(q); /* the fake sees EOF and ends */
	pthread_join(t, NULL);
	close(f.fd);
}

static void test_bad_greeting(void **state)
{
	static const struct step steps[] = {
	        {NULL, "{\"return\": {}}\n"},
	        {NULL, NULL},
	};
	struct fake f;
	struct qmp *q = NULL;
	struct err e;
	pthread_t t;
	int fd;

	(void)state;
	t = start_fake(&f, steps, &fd);
	assert_int_equal(qmp_open_fd(&q, fd, 2000, &e), -1);
	assert_null(q);
	assert_non_null(strstr(e.msg, "greeting"));
	stop_fake(&f, t);
}

static void test_connect_missing_socket_times_out(void **state)
{
	struct qmp *q = NULL;
	struct err e;

	(void)state;
	assert_int_equal(qmp_connect(&q, "/nonexistent/hako-qmp.sock", 50, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/hako-qmp.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_commands_events_and_errors),
	        cmocka_unit_test(test_timeout),
	        cmocka_unit_test(test_bad_greeting),
	        cmocka_unit_test(test_connect_missing_socket_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
