/* vmm/internal.h: what the core files of libhako-vmm share with each other
 * and with their unit tests (boot layout, CPUID policy, legacy devices, the
 * MMIO bus). Not for other components: they use vmm/vmm.h. */
#ifndef HAKO_VMM_INTERNAL_H
#define HAKO_VMM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/loop.h"
#include "vmm/virtio.h"
#include "vmm/vmm.h"

/* ---- guest physical layout (x86) -------------------------------------- */

#define VMM_GDT_ADDR        0x500ULL
#define VMM_IDT_ADDR        0x520ULL
#define VMM_START_INFO_ADDR 0x6000ULL /* PVH hvm_start_info, memmap after it */
#define VMM_PVH_MEMMAP_ADDR 0x6100ULL
#define VMM_PVH_MODLIST     0x6800ULL
#define VMM_ZERO_PAGE_ADDR  0x7000ULL /* struct boot_params */
#define VMM_BOOT_STACK      0x8ff0ULL
#define VMM_PML4_ADDR       0x9000ULL /* then PDPT at 0xa000, 4 PDs at 0xb000 */
#define VMM_CMDLINE_ADDR    0x20000ULL
#define VMM_CMDLINE_MAX     0x10000U
#define VMM_EBDA_START      0x9fc00ULL /* MP table lives here (reserved) */
#define VMM_HIMEM_START     0x100000ULL
#define VMM_BZIMAGE_LOAD    0x100000ULL
#define VMM_MMIO_HOLE_START 0xc0000000ULL /* 32-bit hole: virtio, IOAPIC, LAPIC */
#define VMM_MMIO_HOLE_END   0x100000000ULL
#define VMM_VIRTIO_BASE     0xd0000000ULL /* device n at base + n * 0x1000 */
#define VMM_VIRTIO_STRIDE   0x1000ULL
#define VMM_TSS_ADDR        0xfffbd000ULL
#define VMM_IDMAP_ADDR      0xfffbc000ULL
#define VMM_IOAPIC_ADDR     0xfec00000U
#define VMM_LAPIC_ADDR      0xfee00000U

#define VMM_SERIAL_IRQ 4

/* ---- boot (vmm/boot.c, vmm/mptable.c) --------------------------------- */

enum vmm_boot_kind { VMM_BOOT_PVH, VMM_BOOT_ELF64, VMM_BOOT_BZIMAGE };

#define VMM_SETUP_HDR_OFF 0x1f1 /* setup header inside bzImage and boot_params */
#define VMM_SETUP_HDR_MAX (0x290 - VMM_SETUP_HDR_OFF)

struct vmm_boot {
	enum vmm_boot_kind kind;
	uint64_t entry;                       /* guest physical entry point */
	uint64_t kernel_start, kernel_end;    /* guest physical range loaded */
	uint64_t initrd_addr, initrd_size;    /* 0 size: none */
	uint64_t initrd_max;                  /* last byte an initrd may use */
	uint8_t setup_hdr[VMM_SETUP_HDR_MAX]; /* bzImage: its header, copied */
	size_t setup_hdr_len;
};

#define VMM_E820_RAM      1
#define VMM_E820_RESERVED 2
#define VMM_E820_MAX      8

struct vmm_e820 {
	uint64_t addr, size;
	uint32_t type;
};

/* Load an ELF vmlinux (PVH entry when it has the Xen note, else 64-bit) or a
 * bzImage from buf into guest memory. */
int vmm_boot_load_kernel(const struct guest_mem *m, const void *buf, size_t len, struct vmm_boot *b,
                         struct err *e);
/* Find XEN_ELFNOTE_PHYS32_ENTRY in an ELF64 image: 1 found (*entry set),
 * 0 not there, -1 malformed. */
int vmm_boot_pvh_entry(const void *buf, size_t len, uint64_t *entry, struct err *e);
/* Copy an initrd as high as allowed below the 32-bit hole and b->initrd_max. */
int vmm_boot_load_initrd(const struct guest_mem *m, const void *buf, size_t len, struct vmm_boot *b,
                         struct err *e);
/* The memory map the guest is told about; returns the number of entries. */
unsigned int vmm_boot_e820(const struct guest_mem *m, struct vmm_e820 *out);
/* Write command line, zero page or PVH start_info, GDT, IDT and page tables. */
int vmm_boot_setup(const struct guest_mem *m, const struct vmm_boot *b, const char *cmdline,
                   struct err *e);
/* Boot CPU registers for b (sregs as read from KVM, adjusted in place). */
void vmm_boot_regs(const struct vmm_boot *b, struct kvm_regs *regs, struct kvm_sregs *sregs);
/* Intel MP table at VMM_EBDA_START: CPUs, one IOAPIC, ISA irqs 0-15. */
int vmm_mptable_write(const struct guest_mem *m, unsigned int ncpus, struct err *e);

/* ---- CPUID (vmm/cpuid.c) ---------------------------------------------- */

