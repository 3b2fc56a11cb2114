// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-iobus: every VM's I/O buses (struct kvm.buses[]), each range's device decoded. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shared.h"
#include "vm-select.h"

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
		"      --bus NAME        one bus: mmio, pio, virtio_ccw_notify, fast_mmio or iocsr\n"
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

/* Member @key (a literal) of @o set to @v (taken): the walk builds some 20 members a range,
 * 12 ranges a VM, and json_pack parsed its format each time (a tenth of a dump's walk). */
static void put(json_t *o, const char *key, json_t *v)
{
	json_object_set_new_nocheck(o, key, v);
}

static json_t *json_range(const struct kvmdci_io_range *r)
{
	json_t *o = json_object(), *d;

	put(o, "address", tool_json_addr(r->addr));
	put(o, "length", json_integer(r->len));
	put(o, "kind", json_string(kvmdci_io_dev_kind_name(r->kind)));
	put(o, "dev", tool_json_addr(r->dev));
	put(o, "ops", tool_json_addr(r->ops));
	put(o, "ops_symbol", r->ops_symbol[0] ? json_string(r->ops_symbol) : json_null());
	if (r->object)
		put(o, "object", tool_json_addr(r->object));
	if (r->error)
		put(o, "error", json_string(strerror(-r->error)));
	if (!r->decoded)
		return o;
	switch (r->kind) {
	case KVMDCI_IO_DEV_IOEVENTFD:
		put(o, "ioeventfd", d = json_object());
		put(d, "address", tool_json_addr(r->ioeventfd_addr));
		put(d, "length", json_integer(r->ioeventfd_length));
		put(d, "datamatch", r->ioeventfd_wildcard ? json_null()
							  : tool_json_addr(r->ioeventfd_datamatch));
		put(d, "wildcard", json_boolean(r->ioeventfd_wildcard));
		put(d, "bus_idx", json_integer(r->ioeventfd_bus_idx));
		break;
	case KVMDCI_IO_DEV_COALESCED:
		put(o, "zone", d = json_object());
		put(d, "address", tool_json_addr(r->zone_addr));
		put(d, "length", json_integer((json_int_t)r->zone_size));
		put(d, "pio", json_boolean(r->zone_pio != 0));
		break;
	case KVMDCI_IO_DEV_IOAPIC:
		put(o, "ioapic", d = json_object());
		put(d, "address", tool_json_addr(r->ioapic_base));
		break;
	}
	return o;
}

/* One bus as read: its header, its ranges, or why they could not be read. */
struct bus {
	const struct kvmdci_io_bus_info *bi;
	const char *name;
	struct kvmdci_io_range *rg;
	int nr;
	char err[256];
};

static json_t *json_bus(const struct bus *b)
{
	const struct kvmdci_io_bus_info *bi = b->bi;
	json_t *jb = json_object(), *jr = json_array();

	put(jb, "name", json_string(b->name));
	put(jb, "index", json_integer(bi->index));
	put(jb, "bus", bi->bus ? tool_json_addr(bi->bus) : json_null());
	put(jb, "dev_count", json_integer(bi->dev_count));
	put(jb, "ioeventfd_count", json_integer(bi->ioeventfd_count));
	if (b->err[0])
		put(jb, "error", json_string(b->err));
	for (int i = 0; i < b->nr; i++)
		json_array_append_new(jr, json_range(&b->rg[i]));
	put(jb, "ranges", jr);
	return jb;
}

static void show_bus_plain(const struct bus *b)
{
	const struct kvmdci_io_bus_info *bi = b->bi;

	if (!bi->bus)
		printf("  bus %s: NULL\n", b->name);
	else
		printf("  bus %s (kvm_io_bus 0x%llx): dev_count %d, ioeventfd_count %d%s%s\n",
		       b->name, (unsigned long long)bi->bus, bi->dev_count, bi->ioeventfd_count,
		       b->err[0] ? ": " : "", b->err);
	if (b->nr)
		printf("    %-18s %6s  %-14s %-18s  %s\n", "addr", "len", "device", "kvm_io_device",
		       "details");
	for (int i = 0; i < b->nr; i++) {
		char d[160], a[24];
		details(&b->rg[i], d, sizeof(d));
		snprintf(a, sizeof(a), "0x%llx", (unsigned long long)b->rg[i].addr);
		printf("    %-18s %6d  %-14s 0x%-16llx  %s\n", a, b->rg[i].len,
		       kvmdci_io_dev_kind_name(b->rg[i].kind), (unsigned long long)b->rg[i].dev, d);
	}
}

