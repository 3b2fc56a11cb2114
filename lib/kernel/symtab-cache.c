// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Symbol tables on disk (file-cache.h), sorted by name as symtab_sort() leaves them, mapped
 * straight back at the next start instead of parsing and sorting them again: a parsed
 * System.map (~90k lines; sysmap-v2-DEV-INODE.idx) and the KVM modules' kallsyms read from
 * the target's memory (modsyms-BUILDID.idx, modules.c). The header names what the table was
 * made from (struct symtab_source: a System.map's device, inode, size, modification and
 * change times, since any write to the System.map changes its ctime; a module's build id and
 * where its tables lie) and carries a checksum of the block sums that follow it; the body
 * (the symbols, then their names) is checked block by block as a lookup first reads each
 * block (file_cache_check()): a run's few dozen lookups read a few dozen of its ~800 pages. A
 * file that is short, made on another kind of machine or from another source is ignored and
 * written anew at the start; a block that fails its check later makes the table be read again
 * from its source (symtab.c), never used.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "internal.h"
#include "kernel/file-cache.h"
#include "kernel/symtab.h"

/* Version 2 (checked by blocks) has a name of its own, sysmap-v2-: a library of version 1 on
 * the same machine (KVMDCIS1, sysmap-DEV-INO.idx) would otherwise rewrite it at each run. */
#define SYMCACHE_MAGIC "KVMDCIS2"
#define SYMCACHE_MAX (1u << 30)

struct symcache_header {
	char magic[8];
	uint32_t order;    /* 0x01020304 as written: the same byte order */
	uint32_t sym_size; /* sizeof(struct sym): the same layout */
	uint8_t id[96];	   /* struct symtab_source's */
	uint64_t nsyms;
	uint64_t names_len; /* the names' bytes (then zeros up to a multiple of 8) */
	uint64_t body_off;  /* the body's offset in the file: after the block sums, page-aligned */
	uint64_t sums_sum;  /* file_cache_sum() of the block sums (one per FILE_CACHE_BLOCK) */
};

/* A table mapped from the cache: what checks its blocks, and what a failed check needs. */
struct symcache {
	struct file_cache_blocks b;
	bool all; /* every block and name checked (symtab_cache_check_all) */
	struct kvmdci_ctx *ctx;
	char *path; /* the cache file */
	struct symtab_source src; /* src.what: our copy */
};

int symtab_cache_sysmap_source(const struct stat *src, const char *path,
			       struct symtab_source *s)
{
	const int64_t id[7] = { (int64_t)src->st_dev,	      (int64_t)src->st_ino,
				(int64_t)src->st_size,	      (int64_t)src->st_mtim.tv_sec,
				(int64_t)src->st_mtim.tv_nsec, (int64_t)src->st_ctim.tv_sec,
				(int64_t)src->st_ctim.tv_nsec };
	int n = snprintf(s->name, sizeof(s->name), "sysmap-v2-%llx-%llx.idx",
			 (unsigned long long)src->st_dev, (unsigned long long)src->st_ino);

