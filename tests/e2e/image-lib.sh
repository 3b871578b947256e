# tests/e2e/image-lib.sh - an image served over HTTP, for the end-to-end
# tests whose VMs have disks (t0200, t0211). Sourced after vem-lib.sh, with
# $W the test's private directory.
#
#   image_serve           makes $W/www/base.qcow2 (an empty 32 MiB qcow2) and
#                         serves $W/www on 127.0.0.1 (a port of its own); sets
#                         PORT, SHA (its sha256), IMGVOL (the volume name vem
#                         uploads it as) and SRV (the server's pid)
#   image_yaml            the images: section naming it 'base'
#   image_cleanup PREFIX  stops the server and deletes, on every lab host, the
#                         volumes whose name starts with PREFIX and the image's
#                         volume

image_serve() {
	mkdir -p "$W/www"
	qemu-img create -q -f qcow2 "$W/www/base.qcow2" 32M
	SHA=$(sha256sum "$W/www/base.qcow2" | cut -c1-64)
	IMGVOL=vem-image-$(echo "$SHA" | cut -c1-16).qcow2
	(cd "$W/www" && exec python3 -c '
import http.server, os
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open("port.tmp", "w").write(str(s.server_address[1])); os.rename("port.tmp", "port")
s.serve_forever()' >/dev/null 2>&1) &
	SRV=$!
	wait_for "[ -s '$W/www/port' ]" 10 || { echo "http server did not start"; return 1; }
	PORT=$(cat "$W/www/port")
}

image_yaml() {
	cat <<YAML
images:
  - name: base
    url: http://127.0.0.1:$PORT/base.qcow2
    sha256: "$SHA"
    format: qcow2
YAML
}

image_cleanup() {
	local i v
	[ -z "${SRV:-}" ] || kill "$SRV" 2>/dev/null
	for i in 1 2 3; do
		for v in $(virsh_h $i vol-list default 2>/dev/null | awk '{print $1}' |
			   grep -E "^$1|^${IMGVOL:-none}\$"); do
			virsh_h $i vol-delete --pool default "$v" >/dev/null 2>&1
		done
	done
}
