/* shim/oom.c: the OOM watcher (see oom.h). One call is always pending in
 * the agent, without deadline: the agent queues OOMs between calls, and a
 * call given up would lose the one answered to it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "lib/log.h"
#include "proto/containerd/events.pb-c.h"
#include "shim/oom.h"

struct shim_oom {
	struct agent *agent; /* the thread's reference */
	struct shim_events *events;
	pthread_t thread;
};

static void *watch(void *arg)
{
	struct shim_oom *o = arg;
	struct err e;

	for (;;) {
		Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
		char *cid;

		if (agent_get_oom_event(o->agent, &cid, &e) < 0)
			break;
		log_info("%s: OOM", cid);
		ev.container_id = cid;
		shim_events_publish(o->events, SHIM_TOPIC_OOM, &ev.base);
		free(cid);
	}
	/* the usual end is the stream's (the VM stops); anything else ends
	 * the watch too, rather than spin on an agent that refuses it */
	if (e.errnum == ECONNRESET)
		log_debug("oom watcher: %s", e.msg);
	else
		log_warn("oom watcher: %s; OOM events are no longer published", e.msg);
	agent_unref(o->agent);
	return NULL;
}

int shim_oom_start(struct shim_oom **out, struct agent *a, struct shim_events *ev, struct err *e)
{
	struct shim_oom *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return err_set(e, ENOMEM, "out of memory");
	o->agent = agent_ref(a);
	o->events = ev;
	r = pthread_create(&o->thread, NULL, watch, o);
	if (r) {
		agent_unref(o->agent);
		free(o);
		errno = r;
		return err_sys(e, "oom watcher thread");
	}
	*out = o;
	return 0;
}

void shim_oom_free(struct shim_oom *o)
{
	if (!o)
		return;
	pthread_join(o->thread, NULL);
	free(o);
}
