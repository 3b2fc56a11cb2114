// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-exits: a VM-exit reason histogram (like kvm_stat) taken from below the OS. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exits-live.h"
#include "shared.h"
#include "vm-select.h"

static struct tool tool = { .name = "kvmdci-exits" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-exits -t URI [--duration S | --count N] [--live | --interval S]\n"
		"                    [--vm ADDR|PID] [--vcpu N] [--per-vcpu] [--per-vm] [--json]\n"
		"\n"
		"Counts VM exits by reason on a KVM host seen through a whole-machine debugger and\n"
		"prints a histogram (reason, code, count, share, rate, bar), like kvm_stat. It stops\n"
		"at --duration, --count or Ctrl-C, removes its breakpoints and lets the host run.\n"
		"\n"
		"Tracing:\n"
		"  -d, --duration S      trace for S seconds (default: until Ctrl-C)\n"
		"  -c, --count N         stop after N exits\n"
		"      --trigger T       auto (default), watch or break:\n"
		"                        watch: write watchpoints on each vCPU's kvm_vcpu.stat.exits\n"
		"                        (fast on QEMU: no translation-cache flush; one debug\n"
		"                        register each on real CPUs); follows vCPUs created and\n"
		"                        destroyed while tracing (breakpoints on\n"
		"                        kvm_arch_vcpu_postcreate and kvm_arch_vcpu_destroy), so it\n"
		"                        can start before the VMM;\n"
		"                        break: a breakpoint on svm_handle_exit / vmx_handle_exit\n"
		"      --sample D[/P]    sampling: the trigger is in for D of each period P and out\n"
		"                        (the host runs without stops) for the rest; D is a share\n"
		"                        (10%% or 0.1), P a time (500ms, 2s; default 1s). The\n"
		"                        counts are samples, calibrated to KVM's own counters: io,\n"
		"                        hlt, interrupt, interrupt window exactly from io_exits,\n"
		"                        halt_exits, irq_exits, irq_window_exits; the rest of KVM's\n"
		"                        total shared as sampled, with a 95%% interval (+-95%%)\n"
		"      --counters        no breakpoints at all: read KVM's own per-vCPU counters\n"
		"                        (kvm_vcpu.stat: exits, io_exits, halt_exits, ...) at the\n"
		"                        start and the end; totals and rates, not reasons\n"
		"      --per-vcpu        also one table per vCPU\n"
		"      --per-vm          also one table per VM\n"
		"\n"
		"While it runs:\n"
		"      --live            a view on the terminal, refreshed every interval (1 s, or\n"
		"                        --interval): each reason's count, share, delta and rate,\n"
		"                        and each vCPU's; keys: s sort (total, delta, name, code),\n"
		"                        r reset to zero, q quit; then the report as usual\n"
		"  -i, --interval S      one line per interval on stdout (with --json: one JSON\n"
		"                        object per line, \"type\": \"interval\"), then the report\n"
		"\n"
		"Selection:\n"
		"      --vm ADDR|PID     only this VM: its struct kvm address (0x...) or its pid\n"
		"      --vcpu N          only this vCPU id (of every VM, or of --vm)\n"
		"                        (watch: watchpoints on these vCPUs only; break: the\n"
		"                        others' exits stop too but are not counted)\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Every run ends with its coverage: the exits counted against KVM's own\n"
		"kvm_vcpu.stat.exits over the same run (equal unless sampling or a loss).\n"
		"\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-exits --duration 10\n"
		"  kvmdci-exits --duration 60 --sample 2%%/500ms  # a busy host, ~no cost\n"
		"  kvmdci-exits --live --vm 111                    # like kvm_stat, one VM\n"
		"  kvmdci-exits -d 3 -i 1 --json | jq -c 'select(.type == \"interval\") | .rate'\n"
		"  kvmdci-exits -t gdb://127.0.0.1:1234 --vmlinux vmlinux --system-map System.map \\\n"
		"      --modules ./modules --count 10000 --json | jq '.reasons[0]'\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

/* "10%", "0.1", "10%/500ms", "0.25/2s", "5%/1000" (ms without a unit) */
static int parse_sample(const char *arg, double *duty, int *period_ms)
{
	char *end;
	double d = strtod(arg, &end), p = 1000;

	if (end == arg)
		return -EINVAL;
	if (*end == '%') {
		d /= 100;
		end++;
	}
	if (*end == '/') {
		const char *ps = end + 1;
		p = strtod(ps, &end);
		if (end == ps)
			return -EINVAL;
		if (!strcmp(end, "s"))
			p *= 1000;
		else if (*end && strcmp(end, "ms"))
			return -EINVAL;
	} else if (*end) {
		return -EINVAL;
	}
	if (!(d > 0 && d <= 1) || !(p >= 10 && p <= 3600 * 1000))
		return -EINVAL;
	*duty = d;
	*period_ms = (int)p;
	return 0;
}

/* The estimates of a group of vCPUs (kvmdci_exits_estimates()). */
struct est_set {
	struct kvmdci_exit_estimate *x;
	int n;
};

/* Everything a run measured, for the two renderers. */
struct run {
	struct kvmdci_exits *e;
	struct kvmdci_exit_stats *stats;
	enum kvmdci_vendor vendor;
	double secs, duty, scale; /* scale > 0 (sampling): an estimated-total column */
	int period_ms;
	bool interrupted, have_cov;
	struct kvmdci_exits_coverage cov;
	struct est_set all; /* kvmdci_exits_estimates() of every vCPU */
	int status;
	char error[512];
};

static const char *reason_name(enum kvmdci_vendor v, unsigned long long code, char *buf,
			       size_t sz)
{
	const char *n = kvmdci_exit_reason_name(v, code);
	if (n)
		return n;
	if (code == KVMDCI_EXIT_CODE_UNREADABLE)
		return "(unreadable)";
	snprintf(buf, sz, "unknown");
	return buf;
}

/* The estimates of the vCPUs of @vm / @vcpu (0: all); an empty set when there are none. */
static struct est_set get_estimates(struct kvmdci_exits *e, uint64_t vm, uint64_t vcpu)
{
	struct est_set s = { NULL, kvmdci_exits_estimates(e, vm, vcpu, NULL, 0) };

