/* shim/io.c: stdio copies for one process (see io.h). Threads: one per
 * output stream (a blocking ReadStdout/ReadStderr loop: the agent ends it
 * with EOF once the process exited and its pipe is empty) and one for
 * stdin (poll on the FIFO and a cancel pipe). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "shim/io.h"

#define IO_BUF 32768

struct relay {
	struct shim_io *io;
	bool stdout_;
	int fd;
	pthread_t thread;
	bool running;
	bool done; /* the thread ended (under io->lock) */
};

struct shim_io {
	struct agent *agent;
	char *cid, *exec_id, *stdin_path;
	bool terminal;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct relay out, err;
	pthread_t in_thread;
	bool in_running;
	int cancel[2]; /* written to stop the stdin copy */
	bool stdin_closed, finished;
};

int shim_io_path(const char *addr, const char **path, struct err *e)
{
	*path = NULL;
	if (!addr || !addr[0])
		return 0;
	if (!strncmp(addr, "file://", 7))
		addr += 7;
	else if (strstr(addr, "://"))
		return err_set(e, ENOTSUP, "not supported: stdio address %s", addr);
	*path = addr;
	return 0;
}

/* A FIFO opens O_RDWR: at once whether or not containerd reads yet, and
 * our close is the reader's EOF. A file:// log is appended to. */
static int open_output(const char *addr, int *fd, struct err *e)
{
	const char *path;
	bool file;

	*fd = -1;
	if (shim_io_path(addr, &path, e) < 0)
		return -1;
	if (!path)
		return 0;
	file = !strncmp(addr, "file://", 7);
	*fd = file ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
	           : open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return err_sys(e, "open %s", path);
	return 0;
}

int shim_io_open(struct shim_io **out, const struct shim_io_config *cfg, struct err *e)
{
	struct shim_io *io = calloc(1, sizeof(*io));
	const char *in;

	if (!io)
		return err_set(e, ENOMEM, "out of memory");
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->cond, NULL);
	io->agent = cfg->agent;
	io->terminal = cfg->terminal;
	io->out.fd = io->err.fd = io->cancel[0] = io->cancel[1] = -1;
	io->out.io = io->err.io = io;
	io->out.stdout_ = true;
	io->cid = strdup(cfg->cid);
	io->exec_id = cfg->exec_id ? strdup(cfg->exec_id) : NULL;
	if (!io->cid || (cfg->exec_id && !io->exec_id)) {
		shim_io_free(io);
		return err_set(e, ENOMEM, "out of memory");
	}
	if (shim_io_path(cfg->stdin_path, &in, e) < 0 ||
	    open_output(cfg->stdout_path, &io->out.fd, e) < 0 ||
	    (!cfg->terminal && open_output(cfg->stderr_path, &io->err.fd, e) < 0)) {
		shim_io_free(io);
		return -1;
	}
	if (in && (!(io->stdin_path = strdup(in)) || pipe2(io->cancel, O_CLOEXEC) < 0)) {
		err_sys(e, "stdin");
		shim_io_free(io);
		return -1;
	}
	*out = io;
	return 0;
}

static void *relay_output(void *arg)
{
	struct relay *r = arg;
	struct shim_io *io = r->io;
	char *buf = malloc(IO_BUF);
	bool sink_ok = true;
	struct err e;
	ssize_t n;

	while (buf && (n = agent_read_stream(io->agent, io->cid, io->exec_id, r->stdout_, buf,
	                                     IO_BUF, &e)) > 0) {
		/* without a sink (null io), or after it broke, the output is
		 * still read: the process must not block on a full pipe */
		if (sink_ok && r->fd >= 0 && util_write_all(r->fd, buf, (size_t)n) < 0) {
			log_warn("%s: %s: %s", io->cid, r->stdout_ ? "stdout" : "stderr",
			         strerror(errno));
			sink_ok = false;
		}
	}
	if (buf && n < 0)
		log_debug("%s: %s ended: %s", io->cid, r->stdout_ ? "stdout" : "stderr", e.msg);
	free(buf);
	pthread_mutex_lock(&io->lock);
	r->done = true;
	pthread_cond_broadcast(&io->cond);
	pthread_mutex_unlock(&io->lock);
	return NULL;
}

static void close_process_stdin(struct shim_io *io)
{
	struct err e;

	pthread_mutex_lock(&io->lock);
	if (io->stdin_closed) {
		pthread_mutex_unlock(&io->lock);
		return;
	}
	io->stdin_closed = true;
	pthread_mutex_unlock(&io->lock);
	if (agent_close_stdin(io->agent, io->cid, io->exec_id, &e) < 0)
		log_debug("%s: close stdin: %s", io->cid, e.msg);
}

