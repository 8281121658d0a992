/* vmm/vcpu.c: vCPU threads. Each runs KVM_RUN in a loop and serves the
 * exits on its own thread: port I/O (UART, i8042 reset, quiet legacy
 * ports), MMIO (the bus of virtio-mmio windows), and the exits that end the
 * VM. Other threads reach a vCPU only through vmm_vcpu_kick(). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/internal.h"

#define COM1_BASE 0x3f8

#define APIC_LVT0        0x350
#define APIC_LVT1        0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7
#define X86_EFLAGS_IF    0x200

int vmm_kick_signal(void)
{
	return SIGRTMIN + 6;
}

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

int vmm_kick_install(struct err *e)
{
	struct sigaction old, sa = {.sa_handler = kick_handler};
	int sig = vmm_kick_signal();

	if (sigaction(sig, NULL, &old) < 0)
		return err_sys(e, "sigaction %d", sig);
	if (old.sa_handler == kick_handler)
		return 0;
	if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
		return err_set(e, EBUSY, "signal %d (the vCPU kick signal) is in use", sig);
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		return err_sys(e, "sigaction %d", sig);
	return 0;
}

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, l->regs + reg, 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(l->regs + reg, &v, 4);
}

static int setup_boot_cpu(struct vmm_vcpu *c, struct err *e)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_sys(e, "KVM_GET_SREGS");
	vmm_boot_regs(&c->vm->boot, &regs, &sregs);
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_sys(e, "KVM_SET_SREGS");
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
		return err_sys(e, "KVM_SET_REGS");
	if (ioctl(c->fd, KVM_SET_FPU, &fpu) < 0)
		return err_sys(e, "KVM_SET_FPU");
	return 0;
}

int vmm_vcpu_create(struct vmm *v, unsigned int index, struct err *e)
{
	struct vmm_vcpu *c = &v->vcpus[index];
	size_t cpuid_size = sizeof(*v->cpuid) + v->cpuid->nent * sizeof(v->cpuid->entries[0]);
	struct kvm_cpuid2 *cpuid;
	struct kvm_lapic_state lapic;
	int mmap_size, r;

	c->vm = v;
	c->index = index;
	c->run = NULL;
	pthread_mutex_init(&c->kick_lock, NULL);
	c->fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (c->fd < 0)
		return err_sys(e, "KVM_CREATE_VCPU %u", index);
	mmap_size = ioctl(v->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		return err_sys(e, "KVM_GET_VCPU_MMAP_SIZE");
	c->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		return err_sys(e, "mmap vCPU %u", index);
	}
	c->run_size = (size_t)mmap_size;

	cpuid = malloc(cpuid_size);
	if (!cpuid)
		return err_set(e, ENOMEM, "out of memory");
	memcpy(cpuid, v->cpuid, cpuid_size);
	vmm_cpuid_set_vcpu(cpuid, index);
	r = ioctl(c->fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (r < 0)
		return err_sys(e, "KVM_SET_CPUID2 vCPU %u", index);

	/* LINT0 carries the 8259 (ExtINT), LINT1 the NMI, as on a PC. */
	if (ioctl(c->fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_sys(e, "KVM_GET_LAPIC");
	lapic_set_lvt(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(c->fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_sys(e, "KVM_SET_LAPIC");
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	return index == 0 ? setup_boot_cpu(c, e) : 0;
}

void vmm_vcpu_destroy(struct vmm_vcpu *c)
{
	if (c->run)
		munmap(c->run, c->run_size);
	if (c->fd >= 0)
		close(c->fd);
	c->run = NULL;
	c->fd = -1;
	pthread_mutex_destroy(&c->kick_lock);
}

void vmm_vcpu_kick(struct vmm_vcpu *c)
{
	if (!c->run)
		return;
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&c->kick_lock);
	if (c->started && !c->exited)
		pthread_kill(c->thread, vmm_kick_signal());
	pthread_mutex_unlock(&c->kick_lock);
}

static bool stopping(struct vmm *v)
{
	enum vmm_exit_reason r;

	pthread_mutex_lock(&v->lock);
	r = v->reason;
	pthread_mutex_unlock(&v->lock);
	return r != VMM_EXIT_NONE;
}

static void park(struct vmm_vcpu *c)
{
	struct vmm *v = c->vm;

	pthread_mutex_lock(&v->lock);
	if (v->paused && v->reason == VMM_EXIT_NONE) {
		atomic_store(&c->parked, true);
		pthread_cond_broadcast(&v->cond);
		while (v->paused && v->reason == VMM_EXIT_NONE)
			pthread_cond_wait(&v->cond, &v->lock);
		atomic_store(&c->parked, false);
	}
	pthread_mutex_unlock(&v->lock);
}

/* Answer the poweroff probe: is this vCPU halted with interrupts off, or
 * an application processor that was never started? */
static void probe(struct vmm_vcpu *c)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	bool dead = false;

	if (ioctl(c->fd, KVM_GET_MP_STATE, &mp) == 0) {
		if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
		    mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
			dead = true;
		else if (mp.mp_state == KVM_MP_STATE_HALTED &&
		         ioctl(c->fd, KVM_GET_REGS, &regs) == 0)
			dead = !(regs.rflags & X86_EFLAGS_IF);
	}
	atomic_store(&c->dead, dead);
}

static void do_pio(struct vmm_vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		uint16_t port = run->io.port;

		if (port >= COM1_BASE && port < COM1_BASE + 8) {
			vmm_serial_io(&c->vm->serial, port - COM1_BASE, write, data);
			continue;
		}
		if (vmm_legacy_io(port, write, data, run->io.size) == VMM_PIO_RESET)
			vmm_end(c->vm, VMM_EXIT_REBOOT, "guest reset through the i8042");
	}
}

