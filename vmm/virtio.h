/* vmm/virtio.h: the device model inside libhako-vmm. Split virtqueues over
 * guest memory, a virtio device as a small ops table (kvmtool style), and
 * the virtio-mmio (version 2) transport that puts a device on the bus.
 *
 * Threads: register accesses (virtio_mmio_read/write) arrive on vCPU
 * threads; queue work runs on the device event loop thread. Each device has
 * a mutex (struct virtio_dev.lock) that both take. A device never blocks
 * the loop: it reads/writes its backend fds non-blocking or hands slow work
 * to a helper thread of its own.
 *
 * Everything here works without KVM: unit tests build a struct guest_mem
 * over a malloc'd buffer, play the driver through virtio_mmio_write(), and
 * run the loop. */
#ifndef HAKO_VMM_VIRTIO_H
#define HAKO_VMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lib/err.h"
#include "lib/loop.h"

/* ---- guest memory ---------------------------------------------------- */

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
	uint64_t gpa;  /* guest physical start */
	uint64_t size; /* bytes */
	uint8_t *host; /* where it is mapped in this process */
};

struct guest_mem {
	unsigned int nr;
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
};

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL.
 * len 0 is allowed. Never trust a guest address without this. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* ---- split virtqueues (virtio 1.x, section 2.7) ------------------------ */

#define VIRTQ_MAX_SIZE 1024 /* QueueNumMax we offer at most */
#define VIRTQ_MAX_SEGS 256  /* descriptors in one chain (direct + indirect) */

struct virtq {
	uint16_t num; /* size chosen by the driver, power of two */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail; /* next avail ring entry to take */
	uint16_t used_idx;   /* our copy of used->idx */
	uint16_t signalled_used;
	bool signalled_valid;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	const struct guest_mem *mem;
};

/* One descriptor chain taken from the avail ring, mapped into host iovecs:
 * iov[0..nr_out) are device-readable (driver -> device), then
 * iov[nr_out..nr_out+nr_in) are device-writable (device -> driver). */
struct virtq_elem {
	uint16_t head;
	unsigned int nr_out, nr_in;
	uint32_t out_len, in_len; /* total bytes of each part */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Take the next chain. Returns 1 when one was taken, 0 when the ring is
 * empty, -1 (e filled) when the driver broke the rules: address outside
 * guest memory, a loop, more than VIRTQ_MAX_SEGS descriptors, a readable
 * descriptor after a writable one, a nested indirect table, a bad index. A
 * device that gets -1 sets DEVICE_NEEDS_RESET (virtio_dev_broken). */
int virtq_pop(struct virtq *vq, struct virtq_elem *el, struct err *e);
/* Return a chain to the driver with `written` bytes put in its writable part. */
void virtq_push(struct virtq *vq, const struct virtq_elem *el, uint32_t written);
/* After pushes: does the driver want an interrupt (event idx / NO_INTERRUPT)? */
bool virtq_should_notify(struct virtq *vq);
/* Copy helpers between an element's parts and a flat buffer. */
size_t virtq_elem_read(const struct virtq_elem *el, size_t off, void *buf, size_t len);
size_t virtq_elem_write(const struct virtq_elem *el, size_t off, const void *buf, size_t len);
/* Describe bytes [off, off+len) of the readable (writable=false) or writable
 * part as at most max iovecs in out (for preadv/writev); returns how many,
 * and shortens the range to what fits in the element and in max. */
unsigned int virtq_elem_iov(const struct virtq_elem *el, bool writable, size_t off, size_t len,
                            struct iovec *out, unsigned int max);

/* ---- devices ----------------------------------------------------------- */

#define VIRTIO_MAX_QUEUES 8

/* Device status bits (virtio 1.x 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* Feature bits common to all devices. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device ids. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_VSOCK   19
#define VIRTIO_ID_FS      26

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned int num_queues;
	/* Device configuration space (little endian as the spec says). */
	void (*read_config)(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
	void (*write_config)(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
	/* DRIVER_OK was set: queues are ready, start the backend. Called on the
	 * loop thread, lock held (the transport posts it there), so it may add
	 * fds to host->loop; every ready queue then gets a queue_notify. */
	int (*activate)(struct virtio_dev *d, struct err *e);
	/* The driver kicked queue q; called on the loop thread, lock held. */
	void (*queue_notify)(struct virtio_dev *d, unsigned int q);
	/* The driver wrote status 0 (or the transport goes away) after a
	 * successful activate: drop in-flight state, stop the backend. Loop
	 * thread, lock held, like activate. */
	void (*reset)(struct virtio_dev *d);
	/* Free priv and backend resources; the VM is going away. */
	void (*destroy)(struct virtio_dev *d);
	/* Optional: the driver is writing status 0 (vCPU thread, lock held).
	 * Return once no request in flight can touch guest memory any more; a
	 * device with worker threads waits for them here. reset follows on
	 * the loop thread. */
	void (*quiesce)(struct virtio_dev *d);
};

struct virtio_host;

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	uint64_t host_features;   /* offered, VIRTIO_F_VERSION_1 always set */
	uint64_t driver_features; /* accepted by the driver */
	uint32_t status;
	uint32_t isr; /* interrupt status: bit 0 used buffer, bit 1 config */
	uint32_t config_generation;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	pthread_mutex_t lock;
	struct virtio_host *host; /* set by the transport */
	void *transport;          /* the struct virtio_mmio owning it */
};

/* Initialise the common part; ops and priv belong to the caller. */
void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
                     uint64_t features);
