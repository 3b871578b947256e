#!/usr/bin/env bash
# End-to-end: a real Linux guest that carries data is evacuated live with
# its disks. The lab's Linux guest (contrib/lab/guests/linux: Debian's
# kernel + a busybox-static initramfs) boots directly from kernel/initrd with
# disks [{image: base}, {size: 16MiB}] and a cloud-init seed on h1, reads its
# NoCloud seed, and writes "vem-counter N boot BOOT-ID instance ID" to its
# blank disk (/dev/vdb, 1 MiB in) every second, synced. `maintenance: true`
# on h1 moves it: it keeps running (libvirt's reason "migrated", the same
# kernel boot id), the counter read on the destination's disk is at least
# the last one read on the source and keeps increasing there, and h1 keeps
# no volume of it. The disks are read on the hosts with `qemu-img convert
# -U` in the host's mount namespace (nsenter -m).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/image-lib.sh"

T0=$(date +%s)
LG=$GUESTS/linux
lab_up
[ -f "$LG/vmlinuz" ] && [ -f "$LG/initrd.img" ] ||
	skip_all "the lab's Linux guest is not built ($LG; contrib/lab/guests/linux/build needs apt-get download of a Debian kernel)"
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
C=e2e$LAB_ID

cleanup() {
	clean_lab_domains
	image_cleanup "vem-$C-lin"
	rm -rf "$W"
}
trap cleanup EXIT
image_serve || exit 1
printf '#cloud-config\nruncmd: [echo from-user-data]\n' >"$W/user-data"

# lin_cluster [MAINT-HOST]: the guest, on h1 unless h1 is in maintenance
lin_cluster() {
	write_cluster "$F" <<YAML
  - name: linux
    hypervisor: qemu
    vcpus: 1
    memory: 128MiB
    kernel: $LG/vmlinuz
    initrd: $LG/initrd.img
    cmdline: console=ttyS0 quiet panic=-1 vem.data=/dev/vdb
$(image_yaml)
vms:
  - name: lin
    template: linux
    $([ -n "${1:-}" ] || echo "placement: {hosts: [h1]}")
    disks: [{image: base}, {size: 16MiB}]
    cloud-init: {user-data: $W/user-data}
YAML
	if [ -n "${1:-}" ]; then
		sed -i "/name: $1\$/,/labels/ s/^\\(    labels:.*\\)\$/\\1\\n    maintenance: true/" "$F"
	fi
}

host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

vols_on() {
	virsh_h "$1" vol-list default 2>/dev/null | awk '{print $1}' | grep "^vem-$C-lin" | sort
}

# record N: the guest's record on host N's copy of its blank disk
record() {
	local pid path
	pid=$(cat "/var/lib/vem-lab/$LAB_ID/h$1/libvirtd.pid") &&
	path=$(virsh_h "$1" vol-path --pool default "vem-$C-lin-disk1.qcow2") &&
	rm -f "$W/d.raw" &&
	nsenter -t "$pid" -m qemu-img convert -U -f qcow2 -O raw "$path" "$W/d.raw" &&
	dd if="$W/d.raw" bs=512 skip=2048 count=1 2>/dev/null | tr -d '\0' | sed -n 1p | sed 's/ *$//'
}
# counter N: the counter on host N's disk (0 before the first write)
counter() {
	local r
	r=$(record "$1") || return 1
	case $r in "vem-counter "*) set -- $r; echo "$2" ;; *) echo 0 ;; esac
}
boot_id() { record "$1" | awk '$1 == "vem-counter" {print $4}'; }

test_expect_success 'the Linux guest boots on h1 with its disks and seed' '
	lin_cluster
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(running_on 1)" = lin ] &&
	[ "$(vols_on 1 | wc -l)" = 3 ]
'

test_expect_success 'it read its NoCloud seed and writes an increasing counter on its blank disk' '
	start=$(date +%s)
	wait_for "[ \$(counter 1) -ge 2 ]" 60 || { echo "no counter after 60 s: $(record 1)"; exit 1; }
	echo "# first counter after $(( $(date +%s) - start )) s: $(record 1)"
	r=$(record 1); echo "$r"
	case $r in "vem-counter "*" boot "*" instance $C-lin") ;; *) exit 1 ;; esac
	a=$(counter 1); sleep 3; b=$(counter 1)
	echo "counter $a, 3 s later $b"; [ "$b" -gt "$a" ]
'

test_expect_success 'maintenance on h1 moves it live with its disks; nothing written is lost' '
	boot=$(boot_id 1); echo "boot id $boot"; [ -n "$boot" ] || exit 1
	lin_cluster h1
	before=$(counter 1)
	start=$(date +%s.%N)
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	end=$(date +%s.%N)
	cat "$W/out"; [ "$rc" = 0 ] &&
	echo "# maintenance apply took $(echo "$end - $start" | bc) s; counter before it $before" &&
	[ -z "$(vms_on 1)" ] && [ "$(count_vm lin)" = 1 ] &&
	h=$(host_of lin) && { [ "$h" = 2 ] || [ "$h" = 3 ]; } &&
	st=$(virsh_h $h domstate --reason lin) && echo "lin on h$h: $st" &&
	[ "$st" = "running (migrated)" ] &&
	after=$(counter $h) && echo "counter on h$h right after: $after" &&
	[ "$after" -ge "$before" ] &&
	[ "$(boot_id $h)" = "$boot" ] &&
	echo "$h" >"$W/dest" && echo "$boot" >"$W/boot"
'

test_expect_success 'the counter keeps increasing on the destination, same boot' '
	h=$(cat "$W/dest") && a=$(counter $h) &&
	wait_for "[ \$(counter $h) -ge $((a + 3)) ]" 20 &&
	echo "counter on h$h: $a, then $(record $h)" &&
	[ "$(boot_id $h)" = "$(cat "$W/boot")" ] &&
	record $h | grep -q " instance $C-lin\$"
'

test_expect_success 'h1 keeps no volume of it; the destination has all three' '
	h=$(cat "$W/dest") &&
	[ -z "$(vols_on 1)" ] &&
	vols_on $h >"$W/vols" && cat "$W/vols" &&
	[ "$(wc -l <"$W/vols")" = 3 ]
'

echo "# t0211 took $(( $(date +%s) - T0 )) s"
test_done
