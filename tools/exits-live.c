// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci-exits --interval and --live. Each tick takes the run's counts as they are (the
 * library's aggregate, kvmdci_exits_stats()) and sets them against the previous tick's: the
 * deltas and rates of the interval. --live draws them on the terminal's alternate screen,
 * sorted as the user chooses; --interval alone writes one text line or one JSON line per
 * interval for scripts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "exits-live.h"

enum sort_key { SORT_TOTAL, SORT_DELTA, SORT_NAME, SORT_CODE, SORT_KEYS };
static const char *const sort_names[SORT_KEYS] = { "total", "delta", "name", "code" };

/* One reason of a frame: counts since the start (or the reset) and over the last interval. */
struct row {
	uint64_t code;
	uint64_t total, delta;
	const char *name;
};

struct live_view {
	struct tool *tool;
	struct live_opts o;
	struct kvmdci_exit_stats *prev; /* at the last tick: the next tick's deltas */
	struct kvmdci_exit_stats *before; /* at the tick before: the shown frame's deltas */
	double dt_last; /* the shown frame's interval */
	struct kvmdci_exit_stats *base; /* at the start or the last reset: the totals */
	double t_start, t_prev, t_base;
	enum sort_key sort;
	bool term_raw;
	char name_buf[32];
	struct row *rows;
	size_t nrows_max;
};

static struct termios saved_tio;
static bool tio_saved, screen_alt;

/* Back to the normal screen and the saved terminal modes (idempotent; also at exit). */
static void restore_terminal(void)
{
	if (screen_alt) {
		/* cursor shown, normal screen; a closed terminal just fails the write */
		static const char seq[] = "\033[?25h\033[?1049l";
		if (write(STDOUT_FILENO, seq, sizeof(seq) - 1) < 0) {
			/* nothing to do: there is no terminal left to restore */
		}
		screen_alt = false;
	}
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_saved = false;
	}
}

static const char *reason_label(const struct live_view *lv, uint64_t code)
{
	const char *n = kvmdci_exit_reason_name(lv->o.vendor, code);
	if (n)
		return n;
	return code == KVMDCI_EXIT_CODE_UNREADABLE ? "(unreadable)" : "unknown";
}

/* The count of @code in group @g of @scope of @s (0 when @s is NULL or has none). */
static uint64_t count_of(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope, int g,
			 uint64_t code)
{
	struct kvmdci_exit_reason_count rc;

	for (int i = 0; s && g >= 0 && kvmdci_exit_stats_reason(s, scope, g, i, &rc) == 0; i++)
		if (rc.code == code)
			return rc.count;
	return 0;
}

/* The vCPU group of @vcpu in @s, or -1. */
static int vcpu_group(const struct kvmdci_exit_stats *s, uint64_t vcpu)
{
	struct kvmdci_exit_group g;

	for (int i = 0; s && kvmdci_exit_stats_group(s, KVMDCI_EXIT_SCOPE_VCPU, i, &g) == 0; i++)
		if (g.vcpu == vcpu)
			return i;
	return -1;
}

static uint64_t group_total(const struct kvmdci_exit_stats *s, enum kvmdci_exit_scope scope,
			    int g)
{
	struct kvmdci_exit_group grp;

	if (!s || g < 0 || kvmdci_exit_stats_group(s, scope, g, &grp) < 0)
		return 0;
	return grp.total;
}

static enum sort_key sort_by;

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	switch (sort_by) {
	case SORT_DELTA:
		if (x->delta != y->delta)
			return x->delta < y->delta ? 1 : -1;
		break;
	case SORT_NAME: {
		int c = strcmp(x->name, y->name);
		if (c)
			return c;
		break;
	}
	case SORT_CODE:
		break;
	default:
		if (x->total != y->total)
			return x->total < y->total ? 1 : -1;
	}
	return x->code < y->code ? -1 : x->code > y->code;
}

/* The reasons of @cur (all vCPUs) with their totals since the base and deltas since the last
 * tick, sorted; reasons with no exit since the base are left out. Returns how many. */
