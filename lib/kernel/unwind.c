// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel call stacks of a stopped target or a dump: ORC tables of vmlinux and of the loaded
 * modules fed to the ORC unwinder (kernel/orc.c), frames symbolized by symbolize.c; the stack
 * of a task that is not running (tasks.c has the tasks; lib/kvm/cpus.c the CPUs, which may be
 * in a guest).
 *
 * Where the tables come from:
 *  - vmlinux: the .orc_unwind_ip/.orc_unwind sections of the vmlinux file (the stripped vmlinux
 *    out of the bzImage keeps them), linked addresses + the KASLR offset; without a file, the
 *    same tables in target memory between __start_orc_unwind_ip and __stop_orc_unwind_ip.
 *  - modules: struct module.arch (struct mod_arch_specific: num_orcs, orc_unwind_ip,
 *    orc_unwind), which module_finalize() sorted at load time (arch/x86/kernel/module.c).
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/kernel-view.h"
#include "kernel/orc.h"

#define MAX_ORCS (4u << 20) /* entries in one table: vmlinux 6.1 has ~370k */
#define MAX_READS 1024	    /* 8-byte reads per unwind */

struct kvmdci_unwinder {
	int refcount;
	struct kvmdci_kernel *k;
	struct kvmdci_ctx *ctx;
	struct orc_table *tabs;
	int ntabs;
	struct orc_env env;
	uint64_t stext, etext;	/* vmlinux text, KASLR applied */
	uint64_t ret_from_fork; /* ret_from_fork (6.1) or ret_from_fork_asm (6.8+) */
	unsigned int reads;	/* of the unwind in progress */
	/* stack cache: one 512-byte block, to cut round trips on the stub */
	uint64_t cache_addr;
	bool cache_valid;
	uint8_t cache[512];
};

static int u_read(void *data, uint64_t addr, void *buf, size_t len)
{
	struct kvmdci_unwinder *u = data;
	uint64_t blk = addr & ~(uint64_t)(sizeof(u->cache) - 1);

	if (len <= 8 && (addr & 7) == 0) {
		if (!u->cache_valid || u->cache_addr != blk) {
			if (kvmdci_kernel_read(u->k, blk, u->cache, sizeof(u->cache)) < 0) {
				u->cache_valid = false;
				return kvmdci_kernel_read(u->k, addr, buf, len);
			}
			u->cache_addr = blk;
			u->cache_valid = true;
		}
		memcpy(buf, u->cache + (addr - blk), len);
		return 0;
	}
	return kvmdci_kernel_read(u->k, addr, buf, len);
}

static int u_find(void *data, uint64_t ip, struct orc_entry *e)
{
	struct kvmdci_unwinder *u = data;

	for (int i = 0; i < u->ntabs; i++)
		if (orc_table_find(&u->tabs[i], ip, e) == 0)
			return 0;
	return -ENOENT;
}

static bool u_is_text(void *data, uint64_t ip)
{
	struct kvmdci_unwinder *u = data;

	if (ip >= u->stext && ip < u->etext)
		return true;
	for (int i = 0; i < u->ntabs; i++)
		if (ip >= u->tabs[i].first && ip <= u->tabs[i].last)
			return true;
	return false;
}

static struct orc_table *new_table(struct kvmdci_unwinder *u)
{
	struct orc_table *t = realloc(u->tabs, (size_t)(u->ntabs + 1) * sizeof(*t));

	if (!t)
		return NULL;
	u->tabs = t;
	memset(&t[u->ntabs], 0, sizeof(*t));
	return &t[u->ntabs];
}

/*
 * The ORC entry format of the target's kernel from its own struct orc_entry (BTF or DWARF):
 * the members its bitfield has tell the three layouts apart. A 6.4+ kernel also stamps the
 * format in .orc_header (checked by the callers, which tells renumbered registers apart too).
 * 1 when the type info has no struct orc_entry (said once at info level).
 */
