/* tests/unit/vmm/virtio/vdriver.h: a virtio driver played by the tests:
 * simulated guest memory, the mmio handshake, descriptor chains (direct and
 * indirect), kicks, and waiting on the loop for used entries. */
#ifndef HAKO_TESTS_VDRIVER_H
#define HAKO_TESTS_VDRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio.h"

#define VD_GPA_BASE 0x100000ULL /* nonzero: catches gpa/offset confusion */
#define VD_MMIO     0xd0000000ULL
#define VD_IRQ      5

struct vd_queue {
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* next avail->idx we publish */
	uint16_t used_seen; /* used entries consumed */
	uint16_t next_desc; /* rotating descriptor allocator */
};

struct vdriver {
	struct guest_mem mem;
	uint8_t *ram;
	uint64_t size, brk;
	struct loop *loop;
	struct virtio_host host;
	struct virtio_mmio mmio;
	struct virtio_dev *dev;
	int irqs; /* irq_trigger calls */
	struct vd_queue q[VIRTIO_MAX_QUEUES];
};

/* A buffer in a chain: guest address, length, device-writable or not. */
struct vd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

void vd_init(struct vdriver *v, uint64_t ram_size);
/* Put dev on the simulated bus (the vdriver owns and frees it in vd_fini). */
void vd_attach(struct vdriver *v, struct virtio_dev *dev);
void vd_fini(struct vdriver *v);

uint32_t vd_read32(struct vdriver *v, uint64_t off);
void vd_write32(struct vdriver *v, uint64_t off, uint32_t val);
/* Reset, ACK, DRIVER, write features, FEATURES_OK; returns the status read back. */
uint32_t vd_negotiate(struct vdriver *v, uint64_t features);
/* Allocate rings for queue q of num entries and set QueueReady. */
void vd_setup_queue(struct vdriver *v, unsigned int q, uint16_t num);
/* Set DRIVER_OK and run the loop until the device is activated. */
void vd_driver_ok(struct vdriver *v);
/* The usual sequence: negotiate features, set up nqueues queues of num entries, DRIVER_OK. */
void vd_start(struct vdriver *v, uint64_t features, unsigned int nqueues, uint16_t num);

/* Bump allocator in guest memory; returns a gpa. */
uint64_t vd_alloc(struct vdriver *v, uint64_t size, uint64_t align);
void *vd_ptr(struct vdriver *v, uint64_t gpa);

/* Add a chain and publish it; returns the head. indirect: one descriptor
 * pointing to a table holding the buffers. */
uint16_t vd_add(struct vdriver *v, unsigned int q, const struct vd_buf *bufs, unsigned int n,
                bool indirect);
/* Raw access for malformed chains: descriptor i of queue q, and publishing a head. */
void vd_set_desc(struct vdriver *v, unsigned int q, uint16_t i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next);
void vd_publish(struct vdriver *v, unsigned int q, uint16_t head);
void vd_kick(struct vdriver *v, unsigned int q);
/* Run the loop until queue q has a new used entry (1) or timeout_ms passes (0). */
int vd_wait_used(struct vdriver *v, unsigned int q, uint32_t *id, uint32_t *len, int timeout_ms);
/* Run the loop for about ms milliseconds. */
void vd_run(struct vdriver *v, int ms);
/* Run the loop until cond(arg) or timeout; returns cond's last value. */
bool vd_run_until(struct vdriver *v, bool (*cond)(void *), void *arg, int timeout_ms);

/* A device for transport and ring tests: 2 queues, copies each chain's
 * readable bytes into its writable part; 16 bytes of config 0, 1, 2... */
struct vd_echo {
	struct virtio_dev dev;
	uint8_t config[16];
	int activations, resets, notifies;
	unsigned int last_nr_out, last_nr_in;
	char last_err[ERR_MSG_MAX];
	struct virtq_elem el;
};

struct vd_echo *vd_echo_new(uint64_t features);

#define VD_DESC_F_NEXT     1
#define VD_DESC_F_WRITE    2
#define VD_DESC_F_INDIRECT 4

#endif
