#!/usr/bin/env bash
# End-to-end: nothing vem does deletes a VM's data without consent.
#  - the removal budget (--max-removals) holds for the whole run, over all
#    of apply's rounds, not per round;
#  - a recreate (here: cloud-init added to a VM with a data disk) keeps the
#    data disk, and the data written to it survives;
#  - a recreate that would drop a data disk is held back until allowed;
#  - one libvirt host listed twice (two URIs) is refused by host UUID and
#    nothing is touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
C=e2e$LAB_ID
trap 'clean_lab_domains; rm -rf "$W"' EXIT

# on_host N CMD...: run CMD in lab host hN's mount namespace (its volumes)
on_host() {
	local n=$1; shift
	nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$n/libvirtd.pid")" -m "$@"
}

# host_of VM: lab host number where VM is defined
host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

many() {
	write_cluster "$F" <<YAML
vms:
  - name: m
    template: tiny
    replicas: $1
YAML
}

test_expect_success 'the removal budget holds over all rounds of one apply' '
	many 12 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 12 ] &&
	many 1 &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes --max-removals 4 >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" = 1 ] &&
	[ "$(all_vms | wc -l)" = 8 ] &&
	grep -q "7 removals held back by the removal budget of 4 per run" "$W/out" &&
	grep -q "not converged" "$W/out"
'

test_expect_success 'plan --detailed-exitcode reports held-back removals as pending' '
	rc=0; "$VEM" plan -f "$F" --max-removals 0 --detailed-exitcode >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 2 ] &&
	grep -q "no changes can be made; not converged: 7 removals are over the removal budget" "$W/out"
'

test_expect_success 'the rest goes with the next run' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 1 ]
'

printf '#cloud-config\nruncmd: [echo hello]\n' >"$W/user-data"
data_vm() {   # data_vm DISKS [CLOUD_INIT]
	local ci=""
	[ -n "${2:-}" ] && ci="    cloud-init: {user-data: $W/user-data}"
	write_cluster "$F" <<YAML
vms:
  - name: db
    template: tiny
    state: stopped
    disks: $1
$ci
YAML
}

test_expect_success 'a VM with a data disk is created' '
	clean_lab_domains
	data_vm "[{size: 16MiB}]" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	h=$(host_of db) && [ -n "$h" ] &&
	path=$(virsh_h $h vol-path --pool default vem-$C-db-disk0.qcow2) &&
	on_host $h qemu-io -f qcow2 -c "write -P 0xab 0 64k" "$path" >/dev/null &&
	on_host $h qemu-io -f qcow2 -c "read -P 0xab 0 64k" "$path" | grep -q "read 65536"
'

test_expect_success 'adding cloud-init recreates the VM and keeps its data disk' '
	h=$(host_of db)
	data_vm "[{size: 16MiB}]" yes &&
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "(recreate) (data disks kept)" "$W/plan" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(host_of db)" = "$h" ] &&
	virsh_h $h dumpxml db | grep -q "vem-$C-db-seed.iso" &&
	path=$(virsh_h $h vol-path --pool default vem-$C-db-disk0.qcow2) &&
	on_host $h qemu-io -f qcow2 -c "read -P 0xab 0 64k" "$path" | grep -q "read 65536"
'

test_expect_success 'a recreate that drops a data disk is held back, and nothing changes' '
	h=$(host_of db)
	data_vm "[{size: 16MiB}, {size: 8MiB}]" yes &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	virsh_h $h vol-list default | grep -q "vem-$C-db-disk1.qcow2" &&
	data_vm "[{size: 16MiB}]" yes &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "held: recreating .db. on .h$h. would delete 1 data volume (vem-$C-db-disk1.qcow2)" "$W/out" &&
	virsh_h $h vol-list default | grep -q "vem-$C-db-disk1.qcow2"
'

test_expect_success '--allow-destroy lets it through; the first disk keeps its data' '
	h=$(host_of db)
	"$VEM" apply $FAST -f "$F" --yes --allow-destroy db >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	grep -q "DESTROYS DATA: vem-$C-db-disk1.qcow2" "$W/out" &&
	! virsh_h $h vol-list default | grep -q "vem-$C-db-disk1.qcow2" &&
	path=$(virsh_h $h vol-path --pool default vem-$C-db-disk0.qcow2) &&
	on_host $h qemu-io -f qcow2 -c "read -P 0xab 0 64k" "$path" | grep -q "read 65536"
'

test_expect_success 'the same host under two URIs is refused and nothing is touched' '
	{
		echo "cluster: $C"
		echo "hosts:"
		echo "  - {name: h1, uri: \"qemu+tcp://10.99.$LAB_ID.11/system\"}"
		echo "  - {name: h1b, uri: \"qemu+tcp://10.99.$LAB_ID.11:16509/system\"}"
		echo "templates: [{name: tiny, hypervisor: qemu, memory: 32MiB, kernel: $GUESTS/idle.elf}]"
		echo "vms: [{name: db, template: tiny, state: stopped, disks: [{size: 16MiB}], cloud-init: {user-data: $W/user-data}}]"
	} >"$W/twice.yaml" &&
	before=$(all_vms) &&
	rc=0; "$VEM" apply $FAST -f "$W/twice.yaml" --yes --allow-destroy "*" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "hosts .h1. and .h1b. are the same libvirt host" "$W/out" &&
	grep -q "the plan was refused; nothing was changed" "$W/out" &&
	[ "$(all_vms)" = "$before" ]
'

for i in 1 2 3; do
	for v in $(virsh_h $i vol-list default 2>/dev/null | awk -v c="vem-$C-" 'index($1, c) == 1 {print $1}'); do
		virsh_h $i vol-delete --pool default "$v" >/dev/null 2>&1
	done
done
test_done
