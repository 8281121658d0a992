/* vmm/virtio/console.c: virtio-console (virtio 1.x 5.3) with one port and no
 * multiport: bytes from in_fd go to the receive queue, bytes on the transmit
 * queue go to out_fd. The guest sees it as hvc0. A pipe as out_fd raises
 * SIGPIPE when its reader is gone: the VMM process ignores SIGPIPE. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/virtio.h"

#define CONSOLE_RXQ 0
#define CONSOLE_TXQ 1
#define CONSOLE_BUF 4096

struct console {
	struct virtio_dev dev;
	int in_fd, out_fd;
	bool in_watched, in_eof, out_watched;
	/* Input read but not yet taken by the guest. */
	uint8_t in[CONSOLE_BUF];
	size_t in_off, in_len;
	/* A transmit chain partly written to out_fd. */
	bool tx_pending;
	size_t tx_off;
	struct virtq_elem rx_el, tx_el;
};

static void on_in(void *data, uint32_t events);
static void on_out(void *data, uint32_t events);

static void watch(struct console *c, int fd, bool *watched, bool want, uint32_t ev, loop_fn fn)
{
	struct err e;

	if (want == *watched)
		return;
	if (!want) {
		loop_del(c->dev.host->loop, fd);
	} else if (loop_add(c->dev.host->loop, fd, ev, fn, c, &e) < 0) {
		log_error("virtio-console: %s", e.msg);
		return;
	}
	*watched = want;
}

/* Move input to the guest: read when our buffer is empty, stop reading while
 * the guest has no buffers (a kick on the receive queue resumes). */
static void console_rx(struct console *c)
{
	struct virtq *vq = &c->dev.vq[CONSOLE_RXQ];
	bool starved = false;
	struct err e;
	ssize_t r;
	int got;

	while (!starved) {
		if (!c->in_len) {
			if (c->in_eof)
				break;
			r = read(c->in_fd, c->in, sizeof(c->in));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r <= 0) {
				c->in_eof = true; /* end of input, or it failed: stop */
				break;
			}
			c->in_off = 0;
			c->in_len = r;
		}
		got = virtq_pop(vq, &c->rx_el, &e);
		if (got < 0)
			virtio_dev_broken(&c->dev, &e);
		if (got <= 0) {
			starved = true;
			break;
		}
		r = virtq_elem_write(&c->rx_el, 0, c->in + c->in_off, c->in_len);
		virtq_push(vq, &c->rx_el, r);
		c->in_off += r;
		c->in_len -= r;
	}
	virtio_dev_notify_used(&c->dev, CONSOLE_RXQ);
	watch(c, c->in_fd, &c->in_watched, !starved && !c->in_eof, EPOLLIN, on_in);
}

/* Write transmit chains to out_fd; a full out_fd parks the chain. */
static void console_tx(struct console *c)
{
	struct virtq *vq = &c->dev.vq[CONSOLE_TXQ];
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct err e;
	unsigned int n;
	ssize_t r;
	int got;

	for (;;) {
		if (!c->tx_pending) {
			got = virtq_pop(vq, &c->tx_el, &e);
			if (got < 0)
				virtio_dev_broken(&c->dev, &e);
			if (got <= 0)
				break;
			c->tx_pending = true;
			c->tx_off = 0;
		}
		while (c->tx_off < c->tx_el.out_len) {
			n = virtq_elem_iov(&c->tx_el, false, c->tx_off,
			                   c->tx_el.out_len - c->tx_off, iov, VIRTQ_MAX_SEGS);
			r = writev(c->out_fd, iov, n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				goto blocked;
			if (r < 0) {
				log_debug("virtio-console: write: %m (output dropped)");
				break;
			}
			c->tx_off += r;
		}
		virtq_push(vq, &c->tx_el, 0);
		c->tx_pending = false;
	}
blocked:
	virtio_dev_notify_used(&c->dev, CONSOLE_TXQ);
	watch(c, c->out_fd, &c->out_watched, c->tx_pending, EPOLLOUT, on_out);
}

static void on_in(void *data, uint32_t events)
{
	struct console *c = data;

	(void)events;
	pthread_mutex_lock(&c->dev.lock);
	if (!(c->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		console_rx(c);
	pthread_mutex_unlock(&c->dev.lock);
}

static void on_out(void *data, uint32_t events)
{
	struct console *c = data;

	(void)events;
	pthread_mutex_lock(&c->dev.lock);
	if (!(c->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		console_tx(c);
	pthread_mutex_unlock(&c->dev.lock);
}

static void console_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct console *c = d->priv;

	if (q == CONSOLE_TXQ)
		console_tx(c);
	else
		console_rx(c);
}

static void console_reset(struct virtio_dev *d)
{
	struct console *c = d->priv;

	watch(c, c->in_fd, &c->in_watched, false, 0, NULL);
	watch(c, c->out_fd, &c->out_watched, false, 0, NULL);
	c->in_len = 0;
	c->tx_pending = false;
}

static void console_destroy(struct virtio_dev *d)
{
	struct console *c = d->priv;

	close(c->in_fd);
	close(c->out_fd);
	free(c);
}

static const struct virtio_dev_ops console_ops = {
        .name = "console",
        .device_id = VIRTIO_ID_CONSOLE,
        .num_queues = 2,
        .queue_notify = console_queue_notify,
        .reset = console_reset,
        .destroy = console_destroy,
};

static int dup_nonblock(int fd, struct err *e)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (d < 0)
		return err_sys(e, "virtio-console: dup fd %d", fd);
	if (fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK) < 0) {
		close(d);
		return err_sys(e, "virtio-console: make fd %d non-blocking", fd);
	}
	return d;
}

int virtio_console_new(struct virtio_dev **out, int in_fd, int out_fd, struct err *e)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return err_set(e, ENOMEM, "virtio-console: out of memory");
	c->in_fd = dup_nonblock(in_fd, e);
	c->out_fd = c->in_fd < 0 ? -1 : dup_nonblock(out_fd, e);
	if (c->out_fd < 0) {
		if (c->in_fd >= 0)
			close(c->in_fd);
		free(c);
		return -1;
	}
	virtio_dev_init(&c->dev, &console_ops, c,
	                (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	*out = &c->dev;
	return 0;
}
