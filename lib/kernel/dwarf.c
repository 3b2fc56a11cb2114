// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel types from DWARF through libdw, converted on demand into an in-memory BTF built with
 * libbpf's writer API, so that every consumer (member paths, capture expressions) stays on BTF.
 *
 * Finding a name without indexing a whole debug vmlinux (Debian's has neither .debug_names nor
 * .gdb_index, and aranges know no types): the top-level DIEs of each CU are scanned in order,
 * only as far as needed, and every complete (non-declaration) named type seen is remembered;
 * the first definition of a name wins. What was scanned is kept in an index on disk
 * (dwarf-index.c), so a later run seeks straight to the DIE.
 *
 * Conversion: a type is added after the types it contains (fields of a struct must follow the
 * struct in BTF), and pointers are added with a placeholder target, patched once everything
 * reachable has been converted; every C type cycle goes through a pointer, so this terminates.
 * Module debug files are relocatable objects: libdwfl applies their .rela.debug_* sections.
 */
#include <bpf/btf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/dwarf-internal.h"
#include "kernel/dwarf.h"
#include "kernel/dl-libs.h" /* last: libbpf's and libdw's functions through pointers */

#define MEMO_BUSY INT32_MIN /* a by-value type under conversion: a cycle means bad DWARF */
#define MAX_DEPTH 256