/*
 * Read bus @bi's ranges into @b; a failure is kept in b->err (and logged once). @buses_err is
 * why a bus is unreadable (bi->error), kept right after kvmdci_kvm_io_buses: the next call
 * clears the last error.
 */
static void read_bus(struct kvmdci_kernel *k, const struct kvmdci_vm_info *vi,
		     const struct kvmdci_io_bus_info *bi, const char *buses_err, struct bus *b)
{
	const char *msg;

	if (bi->error) {
		snprintf(b->err, sizeof(b->err), "%s", buses_err);
		return; /* bus header errors were logged already */
	}
	if (!bi->bus || bi->dev_count <= 0)
		return;
	b->rg = calloc((size_t)bi->dev_count, sizeof(*b->rg));
	b->nr = b->rg ? kvmdci_kvm_io_ranges(k, vi->vm, bi->index, b->rg, bi->dev_count) : -ENOMEM;
	if (b->nr < 0) {
		msg = kvmdci_ctx_last_error(tool.ctx);
		snprintf(b->err, sizeof(b->err), "%s", msg[0] ? msg : strerror(-b->nr));
		b->nr = 0;
		tool_progress(&tool, "warning: VM 0x%llx bus %s: %s", (unsigned long long)vi->vm,
			      b->name, b->err);
	} else if (b->nr > bi->dev_count) {
		b->nr = bi->dev_count; /* grew between the two reads */
	}
}

static void show_vm_plain(const struct kvmdci_vm_info *vi, int shown)
{
	printf("%sVM 0x%llx pid %d%s%s%s, %d vCPUs\n", shown > 1 ? "\n" : "",
	       (unsigned long long)vi->vm, vi->userspace_pid, vi->stats_id[0] ? " (" : "",
	       vi->stats_id, vi->stats_id[0] ? ")" : "", vi->online_vcpus);
}

/* VM @vi's buses (only @want_bus when >= 0): into @jvm, and on stdout unless --json. */
static void show_buses(struct kvmdci_kernel *k, const struct kvmdci_vm_info *vi, int want_bus,
		       json_t *jvm)
{
	struct kvmdci_io_bus_info *buses = NULL;
	json_t *jbuses = json_array();
	char buses_err[256];
	int nb = kvmdci_kvm_io_buses(k, vi->vm, NULL, 0);

	if (nb > 0 && !(buses = calloc((size_t)nb, sizeof(*buses))))
		nb = -ENOMEM;
	if (nb > 0)
		nb = kvmdci_kvm_io_buses(k, vi->vm, buses, nb);
	snprintf(buses_err, sizeof(buses_err), "%s", kvmdci_ctx_last_error(tool.ctx));
	if (nb < 0) {
		const char *msg = kvmdci_ctx_last_error(tool.ctx);
		tool_progress(&tool, "warning: VM 0x%llx: %s", (unsigned long long)vi->vm, msg);
		json_object_set_new(jvm, "error", json_string(msg));
		if (!tool.json)
			printf("  buses unreadable: %s\n", msg);
		nb = 0;
	}
	for (int i = 0; i < nb; i++) {
		struct bus b = {.bi = &buses[i], .name = kvmdci_io_bus_name(buses[i].index)};
		char bn[16];
		if (want_bus >= 0 && i != want_bus)
			continue;
		if (!b.name) {
			snprintf(bn, sizeof(bn), "bus%d", i);
			b.name = bn;
		}
		read_bus(k, vi, &buses[i], buses_err, &b);
		json_array_append_new(jbuses, json_bus(&b));
		if (!tool.json)
			show_bus_plain(&b);
		free(b.rg);
	}
	free(buses);
	json_object_set_new(jvm, "buses", jbuses);
}

