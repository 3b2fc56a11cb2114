// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VM-exit tracing: counts exit reasons per vCPU from the catalog's exit entry for the loaded
 * vendor module (svm_handle_exit / vmx_handle_exit and their alternates).
 *
 * Triggers (docs/lab-facts.md, "Debugging through QEMU's gdbstub"):
 *  - watch: a write watchpoint on each vCPU's kvm_vcpu.stat.exits, which vcpu_enter_guest
 *    increments once per exit, after the exit information is in the VMCB/vcpu_vmx. QEMU 7.2
 *    reports watchpoints without flushing its translation cache (~30x the breakpoint rate),
 *    and the vCPU is known from the watched address. Real CPUs have 4 debug registers.
 *    QEMU TCG may report a write late (the stopped CPU's RIP already in an interrupt handler
 *    or back in svm_vcpu_run): if the vCPU re-entered the guest meanwhile, the exit reason
 *    read is the next exit's. Totals stay exact; about one exit in 37000 lands under its
 *    neighbour's reason on the lab.
 *  - break: a breakpoint on the exit handler; $arg0 (rdi) is the vCPU. Each hit is stepped
 *    over on the stopped CPU alone so that it is counted exactly once.
 * Hits allocate nothing: the vCPU and count tables are fixed-size and filled in place.
 *
 * Sampling (kvmdci_exits_sample): the trigger is in for a duty cycle of each period and out
 * (the host runs free, nothing stops) for the rest. Coverage is measured, not assumed: at the
 * start and the stop every vCPU's stat.exits is read, so the hits counted can be set against
 * the exits KVM itself counted over the same run (kvmdci_exits_coverage).
 */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"
#include "catalog/catalog-internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/kvm-internal.h"
#include "target/run.h"
#include "target/target-internal.h"

#define MAX_VCPU_SLOTS 1024
#define SWEEP_MAX 32 /* other vCPUs' counters read at one watch stop */
#define COUNT_SLOTS 8192
#define CODE_UNREADABLE KVMDCI_EXIT_CODE_UNREADABLE
#define MAX_CATS 8   /* KVM counters that count exactly one exit reason (exit-reasons.c) */
#define MAX_WIN_CODES 64 /* exit codes followed per sampling window */

struct vcpu_slot {
	uint64_t vcpu;
	uint64_t vm;
	int32_t vcpu_id;
	int32_t vm_pid;
	uint64_t watch_addr;
	uint64_t last_exits; /* stat.exits at the last counted watch hit (have_last) */
	uint64_t start_exits; /* stat.exits at the start, or when followed at its creation (0 for
			       * a vCPU the break trigger found later) */
	uint64_t end_exits;   /* ... at the stop, or at its destruction (gone) */
	uint64_t counted;     /* exits counted (all reasons) */
	uint64_t settle_gap;  /* the break trigger's end: stat.exits - start - counted at its
			       * last hit (exits KVM re-entered in its fastpath), settle_gap_ok */
	bool settle_gap_ok;
	bool hit_seen;        /* the break trigger had a hit of it (its first checked) */
	bool have_last;       /* last_exits read */
	bool present;         /* measured at the end: listed at the stop, or read when destroyed */
	bool watched;         /* a watchpoint was on it */
	bool in;              /* its watchpoint is in now */
	bool unwatched;       /* it could not have one (the limit, or the stub refused) */
	bool gone;            /* destroyed while tracing (followed): the slot is history */
	bool cats_start, cats_end; /* cat_start / cat_end read */
	uint64_t cat_start[MAX_CATS], cat_end[MAX_CATS]; /* the reason counters, read with
							  * start_exits / end_exits */
};

/* A KVM counter that counts exactly one exit reason (kvm_exit_reason_counter). */
struct reason_cat {
	const char *counter;
	uint64_t code;
	int stat; /* index in the stats layout */
};

/* Sampling: one exit code's counts per armed window, for the estimates' variance. */
struct win_code {
	uint64_t code;
	uint64_t at_arm; /* its total when the window opened */
	double s_nn, s_nN; /* sums over windows of n^2 and n * N (N: the window's hits of
			    * reasons without a counter) */
};

struct count_slot {
	uint64_t code;
	uint64_t count;
	int32_t vcpu; /* slot index, -1 empty */
};

struct kvmdci_exits {
	int refcount;
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
	uint64_t missed_at_stop; /* writes after a vCPU's last reported stop, before the final one */
	uint64_t swept; /* exits counted from another vCPU's counter at a stop (report pending) */
	int sweep_next; /* where the next sweep starts (more vCPUs than SWEEP_MAX: in rotation) */
	uint64_t unreadable;
	int max_watch;
	int nwatched, most_watched; /* watchpoints in now, the most at once */
	/* following vCPUs (the watch trigger): a breakpoint where KVM has made a vCPU ready and
	 * one where it frees it (catalog entries kvm_arch_vcpu_postcreate, kvm_arch_vcpu_destroy) */
	bool follow;
	char follow_err[256]; /* why not, when not */
	uint64_t create_bp, destroy_bp;
	int created, destroyed, unwatched;
	uint64_t exits_before_watch;
	struct kvmdci_catalog *cat;
	const char *entry_name;
	struct kvmdci_trace *tr; /* the break trigger: a trace of the catalog entry */
	/* the capture's first load, fetched with stat.exits at a watch hit */
	bool pre_ok, pre_valid;
	uint64_t pre_off, pre_addr;
	size_t pre_len;
	uint8_t pre_buf[8];
	int cap_reason, cap_vcpu; /* capture indices in the trace's hits */
	bool started;
	bool stopped;
	bool halted; /* stopped at the end of the run (the coverage then measured) */
	/* kvmdci_exits_select: only these vCPUs are traced and measured */
	bool have_sel;
	struct kvmdci_vm_select sel;
	/* vCPUs the break trigger hit that the selection leaves out: their next hits cost no
	 * read of their identity (a host with many VMs and --vm: most hits are theirs) */
	uint64_t ignored[MAX_VCPU_SLOTS];
	int nignored;
	uint64_t limit; /* kvmdci_exits_stop_after: poll returns once total reaches it */
	uint64_t past_limit; /* exits seen after the limit, left uncounted */
	int last_hit_slot;   /* the vCPU slot of the break trigger's last hit (-1: none) */
	uint64_t settled;    /* exits counted at the end, KVM's count ahead of the handler */
	uint64_t before_start; /* first hits of exits KVM counted before the start (not counted) */
	/* sampling: armed for duty * period of each period */
	double duty;
	int period_ms;
	bool armed;
	double t_start, t_armed, t_stop, armed_s;
	/* the reason counters (struct kvm_vcpu_stat), read where stat.exits is for the coverage */
	struct kvmdci_vcpu_stats_layout *stl;
	struct reason_cat cats[MAX_CATS];
	int ncats;
	/* sampling windows, for the estimates' error */
	struct win_code win[MAX_WIN_CODES];
	int nwin, windows;
	bool win_overflow;
	double s_NN;
	/* coverage, measured at the stop */
	bool have_coverage;
	int vcpus_measured, vcpus_gone;
	uint64_t kvm_exits, counted_measured;
};