static int32_t *memo_slot(struct ktypes_dwarf *d, uint64_t off, bool add)
{
	uint64_t key = off + 1;
	size_t i;

	if (add && (d->nmemo + 1) * 2 > d->memo_cap) {
		size_t cap = d->memo_cap ? d->memo_cap * 2 : 4096;
		struct memo_ent *t = calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (size_t j = 0; j < d->memo_cap; j++) {
			if (!d->memo[j].key)
				continue;
			i = (d->memo[j].key * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
			while (t[i].key)
				i = (i + 1) & (cap - 1);
			t[i] = d->memo[j];
		}
		free(d->memo);
		d->memo = t;
		d->memo_cap = cap;
	}
	if (!d->memo_cap)
		return NULL;
	i = (key * 0x9e3779b97f4a7c15ull >> 20) & (d->memo_cap - 1);
	while (d->memo[i].key && d->memo[i].key != key)
		i = (i + 1) & (d->memo_cap - 1);
	if (d->memo[i].key)
		return &d->memo[i].id;
	if (!add)
		return NULL;
	d->memo[i].key = key;
	d->nmemo++;
	return &d->memo[i].id;
}

static int memo_set(struct ktypes_dwarf *d, uint64_t off, int32_t id)
{
	int32_t *p = memo_slot(d, off, true);

	if (!p)
		return -ENOMEM;
	*p = id;
	return 0;
}

static uint8_t tag_kind(int tag)
{
	switch (tag) {
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
		return NK_STRUCT;
	case DW_TAG_union_type:
		return NK_UNION;
	case DW_TAG_enumeration_type:
		return NK_ENUM;
	case DW_TAG_typedef:
		return NK_TYPEDEF;
	case DW_TAG_base_type:
		return NK_BASE;
	default:
		return 0;
	}
}

static int dw_error(struct ktypes_dwarf *d, const char *what)
{
	kvmdci_err(d->ctx, "DWARF of %s: %s: %s", d->path, what, dwarf_errmsg(-1));
	return -EINVAL;
}

/* ---- the lazy scan ---------------------------------------------------------------------- */

/* Index the top-level named type definitions of the CU at d->scan_off and step past it. */
static int scan_one_cu(struct ktypes_dwarf *d)
{
	Dwarf_Off next;
	size_t hsize;
	Dwarf_Die cu, c;
	int r = dwarf_next_unit(d->dw, d->scan_off, &next, &hsize, NULL, NULL, NULL, NULL, NULL,
				NULL);

	if (r > 0) {
		d->scan_done = true;
		d->dirty = true;
		return 0;
	}
	if (r < 0)
		return dw_error(d, "reading a unit header");
	if (!dwarf_offdie(d->dw, d->scan_off + hsize, &cu))
		return dw_error(d, "reading a unit DIE");
	if ((dwarf_tag(&cu) == DW_TAG_compile_unit || dwarf_tag(&cu) == DW_TAG_partial_unit) &&
	    (r = dwarf_child(&cu, &c)) == 0) {
		do {
			uint8_t kind = tag_kind(dwarf_tag(&c));
			const char *name;
			if (!kind || !(name = dwarf_diename(&c)) ||
			    dwarf_hasattr(&c, DW_AT_declaration))
				continue;
			if (dwarf_names_add(d, kind, name, dwarf_dieoffset(&c)) < 0)
				return -ENOMEM;
		} while ((r = dwarf_siblingof(&c, &c)) == 0);
	}
	if (r < 0)
		return dw_error(d, "reading the top-level DIEs of a unit");
	d->scan_off = next;
	d->dirty = true;
	return 0;
}

/* Find the first definition of any of @kinds named @name, scanning further CUs if needed. */
static int lookup(struct ktypes_dwarf *d, const uint8_t *kinds, int nkinds, const char *name,
		  uint64_t *off)
{
	for (;;) {
		for (int i = 0; i < nkinds; i++) {
			const struct name_ent *e = dwarf_names_get(d, kinds[i], name);
			if (e) {
				*off = e->off;
				return kinds[i];
			}
		}
		if (d->scan_done)
			return -ENOENT;
		int r = scan_one_cu(d);
		if (r < 0)
			return r;
	}
}

/* ---- DIE -> BTF ------------------------------------------------------------------------- */

static int conv(struct ktypes_dwarf *d, Dwarf_Die *die, int depth);

/* The BTF id of @die's DW_AT_type (0: void, no DW_AT_type). */
static int conv_ref(struct ktypes_dwarf *d, Dwarf_Die *die, int depth)
{
	Dwarf_Attribute a;
	Dwarf_Die t;

	if (!dwarf_attr_integrate(die, DW_AT_type, &a))
		return 0;
	if (!dwarf_formref_die(&a, &t))
		return dw_error(d, "following DW_AT_type");
	return conv(d, &t, depth + 1);
}

static int add_pending(struct ktypes_dwarf *d, int ptr_id, uint64_t target)
{
	if (d->npending == d->pending_cap) {
		size_t cap = d->pending_cap ? d->pending_cap * 2 : 256;
		struct pending_ptr *p = realloc(d->pending, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		d->pending = p;
		d->pending_cap = cap;
	}
	d->pending[d->npending++] = (struct pending_ptr){(uint32_t)ptr_id, target};
	return 0;
}

static int conv_base(struct ktypes_dwarf *d, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	int size = dwarf_bytesize(die), enc = 0, r;
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!name)
		name = "__unnamed_base";
	if (size < 0)
		size = 0;
	if (dwarf_attr(die, DW_AT_encoding, &a) && dwarf_formudata(&a, &w) == 0)
		enc = (int)w;
	switch (enc) {
	case DW_ATE_float:
		r = btf__add_float(d->btf, name, (size_t)size);
		break;
	case DW_ATE_boolean:
		r = btf__add_int(d->btf, name, (size_t)size, BTF_INT_BOOL);
		break;
	case DW_ATE_signed:
	case DW_ATE_signed_char:
		r = btf__add_int(d->btf, name, (size_t)size, BTF_INT_SIGNED);
		break;
	default:
		r = btf__add_int(d->btf, name, (size_t)size, 0);
		break;
	}
	/* sizes BTF has no int/float for (complex, 32-byte...): an opaque struct of that size */
	return r < 0 ? btf__add_struct(d->btf, name, (uint32_t)size) : r;
}

static int conv_array(struct ktypes_dwarf *d, Dwarf_Die *die, int depth)
{
	uint32_t dims[16];
	int n = 0, elem = conv_ref(d, die, depth), r;
	Dwarf_Die c;

	if (elem < 0)
		return elem;
	if (!d->index_type) {
		if ((r = btf__add_int(d->btf, "__ARRAY_SIZE_TYPE__", 4, 0)) < 0)
			return r;
		d->index_type = r;
	}
	if ((r = dwarf_child(die, &c)) == 0) {
		do {
			Dwarf_Attribute a;
			Dwarf_Word w = 0, lo = 0;
			uint64_t cnt = 0;
			if (dwarf_tag(&c) != DW_TAG_subrange_type || n == (int)ARRAY_SIZE(dims))
				continue;
			if (dwarf_attr(&c, DW_AT_count, &a) && dwarf_formudata(&a, &w) == 0) {
				cnt = w;
			} else if (dwarf_attr(&c, DW_AT_upper_bound, &a) &&
				   dwarf_formudata(&a, &w) == 0) {
				if (dwarf_attr(&c, DW_AT_lower_bound, &a))
					dwarf_formudata(&a, &lo);
				/* "x[0]" may come as upper bound -1 */
				cnt = (w == (Dwarf_Word)-1 || w == 0xffffffffu || w + 1 < lo)
					      ? 0
					      : w + 1 - lo;
			}
			dims[n++] = cnt > UINT32_MAX ? UINT32_MAX : (uint32_t)cnt;
		} while ((r = dwarf_siblingof(&c, &c)) == 0);
	}
	if (r < 0)
		return dw_error(d, "reading array bounds");
	if (!n)
		dims[n++] = 0;
	for (int i = n - 1; i >= 0 && elem >= 0; i--)
		elem = btf__add_array(d->btf, d->index_type, elem, dims[i]);
	return elem;
}

struct field {
	const char *name;
	int type;
	uint64_t bit_off;
	uint32_t bit_size;
};

/* A member's bit offset and bitfield size, for both DWARF 4+ and DWARF 2/3 bitfields. */
static int member_bits(struct ktypes_dwarf *d, Dwarf_Die *m, uint64_t *bits, uint32_t *bsize)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	*bits = 0;
	*bsize = 0;
	if (dwarf_attr(m, DW_AT_bit_size, &a) && dwarf_formudata(&a, &w) == 0)
		*bsize = w > 255 ? 255 : (uint32_t)w;
	if (dwarf_attr(m, DW_AT_data_bit_offset, &a) && dwarf_formudata(&a, &w) == 0) {
		*bits = w;
		return 0;
	}
	if (dwarf_attr(m, DW_AT_data_member_location, &a)) {
		Dwarf_Op *ops;
		size_t nops;
		if (dwarf_whatform(&a) != DW_FORM_block1 && dwarf_whatform(&a) != DW_FORM_exprloc &&
		    dwarf_formudata(&a, &w) == 0)
			*bits = w * 8;
		else if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
			 ops[0].atom == DW_OP_plus_uconst)
			*bits = ops[0].number * 8;
		else
			return dw_error(d, "a member location that is not a constant");
	}
	if (*bsize && dwarf_attr(m, DW_AT_bit_offset, &a) && dwarf_formudata(&a, &w) == 0) {
		/* DWARF 2/3: counted from the most significant bit of the storage unit */
		int storage = dwarf_bytesize(m);
		Dwarf_Attribute ta;
		Dwarf_Die t;
		if (storage < 0 && dwarf_attr_integrate(m, DW_AT_type, &ta) &&
		    dwarf_formref_die(&ta, &t)) {
			Dwarf_Word sz;
			storage = dwarf_aggregate_size(&t, &sz) == 0 ? (int)sz : -1;
		}
		if (storage < 0 || (uint64_t)storage * 8 < w + *bsize)
			return dw_error(d, "a bitfield without a storage size");
		*bits += (uint64_t)storage * 8 - w - *bsize;
	}
	return 0;
}

