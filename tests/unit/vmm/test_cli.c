/* tests/unit/vmm/test_cli.c: hako-vmm's option parsing and exit statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static void test_full(void **state)
{
	char a0[] = "hako-vmm", a1[] = "--kernel", a2[] = "vmlinux", a3[] = "--disk",
	     a4[] = "/d/root.img,ro", a5[] = "--disk", a6[] = "/d/b.img", a7[] = "--share",
	     a8[] = "hako=/srv/x", a9[] = "--mem", a10[] = "2G", a11[] = "--vcpus", a12[] = "4",
	     a13[] = "--serial", a14[] = "-", a15[] = "--vsock-uds", a16[] = "/run/v.sock",
	     a17[] = "--cid", a18[] = "7", a19[] = "--cpuid-mask", a20[] = "avx,xsave",
	     a21[] = "--tap", a22[] = "tap0", a23[] = "--append", a24[] = "init=/x";
	char *argv[] = {a0,  a1,  a2,  a3,  a4,  a5,  a6,  a7,  a8,  a9,  a10, a11, a12,
	                a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, NULL};
	struct vmm_cli cli;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_cli_parse(&cli, ARGC(argv), argv, &e), 0);
	assert_string_equal(cli.cfg.kernel, "vmlinux");
	assert_int_equal(cli.cfg.nr_disks, 2);
	assert_string_equal(cli.cfg.disks[0].path, "/d/root.img");
	assert_true(cli.cfg.disks[0].readonly);
	assert_false(cli.cfg.disks[1].readonly);
	assert_int_equal(cli.cfg.nr_shares, 1);
	assert_string_equal(cli.cfg.shares[0].tag, "hako");
	assert_string_equal(cli.cfg.shares[0].dir, "/srv/x");
	assert_int_equal(cli.cfg.mem_mib, 2048);
	assert_int_equal(cli.cfg.vcpus, 4);
	assert_int_equal(cli.cfg.serial_fd, 1);
	assert_null(cli.cfg.serial_path);
	assert_string_equal(cli.cfg.vsock_uds, "/run/v.sock");
	assert_int_equal(cli.cfg.vsock_cid, 7);
	assert_string_equal(cli.cfg.cpuid_mask, "avx,xsave");
	assert_int_equal(cli.cfg.nr_taps, 1);
	assert_string_equal(cli.cfg.taps[0].name, "tap0");
	assert_null(cli.cfg.cmdline);
	assert_string_equal(cli.cfg.cmdline_append, "init=/x");
}

static void expect_error(const char *a1, const char *a2, const char *what)
{
	char b0[] = "hako-vmm", b1[64], b2[64], b3[] = "--kernel", b4[] = "k";
	char *argv[] = {b0, b3, b4, b1, b2, NULL};
	struct vmm_cli cli;
	struct err e = {0};
	int argc = a2 ? 5 : 4;

	strcpy(b1, a1);
	if (a2)
		strcpy(b2, a2);
	assert_int_equal(vmm_cli_parse(&cli, argc, argv, &e), -1);
	if (!strstr(e.msg, what))
		fail_msg("'%s' does not say '%s'", e.msg, what);
}

static void test_errors(void **state)
{
	char a0[] = "hako-vmm", a1[] = "--mem", a2[] = "64";
	char *argv[] = {a0, a1, a2, NULL};
	struct vmm_cli cli;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_cli_parse(&cli, 3, argv, &e), -1);
	assert_string_equal(e.msg, "missing --kernel");
	expect_error("--vcpus", "0", "at least 1");
	expect_error("--vcpus", "many", "not a number");
	expect_error("--mem", "12T", "not MiB");
	expect_error("--mem", "-5", "not a number");
	expect_error("--disk", "x,rx", "ro or rw");
	expect_error("--share", "nodir", "TAG=DIR");
	expect_error("--share", "=dir", "TAG=DIR");
	expect_error("--cid", "2", "reserved");
	expect_error("--frobnicate", NULL, "unknown option: --frobnicate");
	expect_error("--initrd", NULL, "needs an argument");
	expect_error("stray", NULL, "unexpected argument: stray");
}

static void test_help(void **state)
{
	char a0[] = "hako-vmm", a1[] = "--help";
	char *argv[] = {a0, a1, NULL};
	struct vmm_cli cli;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_cli_parse(&cli, 2, argv, &e), 0);
	assert_true(cli.help);
	assert_non_null(strstr(vmm_cli_usage(), "--cpuid-mask"));
}

static void test_exit_status(void **state)
{
	(void)state;
	assert_int_equal(vmm_cli_exit_status(VMM_EXIT_POWEROFF), 0);
	assert_int_equal(vmm_cli_exit_status(VMM_EXIT_ERROR), 1);
	assert_int_equal(vmm_cli_exit_status(VMM_EXIT_REBOOT), 3);
	assert_int_equal(vmm_cli_exit_status(VMM_EXIT_TRIPLE_FAULT), 4);
	assert_int_equal(vmm_cli_exit_status(VMM_EXIT_SHUTDOWN), 5);
	assert_string_equal(vmm_exit_reason_name(VMM_EXIT_TRIPLE_FAULT), "triple-fault");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_help),
	        cmocka_unit_test(test_exit_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