	if (s.n > 0 && (s.x = calloc((size_t)s.n, sizeof(*s.x))) != NULL)
		s.n = kvmdci_exits_estimates(e, vm, vcpu, s.x, s.n);
	if (!s.x)
		s.n = 0;
	return s;
}

static const struct kvmdci_exit_estimate *estimate_of(const struct est_set *s, uint64_t code)
{
	for (int i = 0; i < s->n; i++)
		if (s->x[i].code == code)
			return &s->x[i];
	return NULL;
}

static const char *estimate_name(const struct run *run, uint64_t code, char *buf, size_t sz)
{
	return code == KVMDCI_EXIT_CODE_UNSAMPLED ? "(not sampled)"
						  : reason_name(run->vendor, code, buf, sz);
}

/* Sampling: the estimates, each reason's count calibrated to KVM's counters; @sampled: the
 * group's hits. */
static void show_estimates_plain(const struct run *run, const struct est_set *set,
				 uint64_t sampled)
{
	double total = 0, secs = run->secs;
	char buf[32];

	for (int i = 0; i < set->n; i++)
		total += set->x[i].estimated;
	printf("  %-22s %10s %9s %12s %10s %7s %10s  %s\n", "reason", "code", "sampled",
	       "estimated", "+-95%", "share", "rate/s", "from");
	for (int i = 0; i < set->n; i++) {
		const struct kvmdci_exit_estimate *x = &set->x[i];
		char code[24], err[24];
		snprintf(code, sizeof(code), "0x%llx", (unsigned long long)x->code);
		if (x->code == KVMDCI_EXIT_CODE_UNSAMPLED)
			snprintf(code, sizeof(code), "-");
		if (x->error > 0)
			snprintf(err, sizeof(err), "%.0f", x->error);
		else
			snprintf(err, sizeof(err), "exact");
		printf("  %-22s %10s %9llu %12.0f %10s %6.1f%% %10.1f  %s\n",
		       estimate_name(run, x->code, buf, sizeof(buf)), code,
		       (unsigned long long)x->counted, x->estimated, err,
		       total > 0 ? 100.0 * x->estimated / total : 0.0,
		       secs > 0 ? x->estimated / secs : 0.0, x->counter[0] ? x->counter : "sample");
	}
	printf("  %-22s %10s %9llu %12.0f %10s %6.1f%% %10.1f  %s\n", "total", "",
	       (unsigned long long)sampled, total, "exact", total > 0 ? 100.0 : 0.0,
	       secs > 0 ? total / secs : 0.0, "exits");
}

static void show_table_plain(const struct run *run, enum kvmdci_exit_scope scope, int g)
{
	struct kvmdci_exit_group grp;
	struct kvmdci_exit_reason_count rc;
	unsigned long long max = 0, total;
	double secs = run->secs, scale = run->scale;
	char buf[32];

	kvmdci_exit_stats_group(run->stats, scope, g, &grp);
	total = grp.total;
	if (grp.reasons && kvmdci_exit_stats_reason(run->stats, scope, g, 0, &rc) == 0)
		max = rc.count;
	printf("  %-22s %10s %12s %7s %10s", "reason", "code", "count", "share", "rate/s");
	if (scale > 0)
		printf(" %12s", "est.");
	printf("\n");
	for (int i = 0; kvmdci_exit_stats_reason(run->stats, scope, g, i, &rc) == 0; i++) {
		int bar = max ? (int)(rc.count * 30 / max) : 0;
		char code[24];
		snprintf(code, sizeof(code), "0x%llx", (unsigned long long)rc.code);
		printf("  %-22s %10s %12llu %6.1f%% %10.1f",
		       reason_name(run->vendor, rc.code, buf, sizeof(buf)), code,
		       (unsigned long long)rc.count,
		       total ? 100.0 * (double)rc.count / (double)total : 0.0,
		       secs > 0 ? (double)rc.count / secs : 0.0);
		if (scale > 0)
			printf(" %12.0f", (double)rc.count * scale);
		printf("  ");
		for (int b = 0; b < bar; b++)
			fputc('#', stdout);
		fputc('\n', stdout);
	}
	printf("  %-22s %10s %12llu %6.1f%% %10.1f", "total", "", total, total ? 100.0 : 0.0,
	       secs > 0 ? (double)total / secs : 0.0);
	if (scale > 0)
		printf(" %12.0f", (double)total * scale);
	printf("\n");
}

static json_t *json_reasons(const struct run *run, enum kvmdci_exit_scope scope, int g)
{
	struct kvmdci_exit_group grp;
	struct kvmdci_exit_reason_count rc;
	json_t *a = json_array();
	double secs = run->secs;
	char buf[32];

	kvmdci_exit_stats_group(run->stats, scope, g, &grp);
	struct est_set own = { NULL, 0 };
	const struct est_set *set = &run->all;
	if (run->scale > 0 && scope != KVMDCI_EXIT_SCOPE_ALL) {
		own = get_estimates(run->e, grp.vm, grp.vcpu);
		set = &own;
	}
	for (int i = 0; kvmdci_exit_stats_reason(run->stats, scope, g, i, &rc) == 0; i++) {
		json_t *o = json_pack("{s:I, s:o, s:s, s:I, s:f, s:f}", "code", (json_int_t)rc.code,
				      "code_hex", tool_json_addr(rc.code), "name",
				      reason_name(run->vendor, rc.code, buf, sizeof(buf)), "count",
				      (json_int_t)rc.count, "share",
				      grp.total ? (double)rc.count / (double)grp.total : 0.0, "rate",
				      secs > 0 ? (double)rc.count / secs : 0.0);
		const struct kvmdci_exit_estimate *x;
		if (run->scale > 0 && (x = estimate_of(set, rc.code))) {
			json_object_set_new(o, "estimated", json_real(x->estimated));
			json_object_set_new(o, "error", json_real(x->error));
		}
		json_array_append_new(a, o);
	}
	free(own.x);
	return a;
}

/* One VM's or vCPU's table: its estimates when sampling, else its counts. */
static void show_group_plain(const struct run *run, enum kvmdci_exit_scope scope, int i,
			     const struct kvmdci_exit_group *g)
{
	if (run->scale > 0) {
		struct est_set set = get_estimates(run->e, g->vm, g->vcpu);
		if (set.n > 0) {
			show_estimates_plain(run, &set, g->total);
			free(set.x);
			return;
		}
	}
	show_table_plain(run, scope, i);
}

static const char *vendor_word(const struct run *run)
{
	return run->vendor == KVMDCI_VENDOR_VMX ? "vmx" : "svm";
}

static const char *trigger_word(const struct run *run)
{
	return kvmdci_exits_trigger(run->e) == KVMDCI_TRIGGER_WATCH ? "watch" : "break";
}

static void show_exits_json(const struct run *run)
{
	const struct kvmdci_exits_coverage *cov = &run->cov;
	struct kvmdci_exit_group g;
	json_t *vcpus = json_array(), *vms = json_array();
	uint64_t repeated, missed;

	kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_ALL, 0, &g);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:b, s:I, s:o}", "type", "summary",
				"target", tool.target,
				"vendor", vendor_word(run), "trigger", trigger_word(run),
				"trigger_description", kvmdci_exits_trigger_description(run->e),
				"duration_s", run->secs, "interrupted", run->interrupted, "total",
				(json_int_t)g.total, "reasons",
				json_reasons(run, KVMDCI_EXIT_SCOPE_ALL, 0));
	for (int i = 0; kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_VCPU, i, &g) == 0; i++)
		json_array_append_new(
			vcpus, json_pack("{s:o, s:i, s:o, s:i, s:I, s:o}", "vm", tool_json_addr(g.vm),
					 "vm_pid", g.vm_pid, "vcpu", tool_json_addr(g.vcpu), "vcpu_id",
					 g.vcpu_id, "total", (json_int_t)g.total, "reasons",
					 json_reasons(run, KVMDCI_EXIT_SCOPE_VCPU, i)));
	for (int i = 0; kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_VM, i, &g) == 0; i++)
		json_array_append_new(vms, json_pack("{s:o, s:i, s:I, s:o}", "vm",
						     tool_json_addr(g.vm), "vm_pid", g.vm_pid, "total",
						     (json_int_t)g.total, "reasons",
						     json_reasons(run, KVMDCI_EXIT_SCOPE_VM, i)));
	kvmdci_exits_watch_stats(run->e, &repeated, &missed);
	json_object_set_new(doc, "repeated_reports_ignored", json_integer((json_int_t)repeated));
	json_object_set_new(doc, "missed", json_integer((json_int_t)missed));
	json_object_set_new(doc, "coverage", run->have_cov ? json_pack(
		"{s:I, s:I, s:f, s:i, s:i, s:I, s:I}", "counted", (json_int_t)cov->counted,
		"kvm_exits", (json_int_t)cov->kvm_exits, "ratio", cov->kvm_exits ?
		(double)cov->counted / (double)cov->kvm_exits : 1.0, "vcpus", cov->vcpus,
		"vcpus_gone", cov->vcpus_gone, "missed_at_stop", (json_int_t)cov->missed_at_stop,
		"late_counted", (json_int_t)cov->late_counted) : json_null());
	struct kvmdci_exits_follow fol;
	json_object_set_new(doc, "follow", kvmdci_exits_follow_stats(run->e, &fol) > 0 ? json_pack(
		"{s:i, s:i, s:i, s:i, s:I}", "created", fol.created, "destroyed", fol.destroyed,
		"unwatched", fol.unwatched, "most_watched", fol.most_watched,
		"exits_before_watch", (json_int_t)fol.exits_before_watch) : json_null());
	json_object_set_new(doc, "sampling", run->duty > 0 ? json_pack(
		"{s:f, s:i, s:f, s:f}", "duty", run->duty, "period_ms", run->period_ms, "armed_s",
		cov->armed_s, "armed_share", cov->run_s > 0 ? cov->armed_s / cov->run_s : 0.0)
		: json_null());
	json_t *est = json_array();
	for (int i = 0; i < run->all.n; i++) {
		const struct kvmdci_exit_estimate *x = &run->all.x[i];
		char buf[32];
		json_t *o = json_pack("{s:I, s:o, s:s, s:I, s:f, s:f, s:s}", "code",
				      (json_int_t)x->code, "code_hex", tool_json_addr(x->code), "name",
				      estimate_name(run, x->code, buf, sizeof(buf)), "counted",
				      (json_int_t)x->counted, "estimated", x->estimated, "error",
				      x->error, "source", x->counter[0] ? x->counter : "sample");
		if (x->counter[0])
			json_object_set_new(o, "counter_delta",
					    json_integer((json_int_t)x->counter_delta));
		json_array_append_new(est, o);
	}
	json_object_set_new(doc, "estimates", run->have_cov ? est : (json_decref(est), json_null()));
	json_object_set_new(doc, "vcpus", vcpus);
	json_object_set_new(doc, "vms", vms);
	if (run->status)
		json_object_set_new(doc, "error", json_string(run->error));
	tool_json_print(&tool, doc);
	json_decref(doc);
}

