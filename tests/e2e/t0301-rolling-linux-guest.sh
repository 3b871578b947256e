#!/usr/bin/env bash
# End-to-end: a rolling change over real guests that answer a probe.
# The lab's Linux guest (contrib/lab/guests/linux: Debian's kernel, a
# busybox initramfs that starts Debian's qemu-ga on the virtio-serial port
# vem adds for `readiness: {agent: true}`), 4 replicas, max-unavailable 1:
#  - a memory change (a restart) rolls over the 4; a probe loop asks every
#    replica's agent `guest-ping` (virsh qemu-agent-command) every ~0.2 s
#    during the apply and records that at least 3 answer at every moment,
#    and that each replica was down once (the loop saw its restart);
#  - a replica that never becomes ready (its /init is told vem.agent=0, so
#    the agent never starts) halts the rollout: the others keep their QEMU
#    pid, plan and status say where it stopped; with the guest fixed the
#    next run restarts it, waits for its agent and rolls on over the rest.
# Prints the numbers: lowest count ready, each replica's time not ready,
# the apply's time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/linux-lib.sh"

lab_up
linux_guest_need usr/sbin/qemu-ga
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
LOOPS=()
stop_loops() {
	local p
	: >"$W/stop"
	for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null || true; done
	LOOPS=()
	rm -f "$W/stop"
}
trap 'stop_loops; clean_lab_domains; rm -rf "$W"' EXIT

# group MEMORY TIMEOUT [EXTRA-CMDLINE]
group() {
	write_cluster "$F" <<YAML
$(linux_template)
vms:
  - name: api
    template: linux
    replicas: 4
    memory: $1
    cmdline: console=ttyS0 quiet panic=-1 vem.data=none $3
    readiness: {agent: true, timeout: $2}
    rollout: {max-unavailable: 1}
YAML
}

on_host() {
	local n=$1; shift
	nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$n/libvirtd.pid")" -m "$@"
}

# host_of VM: the lab host number that runs VM
host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

qemu_pid() {
	local h
	h=$(host_of "$1")
	[ -n "$h" ] && on_host "$h" cat "/run/libvirt/qemu/$1.pid" || echo none
}

pids() {
	local v
	for v in "$@"; do echo "$v $(qemu_pid "$v")"; done
}

# ping VM HOST: the guest agent of VM answers guest-ping
ping_agent() {
	virsh_h "$2" qemu-agent-command "$1" '{"execute":"guest-ping"}' --timeout 2 2>/dev/null |
		grep -q '"return"'
}

# start_loops: one loop per replica, "TIME VM ok|down" every ~0.2 s into $W/probes
start_loops() {
	local v h
	rm -f "$W/stop" "$W"/probes*
	for v in api-0 api-1 api-2 api-3; do
		h=$(host_of "$v")
		(
			while [ ! -e "$W/stop" ]; do
				t=$(date +%s.%N)
				if ping_agent "$v" "$h"; then r=ok; else r=down; fi
				echo "$t $v $r"
				sleep 0.2
			done >>"$W/probes.$v"
		) &
		LOOPS+=($!)
	done
}

# replay: lowest count of answering replicas over the merged samples, each
# replica's time from its first failed probe to its next answer
replay() {
	cat "$W"/probes.api-* | sort -n >"$W/probes"
	python3 - "$W/probes" "$1" <<'PY'
import sys
state = {}
low, n, down_since, downtime = 4, 0, {}, {}
for line in open(sys.argv[1]):
    t, vm, r = line.split()
    t = float(t); n += 1
    if r == "down" and state.get(vm, "ok") == "ok":
        down_since[vm] = t
    if r == "ok" and state.get(vm) == "down":
        downtime.setdefault(vm, []).append(t - down_since.pop(vm))
    state[vm] = r
    if len(state) == 4:
        low = min(low, sum(1 for s in state.values() if s == "ok"))
print("probe samples: %d; lowest count of replicas answering: %d of 4" % (n, low))
for vm in sorted(set(downtime) | set(down_since)):
    print("  %s not ready for %s s" % (vm, ", ".join("%.1f" % d for d in downtime.get(vm, [])) or "?"),
          "(still down at the end)" if vm in down_since else "")
want = int(sys.argv[2])
assert low >= 3, "fewer than 3 replicas answered at some moment: %d" % low
assert len(downtime) == want, "the loop saw %d replicas restart, not %d" % (len(downtime), want)
PY
}

