/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A name -> address table (System.map, ELF .symtab, a module's kallsyms). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvmdci_ctx;
struct stat;
struct symcache;

struct symtab {
	struct sym {
		uint64_t addr;
		uint32_t name; /* offset into names */
		char type;
	} *syms;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	int sorted;
	uint32_t *by_addr; /* indexes of syms by address (symtab_below), NULL until asked */
	void *map; /* a read-only mapped cache file holding syms and names (symtab-cache.c) */
	size_t map_len;
	struct symcache *cache; /* its blocks' checks, while syms and names are in the map */
};

int symtab_add(struct symtab *st, const char *name, size_t nlen, uint64_t addr, char type);
/* Room for @n more symbols and @names more bytes of names (each name's NUL included), so that
 * a table filled from a known count grows once instead of doubling through realloc. */
int symtab_reserve(struct symtab *st, size_t n, size_t names);
void symtab_sort(struct symtab *st);
/* Exact name; with @allow_suffix also "name.isra.0", "name.constprop.0", "name.part.0". */
int symtab_lookup(struct symtab *st, const char *name, uint64_t *addr, int allow_suffix);
/* The symbols at the highest address at or below @addr, in table order: their indexes into
 * syms (*n of them), or NULL when none; a binary search in an address index built at the
 * first call (valid until the table changes). */
const uint32_t *symtab_below(struct symtab *st, uint64_t addr, size_t *n);
/* The symbol at or below @addr (for symbolizing). */
const char *symtab_name_at(struct symtab *st, uint64_t addr, uint64_t *sym_addr);
/* Before syms and names are read directly: a table mapped from the cache checked whole (else
 * its blocks are checked as lookups read them), or read again from its System.map when a block
 * is damaged. 0, or < 0 (the table then empty) when that failed. */
int symtab_checked(struct symtab *st);
void symtab_free(struct symtab *st);
/* Parse a System.map file. */
int symtab_load_system_map(struct kvmdci_ctx *ctx, struct symtab *st, const char *path);
/* Read .symtab of an ELF file (vmlinux with symbols). -ENOENT when it has none. */
int symtab_load_elf(struct kvmdci_ctx *ctx, struct symtab *st, const char *path);

/*
 * The cache of symbol tables (symtab-cache.c): what a table was made from. @name: the cache
 * file's name; @id: the identity of the source that must match (a System.map's device, inode,
 * size and times; a module's build id and where its kallsyms lie in memory); @kind: what the
 * source is, for messages ("System.map"); @reload: reads the table again from the source
 * (@what and @arg as given here) into an emptied table, when a block of the cached one fails its
 * check.
 */
struct symtab_source {
	char name[128];
	uint8_t id[96];
	const char *kind;
	const char *what;
	void *arg;
	int (*reload)(struct kvmdci_ctx *ctx, struct symtab *st, const char *what, void *arg);
};

/* The identity and cache file name of System.map @path, file @src. */
int symtab_cache_sysmap_source(const struct stat *src, const char *path,
			       struct symtab_source *s);
/* Load into an empty @st from the cache file @path made from @s: 0, -ENOENT when there is
 * none, -EINVAL when it was ignored (damaged or stale); save a sorted @st. */
int symtab_cache_load(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
		      const struct symtab_source *s);
void symtab_cache_save(struct kvmdci_ctx *ctx, const struct symtab *st, const char *path,
		       const struct symtab_source *s);
/* Of a table mapped from the cache: whether symbol @i and its name are sound (their blocks'
 * checksums match: each block is checked the first time); whether all are. */
bool symtab_cache_check(struct symtab *st, size_t i);
bool symtab_cache_check_all(struct symtab *st);
/* Forget the checks of a mapped table (@damaged: logged as ignored); the map itself is the
 * caller's. Returns how to read the table again (in @src; src->what is the caller's to free,
 * NULL when out of memory) and its context in @ctx. */
void symtab_cache_drop(struct symtab *st, struct kvmdci_ctx **ctx, bool damaged,
		       struct symtab_source *src);
