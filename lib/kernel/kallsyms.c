// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmlinux symbols with no System.map and no vmlinux: the kernel's own kallsyms tables
 * (kernel/kallsyms.c; written at build time by scripts/kallsyms.c) decoded from target memory.
 *
 * The tables, each 8-byte aligned (scripts/kallsyms.c: ALGN is .balign 8 on 64-bit):
 *   kallsyms_num_syms      u32 (in an 8-byte slot)
 *   kallsyms_names         per symbol: a length byte (two bytes when its top bit is set: "big
 *                          symbols", kernels >= 6.1), then that many token bytes; the first
 *                          character of the expansion is the symbol's type (T, t, D, ...)
 *   kallsyms_markers       u32: offset in names of every 256th symbol
 *   kallsyms_token_table   256 NUL-terminated strings
 *   kallsyms_token_index   256 u16: offset of each token in the table
 *   kallsyms_offsets       s32 per symbol, in address order
 *   kallsyms_relative_base u64
 * 6.2+ adds kallsyms_seqs_of_names (the name order, for a binary search by name); we do not need
 * it, as we build our own sorted table, and we never assume where it sits.
 *
 * Where they are:
 * - VMCOREINFO (dumps): kernels >= 6.0 export SYMBOL(kallsyms_names), _num_syms, _token_table,
 *   _token_index, _offsets, _relative_base there as runtime addresses (kernel/crash_core.c,
 *   commit 5fd8fea935a1 "vmcoreinfo: include kallsyms symbols").
 * - Otherwise a scan of the kernel image in memory, following vmlinux-to-elf's method
 *   (vmlinux_to_elf/kallsyms_finder.py, find_kallsyms_token_table and onwards): every byte value
 *   that occurs in symbol names stays a one-character token at its own index
 *   (scripts/kallsyms.c, insert_real_symbols_in_table), so the token table holds "0\0" "1\0" ...
 *   "9\0" in a row; token_index, 256 increasing u16 starting at 0, follows the table and pins its
 *   start. Going back from the table: the markers (0, then one group of 256 names further each),
 *   and before them the names, preceded by num_syms; we accept them only when walking every name
 *   lands exactly on the markers and every marker matches. The other tables moved between
 *   versions (Debian's 6.1: offsets, relative_base, num_syms, names, markers, seqs_of_names,
 *   token_table, token_index; 6.12: num_syms, names, markers, token_table, token_index, offsets,
 *   relative_base, seqs_of_names; both read from System.map), so kallsyms_offsets is tried at
 *   both places and taken where its addresses come out sorted, as kallsyms keeps them.
 *   The scan starts where the tables can be: .rodata, found in the page tables of a CPU in the
 *   kernel (rodata_start(): the first non-executable 2 MiB block after _text), and reads on
 *   (pipelined, 128 KiB at a time) only as far as the tables need; the tables are then decoded
 *   from that copy, not read again (debuginfo-less attach on the lab's 6.1: 2.9 MB read where
 *   the scan from _text read 31 MB; bench/attach.sh). Without physical reads it starts at
 *   _text: from a CPU whose RIP is in the kernel mapping, its 2 MiB-aligned start (KASLR moves
 *   the kernel in CONFIG_PHYSICAL_ALIGN steps) is the lowest 2 MiB block that still reads
 *   back, as cleanup_highmap() unmaps the kernel mapping below _text.
 *
 * Addresses (kernel/kallsyms.c, kallsyms_sym_address): with CONFIG_KALLSYMS_ABSOLUTE_PERCPU
 * (x86-64 SMP before 6.15) an offset >= 0 is an absolute per-CPU address and a negative one
 * means relative_base - 1 - offset; without it every offset is relative_base + (u32)offset.
 * Decided by what is found: any negative offset means the first scheme (without it offsets are
 * below 1 GiB, the kernel image size). Debian's 7.2 has no kallsyms_relative_base: each offset
 * counts from its own place (address of kallsyms_offsets[i] + (s32)offset), and its tables
 * are 4-byte aligned (kallsyms_num_syms a u32 right before the names); taken where the
 * addresses come out sorted, as with the others.
 */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kallsyms.h"
#include "kernel/kernel-view.h"
#include "target/target-internal.h"

#define KMAP_START 0xffffffff80000000ULL /* __START_KERNEL_map */
#define KMAP_END 0xffffffffc0000000ULL   /* + KERNEL_IMAGE_SIZE (1 GiB with KASLR) */
#define LINK_TEXT 0xffffffff81000000ULL  /* _text at link time on x86-64 (PHYSICAL_START 16M) */
#define BLOCK 0x200000ULL
#define MAX_SYMS 4000000u
#define MAX_NAMES (64u << 20)
#define MAX_ENTRY 514 /* KSYM_NAME_LEN 512 + a two-byte length */
#define SCAN_MAX (160u << 20)
#define SCAN_CHUNK (128u << 10)
#define SCAN_GAP (4u << 20)   /* this much unreadable memory ends the image */
#define INDEX_REACH 0x10000   /* token_index within 64 KiB after the "0".."9" tokens */
#define BACK_REACH (48u << 20) /* markers and names within 48 MiB before the token table */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static bool in_kmap(uint64_t a)
{
	return a >= KMAP_START && a < KMAP_END;
}

/* x rounded up to @al (a power of two) */
static size_t align_to(size_t x, size_t al)
{
	return (x + al - 1) & ~(al - 1);
}

/* ---- decoding ---- */

/* Is @ti a token index for the table at @tt (@tt_len bytes)? Each token must end exactly where
 * the next one starts. */
static bool valid_index(const uint8_t *ti, const uint8_t *tt, size_t tt_len)
{
	if (rd16(ti) != 0)
		return false;
	for (int i = 0; i < 256; i++) {
		size_t off = rd16(ti + 2 * i);
		size_t next = i < 255 ? rd16(ti + 2 * i + 2) : tt_len;
		if (i < 255 && next <= off)
			return false;
		if (next > tt_len)
			return false;
		const uint8_t *z = memchr(tt + off, 0, next - off);
		if (!z || (i < 255 && z != tt + next - 1))
			return false;
	}
	return true;
}

/* Length and header size of the names entry at @p (@left bytes there); false when malformed. */
static bool entry_len(const uint8_t *p, size_t left, size_t *len, size_t *hdr)
{
	if (left < 1)
		return false;
	*len = p[0];
	*hdr = 1;
	if (p[0] & 0x80) {
		if (left < 2)
			return false;
		*len = (p[0] & 0x7f) | (size_t)p[1] << 7;
		*hdr = 2;
	}
	return *len > 0 && *hdr + *len <= left;
}

struct decoded {
	const uint8_t *names, *tt, *ti, *offs;
	size_t names_len, tt_len;
	uint32_t n;
	uint64_t relbase;
	/* no relative_base (Debian's 7.2): each offset counts from its own slot, at
	 * offs_addr + 4 * i (runtime address of kallsyms_offsets[i]) */
	bool pcrel;
	uint64_t offs_addr;
};

static bool any_negative(const struct decoded *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		if ((int32_t)le32(d->offs + 4 * (size_t)i) < 0)
			return true;
	return false;
}

static uint64_t sym_addr(const struct decoded *d, uint32_t i, bool abs_percpu)
{
	int32_t o = (int32_t)le32(d->offs + 4 * (size_t)i);
	if (d->pcrel)
		return d->offs_addr + 4 * (uint64_t)i + (uint64_t)(int64_t)o;
	if (!abs_percpu)
		return d->relbase + (uint32_t)o;
	if (o >= 0)
		return (uint64_t)o;
	return d->relbase - 1 - (uint64_t)(int64_t)o;
}

/* kallsyms keeps its symbols sorted by address: how offsets are told from other data. */
static bool addresses_sorted(const struct decoded *d)
{
	bool abs = any_negative(d);
	uint64_t prev = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		uint64_t a = sym_addr(d, i, abs);
		if (a < prev)
			return false;
		prev = a;
	}
	return in_kmap(prev);
}

