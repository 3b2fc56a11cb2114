// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The stub's target description (qXfer:features:read target.xml and what it includes): the
 * registers by name, with their numbers and sizes.
 */
#include <stdlib.h>

#include "target/rsp-internal.h"

static int xfer_read(struct rsp *t, const char *annex, char **out, size_t *outlen)
{
	size_t len = 0, cap = 0, chunk = t->packet_size > 64 ? t->packet_size - 32 : 1000;
	char *buf = NULL;

	for (int rounds = 0; rounds < 4096; rounds++) {
		int r = rsp_command(t, "qXfer:features:read:%s:%zx,%zx", annex, len, chunk);
		if (r <= 0 || (t->dec.buf[0] != 'm' && t->dec.buf[0] != 'l')) {
			free(buf);
			return r < 0 ? r : -ENOENT;
		}
		size_t n = (size_t)r - 1;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + len, t->dec.buf + 1, n);
		len += n;
		buf[len] = '\0';
		if (t->dec.buf[0] == 'l')
			break;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static const char *xml_attr(const char *tag, const char *tag_end, const char *name, char *val,
			    size_t valsz)
{
	size_t nl = strlen(name);
	for (const char *p = tag; p && p + nl + 2 < tag_end; p++) {
		if (!strncmp(p, name, nl) && p[nl] == '=' && (p[nl + 1] == '"' || p[nl + 1] == '\'') &&
		    (p == tag || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n')) {
			char q = p[nl + 1];
			const char *s = p + nl + 2, *e = memchr(s, q, (size_t)(tag_end - s));
			if (!e || (size_t)(e - s) >= valsz)
				return NULL;
			memcpy(val, s, (size_t)(e - s));
			val[e - s] = '\0';
			return val;
		}
	}
	return NULL;
}

/* Collect <reg> elements in document order, following <xi:include>. */
static int parse_tdesc(struct rsp *t, const char *annex, int depth, int *next_regnum)
{
	char *xml;
	size_t len;
	int r;

	if (depth > 4)
		return -ELOOP;
	if ((r = xfer_read(t, annex, &xml, &len)) < 0)
		return r;
	for (const char *p = xml; (p = strchr(p, '<'));) {
		const char *end = strchr(p, '>');
		char val[256];
		if (!end)
			break;
		/* QEMU's i386-64bit.xml comments out <reg>s (cs_base ... es_base): skip comments */
		if (!strncmp(p, "<!--", 4)) {
			const char *c = strstr(p + 4, "-->");
			if (!c)
				break;
			p = c + 3;
			continue;
		}
		if (!strncmp(p, "<xi:include", 11) && xml_attr(p, end, "href", val, sizeof(val))) {
			r = parse_tdesc(t, val, depth + 1, next_regnum);
			if (r < 0 && r != -ENOENT) {
				free(xml);
				return r;
			}
		} else if (!strncmp(p, "<reg ", 5) && t->nregs < MAX_REGS) {
			struct reg_desc *rd = &t->regs[t->nregs];
			char num[32];
			if (!xml_attr(p, end, "name", rd->name, sizeof(rd->name)) ||
			    !xml_attr(p, end, "bitsize", num, sizeof(num))) {
				p = end;
				continue;
			}
			rd->bits = atoi(num);
			if (xml_attr(p, end, "regnum", num, sizeof(num)))
				*next_regnum = atoi(num);
			rd->regnum = (*next_regnum)++;
			t->nregs++;
		}
		p = end;
	}
	free(xml);
	return 0;
}

int rsp_load_registers(struct rsp *t)
{
	int next = 0, r;

	t->regs = calloc(MAX_REGS, sizeof(*t->regs));
	if (!t->regs)
		return -ENOMEM;
	if (!t->xml) {
		kvmdci_err(t->ctx, "%s: the stub offers no target description (qXfer:features)",
			   t->uri);
		return -EOPNOTSUPP;
	}
	r = parse_tdesc(t, "target.xml", 0, &next);
	if (r < 0) {
		kvmdci_err(t->ctx, "%s: cannot read the target description: %s", t->uri,
			   strerror(-r));
		return r;
	}
	/* 'g' packet offsets follow regnum order */
	int off = 0;
	for (int n = 0; n < next; n++)
		for (int i = 0; i < t->nregs; i++)
			if (t->regs[i].regnum == n) {
				t->regs[i].g_offset = off;
				off += t->regs[i].bits / 8;
			}
	kvmdci_dbg(t->ctx, "%d registers in the target description", t->nregs);
	return t->nregs ? 0 : -ENOENT;
}

struct reg_desc *rsp_find_reg(struct rsp *t, const char *name)
{
	for (int i = 0; i < t->nregs; i++)
		if (!strcmp(t->regs[i].name, name))
			return &t->regs[i];
	return NULL;
}
