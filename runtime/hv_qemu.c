/* runtime/hv_qemu.c: the "qemu" hypervisor driver: a qemu-system-x86_64
 * microvm child (accel kvm or tcg), virtiofsd as a second child for the
 * shared directory, QMP for control and a virtio-serial port for the agent. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/hypervisor.h"
#include "runtime/qmp.h"
#include "vmm/vmm.h"

#define QEMU_DEFAULT_PATH      "/usr/bin/qemu-system-x86_64"
#define VIRTIOFSD_DEFAULT_PATH "/usr/lib/qemu/virtiofsd"
#define SHARED_TAG             "hako"
#define AGENT_PORT_NAME        "agent.channel.0"
#define START_TIMEOUT_MS       10000
#define QMP_TIMEOUT_MS         5000
#define STOP_GRACE_MS          3000

/* What the guest kernel always gets; the config's kernel_params follow. */
#define BASE_CMDLINE "console=ttyS0 panic=-1 reboot=t"

struct child {
	const char *what;
	pid_t pid; /* 0: not running (never started or reaped) */
	int status;
};

struct hv {
	struct hv_config_copy own; /* own.cfg: the configuration */
	char accel[4];
	char *qmp_path, *agent_path, *vfsd_path, *console_path, *qemu_log, *vfsd_log;
	struct child qemu, vfsd;
	struct qmp *qmp;
	bool started, qmp_seen;
};

/* ---- small helpers ------------------------------------------------------ */

static char *run_path(const struct hv *h, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", h->own.cfg.run_dir, name) < 0)
		return NULL;
	return p;
}

/* A growing NULL-terminated argument vector; ok turns false on OOM. */
struct args {
	char **v;
	size_t n, cap;
	bool ok;
};

static void __attribute__((format(printf, 2, 3))) args_add(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!a->ok)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->ok = false;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		a->ok = false;
		s = NULL;
	}
	va_end(ap);
	if (!s)
		return;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void args_free(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

static bool path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* kvm when /dev/kvm is usable hardware virtualization; tcg otherwise (also
 * under the software-emulated kvm_pvm, where TCG is far faster). */
static const char *pick_accel(const char *want)
{
	if (want && (!strcmp(want, "kvm") || !strcmp(want, "tcg")))
		return want;
	if (access("/dev/kvm", R_OK | W_OK) != 0 || path_exists("/sys/module/kvm_pvm"))
		return "tcg";
	return "kvm";
}

/* ---- children ----------------------------------------------------------- */

/* Fork and exec argv with stdout/stderr to log, in its own process group,
 * killed if we die (PDEATHSIG follows the forking thread: call this from a
 * thread that lives as long as the VM). Exec errors come back through a
 * close-on-exec pipe. */
static int spawn(struct child *c, char *const argv[], const char *log, struct err *e)
{
	pid_t parent = getpid();
	int p[2], child_errno = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "%s: pipe", c->what);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "%s: fork", c->what);
	}
	if (pid == 0) {
		int fd;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		child_errno = errno;
		n = write(p[1], &child_errno, sizeof(child_errno));
		(void)n;
		_exit(127);
	}
	close(p[1]);
	do
		n = read(p[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		errno = child_errno;
		return err_sys(e, "%s: exec %s", c->what, argv[0]);
	}
	c->pid = pid;
	c->status = 0;
	log_debug("qemu: started %s, pid %d", c->what, (int)pid);
	return 0;
}

/* Has the child exited? Reaps it if so. */
static bool child_exited(struct child *c)
{
	pid_t r;

	if (!c->pid)
		return true;
	do
		r = waitpid(c->pid, &c->status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (r < 0 && errno != ECHILD)
		return false;
	c->pid = 0;
	return true;
}

/* Wait up to grace_ms for the child to exit, then kill its process group
 * (saying so when warn: an orderly stop should not need it). */
static void child_end(struct child *c, int grace_ms, bool warn)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)grace_ms * 1000000ull;
	pid_t pid = c->pid;

	while (!child_exited(c) && util_now_ns() < deadline)
		usleep(10000);
	if (!c->pid)
		return;
	log_msg(warn ? LOG_WARN : LOG_DEBUG, "qemu: %s (pid %d) did not exit in %d ms, killing it",
	        c->what, (int)pid, grace_ms);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
}

