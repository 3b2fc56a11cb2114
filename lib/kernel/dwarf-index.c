// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The DWARF reader's name table (the first complete definition of each (kind, name), in CU
 * order) and its copy on disk, keyed by the build id ($XDG_CACHE_HOME/libkvmdci/
 * dwarf-BUILDID.idx), so that a later run seeks straight to a type's DIE.
 * KVMDCI_DWARF_INDEX=0 turns the disk copy off.
 */
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/dwarf-internal.h"
#include "kernel/dl-libs.h" /* last: libdw's functions through pointers */

#define IDX_MAGIC "KVMDCIX1"
#define IDX_MAX_BYTES (64u << 20)

/* FNV-1a of a name, salted with its kind. */
static uint32_t name_hash(uint8_t kind, const char *s)
{
	uint32_t h = 2166136261u ^ kind;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct name_ent *names_slot(struct name_ent *tab, size_t cap, uint8_t kind, const char *name,
				   uint32_t h)
{
	size_t i = h & (cap - 1);

	while (tab[i].name &&
	       !(tab[i].hash == h && tab[i].kind == kind && !strcmp(tab[i].name, name)))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

int dwarf_names_add(struct ktypes_dwarf *d, uint8_t kind, const char *name, uint64_t off)
{
	uint32_t h = name_hash(kind, name);
	struct name_ent *e;

	if ((d->nnames + 1) * 2 > d->names_cap) {
		size_t cap = d->names_cap ? d->names_cap * 2 : 4096;
		struct name_ent *t = calloc(cap, sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < d->names_cap; i++)
			if (d->names[i].name)
				*names_slot(t, cap, d->names[i].kind, d->names[i].name,
					    d->names[i].hash) = d->names[i];
		free(d->names);
		d->names = t;
		d->names_cap = cap;
	}
	e = names_slot(d->names, d->names_cap, kind, name, h);
	if (e->name)
		return 0;
	*e = (struct name_ent){.name = name, .off = off, .hash = h, .kind = kind};
	d->nnames++;
	d->dirty = true;
	return 0;
}

const struct name_ent *dwarf_names_get(struct ktypes_dwarf *d, uint8_t kind, const char *name)
{
	const struct name_ent *e;

	if (!d->names_cap)
		return NULL;
	e = names_slot(d->names, d->names_cap, kind, name, name_hash(kind, name));
	return e->name ? e : NULL;
}

void dwarf_names_reset(struct ktypes_dwarf *d)
{
	free(d->names);
	free(d->name_blob);
	d->names = NULL;
	d->name_blob = NULL;
	d->nnames = d->names_cap = 0;
	d->scan_off = 0;
	d->scan_done = false;
	d->dirty = false;
}

void dwarf_index_path(struct ktypes_dwarf *d)
{
	const void *bid;
	ssize_t n = dwelf_elf_gnu_build_id(d->elf, &bid);
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *off = kvmdci_ctx_get_tunable(d->ctx, KVMDCI_TUNABLE_DWARF_INDEX);
	char hex[129];
	int len;

	d->idx_path[0] = 0;
	if ((off && !strcmp(off, "0")) || n <= 0 || n > 64 || (!(xdg && *xdg) && !home))
		return;
	for (ssize_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", ((const uint8_t *)bid)[i]);
	if (xdg && *xdg)
		len = snprintf(d->idx_path, sizeof(d->idx_path), "%s/libkvmdci/dwarf-%s.idx", xdg,
			       hex);
	else
		len = snprintf(d->idx_path, sizeof(d->idx_path), "%s/.cache/libkvmdci/dwarf-%s.idx",
			       home, hex);
	if (len < 0 || (size_t)len >= sizeof(d->idx_path))
		d->idx_path[0] = 0;
}

struct idx_header {
	char magic[8];
	uint64_t file_size;
	uint64_t scan_off;
	uint32_t scan_done;
	uint32_t count;
};

void dwarf_index_load(struct ktypes_dwarf *d)
{
	struct idx_header h;
	struct stat st;
	uint8_t *buf = NULL;
	size_t pos = sizeof(h), bpos = 0;
	int fd;

	if (!d->idx_path[0] || (fd = open(d->idx_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(h) || st.st_size > IDX_MAX_BYTES ||
	    !(buf = malloc((size_t)st.st_size)) || read(fd, buf, (size_t)st.st_size) != st.st_size)
		goto out;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, IDX_MAGIC, 8) || h.file_size != d->file_size ||
	    h.scan_off > d->file_size || !(d->name_blob = malloc((size_t)st.st_size)))
		goto out;
	for (uint32_t i = 0; i < h.count; i++) {
		uint64_t off;
		uint16_t len;
		uint8_t kind;
		if (pos + 11 > (size_t)st.st_size)
			goto bad;
		memcpy(&off, buf + pos, 8);
		kind = buf[pos + 8];
		memcpy(&len, buf + pos + 9, 2);
		pos += 11;
		if (!kind || kind > NK_MAX || !len || pos + len > (size_t)st.st_size ||
		    off >= d->file_size || memchr(buf + pos, 0, len))
			goto bad;
		memcpy(d->name_blob + bpos, buf + pos, len);
		d->name_blob[bpos + len] = 0;
		pos += len;
		if (dwarf_names_add(d, kind, d->name_blob + bpos, off) < 0)
			goto bad;
		bpos += len + 1u;
	}
	d->scan_off = h.scan_off;
	d->scan_done = h.scan_done != 0;
	d->dirty = false;
	kvmdci_dbg(d->ctx, "DWARF name index %s: %zu names%s", d->idx_path, d->nnames,
		   d->scan_done ? ", complete" : "");
	goto out;
bad:
	kvmdci_dbg(d->ctx, "ignoring the damaged DWARF name index %s", d->idx_path);
	dwarf_names_reset(d);
out:
	free(buf);
	close(fd);
}

void dwarf_index_save(struct ktypes_dwarf *d)
{
	struct idx_header h = {.file_size = d->file_size,
			       .scan_off = d->scan_off,
			       .scan_done = d->scan_done,
			       .count = (uint32_t)d->nnames};
	char tmp[sizeof(d->idx_path) + 16], *slash;
	FILE *f;
	bool ok;

	if (!d->idx_path[0] || !d->dirty)
		return;
	snprintf(tmp, sizeof(tmp), "%s", d->idx_path);
	for (slash = strchr(tmp + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(tmp, 0755);
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", d->idx_path, (int)getpid());
	if (!(f = fopen(tmp, "wbe")))
		return;
	memcpy(h.magic, IDX_MAGIC, 8);
	ok = fwrite(&h, sizeof(h), 1, f) == 1;
	for (size_t i = 0; ok && i < d->names_cap; i++) {
		const struct name_ent *e = &d->names[i];
		size_t len = e->name ? strlen(e->name) : 0;
		uint16_t l16 = (uint16_t)len;
		if (!e->name)
			continue;
		if (!len || len > UINT16_MAX) { /* cannot be stored: the index would lie */
			ok = false;
			break;
		}
		ok = fwrite(&e->off, 8, 1, f) == 1 && fputc(e->kind, f) != EOF &&
		     fwrite(&l16, 2, 1, f) == 1 && fwrite(e->name, len, 1, f) == 1;
	}
	if (fclose(f) != 0 || !ok || rename(tmp, d->idx_path) < 0) {
		unlink(tmp);
		return;
	}
	kvmdci_dbg(d->ctx, "wrote the DWARF name index %s (%zu names)", d->idx_path, d->nnames);
}

