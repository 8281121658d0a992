/* vmm/boot.c: x86-64 Linux boot: ELF vmlinux (PVH entry when the Xen note is
 * there, else the 64-bit entry), bzImage (64-bit entry), initrd placement,
 * e820, zero page / hvm_start_info, GDT and identity page tables, and the
 * boot CPU's registers. Pure functions over struct guest_mem: no KVM here. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/internal.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_START_MAGIC          0x336ec578U

/* boot_params (the "zero page") offsets, Documentation/x86/zero-page.rst. */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_VID_MODE          0x1fa
#define BP_BOOT_FLAG         0x1fe
#define BP_HEADER            0x202
#define BP_VERSION           0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS         0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_CMD_LINE_PTR      0x228
#define BP_INITRD_ADDR_MAX   0x22c
#define BP_KERNEL_ALIGNMENT  0x230
#define BP_XLOADFLAGS        0x236
#define BP_CMDLINE_SIZE      0x238
#define BP_INIT_SIZE         0x260
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

#define LOADED_HIGH   0x01
#define XLF_KERNEL_64 0x01

/* hvm_start_info, xen/include/public/arch-x86/hvm/start_info.h. */
#define SI_MAGIC          0
#define SI_VERSION        4
#define SI_FLAGS          8
#define SI_NR_MODULES     12
#define SI_MODLIST_PADDR  16
#define SI_CMDLINE_PADDR  24
#define SI_RSDP_PADDR     32
#define SI_MEMMAP_PADDR   40
#define SI_MEMMAP_ENTRIES 48
#define SI_SIZE           56

#define GDT_ENTRIES 5
#define SEL_CODE    0x10 /* __BOOT_CS */
#define SEL_DATA    0x18 /* __BOOT_DS */
#define SEL_TSS     0x20

#define X86_CR0_PE   0x1ULL
#define X86_CR0_ET   0x10ULL
#define X86_CR0_PG   0x80000000ULL
#define X86_CR4_PAE  0x20ULL
#define EFER_LME     0x100ULL
#define EFER_LMA     0x400ULL
#define PAGE_PRESENT 0x1ULL
#define PAGE_RW      0x2ULL
#define PAGE_PS      0x80ULL

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

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static bool is_elf64(const uint8_t *p, size_t len)
{
	return len >= sizeof(Elf64_Ehdr) && memcmp(p, ELFMAG, SELFMAG) == 0 &&
	       p[EI_CLASS] == ELFCLASS64;
}

/* Program headers of an ELF64 x86-64 image, bounds-checked. */
static int elf_phdrs(const uint8_t *p, size_t len, Elf64_Ehdr *eh, struct err *e)
{
	memcpy(eh, p, sizeof(*eh));
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return err_set(e, EINVAL, "not an x86-64 little-endian ELF");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phoff > len ||
	    (len - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return err_set(e, EINVAL, "ELF program headers out of bounds");
	return 0;
}

static void elf_phdr(const uint8_t *p, const Elf64_Ehdr *eh, unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, p + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

int vmm_boot_pvh_entry(const void *buf, size_t len, uint64_t *entry, struct err *e)
{
	const uint8_t *p = buf;
	Elf64_Ehdr eh;

	if (!is_elf64(p, len))
		return err_set(e, EINVAL, "not an ELF64 file");
	if (elf_phdrs(p, len, &eh, e) < 0)
		return -1;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		elf_phdr(p, &eh, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return err_set(e, EINVAL, "ELF note segment out of bounds");
		off = ph.p_offset;
		end = ph.p_offset + ph.p_filesz;
		while (end - off >= 12) {
			uint32_t namesz = get32(p + off), descsz = get32(p + off + 4);
			uint32_t type = get32(p + off + 8);
			uint64_t name = off + 12;
			uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ULL);
			uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ULL);

			if (next > end)
				return err_set(e, EINVAL, "ELF note runs past its segment");
			if (namesz == 4 && memcmp(p + name, "Xen", 4) == 0 &&
			    type == XEN_ELFNOTE_PHYS32_ENTRY) {
				if (descsz == 4)
					*entry = get32(p + desc);
				else if (descsz == 8)
					*entry = get32(p + desc) |
					         ((uint64_t)get32(p + desc + 4) << 32);
				else
					return err_set(e, EINVAL, "PVH entry note has %u bytes",
					               descsz);
				return 1;
			}
			off = next;
		}
	}
	return 0;
}

static int load_elf(const struct guest_mem *m, const uint8_t *p, size_t len, struct vmm_boot *b,
                    struct err *e)
{
	Elf64_Ehdr eh;
	uint64_t pvh = 0;
	int r;

