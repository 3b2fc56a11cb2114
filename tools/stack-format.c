// SPDX-License-Identifier: LGPL-2.1-or-later
/* Kernel call stacks for people and as JSON (kvmdci-stack, kvmdci-cpus, kvmdci-trace). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"
#include "stack-format.h"

void stack_frame_name(const struct kvmdci_frame *f, char *buf, size_t size)
{
	if (f->symbolized)
		snprintf(buf, size, "%s!%s+0x%llx", f->module, f->function,
			 (unsigned long long)f->offset);
	else
		snprintf(buf, size, "0x%llx", (unsigned long long)f->ip);
}

const char *stack_end_key(int end)
{
	static const char *const keys[] = {
		[KVMDCI_UNWIND_END_OF_STACK] = "end_of_stack",
		[KVMDCI_UNWIND_USER_MODE] = "user_mode",
		[KVMDCI_UNWIND_BAD_ORC] = "bad_orc",
		[KVMDCI_UNWIND_BAD_FRAME] = "bad_frame",
		[KVMDCI_UNWIND_UNREADABLE] = "unreadable",
		[KVMDCI_UNWIND_LOOP] = "loop",
		[KVMDCI_UNWIND_DEPTH] = "depth",
		[KVMDCI_UNWIND_NO_STACK] = "no_stack",
	};
	return end >= 0 && (size_t)end < sizeof(keys) / sizeof(keys[0]) && keys[end] ? keys[end]
										     : "unknown";
}

void stack_print(FILE *out, const struct kvmdci_stack *s, const char *indent)
{
	char name[256];

	for (int i = 0; i < s->nframes; i++) {
		const struct kvmdci_frame *f = &s->frames[i];
		stack_frame_name(f, name, sizeof(name));
		fprintf(out, "%s#%-2d %-52s 0x%016llx sp 0x%016llx%s%s\n", indent, i, name,
			(unsigned long long)f->ip, (unsigned long long)f->sp,
			f->flags & KVMDCI_FRAME_REGS ? " [regs]" : "",
			f->flags & KVMDCI_FRAME_GUESS ? " [fp guess]" : "");
	}
	fprintf(out, "%s-- %s%s%s\n", indent, kvmdci_unwind_end_name(s->end),
		strcmp(s->end_detail, kvmdci_unwind_end_name(s->end)) ? ": " : "",
		strcmp(s->end_detail, kvmdci_unwind_end_name(s->end)) ? s->end_detail : "");
}

void stack_print_line(FILE *out, const struct kvmdci_stack *s, int max)
{
	char name[256];
	int n = max > 0 && max < s->nframes ? max : s->nframes;

	for (int i = 0; i < n; i++) {
		stack_frame_name(&s->frames[i], name, sizeof(name));
		fprintf(out, "%s%s", i ? " <- " : "", name);
	}
	if (n < s->nframes)
		fprintf(out, " <- ...");
	if (!s->nframes)
		fprintf(out, "(%s)", s->end_detail);
}

json_t *stack_json(const struct kvmdci_stack *s)
{
	json_t *frames = json_array();
	char name[256];

	for (int i = 0; i < s->nframes; i++) {
		const struct kvmdci_frame *f = &s->frames[i];
		stack_frame_name(f, name, sizeof(name));
		json_t *o = json_pack("{s:o, s:o, s:s, s:b, s:b}", "ip", tool_json_addr(f->ip),
				      "sp", tool_json_addr(f->sp), "symbol", name, "regs",
				      (f->flags & KVMDCI_FRAME_REGS) != 0, "guess",
				      (f->flags & KVMDCI_FRAME_GUESS) != 0);
		if (f->symbolized) {
			json_object_set_new(o, "module", json_string(f->module));
			json_object_set_new(o, "function", json_string(f->function));
			json_object_set_new(o, "offset", json_integer((json_int_t)f->offset));
		}
		json_array_append_new(frames, o);
	}
	return json_pack("{s:o, s:s, s:s, s:i}", "frames", frames, "end", stack_end_key(s->end),
			 "end_detail", s->end_detail, "reads", (int)s->reads);
}

struct fold {
	char *key;
	uint64_t count;
};

struct stack_folds {
	struct fold *slots; /* open addressing, a power of two */
	size_t cap, used;
	uint64_t total, other;
};

