#!/usr/bin/env bash
# End-to-end: saved plans and targets. `vem plan --out FILE` then
# `vem apply FILE` carries out exactly the reviewed plan, or refuses and
# changes nothing when the file's revision, the hosts or the actions changed
# since; --target limits a plan and an apply to the VMs named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
F=$W/cluster.yaml
trap 'clean_lab_domains; rm -rf "$W"' EXIT

vms() {
	write_cluster "$F" <<YAML
vms:
  - {name: web, template: tiny, replicas: $1}
  - {name: db, template: tiny}
YAML
}

test_expect_success 'plan --out saves the plan; apply PLANFILE carries it out without asking' '
	vms 2 &&
	"$VEM" plan -f "$F" --out "$W/p.json" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	grep -q "saved the plan to" "$W/out" &&
	python3 -c "import json,sys; p=json.load(open(sys.argv[1])); assert p[\"kind\"]==\"vem-saved-plan\" and p[\"plan\"][\"changes\"]==3, p" "$W/p.json" &&
	"$VEM" apply $FAST "$W/p.json" </dev/null >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 3 ]
'

test_expect_success 'the same saved plan again is stale: the hosts changed' '
	rc=0; "$VEM" apply $FAST "$W/p.json" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "the saved plan is stale: the hosts changed" "$W/out" &&
	[ "$(all_vms | wc -l)" = 3 ]
'

test_expect_success 'a plan made before the file changed is refused' '
	vms 3 && "$VEM" plan -f "$F" --out "$W/p2.json" >/dev/null 2>&1 &&
	vms 4 &&
	rc=0; "$VEM" apply $FAST "$W/p2.json" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "the saved plan is stale: it was made for cluster .* at revision" "$W/out" &&
	[ "$(all_vms | wc -l)" = 3 ]
'

test_expect_success 'planning options go to plan --out, not to apply PLANFILE' '
	rc=0; "$VEM" apply --no-prune "$W/p2.json" >"$W/out" 2>&1 || rc=$?
	[ "$rc" = 64 ] && grep -q "carries its own planning options" "$W/out"
'

test_expect_success 'not a saved plan: a clear error' '
	rc=0; "$VEM" apply "$F" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] && grep -q "is not a saved plan" "$W/out"
'

test_expect_success '--target limits plan and apply to the VMs named' '
	vms 4 &&
	"$VEM" plan -f "$F" --target web-3 >"$W/out" 2>&1; cat "$W/out"
	grep -q "+ create web-3" "$W/out" && ! grep -q "web-2" "$W/out" &&
	"$VEM" apply $FAST -f "$F" --yes --target web-3 >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(count_vm web-3)" = 1 ] && [ "$(count_vm web-2)" = 0 ]
'

test_expect_success 'a saved targeted plan keeps its targets' '
	"$VEM" plan -f "$F" --target web --out "$W/p3.json" >"$W/out" 2>&1 &&
	"$VEM" apply $FAST "$W/p3.json" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(count_vm web-2)" = 1 ]
'
test_done
