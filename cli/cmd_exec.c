/* cli/cmd_exec.c: `hako exec [options] ID CMD...`: run another process in a
 * running container. The container's monitor starts it and relays its stdio
 * to the fds this command passes it; signals sent to this command go to the
 * process; this command exits with the process's exit status. With
 * --detach a child of this command does that and outlives it (conmon, a
 * subreaper, reaps it and reads the status); --pid-file names that process. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/vm.h"
#include "lib/util.h"
#include "runtime/state.h"

enum {
	O_TTY = 't',
	O_ENV = 'e',
	O_USER = 'u',
	O_DETACH = 'd',
	O_CWD = CLI_LONG_ONLY,
	O_PROCESS,
	O_PID_FILE,
};

static const struct cli_option options[] = {
        {"tty", O_TTY, NULL, "give the process a terminal"},
        {"env", O_ENV, "KEY=VALUE", "set an environment variable (repeatable)"},
        {"user", O_USER, "UID[:GID]", "run as this user (default: the container's)"},
        {"cwd", O_CWD, "DIR", "working directory (default: the container's)"},
        {"process", O_PROCESS, "FILE",
         "the process as OCI process JSON (COMMAND, -t, -e, -u, --cwd: ignored)"},
        {"detach", O_DETACH, NULL, "return at once; a child waits and exits with its status"},
        {"pid-file", O_PID_FILE, "FILE", "write the pid of the host process that waits"},
        {NULL, 0, NULL, NULL},
};

static int process_json(const struct cli_args *a, int argc, char **argv, char **out, struct err *e)
{
	struct json_object *p = NULL, *args, *env;
	const char *s;
	int r = -1;

	if (cli_get(a, O_PROCESS)) {
		cleanup_free char *text = NULL;
		size_t len;

		if (util_read_file(cli_get(a, O_PROCESS), 1 << 20, &text, &len, e) < 0)
			return -1;
		p = json_tokener_parse(text);
		if (!p || !json_object_is_type(p, json_type_object)) {
			json_object_put(p);
			return err_set(e, EINVAL, "%s: not a JSON object", cli_get(a, O_PROCESS));
		}
	} else {
		if (!argc)
			return err_set(e, EINVAL, "exec: no command given");
		p = json_object_new_object();
		args = json_object_new_array();
		for (int i = 0; i < argc; i++)
			json_object_array_add(args, json_object_new_string(argv[i]));
		json_object_object_add(p, "args", args);
		json_object_object_add(p, "terminal", json_object_new_boolean(cli_has(a, O_TTY)));
		env = NULL;
		for (int i = 0; i < a->nr_opts; i++)
			if (a->opts[i].key == O_ENV) {
				if (!env)
					env = json_object_new_array();
				json_object_array_add(env,
				                      json_object_new_string(a->opts[i].value));
			}
		if (env)
			json_object_object_add(p, "env", env);
		if (cli_get(a, O_CWD))
			json_object_object_add(p, "cwd", json_object_new_string(cli_get(a, O_CWD)));
		if (cli_get(a, O_USER)) {
			unsigned int uid, gid;
			int n = sscanf(cli_get(a, O_USER), "%u:%u", &uid, &gid);
			struct json_object *u = json_object_new_object();

			if (n < 1) {
				json_object_put(u);
				err_set(e, EINVAL, "exec: --user wants UID[:GID], not %s",
				        cli_get(a, O_USER));
				goto out;
			}
			json_object_object_add(u, "uid", json_object_new_int64(uid));
			json_object_object_add(u, "gid", json_object_new_int64(n == 2 ? gid : uid));
			json_object_object_add(p, "user", u);
		}
	}
	s = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
	*out = s ? strdup(s) : NULL;
	r = *out ? 0 : err_set(e, ENOMEM, "out of memory");
out:
	json_object_put(p);
	return r;
}

static int send_exec(int fd, const char *line, struct err *e)
{
	int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	char cbuf[CMSG_SPACE(sizeof(fds))] = {0};
	struct iovec iov = {.iov_base = (void *)line, .iov_len = strlen(line)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys(e, "exec: send");
	if ((size_t)n < iov.iov_len && util_write_all(fd, line + n, iov.iov_len - (size_t)n) < 0)
		return err_sys(e, "exec: send");
	return 0;
}

/* Start the process and wait for it; "ok" goes to ready_fd (when >= 0) once
 * the monitor has the request. Returns the exit status or -1. */
