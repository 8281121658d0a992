/* Unit tests for lib/pbjson: OCI config.json <-> grpc.Spec round trips,
 * every agent message hako uses through JSON -> protobuf wire -> JSON, and
 * the errors bad input gets. argv[1]: the folder holding
 * test_pbjson_config.json. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/pbjson.h"
#include "lib/util.h"
#include "proto/agent.pb-c.h"
#include "proto/health.pb-c.h"

static const char *data_dir = ".";

static bool is_zero(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return true;
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0 && json_object_get_uint64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	}
	return false;
}

/* Equal, where an absent key equals a zero value (proto3 has no presence). */
static bool equiv(struct json_object *a, struct json_object *b, const char *path)
{
	if (json_object_get_type(a) != json_object_get_type(b)) {
		fprintf(stderr, "%s: types differ: %s vs %s\n", path, json_object_to_json_string(a),
		        json_object_to_json_string(b));
		return false;
	}
	switch (json_object_get_type(a)) {
	case json_type_object: {
		json_object_object_foreach(a, ka, va)
		{
			struct json_object *vb;
			char sub[256];

			snprintf(sub, sizeof(sub), "%s.%s", path, ka);
			if (!json_object_object_get_ex(b, ka, &vb)) {
				if (!is_zero(va)) {
					fprintf(stderr, "%s: missing on the right\n", sub);
					return false;
				}
			} else if (!equiv(va, vb, sub)) {
				return false;
			}
		}
		json_object_object_foreach(b, kb, vb2)
		{
			if (!json_object_object_get_ex(a, kb, NULL) && !is_zero(vb2)) {
				fprintf(stderr, "%s.%s: missing on the left\n", path, kb);
				return false;
			}
		}
		return true;
	}
	case json_type_array:
		if (json_object_array_length(a) != json_object_array_length(b)) {
			fprintf(stderr, "%s: array lengths differ\n", path);
			return false;
		}
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!equiv(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i),
			           sub))
				return false;
		}
		return true;
	case json_type_int:
		if (json_object_get_int64(a) == json_object_get_int64(b) &&
		    json_object_get_uint64(a) == json_object_get_uint64(b))
			return true;
		break;
	default:
		if (!strcmp(json_object_to_json_string(a), json_object_to_json_string(b)))
			return true;
		break;
	}
	fprintf(stderr, "%s: %s vs %s\n", path, json_object_to_json_string(a),
	        json_object_to_json_string(b));
	return false;
}

/* Delete the key at a dotted path ("mounts[4].uidMappings"). */
static void del_path(struct json_object *root, const char *path)
{
	char buf[256], *save = NULL, *tok, *next;
	struct json_object *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	tok = strtok_r(buf, ".", &save);
	while (tok) {
		char *br = strchr(tok, '[');
		int idx = -1;

		next = strtok_r(NULL, ".", &save);
		if (br) {
			idx = atoi(br + 1);
			*br = 0;
		}
		if (!next && idx < 0) {
			assert_true(json_object_object_get_ex(cur, tok, NULL));
			json_object_object_del(cur, tok);
			return;
		}
		assert_true(json_object_object_get_ex(cur, tok, &cur));
		if (idx >= 0)
			cur = json_object_array_get_idx(cur, (size_t)idx);
		tok = next;
	}
}

static const char *const oci_unknown[] = {
        "process.user.umask",
        "domainname",
        "mounts[4].uidMappings",
        "hooks.createRuntime",
        "linux.resources.memory.useHierarchy",
        "linux.resources.cpu.idle",
        "linux.seccomp.defaultErrnoRet",
};

static struct json_object *load_config(void)
{
	char path[512];
	struct json_object *obj;

	snprintf(path, sizeof(path), "%s/test_pbjson_config.json", data_dir);
	obj = json_object_from_file(path);
	assert_non_null(obj);
	return obj;
}