static int orc_version_from_types(struct kvmdci_kernel *k)
{
	struct kvmdci_member type, m;
	bool has_signal, has_end;
	int v = -1;

	if (kvmdci_kernel_member(k, NULL, "struct orc_entry", "type", &type) == 0) {
		has_signal = kvmdci_kernel_member(k, NULL, "struct orc_entry", "signal", &m) == 0;
		has_end = kvmdci_kernel_member(k, NULL, "struct orc_entry", "end", &m) == 0;
		v = orc_version_from_layout(has_signal, has_end, type.bitfield_size);
	}
	if (v < 0) {
		kvmdci_info(k->ctx, "ORC: no known struct orc_entry in the kernel's types; reading "
				    "its entries in the oldest format");
		v = 1;
	}
	return v;
}

static int vmlinux_orc_from_file(struct kvmdci_unwinder *u, const char *path)
{
	struct kvmdci_kernel *k = u->k;
	Elf_Scn *scn = NULL, *s_ip = NULL, *s_orc = NULL, *s_hdr = NULL;
	GElf_Shdr sh_ip = {0}, sh;
	size_t shstrndx;
	int fd, r = -ENOENT;
	Elf *elf;

	elf_version(EV_CURRENT);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (!(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)) || elf_getshdrstrndx(elf, &shstrndx)) {
		r = -EINVAL;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".orc_unwind_ip")) {
			s_ip = scn;
			sh_ip = sh;
		} else if (!strcmp(name, ".orc_unwind")) {
			s_orc = scn;
		} else if (!strcmp(name, ".orc_header")) {
			s_hdr = scn;
		}
	}
	if (!s_ip || !s_orc)
		goto out;
	Elf_Data *d_ip = elf_getdata(s_ip, NULL), *d_orc = elf_getdata(s_orc, NULL);
	if (!d_ip || !d_orc || d_ip->d_size % 4 || d_orc->d_size != d_ip->d_size / 4 * 6 ||
	    d_ip->d_size / 4 > MAX_ORCS || !d_ip->d_size) {
		kvmdci_warn(u->ctx, "%s: .orc_unwind_ip and .orc_unwind do not match", path);
		r = -EINVAL;
		goto out;
	}
	struct orc_table *t = new_table(u);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "vmlinux");
	t->n = (uint32_t)(d_ip->d_size / 4);
	t->ip_base = sh_ip.sh_addr;
	t->bias = k->kaslr;
	t->version = orc_version_from_types(k);
	if (s_hdr) {
		Elf_Data *d = elf_getdata(s_hdr, NULL);
		int v = d ? orc_version_from_header(d->d_buf, d->d_size) : -1;
		if (v > 0)
			t->version = v;
	}
	t->rel = malloc(d_ip->d_size);
	t->raw = malloc(d_orc->d_size);
	if (!t->rel || !t->raw) {
		orc_table_free(t);
		r = -ENOMEM;
		goto out;
	}
	memcpy(t->rel, d_ip->d_buf, d_ip->d_size);
	memcpy(t->raw, d_orc->d_buf, d_orc->d_size);
	if (orc_table_finish(t) < 0) {
		kvmdci_warn(u->ctx, "%s: the ORC table is not sorted", path);
		orc_table_free(t);
		r = -EINVAL;
		goto out;
	}
	u->ntabs++;
	kvmdci_info(u->ctx, "ORC: %u entries for vmlinux from %s (format %d)", t->n, path,
		    t->version);
	r = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

