// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Preloaded ahead of libumockdev-preload into the command dbc-testbed runs: usleep(0) keeps
 * errno.
 *
 * umockdev's preload (src/libumockdev-preload.c, remote_emulate(), 0.17 and still upstream
 * in 2026) sets errno from the emulated ioctl, unblocks signals and then calls usleep(0) to
 * give other threads the lock. A signal that lands in that usleep makes it fail with EINTR,
 * which replaces the ioctl's errno: an emulated USBDEVFS_REAPURBNDELAY with nothing to reap
 * then fails with EINTR instead of EAGAIN (measured: 66 of 145 SIGINTs sent to a loop of such
 * reaps), libusb takes that for a failed reap (LIBUSB_ERROR_IO), cancels the transfer and
 * reports an I/O error. The kernel's REAPURBNDELAY never fails with EINTR, so this is the
 * emulation's flaw, not the code under test: a ^C during a usb:// session would break the
 * connection only under umockdev.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

int usleep(useconds_t usec)
{
	static int (*real)(useconds_t);
	int saved = errno, r;

	if (!real)
		real = (int (*)(useconds_t))dlsym(RTLD_NEXT, "usleep");
	r = real(usec);
	if (usec == 0) { /* a yield: nothing to report */
		errno = saved;
		return 0;
	}
	return r;
}
