// SPDX-License-Identifier: LGPL-2.1-or-later
/* Tasks (struct task_struct: its state, pid lookup over the task list) and each CPU's
 * current task. */
#include "internal.h"
#include "kernel/kernel-view.h"

#define MAX_TASKS 65536
#define MAX_THREADS 65536
#define MAX_CPUS 8192

/* A per-CPU variable's offset: zero-based per-CPU symbols are not moved by KASLR. */
static int percpu_sym(struct kvmdci_kernel *k, const char *name, uint64_t *off)
{
	uint64_t a;

	if (symtab_lookup(&k->vsyms, name, &a, 0) < 0)
		return -ENOENT;
	*off = a < 0xffff800000000000ULL ? a : a + k->kaslr;
	return 0;
}


static const char *state_letter(uint64_t st, uint64_t exit_state)
{
	/* include/linux/sched.h: TASK_* and EXIT_* bits, as fs/proc/array.c shows them */
	if (exit_state & 0x20)
		return "Z";
	if (exit_state & 0x10)
		return "X";
	if ((st & 0x402) == 0x402)
		return "I"; /* TASK_IDLE: uninterruptible + noload */
	if (st & 0x1)
		return "S";
	if (st & 0x2)
		return "D";
	if (st & 0x4)
		return "T";
	if (st & 0x8)
		return "t";
	if (st == 0)
		return "R";
	return "?";
}

KVMDCI_EXPORT int kvmdci_kernel_task_info(struct kvmdci_kernel *k, uint64_t task,
					  struct kvmdci_task_info *out)
{
	KVMDCI_API_ENTRY(k->ctx);
	uint64_t o_pid, o_tgid, o_comm, o_state, o_exit, o_oncpu, o_cpu;
	uint32_t v32;
	int r;

	memset(out, 0, sizeof(*out));
	out->task = task;
	out->cpu = -1;
	if ((r = kernel_member_offset(k, NULL, "struct task_struct", "pid", &o_pid, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct task_struct", "tgid", &o_tgid, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct task_struct", "comm", &o_comm, NULL)) < 0)
		return r;
	if (kernel_member_offset(k, NULL, "struct task_struct", "__state", &o_state, NULL) < 0 &&
	    kernel_member_offset(k, NULL, "struct task_struct", "state", &o_state, NULL) < 0)
		return -ENOENT;
	if ((r = kvmdci_kernel_read(k, task + o_pid, &out->pid, 4)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_tgid, &out->tgid, 4)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_comm, out->comm, sizeof(out->comm) - 1)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_state, &v32, 4)) < 0) {
		kvmdci_set_error(k->ctx, "cannot read struct task_struct at 0x%llx",
				 (unsigned long long)task);
		return r;
	}
	out->comm[sizeof(out->comm) - 1] = '\0';
	uint32_t ex = 0;
	if (kernel_member_offset(k, NULL, "struct task_struct", "exit_state", &o_exit, NULL) == 0)
		kvmdci_kernel_read(k, task + o_exit, &ex, 4);
	snprintf(out->state, sizeof(out->state), "%s", state_letter(v32, ex));
	out->on_cpu = -1;
	if (kernel_member_offset(k, NULL, "struct task_struct", "on_cpu", &o_oncpu, NULL) == 0 &&
	    kvmdci_kernel_read(k, task + o_oncpu, &v32, 4) == 0)
		out->on_cpu = (int32_t)v32;
	if ((kernel_member_offset(k, NULL, "struct task_struct", "cpu", &o_cpu, NULL) == 0 ||
	     kernel_member_offset(k, NULL, "struct task_struct", "thread_info.cpu", &o_cpu, NULL) ==
		     0) &&
	    kvmdci_kernel_read(k, task + o_cpu, &v32, 4) == 0 && v32 < MAX_CPUS)
		out->cpu = (int32_t)v32;
	return 0;
}

/* Follow a list_head from @head, calling @fn(node) until it returns != 0; bounded. */
static int list_walk(struct kvmdci_kernel *k, uint64_t head, unsigned int max,
		     int (*fn)(struct kvmdci_kernel *k, uint64_t node, void *data), void *data)
{
	uint64_t node;
	unsigned int n = 0;
	int r;

	if ((r = kvmdci_kernel_read_u64(k, head, &node)) < 0)
		return r;
	while (node != head) {
		if (++n > max) {
			kvmdci_set_error(k->ctx, "list at 0x%llx: more than %u entries (a cycle?)",
					 (unsigned long long)head, max);
			return -ELOOP;
		}
		if ((r = fn(k, node, data)) != 0)
			return r;
		if ((r = kvmdci_kernel_read_u64(k, node, &node)) < 0)
			return r;
	}
	return 0;
}

