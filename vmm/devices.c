/* vmm/devices.c: the one place that puts devices on the VM's bus: each
 * virtio device of the configuration gets a virtio-mmio window at
 * VMM_VIRTIO_BASE + n * VMM_VIRTIO_STRIDE, an ISA interrupt, and its
 * "virtio_mmio.device=" entry on the guest command line. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/util.h"
#include "vmm/internal.h"

#define DEFAULT_CID 3

/* ISA lines left free by the PIT (0), keyboard (1), cascade (2), COM2/COM1
 * (3, 4) and the RTC (8). */
static const uint32_t device_irqs[] = {5, 6, 7, 9, 10, 11, 12, 13, 14, 15};
#define MAX_DEVICES ARRAY_SIZE(device_irqs)

struct vmm_devices {
	unsigned int nr;
	struct {
		struct virtio_dev *dev;
		struct virtio_mmio mmio;
		bool on_bus;
	} d[MAX_DEVICES];
};

static void mmio_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	virtio_mmio_read(opaque, off, data, len);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	virtio_mmio_write(opaque, off, data, len);
}

static int open_tap(const char *name, struct err *e)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	int fd;

	if (strlen(name) >= IFNAMSIZ)
		return err_set(e, EINVAL, "tap name too long: %s", name);
	strcpy(ifr.ifr_name, name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "tap %s: open /dev/net/tun", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err_sys(e, "tap %s: TUNSETIFF", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Put a new device (owned from now, even on failure) on the bus. */
static int attach(struct vmm *v, struct virtio_dev *dev, char **cmdline, struct err *e)
{
	struct vmm_devices *ds = v->devices;
	unsigned int n = ds->nr;
	uint64_t base = VMM_VIRTIO_BASE + n * VMM_VIRTIO_STRIDE;
	char entry[96], *line;

	if (n >= MAX_DEVICES) {
		virtio_dev_free(dev);
		return err_set(e, ENOSPC, "too many devices (at most %zu)", MAX_DEVICES);
	}
	ds->d[n].dev = dev;
	ds->nr++;
	if (virtio_mmio_init(&ds->d[n].mmio, dev, &v->vhost, base, device_irqs[n], e) < 0)
		return -1;
	ds->d[n].on_bus = true;
	if (vmm_mmio_add(v,
	                 &(struct vmm_mmio_dev){base, VIRTIO_MMIO_SIZE, mmio_read, mmio_write,
	                                        &ds->d[n].mmio},
	                 e) < 0)
		return -1;
	if (virtio_mmio_cmdline(&ds->d[n].mmio, entry, sizeof(entry)) < 0 ||
	    asprintf(&line, "%s %s", *cmdline, entry) < 0)
		return err_set(e, ENOMEM, "out of memory");
	free(*cmdline);
	*cmdline = line;
	return 0;
}

static int add_taps(struct vmm *v, char **cmdline, struct err *e)
{
	for (unsigned int i = 0; i < v->cfg.nr_taps; i++) {
		const struct vmm_tap *t = &v->cfg.taps[i];
		uint8_t mac[6] = {0x02, 'h', 'a', 'k', 'o', (uint8_t)i}, zero[6] = {0};
		cleanup_close int own = -1;
		struct virtio_dev *dev;

		if (memcmp(t->mac, zero, 6) != 0)
			memcpy(mac, t->mac, 6);
		if (t->name && (own = open_tap(t->name, e)) < 0)
			return -1;
		if (virtio_net_new(&dev, t->name ? own : t->fd, mac, e) < 0 ||
		    attach(v, dev, cmdline, e) < 0)
			return err_ctx(e, "tap %s", t->name ? t->name : "fd");
	}
	return 0;
}

int vmm_devices_create(struct vmm *v, char **cmdline, struct err *e)
{
	struct virtio_dev *dev;

	v->devices = calloc(1, sizeof(*v->devices));
	if (!v->devices)
		return err_set(e, ENOMEM, "out of memory");
	for (unsigned int i = 0; i < v->cfg.nr_disks; i++) {
		const struct vmm_disk *d = &v->cfg.disks[i];

		if (virtio_blk_new(&dev, d->path, d->readonly, e) < 0 ||
		    attach(v, dev, cmdline, e) < 0)
			return err_ctx(e, "disk %s", d->path);
	}
	if (add_taps(v, cmdline, e) < 0)
		return -1;
	if (v->cfg.vsock_uds) {
		uint64_t cid = v->cfg.vsock_cid ? v->cfg.vsock_cid : DEFAULT_CID;

		if (virtio_vsock_new(&dev, cid, v->cfg.vsock_uds, e) < 0 ||
		    attach(v, dev, cmdline, e) < 0)
			return -1;
	}
	for (unsigned int i = 0; i < v->cfg.nr_shares; i++) {
		const struct vmm_share *s = &v->cfg.shares[i];

		if (virtio_fs_new(&dev, s->tag, s->dir, e) < 0 || attach(v, dev, cmdline, e) < 0)
			return err_ctx(e, "share %s", s->tag);
	}
	return 0;
}

/* After the loop thread is gone: transports first (they reset active
 * devices and drop their eventfds from the loop), then the devices. */
void vmm_devices_free(struct vmm *v)
{
	struct vmm_devices *ds = v->devices;

	if (!ds)
		return;
	for (unsigned int i = 0; i < ds->nr; i++) {
		if (ds->d[i].on_bus)
			virtio_mmio_destroy(&ds->d[i].mmio);
		virtio_dev_free(ds->d[i].dev);
	}
	free(ds);
	v->devices = NULL;
}
