// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dbc-testbed: a USB 3 debug-class (DbC) cable emulated with umockdev, for testing usb://
 * without hardware. Run under umockdev-wrapper (it preloads libumockdev-preload):
 *
 *   umockdev-wrapper dbc-testbed [OPTIONS] -- COMMAND [ARGS...]
 *
 * It builds a umockdev testbed holding one device 1d6b:0010 on bus 1 (device 2) as the Linux
 * xHCI DbC shows up on a debug host: one configuration, interface 0 of class DC/02/01, bulk
 * OUT 0x01 and bulk IN 0x81 with 1024-byte packets (../shared/reference/transports.md). A
 * UMockdevIoctlBase handler answers the usbfs ioctls libusb-1.0 issues on
 * /dev/bus/usb/001/002 (capabilities, driver query, detach/attach, claim/release, URB submit,
 * reap, discard, clear halt) and carries the bulk pipe to a GDB stub's unix socket (--stub):
 * what the host writes to OUT 0x01 goes to the socket, what the socket sends fills IN 0x81
 * URBs. COMMAND runs as our child and inherits the preload and $UMOCKDEV_DIR, so its libusb
 * sees only this device. Our exit status is the child's (128+signal if killed).
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
#include <fcntl.h>
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

#define SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define DEVNODE "/dev/bus/usb/001/002"
#define EP_OUT 0x01
#define EP_IN 0x81
#define IFACE 0

struct urb {
	UMockdevIoctlClient *client;
	UMockdevIoctlData *urb; /* the client's struct usbdevfs_urb */
	UMockdevIoctlData *buf; /* its buffer */
	gint64 submitted_us;
};

static struct {
	/* options */
	const char *stub_path;
	const char *report_path;
	const char *serial;
	const char *driver; /* kernel driver bound at the start ("usb_debug"), or NULL */
	bool no_device, busy, nak_out, verbose;
	long unplug_after; /* bytes from the stub, -1: never */
	long mute_after;   /* bytes from the stub, then it answers no more; -1: never */
	int timeout_s;

	/* device state; the worker thread owns it, the lock guards what main reads */
	GMutex lock;
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

	UMockdevTestbed *tb;
	GMainLoop *loop;
	GPid child;
	int child_status;
	bool killed;
	gint unplug_requested; /* SIGUSR1 */
} g = {
	.stub = -1,
	.unplug_after = -1,
	.mute_after = -1,
	.timeout_s = 300,
	.serial = "0001",
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

static void add_device(void)
{
	GString *s = g_string_new(NULL);
	GError *err = NULL;

	g_string_append_printf(s, "P: %s\nN: %s\n", SYSPATH + strlen("/sys"),
			       DEVNODE + strlen("/dev/"));
	g_string_append(s, "E: DEVNAME=" DEVNODE "\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
			   "E: PRODUCT=1d6b/10/10\nE: TYPE=0/0/0\nE: BUSNUM=001\nE: DEVNUM=002\n"
			   "E: MAJOR=189\nE: MINOR=1\nE: SUBSYSTEM=usb\n"
			   "A: bConfigurationValue=1\nA: bDeviceClass=00\nA: bNumConfigurations=1\n"
			   "A: bNumInterfaces= 1\nA: busnum=1\nA: devnum=2\nA: devpath=1\n"
			   "A: dev=189:1\nA: idVendor=1d6b\nA: idProduct=0010\nA: bcdDevice=0010\n"
			   "A: manufacturer=Linux Foundation\nA: product=Linux USB Debug Target\n"
			   "A: speed=5000\n");
	g_string_append_printf(s, "A: serial=%s\nH: descriptors=", g.serial);
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

static bool stub_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (g.stub >= 0 || !g.stub_path)
		return g.stub >= 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g.stub_path);
	g.stub = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g.stub < 0 || connect(g.stub, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dbc-testbed: cannot connect to %s: %m\n", g.stub_path);
		if (g.stub >= 0)
			close(g.stub);
		g.stub = -1;
		return false;
	}
	g.stub_eof = false;
	g.stub_connects++;
	dbg("connected to the stub\n");
	return true;
}

static void stub_close(void)
{
	if (g.stub >= 0) {
		close(g.stub);
		g.stub = -1;
		dbg("closed the stub connection\n");
	}
}

static bool muted(void)
{
	return g.mute_after >= 0 && g.bytes_in >= g.mute_after;
}

