#!/usr/bin/env bash
# End-to-end: `vem apply` killed with SIGKILL at several points (mid-create,
# mid-update, mid-remove) and run again converges with no VM lost or
# duplicated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
F=$W/cluster.yaml

cluster_n() {
	write_cluster "$F" <<YAML
vms:
  - name: k
    template: tiny
    replicas: $1
YAML
}

# kill_apply DELAY: start apply, SIGKILL it after DELAY seconds.
kill_apply() {
	"$VEM" apply $FAST -f "$F" --yes >"$W/killed.out" 2>&1 &
	local pid=$!
	sleep "$1"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "--- killed after $1 s:"; cat "$W/killed.out"
}

# check_k N: exactly k-0..k-(N-1) exist, each on one host, all running.
check_k() {
	local n=$1 i
	[ "$(all_vms | grep -c " k-")" = "$n" ] || { all_vms; return 1; }
	for i in $(seq 0 $((n - 1))); do
		[ "$(count_vm k-$i)" = 1 ] || { echo "k-$i defined $(count_vm k-$i) times"; return 1; }
	done
	[ "$(for h in 1 2 3; do running_on $h; done | grep -c "^k-")" = "$n" ]
}

for delay in 0.5 1.5 3; do
	test_expect_success "killed mid-create after ${delay}s, the next apply converges" '
		clean_lab_domains && cluster_n 6 &&
		kill_apply '"$delay"' &&
		start=$(date +%s) &&
		"$VEM" apply $FAST -f "$F" --yes >"$W/again" 2>&1; rc=$?
		cat "$W/again"; [ "$rc" = 0 ] && check_k 6 &&
		[ $(( $(date +%s) - start )) -lt 60 ] &&
		"$VEM" plan -f "$F" --detailed-exitcode >/dev/null
	'
done

for delay in 0.5 2; do
	test_expect_success "killed mid-remove after ${delay}s, the next apply converges" '
		cluster_n 6 && "$VEM" apply $FAST -f "$F" --yes >/dev/null 2>&1 && check_k 6 &&
		cluster_n 2 && kill_apply '"$delay"' &&
		"$VEM" apply $FAST -f "$F" --yes >"$W/again" 2>&1; rc=$?
		cat "$W/again"; [ "$rc" = 0 ] && check_k 2 &&
		"$VEM" plan -f "$F" --detailed-exitcode >/dev/null
	'
done

test_expect_success 'a second vem waits for the lease and names its holder' '
	clean_lab_domains && cluster_n 6
	"$VEM" apply $FAST -f "$F" --yes >"$W/first" 2>&1 &
	pid=$!
	# the first holds the lease once its lease domain exists on h1
	wait_for "virsh_h 1 list --all --name | grep -q ^vem-lease-" 20
	rc=0; "$VEM" apply $FAST -f "$F" --yes --lease-wait 0 >"$W/second" 2>&1 || rc=$?
	wait $pid; rc1=$?
	cat "$W/first" "$W/second"
	[ "$rc1" = 0 ] && check_k 6 && [ "$rc" = 4 ] && grep -q "held by" "$W/second"
'

test_expect_success 'with --lease-wait the second vem waits, then runs and finds nothing to do' '
	cluster_n 3
	"$VEM" apply $FAST -f "$F" --yes >"$W/first" 2>&1 &
	pid=$!
	wait_for "virsh_h 1 list --all --name | grep -q ^vem-lease-" 20
	rc=0; "$VEM" apply $FAST -f "$F" --yes --lease-wait 60s >"$W/second" 2>&1 || rc=$?
	wait $pid; rc1=$?
	cat "$W/first" "$W/second"
	[ "$rc1" = 0 ] && [ "$rc" = 0 ] && check_k 3 &&
	grep -q "waiting for the lease of cluster .* held by" "$W/second" &&
	grep -q "no changes" "$W/second"
'

test_expect_success 'a holder killed with SIGKILL does not block the next run' '
	cluster_n 4 && kill_apply 1 &&
	start=$(date +%s) &&
	"$VEM" apply $FAST -f "$F" --yes --lease-wait 0 >"$W/after" 2>&1; rc=$?
	cat "$W/after"; [ "$rc" = 0 ] && check_k 4 &&
	[ $(( $(date +%s) - start )) -lt 30 ]
'

clean_lab_domains
test_done
