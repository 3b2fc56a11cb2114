/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resolve - discovery for the exit-rate benchmark (bench/exits-rate.sh).
 *
 * Attaches to the target with libkvmdci, builds the kernel view ($KVMDCI_VMLINUX,
 * $KVMDCI_SYSTEM_MAP, $KVMDCI_MODULES), prints everything the benchmark's non-libkvmdci
 * clients (gdb, bench/raw-loop) need as shell assignments, and detaches, leaving the target
 * running:
 *
 *   VENDOR=svm|vmx          which of kvm_amd / kvm_intel is loaded
 *   HANDLE_EXIT=0x...       address of kvm_amd:svm_handle_exit or kvm_intel:vmx_handle_exit
 *                           (KASLR applied); SVM_HANDLE_EXIT=0x... too on SVM
 *   VMCB_OFF=N              SVM: byte offset of vmcb in struct vcpu_svm; VMX: '-' (the exit
 *                           reason is in struct vcpu_vmx itself)
 *   EXIT_CODE_OFF=N         SVM: byte offset of control.exit_code in struct vmcb; VMX: of
 *                           exit_reason in struct vcpu_vmx
 *   EXIT_CODE_SIZE=N        its size in bytes (4: a u32)
 *   NVCPUS=N                vCPUs found (kvm:vm_list)
 *   VCPU_0=0x...            struct kvm_vcpu * of vCPU 0 (also struct vcpu_svm *)
 *   STAT_EXITS_0=0x...      &vcpu->stat.exits of vCPU 0
 *   VCPUS="0x... 0x..."     all vCPU addresses, space-separated
 *   STAT_EXITS="0x... ..."  all stat.exits addresses, same order
 *
 * Usage: resolve [URI]   (default: $KVMDCI_TARGET)
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkvmdci/libkvmdci.h>

#define MAX_VCPUS 256

static int fail(struct kvmdci_ctx *ctx, const char *what, int r)
{
	const char *why = ctx ? kvmdci_ctx_last_error(ctx) : "";
	fprintf(stderr, "resolve: %s: %s%s%s\n", what, strerror(-r), *why ? ": " : "", why);
	return 1;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("KVMDCI_TARGET");
	struct kvmdci_ctx *ctx = NULL;
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_member vmcb, code;
	static struct kvmdci_vcpu_info v[MAX_VCPUS];
	uint64_t handler;
	int r, n, status = 1;

	if (!uri || !*uri) {
		fprintf(stderr, "resolve: no target: pass a URI or set $KVMDCI_TARGET\n");
		return 2;
	}
	if ((r = kvmdci_ctx_new(&ctx)) < 0)
		return fail(NULL, "kvmdci_ctx_new", r);
	if ((r = kvmdci_target_open(ctx, uri, &t)) < 0) {
		fail(ctx, uri, r);
		goto out;
	}
	if ((r = kvmdci_kernel_open(t, NULL, &k)) < 0) {
		fail(ctx, "kernel view", r);
		goto out;
	}
	bool vmx = kvmdci_kvm_vendor(k) == KVMDCI_VENDOR_VMX;
	if (!vmx && kvmdci_kvm_vendor(k) != KVMDCI_VENDOR_SVM) {
		fprintf(stderr, "resolve: neither kvm_amd nor kvm_intel is loaded on the target\n");
		goto out;
	}
	const char *sym = vmx ? "kvm_intel:vmx_handle_exit" : "kvm_amd:svm_handle_exit";
	if ((r = kvmdci_kernel_symbol(k, sym, &handler)) < 0) {
		fail(ctx, sym, r);
		goto out;
	}
	if (vmx) {
		/* union vmx_exit_reason (u32) since 5.12 */
		if ((r = kvmdci_kernel_member(k, "kvm_intel", "struct vcpu_vmx", "exit_reason",
					      &code)) < 0) {
			fail(ctx, "struct vcpu_vmx.exit_reason", r);
			goto out;
		}
	} else if ((r = kvmdci_kernel_member(k, "kvm_amd", "struct vcpu_svm", "vmcb", &vmcb)) < 0) {
		fail(ctx, "struct vcpu_svm.vmcb", r);
		goto out;
	} else if ((r = kvmdci_kernel_member(k, "kvm_amd", "struct vmcb", "control.exit_code",
					     &code)) < 0) {
		fail(ctx, "struct vmcb.control.exit_code", r);
		goto out;
	}
	if ((n = kvmdci_kvm_vcpus(k, v, MAX_VCPUS)) < 0) {
		fail(ctx, "vCPU list", n);
		goto out;
	}
	if (n > MAX_VCPUS)
		n = MAX_VCPUS;

	printf("VENDOR=%s\n", vmx ? "vmx" : "svm");
	printf("HANDLE_EXIT=0x%" PRIx64 "\n", handler);
	if (vmx) {
		printf("VMCB_OFF=-\n");
	} else {
		printf("SVM_HANDLE_EXIT=0x%" PRIx64 "\n", handler);
		printf("VMCB_OFF=%" PRIu64 "\n", vmcb.bit_offset / 8);
	}
	printf("EXIT_CODE_OFF=%" PRIu64 "\n", code.bit_offset / 8);
	printf("EXIT_CODE_SIZE=%" PRIu32 "\n", code.size);
	printf("KASLR_OFFSET=0x%" PRIx64 "\n", kvmdci_kernel_kaslr_offset(k));
	printf("NVCPUS=%d\n", n);
	for (int i = 0; i < n; i++) {
		printf("VCPU_%d=0x%" PRIx64 "\n", i, v[i].vcpu);
		printf("STAT_EXITS_%d=0x%" PRIx64 "\n", i, v[i].stat_exits_addr);
	}
	printf("VCPUS=\"");
	for (int i = 0; i < n; i++)
		printf("%s0x%" PRIx64, i ? " " : "", v[i].vcpu);
	printf("\"\nSTAT_EXITS=\"");
	for (int i = 0; i < n; i++)
		printf("%s0x%" PRIx64, i ? " " : "", v[i].stat_exits_addr);
	printf("\"\n");
	status = 0;
out:
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t); /* detaches; the target runs on */
	kvmdci_ctx_unref(ctx);
	return status;
}