/* A table in target memory: @n entries at @ip and @orc (runtime addresses). */
static int orc_from_memory(struct kvmdci_unwinder *u, const char *name, uint64_t ip, uint64_t orc,
			   uint64_t n)
{
	struct orc_table *t;
	int r;

	if (!n || n > MAX_ORCS) {
		kvmdci_warn(u->ctx, "ORC of %s: implausible entry count %llu", name,
			    (unsigned long long)n);
		return -EINVAL;
	}
	if (!(t = new_table(u)))
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->n = (uint32_t)n;
	t->ip_base = ip;
	t->version = orc_version_from_types(u->k);
	/* the kernel stamps its ORC format in .orc_header (6.4+, kept in memory between
	 * __start_orc_header and __stop_orc_header), and loads only modules whose own stamp
	 * equals it (arch/x86/kernel/module.c, module_finalize): one format for all tables */
	uint64_t h0, h1;
	uint8_t hash[20];
	if (kernel_vmlinux_symbol(u->k, "__start_orc_header", &h0) == 0 &&
	    kernel_vmlinux_symbol(u->k, "__stop_orc_header", &h1) == 0 && h1 - h0 == sizeof(hash) &&
	    kvmdci_kernel_read(u->k, h0, hash, sizeof(hash)) == 0) {
		int v = orc_version_from_header(hash, sizeof(hash));
		if (v > 0)
			t->version = v;
	}
	for (int i = 0; i < u->ntabs; i++)
		if (!strcmp(u->tabs[i].name, "vmlinux"))
			t->version = u->tabs[i].version;
	t->rel = malloc(n * 4);
	t->raw = malloc(n * ORC_ENTRY_SIZE);
	if (!t->rel || !t->raw) {
		orc_table_free(t);
		return -ENOMEM;
	}
	if ((r = kvmdci_kernel_read(u->k, ip, t->rel, n * 4)) < 0 ||
	    (r = kvmdci_kernel_read(u->k, orc, t->raw, n * ORC_ENTRY_SIZE)) < 0) {
		kvmdci_warn(u->ctx, "ORC of %s: cannot read %llu entries at 0x%llx/0x%llx", name,
			    (unsigned long long)n, (unsigned long long)ip, (unsigned long long)orc);
		orc_table_free(t);
		return r;
	}
	if (orc_table_finish(t) < 0) {
		kvmdci_warn(u->ctx, "ORC of %s at 0x%llx is not sorted", name,
			    (unsigned long long)ip);
		orc_table_free(t);
		return -EINVAL;
	}
	u->ntabs++;
	kvmdci_info(u->ctx, "ORC: %u entries for %s from memory at 0x%llx", t->n, name,
		    (unsigned long long)ip);
	return 0;
}

static int vmlinux_orc_from_memory(struct kvmdci_unwinder *u)
{
	uint64_t ip, ip_end, orc;

	if (kernel_vmlinux_symbol(u->k, "__start_orc_unwind_ip", &ip) < 0 ||
	    kernel_vmlinux_symbol(u->k, "__stop_orc_unwind_ip", &ip_end) < 0 ||
	    kernel_vmlinux_symbol(u->k, "__start_orc_unwind", &orc) < 0 || ip_end <= ip) {
		kvmdci_warn(u->ctx, "no vmlinux ORC table: neither .orc_unwind sections in a "
				    "vmlinux file nor __start_orc_unwind_ip in the symbols");
		return -ENOENT;
	}
	return orc_from_memory(u, "vmlinux", ip, orc, (ip_end - ip) / 4);
}

static void modules_orc(struct kvmdci_unwinder *u)
{
	struct kvmdci_kernel *k = u->k;
	uint64_t o_num, o_ip, o_orc;

	if (kernel_member_offset(k, NULL, "struct module", "arch.num_orcs", &o_num, NULL) < 0 ||
	    kernel_member_offset(k, NULL, "struct module", "arch.orc_unwind_ip", &o_ip, NULL) < 0 ||
	    kernel_member_offset(k, NULL, "struct module", "arch.orc_unwind", &o_orc, NULL) < 0) {
		kvmdci_warn(u->ctx, "struct module has no arch.num_orcs: module stacks unwind by "
				    "frame pointers only");
		return;
	}
	for (int i = 0; i < k->nmods; i++) {
		struct kmodule *m = &k->mods[i];
		uint32_t num;
		uint64_t ip, orc;
		if (kvmdci_kernel_read(k, m->addr + o_num, &num, 4) < 0 ||
		    kvmdci_kernel_read_u64(k, m->addr + o_ip, &ip) < 0 ||
		    kvmdci_kernel_read_u64(k, m->addr + o_orc, &orc) < 0) {
			kvmdci_warn(u->ctx, "module %s: cannot read its ORC table pointers",
				    m->name);
			continue;
		}
		if (num)
			orc_from_memory(u, m->name, ip, orc, num);
	}
}

