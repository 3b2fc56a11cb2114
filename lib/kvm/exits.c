// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VM-exit tracing: counts exit reasons per vCPU from the catalog's exit entry for the loaded
 * vendor module (svm_handle_exit / vmx_handle_exit and their alternates).
 *
 * Triggers (../shared/reference/lab-facts.md):
 *  - watch: a write watchpoint on each vCPU's kvm_vcpu.stat.exits, which vcpu_enter_guest
 *    increments once per exit, after the exit information is in the VMCB/vcpu_vmx. QEMU 7.2
 *    reports watchpoints without flushing its translation cache (~10x the breakpoint rate),
 *    and the vCPU is known from the watched address. Real CPUs have 4 debug registers.
 *  - break: a breakpoint on the exit handler; $arg0 (rdi) is the vCPU. Each hit is stepped
 *    over on the stopped CPU alone so that it is counted exactly once.
 * Hits allocate nothing: the vCPU and count tables are fixed-size and filled in place.
 */
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "catalog/catalog-internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/kvm-internal.h"

#define MAX_VCPU_SLOTS 1024
#define COUNT_SLOTS 8192
#define CODE_UNREADABLE 0xfffffffffffffffeULL

struct vcpu_slot {
	uint64_t vcpu;
	uint64_t vm;
	int32_t vcpu_id;
	int32_t vm_pid;
	uint64_t watch_addr;
	uint64_t last_exits; /* stat.exits at the last counted watch hit, 0 before */
};

struct count_slot {
	uint64_t code;
	uint64_t count;
	int32_t vcpu; /* slot index, -1 empty */
};

struct kvmdci_exits {
	struct kvmdci_ctx *ctx;
	struct kvmdci_kernel *k;
	struct kvmdci_target *t;
	enum kvmdci_vendor vendor;
	enum kvmdci_trigger requested, trigger;
	char desc[512];
	uint64_t handler;    /* symbol address */
	uint64_t bp_addr;    /* where the breakpoint goes (past an endbr64) */
	const char *handler_sym;
	const char *capture_src;
	struct expr_prog prog;
	struct kvm_layout layout;
	struct vcpu_slot vcpus[MAX_VCPU_SLOTS];
	int nvcpus;
	struct count_slot counts[COUNT_SLOTS];
	uint64_t total;
	uint64_t dropped;
	uint64_t duplicates; /* watch stops that repeated the last write (not counted) */
	uint64_t missed;     /* writes between two watch stops (counter jumped by more than 1) */
	uint64_t unreadable;
	int max_watch;
	struct kvmdci_catalog *cat;
	const char *entry_name;
	struct kvmdci_trace *tr; /* the break trigger: a trace of the catalog entry */
	int cap_reason, cap_vcpu; /* capture indices in the trace's hits */
	bool started;
	bool stopped;
};

static int kread(void *data, uint64_t addr, void *buf, size_t len)
{
	return kvmdci_kernel_read(data, addr, buf, len);
}

static int vcpu_slot_of(struct kvmdci_exits *e, uint64_t vcpu)
{
	for (int i = 0; i < e->nvcpus; i++)
		if (e->vcpus[i].vcpu == vcpu)
			return i;
	if (e->nvcpus >= MAX_VCPU_SLOTS)
		return MAX_VCPU_SLOTS - 1; /* shared overflow slot */
	/* a vCPU created after the start: read its identity once */
	struct kvmdci_vcpu_info vi = { 0 };
	struct vcpu_slot *s = &e->vcpus[e->nvcpus];
	s->vcpu = vcpu;
	s->vcpu_id = -1;
	s->vm_pid = -1;
	if (kvm_vcpu_info_read(e->k, &e->layout, vcpu, &vi) == 0) {
		s->vm = vi.vm;
		s->vcpu_id = vi.vcpu_id;
		s->vm_pid = vi.vm_pid;
	}
	return e->nvcpus++;
}

