// SPDX-License-Identifier: LGPL-2.1-or-later
/* Raw BTF read in place, or a libbpf BTF behind the same accessors (kernel/kbtf.h). */
#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/kbtf.h"
#include "kernel/dl-libs.h" /* last: libbpf's functions through pointers */

struct kbtf {
	struct btf *lb; /* wrapped: everything is libbpf's */
	bool lb_own;
	const struct kbtf *base;
	const uint8_t *types;
	const char *strs;
	uint32_t type_len, str_len;
	uint32_t start_id;  /* the first own id: 1, or the base's type count */
	uint32_t start_str; /* the base's string bytes: own strings start there */
	uint32_t n;	    /* own types */
	const uint32_t *offs;
	uint32_t *offs_alloc;
	bool offs_cached; /* offs came from the caller's cache: a record that does not fit them
			   * makes a walk replace them */
	void *map;
	size_t map_len;
	bool own;
};

static const struct btf_type void_type;

/* The bytes of one type record, as the BTF format defines them per kind; -1: unknown kind. */
static long type_size(const struct btf_type *t)
{
	long vlen = btf_vlen(t), hdr = (long)sizeof(*t);

	switch (btf_kind(t)) {
	case BTF_KIND_FWD:
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return hdr;
	case BTF_KIND_INT:
		return hdr + 4;
	case BTF_KIND_ENUM:
		return hdr + vlen * (long)sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return hdr + vlen * (long)sizeof(struct btf_enum64);
	case BTF_KIND_ARRAY:
		return hdr + (long)sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return hdr + vlen * (long)sizeof(struct btf_member);
	case BTF_KIND_FUNC_PROTO:
		return hdr + vlen * (long)sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return hdr + (long)sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return hdr + vlen * (long)sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return hdr + (long)sizeof(struct btf_decl_tag);
	default:
		return -1;
	}
}

/* The types' offsets by a walk of the type section (they replace b->offs only when the walk
 * succeeds); false when a record is malformed. */
static bool walk(struct kbtf *b, const char **why)
{
	uint32_t cap = 1024, n = 0, off = 0;
	uint32_t *o = malloc(cap * sizeof(*o));

	if (!o)
		return false;
	while (off < b->type_len) {
		const struct btf_type *t = (const struct btf_type *)(b->types + off);
		long sz;
		if (b->type_len - off < sizeof(*t) || (sz = type_size(t)) < 0 ||
		    (uint64_t)sz > b->type_len - off) {
			*why = sz < 0 && b->type_len - off >= sizeof(*t)
				       ? "a type of an unknown kind"
				       : "a type record runs past the type section";
			free(o);
			errno = EINVAL;
			return false;
		}
		if (n == cap) {
			uint32_t *p = realloc(o, 2 * (size_t)cap * sizeof(*o));
			if (!p) {
				free(o);
				return false;
			}
			o = p;
			cap *= 2;
		}
		o[n++] = off;
		off += (uint32_t)sz;
	}
	free(b->offs_alloc);
	b->offs = b->offs_alloc = o;
	b->n = n;
	b->offs_cached = false;
	return true;
}

