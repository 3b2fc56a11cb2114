// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * AMD SVM state that KVM keeps for a vCPU (struct vcpu_svm, arch/x86/kvm/svm/svm.h) and the
 * VMCB decoded from memory. The VMCB is architectural (AMD APM vol. 2, appendix B: control
 * area 0x400 bytes, then the state save area), but its offsets are still taken from the
 * target's struct vmcb type so that one build follows the kernel's view of it; a test checks
 * those offsets against the APM. vcpu_svm: vmcb, then vmcb01/current_vmcb (kvm_vmcb_info,
 * 5.13+) or vmcb_pa (<= 5.12), and nested (svm_nested_state: vmcb02, vmcb12_gpa, hsave_msr).
 * vmcb12, the VMCB L1 gave to VMRUN, lives in guest memory; KVM copies its control area at
 * each VMRUN into nested.ctl (struct vmcb_control_area up to 5.16, vmcb_ctrl_area_cached
 * from 5.17, same member names) and, from 5.17, the save-area fields it checks into
 * nested.save (efer, cr0, cr3, cr4, dr6, dr7; some kernels also cs). While L2 runs,
 * nested.vmcb12_gpa says where vmcb12 is; KVM sets it to 0 at the #VMEXIT to L1.
 */
#include <bpf/btf.h>
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"

#define SVM_MOD "kvm_amd"
#define VMCB_SIZE 4096

/* APM vol. 2 table B-1 (VMCB control area, offsets 0x00-0x17): bit numbers over the words. */
KVMDCI_EXPORT const char *kvmdci_svm_intercept_name(int bit)
{
	static const char *const crdr[] = { "cr", "cr", "dr", "dr" };
	static const char *const rw[] = { "read", "write", "read", "write" };
	static char names[64][20];
	static const char *const w3[32] = {
		"intr",	      "nmi",	      "smi",	   "init",	  "vintr",	"cr0_sel_write",
		"idtr_read",  "gdtr_read",    "ldtr_read", "tr_read",	  "idtr_write", "gdtr_write",
		"ldtr_write", "tr_write",     "rdtsc",	   "rdpmc",	  "pushf",	"popf",
		"cpuid",      "rsm",	      "iret",	   "intn",	  "invd",	"pause",
		"hlt",	      "invlpg",	      "invlpga",   "ioio_prot",	  "msr_prot",	"task_switch",
		"ferr_freeze", "shutdown",
	};
	static const char *const w4[16] = {
		"vmrun",   "vmmcall", "vmload",	    "vmsave", "stgi",  "clgi",  "skinit", "rdtscp",
		"icebp",   "wbinvd",  "monitor",    "mwait",  "mwait_cond", "xsetbv", "rdpru",
		"efer_write_trap",
	};
	static const char *const w5[] = { "invlpgb", "invlpgb_illegal", "invpcid", "mcommit",
					  "tlbsync", "bus_lock", "idle_hlt" };
	static char exc[32][16], crtrap[16][20];

	if (bit < 0)
		return NULL;
	if (bit < 64) { /* words 0 and 1: CR and DR reads/writes, 16 each */
		if (!names[bit][0])
			snprintf(names[bit], sizeof(names[bit]), "%s%d_%s", crdr[bit / 16], bit % 16,
				 rw[bit / 16]);
		return names[bit];
	}
	if (bit < 96) { /* word 2: exception vectors */
		if (!exc[bit - 64][0])
			snprintf(exc[bit - 64], sizeof(exc[0]), "exception_%d", bit - 64);
		return exc[bit - 64];
	}
	if (bit < 128)
		return w3[bit - 96];
	if (bit < 144)
		return w4[bit - 128];
	if (bit < 160) { /* word 4 bits 16-31: CR0-15 write traps */
		if (!crtrap[bit - 144][0])
			snprintf(crtrap[bit - 144], sizeof(crtrap[0]), "cr%d_write_trap", bit - 144);
		return crtrap[bit - 144];
	}
	if (bit < 160 + (int)ARRAY_SIZE(w5))
		return w5[bit - 160];
	return NULL;
}

