#!/usr/bin/env bash
# End-to-end: high availability across a network partition. A host whose
# VMs keep running becomes unreachable. While its fence agent fails (the
# wrong lab), vem recovers nothing and says so: the VMs run only where they
# were. Once the fence works, the host is powered off and its VMs run on
# the other hosts, exactly once: no QEMU of theirs is left on the fenced
# host and each disk is open in one QEMU. A slow host (libvirtd stopped for
# less than host-down-after) is only suspect: nothing moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/ha-lib.sh"

ha_lab
W=$(mktemp -d)
trap 'ha_cleanup; rm -rf "$W"' EXIT
F=$W/cluster.yaml
VMS='vms:
  - {name: p, template: sd, replicas: 3}'
write_ha_cluster "$F" 4s <<<"$VMS"
write_ha_cluster "$W/badfence.yaml" 4s 250 <<<"$VMS"

# loop_apply FILE SECONDS: vem apply every second, output appended to $W/loop
loop_apply() {
	local i
	for i in $(seq 1 "$2"); do
		"$VEM" apply $FAST -f "$1" --yes --connect-timeout 1s >>"$W/loop" 2>&1 || true
		sleep 1
	done
}

test_expect_success 'three VMs run' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 3 ]
'

V=$(busiest)
CUT=$(running_on "$V")
echo "# partitioning h$V, which runs: $(echo $CUT)"

test_expect_success 'a slow host is only suspect: nothing moves' '
	"$VEM_LAB" --id "$LAB_ID" fail-host h$V slow 3
	"$VEM" apply $FAST -f "$F" --yes --connect-timeout 1s >"$W/slow" 2>&1 || true
	cat "$W/slow"
	sleep 3
	"$VEM" apply $FAST -f "$F" --yes >"$W/slow2" 2>&1 || { cat "$W/slow2"; exit 1; }
	! grep -q "fenc" "$W/slow" "$W/slow2" &&
	[ "$(running_on "$V")" = "$CUT" ] && [ "$(all_vms | wc -l)" = 3 ]
'

test_expect_success 'partition with a failing fence: no recovery, loudly' '
	"$VEM_LAB" --id "$LAB_ID" fail-host h$V partition
	: >"$W/loop"
	loop_apply "$W/badfence.yaml" 8
	cat "$W/loop" | tail -n 12
	grep -q "could not be fenced; its VMs are not recovered" "$W/loop"
	grep -q "down but not fenced" "$W/loop"
	DEAD=$V
	for vm in $CUT; do
		[ -z "$(host_of "$vm")" ]
		[ -n "$(qemu_of "$V" "$vm")" ]
	done
	rc=0; "$VEM" apply $FAST -f "$W/badfence.yaml" --yes --connect-timeout 1s >"$W/rc" 2>&1 || rc=$?
	[ "$rc" != 0 ]
'

test_expect_success 'with a working fence: fenced, and each VM runs exactly once' '
	t0=$(now_ms)
	DEAD=$V
	ok=
	for i in $(seq 1 30); do
		"$VEM" apply $FAST -f "$F" --yes --connect-timeout 1s >>"$W/loop2" 2>&1 || true
		all=1
		for vm in $CUT; do [ "$(host_of "$vm" | wc -l)" = 1 ] || all=; done
		if [ -n "$all" ]; then ok=1; break; fi
		sleep 1
	done
	echo "recovered $(( $(now_ms) - t0 )) ms after the fence was fixed"
	[ -n "$ok" ] || { tail -n 20 "$W/loop2"; exit 1; }
	[ "$("$VEM_LAB" --id "$LAB_ID" power-state h$V)" = off ]
	for vm in $CUT; do
		[ -z "$(qemu_of "$V" "$vm")" ]
		[ "$(disks_open "$vm")" = 1 ]
	done
'

test_expect_success 'healed and powered on: stale copies removed, each VM once' '
	"$VEM_LAB" --id "$LAB_ID" power-on h$V
	"$VEM" apply $FAST -f "$F" --yes >"$W/back" 2>&1 || { cat "$W/back"; exit 1; }
	[ "$(all_vms | wc -l)" = 3 ] &&
	[ "$(all_vms | awk "{print \$2}" | sort | uniq -d | wc -l)" = 0 ] &&
	for vm in $CUT; do [ "$(disks_open "$vm")" = 1 ] || exit 1; done
'
test_done
