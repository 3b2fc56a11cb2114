// SPDX-License-Identifier: LGPL-2.1-or-later
/* Choosing VMs and vCPUs as people name them: kvmdci_vm_select_parse and the matchers. */
#include <string.h>

#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

START_TEST(select_parse)
{
	struct kvmdci_vm_select sel, keep = {.vm = 7, .pid = 7, .vcpu_id = 7};

	ck_assert_int_eq(kvmdci_vm_select_parse("0xffff888104a2c000", &sel), 0);
	ck_assert(sel.vm == 0xffff888104a2c000ULL && sel.pid <= 0 && sel.vcpu_id == -1);
	ck_assert_int_eq(kvmdci_vm_select_parse("0XABC", &sel), 0);
	ck_assert_uint_eq(sel.vm, 0xabc);
	ck_assert_int_eq(kvmdci_vm_select_parse("1234", &sel), 0);
	ck_assert(sel.vm == 0 && sel.pid == 1234 && sel.vcpu_id == -1);
	/* what kvmdci-vcpu, -vmcs and -iobus refuse with exit status 2 */
	const char *bad[] = {"",
			     "0x",
			     "0x0",
			     "0",
			     "-5",
			     "12abc",
			     "0xzz",
			     "abc",
			     "99999999999999999999",
			     "0x1ffffffffffffffff",
			     NULL};
	for (int i = 0; bad[i]; i++) {
		sel = keep;
		ck_assert_msg(kvmdci_vm_select_parse(bad[i], &sel) == -EINVAL, "'%s' accepted",
			      bad[i]);
		ck_assert_msg(!memcmp(&sel, &keep, sizeof(sel)), "'%s' changed the selection",
			      bad[i]);
	}
	ck_assert_int_eq(kvmdci_vm_select_parse(NULL, &sel), -EINVAL);
	/* a pid no process can have is a valid selection of nothing */
	ck_assert_int_eq(kvmdci_vm_select_parse("4294967396", &sel), 0);
	ck_assert(sel.pid == 4294967396LL);
}
END_TEST

START_TEST(select_match)
{
	const struct kvmdci_vm_info vm = {.vm = 0xa000, .userspace_pid = 100};
	const struct kvmdci_vcpu_info v0 = {
		.vm = 0xa000, .vcpu = 0xa100, .vcpu_id = 0, .vm_pid = 100};
	const struct kvmdci_vcpu_info v1 = {
		.vm = 0xa000, .vcpu = 0xa200, .vcpu_id = 1, .vm_pid = 100};
	struct kvmdci_vm_select sel = {.vcpu_id = -1};

	ck_assert(kvmdci_vm_select_vm(NULL, &vm) && kvmdci_vm_select_vcpu(NULL, &v1));
	ck_assert(kvmdci_vm_select_vm(&sel, &vm) && kvmdci_vm_select_vcpu(&sel, &v0));
	sel.pid = 100;
	ck_assert(kvmdci_vm_select_vm(&sel, &vm) && kvmdci_vm_select_vcpu(&sel, &v0));
	sel.pid = 101;
	ck_assert(!kvmdci_vm_select_vm(&sel, &vm) && !kvmdci_vm_select_vcpu(&sel, &v0));
	sel = (struct kvmdci_vm_select){.vm = 0xa000, .vcpu_id = 1};
	ck_assert(kvmdci_vm_select_vm(&sel, &vm));
	ck_assert(!kvmdci_vm_select_vcpu(&sel, &v0) && kvmdci_vm_select_vcpu(&sel, &v1));
	sel = (struct kvmdci_vm_select){.pid = 4294967396LL, .vcpu_id = -1};
	ck_assert(!kvmdci_vm_select_vm(&sel, &vm) && !kvmdci_vm_select_vcpu(&sel, &v0));
	sel = (struct kvmdci_vm_select){.vm = 0xa000, .vcpu_id = 1};
	sel.vm = 0xb000;
	ck_assert(!kvmdci_vm_select_vm(&sel, &vm) && !kvmdci_vm_select_vcpu(&sel, &v1));
}
END_TEST

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("vm");
	tcase_add_test(tc, select_parse);
	tcase_add_test(tc, select_match);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(select_suite);
