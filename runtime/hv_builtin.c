/* runtime/hv_builtin.c: the "builtin" hypervisor driver: the VM runs inside
 * this process through libhako-vmm (vCPU threads and a device loop thread),
 * with hybrid vsock for the agent and an in-process virtio-fs server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/hvsock.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/hypervisor.h"
#include "vmm/vmm.h"

#define SHARED_TAG     "hako"
#define AGENT_PORT     1024
#define VSOCK_NAME     "vsock.sock"
#define CONSOLE_NAME   "console.log"
#define DEBUG_CMDLINE  "loglevel=7" /* after the default line's "quiet" */
#define CMDLINE_APPEND 4096
/* Longest wait for one hybrid-vsock handshake. Once its vsock driver runs
 * the guest kernel answers in milliseconds (even under software KVM); a
 * guest still booting, or one that stopped, does not, and the caller gets
 * control back to check alive() and dial again. */
#define DIAL_TRY_MS 10000

struct hv {
	struct hv_config_copy own; /* own.cfg: the configuration */
	char *vsock_path, *console_path, *cpuid_mask;
	char cmdline_append[CMDLINE_APPEND];
	struct vmm *vmm; /* between start and stop */
	bool started;
	/* how the VM ended, kept after stop frees it */
	enum vmm_exit_reason exit_reason;
	char exit_message[256];
};

/* The config's NULL-terminated CPUID mask as the VMM's "a,b,c" (NULL: none). */
static int join_cpuid_mask(struct hv *h, const char *const *m, struct err *e)
{
	size_t len = 0;
	char *s;

	if (!m || !m[0])
		return 0;
	for (size_t i = 0; m[i]; i++)
		len += strlen(m[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return err_set(e, ENOMEM, "builtin: out of memory");
	for (size_t i = 0; m[i]; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, m[i]);
	}
	h->cpuid_mask = s;
	return 0;
}

/* kernel_params after the VMM's default line for this host (and, for a
 * debug guest, a louder console). */
static int build_cmdline_append(struct hv *h, struct err *e)
{
	const char *params = h->own.cfg.kernel_params ? h->own.cfg.kernel_params : "";
	int n = snprintf(h->cmdline_append, sizeof(h->cmdline_append), "%s%s%s",
	                 h->own.cfg.debug ? DEBUG_CMDLINE : "",
	                 h->own.cfg.debug && *params ? " " : "", params);

	if (n < 0 || (size_t)n >= sizeof(h->cmdline_append))
		return err_set(e, E2BIG, "builtin: kernel_params longer than %d bytes",
		               CMDLINE_APPEND - 1);
	return 0;
}

/* The libhako-vmm configuration for h; its strings point into h. */
static void builtin_vmm_config(const struct hv *h, struct vmm_config *vc)
{
	const struct hv_config *c = &h->own.cfg;

	vmm_config_init(vc);
	vc->kernel = c->kernel;
	vc->initrd = c->initrd;
	vc->cmdline = NULL; /* vmm_default_cmdline() of this host */
	vc->cmdline_append = h->cmdline_append[0] ? h->cmdline_append : NULL;
	vc->mem_mib = c->memory_mib;
	vc->vcpus = c->vcpus;
	for (unsigned int i = 0; i < c->nr_disks; i++) {
		vc->disks[i].path = c->disks[i].path;
		vc->disks[i].readonly = c->disks[i].readonly;
	}
	vc->nr_disks = c->nr_disks;
	for (unsigned int i = 0; i < c->nr_nics; i++) {
		vc->taps[i].name = c->nics[i].tap_name;
		vc->taps[i].fd = -1;
		memcpy(vc->taps[i].mac, c->nics[i].mac, sizeof(vc->taps[i].mac));
	}
	vc->nr_taps = c->nr_nics;
	vc->vsock_uds = h->vsock_path;
	if (c->shared_dir) {
		vc->shares[0].tag = SHARED_TAG;
		vc->shares[0].dir = c->shared_dir;
		vc->nr_shares = 1;
	}
	vc->serial_fd = -1;
	vc->serial_path = h->console_path;
	vc->cpuid_mask = h->cpuid_mask;
}

static int check_config(const struct hv_config *cfg, struct err *e)
{
	if (!cfg->id || !cfg->run_dir)
		return err_set(e, EINVAL, "builtin: id and run_dir are required");
	if (!cfg->memory_mib || !cfg->vcpus)
		return err_set(e, EINVAL, "builtin: memory and vcpus must be > 0");
	if (cfg->vcpus > VMM_MAX_VCPUS)
		return err_set(e, EINVAL, "builtin: %u vcpus, at most %d", cfg->vcpus,
		               VMM_MAX_VCPUS);
	if (cfg->shared_dir && cfg->shared_fs == HV_SHARED_FS_VIRTIO_9P)
		return err_set(e, ENOTSUP, "not supported: shared_fs virtio-9p with builtin");
	if (cfg->shared_dir && cfg->shared_fs == HV_SHARED_FS_VIRTIO_BLK)
		return err_set(e, ENOTSUP, "not supported: shared_fs virtio-blk with builtin");
	if (cfg->nr_disks > VMM_MAX_DISKS || cfg->nr_nics > VMM_MAX_TAPS)
		return err_set(e, E2BIG, "builtin: at most %d disks and %d nics", VMM_MAX_DISKS,
		               VMM_MAX_TAPS);
	for (unsigned int i = 0; i < cfg->nr_nics; i++)
		if (!cfg->nics[i].tap_name)
			return err_set(e, EINVAL, "builtin: nic %u has no tap name", i);
	if (!cfg->kernel)
		return err_set(e, EINVAL, "builtin: no guest kernel configured");
	/* one clear error here rather than one from deep in the VMM */
	if (access(cfg->kernel, R_OK) < 0)
		return err_sys(e, "builtin: guest kernel %s", cfg->kernel);
	if (cfg->initrd && access(cfg->initrd, R_OK) < 0)
		return err_sys(e, "builtin: guest initrd %s", cfg->initrd);
	return 0;
}

static void builtin_free(struct hv *h);

static int builtin_create(struct hv **out, const struct hv_config *cfg, struct err *e)
{
	struct hv *h;

	if (check_config(cfg, e) < 0)
		return -1;
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, ENOMEM, "builtin: out of memory");
	if (hv_config_copy(&h->own, cfg, e) < 0)
		goto fail;
	/* qemu settings, meaningless in-process */
	h->own.cfg.path = h->own.cfg.accel = h->own.cfg.virtiofsd = NULL;
	if (join_cpuid_mask(h, cfg->cpuid_mask, e) < 0 || build_cmdline_append(h, e) < 0)
		goto fail;
	if (asprintf(&h->vsock_path, "%s/%s", h->own.cfg.run_dir, VSOCK_NAME) < 0) {
		h->vsock_path = NULL;
		err_set(e, ENOMEM, "builtin: out of memory");
		goto fail;
	}
	if (strlen(h->vsock_path) >= HVSOCK_PATH_MAX) {
		err_set(e, ENAMETOOLONG, "builtin: socket path too long: %s", h->vsock_path);
		goto fail;
	}
	if (h->own.cfg.console_log)
		h->console_path = strdup(h->own.cfg.console_log);
	else if (asprintf(&h->console_path, "%s/%s", h->own.cfg.run_dir, CONSOLE_NAME) < 0)
		h->console_path = NULL;
	if (!h->console_path) {
		err_set(e, ENOMEM, "builtin: out of memory");
		goto fail;
	}
	*out = h;
	return 0;
fail:
	builtin_free(h);
	return -1;
}