/* Tell the driver that queue q has used buffers (if it wants to know and
 * something was pushed since the last time). Call with d->lock held. */
void virtio_dev_notify_used(struct virtio_dev *d, unsigned int q);
/* Tell the driver the config space changed. */
void virtio_dev_notify_config(struct virtio_dev *d);
/* The driver broke the protocol: set DEVICE_NEEDS_RESET, log why. */
void virtio_dev_broken(struct virtio_dev *d, const struct err *why);
bool virtio_dev_has_feature(const struct virtio_dev *d, unsigned int bit);

/* ---- what the VMM gives a transport ------------------------------------ */

struct virtio_host {
	const struct guest_mem *mem;
	struct loop *loop; /* the device event loop */
	void *ctx;
	/* Raise interrupt line irq (edge); callable from any thread. */
	int (*irq_trigger)(void *ctx, uint32_t irq);
	/* Optional (NULL: not available): have guest writes of `value` to gpa
	 * signal fd without a VM exit (KVM_IOEVENTFD). */
	int (*ioeventfd)(void *ctx, uint64_t gpa, uint32_t value, int fd, struct err *e);
};

/* ---- virtio-mmio transport (virtio 1.x 4.2, version 2 only) ------------ */

#define VIRTIO_MMIO_SIZE 0x200

struct virtio_mmio {
	struct virtio_dev *dev;
	struct virtio_host *host;
	uint64_t base;
	uint32_t irq;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	int notify_fd[VIRTIO_MAX_QUEUES]; /* eventfds kicked by QueueNotify */
	/* Loop-thread state, under dev->lock: ops->activate/reset run on the
	 * loop thread (they add and remove fds there), posted by status writes. */
	bool active;        /* ops->activate succeeded, no reset since */
	bool reset_pending; /* status 0 written, ops->reset not yet run */
};

/* Put dev on the bus at base with interrupt irq: creates one eventfd per
 * queue, watches them on host->loop and asks host->ioeventfd for each. */
int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *dev, struct virtio_host *host,
                     uint64_t base, uint32_t irq, struct err *e);
/* Take the device off the bus (resets it if active). Call it when the loop
 * no longer runs (a status write may have posted work for m there) and
 * before loop_free. */
void virtio_mmio_destroy(struct virtio_mmio *m);
/* Guest access at offset off (< VIRTIO_MMIO_SIZE), len 1, 2 or 4 (config
 * space any size). Bad offsets read as 0 and are logged, never fatal. */
void virtio_mmio_read(struct virtio_mmio *m, uint64_t off, void *data, unsigned int len);
void virtio_mmio_write(struct virtio_mmio *m, uint64_t off, const void *data, unsigned int len);
/* "virtio_mmio.device=512@0xd0000000:5" for the guest command line. */
int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t size);

/* ---- the devices (one file each under vmm/virtio/ and vmm/fs/) -------- */

/* Each returns a device ready for virtio_mmio_init(); free with
 * virtio_dev_free() after virtio_mmio_destroy(). Fds given to a constructor
 * are duplicated (the caller keeps and closes its own) and set O_NONBLOCK,
 * which their other copies share; they must be pollable (tap, socket, pipe,
 * tty), not regular files. */
int virtio_blk_new(struct virtio_dev **out, const char *path, bool readonly, struct err *e);
int virtio_net_new(struct virtio_dev **out, int tap_fd, const uint8_t mac[6], struct err *e);
/* Hybrid vsock: host side listens on uds_path ("CONNECT <port>\n" from host
 * programs), guest connections to host port P go to "<uds_path>_<P>". */
int virtio_vsock_new(struct virtio_dev **out, uint64_t guest_cid, const char *uds_path,
                     struct err *e);
/* virtio-fs: FUSE passthrough of shared_dir under tag, in this process. */
int virtio_fs_new(struct virtio_dev **out, const char *tag, const char *shared_dir, struct err *e);
int virtio_console_new(struct virtio_dev **out, int in_fd, int out_fd, struct err *e);
void virtio_dev_free(struct virtio_dev *d);

#endif