static size_t collect_rows(struct live_view *lv, const struct kvmdci_exit_stats *cur,
			   const struct kvmdci_exit_stats *older)
{
	struct kvmdci_exit_reason_count rc;
	size_t n = 0;

	for (int i = 0; kvmdci_exit_stats_reason(cur, KVMDCI_EXIT_SCOPE_ALL, 0, i, &rc) == 0; i++) {
		uint64_t total = rc.count - count_of(lv->base, KVMDCI_EXIT_SCOPE_ALL, 0, rc.code);
		if (!total)
			continue;
		if (n == lv->nrows_max) {
			size_t m = lv->nrows_max ? 2 * lv->nrows_max : 32;
			struct row *r = realloc(lv->rows, m * sizeof(*r));
			if (!r)
				break;
			lv->rows = r;
			lv->nrows_max = m;
		}
		lv->rows[n++] = (struct row){
			.code = rc.code,
			.total = total,
			.delta = rc.count - count_of(older, KVMDCI_EXIT_SCOPE_ALL, 0, rc.code),
			.name = reason_label(lv, rc.code),
		};
	}
	sort_by = lv->sort;
	if (n)
		qsort(lv->rows, n, sizeof(*lv->rows), cmp_rows);
	return n;
}

int live_begin(struct live_view **ret, struct tool *tool, const struct live_opts *o)
{
	struct live_view *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return -ENOMEM;
	lv->tool = tool;
	lv->o = *o;
	lv->t_start = lv->t_prev = lv->t_base = tool_now_s();
	if (o->live) {
		if (!isatty(STDOUT_FILENO)) {
			free(lv);
			return -ENOTTY;
		}
		atexit(restore_terminal);
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
			struct termios raw = saved_tio;
			/* keys one at a time, not echoed; Ctrl-C still a SIGINT */
			raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
			raw.c_cc[VMIN] = 0;
			raw.c_cc[VTIME] = 0;
			tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
			lv->term_raw = tio_saved;
		}
		fputs("\033[?1049h\033[?25l", stdout);
		screen_alt = true;
		fflush(stdout);
	}
	*ret = lv;
	return 0;
}

static void take(struct kvmdci_exit_stats **slot, struct kvmdci_exit_stats *s)
{
	kvmdci_exit_stats_unref(*slot);
	*slot = kvmdci_exit_stats_ref(s);
}

/* --interval, text: one line, the interval's busiest reasons first. */
static void log_text(struct live_view *lv, size_t n, uint64_t total, uint64_t delta, double dt,
		     double now)
{
	int shown = 0;

	sort_by = SORT_DELTA;
	if (n)
		qsort(lv->rows, n, sizeof(*lv->rows), cmp_rows);
	printf("%8.1f s  total %llu  +%llu (%.1f/s)", now - lv->t_start,
	       (unsigned long long)total, (unsigned long long)delta, dt > 0 ? delta / dt : 0.0);
	for (size_t i = 0; i < n && lv->rows[i].delta; i++) {
		if (shown == 6) {
			printf(", ...");
			break;
		}
		printf("%s %s +%llu", shown ? "," : "  |", lv->rows[i].name,
		       (unsigned long long)lv->rows[i].delta);
		shown++;
	}
	printf("\n");
	tool_flush_stdout();
}

