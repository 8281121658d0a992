/* lib/ttrpc.c: ttrpc framing; the server (non-blocking connections on a
 * lib/loop thread, requests dispatched by service/method, replies possibly
 * deferred and from any thread); the client (one reader thread matching
 * responses to waiting callers by stream id). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/ttrpc.pb-c.h"

#define READ_CHUNK (64u << 10)

struct ttrpc_buf {
	uint8_t *data;
	size_t len, cap;
};

static const char *const code_names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
};

const char *ttrpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= ARRAY_SIZE(code_names))
		return "UNKNOWN";
	return code_names[code];
}

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE])
{
	out[0] = (uint8_t)(h->length >> 24);
	out[1] = (uint8_t)(h->length >> 16);
	out[2] = (uint8_t)(h->length >> 8);
	out[3] = (uint8_t)h->length;
	out[4] = (uint8_t)(h->stream_id >> 24);
	out[5] = (uint8_t)(h->stream_id >> 16);
	out[6] = (uint8_t)(h->stream_id >> 8);
	out[7] = (uint8_t)h->stream_id;
	out[8] = h->type;
	out[9] = h->flags;
}

int ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], uint32_t max_size,
                        struct ttrpc_header *h, struct err *e)
{
	h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
	h->stream_id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	h->type = in[8];
	h->flags = in[9];
	if (h->length > max_size)
		return err_set(e, EMSGSIZE, "frame of %u bytes exceeds the limit of %u", h->length,
		               max_size);
	if (h->type != TTRPC_TYPE_REQUEST && h->type != TTRPC_TYPE_RESPONSE)
		return err_set(e, EPROTO, "unknown frame type %u", h->type);
	return 0;
}

static int frame_append(struct ttrpc_buf *b, uint32_t stream_id, uint8_t type,
                        const ProtobufCMessage *msg, struct err *e)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct ttrpc_header h = {.length = (uint32_t)len, .stream_id = stream_id, .type = type};

	if (len > TTRPC_MAX_MESSAGE_SIZE)
		return err_set(e, EMSGSIZE, "message of %zu bytes exceeds the limit of %u", len,
		               TTRPC_MAX_MESSAGE_SIZE);
	if (b->len + TTRPC_HEADER_SIZE + len > b->cap) {
		size_t cap = b->len + TTRPC_HEADER_SIZE + len + 4096;
		uint8_t *p = realloc(b->data, cap);

		if (!p)
			return err_set(e, ENOMEM, "out of memory");
		b->data = p;
		b->cap = cap;
	}
	ttrpc_header_encode(&h, b->data + b->len);
	protobuf_c_message_pack(msg, b->data + b->len + TTRPC_HEADER_SIZE);
	b->len += TTRPC_HEADER_SIZE + len;
	return 0;
}

/* ---- server ------------------------------------------------------------ */

struct conn {
	struct ttrpc_server *s;
	int fd;
	bool dead; /* a write failed: close on the loop thread */
	struct ttrpc_buf in;
	struct ttrpc_buf out; /* data[off..len) still to send */
	size_t out_off;
	struct ttrpc_call *calls; /* unanswered calls of this connection */
	struct conn *next;
};

struct ttrpc_call {
	struct ttrpc_server *s;
	struct conn *conn; /* NULL once the connection is gone */
	uint32_t stream_id;
	uint64_t deadline;
	char *service, *method;
	struct ttrpc_call *prev, *next;
};

/* The lock guards connections, calls and refs; the loop thread holds it
 * except while a handler runs, so handlers may reply at once. Calls hold a
 * reference so that a late reply after ttrpc_server_free is harmless. */
struct ttrpc_server {
	struct loop *loop;
	const struct ttrpc_method *methods;
	size_t nr_methods;
	void *opaque;
	int listen_fd;
	void (*on_close)(int fd, void *opaque);
	pthread_mutex_t lock;
	int refs;
	bool freeing;
	struct conn *conns;
};

