// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel types from BTF through libbpf: vmlinux BTF (the .BTF section of a vmlinux ELF, or a
 * raw BTF file) and modules' split BTF on top of it (the .BTF section of each .ko); or from
 * DWARF (debug vmlinux, module debug files), converted on demand into BTF by kernel/dwarf.c.
 * Member paths ("stat.exits", "range[2].dev") are resolved through anonymous structs/unions.
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/dwarf.h"
#include "kernel/file-cache.h"
#include "kernel/ktypes.h"
#include "kernel/dl-libs.h" /* last: libbpf's functions through pointers */

/*
 * A name -> type id hash index of one BTF's own types, built once: libbpf's
 * btf__find_by_name_kind() scans every type with strcmp (vmlinux has ~100k), which made the
 * type lookups most of a tool's run time.
 */
struct ktypes_index {
	uint32_t first; /* first own type id (split BTF: after the base's) */
	uint32_t mask;
	uint32_t *slots; /* type ids, 0 = empty */
	const uint32_t *offs; /* vmlinux's type offsets from the cache file (kbtf_new()) */
	uint32_t noffs;
	void *map;       /* slots in a mapped cache file (index_load), or NULL: malloc'ed */
	size_t map_len;
	/* slots in the mapped file: checked block by block as lookups read them (file-cache.h),
	 * each slot's id against type_cnt; a damaged block makes the index be built anew from
	 * the BTF (malloc'ed slots, own_slots) */
	bool lazy, own_slots;
	struct file_cache_blocks blocks;
	uint32_t type_cnt;
	const struct ktypes *kt;
};

static void index_free(struct ktypes_index *ix);

void ktypes_free(struct ktypes *kt)
{
	index_free(kt->vmlinux_ix);
	for (int i = 0; i < kt->nmods; i++) {
		index_free(kt->mods[i].ix);
		kbtf_free(kt->mods[i].btf); /* a DWARF module's: a wrapper, freed first */
		if (kt->mods[i].dw)
			ktypes_dwarf_free(kt->mods[i].dw); /* owns its BTF */
	}
	kbtf_free(kt->vmlinux);
	if (kt->vmlinux_dw)
		ktypes_dwarf_free(kt->vmlinux_dw);
	memset(kt, 0, sizeof(*kt));
}

/* The source forced for @path (kt->source, $KVMDCI_TYPES), else KTYPES_AUTO: its .BTF is read
 * when it has one, and dwarf_instead() is asked when it has none. */
static enum ktypes_source pick_source(struct kvmdci_ctx *ctx, struct ktypes *kt, bool module)
{
	enum ktypes_source want = kt->source;
	const char *env = kvmdci_ctx_get_tunable(ctx, KVMDCI_TUNABLE_TYPES);

	if (want == KTYPES_AUTO && env && !strcmp(env, "dwarf"))
		want = KTYPES_DWARF;
	else if (want == KTYPES_AUTO && env && !strcmp(env, "btf"))
		want = KTYPES_BTF;
	/* module types must live beside vmlinux's: split BTF needs vmlinux BTF as its base */
	if (module && kt->vmlinux_dw)
		want = KTYPES_DWARF;
	return want;
}

/* An ELF file without .BTF: read its DWARF when it has some (else BTF's error is said). */
static bool dwarf_instead(struct kvmdci_ctx *ctx, const char *path)
{
	bool has_btf, has_dwarf;

	if (ktypes_dwarf_probe(path, &has_btf, &has_dwarf) < 0 || has_btf || !has_dwarf)
		return false;
	kvmdci_dbg(ctx, "%s has .debug_info and no .BTF: reading DWARF", path);
	return true;
}

/* Types are read through struct btf_type pointers: a crafted file whose type section is not
 * 4-byte aligned would make every access misaligned (fuzz/fuzz-btf found it). For what libbpf
 * parsed; kbtf_new() checks its own. */
static bool libbpf_btf_aligned(const struct btf *btf)
{
	const struct btf *base = btf__base_btf(btf);
	uint32_t first = base ? btf__type_cnt(base) : 1;
	const struct btf_type *t = first < btf__type_cnt(btf) ? btf__type_by_id(btf, first) : NULL;
	return !t || ((uintptr_t)t & 3) == 0;
}

/* Why libbpf could not parse @path, in words, as an errno (its own codes, such as
 * LIBBPF_ERRNO__FORMAT 4001 for "not an ELF file", mean nothing to strerror()). */