static void count(struct kvmdci_exits *e, int vslot, uint64_t code)
{
	uint64_t h = (code * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)vslot * 0xc2b2ae3d27d4eb4fULL;

	e->total++;
	for (int i = 0; i < COUNT_SLOTS; i++) {
		struct count_slot *c = &e->counts[(h + (uint64_t)i) % COUNT_SLOTS];
		if (c->vcpu == vslot && c->code == code) {
			c->count++;
			return;
		}
		if (c->vcpu < 0) {
			*c = (struct count_slot){ code, 1, vslot };
			return;
		}
	}
	e->dropped++;
}

static json_t *find_exit_entry(struct kvmdci_catalog *cat, enum kvmdci_vendor vendor)
{
	const char *want = vendor == KVMDCI_VENDOR_VMX ? "vmx" : "svm";
	for (int i = 0; i < cat->n; i++) {
		json_t *e = cat->entries[i];
		if (catalog_entry_has_tag(e, "exit") &&
		    !strcmp(json_string_value(json_object_get(e, "vendor")), want) &&
		    json_object_get(e, "captures"))
			return e;
	}
	return NULL;
}

KVMDCI_EXPORT int kvmdci_exits_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
				   enum kvmdci_trigger trigger, struct kvmdci_exits **ret)
{
	struct kvmdci_exits *e;
	json_t *entry;
	char err[512];
	const char *env;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ctx = kvmdci_ctx_ref(k->ctx);
	e->k = kvmdci_kernel_ref(k);
	e->t = k->target;
	e->requested = trigger;
	for (int i = 0; i < COUNT_SLOTS; i++)
		e->counts[i].vcpu = -1;
	env = getenv("KVMDCI_MAX_WATCHPOINTS");
	e->max_watch = env ? atoi(env) : 64; /* QEMU TCG: no limit; real x86 CPUs: 4 */

	e->vendor = kvmdci_kvm_vendor(k);
	if (e->vendor == KVMDCI_VENDOR_NONE) {
		kvmdci_err(e->ctx, "neither kvm_amd nor kvm_intel is loaded on the target "
				   "(load one, e.g. in the lab: modprobe kvm_amd)");
		r = -ENODEV;
		goto fail;
	}
	entry = find_exit_entry(cat, e->vendor);
	if (!entry) {
		kvmdci_err(e->ctx, "the catalog has no entry tagged \"exit\" for %s",
			   e->vendor == KVMDCI_VENDOR_VMX ? "vmx" : "svm");
		r = -ENOENT;
		goto fail;
	}
	if (catalog_resolve_symbol(k, entry, &e->handler, &e->handler_sym) < 0) {
		kvmdci_err(e->ctx, "catalog entry %s: none of its symbols is in module %s on the "
				   "target (inlined or renamed?)",
			   json_string_value(json_object_get(entry, "name")),
			   json_string_value(json_object_get(entry, "module")));
		r = -ENOENT;
		goto fail;
	}
	if ((r = catalog_compile_capture(k, entry, "exit_reason", &e->prog, &e->capture_src, err,
					 sizeof(err))) < 0) {
		kvmdci_err(e->ctx, "catalog entry %s: %s (are the module's types loaded? give "
				   "--modules DIR with its .ko)",
			   json_string_value(json_object_get(entry, "name")), err);
		goto fail;
	}
	/* the capture may read only $arg0 (the vCPU): the watch trigger knows nothing else */
	if (e->prog.nregs != 1 || strcmp(e->prog.regs[0], "rdi") != 0) {
		kvmdci_err(e->ctx, "catalog entry %s: the exit_reason capture must read the vCPU "
				   "through $arg0 only (it uses %d registers)",
			   json_string_value(json_object_get(entry, "name")), e->prog.nregs);
		r = -EINVAL;
		goto fail;
	}
	e->cat = cat;
	e->entry_name = json_string_value(json_object_get(entry, "name"));
	e->cap_reason = e->cap_vcpu = -1;
	if ((r = kvm_layout_get(k, &e->layout)) < 0)
		goto fail;
	struct kvmdci_vcpu_info vi[MAX_VCPU_SLOTS - 1];
	int n = kvmdci_kvm_vcpus(k, vi, MAX_VCPU_SLOTS - 1);
	if (n < 0) {
		r = n;
		goto fail;
	}
	for (int i = 0; i < n && i < MAX_VCPU_SLOTS - 1; i++)
		e->vcpus[e->nvcpus++] = (struct vcpu_slot){ vi[i].vcpu, vi[i].vm, vi[i].vcpu_id,
							    vi[i].vm_pid, vi[i].stat_exits_addr };
	e->bp_addr = catalog_bp_address(k, e->handler);
	*ret = e;
	return 0;
fail:
	kvmdci_exits_unref(e);
	return r;
}

