/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capture expressions compiled against BTF (see expr.c for the grammar). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kvmdci_kernel;

#define EXPR_MAX_OPS 64
#define EXPR_MAX_REGS 8
#define EXPR_STACK 16

enum expr_opcode {
	OP_REG,   /* push regs[a] */
	OP_CONST, /* push a */
	OP_ADD,   /* top += a (address arithmetic, folded) */
	OP_LOAD,  /* top = little-endian load of a bytes at top */
	OP_BITS,  /* top = (top >> a) & mask(b) */
	OP_SEXT,  /* top = sign-extend from a bytes */
	OP_BIN,   /* pop y, pop x, push x <b> y (enum expr_binop) */
	OP_NEG,   /* top = -top */
	OP_NOT,   /* top = !top */
	OP_INV,   /* top = ~top */
};

enum expr_binop {
	B_ADD, B_SUB, B_MUL, B_DIV, B_MOD, B_SHL, B_SHR, B_AND, B_OR, B_XOR,
	B_EQ, B_NE, B_LT, B_GT, B_LE, B_GE, B_LAND, B_LOR,
};

struct expr_op {
	enum expr_opcode op;
	uint32_t b;
	uint64_t a;
	/* OP_LOAD: bytes before and after the value worth reading with it (adjacent fields
	 * other captures of the same hit load: see trace.c); a hint for the read function */
	uint16_t pre, post;
};

struct expr_prog {
	struct expr_op ops[EXPR_MAX_OPS];
	int n;
	int reads;                          /* target reads per evaluation */
	const char *regs[EXPR_MAX_REGS];    /* registers the program needs, by target name */
	int nregs;
	int is_signed;                      /* the result's C type is signed */
	int result_size;                    /* bytes of the result's C type (0: computed) */
	int is_pointer;                     /* the result's C type is a pointer */
};

/* Read @len bytes at @addr for load @op (its pre/post hints may widen the read). */
typedef int (*expr_read_fn)(void *data, uint64_t addr, void *buf, size_t len,
			    const struct expr_op *op);

/* Compile @src; on error returns -EINVAL with a one-line reason in @err. */
int expr_compile(struct kvmdci_kernel *k, const char *src, struct expr_prog *prog, char *err,
		 size_t errsz);
/* Evaluate with regvals[i] the value of prog->regs[i]; no allocation. */
int expr_eval(const struct expr_prog *prog, const uint64_t *regvals, expr_read_fn read,
	      void *data, uint64_t *out);
/* The register a SysV argument lives in: $arg0 -> "rdi", ... NULL past $arg5. */
const char *expr_arg_register(int n);
