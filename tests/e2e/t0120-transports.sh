#!/usr/bin/env bash
# End-to-end: libvirt's transports work unchanged in `uri:`. One cluster
# whose three lab hosts are reached over a unix socket, over ssh (a
# throwaway sshd on loopback, key authentication, libvirt's netcat proxy to
# the host's socket) and over tcp. Then a host whose ssh key is refused:
# reported within a bounded time with no prompt, the others reconciled, the
# password in its URI never printed. A second ssh client (libssh2) checks the
# host key against a known_hosts= file; tls with the lab CA's certificates,
# and refused with a CA that does not know the host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

lab_up
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || skip_all "sshd is not installed (openssh-server)"
command -v nc >/dev/null || skip_all "nc is not installed (netcat-openbsd): libvirt's ssh transport needs it"
clean_lab_domains
W=$(mktemp -d)
PORT=$((2200 + LAB_ID))
SOCK=/var/lib/vem-lab/$LAB_ID
cleanup() {
	[ -f "$W/sshd.pid" ] && kill "$(cat "$W/sshd.pid")" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$W/key"
ssh-keygen -q -t ed25519 -N '' -f "$W/otherkey"
cat >"$W/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/hostkey
AuthorizedKeysFile $W/key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $W/sshd.pid
EOF
# ssh checks the host key against our own known_hosts (through libvirt's
# command= parameter) rather than root's ~/.ssh: strict, and nothing left behind.
echo "[127.0.0.1]:$PORT $(cut -d" " -f1,2 "$W/hostkey.pub")" >"$W/known_hosts"
printf '#!/bin/sh\nexec ssh -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"\n' \
	"$W/known_hosts" >"$W/ssh"
chmod +x "$W/ssh"
mkdir -p /run/sshd
/usr/sbin/sshd -f "$W/sshd_config" -E "$W/sshd.log" || { echo "sshd did not start"; cat "$W/sshd.log"; exit 1; }
wait_for "[ -s $W/sshd.pid ]" 10

UNIX_URI="qemu+unix:///system?socket=$SOCK/h1/run/libvirt-sock"
H2_SOCK=$SOCK/h2/run/libvirt-sock
SSH_URI="qemu+ssh://root@127.0.0.1:$PORT/system?socket=$H2_SOCK&keyfile=$W/key&command=$W/ssh&proxy=netcat"
LIBSSH2_URI="qemu+libssh2://root@127.0.0.1:$PORT/system?socket=$H2_SOCK&keyfile=$W/key&known_hosts=$W/known_hosts&sshauth=privkey"
TCP_URI="qemu+tcp://10.99.$LAB_ID.13/system"
F=$W/cluster.yaml

transports_cluster() {
	cat >"$F" <<YAML
cluster: e2e$LAB_ID
hosts:
  - {name: h1, uri: "$UNIX_URI", capacity: {cpus: 2, memory: 1GiB}}
  - {name: h2, uri: "$1", capacity: {cpus: 2, memory: 1GiB}}
  - {name: h3, uri: "$TCP_URI", capacity: {cpus: 2, memory: 1GiB}}
templates:
  - {name: tiny, hypervisor: qemu, vcpus: 1, memory: 32MiB, kernel: $GUESTS/idle.elf}
vms:
  - {name: t-unix, template: tiny, placement: {hosts: [h1]}}
  - {name: t-ssh, template: tiny, placement: {hosts: [h2]}}
  - {name: t-tcp, template: tiny, placement: {hosts: [h3]}}
YAML
}
transports_cluster "$SSH_URI"

test_expect_success 'apply over unix, ssh and tcp creates one VM on each host' '
	rc=0; "$VEM" apply $FAST -f "$F" --yes </dev/null >"$W/apply" 2>&1 || rc=$?
	cat "$W/apply"; [ "$rc" = 0 ] &&
	[ "$(running_on 1)" = t-unix ] && [ "$(running_on 2)" = t-ssh ] && [ "$(running_on 3)" = t-tcp ]
'

test_expect_success 'status over the three transports shows every VM in sync' '
	"$VEM" status -f "$F" -o json </dev/null >"$W/status.json" &&
	python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
vms = {v[\"name\"]: v for v in s[\"vms\"]}
assert sorted(vms) == [\"t-ssh\", \"t-tcp\", \"t-unix\"], vms
for v in vms.values():
    assert v[\"in_sync\"] is True and v[\"state\"] == \"running\", v
" "$W/status.json"
'

test_expect_success 'a second apply through the same transports changes nothing' '
	"$VEM" apply $FAST -f "$F" --yes </dev/null >"$W/apply2" 2>&1 &&
	cat "$W/apply2" && grep -q "no changes" "$W/apply2"
'

transports_cluster "$LIBSSH2_URI"
test_expect_success 'the same host over libssh2 (host key checked against known_hosts=)' '
	virsh_h 2 destroy t-ssh >/dev/null || { echo "t-ssh is not running on h2:"; all_vms; cat "$W/apply2"; exit 1; }
	rc=0; "$VEM" apply $FAST -f "$F" --yes </dev/null >"$W/apply-libssh2" 2>&1 || rc=$?
	cat "$W/apply-libssh2"; [ "$rc" = 0 ] &&
	grep -q "start t-ssh on h2" "$W/apply-libssh2" && [ "$(running_on 2)" = t-ssh ]
'

TLS_PKI=/var/lib/vem-lab/$LAB_ID/pki/client
TCP_URI_SAVED=$TCP_URI
if [ -f "$TLS_PKI/clientcert.pem" ]; then
	TCP_URI="qemu+tls://10.99.$LAB_ID.13/system?pkipath=$TLS_PKI"
	transports_cluster "$SSH_URI"
	test_expect_success 'the third host over tls (certificates of the lab CA, verified)' '
		virsh_h 3 destroy t-tcp >/dev/null || { virsh_h 3 list --all; exit 1; }
		rc=0; "$VEM" apply $FAST -f "$F" --yes </dev/null >"$W/apply-tls" 2>&1 || rc=$?
		cat "$W/apply-tls"; [ "$rc" = 0 ] &&
		grep -q "start t-tcp on h3" "$W/apply-tls" && [ "$(running_on 3)" = t-tcp ]
	'
	# a client whose CA did not sign the host certificate
	mkdir -p "$W/otherpki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=another CA" \
		-keyout "$W/otherpki/cakey.pem" -out "$W/otherpki/cacert.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=client" \
		-keyout "$W/otherpki/clientkey.pem" -out "$W/otherpki/client.csr" 2>/dev/null
	openssl x509 -req -in "$W/otherpki/client.csr" -CA "$W/otherpki/cacert.pem" \
		-CAkey "$W/otherpki/cakey.pem" -CAcreateserial -days 1 -out "$W/otherpki/clientcert.pem" 2>/dev/null
	TCP_URI="qemu+tls://10.99.$LAB_ID.13/system?pkipath=$W/otherpki"
	transports_cluster "$SSH_URI"
	test_expect_success 'tls with a CA that does not know the host: refused, partial run' '
		rc=0; "$VEM" plan -f "$F" </dev/null >"$W/plan-tls" 2>&1 || rc=$?
		cat "$W/plan-tls"; [ "$rc" = 3 ] && grep -q "h3" "$W/plan-tls" &&
		grep -qi "certificate" "$W/plan-tls"
	'
else
	test_skip 'tls transport' "the lab has no certificates (openssl missing when it came up)"
fi
TCP_URI=$TCP_URI_SAVED

transports_cluster "qemu+ssh://root:s3cretpw@127.0.0.1:$PORT/system?socket=$H2_SOCK&keyfile=$W/otherkey&command=$W/ssh&proxy=netcat"
test_expect_success 'a refused ssh key: partial run, no prompt, bounded time, no password shown' '
	virsh_h 1 destroy t-unix >/dev/null || { virsh_h 1 list --all; exit 1; }
	start=$(date +%s)
	rc=0; setsid -w "$VEM" apply $FAST -f "$F" --yes --connect-timeout 10s </dev/null >"$W/apply3" 2>&1 || rc=$?
	end=$(date +%s)
	cat "$W/apply3"; echo "exit $rc after $((end - start)) s"
	[ "$rc" = 3 ] && grep -q "h2" "$W/apply3" &&
	! grep -q s3cretpw "$W/apply3" &&
	[ $((end - start)) -lt 30 ] &&
	[ "$(running_on 1)" = t-unix ]
'

clean_lab_domains
test_done
