/* cli/vm.c: the container monitor (see vm.h) and its control socket.
 * Threads: main boots, waits for the container and cleans up; "control"
 * polls the control socket, signals and stdin; "stdout"/"stderr" loop on
 * ReadStdout/ReadStderr. The agent client is thread-safe. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/vm.h"
#include "lib/log.h"
#include "lib/pbjson.h"
#include "lib/util.h"
#include "runtime/config.h"
#include "runtime/sandbox.h"
#include "runtime/state.h"

#define CTL_SOCK   "ctl.sock"
#define CTL_MAX    65536 /* an exec carries its process as JSON */
#define CTL_WAIT_S 30

/* One output stream of one process, copied to fd until it ends. */
struct relay {
	struct agent *agent;
	const char *cid;
	const char *exec_id; /* NULL: the container's init */
	bool stdout_;
	int fd;
};

struct vm {
	const struct cli_ctx *ctx;
	const struct vm_opts *o;
	const struct hv_ops *ops;
	struct sandbox *sb;
	struct agent *agent;
	struct state st;
	char now[64], dir[4096], run_dir[4200], ctl_path[4200], image_rootfs[4400];
	const char *rootfs;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, deleted;
	pthread_t out_t, err_t;
	struct relay out_r, err_r;
	bool out_running, err_running;
	int execs; /* exec jobs running (under lock) */

	int quit_pipe[2]; /* tells the control thread to end */
	int sigfd, listen_fd;
	bool stdin_open;
};

static void save_state(struct vm *v, enum state_status status)
{
	struct err e;

	pthread_mutex_lock(&v->lock);
	v->st.status = status;
	if (state_save(cli_root(v->ctx), &v->st, &e) < 0)
		log_warn("%s", e.msg);
	pthread_mutex_unlock(&v->lock);
}

/* ---- stdio -------------------------------------------------------------- */

static void *relay_output(void *arg)
{
	struct relay *r = arg;
	char buf[16384];
	struct err e;
	ssize_t n;

	while ((n = agent_read_stream(r->agent, r->cid, r->exec_id, r->stdout_, buf, sizeof(buf),
	                              &e)) > 0)
		if (util_write_all(r->fd, buf, (size_t)n) < 0)
			break;
	if (n < 0)
		log_debug("%s: %s", r->stdout_ ? "stdout" : "stderr", e.msg);
	return NULL;
}

static void tty_resize(struct vm *v)
{
	struct winsize ws;
	struct err e;

	if (v->o->tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    agent_tty_resize(v->agent, v->o->id, NULL, ws.ws_row, ws.ws_col, &e) < 0)
		log_debug("%s", e.msg);
}

/* StartContainer, then the output relays; from main or control thread. */
static int do_start(struct vm *v, struct err *e)
{
	pthread_mutex_lock(&v->lock);
	if (v->started || v->deleted) {
		pthread_mutex_unlock(&v->lock);
		return err_set(e, EBUSY, "container %s is not in the created state", v->o->id);
	}
	pthread_mutex_unlock(&v->lock);
	if (sandbox_start_container(v->sb, v->o->id, e) < 0)
		return -1;
	save_state(v, STATE_RUNNING);
	pthread_mutex_lock(&v->lock);
	v->out_r = (struct relay){v->agent, v->o->id, NULL, true, STDOUT_FILENO};
	v->err_r = (struct relay){v->agent, v->o->id, NULL, false, STDERR_FILENO};
	v->out_running = pthread_create(&v->out_t, NULL, relay_output, &v->out_r) == 0;
	v->err_running =
	        !v->o->tty && pthread_create(&v->err_t, NULL, relay_output, &v->err_r) == 0;
	v->started = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	tty_resize(v);
	return 0;
}

/* ---- control thread ----------------------------------------------------- */