/* --interval --json: one object per interval (a JSON line unless --pretty). */
static void log_json(struct live_view *lv, const struct kvmdci_exit_stats *cur,
		     const struct kvmdci_exit_stats *older, size_t n, uint64_t total,
		     uint64_t delta, double dt, double now)
{
	json_t *reasons = json_array(), *vcpus = json_array();
	struct kvmdci_exit_group g;

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &lv->rows[i];
		json_array_append_new(reasons, json_pack(
			"{s:I, s:o, s:s, s:I, s:I, s:f}", "code", (json_int_t)r->code, "code_hex",
			tool_json_addr(r->code), "name", r->name, "count", (json_int_t)r->total,
			"delta", (json_int_t)r->delta, "rate", dt > 0 ? r->delta / dt : 0.0));
	}
	for (int i = 0; kvmdci_exit_stats_group(cur, KVMDCI_EXIT_SCOPE_VCPU, i, &g) == 0; i++) {
		uint64_t prev = group_total(older, KVMDCI_EXIT_SCOPE_VCPU,
					    vcpu_group(older, g.vcpu));
		json_array_append_new(vcpus, json_pack(
			"{s:o, s:i, s:o, s:i, s:I, s:I}", "vm", tool_json_addr(g.vm), "vm_pid",
			g.vm_pid, "vcpu", tool_json_addr(g.vcpu), "vcpu_id", g.vcpu_id, "total",
			(json_int_t)g.total, "delta", (json_int_t)(g.total - prev)));
	}
	json_t *doc = json_pack("{s:s, s:f, s:f, s:I, s:I, s:f, s:o, s:o}", "type", "interval",
				"elapsed_s", now - lv->t_start, "interval_s", dt, "total",
				(json_int_t)total, "delta", (json_int_t)delta, "rate",
				dt > 0 ? delta / dt : 0.0, "reasons", reasons, "vcpus", vcpus);
	tool_json_print(lv->tool, doc);
	json_decref(doc);
	tool_flush_stdout();
}

/* --live: one frame, the terminal's size permitting. */
static void draw(struct live_view *lv, const struct kvmdci_exit_stats *cur,
		 const struct kvmdci_exit_stats *older, size_t n, uint64_t total, uint64_t delta,
		 double dt, double now)
{
	struct winsize ws = { 0 };
	struct kvmdci_exit_group g;
	int rows = 24, line = 0, nvcpus = kvmdci_exit_stats_group_count(cur, KVMDCI_EXIT_SCOPE_VCPU);
	time_t wall = time(NULL);
	char clock[16];

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		rows = ws.ws_row;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&wall));
	/* home, then every line cleared to its end, then the rest of the screen */
#define LINE(...)                                                                                  \
	do {                                                                                       \
		if (line < rows - 1) {                                                             \
			printf(__VA_ARGS__);                                                       \
			fputs("\033[K\n", stdout);                                                 \
		}                                                                                  \
		line++;                                                                            \
	} while (0)
	fputs("\033[H", stdout);
	LINE("kvmdci-exits  %s  %s, trigger %s%s%s  %s", lv->o.target,
	     lv->o.vendor == KVMDCI_VENDOR_VMX ? "vmx" : "svm", lv->o.trigger,
	     *lv->o.filter ? "  " : "", lv->o.filter, clock);
	LINE("%llu exits in %.1f s%s: %.1f/s now (last %.1f s), %.1f/s on average",
	     (unsigned long long)total, now - lv->t_base, lv->t_base > lv->t_start ?
	     " since the reset" : "", dt > 0 ? delta / dt : 0.0, dt,
	     now > lv->t_base ? total / (now - lv->t_base) : 0.0);
	LINE("%s", "");
	LINE(" %-24s %10s %12s %7s %10s %10s", "reason", "code", "total", "share", "delta",
	     "rate/s");
	/* the vCPU table gets what is left, at most a third of the screen */
	int vcpu_lines = nvcpus > 0 ? 2 + (nvcpus < rows / 3 ? nvcpus : rows / 3) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &lv->rows[i];
		if (line >= rows - 3 - vcpu_lines && i + 1 < n) {
			LINE(" ... %zu more reasons (a taller terminal shows them)", n - i);
			break;
		}
		char code[24];
		snprintf(code, sizeof(code), "0x%llx", (unsigned long long)r->code);
		LINE(" %-24s %10s %12llu %6.1f%% %10llu %10.1f", r->name, code,
		     (unsigned long long)r->total, total ? 100.0 * r->total / total : 0.0,
		     (unsigned long long)r->delta, dt > 0 ? r->delta / dt : 0.0);
	}
	if (vcpu_lines) {
		LINE("%s", "");
		LINE(" %-6s %-20s %8s %12s %10s", "vCPU", "VM", "pid", "total", "rate/s");
		for (int i = 0; kvmdci_exit_stats_group(cur, KVMDCI_EXIT_SCOPE_VCPU, i, &g) == 0;
		     i++) {
			if (line >= rows - 2 && i + 1 < nvcpus) {
				LINE(" ... %d more vCPUs", nvcpus - i);
				break;
			}
			uint64_t t = g.total - group_total(lv->base, KVMDCI_EXIT_SCOPE_VCPU,
							   vcpu_group(lv->base, g.vcpu));
			uint64_t d = g.total - group_total(older, KVMDCI_EXIT_SCOPE_VCPU,
							   vcpu_group(older, g.vcpu));
			LINE(" %-6d 0x%-18llx %8d %12llu %10.1f", g.vcpu_id,
			     (unsigned long long)g.vm, g.vm_pid, (unsigned long long)t,
			     dt > 0 ? d / dt : 0.0);
		}
	}
	LINE("%s", "");
	LINE("sorted by %s   s: sort   r: reset to zero   q: quit (then the report)",
	     sort_names[lv->sort]);