/* The end of a child's log, for error messages. */
static void log_tail(const char *path, char *out, size_t size)
{
	cleanup_free char *buf = NULL;
	struct err e;
	size_t len, from;

	out[0] = 0;
	if (util_read_file(path, 1 << 20, &buf, &len, &e) < 0)
		return;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	from = len > size - 1 ? len - (size - 1) : 0;
	snprintf(out, size, "%s", buf + from);
}

static int child_died(struct child *c, const char *log, struct err *e)
{
	char tail[256];

	log_tail(log, tail, sizeof(tail));
	if (WIFSIGNALED(c->status))
		return err_set(e, ECHILD, "%s was killed by signal %d: %s", c->what,
		               WTERMSIG(c->status), tail);
	return err_set(e, ECHILD, "%s exited with status %d: %s", c->what, WEXITSTATUS(c->status),
	               tail);
}

/* ---- command lines ------------------------------------------------------ */

static int start_virtiofsd(struct hv *h, struct err *e)
{
	struct args a = {.ok = true};
	unsigned long long deadline;
	int r = 0;

	args_add(&a, "%s", h->own.cfg.virtiofsd ? h->own.cfg.virtiofsd : VIRTIOFSD_DEFAULT_PATH);
	args_add(&a, "--socket-path=%s", h->vfsd_path);
	args_add(&a, "-o");
	args_add(&a, "source=%s", h->own.cfg.shared_dir);
	args_add(&a, "-o");
	args_add(&a, "cache=none");
	if (!a.ok) {
		args_free(&a);
		return err_set(e, ENOMEM, "virtiofsd: out of memory");
	}
	unlink(h->vfsd_path);
	r = spawn(&h->vfsd, a.v, h->vfsd_log, e);
	args_free(&a);
	if (r < 0)
		return -1;
	/* QEMU must find the socket when it starts. */
	deadline = util_now_ns() + START_TIMEOUT_MS * 1000000ull;
	while (!path_exists(h->vfsd_path)) {
		if (child_exited(&h->vfsd))
			return child_died(&h->vfsd, h->vfsd_log, e);
		if (util_now_ns() > deadline)
			return err_set(e, ETIMEDOUT, "virtiofsd: no socket %s after %d ms",
			               h->vfsd_path, START_TIMEOUT_MS);
		usleep(5000);
	}
	return 0;
}

