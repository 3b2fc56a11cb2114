// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What each CPU executes (the host kernel, user space, or a guest whose registers the stub
 * shows instead of the host's) and the kernel stack of a CPU or a task. It sits above the
 * kernel view because a CPU in a guest is KVM's business: the host's registers of a CPU that
 * runs an SVM guest come from KVM's per-CPU host save area (svm.c), those of a CPU that runs a
 * VMX guest from KVM's copy of the VMCS host state (vmx.c), and a running task's stack
 * is the stack of the CPU it runs on.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"

KVMDCI_EXPORT const char *kvmdci_cpu_mode_name(enum kvmdci_cpu_mode mode)
{
	switch (mode) {
	case KVMDCI_CPU_KERNEL:
		return "kernel";
	case KVMDCI_CPU_USER:
		return "user";
	case KVMDCI_CPU_GUEST:
		return "guest";
	default:
		return "unknown";
	}
}

static const char *const cpu_regs[] = {"rip", "rsp", "rbp",	"cs",
				       "cr0", "cr3", "gs_base", "k_gs_base"};

/*
 * What a CPU executes, from its own registers: the one rule behind kvmdci_unwind_cpu()
 * (kvmdci-cpus) and kvmdci_kvm_cpu_virt() (kvmdci-vmxon). In kernel text at ring 0 with the
 * host kernel visible through its paging, it is in the host kernel, whatever vcpu->mode says:
 * after #VMEXIT, KVM sets OUTSIDE_GUEST_MODE only some instructions later (vcpu_enter_guest,
 * arch/x86/kvm/x86.c), so a stop there reads IN_GUEST_MODE for a CPU back in the host.
 */
static enum kvmdci_cpu_mode decide_mode(bool sees, uint64_t cs, uint64_t rip)
{
	if (sees && (cs & 3) == 0 && rip >= 0xffff800000000000ULL)
		return KVMDCI_CPU_KERNEL;
	if (sees && (cs & 3) == 3)
		return KVMDCI_CPU_USER;
	return KVMDCI_CPU_GUEST;
}

int kvm_cpu_mode(struct kvmdci_kernel *k, int cpu, enum kvmdci_cpu_mode *mode, char *why,
		 size_t whylen)
{
	static const char *const names[] = {"rip", "cs"};
	uint64_t v[2];
	int sees, r;

	if ((r = kvmdci_target_regs_read(kvmdci_kernel_get_target(k), cpu, names, v, 2)) < 0)
		return r;
	if ((sees = kernel_cpu_sees_kernel(k, cpu)) < 0)
		return sees;
	*mode = decide_mode(sees == 1, v[1], v[0]);
	if (*mode == KVMDCI_CPU_KERNEL)
		snprintf(why, whylen, "rip 0x%llx is host kernel text", (unsigned long long)v[0]);
	else if (*mode == KVMDCI_CPU_USER)
		snprintf(why, whylen, "ring 3 with the host kernel mapped");
	else
		snprintf(why, whylen, "%s", sees ? "rip not in the host kernel"
						 : "the host kernel is not mapped");
	return 0;
}

/* What @cpu executes, from its registers (@v: cpu_regs) and whether it sees the host kernel. */
static void cpu_mode(struct kvmdci_kernel *k, int cpu, const uint64_t *v,
		     struct kvmdci_cpu_info *info)
{
	bool sees = kernel_cpu_sees_kernel(k, cpu) == 1;
	enum kvmdci_cpu_mode mode = decide_mode(sees, info->cs, info->rip);

