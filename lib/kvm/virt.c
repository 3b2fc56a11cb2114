// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Who owns hardware virtualization on each CPU: the CPU's own view (CR4.VMXE for VMX,
 * EFER.SVME for SVM, read through the debugger) joined with KVM's (virt/kvm/kvm_main.c:
 * cpumask cpus_hardware_enabled through 6.2, per-CPU bool hardware_enabled 6.3-6.11,
 * per-CPU bool virtualization_enabled from 6.12 — chosen by which symbol exists, never by
 * version), KVM's VMXON region (per-CPU vmxarea) or svm_data (per-CPU pointer through 6.0,
 * the struct itself from 6.1: chosen by the variable's type info), and the loaded VMCS
 * (per-CPU current_vmcs). "The first one who executes VMXON wins": a CPU with virtualization
 * on that KVM did not enable is someone else's (another hypervisor, a leaked VMXON).
 * Per-CPU variables: instance = symbol + __per_cpu_offset[cpu] (vmlinux and modules alike).
 *
 * Also the shared plumbing of vmx.c and svm.c: the kernel environment and a flattening
 * reader of structures (vmcs12, VMCB) driven by type info.
 */
#include <bpf/btf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"

#define X86_CR4_VMXE (1ull << 13)
#define EFER_SVME (1ull << 12)
#define EFER_LMA (1ull << 10)
#define X86_CR0_PG (1ull << 31)
#define MAX_STRUCT 0x4000
#define IN_GUEST_MODE 1 /* kvm_vcpu.mode, include/linux/kvm_host.h */

/* ---- the kernel environment ---- */

static int k_read(void *data, uint64_t addr, void *buf, size_t len)
{
	return kvmdci_kernel_read(data, addr, buf, len);
}

static int k_symbol(void *data, const char *name, uint64_t *addr)
{
	return kvmdci_kernel_symbol(data, name, addr);
}

static int k_reg(void *data, int cpu, const char *name, uint64_t *val)
{
	return kvmdci_target_reg_read(kvmdci_kernel_get_target(data), cpu, name, val);
}

/* Does the host kernel's linux_banner read back through this CPU's paging? */
static int k_in_guest(void *data, int cpu, char *why, size_t whylen)
{
	int sees = kernel_cpu_sees_kernel(data, cpu);

	if (sees < 0)
		return -1;
	if (sees)
		return 0;
	snprintf(why, whylen, "the kernel's linux_banner does not read back through its paging");
	return 1;
}

int virt_member_read(const struct virt_env *e, const char *module, const char *type, uint64_t base,
		     const char *path, uint64_t *v)
{
	uint64_t off, size;
	uint8_t b[8] = {0};
	int r = kernel_member_offset(e->k, module, type, path, &off, &size);

	if (r < 0)
		return r;
	if ((r = e->read(e->data, base + off, b, size < 8 ? size : 8)) < 0)
		return r;
	*v = le64(b);
	return 0;
}

static int k_v2p(void *data, uint64_t va, uint64_t *pa)
{
	return kernel_virt_to_phys(data, va, pa);
}

void virt_env_kernel(struct virt_env *e, struct kvmdci_kernel *k)
{
	memset(e, 0, sizeof(*e));
	e->k = k;
	e->read = k_read;
	e->symbol = k_symbol;
	e->reg = k_reg;
	e->in_guest = k_in_guest;
	e->v2p = k_v2p;
	struct kvmdci_target *t = kvmdci_kernel_get_target(k);

	e->ncpus = t ? kvmdci_target_cpu_count(t) : 0;
	e->data = k;
}

/* ---- structures flattened into named fields ---- */

struct walk {
	struct kbtf *btf;
	const uint8_t *buf;
	size_t size;
	struct kvmdci_field *out;
	int max, n;
};

static bool skipped_name(const char *n)
{
	return !strncmp(n, "reserved", 8) || !strncmp(n, "padding", 7) ||
	       !strncmp(n, "dead_space", 10) || !strcmp(n, "pad");
}