/* "stats": the container's cgroup stats as JSON (agent proto names). */
static int stats_json(struct vm *v, char **out, struct err *e)
{
	Grpc__StatsContainerResponse *resp = NULL;
	int r;

	if (agent_stats_container(v->agent, v->o->id, &resp, e) < 0)
		return -1;
	r = pbjson_to_string(&resp->base, 0, out, e);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

/* "update JSON": new resources, config.json's linux.resources format. */
static int update(struct vm *v, const char *json, struct err *e)
{
	ProtobufCMessage *res = NULL;
	int r;

	if (pbjson_from_string(&grpc__linux_resources__descriptor, json, PBJSON_OCI, &res, e) < 0)
		return err_ctx(e, "update: resources");
	r = agent_update_container(v->agent, v->o->id, (Grpc__LinuxResources *)res, e);
	protobuf_c_message_free_unpacked(res, NULL);
	return r;
}

/* One control command; *out (malloc'd, may stay NULL) is sent after "ok". */
static int handle_command(struct vm *v, char *cmd, char **out, struct err *e)
{
	char exec_id[64];
	int sig;

	if (!strcmp(cmd, "stats"))
		return stats_json(v, out, e);
	if (!strncmp(cmd, "update ", 7))
		return update(v, cmd + 7, e);

	if (!strcmp(cmd, "start"))
		return do_start(v, e);
	if (sscanf(cmd, "kill-exec %63s %d", exec_id, &sig) == 2)
		return agent_signal_process(v->agent, v->o->id, exec_id, sig, e);
	if (sscanf(cmd, "kill %d", &sig) == 1 || sscanf(cmd, "kill-all %d", &sig) == 1) {
		/* The container's init, also for "all": the agent API has no
		 * "every process" form. SIGKILL still ends them all, since the
		 * init is PID 1 of the container's pid namespace. */
		return agent_signal_process(v->agent, v->o->id, NULL, sig, e);
	}
	if (!strcmp(cmd, "pause")) {
		if (sandbox_pause(v->sb, e) < 0)
			return -1;
		save_state(v, STATE_PAUSED);
		return 0;
	}
	if (!strcmp(cmd, "resume")) {
		if (sandbox_resume(v->sb, e) < 0)
			return -1;
		save_state(v, v->started ? STATE_RUNNING : STATE_CREATED);
		return 0;
	}
	if (!strcmp(cmd, "delete")) {
		pthread_mutex_lock(&v->lock);
		v->deleted = true;
		pthread_cond_broadcast(&v->cond);
		pthread_mutex_unlock(&v->lock);
		/* a running container is killed; the main thread then cleans up */
		if (v->started && agent_signal_process(v->agent, v->o->id, NULL, SIGKILL, e) < 0)
			log_debug("delete: %s", e->msg);
		return 0;
	}
	return err_set(e, EINVAL, "unknown control command '%s'", cmd);
}

/* ---- exec --------------------------------------------------------------- */

/* One `hako exec`: its stdio fds, the client socket that gets "exit N". */
struct exec_job {
	struct vm *v;
	char exec_id[64];
	int fds[3];
	int client;
	bool tty;
	int status;
	int done[2]; /* the waiter writes here once WaitProcess returned */
};

static void *exec_waiter(void *arg)
{
	struct exec_job *j = arg;
	struct err e;

	if (agent_wait_process(j->v->agent, j->v->o->id, j->exec_id, &j->status, &e) < 0) {
		log_debug("exec %s: %s", j->exec_id, e.msg);
		j->status = -1;
	}
	if (util_write_all(j->done[1], "x", 1) < 0)
		log_debug("exec %s: done pipe", j->exec_id);
	return NULL;
}

static void exec_job_free(struct exec_job *j)
{
	struct vm *v = j->v;

	for (int i = 0; i < 3; i++)
		close(j->fds[i]);
	close(j->client);
	if (j->done[0] >= 0) {
		close(j->done[0]);
		close(j->done[1]);
	}
	free(j);
	pthread_mutex_lock(&v->lock);
	v->execs--;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* Relay the exec's stdio until it exits, then tell the client. */
static void *exec_job(void *arg)
{
	struct exec_job *j = arg;
	struct vm *v = j->v;
	struct relay out = {v->agent, v->o->id, j->exec_id, true, j->fds[1]};
	struct relay err = {v->agent, v->o->id, j->exec_id, false, j->fds[2]};
	pthread_t out_t, err_t, wait_t;
	bool out_ok, err_ok, wait_ok;
	struct pollfd p[2] = {{.fd = -1, .events = POLLIN}, {.fd = j->fds[0], .events = POLLIN}};
	char buf[4096], reply[128];
	struct err e;

	p[0].fd = j->done[0];
	out_ok = pthread_create(&out_t, NULL, relay_output, &out) == 0;
	err_ok = !j->tty && pthread_create(&err_t, NULL, relay_output, &err) == 0;
	wait_ok = pthread_create(&wait_t, NULL, exec_waiter, j) == 0;
	while (wait_ok && (poll(p, 2, -1) >= 0 || errno == EINTR)) {
		if (p[0].revents)
			break;
		if (p[1].revents) {
			ssize_t n = read(j->fds[0], buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0 && agent_write_stdin(v->agent, v->o->id, j->exec_id, buf,
			                               (size_t)n, &e) >= 0)
				continue;
			if (agent_close_stdin(v->agent, v->o->id, j->exec_id, &e) < 0)
				log_debug("exec %s: %s", j->exec_id, e.msg);
			p[1].fd = -1;
		}
	}
	if (wait_ok)
		pthread_join(wait_t, NULL);
	else
		j->status = -1;
	if (out_ok)
		pthread_join(out_t, NULL);
	if (err_ok)
		pthread_join(err_t, NULL);
	if (j->status < 0)
		snprintf(reply, sizeof(reply), "error exec %s failed\n", j->exec_id);
	else
		snprintf(reply, sizeof(reply), "exit %d\n", j->status);
	if (util_write_all(j->client, reply, strlen(reply)) < 0)
		log_debug("exec %s: client gone", j->exec_id);
	exec_job_free(j);
	return NULL;
}

/* A copy of what the container's own process has, for what exec left out. */
static int exec_defaults(Grpc__Process *p, const Grpc__Process *c, struct err *e)
{
	if (!c)
		return 0;
	if (!p->n_env && c->n_env) {
		p->env = calloc(c->n_env, sizeof(*p->env));
		if (!p->env)
			return err_set(e, ENOMEM, "out of memory");
		for (; p->n_env < c->n_env; p->n_env++)
			if (!(p->env[p->n_env] = strdup(c->env[p->n_env])))
				return err_set(e, ENOMEM, "out of memory");
	}
	if ((!p->cwd || !*p->cwd) && c->cwd && *c->cwd) {
		char *cwd = strdup(c->cwd);

		if (!cwd)
			return err_set(e, ENOMEM, "out of memory");
		if (p->cwd != protobuf_c_empty_string)
			free(p->cwd);
		p->cwd = cwd;
	}
	if (!p->user && c->user) {
		uint8_t buf[4096];
		size_t n = grpc__user__get_packed_size(c->user);

		if (n > sizeof(buf))
			return err_set(e, E2BIG, "container user too large");
		grpc__user__pack(c->user, buf);
		p->user = grpc__user__unpack(NULL, n, buf);
		if (!p->user)
			return err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

/* "exec ID JSON" with the caller's stdin/stdout/stderr attached: start the
 * process and hand the client to a job thread. Takes fds and client. */
static int start_exec(struct vm *v, const char *args, int fds[3], int client, struct err *e)
{
	char exec_id[64];
	Grpc__Process *p = NULL;
	struct exec_job *j;
	pthread_t t;
	int off = 0, r = -1;

	if (!v->started)
		return err_set(e, EINVAL, "container %s is not running", v->o->id);
	if (sscanf(args, "%63s %n", exec_id, &off) != 1 || !off)
		return err_set(e, EINVAL, "exec: expected an id and a process");
	if (pbjson_from_string(&grpc__process__descriptor, args + off, PBJSON_OCI | PBJSON_LENIENT,
	                       (ProtobufCMessage **)&p, e) < 0)
		return err_ctx(e, "exec: process");
	if (exec_defaults(p, v->o->spec->process, e) < 0 ||
	    agent_exec_process(v->agent, v->o->id, exec_id, p, e) < 0)
		goto out;
	j = calloc(1, sizeof(*j));
	if (!j) {
		err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	j->v = v;
	snprintf(j->exec_id, sizeof(j->exec_id), "%s", exec_id);
	memcpy(j->fds, fds, sizeof(j->fds));
	j->client = client;
	j->tty = p->terminal;
	if (pipe2(j->done, O_CLOEXEC) < 0) {
		free(j);
		err_sys(e, "pipe");
		goto out;
	}
	pthread_mutex_lock(&v->lock);
	v->execs++;
	pthread_mutex_unlock(&v->lock);
	if (pthread_create(&t, NULL, exec_job, j) != 0) {
		/* the process runs on without its stdio; the client hears why */
		for (int i = 0; i < 3; i++)
			fds[i] = dup(fds[i]);
		j->client = dup(client);
		exec_job_free(j);
		err_set(e, EAGAIN, "exec: cannot start a thread");
		goto out;
	}
	pthread_detach(t);
	r = 1;
out:
	protobuf_c_message_free_unpacked(&p->base, NULL);
	return r;
}

/* ---- control socket ----------------------------------------------------- */

/* One request line (and, for exec, three fds) from a client. */
static void serve_client(struct vm *v, int fd)
{
	static char buf[CTL_MAX]; /* only the control thread serves */
	char reply[ERR_MSG_MAX + 16], cbuf[CMSG_SPACE(3 * sizeof(int))];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int fds[3] = {-1, -1, -1}, nfds = 0, r;
	char *data = NULL;
	struct err e;
	size_t n = 0;
	char *nl = NULL;

	/* a client that says nothing in time is dropped */
	while (!nl && n < sizeof(buf) - 1 && poll(&p, 1, 5000) == 1) {
		struct iovec iov = {.iov_base = buf + n, .iov_len = sizeof(buf) - 1 - n};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		struct cmsghdr *c;
		ssize_t got;

		if (!nfds) {
			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
		}
		got = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (got <= 0)
			break;
		for (c = mh.msg_controllen ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				memcpy(fds, CMSG_DATA(c),
				       (size_t)(nfds > 3 ? 3 : nfds) * sizeof(int));
			}
		n += (size_t)got;
		buf[n] = 0;
		nl = strchr(buf, '\n');
	}
	if (!nl)
		goto out;
	*nl = 0;
	if (!strncmp(buf, "exec ", 5)) {
		r = nfds == 3 ? start_exec(v, buf + 5, fds, fd, &e)
		              : err_set(&e, EINVAL, "exec: stdio not passed");
		if (r == 1)
			return; /* the job owns fds and the client now */
	} else {
		r = handle_command(v, buf, &data, &e);
	}
	if (r < 0)
		snprintf(reply, sizeof(reply), "error %s\n", e.msg);
	else
		snprintf(reply, sizeof(reply), data ? "ok " : "ok\n");
	if (util_write_all(fd, reply, strlen(reply)) < 0 ||
	    (r >= 0 && data &&
	     (util_write_all(fd, data, strlen(data)) < 0 || util_write_all(fd, "\n", 1) < 0)))
		log_debug("control: reply: %s", strerror(errno));
	free(data);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(fd);
}

static void on_signal(struct vm *v, int sig)
{
	struct err e;

	if (sig == SIGWINCH) {
		tty_resize(v);
		return;
	}
	if (!v->o->foreground) {
		/* a detached monitor asked to end: end the container with it */
		if (sig != SIGTERM && sig != SIGINT && sig != SIGHUP)
			return;
		if (!v->started) {
			handle_command(v, (char[]){"delete"}, NULL, &e);
			return;
		}
		sig = SIGKILL;
	}
	if (v->started && agent_signal_process(v->agent, v->o->id, NULL, sig, &e) < 0)
		log_warn("%s", e.msg);
	if (!v->started && v->o->foreground)
		handle_command(v, (char[]){"delete"}, NULL, &e);
}

static void *control(void *arg)
{
	struct vm *v = arg;
	struct pollfd p[4] = {
	        {.fd = v->quit_pipe[0], .events = POLLIN},
	        {.fd = v->sigfd, .events = POLLIN},
	        {.fd = v->listen_fd, .events = POLLIN},
	        {.fd = -1, .events = POLLIN},
	};
	bool stdin_done = !v->stdin_open;
	char buf[4096];
	struct err e;

	for (;;) {
		/* stdin is read once the process runs, until EOF */
		p[3].fd = !stdin_done && v->started ? STDIN_FILENO : -1;
		if (poll(p, 4, p[3].fd < 0 && !stdin_done ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(v->sigfd, &si, sizeof(si)) == sizeof(si))
				on_signal(v, (int)si.ssi_signo);
		}
		if (p[2].revents & POLLIN) {
			int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				serve_client(v, fd);
		}
		if (p[3].fd >= 0 && p[3].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0 &&
			    agent_write_stdin(v->agent, v->o->id, NULL, buf, (size_t)n, &e) >= 0)
				continue;
			/* EOF, or the process stopped reading: close its stdin */
			if (agent_close_stdin(v->agent, v->o->id, NULL, &e) < 0)
				log_debug("stdin: %s", e.msg);
			stdin_done = true;
		}
	}
	return NULL;
}

/* ---- the monitor -------------------------------------------------------- */

static int listen_ctl(struct vm *v, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(v->ctl_path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "control socket path too long: %s", v->ctl_path);
	strcpy(sa.sun_path, v->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	unlink(v->ctl_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		err_sys(e, "listen on %s", v->ctl_path);
		close(fd);
		return -1;
	}
	v->listen_fd = fd;
	return 0;
}

static void block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	for (int s = 1; s < SIGRTMIN; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGPIPE && s != SIGCHLD && s != SIGSEGV &&
		    s != SIGBUS && s != SIGILL && s != SIGFPE && s != SIGTSTP && s != SIGTTIN &&
		    s != SIGTTOU) {
			/* an ignored signal (a shell's background job ignores SIGINT)
			 * would never reach the signalfd */
			signal(s, SIG_DFL);
			sigaddset(sigs, s);
		}
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

/* Boot the VM and create the container. */
static int vm_boot(struct vm *v, struct config **cfg, char **kernel, char **initrd, struct err *e)
{
	struct sandbox_config sc = {.id = v->o->id, .run_dir = v->run_dir, .hostname = v->o->id};
	struct config_choice ch;

	if (cli_load_config(v->ctx, cfg, e) < 0 ||
	    config_resolve_hypervisor(*cfg, v->ctx->g.hypervisor, &ch, e) < 0)
		return -1;
	v->ops = sc.ops = hv_lookup(ch.hypervisor);
	if (!sc.ops)
		return err_set(e, ENOTSUP, "not supported: hypervisor %s in this build",
		               ch.hypervisor);
	log_debug("%s: %s", v->o->id, ch.reason);
	if (config_hv_config(*cfg, &ch, &sc.hv, kernel, initrd, e) < 0)
		return -1;
	if (v->o->memory_mib)
		sc.hv.memory_mib = v->o->memory_mib;
	if (v->o->vcpus)
		sc.hv.vcpus = v->o->vcpus;
	sc.agent_timeout_ms = (int)(*cfg)->agent.dial_timeout * 1000;
	v->st.hypervisor = (char *)sc.ops->name;
	if (sandbox_start(&v->sb, &sc, e) < 0)
		return -1;
	v->agent = sandbox_agent(v->sb);
	v->st.monitor_pid = sc.ops->pid(sandbox_hv(v->sb));
	if (sandbox_create_container(v->sb, v->o->id, v->rootfs, v->o->readonly, v->o->spec, e) < 0)
		return -1;
	save_state(v, STATE_CREATED);
	return 0;
}

static void tell_ready(const struct vm_opts *o, const struct err *e)
{
	char msg[ERR_MSG_MAX + 8];

	if (o->ready_fd < 0)
		return;
	snprintf(msg, sizeof(msg), "%s\n", e ? e->msg : "ok");
	if (util_write_all(o->ready_fd, msg, strlen(msg)) < 0)
		log_debug("ready pipe: %s", strerror(errno));
	close(o->ready_fd);
}

/* Join an output relay, stopping the VM (which ends its call) if the
 * agent does not end the stream within 2 s of the process's exit. */
static void join_relay(struct vm *v, pthread_t t)
{
	struct timespec ts;
	struct err e;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
		log_warn("%s: output did not end; stopping the VM", v->o->id);
		v->ops->stop(sandbox_hv(v->sb), &e);
		pthread_join(t, NULL);
	}
}

/* Exec jobs end once their processes are gone (the container's init has
 * exited, so its pid namespace is); stopping the VM ends any stuck call. */
static void wait_execs(struct vm *v)
{
	struct timespec ts;
	struct err e;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&v->lock);
	while (v->execs && pthread_cond_timedwait(&v->cond, &v->lock, &ts) == 0)
		;
	if (v->execs) {
		pthread_mutex_unlock(&v->lock);
		log_warn("%s: exec'd processes did not end; stopping the VM", v->o->id);
		v->ops->stop(sandbox_hv(v->sb), &e);
		pthread_mutex_lock(&v->lock);
		while (v->execs)
			pthread_cond_wait(&v->cond, &v->lock);
	}
	pthread_mutex_unlock(&v->lock);
}

int vm_monitor(const struct cli_ctx *ctx, const struct vm_opts *o, struct err *e)
{
	struct vm v = {.ctx = ctx, .o = o, .quit_pipe = {-1, -1}, .sigfd = -1, .listen_fd = -1};
	cleanup_free char *kernel = NULL, *initrd = NULL;
	struct config *cfg = NULL;
	struct termios saved;
	bool raw = false, control_running = false, created = false, ready = false;
	pthread_t control_t;
	sigset_t sigs;
	int lock_fd, status = -1;
	struct err ce;

	pthread_mutex_init(&v.lock, NULL);
	pthread_cond_init(&v.cond, NULL);
	v.stdin_open = o->stdin_open || o->tty;
	if (state_dir(cli_root(ctx), o->id, v.dir, sizeof(v.dir), e) < 0)
		goto out;
	snprintf(v.run_dir, sizeof(v.run_dir), "%s/vm", v.dir);
	/* the VM's unix sockets live there (virtiofsd.sock is the longest
	 * name), and a unix socket path has at most 107 bytes */
	if (strlen(v.run_dir) + sizeof("/virtiofsd.sock") > sizeof(struct sockaddr_un) - 2) {
		err_set(e, ENAMETOOLONG,
		        "%s/virtiofsd.sock is longer than a unix socket path may be (107 bytes): "
		        "use a shorter --root",
		        v.run_dir);
		goto out;
	}
	snprintf(v.ctl_path, sizeof(v.ctl_path), "%s/" CTL_SOCK, v.dir);
	state_now_rfc3339(v.now, sizeof(v.now));
	v.st.id = (char *)o->id;
	v.st.owner_pid = getpid();
	v.st.owner_start = state_proc_start(getpid());
	v.st.pid = getpid();
	v.st.status = STATE_CREATED;
	v.st.bundle = (char *)(o->bundle ? o->bundle : "");
	v.rootfs = o->rootfs;
	if (o->image_dir) {
		snprintf(v.image_rootfs, sizeof(v.image_rootfs), "%s/image/%s", v.dir, o->rootfs);
		v.rootfs = v.image_rootfs;
	}
	v.st.rootfs = (char *)v.rootfs;
	v.st.created = v.now;
	v.st.hypervisor = (char *)"";
	if (state_create(cli_root(ctx), &v.st, &lock_fd, e) < 0)
		goto out;
	created = true;
	state_unlock(lock_fd);
	if (o->image_dir) {
		char image[4200];

		snprintf(image, sizeof(image), "%s/image", v.dir);
		if (rename(o->image_dir, image) < 0) {
			err_sys(e, "move %s to %s", o->image_dir, image);
			goto out;
		}
	}
	if (o->pid_file) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (util_write_file(o->pid_file, pid, strlen(pid), 0644, e) < 0)
			goto out;
	}
	/* Signals are the container's. Those that come while the VM boots wait
	 * in the signalfd: the monitor cleans up instead of dying half-way. */
	block_signals(&sigs);
	v.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (v.sigfd < 0 || pipe2(v.quit_pipe, O_CLOEXEC) < 0) {
		err_sys(e, "signalfd");
		goto out;
	}
	if (vm_boot(&v, &cfg, &kernel, &initrd, e) < 0 || listen_ctl(&v, e) < 0)
		goto out;
	control_running = pthread_create(&control_t, NULL, control, &v) == 0;
	if (!control_running) {
		err_set(e, EAGAIN, "cannot start the control thread");
		goto out;
	}
	if (o->foreground) {
		if (o->tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
			struct termios t = saved;

			cfmakeraw(&t);
			raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		}
		if (do_start(&v, e) < 0)
			goto out;
	}
	tell_ready(o, NULL);
	ready = true;

	pthread_mutex_lock(&v.lock);
	while (!v.started && !v.deleted)
		pthread_cond_wait(&v.cond, &v.lock);
	pthread_mutex_unlock(&v.lock);
	if (v.started) {
		if (agent_wait_process(v.agent, o->id, NULL, &status, e) < 0)
			status = -1;
		log_debug("%s: exited with status %d", o->id, status);
	} else {
		status = 0;
	}
out:
	if (!ready && o->ready_fd >= 0) {
		/* `hako create` prints it: the monitor need not log it again */
		tell_ready(o, e);
		err_clear(e);
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (control_running) {
		if (util_write_all(v.quit_pipe[1], "q", 1) < 0)
			log_debug("quit pipe: %s", strerror(errno));
		pthread_join(control_t, NULL);
	}
	wait_execs(&v);
	if (v.out_running)
		join_relay(&v, v.out_t);
	if (v.err_running)
		join_relay(&v, v.err_t);
	if (v.listen_fd >= 0) {
		close(v.listen_fd);
		unlink(v.ctl_path);
	}
	if (v.sb && sandbox_stop(v.sb, &ce) < 0 && status >= 0) {
		*e = ce;
		status = -1;
	}
	sandbox_free(v.sb);
	if (created) {
		/* a container that never came to be leaves no state, as with runc */
		if (o->rm || !ready) {
			if (state_remove(cli_root(ctx), o->id, &ce) < 0)
				log_warn("%s", ce.msg);
		} else {
			save_state(&v, STATE_STOPPED);
		}
	}
	if (v.sigfd >= 0)
		close(v.sigfd);
	if (v.quit_pipe[0] >= 0) {
		close(v.quit_pipe[0]);
		close(v.quit_pipe[1]);
	}
	config_free(cfg);
	pthread_mutex_destroy(&v.lock);
	pthread_cond_destroy(&v.cond);
	return status;
}

int vm_connect(const struct cli_ctx *ctx, const char *id, int *out, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[4096];
	int fd;

	if (state_dir(cli_root(ctx), id, dir, sizeof(dir), e) < 0)
		return -1;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CTL_SOCK, dir) >=
	    sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "control socket path too long");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_sys(e, "container %s: its monitor does not answer", id);
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

int vm_read_reply(int fd, int timeout_ms, char *reply, size_t size)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;

	while (n < size - 1 && poll(&p, 1, timeout_ms) == 1) {
		ssize_t r = read(fd, reply + n, size - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(reply, '\n', n))
			break;
	}
	reply[n] = 0;
	if (n && reply[n - 1] == '\n')
		reply[--n] = 0;
	return (int)n;
}

int vm_request(const struct cli_ctx *ctx, const char *id, const char *cmd, char **data,
               struct err *e)
{
	cleanup_free char *reply = NULL;
	cleanup_close int fd = -1;
	size_t n = 0, cap = 4096;
	struct pollfd p;

	if (vm_connect(ctx, id, &fd, e) < 0)
		return -1;
	if (util_write_all(fd, cmd, strlen(cmd)) < 0 || util_write_all(fd, "\n", 1) < 0)
		return err_sys(e, "container %s: control", id);
	p.fd = fd;
	p.events = POLLIN;
	reply = malloc(cap);
	while (reply && poll(&p, 1, CTL_WAIT_S * 1000) == 1) {
		ssize_t r;

		if (n + 1 == cap) {
			char *b = cap < CTL_MAX * 16 ? realloc(reply, cap * 2) : NULL;

			if (!b)
				return err_set(e, E2BIG, "container %s: reply too long", id);
			reply = b;
			cap *= 2;
		}
		r = read(fd, reply + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (reply[n - 1] == '\n')
			break;
	}
	if (!reply)
		return err_set(e, ENOMEM, "out of memory");
	reply[n] = 0;
	if (n && reply[n - 1] == '\n')
		reply[--n] = 0;
	if (!strcmp(reply, "ok") || !strncmp(reply, "ok ", 3)) {
		if (data)
			*data = strdup(reply[2] ? reply + 3 : "");
		return data && !*data ? err_set(e, ENOMEM, "out of memory") : 0;
	}
	if (!strncmp(reply, "error ", 6))
		return err_set(e, EIO, "%s", reply + 6);
	return err_set(e, EIO, "container %s: no answer from its monitor to '%.32s'", id, cmd);
}

int vm_control(const struct cli_ctx *ctx, const char *id, const char *cmd, struct err *e)
{
	return vm_request(ctx, id, cmd, NULL, e);
}

int vm_wait_gone(const struct state *s, int timeout_s, struct err *e)
{
	for (int i = 0; i < timeout_s * 50; i++) {
		if (state_proc_start(s->owner_pid) != s->owner_start)
			return 0;
		usleep(20000);
	}
	return err_set(e, ETIMEDOUT, "container %s: its monitor (pid %d) did not exit in %d s",
	               s->id, (int)s->owner_pid, timeout_s);
}

void vm_cleanup_leftovers(const struct cli_ctx *ctx, const char *id)
{
	char dir[4096], shared[4200];
	struct err e;

	if (state_dir(cli_root(ctx), id, dir, sizeof(dir), &e) < 0)
		return;
	snprintf(shared, sizeof(shared), "%s/vm/shared", dir);
	/* detaching the shared directory detaches the container roots under it */
	if (umount2(shared, MNT_DETACH) == 0)
		log_info("%s: unmounted %s left behind", id, shared);
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
        {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
        {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
        {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
        {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
        {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
        {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
        {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int vm_parse_signal(const char *s, struct err *e)
{
	const char *name = strncasecmp(s, "SIG", 3) ? s : s + 3;
	char *end;
	long n;

	n = strtol(s, &end, 10);
	if (*s && !*end) {
		if (n <= 0 || n >= SIGRTMAX)
			return err_set(e, EINVAL, "invalid signal %s", s);
		return (int)n;
	}
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (!strcasecmp(name, signals[i].name))
			return signals[i].sig;
	return err_set(e, EINVAL, "unknown signal %s", s);
}
