/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attach - one timed attach for the attach benchmark (bench/attach.sh).
 *
 * Connects to the target and builds the kernel view (kvmdci_target_open, then
 * kvmdci_kernel_open with the files of $KVMDCI_VMLINUX, $KVMDCI_SYSTEM_MAP, $KVMDCI_MODULES,
 * or none: the script unsets them for the debuginfo-less attach), then detaches (the target
 * runs on). Prints one line of shell assignments:
 *
 *   SECONDS_=0.123 PACKETS=3885 BYTES=15000000 SYMS=kallsyms TYPES=BTF,memory KASLR=0x...
 *   VM_LIST=0x... RELEASE=...
 *
 * SECONDS_ is the wall clock from before the connection to the kernel view being ready;
 * PACKETS and BYTES are the transport's packets sent and bytes received over that time;
 * KASLR, VM_LIST (kvm's vm_list) and RELEASE are the answer, the same in both modes.
 *
 * Usage: attach [URI]   (default: $KVMDCI_TARGET)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libkvmdci/libkvmdci.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("KVMDCI_TARGET");
	struct kvmdci_ctx *ctx = NULL;
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_target_stats st;
	struct kvmdci_kernel_source ss, ts;
	uint64_t vm_list = 0;
	int r, status = 1;

	if (!uri || !*uri) {
		fprintf(stderr, "attach: no target: pass a URI or set $KVMDCI_TARGET\n");
		return 2;
	}
	if ((r = kvmdci_ctx_new(&ctx)) < 0) {
		fprintf(stderr, "attach: kvmdci_ctx_new: %s\n", strerror(-r));
		return 1;
	}
	double t0 = now();
	if ((r = kvmdci_target_open(ctx, uri, &t)) < 0 || (r = kvmdci_kernel_open(t, NULL, &k)) < 0) {
		fprintf(stderr, "attach: %s: %s: %s\n", t ? "kernel view" : uri, strerror(-r),
			kvmdci_ctx_last_error(ctx));
		goto out;
	}
	double t1 = now();
	kvmdci_target_get_stats(t, &st);
	if ((r = kvmdci_kernel_symbol(k, "vm_list", &vm_list)) < 0) {
		fprintf(stderr, "attach: vm_list: %s\n", strerror(-r));
		goto out;
	}
	kvmdci_kernel_symbols_source(k, NULL, &ss);
	kvmdci_kernel_types_source(k, NULL, &ts);
	printf("SECONDS_=%.3f PACKETS=%" PRIu64 " BYTES=%" PRIu64 " SYMS=%s TYPES=%s,%s "
	       "KASLR=0x%" PRIx64 " VM_LIST=0x%" PRIx64 " RELEASE=%s\n",
	       t1 - t0, st.packets_sent, st.bytes_received, ss.format ? ss.format : "-",
	       ts.format ? ts.format : "-", ts.kind == KVMDCI_SOURCE_MEMORY ? "memory" : "file",
	       kvmdci_kernel_kaslr_offset(k), vm_list, kvmdci_kernel_release(k));
	status = 0;
out:
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t); /* detaches; the target runs on */
	kvmdci_ctx_unref(ctx);
	return status;
}