static void server_unref_locked(struct ttrpc_server *s)
{
	bool last = --s->refs == 0;

	pthread_mutex_unlock(&s->lock);
	if (last) {
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
}

int ttrpc_server_new(struct ttrpc_server **out, struct loop *loop,
                     const struct ttrpc_method *methods, size_t nr_methods, void *opaque,
                     struct err *e)
{
	struct ttrpc_server *s = calloc(1, sizeof(*s));

	if (!s)
		return err_set(e, ENOMEM, "ttrpc: out of memory");
	s->loop = loop;
	s->methods = methods;
	s->nr_methods = nr_methods;
	s->opaque = opaque;
	s->listen_fd = -1;
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

/* Called with the lock held, on the loop thread. */
static void conn_close(struct conn *c, const char *why)
{
	struct ttrpc_server *s = c->s;

	if (why)
		log_warn("ttrpc: closing connection fd %d: %s", c->fd, why);
	for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	for (struct ttrpc_call *call = c->calls; call; call = call->next)
		call->conn = NULL;
	loop_del(s->loop, c->fd);
	close(c->fd);
	if (s->on_close && !s->freeing) {
		/* Unlocked: the callback may serve a new fd. */
		pthread_mutex_unlock(&s->lock);
		s->on_close(c->fd, s->opaque);
		pthread_mutex_lock(&s->lock);
	}
	free(c->in.data);
	free(c->out.data);
	free(c);
}

void ttrpc_server_on_close(struct ttrpc_server *s, void (*fn)(int fd, void *opaque))
{
	s->on_close = fn;
}

/* Write what is queued; with edge-triggered EPOLLOUT the loop calls us back
 * when the socket drains. Lock held. */
static void conn_flush(struct conn *c)
{
	while (!c->dead && c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len)
		c->out_off = c->out.len = 0;
}

/* Queue a Response on the call's connection and free the call. */
static void call_finish(struct ttrpc_call *call, int code, const char *msg, const uint8_t *payload,
                        size_t len)
{
	struct ttrpc_server *s = call->s;
	Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	struct conn *c;
	struct err e;

	status.code = code;
	status.message = (char *)(msg ? msg : "");
	resp.status = &status;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = len;

	pthread_mutex_lock(&s->lock);
	c = call->conn;
	if (c) {
		if (call->prev)
			call->prev->next = call->next;
		else
			c->calls = call->next;
		if (call->next)
			call->next->prev = call->prev;
		if (frame_append(&c->out, call->stream_id, TTRPC_TYPE_RESPONSE, &resp.base, &e) <
		    0) {
			/* Too big: the caller learns why instead of waiting forever. */
			Google__Rpc__Status big = GOOGLE__RPC__STATUS__INIT;
			Ttrpc__Response small = TTRPC__RESPONSE__INIT;

			big.code = TTRPC_RESOURCE_EXHAUSTED;
			big.message = e.msg;
			small.status = &big;
			if (frame_append(&c->out, call->stream_id, TTRPC_TYPE_RESPONSE, &small.base,
			                 &e) < 0)
				c->dead = true;
		}
		conn_flush(c);
	}
	free(call->service);
	free(call->method);
	free(call);
	server_unref_locked(s);
}

void ttrpc_call_reply(struct ttrpc_call *c, const uint8_t *payload, size_t len)
{
	call_finish(c, TTRPC_OK, NULL, payload, len);
}

void ttrpc_call_reply_msg(struct ttrpc_call *c, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);

	if (!buf) {
		ttrpc_call_error(c, TTRPC_RESOURCE_EXHAUSTED, "out of memory packing the reply");
		return;
	}
	protobuf_c_message_pack(msg, buf);
	call_finish(c, TTRPC_OK, NULL, buf, len);
}

void ttrpc_call_error(struct ttrpc_call *c, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call_finish(c, code, msg, NULL, 0);
}

const char *ttrpc_call_method(const struct ttrpc_call *c)
{
	return c->method;
}

uint64_t ttrpc_call_deadline(const struct ttrpc_call *c)
{
	return c->deadline;
}

bool ttrpc_call_connected(const struct ttrpc_call *c)
{
	bool connected;

	pthread_mutex_lock(&c->s->lock);
	connected = c->conn != NULL;
	pthread_mutex_unlock(&c->s->lock);
	return connected;
}

static const struct ttrpc_method *find_method(struct ttrpc_server *s, const char *service,
                                              const char *method)
{
	for (size_t i = 0; i < s->nr_methods; i++)
		if (!strcmp(s->methods[i].service, service) &&
		    !strcmp(s->methods[i].method, method))
			return &s->methods[i];
	return NULL;
}

/* Handle one complete frame; -1 with e set closes the connection. Lock
 * held on entry and exit, dropped around the handler. */
static int conn_dispatch(struct conn *c, const struct ttrpc_header *h, const uint8_t *payload,
                         struct err *e)
{
	struct ttrpc_server *s = c->s;
	const struct ttrpc_method *m;
	struct ttrpc_call *call;
	Ttrpc__Request *req;

	if (h->type != TTRPC_TYPE_REQUEST)
		return err_set(e, EPROTO, "frame type %u on a server connection", h->type);
	if (h->stream_id % 2 != 1)
		return err_set(e, EPROTO, "stream id %u is not odd", h->stream_id);
	req = ttrpc__request__unpack(NULL, h->length, payload);
	if (!req)
		return err_set(e, EPROTO, "stream %u: undecodable request", h->stream_id);
	call = calloc(1, sizeof(*call));
	if (call) {
		call->service = strdup(req->service);
		call->method = strdup(req->method);
	}
	if (!call || !call->service || !call->method) {
		if (call) {
			free(call->service);
			free(call->method);
		}
		free(call);
		ttrpc__request__free_unpacked(req, NULL);
		return err_set(e, ENOMEM, "out of memory");
	}
	call->s = s;
	call->conn = c;
	call->stream_id = h->stream_id;
	if (req->timeout_nano > 0)
		call->deadline = util_now_ns() + (uint64_t)req->timeout_nano;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	s->refs++;

	m = find_method(s, req->service, req->method);
	pthread_mutex_unlock(&s->lock);
	if (m)
		m->fn(call, req->payload.data, req->payload.len, s->opaque);
	else
		ttrpc_call_error(call, TTRPC_UNIMPLEMENTED, "method %s/%s not implemented",
		                 req->service, req->method);
	ttrpc__request__free_unpacked(req, NULL);
	pthread_mutex_lock(&s->lock);
	return 0;
}

/* Parse every complete frame in c->in. Lock held. */
static int conn_parse(struct conn *c, struct err *e)
{
	size_t off = 0;

	while (c->in.len - off >= TTRPC_HEADER_SIZE) {
		struct ttrpc_header h;

		if (ttrpc_header_decode(c->in.data + off, TTRPC_MAX_MESSAGE_SIZE, &h, e) < 0)
			return -1;
		if (c->in.len - off - TTRPC_HEADER_SIZE < h.length)
			break;
		if (conn_dispatch(c, &h, c->in.data + off + TTRPC_HEADER_SIZE, e) < 0)
			return -1;
		off += TTRPC_HEADER_SIZE + h.length;
	}
	memmove(c->in.data, c->in.data + off, c->in.len - off);
	c->in.len -= off;
	return 0;
}

/* Read until EAGAIN (the fd is edge-triggered). 1 on EOF, -1 on error. */
static int conn_read(struct conn *c, struct err *e)
{
	for (;;) {
		ssize_t n;

		if (c->in.cap - c->in.len < READ_CHUNK) {
			size_t cap = c->in.len + READ_CHUNK;
			uint8_t *p;

			/* A frame never needs more than header + max message. */
			if (cap > TTRPC_HEADER_SIZE + TTRPC_MAX_MESSAGE_SIZE + READ_CHUNK)
				return err_set(e, EMSGSIZE, "input buffer overflow");
			p = realloc(c->in.data, cap);
			if (!p)
				return err_set(e, ENOMEM, "out of memory");
			c->in.data = p;
			c->in.cap = cap;
		}
		n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return err_sys(e, "read");
		}
		if (n == 0) {
			if (c->in.len)
				return err_set(e, EPROTO,
				               "peer closed in the middle of a frame (%zu bytes)",
				               c->in.len);
			return 1;
		}
		c->in.len += (size_t)n;
		if (conn_parse(c, e) < 0)
			return -1;
	}
}

