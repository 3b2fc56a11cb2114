// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-vcpu: every VM's vCPUs: ids, physical CPU, mode, thread, registers KVM holds. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shared.h"
#include "vm-select.h"

static struct tool tool = {.name = "kvmdci-vcpu"};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-vcpu -t URI [--vm ADDR|PID] [--vcpu N] [--json]\n"
		"\n"
		"Lists the vCPUs of every VM on a KVM host seen from below the OS: vcpu_id,\n"
		"vcpu_idx, the physical CPU it last ran on, its mode, the thread that runs it,\n"
		"and the registers KVM keeps in kvm_vcpu_arch (general registers, RIP, CR0, CR3,\n"
		"CR4, EFER). On Intel VMX, RIP, RSP, CR0, CR3 and CR4 are read from the VMCS on\n"
		"demand; where KVM has not read them since the last exit they are shown as\n"
		"\"not cached\" rather than as stale values.\n"
		"\n"
		"Selection:\n"
		"      --vm ADDR|PID     one VM: its struct kvm address (0x...) or its pid\n"
		"      --vcpu N          one vCPU id\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-vcpu\n"
		"  kvmdci-vcpu --json | jq '.vms[].vcpus[] | {vcpu_id, pid, rip: .regs.rip}'\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

static json_t *json_vcpu(const struct kvmdci_vcpu_state *s)
{
	json_t *regs = json_object(), *nc = json_array();
	for (int i = 0; i < KVMDCI_NR_REGS; i++) {
		bool ok = s->valid & (1u << i);
		json_object_set_new(regs, kvmdci_vcpu_reg_name(i),
				    ok ? tool_json_addr(s->regs[i]) : json_null());
		if (!ok)
			json_array_append_new(nc, json_string(kvmdci_vcpu_reg_name(i)));
	}
	json_t *o = json_pack("{s:o, s:i, s:i, s:i, s:s, s:i, s:i, s:o, s:o, s:o, s:o}", "vcpu",
			      tool_json_addr(s->vcpu), "vcpu_id", s->vcpu_id, "vcpu_idx",
			      s->vcpu_idx, "cpu", s->cpu, "mode", kvmdci_vcpu_mode_name(s->mode),
			      "mode_value", s->mode, "pid", s->pid, "regs_avail",
			      tool_json_addr(s->regs_avail), "regs_dirty",
			      tool_json_addr(s->regs_dirty), "regs", regs, "not_cached", nc);
	if (s->error)
		json_object_set_new(o, "error", json_string(strerror(-s->error)));
	return o;
}

static void print_vcpu(const struct kvmdci_vcpu_state *s)
{
	printf("  vCPU %d (idx %d) kvm_vcpu 0x%llx: cpu %d, %s, thread %d%s%s\n", s->vcpu_id,
	       s->vcpu_idx, (unsigned long long)s->vcpu, s->cpu, kvmdci_vcpu_mode_name(s->mode),
	       s->pid, s->error ? ", partly unreadable: " : "",
	       s->error ? strerror(-s->error) : "");
	for (int i = 0; i < KVMDCI_NR_REGS; i++) {
		char v[24];
		if (s->valid & (1u << i))
			snprintf(v, sizeof(v), "%016llx", (unsigned long long)s->regs[i]);
		else
			snprintf(v, sizeof(v), "%-16s", "not cached");
		printf("%s%-4s %s", i % 4 ? "  " : "    ", kvmdci_vcpu_reg_name(i), v);
		if (i % 4 == 3 || i == KVMDCI_NR_REGS - 1)
			fputc('\n', stdout);
	}
}

static void show_vm_plain(const struct kvmdci_vm_info *vi, const char *vname, int shown)
{
	printf("%sVM 0x%llx pid %d%s%s%s, %d vCPUs (%s)\n", shown > 1 ? "\n" : "",
	       (unsigned long long)vi->vm, vi->userspace_pid, vi->stats_id[0] ? " (" : "",
	       vi->stats_id, vi->stats_id[0] ? ")" : "", vi->online_vcpus, vname);
}

static json_t *json_vm(const struct kvmdci_vm_info *vi)
{
	return json_pack("{s:o, s:i, s:i, s:s?}", "vm", tool_json_addr(vi->vm), "vm_pid",
			 vi->userspace_pid, "online_vcpus", vi->online_vcpus, "stats_id",
			 vi->stats_id[0] ? vi->stats_id : NULL);
}

struct shown {
	int vms, vcpus;
};

/* Each selected VM with its selected vCPUs: into @jvms, and on stdout unless --json. */
static void show_vms(struct kvmdci_kernel *k, const struct kvmdci_vm_list *vms,
		     const struct kvmdci_vcpu_list *vcpus, const char *vname, json_t *jvms,
		     struct shown *shown)
{
	const struct kvmdci_vm_info *vi;

