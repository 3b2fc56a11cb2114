// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Intel VMX decode without VMX hardware: memory images laid out from the real type info of a
 * Debian kernel's kvm-intel.ko (and vmlinux), with known values placed at offsets taken from
 * that BTF (never typed by hand), read back through libkvmdci's decoders with a fake reader.
 * Also the VMCB's offsets in kvm-amd.ko's struct vmcb against AMD APM vol. 2 appendix B, and a
 * VMCB image decoded.
 * Usage: vmx-image [--dwarf] VMLINUX MODDIR KVM_ENABLED_SYMBOL (the one kvm.ko has:
 * cpus_hardware_enabled, hardware_enabled or virtualization_enabled). --dwarf: the types from
 * DWARF (the -dbg package's vmlinux and module debug files), for a kernel whose modules have
 * no BTF (5.10). Prints "ok"/"FAIL" lines and exits non-zero on any failure.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernel/kernel-internal.h"
#include "kvm/virt-internal.h"

#define BASE 0xffff888000000000ull
#define MEM (1u << 20)
#define VCPU (BASE + 0x10000)
#define VMCS (BASE + 0x40000)
#define VMCS12 (BASE + 0x42000)
#define VMCB (BASE + 0x44000)
#define PCPU_OFFSETS (BASE + 0x50000)
#define MASK (BASE + 0x51000)
#define MASK_PTR (BASE + 0x51100)
#define PCPU_SYMS (BASE + 0x60000) /* per-CPU variables, instances at +0x1000 * (cpu + 1) */
#define NCPU 3

static uint8_t *mem;
static struct kvmdci_kernel *k;
static struct kvmdci_ctx *ctx;
static int failed, passed;
static const char *kvm_sym;

static void check(const char *what, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(const char *what, bool ok, const char *fmt, ...)
{
	va_list ap;
	printf("%s %s", ok ? "ok  " : "FAIL", what);
	if (fmt && *fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	ok ? passed++ : failed++;
}

static int f_read(void *data, uint64_t addr, void *buf, size_t len)
{
	if (addr < BASE || addr + len > BASE + MEM)
		return -EFAULT;
	memcpy(buf, mem + (addr - BASE), len);
	return 0;
}

static int f_symbol(void *data, const char *name, uint64_t *addr)
{
	char ks[96];
	snprintf(ks, sizeof(ks), "kvm:%s", kvm_sym);
	if (!strcmp(name, "__per_cpu_offset"))
		*addr = PCPU_OFFSETS;
	else if (!strcmp(name, ks))
		*addr = strcmp(kvm_sym, "cpus_hardware_enabled") ? PCPU_SYMS : MASK_PTR;
	else if (!strcmp(name, "kvm_intel:vmxarea"))
		*addr = PCPU_SYMS + 8;
	else if (!strcmp(name, "kvm_intel:current_vmcs"))
		*addr = PCPU_SYMS + 16;
	else
		return -ENOENT;
	return 0;
}

static uint64_t cr4s[NCPU];
static int f_reg(void *data, int cpu, const char *name, uint64_t *val)
{
	if (strcmp(name, "cr4"))
		return -ENOENT; /* like a dump: no EFER */
	*val = cr4s[cpu];
	return 0;
}

static int f_in_guest(void *data, int cpu, char *why, size_t len)
{
	return 0;
}

/* a made-up linear map, as the kernel's direct map is one */
#define PHYS_OF(va) ((va) - BASE + 0x40000000ull)
static int f_v2p(void *data, uint64_t va, uint64_t *pa)
{
	if (va < BASE || va >= BASE + MEM)
		return -EFAULT;
	*pa = PHYS_OF(va);
	return 0;
}

static struct virt_env env = { .read = f_read,
			       .symbol = f_symbol,
			       .reg = f_reg,
			       .in_guest = f_in_guest,
			       .v2p = f_v2p,
			       .ncpus = NCPU };

/* Place @val (@size bytes from type info) at member @path of @type at @addr. */
static void put(const char *mod, const char *type, uint64_t addr, const char *path, uint64_t val)
{
	struct ktypes_loc loc;
	if (kernel_member(k, mod, type, path, &loc) < 0) {
		check(path, false, "no member in type info");
		return;
	}
	uint64_t o = addr - BASE + loc.bit_offset / 8;
	if (loc.bitfield_size) {
		uint64_t w;
		memcpy(&w, mem + o, 8);
		uint64_t m = ((1ull << loc.bitfield_size) - 1) << (loc.bit_offset % 8);
		w = (w & ~m) | ((val << (loc.bit_offset % 8)) & m);
		memcpy(mem + o, &w, 8);
	} else {
		memcpy(mem + o, &val, loc.size < 8 ? loc.size : 8);
	}
}

static uint64_t member_off(const char *mod, const char *type, const char *path)
{
	struct ktypes_loc loc;
	if (kernel_member(k, mod, type, path, &loc) < 0)
		return UINT64_MAX;
	return loc.bit_offset / 8;
}

static int kvm_reg(const char *name)
{
	struct kbtf *btf;
	int32_t id;
	if (kernel_type(k, "kvm", "enum kvm_reg", &btf, &id) < 0 &&
	    kernel_type(k, NULL, "enum kvm_reg", &btf, &id) < 0)
		return -1;
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (!strcmp(kbtf_name_by_offset(btf, e[i].name_off), name))
			return e[i].val;
	return -1;
}

/* An enum kvm_reg enumerator under either of its names (VCPU_EXREG_* became VCPU_REG_* in
 * Debian's 7.2): the one the type info has. */
static int kvm_reg2(const char *name, const char *renamed)
{
	int v = kvm_reg(name);
	return v >= 0 ? v : kvm_reg(renamed);
}

/* The name of the member of @type (a struct in module @mod) that starts at byte @off, or
 * NULL: how the test names a member the kernel renamed, from the type info. */
static const char *member_at(const char *mod, const char *type, uint64_t off)
{
	struct kbtf *btf;
	int32_t id;
	if (kernel_type(k, mod, type, &btf, &id) < 0)
		return NULL;
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)id);
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (btf_member_bit_offset(t, (uint32_t)i) == off * 8)
			return kbtf_name_by_offset(btf, m[i].name_off);
	return NULL;
}

/* The innermost member of @type (in @btf) that holds byte @off, descending into nested
 * structs: the name the kernel gives that byte, or NULL. */
static const char *member_holding(struct kbtf *btf, int32_t id, uint64_t off)
{
	const struct btf_type *t = kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, id));
	if (!btf_is_struct(t))
		return NULL;
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++) {
		uint64_t start = btf_member_bit_offset(t, (uint32_t)i) / 8;
		long size = kbtf_resolve_size(btf, m[i].type);
		if (size <= 0 || off < start || off >= start + (uint64_t)size)
			continue;
		const char *inner = member_holding(btf, (int32_t)m[i].type, off - start);
		return inner ? inner : kbtf_name_by_offset(btf, m[i].name_off);
	}
	return NULL;
}

