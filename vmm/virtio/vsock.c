/* vmm/virtio/vsock.c: virtio-vsock (virtio 1.x 5.10) in process, as hybrid
 * vsock (Firecracker's protocol, which Kata speaks): guest stream sockets
 * are relayed to unix sockets on the host.
 *
 * Host to guest: a program connects to uds_path and writes "CONNECT <port>\n";
 * we send OP_REQUEST to that guest port and, on OP_RESPONSE, answer
 * "OK <hostport>\n" and relay bytes. Guest to host: OP_REQUEST for host port
 * P connects to "<uds_path>_P" (OP_RST if nobody listens there).
 *
 * Flow control is the spec's credit scheme: each connection has a VSOCK_BUF
 * buffer for guest bytes the host program has not read yet (our buf_alloc;
 * fwd_cnt counts bytes passed on), and we send the guest no more than its
 * buf_alloc - (tx_cnt - fwd_cnt). A connection closes with OP_RST after a
 * full OP_SHUTDOWN from the guest, on a socket error, or on reset. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/virtio.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

#define VSOCK_HOST_CID    2
#define VSOCK_TYPE_STREAM 1

enum {
	OP_REQUEST = 1,
	OP_RESPONSE = 2,
	OP_RST = 3,
	OP_SHUTDOWN = 4,
	OP_RW = 5,
	OP_CREDIT_UPDATE = 6,
	OP_CREDIT_REQUEST = 7,
};

#define SHUTDOWN_RCV  1
#define SHUTDOWN_SEND 2

#define VSOCK_BUF       (256u * 1024) /* per connection, guest -> host */
#define VSOCK_MAX_PKT   (64u * 1024)  /* data in one packet to the guest */
#define VSOCK_LOCAL_MIN (1u << 30)    /* host ports we pick for CONNECT */
#define VSOCK_RST_QUEUE 64            /* RSTs for unknown connections */
#define VSOCK_CMD_MAX   32            /* "CONNECT 4294967295\n" fits */
#define VSOCK_MAX_CONNS 1024          /* host fds a guest and its host programs may hold */

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr");

enum conn_state {
	CONN_CMD,         /* host program connected, its CONNECT line not read yet */
	CONN_REQUESTED,   /* OP_REQUEST (to be) sent to the guest, awaiting OP_RESPONSE */
	CONN_ESTABLISHED, /* relaying */
};

struct conn {
	struct conn *next;
	struct vsock *vs;
	int fd;
	enum conn_state state;
	uint32_t local_port, peer_port; /* host side, guest side */
	/* Packets owed to the guest. */
	bool send_request, send_response, send_credit, send_shutdown;
	bool readable;        /* the host fd has something: data or EOF */
	bool host_eof;        /* the host program will send no more */
	bool guest_shut_send; /* the guest will send no more */
	bool closing;         /* the guest shut both ways: RST once buf is flushed */
	bool hup;             /* epoll said EPOLLHUP/EPOLLERR: never park the fd at 0 */
	bool registered;      /* fd is on the loop */
	uint32_t events;      /* what fd is watched for */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t fwd_cnt, rx_cnt, fwd_cnt_sent;
	uint32_t len; /* bytes in buf */
	uint8_t *buf;
};

struct rst {
	uint32_t local_port, peer_port;
};

struct vsock {
	struct virtio_dev dev;
	uint64_t guest_cid;
	char *uds_path;
	int listen_fd;
	bool active;
	uint32_t next_local;
	struct conn *conns;
	unsigned int nr_conns;
	struct rst rsts[VSOCK_RST_QUEUE];
	unsigned int nr_rsts;
	struct virtq_elem el;
};

static void vsock_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vsock *vs = d->priv;

	if (off < 8)
		memcpy(buf, (uint8_t *)&vs->guest_cid + off, len < 8 - off ? len : 8 - off);
}