static void emit(struct walk *w, const char *name, uint64_t bits, uint32_t bitsize, uint32_t size)
{
	uint64_t o = bits / 8;
	uint8_t b[16] = { 0 };

	if (size > 8 || o + size > w->size)
		return;
	if (w->n < w->max) {
		struct kvmdci_field *f = &w->out[w->n];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", name);
		memcpy(b, w->buf + o, bitsize ? (size_t)((bits % 8 + bitsize + 7) / 8) : size);
		uint64_t v = le64(b);
		if (bitsize) {
			v >>= bits % 8;
			if (bitsize < 64)
				v &= (1ull << bitsize) - 1;
			f->size = (bitsize + 7) / 8;
		} else {
			f->size = size;
		}
		f->offset = (uint32_t)o;
		f->value = v;
		f->encoding = UINT32_MAX;
	}
	w->n++;
}

static void walk_type(struct walk *w, int32_t id, uint64_t bits, const char *prefix, int depth)
{
	id = ktypes_skip_mods(w->btf, id);
	const struct btf_type *t = kbtf_type_by_id(w->btf, (uint32_t)id);
	if (!t || depth > 6)
		return;
	if (!btf_is_composite(t))
		return;
	int vlen = btf_vlen(t);
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < vlen; i++) {
		const char *name = kbtf_name_by_offset(w->btf, m[i].name_off);
		uint64_t mbits = bits + btf_member_bit_offset(t, (uint32_t)i);
		uint32_t bf = btf_member_bitfield_size(t, (uint32_t)i);
		int32_t mid = ktypes_skip_mods(w->btf, (int32_t)m[i].type);
		const struct btf_type *mt = kbtf_type_by_id(w->btf, (uint32_t)mid);
		char path[128];

		if (!mt)
			continue;
		if (!name || !*name) { /* anonymous struct or union: its members are ours */
			walk_type(w, mid, mbits, prefix, depth + 1);
		} else if (skipped_name(name)) {
			continue;
		} else if (btf_is_composite(mt)) {
			snprintf(path, sizeof(path), "%s%s.", prefix, name);
			walk_type(w, mid, mbits, path, depth + 1);
		} else if (btf_is_array(mt)) {
			const struct btf_array *a = btf_array(mt);
			int32_t eid = ktypes_skip_mods(w->btf, (int32_t)a->type);
			const struct btf_type *et = kbtf_type_by_id(w->btf, (uint32_t)eid);
			long es = ktypes_size(w->btf, eid);
			if (!et || es <= 0 || es > 8 || a->nelems > 16 || btf_is_composite(et))
				continue;
			for (uint32_t j = 0; j < a->nelems; j++) {
				snprintf(path, sizeof(path), "%s%s[%u]", prefix, name, j);
				emit(w, path, mbits + (uint64_t)j * (uint64_t)es * 8, 0,
				     (uint32_t)es);
			}
		} else {
			long s = ktypes_size(w->btf, mid);
			snprintf(path, sizeof(path), "%s%s", prefix, name);
			if (s > 0)
				emit(w, path, mbits, bf, (uint32_t)s);
		}
		/* a union's members overlay each other: the first one is the view we decode */
		if (btf_is_union(t))
			break;
	}
}

int virt_struct_fields(const struct virt_env *e, const char *module, const char *type,
		       uint64_t addr, size_t max_size, struct kvmdci_field *out, int max)
{
	struct walk w = { .out = out, .max = max };
	int32_t id;
	int r;

	if ((r = kernel_type(e->k, module, type, &w.btf, &id)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(e->k), "%s",
			   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(e->k)));
		return r;
	}
	long size = ktypes_size(w.btf, id);
	if (size <= 0 || (size_t)size > MAX_STRUCT) {
		kvmdci_err(kvmdci_kernel_get_ctx(e->k), "type info: %s has an absurd size %ld",
			   type, size);
		return -EINVAL;
	}
	w.size = (size_t)size < max_size ? (size_t)size : max_size;
	uint8_t *buf = malloc(w.size);
	if (!buf)
		return -ENOMEM;
	if ((r = e->read(e->data, addr, buf, w.size)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(e->k), "%s at 0x%llx: cannot read %zu bytes", type,
			   (unsigned long long)addr, w.size);
		free(buf);
		return r;
	}
	w.buf = buf;
	walk_type(&w, id, 0, "", 0);
	free(buf);
	return w.n;
}

