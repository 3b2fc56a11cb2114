// SPDX-License-Identifier: LGPL-2.1-or-later
/* Our exit-reason tables against the kernel's own: VMX_EXIT_REASONS and SVM_EXIT_REASONS
 * from the uapi headers installed by Debian's linux-libc-dev (an independent source); exit
 * counts aggregated per run, VM and vCPU (kvmdci_exit_stats). */
#include <asm/kvm.h> /* *_VECTOR used by SVM_EXIT_REASONS */
#include <asm/svm.h>
#include <asm/vmx.h>
#include <string.h>

#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

struct kreason {
	unsigned long long code;
	const char *name;
};

static const struct kreason kernel_svm[] = {SVM_EXIT_REASONS};
static const struct kreason kernel_vmx[] = {VMX_EXIT_REASONS};

START_TEST(svm_matches_kernel)
{
	for (size_t i = 0; i < sizeof(kernel_svm) / sizeof(kernel_svm[0]); i++) {
		unsigned long long code = (unsigned int)kernel_svm[i].code;
		const char *ours = kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, code);
		ck_assert_msg(ours && !strcmp(ours, kernel_svm[i].name),
			      "SVM exit 0x%llx: kernel says '%s', we say '%s'", code,
			      kernel_svm[i].name, ours ? ours : "(none)");
	}
	ck_assert_str_eq(kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, SVM_EXIT_IOIO), "io");
	ck_assert_str_eq(kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, SVM_EXIT_HLT), "hlt");
	ck_assert_str_eq(kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, SVM_EXIT_NPF), "npf");
	ck_assert_ptr_null(kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, 0x1234));
}
END_TEST

START_TEST(vmx_matches_kernel)
{
	for (size_t i = 0; i < sizeof(kernel_vmx) / sizeof(kernel_vmx[0]); i++) {
		const char *ours = kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, kernel_vmx[i].code);
		ck_assert_msg(ours && !strcmp(ours, kernel_vmx[i].name),
			      "VMX exit %llu: kernel says '%s', we say '%s'", kernel_vmx[i].code,
			      kernel_vmx[i].name, ours ? ours : "(none)");
	}
	ck_assert_str_eq(kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, EXIT_REASON_IO_INSTRUCTION),
			 "IO_INSTRUCTION");
	ck_assert_ptr_null(kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, 5));
	ck_assert_ptr_null(kvmdci_exit_reason_name(KVMDCI_VENDOR_NONE, 30));
}
END_TEST

/* Rows as a watch-trigger run on two VMs leaves them: two vCPUs of VM A, one of VM B; VM B's
 * vCPU and a row with the unreadable sentinel come between A's rows. */
static const struct kvmdci_exit_count rows[] = {
	{.vm = 0xa000,
	 .vcpu = 0xa100,
	 .vcpu_id = 0,
	 .vm_pid = 100,
	 .code = SVM_EXIT_IOIO,
	 .count = 5},
	{.vm = 0xb000,
	 .vcpu = 0xb100,
	 .vcpu_id = 0,
	 .vm_pid = 200,
	 .code = SVM_EXIT_HLT,
	 .count = 7},
	{.vm = 0xa000,
	 .vcpu = 0xa200,
	 .vcpu_id = 1,
	 .vm_pid = 100,
	 .code = SVM_EXIT_IOIO,
	 .count = 3},
	{.vm = 0xa000,
	 .vcpu = 0xa100,
	 .vcpu_id = 0,
	 .vm_pid = 100,
	 .code = SVM_EXIT_NPF,
	 .count = 8},
	{.vm = 0xb000,
	 .vcpu = 0xb100,
	 .vcpu_id = 0,
	 .vm_pid = 200,
	 .code = KVMDCI_EXIT_CODE_UNREADABLE,
	 .count = 1},
	{.vm = 0xa000,
	 .vcpu = 0xa200,
	 .vcpu_id = 1,
	 .vm_pid = 100,
	 .code = SVM_EXIT_HLT,
	 .count = 1},
};

static void check_reason(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope, int g,
			 int i, uint64_t code, uint64_t count)
{
	struct kvmdci_exit_reason_count rc;
	ck_assert_int_eq(kvmdci_exit_stats_reason(s, scope, g, i, &rc), 0);
	ck_assert_msg(rc.code == code && rc.count == count,
		      "scope %d group %d reason %d: 0x%llx x %llu, expected 0x%llx x %llu", scope,
		      g, i, (unsigned long long)rc.code, (unsigned long long)rc.count,
		      (unsigned long long)code, (unsigned long long)count);
}

