// SPDX-License-Identifier: LGPL-2.1-or-later
/* Libraries loaded on first use (target/dlib.h). */
#include <dlfcn.h>
#include <stdio.h>

#include "target/dlib.h"

bool dlib_open(struct dlib *l)
{
	if (l->tried)
		return l->handle != NULL;
	l->tried = true;
	if (!(l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL)))
		snprintf(l->err, sizeof(l->err), "%s", dlerror());
	return l->handle != NULL;
}

void *dlib_sym(struct dlib *l, const char *name)
{
	void *p = l->handle ? dlsym(l->handle, name) : NULL;

	if (!p)
		snprintf(l->err, sizeof(l->err), "%s has no function %s", l->soname, name);
	return p;
}
