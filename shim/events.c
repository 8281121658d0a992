/* shim/events.c: the event publisher (see events.h). One thread sends the
 * queue in order over one ttrpc connection, redialling when it drops;
 * an event containerd cannot take after a few tries is logged and dropped,
 * as containerd's own shims do. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "proto/containerd/ttrpc_events.pb-c.h"
#include "shim/events.h"

#define SEND_TRIES      5
#define SEND_TIMEOUT_MS 5000

struct event {
	struct event *next;
	char *topic;
	uint8_t *buf;
	size_t len;
};

struct shim_events {
	char *path; /* NULL: log only */
	char *ns;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *head, **tail;
	bool stopping, busy;
	pthread_t thread;
	bool thread_running;
	struct ttrpc_client *client;
};

int shim_events_encode(const char *ns, const char *topic, const ProtobufCMessage *msg,
                       const struct timespec *when, uint8_t **out, size_t *len, struct err *e)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
	        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	cleanup_free uint8_t *value = NULL;

	any.value.len = protobuf_c_message_get_packed_size(msg);
	value = malloc(any.value.len ? any.value.len : 1);
	if (!value)
		return err_set(e, ENOMEM, "out of memory");
	protobuf_c_message_pack(msg, value);
	any.value.data = value;
	any.type_url = (char *)msg->descriptor->name;
	ts.seconds = when->tv_sec;
	ts.nanos = (int32_t)when->tv_nsec;
	env.timestamp = &ts;
	env.namespace_ = (char *)ns;
	env.topic = (char *)topic;
	env.event = &any;
	req.envelope = &env;
	*len = protobuf_c_message_get_packed_size(&req.base);
	*out = malloc(*len);
	if (!*out)
		return err_set(e, ENOMEM, "out of memory");
	protobuf_c_message_pack(&req.base, *out);
	return 0;
}

static int dial(const char *path, int *fd, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "events socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_sys(e, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_sys(e, "connect to %s", path);
		close(s);
		return -1;
	}
	*fd = s;
	return 0;
}

static int send_one(struct shim_events *ev, const struct event *x, struct err *e)
{
	uint8_t *resp = NULL;
	size_t resp_len = 0;
	int fd = -1, r;

	if (!ev->client) {
		if (dial(ev->path, &fd, e) < 0)
			return -1;
		if (ttrpc_client_new(&ev->client, fd, e) < 0)
			return -1;
	}
	r = ttrpc_client_call_raw(ev->client, SHIM_EVENTS_SERVICE, "Forward", x->buf, x->len, &resp,
	                          &resp_len, SEND_TIMEOUT_MS, e);
	free(resp);
	if (r < 0) { /* transport: start over on a new connection */
		ttrpc_client_free(ev->client);
		ev->client = NULL;
	}
	return r == 0 ? 0 : -1;
}

static void *sender(void *arg)
{
	struct shim_events *ev = arg;

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		struct event *x;
		struct err e;

		while (!ev->head && !ev->stopping)
			pthread_cond_wait(&ev->cond, &ev->lock);
		if (!ev->head)
			break;
		x = ev->head;
		ev->busy = true;
		pthread_mutex_unlock(&ev->lock);
		for (int i = 0; i < SEND_TRIES; i++) {
			if (send_one(ev, x, &e) == 0) {
				log_debug("event %s sent", x->topic);
				break;
			}
			log_warn("event %s: %s%s", x->topic, e.msg,
			         i + 1 < SEND_TRIES ? " (retrying)" : " (dropped)");
			usleep(100000u << i);
		}
		pthread_mutex_lock(&ev->lock);
		ev->head = x->next;
		if (!ev->head)
			ev->tail = &ev->head;
		ev->busy = false;
		pthread_cond_broadcast(&ev->cond);
		free(x->topic);
		free(x->buf);
		free(x);
	}
	pthread_mutex_unlock(&ev->lock);
	return NULL;
}

int shim_events_new(struct shim_events **out, const char *ttrpc_address, const char *ns,
                    struct err *e)
{
	struct shim_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return err_set(e, ENOMEM, "out of memory");
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->cond, NULL);
	ev->tail = &ev->head;
	ev->ns = strdup(ns);
	if (ttrpc_address && ttrpc_address[0])
		ev->path = strdup(!strncmp(ttrpc_address, "unix://", 7) ? ttrpc_address + 7
		                                                        : ttrpc_address);
	if (!ev->ns || (ttrpc_address && ttrpc_address[0] && !ev->path)) {
		shim_events_free(ev, 0);
		return err_set(e, ENOMEM, "out of memory");
	}
	if (ev->path) {
		int r = pthread_create(&ev->thread, NULL, sender, ev);

		if (r) {
			shim_events_free(ev, 0);
			errno = r;
			return err_sys(e, "events thread");
		}
		ev->thread_running = true;
	}
	*out = ev;
	return 0;
}

void shim_events_publish(struct shim_events *ev, const char *topic, const ProtobufCMessage *msg)
{
	struct timespec now;
	struct event *x;
	struct err e;

	log_info("event %s (%s)", topic, msg->descriptor->short_name);
	if (!ev->path)
		return;
	x = calloc(1, sizeof(*x));
	clock_gettime(CLOCK_REALTIME, &now);
	if (!x || !(x->topic = strdup(topic)) ||
	    shim_events_encode(ev->ns, topic, msg, &now, &x->buf, &x->len, &e) < 0) {
		log_error("event %s: out of memory (dropped)", topic);
		if (x)
			free(x->topic);
		free(x);
		return;
	}
	pthread_mutex_lock(&ev->lock);
	*ev->tail = x;
	ev->tail = &x->next;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

void shim_events_free(struct shim_events *ev, int timeout_ms)
{
	if (!ev)
		return;
	if (ev->thread_running) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&ev->lock);
		while ((ev->head || ev->busy) &&
		       pthread_cond_timedwait(&ev->cond, &ev->lock, &until) == 0)
			;
		/* what is left after the deadline is dropped */
		while (ev->head && ev->head->next) {
			struct event *x = ev->head->next;

			ev->head->next = x->next;
			free(x->topic);
			free(x->buf);
			free(x);
		}
		ev->tail = ev->head ? &ev->head->next : &ev->head;
		ev->stopping = true;
		pthread_cond_broadcast(&ev->cond);
		pthread_mutex_unlock(&ev->lock);
		pthread_join(ev->thread, NULL);
	}
	ttrpc_client_free(ev->client);
	free(ev->path);
	free(ev->ns);
	free(ev);
}
