/* agent/cgroup.c: container cgroups on v2 (the guest: one unified tree) and
 * v1 (one directory per controller hierarchy, kept so that host-mode tests
 * on v1 hosts exercise limits, the freezer and OOM events too). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/magic.h>

#include "agent/cgroup.h"
#include "lib/util.h"

static const char *const v1_controllers[] = {"cpu",     "cpuacct", "cpuset", "memory",
                                             "devices", "freezer", "blkio",  "pids"};
#define NR_V1 ARRAY_SIZE(v1_controllers)

struct cgroup {
	int version;
	char *path;          /* within the hierarchy, "/hako/c1" */
	char *dirs[NR_V1];   /* v1: per controller (NULL if not mounted); v2: dirs[0] */
	int created_depth;   /* path components from here down were made by us */
	int oom_fd, oom_fd2; /* v1: eventfd + oom_control; v2: memory.events */
	int dev_prog;        /* v2: the attached device filter (BPF program fd) */
	uint64_t oom_kills;
};

int cgroup_version(void)
{
	struct statfs sf;
	struct stat st;

	if (statfs(CGROUP_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return 2;
	if (stat(CGROUP_ROOT "/memory", &st) == 0 || stat(CGROUP_ROOT "/freezer", &st) == 0)
		return 1;
	return 0;
}

static int write_at(const char *dir, const char *file, const char *val, struct err *e)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "open %s", path);
	if (write(fd, val, strlen(val)) < 0) {
		err_sys(e, "write \"%s\" to %s", val, path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_at(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A number file ("max" reads as UINT64_MAX); 0 when absent. */
static uint64_t read_u64(const char *dir, const char *file)
{
	char buf[64];

	if (!dir || read_at(dir, file, buf, sizeof(buf)) < 0)
		return 0;
	if (!strncmp(buf, "max", 3))
		return UINT64_MAX;
	return strtoull(buf, NULL, 10);
}

/* "key value" lines (cpu.stat, memory.stat, memory.events). */
static uint64_t read_key(const char *dir, const char *file, const char *key)
{
	char buf[8192];
	size_t klen = strlen(key);

	if (!dir || read_at(dir, file, buf, sizeof(buf)) < 0)
		return 0;
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoull(line + klen + 1, NULL, 10);
	return 0;
}

int cgroup_enable_controllers(struct err *e)
{
	char buf[512], *save = NULL;

	if (read_at(CGROUP_ROOT, "cgroup.controllers", buf, sizeof(buf)) < 0)
		return err_sys(e, "read " CGROUP_ROOT "/cgroup.controllers");
	for (char *c = strtok_r(buf, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char val[64];

		snprintf(val, sizeof(val), "+%s", c);
		if (write_at(CGROUP_ROOT, "cgroup.subtree_control", val, e) < 0)
			return -1;
	}
	return 0;
}

/* v2: children of dir may use every controller dir has. */
static void v2_delegate(const char *dir)
{
	char buf[512], *save = NULL;

	if (read_at(dir, "cgroup.controllers", buf, sizeof(buf)) < 0)
		return;
	for (char *c = strtok_r(buf, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char val[64];

		snprintf(val, sizeof(val), "+%s", c);
		/* Best effort: a controller the parent cannot delegate is simply
		 * not available below it. */
		write_at(dir, "cgroup.subtree_control", val, NULL);
	}
}

/* v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks. */
static int v1_cpuset_inherit(const char *dir, const char *parent, struct err *e)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char buf[256];

		if (read_at(parent, files[i], buf, sizeof(buf)) < 0)
			return err_sys(e, "read %s/%s", parent, files[i]);
		if (buf[0] == '\n' || !buf[0])
			continue;
		if (write_at(dir, files[i], buf, e) < 0)
			return -1;
	}
	return 0;
}

/* mkdir each component of path under base; returns the depth of the first
 * component created (or the number of components when none was). */
static int make_dirs(const char *base, const char *path, bool cpuset, int *created_from,
                     struct err *e)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	const char *p = path;
	int depth = 0;

	*created_from = -1;
	snprintf(dir, sizeof(dir), "%s", base);
	while (*p) {
		const char *end;
		size_t n = strlen(dir);

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		snprintf(parent, sizeof(parent), "%s", dir);
		if (n + 1 + (size_t)(end - p) >= sizeof(dir))
			return err_set(e, ENAMETOOLONG, "cgroup path too long: %s", path);
		dir[n] = '/';
		memcpy(dir + n + 1, p, (size_t)(end - p));
		dir[n + 1 + (end - p)] = '\0';
		p = end;
		depth++;
		if (!cpuset && !strcmp(base, CGROUP_ROOT))
			v2_delegate(parent);
		if (mkdir(dir, 0755) == 0) {
			if (*created_from < 0)
				*created_from = depth;
			if (cpuset && v1_cpuset_inherit(dir, parent, e) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return err_sys(e, "mkdir %s", dir);
		}
	}
	if (*created_from < 0)
		*created_from = depth + 1;
	return 0;
}

int cgroup_create(const char *path, struct cgroup **out, struct err *e)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));
	int from;

	if (!cg)
		return err_set(e, ENOMEM, "out of memory");
	cg->oom_fd = cg->oom_fd2 = cg->dev_prog = -1;
	cg->created_depth = INT_MAX;
	cg->version = cgroup_version();
	cg->path = strdup(path);
	if (!cg->path)
		goto nomem;
	if (cg->version == 0) {
		cgroup_free(cg);
		return err_set(e, ENOTSUP, "not supported: no cgroup hierarchy at " CGROUP_ROOT);
	}
	if (cg->version == 2) {
		if (make_dirs(CGROUP_ROOT, path, false, &from, e) < 0)
			goto fail;
		cg->created_depth = from;
		if (asprintf(&cg->dirs[0], "%s%s", CGROUP_ROOT, path) < 0)
			goto nomem;
	} else {
		for (size_t i = 0; i < NR_V1; i++) {
			char base[PATH_MAX];
			struct stat st;

			snprintf(base, sizeof(base), CGROUP_ROOT "/%s", v1_controllers[i]);
			if (stat(base, &st) < 0)
				continue;
			if (make_dirs(base, path, !strcmp(v1_controllers[i], "cpuset"), &from, e) <
			    0)
				goto fail;
			if (from < cg->created_depth)
				cg->created_depth = from;
			if (asprintf(&cg->dirs[i], "%s%s", base, path) < 0)
				goto nomem;
		}
	}
	*out = cg;
	return 0;
nomem:
	err_set(e, ENOMEM, "out of memory");
fail:
	err_ctx(e, "cgroup %s", path);
	cgroup_destroy(cg, NULL);
	cgroup_free(cg);
	return -1;
}

static const char *v1_dir(struct cgroup *cg, const char *ctrl)
{
	for (size_t i = 0; i < NR_V1; i++)
		if (!strcmp(v1_controllers[i], ctrl))
			return cg->dirs[i];
	return NULL;
}

/* The directory holding ctrl's files (v2: the one directory). */
static const char *dir_of(struct cgroup *cg, const char *ctrl)
{
	return cg->version == 2 ? cg->dirs[0] : v1_dir(cg, ctrl);
}

int cgroup_file_path(struct cgroup *cg, const char *ctrl, const char *file, char *out, size_t size)
{
	const char *dir = dir_of(cg, ctrl);

	if (!dir)
		return -1;
	snprintf(out, size, "%s/%s", dir, file);
	return 0;
}

int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct err *e)
{
	char val[32];

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (size_t i = 0; i < NR_V1; i++) {
		if (!cg->dirs[i])
			continue;
		if (write_at(cg->dirs[i], "cgroup.procs", val, e) < 0)
			return err_ctx(e, "join cgroup");
	}
	return 0;
}

