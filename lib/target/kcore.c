// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kcore backend (kcore: = /proc/kcore, or kcore:///path of a copy): the memory of the
 * kernel running this tool, as an ELF core whose PT_LOAD segments map kernel virtual
 * addresses (p_vaddr) and, for the direct map and the kernel text, physical ones (p_paddr;
 * -1 otherwise; fs/proc/kcore.c). Read-only: no CPU registers, no run control. The file is
 * read with pread (it cannot be mapped and its size is meaningless); VMCOREINFO comes from
 * its note. Reading it needs CAP_SYS_RAWIO (root).
 */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "target/dump.h"
#include "target/target-internal.h"

#define MAX_SEGS 4096
#define MAX_NOTES_SIZE (16u << 20)

struct kseg {
	uint64_t vaddr, paddr, size, offset;
};

struct kcore {
	struct dump_base base; /* first: the shared dump operations take a struct kcore */
	struct kseg *segs;
	int nsegs;
};

static int kc_pread(struct kcore *k, void *buf, size_t len, uint64_t off, uint64_t what,
		    const char *space)
{
	size_t done;
	int r = dump_pread(k->base.fd, buf, len, off, &done);

	if (r == 0)
		return 0;
	kvmdci_set_error(k->base.ctx, "%s: cannot read %s 0x%llx (file offset 0x%llx): %s",
			 k->base.path, space, (unsigned long long)(what + done),
			 (unsigned long long)(off + done),
			 r == -ENODATA ? "past the end of the file" : strerror(-r));
	return r == -ENODATA || r == -EIO ? -EFAULT : r;
}

/* Read @len bytes at @addr of the virtual (@phys false) or physical address space. */
static int kc_read(struct kcore *k, bool phys, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		const struct kseg *s = NULL;
		for (int i = 0; i < k->nsegs && !s; i++) {
			uint64_t base = phys ? k->segs[i].paddr : k->segs[i].vaddr;
			if ((!phys || base != UINT64_MAX) && addr >= base &&
			    addr - base < k->segs[i].size)
				s = &k->segs[i];
		}
		if (!s) {
			kvmdci_set_error(k->base.ctx, "%s: %s address 0x%llx is not in kcore",
					 k->base.path, phys ? "physical" : "virtual",
					 (unsigned long long)addr);
			return -EFAULT;
		}
		uint64_t off = addr - (phys ? s->paddr : s->vaddr), n = s->size - off;
		if (n > len)
			n = len;
		int r = kc_pread(k, out, n, s->offset + off, addr, phys ? "physical" : "virtual");
		if (r < 0)
			return r;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

static int kc_cpu_count(void *p)
{
	return 1; /* one view of kernel memory; no CPU state */
}

static int kc_regs_read(void *p, int cpu, const char *const *names, uint64_t *vals, int n)
{
	struct kcore *k = p;

	kvmdci_set_error(k->base.ctx,
			 "%s: kcore is the live kernel's memory: it holds no CPU "
			 "registers (%s)",
			 k->base.path, n > 0 ? names[0] : "");
	return -ENOENT;
}

static int kc_read_virt(void *p, int cpu, uint64_t addr, void *buf, size_t len)
{
	return kc_read(p, false, addr, buf, len);
}

static int kc_read_phys(void *p, uint64_t addr, void *buf, size_t len)
{
	return kc_read(p, true, addr, buf, len);
}

static void kc_free(void *p)
{
	struct kcore *k = p;

	free(k->segs);
	dump_base_fini(&k->base);
	free(k);
}

const struct target_ops kcore_target_ops = {
	.name = "kcore (live kernel memory, read-only)",
	.free = kc_free,
	.cpu_count = kc_cpu_count,
	.regs_read = kc_regs_read,
	.read_virt = kc_read_virt,
	.read_phys = kc_read_phys,
	.vmcoreinfo = dump_op_vmcoreinfo,
};

int kcore_target_open(struct kvmdci_ctx *ctx, const char *path, void **ret)
{
	struct kcore *k = dump_base_new(sizeof(*k), ctx, path, kc_read_phys);
	struct dump_base *b;
	Elf64_Ehdr eh;
	int r;

	if (!k)
		return -ENOMEM;
	b = &k->base;
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0) {
		int e = errno;
		r = dump_fail(b, -e, "cannot open: %s%s", strerror(e),
			      e == EACCES || e == EPERM ? " (kcore needs root: CAP_SYS_RAWIO)"
			      : e == ENOENT && !strcmp(path, "/proc/kcore")
				      ? " (a kernel without CONFIG_PROC_KCORE, or a container that "
					"hides it)"
				      : "");
		goto fail;
	}
	if (pread(b->fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh)) {
		r = dump_fail(b, errno == EPERM || errno == EACCES ? -errno : -EINVAL,
			      "cannot read the ELF header: %s",
			      errno ? strerror(errno) : "file too short");
		goto fail;
	}
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_type != ET_CORE || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > MAX_SEGS) {
		r = dump_fail(b, -EINVAL, "%s",
			      "not a 64-bit ELF core with program headers (not a "
			      "kcore?)");
		goto fail;
	}
	k->segs = calloc(eh.e_phnum, sizeof(*k->segs));
	if (!k->segs) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off = eh.e_phoff + (uint64_t)i * sizeof(ph);
		if (pread(b->fd, &ph, sizeof(ph), (off_t)off) != (ssize_t)sizeof(ph)) {
			r = dump_fail(b, -EINVAL,
				      "truncated: program header %d at file offset 0x%llx", i,
				      (unsigned long long)off);
			goto fail;
		}
		if (ph.p_type == PT_LOAD && ph.p_filesz) {
			k->segs[k->nsegs++] = (struct kseg){ ph.p_vaddr, ph.p_paddr, ph.p_filesz,
							     ph.p_offset };
		} else if (ph.p_type == PT_NOTE && ph.p_filesz && ph.p_filesz <= MAX_NOTES_SIZE) {
			uint8_t *buf = malloc(ph.p_filesz);
			size_t bad = 0;
			if (!buf) {
				r = -ENOMEM;
				goto fail;
			}
			if (pread(b->fd, buf, ph.p_filesz, (off_t)ph.p_offset) !=
				    (ssize_t)ph.p_filesz ||
			    dump_notes_parse(&b->notes, buf, ph.p_filesz, &bad) < 0) {
				free(buf);
				r = dump_fail(b, -EINVAL,
					      "unreadable or corrupt notes at file offset "
					      "0x%llx",
					      (unsigned long long)(ph.p_offset + bad));
				goto fail;
			}
			free(buf);
		}
	}
	if (!k->nsegs) {
		r = dump_fail(b, -EINVAL, "%s", "no memory (PT_LOAD) segments");
		goto fail;
	}
	kvmdci_info(ctx, "kcore %s: %d memory segments%s; read-only, no registers", path, k->nsegs,
		    b->notes.vmcoreinfo ? ", VMCOREINFO" : "");
	*ret = k;
	return 0;
fail:
	kc_free(k);
	return r;
}