static int btf_parse_failure(const char *path, long e, char *why, size_t sz)
{
	unsigned char magic[4] = { 0 };
	ssize_t n = -1;
	int fd;

	if (e > -LIBBPF_ERRNO__LIBELF) { /* libbpf's own codes start at 4000 */
		/* libbpf says ENOENT both for a missing file and for a missing .BTF section */
		snprintf(why, sz, "%s", e == -ENOENT && access(path, F_OK) == 0
					   ? "it has no .BTF section"
					   : strerror((int)-e));
		return (int)e;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		n = read(fd, magic, sizeof(magic));
		close(fd);
	}
	if (n == (ssize_t)sizeof(magic) && !memcmp(magic, "\177ELF", 4)) {
		char lib[128];
		libbpf_strerror((int)e, lib, sizeof(lib));
		snprintf(why, sz, "it is an ELF file, but libbpf cannot read its BTF (%s)", lib);
	} else {
		/* neither ELF (\177ELF) nor raw BTF (magic 0xeB9F): a text file, a script, ... */
		snprintf(why, sz, "it is not an ELF file nor raw BTF (it starts with %s)",
			 n <= 0 ? "nothing: it is empty"
			 : isprint(magic[0]) ? "text" : "other binary data");
	}
	return -EINVAL;
}

/*
 * The .BTF section of the ELF file @path, mapped read-only from the file (the page cache's
 * pages, no copy) and read in place (kernel/kbtf.h): libbpf's btf__parse() read it into one
 * buffer and copied it into another, and walked every type; for vmlinux's ~4 MB that was most
 * of a tool's start. Split on @base for a module. @load_offs, when not NULL, is asked for the
 * types' offsets from the cache once the section's sizes are known. Returns NULL with *@err:
 * -ENOENT (no .BTF), -LIBBPF_ERRNO__FORMAT (not a 64-bit little-endian ELF file), -EINVAL (a
 * malformed .BTF: *@why says what, or NULL for an unusual section), -errno.
 */
static struct kbtf *btf_map_in_place(const char *path, const struct kbtf *base,
				     const uint32_t *(*load_offs)(void *arg, uint32_t type_len,
								  uint32_t str_len, uint32_t *n),
				     void *arg, int *err, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	size_t shstrndx, page = (size_t)sysconf(_SC_PAGESIZE);
	struct kbtf *btf = NULL;
	Elf_Scn *scn = NULL;
	struct stat st;
	GElf_Ehdr eh;
	Elf *elf;

	*why = NULL;
	*err = -ENOENT;
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	uint16_t magic = 0;
	if (pread(fd, &magic, sizeof(magic), 0) == sizeof(magic) && magic == BTF_MAGIC &&
	    fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		/* a raw BTF file (/sys/kernel/btf/vmlinux copied): the whole file, in place */
		*err = -EINVAL;
		elf = NULL;
		if (st.st_size > UINT32_MAX)
			goto out;
		uint8_t *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			*err = -errno;
			goto out;
		}
		btf = kbtf_new(map, (uint32_t)st.st_size, base, map, (size_t)st.st_size, true, NULL,
			       0, why);
		if (!btf) {
			*err = errno == ENOMEM ? -ENOMEM : -EINVAL;
			munmap(map, (size_t)st.st_size);
		}
		goto out;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0 || fstat(fd, &st) < 0) {
		*err = -LIBBPF_ERRNO__FORMAT;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".BTF"))
			continue;
		*err = -EINVAL;
		if (sh.sh_type == SHT_NOBITS || !sh.sh_size || sh.sh_size > UINT32_MAX ||
		    sh.sh_offset > (uint64_t)st.st_size ||
		    sh.sh_size > (uint64_t)st.st_size - sh.sh_offset)
			break;
		size_t skew = (size_t)(sh.sh_offset % page), len = (size_t)sh.sh_size + skew;
		/* read-only, not populated: only the pages of the types looked up are touched */
		uint8_t *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd,
				    (off_t)(sh.sh_offset - skew));
		if (map == MAP_FAILED) {
			*err = -errno;
			break;
		}
		const struct btf_header *h = (const void *)(map + skew);
		const uint32_t *offs = NULL;
		uint32_t noffs = 0;
		if (load_offs && sh.sh_size >= sizeof(*h) && h->magic == BTF_MAGIC)
			offs = load_offs(arg, h->type_len, h->str_len, &noffs);
		btf = kbtf_new(map + skew, (uint32_t)sh.sh_size, base, map, len, true, offs, noffs,
			       why);
		if (!btf) {
			*err = errno == ENOMEM ? -ENOMEM : -EINVAL;
			munmap(map, len);
		}
		break;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return btf;
}

