/* cli/vm_spawn.c: fork a detached container monitor (`hako create`, `hako
 * run -d`) and wait until it has created the container, or failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/vm.h"
#include "lib/log.h"
#include "lib/util.h"

/* runc's console protocol: the pty master goes to the socket as SCM_RIGHTS,
 * with its name as the payload. */
static int send_master(const char *socket_path, int master, const char *name, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	cleanup_close int fd = -1;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "console socket path too long: %s", socket_path);
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_sys(e, "console socket %s", socket_path);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return err_sys(e, "console socket %s: send", socket_path);
	return 0;
}

/* A host pty whose slave becomes the monitor's stdio and controlling
 * terminal (so that a resize by whoever holds the master reaches it as
 * SIGWINCH); its master goes to the console socket. The guest has the
 * container's own pty: this one stays raw. */
static int setup_console(const char *socket_path, struct err *e)
{
	cleanup_close int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;
	const char *name;
	int slave;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(name = ptsname(master)))
		return err_sys(e, "console: pty");
	slave = open(name, O_RDWR);
	if (slave < 0)
		return err_sys(e, "console: open %s", name);
	if (tcgetattr(slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(slave, TCSANOW, &t);
	}
	if (send_master(socket_path, master, name, e) < 0) {
		close(slave);
		return -1;
	}
	for (int fd = 0; fd < 3; fd++)
		dup2(slave, fd);
	if (slave > 2)
		close(slave);
	return 0;
}

/* The child: become the monitor; never returns. */
static void __attribute__((noreturn))
monitor(struct cli_ctx *ctx, struct vm_opts *o, const char *console)
{
	struct err e;
	int status;

	setsid();
	if (console && setup_console(console, &e) < 0) {
		dprintf(o->ready_fd, "%s\n", e.msg);
		_exit(1);
	}
	status = vm_monitor(ctx, o, &e);
	if (status < 0 && e.msg[0])
		log_error("%s", e.msg);
	log_close();
	/* the monitor is the container's pid: its parent (conmon, a shim)
	 * reads the container's exit status from it */
	_exit(status < 0 ? 255 : status > 255 ? 255 : status);
}

size_t vm_read_ready(int fd, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		ssize_t got = read(fd, buf + n, size - 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	return n;
}

int vm_spawn(struct cli_ctx *ctx, struct vm_opts *o, const char *console, struct err *e)
{
	char reply[ERR_MSG_MAX + 8];
	size_t n = 0;
	pid_t pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err_sys(e, "fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		o->ready_fd = p[1];
		monitor(ctx, o, console);
	}
	close(p[1]);
	n = vm_read_ready(p[0], reply, sizeof(reply));
	if (strcmp(reply, "ok")) {
		err_set(e, EIO, "%s", n ? reply : "the container's monitor died while starting");
		waitpid(pid, NULL, 0);
		return -1;
	}
	return (int)pid;
}
