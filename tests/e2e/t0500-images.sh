#!/usr/bin/env bash
# End-to-end: VMs with disks on real libvirt hosts. An image (a small qcow2
# made with qemu-img) served over loopback HTTP is downloaded, verified,
# uploaded once per host and used as the backing store of each VM's
# copy-on-write overlay; a blank disk and a cloud-init seed ISO beside it.
# The guests boot the idle kernel directly (the image holds no OS: the test
# checks the storage plumbing, not a distribution). Removing a VM removes
# its volumes, not the shared image. Every volume vem uploads or creates is
# mode 0600 on the host, and the seed is built in a private directory under
# $TMPDIR that is gone after the upload.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
# vem's scratch files (the seed ISO) go here, where the test can see them
mkdir -m 1777 "$W/tmp"
export TMPDIR=$W/tmp
F=$W/cluster.yaml
C=e2e$LAB_ID

# loopback HTTP server on a free port
mkdir -p "$W/www"
qemu-img create -q -f qcow2 "$W/www/base.qcow2" 48M
SHA=$(sha256sum "$W/www/base.qcow2" | cut -c1-64)
(cd "$W/www" && exec python3 -c '
import http.server, os
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open("port.tmp", "w").write(str(s.server_address[1])); os.rename("port.tmp", "port")
s.serve_forever()' >/dev/null 2>&1) &
SRV=$!
trap 'kill $SRV 2>/dev/null; clean_lab_domains; rm -rf "$W"' EXIT
wait_for "[ -s '$W/www/port' ]" 10 || { echo "http server did not start"; exit 1; }
PORT=$(cat "$W/www/port")
printf '#cloud-config\nruncmd: [echo hello]\n' >"$W/user-data"

# disk_cluster REPLICAS [SHA] [HOSTS]
disk_cluster() {
	write_cluster "$F" <<YAML
images:
  - name: base
    url: http://127.0.0.1:$PORT/base.qcow2
    sha256: "${2:-$SHA}"
    format: qcow2
vms:
  - name: disk
    template: tiny
    replicas: $1
    placement: {spread: disk${3:+, hosts: [$3]}}
    disks: [{image: base}, {size: 16MiB}]
    cloud-init: {user-data: $W/user-data}
YAML
}

IMGVOL=vem-image-$(echo "$SHA" | cut -c1-16).qcow2

# host_of VM: lab host number where VM is defined
host_of() {
	all_vms | awk -v n="$1" '$2 == n { sub("h", "", $1); print $1 }'
}

test_expect_success 'a wrong sha256 is refused and nothing is created' '
	disk_cluster 1 0000000000000000000000000000000000000000000000000000000000000000
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
	[ "$rc" != 0 ] &&
	grep -q "sha256 mismatch" "$W/out" &&
	[ "$(all_vms | wc -l)" = 0 ] &&
	[ ! -e "$VEM_CACHE_DIR/images/0000000000000000000000000000000000000000000000000000000000000000" ] &&
	for i in 1 2 3; do
		if virsh_h $i vol-list default | grep -E "vem-$C-|vem-image-0000"; then exit 1; fi
	done
'

test_expect_success 'apply creates two running VMs on overlays of the image' '
	disk_cluster 2
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(all_vms | wc -l)" = 2 ] &&
	for vm in disk-0 disk-1; do
		h=$(host_of $vm)
		[ -n "$h" ] && running_on $h | grep -qx $vm || { echo "$vm not running"; exit 1; }
	done &&
	[ -f "$VEM_CACHE_DIR/images/$SHA" ]
'

test_expect_success 'each overlay is a qcow2 whose backing store is the uploaded image' '
	for vm in disk-0 disk-1; do
		h=$(host_of $vm)
		virsh_h $h vol-dumpxml --pool default vem-$C-$vm-disk0.qcow2 >"$W/vol.xml" &&
		grep -q "<format type=.qcow2./>" "$W/vol.xml" &&
		sed -n "/<backingStore>/,/<\/backingStore>/p" "$W/vol.xml" | grep -q "$IMGVOL" || exit 1
		# the guest uses it, the blank disk and the seed
		virsh_h $h dumpxml $vm >"$W/dom.xml"
		grep -q "vem-$C-$vm-disk0.qcow2" "$W/dom.xml" &&
		grep -q "vem-$C-$vm-disk1.qcow2" "$W/dom.xml" &&
		grep -q "vem-$C-$vm-seed.iso" "$W/dom.xml" || exit 1
		# the overlay holds no data of its own yet; the image is full size
		[ "$(virsh_h $h vol-info --pool default --bytes $IMGVOL | awk "/Capacity/ {print \$2}")" = $((48 * 1024 * 1024)) ] || exit 1
	done
'

test_expect_success 'the image is uploaded once per host that needs it' '
	for i in 1 2 3; do
		n=$(virsh_h $i vol-list default | grep -c "$IMGVOL" || true)
		if vms_on $i | grep -q disk-; then [ "$n" = 1 ]; else [ "$n" = 0 ]; fi || exit 1
	done
'

# vol_mode HOST VOLUME: the file mode libvirt reports, and the one on the
# host's disk (its private /var/lib/libvirt, through its mount namespace)
vol_mode() {
	local path pid
	virsh_h $1 vol-dumpxml --pool default $2 | sed -n "s/.*<mode>\(.*\)<\/mode>.*/\1/p" | head -1
	path=$(virsh_h $1 vol-path --pool default $2)
	pid=$(cat "${VEM_LAB_DIR:-/var/lib/vem-lab/$VEM_LAB_ID}/h$1/libvirtd.pid")
	nsenter -t "$pid" -m stat -c %a "$path"
}

test_expect_success 'every volume of a VM and the image are mode 0600 on the host' '
	h=$(host_of disk-0)
	for vol in $IMGVOL vem-$C-disk-0-disk0.qcow2 vem-$C-disk-0-disk1.qcow2 vem-$C-disk-0-seed.iso; do
		m=$(vol_mode $h $vol | tr "\n" " ")
		echo "$vol: $m"
		[ "$m" = "0600 600 " ] || exit 1
	done
'

test_expect_success 'no seed file is left in TMPDIR, and the image cache is private' '
	ls -la "$W/tmp"
	[ -z "$(find "$W/tmp" -name "vem-*")" ] &&
	[ -z "$(find "$VEM_CACHE_DIR/images" -type f -perm /077)" ]
'

test_expect_success 'the seed ISO is labelled cidata and carries the user-data' '
	command -v isoinfo >/dev/null || { echo "isoinfo missing: skipping content check"; exit 0; }
	h=$(host_of disk-0)
	virsh_h $h vol-download --pool default vem-$C-disk-0-seed.iso "$W/seed.iso" &&
	isoinfo -d -i "$W/seed.iso" | grep -q "Volume id: cidata" &&
	isoinfo -R -i "$W/seed.iso" -x /user-data | grep -q "echo hello" &&
	isoinfo -R -i "$W/seed.iso" -x /meta-data | grep -q "instance-id: $C-disk-0"
'

test_expect_success 'a second apply changes nothing' '
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] && grep -q "no changes" "$W/out"
'

