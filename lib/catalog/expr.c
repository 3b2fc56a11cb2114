// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Capture expressions: a small C-like language compiled once against the target's BTF into a
 * list of operations evaluated at each hit with the fewest target reads.
 *
 *   expr    := shift ( '&' number )*
 *   shift   := postfix ( '>>' number )?
 *   postfix := primary ( '->' member | '.' member | '[' number ']' )*
 *   primary := '$arg'N | '$'register | number | '(' 'struct'|'union' NAME '*' ')' postfix
 *            | '(' expr ')'
 *
 * Example: ((struct vcpu_svm *)$arg0)->vmcb->control.exit_code compiles to
 * ARG 0, ADD off(vmcb), LOAD 8, ADD off(control.exit_code), LOAD 4: two reads.
 */
#include <bpf/btf.h>
#include <ctype.h>
#include <stdlib.h>

#include "internal.h"
#include "catalog/expr.h"
#include "kernel/kernel-internal.h"

struct parser {
	struct kvmdci_kernel *k;
	const char *s;
	const char *p;
	struct expr_prog *prog;
	char *err;
	size_t errsz;
};

/* What the expression built so far denotes. */
struct val {
	bool lvalue;       /* the program computes an address of an object of @type */
	struct btf *btf;
	int32_t type;      /* 0: plain integer */
	int ptr;           /* 1: a pointer to @type (our own casts) */
	uint32_t bf_shift; /* bitfield in the lvalue: shift and width */
	uint32_t bf_width;
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, ps->errsz, "capture '%s' at column %d: ", ps->s,
			 (int)(ps->p - ps->s) + 1);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < ps->errsz)
		vsnprintf(ps->err + n, ps->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int emit(struct parser *ps, enum expr_opcode op, uint64_t a, uint32_t b)
{
	/* fold address arithmetic: adjacent members cost nothing at hit time */
	if (op == OP_ADD) {
		struct expr_op *last = ps->prog->n ? &ps->prog->ops[ps->prog->n - 1] : NULL;
		if (a == 0)
			return 0;
		if (last && last->op == OP_ADD) {
			last->a += a;
			return 0;
		}
	}
	if (ps->prog->n >= EXPR_MAX_OPS)
		return perr(ps, "expression too long");
	ps->prog->ops[ps->prog->n++] = (struct expr_op){ op, b, a };
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static bool accept(struct parser *ps, const char *tok)
{
	skip_ws(ps);
	size_t n = strlen(tok);
	if (strncmp(ps->p, tok, n))
		return false;
	if (isalpha((unsigned char)tok[n - 1]) && (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_'))
		return false;
	ps->p += n;
	return true;
}

static int ident(struct parser *ps, char *out, size_t outsz)
{
	size_t n = 0;
	skip_ws(ps);
	while (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_')
		n++;
	if (n == 0 || n >= outsz)
		return perr(ps, "expected a name");
	memcpy(out, ps->p, n);
	out[n] = '\0';
	ps->p += n;
	return 0;
}

static int number(struct parser *ps, uint64_t *v)
{
	char *end;
	skip_ws(ps);
	if (!isdigit((unsigned char)*ps->p))
		return perr(ps, "expected a number");
	errno = 0;
	*v = strtoull(ps->p, &end, 0);
	if (errno)
		return perr(ps, "number out of range");
	ps->p = end;
	return 0;
}

/* Turn an lvalue into its value: one read (plus bitfield extraction). */
static int load(struct parser *ps, struct val *v)
{
	if (!v->lvalue)
		return 0;
	const struct btf_type *t = v->type ? btf__type_by_id(v->btf, (uint32_t)v->type) : NULL;
	if (v->bf_width) {
		uint32_t bytes = (v->bf_shift + v->bf_width + 7) / 8;
		int r;
		if ((r = emit(ps, OP_LOAD, bytes, 0)) < 0 ||
		    (r = emit(ps, OP_BITS, v->bf_shift, v->bf_width)) < 0)
			return r;
		*v = (struct val){ 0 };
		return 0;
	}
	if (!t)
		return perr(ps, "unknown type");
	if (btf_is_struct(t) || btf_is_union(t) || btf_is_array(t)) {
		/* a union of a u32 (e.g. vmx_exit_reason) reads as its first 4..8 bytes */
		long sz = btf__resolve_size(v->btf, (uint32_t)v->type);
		if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
			return perr(ps, "cannot use a %ld-byte aggregate as a value", sz);
		int r = emit(ps, OP_LOAD, (uint64_t)sz, 0);
		*v = (struct val){ 0 };
		return r;
	}
	long sz = btf__resolve_size(v->btf, (uint32_t)v->type);
	if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
		return perr(ps, "cannot load a %ld-byte value", sz);
	int r = emit(ps, OP_LOAD, (uint64_t)sz, 0);
	if (r < 0)
		return r;
	v->lvalue = false;
	if (btf_is_ptr(t)) {
		v->type = ktypes_skip_mods(v->btf, (int32_t)t->type);
		v->ptr = 1;
	} else {
		v->type = 0;
		v->ptr = 0;
	}
	return 0;
}

/* Apply a member path to an lvalue of struct/union type. */
static int member(struct parser *ps, struct val *v, const char *name)
{
	struct ktypes_loc loc;
	const struct btf_type *t = v->type ? btf__type_by_id(v->btf, (uint32_t)v->type) : NULL;
	const char *tn = t ? btf__name_by_offset(v->btf, t->name_off) : "?";

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
		return perr(ps, "'%s' applied to something that is not a struct or union", name);
	if (ktypes_resolve_path(v->btf, v->type, name, &loc) < 0)
		return perr(ps, "type info: %s %s has no member %s",
			    btf_is_union(t) ? "union" : "struct", tn, name);
	int r = emit(ps, OP_ADD, loc.bit_offset / 8, 0);
	if (r < 0)
		return r;
	v->lvalue = true;
	v->ptr = 0;
	v->type = loc.type_id;
	v->bf_shift = loc.bitfield_size ? (uint32_t)(loc.bit_offset % 8) : 0;
	v->bf_width = loc.bitfield_size;
	return 0;
}

static int parse_expr(struct parser *ps, struct val *v);

static int primary(struct parser *ps, struct val *v)
{
	uint64_t n;
	char name[128];
	int r;

	skip_ws(ps);
	*v = (struct val){ 0 };
	if (accept(ps, "(")) {
		const char *save = ps->p;
		bool is_union = false;
		if (accept(ps, "struct") || (is_union = accept(ps, "union"))) {
			char full[160];
			struct btf *btf;
			int32_t id;
			if ((r = ident(ps, name, sizeof(name))) < 0)
				return r;
			if (!accept(ps, "*") || !accept(ps, ")"))
				return perr(ps, "expected '(struct %s *)'", name);
			snprintf(full, sizeof(full), "%s %s", is_union ? "union" : "struct", name);
			if (kernel_type(ps->k, NULL, full, &btf, &id) < 0)
				return perr(ps, "type info: no %s in the kernel or its modules", full);
			struct val inner;
			if ((r = primary(ps, &inner)) < 0)
				return r;
			/* postfix binds tighter than a cast: (T *)x->y is (T *)(x->y) */
			while (true) {
				if (accept(ps, "->")) {
					if ((r = ident(ps, name, sizeof(name))) < 0 ||
					    (r = load(ps, &inner)) < 0)
						return r;
					if (!inner.ptr)
						return perr(ps, "'->' on a non-pointer");
					inner.lvalue = true;
					inner.ptr = 0;
					if ((r = member(ps, &inner, name)) < 0)
						return r;
				} else if (accept(ps, ".")) {
					if ((r = ident(ps, name, sizeof(name))) < 0 ||
					    (r = member(ps, &inner, name)) < 0)
						return r;
				} else
					break;
			}
			if ((r = load(ps, &inner)) < 0)
				return r;
			v->btf = btf;
			v->type = id;
			v->ptr = 1;
			return 0;
		}
		ps->p = save;
		if ((r = parse_expr(ps, v)) < 0)
			return r;
		if (!accept(ps, ")"))
			return perr(ps, "expected ')'");
		return 0;
	}
	if (*ps->p == '$') {
		ps->p++;
		if ((r = ident(ps, name, sizeof(name))) < 0)
			return r;
		if (!strncmp(name, "arg", 3) && name[3] >= '0' && name[3] <= '5' && !name[4])
			return emit(ps, OP_ARG, (uint64_t)(name[3] - '0'), 0);
		return perr(ps, "unknown variable $%s ($arg0..$arg5 are supported)", name);
	}
	if ((r = number(ps, &n)) < 0)
		return r;
	return emit(ps, OP_CONST, n, 0);
}

static int postfix(struct parser *ps, struct val *v)
{
	char name[128];
	int r = primary(ps, v);

	while (r == 0) {
		if (accept(ps, "->")) {
			if ((r = ident(ps, name, sizeof(name))) < 0 || (r = load(ps, v)) < 0)
				return r;
			if (!v->ptr || !v->type)
				return perr(ps, "'->%s' on something that is not a typed pointer", name);
			v->lvalue = true;
			v->ptr = 0;
			r = member(ps, v, name);
		} else if (accept(ps, ".")) {
			if ((r = ident(ps, name, sizeof(name))) < 0)
				return r;
			if (!v->lvalue)
				return perr(ps, "'.%s' on a value; use '->'", name);
			r = member(ps, v, name);
		} else if (accept(ps, "[")) {
			uint64_t idx;
			const struct btf_type *t;
			if ((r = number(ps, &idx)) < 0)
				return r;
			if (!accept(ps, "]"))
				return perr(ps, "expected ']'");
			t = v->type ? btf__type_by_id(v->btf, (uint32_t)v->type) : NULL;
			if (v->lvalue && t && btf_is_array(t)) {
				int32_t e = ktypes_skip_mods(v->btf, (int32_t)btf_array(t)->type);
				long esz = btf__resolve_size(v->btf, (uint32_t)e);
				if (esz <= 0)
					return perr(ps, "bad element size");
				if ((r = emit(ps, OP_ADD, idx * (uint64_t)esz, 0)) < 0)
					return r;
				v->type = e;
			} else {
				if ((r = load(ps, v)) < 0)
					return r;
				if (!v->ptr || !v->type)
					return perr(ps, "'[]' on something that is not an array");
				long esz = btf__resolve_size(v->btf, (uint32_t)v->type);
				if (esz <= 0)
					return perr(ps, "bad element size");
				if ((r = emit(ps, OP_ADD, idx * (uint64_t)esz, 0)) < 0)
					return r;
				v->lvalue = true;
				v->ptr = 0;
			}
		} else
			break;
	}
	return r;
}

static int parse_expr(struct parser *ps, struct val *v)
{
	uint64_t n;
	int r = postfix(ps, v);

	if (r < 0)
		return r;
	if (accept(ps, ">>")) {
		if ((r = load(ps, v)) < 0 || (r = number(ps, &n)) < 0)
			return r;
		if (n > 63)
			return perr(ps, "shift out of range");
		if ((r = emit(ps, OP_SHR, n, 0)) < 0)
			return r;
	}
	while (accept(ps, "&")) {
		if ((r = load(ps, v)) < 0 || (r = number(ps, &n)) < 0)
			return r;
		if ((r = emit(ps, OP_AND, n, 0)) < 0)
			return r;
	}
	return 0;
}

int expr_compile(struct kvmdci_kernel *k, const char *src, struct expr_prog *prog, char *err,
		 size_t errsz)
{
	struct parser ps = { k, src, src, prog, err, errsz };
	struct val v;
	int r;

	memset(prog, 0, sizeof(*prog));
	if ((r = parse_expr(&ps, &v)) < 0)
		return r;
	skip_ws(&ps);
	if (*ps.p)
		return perr(&ps, "unexpected '%c'", *ps.p);
	if ((r = load(&ps, &v)) < 0)
		return r;
	for (int i = 0; i < prog->n; i++)
		if (prog->ops[i].op == OP_LOAD)
			prog->reads++;
	return 0;
}

int expr_eval(const struct expr_prog *prog, const uint64_t *args, expr_read_fn read, void *data,
	      uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < prog->n; i++) {
		const struct expr_op *op = &prog->ops[i];
		uint8_t b[8] = { 0 };
		int r;
		switch (op->op) {
		case OP_ARG:
			v = args[op->a];
			break;
		case OP_CONST:
			v = op->a;
			break;
		case OP_ADD:
			v += op->a;
			break;
		case OP_LOAD:
			if ((r = read(data, v, b, (size_t)op->a)) < 0)
				return r;
			v = le64(b);
			break;
		case OP_BITS:
			v = (v >> op->a) & (op->b >= 64 ? ~0ULL : (1ULL << op->b) - 1);
			break;
		case OP_SHR:
			v >>= op->a;
			break;
		case OP_AND:
			v &= op->a;
			break;
		}
	}
	*out = v;
	return 0;
}
