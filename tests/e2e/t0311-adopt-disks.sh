#!/usr/bin/env bash
# End-to-end: adopting domains that have a data disk.
#  - 2 domains made by plain `virsh vol-create-as` + `define` + `start`, each
#    with a qcow2 data disk (vdb... here vda, the file's disk 0) in pool
#    'default' holding data written before adoption, are adopted with
#    --adopt: their QEMU pids are unchanged, the metadata records the volume,
#    a second apply says `no changes`, the data reads back;
#  - a domain whose disk is outside any pool, and one whose disk does not
#    match the file (target), are refused with the reason, untouched;
#  - removing an adopted VM from the file is held for consent
#    (--allow-destroy) naming its volume; with consent the volume is deleted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
chmod 755 "$W"
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
cleanup() {
	clean_lab_domains
	for i in 1 2 3; do
		for v in $(virsh_h $i vol-list default 2>/dev/null | awk '{print $1}' | grep "^pre-"); do
			virsh_h $i vol-delete --pool default "$v" >/dev/null 2>&1
		done
	done
	rm -rf "$W"
}
trap cleanup EXIT

on_host() {
	local n=$1; shift
	nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$n/libvirtd.pid")" -m "$@"
}

qemu_pid() {   # NAME HOST
	on_host "$2" cat "/run/libvirt/qemu/$1.pid"
}

# make_vol NAME HOST FORMAT: a 16 MiB volume in pool default with a record
# "pre-adoption NAME" at 1 MiB, written before any domain uses it
make_vol() {
	local raw=$W/$1.raw
	truncate -s 16M "$raw" &&
	printf '%-511.511s\n' "pre-adoption $1" | dd of="$raw" bs=512 seek=2048 conv=notrunc 2>/dev/null &&
	if [ "$3" = qcow2 ]; then qemu-img convert -q -f raw -O qcow2 "$raw" "$W/$1.up"; else cp "$raw" "$W/$1.up"; fi &&
	virsh_h "$2" vol-create-as default "$1.$3" 16M --format "$3" >/dev/null &&
	virsh_h "$2" vol-upload --pool default "$1.$3" "$W/$1.up" >/dev/null
}

# read_vol NAME HOST: the record at 1 MiB of the volume, read on the host
read_vol() {
	local path
	path=$(virsh_h "$2" vol-path --pool default "$1") || return 1
	rm -f "$W/r.raw"
	on_host "$2" qemu-img convert -U -O raw "$path" "$W/r.raw" &&
	dd if="$W/r.raw" bs=512 skip=2048 count=1 2>/dev/null | tr -d '\0' | sed -n 1p | sed 's/ *$//'
}

# define_with_disk NAME HOST SOURCE-FILE FORMAT TARGET
define_with_disk() {
	cat >"$W/$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='KiB'>32768</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$GUESTS/idle.elf</kernel></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='$4'/>
      <source file='$3'/>
      <target dev='$5' bus='virtio'/>
    </disk>
    <serial type='pty'/><console type='pty'/>
  </devices>
</domain>
XML
	virsh_h "$2" define "$W/$1.xml" >/dev/null && virsh_h "$2" start "$1" >/dev/null
}

cluster() {   # [extra VM YAML]
	write_cluster "$F" <<YAML
vms:
  - name: pre
    template: tiny
    replicas: 2
    disks: [{size: 16MiB}]
$1
YAML
}

test_expect_success '2 domains with a data disk in pool default, defined and started with virsh' '
	make_vol pre-0 1 qcow2 && make_vol pre-1 2 qcow2 &&
	define_with_disk pre-0 1 "$(virsh_h 1 vol-path --pool default pre-0.qcow2)" qcow2 vda &&
	define_with_disk pre-1 2 "$(virsh_h 2 vol-path --pool default pre-1.qcow2)" qcow2 vda &&
	echo "pre-0 $(qemu_pid pre-0 1)" >"$W/pids.before" &&
	echo "pre-1 $(qemu_pid pre-1 2)" >>"$W/pids.before" && cat "$W/pids.before"
'

test_expect_success 'the plan adopts them' '
	cluster &&
	"$VEM" plan -f "$F" --adopt "pre-*" >"$W/plan" 2>&1; cat "$W/plan"
	[ "$(grep -c "^& adopt pre-" "$W/plan")" = 2 ] && ! grep -q "not adopting" "$W/plan"
