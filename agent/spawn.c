/* agent/spawn.c: the child side of a container process (namespaces, rootfs,
 * stdio, credentials, capabilities, seccomp, execve) and the parent side of
 * the go/ready/start handshake that splits create from start. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <grp.h>
#include <seccomp.h>

#include "agent/mount.h"
#include "agent/spawn.h"
#include "lib/util.h"

/* How long the agent waits for a new container process to set itself up.
 * Under software-emulated KVM that takes 30-50 s of guest time; stay below
 * the runtime's 120 s call timeout so the host hears the agent's reason. */
#define SYNC_TIMEOUT_MS 100000

extern char **environ;

struct sync_msg {
	char tag[8]; /* "go", "ready", "start", "error" */
	char text[1000];
};

static int self_pidns = -1;

int spawn_init(struct err *e)
{
	if (self_pidns >= 0)
		return 0;
	self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (self_pidns < 0)
		return err_sys(e, "open /proc/self/ns/pid");
	return 0;
}

static int send_msg(int fd, const char *tag, const char *text, int pass_fd)
{
	struct sync_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	memset(&m, 0, sizeof(m));
	snprintf(m.tag, sizeof(m.tag), "%s", tag);
	snprintf(m.text, sizeof(m.text), "%s", text ? text : "");
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Returns 1 with a message, 0 on EOF, -1 on error/timeout (errno). */
static int recv_msg(int fd, struct sync_msg *m, int *got_fd, int timeout_ms)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (got_fd)
		*got_fd = -1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	if (timeout_ms >= 0) {
		int r;

		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			return -1;
	}
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	m->tag[sizeof(m->tag) - 1] = '\0';
	m->text[sizeof(m->text) - 1] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && got_fd)
			memcpy(got_fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

/* ---- child ------------------------------------------------------------- */

struct child_ctx {
	const struct spawn_req *r;
	int sync;
	int stdio[3];  /* child ends, -1 with a terminal */
	int ns_fds[8]; /* exec: namespaces to join, user first */
	int nr_ns;
	int root_fd;  /* exec: the container's root */
	bool user_ns; /* in a user namespace other than the agent's */
};

static const struct {
	enum oci_ns_type type;
	const char *proc;
	int flag;
} ns_info[] = {
        {OCI_NS_USER, "user", CLONE_NEWUSER},       {OCI_NS_IPC, "ipc", CLONE_NEWIPC},
        {OCI_NS_UTS, "uts", CLONE_NEWUTS},          {OCI_NS_NETWORK, "net", CLONE_NEWNET},
        {OCI_NS_CGROUP, "cgroup", CLONE_NEWCGROUP}, {OCI_NS_MOUNT, "mnt", CLONE_NEWNS},
};

static int join_spec_namespaces(const struct oci_spec *s, struct err *e)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_info); i++) {
		const char *path = s->ns[ns_info[i].type].path;
		int fd;

		if (!s->ns[ns_info[i].type].present || !path)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, "linux.namespaces: open %s", path);
		if (setns(fd, ns_info[i].flag) < 0) {
			close(fd);
			return err_sys(e, "linux.namespaces: join %s", path);
		}
		close(fd);
	}
	return 0;
}

