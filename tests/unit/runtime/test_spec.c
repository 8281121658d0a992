/* Unit tests for runtime/spec: config.json -> grpc.Spec, the default spec
 * for a command, root rewriting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/spec.h"

static const char config[] =
        "{\"ociVersion\": \"1.0.2\","
        " \"process\": {\"terminal\": false, \"user\": {\"uid\": 1, \"gid\": 2},"
        "   \"args\": [\"sh\", \"-c\", \"echo hi\"], \"env\": [\"PATH=/bin\"], \"cwd\": \"/\","
        "   \"keyKataLacks\": {\"x\": 1}},"
        " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        " \"hostname\": \"box\","
        " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}]}}";

static void test_from_json(void **state)
{
	Grpc__Spec *spec = NULL;
	struct err e;

	(void)state;
	assert_int_equal(spec_from_json(config, &spec, &e), 0);
	assert_string_equal(spec->version, "1.0.2");
	assert_string_equal(spec->hostname, "box");
	assert_int_equal(spec->process->n_args, 3);
	assert_string_equal(spec->process->args[2], "echo hi");
	assert_int_equal(spec->process->user->uid, 1);
	assert_int_equal(spec->process->user->gid, 2);
	assert_string_equal(spec->root->path, "rootfs");
	assert_true(spec->root->readonly);
	assert_int_equal(spec->linux->n_namespaces, 2);

	assert_int_equal(spec_set_root(spec, "/run/hako/shared/c/rootfs", false, &e), 0);
	assert_string_equal(spec->root->path, "/run/hako/shared/c/rootfs");
	assert_false(spec->root->readonly);
	spec_free(spec);

	assert_int_equal(spec_from_json("{\"process\": [", &spec, &e), -1);
	assert_non_null(strstr(e.msg, "config.json"));
	assert_int_equal(spec_from_json("{\"process\": {\"args\": 3}}", &spec, &e), -1);
	assert_non_null(strstr(e.msg, "process.args"));
}

static void test_for_command(void **state)
{
	char *argv[] = {"sh", "-c", "uname -r; exit 3"};
	Grpc__Spec *spec = NULL;
	struct err e;

	(void)state;
	assert_int_equal(spec_for_command(argv, 3, true, &spec, &e), 0);
	assert_int_equal(spec->process->n_args, 3);
	assert_string_equal(spec->process->args[0], "sh");
	assert_string_equal(spec->process->args[2], "uname -r; exit 3");
	assert_true(spec->process->terminal);
	assert_true(spec->process->n_env > 0);
	assert_non_null(spec->linux);
	/* no root yet: the sandbox sets it */
	assert_int_equal(spec_set_root(spec, "/r", true, &e), 0);
	assert_string_equal(spec->root->path, "/r");
	spec_free(spec);
	assert_int_equal(spec_for_command(argv, 0, false, &spec, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_from_json),
	        cmocka_unit_test(test_for_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