static int builtin_stop(struct hv *h, struct err *e);

static int builtin_start(struct hv *h, struct err *e)
{
	struct vmm_config vc;
	struct err se;

	if (h->started)
		return err_set(e, EBUSY, "builtin: %s already started", h->own.cfg.id);
	if (vmm_host_kind() == VMM_HOST_NONE)
		return err_set(e, ENODEV,
		               "builtin: not supported here: no KVM (/dev/kvm missing or not "
		               "usable)");
	h->started = true;
	unlink(h->vsock_path);
	builtin_vmm_config(h, &vc);
	if (vmm_create(&h->vmm, &vc, e) < 0) {
		h->vmm = NULL;
		goto fail;
	}
	log_debug("builtin: %s: guest command line: %s", h->own.cfg.id, vmm_cmdline(h->vmm));
	if (vmm_start(h->vmm, e) < 0)
		goto fail;
	log_debug("builtin: sandbox %s running in pid %d (%s KVM)", h->own.cfg.id, (int)getpid(),
	          vmm_host_kind_name(vmm_host_kind()));
	return 0;
fail:
	builtin_stop(h, &se);
	return err_ctx(e, "builtin: start %s", h->own.cfg.id);
}

/* Remember how the VM ended (it is about to be freed, or already ended). */
static void note_exit(struct hv *h)
{
	enum vmm_exit_reason r = vmm_exit_reason_of(h->vmm);
	const char *msg = vmm_exit_message(h->vmm);

	h->exit_reason = r;
	snprintf(h->exit_message, sizeof(h->exit_message), "%s%s%s", vmm_exit_reason_name(r),
	         msg && *msg ? ": " : "", msg ? msg : "");
}