static void test_oci_config_roundtrip(void **state)
{
	struct json_object *orig = load_config(), *back;
	ProtobufCMessage *m, *m2;
	Grpc__Spec *spec;
	uint8_t *wire;
	size_t len;
	struct err e;

	(void)state;
	assert_int_equal(pbjson_from_json(&grpc__spec__descriptor, orig,
	                                  PBJSON_OCI | PBJSON_LENIENT, &m, &e),
	                 0);
	spec = (Grpc__Spec *)m;
	/* Spot checks that the names landed in the right fields. */
	assert_string_equal(spec->version, "1.0.2");
	assert_int_equal(spec->process->oomscoreadj, -500);
	assert_int_equal(spec->process->user->uid, 1000);
	assert_int_equal(spec->process->user->n_additionalgids, 2);
	assert_int_equal(spec->linux->uidmappings[0]->hostid, 100000);
	assert_string_equal(spec->linux->cgroupspath, "/hako/abc123");
	assert_int_equal(spec->linux->resources->memory->swap, -1);
	assert_true(spec->linux->resources->memory->swappiness == UINT64_MAX);
	assert_int_equal(spec->linux->resources->memory->kerneltcp, 16777216);
	assert_string_equal(spec->linux->resources->hugepagelimits[0]->pagesize, "2MB");
	assert_int_equal(spec->linux->seccomp->syscalls[2]->errno_ret_case,
	                 GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET);
	assert_int_equal(spec->linux->seccomp->syscalls[2]->errnoret, 0);
	assert_int_equal(spec->linux->seccomp->syscalls[0]->errno_ret_case,
	                 GRPC__LINUX_SYSCALL__ERRNO_RET__NOT_SET);
	assert_int_equal(spec->n_annotations, 2);
	assert_int_equal(spec->linux->n_sysctl, 2);

	/* Through the wire and back to config.json. */
	len = protobuf_c_message_get_packed_size(m);
	wire = malloc(len);
	protobuf_c_message_pack(m, wire);
	m2 = protobuf_c_message_unpack(&grpc__spec__descriptor, NULL, len, wire);
	assert_non_null(m2);
	assert_int_equal(pbjson_to_json(m2, PBJSON_OCI, &back, &e), 0);
	for (size_t i = 0; i < ARRAY_SIZE(oci_unknown); i++)
		del_path(orig, oci_unknown[i]);
	assert_true(equiv(orig, back, ""));
	{
		/* A oneof set to 0 is still written; a default uid is written. */
		struct json_object *linux, *seccomp, *sys, *sc, *v, *user;

		assert_true(json_object_object_get_ex(back, "linux", &linux));
		assert_true(json_object_object_get_ex(linux, "seccomp", &seccomp));
		assert_true(json_object_object_get_ex(seccomp, "syscalls", &sys));
		sc = json_object_array_get_idx(sys, 2);
		assert_true(json_object_object_get_ex(sc, "errnoRet", &v));
		assert_false(json_object_object_get_ex(json_object_array_get_idx(sys, 0),
		                                       "errnoRet", NULL));
		assert_true(json_object_object_get_ex(back, "process", &v));
		assert_true(json_object_object_get_ex(v, "user", &user));
		assert_true(json_object_object_get_ex(user, "gid", NULL));
		assert_true(json_object_object_get_ex(back, "ociVersion", NULL));
	}
	json_object_put(back);
	json_object_put(orig);
	protobuf_c_message_free_unpacked(m, NULL);
	protobuf_c_message_free_unpacked(m2, NULL);
	free(wire);
}

static void test_oci_strict_names_unknown_key(void **state)
{
	struct json_object *orig = load_config();
	ProtobufCMessage *m;
	struct err e;

	(void)state;
	assert_int_equal(pbjson_from_json(&grpc__spec__descriptor, orig, PBJSON_OCI, &m, &e), -1);
	assert_string_equal(e.msg,
	                    "process.user.umask: unknown field (grpc.User has no such field)");
	/* Proto names are not OCI names. */
	assert_int_equal(pbjson_from_string(&grpc__spec__descriptor, "{\"Version\": \"1\"}",
	                                    PBJSON_OCI, &m, &e),
	                 -1);
	assert_non_null(strstr(e.msg, "Version: unknown field"));
	json_object_put(orig);
}

