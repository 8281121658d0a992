/* tests/guest/hako-guest-test.c: /init of the VMM's test guest, a static
 * program (one process, no fork: see docs/architecture.md on PVM). It prints
 * "HAKO-GUEST-TEST start", runs the checks named on the kernel command line
 * as hako_test=CHECK[,CHECK...], prints one "HAKO-GUEST-TEST <check> ok|FAIL"
 * line each, then "HAKO-GUEST-TEST done", and powers off (or reboots).
 *
 * Checks: cpus:N   N CPUs online
 *         blk      /dev/vda starts with a line, printed
 *         vsock:P  accept a host connection on port P (reply "pong <line>"),
 *                  then connect to the host (CID 2) port P+1, print its answer
 *         fs:TAG   mount virtiofs TAG on /mnt, list it, print hello.txt,
 *                  write from-guest.txt and rename it to renamed.txt
 *         reboot   end with a reboot instead of a poweroff */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG "HAKO-GUEST-TEST"

static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(1, buf, (size_t)n) < 0)
		return;
}

static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (int)n;
}

static bool check_cpus(const char *arg)
{
	long want = strtol(arg, NULL, 10), have = sysconf(_SC_NPROCESSORS_ONLN);

	say(TAG " cpus %s cpus=%ld want=%ld\n", have == want ? "ok" : "FAIL", have, want);
	return have == want;
}

static bool check_blk(void)
{
	char buf[128] = {0};
	int fd = open("/dev/vda", O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		say(TAG " blk FAIL open /dev/vda: %s\n", strerror(errno));
		return false;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		say(TAG " blk FAIL read: %s\n", n < 0 ? strerror(errno) : "empty");
		return false;
	}
	buf[strcspn(buf, "\n")] = '\0';
	say(TAG " blk ok read: %s\n", buf);
	return true;
}

static bool vsock_listen_once(unsigned int port)
{
	struct sockaddr_vm a = {
	        .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	char line[256], reply[300];
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), c;
	struct pollfd p;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0) {
		say(TAG " vsock FAIL listen %u: %s\n", port, strerror(errno));
		return false;
	}
	say(TAG " vsock listening %u\n", port);
	p = (struct pollfd){.fd = s, .events = POLLIN};
	if (poll(&p, 1, 300000) <= 0 || (c = accept(s, NULL, NULL)) < 0) {
		say(TAG " vsock FAIL accept: %s\n", strerror(errno));
		close(s);
		return false;
	}
	close(s);
	if (read_line(c, line, sizeof(line), 60000) < 0) {
		say(TAG " vsock FAIL no line from the host\n");
		close(c);
		return false;
	}
	snprintf(reply, sizeof(reply), "pong %s\n", line);
	if (write(c, reply, strlen(reply)) < 0) {
		close(c);
		return false;
	}
	close(c);
	say(TAG " vsock host->guest ok: %s\n", line);
	return true;
}

static bool vsock_connect_host(unsigned int port)
{
	struct sockaddr_vm a = {
	        .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
	const char *hello = "hello from guest\n";
	char line[256];
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		say(TAG " vsock FAIL connect to host port %u: %s\n", port, strerror(errno));
		return false;
	}
	if (write(s, hello, strlen(hello)) < 0 || read_line(s, line, sizeof(line), 60000) < 0) {
		say(TAG " vsock FAIL exchange with host port %u\n", port);
		close(s);
		return false;
	}
	close(s);
	say(TAG " vsock guest->host ok: %s\n", line);
	return true;
}

static bool check_vsock(const char *arg)
{
	unsigned int port = (unsigned int)strtoul(arg, NULL, 10);

	return vsock_listen_once(port) && vsock_connect_host(port + 1);
}

static bool check_fs(const char *tag)
{
	char buf[256] = {0};
	const char *text = "written by the guest\n";
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;
	ssize_t n;

	mkdir("/mnt", 0755);
	if (mount(tag, "/mnt", "virtiofs", 0, NULL) < 0) {
		say(TAG " fs FAIL mount %s: %s\n", tag, strerror(errno));
		return false;
	}
	d = opendir("/mnt");
	if (!d) {
		say(TAG " fs FAIL opendir: %s\n", strerror(errno));
		return false;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			say(TAG " fs entry %s\n", de->d_name);
	closedir(d);
	fd = open("/mnt/hello.txt", O_RDONLY);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) < 0) {
		say(TAG " fs FAIL read hello.txt: %s\n", strerror(errno));
		return false;
	}
	close(fd);
	buf[strcspn(buf, "\n")] = '\0';
	fd = open("/mnt/from-guest.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0) {
		say(TAG " fs FAIL write from-guest.txt: %s\n", strerror(errno));
		return false;
	}
	if (rename("/mnt/from-guest.txt", "/mnt/renamed.txt") < 0 ||
	    stat("/mnt/renamed.txt", &st) < 0 || st.st_size != (off_t)strlen(text)) {
		say(TAG " fs FAIL rename: %s\n", strerror(errno));
		return false;
	}
	sync();
	say(TAG " fs ok hello.txt: %s\n", buf);
	return true;
}

static void setup_console(void)
{
	int fd;

	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	if (fcntl(1, F_GETFD) < 0 && (fd = open("/dev/console", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

/* The value of hako_test= on the kernel command line, or "". */
static void test_list(char *out, size_t size)
{
	char line[4096] = {0};
	int fd = open("/proc/cmdline", O_RDONLY);
	char *p;

	out[0] = '\0';
	if (fd < 0)
		return;
	if (read(fd, line, sizeof(line) - 1) < 0)
		line[0] = '\0';
	close(fd);
	p = strstr(line, "hako_test=");
	if (!p)
		return;
	p += strlen("hako_test=");
	snprintf(out, size, "%.*s", (int)strcspn(p, " \n"), p);
}

int main(int argc, char **argv)
{
	char list[1024], *save = NULL;
	bool ok = true, do_reboot = false;

	setup_console();
	say(TAG " start\n");
	/* The kernel hands init the command line words it does not know. */
	for (int i = 1; i < argc; i++)
		say(TAG " argv[%d] %s\n", i, argv[i]);
	test_list(list, sizeof(list));
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		char *arg = strchr(c, ':');

		if (arg)
			*arg++ = '\0';
		if (!strcmp(c, "cpus") && arg)
			ok &= check_cpus(arg);
		else if (!strcmp(c, "blk"))
			ok &= check_blk();
		else if (!strcmp(c, "vsock") && arg)
			ok &= check_vsock(arg);
		else if (!strcmp(c, "fs") && arg)
			ok &= check_fs(arg);
		else if (!strcmp(c, "reboot"))
			do_reboot = true;
		else {
			say(TAG " %s FAIL unknown check\n", c);
			ok = false;
		}
	}
	say(TAG " done %s\n", ok ? "ok" : "FAIL");
	sync();
	reboot(do_reboot ? RB_AUTOBOOT : RB_POWER_OFF);
	for (;;)
		pause();
}
