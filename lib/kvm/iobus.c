// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * I/O buses: struct kvm.buses[] (include/linux/kvm_host.h). Each bus is a kvm_io_bus
 * {dev_count, ioeventfd_count, range[]} sorted by (addr, len); a range points at a
 * struct kvm_io_device embedded in its owner. The owner is found by comparing dev->ops with
 * kvm.ko's ops symbols, and decoded through container_of with offsets from type info
 * (docs/kernel-facts.md, "I/O buses"). Since 5.12 a failed unregister can leave a bus NULL.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kernel/kernel-view.h"
#include "target/target-internal.h"
#include "kvm/kvm-internal.h"

/* NR_IOBUS_DEVS (1000) bounds the devices that are not ioeventfds; ioeventfds have no limit
 * in the kernel but one fd each: past this many ranges a bus is taken to be garbage. */
#define NR_IOBUS_DEVS 1000
#define MAX_IO_RANGES (128 * 1024)
#define MAX_BUSES 16
#define MAX_OBJECT_READ 4096

enum {
	OPS_PIC_MASTER,
	OPS_PIC_SLAVE,
	OPS_PIC_ELCR,
	OPS_PIT,
	OPS_SPEAKER,
	OPS_IOAPIC,
	OPS_IOEVENTFD,
	OPS_COALESCED,
	NR_OPS
};

struct iobus_layout {
	uint64_t kvm_buses;
	int nbuses;
	uint64_t bus_dev_count, bus_ioeventfd_count, bus_range, range_size;
	uint64_t range_addr, range_len, range_dev, dev_ops;
	uint64_t ops[NR_OPS]; /* symbol addresses, 0 when absent */
	const char *ops_sym[NR_OPS];
	/* kvmdci_kernel_symbolize of each ops[] ("" when it failed): a walk of N VMs would ask
	 * for them some 12N times */
	char ops_name[NR_OPS][sizeof(((struct kvmdci_io_range *)0)->ops_symbol)];
	int64_t dev_off[NR_OPS]; /* offset of the kvm_io_device in its owner, -1 unknown */
	uint64_t ev_size, ev_addr, ev_length, ev_datamatch, ev_bus_idx, ev_wildcard;
	bool has_ev;
	uint64_t cm_size, cm_zone_addr, cm_zone_size, cm_zone_pio;
	bool has_cm;
	uint64_t ioapic_base;
	bool has_ioapic;
};

/* enum kvm_bus (include/linux/kvm_host.h): KVM_IOCSR_BUS (LoongArch's IOCSR space) joined
 * the generic enum after 6.12 (Debian's 7.2 has it), so x86 then has a fifth, empty, bus;
 * the number of buses comes from struct kvm.buses (docs/kernel-facts.md, "I/O buses") */
static const char *const bus_names[] = {"mmio", "pio", "virtio_ccw_notify", "fast_mmio", "iocsr"};

static const char *const kind_names[] = {
	[KVMDCI_IO_DEV_UNKNOWN] = "unknown",
	[KVMDCI_IO_DEV_PIC_MASTER] = "pic_master",
	[KVMDCI_IO_DEV_PIC_SLAVE] = "pic_slave",
	[KVMDCI_IO_DEV_PIC_ELCR] = "pic_elcr",
	[KVMDCI_IO_DEV_PIT] = "pit",
	[KVMDCI_IO_DEV_SPEAKER] = "speaker",
	[KVMDCI_IO_DEV_IOAPIC] = "ioapic",
	[KVMDCI_IO_DEV_IOEVENTFD] = "ioeventfd",
	[KVMDCI_IO_DEV_COALESCED] = "coalesced_mmio",
};

KVMDCI_EXPORT const char *kvmdci_io_bus_name(int bus)
{
	return bus >= 0 && bus < (int)ARRAY_SIZE(bus_names) ? bus_names[bus] : NULL;
}

KVMDCI_EXPORT const char *kvmdci_io_dev_kind_name(enum kvmdci_io_dev_kind kind)
{
	return kind >= 0 && kind < (int)ARRAY_SIZE(kind_names) ? kind_names[kind] : "unknown";
}

static uint64_t tsize(struct kvmdci_kernel *k, const char *type)
{
	uint64_t s = 0;
	return kvmdci_kernel_type_size(k, NULL, type, &s) == 0 ? s : 0;
}

