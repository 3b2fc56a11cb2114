/* SPDX-License-Identifier: MIT */
/*
 * Real-mode (16-bit) guest code of the lab workload.
 *
 * Assembled into the workload's .rodata and copied by the VMM to GUEST_LOAD in every VM's
 * memory slot. All absolute addresses are written as (label - guest_code + GUEST_LOAD), so the
 * object needs no relocation. Keep the constants below in step with workload.c.
 *
 * Registers set by the VMM at entry:
 *   bx = vCPU id, di = 1 on the BSP (vCPU 0: initialises PIC/PIT and halts), 0 on APs,
 *   ss:sp = per-vCPU stack, cs = ds = 0, es = 0xa000 (the MMIO window at 0xa0000).
 *
 * One loop iteration (in this order):
 *   out  0x700 (byte)         PIO ioeventfd, handled in the kernel
 *   out  0x704 (word 0x1234)  PIO ioeventfd with datamatch, handled in the kernel
 *   mov  [0xa0000], dword     MMIO ioeventfd (len 4), handled in the kernel
 *   mov  [0xa1000 + id], word coalesced MMIO zone, handled in the kernel
 *   mov  [0xa2000], word      unmapped MMIO: exit to user space (KVM_EXIT_MMIO)
 *   BSP only, every 16th iteration: sti; hlt (woken by the periodic PIT, IRQ0 -> vector 8);
 *   the VMM sets GUEST_HLT_BASE to the iteration count at the start of the window, so that a
 *   window of N iterations has exactly N / 16 hlts (rounded down)
 *   out  0x3f8 (byte)         exit to user space (KVM_EXIT_IO): ends the iteration
 * The 0x3f8 exit is the last instruction of an iteration, so a VMM that stops after the Nth
 * such exit has run exactly N whole iterations.
 */

#define GUEST_LOAD	0x1000
#define GUEST_IRQ_COUNT	0x0500		/* 32-bit count of IRQ0 handler runs */
#define GUEST_HLT_BASE	0x0504		/* BSP halts when (si - this) % 16 == 0 */
#define PORT_DONE	0x3f8
#define PORT_INIT	0x3f9
#define PORT_IOEVENT	0x700
#define PORT_IOEVENT_DM	0x704
#define DATAMATCH	0x1234
#define PIT_DIVISOR	1193		/* 1193182 Hz / 1193 = ~1000 Hz */
#define ABS(label)	((label) - guest_code + GUEST_LOAD)

	.section .rodata.kvmdci_guest, "a"
	.globl guest_code, guest_code_end, guest_entry_bsp, guest_entry_ap, guest_spin
	.code16

guest_code:
guest_entry_bsp:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	$ABS(irq0_handler), 8 * 4	/* IVT vector 8: offset */
	movw	$0, 8 * 4 + 2			/* segment 0 */
	movl	$0, GUEST_IRQ_COUNT

	/* master PIC: ICW1 edge + ICW4, ICW2 base 0x08, ICW3 slave on IR2, ICW4 8086 */
	movb	$0x11, %al
	outb	%al, $0x20
	movb	$0x08, %al
	outb	%al, $0x21
	movb	$0x04, %al
	outb	%al, $0x21
	movb	$0x01, %al
	outb	%al, $0x21
	/* slave PIC: base 0x70, cascade identity 2, 8086 mode, all masked */
	movb	$0x11, %al
	outb	%al, $0xa0
	movb	$0x70, %al
	outb	%al, $0xa1
	movb	$0x02, %al
	outb	%al, $0xa1
	movb	$0x01, %al
	outb	%al, $0xa1
	movb	$0xff, %al
	outb	%al, $0xa1
	/* master mask: only IRQ0 (PIT) */
	movb	$0xfe, %al
	outb	%al, $0x21
	/* PIT channel 0: lobyte/hibyte, mode 2 (rate generator), periodic ~1 kHz */
	movb	$0x34, %al
	outb	%al, $0x43
	movb	$(PIT_DIVISOR & 0xff), %al
	outb	%al, $0x40
	movb	$(PIT_DIVISOR >> 8), %al
	outb	%al, $0x40
	jmp	common

guest_entry_ap:
	cli
common:
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	$0xa000, %ax
	movw	%ax, %es
	xorl	%esi, %esi			/* iteration counter */
	movw	$PORT_INIT, %dx
	outb	%al, %dx			/* set-up done: exit to user space */

loop:
	incw	%si
	movw	$PORT_IOEVENT, %dx
	movb	%bl, %al
	outb	%al, %dx
	movw	$PORT_IOEVENT_DM, %dx
	movw	$DATAMATCH, %ax
	outw	%ax, %dx
	movl	%esi, %es:0x0000		/* MMIO ioeventfd at 0xa0000, len 4 */
	movw	%si, %es:0x1000(%bx)		/* coalesced zone 0xa1000..0xa1fff */
	movw	%si, %es:0x2000			/* unmapped: KVM_EXIT_MMIO */
	testw	%di, %di
	jz	1f
	movw	%si, %ax
	subw	GUEST_HLT_BASE, %ax
	testw	$15, %ax
	jnz	1f
	sti
	hlt
	cli
1:
	movw	$PORT_DONE, %dx
	movb	%bl, %al
	outb	%al, %dx			/* iteration done: exit to user space */
	jmp	loop

/*
 * IRQ0 handler: count the interrupt, EOI to the master PIC, iret (IF set again from the saved
 * FLAGS). Do not return with IF clear: in the lab (QEMU TCG's SVM) an interrupt is sometimes
 * delivered inside the sti shadow, before the hlt; with IF clear that hlt would never wake.
 * With IF set it waits for the next periodic tick. A tick may also arrive between iret and the
 * cli after hlt, so the handler can run more than once per hlt: GUEST_IRQ_COUNT has the count
 * (each run is one more IO exit, the EOI).
 */
irq0_handler:
	pushw	%ax
	addw	$1, GUEST_IRQ_COUNT
	adcw	$0, GUEST_IRQ_COUNT + 2
	movb	$0x20, %al
	outb	%al, $0x20
	popw	%ax
	iret

/*
 * --spin: report set-up done, then loop with interrupts masked. The loop stays in the guest
 * for about SPIN_LOOPS iterations at a time, then makes one exit that KVM handles in the kernel
 * (the PIO ioeventfd) and goes on: a CPU that is stopped while it runs this is almost always in
 * VMX non-root / SVM guest mode, what the lab tests need to see the host's side of a CPU in a
 * guest. The exit is there for the host: a real CPU (and QEMU) leaves the guest for every host
 * interrupt (KVM sets external-interrupt exiting / intercepts INTR), but under Bochs 2.7 a
 * guest that never exits on its own was measured to make no exit at all (0 in 4 s), its CPU
 * then deaf to the host's timer and devices (the lab's serial console with it); with this
 * exit the host takes its pending interrupts at least every SPIN_LOOPS iterations (about 115
 * exits per second under Bochs; still too rare for a serial port's FIFO: keep the console's
 * interrupt on another CPU).
 */
#define SPIN_LOOPS	0x40000
guest_spin:
	cli
	movw	$PORT_INIT, %dx
	outb	%al, %dx
	movw	$PORT_IOEVENT, %dx
2:	movl	$SPIN_LOOPS, %ecx
1:	decl	%ecx
	jnz	1b
	outb	%al, %dx
	jmp	2b
guest_code_end:

	.section .note.GNU-stack, "", @progbits
