// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-stack: the kernel call stack of one CPU or one task. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"
#include "stack-format.h"

static struct tool tool = {.name = "kvmdci-stack"};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-stack -t URI [--cpu N | --pid P | --task ADDR] [--json]\n"
		"\n"
		"Prints the kernel call stack of one CPU of a stopped KVM host or a dump (from "
		"its\n"
		"registers), or of one task (from the CPU it runs on, else from the context it\n"
		"saved when it was switched out: thread.sp). Frames are unwound with the kernel's\n"
		"ORC tables (vmlinux's from the file or memory, the modules' from struct module),\n"
		"with a frame-pointer guess where there are none, and shown as\n"
		"module!function+0xoff (vmlinux! for the kernel image). The unwind stops at the\n"
		"end of the stack or on a bad frame, and says which.\n"
		"\n"
		"Selection (default: --cpu 0):\n"
		"      --cpu N           CPU N (0-based, the target's numbering); -c N is an old\n"
		"                        spelling, deprecated: -c is --count in the other tools\n"
		"  -P, --pid P           the thread with pid P\n"
		"      --task ADDR       the struct task_struct at ADDR (0x...)\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-stack --cpu 1\n"
		"  kvmdci-stack --pid \"$(kvmdci-lab run 'pidof workload')\" --json\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

/* What to unwind: one CPU, or a task given by pid or address. */
struct which {
	long cpu, pid;
	unsigned long long task;
};

static void parse_options(int argc, char **argv, struct which *w)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"cpu", required_argument, NULL, 'C'},
		{"pid", required_argument, NULL, 'P'},
		{"task", required_argument, NULL, 'T'},
		{0},
	};
	int opt, nsel = 0;

	*w = (struct which){.cpu = -1, .pid = -1};
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "c:P:", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		errno = 0;
		switch (opt) {
		case 'c':
			/* kept for one release: -c means --count in kvmdci-exits and kvmdci-trace */
			fprintf(stderr, "kvmdci-stack: -c is deprecated and will go in the next release: "
					"use --cpu (-c is --count in the other tools)\n");
			/* fall through */
		case 'C':
			w->cpu = tool_opt_uint(&tool, "--cpu", optarg, 10, 0, 65535,
					       "a CPU number (0 to 65535)");
			nsel++;
			break;
		case 'P':
			w->pid = tool_opt_uint(&tool, "--pid", optarg, 10, 0, 0x7fffffff,
					       "a pid (0 to 2^31-1)");
			nsel++;
			break;
		case 'T':
			w->task = tool_opt_uint(&tool, "--task", optarg, 16, 1, ULLONG_MAX,
						"a struct task_struct address (hex)");
			nsel++;
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if (nsel > 1) {
		fprintf(stderr, "kvmdci-stack: give one of --cpu, --pid and --task\n");
		exit(2);
	}
	if (!nsel)
		w->cpu = 0;
}

static void json_cpu(json_t *doc, long cpu, const struct kvmdci_cpu_info *ci)
{
	json_object_set_new(doc, "cpu", json_integer(cpu));
	json_object_set_new(doc, "mode", json_string(kvmdci_cpu_mode_name(ci->mode)));
	json_object_set_new(doc, "where", json_string(ci->where));
	if (ci->task) {
		json_object_set_new(doc, "task", tool_json_addr(ci->task));
		json_object_set_new(doc, "pid", json_integer(ci->pid));
		json_object_set_new(doc, "tgid", json_integer(ci->tgid));
		json_object_set_new(doc, "comm", json_string(ci->comm));
		json_object_set_new(doc, "state", json_string(ci->state));
	}
}

static void show_cpu_plain(long cpu, const struct kvmdci_cpu_info *ci)
{
	printf("CPU %ld: %s, %s; task %d %s (%s)\n", cpu, kvmdci_cpu_mode_name(ci->mode), ci->where,
	       ci->pid, ci->task ? ci->comm : "?", ci->task ? ci->state : "?");
}

static void json_task(json_t *doc, uint64_t tk, const struct kvmdci_task_info *ti)
{
	json_object_set_new(doc, "task", tool_json_addr(tk));
	json_object_set_new(doc, "pid", json_integer(ti->pid));
	json_object_set_new(doc, "tgid", json_integer(ti->tgid));
	json_object_set_new(doc, "comm", json_string(ti->comm));
	json_object_set_new(doc, "state", json_string(ti->state));
	json_object_set_new(doc, "on_cpu", json_boolean(ti->on_cpu > 0));
	json_object_set_new(doc, "last_cpu", json_integer(ti->cpu));
}

static void show_task_plain(uint64_t tk, const struct kvmdci_task_info *ti)
{
	printf("task %d %s (%s) at 0x%llx, %s CPU %d\n", ti->pid, ti->comm, ti->state,
	       (unsigned long long)tk, ti->on_cpu > 0 ? "running on" : "last ran on", ti->cpu);
}

/* Unwind what @w names into @stack; its header goes into @doc, and to stdout unless --json. */
static int unwind(struct kvmdci_target *t, struct kvmdci_kernel *k, struct kvmdci_unwinder *u,
		  const struct which *w, json_t *doc, struct kvmdci_stack *stack)
{
	int r;

	if (w->cpu >= 0) {
		struct kvmdci_cpu_info ci;
		if (w->cpu >= kvmdci_target_cpu_count(t)) {
			char msg[96];
			snprintf(msg, sizeof(msg), "no CPU %ld: the target has %d", w->cpu,
				 kvmdci_target_cpu_count(t));
			return tool_fail_msg(&tool, ENOENT, msg);
		}
		if ((r = kvmdci_unwind_cpu(u, (int)w->cpu, &ci, stack)) < 0)
			return tool_fail(&tool, r, NULL);
		json_cpu(doc, w->cpu, &ci);
		if (!tool.json)
			show_cpu_plain(w->cpu, &ci);
		return 0;
	}
	struct kvmdci_task_info ti;
	uint64_t tk = w->task;
	if ((w->pid >= 0 && (r = kvmdci_kernel_task_find(k, (int)w->pid, &tk)) < 0) ||
	    (r = kvmdci_kernel_task_info(k, tk, &ti)) < 0 ||
	    (r = kvmdci_unwind_task(u, tk, stack)) < 0)
		return tool_fail(&tool, r, NULL);
	json_task(doc, tk, &ti);
	if (!tool.json)
		show_task_plain(tk, &ti);
	return 0;
}

int main(int argc, char **argv)
{
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_unwinder *u = NULL;
	struct kvmdci_stack *stack = NULL;
	struct which w;
	int r, status = 0;

	parse_options(argc, argv, &w);
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
	json_t *doc = json_pack("{s:s}", "target", tool.target);
	if ((status = unwind(t, k, u, &w, doc, stack)) != 0) {
		json_decref(doc);
		goto out;
	}
	json_object_set_new(doc, "stack", stack_json(stack));
	if (tool.json)
		tool_json_print(&tool, doc);
	else
		stack_print(stdout, stack, "  ");
	json_decref(doc);
out:
	free(stack);
	kvmdci_unwinder_unref(u);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
