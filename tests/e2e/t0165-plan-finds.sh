#!/usr/bin/env bash
# End-to-end: what apply would fail on for a reason the plan can know is
# found by the plan (issue 10, "plan = apply"). A VM whose disk is on a pool
# only one host has lands on that host; a VM on a pool no host has, or on a
# network no host has, is held back by name (plan --detailed-exitcode 2,
# apply exit 1 and nothing changed); a VM whose image URL answers 404 is
# held back at plan time, and apply does not try (and fail) it round after
# round.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
POOLDIR=/var/lib/libvirt/e2e-fast-$LAB_ID    # inside host 2's own /var/lib/libvirt

drop_pool() {
	local v
	for v in $(virsh_h 2 vol-list fast 2>/dev/null | awk '{print $1}'); do
		virsh_h 2 vol-delete --pool fast "$v" >/dev/null 2>&1 || true
	done
	virsh_h 2 pool-destroy fast >/dev/null 2>&1 || true
	virsh_h 2 pool-undefine fast >/dev/null 2>&1 || true
}

# an HTTP server on loopback that has no image at all (every GET/HEAD: 404)
mkdir -p "$W/www"
(cd "$W/www" && exec python3 -c '
import http.server, os
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open("port.tmp", "w").write(str(s.server_address[1])); os.rename("port.tmp", "port")
s.serve_forever()' >"$W/http.log" 2>&1) &
SRV=$!
trap 'kill $SRV 2>/dev/null; clean_lab_domains; drop_pool; rm -rf "$W"' EXIT
wait_for "[ -s '$W/www/port' ]" 10 || { echo "http server did not start"; exit 1; }
PORT=$(cat "$W/www/port")

drop_pool
virsh_h 2 pool-define-as fast dir --target "$POOLDIR" >/dev/null &&
virsh_h 2 pool-build fast >/dev/null &&
virsh_h 2 pool-start fast >/dev/null || { echo "cannot make pool 'fast' on h2"; exit 1; }

write_cluster "$F" <<YAML
vms:
  - {name: onfast, template: tiny, disks: [{size: 16MiB, pool: fast}]}
YAML

test_expect_success 'observe lists each host'"'"'s active pools and networks' '
	"$VEM" observe -f "$F" -o json >"$W/snap.json" &&
	python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
h = {x[\"name\"]: x for x in s[\"hosts\"]}
assert \"fast\" in h[\"h2\"][\"pools\"], h[\"h2\"]
assert \"fast\" not in h[\"h1\"][\"pools\"] and \"fast\" not in h[\"h3\"][\"pools\"]
assert isinstance(h[\"h1\"][\"networks\"], list)
" "$W/snap.json"
'

test_expect_success 'a VM on a pool only h2 has is planned and created there' '
	"$VEM" plan -f "$F" >"$W/out" 2>&1; cat "$W/out"
	grep -q "+ create onfast on h2" "$W/out" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; cat "$W/out"
	[ "$(vms_on 2 | grep -c "^onfast$")" = 1 ] && [ "$(count_vm onfast)" = 1 ] &&
	virsh_h 2 vol-list fast | grep -q "vem-e2e$LAB_ID-onfast-disk0.qcow2"
'

write_cluster "$F" <<YAML
images:
  - name: gone
    url: http://127.0.0.1:$PORT/gone.qcow2
    sha256: "0000000000000000000000000000000000000000000000000000000000000000"
vms:
  - {name: onfast, template: tiny, disks: [{size: 16MiB, pool: fast}]}
  - {name: nopool, template: tiny, disks: [{size: 16MiB, pool: nowhere}]}
  - {name: nonet, template: tiny, networks: [{network: e2e-none}]}
  - {name: noimage, template: tiny, disks: [{image: gone}]}
YAML

test_expect_success 'plan names the missing pool, network and image, and exits 2' '
	rc=0; "$VEM" plan -f "$F" --detailed-exitcode >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 2 ] &&
	grep -q "cannot place .nopool.: pool .nowhere. is not defined on any online host" "$W/out" &&
	grep -q "cannot place .nonet.: network .e2e-none. is not active on any online host" "$W/out" &&
	grep -q "cannot create .noimage.: image .gone. is not in the cache and not reachable: HTTP 404" "$W/out" &&
	! grep -q "^+ create" "$W/out"
'

test_expect_success 'the plan asked for the image once (HEAD), and downloaded nothing' '
	cat "$W/http.log"
	[ "$(grep -c "\"HEAD /gone.qcow2" "$W/http.log")" = 1 ] &&
	! grep -q "\"GET " "$W/http.log"
'

test_expect_success 'apply ends not converged (exit 1), tries nothing and changes nothing' '
	all_vms >"$W/before"
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "not converged: 2 VMs cannot be placed" "$W/out" &&
	! grep -qi "fail" "$W/out" && ! grep -q "round 2" "$W/out" &&
	all_vms >"$W/after" && diff "$W/before" "$W/after" &&
	[ "$(count_vm nopool)" = 0 ] && [ "$(count_vm noimage)" = 0 ]
'

test_expect_success 'status says why each held VM is missing' '
	"$VEM" status -f "$F" >"$W/out" 2>&1; cat "$W/out"
	grep "^nopool " "$W/out" | grep -q "pool .nowhere. is not defined" &&
	grep "^noimage " "$W/out" | grep -q "HTTP 404"
'

test_done