static void qemu_args(struct hv *h, struct args *a)
{
	const struct hv_config *c = &h->own.cfg;
	bool vfs = c->shared_dir && c->shared_fs == HV_SHARED_FS_VIRTIO_FS;
	bool tcg = !strcmp(h->accel, "tcg");
	/* KVM that is software-emulated (kvm_pvm) boots only hako's workaround
	 * line (guest/cmdline-swkvm, as the builtin VMM uses it), and the guest
	 * reboots through an i8042 there: reboot=t's int3 is fatal under PVM. */
	bool swkvm = !tcg && vmm_host_kind() == VMM_HOST_SOFTWARE_PVM;

	args_add(a, "%s", c->path ? c->path : QEMU_DEFAULT_PATH);
	args_add(a, "-name");
	args_add(a, "hako-%s", c->id);
	args_add(a, "-M");
	args_add(a, "microvm,acpi=off%s", vfs ? ",memory-backend=mem" : "");
	args_add(a, "-accel");
	args_add(a, "%s", h->accel);
	args_add(a, "-cpu");
	args_add(a, "%s", tcg ? "max" : "host");
	args_add(a, "-m");
	args_add(a, "%uM", c->memory_mib);
	args_add(a, "-smp");
	args_add(a, "%u", c->vcpus);
	if (vfs) {
		/* vhost-user needs guest memory QEMU can share with virtiofsd */
		args_add(a, "-object");
		args_add(a, "memory-backend-memfd,id=mem,size=%uM,share=on", c->memory_mib);
	}
	if (c->kernel) {
		args_add(a, "-kernel");
		args_add(a, "%s", c->kernel);
		if (c->initrd) {
			args_add(a, "-initrd");
			args_add(a, "%s", c->initrd);
		}
		args_add(a, "-append");
		if (swkvm)
			args_add(a, "%s%s%s", vmm_default_cmdline(VMM_HOST_SOFTWARE_PVM),
			         c->kernel_params ? " " : "",
			         c->kernel_params ? c->kernel_params : "");
		else
			args_add(a, "%s%s%s%s", BASE_CMDLINE, c->debug ? "" : " quiet",
			         c->kernel_params ? " " : "",
			         c->kernel_params ? c->kernel_params : "");
	}
	if (swkvm) {
		args_add(a, "-device");
		args_add(a, "i8042");
	}
	args_add(a, "-nodefaults");
	args_add(a, "-no-user-config");
	args_add(a, "-nographic");
	args_add(a, "-no-reboot");
	args_add(a, "-serial");
	args_add(a, "file:%s", h->console_path);
	args_add(a, "-qmp");
	args_add(a, "unix:%s,server=on,wait=off", h->qmp_path);
	/* virtiofsd refuses legacy virtio; modern mmio suits every device */
	args_add(a, "-global");
	args_add(a, "virtio-mmio.force-legacy=false");
	args_add(a, "-device");
	args_add(a, "virtio-serial-device");
	args_add(a, "-chardev");
	args_add(a, "socket,id=agent,path=%s,server=on,wait=off", h->agent_path);
	args_add(a, "-device");
	args_add(a, "virtserialport,chardev=agent,name=%s", AGENT_PORT_NAME);
	if (vfs) {
		args_add(a, "-chardev");
		args_add(a, "socket,id=vfs,path=%s", h->vfsd_path);
		args_add(a, "-device");
		args_add(a, "vhost-user-fs-device,chardev=vfs,tag=%s", SHARED_TAG);
	} else if (c->shared_dir && c->shared_fs == HV_SHARED_FS_VIRTIO_9P) {
		args_add(a, "-fsdev");
		args_add(a, "local,id=fs9p,path=%s,security_model=none", c->shared_dir);
		args_add(a, "-device");
		args_add(a, "virtio-9p-device,fsdev=fs9p,mount_tag=%s", SHARED_TAG);
	}
	for (unsigned int i = 0; i < c->nr_disks; i++) {
		args_add(a, "-drive");
		args_add(a, "file=%s,if=none,id=disk%u,format=raw%s", c->disks[i].path, i,
		         c->disks[i].readonly ? ",readonly=on" : "");
		args_add(a, "-device");
		args_add(a, "virtio-blk-device,drive=disk%u", i);
	}
	for (unsigned int i = 0; i < c->nr_nics; i++) {
		const uint8_t *m = c->nics[i].mac;

		args_add(a, "-netdev");
		args_add(a, "tap,id=net%u,ifname=%s,script=no,downscript=no", i,
		         c->nics[i].tap_name);
		args_add(a, "-device");
		args_add(a, "virtio-net-device,netdev=net%u,mac=%02x:%02x:%02x:%02x:%02x:%02x", i,
		         m[0], m[1], m[2], m[3], m[4], m[5]);
	}
}

/* ---- driver operations -------------------------------------------------- */

static void qemu_free(struct hv *h);