int svm_vcpu_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_svm_vcpu *out)
{
	static const char *const T = "struct vcpu_svm";
	uint64_t v, cur;
	int r;

	memset(out, 0, sizeof(*out));
	out->vcpu = vcpu;
	out->asid = -1;
	if ((r = virt_member_read(e, SVM_MOD, T, vcpu, "vmcb", &v)) < 0) {
		if (r == -ENOENT)
			kvmdci_err(kvmdci_kernel_get_ctx(e->k), "%s",
				   kvmdci_ctx_last_error(kvmdci_kernel_get_ctx(e->k)));
		else
			kvmdci_err(kvmdci_kernel_get_ctx(e->k),
				   "struct vcpu_svm at 0x%llx: unreadable",
				   (unsigned long long)vcpu);
		return r;
	}
	out->vmcb = v;
	if (virt_member_read(e, SVM_MOD, T, vcpu, "vmcb01.ptr", &v) == 0) { /* 5.13+ */
		out->vmcb01 = v;
		if (virt_member_read(e, SVM_MOD, T, vcpu, "vmcb01.pa", &v) == 0)
			out->vmcb01_pa = v;
		if (virt_member_read(e, SVM_MOD, T, vcpu, "current_vmcb", &cur) == 0 && cur &&
		    virt_member_read(e, SVM_MOD, "struct kvm_vmcb_info", cur, "pa", &v) == 0)
			out->vmcb_pa = v;
		if (virt_member_read(e, SVM_MOD, T, vcpu, "nested.vmcb02.ptr", &v) == 0)
			out->vmcb02 = v;
		out->guest_mode = out->vmcb != out->vmcb01;
	} else if (virt_member_read(e, SVM_MOD, T, vcpu, "vmcb_pa", &v) == 0) { /* <= 5.12 */
		out->vmcb_pa = v;
		out->vmcb01 = out->vmcb;
		out->vmcb01_pa = v;
	}
	if (virt_member_read(e, SVM_MOD, T, vcpu, "nested.vmcb12_gpa", &v) == 0 ||
	    virt_member_read(e, SVM_MOD, T, vcpu, "nested.vmcb", &v) == 0) /* <= 5.9 */
		out->vmcb12_gpa = v;
	if (virt_member_read(e, SVM_MOD, T, vcpu, "nested.hsave_msr", &v) == 0)
		out->hsave_msr = v;
	if (virt_member_read(e, SVM_MOD, T, vcpu, "asid", &v) == 0)
		out->asid = (int32_t)(uint32_t)v;
	return 0;
}

/* The control-area fields of struct kvmdci_vmcb, read from a VMCB or from KVM's copy of vmcb12's
 * (exit_code and exit_code_hi apart: see exit_code_split()). */
#define VMCB_CONTROL_FIELDS(X) \
	X(pause_filter_thresh) \
	X(pause_filter_count) \
	X(iopm_base_pa) \
	X(msrpm_base_pa) \
	X(tsc_offset) \
	X(asid) \
	X(tlb_ctl) \
	X(int_ctl) \
	X(int_vector) \
	X(int_state) \
	X(exit_info_1) \
	X(exit_info_2) \
	X(exit_int_info) \
	X(exit_int_info_err) \
	X(nested_ctl) \
	X(event_inj) \
	X(event_inj_err) \
	X(nested_cr3) \
	X(virt_ext) \
	X(clean) \
	X(next_rip)

static uint64_t field(const uint8_t *vmcb, const struct virt_env *e, const char *path,
		      bool *missing)
{
	struct ktypes_loc loc;

	if (kernel_member(e->k, SVM_MOD, "struct vmcb", path, &loc) < 0 ||
	    loc.bit_offset / 8 + loc.size > VMCB_SIZE) {
		*missing = true;
		return 0;
	}
	uint8_t b[8] = { 0 };
	memcpy(b, vmcb + loc.bit_offset / 8, loc.size < 8 ? loc.size : 8);
	uint64_t v = le64(b);
	if (loc.bitfield_size)
		v = (v >> (loc.bit_offset % 8)) & ((1ull << loc.bitfield_size) - 1);
	return v;
}

/* The name the kernel renamed control-area member @path to, or NULL: after 6.12 (Debian's 7.2)
 * nested_ctl is misc_ctl and virt_ext misc_ctl2, at the same offsets (0x90, 0xb8; AMD APM
 * vol. 2, appendix B). Which name exists is the target's type info's answer. */
static const char *control_renamed(const char *path)
{
	static const char *const renamed[][2] = {
		{ "nested_ctl", "misc_ctl" },
		{ "virt_ext", "misc_ctl2" },
	};
	size_t n = strlen(path);

	for (size_t i = 0; i < ARRAY_SIZE(renamed); i++) {
		size_t l = strlen(renamed[i][0]);
		if (n > l && path[n - l - 1] == '.' && !strcmp(path + n - l, renamed[i][0]))
			return renamed[i][1];
	}
	return NULL;
}

