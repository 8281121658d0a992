/* vmm/vm.c: one VM's lifecycle: KVM VM and guest memory, the in-kernel
 * interrupt controllers and PIT, kernel loading, the device loop thread, and
 * how the end of the VM is decided and waited for. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "vmm/internal.h"

#define KVM_API_VERSION_EXPECTED 12
#define DEFAULT_MEM_MIB          256
#define MIN_MEM_MIB              32
#define PROBE_INTERVAL_NS        100000000L /* poweroff detection period */

void vmm_config_init(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->serial_fd = -1;
	for (unsigned int i = 0; i < VMM_MAX_TAPS; i++)
		cfg->taps[i].fd = -1;
}

#define CONFIG_STRINGS (7 + VMM_MAX_DISKS + VMM_MAX_TAPS + 2 * VMM_MAX_SHARES + 1)

/* The string fields of a config; in the VM's copy they are owned by it. */
static void config_strings(struct vmm_config *c, const char **out[CONFIG_STRINGS])
{
	unsigned int n = 0;

	out[n++] = &c->kernel;
	out[n++] = &c->initrd;
	out[n++] = &c->cmdline;
	out[n++] = &c->cmdline_append;
	out[n++] = &c->vsock_uds;
	out[n++] = &c->serial_path;
	out[n++] = &c->cpuid_mask;
	for (unsigned int i = 0; i < VMM_MAX_DISKS; i++)
		out[n++] = &c->disks[i].path;
	for (unsigned int i = 0; i < VMM_MAX_TAPS; i++)
		out[n++] = &c->taps[i].name;
	for (unsigned int i = 0; i < VMM_MAX_SHARES; i++) {
		out[n++] = &c->shares[i].tag;
		out[n++] = &c->shares[i].dir;
	}
	out[n] = NULL;
}

static int config_copy(struct vmm_config *dst, const struct vmm_config *src, struct err *e)
{
	const char **s[CONFIG_STRINGS];

	*dst = *src;
	config_strings(dst, s);
	for (unsigned int i = 0; s[i]; i++) {
		if (*s[i] && !(*s[i] = strdup(*s[i]))) {
			for (unsigned int j = i + 1; s[j]; j++)
				*s[j] = NULL;
			return err_set(e, ENOMEM, "out of memory");
		}
	}
	return 0;
}

static void config_release(struct vmm_config *c)
{
	const char **s[CONFIG_STRINGS];

	config_strings(c, s);
	for (unsigned int i = 0; s[i]; i++) {
		free((char *)*s[i]);
		*s[i] = NULL;
	}
}

static int map_file(const char *what, const char *path, void **buf, size_t *len, struct err *e)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return err_sys(e, "%s %s", what, path);
	if (fstat(fd, &st) < 0)
		return err_sys(e, "%s %s", what, path);
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return err_set(e, EINVAL, "%s %s: not a non-empty regular file", what, path);
	*len = (size_t)st.st_size;
	*buf = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*buf == MAP_FAILED)
		return err_sys(e, "%s %s: mmap", what, path);
	return 0;
}

static int setup_memory(struct vmm *v, struct err *e)
{
	uint64_t size = (uint64_t)v->cfg.mem_mib << 20;
	uint64_t lo = size < VMM_MMIO_HOLE_START ? size : VMM_MMIO_HOLE_START;

	v->ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->ram == MAP_FAILED) {
		v->ram = NULL;
		return err_sys(e, "guest memory: mmap %u MiB", v->cfg.mem_mib);
	}
	v->ram_size = size;
	/* Guest RAM never needs to be in a core dump or copied on fork. */
	(void)madvise(v->ram, size, MADV_DONTDUMP);
	(void)madvise(v->ram, size, MADV_DONTFORK);
	v->mem.r[0] = (struct guest_region){0, lo, v->ram};
	v->mem.nr = 1;
	if (size > lo)
		v->mem.r[v->mem.nr++] =
		        (struct guest_region){VMM_MMIO_HOLE_END, size - lo, v->ram + lo};
	for (unsigned int i = 0; i < v->mem.nr; i++) {
		struct kvm_userspace_memory_region r = {
		        .slot = i,
		        .guest_phys_addr = v->mem.r[i].gpa,
		        .memory_size = v->mem.r[i].size,
		        .userspace_addr = (uint64_t)(uintptr_t)v->mem.r[i].host,
		};

		if (ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_sys(e, "KVM_SET_USER_MEMORY_REGION slot %u", i);
	}
	return 0;
}

