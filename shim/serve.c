/* shim/serve.c: the shim's server mode (see shim.h): the task service on
 * the socket `start` bound, logs into the bundle's "log" FIFO (containerd
 * copies it into its own log), events to $TTRPC_ADDRESS, until Shutdown
 * or SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/loop.h"
#include "lib/ttrpc.h"
#include "lib/util.h"
#include "shim/events.h"
#include "shim/shim.h"
#include "shim/task.h"

#define INHERITED_FD    3
#define EVENTS_FLUSH_MS 3000

static int listening_socket(const struct shim_args *a, int *out, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, accepting = 0;
	socklen_t len = sizeof(accepting);

	if (!a->socket) {
		if (getsockopt(INHERITED_FD, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
		    !accepting)
			return err_set(e, EBADF,
			               "no listening socket on fd 3 (run through 'start', or give "
			               "-socket)");
		fcntl(INHERITED_FD, F_SETFD, FD_CLOEXEC);
		*out = INHERITED_FD;
		return 0;
	}
	if (strlen(a->socket) >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "socket path too long: %s", a->socket);
	strcpy(sa.sun_path, a->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, "socket");
	unlink(a->socket);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		err_sys(e, "listen on %s", a->socket);
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

/* containerd reads the bundle's "log" FIFO; without one we log nowhere. */
static void open_log(void)
{
	int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

struct sig_ctx {
	struct loop *loop;
	int fd;
};

static void on_signal(void *data, uint32_t events)
{
	struct sig_ctx *sc = data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(sc->fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: shutting down", si.ssi_signo);
	loop_stop(sc->loop);
}

int shim_serve(const struct shim_args *a, struct err *e)
{
	cleanup_free char *group = NULL, *cwd = getcwd(NULL, 0);
	char run_dir[256], addr[SHIM_ADDRESS_MAX] = "";
	struct shim_task_config tc = {.ns = a->namespace_, .run_dir = run_dir};
	struct shim_events *events = NULL;
	struct ttrpc_server *server = NULL;
	struct shim_task *task = NULL;
	struct loop *loop = NULL;
	const struct ttrpc_method *methods;
	int listen_fd = -1, r = -1;
	struct sig_ctx sc = {.fd = -1};
	size_t nr_methods;
	sigset_t sigs;

	signal(SIGPIPE, SIG_IGN);
	open_log();
	log_set_level(a->debug ? LOG_DEBUG : LOG_INFO);
	if (!cwd)
		return err_sys(e, "getcwd");
	if (listening_socket(a, &listen_fd, e) < 0)
		return -1;
	if (shim_grouping_id(a->bundle ? a->bundle : cwd, a->id, &group, e) < 0 ||
	    shim_run_dir(a->address, a->namespace_, group, run_dir, sizeof(run_dir), e) < 0)
		goto out;
	if (!a->socket &&
	    shim_socket_address(a->address, a->namespace_, group, addr, sizeof(addr), e) < 0)
		goto out;

	/* the threads started below inherit the mask: signals come through sig_fd */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sc.fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sc.fd < 0) {
		err_sys(e, "signalfd");
		goto out;
	}
	if (loop_new(&loop, e) < 0)
		goto out;
	sc.loop = loop;
	if (loop_add(loop, sc.fd, EPOLLIN, on_signal, &sc, e) < 0 ||
	    shim_events_new(&events, getenv("TTRPC_ADDRESS"), a->namespace_, e) < 0)
		goto out;
	tc.loop = loop;
	tc.events = events;
	if (shim_task_new(&task, &tc, e) < 0)
		goto out;
	methods = shim_task_methods(&nr_methods);
	if (ttrpc_server_new(&server, loop, methods, nr_methods, task, e) < 0)
		goto out;
	r = ttrpc_server_listen(server, listen_fd, e);
	listen_fd = -1;
	if (r < 0)
		goto out;
	log_info("serving %s for pod %s (namespace %s)", a->id, group, a->namespace_);
	r = loop_run(loop, e);
out:
	if (server)
		ttrpc_server_free(server);
	shim_task_free(task);
	shim_events_free(events, EVENTS_FLUSH_MS);
	if (loop)
		loop_free(loop);
	if (sc.fd >= 0)
		close(sc.fd);
	if (listen_fd >= 0)
		close(listen_fd);
	if (addr[0])
		unlink(addr + strlen("unix://"));
	return r;
}
