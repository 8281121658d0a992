/* Unit tests for agent/mount: resolving paths inside a root without
 * letting symlinks or ".." escape it. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/mount.h"
#include "lib/util.h"

static char root[PATH_MAX];

static int setup(void **state)
{
	char p[PATH_MAX + 32];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/hako-test-mount.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(p, sizeof(p), "%s/usr/lib", root);
	if (util_mkdir_p(p, 0755, NULL) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/lib", root);
	if (symlink("usr/lib", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/escape", root);
	if (symlink("/../../../etc", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/usr/up", root);
	if (symlink("../../../..", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/loop", root);
	if (symlink("loop", p) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return util_rm_rf(root, NULL);
}

static void expect(const char *path, const char *rel)
{
	char out[PATH_MAX], want[PATH_MAX + 64];
	struct err e = {0};

	assert_int_equal(mount_secure_join(root, path, out, sizeof(out), &e), 0);
	snprintf(want, sizeof(want), "%s%s", root, rel);
	assert_string_equal(out, want);
}

static void test_plain_and_dots(void **state)
{
	(void)state;
	expect("/", "/");
	expect("/proc", "/proc");
	expect("//dev//pts/", "/dev/pts");
	expect("/a/../../../b", "/b");
	expect("/./x/./y", "/x/y");
}

static void test_symlinks_stay_inside(void **state)
{
	(void)state;
	expect("/lib/x", "/usr/lib/x");
	expect("/escape/passwd", "/etc/passwd");
	expect("/usr/up/tmp", "/tmp");
}

static void test_symlink_loop(void **state)
{
	char out[PATH_MAX];
	struct err e = {0};

	(void)state;
	assert_int_equal(mount_secure_join(root, "/loop/x", out, sizeof(out), &e), -1);
	assert_int_equal(e.errnum, ELOOP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_and_dots),
	        cmocka_unit_test(test_symlinks_stay_inside),
	        cmocka_unit_test(test_symlink_loop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