static int conv_struct(struct ktypes_dwarf *d, Dwarf_Die *die, int depth)
{
	const char *name = dwarf_diename(die);
	bool is_union = dwarf_tag(die) == DW_TAG_union_type;
	struct field *f = NULL, *nf;
	size_t n = 0, cap = 0;
	int size = dwarf_bytesize(die), id, r = 0;
	Dwarf_Die c;

	if (dwarf_hasattr(die, DW_AT_declaration) && name)
		return btf__add_fwd(d->btf, name, is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT);
	if ((r = dwarf_child(die, &c)) == 0) {
		do {
			struct field m = {dwarf_diename(&c), 0, 0, 0};
			if (dwarf_tag(&c) != DW_TAG_member)
				continue;
			if ((m.type = conv_ref(d, &c, depth)) < 0 ||
			    (r = member_bits(d, &c, &m.bit_off, &m.bit_size)) < 0) {
				r = m.type < 0 ? m.type : r;
				goto out;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				if (!(nf = realloc(f, cap * sizeof(*f)))) {
					r = -ENOMEM;
					goto out;
				}
				f = nf;
			}
			f[n++] = m;
		} while ((r = dwarf_siblingof(&c, &c)) == 0);
	}
	if (r < 0) {
		r = dw_error(d, "reading struct members");
		goto out;
	}
	id = is_union ? btf__add_union(d->btf, name, size < 0 ? 0 : (uint32_t)size)
		      : btf__add_struct(d->btf, name, size < 0 ? 0 : (uint32_t)size);
	if ((r = id) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (f[i].bit_off > INT_MAX ||
		    btf__add_field(d->btf, f[i].name, f[i].type, (uint32_t)f[i].bit_off,
				   f[i].bit_size) < 0)
			kvmdci_dbg(d->ctx, "%s: %s %s: member %s does not fit BTF, left out",
				   d->path, is_union ? "union" : "struct", name ? name : "(anon)",
				   f[i].name ? f[i].name : "(anon)");
	}
out:
	free(f);
	return r;
}

