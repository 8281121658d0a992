/* Integration test of the builtin hypervisor driver under libhako-vmm, one
 * boot for every check: the agent answers Health.Check over hybrid vsock,
 * pause stops the guest and resume lets it go on, a container whose root is
 * a busybox tree shared through virtio-fs runs `echo hello` (its output and
 * exit status come back), and stopping the VM leaves no thread, fd, socket
 * or directory behind.
 * Usage: builtin-agent KERNEL INITRD ROOTFS WORKDIR; exits 77 when this
 * libhako-vmm lacks a device the test needs. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/sandbox.h"
#include "runtime/spec.h"

#define AGENT_TIMEOUT_MS 600000

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "builtin-agent: %s:%d: check failed: %s\n", __FILE__,      \
			        __LINE__, #cond);                                                  \
			failed = 1;                                                                \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_OK(call)                                                                             \
	do {                                                                                       \
		if ((call) < 0) {                                                                  \
			fprintf(stderr, "builtin-agent: %s:%d: %s: %s\n", __FILE__, __LINE__,      \
			        #call, e.msg);                                                     \
			failed = 1;                                                                \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static unsigned int count_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static double since_s(unsigned long long t0)
{
	return (double)(util_now_ns() - t0) / 1e9;
}

static void dump_console(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len;
	struct err e;

	if (util_read_file(path, 1 << 20, &buf, &len, &e) == 0)
		fprintf(stderr, "== %s (last 6000 bytes)\n%s\n", path,
		        len > 6000 ? buf + len - 6000 : buf);
}

int main(int argc, char **argv)
{
	char run_dir[512], console[512], out[256];
	char *cmd[] = {"echo", "hello"};
	struct sandbox_config sc = {0};
	struct sandbox *s = NULL;
	Grpc__Spec *spec = NULL;
	const struct hv_ops *ops;
	struct hv_metrics m;
	struct agent *a;
	struct hv *h;
	struct err e;
	unsigned int fds, tasks;
	unsigned long long t0;
	size_t got = 0;
	int failed = 0, fd, status = -1;
	ssize_t n;

	if (argc != 5) {
		fprintf(stderr, "usage: builtin-agent KERNEL INITRD ROOTFS WORKDIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_name("builtin-agent");
	log_set_level(LOG_DEBUG);
	snprintf(run_dir, sizeof(run_dir), "%s/run", argv[4]);
	snprintf(console, sizeof(console), "%s/console.log", argv[4]);
	fds = count_dir("/proc/self/fd");
	tasks = count_dir("/proc/self/task");

	ops = hv_lookup("builtin");
	CHECK(ops != NULL);
	sc.id = "builtin-test";
	sc.run_dir = run_dir;
	sc.ops = ops;
	sc.hostname = "builtin-test";
	sc.agent_timeout_ms = AGENT_TIMEOUT_MS;
	sc.hv.kernel = argv[1];
	sc.hv.initrd = argv[2];
	sc.hv.vcpus = 1;
	sc.hv.memory_mib = 256;
	sc.hv.shared_fs = HV_SHARED_FS_VIRTIO_FS;
	sc.hv.console_log = console;

	/* boot, agent over hybrid vsock (Health.Check SERVING), CreateSandbox
	 * (the agent mounts the virtio-fs share) */
	t0 = util_now_ns();
	if (sandbox_start(&s, &sc, &e) < 0) {
		if (strstr(e.msg, "not supported: virtio")) {
			printf("SKIP: this libhako-vmm cannot run the test: %s\n", e.msg);
			return 77;
		}
		fprintf(stderr, "builtin-agent: sandbox_start: %s\n", e.msg);
		failed = 1;
		goto out;
	}
	printf("boot to agent ready and sandbox created: %.1f s\n", since_s(t0));
	h = sandbox_hv(s);
	a = sandbox_agent(s);
	CHECK(ops->alive(h));
	CHECK(ops->pid(h) == getpid());
	CHECK(ops->agent_transport(h) == HV_AGENT_VSOCK);
	CHECK_OK(ops->metrics(h, &m, &e));
	CHECK(m.rss_bytes > 1024 * 1024 && m.cpu_time_ns > 0);
	printf("process rss %llu KiB, cpu %.1f s\n", (unsigned long long)m.rss_bytes / 1024,
	       (double)m.cpu_time_ns / 1e9);
	CHECK_OK(agent_check(a, 60000, &e));

	/* paused, the guest cannot take a new stream; resumed, it answers */
	CHECK_OK(ops->pause(h, &e));
	t0 = util_now_ns();
	CHECK(ops->agent_dial(h, 2000, &fd, &e) < 0);
	printf("dial while paused: refused after %.1f s: %s\n", since_s(t0), e.msg);
	CHECK_OK(ops->resume(h, &e));
	t0 = util_now_ns();
	CHECK_OK(agent_check(a, 60000, &e));
	printf("Health.Check after resume: %.2f s\n", since_s(t0));

	/* one process, no pipelines: concurrent guest processes are not safe
	 * under software-emulated KVM */
	CHECK_OK(spec_for_command(cmd, 2, false, &spec, &e));
	t0 = util_now_ns();
	CHECK_OK(sandbox_create_container(s, "c1", argv[3], false, spec, &e));
	CHECK_OK(sandbox_start_container(s, "c1", &e));
	while ((n = agent_read_stream(a, "c1", "c1", true, out + got, sizeof(out) - 1 - got, &e)) >
	       0)
		got += (size_t)n;
	CHECK(n == 0);
	out[got] = 0;
	CHECK_OK(agent_wait_process(a, "c1", "c1", &status, &e));
	printf("container echo: \"%.*s\" status %d in %.1f s\n", (int)strcspn(out, "\n"), out,
	       status, since_s(t0));
	CHECK(!strcmp(out, "hello\n"));
	CHECK(status == 0);
	CHECK_OK(sandbox_remove_container(s, "c1", 10, &e));

	/* DestroySandbox, stop the VM, unmount and remove the run directory */
	t0 = util_now_ns();
	CHECK_OK(sandbox_stop(s, &e));
	printf("stop: %.1f ms\n", since_s(t0) * 1000);
	sandbox_free(s);
	s = NULL;
	CHECK(access(run_dir, F_OK) < 0);
	CHECK(count_dir("/proc/self/task") == tasks);
	CHECK(count_dir("/proc/self/fd") == fds);
out:
	spec_free(spec);
	if (failed)
		dump_console(console);
	sandbox_free(s);
	if (!failed)
		printf("builtin-agent: ok\n");
	return failed;
}