static int qemu_create(struct hv **out, const struct hv_config *cfg, struct err *e)
{
	struct hv *h;

	if (!cfg->id || !cfg->run_dir)
		return err_set(e, EINVAL, "qemu: id and run_dir are required");
	if (cfg->shared_dir && cfg->shared_fs == HV_SHARED_FS_VIRTIO_BLK)
		return err_set(e, ENOTSUP, "not supported: shared_fs virtio-blk with qemu");
	if (!cfg->memory_mib || !cfg->vcpus)
		return err_set(e, EINVAL, "qemu: memory and vcpus must be > 0");
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, ENOMEM, "qemu: out of memory");
	h->qemu.what = "qemu";
	h->vfsd.what = "virtiofsd";
	/* cpuid_mask is not copied: a builtin-VMM setting */
	if (hv_config_copy(&h->own, cfg, e) < 0)
		goto fail;
	snprintf(h->accel, sizeof(h->accel), "%s", pick_accel(cfg->accel));
	h->qmp_path = run_path(h, "qmp.sock");
	h->agent_path = run_path(h, "agent.sock");
	h->vfsd_path = run_path(h, "virtiofsd.sock");
	h->qemu_log = run_path(h, "qemu.log");
	h->vfsd_log = run_path(h, "virtiofsd.log");
	h->console_path = h->own.cfg.console_log ? strdup(h->own.cfg.console_log)
	                                         : run_path(h, "console.log");
	if (!h->qmp_path || !h->agent_path || !h->vfsd_path || !h->qemu_log || !h->vfsd_log ||
	    !h->console_path) {
		err_set(e, ENOMEM, "qemu: out of memory");
		goto fail;
	}
	*out = h;
	return 0;
fail:
	qemu_free(h);
	return -1;
}

static int qemu_stop(struct hv *h, struct err *e);

static int qemu_start(struct hv *h, struct err *e)
{
	struct args a = {.ok = true};
	unsigned long long deadline;
	struct err qe;
	int r;

	if (h->started)
		return err_set(e, EBUSY, "qemu: %s already started", h->own.cfg.id);
	h->started = true;
	if (h->own.cfg.shared_dir && h->own.cfg.shared_fs == HV_SHARED_FS_VIRTIO_FS &&
	    start_virtiofsd(h, e) < 0)
		goto fail;
	unlink(h->qmp_path);
	unlink(h->agent_path);
	qemu_args(h, &a);
	if (!a.ok) {
		args_free(&a);
		err_set(e, ENOMEM, "qemu: out of memory");
		goto fail;
	}
	if (log_enabled(LOG_DEBUG))
		for (size_t i = 0; i < a.n; i++)
			log_debug("qemu: arg %s", a.v[i]);
	r = spawn(&h->qemu, a.v, h->qemu_log, e);
	args_free(&a);
	if (r < 0)
		goto fail;
	/* Running once QMP answers; a bad command line ends QEMU before that. */
	deadline = util_now_ns() + START_TIMEOUT_MS * 1000000ull;
	while (qmp_connect(&h->qmp, h->qmp_path, 100, &qe) < 0) {
		if (child_exited(&h->qemu)) {
			child_died(&h->qemu, h->qemu_log, e);
			goto fail;
		}
		if (util_now_ns() > deadline) {
			err_set(e, ETIMEDOUT, "qemu: no QMP after %d ms: %s", START_TIMEOUT_MS,
			        qe.msg);
			goto fail;
		}
	}
	h->qmp_seen = true;
	log_debug("qemu: sandbox %s running (pid %d, accel %s)", h->own.cfg.id, (int)h->qemu.pid,
	          h->accel);
	return 0;
fail:
	qemu_stop(h, &qe);
	return err_ctx(e, "qemu: start %s", h->own.cfg.id);
}

/* Debian's virtiofsd locks /run/virtiofsd/<socket path, '/' -> '.'>.pid
 * and leaves the file behind. */
static void remove_virtiofsd_pidfile(const struct hv *h)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "/run/virtiofsd/%s.pid", h->vfsd_path);

	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	for (char *p = path + strlen("/run/virtiofsd/"); *p; p++)
		if (*p == '/')
			*p = '.';
	unlink(path);
}

static int qemu_stop(struct hv *h, struct err *e)
{
	(void)e;
	if (h->qmp) {
		struct err qe;

		/* QEMU may close the socket before or instead of answering */
		if (h->qemu.pid && qmp_execute(h->qmp, "quit", NULL, NULL, 1000, &qe) < 0)
			log_debug("qemu: %s", qe.msg);
		qmp_close(h->qmp);
		h->qmp = NULL;
	}
	child_end(&h->qemu, h->qemu.pid ? STOP_GRACE_MS : 0, true);
	/* virtiofsd ends by itself once a QEMU that connected to it has gone */
	if (h->vfsd.pid) {
		child_end(&h->vfsd, 1000, h->qmp_seen);
		remove_virtiofsd_pidfile(h);
	}
	unlink(h->qmp_path);
	unlink(h->agent_path);
	unlink(h->vfsd_path);
	return 0;
}

