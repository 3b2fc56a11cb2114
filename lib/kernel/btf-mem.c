// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Types with no vmlinux file: the kernel's own BTF in target memory.
 * - vmlinux: the .BTF section stays mapped in the kernel image between __start_BTF and
 *   __stop_BTF (include/asm-generic/vmlinux.lds.h, CONFIG_DEBUG_INFO_BTF).
 * - modules: struct module.btf_data / btf_data_size point at the module's .BTF only while it
 *   loads: do_init_module() sets btf_data to NULL once the module is live, as .BTF is not
 *   SHF_ALLOC and is freed with the load image (kernel/module/main.c, commit 607c543f939d
 *   "bpf: sanitize BTF data pointer after module is loaded"). The kernel keeps its own copy,
 *   made by btf_parse_module() on MODULE_STATE_COMING: the struct btf on the btf_modules list
 *   (kernel/bpf/btf.c, struct btf_module { list, module, btf, ... }), whose data / data_size
 *   are the raw split BTF. Both are tried, btf_data first; all offsets come from vmlinux BTF.
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/btf-mem.h"
#include "kernel/kernel-view.h"

#define MAX_BTF (64u << 20)
#define MAX_BTF_MODULES 4096

/* Read @size bytes of raw BTF at @addr and parse them (split on @base when not NULL). */
static int read_btf(struct kvmdci_kernel *k, const char *what, uint64_t addr, uint64_t size,
		    const struct kbtf *base, struct kbtf **out)
{
	uint8_t *buf;
	int r;

	if (size < 24 || size > MAX_BTF) {
		kvmdci_err(k->ctx, "%s at 0x%llx: implausible size %llu (want 24 B .. 64 MiB)", what,
			   (unsigned long long)addr, (unsigned long long)size);
		return -EINVAL;
	}
	if (!(buf = malloc(size)))
		return -ENOMEM;
	if ((r = kvmdci_kernel_read(k, addr, buf, size)) < 0) {
		kvmdci_err(k->ctx, "cannot read %s at 0x%llx (%llu bytes)", what,
			   (unsigned long long)addr, (unsigned long long)size);
		free(buf);
		return r;
	}
	/* BTF_MAGIC, little-endian */
	if (buf[0] != 0x9f || buf[1] != 0xeb) {
		kvmdci_err(k->ctx, "%s at 0x%llx: no BTF magic (0x%02x%02x)", what,
			   (unsigned long long)addr, buf[1], buf[0]);
		free(buf);
		return -EINVAL;
	}
	/* read in place (kernel/kbtf.h): the buffer is the BTF's, nothing is copied again */
	const char *why;
	struct kbtf *btf = kbtf_new(buf, (uint32_t)size, base, buf, 0, true, NULL, 0, &why);
	if (!btf) {
		r = errno == ENOMEM ? -ENOMEM : -EINVAL;
		kvmdci_err(k->ctx, "%s at 0x%llx (%llu bytes) does not parse as BTF: %s", what,
			   (unsigned long long)addr, (unsigned long long)size,
			   why ? why : strerror(-r));
		free(buf);
		return r;
	}
	*out = btf;
	return 0;
}

static void set_source(struct ksource *s, uint64_t addr, uint64_t size, struct kbtf *btf)
{
	memset(s, 0, sizeof(*s));
	s->kind = KVMDCI_SOURCE_MEMORY;
	snprintf(s->format, sizeof(s->format), "BTF");
	s->addr = addr;
	s->size = size;
	s->count = kbtf_type_cnt(btf) - 1;
}

int btf_mem_load_vmlinux(struct kvmdci_kernel *k)
{
	uint64_t start, stop;
	struct kbtf *btf;
	int r;

	if (kvmdci_kernel_symbol(k, "__start_BTF", &start) < 0 ||
	    kvmdci_kernel_symbol(k, "__stop_BTF", &stop) < 0) {
		kvmdci_err(k->ctx, "no type info: the kernel's symbols have no __start_BTF/__stop_BTF "
				   "(a kernel without CONFIG_DEBUG_INFO_BTF?); give --vmlinux");
		return -ENOENT;
	}
	if (stop <= start) {
		kvmdci_err(k->ctx, "__stop_BTF 0x%llx is not above __start_BTF 0x%llx",
			   (unsigned long long)stop, (unsigned long long)start);
		return -EINVAL;
	}
	if ((r = read_btf(k, "vmlinux BTF (__start_BTF)", start, stop - start, NULL, &btf)) < 0)
		return r;
	k->types.vmlinux = btf;
	snprintf(k->types.vmlinux_path, sizeof(k->types.vmlinux_path),
		 "the BTF in memory at 0x%llx", (unsigned long long)start);
	set_source(&k->types_src, start, stop - start, btf);
	kvmdci_info(k->ctx, "types: BTF in memory at 0x%llx, %llu bytes, %llu types",
		    (unsigned long long)start, (unsigned long long)(stop - start),
		    (unsigned long long)k->types_src.count);
	return 0;
}

