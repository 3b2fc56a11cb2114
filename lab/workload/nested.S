/* SPDX-License-Identifier: MIT */
/*
 * Guest code of the workload's --nested mode: an L1 guest that is itself a tiny hypervisor and
 * runs an L2 guest, on AMD SVM (nested_svm_l1) or Intel VMX (nested_vmx_l1).
 *
 * The VMM copies this code to NESTED_LOAD and starts the chosen L1 entry in 32-bit protected
 * mode with paging on (one 4 MiB identity page: CR3 = NESTED_PD, CR4.PSE), flat segments
 * (CS 0x08, data 0x10), interrupts off. All absolute addresses are written as
 * (label - nested_code + NESTED_LOAD). Keep the constants below in step with workload.c.
 *
 * Protocol with the VMM (all 32-bit OUTs from L1, which exit to user space):
 *   out NESTED_PORT_SETUP, eax = guest-physical address of the vmcb12 / vmcs12: L1 has written
 *       every field it sets and is about to enter L2 for the first time;
 *   out NESTED_PORT_EXIT, eax = exit code (SVM) or basic exit reason (VMX) of each exit from
 *       L2 that L1 handled;
 *   out NESTED_PORT_FAIL, eax = what failed (NESTED_FAIL_*), with ecx the detail.
 * L2 loops: out NESTED_PORT_L2 (byte NESTED_L2_BYTE, intercepted by L1), then VMMCALL/VMCALL
 * (intercepted by L1). After NESTED_ROUNDS_ADDR such rounds, L1 resumes L2 at its park code:
 * an OUT to NESTED_PORT_PARK, which L1 does not intercept, so KVM itself handles it and exits
 * to the VMM while the vCPU is in guest mode (L2 active): the VMM parks the vCPU there.
 *
 * SVM (AMD APM vol. 2, section 15 and appendix B for the VMCB layout): EFER.SVME, the host
 * save area in VM_HSAVE_PA, a VMCB with intercepts (IOIO_PROT, HLT, SHUTDOWN, VMRUN,
 * VMMCALL), an I/O permission map with every port but NESTED_PORT_PARK intercepted, an empty
 * MSR permission map, ASID NESTED_ASID, L2's state (same flat paged mode as L1; its own stack
 * NESTED_L2_RSP). VMRUN; on #VMEXIT the exit code is at VMCB + 0x70.
 *
 * VMX (Intel SDM vol. 3C, chapters 24-26, appendix A and B): IA32_FEATURE_CONTROL locked with
 * VMXON outside SMX, CR4.VMXE, the VMXON region and the VMCS with the revision id of
 * IA32_VMX_BASIC, VMCLEAR, VMPTRLD, controls from the capability MSRs (allowed-0 bits set,
 * plus unconditional I/O exiting; no VMX-preemption timer), host and guest state, VMLAUNCH;
 * VMRESUME after each exit. L2 does OUT and VMCALL; VMCALL always exits.
 */

#define NESTED_LOAD		0x1000
#define NESTED_ROUNDS_ADDR	0x0500	/* u32, written by the VMM */
#define NESTED_PD		0x7000
#define NESTED_L1_RSP		0x8000
#define NESTED_L2_RSP		0x9ff0
#define NESTED_VMCB		0xa000	/* vmcb12 (SVM) or vmcs12 (VMX) */
#define NESTED_HSAVE		0xb000	/* host save area (SVM) or VMXON region (VMX) */
#define NESTED_IOPM		0xc000	/* 3 pages */
#define NESTED_MSRPM		0x10000	/* 2 pages; VMX: MSR bitmap (1 page) */
#define NESTED_PORT_SETUP	0x510
#define NESTED_PORT_EXIT	0x514
#define NESTED_PORT_FAIL	0x518
#define NESTED_PORT_L2		0x520
#define NESTED_PORT_PARK	0x524
#define NESTED_L2_BYTE		0x5a
/* an ASID unlike the ones KVM hands out itself (small, counting up from 1) */
#define NESTED_ASID		0x2b7
#define NESTED_FAIL_EXIT	1	/* an exit L1 does not expect; ecx = code */
#define NESTED_FAIL_VMX		2	/* a VMX instruction failed; ecx = step */
#define NESTED_FAIL_NOVMX	3	/* VMX not usable (feature control locked off) */

#define MSR_EFER		0xc0000080
#define EFER_SVME		0x1000
#define MSR_VM_HSAVE_PA		0xc0010117
#define SVM_EXIT_IOIO		0x7b
#define SVM_EXIT_VMMCALL	0x81
/* intercept word 3 (VMCB 0x0c): HLT 24, IOIO_PROT 27, SHUTDOWN 31; word 4 (0x10): VMRUN 0,
 * VMMCALL 1 */
#define SVM_INTERCEPT3		((1 << 24) | (1 << 27) | (1 << 31))
#define SVM_INTERCEPT4		((1 << 0) | (1 << 1))
#define SEG_CODE_ATTR		0xc9b	/* VMCB attrib: P, S, type 0xb, D/B, G */
#define SEG_DATA_ATTR		0xc93

