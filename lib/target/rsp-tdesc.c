// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The stub's target description (qXfer:features:read target.xml and what it includes): the
 * registers by name, with their numbers and sizes.
 */
#include <errno.h>
#include <stdlib.h>

#include "target/rsp-internal.h"

/*
 * One object of the target description, chunk by chunk. The stub decides how long it is: the
 * total is bounded (TDESC_MAX_BYTES, for every file together) and a chunk that brings nothing
 * new is an error, so an 'm' reply that never turns into 'l' ends.
 */
static int xfer_read(struct rsp *t, const char *annex, char **out, size_t *outlen)
{
	size_t len = 0, cap = 0, chunk = t->packet_size > 64 ? t->packet_size - 32 : 1000;
	char *buf = NULL;

	for (;;) {
		int r = rsp_command(t, "qXfer:features:read:%s:%zx,%zx", annex, len, chunk);
		if (r <= 0 || (t->dec.buf[0] != 'm' && t->dec.buf[0] != 'l')) {
			free(buf);
			return r < 0 ? r : -ENOENT;
		}
		size_t n = (size_t)r - 1;
		if (t->dec.buf[0] == 'm' && n == 0) {
			kvmdci_err(t->ctx, "%s: the stub sent an empty 'm' chunk of %s at offset %zu "
					   "(a target description must grow or end with 'l')",
				   t->uri, annex, len);
			free(buf);
			return -EPROTO;
		}
		if (memchr(t->dec.buf + 1, '\0', n)) {
			kvmdci_err(t->ctx, "%s: a NUL byte in %s at offset %zu of the target "
					   "description", t->uri, annex, len);
			free(buf);
			return -EPROTO;
		}
		if (t->tdesc_bytes + n > TDESC_MAX_BYTES) {
			kvmdci_err(t->ctx, "%s: the target description is larger than the limit of "
					   "%d bytes (at %s, offset %zu): a stub that never ends it?",
				   t->uri, TDESC_MAX_BYTES, annex, len);
			free(buf);
			return -E2BIG;
		}
		t->tdesc_bytes += n;
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

static int bad_reg_number(struct rsp *t, const char *reg, const char *attr, const char *val)
{
	kvmdci_err(t->ctx, "%s: register '%s' in the target description has %s=\"%s\": not a "
			   "whole number of bytes", t->uri, reg, attr, val);
	return -ERANGE;
}

/* A register's bitsize or regnum: a decimal number in [@min, @max], else a clear error. */
static int parse_reg_number(struct rsp *t, const char *reg, const char *attr, const char *val,
			    long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < min || v > max) {
		kvmdci_err(t->ctx, "%s: register '%s' in the target description has %s=\"%s\", "
				   "outside [%ld, %ld]", t->uri, reg, attr, val, min, max);
		return -ERANGE;
	}
	*out = (int)v;
	return 0;
}

/* Collect <reg> elements in document order, following <xi:include>. */
static int parse_tdesc(struct rsp *t, const char *annex, int depth, int *next_regnum)
{
	char *xml;
	size_t len;
	int r;

	if (depth > TDESC_MAX_DEPTH) {
		kvmdci_err(t->ctx, "%s: the target description nests xi:include deeper than the "
				   "limit of %d (at %s)", t->uri, TDESC_MAX_DEPTH, annex);
		return -ELOOP;
	}
	if (++t->tdesc_files > TDESC_MAX_FILES) {
		kvmdci_err(t->ctx, "%s: the target description includes more than the limit of "
				   "%d files (xi:include of %s)", t->uri, TDESC_MAX_FILES, annex);
		return -E2BIG;
	}
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
			if (r < 0 && (r != -ENOENT || t->broken)) {
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
			if ((r = parse_reg_number(t, rd->name, "bitsize", num, 8, TDESC_MAX_BITS,
						  &rd->bits)) < 0 ||
			    (rd->bits % 8 && (r = bad_reg_number(t, rd->name, "bitsize", num)) < 0)) {
				free(xml);
				return r;
			}
			if (xml_attr(p, end, "regnum", num, sizeof(num)) &&
			    (r = parse_reg_number(t, rd->name, "regnum", num, 0, TDESC_MAX_REGNUM,
						  next_regnum)) < 0) {
				free(xml);
				return r;
			}
			if (*next_regnum > TDESC_MAX_REGNUM) {
				kvmdci_err(t->ctx, "%s: register '%s' in the target description gets "
						   "regnum %d, beyond the limit of %d", t->uri, rd->name,
					   *next_regnum, TDESC_MAX_REGNUM);
				free(xml);
				return -ERANGE;
			}
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
	t->tdesc_bytes = 0;
	t->tdesc_files = 0;
	r = parse_tdesc(t, "target.xml", 0, &next);
	if (r < 0 && r != -ENOENT && r != -ENOMEM && !t->broken)
		return r; /* said what the limit or the bad value was */
	if (r < 0) {
		kvmdci_err(t->ctx, "%s: cannot read the target description: %s", t->uri,
			   strerror(-r));
		return r;
	}
	/* 'g' packet offsets follow regnum order (regnums are bounded: TDESC_MAX_REGNUM) */
	int off = 0;
	for (int done = 0, n = -1; done < t->nregs;) {
		int next_n = INT32_MAX;
		for (int i = 0; i < t->nregs; i++)
			if (t->regs[i].regnum > n && t->regs[i].regnum < next_n)
				next_n = t->regs[i].regnum;
		if (next_n == INT32_MAX)
			break;
		for (int i = 0; i < t->nregs; i++)
			if (t->regs[i].regnum == next_n) {
				t->regs[i].g_offset = off;
				off += t->regs[i].bits / 8;
				done++;
			}
		n = next_n;
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
