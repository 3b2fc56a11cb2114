// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci-vmcs: each vCPU's hardware virtualization state: on AMD the VMCB (control area with
 * intercepts by name, exit code and info, state save area), on Intel loaded_vmcs, the VMCS
 * region header, KVM's cached exit information and a nested guest's vmcs12.
 * Also decodes VMCS field encodings offline (--field).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared.h"
#include "vm-select.h"

/* A first guess at the number of fields of a VMCB or vmcs12; more costs a second read. */
#define FIELDS_GUESS 512

static struct tool tool = { .name = "kvmdci-vmcs" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-vmcs -t URI [--vm ADDR|PID] [--vcpu N] [--fields] [--json]\n"
		"       kvmdci-vmcs --field ENCODING|NAME [--json]\n"
		"\n"
		"Decodes each vCPU's virtualization control structure on a KVM host seen from\n"
		"below the OS. AMD SVM: the VMCB in use (svm->vmcb) and L1's vmcb01: intercepts\n"
		"by name, exit code and exit info, event injection, nested paging, and the state\n"
		"save area; while a nested guest (L2) runs, L1's vmcb12 as KVM holds it. Intel\n"
		"VMX: loaded_vmcs (VMCS region, shadow VMCS, CPU, launched), the\n"
		"VMCS region header (revision id, shadow bit, abort indicator), the exit reason,\n"
		"qualification and interrupt information KVM cached, and a nested guest's\n"
		"vmcs12 with field names and encodings.\n"
		"\n"
		"Selection:\n"
		"      --vm ADDR|PID     one VM: its struct kvm address (0x...) or its pid\n"
		"      --vcpu N          one vCPU id\n"
		"      --fields          also every member of struct vmcb / vmcs12, by name\n"
		"      --field X         decode a VMCS field encoding (0x681e) or name (GUEST_RIP)\n"
		"                        and exit; needs no target\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

static json_t *jfields(const struct kvmdci_field *f, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:i, s:i, s:o}", "name", f[i].name, "offset",
				      f[i].offset, "size", f[i].size, "value",
				      tool_json_addr(f[i].value));
		if (f[i].encoding != UINT32_MAX)
			json_object_set_new(o, "encoding", tool_json_addr(f[i].encoding));
		json_array_append_new(a, o);
	}
	return a;
}

static void print_fields(const struct kvmdci_field *f, int n)
{
	for (int i = 0; i < n; i++) {
		char enc[16] = "";
		if (f[i].encoding != UINT32_MAX)
			snprintf(enc, sizeof(enc), "0x%04x", f[i].encoding);
		printf("      %-40s %-6s +0x%03x %d  0x%llx\n", f[i].name, enc, f[i].offset,
		       f[i].size, (unsigned long long)f[i].value);
	}
}

static json_t *jseg(const struct kvmdci_vmcb_seg *s)
{
	return json_pack("{s:i, s:o, s:o, s:o}", "selector", s->selector, "attrib",
			 tool_json_addr(s->attrib), "limit", tool_json_addr(s->limit), "base",
			 tool_json_addr(s->base));
}

