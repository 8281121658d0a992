/* Unit tests for lib/err: messages, errno and context chaining. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"

static void test_set_and_ctx(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(err_set(&e, EINVAL, "bad value %d", 7), -1);
	assert_int_equal(e.errnum, EINVAL);
	assert_string_equal(e.msg, "bad value 7");
	assert_int_equal(err_ctx(&e, "parse %s", "x.json"), -1);
	assert_string_equal(e.msg, "parse x.json: bad value 7");
	err_clear(&e);
	assert_int_equal(e.errnum, 0);
	assert_string_equal(e.msg, "");
}

static void test_sys_appends_strerror(void **state)
{
	struct err e;

	(void)state;
	errno = ENOENT;
	assert_int_equal(err_sys(&e, "open %s", "/nope"), -1);
	assert_int_equal(e.errnum, ENOENT);
	assert_string_equal(e.msg, "open /nope: No such file or directory");
	assert_int_equal(errno, ENOENT);
}

static void test_truncation_is_safe(void **state)
{
	struct err e;
	char big[3000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, 0, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	err_ctx(&e, "ctx");
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "ctx: aaa", 8);
}

static void test_null_err_is_allowed(void **state)
{
	(void)state;
	assert_int_equal(err_set(NULL, 1, "x"), -1);
	assert_int_equal(err_ctx(NULL, "x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_and_ctx),
	        cmocka_unit_test(test_sys_appends_strerror),
	        cmocka_unit_test(test_truncation_is_safe),
	        cmocka_unit_test(test_null_err_is_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