static void stub_send(const uint8_t *p, size_t len)
{
	if (muted() || !stub_connect())
		return;
	while (len > 0) {
		ssize_t n = send(g.stub, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			stub_close();
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
	g_queue_push_tail(&g.done, u);
}

/* A control transfer on ep0: the string descriptors (libusb reads the serial number with
 * them), the device descriptor; anything else stalls. */
static void control(struct urb *u)
{
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
		const char *str = index == 3 ? g.serial : index < 3 ? strings[index] : NULL;
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

static void unplug(void);
static gboolean remove_device(gpointer unused);

/* Fill the oldest pending IN URB of @client from the stub, if it has sent something. */
static void poll_stub(UMockdevIoctlClient *client)
{
	for (GList *l = g.pending.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client != client || U(u)->endpoint != EP_IN)
			continue;
		if (g.unplug_after >= 0 && g.bytes_in >= g.unplug_after) {
			unplug();
			return;
		}
		if (muted() && !g.mute_us) {
			g_mutex_lock(&g.lock);
			g.mute_us = g_get_monotonic_time();
			g_mutex_unlock(&g.lock);
		}
		if (g.stub < 0 || g.stub_eof || muted())
			return;
		/* stop at the byte asked for */
		long want = U(u)->buffer_length;
		if (g.unplug_after >= 0 && want > g.unplug_after - g.bytes_in)
			want = g.unplug_after - g.bytes_in;
		if (g.mute_after >= 0 && want > g.mute_after - g.bytes_in)
			want = g.mute_after - g.bytes_in;
		ssize_t n = recv(g.stub, u->buf->data, (size_t)want, MSG_DONTWAIT);
		if (n == 0) {
			g.stub_eof = true;
			dbg("the stub closed its end\n");
		}
		if (n <= 0)
			return;
		g.bytes_in += n;
		g_queue_delete_link(&g.pending, l);
		urb_done(u, 0, (int)n);
		return;
	}
}

/* The cable is pulled: in-flight URBs end with -ESHUTDOWN (the host controller's flush of
 * a vanished device's endpoints), the stub connection closes, the device leaves sysfs. */
static void unplug(void)
{
	struct urb *u;

	if (g.unplugged)
		return;
	g_mutex_lock(&g.lock);
	g.unplugged = true;
	g.unplug_us = g_get_monotonic_time();
	g_mutex_unlock(&g.lock);
	dbg("unplugged after %ld bytes from the stub\n", g.bytes_in);
	while ((u = g_queue_pop_head(&g.pending)))
		urb_done(u, -ESHUTDOWN, 0);
	stub_close();
	g_idle_add(remove_device, NULL); /* in the main thread */
}

static gboolean remove_device(gpointer unused)
{
	umockdev_testbed_uevent(g.tb, SYSPATH, "remove");
	umockdev_testbed_remove_device(g.tb, SYSPATH);
	return G_SOURCE_REMOVE;
}

static int submit(UMockdevIoctlClient *client, UMockdevIoctlData *data)
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
	if (bulk && !g.claimed)
		return -EPERM;
	u = g_new0(struct urb, 1);
	u->client = client;
	u->urb = g_object_ref(data);
	u->submitted_us = g_get_monotonic_time();
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
	g.urbs++;
	if (ctrl) {
		control(u);
	} else if (urb->endpoint == EP_OUT && !g.nak_out) {
		g.bytes_out += urb->buffer_length;
		if (urb->buffer_length > 0)
			stub_send(u->buf->data, (size_t)urb->buffer_length);
		urb_done(u, 0, urb->buffer_length);
	} else {
		g_queue_push_tail(&g.pending, u);
	}
	return 0;
}

static int discard(UMockdevIoctlClient *client, gulong addr)
{
	for (GList *l = g.pending.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client == client && u->urb->client_addr == addr) {
			g_queue_delete_link(&g.pending, l);
			urb_done(u, -ENOENT, 0);
			return 0;
		}
	}
	return -EINVAL; /* done already: the kernel says EINVAL too */
}

static struct urb *reapable(UMockdevIoctlClient *client)
{
	for (GList *l = g.done.head; l; l = l->next) {
		struct urb *u = l->data;
		if (u->client == client) {
			g_queue_delete_link(&g.done, l);
			return u;
		}
	}
	return NULL;
}