static int write_sysctls(const struct oci_spec *s, struct err *e)
{
	for (size_t i = 0; i < s->nr_sysctl; i++) {
		char path[512];
		int fd;

		snprintf(path, sizeof(path), "/proc/sys/%s", s->sysctl_keys[i]);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, "linux.sysctl: %s", s->sysctl_keys[i]);
		if (util_write_all(fd, s->sysctl_values[i], strlen(s->sysctl_values[i])) < 0) {
			err_sys(e, "linux.sysctl: write %s", s->sysctl_keys[i]);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Open a pty inside the container's /dev/pts, make it the controlling
 * terminal and stdio, and hand the master to the agent. */
static int setup_terminal(struct child_ctx *c, struct err *e)
{
	const struct oci_process *p = c->r->proc;
	struct winsize ws = {.ws_row = (unsigned short)p->console_height,
	                     .ws_col = (unsigned short)p->console_width};
	char name[64];
	int master, slave, unlock = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return err_sys(e, "process.terminal: open /dev/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return err_sys(e, "process.terminal: unlock pty");
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return err_sys(e, "process.terminal: open %s", name);
	if (fchown(slave, p->uid, (gid_t)-1) < 0 && errno != EINVAL)
		return err_sys(e, "process.terminal: chown %s", name);
	if (ws.ws_row && ws.ws_col)
		ioctl(slave, TIOCSWINSZ, &ws);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return err_sys(e, "dup2 pty");
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return err_sys(e, "process.terminal: set controlling terminal");
	if (send_msg(c->sync, "ready", NULL, master) < 0)
		return err_sys(e, "send pty");
	close(master);
	return 0;
}

static int set_caps(const struct oci_caps *caps, struct err *e)
{
	static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	const uint64_t sets[] = {caps->effective, caps->permitted, caps->inheritable};
	cap_t c = cap_init();
	int rc = 0;

	if (!c)
		return err_sys(e, "cap_init");
	for (size_t f = 0; f < ARRAY_SIZE(flags); f++)
		for (cap_value_t v = 0; v <= CAP_LAST_CAP && v < 64; v++)
			if ((sets[f] >> v) & 1)
				cap_set_flag(c, flags[f], 1, &v, CAP_SET);
	if (cap_set_proc(c) < 0)
		rc = err_sys(e, "process.capabilities: set");
	cap_free(c);
	if (rc == 0 && cap_reset_ambient() < 0 && errno != EINVAL)
		rc = err_sys(e, "process.capabilities.ambient: reset");
	/* The kernel raises an ambient capability only if it is permitted and
	 * inheritable; runc skips the others (`runc spec` asks for ambient
	 * ones without inheritable), and so does hako. */
	for (cap_value_t v = 0; rc == 0 && v <= CAP_LAST_CAP && v < 64; v++)
		if ((caps->ambient >> v) & 1 && (caps->permitted >> v) & 1 &&
		    (caps->inheritable >> v) & 1 && cap_set_ambient(v, CAP_SET) < 0)
			rc = err_sys(e, "process.capabilities.ambient: raise %s", cap_to_name(v));
	return rc;
}

static int load_seccomp(const struct oci_seccomp *sc, struct err *e)
{
	scmp_filter_ctx ctx = seccomp_init(sc->default_action);
	int rc;

	if (!ctx)
		return err_set(e, EINVAL, "linux.seccomp: cannot create a filter");
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; i < sc->nr_archs; i++) {
		rc = seccomp_arch_add(ctx, sc->archs[i]);
		if (rc < 0 && rc != -EEXIST) {
			seccomp_release(ctx);
			errno = -rc;
			return err_sys(e, "linux.seccomp.architectures[%zu]", i);
		}
	}
	for (size_t i = 0; i < sc->nr_rules; i++) {
		const struct oci_seccomp_rule *r = &sc->rules[i];
		struct scmp_arg_cmp cmp[6];

		if (r->action == sc->default_action)
			continue;
		for (size_t k = 0; k < r->nr_args && k < 6; k++)
			cmp[k] = (struct scmp_arg_cmp){r->args[k].index, r->args[k].op,
			                               r->args[k].value, r->args[k].value_two};
		for (size_t n = 0; n < r->nr_names; n++) {
			int nr = seccomp_syscall_resolve_name(r->names[n]);

			/* Names this kernel/libseccomp does not know are skipped,
			 * like runc does. */
			if (nr == __NR_SCMP_ERROR)
				continue;
			rc = seccomp_rule_add_array(ctx, r->action, nr, (unsigned)r->nr_args, cmp);
			if (rc < 0) {
				seccomp_release(ctx);
				errno = -rc;
				return err_sys(e, "linux.seccomp.syscalls[%zu]: %s", i,
				               r->names[n]);
			}
		}
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		return err_sys(e, "linux.seccomp: load");
	}
	return 0;
}

static int write_oom_score(int v, struct err *e)
{
	char buf[16];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(e, "process.oomScoreAdj");
	snprintf(buf, sizeof(buf), "%d", v);
	if (write(fd, buf, strlen(buf)) < 0) {
		close(fd);
		return err_sys(e, "process.oomScoreAdj: write %d", v);
	}
	close(fd);
	return 0;
}

/* Credentials, limits and the seccomp filter, then execve. */
static int finish_and_exec(const struct oci_spec *s, const struct oci_process *p, struct err *e)
{
	if (chdir(p->cwd) < 0)
		return err_sys(e, "process.cwd: %s", p->cwd);
	for (size_t i = 0; i < p->nr_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};

		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return err_sys(e, "process.rlimits[%zu]", i);
	}
	if (p->has_oom_score_adj && write_oom_score(p->oom_score_adj, e) < 0)
		return -1;
	if (p->umask >= 0)
		umask((mode_t)p->umask);
	if (p->has_caps)
		for (int c = 0; c <= CAP_LAST_CAP; c++)
			if (!((p->caps.bounding >> c) & 1) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return err_sys(e, "process.capabilities.bounding: drop %d", c);
	/* Without no_new_privs the filter needs CAP_SYS_ADMIN: load it first. */
	if (s->seccomp && !p->no_new_privileges && load_seccomp(s->seccomp, e) < 0)
		return -1;
	if (setgroups(p->nr_additional_gids, p->additional_gids) < 0 && errno != EPERM)
		return err_sys(e, "process.user.additionalGids");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return err_sys(e, "process.user.gid %u", p->gid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return err_sys(e, "keep capabilities");
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return err_sys(e, "process.user.uid %u", p->uid);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (p->has_caps && set_caps(&p->caps, e) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_sys(e, "process.noNewPrivileges");
	if (s->seccomp && p->no_new_privileges && load_seccomp(s->seccomp, e) < 0)
		return -1;
	/* execvp searches the PATH of the container's environment. */
	environ = p->env;
	execvp(p->args[0], p->args);
	return err_sys(e, "exec %s", p->args[0]);
}

static int child_setup(struct child_ctx *c, struct err *e)
{
	const struct spawn_req *r = c->r;
	const struct oci_spec *s = r->spec;
	struct sync_msg m;

	if (recv_msg(c->sync, &m, NULL, -1) != 1 || strcmp(m.tag, "go") != 0)
		_exit(1);
	if (r->init_pid) {
		for (int i = 0; i < c->nr_ns; i++)
			if (setns(c->ns_fds[i], 0) < 0)
				return err_sys(e, "join the container's namespaces");
		if (fchdir(c->root_fd) < 0 || chroot(".") < 0)
			return err_sys(e, "enter the container's root");
	} else if (join_spec_namespaces(s, e) < 0) {
		return -1;
	}
	/* Entering a user namespace keeps the agent's kuid 0, which has no
	 * mapping there (files could not be created): become its root. */
	if (c->user_ns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return err_sys(e, "become root of the user namespace (is 0 mapped?)");
	if (setsid() < 0)
		return err_sys(e, "setsid");
	/* The parent put us in the container's cgroup before "go": a cgroup
	 * namespace made now has it as its root. */
	if (!r->init_pid && s->ns[OCI_NS_CGROUP].present && !s->ns[OCI_NS_CGROUP].path &&
	    unshare(CLONE_NEWCGROUP) < 0)
		return err_sys(e, "linux.namespaces: new cgroup namespace");
	if (!r->init_pid) {
		if (mount_rootfs(s, e) < 0)
			return -1;
		if (s->hostname && s->ns[OCI_NS_UTS].present &&
		    sethostname(s->hostname, strlen(s->hostname)) < 0)
			return err_sys(e, "hostname");
		if (write_sysctls(s, e) < 0 || mount_rootfs_finish(s, e) < 0)
			return -1;
	}
	if (r->proc->terminal) {
		if (setup_terminal(c, e) < 0)
			return -1;
	} else {
		for (int i = 0; i < 3; i++)
			if (dup2(c->stdio[i], i) < 0)
				return err_sys(e, "dup2 stdio");
		if (send_msg(c->sync, "ready", NULL, -1) < 0)
			return err_sys(e, "send ready");
	}
	if (recv_msg(c->sync, &m, NULL, -1) != 1 || strcmp(m.tag, "start") != 0)
		_exit(1);
	return finish_and_exec(s, r->proc, e);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The agent's other fds (other containers' stdin pipes, the RPC socket)
 * must not live on in this child while it waits for start. */
static void close_other_fds(struct child_ctx *c)
{
	int keep[16], n = 0, from = 3;

	keep[n++] = c->sync;
	for (int i = 0; i < 3; i++)
		if (c->stdio[i] >= 0)
			keep[n++] = c->stdio[i];
	for (int i = 0; i < c->nr_ns; i++)
		keep[n++] = c->ns_fds[i];
	if (c->root_fd >= 0)
		keep[n++] = c->root_fd;
	qsort(keep, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		if (keep[i] > from)
			close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
		if (keep[i] + 1 > from)
			from = keep[i] + 1;
	}
	close_range((unsigned)from, ~0u, 0);
}

static __attribute__((noreturn)) void child_main(struct child_ctx *c)
{
	struct err e = {0};
	sigset_t none;

	close_other_fds(c);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	child_setup(c, &e);
	send_msg(c->sync, "error", e.msg, -1);
	_exit(127);
}

/* ---- parent ------------------------------------------------------------ */

static int write_idmap(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
                       struct err *e)
{
	char path[64], buf[4096];
	size_t len = 0;
	int fd;

	for (size_t i = 0; i < n && len < sizeof(buf) - 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n",
		                        m[i].container_id, m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "open %s", path);
	if (write(fd, buf, len) < 0) {
		close(fd);
		return err_sys(e, "write %s", path);
	}
	close(fd);
	return 0;
}

/* exec: the namespaces of init that differ from the agent's, user first. */
static int open_target_ns(pid_t init, struct child_ctx *c, int *pidns, struct err *e)
{
	char path[64], self[64];
	struct stat a, b;

	for (size_t i = 0; i < ARRAY_SIZE(ns_info); i++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init, ns_info[i].proc);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_info[i].proc);
		if (stat(path, &a) < 0)
			return err_sys(e, "container init %d", (int)init);
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, "open %s", path);
		c->ns_fds[c->nr_ns++] = fd;
		if (ns_info[i].type == OCI_NS_USER)
			c->user_ns = true;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	*pidns = open(path, O_RDONLY | O_CLOEXEC);
	if (*pidns < 0)
		return err_sys(e, "open %s", path);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)init);
	c->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0)
		return err_sys(e, "open %s", path);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int spawn_create(const struct spawn_req *r, struct spawn_child *out, struct err *e)
{
	struct child_ctx c = {.r = r, .sync = -1, .stdio = {-1, -1, -1}, .root_fd = -1};
	int sv[2] = {-1, -1}, pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
	int pidns = -1, flags = 0, rc = -1;
	struct sync_msg m;
	pid_t pid;

	*out = (struct spawn_child){.pid = -1,
	                            .sync_fd = -1,
	                            .stdin_fd = -1,
	                            .stdout_fd = -1,
	                            .stderr_fd = -1,
	                            .pty_fd = -1};
	if (self_pidns < 0)
		return err_set(e, EINVAL, "spawn: spawn_init was not called");
	if (!r->init_pid && !r->spec->ns[OCI_NS_MOUNT].present)
		return err_set(e, ENOTSUP, "not supported: a container without a mount namespace");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err_sys(e, "socketpair");
	if (!r->proc->terminal) {
		for (int i = 0; i < 3; i++) {
			if (pipe2(pipes[i], O_CLOEXEC) < 0) {
				err_sys(e, "pipe");
				goto out;
			}
		}
		c.stdio[0] = pipes[0][0];
		c.stdio[1] = pipes[1][1];
		c.stdio[2] = pipes[2][1];
	}
	if (r->init_pid) {
		if (open_target_ns(r->init_pid, &c, &pidns, e) < 0)
			goto out;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(ns_info); i++)
			if (r->spec->ns[ns_info[i].type].present &&
			    !r->spec->ns[ns_info[i].type].path && ns_info[i].type != OCI_NS_CGROUP)
				flags |= ns_info[i].flag;
		c.user_ns = r->spec->ns[OCI_NS_USER].present;
		if (r->spec->ns[OCI_NS_PID].present) {
			if (!r->spec->ns[OCI_NS_PID].path) {
				flags |= CLONE_NEWPID;
			} else {
				pidns = open(r->spec->ns[OCI_NS_PID].path, O_RDONLY | O_CLOEXEC);
				if (pidns < 0) {
					err_sys(e, "linux.namespaces: open %s",
					        r->spec->ns[OCI_NS_PID].path);
					goto out;
				}
			}
		}
	}
	c.sync = sv[1];
	/* A pid namespace is entered by the children of whoever joins it: the
	 * agent joins for the length of one clone, then goes back. */
	if (pidns >= 0 && setns(pidns, CLONE_NEWPID) < 0) {
		err_sys(e, "join the container's pid namespace");
		goto out;
	}
	pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0)
		child_main(&c);
	if (pidns >= 0 && setns(self_pidns, CLONE_NEWPID) < 0) {
		err_sys(e, "return to the agent's pid namespace");
		if (pid > 0)
			kill(pid, SIGKILL);
		goto out;
	}
	if (pid < 0) {
		err_sys(e, "clone");
		goto out;
	}
	out->pid = pid;
	close_fd(&sv[1]);
	if (!r->init_pid && flags & CLONE_NEWUSER &&
	    (write_idmap(pid, "uid_map", r->spec->uid_mappings, r->spec->nr_uid_mappings, e) < 0 ||
	     write_idmap(pid, "gid_map", r->spec->gid_mappings, r->spec->nr_gid_mappings, e) < 0))
		goto kill;
	if (r->cg && cgroup_add_pid(r->cg, pid, e) < 0)
		goto kill;
	if (send_msg(sv[0], "go", NULL, -1) < 0) {
		err_sys(e, "spawn: send go");
		goto kill;
	}
	switch (recv_msg(sv[0], &m, &out->pty_fd, SYNC_TIMEOUT_MS)) {
	case 1:
		if (!strcmp(m.tag, "ready"))
			break;
		err_set(e, EINVAL, "%s", m.text);
		goto kill;
	case 0:
		err_set(e, EPIPE, "spawn: the container process exited during setup");
		goto kill;
	default:
		err_sys(e, "spawn: wait for the container process");
		goto kill;
	}
	out->sync_fd = steal_fd(sv[0]);
	if (!r->proc->terminal) {
		out->stdin_fd = steal_fd(pipes[0][1]);
		out->stdout_fd = steal_fd(pipes[1][0]);
		out->stderr_fd = steal_fd(pipes[2][0]);
	}
	rc = 0;
	goto out;
