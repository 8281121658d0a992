/* vmm/virtio/blk.c: virtio-blk (virtio 1.x 5.2) over a raw image file.
 * The loop thread takes requests off the queue and hands them to a worker
 * thread, which does the preadv/pwritev/fdatasync; the loop puts the
 * results on the used ring. A slow disk (or a flush of a large dirty page
 * cache) so never stalls the other devices on the loop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "vmm/virtio.h"

#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR              512ULL
#define WRITE_ZEROES_MAX    (1u << 21) /* sectors per request: 1 GiB */
#define BLK_MAX_INFLIGHT    64         /* requests taken off the ring at once */

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* The part of struct virtio_blk_config we fill; the rest reads as 0. */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint8_t geometry[4];
	uint32_t blk_size;
	uint8_t topology[8];
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(offsetof(struct blk_config, max_write_zeroes_sectors) == 48, "virtio_blk_config");
_Static_assert(sizeof(struct blk_config) == 60, "virtio_blk_config");

/* A request between the ring and the worker. */
struct blk_req {
	struct blk_req *next;
	uint64_t epoch; /* b->epoch when taken: a reset since drops the result */
	uint32_t written;
	struct virtq_elem el;
};

struct blk {
	struct virtio_dev dev;
	int fd;
	bool readonly;
	struct blk_config cfg;
	char id[VIRTIO_BLK_ID_BYTES];
	/* Loop side, under dev.lock. */
	unsigned int inflight; /* taken off the ring, not yet pushed or dropped */
	uint64_t epoch;        /* bumped by a reset (also under wlock) */
	int done_fd;           /* eventfd: the worker finished requests */
	bool watching;         /* done_fd is on the loop */
	struct blk_req *spare; /* freed requests, reused */
	/* Between the loop and the worker, under wlock. The worker never takes
	 * dev.lock, so a vCPU holding it may wait for the worker. */
	pthread_mutex_t wlock;
	pthread_cond_t wake, idle;
	struct blk_req *todo, **todo_tail, *done;
	bool serving, stop;
	pthread_t worker;
};

static void blk_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct blk *b = d->priv;

	if (off < sizeof(b->cfg))
		memcpy(buf, (uint8_t *)&b->cfg + off,
		       len < sizeof(b->cfg) - off ? len : sizeof(b->cfg) - off);
}