/* The capture's reads at a watch hit: its first load may have come with stat.exits. */
static int kread(void *data, uint64_t addr, void *buf, size_t len, const struct expr_op *op)
{
	struct kvmdci_exits *e = data;

	(void)op;
	if (e->pre_valid && addr == e->pre_addr && len == e->pre_len) {
		e->pre_valid = false;
		memcpy(buf, e->pre_buf, len);
		return 0;
	}
	return kvmdci_kernel_read(e->k, addr, buf, len);
}

/* The exit-reason program's first load when its address is $arg0 plus a constant (as in
 * vcpu->vmcb, vmx->exit_reason): a watch hit reads it with stat.exits, in one round trip. */
static void plan_first_load(struct kvmdci_exits *e)
{
	const struct expr_prog *p = &e->prog;
	int i = 1;

	if (p->n < 2 || p->ops[0].op != OP_REG || p->ops[0].a != 0)
		return;
	e->pre_off = 0;
	if (p->ops[i].op == OP_ADD)
		e->pre_off = p->ops[i++].a;
	if (i < p->n && p->ops[i].op == OP_LOAD && p->ops[i].a <= sizeof(e->pre_buf)) {
		e->pre_len = (size_t)p->ops[i].a;
		e->pre_ok = true;
	}
}

/* The selection of kvmdci_exits_select(), or NULL (every vCPU) without one. */
static const struct kvmdci_vm_select *sel_of(const struct kvmdci_exits *e)
{
	return e->have_sel ? &e->sel : NULL;
}

/* The slot of @vcpu, a new one for a vCPU first seen now, or -1 for a vCPU the selection
 * leaves out (the break trigger stops for every vCPU). */
static int vcpu_slot_of(struct kvmdci_exits *e, uint64_t vcpu)
{
	for (int i = 0; i < e->nvcpus; i++)
		if (e->vcpus[i].vcpu == vcpu && !e->vcpus[i].gone)
			return i;
	for (int i = 0; i < e->nignored; i++)
		if (e->ignored[i] == vcpu)
			return -1;
	if (e->nvcpus >= MAX_VCPU_SLOTS)
		return MAX_VCPU_SLOTS - 1; /* shared overflow slot */
	/* a vCPU created after the start: read its identity once */
	struct kvmdci_vcpu_info vi = { 0 };
	struct vcpu_slot *s = &e->vcpus[e->nvcpus];
	bool known = kvm_vcpu_info_read(e->k, &e->layout, vcpu, &vi) == 0;
	if (e->have_sel && (!known || !kvmdci_vm_select_vcpu(sel_of(e), &vi))) {
		if (e->nignored < (int)(sizeof(e->ignored) / sizeof(e->ignored[0])))
			e->ignored[e->nignored++] = vcpu;
		return -1;
	}
	*s = (struct vcpu_slot){ .vcpu = vcpu, .vcpu_id = -1, .vm_pid = -1, .cats_start = true };
	if (known) {
		s->vm = vi.vm;
		s->vcpu_id = vi.vcpu_id;
		s->vm_pid = vi.vm_pid;
		s->watch_addr = vi.stat_exits_addr;
	}
	return e->nvcpus++;
}

