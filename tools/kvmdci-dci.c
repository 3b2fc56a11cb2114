// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci-dci: can this machine be debugged (or debug another) through Intel DCI?
 * CPUID.1:ECX[11] SDBG (IA32_DEBUG_INTERFACE exists), the MSR itself per CPU (0xC80: enable,
 * lock, debug occurred; through /dev/cpu/N/msr) and USB debug-class devices seen in sysfs
 * (interface class 0xDC; xHCI DbC 1d6b:0010 / 1d6b:0011). See docs/transports.md, "Intel DCI".
 */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared.h"

#define MSR_IA32_DEBUG_INTERFACE 0xc80
#define MAX_CPUS 8192

/* Exit codes (documented in kvmdci-dci(1)). */
enum { EXIT_DCI_OK = 0, EXIT_DCI_BLOCKED = 3, EXIT_DCI_UNKNOWN = 4 };

static struct tool tool = { .name = "kvmdci-dci" };
static const char *root = ""; /* --root: prefix for /dev and /sys (tests) */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-dci [--json]\n"
		"\n"
		"Says whether Intel DCI debugging is possible on this machine and what blocks it:\n"
		"CPUID.1:ECX[11] (SDBG: the CPU has IA32_DEBUG_INTERFACE), the MSR 0xC80 on every\n"
		"CPU (enable, lock, debug_occurred; read through /dev/cpu/N/msr: root and the msr\n"
		"module), and USB debug-class devices (interface class 0xDC, xHCI DbC 1d6b:0010 or\n"
		"1d6b:0011) in /sys/bus/usb/devices.\n"
		"\n"
		"  -j, --json            one JSON document on stdout\n"
		"  -p, --pretty          indented JSON\n"
		"      --root DIR        read DIR/dev/cpu and DIR/sys instead (for tests)\n"
		"  -h, --help            this help;  -V, --version  the version\n"
		"\n"
		"Exit status: 0 DCI debugging is enabled (every readable CPU has enable=1), 1 failure,\n"
		"2 bad usage, 3 DCI is not possible (no SDBG, or disabled), 4 cannot tell (the MSR\n"
		"cannot be read here: no msr device or not root).\n");
}

static int read_msr(int cpu, uint64_t *val, int *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/dev/cpu/%d/msr", root, cpu);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	ssize_t n = pread(fd, val, 8, MSR_IA32_DEBUG_INTERFACE);
	*err = n == 8 ? 0 : n < 0 ? errno : EIO;
	close(fd);
	return n == 8 ? 0 : -1;
}