static void show_exits_plain(const struct run *run, bool per_vm, bool per_vcpu)
{
	const struct kvmdci_exits_coverage *cov = &run->cov;
	struct kvmdci_exit_group g;

	kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_ALL, 0, &g);
	printf("VM exits (%s) on %s: %llu in %.1f s, trigger %s%s\n", vendor_word(run), tool.target,
	       (unsigned long long)g.total, run->secs, trigger_word(run),
	       run->interrupted ? " (interrupted)" : "");
	if (run->duty > 0 && run->all.n > 0)
		show_estimates_plain(run, &run->all, run->have_cov ? run->cov.counted : g.total);
	else
		show_table_plain(run, KVMDCI_EXIT_SCOPE_ALL, 0);
	if (run->duty > 0)
		printf("  sampling: the trigger was in for %.1f of %.1f s (%.1f%%; asked %g%% of "
		       "each %d ms)\n", cov->armed_s, cov->run_s,
		       cov->run_s > 0 ? 100 * cov->armed_s / cov->run_s : 0.0, run->duty * 100,
		       run->period_ms);
	if (run->have_cov)
		printf("  coverage: %llu of the %llu exits KVM counted on %d vCPU%s (%.1f%%)\n",
		       (unsigned long long)cov->counted, (unsigned long long)cov->kvm_exits,
		       cov->vcpus, cov->vcpus == 1 ? "" : "s",
		       cov->kvm_exits ? 100.0 * (double)cov->counted / (double)cov->kvm_exits : 100.0);
	else
		printf("  coverage: unknown (KVM's counters could not be read at the end)\n");
	if (run->duty > 0 && run->all.n > 0)
		printf("  estimated: a reason KVM counts itself (from: its counter) is exact; the "
		       "rest of KVM's total is shared as the sample saw it, +-95%% interval\n");
	if (run->duty <= 0) {
		/* KVM's own counters beside the counts: the two agree unless exits were missed */
		bool first = true;
		for (int i = 0; i < run->all.n; i++) {
			const struct kvmdci_exit_estimate *x = &run->all.x[i];
			char buf[32];
			if (!x->counter[0])
				continue;
			printf("%s %s %llu (%s counted %llu)", first ? "  KVM's reason counters:" : ",",
			       x->counter, (unsigned long long)x->counter_delta,
			       reason_name(run->vendor, x->code, buf, sizeof(buf)),
			       (unsigned long long)x->counted);
			first = false;
		}
		if (!first)
			printf("\n");
	}
	struct kvmdci_exits_follow fol;
	if (kvmdci_exits_follow_stats(run->e, &fol) > 0 &&
	    (fol.created || fol.destroyed || fol.unwatched))
		printf("  followed: %d vCPU%s created (%llu exits before their watchpoint), %d "
		       "destroyed, %d unwatched (their exits not counted)\n", fol.created,
		       fol.created == 1 ? "" : "s", (unsigned long long)fol.exits_before_watch,
		       fol.destroyed, fol.unwatched);
	uint64_t repeated, missed;
	kvmdci_exits_watch_stats(run->e, &repeated, &missed);
	if (missed)
		printf("  missed: %llu exits KVM counted that no watch stop reported (%llu of them "
		       "as the run was stopped)\n", (unsigned long long)missed,
		       (unsigned long long)(run->have_cov ? cov->missed_at_stop : 0));
	for (int i = 0; per_vm && kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_VM, i, &g) == 0;
	     i++) {
		printf("\nVM 0x%llx (pid %d):\n", (unsigned long long)g.vm, g.vm_pid);
		show_group_plain(run, KVMDCI_EXIT_SCOPE_VM, i, &g);
	}
	for (int i = 0;
	     per_vcpu && kvmdci_exit_stats_group(run->stats, KVMDCI_EXIT_SCOPE_VCPU, i, &g) == 0; i++) {
		printf("\nvCPU %d of VM 0x%llx (pid %d), struct kvm_vcpu at 0x%llx:\n", g.vcpu_id,
		       (unsigned long long)g.vm, g.vm_pid, (unsigned long long)g.vcpu);
		show_group_plain(run, KVMDCI_EXIT_SCOPE_VCPU, i, &g);
	}
	tool_flush_stdout();
}

