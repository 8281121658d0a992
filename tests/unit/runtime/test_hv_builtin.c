/* Unit tests for the builtin hypervisor driver: the translation of a
 * struct hv_config into libhako-vmm's configuration (a static function, so
 * the driver's source is included here), the errors of create, and start
 * failing cleanly without KVM or with a file that is no kernel. */
#include <dirent.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "runtime/hv_builtin.c"

static char tmp[] = "/tmp/hako-test-hv-builtin.XXXXXX";
static char kernel[64];

static int setup(void **state)
{
	struct err e;

	(void)state;
	if (!mkdtemp(tmp))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", tmp);
	return util_write_file(kernel, "not a kernel\n", 13, 0644, &e);
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(tmp, &e);
}

static struct hv_config base_config(void)
{
	struct hv_config c = {
	        .id = "sb1",
	        .run_dir = tmp,
	        .kernel = kernel,
	        .vcpus = 1,
	        .memory_mib = 128,
	};
	return c;
}

static unsigned int count_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_registered(void **state)
{
	(void)state;
	assert_ptr_equal(hv_lookup("builtin"), &hv_builtin_ops);
	assert_string_equal(hv_builtin_ops.name, "builtin");
}

static void test_translation(void **state)
{
	static const char *const mask[] = {"avx", "xsave", "pcid", NULL};
	struct hv_config c = base_config();
	struct vmm_config vc;
	char shared[96], want[128];
	struct hv *h;
	struct err e;

	(void)state;
	snprintf(shared, sizeof(shared), "%s/shared", tmp);
	c.initrd = kernel;
	c.kernel_params = "hako.debug=1 init=/init";
	c.vcpus = 2;
	c.memory_mib = 512;
	c.accel = "tcg";
	c.path = "/usr/bin/qemu-system-x86_64";
	c.shared_fs = HV_SHARED_FS_VIRTIO_FS;
	c.shared_dir = shared;
	c.cpuid_mask = mask;
	c.disks[0] = (struct hv_disk){.path = "/d/a.img", .readonly = true};
	c.disks[1] = (struct hv_disk){.path = "/d/b.img"};
	c.nr_disks = 2;
	c.nics[0] = (struct hv_nic){.tap_name = "tap0", .mac = {2, 0, 0, 0, 0, 7}};
	c.nr_nics = 1;
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	/* the driver copied what it keeps */
	c.kernel_params = "changed";
	shared[0] = 'X';
	builtin_vmm_config(h, &vc);

	assert_string_equal(vc.kernel, kernel);
	assert_string_equal(vc.initrd, kernel);
	assert_null(vc.cmdline); /* the VMM's default line for this host */
	assert_string_equal(vc.cmdline_append, "hako.debug=1 init=/init");
	assert_int_equal(vc.mem_mib, 512);
	assert_int_equal(vc.vcpus, 2);
	assert_int_equal(vc.nr_disks, 2);
	assert_string_equal(vc.disks[0].path, "/d/a.img");
	assert_true(vc.disks[0].readonly);
	assert_string_equal(vc.disks[1].path, "/d/b.img");
	assert_false(vc.disks[1].readonly);
	assert_int_equal(vc.nr_taps, 1);
	assert_string_equal(vc.taps[0].name, "tap0");
	assert_int_equal(vc.taps[0].fd, -1);
	assert_int_equal(vc.taps[0].mac[5], 7);
	snprintf(want, sizeof(want), "%s/vsock.sock", tmp);
	assert_string_equal(vc.vsock_uds, want);
	assert_int_equal(vc.vsock_cid, 0);
	assert_int_equal(vc.nr_shares, 1);
	assert_string_equal(vc.shares[0].tag, "hako");
	snprintf(want, sizeof(want), "%s/shared", tmp);
	assert_string_equal(vc.shares[0].dir, want);
	assert_int_equal(vc.serial_fd, -1);
	snprintf(want, sizeof(want), "%s/console.log", tmp);
	assert_string_equal(vc.serial_path, want);
	assert_string_equal(vc.cpuid_mask, "avx,xsave,pcid");
	hv_builtin_ops.free(h);

	/* debug: a verbose console before the configured parameters; an
	 * explicit console log; no share, no mask, no params */
	c = base_config();
	c.debug = true;
	c.console_log = "/var/log/x.log";
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	builtin_vmm_config(h, &vc);
	assert_string_equal(vc.cmdline_append, "loglevel=7");
	assert_string_equal(vc.serial_path, "/var/log/x.log");
	assert_int_equal(vc.nr_shares, 0);
	assert_int_equal(vc.nr_disks, 0);
	assert_int_equal(vc.nr_taps, 0);
	assert_null(vc.cpuid_mask);
	assert_null(vc.initrd);
	hv_builtin_ops.free(h);

	c.debug = true;
	c.kernel_params = "a=1";
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	builtin_vmm_config(h, &vc);
	assert_string_equal(vc.cmdline_append, "loglevel=7 a=1");
	hv_builtin_ops.free(h);

	c = base_config();
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	builtin_vmm_config(h, &vc);
	assert_null(vc.cmdline_append);
	hv_builtin_ops.free(h);
}

static void expect_create_error(struct hv_config *c, int errnum, const char *msg)
{
	struct hv *h = NULL;
	struct err e;

	assert_int_equal(hv_builtin_ops.create(&h, c, &e), -1);
	assert_null(h);
	assert_int_equal(e.errnum, errnum);
	if (!strstr(e.msg, msg))
		fail_msg("error \"%s\" does not say \"%s\"", e.msg, msg);
}