static json_t *jvmcb(const struct kvmdci_vmcb *v)
{
	json_t *ic = json_array();
	for (int w = 0; w < v->nintercepts; w++)
		for (int b = 0; b < 32; b++)
			if (v->intercepts[w] & (1u << b)) {
				const char *n = kvmdci_svm_intercept_name(w * 32 + b);
				char u[24];
				if (!n) {
					snprintf(u, sizeof(u), "bit_%d", w * 32 + b);
					n = u;
				}
				json_array_append_new(ic, json_string(n));
			}
	json_t *words = json_array();
	for (int w = 0; w < v->nintercepts; w++)
		json_array_append_new(words, tool_json_addr(v->intercepts[w]));
	const char *en = kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, v->exit_code);
	json_t *c = json_pack(
		"{s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:i, s:i, s:o, s:i, s:i, s:i, s:s?, s:i, "
		"s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o}",
		"intercepts", ic, "intercept_words", words, "tsc_offset",
		tool_json_addr(v->tsc_offset), "pause_filter_count", v->pause_filter_count,
		"pause_filter_thresh", v->pause_filter_thresh, "iopm_base_pa",
		tool_json_addr(v->iopm_base_pa), "msrpm_base_pa", tool_json_addr(v->msrpm_base_pa),
		"int_ctl", tool_json_addr(v->int_ctl), "asid", (int)v->asid, "tlb_ctl",
		(int)v->tlb_ctl, "int_state", tool_json_addr(v->int_state), "int_vector",
		(int)v->int_vector, "exit_code", (int)v->exit_code, "exit_code_hi",
		(int)v->exit_code_hi, "exit_code_name", en, "exit_int_info_err",
		(int)v->exit_int_info_err, "exit_info_1", tool_json_addr(v->exit_info_1),
		"exit_info_2", tool_json_addr(v->exit_info_2), "exit_int_info",
		tool_json_addr(v->exit_int_info), "nested_ctl", tool_json_addr(v->nested_ctl),
		"nested_cr3", tool_json_addr(v->nested_cr3), "np_enable", (v->nested_ctl & 1) != 0,
		"event_inj", tool_json_addr(v->event_inj), "virt_ext", tool_json_addr(v->virt_ext),
		"clean", tool_json_addr(v->clean), "next_rip", tool_json_addr(v->next_rip),
		"event_inj_err", tool_json_addr(v->event_inj_err));
	json_t *s = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "cpl",
			      (int)v->cpl, "efer", tool_json_addr(v->efer), "cr0",
			      tool_json_addr(v->cr0), "cr2", tool_json_addr(v->cr2), "cr3",
			      tool_json_addr(v->cr3), "cr4", tool_json_addr(v->cr4), "dr6",
			      tool_json_addr(v->dr6), "dr7", tool_json_addr(v->dr7), "rflags",
			      tool_json_addr(v->rflags), "rip", tool_json_addr(v->rip), "rsp",
			      tool_json_addr(v->rsp), "rax", tool_json_addr(v->rax));
	const struct kvmdci_vmcb_seg *segs[] = { &v->es,   &v->cs,   &v->ss,   &v->ds,   &v->fs,
						 &v->gs,   &v->gdtr, &v->ldtr, &v->idtr, &v->tr };
	static const char *const sn[] = { "es", "cs", "ss", "ds", "fs",
					  "gs", "gdtr", "ldtr", "idtr", "tr" };
	for (int i = 0; i < 10; i++)
		json_object_set_new(s, sn[i], jseg(segs[i]));
	return json_pack("{s:o, s:o, s:o}", "address", tool_json_addr(v->addr), "control", c,
			 "save", s);
}