START_TEST(stats_all)
{
	struct kvmdci_exit_stats *s = NULL;
	struct kvmdci_exit_group g;
	struct kvmdci_exit_reason_count rc;

	ck_assert_int_eq(kvmdci_exit_stats_new(rows, 6, &s), 0);
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_ALL), 1);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_ALL, 0, &g), 0);
	ck_assert_uint_eq(g.total, 25);
	ck_assert_int_eq(g.reasons, 4);
	ck_assert_int_eq(g.vm_pid, -1);
	/* by count, largest first; hlt, ioio and npf tie at 8: lower code first */
	check_reason(s, KVMDCI_EXIT_SCOPE_ALL, 0, 0, SVM_EXIT_HLT, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_ALL, 0, 1, SVM_EXIT_IOIO, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_ALL, 0, 2, SVM_EXIT_NPF, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_ALL, 0, 3, KVMDCI_EXIT_CODE_UNREADABLE, 1);
	ck_assert_int_eq(kvmdci_exit_stats_reason(s, KVMDCI_EXIT_SCOPE_ALL, 0, 4, &rc), -ERANGE);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_ALL, 1, &g), -ERANGE);
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, (enum kvmdci_exit_scope)7), -EINVAL);
	ck_assert_ptr_null(kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, KVMDCI_EXIT_CODE_UNREADABLE));
	ck_assert_ptr_null(kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, KVMDCI_EXIT_CODE_UNREADABLE));
	ck_assert_ptr_eq(kvmdci_exit_stats_ref(s), s);
	ck_assert_ptr_null(kvmdci_exit_stats_unref(s));
	ck_assert_ptr_null(kvmdci_exit_stats_unref(s));
}
END_TEST

START_TEST(stats_vm_vcpu)
{
	struct kvmdci_exit_stats *s = NULL;
	struct kvmdci_exit_group g;

	ck_assert_int_eq(kvmdci_exit_stats_new(rows, 6, &s), 0);
	/* VMs in the order of their first row: A, then B */
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_VM), 2);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VM, 0, &g), 0);
	ck_assert(g.vm == 0xa000 && g.vm_pid == 100 && g.total == 17 && g.reasons == 3);
	check_reason(s, KVMDCI_EXIT_SCOPE_VM, 0, 0, SVM_EXIT_IOIO, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_VM, 0, 1, SVM_EXIT_NPF, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_VM, 0, 2, SVM_EXIT_HLT, 1);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VM, 1, &g), 0);
	ck_assert(g.vm == 0xb000 && g.vm_pid == 200 && g.total == 8 && g.reasons == 2);
	/* vCPUs in the order of their first row: A0, B0, A1 */
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_VCPU), 3);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VCPU, 0, &g), 0);
	ck_assert(g.vcpu == 0xa100 && g.vm == 0xa000 && g.vcpu_id == 0 && g.total == 13);
	check_reason(s, KVMDCI_EXIT_SCOPE_VCPU, 0, 0, SVM_EXIT_NPF, 8);
	check_reason(s, KVMDCI_EXIT_SCOPE_VCPU, 0, 1, SVM_EXIT_IOIO, 5);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VCPU, 1, &g), 0);
	ck_assert(g.vcpu == 0xb100 && g.vm_pid == 200 && g.total == 8);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VCPU, 2, &g), 0);
	ck_assert(g.vcpu == 0xa200 && g.vcpu_id == 1 && g.total == 4 && g.reasons == 2);
	check_reason(s, KVMDCI_EXIT_SCOPE_VCPU, 2, 0, SVM_EXIT_IOIO, 3);
	check_reason(s, KVMDCI_EXIT_SCOPE_VCPU, 2, 1, SVM_EXIT_HLT, 1);
	kvmdci_exit_stats_unref(s);
}
END_TEST

START_TEST(stats_empty)
{
	struct kvmdci_exit_stats *s = NULL, *keep = (struct kvmdci_exit_stats *)&rows;
	struct kvmdci_exit_group g;

	ck_assert_int_eq(kvmdci_exit_stats_new(NULL, 0, &s), 0);
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_ALL), 1);
	ck_assert_int_eq(kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_ALL, 0, &g), 0);
	ck_assert(g.total == 0 && g.reasons == 0);
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_VM), 0);
	ck_assert_int_eq(kvmdci_exit_stats_group_count(s, KVMDCI_EXIT_SCOPE_VCPU), 0);
	kvmdci_exit_stats_unref(s);
	/* bad arguments leave @ret alone */
	ck_assert_int_eq(kvmdci_exit_stats_new(NULL, 3, &keep), -EINVAL);
	ck_assert_int_eq(kvmdci_exit_stats_new(rows, -1, &keep), -EINVAL);
	ck_assert_ptr_eq(keep, (void *)&rows);
}
END_TEST

static Suite *exit_reasons_suite(void)
{
	Suite *s = suite_create("exit-reasons");
	TCase *tc = tcase_create("tables");
	tcase_add_test(tc, svm_matches_kernel);
	tcase_add_test(tc, vmx_matches_kernel);
	suite_add_tcase(s, tc);
	tc = tcase_create("aggregate");
	tcase_add_test(tc, stats_all);
	tcase_add_test(tc, stats_vm_vcpu);
	tcase_add_test(tc, stats_empty);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(exit_reasons_suite);
