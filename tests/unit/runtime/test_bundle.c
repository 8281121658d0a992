/* Unit tests for runtime/bundle: a valid bundle, each missing or wrong field
 * with its message, CRI annotations, and the default spec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "lib/util.h"
#include "runtime/bundle.h"

static char dir[64];

static int setup(void **state)
{
	char path[128];

	(void)state;
	strcpy(dir, "/tmp/hako-test-bundle.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	return mkdir(path, 0755);
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(dir, &e);
}

static void write_config(const char *json)
{
	char path[128];
	struct err e;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (util_write_file(path, json, strlen(json), 0644, &e) < 0)
		fail_msg("%s", e.msg);
}

static void test_valid_bundle(void **state)
{
	char rootfs[128];
	struct bundle *b;
	struct err e;

	(void)state;
	write_config(
	        "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"},"
	        " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
	        " \"annotations\": {\"io.kubernetes.cri.container-type\": \"container\","
	        "  \"io.kubernetes.cri.sandbox-id\": \"pod1\"}}");
	if (bundle_load(dir, &b, &e) < 0)
		fail_msg("%s", e.msg);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	assert_string_equal(b->dir, dir);
	assert_string_equal(b->rootfs, rootfs);
	assert_true(b->readonly);
	assert_int_equal(b->kind, BUNDLE_CONTAINER);
	assert_string_equal(bundle_sandbox_id(b), "pod1");
	assert_string_equal(bundle_annotation(b, BUNDLE_ANN_CONTAINER_TYPE), "container");
	assert_null(bundle_annotation(b, "missing"));
	bundle_free(b);

	/* An absolute root.path; a pod sandbox needs no process (CRI-O's annotations). */
	{
		char doc[512];

		snprintf(doc, sizeof(doc),
		         "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"%s\"},"
		         " \"annotations\": {\"io.kubernetes.cri-o.ContainerType\": \"sandbox\","
		         "  \"io.kubernetes.cri-o.SandboxID\": \"pod2\"}}",
		         rootfs);
		write_config(doc);
	}
	if (bundle_load(dir, &b, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(b->kind, BUNDLE_SANDBOX);
	assert_string_equal(bundle_sandbox_id(b), "pod2");
	assert_false(b->readonly);
	bundle_free(b);
}

static void test_errors(void **state)
{
	static const struct {
		const char *json;
		const char *msg; /* after "bundle <dir>: " */
	} cases[] = {
	        {"{\"process\": {\"args\": [\"sh\"]}, \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: ociVersion: missing"},
	        {"{\"ociVersion\": \"2.0.0\", \"process\": {\"args\": [\"sh\"]},"
	         " \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: ociVersion: \"2.0.0\" is not supported"},
	        {"{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: process: missing"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": []},"
	         " \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: process.args: must be a non-empty array of strings"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\", 1]},"
	         " \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: process.args[1]: must be a string"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\"], \"cwd\": \"tmp\"},"
	         " \"root\": {\"path\": \"rootfs\"}}",
	         "config.json: process.cwd: must be an absolute path"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\"]}}",
	         "config.json: root: missing"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\"]}, \"root\": {}}",
	         "config.json: root.path: missing"},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\"]},"
	         " \"root\": {\"path\": \"nope\"}}",
	         "config.json: root.path: "},
	        {"{\"ociVersion\": \"1.0.0\", \"process\": {\"args\": [\"sh\"]},"
	         " \"root\": {\"path\": \"config.json\"}}",
	         "config.json: root.path: "},
	        {"{\"ociVersion\": \"1.0.0\",\n \"process\": {\"args\": [\"sh\"],}}",
	         "config.json: invalid JSON at line 2"},
	        {"[1, 2]", "config.json: not a JSON object"},
	};
	char prefix[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bundle *b = NULL;
		struct err e;

		write_config(cases[i].json);
		if (bundle_load(dir, &b, &e) == 0)
			fail_msg("case %zu loaded", i);
		snprintf(prefix, sizeof(prefix), "bundle %s: %s", dir, cases[i].msg);
		if (strncmp(e.msg, prefix, strlen(prefix)))
			fail_msg("case %zu: got '%s', want '%s...'", i, e.msg, prefix);
	}
}

static void test_missing_config_and_dir(void **state)
{
	char want[128];
	struct bundle *b;
	struct err e;

	(void)state;
	assert_int_equal(bundle_load(dir, &b, &e), -1);
	snprintf(want, sizeof(want), "bundle %s: config.json: no such file", dir);
	assert_string_equal(e.msg, want);
	assert_int_equal(e.errnum, ENOENT);
	assert_int_equal(bundle_load("/nonexistent/bundle", &b, &e), -1);
	assert_non_null(strstr(e.msg, "bundle /nonexistent/bundle"));
}

static void test_default_spec_is_a_valid_bundle(void **state)
{
	struct json_object *o, *v;
	struct bundle *b;
	char *json;
	struct err e;

	(void)state;
	assert_int_equal(bundle_default_spec(&json, &e), 0);
	o = json_tokener_parse(json);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "ociVersion", &v));
	assert_string_equal(json_object_get_string(v), BUNDLE_OCI_VERSION);
	json_object_put(o);
	write_config(json);
	free(json);
	if (bundle_load(dir, &b, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(b->kind, BUNDLE_STANDALONE);
	assert_true(b->readonly);
	bundle_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_valid_bundle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_config_and_dir, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_default_spec_is_a_valid_bundle, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
