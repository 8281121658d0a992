/* Unit tests for runtime/image: whiteout names, blob paths, manifest choice,
 * the config's defaults, and (as root: whiteouts are applied in a chroot)
 * a two-layer archive (the second gzipped, with an opaque directory and a
 * whiteout) unpacked, and refused once a blob no longer matches its digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "lib/util.h"
#include "runtime/image.h"

static void test_whiteout(void **state)
{
	char t[256];
	bool opq = false;
	struct err e;

	(void)state;
	assert_int_equal(image_whiteout("./bin/sh", t, sizeof(t), &opq, &e), 0);
	assert_int_equal(image_whiteout("./etc/.wh.passwd", t, sizeof(t), &opq, &e), 1);
	assert_string_equal(t, "etc/passwd");
	assert_false(opq);
	assert_int_equal(image_whiteout(".wh.top", t, sizeof(t), &opq, &e), 1);
	assert_string_equal(t, "top");
	assert_int_equal(image_whiteout("./a/b/.wh..wh..opq", t, sizeof(t), &opq, &e), 1);
	assert_string_equal(t, "a/b");
	assert_true(opq);
	assert_int_equal(image_whiteout("./.wh..wh..opq", t, sizeof(t), &opq, &e), 1);
	assert_string_equal(t, ".");
	assert_int_equal(image_whiteout("./a/../../.wh.x", t, sizeof(t), &opq, &e), -1);
	assert_int_equal(image_whiteout("a/.wh...", t, sizeof(t), &opq, &e), -1);
	assert_int_equal(image_whiteout("a/.wh.", t, sizeof(t), &opq, &e), -1);
	assert_int_equal(image_whiteout("a/..b/c", t, sizeof(t), &opq, &e), 0);
}

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_blob_path(void **state)
{
	char p[256];
	struct err e;

	(void)state;
	assert_int_equal(image_blob_path("/o", "sha256:" HEX, p, sizeof(p), &e), 0);
	assert_string_equal(p, "/o/blobs/sha256/" HEX);
	assert_int_equal(image_blob_path("/o", "sha512:" HEX, p, sizeof(p), &e), -1);
	assert_int_equal(image_blob_path("/o", "sha256:../../etc", p, sizeof(p), &e), -1);
	assert_int_equal(image_blob_path("/o", "sha256:" HEX "0", p, sizeof(p), &e), -1);
}

static void test_pick_manifest(void **state)
{
	struct json_object *i = json_tokener_parse(
	        "{\"manifests\":[{\"digest\":\"sha256:arm\",\"platform\":{\"architecture\":"
	        "\"arm64\",\"os\":\"linux\"}},{\"digest\":\"sha256:x86\",\"platform\":{"
	        "\"architecture\":\"amd64\",\"os\":\"linux\"}}]}");
	struct json_object *only =
	        json_tokener_parse("{\"manifests\":[{\"digest\":\"sha256:a\"}]}");
	struct json_object *none = json_tokener_parse("{\"manifests\":[]}");
	const char *d;
	struct err e;

	(void)state;
	assert_int_equal(image_pick_manifest(i, &d, &e), 0);
	assert_string_equal(d, "sha256:x86");
	assert_int_equal(image_pick_manifest(only, &d, &e), 0);
	assert_string_equal(d, "sha256:a");
	assert_int_equal(image_pick_manifest(none, &d, &e), -1);
	json_object_put(i);
	json_object_put(only);
	json_object_put(none);
}

static void test_config_parse(void **state)
{
	struct json_object *c = json_tokener_parse(
	        "{\"config\":{\"Env\":[\"PATH=/bin\",\"A=b\"],\"Entrypoint\":[\"/init\"],"
	        "\"Cmd\":null,\"WorkingDir\":\"/w\",\"User\":\"1000:100\"}}");
	struct json_object *bad = json_tokener_parse("{\"config\":{\"Cmd\":[1]}}");
	struct image_config ic;
	struct err e;

	(void)state;
	assert_int_equal(image_config_parse(c, &ic, &e), 0);
	assert_string_equal(ic.env[1], "A=b");
	assert_null(ic.env[2]);
	assert_string_equal(ic.entrypoint[0], "/init");
	assert_null(ic.cmd);
	assert_string_equal(ic.cwd, "/w");
	assert_string_equal(ic.user, "1000:100");
	image_config_free(&ic);
	assert_int_equal(image_config_parse(bad, &ic, &e), -1);
	json_object_put(c);
	json_object_put(bad);
}

static void test_unpack_layers(void **state)
{
	char dir[] = "/tmp/hako-test-image.XXXXXX", cmd[4096], path[256];
	struct image_config ic;
	struct err e;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	/* blobs named by their sha256; bad.tar: layer 1 changed afterwards */
	snprintf(cmd, sizeof(cmd),
	         "set -e; cd %s; mkdir -p l1/a l1/b l2/a o/blobs/sha256 out; "
	         "echo x >l1/a/x; echo z >l1/b/z; echo k >l1/keep; "
	         "echo n >l2/a/new; touch l2/a/.wh..wh..opq l2/.wh.b; "
	         "tar -C l1 -cf l1.tar .; tar -C l2 -czf l2.tar .; "
	         "b() { d=$(sha256sum $1 | cut -d' ' -f1); mv $1 o/blobs/sha256/$d; echo $d; }; "
	         "L1=$(b l1.tar); L2=$(b l2.tar); "
	         "printf '{\"config\":{\"Cmd\":[\"sh\"]}}' >c.json; C=$(b c.json); "
	         "printf '{\"config\":{\"digest\":\"sha256:%%s\"},\"layers\":["
	         "{\"digest\":\"sha256:%%s\"},{\"digest\":\"sha256:%%s\","
	         "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\"}]}' "
	         "$C $L1 $L2 >m.json; M=$(b m.json); "
	         "printf '{\"manifests\":[{\"digest\":\"sha256:%%s\"}]}' $M >o/index.json; "
	         "echo '{}' >o/oci-layout; tar -C o -cf img.tar .; "
	         "echo more >>o/blobs/sha256/$L1; tar -C o -cf bad.tar .",
	         dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/img.tar", dir);
	snprintf(path, sizeof(path), "%s/out", dir);
	assert_int_equal(image_unpack(cmd, path, &ic, &e), 0);
	assert_string_equal(ic.cmd[0], "sh");
	image_config_free(&ic);
	snprintf(path, sizeof(path), "%s/out/rootfs/a/new", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out/rootfs/a/x", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out/rootfs/b", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out/rootfs/keep", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out/rootfs/.wh.b", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out/oci", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* a file that is no OCI layout; a blob that does not match its digest */
	snprintf(cmd, sizeof(cmd), "%s/out/rootfs/keep", dir);
	snprintf(path, sizeof(path), "%s/out2", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(image_unpack(cmd, path, &ic, &e), -1);
	snprintf(cmd, sizeof(cmd), "%s/bad.tar", dir);
	snprintf(path, sizeof(path), "%s/out3", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(image_unpack(cmd, path, &ic, &e), -1);
	assert_non_null(strstr(e.msg, "digest mismatch"));
	assert_int_equal(util_rm_rf(dir, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_whiteout),      cmocka_unit_test(test_blob_path),
	        cmocka_unit_test(test_pick_manifest), cmocka_unit_test(test_config_parse),
	        cmocka_unit_test(test_unpack_layers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
