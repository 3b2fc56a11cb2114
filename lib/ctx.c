// SPDX-License-Identifier: LGPL-2.1-or-later
/* The library context: reference count, log function, last error, tunables. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "internal.h"

struct kvmdci_ctx {
	int refcount;
	kvmdci_log_fn log_fn;
	void *log_data;
	int log_priority;
	char last_error[512];
	char cause[256]; /* why a target's connection broke: kept while later errors follow */
	char shown[800];
	int api_depth;                        /* public calls in progress (see kvmdci_api_enter) */
	volatile sig_atomic_t interrupted;    /* kvmdci_ctx_interrupt() was called */
	char *tunables[KVMDCI_TUNABLE_COUNT]; /* set on the context; NULL: the environment's */
};

/* Each tunable's name and the environment variable that gives its default. */
static const struct {
	const char *name, *env;
} tunables[KVMDCI_TUNABLE_COUNT] = {
	[KVMDCI_TUNABLE_READ_CACHE] = { "read_cache", "KVMDCI_READ_CACHE" },
	[KVMDCI_TUNABLE_READ_PLAN] = { "read_plan", "KVMDCI_READ_PLAN" },
	[KVMDCI_TUNABLE_MAX_WATCHPOINTS] = { "max_watchpoints", "KVMDCI_MAX_WATCHPOINTS" },
	[KVMDCI_TUNABLE_TYPES] = { "types", "KVMDCI_TYPES" },
	[KVMDCI_TUNABLE_DWARF_INDEX] = { "dwarf_index", "KVMDCI_DWARF_INDEX" },
	[KVMDCI_TUNABLE_KALLSYMS] = { "kallsyms", "KVMDCI_KALLSYMS" },
	[KVMDCI_TUNABLE_FORCE] = { "force", "KVMDCI_FORCE" },
	[KVMDCI_TUNABLE_CATALOG] = { "catalog", "KVMDCI_CATALOG" },
	[KVMDCI_TUNABLE_VMLINUX] = { "vmlinux", "KVMDCI_VMLINUX" },
	[KVMDCI_TUNABLE_SYSTEM_MAP] = { "system_map", "KVMDCI_SYSTEM_MAP" },
	[KVMDCI_TUNABLE_MODULES] = { "modules", "KVMDCI_MODULES" },
	[KVMDCI_TUNABLE_ON_DETACH] = { "on_detach", "KVMDCI_ON_DETACH" },
	[KVMDCI_TUNABLE_KERNEL_CACHE] = { "kernel_cache", "KVMDCI_KERNEL_CACHE" },
};

static void log_stderr(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)ctx;
	if (priority >= KVMDCI_LOG_DEBUG)
		fprintf(stderr, "libkvmdci: %s:%d %s: ", file, line, fn);
	else if (priority >= KVMDCI_LOG_INFO)
		fprintf(stderr, "libkvmdci: ");
	else
		fprintf(stderr, "error: ");
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

static int priority_from_string(const char *s)
{
	if (!s)
		return KVMDCI_LOG_ERR;
	if (!strcasecmp(s, "debug"))
		return KVMDCI_LOG_DEBUG;
	if (!strcasecmp(s, "info"))
		return KVMDCI_LOG_INFO;
	if (!strcasecmp(s, "warning"))
		return KVMDCI_LOG_WARNING;
	if (s[0] >= '0' && s[0] <= '9')
		return atoi(s);
	return KVMDCI_LOG_ERR;
}

