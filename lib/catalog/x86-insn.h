/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small x86-64 instruction decoder: enough to walk a kernel function's code instruction by
 * instruction (lengths from prefixes, opcode maps, ModRM, SIB, displacement and immediate) and
 * to describe an instruction's memory operand. Used to find an instruction inside a function
 * (a catalog entry's "at", kvmdci-catalog(5)) from the bytes the target holds, never from a
 * compiled-in offset.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* One decoded instruction (64-bit mode). */
struct x86_insn {
	uint8_t len;	/* bytes, 1..15 */
	uint8_t map;	/* opcode map: 1 one-byte, 2 0F, 3 0F38, 4 0F3A */
	uint8_t opcode; /* the opcode byte in its map */
	uint8_t rep;	/* last of F2/F3 seen, 0 if none */
	uint8_t opsize; /* 0x66 prefix seen */
	uint8_t adsize; /* 0x67 prefix seen */
	uint8_t rex;	/* the REX byte, 0 if none */
	uint8_t has_modrm;
	uint8_t mod, reg, rm; /* ModRM fields; reg and rm without REX bits */
	/* the memory operand when has_modrm and mod != 3: base and index register numbers
	 * (0 rax .. 15 r15; -1 none; base -2 is rip-relative), scale 1/2/4/8, displacement */
	int8_t base, index;
	uint8_t scale;
	int32_t disp;
};

/* Decode the instruction at @code (@len bytes available). Returns 0, -EINVAL for an opcode
 * the decoder does not know (or that is invalid in 64-bit mode: VEX/EVEX included), -ENODATA
 * when the instruction runs past @len. */
int x86_insn_decode(const uint8_t *code, size_t len, struct x86_insn *out);

/* Is @in VMXON m64 (F3 0F C7 /6 with a memory operand; Intel SDM vol. 2, VMXON)? */
int x86_insn_is_vmxon(const struct x86_insn *in);

/* The 64-bit register name of number @n (0..15) as the GDB stubs name it ("rax", "r8"...). */
const char *x86_reg_name(int n);

/*
 * The effective address of @in's memory operand as a capture expression (kvmdci-catalog(5)):
 * "($rsp + 0x8)", "($rax + $rcx * 8 - 0x10)"; rip-relative operands become the constant
 * address, from @insn_addr, the instruction's own address. Returns 0, -EINVAL when @in has no
 * memory operand or uses 32-bit addressing (0x67), -ENOSPC when @buf is too small.
 */
int x86_insn_operand_expr(const struct x86_insn *in, uint64_t insn_addr, char *buf, size_t len);
