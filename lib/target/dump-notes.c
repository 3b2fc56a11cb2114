// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CPU registers and VMCOREINFO from a dump's ELF notes (shared by core.c and kdump.c).
 * "QEMU" notes carry QEMUCPUState (QEMU target/i386/arch_dump.c): general registers, rip,
 * rflags, segments, cr[0..4]; NT_PRSTATUS carries pr_reg (struct user_regs_struct order).
 */
#include <elf.h>
#include <stdlib.h>

#include "internal.h"
#include "target/dump-notes.h"

static const char *const reg_names[R_COUNT] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
	"r11", "r12", "r13", "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es",
	"fs", "gs", "fs_base", "gs_base", "cr0", "cr2", "cr3", "cr4", "k_gs_base",
};

static uint64_t get(const uint8_t *p, size_t off)
{
	return le64(p + off);
}

/* QEMUCPUState: version, size, then 64-bit fields. */
static void parse_qemu_note(struct dump_notes *d, const uint8_t *n, size_t len)
{
	static const int gpr[] = { R_RAX, R_RBX, R_RCX, R_RDX, R_RSI, R_RDI, R_RSP, R_RBP,
				   R_R8,  R_R9,  R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
				   R_RIP, R_EFLAGS };
	static const int seg[] = { R_CS, R_DS, R_ES, R_FS, R_GS, R_SS };
	struct dump_cpu *cp;

	if (len < 432 || d->nqemu >= DUMP_MAX_CPUS)
		return;
	cp = &d->qemu[d->nqemu++];
	for (size_t i = 0; i < ARRAY_SIZE(gpr); i++) {
		cp->reg[gpr[i]] = get(n, 8 + 8 * i);
		cp->have |= 1u << gpr[i];
	}
	/* segments: {u32 selector, limit, flags, pad; u64 base}, 24 bytes each, from 152 */
	for (size_t i = 0; i < ARRAY_SIZE(seg); i++) {
		cp->reg[seg[i]] = le32(n + 152 + 24 * i);
		cp->have |= 1u << seg[i];
	}
	cp->reg[R_FS_BASE] = get(n, 152 + 24 * 3 + 16);
	cp->reg[R_GS_BASE] = get(n, 152 + 24 * 4 + 16);
	cp->have |= 1u << R_FS_BASE | 1u << R_GS_BASE;
	/* after ldt, tr, gdt, idt: cr[5] at 392 */
	cp->reg[R_CR0] = get(n, 392);
	cp->reg[R_CR2] = get(n, 392 + 16);
	cp->reg[R_CR3] = get(n, 392 + 24);
	cp->reg[R_CR4] = get(n, 392 + 32);
	cp->have |= 1u << R_CR0 | 1u << R_CR2 | 1u << R_CR3 | 1u << R_CR4;
	if (len >= 440) {
		cp->reg[R_K_GS_BASE] = get(n, 432);
		cp->have |= 1u << R_K_GS_BASE;
	}
}

/* NT_PRSTATUS of x86-64: pr_reg (struct user_regs_struct) at offset 112. */
static void parse_prstatus(struct dump_notes *d, const uint8_t *n, size_t len)
{
	static const int order[] = { R_R15, R_R14, R_R13, R_R12, R_RBP, R_RBX, R_R11, R_R10,
				     R_R9,  R_R8,  R_RAX, R_RCX, R_RDX, R_RSI, R_RDI, -1,
				     R_RIP, R_CS,  R_EFLAGS, R_RSP, R_SS, R_FS_BASE, R_GS_BASE,
				     R_DS,  R_ES,  R_FS,  R_GS };
	struct dump_cpu *cp;

	if (len < 112 + 27 * 8 || d->nprstatus >= DUMP_MAX_CPUS)
		return;
	cp = &d->prstatus[d->nprstatus++];
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (order[i] >= 0) {
			cp->reg[order[i]] = get(n, 112 + 8 * i);
			cp->have |= 1u << order[i];
		}
}