/* The deltas summed over all vCPUs, one key per counter name (a later duplicate wins). */
static json_t *counter_totals(const struct kvmdci_counters *c)
{
	json_t *tot = json_object();
	uint64_t d;

	for (int i = 0; i < kvmdci_counters_count(c); i++)
		if (kvmdci_counters_delta(c, -1, i, &d) == 0)
			json_object_set_new(tot, kvmdci_counters_name(c, i),
					    json_integer((json_int_t)d));
	return tot;
}

static void show_counters_json(const struct kvmdci_counters *c, double secs, bool interrupted)
{
	json_t *vcpus = json_array();
	struct kvmdci_vcpu_info v;
	uint64_t d;

	for (int i = 0; kvmdci_counters_vcpu(c, i, &v) == 0; i++) {
		json_t *o = json_object();
		for (int n = 0; kvmdci_counters_delta(c, i, n, &d) == 0; n++)
			json_object_set_new(o, kvmdci_counters_name(c, n), json_integer((json_int_t)d));
		json_array_append_new(vcpus, json_pack("{s:o, s:i, s:o, s:i, s:o}", "vm",
						       tool_json_addr(v.vm), "vm_pid", v.vm_pid,
						       "vcpu", tool_json_addr(v.vcpu), "vcpu_id",
						       v.vcpu_id, "counters", o));
	}
	json_t *doc = json_pack("{s:s, s:s, s:s, s:f, s:b, s:o, s:o}", "target", tool.target,
				"mode", "counters", "trigger_description",
				"none: KVM's own kvm_vcpu.stat counters, no breakpoints",
				"duration_s", secs, "interrupted", interrupted, "counters",
				counter_totals(c), "vcpus", vcpus);
	tool_json_print(&tool, doc);
	json_decref(doc);
}

