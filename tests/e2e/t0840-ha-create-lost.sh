#!/usr/bin/env bash
# End-to-end: a create whose host stops answering under the run says the
# host stopped answering, not that the host lacks a storage pool. vem apply
# runs on a terminal (a pty) and stops at its confirmation prompt, after it
# has connected to every host and planned the create on h3; h3 is then cut
# off (partition) and the answer given. The create's first calls fail once
# the kernel gives up the connection (TCP_USER_TIMEOUT, ~2 s); before the
# fix the message was "host 'h3' has no storage pool 'default' (create
# one, ...)".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"
. "$(dirname "$0")/ha-lib.sh"

ha_lab
W=$(mktemp -d)
trap '"$VEM_LAB" --id "$LAB_ID" heal-host h3 >/dev/null 2>&1; ha_cleanup; rm -rf "$W"' EXIT
F=$W/cluster.yaml
write_ha_cluster "$F" 60s <<YAML
vms:
  - {name: c, template: sd, placement: {hosts: [h3]}}
YAML

# drive: run vem apply on a pty; at the prompt, cut h3 off and answer yes
cat >"$W/drive.py" <<'PY'
import os, pty, subprocess, sys, time
argv, cut = sys.argv[1:-1], sys.argv[-1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, deadline = b"", time.time() + 60
while b"Apply these changes?" not in out and time.time() < deadline:
    try:
        out += os.read(fd, 4096)
    except OSError:
        break
if b"Apply these changes?" in out:
    subprocess.run(cut, shell=True)
    os.write(fd, b"yes\n")
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY

test_expect_success 'h3 cut off between the plan and the create: the message says it stopped answering' '
	rc=0
	python3 "$W/drive.py" "$VEM" apply -f "$F" --connect-timeout 1s \
		"\"$VEM_LAB\" --id $LAB_ID fail-host h3 partition >/dev/null 2>&1" >"$W/out" 2>&1 || rc=$?
	cat "$W/out" | tr -d "\r"
	[ "$rc" != 0 ] &&
	grep -q "create c on h3" "$W/out" &&
	grep -q "host .h3. stopped answering" "$W/out" &&
	! grep -q "has no storage pool" "$W/out" &&
	grep -q "1 failed, partial (hosts unreachable) after" "$W/out" &&
	! grep -q ", converged after" "$W/out"
'
test_done
