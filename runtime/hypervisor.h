/* runtime/hypervisor.h: the one interface through which libhako-runtime
 * reaches a hypervisor. A driver is one file (hv_builtin.c, hv_qemu.c,
 * hv_none.c) providing a struct hv_ops; the sandbox code never names a
 * driver except through hv_lookup(). */
#ifndef HAKO_RUNTIME_HYPERVISOR_H
#define HAKO_RUNTIME_HYPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

enum hv_shared_fs { HV_SHARED_FS_VIRTIO_FS, HV_SHARED_FS_VIRTIO_BLK, HV_SHARED_FS_VIRTIO_9P };

/* Where the guest's agent can be reached; the driver decides. */
enum hv_agent_transport { HV_AGENT_VSOCK, HV_AGENT_SERIAL, HV_AGENT_UNIX };

/* A block device given to the guest at boot (virtio-blk). */
struct hv_disk {
	const char *path;
	bool readonly;
};

/* A tap device given to the guest at boot (virtio-net). */
struct hv_nic {
	const char *tap_name;
	uint8_t mac[6];
};

#define HV_MAX_DISKS 8
#define HV_MAX_NICS  4

struct hv_config {
	const char *id;      /* sandbox id, for names and logs */
	const char *run_dir; /* per-sandbox directory for sockets and logs (exists) */
	const char *path;    /* hypervisor binary (qemu) or NULL */
	const char *kernel;
	const char *initrd;
	const char *kernel_params; /* appended to the driver's base command line */
	unsigned int vcpus;
	unsigned int memory_mib;
	const char *accel; /* qemu: "kvm", "tcg" or "auto" */
	enum hv_shared_fs shared_fs;
	const char *shared_dir; /* host dir shared with the guest under tag "hako" */
	const char *virtiofsd;  /* qemu: the virtiofsd binary */
	const char *const *cpuid_mask;
	bool debug;              /* keep the guest console log, verbose guest */
	const char *console_log; /* serial console output file, or NULL */
	struct hv_disk disks[HV_MAX_DISKS];
	unsigned int nr_disks;
	struct hv_nic nics[HV_MAX_NICS];
	unsigned int nr_nics;
};

struct hv_metrics {
	uint64_t rss_bytes;   /* hypervisor process resident memory */
	uint64_t cpu_time_ns; /* hypervisor process CPU time */
};

struct hv;

struct hv_ops {
	const char *name;
	/* Allocate driver state for cfg (copied as needed). */
	int (*create)(struct hv **out, const struct hv_config *cfg, struct err *e);
	/* Boot the VM; returns once it runs (not once the agent answers). */
	int (*start)(struct hv *h, struct err *e);
	/* Stop the VM and everything the driver started; idempotent. */
	int (*stop)(struct hv *h, struct err *e);
	int (*pause)(struct hv *h, struct err *e);
	int (*resume)(struct hv *h, struct err *e);
	/* Open a new stream to the guest agent (port 1024 for vsock). The
	 * serial transport allows one stream at a time. */
	int (*agent_dial)(struct hv *h, int timeout_ms, int *fd, struct err *e);
	enum hv_agent_transport (*agent_transport)(struct hv *h);
	/* The process that is the VM (qemu's pid; ours for builtin), 0 if none. */
	pid_t (*pid)(struct hv *h);
	/* Is the VM still alive? false once it exited or crashed. */
	bool (*alive)(struct hv *h);
	int (*metrics)(struct hv *h, struct hv_metrics *m, struct err *e);
	void (*free)(struct hv *h);
};

/* The drivers, for hv_lookup() and for tests that drive one directly. */
extern const struct hv_ops hv_qemu_ops;

/* A driver's own copy of a hv_config (the caller's strings may go away
 * after create): every string duplicated; cpuid_mask is not copied (NULL). */
#define HV_CONFIG_MAX_STRINGS (12 + HV_MAX_DISKS + HV_MAX_NICS)
struct hv_config_copy {
	struct hv_config cfg;
	char *strs[HV_CONFIG_MAX_STRINGS];
	size_t nr;
};

int hv_config_copy(struct hv_config_copy *c, const struct hv_config *src, struct err *e);
void hv_config_copy_free(struct hv_config_copy *c);

/* The driver called name ("builtin", "qemu", "none"), or NULL. */
const struct hv_ops *hv_lookup(const char *name);

#endif