	for (int v = 0; (vi = kvmdci_vm_list_get(vms, v)) && !tool_stop_requested; v++) {
		const struct kvmdci_vcpu_info *ci;
		json_t *jvm = json_vm(vi), *jv = json_array();
		shown->vms++;
		if (!tool.json)
			show_vm_plain(vi, vname, shown->vms);
		for (int i = 0; (ci = kvmdci_vcpu_list_get(vcpus, i)); i++) {
			struct kvmdci_vcpu_state s;
			if (ci->vm != vi->vm)
				continue;
			if (kvmdci_kvm_vcpu_state(k, ci->vcpu, &s) < 0) {
				tool_progress(&tool, "warning: %s",
					      kvmdci_ctx_last_error(tool.ctx));
				continue;
			}
			shown->vcpus++;
			json_array_append_new(jv, json_vcpu(&s));
			if (!tool.json)
				print_vcpu(&s);
		}
		json_object_set_new(jvm, "vcpus", jv);
		json_array_append_new(jvms, jvm);
	}
}

static void parse_options(int argc, char **argv, struct kvmdci_vm_select *sel)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"vm", required_argument, NULL, 'M'},
		{"vcpu", required_argument, NULL, 'C'},
		{0},
	};
	int opt;

	*sel = (struct kvmdci_vm_select){.vcpu_id = -1};
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS, opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'M':
			tool_parse_vm(&tool, optarg, sel);
			break;
		case 'C':
			tool_parse_vcpu(&tool, optarg, sel);
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
}

int main(int argc, char **argv)
{
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_vm_list *vms = NULL;
	struct kvmdci_vcpu_list *vcpus = NULL;
	struct kvmdci_vm_select sel;
	struct shown shown = {0};
	int r, status = 0;

	parse_options(argc, argv, &sel);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	struct kvmdci_target_stats s0, s1;
	kvmdci_target_get_stats(t, &s0);
	double t0 = tool_now_s();
	if ((status = tool_check_selection(&tool, k, &sel)) != 0)
		goto out;
	if ((r = kvmdci_vm_list_new(k, &sel, &vms)) < 0 ||
	    (r = kvmdci_vcpu_list_new(k, &sel, &vcpus)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	/* every vCPU's state read ahead, level by level, pipelined */
	int nv = 0;
	while (kvmdci_vcpu_list_get(vcpus, nv))
		nv++;
	uint64_t *addrs = calloc((size_t)nv + 1, sizeof(*addrs));
	for (int i = 0; addrs && i < nv; i++)
		addrs[i] = kvmdci_vcpu_list_get(vcpus, i)->vcpu;
	if (addrs && (r = kvmdci_kvm_vcpu_prefetch(k, addrs, nv)) < 0)
		tool_progress(&tool, "warning: reading ahead failed (%s); walking without",
			      kvmdci_ctx_last_error(tool.ctx));
	free(addrs);
	enum kvmdci_vendor vendor = kvmdci_kvm_vendor(k);
	const char *vname = vendor == KVMDCI_VENDOR_VMX	  ? "vmx"
			    : vendor == KVMDCI_VENDOR_SVM ? "svm"
							  : "none";
	json_t *doc = json_pack("{s:s, s:s}", "target", tool.target, "vendor", vname);
	json_t *jvms = json_array();
	show_vms(k, vms, vcpus, vname, jvms, &shown);
	kvmdci_target_get_stats(t, &s1);
	double secs = tool_now_s() - t0;
	if (tool.verbose)
		tool_progress(&tool, "%d VMs, %d vCPUs read with %llu packets in %.3f s", shown.vms,
			      shown.vcpus, (unsigned long long)(s1.packets_sent - s0.packets_sent),
			      secs);
	json_object_set_new(doc, "vms", jvms);
	json_object_set_new(
		doc, "stats",
		json_pack("{s:I, s:I, s:f}", "packets_sent",
			  (json_int_t)(s1.packets_sent - s0.packets_sent), "bytes_received",
			  (json_int_t)(s1.bytes_received - s0.bytes_received), "seconds", secs));
	if ((sel.vm || sel.pid > 0) && !shown.vms)
		status = tool_fail_msg(&tool, ENOENT, "no VM with that struct kvm address or pid");
	else if (sel.vcpu_id >= 0 && !shown.vcpus)
		status = tool_fail_msg(&tool, ENOENT, "no vCPU with that id");
	else if (tool.json)
		tool_json_print(&tool, doc);
	else if (!shown.vms)
		printf("no VMs\n");
	json_decref(doc);
out:
	kvmdci_vm_list_unref(vms);
	kvmdci_vcpu_list_unref(vcpus);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
