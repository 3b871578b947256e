#!/usr/bin/env bash
# End-to-end: a VM the file asks for that no host can take is a change the
# plan could not make, never "converged": plan --detailed-exitcode, apply,
# reconcile --once and status all say so, and name the constraint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
F=$W/cluster.yaml
trap 'clean_lab_domains; rm -rf "$W"' EXIT

write_cluster "$F" <<YAML
vms:
  - {name: ok, template: tiny}
  - {name: gpu, template: tiny, placement: {labels: {gpu: "yes"}}}
  - {name: big, template: tiny, memory: 8GiB}
YAML

test_expect_success 'plan names the missing label and the memory, and exits 2' '
	rc=0; "$VEM" plan -f "$F" --detailed-exitcode >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 2 ] &&
	grep -q "cannot place .gpu.: h1: lacks label gpu=yes; h2: lacks label gpu=yes; h3: lacks label gpu=yes" "$W/out" &&
	grep -Eq "cannot place .big.: h1: needs 8GiB, [0-9]+(MiB|GiB) free" "$W/out" &&
	grep -q "Held back: 2 VMs cannot be placed." "$W/out"
'

test_expect_success 'apply creates what it can and ends not converged (exit 1)' '
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	[ "$(count_vm ok)" = 1 ] &&
	grep -q "not converged: 2 VMs cannot be placed" "$W/out"
'

test_expect_success 'reconcile --once does not report converged' '
	rc=0; "$VEM" reconcile $FAST -f "$F" --once >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "not converged (changes held back), 0 actions" "$W/out"
'

test_expect_success 'status shows why each missing VM is missing' '
	"$VEM" status -f "$F" >"$W/out" 2>&1; cat "$W/out"
	grep "^gpu " "$W/out" | grep -q "missing.*lacks label gpu=yes" &&
	grep "^big " "$W/out" | grep -q "missing.*needs 8GiB"
'
test_done
