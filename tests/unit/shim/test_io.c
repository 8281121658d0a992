/* Unit tests for shim/io: stdio between containerd's FIFOs and a fake
 * agent: all output (several chunks) reaches the stdout/stderr FIFOs before
 * shim_io_finish returns, and the FIFOs then read EOF; the stdin FIFO's
 * bytes go to WriteStdin and its EOF becomes CloseStdin; null io is still
 * drained; file:// logs are created and appended to; stdio addresses. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/loop.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/empty.pb-c.h"
#include "proto/health.pb-c.h"
#include "shim/io.h"

/* ---- a fake agent: scripted output, recorded stdin ------------------------------- */

static const char *const out_chunks[] = {"hello ", "world\n", NULL};
static const char *const err_chunks[] = {"oops\n", NULL};

static struct {
	pthread_mutex_t lock;
	int out_n, err_n;
	char stdin_data[256];
	bool stdin_closed;
	struct loop *loop;
	struct ttrpc_server *server;
	pthread_t thread;
} fa = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_check(struct ttrpc_call *call, const uint8_t *p, size_t n, void *o)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;

	(void)p, (void)n, (void)o;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_call_reply_msg(call, &resp.base);
}

static void read_stream(struct ttrpc_call *call, const char *const *chunks, int *next)
{
	Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;
	const char *c;

	pthread_mutex_lock(&fa.lock);
	c = chunks[*next];
	if (c)
		(*next)++;
	pthread_mutex_unlock(&fa.lock);
	if (!c) { /* the end of the stream, as the agent says it */
		ttrpc_call_error(call, TTRPC_UNKNOWN, "EOF");
		return;
	}
	resp.data.data = (uint8_t *)c;
	resp.data.len = strlen(c);
	ttrpc_call_reply_msg(call, &resp.base);
}

static void on_stdout(struct ttrpc_call *call, const uint8_t *p, size_t n, void *o)
{
	(void)p, (void)n, (void)o;
	read_stream(call, out_chunks, &fa.out_n);
}

static void on_stderr(struct ttrpc_call *call, const uint8_t *p, size_t n, void *o)
{
	(void)p, (void)n, (void)o;
	read_stream(call, err_chunks, &fa.err_n);
}

static void on_write_stdin(struct ttrpc_call *call, const uint8_t *p, size_t n, void *o)
{
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
	Grpc__WriteStreamRequest *req = grpc__write_stream_request__unpack(NULL, n, p);

	(void)o;
	pthread_mutex_lock(&fa.lock);
	strncat(fa.stdin_data, (const char *)req->data.data,
	        sizeof(fa.stdin_data) - strlen(fa.stdin_data) - 1 < req->data.len
	                ? sizeof(fa.stdin_data) - strlen(fa.stdin_data) - 1
	                : req->data.len);
	pthread_mutex_unlock(&fa.lock);
	resp.len = (uint32_t)req->data.len;
	grpc__write_stream_request__free_unpacked(req, NULL);
	ttrpc_call_reply_msg(call, &resp.base);
}

static void on_close_stdin(struct ttrpc_call *call, const uint8_t *p, size_t n, void *o)
{
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	(void)p, (void)n, (void)o;
	pthread_mutex_lock(&fa.lock);
	fa.stdin_closed = true;
	pthread_mutex_unlock(&fa.lock);
	ttrpc_call_reply_msg(call, &empty.base);
}

static const struct ttrpc_method methods[] = {
        {"grpc.Health", "Check", on_check},
        {"grpc.AgentService", "ReadStdout", on_stdout},
        {"grpc.AgentService", "ReadStderr", on_stderr},
        {"grpc.AgentService", "WriteStdin", on_write_stdin},
        {"grpc.AgentService", "CloseStdin", on_close_stdin},
};

static void *fa_run(void *arg)
{
	struct err e;

	(void)arg;
	loop_run(fa.loop, &e);
	return NULL;
}

static struct agent *fa_start(void)
{
	struct agent *a;
	struct err e;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(loop_new(&fa.loop, &e), 0);
	assert_int_equal(
	        ttrpc_server_new(&fa.server, fa.loop, methods, ARRAY_SIZE(methods), NULL, &e), 0);
	assert_int_equal(ttrpc_server_serve_fd(fa.server, sv[1], &e), 0);
	pthread_create(&fa.thread, NULL, fa_run, NULL);
	if (agent_open_fd(&a, sv[0], 5000, &e) < 0)
		fail_msg("%s", e.msg);
	return a;
}

static void fa_stop(struct agent *a)
{
	agent_close(a);
	loop_stop(fa.loop);
	pthread_join(fa.thread, NULL);
	ttrpc_server_free(fa.server);
	loop_free(fa.loop);
}

/* ---- tests ------------------------------------------------------------------------------ */

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hako-test-io.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(dir, &e);
}

static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
}

static void test_output_drained(void **state)
{
	char out[128], err_[128], rout[64], rerr[64];
	struct shim_io_config cfg = {.cid = "c1", .stdout_path = out, .stderr_path = err_};
	struct shim_io *io;
	struct err e;
	int fo, fe;

	(void)state;
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err_, sizeof(err_), "%s/stderr", dir);
	assert_int_equal(mkfifo(out, 0600), 0);
	assert_int_equal(mkfifo(err_, 0600), 0);
	/* containerd holds the read ends before Create */
	fo = open(out, O_RDONLY | O_NONBLOCK);
	fe = open(err_, O_RDONLY | O_NONBLOCK);
	assert_true(fo >= 0 && fe >= 0);
	cfg.agent = fa_start();
	fa.out_n = fa.err_n = 0;
	assert_int_equal(shim_io_open(&io, &cfg, &e), 0);
	assert_int_equal(shim_io_start(io, &e), 0);
	shim_io_finish(io, 5000);
	/* everything is in the FIFOs, and they are closed: reads end at EOF */
	fcntl(fo, F_SETFL, 0);
	fcntl(fe, F_SETFL, 0);
	read_all(fo, rout, sizeof(rout));
	read_all(fe, rerr, sizeof(rerr));
	assert_string_equal(rout, "hello world\n");
	assert_string_equal(rerr, "oops\n");
	shim_io_free(io);
	fa_stop(cfg.agent);
	close(fo);
	close(fe);
}

