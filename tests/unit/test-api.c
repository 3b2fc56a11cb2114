// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The rules every handle and call of the public API follows: tunables on the context (the
 * environment only as their default), the last error cleared at each call from outside, and
 * reference counting on each handle.
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "internal.h"
#include "kernel/kernel-internal.h"
#include "test-common.h"

START_TEST(tunable_names)
{
	ck_assert_int_eq(KVMDCI_TUNABLE_COUNT, 13);
	for (int i = 0; i < KVMDCI_TUNABLE_COUNT; i++) {
		const char *name = kvmdci_tunable_name((enum kvmdci_tunable)i);
		const char *env = kvmdci_tunable_env((enum kvmdci_tunable)i);
		char want[64] = "KVMDCI_";

		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(kvmdci_tunable_from_name(name), i);
		/* the variable is the name in capitals: read_cache -> KVMDCI_READ_CACHE */
		for (size_t j = 0; name[j]; j++)
			want[7 + j] =
				(char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
		ck_assert_str_eq(env, want);
	}
	ck_assert_str_eq(kvmdci_tunable_name(KVMDCI_TUNABLE_MAX_WATCHPOINTS), "max_watchpoints");
	ck_assert_ptr_null(kvmdci_tunable_name(KVMDCI_TUNABLE_COUNT));
	ck_assert_ptr_null(kvmdci_tunable_env((enum kvmdci_tunable)-1));
	ck_assert_int_eq(kvmdci_tunable_from_name("no_such_tunable"), -ENOENT);
	ck_assert_int_eq(kvmdci_tunable_from_name(NULL), -ENOENT);
}
END_TEST

START_TEST(tunable_context_over_environment)
{
	struct kvmdci_ctx *ctx;
	const enum kvmdci_tunable t = KVMDCI_TUNABLE_MAX_WATCHPOINTS;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	unsetenv("KVMDCI_MAX_WATCHPOINTS");
	ck_assert_ptr_null(kvmdci_ctx_get_tunable(ctx, t));
	setenv("KVMDCI_MAX_WATCHPOINTS", "7", 1);
	ck_assert_str_eq(kvmdci_ctx_get_tunable(ctx, t), "7"); /* the default, read at use */
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, t, "3"), 0);
	ck_assert_str_eq(kvmdci_ctx_get_tunable(ctx, t), "3");
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, t, "4"), 0); /* replaced, not leaked */
	ck_assert_str_eq(kvmdci_ctx_get_tunable(ctx, t), "4");
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, t, NULL), 0);
	ck_assert_str_eq(kvmdci_ctx_get_tunable(ctx, t), "7");
	unsetenv("KVMDCI_MAX_WATCHPOINTS");
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_COUNT, "1"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "no tunable number 13"));
	ck_assert_ptr_null(kvmdci_ctx_get_tunable(ctx, KVMDCI_TUNABLE_COUNT));
	/* set and left set: freed with the context */
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_READ_CACHE, "0"), 0);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* The library reads the context's value, not the environment's, where both are given. */
START_TEST(tunable_catalog_used)
{
	struct kvmdci_ctx *ctx;
	struct kvmdci_catalog *cat = NULL;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	setenv("KVMDCI_CATALOG", "/nonexistent/catalog.json", 1);
	ck_assert_int_eq(kvmdci_catalog_load(ctx, NULL, &cat), -ENOENT);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "/nonexistent/catalog.json"));
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_CATALOG, KVMDCI_SRC_CATALOGDIR),
			 0);
	ck_assert_int_eq(kvmdci_catalog_load(ctx, NULL, &cat), 0);
	ck_assert_int_gt(kvmdci_catalog_count(cat), 0);
	kvmdci_catalog_unref(cat);
	/* and the other way round: the context says where, the environment is not asked */
	setenv("KVMDCI_CATALOG", KVMDCI_SRC_CATALOGDIR, 1);
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_CATALOG, "/nonexistent/c2"), 0);
	ck_assert_int_eq(kvmdci_catalog_load(ctx, NULL, &cat), -ENOENT);
	unsetenv("KVMDCI_CATALOG");
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* A call that fails without a message of its own no longer shows an earlier call's. */
START_TEST(last_error_cleared_at_entry)
{
	struct kvmdci_ctx *ctx;
	struct kvmdci_catalog *cat = NULL;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx), "");
	ck_assert_int_eq(kvmdci_catalog_load(ctx, "/nonexistent/catalog.json", &cat), -ENOENT);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "/nonexistent/catalog.json"));
	ck_assert_int_eq(kvmdci_catalog_load(ctx, KVMDCI_SRC_CATALOGDIR, &cat), 0);
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx), ""); /* a success leaves nothing behind */
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_COUNT, NULL), -EINVAL);
	ck_assert_str_ne(kvmdci_ctx_last_error(ctx), "");
	ck_assert_int_eq(kvmdci_catalog_find(cat, "no_such_entry"), -ENOENT);
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx), "");
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* Calls the library makes to its own public functions leave the outer call's error alone. */
START_TEST(last_error_nested)
{
	struct kvmdci_ctx *ctx;
	struct kvmdci_ctx **outer = &ctx;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	{
		KVMDCI_API_ENTRY(*outer); /* as an exported function starts */
		kvmdci_set_error(ctx, "outer failure");
		struct kvmdci_catalog *cat = NULL;
		ck_assert_int_eq(kvmdci_catalog_load(ctx, KVMDCI_SRC_CATALOGDIR, &cat), 0);
		ck_assert_str_eq(kvmdci_ctx_last_error(ctx), "outer failure");
		kvmdci_catalog_unref(cat);
	}
	/* the depth went back to 0: the next call clears again */
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_TYPES, NULL), 0);
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx), "");
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* A raw BTF file with struct kvm_vcpu { int vcpu_id; struct kvm_vcpu_stat stat; } */
static void write_btf(const char *path)
{
	struct btf *btf = btf__new_empty();
	int u64, i32, stat, vcpu;
	const void *raw;
	uint32_t size;
	FILE *f;

	ck_assert_ptr_nonnull(btf);
	u64 = btf__add_int(btf, "long long unsigned int", 8, 0);
	i32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	stat = btf__add_struct(btf, "kvm_vcpu_stat", 24);
	ck_assert_int_eq(btf__add_field(btf, "exits", u64, 0, 0), 0);
	ck_assert_int_eq(btf__add_field(btf, "io_exits", u64, 64, 0), 0);
	ck_assert_int_eq(btf__add_field(btf, "halt_exits", u64, 128, 0), 0);
	vcpu = btf__add_struct(btf, "kvm_vcpu", 32);
	ck_assert_int_eq(btf__add_field(btf, "vcpu_id", i32, 0, 0), 0);
	ck_assert_int_eq(btf__add_field(btf, "stat", stat, 64, 0), 0);
	ck_assert_int_gt(vcpu, 0);
	raw = btf__raw_data(btf, &size);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(raw, 1, size, f), size);
	fclose(f);
	btf__free(btf);
}

