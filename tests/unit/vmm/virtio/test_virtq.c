/* Unit tests for vmm/virtio/virtq.c: chains direct and indirect through the
 * echo device, interrupt suppression, and malformed chains that must put the
 * device in DEVICE_NEEDS_RESET without touching memory outside the guest. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/util.h"
#include "tests/unit/vmm/virtio/vdriver.h"

#define ALL_FEATURES                                                                               \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_F_RING_EVENT_IDX))
#define RAM (4u << 20)

struct fixture {
	struct vdriver v;
	struct vd_echo *x;
};

static struct fixture *setup(uint64_t offered, uint64_t accepted)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vd_init(&f->v, RAM);
	f->x = vd_echo_new(offered);
	vd_attach(&f->v, &f->x->dev);
	vd_start(&f->v, accepted, 2, 16);
	return f;
}

static void teardown(struct fixture *f)
{
	vd_fini(&f->v);
	free(f);
}

static void fill(struct vdriver *v, uint64_t gpa, uint32_t len, uint8_t seed)
{
	uint8_t *p = vd_ptr(v, gpa);

	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
}

/* Three readable segments echoed into two writable ones, direct or indirect. */
static void echo_chain(bool indirect)
{
	struct fixture *f = setup(ALL_FEATURES, ALL_FEATURES);
	struct vdriver *v = &f->v;
	struct vd_buf b[5] = {
	        {vd_alloc(v, 100, 1), 100, false}, {vd_alloc(v, 1, 1), 1, false},
	        {vd_alloc(v, 27, 1), 27, false},   {vd_alloc(v, 64, 1), 64, true},
	        {vd_alloc(v, 200, 1), 200, true},
	};
	uint8_t expect[128], *out1 = vd_ptr(v, b[3].gpa), *out2 = vd_ptr(v, b[4].gpa);
	uint32_t id, len;
	uint16_t head;

	fill(v, b[0].gpa, 100, 0);
	fill(v, b[1].gpa, 1, 100);
	fill(v, b[2].gpa, 27, 101);
	for (int i = 0; i < 128; i++)
		expect[i] = (uint8_t)i;
	head = vd_add(v, 0, b, 5, indirect);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, &id, &len, 2000), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 128);
	assert_memory_equal(out1, expect, 64);
	assert_memory_equal(out2, expect + 64, 64);
	assert_int_equal(f->x->last_nr_out, 3);
	assert_int_equal(f->x->last_nr_in, 2);
	assert_true(v->irqs >= 1);
	assert_true(vd_read32(v, 0x60) & 1);
	assert_false(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	teardown(f);
}

static void test_direct_chain(void **state)
{
	(void)state;
	echo_chain(false);
}

static void test_indirect_chain(void **state)
{
	(void)state;
	echo_chain(true);
}

/* Many chains in a row wrap the 16-entry rings several times. */
static void test_ring_wraps(void **state)
{
	struct fixture *f = setup(ALL_FEATURES, ALL_FEATURES);
	struct vdriver *v = &f->v;
	uint64_t in = vd_alloc(v, 8, 8), out = vd_alloc(v, 8, 8);

	(void)state;
	for (uint64_t i = 0; i < 100; i++) {
		struct vd_buf b[2] = {{in, 8, false}, {out, 8, true}};
		uint32_t len;

		memcpy(vd_ptr(v, in), &i, 8);
		vd_add(v, 1, b, 2, i % 2);
		vd_kick(v, 1);
		assert_int_equal(vd_wait_used(v, 1, NULL, &len, 2000), 1);
		assert_int_equal(len, 8);
		assert_memory_equal(vd_ptr(v, out), &i, 8);
	}
	teardown(f);
}

