/* tests/fuzz/fuzz_ttrpc.c: libFuzzer target for the ttrpc server's input
 * path. Each input is written into a fresh connection of a real server
 * (frame reassembly, header checks, Request decoding, dispatch, replies,
 * deferred calls), then the peer hangs up; the server must neither crash
 * nor leak, and must close the connection. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ttrpc.h"
#include "lib/util.h"

static struct loop *loop;
static struct ttrpc_server *server;
static struct ttrpc_call *held[64];
static size_t nr_held;

static void h_echo(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)opaque;
	ttrpc_call_reply(call, p, len);
}

static void h_error(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)opaque;
	ttrpc_call_error(call, TTRPC_NOT_FOUND, "%.*s", (int)len, (const char *)p);
}

/* Answered later, after the connection is gone: exercises detached calls. */
static void h_defer(struct ttrpc_call *call, const uint8_t *p, size_t len, void *opaque)
{
	(void)p, (void)len, (void)opaque;
	if (nr_held == ARRAY_SIZE(held)) {
		ttrpc_call_error(call, TTRPC_RESOURCE_EXHAUSTED, "too many held calls");
		return;
	}
	held[nr_held++] = call;
}

static const struct ttrpc_method methods[] = {
        {"f", "Echo", h_echo},
        {"f", "Error", h_error},
        {"f", "Defer", h_defer},
};

static void init(void)
{
	struct err e;

	log_set_level(LOG_ERROR);
	if (loop_new(&loop, &e) < 0 ||
	    ttrpc_server_new(&server, loop, methods, ARRAY_SIZE(methods), NULL, &e) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sink[65536];
	struct err e;
	int sv[2], rounds = 0, wait_ms = 0;
	size_t off = 0;

	if (!loop)
		init();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (ttrpc_server_serve_fd(server, sv[0], &e) < 0)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	/* Feed the input while the server reads and answers; drain answers. */
	for (;;) {
		ssize_t n;

		if (off < size) {
			n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (size == 0 && rounds == 0) {
			shutdown(sv[1], SHUT_WR);
		}
		if (loop_run_once(loop, wait_ms, &e) < 0)
			abort();
		n = read(sv[1], sink, sizeof(sink));
		if (n == 0)
			break; /* the server closed the connection */
		/* Nothing to read yet: let the loop wait for the server's turn. */
		wait_ms = n < 0 ? 10 : 0;
		if (++rounds > 100000)
			abort(); /* the server never let go of the connection */
	}
	close(sv[1]);
	while (nr_held)
		ttrpc_call_reply(held[--nr_held], (const uint8_t *)"late", 4);
	return 0;
}