static void on_conn(void *data, uint32_t events)
{
	struct conn *c = data;
	struct ttrpc_server *s = c->s;
	struct err e;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		r = conn_read(c, &e);
	if (r < 0) {
		conn_close(c, e.msg);
	} else if (r > 0) {
		conn_close(c, NULL);
	} else {
		conn_flush(c);
		if (c->dead)
			conn_close(c, "write failed");
	}
	pthread_mutex_unlock(&s->lock);
}

/* Takes fd, closed on failure: makes it non-blocking and allocates the
 * zeroed object (size bytes) that will own it. */
static void *adopt_fd(int fd, size_t size, struct err *e)
{
	int flags = fcntl(fd, F_GETFL);
	void *obj;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err_sys(e, "ttrpc: set fd %d non-blocking", fd);
		close(fd);
		return NULL;
	}
	obj = calloc(1, size);
	if (!obj) {
		close(fd);
		err_set(e, ENOMEM, "ttrpc: out of memory");
	}
	return obj;
}

int ttrpc_server_serve_fd(struct ttrpc_server *s, int fd, struct err *e)
{
	struct conn *c;

	c = adopt_fd(fd, sizeof(*c), e);
	if (!c)
		return -1;
	c->s = s;
	c->fd = fd;
	pthread_mutex_lock(&s->lock);
	if (loop_add(s->loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_conn, c, e) < 0) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		free(c);
		return err_ctx(e, "ttrpc");
	}
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void on_listen(void *data, uint32_t events)
{
	struct ttrpc_server *s = data;
	struct err e;

	(void)events;
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("ttrpc: accept: %s", strerror(errno));
			return;
		}
		if (ttrpc_server_serve_fd(s, fd, &e) < 0)
			log_warn("%s", e.msg);
	}
}

