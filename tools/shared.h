/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the kvmdci-* tools: common options, logging, errors, JSON output. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "libkvmdci/libkvmdci.h"

struct tool {
	const char *name;
	const char *target;
	struct kvmdci_kernel_files files;
	const char *catalog;
	bool json;
	bool pretty;
	int verbose;
	bool want_version; /* -V seen: answered when the options end (so that -V -j is JSON) */
	struct kvmdci_ctx *ctx;
};

struct option;
/* getopt_long for the tools: an unknown option or a missing value (getopt said which) ends in
 * one hint line and exit 2; at the end of the options, -V prints the version and exits. */
int tool_getopt(struct tool *tool, int argc, char **argv, const char *shortopts,
		const struct option *longopts);

/* Common long options: -t -j -p -v -h -V and the kernel-file options. */
#define TOOL_COMMON_SHORTOPTS "t:jpvhV"
#define TOOL_OPT_VMLINUX 1000
#define TOOL_OPT_SYSTEM_MAP 1001
#define TOOL_OPT_MODULES 1002
#define TOOL_OPT_CATALOG 1003
#define TOOL_COMMON_LONGOPTS                                                                       \
	{ "target", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },            \
		{ "pretty", no_argument, NULL, 'p' }, { "verbose", no_argument, NULL, 'v' },       \
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },         \
		{ "vmlinux", required_argument, NULL, TOOL_OPT_VMLINUX },                          \
		{ "system-map", required_argument, NULL, TOOL_OPT_SYSTEM_MAP },                    \
		{ "modules", required_argument, NULL, TOOL_OPT_MODULES },                          \
		{ "catalog", required_argument, NULL, TOOL_OPT_CATALOG }

#define TOOL_COMMON_HELP                                                                           \
	"Target and kernel knowledge:\n"                                                           \
	"  -t, --target URI      default $KVMDCI_TARGET; one of\n"                               \
	"                          gdb://HOST:PORT, gdb+unix:///path  GDB remote-protocol stub\n"   \
	"                          serial:///dev/ttyX[?baud=N]       the same over a tty\n"         \
	"                          usb://VID:PID, usb://class=dc/02/01  USB 3 debug-class cable\n" \
	"                          core:///path                      ELF or kdump dump\n"          \
	"                          kcore:                            this machine's /proc/kcore\n" \
	"      --vmlinux FILE    vmlinux with BTF or DWARF (default $KVMDCI_VMLINUX; none: the\n"   \
	"                        target's own BTF and kallsyms are used)\n"                        \
	"      --system-map FILE System.map of that kernel (default $KVMDCI_SYSTEM_MAP)\n"         \
	"      --modules DIR     directory with kvm.ko, kvm-amd.ko, kvm-intel.ko for their types\n"  \
	"                        (default $KVMDCI_MODULES)\n"                                      \
	"      --catalog PATH    breakpoint catalog file or directory (default: installed)\n"      \
	"Output:\n"                                                                                \
	"  -j, --json            one JSON document on stdout\n"                                    \
	"  -p, --pretty          indented JSON (implies --json)\n"                                 \
	"  -v, --verbose         progress and what was found where, on stderr (twice: debug)\n"    \
	"  -h, --help            this help\n"                                                     \
	"  -V, --version         the version, the library's version and features (with -j: JSON)\n"                         \
	"With the lab: eval \"$(kvmdci-lab env)\" sets all of the defaults above.\n"

/* Parse an unsigned integer option value: digits only in @base (0: 0x... hex, else decimal; 16:
 * an optional 0x), no sign, no space, no trailing text, within [@min, @max]. Returns 0, or
 * -EINVAL (not such a number) / -ERANGE (out of range or overflowing). */
int tool_parse_uint(const char *arg, int base, unsigned long long min, unsigned long long max,
		    unsigned long long *out);
/* Parse a finite, non-negative decimal number option value within [@min, @max] (no nan, inf,
 * sign, space or trailing text). Returns 0, -EINVAL or -ERANGE. */
int tool_parse_double(const char *arg, double min, double max, double *out);
/* The same for option @opt, exiting 2 with one line naming the option, what it takes (@what,
 * e.g. "a positive integer") and the value. */
unsigned long long tool_opt_uint(struct tool *tool, const char *opt, const char *arg, int base,
				 unsigned long long min, unsigned long long max, const char *what);
double tool_opt_double(struct tool *tool, const char *opt, const char *arg, double min,
		       double max, const char *what);
