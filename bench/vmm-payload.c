/* bench/vmm-payload.c: writes tiny x86 guest programs as ELF files that any
 * PVH-capable VMM boots (hako-vmm, QEMU -M microvm): a few instructions, no
 * kernel. The start-time benchmark and the VMM's integration tests use them.
 *
 *   vmm-payload KIND OUT
 *   KIND: first     print "X" on COM1, then idle (sti; hlt) forever
 *         poweroff  print "hako-payload ok" on COM1, then cli; hlt (power off)
 *         reboot    print the line, then reset through the i8042 (0xfe to 0x64)
 *         triple    print the line, then divide by zero with no usable IDT
 *         long64    as poweroff, but a plain 64-bit ELF (no PVH note): the
 *                   VMM enters it in long mode with its own page tables */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#define LOAD_ADDR 0x100000
#define CODE_OFF  0x1000

static size_t emit(unsigned char *p, size_t n, const unsigned char *b, size_t len)
{
	memcpy(p + n, b, len);
	return n + len;
}

static size_t emit_print(unsigned char *p, size_t n, const char *s)
{
	static const unsigned char mov_dx[] = {0x66, 0xba, 0xf8, 0x03}; /* mov dx, 0x3f8 */

	n = emit(p, n, mov_dx, sizeof(mov_dx));
	for (; *s; s++) {
		unsigned char out[] = {0xb0, (unsigned char)*s, 0xee}; /* mov al, c; out dx, al */
		n = emit(p, n, out, sizeof(out));
	}
	return n;
}

static size_t build_code(const char *kind, unsigned char *p)
{
	static const unsigned char idle[] = {0xfb, 0xf4, 0xeb, 0xfd};  /* sti; hlt; jmp hlt */
	static const unsigned char off[] = {0xfa, 0xf4, 0xeb, 0xfd};   /* cli; hlt; jmp hlt */
	static const unsigned char reset[] = {0xb0, 0xfe, 0xe6, 0x64}; /* mov al,0xfe; out 0x64 */
	/* xor ecx, ecx; div ecx: #DE, whose IDT entry is empty: #DF, then shutdown */
	static const unsigned char fault[] = {0x31, 0xc9, 0xf7, 0xf1, 0xf4, 0xeb, 0xfd};
	size_t n = 0;

	if (!strcmp(kind, "first")) {
		n = emit_print(p, n, "X");
		return emit(p, n, idle, sizeof(idle));
	}
	n = emit_print(p, n, "hako-payload ok\n");
	if (!strcmp(kind, "poweroff") || !strcmp(kind, "long64"))
		return emit(p, n, off, sizeof(off));
	if (!strcmp(kind, "reboot"))
		return emit(p, n, reset, sizeof(reset));
	if (!strcmp(kind, "triple"))
		return emit(p, n, fault, sizeof(fault));
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char code[512], note[20];
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[2] = {{0}};
	size_t len;
	int pvh;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: vmm-payload first|poweroff|reboot|triple|long64 OUT\n");
		return 2;
	}
	len = build_code(argv[1], code);
	if (!len) {
		fprintf(stderr, "vmm-payload: unknown kind %s\n", argv[1]);
		return 2;
	}
	pvh = strcmp(argv[1], "long64") != 0;

	/* Xen note: namesz 4, descsz 4, type 18 (PHYS32_ENTRY), "Xen\0", entry. */
	{
		unsigned int w[3] = {4, 4, 18}, entry = LOAD_ADDR;

		memcpy(note, w, 12);
		memcpy(note + 12, "Xen", 4);
		memcpy(note + 16, &entry, 4);
	}
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = LOAD_ADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = pvh ? 2 : 1;
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
	                     .p_flags = PF_R | PF_X,
	                     .p_offset = CODE_OFF,
	                     .p_vaddr = LOAD_ADDR,
	                     .p_paddr = LOAD_ADDR,
	                     .p_filesz = len,
	                     .p_memsz = len,
	                     .p_align = 0x1000};
	ph[1] = (Elf64_Phdr){.p_type = PT_NOTE,
	                     .p_offset = sizeof(eh) + 2 * sizeof(Elf64_Phdr),
	                     .p_filesz = sizeof(note),
	                     .p_align = 4};

	f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fwrite(&eh, sizeof(eh), 1, f);
	fwrite(ph, sizeof(ph), 1, f);
	fwrite(note, sizeof(note), 1, f);
	fseek(f, CODE_OFF, SEEK_SET);
	fwrite(code, len, 1, f);
	if (fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
