// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * x86-64 instruction lengths and memory operands (x86-insn.h). The opcode maps are the
 * Intel SDM's (vol. 2, appendix A, "Opcode Map"): which opcodes take a ModRM byte and which
 * immediate follows. Only what 64-bit kernel code uses is known; VEX and EVEX encoded
 * instructions (C4, C5, 62), which kernel C code does not contain, are refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "catalog/x86-insn.h"

/* immediate kinds */
enum {
	I0,
	I8,
	I16,
	IZ /* 16 or 32 by operand size */,
	IV /* 16/32/64: mov r, imm */,
	I24 /* enter: 16 + 8 */,
	IM /* moffs: 64 (32 with 67) */,
	BAD
};

/* One-byte map: ModRM present? */
static bool modrm1(uint8_t op)
{
	if (op < 0x40)
		return (op & 7) < 4;
	switch (op) {
	case 0x63:
	case 0x69:
	case 0x6b:
	case 0x80 ... 0x8f:
	case 0xc0:
	case 0xc1:
	case 0xc6:
	case 0xc7:
	case 0xd0 ... 0xd3:
	case 0xd8 ... 0xdf:
	case 0xf6:
	case 0xf7:
	case 0xfe:
	case 0xff:
		return true;
	}
	return false;
}

/* One-byte map: the immediate (F6/F7 depend on ModRM.reg: see x86_insn_decode). */
static int imm1(uint8_t op)
{
	if (op < 0x40) {
		switch (op & 7) {
		case 4:
			return I8;
		case 5:
			return IZ;
		case 6:
		case 7: /* push/pop es, ss...; daa, aas...: invalid in 64-bit mode */
			return BAD;
		}
		return I0;
	}
	switch (op) {
	case 0x60:
	case 0x61:
	case 0x62:
	case 0x82:
	case 0x9a:
	case 0xc4:
	case 0xc5:
	case 0xce:
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xea:
		return BAD;
	case 0x68:
	case 0x69:
	case 0x81:
	case 0xa9:
	case 0xc7:
	case 0xe8:
	case 0xe9:
		return IZ;
	case 0x6a:
	case 0x6b:
	case 0x70 ... 0x7f:
	case 0x80:
	case 0x83:
	case 0xa8:
	case 0xb0 ... 0xb7:
	case 0xc0:
	case 0xc1:
	case 0xc6:
	case 0xcd:
	case 0xe0 ... 0xe7:
	case 0xeb:
		return I8;
	case 0xb8 ... 0xbf:
		return IV;
	case 0xa0 ... 0xa3:
		return IM;
	case 0xc2:
	case 0xca:
		return I16;
	case 0xc8:
		return I24;
	}
	return I0;
}

/* Two-byte map (0F xx): ModRM present? */
static bool modrm2(uint8_t op)
{
	switch (op) {
	case 0x05 ... 0x0b:
	case 0x0e:
	case 0x30 ... 0x37:
	case 0x77:
	case 0x80 ... 0x8f:
	case 0xa0 ... 0xa2:
	case 0xa8 ... 0xaa:
	case 0xc8 ... 0xcf:
		return false;
	}
	return true;
}

/* Two-byte map: the immediate, or BAD for what the decoder does not know. */
static int imm2(uint8_t op)
{
	switch (op) {
	case 0x04:
	case 0x0a:
	case 0x0c:
	case 0x0f:
	case 0x24 ... 0x27:
	case 0x36:
	case 0x39:
	case 0x3b ... 0x3f:
	case 0x7a:
	case 0x7b:
		return BAD;
	case 0x70 ... 0x73:
	case 0xa4:
	case 0xac:
	case 0xba:
	case 0xc2:
	case 0xc4 ... 0xc6:
		return I8;
	case 0x80 ... 0x8f:
		return IZ; /* jcc rel32: 66 does not shorten it in 64-bit mode, handled below */
	}
	return I0;
}

