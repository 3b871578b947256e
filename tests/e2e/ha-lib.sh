# tests/e2e/ha-lib.sh - helpers for the high-availability tests (t08xx),
# sourced after lib.sh and vem-lib.sh.

export VEM_FENCE_AGENT_DIR=$TOP/contrib/lab
LABDIR=/var/lib/vem-lab/$LAB_ID

# ha_shared_live: the shared directory is a mount libvirt counts as shared
# storage (FUSE, fuse.glusterfs), so VMs with disks on it live-migrate
ha_shared_live() {
	awk -v m="$LABDIR/shared" '$2 == m && $3 == "fuse.glusterfs" { f = 1 } END { exit !f }' /proc/mounts
}

# ha_lab: the lab with shared storage and virtlockd (restarts hosts once)
ha_lab() {
	lab_up
	# the shared directory, mounted through FUSE as fuse.glusterfs so that
	# libvirt allows live migration on it, or bound where FUSE is missing
	# (vem-lab shared-storage)
	if [ ! -d "$LABDIR/shared.data" ] ||
	   ! awk -v m="$LABDIR/shared" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		"$VEM_LAB" --id "$LAB_ID" shared-storage >/dev/null 2>&1 ||
			{ echo "vem-lab shared-storage failed"; exit 1; }
	fi
	local i
	for i in 1 2 3; do
		[ "$("$VEM_LAB" --id "$LAB_ID" power-state h$i)" = on ] ||
			"$VEM_LAB" --id "$LAB_ID" power-on h$i >/dev/null 2>&1
		"$VEM_LAB" --id "$LAB_ID" heal-host h$i >/dev/null 2>&1 || true
	done
	clean_lab_domains
}

# ha_cleanup: every host powered on and healed, no domains, no disks
ha_cleanup() {
	local i
	for i in 1 2 3; do
		"$VEM_LAB" --id "$LAB_ID" power-on h$i >/dev/null 2>&1
		"$VEM_LAB" --id "$LAB_ID" heal-host h$i >/dev/null 2>&1
	done
	clean_lab_domains
	rm -f "$LABDIR"/shared/vem-e2e* 2>/dev/null
}

# write_ha_cluster FILE DOWN_AFTER [FENCE_LAB]: three lab hosts fenced by
# fence_vemlab, the pool "default" shared, template sd (idle guest + one
# small blank disk on the shared pool) and template fill (the same with the
# fill guest, whose ~30 MiB of memory a live migration has to copy: with
# balance.bandwidth the copy lasts long enough to fail a host in it);
# VMs and other top-level keys from stdin.
write_ha_cluster() {
	local f=$1 after=$2 flab=${3:-$LAB_ID} i
	{
		echo "cluster: e2e$LAB_ID"
		echo "ha: {host-down-after: $after, confirmations: 2}"
		echo "storage: {shared-pools: [default]}"
		echo "hosts:"
		for i in 1 2 3; do
			echo "  - name: h$i"
			echo "    uri: qemu+tcp://10.99.$LAB_ID.$((10 + i))/system"
			echo "    capacity: {cpus: 2, memory: 1GiB}"
			echo "    fence: {agent: fence_vemlab, options: {plug: h$i, lab: '$flab'}}"
		done
		cat <<YAML
templates:
  - name: sd
    hypervisor: qemu
    vcpus: 1
    memory: 32MiB
    kernel: $GUESTS/idle.elf
    disks: [{size: 16MiB}]
  - name: fill
    hypervisor: qemu
    vcpus: 1
    memory: 32MiB
    kernel: $GUESTS/fill.elf
    disks: [{size: 16MiB}]
YAML
		cat
	} >"$f"
}

# host_of VM: hK of the host running VM ("" when none), one line per copy;
# hosts listed in $DEAD (numbers) are not asked (they would not answer)
host_of() {
	local i
	for i in 1 2 3; do
		case " ${DEAD:-} " in *" $i "*) continue ;; esac
		running_on "$i" | grep -qx "$1" && echo "h$i"
	done
	return 0
}

# busiest: the host running most domains
busiest() {
	local i best=1 n max=-1
	for i in 1 2 3; do
		n=$(running_on "$i" | wc -l)
		[ "$n" -gt "$max" ] && { max=$n; best=$i; }
	done
	echo "$best"
}

# qemu_of HOSTNUM VM: QEMU processes of VM in host N's namespace
qemu_of() {
	local p
	for p in $(ip netns pids "vemlab$LAB_ID-h$1" 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "guest=$2," && echo "$p"
	done
	return 0
}

# disks_open VM: how many QEMU processes in the whole lab hold VM's disk
# open (every host sees the shared directory at the same path)
disks_open() {
	local f n=0 p
	f=/vem-e2e$LAB_ID-$1-disk0.qcow2
	for p in $(pgrep -f "qemu-system.*guest=" ); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "$f\$" && n=$((n + 1))
	done
	echo "$n"
}

now_ms() { date +%s%3N; }

# incoming HOSTNUM VM: VM is defined on host N in the paused state (the
# incoming side of a live migration in progress)
incoming() {
	[ "$(virsh_h "$1" domstate "$2" 2>/dev/null)" = paused ]
}
