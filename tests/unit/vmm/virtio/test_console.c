/* Unit tests for vmm/virtio/console.c: input from a pipe to the receive
 * queue, the transmit queue to a pipe, and an echo through both. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/unit/vmm/virtio/vdriver.h"

#define RXQ  0
#define TXQ  1
#define F_V1 ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC))

struct fixture {
	struct vdriver v;
	int in[2], out[2]; /* host writes in[1]; host reads out[0] */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *d;
	struct err e;

	assert_non_null(f);
	assert_int_equal(pipe2(f->in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->out, O_CLOEXEC | O_NONBLOCK), 0);
	vd_init(&f->v, 1 << 20);
	if (virtio_console_new(&d, f->in[0], f->out[1], &e) < 0)
		fail_msg("virtio_console_new: %s", e.msg);
	vd_attach(&f->v, d);
	vd_start(&f->v, F_V1, 2, 16);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_fini(&f->v);
	for (int i = 0; i < 2; i++)
		close(f->in[i]), close(f->out[i]);
	free(f);
	return 0;
}

static void test_input(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint64_t b1 = vd_alloc(v, 4, 1), b2 = vd_alloc(v, 64, 1);
	uint32_t len;

	/* Input before any buffer waits for one. */
	assert_int_equal(write(f->in[1], "hello world", 11), 11);
	vd_run(v, 20);
	vd_add(v, RXQ, (struct vd_buf[]){{b1, 4, true}}, 1, false);
	vd_add(v, RXQ, (struct vd_buf[]){{b2, 64, true}}, 1, false);
	vd_kick(v, RXQ);
	assert_int_equal(vd_wait_used(v, RXQ, NULL, &len, 2000), 1);
	assert_int_equal(len, 4);
	assert_memory_equal(vd_ptr(v, b1), "hell", 4);
	assert_int_equal(vd_wait_used(v, RXQ, NULL, &len, 2000), 1);
	assert_int_equal(len, 7);
	assert_memory_equal(vd_ptr(v, b2), "o world", 7);
}

/* The guest echoes what it reads; the host sees its bytes come back. */
static void test_echo(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint64_t rx = vd_alloc(v, 128, 1);
	uint32_t len;
	char buf[64];
	ssize_t r = -1;

	vd_add(v, RXQ, (struct vd_buf[]){{rx, 128, true}}, 1, false);
	vd_kick(v, RXQ);
	assert_int_equal(write(f->in[1], "ping\n", 5), 5);
	assert_int_equal(vd_wait_used(v, RXQ, NULL, &len, 2000), 1);
	assert_int_equal(len, 5);
	vd_add(v, TXQ, (struct vd_buf[]){{rx, 2, false}, {rx + 2, 3, false}}, 2, true);
	vd_kick(v, TXQ);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, &len, 2000), 1);
	assert_int_equal(len, 0);
	for (int i = 0; i < 100 && r < 0; i++, vd_run(v, 5))
		r = read(f->out[0], buf, sizeof(buf));
	assert_int_equal(r, 5);
	assert_memory_equal(buf, "ping\n", 5);
}

/* A full out_fd parks the chain until the host reads. */
static void test_output_backpressure(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	size_t big = 1 << 20, got = 0;
	uint64_t tx = vd_alloc(v, big / 2, 1);
	static char buf[65536];
	ssize_t r;

	memset(vd_ptr(v, tx), 'x', big / 2);
	vd_add(v, TXQ, (struct vd_buf[]){{tx, big / 2, false}}, 1, false);
	vd_kick(v, TXQ);
	vd_run(v, 20);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, NULL, 10), 0); /* 64 KiB pipe is full */
	while (got < big / 2) {
		r = read(f->out[0], buf, sizeof(buf));
		if (r > 0)
			got += r;
		vd_run(v, 1);
	}
	assert_int_equal(got, big / 2);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, NULL, 2000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_input, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_output_backpressure, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
