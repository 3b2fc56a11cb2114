/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal helpers shared by the library's layers. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "libkvmdci/libkvmdci.h"

#define KVMDCI_EXPORT __attribute__((visibility("default")))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void kvmdci_log_impl(struct kvmdci_ctx *ctx, int prio, const char *file, int line, const char *fn,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Every error message also becomes the context's last error. */
#define kvmdci_err(ctx, ...)                                                                       \
	kvmdci_log_impl(ctx, KVMDCI_LOG_ERR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define kvmdci_warn(ctx, ...)                                                                      \
	kvmdci_log_impl(ctx, KVMDCI_LOG_WARNING, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define kvmdci_info(ctx, ...)                                                                      \
	kvmdci_log_impl(ctx, KVMDCI_LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define kvmdci_dbg(ctx, ...)                                                                       \
	do {                                                                                       \
		if (kvmdci_ctx_get_log_priority(ctx) >= KVMDCI_LOG_DEBUG)                          \
			kvmdci_log_impl(ctx, KVMDCI_LOG_DEBUG, __FILE__, __LINE__, __func__,       \
					__VA_ARGS__);                                              \
	} while (0)

/* Record an error without logging it (a caller may try an alternative). */
void kvmdci_set_error(struct kvmdci_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Why a target's connection is gone (the first cause only): kvmdci_ctx_last_error() adds it
 * to the errors that follow it. Cleared when a target is opened. */
void kvmdci_set_cause(struct kvmdci_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kvmdci_clear_cause(struct kvmdci_ctx *ctx);

/*
 * Entry of a public function that can fail: the outermost such call clears the context's last
 * error, so what kvmdci_ctx_last_error() says after a call belongs to that call; calls the
 * library makes to its own public functions (depth > 0) leave it alone. One line at the top of
 * the function, KVMDCI_API_ENTRY(ctx); leaving the scope counts the depth down again.
 */
struct kvmdci_ctx *kvmdci_api_enter(struct kvmdci_ctx *ctx);
void kvmdci_api_leave(struct kvmdci_ctx **ctx);
#define KVMDCI_API_ENTRY(ctx)                                                                      \
	struct kvmdci_ctx *kvmdci_api_ctx_ __attribute__((cleanup(kvmdci_api_leave), unused)) =   \
		kvmdci_api_enter(ctx)

struct kvmdci_ctx *kvmdci_target_get_ctx(struct kvmdci_target *t);
struct kvmdci_ctx *kvmdci_kernel_get_ctx(struct kvmdci_kernel *k);
struct kvmdci_ctx *kvmdci_exits_get_ctx(struct kvmdci_exits *e);

/* The library's one clock: monotonic nanoseconds, 64-bit (no wrap in any uptime). Deadlines
 * and durations are computed from it, never from the wall clock. */
static inline uint64_t kvmdci_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
static inline uint64_t kvmdci_now_ms(void)
{
	return kvmdci_now_ns() / 1000000;
}
static inline double kvmdci_now_s(void)
{
	return (double)kvmdci_now_ns() / 1e9;
}

/* 0 when @path is a regular file (or cannot be stat()ed: the caller's open() then fails and
 * says why); else -EINVAL with the error logged, naming
 * @what (e.g. "vmlinux") and the kind of file: a FIFO or a device would block open() or can
 * neither be seeked nor mapped, as ELF readers need. */
int kvmdci_check_regular_file(struct kvmdci_ctx *ctx, const char *path, const char *what);
/* A signal asked the waits to end (kvmdci_ctx_interrupt()); see transport.c. */
bool kvmdci_ctx_interrupted(struct kvmdci_ctx *ctx);

static inline uint64_t le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static inline uint32_t le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
