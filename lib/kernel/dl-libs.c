// SPDX-License-Identifier: LGPL-2.1-or-later
/* libbpf and libdw loaded on first use (kernel/dl-libs.h). */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "kernel/dl-libs.h"

struct dlib kdl_bpf = { .soname = KVMDCI_LIBBPF_SONAME };
struct dlib kdl_dw = { .soname = KVMDCI_LIBDW_SONAME };

/* libbpf prints its own warnings on stderr; errors reach the user through our messages. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

void *kdl_sym(struct dlib *l, const char *name)
{
	bool first = !l->tried;
	void *p = dlib_open(l) ? dlib_sym(l, name) : NULL;

	if (!p) {
		/* the library is a dependency of the package: a broken installation */
		fprintf(stderr, "libkvmdci: cannot load %s: %s (install it again)\n", l->soname,
			l->err);
		abort();
	}
	if (first && l == &kdl_bpf) {
		libbpf_print_fn_t (*set_print)(libbpf_print_fn_t) = dlib_sym(l, "libbpf_set_print");
		if (set_print)
			set_print(libbpf_quiet);
	}
	return p;
}
