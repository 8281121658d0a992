/* agent/rpc.h: the agent's ttrpc services (grpc.AgentService, grpc.Health):
 * decode requests, call the engine, map its errors to gRPC codes, answer
 * blocking calls (WaitProcess, ReadStdout/err, GetOOMEvent) later. */
#ifndef HAKO_AGENT_RPC_H
#define HAKO_AGENT_RPC_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/loop.h"

struct rpc;

/* host_mode: the agent runs on a host inside its own namespaces (tests);
 * calls that would change the machine (clock) are refused. */
int rpc_new(struct loop *loop, bool host_mode, struct rpc **out, struct err *e);
/* Accept connections on a listening socket (owned from now). */
int rpc_listen(struct rpc *r, int listen_fd, struct err *e);
/* Serve one connected stream, e.g. a virtio-serial port (owned from now). */
int rpc_serve_fd(struct rpc *r, int fd, struct err *e);
void rpc_free(struct rpc *r);

#endif
