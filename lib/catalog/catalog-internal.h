/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Catalog internals shared with the tracers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "catalog/expr.h"

struct kvmdci_catalog {
	int refcount;
	struct kvmdci_ctx *ctx;
	json_t **entries;
	int n;
};

json_t *catalog_find(struct kvmdci_catalog *cat, const char *name);
bool catalog_entry_has_tag(json_t *e, const char *tag);
/* First symbol alternative present on the target; @which names it. */
int catalog_resolve_symbol(struct kvmdci_kernel *k, json_t *e, uint64_t *addr, const char **which);
/* Compile the first alternative of capture @capture that compiles against the types. */
int catalog_compile_capture(struct kvmdci_kernel *k, json_t *e, const char *capture,
			    struct expr_prog *prog, const char **which, char *err, size_t errsz);
/* Where a breakpoint on a function goes: past a leading endbr64. */
uint64_t catalog_bp_address(struct kvmdci_kernel *k, uint64_t addr);
/* Take the trace's breakpoints out (the target runs free) or put them back; for sampling. */
int trace_set_armed(struct kvmdci_trace *tr, bool armed);
/* Stop the target for good (a racing hit is still reported), call @halted (may be NULL) while
 * it is stopped, then detach (lib/target/run.h: target_run_end). */
int trace_end(struct kvmdci_trace *tr, void (*halted)(void *hdata, int r), void *hdata);
