/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run control of a live target, in one place: continue it, wait for its stops against a
 * deadline, hand each stop to the caller (the exit counter, the tracer), continue it again
 * (stepping a breakpoint's CPU past it), and at the end stop it and hand over that last stop.
 * A lost connection or an exited target ends every loop with -EPIPE; breakpoints and
 * watchpoints are taken out by kvmdci_target_detach() (and by the last unref) on every way out.
 */
#pragma once

#include <stdbool.h>

#include "libkvmdci/libkvmdci.h"

/* What a stop callback tells the loop (flags, or'ed together). */
enum target_stop_action {
	TARGET_STOP_HIT = 1 << 0,    /* one of the caller's: counted in target_run()'s return */
	TARGET_STOP_STEP = 1 << 1,   /* continue by stepping the stopped CPU past stop->addr */
	TARGET_STOP_HOLD = 1 << 3,   /* return now, the target left stopped */
};

/*
 * Called with the target stopped. @final: the stop that ends a run (target_run_halt()); the
 * target stays stopped whatever the callback answers. Returns TARGET_STOP_* flags, or < 0 to
 * end the loop with that error (the target left stopped).
 */
typedef int (*target_stop_fn)(void *data, struct kvmdci_stop *stop, bool final);

/*
 * Continue the target (when stopped) and hand each stop to @fn for up to @timeout_ms; a signal
 * (the tools' SIGINT/SIGTERM) ends the wait early. Returns the number of hits, or < 0 (-EPIPE:
 * the connection is lost or the target exited). The target is left running unless @fn asked
 * for TARGET_STOP_HOLD or an error ended the loop.
 */
int target_run(struct kvmdci_target *t, int timeout_ms, target_stop_fn fn, void *data);

/*
 * Stop a running target and hand the stop to @fn as the final one (it may be a hit that raced
 * with the interrupt). Returns @fn's flags (0 when the target was not running), or < 0
 * (-ETIMEDOUT: it did not stop within 3 s, logged). The target is left stopped.
 */
int target_run_halt(struct kvmdci_target *t, target_stop_fn fn, void *data);

/*
 * Put the trigger in or take it out of a running target (sampling): stop it (the stop handed
 * to @fn as a final one), then call @arm when @armed, else take every breakpoint and
 * watchpoint out, and continue it. A CPU stopped on a breakpoint just taken out runs its
 * instruction: no step is needed. On an error the target is left stopped.
 */
int target_run_rearm(struct kvmdci_target *t, target_stop_fn fn, void *data, bool armed,
		     int (*arm)(void *data));

/*
 * End a run, leaving nothing of ours on the target: stop it (the stop handed to @fn as the
 * final one), call @settle (may be NULL; it may run the target on, and leaves it stopped)
 * and then @halted (may be NULL) with the result while the target is stopped, then take
 * every breakpoint and watchpoint out and detach, also when the stop failed (the detach tries
 * once more). Returns the stop's (or the settling's) error, else the detach's.
 */
int target_run_end(struct kvmdci_target *t, target_stop_fn fn, void *data,
		   int (*settle)(void *hdata),
		   void (*halted)(void *hdata, int r), void *hdata);