/* Offsets and ops symbols; what a kernel lacks is left unknown (the device stays "unknown"). */
static int iobus_layout_find(struct kvmdci_kernel *k, struct iobus_layout *l)
{
	static const struct {
		const char *sym[2], *type, *member[2];
	} owners[NR_OPS] = {
		[OPS_PIC_MASTER] = {{"picdev_master_ops"}, "struct kvm_pic", {"dev_master"}},
		[OPS_PIC_SLAVE] = {{"picdev_slave_ops"}, "struct kvm_pic", {"dev_slave"}},
		/* renamed in 5.15 (commit "KVM: x86: Fix ELCR typo") */
		[OPS_PIC_ELCR] = {{"picdev_elcr_ops", "picdev_eclr_ops"},
				  "struct kvm_pic",
				  {"dev_elcr", "dev_eclr"}},
		[OPS_PIT] = {{"pit_dev_ops"}, "struct kvm_pit", {"dev"}},
		[OPS_SPEAKER] = {{"speaker_dev_ops"}, "struct kvm_pit", {"speaker_dev"}},
		[OPS_IOAPIC] = {{"ioapic_mmio_ops"}, "struct kvm_ioapic", {"dev"}},
		[OPS_IOEVENTFD] = {{"ioeventfd_ops"}, "struct _ioeventfd", {"dev"}},
		[OPS_COALESCED] = {{"coalesced_mmio_ops"},
				   "struct kvm_coalesced_mmio_dev",
				   {"dev"}},
	};
	uint64_t size;
	int r;

	memset(l, 0, sizeof(*l));
	if ((r = kernel_member_offset(k, NULL, "struct kvm", "buses", &l->kvm_buses, &size)) < 0)
		goto missing;
	l->nbuses = (int)(size / 8);
	if (l->nbuses < 1 || l->nbuses > MAX_BUSES) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "type info: struct kvm.buses has %d elements",
			   l->nbuses);
		return -EINVAL;
	}
	const struct kernel_field f[] = {
		KERNEL_FIELD("struct kvm_io_bus", "dev_count", &l->bus_dev_count),
		KERNEL_FIELD("struct kvm_io_bus", "ioeventfd_count", &l->bus_ioeventfd_count),
		KERNEL_FIELD("struct kvm_io_bus", "range", &l->bus_range),
		KERNEL_FIELD("struct kvm_io_range", "addr", &l->range_addr),
		KERNEL_FIELD("struct kvm_io_range", "len", &l->range_len),
		KERNEL_FIELD("struct kvm_io_range", "dev", &l->range_dev),
		KERNEL_FIELD("struct kvm_io_device", "ops", &l->dev_ops),
	};
	if ((r = kernel_fields_resolve(k, NULL, f, ARRAY_SIZE(f))) < 0)
		return r;
	l->range_size = tsize(k, "struct kvm_io_range");
	if (l->range_size < l->range_dev + 8 || l->range_size > 256) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "type info: struct kvm_io_range has size %llu",
			   (unsigned long long)l->range_size);
		return -EINVAL;
	}
	for (int i = 0; i < NR_OPS; i++) {
		l->dev_off[i] = -1;
		for (int j = 0; j < 2 && owners[i].sym[j] && !l->ops[i]; j++) {
			char name[64];
			snprintf(name, sizeof(name), "kvm:%s", owners[i].sym[j]);
			if (kvmdci_kernel_symbol(k, name, &l->ops[i]) == 0)
				l->ops_sym[i] = owners[i].sym[j];
		}
		for (int j = 0; j < 2 && owners[i].member[j] && l->dev_off[i] < 0; j++) {
			uint64_t o;
			if (kernel_member_offset(k, NULL, owners[i].type, owners[i].member[j], &o,
						 NULL) == 0)
				l->dev_off[i] = (int64_t)o;
		}
		if (!l->ops[i])
			kvmdci_info(kvmdci_kernel_get_ctx(k),
				    "no symbol kvm:%s; such devices show as unknown",
				    owners[i].sym[0]);
		else if (kvmdci_kernel_symbolize(k, l->ops[i], l->ops_name[i],
						 sizeof(l->ops_name[i])) < 0)
			l->ops_name[i][0] = '\0';
	}
	const struct kernel_field ev[] = {
		KERNEL_FIELD("struct _ioeventfd", "addr", &l->ev_addr),
		KERNEL_FIELD("struct _ioeventfd", "length", &l->ev_length),
		KERNEL_FIELD("struct _ioeventfd", "datamatch", &l->ev_datamatch),
		KERNEL_FIELD("struct _ioeventfd", "bus_idx", &l->ev_bus_idx),
		KERNEL_FIELD("struct _ioeventfd", "wildcard", &l->ev_wildcard),
	};
	const struct kernel_field cm[] = {
		KERNEL_FIELD("struct kvm_coalesced_mmio_dev", "zone.addr", &l->cm_zone_addr),
		KERNEL_FIELD("struct kvm_coalesced_mmio_dev", "zone.size", &l->cm_zone_size),
		KERNEL_FIELD("struct kvm_coalesced_mmio_dev", "zone.pio", &l->cm_zone_pio),
	};
	l->ev_size = tsize(k, "struct _ioeventfd");
	l->has_ev = l->ev_size > 0 && l->ev_size <= MAX_OBJECT_READ &&
		    kernel_fields_present(k, NULL, ev, ARRAY_SIZE(ev));
	l->cm_size = tsize(k, "struct kvm_coalesced_mmio_dev");
	l->has_cm = l->cm_size > 0 && l->cm_size <= MAX_OBJECT_READ &&
		    kernel_fields_present(k, NULL, cm, ARRAY_SIZE(cm));
	l->has_ioapic = kernel_member_offset(k, NULL, "struct kvm_ioapic", "base_address",
					     &l->ioapic_base, NULL) == 0;
	return 0;
