// SPDX-License-Identifier: LGPL-2.1-or-later
/* Our exit-reason tables against the kernel's own: VMX_EXIT_REASONS and SVM_EXIT_REASONS
 * from the uapi headers installed by Debian's linux-libc-dev (an independent source). */
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

static const struct kreason kernel_svm[] = { SVM_EXIT_REASONS };
static const struct kreason kernel_vmx[] = { VMX_EXIT_REASONS };

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

static Suite *exit_reasons_suite(void)
{
	Suite *s = suite_create("exit-reasons");
	TCase *tc = tcase_create("tables");
	tcase_add_test(tc, svm_matches_kernel);
	tcase_add_test(tc, vmx_matches_kernel);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(exit_reasons_suite);
