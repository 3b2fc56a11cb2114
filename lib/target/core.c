// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ELF core-dump backend (core:///path): QEMU dump-guest-memory output and kdump ELF
 * vmcores. Physical memory comes from the PT_LOAD segments (p_paddr), each CPU's registers
 * from the "QEMU" notes (QEMUCPUState: general registers, rip, rflags, segments, cr[0..4];
 * layout from QEMU's target/i386/arch_dump.c), else from CORE/NT_PRSTATUS (pr_reg in
 * struct user_regs_struct order), and VMCOREINFO from its note when the guest filled it.
 * A dump has no run control. QEMU traps (docs/transports.md "Memory dumps"): the ELF header
 * may say EM_386/ELFCLASS32 when CPU 0 was not in long mode; a plain dump records no
 * virtual addresses, so virtual reads walk the CPU's page tables here.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "target/target-internal.h"
#include "target/dump.h"

#define MAX_SEGS 65536

/*
 * Short reads (fields, page-table entries) come from a small cache of the file's 1 KiB
 * sectors, each filled by one pread(): a walk over many objects touches thousands of distinct
 * pages of a large dump, and the first touch of a mapped page is a page fault, far dearer in
 * this project's VM than a pread() into memory touched already (measured on the 2-core VM
 * under load: a fault 60-130 us, a pread() 5-15 us; bench/README.md P4). 1 KiB sectors were
 * faster than 4 KiB pages there (less to copy, and a fourth of the memory to touch first),
 * 256 of them (64 sets of 4 ways, LRU) than 64 or 1024 (one round). A walk's page tables and
 * current objects stay; its other sectors pass through.
 */
#define PC_SECTOR 1024
#define PC_SET_BITS 6
#define PC_SETS (1 << PC_SET_BITS)
#define PC_WAYS 4

struct pc_way {
	uint64_t sector; /* file offset / PC_SECTOR + 1; 0: empty */
	uint32_t used;	 /* LRU tick */
	uint32_t len;	 /* bytes read (short at the end of the file) */
};

struct seg {
	uint64_t paddr, size, offset;
};

