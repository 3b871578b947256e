#!/usr/bin/env bash
# End-to-end: VMs whose disks sit in each host's own `default` dir pool move
# live with their storage. Two VMs with an overlay of an image, a blank disk
# and a cloud-init seed run on h1; `maintenance: true` on h1 moves both:
# the image is uploaded to the destination, the overlays and blank disks are
# copied by libvirt's non-shared incremental migration, the seed by vem; the
# guests keep running (libvirt's state reason on the destination is
# "migrated", not "booted"), the data written on the blank disk before the
# move is there after it, and h1 keeps no volume of theirs. A move that
# cannot succeed leaves the VM on the source and no volume on the target.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/image-lib.sh"

command -v qemu-io >/dev/null || skip_all "qemu-io missing (package qemu-utils)"
lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
C=e2e$LAB_ID

cleanup() {
	clean_lab_domains
	image_cleanup "vem-$C-dsk"
	rm -rf "$W"
}
trap cleanup EXIT
image_serve || exit 1
printf '#cloud-config\nruncmd: [echo hello]\n' >"$W/user-data"

# dsk_cluster STATE [MAINT-HOST] [HOSTS]
dsk_cluster() {
	write_cluster "$F" <<YAML
$(image_yaml)
vms:
  - name: dsk
    template: tiny
    replicas: 2
    state: $1
    ${3:+placement: {hosts: [$3]\}}
    disks: [{image: base}, {size: 16MiB}]
    cloud-init: {user-data: $W/user-data}
${BAL:-}
YAML
	if [ -n "$2" ]; then
		sed -i "/name: $2\$/,/labels/ s/^\\(    labels:.*\\)\$/\\1\\n    maintenance: true/" "$F"
	fi
}

host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

# vem volumes of this test on host N
vols_on() {
	virsh_h "$1" vol-list default 2>/dev/null | awk '{print $1}' | grep "^vem-$C-dsk" | sort
}

# has_pattern FILE OFFSET LENGTH: FILE (qcow2) holds bytes 0x5a there
has_pattern() {
	local r
	r=$(qemu-io -r -f qcow2 -c "read -P 0x5a $2 $3" "$1" 2>&1)
	grep -q "^read " <<<"$r" && ! grep -q "verification failed" <<<"$r"
}

test_expect_success 'two stopped VMs with disks are made on h1' '
	dsk_cluster stopped "" h1
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(vms_on 1 | grep -c "^dsk-")" = 2 ] &&
	[ "$(vols_on 1 | wc -l)" = 6 ]
'

test_expect_success 'a pattern is written on each blank disk before the start' '
	for vm in dsk-0 dsk-1; do
		qemu-img create -q -f qcow2 "$W/$vm.qcow2" 16M &&
		qemu-io -f qcow2 -c "write -P 0x5a 1M 2M" "$W/$vm.qcow2" >/dev/null &&
		virsh_h 1 vol-upload --pool default vem-$C-$vm-disk1.qcow2 "$W/$vm.qcow2" || exit 1
	done &&
	dsk_cluster running "" h1 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(running_on 1 | grep -c "^dsk-")" = 2 ]
'

test_expect_success 'maintenance on h1 moves both live with their disks' '
	dsk_cluster running h1
	start=$(date +%s.%N)
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	end=$(date +%s.%N)
	cat "$W/out"; [ "$rc" = 0 ] &&
	echo "# maintenance apply took $(echo "$end - $start" | bc) s" &&
	[ -z "$(vms_on 1 | grep "^dsk-")" ] &&
	for vm in dsk-0 dsk-1; do
		[ "$(count_vm $vm)" = 1 ] || { echo "$vm defined $(count_vm $vm) times"; exit 1; }
		h=$(host_of $vm)
		[ "$h" = 2 ] || [ "$h" = 3 ] || exit 1
		st=$(virsh_h $h domstate --reason $vm)
		echo "$vm on h$h: $st"
		[ "$st" = "running (migrated)" ] || exit 1
	done
'

test_expect_success 'h1 keeps no volume of the moved VMs, the targets have theirs' '
	[ -z "$(vols_on 1)" ] &&
	for vm in dsk-0 dsk-1; do
		h=$(host_of $vm)
		vols_on $h | grep -qx "vem-$C-$vm-disk0.qcow2" &&
		vols_on $h | grep -qx "vem-$C-$vm-disk1.qcow2" &&
		vols_on $h | grep -qx "vem-$C-$vm-seed.iso" &&
		virsh_h $h vol-dumpxml --pool default vem-$C-$vm-disk0.qcow2 |
			sed -n "/<backingStore>/,/<\/backingStore>/p" | grep -q "$IMGVOL" || exit 1
	done