static uint32_t peer_credit(const struct conn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

static void on_conn(void *data, uint32_t events);

/* Keep the fd's watch in line with the state: read while the guest can take
 * data (or to read the CONNECT line), write while bytes wait in buf. An fd
 * with nothing to wait for leaves the loop, or a hung-up peer would wake it
 * forever (epoll always reports EPOLLHUP). */
static void conn_watch(struct conn *c)
{
	struct loop *l = c->vs->dev.host->loop;
	uint32_t ev = 0;
	struct err e;
	int r;

	if (c->state == CONN_CMD || (c->state == CONN_ESTABLISHED && !c->host_eof && !c->readable &&
	                             !c->closing && peer_credit(c) > 0))
		ev |= EPOLLIN;
	if (c->len)
		ev |= EPOLLOUT;
	if (!ev && c->hup) {
		if (c->registered)
			loop_del(l, c->fd);
		c->registered = false;
		c->events = 0;
		return;
	}
	if (c->registered && ev == c->events)
		return;
	if (c->registered)
		r = loop_mod(l, c->fd, ev, &e);
	else
		r = loop_add(l, c->fd, ev, on_conn, c, &e);
	if (r < 0) {
		log_error("virtio-vsock: %s", e.msg);
		return;
	}
	c->registered = true;
	c->events = ev;
}

static void queue_rst(struct vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	if (vs->nr_rsts == VSOCK_RST_QUEUE) {
		log_warn("virtio-vsock: RST queue full, guest port %" PRIu32 " will time out",
		         peer_port);
		return;
	}
	vs->rsts[vs->nr_rsts++] = (struct rst){local_port, peer_port};
}

static void conn_free(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->vs->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->registered)
		loop_del(c->vs->dev.host->loop, c->fd);
	c->vs->nr_conns--;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Drop the connection and tell the guest (unless it never heard of it). */
static void conn_reset(struct conn *c)
{
	if (c->state != CONN_CMD && !(c->state == CONN_REQUESTED && c->send_request))
		queue_rst(c->vs, c->local_port, c->peer_port);
	conn_free(c);
}

static struct conn *conn_new(struct vsock *vs, int fd, enum conn_state state, struct err *e)
{
	struct conn *c;

	if (vs->nr_conns >= VSOCK_MAX_CONNS)
		return err_set(e, EMFILE, "virtio-vsock: %d connections already", VSOCK_MAX_CONNS),
		       NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, ENOMEM, "virtio-vsock: out of memory"), NULL;
	vs->nr_conns++;
	c->vs = vs;
	c->fd = fd;
	c->state = state;
	c->next = vs->conns;
	vs->conns = c;
	return c;
}

static struct conn *conn_find(struct vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	for (struct conn *c = vs->conns; c; c = c->next)
		if (c->state != CONN_CMD && c->local_port == local_port &&
		    c->peer_port == peer_port)
			return c;
	return NULL;
}

/* ---- device -> guest (rx queue) ----------------------------------------- */

static void fill_hdr(struct vsock *vs, struct vsock_hdr *h, uint32_t local, uint32_t peer,
                     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = vs->guest_cid;
	h->src_port = local;
	h->dst_port = peer;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_BUF;
}

/* Take an rx buffer big enough for a header; 0 when none, -1 broken. */
static int rx_buffer(struct vsock *vs)
{
	struct virtq *vq = &vs->dev.vq[VSOCK_RXQ];
	struct err e;
	int r;

	for (;;) {
		r = virtq_pop(vq, &vs->el, &e);
		if (r < 0)
			virtio_dev_broken(&vs->dev, &e);
		if (r <= 0)
			return r;
		if (vs->el.in_len >= sizeof(struct vsock_hdr))
			return 1;
		virtq_push(vq, &vs->el, 0); /* useless to the guest as well */
	}
}

static void rx_send(struct vsock *vs, struct vsock_hdr *h)
{
	virtq_elem_write(&vs->el, 0, h, sizeof(*h));
	virtq_push(&vs->dev.vq[VSOCK_RXQ], &vs->el, sizeof(*h) + h->len);
}

