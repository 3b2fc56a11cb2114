// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The x86-64 ORC unwinder: table lookup and one unwind step, following the kernel's
 * arch/x86/kernel/unwind_orc.c (unwind_next_frame, __orc_find, orc_fp_entry) and
 * arch/x86/include/asm/orc_types.h of 6.1 and 6.12. Memory comes through a callback and is
 * untrusted: every value read is checked before it is followed, and the number of reads is
 * bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/orc.h"
#include "libkvmdci/libkvmdci.h"

int orc_version_from_layout(bool has_signal, bool has_end, unsigned int type_bits)
{
	if (has_signal && has_end && type_bits == 2)
		return 2; /* ffb1b4a41016 "x86/unwind/orc: Add 'signal' field to ORC metadata" */
	if (has_signal && !has_end && type_bits == 3)
		return 3; /* fb799447ae29 "x86,objtool: Split UNWIND_HINT_EMPTY in two" */
	if (!has_signal && has_end && type_bits == 2)
		return 1;
	return -1;
}

int orc_version_from_header(const uint8_t *hash, size_t len)
{
	/* ORC_HASH of orc_types.h as of 6.4 (scripts/orc_hash.sh), in .orc_header since 6.4 */
	static const uint8_t v3[20] = {0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
				       0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24};
	/* the 6.3 format, whose .orc_header came with the 6.3.10 backport */
	static const uint8_t v2[20] = {0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0,
				       0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca, 0x98, 0x5c, 0x2c, 0x51};

	/* Debian's 7.2.13: the same entry layout and types as v3, the registers renumbered
	 * (found from the entries of its vmlinux: see orc_decode) */
	static const uint8_t v4[20] = {0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93,
				       0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82};

	if (len != 20)
		return -1;
	if (!memcmp(hash, v4, 20))
		return 4;
	if (!memcmp(hash, v3, 20))
		return 3;
	if (!memcmp(hash, v2, 20))
		return 2;
	return -1;
}

/*
 * struct orc_entry { s16 sp_offset; s16 bp_offset; u16 bits } __packed. The bits:
 * v3 (6.4+): sp_reg:4 bp_reg:4 type:3 signal:1, types UNDEFINED/END_OF_STACK/CALL/REGS/...;
 * v2 (6.3):  sp_reg:4 bp_reg:4 type:2 signal:1 end:1, types CALL/REGS/REGS_PARTIAL (0-2);
 * v1:        sp_reg:4 bp_reg:4 type:2 end:1, REGS and REGS_PARTIAL imply signal.
 * Before 6.4 "sp_reg undefined" meant end of stack with end set, an undefined entry without.
 */
void orc_decode(const uint8_t *raw, int version, struct orc_entry *e)
{
	uint16_t f = (uint16_t)(raw[4] | raw[5] << 8);

	e->sp_offset = (int16_t)(raw[0] | raw[1] << 8);
	e->bp_offset = (int16_t)(raw[2] | raw[3] << 8);
	e->sp_reg = f & 0xf;
	e->bp_reg = (f >> 4) & 0xf;
	if (version >= 4) {
		/* The registers renumbered (v4, the .orc_header hash of Debian's 7.2): matched by
		 * how often each value occurs in 7.2's vmlinux against 6.12's (SP 3 in 84% of
		 * the entries as SP 5 in 6.12's, PREV_SP 8 as 1 as bp_reg, SP_INDIRECT 9 and
		 * BP_INDIRECT 10 in the entry code as 9 and 8); 1 and 5 occur in no entry of it
		 * and stay unknown (15: the unwinder stops there with a clear message). */
		static const uint8_t reg4[16] = {
			[0] = ORC_REG_UNDEFINED, [1] = 15, [2] = ORC_REG_DX, [3] = ORC_REG_SP,
			[4] = ORC_REG_BP, [5] = 15, [6] = ORC_REG_R10, [7] = ORC_REG_R13,
			[8] = ORC_REG_PREV_SP, [9] = ORC_REG_SP_INDIRECT, [10] = ORC_REG_BP_INDIRECT,
			[11] = 15, [12] = 15, [13] = 15, [14] = 15, [15] = 15,
		};
		e->sp_reg = reg4[e->sp_reg];
		e->bp_reg = reg4[e->bp_reg];
	}
	if (version >= 3) {
		e->type = (f >> 8) & 7;
		e->signal = (f >> 11) & 1;
		return;
	}
	unsigned int type = (f >> 8) & 3;
	unsigned int end = version == 2 ? (f >> 11) & 1 : (f >> 10) & 1;
	e->signal = version == 2 ? (f >> 10) & 1 : type > 0;
	if (e->sp_reg == ORC_REG_UNDEFINED)
		e->type = end ? ORC_TYPE_END_OF_STACK : ORC_TYPE_UNDEFINED;
	else
		e->type = (uint8_t)(type + ORC_TYPE_CALL);
}

