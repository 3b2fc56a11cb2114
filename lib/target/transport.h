/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A byte stream to a GDB remote-protocol stub: a TCP or unix socket, a serial tty, or a USB
 * debug-class bulk pipe. The RSP backend (rsp.c) frames packets on top of it and never knows
 * which one it talks through.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "libkvmdci/libkvmdci.h"
#include "target/uri.h"

struct transport;

struct transport_ops {
	const char *name;
	/* Read up to @len bytes within @timeout_ms (-1: no limit). Returns the count, 0 when
	 * nothing came in time or a signal interrupted the wait, or -errno (-EPIPE: the peer
	 * closed, -ENODEV: the device is gone) with tr->why set. */
	ssize_t (*read)(struct transport *tr, void *buf, size_t len, int timeout_ms);
	/* Write all @len bytes: 0 or -errno with tr->why set. */
	int (*write)(struct transport *tr, const void *buf, size_t len);
	void (*close)(struct transport *tr);
};

struct transport {
	const struct transport_ops *ops;
	struct kvmdci_ctx *ctx;
	int fd; /* -1 for a transport without one (USB) */
	bool is_socket; /* send() with MSG_NOSIGNAL instead of write() */
	uint32_t bytes_per_s; /* a slow line's rate (a real UART); 0: fast or unknown */
	char why[256]; /* why the last read or write failed */
	void *priv;
};

/* Open the transport a parsed gdb://, gdb+unix://, serial:// or usb:// URI names. */
int transport_open(struct kvmdci_ctx *ctx, const struct target_uri *u, struct transport **ret);
void transport_close(struct transport *tr);

static inline ssize_t transport_read(struct transport *tr, void *buf, size_t len, int timeout_ms)
{
	return tr->ops->read(tr, buf, len, timeout_ms);
}

static inline int transport_write(struct transport *tr, const void *buf, size_t len)
{
	return tr->ops->write(tr, buf, len);
}

/* Helpers for transports over a file descriptor (sockets, ttys). */
extern const struct transport_ops transport_fd_ops;
int transport_new_fd(struct kvmdci_ctx *ctx, const struct transport_ops *ops, int fd,
		     struct transport **ret);
ssize_t transport_fd_read(struct transport *tr, void *buf, size_t len, int timeout_ms);
int transport_fd_write(struct transport *tr, const void *buf, size_t len);
void transport_fd_close(struct transport *tr);

/* The backends: serial.c and usb.c. */
int serial_transport_open(struct kvmdci_ctx *ctx, const struct target_uri *u,
			  struct transport **ret);
int usb_transport_open(struct kvmdci_ctx *ctx, const struct target_uri *u, struct transport **ret);
