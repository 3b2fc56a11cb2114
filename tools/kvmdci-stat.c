// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-stat: KVM's own stats of every VM and vCPU, as debugfs shows them, read from memory. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"
#include "vm-select.h"

static struct tool tool = {.name = "kvmdci-stat"};
static bool per_vcpu, show_all;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-stat -t URI [--vm ADDR|PID] [--vcpu N] [--per-vcpu] [--all] [--json]\n"
		"\n"
		"Prints KVM's own stats of every VM on a KVM host seen from below the OS, the\n"
		"numbers its debugfs shows under /sys/kernel/debug/kvm/PID-FD: each VM's stats\n"
		"(struct kvm_vm_stat) and each vCPU stat (struct kvm_vcpu_stat) summed over the\n"
		"VM's vCPUs. Names and kinds (cumulative counter, instant or peak gauge, histogram)\n"
		"are KVM's own stats descriptors where the kernel has them (5.14 and later); before,\n"
		"debugfs's names from KVM's debugfs_entries[] (kinds unknown). Memory reads only,\n"
		"no breakpoint: live targets and dumps alike.\n"
		"\n"
		"Selection and output:\n"
		"      --vm ADDR|PID     one VM: its struct kvm address (0x...) or its pid\n"
		"      --vcpu N          with --per-vcpu, only this vCPU id (the sums stay whole)\n"
		"      --per-vcpu        each vCPU's stats too, not only their sums\n"
		"  -a, --all             show stats that are zero too (text; JSON has every stat)\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-stat\n"
		"  kvmdci-stat --json | jq '.vms[] | {vm_pid, exits: .vcpu_stats.exits}'\n"
		"  kvmdci-stat --per-vcpu --vcpu 0 --all\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

/* One stat's value: a number, or an array of a histogram's buckets. */
static json_t *json_value(const struct kvmdci_kvm_stat_desc *d, const uint64_t *v)
{
	if (d->kind != KVMDCI_KVM_STAT_LINEAR_HIST && d->kind != KVMDCI_KVM_STAT_LOG_HIST &&
	    d->size == 1)
		return json_integer((json_int_t)v[d->index]);
	json_t *a = json_array();
	for (uint32_t j = 0; j < d->size; j++)
		json_array_append_new(a, json_integer((json_int_t)v[d->index + j]));
	return a;
}

static json_t *json_stats(const struct kvmdci_kvm_stats *st, enum kvmdci_kvm_stat_scope scope,
			  const uint64_t *v)
{
	json_t *o = json_object();
	struct kvmdci_kvm_stat_desc d;
	for (int i = 0; kvmdci_kvm_stats_desc(st, scope, i, &d) == 0; i++)
		json_object_set_new(o, d.name, json_value(&d, v));
	return o;
}

/* What each stat is: name, kind, unit, size. */
static json_t *json_descs(const struct kvmdci_kvm_stats *st, enum kvmdci_kvm_stat_scope scope)
{
	json_t *a = json_array();
	struct kvmdci_kvm_stat_desc d;
	for (int i = 0; kvmdci_kvm_stats_desc(st, scope, i, &d) == 0; i++) {
		json_t *o = json_pack("{s:s, s:s, s:i, s:i}", "name", d.name, "kind",
				      kvmdci_kvm_stat_kind_name(d.kind), "size", (int)d.size,
				      "offset", (int)d.offset);
		if (d.unit)
			json_object_set_new(o, "unit", json_string(d.unit));
		if (d.base) {
			json_object_set_new(o, "base", json_integer(d.base));
			json_object_set_new(o, "exponent", json_integer(d.exponent));
		}
		if (d.kind == KVMDCI_KVM_STAT_LINEAR_HIST)
			json_object_set_new(o, "bucket_size", json_integer(d.bucket_size));
		json_array_append_new(a, o);
	}
	return a;
}

