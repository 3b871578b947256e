#!/usr/bin/env bash
# End-to-end: busy guests crowded on one host are spread by live migration
# until the measured CPU load is within the threshold; a host put in
# maintenance is emptied while its guests keep running; a second apply right
# after makes no migration (no ping-pong).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
F=$W/cluster.yaml

# balanced_cluster HOSTS [MAINT]: two busy guests (allowed on HOSTS) and an
# idle one; host MAINT (e.g. h2) in maintenance.
balanced_cluster() {
	write_cluster "$F" <<YAML
balance:
  enabled: true
  metrics: {cpu: 1.0, memory: 0.0}
  threshold: 0.25
  min-gain: 0.02
  max-migrations: 4
  cooldown: 0s
  sample-window: 2s
vms:
  - name: hot
    template: busy
    replicas: 2
    placement: {hosts: [$1]}
  - name: calm
    template: tiny
YAML
	if [ -n "${2:-}" ]; then
		sed -i "/name: $2\$/,/labels/ s/^\\(    labels:.*\\)\$/\\1\\n    maintenance: true/" "$F"
	fi
}

# calm_idle: the idle guest has finished booting (under 0.1 s of CPU in 1 s)
calm_idle() {
	local h t1 t2
	h=$(host_of calm) && t1=$(cpu_time "$h" calm) && sleep 1 && t2=$(cpu_time "$h" calm) &&
	[ $((t2 - t1)) -lt 100000000 ]
}

host_of() { all_vms | awk -v n="$1" '$2 == n {print substr($1, 2)}'; }
cpu_time() { virsh_h "$1" domstats --cpu-total "$2" | awk -F= '/cpu.time/ {print $2}'; }

test_expect_success 'two busy guests start crowded on h1' '
	balanced_cluster h1 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/a1" 2>&1; rc=$?
	cat "$W/a1"; [ "$rc" = 0 ] &&
	[ "$(host_of hot-0)" = 1 ] && [ "$(host_of hot-1)" = 1 ]
'

test_expect_success 'allowed everywhere, the balancer spreads them by live migration' '
	balanced_cluster "h1, h2, h3" &&
	wait_for calm_idle 90 &&          # its boot under TCG takes a few seconds of CPU
	"$VEM" observe -f "$F" >/dev/null && sleep 3 &&   # a clean measuring window
	"$VEM" plan -f "$F" >"$W/p2" && cat "$W/p2" &&
	grep -qE "^=> migrate hot-[01] h1 -> h[23]" "$W/p2" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/a2" 2>&1; rc=$?
	cat "$W/a2"; [ "$rc" = 0 ] &&
	[ "$(host_of hot-0)" != "$(host_of hot-1)" ] &&
	moved=$( [ "$(host_of hot-0)" = 1 ] && echo hot-1 || echo hot-0 ) &&
	virsh_h "$(host_of $moved)" domstate --reason "$moved" | grep -q "running (migrated)"
'

test_expect_success 'a second apply right after makes no migration' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/a3" 2>&1; rc=$?
	cat "$W/a3"; [ "$rc" = 0 ] && ! grep -q migrate "$W/a3" && grep -q "no changes" "$W/a3"
'

test_expect_success 'status shows the measured load of each host' '
	"$VEM" status -f "$F" -o json >"$W/s.json" &&
	python3 - "$W/s.json" <<PY
import json, sys
s = json.load(open(sys.argv[1]))
loads = sorted(h["cpu_load"] for h in s["hosts"])
print("host loads (cores):", loads)
assert loads[-1] < 1.5, loads          # no host carries both busy guests
assert sum(loads) > 0.8, loads         # the busy guests are measured
PY
'

test_expect_success 'maintenance empties a host by live migration; its guests keep running' '
	m=$(host_of hot-0); [ "$m" = 1 ] && m=$(host_of hot-1)
	echo "maintenance on h$m" &&
	on_m=$(running_on $m) && echo "on h$m: $on_m" && echo "$on_m" | grep -q hot &&
	for vm in $on_m; do echo "$vm $(cpu_time $m $vm)"; done >"$W/before" &&
	balanced_cluster "h1, h2, h3" "h$m" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/a4" 2>&1; rc=$?
	cat "$W/a4"; [ "$rc" = 0 ] &&
	[ -z "$(vms_on $m)" ] &&
	for vm in $on_m; do
		h=$(host_of "$vm") && [ -n "$h" ] && [ "$h" != "$m" ] &&
		virsh_h "$h" domstate --reason "$vm" | grep -q "running (migrated)" ||
			{ echo "$vm: not running after the move"; exit 1; }
	done &&
	for vm in $(echo "$on_m" | grep hot); do
		h=$(host_of "$vm") && t1=$(cpu_time "$h" "$vm") && sleep 1 && t2=$(cpu_time "$h" "$vm") &&
		echo "$vm on h$h: cpu.time $t1 -> $t2 ns" &&
		[ "$t2" -gt "$t1" ] || { echo "$vm: CPU time does not grow after the move"; exit 1; }
	done
'

test_expect_success 'after the evacuation a second apply changes nothing' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/a5" 2>&1; rc=$?
	cat "$W/a5"; [ "$rc" = 0 ] && ! grep -q migrate "$W/a5"
'

clean_lab_domains
test_done