static uint8_t blk_rw(struct blk *b, const struct virtq_elem *el, const struct blk_req_hdr *h,
                      uint32_t *written)
{
	bool in = h->type == VIRTIO_BLK_T_IN;
	size_t len = in ? el->in_len - 1 : el->out_len - sizeof(*h);
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned int n;
	ssize_t r;
	off_t pos;

	if (!in && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % SECTOR || h->sector > b->cfg.capacity ||
	    len / SECTOR > b->cfg.capacity - h->sector)
		return VIRTIO_BLK_S_IOERR;
	n = virtq_elem_iov(el, in, in ? 0 : sizeof(*h), len, iov, VIRTQ_MAX_SEGS);
	pos = h->sector * SECTOR;
	while (len) {
		r = in ? preadv(b->fd, iov, n, pos) : pwritev(b->fd, iov, n, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VIRTIO_BLK_S_IOERR;
		len -= r;
		pos += r;
		if (in)
			*written += r;
		/* Short transfer: drop what is done and go on. */
		while (r > 0 && n) {
			if ((size_t)r < iov[0].iov_len) {
				iov[0].iov_base = (uint8_t *)iov[0].iov_base + r;
				iov[0].iov_len -= r;
				break;
			}
			r -= iov[0].iov_len;
			memmove(iov, iov + 1, --n * sizeof(iov[0]));
		}
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_write_zeroes(struct blk *b, const struct virtq_elem *el)
{
	struct blk_write_zeroes wz;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	/* One segment, as max_write_zeroes_seg says. */
	if (el->out_len - sizeof(struct blk_req_hdr) != sizeof(wz) ||
	    virtq_elem_read(el, sizeof(struct blk_req_hdr), &wz, sizeof(wz)) != sizeof(wz))
		return VIRTIO_BLK_S_IOERR;
	if (wz.flags & ~1u || wz.num_sectors > WRITE_ZEROES_MAX || wz.sector > b->cfg.capacity ||
	    wz.num_sectors > b->cfg.capacity - wz.sector)
		return VIRTIO_BLK_S_IOERR;
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE, wz.sector * SECTOR, wz.num_sectors * SECTOR) <
	    0) {
		if (errno != EOPNOTSUPP)
			return VIRTIO_BLK_S_IOERR;
		if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, wz.sector * SECTOR,
		              wz.num_sectors * SECTOR) < 0)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve one request; returns the bytes written into the driver's buffers. */
static uint32_t blk_request(struct blk *b, const struct virtq_elem *el)
{
	struct blk_req_hdr h;
	uint32_t written = 0;
	uint8_t status;

	if (el->in_len < 1)
		return 0; /* no room for a status byte: nothing we can answer */
	if (virtq_elem_read(el, 0, &h, sizeof(h)) != sizeof(h)) {
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = blk_rw(b, el, &h, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(b->fd) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = virtq_elem_write(el, 0, b->id,
		                           el->in_len - 1 < VIRTIO_BLK_ID_BYTES
		                                   ? el->in_len - 1
		                                   : VIRTIO_BLK_ID_BYTES);
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_write_zeroes(b, el);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	virtq_elem_write(el, el->in_len - 1, &status, 1);
	return written + 1;
}

static void *blk_worker(void *arg)
{
	struct blk *b = arg;
	struct blk_req *r;
	uint64_t one = 1;

	pthread_mutex_lock(&b->wlock);
	for (;;) {
		while (!b->todo && !b->stop)
			pthread_cond_wait(&b->wake, &b->wlock);
		if (b->stop)
			break;
		r = b->todo;
		b->todo = r->next;
		if (!b->todo)
			b->todo_tail = &b->todo;
		b->serving = true;
		pthread_mutex_unlock(&b->wlock);
		r->written = blk_request(b, &r->el);
		pthread_mutex_lock(&b->wlock);
		b->serving = false;
		r->next = b->done;
		b->done = r;
		pthread_cond_broadcast(&b->idle);
		if (write(b->done_fd, &one, sizeof(one)) < 0)
			log_error("virtio-blk: completion eventfd: %m");
	}
	pthread_mutex_unlock(&b->wlock);
	return NULL;
}

/* Take chains off the ring for the worker, up to BLK_MAX_INFLIGHT. */
static void blk_submit(struct blk *b)
{
	struct virtq *vq = &b->dev.vq[0];
	struct blk_req *r;
	struct err e;
	int got;

	while (b->inflight < BLK_MAX_INFLIGHT) {
		r = b->spare;
		if (r)
			b->spare = r->next;
		else if (!(r = malloc(sizeof(*r)))) {
			log_error("virtio-blk: out of memory; requests wait");
			return;
		}
		got = virtq_pop(vq, &r->el, &e);
		if (got <= 0) {
			r->next = b->spare;
			b->spare = r;
			if (got < 0)
				virtio_dev_broken(&b->dev, &e);
			return;
		}
		r->epoch = b->epoch;
		r->next = NULL;
		b->inflight++;
		pthread_mutex_lock(&b->wlock);
		*b->todo_tail = r;
		b->todo_tail = &r->next;
		pthread_cond_signal(&b->wake);
		pthread_mutex_unlock(&b->wlock);
	}
}

/* Results back to the ring (dev.lock held); those from before a reset are
 * dropped. */
static void blk_complete(struct blk *b)
{
	struct blk_req *r, *next;

	pthread_mutex_lock(&b->wlock);
	r = b->done;
	b->done = NULL;
	pthread_mutex_unlock(&b->wlock);
	for (; r; r = next) {
		next = r->next;
		if (r->epoch == b->epoch)
			virtq_push(&b->dev.vq[0], &r->el, r->written);
		b->inflight--;
		r->next = b->spare;
		b->spare = r;
	}
}

static void on_done(void *data, uint32_t events)
{
	struct blk *b = data;
	uint64_t cnt;

	(void)events;
	if (read(b->done_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_error("virtio-blk: completion eventfd: %m");
	pthread_mutex_lock(&b->dev.lock);
	blk_complete(b);
	virtio_dev_notify_used(&b->dev, 0);
	/* Room again: chains may wait on the ring without a new kick. */
	if (!(b->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		blk_submit(b);
	pthread_mutex_unlock(&b->dev.lock);
}

static void blk_queue_notify(struct virtio_dev *d, unsigned int q)
{
	(void)q;
	blk_submit(d->priv);
}

static int blk_activate(struct virtio_dev *d, struct err *e)
{
	struct blk *b = d->priv;

	if (!b->watching && loop_add(d->host->loop, b->done_fd, EPOLLIN, on_done, b, e) < 0)
		return err_ctx(e, "virtio-blk");
	b->watching = true;
	return 0;
}

/* Status 0 (vCPU thread, dev.lock held): forget queued requests and wait
 * for the one being served, so no request writes guest memory after the
 * driver saw the reset. */
static void blk_quiesce(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&b->wlock);
	b->epoch++;
	if (b->todo) {
		*b->todo_tail = b->done;
		b->done = b->todo;
		b->todo = NULL;
		b->todo_tail = &b->todo;
	}
	while (b->serving)
		pthread_cond_wait(&b->idle, &b->wlock);
	pthread_mutex_unlock(&b->wlock);
}

static void blk_reset(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	blk_quiesce(d);
	blk_complete(b);
	if (b->watching)
		loop_del(d->host->loop, b->done_fd);
	b->watching = false;
}

static void blk_destroy(struct virtio_dev *d)
{
	struct blk *b = d->priv;
	struct blk_req *r;

	pthread_mutex_lock(&b->wlock);
	b->stop = true;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->wlock);
	pthread_join(b->worker, NULL);
	blk_complete(b);
	while ((r = b->todo)) {
		b->todo = r->next;
		free(r);
	}
	while ((r = b->spare)) {
		b->spare = r->next;
		free(r);
	}
	pthread_cond_destroy(&b->wake);
	pthread_cond_destroy(&b->idle);
	pthread_mutex_destroy(&b->wlock);
	close(b->done_fd);
	close(b->fd);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
        .name = "blk",
        .device_id = VIRTIO_ID_BLOCK,
        .num_queues = 1,
        .read_config = blk_read_config,
        .activate = blk_activate,
        .queue_notify = blk_queue_notify,
        .reset = blk_reset,
        .destroy = blk_destroy,
        .quiesce = blk_quiesce,
};

int virtio_blk_new(struct virtio_dev **out, const char *path, bool readonly, struct err *e)
{
	cleanup_close int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	uint64_t features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_FLUSH) |
	                    (1ULL << VIRTIO_F_RING_INDIRECT_DESC) |
	                    (1ULL << VIRTIO_F_RING_EVENT_IDX);
	const char *base = strrchr(path, '/');
	sigset_t all, old;
	struct stat st;
	struct blk *b;
	int r;

	if (fd < 0)
		return err_sys(e, "virtio-blk: open %s", path);
	if (fstat(fd, &st) < 0)
		return err_sys(e, "virtio-blk: stat %s", path);
	if (!S_ISREG(st.st_mode))
		return err_set(e, EINVAL,
		               "virtio-blk: %s: not supported: images other than regular files",
		               path);
	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, ENOMEM, "virtio-blk: out of memory");
	if (readonly)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	else
		features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	b->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->done_fd < 0) {
		free(b);
		return err_sys(e, "virtio-blk: eventfd");
	}
	pthread_mutex_init(&b->wlock, NULL);
	pthread_cond_init(&b->wake, NULL);
	pthread_cond_init(&b->idle, NULL);
	b->todo_tail = &b->todo;
	/* Signals stay with the VMM's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&b->worker, NULL, blk_worker, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		close(b->done_fd);
		free(b);
		return err_set(e, r, "virtio-blk: worker thread: %s", strerror(r));
	}
	virtio_dev_init(&b->dev, &blk_ops, b, features);
	b->fd = steal_fd(fd);
	b->readonly = readonly;
	b->cfg.capacity = st.st_size / SECTOR;
	/* The header and the status byte take two of the chain's descriptors. */
	b->cfg.seg_max = VIRTQ_MAX_SEGS - 2;
	b->cfg.max_write_zeroes_sectors = WRITE_ZEROES_MAX;
	b->cfg.max_write_zeroes_seg = 1;
	b->cfg.write_zeroes_may_unmap = 1;
	base = base ? base + 1 : path;
	memcpy(b->id, base, strnlen(base, sizeof(b->id)));
	*out = &b->dev;
	return 0;
}
