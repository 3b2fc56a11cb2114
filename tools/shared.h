/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the kvmdci-* tools: common options, logging, errors, JSON output. */
#pragma once

#include <jansson.h>
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
	struct kvmdci_ctx *ctx;
};

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
	"  -h, --help            this help;  -V, --version  the version\n"                         \
	"With the lab: eval \"$(kvmdci-lab env)\" sets all of the defaults above.\n"

/* Handle a common option; returns 1 if it was one, 0 if not; exits for -h/-V. */
int tool_common_option(struct tool *tool, int opt, const char *arg, void (*usage)(FILE *));
/* Finish option parsing: default target, create the context. Exits 2 on bad usage. */
void tool_setup(struct tool *tool);
/* Monotonic seconds, for durations and rates. */
double tool_now_s(void);
/* How long to poll next: @slice_ms, less near the end of --duration (@duration s from @t0;
 * <= 0: none), 0 once it has passed. */
int tool_poll_slice(double t0, double duration, int slice_ms);
/* Parse --vm ADDR|PID into @sel, keeping its vcpu_id (exits 2 on a bad value). */
void tool_parse_vm(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel);
/* Exit 2 with one line when arguments are left after the options. */
void tool_no_more_args(struct tool *tool, int argc, char **argv, int optind_now);
/* tool_setup(), the signal handlers, then open the target and its kernel view. Returns 0, or
 * the exit status after printing the one error line; *t and *k hold what was opened. */
int tool_attach(struct tool *tool, struct kvmdci_target **t, struct kvmdci_kernel **k);
/* Print the context's last error (or @fallback) as the tool's one error line; exit code 1. */
int tool_fail(struct tool *tool, int err, const char *fallback);
/* Print @msg (not the library's last error) as the tool's one error line; exit code 1. */
int tool_fail_msg(struct tool *tool, int err, const char *msg);
void tool_progress(struct tool *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a JSON document to stdout (compact or pretty). */
void tool_json_print(struct tool *tool, json_t *doc);
/* Hex address string "0x..." for JSON. */
json_t *tool_json_addr(unsigned long long addr);

/* SIGINT/SIGTERM set this; SIGPIPE is ignored (writes then fail with EPIPE). */
extern volatile sig_atomic_t tool_stop_requested;
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