missing:
	kvmdci_err(kvmdci_kernel_get_ctx(k), "%s", kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(k)));
	return r;
}

/*
 * The layout, found once per target generation and kept in the kernel view: the offsets come
 * from type info that never changes, the ops symbols from kvm.ko, which can only be reloaded
 * while the target runs (a new generation). A failure is not kept (its error is set again).
 */
static int iobus_layout_get(struct kvmdci_kernel *k, struct iobus_layout *l)
{
	uint64_t gen = target_generation(k->target) + 1;
	int r;

	if (k->iobus_layout && k->iobus_gen == gen) {
		*l = *(const struct iobus_layout *)k->iobus_layout;
		return 0;
	}
	if ((r = iobus_layout_find(k, l)) < 0)
		return r;
	if (k->iobus_layout || (k->iobus_layout = malloc(sizeof(*l)))) {
		memcpy(k->iobus_layout, l, sizeof(*l));
		k->iobus_gen = gen;
	}
	return 0;
}

/* Read the bus pointers of a VM in one read. */
static int read_buses(struct kvmdci_kernel *k, const struct iobus_layout *l, uint64_t vm,
		      uint64_t *buses)
{
	uint8_t b[MAX_BUSES * 8];
	int r = kvmdci_kernel_read(k, vm + l->kvm_buses, b, (size_t)l->nbuses * 8);

	if (r < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "struct kvm at 0x%llx: cannot read buses[] at 0x%llx",
			   (unsigned long long)vm, (unsigned long long)(vm + l->kvm_buses));
		return r;
	}
	for (int i = 0; i < l->nbuses; i++)
		buses[i] = le64(b + i * 8);
	return 0;
}

/* Read and check a bus header; an absurd count is an error naming the bus. */
static int read_bus_header(struct kvmdci_kernel *k, const struct iobus_layout *l, uint64_t bus,
			   int32_t *dev_count, int32_t *ioeventfd_count)
{
	uint64_t lo = l->bus_dev_count < l->bus_ioeventfd_count ? l->bus_dev_count
								: l->bus_ioeventfd_count;
	uint64_t hi = l->bus_dev_count > l->bus_ioeventfd_count ? l->bus_dev_count
								: l->bus_ioeventfd_count;
	uint8_t b[64];
	int r;

	if (hi + 4 - lo > sizeof(b))
		return -EINVAL;
	if ((r = kvmdci_kernel_read(k, bus + lo, b, hi + 4 - lo)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "cannot read struct kvm_io_bus at 0x%llx",
			   (unsigned long long)bus);
		return r;
	}
	*dev_count = (int32_t)le32(b + l->bus_dev_count - lo);
	*ioeventfd_count = (int32_t)le32(b + l->bus_ioeventfd_count - lo);
	if (*dev_count < 0 || *ioeventfd_count < 0 || *ioeventfd_count > *dev_count ||
	    *dev_count - *ioeventfd_count > NR_IOBUS_DEVS || *dev_count > MAX_IO_RANGES) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "struct kvm_io_bus at 0x%llx: absurd dev_count %d / "
			   "ioeventfd_count %d (at most %d devices besides ioeventfds)",
			   (unsigned long long)bus, *dev_count, *ioeventfd_count, NR_IOBUS_DEVS);
		return -EINVAL;
	}
	return 0;
}