static int conv_enum(struct ktypes_dwarf *d, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	int size = dwarf_bytesize(die), r, id = 0;
	bool is_signed = false, wide = false;
	Dwarf_Attribute a;
	Dwarf_Die c, t;

	if (dwarf_hasattr(die, DW_AT_declaration) && name)
		return btf__add_fwd(d->btf, name, BTF_FWD_ENUM);
	if (size <= 0 || size > 8)
		size = 4;
	if (dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, &t) &&
	    dwarf_attr(&t, DW_AT_encoding, &a)) {
		Dwarf_Word enc;
		is_signed = dwarf_formudata(&a, &enc) == 0 &&
			    (enc == DW_ATE_signed || enc == DW_ATE_signed_char);
	}
	/* two passes over the enumerators: does any need ENUM64? then add them */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			id = wide ? btf__add_enum64(d->btf, name, (uint32_t)size, is_signed)
				  : btf__add_enum(d->btf, name, (uint32_t)size);
			if (id < 0)
				return id;
		}
		if ((r = dwarf_child(die, &c)) > 0)
			continue;
		if (r < 0)
			return dw_error(d, "reading enumerators");
		do {
			Dwarf_Word w;
			Dwarf_Sword s;
			int64_t v;
			if (dwarf_tag(&c) != DW_TAG_enumerator ||
			    !dwarf_attr(&c, DW_AT_const_value, &a))
				continue;
			if (dwarf_whatform(&a) == DW_FORM_sdata ||
			    dwarf_whatform(&a) == DW_FORM_implicit_const) {
				if (dwarf_formsdata(&a, &s) != 0)
					continue;
				v = s;
			} else {
				if (dwarf_formudata(&a, &w) != 0)
					continue;
				v = (int64_t)w;
				if (is_signed && size < 8 && (w >> (size * 8 - 1)) & 1)
					v = (int64_t)(w | ~0ull << (size * 8)); /* sign-extend */
			}
			if (pass == 0) {
				wide |= v < INT32_MIN || v > (int64_t)UINT32_MAX;
				continue;
			}
			r = wide ? btf__add_enum64_value(d->btf, dwarf_diename(&c), (uint64_t)v)
				 : btf__add_enum_value(d->btf, dwarf_diename(&c), v);
			if (r < 0)
				return r;
		} while ((r = dwarf_siblingof(&c, &c)) == 0);
		if (r < 0)
			return dw_error(d, "reading enumerators");
	}
	return id;
}

