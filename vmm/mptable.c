/* vmm/mptable.c: the Intel MultiProcessor Specification 1.4 table that tells
 * a guest without ACPI about its CPUs, the IOAPIC and how ISA irqs reach it.
 * Linux finds the floating pointer by scanning the last KiB of base memory. */
#include <errno.h>
#include <string.h>

#include "vmm/internal.h"

#define MPF_SIZE        16
#define MPC_HEADER_SIZE 44
#define MPC_CPU_SIZE    20
#define MPC_ENTRY_SIZE  8
#define MP_IRQS         16

#define MP_PROCESSOR 0
#define MP_BUS       1
#define MP_IOAPIC    2
#define MP_INTSRC    3
#define MP_LINTSRC   4

#define MP_IRQ_INT    0
#define MP_IRQ_NMI    1
#define MP_IRQ_EXTINT 3

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static uint8_t *intsrc(uint8_t *p, uint8_t type, uint8_t irqtype, uint8_t bus_irq, uint8_t dst,
                       uint8_t dst_irq)
{
	p[0] = type;
	p[1] = irqtype;
	put16(p + 2, 0); /* polarity and trigger: conform to the bus */
	p[4] = 0;        /* source bus: ISA */
	p[5] = bus_irq;
	p[6] = dst;
	p[7] = dst_irq;
	return p + MPC_ENTRY_SIZE;
}

int vmm_mptable_write(const struct guest_mem *m, unsigned int ncpus, struct err *e)
{
	size_t size = MPF_SIZE + MPC_HEADER_SIZE + ncpus * MPC_CPU_SIZE +
	              (2 + MP_IRQS + 2) * MPC_ENTRY_SIZE;
	uint8_t *base = guest_mem_ptr(m, VMM_EBDA_START, size);
	uint8_t *mpf = base, *mpc = base + MPF_SIZE, *p;
	uint8_t ioapic_id = (uint8_t)ncpus;

	if (ncpus == 0 || size > 0x400)
		return err_set(e, EINVAL, "MP table: %u CPUs do not fit", ncpus);
	if (!base)
		return err_set(e, EINVAL, "MP table: guest RAM too small");
	memset(base, 0, size);

	p = mpc + MPC_HEADER_SIZE;
	for (unsigned int i = 0; i < ncpus; i++) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i;                   /* local APIC id */
		p[2] = 0x14;                         /* local APIC version */
		p[3] = 0x1 | (i == 0 ? 0x2 : 0);     /* enabled, boot processor */
		put32(p + 4, 0x600);                 /* family 6 signature */
		put32(p + 8, (1u << 0) | (1u << 9)); /* FPU, APIC */
		p += MPC_CPU_SIZE;
	}
	p[0] = MP_BUS;
	p[1] = 0;
	memcpy(p + 2, "ISA   ", 6);
	p += MPC_ENTRY_SIZE;
	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = 0x11; /* IOAPIC version */
	p[3] = 0x1;  /* enabled */
	put32(p + 4, VMM_IOAPIC_ADDR);
	p += MPC_ENTRY_SIZE;
	for (uint8_t irq = 0; irq < MP_IRQS; irq++)
		p = intsrc(p, MP_INTSRC, MP_IRQ_INT, irq, ioapic_id, irq);
	/* LINT0 is the 8259's virtual wire, LINT1 the NMI, on every CPU. */
	p = intsrc(p, MP_LINTSRC, MP_IRQ_EXTINT, 0, 0xff, 0);
	p = intsrc(p, MP_LINTSRC, MP_IRQ_NMI, 0, 0xff, 1);

	memcpy(mpc, "PCMP", 4);
	put16(mpc + 4, (uint16_t)(p - mpc));
	mpc[6] = 4; /* spec 1.4 */
	memcpy(mpc + 8, "HAKO    ", 8);
	memcpy(mpc + 16, "HAKO-VMM    ", 12);
	put16(mpc + 34, (uint16_t)(ncpus + 2 + MP_IRQS + 2));
	put32(mpc + 36, VMM_LAPIC_ADDR);
	mpc[7] = checksum(mpc, (size_t)(p - mpc));

	memcpy(mpf, "_MP_", 4);
	put32(mpf + 4, (uint32_t)(VMM_EBDA_START + MPF_SIZE));
	mpf[8] = 1; /* length in 16-byte units */
	mpf[9] = 4;
	mpf[10] = checksum(mpf, MPF_SIZE);
	return 0;
}