static void show_counters_plain(const struct kvmdci_counters *c, double secs, bool interrupted,
				bool per_vcpu)
{
	json_t *tot = counter_totals(c), *val;
	struct kvmdci_vcpu_info v;
	const char *key;
	uint64_t d;

	printf("KVM's own counters on %s over %.1f s (no breakpoints)%s\n", tool.target, secs,
	       interrupted ? " (interrupted)" : "");
	printf("  %-28s %14s %12s\n", "counter", "delta", "rate/s");
	json_object_foreach(tot, key, val)
	{
		if (!json_integer_value(val))
			continue;
		printf("  %-28s %14lld %12.1f\n", key, (long long)json_integer_value(val),
		       secs > 0 ? (double)json_integer_value(val) / secs : 0.0);
	}
	json_decref(tot);
	for (int i = 0; per_vcpu && kvmdci_counters_vcpu(c, i, &v) == 0; i++) {
		printf("\nvCPU %d of VM 0x%llx (pid %d):\n", v.vcpu_id, (unsigned long long)v.vm,
		       v.vm_pid);
		for (int n = 0; kvmdci_counters_delta(c, i, n, &d) == 0; n++)
			if (d)
				printf("  %-28s %14llu\n", kvmdci_counters_name(c, n),
				       (unsigned long long)d);
	}
}

