/* vmm/virtio/virtq.c: split virtqueues (virtio 1.x 2.7) over guest memory:
 * taking descriptor chains with strict validation, returning them, and the
 * interrupt suppression rules (event idx, VRING_AVAIL_F_NO_INTERRUPT). */
#include <errno.h>
#include <string.h>

#include "vmm/virtio.h"

/* The rings are little endian; hako runs on little-endian hosts only (x86-64). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtq.c assumes a little-endian host");

#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[]; /* num entries, then avail_event */
};

/* The guest writes these rings concurrently: every field is read exactly once
 * through these loads so a check and a use see the same value. */
static inline uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static struct vring_avail *avail_ring(const struct virtq *vq)
{
	return guest_mem_ptr(vq->mem, vq->avail_gpa, 6 + 2 * (uint64_t)vq->num);
}

static struct vring_used *used_ring(const struct virtq *vq)
{
	return guest_mem_ptr(vq->mem, vq->used_gpa, 6 + 8 * (uint64_t)vq->num);
}

struct walk {
	struct virtq_elem *el;
	uint64_t out_len, in_len;
	unsigned int segs;
};

static int add_seg(struct walk *w, const struct virtq *vq, const struct vring_desc *d,
                   struct err *e)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!writable && w->el->nr_in)
		return err_set(e, EPROTO, "virtq: readable descriptor after a writable one");
	if (w->segs >= VIRTQ_MAX_SEGS)
		return err_set(e, EPROTO, "virtq: chain longer than %d descriptors",
		               VIRTQ_MAX_SEGS);
	p = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return err_set(e, EFAULT, "virtq: buffer 0x%llx+%u outside guest memory",
		               (unsigned long long)d->addr, d->len);
	w->el->iov[w->segs].iov_base = p;
	w->el->iov[w->segs].iov_len = d->len;
	w->segs++;
	if (writable) {
		w->el->nr_in++;
		w->in_len += d->len;
	} else {
		w->el->nr_out++;
		w->out_len += d->len;
	}
	return 0;
}

/* Walk the descriptors of an indirect table: entries start at 0 and may not
 * point to another table. */
static int walk_indirect(struct walk *w, const struct virtq *vq, const struct vring_desc *ind,
                         struct err *e)
{
	const struct vring_desc *table;
	uint32_t n = ind->len / sizeof(struct vring_desc);
	uint32_t i = 0, seen = 0;

