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
#define NESTED_L1_RSP		0x9000
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
	.globl nested_code, nested_code_end, nested_svm_l1, nested_vmx_l1, nested_vmx_table
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

/* ---- Intel VMX -------------------------------------------------------------------------- */
#define MSR_FEATURE_CONTROL	0x3a
#define MSR_VMX_BASIC		0x480
#define MSR_VMX_PINBASED	0x481
#define MSR_VMX_PROCBASED	0x482
#define MSR_VMX_EXIT		0x483
#define MSR_VMX_ENTRY		0x484
#define MSR_VMX_CR0_FIXED0	0x486
#define MSR_VMX_CR4_FIXED0	0x488
#define PROC_USE_IO_BITMAPS	(1 << 25)
#define VMX_EXIT_IO		30
#define VMX_EXIT_VMCALL		18
#define VMCS_GUEST_RIP		0x681e
#define VMCS_EXIT_REASON	0x4402
#define VMCS_EXIT_INSN_LEN	0x440c
#define VMCS_INSN_ERROR		0x4400
#define NESTED_VMX_PTRS		0x0600	/* u64 VMXON region address, u64 VMCS address */
#define VMX_STEP(n)		movl $(n), %ecx; jbe vmx_fail

nested_vmx_l1:
	cld
	/* IA32_FEATURE_CONTROL: lock it with VMXON outside SMX, unless already locked */
	movl	$MSR_FEATURE_CONTROL, %ecx
	rdmsr
	testl	$1, %eax
	jnz	1f
	orl	$5, %eax
	wrmsr
	jmp	2f
1:	testl	$4, %eax
	jnz	2f
	movl	$NESTED_FAIL_NOVMX, %eax
	xorl	%ecx, %ecx
	jmp	fail
2:	/* CR0 and CR4 as VMX operation needs them: (cr | FIXED0) & FIXED1; this sets CR4.VMXE */
	movl	$MSR_VMX_CR0_FIXED0, %ecx
	rdmsr
	movl	%eax, %ebx
	incl	%ecx
	rdmsr
	movl	%cr0, %edx
	orl	%ebx, %edx
	andl	%eax, %edx
	movl	%edx, %cr0
	movl	$MSR_VMX_CR4_FIXED0, %ecx
	rdmsr
	movl	%eax, %ebx
	incl	%ecx
	rdmsr
	movl	%cr4, %edx
	orl	%ebx, %edx
	andl	%eax, %edx
	movl	%edx, %cr4
	/* VMCS and VMXON region zeroed, with the revision id of IA32_VMX_BASIC bits 30:0 */
	movl	$NESTED_VMCB, %edi
	xorl	%eax, %eax
	movl	$2048, %ecx
	rep stosl
	movl	$MSR_VMX_BASIC, %ecx
	rdmsr
	andl	$0x7fffffff, %eax
	movl	%eax, NESTED_VMCB
	movl	%eax, NESTED_HSAVE
	/* I/O bitmaps A (ports 0-0x7fff) and B: every port exits to L1 but the park port */
	movl	$NESTED_IOPM, %edi
	movl	$-1, %eax
	movl	$2048, %ecx
	rep stosl
	movl	$NESTED_PORT_PARK, %eax
	btrl	%eax, NESTED_IOPM
	movl	$NESTED_HSAVE, NESTED_VMX_PTRS
	movl	$0, NESTED_VMX_PTRS + 4
	movl	$NESTED_VMCB, NESTED_VMX_PTRS + 8
	movl	$0, NESTED_VMX_PTRS + 12
	vmxon	NESTED_VMX_PTRS
	VMX_STEP(1)
	vmclear	NESTED_VMX_PTRS + 8
	VMX_STEP(2)
	vmptrld	NESTED_VMX_PTRS + 8
	VMX_STEP(3)
	/* the values only known now go into the table: controls from the capability MSRs
	 * (their allowed-0 bits, plus I/O bitmaps where allowed), control registers, stack */
	movl	$MSR_VMX_PINBASED, %ecx
	rdmsr
	andl	%edx, %eax
	movl	%eax, ABS(t_pin) + 4
	movl	$MSR_VMX_PROCBASED, %ecx
	rdmsr
	orl	$PROC_USE_IO_BITMAPS, %eax
	andl	%edx, %eax
	movl	%eax, ABS(t_proc) + 4
	movl	$MSR_VMX_EXIT, %ecx
	rdmsr
	andl	%edx, %eax
	movl	%eax, ABS(t_exit) + 4
	movl	$MSR_VMX_ENTRY, %ecx
	rdmsr
	andl	%edx, %eax
	movl	%eax, ABS(t_entry) + 4
	movl	%cr0, %eax
	movl	%eax, ABS(t_hcr0) + 4
	movl	%eax, ABS(t_gcr0) + 4
	movl	%cr3, %eax
	movl	%eax, ABS(t_hcr3) + 4
	movl	%eax, ABS(t_gcr3) + 4
	movl	%cr4, %eax
	movl	%eax, ABS(t_hcr4) + 4
	movl	%eax, ABS(t_gcr4) + 4
	movl	%esp, ABS(t_hrsp) + 4
	/* VMWRITE every (encoding, value) of the table */
	movl	$ABS(nested_vmx_table), %ebx