static void parse_options(int argc, char **argv, struct kvmdci_vm_select *sel, int *want_bus)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{"vm", required_argument, NULL, 'M'},
		{"bus", required_argument, NULL, 'B'},
		{0},
	};
	int opt;

	*sel = (struct kvmdci_vm_select){.vcpu_id = -1};
	*want_bus = -1;
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS, opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'M':
			tool_parse_vm(&tool, optarg, sel);
			break;
		case 'B':
			for (int b = 0; kvmdci_io_bus_name(b); b++)
				if (!strcasecmp(optarg, kvmdci_io_bus_name(b)))
					*want_bus = b;
			if (*want_bus < 0) {
				fprintf(stderr,
					"kvmdci-iobus: --bus is mmio, pio, virtio_ccw_notify, "
					"fast_mmio or iocsr (kernels with 5 buses), not '%s'\n",
					optarg);
				exit(2);
			}
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
}

int main(int argc, char **argv)
{
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	struct kvmdci_vm_list *vms = NULL;
	const struct kvmdci_vm_info *vi;
	struct kvmdci_vm_select sel;
	int want_bus, r, status = 0;

	parse_options(argc, argv, &sel, &want_bus);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	struct kvmdci_target_stats s0, s1;
	kvmdci_target_get_stats(t, &s0);
	double t0 = tool_now_s();
	if ((status = tool_check_selection(&tool, k, &sel)) != 0)
		goto out;
	if ((r = kvmdci_vm_list_new(k, &sel, &vms)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}

	/* every VM's buses, devices and their owners read ahead, level by level, pipelined */
	int nvm = 0;
	while (kvmdci_vm_list_get(vms, nvm))
		nvm++;
	uint64_t *addrs = calloc((size_t)nvm + 1, sizeof(*addrs));
	for (int v = 0; addrs && v < nvm; v++)
		addrs[v] = kvmdci_vm_list_get(vms, v)->vm;
	if (addrs && (r = kvmdci_kvm_io_prefetch(k, addrs, nvm)) < 0)
		tool_progress(&tool, "warning: reading ahead failed (%s); walking without",
			      kvmdci_ctx_last_error(tool.ctx));
	free(addrs);

	/* with --json each VM is printed when read, its tree then freed (tool_json_stream) */
	struct tool_json_stream js;
	tool_json_stream_init(&js, &tool, json_pack("{s:s}", "target", tool.target), "vms");
	int shown = 0;
	for (int v = 0; (vi = kvmdci_vm_list_get(vms, v)) && !tool_stop_requested; v++) {
		json_t *jvm = tool.json ? tool_json_stream_element(&js) : json_object();
		put(jvm, "vm", tool_json_addr(vi->vm));
		put(jvm, "vm_pid", json_integer(vi->userspace_pid));
		put(jvm, "online_vcpus", json_integer(vi->online_vcpus));
		put(jvm, "stats_id", vi->stats_id[0] ? json_string(vi->stats_id) : json_null());
		if (!tool.json)
			show_vm_plain(vi, ++shown);
		else
			shown++;
		show_buses(k, vi, want_bus, jvm);
		if (tool.json)
			tool_json_stream_add(&js, jvm);
		else
			json_decref(jvm);
	}
	kvmdci_target_get_stats(t, &s1);
	double secs = tool_now_s() - t0;
	if (tool.verbose)
		tool_progress(&tool,
			      "%d VMs read with %llu packets (%llu bytes received) in %.3f s",
			      shown, (unsigned long long)(s1.packets_sent - s0.packets_sent),
			      (unsigned long long)(s1.bytes_received - s0.bytes_received), secs);
	json_t *tail = json_pack(
		"{s:o}", "stats",
		json_pack("{s:I, s:I, s:f}", "packets_sent",
			  (json_int_t)(s1.packets_sent - s0.packets_sent), "bytes_received",
			  (json_int_t)(s1.bytes_received - s0.bytes_received), "seconds", secs));
	if ((sel.vm || sel.pid > 0) && !shown) {
		status = tool_fail_msg(&tool, ENOENT, "no VM with that struct kvm address or pid");
		json_decref(tail);
		tool_json_stream_drop(&js);
	} else if (tool.json) {
		tool_json_stream_end(&js, tail);
	} else {
		if (!shown)
			printf("no VMs\n");
		json_decref(tail);
		tool_json_stream_drop(&js);
	}
out:
	kvmdci_vm_list_unref(vms);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
