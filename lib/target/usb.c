// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * usb://VID:PID[?serial=S&if=N] and usb://class=CC/SS/PP: the GDB remote protocol over a USB
 * bulk pipe through libusb-1.0, for a USB 3 debug-class (DbC) cable: the debug target's xHCI
 * shows up on the debug host as 1d6b:0010 with one interface of class DC/02/01 and bulk
 * endpoints OUT 0x01 / IN 0x81 (docs/transports.md, "The xHCI Debug Capability"). Linux binds the
 * usb_debug serial driver to it; we detach that driver while we hold the interface and give
 * it back at close. Endpoints come from the descriptors, never hard-coded. An unplug
 * (LIBUSB_ERROR_NO_DEVICE) becomes -ENODEV with "the USB device is gone".
 */
#include <libusb.h>
#include <stdlib.h>

#include "config.h"
#include "internal.h"
#include "target/dlib.h"
#include "target/transport.h"

#define READ_CHUNK 16384
#define WRITE_TIMEOUT_MS 5000
/* libusb cannot be interrupted by a signal: wait in slices so callers see their flags */
#define READ_SLICE_MS 250

/* libusb: loaded when the first usb:// target is opened (target/dlib.h); linked, it and libudev
 * cost every start of every tool their dynamic loading. */
#define USB_FUNCS(X) \
	X(libusb_attach_kernel_driver) X(libusb_bulk_transfer) X(libusb_claim_interface) \
	X(libusb_clear_halt) X(libusb_close) X(libusb_detach_kernel_driver) X(libusb_exit) \
	X(libusb_free_config_descriptor) X(libusb_free_device_list) \
	X(libusb_get_active_config_descriptor) X(libusb_get_bus_number) \
	X(libusb_get_config_descriptor) X(libusb_get_device_address) \
	X(libusb_get_device_descriptor) X(libusb_get_device_list) \
	X(libusb_get_string_descriptor_ascii) X(libusb_init) X(libusb_kernel_driver_active) \
	X(libusb_open) X(libusb_release_interface) X(libusb_strerror)
static struct dlib usb_dl = { .soname = KVMDCI_LIBUSB_SONAME };
static struct {
	USB_FUNCS(DLIB_PTR)
} usb_lib;

static bool usb_lib_syms(void)
{
#define USB_SYM(f) DLIB_SYM(&usb_dl, usb_lib, f)
	USB_FUNCS(USB_SYM)
#undef USB_SYM
	return true;
}

static bool usb_lib_load(void)
{
	if (!usb_dl.tried && dlib_open(&usb_dl))
		usb_dl.ok = usb_lib_syms();
	return usb_dl.ok;
}

struct usb {
	libusb_context *uctx;
	libusb_device_handle *h;
	int iface;
	uint8_t ep_in, ep_out;
	uint16_t in_packet;
	bool claimed;
	bool reattach;
	bool gone;
	char desc[64]; /* "1d6b:0010 bus 1 device 2 interface 0" */
};

/* libusb errors as -errno (the detail goes to the log). */
static int usb_errno(int e)
{
	switch (e) {
	case LIBUSB_ERROR_IO: return -EIO;
	case LIBUSB_ERROR_INVALID_PARAM: return -EINVAL;
	case LIBUSB_ERROR_ACCESS: return -EACCES;
	case LIBUSB_ERROR_NO_DEVICE: return -ENODEV;
	case LIBUSB_ERROR_NOT_FOUND: return -ENOENT;
	case LIBUSB_ERROR_BUSY: return -EBUSY;
	case LIBUSB_ERROR_TIMEOUT: return -ETIMEDOUT;
	case LIBUSB_ERROR_OVERFLOW: return -EOVERFLOW;
	case LIBUSB_ERROR_PIPE: return -EPIPE;
	case LIBUSB_ERROR_INTERRUPTED: return -EINTR;
	case LIBUSB_ERROR_NO_MEM: return -ENOMEM;
	case LIBUSB_ERROR_NOT_SUPPORTED: return -EOPNOTSUPP;
	default: return -EIO;
	}
}

