// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dbc-testbed: a USB 3 debug-class (DbC) cable emulated with umockdev, for testing usb://
 * without hardware. Run under umockdev-wrapper (it preloads libumockdev-preload):
 *
 *   umockdev-wrapper dbc-testbed [OPTIONS] -- COMMAND [ARGS...]
 *
 * It builds a umockdev testbed holding one device 1d6b:0010 on bus 1 (device 2) as the Linux
 * xHCI DbC shows up on a debug host: one configuration, interface 0 of class DC/02/01, bulk
 * OUT 0x01 and bulk IN 0x81 with 1024-byte packets (docs/transports.md, "The xHCI Debug
 * Capability"). A UMockdevIoctlBase handler answers the usbfs ioctls libusb-1.0 issues on
 * /dev/bus/usb/001/002 (capabilities, driver query, detach/attach, claim/release, URB submit,
 * reap, discard, clear halt) and carries the bulk pipe to a GDB stub's unix socket (--stub):
 * what the host writes to OUT 0x01 goes to the socket, what the socket sends fills IN 0x81
 * URBs. COMMAND runs as our child and inherits the preload (with keep-errno.c's ahead of it)
 * and $UMOCKDEV_DIR, so its libusb sees only this device (or these two: --second SERIAL adds
 * another cable as device 3, the first one's serial number being --serial, default 0001). Our
 * exit status is the child's (128+signal if killed).
 *
 * The failure cases the tests need: --no-device (an empty bus), --busy (another program holds
 * the interface: CLAIMINTERFACE fails with EBUSY), --mute (the target end takes bytes but never
 * answers; --mute-after N: once N bytes have come from the stub), --nak-out (the target end
 * takes nothing: OUT URBs never complete) and --unplug-after N or SIGUSR1 (the cable is pulled
 * once N bytes have come from the stub, or at the command's next usbfs call after the signal:
 * in-flight URBs end with -ESHUTDOWN, then every ioctl but reaping fails with ENODEV, as the
 * kernel's usbfs does with USBDEVFS_CAP_REAP_AFTER_DISCONNECT; the device leaves sysfs with a
 * "remove" uevent). SIGINT and SIGTERM are passed on to the command. --report FILE writes what
 * happened as JSON (claims, driver detach/re-attach, bytes, unplug or mute to exit time).
 *
 * How umockdev runs a handler (src/umockdev-ioctl.vala, 0.17): the preload forwards each
 * ioctl on the device's fd over a unix socket to the testbed's worker thread, which emits
 * "handle-ioctl"; the handler resolves pointers in the argument (copies of client memory)
 * and completes the call; modified copies are written back. URBs are kept between SUBMITURB
 * and REAPURBNDELAY and handed back with umockdev_ioctl_data_set_ptr(), as umockdev's own
 * pcap replay handler does (src/umockdev-pcap.vala). The device node is a regular file, so
 * libusb's poll() on it always reports POLLOUT and libusb keeps reaping while it waits; each
 * reap with no URB done is when we look at the stub socket.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/usbdevice_fs.h>

#include <glib.h>
#include <glib-unix.h>
#include <umockdev.h>

#define EP_OUT 0x01
#define EP_IN 0x81
#define IFACE 0

struct dev;

struct urb {
	struct dev *dev;
	UMockdevIoctlClient *client;
	UMockdevIoctlData *urb; /* the client's struct usbdevfs_urb */
	UMockdevIoctlData *buf; /* its buffer */
};

/* One emulated cable end: device 1d6b:0010 on bus 1. */
struct dev {
	int devnum;
	const char *serial;
	char syspath[128], devnode[64];

	/* the worker thread owns this; g.lock guards what main reads */
	int stub; /* connected socket or -1 */
	bool stub_eof;
	bool claimed;
	bool driver_bound;
	bool unplugged;
	GQueue pending; /* submitted, not done */
	GQueue done;	/* done, to reap (status set) */

	/* what happened */
	int claims, releases, claim_refusals, detaches, attaches, stub_connects;
	long bytes_out, bytes_in, urbs;
	gint64 unplug_us;
	gint64 mute_us; /* when the host first waited for bytes the stub no longer sends */
};

static struct {
	/* options */
	const char *stub_path;
	const char *report_path;
	const char *driver; /* kernel driver bound at the start ("usb_debug"), or NULL */
	bool no_device, busy, nak_out, verbose;
	long unplug_after; /* bytes from the stub, -1: never */
	long mute_after;   /* bytes from the stub, then it answers no more; -1: never */
	int timeout_s;

	struct dev dev[2]; /* the second one only with --second SERIAL */
	int ndev;
	GMutex lock;

	UMockdevTestbed *tb;
	GMainLoop *loop;
	GPid child;
	int child_status;
	bool killed;
	gint unplug_requested; /* SIGUSR1 */
} g = {
	.unplug_after = -1,
	.mute_after = -1,
	.timeout_s = 300,
	.dev = { { .devnum = 2, .serial = "0001", .stub = -1 },
		 { .devnum = 3, .stub = -1 } },
	.ndev = 1,
};

#define dbg(...)                                                      \
	do {                                                          \
		if (g.verbose)                                        \
			fprintf(stderr, "dbc-testbed: " __VA_ARGS__); \
	} while (0)

/*
 * Device, configuration, interface and endpoint descriptors as one blob, the way sysfs'
 * "descriptors" attribute holds them (bus-endian). USB 3.x: bcdUSB 0x0300, ep0 packet size
 * 2^9, each bulk endpoint 1024 bytes followed by its SuperSpeed endpoint companion.
 */
static const uint8_t descriptors[] = {
	/* device: 1d6b:0010 bcdDevice 0x0010, strings 1/2/3, one configuration */
	0x12, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x09, 0x6b, 0x1d, 0x10, 0x00, 0x10, 0x00,
	0x01, 0x02, 0x03, 0x01,
	/* configuration 1: 44 bytes in all, one interface, bus powered */
	0x09, 0x02, 0x2c, 0x00, 0x01, 0x01, 0x00, 0x80, 0x00,
	/* interface 0: two endpoints, class DC/02/01 (debug class, DbC, GNU remote debug) */
	0x09, 0x04, 0x00, 0x00, 0x02, 0xdc, 0x02, 0x01, 0x00,
	/* bulk OUT 0x01, 1024 bytes, and its companion */
	0x07, 0x05, 0x01, 0x02, 0x00, 0x04, 0x00, 0x06, 0x30, 0x00, 0x00, 0x00, 0x00,
	/* bulk IN 0x81, 1024 bytes, and its companion */
	0x07, 0x05, 0x81, 0x02, 0x00, 0x04, 0x00, 0x06, 0x30, 0x00, 0x00, 0x00, 0x00,
};

static const char *const strings[] = { NULL, "Linux Foundation", "Linux USB Debug Target" };

/* Device @d in sysfs (port d->devnum - 1 of root hub 1) and its node in /dev/bus/usb. */
static void add_device(struct dev *d)
{
	GString *s = g_string_new(NULL);
	int port = d->devnum - 1;
	GError *err = NULL;

	snprintf(d->syspath, sizeof(d->syspath),
		 "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%d", port);
	snprintf(d->devnode, sizeof(d->devnode), "/dev/bus/usb/001/%03d", d->devnum);
	g_string_append_printf(s, "P: %s\nN: %s\nE: DEVNAME=%s\n", d->syspath + strlen("/sys"),
			       d->devnode + strlen("/dev/"), d->devnode);
	g_string_append(s, "E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: PRODUCT=1d6b/10/10\n"
			   "E: TYPE=0/0/0\nE: BUSNUM=001\nE: MAJOR=189\nE: SUBSYSTEM=usb\n"
			   "A: bConfigurationValue=1\nA: bDeviceClass=00\nA: bNumConfigurations=1\n"
			   "A: bNumInterfaces= 1\nA: busnum=1\nA: idVendor=1d6b\nA: idProduct=0010\n"
			   "A: bcdDevice=0010\nA: manufacturer=Linux Foundation\n"
			   "A: product=Linux USB Debug Target\nA: speed=5000\n");
	g_string_append_printf(s, "E: DEVNUM=%03d\nE: MINOR=%d\nA: devnum=%d\nA: devpath=%d\n"
			       "A: dev=189:%d\n", d->devnum, d->devnum - 1, d->devnum, port,
			       d->devnum - 1);
	g_string_append_printf(s, "A: serial=%s\nH: descriptors=", d->serial);
	for (size_t i = 0; i < sizeof(descriptors); i++)
		g_string_append_printf(s, "%02X", descriptors[i]);
	g_string_append_c(s, '\n');
	if (!umockdev_testbed_add_from_string(g.tb, s->str, &err)) {
		fprintf(stderr, "dbc-testbed: cannot add the device: %s\n", err->message);
		exit(99);
	}
	g_string_free(s, TRUE);
}

/* ---- the stub side of the bulk pipe ---- */

static bool stub_connect(struct dev *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (d->stub >= 0 || !g.stub_path)
		return d->stub >= 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g.stub_path);
	d->stub = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->stub < 0 || connect(d->stub, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dbc-testbed: cannot connect to %s: %m\n", g.stub_path);
		if (d->stub >= 0)
			close(d->stub);
		d->stub = -1;
		return false;
	}
	d->stub_eof = false;
	d->stub_connects++;
	dbg("connected to the stub\n");
	return true;
}

static void stub_close(struct dev *d)
{
	if (d->stub >= 0) {
		close(d->stub);
		d->stub = -1;
		dbg("closed the stub connection\n");
	}
}

static bool muted(struct dev *d)
{
	return g.mute_after >= 0 && d->bytes_in >= g.mute_after;
}

static void stub_send(struct dev *d, const uint8_t *p, size_t len)
{
	if (muted(d) || !stub_connect(d))
		return;
	while (len > 0) {
		ssize_t n = send(d->stub, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			stub_close(d);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* ---- URBs ---- */

static struct usbdevfs_urb *U(struct urb *u)
{
	return (struct usbdevfs_urb *)u->urb->data;
}

static void urb_free(struct urb *u)
{
	g_object_unref(u->urb);
	if (u->buf)
		g_object_unref(u->buf);
	g_free(u);
}

static void urb_done(struct urb *u, int status, int actual)
{
	U(u)->status = status;
	U(u)->actual_length = actual;
	g_queue_push_tail(&u->dev->done, u);
}

/* A control transfer on ep0: the string descriptors (libusb reads the serial number with
 * them), the device descriptor; anything else stalls. */
static void control(struct urb *u)
{
	struct dev *d = u->dev;
	uint8_t *b = u->buf ? u->buf->data : NULL;
	int len = U(u)->buffer_length;
	uint8_t reply[256];
	int n = -1;

	if (!b || len < 8) {
		urb_done(u, -EINVAL, 0);
		return;
	}
	int type = b[3], index = b[2], wlength = b[6] | b[7] << 8;
	if (b[0] == 0x80 && b[1] == 0x06 && type == 0x03) { /* GET_DESCRIPTOR string */
		const char *str = index == 3 ? d->serial : index < 3 ? strings[index] : NULL;
		if (index == 0) {
			reply[0] = 4, reply[1] = 0x03, reply[2] = 0x09, reply[3] = 0x04;
			n = 4;
		} else if (str) {
			n = 2;
			for (const char *c = str; *c && n + 2 <= (int)sizeof(reply); c++) {
				reply[n++] = (uint8_t)*c;
				reply[n++] = 0;
			}
			reply[0] = (uint8_t)n, reply[1] = 0x03;
		}
	} else if (b[0] == 0x80 && b[1] == 0x06 && type == 0x01) {
		memcpy(reply, descriptors, 18);
		n = 18;
	}
	if (n < 0) {
		urb_done(u, -EPIPE, 0);
		return;
	}
	if (n > wlength)
		n = wlength;
	if (n > len - 8)
		n = len - 8;
	memcpy(b + 8, reply, (size_t)n);
	urb_done(u, 0, n);
}

static void unplug(struct dev *d);
static gboolean remove_device(gpointer dev);

/* Fill the oldest pending IN URB of @client from the stub, if it has sent something. */
static void poll_stub(struct dev *d, UMockdevIoctlClient *client)
{
	for (GList *l = d->pending.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client != client || U(u)->endpoint != EP_IN)
			continue;
		if (g.unplug_after >= 0 && d->bytes_in >= g.unplug_after) {
			unplug(d);
			return;
		}
		if (muted(d) && !d->mute_us) {
			g_mutex_lock(&g.lock);
			d->mute_us = g_get_monotonic_time();
			g_mutex_unlock(&g.lock);
		}
		if (d->stub < 0 || d->stub_eof || muted(d))
			return;
		/* stop at the byte asked for */
		long want = U(u)->buffer_length;
		if (g.unplug_after >= 0 && want > g.unplug_after - d->bytes_in)
			want = g.unplug_after - d->bytes_in;
		if (g.mute_after >= 0 && want > g.mute_after - d->bytes_in)
			want = g.mute_after - d->bytes_in;
		ssize_t n = recv(d->stub, u->buf->data, (size_t)want, MSG_DONTWAIT);
		if (n == 0) {
			d->stub_eof = true;
			dbg("the stub closed its end\n");
		}
		if (n <= 0)
			return;
		d->bytes_in += n;
		g_queue_delete_link(&d->pending, l);
		urb_done(u, 0, (int)n);
		return;
	}
}

/* The cable is pulled: in-flight URBs end with -ESHUTDOWN (the host controller's flush of
 * a vanished device's endpoints), the stub connection closes, the device leaves sysfs. */
static void unplug(struct dev *d)
{
	struct urb *u;

	if (d->unplugged)
		return;
	/* the "remove" uevent first, while the command still runs: once it sees the unplug
	 * (-ENODEV, -ESHUTDOWN) it may end at once and close the socket the uevent goes to, and
	 * umockdev aborts a testbed whose uevent cannot be sent ("Connection refused") */
	umockdev_testbed_uevent(g.tb, d->syspath, "remove");
	g_mutex_lock(&g.lock);
	d->unplugged = true;
	d->unplug_us = g_get_monotonic_time();
	g_mutex_unlock(&g.lock);
	dbg("unplugged after %ld bytes from the stub\n", d->bytes_in);
	while ((u = g_queue_pop_head(&d->pending)))
		urb_done(u, -ESHUTDOWN, 0);
	stub_close(d);
	g_idle_add(remove_device, d); /* in the main thread */
}

static gboolean remove_device(gpointer dev)
{
	struct dev *d = dev;

	umockdev_testbed_remove_device(g.tb, d->syspath);
	return G_SOURCE_REMOVE;
}

static int submit(struct dev *d, UMockdevIoctlClient *client, UMockdevIoctlData *data)
{
	struct usbdevfs_urb *urb = (struct usbdevfs_urb *)data->data;
	struct urb *u;
	GError *err = NULL;

	bool ctrl = urb->type == USBDEVFS_URB_TYPE_CONTROL && urb->endpoint == 0;
	bool bulk = urb->type == USBDEVFS_URB_TYPE_BULK &&
		    (urb->endpoint == EP_IN || urb->endpoint == EP_OUT);

	if (!ctrl && !bulk)
		return -ENOENT;
	if (urb->buffer_length < 0)
		return -EINVAL;
	/* not what the kernel does (it claims the interface itself): we want to know */
	if (bulk && !d->claimed)
		return -EPERM;
	u = g_new0(struct urb, 1);
	u->dev = d;
	u->client = client;
	u->urb = g_object_ref(data);
	if (urb->buffer_length > 0) {
		u->buf = umockdev_ioctl_data_resolve(data,
						     G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
						     (gsize)urb->buffer_length, &err);
		if (!u->buf) {
			fprintf(stderr, "dbc-testbed: cannot read the URB buffer: %s\n",
				err ? err->message : "null");
			g_clear_error(&err);
			g_object_unref(u->urb);
			g_free(u);
			return -EFAULT;
		}
	}
	d->urbs++;
	if (ctrl) {
		control(u);
	} else if (urb->endpoint == EP_OUT && !g.nak_out) {
		d->bytes_out += urb->buffer_length;
		if (urb->buffer_length > 0)
			stub_send(d, u->buf->data, (size_t)urb->buffer_length);
		urb_done(u, 0, urb->buffer_length);
	} else {
		g_queue_push_tail(&d->pending, u);
	}
	return 0;
}

static int discard(struct dev *d, UMockdevIoctlClient *client, gulong addr)
{
	for (GList *l = d->pending.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client == client && u->urb->client_addr == addr) {
			g_queue_delete_link(&d->pending, l);
			urb_done(u, -ENOENT, 0);
			return 0;
		}
	}
	return -EINVAL; /* done already: the kernel says EINVAL too */
}

static struct urb *reapable(struct dev *d, UMockdevIoctlClient *client)
{
	for (GList *l = d->done.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client == client) {
			g_queue_delete_link(&d->done, l);
			return u;
		}
	}
	return NULL;
}

static gboolean handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer dev)
{
	struct dev *d = dev;
	gulong req = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client), *data = NULL;
	gsize size = _IOC_SIZE(req);
	GError *err = NULL;
	int r = 0;

	if (size > 0) {
		data = umockdev_ioctl_data_resolve(arg, 0, size, &err);
		if (!data) {
			fprintf(stderr, "dbc-testbed: ioctl 0x%lx: cannot read its argument: %s\n",
				req, err ? err->message : "null");
			g_clear_error(&err);
			umockdev_ioctl_client_complete(client, -1, EFAULT);
			return TRUE;
		}
	}
	if (g_atomic_int_get(&g.unplug_requested))
		unplug(d);
	/* reaping works after a disconnect; nothing else does (usbfs: usbdev_do_ioctl) */
	if (d->unplugged && req != USBDEVFS_REAPURBNDELAY && req != USBDEVFS_REAPURB) {
		r = -ENODEV;
		goto out;
	}
	switch (req) {
	case USBDEVFS_GET_CAPABILITIES:
		/* what Linux gives for a device on an xHCI: scatter-gather capable bus */
		*(uint32_t *)data->data =
			USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
			USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_BULK_SCATTER_GATHER |
			USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
		break;
	case USBDEVFS_GETDRIVER: {
		struct usbdevfs_getdriver *gd = (void *)data->data;
		if (gd->interface != IFACE)
			r = -EINVAL;
		else if (d->claimed || g.busy)
			snprintf(gd->driver, sizeof(gd->driver), "usbfs");
		else if (d->driver_bound)
			snprintf(gd->driver, sizeof(gd->driver), "%s", g.driver);
		else
			r = -ENODATA;
		break;
	}
	case USBDEVFS_IOCTL: {
		struct usbdevfs_ioctl *io = (void *)data->data;
		if (io->ifno != IFACE) {
			r = -EINVAL;
		} else if (io->ioctl_code == USBDEVFS_DISCONNECT) {
			if (d->driver_bound && !g.busy) {
				d->driver_bound = false;
				d->detaches++;
				dbg("detached %s\n", g.driver);
			} else {
				r = -ENODATA;
			}
		} else if (io->ioctl_code == USBDEVFS_CONNECT) {
			if (d->claimed || g.busy || d->driver_bound) {
				r = -EBUSY;
			} else if (g.driver) {
				d->driver_bound = true;
				d->attaches++;
				dbg("re-attached %s\n", g.driver);
				r = 1; /* device_attach(): bound */
			}
		} else {
			r = -ENOTTY;
		}
		break;
	}
	case USBDEVFS_CLAIMINTERFACE:
		if (*(unsigned int *)data->data != IFACE) {
			r = -ENOENT;
		} else if (g.busy || d->driver_bound) {
			d->claim_refusals++;
			r = -EBUSY;
		} else {
			d->claimed = true;
			d->claims++;
		}
		break;
	case USBDEVFS_RELEASEINTERFACE:
		if (*(unsigned int *)data->data != IFACE || !d->claimed) {
			r = -EINVAL;
		} else {
			d->claimed = false;
			d->releases++;
			stub_close(d); /* the session is over: let the stub's target run */
		}
		break;
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
		break;
	case USBDEVFS_SUBMITURB:
		r = submit(d, client, data);
		break;
	case USBDEVFS_DISCARDURB:
		r = discard(d, client, *(gulong *)arg->data);
		break;
	case USBDEVFS_REAPURBNDELAY:
	case USBDEVFS_REAPURB: {
		struct urb *u = reapable(d, client);
		if (!u) {
			poll_stub(d, client);
			u = reapable(d, client);
		}
		if (!u) {
			/* REAPURB would block: libusb only uses the non-blocking one */
			r = d->unplugged ? -ENODEV : -EAGAIN;
			break;
		}
		umockdev_ioctl_data_set_ptr(data, 0, u->urb);
		urb_free(u);
		break;
	}
	default:
		dbg("ioctl 0x%lx not emulated\n", req);
		r = -ENOTTY;
	}
out:
	if (data)
		g_object_unref(data);
	umockdev_ioctl_client_complete(client, r < 0 ? -1 : r, r < 0 ? -r : 0);
	return TRUE;
}