/* The offsets of vmlinux's types from its cached name index (btf-v3-BUILDID.idx), loaded here. */
static struct ktypes_index *index_load(struct kvmdci_ctx *ctx, const struct ktypes *kt,
				       uint32_t type_len, uint32_t str_len);

struct load_arg {
	struct ktypes *kt;
	struct ktypes_index *ix;
};

static const uint32_t *vmlinux_offs(void *arg, uint32_t type_len, uint32_t str_len, uint32_t *n);

int ktypes_load_vmlinux(struct kvmdci_ctx *ctx, struct ktypes *kt, const char *path)
{
	struct kbtf *kb = NULL;
	struct btf *btf;
	long e = 0;

	if ((e = kvmdci_check_regular_file(ctx, path, "vmlinux")) < 0)
		return (int)e;
	enum ktypes_source src = pick_source(ctx, kt, false);
	struct load_arg la = { .kt = kt };
	const char *bad = NULL;
	int me = 0;
	kt->ctx = ctx;
	if (src != KTYPES_DWARF) {
		/* its name index and type offsets are kept on disk under the file's build id
		 * (btf-v3-BUILDID.idx) */
		char name[160];
		kt->vmlinux_ix_path[0] = 0;
		if (module_file_build_id(path, kt->vmlinux_bid, sizeof(kt->vmlinux_bid),
					 &kt->vmlinux_bid_len) == 0) {
			int o = snprintf(name, sizeof(name), "btf-v3-");
			for (size_t i = 0; i < kt->vmlinux_bid_len; i++)
				o += snprintf(name + o, sizeof(name) - (size_t)o, "%02x",
					      kt->vmlinux_bid[i]);
			snprintf(name + o, sizeof(name) - (size_t)o, ".idx");
			if (file_cache_path(ctx, name, kt->vmlinux_ix_path,
					    sizeof(kt->vmlinux_ix_path)) < 0)
				kt->vmlinux_ix_path[0] = 0;
		}
		kb = btf_map_in_place(path, NULL, vmlinux_offs, &la, &me, &bad);
		if (!kb && me == -ENOENT && src == KTYPES_AUTO && dwarf_instead(ctx, path))
			src = KTYPES_DWARF;
	}
	if (src == KTYPES_DWARF) {
		index_free(la.ix);
		kt->vmlinux_ix_path[0] = 0;
		int r = ktypes_dwarf_open(ctx, path, &kt->vmlinux_dw);
		if (r < 0)
			return r;
		if (!(kt->vmlinux = kbtf_wrap(ktypes_dwarf_btf(kt->vmlinux_dw), false))) {
			ktypes_dwarf_free(kt->vmlinux_dw);
			kt->vmlinux_dw = NULL;
			return -ENOMEM;
		}
		snprintf(kt->vmlinux_path, sizeof(kt->vmlinux_path), "%s", path);
		return 0;
	}
	if (kb && la.ix && kbtf_offsets(kb, &(uint32_t){ 0 }) != la.ix->offs) {
		/* the cached offsets were refused: the index goes with them */
		kvmdci_dbg(ctx, "ignoring the BTF name index %s: its type offsets do not fit",
			   kt->vmlinux_ix_path);
		index_free(la.ix);
		la.ix = NULL;
	}
	if (!kb) {
		index_free(la.ix);
		la.ix = NULL;
		if (bad)
			kvmdci_dbg(ctx, "%s: .BTF not read in place (%s): asking libbpf", path, bad);
		btf = btf__parse(path, NULL);
		e = btf ? 0 : -errno; /* libbpf 1.x: NULL and errno on failure */
		if (!e && !libbpf_btf_aligned(btf)) {
			kvmdci_err(ctx, "corrupt BTF in %s: its type section is not 4-byte aligned",
				   path);
			btf__free(btf);
			return -EINVAL;
		}
		if (!e && !(kb = kbtf_wrap(btf, true))) {
			btf__free(btf);
			return -ENOMEM;
		}
	}
	kt->vmlinux_ix = la.ix;
	if (e) {
		char why[256];
		int r = btf_parse_failure(path, e, why, sizeof(why));
		kvmdci_err(ctx, "cannot read BTF from %s: %s (need a vmlinux with a .BTF section, a "
				"debug vmlinux with DWARF, or a raw BTF file such as "
				"/sys/kernel/btf/vmlinux of that kernel)",
			   path, why);
		return r;
	}
	kvmdci_info(ctx, "types: BTF from %s", path);
	kt->vmlinux = kb;
	snprintf(kt->vmlinux_path, sizeof(kt->vmlinux_path), "%s", path);
	return 0;
}

