/* runtime/config.h: hako's configuration (Kata-style configuration.toml plus
 * config.d/ drop-ins) and the choice of hypervisor driver it implies. */
#ifndef HAKO_RUNTIME_CONFIG_H
#define HAKO_RUNTIME_CONFIG_H

#include <stdbool.h>

#include "lib/err.h"
#include "runtime/hypervisor.h"

#define CONFIG_DEFAULT_PATH "/etc/hako/configuration.toml"
/* Where packages install the guest kernel and initrd. */
#define CONFIG_DATA_DIR "/usr/share/hako"

/* [hypervisor.builtin] and [hypervisor.qemu]. Strings are never NULL; an
 * empty kernel/initrd means "find it" (config_asset). */
struct config_hypervisor {
	char *path; /* qemu binary; unused by builtin */
	char *kernel;
	char *initrd;
	char *kernel_params;
	unsigned int default_vcpus;
	unsigned int default_maxvcpus;
	unsigned int default_memory; /* MiB */
	enum hv_shared_fs shared_fs;
	char *virtio_fs_daemon; /* qemu */
	char **cpuid_mask;      /* NULL-terminated */
	char *accel;            /* qemu: "auto", "kvm", "tcg" */
	bool enable_debug;
};

struct config_agent {
	unsigned int dial_timeout; /* seconds */
	bool debug_console;
	char **kernel_modules; /* accepted for Kata compatibility, unused */
};

struct config_runtime {
	char *hypervisor_name;       /* "auto", "builtin", "qemu", "none" */
	char *internetworking_model; /* "tcfilter", "macvtap", "none" */
	bool sandbox_cgroup_only;
	bool enable_debug;
	char **experimental; /* NULL-terminated */
	bool test_only;
};

struct config {
	char *path;      /* main file read, or NULL when it did not exist */
	char **dropins;  /* drop-ins applied, in order; NULL-terminated */
	char **warnings; /* things accepted but ignored; NULL-terminated */
	struct config_hypervisor builtin;
	struct config_hypervisor qemu;
	struct config_agent agent;
	struct config_runtime runtime;
};

/* Load path, or when NULL $HAKO_CONFIG, or CONFIG_DEFAULT_PATH; a missing
 * default file means built-in defaults, a missing explicit one is an error.
 * Then apply <dir of file>/config.d/ *.toml in lexical order, key by key. */
int config_load(const char *path, struct config **out, struct err *e);
/* Built-in defaults only. */
int config_defaults(struct config **out, struct err *e);
/* Apply one TOML file over c (what drop-ins do); errors name file:line. */
int config_apply_file(struct config *c, const char *path, struct err *e);
/* Same for a document in memory; name is used in messages. */
int config_apply_text(struct config *c, const char *text, const char *name, struct err *e);
void config_free(struct config *c);

/* What the host offers, as config_choose_hypervisor needs it. */
struct config_host {
	bool kvm;     /* /dev/kvm opens read-write */
	bool kvm_pvm; /* KVM is software-emulated (/sys/module/kvm_pvm) */
	bool hw_virt; /* /proc/cpuinfo has vmx or svm */
};

void config_probe_host(struct config_host *h);

struct config_choice {
	char hypervisor[16]; /* "builtin", "qemu" or "none" */
	char accel[8];       /* qemu: "kvm" or "tcg"; builtin: "kvm"; none: "" */
	char reason[256];    /* why, for humans: "hardware KVM: using builtin" */
};

/* Turn runtime.hypervisor_name (or override when not NULL, the CLI's
 * --hypervisor) into a driver for this host. */
int config_choose_hypervisor(const struct config *c, const char *override,
                             const struct config_host *host, struct config_choice *out,
                             struct err *e);
/* The same, probing this host. */
int config_resolve_hypervisor(const struct config *c, const char *override,
                              struct config_choice *out, struct err *e);

/* The section for a driver name ("builtin", "qemu"; "none" uses qemu's). */
const struct config_hypervisor *config_hypervisor(const struct config *c, const char *name);

enum config_asset { CONFIG_ASSET_KERNEL, CONFIG_ASSET_INITRD };

/* Path of the guest kernel or initrd for section h: the configured path, or
 * CONFIG_DATA_DIR/{vmlinux,initrd.img} when that exists, or what the source
 * tree's guest/build-{kernel,initrd}.sh --print-path prints (development
 * builds). *from says which ("configuration", "installed", "build cache").
 * Fails when nothing exists. */
int config_asset(const struct config_hypervisor *h, enum config_asset which, char **path,
                 const char **from, struct err *e);

/* Fill a driver configuration from the chosen section (strings borrowed
 * from c; the caller sets id, run_dir, disks, nics, shared_dir). */
int config_hv_config(const struct config *c, const struct config_choice *choice,
                     struct hv_config *hc, char **kernel, char **initrd, struct err *e);

const char *config_shared_fs_name(enum hv_shared_fs fs);

#endif