static void test_vcpu(void)
{
	const char *V = "struct vcpu_vmx", *M = "kvm_intel";
	struct kvmdci_vmx_vcpu x;
	int bit = kvm_reg2("VCPU_EXREG_EXIT_INFO_1", "VCPU_REG_EXIT_INFO_1");

	put(M, V, VCPU, "loaded_vmcs", VCPU + member_off(M, V, "vmcs01"));
	put(M, V, VCPU, "vmcs01.vmcs", VMCS);
	put(M, V, VCPU, "vmcs01.shadow_vmcs", VMCS + 0x1000);
	put(M, V, VCPU, "vmcs01.cpu", 1);
	put(M, V, VCPU, "vmcs01.launched", 1);
	/* the exit information in vcpu_vmx itself, or in its vt (7.2: struct vcpu_vt) */
	const char *vt = member_off(M, V, "exit_reason") == UINT64_MAX ? "vt." : "";
	char path[64];
	snprintf(path, sizeof(path), "%sexit_reason", vt);
	put(M, V, VCPU, path, 0x08000030); /* enclave_mode | EPT_VIOLATION */
	snprintf(path, sizeof(path), "%sexit_qualification", vt);
	put(M, V, VCPU, path, 0x181);
	snprintf(path, sizeof(path), "%sexit_intr_info", vt);
	put(M, V, VCPU, path, 0x80000b0e);
	put(M, V, VCPU, "idt_vectoring_info", 0x80000306);
	put(M, V, VCPU, "vcpu.arch.regs_avail", bit >= 0 ? 1u << bit : 0);
	put(M, V, VCPU, "nested.vmxon", 1);
	put(M, V, VCPU, "nested.vmxon_ptr", 0x7000);
	put(M, V, VCPU, "nested.current_vmptr", 0x8000);
	put(M, V, VCPU, "nested.cached_vmcs12", VMCS12);
	put(M, V, VCPU, "nested.vmcs02.vmcs", VMCS + 0x2000);
	put(M, "struct vmcs", VMCS, "hdr.revision_id", 0x12);
	put(M, "struct vmcs", VMCS, "hdr.shadow_vmcs", 1);
	put(M, "struct vmcs", VMCS, "abort", 0x5);

	int r = vmx_vcpu_read(&env, VCPU, &x);
	check("vmx_vcpu_read", r == 0, "r=%d", r);
	check("loaded_vmcs is &vmcs01", x.loaded_is_vmcs01 == 1 &&
	      x.loaded_vmcs == VCPU + member_off(M, V, "vmcs01"), "0x%llx",
	      (unsigned long long)x.loaded_vmcs);
	check("vmcs, shadow_vmcs, cpu, launched",
	      x.vmcs == VMCS && x.shadow_vmcs == VMCS + 0x1000 && x.cpu == 1 && x.launched == 1,
	      "vmcs 0x%llx shadow 0x%llx cpu %d launched %d", (unsigned long long)x.vmcs,
	      (unsigned long long)x.shadow_vmcs, x.cpu, x.launched);
	check("VMCS header: revision, shadow bit, abort",
	      x.header_ok && x.revision_id == 0x12 && x.shadow_bit == 1 && x.abort == 5,
	      "rev 0x%x shadow %u abort %u", x.revision_id, x.shadow_bit, x.abort);
	check("exit reason basic and flags",
	      x.exit_reason == 0x08000030 && x.exit_reason_basic == 48 &&
		      x.exit_reason_flags == 0x08000000,
	      "0x%x", x.exit_reason);
	check("exit qualification cached (regs_avail bit from enum kvm_reg)",
	      bit >= 0 && x.exit_qualification == 0x181 && x.exit_qualification_valid == 1,
	      "bit %d valid %d", bit, x.exit_qualification_valid);
	check("exit_intr_info, idt_vectoring_info",
	      x.exit_intr_info == 0x80000b0e && x.idt_vectoring_info == 0x80000306, NULL);
	check("nested vmxon, vmxon_ptr, current_vmptr, cached_vmcs12, vmcs02",
	      x.nested_vmxon == 1 && x.vmxon_ptr == 0x7000 && x.current_vmptr == 0x8000 &&
		      x.cached_vmcs12 == VMCS12 && x.vmcs02_vmcs == VMCS + 0x2000,
	      NULL);
	/* the union's flag bits are where the SDM (and our names) put them */
	uint64_t o = member_off(M, "union vmx_exit_reason", "enclave_mode");
	struct ktypes_loc loc;
	kernel_member(k, M, "union vmx_exit_reason", "failed_vmentry", &loc);
	check("union vmx_exit_reason bits match the SDM names", o == UINT64_MAX ||
	      loc.bit_offset == 31, "failed_vmentry at bit %llu",
	      (unsigned long long)loc.bit_offset);
	/* exit qualification not cached: stale */
	put(M, V, VCPU, "vcpu.arch.regs_avail", 0);
	vmx_vcpu_read(&env, VCPU, &x);
	check("exit qualification stale when its regs_avail bit is clear",
	      x.exit_qualification_valid == 0, NULL);
	/* vmcs02 loaded: L2 runs */
	put(M, V, VCPU, "loaded_vmcs", VCPU + member_off(M, V, "nested.vmcs02"));
	put(M, V, VCPU, "nested.vmcs02.cpu", 0);
	vmx_vcpu_read(&env, VCPU, &x);
	check("vmcs02 loaded", !x.loaded_is_vmcs01 && x.vmcs == VMCS + 0x2000 && x.cpu == 0,
	      NULL);
}

