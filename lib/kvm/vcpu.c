// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One vCPU decoded: kvm_vcpu's scheduling fields, the thread that runs it (vcpu->pid, a
 * struct pid __rcu *), and the registers KVM keeps in kvm_vcpu_arch. On VMX some of these are
 * read from the VMCS on demand and their kvm_vcpu_arch copy is only current while their bit
 * is set in regs_avail (arch/x86/kvm/kvm_cache_regs.h, vmx.h VMX_REGS_LAZY_LOAD_SET; the bits
 * are cleared at every exit). The bit numbers come from the target's enum kvm_reg.
 */
#include <bpf/btf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kernel/kernel-view.h"
#include "kvm/kvm-internal.h"
#include "target/target-internal.h"

/* One read covers the vCPU fields we decode; more than this is a broken type. */
#define MAX_VCPU_SPAN (64 * 1024)

struct vcpu_layout {
	uint64_t mode, pid, regs, regs_avail, regs_dirty, cr[3], efer, nregs;
	uint64_t pid_nr, rip;
	bool has_mode, has_pid, has_regs_avail, has_pid_nr, has_rip;
	/* regs_avail bit of each lazily loaded register on VMX, -1 when unknown */
	int lazy_bit[KVMDCI_NR_REGS];
};

static const char *const reg_names[KVMDCI_NR_REGS] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8",  "r9",   "r10",
	"r11", "r12", "r13", "r14", "r15", "rip", "cr0", "cr3", "cr4", "efer",
};

KVMDCI_EXPORT const char *kvmdci_vcpu_reg_name(enum kvmdci_vcpu_reg reg)
{
	return reg >= 0 && reg < KVMDCI_NR_REGS ? reg_names[reg] : NULL;
}

/* The anonymous enum of kvm_vcpu.mode in include/linux/kvm_host.h (unchanged since 4.13). */
KVMDCI_EXPORT const char *kvmdci_vcpu_mode_name(int mode)
{
	static const char *const names[] = {"outside_guest", "in_guest", "exiting_guest",
					    "reading_spt"};
	return mode >= 0 && mode < (int)ARRAY_SIZE(names) ? names[mode] : "unknown";
}

int kvm_reg_bit(struct kvmdci_kernel *k, const char *name)
{
	int64_t v;

	if (kernel_enum_value(k, "kvm", "enum kvm_reg", name, &v) < 0)
		return -ENOENT;
	return v >= 0 && v < 32 ? (int)v : -ERANGE;
}

static int vcpu_layout_get(struct kvmdci_kernel *k, struct vcpu_layout *v)
{
	/* the register and its enum kvm_reg names: VCPU_REGS_RIP and VCPU_EXREG_* were renamed
	 * VCPU_REG_* when RIP left regs[] (Debian's 7.2) */
	static const char *const lazy[][3] = {
		{"rsp", "VCPU_REGS_RSP", NULL},
		{"rip", "VCPU_REGS_RIP", "VCPU_REG_RIP"},
		{"cr0", "VCPU_EXREG_CR0", "VCPU_REG_CR0"},
		{"cr3", "VCPU_EXREG_CR3", "VCPU_REG_CR3"},
		{"cr4", "VCPU_EXREG_CR4", "VCPU_REG_CR4"},
	};
	static const char *const crs[] = {"arch.cr0", "arch.cr3", "arch.cr4"};
	uint64_t size;
	int r;

	memset(v, 0, sizeof(*v));
	if ((r = kernel_member_offset(k, NULL, "struct kvm_vcpu", "arch.regs", &v->regs, &size)) <
		    0 ||
	    (r = kernel_member_offset(k, NULL, "struct kvm_vcpu", "arch.efer", &v->efer, NULL)) < 0)
		return r;
	v->nregs = size / 8;
	/* RIP: regs[VCPU_REGS_RIP], or its own member where regs[] holds only the general
	 * purpose registers (Debian's 7.2: arch.rip) */
	v->has_rip = kernel_member_offset(k, NULL, "struct kvm_vcpu", "arch.rip", &v->rip, NULL) == 0;
	for (int i = 0; i < 3; i++)
		if ((r = kernel_member_offset(k, NULL, "struct kvm_vcpu", crs[i], &v->cr[i],
					      NULL)) < 0)
			return r;
	v->has_mode = kernel_member_offset(k, NULL, "struct kvm_vcpu", "mode", &v->mode, NULL) == 0;
	v->has_pid = kernel_member_offset(k, NULL, "struct kvm_vcpu", "pid", &v->pid, NULL) == 0;
	v->has_pid_nr =
		kernel_member_offset(k, NULL, "struct pid", "numbers[0].nr", &v->pid_nr, NULL) == 0;
	v->has_regs_avail = kernel_member_offset(k, NULL, "struct kvm_vcpu", "arch.regs_avail",
						 &v->regs_avail, NULL) == 0 &&
			    kernel_member_offset(k, NULL, "struct kvm_vcpu", "arch.regs_dirty",
						 &v->regs_dirty, NULL) == 0;
	for (int i = 0; i < KVMDCI_NR_REGS; i++)
		v->lazy_bit[i] = -1;
	for (size_t i = 0; i < ARRAY_SIZE(lazy); i++) {
		int reg = 0;
		while (strcmp(reg_names[reg], lazy[i][0]))
			reg++;
		v->lazy_bit[reg] = kvm_reg_bit(k, lazy[i][1]);
		if (v->lazy_bit[reg] < 0 && lazy[i][2])
			v->lazy_bit[reg] = kvm_reg_bit(k, lazy[i][2]);
		if (v->lazy_bit[reg] < 0)
			kvmdci_info(kvmdci_kernel_get_ctx(k),
				    "type info: no %s in enum kvm_reg; %s counts as not "
				    "cached on VMX",
				    lazy[i][1], lazy[i][0]);
	}
	return 0;
}

