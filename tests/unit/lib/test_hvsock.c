/* Unit tests for lib/hvsock: address parsing and the hybrid-vsock handshake
 * against a fake VMM listener (accepted, refused, silent). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/hvsock.h"
#include "lib/util.h"

static char dir[64], path[96];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hako-test-hvsock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/vsock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static int listen_at(const char *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	unlink(p);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* A fake VMM: accepts one connection, checks the CONNECT line, answers. */
struct fake_vmm {
	int lfd;
	const char *reply; /* NULL: hang up without a word */
	char got[64];
};

static void *vmm_thread(void *arg)
{
	struct fake_vmm *v = arg;
	int fd = accept(v->lfd, NULL, NULL);
	size_t n = 0;

	assert_true(fd >= 0);
	while (n < sizeof(v->got) - 1 && read(fd, v->got + n, 1) == 1 && v->got[n] != '\n')
		n++;
	v->got[n] = 0;
	if (v->reply)
		assert_int_equal(write(fd, v->reply, strlen(v->reply)), (ssize_t)strlen(v->reply));
	close(fd);
	return NULL;
}

static void test_parse(void **state)
{
	struct hvsock_addr a;
	struct err e;

	(void)state;
	assert_int_equal(hvsock_addr_parse("unix:/run/a.sock", &a, &e), 0);
	assert_int_equal(a.kind, HVSOCK_UNIX);
	assert_string_equal(a.path, "/run/a.sock");
	assert_int_equal(hvsock_addr_parse("hvsock:/run/v:1.sock:1024", &a, &e), 0);
	assert_int_equal(a.kind, HVSOCK_HYBRID);
	assert_string_equal(a.path, "/run/v:1.sock");
	assert_int_equal(a.port, 1024);
	assert_int_equal(hvsock_addr_parse("tcp:1.2.3.4:5", &a, &e), -1);
	assert_non_null(strstr(e.msg, "want unix:PATH"));
	assert_int_equal(hvsock_addr_parse("hvsock:/run/v.sock", &a, &e), -1);
	assert_int_equal(hvsock_addr_parse("hvsock:/run/v.sock:x", &a, &e), -1);
	assert_non_null(strstr(e.msg, "bad port 'x'"));
	assert_int_equal(hvsock_addr_parse("hvsock:/run/v.sock:4294967296", &a, &e), -1);
	assert_int_equal(hvsock_addr_parse("hvsock:/run/v.sock:-1", &a, &e), -1);
	assert_int_equal(hvsock_addr_parse("hvsock::1024", &a, &e), -1);
	assert_int_equal(hvsock_addr_parse("unix:", &a, &e), -1);
	{
		char longp[200] = "unix:/";

		memset(longp + 6, 'a', 150);
		assert_int_equal(hvsock_addr_parse(longp, &a, &e), -1);
		assert_int_equal(e.errnum, ENAMETOOLONG);
	}
}

static void test_dial_ok_does_not_over_read(void **state)
{
	struct fake_vmm v = {.reply = "OK 1073741824\nguest bytes"};
	pthread_t t;
	char buf[32] = {0};
	struct err e;
	int fd;

	(void)state;
	v.lfd = listen_at(path);
	pthread_create(&t, NULL, vmm_thread, &v);
	assert_int_equal(hvsock_dial(path, 1024, 2000, &fd, &e), 0);
	pthread_join(t, NULL);
	assert_string_equal(v.got, "CONNECT 1024");
	/* The guest's first bytes are still in the stream, and fd blocks. */
	assert_int_equal(util_read_all(fd, buf, 11), 11);
	assert_string_equal(buf, "guest bytes");
	close(fd);
	close(v.lfd);
}

static void test_dial_refused(void **state)
{
	struct fake_vmm v = {.reply = "ERR no listener\n"};
	pthread_t t;
	struct err e;
	int fd;

	(void)state;
	v.lfd = listen_at(path);
	pthread_create(&t, NULL, vmm_thread, &v);
	assert_int_equal(hvsock_dial(path, 2, 2000, &fd, &e), -1);
	pthread_join(t, NULL);
	assert_int_equal(e.errnum, ECONNREFUSED);
	assert_non_null(strstr(e.msg, "refused: 'ERR no listener'"));
	assert_non_null(strstr(e.msg, "port 2"));

	/* Hanging up without a reply is a refusal too. */
	v.reply = NULL;
	pthread_create(&t, NULL, vmm_thread, &v);
	assert_int_equal(hvsock_addr_dial("hvsock:/nonexistent/x:1", 500, &fd, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	{
		char addr[128];

		snprintf(addr, sizeof(addr), "hvsock:%s:77", path);
		assert_int_equal(hvsock_addr_dial(addr, 2000, &fd, &e), -1);
	}
	pthread_join(t, NULL);
	assert_int_equal(e.errnum, ECONNREFUSED);
	assert_string_equal(v.got, "CONNECT 77");
	close(v.lfd);
}

static void test_dial_timeout(void **state)
{
	unsigned long long t0;
	struct err e;
	int fd, lfd;

	(void)state;
	/* Connected through the backlog, but nobody ever answers. */
	lfd = listen_at(path);
	t0 = util_now_ns();
	assert_int_equal(hvsock_dial(path, 1024, 200, &fd, &e), -1);
	assert_int_equal(e.errnum, ETIMEDOUT);
	assert_true(util_now_ns() - t0 >= 200000000ull);
	assert_true(util_now_ns() - t0 < 2000000000ull);
	close(lfd);
}

static void test_unix_addr(void **state)
{
	char addr[128];
	struct err e;
	int fd, lfd, cfd;

	(void)state;
	lfd = listen_at(path);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(hvsock_addr_dial(addr, 1000, &fd, &e), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_int_equal(write(cfd, "hi", 2), 2);
	{
		char b[3] = {0};

		assert_int_equal(util_read_all(fd, b, 2), 2);
		assert_string_equal(b, "hi");
	}
	close(cfd);
	close(fd);
	close(lfd);
	unlink(path);
	assert_int_equal(hvsock_addr_dial(addr, 1000, &fd, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test_setup_teardown(test_dial_ok_does_not_over_read, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dial_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dial_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unix_addr, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
