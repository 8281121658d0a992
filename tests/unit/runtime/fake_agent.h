/* tests/unit/runtime/fake_agent.h: a scripted hako-agent stand-in (a lib/ttrpc
 * server on its own loop thread) for tests of the agent client and the
 * sandbox without a VM. */
#ifndef HAKO_TESTS_FAKE_AGENT_H
#define HAKO_TESTS_FAKE_AGENT_H

#include <pthread.h>
#include <stdbool.h>

struct fake_agent {
	/* script */
	int not_serving; /* answer Check NOT_SERVING this many times first */
	int exit_status; /* WaitProcess answer */
	const char *stdout_data;
	const char *oom_id; /* answer to the first GetOOMEvent; later ones wait */
	/* what it saw (read after fake_agent_stop, or under lock) */
	pthread_mutex_t lock;
	int checks;
	char sandbox_id[64];
	char storage[256]; /* "driver source fstype mount_point" of CreateSandbox */
	char created[64];  /* last CreateContainer's id */
	char root[256];    /* and its spec's root path */
	bool root_readonly;
	char mounts[512]; /* "dest type source;" for each mount of the spec */
	char started[64];
	char removed[64];
	int signal;
	char stdin_data[64];
	bool stdin_closed;
	bool destroyed;
	int stdout_reads;
	int oom_calls;
	/* internals */
	struct loop *loop;
	struct ttrpc_server *server;
	pthread_t thread;
	struct ttrpc_call *oom_held; /* the GetOOMEvent left waiting */
};

/* Start serving; returns the client end of its one connection. */
int fake_agent_start(struct fake_agent *f);
void fake_agent_stop(struct fake_agent *f);

#endif