static void span(uint64_t o, uint64_t len, uint64_t *lo, uint64_t *hi)
{
	if (o < *lo)
		*lo = o;
	if (o + len > *hi)
		*hi = o + len;
}

/* The bytes of struct kvm_vcpu kvmdci_kvm_vcpu_state reads in one piece: [*lo, *hi) (both
 * start as UINT64_MAX and 0); returns how many of regs[] are decoded. */
static uint64_t vcpu_span(const struct vcpu_layout *v, uint64_t *lo, uint64_t *hi)
{
	uint64_t nregs = v->nregs < KVMDCI_REG_RIP + 1 ? v->nregs : KVMDCI_REG_RIP + 1;
	span(v->regs, nregs * 8, lo, hi);
	span(v->efer, 8, lo, hi);
	if (v->has_rip)
		span(v->rip, 8, lo, hi);
	for (int i = 0; i < 3; i++)
		span(v->cr[i], 8, lo, hi);
	if (v->has_mode)
		span(v->mode, 4, lo, hi);
	if (v->has_pid)
		span(v->pid, 8, lo, hi);
	if (v->has_regs_avail) {
		span(v->regs_avail, 4, lo, hi);
		span(v->regs_dirty, 4, lo, hi);
	}
	return nregs;
}

KVMDCI_EXPORT int kvmdci_kvm_vcpu_state(struct kvmdci_kernel *k, uint64_t vcpu,
					struct kvmdci_vcpu_state *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvm_layout l;
	struct vcpu_layout v;
	struct kvmdci_vcpu_info vi = {0};
	uint64_t lo = UINT64_MAX, hi = 0;
	uint8_t *buf;
	int r;

	if ((r = kvm_layout_get(k, &l)) < 0 || (r = vcpu_layout_get(k, &v)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "%s",
			   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(k)));
		return r;
	}
	memset(out, 0, sizeof(*out));
	out->vcpu = vcpu;
	out->pid = -1;
	out->mode = -1;
	if ((r = kvm_vcpu_info_read(k, &l, vcpu, &vi)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "cannot read struct kvm_vcpu at 0x%llx",
			   (unsigned long long)vcpu);
		return r;
	}
	out->vm = vi.vm;
	out->vcpu_id = vi.vcpu_id;
	out->vcpu_idx = vi.vcpu_idx;
	out->cpu = vi.cpu;
	out->vm_pid = vi.vm_pid;

	/* the rest in one read */
	uint64_t nregs = vcpu_span(&v, &lo, &hi);
	if (hi - lo > MAX_VCPU_SPAN) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "type info: struct kvm_vcpu fields span %llu bytes",
			   (unsigned long long)(hi - lo));
		return -EINVAL;
	}
	if (!(buf = malloc(hi - lo)))
		return -ENOMEM;
	if ((r = kvmdci_kernel_read(k, vcpu + lo, buf, hi - lo)) < 0) {
		kvmdci_warn(kvmdci_kernel_get_ctx(k),
			    "struct kvm_vcpu at 0x%llx: cannot read 0x%llx bytes at +0x%llx",
			    (unsigned long long)vcpu, (unsigned long long)(hi - lo),
			    (unsigned long long)lo);
		out->error = r;
		free(buf);
		return 0;
	}
	for (uint64_t i = 0; i < nregs; i++)
		out->regs[i] = le64(buf + v.regs - lo + i * 8);
	for (int i = 0; i < 3; i++)
		out->regs[KVMDCI_REG_CR0 + i] = le64(buf + v.cr[i] - lo);
	out->regs[KVMDCI_REG_EFER] = le64(buf + v.efer - lo);
	if (v.has_mode)
		out->mode = (int32_t)le32(buf + v.mode - lo);
	if (v.has_regs_avail) {
		out->regs_avail = le32(buf + v.regs_avail - lo);
		out->regs_dirty = le32(buf + v.regs_dirty - lo);
	}
	uint64_t pid = v.has_pid ? le64(buf + v.pid - lo) : 0;
	uint64_t rip = v.has_rip ? le64(buf + v.rip - lo) : 0;
	free(buf);

	out->valid = (1u << KVMDCI_NR_REGS) - 1;
	for (uint64_t i = nregs; i <= KVMDCI_REG_RIP; i++)
		out->valid &= ~(1u << i);
	if (v.has_rip && nregs <= KVMDCI_REG_RIP) {
		out->regs[KVMDCI_REG_RIP] = rip;
		out->valid |= 1u << KVMDCI_REG_RIP;
	}
	if (kvmdci_kvm_vendor(k) == KVMDCI_VENDOR_VMX)
		for (int i = 0; i < KVMDCI_NR_REGS; i++) {
			int bit = v.lazy_bit[i];
			if (i == KVMDCI_REG_RSP || i == KVMDCI_REG_RIP || i >= KVMDCI_REG_CR0) {
				if (i == KVMDCI_REG_EFER)
					continue;
				if (bit < 0 || !v.has_regs_avail ||
				    !(out->regs_avail & (1u << bit)))
					out->valid &= ~(1u << i);
			}
		}
	if (pid && v.has_pid_nr) {
		uint8_t b[4];
		if ((r = kvmdci_kernel_read(k, pid + v.pid_nr, b, 4)) == 0) {
			out->pid = (int32_t)le32(b);
		} else {
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "struct kvm_vcpu at 0x%llx: cannot read its struct pid at "
				    "0x%llx",
				    (unsigned long long)vcpu, (unsigned long long)pid);
			out->error = r;
		}
	}
	return 0;
}

