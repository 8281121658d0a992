/* tests/unit/vmm/virtio/vdriver.c: the test driver (see vdriver.h). It
 * asserts through cmocka, so it is only for tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/util.h"
#include "tests/unit/vmm/virtio/vdriver.h"

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static int fake_irq(void *ctx, uint32_t irq)
{
	struct vdriver *v = ctx;

	assert_int_equal(irq, VD_IRQ);
	__atomic_add_fetch(&v->irqs, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void vd_init(struct vdriver *v, uint64_t ram_size)
{
	struct err e;

	memset(v, 0, sizeof(*v));
	v->ram = calloc(1, ram_size);
	assert_non_null(v->ram);
	v->size = ram_size;
	v->mem.nr = 1;
	v->mem.r[0] = (struct guest_region){.gpa = VD_GPA_BASE, .size = ram_size, .host = v->ram};
	v->brk = VD_GPA_BASE + 4096; /* keep the first page unused */
	assert_int_equal(loop_new(&v->loop, &e), 0);
	v->host = (struct virtio_host){
	        .mem = &v->mem, .loop = v->loop, .ctx = v, .irq_trigger = fake_irq};
}

void vd_attach(struct vdriver *v, struct virtio_dev *dev)
{
	struct err e;

	v->dev = dev;
	if (virtio_mmio_init(&v->mmio, dev, &v->host, VD_MMIO, VD_IRQ, &e) < 0)
		fail_msg("virtio_mmio_init: %s", e.msg);
}

void vd_fini(struct vdriver *v)
{
	if (v->dev) {
		virtio_mmio_destroy(&v->mmio);
		virtio_dev_free(v->dev);
	}
	loop_free(v->loop);
	free(v->ram);
}

uint32_t vd_read32(struct vdriver *v, uint64_t off)
{
	uint32_t val;

	virtio_mmio_read(&v->mmio, off, &val, 4);
	return val;
}

void vd_write32(struct vdriver *v, uint64_t off, uint32_t val)
{
	virtio_mmio_write(&v->mmio, off, &val, 4);
}

