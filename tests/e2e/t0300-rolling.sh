#!/usr/bin/env bash
# End-to-end: changes that interrupt VMs roll over a group.
#  - a memory change (a restart) rolls over 4 replicas with max-unavailable 1,
#    in replica order, waiting out each replica's settle time: the lifecycle
#    events of every host (virsh event --loop) show at least 3 running at
#    every moment, and each replica starts only after the previous one settled;
#  - a replica that never becomes ready (a guest-agent probe; the lab's tiny
#    guests run no agent) halts the rollout: the other replicas are untouched
#    (QEMU pid unchanged), plan and status say where and why, the run ends
#    not converged; once the probe is dropped the next run finishes.
# The tiny guests have no network and no agent: t0301 rolls real Linux
# guests that answer the agent probe, t0302 covers the TCP probe.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
EV_PIDS=()
stop_events() {
	local p
	for p in "${EV_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	EV_PIDS=()
}
trap 'stop_events; clean_lab_domains; rm -rf "$W"' EXIT

# group MEMORY READINESS
group() {
	write_cluster "$F" <<YAML
vms:
  - name: api
    template: tiny
    replicas: 4
    memory: $1
    readiness: $2
    rollout: {max-unavailable: 1}
YAML
}

on_host() {
	local n=$1; shift
	nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$n/libvirtd.pid")" -m "$@"
}

# qemu_pid VM: the QEMU pid of VM (from its host's libvirt run directory)
qemu_pid() {
	local i
	for i in 1 2 3; do
		if running_on "$i" | grep -qx "$1"; then
			on_host "$i" cat "/run/libvirt/qemu/$1.pid"; return
		fi
	done
	echo none
}

start_events() {
	local i
	for i in 1 2 3; do
		virsh -c "qemu+tcp://10.99.$LAB_ID.$((10 + i))/system" event --loop --event lifecycle \
			--timestamp >"$W/ev$i" 2>&1 &
		EV_PIDS+=($!)
	done
	sleep 1
}

test_expect_success 'create 4 replicas with a settle time' '
	group 32MiB "{settle: 2s, timeout: 30s}" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(all_vms | wc -l)" = 4 ] &&
	for i in 1 2 3; do running_on $i; done | sort >"$W/running" &&
	[ "$(wc -l <"$W/running")" = 4 ]
'

test_expect_success 'the plan takes one replica per round and says the rest wait' '
	group 48MiB "{settle: 2s, timeout: 30s}" &&
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "~ update api-0 on .*(restart)" "$W/plan" &&
	[ "$(grep -c "~ update" "$W/plan")" = 1 ] &&
	grep -q "rollout of .api. continues next round (max-unavailable 1): .api-0. is changed first; waiting: .api-1., .api-2., .api-3." "$W/plan"
'

test_expect_success 'a memory change rolls: at least 3 of 4 running at every moment' '
	start_events &&
	t0=$(date +%s.%N) &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	t1=$(date +%s.%N)
	sleep 1; stop_events
	cat "$W/out"
	echo "apply took $(echo "$t1 - $t0" | bc) s"
	cat "$W"/ev1 "$W"/ev2 "$W"/ev3 | grep "for domain .api-" | sort >"$W/events"
	cat "$W/events"
	# every replica stopped and started once
	[ "$(grep -c ": Stopped" "$W/events")" = 4 ] &&
	[ "$(grep -c ": Started" "$W/events")" = 4 ] &&
	# replay: running count never below 3; order api-0..3; >= 2 s settle gaps
	python3 - "$W/events" <<PY
import sys, re, datetime
ev = []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ \S+?)(\+\d+)?: event .lifecycle. for domain .(api-\d).: (\w+)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    ev.append((t, m.group(3), m.group(4)))
ev.sort()
running, low = 4, 4
stops, starts = [], {}
for t, vm, what in ev:
    if what == "Stopped":
        running -= 1; stops.append((t, vm))
    elif what == "Started":
        running += 1; starts[vm] = t
    low = min(low, running)
print("lowest running:", low)
order = [vm for t, vm in stops]
print("stop order:", order)
assert low >= 3, low
assert order == ["api-0", "api-1", "api-2", "api-3"], order
for (ta, a), (tb, b) in zip(stops, stops[1:]):
    gap = tb - starts[a]
    print("%s started -> %s stopped: %.2f s" % (a, b, gap))
    assert gap >= 2.0, gap
PY
'

test_expect_success 'the run converged: a second apply has no changes' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	grep -q "no changes" "$W/out"
'

test_expect_success 'a replica that never becomes ready halts the rollout' '
	for v in api-1 api-2 api-3; do echo "$v $(qemu_pid $v)"; done >"$W/pids.before" &&
	cat "$W/pids.before" &&
	group 48MiB "{agent: true, timeout: 5s}" &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" = 1 ] &&
	grep -q "update api-0 on .* failed: .api-0. not ready after .*guest agent" "$W/out" &&
	grep -q "rollout of .api. halted (max-unavailable 1): .api-0. is not ready: the guest agent does not answer" "$W/out" &&
	grep -q "not converged" "$W/out" &&
	for v in api-1 api-2 api-3; do echo "$v $(qemu_pid $v)"; done >"$W/pids.after" &&
	diff "$W/pids.before" "$W/pids.after" &&
	! grep -q " none$" "$W/pids.after"
'

test_expect_success 'plan and status say where the rollout stopped and why' '
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "rollout of .api. halted .*.api-0. is not ready: the guest agent does not answer.*waiting: .api-1., .api-2., .api-3." "$W/plan" &&
	grep -q "not converged: 3 changes wait for their group.s rollout" "$W/plan" &&
	"$VEM" status -f "$F" >"$W/st" 2>&1; cat "$W/st"
	grep -q "^api-0 .*# the guest agent does not answer" "$W/st" &&
	grep -q "^api-2 .*# waits for the rollout of .api.: .api-0. is not ready" "$W/st" &&
	"$VEM" status -f "$F" -o json >"$W/st.json" &&
	python3 -c "
import json,sys
d = json.load(open(sys.argv[1]))
v = {x[\"name\"]: x for x in d[\"vms\"]}
assert v[\"api-0\"][\"ready\"] is False, v[\"api-0\"]
assert v[\"api-0\"][\"probes\"] == \"agent\", v[\"api-0\"]
assert v[\"api-1\"][\"ready\"] is False and \"waits\" in v[\"api-1\"][\"why\"] or v[\"api-1\"][\"ready\"] is True
" "$W/st.json"
'

test_expect_success 'once the replica is healthy again the next run finishes' '
	group 48MiB "{settle: 1s, timeout: 30s}" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"
	for v in api-1 api-2 api-3; do echo "$v $(qemu_pid $v)"; done >"$W/pids.after2" &&
	diff "$W/pids.before" "$W/pids.after2" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && grep -q "no changes" "$W/out"
'

test_done
