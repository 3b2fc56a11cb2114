// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tracing catalog entries: a breakpoint per entry, and at each hit the entry's captures (and
 * its `when` filter) evaluated from the registers read in one pipelined round trip. Each hit
 * is stepped over on the stopped CPU alone so it is reported exactly once. Everything a hit
 * needs is prepared at kvmdci_trace_add(): no allocation and no type lookup per hit.
 */
#include <stdlib.h>

#include "internal.h"
#include "catalog/catalog-internal.h"
#include "kernel/kernel-internal.h"
#include "target/run.h"
#include "target/target-internal.h"

#define MAX_TRACE_ENTRIES 64
#define MAX_CAPTURES 16
#define MAX_TRACE_REGS 24
#define MEMO_SLOTS 16
#define SPAN_MAX 256
#define MAX_PARKED 8
#define PREFETCH_CPUS 16 /* CPUs whose last hit's reads are remembered (cpu % PREFETCH_CPUS) */

struct hit_memo {
	uint64_t addr;
	uint32_t len;
	uint8_t data[SPAN_MAX];
};

/* The reads of a CPU's last hit, fetched again with the registers at its next stop: a hit of
 * the same vCPU reads the same addresses (the exit entry: the vCPU's vmcb pointer, then the
 * VMCB's exit code), so the whole hit costs one round trip instead of one per pointer. */
struct prefetch {
	int cpu; /* -1: empty */
	int n;
	uint64_t addr[MEMO_SLOTS];
	uint32_t len[MEMO_SLOTS];
};

struct trace_entry {
	json_t *json;
	const char *name;
	const char *symbol;
	uint64_t addr;    /* symbol address */
	uint64_t bp_addr; /* breakpoint (past an endbr64) */
	int ncaptures;
	const char *capture_names[MAX_CAPTURES];
	int capture_kinds[MAX_CAPTURES]; /* enum kvmdci_value_kind */
	struct expr_prog captures[MAX_CAPTURES];
	int8_t capture_regmap[MAX_CAPTURES][EXPR_MAX_REGS]; /* prog reg -> trace reg index */
	bool has_when;
	struct expr_prog when;
	int8_t when_regmap[EXPR_MAX_REGS];
	uint64_t hits, filtered;
};

struct kvmdci_trace {
	int refcount;
	struct kvmdci_ctx *ctx;
	struct kvmdci_kernel *k;
	struct kvmdci_target *t;
	struct kvmdci_catalog *cat;
	struct trace_entry entries[MAX_TRACE_ENTRIES];
	int n;
	const char *regs[MAX_TRACE_REGS]; /* regs[0] = "rip" */
	int nregs;
	bool started, stopped;
	bool held; /* a callback answered KVMDCI_HIT_HOLD: the target is stopped at that hit */
	/* a callback answered < 0: the target is left stopped at that hit, not stepped past it
	 * (a later poll steps it first; a stop detaches from there, no halt needed) */
	bool at_hit;
	bool hold_each; /* trace_run_to_hit: every hit is left stopped, as if the callback said so */
	int at_cpu;
	uint64_t at_addr;
	bool armed; /* breakpoints in (trace_set_armed) */
	/* CPUs that stood on a breakpoint when the trace started: they entered the function
	 * before the start (their call, and for the exit entry KVM's exit count, came before
	 * it), and QEMU stops them there at once when resumed: that first stop is stepped over
	 * without a hit, so that a trace counts only what happened after its start */
	int nparked;
	int parked_cpu[MAX_PARKED];
	uint64_t parked_addr[MAX_PARKED];
	uint64_t seq;
	kvmdci_hit_fn fn; /* the last poll's callback: a hit racing with the stop goes there, */
	void *fn_data;    /* unless the callback asked to stop (returned < 0): then none does */
	/* per-hit scratch, reused */
	struct hit_memo memo[MEMO_SLOTS];
	bool memo_used[MEMO_SLOTS]; /* a capture or filter of this hit read it */
	int nmemo;
	struct prefetch pf[PREFETCH_CPUS];
	uint64_t prefetch_used, prefetch_wasted; /* reads fetched ahead: used by the hit, or not */
	/* where a hit's time goes (logged at the end): stopped (our reads, the step-over's
	 * write) and running (from that write to the next stop: the stub and the machine) */
	double t_resumed, stopped_s, running_s;
	uint64_t timed_stops;
	struct kvmdci_target_stats stats0;
	bool memo_on, no_plan; /* KVMDCI_READ_PLAN=0: every load its own read (comparisons) */
	uint64_t reads; /* target reads issued for captures and filters */
	uint64_t values[MAX_CAPTURES];
	int value_ok[MAX_CAPTURES];
};

