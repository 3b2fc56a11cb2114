// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reading kernel memory. A whole-machine stub translates virtual addresses through the
 * selected CPU's current paging. A CPU stopped inside a nested guest shows the guest's paging
 * (docs/lab-facts.md, "Debugging through QEMU's gdbstub"), so reads go through a
 * "reader" CPU that was seen in the host kernel (it hit a kernel breakpoint, or linux_banner
 * reads back through it). When no CPU qualifies, reads fall back to physical mode with our
 * own 4/5-level page walk from a kernel page-table root seen earlier. On a live stub, small
 * reads of the kernel half go through a read cache valid for one stop.
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-view.h"
#include "target/target-internal.h"
#include "target/x86-pgwalk.h"

static int phys_reader(void *data, uint64_t pa, void *buf, size_t len)
{
	return kvmdci_target_read_phys(data, pa, buf, len);
}

int kernel_read_physwalk(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t pa, left;
		int r = x86_translate(phys_reader, k->target, k->kcr3, k->la57, addr, &pa, &left);
		if (r < 0)
			return r;
		size_t n = len < left ? len : (size_t)left;
		if ((r = kvmdci_target_read_phys(k->target, pa, p, n)) < 0)
			return r;
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int kernel_virt_to_phys(struct kvmdci_kernel *k, uint64_t va, uint64_t *pa)
{
	uint64_t left;

	if (!k->have_kcr3) {
		int n = kvmdci_target_cpu_count(k->target);
		for (int cpu = 0; cpu < n && !k->have_kcr3; cpu++)
			if (kernel_cpu_sees_kernel(k, cpu) == 1)
				kernel_remember_page_root(k, cpu);
		if (!k->have_kcr3)
			return -ENXIO;
	}
	return x86_translate(phys_reader, k->target, k->kcr3, k->la57, va, pa, &left);
}

int kernel_cpu_sees_kernel(struct kvmdci_kernel *k, int cpu)
{
	char b[sizeof(k->banner)];

	if (!k->banner_addr)
		return -ENOENT;
	if (kvmdci_target_read_virt(k->target, cpu, k->banner_addr, b, sizeof(b)) < 0)
		return 0;
	return !memcmp(b, k->banner, sizeof(b));
}

void kernel_remember_page_root(struct kvmdci_kernel *k, int cpu)
{
	uint64_t v[2];
	const char *names[2] = { "cr3", "cr4" };

	if (kvmdci_target_regs_read(k->target, cpu, names, v, 2) == 0) {
		/* PTI keeps the kernel's PGD in the lower page of the pair */
		k->kcr3 = v[0] & ~0x1fffULL & 0x000ffffffffff000ULL;
		k->la57 = (v[1] >> 12) & 1;
		k->have_kcr3 = true;
	}
}

static int choose_reader(struct kvmdci_kernel *k)
{
	int n = kvmdci_target_cpu_count(k->target);

	if (k->reader >= 0 && kernel_cpu_sees_kernel(k, k->reader) == 1) {
		k->reader_valid = true;
		return 0;
	}
	for (int cpu = 0; cpu < n; cpu++)
		if (cpu != k->reader && kernel_cpu_sees_kernel(k, cpu) == 1) {
			k->reader = cpu;
			k->reader_valid = true;
			if (!k->have_kcr3)
				kernel_remember_page_root(k, cpu);
			return 0;
		}
	k->reader_valid = false;
	return -ENXIO;
}

/*
 * The kernel view notices the target's stops itself: each stop kvmdci_target_wait() reports
 * begins a new generation of the target. At the first read after one, the read cache starts a
 * new epoch and the reader is picked anew: a CPU that stopped on a kernel breakpoint or
 * watchpoint is in the host kernel and reads at once; after any other stop (an interrupt, a
 * step) the next read looks for a CPU that shows the host kernel, as at attach.
 */
void kernel_notice_stop(struct kvmdci_kernel *k)
{
	const struct kvmdci_stop *st;
	uint64_t gen;

	if (!k->target || !(st = target_last_stop(k->target, &gen)) || gen == k->stop_gen)
		return;
	k->stop_gen = gen;
	k->cache_epoch++; /* a new stop: what the cache holds is from before */
	if (st->cpu >= 0 &&
	    (st->reason == KVMDCI_STOP_BREAKPOINT || st->reason == KVMDCI_STOP_WATCHPOINT)) {
		k->reader = st->cpu;
		k->reader_valid = true;
		return;
	}
	k->reader_valid = false;
	k->no_reader = false;
}

/* A read through the reader CPU or our own page walk, no cache. */
static int read_uncached(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len)
{
	if (!k->reader_valid && (k->no_reader || choose_reader(k) < 0)) {
		k->no_reader = true;
		if (!k->have_kcr3) {
			kvmdci_err(k->ctx, "no CPU of %s shows the host kernel's address space and "
					   "no kernel page table is known",
				   kvmdci_target_get_uri(k->target));
			return -ENXIO;
		}
		return kernel_read_physwalk(k, addr, buf, len);
	}
	return kvmdci_target_read_virt(k->target, k->reader, addr, buf, len);
}

int kernel_read_many(struct kvmdci_kernel *k, struct target_read *rq, int n)
{
	kernel_notice_stop(k);
	/* the pipelined path needs a CPU that reads kernel addresses (after a stop on a kernel
	 * breakpoint or watchpoint: that CPU); otherwise one by one through the usual path */
	if (!k->reader_valid) {
		for (int i = 0; i < n; i++)
			rq[i].result = kvmdci_kernel_read(k, rq[i].addr, rq[i].buf, rq[i].len);
		return 0;
	}
	return target_read_virt_many(k->target, k->reader, rq, n);
}

/*
 * The read cache. Walks read many small fields of the same few pages (struct kvm, a bus's
 * range array, slab pages of devices) while the target stays stopped; each uncached read is
 * a round trip to the stub. The cache holds 4 KiB pages of kernel virtual memory, filled one
 * 1 KiB sector at a time: QEMU's stub answers at most ~2 KB per `m` packet, so a whole page
 * would take three round trips where a sector takes one, about the cost of an 8-byte read.
 * A sector enters the cache the second time it is touched in one epoch (the first touch
 * reads exactly what was asked): a tracer's per-hit reads (one field of the vCPU, one of the
 * VMCB) touch each sector once and cost exactly what they did without a cache, and a walk
 * never needs more round trips than without it (a sector touched twice: 2 either way; more
 * often: still 2). A sector that cannot be read whole is never cached: its reads stay exact.
 * KVMDCI_READ_CACHE=N sets another fill size (64..4096); on the lab (30 parked VMs, unix
 * socket) 1 KiB fills were fastest: io-bus walk 373 packets / 0.013 s against 931 / 0.024 s
 * uncached, with 8x the bytes, which is why a slow serial line turns the cache off.
 * Entries are valid for one epoch: any move of the target's generation (resume, step, wait,
 * detach) starts the next one, in O(1).
 */
static bool cache_on(struct kvmdci_kernel *k)
{
	if (k->cache_mode < 0) {
		const char *e = kvmdci_ctx_get_tunable(k->ctx, KVMDCI_TUNABLE_READ_CACHE);
		char *end;
		unsigned long sz = e ? strtoul(e, &end, 10) : 1;
		/* KVMDCI_READ_CACHE: 0 off, 1 on (default), or the fill size in bytes (a power of
		 * two, 64..4096) */
		if (e && (*end || (sz > 1 && (sz < KCACHE_SECTOR_MIN || sz > KCACHE_PAGE ||
					      (sz & (sz - 1)))))) {
			kvmdci_warn(k->ctx, "KVMDCI_READ_CACHE=%s: want 0, 1 or a power of two from "
					    "%u to %u; using the default", e, KCACHE_SECTOR_MIN,
				    KCACHE_PAGE);
			sz = 1;
		}
		k->cache_sector = sz > 1 ? (unsigned int)sz : KCACHE_SECTOR;
		/* a dump reads with a memcpy and /proc/kcore is live without stops: no cache */
		k->cache_mode = target_has_run_control(k->target) && sz != 0;
		/* on a slow line bytes cost more than round trips: a walk of 30 VMs received 8x
		 * the bytes with 1 KiB fills (bench/README.md), minutes at 115200 baud */
		uint32_t rate = target_link_rate(k->target);
		if (k->cache_mode && !e && rate && rate < 1000000) {
			kvmdci_info(k->ctx, "read cache off on a %u bytes/s line (KVMDCI_READ_CACHE=1 "
					    "turns it on)", rate);
			k->cache_mode = 0;
		}
		if (k->cache_mode && !k->cache && !(k->cache = calloc(1, sizeof(*k->cache))))
			k->cache_mode = 0;
	}
	return k->cache_mode == 1;
}

void kernel_cache_invalidate(struct kvmdci_kernel *k)
{
	k->cache_epoch++;
}

static struct kcache_page *cache_find(struct kcache *c, uint64_t epoch, uint64_t page)
{
	struct kcache_page *p = &c->pages[c->last];

	if (p->page == page && p->epoch == epoch)
		return p;
	for (int i = 0; i < KCACHE_PAGES; i++) {
		p = &c->pages[i];
		if (p->page == page && p->epoch == epoch) {
			c->last = i;
			return p;
		}
	}
	return NULL;
}

/* @p (may be NULL) when sector @sec of its page is (now) cached; NULL: read exactly. */
static struct kcache_page *cache_fill(struct kvmdci_kernel *k, struct kcache_page *p,
				      uint64_t page, unsigned int sec)
{
	struct kcache *c = k->cache;
	uint64_t saddr = page + (uint64_t)sec * k->cache_sector;
	uint64_t h = (saddr / k->cache_sector) * 0x9e3779b97f4a7c15ULL;
	struct kcache_touch *t = &c->touch[h >> (64 - KCACHE_TOUCH_BITS)];

	if (t->epoch != k->cache_epoch || t->addr != saddr) { /* first touch */
		t->addr = saddr;
		t->epoch = k->cache_epoch;
		t->failed = false;
		return NULL;
	}
	if (t->failed)
		return NULL;
	if (!p) {
		for (int i = 0; i < KCACHE_PAGES; i++) { /* a free slot, else the LRU one */
			struct kcache_page *q = &c->pages[i];
			if (q->epoch != k->cache_epoch) {
				p = q;
				break;
			}
			if (!p || q->used < p->used)
				p = q;
		}
		p->page = page;
		p->epoch = k->cache_epoch;
		p->valid = 0;
		c->last = (int)(p - c->pages);
	}
	if (read_uncached(k, saddr, p->data + sec * k->cache_sector, k->cache_sector) < 0) {
		t->failed = true;
		k->cache_stats.fill_failures++;
		return NULL;
	}
	p->valid |= 1ull << sec;
	k->cache_stats.fills++;
	return p;
}

static int read_exact(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len)
{
	k->cache_stats.exact++;
	return read_uncached(k, addr, buf, len);
}

static int read_cached(struct kvmdci_kernel *k, uint64_t addr, uint8_t *buf, size_t len)
{
	struct kcache *c = k->cache;
	uint64_t pa = 0; /* a pending exact read of consecutive uncached pieces */
	uint8_t *pb = NULL;
	size_t pl = 0;
	int r;

	while (len) {
		uint64_t page = addr & ~(uint64_t)(KCACHE_PAGE - 1);
		size_t off = (size_t)(addr - page);
		unsigned int sec = (unsigned int)(off / k->cache_sector);
		size_t n = (sec + 1) * k->cache_sector - off;
		struct kcache_page *p = cache_find(c, k->cache_epoch, page);

		if (n > len)
			n = len;
		if (!p || !(p->valid & (1ull << sec)))
			p = cache_fill(k, p, page, sec);
		if (p) {
			if (pl && (r = read_exact(k, pa, pb, pl)) < 0)
				return r;
			pl = 0;
			memcpy(buf, p->data + off, n);
			p->used = ++c->tick;
			k->cache_stats.hits++;
		} else if (pl && pa + pl == addr) {
			pl += n;
		} else {
			if (pl && (r = read_exact(k, pa, pb, pl)) < 0)
				return r;
			pa = addr;
			pb = buf;
			pl = n;
		}
		addr += n;
		buf += n;
		len -= n;
	}
	return pl ? read_exact(k, pa, pb, pl) : 0;
}

/* ---- planned reads ---- */

#define PLAN_BATCH 128 /* requests in one write: their replies fit the socket buffers */
#define PLAN_GAP 256	/* neighbouring requests this close are read together */
#define PLAN_PACKET 2000 /* as long as they fit one 'm' packet (QEMU: 2 KB of memory) */

static void cache_sync_generation(struct kvmdci_kernel *k)
{
	uint64_t g = target_generation(k->target);
	if (g != k->cache_tgen) {
		k->cache_tgen = g;
		k->cache_epoch++;
	}
}

bool kernel_plan_enabled(struct kvmdci_kernel *k)
{
	const char *e = kvmdci_ctx_get_tunable(k->ctx, KVMDCI_TUNABLE_READ_PLAN);
	return target_has_run_control(k->target) && !(e && !strcmp(e, "0"));
}

/* Room in the plan's store for @entries more entries and @bytes more bytes. */
static int plan_reserve(struct kplan *p, size_t entries, size_t bytes)
{
	if (p->n + entries > p->cap) {
		size_t cap = p->cap ? p->cap : 1024;
		while (cap < p->n + entries)
			cap *= 2;
		struct kplan_entry *e = realloc(p->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		p->e = e;
		p->cap = cap;
	}
	if (p->dlen + bytes > p->dcap) {
		size_t cap = p->dcap ? p->dcap : 65536;
		while (cap < p->dlen + bytes)
			cap *= 2;
		uint8_t *d = realloc(p->data, cap);
		if (!d)
			return -ENOMEM;
		p->data = d;
		p->dcap = cap;
	}
	return 0;
}

static int plan_cmp(const void *a, const void *b)
{
	const struct kplan_entry *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool plan_lookup(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len);

/* requests sorted by address, through an index (qsort_r: @rq is the array) */
static int idx_cmp(const void *a, const void *b, void *rq)
{
	const struct target_read *x = (const struct target_read *)rq + *(const int *)a;
	const struct target_read *y = (const struct target_read *)rq + *(const int *)b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int kernel_plan_read(struct kvmdci_kernel *k, struct target_read *rq, int n)
{
	struct kplan *p = &k->plan;
	int *idx = NULL, *grp = NULL, ng = 0, r = -ENOMEM;
	struct target_read *g = NULL;

	kernel_notice_stop(k);
	if (n <= 0 || !kernel_plan_enabled(k))
		return 0;
	cache_sync_generation(k);
	if (p->epoch != k->cache_epoch) {
		p->n = p->dlen = 0;
		p->epoch = k->cache_epoch;
	}
	/* what this stop has read already is not read again */
	int todo = 0;
	for (int i = 0; i < n; i++) {
		rq[i].result = -EAGAIN;
		if (!rq[i].len)
			continue;
		uint8_t tmp[64];
		void *dst = rq[i].buf ? rq[i].buf : rq[i].len <= sizeof(tmp) ? tmp : NULL;
		if (dst && p->n && plan_lookup(k, rq[i].addr, dst, rq[i].len))
			rq[i].result = 0;
		else
			todo++;
	}
	if (!todo)
		return 0;
	if (!(idx = malloc((size_t)todo * sizeof(*idx))) || !(grp = malloc((size_t)n * sizeof(*grp))) ||
	    !(g = calloc((size_t)todo, sizeof(*g))))
		goto out;
	int m = 0;
	for (int i = 0; i < n; i++)
		if (rq[i].result == -EAGAIN && rq[i].len)
			idx[m++] = i;
	qsort_r(idx, (size_t)m, sizeof(*idx), idx_cmp, rq);
	/* neighbours (a gap of at most PLAN_GAP) that fit one packet together: one read */
	size_t need = 0;
	for (int j = 0; j < m; j++) {
		const struct target_read *q = &rq[idx[j]];
		if (ng && q->addr >= g[ng - 1].addr && q->addr <= g[ng - 1].addr + g[ng - 1].len + PLAN_GAP &&
		    q->addr + q->len - g[ng - 1].addr <= PLAN_PACKET) {
			if (q->addr + q->len > g[ng - 1].addr + g[ng - 1].len) {
				need += q->addr + q->len - (g[ng - 1].addr + g[ng - 1].len);
				g[ng - 1].len = q->addr + q->len - g[ng - 1].addr;
			}
		} else {
			g[ng++] = (struct target_read){ .addr = q->addr, .len = q->len };
			need += q->len;
		}
		grp[idx[j]] = ng - 1;
	}
	if (plan_reserve(p, (size_t)ng, need) < 0)
		goto out;
	/* read straight into the store */
	size_t off = p->dlen;
	for (int j = 0; j < ng; j++) {
		g[j].buf = p->data + off;
		off += g[j].len;
	}
	for (int j = 0; j < ng; j += PLAN_BATCH)
		kernel_read_many(k, g + j, ng - j < PLAN_BATCH ? ng - j : PLAN_BATCH);
	for (int j = 0; j < ng; j++)
		if (g[j].result == 0)
			p->e[p->n++] = (struct kplan_entry){
				.addr = g[j].addr, .len = g[j].len,
				.off = (size_t)((uint8_t *)g[j].buf - p->data) };
	p->dlen = off;
	p->sorted = false;
	/* each request: what its read brought, in its buffer */
	for (int i = 0; i < n; i++) {
		if (rq[i].result != -EAGAIN || !rq[i].len)
			continue;
		const struct target_read *q = &g[grp[i]];
		rq[i].result = q->result;
		if (q->result == 0 && rq[i].buf)
			memcpy(rq[i].buf, (const uint8_t *)q->buf + (rq[i].addr - q->addr), rq[i].len);
	}
	r = 0;
out:
	free(idx);
	free(grp);
	free(g);
	return r;
}

/* In the sorted plan: the first entry starting above @addr (p->n when none). */
static size_t plan_upper(const struct kplan *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->e[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int kernel_plan_note(struct kvmdci_kernel *k, uint64_t addr, const void *buf, size_t len)
{
	struct target_read rq = { .addr = addr, .len = len, .result = 0 };
	struct kplan *p = &k->plan;

	if (!len || !kernel_plan_enabled(k))
		return 0;
	cache_sync_generation(k);
	if (p->epoch != k->cache_epoch) {
		p->n = p->dlen = 0;
		p->epoch = k->cache_epoch;
	}
	if (plan_reserve(p, 1, len) < 0)
		return -ENOMEM;
	memcpy(p->data + p->dlen, buf, len);
	/* a chain's links arrive one by one, each looked up before the next is noted: kept
	 * sorted by inserting in place (one memmove), not by sorting the plan for every link */
	size_t at = p->n;
	if (p->sorted) {
		at = plan_upper(p, addr);
		memmove(p->e + at + 1, p->e + at, (p->n - at) * sizeof(*p->e));
	}
	p->e[at] = (struct kplan_entry){ .addr = rq.addr, .len = len, .off = p->dlen };
	p->n++;
	p->dlen += len;
	return 0;
}

/* Answer [addr, addr+len) from the planned reads of this stop; false when not all there. */
static bool plan_lookup(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len)
{
	struct kplan *p = &k->plan;

	if (!p->n || p->epoch != k->cache_epoch || k->cache_tgen != target_generation(k->target))
		return false;
	if (!p->sorted) {
		qsort(p->e, p->n, sizeof(*p->e), plan_cmp);
		p->sorted = true;
	}
	/* the last entry starting at or below addr, and a few before it (overlaps) */
	size_t lo = plan_upper(p, addr);
	for (size_t i = lo; i > 0 && lo - i < 4; i--) {
		const struct kplan_entry *e = &p->e[i - 1];
		if (addr - e->addr <= e->len && len <= e->len - (addr - e->addr)) {
			memcpy(buf, p->data + e->off + (addr - e->addr), len);
			return true;
		}
	}
	return false;
}

KVMDCI_EXPORT int kvmdci_kernel_read(struct kvmdci_kernel *k, uint64_t addr, void *buf,
				     size_t len)
{
	KVMDCI_API_ENTRY(k->ctx);
	int r;

	kernel_notice_stop(k);
	if (k->snap && addr >= k->snap_addr && addr - k->snap_addr < k->snap_len) {
		size_t off = (size_t)(addr - k->snap_addr);
		size_t n = len < k->snap_len - off ? len : k->snap_len - off;
		memcpy(buf, k->snap + off, n);
		if (n == len)
			return 0;
		addr += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	if (k->plan.n && len && plan_lookup(k, addr, buf, len))
		return 0;
	/* kernel half only (the same in every CPU's paging), small reads only (a big one is
	 * a single read anyway and would evict what the walks come back to) */
	if (len && len < KCACHE_PAGE && (addr >> 63) && addr + len - 1 >= addr && cache_on(k)) {
		uint64_t g = target_generation(k->target);
		if (g != k->cache_tgen) {
			k->cache_tgen = g;
			k->cache_epoch++;
		}
		r = read_cached(k, addr, buf, len);
	} else {
		r = read_uncached(k, addr, buf, len);
	}
	if (r == -EFAULT)
		kvmdci_set_error(k->ctx, "cannot read kernel memory at 0x%llx (%zu bytes)",
				 (unsigned long long)addr, len);
	return r;
}

KVMDCI_EXPORT int kvmdci_kernel_read_u64(struct kvmdci_kernel *k, uint64_t addr, uint64_t *val)
{
	KVMDCI_API_ENTRY(k->ctx);
	uint8_t b[8];
	int r = kvmdci_kernel_read(k, addr, b, 8);
	if (r == 0)
		*val = le64(b);
	return r;
}

/* Kept for callers of 0.1: the kernel view notices stops itself (kernel_notice_stop). */
KVMDCI_EXPORT void kvmdci_kernel_note_stop(struct kvmdci_kernel *k, const struct kvmdci_stop *stop)
{
	(void)stop;
	kernel_notice_stop(k);
}

void kernel_use_reader(struct kvmdci_kernel *k, int cpu)
{
	kernel_notice_stop(k);
	k->cache_epoch++;
	k->reader = cpu;
	k->reader_valid = cpu >= 0;
	k->no_reader = cpu < 0;
	if (cpu >= 0)
		kernel_remember_page_root(k, cpu);
}


KVMDCI_EXPORT int kvmdci_kernel_virt_to_phys(struct kvmdci_kernel *k, uint64_t addr,
					     uint64_t *phys)
{
	KVMDCI_API_ENTRY(k->ctx);
	uint64_t pa;
	int r = kernel_virt_to_phys(k, addr, &pa);

	if (r == -ENXIO)
		kvmdci_set_error(k->ctx, "cannot translate 0x%llx: no CPU shows the host kernel's "
				 "page tables and the target carries no VMCOREINFO",
				 (unsigned long long)addr);
	else if (r == -EFAULT)
		kvmdci_set_error(k->ctx, "kernel address 0x%llx is not mapped",
				 (unsigned long long)addr);
	else if (r < 0 && !kvmdci_ctx_last_error(k->ctx)[0])
		kvmdci_set_error(k->ctx, "cannot translate 0x%llx: %s", (unsigned long long)addr,
				 strerror(-r));
	if (r < 0)
		return r;
	*phys = pa;
	return 0;
}