static void *copy_stdin(void *arg)
{
	struct shim_io *io = arg;
	char buf[IO_BUF];
	struct pollfd p[2] = {{.fd = -1, .events = POLLIN},
	                      {.fd = io->cancel[0], .events = POLLIN}};
	struct err e;

	/* non-blocking open: no writer yet is not EOF for poll */
	p[0].fd = open(io->stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (p[0].fd < 0) {
		log_warn("%s: open stdin %s: %s", io->cid, io->stdin_path, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(p[0].fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n > 0) {
			size_t off = 0;

			while (off < (size_t)n) {
				ssize_t w = agent_write_stdin(io->agent, io->cid, io->exec_id,
				                              buf + off, (size_t)n - off, &e);

				if (w <= 0) {
					log_debug("%s: stdin: %s", io->cid,
					          w < 0 ? e.msg : "no progress");
					goto out;
				}
				off += (size_t)w;
			}
			continue;
		}
		/* EOF: the writer closed its end */
		close_process_stdin(io);
		break;
	}
out:
	close(p[0].fd);
	return NULL;
}

int shim_io_start(struct shim_io *io, struct err *e)
{
	struct relay *rs[2] = {&io->out, &io->err};
	int r;

	for (int i = 0; i < 2; i++) {
		if (io->terminal && rs[i] == &io->err)
			continue; /* one stream: stdout */
		r = pthread_create(&rs[i]->thread, NULL, relay_output, rs[i]);
		if (r) {
			errno = r;
			return err_sys(e, "%s: output thread", io->cid);
		}
		rs[i]->running = true;
	}
	if (io->stdin_path) {
		r = pthread_create(&io->in_thread, NULL, copy_stdin, io);
		if (r) {
			errno = r;
			return err_sys(e, "%s: stdin thread", io->cid);
		}
		io->in_running = true;
	}
	return 0;
}

void shim_io_close_stdin(struct shim_io *io)
{
	if (io->cancel[1] >= 0 && util_write_all(io->cancel[1], "x", 1) < 0)
		log_debug("%s: cancel stdin: %s", io->cid, strerror(errno));
	if (io->in_running) {
		pthread_join(io->in_thread, NULL);
		io->in_running = false;
	}
	close_process_stdin(io);
}

/* Wait until r's thread ended or the deadline passed. */
static bool relay_wait(struct shim_io *io, struct relay *r, const struct timespec *until)
{
	bool done;

	if (!r->running)
		return true;
	pthread_mutex_lock(&io->lock);
	while (!r->done && pthread_cond_timedwait(&io->cond, &io->lock, until) == 0)
		;
	done = r->done;
	pthread_mutex_unlock(&io->lock);
	if (done) {
		pthread_join(r->thread, NULL);
		r->running = false;
	}
	return done;
}

void shim_io_finish(struct shim_io *io, int timeout_ms)
{
	struct timespec until;
	bool drained;

	if (io->finished)
		return;
	io->finished = true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	drained = relay_wait(io, &io->out, &until);
	drained = relay_wait(io, &io->err, &until) && drained;
	if (!drained)
		log_warn("%s: output did not end within %d ms of the exit", io->cid, timeout_ms);
	if (io->cancel[1] >= 0 && util_write_all(io->cancel[1], "x", 1) < 0)
		log_debug("%s: cancel stdin: %s", io->cid, strerror(errno));
	if (io->in_running) {
		pthread_join(io->in_thread, NULL);
		io->in_running = false;
	}
	/* a relay still blocked in the agent keeps its fd; it is leaked with
	 * the io (see shim_io_free) rather than closed under it */
	if (!io->out.running && io->out.fd >= 0) {
		close(io->out.fd);
		io->out.fd = -1;
	}
	if (!io->err.running && io->err.fd >= 0) {
		close(io->err.fd);
		io->err.fd = -1;
	}
}

void shim_io_free(struct shim_io *io)
{
	if (!io)
		return;
	shim_io_finish(io, 0);
	if (io->out.running || io->err.running) {
		/* the agent never ended a read: the VM is stuck or gone; the
		 * thread still uses io, so it is detached and io kept */
		if (io->out.running)
			pthread_detach(io->out.thread);
		if (io->err.running)
			pthread_detach(io->err.thread);
		return;
	}
	if (io->cancel[0] >= 0)
		close(io->cancel[0]);
	if (io->cancel[1] >= 0)
		close(io->cancel[1]);
	free(io->cid);
	free(io->exec_id);
	free(io->stdin_path);
	free(io);
}