/* struct module.btf_data, while the module loads (or on kernels that keep it). */
static int from_btf_data(struct kvmdci_kernel *k, struct kmodule *m, uint64_t *addr,
			 uint64_t *size)
{
	uint64_t od = 0, os = 0, data, sz = 0;
	uint64_t szsize = 0;
	uint8_t b[8] = { 0 };

	if (kernel_member_offset(k, NULL, "struct module", "btf_data", &od, NULL) < 0 ||
	    kernel_member_offset(k, NULL, "struct module", "btf_data_size", &os, &szsize) < 0 ||
	    szsize > 8)
		return -ENOENT;
	if (kvmdci_kernel_read_u64(k, m->addr + od, &data) < 0 ||
	    kvmdci_kernel_read(k, m->addr + os, b, szsize) < 0)
		return -EIO;
	sz = le64(b);
	if (!data || !sz)
		return -ENOENT;
	*addr = data;
	*size = sz;
	return 0;
}

/* The kernel's copy: btf_modules -> struct btf_module { module, btf } -> struct btf.data. */
static int from_btf_modules(struct kvmdci_kernel *k, struct kmodule *m, uint64_t *addr,
			    uint64_t *size)
{
	uint64_t head, next, o_list = 0, o_mod = 0, o_btf = 0, o_data = 0, o_size = 0;
	uint64_t szsize = 0;
	int r;

	if (kvmdci_kernel_symbol(k, "vmlinux:btf_modules", &head) < 0) {
		kvmdci_set_error(k->ctx, "this kernel keeps no module BTF: no symbol btf_modules "
					 "(module BTF needs CONFIG_DEBUG_INFO_BTF_MODULES, Linux 5.11 "
					 "or later)");
		return -ENOENT;
	}
	if ((r = kernel_member_offset(k, NULL, "struct btf_module", "list", &o_list, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct btf_module", "module", &o_mod, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct btf_module", "btf", &o_btf, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct btf", "data", &o_data, NULL)) < 0 ||
	    (r = kernel_member_offset(k, NULL, "struct btf", "data_size", &o_size, &szsize)) < 0 ||
	    szsize > 8)
		return r < 0 ? r : -EINVAL;
	if ((r = kvmdci_kernel_read_u64(k, head, &next)) < 0)
		return r;
	for (int i = 0; next != head; i++) {
		uint64_t bm = next - o_list, mod, btf;
		if (i >= MAX_BTF_MODULES) {
			kvmdci_set_error(k->ctx, "btf_modules at 0x%llx: more than %d entries",
					 (unsigned long long)head, MAX_BTF_MODULES);
			return -ELOOP;
		}
		if ((r = kvmdci_kernel_read_u64(k, bm + o_mod, &mod)) < 0 ||
		    (r = kvmdci_kernel_read_u64(k, bm + o_btf, &btf)) < 0)
			return r;
		if (mod == m->addr && btf) {
			uint8_t b[8] = { 0 };
			if ((r = kvmdci_kernel_read_u64(k, btf + o_data, addr)) < 0 ||
			    (r = kvmdci_kernel_read(k, btf + o_size, b, szsize)) < 0)
				return r;
			*size = le64(b);
			return *addr ? 0 : -ENOENT;
		}
		if ((r = kvmdci_kernel_read_u64(k, next, &next)) < 0)
			return r;
	}
	kvmdci_set_error(k->ctx, "module %s is not on btf_modules", m->name);
	return -ENOENT;
}

int btf_mem_load_module(struct kvmdci_kernel *k, struct kmodule *m)
{
	struct ktypes *kt = &k->types;
	uint64_t addr, size;
	struct kbtf *btf;
	char what[160];
	int r;

	if (!kt->vmlinux)
		return -EINVAL;
	if (kt->nmods >= (int)ARRAY_SIZE(kt->mods))
		return -ENOSPC;
	r = from_btf_data(k, m, &addr, &size);
	if (r == 0)
		snprintf(what, sizeof(what), "BTF of module %s (struct module.btf_data)", m->name);
	else if ((r = from_btf_modules(k, m, &addr, &size)) == 0)
		snprintf(what, sizeof(what), "BTF of module %s (btf_modules)", m->name);
	if (r < 0) {
		kvmdci_warn(k->ctx, "no BTF of module %s in memory (%s): its types are unknown; give "
				    "--modules DIR with that kernel's %s.ko carrying .BTF or DWARF "
				    "(Debian: the module's debug file in linux-image-RELEASE-dbg, "
				    "/usr/lib/debug/lib/modules/RELEASE/kernel/arch/x86/kvm/)",
			    m->name, kvmdci_ctx_last_error(k->ctx), m->name);
		return r;
	}
	if ((r = read_btf(k, what, addr, size, kt->vmlinux, &btf)) < 0)
		return r;
	memset(&kt->mods[kt->nmods], 0, sizeof(kt->mods[0]));
	snprintf(kt->mods[kt->nmods].name, sizeof(kt->mods[0].name), "%s", m->name);
	kt->mods[kt->nmods++].btf = btf;
	set_source(&m->types_src, addr, size, btf);
	m->types_src.count = kbtf_type_cnt(btf) - kbtf_type_cnt(kt->vmlinux);
	kvmdci_info(k->ctx, "types of module %s: %s at 0x%llx, %llu bytes", m->name, what,
		    (unsigned long long)addr, (unsigned long long)size);
	return 0;
}
