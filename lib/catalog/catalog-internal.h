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
/* The same, with "$operand" in the expression standing for @operand (catalog_entry_bp). */
int catalog_compile_capture_at(struct kvmdci_kernel *k, json_t *e, const char *capture,
			       const char *operand, struct expr_prog *prog, const char **which,
			       char *err, size_t errsz);
/* Where a breakpoint on a function goes: past a leading endbr64. */
uint64_t catalog_bp_address(struct kvmdci_kernel *k, uint64_t addr);
/* Where entry @e's breakpoint goes in its function at @func (@symbol: its name): the function
 * (catalog_bp_address), or with "at" the instruction found by decoding the function's code on
 * the target; then @operand gets the instruction's memory operand as an expression ("" for a
 * function). -ENOENT with @err saying why when the instruction is not there. */
int catalog_entry_bp(struct kvmdci_kernel *k, json_t *e, uint64_t func, const char *symbol,
		     uint64_t *bp, char *operand, size_t oplen, char *err, size_t errsz);
/* The same for the first of @e's symbols on the target (*@func, *@symbol, from
 * catalog_resolve_symbol); with "at" and the instruction not there, the next symbols that are
 * on the target, in order (*@func and *@symbol then name the one it is in). A symbol may say
 * its own module ("vmlinux:name"). */
int catalog_entry_bp_any(struct kvmdci_kernel *k, json_t *e, uint64_t *func,
			 const char **symbol, uint64_t *bp, char *operand, size_t oplen, char *err,
			 size_t errsz);
/* Take the trace's breakpoints out (the target runs free) or put them back; for sampling. */
int trace_set_armed(struct kvmdci_trace *tr, bool armed);
/* Stop the target for good (a racing hit is still reported), call @settle and @halted (each
 * may be NULL) while it is stopped, then detach (lib/target/run.h: target_run_end). */
int trace_end(struct kvmdci_trace *tr, int (*settle)(void *hdata),
	      void (*halted)(void *hdata, int r), void *hdata);
/* For a @settle of trace_end, the target stopped: run on until the next hit, given to @fn and
 * left stopped there (its CPU steps past it if the target runs again), or for @timeout_ms,
 * then stop it again (a hit racing that stop is given to @fn too). Returns the hits (0 or 1),
 * the target stopped, or an error. */
int trace_run_to_hit(struct kvmdci_trace *tr, int timeout_ms, kvmdci_hit_fn fn, void *data);
