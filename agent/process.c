/* agent/process.c: stdio relay and exit bookkeeping of one container
 * process, driven by the agent's event loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/process.h"
#include "lib/util.h"

struct stream {
	struct process *owner;
	int fd;
	bool watching;
	bool eof;
	bool eof_read; /* a reader was told EOF */
	char *buf;
	size_t len;
};

struct watcher {
	process_watch_fn fn;
	void *opaque;
	struct watcher *next;
};

struct process {
	struct loop *loop;
	char *exec_id;
	struct spawn_child child;
	bool terminal;
	int stdin_fd;
	struct stream out[2];
	bool exited, waited;
	int status;
	struct watcher *watchers;
};

static void notify(struct process *p)
{
	struct watcher *w = p->watchers;

	p->watchers = NULL;
	while (w) {
		struct watcher *next = w->next;

		w->fn(w->opaque);
		free(w);
		w = next;
	}
}

static void stream_close(struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->watching)
		loop_del(s->owner->loop, s->fd);
	s->watching = false;
	close(s->fd);
	s->fd = -1;
}

static void stream_ready(void *data, uint32_t events);

static void stream_watch(struct stream *s)
{
	if (s->fd < 0 || s->watching || s->len >= PROCESS_STREAM_MAX)
		return;
	if (loop_add(s->owner->loop, s->fd, EPOLLIN, stream_ready, s, NULL) == 0)
		s->watching = true;
}