KVMDCI_EXPORT struct kvmdci_exits *kvmdci_exits_unref(struct kvmdci_exits *e)
{
	if (!e)
		return NULL;
	kvmdci_trace_unref(e->tr);
	kvmdci_kernel_unref(e->k);
	kvmdci_ctx_unref(e->ctx);
	free(e);
	return NULL;
}

KVMDCI_EXPORT const char *kvmdci_exits_trigger_description(struct kvmdci_exits *e)
{
	return e->desc;
}

KVMDCI_EXPORT enum kvmdci_trigger kvmdci_exits_trigger(struct kvmdci_exits *e)
{
	return e->trigger;
}

KVMDCI_EXPORT enum kvmdci_vendor kvmdci_exits_vendor(struct kvmdci_exits *e)
{
	return e->vendor;
}

KVMDCI_EXPORT uint64_t kvmdci_exits_total(struct kvmdci_exits *e)
{
	return e->total;
}

static int start_watch(struct kvmdci_exits *e)
{
	int r = 0;

	for (int i = 0; i < e->nvcpus; i++) {
		/* the counter now: a stop that does not move it is a repeated report */
		if (kvmdci_kernel_read_u64(e->k, e->vcpus[i].watch_addr, &e->vcpus[i].last_exits) < 0)
			e->vcpus[i].last_exits = 0;
		r = kvmdci_target_bp_insert(e->t, KVMDCI_WATCH_WRITE, e->vcpus[i].watch_addr, 8);
		if (r < 0)
			break;
	}
	if (r < 0) {
		int inserted = kvmdci_target_bp_count(e->t);
		kvmdci_target_bp_remove_all(e->t);
		kvmdci_set_error(e->ctx, "write watchpoint %d on kvm_vcpu.stat.exits failed: %s",
				 inserted + 1, strerror(-r));
		return r;
	}
	snprintf(e->desc, sizeof(e->desc),
		 "watch: write watchpoints on kvm_vcpu.stat.exits of %d vCPU%s; exit reason from "
		 "%s",
		 e->nvcpus, e->nvcpus == 1 ? "" : "s", e->capture_src);
	e->trigger = KVMDCI_TRIGGER_WATCH;
	return 0;
}

/* The break trigger is a trace of the catalog's exit entry (lib/catalog/trace.c). */
static int start_break(struct kvmdci_exits *e, const char *why)
{
	int r;

	if (!e->tr && (r = kvmdci_trace_new(e->k, e->cat, &e->tr)) < 0)
		return r;
	if ((r = kvmdci_trace_add(e->tr, e->entry_name, NULL)) < 0)
		return r;
	snprintf(e->desc, sizeof(e->desc),
		 "break: breakpoint on %s at 0x%llx%s; exit reason from %s", e->handler_sym,
		 (unsigned long long)e->bp_addr, why, e->capture_src);
	e->trigger = KVMDCI_TRIGGER_BREAK;
	return 0;
}