KVMDCI_EXPORT int kvmdci_kvm_io_buses(struct kvmdci_kernel *k, uint64_t vm,
				      struct kvmdci_io_bus_info *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct iobus_layout l;
	uint64_t buses[MAX_BUSES];
	int r;

	if ((r = iobus_layout_get(k, &l)) < 0 || (r = read_buses(k, &l, vm, buses)) < 0)
		return r;
	for (int i = 0; i < l.nbuses && i < max; i++) {
		struct kvmdci_io_bus_info *bi = &out[i];
		memset(bi, 0, sizeof(*bi));
		bi->vm = vm;
		bi->bus = buses[i];
		bi->index = i;
		if (buses[i])
			bi->error = read_bus_header(k, &l, buses[i], &bi->dev_count,
						    &bi->ioeventfd_count);
		if (bi->error)
			kvmdci_warn(kvmdci_kernel_get_ctx(k), "%s",
				    kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(k)));
	}
	return l.nbuses;
}

static const int kind_of_ops[NR_OPS] = {
	[OPS_PIC_MASTER] = KVMDCI_IO_DEV_PIC_MASTER, [OPS_PIC_SLAVE] = KVMDCI_IO_DEV_PIC_SLAVE,
	[OPS_PIC_ELCR] = KVMDCI_IO_DEV_PIC_ELCR,     [OPS_PIT] = KVMDCI_IO_DEV_PIT,
	[OPS_SPEAKER] = KVMDCI_IO_DEV_SPEAKER,	     [OPS_IOAPIC] = KVMDCI_IO_DEV_IOAPIC,
	[OPS_IOEVENTFD] = KVMDCI_IO_DEV_IOEVENTFD,   [OPS_COALESCED] = KVMDCI_IO_DEV_COALESCED,
};

/* Classify one device by its ops pointer and decode its owner. */
static void decode_dev(struct kvmdci_kernel *k, const struct iobus_layout *l,
		       struct kvmdci_io_range *o)
{
	uint8_t b[MAX_OBJECT_READ];
	int r, which = -1;

	if ((r = kvmdci_kernel_read_u64(k, o->dev + l->dev_ops, &o->ops)) < 0) {
		kvmdci_warn(kvmdci_kernel_get_ctx(k),
			    "kvm_io_device at 0x%llx (range 0x%llx len %d): unreadable",
			    (unsigned long long)o->dev, (unsigned long long)o->addr, o->len);
		o->error = r;
		return;
	}
	for (int i = 0; i < NR_OPS; i++)
		if (l->ops[i] && o->ops == l->ops[i])
			which = i;
	if (which >= 0)
		memcpy(o->ops_symbol, l->ops_name[which], sizeof(o->ops_symbol));
	else if (kvmdci_kernel_symbolize(k, o->ops, o->ops_symbol, sizeof(o->ops_symbol)) < 0)
		o->ops_symbol[0] = '\0';
	if (which < 0)
		return;
	o->kind = kind_of_ops[which];
	if (l->dev_off[which] < 0)
		return;
	o->object = o->dev - (uint64_t)l->dev_off[which];
	switch (which) {
	case OPS_IOEVENTFD:
		if (!l->has_ev)
			return;
		if ((r = kvmdci_kernel_read(k, o->object, b, l->ev_size)) < 0)
			break;
		o->ioeventfd_addr = le64(b + l->ev_addr);
		o->ioeventfd_length = (int32_t)le32(b + l->ev_length);
		o->ioeventfd_datamatch = le64(b + l->ev_datamatch);
		o->ioeventfd_bus_idx = b[l->ev_bus_idx];
		o->ioeventfd_wildcard = b[l->ev_wildcard];
		o->decoded = 1;
		return;
	case OPS_COALESCED:
		if (!l->has_cm)
			return;
		if ((r = kvmdci_kernel_read(k, o->object, b, l->cm_size)) < 0)
			break;
		o->zone_addr = le64(b + l->cm_zone_addr);
		o->zone_size = le32(b + l->cm_zone_size);
		o->zone_pio = le32(b + l->cm_zone_pio);
		o->decoded = 1;
		return;
	case OPS_IOAPIC:
		if (!l->has_ioapic)
			return;
		if ((r = kvmdci_kernel_read_u64(k, o->object + l->ioapic_base, &o->ioapic_base)) <
		    0)
			break;
		o->decoded = 1;
		return;
	default: /* PIC and PIT: the member the device is says everything */
		o->decoded = 1;
		return;
	}
	kvmdci_warn(kvmdci_kernel_get_ctx(k), "%s at 0x%llx (device 0x%llx): unreadable",
		    kind_names[o->kind], (unsigned long long)o->object, (unsigned long long)o->dev);
	o->error = r;
}

