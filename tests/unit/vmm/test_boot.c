/* tests/unit/vmm/test_boot.c: kernel loading and boot layout on synthetic
 * ELF and bzImage files, over guest memory that is a plain buffer. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/internal.h"

#define MEM_SIZE (64ULL << 20)

static uint8_t *ram;
static struct guest_mem mem;

static int setup(void **state)
{
	(void)state;
	ram = calloc(1, MEM_SIZE);
	mem = (struct guest_mem){.nr = 1, .r = {{0, MEM_SIZE, ram}}};
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, 8);
	return v;
}

/* An ELF64 with one PT_LOAD (code at 2 MiB: 16 bytes of file, 4096 in
 * memory) and, when note_size is 4 or 8, a Xen PHYS32_ENTRY note. */
static size_t make_elf(uint8_t *buf, unsigned int note_size, uint64_t pvh_entry)
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[2] = {{0}};
	uint32_t nh[3] = {4, note_size, 18};
	size_t note_off = sizeof(eh) + sizeof(ph);

	memset(buf, 0, 0x2000);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_machine = EM_X86_64;
	eh.e_entry = 0x200010;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = note_size ? 2 : 1;
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
	                     .p_offset = 0x1000,
	                     .p_paddr = 0x200000,
	                     .p_filesz = 16,
	                     .p_memsz = 4096};
	ph[1] = (Elf64_Phdr){
	        .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = 12 + 4 + note_size};
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	memcpy(buf + note_off, nh, 12);
	memcpy(buf + note_off + 12, "Xen", 4);
	memcpy(buf + note_off + 16, &pvh_entry, note_size ? note_size : 0);
	memset(buf + 0x1000, 0xcc, 16);
	return 0x1010;
}

static void test_elf_pvh(void **state)
{
	uint8_t buf[0x2000];
	size_t len = make_elf(buf, 4, 0x200004);
	struct vmm_boot b;
	struct err e = {0};

	(void)state;
	memset(ram + 0x200000, 0x55, 8192);
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, len, &b, &e), 0);
	assert_int_equal(b.kind, VMM_BOOT_PVH);
	assert_int_equal(b.entry, 0x200004);
	assert_int_equal(b.kernel_start, 0x200000);
	assert_int_equal(b.kernel_end, 0x201000);
	assert_int_equal(ram[0x200000], 0xcc);
	assert_int_equal(ram[0x20000f], 0xcc);
	assert_int_equal(ram[0x200010], 0); /* bss zeroed */
	assert_int_equal(ram[0x200fff], 0);
	assert_int_equal(ram[0x201000], 0x55); /* beyond memsz untouched */
}

static void test_elf_pvh_note_64bit(void **state)
{
	uint8_t buf[0x2000];
	size_t len = make_elf(buf, 8, 0x1000000);
	uint64_t entry = 0;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_boot_pvh_entry(buf, len, &entry, &e), 1);
	assert_int_equal(entry, 0x1000000);
}

static void test_elf_64bit_entry(void **state)
{
	uint8_t buf[0x2000];
	size_t len = make_elf(buf, 0, 0);
	struct vmm_boot b;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, len, &b, &e), 0);
	assert_int_equal(b.kind, VMM_BOOT_ELF64);
	assert_int_equal(b.entry, 0x200010);
}

static void test_elf_malformed(void **state)
{
	uint8_t buf[0x2000];
	size_t len = make_elf(buf, 4, 0x200004);
	struct vmm_boot b;
	struct err e = {0};
	Elf64_Phdr ph;
	uint64_t entry;

	(void)state;
	/* A note whose descriptor runs past the segment. */
	memcpy(&ph, buf + sizeof(Elf64_Ehdr) + sizeof(ph), sizeof(ph));
	ph.p_filesz = 18;
	memcpy(buf + sizeof(Elf64_Ehdr) + sizeof(ph), &ph, sizeof(ph));
	assert_int_equal(vmm_boot_pvh_entry(buf, len, &entry, &e), -1);
	assert_non_null(strstr(e.msg, "note"));

	/* A segment outside guest RAM. */
	len = make_elf(buf, 0, 0);
	memcpy(&ph, buf + sizeof(Elf64_Ehdr), sizeof(ph));
	ph.p_paddr = MEM_SIZE - 16;
	memcpy(buf + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, len, &b, &e), -1);
	assert_non_null(strstr(e.msg, "outside guest RAM"));

	/* Program headers past the end of the file. */
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, 100, &b, &e), -1);
	/* Neither ELF nor bzImage. */
	assert_int_equal(vmm_boot_load_kernel(&mem, "hello", 5, &b, &e), -1);
	assert_non_null(strstr(e.msg, "not an ELF64 vmlinux or a bzImage"));
}