static void print_vmcb(const char *what, const struct kvmdci_vmcb *v)
{
	const char *en = kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, v->exit_code);
	printf("    %s VMCB 0x%llx: exit_code 0x%x (%s) exit_info_1 0x%llx exit_info_2 0x%llx\n",
	       what, (unsigned long long)v->addr, v->exit_code, en ? en : "?",
	       (unsigned long long)v->exit_info_1, (unsigned long long)v->exit_info_2);
	printf("      exit_int_info 0x%x next_rip 0x%llx event_inj 0x%x asid %u tlb_ctl %u "
	       "int_ctl 0x%x int_state 0x%x\n",
	       v->exit_int_info, (unsigned long long)v->next_rip, v->event_inj, v->asid,
	       v->tlb_ctl, v->int_ctl, v->int_state);
	printf("      nested_ctl 0x%llx (np %s) nested_cr3 0x%llx iopm 0x%llx msrpm 0x%llx\n",
	       (unsigned long long)v->nested_ctl, v->nested_ctl & 1 ? "on" : "off",
	       (unsigned long long)v->nested_cr3, (unsigned long long)v->iopm_base_pa,
	       (unsigned long long)v->msrpm_base_pa);
	printf("      intercepts:");
	int col = 18;
	for (int w = 0; w < v->nintercepts; w++)
		for (int b = 0; b < 32; b++)
			if (v->intercepts[w] & (1u << b)) {
				const char *n = kvmdci_svm_intercept_name(w * 32 + b);
				char u[24];
				if (!n) {
					snprintf(u, sizeof(u), "bit_%d", w * 32 + b);
					n = u;
				}
				if (col + strlen(n) > 96) {
					printf("\n                 ");
					col = 18;
				}
				col += printf(" %s", n);
			}
	printf("\n      rip 0x%llx rsp 0x%llx rax 0x%llx rflags 0x%llx cpl %u\n",
	       (unsigned long long)v->rip, (unsigned long long)v->rsp,
	       (unsigned long long)v->rax, (unsigned long long)v->rflags, v->cpl);
	printf("      cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx cs %04x:0x%llx\n",
	       (unsigned long long)v->cr0, (unsigned long long)v->cr3,
	       (unsigned long long)v->cr4, (unsigned long long)v->efer, v->cs.selector,
	       (unsigned long long)v->cs.base);
}

/*
 * While L2 runs: vmcb12, the VMCB L1 gave to VMRUN, as KVM holds it (its guest-physical
 * address, KVM's copy of the control area, the save-area fields KVM keeps).
 */
static void show_vmcb12(struct kvmdci_kernel *k, uint64_t vcpu, json_t *o)
{
	struct kvmdci_vmcb v;

	if (kvmdci_svm_vmcb12(k, vcpu, &v) < 0) {
		json_object_set_new(o, "vmcb12_error",
				    json_string(kvmdci_ctx_last_error(tool.ctx)));
		if (!tool.json)
			printf("    vmcb12: %s\n", kvmdci_ctx_last_error(tool.ctx));
		return;
	}
	json_t *j = jvmcb(&v);
	json_object_del(j, "address");
	json_object_set_new(j, "gpa", tool_json_addr(v.addr));
	json_object_set_new(j, "source", json_string("kvm_copy"));
	json_object_set_new(j, "save",
			    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "efer",
				      tool_json_addr(v.efer), "cr0", tool_json_addr(v.cr0), "cr3",
				      tool_json_addr(v.cr3), "cr4", tool_json_addr(v.cr4), "dr6",
				      tool_json_addr(v.dr6), "dr7", tool_json_addr(v.dr7), "cs",
				      jseg(&v.cs)));
	json_object_set_new(o, "vmcb12", j);
	if (tool.json)
		return;
	printf("    vmcb12 at guest-physical 0x%llx (L1's VMCB for L2, as KVM copied it at "
	       "VMRUN)\n",
	       (unsigned long long)v.addr);
	printf("      asid %u tlb_ctl %u int_ctl 0x%x nested_ctl 0x%llx (np %s) "
	       "nested_cr3 0x%llx\n",
	       v.asid, v.tlb_ctl, v.int_ctl, (unsigned long long)v.nested_ctl,
	       v.nested_ctl & 1 ? "on" : "off", (unsigned long long)v.nested_cr3);
	printf("      iopm 0x%llx msrpm 0x%llx intercepts:", (unsigned long long)v.iopm_base_pa,
	       (unsigned long long)v.msrpm_base_pa);
	for (int w = 0; w < v.nintercepts; w++)
		for (int b = 0; b < 32; b++)
			if (v.intercepts[w] & (1u << b)) {
				const char *n = kvmdci_svm_intercept_name(w * 32 + b);
				if (n)
					printf(" %s", n);
				else
					printf(" bit_%d", w * 32 + b);
			}
	printf("\n      efer 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx dr6 0x%llx dr7 0x%llx "
	       "cs %04x\n",
	       (unsigned long long)v.efer, (unsigned long long)v.cr0, (unsigned long long)v.cr3,
	       (unsigned long long)v.cr4, (unsigned long long)v.dr6, (unsigned long long)v.dr7,
	       v.cs.selector);
}

