// SPDX-License-Identifier: LGPL-2.1-or-later
/* Target URI parsing (see DESIGN.md "Target URIs"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

static int fail(char *err, size_t errsz, const char *uri, const char *why)
{
	snprintf(err, errsz, "invalid target URI '%s': %s (expected gdb://HOST:PORT, "
			     "gdb+unix:///path/to/socket or core:///path/to/dump)", uri, why);
	return -EINVAL;
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
	if (!strncmp(uri, "serial:", 7) || !strncmp(uri, "usb:", 4) ||
	    !strncmp(uri, "kcore:", 6))
		return fail(err, errsz, uri, "this transport is not implemented yet");
	return fail(err, errsz, uri, "unknown scheme");
}