static int conv_proto(struct ktypes_dwarf *d, Dwarf_Die *die, int depth)
{
	int ret = conv_ref(d, die, depth), id, r, *types = NULL, *nt;
	size_t n = 0, cap = 0;
	Dwarf_Die c;

	if (ret < 0)
		return ret;
	if ((r = dwarf_child(die, &c)) == 0) {
		do {
			int tag = dwarf_tag(&c), t = 0;
			if (tag != DW_TAG_formal_parameter && tag != DW_TAG_unspecified_parameters)
				continue;
			if (tag == DW_TAG_formal_parameter && (t = conv_ref(d, &c, depth)) < 0) {
				free(types);
				return t;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				if (!(nt = realloc(types, cap * sizeof(*types)))) {
					free(types);
					return -ENOMEM;
				}
				types = nt;
			}
			types[n++] = t; /* 0: "..." */
		} while ((r = dwarf_siblingof(&c, &c)) == 0);
	}
	if (r < 0) {
		free(types);
		return dw_error(d, "reading function parameters");
	}
	id = btf__add_func_proto(d->btf, ret);
	for (size_t i = 0; id >= 0 && i < n; i++)
		if ((r = btf__add_func_param(d->btf, NULL, types[i])) < 0)
			id = r;
	free(types);
	return id;
}

/* Convert one type DIE (memoized); pointers get their target later, in drain_pending(). */
static int conv(struct ktypes_dwarf *d, Dwarf_Die *die, int depth)
{
	uint64_t off = dwarf_dieoffset(die);
	int32_t *memo = memo_slot(d, off, false);
	int tag = dwarf_tag(die), id, r;

	if (memo)
		return *memo == MEMO_BUSY ? -ELOOP : *memo;
	if (depth > MAX_DEPTH)
		return -ELOOP;
	if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type ||
	    tag == DW_TAG_rvalue_reference_type) {
		Dwarf_Attribute a;
		Dwarf_Die t;
		if ((id = btf__add_ptr(d->btf, 0)) < 0)
			return id;
		if (dwarf_attr_integrate(die, DW_AT_type, &a)) {
			if (!dwarf_formref_die(&a, &t))
				return dw_error(d, "following a pointer's DW_AT_type");
			if ((r = add_pending(d, id, dwarf_dieoffset(&t))) < 0)
				return r;
		}
		return memo_set(d, off, id) < 0 ? -ENOMEM : id;
	}
	if (memo_set(d, off, MEMO_BUSY) < 0)
		return -ENOMEM;
	switch (tag) {
	case DW_TAG_base_type:
		id = conv_base(d, die);
		break;
	case DW_TAG_const_type:
		id = conv_ref(d, die, depth);
		id = id < 0 ? id : btf__add_const(d->btf, id);
		break;
	case DW_TAG_volatile_type:
		id = conv_ref(d, die, depth);
		id = id < 0 ? id : btf__add_volatile(d->btf, id);
		break;
	case DW_TAG_restrict_type:
		id = conv_ref(d, die, depth);
		id = id < 0 ? id : btf__add_restrict(d->btf, id);
		break;
	case DW_TAG_atomic_type: /* BTF has no _Atomic: the plain type */
		id = conv_ref(d, die, depth);
		break;
	case DW_TAG_typedef:
		id = conv_ref(d, die, depth);
		if (id >= 0 && dwarf_diename(die))
			id = btf__add_typedef(d->btf, dwarf_diename(die), id);
		break;
	case DW_TAG_array_type:
		id = conv_array(d, die, depth);
		break;
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
	case DW_TAG_union_type:
		id = conv_struct(d, die, depth);
		break;
	case DW_TAG_enumeration_type:
		id = conv_enum(d, die);
		break;
	case DW_TAG_subroutine_type:
		id = conv_proto(d, die, depth);
		break;
	default: /* DW_TAG_unspecified_type and anything not a C type: void */
		id = 0;
		break;
	}
	*memo_slot(d, off, false) = id; /* an error too: the same answer next time */
	return id;
}

