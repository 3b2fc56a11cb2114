// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Loaded modules (the kernel's module list) and their own kallsyms read from each
 * struct module, and symbol lookups over vmlinux and the modules.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/file-cache.h"
#include "kernel/kernel-view.h"

#define MAX_KALLSYMS 200000

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

const char *kernel_kvm_vendor_module(struct kvmdci_kernel *k)
{
	if (kernel_module(k, "kvm_intel"))
		return "kvm_intel";
	if (kernel_module(k, "kvm_amd"))
		return "kvm_amd";
	return NULL;
}

int kernel_modules_walk(struct kvmdci_kernel *k)
{
	uint64_t head, off_list, off_name, next;
	int r;

	if (symtab_lookup(&k->vsyms, "modules", &head, 0) < 0) {
		kvmdci_err(k->ctx, "symbol 'modules' not in the kernel's symbols");
		return -ENOENT;
	}
	head += k->kaslr;
	const struct kernel_field f[] = {
		KERNEL_FIELD("struct module", "list", &off_list),
		KERNEL_FIELD("struct module", "name", &off_name),
	};
	if ((r = kernel_fields_resolve(k, NULL, f, ARRAY_SIZE(f))) < 0)
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

#define SPOT_ENTRIES 16 /* kallsyms entries read for the identity of a cached table */

/*
 * The identity of a module's kallsyms for the cache of symbol tables (symtab-cache.c,
 * modsyms-BUILDID.idx): the table read from memory is the same as long as the module is the
 * same build (its build id) loaded at the same place (its struct module and its kallsyms'
 * tables at the same addresses, with as many entries): the kernel builds the table once, at
 * the module's load, from its ELF file and its layout in memory. A checksum of a few entries
 * spread over the table, read from memory at each start, is part of the identity too: a table
 * changed in place is not taken from the cache. -ENOENT when the module has no build id.
 */
static int syms_source(struct kvmdci_kernel *k, const struct kmodule *m, const uint64_t where[4],
		       uint32_t num, struct symtab_source *s)
{
	uint8_t bid[64], spot[SPOT_ENTRIES * 24];
	uint64_t id[12] = { 0 };
	size_t bid_len;
	int r;

	if (kernel_module_build_id(k, m, bid, sizeof(bid), &bid_len) < 0 || bid_len > 40)
		return -ENOENT;
	for (int i = 0; i < SPOT_ENTRIES; i++) {
		uint64_t e = (uint64_t)(num - 1) * (uint64_t)i / (SPOT_ENTRIES - 1);
		if ((r = kvmdci_kernel_read(k, where[2] + e * 24, spot + i * 24, 24)) < 0)
			return r;
	}
	memcpy(id, bid, bid_len); /* id[0..4]: the build id, zero padded */
	id[5] = bid_len;
	memcpy(&id[6], where, 4 * sizeof(*where)); /* struct module, kallsyms, symtab, strtab */
	id[10] = num;
	id[11] = file_cache_sum(spot, sizeof(spot));
	memset(s->id, 0, sizeof(s->id));
	memcpy(s->id, id, sizeof(id));
	int n = snprintf(s->name, sizeof(s->name), "modsyms-");
	for (size_t i = 0; i < bid_len; i++)
		n += snprintf(s->name + n, sizeof(s->name) - (size_t)n, "%02x", bid[i]);
	snprintf(s->name + n, sizeof(s->name) - (size_t)n, ".idx");
	return 0;
}

static int load_syms(struct kvmdci_kernel *k, struct kmodule *m, bool use_cache);

/* A block of the cached table failed its check: read from memory again (symtab.c). */
static int reload_syms(struct kvmdci_ctx *ctx, struct symtab *st, const char *name, void *arg)
{
	struct kvmdci_kernel *k = arg;
	struct kmodule *m = kernel_module(k, name);

	(void)ctx;
	(void)st; /* m->syms */
	if (!m)
		return -ENODEV;
	m->syms_loaded = 0;
	return load_syms(k, m, false);
}

int kernel_module_load_syms(struct kvmdci_kernel *k, struct kmodule *m)
{
	return load_syms(k, m, true);
}

/* Read a module's own kallsyms (struct module.kallsyms -> mod_kallsyms) from target memory,
 * or with @use_cache from the cache when it was made from this very table. */
static int load_syms(struct kvmdci_kernel *k, struct kmodule *m, bool use_cache)
{
	uint64_t off_kallsyms, off_symtab, off_num, off_strtab, ks, symtab, strtab, num64;
	struct symtab_source cs = { .kind = "module kallsyms", .what = m->name, .arg = k,
				    .reload = reload_syms };
	char cpath[4096];
	bool cache;
	uint32_t num;
	int r;

	if (m->syms_loaded)
		return 0;
	const struct kernel_field f[] = {
		KERNEL_FIELD("struct module", "kallsyms", &off_kallsyms),
		KERNEL_FIELD("struct mod_kallsyms", "symtab", &off_symtab),
		KERNEL_FIELD("struct mod_kallsyms", "num_symtab", &off_num),
		KERNEL_FIELD("struct mod_kallsyms", "strtab", &off_strtab),
	};
	if ((r = kernel_fields_resolve(k, NULL, f, ARRAY_SIZE(f))) < 0)
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
	const uint64_t where[4] = { m->addr, ks, symtab, strtab };
	cache = syms_source(k, m, where, num, &cs) == 0 &&
		file_cache_path(k->ctx, cs.name, cpath, sizeof(cpath)) == 0;
	if (cache && use_cache && symtab_cache_load(k->ctx, &m->syms, cpath, &cs) == 0)
		goto loaded;
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
	/* the names mostly fit in the string table's bytes: one allocation each, no doubling */
	if ((r = symtab_reserve(&m->syms, num, strsz + 1)) < 0) {
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
	if (cache)
		symtab_cache_save(k->ctx, &m->syms, cpath, &cs);
loaded:
	m->syms_loaded = 1;
	m->syms_src = (struct ksource){ .kind = KVMDCI_SOURCE_MEMORY, .format = "module kallsyms",
					.addr = ks, .count = m->syms.n };
	kvmdci_info(k->ctx, "module %s: %zu symbols from its kallsyms", m->name, m->syms.n);
	return 0;
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

int kernel_vmlinux_symbol(struct kvmdci_kernel *k, const char *name, uint64_t *addr)
{
	uint64_t a;

	if (symtab_lookup(&k->vsyms, name, &a, 0) < 0)
		return -ENOENT;
	*addr = a + k->kaslr;
	return 0;
}

int kernel_percpu_addr(struct kvmdci_kernel *k, uint64_t var, int lcpu, uint64_t *addr)
{
	uint64_t offs, base;
	int r;

	if (kernel_vmlinux_symbol(k, "__per_cpu_offset", &offs) < 0) {
		kvmdci_set_error(k->ctx, "no symbol __per_cpu_offset");
		return -ENOENT;
	}
	if ((r = kvmdci_kernel_read_u64(k, offs + 8 * (uint64_t)lcpu, &base)) < 0)
		return r;
	*addr = var + base;
	return 0;
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


#define MAX_NOTE_ATTRS 32

/* The GNU build id in @len bytes of ELF notes at @buf (Elf64_Nhdr: namesz, descsz, type). */
static int notes_build_id(const uint8_t *buf, size_t n, uint8_t *id, size_t idsz, size_t *len)
{
	size_t off = 0;

	while (off + 12 <= n) {
		uint32_t namesz = le32(buf + off), descsz = le32(buf + off + 4),
			 type = le32(buf + off + 8);
		size_t name = off + 12, desc = name + ((namesz + 3) & ~3u);
		if (namesz > n || descsz > n || desc + descsz > n)
			return -EINVAL;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && !memcmp(buf + name, "GNU", 4)) {
			if (descsz == 0 || descsz > idsz)
				return -EINVAL;
			memcpy(id, buf + desc, descsz);
			*len = descsz;
			return 0;
		}
		off = desc + ((descsz + 3) & ~3u);
	}
	return -ENOENT;
}

/*
 * One sysfs notes attribute of a module (a struct bin_attribute at @battr: attr.name is the
 * note section's name, private its address in memory, size its length): the build id when it
 * is .note.gnu.build-id, -ENOENT for another note section.
 */
static int note_attr_build_id(struct kvmdci_kernel *k, uint64_t battr, const uint64_t o[3],
			      uint8_t *id, size_t idsz, size_t *len)
{
	static const char want[] = ".note.gnu.build-id";
	uint64_t name, size, priv;
	char sname[sizeof(want)];
	uint8_t buf[256];
	int r;

	if ((r = kvmdci_kernel_read_u64(k, battr + o[0], &name)) < 0 ||
	    (r = kvmdci_kernel_read(k, name, sname, sizeof(sname))) < 0)
		return r;
	if (memcmp(sname, want, sizeof(want)))
		return -ENOENT;
	if ((r = kvmdci_kernel_read_u64(k, battr + o[1], &size)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, battr + o[2], &priv)) < 0)
		return r;
	if (size < 16 || size > sizeof(buf))
		return -EINVAL;
	if ((r = kvmdci_kernel_read(k, priv, buf, (size_t)size)) < 0)
		return r;
	return notes_build_id(buf, (size_t)size, id, idsz, len);
}

int kernel_module_build_id(struct kvmdci_kernel *k, const struct kmodule *m, uint8_t *id,
			   size_t idsz, size_t *len)
{
	uint64_t o_na, o_attrs, o_notes, o_bin, bsz, na, o[3], n64;
	bool has_na, has_attrs, has_notes, has_bin, has_name, has_size, has_priv;
	int r;

	/* Two layouts, told apart by the members the target's types have: a count `notes` and
	 * the attributes inline (attrs[notes]), or an attribute group whose bin_attrs is a
	 * NULL-terminated array of pointers to the inline attrs[] (no count). */
	const struct kernel_field f[] = {
		KERNEL_FIELD_OPT("struct module", "notes_attrs", &o_na, NULL, &has_na),
		KERNEL_FIELD_OPT("struct module_notes_attrs", "attrs", &o_attrs, NULL, &has_attrs),
		KERNEL_FIELD_OPT("struct module_notes_attrs", "notes", &o_notes, NULL, &has_notes),
		KERNEL_FIELD_OPT("struct module_notes_attrs", "grp.bin_attrs", &o_bin, NULL,
				 &has_bin),
		KERNEL_FIELD_OPT("struct bin_attribute", "attr.name", &o[0], NULL, &has_name),
		KERNEL_FIELD_OPT("struct bin_attribute", "size", &o[1], NULL, &has_size),
		KERNEL_FIELD_OPT("struct bin_attribute", "private", &o[2], NULL, &has_priv),
	};
	kernel_fields_resolve(k, NULL, f, ARRAY_SIZE(f));
	if (!has_na || !has_attrs || !has_name || !has_size || !has_priv ||
	    (!has_notes && !has_bin) ||
	    kvmdci_kernel_type_size(k, NULL, "struct bin_attribute", &bsz) < 0 || !bsz)
		return -ENOENT;
	if ((r = kvmdci_kernel_read_u64(k, m->addr + o_na, &na)) < 0)
		return r;
	if (!na)
		return -ENOENT; /* the module has no notes in sysfs */
	if (has_notes) {
		if ((r = kvmdci_kernel_read_u64(k, na + o_notes, &n64)) < 0)
			return r;
		uint32_t n = (uint32_t)n64;
		if (n > MAX_NOTE_ATTRS)
			return -EINVAL;
		for (uint32_t i = 0; i < n; i++)
			if ((r = note_attr_build_id(k, na + o_attrs + i * bsz, o, id, idsz, len)) !=
			    -ENOENT)
				return r;
		return -ENOENT;
	}
	uint64_t arr;
	if ((r = kvmdci_kernel_read_u64(k, na + o_bin, &arr)) < 0)
		return r;
	for (int i = 0; arr && i < MAX_NOTE_ATTRS; i++) {
		uint64_t battr;
		if ((r = kvmdci_kernel_read_u64(k, arr + 8 * (uint64_t)i, &battr)) < 0)
			return r;
		if (!battr)
			return -ENOENT;
		if ((r = note_attr_build_id(k, battr, o, id, idsz, len)) != -ENOENT)
			return r;
	}
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_kernel_module_build_id(struct kvmdci_kernel *k, const char *module,
						char *hex, size_t hexsz)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct kmodule *m = module ? kernel_module(k, module) : NULL;
	uint8_t id[64];
	size_t len;
	int r;

	if (!m || !hex)
		return -ENOENT;
	if ((r = kernel_module_build_id(k, m, id, sizeof(id), &len)) < 0)
		return r;
	if (hexsz < 2 * len + 1)
		return -ERANGE;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	return 0;
}
