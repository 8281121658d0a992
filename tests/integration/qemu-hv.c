/* Integration test of the qemu hypervisor driver: start (with virtiofsd),
 * pause, resume, metrics, stop, and nothing left behind. With a kernel and
 * the echo initrd of qemu-boot.sh it also talks to the guest over the agent
 * port and reads the shared directory through virtio-fs.
 * Usage: qemu-hv [KERNEL INITRD]; exits 77 when it cannot run here. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/hypervisor.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "qemu-hv: %s:%d: check failed: %s\n", __FILE__, __LINE__,  \
			        #cond);                                                            \
			failed = 1;                                                                \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_OK(call)                                                                             \
	do {                                                                                       \
		if ((call) < 0) {                                                                  \
			fprintf(stderr, "qemu-hv: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,     \
			        e.msg);                                                            \
			failed = 1;                                                                \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

/* Read one line from fd within timeout_ms; "" on timeout or EOF. */
static void read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	unsigned long long deadline = util_now_ns() + (unsigned long long)timeout_ms * 1000000ull;
	size_t n = 0;

	buf[0] = 0;
	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = (long long)(deadline - util_now_ns()) / 1000000;

		if (util_now_ns() >= deadline || poll(&p, 1, (int)left) <= 0)
			break;
		if (read(fd, buf + n, 1) != 1)
			break;
		if (buf[n] == '\n') {
			buf[n] = 0;
			return;
		}
		buf[++n] = 0;
	}
	buf[0] = 0;
}

/* Does any process still mention dir on its command line? */
static bool process_mentions(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d)) && !found) {
		char path[300], *buf = NULL;
		size_t len;
		struct err e;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if (util_read_file(path, 1 << 16, &buf, &len, &e) < 0)
			continue;
		for (size_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		found = strstr(buf, dir) != NULL;
		free(buf);
	}
	if (d)
		closedir(d);
	return found;
}

static bool has_sockets(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d)))
		found |= strstr(de->d_name, ".sock") != NULL;
	if (d)
		closedir(d);
	return found;
}