KVMDCI_EXPORT int kvmdci_exits_start(struct kvmdci_exits *e)
{
	int r;

	if (e->started)
		return -EALREADY;
	switch (e->requested) {
	case KVMDCI_TRIGGER_WATCH:
		if (e->nvcpus == 0) {
			kvmdci_err(e->ctx, "no vCPUs exist to watch (start a VM first, or use the "
					   "break trigger)");
			return -ENOENT;
		}
		if ((r = start_watch(e)) < 0) {
			kvmdci_err(e->ctx, "%s", kvmdci_ctx_last_error(e->ctx));
			return r;
		}
		break;
	case KVMDCI_TRIGGER_BREAK:
		if ((r = start_break(e, "")) < 0)
			return r;
		break;
	default:
		if (e->nvcpus == 0)
			r = start_break(e, " (no vCPUs yet to watch)");
		else if (e->nvcpus > e->max_watch)
			r = start_break(e, " (more vCPUs than watchpoints)");
		else if (start_watch(e) < 0) {
			char why[300];
			snprintf(why, sizeof(why), " (%s)", kvmdci_ctx_last_error(e->ctx));
			r = start_break(e, why);
		} else
			r = 0;
		if (r < 0)
			return r;
	}
	e->started = true;
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		return kvmdci_trace_start(e->tr);
	return kvmdci_target_resume(e->t);
}

/* Evaluate the exit-reason capture; @regvals are the values of e->prog.regs. */
static void record(struct kvmdci_exits *e, int vslot, uint64_t vcpu, const uint64_t *regvals)
{
	uint64_t code;

	if (expr_eval(&e->prog, regvals, kread, e->k, &code) < 0) {
		if (!e->unreadable++)
			kvmdci_warn(e->ctx, "cannot evaluate the exit reason of vCPU 0x%llx: %s",
				    (unsigned long long)vcpu, kvmdci_ctx_last_error(e->ctx));
		code = CODE_UNREADABLE;
	}
	count(e, vslot, code);
}

/* Handle one stop. Returns 1 if it was a hit, 0 if not; the target is left stopped. */
static int handle_stop(struct kvmdci_exits *e, struct kvmdci_stop *st, bool *need_step)
{
	*need_step = false;
	if (st->reason == KVMDCI_STOP_EXITED)
		return -EPIPE;
	if (e->trigger == KVMDCI_TRIGGER_WATCH && st->reason == KVMDCI_STOP_WATCHPOINT) {
		for (int i = 0; i < e->nvcpus; i++)
			if (e->vcpus[i].watch_addr == st->addr) {
				/* the capture reads only $arg0, the vCPU: known from the address */
				uint64_t regvals[EXPR_MAX_REGS] = { e->vcpus[i].vcpu }, exits;
				struct vcpu_slot *v = &e->vcpus[i];
				kvmdci_kernel_note_stop(e->k, st);
				/* QEMU sometimes reports one write twice: a real exit moved the counter */
				if (kvmdci_kernel_read_u64(e->k, v->watch_addr, &exits) == 0) {
					if (v->last_exits && exits == v->last_exits) {
						e->duplicates++;
						return 0;
					}
					if (v->last_exits && exits > v->last_exits + 1)
						e->missed += exits - v->last_exits - 1;
					v->last_exits = exits;
				}
				record(e, i, v->vcpu, regvals);
				return 1;
			}
		return 0;
	}
	return 0;
}

/* A hit of the break trigger: the vCPU ($arg0) and its exit reason, captured by the trace. */
static int on_break_hit(struct kvmdci_trace *tr, const struct kvmdci_hit *h, void *data)
{
	struct kvmdci_exits *e = data;
	uint64_t code = CODE_UNREADABLE;

	(void)tr;
	if (e->cap_reason < 0)
		for (int i = 0; i < h->ncaptures; i++) {
			if (!strcmp(h->capture_names[i], "exit_reason"))
				e->cap_reason = i;
			else if (!strcmp(h->capture_names[i], "vcpu"))
				e->cap_vcpu = i;
		}
	if (e->cap_reason < 0 || e->cap_vcpu < 0 || !h->value_ok[e->cap_vcpu]) {
		if (!e->unreadable++)
			kvmdci_warn(e->ctx, "catalog entry %s: hits need captures vcpu ($arg0) and "
					    "exit_reason", e->entry_name);
		return 0;
	}
	uint64_t vcpu = h->values[e->cap_vcpu];
	if (h->value_ok[e->cap_reason])
		code = h->values[e->cap_reason];
	else if (!e->unreadable++)
		kvmdci_warn(e->ctx, "cannot read the exit reason of vCPU 0x%llx",
			    (unsigned long long)vcpu);
	count(e, vcpu_slot_of(e, vcpu), code);
	return 0;
}