static void test_create_errors(void **state)
{
	static char long_params[CMDLINE_APPEND + 10];
	struct hv_config c;
	char missing[96];

	(void)state;
	c = base_config();
	c.kernel = NULL;
	expect_create_error(&c, EINVAL, "builtin: no guest kernel configured");
	c = base_config();
	snprintf(missing, sizeof(missing), "%s/no-such-vmlinux", tmp);
	c.kernel = missing;
	expect_create_error(&c, ENOENT, missing);
	c = base_config();
	c.initrd = missing;
	expect_create_error(&c, ENOENT, "builtin: guest initrd");
	c = base_config();
	c.run_dir = NULL;
	expect_create_error(&c, EINVAL, "id and run_dir are required");
	c = base_config();
	c.memory_mib = 0;
	expect_create_error(&c, EINVAL, "memory and vcpus");
	c = base_config();
	c.vcpus = VMM_MAX_VCPUS + 1;
	expect_create_error(&c, EINVAL, "vcpus");
	c = base_config();
	c.shared_dir = tmp;
	c.shared_fs = HV_SHARED_FS_VIRTIO_9P;
	expect_create_error(&c, ENOTSUP, "not supported: shared_fs virtio-9p");
	c.shared_fs = HV_SHARED_FS_VIRTIO_BLK;
	expect_create_error(&c, ENOTSUP, "not supported: shared_fs virtio-blk");
	c = base_config();
	c.nr_nics = 1;
	expect_create_error(&c, EINVAL, "no tap name");
	c = base_config();
	memset(long_params, 'x', sizeof(long_params) - 1);
	c.kernel_params = long_params;
	expect_create_error(&c, E2BIG, "kernel_params longer");
	c = base_config();
	c.run_dir = "/tmp/a-run-directory-whose-name-is-far-too-long-for-a-unix-socket-path-"
	            "to-fit-in-sun-path-of-108-bytes";
	expect_create_error(&c, ENAMETOOLONG, "socket path too long");
}

/* Before start and after stop every operation says the VM is not running;
 * stop is idempotent. */
static void test_not_running(void **state)
{
	struct hv_config c = base_config();
	struct hv_metrics m;
	struct hv *h;
	struct err e;
	int fd;

	(void)state;
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	assert_false(hv_builtin_ops.alive(h));
	assert_int_equal(hv_builtin_ops.pid(h), 0);
	assert_int_equal(hv_builtin_ops.agent_transport(h), HV_AGENT_VSOCK);
	assert_int_equal(hv_builtin_ops.pause(h, &e), -1);
	assert_int_equal(e.errnum, ESRCH);
	assert_non_null(strstr(e.msg, "sb1 is not running"));
	assert_int_equal(hv_builtin_ops.resume(h, &e), -1);
	assert_int_equal(e.errnum, ESRCH);
	assert_int_equal(hv_builtin_ops.agent_dial(h, 100, &fd, &e), -1);
	assert_int_equal(e.errnum, ESRCH);
	assert_int_equal(hv_builtin_ops.metrics(h, &m, &e), -1);
	assert_int_equal(e.errnum, ESRCH);
	assert_int_equal(hv_builtin_ops.stop(h, &e), 0);
	assert_int_equal(hv_builtin_ops.stop(h, &e), 0);
	hv_builtin_ops.free(h);
	hv_builtin_ops.free(NULL);
}

/* With /dev hidden (a private mount namespace in a child), start refuses
 * with one clear "no KVM" error. */
static void test_start_without_kvm(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hv_config c = base_config();
		struct hv *h;
		struct err e;

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/dev", "tmpfs", 0, NULL) < 0)
			_exit(77);
		if (hv_builtin_ops.create(&h, &c, &e) < 0)
			_exit(1);
		if (hv_builtin_ops.start(h, &e) == 0)
			_exit(2);
		if (e.errnum != ENODEV || !strstr(e.msg, "not supported here: no KVM"))
			_exit(3);
		if (hv_builtin_ops.alive(h) || hv_builtin_ops.pid(h) != 0)
			_exit(4);
		hv_builtin_ops.free(h);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A file that is not a kernel: start fails in the VMM, says which VM, and
 * leaves no thread, fd or socket behind. Needs /dev/kvm. */
static void test_start_bad_kernel(void **state)
{
	struct hv_config c = base_config();
	unsigned int fds, tasks;
	char sock[96];
	struct hv *h;
	struct err e;

	(void)state;
	if (vmm_host_kind() == VMM_HOST_NONE)
		skip();
	fds = count_dir("/proc/self/fd");
	tasks = count_dir("/proc/self/task");
	assert_int_equal(hv_builtin_ops.create(&h, &c, &e), 0);
	assert_int_equal(hv_builtin_ops.start(h, &e), -1);
	assert_non_null(strstr(e.msg, "builtin: start sb1"));
	assert_false(hv_builtin_ops.alive(h));
	assert_int_equal(hv_builtin_ops.pid(h), 0);
	assert_int_equal(hv_builtin_ops.start(h, &e), -1);
	assert_int_equal(e.errnum, EBUSY);
	hv_builtin_ops.free(h);
	assert_int_equal(count_dir("/proc/self/fd"), fds);
	assert_int_equal(count_dir("/proc/self/task"), tasks);
	snprintf(sock, sizeof(sock), "%s/vsock.sock", tmp);
	assert_int_equal(access(sock, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registered),        cmocka_unit_test(test_translation),
	        cmocka_unit_test(test_create_errors),     cmocka_unit_test(test_not_running),
	        cmocka_unit_test(test_start_without_kvm), cmocka_unit_test(test_start_bad_kernel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