static size_t make_bzimage(uint8_t *buf, uint16_t xloadflags)
{
	uint16_t version = 0x20f;
	uint32_t initrd_max = 0x1fffffff, init_size = 0x100000;

	memset(buf, 0, 0x2000);
	buf[0x1f1] = 3;    /* setup sectors: kernel at (3+1)*512 */
	buf[0x201] = 0x6a; /* jump: header ends at 0x26c */
	memcpy(buf + 0x202, "HdrS", 4);
	memcpy(buf + 0x206, &version, 2);
	memcpy(buf + 0x22c, &initrd_max, 4);
	memcpy(buf + 0x236, &xloadflags, 2);
	memcpy(buf + 0x260, &init_size, 4);
	buf[0x250] = 0x77; /* a marker inside the header */
	memset(buf + 0x800, 0xab, 0x100);
	return 0x900;
}

static void test_bzimage(void **state)
{
	uint8_t buf[0x2000];
	size_t len = make_bzimage(buf, 1);
	struct vmm_boot b;
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, len, &b, &e), 0);
	assert_int_equal(b.kind, VMM_BOOT_BZIMAGE);
	assert_int_equal(b.entry, 0x100200);
	assert_int_equal(b.kernel_end, 0x200000); /* init_size counts */
	assert_int_equal(b.initrd_max, 0x1fffffff);
	assert_int_equal(b.setup_hdr_len, 0x26c - 0x1f1);
	assert_int_equal(ram[0x100000], 0xab);
	assert_int_equal(ram[0x1000ff], 0xab);

	assert_int_equal(vmm_boot_setup(&mem, &b, "console=ttyS0", &e), 0);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x250], 0x77);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x1f1], 3);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x210], 0xff);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x211] & 1, 1);

	/* A file too short for the whole header is not taken for a bzImage. */
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, 0x280, &b, &e), -1);
	assert_non_null(strstr(e.msg, "not an ELF64 vmlinux or a bzImage"));

	make_bzimage(buf, 0);
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, len, &b, &e), -1);
	assert_non_null(strstr(e.msg, "not supported"));
}

static void test_initrd_placement(void **state)
{
	uint8_t buf[0x2000], rd[10000];
	struct vmm_boot b;
	struct err e = {0};

	(void)state;
	memset(rd, 0x5a, sizeof(rd));
	make_elf(buf, 4, 0x200004);
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, 0x1010, &b, &e), 0);
	assert_int_equal(vmm_boot_load_initrd(&mem, rd, sizeof(rd), &b, &e), 0);
	assert_int_equal(b.initrd_addr & 0xfff, 0);
	assert_true(b.initrd_addr + sizeof(rd) <= MEM_SIZE);
	assert_true(b.initrd_addr >= MEM_SIZE - sizeof(rd) - 4096);
	assert_int_equal(b.initrd_size, sizeof(rd));
	assert_memory_equal(ram + b.initrd_addr, rd, sizeof(rd));

	/* The limit from the setup header wins over the end of RAM. */
	b.initrd_max = 0x3fffff;
	assert_int_equal(vmm_boot_load_initrd(&mem, rd, sizeof(rd), &b, &e), 0);
	assert_true(b.initrd_addr + sizeof(rd) <= 0x400000);
	assert_true(b.initrd_addr >= b.kernel_end);

	/* No room above the kernel. */
	b.initrd_max = 0x201fff;
	assert_int_equal(vmm_boot_load_initrd(&mem, rd, sizeof(rd), &b, &e), -1);
	assert_non_null(strstr(e.msg, "does not fit"));
}

static void test_e820(void **state)
{
	struct guest_mem big = {
	        .nr = 2,
	        .r = {{0, VMM_MMIO_HOLE_START, NULL}, {VMM_MMIO_HOLE_END, 1ULL << 30, NULL}}};
	struct vmm_e820 map[VMM_E820_MAX];
	unsigned int n;

	(void)state;
	n = vmm_boot_e820(&mem, map);
	assert_int_equal(n, 3);
	assert_int_equal(map[0].addr, 0);
	assert_int_equal(map[0].size, VMM_EBDA_START);
	assert_int_equal(map[0].type, VMM_E820_RAM);
	assert_int_equal(map[1].type, VMM_E820_RESERVED);
	assert_int_equal(map[1].addr + map[1].size, 0x100000);
	assert_int_equal(map[2].addr, 0x100000);
	assert_int_equal(map[2].size, MEM_SIZE - 0x100000);

	n = vmm_boot_e820(&big, map);
	assert_int_equal(n, 4);
	assert_int_equal(map[2].addr + map[2].size, VMM_MMIO_HOLE_START);
	assert_int_equal(map[3].addr, VMM_MMIO_HOLE_END);
	assert_int_equal(map[3].size, 1ULL << 30);
}

