// SPDX-License-Identifier: LGPL-2.1-or-later
/* Catalog loading: the shipped catalog validates; malformed files give one clear error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "catalog/expr.h"
#include "kernel/ktypes.h"
#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

static struct kvmdci_ctx *quiet_ctx(void)
{
	struct kvmdci_ctx *ctx;
	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	return ctx;
}

START_TEST(shipped_catalog)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_catalog *cat = NULL;
	bool svm = false, vmx = false;

	ck_assert_int_eq(kvmdci_catalog_load(ctx, KVMDCI_SRC_CATALOGDIR, &cat), 0);
	for (int i = 0; i < kvmdci_catalog_count(cat); i++) {
		svm |= !strcmp(kvmdci_catalog_entry_name(cat, i), "svm_handle_exit");
		vmx |= !strcmp(kvmdci_catalog_entry_name(cat, i), "vmx_handle_exit");
	}
	ck_assert(svm && vmx);
	ck_assert_ptr_null(kvmdci_catalog_entry_name(cat, -1));
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(ctx);
}
END_TEST

static const char *load_text(const char *text, int *ret)
{
	static char msg[512];
	char path[] = "/tmp/kvmdci-catalog-XXXXXX.json";
	int fd = mkstemps(path, 5);
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_catalog *cat = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*ret = kvmdci_catalog_load(ctx, path, &cat);
	snprintf(msg, sizeof(msg), "%s", kvmdci_ctx_last_error(ctx));
	unlink(path);
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(ctx);
	return msg;
}

#define ENTRY(extra)                                                                               \
	"{\"name\":\"a\",\"description\":\"d\",\"vendor\":\"svm\",\"module\":\"kvm_amd\"," extra "}"

START_TEST(malformed)
{
	int r;
	const char *m;

	m = load_text("{\"format\": 1, \"entries\": [", &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "kvmdci-catalog-") && strstr(m, ":1:"), "message: %s", m);
	m = load_text("{\"format\": 2, \"entries\": []}", &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "\"format\" must be 1"), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[]") "]}", &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "entry 0") && strstr(m, "symbols"), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"],\"vendor2\":1,"
							      "\"captures\":[{\"name\":\"x\"}]") "]}",
		      &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "capture 0"), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"]") ","
							 ENTRY("\"symbols\":[\"g\"]") "]}",
		      &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "duplicate name a"), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"],"
							      "\"added\":\"six\"") "]}",
		      &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "entry 0") && strstr(m, "\"added\" must be a kernel version"),
		      "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"],"
							      "\"inlined_into\":[]") "]}",
		      &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "\"inlined_into\" must be"), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"],"
							      "\"at\":\"vmcall\"") "]}",
		      &r);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(m, "\"at\" must be \"vmxon\""), "message: %s", m);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"],"
							      "\"removed\":\"6.3\","
							      "\"inlined_into\":[\"g\"]") "]}",
		      &r);
	ck_assert_int_eq(r, 0);
	m = load_text("{\"format\": 1, \"entries\": [" ENTRY("\"symbols\":[\"f\"]") "]}", &r);
	ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(missing_file)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_catalog *cat = NULL;
	ck_assert_int_eq(kvmdci_catalog_load(ctx, "/nonexistent/catalog.json", &cat), -ENOENT);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "/nonexistent/catalog.json"));
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* Regression (fuzz/fuzz-core): a kdump header whose page bitmaps lie made libkdumpfile
 * allocate 7 GB; it is refused before libkdumpfile sees it, naming the file. */
START_TEST(dump_header_lies)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_target *t = NULL;
	const char *uri = "core://" KVMDCI_SRC_TESTDATADIR "/kdump-header-oom.bin";

	ck_assert_int_eq(kvmdci_target_open(ctx, uri, &t), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "kdump-header-oom.bin"));
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "bitmap"));
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* Regression (fuzz/fuzz-core): a PT_LOAD whose file offset makes offset + length wrap around
 * passed the bounds check and memcpy read before the mapping. Now every read fails cleanly. */
