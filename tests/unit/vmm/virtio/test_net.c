/* Unit tests for vmm/virtio/net.c: frames to and from a SOCK_SEQPACKET
 * socket standing in for the tap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/unit/vmm/virtio/vdriver.h"

#define F_ALL                                                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX) |                        \
	 (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << 5))
#define RXQ 0
#define TXQ 1

struct fixture {
	struct vdriver v;
	int peer; /* the host side of the "tap" */
};

static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x12, 0x34, 0x56};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct virtio_dev *d;
	struct err e;
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	vd_init(&f->v, 4 << 20);
	if (virtio_net_new(&d, sv[0], mac, &e) < 0)
		fail_msg("virtio_net_new: %s", e.msg);
	close(sv[0]); /* the device holds its own copy */
	f->peer = sv[1];
	vd_attach(&f->v, d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_fini(&f->v);
	close(f->peer);
	free(f);
	return 0;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_config(void **state)
{
	struct fixture *f = *state;
	uint8_t got[6];

	assert_true(vd_read32(&f->v, 0x10) & (1u << 5));
	virtio_mmio_read(&f->v.mmio, 0x100, got, 6);
	assert_memory_equal(got, mac, 6);
	assert_int_equal(vd_read32(&f->v, 0x8), VIRTIO_ID_NET);
}

static void test_tx(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint64_t hdr = vd_alloc(v, 12, 2), frame = vd_alloc(v, 1514, 2);
	uint8_t got[2000], expect[1514];

	vd_start(v, F_ALL, 2, 64);
	fill(vd_ptr(v, frame), 1514, 1);
	fill(expect, 1514, 1);
	/* Header and frame in separate descriptors. */
	vd_add(v, TXQ, (struct vd_buf[]){{hdr, 12, false}, {frame, 60, false}}, 2, false);
	vd_kick(v, TXQ);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, NULL, 2000), 1);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), 60);
	assert_memory_equal(got, expect, 60);
	/* One descriptor holding both, as Linux sends with VERSION_1. */
	memcpy(vd_ptr(v, frame), vd_ptr(v, hdr), 12);
	fill((uint8_t *)vd_ptr(v, frame) + 12, 1502, 1);
	vd_add(v, TXQ, (struct vd_buf[]){{frame, 1514, false}}, 1, false);
	vd_kick(v, TXQ);
	assert_int_equal(vd_wait_used(v, TXQ, NULL, NULL, 2000), 1);
	assert_int_equal(recv(f->peer, got, sizeof(got), MSG_DONTWAIT), 1502);
	assert_memory_equal(got, expect, 1502);
}

static bool used_moved(void *arg)
{
	struct vdriver *v = arg;
	uint16_t *used = vd_ptr(v, v->q[RXQ].used);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != v->q[RXQ].used_seen;
}

static void test_rx(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint64_t buf[3];
	uint8_t frame[1000];
	uint32_t id, len;
	uint16_t heads[3];
	struct err e;

	vd_start(v, F_ALL, 2, 64);
	/* No rx buffers: the frame waits and the tap is not watched meanwhile. */
	fill(frame, sizeof(frame), 9);
	assert_int_equal(send(f->peer, frame, 1000, 0), 1000);
	assert_int_equal(send(f->peer, frame, 100, 0), 100);
	vd_run(v, 20);
	assert_int_equal(loop_run_once(v->loop, 20, &e), 0);
	/* A buffer too small for the 1000-byte frame comes back empty. */
	buf[0] = vd_alloc(v, 500, 8);
	buf[1] = vd_alloc(v, 1526, 8);
	buf[2] = vd_alloc(v, 1526, 8);
	heads[0] = vd_add(v, RXQ, (struct vd_buf[]){{buf[0], 500, true}}, 1, false);
	heads[1] = vd_add(v, RXQ, (struct vd_buf[]){{buf[1], 12, true}, {buf[1] + 12, 1514, true}},
	                  2, false);
	heads[2] = vd_add(v, RXQ, (struct vd_buf[]){{buf[2], 1526, true}}, 1, true);
	vd_kick(v, RXQ);
	assert_int_equal(vd_wait_used(v, RXQ, &id, &len, 2000), 1);
	assert_int_equal(id, heads[0]);
	assert_int_equal(len, 0);
	assert_int_equal(vd_wait_used(v, RXQ, &id, &len, 2000), 1);
	assert_int_equal(id, heads[1]);
	assert_int_equal(len, 1012);
	{
		uint8_t *p = vd_ptr(v, buf[1]);
		uint16_t num_buffers;

		memcpy(&num_buffers, p + 10, 2);
		assert_int_equal(num_buffers, 1);
		assert_int_equal(p[0], 0);
		assert_memory_equal(p + 12, frame, 1000);
	}
	assert_int_equal(vd_wait_used(v, RXQ, &id, &len, 2000), 1);
	assert_int_equal(id, heads[2]);
	assert_int_equal(len, 112);
	assert_memory_equal((uint8_t *)vd_ptr(v, buf[2]) + 12, frame, 100);
	/* A frame that arrives while buffers wait is delivered at once. */
	buf[0] = vd_alloc(v, 1526, 8);
	vd_add(v, RXQ, (struct vd_buf[]){{buf[0], 1526, true}}, 1, false);
	vd_kick(v, RXQ);
	vd_run(v, 10);
	assert_false(used_moved(v));
	assert_int_equal(send(f->peer, frame, 64, 0), 64);
	assert_true(vd_run_until(v, used_moved, v, 2000));
	assert_int_equal(vd_wait_used(v, RXQ, NULL, &len, 10), 1);
	assert_int_equal(len, 76);
	assert_true(v->irqs > 0);
}

/* Frames queued by the host before a reset are dropped with the reset. */
static void test_reset_drops(void **state)
{
	struct fixture *f = *state;
	struct vdriver *v = &f->v;
	uint8_t frame[64] = {1};
	uint64_t buf;
	uint32_t len;

	vd_start(v, F_ALL, 2, 16);
	assert_int_equal(send(f->peer, frame, 64, 0), 64);
	vd_run(v, 10);
	vd_start(v, F_ALL, 2, 16);
	buf = vd_alloc(v, 1526, 8);
	vd_add(v, RXQ, (struct vd_buf[]){{buf, 1526, true}}, 1, false);
	vd_kick(v, RXQ);
	/* The frame read before the reset is gone; a new one arrives fine. */
	vd_run(v, 10);
	assert_int_equal(send(f->peer, frame, 30, 0), 30);
	assert_int_equal(vd_wait_used(v, RXQ, NULL, &len, 2000), 1);
	assert_int_equal(len, 12 + 30);
	assert_false(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reset_drops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