/*
 * One hit's reads. The captures and the filter of an entry are compiled one by one, but at a
 * hit they read the same memory: the same pointers (vcpu->vmcb in "port" and "in") and
 * fields next to each other (task->pid and ->tgid). plan_reads() finds, at trace_add, the
 * loads whose address is computed the same way up to a last constant offset, and widens each
 * load of such a group to the span of them all (up to SPAN_MAX bytes); at the hit every read
 * is kept in a small memo that lives until the next hit, so the group costs one read of the
 * target, and a repeated pointer none. A widened read that fails falls back to the exact one.
 */
static int hit_read(void *data, uint64_t addr, void *buf, size_t len, const struct expr_op *op)
{
	struct kvmdci_trace *tr = data;
	struct hit_memo *m;
	int r;

	if (!tr->memo_on) {
		tr->reads++;
		return kvmdci_kernel_read(tr->k, addr, buf, len);
	}
	for (int i = 0; i < tr->nmemo; i++) {
		m = &tr->memo[i];
		if (addr >= m->addr && addr - m->addr + len <= m->len) {
			memcpy(buf, m->data + (addr - m->addr), len);
			tr->memo_used[i] = true;
			return 0;
		}
	}
	m = tr->nmemo < MEMO_SLOTS ? &tr->memo[tr->nmemo] : NULL;
	if (m && op && (op->pre || op->post) && op->pre <= addr &&
	    (size_t)op->pre + len + op->post <= SPAN_MAX) {
		m->addr = addr - op->pre;
		m->len = (uint32_t)(op->pre + len + op->post);
		tr->reads++;
		if (kvmdci_kernel_read(tr->k, m->addr, m->data, m->len) == 0) {
			tr->memo_used[tr->nmemo++] = true;
			memcpy(buf, m->data + op->pre, len);
			return 0;
		}
	}
	tr->reads++;
	if ((r = kvmdci_kernel_read(tr->k, addr, buf, len)) < 0)
		return r;
	if (m && len <= SPAN_MAX) {
		m->addr = addr;
		m->len = (uint32_t)len;
		memcpy(m->data, buf, len);
		tr->memo_used[tr->nmemo++] = true;
	}
	return 0;
}

/* Loads @i of @p and @j of @q compute their address the same way up to a last offset. */
static bool same_base(const struct expr_prog *p, const int8_t *pmap, int pi,
		      const struct expr_prog *q, const int8_t *qmap, int qi)
{
	if (pi != qi)
		return false;
	for (int k = 0; k < pi; k++) {
		const struct expr_op *a = &p->ops[k], *b = &q->ops[k];
		if (a->op != b->op || a->b != b->b)
			return false;
		if (a->op == OP_REG ? pmap[a->a] != qmap[b->a] : a->a != b->a)
			return false;
	}
	return true;
}

/* The base part of load @i of @p: ops before its last OP_ADD (or before the load). */
static int load_base(const struct expr_prog *p, int i, uint64_t *off)
{
	if (i > 0 && p->ops[i - 1].op == OP_ADD) {
		*off = p->ops[i - 1].a;
		return i - 1;
	}
	*off = 0;
	return i;
}

static void plan_reads(struct trace_entry *te)
{
	struct expr_prog *progs[MAX_CAPTURES + 1];
	int8_t *maps[MAX_CAPTURES + 1];
	int n = 0;

	for (int c = 0; c < te->ncaptures; c++) {
		progs[n] = &te->captures[c];
		maps[n++] = te->capture_regmap[c];
	}
	if (te->has_when) {
		progs[n] = &te->when;
		maps[n++] = te->when_regmap;
	}
	for (int a = 0; a < n; a++)
		for (int i = 0; i < progs[a]->n; i++) {
			struct expr_op *op = &progs[a]->ops[i];
			uint64_t off, lo, hi, o2;
			int base, others = 0;
			if (op->op != OP_LOAD)
				continue;
			base = load_base(progs[a], i, &off);
			lo = off;
			hi = off + op->a;
			for (int b = 0; b < n; b++)
				for (int j = 0; j < progs[b]->n; j++) {
					const struct expr_op *o = &progs[b]->ops[j];
					if ((b == a && j == i) || o->op != OP_LOAD)
						continue;
					int b2 = load_base(progs[b], j, &o2);
					if (!same_base(progs[a], maps[a], base, progs[b], maps[b], b2))
						continue;
					/* only neighbours: one span of at most SPAN_MAX bytes */
					uint64_t nlo = o2 < lo ? o2 : lo, nhi = o2 + o->a > hi ? o2 + o->a : hi;
					if (nhi - nlo > SPAN_MAX)
						continue;
					lo = nlo;
					hi = nhi;
					others++;
				}
			if (others) {
				op->pre = (uint16_t)(off - lo);
				op->post = (uint16_t)(hi - off - op->a);
			}
		}
}

