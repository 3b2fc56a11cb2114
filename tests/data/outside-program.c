// SPDX-License-Identifier: LGPL-2.1-or-later
/* A program outside the tree, built against an installed libkvmdci with the documented include
 * and pkg-config's flags (lab-install, scripts/package.sh): 0 when opening a missing dump
 * fails with -ENOENT. */
#include <errno.h>
#include <stdio.h>
#include <libkvmdci/libkvmdci.h>

int main(void)
{
	struct kvmdci_ctx *ctx;
	struct kvmdci_target *t = NULL;
	int r;

	if (kvmdci_ctx_new(&ctx) < 0)
		return 1;
	kvmdci_ctx_set_log_priority(ctx, 0);
	r = kvmdci_target_open(ctx, "core:///nonexistent/vmcore", &t);
	printf("%d %s\n", r, kvmdci_ctx_last_error(ctx));
	kvmdci_ctx_unref(ctx);
	return r == -ENOENT ? 0 : 1;
}
