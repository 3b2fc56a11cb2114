// SPDX-License-Identifier: LGPL-2.1-or-later
/* Symbol tables: System.map, ELF .symtab (libelf) and modules' kallsyms share this store. */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/file-cache.h"
#include "kernel/symtab.h"

/* Unmap a table mapped from the cache; how to read it again in @src when asked for (then
 * src->what is the caller's to free). */
static void release_map(struct symtab *st, bool damaged, struct symtab_source *src,
			struct kvmdci_ctx **ctx)
{
	struct symtab_source s;
	struct kvmdci_ctx *c;

	symtab_cache_drop(st, &c, damaged, &s);
	if (src) {
		*src = s;
		*ctx = c;
	} else {
		free((char *)s.what);
	}
	munmap(st->map, st->map_len);
	st->map = NULL;
	st->map_len = 0;
}

static int load_system_map(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
			   bool use_cache);

/* A block of a table mapped from the cache failed its check: nothing of it is used, the table
 * is read again from its source (which writes the cache file anew). */
static int reload(struct symtab *st)
{
	struct symtab_source src;
	struct kvmdci_ctx *ctx;
	int r;

	release_map(st, true, &src, &ctx);
	free(st->by_addr);
	memset(st, 0, sizeof(*st));
	r = src.what ? src.reload(ctx, st, src.what, src.arg) : -ENOMEM;
	free((char *)src.what);
	if (r < 0)
		symtab_free(st);
	return r;
}

int symtab_checked(struct symtab *st)
{
	if (!st->cache || symtab_cache_check_all(st))
		return 0;
	return reload(st);
}

/* A table mapped from the cache becomes an ordinary one before it changes. */
static int unshare(struct symtab *st)
{
	int r = symtab_checked(st);

	if (r < 0)
		return r;
	if (!st->map)
		return 0; /* read again from its System.map: its own memory already */
	struct sym *s = malloc((st->n ? st->n : 1) * sizeof(*s));
	char *p = malloc(st->names_len ? st->names_len : 1);

	if (!s || !p) {
		free(s);
		free(p);
		return -ENOMEM;
	}
	memcpy(s, st->syms, st->n * sizeof(*s));
	memcpy(p, st->names, st->names_len);
	release_map(st, false, NULL, NULL);
	st->syms = s;
	st->names = p;
	st->cap = st->n ? st->n : 1;
	st->names_cap = st->names_len ? st->names_len : 1;
	return 0;
}