/* Read what the host program wrote into the rx buffer as one OP_RW. Returns
 * false if the connection went away. */
static bool conn_rx_data(struct conn *c, struct vsock_hdr *h)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint32_t room = c->vs->el.in_len - sizeof(*h), want = peer_credit(c);
	unsigned int n;
	int avail = 0;
	ssize_t r;
	char b;

	if (ioctl(c->fd, FIONREAD, &avail) < 0 || avail <= 0) {
		/* Readable with nothing to read: end of file or an error. */
		r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (r < 0) {
			conn_reset(c);
			return false;
		}
		c->host_eof = true;
		c->send_shutdown = true;
		return true;
	}
	if (want > room)
		want = room;
	if (want > VSOCK_MAX_PKT)
		want = VSOCK_MAX_PKT;
	if (want > (uint32_t)avail)
		want = avail;
	if (!want) {
		c->readable = true; /* a buffer with room for the header only: wait for another */
		return true;
	}
	n = virtq_elem_iov(&c->vs->el, true, sizeof(*h), want, iov, VIRTQ_MAX_SEGS);
	do
		r = readv(c->fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		conn_reset(c);
		return false;
	}
	h->op = OP_RW;
	h->len = r;
	c->tx_cnt += r;
	return true;
}

/* Send the connection's most urgent packet, if it has one; needs an rx
 * buffer in vs->el. Returns 1 sent, 0 nothing to send, -1 connection gone. */
static int conn_rx(struct conn *c)
{
	struct vsock_hdr h;

	fill_hdr(c->vs, &h, c->local_port, c->peer_port, 0);
	if (c->send_request) {
		c->send_request = false;
		h.op = OP_REQUEST;
	} else if (c->send_response) {
		c->send_response = false;
		h.op = OP_RESPONSE;
	} else if (c->readable && !c->host_eof && peer_credit(c) > 0) {
		c->readable = false;
		if (!conn_rx_data(c, &h))
			return -1;
		if (!h.op) {
			if (!c->send_shutdown)
				return 0;
			c->send_shutdown = false;
			h.op = OP_SHUTDOWN;
			h.flags = SHUTDOWN_SEND;
		}
	} else if (c->send_shutdown) {
		c->send_shutdown = false;
		h.op = OP_SHUTDOWN;
		h.flags = SHUTDOWN_SEND;
	} else if (c->send_credit) {
		c->send_credit = false;
		h.op = OP_CREDIT_UPDATE;
	} else {
		return 0;
	}
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
	c->send_credit = false; /* every packet carries the credit */
	rx_send(c->vs, &h);
	return 1;
}

/* The oldest queued RST goes out in the rx buffer we hold (or the buffer
 * goes back empty if there is none). */
static void send_rst(struct vsock *vs)
{
	struct vsock_hdr h;

	if (!vs->nr_rsts) {
		virtq_push(&vs->dev.vq[VSOCK_RXQ], &vs->el, 0);
		return;
	}
	fill_hdr(vs, &h, vs->rsts[0].local_port, vs->rsts[0].peer_port, OP_RST);
	rx_send(vs, &h);
	memmove(vs->rsts, vs->rsts + 1, --vs->nr_rsts * sizeof(vs->rsts[0]));
}

static bool conn_has_rx(const struct conn *c)
{
	return c->send_request || c->send_response || c->send_shutdown || c->send_credit ||
	       (c->readable && !c->host_eof && peer_credit(c) > 0);
}

/* Send everything owed to the guest while it gives us rx buffers, one packet
 * per connection per round so a busy one cannot starve the rest. */