void dump_note(struct dump_notes *d, const char *name, size_t namesz, uint32_t type,
	       const uint8_t *desc, size_t descsz)
{
	if (namesz == 5 && !memcmp(name, "QEMU", 4))
		parse_qemu_note(d, desc, descsz);
	else if (namesz == 5 && !memcmp(name, "CORE", 4) && type == NT_PRSTATUS)
		parse_prstatus(d, desc, descsz);
	else if (namesz == 11 && !memcmp(name, "VMCOREINFO", 10)) {
		free(d->vmcoreinfo);
		d->vmcoreinfo = strndup((const char *)desc, descsz);
	}
}

int dump_notes_parse(struct dump_notes *d, const uint8_t *buf, size_t len, size_t *bad_off)
{
	size_t off = 0;
	int count = 0;

	while (off + 12 <= len) {
		uint32_t namesz = le32(buf + off), descsz = le32(buf + off + 4),
			 type = le32(buf + off + 8);
		size_t name_off = off + 12, desc_off = name_off + (((size_t)namesz + 3) & ~3ul);
		size_t end = desc_off + (((size_t)descsz + 3) & ~3ul);
		if (namesz == 0 && descsz == 0 && type == 0)
			break; /* padding at the end of a note area */
		if (namesz > len || descsz > len || desc_off > len || end > len) {
			*bad_off = off;
			return -EINVAL;
		}
		dump_note(d, (const char *)buf + name_off, namesz, type, buf + desc_off, descsz);
		count++;
		off = end;
	}
	return count;
}

const struct dump_cpu *dump_cpus(const struct dump_notes *d, int *n)
{
	if (d->nqemu) {
		*n = d->nqemu;
		return d->qemu;
	}
	*n = d->nprstatus;
	return d->prstatus;
}

void dump_notes_free(struct dump_notes *d)
{
	free(d->vmcoreinfo);
	d->vmcoreinfo = NULL;
}

int dump_regs_read(struct kvmdci_ctx *ctx, const char *path, const struct dump_cpu *cpu,
		   int cpu_index, const char *const *names, uint64_t *vals, int n)
{
	for (int i = 0; i < n; i++) {
		int r;
		for (r = 0; r < R_COUNT; r++)
			if (!strcmp(names[i], reg_names[r]))
				break;
		if (r == R_COUNT || !(cpu->have & (1u << r))) {
			kvmdci_set_error(ctx, "%s: the dump holds no register %s for CPU %d", path,
					 names[i], cpu_index);
			return -ENOENT;
		}
		vals[i] = cpu->reg[r];
	}
	return 0;
}

int dump_read_virt(struct kvmdci_ctx *ctx, const char *path, const struct dump_cpu *cp,
		   int cpu_index, phys_read_fn read_phys, void *data, uint64_t addr, void *buf,
		   size_t len)
{
	uint8_t *out = buf;

	if (!(cp->have & (1u << R_CR3)) || !(cp->have & (1u << R_CR0))) {
		kvmdci_set_error(ctx, "%s: no CR0/CR3 for CPU %d (no QEMU note in the dump)", path,
				 cpu_index);
		return -ENOENT;
	}
	if (!(cp->reg[R_CR0] & (1u << 31))) /* paging off: virtual == physical */
		return read_phys(data, addr, buf, len);
	while (len) {
		uint64_t pa, left;
		int r = x86_translate(read_phys, data, cp->reg[R_CR3], (cp->reg[R_CR4] >> 12) & 1,
				      addr, &pa, &left);
		if (r < 0) {
			kvmdci_set_error(ctx, "%s: virtual 0x%llx is not mapped for CPU %d", path,
					 (unsigned long long)addr, cpu_index);
			return -EFAULT;
		}
		size_t n = len < left ? len : (size_t)left;
		if ((r = read_phys(data, pa, out, n)) < 0)
			return r;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