static int exec_wait(struct cli_ctx *ctx, const struct cli_args *a, int ready_fd, struct err *e)
{
	const char *id = a->argv[0];
	char **argv = a->argv + 1, exec_id[64], reply[ERR_MSG_MAX + 16], kill_cmd[96];
	cleanup_free char *json = NULL, *line = NULL;
	cleanup_close int fd = -1;
	int argc = a->argc - 1, sigfd = -1, status = -1;
	struct termios saved;
	bool raw = false;
	struct state *s;
	sigset_t sigs;

	if (argc && !strcmp(argv[0], "--")) {
		argv++;
		argc--;
	}
	if (state_load(cli_root(ctx), id, &s, e) < 0)
		return -1;
	if (s->status != STATE_RUNNING) {
		err_set(e, EINVAL, "cannot exec in a container that is %s",
		        state_status_name(s->status));
		state_free(s);
		return -1;
	}
	state_free(s);
	if (process_json(a, argc, argv, &json, e) < 0)
		return -1;
	snprintf(exec_id, sizeof(exec_id), "exec-%d-%llx", (int)getpid(), util_now_ns());
	if (asprintf(&line, "exec %s %s\n", exec_id, json) < 0) {
		line = NULL;
		return err_set(e, ENOMEM, "out of memory");
	}
	sigemptyset(&sigs);
	for (int i = 1; i < SIGRTMIN; i++)
		if (i != SIGKILL && i != SIGSTOP && i != SIGPIPE && i != SIGCHLD && i != SIGSEGV &&
		    i != SIGBUS && i != SIGILL && i != SIGFPE && i != SIGTSTP && i != SIGTTIN &&
		    i != SIGTTOU && i != SIGWINCH) {
			/* ignored ones (background jobs ignore SIGINT) would be lost */
			signal(i, SIG_DFL);
			sigaddset(&sigs, i);
		}
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0)
		return err_sys(e, "signalfd");
	if (vm_connect(ctx, id, &fd, e) < 0 || send_exec(fd, line, e) < 0)
		goto out;
	if (ready_fd >= 0) {
		if (util_write_all(ready_fd, "ok\n", 3) < 0)
			fprintf(stderr, "hako: exec: ready pipe: %s\n", strerror(errno));
		close(ready_fd);
	}
	if (cli_has(a, O_TTY) && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = sigfd, .events = POLLIN}};
		struct signalfd_siginfo si;
		struct err ke;

		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			err_sys(e, "poll");
			goto out;
		}
		if (p[1].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			snprintf(kill_cmd, sizeof(kill_cmd), "kill-exec %s %u", exec_id,
			         si.ssi_signo);
			if (vm_control(ctx, id, kill_cmd, &ke) < 0)
				fprintf(stderr, "hako: %s\n", ke.msg);
		}
		if (p[0].revents)
			break;
	}
	vm_read_reply(fd, 5000, reply, sizeof(reply));
	if (sscanf(reply, "exit %d", &status) == 1)
		goto out;
	status = -1;
	if (!strncmp(reply, "error ", 6))
		err_set(e, EIO, "%s", reply + 6);
	else
		err_set(e, EIO, "exec: the container's monitor went away");
out:
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sigfd);
	if (status < 0)
		return -1;
	return status > 255 ? 255 : status;
}

static int write_pid(const char *file, pid_t pid, struct err *e)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return file ? util_write_file(file, buf, strlen(buf), 0644, e) : 0;
}

static int run(struct cli_ctx *ctx, const struct cli_args *a, struct err *e)
{
	char reply[ERR_MSG_MAX + 8];
	size_t n = 0;
	int p[2], status;
	pid_t pid;

	if (!cli_has(a, O_DETACH)) {
		if (write_pid(cli_get(a, O_PID_FILE), getpid(), e) < 0)
			return -1;
		return exec_wait(ctx, a, -1, e);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		status = exec_wait(ctx, a, p[1], e);
		if (status < 0) {
			/* before "ok": the parent reports it; after: whoever reaps us */
			if (dprintf(p[1], "%s\n", e->msg) < 0)
				fprintf(stderr, "hako: %s\n", e->msg);
			_exit(255);
		}
		_exit(status);
	}
	close(p[1]);
	n = vm_read_ready(p[0], reply, sizeof(reply));
	if (strncmp(reply, "ok", 2)) {
		waitpid(pid, NULL, 0);
		return err_set(e, EIO, "%s", n ? reply : "exec: the waiting process died");
	}
	return write_pid(cli_get(a, O_PID_FILE), pid, e) < 0 ? -1 : 0;
}

const struct cli_command cli_cmd_exec = {
        .name = "exec",
        .args = "<container-id> <command> [args...]",
        .summary = "run another process in a running container",
        .options = options,
        .min_args = 1,
        .max_args = -1,
        .run = run,
};