static void test_terminal_has_no_stderr(void **state)
{
	char out[128], rout[64];
	struct shim_io_config cfg = {.cid = "c1",
	                             .stdout_path = out,
	                             .terminal = true,
	                             .stderr_path = "/nonexistent/stderr"};
	struct shim_io *io;
	struct err e;
	int fo;

	(void)state;
	snprintf(out, sizeof(out), "file://%s/tty", dir);
	assert_int_equal(mkfifo(out + 7, 0600), 0);
	fo = open(out + 7, O_RDONLY | O_NONBLOCK);
	cfg.agent = fa_start();
	fa.out_n = fa.err_n = 0;
	assert_int_equal(shim_io_open(&io, &cfg, &e), 0);
	assert_int_equal(shim_io_start(io, &e), 0);
	shim_io_finish(io, 5000);
	fcntl(fo, F_SETFL, 0);
	read_all(fo, rout, sizeof(rout));
	assert_string_equal(rout, "hello world\n");
	assert_int_equal(fa.err_n, 0);
	shim_io_free(io);
	fa_stop(cfg.agent);
	close(fo);
}

static void test_stdin(void **state)
{
	char in[128];
	struct shim_io_config cfg = {.cid = "c1", .stdin_path = in};
	struct shim_io *io;
	struct err e;
	int fd = -1;
	bool closed = false;

	(void)state;
	snprintf(in, sizeof(in), "%s/stdin", dir);
	assert_int_equal(mkfifo(in, 0600), 0);
	cfg.agent = fa_start();
	fa.stdin_data[0] = 0;
	fa.stdin_closed = false;
	assert_int_equal(shim_io_open(&io, &cfg, &e), 0);
	assert_int_equal(shim_io_start(io, &e), 0);
	/* containerd's writer opens once the shim reads */
	for (int i = 0; i < 200 && fd < 0; i++) {
		fd = open(in, O_WRONLY | O_NONBLOCK);
		if (fd < 0)
			usleep(10000);
	}
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "input\n", 6), 6);
	close(fd);
	for (int i = 0; i < 200 && !closed; i++) {
		pthread_mutex_lock(&fa.lock);
		closed = fa.stdin_closed;
		pthread_mutex_unlock(&fa.lock);
		if (!closed)
			usleep(10000);
	}
	assert_true(closed);
	assert_string_equal(fa.stdin_data, "input\n");
	shim_io_free(io);
	fa_stop(cfg.agent);
}

static void test_null_io_is_drained(void **state)
{
	struct shim_io_config cfg = {.cid = "c1"};
	struct shim_io *io;
	struct err e;

	(void)state;
	cfg.agent = fa_start();
	fa.out_n = fa.err_n = 0;
	assert_int_equal(shim_io_open(&io, &cfg, &e), 0);
	assert_int_equal(shim_io_start(io, &e), 0);
	shim_io_finish(io, 5000);
	/* both streams read to their end although nobody wants them */
	assert_int_equal(fa.out_n, 2);
	assert_int_equal(fa.err_n, 1);
	shim_io_free(io);
	fa_stop(cfg.agent);
}

static void test_file_log(void **state)
{
	char uri[160], path[128], *text = NULL;
	struct shim_io_config cfg = {.cid = "c1", .stdout_path = uri, .stderr_path = uri};
	struct shim_io *io;
	struct err e;

	(void)state;
	snprintf(path, sizeof(path), "%s/ctr.log", dir);
	snprintf(uri, sizeof(uri), "file://%s", path);
	cfg.agent = fa_start();
	fa.out_n = fa.err_n = 0;
	assert_int_equal(shim_io_open(&io, &cfg, &e), 0);
	assert_int_equal(shim_io_start(io, &e), 0);
	shim_io_finish(io, 5000);
	assert_int_equal(util_read_file(path, 4096, &text, NULL, &e), 0);
	/* the file is created; both streams are appended to it */
	assert_non_null(strstr(text, "oops\n"));
	assert_non_null(strstr(text, "hello "));
	assert_int_equal(strlen(text), strlen("hello world\noops\n"));
	free(text);
	shim_io_free(io);
	fa_stop(cfg.agent);
}

static void test_paths(void **state)
{
	const char *p;
	struct err e;

	(void)state;
	assert_int_equal(shim_io_path("", &p, &e), 0);
	assert_null(p);
	assert_int_equal(shim_io_path(NULL, &p, &e), 0);
	assert_null(p);
	assert_int_equal(shim_io_path("/run/x/stdout", &p, &e), 0);
	assert_string_equal(p, "/run/x/stdout");
	assert_int_equal(shim_io_path("file:///var/log/x", &p, &e), 0);
	assert_string_equal(p, "/var/log/x");
	assert_int_equal(shim_io_path("binary:///usr/bin/logger?x=1", &p, &e), -1);
	assert_int_equal(e.errnum, ENOTSUP);
	assert_non_null(strstr(e.msg, "not supported"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_output_drained, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_terminal_has_no_stderr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stdin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_null_io_is_drained, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_file_log, setup, teardown),
	        cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