static void test_vmcs12(void)
{
	static const struct {
		const char *name;
		uint64_t val;
		uint32_t enc;
	} want[] = {
		{ "guest_rip", 0xfff0, 0x681e },
		{ "guest_cr3", 0x1000, 0x6802 },
		{ "guest_cs_selector", 0xf000, 0x0802 },
		{ "vm_exit_reason", 30, 0x4402 },
		{ "exit_qualification", 0x3f80008, 0x6400 },
		{ "tsc_offset", 0xfffffff000000000ull, 0x2010 },
		{ "ept_pointer", 0x1234005e, 0x201a },
		{ "cpu_based_vm_exec_control", 0xb5a06dfa, 0x4002 },
		{ "guest_pml_index", 0x1ff, 0x0812 },
	};
	struct kvmdci_field *f = calloc(512, sizeof(*f));
	uint32_t rev = 0;

	put("kvm_intel", "struct vmcs12", VMCS12, "hdr.revision_id", 0x11e57ed0);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		put("kvm_intel", "struct vmcs12", VMCS12, want[i].name, want[i].val);
	int n = vmx_vmcs12_read(&env, VMCS12, &rev, f, 512);
	check("vmcs12: revision 0x11e57ed0", rev == 0x11e57ed0, "0x%x", rev);
	check("vmcs12: fields", n > 140 && n < 512, "%d", n);
	int unnamed = 0;
	for (int i = 0; i < n; i++)
		if (f[i].encoding == UINT32_MAX && strncmp(f[i].name, "hdr.", 4) &&
		    strcmp(f[i].name, "abort") && strcmp(f[i].name, "launch_state")) {
			printf("     no encoding for vmcs12 member %s\n", f[i].name);
			unnamed++;
		}
	check("vmcs12: every member but the header has a VMCS encoding", unnamed == 0,
	      "%d without", unnamed);
	for (size_t j = 0; j < ARRAY_SIZE(want); j++) {
		int found = -1;
		for (int i = 0; i < n; i++)
			if (!strcmp(f[i].name, want[j].name))
				found = i;
		check(want[j].name,
		      found >= 0 && f[found].value == want[j].val &&
			      f[found].encoding == want[j].enc,
		      "value 0x%llx encoding 0x%x", found >= 0 ? (unsigned long long)f[found].value : 0,
		      found >= 0 ? f[found].encoding : 0);
	}
	free(f);
}