/* Expand every name into @st (runtime addresses). -EINVAL with the symbol index on garbage. */
static int decode_all(const struct decoded *d, struct symtab *st, uint32_t *bad)
{
	bool abs = any_negative(d);
	size_t pos = 0;
	char name[1024];

	for (uint32_t i = 0; i < d->n; i++) {
		size_t len, hdr, nl = 0;
		*bad = i;
		if (!entry_len(d->names + pos, d->names_len - pos, &len, &hdr))
			return -EINVAL;
		const uint8_t *p = d->names + pos + hdr;
		for (size_t j = 0; j < len; j++) {
			size_t off = rd16(d->ti + 2 * p[j]);
			if (off >= d->tt_len)
				return -EINVAL;
			const uint8_t *tok = d->tt + off;
			size_t tl = strnlen((const char *)tok, d->tt_len - off);
			if (nl + tl >= sizeof(name))
				return -EINVAL;
			memcpy(name + nl, tok, tl);
			nl += tl;
		}
		pos += hdr + len;
		if (nl < 2)
			continue;
		int r = symtab_add(st, name + 1, nl - 1, sym_addr(d, i, abs), name[0]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- finding the tables in a copy of the image ---- */

/*
 * The copy of kernel memory being searched: @len bytes from virtual address @base, read on
 * demand (img_ensure) from the target through CPU @cpu, or a fixed buffer (k NULL). Every byte
 * is read once: the tables are decoded later from this copy (kallsyms_load keeps it).
 */
struct image {
	struct kvmdci_kernel *k;
	int cpu;
	uint64_t base;
	uint8_t *buf;
	size_t len, cap;
	size_t gap;	/* unreadable bytes at the end */
	bool end;	/* nothing more to read: the end of the mapping, SCAN_MAX, or an error */
	int err;	/* -ENOMEM */
};

static size_t read_chunk(struct kvmdci_kernel *k, int cpu, uint64_t a, uint8_t *buf, size_t n);

/* Read on until @upto bytes are there (or the image ends); true when they are. */
static bool img_ensure(struct image *im, size_t upto)
{
	while (im->len < upto && !im->end) {
		if (!im->k || im->len >= SCAN_MAX || im->base + im->len >= KMAP_END ||
		    im->gap >= SCAN_GAP) {
			im->end = true;
			break;
		}
		if (im->len + SCAN_CHUNK > im->cap) {
			size_t cap = im->cap ? im->cap * 2 : 32 * SCAN_CHUNK;
			uint8_t *n = realloc(im->buf, cap);
			if (!n) {
				im->err = -ENOMEM;
				im->end = true;
				break;
			}
			im->buf = n;
			im->cap = cap;
		}
		size_t ok = read_chunk(im->k, im->cpu, im->base + im->len, im->buf + im->len,
				       SCAN_CHUNK);
		im->gap = ok ? 0 : im->gap + SCAN_CHUNK;
		im->len += SCAN_CHUNK;
	}
	return im->len >= upto;
}

/* The names walk: N entries from @s must end at @q (markers, 8-aligned) and match markers. */
static bool names_match(const uint8_t *img, size_t s, size_t q, uint32_t n, uint32_t m,
			size_t al)
{
	size_t pos = s;
	for (uint32_t i = 0; i < n; i++) {
		size_t len, hdr;
		if ((i & 255) == 0 && le32(img + q + 4 * (i >> 8)) != pos - s)
			return false;
		if (!entry_len(img + pos, q - pos, &len, &hdr))
			return false;
		pos += hdr + len;
	}
	return align_to(pos, al) == q && (n + 255) / 256 <= m;
}

/* Markers at @q (a run of @m increasing u32 from 0): find num_syms and names before them. */
static bool find_names(const uint8_t *img, size_t q, uint32_t m, struct kallsyms_tables *t,
		       size_t *p_out, size_t al)
{
	for (uint32_t groups = m; groups >= 1 && groups + 4 >= m; groups--) {
		size_t last = le32(img + q + 4 * (groups - 1));
		if (last + 16 > q)
			continue;
		size_t hi = q - last - 2, lo = q > last + 256 * MAX_ENTRY + 8 ? q - last - 256 * MAX_ENTRY - 8 : 8;
		/* num_syms just before the names: a u32 in an 8-byte slot (tables 8-aligned),
		 * or 4 bytes where the tables are 4-aligned */
		for (size_t s = hi & ~(al - 1); s >= lo && s >= 8; s -= al) {
			uint32_t n = le32(img + s - al);
			if (!n || n > MAX_SYMS || (n + 255) / 256 != groups ||
			    (al == 8 && le32(img + s - 4)))
				continue;
			if (names_match(img, s, q, n, m, al)) {
				t->count = n;
				*p_out = s - al;
				return true;
			}
		}
	}
	return false;
}

/* kallsyms_offsets at @offs with kallsyms_relative_base at @rb; or, @rb SIZE_MAX, offsets
 * relative to their own place (no relative_base: Debian's 7.2). */
static bool try_offsets(struct image *im, size_t offs, size_t rb, const struct decoded *proto,
			struct kallsyms_tables *t)
{
	struct decoded d = *proto;
	size_t need = offs + 4 * (size_t)d.n;
	if (rb != SIZE_MAX && rb + 8 > need)
		need = rb + 8;
	if (!img_ensure(im, need))
		return false;
	const uint8_t *img = im->buf;
	uint64_t base = im->base;
	d.offs = img + offs;
	d.pcrel = rb == SIZE_MAX;
	d.offs_addr = base + offs;
	d.relbase = d.pcrel ? base : le64(img + rb);
	if (!in_kmap(d.relbase) || !addresses_sorted(&d))
		return false;
	t->offsets = base + offs;
	t->relative_base = d.pcrel ? 0 : base + rb;
	return true;
}

/* Check the "0".."9" tokens at @hit and build the tables from there. */
static bool find_at_aligned(struct image *im, size_t hit, struct kallsyms_tables *t, size_t al)
{
	img_ensure(im, hit + INDEX_REACH + 512);
	for (size_t x = align_to(hit + 20, al); x + 512 <= im->len && x < hit + INDEX_REACH;
	     x += al) {
		const uint8_t *img = im->buf, *ti = img + x;
		size_t i30 = rd16(ti + 0x30 * 2);
		if (rd16(ti) != 0 || i30 > hit || (hit - i30) & (al - 1))
			continue;
		bool digits = true;
		for (int c = 0x31; c <= 0x39 && digits; c++)
			digits = rd16(ti + 2 * c) == rd16(ti + 2 * c - 2) + 2;
		size_t tt = hit - i30;
		if (!digits || !valid_index(ti, img + tt, x - tt))
			continue;
		/* markers: a run of increasing u32 from 0, before the table (maybe with
		 * seqs_of_names between) */
		size_t lo = tt > BACK_REACH ? tt - BACK_REACH : 0;
		for (size_t q = (tt & ~(al - 1)) - al; q >= lo + 8 && q < tt; q -= al) {
			img = im->buf; /* try_offsets may have read on (and moved the copy) */
			if (le32(img + q) != 0)
				continue;
			uint32_t m = 1, prev = 0;
			while (q + 4 * (size_t)m + 4 <= tt) {
				uint32_t v = le32(img + q + 4 * (size_t)m);
				if (v <= prev || v - prev < 256 * 2 || v - prev > 256 * MAX_ENTRY)
					break;
				prev = v;
				m++;
			}
			size_t p;
			if (m < 2 || !find_names(img, q, m, t, &p, al))
				continue;
			/* only n and the offsets matter to try_offsets: no pointers into the copy */
			struct decoded d = { .n = t->count };
			t->num_syms = im->base + p;
			t->names = im->base + p + al;
			t->token_table = im->base + tt;
			t->token_index = im->base + x;
			/* offsets after token_index (6.12, 7.2), or before num_syms (6.1) */
			size_t after = align_to(x + 512, al);
			if (p >= 8 + 4 * (size_t)t->count &&
			    try_offsets(im, (p - 8 - 4 * (size_t)t->count) & ~(size_t)7, p - 8, &d, t))
				return true;
			if (try_offsets(im, after, align_to(after + 4 * (size_t)t->count, 8), &d, t))
				return true;
			/* no relative_base: place-relative offsets (Debian's 7.2) */
			if (try_offsets(im, after, SIZE_MAX, &d, t))
				return true;
		}
	}
	return false;
}

/* Check the "0".."9" tokens at @hit: the tables 8-aligned (up to 6.12), or 4-aligned
 * (Debian's 7.2: scripts/kallsyms.c emits them with .balign 4). */
static bool find_at(struct image *im, size_t hit, struct kallsyms_tables *t)
{
	return find_at_aligned(im, hit, t, 8) || find_at_aligned(im, hit, t, 4);
}

static const char digit_tokens[20] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";

/* Search the image (read on as needed) for the tables, from byte @from. */
static int find_tables(struct image *im, struct kallsyms_tables *t)
{
	size_t searched = 0;

	for (;;) {
		if (searched + sizeof(digit_tokens) > im->len &&
		    !img_ensure(im, searched + sizeof(digit_tokens)))
			return im->err ? im->err : -ENOENT;
		const uint8_t *h = memmem(im->buf + searched, im->len - searched, digit_tokens,
					  sizeof(digit_tokens));
		if (!h) {
			/* the next chunk, keeping a partial match at the end */
			searched = im->len - sizeof(digit_tokens) + 1;
			if (!img_ensure(im, im->len + 1))
				return im->err ? im->err : -ENOENT;
			continue;
		}
		size_t hit = (size_t)(h - im->buf);
		if (find_at(im, hit, t))
			return 0;
		if (im->err)
			return im->err;
		searched = hit + 1;
	}
}

int kallsyms_find_in(const uint8_t *img, size_t len, uint64_t base, struct kallsyms_tables *t)
{
	struct image im = { .base = base, .buf = (uint8_t *)img, .len = len, .cap = len,
			    .end = true };
	return find_tables(&im, t);
}

/* ---- the target ---- */

static bool readable(struct kvmdci_kernel *k, int cpu, uint64_t a)
{
	uint8_t b;
	return kvmdci_target_read_virt(k->target, cpu, a, &b, 1) == 0;
}

/* Read [a, a+n) into @buf; pages that do not read back are zeros. Returns bytes readable. */
static size_t read_chunk(struct kvmdci_kernel *k, int cpu, uint64_t a, uint8_t *buf, size_t n)
{
	if (kvmdci_target_read_virt(k->target, cpu, a, buf, n) == 0)
		return n;
	size_t ok = 0;
	for (size_t o = 0; o < n; o += 4096) {
		size_t l = n - o < 4096 ? n - o : 4096;
		if (kvmdci_target_read_virt(k->target, cpu, a + o, buf + o, l) == 0)
			ok += l;
		else
			memset(buf + o, 0, l);
	}
	return ok;
}

#define PTE_P 0x1ULL
#define PTE_PS 0x80ULL
#define PTE_NX (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/*
 * Where .rodata starts, from the kernel's own page tables as CPU @cpu (in the kernel) sees
 * them: x86-64's vmlinux.lds.S starts .rodata on a 2 MiB boundary after the text
 * (X86_ALIGN_RODATA_BEGIN), cleanup_highmap() unmaps the kernel mapping below _text, and
 * mark_rodata_ro() maps the text executable and .rodata non-executable; the kallsyms tables
 * are in .rodata (scripts/kallsyms.c emits them into ".section .rodata"). The mapping
 * [KMAP_START, KMAP_END) is one page directory: read whole (4 KiB, physical reads), the first
 * non-executable present 2 MiB block after the first present one (_text) is the start.
 * 0 with @start set, or < 0 (no physical reads, an unexpected table): scan from _text.
 */
static int rodata_start(struct kvmdci_kernel *k, int cpu, uint64_t *start)
{
	const char *names[2] = { "cr3", "cr4" };
	uint64_t v[2], pd[512], e;
	int r;

	if ((r = kvmdci_target_regs_read(k->target, cpu, names, v, 2)) < 0)
		return r;
	/* a CPU in the kernel runs on the kernel's page tables (PTI: the kernel half of the pair) */
	uint64_t table = v[0] & PTE_ADDR;
	for (int shift = (v[1] >> 12) & 1 ? 48 : 39; shift >= 30; shift -= 9) {
		uint8_t b[8];
		if ((r = kvmdci_target_read_phys(k->target, table + 8 * ((KMAP_START >> shift) & 511),
						 b, 8)) < 0)
			return r;
		e = le64(b);
		if (!(e & PTE_P) || (e & PTE_PS))
			return -ENOENT;
		table = e & PTE_ADDR;
	}
	if ((r = kvmdci_target_read_phys(k->target, table, pd, sizeof(pd))) < 0)
		return r;
	bool text = false;
	for (unsigned int i = 0; i < 512; i++) {
		e = le64((const uint8_t *)&pd[i]);
		if (!(e & PTE_P))
			continue;
		if (!text) { /* the first present block: _text, executable */
			if (e & PTE_NX)
				return -ENOENT;
			text = true;
			continue;
		}
		uint64_t nx = e & PTE_NX;
		if (!(e & PTE_PS)) { /* split into 4 KiB pages: the block's first page */
			uint8_t b[8];
			if ((r = kvmdci_target_read_phys(k->target, e & PTE_ADDR, b, 8)) < 0)
				return r;
			if (!(le64(b) & PTE_P))
				continue;
			nx |= le64(b) & PTE_NX;
		}
		if (nx) {
			*start = KMAP_START + (uint64_t)i * BLOCK;
			return 0;
		}
	}
	return -ENOENT;
}

/* Scan the kernel image as CPU @cpu sees it; 0 with @t filled and the image read kept in
 * *@copy (its address in *@copy_addr, length *@copy_len) for decoding, or -ENOENT. */
static int scan_cpu(struct kvmdci_kernel *k, int cpu, struct kallsyms_tables *t, uint8_t **copy,
		    uint64_t *copy_addr, size_t *copy_len)
{
	const char *names[1] = { "rip" };
	uint64_t rip, base;
	const char *from = "_text";
	int r;

	/* a CPU in the kernel half runs on the kernel's page tables (also one in a module) */
	if (kvmdci_target_regs_read(k->target, cpu, names, &rip, 1) < 0 || !(rip >> 63)) {
		kvmdci_dbg(k->ctx, "CPU %d (rip 0x%llx) is not in the kernel", cpu,
			   (unsigned long long)rip);
		return -ENOENT;
	}
	if (rodata_start(k, cpu, &base) == 0) {
		from = ".rodata (the page tables)";
	} else if (!in_kmap(rip)) {
		kvmdci_dbg(k->ctx, "CPU %d (rip 0x%llx) is not in the kernel image and its page "
				   "tables do not show it", cpu, (unsigned long long)rip);
		return -ENOENT;
	} else {
		base = rip & ~(BLOCK - 1);
		while (base - BLOCK >= KMAP_START && readable(k, cpu, base - BLOCK))
			base -= BLOCK;
	}
	kvmdci_dbg(k->ctx, "CPU %d: rip 0x%llx, scanning from 0x%llx (%s)", cpu,
		   (unsigned long long)rip, (unsigned long long)base, from);
	struct image im = { .k = k, .cpu = cpu, .base = base };
	r = find_tables(&im, t);
	if (r == 0) {
		snprintf(t->how, sizeof(t->how), "scan through CPU %d", cpu);
		t->cpu = cpu;
		kvmdci_info(k->ctx, "kallsyms found by scanning %zu KiB of the kernel image from "
				    "0x%llx (%s) through CPU %d",
			    im.len >> 10, (unsigned long long)base, from, cpu);
		*copy = im.buf;
		*copy_addr = base;
		*copy_len = im.len;
		return 0;
	}
	kvmdci_dbg(k->ctx, "CPU %d: no kallsyms tables in %zu MiB from 0x%llx", cpu, im.len >> 20,
		   (unsigned long long)base);
	free(im.buf);
	return r == -ENOMEM ? r : -ENOENT;
}

static const struct {
	const char *key;
	size_t off;
} vmci_syms[] = {
	{ "SYMBOL(kallsyms_num_syms)", offsetof(struct kallsyms_tables, num_syms) },
	{ "SYMBOL(kallsyms_names)", offsetof(struct kallsyms_tables, names) },
	{ "SYMBOL(kallsyms_token_table)", offsetof(struct kallsyms_tables, token_table) },
	{ "SYMBOL(kallsyms_token_index)", offsetof(struct kallsyms_tables, token_index) },
	{ "SYMBOL(kallsyms_offsets)", offsetof(struct kallsyms_tables, offsets) },
	{ "SYMBOL(kallsyms_relative_base)", offsetof(struct kallsyms_tables, relative_base) },
};

/* VMCOREINFO's SYMBOL(kallsyms_*) and a reader that shows them. */
static int from_vmcoreinfo(struct kvmdci_kernel *k, struct kallsyms_tables *t)
{
	const char *vmci = target_vmcoreinfo(k->target);
	uint8_t ti[512];

	if (!vmci)
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(vmci_syms); i++)
		if (!kernel_vmcoreinfo_value(vmci, vmci_syms[i].key, 16,
					     (uint64_t *)((char *)t + vmci_syms[i].off))) {
			kvmdci_info(k->ctx, "VMCOREINFO has no %s (kernels < 6.0); scanning",
				    vmci_syms[i].key);
			return -ENOENT;
		}
	int n = kvmdci_target_cpu_count(k->target);
	for (int cpu = 0; cpu <= n; cpu++) { /* the CPUs, then our own walk */
		int c = cpu < n ? cpu : -1;
		if (c < 0 && kernel_vmcoreinfo_pgt(k) < 0)
			break;
		kernel_use_reader(k, c);
		if (kvmdci_kernel_read(k, t->token_index, ti, sizeof(ti)) == 0 && rd16(ti) == 0 &&
		    rd16(ti + 2) > 0 && rd16(ti + 510) > rd16(ti + 508)) {
			t->cpu = c;
			if (c >= 0)
				snprintf(t->how, sizeof(t->how), "VMCOREINFO, read through CPU %d", c);
			else
				snprintf(t->how, sizeof(t->how), "VMCOREINFO, read through init_top_pgt");
			return 0;
		}
	}
	kvmdci_warn(k->ctx, "VMCOREINFO's kallsyms_token_index at 0x%llx does not read back as one "
			    "through any CPU; scanning",
		    (unsigned long long)t->token_index);
	return -ENOENT;
}

/* Read the names of @n symbols at @addr: the walk tells how many bytes they take. */
static int read_names(struct kvmdci_kernel *k, uint64_t addr, uint32_t n, uint8_t **out,
		      size_t *out_len)
{
	size_t cap = 0, len = 0, pos = 0;
	uint8_t *buf = NULL;
	int r = 0;

	for (uint32_t i = 0; i < n; i++) {
		while (pos + 2 + 0x7fff >= len && len < MAX_NAMES) {
			size_t more = 64u << 10; /* little past the end: reads are pipelined */
			if (len + more > cap) {
				cap = len + more;
				uint8_t *nb = realloc(buf, cap);
				if (!nb) {
					free(buf);
					return -ENOMEM;
				}
				buf = nb;
			}
			if ((r = kvmdci_kernel_read(k, addr + len, buf + len, more)) < 0) {
				/* the table may end just before an unmapped page: go on page-wise */
				size_t got = 0;
				while (got < more &&
				       kvmdci_kernel_read(k, addr + len + got, buf + len + got, 4096) == 0)
					got += 4096;
				len += got;
				if (got < more)
					goto walk;
			} else {
				len += more;
			}
		}
walk:;
		size_t l, hdr;
		if (!entry_len(buf + pos, len - pos, &l, &hdr)) {
			kvmdci_err(k->ctx, "kallsyms_names at 0x%llx: symbol %u at 0x%llx is malformed "
					   "(not kallsyms, or an unreadable page)",
				   (unsigned long long)addr, i, (unsigned long long)(addr + pos));
			free(buf);
			return -EINVAL;
		}
		pos += hdr + l;
	}
	*out = buf;
	*out_len = pos;
	return 0;
}

static int read_tables(struct kvmdci_kernel *k, const struct kallsyms_tables *t,
		       struct decoded *d, uint8_t **bufs)
{
	uint8_t *ti = NULL, *tt = NULL, *offs = NULL, *names = NULL;
	uint64_t relbase;
	size_t names_len;
	uint32_t n;
	int r;

	if ((r = kvmdci_kernel_read(k, t->num_syms, &n, 4)) < 0) {
		kvmdci_err(k->ctx, "cannot read kallsyms_num_syms at 0x%llx",
			   (unsigned long long)t->num_syms);
		return r;
	}
	if (n == 0 || n > MAX_SYMS) {
		kvmdci_err(k->ctx, "kallsyms_num_syms at 0x%llx: implausible count %u",
			   (unsigned long long)t->num_syms, n);
		return -EINVAL;
	}
	ti = malloc(512);
	offs = malloc(4 * (size_t)n);
	r = -ENOMEM;
	if (!ti || !offs)
		goto fail;
	relbase = 0; /* no kallsyms_relative_base: place-relative offsets */
	if ((r = kvmdci_kernel_read(k, t->token_index, ti, 512)) < 0 ||
	    (t->relative_base && (r = kvmdci_kernel_read_u64(k, t->relative_base, &relbase)) < 0) ||
	    (r = kvmdci_kernel_read(k, t->offsets, offs, 4 * (size_t)n)) < 0) {
		kvmdci_err(k->ctx, "cannot read the kallsyms tables (token_index 0x%llx, offsets "
				   "0x%llx, relative_base 0x%llx)",
			   (unsigned long long)t->token_index, (unsigned long long)t->offsets,
			   (unsigned long long)t->relative_base);
		goto fail;
	}
	size_t tt_len = (size_t)rd16(ti + 510) + 1;
	tt = malloc(tt_len + 512);
	r = -ENOMEM;
	if (!tt)
		goto fail;
	/* the last token's length is not known: read on in small steps until its NUL */
	if ((r = kvmdci_kernel_read(k, t->token_table, tt, tt_len)) < 0)
		goto bad_table;
	while (!memchr(tt + rd16(ti + 510), 0, tt_len - rd16(ti + 510))) {
		if (tt_len >= (size_t)rd16(ti + 510) + 512 ||
		    (r = kvmdci_kernel_read(k, t->token_table + tt_len, tt + tt_len, 16)) < 0)
			goto bad_table;
		tt_len += 16;
	}
	if (!valid_index(ti, tt, tt_len)) {
		r = -EINVAL;
		goto bad_table;
	}
	if ((r = read_names(k, t->names, n, &names, &names_len)) < 0)
		goto fail;
	*d = (struct decoded){ .names = names, .names_len = names_len, .tt = tt, .tt_len = tt_len,
			       .ti = ti, .offs = offs, .n = n, .relbase = relbase,
			       .pcrel = !t->relative_base, .offs_addr = t->offsets };
	if (!addresses_sorted(d)) {
		kvmdci_err(k->ctx, "kallsyms_offsets at 0x%llx (relative_base 0x%llx): the %u "
				   "addresses are not sorted: not kallsyms",
			   (unsigned long long)t->offsets, (unsigned long long)relbase, n);
		r = -EINVAL;
		goto fail;
	}
	bufs[0] = ti;
	bufs[1] = tt;
	bufs[2] = offs;
	bufs[3] = names;
	return 0;
bad_table:
	kvmdci_err(k->ctx, "kallsyms_token_table at 0x%llx / token_index at 0x%llx: not a token "
			   "table",
		   (unsigned long long)t->token_table, (unsigned long long)t->token_index);
	if (r >= 0)
		r = -EINVAL;
fail:
	free(ti);
	free(tt);
	free(offs);
	free(names);
	return r;
}

int kallsyms_load(struct kvmdci_kernel *k, struct kallsyms_tables *t)
{
	uint8_t *bufs[4] = { NULL };
	struct decoded d;
	uint32_t bad;
	int r, n = kvmdci_target_cpu_count(k->target);

	memset(t, 0, sizeof(*t));
	t->cpu = -1;
	/* KVMDCI_KALLSYMS=scan: skip VMCOREINFO (to test the scan on dumps) */
	const char *how = kvmdci_ctx_get_tunable(k->ctx, KVMDCI_TUNABLE_KALLSYMS);
	if ((how && !strcmp(how, "scan")) || from_vmcoreinfo(k, t) < 0) {
		uint8_t *copy = NULL;
		uint64_t copy_addr = 0;
		size_t copy_len = 0;
		r = -ENOENT;
		memset(t, 0, sizeof(*t));
		for (int cpu = 0; cpu < n && r == -ENOENT; cpu++)
			r = scan_cpu(k, cpu, t, &copy, &copy_addr, &copy_len);
		/* every CPU in a nested guest or user space at this stop (a busy host): let the
		 * machine run a moment until one is in the kernel, as the banner search does */
		if (r == -ENOENT && kernel_run_until_in_kernel(k))
			for (int cpu = 0; cpu < n && r == -ENOENT; cpu++)
				r = scan_cpu(k, cpu, t, &copy, &copy_addr, &copy_len);
		if (r < 0) {
			if (r == -ENOENT)
				kvmdci_err(k->ctx, "no kernel symbols: %s carries no VMCOREINFO with "
						   "kallsyms and no CPU in the host kernel shows "
						   "kallsyms tables; give --system-map",
					   kvmdci_target_get_uri(k->target));
			return r;
		}
		kernel_use_reader(k, t->cpu);
		/* the tables are decoded from what the scan read, not read again */
		k->snap = copy;
		k->snap_addr = copy_addr;
		k->snap_len = copy_len;
	}
	r = read_tables(k, t, &d, bufs);
	free((void *)k->snap);
	k->snap = NULL;
	if (r < 0)
		return r;
	t->count = d.n;
	r = decode_all(&d, &k->vsyms, &bad);
	for (int i = 0; i < 4; i++)
		free(bufs[i]);
	if (r < 0) {
		kvmdci_err(k->ctx, "kallsyms_names at 0x%llx: symbol %u does not decode",
			   (unsigned long long)t->names, bad);
		return r;
	}

	/* KASLR: kallsyms addresses are the runtime ones; the offset is reported and kept so
	 * that k->vsyms holds link-time addresses like a System.map (runtime - kaslr) */
	uint64_t text = 0, off = 0;
	if (symtab_lookup(&k->vsyms, "_text", &text, 0) == 0 && text >= LINK_TEXT &&
	    text - LINK_TEXT < KMAP_END - LINK_TEXT && !((text - LINK_TEXT) % BLOCK))
		off = text - LINK_TEXT;
	else
		kvmdci_warn(k->ctx, "_text at 0x%llx is not a KASLR step from 0x%llx: KASLR offset "
				    "unknown (symbol addresses are exact anyway)",
			    (unsigned long long)text, (unsigned long long)LINK_TEXT);
	const char *vmci = target_vmcoreinfo(k->target);
	uint64_t vo;
	if (vmci && kernel_vmcoreinfo_value(vmci, "KERNELOFFSET", 16, &vo) && vo != off)
		kvmdci_warn(k->ctx, "VMCOREINFO's KERNELOFFSET 0x%llx differs from _text's 0x%llx",
			    (unsigned long long)vo, (unsigned long long)off);
	k->kaslr = off;
	for (size_t i = 0; i < k->vsyms.n; i++)
		k->vsyms.syms[i].addr -= off; /* still sorted: by name */
	return 0;
}
