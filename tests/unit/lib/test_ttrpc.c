/* Unit tests for lib/ttrpc: framing, a server on a loop thread and clients
 * over unix sockets: concurrency, deferred replies, errors, deadlines,
 * broken peers and garbage input. */
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
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/ttrpc.pb-c.h"

#define SVC "test.Svc"

/* Calls the "Hold" handler keeps for the test thread to answer. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ttrpc_call *calls[16];
	char payloads[16][32];
	int n;
} held = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {{0}}, 0};

static void h_echo(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)opaque;
	ttrpc_call_reply(call, p, len);
}

static void h_error(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)opaque;
	ttrpc_call_error(call, TTRPC_NOT_FOUND, "no such thing: %.*s", (int)len, (const char *)p);
}

static void h_deadline(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	uint64_t d = ttrpc_call_deadline(call);
	uint64_t left = d ? d - util_now_ns() : 0;

	(void)p, (void)len, (void)opaque;
	ttrpc_call_reply(call, (const uint8_t *)&left, sizeof(left));
}

static void h_hold(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)opaque;
	pthread_mutex_lock(&held.lock);
	held.calls[held.n] = call;
	snprintf(held.payloads[held.n], sizeof(held.payloads[0]), "%.*s", (int)len,
	         (const char *)p);
	held.n++;
	pthread_cond_broadcast(&held.cond);
	pthread_mutex_unlock(&held.lock);
}

static void h_big(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	uint8_t *big = calloc(1, TTRPC_MAX_MESSAGE_SIZE + 1);

	(void)p, (void)len, (void)opaque;
	ttrpc_call_reply(call, big, TTRPC_MAX_MESSAGE_SIZE + 1);
	free(big);
}

static void h_wait(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	Grpc__WaitProcessRequest *req = grpc__wait_process_request__unpack(NULL, len, p);
	Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;

	(void)opaque;
	if (!req) {
		ttrpc_call_error(call, TTRPC_INVALID_ARGUMENT, "bad request");
		return;
	}
	resp.status = (int32_t)strlen(req->container_id) * 10 + (int32_t)strlen(req->exec_id);
	ttrpc_call_reply_msg(call, &resp.base);
	grpc__wait_process_request__free_unpacked(req, NULL);
}

static int closes; /* connections the server closed (atomic) */

static void on_close(int fd, void *opaque)
{
	(void)fd, (void)opaque;
	__atomic_add_fetch(&closes, 1, __ATOMIC_SEQ_CST);
}

static void wait_closes(int n)
{
	for (int i = 0; i < 500 && __atomic_load_n(&closes, __ATOMIC_SEQ_CST) < n; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&closes, __ATOMIC_SEQ_CST), n);
}

static const struct ttrpc_method methods[] = {
        {SVC, "Echo", h_echo},         {SVC, "Error", h_error},
        {SVC, "Deadline", h_deadline}, {SVC, "Hold", h_hold},
        {SVC, "Big", h_big},           {"grpc.AgentService", "WaitProcess", h_wait},
};

struct fixture {
	struct loop *loop;
	struct ttrpc_server *server;
	pthread_t thread;
	char dir[64];
	char path[96];
};

