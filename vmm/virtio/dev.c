/* vmm/virtio/dev.c: the transport-independent part of a virtio device:
 * initialisation, interrupts towards the driver, the broken state, freeing. */
#include <string.h>

#include "lib/log.h"
#include "vmm/virtio.h"

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
                     uint64_t features)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->host_features = features | (1ULL << VIRTIO_F_VERSION_1);
	pthread_mutex_init(&d->lock, NULL);
}

static void raise_irq(struct virtio_dev *d, uint32_t bit)
{
	struct virtio_mmio *m = d->transport;

	__atomic_or_fetch(&d->isr, bit, __ATOMIC_SEQ_CST);
	if (m && d->host && d->host->irq_trigger)
		d->host->irq_trigger(d->host->ctx, m->irq);
}

void virtio_dev_notify_used(struct virtio_dev *d, unsigned int q)
{
	if (q >= VIRTIO_MAX_QUEUES || !d->vq[q].ready)
		return;
	if (virtq_should_notify(&d->vq[q]))
		raise_irq(d, 1);
}

void virtio_dev_notify_config(struct virtio_dev *d)
{
	__atomic_add_fetch(&d->config_generation, 1, __ATOMIC_SEQ_CST);
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, 2);
}

void virtio_dev_broken(struct virtio_dev *d, const struct err *why)
{
	log_error("virtio-%s: device needs reset: %s", d->ops->name, why ? why->msg : "?");
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	/* The spec asks for a configuration change notification once DRIVER_OK is set. */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, 2);
}

bool virtio_dev_has_feature(const struct virtio_dev *d, unsigned int bit)
{
	return bit < 64 && (d->driver_features >> bit) & 1;
}

void virtio_dev_free(struct virtio_dev *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	/* destroy frees the device's own struct, which holds d. */
	d->ops->destroy(d);
}