	if (elf_phdrs(p, len, &eh, e) < 0)
		return -1;
	b->kernel_start = UINT64_MAX;
	b->kernel_end = 0;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		elf_phdr(p, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset)
			return err_set(e, EINVAL, "ELF segment %u out of file bounds", i);
		dst = guest_mem_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst || ph.p_paddr < VMM_HIMEM_START)
			return err_set(
			        e, EINVAL, "ELF segment %u at 0x%llx+0x%llx is outside guest RAM",
			        i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		memcpy(dst, p + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < b->kernel_start)
			b->kernel_start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > b->kernel_end)
			b->kernel_end = ph.p_paddr + ph.p_memsz;
	}
	if (b->kernel_end == 0)
		return err_set(e, EINVAL, "ELF has no loadable segment");
	r = vmm_boot_pvh_entry(p, len, &pvh, e);
	if (r < 0)
		return -1;
	b->kind = r ? VMM_BOOT_PVH : VMM_BOOT_ELF64;
	/* vmlinux links ENTRY(phys_startup_64): e_entry is already physical. */
	b->entry = r ? pvh : eh.e_entry;
	/* No setup header says otherwise: the boot protocol's default limit. */
	b->initrd_max = 0x7fffffff;
	return 0;
}

static int load_bzimage(const struct guest_mem *m, const uint8_t *p, size_t len, struct vmm_boot *b,
                        struct err *e)
{
	unsigned int setup_sects = p[VMM_SETUP_HDR_OFF] ? p[VMM_SETUP_HDR_OFF] : 4;
	uint64_t off = (uint64_t)(setup_sects + 1) * 512, size, need;
	uint16_t version = get16(p + BP_VERSION);
	uint8_t *dst;

