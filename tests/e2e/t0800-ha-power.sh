#!/usr/bin/env bash
# End-to-end: high availability after a power loss. A host with running VMs
# on shared storage loses power (its libvirtd, virtlockd and QEMUs killed,
# its link down). vem apply, run every second as a timer would, marks it
# suspect, then down after host-down-after (5s) and 2 observations, fences
# it with the lab's fence agent (fence_vemlab, fence-agents protocol), and
# starts its VMs on the other hosts with the same disks. Recovery time is
# counted from the kill. When the host comes back, its stale copies are
# never started and are removed, the disks kept; libvirt's lock manager
# refuses a second QEMU on a disk that is in use.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/ha-lib.sh"

ha_lab
W=$(mktemp -d)
trap 'ha_cleanup; rm -rf "$W"' EXIT
F=$W/cluster.yaml
write_ha_cluster "$F" 5s <<YAML
vms:
  - {name: w, template: sd, replicas: 4}
YAML
RECOVERY_BOUND=${RECOVERY_BOUND:-40}   # seconds beyond host-down-after

test_expect_success 'four VMs on shared storage run' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 4 ] &&
	ls "$LABDIR/shared" | grep -q "vem-e2e$LAB_ID-w-0-disk0.qcow2"
'

V=$(busiest)
LOST=$(running_on "$V")
echo "# killing h$V, which runs: $(echo $LOST)"

test_expect_success 'power loss: the VMs run on the other hosts, once, within the bound' '
	[ -n "$LOST" ]
	t0=$(now_ms)
	"$VEM_LAB" --id "$LAB_ID" fail-host h$V power
	DEAD=$V
	ok=
	for i in $(seq 1 90); do
		"$VEM" apply $FAST -f "$F" --yes --connect-timeout 1s >>"$W/loop" 2>&1 || true
		all=1
		for vm in $LOST; do
			[ "$(host_of "$vm" | wc -l)" = 1 ] || all=
		done
		if [ -n "$all" ]; then ok=1; break; fi
		sleep 1
	done
	t1=$(now_ms)
	echo "recovered in $(( (t1 - t0) )) ms from the kill (host-down-after 5s)"
	[ -n "$ok" ] || { tail -n 30 "$W/loop"; exit 1; }
	grep -q "fenced" "$W/loop"
	[ $(( t1 - t0 )) -le $(( (5 + RECOVERY_BOUND) * 1000 )) ]
	for vm in $LOST; do
		[ "$(host_of "$vm")" != "h$V" ]
		[ "$(disks_open "$vm")" = 1 ]
	done
	[ "$(all_vms | awk "{print \$2}" | sort | uniq -d | wc -l)" = 0 ]
'

test_expect_success 'status shows the host fenced' '
	"$VEM" status -f "$F" --connect-timeout 1s >"$W/st" 2>&1 || true
	cat "$W/st"
	grep -q "^h$V .*fenced" "$W/st" &&
	grep -q "host .h$V.: fenced, unreachable since" "$W/st"
'

test_expect_success 'the returned host: stale copies never start, are removed, disks kept' '
	"$VEM_LAB" --id "$LAB_ID" power-on h$V
	vms_on "$V"
	[ "$(vms_on "$V" | wc -l)" -ge 1 ]
	[ "$(running_on "$V" | wc -l)" = 0 ]
	"$VEM" apply $FAST -f "$F" --yes >"$W/back" 2>&1 || { cat "$W/back"; exit 1; }
	cat "$W/back"
	[ "$(vms_on "$V" | wc -l)" = 0 ]
	[ "$(all_vms | wc -l)" = 4 ]
	for vm in $LOST; do
		[ "$(host_of "$vm" | wc -l)" = 1 ]
		[ -f "$LABDIR/shared/vem-e2e$LAB_ID-$vm-disk0.qcow2" ]
	done
	"$VEM" apply $FAST -f "$F" --yes >"$W/again" 2>&1 || { cat "$W/again"; exit 1; }
	! grep -q "stale" "$W/again"
'

test_expect_success 'the lock manager refuses a second QEMU on a disk in use' '
	vm=$(echo $LOST | cut -d" " -f1)
	src=$(host_of "$vm"); src=${src#h}
	virsh_h "$src" dumpxml "$vm" | sed -e "s|<name>$vm</name>|<name>lockprobe</name>|" \
		-e "/<uuid>/d" -e "/<metadata>/,/<\/metadata>/d" -e "/<mac /d" >"$W/probe.xml"
	virsh_h "$V" define "$W/probe.xml" >/dev/null
	rc=0; virsh_h "$V" start lockprobe >"$W/lock" 2>&1 || rc=$?
	virsh_h "$V" destroy lockprobe >/dev/null 2>&1 || true
	virsh_h "$V" undefine lockprobe >/dev/null 2>&1 || true
	cat "$W/lock"
	[ "$rc" != 0 ] && grep -qi "lock" "$W/lock" &&
	[ "$(disks_open "$vm")" = 1 ]
'
test_done
