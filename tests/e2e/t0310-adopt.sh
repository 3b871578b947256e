#!/usr/bin/env bash
# End-to-end: adopting domains vem did not create.
#  - 10 running domains made by plain `virsh define && start` are adopted
#    with --adopt: none restarts (QEMU pid unchanged) and a second apply says
#    `no changes`;
#  - nothing is adopted without consent (the apply fails on the name);
#  - observe --skeleton describes the unmanaged domains, adopt: true;
#  - a domain of another cluster is never adopted;
#  - a difference from the file (memory) is reconciled after the adoption.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
trap 'clean_lab_domains; rm -rf "$W"' EXIT

on_host() {
	local n=$1; shift
	nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$n/libvirtd.pid")" -m "$@"
}

# pids: "name pid" of every running old-* domain
pids() {
	local i d
	for i in 1 2 3; do
		for d in $(running_on "$i" | grep '^old-'); do
			echo "$d $(on_host "$i" cat "/run/libvirt/qemu/$d.pid")"
		done
	done | sort
}

define_plain() {   # NAME HOST MEMORY_KIB
	cat >"$W/$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='KiB'>$3</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$GUESTS/idle.elf</kernel></os>
  <devices><serial type='pty'/><console type='pty'/></devices>
</domain>
XML
	virsh_h "$2" define "$W/$1.xml" >/dev/null && virsh_h "$2" start "$1" >/dev/null
}

cluster() {   # [extra VM YAML]
	write_cluster "$F" <<YAML
vms:
  - name: old
    template: tiny
    replicas: 10
$1
YAML
}

test_expect_success '10 domains defined and started with plain virsh' '
	for i in $(seq 0 9); do define_plain old-$i $((i % 3 + 1)) 32768 || exit 1; done
	pids >"$W/pids.before" && cat "$W/pids.before" &&
	[ "$(wc -l <"$W/pids.before")" = 10 ]
'

test_expect_success 'observe --skeleton describes them, adopt: true' '
	cluster &&
	"$VEM" observe -f "$F" --skeleton >"$W/skel.yaml" && cat "$W/skel.yaml" &&
	[ "$(grep -c "^  - name: old-" "$W/skel.yaml")" = 10 ] &&
	[ "$(grep -c "adopt: true" "$W/skel.yaml")" = 10 ] &&
	grep -q "memory: 32MiB" "$W/skel.yaml" &&
	grep -A6 "name: old-1$" "$W/skel.yaml" | grep -q "placement: {hosts: \[h2\]}"
'

test_expect_success 'without consent nothing is adopted' '
	cluster &&
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	! grep -q "adopt old" "$W/plan" && ! grep -q "create" "$W/plan" &&
	grep -q "not creating .old-0.: host .h1. runs a domain of that name that vem does not manage; adopt it" "$W/plan" &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" = 1 ] && grep -q "not converged: 10 changes cannot be made on their hosts" "$W/out" &&
	[ "$(all_vms | wc -l)" = 10 ] &&
	pids >"$W/pids.now" && diff "$W/pids.before" "$W/pids.now"
'

test_expect_success 'plan --adopt shows adopt for each' '
	"$VEM" plan -f "$F" --adopt "old" >"$W/plan" 2>&1; cat "$W/plan"
	[ "$(grep -c "^& adopt old-" "$W/plan")" = 10 ] &&
	grep -q "10 to adopt" "$W/plan"
'

test_expect_success 'apply --adopt: none restarts, a second apply says no changes' '
	t0=$(date +%s.%N)
	"$VEM" apply $FAST -f "$F" --yes --adopt "old-*" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	t1=$(date +%s.%N); cat "$W/out"; echo "apply took $(echo "$t1 - $t0" | bc) s"
	pids >"$W/pids.now" && diff "$W/pids.before" "$W/pids.now" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"; grep -q "no changes" "$W/out" &&
	"$VEM" status -f "$F" >"$W/st" && cat "$W/st" &&
	[ "$(grep -c "^old-.* yes " "$W/st")" = 10 ]
'

test_expect_success 'a difference from the file is reconciled after adoption' '
	define_plain odd 1 49152 &&
	cluster "  - {name: odd, template: tiny, adopt: true}" &&
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "^& adopt odd on h1: max-memory 48MiB -> 32MiB, memory 48MiB -> 32MiB (then updated, restart)" "$W/plan" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"
	grep -q "adopt odd on h1 ... ok" "$W/out" &&
	grep -q "update odd on h1 ... ok" "$W/out" &&
	virsh_h 1 dominfo odd | grep -q "Max memory: *32768 KiB" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && grep -q "no changes" "$W/out" &&
	pids >"$W/pids.now" && diff "$W/pids.before" "$W/pids.now"
'

test_expect_success 'a domain of another cluster is never adopted' '
	cat >"$W/other.yaml" <<YAML
cluster: other$LAB_ID
$(lab_hosts_yaml)
templates:
  - {name: tiny, hypervisor: qemu, memory: 32MiB, kernel: $GUESTS/idle.elf}
vms:
  - {name: theirs, template: tiny, placement: {hosts: [h3]}}
YAML
	"$VEM" apply $FAST -f "$W/other.yaml" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cluster "  - {name: odd, template: tiny, adopt: true}
  - {name: theirs, template: tiny, adopt: true}" &&
	"$VEM" plan -f "$F" --adopt theirs >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "not adopting .theirs. on .h3.: it carries the metadata of another cluster" "$W/plan" &&
	! grep -q "adopt theirs" "$W/plan" &&
	! grep -q "create theirs" "$W/plan"
'

test_done
