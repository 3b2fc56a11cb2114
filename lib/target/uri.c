// SPDX-License-Identifier: LGPL-2.1-or-later
/* Target URI parsing (see docs/design.md, "Target URIs"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "uri.h"

static int fail(char *err, size_t errsz, const char *uri, const char *why)
{
	snprintf(err, errsz, "invalid target URI '%s': %s (expected gdb://HOST:PORT, "
			     "gdb+unix:///path/to/socket, serial:///dev/ttyX[?baud=N], "
			     "usb://VID:PID[?serial=S&if=N], usb://class=dc/02/01, "
			     "core:///path/to/dump or kcore:)", uri, why);
	return -EINVAL;
}

/* Parse an unsigned number in @base that must fill [s, e) and be <= max. */
static int number(const char *s, const char *e, int base, unsigned long max, unsigned int *val)
{
	char buf[32], *end;
	unsigned long v;

	if (e <= s || (size_t)(e - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	if (buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*val = (unsigned int)v;
	return 0;
}

/*
 * Walk "k=v&k=v" after '?': calls @opt for each pair; returns its error. A missing '=' or an
 * empty key is an error.
 */
static int each_option(const char *q, const char *uri, struct target_uri *out, char *err,
		       size_t errsz,
		       int (*opt)(const char *k, size_t kl, const char *v, size_t vl,
				  const char *uri, struct target_uri *out, char *err, size_t errsz))
{
	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		if (!eq || eq == q)
			return fail(err, errsz, uri, "options are KEY=VALUE separated by '&'");
		int r = opt(q, (size_t)(eq - q), eq + 1, (size_t)(end - eq - 1), uri, out, err,
			    errsz);
		if (r < 0)
			return r;
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

static int serial_option(const char *k, size_t kl, const char *v, size_t vl, const char *uri,
			 struct target_uri *out, char *err, size_t errsz)
{
	if (kl == 4 && !memcmp(k, "baud", 4)) {
		if (number(v, v + vl, 10, 4000000, &out->baud) < 0 || out->baud == 0)
			return fail(err, errsz, uri, "baud must be a number 1-4000000");
		return 0;
	}
	return fail(err, errsz, uri, "unknown serial option (known: baud=N)");
}

static int parse_serial(const char *uri, struct target_uri *out, char *err, size_t errsz)
{
	const char *path = uri + 9, *q = strchr(path, '?');
	size_t len = q ? (size_t)(q - path) : strlen(path);

	if (path[0] != '/')
		return fail(err, errsz, uri, "the tty path must be absolute "
					     "(three slashes: serial:///dev/ttyUSB0)");
	if (len < 2)
		return fail(err, errsz, uri, "missing tty path");
	if (len >= sizeof(out->path))
		return fail(err, errsz, uri, "path too long");
	memcpy(out->path, path, len);
	out->path[len] = '\0';
	out->kind = URI_SERIAL;
	return each_option(q ? q + 1 : NULL, uri, out, err, errsz, serial_option);
}

static int usb_option(const char *k, size_t kl, const char *v, size_t vl, const char *uri,
		      struct target_uri *out, char *err, size_t errsz)
{
	unsigned int n;

	if (kl == 6 && !memcmp(k, "serial", 6)) {
		if (vl == 0 || vl >= sizeof(out->serial))
			return fail(err, errsz, uri, "serial must be 1-127 characters");
		memcpy(out->serial, v, vl);
		out->serial[vl] = '\0';
		return 0;
	}
	if (kl == 2 && !memcmp(k, "if", 2)) {
		if (number(v, v + vl, 10, 255, &n) < 0)
			return fail(err, errsz, uri, "if must be an interface number 0-255");
		out->interface = (int)n;
		return 0;
	}
	return fail(err, errsz, uri, "unknown usb option (known: serial=S, if=N)");
}

/* usb://VID:PID (hex) or usb://class=CC/SS/PP (hex), then ?serial=S&if=N */
static int parse_usb(const char *uri, struct target_uri *out, char *err, size_t errsz)
{
	const char *s = uri + 6, *q = strchr(s, '?'), *e = q ? q : s + strlen(s);

	out->kind = URI_USB;
	out->interface = -1;
	if (!strncmp(s, "class=", 6)) {
		const char *a = s + 6, *b = memchr(a, '/', (size_t)(e - a)), *c;
		c = b ? memchr(b + 1, '/', (size_t)(e - b - 1)) : NULL;
		if (!b || !c || number(a, b, 16, 0xff, &out->cls) < 0 ||
		    number(b + 1, c, 16, 0xff, &out->subclass) < 0 ||
		    number(c + 1, e, 16, 0xff, &out->protocol) < 0)
			return fail(err, errsz, uri, "class must be three hex bytes: "
						     "class=dc/02/01");
		out->usb_by_class = 1;
	} else {
		const char *colon = memchr(s, ':', (size_t)(e - s));
		if (!colon || colon - s != 4 || e - colon - 1 != 4 ||
		    number(s, colon, 16, 0xffff, &out->vid) < 0 ||
		    number(colon + 1, e, 16, 0xffff, &out->pid) < 0)
			return fail(err, errsz, uri, "expected VID:PID as four hex digits each "
						     "(usb://1d6b:0010)");
	}
	return each_option(q ? q + 1 : NULL, uri, out, err, errsz, usb_option);
}

int target_uri_parse(const char *uri, struct target_uri *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	if (!uri || !*uri)
		return fail(err, errsz, "", "empty");
	for (const char *p = uri; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			return fail(err, errsz, "(unprintable)", "control character in URI");
	if (!strncmp(uri, "gdb+unix://", 11)) {
		const char *path = uri + 11;
		if (path[0] != '/')
			return fail(err, errsz, uri, "the socket path must be absolute "
						     "(three slashes: gdb+unix:///path)");
		if (strlen(path) >= sizeof(out->path) || strlen(path) >= 108)
			return fail(err, errsz, uri, "socket path too long");
		out->kind = URI_GDB_UNIX;
		strcpy(out->path, path);
		return 0;
	}
	if (!strncmp(uri, "gdb://", 6)) {
		const char *hp = uri + 6, *colon;
		char *end;
		long port;
		if (hp[0] == '[') { /* [v6addr]:port */
			const char *rb = strchr(hp, ']');
			if (!rb || rb[1] != ':')
				return fail(err, errsz, uri, "bad IPv6 address");
			if ((size_t)(rb - hp - 1) >= sizeof(out->host))
				return fail(err, errsz, uri, "host too long");
			memcpy(out->host, hp + 1, (size_t)(rb - hp - 1));
			colon = rb + 1;
		} else {
			colon = strrchr(hp, ':');
			if (!colon)
				return fail(err, errsz, uri, "missing :PORT");
			if (colon == hp)
				return fail(err, errsz, uri, "missing host");
			if ((size_t)(colon - hp) >= sizeof(out->host))
				return fail(err, errsz, uri, "host too long");
			memcpy(out->host, hp, (size_t)(colon - hp));
			if (strchr(out->host, '/'))
				return fail(err, errsz, uri, "unexpected '/' in host");
		}
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port <= 0 || port > 65535)
			return fail(err, errsz, uri, "port must be a number 1-65535");
		out->kind = URI_GDB_TCP;
		snprintf(out->port, sizeof(out->port), "%ld", port);
		return 0;
	}
	if (!strncmp(uri, "core://", 7)) {
		const char *path = uri + 7;
		if (path[0] != '/')
			return fail(err, errsz, uri, "the dump path must be absolute "
						     "(three slashes: core:///path)");
		if (strlen(path) >= sizeof(out->path))
			return fail(err, errsz, uri, "path too long");
		out->kind = URI_CORE;
		strcpy(out->path, path);
		return 0;
	}
	if (!strncmp(uri, "serial://", 9))
		return parse_serial(uri, out, err, errsz);
	if (!strncmp(uri, "usb://", 6))
		return parse_usb(uri, out, err, errsz);
	if (!strcmp(uri, "kcore:") || !strncmp(uri, "kcore://", 8)) {
		const char *path = uri[6] ? uri + 8 : "/proc/kcore";
		if (path[0] != '/')
			return fail(err, errsz, uri, "the kcore path must be absolute "
						     "(kcore: or kcore:///path)");
		if (strlen(path) >= sizeof(out->path))
			return fail(err, errsz, uri, "path too long");
		out->kind = URI_KCORE;
		strcpy(out->path, path);
		return 0;
	}
	/* a bare path to a dump file, as drgn -c and crash take it (a "scheme:" before the first
	 * '/' is a malformed URI, not a path: gdb:/x) */
	const char *slash = strchr(uri, '/'), *colon = strchr(uri, ':');
	if (slash && (!colon || colon > slash)) {
		struct stat st;
		if (stat(uri, &st) < 0)
			return fail(err, errsz, uri, "no such file (a dump is a file path or "
						     "core:///path)");
		if (!S_ISREG(st.st_mode))
			return fail(err, errsz, uri, "not a regular file (a dump is a file path or "
						     "core:///path)");
		if (strlen(uri) >= sizeof(out->path))
			return fail(err, errsz, uri, "path too long");
		out->kind = URI_CORE;
		strcpy(out->path, uri);
		return 0;
	}
	return fail(err, errsz, uri, "unknown scheme");
}