static int field_mode(const char *arg)
{
	struct kvmdci_vmcs_field f;
	uint32_t enc;
	char *end;
	int r;

	errno = 0;
	unsigned long long v = strtoull(arg, &end, 0);
	if (!*end && end != arg && !errno) {
		if (v > UINT32_MAX) {
			fprintf(stderr, "kvmdci-vmcs: %s is not a 32-bit encoding\n", arg);
			return 1;
		}
		enc = (uint32_t)v;
	} else if (kvmdci_vmcs_field_lookup(arg, &enc) < 0) {
		fprintf(stderr, "kvmdci-vmcs: no VMCS field named %s\n", arg);
		return 1;
	}
	r = kvmdci_vmcs_field_decode(enc, &f);
	if (r == -EINVAL) {
		fprintf(stderr, "kvmdci-vmcs: 0x%x is not a valid VMCS field encoding (reserved "
				"bits set, or a high access to a field that is not 64-bit)\n",
			enc);
		return 1;
	}
	if (tool.json) {
		json_t *o = json_pack("{s:o, s:s?, s:i, s:s, s:s, s:b}", "encoding",
				      tool_json_addr(f.encoding), "name", f.name, "index", f.index,
				      "type", kvmdci_vmcs_type_name(f.type), "width",
				      kvmdci_vmcs_width_name(f.width), "high", f.high);
		tool_json_print(&tool, o);
		json_decref(o);
	} else {
		printf("0x%04x %s: index %u, type %s, width %s%s\n", f.encoding,
		       f.name ? f.name : "(unnamed)", f.index, kvmdci_vmcs_type_name(f.type),
		       kvmdci_vmcs_width_name(f.width), f.high ? ", high 32 bits" : "");
	}
	return 0;
}

/* A field list as long as the structure has (see FIELDS_GUESS). */
struct fields {
	struct kvmdci_field *f;
	int n;
};

static int read_vmcb_fields(struct kvmdci_kernel *k, uint64_t vmcb, struct fields *fl)
{
	for (int cap = FIELDS_GUESS;; cap = fl->n) {
		struct kvmdci_field *p = realloc(fl->f, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		fl->f = p;
		if ((fl->n = kvmdci_svm_vmcb_fields(k, vmcb, fl->f, cap)) <= cap)
			return fl->n;
	}
}

static int read_vmcs12(struct kvmdci_kernel *k, uint64_t addr, uint32_t *rev, struct fields *fl)
{
	for (int cap = FIELDS_GUESS;; cap = fl->n) {
		struct kvmdci_field *p = realloc(fl->f, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		fl->f = p;
		if ((fl->n = kvmdci_vmx_vmcs12(k, addr, rev, fl->f, cap)) <= cap)
			return fl->n;
	}
}

/* One SVM vCPU as read: its vcpu_svm, the current VMCB (and its fields), vmcb01. */
struct svm_view {
	struct kvmdci_svm_vcpu s;
	bool have_vmcb, have_vmcb01;
	struct kvmdci_vmcb vmcb, vmcb01;
	char vmcb_error[512];
	struct fields fields;
};

static int read_svm(struct kvmdci_kernel *k, uint64_t vcpu, bool all_fields, struct svm_view *v)
{
	int r;

	if ((r = kvmdci_svm_vcpu(k, vcpu, &v->s)) < 0)
		return r;
	if (v->s.vmcb && kvmdci_svm_vmcb(k, v->s.vmcb, &v->vmcb) == 0) {
		v->have_vmcb = true;
		if (all_fields && read_vmcb_fields(k, v->s.vmcb, &v->fields) < 0)
			v->fields.n = 0;
	} else {
		snprintf(v->vmcb_error, sizeof(v->vmcb_error), "%s", kvmdci_ctx_last_error(tool.ctx));
	}
	v->have_vmcb01 = v->s.vmcb01 && v->s.vmcb01 != v->s.vmcb &&
			 kvmdci_svm_vmcb(k, v->s.vmcb01, &v->vmcb01) == 0;
	return 0;
}

static void json_svm(const struct svm_view *v, json_t *o)
{
	const struct kvmdci_svm_vcpu *s = &v->s;

	json_object_set_new(
		o, "svm",
		json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:i}", "vmcb",
			  tool_json_addr(s->vmcb), "vmcb_pa", tool_json_addr(s->vmcb_pa), "vmcb01",
			  tool_json_addr(s->vmcb01), "vmcb01_pa", tool_json_addr(s->vmcb01_pa),
			  "vmcb02", tool_json_addr(s->vmcb02), "vmcb12_gpa",
			  tool_json_addr(s->vmcb12_gpa), "hsave_msr", tool_json_addr(s->hsave_msr),
			  "guest_mode", s->guest_mode, "asid", s->asid));
	if (v->have_vmcb) {
		json_t *jm = jvmcb(&v->vmcb);
		if (v->fields.n > 0)
			json_object_set_new(jm, "fields", jfields(v->fields.f, v->fields.n));
		json_object_set_new(o, "vmcb", jm);
	} else {
		json_object_set_new(o, "vmcb_error", json_string(v->vmcb_error));
	}
	if (v->have_vmcb01)
		json_object_set_new(o, "vmcb01", jvmcb(&v->vmcb01));
}