/* Hide the features named in list (comma separated; NULL or "" hides none),
 * set the hypervisor bit, and apply the host kind's fixups. */
int vmm_cpuid_apply(struct kvm_cpuid2 *c, const char *list, enum vmm_host_kind kind, struct err *e);
/* Per-vCPU values: the initial APIC id in leaves 1 and 0xb. */
void vmm_cpuid_set_vcpu(struct kvm_cpuid2 *c, unsigned int index);
struct kvm_cpuid_entry2 *vmm_cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx);

/* ---- legacy devices (vmm/serial.c, vmm/legacy.c) ----------------------- */

typedef int (*vmm_irq_fn)(void *ctx, uint32_t irq);

/* An 8250/16550A UART: output only, interrupts for THR empty. */
struct vmm_serial {
	pthread_mutex_t lock;
	int out_fd; /* -1: discard */
	uint8_t ier, iir_fcr, lcr, mcr, scr, dll, dlm;
	bool thri_pending;
	vmm_irq_fn irq;
	void *irq_ctx;
};

void vmm_serial_init(struct vmm_serial *s, int out_fd, vmm_irq_fn irq, void *ctx);
void vmm_serial_destroy(struct vmm_serial *s);
/* Access to register off (0..7) of the UART. */
void vmm_serial_io(struct vmm_serial *s, unsigned int off, bool write, uint8_t *data);

/* What a port I/O access asks of the VM. */
enum vmm_pio_result { VMM_PIO_OK, VMM_PIO_RESET };

/* i8042 (reset only) and the ports a PC guest probes; data is len bytes. */
enum vmm_pio_result vmm_legacy_io(uint16_t port, bool write, uint8_t *data, unsigned int len);

/* ---- the VM (vmm/vm.c, vmm/vcpu.c, vmm/devices.c) ---------------------- */

#define VMM_MAX_MMIO 16

struct vmm_mmio_dev {
	uint64_t base, size;
	void (*read)(void *opaque, uint64_t off, void *data, unsigned int len);
	void (*write)(void *opaque, uint64_t off, const void *data, unsigned int len);
	void *opaque;
};

struct vmm_vcpu {
	struct vmm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	pthread_mutex_t kick_lock; /* kicks never reach a thread that has ended */
	bool started, exited;      /* under kick_lock */
	atomic_bool probe;         /* asked to report whether it is halted for good */
	atomic_bool dead;          /* last probe: halted with interrupts off (or never started) */
	atomic_bool parked;        /* waiting in pause */
};

struct vmm_devices; /* vmm/devices.c */

struct vmm {
	struct vmm_config cfg;
	enum vmm_host_kind host;
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	uint8_t *ram;
	size_t ram_size;
	struct vmm_boot boot;
	char *cmdline;
	struct kvm_cpuid2 *cpuid;
	unsigned int nr_vcpus;
	struct vmm_vcpu vcpus[VMM_MAX_VCPUS];
	struct vmm_serial serial;
	int serial_fd; /* owned when opened from serial_path */
	struct vmm_mmio_dev mmio[VMM_MAX_MMIO];
	unsigned int nr_mmio;
	struct vmm_devices *devices;
	struct loop *loop;
	pthread_t loop_thread;
	bool loop_started;
	int probe_timer; /* timerfd on the loop: poweroff detection */
	struct virtio_host vhost;

	pthread_mutex_t join_lock; /* vmm_wait may be called from several threads */
	pthread_mutex_t lock;      /* guards everything below */
	pthread_cond_t cond;
	bool started;
	bool paused;
	bool joined;
	enum vmm_exit_reason reason;
	char message[ERR_MSG_MAX];
};

/* Record the end of the VM (first call wins) and kick everything. */
void vmm_end(struct vmm *v, enum vmm_exit_reason r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Put a device on the MMIO bus. */
int vmm_mmio_add(struct vmm *v, const struct vmm_mmio_dev *d, struct err *e);
/* Raise ISA/IOAPIC line irq as an edge. */
int vmm_irq_edge(void *ctx, uint32_t irq);

/* vCPU threads (vmm/vcpu.c). */
int vmm_vcpu_create(struct vmm *v, unsigned int index, struct err *e);
void vmm_vcpu_destroy(struct vmm_vcpu *c);
int vmm_vcpu_start(struct vmm_vcpu *c, struct err *e);
/* Make the vCPU leave KVM_RUN soon (immediate_exit + VMM_KICK_SIGNAL). */
void vmm_vcpu_kick(struct vmm_vcpu *c);
int vmm_kick_install(struct err *e);

/* Devices on the bus (vmm/devices.c): creates what cfg asks for and appends
 * their virtio_mmio.device= entries to *cmdline (realloc'd). */
int vmm_devices_create(struct vmm *v, char **cmdline, struct err *e);
void vmm_devices_free(struct vmm *v);

#endif
