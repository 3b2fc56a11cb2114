// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A parsed System.map on disk (file-cache.h): the symbol table as symtab_load_system_map()
 * leaves it, sorted by name, mapped straight back at the next start instead of parsing and
 * sorting ~90k lines again. The file is sysmap-DEV-INODE.idx; its header names the System.map
 * it was made from (device, inode, size, modification and change times: any write to the
 * System.map changes its ctime) and carries a checksum of the rest. A file that is short,
 * damaged, made on another kind of machine or from another System.map is ignored and written
 * anew.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "internal.h"
#include "kernel/file-cache.h"
#include "kernel/symtab.h"

#define SYMCACHE_MAGIC "KVMDCIS1"
#define SYMCACHE_MAX (1u << 30)

struct symcache_header {
	char magic[8];
	uint32_t order;    /* 0x01020304 as written: the same byte order */
	uint32_t sym_size; /* sizeof(struct sym): the same layout */
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint64_t nsyms;
	uint64_t names_len; /* the names' bytes (then zeros up to a multiple of 8) */
	uint64_t sum;       /* file_cache_sum() of everything after the header */
};

static void source_id(struct symcache_header *h, const struct stat *src)
{
	h->dev = (uint64_t)src->st_dev;
	h->ino = (uint64_t)src->st_ino;
	h->size = (uint64_t)src->st_size;
	h->mtime_s = (int64_t)src->st_mtim.tv_sec;
	h->mtime_ns = (int64_t)src->st_mtim.tv_nsec;
	h->ctime_s = (int64_t)src->st_ctim.tv_sec;
	h->ctime_ns = (int64_t)src->st_ctim.tv_nsec;
}

int symtab_cache_name(const struct stat *src, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "sysmap-%llx-%llx.idx", (unsigned long long)src->st_dev,
			 (unsigned long long)src->st_ino);
	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int symtab_cache_load(struct kvmdci_ctx *ctx, struct symtab *st, const char *path,
		      const struct stat *src)
{
	struct symcache_header h, want = { 0 };
	const char *why = NULL;
	struct sym *syms;
	char *names;
	uint8_t *map = NULL;
	size_t len = 0;
	int r;

	if (st->n || (r = file_cache_map_header(path, SYMCACHE_MAX, &h, sizeof(h), (void **)&map,
						&len, &why)) == -ENOENT)
		return -ENOENT;
	if (r < 0)
		goto bad;
	source_id(&want, src);
	if (memcmp(h.magic, SYMCACHE_MAGIC, 8) || h.order != 0x01020304u ||
	    h.sym_size != sizeof(struct sym)) {
		why = "not a symbol cache of this library on this machine";
		goto bad;
	}
	if (h.dev != want.dev || h.ino != want.ino || h.size != want.size ||
	    h.mtime_s != want.mtime_s || h.mtime_ns != want.mtime_ns ||
	    h.ctime_s != want.ctime_s || h.ctime_ns != want.ctime_ns) {
		why = "made from another System.map or an older version of it";
		goto bad;
	}
	if (!h.nsyms || !h.names_len || h.nsyms > SYMCACHE_MAX / sizeof(struct sym) ||
	    h.names_len > SYMCACHE_MAX || h.names_len > UINT32_MAX ||
	    len != sizeof(h) + h.nsyms * sizeof(struct sym) + pad8(h.names_len)) {
		why = "truncated or of the wrong size";
		goto bad;
	}
	if (file_cache_sum(map + sizeof(h), len - sizeof(h)) != h.sum) {
		why = "damaged (checksum)";
		goto bad;
	}
	syms = (struct sym *)(map + sizeof(h));
	names = (char *)(syms + h.nsyms);
	if (names[h.names_len - 1]) {
		why = "damaged (names)";
		goto bad;
	}
	for (size_t i = 0; i < h.nsyms; i++)
		if (syms[i].name >= h.names_len) {
			why = "damaged (name offsets)";
			goto bad;
		}
	free(st->syms); /* an empty table may hold buffers already */
	free(st->names);
	st->syms = syms;
	st->names = names;
	st->n = st->cap = (size_t)h.nsyms;
	st->names_len = st->names_cap = (size_t)h.names_len;
	st->sorted = 1;
	st->map = map;
	st->map_len = len;
	kvmdci_dbg(ctx, "symbol cache %s: %zu symbols", path, st->n);
	return 0;
bad:
	if (map)
		munmap(map, len);
	kvmdci_dbg(ctx, "ignoring the symbol cache %s: %s", path, why);
	return -EINVAL;
}

void symtab_cache_save(struct kvmdci_ctx *ctx, const struct symtab *st, const char *path,
		       const struct stat *src)
{
	struct symcache_header h = { 0 };
	size_t names_sz = pad8(st->names_len), syms_sz = st->n * sizeof(struct sym);
	uint8_t *body;
	int r;

	if (!st->n || !st->names_len || st->names_len > UINT32_MAX || !st->sorted ||
	    !(body = calloc(1, syms_sz + names_sz)))
		return;
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
	source_id(&h, src);
	h.nsyms = st->n;
	h.names_len = st->names_len;
	h.sum = file_cache_sum(body, syms_sz + names_sz);
	const void *parts[2] = { &h, body };
	size_t sizes[2] = { sizeof(h), syms_sz + names_sz };
	r = file_cache_write(path, parts, sizes, 2);
	free(body);
	if (r < 0)
		kvmdci_dbg(ctx, "could not write the symbol cache %s: %s", path, strerror(-r));
	else
		kvmdci_dbg(ctx, "wrote the symbol cache %s (%zu symbols)", path, st->n);
}
