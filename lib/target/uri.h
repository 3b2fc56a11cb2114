/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target URIs: gdb://HOST:PORT, gdb+unix:///path and core:///path. */
#pragma once

enum target_uri_kind { URI_GDB_TCP, URI_GDB_UNIX, URI_CORE };

struct target_uri {
	enum target_uri_kind kind;
	char host[256];
	char port[16];
	char path[512];
};

/* Parse @uri; on error returns -EINVAL and writes a one-line reason into @err. */
int target_uri_parse(const char *uri, struct target_uri *out, char *err, size_t errsz);
