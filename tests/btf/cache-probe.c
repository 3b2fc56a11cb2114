// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Test helper for the on-disk cache of parsed kernel files: loads a System.map and a
 * vmlinux's BTF with libkvmdci's code (cache on or off as the environment says:
 * KVMDCI_KERNEL_CACHE, XDG_CACHE_HOME) and prints "sym NAME ADDR" for a few lookups, then the
 * symbol table in its order, one "ADDR TYPE NAME" line each (not with --lookups: the lookups
 * alone read a table from the cache, a few of its blocks), then "type NAME ID size SIZE" for
 * each type name given (or "type NAME -ERRNO"). The library's debug messages (what the cache
 * did) go to stderr.
 * Usage: cache-probe [--lookups] SYSTEM_MAP VMLINUX [TYPE...]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kernel/ktypes.h"
#include "kernel/symtab.h"

int main(int argc, char **argv)
{
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_ctx *ctx = NULL;
	struct symtab st = { 0 };
	static const char *const names[] = { "linux_banner", "modules", "vm_list", "init_task",
					     "no_such_symbol_at_all" };

	bool lookups_only = argc > 1 && !strcmp(argv[1], "--lookups");

	if (lookups_only) {
		argc--;
		argv++;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: cache-probe [--lookups] SYSTEM_MAP VMLINUX [TYPE...]\n");
		return 2;
	}
	if (kvmdci_ctx_new(&ctx) < 0 || kernel_new_types_only(ctx, &k) < 0)
		return 1;
	kvmdci_ctx_set_log_priority(ctx, KVMDCI_LOG_DEBUG);
	if (symtab_load_system_map(ctx, &st, argv[1]) < 0 ||
	    ktypes_load_vmlinux(ctx, kernel_ktypes(k), argv[2]) < 0)
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		uint64_t a = 0;
		int r = symtab_lookup(&st, names[i], &a, 1);
		printf("sym %s %s%llx\n", names[i], r < 0 ? "-" : "",
		       (unsigned long long)(r < 0 ? (uint64_t)-r : a));
	}
	if (!lookups_only && symtab_checked(&st) < 0)
		return 1;
	for (size_t i = 0; !lookups_only && i < st.n; i++)
		printf("%016llx %c %s\n", (unsigned long long)st.syms[i].addr, st.syms[i].type,
		       st.names + st.syms[i].name);
	for (int i = 3; i < argc; i++) {
		struct kbtf *btf;
		int32_t id = 0;
		int r = ktypes_find(kernel_ktypes(k), NULL, argv[i], &btf, &id);
		if (r < 0)
			printf("type %s %d\n", argv[i], r);
		else /* its size too: read from the type's record, found through its offset */
			printf("type %s %d size %ld\n", argv[i], id, ktypes_size(btf, id));
	}
	/* a table mapped from the cache must become an ordinary one when it grows */
	if (symtab_add(&st, "cache_probe_added", 17, 0x1234, 'T') < 0)
		return 1;
	symtab_sort(&st);
	uint64_t a = 0;
	printf("added %llx\n",
	       symtab_lookup(&st, "cache_probe_added", &a, 0) < 0 ? 0ULL : (unsigned long long)a);
	symtab_free(&st);
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	return 0;
}