/* Without event idx the driver silences interrupts with VRING_AVAIL_F_NO_INTERRUPT. */
static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = setup(ALL_FEATURES, 1ULL << VIRTIO_F_VERSION_1);
	struct vdriver *v = &f->v;
	struct vd_buf b[2] = {{vd_alloc(v, 4, 4), 4, false}, {vd_alloc(v, 4, 4), 4, true}};
	uint16_t *avail = vd_ptr(v, v->q[0].avail);
	int irqs;

	(void)state;
	avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	vd_add(v, 0, b, 2, false);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, NULL, NULL, 2000), 1);
	assert_int_equal(v->irqs, 0);
	avail[0] = 0;
	vd_add(v, 0, b, 2, false);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, NULL, NULL, 2000), 1);
	irqs = v->irqs;
	assert_int_equal(irqs, 1);
	/* Indirect was not negotiated: such a chain breaks the device. */
	vd_add(v, 0, b, 2, true);
	vd_kick(v, 0);
	vd_run(v, 50);
	assert_true(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_non_null(strstr(f->x->last_err, "indirect descriptor not negotiated"));
	teardown(f);
}

/* With event idx: used_event says after which used entry to interrupt, and
 * the device publishes avail_event when it runs dry. */
static void test_event_idx(void **state)
{
	struct fixture *f = setup(ALL_FEATURES, ALL_FEATURES);
	struct vdriver *v = &f->v;
	struct vd_buf b[2] = {{vd_alloc(v, 4, 4), 4, false}, {vd_alloc(v, 4, 4), 4, true}};
	uint16_t *avail = vd_ptr(v, v->q[0].avail);
	uint16_t *used = vd_ptr(v, v->q[0].used);
	uint16_t *used_event = &avail[2 + 16], *avail_event = &used[2 + 4 * 16];

	(void)state;
	/* First push always interrupts; ask for the next after used entry 3. */
	*used_event = 3;
	for (int i = 0; i < 3; i++) {
		vd_add(v, 0, b, 2, false);
		vd_kick(v, 0);
		assert_int_equal(vd_wait_used(v, 0, NULL, NULL, 2000), 1);
	}
	assert_int_equal(v->irqs, 1);
	assert_int_equal(*avail_event, 3);
	vd_add(v, 0, b, 2, false);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, NULL, NULL, 2000), 1); /* used idx 3 -> 4 */
	assert_int_equal(v->irqs, 2);
	assert_int_equal(*avail_event, 4);
	teardown(f);
}

