// SPDX-License-Identifier: LGPL-2.1-or-later
/* The library context: reference count, log function, last error, tunables. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void kvmdci_set_error(struct kvmdci_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->last_error, sizeof(ctx->last_error), fmt, ap);
	va_end(ap);
}

void kvmdci_log_impl(struct kvmdci_ctx *ctx, int prio, const char *file, int line, const char *fn,
		     const char *fmt, ...)
{
	va_list ap;

	if (prio <= KVMDCI_LOG_ERR) {
		/* formatted aside first: callers pass the last error itself as an argument
		 * (kvmdci_err(ctx, "%s", kvmdci_ctx_last_error(ctx))), and an overlapping
		 * vsnprintf left the message empty (seen on a kernel whose kvm types were
		 * missing: "buses unreadable: ") */
		char msg[sizeof(ctx->last_error)];
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		memcpy(ctx->last_error, msg, sizeof(msg));
	}
	if (prio > ctx->log_priority)
		return;
	va_start(ap, fmt);
	ctx->log_fn(ctx, prio, file, line, fn, fmt, ap);
	va_end(ap);
}
