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
#include "kvm/kvm-internal.h"
#include "kvm/virt-internal.h"

#define VMCS12_REVISION 0x11e57ed0u /* arch/x86/kvm/vmx/vmcs12.h */
#define VMCS12_MAX_SIZE 0x1000	    /* VMCS12_SIZE */
#define VMX_MOD "kvm_intel"

static int rd(const struct virt_env *e, uint64_t addr, void *buf, size_t len)
{
	return e->read(e->data, addr, buf, len);
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

/*
 * A CPU in VMX non-root mode shows the guest's registers; the host's come back from the
 * VMCS's host-state area at the next exit (HOST_RIP, HOST_RSP), and the VMCS is readable
 * only with VMREAD, not as memory. KVM keeps both values in memory as well
 * (arch/x86/kvm/vmx/vmx.c, vmenter.S, 5.x to 6.12): HOST_RIP is vmx_vmexit, written once per
 * VMCS by vmx_set_constant_host_state; HOST_RSP is the stack pointer __vmx_vcpu_run has at
 * VMLAUNCH/VMRESUME, which it hands to vmx_update_host_rsp, and that function caches it in
 * vmx->loaded_vmcs->host_state.rsp before writing the VMCS field. So: the vCPU in guest mode
 * on this CPU, its loaded_vmcs, host_state.rsp.
 */
int vmx_host_state(struct kvmdci_kernel *k, int lcpu, uint64_t *rip, uint64_t *rsp)
{
	struct kvmdci_vcpu_list *l = NULL;
	const struct kvmdci_vcpu_info *vi;
	struct virt_env e;
	uint64_t exit_rip, lv = 0;
	int r = -ENOENT;

	if (!kvmdci_kernel_has_module(k, VMX_MOD) ||
	    kvmdci_kernel_symbol(k, VMX_MOD ":vmx_vmexit", &exit_rip) < 0 ||
	    kvmdci_vcpu_list_new(k, NULL, &l) < 0)
		return -ENOENT;
	virt_env_kernel(&e, k);
	for (int i = 0; (vi = kvmdci_vcpu_list_get(l, i)); i++) {
		struct kvmdci_vcpu_state s;
		uint64_t cpu, v;
		/* IN_GUEST_MODE (1): between the entry and the exit; the vCPU's cpu is this one */
		if (kvmdci_kvm_vcpu_state(k, vi->vcpu, &s) < 0 || s.mode != 1 || s.cpu != lcpu)
			continue;
		if (virt_member_read(&e, VMX_MOD, "struct vcpu_vmx", vi->vcpu, "loaded_vmcs",
				     &lv) < 0 || !lv)
			continue;
		/* loaded_vmcs->cpu is the CPU the VMCS is loaded on: it must be this one too */
		if (virt_member_read(&e, VMX_MOD, "struct loaded_vmcs", lv, "cpu", &cpu) == 0 &&
		    (int32_t)cpu != lcpu)
			continue;
		if ((r = virt_member_read(&e, VMX_MOD, "struct loaded_vmcs", lv,
					  "host_state.rsp", &v)) < 0)
			break;
		if (!v) {
			r = -ENOENT; /* never entered with this VMCS */
			continue;
		}
		*rip = exit_rip;
		*rsp = v;
		r = 0;
		break;
	}
	kvmdci_vcpu_list_unref(l);
	return r;
}

/*
 * The frame pointer to unwind vmx_vmexit with. The ORC rule there is __vmx_vcpu_run's own
 * (CFA = rbp + 16: it set up a frame pointer before saving HOST_RSP), but a VM exit restores
 * rsp only: rbp holds the guest's value. Above HOST_RSP lie what __vmx_vcpu_run pushed, then its
 * saved rbp, then the return address into its caller: the first slot that holds an address
 * right after a direct call to __vmx_vcpu_run (or to its padding, __pfx___vmx_vcpu_run, where
 * calls go with call depth tracking) is that return address; the slot below it holds the saved
 * rbp, and its address is the rbp __vmx_vcpu_run had. 0 when not found (no such symbol, or
 * no such slot among the first 32). @host_rsp: from vmx_host_state().
 */
uint64_t vmx_entry_rbp(struct kvmdci_unwinder *u, uint64_t host_rsp)
{
	struct kvmdci_kernel *k = unwinder_kernel(u);
	uint64_t run, pfx = 0;
	uint8_t slot[32 * 8];

	if (kvmdci_kernel_symbol(k, VMX_MOD ":__vmx_vcpu_run", &run) < 0 ||
	    kvmdci_kernel_read(k, host_rsp, slot, sizeof(slot)) < 0)
		return 0;
	(void)kvmdci_kernel_symbol(k, VMX_MOD ":__pfx___vmx_vcpu_run", &pfx);
	for (size_t i = 1; i < sizeof(slot) / 8; i++) {
		uint8_t call[5];
		uint64_t ret = le64(slot + 8 * i), to;
		if (!unwinder_is_text(u, ret) || kvmdci_kernel_read(k, ret - 5, call, 5) < 0 ||
		    call[0] != 0xe8) /* call rel32 */
			continue;
		to = ret + (uint64_t)(int64_t)(int32_t)le32(call + 1);
		if (to == run || (pfx && to == pfx))
			return host_rsp + (i - 1) * 8;
	}
	return 0;
}

/* A member of the exit information KVM caches per vCPU: in struct vcpu_vmx itself, or (7.2,
 * shared with TDX) in its struct vcpu_vt vt. */
static int exit_info_read(const struct virt_env *e, uint64_t vcpu, const char *name, uint64_t *v)
{
	char path[64];

	if (virt_member_read(e, VMX_MOD, "struct vcpu_vmx", vcpu, name, v) == 0)
		return 0;
	snprintf(path, sizeof(path), "vt.%s", name);
	return virt_member_read(e, VMX_MOD, "struct vcpu_vmx", vcpu, path, v);
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
	if ((r = kernel_member_offset(e->k, VMX_MOD, T, "vmcs01", &o_vmcs01, NULL)) < 0 ||
	    (r = virt_member_read(e, VMX_MOD, T, vcpu, "loaded_vmcs", &lv)) < 0) {
		if (r == -ENOENT)
			kvmdci_err(kvmdci_kernel_get_ctx(e->k), "%s",
				   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(e->k)));
		else
			kvmdci_err(kvmdci_kernel_get_ctx(e->k),
				   "struct vcpu_vmx at 0x%llx: unreadable",
				   (unsigned long long)vcpu);
		return r;
	}
	out->loaded_vmcs = lv;
	out->loaded_is_vmcs01 = lv == vcpu + o_vmcs01;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "vmcs01.vmcs", &v) == 0)
		out->vmcs01_vmcs = v;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "nested.vmcs02.vmcs", &v) == 0)
		out->vmcs02_vmcs = v;

	if (lv) {
		static const char *const L = "struct loaded_vmcs";
		if ((r = virt_member_read(e, VMX_MOD, L, lv, "vmcs", &v)) == 0)
			out->vmcs = v;
		else
			out->error = r;
		if (virt_member_read(e, VMX_MOD, L, lv, "shadow_vmcs", &v) == 0)
			out->shadow_vmcs = v;
		if (virt_member_read(e, VMX_MOD, L, lv, "cpu", &v) == 0)
			out->cpu = (int32_t)(uint32_t)v;
		if (virt_member_read(e, VMX_MOD, L, lv, "launched", &v) == 0)
			out->launched = (int32_t)(v & 0xff);
	}
	if (out->vmcs) {
		uint64_t o_abort = 4;
		uint8_t b[4];
		kernel_member_offset(e->k, VMX_MOD, "struct vmcs", "abort", &o_abort, NULL);
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
			kvmdci_warn(kvmdci_kernel_get_ctx(e->k),
				    "VMCS region at 0x%llx: unreadable",
				    (unsigned long long)out->vmcs);
			out->error = r;
		}
	}

	/* exit information cached at the last exit: u32 or union vmx_exit_reason, 4 bytes */
	if (exit_info_read(e, vcpu, "exit_reason", &v) == 0) {
		out->exit_reason = (uint32_t)v;
		out->exit_reason_basic = out->exit_reason & 0xffff;
		out->exit_reason_flags = out->exit_reason & 0xffff0000u;
	} else {
		kvmdci_warn(kvmdci_kernel_get_ctx(e->k), "struct vcpu_vmx has neither exit_reason "
			    "nor vt.exit_reason in the type info: the cached exit is not shown");
	}
	if (exit_info_read(e, vcpu, "exit_intr_info", &v) == 0)
		out->exit_intr_info = (uint32_t)v;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "idt_vectoring_info", &v) == 0)
		out->idt_vectoring_info = (uint32_t)v;
	if (exit_info_read(e, vcpu, "exit_qualification", &v) == 0) {
		uint64_t avail;
		/* VCPU_EXREG_* became VCPU_REG_* with RIP's move out of regs[] (7.2) */
		int bit = kvm_reg_bit(e->k, "VCPU_EXREG_EXIT_INFO_1");
		if (bit < 0)
			bit = kvm_reg_bit(e->k, "VCPU_REG_EXIT_INFO_1");
		out->exit_qualification = v;
		out->exit_qualification_valid = 0;
		if (bit >= 0 &&
		    virt_member_read(e, VMX_MOD, T, vcpu, "vcpu.arch.regs_avail", &avail) == 0)
			out->exit_qualification_valid = (avail >> bit) & 1;
	}

	/* nested VMX */
	if (virt_member_read(e, VMX_MOD, T, vcpu, "nested.vmxon", &v) == 0)
		out->nested_vmxon = v & 0xff;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "nested.vmxon_ptr", &v) == 0)
		out->vmxon_ptr = v;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "nested.current_vmptr", &v) == 0)
		out->current_vmptr = v;
	if (virt_member_read(e, VMX_MOD, T, vcpu, "nested.cached_vmcs12", &v) == 0)
		out->cached_vmcs12 = v;
	return 0;
}

