// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Capture expressions: a small C-like language compiled once against the target's BTF into a
 * stack program evaluated at each hit with the fewest target reads (member offsets are folded
 * into one addition; one read per dereference).
 *
 *   expr    := lor;  lor := land ('||' land)*;  land := bor ('&&' bor)*
 *   bor     := bxor ('|' bxor)*;  bxor := band ('^' band)*;  band := eq ('&' eq)*
 *   eq      := rel (('=='|'!=') rel)*;  rel := shift (('<'|'>'|'<='|'>=') shift)*
 *   shift   := add (('<<'|'>>') add)*;  add := mul (('+'|'-') mul)*
 *   mul     := unary (('*'|'/'|'%') unary)*
 *   unary   := ('-'|'!'|'~'|'*') unary | '(' 'struct'|'union' NAME '*' ')' unary
 *            | '(' INTTYPE ')' unary | postfix
 *   postfix := primary ('->' NAME | '.' NAME | '[' expr ']')*
 *   primary := '$arg'N | '$'REGISTER | NUMBER | '(' expr ')'
 *            | 'container_of' '(' expr ',' 'struct' NAME ',' MEMBER-PATH ')'
 *            | 'percpu' '(' SYMBOL ')'       (this CPU's instance of a per-CPU variable)
 *
 * Example: ((struct vcpu_svm *)$arg0)->vmcb->control.exit_code compiles to
 * REG rdi, ADD off(vmcb), LOAD 8, ADD off(control.exit_code), LOAD 4: two reads.
 */
#include <bpf/btf.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>

#include "internal.h"
#include "catalog/expr.h"
#include "kernel/kernel-internal.h"

static const char *const sysv_args[6] = { "rdi", "rsi", "rdx", "rcx", "r8", "r9" };

const char *expr_arg_register(int n)
{
	return n >= 0 && n < 6 ? sysv_args[n] : NULL;
}

struct parser {
	struct kvmdci_kernel *k;
	const char *s;
	const char *p;
	struct expr_prog *prog;
	char *err;
	size_t errsz;
	int depth;
};

/* What the expression built so far denotes. */
struct val {
	bool lvalue;       /* the program computed the address of an object of @type */
	struct kbtf *btf;
	int32_t type;      /* 0: plain integer */
	int ptr;           /* 1: a pointer to @type (casts, pointer members) */
	uint32_t bf_shift; /* a bitfield in the lvalue: shift and width */
	uint32_t bf_width;
	int is_signed;
	int size;          /* bytes of an integer value, 0 unknown */
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, ps->errsz, "expression '%s' at column %d: ", ps->s,
			 (int)(ps->p - ps->s) + 1);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < ps->errsz)
		vsnprintf(ps->err + n, ps->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int emit(struct parser *ps, enum expr_opcode op, uint64_t a, uint32_t b)
{
	struct expr_op *last = ps->prog->n ? &ps->prog->ops[ps->prog->n - 1] : NULL;

	/* fold address arithmetic: adjacent members cost nothing at hit time */
	if (op == OP_ADD) {
		if (a == 0)
			return 0;
		if (last && last->op == OP_ADD) {
			last->a += a;
			return 0;
		}
		if (last && last->op == OP_CONST) {
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

/* Accept @tok; words must end at a word boundary, and '&' is not the start of '&&' etc. */
static bool accept(struct parser *ps, const char *tok)
{
	size_t n = strlen(tok);
	skip_ws(ps);
	if (strncmp(ps->p, tok, n))
		return false;
	if (isalpha((unsigned char)tok[n - 1]) &&
	    (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_'))
		return false;
	if (n == 1 && strchr("&|<>", tok[0]) && (ps->p[1] == tok[0] || ps->p[1] == '='))
		return false;
	if (n == 1 && strchr("!=", tok[0]) && ps->p[1] == '=')
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
	if (n == 0 || n >= outsz || isdigit((unsigned char)ps->p[0]))
		return perr(ps, "expected a name");
	memcpy(out, ps->p, n);
	out[n] = '\0';
	ps->p += n;
	return 0;
}

/* Member paths as in offsetof(): a.b[2].c */
static int member_path(struct parser *ps, char *out, size_t outsz)
{
	size_t n = 0;
	skip_ws(ps);
	while (isalnum((unsigned char)ps->p[n]) || strchr("_.[]", ps->p[n]))
		n++;
	if (n == 0 || n >= outsz)
		return perr(ps, "expected a member path");
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

static int int_info(struct kbtf *btf, int32_t id, int *size, int *is_signed)
{
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
	if (!t)
		return -1;
	if (btf_is_int(t)) {
		*size = (int)t->size;
		*is_signed = !!(btf_int_encoding(t) & BTF_INT_SIGNED);
		return 0;
	}
	if (btf_is_enum(t)) {
		*size = (int)t->size;
		*is_signed = 0;
		return 0;
	}
	return -1;
}

/* Turn an lvalue into its value: one read (plus bitfield extraction or sign extension). */
static int load(struct parser *ps, struct val *v)
{
	const struct btf_type *t;
	long sz;
	int r;

	if (!v->lvalue)
		return 0;
	t = v->type ? kbtf_type_by_id(v->btf, (uint32_t)v->type) : NULL;
	if (v->bf_width) {
		uint32_t bytes = (v->bf_shift + v->bf_width + 7) / 8;
		if ((r = emit(ps, OP_LOAD, bytes, 0)) < 0 ||
		    (r = emit(ps, OP_BITS, v->bf_shift, v->bf_width)) < 0)
			return r;
		*v = (struct val){ .size = 8 };
		return 0;
	}
	if (!t)
		return perr(ps, "unknown type");
	sz = kbtf_resolve_size(v->btf, (uint32_t)v->type);
	if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
		return perr(ps, "cannot use a %ld-byte %s as a value", sz,
			    btf_is_struct(t) ? "struct" : btf_is_union(t) ? "union" : "object");
	if ((r = emit(ps, OP_LOAD, (uint64_t)sz, 0)) < 0)
		return r;
	v->lvalue = false;
	v->size = (int)sz;
	v->is_signed = 0;
	if (btf_is_ptr(t)) {
		v->type = ktypes_skip_mods(v->btf, (int32_t)t->type);
		v->ptr = 1;
		return 0;
	}
	if (int_info(v->btf, v->type, &v->size, &v->is_signed) == 0 && v->is_signed && sz < 8)
		if ((r = emit(ps, OP_SEXT, (uint64_t)sz, 0)) < 0)
			return r;
	v->type = 0;
	v->ptr = 0;
	return 0;
}

/* Apply a member path to an lvalue of struct/union type. */
static int member(struct parser *ps, struct val *v, const char *name)
{
	struct ktypes_loc loc;
	const struct btf_type *t = v->type ? kbtf_type_by_id(v->btf, (uint32_t)v->type) : NULL;
	const char *tn = t ? kbtf_name_by_offset(v->btf, t->name_off) : "?";
	int r;

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
		return perr(ps, "'%s' applied to something that is not a struct or union", name);
	if (ktypes_resolve_path(v->btf, v->type, name, &loc) < 0)
		return perr(ps, "type info: %s %s has no member %s",
			    btf_is_union(t) ? "union" : "struct", tn, name);
	if ((r = emit(ps, OP_ADD, loc.bit_offset / 8, 0)) < 0)
		return r;
	v->lvalue = true;
	v->ptr = 0;
	v->type = loc.type_id;
	v->bf_shift = loc.bitfield_size ? (uint32_t)(loc.bit_offset % 8) : 0;
	v->bf_width = loc.bitfield_size;
	return 0;
}

static int struct_type(struct parser *ps, bool is_union, const char *name, struct kbtf **btf,
		       int32_t *id)
{
	char full[160];
	snprintf(full, sizeof(full), "%s %s", is_union ? "union" : "struct", name);
	if (kernel_type(ps->k, NULL, full, btf, id) < 0)
		return perr(ps, "type info: no %s in the kernel or its modules", full);
	return 0;
}

static int reg_index(struct parser *ps, const char *name)
{
	struct expr_prog *p = ps->prog;
	for (int i = 0; i < p->nregs; i++)
		if (!strcmp(p->regs[i], name))
			return i;
	if (p->nregs >= EXPR_MAX_REGS)
		return perr(ps, "too many registers");
	/* register names live in a static table or the SysV list: keep a stable pointer */
	static const char *const known[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
					     "rsp", "r8",  "r9",  "r10", "r11", "r12", "r13",
					     "r14", "r15", "rip", "eflags", "cr0", "cr2",
					     "cr3", "cr4", "cr8", "efer", "fs_base", "gs_base",
					     "k_gs_base", "cs", "ss", "ds", "es", "fs", "gs" };
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(known[i], name)) {
			p->regs[p->nregs] = known[i];
			return p->nregs++;
		}
	return perr(ps, "unknown register $%s", name);
}

static int parse_expr(struct parser *ps, struct val *v);
static int unary(struct parser *ps, struct val *v);

/* Integer casts: (u32)x, (int)x ... mask or sign-extend. */
static int int_cast(struct parser *ps, const char *name, int *size, int *is_signed)
{
	static const struct {
		const char *name;
		int size, is_signed;
	} types[] = { { "u8", 1, 0 },	  { "u16", 2, 0 },  { "u32", 4, 0 },   { "u64", 8, 0 },
		      { "s8", 1, 1 },	  { "s16", 2, 1 },  { "s32", 4, 1 },   { "s64", 8, 1 },
		      { "char", 1, 1 },	  { "short", 2, 1 }, { "int", 4, 1 },  { "long", 8, 1 },
		      { "unsigned", 4, 0 }, { "bool", 1, 0 } };
	(void)ps;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (!strcmp(types[i].name, name)) {
			*size = types[i].size;
			*is_signed = types[i].is_signed;
			return 0;
		}
	return -1;
}

static int primary_nested(struct parser *ps, struct val *v);

/* A primary expression; ps->depth counts the ones open around it (a bound on the parser's own
 * recursion: '((((...' must not exhaust the C stack), so it is given back on the way out. */
static int primary(struct parser *ps, struct val *v)
{
	int r;

	if (ps->depth >= 64)
		return perr(ps, "nested too deeply");
	ps->depth++;
	r = primary_nested(ps, v);
	ps->depth--;
	return r;
}

static int primary_nested(struct parser *ps, struct val *v)
{
	uint64_t n = 0;
	char name[128];
	int r;

	skip_ws(ps);
	*v = (struct val){ 0 };
	if (accept(ps, "(")) {
		if ((r = parse_expr(ps, v)) < 0)
			return r;
		if (!accept(ps, ")"))
			return perr(ps, "expected ')'");
		return 0;
	}
	if (accept(ps, "percpu")) {
		/* percpu(NAME): NAME's instance on the CPU that hit. On x86-64 the kernel's per-CPU
		 * symbols are offsets into a CPU's per-CPU area, whose base the kernel keeps in
		 * GS.base (arch/x86/include/asm/percpu.h): address = symbol + $gs_base. */
		char sym[160];
		uint64_t addr;
		size_t len = 0;
		if (!accept(ps, "("))
			return perr(ps, "percpu(NAME)");
		skip_ws(ps);
		while (isalnum((unsigned char)ps->p[len]) || ps->p[len] == '_' || ps->p[len] == ':')
			len++;
		if (len == 0 || len >= sizeof(sym))
			return perr(ps, "percpu(NAME): a symbol name, e.g. percpu(current_task)");
		memcpy(sym, ps->p, len);
		sym[len] = '\0';
		ps->p += len;
		if (!accept(ps, ")"))
			return perr(ps, "expected ')'");
		if (kvmdci_kernel_symbol(ps->k, sym, &addr) < 0)
			return perr(ps, "percpu(%s): no such symbol", sym);
		/* vmlinux's per-CPU symbols are either offsets from __per_cpu_start = 0 (zero-based
		 * per-CPU: KASLR does not move them), or, where the kernel links .data..percpu at
		 * a kernel address (x86-64 from 6.15: GS.base then holds __per_cpu_offset[cpu]),
		 * ordinary addresses inside [__per_cpu_start, __per_cpu_end): the same sum works
		 * for both (docs/kernel-facts.md, "Per-CPU variables"). Decided by the symbols. */
		uint64_t kaslr = kvmdci_kernel_kaslr_offset(ps->k);
		uint64_t pstart, pend;
		if (addr - kaslr < (1ULL << 32))
			addr -= kaslr;
		else if (kvmdci_kernel_symbol(ps->k, "__per_cpu_start", &pstart) < 0 ||
			 kvmdci_kernel_symbol(ps->k, "__per_cpu_end", &pend) < 0 || addr < pstart ||
			 addr >= pend)
			return perr(ps, "percpu(%s): 0x%llx is not a per-CPU variable", sym,
				    (unsigned long long)addr);
		if ((r = reg_index(ps, "gs_base")) < 0 || (r = emit(ps, OP_REG, (uint64_t)r, 0)) < 0 ||
		    (r = emit(ps, OP_CONST, addr, 0)) < 0 || (r = emit(ps, OP_BIN, 0, B_ADD)) < 0)
			return r;
		*v = (struct val){ .size = 8 };
		return 0;
	}
	if (accept(ps, "container_of")) {
		struct val inner;
		struct kbtf *btf;
		int32_t id;
		struct ktypes_loc loc;
		bool is_union = false;
		char path[256];
		if (!accept(ps, "("))
			return perr(ps, "expected '(' after container_of");
		if ((r = parse_expr(ps, &inner)) < 0 || (r = load(ps, &inner)) < 0)
			return r;
		if (!accept(ps, ",") || !(accept(ps, "struct") || (is_union = accept(ps, "union"))))
			return perr(ps, "container_of(ptr, struct TYPE, member)");
		if ((r = ident(ps, name, sizeof(name))) < 0 ||
		    (r = struct_type(ps, is_union, name, &btf, &id)) < 0)
			return r;
		if (!accept(ps, ",") || (r = member_path(ps, path, sizeof(path))) < 0)
			return r < 0 ? r : perr(ps, "container_of(ptr, struct TYPE, member)");
		if (!accept(ps, ")"))
			return perr(ps, "expected ')'");
		if (ktypes_resolve_path(btf, id, path, &loc) < 0)
			return perr(ps, "type info: %s has no member %s", name, path);
		if ((r = emit(ps, OP_CONST, loc.bit_offset / 8, 0)) < 0 ||
		    (r = emit(ps, OP_BIN, 0, B_SUB)) < 0)
			return r;
		*v = (struct val){ .btf = btf, .type = id, .ptr = 1, .size = 8 };
		return 0;
	}
	if (*ps->p == '$') {
		ps->p++;
		if ((r = ident(ps, name, sizeof(name))) < 0)
			return r;
		const char *reg = name;
		if (!strncmp(name, "arg", 3) && name[3] >= '0' && name[3] <= '9' && !name[4]) {
			reg = expr_arg_register(name[3] - '0');
			if (!reg)
				return perr(ps, "$%s: only $arg0..$arg5 are in registers", name);
		}
		if ((r = reg_index(ps, reg)) < 0)
			return r;
		*v = (struct val){ .size = 8 };
		return emit(ps, OP_REG, (uint64_t)r, 0);
	}
	if ((r = number(ps, &n)) < 0)
		return r;
	*v = (struct val){ .size = 8 };
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
				return perr(ps, "'->%s' on something that is not a typed pointer "
						"(cast it: (struct NAME *))", name);
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
			const struct btf_type *t =
				v->type ? kbtf_type_by_id(v->btf, (uint32_t)v->type) : NULL;
			int32_t elem;
			if (v->lvalue && t && btf_is_array(t)) {
				elem = ktypes_skip_mods(v->btf, (int32_t)btf_array(t)->type);
			} else {
				if ((r = load(ps, v)) < 0)
					return r;
				if (!v->ptr || !v->type)
					return perr(ps, "'[]' on something that is neither an array "
							"nor a typed pointer");
				elem = v->type;
			}
			long esz = kbtf_resolve_size(v->btf, (uint32_t)elem);
			struct val idx;
			int start = ps->prog->n;
			if (esz <= 0)
				return perr(ps, "bad element size");
			if ((r = parse_expr(ps, &idx)) < 0 || (r = load(ps, &idx)) < 0)
				return r;
			if (!accept(ps, "]"))
				return perr(ps, "expected ']'");
			if (ps->prog->n == start + 1 && ps->prog->ops[start].op == OP_CONST) {
				uint64_t i = ps->prog->ops[start].a;
				ps->prog->n = start; /* constant index: fold into the address */
				if ((r = emit(ps, OP_ADD, i * (uint64_t)esz, 0)) < 0)
					return r;
			} else if ((r = emit(ps, OP_CONST, (uint64_t)esz, 0)) < 0 ||
				   (r = emit(ps, OP_BIN, 0, B_MUL)) < 0 ||
				   (r = emit(ps, OP_BIN, 0, B_ADD)) < 0) {
				return r;
			}
			v->lvalue = true;
			v->ptr = 0;
			v->type = elem;
			v->bf_width = 0;
		} else
			break;
	}
	return r;
}

static int unary(struct parser *ps, struct val *v)
{
	const char *save;
	char name[128];
	int r;

	if (accept(ps, "*")) {
		/* *x: the 8 bytes at x (a pointer-sized load) */
		if ((r = unary(ps, v)) < 0 || (r = load(ps, v)) < 0)
			return r;
		*v = (struct val){ .size = 8 };
		return emit(ps, OP_LOAD, 8, 0);
	}
	if (accept(ps, "-") || accept(ps, "!") || accept(ps, "~")) {
		char op = ps->p[-1];
		if ((r = unary(ps, v)) < 0 || (r = load(ps, v)) < 0)
			return r;
		*v = (struct val){ .size = 8, .is_signed = op == '-' };
		return emit(ps, op == '-' ? OP_NEG : op == '!' ? OP_NOT : OP_INV, 0, 0);
	}
	skip_ws(ps);
	save = ps->p;
	if (accept(ps, "(")) {
		bool is_union = false;
		if (accept(ps, "struct") || (is_union = accept(ps, "union"))) {
			struct kbtf *btf;
			int32_t id;
			if ((r = ident(ps, name, sizeof(name))) < 0 ||
			    (r = struct_type(ps, is_union, name, &btf, &id)) < 0)
				return r;
			if (!accept(ps, "*") || !accept(ps, ")"))
				return perr(ps, "expected '(%s %s *)'", is_union ? "union" : "struct",
					    name);
			if ((r = unary(ps, v)) < 0 || (r = load(ps, v)) < 0)
				return r;
			*v = (struct val){ .btf = btf, .type = id, .ptr = 1, .size = 8 };
			return 0;
		}
		int size, is_signed;
		const char *p2 = ps->p;
		if (ident(ps, name, sizeof(name)) == 0 && int_cast(ps, name, &size, &is_signed) == 0 &&
		    accept(ps, ")")) {
			if ((r = unary(ps, v)) < 0 || (r = load(ps, v)) < 0)
				return r;
			if (size < 8 && (r = emit(ps, OP_BITS, 0, (uint32_t)size * 8)) < 0)
				return r;
			if (is_signed && size < 8 && (r = emit(ps, OP_SEXT, (uint64_t)size, 0)) < 0)
				return r;
			*v = (struct val){ .size = size, .is_signed = is_signed };
			return 0;
		}
		(void)p2;
		ps->p = save; /* a parenthesised expression */
	}
	return postfix(ps, v);
}

/* Binary operators by precedence level, lowest first. */
static const struct {
	const char *tok;
	enum expr_binop op;
	int level;
} binops[] = {
	{ "||", B_LOR, 0 }, { "&&", B_LAND, 1 }, { "|", B_OR, 2 },   { "^", B_XOR, 3 },
	{ "&", B_AND, 4 },  { "==", B_EQ, 5 },	 { "!=", B_NE, 5 },  { "<=", B_LE, 6 },
	{ ">=", B_GE, 6 },  { "<", B_LT, 6 },	 { ">", B_GT, 6 },   { "<<", B_SHL, 7 },
	{ ">>", B_SHR, 7 }, { "+", B_ADD, 8 },	 { "-", B_SUB, 8 },  { "*", B_MUL, 9 },
	{ "/", B_DIV, 9 },  { "%", B_MOD, 9 },
};

static int binary(struct parser *ps, struct val *v, int level)
{
	int r;

	if (level > 9)
		return unary(ps, v);
	if ((r = binary(ps, v, level + 1)) < 0)
		return r;
	for (;;) {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(binops); i++)
			if (binops[i].level == level && accept(ps, binops[i].tok))
				break;
		if (i == ARRAY_SIZE(binops))
			return 0;
		struct val rhs;
		bool typed_ptr = v->ptr && v->type && !v->lvalue;
		if ((r = load(ps, v)) < 0)
			return r;
		typed_ptr = v->ptr && v->type;
		if ((r = binary(ps, &rhs, level + 1)) < 0 || (r = load(ps, &rhs)) < 0)
			return r;
		/* pointer +/- constant keeps the pointer type, scaled like C */
		struct expr_op *last = &ps->prog->ops[ps->prog->n - 1];
		if (typed_ptr && (binops[i].op == B_ADD || binops[i].op == B_SUB) &&
		    last->op == OP_CONST) {
			long esz = kbtf_resolve_size(v->btf, (uint32_t)v->type);
			last->a *= (uint64_t)(esz > 0 ? esz : 1);
			if ((r = emit(ps, OP_BIN, 0, binops[i].op)) < 0)
				return r;
			continue;
		}
		if ((r = emit(ps, OP_BIN, 0, binops[i].op)) < 0)
			return r;
		*v = (struct val){ .size = 8, .is_signed = v->is_signed || rhs.is_signed };
	}
}

static int parse_expr(struct parser *ps, struct val *v)
{
	return binary(ps, v, 0);
}

int expr_compile(struct kvmdci_kernel *k, const char *src, struct expr_prog *prog, char *err,
		 size_t errsz)
{
	struct parser ps = { k, src, src, prog, err, errsz, 0 };
	struct val v;
	int r, depth = 0, maxdepth = 0;

	memset(prog, 0, sizeof(*prog));
	if (!src || strlen(src) > 1024) {
		snprintf(err, errsz, "expression missing or longer than 1024 characters");
		return -EINVAL;
	}
	if ((r = parse_expr(&ps, &v)) < 0)
		return r;
	skip_ws(&ps);
	if (*ps.p)
		return perr(&ps, "unexpected '%c'", *ps.p);
	if ((r = load(&ps, &v)) < 0)
		return r;
	/* the evaluator's stack is fixed: check the program's depth once here */
	for (int i = 0; i < prog->n; i++) {
		enum expr_opcode op = prog->ops[i].op;
		if (op == OP_REG || op == OP_CONST)
			depth++;
		else if (op == OP_BIN)
			depth--;
		if (op == OP_LOAD)
			prog->reads++;
		if (depth > maxdepth)
			maxdepth = depth;
	}
	if (maxdepth > EXPR_STACK)
		return perr(&ps, "expression too deep");
	prog->is_signed = v.is_signed;
	prog->result_size = v.size;
	prog->is_pointer = v.ptr;
	return 0;
}

static uint64_t binop(enum expr_binop op, uint64_t x, uint64_t y)
{
	switch (op) {
	case B_ADD: return x + y;
	case B_SUB: return x - y;
	case B_MUL: return x * y;
	case B_DIV: return y ? x / y : 0;
	case B_MOD: return y ? x % y : 0;
	case B_SHL: return y < 64 ? x << y : 0;
	case B_SHR: return y < 64 ? x >> y : 0;
	case B_AND: return x & y;
	case B_OR: return x | y;
	case B_XOR: return x ^ y;
	case B_EQ: return x == y;
	case B_NE: return x != y;
	case B_LT: return (int64_t)x < (int64_t)y;
	case B_GT: return (int64_t)x > (int64_t)y;
	case B_LE: return (int64_t)x <= (int64_t)y;
	case B_GE: return (int64_t)x >= (int64_t)y;
	case B_LAND: return x && y;
	case B_LOR: return x || y;
	}
	return 0;
}

int expr_eval(const struct expr_prog *prog, const uint64_t *regvals, expr_read_fn read,
	      void *data, uint64_t *out)
{
	uint64_t st[EXPR_STACK + 1];
	int sp = 0;

	for (int i = 0; i < prog->n; i++) {
		const struct expr_op *op = &prog->ops[i];
		uint8_t b[8] = { 0 };
		int r;
		switch (op->op) {
		case OP_REG:
			st[sp++] = regvals[op->a];
			break;
		case OP_CONST:
			st[sp++] = op->a;
			break;
		case OP_ADD:
			st[sp - 1] += op->a;
			break;
		case OP_LOAD:
			if ((r = read(data, st[sp - 1], b, (size_t)op->a, op)) < 0)
				return r;
			st[sp - 1] = le64(b);
			break;
		case OP_BITS:
			st[sp - 1] = (st[sp - 1] >> op->a) & (op->b >= 64 ? ~0ULL : (1ULL << op->b) - 1);
			break;
		case OP_SEXT: {
			int shift = 64 - 8 * (int)op->a;
			st[sp - 1] = (uint64_t)((int64_t)(st[sp - 1] << shift) >> shift);
			break;
		}
		case OP_BIN:
			sp--;
			st[sp - 1] = binop((enum expr_binop)op->b, st[sp - 1], st[sp]);
			break;
		case OP_NEG:
			st[sp - 1] = -st[sp - 1];
			break;
		case OP_NOT:
			st[sp - 1] = !st[sp - 1];
			break;
		case OP_INV:
			st[sp - 1] = ~st[sp - 1];
			break;
		}
	}
	*out = sp ? st[sp - 1] : 0;
	return 0;
}
