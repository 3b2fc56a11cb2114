// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A kernel view that knows types and nothing else: no target, no symbols, no memory. Enough
 * for code that lays out or decodes kernel structures from type information alone (the unit
 * tests, tests/btf), without the caller knowing struct kvmdci_kernel's layout.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"

int kernel_new_types_only(struct kvmdci_ctx *ctx, const char *vmlinux, enum ktypes_source source,
			  struct kvmdci_kernel **ret)
{
	struct kvmdci_kernel *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->refcount = 1;
	k->ctx = kvmdci_ctx_ref(ctx);
	k->reader = -1;
	k->cache_mode = 0; /* nothing to read, nothing to cache */
	k->cache_epoch = 1;
	k->types.source = source;
	if (vmlinux && (r = ktypes_load_vmlinux(ctx, &k->types, vmlinux)) < 0) {
		kvmdci_kernel_unref(k);
		return r;
	}
	*ret = k;
	return 0;
}

int kernel_add_module_types(struct kvmdci_kernel *k, const char *name, const char *path)
{
	return ktypes_add_module(k->ctx, &k->types, name, path);
}