static int qemu_qmp_simple(struct hv *h, const char *cmd, struct err *e)
{
	if (!h->qmp)
		return err_set(e, ESRCH, "qemu: %s is not running", h->own.cfg.id);
	if (qmp_execute(h->qmp, cmd, NULL, NULL, QMP_TIMEOUT_MS, e) < 0)
		return err_ctx(e, "qemu: %s", h->own.cfg.id);
	return 0;
}

static int qemu_pause(struct hv *h, struct err *e)
{
	return qemu_qmp_simple(h, "stop", e);
}

static int qemu_resume(struct hv *h, struct err *e)
{
	return qemu_qmp_simple(h, "cont", e);
}

/* QEMU's socket chardev serves one client at a time: a second connection
 * waits in the listen backlog until the first one closes. */
static int qemu_agent_dial(struct hv *h, int timeout_ms, int *fd, struct err *e)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(h->agent_path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "qemu: socket path too long: %s", h->agent_path);
	strcpy(sa.sun_path, h->agent_path);
	for (;;) {
		int s;

		if (child_exited(&h->qemu))
			return err_set(e, ESRCH, "qemu: %s is not running", h->own.cfg.id);
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return err_sys(e, "qemu: socket");
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*fd = s;
			return 0;
		}
		close(s);
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EINTR)
			return err_sys(e, "qemu: connect %s", h->agent_path);
		if (util_now_ns() > deadline)
			return err_sys(e, "qemu: connect %s: timed out", h->agent_path);
		usleep(10000);
	}
}

static enum hv_agent_transport qemu_agent_transport(struct hv *h)
{
	(void)h;
	return HV_AGENT_SERIAL;
}

static pid_t qemu_pid(struct hv *h)
{
	return h->qemu.pid;
}

static bool qemu_alive(struct hv *h)
{
	return !child_exited(&h->qemu);
}

static int qemu_metrics(struct hv *h, struct hv_metrics *m, struct err *e)
{
	cleanup_free char *status = NULL, *stat = NULL;
	char path[64];
	unsigned long long utime, stime;
	const char *p;
	size_t len;

	if (!qemu_alive(h))
		return err_set(e, ESRCH, "qemu: %s is not running", h->own.cfg.id);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)h->qemu.pid);
	if (util_read_file(path, 1 << 16, &status, &len, e) < 0)
		return err_ctx(e, "qemu: metrics");
	p = strstr(status, "\nVmRSS:");
	m->rss_bytes = p ? strtoull(p + 7, NULL, 10) * 1024 : 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)h->qemu.pid);
	if (util_read_file(path, 1 << 12, &stat, &len, e) < 0)
		return err_ctx(e, "qemu: metrics");
	/* fields after "(comm)": state is field 3, utime 14, stime 15 */
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
	                 &stime) != 2)
		return err_set(e, EPROTO, "qemu: cannot parse %s", path);
	m->cpu_time_ns =
	        (utime + stime) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
	return 0;
}

static void qemu_free(struct hv *h)
{
	struct err e;

	if (!h)
		return;
	qemu_stop(h, &e);
	hv_config_copy_free(&h->own);
	free(h->qmp_path);
	free(h->agent_path);
	free(h->vfsd_path);
	free(h->console_path);
	free(h->qemu_log);
	free(h->vfsd_log);
	free(h);
}

const struct hv_ops hv_qemu_ops = {
        .name = "qemu",
        .create = qemu_create,
        .start = qemu_start,
        .stop = qemu_stop,
        .pause = qemu_pause,
        .resume = qemu_resume,
        .agent_dial = qemu_agent_dial,
        .agent_transport = qemu_agent_transport,
        .pid = qemu_pid,
        .alive = qemu_alive,
        .metrics = qemu_metrics,
        .free = qemu_free,
};