int ttrpc_server_listen(struct ttrpc_server *s, int listen_fd, struct err *e)
{
	int flags = fcntl(listen_fd, F_GETFL);

	if (s->listen_fd >= 0) {
		close(listen_fd);
		return err_set(e, EBUSY, "ttrpc: server already listening");
	}
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err_sys(e, "ttrpc: set listening fd non-blocking");
		close(listen_fd);
		return -1;
	}
	if (loop_add(s->loop, listen_fd, EPOLLIN, on_listen, s, e) < 0) {
		close(listen_fd);
		return err_ctx(e, "ttrpc");
	}
	s->listen_fd = listen_fd;
	return 0;
}

void ttrpc_server_free(struct ttrpc_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->freeing = true;
	if (s->listen_fd >= 0) {
		loop_del(s->loop, s->listen_fd);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	while (s->conns)
		conn_close(s->conns, NULL);
	server_unref_locked(s);
}

/* ---- client ------------------------------------------------------------ */

/* One caller waiting for its response; lives on the caller's stack and is
 * linked in c->pending while the reader may touch it. */
struct pending {
	uint32_t id;
	bool done;
	uint8_t *payload;
	size_t len;
	pthread_cond_t cond;
	struct pending *next;
};

struct ttrpc_client {
	int fd;
	int wakefd; /* tells the reader to stop */
	pthread_t reader;
	pthread_mutex_t lock;  /* next_id, broken, pending */
	pthread_mutex_t wlock; /* one frame written at a time */
	uint32_t next_id;
	char *broken; /* why the connection is unusable; NULL while it works */
	struct pending *pending;
};

/* Mark the connection unusable and wake every waiter. */
static void client_break(struct ttrpc_client *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (!c->broken) {
		c->broken = strdup(why);
		if (!c->broken)
			c->broken = (char *)"out of memory";
	}
	for (struct pending *p = c->pending; p; p = p->next)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&c->lock);
}

static int client_read_full(struct ttrpc_client *c, uint8_t *buf, size_t len, struct err *e)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
		                      {.fd = c->wakefd, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(e, "poll");
		}
		if (p[1].revents)
			return err_set(e, ECANCELED, "client closed");
		n = read(c->fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys(e, "read");
		}
		if (n == 0)
			return err_set(e, ECONNRESET, "connection closed by the server");
		done += (size_t)n;
	}
	return 0;
}

