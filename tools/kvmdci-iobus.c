// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-iobus: every VM's I/O buses (struct kvm.buses[]), each range's device decoded. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shared.h"

#define MAX_VMS 4096

static struct tool tool = {.name = "kvmdci-iobus"};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-iobus -t URI [--vm ADDR|PID] [--bus NAME] [--json]\n"
		"\n"
		"Lists the I/O buses of every VM on a KVM host seen from below the OS (a\n"
		"whole-machine debugger or a memory dump): per VM and bus the struct kvm_io_bus,\n"
		"dev_count and ioeventfd_count, then each kvm_io_range (address, length, device\n"
		"kind, struct kvm_io_device pointer) with its device decoded: ioeventfd address,\n"
		"length, datamatch and bus index; coalesced MMIO zone; IOAPIC base; which member\n"
		"of kvm_pic / kvm_pit a PIC or PIT range is. Devices are recognised by their ops\n"
		"symbol in kvm.ko; others are shown by symbol name or address.\n"
		"\n"
		"Selection:\n"
		"      --vm ADDR|PID     one VM: its struct kvm address (0x...) or its pid\n"
		"      --bus NAME        one bus: mmio, pio, virtio_ccw_notify or fast_mmio\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-iobus --bus pio\n"
		"  kvmdci-iobus --json | jq '.vms[].buses[] | select(.name == \"pio\") | "
		".ranges[]'\n"
		"\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

/* Decoded details of a range, for the table. */
static void details(const struct kvmdci_io_range *r, char *buf, size_t sz)
{
	buf[0] = '\0';
	if (r->error) {
		snprintf(buf, sz, "unreadable: %s", strerror(-r->error));
		return;
	}
	switch (r->kind) {
	case KVMDCI_IO_DEV_PIC_MASTER:
	case KVMDCI_IO_DEV_PIC_SLAVE:
	case KVMDCI_IO_DEV_PIC_ELCR:
		snprintf(buf, sz, "kvm_pic 0x%llx", (unsigned long long)r->object);
		break;
	case KVMDCI_IO_DEV_PIT:
	case KVMDCI_IO_DEV_SPEAKER:
		snprintf(buf, sz, "kvm_pit 0x%llx", (unsigned long long)r->object);
		break;
	case KVMDCI_IO_DEV_IOAPIC:
		if (r->decoded)
			snprintf(buf, sz, "kvm_ioapic 0x%llx base 0x%llx",
				 (unsigned long long)r->object, (unsigned long long)r->ioapic_base);
		break;
	case KVMDCI_IO_DEV_IOEVENTFD:
		if (!r->decoded)
			break;
		if (r->ioeventfd_wildcard)
			snprintf(buf, sz, "addr 0x%llx length %d any data, bus %u",
				 (unsigned long long)r->ioeventfd_addr, r->ioeventfd_length,
				 r->ioeventfd_bus_idx);
		else
			snprintf(buf, sz, "addr 0x%llx length %d datamatch 0x%llx, bus %u",
				 (unsigned long long)r->ioeventfd_addr, r->ioeventfd_length,
				 (unsigned long long)r->ioeventfd_datamatch, r->ioeventfd_bus_idx);
		break;
	case KVMDCI_IO_DEV_COALESCED:
		if (r->decoded)
			snprintf(buf, sz, "zone 0x%llx size 0x%x %s",
				 (unsigned long long)r->zone_addr, r->zone_size,
				 r->zone_pio ? "pio" : "mmio");
		break;
	default:
		snprintf(buf, sz, "ops %s", r->ops_symbol[0] ? r->ops_symbol : "(no symbol)");
		if (!r->ops_symbol[0])
			snprintf(buf, sz, "ops 0x%llx", (unsigned long long)r->ops);
	}
}