test_expect_success 'create 4 replicas of the Linux guest; each is done when its agent answers' '
	group 128MiB 120s &&
	t0=$(date +%s.%N) &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	t1=$(date +%s.%N); cat "$W/out"
	echo "# create of 4 took $(echo "$t1 - $t0" | bc) s"
	for v in api-0 api-1 api-2 api-3; do
		h=$(host_of $v) && [ -n "$h" ] && ping_agent $v $h || { echo "$v: no agent"; exit 1; }
	done
'

test_expect_success 'a memory change rolls: at least 3 of 4 answer the agent at every moment' '
	group 144MiB 120s &&
	start_loops && sleep 1 &&
	t0=$(date +%s.%N) &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	t1=$(date +%s.%N); sleep 1; stop_loops
	cat "$W/out"; [ "$rc" = 0 ] &&
	echo "# rolling apply of 4 took $(echo "$t1 - $t0" | bc) s ($(echo "($t1 - $t0) / 4" | bc -l | cut -c1-5) s a replica)" &&
	replay 4 &&
	[ "$(grep -c "update api-. on .* ok" "$W/out")" = 4 ] &&
	for v in api-0 api-1 api-2 api-3; do
		virsh_h $(host_of $v) dominfo $v | grep -q "Max memory: *147456 KiB" || exit 1
	done
'

test_expect_success 'a replica whose agent never starts halts the rollout; the others are untouched' '
	pids api-1 api-2 api-3 >"$W/pids.before" && cat "$W/pids.before" &&
	! grep -q " none$" "$W/pids.before" &&
	group 144MiB 20s vem.agent=0 &&
	t0=$(date +%s.%N) &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	t1=$(date +%s.%N); cat "$W/out"
	echo "# halted apply took $(echo "$t1 - $t0" | bc) s"
	[ "$rc" = 1 ] &&
	grep -q "update api-0 on .* failed: .api-0. not ready after .*guest agent" "$W/out" &&
	grep -q "rollout of .api. halted (max-unavailable 1): .api-0. is not ready: the guest agent does not answer" "$W/out" &&
	pids api-1 api-2 api-3 >"$W/pids.after" && diff "$W/pids.before" "$W/pids.after" &&
	h=$(host_of api-0) && virsh_h $h domstate api-0 | grep -qx running &&
	! ping_agent api-0 $h
'

test_expect_success 'plan and status say where the rollout stopped' '
	"$VEM" plan -f "$F" >"$W/plan" 2>&1; cat "$W/plan"
	grep -q "rollout of .api. halted .*.api-0. is not ready: the guest agent does not answer.*waiting: .api-1., .api-2., .api-3." "$W/plan" &&
	"$VEM" status -f "$F" >"$W/st" 2>&1; cat "$W/st"
	grep -q "^api-0 .*# the guest agent does not answer" "$W/st" &&
	grep -q "^api-1 .*# waits for the rollout of .api.: .api-0. is not ready" "$W/st"
'

test_expect_success 'with the guest fixed the next run restarts it and rolls on over the rest' '
	group 144MiB 120s vem.agent=1 &&
	start_loops && sleep 1 &&
	t0=$(date +%s.%N) &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	t1=$(date +%s.%N); sleep 1; stop_loops
	cat "$W/out"; [ "$rc" = 0 ] &&
	echo "# continued apply took $(echo "$t1 - $t0" | bc) s" &&
	grep -n "update api-. on .* ok" "$W/out" | sed "s/:.*update / /; s/ on .*//" >"$W/order" &&
	cat "$W/order" && [ "$(awk "{print \$2}" "$W/order" | tr "\n" " ")" = "api-0 api-1 api-2 api-3 " ] &&
	replay 4 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && grep -q "no changes" "$W/out"
'

test_done
