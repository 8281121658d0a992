/* tests/unit/vmm/test_cpuid.c: CPUID masking by feature name, the
 * hypervisor bit, the PVM fixup and per-vCPU APIC ids on a synthetic table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/internal.h"

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 6 * sizeof(c->entries[0]));

	c->nent = 6;
	c->entries[0] = (struct kvm_cpuid_entry2){
	        .function = 1, .ebx = 0x00020800, .ecx = 0x7ffaf3ff, .edx = 0xffffffff};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 7,
	                                          .index = 0,
	                                          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	                                          .ebx = 0xffffffff,
	                                          .ecx = 0xffffffff};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 7,
	                                          .index = 1,
	                                          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	                                          .ebx = 0xffffffff};
	c->entries[3] = (struct kvm_cpuid_entry2){
	        .function = 0x80000001, .ecx = 0xffffffff, .edx = 0xffffffff};
	c->entries[4] = (struct kvm_cpuid_entry2){.function = 0x80000008, .ebx = 0};
	c->entries[5] = (struct kvm_cpuid_entry2){
	        .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
	return c;
}

static void test_mask_names(void **state)
{
	struct kvm_cpuid2 *c = table();
	struct err e = {0};

	(void)state;
	assert_int_equal(
	        vmm_cpuid_apply(c, " avx, xsave,pcid,avx2 ,rdtscp,umip", VMM_HOST_HARDWARE, &e), 0);
	assert_false(c->entries[0].ecx & (1u << 28)); /* avx */
	assert_false(c->entries[0].ecx & (1u << 26)); /* xsave */
	assert_false(c->entries[0].ecx & (1u << 17)); /* pcid */
	assert_true(c->entries[0].ecx & (1u << 0));   /* sse3 kept */
	assert_false(c->entries[1].ebx & (1u << 5));  /* avx2 in 7.0 */
	assert_true(c->entries[2].ebx & (1u << 5));   /* 7.1 untouched */
	assert_false(c->entries[1].ecx & (1u << 2));  /* umip */
	assert_false(c->entries[3].edx & (1u << 27)); /* rdtscp */
	assert_true(c->entries[3].edx & (1u << 26));
	free(c);
}

static void test_hypervisor_and_pvm(void **state)
{
	struct kvm_cpuid2 *c = table();
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_cpuid_apply(c, NULL, VMM_HOST_HARDWARE, &e), 0);
	assert_true(c->entries[0].ecx & (1u << 31));
	assert_int_equal(c->entries[4].ebx, 0); /* no XSAVEERPTR on hardware */
	assert_int_equal(vmm_cpuid_apply(c, "", VMM_HOST_SOFTWARE_PVM, &e), 0);
	assert_int_equal(c->entries[4].ebx, 1u << 2);
	free(c);
}

static void test_unknown_name(void **state)
{
	struct kvm_cpuid2 *c = table();
	struct err e = {0};

	(void)state;
	assert_int_equal(vmm_cpuid_apply(c, "avx,warp_drive", VMM_HOST_HARDWARE, &e), -1);
	assert_string_equal(e.msg, "not supported: cpuid feature 'warp_drive'");
	/* A prefix of a real name is not that name. */
	assert_int_equal(vmm_cpuid_apply(c, "av", VMM_HOST_HARDWARE, &e), -1);
	free(c);
}

static void test_vcpu_apic_id(void **state)
{
	struct kvm_cpuid2 *c = table();

	(void)state;
	vmm_cpuid_set_vcpu(c, 3);
	assert_int_equal(c->entries[0].ebx, 0x03020800);
	assert_int_equal(c->entries[5].edx, 3);
	assert_ptr_equal(vmm_cpuid_find(c, 7, 1), &c->entries[2]);
	assert_null(vmm_cpuid_find(c, 0x12345, 0));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mask_names),
	        cmocka_unit_test(test_hypervisor_and_pvm),
	        cmocka_unit_test(test_unknown_name),
	        cmocka_unit_test(test_vcpu_apic_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