static int read_hex(const char *dir, const char *name, unsigned *val)
{
	char path[1024], b[32];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	bool ok = fgets(b, sizeof(b), f) != NULL;
	fclose(f);
	char *end;
	*val = (unsigned)strtoul(b, &end, 16);
	return ok && end != b ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ "root", required_argument, NULL, 'R' }, { 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "jphV", opts, NULL)) != -1) {
		if (opt == 'R') {
			root = optarg;
			continue;
		}
		if (opt != '?' && tool_common_option(&tool, opt, optarg, usage))
			continue;
		usage(stderr);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "kvmdci-dci: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}

	/* the CPU */
	unsigned a = 0, b = 0, c = 0, d = 0;
	char vendor[13] = "";
	__get_cpuid(0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	__get_cpuid(1, &a, &b, &c, &d);
	bool sdbg = (c >> 11) & 1;
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (ncpus < 1 || ncpus > MAX_CPUS)
		ncpus = ncpus < 1 ? 1 : MAX_CPUS;

	/* the MSR on every CPU */
	json_t *jcpus = json_array();
	int readable = 0, enabled = 0, locked = 0, occurred = 0, first_err = 0;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		uint64_t raw;
		int err;
		if (read_msr(cpu, &raw, &err) < 0) {
			if (!first_err)
				first_err = err;
			json_array_append_new(jcpus, json_pack("{s:i, s:s}", "cpu", cpu, "error",
							       strerror(err)));
			continue;
		}
		struct kvmdci_debug_interface di;
		kvmdci_debug_interface_decode(raw, &di);
		readable++;
		enabled += di.enable;
		locked += di.lock;
		occurred += di.debug_occurred;
		json_array_append_new(jcpus, json_pack("{s:i, s:o, s:b, s:b, s:b}", "cpu", cpu,
						       "raw", tool_json_addr(di.raw), "enable",
						       di.enable, "lock", di.lock, "debug_occurred",
						       di.debug_occurred));
	}

	/* USB debug-class devices */
	json_t *jusb = json_array();
	char usbdir[512];
	snprintf(usbdir, sizeof(usbdir), "%s/sys/bus/usb/devices", root);
	DIR *dir = opendir(usbdir);
	bool usb_stack = dir != NULL;
	int ndbc = 0;
	if (dir) {
		struct dirent *de;
		while ((de = readdir(dir))) {
			char p[1024];
			unsigned cls, vid, pid;
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", usbdir, de->d_name);
			bool dbc_id = read_hex(p, "idVendor", &vid) == 0 &&
				      read_hex(p, "idProduct", &pid) == 0 && vid == 0x1d6b &&
				      (pid == 0x0010 || pid == 0x0011);
			bool dbc_class = read_hex(p, "bInterfaceClass", &cls) == 0 && cls == 0xdc;
			if (!dbc_id && !dbc_class)
				continue;
			ndbc++;
			json_t *o = json_pack("{s:s, s:s}", "device", de->d_name, "kind",
					      dbc_class ? "debug-class interface (0xDC)"
						 : pid == 0x0011 ? "xHCI DbC early printk (1d6b:0011)"
								 : "xHCI DbC (1d6b:0010)");
			json_array_append_new(jusb, o);
		}
		closedir(dir);
	}

	/* the verdict */
	char verdict[320];
	int rc;
	const char *state;
	if (!sdbg) {
		rc = EXIT_DCI_BLOCKED;
		state = "not_possible";
		snprintf(verdict, sizeof(verdict),
			 "not possible: the %s CPU has no IA32_DEBUG_INTERFACE (CPUID.1:ECX[11] "
			 "SDBG is clear)%s",
			 vendor, strcmp(vendor, "GenuineIntel") ? "; DCI is Intel-only" : "");
	} else if (!readable) {
		rc = EXIT_DCI_UNKNOWN;
		state = "unknown";
		snprintf(verdict, sizeof(verdict),
			 "cannot tell: IA32_DEBUG_INTERFACE (MSR 0xC80) is unreadable: %s/dev/cpu/0/msr: "
			 "%s%s",
			 root, strerror(first_err),
			 first_err == ENOENT ? " (load the msr module: modprobe msr)"
			 : first_err == EACCES || first_err == EPERM ? " (needs root)"
								       : "");
	} else if (enabled == readable) {
		rc = EXIT_DCI_OK;
		state = "enabled";
		snprintf(verdict, sizeof(verdict), "possible: the debug interface is enabled on %d "
						   "CPU(s)%s",
			 readable, locked ? " and locked on" : "");
	} else if (locked) {
		rc = EXIT_DCI_BLOCKED;
		state = "locked";
		snprintf(verdict, sizeof(verdict),
			 "not possible: the debug interface is disabled and locked by firmware on %d "
			 "of %d CPU(s) (enable it in the firmware setup, or with a debug-enabled "
			 "firmware)",
			 locked, readable);
	} else {
		rc = EXIT_DCI_BLOCKED;
		state = "disabled";
		snprintf(verdict, sizeof(verdict),
			 "not enabled: the debug interface is off but not locked on %d of %d "
			 "CPU(s): writing 1 to bit 0 of MSR 0xC80 (before lock) enables it",
			 readable - enabled, readable);
	}
	char usbline[640];
	if (!usb_stack)
		snprintf(usbline, sizeof(usbline),
			 "no USB stack (%s absent): no DbC device can be seen here", usbdir);
	else
		snprintf(usbline, sizeof(usbline), "%d USB debug-class device(s)", ndbc);

	if (tool.json) {
		json_t *doc = json_pack(
			"{s:s, s:b, s:i, s:o, s:b, s:o, s:s, s:s, s:s, s:i}", "cpu_vendor", vendor,
			"sdbg", sdbg, "cpus_readable", readable, "cpus", jcpus, "usb_stack", usb_stack,
			"usb_debug_devices", jusb, "state", state, "verdict", verdict, "usb", usbline,
			"exit_status", rc);
		tool_json_print(&tool, doc);
		json_decref(doc);
	} else {
		printf("CPU:  %s, CPUID.1:ECX[11] SDBG %s\n", vendor, sdbg ? "set" : "clear");
		size_t n = json_array_size(jcpus);
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_array_get(jcpus, i);
			if (json_object_get(o, "error"))
				printf("  cpu %lld: MSR 0xC80 unreadable: %s\n",
				       json_integer_value(json_object_get(o, "cpu")),
				       json_string_value(json_object_get(o, "error")));
			else
				printf("  cpu %lld: MSR 0xC80 = %s: enable %d lock %d debug_occurred "
				       "%d\n",
				       json_integer_value(json_object_get(o, "cpu")),
				       json_string_value(json_object_get(o, "raw")),
				       json_is_true(json_object_get(o, "enable")),
				       json_is_true(json_object_get(o, "lock")),
				       json_is_true(json_object_get(o, "debug_occurred")));
		}
		printf("USB:  %s\n", usbline);
		for (size_t i = 0; i < json_array_size(jusb); i++) {
			json_t *o = json_array_get(jusb, i);
			printf("  %s: %s\n", json_string_value(json_object_get(o, "device")),
			       json_string_value(json_object_get(o, "kind")));
		}
		printf("DCI:  %s\n", verdict);
		json_decref(jcpus);
		json_decref(jusb);
	}
	return rc;
}
