// SPDX-License-Identifier: LGPL-2.1-or-later
/* The kernel view's type lookups: types, members, enumerators (BTF, or DWARF as BTF). */
#include <bpf/btf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-view.h"

int kernel_type(struct kvmdci_kernel *k, const char *module, const char *type, struct kbtf **btf,
		int32_t *id)
{
	if (ktypes_find(&k->types, module, type, btf, id) == 0)
		return 0;
	kvmdci_set_error(k->ctx, "type info: no %s%s%s in %s", type, module ? " in module " : "",
			 module ? module : "", k->types.vmlinux_path);
	return -ENOENT;
}

/*
 * The lookups of a walk repeat: decoding each vCPU or device resolves the same dozen member
 * paths and enumerators again (about 30 us a vCPU, more than the walk's reads on a dump).
 * What was found is kept per kernel view in a small hash table: the types never change once
 * loaded, and only answers found are kept, with members a type found has not (a type not
 * found is looked for again, so types added later still count). A key longer than 256
 * bytes, or one whose neighbourhood of slots is full, is not kept.
 */
#define MEMO_SLOTS 1024 /* a power of two */
#define MEMO_PROBE 8

struct ktypes_memo {
	struct memo_slot {
		char *key; /* kind, module, type, member path or enumerator: each NUL-ended */
		size_t len;
		struct ktypes_loc loc;
		int64_t val;
		int err; /* a member the type has not: the error, else 0 */
	} s[MEMO_SLOTS];
};

/* @key (at most @cap bytes) from its parts; its length, 0 when too long to keep */
static size_t memo_key(char *key, size_t cap, char kind, const char *module, const char *type,
		       const char *name)
{
	const char *parts[3] = { module ? module : "", type, name };
	size_t n = 1;

	key[0] = kind;
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(parts[i]) + 1;
		if (n + l > cap)
			return 0;
		memcpy(key + n, parts[i], l);
		n += l;
	}
	return n;
}

/* The slot of the key (found, or free to fill: ->key NULL); NULL when it is not kept. */
static struct memo_slot *memo_slot(struct kvmdci_kernel *k, const char *key, size_t len)
{
	if (!len || (!k->memo && !(k->memo = calloc(1, sizeof(*k->memo)))))
		return NULL;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	for (int i = 0; i < MEMO_PROBE; i++) {
		struct memo_slot *s = &k->memo->s[(h + (uint32_t)i) & (MEMO_SLOTS - 1)];
		if (!s->key || (s->len == len && !memcmp(s->key, key, len)))
			return s;
	}
	return NULL;
}

/* Keep @key in the free slot @s (nothing when out of memory). */
static bool memo_fill(struct memo_slot *s, const char *key, size_t len)
{
	if (!(s->key = malloc(len)))
		return false;
	memcpy(s->key, key, len);
	s->len = len;
	return true;
}

void kernel_memo_free(struct kvmdci_kernel *k)
{
	if (!k->memo)
		return;
	for (int i = 0; i < MEMO_SLOTS; i++)
		free(k->memo->s[i].key);
	free(k->memo);
	k->memo = NULL;
}

int kernel_member(struct kvmdci_kernel *k, const char *module, const char *type, const char *path,
		  struct ktypes_loc *loc)
{
	char key[256];
	size_t len = memo_key(key, sizeof(key), 'm', module, type, path);
	struct memo_slot *s = memo_slot(k, key, len);
	struct kbtf *btf;
	int32_t id;

	if (s && s->key) {
		if (s->err)
			kvmdci_set_error(k->ctx, "type info: %s has no member %s", type, path);
		else
			*loc = s->loc;
		return s->err;
	}
	int r = kernel_type(k, module, type, &btf, &id);
	if (r < 0)
		return r;
	r = ktypes_resolve_path(btf, id, path, loc);
	if (r < 0)
		kvmdci_set_error(k->ctx, "type info: %s has no member %s", type, path);
	/* kept: a member found, or one its type (found: the types never change) has not */
	if (s && memo_fill(s, key, len)) {
		s->err = r < 0 ? r : 0;
		if (r == 0)
			s->loc = *loc;
	}
	return r;
}

int kernel_member_offset(struct kvmdci_kernel *k, const char *module, const char *type,
			 const char *path, uint64_t *off, uint64_t *size)
{
	struct ktypes_loc loc;
	int r = kernel_member(k, module, type, path, &loc);

	if (r < 0)
		return r;
	*off = loc.bit_offset / 8;
	if (size)
		*size = loc.size;
	return 0;
}

int kernel_fields_resolve(struct kvmdci_kernel *k, const char *module, const struct kernel_field *f,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = kernel_member_offset(k, module, f[i].type, f[i].path, f[i].off, f[i].size);
		if (f[i].present)
			*f[i].present = r == 0;
		if (r < 0 && !f[i].optional) {
			kvmdci_err(k->ctx, "%s", kvmdci_ctx_last_error(k->ctx));
			return r;
		}
	}
	return 0;
}

bool kernel_fields_present(struct kvmdci_kernel *k, const char *module,
			   const struct kernel_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kernel_member_offset(k, module, f[i].type, f[i].path, f[i].off, f[i].size) < 0)
			return false;
	return true;
}

int kernel_enum_value(struct kvmdci_kernel *k, const char *module, const char *type,
		      const char *name, int64_t *val)
{
	char key[256];
	size_t len = memo_key(key, sizeof(key), 'e', module, type, name);
	struct memo_slot *s = memo_slot(k, key, len);
	struct kbtf *btf;
	int32_t id;

	if (s && s->key) {
		*val = s->val;
		return 0;
	}
	if ((!module || kernel_type(k, module, type, &btf, &id) < 0) &&
	    kernel_type(k, NULL, type, &btf, &id) < 0)
		return -ENOENT;
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, id));
	if (!t || !btf_is_enum(t))
		return -ENOENT;
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (!strcmp(kbtf_name_by_offset(btf, e[i].name_off), name)) {
			*val = e[i].val;
			if (s && memo_fill(s, key, len))
				s->val = *val;
			return 0;
		}
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_kernel_type_size(struct kvmdci_kernel *k, const char *module,
					  const char *type, uint64_t *size)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct kbtf *btf;
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