/* Convert every pointer target still owed, patching the pointers' placeholder targets. */
static int drain_pending(struct ktypes_dwarf *d)
{
	while (d->npending) {
		struct pending_ptr p = d->pending[--d->npending];
		struct btf_type *t;
		Dwarf_Die die;
		int id;
		if (!dwarf_offdie(d->dw, p.target, &die))
			return dw_error(d, "reading a pointer's target type");
		if ((id = conv(d, &die, 0)) < 0)
			return id;
		/* a BTF we created is writable; a PTR's target is patched in place */
		t = (struct btf_type *)btf__type_by_id(d->btf, p.ptr_id);
		t->type = (uint32_t)id;
	}
	return 0;
}

/* ---- the interface ---------------------------------------------------------------------- */

int ktypes_dwarf_probe(const char *path, bool *has_btf, bool *has_dwarf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	*has_btf = *has_dwarf = false;
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		r = -ENOEXEC; /* not an ELF: a raw BTF file, for one */
	} else if (elf_getshdrstrndx(elf, &shstrndx) < 0) {
		r = -EINVAL;
	} else {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *n;
			if (!gelf_getshdr(scn, &sh) || !(n = elf_strptr(elf, shstrndx, sh.sh_name)))
				continue;
			if (!strcmp(n, ".BTF") && sh.sh_size > 0 && sh.sh_type != SHT_NOBITS)
				*has_btf = true;
			if (!strcmp(n, ".debug_info") && sh.sh_size > 0 && sh.sh_type != SHT_NOBITS)
				*has_dwarf = true;
		}
	}
	elf_end(elf);
	close(fd);
	return r;
}

/* libdwfl callback: the debug file is the file itself; look nowhere else (no debuginfod). */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			char **debuginfo_file_name)
{
	return -1;
}

/* libdw's own, called through its pointer (kernel/dl-libs.h) */
static int section_address(Dwfl_Module *mod, void **userdata, const char *modname,
			   Dwarf_Addr base, const char *secname, GElf_Word shndx,
			   const GElf_Shdr *shdr, Dwarf_Addr *addr)
{
	return dwfl_offline_section_address(mod, userdata, modname, base, secname, shndx, shdr,
					    addr);
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_debuginfo = no_debuginfo,
	.section_address = section_address,
};

/* A file cut short (an interrupted copy or download) is named as such, not as "no DWARF". */
static int check_extent(struct ktypes_dwarf *d, const GElf_Ehdr *eh)
{
	Elf_Scn *scn = NULL;

	if (eh->e_shoff + (uint64_t)eh->e_shnum * eh->e_shentsize > d->file_size) {
		kvmdci_err(d->ctx, "%s is truncated: its section headers end past its %llu bytes",
			   d->path, (unsigned long long)d->file_size);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
		    sh.sh_offset + sh.sh_size > d->file_size) {
			kvmdci_err(d->ctx, "%s is truncated: section %zu ends past its %llu bytes",
				   d->path, elf_ndxscn(scn), (unsigned long long)d->file_size);
			return -EINVAL;
		}
	}
	return 0;
}

int ktypes_dwarf_open(struct kvmdci_ctx *ctx, const char *path, struct ktypes_dwarf **ret)
{
	struct ktypes_dwarf *d = calloc(1, sizeof(*d));
	GElf_Ehdr eh;
	struct stat st;
	int r;

	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->ctx = kvmdci_ctx_ref(ctx);
	snprintf(d->path, sizeof(d->path), "%s", path);
	elf_version(EV_CURRENT);
	if ((d->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(d->fd, &st) < 0) {
		r = -errno;
		kvmdci_err(ctx, "cannot open %s: %s", path, strerror(-r));
		goto fail;
	}
	d->file_size = (uint64_t)st.st_size;
	if (!(d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL)) || !gelf_getehdr(d->elf, &eh)) {
		kvmdci_err(ctx, "%s is not a readable ELF file: %s", path, elf_errmsg(-1));
		r = -ENOEXEC;
		goto fail;
	}
	if ((r = check_extent(d, &eh)) < 0)
		goto fail;
	if (eh.e_type == ET_REL) {
		Dwfl_Module *mod;
		Dwarf_Addr bias;
		if (!(d->dwfl = dwfl_begin(&offline_callbacks)) ||
		    !(mod = dwfl_report_offline(d->dwfl, "module", path, -1)) ||
		    dwfl_report_end(d->dwfl, NULL, NULL) != 0 ||
		    !(d->dw = dwfl_module_getdwarf(mod, &bias))) {
			kvmdci_err(ctx, "cannot read the DWARF of %s: %s", path, dwfl_errmsg(-1));
			r = -EINVAL;
			goto fail;
		}
	} else if (!(d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL))) {
		kvmdci_err(ctx, "cannot read the DWARF of %s: %s", path, dwarf_errmsg(-1));
		r = -EINVAL;
		goto fail;
	}
	if (!(d->btf = btf__new_empty())) {
		r = -ENOMEM;
		goto fail;
	}
	dwarf_index_path(d);
	dwarf_index_load(d);
	kvmdci_info(ctx, "types: DWARF from %s (%s; name index %s: %zu names%s)", path,
		    eh.e_type == ET_REL ? "relocatable, via libdwfl" : "libdw",
		    d->idx_path[0] ? d->idx_path : "off", d->nnames,
		    d->scan_done ? ", complete" : "");
	*ret = d;
	return 0;
