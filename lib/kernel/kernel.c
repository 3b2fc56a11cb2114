// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel view of a target: vmlinux symbols (System.map or ELF .symtab), the KASLR offset
 * found in memory, loaded modules and their kallsyms read from each struct module, BTF types
 * (vmlinux + modules' split BTF), and kernel virtual reads that keep working while a CPU
 * runs a nested guest.
 *
 * Reading kernel memory: a whole-machine stub translates virtual addresses through the
 * selected CPU's current paging. A CPU stopped inside a nested guest shows the guest's
 * paging (docs/lab-facts.md, "Debugging through QEMU's gdbstub"), so reads go through a
 * "reader" CPU that was seen in the host kernel (it hit a kernel breakpoint, or linux_banner
 * reads back through it). When no CPU qualifies, reads fall back to physical mode with our
 * own 4/5-level page walk from a kernel page-table root seen earlier.
 */
#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/btf-mem.h"
#include "kernel/kallsyms.h"
#include "kernel/kernel-internal.h"
#include "target/target-internal.h"
#include "target/x86-pgwalk.h"

#define MAX_MODULES 4096
#define KASLR_ALIGN 0x200000ULL   /* CONFIG_PHYSICAL_ALIGN on x86_64 */
#define KASLR_RANGE 0x40000000ULL /* KERNEL_IMAGE_SIZE: 1 GiB */
#define MAX_KALLSYMS 200000

struct kvmdci_ctx *kvmdci_kernel_get_ctx(struct kvmdci_kernel *k)
{
	return k->ctx;
}

KVMDCI_EXPORT struct kvmdci_target *kvmdci_kernel_get_target(struct kvmdci_kernel *k)
{
	return k->target;
}

KVMDCI_EXPORT uint64_t kvmdci_kernel_kaslr_offset(struct kvmdci_kernel *k)
{
	return k->kaslr;
}

KVMDCI_EXPORT const char *kvmdci_kernel_release(struct kvmdci_kernel *k)
{
	return k->release;
}

/* ---- memory ---- */

static int phys_reader(void *data, uint64_t pa, void *buf, size_t len)
{
	return kvmdci_target_read_phys(data, pa, buf, len);
}

static int read_physwalk(struct kvmdci_kernel *k, uint64_t addr, void *buf, size_t len)
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

/* Does linux_banner read back through @cpu? Then that CPU's paging is the host kernel's. */
static int cpu_sees_kernel(struct kvmdci_kernel *k, int cpu)
{
	char b[16];

	if (kvmdci_target_read_virt(k->target, cpu, k->banner_addr, b, sizeof(b)) < 0)
		return 0;
	return !memcmp(b, k->banner, sizeof(b));
}

static void remember_page_root(struct kvmdci_kernel *k, int cpu)
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

	if (k->reader >= 0 && cpu_sees_kernel(k, k->reader)) {
		k->reader_valid = true;
		return 0;
	}
	for (int cpu = 0; cpu < n; cpu++)
		if (cpu != k->reader && cpu_sees_kernel(k, cpu)) {
			k->reader = cpu;
			k->reader_valid = true;
			if (!k->have_kcr3)
				remember_page_root(k, cpu);
			return 0;
		}
	k->reader_valid = false;
	return -ENXIO;
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
		return read_physwalk(k, addr, buf, len);
	}
	return kvmdci_target_read_virt(k->target, k->reader, addr, buf, len);
}