static void dump_logs(const char *dir)
{
	static const char *const names[] = {"qemu.log", "virtiofsd.log", "console.log"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char path[128], *buf = NULL;
		size_t len;
		struct err e;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (util_read_file(path, 1 << 20, &buf, &len, &e) == 0)
			fprintf(stderr, "== %s\n%s\n", path, len > 4000 ? buf + len - 4000 : buf);
		free(buf);
	}
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/hako-qemu-hv.XXXXXX", shared[64], file[96], line[256];
	const char *kernel = argc > 2 ? argv[1] : NULL, *initrd = argc > 2 ? argv[2] : NULL;
	struct hv_config cfg = {0};
	struct hv_metrics m;
	struct hv *h = NULL;
	struct err e;
	int failed = 0, fd = -1;
	pid_t pid = 0;
	unsigned long long t0;

	if (geteuid() != 0 || access("/usr/bin/qemu-system-x86_64", X_OK) != 0 ||
	    access("/usr/lib/qemu/virtiofsd", X_OK) != 0) {
		printf("SKIP: needs root, qemu-system-x86_64 and virtiofsd\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(shared, sizeof(shared), "%s/shared", dir);
	snprintf(file, sizeof(file), "%s/hello", shared);
	CHECK_OK(util_mkdir_p(shared, 0755, &e));
	CHECK_OK(util_write_file(file, "shared-ok\n", 10, 0644, &e));

	cfg.id = "qemu-hv-test";
	cfg.run_dir = dir;
	cfg.kernel = kernel;
	cfg.initrd = initrd;
	cfg.vcpus = 1;
	cfg.memory_mib = 256;
	cfg.accel = "auto";
	cfg.shared_fs = HV_SHARED_FS_VIRTIO_FS;
	cfg.shared_dir = shared;
	CHECK_OK(hv_qemu_ops.create(&h, &cfg, &e));
	t0 = util_now_ns();
	CHECK_OK(hv_qemu_ops.start(h, &e));
	printf("start: %.1f ms\n", (double)(util_now_ns() - t0) / 1e6);
	pid = hv_qemu_ops.pid(h);
	CHECK(pid > 0);
	CHECK(hv_qemu_ops.alive(h));
	CHECK(hv_qemu_ops.agent_transport(h) == HV_AGENT_SERIAL);
	CHECK_OK(hv_qemu_ops.metrics(h, &m, &e));
	CHECK(m.rss_bytes > 1024 * 1024);
	printf("qemu rss %llu KiB\n", (unsigned long long)m.rss_bytes / 1024);

	if (kernel) {
		CHECK_OK(hv_qemu_ops.agent_dial(h, 5000, &fd, &e));
		CHECK(util_write_all(fd, "hello\n", 6) == 6);
		read_line(fd, line, sizeof(line), 60000);
		printf("guest answered after %.1f ms: %s\n", (double)(util_now_ns() - t0) / 1e6,
		       line);
		CHECK(!strcmp(line, "echo: hello"));
		CHECK(util_write_all(fd, "cat\n", 4) == 4);
		read_line(fd, line, sizeof(line), 10000);
		CHECK(!strcmp(line, "shared-ok"));
		/* a paused guest does not answer; once resumed it does */
		CHECK_OK(hv_qemu_ops.pause(h, &e));
		CHECK(util_write_all(fd, "paused\n", 7) == 7);
		read_line(fd, line, sizeof(line), 1000);
		CHECK(!strcmp(line, ""));
		CHECK_OK(hv_qemu_ops.resume(h, &e));
		read_line(fd, line, sizeof(line), 10000);
		CHECK(!strcmp(line, "echo: paused"));
	} else {
		CHECK_OK(hv_qemu_ops.pause(h, &e));
		CHECK_OK(hv_qemu_ops.resume(h, &e));
	}

	t0 = util_now_ns();
	CHECK_OK(hv_qemu_ops.stop(h, &e));
	printf("stop: %.1f ms\n", (double)(util_now_ns() - t0) / 1e6);
	CHECK(!hv_qemu_ops.alive(h));
	CHECK(hv_qemu_ops.pid(h) == 0);
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	CHECK(!process_mentions(dir));
	CHECK(!has_sockets(dir));
	snprintf(line, sizeof(line), "/run/virtiofsd/%s/virtiofsd.sock.pid", dir);
	for (char *p = line + strlen("/run/virtiofsd/"); *p; p++)
		if (*p == '/')
			*p = '.';
	CHECK(access(line, F_OK) < 0);
	CHECK_OK(hv_qemu_ops.stop(h, &e));
	CHECK(hv_qemu_ops.pause(h, &e) < 0);
	hv_qemu_ops.free(h);
	h = NULL;

	/* a QEMU that dies at once: start fails, saying so, and cleans up */
	cfg.path = "/bin/false";
	CHECK_OK(hv_qemu_ops.create(&h, &cfg, &e));
	CHECK(hv_qemu_ops.start(h, &e) < 0);
	CHECK(strstr(e.msg, "qemu exited with status 1") != NULL);
	CHECK(!process_mentions(dir));
	CHECK(!has_sockets(dir));
	cfg.path = "/nonexistent/qemu";
	hv_qemu_ops.free(h);
	h = NULL;
	CHECK_OK(hv_qemu_ops.create(&h, &cfg, &e));
	CHECK(hv_qemu_ops.start(h, &e) < 0);
	CHECK(strstr(e.msg, "exec /nonexistent/qemu") != NULL);
	CHECK(!process_mentions(dir));
out:
	if (fd >= 0)
		close(fd);
	if (failed)
		dump_logs(dir);
	hv_qemu_ops.free(h);
	util_rm_rf(dir, &e);
	if (!failed)
		printf("qemu-hv: ok\n");
	return failed;
}