	if (version < 0x20c || !(get16(p + BP_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set(
		        e, EINVAL,
		        "not supported: bzImage without a 64-bit entry (boot protocol %x.%02x)",
		        version >> 8, version & 0xff);
	if (off >= len)
		return err_set(e, EINVAL, "bzImage is truncated");
	size = len - off;
	need = get32(p + BP_INIT_SIZE);
	if (need < size)
		need = size;
	dst = guest_mem_ptr(m, VMM_BZIMAGE_LOAD, need);
	if (!dst)
		return err_set(e, EINVAL, "bzImage needs 0x%llx bytes of RAM at 1 MiB",
		               (unsigned long long)need);
	memcpy(dst, p + off, size);
	b->kind = VMM_BOOT_BZIMAGE;
	b->entry = VMM_BZIMAGE_LOAD + 0x200;
	b->kernel_start = VMM_BZIMAGE_LOAD;
	b->kernel_end = VMM_BZIMAGE_LOAD + need;
	b->initrd_max = get32(p + BP_INITRD_ADDR_MAX);
	/* The header ends where its jump instruction at 0x200 points. */
	b->setup_hdr_len = 0x202 + p[0x201] - VMM_SETUP_HDR_OFF;
	if (b->setup_hdr_len > VMM_SETUP_HDR_MAX)
		b->setup_hdr_len = VMM_SETUP_HDR_MAX;
	memcpy(b->setup_hdr, p + VMM_SETUP_HDR_OFF, b->setup_hdr_len);
	return 0;
}

int vmm_boot_load_kernel(const struct guest_mem *m, const void *buf, size_t len, struct vmm_boot *b,
                         struct err *e)
{
	const uint8_t *p = buf;

	memset(b, 0, sizeof(*b));
	if (is_elf64(p, len))
		return load_elf(m, p, len, b, e);
	/* Every field read from a bzImage lies before the end of the header area. */
	if (len >= VMM_SETUP_HDR_OFF + VMM_SETUP_HDR_MAX && memcmp(p + BP_HEADER, "HdrS", 4) == 0)
		return load_bzimage(m, p, len, b, e);
	return err_set(e, EINVAL, "not an ELF64 vmlinux or a bzImage");
}

/* The guest RAM below the 32-bit hole that starts at 1 MiB. */
static const struct guest_region *low_region(const struct guest_mem *m)
{
	for (unsigned int i = 0; i < m->nr; i++)
		if (m->r[i].gpa == 0 && m->r[i].size > VMM_HIMEM_START)
			return &m->r[i];
	return NULL;
}

int vmm_boot_load_initrd(const struct guest_mem *m, const void *buf, size_t len, struct vmm_boot *b,
                         struct err *e)
{
	const struct guest_region *lo = low_region(m);
	uint64_t top, addr;
	uint8_t *dst;

	if (!lo)
		return err_set(e, EINVAL, "no low RAM for the initrd");
	top = lo->size;
	if (top > b->initrd_max + 1)
		top = b->initrd_max + 1;
	if (len > top || ((top - len) & ~0xfffULL) < b->kernel_end)
		return err_set(e, ENOMEM,
		               "initrd (%zu bytes) does not fit between the kernel and 0x%llx", len,
		               (unsigned long long)top);
	addr = (top - len) & ~0xfffULL;
	dst = guest_mem_ptr(m, addr, len);
	if (!dst)
		return err_set(e, EINVAL, "initrd address 0x%llx outside RAM",
		               (unsigned long long)addr);
	memcpy(dst, buf, len);
	b->initrd_addr = addr;
	b->initrd_size = len;
	return 0;
}

unsigned int vmm_boot_e820(const struct guest_mem *m, struct vmm_e820 *out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < m->nr && n + 3 <= VMM_E820_MAX; i++) {
		const struct guest_region *r = &m->r[i];

		if (r->gpa == 0) {
			/* Below 1 MiB: RAM up to the EBDA (MP table), then the
			 * legacy VGA/BIOS area, which is never RAM. */
			out[n++] = (struct vmm_e820){0, VMM_EBDA_START, VMM_E820_RAM};
			out[n++] = (struct vmm_e820){VMM_EBDA_START, 0x100000 - VMM_EBDA_START,
			                             VMM_E820_RESERVED};
			if (r->size > VMM_HIMEM_START)
				out[n++] = (struct vmm_e820){
				        VMM_HIMEM_START, r->size - VMM_HIMEM_START, VMM_E820_RAM};
		} else {
			out[n++] = (struct vmm_e820){r->gpa, r->size, VMM_E820_RAM};
		}
	}
	return n;
}

static int write_gdt_pt(const struct guest_mem *m, bool long_mode, struct err *e)
{
	uint64_t gdt[GDT_ENTRIES] = {
	        0,
	        0,
	        long_mode ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL, /* code, flat */
	        0x00cf93000000ffffULL,                                     /* data, flat */
	        0x00008b0000000067ULL, /* 32-bit busy TSS, base 0 limit 0x67 */
	};
	uint8_t *p = guest_mem_ptr(m, VMM_GDT_ADDR, sizeof(gdt) + 8);
	uint8_t *pt = guest_mem_ptr(m, VMM_PML4_ADDR, 6 * 4096);

	if (!p || !pt)
		return err_set(e, EINVAL, "guest RAM too small for the boot tables");
	for (unsigned int i = 0; i < GDT_ENTRIES; i++)
		put64(p + 8 * i, gdt[i]);
	memset(guest_mem_ptr(m, VMM_IDT_ADDR, 8), 0, 8);
	if (!long_mode)
		return 0;
	/* Identity map the first 4 GiB with 2 MiB pages: PML4, PDPT, 4 PDs. */
	memset(pt, 0, 6 * 4096);
	put64(pt, (VMM_PML4_ADDR + 0x1000) | PAGE_PRESENT | PAGE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		put64(pt + 0x1000 + 8 * i,
		      (VMM_PML4_ADDR + 0x2000 + 0x1000 * i) | PAGE_PRESENT | PAGE_RW);
		for (uint64_t j = 0; j < 512; j++)
			put64(pt + 0x2000 + 0x1000 * i + 8 * j,
			      ((i * 512 + j) << 21) | PAGE_PRESENT | PAGE_RW | PAGE_PS);
	}
	return 0;
}

static int write_start_info(const struct guest_mem *m, const struct vmm_boot *b,
                            const struct vmm_e820 *map, unsigned int n, struct err *e)
{
	uint8_t *si = guest_mem_ptr(m, VMM_START_INFO_ADDR, SI_SIZE);
	uint8_t *mm = guest_mem_ptr(m, VMM_PVH_MEMMAP_ADDR, 24 * VMM_E820_MAX);
	uint8_t *mod = guest_mem_ptr(m, VMM_PVH_MODLIST, 32);

	if (!si || !mm || !mod)
		return err_set(e, EINVAL, "guest RAM too small for hvm_start_info");
	memset(si, 0, SI_SIZE);
	put32(si + SI_MAGIC, PVH_START_MAGIC);
	put32(si + SI_VERSION, 1);
	put64(si + SI_CMDLINE_PADDR, VMM_CMDLINE_ADDR);
	put64(si + SI_MEMMAP_PADDR, VMM_PVH_MEMMAP_ADDR);
	put32(si + SI_MEMMAP_ENTRIES, n);
	for (unsigned int i = 0; i < n; i++) {
		put64(mm + 24 * i, map[i].addr);
		put64(mm + 24 * i + 8, map[i].size);
		put32(mm + 24 * i + 16, map[i].type);
		put32(mm + 24 * i + 20, 0);
	}
	if (b->initrd_size) {
		memset(mod, 0, 32);
		put64(mod, b->initrd_addr);
		put64(mod + 8, b->initrd_size);
		put32(si + SI_NR_MODULES, 1);
		put64(si + SI_MODLIST_PADDR, VMM_PVH_MODLIST);
	}
	return 0;
}

static int write_zero_page(const struct guest_mem *m, const struct vmm_boot *b, size_t cmdlen,
                           const struct vmm_e820 *map, unsigned int n, struct err *e)
{
	uint8_t *bp = guest_mem_ptr(m, VMM_ZERO_PAGE_ADDR, 4096);

	if (!bp)
		return err_set(e, EINVAL, "guest RAM too small for the zero page");
	memset(bp, 0, 4096);
	if (b->kind == VMM_BOOT_BZIMAGE) {
		memcpy(bp + VMM_SETUP_HDR_OFF, b->setup_hdr, b->setup_hdr_len);
		put16(bp + BP_VID_MODE, 0xffff);
		bp[BP_LOADFLAGS] |= LOADED_HIGH;
	} else {
		/* A vmlinux has no setup header: write the fields its 64-bit
		 * entry reads. */
		put16(bp + BP_BOOT_FLAG, 0xaa55);
		memcpy(bp + BP_HEADER, "HdrS", 4);
		put16(bp + BP_VERSION, 0x20f);
		put32(bp + BP_KERNEL_ALIGNMENT, 0x1000000);
	}
	bp[BP_TYPE_OF_LOADER] = 0xff;
	put32(bp + BP_CMD_LINE_PTR, (uint32_t)VMM_CMDLINE_ADDR);
	put32(bp + BP_EXT_CMD_LINE_PTR, 0);
	put32(bp + BP_CMDLINE_SIZE, (uint32_t)cmdlen);
	put32(bp + BP_RAMDISK_IMAGE, (uint32_t)b->initrd_addr);
	put32(bp + BP_RAMDISK_SIZE, (uint32_t)b->initrd_size);
	put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(b->initrd_addr >> 32));
	put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(b->initrd_size >> 32));
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned int i = 0; i < n && i < BP_E820_MAX; i++) {
		put64(bp + BP_E820_TABLE + 20 * i, map[i].addr);
		put64(bp + BP_E820_TABLE + 20 * i + 8, map[i].size);
		put32(bp + BP_E820_TABLE + 20 * i + 16, map[i].type);
	}
	return 0;
}