#define ABS(label)	((label) - nested_code + NESTED_LOAD)

	.section .rodata.kvmdci_nested, "a"
	.globl nested_code, nested_code_end, nested_svm_l1, nested_vmx_l1
	.code32

nested_code:

/* ---- AMD SVM ---------------------------------------------------------------------------- */
nested_svm_l1:
	cld
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_SVME, %eax
	wrmsr
	movl	$MSR_VM_HSAVE_PA, %ecx
	movl	$NESTED_HSAVE, %eax
	xorl	%edx, %edx
	wrmsr
	/* VMCB: all zero, then the fields L1 sets */
	movl	$NESTED_VMCB, %edi
	xorl	%eax, %eax
	movl	$1024, %ecx
	rep stosl
	/* I/O permission map: every port intercepted but the park port */
	movl	$NESTED_IOPM, %edi
	movl	$-1, %eax
	movl	$3072, %ecx
	rep stosl
	movl	$NESTED_PORT_PARK, %eax
	btrl	%eax, NESTED_IOPM
	/* MSR permission map: nothing intercepted (MSR_PROT is off anyway) */
	movl	$NESTED_MSRPM, %edi
	xorl	%eax, %eax
	movl	$2048, %ecx
	rep stosl
	/* control area */
	movl	$SVM_INTERCEPT3, NESTED_VMCB + 0x0c
	movl	$SVM_INTERCEPT4, NESTED_VMCB + 0x10
	movl	$NESTED_IOPM, NESTED_VMCB + 0x40
	movl	$NESTED_MSRPM, NESTED_VMCB + 0x48
	movl	$NESTED_ASID, NESTED_VMCB + 0x58
	/* state save area (VMCB + 0x400); a segment: u16 selector, u16 attrib, u32 limit,
	 * u64 base */
	movl	$NESTED_VMCB + 0x400, %edi
	movl	$(SEG_DATA_ATTR << 16) | 0x10, 0x00(%edi)	/* es */
	movl	$-1, 0x04(%edi)
	movl	$(SEG_CODE_ATTR << 16) | 0x08, 0x10(%edi)	/* cs */
	movl	$-1, 0x14(%edi)
	movl	$(SEG_DATA_ATTR << 16) | 0x10, 0x20(%edi)	/* ss */
	movl	$-1, 0x24(%edi)
	movl	$(SEG_DATA_ATTR << 16) | 0x10, 0x30(%edi)	/* ds */
	movl	$-1, 0x34(%edi)
	movl	$EFER_SVME, 0xd0(%edi)				/* efer */
	movl	%cr4, %eax
	movl	%eax, 0x148(%edi)
	movl	%cr3, %eax
	movl	%eax, 0x150(%edi)
	movl	%cr0, %eax
	movl	%eax, 0x158(%edi)
	movl	$0x400, 0x160(%edi)				/* dr7 */
	movl	$0xffff0ff0, 0x168(%edi)			/* dr6 */
	movl	$0x2, 0x170(%edi)				/* rflags */
	movl	$ABS(l2_svm), 0x178(%edi)			/* rip */
	movl	$NESTED_L2_RSP, 0x1d8(%edi)			/* rsp */
	movl	$NESTED_VMCB, %eax
	movw	$NESTED_PORT_SETUP, %dx
	outl	%eax, %dx
	xorl	%esi, %esi					/* rounds done */
svm_run:
	movl	$NESTED_VMCB, %eax
	vmrun
	movl	NESTED_VMCB + 0x70, %eax			/* exit code */
	movw	$NESTED_PORT_EXIT, %dx
	outl	%eax, %dx
	cmpl	$SVM_EXIT_IOIO, %eax
	je	1f
	cmpl	$SVM_EXIT_VMMCALL, %eax
	je	2f
	movl	%eax, %ecx
	movl	$NESTED_FAIL_EXIT, %eax
	jmp	fail
1:	/* L2's OUT: resume at the next instruction (exit_info_2) */
	movl	NESTED_VMCB + 0x80, %eax
	movl	%eax, NESTED_VMCB + 0x578
	jmp	svm_run
2:	/* VMMCALL: 3 bytes */
	addl	$3, NESTED_VMCB + 0x578
	incl	%esi
	cmpl	NESTED_ROUNDS_ADDR, %esi
	jb	svm_run
	movl	$ABS(l2_park), NESTED_VMCB + 0x578
	jmp	svm_run

l2_svm:
	movw	$NESTED_PORT_L2, %dx
	movb	$NESTED_L2_BYTE, %al
	outb	%al, %dx
	vmmcall
	jmp	l2_svm

/* L2's last OUT, not intercepted by L1: KVM exits to the VMM with L2 active. */
l2_park:
	movw	$NESTED_PORT_PARK, %dx
	movb	$NESTED_L2_BYTE, %al
	outb	%al, %dx
	jmp	l2_park

/* Report a failure to the VMM: eax = NESTED_FAIL_*, ecx = detail. */
fail:
	movw	$NESTED_PORT_FAIL, %dx
	outl	%eax, %dx
	hlt
	jmp	fail

nested_vmx_l1:
	movl	$3, %eax
	movl	$0, %ecx
	jmp	fail

nested_code_end:

	.section .note.GNU-stack, "", @progbits
