#!/usr/bin/env bash
# contrib/demo.sh - vem's main job on a local default: install what is
# missing, build, start a lab of three real libvirt hosts on this machine,
# apply examples/clusters/lab.yaml and show the cluster's status.
#
#   contrib/demo.sh          (as root)
#   contrib/lab/vem-lab down removes the lab again
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it starts libvirt daemons in network namespaces)" >&2
	exit 1
fi
contrib/install-deps.sh
make -s all guests
VEM_LAB_ID=0 contrib/lab/vem-lab up >/dev/null
echo "--- plan"
./vem plan -f examples/clusters/lab.yaml || true
echo "--- apply"
./vem apply -f examples/clusters/lab.yaml --yes
echo "--- status"
./vem status -f examples/clusters/lab.yaml
