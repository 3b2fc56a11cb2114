// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kdump-compressed dump backend (core:///path of a diskdump file): makedumpfile's and
 * QEMU's `dump-guest-memory -z/-l/-s` output, pages compressed with zlib, lzo, snappy or
 * zstd. Physical memory comes from libkdumpfile (kdump_read, KDUMP_KPHYSADDR); the CPUs and
 * VMCOREINFO from the dump's ELF notes, which we read ourselves because libkdumpfile does
 * not parse QEMU's CPU notes (the only place with CR3). QEMU 7.2 writes these dumps in
 * makedumpfile's "flattened" form (a stream of {offset, size} records meant for a pipe);
 * we rebuild the file in memory (memfd) as `makedumpfile -R` would. Every header field is
 * bounded by the file size before anything trusts it: a dump is untrusted input.
 * Layouts: makedumpfile diskdump_mod.h (struct disk_dump_header, kdump_sub_header) and
 * makedumpfile.h (struct makedumpfile_header, makedumpfile_data_header), QEMU dump.c.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <libkdumpfile/kdumpfile.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "internal.h"
#include "target/dlib.h"
#include "target/dump.h"
#include "target/target-internal.h"

#define FLAT_HEADER_SIZE 4096
#define MAX_NOTES_SIZE (64u << 20)

/* libkdumpfile: loaded at the first kdump-compressed dump (target/dlib.h); linked, it and what
 * it links (lzo, snappy and through it libstdc++, zstd) cost every start ~4.5 ms. Its exported
 * functions only: kdump_open_fd(), kdump_set_number_attr() and kdump_get_string_attr() are
 * inline wrappers in its header, of kdump_open_fdset(), kdump_set_attr() and
 * kdump_get_typed_attr(). */
#define KDUMP_FUNCS(X)                                                                        \
	X(kdump_new) X(kdump_open_fdset) X(kdump_read) X(kdump_get_err) X(kdump_set_attr)      \
	X(kdump_get_typed_attr) X(kdump_vmcoreinfo_raw)
static struct dlib kd_dl = { .soname = KVMDCI_KDUMPFILE_SONAME };
static struct {
	KDUMP_FUNCS(DLIB_PTR)
} kd_lib;

static bool kd_lib_syms(void)
{
#define KD_SYM(f) DLIB_SYM(&kd_dl, kd_lib, f)
	KDUMP_FUNCS(KD_SYM)
#undef KD_SYM
	return true;
}

/* never unloaded: a dump's context is never freed either (kd_free) */
static bool kd_lib_load(void)
{
	if (!kd_dl.tried && dlib_open(&kd_dl))
		kd_dl.ok = kd_lib_syms();
	return kd_dl.ok;
}

struct kdump {
	struct dump_base base; /* first; its fd: the file, or the memfd of the unflattened one */
	kdump_ctx_t *kd;
};

/*
 * makedumpfile's flattened format: a 4096-byte header ("makedumpfile", type 1, version 1,
 * big endian), then records {be64 offset, be64 size, data} that write the real file, ended
 * by a record of offset -1, size -1. Rebuilt into a memfd (sparse, like the real file).
 */
