/* lib/hvsock.h: dialing the agent. Hybrid vsock is the Firecracker/Kata
 * convention for reaching a guest vsock port through a host unix socket
 * served by the VMM: send "CONNECT <port>\n", get "OK <host port>\n", then
 * the stream is the guest's. Plain unix sockets serve host-mode agents and
 * virtio-serial channels. */
#ifndef HAKO_LIB_HVSOCK_H
#define HAKO_LIB_HVSOCK_H

#include <stdint.h>

#include "lib/err.h"

#define HVSOCK_PATH_MAX 108 /* sizeof(sun_path) */

enum hvsock_kind {
	HVSOCK_UNIX,   /* "unix:PATH" */
	HVSOCK_HYBRID, /* "hvsock:UDS:PORT" */
};

struct hvsock_addr {
	enum hvsock_kind kind;
	char path[HVSOCK_PATH_MAX];
	uint32_t port; /* HVSOCK_HYBRID only */
};

/* Parse "unix:PATH" or "hvsock:UDS:PORT" (the port follows the last ':'). */
int hvsock_addr_parse(const char *addr, struct hvsock_addr *out, struct err *e);

/* Connect to the VMM's hybrid-vsock socket uds and open guest port, waiting
 * at most timeout_ms (<= 0: no limit) for the whole handshake. *fd is a
 * blocking stream positioned just after the "OK" line. A refused port
 * (no listener yet in the guest) fails with errnum ECONNREFUSED, so callers
 * waiting for an agent to come up know to retry. */
int hvsock_dial(const char *uds, uint32_t port, int timeout_ms, int *fd, struct err *e);

/* Dial an address as hvsock_addr_parse reads it. */
int hvsock_addr_dial(const char *addr, int timeout_ms, int *fd, struct err *e);

#endif