struct kbtf *kbtf_new(const void *data, uint32_t size, const struct kbtf *base, void *map,
		      size_t map_len, bool own, const uint32_t *offs, uint32_t noffs,
		      const char **why)
{
	const struct btf_header *h = data;
	struct kbtf *b;

	*why = NULL;
	if (size < sizeof(*h) || h->magic != BTF_MAGIC)
		*why = size >= 2 && h->magic == 0x9feb ? "byte-swapped BTF" : "no BTF magic";
	else if (h->hdr_len < sizeof(*h) || h->hdr_len > size)
		*why = "a header length past the data";
	else if ((uint64_t)h->str_off + h->str_len > size - h->hdr_len ||
		 (uint64_t)h->type_off + h->type_len > h->str_off || h->type_off % 4)
		*why = "sections past the data, overlapping or misaligned";
	else if (base ? h->str_len && ((const char *)data)[h->hdr_len + h->str_off + h->str_len - 1]
		      : !h->str_len || ((const char *)data)[h->hdr_len + h->str_off] ||
				((const char *)data)[h->hdr_len + h->str_off + h->str_len - 1])
		*why = "a string section not ending in a NUL (or a base's not starting with one)";
	else if ((uintptr_t)((const uint8_t *)data + h->hdr_len + h->type_off) % 4)
		*why = "its type section is not 4-byte aligned";
	else if (base && base->lb)
		*why = "a base BTF that is not read in place";
	if (*why) {
		errno = EINVAL;
		return NULL;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return NULL;
	b->base = base;
	b->types = (const uint8_t *)data + h->hdr_len + h->type_off;
	b->type_len = h->type_len;
	b->strs = (const char *)data + h->hdr_len + h->str_off;
	b->str_len = h->str_len;
	b->start_id = base ? kbtf_type_cnt(base) : 1;
	b->start_str = base ? base->start_str + base->str_len : 0;
	if (offs) {
		/* from a cache: increasing, aligned, inside the section (each record's own length
		 * is checked when it is looked up) */
		bool ok = noffs > 0 && offs[0] == 0 && b->type_len >= sizeof(struct btf_type);
		for (uint32_t i = 1; ok && i < noffs; i++)
			ok = offs[i] > offs[i - 1] && offs[i] % 4 == 0 &&
			     offs[i] <= b->type_len - sizeof(struct btf_type);
		if (ok) { /* and the last record ends the section */
			long sz = type_size((const struct btf_type *)(b->types + offs[noffs - 1]));
			ok = sz > 0 && (uint64_t)offs[noffs - 1] + (uint64_t)sz == b->type_len;
		}
		if (ok) {
			b->offs = offs;
			b->n = noffs;
			b->offs_cached = true;
		}
	}
	if (!b->offs && !walk(b, why)) {
		int e = errno;
		free(b);
		errno = e;
		return NULL;
	}
	if ((uint64_t)b->start_id + b->n > INT32_MAX) {
		*why = "too many types";
		free(b->offs_alloc);
		free(b);
		errno = EINVAL;
		return NULL;
	}
	b->map = map;
	b->map_len = map_len;
	b->own = own;
	return b;
}

struct kbtf *kbtf_wrap(struct btf *btf, bool own)
{
	struct kbtf *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->lb = btf;
	b->lb_own = own;
	return b;
}

void kbtf_free(struct kbtf *b)
{
	if (!b)
		return;
	if (b->lb && b->lb_own)
		btf__free(b->lb);
	free(b->offs_alloc);
	if (b->own && b->map_len)
		munmap(b->map, b->map_len);
	else if (b->own)
		free(b->map);
	free(b);
}

struct btf *kbtf_libbpf(const struct kbtf *b)
{
	return b->lb;
}

const struct kbtf *kbtf_base(const struct kbtf *b)
{
	return b->base;
}

uint32_t kbtf_type_cnt(const struct kbtf *b)
{
	return b->lb ? btf__type_cnt(b->lb) : b->start_id + b->n;
}

const struct btf_type *kbtf_type_by_id(const struct kbtf *b, uint32_t id)
{
	if (b->lb)
		return btf__type_by_id(b->lb, id);
	if (id == 0)
		return &void_type;
	if (id < b->start_id)
		return b->base ? kbtf_type_by_id(b->base, id) : NULL;
	if (id - b->start_id >= b->n) {
		errno = EINVAL;
		return NULL;
	}
	uint32_t i = id - b->start_id, off = b->offs[i];
	uint32_t end = i + 1 < b->n ? b->offs[i + 1] : b->type_len;
	const struct btf_type *t = (const struct btf_type *)(b->types + off);
	long sz = type_size(t);
	/* a record must end where the next begins (offsets from a cache: never trusted to) */
	if (sz < 0 || (uint64_t)off + (uint64_t)sz > end) {
		const char *why;
		/* offsets from a cache that do not fit the file after all: walk it (the kbtf is
		 * the caller's const handle; its offsets are its own business) */
		if (b->offs_cached) {
			((struct kbtf *)b)->offs_cached = false; /* one walk at most */
			if (walk((struct kbtf *)b, &why))
				return kbtf_type_by_id(b, id);
		}
		errno = EINVAL;
		return NULL;
	}
	return t;
}

const char *kbtf_name_by_offset(const struct kbtf *b, uint32_t off)
{
	if (b->lb)
		return btf__name_by_offset(b->lb, off);
	if (off < b->start_str)
		return b->base ? kbtf_name_by_offset(b->base, off) : NULL;
	if (off - b->start_str < b->str_len)
		return b->strs + (off - b->start_str);
	errno = EINVAL;
	return NULL;
}

long kbtf_resolve_size(const struct kbtf *b, uint32_t id)
{
	const struct btf_type *t;
	uint32_t nelems = 1;
	int64_t size = -1;

	if (b->lb)
		return (long)btf__resolve_size(b->lb, id);
	t = kbtf_type_by_id(b, id);
	/* as libbpf's btf__resolve_size(): through at most 32 typedefs, modifiers, arrays */
	for (int i = 0; i < 32 && t && btf_kind(t) != BTF_KIND_UNKN; i++) {
		switch (btf_kind(t)) {
		case BTF_KIND_INT:
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION:
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64:
		case BTF_KIND_DATASEC:
		case BTF_KIND_FLOAT:
			size = t->size;
			goto done;
		case BTF_KIND_PTR:
			size = 8; /* the kernels debugged are x86-64 (libbpf: ELFCLASS64's) */
			goto done;
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_CONST:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_VAR:
		case BTF_KIND_DECL_TAG:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			break;
		case BTF_KIND_ARRAY:
			if (nelems && btf_array(t)->nelems > UINT32_MAX / nelems)
				return -E2BIG;
			nelems *= btf_array(t)->nelems;
			id = btf_array(t)->type;
			break;
		default:
			return -EINVAL;
		}
		t = kbtf_type_by_id(b, id);
	}
done:
	if (size < 0)
		return -EINVAL;
	if (nelems && size > UINT32_MAX / nelems)
		return -E2BIG;
	return (long)(nelems * size);
}

int32_t kbtf_find_by_name_kind(const struct kbtf *b, const char *name, int kind)
{
	if (b->lb) {
		int32_t r = kind < 0 ? btf__find_by_name(b->lb, name)
				     : btf__find_by_name_kind(b->lb, name, (uint32_t)kind);
		return r < 0 ? -ENOENT : r;
	}
	if (!strcmp(name, "void"))
		return 0;
	for (uint32_t id = 1, n = kbtf_type_cnt(b); id < n; id++) {
		const struct btf_type *t = kbtf_type_by_id(b, id);
		const char *tn = t && (kind < 0 || btf_kind(t) == kind)
					 ? kbtf_name_by_offset(b, t->name_off)
					 : NULL;
		if (tn && !strcmp(tn, name))
			return (int32_t)id;
	}
	return -ENOENT;
}

bool kbtf_sections(const struct kbtf *b, uint32_t *type_len, uint32_t *str_len)
{
	if (b->lb)
		return false;
	*type_len = b->type_len;
	*str_len = b->str_len;
	return true;
}

const uint32_t *kbtf_offsets(const struct kbtf *b, uint32_t *n)
{
	*n = b->lb ? 0 : b->n;
	return b->lb ? NULL : b->offs;
}
