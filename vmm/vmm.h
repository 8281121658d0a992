/* vmm/vmm.h: libhako-vmm, the built-in KVM hypervisor (x86-64). One struct
 * vmm is one VM inside the calling process: the runtime's builtin driver and
 * the hako-vmm CLI both use this API. No globals, no exit(), and the only
 * signal touched is VMM_KICK_SIGNAL (see vmm_kick_signal()). */
#ifndef HAKO_VMM_VMM_H
#define HAKO_VMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define VMM_MAX_DISKS  8
#define VMM_MAX_TAPS   4
#define VMM_MAX_SHARES 4
#define VMM_MAX_VCPUS  32

enum vmm_host_kind {
	VMM_HOST_NONE,         /* no usable /dev/kvm */
	VMM_HOST_HARDWARE,     /* KVM on VMX/SVM */
	VMM_HOST_SOFTWARE_PVM, /* kvm_pvm: software-emulated guest kernel mode */
};

enum vmm_exit_reason {
	VMM_EXIT_NONE,         /* still running (vmm_exit_reason_of before the end) */
	VMM_EXIT_POWEROFF,     /* guest powered off: every vCPU halted with interrupts off */
	VMM_EXIT_REBOOT,       /* guest asked for a reset (i8042 command 0xfe) */
	VMM_EXIT_TRIPLE_FAULT, /* KVM_EXIT_SHUTDOWN: the guest triple-faulted */
	VMM_EXIT_SHUTDOWN,     /* the host stopped the VM (vmm_stop) */
	VMM_EXIT_ERROR,        /* a KVM or VMM failure; vmm_exit_message() says what */
};

struct vmm_disk {
	const char *path;
	bool readonly;
};

struct vmm_tap {
	const char *name; /* tap interface to open, or NULL to use fd */
	int fd;           /* an open tap fd (kept open by the caller), when name is NULL */
	uint8_t mac[6];   /* all zero: derived from the device index */
};

struct vmm_share {
	const char *tag;
	const char *dir;
};

struct vmm_config {
	const char *kernel; /* ELF vmlinux (PVH note preferred) or bzImage */
	const char *initrd; /* NULL: none */
	/* NULL: vmm_default_cmdline(vmm_host_kind()). The VMM appends the
	 * virtio_mmio.device= entries of the devices it creates. */
	const char *cmdline;
	const char *cmdline_append; /* added after cmdline, or NULL */
	unsigned int mem_mib;       /* 0: 256 */
	unsigned int vcpus;         /* 0: 1 */
	struct vmm_disk disks[VMM_MAX_DISKS];
	unsigned int nr_disks;
	struct vmm_tap taps[VMM_MAX_TAPS];
	unsigned int nr_taps;
	const char *vsock_uds; /* hybrid vsock socket path, or NULL */
	uint64_t vsock_cid;    /* 0: 3 */
	struct vmm_share shares[VMM_MAX_SHARES];
	unsigned int nr_shares;
	int serial_fd;           /* COM1 output; -1 with serial_path NULL: discarded */
	const char *serial_path; /* opened (created, appended) when serial_fd < 0 */
	/* Comma-separated CPUID feature names to hide ("avx,xsave,pcid"). */
	const char *cpuid_mask;
};

struct vmm;

/* Set the defaults (serial_fd -1, everything else empty/0). */
void vmm_config_init(struct vmm_config *cfg);

/* Open KVM, create the VM, its memory, devices and vCPUs, load the kernel.
 * Nothing runs yet. cfg is copied. */
int vmm_create(struct vmm **out, const struct vmm_config *cfg, struct err *e);
/* Start the vCPU threads and the device loop thread. */
int vmm_start(struct vmm *v, struct err *e);
/* Block until the guest exits or vmm_stop() is called, and join the VM's
 * threads; returns the reason. Any number of threads may wait. */
enum vmm_exit_reason vmm_wait(struct vmm *v);
/* Non-blocking: VMM_EXIT_NONE while the VM runs. */
enum vmm_exit_reason vmm_exit_reason_of(struct vmm *v);
/* What went wrong for VMM_EXIT_ERROR (or a short note for other reasons). */
const char *vmm_exit_message(struct vmm *v);
/* Park every vCPU outside KVM_RUN / let them run again. Devices keep running. */
int vmm_pause(struct vmm *v, struct err *e);
int vmm_resume(struct vmm *v, struct err *e);
/* Ask the VM to end (reason VMM_EXIT_SHUTDOWN unless it ended already);
 * thread-safe, returns at once, vmm_wait() returns soon after. */
void vmm_stop(struct vmm *v);
/* Stop if needed, join threads, free everything. */
void vmm_free(struct vmm *v);

/* The full command line the guest got (after vmm_create). */
const char *vmm_cmdline(const struct vmm *v);
/* Resident memory of this process minus the guest RAM that is resident. */
uint64_t vmm_overhead_rss(const struct vmm *v);

const char *vmm_exit_reason_name(enum vmm_exit_reason r);
enum vmm_host_kind vmm_host_kind(void);
const char *vmm_host_kind_name(enum vmm_host_kind k);
/* The kernel command line baked in at build time for this kind of host. */
const char *vmm_default_cmdline(enum vmm_host_kind k);
/* The signal used to kick vCPU threads out of KVM_RUN (SIGRTMIN+6). vmm_start
 * installs an empty handler for it if its disposition is SIG_DFL; programs
 * embedding the VMM must leave it alone. */
int vmm_kick_signal(void);

#endif
