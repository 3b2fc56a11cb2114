// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-exits: a VM-exit reason histogram (like kvm_stat) taken from below the OS. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared.h"

#define MAX_ROWS 65536

static struct tool tool = { .name = "kvmdci-exits" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-exits -t URI [--duration S | --count N] [--per-vcpu] [--per-vm] "
		"[--json]\n"
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
		"                        (fast on QEMU: no translation-cache flush; needs the vCPUs\n"
		"                        to exist and one debug register each on real CPUs);\n"
		"                        break: a breakpoint on svm_handle_exit / vmx_handle_exit\n"
		"      --sample D[/P]    sampling: the trigger is in for D of each period P and out\n"
		"                        (the host runs without stops) for the rest; D is a share\n"
		"                        (10%% or 0.1), P a time (500ms, 2s; default 1s). The\n"
		"                        counts are samples: the report sets them against KVM's own\n"
		"                        stat.exits over the run (coverage) and scales them (est.)\n"
		"      --counters        no breakpoints at all: read KVM's own per-vCPU counters\n"
		"                        (kvm_vcpu.stat: exits, io_exits, halt_exits, ...) at the\n"
		"                        start and the end; totals and rates, not reasons\n"
		"      --per-vcpu        also one table per vCPU\n"
		"      --per-vm          also one table per VM\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Every run ends with its coverage: the exits counted against KVM's own\n"
		"kvm_vcpu.stat.exits over the same run (equal unless sampling or a loss).\n"
		"\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-exits --duration 10\n"
		"  kvmdci-exits --duration 60 --sample 5%%/2s     # a busy host, a small cost\n"
		"  kvmdci-exits -t gdb://127.0.0.1:1234 --vmlinux vmlinux --system-map System.map \\\n"
		"      --modules ./modules --count 10000 --json | jq '.reasons[0]'\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

struct row {
	unsigned long long code;
	unsigned long long count;
};

static int by_count(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->code < y->code ? -1 : x->code > y->code;
}

/* Sum @counts rows that match a filter into per-reason rows, sorted by count. */
static int reasons(const struct kvmdci_exit_count *c, int n, unsigned long long vm,
		   unsigned long long vcpu, struct row *rows, unsigned long long *total)
{
	int nr = 0;
	*total = 0;
	for (int i = 0; i < n; i++) {
		if ((vm && c[i].vm != vm) || (vcpu && c[i].vcpu != vcpu))
			continue;
		int j;
		for (j = 0; j < nr; j++)
			if (rows[j].code == c[i].code)
				break;
		if (j == nr)
			rows[nr++] = (struct row){ c[i].code, 0 };
		rows[j].count += c[i].count;
		*total += c[i].count;
	}
	qsort(rows, (size_t)nr, sizeof(*rows), by_count);
	return nr;
}

static const char *reason_name(enum kvmdci_vendor v, unsigned long long code, char *buf,
			       size_t sz)
{
	const char *n = kvmdci_exit_reason_name(v, code);
	if (n)
		return n;
	if (code == 0xfffffffffffffffeULL)
		return "(unreadable)";
	snprintf(buf, sz, "unknown");
	return buf;
}

/* @scale > 0 (sampling): an estimated-total column, count * scale. */
static void print_table(enum kvmdci_vendor v, const struct row *rows, int nr,
			unsigned long long total, double secs, double scale)
{
	char buf[32];
	unsigned long long max = nr ? rows[0].count : 0;

	printf("  %-22s %10s %12s %7s %10s", "reason", "code", "count", "share", "rate/s");
	if (scale > 0)
		printf(" %12s", "est.");
	printf("\n");
	for (int i = 0; i < nr; i++) {
		int bar = max ? (int)(rows[i].count * 30 / max) : 0;
		char code[24];
		snprintf(code, sizeof(code), "0x%llx", rows[i].code);
		printf("  %-22s %10s %12llu %6.1f%% %10.1f", reason_name(v, rows[i].code, buf, sizeof(buf)),
		       code, rows[i].count, total ? 100.0 * (double)rows[i].count / (double)total : 0.0,
		       secs > 0 ? (double)rows[i].count / secs : 0.0);
		if (scale > 0)
			printf(" %12.0f", (double)rows[i].count * scale);
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

static json_t *json_reasons(enum kvmdci_vendor v, const struct row *rows, int nr,
			    unsigned long long total, double secs, double scale)
{
	json_t *a = json_array();
	char buf[32];
	for (int i = 0; i < nr; i++)
		json_array_append_new(
			a, json_pack("{s:I, s:o, s:s, s:I, s:f, s:f}", "code", (json_int_t)rows[i].code,
				     "code_hex", tool_json_addr(rows[i].code), "name",
				     reason_name(v, rows[i].code, buf, sizeof(buf)), "count",
				     (json_int_t)rows[i].count, "share",
				     total ? (double)rows[i].count / (double)total : 0.0, "rate",
				     secs > 0 ? (double)rows[i].count / secs : 0.0));
	if (scale > 0)
		for (int i = 0; i < nr; i++)
			json_object_set_new(json_array_get(a, (size_t)i), "estimated",
					    json_real((double)rows[i].count * scale));
	return a;
}

/* --counters: KVM's own counters at both ends of the run, no breakpoint at all. */
static int run_counters(struct kvmdci_target *t, struct kvmdci_kernel *k, double duration,
			bool per_vcpu)
{
	struct kvmdci_vcpu_stats_layout *l = NULL;
	struct kvmdci_vcpu_info v[256];
	struct kvmdci_stop st;
	uint64_t *start = NULL, *end = NULL;
	int r, n, nc, status = 0;
	bool interrupted;

	if ((r = kvmdci_kvm_vcpu_stats_layout(k, &l)) < 0)
		return tool_fail(&tool, r, NULL);
	n = kvmdci_kvm_vcpus(k, v, 256);
	if (n < 0) {
		kvmdci_kvm_vcpu_stats_layout_free(l);
		return tool_fail(&tool, n, NULL);
	}
	if (n > 256)
		n = 256;
	nc = kvmdci_kvm_vcpu_stats_count(l);
	start = calloc((size_t)(n * nc + 1), sizeof(*start));
	end = calloc((size_t)(n * nc + 1), sizeof(*end));
	if (!start || !end) {
		status = tool_fail(&tool, -ENOMEM, NULL);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if ((r = kvmdci_kvm_vcpu_stats_read(k, l, v[i].vcpu, start + i * nc)) < 0) {
			status = tool_fail(&tool, r, NULL);
			goto out;
		}
	tool_progress(&tool, "counters: KVM's own kvm_vcpu.stat of %d vCPU%s, no breakpoints; "
			     "the exit reasons themselves need --trigger", n, n == 1 ? "" : "s");
	tool_progress(&tool, "tracing (Ctrl-C to stop)");
	double t0 = tool_now_s();
	if ((r = kvmdci_target_resume(t)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	while (!tool_stop_requested && (duration <= 0 || tool_now_s() - t0 < duration)) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	interrupted = tool_stop_requested;
	double secs = tool_now_s() - t0;
	if ((r = kvmdci_target_interrupt(t)) < 0 || (r = kvmdci_target_wait(t, 3000, &st)) <= 0) {
		status = tool_fail(&tool, r < 0 ? r : -ETIMEDOUT, "the target did not stop");
		goto out;
	}
	for (int i = 0; i < n; i++)
		if ((r = kvmdci_kvm_vcpu_stats_read(k, l, v[i].vcpu, end + i * nc)) < 0) {
			status = tool_fail(&tool, r, NULL);
			goto out;
		}
	kvmdci_target_detach(t);
	json_t *tot = json_object(), *vcpus = json_array();
	for (int c = 0; c < nc; c++) {
		uint64_t d = 0;
		for (int i = 0; i < n; i++)
			d += end[i * nc + c] - start[i * nc + c];
		json_object_set_new(tot, kvmdci_kvm_vcpu_stats_name(l, c), json_integer((json_int_t)d));
	}
	for (int i = 0; i < n; i++) {
		json_t *o = json_object();
		for (int c = 0; c < nc; c++)
			json_object_set_new(o, kvmdci_kvm_vcpu_stats_name(l, c),
					    json_integer((json_int_t)(end[i * nc + c] - start[i * nc + c])));
		json_array_append_new(vcpus, json_pack("{s:o, s:i, s:o, s:i, s:o}", "vm",
						       tool_json_addr(v[i].vm), "vm_pid", v[i].vm_pid,
						       "vcpu", tool_json_addr(v[i].vcpu), "vcpu_id",
						       v[i].vcpu_id, "counters", o));
	}
	if (tool.json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:f, s:b, s:o, s:o}", "target", tool.target,
					"mode", "counters", "trigger_description",
					"none: KVM's own kvm_vcpu.stat counters, no breakpoints",
					"duration_s", secs, "interrupted", interrupted, "counters", tot,
					"vcpus", vcpus);
		tool_json_print(&tool, doc);
		json_decref(doc);
	} else {
		printf("KVM's own counters on %s over %.1f s (no breakpoints)%s\n", tool.target, secs,
		       interrupted ? " (interrupted)" : "");
		printf("  %-28s %14s %12s\n", "counter", "delta", "rate/s");
		const char *key;
		json_t *val;
		json_object_foreach(tot, key, val)
		{
			if (!json_integer_value(val))
				continue;
			printf("  %-28s %14lld %12.1f\n", key, (long long)json_integer_value(val),
			       secs > 0 ? (double)json_integer_value(val) / secs : 0.0);
		}
		for (int i = 0; per_vcpu && i < n; i++) {
			printf("\nvCPU %d of VM 0x%llx (pid %d):\n", v[i].vcpu_id,
			       (unsigned long long)v[i].vm, v[i].vm_pid);
			for (int c = 0; c < nc; c++)
				if (end[i * nc + c] != start[i * nc + c])
					printf("  %-28s %14llu\n", kvmdci_kvm_vcpu_stats_name(l, c),
					       (unsigned long long)(end[i * nc + c] - start[i * nc + c]));
		}
		json_decref(tot);
		json_decref(vcpus);
	}
out:
	free(start);
	free(end);
	kvmdci_kvm_vcpu_stats_layout_free(l);
	return status;
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

int main(int argc, char **argv)
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
		{ 0 },
	};
	double duration = 0;
	unsigned long long max_count = 0;
	enum kvmdci_trigger trigger = KVMDCI_TRIGGER_AUTO;
	bool per_vcpu = false, per_vm = false, counters = false;
	double duty = 0;
	int period_ms = 1000;
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_catalog *cat = NULL;
	struct kvmdci_exits *e = NULL;
	int opt, r, status = 0;
	char *end;

	while ((opt = getopt_long(argc, argv, TOOL_COMMON_SHORTOPTS "d:c:", opts, NULL)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || duration <= 0) {
				fprintf(stderr, "kvmdci-exits: --duration needs a positive number of "
						"seconds, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			errno = 0;
			max_count = strtoull(optarg, &end, 10);
			if (*end || errno || max_count == 0) {
				fprintf(stderr, "kvmdci-exits: --count needs a positive integer, not "
						"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			if (!strcmp(optarg, "auto"))
				trigger = KVMDCI_TRIGGER_AUTO;
			else if (!strcmp(optarg, "watch"))
				trigger = KVMDCI_TRIGGER_WATCH;
			else if (!strcmp(optarg, "break"))
				trigger = KVMDCI_TRIGGER_BREAK;
			else {
				fprintf(stderr, "kvmdci-exits: --trigger is auto, watch or break, not "
						"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'P':
			per_vcpu = true;
			break;
		case 'M':
			per_vm = true;
			break;
		case 'C':
			counters = true;
			break;
		case 'S':
			if (parse_sample(optarg, &duty, &period_ms) < 0) {
				fprintf(stderr, "kvmdci-exits: --sample is DUTY[/PERIOD]: a share such "
						"as 10%% or 0.1 (more than 0, at most 1) and a period "
						"from 10ms to 1h such as 500ms or 2s, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvmdci-exits: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
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
	if ((r = kvmdci_kernel_open(t, &tool.files, &k)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if (counters) {
		status = run_counters(t, k, duration, per_vcpu);
		goto out;
	}
	if ((r = kvmdci_exits_new(k, cat, trigger, &e)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if (duty > 0 && (r = kvmdci_exits_sample(e, duty, period_ms)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	kvmdci_exits_stop_after(e, max_count);
	if ((r = kvmdci_exits_start(e)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	tool_progress(&tool, "trigger %s", kvmdci_exits_trigger_description(e));
	if (duty > 0)
		tool_progress(&tool, "sampling: the trigger is in for %g%% of each %d ms", duty * 100,
			      period_ms);
	tool_progress(&tool, "tracing (Ctrl-C to stop)");
	double t0 = tool_now_s(), secs;
	bool interrupted = false;
	char error[512] = "";
	while (!tool_stop_requested) {
		int slice = 200;
		if (duration > 0) {
			double left = duration - (tool_now_s() - t0);
			if (left <= 0)
				break;
			if (left * 1000 < slice)
				slice = (int)(left * 1000) + 1;
		}
		r = kvmdci_exits_poll(e, slice);
		if (r < 0) {
			/* one error line; the partial results still follow */
			const char *msg = kvmdci_ctx_last_error(tool.ctx);
			snprintf(error, sizeof(error), "%s", msg && *msg ? msg : "lost the target");
			fprintf(stderr, "kvmdci-exits: %s\n", error);
			status = 1;
			break;
		}
		if (max_count && kvmdci_exits_total(e) >= max_count)
			break;
	}
	interrupted = tool_stop_requested;
	secs = tool_now_s() - t0;
	r = kvmdci_exits_stop(e);
	if (r < 0 && !status) {
		const char *msg = kvmdci_ctx_last_error(tool.ctx);
		snprintf(error, sizeof(error), "%s", msg && *msg ? msg : "could not restore the target");
		fprintf(stderr, "kvmdci-exits: %s\n", error);
		status = 1;
	}

	/* results (also after an error: what was counted so far) */
	enum kvmdci_vendor v = kvmdci_exits_vendor(e);
	int n = kvmdci_exits_counts(e, NULL, 0);
	struct kvmdci_exit_count *c = calloc((size_t)n + 1, sizeof(*c));
	struct row *rows = calloc((size_t)n + 1, sizeof(*rows));
	if (!c || !rows) {
		free(c);
		free(rows);
		status = tool_fail(&tool, -ENOMEM, NULL);
		goto out;
	}
	n = kvmdci_exits_counts(e, c, n);
	unsigned long long total;
	int nr = reasons(c, n, 0, 0, rows, &total);
	const char *vname = v == KVMDCI_VENDOR_VMX ? "vmx" : "svm";
	const char *tname = kvmdci_exits_trigger(e) == KVMDCI_TRIGGER_WATCH ? "watch" : "break";
	struct kvmdci_exits_coverage cov;
	bool have_cov = kvmdci_exits_coverage(e, &cov) == 0;
	/* sampled counts scale to KVM's total: time-based sampling, one factor for all */
	double scale = duty > 0 && have_cov && cov.counted ? (double)cov.kvm_exits /
							     (double)cov.counted : 0;

	if (tool.json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:f, s:b, s:I, s:o}", "target",
					tool.target, "vendor", vname, "trigger", tname,
					"trigger_description", kvmdci_exits_trigger_description(e),
					"duration_s", secs, "interrupted", interrupted, "total",
					(json_int_t)total, "reasons",
					json_reasons(v, rows, nr, total, secs, scale));
		json_t *vcpus = json_array(), *vms = json_array();
		for (int i = 0; i < n; i++) {
			bool seen = false;
			for (int j = 0; j < i; j++)
				seen |= c[j].vcpu == c[i].vcpu;
			if (seen)
				continue;
			unsigned long long vt;
			struct row *vr = calloc((size_t)n, sizeof(*vr));
			int vn = reasons(c, n, 0, c[i].vcpu, vr, &vt);
			json_array_append_new(
				vcpus, json_pack("{s:o, s:i, s:o, s:i, s:I, s:o}", "vm",
						 tool_json_addr(c[i].vm), "vm_pid", c[i].vm_pid, "vcpu",
						 tool_json_addr(c[i].vcpu), "vcpu_id", c[i].vcpu_id,
						 "total", (json_int_t)vt, "reasons",
						 json_reasons(v, vr, vn, vt, secs, scale)));
			free(vr);
		}
		for (int i = 0; i < n; i++) {
			bool seen = false;
			for (int j = 0; j < i; j++)
				seen |= c[j].vm == c[i].vm;
			if (seen)
				continue;
			unsigned long long vt;
			struct row *vr = calloc((size_t)n, sizeof(*vr));
			int vn = reasons(c, n, c[i].vm ? c[i].vm : 0, 0, vr, &vt);
			json_array_append_new(vms, json_pack("{s:o, s:i, s:I, s:o}", "vm",
							     tool_json_addr(c[i].vm), "vm_pid",
							     c[i].vm_pid, "total", (json_int_t)vt,
							     "reasons", json_reasons(v, vr, vn, vt, secs, scale)));
			free(vr);
		}
		uint64_t repeated, missed;
		kvmdci_exits_watch_stats(e, &repeated, &missed);
		json_object_set_new(doc, "repeated_reports_ignored", json_integer((json_int_t)repeated));
		json_object_set_new(doc, "missed", json_integer((json_int_t)missed));
		json_object_set_new(doc, "coverage", have_cov ? json_pack(
			"{s:I, s:I, s:f, s:i, s:i}", "counted", (json_int_t)cov.counted, "kvm_exits",
			(json_int_t)cov.kvm_exits, "ratio", cov.kvm_exits ? (double)cov.counted /
			(double)cov.kvm_exits : 1.0, "vcpus", cov.vcpus, "vcpus_gone",
			cov.vcpus_gone) : json_null());
		json_object_set_new(doc, "sampling", duty > 0 ? json_pack(
			"{s:f, s:i, s:f, s:f}", "duty", duty, "period_ms", period_ms, "armed_s",
			cov.armed_s, "armed_share", cov.run_s > 0 ? cov.armed_s / cov.run_s : 0.0)
			: json_null());
		json_object_set_new(doc, "vcpus", vcpus);
		json_object_set_new(doc, "vms", vms);
		if (status)
			json_object_set_new(doc, "error", json_string(error));
		tool_json_print(&tool, doc);
		json_decref(doc);
	} else {
		printf("VM exits (%s) on %s: %llu in %.1f s, trigger %s%s\n", vname, tool.target, total,
		       secs, tname, interrupted ? " (interrupted)" : "");
		print_table(v, rows, nr, total, secs, scale);
		if (duty > 0)
			printf("  sampling: the trigger was in for %.1f of %.1f s (%.1f%%; asked %g%% of "
			       "each %d ms)\n", cov.armed_s, cov.run_s,
			       cov.run_s > 0 ? 100 * cov.armed_s / cov.run_s : 0.0, duty * 100,
			       period_ms);
		if (have_cov)
			printf("  coverage: %llu of the %llu exits KVM counted on %d vCPU%s (%.1f%%)%s\n",
			       (unsigned long long)cov.counted, (unsigned long long)cov.kvm_exits,
			       cov.vcpus, cov.vcpus == 1 ? "" : "s",
			       cov.kvm_exits ? 100.0 * (double)cov.counted / (double)cov.kvm_exits
					     : 100.0,
			       scale > 0 ? "; est. = count scaled by KVM's total" : "");
		else
			printf("  coverage: unknown (KVM's counters could not be read at the end)\n");
		for (int i = 0; per_vm && i < n; i++) {
			bool seen = false;
			for (int j = 0; j < i; j++)
				seen |= c[j].vm == c[i].vm;
			if (seen)
				continue;
			unsigned long long vt;
			int vn = reasons(c, n, c[i].vm, 0, rows, &vt);
			printf("\nVM 0x%llx (pid %d):\n", (unsigned long long)c[i].vm, c[i].vm_pid);
			print_table(v, rows, vn, vt, secs, scale);
		}
		for (int i = 0; per_vcpu && i < n; i++) {
			bool seen = false;
			for (int j = 0; j < i; j++)
				seen |= c[j].vcpu == c[i].vcpu;
			if (seen)
				continue;
			unsigned long long vt;
			int vn = reasons(c, n, 0, c[i].vcpu, rows, &vt);
			printf("\nvCPU %d of VM 0x%llx (pid %d), struct kvm_vcpu at 0x%llx:\n",
			       c[i].vcpu_id, (unsigned long long)c[i].vm, c[i].vm_pid,
			       (unsigned long long)c[i].vcpu);
			print_table(v, rows, vn, vt, secs, scale);
		}
		fflush(stdout);
	}
	free(c);
	free(rows);
out:
	kvmdci_exits_unref(e);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