static void *loop_thread(void *arg)
{
	struct fixture *f = arg;
	struct err e;

	assert_int_equal(loop_run(f->loop, &e), 0);
	return NULL;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct err e;
	int fd;

	strcpy(f->dir, "/tmp/hako-test-ttrpc.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		return -1;
	if (loop_new(&f->loop, &e) < 0 ||
	    ttrpc_server_new(&f->server, f->loop, methods, ARRAY_SIZE(methods), NULL, &e) < 0 ||
	    ttrpc_server_listen(f->server, fd, &e) < 0)
		return -1;
	ttrpc_server_on_close(f->server, on_close);
	closes = 0;
	held.n = 0;
	pthread_create(&f->thread, NULL, loop_thread, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct err e;

	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	ttrpc_server_free(f->server);
	loop_free(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	(void)e;
	return 0;
}

static struct ttrpc_client *connect_client(struct fixture *f)
{
	struct ttrpc_client *c;
	struct err e;

	assert_int_equal(ttrpc_client_new(&c, dial(f->path), &e), 0);
	return c;
}

static int echo(struct ttrpc_client *c, const char *s, int timeout_ms, struct err *e)
{
	cleanup_free uint8_t *out = NULL;
	size_t len;
	int r = ttrpc_client_call_raw(c, SVC, "Echo", (const uint8_t *)s, strlen(s), &out, &len,
	                              timeout_ms, e);

	if (r != 0)
		return r;
	assert_int_equal(len, strlen(s));
	assert_memory_equal(out, s, len);
	return 0;
}

static void test_header(void **state)
{
	struct ttrpc_header h = {
	        .length = 0x01020304, .stream_id = 0xa0b0c0d0, .type = 2, .flags = 5};
	struct ttrpc_header d;
	uint8_t b[TTRPC_HEADER_SIZE];
	struct err e;

	(void)state;
	ttrpc_header_encode(&h, b);
	assert_memory_equal(b, "\x01\x02\x03\x04\xa0\xb0\xc0\xd0\x02\x05", TTRPC_HEADER_SIZE);
	assert_int_equal(ttrpc_header_decode(b, 0x7fffffff, &d, &e), 0);
	assert_int_equal(d.length, h.length);
	assert_int_equal(d.stream_id, h.stream_id);
	assert_int_equal(d.type, 2);
	assert_int_equal(d.flags, 5);

	/* Oversize and unknown types are refused, naming why. */
	assert_int_equal(ttrpc_header_decode(b, TTRPC_MAX_MESSAGE_SIZE, &d, &e), -1);
	assert_int_equal(e.errnum, EMSGSIZE);
	assert_non_null(strstr(e.msg, "exceeds"));
	h.length = 3;
	h.type = 7;
	ttrpc_header_encode(&h, b);
	assert_int_equal(ttrpc_header_decode(b, TTRPC_MAX_MESSAGE_SIZE, &d, &e), -1);
	assert_non_null(strstr(e.msg, "unknown frame type 7"));
	assert_string_equal(ttrpc_code_name(TTRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	assert_string_equal(ttrpc_code_name(99), "UNKNOWN");
}

static void test_echo_errors_unimplemented(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	cleanup_free uint8_t *out = NULL;
	size_t len;
	struct err e;

	assert_int_equal(echo(c, "hello", 1000, &e), 0);
	assert_int_equal(echo(c, "", 1000, &e), 0);
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Error", (const uint8_t *)"x", 1, &out, &len,
	                                       1000, &e),
	                 TTRPC_NOT_FOUND);
	assert_string_equal(e.msg, "no such thing: x");
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Nope", NULL, 0, &out, &len, 1000, &e),
	                 TTRPC_UNIMPLEMENTED);
	assert_non_null(strstr(e.msg, "test.Svc/Nope"));
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Big", NULL, 0, &out, &len, 5000, &e),
	                 TTRPC_RESOURCE_EXHAUSTED);
	/* The connection is still good after every error. */
	assert_int_equal(echo(c, "again", 1000, &e), 0);
	ttrpc_client_free(c);
}

static void test_message_call(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	ProtobufCMessage *resp;
	struct err e;

	req.container_id = "abc";
	req.exec_id = "12345";
	assert_int_equal(ttrpc_client_call(c, "grpc.AgentService", "WaitProcess", &req.base,
	                                   &grpc__wait_process_response__descriptor, &resp, 1000,
	                                   &e),
	                 0);
	assert_int_equal(((Grpc__WaitProcessResponse *)resp)->status, 35);
	protobuf_c_message_free_unpacked(resp, NULL);
	ttrpc_client_free(c);
}

static void test_oversize_request_refused(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	size_t n = TTRPC_MAX_MESSAGE_SIZE + 16, len;
	uint8_t *big = calloc(1, n);
	uint8_t *out = NULL;
	struct err e;

	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Echo", big, n, &out, &len, 1000, &e), -1);
	assert_int_equal(e.errnum, EMSGSIZE);
	free(big);
	assert_int_equal(echo(c, "still fine", 1000, &e), 0);
	ttrpc_client_free(c);
}

struct worker {
	struct ttrpc_client *c;
	int id;
	int failures;
};

static void *echo_worker(void *arg)
{
	struct worker *w = arg;
	struct err e;

	for (int i = 0; i < 200; i++) {
		char s[64];

		snprintf(s, sizeof(s), "worker %d call %d", w->id, i);
		if (echo(w->c, s, 5000, &e) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	struct worker w[6];
	pthread_t t[6];

	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){.c = c, .id = i};
		pthread_create(&t[i], NULL, echo_worker, &w[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	ttrpc_client_free(c);
}

struct hold_worker {
	struct ttrpc_client *c;
	char name[16];
	int rc;
	char got[32];
	struct err e;
};

static void *hold_call(void *arg)
{
	struct hold_worker *w = arg;
	uint8_t *out = NULL;
	size_t len = 0;

	w->rc = ttrpc_client_call_raw(w->c, SVC, "Hold", (const uint8_t *)w->name, strlen(w->name),
	                              &out, &len, 0, &w->e);
	if (w->rc == 0)
		snprintf(w->got, sizeof(w->got), "%.*s", (int)len, (const char *)out);
	free(out);
	return NULL;
}

static void wait_held(int n)
{
	pthread_mutex_lock(&held.lock);
	while (held.n < n)
		pthread_cond_wait(&held.cond, &held.lock);
	pthread_mutex_unlock(&held.lock);
}

static void test_deferred_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	struct hold_worker w[4];
	pthread_t t[4];
	struct err e;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct hold_worker){.c = c};
		snprintf(w[i].name, sizeof(w[i].name), "call-%d", i);
		pthread_create(&t[i], NULL, hold_call, &w[i]);
	}
	wait_held(4);
	/* Other calls are served while four wait. */
	assert_int_equal(echo(c, "meanwhile", 1000, &e), 0);
	/* Answer from this thread (not the loop's), last first. */
	for (int i = 3; i >= 0; i--) {
		char reply[40];

		assert_true(ttrpc_call_connected(held.calls[i]));
		snprintf(reply, sizeof(reply), "re:%s", held.payloads[i]);
		ttrpc_call_reply(held.calls[i], (const uint8_t *)reply, strlen(reply));
	}
	for (int i = 0; i < 4; i++) {
		char want[40];

		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, 0);
		snprintf(want, sizeof(want), "re:%s", w[i].name);
		assert_string_equal(w[i].got, want);
	}
	ttrpc_client_free(c);
}