static void test_oci_names(void **state)
{
	Grpc__Spec spec = GRPC__SPEC__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Linux lx = GRPC__LINUX__INIT;
	Grpc__LinuxIDMapping map = GRPC__LINUX_IDMAPPING__INIT, *maps[] = {&map};
	cleanup_free char *s = NULL;
	struct err e;

	(void)state;
	proc.oomscoreadj = 7;
	proc.user = &user;
	spec.process = &proc;
	spec.linux = &lx;
	lx.n_uidmappings = 1;
	lx.uidmappings = maps;
	lx.cgroupspath = "/x";
	map.hostid = 1;
	map.containerid = 2;
	map.size = 3;
	assert_int_equal(pbjson_to_string(&spec.base, PBJSON_OCI, &s, &e), 0);
	assert_string_equal(
	        s, "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
	           "\"cwd\":\"\",\"oomScoreAdj\":7},\"linux\":{\"uidMappings\":["
	           "{\"hostID\":1,\"containerID\":2,\"size\":3}],\"cgroupsPath\":\"/x\"}}");
	free(steal_ptr(s));
	/* Proto names, defaults included. */
	assert_int_equal(pbjson_to_string(&map.base, PBJSON_DEFAULTS, &s, &e), 0);
	assert_string_equal(s, "{\"HostID\":1,\"ContainerID\":2,\"Size\":3}");
}

/* Each agent message hako uses: JSON (proto names) -> message -> wire ->
 * message -> JSON must give the same document. */
