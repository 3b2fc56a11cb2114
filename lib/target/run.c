// SPDX-License-Identifier: LGPL-2.1-or-later
/* Run control of a live target: the one loop of continue, wait, hand over, continue. */
#include "internal.h"
#include "target/run.h"
#include "target/target-internal.h"

#define HALT_TIMEOUT_MS 3000

int target_halt(struct kvmdci_target *t, struct kvmdci_stop *st)
{
	uint64_t deadline = kvmdci_now_ms() + HALT_TIMEOUT_MS, now;
	int r;

	if (!kvmdci_target_is_running(t))
		return 0;
	kvmdci_target_interrupt(t);
	/* a signal (the tools' SIGINT/SIGTERM, e.g. while sampling re-arms) may end one wait
	 * early: the stop the interrupt asked for is still to come */
	do {
		now = kvmdci_now_ms();
		r = kvmdci_target_wait(t, now < deadline ? (int)(deadline - now) : 0, st);
	} while (r == 0 && kvmdci_now_ms() < deadline);
	if (r == 0) {
		kvmdci_err(kvmdci_target_get_ctx(t), "%s: the target did not stop within %d s",
			   kvmdci_target_get_uri(t), HALT_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	return r;
}

/* A stop that ends the connection: the stub said the target exited (it logged that). */
static bool stop_is_gone(const struct kvmdci_stop *st)
{
	return st->reason == KVMDCI_STOP_EXITED;
}

int target_run(struct kvmdci_target *t, int timeout_ms, target_stop_fn fn, void *data)
{
	uint64_t deadline = kvmdci_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int hits = 0, r;

	/* stopped (held by the last run, or never started): go on */
	if (!kvmdci_target_is_running(t) && (r = kvmdci_target_resume(t)) < 0)
		return r;
	for (;;) {
		struct kvmdci_stop st;
		uint64_t now = kvmdci_now_ms();
		int act;

		r = kvmdci_target_wait(t, now < deadline ? (int)(deadline - now) : 0, &st);
		if (r <= 0)
			return r < 0 ? r : hits; /* the deadline, or a signal */
		if (stop_is_gone(&st))
			return -EPIPE;
		/* hand over the target's own record of the stop: a callback that recognises a
		 * breakpoint (by rip) tells the kernel view too, which picks that CPU to read */
		struct kvmdci_stop *rec = target_stop_record(t);
		if (rec)
			st = *rec;
		if ((act = fn(data, rec ? rec : &st, false)) < 0)
			return act;
		if (rec)
			st = *rec;
		if (act & TARGET_STOP_HIT)
			hits++;
		if (act & TARGET_STOP_HOLD)
			return hits; /* left stopped: nothing races the caller's next step */
		r = act & TARGET_STOP_STEP ? kvmdci_target_step_over(t, st.cpu, st.addr)
					   : kvmdci_target_resume(t);
		if (r < 0)
			return r;
		if (kvmdci_now_ms() >= deadline)
			return hits;
	}
}

int target_run_halt(struct kvmdci_target *t, target_stop_fn fn, void *data)
{
	struct kvmdci_stop st;
	int r = target_halt(t, &st);

	if (r <= 0)
		return r;
	if (stop_is_gone(&st))
		return -EPIPE;
	struct kvmdci_stop *rec = target_stop_record(t);
	return fn(data, rec ? rec : &st, true);
}

int target_run_rearm(struct kvmdci_target *t, target_stop_fn fn, void *data, bool armed,
		     int (*arm)(void *data))
{
	int r;

	if ((r = target_run_halt(t, fn, data)) < 0)
		return r;
	r = armed ? arm(data) : kvmdci_target_bp_remove_all(t);
	if (r < 0)
		return r;
	return kvmdci_target_resume(t);
}

int target_run_end(struct kvmdci_target *t, target_stop_fn fn, void *data,
		   int (*settle)(void *hdata), void (*halted)(void *hdata, int r), void *hdata)
{
	int r = target_run_halt(t, fn, data), d;

	if (r >= 0 && settle) {
		int s = settle(hdata);
		if (s < 0)
			r = s;
	}
	if (halted)
		halted(hdata, r);
	d = kvmdci_target_detach(t);
	return r < 0 ? r : d;
}
