/* lib/ttrpc.h: ttrpc, containerd's small RPC protocol (gRPC semantics, no
 * HTTP/2): frames with a 10-byte header over any stream fd, a protobuf
 * Request{service, method, payload, timeout_nano, metadata} answered by a
 * Response{status, payload} on the same stream id. The agent, the runtime
 * and the shim all speak it through this module.
 *
 * Server: runs on a lib/loop thread; handlers may answer at once or later
 * (deferred), so a WaitProcess can wait without blocking anything.
 * Client: thread-safe; many threads may have calls in flight on one
 * connection, a reader thread matches responses to stream ids. */
#ifndef HAKO_LIB_TTRPC_H
#define HAKO_LIB_TTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"
#include "lib/loop.h"

#define TTRPC_HEADER_SIZE      10
#define TTRPC_MAX_MESSAGE_SIZE (4u << 20) /* larger frames close the connection */

#define TTRPC_TYPE_REQUEST  1
#define TTRPC_TYPE_RESPONSE 2

/* gRPC status codes (google.rpc.Code). */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_CANCELLED = 1,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_PERMISSION_DENIED = 7,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_ABORTED = 10,
	TTRPC_OUT_OF_RANGE = 11,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
	TTRPC_DATA_LOSS = 15,
	TTRPC_UNAUTHENTICATED = 16,
};

/* "NOT_FOUND" etc. */
const char *ttrpc_code_name(int code);

/* ---- framing ----------------------------------------------------------- */

struct ttrpc_header {
	uint32_t length; /* payload bytes after the header */
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE]);
/* Decode and validate (length <= max_size, known type); -1 with e naming why. */
int ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], uint32_t max_size,
                        struct ttrpc_header *h, struct err *e);

/* ---- server ------------------------------------------------------------ */

struct ttrpc_server;
struct ttrpc_call; /* one request in flight; valid until answered */

/* Called on the loop thread. The handler must answer the call exactly once,
 * now or later, with ttrpc_call_reply*() or ttrpc_call_error(). payload is
 * valid only until the handler returns. */
typedef void (*ttrpc_handler_fn)(struct ttrpc_call *call, const uint8_t *payload, size_t len,
                                 void *opaque);

struct ttrpc_method {
	const char *service; /* "grpc.AgentService" */
	const char *method;  /* "CreateContainer" */
	ttrpc_handler_fn fn;
};

/* Unknown service/method pairs are answered UNIMPLEMENTED naming them.
 * Frames that are garbage, oversize, truncated by a hang-up or not a
 * Request close that connection (logged as a warning); others carry on. */
int ttrpc_server_new(struct ttrpc_server **out, struct loop *loop,
                     const struct ttrpc_method *methods, size_t nr_methods, void *opaque,
                     struct err *e);
/* Accept connections on a listening socket (owned by the server from now). */
int ttrpc_server_listen(struct ttrpc_server *s, int listen_fd, struct err *e);
/* Serve one already-connected stream (owned by the server from now): a
 * socket, or a character device such as a virtio-serial port. */
int ttrpc_server_serve_fd(struct ttrpc_server *s, int fd, struct err *e);
/* Called on the loop thread after a connection closed (peer hang-up, bad
 * input), e.g. to reopen a virtio-serial port; fd is already closed. */
void ttrpc_server_on_close(struct ttrpc_server *s, void (*fn)(int fd, void *opaque));
/* Close every connection; calls still unanswered are answered into the void.
 * Call it on the loop thread or once the loop no longer runs. */
void ttrpc_server_free(struct ttrpc_server *s);

/* Answering is thread-safe: any thread may answer, also after the client
 * left or the server was freed (the answer is then dropped). Replies larger
 * than TTRPC_MAX_MESSAGE_SIZE become RESOURCE_EXHAUSTED errors. */
void ttrpc_call_reply(struct ttrpc_call *c, const uint8_t *payload, size_t len);
void ttrpc_call_reply_msg(struct ttrpc_call *c, const ProtobufCMessage *msg);
void ttrpc_call_error(struct ttrpc_call *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* "CreateContainer" (the method name without its service). */
const char *ttrpc_call_method(const struct ttrpc_call *c);
/* Absolute CLOCK_MONOTONIC deadline in ns from timeout_nano, 0 if none. */
uint64_t ttrpc_call_deadline(const struct ttrpc_call *c);
/* false once the client's connection is gone (the reply will be dropped). */
bool ttrpc_call_connected(const struct ttrpc_call *c);

/* ---- client ------------------------------------------------------------ */

struct ttrpc_client;

/* Use fd (owned from now, made non-blocking) as the connection. Stream ids
 * are odd and increasing; a bad frame from the server or a hang-up ends the
 * connection and wakes every waiting caller with an error. */
int ttrpc_client_new(struct ttrpc_client **out, int fd, struct err *e);
void ttrpc_client_free(struct ttrpc_client *c);
/* End the connection now without freeing it: calls in flight on any thread
 * fail (ECONNRESET, "client closed") and later calls fail at once. For a
 * thread blocked in a call without deadline that must return before
 * ttrpc_client_free, which needs every call to have returned. */
void ttrpc_client_shutdown(struct ttrpc_client *c);

/* Call service/method with req and wait at most timeout_ms (<= 0: no
 * deadline; it is sent as timeout_nano). Returns 0 with *resp set (free with
 * protobuf_c_message_free_unpacked), a positive ttrpc_code when the server
 * answered with an error status (e->msg is the server's message as is), or
 * -1 on a transport failure (connection lost: ECONNRESET, timeout: ETIMEDOUT,
 * request too large: EMSGSIZE, bad response: EPROTO). After a timeout the
 * connection stays usable; the late answer is dropped. */
int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp, int timeout_ms, struct err *e);
/* Same with raw payload bytes; *resp_buf is malloc'd. */
int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
                          const uint8_t *req, size_t req_len, uint8_t **resp_buf, size_t *resp_len,
                          int timeout_ms, struct err *e);

#endif
