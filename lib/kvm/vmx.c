// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Intel VMX state that KVM keeps for a vCPU (struct vcpu_vmx, arch/x86/kvm/vmx/vmx.h):
 * loaded_vmcs (VMCS region, shadow VMCS, CPU, launched), the VMCS region's header read from
 * memory (revision id, shadow bit, VMX-abort indicator; the rest of the region is in a
 * CPU-specific format readable only with VMREAD), the exit information KVM cached at the last
 * exit, and nested VMX (vmx->nested: VMXON, current vmptr, cached vmcs12).
 * Every offset comes from the target's type info (kvm_intel's BTF); where a member moved or
 * appeared between versions (exit_reason u32 -> union vmx_exit_reason in 5.12/5.10.32,
 * exit_qualification cached from 5.8) the type info decides
 * (docs/kernel-facts.md, "VMX").
 */
#include <bpf/btf.h>
#include <ctype.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"

#define VMCS12_REVISION 0x11e57ed0u /* arch/x86/kvm/vmx/vmcs12.h */
#define VMCS12_MAX_SIZE 0x1000	    /* VMCS12_SIZE */
#define VMX_MOD "kvm_intel"

static int off(const struct virt_env *e, const char *type, const char *path, uint64_t *o,
	       uint32_t *size)
{
	struct ktypes_loc loc;
	int r = kernel_member(e->k, VMX_MOD, type, path, &loc);

	if (r < 0)
		return r;
	*o = loc.bit_offset / 8;
	if (size)
		*size = loc.size;
	return 0;
}

static int rd(const struct virt_env *e, uint64_t addr, void *buf, size_t len)
{
	return e->read(e->data, addr, buf, len);
}

static int rd_uint(const struct virt_env *e, uint64_t addr, uint32_t size, uint64_t *v)
{
	uint8_t b[8] = { 0 };
	int r;

	if (size > 8)
		size = 8;
	if ((r = rd(e, addr, b, size)) < 0)
		return r;
	*v = le64(b);
	return 0;
}

/* Read member @path of struct vcpu_vmx (or @type) at @base into @v; -ENOENT when absent. */
static int member(const struct virt_env *e, const char *type, uint64_t base, const char *path,
		  uint64_t *v)
{
	uint64_t o;
	uint32_t size;
	int r = off(e, type, path, &o, &size);

	if (r < 0)
		return r;
	return rd_uint(e, base + o, size, v);
}

/* Value of enumerator @name of enum kvm_reg (kvm's or vmlinux's BTF), -ENOENT when absent. */
static int kvm_reg_bit(struct kvmdci_kernel *k, const char *name)
{
	struct btf *btf;
	int32_t id;

	if (kernel_type(k, "kvm", "enum kvm_reg", &btf, &id) < 0 &&
	    kernel_type(k, NULL, "enum kvm_reg", &btf, &id) < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_enum *en = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, en[i].name_off), name))
			return en[i].val >= 0 && en[i].val < 32 ? en[i].val : -ERANGE;
	return -ENOENT;
}

KVMDCI_EXPORT const char *kvmdci_vmx_exit_flag_name(int bit)
{
	/* SDM vol. 3C table "Format of Exit Reason"; the kernel's union vmx_exit_reason */
	switch (bit) {
	case 26:
		return "bus_lock_detected";
	case 27:
		return "enclave_mode";
	case 28:
		return "pending_mtf";
	case 29:
		return "from_vmx_root";
	case 31:
		return "failed_vmentry";
	}
	return NULL;
}