struct find_pid {
	int pid;
	uint64_t o_pid, o_tasks, o_signal, o_thread_head, o_thread_node, o_thread_group;
	bool use_thread_node;
	uint64_t found;
};

/* 1 (and f->found set) when @task has the pid looked for, 0 when not, -EFAULT. */
static int check_task(struct kvmdci_kernel *k, struct find_pid *f, uint64_t task)
{
	int32_t pid;

	if (kvmdci_kernel_read(k, task + f->o_pid, &pid, 4) < 0)
		return -EFAULT;
	if (pid != f->pid)
		return 0;
	f->found = task;
	return 1;
}

static int check_thread(struct kvmdci_kernel *k, uint64_t node, void *data)
{
	struct find_pid *f = data;

	return check_task(k, f, node - (f->use_thread_node ? f->o_thread_node : f->o_thread_group));
}

static int check_process(struct kvmdci_kernel *k, uint64_t node, void *data)
{
	struct find_pid *f = data;
	uint64_t task = node - f->o_tasks, sig;
	int r = check_task(k, f, task);

	if (r != 0)
		return r;
	if (f->use_thread_node) {
		if (kvmdci_kernel_read_u64(k, task + f->o_signal, &sig) < 0)
			return 0;
		return list_walk(k, sig + f->o_thread_head, MAX_THREADS, check_thread, f) > 0;
	}
	return list_walk(k, task + f->o_thread_group, MAX_THREADS, check_thread, f) > 0;
}

KVMDCI_EXPORT int kvmdci_kernel_task_find(struct kvmdci_kernel *k, int pid, uint64_t *task)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct find_pid f = {.pid = pid};
	uint64_t init;
	int r;

	if (kernel_vmlinux_symbol(k, "init_task", &init) < 0) {
		kvmdci_set_error(k->ctx, "no symbol init_task");
		return -ENOENT;
	}
	if ((r = kernel_member_offset(k, NULL, "struct task_struct", "pid", &f.o_pid, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct task_struct", "tasks", &f.o_tasks, NULL)) <
		    0)
		return r;
	/* threads: signal->thread_head + thread_node (3.14+); thread_group (until 6.7) */
	f.use_thread_node = kernel_member_offset(k, NULL, "struct task_struct", "signal",
						 &f.o_signal, NULL) == 0 &&
			    kernel_member_offset(k, NULL, "struct signal_struct", "thread_head",
						 &f.o_thread_head, NULL) == 0 &&
			    kernel_member_offset(k, NULL, "struct task_struct", "thread_node",
						 &f.o_thread_node, NULL) == 0;
	if (!f.use_thread_node &&
	    (r = kernel_member_offset(k, NULL, "struct task_struct", "thread_group",
				      &f.o_thread_group, NULL)) < 0)
		return r;
	if (pid == 0) {
		*task = init;
		return 0;
	}
	r = list_walk(k, init + f.o_tasks, MAX_TASKS, check_process, &f);
	if (r < 0)
		return r;
	if (!f.found) {
		kvmdci_set_error(k->ctx, "no task with pid %d", pid);
		return -ESRCH;
	}
	*task = f.found;
	return 0;
}

/* ---- per-CPU state: the Linux CPU number and its current task ---- */

int kernel_linux_cpu(struct kvmdci_kernel *k, uint64_t gsbase, int fallback)
{
	uint64_t offs, nr = MAX_CPUS, v;
	uint32_t nr32;

	if (kernel_vmlinux_symbol(k, "__per_cpu_offset", &offs) < 0)
		return -1;
	if (kernel_vmlinux_symbol(k, "nr_cpu_ids", &v) == 0 &&
	    kvmdci_kernel_read(k, v, &nr32, 4) == 0 && nr32 && nr32 <= MAX_CPUS)
		nr = nr32;
	for (uint64_t i = 0; gsbase && i < nr && i < 64; i++)
		if (kvmdci_kernel_read_u64(k, offs + 8 * i, &v) == 0 && v == gsbase)
			return (int)i;
	return fallback < (int)nr ? fallback : -1;
}

/* current_task (until 6.1, again 6.15+) or pcpu_hot.current_task */
int kernel_current_task(struct kvmdci_kernel *k, int lcpu, uint64_t *task)
{
	uint64_t base, var, off = 0;
	int r;

	if (percpu_sym(k, "current_task", &var) < 0) {
		if (percpu_sym(k, "pcpu_hot", &var) < 0 ||
		    kernel_member_offset(k, NULL, "struct pcpu_hot", "current_task", &off, NULL) <
			    0) {
			kvmdci_set_error(k->ctx,
					 "neither current_task nor pcpu_hot in the symbols");
			return -ENOENT;
		}
	}
	if ((r = kernel_percpu_addr(k, var + off, lcpu, &base)) < 0)
		return r;
	return kvmdci_kernel_read_u64(k, base, task);
}

