// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A kernel view that holds type info only (no target, no symbols), for the tests that load
 * types from files. The same two functions as the "kernel" branch's, where they live beside
 * kvmdci_kernel_open(): this file goes away when that branch is merged.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"

int kernel_new_types_only(struct kvmdci_ctx *ctx, struct kvmdci_kernel **ret)
{
	struct kvmdci_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->refcount = 1;
	k->ctx = kvmdci_ctx_ref(ctx);
	k->reader = -1;
	k->cache_mode = -1;
	k->cache_epoch = 1; /* a zeroed cache entry (epoch 0) is never valid */
	*ret = k;
	return 0;
}

struct ktypes *kernel_ktypes(struct kvmdci_kernel *k)
{
	return &k->types;
}
