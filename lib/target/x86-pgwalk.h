/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* x86-64 page-table walk over any physical-memory reader (4 or 5 levels, large pages). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int (*phys_read_fn)(void *data, uint64_t pa, void *buf, size_t len);

/* Translate @va through the tables rooted at @cr3. Returns 0 with the physical address and
 * the bytes left in its page, -EFAULT when not present, or the reader's error. */
int x86_translate(phys_read_fn read, void *data, uint64_t cr3, bool la57, uint64_t va,
		  uint64_t *pa, uint64_t *page_left);