test_expect_success 'an interrupted upload (short image volume) is uploaded again' '
	# disk-2 goes to the one host without the image; leave a short copy there
	free=$(for i in 1 2 3; do vms_on $i | grep -q disk- || echo $i; done | head -1)
	[ -n "$free" ] &&
	head -c 65536 "$W/www/base.qcow2" >"$W/short" &&
	virsh_h $free vol-create-as default $IMGVOL 0 --format raw >/dev/null &&
	virsh_h $free vol-upload --pool default $IMGVOL "$W/short" &&
	virsh_h $free pool-refresh default >/dev/null &&
	disk_cluster 3 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(host_of disk-2)" = "$free" ] &&
	running_on $free | grep -qx disk-2 &&
	[ "$(virsh_h $free vol-info --pool default --bytes --physical $IMGVOL | awk "/Physical/ {print \$2}")" = "$(stat -c %s "$W/www/base.qcow2")" ]
'

test_expect_success 'removing a VM with data is held back without consent' '
	h=$(host_of disk-2)
	disk_cluster 2
	rc=0; "$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" = 1 ] &&
	grep -q "held: removing .disk-2. on .h$h. would delete 2 data volumes (vem-$C-disk-2-disk0.qcow2, vem-$C-disk-2-disk1.qcow2)" "$W/out" &&
	grep -q "not converged: 1 change would destroy data without consent" "$W/out" &&
	[ "$(count_vm disk-2)" = 1 ] &&
	virsh_h $h vol-list default | grep -q "vem-$C-disk-2-disk1.qcow2"
'

test_expect_success 'removing a VM deletes its volumes and keeps the shared image' '
	h=$(host_of disk-2)
	disk_cluster 2
	"$VEM" apply $FAST -f "$F" --yes --allow-destroy disk-2 >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	grep -q "DESTROYS DATA: vem-$C-disk-2-disk0.qcow2, vem-$C-disk-2-disk1.qcow2" "$W/out" &&
	[ "$(count_vm disk-2)" = 0 ] &&
	virsh_h $h vol-list default >"$W/vols" &&
	! grep -q "vem-$C-disk-2-" "$W/vols" &&
	grep -q "$IMGVOL" "$W/vols"
'

test_expect_success 'an overlay left by a killed run is reused' '
	# as if a run made disk0 of disk-2 and died before defining the domain
	h=$(for i in 1 2 3; do vms_on $i | grep -q disk- || echo $i; done | head -1)
	imgpath=$(virsh_h $h vol-path --pool default $IMGVOL)
	virsh_h $h vol-create-as default vem-$C-disk-2-disk0.qcow2 48M --format qcow2 \
		--backing-vol "$imgpath" --backing-vol-format qcow2 >/dev/null &&
	key=$(virsh_h $h vol-key --pool default vem-$C-disk-2-disk0.qcow2) &&
	disk_cluster 3 &&
	"$VEM" apply $FAST -f "$F" --yes >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(host_of disk-2)" = "$h" ] &&
	virsh_h $h dumpxml disk-2 | grep -q "vem-$C-disk-2-disk0.qcow2"
'

test_expect_success 'pruning everything removes every vem volume but the images' '
	write_cluster "$F" </dev/null
	"$VEM" apply $FAST -f "$F" --yes --allow-empty --allow-destroy "disk-*" >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	[ "$(all_vms | wc -l)" = 0 ] &&
	for i in 1 2 3; do
		! virsh_h $i vol-list default | grep "vem-$C-" || exit 1
	done
'

# leave the hosts as we found them: drop the uploaded images
for i in 1 2 3; do virsh_h $i vol-delete --pool default $IMGVOL >/dev/null 2>&1; done
test_done