static int write_num(const char *dir, const char *file, int64_t v, struct err *e)
{
	char val[32];

	if (!dir)
		return err_set(e, ENOTSUP, "not supported: %s (controller not mounted)", file);
	snprintf(val, sizeof(val), "%" PRId64, v);
	return write_at(dir, file, val, e);
}

/* Without swap accounting (no swap configured, or swapaccount=0) there is
 * no swap file to write and no swap to limit: skip it. */
static bool has_file(const char *dir, const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/nonexistent", file);
	return access(path, F_OK) == 0;
}

static int v1_apply_memory(struct cgroup *cg, const struct oci_resources *r, struct err *e)
{
	const char *dir = v1_dir(cg, "memory");
	struct oci_resources nr = *r;

	if (!has_file(dir, "memory.memsw.limit_in_bytes"))
		nr.mem_swap = OCI_UNSET;
	r = &nr;

	if (r->mem_reservation != OCI_UNSET &&
	    write_num(dir, "memory.soft_limit_in_bytes", r->mem_reservation, e) < 0)
		return -1;
	if (r->mem_limit != OCI_UNSET && r->mem_swap != OCI_UNSET) {
		/* memsw must stay >= limit: order the two writes so it does. */
		if (write_num(dir, "memory.limit_in_bytes", r->mem_limit, NULL) == 0)
			return write_num(dir, "memory.memsw.limit_in_bytes", r->mem_swap, e);
		if (write_num(dir, "memory.memsw.limit_in_bytes", r->mem_swap, e) < 0)
			return -1;
		return write_num(dir, "memory.limit_in_bytes", r->mem_limit, e);
	}
	if (r->mem_limit != OCI_UNSET &&
	    write_num(dir, "memory.limit_in_bytes", r->mem_limit, e) < 0)
		return -1;
	if (r->mem_swap != OCI_UNSET &&
	    write_num(dir, "memory.memsw.limit_in_bytes", r->mem_swap, e) < 0)
		return -1;
	return 0;
}