struct core {
	struct dump_base base; /* first: the shared dump operations take a struct core */
	uint8_t *map;
	size_t size;
	struct seg *segs;
	int nsegs;
	struct pc_way pc[PC_SETS][PC_WAYS];
	uint8_t *pc_data; /* PC_SETS * PC_WAYS sectors, allocated at the first short read */
	uint32_t pc_tick;
	bool pc_off; /* no memory for the cache: the mapping serves every read */
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static const struct seg *seg_find(struct core *c, uint64_t pa)
{
	int lo = 0, hi = c->nsegs - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct seg *s = &c->segs[mid];
		if (pa < s->paddr)
			hi = mid - 1;
		else if (pa >= s->paddr + s->size)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

/*
 * Copy @n bytes at file offset @off (within the file and one sector) from the sector cache;
 * false when the sector cannot be read (the caller copies from the mapping).
 */
static bool pc_copy(struct core *c, uint64_t off, uint8_t *out, size_t n)
{
	uint64_t sec = off / PC_SECTOR;
	unsigned int set = (unsigned int)((sec * 0x9e3779b97f4a7c15ULL) >> (64 - PC_SET_BITS));
	struct pc_way *w = c->pc[set], *v = &w[0];
	size_t in = (size_t)(off % PC_SECTOR);
	uint8_t *data;

	for (int i = 0; i < PC_WAYS; i++) {
		if (w[i].sector == sec + 1) {
			v = &w[i];
			break;
		}
		if (w[i].used < v->used) /* the least recently used way (an empty one: 0) */
			v = &w[i];
	}
	if (v->sector != sec + 1 && c->pc_off)
		return false;
	if (!c->pc_data && !(c->pc_data = malloc((size_t)PC_SETS * PC_WAYS * PC_SECTOR))) {
		c->pc_off = true;
		return false;
	}
	data = c->pc_data + ((size_t)set * PC_WAYS + (size_t)(v - w)) * PC_SECTOR;
	if (v->sector != sec + 1) {
		uint64_t left = c->size - sec * PC_SECTOR;
		size_t got = 0;
		v->sector = 0;
		if (dump_pread(c->base.fd, data, left < PC_SECTOR ? (size_t)left : PC_SECTOR,
			       sec * PC_SECTOR, &got) < 0 && got < in + n)
			return false;
		v->sector = sec + 1;
		v->len = (uint32_t)got;
	}
	if (in + n > v->len)
		return false;
	v->used = ++c->pc_tick;
	memcpy(out, data + in, n);
	return true;
}

static int core_read_phys(void *p, uint64_t pa, void *buf, size_t len)
{
	struct core *c = p;
	struct dump_base *b = &c->base;
	uint8_t *out = buf;

	while (len) {
		const struct seg *s = seg_find(c, pa);
		if (!s) {
			kvmdci_set_error(b->ctx, "%s: physical address 0x%llx is not in the dump",
					 b->path, (unsigned long long)pa);
			return -EFAULT;
		}
		uint64_t off = pa - s->paddr, n = s->size - off;
		if (n > len)
			n = len;
		/* overflow-safe: offsets come from the file (fuzz-core found a wrap-around here) */
		if (s->offset > c->size || off > c->size - s->offset || n > c->size - s->offset - off) {
			kvmdci_set_error(b->ctx,
					 "%s is truncated: physical 0x%llx is at file offset "
					 "0x%llx, past its end (0x%zx)",
					 b->path, (unsigned long long)pa,
					 (unsigned long long)(s->offset + off), c->size);
			return -EIO;
		}
		/* a long read (a page of a module's kallsyms, BTF in memory) is copied from the
		 * page cache by pread(): no page fault in the mapping and nothing to unmap, both
		 * dear in a VM (a first touch ~7 us a page here, bench/README.md P5); a short
		 * read (page tables, fields: shorter than a sector, so in one or two of them)
		 * through the sector cache above; the mapping when those fail */
		uint64_t fo = s->offset + off;
		size_t in_sec = PC_SECTOR - (size_t)(fo % PC_SECTOR);
		if (n < PC_SECTOR ? !pc_copy(c, fo, out, n < in_sec ? n : in_sec) ||
					    (n > in_sec && !pc_copy(c, fo + in_sec, out + in_sec,
								    n - in_sec))
				  : dump_pread(b->fd, out, n, fo, NULL) < 0)
			memcpy(out, c->map + fo, n);
		out += n;
		pa += n;
		len -= n;
	}
	return 0;
}

static void core_free(void *p)
{
	struct core *c = p;
	if (c->map)
		munmap(c->map, c->size);
	free(c->pc_data);
	free(c->segs);
	dump_base_fini(&c->base);
	free(c);
}

const struct target_ops core_target_ops = {
	.name = "core dump",
	.free = core_free,
	.cpu_count = dump_op_cpu_count,
	.regs_read = dump_op_regs_read,
	.read_virt = dump_op_read_virt,
	.read_phys = core_read_phys,
	.vmcoreinfo = dump_op_vmcoreinfo,
};

int core_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret)
{
	struct core *c = dump_base_new(sizeof(*c), ctx, path, core_read_phys);
	struct dump_base *b;
	Elf *elf = NULL;
	struct stat st;
	size_t phnum;
	int r = 0;

	if (!c)
		return -ENOMEM;
	b = &c->base;
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		r = -errno;
		kvmdci_err(ctx, "cannot open dump %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		kvmdci_err(ctx, "cannot open dump %s: %s, not a dump file (give the dump file itself: "
				"core:///path/to/vmcore)",
			   path, S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		goto out;
	}
	c->size = (size_t)st.st_size;
	if (c->size < 64) {
		r = dump_fail(b, -EINVAL, "not an ELF core file (%zu bytes)", c->size);
		goto out;
	}
	c->map = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, b->fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		r = dump_fail(b, -errno, "cannot map the file: %s", strerror(errno));
		goto out;
	}
	if (!memcmp(c->map, "KDUMP   ", 8) || !memcmp(c->map, "makedumpfile", 12)) {
		r = -EPROTOTYPE; /* kdump.c reads it */
		goto out;
	}
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)c->map, c->size);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		r = dump_fail(b, -EINVAL, "not an ELF file (%s)", elf_errmsg(-1));
		goto out;
	}
	if (eh.e_type != ET_CORE) {
		r = dump_fail(b, -EINVAL, "%s",
			      "an ELF file but not a core dump (e_type is not ET_CORE)");
		goto out;
	}
	if (elf_getphdrnum(elf, &phnum) < 0 || phnum == 0 || phnum > MAX_SEGS) {
		r = dump_fail(b, -EINVAL, "bad program headers (%s)", elf_errmsg(-1));
		goto out;
	}
	c->segs = calloc(phnum, sizeof(*c->segs));
	if (!c->segs) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			r = dump_fail(b, -EINVAL, "unreadable program header (%s)", elf_errmsg(-1));
			goto out;
		}
		if (ph.p_type == PT_LOAD && ph.p_filesz) {
			if (ph.p_offset > c->size)
				kvmdci_warn(ctx, "%s is truncated: a PT_LOAD at file offset 0x%llx "
						 "starts past its end",
					    path, (unsigned long long)ph.p_offset);
			if (ph.p_paddr + ph.p_filesz < ph.p_paddr) { /* wraps around: a lie */
				kvmdci_warn(ctx, "%s: a PT_LOAD at 0x%llx of 0x%llx bytes wraps around; "
						 "ignored", path, (unsigned long long)ph.p_paddr,
					    (unsigned long long)ph.p_filesz);
				continue;
			}
			c->segs[c->nsegs++] = (struct seg){ ph.p_paddr, ph.p_filesz, ph.p_offset };
			continue;
		}
		if (ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > c->size || ph.p_filesz > c->size - ph.p_offset) {
			r = dump_fail(
				b, -EINVAL, "%s",
				"the PT_NOTE segment lies past the end of the file (truncated?)");
			goto out;
		}
		Elf_Data *data =
			elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		size_t off = 0, noff, doff;
		GElf_Nhdr nh;
		while (data && (off = gelf_getnote(data, off, &nh, &noff, &doff)) > 0)
			dump_note(&b->notes, (char *)data->d_buf + noff, nh.n_namesz, nh.n_type,
				  (uint8_t *)data->d_buf + doff, nh.n_descsz);
	}
	dump_base_take_cpus(b);
	if (c->nsegs == 0) {
		r = dump_fail(b, -EINVAL, "%s", "no memory (PT_LOAD) in the dump");
		goto out;
	}
	if (b->ncpus == 0) {
		r = dump_fail(b, -EINVAL, "%s",
			      "no CPU registers (QEMU or NT_PRSTATUS notes) in the dump");
		goto out;
	}
	qsort(c->segs, (size_t)c->nsegs, sizeof(*c->segs), seg_cmp);
	kvmdci_info(ctx, "dump %s: %d memory segments, %d CPUs%s%s", path, c->nsegs, b->ncpus,
		    eh.e_machine == EM_386 ? " (ELF header says EM_386: CPU 0 was not in long "
					     "mode)"
					   : "",
		    b->notes.vmcoreinfo ? ", VMCOREINFO" : "");
out:
	if (elf)
		elf_end(elf);
	if (r < 0) {
		core_free(c);
		return r;
	}
	*ret = c;
	return 0;
}