int kernel_read_many(struct kvmdci_kernel *k, struct target_read *rq, int n)
{
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
 * Entries are valid for one epoch: kvmdci_kernel_note_stop() and any move of the target's
 * generation (resume, step, wait, detach) start the next one, in O(1).
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

KVMDCI_EXPORT int kvmdci_kernel_read(struct kvmdci_kernel *k, uint64_t addr, void *buf,
				     size_t len)
{
	KVMDCI_API_ENTRY(k->ctx);
	int r;

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

KVMDCI_EXPORT void kvmdci_kernel_note_stop(struct kvmdci_kernel *k, const struct kvmdci_stop *stop)
{
	k->cache_epoch++; /* a new stop: what the cache holds is from before */
	/* a CPU that stopped on a kernel breakpoint/watchpoint is in the host kernel */
	if (stop && stop->cpu >= 0 &&
	    (stop->reason == KVMDCI_STOP_BREAKPOINT || stop->reason == KVMDCI_STOP_WATCHPOINT)) {
		k->reader = stop->cpu;
		k->reader_valid = true;
		return;
	}
	k->reader_valid = false;
	k->no_reader = false;
}

void kernel_set_reader(struct kvmdci_kernel *k, int cpu)
{
	k->cache_epoch++;
	k->reader = cpu;
	k->reader_valid = true;
}

void kernel_use_reader(struct kvmdci_kernel *k, int cpu)
{
	k->cache_epoch++;
	k->reader = cpu;
	k->reader_valid = cpu >= 0;
	k->no_reader = cpu < 0;
	if (cpu >= 0)
		remember_page_root(k, cpu);
}

/* ---- KASLR ---- */

bool kernel_vmcoreinfo_value(const char *vmci, const char *key, int base, uint64_t *val)
{
	size_t kl = strlen(key);
	for (const char *p = vmci; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			char *end;
			errno = 0;
			*val = strtoull(p + kl + 1, &end, base);
			return !errno && end != p + kl + 1;
		}
	return false;
}

static bool banner_at(struct kvmdci_kernel *k, int cpu, uint64_t addr)
{
	char b[14];
	int r = cpu >= 0 ? kvmdci_target_read_virt(k->target, cpu, addr, b, sizeof(b))
			 : read_physwalk(k, addr, b, sizeof(b));
	return r == 0 && !memcmp(b, "Linux version ", sizeof(b));
}

static void found(struct kvmdci_kernel *k, uint64_t off, uint64_t linked_banner, int cpu)
{
	k->kaslr = off;
	k->banner_addr = linked_banner + off;
	k->reader = cpu;
	k->reader_valid = cpu >= 0;
	if (cpu >= 0)
		remember_page_root(k, cpu);
	else
		k->no_reader = true;
}

int kernel_vmcoreinfo_pgt(struct kvmdci_kernel *k)
{
	const char *vmci = target_vmcoreinfo(k->target);
	uint64_t pgt, phys_base, l5 = 0;

	/* __pa_symbol(): vaddr - __START_KERNEL_map (x86-64 ABI) + phys_base */
	if (!vmci || !kernel_vmcoreinfo_value(vmci, "SYMBOL(init_top_pgt)", 16, &pgt) ||
	    !kernel_vmcoreinfo_value(vmci, "NUMBER(phys_base)", 10, &phys_base))
		return -ENOENT;
	kernel_vmcoreinfo_value(vmci, "NUMBER(pgtable_l5_enabled)", 10, &l5);
	k->kcr3 = pgt - 0xffffffff80000000ULL + phys_base;
	k->la57 = l5 != 0;
	k->have_kcr3 = true;
	return 0;
}

static int fail_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner);

/* linux_banner through each CPU at every KASLR step. */
static int scan_banner(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	int n = kvmdci_target_cpu_count(k->target);

	for (int cpu = 0; cpu < n; cpu++)
		for (uint64_t off = 0; off < KASLR_RANGE; off += KASLR_ALIGN)
			if (banner_at(k, cpu, linked_banner + off)) {
				found(k, off, linked_banner, cpu);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how),
					 "linux_banner found through CPU %d", cpu);
				return 0;
			}
	return -ENOENT;
}

/* Does some CPU run in the upper (kernel) half? Not one in a nested guest or user space. */
static bool some_cpu_in_kernel_half(struct kvmdci_kernel *k)
{
	static const char *const rip[] = { "rip" };
	int n = kvmdci_target_cpu_count(k->target);

	for (int cpu = 0; cpu < n; cpu++) {
		uint64_t v;
		if (kvmdci_target_regs_read(k->target, cpu, rip, &v, 1) == 0 && (v >> 63))
			return true;
	}
	return false;
}

/*
 * The KASLR offset: VMCOREINFO's KERNELOFFSET when the target carries it (a dump), else
 * found by reading linux_banner through each CPU at every 2 MiB step below 1 GiB. When no
 * CPU's paging shows the host kernel (all in nested guests at dump time), VMCOREINFO's
 * init_top_pgt and phys_base give the kernel page tables for our own walk.
 */