3:	movl	(%ebx), %edx
	cmpl	$-1, %edx
	je	4f
	movl	4(%ebx), %eax
	vmwrite	%eax, %edx
	jbe	9f
	addl	$8, %ebx
	jmp	3b
9:	movl	%edx, %edi			/* the field that failed */
	movl	$4, %ecx
	jmp	vmx_fail
4:	movl	$NESTED_VMCB, %eax
	movw	$NESTED_PORT_SETUP, %dx
	outl	%eax, %dx
	xorl	%esi, %esi				/* rounds done */
	vmlaunch
	movl	$5, %ecx
	jmp	vmx_fail

/* VM exit from L2 (host RIP): L2's registers but RSP and RIP are still in the registers. */
vmx_exit:
	movl	$VMCS_EXIT_REASON, %edx
	vmread	%edx, %eax
	testl	$0x80000000, %eax			/* VM-entry failure */
	jnz	5f
	andl	$0xffff, %eax
	movw	$NESTED_PORT_EXIT, %dx
	outl	%eax, %dx
	cmpl	$VMX_EXIT_IO, %eax
	je	6f
	cmpl	$VMX_EXIT_VMCALL, %eax
	je	7f
5:	movl	%eax, %ecx
	movl	$NESTED_FAIL_EXIT, %eax
	jmp	fail
6:	call	vmx_skip
	jmp	8f
7:	call	vmx_skip
	incl	%esi
	cmpl	NESTED_ROUNDS_ADDR, %esi
	jb	8f
	movl	$ABS(l2_park), %eax
	movl	$VMCS_GUEST_RIP, %edx
	vmwrite	%eax, %edx
8:	vmresume
	movl	$6, %ecx
	jmp	vmx_fail

/* Guest RIP += the exiting instruction's length. */
vmx_skip:
	movl	$VMCS_GUEST_RIP, %edx
	vmread	%edx, %eax
	movl	$VMCS_EXIT_INSN_LEN, %edx
	vmread	%edx, %ecx
	addl	%ecx, %eax
	movl	$VMCS_GUEST_RIP, %edx
	vmwrite	%eax, %edx
	ret

/* A VMX instruction failed: ecx = step << 16 | VM-instruction error (edi: the field). */
vmx_fail:
	shll	$16, %ecx
	movl	$VMCS_INSN_ERROR, %edx
	xorl	%eax, %eax
	vmread	%edx, %eax
	andl	$0xffff, %eax
	orl	%eax, %ecx
	movl	$NESTED_FAIL_VMX, %eax
	jmp	fail

l2_vmx:
	movw	$NESTED_PORT_L2, %dx
	movb	$NESTED_L2_BYTE, %al
	outb	%al, %dx
	vmcall
	jmp	l2_vmx

/*
 * What L1 writes into its VMCS: (encoding, value) pairs, ended by encoding -1 (SDM vol. 3C
 * appendix B for the encodings). The VMM reads this table from guest memory after L1 has
 * filled in the entries marked "set at run time": it is the ground truth of the vmcs12.
 * 64-bit fields take two writes (full, then high: encoding + 1), as in 32-bit mode.
 */
	.balign	8