static const struct {
	const ProtobufCMessageDescriptor *desc;
	const char *json;
} agent_cases[] = {
        {&grpc__create_container_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"c1\",\"string_user\":{\"uid\":\"0\",\"gid\":\"0\","
         "\"additionalGids\":[\"10\"]},\"devices\":[{\"id\":\"vda\",\"type\":\"blk\",\"vm_path\":"
         "\"/dev/vda\",\"container_path\":\"/dev/xvda\",\"options\":[\"ro\"]}],\"storages\":["
         "{\"driver\":\"virtio-fs\",\"driver_options\":[\"a=b\"],\"source\":\"hako\",\"fstype\":"
         "\"virtiofs\",\"options\":[\"nodev\"],\"mount_point\":\"/run/hako/shared\",\"fs_group\":"
         "{\"group_id\":5,\"group_change_policy\":\"OnRootMismatch\"}}],\"OCI\":{\"Version\":"
         "\"1.0.2\",\"Process\":{\"Args\":[\"/bin/sh\"],\"Cwd\":\"/\",\"User\":{\"UID\":0}},"
         "\"Root\":{\"Path\":\"/run/hako/shared/c1/rootfs\"},\"Annotations\":{\"a\":\"b\"}},"
         "\"sandbox_pidns\":true,\"shared_mounts\":[{\"name\":\"n\",\"src_ctr\":\"a\",\"src_path\":"
         "\"/p\",\"dst_ctr\":\"b\",\"dst_path\":\"/q\"}]}"},
        {&grpc__start_container_request__descriptor, "{\"container_id\":\"c1\"}"},
        {&grpc__remove_container_request__descriptor, "{\"container_id\":\"c1\",\"timeout\":10}"},
        {&grpc__exec_process_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"process\":{\"Terminal\":true,\"Args\":"
         "[\"ls\",\"-l\"],\"Env\":[\"A=1\"],\"Cwd\":\"/tmp\",\"ConsoleSize\":{\"Height\":24,"
         "\"Width\":80}}}"},
        {&grpc__signal_process_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"\",\"signal\":9}"},
        {&grpc__wait_process_request__descriptor, "{\"container_id\":\"c1\",\"exec_id\":\"e1\"}"},
        {&grpc__wait_process_response__descriptor, "{\"status\":-1}"},
        {&grpc__update_container_request__descriptor,
         "{\"container_id\":\"c1\",\"resources\":{\"Memory\":{\"Limit\":1048576},\"CPU\":{"
         "\"Quota\":"
         "-1,\"Cpus\":\"0\"},\"Pids\":{\"Limit\":100}}}"},
        {&grpc__stats_container_request__descriptor, "{\"container_id\":\"c1\"}"},
        {&grpc__stats_container_response__descriptor,
         "{\"cgroup_stats\":{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":18446744073709551615,"
         "\"percpu_usage\":[1,2]}},\"memory_stats\":{\"cache\":4096,\"usage\":{\"usage\":1,"
         "\"limit\":2},\"stats\":{\"rss\":100,\"file\":200}},\"pids_stats\":{\"current\":3},"
         "\"hugetlb_stats\":{\"2MB\":{\"usage\":2097152,\"failcnt\":1}}},\"network_stats\":[{"
         "\"name\":\"eth0\",\"rx_bytes\":10,\"tx_dropped\":1}]}"},
        {&grpc__pause_container_request__descriptor, "{\"container_id\":\"c1\"}"},
        {&grpc__resume_container_request__descriptor, "{\"container_id\":\"c1\"}"},
        {&grpc__write_stream_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"data\":\"aGVsbG8K\"}"},
        {&grpc__write_stream_response__descriptor, "{\"len\":6}"},
        {&grpc__read_stream_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"len\":4096}"},
        {&grpc__read_stream_response__descriptor, "{\"data\":\"AP8A\"}"},
        {&grpc__close_stdin_request__descriptor, "{\"container_id\":\"c1\",\"exec_id\":\"e1\"}"},
        {&grpc__tty_win_resize_request__descriptor,
         "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"row\":40,\"column\":120}"},
        {&grpc__update_interface_request__descriptor,
         "{\"interface\":{\"device\":\"eth0\",\"name\":\"eth0\",\"IPAddresses\":[{"
         "\"address\":\"10.0.0.2\",\"mask\":\"24\"},{\"family\":\"v6\",\"address\":\"fd00::2\","
         "\"mask\":\"64\"}],\"mtu\":1500,\"hwAddr\":\"02:00:00:00:00:01\",\"raw_flags\":1}}"},
        {&grpc__update_routes_request__descriptor,
         "{\"routes\":{\"Routes\":[{\"dest\":\"0.0.0.0/0\",\"gateway\":\"10.0.0.1\",\"device\":"
         "\"eth0\"},{\"dest\":\"10.0.0.0/24\",\"device\":\"eth0\",\"source\":"
         "\"10.0.0.2\",\"scope\":253}]}}"},
        {&grpc__list_interfaces_request__descriptor, "{}"},
        {&grpc__interfaces__descriptor, "{\"Interfaces\":[{\"name\":\"lo\",\"mtu\":65536}]}"},
        {&grpc__list_routes_request__descriptor, "{}"},
        {&grpc__create_sandbox_request__descriptor,
         "{\"hostname\":\"pod\",\"dns\":[\"nameserver 10.0.0.1\"],\"storages\":[{\"driver\":"
         "\"ephemeral\",\"source\":\"shm\",\"fstype\":\"tmpfs\",\"mount_point\":\"/run/shm\"}],"
         "\"sandbox_pidns\":true,\"sandbox_id\":\"s1\",\"kernel_modules\":[{\"name\":\"m\","
         "\"parameters\":[\"x=1\"]}]}"},
        {&grpc__destroy_sandbox_request__descriptor, "{}"},
        {&grpc__guest_details_request__descriptor, "{\"mem_block_size\":true}"},
        {&grpc__guest_details_response__descriptor,
         "{\"mem_block_size_bytes\":134217728,\"agent_details\":{\"version\":\"0.1.0\","
         "\"init_daemon\":true,\"storage_handlers\":[\"virtio-fs\",\"blk\"],\"supports_seccomp\":"
         "true}}"},
        {&grpc__set_guest_date_time_request__descriptor, "{\"Sec\":1700000000,\"Usec\":5}"},
        {&grpc__copy_file_request__descriptor,
         "{\"path\":\"/run/hako/f\",\"file_size\":3,\"file_mode\":420,\"dir_mode\":493,\"uid\":-1,"
         "\"gid\":-1,\"offset\":0,\"data\":\"YWJj\"}"},
        {&grpc__get_oomevent_request__descriptor, "{}"},
        {&grpc__oomevent__descriptor, "{\"container_id\":\"c1\"}"},
        {&grpc__check_request__descriptor, "{\"service\":\"\"}"},
        {&grpc__health_check_response__descriptor, "{\"status\":\"SERVING\"}"},
        {&grpc__version_check_response__descriptor,
         "{\"grpc_version\":\"1\",\"agent_version\":\"0.1.0\"}"},
};