	memset(s->id, 0, sizeof(s->id));
	memcpy(s->id, id, sizeof(id));
	s->kind = "System.map";
	s->what = path;
	return n < 0 || (size_t)n >= sizeof(s->name) ? -ENAMETOOLONG : 0;
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int symtab_cache_load(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
		      const struct symtab_source *s)
{
	struct symcache_header h;
	struct symcache *c = NULL;
	const char *why = NULL;
	char other[128];
	uint8_t *map = NULL;
	size_t len = 0, body_len, nblk;
	int r;

	if (st->n || (r = file_cache_map_header(path, SYMCACHE_MAX, &h, sizeof(h), (void **)&map,
						&len, &why)) == -ENOENT)
		return -ENOENT;
	if (r < 0)
		goto bad;
	if (memcmp(h.magic, SYMCACHE_MAGIC, 8) || h.order != 0x01020304u ||
	    h.sym_size != sizeof(struct sym)) {
		why = "not a symbol cache of this library on this machine";
		goto bad;
	}
	if (memcmp(h.id, s->id, sizeof(h.id))) {
		snprintf(other, sizeof(other), "made from another %s or an older version of it",
			 s->kind);
		why = other;
		goto bad;
	}
	if (!h.nsyms || !h.names_len || h.nsyms > SYMCACHE_MAX / sizeof(struct sym) ||
	    h.names_len > SYMCACHE_MAX || h.names_len > UINT32_MAX) {
		why = "truncated or of the wrong size";
		goto bad;
	}
	body_len = h.nsyms * sizeof(struct sym) + pad8(h.names_len);
	nblk = file_cache_nblocks(body_len);
	if (h.body_off != file_cache_body_offset(sizeof(h), body_len) ||
	    len != h.body_off + body_len) {
		why = "truncated or of the wrong size";
		goto bad;
	}
	const uint64_t *sums = (const uint64_t *)(map + sizeof(h));
	if (file_cache_sum(sums, nblk * sizeof(*sums)) != h.sums_sum) {
		why = "damaged (checksum of the block sums)";
		goto bad;
	}
	if (!(c = calloc(1, sizeof(*c))) || !(c->path = strdup(path)) ||
	    !(c->src.what = strdup(s->what)) ||
	    file_cache_blocks_init(&c->b, map + h.body_off, body_len, sums) < 0) {
		why = "out of memory";
		goto bad;
	}
	c->ctx = ctx;
	c->src.kind = s->kind;
	c->src.arg = s->arg;
	c->src.reload = s->reload;
	free(st->syms); /* an empty table may hold buffers already */
	free(st->names);
	st->syms = (struct sym *)(map + h.body_off);
	st->names = (char *)(st->syms + h.nsyms);
	st->n = st->cap = (size_t)h.nsyms;
	st->names_len = st->names_cap = (size_t)h.names_len;
	st->sorted = 1;
	st->map = map;
	st->map_len = len;
	st->cache = c;
	kvmdci_dbg(ctx, "symbol cache %s: %zu symbols", path, st->n);
	return 0;
bad:
	if (c) {
		free(c->path);
		free((char *)c->src.what);
		free(c);
	}
	if (map)
		munmap(map, len);
	kvmdci_dbg(ctx, "ignoring the symbol cache %s: %s", path, why);
	return -EINVAL;
}

/* The name at offset @off of the names: its bytes checked up to its NUL. */
static bool name_checked(struct symtab *st, uint32_t off)
{
	struct symcache *c = st->cache;
	size_t at = (size_t)((const char *)st->names - (const char *)c->b.body) + off,
	       end = at - off + st->names_len;

	if (off >= st->names_len)
		return false;
	while (at < end) {
		size_t stop = (at / FILE_CACHE_BLOCK + 1) * FILE_CACHE_BLOCK;
		if (stop > end)
			stop = end;
		if (!file_cache_check(&c->b, at, stop - at))
			return false;
		if (memchr(c->b.body + at, 0, stop - at))
			return true;
		at = stop;
	}
	return false; /* the last name has no NUL */
}

bool symtab_cache_check(struct symtab *st, size_t i)
{
	struct symcache *c = st->cache;

	if (c->all)
		return true;
	return i < st->n && file_cache_check(&c->b, i * sizeof(struct sym), sizeof(struct sym)) &&
	       name_checked(st, st->syms[i].name);
}

bool symtab_cache_check_all(struct symtab *st)
{
	struct symcache *c = st->cache;

	if (c->all)
		return true;
	if (!file_cache_check(&c->b, 0, c->b.len) || st->names[st->names_len - 1])
		return false;
	for (size_t i = 0; i < st->n; i++)
		if (st->syms[i].name >= st->names_len)
			return false;
	c->all = true;
	return true;
}

void symtab_cache_drop(struct symtab *st, struct kvmdci_ctx **ctx, bool damaged,
		       struct symtab_source *src)
{
	struct symcache *c = st->cache;

	if (damaged)
		kvmdci_dbg(c->ctx, "ignoring the symbol cache %s: damaged (a block's checksum)",
			   c->path);
	*ctx = c->ctx;
	*src = c->src;
	file_cache_blocks_free(&c->b);
	free(c->path);
	free(c);
	st->cache = NULL;
}

void symtab_cache_save(struct kvmdci_ctx *ctx, const struct symtab *st, const char *path,
		       const struct symtab_source *s)
{
	struct symcache_header h = { 0 };
	size_t names_sz = pad8(st->names_len), syms_sz = st->n * sizeof(struct sym);
	size_t body_len = syms_sz + names_sz, nblk = file_cache_nblocks(body_len);
	uint8_t *body, *head;
	int r;

	if (!st->n || !st->names_len || st->names_len > UINT32_MAX || !st->sorted)
		return;
	h.body_off = file_cache_body_offset(sizeof(h), body_len);
	if (!(head = calloc(1, h.body_off)))
		return;
	if (!(body = calloc(1, body_len))) {
		free(head);
		return;
	}
	/* entry by entry: the padding of struct sym is written as zeros, not as whatever it held */
	for (size_t i = 0; i < st->n; i++) {
		struct sym *d = (struct sym *)(body + i * sizeof(struct sym));
		d->addr = st->syms[i].addr;
		d->name = st->syms[i].name;
		d->type = st->syms[i].type;
	}
	memcpy(body + syms_sz, st->names, st->names_len);
	memcpy(h.magic, SYMCACHE_MAGIC, 8);
	h.order = 0x01020304u;
	h.sym_size = sizeof(struct sym);
	memcpy(h.id, s->id, sizeof(h.id));
	h.nsyms = st->n;
	h.names_len = st->names_len;
	uint64_t *sums = (uint64_t *)(head + sizeof(h));
	file_cache_block_sums(body, body_len, sums);
	h.sums_sum = file_cache_sum(sums, nblk * sizeof(*sums));
	memcpy(head, &h, sizeof(h));
	const void *parts[2] = { head, body };
	size_t sizes[2] = { h.body_off, body_len };
	r = file_cache_write(path, parts, sizes, 2);
	free(head);
	free(body);
	if (r < 0)
		kvmdci_dbg(ctx, "could not write the symbol cache %s: %s", path, strerror(-r));
	else
		kvmdci_dbg(ctx, "wrote the symbol cache %s (%zu symbols)", path, st->n);
}
