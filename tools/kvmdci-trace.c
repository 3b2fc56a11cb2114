// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-trace: breakpoints from the catalog, one line per hit with its captures. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared.h"
#include "stack-format.h"

static struct tool tool = { .name = "kvmdci-trace" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-trace -t URI --bp NAME[,NAME...] [--when EXPR] [--count N]\n"
		"                    [--duration S] [--stack] [--folded FILE] [--hold] [--json]\n"
		"       kvmdci-trace -t URI --continue\n"
		"\n"
		"Sets a breakpoint on each named catalog entry (kvmdci-catalog list) and prints one\n"
		"line per hit with the entry's captures, evaluated against the target's types. Each\n"
		"hit is stepped over exactly once. Stops at --count, --duration or Ctrl-C; removes\n"
		"its breakpoints and lets the host run on every way out, unless --hold (below).\n"
		"Tools that only read (kvmdci-vcpu, kvmdci-stack, ...) leave a held host stopped.\n"
		"\n"
		"  -b, --bp NAMES        catalog entries to trace (comma separated, repeatable)\n"
		"  -w, --when EXPR       report only hits where EXPR is non-zero, e.g.\n"
		"                        --when '$arg1 == 1 && $arg2 == 0x700' (capture syntax:\n"
		"                        $arg0..$arg5, $rdi, casts, ->, ., [], container_of, + - ==...)\n"
		"  -c, --count N         stop after N reported hits\n"
		"  -d, --duration S      stop after S seconds\n"
		"  -s, --stack           add the hit CPU's kernel call stack and current task\n"
		"  -F, --folded FILE     at the end, write the hits' stacks to FILE as folded\n"
		"                        stacks (root;...;leaf COUNT, one line per distinct\n"
		"                        stack) for a flame graph tool; implies --stack\n"
		"  -H, --hold            at the last hit (--count, default 1) keep the host\n"
		"                        stopped: breakpoints out, that CPU at the breakpoint,\n"
		"                        the stub free for the next tool (kvmdci-vcpu,\n"
		"                        kvmdci-stack ... read it and leave it stopped)\n"
		"      --continue        let a held host run again, and exit (no --bp)\n"
		"\n" TOOL_COMMON_HELP "\n"
		"With --json: one JSON object per hit (JSON lines), then a summary object.\n"
		"Examples:\n"
		"  kvmdci-trace --bp kvm_io_bus_write --when '$arg1 == 1' --count 20\n"
		"  kvmdci-trace --bp kvm_arch_vcpu_create,kvm_destroy_vm --json\n"
		"  kvmdci-trace --bp vmx_handle_exit --hold; kvmdci-stack\n"
		"  kvmdci-trace --bp kvm_io_bus_write --count 500 --folded /tmp/io.folded >/dev/null\n"
		"  kvmdci-trace --continue\n"
		"\n"
		"A library client keeps a host stopped with kvmdci_target_set_detach_mode();\n"
		"any tool does with KVMDCI_ON_DETACH=stay, and KVMDCI_ON_DETACH=resume lets a\n"
		"held host run.\n");
}

struct state {
	unsigned long long max, reported;
	bool hold;          /* --hold */
	bool held;          /* the last hit is held */
	struct kvmdci_hit held_hit; /* entry, cpu, addr of the held hit */
	struct kvmdci_unwinder *unwinder; /* --stack */
	struct kvmdci_stack *stack;
	struct stack_folds *folds; /* --folded */
	int folds_err;             /* the first error adding to them */
};

/* --stack: the stopped CPU's call stack and current task (the target is still stopped). */
static void hit_stack(struct state *s, int cpu, json_t *o)
{
	struct kvmdci_cpu_info ci;

	int r = kvmdci_unwind_cpu(s->unwinder, cpu, &ci, s->stack);
	if (s->folds && !s->folds_err)
		s->folds_err = stack_folds_add(s->folds, r < 0 ? NULL : s->stack);
	if (r < 0) {
		if (o)
			json_object_set_new(o, "stack", json_null());
		else
			printf("    stack: %s\n", kvmdci_ctx_last_error(tool.ctx));
		return;
	}
	if (o) {
		json_object_set_new(o, "task", ci.task ? json_pack("{s:i, s:i, s:s}", "pid", ci.pid,
								     "tgid", ci.tgid, "comm", ci.comm)
						       : json_null());
		json_object_set_new(o, "stack", stack_json(s->stack));
		return;
	}
	printf("    pid %d %s: ", ci.pid, ci.task ? ci.comm : "?");
	stack_print_line(stdout, s->stack, 0);
	putchar('\n');
}