/* ---- per-CPU ownership ---- */

KVMDCI_EXPORT const char *kvmdci_virt_owner_name(enum kvmdci_virt_owner owner)
{
	static const char *const n[] = { "unknown", "off", "kvm", "foreign", "inconsistent" };
	return owner >= 0 && owner < (int)ARRAY_SIZE(n) ? n[owner] : "unknown";
}

void virt_verdict(struct kvmdci_cpu_virt *c, const char *cpu_why)
{
	const char *bit = c->vendor == KVMDCI_VENDOR_SVM   ? "EFER.SVME"
			  : c->vendor == KVMDCI_VENDOR_VMX ? "CR4.VMXE"
							   : "CR4.VMXE/EFER.SVME";
	int on = c->in_guest == 1 ? 1 : c->cpu_on;

	if (on < 0) {
		c->owner = KVMDCI_VIRT_UNKNOWN;
		snprintf(c->reason, sizeof(c->reason), "%s unknown (%s); KVM %s", bit,
			 cpu_why && *cpu_why ? cpu_why : "not readable",
			 c->kvm_on == 1 ? "enabled it" : c->kvm_on == 0 ? "did not enable it"
									: "state unknown");
	} else if (on) {
		const char *how = c->in_guest == 1 ? "running a guest, so virtualization is on"
						   : bit;
		if (c->kvm_on == 1) {
			c->owner = KVMDCI_VIRT_KVM;
			snprintf(c->reason, sizeof(c->reason), "%s%s; KVM enabled it (%s)", how,
				 c->in_guest == 1 ? "" : " set", c->kvm_source);
		} else if (c->kvm_on == 0) {
			c->owner = KVMDCI_VIRT_FOREIGN;
			snprintf(c->reason, sizeof(c->reason),
				 "%s%s but KVM did not enable it%s%s%s: another hypervisor or a "
				 "leaked VMXON",
				 how, c->in_guest == 1 ? "" : " set",
				 c->kvm_source[0] ? " (" : "", c->kvm_source,
				 c->kvm_source[0] ? ")" : "");
		} else {
			c->owner = KVMDCI_VIRT_UNKNOWN;
			snprintf(c->reason, sizeof(c->reason), "%s%s; KVM's view unknown", how,
				 c->in_guest == 1 ? "" : " set");
		}
	} else if (c->kvm_on == 1) {
		c->owner = KVMDCI_VIRT_INCONSISTENT;
		snprintf(c->reason, sizeof(c->reason), "KVM thinks it enabled it (%s) but %s is clear",
			 c->kvm_source, bit);
	} else {
		c->owner = KVMDCI_VIRT_OFF;
		snprintf(c->reason, sizeof(c->reason), "%s clear%s", bit,
			 c->kvm_on == 0 ? "; KVM agrees" : "; KVM's view unknown");
	}
}

/* Is cpumask_var_t a pointer (CONFIG_CPUMASK_OFFSTACK) or the mask itself? */
static int cpumask_is_pointer(struct kvmdci_kernel *k)
{
	struct kbtf *btf;
	int32_t id;

	if (kernel_type(k, NULL, "cpumask_var_t", &btf, &id) < 0)
		return -ENOENT;
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, id));
	return t && btf_is_ptr(t);
}

static int rd64(const struct virt_env *e, uint64_t addr, uint64_t *v)
{
	uint8_t b[8];
	int r = e->read(e->data, addr, b, 8);
	if (r == 0)
		*v = le64(b);
	return r;
}

