/* Unit tests for cli/vm's client side: signal names and the control
 * protocol against a scripted monitor on <root>/<id>/ctl.sock. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/vm.h"
#include "lib/util.h"

static void test_parse_signal(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(vm_parse_signal("9", &e), SIGKILL);
	assert_int_equal(vm_parse_signal("KILL", &e), SIGKILL);
	assert_int_equal(vm_parse_signal("SIGTERM", &e), SIGTERM);
	assert_int_equal(vm_parse_signal("sigusr1", &e), SIGUSR1);
	assert_int_equal(vm_parse_signal("WINCH", &e), SIGWINCH);
	assert_int_equal(vm_parse_signal("0", &e), -1);
	assert_int_equal(vm_parse_signal("NOPE", &e), -1);
	assert_non_null(strstr(e.msg, "NOPE"));
	assert_int_equal(vm_parse_signal("", &e), -1);
}

struct monitor {
	int listen_fd;
	const char *replies[4]; /* one per connection */
	char seen[4][128];
};

static void *fake_monitor(void *arg)
{
	struct monitor *m = arg;

	for (int i = 0; i < 4 && m->replies[i]; i++) {
		int fd = accept(m->listen_fd, NULL, NULL);
		size_t n = 0;
		ssize_t r;

		if (fd < 0)
			break;
		/* the whole request line, so that closing does not reset it */
		while (n < sizeof(m->seen[i]) - 1 &&
		       (r = read(fd, m->seen[i] + n, sizeof(m->seen[i]) - 1 - n)) > 0) {
			n += (size_t)r;
			m->seen[i][n] = 0;
			if (strchr(m->seen[i], '\n'))
				break;
		}
		if (util_write_all(fd, m->replies[i], strlen(m->replies[i])) < 0)
			break;
		close(fd);
	}
	return NULL;
}

static void test_control_protocol(void **state)
{
	char root[] = "/tmp/hako-test-vm.XXXXXX", dir[64];
	struct cli_ctx ctx = {0};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct monitor m = {
	        .replies = {"ok\n", "error cannot pause: no\n", "ok {\"a\":1}\n", "\n"}};
	char *data = NULL;
	struct err e;
	pthread_t t;

	(void)state;
	assert_non_null(mkdtemp(root));
	ctx.g.root = root;
	snprintf(dir, sizeof(dir), "%s/c1", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir);
	m.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(m.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(m.listen_fd, 4), 0);
	assert_int_equal(pthread_create(&t, NULL, fake_monitor, &m), 0);

	assert_int_equal(vm_control(&ctx, "c1", "start", &e), 0);
	assert_int_equal(vm_control(&ctx, "c1", "pause", &e), -1);
	assert_string_equal(e.msg, "cannot pause: no");
	assert_int_equal(vm_request(&ctx, "c1", "stats", &data, &e), 0);
	assert_string_equal(data, "{\"a\":1}");
	free(data);
	/* an empty answer is an error, not a success */
	assert_int_equal(vm_control(&ctx, "c1", "resume", &e), -1);
	pthread_join(t, NULL);
	assert_string_equal(m.seen[0], "start\n");
	assert_string_equal(m.seen[2], "stats\n");
	/* nobody listening */
	close(m.listen_fd);
	assert_int_equal(vm_control(&ctx, "c1", "start", &e), -1);
	assert_non_null(strstr(e.msg, "does not answer"));
	assert_int_equal(util_rm_rf(root, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_signal),
	        cmocka_unit_test(test_control_protocol),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
