/* agent/main.c: hako-agent. As PID 1 of the guest: mount the basics, enable
 * cgroup controllers, serve ttrpc on vsock port 1024 or on the virtio-serial
 * port agent.channel.0. With --listen unix:PATH (host-mode tests): enter
 * private mount/uts/ipc/net namespaces first and serve on a unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent/cgroup.h"
#include "agent/container.h"
#include "agent/mount.h"
#include "agent/rpc.h"
#include "lib/log.h"
#include "lib/util.h"

#define VSOCK_PORT  1024
#define SERIAL_NAME "agent.channel.0"
#define VPORTS      "/sys/class/virtio-ports"

static struct {
	struct loop *loop;
	struct rpc *rpc;
	bool host_mode;
	int sigfd;
	/* virtio-serial: the fd handed to ttrpc and what it was, to notice
	 * when ttrpc closed it (host side hung up) and reopen the port. */
	char serial_path[64];
	int serial_fd;
	dev_t serial_rdev;
	int timer_fd;
} agent = {.sigfd = -1, .serial_fd = -1, .timer_fd = -1};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hako-agent [--listen unix:PATH] [--debug] [--version]\n"
	        "  (no --listen: guest mode, PID 1, vsock port %d or virtio-serial %s)\n",
	        VSOCK_PORT, SERIAL_NAME);
}

static void ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open(fd == 0 ? "/dev/null" : "/dev/console", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			open("/dev/null", O_RDWR);
	}
}