KVMDCI_EXPORT int kvmdci_ctx_new(struct kvmdci_ctx **ret)
{
	struct kvmdci_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->refcount = 1;
	ctx->log_fn = log_stderr;
	ctx->log_priority = priority_from_string(getenv("KVMDCI_LOG"));
	*ret = ctx;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_ctx *kvmdci_ctx_ref(struct kvmdci_ctx *ctx)
{
	if (ctx)
		ctx->refcount++;
	return ctx;
}

KVMDCI_EXPORT struct kvmdci_ctx *kvmdci_ctx_unref(struct kvmdci_ctx *ctx)
{
	if (!ctx || --ctx->refcount > 0)
		return NULL;
	for (int i = 0; i < KVMDCI_TUNABLE_COUNT; i++)
		free(ctx->tunables[i]);
	free(ctx);
	return NULL;
}

static bool tunable_valid(enum kvmdci_tunable t)
{
	return (int)t >= 0 && t < KVMDCI_TUNABLE_COUNT;
}

/* async-signal-safe: one store to a sig_atomic_t */
KVMDCI_EXPORT void kvmdci_ctx_interrupt(struct kvmdci_ctx *ctx)
{
	if (ctx)
		ctx->interrupted = 1;
}

bool kvmdci_ctx_interrupted(struct kvmdci_ctx *ctx)
{
	return ctx && ctx->interrupted;
}

int kvmdci_check_regular_file(struct kvmdci_ctx *ctx, const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0; /* the caller's own open() says why, in its words */
	if (S_ISREG(st.st_mode))
		return 0;
	kvmdci_err(ctx, "%s %s is %s, not a regular file: give the file itself (a FIFO or a "
			"device cannot be read as an ELF or BTF file)",
		   what, path,
		   S_ISFIFO(st.st_mode)  ? "a FIFO"
		   : S_ISDIR(st.st_mode) ? "a directory"
		   : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
		   : S_ISSOCK(st.st_mode) ? "a socket"
					 : "something else");
	return -EINVAL;
}

KVMDCI_EXPORT const char *kvmdci_version(void)
{
	return KVMDCI_VERSION;
}

/* libusb, libkdumpfile, libdw and libbpf are all required by meson.build: every build has them */
KVMDCI_EXPORT const char *kvmdci_features(void)
{
	return "libusb libkdumpfile dwarf btf";
}

KVMDCI_EXPORT const char *kvmdci_tunable_name(enum kvmdci_tunable t)
{
	return tunable_valid(t) ? tunables[t].name : NULL;
}

KVMDCI_EXPORT const char *kvmdci_tunable_env(enum kvmdci_tunable t)
{
	return tunable_valid(t) ? tunables[t].env : NULL;
}

KVMDCI_EXPORT int kvmdci_tunable_from_name(const char *name)
{
	for (int i = 0; name && i < KVMDCI_TUNABLE_COUNT; i++)
		if (!strcmp(name, tunables[i].name))
			return i;
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_ctx_set_tunable(struct kvmdci_ctx *ctx, enum kvmdci_tunable t,
					 const char *value)
{
	KVMDCI_API_ENTRY(ctx);
	char *v = NULL;

	if (!tunable_valid(t)) {
		kvmdci_err(ctx, "no tunable number %d (0 to %d)", (int)t, KVMDCI_TUNABLE_COUNT - 1);
		return -EINVAL;
	}
	if (value && !(v = strdup(value)))
		return -ENOMEM;
	free(ctx->tunables[t]);
	ctx->tunables[t] = v;
	return 0;
}

KVMDCI_EXPORT const char *kvmdci_ctx_get_tunable(struct kvmdci_ctx *ctx, enum kvmdci_tunable t)
{
	if (!tunable_valid(t))
		return NULL;
	if (ctx && ctx->tunables[t])
		return ctx->tunables[t];
	/* read at each use, as the library always did: a program may setenv() late */
	return getenv(tunables[t].env);
}

struct kvmdci_ctx *kvmdci_api_enter(struct kvmdci_ctx *ctx)
{
	if (ctx && ctx->api_depth++ == 0)
		ctx->last_error[0] = '\0';
	return ctx;
}

void kvmdci_api_leave(struct kvmdci_ctx **ctx)
{
	if (*ctx)
		(*ctx)->api_depth--;
}

KVMDCI_EXPORT void kvmdci_ctx_set_log_fn(struct kvmdci_ctx *ctx, kvmdci_log_fn fn, void *data)
{
	ctx->log_fn = fn ? fn : log_stderr;
	ctx->log_data = data;
}

KVMDCI_EXPORT void *kvmdci_ctx_get_log_data(struct kvmdci_ctx *ctx)
{
	return ctx->log_data;
}

KVMDCI_EXPORT void kvmdci_ctx_set_log_priority(struct kvmdci_ctx *ctx, int priority)
{
	ctx->log_priority = priority;
}

KVMDCI_EXPORT int kvmdci_ctx_get_log_priority(struct kvmdci_ctx *ctx)
{
	return ctx ? ctx->log_priority : KVMDCI_LOG_ERR;
}

KVMDCI_EXPORT const char *kvmdci_ctx_last_error(struct kvmdci_ctx *ctx)
{
	/* after a lost connection every read fails: say why along with the read that did */
	if (ctx->cause[0] && !strstr(ctx->last_error, ctx->cause)) {
		if (!ctx->last_error[0])
			return ctx->cause;
		snprintf(ctx->shown, sizeof(ctx->shown), "%s (%s)", ctx->last_error, ctx->cause);
		return ctx->shown;
	}
	return ctx->last_error;
}

KVMDCI_EXPORT const char *kvmdci_ctx_target_lost(struct kvmdci_ctx *ctx)
{
	return ctx && ctx->cause[0] ? ctx->cause : NULL;
}

void kvmdci_set_cause(struct kvmdci_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->cause[0])
		return; /* the first cause is the one */
	va_start(ap, fmt);
	vsnprintf(ctx->cause, sizeof(ctx->cause), fmt, ap);
	va_end(ap);
}

void kvmdci_clear_cause(struct kvmdci_ctx *ctx)
{
	ctx->cause[0] = '\0';
}

/*
 * Callers often wrap the error before theirs: kvmdci_err(ctx, "...: %s",
 * kvmdci_ctx_last_error(ctx)). Formatting straight into last_error would then read the buffer
 * it writes (undefined for vsnprintf; glibc garbles the text), so the message is formatted
 * into a buffer of its own first and copied.
 */
static void record_error(struct kvmdci_ctx *ctx, const char *msg)
{
	size_t n = strnlen(msg, sizeof(ctx->last_error) - 1); /* a longer one is cut, as before */

	memcpy(ctx->last_error, msg, n);
	ctx->last_error[n] = '\0';
}

void kvmdci_set_error(struct kvmdci_ctx *ctx, const char *fmt, ...)
{
	char msg[sizeof(ctx->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record_error(ctx, msg);
}

/* Hand an already formatted message to the log function (which takes a format). */
static void __attribute__((format(printf, 6, 7)))
log_formatted(struct kvmdci_ctx *ctx, int prio, const char *file, int line, const char *fn,
	      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx->log_fn(ctx, prio, file, line, fn, fmt, ap);
	va_end(ap);
}

void kvmdci_log_impl(struct kvmdci_ctx *ctx, int prio, const char *file, int line, const char *fn,
		     const char *fmt, ...)
{
	char msg[2048]; /* the log may show more than last_error keeps */
	va_list ap;

	if (prio > KVMDCI_LOG_ERR && prio > ctx->log_priority)
		return;
	/* formatted once, before last_error changes: an argument may point into it */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (prio <= KVMDCI_LOG_ERR)
		record_error(ctx, msg);
	if (prio > ctx->log_priority)
		return;
	log_formatted(ctx, prio, file, line, fn, "%s", msg);
}