static void count(struct kvmdci_exits *e, int vslot, uint64_t code)
{
	uint64_t h = (code * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)vslot * 0xc2b2ae3d27d4eb4fULL;

	/* kvmdci_exits_stop_after: exactly the limit, whatever races with the stop (the other CPU
	 * at the breakpoint, a watchpoint hit at the final stop) is left uncounted */
	if (e->limit && e->total >= e->limit) {
		e->past_limit++;
		return;
	}
	e->total++;
	e->vcpus[vslot].counted++;
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

/* The reason counters KVM keeps for this vendor, found in the type info; none when the type info
 * lacks struct kvm_vcpu_stat (the estimates then rest on the sample alone). */
static void resolve_cats(struct kvmdci_exits *e)
{
	const char *name;
	uint64_t code;

	if (kvmdci_kvm_vcpu_stats_layout(e->k, &e->stl) < 0) {
		kvmdci_info(e->ctx, "no reason counters for the estimates: %s",
			    kvmdci_ctx_last_error(e->ctx));
		e->stl = NULL;
		return;
	}
	for (int i = 0; e->ncats < MAX_CATS &&
			kvm_exit_reason_counter(e->vendor, i, &name, &code) == 0; i++)
		for (int j = 0; j < kvmdci_kvm_vcpu_stats_count(e->stl); j++)
			if (strcmp(kvmdci_kvm_vcpu_stats_name(e->stl, j), name) == 0) {
				e->cats[e->ncats++] = (struct reason_cat){ name, code, j };
				break;
			}
}

/* Read @v's reason counters into cat_start (@end false) or cat_end; false when unreadable. */
static bool read_cats(struct kvmdci_exits *e, struct vcpu_slot *v, bool end)
{
	uint64_t vals[256];

	if (!e->ncats || kvmdci_kvm_vcpu_stats_count(e->stl) > 256 ||
	    kvmdci_kvm_vcpu_stats_read(e->k, e->stl, v->vcpu, vals) < 0)
		return false;
	for (int i = 0; i < e->ncats; i++)
		(end ? v->cat_end : v->cat_start)[i] = vals[e->cats[i].stat];
	return end ? (v->cats_end = true) : (v->cats_start = true);
}

/* The counter index of exit @code, or -1 when no KVM counter counts it. */
static int cat_of(const struct kvmdci_exits *e, uint64_t code)
{
	for (int i = 0; i < e->ncats; i++)
		if (e->cats[i].code == code)
			return i;
	return -1;
}

/* Every exit code's count over all vCPUs, into the window table (new codes added). */
static void win_totals(struct kvmdci_exits *e, uint64_t *tot)
{
	memset(tot, 0, sizeof(tot[0]) * MAX_WIN_CODES);
	for (int i = 0; i < COUNT_SLOTS; i++) {
		const struct count_slot *c = &e->counts[i];
		int w;
		if (c->vcpu < 0)
			continue;
		for (w = 0; w < e->nwin && e->win[w].code != c->code; w++)
			;
		if (w == e->nwin) {
			if (e->nwin == MAX_WIN_CODES) {
				e->win_overflow = true;
				continue;
			}
			e->win[e->nwin++] = (struct win_code){ .code = c->code };
		}
		tot[w] += c->count;
	}
}

/* Sampling: a window opens (@open) or closes; a closed window's counts go into the sums the
 * estimates' error comes from. */
static void sample_window(struct kvmdci_exits *e, bool open)
{
	uint64_t tot[MAX_WIN_CODES];
	double N = 0;

	if (!e->duty)
		return;
	win_totals(e, tot);
	if (open) {
		for (int w = 0; w < e->nwin; w++)
			e->win[w].at_arm = tot[w];
		return;
	}
	for (int w = 0; w < e->nwin; w++)
		if (cat_of(e, e->win[w].code) < 0)
			N += (double)(tot[w] - e->win[w].at_arm);
	for (int w = 0; w < e->nwin; w++) {
		double n = (double)(tot[w] - e->win[w].at_arm);
		e->win[w].s_nn += n * n;
		e->win[w].s_nN += n * N;
		e->win[w].at_arm = tot[w];
	}
	e->s_NN += N * N;
	e->windows++;
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

/*
 * Where the watch trigger learns of vCPUs created and destroyed while it runs:
 *  - kvm_arch_vcpu_postcreate(vcpu): the last step of KVM_CREATE_VCPU
 *    (kvm_vm_ioctl_create_vcpu, virt/kvm/kvm_main.c, 5.10 and 6.1): the vCPU is complete and
 *    listed in its VM, and the ioctl has not yet returned its fd's number to user space, so
 *    its first KVM_RUN comes later (docs/kernel-facts.md, "vCPU lifetime"). Its watchpoint goes
 *    in here; the counter read here is the start of its coverage (and should be 0).
 *  - kvm_arch_vcpu_destroy(vcpu): called by kvm_vcpu_destroy (and by a late failure of
 *    KVM_CREATE_VCPU) right before the struct kvm_vcpu is freed: its watchpoint comes out
 *    here, before the memory can be reused, and its final count is read.
 */
static void plan_follow(struct kvmdci_exits *e)
{
	static const char *const names[2] = { "kvm_arch_vcpu_postcreate", "kvm_arch_vcpu_destroy" };
	uint64_t *bps[2] = { &e->create_bp, &e->destroy_bp };

	for (int i = 0; i < 2; i++) {
		json_t *entry = catalog_find(e->cat, names[i]);
		const char *sym;
		uint64_t a;
		if (!entry) {
			snprintf(e->follow_err, sizeof(e->follow_err),
				 "the catalog has no entry %s", names[i]);
			return;
		}
		if (catalog_resolve_symbol(e->k, entry, &a, &sym) < 0) {
			snprintf(e->follow_err, sizeof(e->follow_err),
				 "module kvm on the target has no symbol %s (inlined or renamed?)",
				 names[i]);
			return;
		}
		*bps[i] = catalog_bp_address(e->k, a);
	}
	e->follow = true;
}

KVMDCI_EXPORT int kvmdci_exits_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
				   enum kvmdci_trigger trigger, struct kvmdci_exits **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_exits *e;
	json_t *entry;
	char err[512];
	const char *env;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->refcount = 1;
	e->ctx = kvmdci_ctx_ref(kvmdci_kernel_get_ctx(k));
	e->k = kvmdci_kernel_ref(k);
	e->t = kvmdci_kernel_get_target(k);
	e->requested = trigger;
	for (int i = 0; i < COUNT_SLOTS; i++)
		e->counts[i].vcpu = -1;
	env = kvmdci_ctx_get_tunable(e->ctx, KVMDCI_TUNABLE_MAX_WATCHPOINTS);
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
	e->cat = kvmdci_catalog_ref(cat);
	e->entry_name = json_string_value(json_object_get(entry, "name"));
	e->cap_reason = e->cap_vcpu = -1;
	e->last_hit_slot = -1;
	if ((r = kvm_layout_get(k, &e->layout)) < 0)
		goto fail;
	resolve_cats(e);
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
	plan_first_load(e);
	plan_follow(e);
	*ret = e;
	return 0;
fail:
	kvmdci_exits_unref(e);
	return r;
}

struct kvmdci_ctx *kvmdci_exits_get_ctx(struct kvmdci_exits *e)
{
	return e->ctx;
}

KVMDCI_EXPORT struct kvmdci_exits *kvmdci_exits_ref(struct kvmdci_exits *e)
{
	if (e)
		e->refcount++;
	return e;
}

KVMDCI_EXPORT struct kvmdci_exits *kvmdci_exits_unref(struct kvmdci_exits *e)
{
	if (!e || --e->refcount > 0)
		return NULL;
	kvmdci_trace_unref(e->tr);
	kvmdci_kvm_vcpu_stats_layout_unref(e->stl);
	kvmdci_catalog_unref(e->cat);
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

KVMDCI_EXPORT int kvmdci_exits_select(struct kvmdci_exits *e, const struct kvmdci_vm_select *sel)
{
	KVMDCI_API_ENTRY(e->ctx);
	int n = 0;

	if (!sel)
		return -EINVAL;
	if (e->started)
		return -EALREADY;
	e->sel = *sel;
	e->have_sel = true;
	/* the vCPUs listed by kvmdci_exits_new(): keep those it wants, in order */
	for (int i = 0; i < e->nvcpus; i++) {
		struct kvmdci_vcpu_info vi = { .vm = e->vcpus[i].vm, .vm_pid = e->vcpus[i].vm_pid,
					       .vcpu_id = e->vcpus[i].vcpu_id };
		if (kvmdci_vm_select_vcpu(sel, &vi))
			e->vcpus[n++] = e->vcpus[i];
	}
	e->nvcpus = n;
	return n;
}

/* A vCPU that gets no watchpoint: said once, and counted (its exits are KVM's, not ours). */
static void leave_unwatched(struct kvmdci_exits *e, struct vcpu_slot *v, int r)
{
	if (v->unwatched)
		return;
	v->unwatched = true;
	e->unwatched++;
	if (r == -ENOSPC)
		kvmdci_warn(e->ctx, "vCPU %d of VM pid %d not watched: %d watchpoints are in, the "
				    "limit (raise KVMDCI_MAX_WATCHPOINTS if the debugger has more, or "
				    "use the break trigger); its exits are not counted",
			    v->vcpu_id, v->vm_pid, e->nwatched);
	else
		kvmdci_warn(e->ctx, "vCPU %d of VM pid %d not watched: %s; its exits are not counted",
			    v->vcpu_id, v->vm_pid, kvmdci_ctx_last_error(e->ctx));
}

/* Put a watchpoint on @v's stat.exits, reading the counter first: a stop that does not move it
 * is a repeated report. -ENOSPC at the KVMDCI_MAX_WATCHPOINTS limit. */
static int watch_one(struct kvmdci_exits *e, struct vcpu_slot *v)
{
	int r;

	if (v->in || v->gone)
		return 0;
	v->have_last = kvmdci_kernel_read_u64(e->k, v->watch_addr, &v->last_exits) == 0;
	if (e->nwatched >= e->max_watch)
		return -ENOSPC;
	if ((r = kvmdci_target_bp_insert(e->t, KVMDCI_WATCH_WRITE, v->watch_addr, 8)) < 0)
		return r;
	v->in = v->watched = true;
	if (++e->nwatched > e->most_watched)
		e->most_watched = e->nwatched;
	return 0;
}

static void unwatch_one(struct kvmdci_exits *e, struct vcpu_slot *v)
{
	if (!v->in)
		return;
	kvmdci_target_bp_remove(e->t, KVMDCI_WATCH_WRITE, v->watch_addr, 8);
	v->in = false;
	e->nwatched--;
}

static void describe_watch(struct kvmdci_exits *e)
{
	snprintf(e->desc, sizeof(e->desc),
		 "watch: write watchpoints on kvm_vcpu.stat.exits of %d vCPU%s, following vCPUs "
		 "created and destroyed (breakpoints on kvm_arch_vcpu_postcreate and "
		 "kvm_arch_vcpu_destroy); exit reason from %s",
		 e->nwatched, e->nwatched == 1 ? "" : "s", e->capture_src);
}

/* A breakpoint, in memory or (a stub without those) a hardware one, as the tracer does. */
static int insert_bp(struct kvmdci_exits *e, uint64_t addr)
{
	int r = kvmdci_target_bp_insert(e->t, KVMDCI_BP_SW, addr, 1);
	if (r == -EOPNOTSUPP)
		r = kvmdci_target_bp_insert(e->t, KVMDCI_BP_HW, addr, 1);
	return r;
}

/* The watchpoints on every vCPU not gone, and the breakpoints that follow vCPUs. At the start
 * a watchpoint the stub refuses is an error (auto then takes the break trigger); later (a
 * re-arm while sampling) that vCPU is left unwatched. */
static int start_watch(struct kvmdci_exits *e)
{
	int r = 0;

	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1; i++) {
		struct vcpu_slot *v = &e->vcpus[i];
		if (v->gone || v->unwatched)
			continue;
		r = watch_one(e, v);
		if (r == -ENOSPC || (r < 0 && e->started)) {
			leave_unwatched(e, v, r);
			r = 0;
		} else if (r < 0) {
			break;
		}
	}
	if (r == 0 && (r = insert_bp(e, e->create_bp)) == 0)
		r = insert_bp(e, e->destroy_bp);
	if (r < 0) {
		int inserted = kvmdci_target_bp_count(e->t);
		kvmdci_target_bp_remove_all(e->t);
		for (int i = 0; i < e->nvcpus; i++)
			e->vcpus[i].in = false;
		e->nwatched = 0;
		kvmdci_set_error(e->ctx, "write watchpoint or breakpoint %d of the watch trigger "
					 "failed: %s", inserted + 1, strerror(-r));
		return r;
	}
	describe_watch(e);
	e->trigger = KVMDCI_TRIGGER_WATCH;
	return 0;
}

/* Sampling, out: the watchpoints out, the breakpoints that follow vCPUs stay in (a vCPU freed
 * while out must not be watched again when the trigger goes back in). */
static int stop_watch(struct kvmdci_exits *e)
{
	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1; i++)
		unwatch_one(e, &e->vcpus[i]);
	return 0;
}