int x86_insn_decode(const uint8_t *code, size_t len, struct x86_insn *out)
{
	size_t i = 0;
	int imm;

	*out = (struct x86_insn){.base = -1, .index = -1, .scale = 1};
	/* legacy prefixes, then at most one REX right before the opcode */
	for (;; i++) {
		if (i >= len)
			return -ENODATA;
		uint8_t b = code[i];
		if (b == 0x66)
			out->opsize = 1;
		else if (b == 0x67)
			out->adsize = 1;
		else if (b == 0xf2 || b == 0xf3)
			out->rep = b;
		else if (b != 0xf0 && b != 0x2e && b != 0x36 && b != 0x3e && b != 0x26 &&
			 b != 0x64 && b != 0x65)
			break;
		if (i >= 14)
			return -EINVAL;
	}
	if ((code[i] & 0xf0) == 0x40) {
		out->rex = code[i++];
		if (i >= len)
			return -ENODATA;
	}
	out->map = 1;
	out->opcode = code[i++];
	if (out->opcode == 0x0f) {
		if (i >= len)
			return -ENODATA;
		out->map = 2;
		out->opcode = code[i++];
		if (out->opcode == 0x38 || out->opcode == 0x3a) {
			if (i >= len)
				return -ENODATA;
			out->map = out->opcode == 0x38 ? 3 : 4;
			out->opcode = code[i++];
		}
	}
	switch (out->map) {
	case 1:
		out->has_modrm = modrm1(out->opcode);
		imm = imm1(out->opcode);
		break;
	case 2:
		out->has_modrm = modrm2(out->opcode);
		imm = imm2(out->opcode);
		break;
	case 3:
		out->has_modrm = 1;
		imm = I0;
		break;
	default:
		out->has_modrm = 1;
		imm = I8;
		break;
	}
	if (imm == BAD)
		return -EINVAL;
	if (out->has_modrm) {
		if (i >= len)
			return -ENODATA;
		uint8_t m = code[i++];
		out->mod = m >> 6;
		out->reg = (m >> 3) & 7;
		out->rm = m & 7;
		if (out->mod != 3) {
			int dispsz = out->mod == 1 ? 1 : out->mod == 2 ? 4 : 0;
			out->base = (int8_t)(out->rm | ((out->rex & 1) << 3));
			if (out->rm == 4) {
				if (i >= len)
					return -ENODATA;
				uint8_t s = code[i++];
				int idx = ((s >> 3) & 7) | ((out->rex & 2) << 2);
				out->scale = (uint8_t)(1u << (s >> 6));
				out->index = idx == 4 ? -1 : (int8_t)idx;
				out->base = (int8_t)((s & 7) | ((out->rex & 1) << 3));
				if ((s & 7) == 5 && out->mod == 0) {
					out->base = -1; /* disp32, no base */
					dispsz = 4;
				}
			} else if (out->rm == 5 && out->mod == 0) {
				out->base = -2; /* rip-relative */
				dispsz = 4;
			}
			if (i + (size_t)dispsz > len)
				return -ENODATA;
			if (dispsz == 1)
				out->disp = (int8_t)code[i];
			else if (dispsz == 4)
				out->disp =
					(int32_t)((uint32_t)code[i] | (uint32_t)code[i + 1] << 8 |
						  (uint32_t)code[i + 2] << 16 |
						  (uint32_t)code[i + 3] << 24);
			i += (size_t)dispsz;
		}
	}
	/* test r/m, imm: F6 /0 /1 and F7 /0 /1 (Intel SDM vol. 2, table A-6, group 3) */
	if (out->map == 1 && (out->opcode == 0xf6 || out->opcode == 0xf7))
		imm = out->reg < 2 ? (out->opcode == 0xf6 ? I8 : IZ) : I0;
	size_t n = 0;
	switch (imm) {
	case I8:
		n = 1;
		break;
	case I16:
		n = 2;
		break;
	case I24:
		n = 3;
		break;
	case IZ:
		/* 16 bits with 0x66, but the rel32 of call, jmp and jcc (0F 8x) stays 32 bits in
		 * 64-bit mode */
		n = out->opsize && out->map == 1 && out->opcode != 0xe8 && out->opcode != 0xe9 ? 2
											       : 4;
		break;
	case IV:
		n = (out->rex & 8) ? 8 : out->opsize ? 2 : 4;
		break;
	case IM:
		n = out->adsize ? 4 : 8;
		break;
	}
	if (i + n > len)
		return -ENODATA;
	i += n;
	if (i > 15)
		return -EINVAL;
	out->len = (uint8_t)i;
	return 0;
}

int x86_insn_is_vmxon(const struct x86_insn *in)
{
	return in->map == 2 && in->opcode == 0xc7 && in->has_modrm && in->mod != 3 &&
	       in->reg == 6 && in->rep == 0xf3 && !in->opsize;
}

const char *x86_reg_name(int n)
{
	static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
					      "rsi", "rdi", "r8",  "r9",  "r10", "r11",
					      "r12", "r13", "r14", "r15"};
	return n >= 0 && n < 16 ? names[n] : NULL;
}

int x86_insn_operand_expr(const struct x86_insn *in, uint64_t insn_addr, char *buf, size_t len)
{
	int n;

	if (!in->has_modrm || in->mod == 3 || in->adsize)
		return -EINVAL;
	if (in->base == -2) {
		n = snprintf(buf, len, "(0x%llx)",
			     (unsigned long long)(insn_addr + in->len + (int64_t)in->disp));
	} else {
		char idx[32] = "";
		if (in->index >= 0)
			snprintf(idx, sizeof(idx), "%s$%s * %u", in->base >= 0 ? " + " : "",
				 x86_reg_name(in->index), in->scale);
		long long d = in->disp;
		bool any = in->base >= 0 || in->index >= 0;
		/* with no register the displacement is the address, sign-extended */
		n = snprintf(buf, len, "(%s%s%s%s0x%llx)", in->base >= 0 ? "$" : "",
			     in->base >= 0 ? x86_reg_name(in->base) : "", idx,
			     any ? (d < 0 ? " - " : " + ") : "",
			     any ? (unsigned long long)(d < 0 ? -d : d) : (unsigned long long)d);
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