static int setup_vm(struct vmm *v, struct err *e)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	int ver;

	v->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm_fd < 0)
		return err_sys(e, "open /dev/kvm");
	ver = ioctl(v->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION_EXPECTED)
		return err_set(e, ENOTSUP, "not supported: KVM API version %d", ver);
	v->vm_fd = ioctl(v->kvm_fd, KVM_CREATE_VM, 0);
	if (v->vm_fd < 0)
		return err_sys(e, "KVM_CREATE_VM");
	/* Intel needs these three pages inside the 32-bit hole; others ignore them. */
	if (ioctl(v->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_ADDR) < 0)
		return err_sys(e, "KVM_SET_TSS_ADDR");
	{
		uint64_t idmap = VMM_IDMAP_ADDR;

		if (ioctl(v->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
			log_debug("vmm: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(v->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_sys(e, "KVM_CREATE_IRQCHIP");
	if (ioctl(v->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_sys(e, "KVM_CREATE_PIT2");
	return setup_memory(v, e);
}

static int load_images(struct vmm *v, struct err *e)
{
	void *buf;
	size_t len;
	int r;

	if (map_file("kernel", v->cfg.kernel, &buf, &len, e) < 0)
		return -1;
	r = vmm_boot_load_kernel(&v->mem, buf, len, &v->boot, e);
	munmap(buf, len);
	if (r < 0)
		return err_ctx(e, "kernel %s", v->cfg.kernel);
	if (!v->cfg.initrd)
		return 0;
	if (map_file("initrd", v->cfg.initrd, &buf, &len, e) < 0)
		return -1;
	r = vmm_boot_load_initrd(&v->mem, buf, len, &v->boot, e);
	munmap(buf, len);
	return r < 0 ? err_ctx(e, "initrd %s", v->cfg.initrd) : 0;
}

static int get_cpuid(struct vmm *v, struct err *e)
{
	for (uint32_t n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return err_set(e, ENOMEM, "out of memory");
		c->nent = n;
		if (ioctl(v->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			v->cpuid = c;
			return vmm_cpuid_apply(c, v->cfg.cpuid_mask, v->host, e);
		}
		free(c);
		if (errno != E2BIG)
			return err_sys(e, "KVM_GET_SUPPORTED_CPUID");
	}
	return err_set(e, E2BIG, "KVM_GET_SUPPORTED_CPUID: table too large");
}

static int build_cmdline(struct vmm *v, struct err *e)
{
	const char *base = v->cfg.cmdline ? v->cfg.cmdline : vmm_default_cmdline(v->host);
	const char *add = v->cfg.cmdline_append;

	if (asprintf(&v->cmdline, "%s%s%s", base, add && *add ? " " : "", add ? add : "") < 0) {
		v->cmdline = NULL;
		return err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

static int open_serial(struct vmm *v, struct err *e)
{
	v->serial_fd = -1;
	if (v->cfg.serial_fd < 0 && v->cfg.serial_path) {
		v->serial_fd = open(v->cfg.serial_path,
		                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
		if (v->serial_fd < 0)
			return err_sys(e, "serial output %s", v->cfg.serial_path);
	}
	vmm_serial_init(&v->serial, v->cfg.serial_fd >= 0 ? v->cfg.serial_fd : v->serial_fd,
	                vmm_irq_edge, v);
	return 0;
}

int vmm_irq_edge(void *ctx, uint32_t irq)
{
	struct vmm *v = ctx;
	struct kvm_irq_level l = {.irq = irq, .level = 1};

	if (ioctl(v->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -1;
	l.level = 0;
	return ioctl(v->vm_fd, KVM_IRQ_LINE, &l);
}

static int host_ioeventfd(void *ctx, uint64_t gpa, uint32_t value, int fd, struct err *e)
{
	struct vmm *v = ctx;
	struct kvm_ioeventfd io = {
	        .datamatch = value,
	        .addr = gpa,
	        .len = 4,
	        .fd = fd,
	        .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(v->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_sys(e, "KVM_IOEVENTFD at 0x%llx", (unsigned long long)gpa);
	return 0;
}

int vmm_mmio_add(struct vmm *v, const struct vmm_mmio_dev *d, struct err *e)
{
	if (v->nr_mmio >= VMM_MAX_MMIO)
		return err_set(e, ENOSPC, "too many MMIO devices (max %d)", VMM_MAX_MMIO);
	v->mmio[v->nr_mmio++] = *d;
	return 0;
}

static int vmm_create_inner(struct vmm *v, struct err *e)
{
	if (v->cfg.vcpus == 0)
		v->cfg.vcpus = 1;
	if (v->cfg.mem_mib == 0)
		v->cfg.mem_mib = DEFAULT_MEM_MIB;
	if (v->cfg.vcpus > VMM_MAX_VCPUS)
		return err_set(e, EINVAL, "vcpus: %u is more than %d", v->cfg.vcpus, VMM_MAX_VCPUS);
	if (v->cfg.mem_mib < MIN_MEM_MIB)
		return err_set(e, EINVAL, "memory: %u MiB is less than %d MiB", v->cfg.mem_mib,
		               MIN_MEM_MIB);
	if (!v->cfg.kernel)
		return err_set(e, EINVAL, "no kernel given");
	v->host = vmm_host_kind();
	if (v->host == VMM_HOST_NONE)
		return err_set(e, ENODEV, "no usable /dev/kvm (missing, or no read/write access)");
	if (setup_vm(v, e) < 0 || load_images(v, e) < 0 || open_serial(v, e) < 0)
		return -1;
	if (loop_new(&v->loop, e) < 0)
		return -1;
	v->vhost = (struct virtio_host){
	        .mem = &v->mem,
	        .loop = v->loop,
	        .ctx = v,
	        .irq_trigger = vmm_irq_edge,
	        .ioeventfd = ioctl(v->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0
	                             ? host_ioeventfd
	                             : NULL,
	};
	if (build_cmdline(v, e) < 0 || vmm_devices_create(v, &v->cmdline, e) < 0)
		return -1;
	if (vmm_boot_setup(&v->mem, &v->boot, v->cmdline, e) < 0 ||
	    vmm_mptable_write(&v->mem, v->cfg.vcpus, e) < 0 || get_cpuid(v, e) < 0)
		return -1;
	for (unsigned int i = 0; i < v->cfg.vcpus; i++) {
		v->nr_vcpus++; /* counted first so that vmm_free cleans a half-made one */
		if (vmm_vcpu_create(v, i, e) < 0)
			return -1;
	}
	return 0;
}

int vmm_create(struct vmm **out, const struct vmm_config *cfg, struct err *e)
{
	struct vmm *v = calloc(1, sizeof(*v));

	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	v->kvm_fd = v->vm_fd = v->serial_fd = v->probe_timer = -1;
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->join_lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	vmm_serial_init(&v->serial, -1, NULL, NULL);
	if (config_copy(&v->cfg, cfg, e) < 0 || vmm_create_inner(v, e) < 0) {
		vmm_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

void vmm_end(struct vmm *v, enum vmm_exit_reason r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&v->lock);
	if (v->reason == VMM_EXIT_NONE) {
		v->reason = r;
		va_start(ap, fmt);
		vsnprintf(v->message, sizeof(v->message), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		vmm_vcpu_kick(&v->vcpus[i]);
	if (v->loop)
		loop_stop(v->loop);
}

/* Linux without ACPI powers off by halting every CPU with interrupts off.
 * No exit reaches us for that (the in-kernel LAPIC handles HLT), so every
 * PROBE_INTERVAL the loop thread asks each vCPU to look at its own state;
 * when all of them last reported "halted, IF=0" the guest is off. */
static void probe_tick(void *data, uint32_t events)
{
	struct vmm *v = data;
	uint64_t ticks;
	bool all_dead = true;

	(void)events;
	if (read(v->probe_timer, &ticks, sizeof(ticks)) < 0)
		return;
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		if (!atomic_load(&v->vcpus[i].dead))
			all_dead = false;
	if (all_dead) {
		vmm_end(v, VMM_EXIT_POWEROFF, "all vCPUs halted with interrupts disabled");
		return;
	}
	for (unsigned int i = 0; i < v->nr_vcpus; i++) {
		atomic_store(&v->vcpus[i].probe, true);
		vmm_vcpu_kick(&v->vcpus[i]);
	}
}

static void *loop_thread(void *arg)
{
	struct vmm *v = arg;
	struct err e = {0};

	if (loop_run(v->loop, &e) < 0)
		vmm_end(v, VMM_EXIT_ERROR, "device loop: %s", e.msg);
	return NULL;
}

int vmm_start(struct vmm *v, struct err *e)
{
	struct itimerspec its = {
	        .it_interval = {0, PROBE_INTERVAL_NS},
	        .it_value = {0, PROBE_INTERVAL_NS},
	};
	int r;

	if (v->started)
		return err_set(e, EBUSY, "VM already started");
	if (vmm_kick_install(e) < 0)
		return -1;
	v->probe_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->probe_timer < 0)
		return err_sys(e, "timerfd_create");
	if (timerfd_settime(v->probe_timer, 0, &its, NULL) < 0)
		return err_sys(e, "timerfd_settime");
	if (loop_add(v->loop, v->probe_timer, EPOLLIN, probe_tick, v, e) < 0)
		return -1;
	r = pthread_create(&v->loop_thread, NULL, loop_thread, v);
	if (r)
		return err_set(e, r, "device loop thread: %s", strerror(r));
	v->loop_started = true;
	pthread_mutex_lock(&v->lock);
	v->started = true;
	pthread_mutex_unlock(&v->lock);
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		if (vmm_vcpu_start(&v->vcpus[i], e) < 0) {
			vmm_end(v, VMM_EXIT_ERROR, "%s", e->msg);
			return -1;
		}
	return 0;
}

static void join_all(struct vmm *v)
{
	pthread_mutex_lock(&v->join_lock);
	if (v->joined) {
		pthread_mutex_unlock(&v->join_lock);
		return;
	}
	v->joined = true;
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		if (v->vcpus[i].started)
			pthread_join(v->vcpus[i].thread, NULL);
	if (v->loop_started) {
		loop_stop(v->loop);
		pthread_join(v->loop_thread, NULL);
	}
	pthread_mutex_unlock(&v->join_lock);
}

enum vmm_exit_reason vmm_wait(struct vmm *v)
{
	enum vmm_exit_reason r;

	pthread_mutex_lock(&v->lock);
	while (v->started && v->reason == VMM_EXIT_NONE)
		pthread_cond_wait(&v->cond, &v->lock);
	r = v->reason;
	pthread_mutex_unlock(&v->lock);
	join_all(v);
	return r;
}

enum vmm_exit_reason vmm_exit_reason_of(struct vmm *v)
{
	enum vmm_exit_reason r;

	pthread_mutex_lock(&v->lock);
	r = v->reason;
	pthread_mutex_unlock(&v->lock);
	return r;
}

const char *vmm_exit_message(struct vmm *v)
{
	return v->message;
}

static bool all_parked(struct vmm *v)
{
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		if (!atomic_load(&v->vcpus[i].parked))
			return false;
	return true;
}

int vmm_pause(struct vmm *v, struct err *e)
{
	pthread_mutex_lock(&v->lock);
	if (!v->started || v->reason != VMM_EXIT_NONE) {
		pthread_mutex_unlock(&v->lock);
		return err_set(e, EINVAL, "VM is not running");
	}
	v->paused = true;
	pthread_mutex_unlock(&v->lock);
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		vmm_vcpu_kick(&v->vcpus[i]);
	pthread_mutex_lock(&v->lock);
	while (!all_parked(v) && v->reason == VMM_EXIT_NONE)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int vmm_resume(struct vmm *v, struct err *e)
{
	pthread_mutex_lock(&v->lock);
	if (!v->paused) {
		pthread_mutex_unlock(&v->lock);
		return err_set(e, EINVAL, "VM is not paused");
	}
	v->paused = false;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void vmm_stop(struct vmm *v)
{
	vmm_end(v, VMM_EXIT_SHUTDOWN, "stopped by the host");
}

void vmm_free(struct vmm *v)
{
	if (!v)
		return;
	if (v->started) {
		vmm_stop(v);
		vmm_wait(v);
	}
	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		vmm_vcpu_destroy(&v->vcpus[i]);
	vmm_devices_free(v);
	if (v->loop)
		loop_free(v->loop);
	if (v->probe_timer >= 0)
		close(v->probe_timer);
	vmm_serial_destroy(&v->serial);
	if (v->serial_fd >= 0)
		close(v->serial_fd);
	if (v->vm_fd >= 0)
		close(v->vm_fd);
	if (v->kvm_fd >= 0)
		close(v->kvm_fd);
	if (v->ram)
		munmap(v->ram, v->ram_size);
	free(v->cpuid);
	free(v->cmdline);
	config_release(&v->cfg);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->join_lock);
	free(v);
}

const char *vmm_cmdline(const struct vmm *v)
{
	return v->cmdline;
}

uint64_t vmm_overhead_rss(const struct vmm *v)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long size = 0, resident = 0;
	uint64_t guest = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	if (v->ram) {
		size_t pages = v->ram_size / (size_t)page;
		unsigned char *vec = malloc(pages);

		if (vec && mincore(v->ram, v->ram_size, vec) == 0)
			for (size_t i = 0; i < pages; i++)
				guest += vec[i] & 1;
		free(vec);
	}
	return (resident > guest ? resident - guest : 0) * (uint64_t)page;
}