	if (mode == KVMDCI_CPU_KERNEL) {
		info->mode = KVMDCI_CPU_KERNEL;
		info->linux_cpu = kernel_linux_cpu(k, v[6], cpu);
	} else if (mode == KVMDCI_CPU_USER) {
		info->mode = KVMDCI_CPU_USER;
		info->linux_cpu =
			kernel_linux_cpu(k, v[7], cpu); /* swapgs: the kernel's is in k_gs_base */
		snprintf(info->where, sizeof(info->where), "user mode: rip 0x%llx",
			 (unsigned long long)info->rip);
	} else {
		/*
		 * The host kernel is not visible through this CPU's paging, or it is not in
		 * kernel text: it runs a guest, and the stub shows the guest's registers.
		 */
		info->mode = KVMDCI_CPU_GUEST;
		info->virt = 1;
		info->linux_cpu = kernel_linux_cpu(k, 0, cpu);
		snprintf(info->where, sizeof(info->where),
			 "in guest: rip 0x%llx cs 0x%llx cr0 0x%llx%s",
			 (unsigned long long)info->rip, (unsigned long long)info->cs,
			 (unsigned long long)info->cr0, (info->cr0 & 1) ? "" : " (real mode)");
	}
}

/*
 * A CPU in KVM's SVM entry code just around VMRUN (__svm_vcpu_run, arch/x86/kvm/svm/vmenter.S):
 * after #VMEXIT the return stack buffer is refilled by a run of calls that move rsp below the
 * frame (FILL_RETURN_BUFFER), so an unwind from its registers stops at the first frame, its
 * "return address" the vcpu_svm pointer pushed before VMRUN. Its callers are those of the
 * VMRUN: KVM's host save area has rip and rsp as they were then, the state a CPU still in the
 * guest is unwound from. Used when the unwind from the registers failed at the first frame and
 * that saved rip is in the same function; frame 0 stays the CPU's own rip.
 */
static void svm_entry_stack(struct kvmdci_unwinder *u, const struct kvmdci_cpu_info *info,
			    struct kvmdci_stack *stack)
{
	struct kvmdci_kernel *k = unwinder_kernel(u);
	char mod[64], fn[128], hmod[64], hfn[128];
	uint64_t hrip, hrsp, off;
	struct kvmdci_frame first;
	struct kvmdci_stack *alt;

	if (info->linux_cpu < 0 || stack->nframes < 1 ||
	    svm_host_state(k, info->linux_cpu, &hrip, &hrsp) < 0 || !unwinder_is_text(u, hrip) ||
	    kernel_symbolize_parts(k, u, info->rip, mod, sizeof(mod), fn, sizeof(fn), &off) < 0 ||
	    kernel_symbolize_parts(k, u, hrip, hmod, sizeof(hmod), hfn, sizeof(hfn), &off) < 0 ||
	    strcmp(mod, hmod) || strcmp(fn, hfn))
		return;
	if (!(alt = malloc(sizeof(*alt))))
		return;
	kvmdci_unwind_regs(u, hrip, hrsp, 0, alt);
	if (alt->nframes > 1 && alt->end != KVMDCI_UNWIND_BAD_FRAME) {
		first = stack->frames[0];
		*stack = *alt;
		stack->frames[0] = first;
	}
	free(alt);
}

/* Where a CPU is and its kernel stack (@stack may be NULL), by its mode. */
static void cpu_stack(struct kvmdci_unwinder *u, struct kvmdci_cpu_info *info,
		      struct kvmdci_stack *stack)
{
	struct kvmdci_kernel *k = unwinder_kernel(u);
	uint64_t hrip, hrsp;

	if (info->mode == KVMDCI_CPU_KERNEL) {
		kernel_symbolize(k, u, info->rip, info->where, sizeof(info->where));
		if (stack) {
			kvmdci_unwind_regs(u, info->rip, info->rsp, info->rbp, stack);
			if (stack->end == KVMDCI_UNWIND_BAD_FRAME && stack->nframes <= 1)
				svm_entry_stack(u, info, stack);
		}
	} else if (stack && info->mode == KVMDCI_CPU_USER) {
		snprintf(stack->end_detail, sizeof(stack->end_detail),
			 "CPU %d runs user code: no kernel frames", info->cpu);
	} else if (info->mode == KVMDCI_CPU_GUEST) {
		/* SVM: VMRUN saved the host's registers in KVM's per-CPU host save area; VMX:
		 * KVM's copy of the VMCS host state (vmx_host_state) */
		bool vmx = false;
		if (info->linux_cpu >= 0 &&
		    (svm_host_state(k, info->linux_cpu, &hrip, &hrsp) == 0 ||
		     (vmx = vmx_host_state(k, info->linux_cpu, &hrip, &hrsp) == 0)) &&
		    unwinder_is_text(u, hrip)) {
			info->guest_stack = 1;
			if (stack)
				kvmdci_unwind_regs(u, hrip, hrsp, vmx ? vmx_entry_rbp(u, hrsp) : 0,
						   stack);
		} else if (stack) {
			snprintf(stack->end_detail, sizeof(stack->end_detail),
				 "CPU %d runs a guest: the host's registers are not visible",
				 info->cpu);
		}
	}
}

