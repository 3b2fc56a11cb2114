// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Can this machine be debugged (or debug another) through Intel DCI? Three things say it:
 * CPUID.1:ECX[11] SDBG (the CPU has IA32_DEBUG_INTERFACE, MSR 0xC80), the MSR itself on each
 * CPU (enable, lock, debug occurred; decoded in dci.c) read through the msr driver's
 * /dev/cpu/N/msr, and the USB debug-class devices in sysfs (interface class 0xDC; the xHCI
 * Debug Capability enumerates as 1d6b:0010, or 1d6b:0011 for its early-printk use).
 */
#include <cpuid.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

#define MSR_IA32_DEBUG_INTERFACE 0xc80

struct usb_dev {
	char *device;
	const char *kind;
};

struct kvmdci_dci {
	int refcount;
	char vendor[13];
	bool sdbg;
	struct kvmdci_dci_cpu *cpus;
	int ncpus, readable, enabled, locked, first_err;
	char usb_dir[512];
	bool usb_stack;
	struct usb_dev *usb;
	int nusb;
	enum kvmdci_dci_state state;
	char verdict[320];
};

static int read_msr(const char *root, int cpu, uint64_t *val)
{
	char path[512];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/dev/cpu/%d/msr", root, cpu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = pread(fd, val, 8, MSR_IA32_DEBUG_INTERFACE);
	err = n == 8 ? 0 : n < 0 ? errno : EIO;
	close(fd);
	return err;
}

static int read_hex(const char *dir, const char *name, unsigned *val)
{
	char path[1024], b[32], *end;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(b, sizeof(b), f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	*val = (unsigned)strtoul(b, &end, 16);
	return end != b ? 0 : -1;
}

static void probe_cpuid(struct kvmdci_dci *d)
{
	unsigned a = 0, b = 0, c = 0, dx = 0;

	__get_cpuid(0, &a, &b, &c, &dx);
	memcpy(d->vendor, &b, 4);
	memcpy(d->vendor + 4, &dx, 4);
	memcpy(d->vendor + 8, &c, 4);
	__get_cpuid(1, &a, &b, &c, &dx);
	d->sdbg = (c >> 11) & 1;
}

static int probe_msrs(struct kvmdci_dci *d, const char *root)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	d->ncpus = n < 1 ? 1 : n > INT32_MAX ? INT32_MAX : (int)n;
	d->cpus = calloc((size_t)d->ncpus, sizeof(*d->cpus));
	if (!d->cpus)
		return -ENOMEM;
	for (int cpu = 0; cpu < d->ncpus; cpu++) {
		struct kvmdci_dci_cpu *c = &d->cpus[cpu];
		uint64_t raw = 0;
		c->cpu = cpu;
		c->error = read_msr(root, cpu, &raw);
		if (c->error) {
			if (!d->first_err)
				d->first_err = c->error;
			continue;
		}
		kvmdci_debug_interface_decode(raw, &c->msr);
		d->readable++;
		d->enabled += c->msr.enable;
		d->locked += c->msr.lock;
	}
	return 0;
}

static const char *usb_kind(const char *p)
{
	unsigned cls, vid, pid = 0;
	bool dbc_id = read_hex(p, "idVendor", &vid) == 0 && read_hex(p, "idProduct", &pid) == 0 &&
		      vid == 0x1d6b && (pid == 0x0010 || pid == 0x0011);
	bool dbc_class = read_hex(p, "bInterfaceClass", &cls) == 0 && cls == 0xdc;

	if (dbc_class)
		return "debug-class interface (0xDC)";
	if (!dbc_id)
		return NULL;
	return pid == 0x0011 ? "xHCI DbC early printk (1d6b:0011)" : "xHCI DbC (1d6b:0010)";
}