static void show_svm_plain(const struct svm_view *v)
{
	const struct kvmdci_svm_vcpu *s = &v->s;

	printf("  svm: vmcb 0x%llx (pa 0x%llx)%s asid %d vmcb12_gpa 0x%llx\n",
	       (unsigned long long)s->vmcb, (unsigned long long)s->vmcb_pa,
	       s->guest_mode ? " = vmcb02 (L2 runs)" : " = vmcb01", s->asid,
	       (unsigned long long)s->vmcb12_gpa);
	if (v->have_vmcb) {
		print_vmcb("current", &v->vmcb);
		if (v->fields.n > 0)
			print_fields(v->fields.f, v->fields.n);
	}
	if (v->have_vmcb01)
		print_vmcb("vmcb01", &v->vmcb01);
}

/* One VMX vCPU as read: vcpu_vmx, and a nested guest's vmcs12 when there is one. */
struct vmx_view {
	struct kvmdci_vmx_vcpu x;
	bool have_vmcs12;
	uint32_t rev;
	struct fields fields;
};

static int read_vmx(struct kvmdci_kernel *k, uint64_t vcpu, struct vmx_view *v)
{
	const struct kvmdci_vmx_vcpu *x = &v->x;
	int r;

	if ((r = kvmdci_vmx_vcpu(k, vcpu, &v->x)) < 0)
		return r;
	if (x->nested_vmxon && x->cached_vmcs12 && x->current_vmptr != UINT64_MAX)
		v->have_vmcs12 = read_vmcs12(k, x->cached_vmcs12, &v->rev, &v->fields) >= 0;
	return 0;
}

