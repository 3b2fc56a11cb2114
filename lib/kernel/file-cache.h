/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The on-disk cache of what was parsed from kernel files ($XDG_CACHE_HOME/libkvmdci, else
 * ~/.cache/libkvmdci): files mapped read-only, written whole under a
 * temporary name and renamed into place, and checked by their reader before any use.
 * KVMDCI_KERNEL_CACHE=0 turns it off.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvmdci_ctx;

/* The path of cache file @name; -ENOENT when the cache is off or there is no directory. */
int file_cache_path(struct kvmdci_ctx *ctx, const char *name, char *buf, size_t sz);
/* Map cache file @path whole (read-only, populated); -ENOENT when it
 * does not exist, -EINVAL when it is empty or larger than @max. */
int file_cache_map(const char *path, size_t max, void **map, size_t *len);
/* file_cache_map, then the file's first @hdr_size bytes copied to @hdr: 0, -ENOENT when it
 * does not exist, else < 0 with *@why set (the map, if made, is left for the caller to
 * unmap). */
int file_cache_map_header(const char *path, size_t max, void *hdr, size_t hdr_size, void **map,
			  size_t *len, const char **why);
/* Write the @n pieces as @path: a temporary file in the same directory, renamed over it
 * (readers see the old file or the whole new one, never a part). Then only the 8 newest
 * files of @path's kind (its name up to the first '-') are kept. */
int file_cache_write(const char *path, const void *const *parts, const size_t *sizes, int n);
/* A 64-bit checksum of @len bytes (@len a multiple of 8, @p 8-byte aligned): four lanes of
 * multiply-xor, fast enough to check a few MB at every start. */
uint64_t file_cache_sum(const void *p, size_t len);

/*
 * A cache file's body checked block by block, each block the first time it is used, instead
 * of whole at each start: a run reads a few pages of a table of several MB, and in a VM even
 * reading a mapped page for the first time costs microseconds (bench/README.md, P5). The
 * writer stores file_cache_block_sums() of the body, and the header a checksum of those sums;
 * the reader checks the sums once and then each range with file_cache_check() before reading
 * it. Blocks are FILE_CACHE_BLOCK bytes (a page: the body starts page-aligned in the file).
 */
#define FILE_CACHE_BLOCK 4096u

struct file_cache_blocks {
	const uint8_t *body;
	size_t len;	      /* a multiple of 8 */
	const uint64_t *sums; /* one per block, in the mapped file */
	uint8_t *checked;     /* a bit per block: its sum matched */
};

/* The blocks of a body of @len bytes. */
size_t file_cache_nblocks(size_t len);
/* Where a body of @len bytes starts in its file: after a header of @header bytes and the
 * block sums, at a block boundary. */
size_t file_cache_body_offset(size_t header, size_t len);
/* The checksum of each block of the @len bytes (a multiple of 8) at @body, into @sums. */
void file_cache_block_sums(const void *body, size_t len, uint64_t *sums);
/* Start checking @len bytes at @body against @sums (file_cache_nblocks(@len) of them): 0, or
 * -ENOMEM. */
int file_cache_blocks_init(struct file_cache_blocks *b, const void *body, size_t len,
			   const uint64_t *sums);
void file_cache_blocks_free(struct file_cache_blocks *b);
/* Whether the @n bytes at @off lie in the body and every block under them matches its sum
 * (blocks not checked yet are checked now). */
bool file_cache_check(struct file_cache_blocks *b, size_t off, size_t n);
