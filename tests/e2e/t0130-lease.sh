#!/usr/bin/env bash
# End-to-end: the cluster lease fences (issue 8, item 4). A holder stopped
# with SIGSTOP past its ttl loses the lease to a second holder and, resumed,
# knows it (lease_lost, lease_check) and leaves the second's lease alone; a
# holder on "another machine" (another pid namespace and machine id) that
# has this machine's hostname is not taken while it renews.
# The holders are tests/tools/vem-lease-hold (the lease API, as vem uses it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

HOLD=${HOLD:-$TOP/${BUILD:-build-san}/tools/vem-lease-hold}
[ -x "$HOLD" ] || HOLD=$TOP/build/tools/vem-lease-hold
[ -x "$HOLD" ] || skip_all "tests/tools/vem-lease-hold is not built (make units)"

lab_up
clean_lab_domains
W=$(mktemp -d)
PIDS=
cleanup() {
	local p
	for p in $PIDS; do
		kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT
F=$W/cluster.yaml
write_cluster "$F" </dev/null
LEASE=vem-lease-e2e$LAB_ID

# lease_uuids: the lease's UUID on h1..h3 ("-" where there is none), one line
lease_uuids() {
	local i u
	for i in 1 2 3; do
		u=$(virsh_h "$i" domuuid "$LEASE" 2>/dev/null) || u=-
		printf '%s ' "${u:--}"
	done
	echo
}

# token FILE: the token a holder printed
token() { sed -n 's/^acquired //p' "$1"; }

test_expect_success 'a holder stopped past its ttl is fenced and leaves the new lease alone' '
	"$HOLD" "$F" 3000 0 30000 >"$W/a" 2>&1 &
	a=$!; PIDS="$PIDS $a"
	wait_for "grep -q ^acquired $W/a" 20
	A=$(token "$W/a")
	[ -n "$A" ]
	[ "$(lease_uuids)" = "$A $A $A " ]
	kill -STOP "$a"
	start=$(date +%s%N)
	"$HOLD" "$F" 3000 20000 12000 >"$W/b" 2>&1 &
	b=$!; PIDS="$PIDS $b"
	wait_for "grep -q ^acquired $W/b" 30
	took=$(( ($(date +%s%N) - start) / 1000000 ))
	B=$(token "$W/b")
	echo "A=$A B=$B; the second took the lease after $took ms"
	[ -n "$B" ] && [ "$B" != "$A" ] && [ "$took" -ge 3000 ]
	[ "$(lease_uuids)" = "$B $B $B " ]
	kill -CONT "$a"
	rc=0; wait "$a" || rc=$?
	echo "--- first (exit $rc):"; cat "$W/a"
	[ "$rc" = 3 ] && grep -q "^lost" "$W/a"
	grep -q "^check failed: lease of cluster .e2e$LAB_ID. lost: " "$W/a"
	# the first has released: the second still holds everywhere, and renews
	[ "$(lease_uuids)" = "$B $B $B " ]
	rc=0; wait "$b" || rc=$?
	echo "--- second (exit $rc):"; cat "$W/b"
	[ "$rc" = 0 ] && grep -q "^check ok" "$W/b"
	[ "$(lease_uuids)" = "- - - " ]
'

test_expect_success 'vem apply names a live holder and does not take its lease' '
	"$HOLD" "$F" 3000 0 8000 >"$W/c" 2>&1 &
	c=$!; PIDS="$PIDS $c"
	wait_for "grep -q ^acquired $W/c" 20
	C=$(token "$W/c")
	rc=0; "$VEM" apply $FAST -f "$F" --yes --lease-wait 4s --lease-ttl 3s >"$W/apply" 2>&1 || rc=$?
	cat "$W/apply"
	[ "$rc" = 4 ] && grep -q "held by .* pid $c since" "$W/apply"
	[ "$(lease_uuids)" = "$C $C $C " ]
	wait "$c"
'

if command -v unshare >/dev/null && unshare -p -f -m --mount-proc true 2>/dev/null; then
	test_expect_success 'a holder on another machine with our hostname is not taken while it renews' '
		echo 0123456789abcdef0123456789abcdef >"$W/machine-id"
		unshare -p -f -m --mount-proc sh -c \
			"mount --bind $W/machine-id /etc/machine-id && exec $HOLD $F 3000 0 16000" \
			>"$W/d" 2>&1 &
		d=$!; PIDS="$PIDS $d"
		wait_for "grep -q ^acquired $W/d" 20
		D=$(token "$W/d")
		virsh_h 1 metadata "$LEASE" https://vem.dev/xmlns/vem/1 | tee "$W/meta"
		# its pid is 1 (its own pid namespace), its hostname ours, its
		# machine id not: a waiter here must wait for the ttl
		grep -q "<pid>1</pid>" "$W/meta"
		grep -q "<hostname>$(hostname)</hostname>" "$W/meta"
		grep -q "<machine>0123456789abcdef0123456789abcdef</machine>" "$W/meta"
		rc=0; "$HOLD" "$F" 3000 6000 0 >"$W/e" 2>&1 || rc=$?
		cat "$W/e"
		[ "$rc" = 4 ] && grep -q "is busy" "$W/e"
		[ "$(lease_uuids)" = "$D $D $D " ]
		rc=0; "$VEM" apply $FAST -f "$F" --yes --lease-wait 4s --lease-ttl 3s >"$W/apply" 2>&1 || rc=$?
		cat "$W/apply"
		[ "$rc" = 4 ] && grep -q "held by root@.* pid 1 since" "$W/apply"
		[ "$(lease_uuids)" = "$D $D $D " ]
		wait "$d"
	'
else
	test_skip 'a holder on another machine with our hostname is not taken while it renews' \
		'unshare -p -f -m --mount-proc does not work here'
fi

clean_lab_domains
test_done