int virt_cpus_read(const struct virt_env *e, enum kvmdci_vendor vendor,
		   struct kvmdci_cpu_virt *out, int max)
{
	struct kvmdci_kernel *k = e->k;
	uint64_t pcpu_base = 0, sym_virt = 0, sym_hw = 0, sym_mask = 0, sym_vmxarea = 0,
		 sym_vmcs = 0, sym_svm = 0;
	bool have_pcpu = e->symbol(e->data, "__per_cpu_offset", &pcpu_base) == 0;
	const char *src = "";
	int mask_ptr = -1, svm_ptr = -1;

	/* KVM's view: whichever of the three the kernel has, by symbol presence */
	if (e->symbol(e->data, "kvm:virtualization_enabled", &sym_virt) == 0)
		src = "virtualization_enabled";
	else if (e->symbol(e->data, "kvm:hardware_enabled", &sym_hw) == 0)
		src = "hardware_enabled";
	else if (e->symbol(e->data, "kvm:cpus_hardware_enabled", &sym_mask) == 0) {
		src = "cpus_hardware_enabled";
		mask_ptr = cpumask_is_pointer(k);
	}
	if (vendor == KVMDCI_VENDOR_VMX) {
		/* the per-CPU VMXON region: KVM's vmxarea, or from 7.2 (VMXON in the core
		 * kernel, arch/x86/virt) vmlinux's root_vmcs */
		if (e->symbol(e->data, "kvm_intel:vmxarea", &sym_vmxarea) < 0)
			e->symbol(e->data, "root_vmcs", &sym_vmxarea);
		e->symbol(e->data, "kvm_intel:current_vmcs", &sym_vmcs);
	} else if (vendor == KVMDCI_VENDOR_SVM) {
		if (e->symbol(e->data, "kvm_amd:svm_data", &sym_svm) == 0)
			svm_ptr = svm_data_is_pointer(k);
	}
	if (!have_pcpu && (sym_virt || sym_hw || sym_vmxarea || sym_vmcs || sym_svm))
		kvmdci_warn(kvmdci_kernel_get_ctx(k),
			    "no __per_cpu_offset symbol: per-CPU state unknown");

