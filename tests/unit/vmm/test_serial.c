/* tests/unit/vmm/test_serial.c: the 16550A as Linux's 8250 driver drives it:
 * output, the THR-empty interrupt, FIFO detection, loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/internal.h"

static int irqs;

static int count_irq(void *ctx, uint32_t irq)
{
	(void)ctx;
	assert_int_equal(irq, VMM_SERIAL_IRQ);
	irqs++;
	return 0;
}

static uint8_t in(struct vmm_serial *s, unsigned int off)
{
	uint8_t v = 0;

	vmm_serial_io(s, off, false, &v);
	return v;
}

static void out(struct vmm_serial *s, unsigned int off, uint8_t v)
{
	vmm_serial_io(s, off, true, &v);
}

static void test_output_and_thri(void **state)
{
	struct vmm_serial s;
	int p[2];
	char buf[8] = {0};

	(void)state;
	assert_int_equal(pipe(p), 0);
	irqs = 0;
	vmm_serial_init(&s, p[1], count_irq, NULL);
	assert_int_equal(in(&s, 5) & 0x60, 0x60); /* THRE | TEMT */
	out(&s, 0, 'h');
	out(&s, 0, 'i');
	assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	assert_int_equal(irqs, 0); /* IER off: no interrupt */
	assert_int_equal(in(&s, 2) & 0x0f, 0x01);

	out(&s, 1, 0x02); /* enabling THRI with THR empty interrupts at once */
	assert_int_equal(irqs, 1);
	assert_int_equal(in(&s, 2) & 0x0f, 0x02);
	assert_int_equal(in(&s, 2) & 0x0f, 0x01); /* reading IIR cleared it */
	out(&s, 0, '!');
	assert_int_equal(irqs, 2);
	assert_int_equal(in(&s, 2) & 0x0f, 0x02);

	out(&s, 2, 0x01); /* FIFO on: a 16550A says so in IIR */
	assert_int_equal(in(&s, 2) & 0xc0, 0xc0);
	vmm_serial_destroy(&s);
	close(p[0]);
	close(p[1]);
}

static void test_dlab_and_loopback(void **state)
{
	struct vmm_serial s;

	(void)state;
	vmm_serial_init(&s, -1, count_irq, NULL);
	out(&s, 3, 0x80); /* DLAB */
	out(&s, 0, 0x01);
	out(&s, 1, 0x00);
	assert_int_equal(in(&s, 0), 0x01);
	out(&s, 3, 0x03);
	assert_int_equal(in(&s, 1), 0); /* IER again, not DLM */
	out(&s, 7, 0x5a);
	assert_int_equal(in(&s, 7), 0x5a);
	out(&s, 4, 0x10 | 0x0a); /* loopback, RTS, OUT2 */
	assert_int_equal(in(&s, 6) & 0xf0, 0x90);
	vmm_serial_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_output_and_thri),
	        cmocka_unit_test(test_dlab_and_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