static void vsock_rx(struct vsock *vs)
{
	bool more = true;

	if (!vs->active)
		return;
	while (more) {
		more = false;
		if (vs->nr_rsts) {
			if (rx_buffer(vs) <= 0)
				break;
			send_rst(vs);
			more = true;
			continue;
		}
		for (struct conn *c = vs->conns, *next; c; c = next) {
			next = c->next;
			if (!conn_has_rx(c))
				continue;
			if (rx_buffer(vs) <= 0)
				goto out;
			switch (conn_rx(c)) {
			case 1:
				more = true;
				conn_watch(c);
				break;
			case 0:
				/* Nothing after all: the buffer goes back unused. */
				virtq_push(&vs->dev.vq[VSOCK_RXQ], &vs->el, 0);
				conn_watch(c);
				break;
			default:
				/* The connection died and left an RST: send it in this buffer. */
				send_rst(vs);
				more = true;
				break;
			}
		}
	}
out:
	virtio_dev_notify_used(&vs->dev, VSOCK_RXQ);
}

/* ---- guest -> device (tx queue) ----------------------------------------- */

/* Pass buffered guest bytes to the host program. */
static void conn_flush(struct conn *c)
{
	ssize_t w;

	while (c->len) {
		w = send(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			conn_reset(c);
			return;
		}
		memmove(c->buf, c->buf + w, c->len - w);
		c->len -= w;
		c->fwd_cnt += w;
	}
	if (!c->len && c->closing) {
		conn_reset(c);
		return;
	}
	if (!c->len && c->guest_shut_send)
		shutdown(c->fd, SHUT_WR);
	/* The guest thinks our buffer is fuller than it is: tell it when that
	 * could stall it (less than half left in its view). */
	if (c->fwd_cnt != c->fwd_cnt_sent && c->rx_cnt - c->fwd_cnt_sent > VSOCK_BUF / 2)
		c->send_credit = true;
	conn_watch(c);
}

static void guest_connect(struct vsock *vs, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct conn *c;
	struct err e;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%" PRIu32, vs->uds_path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("virtio-vsock: guest port %" PRIu32 " -> %s: %m", h->src_port,
		          sa.sun_path);
		if (fd >= 0)
			close(fd);
		queue_rst(vs, h->dst_port, h->src_port);
		return;
	}
	c = conn_new(vs, fd, CONN_ESTABLISHED, &e);
	if (!c) {
		log_error("%s", e.msg);
		close(fd);
		queue_rst(vs, h->dst_port, h->src_port);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->send_response = true;
	conn_watch(c);
}

static void conn_tx(struct conn *c, const struct vsock_hdr *h, const struct virtq_elem *el)
{
	char ok[32];
	int n;

	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case OP_RESPONSE:
		if (c->state != CONN_REQUESTED) {
			conn_reset(c);
			return;
		}
		c->state = CONN_ESTABLISHED;
		n = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->local_port);
		/* A fresh socket's buffer takes these few bytes at once. */
		if (send(c->fd, ok, n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
			conn_reset(c);
			return;
		}
		break;
	case OP_RW:
		/* Not connected, or past the credit we gave (which bounds buf too). */
		if (c->state != CONN_ESTABLISHED || c->guest_shut_send ||
		    (uint64_t)(c->rx_cnt - c->fwd_cnt_sent) + h->len > VSOCK_BUF) {
			conn_reset(c);
			return;
		}
		/* The buffer comes with the first bytes: idle connections cost none. */
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF))) {
			conn_reset(c);
			return;
		}
		c->len += virtq_elem_read(el, sizeof(*h), c->buf + c->len, h->len);
		c->rx_cnt += h->len;
		break;
	case OP_CREDIT_REQUEST:
		c->send_credit = true;
		break;
	case OP_CREDIT_UPDATE:
		break;
	case OP_SHUTDOWN:
		if (h->flags & SHUTDOWN_SEND)
			c->guest_shut_send = true;
		if ((h->flags & (SHUTDOWN_SEND | SHUTDOWN_RCV)) == (SHUTDOWN_SEND | SHUTDOWN_RCV))
			c->closing = true;
		break;
	case OP_RST:
		conn_free(c);
		return;
	default: /* OP_REQUEST on a live connection, or nonsense */
		conn_reset(c);
		return;
	}
	conn_flush(c);
}

