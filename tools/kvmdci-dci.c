// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci-dci: can this machine be debugged (or debug another) through Intel DCI? The probe
 * is the library's (kvmdci_dci_probe); this tool renders it and maps its verdict to the exit
 * status.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"

/* Exit codes (documented in kvmdci-dci(1)). */
enum { EXIT_DCI_OK = 0, EXIT_DCI_BLOCKED = 3, EXIT_DCI_UNKNOWN = 4 };

static struct tool tool = { .name = "kvmdci-dci" };

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

static int exit_status(enum kvmdci_dci_state state)
{
	return state == KVMDCI_DCI_ENABLED ? EXIT_DCI_OK
	       : state == KVMDCI_DCI_UNKNOWN ? EXIT_DCI_UNKNOWN
					     : EXIT_DCI_BLOCKED;
}

static void usb_line(const struct kvmdci_dci *d, char *buf, size_t sz)
{
	if (!kvmdci_dci_usb_stack(d))
		snprintf(buf, sz, "no USB stack (%s absent): no DbC device can be seen here",
			 kvmdci_dci_usb_dir(d));
	else
		snprintf(buf, sz, "%d USB debug-class device(s)", kvmdci_dci_usb_count(d));
}

static void show_dci_json(const struct kvmdci_dci *d)
{
	json_t *jcpus = json_array(), *jusb = json_array();
	struct kvmdci_dci_cpu c;
	struct kvmdci_dci_usb u;
	char usbline[640];

	for (int i = 0; kvmdci_dci_cpu(d, i, &c) == 0; i++)
		json_array_append_new(
			jcpus, c.error ? json_pack("{s:i, s:s}", "cpu", c.cpu, "error", strerror(c.error))
				       : json_pack("{s:i, s:o, s:b, s:b, s:b}", "cpu", c.cpu, "raw",
						   tool_json_addr(c.msr.raw), "enable", c.msr.enable,
						   "lock", c.msr.lock, "debug_occurred",
						   c.msr.debug_occurred));
	for (int i = 0; kvmdci_dci_usb(d, i, &u) == 0; i++)
		json_array_append_new(jusb, json_pack("{s:s, s:s}", "device", u.device, "kind", u.kind));
	usb_line(d, usbline, sizeof(usbline));
	json_t *doc = json_pack("{s:s, s:b, s:i, s:o, s:b, s:o, s:s, s:s, s:s, s:i}", "cpu_vendor",
				kvmdci_dci_cpu_vendor(d), "sdbg", kvmdci_dci_sdbg(d),
				"cpus_readable", kvmdci_dci_cpus_readable(d), "cpus", jcpus,
				"usb_stack", kvmdci_dci_usb_stack(d), "usb_debug_devices", jusb,
				"state", kvmdci_dci_state_name(kvmdci_dci_state(d)), "verdict",
				kvmdci_dci_verdict(d), "usb", usbline, "exit_status",
				exit_status(kvmdci_dci_state(d)));
	tool_json_print(&tool, doc);
	json_decref(doc);
}

static void show_dci_plain(const struct kvmdci_dci *d)
{
	struct kvmdci_dci_cpu c;
	struct kvmdci_dci_usb u;
	char usbline[640];

	printf("CPU:  %s, CPUID.1:ECX[11] SDBG %s\n", kvmdci_dci_cpu_vendor(d),
	       kvmdci_dci_sdbg(d) ? "set" : "clear");
	for (int i = 0; kvmdci_dci_cpu(d, i, &c) == 0; i++) {
		char raw[24];
		snprintf(raw, sizeof(raw), "0x%llx", (unsigned long long)c.msr.raw);
		if (c.error)
			printf("  cpu %d: MSR 0xC80 unreadable: %s\n", c.cpu, strerror(c.error));
		else
			printf("  cpu %d: MSR 0xC80 = %s: enable %d lock %d debug_occurred %d\n", c.cpu,
			       raw, c.msr.enable, c.msr.lock, c.msr.debug_occurred);
	}
	usb_line(d, usbline, sizeof(usbline));
	printf("USB:  %s\n", usbline);
	for (int i = 0; kvmdci_dci_usb(d, i, &u) == 0; i++)
		printf("  %s: %s\n", u.device, u.kind);
	printf("DCI:  %s\n", kvmdci_dci_verdict(d));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ "root", required_argument, NULL, 'R' }, { 0 },
	};
	const char *root = ""; /* --root: prefix for /dev and /sys (tests) */
	struct kvmdci_dci *d = NULL;
	int opt, r;

	while ((opt = tool_getopt(&tool, argc, argv, "jphV", opts)) != -1) {
		if (opt == 'R') {
			root = optarg;
			continue;
		}
		if (opt != '?' && tool_common_option(&tool, opt, optarg, usage))
			continue;
		tool_bad_option(&tool);
	}
	if (optind < argc) {
		fprintf(stderr, "kvmdci-dci: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if ((r = kvmdci_dci_probe(root, &d)) < 0) {
		fprintf(stderr, "kvmdci-dci: %s\n", strerror(-r));
		return 1;
	}
	if (tool.json)
		show_dci_json(d);
	else
		show_dci_plain(d);
	r = exit_status(kvmdci_dci_state(d));
	kvmdci_dci_unref(d);
	return r;
}