static void print_stats(const struct kvmdci_kvm_stats *st, enum kvmdci_kvm_stat_scope scope,
			const uint64_t *v, const char *indent)
{
	struct kvmdci_kvm_stat_desc d;
	int shown = 0;

	for (int i = 0; kvmdci_kvm_stats_desc(st, scope, i, &d) == 0; i++) {
		bool zero = true;
		for (uint32_t j = 0; j < d.size; j++)
			zero = zero && !v[d.index + j];
		if (zero && !show_all)
			continue;
		shown++;
		printf("%s%-32s", indent, d.name);
		if (d.size == 1)
			printf(" %20llu", (unsigned long long)v[d.index]);
		else
			for (uint32_t j = 0; j < d.size; j++)
				printf("%s%llu", j ? " " : " [", (unsigned long long)v[d.index + j]);
		if (d.size > 1)
			putchar(']');
		if (d.kind != KVMDCI_KVM_STAT_CUMULATIVE && d.kind != KVMDCI_KVM_STAT_UNKNOWN)
			printf("  (%s)", kvmdci_kvm_stat_kind_name(d.kind));
		putchar('\n');
	}
	if (!shown)
		printf("%s(all zero)\n", indent);
}

struct shown {
	int vms, vcpus;
};

/* Each selected VM: its stats, its vCPUs' sums and (with --per-vcpu) each selected vCPU's. */
static int show_vms(struct kvmdci_kernel *k, const struct kvmdci_kvm_stats *st,
		    const struct kvmdci_vm_list *vms, const struct kvmdci_vcpu_list *vcpus,
		    int32_t vcpu_id, json_t *jvms, struct shown *shown)
{
	const struct kvmdci_vm_info *vi;
	int nvm = kvmdci_kvm_stats_values(st, KVMDCI_KVM_STAT_SCOPE_VM);
	int nvc = kvmdci_kvm_stats_values(st, KVMDCI_KVM_STAT_SCOPE_VCPU);
	uint64_t *vmv = calloc((size_t)nvm + 1, sizeof(*vmv));
	uint64_t *sum = calloc((size_t)nvc + 1, sizeof(*sum));
	uint64_t *one = calloc((size_t)nvc + 1, sizeof(*one));
	int r = 0;

	if (!vmv || !sum || !one) {
		r = -ENOMEM;
		goto out;
	}
	for (int v = 0; (vi = kvmdci_vm_list_get(vms, v)) && !tool_stop_requested; v++) {
		const struct kvmdci_vcpu_info *ci;
		json_t *jv = json_array();
		int n = 0, listed = 0;

		if ((r = kvmdci_kvm_stats_read(k, st, KVMDCI_KVM_STAT_SCOPE_VM, vi->vm, vmv)) < 0) {
			json_decref(jv);
			goto out;
		}
		memset(sum, 0, (size_t)nvc * sizeof(*sum));
		for (int i = 0; (ci = kvmdci_vcpu_list_get(vcpus, i)); i++) {
			if (ci->vm != vi->vm)
				continue;
			/* room for one more vCPU's values, kept for the text after the sums */
			uint64_t *more = realloc(one, ((size_t)listed + 1) * (size_t)nvc * sizeof(*one) + 8);
			if (!more) {
				json_decref(jv);
				r = -ENOMEM;
				goto out;
			}
			one = more;
			uint64_t *mine = one + (size_t)listed * (size_t)nvc;
			if ((r = kvmdci_kvm_stats_read(k, st, KVMDCI_KVM_STAT_SCOPE_VCPU, ci->vcpu,
						       mine)) < 0) {
				json_decref(jv);
				goto out;
			}
			n++;
			for (int j = 0; j < nvc; j++)
				sum[j] += mine[j];
			if (vcpu_id >= 0 && ci->vcpu_id != vcpu_id)
				continue;
			listed++;
			shown->vcpus++;
			json_array_append_new(
				jv, json_pack("{s:o, s:i, s:i, s:o}", "vcpu", tool_json_addr(ci->vcpu),
					      "vcpu_id", ci->vcpu_id, "vcpu_idx", ci->vcpu_idx, "stats",
					      json_stats(st, KVMDCI_KVM_STAT_SCOPE_VCPU, mine)));
		}
		shown->vms++;
		if (!tool.json) {
			printf("%sVM 0x%llx pid %d, %d vCPUs\n", shown->vms > 1 ? "\n" : "",
			       (unsigned long long)vi->vm, vi->userspace_pid, n);
			printf("  VM stats:\n");
			print_stats(st, KVMDCI_KVM_STAT_SCOPE_VM, vmv, "    ");
			printf("  vCPU stats, summed over %d vCPUs:\n", n);
			print_stats(st, KVMDCI_KVM_STAT_SCOPE_VCPU, sum, "    ");
			for (int i = 0; per_vcpu && i < listed; i++) {
				json_t *jc = json_array_get(jv, (size_t)i);
				printf("  vCPU %d, kvm_vcpu %s:\n",
				       (int)json_integer_value(json_object_get(jc, "vcpu_id")),
				       json_string_value(json_object_get(jc, "vcpu")));
				print_stats(st, KVMDCI_KVM_STAT_SCOPE_VCPU, one + (size_t)i * (size_t)nvc,
					    "    ");
			}
		}
		json_t *jvm = json_pack(
			"{s:o, s:i, s:i, s:s?, s:o, s:i, s:o, s:o}", "vm", tool_json_addr(vi->vm),
			"vm_pid", vi->userspace_pid, "online_vcpus", vi->online_vcpus, "stats_id",
			vi->stats_id[0] ? vi->stats_id : NULL, "stats",
			json_stats(st, KVMDCI_KVM_STAT_SCOPE_VM, vmv), "vcpus_summed", n,
			"vcpu_stats", json_stats(st, KVMDCI_KVM_STAT_SCOPE_VCPU, sum), "vcpus", jv);
		json_array_append_new(jvms, jvm);
	}
out:
	free(vmv);
	free(sum);
	free(one);
	return r;
}