static void test_deadline_and_timeout(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	cleanup_free uint8_t *out = NULL;
	unsigned long long t0;
	uint64_t left;
	size_t len;
	struct err e;

	/* timeout_nano reaches the handler as a deadline. */
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Deadline", NULL, 0, &out, &len, 3000, &e),
	                 0);
	assert_int_equal(len, sizeof(left));
	memcpy(&left, out, sizeof(left));
	assert_true(left > 2000000000ull && left <= 3000000000ull);
	free(steal_ptr(out));
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Deadline", NULL, 0, &out, &len, 0, &e), 0);
	memcpy(&left, out, sizeof(left));
	assert_int_equal(left, 0);
	free(steal_ptr(out));

	/* A call nobody answers times out; the late answer is dropped. */
	t0 = util_now_ns();
	assert_int_equal(ttrpc_client_call_raw(c, SVC, "Hold", (const uint8_t *)"late", 4, &out,
	                                       &len, 100, &e),
	                 -1);
	assert_int_equal(e.errnum, ETIMEDOUT);
	assert_non_null(strstr(e.msg, "test.Svc/Hold"));
	assert_true(util_now_ns() - t0 >= 100000000ull);
	assert_true(util_now_ns() - t0 < 2000000000ull);
	wait_held(1);
	ttrpc_call_reply(held.calls[0], (const uint8_t *)"too late", 8);
	assert_int_equal(echo(c, "after timeout", 1000, &e), 0);
	ttrpc_client_free(c);
}

