// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel call stacks of a stopped target or a dump: ORC tables of vmlinux and of the loaded
 * modules fed to the ORC unwinder (kernel/orc.c), frames symbolized as module!function+0xoff,
 * the per-CPU current task, and what each CPU is executing (host kernel, user space, or a
 * guest whose registers the stub shows instead of the host's).
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
#include "kernel/kernel-internal.h"
#include "kernel/orc.h"

#define MAX_ORCS (4u << 20) /* entries in one table: vmlinux 6.1 has ~370k */
#define MAX_READS 1024	    /* 8-byte reads per unwind */
#define MAX_TASKS 65536
#define MAX_THREADS 65536
#define MAX_CPUS 8192

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

static int vsym(struct kvmdci_kernel *k, const char *name, uint64_t *addr)
{
	uint64_t a;

	if (symtab_lookup(&k->vsyms, name, &a, 0) < 0)
		return -ENOENT;
	*addr = a + k->kaslr;
	return 0;
}

/* A per-CPU variable's offset: zero-based per-CPU symbols are not moved by KASLR. */
static int percpu_sym(struct kvmdci_kernel *k, const char *name, uint64_t *off)
{
	uint64_t a;

	if (symtab_lookup(&k->vsyms, name, &a, 0) < 0)
		return -ENOENT;
	*off = a < 0xffff800000000000ULL ? a : a + k->kaslr;
	return 0;
}

static int member(struct kvmdci_kernel *k, const char *type, const char *path, uint64_t *off)
{
	struct ktypes_loc loc;
	int r = kernel_member(k, NULL, type, path, &loc);

	*off = r == 0 ? loc.bit_offset / 8 : 0;
	return r;
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
	t->version = orc_version_from_release(k->release);
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
	t->version = orc_version_from_release(u->k->release);
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

	if (vsym(u->k, "__start_orc_unwind_ip", &ip) < 0 ||
	    vsym(u->k, "__stop_orc_unwind_ip", &ip_end) < 0 ||
	    vsym(u->k, "__start_orc_unwind", &orc) < 0 || ip_end <= ip) {
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

	if (member(k, "struct module", "arch.num_orcs", &o_num) < 0 ||
	    member(k, "struct module", "arch.orc_unwind_ip", &o_ip) < 0 ||
	    member(k, "struct module", "arch.orc_unwind", &o_orc) < 0) {
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
		if (member(u->k, "struct pt_regs", f[i].name, &off) == 0 && off < 512)
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
	if (vsym(k, "_stext", &u->stext) < 0 && vsym(k, "_text", &u->stext) < 0)
		u->stext = u->tabs[0].first;
	if (vsym(k, "_etext", &u->etext) < 0)
		u->etext = u->tabs[0].last;
	if (vsym(k, "ret_from_fork_asm", &u->ret_from_fork) < 0)
		vsym(k, "ret_from_fork", &u->ret_from_fork);
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

/* ---- symbols ---- */

/* Section markers (__cpuidle_text_start, __start_x, __irqentry_text_end) share addresses with
 * the functions at their boundaries: name the function. */
static bool marker_name(const char *n)
{
	size_t l = strlen(n);

	return !strncmp(n, "__start_", 8) || !strncmp(n, "__stop_", 7) ||
	       (!strncmp(n, "__", 2) &&
		((l > 6 && !strcmp(n + l - 6, "_start")) || (l > 4 && !strcmp(n + l - 4, "_end"))));
}

/* The symbol at or below @addr; among several at one address, not a section marker. */
static const char *nearest(struct symtab *st, uint64_t addr, uint64_t *sym_addr)
{
	const struct sym *best = NULL;

	for (size_t i = 0; i < st->n; i++) {
		const struct sym *y = &st->syms[i];
		if (y->addr > addr || (best && y->addr < best->addr))
			continue;
		if (best && y->addr == best->addr && marker_name(st->names + y->name))
			continue;
		best = y;
	}
	if (!best)
		return NULL;
	*sym_addr = best->addr;
	return st->names + best->name;
}

static int symbolize(struct kvmdci_unwinder *u, struct kvmdci_kernel *k, uint64_t addr, char *mod,
		     size_t msz, char *fn, size_t fsz, uint64_t *off)
{
	uint64_t sa;
	const char *name;

	/* a module's text: its ORC table's range (modules sit above the kernel image) */
	for (int i = 0; u && i < u->ntabs; i++) {
		struct orc_table *t = &u->tabs[i];
		struct kmodule *m;
		if (!strcmp(t->name, "vmlinux") || addr < t->first || addr > t->last)
			continue;
		if (!(m = kernel_module(k, t->name)) || kernel_module_load_syms(k, m) < 0)
			break;
		if (!(name = nearest(&m->syms, addr, &sa)))
			break;
		snprintf(mod, msz, "%s", m->name);
		snprintf(fn, fsz, "%s", name);
		*off = addr - sa;
		return 0;
	}
	if (addr >= k->kaslr && addr >= 0xffffffff80000000ULL && addr < 0xffffffffc0000000ULL &&
	    (name = nearest(&k->vsyms, addr - k->kaslr, &sa))) {
		snprintf(mod, msz, "vmlinux");
		snprintf(fn, fsz, "%s", name);
		*off = addr - k->kaslr - sa;
		return 0;
	}
	/* without ORC ranges: the nearest symbol of the loaded modules' kallsyms */
	const char *best = NULL, *bmod = NULL;
	uint64_t bsa = 0;
	for (int i = 0; i < k->nmods; i++) {
		if (!k->mods[i].syms_loaded)
			continue;
		name = nearest(&k->mods[i].syms, addr, &sa);
		if (name && (!best || sa > bsa)) {
			best = name;
			bsa = sa;
			bmod = k->mods[i].name;
		}
	}
	if (best && addr - bsa < 0x10000) {
		snprintf(mod, msz, "%s", bmod);
		snprintf(fn, fsz, "%s", best);
		*off = addr - bsa;
		return 0;
	}
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_kernel_symbolize(struct kvmdci_kernel *k, uint64_t addr, char *buf,
					  size_t size)
{
	KVMDCI_API_ENTRY(k->ctx);
	char mod[64], fn[128];
	uint64_t off;

	if (symbolize(NULL, k, addr, mod, sizeof(mod), fn, sizeof(fn), &off) < 0) {
		snprintf(buf, size, "0x%llx", (unsigned long long)addr);
		return -ENOENT;
	}
	snprintf(buf, size, "%s!%s+0x%llx", mod, fn, (unsigned long long)off);
	return 0;
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
		if (symbolize(u, u->k, look, f->module, sizeof(f->module), f->function,
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

/* ---- tasks ---- */

static const char *state_letter(uint64_t st, uint64_t exit_state)
{
	/* include/linux/sched.h: TASK_* and EXIT_* bits, as fs/proc/array.c shows them */
	if (exit_state & 0x20)
		return "Z";
	if (exit_state & 0x10)
		return "X";
	if ((st & 0x402) == 0x402)
		return "I"; /* TASK_IDLE: uninterruptible + noload */
	if (st & 0x1)
		return "S";
	if (st & 0x2)
		return "D";
	if (st & 0x4)
		return "T";
	if (st & 0x8)
		return "t";
	if (st == 0)
		return "R";
	return "?";
}

KVMDCI_EXPORT int kvmdci_kernel_task_info(struct kvmdci_kernel *k, uint64_t task,
					  struct kvmdci_task_info *out)
{
	KVMDCI_API_ENTRY(k->ctx);
	uint64_t o_pid, o_tgid, o_comm, o_state, o_exit, o_oncpu, o_cpu;
	uint32_t v32;
	int r;

	memset(out, 0, sizeof(*out));
	out->task = task;
	out->cpu = -1;
	if ((r = member(k, "struct task_struct", "pid", &o_pid)) < 0 ||
	    (r = member(k, "struct task_struct", "tgid", &o_tgid)) < 0 ||
	    (r = member(k, "struct task_struct", "comm", &o_comm)) < 0)
		return r;
	if (member(k, "struct task_struct", "__state", &o_state) < 0 &&
	    member(k, "struct task_struct", "state", &o_state) < 0)
		return -ENOENT;
	if ((r = kvmdci_kernel_read(k, task + o_pid, &out->pid, 4)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_tgid, &out->tgid, 4)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_comm, out->comm, sizeof(out->comm) - 1)) < 0 ||
	    (r = kvmdci_kernel_read(k, task + o_state, &v32, 4)) < 0) {
		kvmdci_set_error(k->ctx, "cannot read struct task_struct at 0x%llx",
				 (unsigned long long)task);
		return r;
	}
	out->comm[sizeof(out->comm) - 1] = '\0';
	uint32_t ex = 0;
	if (member(k, "struct task_struct", "exit_state", &o_exit) == 0)
		kvmdci_kernel_read(k, task + o_exit, &ex, 4);
	snprintf(out->state, sizeof(out->state), "%s", state_letter(v32, ex));
	out->on_cpu = -1;
	if (member(k, "struct task_struct", "on_cpu", &o_oncpu) == 0 &&
	    kvmdci_kernel_read(k, task + o_oncpu, &v32, 4) == 0)
		out->on_cpu = (int32_t)v32;
	if ((member(k, "struct task_struct", "cpu", &o_cpu) == 0 ||
	     member(k, "struct task_struct", "thread_info.cpu", &o_cpu) == 0) &&
	    kvmdci_kernel_read(k, task + o_cpu, &v32, 4) == 0 && v32 < MAX_CPUS)
		out->cpu = (int32_t)v32;
	return 0;
}

/* Follow a list_head from @head, calling @fn(node) until it returns != 0; bounded. */
static int list_walk(struct kvmdci_kernel *k, uint64_t head, unsigned int max,
		     int (*fn)(struct kvmdci_kernel *k, uint64_t node, void *data), void *data)
{
	uint64_t node;
	unsigned int n = 0;
	int r;

	if ((r = kvmdci_kernel_read_u64(k, head, &node)) < 0)
		return r;
	while (node != head) {
		if (++n > max) {
			kvmdci_set_error(k->ctx, "list at 0x%llx: more than %u entries (a cycle?)",
					 (unsigned long long)head, max);
			return -ELOOP;
		}
		if ((r = fn(k, node, data)) != 0)
			return r;
		if ((r = kvmdci_kernel_read_u64(k, node, &node)) < 0)
			return r;
	}
	return 0;
}

struct find_pid {
	int pid;
	uint64_t o_pid, o_tasks, o_signal, o_thread_head, o_thread_node, o_thread_group;
	bool use_thread_node;
	uint64_t found;
};

static int check_thread(struct kvmdci_kernel *k, uint64_t node, void *data)
{
	struct find_pid *f = data;
	uint64_t task = node - (f->use_thread_node ? f->o_thread_node : f->o_thread_group);
	int32_t pid;

	if (kvmdci_kernel_read(k, task + f->o_pid, &pid, 4) < 0)
		return -EFAULT;
	if (pid == f->pid) {
		f->found = task;
		return 1;
	}
	return 0;
}

static int check_process(struct kvmdci_kernel *k, uint64_t node, void *data)
{
	struct find_pid *f = data;
	uint64_t task = node - f->o_tasks, sig;
	int32_t pid;

	if (kvmdci_kernel_read(k, task + f->o_pid, &pid, 4) < 0)
		return -EFAULT;
	if (pid == f->pid) {
		f->found = task;
		return 1;
	}
	if (f->use_thread_node) {
		if (kvmdci_kernel_read_u64(k, task + f->o_signal, &sig) < 0)
			return 0;
		return list_walk(k, sig + f->o_thread_head, MAX_THREADS, check_thread, f) > 0;
	}
	return list_walk(k, task + f->o_thread_group, MAX_THREADS, check_thread, f) > 0;
}

KVMDCI_EXPORT int kvmdci_kernel_task_find(struct kvmdci_kernel *k, int pid, uint64_t *task)
{
	KVMDCI_API_ENTRY(k->ctx);
	struct find_pid f = {.pid = pid};
	uint64_t init;
	int r;

	if (vsym(k, "init_task", &init) < 0) {
		kvmdci_set_error(k->ctx, "no symbol init_task");
		return -ENOENT;
	}
	if ((r = member(k, "struct task_struct", "pid", &f.o_pid)) < 0 ||
	    (r = member(k, "struct task_struct", "tasks", &f.o_tasks)) < 0)
		return r;
	/* threads: signal->thread_head + thread_node (3.14+); thread_group (until 6.7) */
	f.use_thread_node =
		member(k, "struct task_struct", "signal", &f.o_signal) == 0 &&
		member(k, "struct signal_struct", "thread_head", &f.o_thread_head) == 0 &&
		member(k, "struct task_struct", "thread_node", &f.o_thread_node) == 0;
	if (!f.use_thread_node &&
	    (r = member(k, "struct task_struct", "thread_group", &f.o_thread_group)) < 0)
		return r;
	if (pid == 0) {
		*task = init;
		return 0;
	}
	r = list_walk(k, init + f.o_tasks, MAX_TASKS, check_process, &f);
	if (r < 0)
		return r;
	if (!f.found) {
		kvmdci_set_error(k->ctx, "no task with pid %d", pid);
		return -ESRCH;
	}
	*task = f.found;
	return 0;
}

/* ---- CPUs ---- */

KVMDCI_EXPORT const char *kvmdci_cpu_mode_name(enum kvmdci_cpu_mode mode)
{
	switch (mode) {
	case KVMDCI_CPU_KERNEL:
		return "kernel";
	case KVMDCI_CPU_USER:
		return "user";
	case KVMDCI_CPU_GUEST:
		return "guest";
	default:
		return "unknown";
	}
}

static bool cpu_sees_kernel(struct kvmdci_kernel *k, int cpu)
{
	char b[sizeof(k->banner)];

	return kvmdci_target_read_virt(k->target, cpu, k->banner_addr, b, sizeof(b)) == 0 &&
	       !memcmp(b, k->banner, sizeof(b));
}

/* The kernel's CPU number of target CPU @cpu: whose per-CPU offset its GS base holds. */
static int linux_cpu(struct kvmdci_kernel *k, uint64_t gsbase, int fallback)
{
	uint64_t offs, nr = MAX_CPUS, v;
	uint32_t nr32;

	if (vsym(k, "__per_cpu_offset", &offs) < 0)
		return -1;
	if (vsym(k, "nr_cpu_ids", &v) == 0 && kvmdci_kernel_read(k, v, &nr32, 4) == 0 && nr32 &&
	    nr32 <= MAX_CPUS)
		nr = nr32;
	for (uint64_t i = 0; gsbase && i < nr && i < 64; i++)
		if (kvmdci_kernel_read_u64(k, offs + 8 * i, &v) == 0 && v == gsbase)
			return (int)i;
	return fallback < (int)nr ? fallback : -1;
}

/* The per-CPU current task: current_task (until 6.1, again 6.15+) or pcpu_hot.current_task. */
static int current_task(struct kvmdci_kernel *k, int lcpu, uint64_t *task)
{
	uint64_t offs, base, var, off = 0;
	int r;

	if (percpu_sym(k, "current_task", &var) < 0) {
		if (percpu_sym(k, "pcpu_hot", &var) < 0 ||
		    member(k, "struct pcpu_hot", "current_task", &off) < 0) {
			kvmdci_set_error(k->ctx,
					 "neither current_task nor pcpu_hot in the symbols");
			return -ENOENT;
		}
	}
	if (vsym(k, "__per_cpu_offset", &offs) < 0)
		return -ENOENT;
	if ((r = kvmdci_kernel_read_u64(k, offs + 8 * (uint64_t)lcpu, &base)) < 0)
		return r;
	return kvmdci_kernel_read_u64(k, base + var + off, task);
}

/*
 * The host state of a CPU that runs an SVM guest: VMRUN saved the host's rip and rsp in the
 * host save area, whose physical address KVM keeps per CPU in kvm_amd's svm_data
 * (struct svm_cpu_data: save_area_pa, or the struct page *save_area of kernels that keep
 * svm_data as a pointer). The area is laid out as a VMCB on QEMU (helper_vmrun() writes
 * save.rip and save.rsp there); real processors may keep it in their own format, so the
 * values are only used when rip is kernel text.
 */
static int svm_host_state(struct kvmdci_unwinder *u, int lcpu, uint64_t *rip, uint64_t *rsp)
{
	struct kvmdci_kernel *k = u->k;
	uint64_t var, offs, base, pa, o_pa, o_rip, o_rsp, v;
	int r;

	if (!kernel_module(k, "kvm_amd") || kvmdci_kernel_symbol(k, "kvm_amd:svm_data", &var) < 0)
		return -ENOENT;
	if (vsym(k, "__per_cpu_offset", &offs) < 0 ||
	    kvmdci_kernel_read_u64(k, offs + 8 * (uint64_t)lcpu, &base) < 0)
		return -EFAULT;
	struct ktypes_loc loc;
	if (kernel_member(k, "kvm_amd", "struct vmcb", "save.rip", &loc) < 0)
		return -ENOENT;
	o_rip = loc.bit_offset / 8;
	if (kernel_member(k, "kvm_amd", "struct vmcb", "save.rsp", &loc) < 0)
		return -ENOENT;
	o_rsp = loc.bit_offset / 8;
	if (kernel_member(k, "kvm_amd", "struct svm_cpu_data", "save_area_pa", &loc) == 0) {
		/* DEFINE_PER_CPU(struct svm_cpu_data, svm_data) */
		o_pa = loc.bit_offset / 8;
		if ((r = kvmdci_kernel_read_u64(k, var + base + o_pa, &pa)) < 0)
			return r;
	} else {
		/* DEFINE_PER_CPU(struct svm_cpu_data *, svm_data); save_area is a struct page * */
		uint64_t sd, page, vmemmap, psize;
		if (kernel_member(k, "kvm_amd", "struct svm_cpu_data", "save_area", &loc) < 0 ||
		    vsym(k, "vmemmap_base", &v) < 0 || kvmdci_kernel_read_u64(k, v, &vmemmap) < 0 ||
		    kvmdci_kernel_type_size(k, NULL, "struct page", &psize) < 0 || !psize)
			return -ENOENT;
		if ((r = kvmdci_kernel_read_u64(k, var + base, &sd)) < 0 ||
		    (r = kvmdci_kernel_read_u64(k, sd + loc.bit_offset / 8, &page)) < 0)
			return r;
		if (page < vmemmap)
			return -EINVAL;
		pa = (page - vmemmap) / psize * 4096;
	}
	if (!pa || (pa & 0xfff))
		return -EINVAL;
	if ((r = kvmdci_target_read_phys(k->target, pa + o_rip, rip, 8)) < 0 ||
	    (r = kvmdci_target_read_phys(k->target, pa + o_rsp, rsp, 8)) < 0)
		return r;
	return u_is_text(u, *rip) ? 0 : -EINVAL;
}

static int saved_task_stack(struct kvmdci_unwinder *u, uint64_t task, struct kvmdci_stack *out)
{
	struct kvmdci_kernel *k = u->k;
	uint64_t o_sp, o_bp, o_ret, size, sp, bp, ip;
	int r;

	if ((r = member(k, "struct task_struct", "thread.sp", &o_sp)) < 0 ||
	    (r = member(k, "struct inactive_task_frame", "bp", &o_bp)) < 0 ||
	    (r = member(k, "struct inactive_task_frame", "ret_addr", &o_ret)) < 0 ||
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

static const char *const cpu_regs[] = {"rip", "rsp", "rbp",	"cs",
				       "cr0", "cr3", "gs_base", "k_gs_base"};

KVMDCI_EXPORT int kvmdci_unwind_cpu(struct kvmdci_unwinder *u, int cpu,
				    struct kvmdci_cpu_info *info, struct kvmdci_stack *stack)
{
	KVMDCI_API_ENTRY(u->ctx);
	struct kvmdci_kernel *k = u->k;
	uint64_t v[ARRAY_SIZE(cpu_regs)], efer, cr4, task;
	struct kvmdci_task_info ti;
	int r;

	memset(info, 0, sizeof(*info));
	info->cpu = cpu;
	info->linux_cpu = -1;
	info->pid = info->tgid = -1;
	info->virt = -1;
	if (stack) {
		memset(stack, 0, sizeof(*stack));
		stack->end = KVMDCI_UNWIND_NO_STACK;
	}
	if ((r = kvmdci_target_regs_read(k->target, cpu, cpu_regs, v, ARRAY_SIZE(cpu_regs))) < 0) {
		kvmdci_set_error(k->ctx, "cannot read the registers of CPU %d", cpu);
		return r;
	}
	info->rip = v[0];
	info->rsp = v[1];
	info->rbp = v[2];
	info->cs = v[3];
	info->cr0 = v[4];
	info->cr3 = v[5];
	if (kvmdci_target_reg_read(k->target, cpu, "efer", &efer) == 0)
		info->virt = (efer >> 12) & 1; /* EFER.SVME */
	if (kvmdci_target_reg_read(k->target, cpu, "cr4", &cr4) == 0 && ((cr4 >> 13) & 1))
		info->virt = 1; /* CR4.VMXE */

	bool sees = cpu_sees_kernel(k, cpu);
	if (sees && (info->cs & 3) == 0 && info->rip >= 0xffff800000000000ULL) {
		info->mode = KVMDCI_CPU_KERNEL;
		info->linux_cpu = linux_cpu(k, v[6], cpu);
	} else if (sees && (info->cs & 3) == 3) {
		info->mode = KVMDCI_CPU_USER;
		info->linux_cpu =
			linux_cpu(k, v[7], cpu); /* swapgs: the kernel's is in k_gs_base */
		snprintf(info->where, sizeof(info->where), "user mode: rip 0x%llx",
			 (unsigned long long)info->rip);
	} else {
		/*
		 * The host kernel is not visible through this CPU's paging, or it is not in
		 * kernel text: it runs a guest, and the stub shows the guest's registers.
		 */
		info->mode = KVMDCI_CPU_GUEST;
		info->virt = 1;
		info->linux_cpu = linux_cpu(k, 0, cpu);
		snprintf(info->where, sizeof(info->where),
			 "in guest: rip 0x%llx cs 0x%llx cr0 0x%llx%s",
			 (unsigned long long)info->rip, (unsigned long long)info->cs,
			 (unsigned long long)info->cr0, (info->cr0 & 1) ? "" : " (real mode)");
	}
	if (info->linux_cpu >= 0 && current_task(k, info->linux_cpu, &task) == 0 && task &&
	    kvmdci_kernel_task_info(k, task, &ti) == 0) {
		info->task = task;
		info->pid = ti.pid;
		info->tgid = ti.tgid;
		memcpy(info->comm, ti.comm, sizeof(info->comm));
		memcpy(info->state, ti.state, sizeof(info->state));
		info->idle = ti.pid == 0;
	}
	if (info->mode == KVMDCI_CPU_KERNEL) {
		char mod[64], fn[128];
		uint64_t off;
		if (symbolize(u, k, info->rip, mod, sizeof(mod), fn, sizeof(fn), &off) == 0)
			snprintf(info->where, sizeof(info->where), "%.60s!%.100s+0x%llx", mod, fn,
				 (unsigned long long)off);
		else
			snprintf(info->where, sizeof(info->where), "0x%llx",
				 (unsigned long long)info->rip);
		if (stack)
			kvmdci_unwind_regs(u, info->rip, info->rsp, info->rbp, stack);
	} else if (stack && info->mode == KVMDCI_CPU_USER) {
		snprintf(stack->end_detail, sizeof(stack->end_detail),
			 "CPU %d runs user code: no kernel frames", cpu);
	} else if (info->mode == KVMDCI_CPU_GUEST) {
		uint64_t hrip, hrsp;
		if (info->linux_cpu >= 0 && svm_host_state(u, info->linux_cpu, &hrip, &hrsp) == 0) {
			info->guest_stack = 1;
			if (stack)
				kvmdci_unwind_regs(u, hrip, hrsp, 0, stack);
		} else if (stack) {
			snprintf(stack->end_detail, sizeof(stack->end_detail),
				 "CPU %d runs a guest: the host's registers are not visible", cpu);
		}
	}
	return 0;
}

KVMDCI_EXPORT int kvmdci_unwind_task(struct kvmdci_unwinder *u, uint64_t task,
				     struct kvmdci_stack *out)
{
	KVMDCI_API_ENTRY(u->ctx);
	struct kvmdci_kernel *k = u->k;
	struct kvmdci_task_info ti;
	struct kvmdci_cpu_info ci;
	int r;

	if ((r = kvmdci_kernel_task_info(k, task, &ti)) < 0)
		return r;
	/* running: the stack of the CPU whose current task it is */
	int n = kvmdci_target_cpu_count(k->target);
	for (int cpu = 0; ti.on_cpu && cpu < n; cpu++) {
		struct kvmdci_stack *tmp = malloc(sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		if (kvmdci_unwind_cpu(u, cpu, &ci, tmp) == 0 && ci.task == task) {
			memcpy(out, tmp, sizeof(*out));
			free(tmp);
			return 0;
		}
		free(tmp);
	}
	return saved_task_stack(u, task, out);
}
