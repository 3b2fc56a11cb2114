// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * serial:///dev/ttyX[?baud=N]: the GDB remote protocol over a tty (a USB serial adapter, the
 * usb_debug driver's /dev/ttyUSBn for a DbC cable, a pty bridged to a stub). The line is put
 * in raw mode (no echo, no line editing, no CR/LF translation, 8N1, no flow control) and
 * restored when the target is closed. The tty is opened non-blocking so that a line without
 * carrier does not hang the open, and locked (flock) so two debuggers do not share it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "target/transport.h"

struct serial {
	struct termios saved;
	bool restore;
};

static const struct {
	unsigned int baud;
	speed_t speed;
} speeds[] = {
	{ 1200, B1200 },	 { 2400, B2400 },     { 4800, B4800 },	   { 9600, B9600 },
	{ 19200, B19200 },	 { 38400, B38400 },   { 57600, B57600 },   { 115200, B115200 },
	{ 230400, B230400 },	 { 460800, B460800 }, { 500000, B500000 }, { 576000, B576000 },
	{ 921600, B921600 },	 { 1000000, B1000000 }, { 1500000, B1500000 },
	{ 2000000, B2000000 }, { 3000000, B3000000 }, { 4000000, B4000000 },
};

/* Bytes per second of a real serial line (8N1: 10 bits a byte); 0 for a pseudo-terminal,
 * whose "speed" is only a setting (UNIX98 pty slaves have majors 136..143, see the kernel's
 * Documentation/admin-guide/devices.txt). */
static uint32_t line_rate(int fd, const struct termios *tio)
{
	struct stat st;
	speed_t sp = cfgetospeed(tio);

	if (fstat(fd, &st) == 0 && major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(speeds); i++)
		if (speeds[i].speed == sp)
			return speeds[i].baud / 10;
	return 0;
}

static void serial_close(struct transport *tr)
{
	struct serial *s = tr->priv;

	if (tr->fd >= 0 && s && s->restore)
		tcsetattr(tr->fd, TCSANOW, &s->saved);
	free(s);
	tr->priv = NULL;
	transport_fd_close(tr);
}

static const struct transport_ops serial_ops = {
	.name = "serial",
	.read = transport_fd_read,
	.write = transport_fd_write,
	.close = serial_close,
};

int serial_transport_open(struct kvmdci_ctx *ctx, const struct target_uri *u,
			  struct transport **ret)
{
	struct termios tio;
	struct serial *s;
	struct transport *tr;
	speed_t speed = 0;
	int fd, r;

	if (u->baud) {
		for (size_t i = 0; i < ARRAY_SIZE(speeds); i++)
			if (speeds[i].baud == u->baud)
				speed = speeds[i].speed;
		if (!speed) {
			kvmdci_err(ctx, "%s: %u baud is not a standard speed (1200 ... 4000000, e.g. "
					"9600, 115200, 921600)", u->path, u->baud);
			return -EINVAL;
		}
	}
	fd = open(u->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		kvmdci_err(ctx, "cannot open %s: %s%s", u->path, strerror(e),
			   e == EACCES ? " (add yourself to the dialout group?)" : "");
		return -e;
	}
	if (!isatty(fd)) {
		kvmdci_err(ctx, "%s is not a tty (serial:// needs a serial device or a pty)",
			   u->path);
		close(fd);
		return -ENOTTY;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		kvmdci_err(ctx, "%s is in use by another program (it holds a lock on it)", u->path);
		close(fd);
		return -EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	if (tcgetattr(fd, &tio) < 0) {
		r = -errno;
		kvmdci_err(ctx, "%s: cannot read the line settings: %s", u->path, strerror(errno));
		free(s);
		close(fd);
		return r;
	}
	s->saved = tio;
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cflag &= ~(CSTOPB | CRTSCTS | PARENB);
	tio.c_iflag &= ~(IXON | IXOFF | IXANY);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (speed && (cfsetispeed(&tio, speed) < 0 || cfsetospeed(&tio, speed) < 0)) {
		kvmdci_err(ctx, "%s: cannot set %u baud", u->path, u->baud);
		free(s);
		close(fd);
		return -EINVAL;
	}
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		r = -errno;
		kvmdci_err(ctx, "%s: cannot set raw mode: %s", u->path, strerror(errno));
		free(s);
		close(fd);
		return r;
	}
	s->restore = true;
	/* bytes left on the line from an earlier session would confuse the first reply */
	tcflush(fd, TCIOFLUSH);
	if ((r = transport_new_fd(ctx, &serial_ops, fd, &tr)) < 0) {
		tcsetattr(fd, TCSANOW, &s->saved);
		free(s);
		close(fd);
		return r;
	}
	tr->priv = s;
	tr->bytes_per_s = line_rate(fd, &tio);
	if (tr->bytes_per_s)
		kvmdci_info(ctx, "%s: a %u baud line (%u bytes/s)", u->path, tr->bytes_per_s * 10,
			    tr->bytes_per_s);
	*ret = tr;
	return 0;
}
