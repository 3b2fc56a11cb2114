// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The KASLR offset of a target's kernel: VMCOREINFO's KERNELOFFSET where the target carries
 * it, else linux_banner looked for through each CPU at every KASLR step; and VMCOREINFO's
 * kernel page-table root for our own page walk when no CPU shows the host kernel.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-view.h"
#include "target/target-internal.h"

#define KASLR_ALIGN 0x200000ULL   /* CONFIG_PHYSICAL_ALIGN on x86_64 */
#define KASLR_RANGE 0x40000000ULL /* KERNEL_IMAGE_SIZE: 1 GiB */

bool kernel_vmcoreinfo_value(const char *vmci, const char *key, int base, uint64_t *val)
{
	size_t kl = strlen(key);
	for (const char *p = vmci; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			char *end;
			errno = 0;
			*val = strtoull(p + kl + 1, &end, base);
			return !errno && end != p + kl + 1;
		}
	return false;
}

bool kernel_banner_at(struct kvmdci_kernel *k, int cpu, uint64_t addr)
{
	static const char zeros[14];
	char b[14];
	int r = cpu >= 0 ? kvmdci_target_read_virt(k->target, cpu, addr, b, sizeof(b))
			 : kernel_read_physwalk(k, addr, b, sizeof(b));

	k->banner_reads++;
	if (r < 0) {
		/* the first failure, or the first that is more than an unmapped address */
		if (!k->banner_read_errors++ || (k->banner_first_efault && r != -EFAULT)) {
			k->banner_first_efault = r == -EFAULT;
			k->banner_first_bad = addr;
			snprintf(k->banner_first_error, sizeof(k->banner_first_error), "%s",
				 *kvmdci_ctx_last_error(k->ctx) ? kvmdci_ctx_last_error(k->ctx)
								: strerror(-r));
		}
		return false;
	}
	if (!memcmp(b, zeros, sizeof(b)))
		k->banner_zeros++;
	return !memcmp(b, "Linux version ", sizeof(b));
}

static void found(struct kvmdci_kernel *k, uint64_t off, uint64_t linked_banner, int cpu)
{
	kernel_notice_stop(k); /* the reader chosen here counts, not a stop before it */
	k->kaslr = off;
	k->banner_addr = linked_banner + off;
	k->reader = cpu;
	k->reader_valid = cpu >= 0;
	if (cpu >= 0)
		kernel_remember_page_root(k, cpu);
	else
		k->no_reader = true;
}

int kernel_vmcoreinfo_pgt(struct kvmdci_kernel *k)
{
	const char *vmci = target_vmcoreinfo(k->target);
	uint64_t pgt, phys_base, l5 = 0;

	/* __pa_symbol(): vaddr - __START_KERNEL_map (x86-64 ABI) + phys_base */
	if (!vmci || !kernel_vmcoreinfo_value(vmci, "SYMBOL(init_top_pgt)", 16, &pgt) ||
	    !kernel_vmcoreinfo_value(vmci, "NUMBER(phys_base)", 10, &phys_base))
		return -ENOENT;
	kernel_vmcoreinfo_value(vmci, "NUMBER(pgtable_l5_enabled)", 10, &l5);
	k->kcr3 = pgt - 0xffffffff80000000ULL + phys_base;
	k->la57 = l5 != 0;
	k->have_kcr3 = true;
	return 0;
}

static int fail_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner);

/* linux_banner through each CPU at every KASLR step. */
static int scan_banner(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	int n = kvmdci_target_cpu_count(k->target);

	for (int cpu = 0; cpu < n; cpu++)
		for (uint64_t off = 0; off < KASLR_RANGE; off += KASLR_ALIGN)
			if (kernel_banner_at(k, cpu, linked_banner + off)) {
				found(k, off, linked_banner, cpu);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how),
					 "linux_banner found through CPU %d", cpu);
				return 0;
			}
	return -ENOENT;
}

/* Does some CPU run in the upper (kernel) half? Not one in a nested guest or user space. */
static bool some_cpu_in_kernel_half(struct kvmdci_kernel *k)
{
	static const char *const rip[] = { "rip" };
	int n = kvmdci_target_cpu_count(k->target);

	for (int cpu = 0; cpu < n; cpu++) {
		uint64_t v;
		if (kvmdci_target_regs_read(k->target, cpu, rip, &v, 1) == 0 && (v >> 63))
			return true;
	}
	return false;
}

/*
 * The KASLR offset: VMCOREINFO's KERNELOFFSET when the target carries it (a dump), else
 * found by reading linux_banner through each CPU at every 2 MiB step below 1 GiB. When no
 * CPU's paging shows the host kernel (all in nested guests at dump time), VMCOREINFO's
 * init_top_pgt and phys_base give the kernel page tables for our own walk.
 */
