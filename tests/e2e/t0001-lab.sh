#!/usr/bin/env bash
# The lab itself: three real libvirt hosts with distinct identities, guests
# that boot, a busy guest that burns CPU, live migration between hosts, and a
# teardown that leaves nothing behind.
. "$(dirname "$0")/lib.sh"

lab_up
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
guest_xml() {
	cat <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>/var/lib/vem/guests/$2.elf</kernel></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>
XML
}

test_expect_success 'status reports three answering hosts' '
	"$VEM_LAB" --id "$VEM_LAB_ID" status >"$W/st" && cat "$W/st" &&
	[ "$(grep -c " yes " "$W/st")" = 3 ]
'

test_expect_success 'hosts have distinct host UUIDs' '
	for i in 1 2 3; do virsh_h $i sysinfo | grep -m1 -i "<entry name=.uuid.>" || virsh_h $i capabilities | grep -m1 "<uuid>"; done >"$W/u" &&
	[ "$(sort -u "$W/u" | wc -l)" = 3 ]
'

test_expect_success 'an idle guest boots on h1' '
	guest_xml lab-idle idle >"$W/i.xml" &&
	virsh_h 1 define "$W/i.xml" >/dev/null && virsh_h 1 start lab-idle >/dev/null &&
	virsh_h 1 domstate lab-idle | grep -q running
'

test_expect_success 'a busy guest burns about one CPU' '
	guest_xml lab-busy busy >"$W/b.xml" &&
	virsh_h 2 define "$W/b.xml" >/dev/null && virsh_h 2 start lab-busy >/dev/null &&
	t1=$(virsh_h 2 domstats --cpu-total lab-busy | awk -F= "/cpu.time/ {print \$2}") &&
	sleep 3 &&
	t2=$(virsh_h 2 domstats --cpu-total lab-busy | awk -F= "/cpu.time/ {print \$2}") &&
	echo "busy guest used $(( (t2 - t1) / 1000000 )) ms of CPU in 3 s" &&
	[ $(( t2 - t1 )) -gt 1500000000 ]
'

test_expect_success 'live migration moves a guest from h1 to h2' '
	start=$(date +%s%N) &&
	virsh_h 1 migrate --live --persistent --undefinesource lab-idle "qemu+tcp://10.99.$VEM_LAB_ID.12/system" &&
	echo "migration took $(( ($(date +%s%N) - start) / 1000000 )) ms" &&
	virsh_h 2 domstate --reason lab-idle | grep -q "running (migrated)" &&
	! virsh_h 1 list --all --name | grep -q lab-idle
'

test_expect_success 'up again is harmless' '
	"$VEM_LAB" --id "$VEM_LAB_ID" up >/dev/null &&
	virsh_h 2 domstate lab-idle | grep -q running
'

test_expect_success 'a stopped host refuses connections and comes back' '
	"$VEM_LAB" --id "$VEM_LAB_ID" stop-host h3 2>/dev/null &&
	! virsh_h 3 version >/dev/null 2>&1 &&
	"$VEM_LAB" --id "$VEM_LAB_ID" start-host h3 2>/dev/null &&
	virsh_h 3 version >/dev/null
'

test_expect_success 'down leaves nothing behind, twice' '
	"$VEM_LAB" --id "$VEM_LAB_ID" down 2>/dev/null &&
	"$VEM_LAB" --id "$VEM_LAB_ID" down 2>/dev/null &&
	! ip netns list | grep -q "^vemlab$VEM_LAB_ID-" &&
	! ip link show "vemlab$VEM_LAB_ID" >/dev/null 2>&1 &&
	! pgrep -f "/var/lib/vem-lab/$VEM_LAB_ID/" >/dev/null &&
	[ ! -e "/var/lib/vem-lab/$VEM_LAB_ID" ]
'

test_done