static void parse_options(int argc, char **argv, struct kvmdci_vm_select *sel)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"vm", required_argument, NULL, 'M'},
		{"vcpu", required_argument, NULL, 'C'},
		{"per-vcpu", no_argument, NULL, 'P'},
		{"all", no_argument, NULL, 'a'},
		{0},
	};
	int opt;

	*sel = (struct kvmdci_vm_select){.vcpu_id = -1};
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "a", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'M':
			tool_parse_vm(&tool, optarg, sel);
			break;
		case 'C':
			tool_parse_vcpu(&tool, optarg, sel);
			break;
		case 'P':
			per_vcpu = true;
			break;
		case 'a':
			show_all = true;
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if (sel->vcpu_id >= 0 && !per_vcpu && !tool.json)
		tool_usage_error(&tool, "--vcpu N shows one vCPU's own stats: add --per-vcpu "
					"(or --json, which has every vCPU)");
}

int main(int argc, char **argv)
{
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_vm_list *vms = NULL;
	struct kvmdci_vcpu_list *vcpus = NULL;
	struct kvmdci_kvm_stats *st = NULL;
	struct kvmdci_vm_select sel, vm_only;
	struct shown shown = {0};
	int r, status = 0;

	parse_options(argc, argv, &sel);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	double t0 = tool_now_s();
	if ((status = tool_check_selection(&tool, k, &sel)) != 0)
		goto out;
	/* every vCPU of the chosen VMs: the sums are whole even when --vcpu picks one to show */
	vm_only = sel;
	vm_only.vcpu_id = -1;
	if ((r = kvmdci_kvm_stats_new(k, &st)) < 0 || (r = kvmdci_vm_list_new(k, &sel, &vms)) < 0 ||
	    (r = kvmdci_vcpu_list_new(k, &vm_only, &vcpus)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	const char *source = kvmdci_kvm_stats_source(st);
	json_t *doc = json_pack(
		"{s:s, s:s, s:{s:o, s:o}}", "target", tool.target, "source", source,
		"descriptors", "vm",
		json_descs(st, KVMDCI_KVM_STAT_SCOPE_VM), "vcpu",
		json_descs(st, KVMDCI_KVM_STAT_SCOPE_VCPU));
	json_t *jvms = json_array();
	json_object_set_new(doc, "vms", jvms);
	if ((r = show_vms(k, st, vms, vcpus, sel.vcpu_id, jvms, &shown)) < 0)
		status = tool_fail(&tool, r, NULL);
	else if ((sel.vm || sel.pid > 0) && !shown.vms)
		status = tool_fail_msg(&tool, ENOENT, "no VM with that struct kvm address or pid");
	else if (sel.vcpu_id >= 0 && !shown.vcpus)
		status = tool_fail_msg(&tool, ENOENT, "no vCPU with that id");
	else if (tool.json)
		tool_json_print(&tool, doc);
	else if (!shown.vms)
		printf("no VMs\n");
	if (tool.verbose)
		tool_progress(&tool, "%d VMs, %d vCPUs read in %.3f s (%s)", shown.vms, shown.vcpus,
			      tool_now_s() - t0, source);
	json_decref(doc);
out:
	kvmdci_kvm_stats_unref(st);
	kvmdci_vm_list_unref(vms);
	kvmdci_vcpu_list_unref(vcpus);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