static void start_server(struct fixture *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct err e;

	unlink(f->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(
	        ttrpc_server_new(&f->server, f->loop, methods, ARRAY_SIZE(methods), NULL, &e), 0);
	assert_int_equal(ttrpc_server_listen(f->server, lfd, &e), 0);
	pthread_create(&f->thread, NULL, loop_thread, f);
}

static void test_server_gone_with_deferred_call(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	struct hold_worker w = {.c = c, .name = "orphan"};
	pthread_t t;
	struct err e;

	pthread_create(&t, NULL, hold_call, &w);
	wait_held(1);
	/* The server goes away under a waiting caller: the caller wakes. */
	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	ttrpc_server_free(f->server);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, -1);
	assert_non_null(strstr(w.e.msg, "connection lost"));
	/* Later calls fail at once, naming the cause. */
	assert_int_equal(echo(c, "x", 1000, &e), -1);
	assert_non_null(strstr(e.msg, "connection lost"));
	ttrpc_client_free(c);
	/* The deferred call outlives its server; answering it is harmless. */
	assert_false(ttrpc_call_connected(held.calls[0]));
	ttrpc_call_reply(held.calls[0], (const uint8_t *)"void", 4);
	start_server(f);
}

static void test_client_shutdown(void **state)
{
	struct fixture *f = *state;
	struct ttrpc_client *c = connect_client(f);
	struct hold_worker w = {.c = c, .name = "stuck"};
	pthread_t t;
	struct err e;

	pthread_create(&t, NULL, hold_call, &w);
	wait_held(1);
	/* A caller without deadline wakes; the client is not yet freed. */
	ttrpc_client_shutdown(c);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, -1);
	assert_int_equal(w.e.errnum, ECONNRESET);
	assert_non_null(strstr(w.e.msg, "client closed"));
	/* Later calls fail at once. */
	assert_int_equal(echo(c, "x", 1000, &e), -1);
	assert_int_equal(e.errnum, ECONNRESET);
	ttrpc_client_free(c);
	ttrpc_call_reply(held.calls[0], (const uint8_t *)"void", 4);
}

/* A fake server that reads n request frames, then hangs up. */
struct fake_server {
	int fd;
	int n;
};

static void *fake_server(void *arg)
{
	struct fake_server *fs = arg;

	for (int i = 0; i < fs->n; i++) {
		uint8_t hb[TTRPC_HEADER_SIZE], buf[4096];
		struct ttrpc_header h;
		struct err e;

		assert_int_equal(util_read_all(fs->fd, hb, sizeof(hb)), sizeof(hb));
		assert_int_equal(ttrpc_header_decode(hb, sizeof(buf), &h, &e), 0);
		assert_int_equal(h.type, TTRPC_TYPE_REQUEST);
		assert_int_equal(h.stream_id % 2, 1);
		assert_int_equal(util_read_all(fs->fd, buf, h.length), h.length);
	}
	close(fs->fd);
	return NULL;
}

static void test_peer_closes_mid_call(void **state)
{
	struct hold_worker w[3];
	struct fake_server fs = {.n = 3};
	struct ttrpc_client *c;
	pthread_t t[3], st;
	int sv[2];
	struct err e;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fs.fd = sv[1];
	assert_int_equal(ttrpc_client_new(&c, sv[0], &e), 0);
	pthread_create(&st, NULL, fake_server, &fs);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct hold_worker){.c = c};
		snprintf(w[i].name, sizeof(w[i].name), "w%d", i);
		pthread_create(&t[i], NULL, hold_call, &w[i]);
	}
	/* Every waiter (no timeout) wakes with an error when the peer leaves. */
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, -1);
		assert_non_null(strstr(w[i].e.msg, "connection lost"));
	}
	pthread_join(st, NULL);
	ttrpc_client_free(c);
}

/* A fake server that answers the first request with canned frames. */
struct scripted_server {
	int fd;
	const uint8_t *reply;
	size_t len;
};