	for (int cpu = 0; cpu < e->ncpus; cpu++) {
		struct kvmdci_cpu_virt c = { 0 };
		char why[160] = "";
		uint64_t pcpu = 0, v;
		bool pcpu_ok = have_pcpu && rd64(e, pcpu_base + 8 * (uint64_t)cpu, &pcpu) == 0;

		c.cpu = cpu;
		c.vendor = vendor;
		c.cpu_on = -1;
		c.kvm_on = -1;
		snprintf(c.kvm_source, sizeof(c.kvm_source), "%s", src);

		/* the CPU's view */
		if (e->reg(e->data, cpu, "cr4", &c.cr4) == 0)
			c.regs_valid |= 1;
		if (e->reg(e->data, cpu, "efer", &c.efer) == 0)
			c.regs_valid |= 2;
		c.in_guest = e->in_guest ? e->in_guest(e->data, cpu, why, sizeof(why)) : -1;
		char host_note[sizeof(why)] = ""; /* why a CPU KVM thinks in guest is not */
		if (c.in_guest == 0 && why[0]) {
			snprintf(host_note, sizeof(host_note), "%s", why);
			why[0] = '\0';
		}
		if (c.in_guest == 1) {
			/* QEMU and a CPU stopped in guest mode show the guest's registers */
		} else if (vendor == KVMDCI_VENDOR_SVM) {
			if (c.regs_valid & 2)
				c.cpu_on = !!(c.efer & EFER_SVME);
			else
				snprintf(why, sizeof(why), "the target has no EFER register for it");
		} else if (vendor == KVMDCI_VENDOR_VMX) {
			if (c.regs_valid & 1)
				c.cpu_on = !!(c.cr4 & X86_CR4_VMXE);
			else
				snprintf(why, sizeof(why), "the target has no CR4 register for it");
		} else if (c.regs_valid & 1) {
			/* no KVM module: either vendor's switch counts */
			c.cpu_on = (c.cr4 & X86_CR4_VMXE) || ((c.regs_valid & 2) && (c.efer & EFER_SVME));
		}

		/* KVM's view */
		if (vendor == KVMDCI_VENDOR_NONE && !src[0]) {
			c.kvm_on = 0; /* kvm not loaded: it cannot own anything */
		} else if ((sym_virt || sym_hw) && pcpu_ok) {
			uint8_t b;
			if (e->read(e->data, (sym_virt ? sym_virt : sym_hw) + pcpu, &b, 1) == 0)
				c.kvm_on = b != 0;
		} else if (sym_mask && mask_ptr >= 0) {
			uint64_t bits = sym_mask;
			if ((!mask_ptr || rd64(e, sym_mask, &bits) == 0) && bits &&
			    rd64(e, bits + (uint64_t)(cpu / 64) * 8, &v) == 0)
				c.kvm_on = (v >> (cpu % 64)) & 1;
			else if (mask_ptr && bits == 0)
				c.kvm_on = 0; /* never allocated: KVM never enabled anything */
		} else if (!src[0] && vendor != KVMDCI_VENDOR_NONE) {
			kvmdci_info(kvmdci_kernel_get_ctx(k),
				    "no cpus_hardware_enabled, hardware_enabled or "
				    "virtualization_enabled symbol in kvm");
		}
		if (pcpu_ok && sym_vmxarea && rd64(e, sym_vmxarea + pcpu, &v) == 0)
			c.vmxarea = v;
		if (c.vmxarea) {
			/* the VMXON region's first 32 bits: the revision identifier VMXON
			 * checks against IA32_VMX_BASIC[30:0] (Intel SDM vol. 3, 25.11.5) */
			uint8_t rev[4];
			if (e->read(e->data, c.vmxarea, rev, 4) == 0) {
				c.vmxon_revision = (uint32_t)rev[0] | (uint32_t)rev[1] << 8 |
						   (uint32_t)rev[2] << 16 | (uint32_t)rev[3] << 24;
				c.vmxon_valid |= 1;
			}
			/* VMXON takes the region's physical address (KVM: __pa(vmxarea)) */
			if (e->v2p && e->v2p(e->data, c.vmxarea, &c.vmxarea_pa) == 0)
				c.vmxon_valid |= 2;
		}
		if (pcpu_ok && sym_vmcs && rd64(e, sym_vmcs + pcpu, &v) == 0)
			c.current_vmcs = v;
		struct svm_percpu sd;
		if (pcpu_ok && sym_svm && svm_ptr >= 0 &&
		    svm_percpu_read(e, sym_svm, svm_ptr, pcpu, &sd) == 0) {
			c.svm_data = sd.svm_data;
			c.save_area = sd.save_area;
			uint64_t pa;
			if (svm_save_area_pa(k, &sd, &pa) == 0)
				c.save_area_pa = pa;
			c.svm_current_vmcb = sd.current_vmcb;
		}
		virt_verdict(&c, why);
		if (c.in_guest != 0 && why[0]) {
			size_t l = strlen(c.reason);
			snprintf(c.reason + l, sizeof(c.reason) - l, "; %s: %s",
				 c.in_guest == 1 ? "in guest" : "registers may be a guest's", why);
		} else if (host_note[0]) {
			size_t l = strlen(c.reason);
			snprintf(c.reason + l, sizeof(c.reason) - l, "; %s", host_note);
		}
		if (cpu < max)
			out[cpu] = c;
	}
	return e->ncpus;
}

