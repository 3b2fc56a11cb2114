// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer: opening an ELF core dump (core:// target) and reading from it: program headers,
 * notes (QEMU, NT_PRSTATUS, VMCOREINFO), physical and virtual reads. */
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
	struct kvmdci_target *t = NULL;
	char uri[64];
	uint8_t buf[64];
	int fd = memfd_create("core", 0);

	if (!ctx) {
		kvmdci_ctx_new(&ctx);
		kvmdci_ctx_set_log_priority(ctx, 0);
	}
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(uri, sizeof(uri), "core:///proc/self/fd/%d", fd);
	if (kvmdci_target_open(ctx, uri, &t) == 0) {
		int n = kvmdci_target_cpu_count(t);
		for (int cpu = 0; cpu < n && cpu < 4; cpu++) {
			uint64_t v;
			kvmdci_target_reg_read(t, cpu, "cr3", &v);
			kvmdci_target_read_virt(t, cpu, 0xffffffff81000000ULL, buf, sizeof(buf));
		}
		kvmdci_target_read_phys(t, 0x1000, buf, sizeof(buf));
		kvmdci_target_read_phys(t, 0xfffffffffffffff0ULL, buf, sizeof(buf));
		kvmdci_target_unref(t);
	}
	close(fd);
	return 0;
}
