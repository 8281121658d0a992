/* runtime/agent.h: the runtime's client of hako-agent (Kata's
 * grpc.AgentService and grpc.Health over ttrpc). One struct agent is one
 * stream to the guest; calls may come from several threads at once (a
 * WaitProcess and ReadStdout/ReadStderr loops alongside other calls). */
#ifndef HAKO_RUNTIME_AGENT_H
#define HAKO_RUNTIME_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "proto/agent.pb-c.h"
#include "runtime/hypervisor.h"

#define AGENT_SERVICE  "grpc.AgentService"
#define HEALTH_SERVICE "grpc.Health"

struct agent;

/* Open a stream through the driver and wait until Health.Check answers
 * SERVING, redialling and retrying until timeout_ms has passed. */
int agent_connect(struct agent **out, const struct hv_ops *ops, struct hv *h, int timeout_ms,
                  struct err *e);
/* Same on a stream already connected (owned from now, closed on failure). */
int agent_open_fd(struct agent **out, int fd, int timeout_ms, struct err *e);
/* End the stream for every thread (calls in flight fail with ECONNRESET,
 * later ones at once) and drop the caller's reference. */
void agent_close(struct agent *a);
/* Another reference, for a thread whose calls may outlive agent_close (a
 * GetOOMEvent loop): the struct stays valid until its agent_unref. */
struct agent *agent_ref(struct agent *a);
/* Drop a reference without ending the stream; the last one frees. */
void agent_unref(struct agent *a);
/* Deadline of each ordinary call (not Wait/Read*, which wait for the guest). */
void agent_set_call_timeout(struct agent *a, int timeout_ms);

/* Health.Check once; 0 when SERVING. */
int agent_check(struct agent *a, int timeout_ms, struct err *e);

int agent_create_sandbox(struct agent *a, const char *sandbox_id, const char *hostname,
                         Grpc__Storage **storages, size_t nr_storages, struct err *e);
int agent_destroy_sandbox(struct agent *a, struct err *e);

/* spec is not consumed. */
int agent_create_container(struct agent *a, const char *cid, Grpc__Spec *spec,
                           Grpc__Storage **storages, size_t nr_storages, struct err *e);
int agent_start_container(struct agent *a, const char *cid, struct err *e);
/* timeout_s: how long the agent waits for the processes to die (0: forever). */
int agent_remove_container(struct agent *a, const char *cid, uint32_t timeout_s, struct err *e);
int agent_exec_process(struct agent *a, const char *cid, const char *exec_id, Grpc__Process *proc,
                       struct err *e);
/* exec_id "" or NULL: the container's init process. */
int agent_signal_process(struct agent *a, const char *cid, const char *exec_id, int sig,
                         struct err *e);
/* Blocks until the process exits; *status is its exit status. */
int agent_wait_process(struct agent *a, const char *cid, const char *exec_id, int *status,
                       struct err *e);
int agent_pause_container(struct agent *a, const char *cid, struct err *e);
int agent_resume_container(struct agent *a, const char *cid, struct err *e);
/* *resp: free with protobuf_c_message_free_unpacked. */
int agent_stats_container(struct agent *a, const char *cid, Grpc__StatsContainerResponse **resp,
                          struct err *e);
int agent_update_container(struct agent *a, const char *cid, Grpc__LinuxResources *res,
                           struct err *e);

/* Read at most len bytes of the process's stdout (stderr: false) or stderr
 * into buf; blocks until there are some. Returns the count, 0 at EOF. */
ssize_t agent_read_stream(struct agent *a, const char *cid, const char *exec_id, bool stdout_,
                          void *buf, size_t len, struct err *e);
/* Returns the bytes the agent took. */
ssize_t agent_write_stdin(struct agent *a, const char *cid, const char *exec_id, const void *buf,
                          size_t len, struct err *e);
int agent_close_stdin(struct agent *a, const char *cid, const char *exec_id, struct err *e);
/* Blocks until a container's process is OOM-killed, with no deadline (the
 * agent queues events, a call given up would lose one); *cid (malloc'd)
 * names the container. Fails once the stream ends (agent_close). */
int agent_get_oom_event(struct agent *a, char **cid, struct err *e);

int agent_tty_resize(struct agent *a, const char *cid, const char *exec_id, unsigned int rows,
                     unsigned int cols, struct err *e);

#endif
