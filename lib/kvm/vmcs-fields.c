// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMCS field encodings (Intel SDM vol. 3C, "Structure of VMCS Component Encoding", and
 * Appendix B "Field Encoding in VMCS"). An encoding is a 32-bit value:
 *   bit 0      access type: 0 full, 1 high 32 bits (only for 64-bit fields)
 *   bits 9:1   index
 *   bits 11:10 type: 0 control, 1 VM-exit information (read-only data), 2 guest state, 3 host
 *   bit 12     reserved (0)
 *   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
 *   bits 31:15 reserved (0)
 * Names: the kernel's `enum vmcs_field` (arch/x86/include/asm/vmx.h, Linux 6.12; the CET
 * interrupt SSP table addresses as Debian's 7.2 names them, GUEST_/HOST_INTR_SSP_TABLE) where it
 * has the field, so that they match struct vmcs12's member names (lowercased; the two
 * exceptions are mapped in lib/kvm/vmx.c); fields KVM does not name are from SDM Appendix B
 * (Dec 2023 edition) and spelled in the same style.
 */
#include <strings.h>

#include "internal.h"

#define RESERVED_BITS 0xffff9000u /* 31:15 and 12 */

static const struct vmcs_field_def {
	uint16_t enc;
	const char *name;
} fields[] = {
	/* 16-bit control (B.1.1) */
	{ 0x0000, "VIRTUAL_PROCESSOR_ID" },
	{ 0x0002, "POSTED_INTR_NV" },
	{ 0x0004, "EPTP_INDEX" },		/* SDM */
	{ 0x0006, "HLAT_PREFIX_SIZE" },		/* SDM */
	{ 0x0008, "LAST_PID_POINTER_INDEX" },
	/* 16-bit guest state (B.1.2) */
	{ 0x0800, "GUEST_ES_SELECTOR" },
	{ 0x0802, "GUEST_CS_SELECTOR" },
	{ 0x0804, "GUEST_SS_SELECTOR" },
	{ 0x0806, "GUEST_DS_SELECTOR" },
	{ 0x0808, "GUEST_FS_SELECTOR" },
	{ 0x080a, "GUEST_GS_SELECTOR" },
	{ 0x080c, "GUEST_LDTR_SELECTOR" },
	{ 0x080e, "GUEST_TR_SELECTOR" },
	{ 0x0810, "GUEST_INTR_STATUS" },
	{ 0x0812, "GUEST_PML_INDEX" },
	{ 0x0814, "GUEST_UINV" },		/* SDM */
	/* 16-bit host state (B.1.3) */
	{ 0x0c00, "HOST_ES_SELECTOR" },
	{ 0x0c02, "HOST_CS_SELECTOR" },
	{ 0x0c04, "HOST_SS_SELECTOR" },
	{ 0x0c06, "HOST_DS_SELECTOR" },
	{ 0x0c08, "HOST_FS_SELECTOR" },
	{ 0x0c0a, "HOST_GS_SELECTOR" },
	{ 0x0c0c, "HOST_TR_SELECTOR" },
	/* 64-bit control (B.2.1) */
	{ 0x2000, "IO_BITMAP_A" },
	{ 0x2002, "IO_BITMAP_B" },
	{ 0x2004, "MSR_BITMAP" },
	{ 0x2006, "VM_EXIT_MSR_STORE_ADDR" },
	{ 0x2008, "VM_EXIT_MSR_LOAD_ADDR" },
	{ 0x200a, "VM_ENTRY_MSR_LOAD_ADDR" },
	{ 0x200c, "EXECUTIVE_VMCS_POINTER" },	/* SDM */
	{ 0x200e, "PML_ADDRESS" },
	{ 0x2010, "TSC_OFFSET" },
	{ 0x2012, "VIRTUAL_APIC_PAGE_ADDR" },
	{ 0x2014, "APIC_ACCESS_ADDR" },
	{ 0x2016, "POSTED_INTR_DESC_ADDR" },
	{ 0x2018, "VM_FUNCTION_CONTROL" },
	{ 0x201a, "EPT_POINTER" },
	{ 0x201c, "EOI_EXIT_BITMAP0" },
	{ 0x201e, "EOI_EXIT_BITMAP1" },
	{ 0x2020, "EOI_EXIT_BITMAP2" },
	{ 0x2022, "EOI_EXIT_BITMAP3" },
	{ 0x2024, "EPTP_LIST_ADDRESS" },
	{ 0x2026, "VMREAD_BITMAP" },
	{ 0x2028, "VMWRITE_BITMAP" },
	{ 0x202a, "VE_INFORMATION_ADDRESS" },
	{ 0x202c, "XSS_EXIT_BITMAP" },
	{ 0x202e, "ENCLS_EXITING_BITMAP" },
	{ 0x2030, "SPP_TABLE_POINTER" },	/* SDM: sub-page-permission-table pointer */
	{ 0x2032, "TSC_MULTIPLIER" },
	{ 0x2034, "TERTIARY_VM_EXEC_CONTROL" },
	{ 0x2036, "ENCLV_EXITING_BITMAP" },	/* SDM */
	{ 0x2038, "LOW_PASID_DIRECTORY_ADDRESS" },  /* SDM */
	{ 0x203a, "HIGH_PASID_DIRECTORY_ADDRESS" }, /* SDM */
	{ 0x203c, "SHARED_EPT_POINTER" },	/* SDM */
	{ 0x203e, "PCONFIG_EXITING_BITMAP" },	/* SDM */
	{ 0x2040, "HLAT_POINTER" },		/* SDM */
	{ 0x2042, "PID_POINTER_TABLE" },
	{ 0x2044, "SECONDARY_VM_EXIT_CONTROLS" }, /* SDM */
	{ 0x204a, "IA32_SPEC_CTRL_MASK" },	/* SDM */
	{ 0x204c, "IA32_SPEC_CTRL_SHADOW" },	/* SDM */
	/* 64-bit read-only data (B.2.2) */
	{ 0x2400, "GUEST_PHYSICAL_ADDRESS" },
	/* 64-bit guest state (B.2.3) */
	{ 0x2800, "VMCS_LINK_POINTER" },
	{ 0x2802, "GUEST_IA32_DEBUGCTL" },
	{ 0x2804, "GUEST_IA32_PAT" },
	{ 0x2806, "GUEST_IA32_EFER" },
	{ 0x2808, "GUEST_IA32_PERF_GLOBAL_CTRL" },
	{ 0x280a, "GUEST_PDPTR0" },
	{ 0x280c, "GUEST_PDPTR1" },
	{ 0x280e, "GUEST_PDPTR2" },
	{ 0x2810, "GUEST_PDPTR3" },
	{ 0x2812, "GUEST_BNDCFGS" },
	{ 0x2814, "GUEST_IA32_RTIT_CTL" },
	{ 0x2816, "GUEST_IA32_LBR_CTL" },	/* SDM */
	{ 0x2818, "GUEST_IA32_PKRS" },		/* SDM */
	/* 64-bit host state (B.2.4) */
	{ 0x2c00, "HOST_IA32_PAT" },
	{ 0x2c02, "HOST_IA32_EFER" },
	{ 0x2c04, "HOST_IA32_PERF_GLOBAL_CTRL" },
	{ 0x2c06, "HOST_IA32_PKRS" },		/* SDM */
	/* 32-bit control (B.3.1) */
	{ 0x4000, "PIN_BASED_VM_EXEC_CONTROL" },
	{ 0x4002, "CPU_BASED_VM_EXEC_CONTROL" },
	{ 0x4004, "EXCEPTION_BITMAP" },
	{ 0x4006, "PAGE_FAULT_ERROR_CODE_MASK" },
	{ 0x4008, "PAGE_FAULT_ERROR_CODE_MATCH" },
	{ 0x400a, "CR3_TARGET_COUNT" },
	{ 0x400c, "VM_EXIT_CONTROLS" },
	{ 0x400e, "VM_EXIT_MSR_STORE_COUNT" },
	{ 0x4010, "VM_EXIT_MSR_LOAD_COUNT" },
	{ 0x4012, "VM_ENTRY_CONTROLS" },
	{ 0x4014, "VM_ENTRY_MSR_LOAD_COUNT" },
	{ 0x4016, "VM_ENTRY_INTR_INFO_FIELD" },
	{ 0x4018, "VM_ENTRY_EXCEPTION_ERROR_CODE" },
	{ 0x401a, "VM_ENTRY_INSTRUCTION_LEN" },
	{ 0x401c, "TPR_THRESHOLD" },
	{ 0x401e, "SECONDARY_VM_EXEC_CONTROL" },
	{ 0x4020, "PLE_GAP" },
	{ 0x4022, "PLE_WINDOW" },
	{ 0x4024, "NOTIFY_WINDOW" },
	/* 32-bit read-only data (B.3.2) */
	{ 0x4400, "VM_INSTRUCTION_ERROR" },
	{ 0x4402, "VM_EXIT_REASON" },
	{ 0x4404, "VM_EXIT_INTR_INFO" },
	{ 0x4406, "VM_EXIT_INTR_ERROR_CODE" },
	{ 0x4408, "IDT_VECTORING_INFO_FIELD" },
	{ 0x440a, "IDT_VECTORING_ERROR_CODE" },
	{ 0x440c, "VM_EXIT_INSTRUCTION_LEN" },
	{ 0x440e, "VMX_INSTRUCTION_INFO" },
	/* 32-bit guest state (B.3.3) */
	{ 0x4800, "GUEST_ES_LIMIT" },
	{ 0x4802, "GUEST_CS_LIMIT" },
	{ 0x4804, "GUEST_SS_LIMIT" },
	{ 0x4806, "GUEST_DS_LIMIT" },
	{ 0x4808, "GUEST_FS_LIMIT" },
	{ 0x480a, "GUEST_GS_LIMIT" },
	{ 0x480c, "GUEST_LDTR_LIMIT" },
	{ 0x480e, "GUEST_TR_LIMIT" },
	{ 0x4810, "GUEST_GDTR_LIMIT" },
	{ 0x4812, "GUEST_IDTR_LIMIT" },
	{ 0x4814, "GUEST_ES_AR_BYTES" },
	{ 0x4816, "GUEST_CS_AR_BYTES" },
	{ 0x4818, "GUEST_SS_AR_BYTES" },
	{ 0x481a, "GUEST_DS_AR_BYTES" },
	{ 0x481c, "GUEST_FS_AR_BYTES" },
	{ 0x481e, "GUEST_GS_AR_BYTES" },
	{ 0x4820, "GUEST_LDTR_AR_BYTES" },
	{ 0x4822, "GUEST_TR_AR_BYTES" },
	{ 0x4824, "GUEST_INTERRUPTIBILITY_INFO" },
	{ 0x4826, "GUEST_ACTIVITY_STATE" },
	{ 0x4828, "GUEST_SMBASE" },		/* SDM */
	{ 0x482a, "GUEST_SYSENTER_CS" },
	{ 0x482e, "VMX_PREEMPTION_TIMER_VALUE" },
	/* 32-bit host state (B.3.4) */
	{ 0x4c00, "HOST_IA32_SYSENTER_CS" },
	/* natural-width control (B.4.1) */
	{ 0x6000, "CR0_GUEST_HOST_MASK" },
	{ 0x6002, "CR4_GUEST_HOST_MASK" },
	{ 0x6004, "CR0_READ_SHADOW" },
	{ 0x6006, "CR4_READ_SHADOW" },
	{ 0x6008, "CR3_TARGET_VALUE0" },
	{ 0x600a, "CR3_TARGET_VALUE1" },
	{ 0x600c, "CR3_TARGET_VALUE2" },
	{ 0x600e, "CR3_TARGET_VALUE3" },
	/* natural-width read-only data (B.4.2) */
	{ 0x6400, "EXIT_QUALIFICATION" },
	{ 0x6402, "IO_RCX" },			/* SDM */
	{ 0x6404, "IO_RSI" },			/* SDM */
	{ 0x6406, "IO_RDI" },			/* SDM */
	{ 0x6408, "IO_RIP" },			/* SDM */
	{ 0x640a, "GUEST_LINEAR_ADDRESS" },
	/* natural-width guest state (B.4.3) */
	{ 0x6800, "GUEST_CR0" },
	{ 0x6802, "GUEST_CR3" },
	{ 0x6804, "GUEST_CR4" },
	{ 0x6806, "GUEST_ES_BASE" },
	{ 0x6808, "GUEST_CS_BASE" },
	{ 0x680a, "GUEST_SS_BASE" },
	{ 0x680c, "GUEST_DS_BASE" },
	{ 0x680e, "GUEST_FS_BASE" },
	{ 0x6810, "GUEST_GS_BASE" },
	{ 0x6812, "GUEST_LDTR_BASE" },
	{ 0x6814, "GUEST_TR_BASE" },
	{ 0x6816, "GUEST_GDTR_BASE" },
	{ 0x6818, "GUEST_IDTR_BASE" },
	{ 0x681a, "GUEST_DR7" },
	{ 0x681c, "GUEST_RSP" },
	{ 0x681e, "GUEST_RIP" },
	{ 0x6820, "GUEST_RFLAGS" },
	{ 0x6822, "GUEST_PENDING_DBG_EXCEPTIONS" },
	{ 0x6824, "GUEST_SYSENTER_ESP" },
	{ 0x6826, "GUEST_SYSENTER_EIP" },
	{ 0x6828, "GUEST_S_CET" },		/* SDM */
	{ 0x682a, "GUEST_SSP" },		/* SDM */
	{ 0x682c, "GUEST_INTR_SSP_TABLE" },	/* as Debian 7.2's enum vmcs_field */
	/* natural-width host state (B.4.4) */
	{ 0x6c00, "HOST_CR0" },
	{ 0x6c02, "HOST_CR3" },
	{ 0x6c04, "HOST_CR4" },
	{ 0x6c06, "HOST_FS_BASE" },
	{ 0x6c08, "HOST_GS_BASE" },
	{ 0x6c0a, "HOST_TR_BASE" },
	{ 0x6c0c, "HOST_GDTR_BASE" },
	{ 0x6c0e, "HOST_IDTR_BASE" },
	{ 0x6c10, "HOST_IA32_SYSENTER_ESP" },
	{ 0x6c12, "HOST_IA32_SYSENTER_EIP" },
	{ 0x6c14, "HOST_RSP" },
	{ 0x6c16, "HOST_RIP" },
	{ 0x6c18, "HOST_S_CET" },		/* SDM */
	{ 0x6c1a, "HOST_SSP" },			/* SDM */
	{ 0x6c1c, "HOST_INTR_SSP_TABLE" },	/* as Debian 7.2's enum vmcs_field */
};