static gboolean handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer x)
{
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
		unplug();
	/* reaping works after a disconnect; nothing else does (usbfs: usbdev_do_ioctl) */
	if (g.unplugged && req != USBDEVFS_REAPURBNDELAY && req != USBDEVFS_REAPURB) {
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
		else if (g.claimed || g.busy)
			snprintf(gd->driver, sizeof(gd->driver), "usbfs");
		else if (g.driver_bound)
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
			if (g.driver_bound && !g.busy) {
				g.driver_bound = false;
				g.detaches++;
				dbg("detached %s\n", g.driver);
			} else {
				r = -ENODATA;
			}
		} else if (io->ioctl_code == USBDEVFS_CONNECT) {
			if (g.claimed || g.busy || g.driver_bound) {
				r = -EBUSY;
			} else if (g.driver) {
				g.driver_bound = true;
				g.attaches++;
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
		} else if (g.busy || g.driver_bound) {
			g.claim_refusals++;
			r = -EBUSY;
		} else {
			g.claimed = true;
			g.claims++;
		}
		break;
	case USBDEVFS_RELEASEINTERFACE:
		if (*(unsigned int *)data->data != IFACE || !g.claimed) {
			r = -EINVAL;
		} else {
			g.claimed = false;
			g.releases++;
			stub_close(); /* the session is over: let the stub's target run */
		}
		break;
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
		break;
	case USBDEVFS_SUBMITURB:
		r = submit(client, data);
		break;
	case USBDEVFS_DISCARDURB:
		r = discard(client, *(gulong *)arg->data);
		break;
	case USBDEVFS_REAPURBNDELAY:
	case USBDEVFS_REAPURB: {
		struct urb *u = reapable(client);
		if (!u) {
			poll_stub(client);
			u = reapable(client);
		}
		if (!u) {
			/* REAPURB would block: libusb only uses the non-blocking one */
			r = g.unplugged ? -ENODEV : -EAGAIN;
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
static void client_gone(GObject *obj, GParamSpec *pspec, gpointer x)
{
	UMockdevIoctlClient *client = UMOCKDEV_IOCTL_CLIENT(obj);
	GQueue *qs[] = { &g.pending, &g.done };

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
	if (g.claimed) { /* closing the fd releases the interface */
		g.claimed = false;
		stub_close();
	}
}

static void client_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer x)
{
	dbg("client opened the device\n");
	g_signal_connect(client, "notify::connected", G_CALLBACK(client_gone), NULL);
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
	fprintf(f,
		"{\"exit_status\": %d, \"killed\": %s, \"child_seconds\": %.3f, "
		"\"claims\": %d, \"claim_refusals\": %d, \"releases\": %d, "
		"\"driver_detaches\": %d, \"driver_attaches\": %d, \"driver_bound_at_end\": %s, "
		"\"stub_connects\": %d, \"bytes_out\": %ld, \"bytes_in\": %ld, \"urbs\": %ld, "
		"\"unplugged\": %s, \"unplug_to_exit_seconds\": ",
		code, g.killed ? "true" : "false", (double)(t1 - t0) / 1e6, g.claims,
		g.claim_refusals, g.releases, g.detaches, g.attaches,
		g.driver_bound ? "true" : "false", g.stub_connects, g.bytes_out, g.bytes_in,
		g.urbs, g.unplugged ? "true" : "false");
	if (g.unplugged)
		fprintf(f, "%.3f", (double)(t1 - g.unplug_us) / 1e6);
	else
		fprintf(f, "null");
	fprintf(f, ", \"muted\": %s, \"mute_to_exit_seconds\": ", g.mute_us ? "true" : "false");
	if (g.mute_us)
		fprintf(f, "%.3f}\n", (double)(t1 - g.mute_us) / 1e6);
	else
		fprintf(f, "null}\n");
	g_mutex_unlock(&g.lock);
	fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: umockdev-wrapper dbc-testbed [--stub SOCKET] [--report FILE] "
		   "[--serial S] [--driver NAME] [--no-device] [--busy] [--mute]\n"
		   "       [--mute-after BYTES] [--nak-out] [--unplug-after BYTES] [--timeout S] "
		   "[--verbose] -- COMMAND [ARGS...]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stub", required_argument, NULL, 's' },
		{ "report", required_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
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
		case 'S': g.serial = optarg; break;
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
	g.driver_bound = g.driver != NULL;
	g.tb = umockdev_testbed_new();
	if (!g.no_device) {
		add_device();
		handler = umockdev_ioctl_base_new();
		g_signal_connect(handler, "handle-ioctl", G_CALLBACK(handle_ioctl), NULL);
		g_signal_connect(handler, "client-connected", G_CALLBACK(client_connected), NULL);
		if (!umockdev_testbed_attach_ioctl(g.tb, DEVNODE, handler, &err)) {
			fprintf(stderr, "dbc-testbed: cannot attach the ioctl handler: %s\n",
				err->message);
			return 99;
		}
	}
	g.loop = g_main_loop_new(NULL, FALSE);
	t0 = g_get_monotonic_time();
	if (!g_spawn_async(NULL, argv + optind, NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
				   G_SPAWN_CHILD_INHERITS_STDIN,
			   NULL, NULL, &g.child, &err)) {
		fprintf(stderr, "dbc-testbed: cannot run %s: %s\n", argv[optind], err->message);
		return 99;
	}
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
	stub_close();
	g_mutex_unlock(&g.lock);
	return code;
}