static void test_ownership(void)
{
	struct kvmdci_cpu_virt c[NCPU];
	static const int kvm_on[NCPU] = { 1, 0, 1 };
	static const int vmxe[NCPU] = { 1, 1, 0 };
	static const int want[NCPU] = { KVMDCI_VIRT_KVM, KVMDCI_VIRT_FOREIGN,
					KVMDCI_VIRT_INCONSISTENT };
	uint64_t mask = 0;

	for (int cpu = 0; cpu < NCPU; cpu++) {
		uint64_t off = 0x1000 * (uint64_t)(cpu + 1);
		memcpy(mem + (PCPU_OFFSETS - BASE) + 8 * cpu, &off, 8);
		mem[PCPU_SYMS - BASE + off] = (uint8_t)kvm_on[cpu];
		uint64_t area = VMCS + 0x100 * (uint64_t)cpu;
		memcpy(mem + (PCPU_SYMS - BASE) + off + 8, &area, 8);
		uint32_t rev = 0x4 + (uint32_t)cpu; /* the VMXON region's revision id */
		memcpy(mem + (area - BASE), &rev, 4);
		mask |= (uint64_t)kvm_on[cpu] << cpu;
		cr4s[cpu] = vmxe[cpu] ? 0x3726e0 : 0x3706e0;
	}
	/* cpus_hardware_enabled: cpumask_var_t is a pointer or the mask, per the type info */
	uint64_t mptr = MASK;
	struct kbtf *btf;
	int32_t id;
	bool is_ptr = kernel_type(k, NULL, "cpumask_var_t", &btf, &id) == 0 &&
		      btf_is_ptr(kbtf_type_by_id(btf, (uint32_t)ktypes_skip_mods(btf, id)));
	memcpy(mem + (MASK_PTR - BASE), is_ptr ? &mptr : &mask, 8);
	memcpy(mem + (MASK - BASE), &mask, 8);

	int n = virt_cpus_read(&env, KVMDCI_VENDOR_VMX, c, NCPU);
	check("ownership: CPUs", n == NCPU, "%d", n);
	for (int cpu = 0; cpu < NCPU; cpu++) {
		char what[64];
		snprintf(what, sizeof(what), "ownership: cpu %d %s", cpu,
			 kvmdci_virt_owner_name(want[cpu]));
		check(what, c[cpu].owner == want[cpu] && c[cpu].kvm_on == kvm_on[cpu] &&
			    !strcmp(c[cpu].kvm_source, kvm_sym) &&
			    c[cpu].vmxarea == VMCS + 0x100 * (uint64_t)cpu &&
			    c[cpu].vmxon_valid == 3 && c[cpu].vmxon_revision == 0x4 + (uint32_t)cpu &&
			    c[cpu].vmxarea_pa == PHYS_OF(VMCS + 0x100 * (uint64_t)cpu),
		      "%s: %s; vmxon valid %u revision 0x%x pa 0x%llx",
		      kvmdci_virt_owner_name(c[cpu].owner), c[cpu].reason, c[cpu].vmxon_valid,
		      c[cpu].vmxon_revision, (unsigned long long)c[cpu].vmxarea_pa);
	}
}

