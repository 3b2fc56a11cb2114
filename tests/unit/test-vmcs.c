// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMCS field encodings (round trip of every table entry, reserved bits rejected, checked
 * against the kernel's enum vmcs_field values we know by heart from the SDM), SVM intercept
 * names, IA32_DEBUG_INTERFACE bits, and the per-CPU ownership verdict on fake CPUs: a CPU with
 * CR4.VMXE set that KVM did not enable is "foreign".
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"
#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

START_TEST(vmcs_roundtrip)
{
	int n = kvmdci_vmcs_field_count();
	uint32_t prev = 0;

	ck_assert_int_gt(n, 150);
	for (int i = 0; i < n; i++) {
		struct kvmdci_vmcs_field f, g;
		uint32_t enc;
		ck_assert_int_eq(kvmdci_vmcs_field_at(i, &f), 0);
		ck_assert_ptr_nonnull(f.name);
		ck_assert_msg(i == 0 || f.encoding > prev, "table not sorted at %s", f.name);
		prev = f.encoding;
		/* encoding -> name -> encoding */
		ck_assert_int_eq(kvmdci_vmcs_field_decode(f.encoding, &g), 0);
		ck_assert_str_eq(g.name, f.name);
		ck_assert_int_eq(kvmdci_vmcs_field_lookup(f.name, &enc), 0);
		ck_assert_uint_eq(enc, f.encoding);
		/* the components put back together give the encoding */
		ck_assert_uint_eq((uint32_t)(g.high | g.index << 1 | g.type << 10 | g.width << 13),
				  f.encoding);
		ck_assert_int_eq(g.high, 0);
		if (f.width == KVMDCI_VMCS_WIDTH_64) {
			char hi[80];
			ck_assert_int_eq(kvmdci_vmcs_field_decode(f.encoding | 1, &g), 0);
			snprintf(hi, sizeof(hi), "%s_HIGH", f.name);
			ck_assert_str_eq(g.name, hi);
			ck_assert_int_eq(g.high, 1);
			ck_assert_int_eq(kvmdci_vmcs_field_lookup(hi, &enc), 0);
			ck_assert_uint_eq(enc, f.encoding | 1);
		} else {
			ck_assert_int_eq(kvmdci_vmcs_field_decode(f.encoding | 1, &g), -EINVAL);
		}
		/* every reserved bit alone makes the encoding invalid */
		ck_assert_int_eq(kvmdci_vmcs_field_decode(f.encoding | 1u << 12, &g), -EINVAL);
		for (int b = 15; b < 32; b++)
			ck_assert_int_eq(kvmdci_vmcs_field_decode(f.encoding | 1u << b, &g), -EINVAL);
	}
	ck_assert_int_eq(kvmdci_vmcs_field_at(n, NULL), -ERANGE);
}
END_TEST