static int reg_slot(struct kvmdci_trace *tr, const char *name)
{
	for (int i = 0; i < tr->nregs; i++)
		if (!strcmp(tr->regs[i], name))
			return i;
	if (tr->nregs >= MAX_TRACE_REGS)
		return -ENOSPC;
	tr->regs[tr->nregs] = name;
	return tr->nregs++;
}

static int map_regs(struct kvmdci_trace *tr, const struct expr_prog *p, int8_t *map)
{
	for (int i = 0; i < p->nregs; i++) {
		int s = reg_slot(tr, p->regs[i]);
		if (s < 0)
			return s;
		map[i] = (int8_t)s;
	}
	return 0;
}

uint64_t catalog_bp_address(struct kvmdci_kernel *k, uint64_t addr)
{
	uint8_t b[4];
	/* an endbr64 first: put the breakpoint on the next instruction (ftrace's no-op) */
	if (kvmdci_kernel_read(k, addr, b, 4) == 0 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e &&
	    b[3] == 0xfa)
		return addr + 4;
	return addr;
}

KVMDCI_EXPORT int kvmdci_trace_new(struct kvmdci_kernel *k, struct kvmdci_catalog *cat,
				   struct kvmdci_trace **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_trace *tr = calloc(1, sizeof(*tr));

	if (!tr)
		return -ENOMEM;
	tr->refcount = 1;
	tr->ctx = kvmdci_ctx_ref(kvmdci_kernel_get_ctx(k));
	tr->k = kvmdci_kernel_ref(k);
	tr->t = kvmdci_kernel_get_target(k);
	tr->cat = kvmdci_catalog_ref(cat);
	tr->regs[tr->nregs++] = "rip";
	for (int i = 0; i < PREFETCH_CPUS; i++)
		tr->pf[i].cpu = -1;
	const char *e = kvmdci_ctx_get_tunable(tr->ctx, KVMDCI_TUNABLE_READ_PLAN);
	tr->no_plan = e && !strcmp(e, "0");
	*ret = tr;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_trace *kvmdci_trace_ref(struct kvmdci_trace *tr)
{
	if (tr)
		tr->refcount++;
	return tr;
}

KVMDCI_EXPORT struct kvmdci_trace *kvmdci_trace_unref(struct kvmdci_trace *tr)
{
	if (!tr || --tr->refcount > 0)
		return NULL;
	kvmdci_catalog_unref(tr->cat);
	kvmdci_kernel_unref(tr->k);
	kvmdci_ctx_unref(tr->ctx);
	free(tr);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_trace_add(struct kvmdci_trace *tr, const char *name, const char *when)
{
	KVMDCI_API_ENTRY(tr->ctx);
	struct trace_entry *te;
	json_t *e = catalog_find(tr->cat, name), *c;
	char err[512];
	size_t i;
	int r;

	if (!e) {
		kvmdci_err(tr->ctx, "no catalog entry %s (kvmdci-catalog list shows them)", name);
		return -ENOENT;
	}
	if (tr->started)
		return -EBUSY;
	if (tr->n >= MAX_TRACE_ENTRIES) {
		kvmdci_err(tr->ctx, "at most %d entries can be traced at once", MAX_TRACE_ENTRIES);
		return -ENOSPC;
	}
	te = &tr->entries[tr->n];
	memset(te, 0, sizeof(*te));
	te->json = e;
	te->name = json_string_value(json_object_get(e, "name"));
	if (catalog_resolve_symbol(tr->k, e, &te->addr, &te->symbol) < 0) {
		kvmdci_err(tr->ctx, "catalog entry %s: none of its symbols is on the target (module %s "
				    "not loaded, or the function is inlined or renamed): %s",
			   name, json_string_value(json_object_get(e, "module")),
			   kvmdci_ctx_last_error(tr->ctx));
		return -ENOENT;
	}
	char operand[128];
	if (catalog_entry_bp_any(tr->k, e, &te->addr, &te->symbol, &te->bp_addr, operand,
				 sizeof(operand), err, sizeof(err)) < 0) {
		kvmdci_err(tr->ctx, "catalog entry %s: %s", name, err);
		return -ENOENT;
	}
	for (int j = 0; j < tr->n; j++)
		if (tr->entries[j].bp_addr == te->bp_addr) {
			kvmdci_err(tr->ctx, "catalog entry %s is already traced (as %s)", name,
				   tr->entries[j].name);
			return -EEXIST;
		}
	json_array_foreach(json_object_get(e, "captures"), i, c)
	{
		const char *cname = json_string_value(json_object_get(c, "name")), *which;
		if (te->ncaptures >= MAX_CAPTURES)
			break;
		r = catalog_compile_capture_at(tr->k, e, cname, operand,
					       &te->captures[te->ncaptures], &which, err,
					       sizeof(err));
		if (r < 0) {
			kvmdci_err(tr->ctx, "catalog entry %s: capture %s: %s", name, cname, err);
			return r;
		}
		if ((r = map_regs(tr, &te->captures[te->ncaptures],
				  te->capture_regmap[te->ncaptures])) < 0)
			return r;
		te->capture_kinds[te->ncaptures] =
			te->captures[te->ncaptures].is_pointer  ? KVMDCI_VALUE_POINTER
			: te->captures[te->ncaptures].is_signed ? KVMDCI_VALUE_SIGNED
								: KVMDCI_VALUE_UNSIGNED;
		te->capture_names[te->ncaptures++] = cname;
	}
	if (when && *when) {
		if (expr_compile(tr->k, when, &te->when, err, sizeof(err)) < 0) {
			kvmdci_err(tr->ctx, "--when for %s: %s", name, err);
			return -EINVAL;
		}
		if ((r = map_regs(tr, &te->when, te->when_regmap)) < 0)
			return r;
		te->has_when = true;
	}
	if (!tr->no_plan)
		plan_reads(te);
	return tr->n++;
}

KVMDCI_EXPORT const char *kvmdci_trace_entry_name(struct kvmdci_trace *tr, int i)
{
	return i >= 0 && i < tr->n ? tr->entries[i].name : NULL;
}

KVMDCI_EXPORT int kvmdci_trace_entry_stats(struct kvmdci_trace *tr, int i, uint64_t *hits,
					   uint64_t *filtered)
{
	KVMDCI_API_ENTRY(tr->ctx);
	if (i < 0 || i >= tr->n)
		return -EINVAL;
	*hits = tr->entries[i].hits;
	*filtered = tr->entries[i].filtered;
	return 0;
}

/* Insert every entry's breakpoint (software, else hardware); all or none. */
static int insert_all(struct kvmdci_trace *tr)
{
	for (int i = 0; i < tr->n; i++) {
		int r = kvmdci_target_bp_insert(tr->t, KVMDCI_BP_SW, tr->entries[i].bp_addr, 1);
		if (r == -EOPNOTSUPP)
			r = kvmdci_target_bp_insert(tr->t, KVMDCI_BP_HW, tr->entries[i].bp_addr, 1);
		if (r < 0) {
			kvmdci_err(tr->ctx, "cannot set a breakpoint on %s at 0x%llx: %s",
				   tr->entries[i].symbol, (unsigned long long)tr->entries[i].bp_addr,
				   kvmdci_ctx_last_error(tr->ctx));
			kvmdci_target_bp_remove_all(tr->t);
			return r;
		}
	}
	return 0;
}

KVMDCI_EXPORT uint64_t kvmdci_trace_reads(struct kvmdci_trace *tr)
{
	return tr->reads;
}

/* The CPUs standing on one of the breakpoints now (the target stopped): see nparked. */
static void find_parked(struct kvmdci_trace *tr)
{
	static const char *const rip[1] = { "rip" };
	int n = kvmdci_target_cpu_count(tr->t);

	tr->nparked = 0;
	for (int cpu = 0; cpu < n && tr->nparked < MAX_PARKED; cpu++) {
		uint64_t v;
		if (kvmdci_target_regs_read(tr->t, cpu, rip, &v, 1) < 0)
			continue;
		for (int i = 0; i < tr->n; i++)
			if (tr->entries[i].bp_addr == v) {
				tr->parked_cpu[tr->nparked] = cpu;
				tr->parked_addr[tr->nparked++] = v;
				break;
			}
	}
}

/* A signal-5 stop of @cpu at @rip: true if it is the stop of a CPU parked on that breakpoint
 * at the start. Any such stop of a parked CPU ends its parking (it has moved, or moves now). */
static bool unpark(struct kvmdci_trace *tr, int cpu, uint64_t rip)
{
	for (int i = 0; i < tr->nparked; i++)
		if (tr->parked_cpu[i] == cpu) {
			bool same = tr->parked_addr[i] == rip;
			tr->nparked--;
			tr->parked_cpu[i] = tr->parked_cpu[tr->nparked];
			tr->parked_addr[i] = tr->parked_addr[tr->nparked];
			return same;
		}
	return false;
}

KVMDCI_EXPORT int kvmdci_trace_start(struct kvmdci_trace *tr)
{
	KVMDCI_API_ENTRY(tr->ctx);
	int r;

	if (tr->started)
		return -EALREADY;
	if (tr->n == 0) {
		kvmdci_err(tr->ctx, "nothing to trace");
		return -EINVAL;
	}
	if ((r = insert_all(tr)) < 0)
		return r;
	tr->started = true;
	tr->armed = true;
	find_parked(tr);
	kvmdci_target_get_stats(tr->t, &tr->stats0);
	return kvmdci_target_resume(tr->t);
}

/* Evaluate @p with its registers mapped from the hit's register values. */
static int eval(struct kvmdci_trace *tr, const struct expr_prog *p, const int8_t *map,
		const uint64_t *regs, uint64_t *out)
{
	uint64_t rv[EXPR_MAX_REGS];
	for (int i = 0; i < p->nregs; i++)
		rv[i] = regs[map[i]];
	return expr_eval(p, rv, hit_read, tr, out);
}

/* Queue what @cpu's last hit read (into the memo's buffers) for the stop's round trip. */
static int prefetch_plan(struct kvmdci_trace *tr, int cpu, struct target_read *rq)
{
	const struct prefetch *pf = &tr->pf[cpu % PREFETCH_CPUS];
	int n = 0;

	if (tr->no_plan || pf->cpu != cpu)
		return 0;
	for (int i = 0; i < pf->n; i++, n++)
		rq[n] = (struct target_read){ pf->addr[i], tr->memo[n].data, pf->len[i], 0 };
	return n;
}

/* A hit: the reads fetched with the registers start its memo. They were read at this stop,
 * so they hold exactly what a read now would return, whichever vCPU hit. Returns how many. */
static int prefetch_to_memo(struct kvmdci_trace *tr, const struct target_read *rq, int n)
{
	for (int i = 0; i < n; i++) {
		struct hit_memo *m = &tr->memo[tr->nmemo];
		if (rq[i].result != 0)
			continue;
		if (m->data != rq[i].buf)
			memmove(m->data, rq[i].buf, rq[i].len);
		m->addr = rq[i].addr;
		m->len = (uint32_t)rq[i].len;
		tr->memo_used[tr->nmemo++] = false;
	}
	return tr->nmemo;
}

/* After a hit: remember what it read for the next stop of @cpu; count what the prefetch
 * brought (used: a read the hit needed, brought forward; wasted: another vCPU's addresses). */
static void prefetch_learn(struct kvmdci_trace *tr, int cpu, int npre)
{
	struct prefetch *pf = &tr->pf[cpu % PREFETCH_CPUS];

	if (!tr->memo_on)
		return;
	for (int i = 0; i < npre; i++) {
		if (tr->memo_used[i])
			tr->prefetch_used++, tr->reads++;
		else
			tr->prefetch_wasted++;
	}
	pf->cpu = cpu;
	pf->n = 0;
	for (int i = 0; i < tr->nmemo; i++)
		if (tr->memo_used[i]) {
			pf->addr[pf->n] = tr->memo[i].addr;
			pf->len[pf->n++] = tr->memo[i].len;
		}
}

/* One stop: 1 if it was a hit (reported or filtered), 2 at a breakpoint a CPU stood on at the
 * start (stepped over, no hit), 0 if not ours; target left stopped. */
static int handle_stop(struct kvmdci_trace *tr, struct kvmdci_stop *st, int *stop_now)
{
	uint64_t regs[MAX_TRACE_REGS];
	struct target_read rq[MEMO_SLOTS];
	struct trace_entry *te = NULL;
	int r, npf, npre = 0;

	if (st->cpu < 0 || st->signal != 5)
		return 0;
	/* the registers and what this CPU's last hit read, in one round trip */
	npf = prefetch_plan(tr, st->cpu, rq);
	if ((r = target_regs_read_many(tr->t, st->cpu, tr->regs, regs, tr->nregs, rq, npf)) < 0)
		return r;
	bool parked = unpark(tr, st->cpu, regs[0]);
	for (int i = 0; i < tr->n; i++)
		if (tr->entries[i].bp_addr == regs[0])
			te = &tr->entries[i];
	if (!te || parked) {
		tr->prefetch_wasted += (uint64_t)npf;
		if (!te)
			return 0;
		st->reason = KVMDCI_STOP_BREAKPOINT; /* entered before the start: no hit */
		st->addr = regs[0];
		return 2;
	}
	st->reason = KVMDCI_STOP_BREAKPOINT;
	st->addr = regs[0];
	tr->nmemo = 0; /* a new hit: what the memo holds is from the last one */
	tr->memo_on = !tr->no_plan;
	if (tr->memo_on)
		npre = prefetch_to_memo(tr, rq, npf);
	tr->prefetch_wasted += (uint64_t)(npf - npre); /* unreadable now */
	if (te->has_when) {
		uint64_t ok = 0;
		if (eval(tr, &te->when, te->when_regmap, regs, &ok) < 0 || !ok) {
			te->filtered++;
			prefetch_learn(tr, st->cpu, npre);
			return 1;
		}
	}
	te->hits++;
	for (int i = 0; i < te->ncaptures; i++)
		tr->value_ok[i] = eval(tr, &te->captures[i], te->capture_regmap[i], regs,
				       &tr->values[i]) == 0;
	prefetch_learn(tr, st->cpu, npre);
	struct kvmdci_hit hit = {
		.entry = (int)(te - tr->entries),
		.cpu = st->cpu,
		.addr = te->addr,
		.seq = ++tr->seq,
		.ncaptures = te->ncaptures,
		.capture_names = te->capture_names,
		.values = tr->values,
		.value_ok = tr->value_ok,
		.value_kind = te->capture_kinds,
	};
	int fr = tr->fn ? tr->fn(tr, &hit, tr->fn_data) : 0;
	if (tr->hold_each && fr >= 0 && fr != KVMDCI_HIT_HOLD)
		fr = -1;
	if (fr < 0 || fr == KVMDCI_HIT_HOLD) {
		*stop_now = fr == KVMDCI_HIT_HOLD ? 2 : 1;
		tr->fn = NULL; /* it has had enough: a later hit (at the final stop) is counted only */
	}
	return 1;
}

/* The run loop's callback (lib/target/run.h): a hit goes to the last poll's callback. */
static int on_stop(void *data, struct kvmdci_stop *st, bool final)
{
	struct kvmdci_trace *tr = data;
	int stop_now = 0, r;
	double t_in = kvmdci_now_s();

	if (!final && tr->t_resumed > 0) {
		tr->running_s += t_in - tr->t_resumed;
		tr->timed_stops++;
	}
	tr->t_resumed = 0;
	r = handle_stop(tr, st, &stop_now);
	if (r < 0)
		return r;
	if (final) {
		if (r != 1)
			return 0;
		/* its CPU stands on the breakpoint: if the end runs the target on (trace_end's
		 * settle), it steps past first, or QEMU would report the same hit again */
		tr->at_hit = true;
		tr->at_cpu = st->cpu;
		tr->at_addr = st->addr;
		return TARGET_STOP_HIT;
	}
	if (r == 0)
		return 0;
	if (r == 2)
		return TARGET_STOP_STEP;
	if (stop_now == 2) {
		tr->held = true; /* left at the breakpoint, not stepped past it */
		return TARGET_STOP_HIT | TARGET_STOP_HOLD;
	}
	if (stop_now) {
		/* the caller has had enough: stay here. No single step of the hit's instruction
		 * and no interrupt to stop the target again for the end (a hit racing that
		 * interrupt would be one more than asked for) */
		tr->at_hit = true;
		tr->at_cpu = st->cpu;
		tr->at_addr = st->addr;
		return TARGET_STOP_HIT | TARGET_STOP_HOLD;
	}
	/* a hit is stepped over on its CPU alone: reported exactly once */
	tr->t_resumed = kvmdci_now_s(); /* the step-over is written right after this */
	tr->stopped_s += tr->t_resumed - t_in;
	return TARGET_STOP_HIT | TARGET_STOP_STEP;
}

/* Leave the hit a callback stopped at (on_stop): step its CPU past it, all CPUs running. */
static int leave_hit(struct kvmdci_trace *tr)
{
	if (!tr->at_hit)
		return 0;
	tr->at_hit = false;
	return kvmdci_target_step_over(tr->t, tr->at_cpu, tr->at_addr);
}

KVMDCI_EXPORT int kvmdci_trace_poll(struct kvmdci_trace *tr, int timeout_ms, kvmdci_hit_fn fn,
				    void *data)
{
	KVMDCI_API_ENTRY(tr->ctx);
	if (!tr->started || tr->stopped || tr->held)
		return -EINVAL;
	int r = leave_hit(tr);
	if (r < 0)
		return r;
	tr->fn = fn;
	tr->fn_data = data;
	return target_run(tr->t, timeout_ms, on_stop, tr);
}

static int arm(void *data)
{
	return insert_all(data);
}

int trace_set_armed(struct kvmdci_trace *tr, bool armed)
{
	int r;

	if (!tr->started || tr->stopped)
		return -EINVAL;
	if (tr->armed == armed)
		return 0;
	tr->at_hit = false; /* a hit is armed: disarmed, its CPU runs the instruction when continued */
	if ((r = target_run_rearm(tr->t, on_stop, tr, armed, arm)) < 0)
		return r;
	tr->armed = armed;
	return 0;
}

/* Where the time of the hits went, for `-v` (docs/lab-facts.md: on QEMU 7.2 the time
 * running dominates, each breakpoint stop flushes its translated code). */
static void log_costs(struct kvmdci_trace *tr)
{
	struct kvmdci_target_stats s;
	uint64_t n = tr->timed_stops;

	if (!n)
		return;
	kvmdci_target_get_stats(tr->t, &s);
	kvmdci_info(tr->ctx, "%llu stops stepped over: per stop %.2f ms stopped (registers, "
			     "captures, step-over) and %.2f ms running (from the step-over to the "
			     "next stop); %.1f packets and %.1f writes per stop over the run; "
			     "%llu reads fetched ahead were used, %llu not",
		    (unsigned long long)n, 1e3 * tr->stopped_s / (double)n,
		    1e3 * tr->running_s / (double)n,
		    (double)(s.packets_sent - tr->stats0.packets_sent) / (double)n,
		    (double)(s.writes - tr->stats0.writes) / (double)n,
		    (unsigned long long)tr->prefetch_used, (unsigned long long)tr->prefetch_wasted);
}

int trace_end(struct kvmdci_trace *tr, int (*settle)(void *hdata),
	      void (*halted)(void *hdata, int r), void *hdata)
{
	if (!tr->started || tr->stopped)
		return 0;
	tr->stopped = true;
	log_costs(tr);
	return target_run_end(tr->t, on_stop, tr, settle, halted, hdata);
}

int trace_run_to_hit(struct kvmdci_trace *tr, int timeout_ms, kvmdci_hit_fn fn, void *data)
{
	int r = leave_hit(tr);

	if (r < 0)
		return r;
	tr->fn = fn;
	tr->fn_data = data;
	tr->hold_each = true;
	r = target_run(tr->t, timeout_ms, on_stop, tr);
	tr->hold_each = false;
	if (r != 0)
		return r;
	/* no hit in time (or a signal): stopped again, a hit racing that stop given to @fn */
	tr->fn = fn;
	r = target_run_halt(tr->t, on_stop, tr);
	return r < 0 ? r : (r & TARGET_STOP_HIT) ? 1 : 0;
}

KVMDCI_EXPORT int kvmdci_trace_stop(struct kvmdci_trace *tr)
{
	KVMDCI_API_ENTRY(tr->ctx);
	return trace_end(tr, NULL, NULL, NULL);
}