/*
 * The VMCS field a struct vmcs12 member (upper-cased) holds. KVM names a member after its
 * field (enum vmcs_field, lower-cased) but for the CET shadow-stack table addresses, whose
 * members are shorter: arch/x86/kvm/vmx/vmcs12.c maps them with
 * FIELD(GUEST_INTR_SSP_TABLE, guest_ssp_tbl) and FIELD(HOST_INTR_SSP_TABLE, host_ssp_tbl),
 * encodings 0x682c and 0x6c1c (SDM vol. 3 appendix B; KVM's CET support, which Debian's 7.2
 * has and 6.12 has not).
 */
static const char *vmcs12_field_name(const char *member)
{
	static const char *const renamed[][2] = {
		{ "GUEST_SSP_TBL", "GUEST_INTR_SSP_TABLE" },
		{ "HOST_SSP_TBL", "HOST_INTR_SSP_TABLE" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(renamed); i++)
		if (!strcmp(member, renamed[i][0]))
			return renamed[i][1];
	return member;
}

int vmx_vmcs12_read(const struct virt_env *e, uint64_t addr, uint32_t *revision,
		    struct kvmdci_field *out, int max)
{
	uint8_t b[4];
	int r, n;

	if ((r = rd(e, addr, b, 4)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(e->k), "vmcs12 at 0x%llx: unreadable",
			   (unsigned long long)addr);
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
		if (kvmdci_vmcs_field_lookup(vmcs12_field_name(up), &out[i].encoding) < 0)
			out[i].encoding = UINT32_MAX;
	}
	if (rev != VMCS12_REVISION)
		kvmdci_warn(kvmdci_kernel_get_ctx(e->k),
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
		kvmdci_err(kvmdci_kernel_get_ctx(k), "kvm_intel is not loaded on the target");
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