/* The child closed the device: what it left in flight is gone. */
static void client_gone(GObject *obj, GParamSpec *pspec, gpointer dev)
{
	struct dev *d = dev;
	UMockdevIoctlClient *client = UMOCKDEV_IOCTL_CLIENT(obj);
	GQueue *qs[] = { &d->pending, &d->done };

	if (umockdev_ioctl_client_get_connected(client))
		return;
	dbg("client closed the device\n");
	for (int i = 0; i < 2; i++) {
		for (GList *l = qs[i]->head, *next; l; l = next) {
			struct urb *u = l->data;
			next = l->next;
			if (u->client == client) {
				g_queue_delete_link(qs[i], l);
				urb_free(u);
			}
		}
	}
	if (d->claimed) { /* closing the fd releases the interface */
		d->claimed = false;
		stub_close(d);
	}
}

static void client_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer d)
{
	dbg("client opened the device\n");
	g_signal_connect(client, "notify::connected", G_CALLBACK(client_gone), d);
}

/* ---- the child ---- */

static void child_exited(GPid pid, gint status, gpointer x)
{
	g_mutex_lock(&g.lock);
	g.child_status = status;
	g.child = 0;
	g_mutex_unlock(&g.lock);
	g_spawn_close_pid(pid);
	g_main_loop_quit(g.loop);
}

