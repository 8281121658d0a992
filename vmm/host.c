/* vmm/host.c: what kind of KVM this host has, the kernel command line baked
 * in for each kind (from guest/cmdline-* at build time), and names. */
#include <unistd.h>

#include "vmm-cmdline.h"
#include "vmm/internal.h"

enum vmm_host_kind vmm_host_kind(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return VMM_HOST_NONE;
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return VMM_HOST_SOFTWARE_PVM;
	return VMM_HOST_HARDWARE;
}

const char *vmm_host_kind_name(enum vmm_host_kind k)
{
	switch (k) {
	case VMM_HOST_HARDWARE:
		return "hardware";
	case VMM_HOST_SOFTWARE_PVM:
		return "software-pvm";
	default:
		return "none";
	}
}

const char *vmm_default_cmdline(enum vmm_host_kind k)
{
	return k == VMM_HOST_SOFTWARE_PVM ? VMM_CMDLINE_SWKVM : VMM_CMDLINE_HW;
}

const char *vmm_exit_reason_name(enum vmm_exit_reason r)
{
	switch (r) {
	case VMM_EXIT_NONE:
		return "running";
	case VMM_EXIT_POWEROFF:
		return "poweroff";
	case VMM_EXIT_REBOOT:
		return "reboot";
	case VMM_EXIT_TRIPLE_FAULT:
		return "triple-fault";
	case VMM_EXIT_SHUTDOWN:
		return "shutdown";
	default:
		return "error";
	}
}