static int find_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	const char *vmci = target_vmcoreinfo(k->target);
	int n = kvmdci_target_cpu_count(k->target);
	uint64_t off;

	if (vmci && kernel_vmcoreinfo_value(vmci, "KERNELOFFSET", 16, &off)) {
		for (int cpu = 0; cpu < n; cpu++)
			if (banner_at(k, cpu, linked_banner + off)) {
				found(k, off, linked_banner, cpu);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how), "VMCOREINFO KERNELOFFSET");
				return 0;
			}
		if (kernel_vmcoreinfo_pgt(k) == 0) {
			if (banner_at(k, -1, linked_banner + off)) {
				kvmdci_info(k->ctx, "no CPU shows the host kernel's paging; reading "
						    "through init_top_pgt from VMCOREINFO");
				found(k, off, linked_banner, -1);
				snprintf(k->kaslr_how, sizeof(k->kaslr_how), "VMCOREINFO KERNELOFFSET");
				return 0;
			}
		}
		kvmdci_warn(k->ctx, "VMCOREINFO's KERNELOFFSET 0x%llx does not match the symbols; "
				    "searching", (unsigned long long)off);
	}
	if (scan_banner(k, linked_banner) == 0)
		return 0;
	/*
	 * On a busy host every CPU may be in a nested guest (or user space) at the moment of
	 * the attach (seen on the lab with 2 busy vCPUs, about 1 attach in 40): let the machine
	 * run a moment until a CPU is in the kernel half, up to 40 times, and look once more.
	 * When a CPU was in the kernel half already, the symbols do not match: no retry.
	 */
	for (int i = 0; i < 40 && target_has_run_control(k->target) &&
			!some_cpu_in_kernel_half(k); i++) {
		struct kvmdci_stop st;
		if (i == 0)
			kvmdci_info(k->ctx, "no CPU shows the host kernel now; letting %s run a moment",
				    kvmdci_target_get_uri(k->target));
		if (kvmdci_target_resume(k->target) < 0 ||
		    kvmdci_target_wait(k->target, 5 + 5 * i, &st) < 0 ||
		    target_halt(k->target, &st) < 0)
			break;
		if (some_cpu_in_kernel_half(k))
			return scan_banner(k, linked_banner) == 0 ? 0 : fail_kaslr(k, linked_banner);
	}
	return fail_kaslr(k, linked_banner);
}

static int fail_kaslr(struct kvmdci_kernel *k, uint64_t linked_banner)
{
	kvmdci_err(k->ctx, "linux_banner (linked at 0x%llx) not found in the memory of any CPU of %s "
			   "at any KASLR offset: does the System.map match the running kernel, and is "
			   "a CPU in the host kernel?",
		   (unsigned long long)linked_banner, kvmdci_target_get_uri(k->target));
	return -ENOENT;
}

/* ---- types ---- */

int kernel_type(struct kvmdci_kernel *k, const char *module, const char *type, struct btf **btf,
		int32_t *id)
{
	if (ktypes_find(&k->types, module, type, btf, id) == 0)
		return 0;
	kvmdci_set_error(k->ctx, "type info: no %s%s%s in %s", type, module ? " in module " : "",
			 module ? module : "", k->types.vmlinux_path);
	return -ENOENT;
}

int kernel_member(struct kvmdci_kernel *k, const char *module, const char *type, const char *path,
		  struct ktypes_loc *loc)
{
	struct btf *btf;
	int32_t id;
	int r = kernel_type(k, module, type, &btf, &id);

	if (r < 0)
		return r;
	r = ktypes_resolve_path(btf, id, path, loc);
	if (r < 0)
		kvmdci_set_error(k->ctx, "type info: %s has no member %s", type, path);
	return r;
}

KVMDCI_EXPORT int kvmdci_kernel_type_size(struct kvmdci_kernel *k, const char *module,
					  const char *type, uint64_t *size)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct btf *btf;
	int32_t id;
	int r = kernel_type(k, module, type, &btf, &id);

	if (r < 0)
		return r;
	long s = ktypes_size(btf, id);
	if (s < 0)
		return -EINVAL;
	*size = (uint64_t)s;
	return 0;
}

KVMDCI_EXPORT int kvmdci_kernel_member(struct kvmdci_kernel *k, const char *module,
				       const char *type, const char *path,
				       struct kvmdci_member *member)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct ktypes_loc loc;
	int r = kernel_member(k, module, type, path, &loc);

	if (r < 0)
		return r;
	memset(member, 0, sizeof(*member));
	member->bit_offset = loc.bit_offset;
	member->bitfield_size = loc.bitfield_size;
	member->size = loc.size;
	return 0;
}

/* ---- modules ---- */

static int member_off(struct kvmdci_kernel *k, const char *type, const char *path, uint64_t *off)
{
	struct ktypes_loc loc;
	int r = kernel_member(k, NULL, type, path, &loc);
	if (r < 0) {
		kvmdci_err(k->ctx, "%s", kvmdci_ctx_last_error(k->ctx));
		return r;
	}
	*off = loc.bit_offset / 8;
	return 0;
}