static gboolean child_timeout(gpointer x)
{
	if (g.child) {
		fprintf(stderr, "dbc-testbed: the command ran past %d s: killing it\n",
			g.timeout_s);
		g.killed = true;
		kill(g.child, SIGKILL);
	}
	return G_SOURCE_REMOVE;
}

/* SIGINT and SIGTERM are for the command: pass them on (a terminal's ^C reaches both of us) */
static gboolean forward_signal(gpointer sig)
{
	if (g.child)
		kill(g.child, GPOINTER_TO_INT(sig));
	return G_SOURCE_CONTINUE;
}

/* SIGUSR1 pulls the cable at the command's next usbfs call (libusb reaps at least every
 * 250 ms while kvmdci waits for the stub) */
static gboolean request_unplug(gpointer x)
{
	g_atomic_int_set(&g.unplug_requested, 1);
	return G_SOURCE_CONTINUE;
}

/* What happened to @d, as JSON members. */
static void report_dev(FILE *f, struct dev *d, gint64 t1)
{
	fprintf(f,
		"\"serial\": \"%s\", \"claims\": %d, \"claim_refusals\": %d, \"releases\": %d, "
		"\"driver_detaches\": %d, \"driver_attaches\": %d, \"driver_bound_at_end\": %s, "
		"\"stub_connects\": %d, \"bytes_out\": %ld, \"bytes_in\": %ld, \"urbs\": %ld, "
		"\"unplugged\": %s, \"unplug_to_exit_seconds\": ",
		d->serial, d->claims, d->claim_refusals, d->releases, d->detaches, d->attaches,
		d->driver_bound ? "true" : "false", d->stub_connects, d->bytes_out, d->bytes_in,
		d->urbs, d->unplugged ? "true" : "false");
	if (d->unplugged)
		fprintf(f, "%.3f", (double)(t1 - d->unplug_us) / 1e6);
	else
		fprintf(f, "null");
	fprintf(f, ", \"muted\": %s, \"mute_to_exit_seconds\": ", d->mute_us ? "true" : "false");
	if (d->mute_us)
		fprintf(f, "%.3f", (double)(t1 - d->mute_us) / 1e6);
	else
		fprintf(f, "null");
}