static int v1_apply(struct cgroup *cg, const struct oci_resources *r, struct err *e)
{
	const char *cpu = v1_dir(cg, "cpu"), *cpuset = v1_dir(cg, "cpuset");

	if (v1_apply_memory(cg, r, e) < 0)
		return -1;
	if (r->cpu_shares != OCI_UNSET && write_num(cpu, "cpu.shares", r->cpu_shares, e) < 0)
		return -1;
	if (r->cpu_period != OCI_UNSET && r->cpu_period &&
	    write_num(cpu, "cpu.cfs_period_us", r->cpu_period, e) < 0)
		return -1;
	if (r->cpu_quota != OCI_UNSET && write_num(cpu, "cpu.cfs_quota_us", r->cpu_quota, e) < 0)
		return -1;
	if (r->cpus && r->cpus[0] && cpuset && write_at(cpuset, "cpuset.cpus", r->cpus, e) < 0)
		return -1;
	if (r->mems && r->mems[0] && cpuset && write_at(cpuset, "cpuset.mems", r->mems, e) < 0)
		return -1;
	if (r->pids_limit != OCI_UNSET) {
		const char *dir = v1_dir(cg, "pids");

		if (r->pids_limit <= 0 ? write_at(dir, "pids.max", "max", e) < 0
		                       : write_num(dir, "pids.max", r->pids_limit, e) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->nr_devices; i++) {
		const struct oci_dev_rule *d = &r->devices[i];
		const char *dir = v1_dir(cg, "devices");
		char rule[64], maj[24] = "*", min[24] = "*";

		if (!dir)
			break;
		if (d->major >= 0)
			snprintf(maj, sizeof(maj), "%" PRId64, d->major);
		if (d->minor >= 0)
			snprintf(min, sizeof(min), "%" PRId64, d->minor);
		snprintf(rule, sizeof(rule), "%c %s:%s %s", d->type, maj, min, d->access);
		if (write_at(dir, d->allow ? "devices.allow" : "devices.deny", rule, e) < 0)
			return -1;
	}
	return 0;
}

static int v2_write_max(const char *dir, const char *file, int64_t v, struct err *e)
{
	return v < 0 ? write_at(dir, file, "max", e) : write_num(dir, file, v, e);
}

/* ---- v2 device filter --------------------------------------------------
 * v2 has no devices.allow: a BPF_PROG_TYPE_CGROUP_DEVICE program decides.
 * It checks the rules from the last to the first (the last match wins, as
 * with v1's lists) and allows what no rule matched (v1's initial state; a
 * spec's first rule is usually "deny all"). */

#define MAX_DEV_INSNS 4096

struct insns {
	struct bpf_insn v[MAX_DEV_INSNS];
	int n;
};

static void emit(struct insns *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (p->n < MAX_DEV_INSNS)
		p->v[p->n] = (struct bpf_insn){
		        .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
	p->n++;
}

/* Returns true when the rule matches everything: nothing after it runs (the
 * verifier rejects unreachable code). */
static bool dev_rule_insns(struct insns *p, const struct oci_dev_rule *d)
{
	int jumps[4], nj = 0;
	int32_t acc = 0;

	if (strchr(d->access, 'm'))
		acc |= BPF_DEVCG_ACC_MKNOD;
	if (strchr(d->access, 'r'))
		acc |= BPF_DEVCG_ACC_READ;
	if (strchr(d->access, 'w'))
		acc |= BPF_DEVCG_ACC_WRITE;
	if (d->type != 'a') {
		jumps[nj++] = p->n;
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, 0,
		     d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	}
	if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
		/* The access asked for must be within the rule's. */
		emit(p, BPF_ALU64 | BPF_MOV | BPF_X, 6, 3, 0, 0);
		emit(p, BPF_ALU64 | BPF_AND | BPF_K, 6, 0, 0, ~acc);
		jumps[nj++] = p->n;
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 6, 0, 0, 0);
	}
	if (d->major >= 0) {
		jumps[nj++] = p->n;
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)d->major);
	}
	if (d->minor >= 0) {
		jumps[nj++] = p->n;
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)d->minor);
	}
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, d->allow ? 1 : 0);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	/* A mismatch skips to the next rule's block. */
	for (int i = 0; i < nj && p->n <= MAX_DEV_INSNS; i++)
		p->v[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
	return nj == 0;
}