int ktypes_add_module(struct kvmdci_ctx *ctx, struct ktypes *kt, const char *name,
		      const char *path)
{
	struct ktypes_dwarf *dw = NULL;
	struct kbtf *btf;
	long e;

	if (!kt->vmlinux)
		return -EINVAL;
	if (kt->nmods >= (int)ARRAY_SIZE(kt->mods))
		return -ENOSPC;
	if ((e = kvmdci_check_regular_file(ctx, path, "module file")) < 0)
		return (int)e;
	char modname[64];
	e = module_file_modinfo(path, "name", modname, sizeof(modname));
	if (e == -EINVAL) {
		kvmdci_err(ctx, "module file %s (for %s) is not a readable kernel module: not ELF, "
				"or truncated (its .modinfo cannot be read); copy it again from that "
				"kernel's package", path, name);
		return -EINVAL;
	}
	if (e == 0 && strcmp(modname, name) != 0) {
		kvmdci_err(ctx, "module file %s is module %s, not %s: give %s's own .ko", path,
			   modname, name, name);
		return -EINVAL;
	}
	enum ktypes_source src = pick_source(ctx, kt, true);
	const char *bad = NULL;
	int me = 0;
	btf = NULL;
	if (src != KTYPES_DWARF && !kbtf_libbpf(kt->vmlinux)) {
		btf = btf_map_in_place(path, kt->vmlinux, NULL, NULL, &me, &bad);
		if (!btf && me == -ENOENT && src == KTYPES_AUTO && dwarf_instead(ctx, path))
			src = KTYPES_DWARF;
	}
	if (src == KTYPES_DWARF) {
		/* a module's DWARF is self-contained: its own BTF, not split (vmlinux's grows) */
		int r = ktypes_dwarf_open(ctx, path, &dw);
		if (r < 0)
			return r;
		if (!(btf = kbtf_wrap(ktypes_dwarf_btf(dw), false))) {
			ktypes_dwarf_free(dw);
			return -ENOMEM;
		}
	} else {
		struct btf *lb = NULL;
		if (kbtf_libbpf(kt->vmlinux)) {
			/* vmlinux's BTF came through libbpf (not read in place): split on it */
			lb = btf__parse_split(path, kbtf_libbpf(kt->vmlinux));
			me = lb ? 0 : -errno;
			if (lb && !libbpf_btf_aligned(lb)) {
				kvmdci_err(ctx, "corrupt BTF in %s: its type section is not 4-byte "
						"aligned", path);
				btf__free(lb);
				return -EINVAL;
			}
			btf = lb ? kbtf_wrap(lb, true) : NULL;
			if (lb && !btf) {
				btf__free(lb);
				return -ENOMEM;
			}
		}
		if (!btf) {
			char why[256];
			int r = me;
			if (bad)
				snprintf(why, sizeof(why), "its .BTF is malformed: %s", bad);
			else
				r = btf_parse_failure(path, me, why, sizeof(why));
			kvmdci_err(ctx, "cannot read the split BTF of module %s from %s: %s (need "
					"that kernel's %s.ko)", name, path, why, name);
			return r;
		}
		kvmdci_info(ctx, "types: BTF of module %s from %s", name, path);
	}
	snprintf(kt->mods[kt->nmods].name, sizeof(kt->mods[0].name), "%s", name);
	kt->mods[kt->nmods].dw = dw;
	kt->mods[kt->nmods++].btf = btf;
	return 0;
}

static int module_index(struct ktypes *kt, const char *module)
{
	for (int i = 0; i < kt->nmods; i++)
		if (!strcmp(kt->mods[i].name, module))
			return i;
	return -1;
}

const char *ktypes_source_name(const struct ktypes *kt, const char *module)
{
	if (!module)
		return kt->vmlinux ? (kt->vmlinux_dw ? "DWARF" : "BTF") : NULL;
	for (int i = 0; i < kt->nmods; i++)
		if (!strcmp(kt->mods[i].name, module))
			return kt->mods[i].dw ? "DWARF" : "BTF";
	return NULL;
}

