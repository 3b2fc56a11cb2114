// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: the catalog loader (jansson + validation) on arbitrary file contents. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libkvmdci/libkvmdci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvmdci_ctx *ctx;
	struct kvmdci_catalog *cat = NULL;
	char path[64];
	int fd = memfd_create("catalog", 0);

	if (!ctx) {
		kvmdci_ctx_new(&ctx);
		kvmdci_ctx_set_log_priority(ctx, 0);
	}
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (kvmdci_catalog_load(ctx, path, &cat) == 0) {
		for (int i = 0; i < kvmdci_catalog_count(cat); i++)
			kvmdci_catalog_entry_name(cat, i);
		kvmdci_catalog_unref(cat);
	}
	close(fd);
	return 0;
}
