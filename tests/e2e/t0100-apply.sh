#!/usr/bin/env bash
# End-to-end: reconcile six VMs across three real libvirt hosts; idempotent
# second run; a memory change; pruning; unowned domains left alone; a
# stopped host gives a partial run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
F=$W/cluster.yaml

six_vms() {
	write_cluster "$F" <<YAML
vms:
  - name: api
    template: tiny
    replicas: 3
    placement: {spread: api}
  - name: worker
    template: tiny
    replicas: ${1:-3}
    memory: ${2:-32MiB}
YAML
}
six_vms

test_expect_success 'validate accepts the cluster file' '
	"$VEM" validate -f "$F" >"$W/out" &&
	grep -q "6 vms" "$W/out"
'

test_expect_success 'plan shows six creates and exits 2 with --detailed-exitcode' '
	rc=0; "$VEM" plan -f "$F" --detailed-exitcode >"$W/plan" || rc=$?
	cat "$W/plan" &&
	[ "$rc" = 2 ] &&
	[ "$(grep -c "^+ create" "$W/plan")" = 6 ]
'

test_expect_success 'plan -o json is valid JSON with six create actions' '
	"$VEM" plan -f "$F" -o json >"$W/plan.json" &&
	python3 -c "import json,sys; p=json.load(open(sys.argv[1])); a=[x for x in p[\"actions\"] if x[\"action\"]==\"create\"]; assert len(a)==6, a" "$W/plan.json"
'

test_expect_success 'apply creates six running VMs spread over three hosts' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply" 2>&1; rc=$?
	cat "$W/apply"; [ "$rc" = 0 ] &&
	[ "$(all_vms | wc -l)" = 6 ] &&
	for i in 1 2 3; do [ "$(running_on $i | wc -l)" = 2 ] || exit 1; done &&
	for n in api-0 api-1 api-2 worker-0 worker-1 worker-2; do
		[ "$(count_vm $n)" = 1 ] || { echo "$n defined $(count_vm $n) times"; exit 1; }
	done &&
	[ "$(all_vms | grep " api-" | cut -d" " -f1 | sort -u | wc -l)" = 3 ]
'

test_expect_success 'apply prints one progress line per action' '
	[ "$(grep -cE "create .* (ok|done)" "$W/apply")" = 6 ]
'

test_expect_success 'a second apply changes nothing and says so' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply2" 2>&1; rc=$?
	cat "$W/apply2"; [ "$rc" = 0 ] && grep -q "no changes" "$W/apply2" &&
	"$VEM" plan -f "$F" --detailed-exitcode >/dev/null
'

test_expect_success 'status shows every VM in sync' '
	"$VEM" status -f "$F" >"$W/status" && cat "$W/status" &&
	[ "$(grep -cE "^(api|worker)-[0-9].* running .* yes" "$W/status")" = 6 ] &&
	"$VEM" status -f "$F" -o json >"$W/status.json" &&
	python3 -c "import json,sys; s=json.load(open(sys.argv[1])); v=[x for x in s[\"vms\"] if x[\"in_sync\"]]; assert len(v)==6, s; assert len(s[\"hosts\"])==3" "$W/status.json"
'

test_expect_success 'a memory change is planned as an update and applied' '
	six_vms 3 48MiB &&
	"$VEM" plan -f "$F" >"$W/plan2" && cat "$W/plan2" &&
	# a restart rolls over the group, one replica per round (docs/rolling.md)
	[ "$(grep -cE "^~ update worker-[0-9].*memory 32MiB -> 48MiB" "$W/plan2")" = 1 ] &&
	grep -q "waiting: .worker-1., .worker-2." "$W/plan2" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply3" 2>&1; rc=$?
	cat "$W/apply3"; [ "$rc" = 0 ] &&
	for n in worker-0 worker-1 worker-2; do
		h=$(all_vms | awk -v n=$n "\$2==n {print substr(\$1,2)}")
		mem=$(virsh_h "$h" dominfo "$n" | awk "/Max memory/ {print \$3}")
		[ "$mem" = 49152 ] || { echo "$n max memory $mem KiB"; exit 1; }
		virsh_h "$h" domstate "$n" | grep -q running || exit 1
	done &&
	"$VEM" plan -f "$F" --detailed-exitcode >/dev/null
'

test_expect_success 'a VM removed from the file is pruned' '
	six_vms 2 48MiB &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply4" 2>&1; rc=$?
	cat "$W/apply4"; [ "$rc" = 0 ] &&
	grep -q "remove worker-2" "$W/apply4" &&
	[ "$(count_vm worker-2)" = 0 ] && [ "$(all_vms | wc -l)" = 5 ]
'

test_expect_success '--no-prune keeps a VM that left the file' '
	six_vms 1 48MiB &&
	"$VEM" apply $FAST -f "$F" --yes --no-prune >"$W/apply5" 2>&1 &&
	[ "$(count_vm worker-1)" = 1 ] &&
	six_vms 2 48MiB
'

test_expect_success 'an unowned domain is never touched' '
	cat >"$W/foreign.xml" <<XML &&