/* AMD APM vol. 2 appendix B offsets (tables B-1 and B-2) */
static void test_vmcb(void)
{
	static const struct {
		const char *path;
		uint64_t off;
	} apm[] = {
		{ "control.intercepts", 0x00 },	   { "control.pause_filter_thresh", 0x3c },
		{ "control.pause_filter_count", 0x3e }, { "control.iopm_base_pa", 0x40 },
		{ "control.msrpm_base_pa", 0x48 }, { "control.tsc_offset", 0x50 },
		{ "control.asid", 0x58 },	   { "control.tlb_ctl", 0x5c },
		{ "control.int_ctl", 0x60 },	   { "control.int_vector", 0x64 },
		{ "control.int_state", 0x68 },	   { "control.exit_code", 0x70 },
		  { "control.exit_info_1", 0x78 },
		{ "control.exit_info_2", 0x80 },   { "control.exit_int_info", 0x88 },
		{ "control.exit_int_info_err", 0x8c }, 
		{ "control.avic_vapic_bar", 0x98 }, { "control.ghcb_gpa", 0xa0 },
		{ "control.event_inj", 0xa8 },	   { "control.event_inj_err", 0xac },
		{ "control.nested_cr3", 0xb0 },	   
		{ "control.clean", 0xc0 },	   { "control.next_rip", 0xc8 },
		{ "control.insn_len", 0xd0 },	   { "control.insn_bytes", 0xd1 },
		{ "control.avic_backing_page", 0xe0 }, { "control.avic_logical_id", 0xf0 },
		{ "control.avic_physical_id", 0xf8 }, { "control.vmsa_pa", 0x108 },
		{ "save", 0x400 },		   { "save.es", 0x400 },
		{ "save.cs", 0x410 },		   { "save.ss", 0x420 },
		{ "save.ds", 0x430 },		   { "save.fs", 0x440 },
		{ "save.gs", 0x450 },		   { "save.gdtr", 0x460 },
		{ "save.ldtr", 0x470 },		   { "save.idtr", 0x480 },
		{ "save.tr", 0x490 },		   { "save.cpl", 0x4cb },
		{ "save.efer", 0x4d0 },		   { "save.cr4", 0x548 },
		{ "save.cr3", 0x550 },		   { "save.cr0", 0x558 },
		{ "save.dr7", 0x560 },		   { "save.dr6", 0x568 },
		{ "save.rflags", 0x570 },	   { "save.rip", 0x578 },
		{ "save.rsp", 0x5d8 },		   { "save.rax", 0x5f8 },
		{ "save.star", 0x600 },		   { "save.lstar", 0x608 },
		{ "save.kernel_gs_base", 0x620 },  { "save.cr2", 0x640 },
		{ "save.g_pat", 0x668 },	   { "save.dbgctl", 0x670 },
	};
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(apm); i++) {
		uint64_t o = member_off("kvm_amd", "struct vmcb", apm[i].path);
		struct kbtf *btf;
		int32_t id;
		const char *held = o == UINT64_MAX &&
					   kernel_type(k, "kvm_amd", "struct vmcb", &btf, &id) == 0 ?
				   member_holding(btf, id, apm[i].off) :
				   NULL;
		if (held && !strncmp(held, "reserved", 8)) {
			/* a field newer than the kernel (SEV-ES's ghcb_gpa and vmsa_pa came in
			 * 5.11): its struct keeps the APM's bytes reserved */
			printf("     struct vmcb %s: not in this kernel's type, its APM offset 0x%llx "
			       "in %s\n", apm[i].path, (unsigned long long)apm[i].off, held);
			continue;
		}
		if (o != apm[i].off) {
			printf("     struct vmcb %s at 0x%llx, APM says 0x%llx\n", apm[i].path,
			       (unsigned long long)o, (unsigned long long)apm[i].off);
			bad++;
		}
	}
	/* APM fields whose KVM member changed name or width between kernels (EXITCODE: u32
	 * exit_code + u32 exit_code_hi up to 6.x, one u64 on 7.2; nested_ctl and virt_ext are
	 * misc_ctl and misc_ctl2 on 7.2): the members the type info has from the APM offset on
	 * must cover the field exactly */
	static const struct {
		uint64_t off, bytes;
		const char *apm;
	} spans[] = {
		{ 0x70, 8, "EXITCODE" },
		{ 0x90, 8, "NP_ENABLE, SEV, ... (nested paging control)" },
		{ 0xb8, 8, "LBR virtualization, virtual VMSAVE/VMLOAD" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(spans); i++) {
		uint64_t o = spans[i].off, end = spans[i].off + spans[i].bytes;
		char names[128] = "";
		while (o < end) {
			const char *n = member_at("kvm_amd", "struct vmcb_control_area", o);
			char path[80];
			struct ktypes_loc loc;
			snprintf(path, sizeof(path), "control.%s", n ? n : "?");
			if (!n || kernel_member(k, "kvm_amd", "struct vmcb", path, &loc) < 0 ||
			    !loc.size)
				break;
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? " + " : "", n);
			o += loc.size;
		}
		if (o != end) {
			printf("     APM %s (0x%llx, %llu bytes): struct vmcb members from there "
			       "cover to 0x%llx (%s)\n", spans[i].apm,
			       (unsigned long long)spans[i].off, (unsigned long long)spans[i].bytes,
			       (unsigned long long)o, names);
			bad++;
		} else {
			printf("     APM %s at 0x%llx: %s\n", spans[i].apm,
			       (unsigned long long)spans[i].off, names);
		}
	}
	check("struct vmcb offsets == APM vol. 2 appendix B", bad == 0, "%d of %zu differ", bad,
	      ARRAY_SIZE(apm) + ARRAY_SIZE(spans));

	const char *T = "struct vmcb";
	struct kvmdci_vmcb v;
	put("kvm_amd", T, VMCB, "control.intercepts[3]", (1u << 24) | (1u << 27));
	put("kvm_amd", T, VMCB, "control.exit_code", 0x7b);
	put("kvm_amd", T, VMCB, "control.exit_info_1", 0x3f80210);
	/* nested_ctl (misc_ctl on 7.2): named by the type info's member at the APM's 0x90 */
	const char *np = member_at("kvm_amd", "struct vmcb_control_area", 0x90);
	char np_path[64];
	snprintf(np_path, sizeof(np_path), "control.%s", np ? np : "?");
	put("kvm_amd", T, VMCB, np_path, 1);
	put("kvm_amd", T, VMCB, "save.cs.selector", 0xf000);
	put("kvm_amd", T, VMCB, "save.rip", 0x1234);
	put("kvm_amd", T, VMCB, "save.efer", 0x1000);
	int r = svm_vmcb_read(&env, VMCB, &v);
	check("VMCB image decoded",
	      r == 0 && v.exit_code == 0x7b && v.exit_info_1 >> 16 == 0x3f8 && v.nested_ctl == 1 &&
		      v.cs.selector == 0xf000 && v.rip == 0x1234 && v.efer == 0x1000 &&
		      v.intercepts[3] == ((1u << 24) | (1u << 27)) && v.nintercepts >= 5,
	      "exit 0x%x info1 0x%llx rip 0x%llx", v.exit_code,
	      (unsigned long long)v.exit_info_1, (unsigned long long)v.rip);
	check("VMCB image: EXITCODE's high half 0", r == 0 && v.exit_code_hi == 0, "0x%x",
	      v.exit_code_hi);
	/* VMEXIT_INVALID: EXITCODE -1, all 64 bits at the APM's 0x70 (the hardware layout,
	 * whichever members the kernel splits it into) */
	memset(mem + (VMCB - BASE) + 0x70, 0xff, 8);
	r = svm_vmcb_read(&env, VMCB, &v);
	check("VMCB image: EXITCODE -1 (VMEXIT_INVALID) in exit_code and exit_code_hi",
	      r == 0 && v.exit_code == 0xffffffffu && v.exit_code_hi == 0xffffffffu,
	      "exit_code 0x%x exit_code_hi 0x%x", v.exit_code, v.exit_code_hi);
}