int vmx_vcpu_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_vmx_vcpu *out)
{
	static const char *const T = "struct vcpu_vmx";
	uint64_t v, o_vmcs01, lv;
	int r;

	memset(out, 0, sizeof(*out));
	out->vcpu = vcpu;
	out->cpu = -1;
	out->exit_qualification_valid = -1;
	out->current_vmptr = UINT64_MAX;
	/* required: without these this is not a vcpu_vmx we understand */
	if ((r = off(e, T, "vmcs01", &o_vmcs01, NULL)) < 0 ||
	    (r = member(e, T, vcpu, "loaded_vmcs", &lv)) < 0) {
		if (r == -ENOENT)
			kvmdci_err(e->k->ctx, "%s", kvmdci_ctx_last_error(e->k->ctx));
		else
			kvmdci_err(e->k->ctx, "struct vcpu_vmx at 0x%llx: unreadable",
				   (unsigned long long)vcpu);
		return r;
	}
	out->loaded_vmcs = lv;
	out->loaded_is_vmcs01 = lv == vcpu + o_vmcs01;
	if (member(e, T, vcpu, "vmcs01.vmcs", &v) == 0)
		out->vmcs01_vmcs = v;
	if (member(e, T, vcpu, "nested.vmcs02.vmcs", &v) == 0)
		out->vmcs02_vmcs = v;

	if (lv) {
		static const char *const L = "struct loaded_vmcs";
		if ((r = member(e, L, lv, "vmcs", &v)) == 0)
			out->vmcs = v;
		else
			out->error = r;
		if (member(e, L, lv, "shadow_vmcs", &v) == 0)
			out->shadow_vmcs = v;
		if (member(e, L, lv, "cpu", &v) == 0)
			out->cpu = (int32_t)(uint32_t)v;
		if (member(e, L, lv, "launched", &v) == 0)
			out->launched = (int32_t)(v & 0xff);
	}
	if (out->vmcs) {
		uint64_t o_abort = 4;
		uint8_t b[4];
		off(e, "struct vmcs", "abort", &o_abort, NULL);
		if ((r = rd(e, out->vmcs, b, 4)) == 0) {
			uint32_t w = le32(b);
			out->revision_id = w & 0x7fffffffu; /* struct vmcs_hdr: revision_id:31 */
			out->shadow_bit = w >> 31;
			if ((r = rd(e, out->vmcs + o_abort, b, 4)) == 0) {
				out->abort = le32(b);
				out->header_ok = 1;
			}
		}
		if (r < 0) {
			kvmdci_warn(e->k->ctx, "VMCS region at 0x%llx: unreadable",
				    (unsigned long long)out->vmcs);
			out->error = r;
		}
	}

	/* exit information cached at the last exit: u32 or union vmx_exit_reason, 4 bytes */
	if (member(e, T, vcpu, "exit_reason", &v) == 0) {
		out->exit_reason = (uint32_t)v;
		out->exit_reason_basic = out->exit_reason & 0xffff;
		out->exit_reason_flags = out->exit_reason & 0xffff0000u;
	}
	if (member(e, T, vcpu, "exit_intr_info", &v) == 0)
		out->exit_intr_info = (uint32_t)v;
	if (member(e, T, vcpu, "idt_vectoring_info", &v) == 0)
		out->idt_vectoring_info = (uint32_t)v;
	if (member(e, T, vcpu, "exit_qualification", &v) == 0) {
		uint64_t avail;
		int bit = kvm_reg_bit(e->k, "VCPU_EXREG_EXIT_INFO_1");
		out->exit_qualification = v;
		out->exit_qualification_valid = 0;
		if (bit >= 0 && member(e, T, vcpu, "vcpu.arch.regs_avail", &avail) == 0)
			out->exit_qualification_valid = (avail >> bit) & 1;
	}

	/* nested VMX */
	if (member(e, T, vcpu, "nested.vmxon", &v) == 0)
		out->nested_vmxon = v & 0xff;
	if (member(e, T, vcpu, "nested.vmxon_ptr", &v) == 0)
		out->vmxon_ptr = v;
	if (member(e, T, vcpu, "nested.current_vmptr", &v) == 0)
		out->current_vmptr = v;
	if (member(e, T, vcpu, "nested.cached_vmcs12", &v) == 0)
		out->cached_vmcs12 = v;
	return 0;
}

int vmx_vmcs12_read(const struct virt_env *e, uint64_t addr, uint32_t *revision,
		    struct kvmdci_field *out, int max)
{
	uint8_t b[4];
	int r, n;

	if ((r = rd(e, addr, b, 4)) < 0) {
		kvmdci_err(e->k->ctx, "vmcs12 at 0x%llx: unreadable", (unsigned long long)addr);
		return r;
	}
	uint32_t rev = le32(b) & 0x7fffffffu;
	if (revision)
		*revision = rev;
	n = virt_struct_fields(e, VMX_MOD, "struct vmcs12", addr, VMCS12_MAX_SIZE, out, max);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < max; i++) {
		char up[64];
		size_t j;
		for (j = 0; out[i].name[j] && j < sizeof(up) - 1; j++)
			up[j] = (char)toupper((unsigned char)out[i].name[j]);
		up[j] = 0;
		if (kvmdci_vmcs_field_lookup(up, &out[i].encoding) < 0)
			out[i].encoding = UINT32_MAX;
	}
	if (rev != VMCS12_REVISION)
		kvmdci_warn(e->k->ctx,
			    "vmcs12 at 0x%llx: revision 0x%x, not KVM's VMCS12_REVISION 0x%x",
			    (unsigned long long)addr, rev, VMCS12_REVISION);
	return n;
}

KVMDCI_EXPORT int kvmdci_vmx_vcpu(struct kvmdci_kernel *k, uint64_t vcpu,
				  struct kvmdci_vmx_vcpu *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;

	if (!kvmdci_kernel_has_module(k, VMX_MOD)) {
		kvmdci_err(k->ctx, "kvm_intel is not loaded on the target");
		return -ENODEV;
	}
	virt_env_kernel(&e, k);
	return vmx_vcpu_read(&e, vcpu, out);
}

KVMDCI_EXPORT int kvmdci_vmx_vmcs12(struct kvmdci_kernel *k, uint64_t addr, uint32_t *revision,
				   struct kvmdci_field *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;

	virt_env_kernel(&e, k);
	return vmx_vmcs12_read(&e, addr, revision, out, max);
}