/* A breakpoint stop at kvm_arch_vcpu_postcreate: a new vCPU, ready, before its first KVM_RUN.
 * @final: the run is stopping (or the trigger is going in or out): no watchpoint now. */
static void vcpu_created(struct kvmdci_exits *e, uint64_t vcpu, bool final)
{
	struct kvmdci_vcpu_info vi = { 0 };
	struct vcpu_slot *v;

	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1; i++)
		if (e->vcpus[i].vcpu == vcpu && !e->vcpus[i].gone)
			return; /* known: the same stop again (a CPU resumed at the breakpoint) */
	if (e->nvcpus >= MAX_VCPU_SLOTS - 1) {
		if (!e->unwatched++)
			kvmdci_warn(e->ctx, "more than %d vCPUs: vCPU 0x%llx and later ones are not "
					    "watched", MAX_VCPU_SLOTS - 1, (unsigned long long)vcpu);
		return;
	}
	if (kvm_vcpu_info_read(e->k, &e->layout, vcpu, &vi) < 0) {
		e->unwatched++;
		kvmdci_warn(e->ctx, "cannot read the vCPU created at 0x%llx: %s; it is not watched",
			    (unsigned long long)vcpu, kvmdci_ctx_last_error(e->ctx));
		return;
	}
	if (!kvmdci_vm_select_vcpu(sel_of(e), &vi))
		return; /* not one the selection wants */
	v = &e->vcpus[e->nvcpus++];
	*v = (struct vcpu_slot){ vcpu, vi.vm, vi.vcpu_id, vi.vm_pid, vi.stat_exits_addr };
	e->created++;
	/* the start of its coverage: exits before this are KVM's, not ours (none, unless a thread
	 * ran KVM_RUN on the fd before the ioctl returned) */
	if (kvmdci_kernel_read_u64(e->k, v->watch_addr, &v->start_exits) < 0)
		v->start_exits = 0;
	read_cats(e, v, false);
	e->exits_before_watch += v->start_exits;
	kvmdci_info(e->ctx, "vCPU %d of VM pid %d created (0x%llx, stat.exits %llu)", v->vcpu_id,
		    v->vm_pid, (unsigned long long)vcpu, (unsigned long long)v->start_exits);
	if (final || !e->armed)
		return; /* watched when the trigger goes (back) in */
	int r = watch_one(e, v);
	if (r < 0)
		leave_unwatched(e, v, r);
	describe_watch(e);
}

/* A breakpoint stop at kvm_arch_vcpu_destroy: the vCPU is freed next. */
static void vcpu_destroyed(struct kvmdci_exits *e, uint64_t vcpu)
{
	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1; i++) {
		struct vcpu_slot *v = &e->vcpus[i];
		if (v->vcpu != vcpu || v->gone)
			continue;
		bool was_in = v->in;
		unwatch_one(e, v);
		v->gone = true;
		e->destroyed++;
		/* its count is final: measured now, kept in the coverage */
		if (kvmdci_kernel_read_u64(e->k, v->watch_addr, &v->end_exits) == 0 &&
		    v->end_exits >= v->start_exits) {
			v->present = true;
			read_cats(e, v, true);
			if (was_in && v->have_last && v->end_exits > v->last_exits)
				e->missed += v->end_exits - v->last_exits;
		}
		kvmdci_info(e->ctx, "vCPU %d of VM pid %d destroyed (stat.exits %llu)", v->vcpu_id,
			    v->vm_pid, (unsigned long long)v->end_exits);
		return;
	}
}

/* A stop at one of the breakpoints that follow vCPUs: 1 if it was one (the caller steps past
 * it), 0 if not. */
