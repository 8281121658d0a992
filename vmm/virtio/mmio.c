/* vmm/virtio/mmio.c: the virtio-mmio transport, version 2 (virtio 1.x 4.2):
 * the register file the vCPU threads access, feature negotiation, queue
 * setup, reset, and queue kicks delivered to the device on the loop thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/virtio.h"

#define MMIO_MAGIC_VALUE         0x000
#define MMIO_VERSION             0x004
#define MMIO_DEVICE_ID           0x008
#define MMIO_VENDOR_ID           0x00c
#define MMIO_DEVICE_FEATURES     0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES     0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL           0x030
#define MMIO_QUEUE_NUM_MAX       0x034
#define MMIO_QUEUE_NUM           0x038
#define MMIO_QUEUE_READY         0x044
#define MMIO_QUEUE_NOTIFY        0x050
#define MMIO_INTERRUPT_STATUS    0x060
#define MMIO_INTERRUPT_ACK       0x064
#define MMIO_STATUS              0x070
#define MMIO_QUEUE_DESC_LOW      0x080
#define MMIO_QUEUE_DESC_HIGH     0x084
#define MMIO_QUEUE_DRIVER_LOW    0x090
#define MMIO_QUEUE_DRIVER_HIGH   0x094
#define MMIO_QUEUE_DEVICE_LOW    0x0a0
#define MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define MMIO_SHM_SEL             0x0ac
#define MMIO_SHM_LEN_LOW         0x0b0
#define MMIO_SHM_BASE_HIGH       0x0bc
#define MMIO_CONFIG_GENERATION   0x0fc
#define MMIO_CONFIG              0x100

#define MMIO_MAGIC  0x74726976 /* "virt" */
#define MMIO_VENDOR 0x4f4b4148 /* "HAKO" */

static struct virtq *sel_queue(struct virtio_mmio *m)
{
	if (m->queue_sel >= m->dev->ops->num_queues)
		return NULL;
	return &m->dev->vq[m->queue_sel];
}

static uint32_t read_reg(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *d = m->dev;
	struct virtq *vq = sel_queue(m);

	switch (off) {
	case MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case MMIO_VERSION:
		return 2;
	case MMIO_DEVICE_ID:
		return d->ops->device_id;
	case MMIO_VENDOR_ID:
		return MMIO_VENDOR;
	case MMIO_DEVICE_FEATURES:
		return m->dev_features_sel < 2 ? d->host_features >> (32 * m->dev_features_sel) : 0;
	case MMIO_QUEUE_NUM_MAX:
		return vq ? VIRTQ_MAX_SIZE : 0;
	case MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case MMIO_STATUS:
		return d->status;
	case MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST);
	}
	if (off >= MMIO_SHM_LEN_LOW && off <= MMIO_SHM_BASE_HIGH)
		return 0xffffffff; /* no shared memory regions: length ~0 */
	log_warn("virtio-mmio %s: read of write-only or unknown register 0x%llx", d->ops->name,
	         (unsigned long long)off);
	return 0;
}