/*
 * vmlinux's index on disk ($XDG_CACHE_HOME/libkvmdci/btf-v3-BUILDID.idx, file-cache.h), mapped
 * at the next start instead of walking ~100k types and faulting in a fresh table; with it the
 * offset of every type in the type section, so that the BTF is read in place without a walk
 * (kernel/kbtf.h). The header names the BTF it indexes (build id, the sizes of its type and
 * string sections, its type count) and carries a checksum of the block sums that follow it;
 * the offsets are checked whole at the start (kbtf_new() reads them all: their order, and the
 * last record) and each type's record at its lookup; the slots, most of the file, block by
 * block as lookups read them (file-cache.h), each slot's id against the type count, and a
 * lookup compares the name and kind of what a slot points to anyway. Anything else: ignored
 * and written anew; a damaged block of slots read later: the index built anew from the BTF.
 */
/* Version 3 (checked by blocks) has a name of its own, btf-v3-: a library of version 2 on the
 * same machine (B2, btf-v2-BUILDID.idx) would otherwise rewrite it at each of its runs. */
#define IX_MAGIC "KVMDCIB3"

struct ix_header {
	char magic[8];
	uint32_t order; /* 0x01020304 as written */
	uint32_t bid_len;
	uint8_t bid[64];
	uint32_t type_len, str_len; /* the BTF header's */
	uint32_t type_cnt;
	uint32_t first, mask;
	uint32_t pad;
	uint64_t body_off; /* the slots, then the offsets: after the block sums, page-aligned */
	uint64_t sums_sum; /* file_cache_sum() of the block sums (one per FILE_CACHE_BLOCK) */
};

static bool ix_header_for(struct ix_header *h, const struct ktypes *kt, uint32_t type_len,
			  uint32_t str_len)
{
	memset(h, 0, sizeof(*h));
	if (!kt->vmlinux_bid_len || kt->vmlinux_bid_len > sizeof(h->bid))
		return false;
	memcpy(h->magic, IX_MAGIC, 8);
	h->order = 0x01020304u;
	h->bid_len = (uint32_t)kt->vmlinux_bid_len;
	memcpy(h->bid, kt->vmlinux_bid, kt->vmlinux_bid_len);
	h->type_len = type_len;
	h->str_len = str_len;
	return true;
}

/* The body's length: slots, offsets, zeros up to a multiple of 8. */
static size_t ix_body_len(uint32_t mask, uint32_t type_cnt)
{
	return ((size_t)mask + 1) * sizeof(uint32_t) +
	       (((size_t)type_cnt - 1) * sizeof(uint32_t) + 7) / 8 * 8;
}

static struct ktypes_index *index_load(struct kvmdci_ctx *ctx, const struct ktypes *kt,
				       uint32_t type_len, uint32_t str_len)
{
	struct ix_header want, h;
	struct ktypes_index *ix = NULL;
	const char *why = NULL;
	uint8_t *map = NULL;
	size_t len = 0, body_len = 0;
	int r;

	if (!kt->vmlinux_ix_path[0] || !ix_header_for(&want, kt, type_len, str_len) ||
	    (r = file_cache_map_header(kt->vmlinux_ix_path, 256u << 20, &h, sizeof(h),
				       (void **)&map, &len, &why)) == -ENOENT)
		return NULL;
	if (r < 0)
		goto bad;
	want.type_cnt = h.type_cnt;
	want.first = h.first;
	want.mask = h.mask;
	want.body_off = h.body_off;
	want.sums_sum = h.sums_sum;
	if (memcmp(&h, &want, sizeof(h))) {
		why = "made for another BTF, or not an index of this library on this machine";
		goto bad;
	}
	if (h.first == 1 && h.type_cnt >= 2 && h.mask >= 1023 && !(h.mask & (h.mask + 1)))
		body_len = ix_body_len(h.mask, h.type_cnt);
	if (!body_len || h.body_off != file_cache_body_offset(sizeof(h), body_len) ||
	    len != h.body_off + body_len) {
		why = "truncated or of the wrong size";
		goto bad;
	}
	const uint64_t *sums = (const uint64_t *)(map + sizeof(h));
	if (file_cache_sum(sums, file_cache_nblocks(body_len) * sizeof(*sums)) != h.sums_sum) {
		why = "damaged (checksum of the block sums)";
		goto bad;
	}
	if (!(ix = calloc(1, sizeof(*ix))) ||
	    file_cache_blocks_init(&ix->blocks, map + h.body_off, body_len, sums) < 0) {
		why = "out of memory";
		goto bad;
	}
	size_t sbytes = ((size_t)h.mask + 1) * sizeof(uint32_t);
	if (!file_cache_check(&ix->blocks, sbytes, body_len - sbytes)) {
		why = "damaged (checksum of the offsets)"; /* kbtf_new() reads them all */
		goto bad;
	}
	ix->first = h.first;
	ix->mask = h.mask;
	ix->slots = (uint32_t *)(map + h.body_off);
	ix->offs = ix->slots + h.mask + 1;
	ix->noffs = h.type_cnt - 1;
	ix->map = map;
	ix->map_len = len;
	ix->lazy = true;
	ix->type_cnt = h.type_cnt;
	ix->kt = kt;
	kvmdci_dbg(ctx, "BTF name index %s", kt->vmlinux_ix_path);
	return ix;
bad:
	kvmdci_dbg(ctx, "ignoring the BTF name index %s: %s", kt->vmlinux_ix_path, why);
	if (ix) {
		file_cache_blocks_free(&ix->blocks);
		free(ix);
	}
	if (map)
		munmap(map, len);
	return NULL;
}