KVMDCI_EXPORT int kvmdci_unwind_cpu(struct kvmdci_unwinder *u, int cpu,
				    struct kvmdci_cpu_info *info, struct kvmdci_stack *stack)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(unwinder_kernel(u)));
	struct kvmdci_kernel *k = unwinder_kernel(u);
	struct kvmdci_target *t = kvmdci_kernel_get_target(k);
	uint64_t v[ARRAY_SIZE(cpu_regs)], efer, cr4, task;
	struct kvmdci_task_info ti;
	int r;

	memset(info, 0, sizeof(*info));
	info->cpu = cpu;
	info->linux_cpu = -1;
	info->pid = info->tgid = -1;
	info->virt = -1;
	if (stack) {
		memset(stack, 0, sizeof(*stack));
		stack->end = KVMDCI_UNWIND_NO_STACK;
	}
	if ((r = kvmdci_target_regs_read(t, cpu, cpu_regs, v, ARRAY_SIZE(cpu_regs))) < 0) {
		struct kvmdci_ctx *ctx = kvmdci_kernel_get_ctx(k);
		char why[400];
		snprintf(why, sizeof(why), "%s", kvmdci_ctx_last_error(ctx));
		kvmdci_set_error(ctx, "cannot read the registers of CPU %d%s%s", cpu,
				 why[0] ? ": " : "", why);
		return r;
	}
	info->rip = v[0];
	info->rsp = v[1];
	info->rbp = v[2];
	info->cs = v[3];
	info->cr0 = v[4];
	info->cr3 = v[5];
	if (kvmdci_target_reg_read(t, cpu, "efer", &efer) == 0)
		info->virt = (efer >> 12) & 1; /* EFER.SVME */
	if (kvmdci_target_reg_read(t, cpu, "cr4", &cr4) == 0 && ((cr4 >> 13) & 1))
		info->virt = 1; /* CR4.VMXE */
	cpu_mode(k, cpu, v, info);
	if (info->linux_cpu >= 0 && kernel_current_task(k, info->linux_cpu, &task) == 0 && task &&
	    kvmdci_kernel_task_info(k, task, &ti) == 0) {
		info->task = task;
		info->pid = ti.pid;
		info->tgid = ti.tgid;
		memcpy(info->comm, ti.comm, sizeof(info->comm));
		memcpy(info->state, ti.state, sizeof(info->state));
		info->idle = ti.pid == 0;
	}
	cpu_stack(u, info, stack);
	return 0;
}

KVMDCI_EXPORT int kvmdci_unwind_task(struct kvmdci_unwinder *u, uint64_t task,
				     struct kvmdci_stack *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(unwinder_kernel(u)));
	struct kvmdci_kernel *k = unwinder_kernel(u);
	struct kvmdci_task_info ti;
	struct kvmdci_cpu_info ci;
	int r;

	if ((r = kvmdci_kernel_task_info(k, task, &ti)) < 0)
		return r;
	/* running: the stack of the CPU whose current task it is */
	int n = kvmdci_target_cpu_count(kvmdci_kernel_get_target(k));
	for (int cpu = 0; ti.on_cpu && cpu < n; cpu++) {
		struct kvmdci_stack *tmp = malloc(sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		if (kvmdci_unwind_cpu(u, cpu, &ci, tmp) == 0 && ci.task == task) {
			memcpy(out, tmp, sizeof(*out));
			free(tmp);
			return 0;
		}
		free(tmp);
	}
	return unwinder_saved_task_stack(u, task, out);
}