'

test_expect_success 'the data written before the move is on the blank disk after it' '
	for vm in dsk-0 dsk-1; do
		h=$(host_of $vm)
		[ "$h" = 2 ] || [ "$h" = 3 ] || { echo "$vm is on h$h"; exit 1; }
		rm -f "$W/got.qcow2"
		virsh_h $h vol-download --pool default vem-$C-$vm-disk1.qcow2 "$W/got.qcow2" &&
		has_pattern "$W/got.qcow2" 1M 2M &&
		! has_pattern "$W/got.qcow2" 0 1M ||
			{ echo "$vm: data lost"; exit 1; }
	done
'

test_expect_success 'the seed moved with the VM and still carries the user-data' '
	command -v isoinfo >/dev/null || { echo "isoinfo missing: skipping content check"; exit 0; }
	h=$(host_of dsk-0)
	[ "$h" = 2 ] || [ "$h" = 3 ] || { echo "dsk-0 is on h$h"; exit 1; }
	virsh_h $h vol-download --pool default vem-$C-dsk-0-seed.iso "$W/seed.iso" &&
	isoinfo -R -i "$W/seed.iso" -x /user-data | grep -q "echo hello"
'

test_expect_success 'a second apply changes nothing' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] && grep -q "no changes" "$W/out"
'

test_expect_success 'a move that times out leaves the VM on its host and no volume on the target' '
	# back to h1 with h2 and h3 in maintenance, at 1 MiB/s with 1 s allowed
	h=$(host_of dsk-0)
	BAL="balance: {bandwidth: 1MiB, migration-timeout: 1s}" dsk_cluster running h2 &&
	sed -i "/name: h3\$/,/labels/ s/^\\(    labels:.*\\)\$/\\1\\n    maintenance: true/" "$F" &&
	grep -q "migration-timeout: 1s" "$F" || exit 1
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" != 0 ] &&
	grep -q "timed out" "$W/out" &&
	running_on $h | grep -qx dsk-0 &&
	[ "$(count_vm dsk-0)" = 1 ] &&
	[ "$(virsh_h $h domstate --reason dsk-0)" = "running (migrated)" ] &&
	[ -z "$(vols_on 1)" ] ||
		{ echo "state after the failed move:"; all_vms; vols_on 1; exit 1; }
'

# to_h1 [EXTRA-YAML]: the cluster with h2 and h3 in maintenance
to_h1() {
	BAL="$1" dsk_cluster running h2 &&
	sed -i "/name: h3\$/,/labels/ s/^\\(    labels:.*\\)\$/\\1\\n    maintenance: true/" "$F"
}

test_expect_success 'a deterministic failure is tried once, not in every round' '
	# the file says pool default is shared: it is not, so h1 lacks the disks
	to_h1 "storage: {shared-pools: [default]}" &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" != 0 ] &&
	[ "$(grep -c "migrate dsk-0 .* failed" "$W/out")" = 1 ] &&
	[ "$(grep -c "migrate dsk-1 .* failed" "$W/out")" = 1 ] &&
	grep -q "is declared shared, but host .h1. has no volume" "$W/out" &&
	[ "$(count_vm dsk-0)" = 1 ] && [ "$(count_vm dsk-1)" = 1 ] &&
	[ -z "$(vms_on 1 | grep "^dsk-")" ] && [ -z "$(vols_on 1)" ]
'

test_expect_success 'status shows the blocked move; the next plan does not propose it' '
	"$VEM" status -f "$F" >"$W/status" 2>&1
	cat "$W/status"
	grep -q "move to h1 blocked for .*declared shared" "$W/status" &&
	"$VEM" plan -f "$F" >"$W/plan" 2>&1
	cat "$W/plan"
	! grep -q "migrate dsk-" "$W/plan" &&
	grep -q "an earlier move failed" "$W/plan"
'

test_expect_success 'an edited cluster file ends the block: both move to h1' '
	to_h1 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(running_on 1 | grep -c "^dsk-")" = 2 ] &&
	[ "$(vols_on 1 | wc -l)" = 6 ] &&
	[ -z "$(vols_on 2)" ] && [ -z "$(vols_on 3)" ] &&
	for vm in dsk-0 dsk-1; do
		[ "$(virsh_h 1 domstate --reason $vm)" = "running (migrated)" ] || exit 1
	done
'

test_done