kill:
	kill(pid, SIGKILL);
	close_fd(&out->pty_fd);
	out->pid = -1;
out:
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	for (int i = 0; i < 3; i++) {
		close_fd(&pipes[i][0]);
		close_fd(&pipes[i][1]);
	}
	for (int i = 0; i < c.nr_ns; i++)
		close(c.ns_fds[i]);
	close_fd(&c.root_fd);
	close_fd(&pidns);
	return rc;
}

int spawn_start(struct spawn_child *c, struct err *e)
{
	struct sync_msg m;
	int r;

	if (c->sync_fd < 0)
		return err_set(e, EINVAL, "process already started");
	if (send_msg(c->sync_fd, "start", NULL, -1) < 0) {
		err_sys(e, "start: the container process is gone");
		close_fd(&c->sync_fd);
		return -1;
	}
	r = recv_msg(c->sync_fd, &m, NULL, SYNC_TIMEOUT_MS);
	close_fd(&c->sync_fd);
	if (r == 0)
		return 0;
	if (r > 0)
		return err_set(e, EINVAL, "%s", m.text);
	return err_sys(e, "start: wait for exec");
}

void spawn_abort(struct spawn_child *c)
{
	close_fd(&c->sync_fd);
	close_fd(&c->stdin_fd);
	close_fd(&c->stdout_fd);
	close_fd(&c->stderr_fd);
	close_fd(&c->pty_fd);
}
