/* agent/cgroup.h: one container's cgroup, on cgroup v2 (the guest) or on the
 * v1 controller hierarchies (hosts that still mount them, where host-mode
 * tests run): create, join, limits (devices: v1 lists or a v2 BPF filter),
 * freezer, stats, OOM notification. */
#ifndef HAKO_AGENT_CGROUP_H
#define HAKO_AGENT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/oci.h"
#include "lib/err.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

struct cgroup;

struct cgroup_stats {
	uint64_t cpu_total_ns, cpu_user_ns, cpu_kernel_ns;
	uint64_t mem_usage, mem_max_usage, mem_limit, mem_failcnt, mem_cache;
	uint64_t pids_current, pids_limit;
};

/* Which hierarchy this machine has: 2, 1, or 0 (none mounted). */
int cgroup_version(void);
/* Guest setup: enable every available controller for children of the root. */
int cgroup_enable_controllers(struct err *e);

/* Create (or adopt) the cgroup at `path` (absolute within the hierarchy). */
int cgroup_create(const char *path, struct cgroup **out, struct err *e);
int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct err *e);
int cgroup_apply(struct cgroup *cg, const struct oci_resources *r, struct err *e);
int cgroup_freeze(struct cgroup *cg, bool frozen, struct err *e);
int cgroup_stats(struct cgroup *cg, struct cgroup_stats *st, struct err *e);
/* The path of a controller file, for diagnostics and tests ("memory",
 * "memory.limit_in_bytes" on v1; the controller is ignored on v2). */
int cgroup_file_path(struct cgroup *cg, const char *ctrl, const char *file, char *out, size_t size);

/* An fd that becomes readable (v1 eventfd) or raises EPOLLPRI (v2
 * memory.events) on an OOM; *events tells which to watch. */
int cgroup_oom_fd(struct cgroup *cg, uint32_t *events, struct err *e);
/* After the fd fired: how many OOM kills happened since the last call. */
int cgroup_oom_count(struct cgroup *cg);

/* Kill what is left in it, remove it (and empty parents it created). */
int cgroup_destroy(struct cgroup *cg, struct err *e);
void cgroup_free(struct cgroup *cg);

#endif