static int gone(struct transport *tr, struct usb *u)
{
	/* the RSP layer keeps this as the cause of the lost connection: the errors of the reads
	 * that fail after it carry it (kvmdci_ctx_last_error) */
	snprintf(tr->why, sizeof(tr->why), "the USB device is gone (%s unplugged?)", u->desc);
	u->gone = true;
	return -ENODEV;
}

static ssize_t usb_read(struct transport *tr, void *buf, size_t len, int timeout_ms)
{
	struct usb *u = tr->priv;
	int got = 0, slice = timeout_ms < 0 || timeout_ms > READ_SLICE_MS ? READ_SLICE_MS
									 : timeout_ms;
	int e;

	if (slice <= 0)
		slice = 1; /* libusb takes 0 as "no timeout" */
	/* whole packets only, or a full packet from the device overflows the transfer */
	if (len > READ_CHUNK)
		len = READ_CHUNK;
	len -= len % u->in_packet;
	if (len == 0)
		return -EINVAL;
	e = usb_lib.libusb_bulk_transfer(u->h, u->ep_in, buf, (int)len, &got, (unsigned int)slice);
	if (got > 0)
		return got; /* a timeout may still have delivered bytes */
	switch (e) {
	case 0:
	case LIBUSB_ERROR_TIMEOUT:
	case LIBUSB_ERROR_INTERRUPTED:
		return 0;
	case LIBUSB_ERROR_NO_DEVICE:
		return gone(tr, u);
	case LIBUSB_ERROR_PIPE:
		usb_lib.libusb_clear_halt(u->h, u->ep_in);
		/* fall through */
	default:
		snprintf(tr->why, sizeof(tr->why), "bulk IN 0x%02x of %s: %s", u->ep_in, u->desc,
			 usb_lib.libusb_strerror(e));
		return usb_errno(e);
	}
}

static int usb_write(struct transport *tr, const void *buf, size_t len)
{
	struct usb *u = tr->priv;
	const uint8_t *p = buf;

	while (len > 0) {
		int n = len > READ_CHUNK ? READ_CHUNK : (int)len, done = 0;
		int e = usb_lib.libusb_bulk_transfer(u->h, u->ep_out, (uint8_t *)p, n, &done,
					     WRITE_TIMEOUT_MS);
		p += done;
		len -= (size_t)done;
		if (e == 0)
			continue;
		if (e == LIBUSB_ERROR_NO_DEVICE)
			return gone(tr, u);
		if (e == LIBUSB_ERROR_TIMEOUT)
			snprintf(tr->why, sizeof(tr->why),
				 "bulk OUT 0x%02x of %s took no data for %d s (is the debug "
				 "target's DbC enabled and its agent running?)",
				 u->ep_out, u->desc, WRITE_TIMEOUT_MS / 1000);
		else
			snprintf(tr->why, sizeof(tr->why), "bulk OUT 0x%02x of %s: %s", u->ep_out,
				 u->desc, usb_lib.libusb_strerror(e));
		return usb_errno(e);
	}
	return 0;
}

static void usb_free(struct usb *u)
{
	if (!u)
		return;
	if (u->h) {
		/* an unplugged device has no interface to release nor driver to give back */
		if (u->claimed && !u->gone)
			usb_lib.libusb_release_interface(u->h, u->iface);
		if (u->reattach && !u->gone)
			usb_lib.libusb_attach_kernel_driver(u->h, u->iface);
		usb_lib.libusb_close(u->h);
	}
	if (u->uctx)
		usb_lib.libusb_exit(u->uctx);
	free(u);
}

static void usb_close(struct transport *tr)
{
	usb_free(tr->priv);
	tr->priv = NULL;
}

static const struct transport_ops usb_ops = {
	.name = "usb",
	.read = usb_read,
	.write = usb_write,
	.close = usb_close,
};