/* A control-area field under its name, or the one the kernel renamed it to. */
static uint64_t control_field(const uint8_t *vmcb, const struct virt_env *e, const char *path,
			      bool *missing)
{
	bool miss = false;
	uint64_t v = field(vmcb, e, path, &miss);
	const char *to = miss ? control_renamed(path) : NULL;

	if (to) {
		char p[64];
		snprintf(p, sizeof(p), "control.%s", to);
		miss = false;
		v = field(vmcb, e, p, &miss);
	}
	if (miss)
		*missing = true;
	return v;
}

/*
 * EXITCODE is 64 bits at offset 0x70 (AMD APM vol. 2, table B-1). KVM's struct has it as u32
 * exit_code and u32 exit_code_hi up to 6.x, and as one u64 exit_code in Debian's 7.2: the
 * high half comes from exit_code_hi where the type has it, else from exit_code's upper 32 bits
 * where that member is 8 bytes. @code is exit_code as read (its member's full width), @hi
 * exit_code_hi as read (@hi_missing: the type has no such member); @code_size the size of
 * exit_code in the type.
 */
static void exit_code_split(uint64_t code, uint64_t hi, bool hi_missing, uint64_t code_size,
			    struct kvmdci_vmcb *out, bool *missing)
{
	out->exit_code = (uint32_t)code;
	if (!hi_missing)
		out->exit_code_hi = (uint32_t)hi;
	else if (code_size == 8)
		out->exit_code_hi = (uint32_t)(code >> 32);
	else
		*missing = true;
}

int svm_vmcb_read(const struct virt_env *e, uint64_t addr, struct kvmdci_vmcb *out)
{
	static const char *const segs[] = { "es", "cs", "ss", "ds", "fs",
					    "gs", "gdtr", "ldtr", "idtr", "tr" };
	uint8_t *b = malloc(VMCB_SIZE);
	bool missing = false;
	uint64_t ioff, isize;
	char p[64];
	int r;

	if (!b)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	if ((r = e->read(e->data, addr, b, VMCB_SIZE)) < 0) {
		kvmdci_err(kvmdci_kernel_get_ctx(e->k), "VMCB at 0x%llx: unreadable",
			   (unsigned long long)addr);
		free(b);
		return r;
	}
	if (kernel_member_offset(e->k, SVM_MOD, "struct vmcb", "control.intercepts", &ioff,
				 &isize) == 0) {
		out->nintercepts = (int32_t)(isize / 4 < 6 ? isize / 4 : 6);
		for (int i = 0; i < out->nintercepts; i++)
			out->intercepts[i] = le32(b + ioff + 4 * i);
	}
#define C(name) out->name = control_field(b, e, "control." #name, &missing);
	VMCB_CONTROL_FIELDS(C)
#undef C
	{
		struct ktypes_loc ec;
		bool nohi = false;
		uint64_t code = field(b, e, "control.exit_code", &missing);
		uint64_t hi = field(b, e, "control.exit_code_hi", &nohi);
		exit_code_split(code, hi, nohi,
				kernel_member(e->k, SVM_MOD, "struct vmcb", "control.exit_code",
					      &ec) == 0 ? ec.size : 0,
				out, &missing);
	}
#define S(name) out->name = field(b, e, "save." #name, &missing)
	S(cpl);
	S(efer);
	S(cr0);
	S(cr2);
	S(cr3);
	S(cr4);
	S(dr6);
	S(dr7);
	S(rflags);
	S(rip);
	S(rsp);
	S(rax);
#undef S
	struct kvmdci_vmcb_seg *sp[] = { &out->es,   &out->cs,	 &out->ss,   &out->ds, &out->fs,
					 &out->gs,   &out->gdtr, &out->ldtr, &out->idtr, &out->tr };
	for (size_t i = 0; i < ARRAY_SIZE(segs); i++) {
		snprintf(p, sizeof(p), "save.%s.selector", segs[i]);
		sp[i]->selector = (uint16_t)field(b, e, p, &missing);
		snprintf(p, sizeof(p), "save.%s.attrib", segs[i]);
		sp[i]->attrib = (uint16_t)field(b, e, p, &missing);
		snprintf(p, sizeof(p), "save.%s.limit", segs[i]);
		sp[i]->limit = (uint32_t)field(b, e, p, &missing);
		snprintf(p, sizeof(p), "save.%s.base", segs[i]);
		sp[i]->base = field(b, e, p, &missing);
	}
	if (missing)
		kvmdci_info(kvmdci_kernel_get_ctx(e->k),
			    "type info: struct vmcb lacks some fields (left 0)");
	free(b);
	return 0;
}