static int unflatten(struct dump_base *b, int in, uint64_t size)
{
	uint8_t hdr[32], rec[16];
	uint64_t pos = FLAT_HEADER_SIZE, limit = size * 2 + (64u << 20);
	size_t bufsz = 1 << 20;
	uint8_t *buf = NULL;
	int out, r;

	if (size < FLAT_HEADER_SIZE + 16)
		return dump_fail(b, -EINVAL,
				 "a flattened kdump dump of %llu bytes: truncated (the "
				 "header alone is %d bytes)",
				 (unsigned long long)size, FLAT_HEADER_SIZE);
	if ((r = dump_pread(in, hdr, sizeof(hdr), 0, NULL)) < 0)
		return dump_fail(b, r, "cannot read the flattened header: %s", strerror(-r));
	if (be64toh(*(uint64_t *)(hdr + 16)) != 1 || be64toh(*(uint64_t *)(hdr + 24)) != 1)
		return dump_fail(b, -EINVAL,
				 "a makedumpfile file of unknown type %llu version %llu "
				 "(want the flattened format, type 1 version 1)",
				 (unsigned long long)be64toh(*(uint64_t *)(hdr + 16)),
				 (unsigned long long)be64toh(*(uint64_t *)(hdr + 24)));
	out = memfd_create("kvmdci-kdump", MFD_CLOEXEC);
	if (out < 0)
		return dump_fail(b, -errno, "memfd_create: %s", strerror(errno));
	buf = malloc(bufsz);
	if (!buf) {
		close(out);
		return -ENOMEM;
	}
	for (;;) {
		if (pos + 16 > size) {
			r = dump_fail(b, -EINVAL,
				      "truncated flattened dump: no end marker (a record "
				      "header at file offset 0x%llx runs past the end, 0x%llx; "
				      "was the dump interrupted?)",
				      (unsigned long long)pos, (unsigned long long)size);
			goto out;
		}
		if ((r = dump_pread(in, rec, 16, pos, NULL)) < 0) {
			r = dump_fail(b, r, "cannot read at file offset 0x%llx: %s",
				      (unsigned long long)pos, strerror(-r));
			goto out;
		}
		int64_t off = (int64_t)be64toh(*(uint64_t *)rec);
		int64_t len = (int64_t)be64toh(*(uint64_t *)(rec + 8));
		if (off == -1 && len == -1)
			break;
		if (off < 0 || len <= 0 || (uint64_t)len > size - pos - 16 ||
		    (uint64_t)off > limit || (uint64_t)len > limit - (uint64_t)off) {
			r = dump_fail(b, -EINVAL,
				      "corrupt flattened dump: the record at file offset "
				      "0x%llx says offset %lld size %lld (file size 0x%llx)",
				      (unsigned long long)pos, (long long)off, (long long)len,
				      (unsigned long long)size);
			goto out;
		}
		pos += 16;
		for (uint64_t done = 0; done < (uint64_t)len;) {
			size_t n = (uint64_t)len - done < bufsz ? (size_t)((uint64_t)len - done) : bufsz;
			if ((r = dump_pread(in, buf, n, pos, NULL)) < 0) {
				r = dump_fail(b, r, "cannot read at file offset 0x%llx: %s",
					      (unsigned long long)pos, strerror(-r));
				goto out;
			}
			ssize_t w = pwrite(out, buf, n, (off_t)((uint64_t)off + done));
			if (w != (ssize_t)n) {
				r = dump_fail(b, w < 0 ? -errno : -ENOSPC,
					      "cannot unflatten into memory: %s",
					      w < 0 ? strerror(errno) : "short write");
				goto out;
			}
			done += n;
			pos += n;
		}
	}
	kvmdci_info(b->ctx,
		    "%s: flattened kdump format (QEMU dump-guest-memory -z/-l/-s); "
		    "unflattened in memory (to keep an unflattened copy: makedumpfile -R "
		    "OUT < %s)",
		    b->path, b->path);
	free(buf);
	return out;
out:
	free(buf);
	close(out);
	return r;
}

/* The notes of a diskdump file: struct kdump_sub_header (one block after the header) has
 * offset_note at 48 and size_note at 56 from header_version 4 on. */
