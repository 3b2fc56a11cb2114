/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kvmdci-exits --interval (one line or JSON line per interval) and --live (a terminal view
 * refreshed in place, like kvm_stat and top). */
#pragma once

#include <stdbool.h>

#include "shared.h"

struct live_view;

struct live_opts {
	double interval;      /* seconds between two records or frames */
	bool live;            /* the terminal view; else one record per interval on stdout */
	bool json;            /* records as JSON lines */
	enum kvmdci_vendor vendor;
	const char *target;   /* the URI, for the header */
	const char *trigger;  /* "watch" or "break" */
	const char *filter;   /* "" or what --vm/--vcpu chose, for the header */
};

/*
 * Begin: for --live, the terminal in its alternate screen, keys read without echo. The
 * terminal is restored by live_end(), and at exit whatever happens before it.
 * Returns 0 or -errno (no terminal).
 */
int live_begin(struct live_view **ret, struct tool *tool, const struct live_opts *o);

/* The next record or frame, from the counts of @e as they are now; @now is tool_now_s(). */
void live_tick(struct live_view *lv, struct kvmdci_exits *e, double now);

/* --live: act on the keys typed since the last call (s sorts, r resets the counts to zero,
 * q quits); 1 when the user asked to quit. */
int live_keys(struct live_view *lv, struct kvmdci_exits *e, double now);

/* End: the terminal as it was (the caller then prints its report on the normal screen). */
void live_end(struct live_view *lv);