/*
 * Member @path of struct vcpu_svm taken from @buf, a copy of the block @blk of the same
 * vcpu_svm (svm->nested.ctl or svm->nested.save); sets *missing when the kernel's type has
 * no such member or it lies outside the block.
 */
static uint64_t cached(const struct virt_env *e, const struct ktypes_loc *blk, const uint8_t *buf,
		       const char *path, bool *missing)
{
	struct ktypes_loc loc;
	uint8_t b[8] = { 0 };

	if (kernel_member(e->k, SVM_MOD, "struct vcpu_svm", path, &loc) < 0 ||
	    loc.bit_offset / 8 < blk->bit_offset / 8 ||
	    loc.bit_offset / 8 - blk->bit_offset / 8 + (loc.size < 8 ? loc.size : 8) > blk->size) {
		*missing = true;
		return 0;
	}
	memcpy(b, buf + (loc.bit_offset / 8 - blk->bit_offset / 8), loc.size < 8 ? loc.size : 8);
	uint64_t v = le64(b);
	if (loc.bitfield_size)
		v = (v >> (loc.bit_offset % 8)) & ((1ull << loc.bitfield_size) - 1);
	return v;
}

/* cached() under the member's name, or the one the kernel renamed it to (control_renamed). */
static uint64_t cached_control(const struct virt_env *e, const struct ktypes_loc *blk,
			       const uint8_t *buf, const char *path, bool *missing)
{
	bool miss = false;
	uint64_t v = cached(e, blk, buf, path, &miss);
	const char *to = miss ? control_renamed(path) : NULL;

	if (to) {
		char p[64];
		snprintf(p, sizeof(p), "nested.ctl.%s", to);
		miss = false;
		v = cached(e, blk, buf, p, &miss);
	}
	if (miss)
		*missing = true;
	return v;
}

/* Read the block at member @path of the vcpu_svm at @vcpu: *blk and a malloc'ed copy. */
static int cached_block(const struct virt_env *e, uint64_t vcpu, const char *path,
			struct ktypes_loc *blk, uint8_t **buf)
{
	int r = kernel_member(e->k, SVM_MOD, "struct vcpu_svm", path, blk);

	*buf = NULL;
	if (r < 0)
		return r;
	if (!blk->size || blk->size > VMCB_SIZE)
		return -ENOENT;
	if (!(*buf = malloc(blk->size)))
		return -ENOMEM;
	if ((r = e->read(e->data, vcpu + blk->bit_offset / 8, *buf, blk->size)) < 0) {
		free(*buf);
		*buf = NULL;
	}
	return r;
}

int svm_vmcb12_read(const struct virt_env *e, uint64_t vcpu, struct kvmdci_vmcb *out)
{
	struct ktypes_loc blk, ic;
	bool missing = false;
	uint8_t *buf;
	uint64_t gpa;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = virt_member_read(e, SVM_MOD, "struct vcpu_svm", vcpu, "nested.vmcb12_gpa", &gpa)) < 0 &&
	    (r = virt_member_read(e, SVM_MOD, "struct vcpu_svm", vcpu, "nested.vmcb", &gpa)) < 0) /* <= 5.9 */
		gpa = 0;
	out->addr = gpa;
	if ((r = cached_block(e, vcpu, "nested.ctl", &blk, &buf)) < 0) {
		if (r == -ENOENT)
			kvmdci_err(kvmdci_kernel_get_ctx(e->k),
				   "type info: struct vcpu_svm has no nested.ctl (an old kernel): "
				   "KVM keeps no copy of vmcb12's control area here");
		else
			kvmdci_err(kvmdci_kernel_get_ctx(e->k), "struct vcpu_svm at 0x%llx: nested.ctl unreadable",
				   (unsigned long long)vcpu);
		return r;
	}
	if (kernel_member(e->k, SVM_MOD, "struct vcpu_svm", "nested.ctl.intercepts", &ic) == 0 &&
	    ic.bit_offset >= blk.bit_offset &&
	    (ic.bit_offset - blk.bit_offset) / 8 + ic.size <= blk.size) {
		out->nintercepts = (int32_t)(ic.size / 4 < 6 ? ic.size / 4 : 6);
		const uint8_t *w = buf + (ic.bit_offset - blk.bit_offset) / 8;
		for (int i = 0; i < out->nintercepts; i++)
			out->intercepts[i] = le32(w + 4 * i);
	}