static json_t *json_range(const struct kvmdci_io_range *r)
{
	json_t *o = json_pack("{s:o, s:i, s:s, s:o, s:o, s:s?}", "addr", tool_json_addr(r->addr),
			      "len", r->len, "kind", kvmdci_io_dev_kind_name(r->kind), "dev",
			      tool_json_addr(r->dev), "ops", tool_json_addr(r->ops), "ops_symbol",
			      r->ops_symbol[0] ? r->ops_symbol : NULL);
	if (r->object)
		json_object_set_new(o, "object", tool_json_addr(r->object));
	if (r->error)
		json_object_set_new(o, "error", json_string(strerror(-r->error)));
	if (!r->decoded)
		return o;
	switch (r->kind) {
	case KVMDCI_IO_DEV_IOEVENTFD:
		json_object_set_new(o, "ioeventfd",
				    json_pack("{s:o, s:i, s:o, s:b, s:i}", "addr",
					      tool_json_addr(r->ioeventfd_addr), "length",
					      r->ioeventfd_length, "datamatch",
					      r->ioeventfd_wildcard
						      ? json_null()
						      : tool_json_addr(r->ioeventfd_datamatch),
					      "wildcard", r->ioeventfd_wildcard, "bus_idx",
					      r->ioeventfd_bus_idx));
		break;
	case KVMDCI_IO_DEV_COALESCED:
		json_object_set_new(o, "zone",
				    json_pack("{s:o, s:I, s:b}", "addr",
					      tool_json_addr(r->zone_addr), "size",
					      (json_int_t)r->zone_size, "pio", r->zone_pio != 0));
		break;
	case KVMDCI_IO_DEV_IOAPIC:
		json_object_set_new(o, "base_address", tool_json_addr(r->ioapic_base));
		break;
	}
	return o;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"vm", required_argument, NULL, 'M'},
		{"bus", required_argument, NULL, 'B'},
		{0},
	};
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_vm_info *vms = NULL;
	unsigned long long want_vm = 0;
	long want_pid = -1;
	int want_bus = -1;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, TOOL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'M':
			tool_parse_vm(&tool, optarg, &want_vm, &want_pid);
			break;
		case 'B':
			for (int b = 0; kvmdci_io_bus_name(b); b++)
				if (!strcasecmp(optarg, kvmdci_io_bus_name(b)))
					want_bus = b;
			if (want_bus < 0) {
				fprintf(stderr,
					"kvmdci-iobus: --bus is mmio, pio, virtio_ccw_notify "
					"or fast_mmio, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	struct kvmdci_target_stats s0, s1;
	kvmdci_target_get_stats(t, &s0);
	double t0 = tool_now_s();
	if (!(vms = calloc(MAX_VMS, sizeof(*vms)))) {
		status = tool_fail(&tool, -ENOMEM, NULL);
		goto out;
	}
	int nvms = kvmdci_kvm_vms(k, vms, MAX_VMS);
	if (nvms < 0) {
		status = tool_fail(&tool, nvms, NULL);
		goto out;
	}
	if (nvms > MAX_VMS)
		nvms = MAX_VMS;

	json_t *doc = json_pack("{s:s}", "target", tool.target), *jvms = json_array();
	int shown = 0;
	for (int v = 0; v < nvms && !tool_stop_requested; v++) {
		const struct kvmdci_vm_info *vi = &vms[v];
		struct kvmdci_io_bus_info buses[16];
		if ((want_vm && vi->vm != want_vm) ||
		    (want_pid > 0 && vi->userspace_pid != want_pid))
			continue;
		shown++;
		json_t *jvm = json_pack("{s:o, s:i, s:i, s:s?}", "vm", tool_json_addr(vi->vm),
					"pid", vi->userspace_pid, "online_vcpus", vi->online_vcpus,
					"stats_id", vi->stats_id[0] ? vi->stats_id : NULL);
		json_t *jbuses = json_array();
		if (!tool.json)
			printf("%sVM 0x%llx pid %d%s%s%s, %d vCPUs\n", shown > 1 ? "\n" : "",
			       (unsigned long long)vi->vm, vi->userspace_pid,
			       vi->stats_id[0] ? " (" : "", vi->stats_id,
			       vi->stats_id[0] ? ")" : "", vi->online_vcpus);
		int nb = kvmdci_kvm_io_buses(k, vi->vm, buses, 16);
		/* why a bus is unreadable (bi->error): the next call clears the last error */
		char buses_err[256];
		snprintf(buses_err, sizeof(buses_err), "%s", kvmdci_ctx_last_error(tool.ctx));
		if (nb < 0) {
			tool_progress(&tool, "warning: VM 0x%llx: %s", (unsigned long long)vi->vm,
				      kvmdci_ctx_last_error(tool.ctx));
			json_object_set_new(jvm, "error",
					    json_string(kvmdci_ctx_last_error(tool.ctx)));
			if (!tool.json)
				printf("  buses unreadable: %s\n", kvmdci_ctx_last_error(tool.ctx));
			nb = 0;
		}
		for (int b = 0; b < nb && b < 16; b++) {
			const struct kvmdci_io_bus_info *bi = &buses[b];
			const char *bname = kvmdci_io_bus_name(bi->index);
			char bn[16];
			if (want_bus >= 0 && b != want_bus)
				continue;
			if (!bname) {
				snprintf(bn, sizeof(bn), "bus%d", b);
				bname = bn;
			}
			json_t *jb = json_pack(
				"{s:s, s:i, s:o, s:i, s:i}", "name", bname, "index", bi->index,
				"bus", bi->bus ? tool_json_addr(bi->bus) : json_null(), "dev_count",
				bi->dev_count, "ioeventfd_count", bi->ioeventfd_count);
			json_t *jr = json_array();
			struct kvmdci_io_range *rg = NULL;
			int nr = 0;
			char err[256] = "";
			if (bi->error) {
				snprintf(err, sizeof(err), "%s", buses_err);
			} else if (bi->bus && bi->dev_count > 0) {
				rg = calloc((size_t)bi->dev_count, sizeof(*rg));
				nr = rg ? kvmdci_kvm_io_ranges(k, vi->vm, b, rg, bi->dev_count)
					: -ENOMEM;
				if (nr < 0) {
					snprintf(err, sizeof(err), "%s",
						 kvmdci_ctx_last_error(tool.ctx)[0]
							 ? kvmdci_ctx_last_error(tool.ctx)
							 : strerror(-nr));
					nr = 0;
				} else if (nr > bi->dev_count) {
					nr = bi->dev_count; /* grew between the two reads */
				}
			}
			if (err[0]) {
				if (!bi->error) /* bus header errors were logged already */
					tool_progress(&tool, "warning: VM 0x%llx bus %s: %s",
						      (unsigned long long)vi->vm, bname, err);
				json_object_set_new(jb, "error", json_string(err));
			}
			if (!tool.json) {
				if (!bi->bus)
					printf("  bus %s: NULL\n", bname);
				else
					printf("  bus %s (kvm_io_bus 0x%llx): dev_count %d, "
					       "ioeventfd_count %d%s%s\n",
					       bname, (unsigned long long)bi->bus, bi->dev_count,
					       bi->ioeventfd_count, err[0] ? ": " : "", err);
				if (nr)
					printf("    %-18s %6s  %-14s %-18s  %s\n", "addr", "len",
					       "device", "kvm_io_device", "details");
			}
			for (int i = 0; i < nr; i++) {
				char d[160], a[24];
				json_array_append_new(jr, json_range(&rg[i]));
				if (tool.json)
					continue;
				details(&rg[i], d, sizeof(d));
				snprintf(a, sizeof(a), "0x%llx", (unsigned long long)rg[i].addr);
				printf("    %-18s %6d  %-14s 0x%-16llx  %s\n", a, rg[i].len,
				       kvmdci_io_dev_kind_name(rg[i].kind),
				       (unsigned long long)rg[i].dev, d);
			}
			free(rg);
			json_object_set_new(jb, "ranges", jr);
			json_array_append_new(jbuses, jb);
		}
		json_object_set_new(jvm, "buses", jbuses);
		json_array_append_new(jvms, jvm);
	}
	kvmdci_target_get_stats(t, &s1);
	double secs = tool_now_s() - t0;
	if (tool.verbose)
		tool_progress(&tool,
			      "%d VMs read with %llu packets (%llu bytes received) in %.3f s",
			      shown, (unsigned long long)(s1.packets_sent - s0.packets_sent),
			      (unsigned long long)(s1.bytes_received - s0.bytes_received), secs);
	json_object_set_new(doc, "vms", jvms);
	json_object_set_new(
		doc, "stats",
		json_pack("{s:I, s:I, s:f}", "packets_sent",
			  (json_int_t)(s1.packets_sent - s0.packets_sent), "bytes_received",
			  (json_int_t)(s1.bytes_received - s0.bytes_received), "seconds", secs));
	if ((want_vm || want_pid > 0) && !shown)
		status = tool_fail_msg(&tool, ENOENT, "no VM with that struct kvm address or pid");
	else if (tool.json)
		tool_json_print(&tool, doc);
	else if (!shown)
		printf("no VMs\n");
	json_decref(doc);
out:
	free(vms);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
