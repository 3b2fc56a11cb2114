// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A module file's .modinfo: the "key=value" strings, NUL-separated, that modpost writes into
 * every .ko (scripts/mod/modpost.c: name= since Linux 5.3, vermagic= always). They say which
 * module a file is and for which kernel release it was built.
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernel/ktypes.h"

int module_file_modinfo(const char *path, const char *key, char *out, size_t outsz)
{
	size_t keylen = strlen(key), shstrndx;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r = -EINVAL;
	Elf_Scn *scn = NULL;
	struct stat st;
	GElf_Ehdr eh;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0 || fstat(fd, &st) < 0)
		goto out;
	/* the section headers come last in a .ko: a truncated file has lost them */
	if (eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > (uint64_t)st.st_size)
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *sname;
		if (!gelf_getshdr(scn, &sh) || !(sname = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (strcmp(sname, ".modinfo"))
			continue;
		r = -ENOENT;
		/* a separate debug file (the -dbg package's) keeps the header only */
		if (sh.sh_type == SHT_NOBITS)
			break;
		/* a truncated file: the section lies past its end and cannot be read */
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf) {
			r = -EINVAL;
			goto out;
		}
		const char *p = d->d_buf, *end = p + d->d_size;
		while (p < end) {
			size_t n = strnlen(p, (size_t)(end - p));
			if (n > keylen && !strncmp(p, key, keylen) && p[keylen] == '=') {
				snprintf(out, outsz, "%.*s", (int)(n - keylen - 1), p + keylen + 1);
				r = 0;
				goto out;
			}
			p += n + 1;
		}
		break;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

int module_file_build_id(const char *path, uint8_t *id, size_t idsz, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r = -ENOENT;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		r = -EINVAL;
		goto out;
	}
	/* the GNU build-id note (NT_GNU_BUILD_ID, owner "GNU") that the linker puts in every
	 * .ko; a -dbg package's separate debug file keeps the same note */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)d->d_buf + noff, "GNU", 4) != 0)
				continue;
			if (nh.n_descsz == 0 || nh.n_descsz > idsz) {
				r = -EINVAL;
				goto out;
			}
			memcpy(id, (const char *)d->d_buf + doff, nh.n_descsz);
			*len = nh.n_descsz;
			r = 0;
			goto out;
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}
