/* Unit tests for vmm/virtio/mmio.c and dev.c: the register file, feature
 * negotiation, queue setup checks, reset, interrupts, ioeventfd, cmdline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/unit/vmm/virtio/vdriver.h"

#define F_V1       (1ULL << VIRTIO_F_VERSION_1)
#define F_INDIRECT (1ULL << VIRTIO_F_RING_INDIRECT_DESC)

static void test_identity(void **state)
{
	struct vdriver v;
	struct vd_echo *x;
	uint8_t cfg[16];
	uint16_t half;

	(void)state;
	vd_init(&v, 1 << 20);
	x = vd_echo_new(F_INDIRECT | 1);
	vd_attach(&v, &x->dev);
	assert_int_equal(vd_read32(&v, 0x000), 0x74726976);
	assert_int_equal(vd_read32(&v, 0x004), 2);
	assert_int_equal(vd_read32(&v, 0x008), 0x4242);
	assert_int_not_equal(vd_read32(&v, 0x00c), 0);
	vd_write32(&v, 0x14, 0);
	assert_int_equal(vd_read32(&v, 0x10), F_INDIRECT | 1);
	vd_write32(&v, 0x14, 1);
	assert_int_equal(vd_read32(&v, 0x10), 1); /* VERSION_1 is bit 32 */
	vd_write32(&v, 0x14, 2);
	assert_int_equal(vd_read32(&v, 0x10), 0);
	/* Queues: 2 exist, the third has QueueNumMax 0. */
	vd_write32(&v, 0x30, 1);
	assert_int_equal(vd_read32(&v, 0x34), VIRTQ_MAX_SIZE);
	vd_write32(&v, 0x30, 2);
	assert_int_equal(vd_read32(&v, 0x34), 0);
	/* Config space: any width, past its end reads 0. */
	virtio_mmio_read(&v.mmio, 0x100, cfg, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(cfg[i], i);
	virtio_mmio_read(&v.mmio, 0x10e, &half, 2);
	assert_int_equal(half, 0x0f0e);
	virtio_mmio_read(&v.mmio, 0x10f, &half, 2);
	assert_int_equal(half, 0x0f);
	half = 0xabcd;
	virtio_mmio_write(&v.mmio, 0x102, &half, 2);
	assert_int_equal(x->config[2], 0xcd);
	/* Shared memory regions: none (length ~0). */
	vd_write32(&v, 0xac, 0);
	assert_int_equal(vd_read32(&v, 0xb0), 0xffffffff);
	assert_int_equal(vd_read32(&v, 0xb4), 0xffffffff);
	vd_fini(&v);
}

static void test_bad_accesses(void **state)
{
	struct vdriver v;
	struct vd_echo *x;
	uint32_t val = 0x12345678;
	uint8_t byte = 0xff;

	(void)state;
	vd_init(&v, 1 << 20);
	x = vd_echo_new(0);
	vd_attach(&v, &x->dev);
	/* Unknown, unaligned, narrow and out-of-range accesses are ignored. */
	assert_int_equal(vd_read32(&v, 0x018), 0);
	assert_int_equal(vd_read32(&v, 0x050), 0); /* QueueNotify is write-only */
	virtio_mmio_read(&v.mmio, 0x001, &val, 4);
	assert_int_equal(val, 0);
	virtio_mmio_read(&v.mmio, 0x000, &byte, 1);
	assert_int_equal(byte, 0);
	val = 0x12345678;
	virtio_mmio_read(&v.mmio, 0x1fe, &val, 4);
	assert_int_equal(val, 0);
	vd_write32(&v, 0x000, 1);
	vd_write32(&v, 0x0f0, 1);
	virtio_mmio_write(&v.mmio, 0x1fe, &val, 4);
	virtio_mmio_write(&v.mmio, 0x071, &byte, 1);
	assert_int_equal(vd_read32(&v, 0x070), 0);
	/* Queue writes for a queue that does not exist. */
	vd_write32(&v, 0x30, 7);
	vd_write32(&v, 0x38, 16);
	vd_write32(&v, 0x44, 1);
	assert_int_equal(vd_read32(&v, 0x44), 0);
	vd_write32(&v, 0x50, 7);
	vd_write32(&v, 0x50, 1000);
	vd_run(&v, 10);
	assert_int_equal(x->notifies, 0);
	vd_fini(&v);
}

