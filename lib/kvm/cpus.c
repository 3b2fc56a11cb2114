// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What each CPU executes (the host kernel, user space, or a guest whose registers the stub
 * shows instead of the host's) and the kernel stack of a CPU or a task. It sits above the
 * kernel view because a CPU in a guest is KVM's business: the host's registers of a CPU that
 * runs an SVM guest come from KVM's per-CPU host save area (svm.c), and a running task's stack
 * is the stack of the CPU it runs on.
 */
#include <stdlib.h>

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

/* What @cpu executes, from its registers (@v: cpu_regs) and whether it sees the host kernel. */
static void cpu_mode(struct kvmdci_kernel *k, int cpu, const uint64_t *v,
		     struct kvmdci_cpu_info *info)
{
	bool sees = kernel_cpu_sees_kernel(k, cpu) == 1;

	if (sees && (info->cs & 3) == 0 && info->rip >= 0xffff800000000000ULL) {
		info->mode = KVMDCI_CPU_KERNEL;
		info->linux_cpu = kernel_linux_cpu(k, v[6], cpu);
	} else if (sees && (info->cs & 3) == 3) {
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

/* Where a CPU is and its kernel stack (@stack may be NULL), by its mode. */
static void cpu_stack(struct kvmdci_unwinder *u, struct kvmdci_cpu_info *info,
		      struct kvmdci_stack *stack)
{
	struct kvmdci_kernel *k = unwinder_kernel(u);
	uint64_t hrip, hrsp;

	if (info->mode == KVMDCI_CPU_KERNEL) {
		kernel_symbolize(k, u, info->rip, info->where, sizeof(info->where));
		if (stack)
			kvmdci_unwind_regs(u, info->rip, info->rsp, info->rbp, stack);
	} else if (stack && info->mode == KVMDCI_CPU_USER) {
		snprintf(stack->end_detail, sizeof(stack->end_detail),
			 "CPU %d runs user code: no kernel frames", info->cpu);
	} else if (info->mode == KVMDCI_CPU_GUEST) {
		/* SVM: VMRUN saved the host's registers in KVM's per-CPU host save area */
		if (info->linux_cpu >= 0 && svm_host_state(k, info->linux_cpu, &hrip, &hrsp) == 0 &&
		    unwinder_is_text(u, hrip)) {
			info->guest_stack = 1;
			if (stack)
				kvmdci_unwind_regs(u, hrip, hrsp, 0, stack);
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
