/* vmm/virtio/net.c: virtio-net (virtio 1.x 5.1) over a tap fd, without
 * offloads: one rx and one tx queue, the 12-byte virtio_net_hdr_v1 stripped
 * on tx and prepended on rx, the MAC in config space.
 *
 * The tap is opened by the caller with IFF_TAP | IFF_NO_PI and without
 * IFF_VNET_HDR (one read or write = one Ethernet frame); a SOCK_SEQPACKET or
 * SOCK_DGRAM socket behaves the same and serves the tests. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/virtio.h"

#define VIRTIO_NET_F_MAC 5

#define NET_RXQ     0
#define NET_TXQ     1
#define NET_HDR_LEN 12    /* virtio_net_hdr_v1: with VERSION_1 always 12 bytes */
#define NET_FRAME   65550 /* a tap frame at most: 64 KiB plus an Ethernet header */
#define NET_BUDGET  64    /* frames per event, so one busy direction cannot starve the loop */

struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

_Static_assert(sizeof(struct net_hdr) == NET_HDR_LEN, "virtio_net_hdr_v1");

struct net {
	struct virtio_dev dev;
	int tap;
	uint8_t mac[6];
	bool watching;   /* the tap is on the loop */
	uint32_t events; /* what we watch it for */
	size_t rx_len;   /* a frame read from the tap waiting for an rx buffer, or 0 */
	bool tx_blocked; /* the tap said EAGAIN: tx_el waits for EPOLLOUT */
	bool dead;       /* the backend failed: drop tx, stop reading */
	struct virtq_elem tx_el, rx_el;
	uint8_t rx_buf[NET_FRAME];
};

static void net_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct net *n = d->priv;

	if (off < sizeof(n->mac))
		memcpy(buf, n->mac + off, len < sizeof(n->mac) - off ? len : sizeof(n->mac) - off);
}

/* Watch the tap for what we can act on: input while rx buffers may exist,
 * output while a frame waits. */
static void net_watch(struct net *n, bool want_in)
{
	uint32_t ev = (want_in ? EPOLLIN : 0) | (n->tx_blocked ? EPOLLOUT : 0);
	struct err e;

	if (!n->watching || n->dead || ev == n->events)
		return;
	if (loop_mod(n->dev.host->loop, n->tap, ev, &e) < 0)
		log_error("virtio-net: %s", e.msg);
	else
		n->events = ev;
}

/* Give the frame in rx_buf to the driver; false when it has no buffer. */
static bool net_deliver(struct net *n)
{
	struct virtio_dev *d = &n->dev;
	struct net_hdr h = {.num_buffers = 1};
	struct err e;
	int r;

	for (;;) {
		r = virtq_pop(&d->vq[NET_RXQ], &n->rx_el, &e);
		if (r < 0) {
			virtio_dev_broken(d, &e);
			return false;
		}
		if (r == 0)
			return false;
		if (n->rx_el.in_len >= NET_HDR_LEN + n->rx_len)
			break;
		/* A buffer too small for the frame (the driver sized it for a
		 * smaller MTU): hand it back empty, which the driver counts. */
		virtq_push(&d->vq[NET_RXQ], &n->rx_el, 0);
	}
	virtq_elem_write(&n->rx_el, 0, &h, NET_HDR_LEN);
	virtq_elem_write(&n->rx_el, NET_HDR_LEN, n->rx_buf, n->rx_len);
	virtq_push(&d->vq[NET_RXQ], &n->rx_el, NET_HDR_LEN + n->rx_len);
	n->rx_len = 0;
	return true;
}