struct stack_folds *stack_folds_new(void)
{
	return calloc(1, sizeof(struct stack_folds));
}

static uint64_t fold_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static int folds_grow(struct stack_folds *f)
{
	size_t cap = f->cap ? f->cap * 2 : 256;
	struct fold *n = calloc(cap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < f->cap; i++) {
		if (!f->slots[i].key)
			continue;
		size_t j = fold_hash(f->slots[i].key) & (cap - 1);
		while (n[j].key)
			j = (j + 1) & (cap - 1);
		n[j] = f->slots[i];
	}
	free(f->slots);
	f->slots = n;
	f->cap = cap;
	return 0;
}

/* Append ";@part" (or @part first) to the string *@k of *@len bytes in *@size. */
static int key_append(char **k, size_t *len, size_t *size, char *part)
{
	size_t n = strlen(part) + 2;

	/* the format's separators cannot be part of a frame */
	for (char *c = part; *c; c++)
		if (*c == ';' || *c == ' ' || *c == '\n')
			*c = '_';
	if (*len + n > *size) {
		size_t want = (*len + n) * 2;
		char *b = realloc(*k, want);
		if (!b)
			return -ENOMEM;
		*k = b;
		*size = want;
	}
	*len += (size_t)sprintf(*k + *len, "%s%s", *len ? ";" : "", part);
	return 0;
}

/* The folded line's frames for @s (NULL: no stack), root first, in a malloc'd string. */
static char *fold_key(const struct kvmdci_stack *s)
{
	size_t size = 256, len = 0;
	char *k = malloc(size), part[300];
	int r = 0;

	if (!k)
		return NULL;
	k[0] = 0;
	if (!s) {
		snprintf(part, sizeof(part), "[no stack]");
		r = key_append(&k, &len, &size, part);
	} else if (s->end != KVMDCI_UNWIND_END_OF_STACK && s->end != KVMDCI_UNWIND_USER_MODE) {
		snprintf(part, sizeof(part), "[stack cut: %s]", stack_end_key(s->end));
		r = key_append(&k, &len, &size, part);
	}
	for (int i = s ? s->nframes - 1 : -1; i >= 0 && r == 0; i--) {
		const struct kvmdci_frame *f = &s->frames[i];
		if (f->symbolized)
			snprintf(part, sizeof(part), "%s!%s", f->module, f->function);
		else
			snprintf(part, sizeof(part), "[unknown]");
		r = key_append(&k, &len, &size, part);
	}
	if (r == 0 && !len) {
		snprintf(part, sizeof(part), "[empty stack]");
		r = key_append(&k, &len, &size, part);
	}
	if (r < 0) {
		free(k);
		return NULL;
	}
	return k;
}

int stack_folds_add(struct stack_folds *f, const struct kvmdci_stack *s)
{
	char *key = fold_key(s);
	size_t j;

	if (!key)
		return -ENOMEM;
	f->total++;
	if ((f->used + 1) * 2 > f->cap && f->used < FOLDS_MAX && folds_grow(f) < 0) {
		free(key);
		return -ENOMEM;
	}
	for (j = fold_hash(key) & (f->cap - 1); f->slots[j].key; j = (j + 1) & (f->cap - 1))
		if (!strcmp(f->slots[j].key, key)) {
			f->slots[j].count++;
			free(key);
			return 0;
		}
	if (f->used >= FOLDS_MAX) {
		f->other++;
		free(key);
		return 0;
	}
	f->slots[j] = (struct fold){ key, 1 };
	f->used++;
	return 0;
}

static int fold_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fold *)a)->key, ((const struct fold *)b)->key);
}

int stack_folds_write(const struct stack_folds *f, FILE *out)
{
	struct fold *v = malloc((f->used + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->cap; i++)
		if (f->slots[i].key)
			v[n++] = f->slots[i];
	qsort(v, n, sizeof(*v), fold_cmp);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %llu\n", v[i].key, (unsigned long long)v[i].count);
	if (f->other)
		fprintf(out, "[other stacks] %llu\n", (unsigned long long)f->other);
	free(v);
	return fflush(out) == 0 && !ferror(out) ? 0 : -(errno ? errno : EIO);
}

uint64_t stack_folds_total(const struct stack_folds *f)
{
	return f->total;
}

void stack_folds_free(struct stack_folds *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->cap; i++)
		free(f->slots[i].key);
	free(f->slots);
	free(f);
}