static const char *const type_names[] = { "control", "exit_info", "guest", "host" };
static const char *const width_names[] = { "16", "64", "32", "natural" };

KVMDCI_EXPORT const char *kvmdci_vmcs_type_name(enum kvmdci_vmcs_type type)
{
	return type >= 0 && type < 4 ? type_names[type] : NULL;
}

KVMDCI_EXPORT const char *kvmdci_vmcs_width_name(enum kvmdci_vmcs_width width)
{
	return width >= 0 && width < 4 ? width_names[width] : NULL;
}

static const struct vmcs_field_def *find_enc(uint32_t enc)
{
	size_t lo = 0, hi = ARRAY_SIZE(fields);

	while (lo < hi) { /* the table is sorted by encoding */
		size_t mid = (lo + hi) / 2;
		if (fields[mid].enc == enc)
			return &fields[mid];
		if (fields[mid].enc < enc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Name of a high-half access: "IO_BITMAP_A_HIGH", built once per field. */
static const char *high_name(size_t i)
{
	static char names[ARRAY_SIZE(fields)][48];

	if (!names[i][0])
		snprintf(names[i], sizeof(names[i]), "%s_HIGH", fields[i].name);
	return names[i];
}

static void components(uint32_t enc, struct kvmdci_vmcs_field *out)
{
	memset(out, 0, sizeof(*out));
	out->encoding = enc;
	out->high = enc & 1;
	out->index = (enc >> 1) & 0x1ff;
	out->type = (enc >> 10) & 3;
	out->width = (enc >> 13) & 3;
}

KVMDCI_EXPORT int kvmdci_vmcs_field_decode(uint32_t encoding, struct kvmdci_vmcs_field *out)
{
	struct kvmdci_vmcs_field f;

	components(encoding, &f);
	/* reserved bits, and a high-half access to a field that is not 64-bit */
	if ((encoding & RESERVED_BITS) || (f.high && f.width != KVMDCI_VMCS_WIDTH_64)) {
		*out = f;
		return -EINVAL;
	}
	const struct vmcs_field_def *d = find_enc(encoding & ~1u);
	if (d)
		f.name = f.high ? high_name((size_t)(d - fields)) : d->name;
	*out = f;
	return d ? 0 : -ENOENT;
}

KVMDCI_EXPORT int kvmdci_vmcs_field_lookup(const char *name, uint32_t *encoding)
{
	size_t n = strlen(name);
	bool high = n > 5 && !strcasecmp(name + n - 5, "_HIGH");

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *f = fields[i].name;
		size_t fl = strlen(f);
		if (!strcasecmp(f, name)) {
			*encoding = fields[i].enc;
			return 0;
		}
		if (high && fl == n - 5 && !strncasecmp(f, name, fl) &&
		    ((fields[i].enc >> 13) & 3) == KVMDCI_VMCS_WIDTH_64) {
			*encoding = fields[i].enc | 1u;
			return 0;
		}
	}
	return -ENOENT;
}

KVMDCI_EXPORT int kvmdci_vmcs_field_count(void)
{
	return (int)ARRAY_SIZE(fields);
}

KVMDCI_EXPORT int kvmdci_vmcs_field_at(int i, struct kvmdci_vmcs_field *out)
{
	if (i < 0 || i >= (int)ARRAY_SIZE(fields))
		return -ERANGE;
	components(fields[i].enc, out);
	out->name = fields[i].name;
	return 0;
}