static const uint32_t *vmlinux_offs(void *arg, uint32_t type_len, uint32_t str_len, uint32_t *n)
{
	struct load_arg *la = arg;

	if (!(la->ix = index_load(la->kt->ctx, la->kt, type_len, str_len)))
		return NULL;
	*n = la->ix->noffs;
	return la->ix->offs;
}

static void index_save(struct kvmdci_ctx *ctx, const struct ktypes *kt, const struct kbtf *btf,
		       const struct ktypes_index *ix)
{
	struct ix_header h;
	size_t bytes = ((size_t)ix->mask + 1) * sizeof(uint32_t);
	uint32_t type_len, str_len, noffs;
	const uint32_t *offs = kbtf_offsets(btf, &noffs);
	uint8_t *body, *head;
	int r;

	if (!kt->vmlinux_ix_path[0] || !offs || !kbtf_sections(btf, &type_len, &str_len) ||
	    noffs != kbtf_type_cnt(btf) - 1 || !ix_header_for(&h, kt, type_len, str_len))
		return;
	h.type_cnt = kbtf_type_cnt(btf);
	h.first = ix->first;
	h.mask = ix->mask;
	size_t body_len = ix_body_len(h.mask, h.type_cnt);
	h.body_off = file_cache_body_offset(sizeof(h), body_len);
	if (!(body = calloc(1, body_len)))
		return;
	if (!(head = calloc(1, h.body_off))) {
		free(body);
		return;
	}
	memcpy(body, ix->slots, bytes);
	memcpy(body + bytes, offs, (size_t)noffs * sizeof(uint32_t));
	uint64_t *sums = (uint64_t *)(head + sizeof(h));
	file_cache_block_sums(body, body_len, sums);
	h.sums_sum = file_cache_sum(sums, file_cache_nblocks(body_len) * sizeof(*sums));
	memcpy(head, &h, sizeof(h));
	const void *parts[2] = { head, body };
	size_t sizes[2] = { h.body_off, body_len };
	if ((r = file_cache_write(kt->vmlinux_ix_path, parts, sizes, 2)) < 0)
		kvmdci_dbg(ctx, "could not write the BTF name index %s: %s", kt->vmlinux_ix_path,
			   strerror(-r));
	else
		kvmdci_dbg(ctx, "wrote the BTF name index %s", kt->vmlinux_ix_path);
	free(head);
	free(body);
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static const char *type_name(const struct kbtf *btf, uint32_t id)
{
	const struct btf_type *t = kbtf_type_by_id(btf, id);
	const char *name = t ? kbtf_name_by_offset(btf, t->name_off) : NULL;
	return name && *name ? name : NULL;
}

static struct ktypes_index *index_build(const struct kbtf *btf)
{
	const struct kbtf *base = kbtf_base(btf);
	uint32_t first = base ? kbtf_type_cnt(base) : 1, n = kbtf_type_cnt(btf), size = 1024;
	uint32_t named = 0;
	struct ktypes_index *ix = calloc(1, sizeof(*ix));

	/* at most half full with the named types (vmlinux 6.1: 53k of 95k; the file is a
	 * quarter of what room for all types took, pages every start reads) */
	for (uint32_t id = first; id < n; id++)
		named += type_name(btf, id) != NULL;
	while (size < 2 * (uint64_t)named)
		size *= 2;
	if (!ix || !(ix->slots = calloc(size, sizeof(*ix->slots)))) {
		free(ix);
		return NULL;
	}
	ix->first = first;
	ix->mask = size - 1;
	for (uint32_t id = first; id < n; id++) {
		const char *name = type_name(btf, id);
		if (!name)
			continue;
		uint32_t h = name_hash(name) & ix->mask;
		while (ix->slots[h])
			h = (h + 1) & ix->mask;
		ix->slots[h] = id; /* ascending ids: the first match is the lowest, as in libbpf */
	}
	return ix;
}

static void index_free(struct ktypes_index *ix)
{
	if (!ix)
		return;
	if (!ix->map || ix->own_slots)
		free(ix->slots);
	if (ix->map) {
		file_cache_blocks_free(&ix->blocks);
		munmap(ix->map, ix->map_len);
	}
	free(ix);
}

/* A block of the mapped slots failed its check: the slots built anew from @btf (the mapped
 * offsets stay: they were checked whole at the start) and the file written anew. */
static bool index_rebuild(const struct kbtf *btf, struct ktypes_index *ix)
{
	struct ktypes_index *fresh;

	kvmdci_dbg(ix->kt->ctx, "ignoring the BTF name index %s: damaged (a block's checksum)",
		   ix->kt->vmlinux_ix_path);
	ix->lazy = false;
	if (!(fresh = index_build(btf)))
		return false;
	ix->slots = fresh->slots;
	ix->mask = fresh->mask;
	ix->first = fresh->first;
	ix->own_slots = true;
	free(fresh);
	index_save(ix->kt->ctx, ix->kt, btf, ix);
	return true;
}

/* kind -1: any kind (a typedef, an int...). */
static int32_t index_find(const struct kbtf *btf, struct ktypes_index *ix, const char *name,
			  int kind)
{
	uint32_t h = name_hash(name) & ix->mask;

	for (uint32_t n = 0; n <= ix->mask; n++, h = (h + 1) & ix->mask) {
		if (ix->lazy && (!file_cache_check(&ix->blocks, (size_t)h * sizeof(uint32_t),
						   sizeof(uint32_t)) ||
				 ix->slots[h] >= ix->type_cnt))
			return index_rebuild(btf, ix) ? index_find(btf, ix, name, kind)
						      : kbtf_find_by_name_kind(btf, name, kind);
		if (!ix->slots[h])
			break;
		const struct btf_type *t = kbtf_type_by_id(btf, ix->slots[h]);
		const char *tn = t ? kbtf_name_by_offset(btf, t->name_off) : NULL;
		if (tn && (kind < 0 || btf_kind(t) == kind) && !strcmp(tn, name))
			return (int32_t)ix->slots[h];
	}
	return -ENOENT;
}

/* vmlinux's index when the cache had none: built (and saved there, with the offsets). */
static struct ktypes_index *vmlinux_index(const struct ktypes *kt)
{
	struct ktypes_index *ix = index_build(kt->vmlinux);

	if (ix)
		index_save(kt->ctx, kt, kt->vmlinux, ix);
	return ix;
}

static int find_in(struct kbtf *btf, struct ktypes_dwarf *dw, struct ktypes_index **ixp,
		   const char *type, int32_t *id)
{
	int32_t r;
	int kind = -1;
	const char *name = type;

	if (dw)
		return ktypes_dwarf_find(dw, type, id);
	if (!strncmp(type, "struct ", 7)) {
		kind = BTF_KIND_STRUCT;
		name = type + 7;
	} else if (!strncmp(type, "union ", 6)) {
		kind = BTF_KIND_UNION;
		name = type + 6;
	} else if (!strncmp(type, "enum ", 5)) {
		kind = BTF_KIND_ENUM;
		name = type + 5;
	}
	if (!*ixp)
		*ixp = index_build(btf);
	if (*ixp)
		r = index_find(btf, *ixp, name, kind);
	else /* no memory for an index: a scan */
		r = kbtf_find_by_name_kind(btf, name, kind);
	if (r <= 0)
		return -ENOENT;
	*id = r;
	return 0;
}

int ktypes_find(struct ktypes *kt, const char *module, const char *type, struct kbtf **btf,
		int32_t *id)
{
	if (!kt->vmlinux)
		return -ENOENT;
	if (!kt->vmlinux_ix && !kt->vmlinux_dw && kt->vmlinux_ix_path[0])
		kt->vmlinux_ix = vmlinux_index(kt);
	if (module) {
		int i = module_index(kt, module);
		if (i < 0)
			return -ENOENT;
		if (find_in(kt->mods[i].btf, kt->mods[i].dw, &kt->mods[i].ix, type, id) == 0 ||
		    /* a split BTF also holds vmlinux's types, under the same ids */
		    (!kt->mods[i].dw && !kt->vmlinux_dw &&
		     find_in(kt->vmlinux, NULL, &kt->vmlinux_ix, type, id) == 0)) {
			*btf = kt->mods[i].btf;
			return 0;
		}
		return -ENOENT;
	}
	if (find_in(kt->vmlinux, kt->vmlinux_dw, &kt->vmlinux_ix, type, id) == 0) {
		*btf = kt->vmlinux;
		return 0;
	}
	for (int i = 0; i < kt->nmods; i++)
		if (find_in(kt->mods[i].btf, kt->mods[i].dw, &kt->mods[i].ix, type, id) == 0) {
			*btf = kt->mods[i].btf;
			return 0;
		}
	return -ENOENT;
}

int32_t ktypes_skip_mods(struct kbtf *btf, int32_t id)
{
	for (int i = 0; i < 32 && id > 0; i++) {
		const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
		if (!t)
			return -1;
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = (int32_t)t->type;
			break;
		default:
			return id;
		}
	}
	return id;
}