static void expect_broken(struct fixture *f, const char *why)
{
	struct vdriver *v = &f->v;
	int irqs = v->irqs;

	vd_kick(v, 0);
	vd_run(v, 30);
	assert_true(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_non_null(strstr(f->x->last_err, why));
	/* A config change interrupt tells the driver. */
	assert_int_equal(v->irqs, irqs + 1);
	assert_true(vd_read32(v, 0x60) & 2);
	/* Nothing was used, and further kicks are ignored. */
	assert_int_equal(vd_wait_used(v, 0, NULL, NULL, 10), 0);
	f->x->notifies = 0;
	vd_kick(v, 0);
	vd_run(v, 10);
	assert_int_equal(f->x->notifies, 0);
	/* A reset brings the device back. */
	vd_start(v, ALL_FEATURES, 2, 16);
	assert_false(vd_read32(v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	teardown(f);
}

static void test_bad_chains(void **state)
{
	struct fixture *f;
	struct vdriver *v;
	uint64_t buf;
	uint16_t *avail;

	(void)state;
	/* A loop: 0 -> 1 -> 0. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	vd_set_desc(v, 0, 0, buf, 16, VD_DESC_F_NEXT, 1);
	vd_set_desc(v, 0, 1, buf, 16, VD_DESC_F_NEXT, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "loop");

	/* An address past the end of guest memory, and one below it. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	vd_set_desc(v, 0, 0, VD_GPA_BASE + RAM - 8, 16, 0, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "outside guest memory");
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	vd_set_desc(v, 0, 0, 0x1000, 16, 0, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "outside guest memory");
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	vd_set_desc(v, 0, 0, UINT64_MAX - 4, 16, 0, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "outside guest memory");

	/* A head index beyond the queue size. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	vd_publish(v, 0, 16);
	expect_broken(f, "head index 16");

	/* A next index beyond the queue size. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	vd_set_desc(v, 0, 0, buf, 16, VD_DESC_F_NEXT, 300);
	vd_publish(v, 0, 0);
	expect_broken(f, "next index 300");

	/* Readable after writable. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	vd_set_desc(v, 0, 0, buf, 16, VD_DESC_F_NEXT | VD_DESC_F_WRITE, 1);
	vd_set_desc(v, 0, 1, buf, 16, 0, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "readable descriptor after a writable");

	/* The avail index runs more than a queue ahead. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	avail = vd_ptr(v, v->q[0].avail);
	avail[1] = 17;
	expect_broken(f, "ahead");
}

static void test_bad_indirect(void **state)
{
	struct fixture *f;
	struct vdriver *v;
	uint64_t buf, t;
	struct vd_buf many[VIRTQ_MAX_SEGS + 1];

	(void)state;
	/* Nested indirect. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	t = vd_alloc(v, 32, 16);
	((uint64_t *)vd_ptr(v, t))[0] = buf;
	((uint32_t *)vd_ptr(v, t))[2] = 16;
	((uint16_t *)vd_ptr(v, t))[6] = VD_DESC_F_INDIRECT;
	vd_set_desc(v, 0, 0, t, 16, VD_DESC_F_INDIRECT, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "nested indirect");

	/* A table whose length is not a multiple of 16, and one outside memory. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, t = vd_alloc(v, 32, 16);
	vd_set_desc(v, 0, 0, t, 20, VD_DESC_F_INDIRECT, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "not a multiple of 16");
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v;
	vd_set_desc(v, 0, 0, VD_GPA_BASE + RAM - 16, 32, VD_DESC_F_INDIRECT, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "outside guest memory");

	/* A loop inside the table: entry 1 points back to 0. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	t = vd_alloc(v, 32, 16);
	{
		uint64_t *q = vd_ptr(v, t);

		q[0] = buf, q[1] = 16 | ((uint64_t)VD_DESC_F_NEXT << 32) | (1ULL << 48);
		q[2] = buf, q[3] = 16 | ((uint64_t)VD_DESC_F_NEXT << 32) | (0ULL << 48);
	}
	vd_set_desc(v, 0, 0, t, 32, VD_DESC_F_INDIRECT, 0);
	vd_publish(v, 0, 0);
	expect_broken(f, "loop in indirect");

	/* More than VIRTQ_MAX_SEGS descriptors in one table. */
	f = setup(ALL_FEATURES, ALL_FEATURES), v = &f->v, buf = vd_alloc(v, 16, 16);
	for (unsigned int i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (struct vd_buf){buf, 16, false};
	vd_add(v, 0, many, VIRTQ_MAX_SEGS + 1, true);
	expect_broken(f, "longer than");
}

/* Exactly VIRTQ_MAX_SEGS descriptors are fine. */
static void test_max_segs(void **state)
{
	struct fixture *f = setup(ALL_FEATURES, ALL_FEATURES);
	struct vdriver *v = &f->v;
	uint64_t in = vd_alloc(v, VIRTQ_MAX_SEGS, 1), out = vd_alloc(v, VIRTQ_MAX_SEGS, 1);
	struct vd_buf b[VIRTQ_MAX_SEGS];
	uint32_t len;

	(void)state;
	for (unsigned int i = 0; i < VIRTQ_MAX_SEGS / 2; i++) {
		b[i] = (struct vd_buf){in + i, 1, false};
		b[VIRTQ_MAX_SEGS / 2 + i] = (struct vd_buf){out + i, 1, true};
	}
	fill(v, in, VIRTQ_MAX_SEGS / 2, 7);
	vd_add(v, 0, b, VIRTQ_MAX_SEGS, true);
	vd_kick(v, 0);
	assert_int_equal(vd_wait_used(v, 0, NULL, &len, 2000), 1);
	assert_int_equal(len, VIRTQ_MAX_SEGS / 2);
	assert_memory_equal(vd_ptr(v, in), vd_ptr(v, out), VIRTQ_MAX_SEGS / 2);
	teardown(f);
}

struct racer {
	struct vdriver *v;
	uint64_t in, out;
	int done;
};

/* A "vCPU" thread: publishes batches of chains and kicks through mmio while
 * the main thread runs the device loop, as a real guest does. */
static void *race_driver(void *arg)
{
	struct racer *r = arg;
	struct vdriver *v = r->v;
	uint16_t *used = vd_ptr(v, v->q[0].used);
	uint16_t seen = 0;

	for (uint32_t i = 0; i < 4000; i += 8) {
		for (uint32_t j = 0; j < 8; j++) {
			uint32_t val = i + j;
			struct vd_buf b[2] = {{r->in + 4 * j, 4, false}, {r->out + 4 * j, 4, true}};

			memcpy(vd_ptr(v, r->in + 4 * j), &val, 4);
			vd_add(v, 0, b, 2, j % 2);
		}
		vd_kick(v, 0);
		while (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != (uint16_t)(seen + 8))
			;
		seen += 8;
		for (uint32_t j = 0; j < 8; j++)
			if (memcmp(vd_ptr(v, r->out + 4 * j), vd_ptr(v, r->in + 4 * j), 4))
				__atomic_store_n(&r->done, -1, __ATOMIC_SEQ_CST);
	}
	if (!__atomic_load_n(&r->done, __ATOMIC_SEQ_CST))
		__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static bool race_over(void *arg)
{
	return __atomic_load_n(&((struct racer *)arg)->done, __ATOMIC_SEQ_CST) != 0;
}

static void test_concurrent_driver(void **state)
{
	struct fixture *f = setup(ALL_FEATURES, ALL_FEATURES);
	struct racer r = {.v = &f->v};
	pthread_t t;

	(void)state;
	/* The indirect tables are allocated per chain: room for them all. */
	r.in = vd_alloc(&f->v, 32, 8);
	r.out = vd_alloc(&f->v, 32, 8);
	assert_int_equal(pthread_create(&t, NULL, race_driver, &r), 0);
	assert_true(vd_run_until(&f->v, race_over, &r, 20000));
	pthread_join(t, NULL);
	assert_int_equal(r.done, 1);
	assert_false(vd_read32(&f->v, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	teardown(f);
}

static void test_elem_iov(void **state)
{
	uint8_t a[10], b[10], c[10];
	struct virtq_elem el = {.nr_out = 1, .nr_in = 2, .out_len = 10, .in_len = 20};
	struct iovec iov[4];

	(void)state;
	el.iov[0] = (struct iovec){a, 10};
	el.iov[1] = (struct iovec){b, 10};
	el.iov[2] = (struct iovec){c, 10};
	assert_int_equal(virtq_elem_iov(&el, true, 5, 10, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, b + 5);
	assert_int_equal(iov[0].iov_len, 5);
	assert_ptr_equal(iov[1].iov_base, c);
	assert_int_equal(iov[1].iov_len, 5);
	assert_int_equal(virtq_elem_iov(&el, false, 5, 100, iov, 4), 1);
	assert_int_equal(iov[0].iov_len, 5);
	assert_int_equal(virtq_elem_iov(&el, true, 25, 100, iov, 4), 0);
	assert_int_equal(virtq_elem_write(&el, 8, "abcdef", 6), 6);
	assert_memory_equal(b + 8, "ab", 2);
	assert_memory_equal(c, "cdef", 4);
	assert_int_equal(virtq_elem_write(&el, 18, "xyz", 3), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_direct_chain), cmocka_unit_test(test_indirect_chain),
	        cmocka_unit_test(test_ring_wraps),   cmocka_unit_test(test_no_interrupt_flag),
	        cmocka_unit_test(test_event_idx),    cmocka_unit_test(test_bad_chains),
	        cmocka_unit_test(test_bad_indirect), cmocka_unit_test(test_max_segs),
	        cmocka_unit_test(test_elem_iov),     cmocka_unit_test(test_concurrent_driver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
