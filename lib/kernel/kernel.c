// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel view of a target: opening it (vmlinux symbols from System.map, an ELF .symtab or
 * the kernel's kallsyms in memory; the KASLR offset; types from files or memory, checked
 * against the running kernel's build id; the loaded modules and the KVM modules' symbols and
 * types), what it knows and where that came from, and its lifetime. The pieces: memory.c
 * (reads and the read cache), kaslr.c, types.c, modules.c, kallsyms.c, btf-mem.c.
 */
#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/btf-mem.h"
#include "kernel/kallsyms.h"
#include "kernel/kernel-view.h"
#include "target/target-internal.h"

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

void kernel_file_source(struct ksource *s, const char *format, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->kind = KVMDCI_SOURCE_FILE;
	snprintf(s->format, sizeof(s->format), "%s", format);
	snprintf(s->path, sizeof(s->path), "%.511s", path);
}

/* The types a module's split BTF adds to vmlinux's (as for BTF read from memory, btf-mem.c):
 * the count kvmdci-kernel shows (it said 0 for modules whose types came from a file). */
static uint32_t module_type_count(const struct ktypes *kt, const char *name)
{
	for (int i = 0; i < kt->nmods; i++)
		if (!strcmp(kt->mods[i].name, name) && kt->mods[i].btf && kt->vmlinux)
			return kbtf_type_cnt(kt->mods[i].btf) - kbtf_type_cnt(kt->vmlinux);
	return 0;
}

static void hex_id(const uint8_t *id, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
	out[2 * len] = '\0';
}

/* Is module file @path the very build loaded as @name? Its GNU build id against the one the
 * target's kernel keeps for the module. Unknown on either side (no note in the file, no sysfs
 * notes in the kernel, unreadable memory): said at info level, and the file is used, as the
 * release check above already passed. A different id: warned, and the file is not used. */
static bool module_build_id_matches(struct kvmdci_kernel *k, const char *name, const char *path)
{
	struct kmodule *m = kernel_module(k, name);
	uint8_t fid[64], mid[64];
	size_t flen, mlen;
	int rf, rm;

	if (!m)
		return true;
	rf = module_file_build_id(path, fid, sizeof(fid), &flen);
	rm = kernel_module_build_id(k, m, mid, sizeof(mid), &mlen);
	if (rf < 0 || rm < 0) {
		kvmdci_info(k->ctx, "build id of module %s not compared (%s: %s)", name,
			    rf < 0 ? path : "the target's module notes",
			    strerror(-(rf < 0 ? rf : rm)));
		return true;
	}
	if (flen == mlen && !memcmp(fid, mid, flen))
		return true;
	char fh[129], mh[129];
	hex_id(fid, flen, fh);
	hex_id(mid, mlen, mh);
	kvmdci_warn(k->ctx, "%s has build id %s, the target's module %s has %s: another build "
			    "of kernel %s, not used for module %s's types (give the .ko files of the "
			    "build the target runs)", path, fh, name, mh, k->release, name);
	return false;
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
			char vermagic[256], rel[128] = "";
			/* vermagic= starts with the release the module was built for */
			if (k->release[0] &&
			    module_file_modinfo(path, "vermagic", vermagic, sizeof(vermagic)) == 0 &&
			    sscanf(vermagic, "%127s", rel) == 1 && strcmp(rel, k->release) != 0) {
				kvmdci_warn(k->ctx, "%s was built for kernel %s, the target runs %s: "
						    "module %s's types are unknown (give that kernel's "
						    "modules)", path, rel, k->release, name);
				return;
			}
			if (!module_build_id_matches(k, name, path))
				return;
			if (ktypes_add_module(k->ctx, &k->types, name, path) == 0) {
				struct kmodule *m = kernel_module(k, name);
				kvmdci_info(k->ctx, "types of module %s from %s", name, path);
				if (m) {
					kernel_file_source(&m->types_src, ktypes_source_name(&k->types, name), path);
					m->types_src.count = module_type_count(&k->types, name);
				}
			} else {
				/* said, not dropped: what needs these types fails later */
				kvmdci_warn(k->ctx, "%s; module %s's types are unknown",
					    kvmdci_ctx_last_error(k->ctx), name);
			}
			return;
		}
	}
	kvmdci_warn(k->ctx, "no %s.ko in %s: its types are unknown", dashed, k->modules_dir);
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
		kernel_file_source(&k->syms_src, "System.map", sysmap);
	} else if (vmlinux && (r = symtab_load_elf(k->ctx, &k->vsyms, vmlinux)) != -ENOENT) {
		if (r < 0)
			return r;
		kernel_file_source(&k->syms_src, "ELF symtab", vmlinux);
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
		if (!kernel_banner_at(k, t.cpu, k->banner_addr)) {
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
	return kernel_find_kaslr(k, banner);
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

static struct kvmdci_kernel *kernel_alloc(struct kvmdci_ctx *ctx)
{
	struct kvmdci_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->mods = calloc(MAX_MODULES, sizeof(*k->mods));
	if (!k->mods) {
		free(k);
		return NULL;
	}
	k->refcount = 1;
	k->ctx = kvmdci_ctx_ref(ctx);
	k->reader = -1;
	k->cache_mode = -1;
	k->cache_epoch = 1; /* a zeroed cache entry (epoch 0) is never valid */
	return k;
}

int kernel_new_types_only(struct kvmdci_ctx *ctx, struct kvmdci_kernel **ret)
{
	struct kvmdci_kernel *k = kernel_alloc(ctx);

	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

struct ktypes *kernel_ktypes(struct kvmdci_kernel *k)
{
	return &k->types;
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
	k = kernel_alloc(ctx);
	if (!k)
		return -ENOMEM;
	k->target = kvmdci_target_ref(t);
	target_last_stop(t, &k->stop_gen); /* stops before the view are not its business */
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
		kernel_file_source(&k->types_src, ktypes_source_name(&k->types, NULL), vmlinux);
		k->types_src.count = kbtf_type_cnt(k->types.vmlinux) - 1;
	} else if ((r = btf_mem_load_vmlinux(k)) < 0) {
		goto fail;
	}
	if ((r = kernel_modules_walk(k)) < 0)
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
	kernel_memo_free(k);
	free(k->iobus_layout);
	if (k->cache_stats.hits + k->cache_stats.fills)
		kvmdci_dbg(k->ctx, "read cache: %llu hits, %llu page fills (%llu failed), %llu exact reads",
			   (unsigned long long)k->cache_stats.hits,
			   (unsigned long long)k->cache_stats.fills,
			   (unsigned long long)k->cache_stats.fill_failures,
			   (unsigned long long)k->cache_stats.exact);
	free(k->cache);
	free(k->plan.e);
	free(k->plan.data);
	kvmdci_target_unref(k->target);
	kvmdci_ctx_unref(k->ctx);
	free(k);
	return NULL;
}