#define C(name) out->name = cached_control(e, &blk, buf, "nested.ctl." #name, &missing);
	VMCB_CONTROL_FIELDS(C)
#undef C
	{
		struct ktypes_loc ec;
		bool nohi = false;
		uint64_t code = cached(e, &blk, buf, "nested.ctl.exit_code", &missing);
		uint64_t hi = cached(e, &blk, buf, "nested.ctl.exit_code_hi", &nohi);
		exit_code_split(code, hi, nohi,
				kernel_member(e->k, SVM_MOD, "struct vcpu_svm",
					      "nested.ctl.exit_code", &ec) == 0 ? ec.size : 0,
				out, &missing);
	}
	free(buf);
	/* 5.17+: the save-area fields KVM checks at VMRUN (struct vmcb_save_area_cached) */
	if (cached_block(e, vcpu, "nested.save", &blk, &buf) == 0) {
#define S(name) out->name = cached(e, &blk, buf, "nested.save." #name, &missing)
		S(efer);
		S(cr0);
		S(cr3);
		S(cr4);
		S(dr6);
		S(dr7);
#undef S
		bool nocs = false;
		out->cs.selector = (uint16_t)cached(e, &blk, buf, "nested.save.cs.selector", &nocs);
		out->cs.attrib = (uint16_t)cached(e, &blk, buf, "nested.save.cs.attrib", &nocs);
		out->cs.limit = (uint32_t)cached(e, &blk, buf, "nested.save.cs.limit", &nocs);
		out->cs.base = cached(e, &blk, buf, "nested.save.cs.base", &nocs);
		free(buf);
	}
	if (missing)
		kvmdci_info(kvmdci_kernel_get_ctx(e->k),
			    "type info: KVM's copy of vmcb12 lacks some fields (left 0)");
	return 0;
}

int svm_vmcb_fields_read(const struct virt_env *e, uint64_t addr, struct kvmdci_field *out,
			 int max)
{
	return virt_struct_fields(e, SVM_MOD, "struct vmcb", addr, VMCB_SIZE, out, max);
}

/* The environment of @k for kvm_amd's structures: -ENODEV (said) when kvm_amd is not loaded. */
static int svm_env_kernel(struct virt_env *e, struct kvmdci_kernel *k)
{
	if (!kvmdci_kernel_has_module(k, SVM_MOD)) {
		kvmdci_err(kvmdci_kernel_get_ctx(k), "kvm_amd is not loaded on the target");
		return -ENODEV;
	}
	virt_env_kernel(e, k);
	return 0;
}

KVMDCI_EXPORT int kvmdci_svm_vcpu(struct kvmdci_kernel *k, uint64_t vcpu,
				  struct kvmdci_svm_vcpu *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;
	int r = svm_env_kernel(&e, k);

	if (r < 0)
		return r;
	return svm_vcpu_read(&e, vcpu, out);
}

KVMDCI_EXPORT int kvmdci_svm_vmcb(struct kvmdci_kernel *k, uint64_t addr, struct kvmdci_vmcb *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;

	virt_env_kernel(&e, k);
	return svm_vmcb_read(&e, addr, out);
}

KVMDCI_EXPORT int kvmdci_svm_vmcb12(struct kvmdci_kernel *k, uint64_t vcpu, struct kvmdci_vmcb *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;
	int r = svm_env_kernel(&e, k);

	if (r < 0)
		return r;
	return svm_vmcb12_read(&e, vcpu, out);
}

KVMDCI_EXPORT int kvmdci_svm_vmcb_fields(struct kvmdci_kernel *k, uint64_t addr,
					 struct kvmdci_field *out, int max)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct virt_env e;

	virt_env_kernel(&e, k);
	return svm_vmcb_fields_read(&e, addr, out, max);
}

/* ---- KVM's per-CPU SVM data and the host save area ---- */