int kernel_find_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	const char *vmci = target_vmcoreinfo(k->target);
	int n = kvmdci_target_cpu_count(k->target);
	uint64_t off;

	if (vmci && kernel_vmcoreinfo_value(vmci, "KERNELOFFSET", 16, &off)) {
		for (int cpu = 0; cpu < n; cpu++)
			if (kernel_banner_at(k, cpu, linked_banner + off)) {
				found(k, off, linked_banner, cpu);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how), "VMCOREINFO KERNELOFFSET");
				return 0;
			}
		if (kernel_vmcoreinfo_pgt(k) == 0) {
			if (kernel_banner_at(k, -1, linked_banner + off)) {
				kvmdci_info(k->ctx, "no CPU shows the host kernel's paging; reading "
						    "through init_top_pgt from VMCOREINFO");
				found(k, off, linked_banner, -1);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how), "VMCOREINFO KERNELOFFSET");
				return 0;
			}
		}
		kvmdci_warn(k->ctx, "VMCOREINFO's KERNELOFFSET 0x%llx does not match the symbols; "
				    "searching", (unsigned long long)off);
	}
	if (scan_banner(k, linked_banner) == 0)
		return 0;
	/* When a CPU was in the kernel half already, the symbols do not match: no retry. */
	if (kernel_run_until_in_kernel(k))
		return scan_banner(k, linked_banner) == 0 ? 0 : fail_kaslr(k, linked_banner);
	return fail_kaslr(k, linked_banner);
}

/*
 * On a busy host every CPU may be in a nested guest (or user space) at the moment of the
 * attach (seen on the lab with 2 busy vCPUs, about 1 attach in 40, and more often under load):
 * let the machine run a moment until a CPU is in the kernel half, up to 40 times.
 */
bool kernel_run_until_in_kernel(struct kvmdci_kernel *k)
{
	if (some_cpu_in_kernel_half(k))
		return false;
	for (int i = 0; i < 40 && target_has_run_control(k->target); i++) {
		struct kvmdci_stop st;
		if (i == 0)
			kvmdci_info(k->ctx, "no CPU shows the host kernel now; letting %s run a moment",
				    kvmdci_target_get_uri(k->target));
		if (kvmdci_target_resume(k->target) < 0 ||
		    kvmdci_target_wait(k->target, 5 + 5 * i, &st) < 0 ||
		    target_halt(k->target, &st) < 0)
			break;
		if (some_cpu_in_kernel_half(k))
			return true;
	}
	return false;
}

static int fail_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	const char *uri = kvmdci_target_get_uri(k->target);
	const char *lost = kvmdci_ctx_target_lost(k->ctx);

	/* what failed first (the reads), then the hypothesis */
	if (lost) {
		kvmdci_err(k->ctx, "looking for linux_banner (linked at 0x%llx) failed: %s",
			   (unsigned long long)linked_banner, lost);
		return -EPIPE;
	}
	if (k->banner_reads && k->banner_read_errors == k->banner_reads) {
		kvmdci_err(k->ctx, "cannot read the memory of %s: all %u reads looking for "
				   "linux_banner failed, the first at 0x%llx (%s); the stub or dump "
				   "does not give the kernel's memory",
			   uri, k->banner_reads, (unsigned long long)k->banner_first_bad,
			   k->banner_first_error);
		return -EIO;
	}
	if (k->banner_reads && k->banner_zeros + k->banner_read_errors == k->banner_reads) {
		kvmdci_err(k->ctx, "the memory of %s reads as zeros: %u reads looking for "
				   "linux_banner (linked at 0x%llx) found only zeroed bytes%s%s%s; "
				   "the stub or dump does not give the kernel's memory",
			   uri, k->banner_reads, (unsigned long long)linked_banner,
			   k->banner_read_errors ? " or failed (" : "",
			   k->banner_read_errors ? k->banner_first_error : "",
			   k->banner_read_errors ? ")" : "");
		return -EIO;
	}
	kvmdci_err(k->ctx, "linux_banner (linked at 0x%llx) not found in the memory of any CPU of %s "
			   "at any KASLR offset (%u reads, %u failed): does the System.map match the "
			   "running kernel, and is a CPU in the host kernel?",
		   (unsigned long long)linked_banner, uri, k->banner_reads, k->banner_read_errors);
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_kernel_phys_base(struct kvmdci_kernel *k, uint64_t *phys_base)
{
	KVMDCI_API_ENTRY(k->ctx);
	const char *vmci = target_vmcoreinfo(k->target);
	uint64_t v, text, pa;
	int r;

	if (vmci && kernel_vmcoreinfo_value(vmci, "NUMBER(phys_base)", 10, &v)) {
		*phys_base = v;
		return 0;
	}
	/* __pa_symbol(x) = x - __START_KERNEL_map + phys_base (x86-64 ABI) */
	if ((r = kvmdci_kernel_symbol(k, "vmlinux:_text", &text)) < 0) {
		kvmdci_set_error(k->ctx, "phys_base: the kernel has no symbol _text (and the target "
				 "carries no VMCOREINFO)");
		return r;
	}
	if ((r = kvmdci_kernel_virt_to_phys(k, text, &pa)) < 0)
		return r;
	*phys_base = pa - (text - 0xffffffff80000000ULL);
	return 0;
}