#undef LINE
	fputs("\033[J", stdout);
	tool_flush_stdout();
}

/* One frame or record of @cur against @older (the counts @dt seconds before). */
static void show(struct live_view *lv, const struct kvmdci_exit_stats *cur,
		 const struct kvmdci_exit_stats *older, double dt, double now)
{
	size_t n = collect_rows(lv, cur, older);
	uint64_t all = group_total(cur, KVMDCI_EXIT_SCOPE_ALL, 0);
	uint64_t total = all - group_total(lv->base, KVMDCI_EXIT_SCOPE_ALL, 0);
	uint64_t delta = all - group_total(older, KVMDCI_EXIT_SCOPE_ALL, 0);

	if (lv->o.live)
		draw(lv, cur, older, n, total, delta, dt, now);
	else if (lv->o.json)
		log_json(lv, cur, older, n, total, delta, dt, now);
	else
		log_text(lv, n, total, delta, dt, now);
}

void live_tick(struct live_view *lv, struct kvmdci_exits *e, double now)
{
	struct kvmdci_exit_stats *cur = NULL;

	if (kvmdci_exits_stats(e, &cur) < 0)
		return;
	lv->dt_last = now - lv->t_prev;
	show(lv, cur, lv->prev, lv->dt_last, now);
	take(&lv->before, lv->prev);
	take(&lv->prev, cur);
	lv->t_prev = now;
	kvmdci_exit_stats_unref(cur);
}

int live_keys(struct live_view *lv, struct kvmdci_exits *e, double now)
{
	char c;
	bool redraw = false;

	if (!lv->term_raw)
		return 0;
	while (read(STDIN_FILENO, &c, 1) == 1) {
		switch (c) {
		case 'q':
		case 'Q':
			return 1;
		case 's':
			lv->sort = (lv->sort + 1) % SORT_KEYS;
			redraw = true;
			break;
		case 'r': {
			struct kvmdci_exit_stats *cur = NULL;
			if (kvmdci_exits_stats(e, &cur) == 0) {
				take(&lv->base, cur);
				take(&lv->prev, cur);
				take(&lv->before, cur);
				kvmdci_exit_stats_unref(cur);
				lv->t_base = lv->t_prev = now;
				lv->dt_last = 0;
				redraw = true;
			}
			break;
		}
		default:
			break;
		}
	}
	/* the frame shown, again (re-sorted or reset): no new interval */
	if (redraw && lv->prev)
		show(lv, lv->prev, lv->before, lv->dt_last, lv->t_prev);
	return 0;
}

void live_end(struct live_view *lv)
{
	if (!lv)
		return;
	if (lv->o.live)
		restore_terminal();
	kvmdci_exit_stats_unref(lv->prev);
	kvmdci_exit_stats_unref(lv->before);
	kvmdci_exit_stats_unref(lv->base);
	free(lv->rows);
	free(lv);
}