static void test_pvh_start_info(void **state)
{
	uint8_t buf[0x2000], rd[5000] = {0};
	struct vmm_boot b;
	struct err e = {0};
	const char *cmdline = "console=ttyS0 quiet";

	(void)state;
	make_elf(buf, 4, 0x200004);
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, 0x1010, &b, &e), 0);
	assert_int_equal(vmm_boot_load_initrd(&mem, rd, sizeof(rd), &b, &e), 0);
	assert_int_equal(vmm_boot_setup(&mem, &b, cmdline, &e), 0);
	assert_int_equal(rd32(VMM_START_INFO_ADDR), 0x336ec578);
	assert_int_equal(rd32(VMM_START_INFO_ADDR + 4), 1);
	assert_int_equal(rd32(VMM_START_INFO_ADDR + 12), 1); /* nr_modules */
	assert_int_equal(rd64(VMM_START_INFO_ADDR + 16), VMM_PVH_MODLIST);
	assert_int_equal(rd64(VMM_START_INFO_ADDR + 24), VMM_CMDLINE_ADDR);
	assert_int_equal(rd64(VMM_START_INFO_ADDR + 40), VMM_PVH_MEMMAP_ADDR);
	assert_int_equal(rd32(VMM_START_INFO_ADDR + 48), 3);
	assert_string_equal((char *)ram + VMM_CMDLINE_ADDR, cmdline);
	assert_int_equal(rd64(VMM_PVH_MODLIST), b.initrd_addr);
	assert_int_equal(rd64(VMM_PVH_MODLIST + 8), sizeof(rd));
	/* memmap entry 2: 1 MiB .. end, RAM (24-byte entries). */
	assert_int_equal(rd64(VMM_PVH_MEMMAP_ADDR + 48), 0x100000);
	assert_int_equal(rd64(VMM_PVH_MEMMAP_ADDR + 56), MEM_SIZE - 0x100000);
	assert_int_equal(rd32(VMM_PVH_MEMMAP_ADDR + 64), 1);
	/* 32-bit flat code segment in the GDT at selector 0x10. */
	assert_int_equal(rd64(VMM_GDT_ADDR + 0x10), 0x00cf9b000000ffffULL);
}

static void test_zero_page_and_tables(void **state)
{
	uint8_t buf[0x2000], rd[5000] = {0};
	struct vmm_boot b;
	struct err e = {0};
	const char *cmdline = "root=/dev/vda";

	(void)state;
	make_elf(buf, 0, 0);
	assert_int_equal(vmm_boot_load_kernel(&mem, buf, 0x1010, &b, &e), 0);
	assert_int_equal(vmm_boot_load_initrd(&mem, rd, sizeof(rd), &b, &e), 0);
	assert_int_equal(vmm_boot_setup(&mem, &b, cmdline, &e), 0);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x1fe], 0x55);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x1ff], 0xaa);
	assert_memory_equal(ram + VMM_ZERO_PAGE_ADDR + 0x202, "HdrS", 4);
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x210], 0xff);
	assert_int_equal(rd32(VMM_ZERO_PAGE_ADDR + 0x228), VMM_CMDLINE_ADDR);
	assert_int_equal(rd32(VMM_ZERO_PAGE_ADDR + 0x238), strlen(cmdline));
	assert_int_equal(rd32(VMM_ZERO_PAGE_ADDR + 0x218), (uint32_t)b.initrd_addr);
	assert_int_equal(rd32(VMM_ZERO_PAGE_ADDR + 0x21c), sizeof(rd));
	assert_int_equal(ram[VMM_ZERO_PAGE_ADDR + 0x1e8], 3);
	/* e820 entry 2 at 0x2d0 + 2*20. */
	assert_int_equal(rd64(VMM_ZERO_PAGE_ADDR + 0x2d0 + 40), 0x100000);
	assert_int_equal(rd32(VMM_ZERO_PAGE_ADDR + 0x2d0 + 56), 1);
	/* Page tables: PML4 -> PDPT -> PD, 2 MiB pages, identity. */
	assert_int_equal(rd64(VMM_PML4_ADDR), (VMM_PML4_ADDR + 0x1000) | 3);
	assert_int_equal(rd64(VMM_PML4_ADDR + 0x1000 + 8), (VMM_PML4_ADDR + 0x3000) | 3);
	assert_int_equal(rd64(VMM_PML4_ADDR + 0x2000 + 8 * 5), (5ULL << 21) | 0x83);
	assert_int_equal(rd64(VMM_PML4_ADDR + 0x3000), (512ULL << 21) | 0x83);
	assert_int_equal(rd64(VMM_GDT_ADDR + 0x10), 0x00af9b000000ffffULL);

	assert_int_equal(vmm_boot_setup(&mem, &b, "", &e), 0);
	{
		char *huge = malloc(VMM_CMDLINE_MAX + 1);

		memset(huge, 'a', VMM_CMDLINE_MAX);
		huge[VMM_CMDLINE_MAX] = 0;
		assert_int_equal(vmm_boot_setup(&mem, &b, huge, &e), -1);
		free(huge);
	}
}

