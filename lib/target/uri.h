/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target URIs: gdb://HOST:PORT, gdb+unix:///path, serial:///dev/ttyX[?baud=N],
 * usb://VID:PID[?serial=S&if=N], usb://class=CC/SS/PP[?...], core:///path, kcore:[//path]. */
#pragma once

#include <stddef.h>

enum target_uri_kind { URI_GDB_TCP, URI_GDB_UNIX, URI_CORE, URI_SERIAL, URI_USB, URI_KCORE };

struct target_uri {
	enum target_uri_kind kind;
	char host[256];
	char port[16];
	char path[512];
	/* serial: the line speed (0: leave the tty's speed as it is) */
	unsigned int baud;
	/* usb: the device by id or by interface class; optional serial number and interface */
	int usb_by_class;
	unsigned int vid, pid;
	unsigned int cls, subclass, protocol;
	char serial[128];
	int interface; /* -1: the first interface that matches (class DC/02 by default) */
};

/* Parse @uri; on error returns -EINVAL and writes a one-line reason into @err. */
int target_uri_parse(const char *uri, struct target_uri *out, char *err, size_t errsz);
