#!/usr/bin/env bash
# End-to-end: an LXC container next to QEMU guests in one cluster. The lab's
# hosts run libvirt's LXC driver too (contrib/lab/vem-lab: cgroup v1 mounts
# in each host's mount namespace); the cluster lists h1 and h2 by their qemu
# URIs and the third host as c3 by its lxc URI (one libvirt host is listed
# once: vem refuses two URIs of one host). vem creates the container (its
# init is a sleep with a recognisable argument), observes it without bulk
# stats (the LXC driver has no virConnectGetAllDomainStats), changes its
# memory live (the cgroup limit follows, the container is not restarted),
# converges, and removes it, leaving the QEMU guests alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
LXC="lxc+tcp://10.99.$LAB_ID.13/system"
if ! out=$(timeout 20 virsh -q -c "$LXC" version 2>&1); then
	skip_all "libvirt's LXC driver does not answer on $LXC (package libvirt-daemon-driver-lxc): $out"
fi
virsh_c() { timeout 60 virsh -q -c "$LXC" "$@"; }
clean_lxc() {
	local d
	for d in $(virsh_c list --all --name 2>/dev/null); do
		virsh_c destroy "$d" >/dev/null 2>&1
		virsh_c undefine "$d" >/dev/null 2>&1
	done
}
clean_lab_domains
clean_lxc
W=$(mktemp -d)
trap 'clean_lab_domains; clean_lxc; rm -rf "$W"' EXIT
F=$W/cluster.yaml
TAG=$((8640000 + LAB_ID))      # the container's init: /bin/sleep $TAG
PID3=$(cat "/var/lib/vem-lab/$LAB_ID/h3/libvirtd.pid")

# lxc_cluster MEMORY [with-box]
lxc_cluster() {
	cat >"$F" <<YAML
cluster: e2e$LAB_ID
hosts:
  - name: h1
    uri: qemu+tcp://10.99.$LAB_ID.11/system
    capacity: {cpus: 2, memory: 1GiB}
  - name: h2
    uri: qemu+tcp://10.99.$LAB_ID.12/system
    capacity: {cpus: 2, memory: 1GiB}
  - name: c3
    uri: $LXC
    capacity: {cpus: 2, memory: 1GiB}
templates:
  - name: tiny
    hypervisor: qemu
    memory: 32MiB
    kernel: $GUESTS/idle.elf
  - name: ct
    hypervisor: lxc
    memory: $1
    max-memory: 64MiB
    cmdline: /bin/sleep $TAG
vms:
  - name: q
    template: tiny
    replicas: 2
YAML
	[ "${2:-}" != with-box ] || printf '  - name: box\n    template: ct\n' >>"$F"
}

# cg_limit: the memory cgroup limit of the container, read in h3's namespace
cg_limit() {
	nsenter -t "$PID3" -m sh -c 'cat /sys/fs/cgroup/memory/machine/lxc-*-box.libvirt-lxc/memory.limit_in_bytes'
}

test_expect_success 'vem creates a container on c3 and two QEMU guests on h1 and h2' '
	lxc_cluster 64MiB with-box
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	grep -q "create box on c3 ... ok" "$W/out" &&
	[ "$(virsh_c list --name | sed "/^$/d")" = box ] &&
	[ "$(virsh_c dumpxml box | grep -c "<init>/bin/sleep</init>")" = 1 ] &&
	running_on 1 | grep -qx "q-[01]" && running_on 2 | grep -qx "q-[01]" &&
	[ "$(running_on 3 | grep -c .)" = 0 ]
'

test_expect_success 'the container really runs its init command' '
	pgrep -a -x sleep | grep -q "sleep $TAG\$" &&
	cg_limit >"$W/limit" && cat "$W/limit" && [ "$(cat "$W/limit")" = 67108864 ]
'

test_expect_success 'status observes the container (no bulk stats on LXC) next to the QEMU guests' '
	"$VEM" status -f "$F" >"$W/st" 2>&1; rc=$?
	cat "$W/st"; [ "$rc" = 0 ] &&
	grep -Eq "^box +c3 +running .* yes" "$W/st" &&
	grep -Eq "^q-0 +h[12] +running" "$W/st" &&
	grep -Eq "^c3 +online" "$W/st" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && grep -q "no changes" "$W/out"
'

test_expect_success 'a memory change is applied live: cgroup limit follows, no restart' '
	id=$(virsh_c domid box)
	lxc_cluster 48MiB with-box
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	grep -q "update box on c3:.*(live)" "$W/out" &&
	grep -q "update box on c3 ... ok" "$W/out" &&
	[ "$(virsh_c domid box)" = "$id" ] &&
	[ "$(cg_limit)" = 50331648 ] &&
	virsh_c dumpxml box | grep -q "<currentMemory unit=.KiB.>49152</currentMemory>" &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 && cat "$W/out" && grep -q "no changes" "$W/out"
'

test_expect_success 'removing it from the file removes the container, not the QEMU guests' '
	lxc_cluster 48MiB
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	grep -q "remove box on c3 ... ok" "$W/out" &&
	[ -z "$(virsh_c list --all --name | sed "/^$/d; /^vem-lease-/d; /^vem-hoststate-/d")" ] &&
	! pgrep -a -x sleep | grep -q "sleep $TAG\$" &&
	[ "$(running_on 1 | grep -c "^q-")" = 1 ] && [ "$(running_on 2 | grep -c "^q-")" = 1 ]
'

test_done