static void test_agent_messages_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(agent_cases); i++) {
		struct json_object *in = json_tokener_parse(agent_cases[i].json), *out;
		ProtobufCMessage *m, *m2;
		uint8_t *wire;
		size_t len;
		struct err e;

		assert_non_null(in);
		if (pbjson_from_json(agent_cases[i].desc, in, 0, &m, &e) < 0)
			fail_msg("%s: %s", agent_cases[i].desc->name, e.msg);
		len = protobuf_c_message_get_packed_size(m);
		wire = malloc(len ? len : 1);
		protobuf_c_message_pack(m, wire);
		m2 = protobuf_c_message_unpack(agent_cases[i].desc, NULL, len, wire);
		assert_non_null(m2);
		assert_int_equal(pbjson_to_json(m2, 0, &out, &e), 0);
		if (!equiv(in, out, agent_cases[i].desc->name))
			fail_msg("%s: %s", agent_cases[i].desc->name,
			         json_object_to_json_string(out));
		json_object_put(in);
		json_object_put(out);
		free(wire);
		protobuf_c_message_free_unpacked(m, NULL);
		protobuf_c_message_free_unpacked(m2, NULL);
	}
}

static void test_scalars_and_bytes(void **state)
{
	Grpc__ReadStreamResponse *r;
	Grpc__HealthCheckResponse *h;
	Grpc__StatsContainerResponse *st;
	ProtobufCMessage *m;
	cleanup_free char *s = NULL;
	struct err e;

	(void)state;
	/* base64 with and without padding, binary bytes. */
	assert_int_equal(pbjson_from_string(&grpc__read_stream_response__descriptor,
	                                    "{\"data\":\"Zm8\"}", 0, &m, &e),
	                 0);
	r = (Grpc__ReadStreamResponse *)m;
	assert_int_equal(r->data.len, 2);
	assert_memory_equal(r->data.data, "fo", 2);
	assert_int_equal(pbjson_to_string(m, 0, &s, &e), 0);
	assert_string_equal(s, "{\"data\":\"Zm8=\"}");
	protobuf_c_message_free_unpacked(m, NULL);
	free(steal_ptr(s));
	assert_int_equal(pbjson_from_string(&grpc__read_stream_response__descriptor,
	                                    "{\"data\":\"Z!==\"}", 0, &m, &e),
	                 -1);
	assert_string_equal(e.msg, "data: invalid base64");

	/* Enums by number; 64-bit numbers as strings; null is absent. */
	assert_int_equal(pbjson_from_string(&grpc__health_check_response__descriptor,
	                                    "{\"status\":2}", 0, &m, &e),
	                 0);
	h = (Grpc__HealthCheckResponse *)m;
	assert_int_equal(h->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
	assert_int_equal(pbjson_to_string(m, 0, &s, &e), 0);
	assert_string_equal(s, "{\"status\":\"NOT_SERVING\"}");
	protobuf_c_message_free_unpacked(m, NULL);
	free(steal_ptr(s));
	assert_int_equal(pbjson_from_string(&grpc__stats_container_response__descriptor,
	                                    "{\"cgroup_stats\":{\"pids_stats\":{\"current\":"
	                                    "\"18446744073709551615\",\"limit\":null}}}",
	                                    0, &m, &e),
	                 0);
	st = (Grpc__StatsContainerResponse *)m;
	assert_true(st->cgroup_stats->pids_stats->current == UINT64_MAX);
	protobuf_c_message_free_unpacked(m, NULL);

	/* Defaults are left out unless asked for. */
	assert_int_equal(
	        pbjson_from_string(&grpc__wait_process_response__descriptor, "{}", 0, &m, &e), 0);
	assert_int_equal(pbjson_to_string(m, 0, &s, &e), 0);
	assert_string_equal(s, "{}");
	free(steal_ptr(s));
	assert_int_equal(pbjson_to_string(m, PBJSON_DEFAULTS, &s, &e), 0);
	assert_string_equal(s, "{\"status\":0}");
	protobuf_c_message_free_unpacked(m, NULL);
}

static void test_errors_name_the_path(void **state)
{
	static const struct {
		const ProtobufCMessageDescriptor *desc;
		int flags;
		const char *json, *msg;
	} cases[] = {
	        {&grpc__spec__descriptor, PBJSON_OCI,
	         "{\"linux\":{\"resources\":{\"memory\":{\"limit\":\"lots\"}}}}",
	         "linux.resources.memory.limit: 'lots' is not an integer"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"process\":{\"user\":{\"uid\":-1}}}",
	         "process.user.uid: -1 is negative"},
	        {&grpc__spec__descriptor, PBJSON_OCI,
	         "{\"process\":{\"user\":{\"uid\":4294967296}}}",
	         "process.user.uid: 4294967296 out of range"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"process\":{\"args\":\"sh\"}}",
	         "process.args: expected an array, got string"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"process\":{\"args\":[\"sh\", 1]}}",
	         "process.args[1]: expected a string, got int"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"process\":{\"terminal\":1}}",
	         "process.terminal: expected true or false, got int"},
	        {&grpc__spec__descriptor, PBJSON_OCI,
	         "{\"mounts\":[{\"destination\":\"/\"},{\"x\":1}]}",
	         "mounts[1].x: unknown field (grpc.Mount has no such field)"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"annotations\":{\"a\":1}}",
	         "annotations.a: expected a string, got int"},
	        {&grpc__spec__descriptor, PBJSON_OCI, "{\"root\":[]}",
	         "root: expected an object for grpc.Root, got array"},
	        {&grpc__health_check_response__descriptor, 0, "{\"status\":\"FINE\"}",
	         "status: 'FINE' is not a grpc.HealthCheckResponse.ServingStatus"},
	        {&grpc__wait_process_response__descriptor, 0, "{\"status\":2147483648}",
	         "status: 2147483648 out of range"},
	        {&grpc__wait_process_response__descriptor, 0, "[1]",
	         "(top level): expected an object for grpc.WaitProcessResponse, got array"},
	        {&grpc__wait_process_response__descriptor, 0, "{\"status\":", "invalid JSON"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ProtobufCMessage *m = NULL;
		struct err e;

		if (pbjson_from_string(cases[i].desc, cases[i].json, cases[i].flags, &m, &e) != -1)
			fail_msg("case %zu accepted", i);
		if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: got '%s', want '%s'", i, e.msg, cases[i].msg);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_oci_config_roundtrip),
	        cmocka_unit_test(test_oci_strict_names_unknown_key),
	        cmocka_unit_test(test_oci_names),
	        cmocka_unit_test(test_agent_messages_roundtrip),
	        cmocka_unit_test(test_scalars_and_bytes),
	        cmocka_unit_test(test_errors_name_the_path),
	};

	if (argc > 1)
		data_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