/* The first device's story at the top level, the second's under "second". */
static void write_report(gint64 t0, gint64 t1, int code)
{
	FILE *f;

	if (!g.report_path)
		return;
	f = fopen(g.report_path, "w");
	if (!f) {
		fprintf(stderr, "dbc-testbed: cannot write %s: %m\n", g.report_path);
		return;
	}
	g_mutex_lock(&g.lock);
	fprintf(f, "{\"exit_status\": %d, \"killed\": %s, \"child_seconds\": %.3f, ", code,
		g.killed ? "true" : "false", (double)(t1 - t0) / 1e6);
	report_dev(f, &g.dev[0], t1);
	if (g.ndev > 1) {
		fprintf(f, ", \"second\": {");
		report_dev(f, &g.dev[1], t1);
		fprintf(f, "}");
	}
	fprintf(f, "}\n");
	g_mutex_unlock(&g.lock);
	fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: umockdev-wrapper dbc-testbed [--stub SOCKET] [--report FILE] "
		   "[--serial S] [--second S] [--driver NAME] [--no-device] [--busy]\n"
		   "       [--mute] [--mute-after BYTES] [--nak-out] [--unplug-after BYTES] "
		   "[--timeout S] [--verbose] -- COMMAND [ARGS...]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stub", required_argument, NULL, 's' },
		{ "report", required_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "second", required_argument, NULL, '2' },
		{ "driver", required_argument, NULL, 'd' },
		{ "no-device", no_argument, NULL, 'n' },
		{ "busy", no_argument, NULL, 'b' },
		{ "mute", no_argument, NULL, 'm' },
		{ "mute-after", required_argument, NULL, 'M' },
		{ "nak-out", no_argument, NULL, 'N' },
		{ "unplug-after", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	UMockdevIoctlBase *handler;
	GError *err = NULL;
	gint64 t0, t1;
	int c, code;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 's': g.stub_path = optarg; break;
		case 'r': g.report_path = optarg; break;
		case 'S': g.dev[0].serial = optarg; break;
		case '2': g.dev[1].serial = optarg, g.ndev = 2; break;
		case 'd': g.driver = optarg; break;
		case 'n': g.no_device = true; break;
		case 'b': g.busy = true; break;
		case 'm': g.mute_after = 0; break;
		case 'M': g.mute_after = atol(optarg); break;
		case 'N': g.nak_out = true; break;
		case 'u': g.unplug_after = atol(optarg); break;
		case 't': g.timeout_s = atoi(optarg); break;
		case 'v': g.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* umockdev_in_mock_environment() only answers once a testbed exists */
	if (!strstr(g_getenv("LD_PRELOAD") ?: "", "libumockdev-preload")) {
		fprintf(stderr, "dbc-testbed: run me under umockdev-wrapper\n");
		return 99;
	}
	g_mutex_init(&g.lock);
	g.tb = umockdev_testbed_new();
	for (int i = 0; i < g.ndev && !g.no_device; i++) {
		struct dev *d = &g.dev[i];
		d->driver_bound = g.driver != NULL;
		add_device(d);
		handler = umockdev_ioctl_base_new();
		g_signal_connect(handler, "handle-ioctl", G_CALLBACK(handle_ioctl), d);
		g_signal_connect(handler, "client-connected", G_CALLBACK(client_connected), d);
		if (!umockdev_testbed_attach_ioctl(g.tb, d->devnode, handler, &err)) {
			fprintf(stderr, "dbc-testbed: cannot attach the ioctl handler: %s\n",
				err->message);
			return 99;
		}
	}
	g.loop = g_main_loop_new(NULL, FALSE);
	/* the command gets keep-errno.c's usleep() ahead of umockdev's preload */
	char **env = g_get_environ();
	char *preload = g_strdup_printf("%s:%s", KEEP_ERRNO_SO, g_getenv("LD_PRELOAD"));
	env = g_environ_setenv(env, "LD_PRELOAD", preload, TRUE);
	t0 = g_get_monotonic_time();
	if (!g_spawn_async(NULL, argv + optind, env,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
				   G_SPAWN_CHILD_INHERITS_STDIN,
			   NULL, NULL, &g.child, &err)) {
		fprintf(stderr, "dbc-testbed: cannot run %s: %s\n", argv[optind], err->message);
		return 99;
	}
	g_strfreev(env);
	g_free(preload);
	g_child_watch_add(g.child, child_exited, NULL);
	g_unix_signal_add(SIGINT, forward_signal, GINT_TO_POINTER(SIGINT));
	g_unix_signal_add(SIGTERM, forward_signal, GINT_TO_POINTER(SIGTERM));
	g_unix_signal_add(SIGUSR1, request_unplug, NULL);
	g_timeout_add_seconds((guint)g.timeout_s, child_timeout, NULL);
	g_main_loop_run(g.loop);
	t1 = g_get_monotonic_time();
	if (WIFEXITED(g.child_status))
		code = WEXITSTATUS(g.child_status);
	else if (WIFSIGNALED(g.child_status))
		code = 128 + WTERMSIG(g.child_status);
	else
		code = 99;
	write_report(t0, t1, code);
	/* the worker thread may still hold the stub: close it before we go */
	g_mutex_lock(&g.lock);
	for (int i = 0; i < g.ndev; i++)
		stub_close(&g.dev[i]);
	g_mutex_unlock(&g.lock);
	return code;
}
