/* Unit tests for runtime/config: defaults, a full file, drop-ins applied key
 * by key in lexical order, unknown keys and type errors with file:line, and
 * the hypervisor choice for each kind of host. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "runtime/config.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hako-test-config.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(dir, &e);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	struct err e;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (util_write_file(path, text, strlen(text), 0644, &e) < 0)
		fail_msg("%s", e.msg);
}

static void test_defaults(void **state)
{
	struct config *c;
	struct err e;

	(void)state;
	assert_int_equal(config_defaults(&c, &e), 0);
	assert_string_equal(c->runtime.hypervisor_name, "auto");
	assert_string_equal(c->runtime.internetworking_model, "tcfilter");
	assert_false(c->runtime.test_only);
	assert_string_equal(c->qemu.path, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(c->qemu.accel, "auto");
	assert_string_equal(c->builtin.kernel, "");
	assert_int_equal(c->builtin.default_vcpus, 1);
	assert_int_equal(c->qemu.default_memory, 512);
	assert_int_equal(c->qemu.shared_fs, HV_SHARED_FS_VIRTIO_FS);
	assert_int_equal(c->agent.dial_timeout, 60);
	assert_null(c->qemu.cpuid_mask[0]);
	config_free(c);
}

static void test_full_file_and_dropins(void **state)
{
	char path[256];
	struct config *c;
	struct err e;

	(void)state;
	write_file("configuration.toml", "# hako test configuration\n"
	                                 "[hypervisor.builtin]\n"
	                                 "kernel = \"/k/vmlinux\"\n"
	                                 "default_vcpus = 2\n"
	                                 "cpuid_mask = [\"avx512f\", \"pku\"]\n"
	                                 "[hypervisor.qemu]\n"
	                                 "path = \"/opt/qemu\"\n"
	                                 "default_memory = 1024\n"
	                                 "shared_fs = \"virtio-blk\"\n"
	                                 "accel = \"tcg\"\n"
	                                 "enable_debug = true\n"
	                                 "[agent.hako]\n"
	                                 "dial_timeout = 10\n"
	                                 "[runtime]\n"
	                                 "hypervisor_name = \"qemu\"\n"
	                                 "enable_debug = true\n");
	assert_int_equal(mkdir(strcat(strcpy(path, dir), "/config.d"), 0755), 0);
	/* 20 sorts after 10 and wins where both set a key; others keep theirs. */
	write_file("config.d/20-late.toml", "[hypervisor.qemu]\ndefault_memory = 4096\n");
	write_file("config.d/10-early.toml",
	           "[hypervisor.qemu]\ndefault_memory = 2048\naccel = \"kvm\"\n"
	           "[runtime]\ninternetworking_model = \"none\"\n");
	write_file("config.d/ignored.conf", "this is not toml\n");
	snprintf(path, sizeof(path), "%s/configuration.toml", dir);
	if (config_load(path, &c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(c->path, path);
	assert_string_equal(c->builtin.kernel, "/k/vmlinux");
	assert_int_equal(c->builtin.default_vcpus, 2);
	assert_string_equal(c->builtin.cpuid_mask[1], "pku");
	assert_null(c->builtin.cpuid_mask[2]);
	assert_string_equal(c->qemu.path, "/opt/qemu");
	assert_int_equal(c->qemu.default_memory, 4096);
	assert_string_equal(c->qemu.accel, "kvm");
	assert_int_equal(c->qemu.shared_fs, HV_SHARED_FS_VIRTIO_BLK);
	assert_true(c->qemu.enable_debug);
	assert_int_equal(c->agent.dial_timeout, 10);
	assert_string_equal(c->runtime.hypervisor_name, "qemu");
	assert_string_equal(c->runtime.internetworking_model, "none");
	assert_non_null(strstr(c->dropins[0], "10-early.toml"));
	assert_non_null(strstr(c->dropins[1], "20-late.toml"));
	assert_null(c->dropins[2]);
	config_free(c);
}

static void test_hako_config_env_and_missing_default(void **state)
{
	char path[256];
	struct config *c;
	struct err e;

	(void)state;
	write_file("env.toml", "[runtime]\ntest_only = true\n");
	snprintf(path, sizeof(path), "%s/env.toml", dir);
	setenv("HAKO_CONFIG", path, 1);
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_true(c->runtime.test_only);
	config_free(c);
	/* An explicit file that does not exist is an error ... */
	snprintf(path, sizeof(path), "%s/missing.toml", dir);
	setenv("HAKO_CONFIG", path, 1);
	assert_int_equal(config_load(NULL, &c, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_int_equal(config_load(path, &c, &e), -1);
	unsetenv("HAKO_CONFIG");
}

static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *doc;
		const char *msg;
	} cases[] = {
	        {"[runtime]\n\nbogus = 1\n", "x.toml:3: unknown key 'bogus' in [runtime]"},
	        {"[hypervisor.qemu]\npath = 7\n",
	         "x.toml:2: hypervisor.qemu.path: expected a string, found integer"},
	        {"[hypervisor.builtin]\ndefault_memory = \"1G\"\n",
	         "x.toml:2: hypervisor.builtin.default_memory: expected an integer, found string"},
	        {"[hypervisor.builtin]\naccel = \"kvm\"\n",
	         "x.toml:2: unknown key 'accel' in [hypervisor.builtin]"},
	        {"[runtime]\nenable_debug = \"yes\"\n",
	         "x.toml:2: runtime.enable_debug: expected a boolean, found string"},
	        {"[hypervisor.qemu]\ncpuid_mask = [\"a\",\n 3]\n",
	         "x.toml:3: hypervisor.qemu.cpuid_mask: expected an array of strings, item 2 is "
	         "integer"},
	        {"[runtime]\nhypervisor_name = \"xen\"\n",
	         "x.toml:2: runtime.hypervisor_name: \"xen\" is not one of \"auto\", \"builtin\", "
	         "\"qemu\" or \"none\""},
	        {"[hypervisor.qemu]\nshared_fs = \"nfs\"\n",
	         "x.toml:2: hypervisor.qemu.shared_fs: \"nfs\" is not one of"},
	        {"[hypervisor.qemu]\ndefault_vcpus = 0\n",
	         "x.toml:2: hypervisor.qemu.default_vcpus: 0 is out of range 1..255"},
	        {"[hypervisor.kvmtool]\npath = \"/x\"\n",
	         "x.toml:1: unknown key 'kvmtool' in [hypervisor]"},
	        {"[factory]\n", "x.toml:1: unknown key 'factory'"},
	        {"runtime = 1\n", "x.toml:1: runtime: expected a table, found integer"},
	        {"[runtime]\nexperimental = [\"newstore\"]\n",
	         "x.toml:2: runtime.experimental: unknown feature \"newstore\""},
	        {"[agent.hako]\ndial_timeout = 1\n[agent.kata]\n",
	         "x.toml:3: unknown key 'kata' in [agent]"},
	        {"[runtime\n", "x.toml:1:9: expected ']' to close the table header"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c;
		struct err e;

		assert_int_equal(config_defaults(&c, &e), 0);
		if (config_apply_text(c, cases[i].doc, "x.toml", &e) == 0)
			fail_msg("case %zu applied: %s", i, cases[i].doc);
		if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: got '%s', want '%s...'", i, e.msg, cases[i].msg);
		config_free(c);
	}
}

static void test_dropin_error_names_dropin(void **state)
{
	char path[256];
	struct config *c;
	struct err e;

	(void)state;
	write_file("configuration.toml", "[runtime]\n");
	snprintf(path, sizeof(path), "%s/config.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file("config.d/50-bad.toml", "\n[runtime]\ntypo = true\n");
	snprintf(path, sizeof(path), "%s/configuration.toml", dir);
	assert_int_equal(config_load(path, &c, &e), -1);
	assert_non_null(strstr(e.msg, "config.d/50-bad.toml:3: unknown key 'typo' in [runtime]"));
}

static void test_maxvcpus_below_vcpus(void **state)
{
	char path[256];
	struct config *c;
	struct err e;

	(void)state;
	/* Each key alone is fine; together (main file + drop-in) they are not. */
	write_file("configuration.toml", "[hypervisor.qemu]\ndefault_maxvcpus = 2\n");
	snprintf(path, sizeof(path), "%s/config.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file("config.d/vcpus.toml", "[hypervisor.qemu]\ndefault_vcpus = 4\n");
	snprintf(path, sizeof(path), "%s/configuration.toml", dir);
	assert_int_equal(config_load(path, &c, &e), -1);
	assert_string_equal(e.msg,
	                    "hypervisor.qemu.default_maxvcpus (2) is less than default_vcpus (4)");
	write_file("config.d/vcpus.toml", "[hypervisor.qemu]\ndefault_vcpus = 2\n");
	assert_int_equal(config_load(path, &c, &e), 0);
	config_free(c);
}

static void test_kernel_modules_warn(void **state)
{
	struct config *c;
	struct err e;

	(void)state;
	assert_int_equal(config_defaults(&c, &e), 0);
	assert_int_equal(config_apply_text(c, "[agent.hako]\nkernel_modules = []\n", "w.toml", &e),
	                 0);
	assert_null(c->warnings[0]);
	assert_int_equal(
	        config_apply_text(c, "[agent.hako]\nkernel_modules = [\"e1000\"]\n", "w.toml", &e),
	        0);
	assert_non_null(c->warnings[0]);
	assert_non_null(
	        strstr(c->warnings[0], "w.toml:2: agent.hako.kernel_modules: not supported"));
	config_free(c);
}

static void test_choose_hypervisor(void **state)
{
	const struct config_host none = {false, false, false};
	const struct config_host pvm = {true, true, false};
	const struct config_host hw = {true, false, true};
	struct config_choice ch;
	struct config *c;
	struct err e;

	(void)state;
	assert_int_equal(config_defaults(&c, &e), 0);

	assert_int_equal(config_choose_hypervisor(c, NULL, &pvm, &ch, &e), 0);
	assert_string_equal(ch.hypervisor, "qemu");
	assert_string_equal(ch.accel, "tcg");
	assert_string_equal(ch.reason,
	                    "software-emulated KVM (kvm_pvm) detected: using qemu with TCG");

	assert_int_equal(config_choose_hypervisor(c, NULL, &none, &ch, &e), 0);
	assert_string_equal(ch.hypervisor, "qemu");
	assert_string_equal(ch.accel, "tcg");
	assert_non_null(strstr(ch.reason, "/dev/kvm"));

	assert_int_equal(config_choose_hypervisor(c, NULL, &hw, &ch, &e), 0);
	if (hv_lookup("builtin")) {
		assert_string_equal(ch.hypervisor, "builtin");
	} else {
		assert_string_equal(ch.hypervisor, "qemu");
		assert_string_equal(ch.accel, "kvm");
	}

	/* --hypervisor overrides the configuration; qemu's accel auto follows the host. */
	assert_int_equal(config_choose_hypervisor(c, "qemu", &hw, &ch, &e), 0);
	assert_string_equal(ch.hypervisor, "qemu");
	assert_string_equal(ch.accel, "kvm");
	assert_int_equal(config_choose_hypervisor(c, "builtin", &pvm, &ch, &e), 0);
	assert_string_equal(ch.hypervisor, "builtin");
	assert_non_null(strstr(ch.reason, "kvm_pvm"));
	assert_int_equal(config_choose_hypervisor(c, "builtin", &none, &ch, &e), -1);
	assert_int_equal(config_choose_hypervisor(c, "xen", &hw, &ch, &e), -1);
	assert_non_null(strstr(e.msg, "unknown hypervisor \"xen\""));

	/* "none" only with test_only. */
	assert_int_equal(config_choose_hypervisor(c, "none", &hw, &ch, &e), -1);
	assert_non_null(strstr(e.msg, "test_only = true"));
	assert_int_equal(config_apply_text(c, "[runtime]\ntest_only = true\n", "t", &e), 0);
	assert_int_equal(config_choose_hypervisor(c, "none", &hw, &ch, &e), 0);
	assert_string_equal(ch.hypervisor, "none");

	/* accel = "kvm" on a host without KVM is an error, not a silent TCG. */
	assert_int_equal(config_apply_text(c, "[hypervisor.qemu]\naccel = \"kvm\"\n", "t", &e), 0);
	assert_int_equal(config_choose_hypervisor(c, "qemu", &none, &ch, &e), -1);
	config_free(c);
}

static void test_assets_and_hv_config(void **state)
{
	char kernel[256], initrd[256], doc[700];
	struct hv_config hc = {0};
	struct config_choice ch;
	struct config *c;
	char *k, *i;
	const char *from;
	struct err e;

	(void)state;
	write_file("vmlinux", "k");
	write_file("initrd", "i");
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(doc, sizeof(doc),
	         "[hypervisor.qemu]\nkernel = \"%s\"\ninitrd = \"%s\"\ndefault_vcpus = 3\n"
	         "kernel_params = \"quiet\"\n",
	         kernel, initrd);
	assert_int_equal(config_defaults(&c, &e), 0);
	assert_int_equal(config_apply_text(c, doc, "t", &e), 0);
	assert_int_equal(config_asset(&c->qemu, CONFIG_ASSET_KERNEL, &k, &from, &e), 0);
	assert_string_equal(k, kernel);
	assert_string_equal(from, "configuration");
	free(k);

	snprintf(ch.hypervisor, sizeof(ch.hypervisor), "qemu");
	snprintf(ch.accel, sizeof(ch.accel), "tcg");
	assert_int_equal(config_hv_config(c, &ch, &hc, &k, &i, &e), 0);
	assert_string_equal(hc.kernel, kernel);
	assert_string_equal(hc.initrd, initrd);
	assert_string_equal(hc.accel, "tcg");
	assert_string_equal(hc.kernel_params, "quiet");
	assert_int_equal(hc.vcpus, 3);
	assert_int_equal(hc.memory_mib, 512);
	assert_string_equal(hc.virtiofsd, "/usr/lib/qemu/virtiofsd");
	free(k);
	free(i);

	/* A configured path that does not exist is reported with its name. */
	assert_int_equal(
	        config_apply_text(c, "[hypervisor.qemu]\nkernel = \"/no/such/vmlinux\"\n", "t", &e),
	        0);
	assert_int_equal(config_asset(&c->qemu, CONFIG_ASSET_KERNEL, &k, &from, &e), -1);
	assert_non_null(strstr(e.msg, "/no/such/vmlinux"));
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test_setup_teardown(test_full_file_and_dropins, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hako_config_env_and_missing_default, setup,
	                                        teardown),
	        cmocka_unit_test(test_errors_name_file_and_line),
	        cmocka_unit_test_setup_teardown(test_dropin_error_names_dropin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_maxvcpus_below_vcpus, setup, teardown),
	        cmocka_unit_test(test_kernel_modules_warn),
	        cmocka_unit_test(test_choose_hypervisor),
	        cmocka_unit_test_setup_teardown(test_assets_and_hv_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
