/* idle.S - a guest that halts its CPU forever: an "idle" VM of a few bytes.
 * A multiboot kernel for direct kernel boot (QEMU -kernel / libvirt <kernel>). */
	.section .text
	.globl _start
	.align 4
multiboot_header:
	.long 0x1BADB002                /* magic */
	.long 0                         /* flags */
	.long -(0x1BADB002 + 0)         /* checksum */
_start:
	cli
1:	hlt
	jmp 1b
