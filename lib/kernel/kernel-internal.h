/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel view's internals, shared with lib/kvm and lib/catalog. */
#pragma once

#include <stdbool.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/ktypes.h"

struct kvmdci_target;

/* A kernel view that holds type info only (no target, no symbols), for tests and fuzzers
 * that load types from files: fill it through kernel_ktypes(). */
int kernel_new_types_only(struct kvmdci_ctx *ctx, struct kvmdci_kernel **ret);
/* The type info of the kernel view (vmlinux and the modules' types). */
struct ktypes *kernel_ktypes(struct kvmdci_kernel *k);

/*
 * One member of a kernel structure that a walk needs, in a table resolved once before the
 * walk (kernel_fields_resolve): kernel structure knowledge as data. @off receives the byte
 * offset, @size (when set) the member's size in bytes; an @optional member that is absent
 * leaves both untouched and sets *@present (when set) to false.
 */
struct kernel_field {
	const char *type, *path;
	uint64_t *off;
	uint64_t *size;
	bool optional;
	bool *present;
};
/* A required member: its byte offset into *@o. */
#define KERNEL_FIELD(t, p, o) { .type = (t), .path = (p), .off = (o) }
/* An optional member: its offset into *@o and its size into *@sz (when not NULL); *@has
 * says whether the type info has it. */
#define KERNEL_FIELD_OPT(t, p, o, sz, has)                                                      \
	{                                                                                         \
		.type = (t), .path = (p), .off = (o), .size = (sz), .optional = true,             \
		.present = (has)                                                                  \
	}

/* The byte offset (and the size in bytes, when @size) of member @path of @type in @module's
 * types (vmlinux when NULL). -ENOENT with the last error naming the type and the member;
 * nothing logged. */
int kernel_member_offset(struct kvmdci_kernel *k, const char *module, const char *type,
			 const char *path, uint64_t *off, uint64_t *size);
/* Resolve a table of members of @module's types (vmlinux when NULL). The first required
 * member that is missing is logged as an error naming its type and member, and fails it. */
int kernel_fields_resolve(struct kvmdci_kernel *k, const char *module, const struct kernel_field *f,
			  size_t n);
/* Resolve a table like kernel_fields_resolve() but quietly: true when every member is there
 * (a decoder that is only used when its whole table resolves). */
bool kernel_fields_present(struct kvmdci_kernel *k, const char *module,
			   const struct kernel_field *f, size_t n);
/* The value of enumerator @name of enum type @type ("enum kvm_reg"), looked up in @module's
 * types, then vmlinux's. -ENOENT when absent. */
int kernel_enum_value(struct kvmdci_kernel *k, const char *module, const char *type,
		      const char *name, int64_t *val);

/* Does linux_banner read back through @cpu's paging, i.e. does the CPU see the host kernel's
 * address space? 1 yes, 0 no (a guest's paging, or user space under PTI), -ENOENT when the
 * banner's address is not known yet. */
int kernel_cpu_sees_kernel(struct kvmdci_kernel *k, int cpu);
/* The physical address of kernel virtual address @va, by our own walk of the kernel's page
 * table (-ENXIO when no kernel page-table root is known, -EFAULT when @va is not mapped). */
int kernel_virt_to_phys(struct kvmdci_kernel *k, uint64_t va, uint64_t *pa);

/* The loaded KVM vendor module: "kvm_intel", "kvm_amd" (kvm_intel first when both are), or
 * NULL when neither is loaded. */
const char *kernel_kvm_vendor_module(struct kvmdci_kernel *k);

/* The symbol at or below @addr in the kernel's and loaded modules' symbols, as module,
 * function and offset; @unwinder (may be NULL) adds the modules' ORC text ranges. -ENOENT
 * when no symbol is near. */
struct kvmdci_unwinder;
int kernel_symbolize_parts(struct kvmdci_kernel *k, struct kvmdci_unwinder *unwinder, uint64_t addr,
			   char *mod, size_t msz, char *fn, size_t fsz, uint64_t *off);

/* @addr as "module!function+0xoff", the one form of a symbolized address (the address in hex
 * and -ENOENT when no symbol is near). */
int kernel_symbolize(struct kvmdci_kernel *k, struct kvmdci_unwinder *unwinder, uint64_t addr,
		     char *buf, size_t size);

/* A vmlinux symbol's runtime address (KASLR applied); -ENOENT, nothing logged. */
int kernel_vmlinux_symbol(struct kvmdci_kernel *k, const char *name, uint64_t *addr);
/* The runtime address of the instance of per-CPU variable @var (an address from
 * kvmdci_kernel_symbol, or an offset for zero-based per-CPU symbols) on Linux CPU @lcpu. */
int kernel_percpu_addr(struct kvmdci_kernel *k, uint64_t var, int lcpu, uint64_t *addr);

/* The Linux CPU number of a target CPU whose GS base is @gsbase (the one whose per-CPU offset
 * it holds); @fallback when the GS base is 0 or matches none (and is below nr_cpu_ids), else -1. */
int kernel_linux_cpu(struct kvmdci_kernel *k, uint64_t gsbase, int fallback);
/* The task running on Linux CPU @lcpu (the per-CPU current task). */
int kernel_current_task(struct kvmdci_kernel *k, int lcpu, uint64_t *task);

/* The unwinder's pieces for the CPU view above it (lib/kvm/cpus.c). */
struct kvmdci_kernel *unwinder_kernel(struct kvmdci_unwinder *u);
/* Is @ip kernel or module text? */
bool unwinder_is_text(struct kvmdci_unwinder *u, uint64_t ip);
/* The stack of a task that is not running, from the context its switch saved. */
int unwinder_saved_task_stack(struct kvmdci_unwinder *u, uint64_t task, struct kvmdci_stack *out);

struct kvmdci_kernel *kvmdci_kernel_ref(struct kvmdci_kernel *k);
int kernel_type(struct kvmdci_kernel *k, const char *module, const char *type, struct kbtf **btf,
		int32_t *id);
/* Locate a member; on failure the context's last error says what is missing. */
int kernel_member(struct kvmdci_kernel *k, const char *module, const char *type, const char *path,
		  struct ktypes_loc *loc);
/* Several exact reads of kernel memory, in one round trip to a live stub where it can (the
 * read cache is not used); per-read results in rq[i].result. < 0: the target is lost. */
struct target_read;
int kernel_read_many(struct kvmdci_kernel *k, struct target_read *rq, int n);