START_TEST(dump_offset_wraps)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct kvmdci_target *t = NULL;
	uint8_t b[64];
	const char *uri = "core://" KVMDCI_SRC_TESTDATADIR "/elf-core-offset-wrap.bin";

	if (kvmdci_target_open(ctx, uri, &t) == 0) {
		ck_assert_int_lt(kvmdci_target_read_phys(t, 0x1000, b, sizeof(b)), 0);
		ck_assert_int_lt(kvmdci_target_read_phys(t, 0xfffffffffffffff0ULL, b, sizeof(b)), 0);
		for (int i = 0; i < kvmdci_target_cpu_count(t) && i < 4; i++)
			ck_assert_int_lt(kvmdci_target_read_virt(t, i, 0xffffffff81000000ULL, b, 64), 0);
		kvmdci_target_unref(t);
	}
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* Regression (fuzz/fuzz-btf): a raw BTF file whose type section is misaligned is refused,
 * naming the file (every struct btf_type access would be misaligned). */
START_TEST(btf_misaligned)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct ktypes kt = { 0 };
	const char *path = KVMDCI_SRC_TESTDATADIR "/btf-misaligned.bin";

	ck_assert_int_eq(ktypes_load_vmlinux(ctx, &kt, path), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "btf-misaligned.bin"));
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "aligned"));
	ktypes_free(&kt);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* A text file given as vmlinux: one clear error naming the file and what it is not (libbpf's
 * own code 4001 went through strerror: "Unknown error 4001"). */
START_TEST(vmlinux_text_file)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct ktypes kt = { 0 };
	char path[] = "/tmp/kvmdci-test-vmlinux-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a kernel\n", 13), 13);
	close(fd);
	ck_assert_int_eq(ktypes_load_vmlinux(ctx, &kt, path), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), path));
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "not an ELF file"));
	ck_assert_ptr_null(strstr(kvmdci_ctx_last_error(ctx), "Unknown error"));
	ktypes_free(&kt);
	unlink(path);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* A FIFO as vmlinux is refused at once, naming it (open() blocked on it until a writer came). */
START_TEST(vmlinux_fifo)
{
	struct kvmdci_ctx *ctx = quiet_ctx();
	struct ktypes kt = { 0 };
	char dir[] = "/tmp/kvmdci-test-fifo-XXXXXX", path[64];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(ktypes_load_vmlinux(ctx, &kt, path), -EINVAL);
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), path));
	ck_assert_ptr_nonnull(strstr(kvmdci_ctx_last_error(ctx), "FIFO"));
	ck_assert_int_eq(ktypes_add_module(ctx, &kt, "kvm", path), -EINVAL);
	ktypes_free(&kt);
	unlink(path);
	rmdir(dir);
	kvmdci_ctx_unref(ctx);
}
END_TEST

/* The nesting bound counts open parentheses, not every one ever seen: 22 terms '((1))' summed
 * compile (they failed as "nested too deeply" while the depth was never given back), and 70
 * parentheses open at once still fail clearly. */
START_TEST(expr_depth_given_back)
{
	char src[512] = "", err[256];
	struct expr_prog prog;
	uint64_t out = 0;

	for (int i = 0; i < 22; i++)
		strcat(src, i ? " + ((1))" : "((1))");
	ck_assert_msg(expr_compile(NULL, src, &prog, err, sizeof(err)) == 0, "%s: %s", src, err);
	ck_assert_int_eq(expr_eval(&prog, NULL, NULL, NULL, &out), 0);
	ck_assert_uint_eq(out, 22);

	memset(src, 0, sizeof(src));
	memset(src, '(', 70);
	strcat(src, "1");
	memset(src + 71, ')', 70);
	ck_assert_int_eq(expr_compile(NULL, src, &prog, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nested too deeply"));
}
END_TEST

static Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, shipped_catalog);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, dump_header_lies);
	tcase_add_test(tc, dump_offset_wraps);
	tcase_add_test(tc, btf_misaligned);
	tcase_add_test(tc, expr_depth_given_back);
	tcase_add_test(tc, vmlinux_text_file);
	tcase_add_test(tc, vmlinux_fifo);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(catalog_suite);