'

test_expect_success 'apply --adopt: no restart, the volume is recorded, a second apply has no changes' '
	"$VEM" apply $FAST -f "$F" --yes --adopt "pre-*" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out" &&
	{ echo "pre-0 $(qemu_pid pre-0 1)"; echo "pre-1 $(qemu_pid pre-1 2)"; } >"$W/pids.after" &&
	diff "$W/pids.before" "$W/pids.after" &&
	virsh_h 1 dumpxml pre-0 | grep "volume>" | tee "$W/meta0" | grep -q "volume>.*/pre-0.qcow2<" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"; grep -q "no changes" "$W/out" &&
	{ echo "pre-0 $(qemu_pid pre-0 1)"; echo "pre-1 $(qemu_pid pre-1 2)"; } >"$W/pids.after" &&
	diff "$W/pids.before" "$W/pids.after"
'

test_expect_success 'the data written before adoption reads back' '
	r0=$(read_vol pre-0.qcow2 1) && r1=$(read_vol pre-1.qcow2 2) &&
	echo "$r0 / $r1" && [ "$r0" = "pre-adoption pre-0" ] && [ "$r1" = "pre-adoption pre-1" ]
'

test_expect_success 'a disk outside any pool, a raw disk, a disk on another target: refused, untouched' '
	mkdir -p "$W/outside" && qemu-img create -q -f qcow2 "$W/outside/x.qcow2" 16M &&
	define_with_disk out-0 3 "$W/outside/x.qcow2" qcow2 vda &&
	make_vol pre-raw 3 raw && define_with_disk raw-0 3 "$(virsh_h 3 vol-path --pool default pre-raw.raw)" raw vda &&
	make_vol pre-tgt 3 qcow2 && define_with_disk tgt-0 3 "$(virsh_h 3 vol-path --pool default pre-tgt.qcow2)" qcow2 vdc &&
	p_out=$(qemu_pid out-0 3) && p_raw=$(qemu_pid raw-0 3) && p_tgt=$(qemu_pid tgt-0 3) &&
	cluster "  - {name: out-0, template: tiny, disks: [{size: 16MiB}], adopt: true}
  - {name: raw-0, template: tiny, disks: [{size: 16MiB}], adopt: true}
  - {name: tgt-0, template: tiny, disks: [{size: 16MiB}], adopt: true}" &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" != 0 ] &&
	grep -q "not adopting .out-0.: its disk vda (.*x.qcow2.) is no volume of a storage pool" "$W/out" &&
	grep -q "not adopting .raw-0.: its disk vda (.*pre-raw.raw.) is raw, and vem.s disks are qcow2" "$W/out" &&
	grep -q "not adopting .tgt-0.: the cluster file.s disk 0 would be vda, and the domain has no disk vda" "$W/out" &&
	[ "$(qemu_pid out-0 3)" = "$p_out" ] && [ "$(qemu_pid raw-0 3)" = "$p_raw" ] && [ "$(qemu_pid tgt-0 3)" = "$p_tgt" ] &&
	for d in out-0 raw-0 tgt-0; do
		! virsh_h 3 dumpxml $d | grep -q "<vem:vm" || { echo "$d got metadata"; exit 1; }
	done
'

test_expect_success 'removing an adopted VM is held for consent, then deletes its volume' '
	for d in out-0 raw-0 tgt-0; do virsh_h 3 destroy $d >/dev/null; virsh_h 3 undefine $d >/dev/null; done
	write_cluster "$F" <<YAML
vms:
  - {name: pre-0, template: tiny, disks: [{size: 16MiB}]}
YAML
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	grep -q "held: .*pre-1.* would delete 1 data volume (pre-1.qcow2); allow it with --allow-destroy pre-1" "$W/out" &&
	[ "$(qemu_pid pre-1 2)" = "$(awk "/pre-1/ {print \$2}" "$W/pids.before")" ] &&
	"$VEM" apply $FAST -f "$F" --yes --allow-destroy pre-1 >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"
	[ -z "$(vms_on 2)" ] &&
	! virsh_h 2 vol-list default | grep -q "pre-1.qcow2" &&
	[ "$(read_vol pre-0.qcow2 1)" = "pre-adoption pre-0" ]
'

test_done