static void json_vmx(const struct vmx_view *v, json_t *o)
{
	const struct kvmdci_vmx_vcpu *x = &v->x;
	json_t *flags = json_array();

	for (int b = 16; b < 32; b++)
		if (x->exit_reason & (1u << b)) {
			const char *n = kvmdci_vmx_exit_flag_name(b);
			json_array_append_new(flags, n ? json_string(n) : json_integer(b));
		}
	const char *en = kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, x->exit_reason_basic);
	json_t *jx = json_pack(
		"{s:o, s:o, s:o, s:o, s:i, s:b, s:b, s:o, s:i, s:s?, s:o, s:o, "
		"s:o, s:o, s:o, s:b, s:o, s:o, s:o}",
		"loaded_vmcs", tool_json_addr(x->loaded_vmcs), "vmcs", tool_json_addr(x->vmcs),
		"shadow_vmcs", tool_json_addr(x->shadow_vmcs), "vmcs01_vmcs",
		tool_json_addr(x->vmcs01_vmcs), "cpu", x->cpu, "launched", x->launched,
		"loaded_is_vmcs01", x->loaded_is_vmcs01, "exit_reason", tool_json_addr(x->exit_reason),
		"exit_reason_basic", x->exit_reason_basic, "exit_reason_name", en,
		"exit_reason_flags", flags, "exit_qualification",
		x->exit_qualification_valid == 1 ? tool_json_addr(x->exit_qualification) : json_null(),
		"exit_intr_info", tool_json_addr(x->exit_intr_info), "idt_vectoring_info",
		tool_json_addr(x->idt_vectoring_info), "vmcs02_vmcs", tool_json_addr(x->vmcs02_vmcs),
		"nested_vmxon", x->nested_vmxon, "vmxon_ptr", tool_json_addr(x->vmxon_ptr),
		"current_vmptr", tool_json_addr(x->current_vmptr), "cached_vmcs12",
		tool_json_addr(x->cached_vmcs12));
	if (x->header_ok)
		json_object_set_new(jx, "vmcs_header",
				    json_pack("{s:o, s:b, s:o}", "revision_id",
					      tool_json_addr(x->revision_id), "shadow", x->shadow_bit,
					      "abort", tool_json_addr(x->abort)));
	if (v->have_vmcs12)
		json_object_set_new(jx, "vmcs12",
				    json_pack("{s:o, s:b, s:o}", "revision", tool_json_addr(v->rev),
					      "revision_ok", v->rev == 0x11e57ed0u, "fields",
					      jfields(v->fields.f, v->fields.n)));
	json_object_set_new(o, "vmx", jx);
}

static void show_vmx_plain(const struct vmx_view *v)
{
	const struct kvmdci_vmx_vcpu *x = &v->x;
	const char *en = kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, x->exit_reason_basic);

	printf("  vmx: loaded_vmcs 0x%llx (%s) vmcs 0x%llx shadow 0x%llx cpu %d launched %d\n",
	       (unsigned long long)x->loaded_vmcs, x->loaded_is_vmcs01 ? "vmcs01" : "vmcs02",
	       (unsigned long long)x->vmcs, (unsigned long long)x->shadow_vmcs, x->cpu,
	       x->launched);
	if (x->header_ok)
		printf("    VMCS region: revision 0x%x shadow %u abort 0x%x\n", x->revision_id,
		       x->shadow_bit, x->abort);
	printf("    exit reason 0x%x (%s) qualification %s0x%llx intr_info 0x%x idt_vectoring "
	       "0x%x\n",
	       x->exit_reason, en ? en : "?", x->exit_qualification_valid == 1 ? "" : "(not cached) ",
	       (unsigned long long)x->exit_qualification, x->exit_intr_info, x->idt_vectoring_info);
	if (x->nested_vmxon)
		printf("    nested: VMXON at 0x%llx, current vmptr 0x%llx, cached vmcs12 0x%llx\n",
		       (unsigned long long)x->vmxon_ptr, (unsigned long long)x->current_vmptr,
		       (unsigned long long)x->cached_vmcs12);
	if (v->have_vmcs12) {
		printf("    vmcs12 revision 0x%x%s\n", v->rev,
		       v->rev == 0x11e57ed0u ? "" : " (not KVM's!)");
		print_fields(v->fields.f, v->fields.n);
	}
}

