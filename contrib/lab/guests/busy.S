/* busy.S - a guest that spins forever: keeps one host CPU at ~100%, which
 * makes its load measurable through the domain's cpu.time. */
	.section .text
	.globl _start
	.align 4
multiboot_header:
	.long 0x1BADB002                /* magic */
	.long 0                         /* flags */
	.long -(0x1BADB002 + 0)         /* checksum */
_start:
1:	jmp 1b
