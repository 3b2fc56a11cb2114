// SPDX-License-Identifier: LGPL-2.1-or-later
/* Kernel call stacks for people and as JSON (kvmdci-stack, kvmdci-cpus, kvmdci-trace). */
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