struct kmodule *kernel_module(struct kvmdci_kernel *k, const char *name)
{
	for (int i = 0; i < k->nmods; i++)
		if (!strcmp(k->mods[i].name, name))
			return &k->mods[i];
	return NULL;
}

KVMDCI_EXPORT int kvmdci_kernel_has_module(struct kvmdci_kernel *k, const char *module)
{
	return kernel_module(k, module) != NULL;
}

static int walk_modules(struct kvmdci_kernel *k)
{
	uint64_t head, off_list, off_name, next;
	int r;

	if (symtab_lookup(&k->vsyms, "modules", &head, 0) < 0) {
		kvmdci_err(k->ctx, "symbol 'modules' not in the kernel's symbols");
		return -ENOENT;
	}
	head += k->kaslr;
	if ((r = member_off(k, "struct module", "list", &off_list)) < 0 ||
	    (r = member_off(k, "struct module", "name", &off_name)) < 0)
		return r;
	if ((r = kvmdci_kernel_read_u64(k, head, &next)) < 0) {
		kvmdci_err(k->ctx, "cannot read the module list head at 0x%llx",
			   (unsigned long long)head);
		return r;
	}
	while (next != head) {
		if (k->nmods >= MAX_MODULES) {
			kvmdci_err(k->ctx, "module list at 0x%llx: more than %d entries (a cycle?)",
				   (unsigned long long)head, MAX_MODULES);
			return -ELOOP;
		}
		uint64_t mod = next - off_list;
		struct kmodule *m = &k->mods[k->nmods];
		memset(m, 0, sizeof(*m));
		if ((r = kvmdci_kernel_read(k, mod + off_name, m->name, sizeof(m->name) - 1)) < 0) {
			kvmdci_err(k->ctx, "cannot read struct module at 0x%llx (module list)",
				   (unsigned long long)mod);
			return r;
		}
		m->name[sizeof(m->name) - 1] = '\0';
		m->addr = mod;
		k->nmods++;
		if ((r = kvmdci_kernel_read_u64(k, next, &next)) < 0) {
			kvmdci_err(k->ctx, "cannot follow the module list at 0x%llx",
				   (unsigned long long)next);
			return r;
		}
	}
	kvmdci_info(k->ctx, "%d modules loaded", k->nmods);
	return 0;
}

/* Read a module's own kallsyms (struct module.kallsyms -> mod_kallsyms) from target memory. */
int kernel_module_load_syms(struct kvmdci_kernel *k, struct kmodule *m)
{
	uint64_t off_kallsyms, off_symtab, off_num, off_strtab, ks, symtab, strtab, num64;
	uint32_t num;
	int r;

	if (m->syms_loaded)
		return 0;
	if ((r = member_off(k, "struct module", "kallsyms", &off_kallsyms)) < 0 ||
	    (r = member_off(k, "struct mod_kallsyms", "symtab", &off_symtab)) < 0 ||
	    (r = member_off(k, "struct mod_kallsyms", "num_symtab", &off_num)) < 0 ||
	    (r = member_off(k, "struct mod_kallsyms", "strtab", &off_strtab)) < 0)
		return r;
	if ((r = kvmdci_kernel_read_u64(k, m->addr + off_kallsyms, &ks)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, ks + off_symtab, &symtab)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, ks + off_num, &num64)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, ks + off_strtab, &strtab)) < 0) {
		kvmdci_err(k->ctx, "cannot read the kallsyms of module %s (struct module at 0x%llx)",
			   m->name, (unsigned long long)m->addr);
		return r;
	}
	num = (uint32_t)num64;
	if (num == 0 || num > MAX_KALLSYMS) {
		kvmdci_err(k->ctx, "module %s: implausible kallsyms count %u at 0x%llx", m->name,
			   num, (unsigned long long)ks);
		return -EINVAL;
	}
	size_t symsz = (size_t)num * 24; /* Elf64_Sym */
	uint8_t *syms = malloc(symsz);
	if (!syms)
		return -ENOMEM;
	if ((r = kvmdci_kernel_read(k, symtab, syms, symsz)) < 0) {
		kvmdci_err(k->ctx, "cannot read %u kallsyms of module %s at 0x%llx", num, m->name,
			   (unsigned long long)symtab);
		free(syms);
		return r;
	}
	uint32_t maxname = 0;
	for (uint32_t i = 0; i < num; i++)
		if (le32(syms + i * 24) > maxname)
			maxname = le32(syms + i * 24);
	if (maxname > 16 * 1024 * 1024) {
		kvmdci_err(k->ctx, "module %s: implausible kallsyms string table", m->name);
		free(syms);
		return -EINVAL;
	}
	size_t strsz = maxname + 256;
	char *str = calloc(1, strsz + 1);
	if (!str) {
		free(syms);
		return -ENOMEM;
	}
	/* the last name may end near an unmapped page: read its tail in small pieces */
	r = kvmdci_kernel_read(k, strtab, str, maxname);
	for (size_t o = maxname; r == 0 && o < strsz; o += 32)
		if (kvmdci_kernel_read(k, strtab + o, str + o, 32) < 0 || memchr(str + o, 0, 32))
			break;
	if (r < 0) {
		kvmdci_err(k->ctx, "cannot read the kallsyms strings of module %s at 0x%llx",
			   m->name, (unsigned long long)strtab);
		free(syms);
		free(str);
		return r;
	}
	for (uint32_t i = 0; i < num; i++) {
		uint32_t nm = le32(syms + i * 24);
		uint8_t info = syms[i * 24 + 4];
		uint64_t value = le64(syms + i * 24 + 8);
		if (!nm || nm >= strsz || !value)
			continue;
		const char *s = str + nm;
		size_t len = strnlen(s, strsz - nm);
		char type = (info & 0xf) == 2 ? 't' : 'd';
		if ((r = symtab_add(&m->syms, s, len, value, type)) < 0)
			break;
	}
	free(syms);
	free(str);
	if (r < 0)
		return r;
	symtab_sort(&m->syms);
	m->syms_loaded = 1;
	m->syms_src = (struct ksource){ .kind = KVMDCI_SOURCE_MEMORY, .format = "module kallsyms",
					.addr = ks, .count = m->syms.n };
	kvmdci_info(k->ctx, "module %s: %zu symbols from its kallsyms", m->name, m->syms.n);
	return 0;
}