/* vCPUs that KVM says are in guest mode, by physical CPU (bit per CPU, first 64). */
static uint64_t vcpus_in_guest(struct kvmdci_kernel *k)
{
	struct kvmdci_vcpu_list *l = NULL;
	const struct kvmdci_vcpu_info *vi;
	uint64_t mask = 0;

	if (kvmdci_vcpu_list_new(k, NULL, &l) < 0)
		return 0;
	for (int i = 0; (vi = kvmdci_vcpu_list_get(l, i)); i++) {
		struct kvmdci_vcpu_state s;
		if (kvmdci_kvm_vcpu_state(k, vi->vcpu, &s) == 0 && s.mode == IN_GUEST_MODE &&
		    s.cpu >= 0 && s.cpu < 64)
			mask |= 1ull << s.cpu;
	}
	kvmdci_vcpu_list_unref(l);
	return mask;
}

struct kenv_guest {
	struct kvmdci_kernel *k;
	uint64_t vcpu_mask;
};

static int kg_read(void *data, uint64_t addr, void *buf, size_t len)
{
	return k_read(((struct kenv_guest *)data)->k, addr, buf, len);
}
static int kg_symbol(void *data, const char *name, uint64_t *addr)
{
	return k_symbol(((struct kenv_guest *)data)->k, name, addr);
}
static int kg_reg(void *data, int cpu, const char *name, uint64_t *val)
{
	return k_reg(((struct kenv_guest *)data)->k, cpu, name, val);
}
static int kg_v2p(void *data, uint64_t va, uint64_t *pa)
{
	return k_v2p(((struct kenv_guest *)data)->k, va, pa);
}
static int kg_in_guest(void *data, int cpu, char *why, size_t whylen)
{
	struct kenv_guest *g = data;
	uint64_t cr0 = 0, efer = 0;
	bool kvm_says = cpu < 64 && (g->vcpu_mask >> cpu) & 1;
	enum kvmdci_cpu_mode mode;
	char ev[96];

	/* the CPU's registers decide, as for kvmdci-cpus (kvm_cpu_mode); vcpu->mode is support */
	if (kvm_cpu_mode(g->k, cpu, &mode, ev, sizeof(ev)) == 0) {
		if (mode == KVMDCI_CPU_GUEST) {
			snprintf(why, whylen, "%s%s", ev,
				 kvm_says ? ", a vCPU here IN_GUEST_MODE" : "");
			return 1;
		}
		/* IN_GUEST_MODE is set before VMRUN and cleared some instructions after #VMEXIT
		 * (vcpu_enter_guest, arch/x86/kvm/x86.c): stale around the switch */
		if (kvm_says)
			snprintf(why, whylen, "in host: %s, vcpu->mode stale", ev);
		return 0;
	}
	if (kvm_says) {
		snprintf(why, whylen, "a vCPU on this CPU is in IN_GUEST_MODE");
		return 1;
	}
	/* a 64-bit host kernel or process always runs with paging and long mode on */
	if ((k_reg(g->k, cpu, "cr0", &cr0) == 0 && !(cr0 & X86_CR0_PG)) ||
	    (k_reg(g->k, cpu, "efer", &efer) == 0 && !(efer & EFER_LMA))) {
		snprintf(why, whylen, "paging or long mode is off, which a 64-bit host never has");
		return 1;
	}
	/* the banner does not read back: a guest's paging, or host user space under PTI */
	if (k_in_guest(g->k, cpu, why, whylen) == 1) {
		snprintf(why, whylen, "not in the host kernel's address space (user space or a "
				      "guest)");
		return -1;
	}
	return 0;
}

KVMDCI_EXPORT int kvmdci_kvm_cpu_virt(struct kvmdci_kernel *k, struct kvmdci_cpu_virt *out,
				      int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kenv_guest g = { .k = k };
	struct virt_env e;
	enum kvmdci_vendor vendor = kvmdci_kvm_vendor(k);

	virt_env_kernel(&e, k);
	if (vendor != KVMDCI_VENDOR_NONE)
		g.vcpu_mask = vcpus_in_guest(k);
	e.data = &g;
	e.read = kg_read;
	e.symbol = kg_symbol;
	e.reg = kg_reg;
	e.in_guest = kg_in_guest;
	e.v2p = kg_v2p;
	return virt_cpus_read(&e, vendor, out, max);
}
