#!/usr/bin/env bash
# contrib/install-deps.sh - install what vem needs to build, test and run its
# local lab on Debian 12 (as root). Safe to run again: apt skips what is there.
#
#   contrib/install-deps.sh          build, tests and the lab
#   contrib/install-deps.sh --bench  also the peers the benchmarks compare against
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi
pkgs=(
	# build
	build-essential pkg-config git
	libyaml-dev libvirt-dev libcurl4-openssl-dev libgit2-dev libssl-dev
	# sanitizers and fuzzing
	clang libclang-rt-14-dev
	# the local lab: libvirt daemons, QEMU, namespaces, guest kernels; bindfs
	# mounts its shared directory through FUSE as fuse.glusterfs, which libvirt
	# counts as shared storage (live migration on it: contrib/lab/vem-lab)
	libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
	iproute2 binutils procps util-linux bindfs
	# LXC containers in the lab hosts; the lab's real Linux guest (its kernel
	# is fetched with `apt-get download`, not installed; its initramfs carries
	# this machine's qemu-ga and the libraries it loads: contrib/lab/guests/linux)
	libvirt-daemon-driver-lxc busybox-static cpio kmod qemu-guest-agent
	# sources, images and cloud-init tests
	gnupg gpgv python3 python3-jsonschema python3-yaml genisoimage ca-certificates curl
	openssh-client openssh-server netcat-openbsd
	# metrics: promtool (unit tests) and a real Prometheus server (e2e)
	prometheus
)
if [ "${1:-}" = --bench ]; then
	pkgs+=(ganeti-htools ansible python3-libvirt hyperfine)
fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}" >&2
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all dependencies present" >&2
