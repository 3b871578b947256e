#!/usr/bin/env bash
# The command line without hosts: help, version, usage errors, validate,
# offline planning from a snapshot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

test_expect_success '--version names vem and libvirt' '
	"$VEM" --version | grep -qE "^vem [0-9]+\.[0-9]+\.[0-9]+ \(libvirt [0-9]"
'

test_expect_success '--help lists every command and the exit codes' '
	"$VEM" --help >"$W/h" &&
	for c in validate plan apply status observe reconcile schema; do grep -q "^  $c " "$W/h" || exit 1; done &&
	grep -q "Exit codes" "$W/h"
'

test_expect_success 'each command has --help' '
	for c in validate plan apply status observe reconcile schema; do
		"$VEM" $c --help >"$W/h" && grep -q "^usage: vem $c" "$W/h" || { echo "no help for $c"; exit 1; }
	done
'

test_expect_success 'an unknown command exits 64 with a hint' '
	rc=0; "$VEM" aply 2>"$W/e" || rc=$?
	[ "$rc" = 64 ] && grep -q "did you mean .apply." "$W/e"
'

test_expect_success 'an unknown option exits 64' '
	rc=0; "$VEM" plan --frobnicate 2>"$W/e" || rc=$?
	[ "$rc" = 64 ] && grep -q "frobnicate" "$W/e"
'

test_expect_success 'a bad duration is refused with the reason' '
	rc=0; "$VEM" apply --lease-wait 5x 2>"$W/e" || rc=$?
	[ "$rc" = 64 ] && grep -q "unit" "$W/e"
'

test_expect_success 'a missing cluster file is an error naming it' '
	rc=0; "$VEM" validate -f "$W/nope.yaml" 2>"$W/e" || rc=$?
	cat "$W/e"; [ "$rc" = 1 ] && grep -q "nope.yaml" "$W/e"
'

test_expect_success 'every example validates' '
	for f in "$TOP"/examples/clusters/*.yaml "$TOP"/examples/clusters/*/; do
		[ -e "$f" ] || continue
		# a directory is a cluster when it holds cluster files (seed/ holds cloud-init data)
		case $f in */) ls "$f" | grep -qE "\.ya?ml$" || continue ;; esac
		"$VEM" validate -f "$f" >/dev/null || { echo "$f does not validate"; exit 1; }
	done
'

test_expect_success 'schema prints a JSON Schema' '
	"$VEM" schema >"$W/s.json" &&
	python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert \"properties\" in s and \"vms\" in s[\"properties\"]" "$W/s.json"
'

test_expect_success 'plan --observed plans offline without contacting hosts' '
	cat >"$W/c.yaml" <<YAML &&
cluster: offline
hosts:
  - {name: a, uri: "qemu+tcp://127.0.0.1:1/system", capacity: {cpus: 4, memory: 4GiB}}
  - {name: b, uri: "qemu+tcp://127.0.0.2:1/system", capacity: {cpus: 4, memory: 4GiB}}
templates:
  - {name: t, vcpus: 1, memory: 256MiB, kernel: /boot/k}
vms:
  - {name: web, template: t, replicas: 2, placement: {spread: web}}
YAML
	cat >"$W/snap.json" <<JSON &&
{"cluster": "offline", "taken_at": 0,
 "hosts": [{"name": "a", "uri": "qemu+tcp://127.0.0.1:1/system", "online": true,
            "capacity": {"cpus": 4, "memory": 4294967296}, "hv": ["qemu"]},
           {"name": "b", "uri": "qemu+tcp://127.0.0.2:1/system", "online": true,
            "capacity": {"cpus": 4, "memory": 4294967296}, "hv": ["qemu"]}],
 "domains": []}
JSON
	start=$(date +%s)
	rc=0; "$VEM" plan -f "$W/c.yaml" --observed "$W/snap.json" --detailed-exitcode >"$W/p" 2>&1 || rc=$?
	cat "$W/p"; [ "$rc" = 2 ] &&
	grep -q "^+ create web-0 on [ab]" "$W/p" && grep -q "^+ create web-1 on [ab]" "$W/p" &&
	[ "$(grep "^+ create" "$W/p" | awk "{print \$NF}" | sort -u | wc -l)" = 2 ] &&
	[ $(( $(date +%s) - start )) -lt 5 ]
'

test_expect_success 'apply without --yes and without a terminal does nothing' '
	rc=0; "$VEM" apply -f "$W/c.yaml" --connect-timeout 1s </dev/null >"$W/o" 2>&1 || rc=$?
	cat "$W/o"; [ "$rc" != 0 ]
'

test_done