static void set_addr(struct virtio_mmio *m, uint64_t *addr, bool high, uint32_t v)
{
	struct virtq *vq = sel_queue(m);

	if (!vq || vq->ready) {
		log_warn("virtio-%s: queue %u address written while enabled or absent",
		         m->dev->ops->name, m->queue_sel);
		return;
	}
	if (high)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

/* QueueReady 1: check what the driver set up, once, so pop/push may trust
 * the ring addresses' range (they still map them per access). */
static int enable_queue(struct virtio_mmio *m, struct virtq *vq, struct err *e)
{
	const struct guest_mem *mem = m->host->mem;
	uint64_t n = vq->num;

	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return err_set(e, EINVAL, "queue %u: size %u is not a power of two <= %d",
		               m->queue_sel, vq->num, VIRTQ_MAX_SIZE);
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		return err_set(e, EINVAL, "queue %u: misaligned rings", m->queue_sel);
	if (!guest_mem_ptr(mem, vq->desc_gpa, 16 * n) ||
	    !guest_mem_ptr(mem, vq->avail_gpa, 6 + 2 * n) ||
	    !guest_mem_ptr(mem, vq->used_gpa, 6 + 8 * n))
		return err_set(e, EFAULT, "queue %u: rings outside guest memory", m->queue_sel);
	vq->mem = mem;
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->event_idx = virtio_dev_has_feature(m->dev, VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = virtio_dev_has_feature(m->dev, VIRTIO_F_RING_INDIRECT_DESC);
	vq->ready = true;
	return 0;
}

/* Run on the loop thread: bring the device's backend in line with status. */
static void mmio_sync(void *data, uint32_t events)
{
	struct virtio_mmio *m = data;
	struct virtio_dev *d = m->dev;
	struct err e;

	(void)events;
	pthread_mutex_lock(&d->lock);
	if (m->reset_pending) {
		m->reset_pending = false;
		if (m->active && d->ops->reset)
			d->ops->reset(d);
		m->active = false;
	}
	if (!m->active && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(d->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED))) {
		if (d->ops->activate && d->ops->activate(d, &e) < 0) {
			virtio_dev_broken(d, &e);
		} else {
			m->active = true;
			/* Kicks that came before activation were dropped. */
			for (unsigned int q = 0; q < d->ops->num_queues; q++)
				if (d->vq[q].ready && d->ops->queue_notify)
					d->ops->queue_notify(d, q);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static void post_sync(struct virtio_mmio *m)
{
	struct err e;

	if (loop_call(m->host->loop, mmio_sync, m, &e) < 0)
		log_error("virtio-%s: %s", m->dev->ops->name, e.msg);
}

static void device_reset(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->dev;

	if (d->ops->quiesce)
		d->ops->quiesce(d);
	d->status = 0;
	d->driver_features = 0;
	__atomic_store_n(&d->isr, 0, __ATOMIC_SEQ_CST);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		memset(&d->vq[q], 0, sizeof(d->vq[q]));
	m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
	m->reset_pending = true;
	post_sync(m);
}

static void write_status(struct virtio_mmio *m, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	uint32_t old = d->status;

	if (v == 0) {
		device_reset(m);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		if (!virtio_dev_has_feature(d, VIRTIO_F_VERSION_1) ||
		    (d->driver_features & ~d->host_features)) {
			log_warn("virtio-%s: refusing features 0x%llx (offered 0x%llx)",
			         d->ops->name, (unsigned long long)d->driver_features,
			         (unsigned long long)d->host_features);
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	/* The device owns NEEDS_RESET; the driver cannot clear it but by reset. */
	d->status = v | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		post_sync(m);
}

static void write_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	struct virtq *vq = sel_queue(m);
	struct err e;

	switch (off) {
	case MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = v;
		return;
	case MMIO_DRIVER_FEATURES:
		if (m->drv_features_sel >= 2 || !(d->status & VIRTIO_STATUS_DRIVER) ||
		    (d->status & VIRTIO_STATUS_FEATURES_OK)) {
			log_warn("virtio-%s: driver features written out of order", d->ops->name);
			return;
		}
		if (m->drv_features_sel)
			d->driver_features =
			        (d->driver_features & 0xffffffffULL) | ((uint64_t)v << 32);
		else
			d->driver_features = (d->driver_features & ~0xffffffffULL) | v;
		return;
	case MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = v;
		return;
	case MMIO_QUEUE_SEL:
		m->queue_sel = v;
		return;
	case MMIO_QUEUE_NUM:
		if (vq && !vq->ready)
			vq->num = v > 0xffff ? 0 : v;
		return;
	case MMIO_QUEUE_READY:
		if (!vq)
			return;
		if (!v) {
			vq->ready = false;
		} else if (!vq->ready && enable_queue(m, vq, &e) < 0) {
			virtio_dev_broken(d, &e);
		}
		return;
	case MMIO_STATUS:
		write_status(m, v);
		return;
	case MMIO_QUEUE_DESC_LOW:
	case MMIO_QUEUE_DESC_HIGH:
		if (vq)
			set_addr(m, &vq->desc_gpa, off == MMIO_QUEUE_DESC_HIGH, v);
		return;
	case MMIO_QUEUE_DRIVER_LOW:
	case MMIO_QUEUE_DRIVER_HIGH:
		if (vq)
			set_addr(m, &vq->avail_gpa, off == MMIO_QUEUE_DRIVER_HIGH, v);
		return;
	case MMIO_QUEUE_DEVICE_LOW:
	case MMIO_QUEUE_DEVICE_HIGH:
		if (vq)
			set_addr(m, &vq->used_gpa, off == MMIO_QUEUE_DEVICE_HIGH, v);
		return;
	case MMIO_SHM_SEL:
		return;
	}
	log_warn("virtio-mmio %s: write of read-only or unknown register 0x%llx", d->ops->name,
	         (unsigned long long)off);
}

void virtio_mmio_read(struct virtio_mmio *m, uint64_t off, void *data, unsigned int len)
{
	struct virtio_dev *d = m->dev;
	uint32_t v;

	memset(data, 0, len);
	if (off >= MMIO_CONFIG && off < VIRTIO_MMIO_SIZE && len <= VIRTIO_MMIO_SIZE - off) {
		pthread_mutex_lock(&d->lock);
		if (d->ops->read_config)
			d->ops->read_config(d, off - MMIO_CONFIG, data, len);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (len != 4 || off % 4 || off >= MMIO_CONFIG) {
		log_warn("virtio-mmio %s: bad read at 0x%llx len %u", d->ops->name,
		         (unsigned long long)off, len);
		return;
	}
	if (off == MMIO_INTERRUPT_STATUS) {
		/* The guest's interrupt handler: never wait for the loop's lock. */
		v = __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	} else {
		pthread_mutex_lock(&d->lock);
		v = read_reg(m, off);
		pthread_mutex_unlock(&d->lock);
	}
	memcpy(data, &v, 4);
}

void virtio_mmio_write(struct virtio_mmio *m, uint64_t off, const void *data, unsigned int len)
{
	struct virtio_dev *d = m->dev;
	uint32_t v;

	if (off >= MMIO_CONFIG && off < VIRTIO_MMIO_SIZE && len <= VIRTIO_MMIO_SIZE - off) {
		pthread_mutex_lock(&d->lock);
		if (d->ops->write_config)
			d->ops->write_config(d, off - MMIO_CONFIG, data, len);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (len != 4 || off % 4 || off >= MMIO_CONFIG) {
		log_warn("virtio-mmio %s: bad write at 0x%llx len %u", d->ops->name,
		         (unsigned long long)off, len);
		return;
	}
	memcpy(&v, data, 4);
	/* Kicks and interrupt acks are the hot path and touch nothing the lock
	 * guards (the eventfds are fixed after init, isr is atomic). */
	if (off == MMIO_QUEUE_NOTIFY) {
		uint64_t one = 1;

		if (v < d->ops->num_queues && write(m->notify_fd[v], &one, sizeof(one)) < 0)
			log_error("virtio-%s: kick queue %u: %m", d->ops->name, v);
		return;
	}
	if (off == MMIO_INTERRUPT_ACK) {
		__atomic_and_fetch(&d->isr, ~v, __ATOMIC_SEQ_CST);
		return;
	}
	pthread_mutex_lock(&d->lock);
	write_reg(m, off, v);
	pthread_mutex_unlock(&d->lock);
}

/* A kick: the eventfd fired on the loop thread. */
static void on_notify(void *data, uint32_t events)
{
	struct virtio_mmio *m = data;
	struct virtio_dev *d = m->dev;
	uint64_t cnt;

	(void)events;
	pthread_mutex_lock(&d->lock);
	for (unsigned int q = 0; q < d->ops->num_queues; q++) {
		if (read(m->notify_fd[q], &cnt, sizeof(cnt)) != sizeof(cnt))
			continue;
		if (m->active && d->vq[q].ready &&
		    !(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && d->ops->queue_notify)
			d->ops->queue_notify(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *dev, struct virtio_host *host,
                     uint64_t base, uint32_t irq, struct err *e)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->host = host;
	m->base = base;
	m->irq = irq;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->notify_fd[q] = -1;
	if (dev->ops->num_queues > VIRTIO_MAX_QUEUES)
		return err_set(e, EINVAL, "virtio-%s: %u queues, at most %d", dev->ops->name,
		               dev->ops->num_queues, VIRTIO_MAX_QUEUES);
	for (unsigned int q = 0; q < dev->ops->num_queues; q++) {
		m->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->notify_fd[q] < 0) {
			err_sys(e, "virtio-%s: eventfd", dev->ops->name);
			goto fail;
		}
		if (loop_add(host->loop, m->notify_fd[q], EPOLLIN, on_notify, m, e) < 0)
			goto fail;
		if (host->ioeventfd && host->ioeventfd(host->ctx, base + MMIO_QUEUE_NOTIFY, q,
		                                       m->notify_fd[q], e) < 0) {
			err_ctx(e, "virtio-%s: queue %u ioeventfd", dev->ops->name, q);
			goto fail;
		}
	}
	dev->host = host;
	dev->transport = m;
	return 0;
fail:
	virtio_mmio_destroy(m);
	return -1;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (m->notify_fd[q] < 0)
			continue;
		loop_del(m->host->loop, m->notify_fd[q]);
		close(m->notify_fd[q]);
		m->notify_fd[q] = -1;
	}
	if (m->dev) {
		if (m->active && m->dev->ops->reset)
			m->dev->ops->reset(m->dev);
		m->active = false;
		m->dev->transport = NULL;
	}
}

int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t size)
{
	int n = snprintf(buf, size, "virtio_mmio.device=%d@0x%llx:%u", VIRTIO_MMIO_SIZE,
	                 (unsigned long long)m->base, m->irq);

	return n < 0 || (size_t)n >= size ? -1 : n;
}
