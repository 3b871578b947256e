# tests/e2e/lib.sh - harness for end-to-end tests on real libvirt hosts,
# in the style of git's t/test-lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'title' 'commands'   # run in a subshell; ok/not ok
#   test_skip 'title' 'reason'
#   test_done                                # "N passed, N failed[, N skipped]"
#
# Helpers: lab_up (starts or reuses the lab VEM_LAB_ID, default 0),
# lab_down, virsh_h N ARGS..., wait_for 'CMD' SECONDS, skip_all 'reason'.
# The lab stays up between test scripts; tests/run takes it down at the end
# unless VEM_LAB_KEEP=1.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TOP
export VEM_LAB_ID=${VEM_LAB_ID:-0}
# the sanitizer settings of tests/run, for a script run on its own
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
VEM_LAB=$TOP/contrib/lab/vem-lab
[ -x "$TOP/vem" ] && PATH=$TOP:$PATH
export PATH

test_count=0 test_pass=0 test_fail=0 test_skipped=0
test_verbose=${TEST_VERBOSE:-1}

test_expect_success() {
	local title=$1 body=$2 out rc
	test_count=$((test_count + 1))
	out=$(mktemp)
	( set -e; eval "$body" ) >"$out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		test_pass=$((test_pass + 1))
		echo "ok $test_count - $title"
		[ "${TEST_VERBOSE:-0}" = 2 ] && sed 's/^/    /' "$out"
	else
		test_fail=$((test_fail + 1))
		echo "not ok $test_count - $title (exit $rc)"
		sed 's/^/    /' "$out"
	fi
	rm -f "$out"
	return 0
}

test_skip() {
	test_count=$((test_count + 1))
	test_skipped=$((test_skipped + 1))
	echo "ok $test_count # skip $1 ($2)"
}

test_done() {
	if [ "$test_skipped" -gt 0 ]; then
		echo "$test_pass passed, $test_fail failed, $test_skipped skipped"
	else
		echo "$test_pass passed, $test_fail failed"
	fi
	[ "$test_fail" = 0 ]
	exit $?
}

skip_all() {
	echo "skipped: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

lab_up() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces and libvirtd)"
	command -v libvirtd >/dev/null || skip_all "libvirtd is not installed"
	command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is not installed"
	"$VEM_LAB" --id "$VEM_LAB_ID" up >/dev/null || { echo "lab did not come up"; exit 1; }
	LAB_URIS=$("$VEM_LAB" --id "$VEM_LAB_ID" uris)
	H1=$(sed -n 1p <<<"$LAB_URIS"); H2=$(sed -n 2p <<<"$LAB_URIS"); H3=$(sed -n 3p <<<"$LAB_URIS")
	export LAB_URIS H1 H2 H3
}

lab_down() {
	"$VEM_LAB" --id "$VEM_LAB_ID" down >/dev/null 2>&1
}

# virsh_h N ARGS...: virsh against lab host hN
virsh_h() {
	local n=$1; shift
	timeout 60 virsh -q -c "qemu+tcp://10.99.$VEM_LAB_ID.$((10 + n))/system" "$@"
}

# wait_for 'CMD' SECONDS: poll CMD every 0.2 s until it succeeds
wait_for() {
	local cmd=$1 secs=${2:-10} end
	end=$(( $(date +%s) + secs ))
	while ! eval "$cmd" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
