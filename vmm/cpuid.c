/* vmm/cpuid.c: the CPUID table each vCPU gets: KVM's supported table, minus
 * the features the configuration names, plus the hypervisor bit, the host
 * kind's fixups and each vCPU's APIC id. Names follow Linux's /proc/cpuinfo
 * flags (the same names `clearcpuid=` takes). */
#include <errno.h>
#include <string.h>

#include "vmm/internal.h"

enum reg { EAX, EBX, ECX, EDX };

struct feature {
	const char *name;
	uint32_t fn, idx;
	enum reg reg;
	unsigned int bit;
};

static const struct feature features[] = {
        {"sse3", 1, 0, ECX, 0},
        {"pclmulqdq", 1, 0, ECX, 1},
        {"monitor", 1, 0, ECX, 3},
        {"vmx", 1, 0, ECX, 5},
        {"ssse3", 1, 0, ECX, 9},
        {"fma", 1, 0, ECX, 12},
        {"cx16", 1, 0, ECX, 13},
        {"pcid", 1, 0, ECX, 17},
        {"sse4_1", 1, 0, ECX, 19},
        {"sse4_2", 1, 0, ECX, 20},
        {"x2apic", 1, 0, ECX, 21},
        {"movbe", 1, 0, ECX, 22},
        {"popcnt", 1, 0, ECX, 23},
        {"tsc_deadline_timer", 1, 0, ECX, 24},
        {"aes", 1, 0, ECX, 25},
        {"xsave", 1, 0, ECX, 26},
        {"avx", 1, 0, ECX, 28},
        {"f16c", 1, 0, ECX, 29},
        {"rdrand", 1, 0, ECX, 30},
        {"mtrr", 1, 0, EDX, 12},
        {"pge", 1, 0, EDX, 13},
        {"mca", 1, 0, EDX, 14},
        {"pat", 1, 0, EDX, 16},
        {"pse36", 1, 0, EDX, 17},
        {"clflush", 1, 0, EDX, 19},
        {"ht", 1, 0, EDX, 28},
        {"fsgsbase", 7, 0, EBX, 0},
        {"bmi1", 7, 0, EBX, 3},
        {"hle", 7, 0, EBX, 4},
        {"avx2", 7, 0, EBX, 5},
        {"smep", 7, 0, EBX, 7},
        {"bmi2", 7, 0, EBX, 8},
        {"erms", 7, 0, EBX, 9},
        {"invpcid", 7, 0, EBX, 10},
        {"rtm", 7, 0, EBX, 11},
        {"avx512f", 7, 0, EBX, 16},
        {"avx512dq", 7, 0, EBX, 17},
        {"rdseed", 7, 0, EBX, 18},
        {"adx", 7, 0, EBX, 19},
        {"smap", 7, 0, EBX, 20},
        {"clflushopt", 7, 0, EBX, 23},
        {"clwb", 7, 0, EBX, 24},
        {"sha_ni", 7, 0, EBX, 29},
        {"avx512bw", 7, 0, EBX, 30},
        {"avx512vl", 7, 0, EBX, 31},
        {"umip", 7, 0, ECX, 2},
        {"pku", 7, 0, ECX, 3},
        {"ospke", 7, 0, ECX, 4},
        {"vaes", 7, 0, ECX, 9},
        {"vpclmulqdq", 7, 0, ECX, 10},
        {"rdpid", 7, 0, ECX, 22},
        {"fsrm", 7, 0, EDX, 4},
        {"arch_capabilities", 7, 0, EDX, 29},
        {"xsaveopt", 0xd, 1, EAX, 0},
        {"xsavec", 0xd, 1, EAX, 1},
        {"xgetbv1", 0xd, 1, EAX, 2},
        {"xsaves", 0xd, 1, EAX, 3},
        {"lahf_lm", 0x80000001, 0, ECX, 0},
        {"abm", 0x80000001, 0, ECX, 5},
        {"sse4a", 0x80000001, 0, ECX, 6},
        {"3dnowprefetch", 0x80000001, 0, ECX, 8},
        {"xop", 0x80000001, 0, ECX, 11},
        {"fma4", 0x80000001, 0, ECX, 16},
        {"tbm", 0x80000001, 0, ECX, 21},
        {"topoext", 0x80000001, 0, ECX, 22},
        {"nx", 0x80000001, 0, EDX, 20},
        {"pdpe1gb", 0x80000001, 0, EDX, 26},
        {"rdtscp", 0x80000001, 0, EDX, 27},
};

#define CPUID_HYPERVISOR_BIT 31 /* leaf 1 ECX */
#define CPUID_XSAVEERPTR_BIT 2  /* leaf 0x80000008 EBX */

static uint32_t *reg_of(struct kvm_cpuid_entry2 *en, enum reg r)
{
	switch (r) {
	case EAX:
		return &en->eax;
	case EBX:
		return &en->ebx;
	case ECX:
		return &en->ecx;
	default:
		return &en->edx;
	}
}

struct kvm_cpuid_entry2 *vmm_cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *en = &c->entries[i];

		if (en->function != fn)
			continue;
		if ((en->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && en->index != idx)
			continue;
		return en;
	}
	return NULL;
}

static const struct feature *feature_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strlen(features[i].name) == len && strncmp(features[i].name, name, len) == 0)
			return &features[i];
	return NULL;
}

static int mask_list(struct kvm_cpuid2 *c, const char *list, struct err *e)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const struct feature *f;
		struct kvm_cpuid_entry2 *en;

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			f = feature_by_name(p, len);
			if (!f)
				return err_set(e, EINVAL, "not supported: cpuid feature '%.*s'",
				               (int)len, p);
			en = vmm_cpuid_find(c, f->fn, f->idx);
			if (en)
				*reg_of(en, f->reg) &= ~(1u << f->bit);
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int vmm_cpuid_apply(struct kvm_cpuid2 *c, const char *list, enum vmm_host_kind kind, struct err *e)
{
	struct kvm_cpuid_entry2 *en;

	if (mask_list(c, list, e) < 0)
		return -1;
	en = vmm_cpuid_find(c, 1, 0);
	if (en)
		en->ecx |= 1u << CPUID_HYPERVISOR_BIT;
	/* PVM: Linux's FXSAVE_LEAK workaround runs fnclex, which the PVM
	 * emulator cannot execute; XSAVEERPTR tells the guest it needs none
	 * (see docs/architecture.md, "Software KVM"). */
	if (kind == VMM_HOST_SOFTWARE_PVM) {
		en = vmm_cpuid_find(c, 0x80000008, 0);
		if (en)
			en->ebx |= 1u << CPUID_XSAVEERPTR_BIT;
	}
	return 0;
}

void vmm_cpuid_set_vcpu(struct kvm_cpuid2 *c, unsigned int index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *en = &c->entries[i];

		if (en->function == 1)
			en->ebx = (en->ebx & 0x00ffffff) | ((uint32_t)index << 24);
		else if (en->function == 0xb || en->function == 0x1f)
			en->edx = index;
	}
}