/* A capture in JSON: integers as numbers; an address (a pointer, or an unsigned value too large
 * for a JSON integer, such as a kernel pointer in a bare register) as a "0x..." string, as
 * addresses are everywhere else in our JSON. */
static json_t *capture_json(const struct kvmdci_hit *h, int i)
{
	int kind = h->value_kind ? h->value_kind[i] : KVMDCI_VALUE_UNSIGNED;

	if (kind == KVMDCI_VALUE_SIGNED)
		return json_integer((json_int_t)h->values[i]);
	if (kind == KVMDCI_VALUE_POINTER || h->values[i] > (uint64_t)INT64_MAX)
		return tool_json_addr(h->values[i]);
	return json_integer((json_int_t)h->values[i]);
}

static int on_hit(struct kvmdci_trace *tr, const struct kvmdci_hit *h, void *data)
{
	struct state *s = data;

	if (tool.json) {
		json_t *caps = json_object();
		for (int i = 0; i < h->ncaptures; i++)
			json_object_set_new(caps, h->capture_names[i],
					    h->value_ok[i] ? capture_json(h, i) : json_null());
		json_t *o = json_pack("{s:s, s:I, s:s, s:i, s:o, s:o}", "type", "hit", "seq",
				      (json_int_t)h->seq, "entry",
				      kvmdci_trace_entry_name(tr, h->entry), "cpu", h->cpu,
				      "address", tool_json_addr(h->addr), "captures", caps);
		if (s->unwinder)
			hit_stack(s, h->cpu, o);
		tool_json_print(&tool, o);
		json_decref(o);
	} else {
		printf("%6llu cpu%d %s", (unsigned long long)h->seq, h->cpu,
		       kvmdci_trace_entry_name(tr, h->entry));
		for (int i = 0; i < h->ncaptures; i++) {
			if (h->value_ok[i])
				printf(" %s=0x%llx", h->capture_names[i],
				       (unsigned long long)h->values[i]);
			else
				printf(" %s=?", h->capture_names[i]);
		}
		putchar('\n');
		if (s->unwinder)
			hit_stack(s, h->cpu, NULL);
	}
	/* a reader that went away (| head): stop tracing, clean up, exit */
	if (tool_flush_stdout() < 0) {
		tool_stop_requested = 1;
		return -1;
	}
	s->reported++;
	if (s->max && s->reported >= s->max && s->hold) {
		s->held = true;
		s->held_hit =
			(struct kvmdci_hit){ .entry = h->entry, .cpu = h->cpu, .addr = h->addr };
		return KVMDCI_HIT_HOLD;
	}
	return s->max && s->reported >= s->max ? -1 : 0;
}

/* The options: the catalog entries (names, at most 64), --when, --count, --duration, --stack.
 * Returns 0, or the exit status of a usage error (2). */
struct options {
	char *names[64];
	int nnames;
	const char *when;
	double duration;
	bool want_stack;
	const char *folded; /* --folded FILE */
	bool cont; /* --continue */
};