static void do_mmio(struct vmm_vcpu *c)
{
	struct kvm_run *run = c->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned int len = run->mmio.len;
	struct vmm *v = c->vm;

	for (unsigned int i = 0; i < v->nr_mmio; i++) {
		struct vmm_mmio_dev *d = &v->mmio[i];

		if (addr < d->base || addr - d->base >= d->size)
			continue;
		if (run->mmio.is_write)
			d->write(d->opaque, addr - d->base, run->mmio.data, len);
		else
			d->read(d->opaque, addr - d->base, run->mmio.data, len);
		return;
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
	log_debug("vmm: vCPU %u: %s of unmapped MMIO 0x%llx", c->index,
	          run->mmio.is_write ? "write" : "read", (unsigned long long)addr);
}

static unsigned long long vcpu_rip(struct vmm_vcpu *c)
{
	struct kvm_regs regs;

	return ioctl(c->fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
}

/* Serve one exit; false when the VM ends. */
static bool handle_exit(struct vmm_vcpu *c)
{
	struct kvm_run *run = c->run;
	struct vmm *v = c->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		do_pio(c);
		return true;
	case KVM_EXIT_MMIO:
		do_mmio(c);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vmm_end(v, VMM_EXIT_TRIPLE_FAULT, "triple fault on vCPU %u at rip 0x%llx", c->index,
		        vcpu_rip(c));
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vmm_end(v, VMM_EXIT_REBOOT, "guest reset (system event)");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vmm_end(v, VMM_EXIT_POWEROFF, "guest shutdown (system event)");
		else
			vmm_end(v, VMM_EXIT_ERROR, "guest system event %u on vCPU %u",
			        run->system_event.type, c->index);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vmm_end(v, VMM_EXIT_ERROR,
		        "KVM internal error on vCPU %u: suberror %u at rip 0x%llx", c->index,
		        run->internal.suberror, vcpu_rip(c));
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vmm_end(v, VMM_EXIT_ERROR, "KVM entry failure on vCPU %u: reason 0x%llx", c->index,
		        (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vmm_end(v, VMM_EXIT_ERROR, "unhandled KVM exit %u on vCPU %u at rip 0x%llx",
		        run->exit_reason, c->index, vcpu_rip(c));
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *c = arg;
	struct vmm *v = c->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, vmm_kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		/* Clear the kick before looking at what it asked for, so a
		 * kick that lands after this point makes KVM_RUN return. */
		__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (stopping(v))
			break;
		park(c);
		if (atomic_exchange(&c->probe, false))
			probe(c);
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vmm_end(v, VMM_EXIT_ERROR, "KVM_RUN on vCPU %u: %s", c->index,
			        strerror(errno));
			break;
		}
		if (!handle_exit(c))
			break;
	}
	pthread_mutex_lock(&c->kick_lock);
	c->exited = true;
	pthread_mutex_unlock(&c->kick_lock);
	return NULL;
}

int vmm_vcpu_start(struct vmm_vcpu *c, struct err *e)
{
	int r;

	pthread_mutex_lock(&c->kick_lock);
	r = pthread_create(&c->thread, NULL, vcpu_thread, c);
	c->started = r == 0;
	pthread_mutex_unlock(&c->kick_lock);
	if (r)
		return err_set(e, r, "vCPU %u thread: %s", c->index, strerror(r));
	return 0;
}