static int probe_usb(struct kvmdci_dci *d, const char *root)
{
	struct dirent *de;
	DIR *dir;
	int r = 0, cap = 0;

	snprintf(d->usb_dir, sizeof(d->usb_dir), "%s/sys/bus/usb/devices", root);
	dir = opendir(d->usb_dir);
	d->usb_stack = dir != NULL;
	while (dir && (de = readdir(dir))) {
		char p[1024];
		const char *kind;
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", d->usb_dir, de->d_name);
		if (!(kind = usb_kind(p)))
			continue;
		if (d->nusb == cap) {
			struct usb_dev *u =
				realloc(d->usb, (size_t)(cap = cap * 2 + 8) * sizeof(*u));
			if (!u) {
				r = -ENOMEM;
				break;
			}
			d->usb = u;
		}
		d->usb[d->nusb].kind = kind;
		if (!(d->usb[d->nusb].device = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		d->nusb++;
	}
	if (dir)
		closedir(dir);
	return r;
}

static void judge(struct kvmdci_dci *d, const char *root)
{
	int err = d->first_err;

	if (!d->sdbg) {
		d->state = KVMDCI_DCI_NOT_POSSIBLE;
		snprintf(d->verdict, sizeof(d->verdict),
			 "not possible: the %s CPU has no IA32_DEBUG_INTERFACE (CPUID.1:ECX[11] "
			 "SDBG is clear)%s",
			 d->vendor, strcmp(d->vendor, "GenuineIntel") ? "; DCI is Intel-only" : "");
	} else if (!d->readable) {
		d->state = KVMDCI_DCI_UNKNOWN;
		snprintf(d->verdict, sizeof(d->verdict),
			 "cannot tell: IA32_DEBUG_INTERFACE (MSR 0xC80) is unreadable: "
			 "%s/dev/cpu/0/msr: "
			 "%s%s",
			 root, strerror(err),
			 err == ENOENT			 ? " (load the msr module: modprobe msr)"
			 : err == EACCES || err == EPERM ? " (needs root)"
							 : "");
	} else if (d->enabled == d->readable) {
		d->state = KVMDCI_DCI_ENABLED;
		snprintf(d->verdict, sizeof(d->verdict),
			 "possible: the debug interface is enabled on %d CPU(s)%s", d->readable,
			 d->locked ? " and locked on" : "");
	} else if (d->locked) {
		d->state = KVMDCI_DCI_LOCKED;
		snprintf(d->verdict, sizeof(d->verdict),
			 "not possible: the debug interface is disabled and locked by firmware on "
			 "%d "
			 "of %d CPU(s) (enable it in the firmware setup, or with a debug-enabled "
			 "firmware)",
			 d->locked, d->readable);
	} else {
		d->state = KVMDCI_DCI_DISABLED;
		snprintf(d->verdict, sizeof(d->verdict),
			 "not enabled: the debug interface is off but not locked on %d of %d "
			 "CPU(s): writing 1 to bit 0 of MSR 0xC80 (before lock) enables it",
			 d->readable - d->enabled, d->readable);
	}
}

KVMDCI_EXPORT int kvmdci_dci_probe(const char *root, struct kvmdci_dci **ret)
{
	struct kvmdci_dci *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->refcount = 1;
	if (!root)
		root = "";
	probe_cpuid(d);
	if ((r = probe_msrs(d, root)) < 0 || (r = probe_usb(d, root)) < 0) {
		kvmdci_dci_unref(d);
		return r;
	}
	judge(d, root);
	*ret = d;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_dci *kvmdci_dci_ref(struct kvmdci_dci *d)
{
	if (d)
		d->refcount++;
	return d;
}

KVMDCI_EXPORT struct kvmdci_dci *kvmdci_dci_unref(struct kvmdci_dci *d)
{
	if (!d || --d->refcount > 0)
		return NULL;
	for (int i = 0; i < d->nusb; i++)
		free(d->usb[i].device);
	free(d->usb);
	free(d->cpus);
	free(d);
	return NULL;
}

KVMDCI_EXPORT const char *kvmdci_dci_cpu_vendor(const struct kvmdci_dci *d)
{
	return d->vendor;
}

KVMDCI_EXPORT int kvmdci_dci_sdbg(const struct kvmdci_dci *d)
{
	return d->sdbg;
}

KVMDCI_EXPORT int kvmdci_dci_cpu_count(const struct kvmdci_dci *d)
{
	return d->ncpus;
}

KVMDCI_EXPORT int kvmdci_dci_cpu(const struct kvmdci_dci *d, int i, struct kvmdci_dci_cpu *out)
{
	if (i < 0 || i >= d->ncpus)
		return -ERANGE;
	*out = d->cpus[i];
	return 0;
}

KVMDCI_EXPORT int kvmdci_dci_cpus_readable(const struct kvmdci_dci *d)
{
	return d->readable;
}

KVMDCI_EXPORT const char *kvmdci_dci_usb_dir(const struct kvmdci_dci *d)
{
	return d->usb_dir;
}

KVMDCI_EXPORT int kvmdci_dci_usb_stack(const struct kvmdci_dci *d)
{
	return d->usb_stack;
}

KVMDCI_EXPORT int kvmdci_dci_usb_count(const struct kvmdci_dci *d)
{
	return d->nusb;
}

KVMDCI_EXPORT int kvmdci_dci_usb(const struct kvmdci_dci *d, int i, struct kvmdci_dci_usb *out)
{
	if (i < 0 || i >= d->nusb)
		return -ERANGE;
	memset(out, 0, sizeof(*out));
	out->device = d->usb[i].device;
	out->kind = d->usb[i].kind;
	return 0;
}

KVMDCI_EXPORT enum kvmdci_dci_state kvmdci_dci_state(const struct kvmdci_dci *d)
{
	return d->state;
}

KVMDCI_EXPORT const char *kvmdci_dci_state_name(enum kvmdci_dci_state state)
{
	static const char *const names[] = {
		[KVMDCI_DCI_ENABLED] = "enabled",   [KVMDCI_DCI_NOT_POSSIBLE] = "not_possible",
		[KVMDCI_DCI_UNKNOWN] = "unknown",   [KVMDCI_DCI_LOCKED] = "locked",
		[KVMDCI_DCI_DISABLED] = "disabled",
	};

	return (unsigned)state < ARRAY_SIZE(names) ? names[state] : NULL;
}

KVMDCI_EXPORT const char *kvmdci_dci_verdict(const struct kvmdci_dci *d)
{
	return d->verdict;
}
