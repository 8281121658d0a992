/* lib/loop.c: epoll event loop with deferred removal, a stop flag and a
 * queue of calls posted from other threads through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/loop.h"

struct loop_watch {
	int fd;
	bool dead;
	loop_fn fn;
	void *data;
	struct loop_watch *next; /* on l->watches or l->graveyard */
};

struct loop_call {
	loop_fn fn;
	void *data;
	struct loop_call *next;
};

struct loop {
	int epfd;
	int wakefd;
	bool stop;
	struct loop_watch *watches;
	struct loop_watch *graveyard;
	pthread_mutex_t lock; /* guards calls and stop */
	struct loop_call *calls, **calls_tail;
};

static struct loop_watch *find_watch(struct loop *l, int fd)
{
	for (struct loop_watch *w = l->watches; w; w = w->next)
		if (w->fd == fd && !w->dead)
			return w;
	return NULL;
}

int loop_new(struct loop **out, struct err *e)
{
	struct loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!l)
		return err_set(e, ENOMEM, "loop: out of memory");
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0) {
		err_sys(e, "loop: epoll/eventfd");
		goto fail;
	}
	ev.data.ptr = NULL; /* NULL marks the wake fd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
		err_sys(e, "loop: epoll_ctl");
		goto fail;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->calls_tail = &l->calls;
	*out = l;
	return 0;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return -1;
}

static void free_list(struct loop_watch *w)
{
	while (w) {
		struct loop_watch *next = w->next;

		free(w);
		w = next;
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	free_list(l->watches);
	free_list(l->graveyard);
	while (l->calls) {
		struct loop_call *c = l->calls;

		l->calls = c->next;
		free(c);
	}
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *data, struct err *e)
{
	struct epoll_event ev = {.events = events};
	struct loop_watch *w;

	if (find_watch(l, fd))
		return err_set(e, EEXIST, "loop: fd %d already watched", fd);
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(e, ENOMEM, "loop: out of memory");
	w->fd = fd;
	w->fn = fn;
	w->data = data;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return err_sys(e, "loop: watch fd %d", fd);
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events, struct err *e)
{
	struct loop_watch *w = find_watch(l, fd);
	struct epoll_event ev = {.events = events};

	if (!w)
		return err_set(e, ENOENT, "loop: fd %d not watched", fd);
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return err_sys(e, "loop: modify fd %d", fd);
	return 0;
}

void loop_del(struct loop *l, int fd)
{
	struct loop_watch **pp;

	for (pp = &l->watches; *pp; pp = &(*pp)->next) {
		struct loop_watch *w = *pp;

		if (w->fd != fd || w->dead)
			continue;
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		/* Events for w may still sit in the current batch: keep the
		 * memory until the batch is done. */
		w->dead = true;
		*pp = w->next;
		w->next = l->graveyard;
		l->graveyard = w;
		return;
	}
}

static void run_calls(struct loop *l)
{
	struct loop_call *c;
	uint64_t v;

	if (read(l->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&l->lock);
	c = l->calls;
	l->calls = NULL;
	l->calls_tail = &l->calls;
	pthread_mutex_unlock(&l->lock);
	while (c) {
		struct loop_call *next = c->next;

		c->fn(c->data, 0);
		free(c);
		c = next;
	}
}

int loop_run_once(struct loop *l, int timeout_ms, struct err *e)
{
	struct epoll_event evs[32];
	int n, called = 0;

	n = epoll_wait(l->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return err_sys(e, "loop: epoll_wait");
	}
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		if (!w) {
			run_calls(l);
			called++;
			continue;
		}
		if (w->dead)
			continue;
		w->fn(w->data, evs[i].events);
		called++;
	}
	free_list(l->graveyard);
	l->graveyard = NULL;
	return called;
}

int loop_run(struct loop *l, struct err *e)
{
	for (;;) {
		bool stop;

		pthread_mutex_lock(&l->lock);
		stop = l->stop;
		l->stop = false;
		pthread_mutex_unlock(&l->lock);
		if (stop)
			return 0;
		if (loop_run_once(l, -1, e) < 0)
			return -1;
	}
}

static void wake(struct loop *l)
{
	uint64_t one = 1;

	if (write(l->wakefd, &one, sizeof(one)) < 0)
		return; /* counter full: the loop is awake anyway */
}

void loop_stop(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_mutex_unlock(&l->lock);
	wake(l);
}

int loop_call(struct loop *l, loop_fn fn, void *data, struct err *e)
{
	struct loop_call *c = calloc(1, sizeof(*c));

	if (!c)
		return err_set(e, ENOMEM, "loop: out of memory");
	c->fn = fn;
	c->data = data;
	pthread_mutex_lock(&l->lock);
	*l->calls_tail = c;
	l->calls_tail = &c->next;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	return 0;
}
