// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Breakpoints and watchpoints over the GDB remote protocol (Z/z packets), with the list of
 * those inserted so that every one can be taken out again.
 */
#include "target/rsp-internal.h"

int rsp_bp_find(struct rsp *t, int kind, uint64_t addr, unsigned int len)
{
	for (int i = 0; i < t->nbps; i++)
		if (t->bps[i].kind == kind && t->bps[i].addr == addr && t->bps[i].len == len)
			return i;
	return -1;
}

int rsp_bp_packet(struct rsp *t, char op, int kind, uint64_t addr, unsigned int len)
{
	int r = rsp_command(t, "%c%d,%llx,%x", op, kind, (unsigned long long)addr, len);

	if (r < 0)
		return r;
	if (r == 0) {
		kvmdci_set_error(t->ctx, "%s: the stub does not support Z%d", t->uri, kind);
		return -EOPNOTSUPP;
	}
	if (strcmp(t->dec.buf, "OK") != 0) {
		kvmdci_set_error(t->ctx, "%s: %c%d at 0x%llx failed: %s", t->uri, op, kind,
				 (unsigned long long)addr, t->dec.buf);
		return -EIO;
	}
	return 0;
}

int rsp_bp_insert(struct rsp *t, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len)
{
	int r;

	if (rsp_bp_find(t, (int)kind, addr, len) >= 0)
		return 0;
	if (t->nbps >= MAX_BPS)
		return -ENOSPC;
	if ((r = rsp_bp_packet(t, 'Z', (int)kind, addr, len)) < 0)
		return r;
	t->bps[t->nbps++] = (struct bp){ (int)kind, addr, len };
	return 0;
}

int rsp_bp_remove(struct rsp *t, enum kvmdci_bp_kind kind, uint64_t addr, unsigned int len)
{
	int i = rsp_bp_find(t, (int)kind, addr, len), r;

	if (i < 0)
		return -ENOENT;
	r = rsp_bp_packet(t, 'z', (int)kind, addr, len);
	if (r < 0 && r != -EIO)
		return r;
	t->bps[i] = t->bps[--t->nbps];
	return r;
}

int rsp_bp_remove_all(struct rsp *t)
{
	int first_err = 0;

	while (t->nbps > 0) {
		struct bp b = t->bps[t->nbps - 1];
		int r = rsp_bp_remove(t, (enum kvmdci_bp_kind)b.kind, b.addr, b.len);
		if (r < 0 && !first_err)
			first_err = r;
		if (r < 0 && (t->broken || !t->connected))
			break;
	}
	return first_err;
}

int rsp_bp_count(struct rsp *t)
{
	return t->nbps;
}
