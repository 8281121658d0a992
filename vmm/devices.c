/* vmm/devices.c: the one place that puts devices on the VM's bus. Until the
 * virtio device model is built into libhako-vmm, a configuration that asks
 * for a device is refused by name. */
#include <errno.h>

#include "vmm/internal.h"

int vmm_devices_create(struct vmm *v, char **cmdline, struct err *e)
{
	(void)cmdline;
	if (v->cfg.nr_disks)
		return err_set(e, ENOTSUP, "not supported: virtio-blk");
	if (v->cfg.nr_taps)
		return err_set(e, ENOTSUP, "not supported: virtio-net");
	if (v->cfg.vsock_uds)
		return err_set(e, ENOTSUP, "not supported: virtio-vsock");
	if (v->cfg.nr_shares)
		return err_set(e, ENOTSUP, "not supported: virtio-fs");
	return 0;
}

void vmm_devices_free(struct vmm *v)
{
	(void)v;
}