fail:
	ktypes_dwarf_free(d);
	return r;
}

void ktypes_dwarf_free(struct ktypes_dwarf *d)
{
	if (!d)
		return;
	if (d->dw)
		dwarf_index_save(d);
	if (d->dwfl)
		dwfl_end(d->dwfl);
	else if (d->dw)
		dwarf_end(d->dw);
	if (d->elf)
		elf_end(d->elf);
	if (d->fd >= 0)
		close(d->fd);
	btf__free(d->btf);
	free(d->names);
	free(d->name_blob);
	free(d->memo);
	free(d->pending);
	kvmdci_ctx_unref(d->ctx);
	free(d);
}

struct btf *ktypes_dwarf_btf(struct ktypes_dwarf *d)
{
	return d->btf;
}

int ktypes_dwarf_find(struct ktypes_dwarf *d, const char *type, int32_t *id)
{
	static const uint8_t any[] = {NK_TYPEDEF, NK_BASE, NK_STRUCT, NK_UNION, NK_ENUM};
	static const uint8_t st[] = {NK_STRUCT}, un[] = {NK_UNION}, en[] = {NK_ENUM};
	const uint8_t *kinds = any;
	int nkinds = ARRAY_SIZE(any), kind, r;
	const char *name = type, *dn;
	uint64_t off;
	Dwarf_Die die;

	if (!strncmp(type, "struct ", 7))
		kinds = st, nkinds = 1, name = type + 7;
	else if (!strncmp(type, "union ", 6))
		kinds = un, nkinds = 1, name = type + 6;
	else if (!strncmp(type, "enum ", 5))
		kinds = en, nkinds = 1, name = type + 5;
	if (!*name)
		return -EINVAL;
	for (int attempt = 0;; attempt++) {
		kind = lookup(d, kinds, nkinds, name, &off);
		if (kind == -ENOENT || (kind < 0 && (attempt || !d->name_blob)))
			return kind;
		if (kind > 0 && dwarf_offdie(d->dw, off, &die) &&
		    tag_kind(dwarf_tag(&die)) == kind && (dn = dwarf_diename(&die)) &&
		    !strcmp(dn, name))
			break;
		if (attempt) /* found by our own scan, and still not there */
			return dw_error(d, "re-reading a type DIE");
		/* a wrong entry or resume point read from the disk index: start over */
		kvmdci_dbg(d->ctx, "DWARF name index %s does not match %s; rescanning", d->idx_path,
			   d->path);
		dwarf_names_reset(d);
		d->dirty = true;
	}
	r = conv(d, &die, 0);
	if (r >= 0) {
		int e = drain_pending(d);
		r = e < 0 ? e : r;
	}
	if (r < 0) {
		kvmdci_err(d->ctx, "DWARF of %s: cannot convert %s: %s", d->path, type,
			   strerror(-r));
		return r;
	}
	kvmdci_dbg(d->ctx, "%s: %s is BTF id %d (%u BTF types so far)", d->path, type, r,
		   btf__type_cnt(d->btf));
	*id = r;
	return 0;
}

