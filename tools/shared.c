// SPDX-License-Identifier: LGPL-2.1-or-later
/* Helpers shared by the kvmdci-* tools. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "shared.h"

volatile sig_atomic_t tool_stop_requested;
const char *tool_program_name;
/* kvmdci_ctx_target_lost() copied while the context lives (tools drop it before returning) */
static char target_lost[600];

static void note_target_lost(struct kvmdci_ctx *ctx)
{
	const char *lost = ctx ? kvmdci_ctx_target_lost(ctx) : NULL;

	if (lost && !target_lost[0])
		snprintf(target_lost, sizeof(target_lost), "%s", lost);
}

const char *tool_target_lost(void)
{
	return target_lost[0] ? target_lost : NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	tool_stop_requested = 1;
}

void tool_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int tool_common_option(struct tool *tool, int opt, const char *arg, void (*usage)(FILE *))
{
	switch (opt) {
	case 't':
		tool->target = arg;
		return 1;
	case 'j':
		tool->json = true;
		return 1;
	case 'p':
		tool->json = tool->pretty = true;
		return 1;
	case 'v':
		tool->verbose++;
		return 1;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		printf("%s %s\n", tool->name, KVMDCI_VERSION);
		exit(0);
	case TOOL_OPT_VMLINUX:
		tool->files.vmlinux = arg;
		return 1;
	case TOOL_OPT_SYSTEM_MAP:
		tool->files.system_map = arg;
		return 1;
	case TOOL_OPT_MODULES:
		tool->files.modules = arg;
		return 1;
	case TOOL_OPT_CATALOG:
		tool->catalog = arg;
		return 1;
	}
	return 0;
}

static void tool_log(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	struct tool *tool = kvmdci_ctx_get_log_data(ctx);
	note_target_lost(ctx);
	/* errors are printed once, by tool_fail; the rest only when verbose */
	if (priority <= KVMDCI_LOG_ERR)
		return;
	if (priority >= KVMDCI_LOG_DEBUG)
		fprintf(stderr, "%s: debug: %s:%d: ", tool->name, file, line);
	else if (priority == KVMDCI_LOG_WARNING)
		fprintf(stderr, "%s: warning: ", tool->name);
	else
		fprintf(stderr, "%s: ", tool->name);
	(void)fn;
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

void tool_setup(struct tool *tool)
{
	int r;

	if (!tool->target) {
		tool->target = getenv("KVMDCI_TARGET");
		if (!tool->target || !*tool->target) {
			fprintf(stderr, "%s: no target: give -t URI (e.g. gdb+unix:///path/gdb.sock) "
					"or set KVMDCI_TARGET (the lab: eval \"$(kvmdci-lab env)\")\n",
				tool->name);
			exit(2);
		}
	}
	tool_program_name = tool->name;
	r = kvmdci_ctx_new(&tool->ctx);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", tool->name, strerror(-r));
		exit(1);
	}
	kvmdci_ctx_set_log_fn(tool->ctx, tool_log, tool);
	kvmdci_ctx_set_log_priority(tool->ctx, tool->verbose >= 2 ? KVMDCI_LOG_DEBUG
					       : tool->verbose   ? KVMDCI_LOG_INFO
								 : KVMDCI_LOG_WARNING);
}

int tool_fail(struct tool *tool, int err, const char *fallback)
{
	const char *msg = tool->ctx ? kvmdci_ctx_last_error(tool->ctx) : "";

	if (!msg || !*msg)
		msg = fallback ? fallback : strerror(err < 0 ? -err : err);
	return tool_fail_msg(tool, err, msg);
}

int tool_fail_msg(struct tool *tool, int err, const char *msg)
{
	note_target_lost(tool->ctx);
	fprintf(stderr, "%s: %s\n", tool->name, msg);
	if (tool->json) {
		json_t *doc = json_pack("{s:s, s:i}", "error", msg, "errno", err < 0 ? -err : err);
		tool_json_print(tool, doc);
		json_decref(doc);
	}
	return 1;
}

void tool_progress(struct tool *tool, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", tool->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_json_print(struct tool *tool, json_t *doc)
{
	size_t flags = JSON_PRESERVE_ORDER | (tool->pretty ? JSON_INDENT(2) : JSON_COMPACT);

	note_target_lost(tool->ctx);
	if (target_lost[0] && json_is_object(doc) && !json_object_get(doc, "errno")) {
		/* what was read before the target was lost, marked as such */
		json_object_set_new(doc, "incomplete", json_true());
		if (!json_object_get(doc, "error"))
			json_object_set_new(doc, "error", json_string(target_lost));
	}
	json_dumpf(doc, stdout, flags);
	fputc('\n', stdout);
	fflush(stdout);
}

json_t *tool_json_addr(unsigned long long addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", addr);
	return json_string(buf);
}

void tool_no_more_args(struct tool *tool, int argc, char **argv, int optind_now)
{
	if (optind_now < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", tool->name,
			argv[optind_now]);
		exit(2);
	}
}

int tool_attach(struct tool *tool, struct kvmdci_target **t, struct kvmdci_kernel **k)
{
	int r;

	tool_setup(tool);
	tool_install_signals();
	if (tool->verbose)
		tool_progress(tool, "attaching to %s", tool->target);
	if ((r = kvmdci_target_open(tool->ctx, tool->target, t)) < 0 ||
	    (r = kvmdci_kernel_open(*t, &tool->files, k)) < 0)
		return tool_fail(tool, r, NULL);
	return 0;
}

void tool_parse_vm(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel)
{
	int32_t vcpu_id = sel->vcpu_id;

	if (kvmdci_vm_select_parse(arg, sel) < 0) {
		fprintf(stderr, "%s: --vm needs a struct kvm address (0x...) or a pid, not '%s'\n",
			tool->name, arg);
		exit(2);
	}
	sel->vcpu_id = vcpu_id; /* --vcpu may have come first */
}

int tool_poll_slice(double t0, double duration, int slice_ms)
{
	double left;

	if (duration <= 0)
		return slice_ms;
	left = duration - (tool_now_s() - t0);
	if (left <= 0)
		return 0;
	return left * 1000 < slice_ms ? (int)(left * 1000) + 1 : slice_ms;
}

double tool_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