/* The interface of @cfg the URI asks for, with its bulk IN and OUT endpoints: by number
 * (if=N), by class (usb://class=...), else the first DC/02 (DbC) interface, else the first
 * with a bulk pair. Returns the interface number or -1. */
static int pick_interface(const struct target_uri *uri, const struct libusb_config_descriptor *cfg,
			  uint8_t *ep_in, uint8_t *ep_out, uint16_t *in_packet)
{
	int best = -1, best_score = 0;

	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		if (cfg->interface[i].num_altsetting < 1)
			continue;
		const struct libusb_interface_descriptor *id = &cfg->interface[i].altsetting[0];
		uint8_t in = 0, out = 0;
		uint16_t mps = 0;
		int score;
		for (int e = 0; e < id->bNumEndpoints; e++) {
			const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];
			if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
				continue;
			if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) && !in) {
				in = ep->bEndpointAddress;
				mps = ep->wMaxPacketSize;
			} else if (!(ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) && !out) {
				out = ep->bEndpointAddress;
			}
		}
		if (!in || !out)
			continue;
		if (uri->interface >= 0 && id->bInterfaceNumber != uri->interface)
			continue;
		if (uri->usb_by_class &&
		    (id->bInterfaceClass != uri->cls || id->bInterfaceSubClass != uri->subclass ||
		     id->bInterfaceProtocol != uri->protocol))
			continue;
		score = id->bInterfaceClass == 0xdc && id->bInterfaceSubClass == 0x02 ? 2 : 1;
		if (score > best_score) {
			best = id->bInterfaceNumber;
			best_score = score;
			*ep_in = in;
			*ep_out = out;
			*in_packet = mps ? mps : 512;
		}
	}
	return best;
}

static void describe(const struct target_uri *uri, char *buf, size_t sz)
{
	if (uri->usb_by_class)
		snprintf(buf, sz, "with an interface of class %02x/%02x/%02x", uri->cls,
			 uri->subclass, uri->protocol);
	else
		snprintf(buf, sz, "%04x:%04x", uri->vid, uri->pid);
	if (uri->serial[0])
		snprintf(buf + strlen(buf), sz - strlen(buf), " serial %s", uri->serial);
	if (uri->interface >= 0)
		snprintf(buf + strlen(buf), sz - strlen(buf), " interface %d", uri->interface);
}

int usb_transport_open(struct kvmdci_ctx *ctx, const struct target_uri *uri,
		       struct transport **ret)
{
	struct usb *u = calloc(1, sizeof(*u));
	libusb_device **list = NULL;
	struct transport *tr;
	char what[200];
	int r, n, matches = 0;

