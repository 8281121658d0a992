/* bench/vmm-start.c: start-up cost of hako-vmm against QEMU microvm on the
 * same tiny PVH guest (bench/vmm-payload "first": print "X" on COM1, then
 * idle). For each VMM and iteration: wall time from fork to the guest's "X"
 * arriving on the serial pipe (time to the guest's first instructions), and
 * the VMM's resident memory at that moment minus its guest-RAM mapping.
 * Prints medians and the hako/QEMU ratios.
 *
 *   vmm-start --hako PATH --payload-tool PATH [--qemu PATH] [--iterations N]
 *             [--mem MIB] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITER 50

struct sample {
	double ms;
	double rss_kib;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Resident KiB of pid, not counting its largest mapping of at least
 * guest_kib (the guest RAM). */
static double rss_without_guest(pid_t pid, unsigned long guest_kib)
{
	char path[64], line[512];
	unsigned long total = 0, best_size = 0, best_rss = 0, cur_size = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, kib;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			cur_size = (end - start) / 1024;
		} else if (sscanf(line, "Rss: %lu kB", &kib) == 1) {
			total += kib;
			if (cur_size >= guest_kib && cur_size > best_size) {
				best_size = cur_size;
				best_rss = kib;
			}
		}
	}
	fclose(f);
	return (double)(total - best_rss);
}

static int run_once(char *const argv[], unsigned long guest_kib, struct sample *s)
{
	int p[2], status;
	pid_t pid;
	double t0;
	char c = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(p[1], 1);
		dup2(null, 0);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 60000) <= 0)
			break;
		n = read(p[0], &c, 1);
		if (n <= 0 || c == 'X')
			break;
	}
	s->ms = now_ms() - t0;
	s->rss_kib = c == 'X' ? rss_without_guest(pid, guest_kib) : -1;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(p[0]);
	return c == 'X' && s->rss_kib >= 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs argv iterations times; fills the medians; -1 if any run failed. */
static int measure(const char *name, char *const argv[], int iterations, unsigned long guest_kib,
                   double *ms, double *rss)
{
	double t[MAX_ITER], r[MAX_ITER];

	for (int i = 0; i < iterations; i++) {
		struct sample s;

		if (run_once(argv, guest_kib, &s) < 0) {
			fprintf(stderr, "vmm-start: %s: no 'X' from the guest (run %d)\n", name, i);
			return -1;
		}
		t[i] = s.ms;
		r[i] = s.rss_kib;
	}
	*ms = median(t, iterations);
	*rss = median(r, iterations);
	printf("%-6s first instruction %8.1f ms   RSS without guest RAM %8.0f KiB   (median of "
	       "%d)\n",
	       name, *ms, *rss, iterations);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"hako", required_argument, NULL, 'h'},
	        {"qemu", required_argument, NULL, 'q'},
	        {"payload-tool", required_argument, NULL, 'p'},
	        {"iterations", required_argument, NULL, 'n'},
	        {"mem", required_argument, NULL, 'm'},
	        {NULL, 0, NULL, 0},
	};
	const char *hako = NULL, *qemu = "/usr/bin/qemu-system-x86_64", *tool = NULL;
	char dir[] = "/tmp/vmm-start.XXXXXX", payload[64], mem[16], memq[16], cmd[512];
	int iterations = 5, opt, rc = 0;
	unsigned int mem_mib = 256;
	double hms, hrss, qms, qrss;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			hako = optarg;
			break;
		case 'q':
			qemu = optarg;
			break;
		case 'p':
			tool = optarg;
			break;
		case 'n':
			iterations = atoi(optarg);
			break;
		case 'm':
			mem_mib = (unsigned int)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!hako || !tool || iterations < 1 || iterations > MAX_ITER || mem_mib < 32) {
		fprintf(stderr,
		        "usage: vmm-start --hako PATH --payload-tool PATH [--qemu PATH] "
		        "[--iterations 1..%d] [--mem MIB]\n",
		        MAX_ITER);
		return 2;
	}
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("vmm-start: skipped: no usable /dev/kvm\n");
		return 77;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(payload, sizeof(payload), "%s/first.elf", dir);
	snprintf(cmd, sizeof(cmd), "'%s' first '%s'", tool, payload);
	if (system(cmd) != 0) {
		fprintf(stderr, "vmm-start: %s failed\n", cmd);
		rmdir(dir);
		return 1;
	}
	snprintf(mem, sizeof(mem), "%u", mem_mib);
	snprintf(memq, sizeof(memq), "%uM", mem_mib);
	{
		char *hargv[] = {(char *)hako, "--kernel", payload, "--mem",
		                 mem,          "--serial", "-",     NULL};
		char *qargv[] = {
		        (char *)qemu, "-M",      "microvm",     "-accel",          "kvm",
		        "-m",         memq,      "-nodefaults", "-no-user-config", "-display",
		        "none",       "-serial", "stdio",       "-kernel",         payload,
		        NULL};
		unsigned long guest_kib = (unsigned long)mem_mib * 1024;

		printf("guest: bench/vmm-payload 'first' (PVH ELF), %u MiB, %s\n", mem_mib,
		       access("/sys/module/kvm_pvm", F_OK) == 0 ? "KVM: kvm_pvm (software)"
		                                                : "KVM: hardware");
		if (measure("hako", hargv, iterations, guest_kib, &hms, &hrss) < 0) {
			rc = 1;
		} else if (access(qemu, X_OK) != 0) {
			printf("qemu   not available at %s: no comparison\n", qemu);
		} else if (measure("qemu", qargv, iterations, guest_kib, &qms, &qrss) < 0) {
			rc = 1;
		} else {
			printf("ratio hako/qemu: time %.3f, RSS %.3f\n", hms / qms, hrss / qrss);
		}
	}
	unlink(payload);
	rmdir(dir);
	return rc;
}