/* One vCPU: read, then into @jv and on stdout unless --json. */
static int show_vcpu(struct kvmdci_kernel *k, enum kvmdci_vendor vendor,
		     const struct kvmdci_vcpu_info *vi, bool all_fields, json_t *jv)
{
	json_t *o = json_pack("{s:o, s:i, s:o, s:i}", "vm", tool_json_addr(vi->vm), "vm_pid",
			      vi->vm_pid, "vcpu", tool_json_addr(vi->vcpu), "vcpu_id", vi->vcpu_id);
	int r;

	if (!tool.json)
		printf("VM 0x%llx pid %d vCPU %d (kvm_vcpu 0x%llx)\n", (unsigned long long)vi->vm,
		       vi->vm_pid, vi->vcpu_id, (unsigned long long)vi->vcpu);
	if (vendor == KVMDCI_VENDOR_SVM) {
		struct svm_view v = { 0 };
		if ((r = read_svm(k, vi->vcpu, all_fields, &v)) == 0) {
			json_svm(&v, o);
			if (!tool.json)
				show_svm_plain(&v);
			if (v.s.guest_mode)
				show_vmcb12(k, vi->vcpu, o);
		}
		free(v.fields.f);
	} else {
		struct vmx_view v = { 0 };
		if ((r = read_vmx(k, vi->vcpu, &v)) == 0) {
			json_vmx(&v, o);
			if (!tool.json)
				show_vmx_plain(&v);
		}
		free(v.fields.f);
	}
	if (r < 0) {
		json_decref(o);
		return r;
	}
	json_array_append_new(jv, o);
	return 0;
}

static void parse_options(int argc, char **argv, struct kvmdci_vm_select *sel, bool *all_fields,
			  const char **field_arg)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{ "vm", required_argument, NULL, 'M' },
		{ "vcpu", required_argument, NULL, 'C' },
		{ "fields", no_argument, NULL, 'F' },
		{ "field", required_argument, NULL, 'E' },
		{ 0 },
	};
	int opt;

	*sel = (struct kvmdci_vm_select){ .vcpu_id = -1 };
	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS, opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'M':
			tool_parse_vm(&tool, optarg, sel);
			break;
		case 'C':
			tool_parse_vcpu(&tool, optarg, sel);
			break;
		case 'F':
			*all_fields = true;
			break;
		case 'E':
			*field_arg = optarg;
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
	struct kvmdci_vcpu_list *vcpus = NULL;
	const struct kvmdci_vcpu_info *vi;
	struct kvmdci_vm_select sel;
	const char *field_arg = NULL;
	bool all_fields = false;
	int r, status = 0;

	parse_options(argc, argv, &sel, &all_fields, &field_arg);
	if (field_arg)
		return field_mode(field_arg);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	enum kvmdci_vendor vendor = kvmdci_kvm_vendor(k);
	if (vendor == KVMDCI_VENDOR_NONE) {
		status = tool_fail_msg(&tool, ENODEV,
				       "neither kvm_intel nor kvm_amd is loaded on the target");
		goto out;
	}
	if ((status = tool_check_selection(&tool, k, &sel)) != 0)
		goto out;
	/* the VM list first, as before: an unreadable vm_list is the error to report */
	if ((r = kvmdci_vm_list_new(k, NULL, &vms)) < 0 ||
	    (r = kvmdci_vcpu_list_new(k, &sel, &vcpus)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	json_t *doc = json_pack("{s:s, s:s}", "target", tool.target, "vendor",
				vendor == KVMDCI_VENDOR_VMX ? "vmx" : "svm");
	json_t *jv = json_array();
	int shown = 0;
	for (int i = 0; (vi = kvmdci_vcpu_list_get(vcpus, i)) && !tool_stop_requested; i++) {
		shown++;
		if ((r = show_vcpu(k, vendor, vi, all_fields, jv)) < 0) {
			json_decref(doc);
			json_decref(jv);
			status = tool_fail(&tool, r, NULL);
			goto out;
		}
	}
	json_object_set_new(doc, "vcpus", jv);
	if ((sel.vm || sel.pid > 0 || sel.vcpu_id >= 0) && !shown)
		status = tool_fail_msg(&tool, ENOENT, "no such vCPU");
	else if (tool.json)
		tool_json_print(&tool, doc);
	else if (!shown)
		printf("no vCPUs\n");
	json_decref(doc);
out:
	kvmdci_vm_list_unref(vms);
	kvmdci_vcpu_list_unref(vcpus);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