static int follow_stop(struct kvmdci_exits *e, struct kvmdci_stop *st, bool final)
{
	static const char *const regs[2] = { "rip", "rdi" };
	uint64_t rv[2];
	int r;

	if (!e->follow || st->cpu < 0 || st->signal != 5 || st->reason == KVMDCI_STOP_WATCHPOINT)
		return 0;
	if ((r = kvmdci_target_regs_read(e->t, st->cpu, regs, rv, 2)) < 0)
		return r;
	if (rv[0] != e->create_bp && rv[0] != e->destroy_bp)
		return 0;
	/* the kernel view reads through this CPU: it is in the host kernel */
	st->reason = KVMDCI_STOP_BREAKPOINT;
	st->addr = rv[0];
	if (rv[0] == e->create_bp)
		vcpu_created(e, rv[1], final);
	else
		vcpu_destroyed(e, rv[1]);
	return 1;
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
	KVMDCI_API_ENTRY(e->ctx);
	int r;

	if (e->started)
		return -EALREADY;
	switch (e->requested) {
	case KVMDCI_TRIGGER_WATCH:
		if (!e->follow) {
			kvmdci_err(e->ctx, "the watch trigger cannot follow vCPUs created and destroyed "
					   "while tracing: %s (use the break trigger)", e->follow_err);
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
		if (!e->follow) {
			char why[300];
			snprintf(why, sizeof(why), " (the watch trigger cannot follow vCPUs: %s)",
				 e->follow_err);
			r = start_break(e, why);
		} else if (e->nvcpus > e->max_watch)
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
	/* KVM's own count at the start, for the coverage (the target is stopped here) */
	for (int i = 0; i < e->nvcpus; i++) {
		if (kvmdci_kernel_read_u64(e->k, e->vcpus[i].watch_addr, &e->vcpus[i].start_exits) < 0)
			e->vcpus[i].start_exits = 0;
		read_cats(e, &e->vcpus[i], false);
	}
	e->started = true;
	e->armed = true;
	e->t_start = e->t_armed = kvmdci_now_s();
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		return kvmdci_trace_start(e->tr);
	return kvmdci_target_resume(e->t);
}

KVMDCI_EXPORT void kvmdci_exits_stop_after(struct kvmdci_exits *e, uint64_t n)
{
	e->limit = n;
}

KVMDCI_EXPORT int kvmdci_exits_sample(struct kvmdci_exits *e, double duty, int period_ms)
{
	KVMDCI_API_ENTRY(e->ctx);
	if (e->started)
		return -EALREADY;
	if (!(duty > 0 && duty <= 1) || period_ms < 10 || period_ms > 3600 * 1000) {
		kvmdci_set_error(e->ctx, "sampling needs a duty cycle in (0, 1] and a period of "
					 "10 ms to 1 h (got %g and %d ms)", duty, period_ms);
		return -EINVAL;
	}
	e->duty = duty < 1 ? duty : 0;
	e->period_ms = period_ms;
	return 0;
}

/* Evaluate the exit-reason capture; @regvals are the values of e->prog.regs. */
static void record(struct kvmdci_exits *e, int vslot, uint64_t vcpu, const uint64_t *regvals)
{
	uint64_t code;

	int r = expr_eval(&e->prog, regvals, kread, e, &code);
	e->pre_valid = false;
	if (r < 0) {
		if (!e->unreadable++)
			kvmdci_warn(e->ctx, "cannot evaluate the exit reason of vCPU 0x%llx: %s",
				    (unsigned long long)vcpu, kvmdci_ctx_last_error(e->ctx));
		code = CODE_UNREADABLE;
	}
	count(e, vslot, code);
}

/*
 * The sweep. A stop reports one CPU's watchpoint; when two CPUs wrote watched counters in the
 * same stop window, QEMU 7.2 keeps the other CPU's hit pending and reports it later (at that
 * CPU's next store to a watched page), by which time its vCPU may have exited again: one exit
 * would go unseen (docs/lab-facts.md). So each watch stop also reads the other watched
 * counters (in the same round trip) and counts, with its reason read now, the exit of any vCPU
 * whose counter moved without a report; the late report then finds its counter unchanged and
 * is ignored as a repeat. Up to SWEEP_MAX others per stop, in rotation.
 *
 * sweep_plan: reads for the counters of up to SWEEP_MAX watched vCPUs but @skip, scanning at
 * most *@left slots from *@pos on (both advanced; *@pos wraps). Returns how many it planned.
 */
/* The vCPU slots in use, but the shared overflow slot (vcpu_slot_of). */
static int slots_used(const struct kvmdci_exits *e)
{
	return e->nvcpus < MAX_VCPU_SLOTS - 1 ? e->nvcpus : MAX_VCPU_SLOTS - 1;
}

static int sweep_plan(struct kvmdci_exits *e, int skip, int *pos, int *left,
		      struct target_read *rq, uint8_t (*buf)[8], int *slots)
{
	int n = 0, nv = slots_used(e);

	for (; *left > 0 && n < SWEEP_MAX && nv > 0; (*left)--) {
		int j = *pos % nv;
		const struct vcpu_slot *w = &e->vcpus[j];
		*pos = (j + 1) % nv;
		if (j == skip || !w->in || !w->have_last)
			continue;
		rq[n] = (struct target_read){ w->watch_addr, buf[n], 8, 0 };
		slots[n++] = j;
	}
	return n;
}

static void sweep_count(struct kvmdci_exits *e, const struct target_read *rq, const int *slots,
			int n)
{
	for (int k = 0; k < n; k++) {
		struct vcpu_slot *w = &e->vcpus[slots[k]];
		uint64_t now = le64(rq[k].buf), regvals[EXPR_MAX_REGS] = { w->vcpu };
		if (rq[k].result < 0 || now <= w->last_exits)
			continue;
		if (now > w->last_exits + 1)
			e->missed += now - w->last_exits - 1;
		w->last_exits = now;
		e->swept++;
		record(e, slots[k], w->vcpu, regvals);
	}
}

/* At a stop that is not a watch hit (an interrupt that ends the run or takes the trigger out
 * while sampling, a breakpoint that follows vCPUs): the exits whose reports are pending. */
static int sweep_all(struct kvmdci_exits *e)
{
	uint8_t sb[SWEEP_MAX][8];
	struct target_read rq[SWEEP_MAX];
	int sw[SWEEP_MAX], r, pos = 0, left = slots_used(e);

	while (left > 0) {
		int ns = sweep_plan(e, -1, &pos, &left, rq, sb, sw);
		if (ns && (r = kernel_read_many(e->k, rq, ns)) < 0)
			return r;
		sweep_count(e, rq, sw, ns);
	}
	return 0;
}

/* Handle one stop. Returns 1 if it was a hit, 2 at a breakpoint that follows vCPUs (to be
 * stepped past), 0 if not ours; the target is left stopped. */
static int handle_stop(struct kvmdci_exits *e, struct kvmdci_stop *st, bool final)
{
	if (e->trigger != KVMDCI_TRIGGER_WATCH)
		return 0;
	if (st->reason != KVMDCI_STOP_WATCHPOINT) {
		int r = follow_stop(e, st, final);
		if (r >= 0 && (final || r > 0)) {
			int sr = sweep_all(e);
			if (sr < 0)
				return sr;
		}
		return r > 0 ? 2 : r;
	}
	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1; i++) {
		if (!e->vcpus[i].in || e->vcpus[i].watch_addr != st->addr)
			continue;
		/* the capture reads only $arg0, the vCPU: known from the address */
		uint64_t regvals[EXPR_MAX_REGS] = { e->vcpus[i].vcpu }, exits;
		struct vcpu_slot *v = &e->vcpus[i];
		uint8_t eb[8], sb[SWEEP_MAX][8];
		struct target_read rq[2 + SWEEP_MAX] = { { v->watch_addr, eb, 8, 0 } };
		int n = 1, pi = -1, sw[SWEEP_MAX], r, hit = 0;
		if (e->pre_ok) {
			pi = n;
			rq[n++] = (struct target_read){ v->vcpu + e->pre_off, e->pre_buf,
							 e->pre_len, 0 };
		}
		int left = slots_used(e), ns = sweep_plan(e, i, &e->sweep_next, &left, rq + n, sb, sw);
		/* the counter, the capture's first load and the other counters in one round
		 * trip */
		if ((r = kernel_read_many(e->k, rq, n + ns)) < 0)
			return r;
		e->pre_addr = pi >= 0 ? rq[pi].addr : 0;
		e->pre_valid = pi >= 0 && rq[pi].result == 0;
		exits = le64(eb);
		/* a report repeated (QEMU): the counter did not move; a real exit moved it */
		if (rq[0].result == 0 && v->have_last && exits == v->last_exits) {
			e->duplicates++;
		} else {
			if (rq[0].result == 0) {
				if (v->have_last && exits > v->last_exits + 1)
					e->missed += exits - v->last_exits - 1;
				v->last_exits = exits;
				v->have_last = true;
			}
			record(e, i, v->vcpu, regvals);
			hit = 1;
		}
		e->pre_valid = false;
		sweep_count(e, rq + n, sw, ns);
		return hit;
	}
	return 0;
}

/* The run loop's callback for the watch trigger (lib/target/run.h). */
static int on_watch_stop(void *data, struct kvmdci_stop *st, bool final)
{
	struct kvmdci_exits *e = data;
	int r = handle_stop(e, st, final);

	if (r < 0)
		return r;
	if (r == 2)
		return final ? 0 : TARGET_STOP_STEP;
	if (e->limit && e->total >= e->limit)
		return (r ? TARGET_STOP_HIT : 0) | TARGET_STOP_HOLD; /* no exit races the stop */
	return r ? TARGET_STOP_HIT : 0;
}

/* Sampling with the watch trigger: stop the target (the stop handled as a final one), put the
 * watchpoints in (start_watch re-reads each counter: exits while out are not "missed") or take
 * them out, and continue. A CPU stopped at a breakpoint that follows vCPUs stops there again
 * when continued: that stop is known (vcpu_created) and stepped past. */
static int rearm_watch(struct kvmdci_exits *e, bool armed)
{
	int r = target_run_halt(e->t, on_watch_stop, e);

	if (r < 0)
		return r;
	r = armed ? start_watch(e) : stop_watch(e);
	if (r < 0)
		return r;
	return kvmdci_target_resume(e->t);
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
	int slot = vcpu_slot_of(e, vcpu);
	e->last_hit_slot = slot;
	if (slot < 0)
		return 0;
	struct vcpu_slot *v = &e->vcpus[slot];
	if (slot < MAX_VCPU_SLOTS - 1 && !v->hit_seen) {
		/* KVM counts an exit before its handler runs: a vCPU stopped between the two at the
		 * start hits here for an exit already in start_exits. Its counter tells: unchanged
		 * since the start, the exit is not in the window (one read, at a vCPU's first hit) */
		uint64_t now;
		v->hit_seen = true;
		if (v->start_exits && v->watch_addr &&
		    kvmdci_kernel_read_u64(e->k, v->watch_addr, &now) == 0 &&
		    now == v->start_exits) {
			e->before_start++;
			return 0;
		}
	}
	count(e, slot, code);
	return e->limit && e->total >= e->limit ? -1 : 0; /* -1: the poll returns now */
}

/* Milliseconds since @t0 (kvmdci_now_ms()); a poll lasts far less than INT_MAX ms. */
static int elapsed_ms(uint64_t t0)
{
	return (int)(kvmdci_now_ms() - t0);
}

/* Sampling: put the trigger in or take it out. */
static int set_armed(struct kvmdci_exits *e, bool armed)
{
	int r;

	if (e->armed == armed)
		return 0;
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		r = trace_set_armed(e->tr, armed);
	else
		r = rearm_watch(e, armed);
	if (r < 0)
		return r;
	double now = kvmdci_now_s();
	if (armed)
		e->t_armed = now;
	else
		e->armed_s += now - e->t_armed;
	e->armed = armed;
	sample_window(e, armed);
	return 0;
}

/* Sampling: arm or disarm as the schedule says; returns the ms to the next change. */
static int sample_tick(struct kvmdci_exits *e)
{
	if (!e->duty)
		return INT_MAX;
	long long period = e->period_ms, on = (long long)(e->duty * (double)period + 0.5);
	long long phase = (long long)((kvmdci_now_s() - e->t_start) * 1000) % period;
	bool want = phase < (on > 0 ? on : 1);
	int r = set_armed(e, want);
	if (r < 0)
		return r;
	return (int)((want ? on : period) - phase) + 1;
}

KVMDCI_EXPORT int kvmdci_exits_poll(struct kvmdci_exits *e, int timeout_ms)
{
	KVMDCI_API_ENTRY(e->ctx);
	uint64_t t0 = kvmdci_now_ms();
	int hits = 0;

	if (!e->started || e->stopped)
		return -EINVAL;
	for (;;) {
		int e0 = elapsed_ms(t0), until = sample_tick(e), left = timeout_ms - e0, slice, r;
		if (until < 0)
			return until;
		slice = left < until ? left : until;
		if (slice < 0)
			slice = 0;
		if (e->trigger == KVMDCI_TRIGGER_BREAK)
			r = kvmdci_trace_poll(e->tr, slice, on_break_hit, e);
		else
			r = target_run(e->t, slice, on_watch_stop, e);
		if (r < 0)
			return r;
		hits += r;
		/* done, or back early (a signal): the caller decides; else a schedule change */
		int e1 = elapsed_ms(t0);
		if (!e->duty || e1 >= timeout_ms || e1 + 2 < e0 + slice ||
		    (e->limit && e->total >= e->limit))
			return hits;
	}
}

/* KVM's stat.exits of every vCPU listed now against the start: the coverage figures. The
 * target is stopped. A vCPU counted but no longer listed (its VM is gone) is left out of both
 * sides. */
static void measure_coverage(struct kvmdci_exits *e)
{
	int max = MAX_VCPU_SLOTS - 1;
	struct kvmdci_vcpu_info *vi = calloc((size_t)max, sizeof(*vi));
	int n;

	if (!vi)
		return;
	n = kvmdci_kvm_vcpus(e->k, vi, max);
	if (n < 0) {
		/* the report says "coverage unknown"; after a lost target this is no news */
		kvmdci_info(e->ctx, "cannot list the vCPUs at the end for the coverage: %s",
			    kvmdci_ctx_last_error(e->ctx));
		free(vi);
		return;
	}
	for (int i = 0; i < n && i < max; i++) {
		int slot = -1;
		if (!kvmdci_vm_select_vcpu(sel_of(e), &vi[i]))
			continue;
		for (int j = 0; j < e->nvcpus; j++)
			if (e->vcpus[j].vcpu == vi[i].vcpu && !e->vcpus[j].gone)
				slot = j;
		if (slot < 0) {
			if (e->nvcpus >= MAX_VCPU_SLOTS - 1)
				continue;
			/* created after the start and never hit: its counter started at 0 */
			slot = e->nvcpus++;
			e->vcpus[slot] = (struct vcpu_slot){ vi[i].vcpu, vi[i].vm, vi[i].vcpu_id,
							     vi[i].vm_pid, vi[i].stat_exits_addr,
							     .cats_start = true };
		}
		struct vcpu_slot *v = &e->vcpus[slot];
		if (kvmdci_kernel_read_u64(e->k, v->watch_addr, &v->end_exits) < 0 ||
		    v->end_exits < v->start_exits)
			continue;
		v->present = true;
		read_cats(e, v, true);
		/*
		 * The run's end: the final stop (an interrupt, or the hit that reached --count)
		 * stops every CPU, and a vCPU whose exit had just moved its counter gets no stop
		 * of its own reported (the stub reports one). Those exits KVM counted and we did
		 * not: missed, at the stop, so that counted + missed is KVM's count.
		 */
		if (e->trigger == KVMDCI_TRIGGER_WATCH && v->in && v->have_last &&
		    v->end_exits > v->last_exits)
			e->missed_at_stop += v->end_exits - v->last_exits;
	}
	free(vi);
	e->vcpus_measured = e->vcpus_gone = 0;
	e->kvm_exits = e->counted_measured = 0;
	for (int j = 0; j < e->nvcpus && j < MAX_VCPU_SLOTS - 1; j++) {
		if (!e->vcpus[j].present) {
			e->vcpus_gone++;
			continue;
		}
		e->vcpus_measured++;
		e->kvm_exits += e->vcpus[j].end_exits - e->vcpus[j].start_exits;
	}
	for (int i = 0; i < COUNT_SLOTS; i++) {
		const struct count_slot *c = &e->counts[i];
		if (c->vcpu >= 0 && c->vcpu < MAX_VCPU_SLOTS - 1 && e->vcpus[c->vcpu].present)
			e->counted_measured += c->count;
	}
	e->have_coverage = true;
}

/* The target stopped at the end of the run (@r >= 0), or did not: the figures of the run. */
static void on_halted(void *data, int r)
{
	struct kvmdci_exits *e = data;

	e->t_stop = kvmdci_now_s();
	if (e->armed) {
		e->armed_s += e->t_stop - e->t_armed;
		sample_window(e, false);
	}
	if (r < 0)
		return;
	e->halted = true;
	measure_coverage(e);
}

/*
 * The break trigger's end. KVM counts an exit (stat.exits) in vcpu_enter_guest before it
 * enables interrupts and calls the exit handler; a vCPU stopped between the two has an exit
 * KVM counted that the breakpoint has not seen yet (on the lab, 3 runs in 25 of a second each
 * with two busy vCPUs ended one short). Such a vCPU's counter is ahead of its count: the
 * target runs on until it hits (each hit counted and held), until no vCPU is ahead. A vCPU
 * whose exits KVM re-entered in its fastpath (no handler) stays ahead by those: its gap is
 * taken at its hit. Bounded: SETTLE_HITS hits or SETTLE_MS (an idle vCPU with such a gap
 * never hits), the target stopped when this returns.
 */
#define SETTLE_HITS 32
#define SETTLE_MS 300

/* How many vCPUs are ahead of their count (the target stopped), < 0 on a failed read. */
static int vcpus_ahead(struct kvmdci_exits *e)
{
	uint8_t b[SWEEP_MAX][8];
	struct target_read rq[SWEEP_MAX];
	int sl[SWEEP_MAX], ahead = 0, r;

	for (int i = 0; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1;) {
		int n = 0;
		for (; i < e->nvcpus && i < MAX_VCPU_SLOTS - 1 && n < SWEEP_MAX; i++) {
			if (e->vcpus[i].gone || !e->vcpus[i].watch_addr)
				continue;
			rq[n] = (struct target_read){ e->vcpus[i].watch_addr, b[n], 8, 0 };
			sl[n++] = i;
		}
		if (n && (r = kernel_read_many(e->k, rq, n)) < 0)
			return r;
		for (int j = 0; j < n; j++) {
			struct vcpu_slot *v = &e->vcpus[sl[j]];
			uint64_t now = le64(rq[j].buf), base = v->start_exits + v->counted;
			if (rq[j].result < 0 || now < base)
				continue;
			if (sl[j] == e->last_hit_slot) {
				/* held at its hit: every exit it made so far is counted or re-entered */
				v->settle_gap = now - base;
				v->settle_gap_ok = true;
			} else if (now - base > (v->settle_gap_ok ? v->settle_gap : 0)) {
				ahead++;
			}
		}
	}
	return ahead;
}

static int settle_break(void *data)
{
	struct kvmdci_exits *e = data;
	uint64_t deadline = kvmdci_now_ms() + SETTLE_MS, now;
	int r;

	/* sampling with the breakpoint out counts a sample anyway; --count ends exactly */
	if (!e->armed || e->limit)
		return 0;
	e->last_hit_slot = -1;
	for (int i = 0; i < SETTLE_HITS && (now = kvmdci_now_ms()) < deadline; i++) {
		if ((r = vcpus_ahead(e)) <= 0)
			return r;
		e->last_hit_slot = -1;
		uint64_t before = e->total;
		if ((r = trace_run_to_hit(e->tr, (int)(deadline - now), on_break_hit, e)) < 0)
			return r;
		e->settled += e->total - before;
	}
	return 0;
}

KVMDCI_EXPORT int kvmdci_exits_stop(struct kvmdci_exits *e)
{
	KVMDCI_API_ENTRY(e->ctx);
	int r = 0;

	if (!e->started || e->stopped)
		return 0;
	e->stopped = true;
	if (e->trigger == KVMDCI_TRIGGER_BREAK)
		r = trace_end(e->tr, settle_break, on_halted, e);
	else
		r = target_run_end(e->t, on_watch_stop, e, NULL, on_halted, e);
	if (!e->halted)
		return r;
	/* what the run's figures do not say by themselves, for -v (warnings: always) */
	static const struct {
		size_t off;
		int prio;
		const char *what;
	} notes[] = {
		{ offsetof(struct kvmdci_exits, dropped), KVMDCI_LOG_WARNING,
		  "hits not tabulated (count table full)" },
		{ offsetof(struct kvmdci_exits, past_limit), KVMDCI_LOG_INFO,
		  "exits raced with the stop at the --count limit: not counted" },
		{ offsetof(struct kvmdci_exits, duplicates), KVMDCI_LOG_INFO,
		  "repeated watchpoint reports ignored (stat.exits unchanged)" },
		{ offsetof(struct kvmdci_exits, before_start), KVMDCI_LOG_INFO,
		  "hits not counted: KVM had counted their exits before the start" },
		{ offsetof(struct kvmdci_exits, settled), KVMDCI_LOG_INFO,
		  "exits counted after the stop: KVM had counted them, their handler had not run "
		  "yet" },
		{ offsetof(struct kvmdci_exits, swept), KVMDCI_LOG_INFO,
		  "exits counted from their counters at another CPU's stop (their own reports came "
		  "late)" },
		{ offsetof(struct kvmdci_exits, missed), KVMDCI_LOG_WARNING,
		  "exits were not seen by the watchpoints (stat.exits moved by more than one "
		  "between two stops)" },
		{ offsetof(struct kvmdci_exits, missed_at_stop), KVMDCI_LOG_INFO,
		  "exits KVM counted as the run was stopped, with no watch stop of their own "
		  "(counted as missed)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(notes); i++) {
		uint64_t n;
		memcpy(&n, (const char *)e + notes[i].off, sizeof(n));
		if (n)
			kvmdci_log_impl(e->ctx, notes[i].prio, __FILE__, __LINE__, __func__,
					"%llu %s", (unsigned long long)n, notes[i].what);
	}
	return r;
}

KVMDCI_EXPORT int kvmdci_exits_coverage(struct kvmdci_exits *e, struct kvmdci_exits_coverage *c)
{
	KVMDCI_API_ENTRY(e->ctx);
	memset(c, 0, sizeof(*c));
	c->duty = e->duty ? e->duty : 1.0;
	c->period_ms = e->period_ms;
	c->armed_s = e->armed_s;
	c->run_s = e->t_stop > 0 ? e->t_stop - e->t_start : 0;
	if (!e->have_coverage)
		return -ENODATA;
	c->counted = e->counted_measured;
	c->kvm_exits = e->kvm_exits;
	c->vcpus = e->vcpus_measured;
	c->vcpus_gone = e->vcpus_gone;
	c->missed_at_stop = e->missed_at_stop;
	c->late_counted = e->swept;
	return 0;
}

KVMDCI_EXPORT int kvmdci_exits_counts(struct kvmdci_exits *e, struct kvmdci_exit_count *out,
				      int max)
{
	KVMDCI_API_ENTRY(e->ctx);
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
	*missed = e->missed + e->missed_at_stop;
}

KVMDCI_EXPORT int kvmdci_exits_follow_stats(struct kvmdci_exits *e, struct kvmdci_exits_follow *f)
{
	KVMDCI_API_ENTRY(e->ctx);
	memset(f, 0, sizeof(*f));
	if (e->trigger != KVMDCI_TRIGGER_WATCH)
		return 0;
	f->created = e->created;
	f->destroyed = e->destroyed;
	f->unwatched = e->unwatched;
	f->most_watched = e->most_watched;
	f->exits_before_watch = e->exits_before_watch;
	return 1;
}

/* Sort estimates: largest first, equal ones by code. */
static int cmp_estimate(const void *a, const void *b)
{
	const struct kvmdci_exit_estimate *x = a, *y = b;

	if (x->estimated != y->estimated)
		return x->estimated < y->estimated ? 1 : -1;
	return x->code < y->code ? -1 : x->code > y->code;
}

/* A measured vCPU slot in the group @vm / @vcpu (0: any). */
static bool in_group(const struct kvmdci_exits *e, int j, uint64_t vm, uint64_t vcpu)
{
	if (j < 0 || j >= MAX_VCPU_SLOTS - 1)
		return false; /* an empty count slot (-1), or the shared overflow slot */
	const struct vcpu_slot *v = &e->vcpus[j];
	return v->present && (!vm || v->vm == vm) && (!vcpu || v->vcpu == vcpu);
}

KVMDCI_EXPORT int kvmdci_exits_estimates(struct kvmdci_exits *e, uint64_t vm, uint64_t vcpu,
					 struct kvmdci_exit_estimate *out, int max)
{
	KVMDCI_API_ENTRY(e->ctx);
	struct kvmdci_exit_estimate *rows;
	uint64_t delta[MAX_CATS] = { 0 }, sum_cats = 0, n_u = 0, kvm_exits = 0;
	bool calibrated = e->ncats > 0, all = !vm && !vcpu;
	int n = 0;

	if (!e->have_coverage)
		return -ENODATA;
	if (max < 0 || (max > 0 && !out))
		return -EINVAL;
	rows = calloc(COUNT_SLOTS + MAX_CATS + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	/* KVM's exits and the counters' deltas over the group's measured vCPUs */
	for (int j = 0; j < e->nvcpus && j < MAX_VCPU_SLOTS - 1; j++) {
		const struct vcpu_slot *v = &e->vcpus[j];
		if (!in_group(e, j, vm, vcpu))
			continue;
		kvm_exits += v->end_exits - v->start_exits;
		if (!v->cats_start || !v->cats_end) {
			calibrated = false;
			continue;
		}
		for (int i = 0; i < e->ncats; i++)
			delta[i] += v->cat_end[i] >= v->cat_start[i] ? v->cat_end[i] - v->cat_start[i]
								   : 0;
	}
	/* the hits per code on the measured vCPUs */
	for (int i = 0; i < COUNT_SLOTS; i++) {
		const struct count_slot *c = &e->counts[i];
		int r;
		if (!in_group(e, c->vcpu, vm, vcpu))
			continue;
		for (r = 0; r < n && rows[r].code != c->code; r++)
			;
		if (r == n)
			rows[n++].code = c->code;
		rows[r].counted += c->count;
	}
	for (int i = 0; calibrated && i < e->ncats; i++) {
		int r;
		for (r = 0; r < n && rows[r].code != e->cats[i].code; r++)
			;
		if (r == n)
			rows[n++].code = e->cats[i].code;
		snprintf(rows[r].counter, sizeof(rows[r].counter), "%s", e->cats[i].counter);
		rows[r].counter_delta = delta[i];
		sum_cats += delta[i];
	}
	for (int r = 0; r < n; r++)
		if (!rows[r].counter[0])
			n_u += rows[r].counted;
	/* exits of the reasons no counter counts: KVM's total less the counted reasons' */
	double rest = (double)kvm_exits - (double)sum_cats;
	if (rest < 0)
		rest = 0;
	for (int r = 0; r < n; r++) {
		struct kvmdci_exit_estimate *x = &rows[r];
		if (!e->duty) {
			/* every exit was counted: the counts are the answer */
			x->estimated = (double)x->counted;
			continue;
		}
		if (x->counter[0]) {
			x->estimated = (double)x->counter_delta;
			continue;
		}
		/* the share's spread: windows are clusters of hits (over all vCPUs only: the
		 * window sums are not kept per vCPU) */
		int w;
		for (w = 0; w < e->nwin && e->win[w].code != x->code; w++)
			;
		bool win = all && e->windows >= 2 && w < e->nwin && !e->win_overflow;
		kvm_exit_share(rest, x->counted, n_u, win ? e->windows : 0, win ? e->win[w].s_nn : 0,
			       win ? e->win[w].s_nN : 0, e->s_NN, &x->estimated, &x->error);
	}
	/* exits of reasons without a counter that the sample never saw */
	if (e->duty && n_u == 0 && rest > 0) {
		rows[n] = (struct kvmdci_exit_estimate){ .code = KVMDCI_EXIT_CODE_UNSAMPLED,
							.estimated = rest };
		n++;
	}
	/* a counter that stayed at 0 for a reason never seen says nothing; one that moved stays,
	 * also where nothing was counted (the break trigger does not see exits KVM re-enters in
	 * its fastpath: 6.12's HLT) */
	int kept = 0;
	for (int r = 0; r < n; r++)
		if (rows[r].counted || rows[r].estimated > 0 || rows[r].counter_delta)
			rows[kept++] = rows[r];
	n = kept;
	qsort(rows, (size_t)n, sizeof(*rows), cmp_estimate);
	for (int r = 0; r < n && r < max; r++)
		out[r] = rows[r];
	free(rows);
	return n;
}