static int read_notes(struct dump_base *b, uint64_t size)
{
	uint8_t h[464], sub[104];
	int32_t version, block_size, sub_blocks;
	uint64_t note_off, note_size;
	size_t bad = 0;
	uint8_t *notes;
	int r;

	if (size < sizeof(h))
		return dump_fail(b, -EINVAL, "a kdump file of %llu bytes: truncated in its header",
				 (unsigned long long)size);
	if ((r = dump_pread(b->fd, h, sizeof(h), 0, NULL)) < 0)
		return dump_fail(b, r, "cannot read the header: %s", strerror(-r));
	memcpy(&version, h + 8, 4);
	memcpy(&block_size, h + 428, 4);
	memcpy(&sub_blocks, h + 432, 4);
	if (block_size < 512 || block_size > (1 << 20) || (block_size & (block_size - 1)))
		return dump_fail(b, -EINVAL,
				 "corrupt kdump header: block_size %d at file offset 428",
				 block_size);
	/* libkdumpfile sizes its page tables from max_mapnr: a header that lies about it makes it
	 * allocate gigabytes (found by fuzz/fuzz-core). The two page bitmaps (bitmap_blocks
	 * blocks after the header and sub-header) hold 2 bits per page and must be in the file. */
	uint32_t bitmap_blocks, max_mapnr;
	memcpy(&bitmap_blocks, h + 436, 4);
	memcpy(&max_mapnr, h + 440, 4);
	uint64_t bitmap_bytes = (uint64_t)bitmap_blocks * (uint64_t)block_size;
	uint64_t bitmap_off = (1 + (uint64_t)(sub_blocks < 0 ? 0 : sub_blocks)) * (uint64_t)block_size;
	if (sub_blocks < 0 || bitmap_off + bitmap_bytes > size)
		return dump_fail(b, -EINVAL,
				 "corrupt or truncated kdump file: %u bitmap blocks of %d bytes "
				 "at file offset 0x%llx go past its end (0x%llx)",
				 bitmap_blocks, block_size, (unsigned long long)bitmap_off,
				 (unsigned long long)size);
	if (version < 6 && (uint64_t)max_mapnr > bitmap_bytes * 8 / 2)
		return dump_fail(b, -EINVAL,
				 "corrupt kdump header: max_mapnr %u at file offset 440 needs "
				 "more than the %llu bytes of page bitmaps",
				 max_mapnr, (unsigned long long)bitmap_bytes);
	if (version < 4)
		return 0; /* no notes recorded: registers from libkdumpfile's attributes only */
	if ((uint64_t)block_size + 64 > size)
		return dump_fail(b, -EINVAL,
				 "truncated kdump file: the sub-header at file offset "
				 "0x%x is past its end (0x%llx)",
				 block_size, (unsigned long long)size);
	/* 64 bytes up to the notes; max_mapnr_64 (version 6) only if the file has it */
	size_t sublen = size - (uint64_t)block_size < sizeof(sub) ? (size_t)(size - (uint64_t)block_size)
								  : sizeof(sub);
	memset(sub, 0, sizeof(sub));
	if ((r = dump_pread(b->fd, sub, sublen, (uint64_t)block_size, NULL)) < 0)
		return dump_fail(b, r, "cannot read the sub-header: %s", strerror(-r));
	memcpy(&note_off, sub + 48, 8);
	memcpy(&note_size, sub + 56, 8);
	if (version >= 6) { /* max_mapnr_64 in struct kdump_sub_header */
		uint64_t mapnr64;
		memcpy(&mapnr64, sub + 96, 8);
		if (mapnr64 > bitmap_bytes * 8 / 2)
			return dump_fail(b, -EINVAL,
					 "corrupt kdump sub-header: max_mapnr_64 %llu needs "
					 "more than the %llu bytes of page bitmaps",
					 (unsigned long long)mapnr64,
					 (unsigned long long)bitmap_bytes);
	}
	if (note_size == 0)
		return 0;
	if (note_size > MAX_NOTES_SIZE || note_off > size || note_size > size - note_off)
		return dump_fail(b, -EINVAL,
				 "corrupt kdump sub-header: notes at file offset 0x%llx, "
				 "0x%llx bytes, past the end of the file (0x%llx)",
				 (unsigned long long)note_off, (unsigned long long)note_size,
				 (unsigned long long)size);
	notes = malloc(note_size);
	if (!notes)
		return -ENOMEM;
	if ((r = dump_pread(b->fd, notes, note_size, note_off, NULL)) < 0) {
		free(notes);
		return dump_fail(b, r, "cannot read the notes at file offset 0x%llx: %s",
				 (unsigned long long)note_off, strerror(-r));
	}
	r = dump_notes_parse(&b->notes, notes, note_size, &bad);
	free(notes);
	if (r < 0)
		return dump_fail(b, -EINVAL, "corrupt ELF note at file offset 0x%llx",
				 (unsigned long long)(note_off + bad));
	return 0;
}

static int kd_read_phys(void *p, uint64_t pa, void *buf, size_t len)
{
	struct kdump *k = p;
	size_t got = len;
	kdump_status st = kd_lib.kdump_read(k->kd, KDUMP_MACHPHYSADDR, pa, buf, &got);

	if (st == KDUMP_OK && got == len)
		return 0;
	kvmdci_set_error(k->base.ctx, "%s: physical 0x%llx: %s", k->base.path,
			 (unsigned long long)(pa + got), kd_lib.kdump_get_err(k->kd));
	return st == KDUMP_ERR_NODATA || st == KDUMP_ERR_ADDRXLAT ? -EFAULT : -EIO;
}

