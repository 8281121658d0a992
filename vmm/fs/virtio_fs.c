/* vmm/fs/virtio_fs.c: the virtio-fs device (virtio 1.2 5.11): a hiprio queue
 * (FORGET) and one request queue, each chain one FUSE request served by the
 * in-process passthrough server (vmm/fs/fuse_server.h).
 *
 * Requests are served inline on the device loop thread, like virtio-blk:
 * the share is a local directory, so most requests take microseconds; an
 * fsync of a large dirty file or a huge directory listing stalls the other
 * devices for that long (moving requests to a worker thread is the fix if
 * that shows). Both queues go to one server, one chain at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "vmm/fs/fuse_server.h"
#include "vmm/virtio.h"

#define VIRTIO_FS_TAG_MAX 36
#define VIRTIO_FS_QUEUES  2 /* hiprio + one request queue */

struct virtio_fs_config {
	char tag[VIRTIO_FS_TAG_MAX]; /* not NUL-terminated when 36 long */
	uint32_t num_request_queues; /* little endian, like the host */
} __attribute__((packed));

struct virtio_fs {
	struct virtio_dev dev;
	struct fuse_server *srv;
	struct virtio_fs_config cfg;
	struct virtq_elem el;
};

static void fs_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_fs *f = d->priv;

	if (off < sizeof(f->cfg))
		memcpy(buf, (uint8_t *)&f->cfg + off,
		       len < sizeof(f->cfg) - off ? len : sizeof(f->cfg) - off);
}

static void fs_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_fs *f = d->priv;
	struct virtq *vq = &d->vq[q];
	struct virtq_elem *el = &f->el;
	size_t written;
	struct err e;
	int r;

	while ((r = virtq_pop(vq, el, &e)) > 0) {
		/* A chain without even a FUSE header gets an empty used entry. */
		if (fuse_server_handle(f->srv, el->iov, (int)el->nr_out, el->iov + el->nr_out,
		                       (int)el->nr_in, &written) < 0)
			log_debug("virtio-fs: queue %u: chain %u carries no FUSE request", q,
			          el->head);
		virtq_push(vq, el, (uint32_t)written);
	}
	if (r < 0)
		virtio_dev_broken(d, &e);
	virtio_dev_notify_used(d, q);
}

static void fs_destroy(struct virtio_dev *d)
{
	struct virtio_fs *f = d->priv;

	fuse_server_free(f->srv);
	free(f);
}

static const struct virtio_dev_ops fs_ops = {
        .name = "fs",
        .device_id = VIRTIO_ID_FS,
        .num_queues = VIRTIO_FS_QUEUES,
        .read_config = fs_read_config,
        .queue_notify = fs_queue_notify,
        .destroy = fs_destroy,
};

int virtio_fs_new(struct virtio_dev **out, const char *tag, const char *shared_dir, struct err *e)
{
	size_t taglen = strlen(tag);
	struct virtio_fs *f;

	if (taglen == 0 || taglen > VIRTIO_FS_TAG_MAX)
		return err_set(e, EINVAL, "virtio-fs: tag '%s' must be 1 to %d bytes", tag,
		               VIRTIO_FS_TAG_MAX);
	f = calloc(1, sizeof(*f));
	if (!f)
		return err_set(e, ENOMEM, "virtio-fs: out of memory");
	if (fuse_server_new(&f->srv, shared_dir, e) < 0) {
		free(f);
		return -1;
	}
	virtio_dev_init(&f->dev, &fs_ops, f,
	                (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	memcpy(f->cfg.tag, tag, taglen);
	f->cfg.num_request_queues = 1;
	*out = &f->dev;
	return 0;
}
