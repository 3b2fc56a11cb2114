// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Test helper: loads a kernel's vmlinux BTF and modules' split BTF with libkvmdci's type code
 * and answers queries, one per argument:
 *   member:MODULE:TYPE:PATH  -> "bit_offset bitfield_size size"
 *   size:MODULE:TYPE         -> "size"
 *   expr:EXPRESSION          -> the compiled capture program, one op per line
 * MODULE is "-" for vmlinux-then-modules. Usage: btf-probe [--dwarf] VMLINUX MODDIR QUERY...
 * --dwarf (or KVMDCI_TYPES=dwarf): types from DWARF, e.g. a debug vmlinux and a directory of
 * module debug files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/expr.h"
#include "internal.h"
#include "kernel/kernel-internal.h"

static const char *const op_names[] = { "REG", "CONST", "ADD", "LOAD", "BITS",
					"SEXT", "BIN", "NEG", "NOT", "INV" };

int main(int argc, char **argv)
{
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_ctx *ctx = NULL;
	static const char *const mods[][2] = { { "kvm", "kvm.ko" },
					       { "kvm_amd", "kvm-amd.ko" },
					       { "kvm_intel", "kvm-intel.ko" } };
	int status = 0;

	if (kvmdci_ctx_new(&ctx) < 0 || kernel_new_types_only(ctx, &k) < 0)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "--dwarf")) {
		kernel_ktypes(k)->source = KTYPES_DWARF;
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: btf-probe [--dwarf] VMLINUX MODDIR QUERY...\n");
		return 2;
	}
	if (ktypes_load_vmlinux(ctx, kernel_ktypes(k), argv[1]) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", argv[2], mods[i][1]);
		if (ktypes_add_module(ctx, kernel_ktypes(k), mods[i][0], path) < 0)
			goto fail;
	}
	for (int a = 3; a < argc; a++) {
		char *q = strdup(argv[a]), *save = NULL;
		char *kind = strtok_r(q, ":", &save);
		if (!strcmp(kind, "expr")) {
			struct expr_prog prog;
			char err[512];
			if (expr_compile(k, argv[a] + 5, &prog, err, sizeof(err)) < 0) {
				printf("error %s\n", err);
			} else {
				for (int i = 0; i < prog.n; i++)
					printf("%s %llu %u\n", op_names[prog.ops[i].op],
					       (unsigned long long)prog.ops[i].a, prog.ops[i].b);
			}
			printf("end\n");
			free(q);
			continue;
		}
		char *mod = strtok_r(NULL, ":", &save), *type = strtok_r(NULL, ":", &save);
		char *path = strtok_r(NULL, ":", &save);
		struct ktypes_loc loc;
		if (!mod || !type || (!strcmp(kind, "member") && !path)) {
			fprintf(stderr, "bad query %s\n", argv[a]);
			return 2;
		}
		if (!strcmp(kind, "size")) {
			struct kbtf *btf;
			int32_t id;
			if (kernel_type(k, strcmp(mod, "-") ? mod : NULL, type, &btf, &id) < 0)
				printf("missing\n");
			else
				printf("%ld\n", ktypes_size(btf, id));
		} else if (kernel_member(k, strcmp(mod, "-") ? mod : NULL, type, path, &loc) < 0) {
			printf("missing\n");
		} else {
			printf("%llu %u %u\n", (unsigned long long)loc.bit_offset, loc.bitfield_size,
			       loc.size);
		}
		free(q);
	}
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	return status;
fail:
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	return 1;
}
