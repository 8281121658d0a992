/* tests/integration/vmm-api.c: libhako-vmm used as the runtime uses it, in
 * process: start an idle guest, pause and resume it, stop it; poweroff seen
 * through vmm_wait; the kick signal refused when the program owns it.
 * Usage: vmm-api PAYLOAD_TOOL (exits 77 without /dev/kvm). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static char dir[] = "/tmp/vmm-api.XXXXXX";

static void payload(const char *tool, const char *kind, char *out, size_t size)
{
	char cmd[512];

	snprintf(out, size, "%s/%s.elf", dir, kind);
	snprintf(cmd, sizeof(cmd), "'%s' %s '%s'", tool, kind, out);
	CHECK(system(cmd) == 0);
}

static struct vmm *boot(const char *kernel, int serial_fd)
{
	struct vmm_config cfg;
	struct vmm *v;
	struct err e = {0};

	vmm_config_init(&cfg);
	cfg.kernel = kernel;
	cfg.vcpus = 2;
	cfg.mem_mib = 64;
	cfg.serial_fd = serial_fd;
	if (vmm_create(&v, &cfg, &e) < 0) {
		fprintf(stderr, "FAIL vmm_create: %s\n", e.msg);
		exit(1);
	}
	return v;
}

static void *waiter(void *arg)
{
	return (void *)(long)vmm_wait(arg);
}

static void wait_for_byte(int fd)
{
	char c = 0;

	CHECK(read(fd, &c, 1) == 1);
	CHECK(c == 'X');
}

int main(int argc, char **argv)
{
	char first[256], off[256];
	struct err e = {0};
	struct vmm *v;
	pthread_t t;
	void *other;
	int p[2];

	if (argc != 2) {
		fprintf(stderr, "usage: vmm-api PAYLOAD_TOOL\n");
		return 2;
	}
	if (vmm_host_kind() == VMM_HOST_NONE) {
		printf("skip: no usable /dev/kvm\n");
		return 77;
	}
	CHECK(mkdtemp(dir));
	payload(argv[1], "first", first, sizeof(first));
	payload(argv[1], "poweroff", off, sizeof(off));
	CHECK(pipe(p) == 0);

	/* Idle guest: running until stopped; pause and resume on the way. */
	v = boot(first, p[1]);
	CHECK(vmm_exit_reason_of(v) == VMM_EXIT_NONE);
	CHECK(vmm_start(v, &e) == 0);
	wait_for_byte(p[0]);
	CHECK(vmm_pause(v, &e) == 0);
	CHECK(vmm_pause(v, &e) == 0); /* twice is fine */
	CHECK(vmm_resume(v, &e) == 0);
	CHECK(vmm_resume(v, &e) == -1 && strstr(e.msg, "not paused"));
	usleep(300000); /* a few poweroff probes: an idle guest is not off */
	CHECK(vmm_exit_reason_of(v) == VMM_EXIT_NONE);
	CHECK(pthread_create(&t, NULL, waiter, v) == 0); /* a second waiter */
	vmm_stop(v);
	CHECK(vmm_wait(v) == VMM_EXIT_SHUTDOWN);
	CHECK(pthread_join(t, &other) == 0 && (long)other == VMM_EXIT_SHUTDOWN);
	CHECK(strstr(vmm_exit_message(v), "stopped by the host"));
	CHECK(vmm_pause(v, &e) == -1);
	vmm_free(v);
	printf("ok: pause, resume, stop\n");

	/* Poweroff reaches vmm_wait; a second VM in the same process. */
	v = boot(off, -1);
	CHECK(vmm_start(v, &e) == 0);
	CHECK(vmm_wait(v) == VMM_EXIT_POWEROFF);
	vmm_free(v);
	printf("ok: poweroff\n");

	/* vmm_free on a VM never started. */
	v = boot(off, -1);
	CHECK(strstr(vmm_cmdline(v), "console=ttyS0"));
	vmm_free(v);

	/* The program owns the kick signal: vmm_start refuses, clearly. */
	signal(vmm_kick_signal(), SIG_IGN);
	v = boot(off, -1);
	CHECK(vmm_start(v, &e) == -1 && strstr(e.msg, "kick signal"));
	vmm_free(v);
	printf("ok: kick signal in use is refused\n");

	unlink(first);
	unlink(off);
	rmdir(dir);
	return 0;
}