uint32_t vd_negotiate(struct vdriver *v, uint64_t features)
{
	vd_write32(v, 0x70, 0);
	vd_write32(v, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	vd_write32(v, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_write32(v, 0x24, 0);
	vd_write32(v, 0x20, (uint32_t)features);
	vd_write32(v, 0x24, 1);
	vd_write32(v, 0x20, (uint32_t)(features >> 32));
	vd_write32(v, 0x70,
	           VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return vd_read32(v, 0x70);
}

uint64_t vd_alloc(struct vdriver *v, uint64_t size, uint64_t align)
{
	uint64_t gpa = (v->brk + align - 1) & ~(align - 1);

	assert_true(gpa + size <= VD_GPA_BASE + v->size);
	v->brk = gpa + size;
	memset(vd_ptr(v, gpa), 0, size);
	return gpa;
}

void *vd_ptr(struct vdriver *v, uint64_t gpa)
{
	return v->ram + (gpa - VD_GPA_BASE);
}

void vd_setup_queue(struct vdriver *v, unsigned int q, uint16_t num)
{
	struct vd_queue *vq = &v->q[q];

	memset(vq, 0, sizeof(*vq));
	vq->num = num;
	vq->desc = vd_alloc(v, 16ULL * num, 16);
	vq->avail = vd_alloc(v, 6 + 2ULL * num, 2);
	vq->used = vd_alloc(v, 6 + 8ULL * num, 4);
	vd_write32(v, 0x30, q);
	assert_true(vd_read32(v, 0x34) >= num);
	vd_write32(v, 0x38, num);
	vd_write32(v, 0x80, (uint32_t)vq->desc);
	vd_write32(v, 0x84, (uint32_t)(vq->desc >> 32));
	vd_write32(v, 0x90, (uint32_t)vq->avail);
	vd_write32(v, 0x94, (uint32_t)(vq->avail >> 32));
	vd_write32(v, 0xa0, (uint32_t)vq->used);
	vd_write32(v, 0xa4, (uint32_t)(vq->used >> 32));
	vd_write32(v, 0x44, 1);
	assert_int_equal(vd_read32(v, 0x44), 1);
}

void vd_driver_ok(struct vdriver *v)
{
	vd_write32(v, 0x70, vd_read32(v, 0x70) | VIRTIO_STATUS_DRIVER_OK);
	struct err e;

	/* Always run once: a reset before may still be pending on the loop. */
	for (int i = 0; i < 100; i++) {
		assert_true(loop_run_once(v->loop, 5, &e) >= 0);
		if (v->mmio.active)
			break;
	}
}

void vd_start(struct vdriver *v, uint64_t features, unsigned int nqueues, uint16_t num)
{
	uint32_t st = vd_negotiate(v, features);

	assert_true(st & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned int q = 0; q < nqueues; q++)
		vd_setup_queue(v, q, num);
	vd_driver_ok(v);
	assert_true(v->mmio.active);
}

static struct desc *desc_table(struct vdriver *v, unsigned int q)
{
	return vd_ptr(v, v->q[q].desc);
}

void vd_set_desc(struct vdriver *v, unsigned int q, uint16_t i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next)
{
	desc_table(v, q)[i] = (struct desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

void vd_publish(struct vdriver *v, unsigned int q, uint16_t head)
{
	struct vd_queue *vq = &v->q[q];
	uint16_t *avail = vd_ptr(v, vq->avail);

	avail[2 + vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	__atomic_store_n(&avail[1], vq->avail_idx, __ATOMIC_RELEASE);
}

uint16_t vd_add(struct vdriver *v, unsigned int q, const struct vd_buf *bufs, unsigned int n,
                bool indirect)
{
	struct vd_queue *vq = &v->q[q];
	uint16_t head = vq->next_desc;

	if (indirect) {
		uint64_t tgpa = vd_alloc(v, 16ULL * n, 16);
		struct desc *t = vd_ptr(v, tgpa);

		for (unsigned int i = 0; i < n; i++)
			t[i] = (struct desc){.addr = bufs[i].gpa,
			                     .len = bufs[i].len,
			                     .flags = (i + 1 < n ? VD_DESC_F_NEXT : 0) |
			                              (bufs[i].write ? VD_DESC_F_WRITE : 0),
			                     .next = i + 1};
		vd_set_desc(v, q, head, tgpa, 16 * n, VD_DESC_F_INDIRECT, 0);
		vq->next_desc = (head + 1) % vq->num;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint16_t d = (head + i) % vq->num;

			vd_set_desc(v, q, d, bufs[i].gpa, bufs[i].len,
			            (i + 1 < n ? VD_DESC_F_NEXT : 0) |
			                    (bufs[i].write ? VD_DESC_F_WRITE : 0),
			            (d + 1) % vq->num);
		}
		vq->next_desc = (head + n) % vq->num;
	}
	vd_publish(v, q, head);
	return head;
}

void vd_kick(struct vdriver *v, unsigned int q)
{
	vd_write32(v, 0x50, q);
}

void vd_run(struct vdriver *v, int ms)
{
	unsigned long long end = util_now_ns() + ms * 1000000ULL;
	struct err e;

	while (util_now_ns() < end)
		assert_true(loop_run_once(v->loop, 5, &e) >= 0);
}

int vd_wait_used(struct vdriver *v, unsigned int q, uint32_t *id, uint32_t *len, int timeout_ms)
{
	struct vd_queue *vq = &v->q[q];
	uint8_t *used = vd_ptr(v, vq->used);
	unsigned long long end = util_now_ns() + timeout_ms * 1000000ULL;
	struct err e;

	for (;;) {
		uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);

		if (idx != vq->used_seen) {
			uint32_t *ent = (uint32_t *)(used + 4 + 8 * (vq->used_seen % vq->num));

			if (id)
				*id = ent[0];
			if (len)
				*len = ent[1];
			vq->used_seen++;
			return 1;
		}
		if (util_now_ns() >= end)
			return 0;
		assert_true(loop_run_once(v->loop, 5, &e) >= 0);
	}
}

bool vd_run_until(struct vdriver *v, bool (*cond)(void *), void *arg, int timeout_ms)
{
	unsigned long long end = util_now_ns() + timeout_ms * 1000000ULL;
	struct err e;

	while (!cond(arg)) {
		if (util_now_ns() >= end)
			return false;
		assert_true(loop_run_once(v->loop, 5, &e) >= 0);
	}
	return true;
}

/* The echo device: copies each chain's readable part into its writable part. */
static void echo_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vd_echo *x = d->priv;

	if (off < sizeof(x->config))
		memcpy(buf, x->config + off,
		       len < sizeof(x->config) - off ? len : sizeof(x->config) - off);
}

static void echo_write_config(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	struct vd_echo *x = d->priv;

	if (off < sizeof(x->config))
		memcpy(x->config + off, buf,
		       len < sizeof(x->config) - off ? len : sizeof(x->config) - off);
}

static int echo_activate(struct virtio_dev *d, struct err *e)
{
	struct vd_echo *x = d->priv;

	(void)e;
	x->activations++;
	return 0;
}

static void echo_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct vd_echo *x = d->priv;
	struct virtq *vq = &d->vq[q];
	uint8_t buf[65536];
	struct err e;
	int r;

	x->notifies++;
	while ((r = virtq_pop(vq, &x->el, &e)) > 0) {
		size_t n = virtq_elem_read(&x->el, 0, buf, sizeof(buf));

		x->last_nr_out = x->el.nr_out;
		x->last_nr_in = x->el.nr_in;
		virtq_push(vq, &x->el, virtq_elem_write(&x->el, 0, buf, n));
	}
	if (r < 0) {
		snprintf(x->last_err, sizeof(x->last_err), "%s", e.msg);
		virtio_dev_broken(d, &e);
	}
	virtio_dev_notify_used(d, q);
}

static void echo_reset(struct virtio_dev *d)
{
	struct vd_echo *x = d->priv;

	x->resets++;
}

static void echo_destroy(struct virtio_dev *d)
{
	free(d->priv);
}

static const struct virtio_dev_ops echo_ops = {
        .name = "echo",
        .device_id = 0x4242,
        .num_queues = 2,
        .read_config = echo_read_config,
        .write_config = echo_write_config,
        .activate = echo_activate,
        .queue_notify = echo_queue_notify,
        .reset = echo_reset,
        .destroy = echo_destroy,
};

struct vd_echo *vd_echo_new(uint64_t features)
{
	struct vd_echo *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	virtio_dev_init(&x->dev, &echo_ops, x, features);
	for (unsigned int i = 0; i < sizeof(x->config); i++)
		x->config[i] = i;
	return x;
}
