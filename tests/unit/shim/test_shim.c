/* Unit tests for shim/start.c: Go-style flag parsing as containerd 1.6
 * invokes the shim, SHA-256, containerd's socket address derivation, the
 * pod grouping id from CRI annotations, and the delete response. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/util.h"
#include "proto/containerd/shim.pb-c.h"
#include "shim/shim.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static void test_args_start(void **state)
{
	char *argv[] = {"shim",
	                "-namespace",
	                "k8s.io",
	                "-address",
	                "/run/c.sock",
	                "-publish-binary",
	                "/usr/bin/containerd",
	                "-id",
	                "abc",
	                "-debug",
	                "start"};
	struct shim_args a;
	struct err e;

	(void)state;
	assert_int_equal(shim_args_parse(ARGC(argv), argv, &a, &e), 0);
	assert_string_equal(a.namespace_, "k8s.io");
	assert_string_equal(a.address, "/run/c.sock");
	assert_string_equal(a.publish_binary, "/usr/bin/containerd");
	assert_string_equal(a.id, "abc");
	assert_true(a.debug);
	assert_string_equal(a.action, "start");
	assert_null(a.bundle);
}

static void test_args_forms(void **state)
{
	char *argv[] = {"shim",  "--namespace=default", "-id=x", "-debug=false", "-bundle", "/b",
	                "delete"};
	char *server[] = {"shim", "-namespace", "n", "-id", "i"};
	struct shim_args a;
	struct err e;

	(void)state;
	assert_int_equal(shim_args_parse(ARGC(argv), argv, &a, &e), 0);
	assert_string_equal(a.namespace_, "default");
	assert_string_equal(a.id, "x");
	assert_false(a.debug);
	assert_string_equal(a.bundle, "/b");
	assert_string_equal(a.action, "delete");
	assert_int_equal(shim_args_parse(ARGC(server), server, &a, &e), 0);
	assert_null(a.action);
}

static void test_args_errors(void **state)
{
	char *unknown[] = {"shim", "-namespace", "n", "-id", "i", "-bogus", "start"};
	char *missing[] = {"shim", "-namespace", "n", "-id"};
	char *no_ns[] = {"shim", "-id", "i", "start"};
	char *action[] = {"shim", "-namespace", "n", "-id", "i", "run"};
	char *extra[] = {"shim", "-namespace", "n", "-id", "i", "start", "x"};
	char *badbool[] = {"shim", "-namespace", "n", "-id", "i", "-debug=maybe"};
	struct shim_args a;
	struct err e;

	(void)state;
	assert_int_equal(shim_args_parse(ARGC(unknown), unknown, &a, &e), -1);
	assert_non_null(strstr(e.msg, "not defined: -bogus"));
	assert_int_equal(shim_args_parse(ARGC(missing), missing, &a, &e), -1);
	assert_non_null(strstr(e.msg, "needs an argument: -id"));
	assert_int_equal(shim_args_parse(ARGC(no_ns), no_ns, &a, &e), -1);
	assert_non_null(strstr(e.msg, "namespace"));
	assert_int_equal(shim_args_parse(ARGC(action), action, &a, &e), -1);
	assert_non_null(strstr(e.msg, "unknown action 'run'"));
	assert_int_equal(shim_args_parse(ARGC(extra), extra, &a, &e), -1);
	assert_int_equal(shim_args_parse(ARGC(badbool), badbool, &a, &e), -1);
}

static void test_socket_address(void **state)
{
	char addr[SHIM_ADDRESS_MAX], same[SHIM_ADDRESS_MAX];
	struct err e;

	(void)state;
	/* sha256("/run/containerd/containerd.sock/k8s.io/pod1") */
	assert_int_equal(shim_socket_address("/run/containerd/containerd.sock", "k8s.io", "pod1",
	                                     addr, sizeof(addr), &e),
	                 0);
	assert_string_equal(addr,
	                    "unix:///run/containerd/s/"
	                    "8e264b1ad347c80aee5f3dea6e4bb53d72026989222058782273d5db043c7723");
	/* filepath.Join cleans the path first */
	assert_int_equal(shim_socket_address("/run//containerd/./x/../containerd.sock/", "k8s.io",
	                                     "pod1", same, sizeof(same), &e),
	                 0);
	assert_string_equal(addr, same);
	assert_int_equal(shim_socket_address("/run/containerd/containerd.sock", "k8s.io", "pod1",
	                                     addr, 20, &e),
	                 -1);
}

static void test_run_dir(void **state)
{
	char dir[256];
	struct err e;

	(void)state;
	/* the socket's digest, shortened: one per containerd, namespace and pod */
	assert_int_equal(shim_run_dir("/run/containerd/containerd.sock", "k8s.io", "pod1", dir,
	                              sizeof(dir), &e),
	                 0);
	assert_string_equal(dir, SHIM_RUN_ROOT "/8e264b1ad347c80a");
}

static void write_bundle(const char *dir, const char *json)
{
	char path[256];
	struct err e;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (util_write_file(path, json, strlen(json), 0644, &e) < 0)
		fail_msg("%s", e.msg);
}

static void test_grouping_id(void **state)
{
	char dir[] = "/tmp/hako-test-shim.XXXXXX";
	char *group;
	struct err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* no config.json: the container's own id */
	assert_int_equal(shim_grouping_id(dir, "c1", &group, &e), 0);
	assert_string_equal(group, "c1");
	free(group);
	write_bundle(dir, "{\"annotations\": {\"io.kubernetes.cri.container-type\": \"container\","
	                  " \"io.kubernetes.cri.sandbox-id\": \"pod9\"}}");
	assert_int_equal(shim_grouping_id(dir, "c1", &group, &e), 0);
	assert_string_equal(group, "pod9");
	free(group);
	/* the sandbox container keys by its own id, which is the pod's */
	write_bundle(dir, "{\"annotations\": {\"io.kubernetes.cri.container-type\": \"sandbox\","
	                  " \"io.kubernetes.cri.sandbox-id\": \"pod9\"}}");
	assert_int_equal(shim_grouping_id(dir, "pod9x", &group, &e), 0);
	assert_string_equal(group, "pod9x");
	free(group);
	write_bundle(dir, "{not json");
	assert_int_equal(shim_grouping_id(dir, "c1", &group, &e), -1);
	assert_int_equal(util_rm_rf(dir, &e), 0);
}

static void test_delete_response(void **state)
{
	char dir[] = "/tmp/hako-test-shim.XXXXXX";
	char *argv[] = {"shim", "-namespace", "hako-unit-test", "-address", "/nonexistent/c.sock",
	                "-id",  "gone",       "-bundle",        dir,        "delete"};
	Containerd__Task__V2__DeleteResponse *r;
	struct shim_args a;
	uint8_t *buf;
	size_t len;
	struct err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(shim_args_parse(ARGC(argv), argv, &a, &e), 0);
	assert_int_equal(shim_delete(&a, &buf, &len, &e), 0);
	r = containerd__task__v2__delete_response__unpack(NULL, len, buf);
	assert_non_null(r);
	assert_int_equal(r->exit_status, 137);
	assert_non_null(r->exited_at);
	assert_true(r->exited_at->seconds > 1600000000);
	containerd__task__v2__delete_response__free_unpacked(r, NULL);
	free(buf);
	assert_int_equal(util_rm_rf(dir, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_args_start),      cmocka_unit_test(test_args_forms),
	        cmocka_unit_test(test_args_errors),     cmocka_unit_test(test_socket_address),
	        cmocka_unit_test(test_run_dir),         cmocka_unit_test(test_grouping_id),
	        cmocka_unit_test(test_delete_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
