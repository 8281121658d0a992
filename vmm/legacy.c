/* vmm/legacy.c: the PC ports a Linux guest touches besides the UART. The
 * i8042 keyboard controller only implements reset (command 0xfe on port
 * 0x64), which is how Linux reboots without ACPI; everything else reads as
 * "nothing here" (0xff, or 0 where 0xff would make the guest spin). */
#include <string.h>

#include "vmm/internal.h"

#define I8042_DATA    0x60
#define I8042_COMMAND 0x64
#define I8042_RESET   0xfe
#define CMOS_INDEX    0x70
#define CMOS_DATA     0x71

enum vmm_pio_result vmm_legacy_io(uint16_t port, bool write, uint8_t *data, unsigned int len)
{
	if (write) {
		if (port == I8042_COMMAND && len == 1 && data[0] == I8042_RESET)
			return VMM_PIO_RESET;
		return VMM_PIO_OK;
	}
	switch (port) {
	case I8042_DATA:
	case I8042_COMMAND: /* status 0: no data, input buffer empty */
	case CMOS_INDEX:
	case CMOS_DATA: /* RTC: update-in-progress clear, no valid time */
		memset(data, 0, len);
		break;
	default: /* absent ISA devices and PCI config (0xcf8/0xcfc) */
		memset(data, 0xff, len);
		break;
	}
	return VMM_PIO_OK;
}