int vmm_boot_setup(const struct guest_mem *m, const struct vmm_boot *b, const char *cmdline,
                   struct err *e)
{
	struct vmm_e820 map[VMM_E820_MAX];
	unsigned int n = vmm_boot_e820(m, map);
	size_t cmdlen = strlen(cmdline);
	char *dst;

	if (cmdlen + 1 > VMM_CMDLINE_MAX)
		return err_set(e, E2BIG, "kernel command line too long (%zu bytes)", cmdlen);
	dst = guest_mem_ptr(m, VMM_CMDLINE_ADDR, cmdlen + 1);
	if (!dst)
		return err_set(e, EINVAL, "guest RAM too small for the command line");
	memcpy(dst, cmdline, cmdlen + 1);
	if (write_gdt_pt(m, b->kind != VMM_BOOT_PVH, e) < 0)
		return -1;
	if (b->kind == VMM_BOOT_PVH)
		return write_start_info(m, b, map, n, e);
	return write_zero_page(m, b, cmdlen, map, n, e);
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
	        .base = 0,
	        .limit = 0xffffffff,
	        .selector = sel,
	        .type = type,
	        .present = 1,
	        .dpl = 0,
	        .db = code64 ? 0 : 1,
	        .s = 1,
	        .l = code64 ? 1 : 0,
	        .g = 1,
	};
}

void vmm_boot_regs(const struct vmm_boot *b, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	bool long_mode = b->kind != VMM_BOOT_PVH;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rip = b->entry;
	if (long_mode) {
		regs->rsi = VMM_ZERO_PAGE_ADDR;
		regs->rsp = regs->rbp = VMM_BOOT_STACK;
	} else {
		regs->rbx = VMM_START_INFO_ADDR;
	}

	flat_seg(&sregs->cs, SEL_CODE, 0xb, long_mode);
	flat_seg(&sregs->ds, SEL_DATA, 0x3, false);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct kvm_segment){
	        .base = 0, .limit = 0x67, .selector = SEL_TSS, .type = 0xb, .present = 1};
	sregs->ldt = (struct kvm_segment){.type = 0x2, .present = 1, .limit = 0xffff};
	sregs->gdt.base = VMM_GDT_ADDR;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs->idt.base = VMM_IDT_ADDR;
	sregs->idt.limit = 7;
	if (long_mode) {
		sregs->cr3 = VMM_PML4_ADDR;
		sregs->cr4 = X86_CR4_PAE;
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}
