// SPDX-License-Identifier: LGPL-2.1-or-later
/* The base of the memory-dump backends: their file, notes, errors and shared operations. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "target/dump.h"

void *dump_base_new(size_t size, struct kvmdci_ctx *ctx, const char *path, phys_read_fn read_phys)
{
	struct dump_base *b = calloc(1, size);

	if (!b)
		return NULL;
	b->ctx = kvmdci_ctx_ref(ctx);
	b->fd = -1;
	b->read_phys = read_phys;
	b->path = strdup(path);
	if (!b->path) {
		dump_base_fini(b);
		free(b);
		return NULL;
	}
	return b;
}

void dump_base_fini(struct dump_base *b)
{
	if (b->fd >= 0)
		close(b->fd);
	dump_notes_free(&b->notes);
	free(b->vmcoreinfo);
	free(b->path);
	kvmdci_ctx_unref(b->ctx);
}

int dump_fail(struct dump_base *b, int err, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kvmdci_err(b->ctx, "%s: %s", b->path, msg);
	return err;
}

int dump_pread(int fd, void *buf, size_t len, uint64_t off, size_t *done)
{
	uint8_t *p = buf;
	size_t got = 0;
	int r = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ENODATA;
			break;
		}
		got += (size_t)n;
	}
	if (done)
		*done = got;
	return r;
}

void dump_base_take_cpus(struct dump_base *b)
{
	b->cpus = dump_cpus(&b->notes, &b->ncpus);
}

int dump_op_cpu_count(void *p)
{
	return ((struct dump_base *)p)->ncpus;
}

int dump_op_regs_read(void *p, int cpu, const char *const *names, uint64_t *vals, int n)
{
	struct dump_base *b = p;

	if (cpu < 0 || cpu >= b->ncpus)
		return -EINVAL;
	return dump_regs_read(b->ctx, b->path, &b->cpus[cpu], cpu, names, vals, n);
}

int dump_op_read_virt(void *p, int cpu, uint64_t addr, void *buf, size_t len)
{
	struct dump_base *b = p;

	if (cpu < 0 || cpu >= b->ncpus)
		return -EINVAL;
	return dump_read_virt(b->ctx, b->path, &b->cpus[cpu], cpu, b->read_phys, p, addr, buf,
			      len);
}

const char *dump_op_vmcoreinfo(void *p)
{
	struct dump_base *b = p;

	return b->notes.vmcoreinfo ? b->notes.vmcoreinfo : b->vmcoreinfo;
}
