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