static void kd_free(void *p)
{
	struct kdump *k = p;

	/* Not kdump_free(k->kd): libkdumpfile 0.5.1 (Debian bookworm) uses freed memory inside
	 * kdump_free() once a diskdump file was opened (valgrind: invalid read/write in
	 * kdump_free; with MALLOC_PERTURB_ set it crashes: open + free of any QEMU kdump file
	 * is enough, no read needed). The context is left to the process's exit: one leak per
	 * closed kdump target, instead of a crash. */
	(void)k->kd;
	dump_base_fini(&k->base);
	free(k);
}

const struct target_ops kdump_target_ops = {
	.name = "kdump-compressed dump",
	.free = kd_free,
	.cpu_count = dump_op_cpu_count,
	.regs_read = dump_op_regs_read,
	.read_virt = dump_op_read_virt,
	.read_phys = kd_read_phys,
	.vmcoreinfo = dump_op_vmcoreinfo,
};

int kdump_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret)
{
	struct kdump *k = dump_base_new(sizeof(*k), ctx, path, kd_read_phys);
	struct dump_base *b;
	const char *fmt = "?";
	struct stat st;
	char sig[16];
	int r, in;

	if (!k)
		return -ENOMEM;
	b = &k->base;
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		r = dump_fail(b, -errno, "cannot open: %s", strerror(errno));
		if (in >= 0)
			close(in);
		goto fail;
	}
	if ((r = dump_pread(in, sig, sizeof(sig), 0, NULL)) < 0) {
		close(in);
		r = dump_fail(b, -EINVAL, "%s", "too short for a kdump file");
		goto fail;
	}
	if (!memcmp(sig, "makedumpfile", 12)) {
		b->fd = unflatten(b, in, (uint64_t)st.st_size);
		close(in);
		if (b->fd < 0) {
			r = b->fd;
			goto fail;
		}
		if (fstat(b->fd, &st) < 0) {
			r = -errno;
			goto fail;
		}
	} else {
		b->fd = in;
	}
	if ((r = dump_pread(b->fd, sig, 8, 0, NULL)) < 0 || memcmp(sig, "KDUMP   ", 8)) {
		r = dump_fail(b, -EINVAL, "%s",
			      "no KDUMP signature at file offset 0 (not a "
			      "kdump-compressed file)");
		goto fail;
	}
	if ((r = read_notes(b, (uint64_t)st.st_size)) < 0)
		goto fail;
	if (!kd_lib_load()) {
		r = dump_fail(b, -ENOPKG, "a kdump-compressed dump needs libkdumpfile, which cannot be "
					  "loaded (%s): install it (Debian: libkdumpfile10)",
			      kd_dl.err);
		goto fail;
	}
	k->kd = kd_lib.kdump_new();
	if (!k->kd) {
		r = -ENOMEM;
		goto fail;
	}
	/* read(2), not mmap(2): a truncated file would raise SIGBUS past its end */
	kdump_attr_t attr = { .type = KDUMP_NUMBER, .val.number = KDUMP_MMAP_NEVER };
	kd_lib.kdump_set_attr(k->kd, KDUMP_ATTR_FILE_MMAP_POLICY, &attr);
	if (kd_lib.kdump_open_fdset(k->kd, 1, &b->fd) != KDUMP_OK) {
		r = dump_fail(b, -EINVAL, "libkdumpfile: %s", kd_lib.kdump_get_err(k->kd));
		goto fail;
	}
	attr = (kdump_attr_t){ .type = KDUMP_STRING };
	if (kd_lib.kdump_get_typed_attr(k->kd, "file.format", &attr) == KDUMP_OK)
		fmt = attr.val.string;
	if (!b->notes.vmcoreinfo && kd_lib.kdump_vmcoreinfo_raw(k->kd, &b->vmcoreinfo) != KDUMP_OK)
		b->vmcoreinfo = NULL;
	dump_base_take_cpus(b);
	if (b->ncpus == 0) {
		r = dump_fail(b, -EINVAL, "%s",
			      "no CPU registers (QEMU or NT_PRSTATUS notes) in the "
			      "dump");
		goto fail;
	}
	kvmdci_info(ctx, "dump %s: %s (libkdumpfile), %d CPUs%s", path, fmt, b->ncpus,
		    dump_op_vmcoreinfo(k) ? ", VMCOREINFO" : "");
	*ret = k;
	return 0;
fail:
	kd_free(k);
	return r;
}