static int bpf_sys(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int v2_devices(struct cgroup *cg, const struct oci_resources *r, struct err *e)
{
	static char log[4096];
	struct insns *p = calloc(1, sizeof(*p));
	union bpf_attr attr;
	int prog, dir = -1, rc = -1;
	bool matched_all = false;

	if (!p)
		return err_set(e, ENOMEM, "out of memory");
	/* r2 = device type, r3 = access, r4 = major, r5 = minor */
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
	emit(p, BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0);
	emit(p, BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);
	for (size_t i = r->nr_devices; i-- > 0 && !matched_all;)
		matched_all = dev_rule_insns(p, &r->devices[i]);
	if (!matched_all) {
		emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
		emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (p->n > MAX_DEV_INSNS) {
		free(p);
		return err_set(e, E2BIG, "linux.resources.devices: too many rules");
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)p->v;
	attr.insn_cnt = (uint32_t)p->n;
	attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
	log[0] = '\0';
	prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		/* again with the verifier's log, for the message: a log that
		 * does not fit fails the load (ENOSPC), so not the first time */
		int err = errno;
		size_t len;

		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		bpf_sys(BPF_PROG_LOAD, &attr);
		len = strnlen(log, sizeof(log));
		errno = err;
		free(p);
		return err_sys(e, "linux.resources.devices: load the device filter (%s)",
		               log + (len > 200 ? len - 200 : 0));
	}
	free(p);
	dir = open(cg->dirs[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		err_sys(e, "open %s", cg->dirs[0]);
		goto out;
	}
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dir;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf_sys(BPF_PROG_ATTACH, &attr) < 0) {
		err_sys(e, "linux.resources.devices: attach the device filter");
		goto out;
	}
	/* The new filter is on: take the previous one off. */
	if (cg->dev_prog >= 0) {
		attr.attach_bpf_fd = (uint32_t)cg->dev_prog;
		attr.attach_flags = 0;
		bpf_sys(BPF_PROG_DETACH, &attr);
		close(cg->dev_prog);
	}
	cg->dev_prog = steal_fd(prog);
	rc = 0;
out:
	if (prog >= 0)
		close(prog);
	if (dir >= 0)
		close(dir);
	return rc;
}

static int v2_apply(struct cgroup *cg, const struct oci_resources *r, struct err *e)
{
	const char *dir = cg->dirs[0];
	char val[64];

	if (r->mem_reservation != OCI_UNSET &&
	    v2_write_max(dir, "memory.low", r->mem_reservation, e) < 0)
		return -1;
	if (r->mem_limit != OCI_UNSET && v2_write_max(dir, "memory.max", r->mem_limit, e) < 0)
		return -1;
	if (r->mem_swap != OCI_UNSET && has_file(dir, "memory.swap.max")) {
		int64_t swap = r->mem_swap;

		/* OCI's swap is memory+swap; v2's swap.max is swap alone. */
		if (swap > 0 && r->mem_limit > 0)
			swap = swap >= r->mem_limit ? swap - r->mem_limit : 0;
		if (v2_write_max(dir, "memory.swap.max", swap, e) < 0)
			return -1;
	}
	if (r->cpu_shares > 0) {
		int64_t w = 1 + ((r->cpu_shares - 2) * 9999) / 262142;

		if (write_num(dir, "cpu.weight", w < 1 ? 1 : w > 10000 ? 10000 : w, e) < 0)
			return -1;
	}
	if (r->cpu_quota != OCI_UNSET || (r->cpu_period != OCI_UNSET && r->cpu_period)) {
		int64_t period = r->cpu_period > 0 ? r->cpu_period : 100000;

		if (r->cpu_quota > 0)
			snprintf(val, sizeof(val), "%" PRId64 " %" PRId64, r->cpu_quota, period);
		else
			snprintf(val, sizeof(val), "max %" PRId64, period);
		if (write_at(dir, "cpu.max", val, e) < 0)
			return -1;
	}
	if (r->cpus && r->cpus[0] && write_at(dir, "cpuset.cpus", r->cpus, e) < 0)
		return -1;
	if (r->mems && r->mems[0] && write_at(dir, "cpuset.mems", r->mems, e) < 0)
		return -1;
	if (r->pids_limit != OCI_UNSET &&
	    v2_write_max(dir, "pids.max", r->pids_limit <= 0 ? -1 : r->pids_limit, e) < 0)
		return -1;
	if (r->nr_devices && v2_devices(cg, r, e) < 0)
		return -1;
	return 0;
}

int cgroup_apply(struct cgroup *cg, const struct oci_resources *r, struct err *e)
{
	int rc = cg->version == 2 ? v2_apply(cg, r, e) : v1_apply(cg, r, e);

	return rc < 0 ? err_ctx(e, "cgroup %s", cg->path) : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int cgroup_freeze(struct cgroup *cg, bool frozen, struct err *e)
{
	const char *dir = dir_of(cg, "freezer");
	char buf[4096];

	if (!dir)
		return err_set(e, ENOTSUP, "not supported: freezer (controller not mounted)");
	if (cg->version == 2) {
		if (write_at(dir, "cgroup.freeze", frozen ? "1" : "0", e) < 0)
			return -1;
	} else if (write_at(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", e) < 0) {
		return -1;
	}
	/* Freezing is asynchronous: wait until every task got there. */
	for (int i = 0; i < 2000; i++) {
		if (cg->version == 2) {
			if (read_key(dir, "cgroup.events", "frozen") == (frozen ? 1 : 0))
				return 0;
		} else if (read_at(dir, "freezer.state", buf, sizeof(buf)) == 0 &&
		           !strncmp(buf, frozen ? "FROZEN" : "THAWED", 6)) {
			return 0;
		}
		if (cg->version == 1 && frozen && i % 50 == 49)
			write_at(dir, "freezer.state", "FROZEN", NULL);
		sleep_ms(1);
	}
	return err_set(e, ETIMEDOUT, "cgroup %s: %s did not complete", cg->path,
	               frozen ? "freeze" : "thaw");
}

int cgroup_stats(struct cgroup *cg, struct cgroup_stats *st, struct err *e)
{
	memset(st, 0, sizeof(*st));
	(void)e;
	if (cg->version == 2) {
		const char *d = cg->dirs[0];

		st->cpu_total_ns = read_key(d, "cpu.stat", "usage_usec") * 1000;
		st->cpu_user_ns = read_key(d, "cpu.stat", "user_usec") * 1000;
		st->cpu_kernel_ns = read_key(d, "cpu.stat", "system_usec") * 1000;
		st->mem_usage = read_u64(d, "memory.current");
		st->mem_max_usage = read_u64(d, "memory.peak");
		st->mem_limit = read_u64(d, "memory.max");
		st->mem_failcnt = read_key(d, "memory.events", "max");
		st->mem_cache = read_key(d, "memory.stat", "file");
		st->pids_current = read_u64(d, "pids.current");
		st->pids_limit = read_u64(d, "pids.max");
	} else {
		const char *acct = v1_dir(cg, "cpuacct"), *mem = v1_dir(cg, "memory");
		const char *pids = v1_dir(cg, "pids");
		uint64_t hz = (uint64_t)sysconf(_SC_CLK_TCK);

		st->cpu_total_ns = read_u64(acct, "cpuacct.usage");
		st->cpu_user_ns = read_key(acct, "cpuacct.stat", "user") * (1000000000ull / hz);
		st->cpu_kernel_ns = read_key(acct, "cpuacct.stat", "system") * (1000000000ull / hz);
		st->mem_usage = read_u64(mem, "memory.usage_in_bytes");
		st->mem_max_usage = read_u64(mem, "memory.max_usage_in_bytes");
		st->mem_limit = read_u64(mem, "memory.limit_in_bytes");
		st->mem_failcnt = read_u64(mem, "memory.failcnt");
		st->mem_cache = read_key(mem, "memory.stat", "cache");
		st->pids_current = read_u64(pids, "pids.current");
		st->pids_limit = read_u64(pids, "pids.max");
	}
	return 0;
}

int cgroup_oom_fd(struct cgroup *cg, uint32_t *events, struct err *e)
{
	const char *dir = dir_of(cg, "memory");
	char path[PATH_MAX], val[64];

	if (cg->oom_fd >= 0) {
		*events = cg->version == 2 ? EPOLLPRI : EPOLLIN;
		return cg->oom_fd;
	}
	if (!dir)
		return err_set(e, ENOTSUP,
		               "not supported: OOM events (memory controller not mounted)");
	if (cg->version == 2) {
		snprintf(path, sizeof(path), "%s/memory.events", dir);
		cg->oom_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cg->oom_fd < 0)
			return err_sys(e, "open %s", path);
		cg->oom_kills = read_key(dir, "memory.events", "oom_kill");
		*events = EPOLLPRI;
		return cg->oom_fd;
	}
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	cg->oom_fd2 = open(path, O_RDONLY | O_CLOEXEC);
	if (cg->oom_fd2 < 0)
		return err_sys(e, "open %s", path);
	cg->oom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cg->oom_fd < 0)
		return err_sys(e, "eventfd");
	snprintf(val, sizeof(val), "%d %d", cg->oom_fd, cg->oom_fd2);
	if (write_at(dir, "cgroup.event_control", val, e) < 0)
		return -1;
	*events = EPOLLIN;
	return cg->oom_fd;
}

int cgroup_oom_count(struct cgroup *cg)
{
	if (cg->oom_fd < 0)
		return 0;
	if (cg->version == 2) {
		uint64_t kills = read_key(cg->dirs[0], "memory.events", "oom_kill");
		char buf[512];
		int n = (int)(kills - cg->oom_kills);

		/* Reading the file re-arms the EPOLLPRI notification. */
		if (pread(cg->oom_fd, buf, sizeof(buf), 0) < 0)
			return 0;
		cg->oom_kills = kills;
		return n > 0 ? n : 0;
	} else {
		uint64_t v = 0;

		if (read(cg->oom_fd, &v, sizeof(v)) != sizeof(v))
			return 0;
		return (int)v;
	}
}

/* SIGKILL whatever still runs in dir until it is empty (at most ~1 s). */
static void kill_all(const char *dir, int version)
{
	char buf[16384];

	if (version == 2 && write_at(dir, "cgroup.kill", "1", NULL) == 0)
		return;
	for (int round = 0; round < 100; round++) {
		bool any = false;

		if (read_at(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
			return;
		for (char *p = buf; *p;) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				any = true;
			p = end;
			while (*p == '\n')
				p++;
		}
		if (!any)
			return;
		sleep_ms(10);
	}
}

static int remove_dir(const char *dir, struct err *e)
{
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		sleep_ms(5);
	}
	return err_sys(e, "rmdir %s", dir);
}

int cgroup_destroy(struct cgroup *cg, struct err *e)
{
	int rc = 0;

	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	if (cg->oom_fd2 >= 0)
		close(cg->oom_fd2);
	if (cg->dev_prog >= 0)
		close(cg->dev_prog); /* detached with the cgroup */
	cg->oom_fd = cg->oom_fd2 = cg->dev_prog = -1;
	for (size_t i = 0; i < NR_V1; i++) {
		char dir[PATH_MAX];
		int depth = 0;

		if (!cg->dirs[i])
			continue;
		kill_all(cg->dirs[i], cg->version);
		if (rc == 0 && remove_dir(cg->dirs[i], e) < 0)
			rc = -1;
		/* Then the empty parents this cgroup created. */
		for (const char *p = cg->path; *p; p++)
			if (*p == '/' && p[1])
				depth++;
		snprintf(dir, sizeof(dir), "%s", cg->dirs[i]);
		while (--depth >= cg->created_depth) {
			char *slash = strrchr(dir, '/');

			if (!slash)
				break;
			*slash = '\0';
			if (rmdir(dir) < 0)
				break;
		}
	}
	return rc;
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	if (cg->oom_fd2 >= 0)
		close(cg->oom_fd2);
	if (cg->dev_prog >= 0)
		close(cg->dev_prog);
	for (size_t i = 0; i < NR_V1; i++)
		free(cg->dirs[i]);
	free(cg->path);
	free(cg);
}
