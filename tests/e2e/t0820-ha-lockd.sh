#!/usr/bin/env bash
# End-to-end: libvirt's lock manager (virtlockd) refuses a second start of
# a VM whose disk is on the shared directory, by itself. The lab's hosts
# run lock_manager = "lockd" with the lockspace (one lock file per disk
# path, named by its sha256) on the shared storage (vem-lab
# shared-storage). libvirt takes the disk leases when the guest's CPUs
# start, after QEMU has opened its images, so with QEMU's own image
# locking on, QEMU refuses first; the proof therefore starts the second
# copy under contrib/lab/qemu-nolock (QEMU with "locking":"off" on every
# file it opens): QEMU opens the disk, and libvirt's lease refuses it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/ha-lib.sh"

ha_lab
W=$(mktemp -d)
trap 'for i in 1 2 3; do virsh_h $i destroy lockprobe >/dev/null 2>&1; virsh_h $i undefine lockprobe >/dev/null 2>&1; done; ha_cleanup; rm -rf "$W"' EXIT
F=$W/cluster.yaml
write_ha_cluster "$F" 60s <<YAML
vms:
  - {name: lk, template: sd}
YAML
NOLOCK=$TOP/contrib/lab/qemu-nolock
DISK=/var/lib/libvirt/images/vem-e2e$LAB_ID-lk-disk0.qcow2
LEASE=$(printf '%s' "$DISK" | sha256sum | cut -d" " -f1)

test_expect_success 'a VM on the shared pool runs and holds its lease' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	[ "$(host_of lk | wc -l)" = 1 ] &&
	grep -q "lock_manager = \"lockd\"" "$LABDIR"/h1/etc/qemu.conf &&
	[ -f "$LABDIR/lockspace/$LEASE" ] &&
	grep -q ":$(stat -c %i "$LABDIR/lockspace/$LEASE") " /proc/locks
'

A=$(host_of lk); A=${A#h}
B=$(( A % 3 + 1 ))
echo "# lk runs on h$A; the second copy goes to h$B"
# the same disk under another name, on another host
virsh_h "$A" dumpxml lk | sed -e "s|<name>lk</name>|<name>lockprobe</name>|" \
	-e "/<uuid>/d" -e "/<metadata>/,/<\/metadata>/d" -e "/<mac /d" >"$W/probe.xml"
sed "s|<emulator>.*</emulator>|<emulator>$NOLOCK</emulator>|" "$W/probe.xml" >"$W/probe-nolock.xml"

test_expect_success 'with QEMU image locking on, QEMU refuses first' '
	grep -q "<source file=.$DISK." "$W/probe.xml"
	virsh_h "$B" define "$W/probe.xml" >/dev/null
	rc=0; virsh_h "$B" start lockprobe >"$W/qemu-lock" 2>&1 || rc=$?
	virsh_h "$B" undefine lockprobe >/dev/null
	cat "$W/qemu-lock"
	[ "$rc" != 0 ] && grep -q "Failed to get \"write\" lock" "$W/qemu-lock"
'

test_expect_success 'with QEMU image locking off, virtlockd refuses the second start' '
	virsh_h "$B" define "$W/probe-nolock.xml" >/dev/null
	rc=0; virsh_h "$B" start lockprobe >"$W/lockd" 2>&1 || rc=$?
	st=$(virsh_h "$B" domstate lockprobe)
	virsh_h "$B" destroy lockprobe >/dev/null 2>&1 || true
	virsh_h "$B" undefine lockprobe >/dev/null
	cat "$W/lockd"
	[ "$rc" != 0 ] &&
	grep -q "resource busy: Lockspace resource .$LEASE. is locked" "$W/lockd" &&
	! grep -q "Failed to get \"write\" lock" "$W/lockd" &&
	[ "$st" = "shut off" ] &&
	[ "$(host_of lk)" = "h$A" ] && [ "$(disks_open lk)" = 1 ]
'

test_expect_success 'once the first copy stops, the lease is free and the same start works' '
	ino=$(stat -c %i "$LABDIR/lockspace/$LEASE")
	virsh_h "$A" destroy lk >/dev/null
	wait_for "! grep -q \":$ino \" /proc/locks" 10 || { echo "the lease is still held"; exit 1; }
	virsh_h "$B" define "$W/probe-nolock.xml" >/dev/null
	rc=0; virsh_h "$B" start lockprobe >"$W/free" 2>&1 || rc=$?
	st=$(virsh_h "$B" domstate lockprobe)
	virsh_h "$B" destroy lockprobe >/dev/null 2>&1 || true
	virsh_h "$B" undefine lockprobe >/dev/null
	cat "$W/free"
	[ "$rc" = 0 ] && [ "$st" = running ]
'
test_done
