#!/usr/bin/env bash
# End-to-end: the trust boundary for cluster sources (docs/security.md).
# A cluster from git (git+file:// here, and a loopback http server that
# redirects) may not run commands or read files of the machine running vem;
# the same file from a local checkout is trusted. Also: submodules, the
# subdir-only checkout and its limits, bounded -f input, secrets in output,
# huge durations. Needs no lab: validate and resolve contact no host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

command -v git >/dev/null || skip_all "git is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache HOME=$W GIT_CONFIG_NOSYSTEM=1
export VEM_TRUSTED_HOSTS_FILE=$W/trusted-hosts
unset VEM_TRUSTED_HOSTS
SRV=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$W"' EXIT
git config --global user.email e2e@example.org
git config --global user.name e2e
git config --global init.defaultBranch main
git config --global protocol.file.allow always


git init -q "$W/work"
mkdir -p "$W/work/prod" "$W/work/other"
cat >"$W/work/prod/cluster.yaml" <<'YAML'
cluster: t
hosts:
  - {name: h1, uri: "qemu+tcp://10.0.0.1/system"}
templates:
  - {name: tiny, memory: 32MiB, kernel: /var/lib/vem/guests/idle.elf}
vms:
  - {name: web, template: tiny}
YAML
for i in 1 2 3 4 5; do echo "$i" >"$W/work/other/f$i.txt"; done
(cd "$W/work" && git add -A && git commit -q -m base)
SRC="git+file://$W/work//prod?ref=main"

# commit_file PATH CONTENT: replace prod/PATH and commit
commit_file() {
	printf '%s\n' "$2" >"$W/work/prod/$1"
	(cd "$W/work" && git add -A && git commit -q -m "$1")
}
# hosts_with URI: the cluster with one host of that URI
hosts_with() {
	printf 'cluster: t\nhosts:\n  - {name: h1, uri: "%s"}\n' "$1"
}