/* Find member @name in struct/union @id (searching anonymous members); adds its bit offset. */
static int find_member(struct kbtf *btf, int32_t id, const char *name, size_t nlen, uint64_t *bits,
		       int32_t *mid, uint32_t *bfsize, int depth)
{
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
	const struct btf_member *m;

	if (!t || depth > 8 || (!btf_is_struct(t) && !btf_is_union(t)))
		return -ENOENT;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = kbtf_name_by_offset(btf, m->name_off);
		if (mn && *mn) {
			if (strlen(mn) == nlen && !strncmp(mn, name, nlen)) {
				*bits += btf_member_bit_offset(t, (uint32_t)i);
				*bfsize = btf_member_bitfield_size(t, (uint32_t)i);
				*mid = (int32_t)m->type;
				return 0;
			}
			continue;
		}
		/* anonymous struct/union: look inside */
		uint64_t inner = 0;
		int32_t aid = ktypes_skip_mods(btf, (int32_t)m->type);
		if (find_member(btf, aid, name, nlen, &inner, mid, bfsize, depth + 1) == 0) {
			*bits += btf_member_bit_offset(t, (uint32_t)i) + inner;
			return 0;
		}
	}
	return -ENOENT;
}

int ktypes_resolve_path(struct kbtf *btf, int32_t id, const char *path, struct ktypes_loc *loc)
{
	uint64_t bits = 0;
	uint32_t bfsize = 0;
	const char *p = path;

	id = ktypes_skip_mods(btf, id);
	while (*p) {
		size_t n = strcspn(p, ".[");
		if (n > 0) {
			int32_t mid;
			if (find_member(btf, id, p, n, &bits, &mid, &bfsize, 0) < 0)
				return -ENOENT;
			id = ktypes_skip_mods(btf, mid);
			p += n;
		}
		while (*p == '[') {
			char *end;
			unsigned long idx = strtoul(p + 1, &end, 0);
			const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
			if (*end != ']' || !t || !btf_is_array(t))
				return -EINVAL;
			int32_t elem = ktypes_skip_mods(btf, (int32_t)btf_array(t)->type);
			long esz = kbtf_resolve_size(btf, (uint32_t)elem);
			if (esz < 0)
				return -EINVAL;
			bits += (uint64_t)idx * (uint64_t)esz * 8;
			id = elem;
			bfsize = 0;
			p = end + 1;
		}
		if (*p == '.')
			p++;
		else if (*p)
			return -EINVAL;
	}
	long sz = kbtf_resolve_size(btf, (uint32_t)id);
	loc->bit_offset = bits;
	loc->bitfield_size = bfsize;
	loc->size = sz < 0 ? 0 : (uint32_t)sz;
	loc->type_id = id;
	return 0;
}

long ktypes_size(struct kbtf *btf, int32_t id)
{
	return kbtf_resolve_size(btf, (uint32_t)id);
}
