// SPDX-License-Identifier: LGPL-2.1-or-later
/* The on-disk cache of parsed kernel files: paths, mapping, atomic writes, checksums. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/file-cache.h"

int file_cache_path(struct kvmdci_ctx *ctx, const char *name, char *buf, size_t sz)
{
	const char *off = kvmdci_ctx_get_tunable(ctx, KVMDCI_TUNABLE_KERNEL_CACHE);
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int len;

	if (off && !strcmp(off, "0"))
		return -ENOENT;
	/* as the XDG base directory rules say: a relative $XDG_CACHE_HOME is ignored */
	if (xdg && *xdg == '/')
		len = snprintf(buf, sz, "%s/libkvmdci/%s", xdg, name);
	else if (home && *home == '/')
		len = snprintf(buf, sz, "%s/.cache/libkvmdci/%s", home, name);
	else
		return -ENOENT;
	return len < 0 || (size_t)len >= sz ? -ENAMETOOLONG : 0;
}

int file_cache_map(const char *path, size_t max, void **map, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > max)
		r = -EINVAL;
	if (!r) {
		/* read-only: populated from the page cache without a fault per page (a writable
		 * private mapping would be copied page by page) */
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (p == MAP_FAILED) {
			r = -errno;
		} else {
			*map = p;
			*len = (size_t)st.st_size;
		}
	}
	close(fd);
	return r;
}

int file_cache_map_header(const char *path, size_t max, void *hdr, size_t hdr_size, void **map,
			  size_t *len, const char **why)
{
	int r = file_cache_map(path, max, map, len);

	if (r == -ENOENT)
		return r;
	if (r < 0) {
		*why = "unreadable, empty or too large";
		return r;
	}
	if (*len < hdr_size) {
		*why = "shorter than its header";
		return -EINVAL;
	}
	memcpy(hdr, *map, hdr_size);
	return 0;
}

#define CACHE_KEEP 8	 /* files of one kind (the name up to its first '-') */
#define CACHE_SCAN 256 /* directory entries of that kind looked at */

struct cache_entry {
	char name[256];
	struct timespec mtime;
};

static int newest_first(const void *a, const void *b)
{
	const struct timespec *x = &((const struct cache_entry *)a)->mtime,
			      *y = &((const struct cache_entry *)b)->mtime;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? 1 : -1;
	return x->tv_nsec < y->tv_nsec ? 1 : x->tv_nsec > y->tv_nsec ? -1 : 0;
}

/*
 * Keep the cache from growing without bound: entries are keyed by a file's identity, so every
 * copy of a System.map (tests make them by the dozen) would add one. After a write, only the
 * CACHE_KEEP newest files of @path's kind stay (temporary files of writers are left alone).
 * Best effort: errors are ignored.
 */
static void file_cache_trim(const char *path)
{
	const char *base = strrchr(path, '/'), *dash;
	struct cache_entry *e;
	char dir[4096], full[4096 + 256];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (!base || !(dash = strchr(base + 1, '-')) || (size_t)(base - path) >= sizeof(dir))
		return;
	size_t plen = (size_t)(dash - base); /* the kind and its '-' ("sysmap-") */
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	if (!(e = calloc(CACHE_SCAN, sizeof(*e))))
		return;
	if (!(d = opendir(dir))) {
		free(e);
		return;
	}
	while ((de = readdir(d)) && n < CACHE_SCAN) {
		size_t len = strlen(de->d_name);
		struct stat st;
		if (strncmp(de->d_name, base + 1, plen) || len >= sizeof(e->name) ||
		    (len > 4 && !strcmp(de->d_name + len - 4, ".tmp")))
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
		if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		memcpy(e[n].name, de->d_name, len + 1);
		e[n++].mtime = st.st_mtim;
	}
	closedir(d);
	qsort(e, (size_t)n, sizeof(*e), newest_first);
	for (int i = CACHE_KEEP; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", dir, e[i].name);
		unlink(full);
	}
	free(e);
}

int file_cache_write(const char *path, const void *const *parts, const size_t *sizes, int n)
{
	char tmp[4096 + 32], *slash;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp) - 24)
		return -ENAMETOOLONG;
	for (slash = strchr(tmp + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(tmp, 0755);
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	for (int i = 0; i < n && !r; i++) {
		const char *p = parts[i];
		size_t left = sizes[i];
		while (left && !r) {
			ssize_t w = write(fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				r = w < 0 ? -errno : -EIO;
			else {
				p += w;
				left -= (size_t)w;
			}
		}
	}
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	else
		file_cache_trim(path);
	return r;
}

uint64_t file_cache_sum(const void *p, size_t len)
{
	const uint64_t *w = p, k = 0x9e3779b97f4a7c15ULL;
	uint64_t h[4] = { 1, 2, 3, 4 };
	size_t n = len / 8, i = 0;

	for (; i + 4 <= n; i += 4)
		for (int j = 0; j < 4; j++)
			h[j] = (h[j] ^ w[i + j]) * k;
	for (; i < n; i++)
		h[0] = (h[0] ^ w[i]) * k;
	return ((h[0] ^ (h[1] >> 7)) * k ^ (h[2] >> 13)) * k ^ h[3] ^ len;
}

size_t file_cache_nblocks(size_t len)
{
	return (len + FILE_CACHE_BLOCK - 1) / FILE_CACHE_BLOCK;
}

size_t file_cache_body_offset(size_t header, size_t len)
{
	size_t n = header + file_cache_nblocks(len) * sizeof(uint64_t);

	return (n + FILE_CACHE_BLOCK - 1) / FILE_CACHE_BLOCK * FILE_CACHE_BLOCK;
}

static uint64_t block_sum(const uint8_t *body, size_t len, size_t i)
{
	size_t off = i * FILE_CACHE_BLOCK, n = len - off;

	return file_cache_sum(body + off, n < FILE_CACHE_BLOCK ? n : FILE_CACHE_BLOCK);
}

void file_cache_block_sums(const void *body, size_t len, uint64_t *sums)
{
	for (size_t i = 0; i < file_cache_nblocks(len); i++)
		sums[i] = block_sum(body, len, i);
}

int file_cache_blocks_init(struct file_cache_blocks *b, const void *body, size_t len,
			   const uint64_t *sums)
{
	*b = (struct file_cache_blocks){ .body = body, .len = len, .sums = sums };
	if (!(b->checked = calloc(file_cache_nblocks(len) / 8 + 1, 1)))
		return -ENOMEM;
	return 0;
}

void file_cache_blocks_free(struct file_cache_blocks *b)
{
	free(b->checked);
	b->checked = NULL;
}

bool file_cache_check(struct file_cache_blocks *b, size_t off, size_t n)
{
	if (off > b->len || n > b->len - off)
		return false;
	for (size_t i = off / FILE_CACHE_BLOCK; n && i * FILE_CACHE_BLOCK < off + n; i++) {
		if (b->checked[i / 8] & (1u << (i % 8)))
			continue;
		if (block_sum(b->body, b->len, i) != b->sums[i])
			return false;
		b->checked[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	return true;
}
