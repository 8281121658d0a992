/* Unit tests for cli/: global and per-command option parsing, and the
 * state, list and spec commands run against a temporary state root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "lib/toml.h"
#include "lib/util.h"
#include "runtime/state.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hako-test-cli.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(dir, &e);
}

static void test_globals(void **state)
{
	char *argv[] = {"hako",     "--root",  "/r",
	                "--log",    "/l",      "--log-format",
	                "json",     "--debug", "--systemd-cgroup",
	                "--config", "/c.toml", "--hypervisor",
	                "qemu",     "state",   "--debug",
	                "x",        NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	struct cli_globals g;
	bool help, version;
	int idx;
	struct err e;

	(void)state;
	assert_int_equal(cli_parse_globals(argc, argv, &g, &idx, &help, &version, &e), 0);
	assert_string_equal(g.root, "/r");
	assert_string_equal(g.log, "/l");
	assert_string_equal(g.log_format, "json");
	assert_true(g.debug);
	assert_true(g.systemd_cgroup);
	assert_string_equal(g.config, "/c.toml");
	assert_string_equal(g.hypervisor, "qemu");
	assert_false(help);
	assert_false(version);
	/* Parsing stops at the command: its own options are not globals. */
	assert_int_equal(idx, 13);
	assert_string_equal(argv[idx], "state");
}

static void test_globals_help_version_errors(void **state)
{
	char *a1[] = {"hako", "--version", NULL};
	char *a2[] = {"hako", "-h", "list", NULL};
	char *a3[] = {"hako", "--log-format", "xml", "list", NULL};
	char *a4[] = {"hako", "--bogus", "list", NULL};
	char *a5[] = {"hako", "--root", NULL};
	char *a6[] = {"hako", NULL};
	struct cli_globals g;
	bool help, version;
	int idx;
	struct err e;

	(void)state;
	assert_int_equal(cli_parse_globals(2, a1, &g, &idx, &help, &version, &e), 0);
	assert_true(version);
	assert_int_equal(cli_parse_globals(3, a2, &g, &idx, &help, &version, &e), 0);
	assert_true(help);
	assert_int_equal(cli_parse_globals(4, a3, &g, &idx, &help, &version, &e), -1);
	assert_non_null(strstr(e.msg, "--log-format"));
	assert_int_equal(cli_parse_globals(3, a4, &g, &idx, &help, &version, &e), -1);
	assert_non_null(strstr(e.msg, "unknown global option --bogus"));
	assert_int_equal(cli_parse_globals(2, a5, &g, &idx, &help, &version, &e), -1);
	assert_non_null(strstr(e.msg, "needs an argument"));
	assert_int_equal(cli_parse_globals(1, a6, &g, &idx, &help, &version, &e), 0);
	assert_int_equal(idx, 1);
}

static void test_command_options(void **state)
{
	char *a1[] = {"list", "-q", "--format", "json", NULL};
	char *a2[] = {"list", "--format=table", "-fjson", NULL};
	char *a3[] = {"list", "extra", NULL};
	char *a4[] = {"list", "--nope", NULL};
	char *a5[] = {"state", NULL};
	char *a6[] = {"state", "id1", NULL};
	char *a7[] = {"spec", "-b", NULL};
	char *a8[] = {"spec", "--rootless", "--bundle", "/x", NULL};
	struct cli_args a;
	struct err e;

	(void)state;
	assert_int_equal(cli_parse(&cli_cmd_list, 4, a1, &a, &e), 0);
	assert_true(cli_has(&a, 'q'));
	assert_string_equal(cli_get(&a, 'f'), "json");
	assert_int_equal(a.argc, 0);
	/* The last value wins; both spellings work. */
	assert_int_equal(cli_parse(&cli_cmd_list, 3, a2, &a, &e), 0);
	assert_int_equal(a.nr_opts, 2);
	assert_string_equal(cli_get(&a, 'f'), "json");
	assert_false(cli_has(&a, 'q'));
	assert_int_equal(cli_parse(&cli_cmd_list, 2, a3, &a, &e), -1);
	assert_non_null(strstr(e.msg, "unexpected argument 'extra'"));
	assert_int_equal(cli_parse(&cli_cmd_list, 2, a4, &a, &e), -1);
	assert_non_null(strstr(e.msg, "unknown option --nope"));
	assert_int_equal(cli_parse(&cli_cmd_state, 1, a5, &a, &e), -1);
	assert_non_null(strstr(e.msg, "missing argument: expected <container-id>"));
	assert_int_equal(cli_parse(&cli_cmd_state, 2, a6, &a, &e), 0);
	assert_int_equal(a.argc, 1);
	assert_string_equal(a.argv[0], "id1");
	assert_int_equal(cli_parse(&cli_cmd_spec, 2, a7, &a, &e), -1);
	assert_non_null(strstr(e.msg, "needs an argument"));
	assert_int_equal(cli_parse(&cli_cmd_spec, 4, a8, &a, &e), 0);
	assert_string_equal(cli_get(&a, 'b'), "/x");
	assert_true(cli_has(&a, CLI_LONG_ONLY));
}

