#!/usr/bin/env bash
# End-to-end: GitOps on the lab. The cluster lives in a bare git repository
# read as git+file://; `vem reconcile --every` picks up a commit that changes
# replicas in its next round; SIGTERM stops it cleanly; the post-receive
# hook reconciles pushes to the deploy branch only; --require-signed-by
# refuses an unsigned head.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

command -v git >/dev/null || skip_all "git is not installed"
lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache HOME=$W GIT_CONFIG_NOSYSTEM=1
RP=
trap '[ -n "$RP" ] && kill $RP 2>/dev/null; clean_lab_domains; rm -rf "$W"' EXIT
git config --global user.email e2e@example.org
git config --global user.name e2e
git config --global init.defaultBranch main

git init -q --bare "$W/repo.git"
git clone -q "$W/repo.git" "$W/work" 2>/dev/null
mkdir -p "$W/work/prod"

# commit_replicas N [MESSAGE]: the cluster with N replicas of 'web', pushed
commit_replicas() {
	write_cluster "$W/work/prod/cluster.yaml" <<YAML
vms:
  - name: web
    template: tiny
    replicas: $1
YAML
	(cd "$W/work" && git add -A && git commit -q -m "${2:-web x $1}" && git push -q origin HEAD:main)
}

SRC="git+file://$W/repo.git//prod?ref=main"

test_expect_success 'reconcile --once applies the branch tip and names its commit' '
	commit_replicas 1 &&
	rev=$(git -C "$W/work" rev-parse HEAD | cut -c1-12) &&
	"$VEM" reconcile --once $FAST -f "$SRC" >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] &&
	grep -qE "^[0-9-]+T[0-9:]+Z round 1: rev $rev: converged, 1 action, " "$W/out" &&
	[ "$(count_vm web-0)" = 1 ]
'

test_expect_success 'each VM records the commit it was made from' '
	rev=$(git -C "$W/work" rev-parse HEAD) &&
	h=$(all_vms | awk "\$2 == \"web-0\" { sub(\"h\", \"\", \$1); print \$1 }") &&
	virsh_h $h dumpxml web-0 | grep -q "$rev"
'

# the loop runs in this shell (test bodies are subshells: they cannot wait for it)
"$VEM" reconcile --every 2s --jitter 0 $FAST -f "$SRC" >"$W/loop" 2>&1 &
RP=$!
test_expect_success 'a commit is applied by the next round of reconcile --every' '
	wait_for "grep -q \"round 1:\" $W/loop" 60 &&
	commit_replicas 3 &&
	rev=$(git -C "$W/work" rev-parse HEAD | cut -c1-12) &&
	wait_for "grep -q \"rev $rev: converged, 2 actions\" $W/loop" 90 &&
	[ "$(all_vms | grep -c " web-")" = 3 ] &&
	cat "$W/loop"
'

kill -TERM $RP
RC=0; wait $RP || RC=$?
RP=
test_expect_success 'SIGTERM stops the loop cleanly with exit 0' '
	cat "$W/loop"
	[ "$RC" = 0 ] && tail -1 "$W/loop" | grep -q "stopped by signal" &&
	# every round printed exactly one line
	! grep -vE "round [0-9]+: |stopped by signal" "$W/loop"
'

test_expect_success 'a bad commit fails its round and changes nothing' '
	echo "vms: [ {name: broken" >"$W/work/prod/cluster.yaml" &&
	(cd "$W/work" && git commit -q -am broken && git push -q origin HEAD:main) &&
	rc=0; "$VEM" reconcile --once $FAST -f "$SRC" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" != 0 ] &&
	grep -q "round 1: .*failed" "$W/out" &&
	[ "$(all_vms | grep -c " web-")" = 3 ]
'

test_expect_success 'post-receive hook: a push to another branch is ignored' '
	commit_replicas 3 "repair" &&
	cp "$TOP/contrib/git/post-receive" "$W/repo.git/hooks/post-receive" &&
	git -C "$W/repo.git" config vem.subdir prod &&
	git -C "$W/repo.git" config vem.command "$VEM" &&
	git -C "$W/repo.git" config vem.args "$FAST --lease-wait 60s" &&
	(cd "$W/work" && git checkout -q -b feature && write_cluster prod/cluster.yaml <<YAML &&
vms:
  - name: web
    template: tiny
    replicas: 1
YAML
	git commit -q -am one && git push origin HEAD:feature) >"$W/push" 2>&1
	cat "$W/push"
	grep -q -- "-> feature" "$W/push" &&
	! grep -q "vem: reconciling" "$W/push" &&
	[ "$(all_vms | grep -c " web-")" = 3 ]
'

test_expect_success 'post-receive hook: a push to the deploy branch is reconciled' '
	(cd "$W/work" && git checkout -q main && write_cluster prod/cluster.yaml <<YAML &&
vms:
  - name: web
    template: tiny
    replicas: 4
YAML
	git commit -q -am four && git push origin HEAD:main) >"$W/push" 2>&1
	cat "$W/push"
	grep -q "remote: vem: reconciling main" "$W/push" &&
	grep -q "remote: .*round 1: rev .*: converged" "$W/push" &&
	[ "$(all_vms | grep -c " web-")" = 4 ]
'

test_expect_success 'post-receive hook: vem.branch selects the deploy branch' '
	git -C "$W/repo.git" config vem.branch production &&
	(cd "$W/work" && git push origin HEAD:production) >"$W/push" 2>&1
	cat "$W/push"
	grep -q "remote: vem: reconciling production" "$W/push"
'

if command -v gpg >/dev/null && command -v gpgv >/dev/null; then
test_expect_success '--require-signed-by refuses an unsigned head and accepts a signed one' '
	export GNUPGHOME=$W/gnupg; mkdir -m 700 "$GNUPGHOME" &&
	gpg -q --batch --passphrase "" --quick-gen-key "e2e <e2e@example.org>" ed25519 sign never 2>/dev/null &&
	gpg -q --batch --export >"$W/trusted.gpg" &&
	rc=0; "$VEM" reconcile --once $FAST -f "$SRC" --require-signed-by "$W/trusted.gpg" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"; [ "$rc" != 0 ] && grep -q "is not signed" "$W/out" &&
	(cd "$W/work" && git -c user.signingkey=e2e@example.org commit -q -S --allow-empty -m signed &&
	 git push -q origin HEAD:main) &&
	"$VEM" reconcile --once $FAST -f "$SRC" --require-signed-by "$W/trusted.gpg" >"$W/out" 2>&1; rc=$?
	cat "$W/out"; [ "$rc" = 0 ] && grep -q "converged" "$W/out"
'
else
test_skip '--require-signed-by' 'gpg or gpgv not installed'
fi

test_done
