// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: the BTF input path — a raw BTF file loaded as the kernel's types, then the
 * lookups every tool does (types by name, member paths with anonymous members, bitfields,
 * array indices, sizes) and a capture expression compiled against it. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "catalog/expr.h"
#include "internal.h"
#include "kernel/kernel-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[][2] = {
		{ "struct kvm", "buses[1]" },	       { "struct kvm", "er.basic" },
		{ "struct kvm_io_bus", "range[2].dev" }, { "struct kvm_io_range", "len" },
		{ "union u", "f" },		       { "struct kvm_vcpu", "stat.exits" },
	};
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_ctx *ctx = NULL;
	char path[64], err[256];
	int fd = memfd_create("btf", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	kvmdci_ctx_new(&ctx);
	kvmdci_ctx_set_log_priority(ctx, 0);
	kernel_new_types_only(ctx, &k);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ktypes_load_vmlinux(ctx, kernel_ktypes(k), path) == 0) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			struct ktypes_loc loc;
			kernel_member(k, NULL, paths[i][0], paths[i][1], &loc);
		}
		struct expr_prog prog;
		expr_compile(k,
			     "((struct kvm *)$arg0)->buses[1]->range[0].len + "
			     "((struct kvm *)$arg0)->er.basic",
			     &prog, err, sizeof(err));
	}
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	close(fd);
	return 0;
}