static void file_source(struct ksource *s, const char *format, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->kind = KVMDCI_SOURCE_FILE;
	snprintf(s->format, sizeof(s->format), "%s", format);
	snprintf(s->path, sizeof(s->path), "%.511s", path);
}

/* Load a module's split BTF from the modules directory (name with '_' or '-'). */
static void load_module_btf(struct kvmdci_kernel *k, const char *name)
{
	char path[1024], dashed[64];

	if (!k->modules_dir[0])
		return;
	snprintf(dashed, sizeof(dashed), "%s", name);
	for (char *p = dashed; *p; p++)
		if (*p == '_')
			*p = '-';
	const char *cands[2] = { dashed, name };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.ko", k->modules_dir, cands[i]);
		if (access(path, R_OK) == 0) {
			if (ktypes_add_module(k->ctx, &k->types, name, path) == 0) {
				struct kmodule *m = kernel_module(k, name);
				kvmdci_info(k->ctx, "types of module %s from %s", name, path);
				if (m)
					file_source(&m->types_src, ktypes_source_name(&k->types, name), path);
			}
			return;
		}
	}
	kvmdci_warn(k->ctx, "no %s.ko in %s: its types are unknown", dashed, k->modules_dir);
}

KVMDCI_EXPORT int kvmdci_kernel_symbol(struct kvmdci_kernel *k, const char *name, uint64_t *addr)
{
	KVMDCI_API_ENTRY(k->ctx);
	const char *colon = strchr(name, ':');
	uint64_t a;

	if (colon) {
		char mod[64];
		size_t n = (size_t)(colon - name);
		if (n >= sizeof(mod))
			return -EINVAL;
		memcpy(mod, name, n);
		mod[n] = '\0';
		if (!strcmp(mod, "vmlinux") || !strcmp(mod, "lk")) {
			if (symtab_lookup(&k->vsyms, colon + 1, &a, 1) < 0)
				return -ENOENT;
			*addr = a + k->kaslr;
			return 0;
		}
		struct kmodule *m = kernel_module(k, mod);
		if (!m) {
			kvmdci_set_error(k->ctx, "module %s is not loaded on the target", mod);
			return -ENODEV;
		}
		if (kernel_module_load_syms(k, m) < 0)
			return -EIO;
		if (symtab_lookup(&m->syms, colon + 1, addr, 1) < 0) {
			kvmdci_set_error(k->ctx, "no symbol %s in module %s", colon + 1, mod);
			return -ENOENT;
		}
		return 0;
	}
	if (symtab_lookup(&k->vsyms, name, &a, 1) == 0) {
		*addr = a + k->kaslr;
		return 0;
	}
	for (int i = 0; i < k->nmods; i++)
		if (k->mods[i].syms_loaded && symtab_lookup(&k->mods[i].syms, name, addr, 1) == 0)
			return 0;
	kvmdci_set_error(k->ctx, "no symbol %s", name);
	return -ENOENT;
}