KVMDCI_EXPORT int kvmdci_kvm_vcpu_prefetch(struct kvmdci_kernel *k, const uint64_t *vcpus, int n)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvm_layout l;
	struct vcpu_layout v;
	uint64_t lo = UINT64_MAX, hi = 0, ilo = UINT64_MAX, ihi = 0;
	struct target_read *rq = NULL;
	uint8_t *buf = NULL;
	int r;

	if (n <= 0 || !kernel_plan_enabled(k)) /* nothing to plan: a dump, READ_PLAN=0 */
		return 0;
	if ((r = kvm_layout_get(k, &l)) < 0 || (r = vcpu_layout_get(k, &v)) < 0)
		return r;
	vcpu_span(&v, &lo, &hi);
	/* kvm_vcpu_info_read's fields: vcpu_id, vcpu_idx, cpu, kvm */
	span(l.vcpu_id, 4, &ilo, &ihi);
	if (l.has_vcpu_idx)
		span(l.vcpu_idx, 4, &ilo, &ihi);
	span(l.vcpu_cpu, 4, &ilo, &ihi);
	span(l.vcpu_kvm, 8, &ilo, &ihi);
	if (hi - lo > MAX_VCPU_SPAN || ihi - ilo > MAX_VCPU_SPAN)
		return -EINVAL;
	size_t per = (size_t)(hi - lo) + (size_t)(ihi - ilo);
	/* zeroed: a failed read leaves NULL pointers, skipped below */
	if (!(buf = calloc((size_t)n, per)) || !(rq = calloc((size_t)n * 2, sizeof(*rq)))) {
		r = -ENOMEM;
		goto out;
	}
	/* 1: each vCPU's fields */
	for (int i = 0; i < n; i++) {
		uint8_t *b = buf + (size_t)i * per;
		rq[2 * i] = (struct target_read){ .addr = vcpus[i] + ilo, .len = ihi - ilo, .buf = b };
		rq[2 * i + 1] = (struct target_read){ .addr = vcpus[i] + lo, .len = hi - lo,
						      .buf = b + (ihi - ilo) };
	}
	if ((r = kernel_plan_read(k, rq, 2 * n)) < 0)
		goto out;
	/* 2: the VM's userspace_pid and the vCPU thread's pid number */
	int m = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *b = buf + (size_t)i * per;
		uint64_t vm = le64(b + l.vcpu_kvm - ilo);
		uint64_t pid = v.has_pid ? le64(b + (ihi - ilo) + v.pid - lo) : 0;
		if (vm)
			rq[m++] = (struct target_read){ .addr = vm + l.kvm_userspace_pid, .len = 4 };
		if (pid && v.has_pid_nr)
			rq[m++] = (struct target_read){ .addr = pid + v.pid_nr, .len = 4 };
	}
	r = kernel_plan_read(k, rq, m);
out:
	free(rq);
	free(buf);
	return r < 0 ? r : 0;
}
