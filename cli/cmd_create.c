/* cli/cmd_create.c: `hako create [--bundle DIR] [--pid-file F] ID`: boot the
 * container's VM and create the container in it, not started. A monitor
 * process forked here owns the VM from now (its pid is the container's
 * pid), keeps the stdio given to create for the container, and is told
 * what to do through its control socket. */
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

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/bundle.h"
#include "runtime/spec.h"

enum { O_BUNDLE = 'b', O_PID_FILE = CLI_LONG_ONLY, O_CONSOLE, O_NO_PIVOT, O_NO_NEW_KEYRING };

static const struct cli_option options[] = {
        {"bundle", O_BUNDLE, "DIR", "the OCI bundle (default: the current directory)"},
        {"pid-file", O_PID_FILE, "FILE", "write the container's pid (its monitor's) to FILE"},
        {"console-socket", O_CONSOLE, "SOCKET",
         "send the master of the container's terminal to this unix socket"},
        {"no-pivot", O_NO_PIVOT, NULL, "accepted for runc compatibility; no effect"},
        {"no-new-keyring", O_NO_NEW_KEYRING, NULL, "accepted for runc compatibility; no effect"},
        {NULL, 0, NULL, NULL},
};

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

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	struct vm_opts o = {.foreground = false};
	const char *dir = cli_get(a, O_BUNDLE) ? cli_get(a, O_BUNDLE) : ".";
	struct bundle *b = NULL;
	struct json_object *term;
	char reply[ERR_MSG_MAX + 8];
	int p[2], r = -1;
	ssize_t n = 0;
	pid_t pid;

	o.id = a->argv[0];
	if (bundle_load(dir, &b, e) < 0)
		return -1;
	if (b->kind == BUNDLE_CONTAINER) {
		err_set(e, ENOTSUP, "not supported: joining the pod sandbox %s",
		        bundle_sandbox_id(b) ? bundle_sandbox_id(b) : "?");
		goto out;
	}
	o.tty = json_object_object_get_ex(b->spec, "process", &term) &&
	        json_object_object_get_ex(term, "terminal", &term) && json_object_get_boolean(term);
	o.stdin_open = true; /* /dev/null reads as EOF at once, as with runc */
	if (o.tty != !!cli_get(a, O_CONSOLE)) {
		err_set(e, EINVAL, "%s",
		        o.tty ? "process.terminal needs --console-socket"
		              : "--console-socket needs process.terminal");
		goto out;
	}
	if (spec_from_json_object(b->spec, &o.spec, e) < 0)
		goto out;
	o.bundle = b->dir;
	o.rootfs = b->rootfs;
	o.readonly = b->readonly;
	o.pid_file = cli_get(a, O_PID_FILE);
	if (pipe2(p, O_CLOEXEC) < 0) {
		err_sys(e, "pipe");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err_sys(e, "fork");
		close(p[0]);
		close(p[1]);
		goto out;
	}
	if (pid == 0) {
		close(p[0]);
		o.ready_fd = p[1];
		monitor(ctx, &o, cli_get(a, O_CONSOLE));
	}
	close(p[1]);
	for (;;) {
		ssize_t got = read(p[0], reply + n, sizeof(reply) - 1 - (size_t)n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += got;
	}
	close(p[0]);
	reply[n] = 0;
	if (n && reply[n - 1] == '\n')
		reply[n - 1] = 0;
	if (!strcmp(reply, "ok")) {
		r = 0;
	} else {
		err_set(e, EIO, "%s", n ? reply : "the container's monitor died while starting");
		waitpid(pid, NULL, 0);
	}
out:
	spec_free(o.spec);
	bundle_free(b);
	return r;
}

const struct cli_command cli_cmd_create = {
        .name = "create",
        .args = "<container-id>",
        .summary = "create a container (boot its VM) without starting its process",
        .options = options,
        .min_args = 1,
        .max_args = 1,
        .run = run,
};