<domain type="qemu"><name>foreign-1</name><memory unit="MiB">32</memory><vcpu>1</vcpu>
<os><type arch="x86_64" machine="pc">hvm</type><kernel>$GUESTS/idle.elf</kernel></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>
XML
	virsh_h 1 define "$W/foreign.xml" >/dev/null && virsh_h 1 start foreign-1 >/dev/null &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply6" 2>&1; rc=$?
	cat "$W/apply6"; [ "$rc" = 0 ] &&
	virsh_h 1 domstate foreign-1 | grep -q running &&
	! grep -q foreign-1 "$W/apply6" &&
	"$VEM" status -f "$F" | grep foreign-1 | grep -q "not managed"
'

test_expect_success 'an empty cluster file is refused unless --allow-empty' '
	write_cluster "$W/empty.yaml" </dev/null &&
	rc=0; "$VEM" apply $FAST -f "$W/empty.yaml" --yes >"$W/apply7" 2>&1 || rc=$?
	cat "$W/apply7"; [ "$rc" = 1 ] && grep -q -- "--allow-empty" "$W/apply7" &&
	[ "$(all_vms | grep -vc foreign)" = 5 ]
'

test_expect_success 'a stopped host gives a partial run; the others are reconciled' '
	contrib/lab/vem-lab stop-host h3 --id "$LAB_ID" >/dev/null 2>&1 &&
	virsh_h 1 destroy api-0 >/dev/null 2>&1 || virsh_h 2 destroy api-0 >/dev/null 2>&1 || true
	start=$(date +%s)
	rc=0; "$VEM" apply $FAST -f "$F" --yes --connect-timeout 3s >"$W/apply8" 2>&1 || rc=$?
	end=$(date +%s)
	cat "$W/apply8"
	contrib/lab/vem-lab start-host h3 --id "$LAB_ID" >/dev/null 2>&1
	[ "$rc" = 3 ] && grep -q "h3" "$W/apply8" && grep -qi "unreachable" "$W/apply8" &&
	[ $((end - start)) -lt 60 ]
'

test_expect_success 'a host that does not answer at all is given up after --connect-timeout' '
	ip link set "vl${LAB_ID}h3" down &&
	start=$(date +%s%N)
	rc=0; "$VEM" plan -f "$F" --connect-timeout 2s >"$W/plan9" 2>&1 || rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	ip link set "vl${LAB_ID}h3" up
	cat "$W/plan9"; echo "took $ms ms"
	[ "$rc" = 3 ] && grep -q "no answer from qemu+tcp://10.99.$LAB_ID.13/system within 2s" "$W/plan9" &&
	[ "$ms" -lt 15000 ]
'

test_expect_success 'after the host is back, apply converges again' '
	wait_for "virsh_h 3 version" 30 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/apply9" 2>&1; rc=$?
	cat "$W/apply9"; [ "$rc" = 0 ] &&
	"$VEM" plan -f "$F" --detailed-exitcode >/dev/null &&
	[ "$(all_vms | grep -v foreign | wc -l)" = 5 ]
'

test_expect_success 'a host that goes silent mid-run is given up by keepalive, not after TCP timeouts' '
	write_cluster "$W/silent.yaml" <<YAML
vms:
  - {name: silent, template: tiny, placement: {hosts: [h3]}}
YAML
	"$VEM" apply $FAST -f "$W/silent.yaml" --yes --no-prune >/dev/null 2>&1 &&
	[ "$(running_on 3 | grep -c "^silent$")" = 1 ] &&
	sed -i "s/placement: {hosts: \[h3\]}}/placement: {hosts: [h3]}, state: stopped}/" "$W/silent.yaml" &&
	grep -q "state: stopped" "$W/silent.yaml" &&
	# the guest ignores the shutdown request, so vem polls it for up to 120 s
	"$VEM" apply --shutdown-timeout 120s -f "$W/silent.yaml" --yes --no-prune >"$W/silent.out" 2>&1 &
	pid=$!
	# the stop has begun once the plan is printed (a loaded machine may take
	# seconds to connect, take the lease and observe)
	wait_for "grep -q ^Plan: $W/silent.out" 60
	sleep 1
	ip link set "vl${LAB_ID}h3" down
	start=$(date +%s)
	rc=0; wait $pid || rc=$?
	secs=$(( $(date +%s) - start ))
	ip link set "vl${LAB_ID}h3" up
	cat "$W/silent.out"; echo "exit $rc, $secs s after the host went silent"
	[ "$rc" != 0 ] && grep -q "lost host .h3." "$W/silent.out" && [ "$secs" -lt 60 ]
'

test_expect_success 'once the host answers again, apply finishes the stop' '
	wait_for "virsh_h 3 version" 30 &&
	"$VEM" apply $FAST -f "$W/silent.yaml" --yes --no-prune >"$W/silent2" 2>&1; rc=$?
	cat "$W/silent2"; [ "$rc" = 0 ] &&
	[ "$(vms_on 3 | grep -c "^silent$")" = 1 ] && [ "$(running_on 3 | grep -c "^silent$")" = 0 ]
'

clean_lab_domains
test_done
