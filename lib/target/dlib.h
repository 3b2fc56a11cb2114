/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Libraries that only some targets need (libkdumpfile for kdump-compressed dumps, libusb for
 * usb:// targets), loaded with dlopen() when the first such target is opened instead of being
 * linked: linked, they and the libraries they link cost every tool's start their dynamic
 * loading (bench/README.md, P5). Each user lists its functions once in an X-macro,
 * FOO_FUNCS(X) X(foo_open) X(foo_read), declares `static struct dlib foo_dl = { .soname =
 * ... }` and `static struct { FOO_FUNCS(DLIB_PTR) } foo;`, fills the table in a function
 * returning bool with FOO_FUNCS(SYM) where SYM(f) is DLIB_SYM(&foo_dl, foo, f), sets foo_dl.ok
 * from it after dlib_open(), and calls foo.foo_open(...) (lib/target/kdump.c, usb.c).
 */
#pragma once

#include <stdbool.h>

struct dlib {
	const char *soname;
	bool tried, ok;
	void *handle;
	char err[256]; /* why it could not be loaded */
};

/* A member of the function table: a pointer of @f's own type. */
#define DLIB_PTR(f) __typeof__(f) *f;
/* Resolve @f into @table.f; on failure leave the function that uses it with @l not ok. */
#define DLIB_SYM(l, table, f)                                                                 \
	if (!(*(void **)&(table).f = dlib_sym((l), #f)))                                       \
		return false;

/* Load @l once (never unloaded): true when it is open; false with @l->err (dlerror()'s
 * words) otherwise, also at every later call. */
bool dlib_open(struct dlib *l);
/* Function @name of the open @l, or NULL with @l->err set. */
void *dlib_sym(struct dlib *l, const char *name);