START_TEST(vmcs_known)
{
	/* SDM Appendix B values (also the kernel's enum vmcs_field) */
	static const struct {
		uint32_t enc;
		const char *name;
		int type, width;
	} k[] = {
		{ 0x0000, "VIRTUAL_PROCESSOR_ID", KVMDCI_VMCS_TYPE_CONTROL, KVMDCI_VMCS_WIDTH_16 },
		{ 0x0812, "GUEST_PML_INDEX", KVMDCI_VMCS_TYPE_GUEST, KVMDCI_VMCS_WIDTH_16 },
		{ 0x201a, "EPT_POINTER", KVMDCI_VMCS_TYPE_CONTROL, KVMDCI_VMCS_WIDTH_64 },
		{ 0x2400, "GUEST_PHYSICAL_ADDRESS", KVMDCI_VMCS_TYPE_EXIT_INFO,
		  KVMDCI_VMCS_WIDTH_64 },
		{ 0x2c04, "HOST_IA32_PERF_GLOBAL_CTRL", KVMDCI_VMCS_TYPE_HOST,
		  KVMDCI_VMCS_WIDTH_64 },
		{ 0x4402, "VM_EXIT_REASON", KVMDCI_VMCS_TYPE_EXIT_INFO, KVMDCI_VMCS_WIDTH_32 },
		{ 0x482e, "VMX_PREEMPTION_TIMER_VALUE", KVMDCI_VMCS_TYPE_GUEST,
		  KVMDCI_VMCS_WIDTH_32 },
		{ 0x6400, "EXIT_QUALIFICATION", KVMDCI_VMCS_TYPE_EXIT_INFO,
		  KVMDCI_VMCS_WIDTH_NATURAL },
		{ 0x681e, "GUEST_RIP", KVMDCI_VMCS_TYPE_GUEST, KVMDCI_VMCS_WIDTH_NATURAL },
		{ 0x6c16, "HOST_RIP", KVMDCI_VMCS_TYPE_HOST, KVMDCI_VMCS_WIDTH_NATURAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
		struct kvmdci_vmcs_field f;
		uint32_t enc;
		ck_assert_int_eq(kvmdci_vmcs_field_decode(k[i].enc, &f), 0);
		ck_assert_str_eq(f.name, k[i].name);
		ck_assert_int_eq(f.type, k[i].type);
		ck_assert_int_eq(f.width, k[i].width);
		ck_assert_int_eq(kvmdci_vmcs_field_lookup(k[i].name, &enc), 0);
		ck_assert_uint_eq(enc, k[i].enc);
	}
	struct kvmdci_vmcs_field f;
	uint32_t enc;
	ck_assert_int_eq(kvmdci_vmcs_field_lookup("guest_rip", &enc), 0); /* any case */
	ck_assert_uint_eq(enc, 0x681e);
	ck_assert_int_eq(kvmdci_vmcs_field_lookup("GUEST_RIP_HIGH", &enc), -ENOENT); /* natural */
	ck_assert_int_eq(kvmdci_vmcs_field_lookup("NO_SUCH_FIELD", &enc), -ENOENT);
	/* well formed but unnamed: components filled, no name */
	ck_assert_int_eq(kvmdci_vmcs_field_decode(0x4c02, &f), -ENOENT);
	ck_assert_ptr_null(f.name);
	ck_assert_int_eq(f.type, KVMDCI_VMCS_TYPE_HOST);
	ck_assert_int_eq(f.index, 1);
	ck_assert_str_eq(kvmdci_vmcs_type_name(KVMDCI_VMCS_TYPE_EXIT_INFO), "exit_info");
	ck_assert_str_eq(kvmdci_vmcs_width_name(KVMDCI_VMCS_WIDTH_NATURAL), "natural");
	ck_assert_ptr_null(kvmdci_vmcs_type_name(4));
}
END_TEST

START_TEST(svm_intercepts)
{
	/* APM vol. 2 table B-1, and the kernel's INTERCEPT_* bit numbers (asm/svm.h) */
	ck_assert_str_eq(kvmdci_svm_intercept_name(0), "cr0_read");
	ck_assert_str_eq(kvmdci_svm_intercept_name(16 + 4), "cr4_write");
	ck_assert_str_eq(kvmdci_svm_intercept_name(32 + 7), "dr7_read");
	ck_assert_str_eq(kvmdci_svm_intercept_name(64 + 14), "exception_14");
	ck_assert_str_eq(kvmdci_svm_intercept_name(96), "intr");
	ck_assert_str_eq(kvmdci_svm_intercept_name(96 + 24), "hlt");
	ck_assert_str_eq(kvmdci_svm_intercept_name(96 + 27), "ioio_prot");
	ck_assert_str_eq(kvmdci_svm_intercept_name(96 + 28), "msr_prot");
	ck_assert_str_eq(kvmdci_svm_intercept_name(96 + 31), "shutdown");
	ck_assert_str_eq(kvmdci_svm_intercept_name(128), "vmrun");
	ck_assert_str_eq(kvmdci_svm_intercept_name(128 + 15), "efer_write_trap");
	ck_assert_str_eq(kvmdci_svm_intercept_name(128 + 16 + 8), "cr8_write_trap");
	ck_assert_str_eq(kvmdci_svm_intercept_name(160 + 2), "invpcid");
	ck_assert_ptr_null(kvmdci_svm_intercept_name(192));
	ck_assert_ptr_null(kvmdci_svm_intercept_name(-1));
	ck_assert_str_eq(kvmdci_vmx_exit_flag_name(31), "failed_vmentry");
	ck_assert_str_eq(kvmdci_vmx_exit_flag_name(27), "enclave_mode");
	ck_assert_ptr_null(kvmdci_vmx_exit_flag_name(3));
}
END_TEST

START_TEST(debug_interface_bits)
{
	struct kvmdci_debug_interface d;

	kvmdci_debug_interface_decode(0x40000000, &d); /* production: disabled and locked */
	ck_assert_int_eq(d.enable, 0);
	ck_assert_int_eq(d.lock, 1);
	ck_assert_int_eq(d.debug_occurred, 0);
	kvmdci_debug_interface_decode(0xc0000001, &d); /* enabled, locked, debugger seen */
	ck_assert_int_eq(d.enable, 1);
	ck_assert_int_eq(d.lock, 1);
	ck_assert_int_eq(d.debug_occurred, 1);
	ck_assert_uint_eq(d.raw, 0xc0000001);
	kvmdci_debug_interface_decode(0x1, &d);
	ck_assert_int_eq(d.enable, 1);
	ck_assert_int_eq(d.lock, 0);
	kvmdci_debug_interface_decode(0x3ffffffe, &d); /* other bits do not leak in */
	ck_assert_int_eq(d.enable + d.lock + d.debug_occurred, 0);
}
END_TEST

/* ---- ownership on fake CPUs: memory, symbols and registers served from tables ---- */

#define PCPU_OFFSETS 0x1000
#define HW_ENABLED 0x20 /* per-CPU bool */
#define VMXAREA 0x28
#define CURRENT_VMCS 0x30
#define NCPU 5

struct fake {
	uint8_t mem[0x10000];
	uint64_t cr4[NCPU];
	int has_cr4[NCPU];
	int in_guest[NCPU];
};

static int f_read(void *data, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = data;
	if (addr + len > sizeof(f->mem))
		return -EFAULT;
	memcpy(buf, f->mem + addr, len);
	return 0;
}

static int f_symbol(void *data, const char *name, uint64_t *addr)
{
	if (!strcmp(name, "__per_cpu_offset"))
		*addr = PCPU_OFFSETS;
	else if (!strcmp(name, "kvm:hardware_enabled"))
		*addr = HW_ENABLED;
	else if (!strcmp(name, "kvm_intel:vmxarea"))
		*addr = VMXAREA;
	else if (!strcmp(name, "kvm_intel:current_vmcs"))
		*addr = CURRENT_VMCS;
	else
		return -ENOENT;
	return 0;
}

static int f_reg(void *data, int cpu, const char *name, uint64_t *val)
{
	struct fake *f = data;
	if (strcmp(name, "cr4") || !f->has_cr4[cpu])
		return -ENOENT;
	*val = f->cr4[cpu];
	return 0;
}

static int f_in_guest(void *data, int cpu, char *why, size_t len)
{
	struct fake *f = data;
	if (f->in_guest[cpu])
		snprintf(why, len, "test says so");
	return f->in_guest[cpu];
}

START_TEST(ownership_verdicts)
{
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_ctx *ctx = NULL;
	struct fake *f = calloc(1, sizeof(*f));
	struct kvmdci_cpu_virt c[NCPU];
	struct virt_env e = { .read = f_read, .symbol = f_symbol, .reg = f_reg,
			      .in_guest = f_in_guest, .ncpus = NCPU, .data = f };
	/* cpu: CR4.VMXE, KVM's hardware_enabled, expected */
	static const struct {
		int vmxe, has_cr4, kvm, guest, owner;
	} want[NCPU] = {
		{ 1, 1, 1, 0, KVMDCI_VIRT_KVM },	  { 1, 1, 0, 0, KVMDCI_VIRT_FOREIGN },
		{ 0, 1, 1, 0, KVMDCI_VIRT_INCONSISTENT }, { 0, 1, 0, 0, KVMDCI_VIRT_OFF },
		{ 0, 0, 1, 1, KVMDCI_VIRT_KVM }, /* in a guest: registers not believed */
	};

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	ck_assert_int_eq(kernel_new_types_only(ctx, &k), 0);
	e.k = k;
	for (int i = 0; i < NCPU; i++) {
		uint64_t off = 0x2000 + 0x1000 * (uint64_t)i;
		memcpy(f->mem + PCPU_OFFSETS + 8 * i, &off, 8);
		f->mem[off + HW_ENABLED] = (uint8_t)want[i].kvm;
		uint64_t area = 0xffff888000100000ull + (uint64_t)i * 0x1000;
		memcpy(f->mem + off + VMXAREA, &area, 8);
		f->cr4[i] = want[i].vmxe ? 0x3726e0 : 0x3706e0; /* bit 13 */
		f->has_cr4[i] = want[i].has_cr4;
		f->in_guest[i] = want[i].guest;
	}
	ck_assert_int_eq(virt_cpus_read(&e, KVMDCI_VENDOR_VMX, c, NCPU), NCPU);
	for (int i = 0; i < NCPU; i++) {
		ck_assert_msg(c[i].owner == want[i].owner, "cpu %d: %s (%s), want %s", i,
			      kvmdci_virt_owner_name(c[i].owner), c[i].reason,
			      kvmdci_virt_owner_name(want[i].owner));
		ck_assert_int_eq(c[i].kvm_on, want[i].kvm);
		ck_assert_str_eq(c[i].kvm_source, "hardware_enabled");
		ck_assert_uint_eq(c[i].vmxarea, 0xffff888000100000ull + (uint64_t)i * 0x1000);
	}
	ck_assert_ptr_nonnull(strstr(c[1].reason, "KVM did not enable it"));
	ck_assert_int_eq(c[4].in_guest, 1);
	/* no CR4 from the target and not in a guest: unknown, and it says why */
	f->in_guest[4] = 0;
	ck_assert_int_eq(virt_cpus_read(&e, KVMDCI_VENDOR_VMX, c, NCPU), NCPU);
	ck_assert_int_eq(c[4].owner, KVMDCI_VIRT_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(c[4].reason, "no CR4"));
	ck_assert_str_eq(kvmdci_virt_owner_name(KVMDCI_VIRT_FOREIGN), "foreign");
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	free(f);
}
END_TEST

static Suite *vmcs_suite(void)
{
	Suite *s = suite_create("vmcs");
	TCase *tc = tcase_create("fields");
	tcase_add_test(tc, vmcs_roundtrip);
	tcase_add_test(tc, vmcs_known);
	tcase_add_test(tc, svm_intercepts);
	tcase_add_test(tc, debug_interface_bits);
	tcase_add_test(tc, ownership_verdicts);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(vmcs_suite);