static void regs_layout(struct kvmdci_unwinder *u)
{
	struct orc_regs_layout *l = &u->env.regs;
	struct {
		const char *name;
		uint32_t *off;
	} f[] = {{"r13", &l->r13}, {"r10", &l->r10}, {"bp", &l->bp}, {"dx", &l->dx},
		 {"di", &l->di},   {"ip", &l->ip},   {"cs", &l->cs}, {"sp", &l->sp}};
	uint64_t off;

	orc_regs_layout_default(l);
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (kernel_member_offset(u->k, NULL, "struct pt_regs", f[i].name, &off, NULL) ==
			    0 &&
		    off < 512)
			*f[i].off = (uint32_t)off;
}

KVMDCI_EXPORT int kvmdci_unwinder_new(struct kvmdci_kernel *k, struct kvmdci_unwinder **ret)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct kvmdci_unwinder *u = calloc(1, sizeof(*u));
	int r = -ENOENT;

	if (!u)
		return -ENOMEM;
	u->refcount = 1;
	u->k = kvmdci_kernel_ref(k);
	u->ctx = k->ctx;
	if (k->types_src.kind == KVMDCI_SOURCE_FILE && k->types_src.path[0])
		r = vmlinux_orc_from_file(u, k->types_src.path);
	if (r < 0 && k->syms_src.kind == KVMDCI_SOURCE_FILE &&
	    strcmp(k->syms_src.format, "System.map"))
		r = vmlinux_orc_from_file(u, k->syms_src.path);
	if (r < 0 && (r = vmlinux_orc_from_memory(u)) < 0) {
		kvmdci_err(k->ctx, "no ORC unwind table for vmlinux (give a vmlinux with "
				   ".orc_unwind sections, or symbols with __start_orc_unwind_ip)");
		kvmdci_unwinder_unref(u);
		return r;
	}
	modules_orc(u);
	if (kernel_vmlinux_symbol(k, "_stext", &u->stext) < 0 &&
	    kernel_vmlinux_symbol(k, "_text", &u->stext) < 0)
		u->stext = u->tabs[0].first;
	if (kernel_vmlinux_symbol(k, "_etext", &u->etext) < 0)
		u->etext = u->tabs[0].last;
	if (kernel_vmlinux_symbol(k, "ret_from_fork_asm", &u->ret_from_fork) < 0)
		kernel_vmlinux_symbol(k, "ret_from_fork", &u->ret_from_fork);
	u->env = (struct orc_env){.read = u_read,
				  .find = u_find,
				  .is_text = u_is_text,
				  .data = u,
				  .max_reads = MAX_READS};
	regs_layout(u);
	*ret = u;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_unwinder *kvmdci_unwinder_ref(struct kvmdci_unwinder *u)
{
	if (u)
		u->refcount++;
	return u;
}

KVMDCI_EXPORT struct kvmdci_unwinder *kvmdci_unwinder_unref(struct kvmdci_unwinder *u)
{
	if (!u || --u->refcount > 0)
		return NULL;
	for (int i = 0; i < u->ntabs; i++)
		orc_table_free(&u->tabs[i]);
	free(u->tabs);
	kvmdci_kernel_unref(u->k);
	free(u);
	return NULL;
}

KVMDCI_EXPORT const char *kvmdci_unwind_end_name(enum kvmdci_unwind_end end)
{
	static const char *const names[] = {
		[KVMDCI_UNWIND_END_OF_STACK] = "end of stack",
		[KVMDCI_UNWIND_USER_MODE] = "user mode",
		[KVMDCI_UNWIND_BAD_ORC] = "bad ORC entry",
		[KVMDCI_UNWIND_BAD_FRAME] = "bad frame",
		[KVMDCI_UNWIND_UNREADABLE] = "unreadable",
		[KVMDCI_UNWIND_LOOP] = "loop",
		[KVMDCI_UNWIND_DEPTH] = "depth limit",
		[KVMDCI_UNWIND_NO_STACK] = "no kernel stack",
	};
	return end >= 0 && (size_t)end < ARRAY_SIZE(names) && names[end] ? names[end] : "unknown";
}

/* ---- unwinding ---- */