static void stream_ready(void *data, uint32_t events)
{
	struct stream *s = data;
	struct process *p = s->owner;
	size_t room = PROCESS_STREAM_MAX - s->len;
	char *nb;
	ssize_t n;

	(void)events;
	if (!room) {
		/* Backpressure: stop reading until a reader drains us. */
		loop_del(p->loop, s->fd);
		s->watching = false;
		return;
	}
	if (room > 65536)
		room = 65536;
	nb = realloc(s->buf, s->len + room);
	if (!nb)
		return;
	s->buf = nb;
	n = read(s->fd, s->buf + s->len, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* 0: all writers closed; EIO: the pty's slave side is gone. */
		s->eof = true;
		stream_close(s);
	} else {
		s->len += (size_t)n;
	}
	notify(p);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int process_new(struct loop *loop, const char *exec_id, struct spawn_child *child, bool terminal,
                struct process **out, struct err *e)
{
	struct process *p = calloc(1, sizeof(*p));

	if (!p || !(p->exec_id = strdup(exec_id))) {
		free(p);
		return err_set(e, ENOMEM, "out of memory");
	}
	p->loop = loop;
	p->terminal = terminal;
	p->child = *child;
	p->stdin_fd = -1;
	for (int i = 0; i < 2; i++) {
		p->out[i].owner = p;
		p->out[i].fd = -1;
	}
	if (terminal) {
		p->out[PROCESS_STDOUT].fd = steal_fd(p->child.pty_fd);
		p->stdin_fd = dup(p->out[PROCESS_STDOUT].fd);
		p->out[PROCESS_STDERR].eof = true;
		p->out[PROCESS_STDERR].eof_read = true;
	} else {
		p->stdin_fd = steal_fd(p->child.stdin_fd);
		p->out[PROCESS_STDOUT].fd = steal_fd(p->child.stdout_fd);
		p->out[PROCESS_STDERR].fd = steal_fd(p->child.stderr_fd);
	}
	if (p->stdin_fd >= 0) {
		fcntl(p->stdin_fd, F_SETFD, FD_CLOEXEC);
		set_nonblock(p->stdin_fd);
	}
	for (int i = 0; i < 2; i++) {
		if (p->out[i].fd < 0)
			continue;
		set_nonblock(p->out[i].fd);
		stream_watch(&p->out[i]);
	}
	*child = (struct spawn_child){.pid = -1,
	                              .sync_fd = -1,
	                              .stdin_fd = -1,
	                              .stdout_fd = -1,
	                              .stderr_fd = -1,
	                              .pty_fd = -1};
	*out = p;
	return 0;
}

void process_free(struct process *p)
{
	if (!p)
		return;
	notify(p);
	for (int i = 0; i < 2; i++) {
		stream_close(&p->out[i]);
		free(p->out[i].buf);
	}
	if (p->stdin_fd >= 0)
		close(p->stdin_fd);
	spawn_abort(&p->child);
	free(p->exec_id);
	free(p);
}

int process_start(struct process *p, struct err *e)
{
	return spawn_start(&p->child, e);
}

const char *process_exec_id(const struct process *p)
{
	return p->exec_id;
}

pid_t process_pid(const struct process *p)
{
	return p->child.pid;
}

ssize_t process_read(struct process *p, enum process_stream which, void *buf, size_t max)
{
	struct stream *s = &p->out[which];
	size_t n = s->len < max ? s->len : max;

	if (!n) {
		if (s->eof) {
			s->eof_read = true;
			return 0;
		}
		errno = EAGAIN;
		return -1;
	}
	memcpy(buf, s->buf, n);
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	stream_watch(s);
	return (ssize_t)n;
}

int process_write(struct process *p, const void *buf, size_t len, size_t *written, struct err *e)
{
	ssize_t n;

	*written = 0;
	if (p->stdin_fd < 0)
		return err_set(e, EPIPE, "stdin of process %s is closed", p->exec_id);
	if (!len)
		return 0;
	do
		n = write(p->stdin_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return 0;
		return err_sys(e, "write stdin of process %s", p->exec_id);
	}
	*written = (size_t)n;
	return 0;
}

int process_close_stdin(struct process *p, struct err *e)
{
	(void)e;
	if (p->stdin_fd < 0)
		return 0;
	/* A terminal has no write side to close: send it the EOF character. */
	if (p->terminal) {
		struct termios t;
		char eof = 4;

		if (tcgetattr(p->stdin_fd, &t) == 0)
			eof = (char)t.c_cc[VEOF];
		if (write(p->stdin_fd, &eof, 1) < 0 && errno != EAGAIN)
			return err_sys(e, "close stdin of process %s", p->exec_id);
	}
	close(p->stdin_fd);
	p->stdin_fd = -1;
	return 0;
}

int process_resize(struct process *p, unsigned rows, unsigned cols, struct err *e)
{
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};

	if (!p->terminal || p->out[PROCESS_STDOUT].fd < 0)
		return err_set(e, EINVAL, "process %s has no terminal", p->exec_id);
	if (ioctl(p->out[PROCESS_STDOUT].fd, TIOCSWINSZ, &ws) < 0)
		return err_sys(e, "resize terminal of process %s", p->exec_id);
	return 0;
}

void process_set_exited(struct process *p, int wait_status)
{
	p->exited = true;
	if (WIFEXITED(wait_status))
		p->status = WEXITSTATUS(wait_status);
	else if (WIFSIGNALED(wait_status))
		p->status = 128 + WTERMSIG(wait_status);
	else
		p->status = 255;
	notify(p);
}

bool process_exited(const struct process *p, int *status)
{
	if (p->exited && status)
		*status = p->status;
	return p->exited;
}

void process_set_waited(struct process *p)
{
	p->waited = true;
}

bool process_idle(const struct process *p)
{
	return p->exited && p->waited && p->out[0].eof && !p->out[0].len && p->out[1].eof &&
	       !p->out[1].len && !p->watchers;
}

bool process_done(const struct process *p)
{
	return process_idle(p) && p->out[0].eof_read && p->out[1].eof_read;
}

int process_watch(struct process *p, process_watch_fn fn, void *opaque, struct err *e)
{
	struct watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return err_set(e, ENOMEM, "out of memory");
	w->fn = fn;
	w->opaque = opaque;
	w->next = p->watchers;
	p->watchers = w;
	return 0;
}