test_expect_success 'a plain cluster loads from git, only its subdir checked out' '
	"$VEM" validate -f "$SRC" &&
	tree=$(ls -d "$VEM_CACHE_DIR"/git/*/trees/*) &&
	[ -f "$tree/prod/cluster.yaml" ] && [ ! -e "$tree/other" ]
'

test_expect_success 'checkout limits: too many files or bytes is a clear error' '
	! VEM_MAX_CHECKOUT_FILES=3 "$VEM" validate -f "git+file://$W/work?ref=main" 2>"$W/err" &&
	grep -q "more than 3 files to check out (VEM_MAX_CHECKOUT_FILES raises the limit)" "$W/err" &&
	! VEM_MAX_CHECKOUT_BYTES=10B "$VEM" validate -f "git+file://$W/work?ref=main" 2>"$W/err" &&
	grep -q "more than 10B to check out (VEM_MAX_CHECKOUT_BYTES" "$W/err"
'

test_expect_success 'a repository with a submodule loads; the submodule is ignored with a note' '
	git init -q "$W/subrepo" && echo x >"$W/subrepo/x" &&
	(cd "$W/subrepo" && git add -A && git commit -q -m sub) &&
	(cd "$W/work" && git submodule -q add "$W/subrepo" prod/vendor && git commit -q -m submodule) &&
	"$VEM" validate -f "$SRC" 2>"$W/err" &&
	grep -q "note: .*ignoring git submodule '\''prod/vendor'\''" "$W/err" &&
	(cd "$W/work" && git rm -q -r prod/vendor .gitmodules && git commit -q -m nosub)
'

test_expect_success 'command= from git is refused, naming host, parameter and the way to allow it' '
	commit_file cluster.yaml "$(hosts_with "qemu+ssh://10.0.0.7/system?command=/tmp/evil.sh")" &&
	! "$VEM" validate -f "$SRC" 2>"$W/err" &&
	grep -q "host '\''h1'\'': URI parameter '\''command'\'' is refused in a cluster from git or https" "$W/err" &&
	grep -q "add '\''10.0.0.7'\'' (or the whole URI) to /etc/vem/trusted-hosts or VEM_TRUSTED_HOSTS" "$W/err"
'

test_expect_success '... allowed for a host listed in the trusted-hosts file' '
	echo "10.0.0.7" >"$W/trusted-hosts" &&
	"$VEM" validate -f "$SRC" && rm "$W/trusted-hosts"
'

test_expect_success '... and the same file from a local checkout is trusted as before' '
	git clone -q "$W/work" "$W/local" &&
	"$VEM" validate -f "$W/local/prod/cluster.yaml"
'

test_expect_success 'the ext transport, keyfile= and pkipath= from git are refused' '
	for u in "qemu+ext:///system?command=/bin/true" "qemu+ssh://h/system?keyfile=/root/.ssh/id_rsa" \
		 "qemu+tls://h/system?pkipath=/root"; do
		commit_file cluster.yaml "$(hosts_with "$u")" &&
		! "$VEM" validate -f "$SRC" 2>"$W/err" && grep -q "refused in a cluster from git" "$W/err" || exit 1
	done
'

test_expect_success 'user-data: /etc/shadow, ../ and in-repo symlinks out are refused' '
	for p in /etc/shadow ../../../../../../etc/passwd link; do
		ln -sfn /etc/passwd "$W/work/prod/link" &&
		commit_file cluster.yaml "$(printf "cluster: t\nhosts:\n  - {name: h1, uri: \"qemu:///system\"}\ntemplates:\n  - {name: x, memory: 32MiB, cloud-init: {user-data: %s}}\n" "$p")" &&
		! "$VEM" validate -f "$SRC" 2>"$W/err" &&
		grep -qE "absolute path|not a file inside the source" "$W/err" &&
		! grep -q "root:" "$W/err" || exit 1
	done
'

test_expect_success 'a *.yaml symlinked to a file outside is refused, not quoted' '
	git -C "$W/work" rm -q -f prod/link &&
	commit_file cluster.yaml "$(hosts_with "qemu:///system")" &&
	ln -sfn /etc/passwd "$W/work/prod/zz.yaml" && commit_file x.txt x &&
	! "$VEM" validate -f "$SRC" 2>"$W/err" &&
	grep -q "zz.yaml:1:1: resolves outside the source" "$W/err" && ! grep -q "root:" "$W/err" &&
	git -C "$W/work" rm -q prod/zz.yaml && git -C "$W/work" commit -q -m rm
'

test_expect_success 'a //subdir that is a symlink out of the repository is refused' '
	mkdir -p "$W/outside" && hosts_with "qemu:///system" >"$W/outside/c.yaml" &&
	ln -sfn "$W/outside" "$W/work/away" && (cd "$W/work" && git add -A && git commit -q -m away) &&
	! "$VEM" validate -f "git+file://$W/work//away?ref=main" 2>"$W/err" &&
	grep -q "resolves outside the source" "$W/err"
'

test_expect_success 'file:// images from git are refused' '
	commit_file cluster.yaml "$(printf "cluster: t\nhosts:\n  - {name: h1, uri: \"qemu:///system\"}\nimages:\n  - {name: i, url: \"file:///etc/shadow\", sha256: \"%064d\"}\n" 0)" &&
	! "$VEM" validate -f "$SRC" 2>"$W/err" && grep -q "file:// URLs are refused" "$W/err"
'

# the server runs beside the tests (not in a test's subshell) so that the
# EXIT trap stops it
python3 "$TOP/tests/e2e/redirect-server.py" "$W/port" relative & SRV=$!
for i in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
test_expect_success 'a git http server that redirects (relative) is refused, without a crash' '
	rc=0; "$VEM" validate -f "git+http://127.0.0.1:$(cat "$W/port")/repo.git?ref=main" 2>"$W/err" || rc=$?
	cat "$W/err"; [ "$rc" = 1 ] &&
	grep -q "the server redirects (HTTP 302 to .*/elsewhere/repo.git/info/refs.*); vem does not follow redirects" "$W/err"
'

test_expect_success 'validate -o json and errors never show passwords or tokens' '
	printf "cluster: t\nhosts:\n  - {name: h1, uri: \"qemu+ssh://root:p@ss@h1/system?token=t0k\"}\n  - {name: h2, uri: \"qemu+ssh://root:hunter2@h2/sys tem\"}\n" >"$W/s.yaml" &&
	! "$VEM" validate -f "$W/s.yaml" 2>"$W/err" && ! grep -q hunter2 "$W/err" &&
	sed -i "/h2/d" "$W/s.yaml" &&
	"$VEM" validate -f "$W/s.yaml" -o json >"$W/out" &&
	grep -q "qemu+ssh://root:\*\*\*\*@h1/system?token=\*\*\*\*" "$W/out" &&
	! grep -qE "p@ss|t0k" "$W/out"
'

test_expect_success '-f /dev/zero and a FIFO give a clear error at once' '
	mkfifo "$W/fifo.yaml" &&
	! timeout 10 "$VEM" validate -f /dev/zero 2>"$W/err" && grep -q "not a regular file" "$W/err" &&
	! timeout 10 "$VEM" validate -f "$W/fifo.yaml" 2>"$W/err" && grep -q "not a regular file" "$W/err"
'

test_expect_success '--every 106751991167d is a clear error' '
	rc=0; "$VEM" reconcile -f "$W/s.yaml" --every 106751991167d 2>"$W/err" || rc=$?
	[ "$rc" = 64 ] && grep -q "duration is too large (at most 100 years)" "$W/err"
'

echo "# hostile inputs: 19 (command=, ext, keyfile=, pkipath=, 3 cloud-init paths, 2 symlinks out, file:// image, redirect, submodule, 2 checkout limits, 2 secrets, /dev/zero, FIFO, --every)"
test_done