static int unwind(struct kvmdci_unwinder *u, struct orc_state *s, struct kvmdci_stack *out)
{
	struct orc_frame fr[KVMDCI_STACK_MAX];
	int end;

	memset(out, 0, sizeof(*out));
	u->cache_valid = false; /* the target may have run since */
	int n = orc_unwind(&u->env, s, fr, KVMDCI_STACK_MAX, &end, out->end_detail,
			   sizeof(out->end_detail));
	out->nframes = n;
	out->end = end;
	out->reads = s->reads;
	for (int i = 0; i < n; i++) {
		struct kvmdci_frame *f = &out->frames[i];
		f->ip = fr[i].ip;
		f->sp = fr[i].sp;
		f->flags = (fr[i].regs ? KVMDCI_FRAME_REGS : 0) |
			   (fr[i].guess ? KVMDCI_FRAME_GUESS : 0);
		/* a return address may be the first byte after a noreturn call's function */
		uint64_t look = (i == 0 || fr[i].regs) ? f->ip : f->ip - 1;
		if (kernel_symbolize_parts(u->k, u, look, f->module, sizeof(f->module), f->function,
					   sizeof(f->function), &f->offset) == 0) {
			f->offset += f->ip - look;
			f->symbolized = 1;
		}
	}
	if (!out->end_detail[0])
		snprintf(out->end_detail, sizeof(out->end_detail), "%s",
			 kvmdci_unwind_end_name(end));
	return 0;
}

KVMDCI_EXPORT int kvmdci_unwind_regs(struct kvmdci_unwinder *u, uint64_t ip, uint64_t sp,
				     uint64_t bp, struct kvmdci_stack *out)
{
	KVMDCI_API_ENTRY(u->ctx);
	struct orc_state s = {.ip = ip, .sp = sp, .bp = bp, .signal = true};

	return unwind(u, &s, out);
}

const char *unwinder_module_at(struct kvmdci_unwinder *u, uint64_t addr)
{
	for (int i = 0; i < u->ntabs; i++) {
		struct orc_table *t = &u->tabs[i];
		if (strcmp(t->name, "vmlinux") && addr >= t->first && addr <= t->last)
			return t->name;
	}
	return NULL;
}

bool unwinder_is_text(struct kvmdci_unwinder *u, uint64_t ip)
{
	return u_is_text(u, ip);
}

struct kvmdci_kernel *unwinder_kernel(struct kvmdci_unwinder *u)
{
	return u->k;
}

int unwinder_saved_task_stack(struct kvmdci_unwinder *u, uint64_t task, struct kvmdci_stack *out)
{
	struct kvmdci_kernel *k = u->k;
	uint64_t o_sp, o_bp, o_ret, size, sp, bp, ip;
	int r;

	if ((r = kernel_member_offset(k, NULL, "struct task_struct", "thread.sp", &o_sp, NULL)) <
		    0 ||
	    (r = kernel_member_offset(k, NULL, "struct inactive_task_frame", "bp", &o_bp, NULL)) <
		    0 ||
	    (r = kernel_member_offset(k, NULL, "struct inactive_task_frame", "ret_addr", &o_ret,
				      NULL)) < 0 ||
	    (r = kvmdci_kernel_type_size(k, NULL, "struct inactive_task_frame", &size)) < 0)
		return r;
	if ((r = kvmdci_kernel_read_u64(k, task + o_sp, &sp)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, sp + o_bp, &bp)) < 0 ||
	    (r = kvmdci_kernel_read_u64(k, sp + o_ret, &ip)) < 0) {
		memset(out, 0, sizeof(*out));
		out->end = KVMDCI_UNWIND_UNREADABLE;
		snprintf(out->end_detail, sizeof(out->end_detail),
			 "cannot read the saved context of task 0x%llx (thread.sp 0x%llx)",
			 (unsigned long long)task, (unsigned long long)sp);
		return 0;
	}
	/* __unwind_start() for a task that is not running: ret_addr is a return address */
	struct orc_state s = {
		.ip = ip, .sp = sp + size, .bp = bp, .signal = ip == u->ret_from_fork};
	return unwind(u, &s, out);
}

