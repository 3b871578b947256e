#!/usr/bin/env bash
# End-to-end: the TCP readiness probe against real guests.
# Each lab host gets a guest bridge (vemg0 in its namespace, 10.98.ID.64K/26)
# with busybox udhcpd on it, and the machine a route to it through the host;
# the lab's Linux guest asks DHCP for an address and serves HTTP on port 80
# (busybox httpd). vem learns the address from the guest agent and connects
# from this machine:
#  - 2 replicas with `readiness: {agent: true, tcp: 80}` are created, each
#    done when port 80 opens; status says ready; the page answers;
#  - with `tcp: 81` (nothing listens) status says why they are not ready,
#    and a memory change halts after the first replica, the other untouched;
#  - back to `tcp: 80`, the next run rolls on and converges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/linux-lib.sh"

lab_up
linux_guest_need usr/sbin/qemu-ga udhcpc.script
command -v curl >/dev/null || skip_all "curl missing"
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
F=$W/cluster.yaml
NS_PIDS=()

net_addr() { echo "10.98.$LAB_ID.$((64 * $1 + $2))"; }   # HOSTNUM OFFSET

# guest_net_up: on every lab host a bridge vemg0 with udhcpd, forwarding
# on, and a route to it from this machine
guest_net_up() {
	local k ns
	for k in 1 2 3; do
		ns=vemlab$LAB_ID-h$k
		ip -n "$ns" link add vemg0 type bridge 2>/dev/null || true
		ip -n "$ns" addr replace "$(net_addr $k 1)/26" dev vemg0
		ip -n "$ns" link set vemg0 up
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
		cat >"$W/udhcpd.h$k.conf" <<EOF
interface vemg0
start $(net_addr $k 10)
end $(net_addr $k 60)
lease_file $W/udhcpd.h$k.leases
pidfile $W/udhcpd.h$k.pid
option subnet 255.255.255.192
option router $(net_addr $k 1)
option lease 86400
EOF
		: >"$W/udhcpd.h$k.leases"
		ip netns exec "$ns" busybox udhcpd -f "$W/udhcpd.h$k.conf" >/dev/null 2>&1 &
		NS_PIDS+=($!)
		ip route replace "$(net_addr $k 0)/26" via "10.99.$LAB_ID.$((10 + k))"
	done
}

guest_net_down() {
	local k p
	for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	NS_PIDS=()
	for k in 1 2 3; do
		ip route del "$(net_addr $k 0)/26" 2>/dev/null
		ip -n "vemlab$LAB_ID-h$k" link del vemg0 2>/dev/null
	done
}
trap 'clean_lab_domains; guest_net_down; rm -rf "$W"' EXIT
guest_net_up

# group MEMORY PORT TIMEOUT
group() {
	write_cluster "$F" <<YAML
$(linux_template "console=ttyS0 quiet panic=-1 vem.data=none" "[{bridge: vemg0}]")
vms:
  - name: web
    template: linux
    replicas: 2
    memory: $1
    placement: {spread: web}
    readiness: {agent: true, tcp: $2, timeout: $3}
    rollout: {max-unavailable: 1}
YAML
}

host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

qemu_pid() {
	local h
	h=$(host_of "$1")
	[ -n "$h" ] && nsenter -t "$(cat "/var/lib/vem-lab/$LAB_ID/h$h/libvirtd.pid")" -m \
		cat "/run/libvirt/qemu/$1.pid" || echo none
}

# addr VM: its address on the guest bridge, from the guest agent
addr() {
	virsh_h "$(host_of "$1")" domifaddr "$1" --source agent 2>/dev/null |
		awk '$4 ~ /^10\.98\./ {sub("/.*", "", $4); print $4; exit}'
}

test_expect_success 'create 2 replicas: each is done when port 80 on its address opens' '
	group 128MiB 80 180s &&
	t0=$(date +%s.%N) &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	t1=$(date +%s.%N); cat "$W/out"
	echo "# create of 2 took $(echo "$t1 - $t0" | bc) s"
	for v in web-0 web-1; do
		a=$(addr $v) && [ -n "$a" ] && page=$(curl -sf --max-time 5 "http://$a/") &&
		echo "$v: $a: $page" && case $page in vem-guest*) ;; *) exit 1 ;; esac || exit 1
	done
	"$VEM" status -f "$F" -o json >"$W/st.json" &&
	python3 -c "
import json,sys
v = {x[\"name\"]: x for x in json.load(open(sys.argv[1]))[\"vms\"]}
for n in (\"web-0\", \"web-1\"):
    assert v[n][\"ready\"] is True, v[n]
    assert \"tcp\" in v[n][\"probes\"], v[n]
" "$W/st.json"
'

test_expect_success 'a port nothing listens on: status says so, and a memory change halts after one' '
	group 128MiB 81 180s &&
	"$VEM" status -f "$F" >"$W/st" 2>&1; cat "$W/st"
	grep -q "^web-0 .*port 81 on 10\.98\.[0-9.]* is closed" "$W/st" &&
	echo "web-1 $(qemu_pid web-1)" >"$W/pid1" &&
	group 144MiB 81 60s &&
	t0=$(date +%s.%N) &&
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	t1=$(date +%s.%N); cat "$W/out"
	echo "# halted apply took $(echo "$t1 - $t0" | bc) s"
	[ "$rc" = 1 ] &&
	grep -q "update web-0 on .* failed: .web-0. not ready after .*port 81 on 10\.98\." "$W/out" &&
	grep -q "rollout of .web. halted (max-unavailable 1): .web-0. is not ready: .*port 81" "$W/out" &&
	[ "$(echo "web-1 $(qemu_pid web-1)")" = "$(cat "$W/pid1")" ]
'

test_expect_success 'back to port 80 the next run rolls on and converges' '
	group 144MiB 80 180s &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	cat "$W/out"
	grep -q "update web-1 on .* ok" "$W/out" && ! grep -q "update web-0" "$W/out" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && grep -q "no changes" "$W/out"
'

test_done