static int builtin_stop(struct hv *h, struct err *e)
{
	(void)e;
	if (h->vmm) {
		bool ran = vmm_exit_reason_of(h->vmm) == VMM_EXIT_NONE;

		vmm_stop(h->vmm);
		vmm_wait(h->vmm);
		note_exit(h);
		/* a crash matters to whoever reads the log; a poweroff does not */
		if (!ran) {
			bool crash = h->exit_reason == VMM_EXIT_ERROR ||
			             h->exit_reason == VMM_EXIT_TRIPLE_FAULT;

			log_msg(crash ? LOG_WARN : LOG_DEBUG, "builtin: %s had ended: %s",
			        h->own.cfg.id, h->exit_message);
		}
		vmm_free(h->vmm);
		h->vmm = NULL;
	}
	if (h->vsock_path)
		unlink(h->vsock_path);
	return 0;
}

static int not_running(struct hv *h, struct err *e)
{
	if (h->vmm && vmm_exit_reason_of(h->vmm) != VMM_EXIT_NONE)
		note_exit(h);
	if (h->exit_message[0])
		return err_set(e, ESRCH, "builtin: %s is not running (%s)", h->own.cfg.id,
		               h->exit_message);
	return err_set(e, ESRCH, "builtin: %s is not running", h->own.cfg.id);
}

static bool builtin_alive(struct hv *h)
{
	return h->vmm && vmm_exit_reason_of(h->vmm) == VMM_EXIT_NONE;
}

static int builtin_pause(struct hv *h, struct err *e)
{
	if (!builtin_alive(h))
		return not_running(h, e);
	if (vmm_pause(h->vmm, e) < 0)
		return err_ctx(e, "builtin: pause %s", h->own.cfg.id);
	return 0;
}

static int builtin_resume(struct hv *h, struct err *e)
{
	if (!builtin_alive(h))
		return not_running(h, e);
	if (vmm_resume(h->vmm, e) < 0)
		return err_ctx(e, "builtin: resume %s", h->own.cfg.id);
	return 0;
}

/* Hybrid vsock: connect to the VMM's socket and ask for the agent's port. A
 * guest whose agent is not listening yet refuses (ECONNREFUSED), one that
 * does not answer times out after DIAL_TRY_MS: either way the caller
 * (agent_connect) checks alive() and dials again. */
static int builtin_agent_dial(struct hv *h, int timeout_ms, int *fd, struct err *e)
{
	if (!builtin_alive(h))
		return not_running(h, e);
	if (timeout_ms <= 0 || timeout_ms > DIAL_TRY_MS)
		timeout_ms = DIAL_TRY_MS;
	if (hvsock_dial(h->vsock_path, AGENT_PORT, timeout_ms, fd, e) < 0)
		return err_ctx(e, "builtin: agent of %s", h->own.cfg.id);
	return 0;
}

static enum hv_agent_transport builtin_agent_transport(struct hv *h)
{
	(void)h;
	return HV_AGENT_VSOCK;
}

static pid_t builtin_pid(struct hv *h)
{
	return h->vmm ? getpid() : 0;
}

/* The VM is this process: its resident memory (guest RAM the guest touched
 * included, as for qemu's process) and its CPU time, which also counts the
 * runtime's own threads. */
static int builtin_metrics(struct hv *h, struct hv_metrics *m, struct err *e)
{
	cleanup_free char *status = NULL;
	struct timespec ts;
	const char *p;
	size_t len;

	if (!builtin_alive(h))
		return not_running(h, e);
	if (util_read_file("/proc/self/status", 1 << 16, &status, &len, e) < 0)
		return err_ctx(e, "builtin: metrics");
	p = strstr(status, "\nVmRSS:");
	if (!p)
		return err_set(e, EPROTO, "builtin: no VmRSS in /proc/self/status");
	m->rss_bytes = strtoull(p + 7, NULL, 10) * 1024;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return err_sys(e, "builtin: process CPU time");
	m->cpu_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

static void builtin_free(struct hv *h)
{
	struct err e;

	if (!h)
		return;
	builtin_stop(h, &e);
	hv_config_copy_free(&h->own);
	free(h->vsock_path);
	free(h->console_path);
	free(h->cpuid_mask);
	free(h);
}

const struct hv_ops hv_builtin_ops = {
        .name = "builtin",
        .create = builtin_create,
        .start = builtin_start,
        .stop = builtin_stop,
        .pause = builtin_pause,
        .resume = builtin_resume,
        .agent_dial = builtin_agent_dial,
        .agent_transport = builtin_agent_transport,
        .pid = builtin_pid,
        .alive = builtin_alive,
        .metrics = builtin_metrics,
        .free = builtin_free,
};