int symtab_reserve(struct symtab *st, size_t n, size_t names)
{
	if (st->map && unshare(st) < 0)
		return -ENOMEM;
	if (st->n + n > st->cap) {
		struct sym *s = realloc(st->syms, (st->n + n) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		st->syms = s;
		st->cap = st->n + n;
	}
	if (st->names_len + names > st->names_cap) {
		char *p = realloc(st->names, st->names_len + names);
		if (!p)
			return -ENOMEM;
		st->names = p;
		st->names_cap = st->names_len + names;
	}
	return 0;
}

int symtab_add(struct symtab *st, const char *name, size_t nlen, uint64_t addr, char type)
{
	if (st->map && unshare(st) < 0)
		return -ENOMEM;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct sym *s = realloc(st->syms, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		st->syms = s;
		st->cap = cap;
	}
	if (st->names_len + nlen + 1 > st->names_cap) {
		size_t cap = st->names_cap ? st->names_cap * 2 : 65536;
		while (cap < st->names_len + nlen + 1)
			cap *= 2;
		char *p = realloc(st->names, cap);
		if (!p)
			return -ENOMEM;
		st->names = p;
		st->names_cap = cap;
	}
	memcpy(st->names + st->names_len, name, nlen);
	st->names[st->names_len + nlen] = '\0';
	st->syms[st->n++] = (struct sym){ addr, (uint32_t)st->names_len, type };
	st->names_len += nlen + 1;
	st->sorted = 0;
	free(st->by_addr);
	st->by_addr = NULL;
	return 0;
}

static const char *sort_names;
static int by_name(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	int c = strcmp(sort_names + x->name, sort_names + y->name);
	/* text symbols first among duplicates (local statics may repeat) */
	if (!c)
		c = (y->type == 't' || y->type == 'T') - (x->type == 't' || x->type == 'T');
	return c;
}

void symtab_sort(struct symtab *st)
{
	free(st->by_addr);
	st->by_addr = NULL;
	st->sorted = 1;
	if (!st->n)
		return; /* qsort(NULL, 0, ...) is undefined (the sanitizer build caught it) */
	sort_names = st->names;
	qsort(st->syms, st->n, sizeof(*st->syms), by_name);
}

#define DAMAGED (-2L) /* a block of a table mapped from the cache failed its check */

/* The first symbol named @name (or starting with it, @prefix), -1 when none. */
static long find_first(struct symtab *st, const char *name, size_t nlen, int prefix)
{
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (st->cache && !symtab_cache_check(st, mid))
			return DAMAGED;
		const char *s = st->names + st->syms[mid].name;
		int c = prefix ? strncmp(s, name, nlen) : strcmp(s, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->n) {
		if (st->cache && !symtab_cache_check(st, lo))
			return DAMAGED;
		const char *s = st->names + st->syms[lo].name;
		if (prefix ? !strncmp(s, name, nlen) : !strcmp(s, name))
			return (long)lo;
	}
	return -1;
}

static int lookup(struct symtab *st, const char *name, uint64_t *addr, int allow_suffix)
{
	long i;

	if (!st->n)
		return -ENOENT;
	if (!st->sorted)
		symtab_sort(st);
	i = find_first(st, name, strlen(name), 0);
	if (i == DAMAGED)
		return -EBADMSG;
	if (i >= 0) {
		*addr = st->syms[i].addr;
		return 0;
	}
	if (!allow_suffix)
		return -ENOENT;
	/* compiler clones: name.isra.N, name.constprop.N, name.part.N, name.cold is skipped */
	size_t nlen = strlen(name);
	for (i = find_first(st, name, nlen, 1); i >= 0 && (size_t)i < st->n; i++) {
		if (st->cache && !symtab_cache_check(st, (size_t)i))
			return -EBADMSG;
		const char *s = st->names + st->syms[i].name;
		if (strncmp(s, name, nlen))
			break;
		if (s[nlen] == '.' && strncmp(s + nlen, ".cold", 5) != 0) {
			*addr = st->syms[i].addr;
			return 0;
		}
	}
	return i == DAMAGED ? -EBADMSG : -ENOENT;
}

int symtab_lookup(struct symtab *st, const char *name, uint64_t *addr, int allow_suffix)
{
	int r = lookup(st, name, addr, allow_suffix);

	if (r == -EBADMSG) /* the table read again: no longer from the cache */
		r = reload(st) < 0 ? -ENOENT : lookup(st, name, addr, allow_suffix);
	return r;
}

const char *symtab_name_at(struct symtab *st, uint64_t addr, uint64_t *sym_addr)
{
	const struct sym *best = NULL;

	if (symtab_checked(st) < 0)
		return NULL;
	for (size_t i = 0; i < st->n; i++)
		if (st->syms[i].addr <= addr && (!best || st->syms[i].addr > best->addr))
			best = &st->syms[i];
	if (!best)
		return NULL;
	*sym_addr = best->addr;
	return st->names + best->name;
}

static const struct sym *sort_syms;
static int by_addr(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	uint64_t x = sort_syms[i].addr, y = sort_syms[j].addr;
	return x < y ? -1 : x > y ? 1 : (i > j) - (i < j); /* table order among equals */
}

const uint32_t *symtab_below(struct symtab *st, uint64_t addr, size_t *n)
{
	if (symtab_checked(st) < 0 || !st->n || st->n > UINT32_MAX)
		return NULL;
	if (!st->by_addr) {
		if (!(st->by_addr = malloc(st->n * sizeof(*st->by_addr))))
			return NULL;
		for (size_t i = 0; i < st->n; i++)
			st->by_addr[i] = (uint32_t)i;
		sort_syms = st->syms;
		qsort(st->by_addr, st->n, sizeof(*st->by_addr), by_addr);
	}
	/* the first symbol above addr; the run of equal addresses just before it */
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (st->syms[st->by_addr[mid]].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	size_t first = lo - 1;
	while (first > 0 && st->syms[st->by_addr[first - 1]].addr == st->syms[st->by_addr[lo - 1]].addr)
		first--;
	*n = lo - first;
	return st->by_addr + first;
}

void symtab_free(struct symtab *st)
{
	free(st->by_addr);
	if (st->map) {
		release_map(st, false, NULL, NULL);
	} else {
		free(st->syms);
		free(st->names);
	}
	memset(st, 0, sizeof(*st));
}

static int reload_system_map(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
			     void *arg)
{
	(void)arg;
	return load_system_map(ctx, st, path, false);
}

/* With @use_cache, the table from the cache when it was made from this very file; the file
 * parsed otherwise, and the cache written. */
static int load_system_map(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
			   bool use_cache)
{
	FILE *f;
	char line[1024], cpath[4096] = "";
	struct symtab_source cs = { .reload = reload_system_map };
	unsigned long lineno = 0;
	struct stat src;
	int r = kvmdci_check_regular_file(ctx, path, "System.map");

	if (r < 0)
		return r;
	if (!(f = fopen(path, "re"))) {
		r = -errno;
		kvmdci_err(ctx, "cannot open System.map %s: %s", path, strerror(errno));
		return r;
	}
	/* the parsed table from the cache, when it was made from this very file */
	if (fstat(fileno(f), &src) == 0 && S_ISREG(src.st_mode) &&
	    symtab_cache_sysmap_source(&src, path, &cs) == 0 &&
	    file_cache_path(ctx, cs.name, cpath, sizeof(cpath)) == 0 && use_cache &&
	    symtab_cache_load(ctx, st, cpath, &cs) == 0) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end, type, name[512];
		lineno++;
		unsigned long long a = strtoull(line, &end, 16);
		if (end == line || sscanf(end, " %c %511s", &type, name) != 2) {
			kvmdci_err(ctx, "%s:%lu: not a System.map line", path, lineno);
			r = -EINVAL;
			break;
		}
		if ((r = symtab_add(st, name, strlen(name), a, type)) < 0)
			break;
	}
	fclose(f);
	if (!r && st->n < 100) {
		kvmdci_err(ctx, "%s has only %zu symbols: the linux-image package ships a placeholder; "
				"the real System.map is in the matching -dbg package",
			   path, st->n);
		r = -EINVAL;
	}
	symtab_sort(st);
	if (!r && cpath[0])
		symtab_cache_save(ctx, st, cpath, &cs);
	return r;
}

int symtab_load_system_map(struct kvmdci_ctx *ctx, struct symtab *st, const char *path)
{
	return load_system_map(ctx, st, path, true);
}

int symtab_load_elf(struct kvmdci_ctx *ctx, struct symtab *st, const char *path)
{
	int fd, r = kvmdci_check_regular_file(ctx, path, "vmlinux");
	Elf *elf;
	Elf_Scn *scn = NULL;

	if (r < 0)
		return r;
	r = -ENOENT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = -errno;
		kvmdci_err(ctx, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		kvmdci_err(ctx, "%s is not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(fd);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(data, (int)i, &s) || !s.st_name || s.st_shndx == SHN_UNDEF)
				continue;
			const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!nm)
				continue;
			int ty = GELF_ST_TYPE(s.st_info);
			char c = ty == STT_FUNC ? 't' : 'd';
			if (GELF_ST_BIND(s.st_info) == STB_GLOBAL)
				c = (char)(c - 32);
			if ((r = symtab_add(st, nm, strlen(nm), s.st_value, c)) < 0)
				break;
		}
		r = st->n ? 0 : -ENOENT;
		break;
	}
	elf_end(elf);
	close(fd);
	if (r == 0)
		symtab_sort(st);
	return r;
}
