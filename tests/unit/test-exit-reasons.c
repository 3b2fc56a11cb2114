// SPDX-License-Identifier: LGPL-2.1-or-later
/* Our exit-reason tables against the kernel's own: VMX_EXIT_REASONS and SVM_EXIT_REASONS
 * from the uapi headers installed by Debian's linux-libc-dev (an independent source); exit
 * counts aggregated per run, VM and vCPU (kvmdci_exit_stats); the reasons KVM's counters
 * count, against the same headers' codes; a sampled reason's estimate and its interval. */
#include <asm/kvm.h> /* *_VECTOR used by SVM_EXIT_REASONS */
#include <asm/svm.h>
#include <asm/vmx.h>
#include <math.h>
#include <string.h>

#include "kvm/kvm-internal.h"
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

/* The counters that count one reason each: the codes as the kernel's uapi headers name them. */
START_TEST(reason_counters)
{
	static const struct {
		enum kvmdci_vendor v;
		const char *counter;
		uint64_t code;
	} want[] = {
		{ KVMDCI_VENDOR_SVM, "io_exits", SVM_EXIT_IOIO },
		{ KVMDCI_VENDOR_SVM, "halt_exits", SVM_EXIT_HLT },
		{ KVMDCI_VENDOR_SVM, "irq_exits", SVM_EXIT_INTR },
		{ KVMDCI_VENDOR_SVM, "irq_window_exits", SVM_EXIT_VINTR },
		{ KVMDCI_VENDOR_VMX, "io_exits", EXIT_REASON_IO_INSTRUCTION },
		{ KVMDCI_VENDOR_VMX, "halt_exits", EXIT_REASON_HLT },
		{ KVMDCI_VENDOR_VMX, "irq_exits", EXIT_REASON_EXTERNAL_INTERRUPT },
		{ KVMDCI_VENDOR_VMX, "irq_window_exits", EXIT_REASON_INTERRUPT_WINDOW },
		{ KVMDCI_VENDOR_VMX, "nmi_window_exits", EXIT_REASON_NMI_WINDOW },
	};
	size_t k = 0;
	const char *name;
	uint64_t code;

	for (int vi = 0; vi < 2; vi++) {
		enum kvmdci_vendor v = vi ? KVMDCI_VENDOR_VMX : KVMDCI_VENDOR_SVM;
		int i;
		for (i = 0; kvm_exit_reason_counter(v, i, &name, &code) == 0; i++, k++) {
			ck_assert_msg(k < sizeof(want) / sizeof(want[0]) && want[k].v == v &&
					      !strcmp(want[k].counter, name) && want[k].code == code,
				      "%s counter %d: %s for 0x%llx", vi ? "VMX" : "SVM", i, name,
				      (unsigned long long)code);
		}
		ck_assert_int_eq(kvm_exit_reason_counter(v, i, &name, &code), -ERANGE);
	}
	ck_assert_uint_eq(k, sizeof(want) / sizeof(want[0]));
	ck_assert_int_eq(kvm_exit_reason_counter(KVMDCI_VENDOR_NONE, 0, &name, &code), -ERANGE);
}
END_TEST

#define NEAR(a, b) (fabs((a) - (b)) < 0.01)

/* The estimate of a sampled reason: share of the rest, 95% interval (values worked out by
 * hand from the formulas: ratio estimator over windows, binomial, rule of three). */
START_TEST(share_estimate)
{
	double est, err;

	/* four windows, this reason's hits n_k 3,1,4,2 of N_k 5,4,6,5: p = 10/20; the sum of
	 * (n_k - p N_k)^2 = 0.25 + 1 + 1 + 0.25 = 2.5; var = 4/3 * 2.5 / 20^2 = 1/120;
	 * err = 1.96 * 1000 * sqrt(1/120) = 178.92 (above the floor 3/20 * 1000 = 150) */
	double s_nn = 9 + 1 + 16 + 4, s_nN = 15 + 4 + 24 + 10, s_NN = 25 + 16 + 36 + 25;
	kvm_exit_share(1000, 10, 20, 4, s_nn, s_nN, s_NN, &est, &err);
	ck_assert_msg(NEAR(est, 500) && NEAR(err, 178.92), "est %f err %f", est, err);
	/* fewer than two windows: independent hits, var = 0.3 * 0.7 / 100 = 0.0021;
	 * err = 1960 * 0.045826 = 89.82 */
	kvm_exit_share(1000, 30, 100, 1, 0, 0, 0, &est, &err);
	ck_assert_msg(NEAR(est, 300) && NEAR(err, 89.82), "est %f err %f", est, err);
	/* the only reason sampled: no spread, the rule of three: 3 / 50 of 1000 */
	kvm_exit_share(1000, 50, 50, 5, 500, 500, 500, &est, &err);
	ck_assert_msg(NEAR(est, 1000) && NEAR(err, 60), "est %f err %f", est, err);
	/* nothing sampled */
	kvm_exit_share(1000, 0, 0, 3, 0, 0, 0, &est, &err);
	ck_assert(est == 0 && err == 0);
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
	tc = tcase_create("estimates");
	tcase_add_test(tc, reason_counters);
	tcase_add_test(tc, share_estimate);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(exit_reasons_suite);
