// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: the capture-expression compiler against a real kernel's BTF (the lab's 6.1
 * vmlinux and kvm modules: $KVMDCI_FUZZ_KDIR, default ~/.cache/kvmdci-lab/kernels/<first>),
 * and the evaluator on a fake memory that returns the address as data. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/expr.h"
#include "internal.h"
#include "kernel/kernel-internal.h"

static struct kvmdci_kernel *k;
static struct kvmdci_ctx *ctx;

static int fake_read(void *data, uint64_t addr, void *buf, size_t len, const struct expr_op *op)
{
	(void)data;
	(void)op;
	if (len > 8)
		return -EINVAL;
	memcpy(buf, &addr, len);
	return addr & 1 ? -EFAULT : 0;
}

static int setup(void)
{
	char dir[1024], path[1200];
	const char *kdir = getenv("KVMDCI_FUZZ_KDIR");
	if (!kdir) {
		snprintf(dir, sizeof(dir), "%s/.cache/kvmdci-lab/kernels", getenv("HOME"));
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, "6.1.", 4)) {
				strncat(dir, "/", sizeof(dir) - strlen(dir) - 1);
				strncat(dir, de->d_name, sizeof(dir) - strlen(dir) - 1);
				break;
			}
		if (d)
			closedir(d);
		kdir = dir;
	}
	kvmdci_ctx_new(&ctx);
	kvmdci_ctx_set_log_priority(ctx, 0);
	kernel_new_types_only(ctx, &k);
	snprintf(path, sizeof(path), "%s/vmlinux", kdir);
	if (ktypes_load_vmlinux(ctx, kernel_ktypes(k), path) < 0) {
		fprintf(stderr, "fuzz-expr: no BTF at %s (set KVMDCI_FUZZ_KDIR; kvmdci-lab build)\n",
			path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/modules/kvm-amd.ko", kdir);
	ktypes_add_module(ctx, kernel_ktypes(k), "kvm_amd", path);
	snprintf(path, sizeof(path), "%s/modules/kvm-intel.ko", kdir);
	ktypes_add_module(ctx, kernel_ktypes(k), "kvm_intel", path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char src[1100], err[512];
	struct expr_prog prog;
	uint64_t regs[EXPR_MAX_REGS] = { 0x1000, 0x2000, 3, 4, 5, 6, 7, 8 }, out;

	if (!ready)
		ready = !setup();
	if (size >= sizeof(src))
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	if (expr_compile(k, src, &prog, err, sizeof(err)) == 0)
		expr_eval(&prog, regs, fake_read, NULL, &out);
	return 0;
}