static const char *env_or(struct kvmdci_ctx *ctx, const char *v, enum kvmdci_tunable t)
{
	if (v)
		return v;
	v = kvmdci_ctx_get_tunable(ctx, t);
	return v && *v ? v : NULL;
}

/* vmlinux symbols from the files given, else from the kernel's kallsyms in memory. */
static int load_symbols(struct kvmdci_kernel *k, const char *vmlinux, const char *sysmap)
{
	struct kallsyms_tables t;
	uint64_t banner;
	int r;

	if (sysmap) {
		if ((r = symtab_load_system_map(k->ctx, &k->vsyms, sysmap)) < 0)
			return r;
		file_source(&k->syms_src, "System.map", sysmap);
	} else if (vmlinux && (r = symtab_load_elf(k->ctx, &k->vsyms, vmlinux)) != -ENOENT) {
		if (r < 0)
			return r;
		file_source(&k->syms_src, "ELF symtab", vmlinux);
	} else {
		if (vmlinux)
			kvmdci_info(k->ctx, "%s has no symbol table: reading the kernel's kallsyms",
				    vmlinux);
		if ((r = kallsyms_load(k, &t)) < 0)
			return r;
		k->syms_src = (struct ksource){ .kind = KVMDCI_SOURCE_MEMORY, .format = "kallsyms",
						.addr = t.names, .count = t.count };
		snprintf(k->kaslr_how, sizeof(k->kaslr_how), "_text from kallsyms (%.40s)", t.how);
		if (symtab_lookup(&k->vsyms, "linux_banner", &banner, 0) < 0) {
			kvmdci_err(k->ctx, "the kernel's kallsyms (0x%llx) have no linux_banner",
				   (unsigned long long)t.names);
			return -ENOENT;
		}
		k->banner_addr = banner + k->kaslr;
		if (!banner_at(k, t.cpu, k->banner_addr)) {
			kvmdci_err(k->ctx, "linux_banner from kallsyms (0x%llx) does not read back "
					   "\"Linux version\"",
				   (unsigned long long)k->banner_addr);
			return -EINVAL;
		}
		k->syms_src.size = 0;
		kvmdci_info(k->ctx, "symbols: %llu from the kernel's kallsyms in memory "
				    "(kallsyms_names at 0x%llx, found by %s)",
			    (unsigned long long)t.count, (unsigned long long)t.names, t.how);
		return 0;
	}
	k->syms_src.count = k->vsyms.n;
	kvmdci_info(k->ctx, "symbols: %zu from %s %s", k->vsyms.n, k->syms_src.format,
		    k->syms_src.path);
	if (symtab_lookup(&k->vsyms, "linux_banner", &banner, 0) < 0) {
		kvmdci_err(k->ctx, "symbol linux_banner not found in %s", k->syms_src.path);
		return -ENOENT;
	}
	return find_kaslr(k, banner);
}

static void describe(const struct ksource *s, char *buf, size_t sz)
{
	if (s->kind == KVMDCI_SOURCE_FILE)
		snprintf(buf, sz, "%s %s", s->format, s->path);
	else if (s->kind == KVMDCI_SOURCE_MEMORY)
		snprintf(buf, sz, "%s in memory at 0x%llx", s->format, (unsigned long long)s->addr);
	else
		snprintf(buf, sz, "nowhere");
}

/* The GNU build id in a run of ELF notes; returns its length, 0 when absent. */
static size_t notes_build_id(const uint8_t *p, size_t len, uint8_t *id, size_t idsz)
{
	size_t off = 0;

	while (off + 12 <= len) {
		uint32_t namesz = le32(p + off), descsz = le32(p + off + 4), type = le32(p + off + 8);
		size_t name = off + 12, desc = name + ((namesz + 3) & ~3u);
		if (namesz > len || descsz > len || desc + descsz > len)
			break;
		if (type == 3 && namesz == 4 && !memcmp(p + name, "GNU", 4) && descsz <= idsz) {
			memcpy(id, p + desc, descsz);
			return descsz;
		}
		off = desc + ((descsz + 3) & ~3u);
	}
	return 0;
}