nested_vmx_table:
t_pin:	.long	0x4000, 0		/* pin-based controls, set at run time */
t_proc:	.long	0x4002, 0		/* primary processor-based controls, set at run time */
t_exit:	.long	0x400c, 0		/* VM-exit controls, set at run time */
t_entry: .long	0x4012, 0		/* VM-entry controls, set at run time */
	.long	0x4004, 0		/* exception bitmap */
	.long	0x4006, 0, 0x4008, 0	/* page-fault error-code mask, match */
	.long	0x400a, 0		/* CR3-target count */
	.long	0x400e, 0, 0x4010, 0, 0x4014, 0	/* MSR store/load counts */
	.long	0x4016, 0		/* VM-entry interruption information */
	.long	0x2000, NESTED_IOPM, 0x2001, 0		/* I/O bitmap A */
	.long	0x2002, NESTED_IOPM + 0x1000, 0x2003, 0	/* I/O bitmap B */
	.long	0x2800, -1, 0x2801, -1	/* VMCS link pointer */
	.long	0x2802, 0, 0x2803, 0	/* guest IA32_DEBUGCTL */
	.long	0x6000, 0, 0x6002, 0, 0x6004, 0, 0x6006, 0	/* CR0/CR4 masks, shadows */
t_hcr0:	.long	0x6c00, 0		/* host CR0, CR3, CR4: set at run time */
t_hcr3:	.long	0x6c02, 0
t_hcr4:	.long	0x6c04, 0
	.long	0x0c00, 0x10, 0x0c02, 0x08, 0x0c04, 0x10, 0x0c06, 0x10	/* host ES CS SS DS */
	.long	0x0c08, 0x10, 0x0c0a, 0x10, 0x0c0c, 0x18		/* host FS GS TR */
	.long	0x6c06, 0, 0x6c08, 0, 0x6c0a, 0, 0x6c0c, 0, 0x6c0e, 0	/* host bases */
	.long	0x4c00, 0, 0x6c10, 0, 0x6c12, 0		/* host SYSENTER CS, ESP, EIP */
t_hrsp:	.long	0x6c14, 0		/* host RSP: set at run time */
	.long	0x6c16, ABS(vmx_exit)	/* host RIP */
t_gcr0:	.long	0x6800, 0		/* guest CR0, CR3, CR4: set at run time */
t_gcr3:	.long	0x6802, 0
t_gcr4:	.long	0x6804, 0
	.long	0x681a, 0x400		/* guest DR7 */
	.long	0x681c, NESTED_L2_RSP	/* guest RSP */
	.long	0x681e, ABS(l2_vmx)	/* guest RIP */
	.long	0x6820, 0x2		/* guest RFLAGS */
	/* guest selectors ES CS SS DS FS GS LDTR TR */
	.long	0x0800, 0x10, 0x0802, 0x08, 0x0804, 0x10, 0x0806, 0x10
	.long	0x0808, 0x10, 0x080a, 0x10, 0x080c, 0, 0x080e, 0x18
	/* guest bases */
	.long	0x6806, 0, 0x6808, 0, 0x680a, 0, 0x680c, 0, 0x680e, 0, 0x6810, 0, 0x6812, 0
	.long	0x6814, 0
	/* guest limits */
	.long	0x4800, -1, 0x4802, -1, 0x4804, -1, 0x4806, -1, 0x4808, -1, 0x480a, -1
	.long	0x480c, 0, 0x480e, 0x67
	/* guest access rights: flat 32-bit data and code, LDTR unusable, TR busy 32-bit TSS */
	.long	0x4814, 0xc093, 0x4816, 0xc09b, 0x4818, 0xc093, 0x481a, 0xc093
	.long	0x481c, 0xc093, 0x481e, 0xc093, 0x4820, 0x10000, 0x4822, 0x8b
	.long	0x4810, 0, 0x4812, 0, 0x6816, 0, 0x6818, 0	/* guest GDTR, IDTR */
	.long	0x4824, 0, 0x4826, 0	/* interruptibility, activity state */
	.long	0x482a, 0, 0x6822, 0, 0x6824, 0, 0x6826, 0 /* SYSENTER CS, pending debug, ESP, EIP */
	.long	-1, 0

nested_code_end:

	.section .note.GNU-stack, "", @progbits
