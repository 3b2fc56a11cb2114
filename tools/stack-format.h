/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel call stacks for people (one frame a line, or "a <- b <- c") and as JSON. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "libkvmdci/libkvmdci.h"

/* "kvm!vcpu_enter_guest+0x4c8", or "0xffff..." when not symbolized. */
void stack_frame_name(const struct kvmdci_frame *f, char *buf, size_t size);
/* One frame a line with @indent, then the reason it ended. */
void stack_print(FILE *out, const struct kvmdci_stack *s, const char *indent);
/* "a <- b <- c" on one line, at most @max frames (0: all). */
void stack_print_line(FILE *out, const struct kvmdci_stack *s, int max);
/* "end_of_stack", "user_mode", "bad_orc", ... */
const char *stack_end_key(int end);
/* {"frames": [...], "end": "...", "end_detail": "...", "reads": N} */
json_t *stack_json(const struct kvmdci_stack *s);

/*
 * Folded stacks, the input of flame graph tools (flamegraph.pl, inferno): one line per distinct
 * stack, its frames from the root to the leaf joined by ';' ("module!function", without
 * offsets; "[unknown]" for an address no symbol covers), a space and how many times it was
 * seen. A stack the unwinder could not finish starts with "[stack cut: REASON]"; a failed
 * unwind counts as "[no stack]". At most FOLDS_MAX distinct stacks; the rest count as
 * "[other stacks]".
 */
#define FOLDS_MAX 65536
struct stack_folds;
struct stack_folds *stack_folds_new(void);
/* Count @s (NULL: the unwind failed). Returns 0 or -ENOMEM. */
int stack_folds_add(struct stack_folds *f, const struct kvmdci_stack *s);
/* The lines, sorted; returns 0 or -errno of the write. */
int stack_folds_write(const struct stack_folds *f, FILE *out);
uint64_t stack_folds_total(const struct stack_folds *f);
void stack_folds_free(struct stack_folds *f);