static void *scripted_server(void *arg)
{
	struct scripted_server *ss = arg;
	uint8_t hb[TTRPC_HEADER_SIZE], buf[4096];
	struct ttrpc_header h;
	struct err e;

	assert_int_equal(util_read_all(ss->fd, hb, sizeof(hb)), sizeof(hb));
	assert_int_equal(ttrpc_header_decode(hb, sizeof(buf), &h, &e), 0);
	assert_int_equal(util_read_all(ss->fd, buf, h.length), h.length);
	assert_int_equal(util_write_all(ss->fd, ss->reply, ss->len), (ssize_t)ss->len);
	/* Hold the connection open until the client goes: only the bad
	 * frame may end it. */
	while (read(ss->fd, buf, sizeof(buf)) > 0)
		;
	close(ss->fd);
	return NULL;
}

static int call_scripted(const uint8_t *reply, size_t len, uint8_t **out, size_t *out_len,
                         struct err *e)
{
	struct scripted_server ss = {.reply = reply, .len = len};
	struct ttrpc_client *c;
	pthread_t t;
	int sv[2], r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ss.fd = sv[1];
	assert_int_equal(ttrpc_client_new(&c, sv[0], e), 0);
	pthread_create(&t, NULL, scripted_server, &ss);
	r = ttrpc_client_call_raw(c, SVC, "Echo", (const uint8_t *)"q", 1, out, out_len, 5000, e);
	ttrpc_client_free(c);
	pthread_join(t, NULL);
	return r;
}

static size_t response_frame(uint8_t *out, uint32_t stream_id, const char *payload)
{
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	struct ttrpc_header h = {.stream_id = stream_id, .type = TTRPC_TYPE_RESPONSE};

	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = strlen(payload);
	h.length = (uint32_t)protobuf_c_message_pack(&resp.base, out + TTRPC_HEADER_SIZE);
	ttrpc_header_encode(&h, out);
	return TTRPC_HEADER_SIZE + h.length;
}

static void test_client_bad_frames(void **state)
{
	uint8_t frames[256], *out = NULL;
	struct ttrpc_header h = {
	        .length = TTRPC_MAX_MESSAGE_SIZE + 1, .stream_id = 1, .type = TTRPC_TYPE_RESPONSE};
	size_t n, len;
	struct err e;

	(void)state;
	/* An answer for a stream nobody waits on is dropped; ours arrives. */
	n = response_frame(frames, 99, "stray");
	n += response_frame(frames + n, 1, "mine");
	assert_int_equal(call_scripted(frames, n, &out, &len, &e), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "mine", 4);
	free(out);

	/* Oversize and request frames from the server end the connection. */
	ttrpc_header_encode(&h, frames);
	assert_int_equal(call_scripted(frames, TTRPC_HEADER_SIZE, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "connection lost: frame of 4194305 bytes exceeds"));
	h = (struct ttrpc_header){.length = 0, .stream_id = 1, .type = TTRPC_TYPE_REQUEST};
	ttrpc_header_encode(&h, frames);
	assert_int_equal(call_scripted(frames, TTRPC_HEADER_SIZE, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "frame type 1 from the server"));
	/* An undecodable Response fails the call, not silently. */
	h = (struct ttrpc_header){.length = 3, .stream_id = 1, .type = TTRPC_TYPE_RESPONSE};
	ttrpc_header_encode(&h, frames);
	memset(frames + TTRPC_HEADER_SIZE, 0xff, 3);
	assert_int_equal(call_scripted(frames, TTRPC_HEADER_SIZE + 3, &out, &len, &e), -1);
	assert_non_null(strstr(e.msg, "undecodable response"));
}

/* Send raw bytes to the server; true if it then closed the connection. */
static bool server_hangs_up_on(struct fixture *f, const void *bytes, size_t len)
{
	struct timeval tv = {.tv_sec = 5};
	char buf[256];
	int fd = dial(f->path);
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == 0;
}

