// SPDX-License-Identifier: LGPL-2.1-or-later
/* The x86 decoder that finds the VMXON instruction inside a function (lib/catalog/x86-insn.c),
 * on real kernel code (x86-insn-data.h: kvm-intel.ko of the lab's 6.1 and 6.12 kernels, with
 * binutils objdump's instruction lengths as the reference) and on hand-made encodings from
 * the Intel SDM (vol. 2: VMXON, VMCLEAR, VMPTRLD, RDRAND share opcode 0F C7). */
#include <errno.h>
#include <string.h>

#include "catalog/x86-insn.h"
#include "test-common.h"
#include "x86-insn-data.h"

/* Decode @code instruction by instruction; every length must be objdump's; returns the offset
 * of the first VMXON (-1 if none) and its operand expression in @expr. */
static long walk(const uint8_t *code, size_t len, const uint8_t *lens, size_t n, char *expr)
{
	size_t off = 0, i = 0;
	long vmxon = -1;

	while (off < len) {
		struct x86_insn in;
		ck_assert_msg(x86_insn_decode(code + off, len - off, &in) == 0,
			      "decode failed at +0x%zx (byte 0x%02x)", off, code[off]);
		ck_assert_msg(i < n, "more instructions than objdump found");
		ck_assert_msg(in.len == lens[i], "instruction %zu at +0x%zx: length %u, objdump %u",
			      i, off, in.len, lens[i]);
		if (vmxon < 0 && x86_insn_is_vmxon(&in)) {
			vmxon = (long)off;
			ck_assert_int_eq(
				x86_insn_operand_expr(&in, 0xffffffffc0000000ull + off, expr, 64),
				0);
		}
		off += in.len;
		i++;
	}
	ck_assert_uint_eq(i, n);
	return vmxon;
}

START_TEST(kernel_code)
{
	char expr[64];

	ck_assert_int_eq(walk(v61_code, sizeof(v61_code), v61_lens, sizeof(v61_lens), expr),
			 V61_VMXON);
	ck_assert_str_eq(expr, "($rsp + 0x8)");
	ck_assert_int_eq(walk(v612_code, sizeof(v612_code), v612_lens, sizeof(v612_lens), expr),
			 V612_VMXON);
	ck_assert_str_eq(expr, "($rsp + 0x8)");
}
END_TEST

static void one(const uint8_t *b, size_t n, int want_len, int vmxon, const char *want_expr)
{
	struct x86_insn in;
	char expr[64];

	ck_assert_int_eq(x86_insn_decode(b, n, &in), 0);
	ck_assert_int_eq(in.len, want_len);
	ck_assert_int_eq(x86_insn_is_vmxon(&in), vmxon);
	if (want_expr) {
		ck_assert_int_eq(x86_insn_operand_expr(&in, 0x1000, expr, sizeof(expr)), 0);
		ck_assert_str_eq(expr, want_expr);
	}
}

START_TEST(encodings)
{
	/* vmxon (%rax) */
	one((const uint8_t[]){0xf3, 0x0f, 0xc7, 0x30}, 4, 4, 1, "($rax + 0x0)");
	/* vmxon -0x10(%rbp) */
	one((const uint8_t[]){0xf3, 0x0f, 0xc7, 0x75, 0xf0}, 5, 5, 1, "($rbp - 0x10)");
	/* vmxon 0x100(%r12,%rcx,8): REX.B, SIB, disp32 */
	one((const uint8_t[]){0xf3, 0x41, 0x0f, 0xc7, 0xb4, 0xcc, 0x00, 0x01, 0x00, 0x00}, 10, 10,
	    1, "($r12 + $rcx * 8 + 0x100)");
	/* vmxon 0x10(%rip): the operand is the constant next-instruction + 0x10 */
	one((const uint8_t[]){0xf3, 0x0f, 0xc7, 0x35, 0x10, 0x00, 0x00, 0x00}, 8, 8, 1, "(0x1018)");
	/* vmclear (%rax) (66), vmptrld (%rax) (none), vmptrst (%rax) (/7), rdrand %eax (mod 3) */
	one((const uint8_t[]){0x66, 0x0f, 0xc7, 0x30}, 4, 4, 0, NULL);
	one((const uint8_t[]){0x0f, 0xc7, 0x30}, 3, 3, 0, NULL);
	one((const uint8_t[]){0x0f, 0xc7, 0x38}, 3, 3, 0, NULL);
	one((const uint8_t[]){0xf3, 0x0f, 0xc7, 0xf0}, 4, 4, 0, NULL);
	/* movabs $imm64, %rax; mov $imm16, %ax; testb $1, (%rdi); testl $1, (%rdi) */
	one((const uint8_t[]){0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 10, 10, 0, NULL);
	one((const uint8_t[]){0x66, 0xb8, 1, 2}, 4, 4, 0, NULL);
	one((const uint8_t[]){0xf6, 0x07, 1}, 3, 3, 0, NULL);
	one((const uint8_t[]){0xf7, 0x07, 1, 0, 0, 0}, 6, 6, 0, NULL);
	/* 66 jcc rel32 stays 6 bytes + the prefix; nopw 0x0(%rax,%rax,1) */
	one((const uint8_t[]){0x0f, 0x84, 0, 0, 0, 0}, 6, 6, 0, NULL);
	one((const uint8_t[]){0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}, 6, 6, 0, NULL);
}
END_TEST

START_TEST(refused)
{
	struct x86_insn in;
	char expr[8];

	/* VEX (vmovdqu), EVEX, and 0x06 (invalid in 64-bit mode) */
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0xc5, 0xfe, 0x6f, 0x00}, 4, &in),
			 -EINVAL);
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0x62, 0xf1, 0x7e, 0x48}, 4, &in),
			 -EINVAL);
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0x06}, 1, &in), -EINVAL);
	/* truncated: the displacement and the immediate missing; prefixes only */
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0xf3, 0x0f, 0xc7, 0x75}, 4, &in),
			 -ENODATA);
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0xe8, 0, 0}, 3, &in), -ENODATA);
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0x66, 0x66}, 2, &in), -ENODATA);
	/* fifteen prefixes is no instruction */
	uint8_t many[16];
	memset(many, 0x66, sizeof(many));
	ck_assert_int_eq(x86_insn_decode(many, sizeof(many), &in), -EINVAL);
	/* an operand expression needs a memory operand and room */
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0x31, 0xc0}, 2, &in), 0);
	ck_assert_int_eq(x86_insn_operand_expr(&in, 0, expr, sizeof(expr)), -EINVAL);
	ck_assert_int_eq(x86_insn_decode((const uint8_t[]){0xf3, 0x0f, 0xc7, 0x75, 0xf0}, 5, &in),
			 0);
	ck_assert_int_eq(x86_insn_operand_expr(&in, 0, expr, sizeof(expr)), -ENOSPC);
}
END_TEST

static Suite *x86_insn_suite(void)
{
	Suite *s = suite_create("x86-insn");
	TCase *tc = tcase_create("decode");
	tcase_add_test(tc, kernel_code);
	tcase_add_test(tc, encodings);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(x86_insn_suite);
