/* shim/events.h: the shim's events to containerd: each task event is packed
 * as an Any (type_url = its full name, "containerd.events.TaskExit") in an
 * Envelope and sent with containerd.services.events.ttrpc.v1.Events/Forward
 * to $TTRPC_ADDRESS, in publishing order, from a thread of its own. */
#ifndef HAKO_SHIM_EVENTS_H
#define HAKO_SHIM_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"

#define SHIM_EVENTS_SERVICE "containerd.services.events.ttrpc.v1.Events"

#define SHIM_TOPIC_CREATE       "/tasks/create"
#define SHIM_TOPIC_START        "/tasks/start"
#define SHIM_TOPIC_EXIT         "/tasks/exit"
#define SHIM_TOPIC_DELETE       "/tasks/delete"
#define SHIM_TOPIC_EXEC_ADDED   "/tasks/exec-added"
#define SHIM_TOPIC_EXEC_STARTED "/tasks/exec-started"
#define SHIM_TOPIC_PAUSED       "/tasks/paused"
#define SHIM_TOPIC_RESUMED      "/tasks/resumed"
#define SHIM_TOPIC_OOM          "/tasks/oom"

struct shim_events;

/* A publisher to containerd's ttrpc socket address ("PATH" or
 * "unix://PATH"); NULL or "" publishes nothing (events are logged). */
int shim_events_new(struct shim_events **out, const char *ttrpc_address, const char *ns,
                    struct err *e);
/* Queue msg (encoded now, not consumed) under topic, stamped now. */
void shim_events_publish(struct shim_events *ev, const char *topic, const ProtobufCMessage *msg);
/* Send what is queued (waiting at most timeout_ms), then stop. */
void shim_events_free(struct shim_events *ev, int timeout_ms);

/* The Forward request for one event; *out is malloc'd. */
int shim_events_encode(const char *ns, const char *topic, const ProtobufCMessage *msg,
                       const struct timespec *when, uint8_t **out, size_t *len, struct err *e);

#endif