uint64_t orc_table_ip(const struct orc_table *t, uint32_t i)
{
	int32_t rel;

	memcpy(&rel, &t->rel[i], 4);
	return t->ip_base + 4ULL * i + (uint64_t)(int64_t)rel + t->bias;
}

int orc_table_finish(struct orc_table *t)
{
	if (!t->n)
		return -EINVAL;
	for (uint32_t i = 1; i < t->n; i++)
		if (orc_table_ip(t, i) < orc_table_ip(t, i - 1))
			return -EINVAL; /* vmlinux is sorted at build time, modules at load time */
	t->first = orc_table_ip(t, 0);
	t->last = orc_table_ip(t, t->n - 1);
	return 0;
}

/* __orc_find(): the last entry whose ip is at or below @ip (duplicates: the last one). */
int orc_table_find(const struct orc_table *t, uint64_t ip, struct orc_entry *e)
{
	uint32_t lo = 0, hi;

	if (!t->n || ip < t->first || ip > t->last)
		return -ENOENT;
	hi = t->n;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (orc_table_ip(t, mid) <= ip)
			lo = mid;
		else
			hi = mid;
	}
	orc_decode(t->raw + (size_t)lo * ORC_ENTRY_SIZE, t->version, e);
	return 0;
}

void orc_table_free(struct orc_table *t)
{
	free(t->rel);
	free(t->raw);
	memset(t, 0, sizeof(*t));
}

/* struct pt_regs on x86-64 (arch/x86/include/asm/ptrace.h), when type info lacks it. */
void orc_regs_layout_default(struct orc_regs_layout *l)
{
	*l = (struct orc_regs_layout){.r13 = 16,
				      .bp = 32,
				      .r10 = 56,
				      .dx = 96,
				      .di = 112,
				      .ip = 128,
				      .cs = 136,
				      .sp = 152,
				      .size = 168};
}

static int rd(const struct orc_env *env, struct orc_state *s, uint64_t addr, uint64_t *val)
{
	uint8_t b[8];

	if (env->max_reads && s->reads >= env->max_reads)
		return -E2BIG;
	s->reads++;
	if (addr & 7 || env->read(env->data, addr, b, 8) < 0)
		return -EFAULT;
	memcpy(val, b, 8);
	return 0;
}

#define FAIL(code, ...)                                     \
	do {                                                \
		snprintf(detail, detail_size, __VA_ARGS__); \
		return code;                                \
	} while (0)

/* get_reg(): a register saved in the last full pt_regs (or the one before a partial one). */
static int get_reg(const struct orc_env *env, struct orc_state *s, uint32_t off, uint64_t *val)
{
	if (s->regs && s->full_regs)
		return rd(env, s, s->regs + off, val);
	if (s->prev_regs)
		return rd(env, s, s->prev_regs + off, val);
	return -ENOENT;
}

static const char *reg_name(unsigned int reg)
{
	static const char *const names[] = {"undefined",   "prev_sp",	 "dx",	"di",
					    "bp",	   "sp",	 "r10", "r13",
					    "bp_indirect", "sp_indirect"};
	return reg < 10 ? names[reg] : "unknown";
}

