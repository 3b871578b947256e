# tests/e2e/vem-lib.sh - helpers for end-to-end tests of the vem command,
# sourced after lib.sh (which provides test_expect_success, lab_up, ...).

VEM=${VEM:-$TOP/vem}
LAB_ID=${VEM_LAB_ID:-0}
GUESTS=/var/lib/vem/guests

# lab_hosts_yaml [CAPACITY]: the hosts: section for the running lab.
lab_hosts_yaml() {
	local cap=${1:-"{cpus: 2, memory: 1GiB}"}
	echo "hosts:"
	for i in 1 2 3; do
		echo "  - name: h$i"
		echo "    uri: qemu+tcp://10.99.$LAB_ID.$((10 + i))/system"
		echo "    capacity: $cap"
		echo "    labels: {rack: r$(( (i + 1) / 2 ))}"
	done
}

# write_cluster FILE [extra YAML on stdin appended after templates]
# Templates: tiny (idle, 32MiB), busy (busy, 32MiB). Both run under QEMU's
# TCG (hypervisor: qemu): where a machine offers nested KVM, starting a KVM
# guest costs seconds of host CPU, which would only slow the lab down.
write_cluster() {
	local f=$1
	{
		echo "cluster: e2e$LAB_ID"
		lab_hosts_yaml
		cat <<YAML
templates:
  - name: tiny
    hypervisor: qemu
    vcpus: 1
    memory: 32MiB
    kernel: $GUESTS/idle.elf
  - name: busy
    hypervisor: qemu
    vcpus: 1
    memory: 32MiB
    kernel: $GUESTS/busy.elf
YAML
		cat
	} >"$f"
}

# vms_on HOSTNUM: names of the domains defined on lab host N (sorted).
vms_on() {
	virsh_h "$1" list --all --name 2>/dev/null | sed '/^$/d' | grep -v '^vem-lease-\|^vem-hoststate-' | sort
}

# running_on HOSTNUM: names of running domains on lab host N.
running_on() {
	virsh_h "$1" list --name 2>/dev/null | sed '/^$/d' | grep -v '^vem-lease-\|^vem-hoststate-' | sort
}

# all_vms: "host name" lines for every domain on every lab host.
all_vms() {
	local i
	for i in 1 2 3; do
		vms_on "$i" | sed "s/^/h$i /"
	done
}

# count_vm NAME: on how many hosts a domain named NAME is defined.
count_vm() {
	all_vms | awk -v n="$1" '$2 == n' | wc -l
}

# clean_lab_domains: destroy and undefine every domain on the lab hosts.
clean_lab_domains() {
	local i d
	for i in 1 2 3; do
		for d in $(virsh_h "$i" list --all --name 2>/dev/null); do
			virsh_h "$i" destroy "$d" >/dev/null 2>&1 || true
			virsh_h "$i" undefine "$d" >/dev/null 2>&1 || true
		done
	done
}

# The lab's guests ignore ACPI power buttons: do not wait 30 s for them.
FAST="--shutdown-timeout 1s"
