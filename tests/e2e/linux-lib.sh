# tests/e2e/linux-lib.sh - the lab's real Linux guest (contrib/lab/guests/
# linux) in end-to-end tests. Sourced after vem-lib.sh and lab_up.
#
#   linux_guest_need FILE...  skip the script unless the guest is built and
#                             its initramfs holds each FILE (usr/sbin/qemu-ga:
#                             the guest agent; udhcpc.script: DHCP + HTTP)
#   linux_template [CMDLINE] [NETWORKS]
#                             a template 'linux' (128 MiB, TCG, the guest's
#                             kernel and initrd) for write_cluster's stdin

LG=$GUESTS/linux

linux_guest_need() {
	local f
	[ -f "$LG/vmlinuz" ] && [ -f "$LG/initrd.img" ] ||
		skip_all "the lab's Linux guest is not built ($LG; contrib/lab/guests/linux/build needs apt-get download of a Debian kernel)"
	for f in "$@"; do
		gzip -dc "$LG/initrd.img" | cpio -t --quiet 2>/dev/null | grep -qx "$f" ||
			skip_all "the lab's Linux guest has no $f (rebuild it: contrib/lab/guests/linux/build, packages of contrib/install-deps.sh)"
	done
}

linux_template() {
	cat <<YAML
  - name: linux
    hypervisor: qemu
    vcpus: 1
    memory: 128MiB
    kernel: $LG/vmlinuz
    initrd: $LG/initrd.img
YAML
	[ -z "${1:-}" ] || echo "    cmdline: $1"
	[ -z "${2:-}" ] || echo "    networks: $2"
}