/* --duration: more than a millisecond, at most a year */
#define TOOL_MIN_SECONDS 0.001
#define TOOL_MAX_SECONDS (365.0 * 86400)
#define TOOL_SECONDS_WHAT "a number of seconds from 0.001 to 31536000"
/* A usage error: the one line @fmt, then "Try 'TOOL --help' for more information."; exits 2. */
void tool_usage_error(struct tool *tool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* getopt_long's answer for an option it did not know ('?'; getopt printed which): the hint
 * line, exit 2. */
void tool_bad_option(struct tool *tool) __attribute__((noreturn));
/* --version: the tool's and the library's version and the library's built-in features; one
 * JSON object with --json. Exits 0 (1 when stdout cannot be written). */
void tool_version(struct tool *tool) __attribute__((noreturn));
/* Flush and close stdout, as every tool does at exit (registered by shared.c itself): output
 * that could not be written (a full disk, a reader that went away) makes the exit status 1,
 * never 0; "write error" is said on stderr except for a reader that went away (EPIPE), which
 * ends quietly as coreutils tools do. */
void tool_close_stdout(void);
/* fflush(stdout), keeping why it failed for the exit; returns 0 or a negative errno. */
int tool_flush_stdout(void);
/* Remember @err as why stdout failed, unless an earlier failure was (a write that failed
 * inside printf: errno says why only until the next call). */
void tool_note_stdout_errno(int err);

/* Handle a common option; returns 1 if it was one, 0 if not; exits for -h/-V. */
int tool_common_option(struct tool *tool, int opt, const char *arg, void (*usage)(FILE *));
/* Finish option parsing: default target, create the context. Exits 2 on bad usage. */
void tool_setup(struct tool *tool);
/* The library context with the tools' log function (errors are printed once, by tool_fail);
 * exits 1 when it cannot be made. tool_setup() calls it. */
void tool_ctx_new(struct tool *tool);
/* Monotonic seconds, for durations and rates. */
double tool_now_s(void);
/* How long to poll next: @slice_ms, less near the end of --duration (@duration s from @t0;
 * <= 0: none), 0 once it has passed. */
int tool_poll_slice(double t0, double duration, int slice_ms);
/* Parse --vm ADDR|PID into @sel, keeping its vcpu_id (exits 2 on a bad value). */
void tool_parse_vm(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel);
/* --vcpu N into @sel (its VM left as it is); a bad value is bad usage (exit 2). */
void tool_parse_vcpu(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel);
/* Exit 2 with one line when arguments are left after the options. */
void tool_no_more_args(struct tool *tool, int argc, char **argv, int optind_now);
/* tool_setup(), the signal handlers, then open the target and its kernel view. Returns 0, or
 * the exit status after printing the one error line; *t and *k hold what was opened. */
int tool_attach(struct tool *tool, struct kvmdci_target **t, struct kvmdci_kernel **k);
/* Print the context's last error (or @fallback) as the tool's one error line; exit code 1. */
int tool_fail(struct tool *tool, int err, const char *fallback);
/* Print @msg (not the library's last error) as the tool's one error line; exit code 1. */
int tool_fail_msg(struct tool *tool, int err, const char *msg);
/* 0 when @t can run and take breakpoints; else print one line saying that the tool needs that
 * (@why: what it does, "counting exits") and what to use instead, and return exit status 1. */
int tool_need_run_control(struct tool *tool, struct kvmdci_target *t, const char *why);
void tool_progress(struct tool *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The version of the tools' JSON vocabulary (docs/json.md, schemas/): every document an object
 * whose first member is "format": KVMDCI_JSON_FORMAT. Raised when a member is renamed or removed
 * or changes type; adding a member does not change it. */
#define KVMDCI_JSON_FORMAT 1
/* Print a JSON document to stdout (compact or pretty), "format" first (an object's). */
void tool_json_print(struct tool *tool, json_t *doc);
/*
 * A document printed while it is built, byte for byte what tool_json_print() prints for the
 * whole of it: an object whose one long array member is printed an element at a time, so that
 * a walk of many VMs holds one element's tree, not the document's (on this project's VM each
 * fresh heap page's first touch is a page fault: a 1000-VM io-bus document built whole cost a
 * fifth of its walk, bench/README.md P4). KVMDCI_JSON_LOG gets its line at the end.
 */
struct tool_json_stream {
	struct tool *tool;
	json_t *head;	 /* the members before the array, "format" first */
	const char *key; /* the array's member name */
	int n;		 /* elements printed; -1 before the head */
	FILE *log;	 /* the compact copy for KVMDCI_JSON_LOG (NULL: none) */
	char *log_text;
	size_t log_len;
	struct tool_json_text {
		char *p;
		size_t n, cap;
	} text; /* the piece being printed */
};
/* Start @s: @head (taken) holds the members before the array @key; nothing printed yet. */
void tool_json_stream_init(struct tool_json_stream *s, struct tool *tool, json_t *head,
			   const char *key);
/* A new object for the array's next element: what is built into it until it is added comes
 * from memory made for that (a block used again for the next element), not one malloc()
 * each. Optional: any json_t may be added. */
json_t *tool_json_stream_element(struct tool_json_stream *s);
/* Print @elem (taken) as the array's next element (the head first, at the first one). */
void tool_json_stream_add(struct tool_json_stream *s, json_t *elem);
/* Close the array, print @tail's members (taken; NULL: none) after it, as tool_json_print()
 * ends a document (the target-lost marks), and flush. */
void tool_json_stream_end(struct tool_json_stream *s, json_t *tail);
/* Drop @s without printing (a failure after tool_json_stream_init, before any element). */
void tool_json_stream_drop(struct tool_json_stream *s);
/* Hex address string "0x..." for JSON. */
json_t *tool_json_addr(unsigned long long addr);

/* SIGINT/SIGTERM set this; SIGPIPE is ignored (writes then fail with EPIPE). */
extern volatile sig_atomic_t tool_stop_requested;
/* Set while a tool's tracing loop runs, which stops on tool_stop_requested by itself: the
 * first signal then leaves the library's waits alone (see on_signal in shared.c). */
extern volatile sig_atomic_t tool_in_loop;
/* Installed by tool_ctx_new() (so by tool_setup() and tool_attach()) for the tool's context. */
void tool_install_signals(void);

/*
 * Every tool's main() is renamed tool_main(); the real main() (tool-main.c) runs it and then
 * checks once, for every tool, whether the target was lost on the way: a walk that could not
 * finish exits 1 naming the cause, after what it printed (its JSON document says
 * "incomplete": true and "error", see tool_json_print).
 */
int tool_main(int argc, char **argv);
#ifndef TOOL_MAIN_ITSELF
#define main tool_main
#endif
/* Why the target was lost during this run (kvmdci_ctx_target_lost()), or NULL. */
const char *tool_target_lost(void);
/* The program name for messages from tool-main.c. */
extern const char *tool_program_name;
