/* cli/cmd_check.c: `hako check`: can hako run containers on this host? One line
 * per requirement ("ok", "warn", "info" or "FAIL"), then the verdict; exit 0
 * when it can run (qemu with TCG counts), 1 when it cannot. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cli/cli.h"
#include "runtime/config.h"

struct report {
	FILE *out;
	int failures;
};

static void __attribute__((format(printf, 4, 5)))
line(struct report *r, const char *level, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(level, "FAIL"))
		r->failures++;
	fprintf(r->out, "%-4s  %-14s ", level, what);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
}

static void check_kvm(struct report *r, const struct config_host *host)
{
	if (host->kvm)
		line(r, "ok", "kvm", "/dev/kvm is present and opens read-write");
	else if (access("/dev/kvm", F_OK) == 0)
		line(r, "warn", "kvm", "/dev/kvm exists but cannot be opened read-write: %s",
		     strerror(errno));
	else
		line(r, "warn", "kvm", "/dev/kvm is absent: only qemu with TCG can run guests");
	if (host->kvm_pvm)
		line(r, "warn", "kvm-emulation",
		     "software-emulated KVM detected: kvm_pvm (/sys/module/kvm_pvm); guest kernel "
		     "code runs ~1000x slower, so hako prefers qemu with TCG");
	else if (host->kvm)
		line(r, "ok", "kvm-emulation", "no software KVM module (kvm_pvm) loaded");
	if (host->hw_virt)
		line(r, "ok", "cpu-virt", "hardware virtualization flags (vmx/svm) present");
	else
		line(r, "info", "cpu-virt", "no vmx/svm flag in /proc/cpuinfo");
}

static void check_asset(struct report *r, const struct config_hypervisor *h,
                        enum config_asset which, const char *what)
{
	char *path = NULL;
	const char *from;
	struct err e;

	if (config_asset(h, which, &path, &from, &e) < 0) {
		line(r, "FAIL", what, "%s", e.msg);
		return;
	}
	line(r, "ok", what, "%s (%s)", path, from);
	free(path);
}

static void check_binary(struct report *r, const char *what, const char *path, bool needed,
                         const char *why)
{
	if (*path && access(path, X_OK) == 0)
		line(r, "ok", what, "%s", path);
	else
		line(r, needed ? "FAIL" : "info", what, "%s is not installed%s%s",
		     *path ? path : "(no path configured)", needed ? ": needed " : "",
		     needed ? why : "");
}

static void check_host_devices(struct report *r)
{
	struct statfs fs;

	if (statfs("/sys/fs/cgroup", &fs) < 0)
		line(r, "warn", "cgroups", "/sys/fs/cgroup is not mounted: no resource limits");
	else if (fs.f_type == CGROUP2_SUPER_MAGIC)
		line(r, "ok", "cgroups", "v2 (unified hierarchy at /sys/fs/cgroup)");
	else if (access("/sys/fs/cgroup/unified", F_OK) == 0 &&
	         access("/sys/fs/cgroup/memory", F_OK) == 0)
		line(r, "ok", "cgroups", "v1 with a v2 hierarchy (hybrid)");
	else if (access("/sys/fs/cgroup/memory", F_OK) == 0 ||
	         access("/sys/fs/cgroup/cpu", F_OK) == 0)
		line(r, "ok", "cgroups", "v1 (hierarchies under /sys/fs/cgroup)");
	else
		line(r, "warn", "cgroups", "no cgroup hierarchy found under /sys/fs/cgroup");

	if (access("/dev/net/tun", R_OK | W_OK) == 0)
		line(r, "ok", "tun", "/dev/net/tun is usable (VM networking)");
	else
		line(r, "warn", "tun", "/dev/net/tun is not usable: containers get no network");
	line(r, "info", "vsock",
	     "not needed: hybrid vsock in the builtin VMM, virtio-serial with qemu");
}

static int run(struct cli_ctx *ctx, const struct cli_args *args, struct err *e)
{
	struct report r = {.out = ctx->out};
	struct config *c = NULL;
	struct config_host host;
	struct config_choice choice;
	bool chosen = false;
	struct err ce;

	(void)args;
	(void)e;
	if (cli_load_config(ctx, &c, &ce) < 0) {
		line(&r, "FAIL", "config", "%s", ce.msg);
		if (config_defaults(&c, e) < 0)
			return -1;
	} else {
		line(&r, "ok", "config", "%s", c->path ? c->path : "built-in defaults (no file)");
	}

	config_probe_host(&host);
	check_kvm(&r, &host);
	if (config_choose_hypervisor(c, ctx->g.hypervisor, &host, &choice, &ce) < 0) {
		line(&r, "FAIL", "hypervisor", "%s", ce.msg);
	} else {
		chosen = true;
		line(&r, "ok", "hypervisor", "%s%s%s: %s", choice.hypervisor,
		     *choice.accel ? " accel " : "", choice.accel, choice.reason);
	}

	if (chosen && strcmp(choice.hypervisor, "none")) {
		const struct config_hypervisor *h = config_hypervisor(c, choice.hypervisor);
		bool qemu = !strcmp(choice.hypervisor, "qemu");

		check_asset(&r, h, CONFIG_ASSET_KERNEL, "guest-kernel");
		check_asset(&r, h, CONFIG_ASSET_INITRD, "guest-initrd");
		check_binary(&r, "qemu", c->qemu.path, qemu, "by the qemu hypervisor");
		check_binary(&r, "virtiofsd", c->qemu.virtio_fs_daemon,
		             qemu && c->qemu.shared_fs == HV_SHARED_FS_VIRTIO_FS,
		             "to share the rootfs with shared_fs = \"virtio-fs\"");
	}
	check_host_devices(&r);

	if (r.failures == 0)
		fprintf(ctx->out, "hako can run containers here: yes (%s%s%s)\n", choice.hypervisor,
		        *choice.accel ? " with " : "", choice.accel);
	else
		fprintf(ctx->out, "hako can run containers here: no (%d FAIL line%s above)\n",
		        r.failures, r.failures == 1 ? "" : "s");
	config_free(c);
	return r.failures == 0 ? 0 : 1;
}

const struct cli_command cli_cmd_check = {
        .name = "check",
        .args = NULL,
        .summary = "check that this host can run hako (exit 0: yes, 1: no)",
        .options = NULL,
        .min_args = 0,
        .max_args = 0,
        .run = run,
};