static void *client_reader(void *arg)
{
	struct ttrpc_client *c = arg;
	struct err e;

	for (;;) {
		uint8_t hb[TTRPC_HEADER_SIZE];
		struct ttrpc_header h;
		struct pending *p;
		uint8_t *payload;

		if (client_read_full(c, hb, sizeof(hb), &e) < 0)
			break;
		if (ttrpc_header_decode(hb, TTRPC_MAX_MESSAGE_SIZE, &h, &e) < 0)
			break;
		if (h.type != TTRPC_TYPE_RESPONSE) {
			err_set(&e, EPROTO, "frame type %u from the server", h.type);
			break;
		}
		payload = malloc(h.length ? h.length : 1);
		if (!payload) {
			err_set(&e, ENOMEM, "out of memory");
			break;
		}
		if (client_read_full(c, payload, h.length, &e) < 0) {
			free(payload);
			break;
		}
		pthread_mutex_lock(&c->lock);
		for (p = c->pending; p; p = p->next)
			if (p->id == h.stream_id && !p->done)
				break;
		if (p) {
			p->done = true;
			p->payload = payload;
			p->len = h.length;
			pthread_cond_signal(&p->cond);
		} else {
			/* The caller gave up (timeout): drop the late answer. */
			free(payload);
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (e.errnum != ECANCELED)
		log_warn("ttrpc: client connection lost: %s", e.msg);
	client_break(c, e.msg);
	return NULL;
}

int ttrpc_client_new(struct ttrpc_client **out, int fd, struct err *e)
{
	struct ttrpc_client *c;

	c = adopt_fd(fd, sizeof(*c), e);
	if (!c)
		return -1;
	c->fd = fd;
	c->next_id = 1;
	c->wakefd = eventfd(0, EFD_CLOEXEC);
	if (c->wakefd < 0) {
		err_sys(e, "ttrpc: eventfd");
		goto fail;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	errno = pthread_create(&c->reader, NULL, client_reader, c);
	if (errno) {
		err_sys(e, "ttrpc: start the reader thread");
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->wlock);
		close(c->wakefd);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	close(fd);
	free(c);
	return -1;
}

void ttrpc_client_shutdown(struct ttrpc_client *c)
{
	uint64_t one = 1;

	client_break(c, "client closed");
	/* the reader stops too: late answers have no one left to take them */
	if (write(c->wakefd, &one, sizeof(one)) < 0)
		log_warn("ttrpc: wake the client reader: %s", strerror(errno));
}

void ttrpc_client_free(struct ttrpc_client *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (write(c->wakefd, &one, sizeof(one)) < 0)
		log_warn("ttrpc: wake the client reader: %s", strerror(errno));
	pthread_join(c->reader, NULL);
	close(c->wakefd);
	close(c->fd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->wlock);
	if (c->broken && strcmp(c->broken, "out of memory"))
		free(c->broken);
	free(c);
}

/* Milliseconds left until deadline (ns, 0: none): -1 for none, 0 if past. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = util_now_ns();

	if (!deadline)
		return -1;
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

static int client_write(struct ttrpc_client *c, const uint8_t *buf, size_t len, uint64_t deadline,
                        size_t *sent, struct err *e)
{
	while (*sent < len) {
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		ssize_t n = send(c->fd, buf + *sent, len - *sent, MSG_NOSIGNAL);
		int left;

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, buf + *sent, len - *sent);
		if (n >= 0) {
			*sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return err_sys(e, "write");
		left = ms_left(deadline);
		if (left == 0)
			return err_set(e, ETIMEDOUT, "deadline exceeded while sending");
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return err_sys(e, "poll");
	}
	return 0;
}

/* Send a request frame and wait for the response's payload. */
static int client_roundtrip(struct ttrpc_client *c, const uint8_t *frame, size_t len,
                            struct pending *p, uint64_t deadline, struct err *e)
{
	size_t sent = 0;
	int r = 0;

	pthread_mutex_lock(&c->wlock);
	if (client_write(c, frame, len, deadline, &sent, e) < 0)
		r = -1;
	pthread_mutex_unlock(&c->wlock);
	/* Half a frame on the wire desynchronizes the stream for everyone. */
	if (r < 0 && (sent > 0 || e->errnum != ETIMEDOUT))
		client_break(c, e->msg);

	pthread_mutex_lock(&c->lock);
	while (r == 0 && !p->done && !c->broken) {
		struct timespec ts;

		if (!deadline) {
			pthread_cond_wait(&p->cond, &c->lock);
			continue;
		}
		ts.tv_sec = (time_t)(deadline / 1000000000u);
		ts.tv_nsec = (long)(deadline % 1000000000u);
		if (pthread_cond_timedwait(&p->cond, &c->lock, &ts) == ETIMEDOUT && !p->done)
			r = err_set(e, ETIMEDOUT, "deadline exceeded");
	}
	if (r == 0 && !p->done)
		r = err_set(e, ECONNRESET, "connection lost: %s", c->broken);
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
                          const uint8_t *req, size_t req_len, uint8_t **resp_buf, size_t *resp_len,
                          int timeout_ms, struct err *e)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	uint64_t deadline = 0;
	struct ttrpc_buf frame = {0};
	struct pending p = {0};
	pthread_condattr_t attr;
	Ttrpc__Response *resp;
	int rc;

	if (timeout_ms > 0) {
		r.timeout_nano = (int64_t)timeout_ms * 1000000;
		deadline = util_now_ns() + (uint64_t)r.timeout_nano;
	}
	r.service = (char *)service;
	r.method = (char *)method;
	r.payload.data = (uint8_t *)req;
	r.payload.len = req_len;

	pthread_mutex_lock(&c->lock);
	if (c->broken) {
		err_set(e, ECONNRESET, "%s/%s: connection lost: %s", service, method, c->broken);
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	p.id = c->next_id;
	c->next_id += 2;
	pthread_mutex_unlock(&c->lock);
	if (frame_append(&frame, p.id, TTRPC_TYPE_REQUEST, &r.base, e) < 0)
		return err_ctx(e, "%s/%s", service, method);

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p.cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&c->lock);
	p.next = c->pending;
	c->pending = &p;
	pthread_mutex_unlock(&c->lock);

	rc = client_roundtrip(c, frame.data, frame.len, &p, deadline, e);
	pthread_cond_destroy(&p.cond);
	free(frame.data);
	if (rc < 0) {
		free(p.payload);
		return err_ctx(e, "%s/%s", service, method);
	}

	resp = ttrpc__response__unpack(NULL, p.len, p.payload);
	free(p.payload);
	if (!resp)
		return err_set(e, EPROTO, "%s/%s: undecodable response", service, method);
	if (resp->status && resp->status->code != TTRPC_OK) {
		rc = resp->status->code > 0 ? resp->status->code : TTRPC_UNKNOWN;
		err_set(e, 0, "%s", resp->status->message);
		ttrpc__response__free_unpacked(resp, NULL);
		return rc;
	}
	*resp_len = resp->payload.len;
	*resp_buf = malloc(resp->payload.len ? resp->payload.len : 1);
	if (!*resp_buf) {
		ttrpc__response__free_unpacked(resp, NULL);
		return err_set(e, ENOMEM, "%s/%s: out of memory", service, method);
	}
	if (resp->payload.len)
		memcpy(*resp_buf, resp->payload.data, resp->payload.len);
	ttrpc__response__free_unpacked(resp, NULL);
	return 0;
}

int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp, int timeout_ms, struct err *e)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	cleanup_free uint8_t *rbuf = NULL;
	size_t rlen;
	int rc;

	if (!buf)
		return err_set(e, ENOMEM, "%s/%s: out of memory", service, method);
	protobuf_c_message_pack(req, buf);
	rc = ttrpc_client_call_raw(c, service, method, buf, len, &rbuf, &rlen, timeout_ms, e);
	if (rc != 0)
		return rc;
	*resp = protobuf_c_message_unpack(resp_desc, NULL, rlen, rbuf);
	if (!*resp)
		return err_set(e, EPROTO, "%s/%s: undecodable %s", service, method,
		               resp_desc->name);
	return 0;
}
