#!/usr/bin/env bash
# End-to-end: the executor asks the lease before every action. A `vem apply`
# stopped (SIGSTOP) mid-run past its lease's ttl, while a second vem takes
# the cluster and finishes the job, does nothing more once resumed: its next
# action is refused ("lease ... lost"), the run stops, and no VM ends up
# defined twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
A=
cleanup() {
	[ -n "$A" ] && { kill -CONT "$A" 2>/dev/null; kill -KILL "$A" 2>/dev/null; }
	clean_lab_domains
	rm -rf "$W"
}
trap cleanup EXIT
F=$W/cluster.yaml
write_cluster "$F" <<YAML
vms:
  - {name: f, template: tiny, replicas: 9}
YAML

test_expect_success 'a resumed holder whose lease was taken makes no further change' '
	"$VEM" apply $FAST -f "$F" --yes --per-host 1 --lease-ttl 3s >"$W/a" 2>&1 &
	A=$!
	wait_for "[ \$(all_vms | wc -l) -ge 1 ]" 60
	kill -STOP "$A"
	n_before=$(all_vms | wc -l)
	sleep 4
	"$VEM" apply $FAST -f "$F" --yes --lease-ttl 3s --lease-wait 20s >"$W/b" 2>&1 || { cat "$W/b"; exit 1; }
	[ "$(all_vms | wc -l)" = 9 ]
	kill -CONT "$A"
	rc=0; wait "$A" || rc=$?
	A=
	echo "--- first apply (stopped after $n_before VMs, exit $rc):"; cat "$W/a"
	echo "--- second apply:"; cat "$W/b"
	[ "$rc" != 0 ] &&
	grep -q "lease of cluster .* lost" "$W/a" &&
	grep -q "stopped: the cluster.s lease could not be confirmed" "$W/a" &&
	[ "$(all_vms | wc -l)" = 9 ] &&
	[ "$(all_vms | awk "{print \$2}" | sort | uniq -d | wc -l)" = 0 ]
'
test_done
