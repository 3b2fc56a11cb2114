// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-cpus: where every CPU is (host kernel, user space, a guest), its current task, stack. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"
#include "stack-format.h"

static struct tool tool = {.name = "kvmdci-cpus"};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-cpus -t URI [--stack] [--json]\n"
		"\n"
		"Shows what every CPU of a KVM host was doing when it stopped (a whole-machine\n"
		"debugger) or when the dump was taken: the kernel function it is in\n"
		"(module!function+0xoff), or \"user\" or \"guest\" mode. A CPU that runs a guest\n"
		"shows the guest's registers, not the host's: it is recognised and reported as\n"
		"such. For each CPU: its current task (per-CPU current_task: pid, comm, state),\n"
		"whether virtualization is on (EFER.SVME / CR4.VMXE), and with --stack its kernel\n"
		"call stack (ORC unwinding).\n"
		"\n"
		"Options:\n"
		"  -s, --stack           print each CPU's kernel call stack\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-cpus --stack\n"
		"  kvmdci-cpus -t core:///tmp/lab.dump --json | jq '.cpus[] | {cpu, where, comm: .task.comm}'\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

static json_t *json_cpu(int cpu, const struct kvmdci_cpu_info *ci, const struct kvmdci_stack *stack)
{
	json_t *jc =
		json_pack("{s:i, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "cpu", cpu,
			  "linux_cpu", ci->linux_cpu, "mode", kvmdci_cpu_mode_name(ci->mode),
			  "where", ci->where, "rip", tool_json_addr(ci->rip), "rsp",
			  tool_json_addr(ci->rsp), "cs", tool_json_addr(ci->cs), "cr0",
			  tool_json_addr(ci->cr0), "cr3", tool_json_addr(ci->cr3), "virtualization",
			  ci->virt < 0 ? json_null() : json_boolean(ci->virt));

	if (ci->task)
		json_object_set_new(jc, "task",
				    json_pack("{s:o, s:i, s:i, s:s, s:s, s:b}", "task",
					      tool_json_addr(ci->task), "pid", ci->pid, "tgid",
					      ci->tgid, "comm", ci->comm, "state", ci->state,
					      "idle", ci->idle != 0));
	else
		json_object_set_new(jc, "task", json_null());
	if (stack)
		json_object_set_new(jc, "stack", stack_json(stack));
	return jc;
}

/* A table row, or with --stack a header and the stack. */
static void show_cpu_plain(int cpu, const struct kvmdci_cpu_info *ci,
			   const struct kvmdci_stack *stack)
{
	const char *virt = ci->virt < 0 ? "?" : ci->virt ? "on" : "off";
	char pid[16] = "-";

	if (ci->task)
		snprintf(pid, sizeof(pid), "%d", ci->pid);
	if (stack) {
		printf("%sCPU %d (linux %d): %s, virtualization %s, task %s %s (%s)%s\n  %s\n",
		       cpu ? "\n" : "", cpu, ci->linux_cpu, kvmdci_cpu_mode_name(ci->mode), virt,
		       pid, ci->task ? ci->comm : "?", ci->task ? ci->state : "?",
		       ci->idle ? " idle" : "", ci->where);
		stack_print(stdout, stack, "  ");
	} else {
		printf("%-4d %-5d %-7s %-4s %7s %-16s %-5s %s\n", cpu, ci->linux_cpu,
		       kvmdci_cpu_mode_name(ci->mode), virt, pid, ci->task ? ci->comm : "?",
		       ci->task ? ci->state : "?", ci->where);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"stack", no_argument, NULL, 's'},
		{0},
	};
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_unwinder *u = NULL;
	struct kvmdci_stack *stack = NULL;
	bool want_stack = false;
	int opt, r, status = 0;

	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "s", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 's':
			want_stack = true;
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	if ((r = kvmdci_unwinder_new(k, &u)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if (!(stack = malloc(sizeof(*stack)))) {
		status = tool_fail(&tool, -ENOMEM, NULL);
		goto out;
	}
	int n = kvmdci_target_cpu_count(t);
	json_t *doc = json_pack("{s:s}", "target", tool.target), *jcpus = json_array();
	if (!tool.json && !want_stack)
		printf("%-4s %-5s %-7s %-4s %7s %-16s %-5s %s\n", "CPU", "LINUX", "MODE", "VIRT",
		       "PID", "COMM", "STATE", "WHERE");
	for (int cpu = 0; cpu < n && !tool_stop_requested; cpu++) {
		struct kvmdci_cpu_info ci;
		if ((r = kvmdci_unwind_cpu(u, cpu, &ci, want_stack ? stack : NULL)) < 0) {
			tool_progress(&tool, "warning: CPU %d: %s", cpu,
				      kvmdci_ctx_last_error(tool.ctx));
			json_array_append_new(jcpus, json_pack("{s:i, s:s}", "cpu", cpu, "error",
							       kvmdci_ctx_last_error(tool.ctx)));
			if (!tool.json)
				printf("%-4d error: %s\n", cpu, kvmdci_ctx_last_error(tool.ctx));
			continue;
		}
		json_array_append_new(jcpus, json_cpu(cpu, &ci, want_stack ? stack : NULL));
		if (!tool.json)
			show_cpu_plain(cpu, &ci, want_stack ? stack : NULL);
	}
	json_object_set_new(doc, "cpus", jcpus);
	if (tool.json)
		tool_json_print(&tool, doc);
	json_decref(doc);
out:
	free(stack);
	kvmdci_unwinder_unref(u);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