/* The build id of a vmlinux file (its SHT_NOTE sections), 0 when it has none. */
static size_t file_build_id(const char *path, uint8_t *id, size_t idsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t n = 0;

	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && !n && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE && (d = elf_getdata(scn, NULL)))
			n = notes_build_id(d->d_buf, d->d_size, id, idsz);
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return n;
}

/*
 * Refuse type info from a vmlinux that is not the running kernel's: compare the file's GNU
 * build id with the one in the target's memory (__start_notes .. __stop_notes). Offsets from
 * another build would silently decode garbage. $KVMDCI_FORCE=1 skips the check.
 */
static int check_build_id(struct kvmdci_kernel *k, const char *vmlinux)
{
	uint8_t fid[64], tid[64], notes[4096];
	uint64_t start, stop;
	size_t fn, tn;
	char fh[130], th[130];
	const char *force = kvmdci_ctx_get_tunable(k->ctx, KVMDCI_TUNABLE_FORCE);

	fn = file_build_id(vmlinux, fid, sizeof(fid));
	if (!fn || kvmdci_kernel_symbol(k, "__start_notes", &start) < 0 ||
	    kvmdci_kernel_symbol(k, "__stop_notes", &stop) < 0 || stop <= start ||
	    stop - start > sizeof(notes) || kvmdci_kernel_read(k, start, notes, stop - start) < 0)
		return 0; /* nothing to compare: no complaint */
	tn = notes_build_id(notes, stop - start, tid, sizeof(tid));
	if (!tn || (tn == fn && !memcmp(fid, tid, fn)))
		return 0;
	for (size_t i = 0; i < fn; i++)
		snprintf(fh + 2 * i, 3, "%02x", fid[i]);
	for (size_t i = 0; i < tn; i++)
		snprintf(th + 2 * i, 3, "%02x", tid[i]);
	if (force && !strcmp(force, "1")) {
		kvmdci_warn(k->ctx, "%s (build id %s) is not the running kernel (build id %s); "
				    "used anyway (KVMDCI_FORCE=1)", vmlinux, fh, th);
		return 0;
	}
	kvmdci_err(k->ctx, "%s does not match the running kernel %s: build id %s, the target's "
			   "is %s; give that kernel's vmlinux (or KVMDCI_FORCE=1 to use it anyway)",
		   vmlinux, k->release, fh, th);
	return -EINVAL;
}

KVMDCI_EXPORT int kvmdci_kernel_open(struct kvmdci_target *t, const struct kvmdci_kernel_files *f,
				     struct kvmdci_kernel **ret)
{
	KVMDCI_API_ENTRY(kvmdci_target_get_ctx(t));
	struct kvmdci_ctx *ctx = kvmdci_target_get_ctx(t);
	struct kvmdci_kernel *k;
	const char *vmlinux, *sysmap, *mods;
	int r;

	vmlinux = env_or(ctx, f ? f->vmlinux : NULL, KVMDCI_TUNABLE_VMLINUX);
	sysmap = env_or(ctx, f ? f->system_map : NULL, KVMDCI_TUNABLE_SYSTEM_MAP);
	mods = env_or(ctx, f ? f->modules : NULL, KVMDCI_TUNABLE_MODULES);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->mods = calloc(MAX_MODULES, sizeof(*k->mods));
	if (!k->mods) {
		free(k);
		return -ENOMEM;
	}
	k->refcount = 1;
	k->ctx = kvmdci_ctx_ref(ctx);
	k->target = kvmdci_target_ref(t);
	k->reader = -1;
	k->cache_mode = -1;
	k->cache_epoch = 1; /* a zeroed cache entry (epoch 0) is never valid */
	if (mods)
		snprintf(k->modules_dir, sizeof(k->modules_dir), "%s", mods);