static void net_rx(struct net *n)
{
	bool want_in = true;

	for (int i = 0; i < NET_BUDGET; i++) {
		ssize_t r;

		if (!n->rx_len) {
			r = read(n->tap, n->rx_buf, sizeof(n->rx_buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r <= 0) {
				log_warn("virtio-net: tap read: %s",
				         r ? strerror(errno) : "end of file");
				n->dead = true;
				break;
			}
			n->rx_len = r;
		}
		if (!net_deliver(n)) {
			want_in = false; /* a kick on the rx queue brings us back */
			break;
		}
	}
	virtio_dev_notify_used(&n->dev, NET_RXQ);
	if (n->dead && n->watching) {
		loop_del(n->dev.host->loop, n->tap);
		n->watching = false;
	}
	net_watch(n, want_in);
}

/* Send tx_el; false when the tap cannot take it now. */
static bool net_send(struct net *n)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned int cnt;
	ssize_t r;

	if (n->tx_el.out_len < NET_HDR_LEN || n->dead)
		return true; /* nothing to send, or nowhere: drop */
	cnt = virtq_elem_iov(&n->tx_el, false, NET_HDR_LEN, n->tx_el.out_len - NET_HDR_LEN, iov,
	                     VIRTQ_MAX_SEGS);
	do
		r = writev(n->tap, iov, cnt);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
		return false;
	if (r < 0)
		log_debug("virtio-net: tap write: %m (frame dropped)");
	return true;
}

/* Send until the ring is empty or the tap is full; the guest paces tx. */
static void net_tx(struct net *n)
{
	struct virtio_dev *d = &n->dev;
	struct err e;
	int r = 0;

	for (;;) {
		if (!n->tx_blocked) {
			r = virtq_pop(&d->vq[NET_TXQ], &n->tx_el, &e);
			if (r <= 0)
				break;
		}
		n->tx_blocked = !net_send(n);
		if (n->tx_blocked)
			break;
		virtq_push(&d->vq[NET_TXQ], &n->tx_el, 0);
	}
	if (r < 0)
		virtio_dev_broken(d, &e);
	virtio_dev_notify_used(d, NET_TXQ);
	net_watch(n, n->events & EPOLLIN);
}

static void on_tap(void *data, uint32_t events)
{
	struct net *n = data;

	pthread_mutex_lock(&n->dev.lock);
	if (n->watching && !(n->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		if ((events & EPOLLOUT) && n->tx_blocked)
			net_tx(n);
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			net_rx(n);
	}
	pthread_mutex_unlock(&n->dev.lock);
}

static void net_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct net *n = d->priv;

	if (q == NET_TXQ)
		net_tx(n);
	else if (n->watching)
		net_rx(n); /* new rx buffers: deliver a waiting frame, read on */
}

static int net_activate(struct virtio_dev *d, struct err *e)
{
	struct net *n = d->priv;

	if (loop_add(d->host->loop, n->tap, EPOLLIN, on_tap, n, e) < 0)
		return err_ctx(e, "virtio-net");
	n->watching = true;
	n->events = EPOLLIN;
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct net *n = d->priv;

	if (n->watching)
		loop_del(d->host->loop, n->tap);
	n->watching = false;
	n->rx_len = 0;
	n->tx_blocked = false;
}

static void net_destroy(struct virtio_dev *d)
{
	struct net *n = d->priv;

	close(n->tap);
	free(n);
}

static const struct virtio_dev_ops net_ops = {
        .name = "net",
        .device_id = VIRTIO_ID_NET,
        .num_queues = 2,
        .read_config = net_read_config,
        .activate = net_activate,
        .queue_notify = net_queue_notify,
        .reset = net_reset,
        .destroy = net_destroy,
};

int virtio_net_new(struct virtio_dev **out, int tap_fd, const uint8_t mac[6], struct err *e)
{
	struct net *n;
	int fd = fcntl(tap_fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return err_sys(e, "virtio-net: dup tap fd %d", tap_fd);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err_sys(e, "virtio-net: make tap fd non-blocking");
		close(fd);
		return -1;
	}
	n = malloc(sizeof(*n));
	if (!n) {
		close(fd);
		return err_set(e, ENOMEM, "virtio-net: out of memory");
	}
	memset(n, 0, offsetof(struct net, rx_buf));
	virtio_dev_init(&n->dev, &net_ops, n,
	                (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |
	                        (1ULL << VIRTIO_F_RING_EVENT_IDX));
	n->tap = fd;
	memcpy(n->mac, mac, 6);
	*out = &n->dev;
	return 0;
}