/* Sleep until --duration or Ctrl-C; returns the seconds since @t0. */
static double wait_window(double t0, double duration)
{
	tool_in_loop = 1;
	while (!tool_stop_requested && (duration <= 0 || tool_now_s() - t0 < duration)) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	tool_in_loop = 0;
	return tool_now_s() - t0;
}

/* --counters: KVM's own counters at both ends of the run, no breakpoint at all. */
static int run_counters(struct kvmdci_target *t, struct kvmdci_kernel *k, double duration,
			bool per_vcpu)
{
	struct kvmdci_counters *c = NULL;
	int r, n, status = 0;

	if ((r = kvmdci_counters_new(k, &c)) < 0)
		return tool_fail(&tool, r, NULL);
	n = kvmdci_counters_vcpu_count(c);
	tool_progress(&tool, "counters: KVM's own kvm_vcpu.stat of %d vCPU%s, no breakpoints; "
			     "the exit reasons themselves need --trigger", n, n == 1 ? "" : "s");
	tool_progress(&tool, "tracing (Ctrl-C to stop)");
	double t0 = tool_now_s();
	if ((r = kvmdci_counters_start(c)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	double secs = wait_window(t0, duration);
	bool interrupted = tool_stop_requested;
	if ((r = kvmdci_counters_stop(c, 3000)) < 0) {
		status = tool_fail(&tool, r, "the target did not stop");
		goto out;
	}
	kvmdci_target_detach(t);
	if (tool.json)
		show_counters_json(c, secs, interrupted);
	else
		show_counters_plain(c, secs, interrupted, per_vcpu);
out:
	kvmdci_counters_unref(c);
	return status;
}

/* One error line; the partial results still follow. */
static void run_error(struct run *run, const char *fallback)
{
	const char *msg = kvmdci_ctx_last_error(tool.ctx);
	snprintf(run->error, sizeof(run->error), "%s", msg && *msg ? msg : fallback);
	fprintf(stderr, "kvmdci-exits: %s\n", run->error);
	run->status = 1;
}

/* Poll the hits until --duration, --count, Ctrl-C (q in --live) or an error, then stop;
 * with @lv a record or frame every @interval seconds, and a last one for the run's end. */
static void trace(struct run *run, double duration, unsigned long long max_count,
		  struct live_view *lv, double interval, bool live)
{
	double t0 = tool_now_s(), next = t0 + interval;
	bool quit = false;

	tool_in_loop = 1;
	if (live)
		live_tick(lv, run->e, t0); /* the screen at once */
	while (!tool_stop_requested) {
		/* short slices in --live: the keys answer within 0.1 s */
		int slice = tool_poll_slice(t0, duration, lv ? 100 : 200);
		if (!slice)
			break;
		if (lv) {
			int until = (int)((next - tool_now_s()) * 1000) + 1;
			if (until < slice)
				slice = until > 1 ? until : 1;
		}
		if (kvmdci_exits_poll(run->e, slice) < 0) {
			run_error(run, "lost the target");
			break;
		}
		if (max_count && kvmdci_exits_total(run->e) >= max_count)
			break;
		double now = tool_now_s();
		if (lv && live_keys(lv, run->e, now)) {
			quit = true;
			break;
		}
		if (lv && now >= next) {
			live_tick(lv, run->e, now);
			next += interval;
			if (next < now)
				next = now + interval; /* a long stop: no burst of empty intervals */
		}
	}
	tool_in_loop = 0;
	run->interrupted = tool_stop_requested || quit;
	run->secs = tool_now_s() - t0;
	if (kvmdci_exits_stop(run->e) < 0 && !run->status)
		run_error(run, "could not restore the target");
	/* the tail since the last interval: the records add up to the report's total */
	if (lv)
		live_tick(lv, run->e, tool_now_s());
}

struct options {
	double duration, duty, interval;
	unsigned long long max_count;
	enum kvmdci_trigger trigger;
	bool per_vcpu, per_vm, counters, live;
	int period_ms;
	struct kvmdci_vm_select sel;
};

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "trigger", required_argument, NULL, 'T' },
		{ "per-vcpu", no_argument, NULL, 'P' },
		{ "per-vm", no_argument, NULL, 'M' },
		{ "counters", no_argument, NULL, 'C' },
		{ "sample", required_argument, NULL, 'S' },
		{ "live", no_argument, NULL, 'L' },
		{ "interval", required_argument, NULL, 'i' },
		{ "vm", required_argument, NULL, 'm' },
		{ "vcpu", required_argument, NULL, 'u' },
		{ 0 },
	};
	int opt;

	*o = (struct options){ .trigger = KVMDCI_TRIGGER_AUTO, .period_ms = 1000 };
	o->sel = (struct kvmdci_vm_select){ .vcpu_id = -1 };
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "d:c:i:", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'd':
			o->duration = tool_opt_double(&tool, "--duration", optarg, TOOL_MIN_SECONDS,
						      TOOL_MAX_SECONDS, TOOL_SECONDS_WHAT);
			break;
		case 'c':
			o->max_count = tool_opt_uint(&tool, "--count", optarg, 10, 1, ULLONG_MAX,
						     "a positive integer");
			break;
		case 'T':
			if (!strcmp(optarg, "auto"))
				o->trigger = KVMDCI_TRIGGER_AUTO;
			else if (!strcmp(optarg, "watch"))
				o->trigger = KVMDCI_TRIGGER_WATCH;
			else if (!strcmp(optarg, "break"))
				o->trigger = KVMDCI_TRIGGER_BREAK;
			else {
				fprintf(stderr, "kvmdci-exits: --trigger is auto, watch or break, not "
						"'%s'\n", optarg);
				exit(2);
			}
			break;
		case 'P':
			o->per_vcpu = true;
			break;
		case 'M':
			o->per_vm = true;
			break;
		case 'C':
			o->counters = true;
			break;
		case 'L':
			o->live = true;
			break;
		case 'i':
			o->interval = tool_opt_double(&tool, "--interval", optarg, 0.1, 3600,
						      "seconds from 0.1 to "
						      "3600 such as 1 or 0.5");
			break;
		case 'm':
			tool_parse_vm(&tool, optarg, &o->sel);
			break;
		case 'u':
			tool_parse_vcpu(&tool, optarg, &o->sel);
			break;
		case 'S':
			if (parse_sample(optarg, &o->duty, &o->period_ms) < 0) {
				fprintf(stderr, "kvmdci-exits: --sample is DUTY[/PERIOD]: a share such "
						"as 10%% or 0.1 (more than 0, at most 1) and a period "
						"from 10ms to 1h such as 500ms or 2s, not '%s'\n",
					optarg);
				exit(2);
			}
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvmdci-exits: unexpected argument '%s' (see --help)\n", argv[optind]);
		exit(2);
	}
	if (o->live && (tool.json || o->counters)) {
		fprintf(stderr, "kvmdci-exits: --live draws on the terminal; for scripts use "
				"--interval S (with --json: one JSON line per interval)\n");
		exit(2);
	}
	if (o->interval > 0 && o->counters) {
		fprintf(stderr, "kvmdci-exits: --interval needs a trigger (--counters reads KVM's "
				"counters at the start and the end only)\n");
		exit(2);
	}
	if (o->live && !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "kvmdci-exits: --live needs a terminal on stdout; for a pipe or "
				"a file use --interval S\n");
		exit(2);
	}
	if (o->live && o->interval <= 0)
		o->interval = 1;
}