static int elapsed_ms(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

KVMDCI_EXPORT int kvmdci_exits_poll(struct kvmdci_exits *e, int timeout_ms)
{
	struct timespec t0;
	int hits = 0;

	if (!e->started || e->stopped)
		return -EINVAL;
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		return kvmdci_trace_poll(e->tr, timeout_ms, on_break_hit, e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct kvmdci_stop st;
		bool step;
		int left = timeout_ms - elapsed_ms(&t0), r;
		if (left < 0)
			left = 0;
		r = kvmdci_target_wait(e->t, left, &st);
		if (r < 0)
			return r;
		if (r == 0)
			return hits; /* timeout or a signal */
		r = handle_stop(e, &st, &step);
		if (r < 0)
			return r;
		hits += r;
		r = step ? kvmdci_target_step_over(e->t, st.cpu, st.addr) : kvmdci_target_resume(e->t);
		if (r < 0)
			return r;
		if (elapsed_ms(&t0) >= timeout_ms)
			return hits;
	}
}

KVMDCI_EXPORT int kvmdci_exits_stop(struct kvmdci_exits *e)
{
	struct kvmdci_stop st;
	bool step;
	int r = 0;

	if (!e->started || e->stopped)
		return 0;
	e->stopped = true;
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		return kvmdci_trace_stop(e->tr);
	if (kvmdci_target_is_running(e->t)) {
		kvmdci_target_interrupt(e->t);
		r = kvmdci_target_wait(e->t, 3000, &st);
		if (r == 1)
			handle_stop(e, &st, &step); /* a hit that raced with the interrupt counts */
		else if (r == 0) {
			kvmdci_err(e->ctx, "%s: the target did not stop within 3 s",
				   kvmdci_target_get_uri(e->t));
			return -ETIMEDOUT;
		}
	}
	r = kvmdci_target_detach(e->t);
	if (e->dropped)
		kvmdci_warn(e->ctx, "%llu hits not tabulated (count table full)",
			    (unsigned long long)e->dropped);
	if (e->duplicates)
		kvmdci_info(e->ctx, "%llu repeated watchpoint reports ignored (stat.exits unchanged)",
			    (unsigned long long)e->duplicates);
	if (e->missed)
		kvmdci_warn(e->ctx, "%llu exits were not seen by the watchpoints (stat.exits moved "
				    "by more than one between two stops)",
			    (unsigned long long)e->missed);
	return r;
}

KVMDCI_EXPORT int kvmdci_exits_counts(struct kvmdci_exits *e, struct kvmdci_exit_count *out,
				      int max)
{
	int n = 0;

	for (int i = 0; i < COUNT_SLOTS; i++) {
		const struct count_slot *c = &e->counts[i];
		if (c->vcpu < 0)
			continue;
		if (n < max) {
			const struct vcpu_slot *v = &e->vcpus[c->vcpu];
			out[n] = (struct kvmdci_exit_count){ .vm = v->vm,
							     .vcpu = v->vcpu,
							     .vcpu_id = v->vcpu_id,
							     .vm_pid = v->vm_pid,
							     .code = c->code,
							     .count = c->count };
		}
		n++;
	}
	return n;
}

KVMDCI_EXPORT void kvmdci_exits_watch_stats(struct kvmdci_exits *e, uint64_t *repeated,
					    uint64_t *missed)
{
	*repeated = e->duplicates;
	*missed = e->missed;
}