static void test_regs(void **state)
{
	struct vmm_boot b = {.kind = VMM_BOOT_PVH, .entry = 0x1000000};
	struct kvm_regs regs;
	struct kvm_sregs sregs = {0};

	(void)state;
	vmm_boot_regs(&b, &regs, &sregs);
	assert_int_equal(regs.rip, 0x1000000);
	assert_int_equal(regs.rbx, VMM_START_INFO_ADDR);
	assert_int_equal(regs.rflags, 2);
	assert_int_equal(sregs.cr0 & 0x80000001ULL, 1); /* PE, no paging */
	assert_int_equal(sregs.efer, 0);
	assert_int_equal(sregs.cs.db, 1);
	assert_int_equal(sregs.cs.l, 0);
	assert_int_equal(sregs.cs.selector, 0x10);
	assert_int_equal(sregs.tr.limit, 0x67);

	b.kind = VMM_BOOT_ELF64;
	vmm_boot_regs(&b, &regs, &sregs);
	assert_int_equal(regs.rsi, VMM_ZERO_PAGE_ADDR);
	assert_int_equal(sregs.cr3, VMM_PML4_ADDR);
	assert_true(sregs.cr0 & 0x80000000ULL);
	assert_true(sregs.cr4 & 0x20);
	assert_int_equal(sregs.efer, 0x500);
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.db, 0);
	assert_int_equal(sregs.ds.selector, 0x18);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void **state)
{
	struct err e = {0};
	const uint8_t *mpf = ram + VMM_EBDA_START, *mpc;
	uint16_t len;

	(void)state;
	assert_int_equal(vmm_mptable_write(&mem, 4, &e), 0);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(sum(mpf, 16), 0);
	assert_int_equal(rd32(VMM_EBDA_START + 4), VMM_EBDA_START + 16);
	mpc = ram + VMM_EBDA_START + 16;
	assert_memory_equal(mpc, "PCMP", 4);
	memcpy(&len, mpc + 4, 2);
	assert_int_equal(sum(mpc, len), 0);
	assert_int_equal(mpc[34], 4 + 2 + 16 + 2); /* entries */
	/* CPU entries: ids 0..3, only the first is the boot processor. */
	assert_int_equal(mpc[44], 0);
	assert_int_equal(mpc[44 + 3], 3);
	assert_int_equal(mpc[44 + 20 + 1], 1);
	assert_int_equal(mpc[44 + 20 + 3], 1);
	/* The IOAPIC follows the bus entry, with id = number of CPUs. */
	assert_int_equal(mpc[44 + 80 + 8], 2);
	assert_int_equal(mpc[44 + 80 + 9], 4);
	assert_int_equal(vmm_mptable_write(&mem, 0, &e), -1);
	assert_int_equal(vmm_mptable_write(&mem, 64, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_elf_pvh),
	        cmocka_unit_test(test_elf_pvh_note_64bit),
	        cmocka_unit_test(test_elf_64bit_entry),
	        cmocka_unit_test(test_elf_malformed),
	        cmocka_unit_test(test_bzimage),
	        cmocka_unit_test(test_initrd_placement),
	        cmocka_unit_test(test_e820),
	        cmocka_unit_test(test_pvh_start_info),
	        cmocka_unit_test(test_zero_page_and_tables),
	        cmocka_unit_test(test_regs),
	        cmocka_unit_test(test_mptable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
