/* fill.S - a guest that writes a non-zero pattern over all its memory above
 * 2 MiB once, then halts its CPU forever. Its memory is not zero pages, so a
 * live migration has to copy all of it (an idle guest sends ~0.5 MiB): with a
 * bandwidth cap the copy lasts long enough to fail a host in the middle of it.
 * A multiboot kernel for direct kernel boot (QEMU -kernel / libvirt <kernel>);
 * the multiboot loader passes mem_upper (KiB above 1 MiB) at 8(%ebx). */
	.section .text
	.globl _start
	.align 4
multiboot_header:
	.long 0x1BADB002                /* magic */
	.long 0                         /* flags */
	.long -(0x1BADB002 + 0)         /* checksum */
_start:
	cli
	movl 8(%ebx), %ecx              /* mem_upper, KiB */
	shll $10, %ecx
	addl $0x100000, %ecx            /* end of memory */
	movl $0x200000, %edi
2:	cmpl %ecx, %edi
	jae 3f
	movl %edi, %eax
	orl $1, %eax                    /* never zero */
	movl %eax, (%edi)
	addl $4, %edi
	jmp 2b
3:	hlt
	jmp 3b
