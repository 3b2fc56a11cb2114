// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-vmxon: per CPU, who owns hardware virtualization: the CPU's view joined with KVM's. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"


static struct tool tool = { .name = "kvmdci-vmxon" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-vmxon -t URI [--json]\n"
		"\n"
		"For every CPU of a KVM host seen from below the OS: whether hardware\n"
		"virtualization is on (CR4.VMXE on Intel, EFER.SVME on AMD, from the CPU's own\n"
		"registers), whether KVM enabled it there (cpus_hardware_enabled, per-CPU\n"
		"hardware_enabled or virtualization_enabled, whichever the kernel has), KVM's\n"
		"VMXON region (vmxarea: its address, physical address and revision id, which\n"
		"must equal IA32_VMX_BASIC[30:0]) and loaded VMCS (current_vmcs) or its svm_data,\n"
		"and a\n"
		"verdict: off, kvm, foreign (on, but KVM did not enable it: another hypervisor\n"
		"or a leaked VMXON), inconsistent (KVM thinks on, the CPU has it off), unknown.\n"
		"A CPU stopped inside a guest shows the guest's registers: it is reported as\n"
		"\"in guest\" instead.\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

static json_t *jtri(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static const char *vendor_word(enum kvmdci_vendor vendor)
{
	return vendor == KVMDCI_VENDOR_VMX ? "vmx" : vendor == KVMDCI_VENDOR_SVM ? "svm" : "none";
}

static void show_cpus_json(enum kvmdci_vendor vendor, const struct kvmdci_cpu_virt *cpus, int n)
{
	json_t *doc = json_pack("{s:s, s:s}", "target", tool.target, "vendor", vendor_word(vendor));
	json_t *arr = json_array();

	for (int i = 0; i < n; i++) {
		const struct kvmdci_cpu_virt *c = &cpus[i];
		json_t *o = json_pack(
			"{s:i, s:o, s:o, s:o, s:o, s:o, s:s?, s:s, s:s}", "cpu", c->cpu, "cpu_on",
			jtri(c->cpu_on), "in_guest", jtri(c->in_guest), "cr4",
			c->regs_valid & 1 ? tool_json_addr(c->cr4) : json_null(), "efer",
			c->regs_valid & 2 ? tool_json_addr(c->efer) : json_null(), "kvm_on",
			jtri(c->kvm_on), "kvm_source", c->kvm_source[0] ? c->kvm_source : NULL,
			"owner", kvmdci_virt_owner_name(c->owner), "reason", c->reason);
		if (vendor == KVMDCI_VENDOR_VMX) {
			json_object_set_new(o, "vmxarea", tool_json_addr(c->vmxarea));
			json_object_set_new(o, "vmxon_region_pa", c->vmxon_valid & 2
							? tool_json_addr(c->vmxarea_pa)
							: json_null());
			json_object_set_new(o, "vmxon_revision", c->vmxon_valid & 1
							? tool_json_addr(c->vmxon_revision)
							: json_null());
			json_object_set_new(o, "current_vmcs", tool_json_addr(c->current_vmcs));
		} else if (vendor == KVMDCI_VENDOR_SVM) {
			json_object_set_new(o, "svm_data", tool_json_addr(c->svm_data));
			json_object_set_new(o, "save_area", tool_json_addr(c->save_area));
			json_object_set_new(o, "save_area_pa", tool_json_addr(c->save_area_pa));
			json_object_set_new(o, "current_vmcb", tool_json_addr(c->svm_current_vmcb));
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "cpus", arr);
	tool_json_print(&tool, doc);
	json_decref(doc);
}

static void show_cpus_plain(enum kvmdci_vendor vendor, const struct kvmdci_cpu_virt *cpus, int n)
{
	printf("%-4s %-8s %-6s %-18s %-18s %-18s %s\n", "CPU", "VIRT", "KVM", "OWNER",
	       vendor == KVMDCI_VENDOR_SVM ? "SVM_DATA" : "VMXAREA",
	       vendor == KVMDCI_VENDOR_SVM ? "CURRENT_VMCB" : "CURRENT_VMCS", "WHY");
	for (int i = 0; i < n; i++) {
		const struct kvmdci_cpu_virt *c = &cpus[i];
		const char *cs = c->in_guest == 1 ? "in guest"
				 : c->cpu_on < 0  ? "unknown"
				 : c->cpu_on	  ? "on"
						  : "off";
		const char *ks = c->kvm_on < 0 ? "?" : c->kvm_on ? "on" : "off";
		uint64_t a = vendor == KVMDCI_VENDOR_SVM ? c->svm_data : c->vmxarea;
		uint64_t b = vendor == KVMDCI_VENDOR_SVM ? c->svm_current_vmcb : c->current_vmcs;
		printf("%-4d %-8s %-6s %-18s 0x%-16llx 0x%-16llx %s\n", c->cpu, cs, ks,
		       kvmdci_virt_owner_name(c->owner), (unsigned long long)a,
		       (unsigned long long)b, c->reason);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { TOOL_COMMON_LONGOPTS, { 0 } };
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_cpu_virt *cpus = NULL;
	int opt, status = 0;

	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS, opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		tool_bad_option(&tool);
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	/* one entry per CPU of the target: the library reads no more */
	int max = kvmdci_target_cpu_count(t);
	if (max < 1)
		max = 1;
	if (!(cpus = calloc((size_t)max, sizeof(*cpus)))) {
		status = tool_fail(&tool, -ENOMEM, NULL);
		goto out;
	}
	int n = kvmdci_kvm_cpu_virt(k, cpus, max);
	if (n < 0) {
		status = tool_fail(&tool, n, NULL);
		goto out;
	}
	n = n < max ? n : max;
	if (tool.json)
		show_cpus_json(kvmdci_kvm_vendor(k), cpus, n);
	else
		show_cpus_plain(kvmdci_kvm_vendor(k), cpus, n);
out:
	free(cpus);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