static void vsock_tx_packet(struct vsock *vs, const struct virtq_elem *el)
{
	struct vsock_hdr h;
	struct conn *c;

	if (virtq_elem_read(el, 0, &h, sizeof(h)) != sizeof(h) || h.len > el->out_len - sizeof(h)) {
		log_warn("virtio-vsock: short packet dropped");
		return;
	}
	if (h.src_cid != vs->guest_cid || h.dst_cid != VSOCK_HOST_CID) {
		log_warn("virtio-vsock: packet %" PRIu64 " -> %" PRIu64 " dropped", h.src_cid,
		         h.dst_cid);
		return;
	}
	c = conn_find(vs, h.dst_port, h.src_port);
	if (h.type != VSOCK_TYPE_STREAM) {
		if (h.op != OP_RST) {
			if (c)
				conn_reset(c);
			else
				queue_rst(vs, h.dst_port, h.src_port);
		}
		return;
	}
	if (c)
		conn_tx(c, &h, el);
	else if (h.op == OP_REQUEST)
		guest_connect(vs, &h);
	else if (h.op != OP_RST)
		queue_rst(vs, h.dst_port, h.src_port);
}

static void vsock_tx(struct vsock *vs)
{
	struct virtq *vq = &vs->dev.vq[VSOCK_TXQ];
	struct err e;
	int r;

	while ((r = virtq_pop(vq, &vs->el, &e)) > 0) {
		vsock_tx_packet(vs, &vs->el);
		virtq_push(vq, &vs->el, 0);
	}
	if (r < 0)
		virtio_dev_broken(&vs->dev, &e);
	virtio_dev_notify_used(&vs->dev, VSOCK_TXQ);
}

/* ---- host sockets ------------------------------------------------------- */

static uint32_t pick_local_port(struct vsock *vs)
{
	for (;;) {
		uint32_t p = vs->next_local++;
		bool used = false;

		if (vs->next_local < VSOCK_LOCAL_MIN)
			vs->next_local = VSOCK_LOCAL_MIN;
		for (struct conn *c = vs->conns; c && !used; c = c->next)
			used = c->state != CONN_CMD && c->local_port == p;
		if (!used)
			return p;
	}
}

/* Read "CONNECT <port>\n" without taking a byte of what may follow it. */
static void conn_read_cmd(struct conn *c)
{
	char line[VSOCK_CMD_MAX + 1], *nl, *end;
	unsigned long port;
	ssize_t n;

	n = recv(c->fd, line, VSOCK_CMD_MAX, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto bad;
	line[n] = 0;
	nl = strchr(line, '\n');
	if (!nl) {
		if (n == VSOCK_CMD_MAX)
			goto bad;
		return;
	}
	if (recv(c->fd, line, nl - line + 1, MSG_DONTWAIT) != nl - line + 1)
		goto bad;
	*nl = 0;
	if (strncmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9')
		goto bad;
	errno = 0;
	port = strtoul(line + 8, &end, 10);
	if (errno || *end || port > UINT32_MAX)
		goto bad;
	c->state = CONN_REQUESTED;
	c->local_port = pick_local_port(c->vs);
	c->peer_port = port;
	c->send_request = true;
	conn_watch(c);
	vsock_rx(c->vs);
	return;
bad:
	log_warn("virtio-vsock: host connection without a valid CONNECT line closed");
	conn_free(c);
}

static void on_conn(void *data, uint32_t events)
{
	struct conn *c = data;
	struct vsock *vs = c->vs;

	pthread_mutex_lock(&vs->dev.lock);
	if (c->state == CONN_CMD) {
		conn_read_cmd(c);
	} else if (c->state == CONN_REQUESTED && (events & (EPOLLHUP | EPOLLERR))) {
		/* The host program gave up waiting for the guest: so do we. */
		conn_reset(c);
		vsock_rx(vs);
	} else {
		if (events & (EPOLLHUP | EPOLLERR))
			c->hup = true;
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->events & EPOLLIN))
			c->readable = true; /* data or end of file: vsock_rx reads it */
		if (events & EPOLLOUT)
			conn_flush(c); /* may free c */
		else
			conn_watch(c);
		vsock_rx(vs);
	}
	pthread_mutex_unlock(&vs->dev.lock);
}