int main(int argc, char **argv)
{
	struct options o;
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_catalog *cat = NULL;
	struct run run = { 0 };
	struct live_view *lv = NULL;
	int r, status = 0;

	parse_options(argc, argv, &o);
	tool_setup(&tool);
	tool_install_signals();

	if ((r = kvmdci_catalog_load(tool.ctx, tool.catalog, &cat)) < 0)
		return tool_fail(&tool, r, NULL);
	if (tool.verbose)
		tool_progress(&tool, "attaching to %s", tool.target);
	if ((r = kvmdci_target_open(tool.ctx, tool.target, &t)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	/* --counters too: it reads KVM's counters twice, the host running in between */
	if ((status = tool_need_run_control(&tool, t, "counting exits")) != 0)
		goto out;
	if ((r = kvmdci_kernel_open(t, &tool.files, &k)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if ((status = tool_check_selection(&tool, k, &o.sel)) != 0)
		goto out;
	if (o.counters) {
		status = run_counters(t, k, o.duration, o.per_vcpu);
		goto out;
	}
	bool have_sel = o.sel.vm || o.sel.pid > 0 || o.sel.vcpu_id >= 0;
	if ((r = kvmdci_exits_new(k, cat, o.trigger, &run.e)) < 0 ||
	    (have_sel && (r = kvmdci_exits_select(run.e, &o.sel)) < 0) ||
	    (o.duty > 0 && (r = kvmdci_exits_sample(run.e, o.duty, o.period_ms)) < 0)) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	kvmdci_exits_stop_after(run.e, o.max_count);
	if ((r = kvmdci_exits_start(run.e)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	tool_progress(&tool, "trigger %s", kvmdci_exits_trigger_description(run.e));
	if (o.duty > 0)
		tool_progress(&tool, "sampling: the trigger is in for %g%% of each %d ms",
			      o.duty * 100, o.period_ms);
	tool_progress(&tool, "tracing (%s to stop)", o.live ? "q or Ctrl-C" : "Ctrl-C");
	char filter[96] = ""; /* the live view keeps a pointer to it */
	if (o.interval > 0) {
		if (o.sel.vm)
			snprintf(filter, sizeof(filter), "VM 0x%llx", (unsigned long long)o.sel.vm);
		else if (o.sel.pid > 0)
			snprintf(filter, sizeof(filter), "VM pid %lld", (long long)o.sel.pid);
		if (o.sel.vcpu_id >= 0)
			snprintf(filter + strlen(filter), sizeof(filter) - strlen(filter), "%svCPU %d",
				 *filter ? ", " : "", (int)o.sel.vcpu_id);
		struct live_opts lo = { .interval = o.interval, .live = o.live, .json = tool.json,
					.vendor = kvmdci_exits_vendor(run.e), .target = tool.target,
					.trigger = trigger_word(&run), .filter = filter };
		if ((r = live_begin(&lv, &tool, &lo)) < 0) {
			kvmdci_exits_stop(run.e);
			status = tool_fail(&tool, r, "cannot start the live view");
			goto out;
		}
	}
	trace(&run, o.duration, o.max_count, lv, o.interval, o.live);
	live_end(lv);
	lv = NULL;
	status = run.status;

	/* results (also after an error: what was counted so far) */
	if ((r = kvmdci_exits_stats(run.e, &run.stats)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	run.vendor = kvmdci_exits_vendor(run.e);
	run.duty = o.duty;
	run.period_ms = o.period_ms;
	run.have_cov = kvmdci_exits_coverage(run.e, &run.cov) == 0;
	/* sampled counts scale to KVM's total: time-based sampling, one factor for all */
	if (o.duty > 0 && run.have_cov && run.cov.counted)
		run.scale = (double)run.cov.kvm_exits / (double)run.cov.counted;
	/* each reason's estimate: sampled counts calibrated to KVM's reason counters */
	if (run.have_cov)
		run.all = get_estimates(run.e, 0, 0);
	if (tool.json)
		show_exits_json(&run);
	else
		show_exits_plain(&run, o.per_vm, o.per_vcpu);
out:
	kvmdci_exit_stats_unref(run.stats);
	free(run.all.x);
	kvmdci_exits_unref(run.e);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