KVMDCI_EXPORT int kvmdci_kvm_io_ranges(struct kvmdci_kernel *k, uint64_t vm, int bus,
				       struct kvmdci_io_range *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct iobus_layout l;
	uint64_t buses[MAX_BUSES];
	int32_t count, nev;
	uint8_t *ranges;
	int r;

	if ((r = iobus_layout_get(k, &l)) < 0 || (r = read_buses(k, &l, vm, buses)) < 0)
		return r;
	if (bus < 0 || bus >= l.nbuses) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "no bus %d: struct kvm.buses has %d", bus,
			   l.nbuses);
		return -EINVAL;
	}
	if (!buses[bus])
		return 0;
	if ((r = read_bus_header(k, &l, buses[bus], &count, &nev)) < 0)
		return r;
	int n = count < max ? count : max;
	if (n <= 0)
		return count;
	size_t sz = (size_t)n * l.range_size;
	if (!(ranges = malloc(sz)))
		return -ENOMEM;
	if ((r = kvmdci_kernel_read(k, buses[bus] + l.bus_range, ranges, sz)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(k),
			   "struct kvm_io_bus at 0x%llx: cannot read its %d ranges",
			   (unsigned long long)buses[bus], count);
		free(ranges);
		return r;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *p = ranges + (size_t)i * l.range_size;
		struct kvmdci_io_range *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->addr = le64(p + l.range_addr);
		o->len = (int32_t)le32(p + l.range_len);
		o->dev = le64(p + l.range_dev);
		if (!o->dev) {
			kvmdci_warn(kvmdci_kernel_get_ctx(k),
				    "struct kvm_io_bus at 0x%llx: range %d has no device",
				    (unsigned long long)buses[bus], i);
			o->error = -EINVAL;
			continue;
		}
		decode_dev(k, &l, o);
	}
	free(ranges);
	return count;
}

/* The ranges a bus's first planned read covers; a longer array gets a read of its own. */
#define PLAN_RANGES 16
#define PLAN_MAX_ARRAY (64 * 1024)

/* Grow @rq (*cap) to hold @n more; NULL on ENOMEM (the old array freed). */
static struct target_read *rq_room(struct target_read *rq, int used, int *cap, int n)
{
	if (used + n <= *cap)
		return rq;
	int c = *cap ? *cap : 256;
	while (c < used + n)
		c *= 2;
	struct target_read *r = realloc(rq, (size_t)c * sizeof(*r));
	if (!r)
		free(rq);
	*cap = c;
	return r;
}