enum orc_step orc_step(const struct orc_env *env, struct orc_state *s, char *detail,
		       size_t detail_size)
{
	/* orc_fp_entry: the guess for code without ORC data (it must use frame pointers) */
	static const struct orc_entry fp_entry = {.type = ORC_TYPE_CALL,
						  .sp_reg = ORC_REG_BP,
						  .sp_offset = 16,
						  .bp_reg = ORC_REG_PREV_SP,
						  .bp_offset = -16};
	const struct orc_regs_layout *L = &env->regs;
	struct orc_entry e;
	uint64_t sp, tmp, prev_sp = s->sp, orig_ip = s->ip, ip, newsp, cs;
	bool indirect = false;
	int r;

	detail[0] = '\0';
	/* for a call frame ip is a return address: look up the call instruction itself */
	s->guess = false;
	s->from_regs = false;
	if (env->find(env->data, s->signal ? s->ip : s->ip - 1, &e) < 0) {
		e = fp_entry;
		s->guess = true;
	} else if (e.type == ORC_TYPE_UNDEFINED) {
		FAIL(ORC_STEP_BAD_ORC, "ORC entry for 0x%llx is undefined",
		     (unsigned long long)orig_ip);
	} else if (e.type == ORC_TYPE_END_OF_STACK) {
		FAIL(ORC_STEP_END, "end of stack");
	}

	switch (e.sp_reg) {
	case ORC_REG_SP:
		sp = s->sp + e.sp_offset;
		break;
	case ORC_REG_BP:
		sp = s->bp + e.sp_offset;
		break;
	case ORC_REG_SP_INDIRECT:
		sp = s->sp;
		indirect = true;
		break;
	case ORC_REG_BP_INDIRECT:
		sp = s->bp + e.sp_offset;
		indirect = true;
		break;
	case ORC_REG_R10:
	case ORC_REG_R13:
	case ORC_REG_DI:
	case ORC_REG_DX: {
		uint32_t off = e.sp_reg == ORC_REG_R10	 ? L->r10
			       : e.sp_reg == ORC_REG_R13 ? L->r13
			       : e.sp_reg == ORC_REG_DI	 ? L->di
							 : L->dx;
		r = get_reg(env, s, off, &sp);
		if (r == -ENOENT)
			FAIL(ORC_STEP_BAD_FRAME, "ORC at 0x%llx needs %s, which no pt_regs saved",
			     (unsigned long long)orig_ip, reg_name(e.sp_reg));
		if (r < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read %s from pt_regs at 0x%llx",
			     reg_name(e.sp_reg), (unsigned long long)s->regs);
		break;
	}
	default:
		FAIL(ORC_STEP_BAD_ORC, "ORC entry for 0x%llx: unknown sp base register %u",
		     (unsigned long long)orig_ip, e.sp_reg);
	}
	if (indirect) {
		if (rd(env, s, sp, &sp) < 0)
			FAIL(ORC_STEP_UNREADABLE,
			     "cannot read the indirect stack pointer at 0x%llx",
			     (unsigned long long)sp);
		if (e.sp_reg == ORC_REG_SP_INDIRECT)
			sp += e.sp_offset;
	}

	switch (e.type) {
	case ORC_TYPE_CALL:
		if (rd(env, s, sp - 8, &ip) < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read the return address at 0x%llx",
			     (unsigned long long)(sp - 8));
		newsp = sp;
		s->regs = s->prev_regs = 0;
		s->signal = false;
		break;
	case ORC_TYPE_REGS:
		if (rd(env, s, sp + L->ip, &ip) < 0 || rd(env, s, sp + L->sp, &newsp) < 0 ||
		    rd(env, s, sp + L->cs, &cs) < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read pt_regs at 0x%llx",
			     (unsigned long long)sp);
		/* the kernel's end-of-stack check for user tasks: user_mode(regs) */
		if (cs & 3)
			FAIL(ORC_STEP_USER, "entered from user mode at 0x%llx (pt_regs at 0x%llx)",
			     (unsigned long long)ip, (unsigned long long)sp);
		s->regs = sp;
		s->prev_regs = 0;
		s->full_regs = true;
		s->signal = true;
		s->from_regs = true;
		break;
	case ORC_TYPE_REGS_PARTIAL:
		/* sp points at the iret frame: pt_regs.ip onwards */
		if (rd(env, s, sp, &ip) < 0 || rd(env, s, sp + (L->sp - L->ip), &newsp) < 0 ||
		    rd(env, s, sp + (L->cs - L->ip), &cs) < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read the iret frame at 0x%llx",
			     (unsigned long long)sp);
		if (cs & 3)
			FAIL(ORC_STEP_USER,
			     "entered from user mode at 0x%llx (iret frame at 0x%llx)",
			     (unsigned long long)ip, (unsigned long long)sp);
		if (s->full_regs)
			s->prev_regs = s->regs;
		s->regs = sp - L->ip;
		s->full_regs = false;
		s->signal = true;
		s->from_regs = true;
		break;
	default:
		FAIL(ORC_STEP_BAD_ORC, "ORC entry for 0x%llx: unknown type %u",
		     (unsigned long long)orig_ip, e.type);
	}
	/* after pt_regs ip is exact; some call frames are marked "signal" too (6.3+) */
	s->signal = e.type != ORC_TYPE_CALL || e.signal;

	switch (e.bp_reg) {
	case ORC_REG_UNDEFINED:
		if (get_reg(env, s, L->bp, &tmp) == 0)
			s->bp = tmp;
		break;
	case ORC_REG_PREV_SP:
		if (rd(env, s, sp + e.bp_offset, &s->bp) < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read the saved frame pointer at 0x%llx",
			     (unsigned long long)(sp + e.bp_offset));
		break;
	case ORC_REG_BP:
		if (rd(env, s, s->bp + e.bp_offset, &s->bp) < 0)
			FAIL(ORC_STEP_UNREADABLE, "cannot read the saved frame pointer at 0x%llx",
			     (unsigned long long)(s->bp + e.bp_offset));
		break;
	default:
		FAIL(ORC_STEP_BAD_ORC, "ORC entry for 0x%llx: unknown bp base register %u",
		     (unsigned long long)orig_ip, e.bp_reg);
	}

	/* a return address must be kernel text; pt_regs may hold a user address (checked next) */
	if (e.type == ORC_TYPE_CALL && env->is_text && !env->is_text(env->data, ip))
		FAIL(ORC_STEP_BAD_FRAME, "return address 0x%llx at 0x%llx is not kernel text%s",
		     (unsigned long long)ip, (unsigned long long)(sp - 8),
		     s->guess ? " (frame-pointer guess)" : "");
	/*
	 * unwind_next_frame()'s "stack going in the wrong direction" check: on one stack a
	 * caller's frame is above its callee's. Indirect and pt_regs frames may switch stacks.
	 */
	if (!indirect && e.type == ORC_TYPE_CALL && newsp <= prev_sp)
		FAIL(ORC_STEP_BAD_FRAME,
		     "stack going the wrong way at 0x%llx (sp 0x%llx -> 0x%llx)",
		     (unsigned long long)orig_ip, (unsigned long long)prev_sp,
		     (unsigned long long)newsp);
	s->ip = ip;
	s->sp = newsp;
	return ORC_STEP_OK;
}