static int parse_options(int argc, char **argv, struct options *o, struct state *st)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{ "bp", required_argument, NULL, 'b' },
		{ "when", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stack", no_argument, NULL, 's' },
		{ "folded", required_argument, NULL, 'F' },
		{ "hold", no_argument, NULL, 'H' },
		{ "continue", no_argument, NULL, 'C' },
		{ 0 },
	};
	int opt;

	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "b:w:c:d:sF:H", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'b':
			for (char *save = NULL, *s = strtok_r(optarg, ",", &save); s;
			     s = strtok_r(NULL, ",", &save)) {
				if (o->nnames == (int)(sizeof(o->names) / sizeof(o->names[0]))) {
					fprintf(stderr, "kvmdci-trace: too many --bp entries\n");
					return 2;
				}
				o->names[o->nnames++] = s;
			}
			break;
		case 'w':
			o->when = optarg;
			break;
		case 'c':
			st->max = tool_opt_uint(&tool, "--count", optarg, 10, 1, ULLONG_MAX,
						"a positive integer");
			break;
		case 's':
			o->want_stack = true;
			break;
		case 'F':
			o->folded = optarg;
			o->want_stack = true;
			break;
		case 'H':
			st->hold = true;
			break;
		case 'C':
			o->cont = true;
			break;
		case 'd':
			o->duration = tool_opt_double(&tool, "--duration", optarg, TOOL_MIN_SECONDS,
						      TOOL_MAX_SECONDS, TOOL_SECONDS_WHAT);
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	if (o->cont) {
		if (o->nnames || o->when || st->max || o->duration > 0 || o->want_stack ||
		    st->hold) {
			fprintf(stderr, "kvmdci-trace: --continue takes no other option but the "
					"target's (it only lets a held host run)\n");
			return 2;
		}
		if (optind < argc) {
			fprintf(stderr, "kvmdci-trace: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		return 0;
	}
	if (st->hold && !st->max)
		st->max = 1;
	if (!o->nnames) {
		fprintf(stderr, "kvmdci-trace: give at least one --bp NAME (kvmdci-catalog list)\n");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "kvmdci-trace: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* --continue: attach and detach letting the host run, held or not. */
static int do_continue(void)
{
	struct kvmdci_target *t = NULL;
	int r, held;

	if ((r = kvmdci_target_open(tool.ctx, tool.target, &t)) < 0 ||
	    (r = kvmdci_target_set_detach_mode(t, KVMDCI_DETACH_RESUME)) < 0) {
		kvmdci_target_unref(t);
		return tool_fail(&tool, r, NULL);
	}
	held = kvmdci_target_was_held(t);
	r = kvmdci_target_detach(t);
	kvmdci_target_unref(t);
	if (r < 0)
		return tool_fail(&tool, r, "could not let the target run");
	if (tool.json) {
		json_t *o = json_pack("{s:s, s:b, s:b}", "target", tool.target, "continued", 1,
				      "was_held", held == 1);
		tool_json_print(&tool, o);
		json_decref(o);
	} else {
		fprintf(stderr, "kvmdci-trace: %s runs%s\n", tool.target,
			held == 1 ? " again (it was held)" : " (it was not held)");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int r, status = 0;
	struct state st = { 0 };
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_catalog *cat = NULL;
	struct kvmdci_trace *tr = NULL;
	FILE *folded = NULL;
	char **names = o.names;
	const char *when;
	double duration;
	bool want_stack;
	int nnames;

	if ((r = parse_options(argc, argv, &o, &st)))
		return r;
	nnames = o.nnames;
	when = o.when;
	duration = o.duration;
	want_stack = o.want_stack;
	tool_setup(&tool);
	if (o.cont) {
		status = do_continue();
		kvmdci_ctx_unref(tool.ctx);
		return status;
	}
	tool_install_signals();
	/* --folded: the file now (a path that cannot be written fails before the target is
	 * touched), its lines at the end */
	if (o.folded) {
		if (!(folded = fopen(o.folded, "we"))) {
			fprintf(stderr, "kvmdci-trace: cannot write --folded %s: %s\n", o.folded,
				strerror(errno));
			kvmdci_ctx_unref(tool.ctx);
			return 1;
		}
		if (!(st.folds = stack_folds_new())) {
			fclose(folded);
			return tool_fail(&tool, -ENOMEM, NULL);
		}
	}
	if ((r = kvmdci_catalog_load(tool.ctx, tool.catalog, &cat)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	for (int i = 0; i < nnames; i++)
		if (kvmdci_catalog_find(cat, names[i]) < 0) {
			fprintf(stderr, "kvmdci-trace: no catalog entry %s (kvmdci-catalog list)\n",
				names[i]);
			status = 2;
			goto out;
		}
	if ((r = kvmdci_target_open(tool.ctx, tool.target, &t)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if ((status = tool_need_run_control(&tool, t, "tracing breakpoints")) != 0)
		goto out;
	if ((r = kvmdci_kernel_open(t, &tool.files, &k)) < 0 ||
	    (r = kvmdci_trace_new(k, cat, &tr)) < 0 ||
	    (want_stack && (r = kvmdci_unwinder_new(k, &st.unwinder)) < 0) ||
	    (want_stack && !(st.stack = malloc(sizeof(*st.stack))) && (r = -ENOMEM))) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	for (int i = 0; i < nnames; i++)
		if ((r = kvmdci_trace_add(tr, names[i], when)) < 0) {
			status = tool_fail(&tool, r, NULL);
			goto out;
		}
	if ((r = kvmdci_trace_start(tr)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	tool_progress(&tool, "tracing %d entr%s (Ctrl-C to stop)", nnames, nnames == 1 ? "y" : "ies");
	double t0 = tool_now_s();
	tool_in_loop = 1;
	while (!tool_stop_requested && (!st.max || st.reported < st.max)) {
		int slice = tool_poll_slice(t0, duration, 200);
		if (!slice)
			break;
		r = kvmdci_trace_poll(tr, slice, on_hit, &st);
		if (r < 0) {
			status = tool_fail(&tool, r, "lost the target");
			break;
		}
	}
	/* --hold: the target is stopped at the hit; the detach below leaves it so */
	if (st.held && (r = kvmdci_target_set_detach_mode(t, KVMDCI_DETACH_STAY)) < 0 && !status)
		status = tool_fail(&tool, r, "cannot keep the target stopped");
	tool_in_loop = 0;
	r = kvmdci_trace_stop(tr);
	if (r < 0 && !status)
		status = tool_fail(&tool, r, "could not restore the target");
	json_t *sum = json_pack("{s:s, s:s, s:f, s:I, s:I, s:o}", "type", "summary", "target",
				tool.target, "duration_s", tool_now_s() - t0, "reported",
				(json_int_t)st.reported, "target_reads",
				(json_int_t)kvmdci_trace_reads(tr), "entries", json_array());
	for (int i = 0; i < nnames; i++) {
		uint64_t hits = 0, filtered = 0;
		kvmdci_trace_entry_stats(tr, i, &hits, &filtered);
		json_array_append_new(json_object_get(sum, "entries"),
				      json_pack("{s:s, s:I, s:I}", "name", kvmdci_trace_entry_name(tr, i),
						"hits", (json_int_t)hits, "filtered",
						(json_int_t)filtered));
		if (!tool.json)
			fprintf(stderr, "kvmdci-trace: %s: %llu hits reported, %llu filtered out\n",
				kvmdci_trace_entry_name(tr, i), (unsigned long long)hits,
				(unsigned long long)filtered);
	}
	const char *held_name = st.held ? kvmdci_trace_entry_name(tr, st.held_hit.entry) : NULL;
	json_object_set_new(sum, "held",
			    st.held ? json_pack("{s:s, s:i, s:o}", "entry", held_name, "cpu",
						st.held_hit.cpu, "address",
						tool_json_addr(st.held_hit.addr))
				    : json_null());
	if (st.held && !status)
		fprintf(stderr,
			"kvmdci-trace: the host is held at %s (0x%llx) on CPU %d: stopped, no "
			"breakpoint left; look with any tool, resume with "
			"'kvmdci-trace --continue'\n",
			held_name, (unsigned long long)st.held_hit.addr, st.held_hit.cpu);
	if (tool.json && !status)
		tool_json_print(&tool, sum);
	json_decref(sum);
	if (folded) {
		int w = st.folds_err ? st.folds_err : stack_folds_write(st.folds, folded);
		if (fclose(folded) != 0 && !w)
			w = -(errno ? errno : EIO);
		folded = NULL;
		if (w < 0) {
			fprintf(stderr, "kvmdci-trace: --folded %s: %s\n", o.folded, strerror(-w));
			status = status ? status : 1;
		} else if (!tool.json) {
			fprintf(stderr, "kvmdci-trace: %llu stacks folded into %s\n",
				(unsigned long long)stack_folds_total(st.folds), o.folded);
		}
	}
out:
	if (folded)
		fclose(folded);
	stack_folds_free(st.folds);
	free(st.stack);
	kvmdci_unwinder_unref(st.unwinder);
	kvmdci_trace_unref(tr);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