static void test_wants_help(void **state)
{
	char *a1[] = {"list", "-q", "--help", NULL};
	char *a2[] = {"exec", "id", "ls", "--help", NULL};
	char *a3[] = {"exec", "--", "-h", NULL};

	(void)state;
	assert_true(cli_wants_help(3, a1));
	/* After the first positional argument, --help belongs to the process. */
	assert_false(cli_wants_help(4, a2));
	assert_false(cli_wants_help(3, a3));
}

static const char *config_file, *hypervisor;

/* Run a command with argv, capturing what it prints. */
static int run_cmd(const struct cli_command *cmd, int argc, char **argv, char **out, struct err *e)
{
	struct cli_ctx ctx = {.g = {.root = dir, .config = config_file, .hypervisor = hypervisor}};
	struct cli_args a;
	size_t len;
	int ret;

	ctx.out = open_memstream(out, &len);
	assert_non_null(ctx.out);
	ret = cli_parse(cmd, argc, argv, &a, e);
	if (ret == 0)
		ret = cmd->run(&ctx, &a, e);
	fclose(ctx.out);
	return ret;
}

static void test_state_and_list_commands(void **state)
{
	char *sargv[] = {"state", "c1", NULL};
	char *nargv[] = {"state", "nope", NULL};
	char *largv[] = {"list", "--format", "json", NULL};
	char *qargv[] = {"list", "-q", NULL};
	struct state s = {0};
	struct json_object *o, *v;
	char *out = NULL, created[64];
	int lock;
	struct err e;

	(void)state;
	state_now_rfc3339(created, sizeof(created));
	s.id = "c1";
	s.owner_pid = getpid();
	s.pid = 99;
	s.status = STATE_RUNNING;
	s.bundle = "/bundle";
	s.rootfs = "/bundle/rootfs";
	s.created = created;
	s.hypervisor = "qemu";
	s.sandbox_id = "";
	assert_int_equal(state_create(dir, &s, &lock, &e), 0);
	state_unlock(lock);

	assert_int_equal(run_cmd(&cli_cmd_state, 2, sargv, &out, &e), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_string_equal(json_object_get_string(v), "c1");
	assert_true(json_object_object_get_ex(o, "pid", &v));
	assert_int_equal(json_object_get_int(v), 99);
	assert_true(json_object_object_get_ex(o, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(o, "ociVersion", &v));
	assert_true(json_object_object_get_ex(o, "owner", &v));
	assert_true(json_object_object_get_ex(o, "annotations", &v));
	json_object_put(o);
	free(out);

	assert_int_equal(run_cmd(&cli_cmd_state, 2, nargv, &out, &e), -1);
	assert_string_equal(e.msg, "container nope does not exist");
	free(out);

	assert_int_equal(run_cmd(&cli_cmd_list, 3, largv, &out, &e), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_int_equal(json_object_array_length(o), 1);
	json_object_put(o);
	free(out);
	assert_int_equal(run_cmd(&cli_cmd_list, 2, qargv, &out, &e), 0);
	assert_string_equal(out, "c1\n");
	free(out);
}

static void test_spec_command(void **state)
{
	char *argv[] = {"spec", "--bundle", dir, NULL};
	char *rargv[] = {"spec", "--rootless", NULL};
	char path[128], *out = NULL, *json;
	struct err e;

	(void)state;
	assert_int_equal(run_cmd(&cli_cmd_spec, 3, argv, &out, &e), 0);
	free(out);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(util_read_file(path, 1 << 20, &json, NULL, &e), 0);
	assert_non_null(strstr(json, "\"ociVersion\""));
	free(json);
	/* Never overwrites. */
	assert_int_equal(run_cmd(&cli_cmd_spec, 3, argv, &out, &e), -1);
	assert_int_equal(e.errnum, EEXIST);
	free(out);
	assert_int_equal(run_cmd(&cli_cmd_spec, 2, rargv, &out, &e), -1);
	assert_non_null(strstr(e.msg, "not supported: --rootless"));
	free(out);
}

/* A configuration whose assets and binaries exist (files in dir, /bin/true
 * standing in for qemu and virtiofsd). */
static void write_config(bool with_kernel)
{
	static char path[128];
	char doc[1024], f[128];
	struct err e;

	snprintf(f, sizeof(f), "%s/vmlinux", dir);
	assert_int_equal(util_write_file(f, "k", 1, 0644, &e), 0);
	snprintf(f, sizeof(f), "%s/initrd", dir);
	assert_int_equal(util_write_file(f, "i", 1, 0644, &e), 0);
	snprintf(doc, sizeof(doc),
	         "[hypervisor.qemu]\npath = \"/bin/true\"\nvirtio_fs_daemon = \"/bin/true\"\n"
	         "kernel = \"%s/%s\"\ninitrd = \"%s/initrd\"\naccel = \"tcg\"\n"
	         "default_memory = 768\n[runtime]\nhypervisor_name = \"qemu\"\n",
	         dir, with_kernel ? "vmlinux" : "missing-vmlinux", dir);
	snprintf(path, sizeof(path), "%s/configuration.toml", dir);
	assert_int_equal(util_write_file(path, doc, strlen(doc), 0644, &e), 0);
	config_file = path;
}

static void test_check_command(void **state)
{
	char *argv[] = {"check", NULL};
	char *out = NULL;
	struct err e;

	(void)state;
	write_config(true);
	assert_int_equal(run_cmd(&cli_cmd_check, 1, argv, &out, &e), 0);
	assert_non_null(strstr(out, "ok    hypervisor     qemu accel tcg: configured"));
	assert_non_null(strstr(out, "ok    guest-kernel   "));
	assert_non_null(strstr(out, "(configuration)"));
	assert_non_null(strstr(out, "hako can run containers here: yes (qemu with tcg)"));
	free(out);

	write_config(false);
	assert_int_equal(run_cmd(&cli_cmd_check, 1, argv, &out, &e), 1);
	assert_non_null(strstr(out, "FAIL  guest-kernel   "));
	assert_non_null(strstr(out, "missing-vmlinux"));
	assert_non_null(strstr(out, "hako can run containers here: no (1 FAIL line above)"));
	free(out);

	/* --hypervisor none without test_only: cannot run. */
	write_config(true);
	hypervisor = "none";
	assert_int_equal(run_cmd(&cli_cmd_check, 1, argv, &out, &e), 1);
	assert_non_null(strstr(out, "FAIL  hypervisor     hypervisor \"none\" is a test driver"));
	free(out);
	hypervisor = NULL;
	config_file = NULL;
}

/* env's TOML must read back with hako's own TOML reader, with the values of
 * the configuration in effect; --json must be JSON with the same values. */
static void test_env_command(void **state)
{
	char *targv[] = {"env", NULL};
	char *jargv[] = {"env", "--json", NULL};
	struct toml_table *t;
	const struct toml_value *v;
	struct json_object *o, *hako, *x;
	char *out = NULL;
	struct err e;

	(void)state;
	write_config(true);
	assert_int_equal(run_cmd(&cli_cmd_env, 1, targv, &out, &e), 0);
	if (toml_parse(out, strlen(out), "env", &t, &e) < 0)
		fail_msg("env TOML: %s\n%s", e.msg, out);
	v = toml_get_path(t, "hypervisor.qemu.default_memory");
	assert_non_null(v);
	assert_int_equal(v->u.i, 768);
	v = toml_get_path(t, "hako.hypervisor");
	assert_non_null(v);
	assert_string_equal(v->u.s, "qemu");
	v = toml_get_path(t, "hako.config");
	assert_string_equal(v->u.s, config_file);
	v = toml_get_path(t, "hako.kernel_from");
	assert_string_equal(v->u.s, "configuration");
	assert_non_null(toml_get_path(t, "runtime.test_only"));
	assert_non_null(toml_get_path(t, "agent.hako.dial_timeout"));
	toml_free(t);
	free(out);

	assert_int_equal(run_cmd(&cli_cmd_env, 2, jargv, &out, &e), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "hako", &hako));
	assert_true(json_object_object_get_ex(hako, "accel", &x));
	assert_string_equal(json_object_get_string(x), "tcg");
	assert_true(json_object_object_get_ex(hako, "hypervisor_reason", &x));
	assert_non_null(strstr(json_object_get_string(x), "using qemu with TCG"));
	json_object_put(o);
	free(out);
	config_file = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_globals),
	        cmocka_unit_test(test_globals_help_version_errors),
	        cmocka_unit_test(test_command_options),
	        cmocka_unit_test(test_wants_help),
	        cmocka_unit_test_setup_teardown(test_state_and_list_commands, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spec_command, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_check_command, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_command, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