int orc_unwind(const struct orc_env *env, struct orc_state *s, struct orc_frame *frames, int max,
	       int *end, char *detail, size_t detail_size)
{
	int n = 0;

	detail[0] = '\0';
	if (max <= 0) {
		*end = KVMDCI_UNWIND_DEPTH;
		return 0;
	}
	frames[n++] = (struct orc_frame){.ip = s->ip, .sp = s->sp, .bp = s->bp};
	if (env->is_text && !env->is_text(env->data, s->ip)) {
		*end = KVMDCI_UNWIND_BAD_FRAME;
		snprintf(detail, detail_size, "ip 0x%llx is not kernel text",
			 (unsigned long long)s->ip);
		return n;
	}
	for (;;) {
		if (n >= max) {
			*end = KVMDCI_UNWIND_DEPTH;
			snprintf(detail, detail_size, "stopped after %d frames", max);
			return n;
		}
		switch (orc_step(env, s, detail, detail_size)) {
		case ORC_STEP_OK:
			break;
		case ORC_STEP_END:
			*end = KVMDCI_UNWIND_END_OF_STACK;
			return n;
		case ORC_STEP_USER:
			*end = KVMDCI_UNWIND_USER_MODE;
			return n;
		case ORC_STEP_BAD_ORC:
			*end = KVMDCI_UNWIND_BAD_ORC;
			return n;
		case ORC_STEP_BAD_FRAME:
			*end = KVMDCI_UNWIND_BAD_FRAME;
			return n;
		case ORC_STEP_UNREADABLE:
		default:
			*end = KVMDCI_UNWIND_UNREADABLE;
			if (env->max_reads && s->reads >= env->max_reads)
				snprintf(detail, detail_size, "read limit (%u reads) reached",
					 env->max_reads);
			return n;
		}
		/* bad data can lead back to a frame seen before: stop there, not in a loop */
		for (int i = 0; i < n; i++)
			if (frames[i].ip == s->ip && frames[i].sp == s->sp) {
				*end = KVMDCI_UNWIND_LOOP;
				snprintf(detail, detail_size,
					 "frame %d repeats frame %d (ip 0x%llx sp 0x%llx)", n, i,
					 (unsigned long long)s->ip, (unsigned long long)s->sp);
				return n;
			}
		frames[n++] = (struct orc_frame){.ip = s->ip,
						 .sp = s->sp,
						 .bp = s->bp,
						 .regs = s->from_regs,
						 .guess = s->guess};
	}
}