static int listen_unix(const char *path, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "--listen: path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		err_sys(e, "listen on %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* AF_VSOCK sockets exist whenever the kernel has vsock, device or not: a
 * guest CID says a transport (virtio-vsock) is really there. */
static bool vsock_present(void)
{
	unsigned int cid = VMADDR_CID_ANY;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
		cid = VMADDR_CID_ANY;
	close(fd);
	return cid != VMADDR_CID_ANY && cid > VMADDR_CID_HOST;
}

static int listen_vsock(struct err *e)
{
	struct sockaddr_vm sa = {
	        .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VSOCK_PORT};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return err_sys(e, "vsock socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		err_sys(e, "listen on vsock port %d", VSOCK_PORT);
		close(fd);
		return -1;
	}
	return fd;
}

/* Find the port named agent.channel.0 and make its /dev node (no udev). */
static int find_serial(struct err *e)
{
	DIR *d = opendir(VPORTS);
	struct dirent *de;
	int rc = err_set(e, ENOENT, "no virtio-serial port named " SERIAL_NAME);

	if (!d)
		return err_sys(e, "no vsock and no " VPORTS);
	while ((de = readdir(d))) {
		char path[300], *text = NULL;
		unsigned maj, min;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), VPORTS "/%s/name", de->d_name);
		if (util_read_file(path, 256, &text, NULL, NULL) < 0)
			continue;
		if (strncmp(text, SERIAL_NAME, strlen(SERIAL_NAME)) != 0) {
			free(text);
			continue;
		}
		free(text);
		text = NULL;
		snprintf(path, sizeof(path), VPORTS "/%s/dev", de->d_name);
		if (util_read_file(path, 64, &text, NULL, e) < 0 ||
		    sscanf(text, "%u:%u", &maj, &min) != 2) {
			free(text);
			rc = err_set(e, EINVAL, "cannot read %s", path);
			break;
		}
		free(text);
		if (strlen(de->d_name) + 6 > sizeof(agent.serial_path)) {
			rc = err_set(e, ENAMETOOLONG, "port name too long: %s", de->d_name);
			break;
		}
		strcpy(agent.serial_path, "/dev/");
		strcat(agent.serial_path, de->d_name);
		agent.serial_rdev = makedev(maj, min);
		if (mknod(agent.serial_path, S_IFCHR | 0600, agent.serial_rdev) < 0 &&
		    errno != EEXIST)
			rc = err_sys(e, "mknod %s", agent.serial_path);
		else
			rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

static void serial_check(void *data, uint32_t events)
{
	struct stat st;
	uint64_t ticks;
	struct err e = {0};

	(void)data;
	(void)events;
	if (read(agent.timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	if (agent.serial_fd >= 0 && fstat(agent.serial_fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == agent.serial_rdev)
		return;
	agent.serial_fd = open(agent.serial_path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (agent.serial_fd < 0)
		return;
	if (rpc_serve_fd(agent.rpc, agent.serial_fd, &e) < 0) {
		log_warn("serve %s: %s", agent.serial_path, e.msg);
		agent.serial_fd = -1;
		return;
	}
	log_debug("serving %s", agent.serial_path);
}

static int serve_serial(struct err *e)
{
	struct itimerspec its = {.it_interval = {.tv_sec = 1}, .it_value = {.tv_nsec = 1}};

	if (find_serial(e) < 0)
		return -1;
	agent.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (agent.timer_fd < 0 || timerfd_settime(agent.timer_fd, 0, &its, NULL) < 0)
		return err_sys(e, "timerfd");
	log_info("listening on virtio-serial %s (%s)", SERIAL_NAME, agent.serial_path);
	return loop_add(agent.loop, agent.timer_fd, EPOLLIN, serial_check, NULL, e);
}

static void on_signal(void *data, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)data;
	(void)events;
	if (read(agent.sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: shutting down", si.ssi_signo);
	loop_stop(agent.loop);
}

/* Host mode: everything the agent changes stays in its own namespaces. */
static int enter_host_sandbox(struct err *e)
{
	if (getuid() != 0)
		return err_set(e, EPERM, "host mode needs root (namespaces, mounts, cgroups)");
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) < 0)
		return err_sys(e, "unshare mount/uts/ipc/net namespaces");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return err_sys(e, "make / a slave mount");
	/* CopyFile and storages may write under /run: a private tmpfs. */
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return err_sys(e, "mount tmpfs on /run");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return err_sys(e, "become a subreaper");
	return 0;
}

/* Kata's switch on the kernel command line: agent.log=debug. */
static void guest_log_level(void)
{
	char *cmdline = NULL;

	if (util_read_file("/proc/cmdline", 65536, &cmdline, NULL, NULL) < 0)
		return;
	for (char *p = strstr(cmdline, "agent.log=debug"); p; p = strstr(p + 1, "agent.log=debug"))
		if (p == cmdline || p[-1] == ' ')
			log_set_level(LOG_DEBUG);
	free(cmdline);
}

static int guest_setup(struct err *e)
{
	if (mount_guest_basics(e) < 0)
		return -1;
	ensure_stdio();
	guest_log_level();
	if (cgroup_enable_controllers(e) < 0) {
		log_warn("cgroup controllers: %s", e->msg);
		err_clear(e);
	}
	return 0;
}

static int run(const char *listen_addr, struct err *e)
{
	sigset_t set;
	int fd;

	if (agent.host_mode) {
		if (enter_host_sandbox(e) < 0)
			return -1;
	} else if (guest_setup(e) < 0) {
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (loop_new(&agent.loop, e) < 0 || container_engine_init(agent.loop, e) < 0 ||
	    rpc_new(agent.loop, agent.host_mode, &agent.rpc, e) < 0)
		return -1;
	if (agent.host_mode) {
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
			return err_sys(e, "block SIGTERM");
		agent.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		if (agent.sigfd < 0 ||
		    loop_add(agent.loop, agent.sigfd, EPOLLIN, on_signal, NULL, e) < 0)
			return err_sys(e, "signalfd");
		fd = listen_unix(listen_addr + 5, e);
		if (fd < 0 || rpc_listen(agent.rpc, fd, e) < 0)
			return -1;
		log_info("host mode: listening on %s", listen_addr);
	} else {
		struct err verr = {0};

		if (vsock_present())
			fd = listen_vsock(&verr);
		else
			fd = err_set(&verr, ENODEV, "no vsock transport");
		if (fd >= 0) {
			if (rpc_listen(agent.rpc, fd, e) < 0)
				return -1;
			log_info("listening on vsock port %d", VSOCK_PORT);
		} else if (serve_serial(e) < 0) {
			return err_ctx(e, "%s; virtio-serial", verr.msg);
		}
	}
	if (loop_run(agent.loop, e) < 0)
		return -1;
	container_engine_cleanup();
	rpc_free(agent.rpc);
	loop_free(agent.loop);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"listen", required_argument, NULL, 'l'},
	        {"debug", no_argument, NULL, 'd'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *listen_addr = NULL;
	struct err e = {0};
	int c;

	log_set_name("hako-agent");
	log_set_level(LOG_INFO);
	while ((c = getopt_long(argc, argv, "l:dVh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'd':
			log_set_level(LOG_DEBUG);
			break;
		case 'V':
			printf("hako-agent %s\n", HAKO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* As the guest's /init, extra words are kernel command-line words the
	 * kernel did not consume (e.g. "noxsave"): not ours, ignore them. */
	if (optind != argc && getpid() != 1) {
		usage(stderr);
		return 2;
	}
	if (listen_addr) {
		if (strncmp(listen_addr, "unix:", 5) != 0 || !listen_addr[5]) {
			fprintf(stderr, "hako-agent: --listen takes unix:PATH\n");
			return 2;
		}
		agent.host_mode = true;
	} else if (getpid() != 1) {
		fprintf(stderr, "hako-agent: guest mode runs as PID 1 (the initrd's /init); "
		                "use --listen unix:PATH to run on a host\n");
		return 2;
	}
	ensure_stdio();
	if (run(listen_addr, &e) == 0)
		return 0;
	log_error("%s", e.msg);
	fprintf(stderr, "hako-agent: %s\n", e.msg);
	if (!agent.host_mode) {
		/* PID 1 must not exit (the kernel panics): power the VM off. */
		sync();
		reboot(RB_POWER_OFF);
	}
	return 1;
}
