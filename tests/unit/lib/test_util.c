/* Unit tests for lib/util: file helpers and rm -rf. */
#include <errno.h>
#include <fcntl.h>
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

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hako-test-util.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct err e;

	(void)state;
	return util_rm_rf(dir, &e);
}

static void test_write_then_read(void **state)
{
	char path[128], *buf = NULL;
	size_t len;
	struct err e;

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(util_mkdir_p(path, 0755, &e), 0);
	assert_int_equal(util_mkdir_p(path, 0755, &e), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/f", dir);
	assert_int_equal(util_write_file(path, "hello", 5, 0600, &e), 0);
	assert_int_equal(util_read_file(path, 100, &buf, &len, &e), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_int_equal(util_read_file(path, 3, &buf, &len, &e), -1);
	assert_int_equal(e.errnum, EFBIG);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(util_read_file(path, 3, &buf, &len, &e), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_non_null(strstr(e.msg, "missing"));
}

static void test_rm_rf_removes_tree(void **state)
{
	char path[128];
	struct stat st;
	struct err e;

	(void)state;
	snprintf(path, sizeof(path), "%s/t/x/y", dir);
	assert_int_equal(util_mkdir_p(path, 0755, &e), 0);
	snprintf(path, sizeof(path), "%s/t/x/y/file", dir);
	assert_int_equal(util_write_file(path, "z", 1, 0644, &e), 0);
	snprintf(path, sizeof(path), "%s/t/link", dir);
	assert_int_equal(symlink("/etc", path), 0);
	snprintf(path, sizeof(path), "%s/t", dir);
	assert_int_equal(util_rm_rf(path, &e), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(util_rm_rf(path, &e), 0);
	assert_int_equal(stat("/etc/passwd", &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_write_then_read),
	        cmocka_unit_test(test_rm_rf_removes_tree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