static void test_garbage_closes_connection(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[64] = {0};
	struct ttrpc_header h = {.length = 4, .stream_id = 1, .type = 9};
	struct ttrpc_client *c;
	struct err e;
	int fd;

	/* Unknown frame type. */
	ttrpc_header_encode(&h, frame);
	assert_true(server_hangs_up_on(f, frame, TTRPC_HEADER_SIZE + 4));
	/* Oversize length. */
	h = (struct ttrpc_header){
	        .length = TTRPC_MAX_MESSAGE_SIZE + 1, .stream_id = 1, .type = TTRPC_TYPE_REQUEST};
	ttrpc_header_encode(&h, frame);
	assert_true(server_hangs_up_on(f, frame, TTRPC_HEADER_SIZE));
	/* A response sent to the server. */
	h = (struct ttrpc_header){.length = 0, .stream_id = 1, .type = TTRPC_TYPE_RESPONSE};
	ttrpc_header_encode(&h, frame);
	assert_true(server_hangs_up_on(f, frame, TTRPC_HEADER_SIZE));
	/* Even stream id. */
	h = (struct ttrpc_header){.length = 0, .stream_id = 2, .type = TTRPC_TYPE_REQUEST};
	ttrpc_header_encode(&h, frame);
	assert_true(server_hangs_up_on(f, frame, TTRPC_HEADER_SIZE));
	/* A payload that is not a Request. */
	h = (struct ttrpc_header){.length = 8, .stream_id = 1, .type = TTRPC_TYPE_REQUEST};
	ttrpc_header_encode(&h, frame);
	memset(frame + TTRPC_HEADER_SIZE, 0xff, 8);
	assert_true(server_hangs_up_on(f, frame, TTRPC_HEADER_SIZE + 8));
	/* Truncated header, then truncated payload: the peer leaves mid-frame. */
	fd = dial(f->path);
	assert_int_equal(write(fd, frame, 5), 5);
	close(fd);
	fd = dial(f->path);
	assert_int_equal(write(fd, frame, TTRPC_HEADER_SIZE + 3), TTRPC_HEADER_SIZE + 3);
	close(fd);

	wait_closes(7);

	/* The server survives all of it and serves the next client. */
	c = connect_client(f);
	assert_int_equal(echo(c, "survived", 1000, &e), 0);
	ttrpc_client_free(c);
}

static void test_frames_split_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	uint8_t frame[128], hb[TTRPC_HEADER_SIZE], buf[128];
	struct ttrpc_header h = {.stream_id = 7, .type = TTRPC_TYPE_REQUEST};
	Ttrpc__Response *resp;
	struct err e;
	int fd = dial(f->path);

	req.service = SVC;
	req.method = "Echo";
	req.payload.data = (uint8_t *)"split";
	req.payload.len = 5;
	h.length = (uint32_t)protobuf_c_message_pack(&req.base, frame + TTRPC_HEADER_SIZE);
	ttrpc_header_encode(&h, frame);
	for (size_t i = 0; i < TTRPC_HEADER_SIZE + h.length; i++) {
		assert_int_equal(write(fd, frame + i, 1), 1);
		usleep(200);
	}
	assert_int_equal(util_read_all(fd, hb, sizeof(hb)), sizeof(hb));
	assert_int_equal(ttrpc_header_decode(hb, sizeof(buf), &h, &e), 0);
	assert_int_equal(h.stream_id, 7);
	assert_int_equal(h.type, TTRPC_TYPE_RESPONSE);
	assert_int_equal(util_read_all(fd, buf, h.length), h.length);
	resp = ttrpc__response__unpack(NULL, h.length, buf);
	assert_non_null(resp);
	assert_int_equal(resp->status ? resp->status->code : 0, 0);
	assert_memory_equal(resp->payload.data, "split", 5);
	ttrpc__response__free_unpacked(resp, NULL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_header),
	        cmocka_unit_test(test_peer_closes_mid_call),
	        cmocka_unit_test(test_client_bad_frames),
	        cmocka_unit_test_setup_teardown(test_echo_errors_unimplemented, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_message_call, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_oversize_request_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_calls, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deferred_out_of_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deadline_and_timeout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_server_gone_with_deferred_call, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_client_shutdown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_garbage_closes_connection, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_frames_split_byte_by_byte, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