	/* files given take precedence; whatever is missing comes from the target's memory */
	if ((r = load_symbols(k, vmlinux, sysmap)) < 0)
		goto fail;
	char b[256] = { 0 };
	if (kvmdci_kernel_read(k, k->banner_addr, b, sizeof(b) - 1) == 0) {
		memcpy(k->banner, b, sizeof(k->banner));
		sscanf(b, "Linux version %127s", k->release);
	}
	kvmdci_info(ctx, "kernel %s, KASLR offset 0x%llx (found through CPU %d)", k->release,
		    (unsigned long long)k->kaslr, k->reader);
	if (vmlinux) {
		if ((r = check_build_id(k, vmlinux)) < 0 ||
		    (r = ktypes_load_vmlinux(ctx, &k->types, vmlinux)) < 0)
			goto fail;
		file_source(&k->types_src, ktypes_source_name(&k->types, NULL), vmlinux);
		k->types_src.count = btf__type_cnt(k->types.vmlinux) - 1;
	} else if ((r = btf_mem_load_vmlinux(k)) < 0) {
		goto fail;
	}
	if ((r = walk_modules(k)) < 0)
		goto fail;
	static const char *const kvm_mods[] = { "kvm", "kvm_amd", "kvm_intel" };
	for (size_t i = 0; i < ARRAY_SIZE(kvm_mods); i++) {
		struct kmodule *m = kernel_module(k, kvm_mods[i]);
		if (!m)
			continue;
		if ((r = kernel_module_load_syms(k, m)) < 0)
			goto fail;
		if (k->modules_dir[0])
			load_module_btf(k, kvm_mods[i]);
		else
			btf_mem_load_module(k, m); /* a warning when absent: the tool says what */
	}
	char ds[600], dt[600];
	describe(&k->syms_src, ds, sizeof(ds));
	describe(&k->types_src, dt, sizeof(dt));
	kvmdci_info(ctx, "kernel knowledge: %s, symbols from %s, types from %s, KASLR 0x%llx by %s, "
			 "module types from %s",
		    k->release, ds, dt, (unsigned long long)k->kaslr, k->kaslr_how,
		    k->modules_dir[0] ? k->modules_dir : "memory");
	*ret = k;
	return 0;
fail:
	kvmdci_kernel_unref(k);
	return r;
}

static void export_source(const struct ksource *s, struct kvmdci_kernel_source *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = s->kind;
	out->format = s->kind ? s->format : NULL;
	out->path = s->kind == KVMDCI_SOURCE_FILE ? s->path : NULL;
	out->addr = s->addr;
	out->size = s->size;
	out->count = s->count;
}

KVMDCI_EXPORT int kvmdci_kernel_symbols_source(struct kvmdci_kernel *k, const char *module,
					       struct kvmdci_kernel_source *src)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct kmodule *m = module ? kernel_module(k, module) : NULL;

	if (module && !m)
		return -ENODEV;
	export_source(m ? &m->syms_src : &k->syms_src, src);
	return 0;
}

KVMDCI_EXPORT int kvmdci_kernel_types_source(struct kvmdci_kernel *k, const char *module,
					     struct kvmdci_kernel_source *src)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct kmodule *m = module ? kernel_module(k, module) : NULL;

	if (module && !m)
		return -ENODEV;
	export_source(m ? &m->types_src : &k->types_src, src);
	return 0;
}

KVMDCI_EXPORT const char *kvmdci_kernel_kaslr_source(struct kvmdci_kernel *k)
{
	return k->kaslr_how;
}

KVMDCI_EXPORT int kvmdci_kernel_module_count(struct kvmdci_kernel *k)
{
	return k->nmods;
}

KVMDCI_EXPORT int kvmdci_kernel_module(struct kvmdci_kernel *k, int i, const char **name,
				       uint64_t *addr)
{
	KVMDCI_API_ENTRY(k->ctx);
	if (i < 0 || i >= k->nmods)
		return -ERANGE;
	if (name)
		*name = k->mods[i].name;
	if (addr)
		*addr = k->mods[i].addr;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_kernel *kvmdci_kernel_ref(struct kvmdci_kernel *k)
{
	if (k)
		k->refcount++;
	return k;
}

KVMDCI_EXPORT struct kvmdci_kernel *kvmdci_kernel_unref(struct kvmdci_kernel *k)
{
	if (!k || --k->refcount > 0)
		return NULL;
	for (int i = 0; i < k->nmods; i++)
		symtab_free(&k->mods[i].syms);
	free(k->mods);
	symtab_free(&k->vsyms);
	ktypes_free(&k->types);
	if (k->cache_stats.hits + k->cache_stats.fills)
		kvmdci_dbg(k->ctx, "read cache: %llu hits, %llu page fills (%llu failed), %llu exact reads",
			   (unsigned long long)k->cache_stats.hits,
			   (unsigned long long)k->cache_stats.fills,
			   (unsigned long long)k->cache_stats.fill_failures,
			   (unsigned long long)k->cache_stats.exact);
	free(k->cache);
	kvmdci_target_unref(k->target);
	kvmdci_ctx_unref(k->ctx);
	free(k);
	return NULL;
}
