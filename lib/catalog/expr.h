/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capture expressions compiled against BTF (see expr.c for the grammar). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kvmdci_kernel;

#define EXPR_MAX_OPS 32

enum expr_opcode { OP_ARG, OP_CONST, OP_ADD, OP_LOAD, OP_BITS, OP_SHR, OP_AND };

struct expr_op {
	enum expr_opcode op;
	uint32_t b;
	uint64_t a;
};

struct expr_prog {
	struct expr_op ops[EXPR_MAX_OPS];
	int n;
	int reads; /* target reads per evaluation */
};

typedef int (*expr_read_fn)(void *data, uint64_t addr, void *buf, size_t len);

/* Compile @src; on error returns -EINVAL with a one-line reason in @err. */
int expr_compile(struct kvmdci_kernel *k, const char *src, struct expr_prog *prog, char *err,
		 size_t errsz);
/* Evaluate with $arg0..$arg5 = args[0..5]; no allocation. */
int expr_eval(const struct expr_prog *prog, const uint64_t *args, expr_read_fn read, void *data,
	      uint64_t *out);