/* svm_data: DEFINE_PER_CPU(struct svm_cpu_data *, ...) through 6.0, the struct from 6.1. */
int svm_data_is_pointer(struct kvmdci_kernel *k)
{
	struct kbtf *btf;
	int32_t id;

	if (kernel_type(k, "kvm_amd", "struct svm_cpu_data", &btf, &id) < 0)
		return -ENOENT;
	int32_t var = kbtf_find_by_name_kind(btf, "svm_data", BTF_KIND_VAR);
	if (var > 0) {
		const struct btf_type *v = kbtf_type_by_id(btf, (uint32_t)var);
		const struct btf_type *t =
			kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, v->type));
		return t && btf_is_ptr(t);
	}
	/* no variable in the type info (DWARF-converted): 6.0's struct still had `cpu` */
	struct ktypes_loc loc;
	return kernel_member(k, "kvm_amd", "struct svm_cpu_data", "cpu", &loc) == 0;
}

int svm_percpu_read(const struct virt_env *e, uint64_t sym_svm, int is_pointer, uint64_t pcpu,
		    struct svm_percpu *out)
{
	static const char *const T = "struct svm_cpu_data";
	uint64_t sd = sym_svm + pcpu, v;
	uint8_t b[8];

	memset(out, 0, sizeof(*out));
	if (is_pointer) {
		if (e->read(e->data, sd, b, 8) < 0)
			return -EFAULT;
		sd = le64(b);
	}
	out->svm_data = sd;
	if (!sd)
		return 0;
	if (virt_member_read(e, SVM_MOD, T, sd, "save_area", &v) == 0)
		out->save_area = v;
	if (virt_member_read(e, SVM_MOD, T, sd, "save_area_pa", &v) == 0)
		out->save_area_pa = v;
	if (virt_member_read(e, SVM_MOD, T, sd, "current_vmcb", &v) == 0)
		out->current_vmcb = v;
	return 0;
}

/* The physical address of the host save area: save_area_pa, or the page save_area points to
 * (struct page * -> pfn through vmemmap_base) on kernels without save_area_pa. */
int svm_save_area_pa(struct kvmdci_kernel *k, const struct svm_percpu *sd, uint64_t *pa)
{
	uint64_t v, vmemmap, psize;

	if (sd->save_area_pa) {
		*pa = sd->save_area_pa;
		return 0;
	}
	if (!sd->save_area || kernel_vmlinux_symbol(k, "vmemmap_base", &v) < 0 ||
	    kvmdci_kernel_read_u64(k, v, &vmemmap) < 0 ||
	    kvmdci_kernel_type_size(k, NULL, "struct page", &psize) < 0 || !psize)
		return -ENOENT;
	if (sd->save_area < vmemmap)
		return -EINVAL;
	*pa = (sd->save_area - vmemmap) / psize * 4096;
	return 0;
}

/*
 * VMRUN saved the host's rip and rsp in the host save area, whose physical address KVM keeps
 * per CPU in kvm_amd's svm_data. The area is laid out as a VMCB on QEMU (helper_vmrun() writes
 * save.rip and save.rsp there); real processors may keep it in their own format, so callers
 * use the values only when rip is kernel text.
 */
int svm_host_state(struct kvmdci_kernel *k, int lcpu, uint64_t *rip, uint64_t *rsp)
{
	struct kvmdci_target *t = kvmdci_kernel_get_target(k);
	uint64_t var, pcpu, o_rip, o_rsp, pa;
	struct svm_percpu sd;
	struct virt_env e;
	int r, is_ptr;

	if (!kvmdci_kernel_has_module(k, SVM_MOD) ||
	    kvmdci_kernel_symbol(k, "kvm_amd:svm_data", &var) < 0 ||
	    (is_ptr = svm_data_is_pointer(k)) < 0)
		return -ENOENT;
	if (kernel_percpu_addr(k, 0, lcpu, &pcpu) < 0)
		return -EFAULT;
	if (kernel_member_offset(k, SVM_MOD, "struct vmcb", "save.rip", &o_rip, NULL) < 0 ||
	    kernel_member_offset(k, SVM_MOD, "struct vmcb", "save.rsp", &o_rsp, NULL) < 0)
		return -ENOENT;
	virt_env_kernel(&e, k);
	if ((r = svm_percpu_read(&e, var, is_ptr, pcpu, &sd)) < 0 ||
	    (r = svm_save_area_pa(k, &sd, &pa)) < 0)
		return r;
	if (!pa || (pa & 0xfff))
		return -EINVAL;
	if ((r = kvmdci_target_read_phys(t, pa + o_rip, rip, 8)) < 0 ||
	    (r = kvmdci_target_read_phys(t, pa + o_rsp, rsp, 8)) < 0)
		return r;
	return 0;
}