int main(int argc, char **argv)
{
	static const char *const mods[][2] = { { "kvm", "kvm.ko" },
					       { "kvm_amd", "kvm-amd.ko" },
					       { "kvm_intel", "kvm-intel.ko" } };
	bool dwarf = argc > 1 && !strcmp(argv[1], "--dwarf");
	if (dwarf) {
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: vmx-image [--dwarf] VMLINUX MODDIR KVM_ENABLED_SYMBOL\n");
		return 2;
	}
	kvm_sym = argv[3];
	if (kvmdci_ctx_new(&ctx) < 0 || kernel_new_types_only(ctx, &k) < 0)
		return 1;
	if (dwarf)
		kernel_ktypes(k)->source = KTYPES_DWARF;
	if (ktypes_load_vmlinux(ctx, kernel_ktypes(k), argv[1]) < 0)
		return 1;
	env.k = k;
	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", argv[2], mods[i][1]);
		if (ktypes_add_module(ctx, kernel_ktypes(k), mods[i][0], path) < 0)
			return 1;
	}
	mem = calloc(1, MEM);
	test_vcpu();
	test_vmcs12();
	test_ownership();
	memset(mem, 0, MEM);
	test_vmcb();
	free(mem);
	kvmdci_kernel_unref(k);
	kvmdci_ctx_unref(ctx);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