KVMDCI_EXPORT int kvmdci_kvm_io_prefetch(struct kvmdci_kernel *k, const uint64_t *vms, int n)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct iobus_layout l;
	struct target_read *rq = NULL;
	uint8_t *buf = NULL;
	int r, nrq = 0, cap = 0;

	/* nothing to plan (a dump, /proc/kcore, KVMDCI_READ_PLAN=0): the levels below would
	 * still touch every page of their buffers (a sixth of a 650-VM walk on a dump) */
	if (n <= 0 || !kernel_plan_enabled(k))
		return 0;
	if ((r = iobus_layout_get(k, &l)) < 0)
		return r;
	size_t head = l.bus_range + PLAN_RANGES * l.range_size;
	/* one buffer for every level's data: buses[] per VM, a head per bus */
	size_t per_vm = (size_t)l.nbuses * 8 + (size_t)l.nbuses * head;
	/* zeroed: what a failed read leaves is a NULL bus, skipped */
	if (!(buf = calloc((size_t)n, per_vm)) || !(rq = rq_room(rq, 0, &cap, n))) {
		r = -ENOMEM;
		goto out;
	}
	/* 1: every VM's buses[] */
	for (int i = 0; i < n; i++)
		rq[i] = (struct target_read){ .addr = vms[i] + l.kvm_buses, .len = (size_t)l.nbuses * 8,
					      .buf = buf + (size_t)i * per_vm };
	if ((r = kernel_plan_read(k, rq, n)) < 0)
		goto out;
	/* 2: every bus's header and first ranges */
	nrq = 0;
	if (!(rq = rq_room(rq, 0, &cap, n * l.nbuses))) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *vb = buf + (size_t)i * per_vm;
		for (int b = 0; b < l.nbuses; b++) {
			uint64_t bus = le64(vb + 8 * b);
			if (!bus)
				continue;
			rq[nrq++] = (struct target_read){ .addr = bus, .len = head,
							  .buf = buf + (size_t)i * per_vm +
								 (size_t)l.nbuses * 8 + (size_t)b * head };
		}
	}
	if ((r = kernel_plan_read(k, rq, nrq)) < 0)
		goto out;
	/* 3: the rest of long range arrays, and every device's ops */
	int nbus = nrq;
	struct target_read *buses_rq = rq;
	rq = NULL;
	cap = 0;
	nrq = 0;
	uint8_t *ops = NULL;
	size_t nops = 0, opscap = 0;
	for (int j = 0; j < nbus; j++) {
		const uint8_t *h = buses_rq[j].buf;
		if (buses_rq[j].result != 0)
			continue;
		int32_t cnt = (int32_t)le32(h + l.bus_dev_count);
		if (cnt <= 0 || (size_t)cnt * l.range_size > PLAN_MAX_ARRAY)
			continue;
		if (cnt > PLAN_RANGES) { /* the whole array, in a read of its own */
			if (!(rq = rq_room(rq, nrq, &cap, 1))) {
				r = -ENOMEM;
				break;
			}
			rq[nrq++] = (struct target_read){ .addr = buses_rq[j].addr + l.bus_range,
							  .len = (size_t)cnt * l.range_size };
			continue; /* its devices: in the next pass, from the walk's own reads */
		}
		for (int i = 0; i < cnt; i++) {
			uint64_t dev = le64(h + l.bus_range + (size_t)i * l.range_size + l.range_dev);
			if (!dev)
				continue;
			if (!(rq = rq_room(rq, nrq, &cap, 1))) {
				r = -ENOMEM;
				break;
			}
			if (nops == opscap) {
				opscap = opscap ? 2 * opscap : 1024;
				uint8_t *o = realloc(ops, opscap * 8);
				if (!o) {
					r = -ENOMEM;
					break;
				}
				ops = o;
			}
			/* the device's address; its ops pointer is read into the plan only
			 * (ops moves as it grows), and taken from there below */
			memcpy(ops + nops * 8, &dev, 8);
			rq[nrq++] = (struct target_read){ .addr = dev + l.dev_ops, .len = 8 };
			nops++;
		}
		if (r < 0)
			break;
	}
	free(buses_rq);
	if (r < 0 || (r = kernel_plan_read(k, rq, nrq)) < 0) {
		free(ops);
		goto out;
	}
	/* 4: the devices' owners: ioeventfds, coalesced zones, the IOAPIC's base */
	nrq = 0;
	for (size_t i = 0; i < nops; i++) {
		uint64_t dev, op;
		memcpy(&dev, ops + i * 8, 8);
		if (kvmdci_kernel_read_u64(k, dev + l.dev_ops, &op) < 0)
			continue;
		int which = -1;
		for (int w = 0; w < NR_OPS; w++)
			if (l.ops[w] && op == l.ops[w])
				which = w;
		if (which < 0 || l.dev_off[which] < 0)
			continue;
		uint64_t obj = dev - (uint64_t)l.dev_off[which];
		struct target_read one = { .addr = obj };
		if (which == OPS_IOEVENTFD && l.has_ev)
			one.len = l.ev_size;
		else if (which == OPS_COALESCED && l.has_cm)
			one.len = l.cm_size;
		else if (which == OPS_IOAPIC && l.has_ioapic)
			one = (struct target_read){ .addr = obj + l.ioapic_base, .len = 8 };
		else
			continue;
		if (!(rq = rq_room(rq, nrq, &cap, 1))) {
			r = -ENOMEM;
			break;
		}
		rq[nrq++] = one;
	}
	free(ops);
	if (r >= 0)
		r = kernel_plan_read(k, rq, nrq);
out:
	free(rq);
	free(buf);
	return r < 0 ? r : 0;
}