	if (!vq->indirect)
		return err_set(e, EPROTO, "virtq: indirect descriptor not negotiated");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return err_set(e, EPROTO, "virtq: indirect descriptor with NEXT set");
	if (ind->len == 0 || ind->len % sizeof(struct vring_desc))
		return err_set(e, EPROTO, "virtq: indirect table length %u not a multiple of 16",
		               ind->len);
	table = guest_mem_ptr(vq->mem, ind->addr, ind->len);
	if (!table)
		return err_set(e, EFAULT, "virtq: indirect table 0x%llx+%u outside guest memory",
		               (unsigned long long)ind->addr, ind->len);
	for (;;) {
		struct vring_desc d;

		memcpy(&d, &table[i], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return err_set(e, EPROTO, "virtq: nested indirect descriptor");
		if (add_seg(w, vq, &d, e) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return err_set(e, EPROTO, "virtq: indirect next %u beyond table of %u",
			               d.next, n);
		if (++seen >= n)
			return err_set(e, ELOOP, "virtq: loop in indirect table");
		i = d.next;
	}
}

static int walk_chain(struct walk *w, const struct virtq *vq, uint16_t head, struct err *e)
{
	const struct vring_desc *table;
	unsigned int seen = 0;
	uint16_t i = head;

	table = guest_mem_ptr(vq->mem, vq->desc_gpa, sizeof(struct vring_desc) * (uint64_t)vq->num);
	if (!table)
		return err_set(e, EFAULT, "virtq: descriptor table outside guest memory");
	for (;;) {
		struct vring_desc d;

		/* One copy: the guest may rewrite the descriptor while we look. */
		memcpy(&d, &table[i], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (walk_indirect(w, vq, &d, e) < 0)
				return -1;
		} else if (add_seg(w, vq, &d, e) < 0) {
			return -1;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return err_set(e, EPROTO, "virtq: indirect descriptor with NEXT set");
		if (d.next >= vq->num)
			return err_set(e, EPROTO, "virtq: next index %u beyond queue size %u",
			               d.next, vq->num);
		if (++seen >= vq->num)
			return err_set(e, ELOOP, "virtq: loop in descriptor chain from head %u",
			               head);
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *el, struct err *e)
{
	struct vring_avail *avail;
	struct walk w = {.el = el};
	uint16_t avail_idx, head;

	if (!vq->ready || !vq->num)
		return 0;
	avail = avail_ring(vq);
	if (!avail)
		return err_set(e, EFAULT, "virtq: avail ring outside guest memory");
	/* Acquire: the ring entry and descriptors were written before idx. */
	avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail && vq->event_idx) {
		/* Ask for a kick on the next entry, then look again: the driver
		 * may have added one before it could see avail_event. */
		struct vring_used *used = used_ring(vq);

		if (used)
			__atomic_store_n((uint16_t *)&used->ring[vq->num], vq->last_avail,
			                 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	}
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return err_set(e, EPROTO, "virtq: avail idx %u is %u ahead of %u, queue size %u",
		               avail_idx, (uint16_t)(avail_idx - vq->last_avail), vq->last_avail,
		               vq->num);
	head = load16(&avail->ring[vq->last_avail % vq->num]);
	if (head >= vq->num)
		return err_set(e, EPROTO, "virtq: head index %u beyond queue size %u", head,
		               vq->num);
	el->head = head;
	el->nr_out = el->nr_in = 0;
	if (walk_chain(&w, vq, head, e) < 0)
		return -1;
	if (w.out_len > UINT32_MAX || w.in_len > UINT32_MAX)
		return err_set(e, EPROTO, "virtq: chain larger than 4 GiB");
	el->out_len = w.out_len;
	el->in_len = w.in_len;
	vq->last_avail++;
	return 1;
}

void virtq_push(struct virtq *vq, const struct virtq_elem *el, uint32_t written)
{
	struct vring_used *used;
	struct vring_used_elem *u;

	if (!vq->ready)
		return; /* reset since the chain was taken: the driver forgot it */
	used = used_ring(vq);
	if (!used)
		return; /* checked when the queue was enabled; the device is broken anyway */
	if (written > el->in_len)
		written = el->in_len;
	u = &used->ring[vq->used_idx % vq->num];
	u->id = el->head;
	u->len = written;
	vq->used_idx++;
	/* Release: the entry and the data written into buffers come first. */
	__atomic_store_n(&used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *vq)
{
	struct vring_avail *avail = avail_ring(vq);
	uint16_t old = vq->signalled_used, new = vq->used_idx, event;
	bool valid = vq->signalled_valid;

	if (!avail)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * suppression fields, or both sides may skip the notification. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Nothing used since the last notification: nothing to say. */
	if (valid ? new == old : new == 0)
		return false;
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(load16(&avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	event = load16(&avail->ring[vq->num]); /* used_event */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

static size_t elem_copy(const struct virtq_elem *el, bool writable, size_t off, void *buf,
                        size_t len, bool to_guest)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned int n = virtq_elem_iov(el, writable, off, len, iov, VIRTQ_MAX_SEGS);
	size_t done = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (to_guest)
			memcpy(iov[i].iov_base, (uint8_t *)buf + done, iov[i].iov_len);
		else
			memcpy((uint8_t *)buf + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}

size_t virtq_elem_read(const struct virtq_elem *el, size_t off, void *buf, size_t len)
{
	return elem_copy(el, false, off, buf, len, false);
}

size_t virtq_elem_write(const struct virtq_elem *el, size_t off, const void *buf, size_t len)
{
	return elem_copy(el, true, off, (void *)buf, len, true);
}

unsigned int virtq_elem_iov(const struct virtq_elem *el, bool writable, size_t off, size_t len,
                            struct iovec *out, unsigned int max)
{
	unsigned int first = writable ? el->nr_out : 0;
	unsigned int end = writable ? el->nr_out + el->nr_in : el->nr_out;
	unsigned int n = 0;

	for (unsigned int i = first; i < end && len && n < max; i++) {
		size_t seg = el->iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		out[n].iov_base = (uint8_t *)el->iov[i].iov_base + off;
		out[n].iov_len = seg - off < len ? seg - off : len;
		len -= out[n].iov_len;
		off = 0;
		n++;
	}
	return n;
}
