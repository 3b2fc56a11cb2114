// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Byte-stream transports under the RSP backend: the file-descriptor ones (TCP and unix
 * sockets here, serial ttys in serial.c) and the dispatch by URI kind (USB in usb.c).
 */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "target/transport.h"

/*
 * Signals (kvmdci_ctx_interrupt()): a wait polls in slices of at most SLICE_MS, so that a
 * signal that lands just before poll() is seen within a slice; once the context is
 * interrupted, the wait lasts at most GRACE_MS more and then fails with -EINTR (the caller
 * marks the connection broken: a late answer would be taken for the next command's). A stub
 * that answers within the grace keeps working, so the tools can still remove their
 * breakpoints and resume the target.
 */
#define SLICE_MS 100
#define GRACE_MS 500

/* poll() @fd for @events within @timeout_ms (-1: no limit), in slices, ending early as said
 * above. Returns poll's answer (1, 0 at the timeout or on a signal of no concern to us: the
 * callers then return 0 as before), or -EINTR when interrupted past the grace. */
static int wait_fd(struct transport *tr, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = tr->fd, .events = events };
	uint64_t start = kvmdci_now_ms(), grace_end = 0;

	for (;;) {
		uint64_t now = kvmdci_now_ms();
		int64_t left = timeout_ms < 0 ? SLICE_MS : (int64_t)(start + timeout_ms) - (int64_t)now;
		bool capped = false; /* this slice ends at the grace, not at the timeout */
		if (kvmdci_ctx_interrupted(tr->ctx)) {
			if (!grace_end)
				grace_end = now + GRACE_MS;
			if (now >= grace_end) {
				snprintf(tr->why, sizeof(tr->why),
					 "interrupted (SIGINT or SIGTERM): no answer within %d ms",
					 GRACE_MS);
				return -EINTR;
			}
			if (left > (int64_t)(grace_end - now)) {
				left = (int64_t)(grace_end - now);
				capped = true;
			}
		}
		if (left < 0)
			left = 0; /* a timeout of 0 (or past): still one look at the fd */
		int pr = poll(&pfd, 1, left < SLICE_MS ? (int)left : SLICE_MS);
		if (pr > 0)
			return pr;
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr < 0 && !kvmdci_ctx_interrupted(tr->ctx))
			return 0; /* another signal: 0, as poll's EINTR always was */
		if (pr == 0 && timeout_ms >= 0 && left <= SLICE_MS && !capped)
			return 0; /* the timeout has passed */
	}
}

ssize_t transport_fd_read(struct transport *tr, void *buf, size_t len, int timeout_ms)
{
	int pr = wait_fd(tr, POLLIN, timeout_ms);
	ssize_t n;

	if (pr == -EINTR)
		return -EINTR;
	if (pr < 0) {
		errno = -pr;
		snprintf(tr->why, sizeof(tr->why), "poll: %s", strerror(errno));
		return -errno;
	}
	if (pr == 0)
		return 0;
	n = read(tr->fd, buf, len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		int e = errno;
		snprintf(tr->why, sizeof(tr->why), "%s", strerror(e));
		/* a tty whose other end went away (a pty master closed, a USB serial unplugged) */
		return e == EIO || e == ENXIO || e == ENODEV ? -EPIPE : -e;
	}
	if (n == 0) {
		snprintf(tr->why, sizeof(tr->why), "the stub closed the connection");
		return -EPIPE;
	}
	return n;
}

int transport_fd_write(struct transport *tr, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = tr->is_socket ? send(tr->fd, p, len, MSG_NOSIGNAL)
							   : write(tr->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			int pr = wait_fd(tr, POLLOUT, 5000);
			if (pr == -EINTR)
				return -EINTR;
			if (pr == 0 && !kvmdci_ctx_interrupted(tr->ctx)) {
				snprintf(tr->why, sizeof(tr->why), "write blocked for 5 s");
				return -ETIMEDOUT;
			}
			continue;
		}
		if (w < 0) {
			int e = errno;
			snprintf(tr->why, sizeof(tr->why), "%s", strerror(e));
			return -EPIPE;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

void transport_fd_close(struct transport *tr)
{
	if (tr->fd >= 0)
		close(tr->fd);
	tr->fd = -1;
}

const struct transport_ops transport_fd_ops = {
	.name = "socket",
	.read = transport_fd_read,
	.write = transport_fd_write,
	.close = transport_fd_close,
};

int transport_new_fd(struct kvmdci_ctx *ctx, const struct transport_ops *ops, int fd,
		     struct transport **ret)
{
	struct transport *tr = calloc(1, sizeof(*tr));

	if (!tr)
		return -ENOMEM;
	tr->ops = ops;
	tr->ctx = ctx;
	tr->fd = fd;
	*ret = tr;
	return 0;
}

static int connect_unix(struct kvmdci_ctx *ctx, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		kvmdci_err(ctx, "cannot connect to %s: %s%s", path, strerror(e),
			   e == ENOENT || e == ECONNREFUSED
				   ? " (is the stub running? for the lab: kvmdci-lab status)"
				   : "");
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int connect_tcp(struct kvmdci_ctx *ctx, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int e = getaddrinfo(host, port, &hints, &res), fd = -1, err = ECONNREFUSED, one = 1;

	if (e) {
		kvmdci_err(ctx, "cannot resolve %s: %s", host, gai_strerror(e));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		/* a signal ends connect() with EINTR (the tools' handlers do not restart it):
		 * then no other address is tried */
		if (kvmdci_ctx_interrupted(ctx)) {
			err = EINTR;
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		kvmdci_err(ctx, "cannot connect to %s:%s: %s", host, port, strerror(err));
		return -err;
	}
	/* one write per batch of packets: no Nagle delay on the last one */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int transport_open(struct kvmdci_ctx *ctx, const struct target_uri *u, struct transport **ret)
{
	int fd, r;

	switch (u->kind) {
	case URI_GDB_UNIX:
	case URI_GDB_TCP:
		fd = u->kind == URI_GDB_UNIX ? connect_unix(ctx, u->path)
					     : connect_tcp(ctx, u->host, u->port);
		if (fd < 0)
			return fd;
		r = transport_new_fd(ctx, &transport_fd_ops, fd, ret);
		if (r < 0)
			close(fd);
		else
			(*ret)->is_socket = true;
		return r;
	case URI_SERIAL:
		return serial_transport_open(ctx, u, ret);
	case URI_USB:
		return usb_transport_open(ctx, u, ret);
	default:
		return -EINVAL;
	}
}

void transport_close(struct transport *tr)
{
	if (!tr)
		return;
	tr->ops->close(tr);
	free(tr);
}