START_TEST(handles_ref_unref)
{
	char path[] = "/tmp/kvmdci-test-btf-XXXXXX";
	struct kvmdci_ctx *ctx;
	struct kvmdci_kernel *k;
	struct kvmdci_catalog *cat;
	struct kvmdci_vcpu_stats_layout *l;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_btf(path);
	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);

	/* the types tunable on the context decides how the file is read: as DWARF it fails */
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_TYPES, "dwarf"), 0);
	ck_assert_int_eq(kernel_new_types_only(ctx, &k), 0);
	ck_assert_int_lt(ktypes_load_vmlinux(ctx, kernel_ktypes(k), path), 0);
	kvmdci_kernel_unref(k);
	ck_assert_int_eq(kvmdci_ctx_set_tunable(ctx, KVMDCI_TUNABLE_TYPES, "btf"), 0);
	ck_assert_int_eq(kernel_new_types_only(ctx, &k), 0);
	ck_assert_int_eq(ktypes_load_vmlinux(ctx, kernel_ktypes(k), path), 0);

	ck_assert_ptr_eq(kvmdci_kernel_ref(k), k);
	ck_assert_ptr_null(kvmdci_kernel_unref(k)); /* one reference left */
	ck_assert_int_eq(kvmdci_kvm_vcpu_stats_layout(k, &l), 0);
	ck_assert_int_eq(kvmdci_kvm_vcpu_stats_count(l), 3);
	ck_assert_str_eq(kvmdci_kvm_vcpu_stats_name(l, 2), "halt_exits");
	ck_assert_ptr_eq(kvmdci_kvm_vcpu_stats_layout_ref(l), l);
	ck_assert_ptr_null(kvmdci_kvm_vcpu_stats_layout_unref(l));
	ck_assert_int_eq(kvmdci_kvm_vcpu_stats_count(l), 3); /* still there */
	ck_assert_ptr_eq(kvmdci_kvm_vcpu_stats_layout_ref(l), l);
	kvmdci_kvm_vcpu_stats_layout_free(l); /* the 0.1 name drops one reference too */
	ck_assert_ptr_null(kvmdci_kvm_vcpu_stats_layout_unref(l));
	ck_assert_ptr_null(kvmdci_kvm_vcpu_stats_layout_unref(NULL));
	kvmdci_kernel_unref(k);

	ck_assert_int_eq(kvmdci_catalog_load(ctx, KVMDCI_SRC_CATALOGDIR, &cat), 0);
	ck_assert_ptr_eq(kvmdci_catalog_ref(cat), cat);
	ck_assert_ptr_null(kvmdci_catalog_unref(cat));
	ck_assert_int_gt(kvmdci_catalog_count(cat), 0);
	ck_assert_ptr_null(kvmdci_catalog_unref(cat));
	ck_assert_ptr_null(kvmdci_catalog_ref(NULL));
	ck_assert_ptr_null(kvmdci_kernel_ref(NULL));
	ck_assert_ptr_null(kvmdci_trace_ref(NULL));
	ck_assert_ptr_null(kvmdci_exits_ref(NULL));
	ck_assert_ptr_null(kvmdci_unwinder_ref(NULL));
	ck_assert_ptr_null(kvmdci_kvm_stats_ref(NULL));
	ck_assert_ptr_null(kvmdci_kvm_stats_unref(NULL));
	kvmdci_ctx_unref(ctx);
	unlink(path);
}
END_TEST