	if (!usb_lib_load()) {
		kvmdci_err(ctx, "usb: a usb:// target needs libusb-1.0, which cannot be loaded (%s): "
				"install it (Debian: libusb-1.0-0)", usb_dl.err);
		free(u);
		return -ENOPKG;
	}
	if (!u)
		return -ENOMEM;
	describe(uri, what, sizeof(what));
	if ((r = usb_lib.libusb_init(&u->uctx)) < 0) {
		u->uctx = NULL;
		kvmdci_err(ctx, "usb: cannot initialise libusb: %s", usb_lib.libusb_strerror(r));
		r = usb_errno(r);
		goto fail;
	}
	n = (int)usb_lib.libusb_get_device_list(u->uctx, &list);
	if (n < 0) {
		kvmdci_err(ctx, "usb: cannot list USB devices: %s", usb_lib.libusb_strerror(n));
		r = usb_errno(n);
		goto fail;
	}
	r = -ENODEV;
	for (int i = 0; i < n; i++) {
		struct libusb_device_descriptor dd;
		struct libusb_config_descriptor *cfg;
		libusb_device_handle *h;
		uint8_t in = 0, out = 0;
		uint16_t mps = 0;
		int ifn;

		if (usb_lib.libusb_get_device_descriptor(list[i], &dd) < 0)
			continue;
		if (!uri->usb_by_class && (dd.idVendor != uri->vid || dd.idProduct != uri->pid))
			continue;
		if (usb_lib.libusb_get_active_config_descriptor(list[i], &cfg) < 0 &&
		    usb_lib.libusb_get_config_descriptor(list[i], 0, &cfg) < 0)
			continue;
		ifn = pick_interface(uri, cfg, &in, &out, &mps);
		usb_lib.libusb_free_config_descriptor(cfg);
		if (ifn < 0)
			continue;
		int e = usb_lib.libusb_open(list[i], &h);
		if (e < 0) {
			kvmdci_err(ctx, "usb: cannot open %04x:%04x (bus %d device %d): %s%s",
				   dd.idVendor, dd.idProduct, usb_lib.libusb_get_bus_number(list[i]),
				   usb_lib.libusb_get_device_address(list[i]), usb_lib.libusb_strerror(e),
				   e == LIBUSB_ERROR_ACCESS ? " (run as root or add a udev rule "
							      "for the device)" : "");
			r = usb_errno(e);
			continue;
		}
		if (uri->serial[0]) {
			unsigned char sn[128] = "";
			if (!dd.iSerialNumber ||
			    usb_lib.libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, sn,
							       sizeof(sn)) < 0 ||
			    strcmp((char *)sn, uri->serial) != 0) {
				usb_lib.libusb_close(h);
				continue;
			}
		}
		if (matches++ == 0) {
			u->h = h;
			u->iface = ifn;
			u->ep_in = in;
			u->ep_out = out;
			u->in_packet = mps;
			snprintf(u->desc, sizeof(u->desc), "%04x:%04x bus %d device %d",
				 dd.idVendor, dd.idProduct, usb_lib.libusb_get_bus_number(list[i]),
				 usb_lib.libusb_get_device_address(list[i]));
		} else {
			usb_lib.libusb_close(h);
		}
	}
	usb_lib.libusb_free_device_list(list, 1);
	if (!u->h) {
		if (r == -ENODEV)
			kvmdci_err(ctx, "usb: no USB device %s (is the debug cable plugged in and "
					"the target's DbC enabled? lsusb lists what is there)", what);
		goto fail;
	}
	if (matches > 1)
		kvmdci_warn(ctx, "usb: %d devices match %s; using %s (pick one with ?serial=S)",
			    matches, what, u->desc);
	r = usb_lib.libusb_kernel_driver_active(u->h, u->iface);
	if (r == 1) {
		r = usb_lib.libusb_detach_kernel_driver(u->h, u->iface);
		if (r < 0) {
			kvmdci_err(ctx, "usb: %s: cannot detach the kernel driver (usb_debug?) from "
					"interface %d: %s", u->desc, u->iface, usb_lib.libusb_strerror(r));
			r = usb_errno(r);
			goto fail;
		}
		u->reattach = true;
		kvmdci_info(ctx, "usb: %s: detached the kernel driver from interface %d", u->desc,
			    u->iface);
	}
	r = usb_lib.libusb_claim_interface(u->h, u->iface);
	if (r < 0) {
		kvmdci_err(ctx, "usb: %s: cannot claim interface %d: %s%s", u->desc, u->iface,
			   usb_lib.libusb_strerror(r),
			   r == LIBUSB_ERROR_BUSY ? " (another program holds it)" : "");
		r = usb_errno(r);
		goto fail;
	}
	u->claimed = true;
	snprintf(u->desc + strlen(u->desc), sizeof(u->desc) - strlen(u->desc), " interface %d",
		 u->iface);
	kvmdci_info(ctx, "usb: %s: bulk IN 0x%02x (%u-byte packets), OUT 0x%02x", u->desc,
		    u->ep_in, u->in_packet, u->ep_out);
	if ((r = transport_new_fd(ctx, &usb_ops, -1, &tr)) < 0)
		goto fail;
	tr->priv = u;
	*ret = tr;
	return 0;
fail:
	usb_free(u);
	return r;
}