static void test_features(void **state)
{
	struct vdriver v;
	struct vd_echo *x;

	(void)state;
	vd_init(&v, 1 << 20);
	x = vd_echo_new(F_INDIRECT);
	vd_attach(&v, &x->dev);
	/* Without VERSION_1 (a legacy driver) FEATURES_OK does not stick. */
	assert_false(vd_negotiate(&v, F_INDIRECT) & VIRTIO_STATUS_FEATURES_OK);
	/* Nor with a feature we did not offer. */
	assert_false(vd_negotiate(&v, F_V1 | (1ULL << 5)) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(vd_negotiate(&v, F_V1 | F_INDIRECT) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(virtio_dev_has_feature(&x->dev, VIRTIO_F_RING_INDIRECT_DESC));
	/* Features are frozen after FEATURES_OK. */
	vd_write32(&v, 0x24, 0);
	vd_write32(&v, 0x20, 0);
	assert_true(virtio_dev_has_feature(&x->dev, VIRTIO_F_RING_INDIRECT_DESC));
	/* Before DRIVER, feature writes are ignored. */
	vd_write32(&v, 0x70, 0);
	vd_write32(&v, 0x20, F_INDIRECT);
	assert_false(virtio_dev_has_feature(&x->dev, VIRTIO_F_RING_INDIRECT_DESC));
	vd_fini(&v);
}

static void test_queue_setup_checks(void **state)
{
	struct vdriver v;
	struct vd_echo *x;

	(void)state;
	vd_init(&v, 1 << 20);
	x = vd_echo_new(0);
	vd_attach(&v, &x->dev);
	vd_negotiate(&v, F_V1);
	/* Size not a power of two. */
	vd_write32(&v, 0x30, 0);
	vd_write32(&v, 0x38, 12);
	vd_write32(&v, 0x80, VD_GPA_BASE);
	vd_write32(&v, 0x90, VD_GPA_BASE + 0x1000);
	vd_write32(&v, 0xa0, VD_GPA_BASE + 0x2000);
	vd_write32(&v, 0x44, 1);
	assert_int_equal(vd_read32(&v, 0x44), 0);
	assert_true(vd_read32(&v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Rings outside guest memory. */
	vd_negotiate(&v, F_V1);
	vd_write32(&v, 0x38, 16);
	vd_write32(&v, 0x80, VD_GPA_BASE);
	vd_write32(&v, 0x90, VD_GPA_BASE + 0x1000);
	vd_write32(&v, 0xa0, 0x1000);
	vd_write32(&v, 0x44, 1);
	assert_int_equal(vd_read32(&v, 0x44), 0);
	assert_true(vd_read32(&v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Misaligned descriptor table. */
	vd_negotiate(&v, F_V1);
	vd_write32(&v, 0x38, 16);
	vd_write32(&v, 0x80, VD_GPA_BASE + 8);
	vd_write32(&v, 0x90, VD_GPA_BASE + 0x1000);
	vd_write32(&v, 0xa0, VD_GPA_BASE + 0x2000);
	vd_write32(&v, 0x44, 1);
	assert_int_equal(vd_read32(&v, 0x44), 0);
	/* A good setup; addresses cannot change while ready. */
	vd_negotiate(&v, F_V1);
	vd_setup_queue(&v, 0, 16);
	vd_write32(&v, 0x80, VD_GPA_BASE + 0x100);
	assert_int_equal(x->dev.vq[0].desc_gpa, v.q[0].desc);
	assert_false(vd_read32(&v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	vd_fini(&v);
}

static void test_reset_and_interrupts(void **state)
{
	struct vdriver v;
	struct vd_echo *x;
	uint64_t in, out;

	(void)state;
	vd_init(&v, 1 << 20);
	x = vd_echo_new(0);
	vd_attach(&v, &x->dev);
	vd_start(&v, F_V1, 2, 8);
	assert_int_equal(x->activations, 1);
	in = vd_alloc(&v, 4, 4), out = vd_alloc(&v, 4, 4);
	{
		struct vd_buf b[2] = {{in, 4, false}, {out, 4, true}};

		vd_add(&v, 0, b, 2, false);
	}
	vd_kick(&v, 0);
	assert_int_equal(vd_wait_used(&v, 0, NULL, NULL, 2000), 1);
	assert_int_equal(v.irqs, 1);
	assert_int_equal(vd_read32(&v, 0x60), 1);
	vd_write32(&v, 0x64, 1);
	assert_int_equal(vd_read32(&v, 0x60), 0);
	/* A config change: generation moves, interrupt bit 1. */
	assert_int_equal(vd_read32(&v, 0xfc), 0);
	virtio_dev_notify_config(&x->dev);
	assert_int_equal(vd_read32(&v, 0xfc), 1);
	assert_int_equal(vd_read32(&v, 0x60), 2);
	assert_int_equal(v.irqs, 2);
	/* Reset: status 0, queues gone, the device told on the loop. */
	vd_write32(&v, 0x70, 0);
	assert_int_equal(vd_read32(&v, 0x70), 0);
	assert_int_equal(vd_read32(&v, 0x60), 0);
	vd_write32(&v, 0x30, 0);
	assert_int_equal(vd_read32(&v, 0x44), 0);
	vd_run(&v, 10);
	assert_int_equal(x->resets, 1);
	assert_false(v.mmio.active);
	/* A kick now reaches nobody. */
	x->notifies = 0;
	vd_kick(&v, 0);
	vd_run(&v, 10);
	assert_int_equal(x->notifies, 0);
	/* And the device comes back. */
	vd_start(&v, F_V1, 2, 8);
	assert_int_equal(x->activations, 2);
	/* Taking an active device off the bus resets it. */
	virtio_mmio_destroy(&v.mmio);
	assert_int_equal(x->resets, 2);
	virtio_dev_free(&x->dev);
	v.dev = NULL;
	vd_fini(&v);
}

struct iofd {
	int calls;
	uint64_t gpa[VIRTIO_MAX_QUEUES];
	uint32_t value[VIRTIO_MAX_QUEUES];
	int fd[VIRTIO_MAX_QUEUES];
};

static int fake_ioeventfd(void *ctx, uint64_t gpa, uint32_t value, int fd, struct err *e)
{
	struct vdriver *v = ctx;
	struct iofd *r = (struct iofd *)v->ram;

	(void)e;
	r->gpa[r->calls] = gpa;
	r->value[r->calls] = value;
	r->fd[r->calls] = fd;
	r->calls++;
	return 0;
}

/* With an ioeventfd the guest's QueueNotify write never reaches us: the
 * kernel signals the eventfd, which is what we do by hand here. */
static void test_ioeventfd(void **state)
{
	struct vdriver v;
	struct vd_echo *x;
	struct iofd *r;
	uint64_t one = 1, in, out;
	char line[64];

	(void)state;
	vd_init(&v, 1 << 20);
	r = (struct iofd *)v.ram; /* scratch space in the first, unused page */
	v.host.ioeventfd = fake_ioeventfd;
	x = vd_echo_new(0);
	vd_attach(&v, &x->dev);
	assert_int_equal(r->calls, 2);
	assert_int_equal(r->gpa[0], VD_MMIO + 0x50);
	assert_int_equal(r->value[1], 1);
	vd_start(&v, F_V1, 2, 8);
	in = vd_alloc(&v, 4, 4), out = vd_alloc(&v, 4, 4);
	{
		struct vd_buf b[2] = {{in, 4, false}, {out, 4, true}};

		vd_add(&v, 1, b, 2, false);
	}
	assert_int_equal(write(r->fd[1], &one, 8), 8);
	assert_int_equal(vd_wait_used(&v, 1, NULL, NULL, 2000), 1);
	assert_int_equal(virtio_mmio_cmdline(&v.mmio, line, sizeof(line)), 35);
	assert_string_equal(line, "virtio_mmio.device=512@0xd0000000:5");
	assert_int_equal(virtio_mmio_cmdline(&v.mmio, line, 10), -1);
	vd_fini(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_identity),
	        cmocka_unit_test(test_bad_accesses),
	        cmocka_unit_test(test_features),
	        cmocka_unit_test(test_queue_setup_checks),
	        cmocka_unit_test(test_reset_and_interrupts),
	        cmocka_unit_test(test_ioeventfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
