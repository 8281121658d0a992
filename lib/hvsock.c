/* lib/hvsock.c: unix-socket and hybrid-vsock dialing with a deadline over
 * the whole connect + CONNECT/OK handshake. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/hvsock.h"
#include "lib/util.h"

/* The reply is "OK <u32>\n"; anything longer is not a hybrid-vsock peer. */
#define REPLY_MAX 32

int hvsock_addr_parse(const char *addr, struct hvsock_addr *out, struct err *e)
{
	const char *rest, *colon;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!strncmp(addr, "unix:", 5)) {
		out->kind = HVSOCK_UNIX;
		rest = addr + 5;
		len = strlen(rest);
	} else if (!strncmp(addr, "hvsock:", 7)) {
		char *end;
		unsigned long port;

		out->kind = HVSOCK_HYBRID;
		rest = addr + 7;
		colon = strrchr(rest, ':');
		if (!colon)
			return err_set(e, EINVAL, "address '%s': want hvsock:UDS:PORT", addr);
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || errno || port > UINT32_MAX || colon[1] == '-')
			return err_set(e, EINVAL, "address '%s': bad port '%s'", addr, colon + 1);
		out->port = (uint32_t)port;
		len = (size_t)(colon - rest);
	} else {
		return err_set(e, EINVAL, "address '%s': want unix:PATH or hvsock:UDS:PORT", addr);
	}
	if (len == 0)
		return err_set(e, EINVAL, "address '%s': empty socket path", addr);
	if (len >= sizeof(out->path))
		return err_set(e, ENAMETOOLONG, "address '%s': socket path longer than %zu bytes",
		               addr, sizeof(out->path) - 1);
	memcpy(out->path, rest, len);
	return 0;
}

static unsigned long long deadline_of(int timeout_ms)
{
	return timeout_ms > 0 ? util_now_ns() + (unsigned long long)timeout_ms * 1000000ull : 0;
}

/* Wait for events on fd until the deadline; -1 with ETIMEDOUT past it. */
static int wait_fd(int fd, short events, unsigned long long deadline, struct err *e)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int ms = -1, n;

		if (deadline) {
			unsigned long long now = util_now_ns();

			if (now >= deadline)
				return err_set(e, ETIMEDOUT, "timed out");
			ms = (int)((deadline - now + 999999) / 1000000);
		}
		n = poll(&p, 1, ms);
		if (n < 0 && errno != EINTR)
			return err_sys(e, "poll");
		if (n > 0)
			return 0;
	}
}

/* Non-blocking connect bounded by the deadline; returns the fd. */
static int unix_connect(const char *path, unsigned long long deadline, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "socket path %s too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* Listener backlog full: try again shortly. */
			if (deadline && util_now_ns() >= deadline)
				return err_set(e, ETIMEDOUT, "connect %s: timed out", path);
			usleep(1000);
			continue;
		}
		if (errno != EINPROGRESS)
			return err_sys(e, "connect %s", path);
		if (wait_fd(fd, POLLOUT, deadline, e) < 0)
			return err_ctx(e, "connect %s", path);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return err_sys(e, "connect %s", path);
		if (soerr) {
			errno = soerr;
			return err_sys(e, "connect %s", path);
		}
		break;
	}
	return steal_fd(fd);
}

static int set_blocking(int fd, struct err *e)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return err_sys(e, "fcntl");
	return 0;
}

/* Send the CONNECT line and read the reply one byte at a time, so that not
 * a byte of the guest's stream is consumed. */
static int handshake(int fd, uint32_t port, unsigned long long deadline, struct err *e)
{
	char line[32], reply[REPLY_MAX + 1];
	size_t len = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", port), off = 0, n = 0;

	while (off < len) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (w >= 0) {
			off += (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return err_sys(e, "send CONNECT");
		if (wait_fd(fd, POLLOUT, deadline, e) < 0)
			return err_ctx(e, "send CONNECT");
	}
	for (;;) {
		ssize_t r;

		if (n == REPLY_MAX) {
			reply[n] = 0;
			return err_set(e, EPROTO, "reply too long: '%s'", reply);
		}
		r = read(fd, reply + n, 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return err_sys(e, "read reply");
			if (wait_fd(fd, POLLIN, deadline, e) < 0)
				return err_ctx(e, "waiting for the reply");
			continue;
		}
		if (r == 0)
			return err_set(e, ECONNREFUSED,
			               "closed before replying (no listener on the port?)");
		if (reply[n] == '\n')
			break;
		n++;
	}
	reply[n] = 0;
	if (strncmp(reply, "OK ", 3) != 0)
		return err_set(e, ECONNREFUSED, "refused: '%s'", reply);
	return 0;
}

int hvsock_dial(const char *uds, uint32_t port, int timeout_ms, int *fd, struct err *e)
{
	unsigned long long deadline = deadline_of(timeout_ms);
	cleanup_close int s = unix_connect(uds, deadline, e);

	if (s < 0)
		return err_ctx(e, "hybrid vsock %s port %u", uds, port);
	if (handshake(s, port, deadline, e) < 0 || set_blocking(s, e) < 0)
		return err_ctx(e, "hybrid vsock %s port %u", uds, port);
	*fd = steal_fd(s);
	return 0;
}

int hvsock_addr_dial(const char *addr, int timeout_ms, int *fd, struct err *e)
{
	struct hvsock_addr a;
	int s;

	if (hvsock_addr_parse(addr, &a, e) < 0)
		return -1;
	if (a.kind == HVSOCK_HYBRID)
		return hvsock_dial(a.path, a.port, timeout_ms, fd, e);
	s = unix_connect(a.path, deadline_of(timeout_ms), e);
	if (s < 0)
		return -1;
	if (set_blocking(s, e) < 0) {
		close(s);
		return -1;
	}
	*fd = s;
	return 0;
}
