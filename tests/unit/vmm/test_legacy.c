/* tests/unit/vmm/test_legacy.c: i8042 reset and the quiet legacy ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vmm/internal.h"

static void test_i8042_reset(void **state)
{
	uint8_t v = 0xfe;

	(void)state;
	assert_int_equal(vmm_legacy_io(0x64, true, &v, 1), VMM_PIO_RESET);
	v = 0xaa; /* self test: ignored */
	assert_int_equal(vmm_legacy_io(0x64, true, &v, 1), VMM_PIO_OK);
	v = 0xfe; /* 0xfe on the data port is not a reset */
	assert_int_equal(vmm_legacy_io(0x60, true, &v, 1), VMM_PIO_OK);
	v = 0xff;
	assert_int_equal(vmm_legacy_io(0x64, false, &v, 1), VMM_PIO_OK);
	assert_int_equal(v, 0); /* status: nothing pending, input empty */
}

static void test_other_ports(void **state)
{
	uint8_t d[4] = {0};

	(void)state;
	assert_int_equal(vmm_legacy_io(0xcfc, false, d, 4), VMM_PIO_OK);
	assert_int_equal(d[0] & d[1] & d[2] & d[3], 0xff); /* no PCI */
	assert_int_equal(vmm_legacy_io(0x71, false, d, 1), VMM_PIO_OK);
	assert_int_equal(d[0], 0);
	assert_int_equal(vmm_legacy_io(0x80, true, d, 1), VMM_PIO_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_i8042_reset),
	        cmocka_unit_test(test_other_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
