// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The symbolizer: an address as module!function+0xoff (vmlinux!... for the kernel image), from
 * vmlinux's symbols and the modules' own kallsyms; with an unwinder, a module's text is told
 * by its ORC table's range.
 */
#include "internal.h"
#include "kernel/kernel-view.h"

/* Section markers (__cpuidle_text_start, __start_x, __irqentry_text_end) share addresses with
 * the functions at their boundaries: name the function. */
static bool marker_name(const char *n)
{
	size_t l = strlen(n);

	return !strncmp(n, "__start_", 8) || !strncmp(n, "__stop_", 7) ||
	       (!strncmp(n, "__", 2) &&
		((l > 6 && !strcmp(n + l - 6, "_start")) || (l > 4 && !strcmp(n + l - 4, "_end"))));
}

/* The symbol at or below @addr; among several at one address, the last one in table order
 * that is not a section marker (the first when all are). */
static const char *nearest(struct symtab *st, uint64_t addr, uint64_t *sym_addr)
{
	const struct sym *best = NULL;
	size_t n = 0;
	const uint32_t *run = symtab_below(st, addr, &n);

	for (size_t i = 0; run && i < n; i++) {
		const struct sym *y = &st->syms[run[i]];
		if (!best || !marker_name(st->names + y->name))
			best = y;
	}
	if (!best)
		return NULL;
	*sym_addr = best->addr;
	return st->names + best->name;
}

int kernel_symbolize_parts(struct kvmdci_kernel *k, struct kvmdci_unwinder *u, uint64_t addr,
			   char *mod, size_t msz, char *fn, size_t fsz, uint64_t *off)
{
	uint64_t sa;
	const char *name;

	/* a module's text: its ORC table's range (modules sit above the kernel image) */
	const char *tab = u ? unwinder_module_at(u, addr) : NULL;
	struct kmodule *m;
	if (tab && (m = kernel_module(k, tab)) && kernel_module_load_syms(k, m) == 0 &&
	    (name = nearest(&m->syms, addr, &sa))) {
		snprintf(mod, msz, "%s", m->name);
		snprintf(fn, fsz, "%s", name);
		*off = addr - sa;
		return 0;
	}
	if (addr >= k->kaslr && addr >= 0xffffffff80000000ULL && addr < 0xffffffffc0000000ULL &&
	    (name = nearest(&k->vsyms, addr - k->kaslr, &sa))) {
		snprintf(mod, msz, "vmlinux");
		snprintf(fn, fsz, "%s", name);
		*off = addr - k->kaslr - sa;
		return 0;
	}
	/*
	 * Without ORC ranges: the nearest symbol of the modules' kallsyms. Those read already
	 * (the KVM modules' at open) first: an exact hit there is the answer; else every
	 * module's kallsyms are read and the nearest symbol of all wins.
	 */
	for (int pass = 0; pass < 2; pass++) {
		const char *best = NULL, *bmod = NULL;
		uint64_t bsa = 0;
		for (int i = 0; i < k->nmods; i++) {
			struct kmodule *km = &k->mods[i];
			if (pass ? kernel_module_load_syms(k, km) < 0 : !km->syms_loaded)
				continue;
			name = nearest(&km->syms, addr, &sa);
			if (name && (!best || sa > bsa)) {
				best = name;
				bsa = sa;
				bmod = km->name;
			}
		}
		if (best && (pass ? addr - bsa < 0x10000 : addr == bsa)) {
			snprintf(mod, msz, "%s", bmod);
			snprintf(fn, fsz, "%s", best);
			*off = addr - bsa;
			return 0;
		}
	}
	return -ENOENT;
}

int kernel_symbolize(struct kvmdci_kernel *k, struct kvmdci_unwinder *u, uint64_t addr, char *buf,
		     size_t size)
{
	char mod[64], fn[128];
	uint64_t off;

	if (kernel_symbolize_parts(k, u, addr, mod, sizeof(mod), fn, sizeof(fn), &off) < 0) {
		snprintf(buf, size, "0x%llx", (unsigned long long)addr);
		return -ENOENT;
	}
	snprintf(buf, size, "%s!%s+0x%llx", mod, fn, (unsigned long long)off);
	return 0;
}

KVMDCI_EXPORT int kvmdci_kernel_symbolize(struct kvmdci_kernel *k, uint64_t addr, char *buf,
					  size_t size)
{
	KVMDCI_API_ENTRY(k->ctx);
	return kernel_symbolize(k, NULL, addr, buf, size);
}