START_TEST(name_functions_take_enums)
{
	ck_assert_str_eq(kvmdci_vcpu_reg_name(KVMDCI_REG_RIP), "rip");
	ck_assert_str_eq(kvmdci_virt_owner_name(KVMDCI_VIRT_KVM), "kvm");
	ck_assert_str_eq(kvmdci_cpu_mode_name(KVMDCI_CPU_GUEST), "guest");
	ck_assert_str_eq(kvmdci_unwind_end_name(KVMDCI_UNWIND_LOOP), "loop");
	ck_assert_str_eq(kvmdci_vmcs_type_name(KVMDCI_VMCS_TYPE_GUEST), "guest");
	ck_assert_str_eq(kvmdci_vmcs_width_name(KVMDCI_VMCS_WIDTH_NATURAL), "natural");
	ck_assert_str_eq(kvmdci_io_dev_kind_name(KVMDCI_IO_DEV_IOAPIC), "ioapic");
	ck_assert_str_eq(kvmdci_tunable_name(KVMDCI_TUNABLE_READ_PLAN), "read_plan");
	ck_assert_str_eq(kvmdci_kvm_stat_kind_name(KVMDCI_KVM_STAT_LOG_HIST), "log_hist");
	ck_assert_str_eq(kvmdci_kvm_stat_kind_name(KVMDCI_KVM_STAT_UNKNOWN), "unknown");
	ck_assert_ptr_null(kvmdci_kvm_stat_kind_name((enum kvmdci_kvm_stat_kind)7));
	/* out of range: NULL or "unknown", as each documents */
	ck_assert_ptr_null(kvmdci_vcpu_reg_name((enum kvmdci_vcpu_reg)1000));
	ck_assert_str_eq(kvmdci_virt_owner_name((enum kvmdci_virt_owner)-1), "unknown");
}
END_TEST

/*
 * An error that wraps the one before it (the pattern "...: %s", kvmdci_ctx_last_error(ctx)) says
 * its own words once, then the earlier error whole: the message is not formatted into the
 * buffer it reads (a dump traced by kvmdci-exits said "...: ...: r take breakpoints").
 */
START_TEST(last_error_wraps_itself)
{
	struct kvmdci_ctx *ctx;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	kvmdci_set_error(ctx, "core:///x: a dump target cannot run, stop or take breakpoints");
	kvmdci_err(ctx, "cannot set a breakpoint on svm_handle_exit at 0x%llx: %s", 0xffffc0de00ULL,
		   kvmdci_ctx_last_error(ctx));
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx),
			 "cannot set a breakpoint on svm_handle_exit at 0xffffc0de00: core:///x: a "
			 "dump target cannot run, stop or take breakpoints");
	kvmdci_set_error(ctx, "outer: %s", kvmdci_ctx_last_error(ctx));
	ck_assert_str_eq(kvmdci_ctx_last_error(ctx),
			 "outer: cannot set a breakpoint on svm_handle_exit at 0xffffc0de00: "
			 "core:///x: a dump target cannot run, stop or take breakpoints");
	kvmdci_ctx_unref(ctx);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, tunable_names);
	tcase_add_test(tc, tunable_context_over_environment);
	tcase_add_test(tc, tunable_catalog_used);
	tcase_add_test(tc, last_error_cleared_at_entry);
	tcase_add_test(tc, last_error_nested);
	tcase_add_test(tc, last_error_wraps_itself);
	tcase_add_test(tc, handles_ref_unref);
	tcase_add_test(tc, name_functions_take_enums);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(api_suite);
