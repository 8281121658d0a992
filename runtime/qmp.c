/* runtime/qmp.c: QMP client. QEMU writes one JSON object per line; commands
 * are answered in order, so the next non-event line answers the last
 * command. Events may come at any time and are skipped. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/qmp.h"

#define QMP_LINE_MAX     (1u << 20)
#define QMP_HANDSHAKE_MS 10000 /* greeting + qmp_capabilities on a busy host */

struct qmp {
	int fd;
	char *buf; /* bytes read but not consumed yet */
	size_t len, cap;
};

static int remaining_ms(unsigned long long deadline)
{
	unsigned long long now = util_now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

/* Read one line (without its end) into a malloc'd string before deadline. */
static int qmp_read_line(struct qmp *q, unsigned long long deadline, char **line, struct err *e)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		ssize_t n;
		int r;

		if (nl) {
			size_t l = (size_t)(nl - q->buf);

			*line = strndup(q->buf, l);
			if (!*line)
				return err_set(e, ENOMEM, "qmp: out of memory");
			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			return 0;
		}
		if (q->len >= QMP_LINE_MAX)
			return err_set(e, EPROTO, "qmp: line longer than %u bytes", QMP_LINE_MAX);
		if (q->cap - q->len < 4096) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *b = realloc(q->buf, cap);

			if (!b)
				return err_set(e, ENOMEM, "qmp: out of memory");
			q->buf = b;
			q->cap = cap;
		}
		r = poll(&p, 1, remaining_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_sys(e, "qmp: poll");
		if (r == 0)
			return err_set(e, ETIMEDOUT, "qmp: timed out waiting for QEMU");
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(e, "qmp: read");
		if (n == 0)
			return err_set(e, ECONNRESET, "qmp: QEMU closed the connection");
		q->len += (size_t)n;
	}
}

/* Next message that is not an event, parsed. */
static int qmp_read_reply(struct qmp *q, unsigned long long deadline, struct json_object **out,
                          struct err *e)
{
	for (;;) {
		cleanup_free char *line = NULL;
		struct json_object *o;

		if (qmp_read_line(q, deadline, &line, e) < 0)
			return -1;
		if (!line[strspn(line, " \t\r")])
			continue;
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return err_set(e, EPROTO, "qmp: not a JSON object: %.80s", line);
		}
		if (json_object_object_get_ex(o, "event", NULL)) {
			log_debug("qmp: event %s", line);
			json_object_put(o);
			continue;
		}
		*out = o;
		return 0;
	}
}

/* send(2) everything; MSG_NOSIGNAL because QEMU may have died meanwhile. */
static int qmp_send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int qmp_send(struct qmp *q, const char *cmd, struct json_object *args, struct err *e)
{
	struct json_object *req = json_object_new_object();
	const char *s;
	int r = 0;

	if (!req)
		return err_set(e, ENOMEM, "qmp: out of memory");
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (qmp_send_all(q->fd, s, strlen(s)) < 0 || qmp_send_all(q->fd, "\n", 1) < 0)
		r = err_sys(e, "qmp %s: write", cmd);
	json_object_put(req);
	return r;
}

int qmp_execute(struct qmp *q, const char *cmd, struct json_object *args, struct json_object **ret,
                int timeout_ms, struct err *e)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	struct json_object *reply = NULL, *v, *cls, *desc;

	if (qmp_send(q, cmd, args, e) < 0)
		return -1;
	if (qmp_read_reply(q, deadline, &reply, e) < 0)
		return err_ctx(e, "qmp %s", cmd);
	if (json_object_object_get_ex(reply, "error", &v)) {
		json_object_object_get_ex(v, "class", &cls);
		json_object_object_get_ex(v, "desc", &desc);
		err_set(e, EIO, "qmp %s: %s: %s", cmd, cls ? json_object_get_string(cls) : "?",
		        desc ? json_object_get_string(desc) : "?");
		json_object_put(reply);
		return -1;
	}
	if (!json_object_object_get_ex(reply, "return", &v)) {
		json_object_put(reply);
		return err_set(e, EPROTO, "qmp %s: reply has neither return nor error", cmd);
	}
	if (ret)
		*ret = json_object_get(v);
	json_object_put(reply);
	return 0;
}

int qmp_open_fd(struct qmp **out, int fd, int timeout_ms, struct err *e)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	struct qmp *q = calloc(1, sizeof(*q));
	struct json_object *greeting = NULL;
	int ok;

	if (!q) {
		close(fd);
		return err_set(e, ENOMEM, "qmp: out of memory");
	}
	q->fd = fd;
	if (qmp_read_reply(q, deadline, &greeting, e) < 0)
		goto fail;
	ok = json_object_object_get_ex(greeting, "QMP", NULL);
	json_object_put(greeting);
	if (!ok) {
		err_set(e, EPROTO, "qmp: the first message is not a QMP greeting");
		goto fail;
	}
	if (qmp_execute(q, "qmp_capabilities", NULL, NULL, remaining_ms(deadline), e) < 0)
		goto fail;
	*out = q;
	return 0;
fail:
	qmp_close(q);
	return -1;
}

int qmp_connect(struct qmp **out, const char *path, int timeout_ms, struct err *e)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "qmp: socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return err_sys(e, "qmp: socket");
		/* Once connected, finish the handshake even past the connect
		 * deadline: a qmp_capabilities abandoned mid-way is answered
		 * on QEMU's next connection and shifts every reply by one. */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return qmp_open_fd(out, fd, QMP_HANDSHAKE_MS, e);
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EINTR)
			return err_sys(e, "qmp: connect %s", path);
		if (!remaining_ms(deadline))
			return err_sys(e, "qmp: connect %s: timed out", path);
		usleep(10000);
	}
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q->buf);
	free(q);
}