static void on_listen(void *data, uint32_t events)
{
	struct vsock *vs = data;
	struct conn *c = NULL;
	struct err e;
	int fd;

	(void)events;
	pthread_mutex_lock(&vs->dev.lock);
	fd = accept4(vs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("virtio-vsock: accept on %s: %m", vs->uds_path);
	} else if (!(c = conn_new(vs, fd, CONN_CMD, &e)) ||
	           loop_add(vs->dev.host->loop, fd, EPOLLIN, on_conn, c, &e) < 0) {
		log_error("%s", e.msg);
		if (c)
			conn_free(c);
		else
			close(fd);
	} else {
		c->events = EPOLLIN;
		c->registered = true;
	}
	pthread_mutex_unlock(&vs->dev.lock);
}

/* ---- device ops --------------------------------------------------------- */

static void vsock_queue_notify(struct virtio_dev *d, unsigned int q)
{
	struct vsock *vs = d->priv;

	if (q == VSOCK_TXQ)
		vsock_tx(vs);
	/* Event queue buffers are kept: we only send events on migration, never. */
	if (q != VSOCK_EVQ)
		vsock_rx(vs);
}

static int vsock_activate(struct virtio_dev *d, struct err *e)
{
	struct vsock *vs = d->priv;

	if (loop_add(d->host->loop, vs->listen_fd, EPOLLIN, on_listen, vs, e) < 0)
		return err_ctx(e, "virtio-vsock");
	vs->active = true;
	return 0;
}

/* Every connection ends: host programs see end of file, the guest driver
 * forgets its sockets with the reset. */
static void vsock_reset(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;

	if (vs->active)
		loop_del(d->host->loop, vs->listen_fd);
	vs->active = false;
	while (vs->conns)
		conn_free(vs->conns);
	vs->nr_rsts = 0;
}

static void vsock_destroy(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;

	while (vs->conns)
		conn_free(vs->conns);
	close(vs->listen_fd);
	unlink(vs->uds_path);
	free(vs->uds_path);
	free(vs);
}

static const struct virtio_dev_ops vsock_ops = {
        .name = "vsock",
        .device_id = VIRTIO_ID_VSOCK,
        .num_queues = 3,
        .read_config = vsock_read_config,
        .activate = vsock_activate,
        .queue_notify = vsock_queue_notify,
        .reset = vsock_reset,
        .destroy = vsock_destroy,
};

int virtio_vsock_new(struct virtio_dev **out, uint64_t guest_cid, const char *uds_path,
                     struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock *vs;
	struct stat st;
	int fd;

	if (guest_cid < 3 || guest_cid > UINT32_MAX - 1)
		return err_set(e, EINVAL, "virtio-vsock: guest CID %" PRIu64 " out of range",
		               guest_cid);
	/* Room for "_<port>" after the path, for guest connections. */
	if (strlen(uds_path) + 11 >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "virtio-vsock: socket path too long: %s", uds_path);
	strcpy(sa.sun_path, uds_path);
	/* A socket left by an earlier run would make bind fail. */
	if (lstat(uds_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_sys(e, "virtio-vsock: socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		err_sys(e, "virtio-vsock: listen on %s", uds_path);
		close(fd);
		return -1;
	}
	vs = calloc(1, sizeof(*vs));
	if (!vs || !(vs->uds_path = strdup(uds_path))) {
		free(vs);
		close(fd);
		unlink(uds_path);
		return err_set(e, ENOMEM, "virtio-vsock: out of memory");
	}
	virtio_dev_init(&vs->dev, &vsock_ops, vs,
	                (1ULL << VIRTIO_F_RING_INDIRECT_DESC) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	vs->guest_cid = guest_cid;
	vs->listen_fd = fd;
	vs->next_local = VSOCK_LOCAL_MIN;
	*out = &vs->dev;
	return 0;
}
