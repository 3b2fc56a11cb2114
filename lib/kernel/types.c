// SPDX-License-Identifier: LGPL-2.1-or-later
/* The kernel view's type lookups: types, members, enumerators (BTF, or DWARF as BTF). */
#include <bpf/btf.h>

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

int kernel_member(struct kvmdci_kernel *k, const char *module, const char *type, const char *path,
		  struct ktypes_loc *loc)
{
	struct kbtf *btf;
	int32_t id;
	int r = kernel_type(k, module, type, &btf, &id);

	if (r < 0)
		return r;
	r = ktypes_resolve_path(btf, id, path, loc);
	if (r < 0)
		kvmdci_set_error(k->ctx, "type info: %s has no member %s", type, path);
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
	struct kbtf *btf;
	int32_t id;

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

