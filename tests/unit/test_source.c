/*
 * Unit tests: sources. A bare repository made with the git CLI in a temp
 * dir, served as git+file://; refs, subdirs, errors, fetch of new commits,
 * signed commits (throwaway gpg key in a temp GNUPGHOME); local files and
 * directories; http:// refused off loopback.
 */
#include "test.h"
#include "source/source.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * libgit2 1.5's ssh transport leaks a libssh2 known-hosts object per
 * connection; with fast unwinding the stack ends inside libssh2 and
 * tests/lsan.supp's "leak:libgit2.so" does not match it. Slow unwinding
 * shows libgit2 (only this test binary pays for it).
 */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static char tmpdir[] = "/tmp/vem-test-source.XXXXXX";
static char *bare, *work, *cache;
static bool have_git, have_gpg;

/* Run a shell command; 0 on success. */
static int sh(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	free(cmd);
	return rc;
}

static char *sh_out(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char buf[256] = "";
	if (!p)
		return NULL;
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static int resolve(const char *spec, const char *keyring, struct source *s, struct errbuf *e)
{
	struct source_options o;
	memset(&o, 0, sizeof(o));
	o.cache_dir = cache;
	o.require_signed_by = keyring;
	return source_resolve(spec, &o, s, e);
}

static bool file_has(const char *path, const char *needle)
{
	struct strbuf sb = STRBUF_INIT;
	bool r = !strbuf_read_file(&sb, path, 0) && strstr(sb.buf, needle);
	strbuf_release(&sb);
	return r;
}

static int setup_repo(void)
{
	bare = xasprintf("%s/repo.git", tmpdir);
	work = xasprintf("%s/work", tmpdir);
	cache = xasprintf("%s/cache", tmpdir);
	return sh("set -e; export GIT_CONFIG_NOSYSTEM=1 HOME=%s;"
		  "git init -q --bare -b main %s; git init -q -b main %s; cd %s;"
		  "git config user.email t@example.org; git config user.name tester;"
		  "mkdir -p clusters/lab; echo 'cluster: one' > clusters/lab/cluster.yaml;"
		  "echo 'top: 1' > top.yaml;"
		  "git add -A; git commit -q -m one; git tag v1;"
		  "echo 'cluster: two' > clusters/lab/cluster.yaml; git commit -q -am two;"
		  "git checkout -q -b other; echo 'cluster: other' > clusters/lab/cluster.yaml;"
		  "git commit -q -am other; git checkout -q main;"
		  "git push -q %s main other v1",
		  tmpdir, bare, work, work, bare);
}

static char *rev_of(const char *what)
{
	char *cmd = xasprintf("git -C %s rev-parse %s", work, what);
	char *r = sh_out(cmd);
	free(cmd);
	return r;
}

TEST(git_branch_tag_commit_subdir)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *spec, *p;
	char *main_rev = rev_of("main"), *v1_rev = rev_of("v1^{commit}"), *other = rev_of("other");

	/* default branch, subdir */
	spec = xasprintf("git+file://%s//clusters/lab", bare);
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, main_rev);
	p = xasprintf("%s/cluster.yaml", s.local_path ? s.local_path : "");
	CHECK(file_has(p, "cluster: two"));
	CHECK(str_starts_with(s.local_path, cache));
	CHECK(s.display && strstr(s.display, "//clusters/lab"));
	free(p);
	source_release(&s);
	free(spec);

	/* a tag */
	spec = xasprintf("git+file://%s//clusters/lab?ref=v1", bare);
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, v1_rev);
	p = xasprintf("%s/cluster.yaml", s.local_path ? s.local_path : "");
	CHECK(file_has(p, "cluster: one"));
	free(p);
	source_release(&s);
	free(spec);

	/* a branch */
	spec = xasprintf("git+file://%s//clusters/lab/cluster.yaml?ref=other", bare);
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, other);
	CHECK(s.local_path && file_has(s.local_path, "cluster: other"));
	source_release(&s);
	free(spec);

	/* a commit, abbreviated */
	spec = xasprintf("git+file://%s?ref=%.10s", bare, v1_rev);
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, v1_rev);
	p = xasprintf("%s/top.yaml", s.local_path ? s.local_path : "");
	CHECK(file_has(p, "top: 1"));
	free(p);
	source_release(&s);
	free(spec);

	CHECK_INT(e.nr, 0);
	err_print(&e, stderr, "unexpected");
	errbuf_release(&e);
	free(main_rev);
	free(v1_rev);
	free(other);
}

TEST(git_errors)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *spec;

	spec = xasprintf("git+file://%s?ref=no-such-branch", bare);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "unknown ref 'no-such-branch'"));
	CHECK(strstr(err_msg(&e), "repo.git"));
	CHECK(s.local_path == NULL);
	errbuf_release(&e);
	free(spec);

	spec = xasprintf("git+file://%s//no/such/dir", bare);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "path 'no/such/dir' is not in the repository at commit"));
	errbuf_release(&e);
	free(spec);

	spec = xasprintf("git+file://%s/does-not-exist.git", tmpdir);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "does-not-exist.git"));
	CHECK(strstr(err_msg(&e), "cannot reach repository"));
	errbuf_release(&e);
	free(spec);

	spec = xasprintf("git+file://%s//../../etc", bare);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "must be a relative path"));
	errbuf_release(&e);
	free(spec);

	spec = xasprintf("git+file://%s?branch=main", bare);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "?ref="));
	errbuf_release(&e);
	free(spec);
}

TEST(git_fetch_new_commit)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s1, s2;
	char *spec = xasprintf("git+file://%s//clusters/lab", bare);
	char *before, *after;

	CHECK(resolve(spec, NULL, &s1, &e) == 0);
	CHECK(!sh("set -e; export HOME=%s; cd %s; echo 'cluster: three' > clusters/lab/cluster.yaml;"
		  "git commit -q -am three; git push -q %s main", tmpdir, work, bare));
	CHECK(resolve(spec, NULL, &s2, &e) == 0);
	after = rev_of("main");
	CHECK_STR(s2.revision, after);
	CHECK(s1.revision && s2.revision && strcmp(s1.revision, s2.revision));
	before = xasprintf("%s/cluster.yaml", s2.local_path ? s2.local_path : "");
	CHECK(file_has(before, "cluster: three"));
	CHECK_INT(e.nr, 0);
	err_print(&e, stderr, "unexpected");
	free(before);
	free(after);
	source_release(&s1);
	source_release(&s2);
	errbuf_release(&e);
	free(spec);
}

TEST(git_dangling_head)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *spec = xasprintf("git+file://%s", bare), *head = rev_of("main");

	/* the remote's HEAD names a branch that does not exist: use main */
	CHECK(sh("git -C %s symbolic-ref HEAD refs/heads/gone", bare) == 0);
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, head);
	source_release(&s);
	/* ... and with neither main nor master it asks for a ref */
	CHECK(sh("git -C %s branch -m main renamed", bare) == 0);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "no default branch"));
	errbuf_release(&e);
	CHECK(sh("git -C %s branch -m renamed main && git -C %s symbolic-ref HEAD refs/heads/main",
		 bare, bare) == 0);
	free(spec);
	free(head);
}

TEST(git_signatures)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *gnupg = xasprintf("%s/gnupg", tmpdir);
	char *other = xasprintf("%s/gnupg-other", tmpdir);
	char *keyring = xasprintf("%s/trusted.gpg", tmpdir);
	char *wrong = xasprintf("%s/wrong.gpg", tmpdir);
	char *spec = xasprintf("git+file://%s", bare);
	char *shortid, *head;

	if (!have_gpg) {
		printf("# skip git_signatures: gpg or gpgv not installed\n");
		goto out;
	}
	/* unsigned head refused */
	CHECK(sh("mkdir -m 700 %s %s", gnupg, other) == 0);
	CHECK(sh("GNUPGHOME=%s gpg -q --batch --passphrase '' --quick-gen-key "
		 "'vem test <signer@example.org>' ed25519 sign never 2>/dev/null", gnupg) == 0);
	CHECK(sh("GNUPGHOME=%s gpg -q --batch --passphrase '' --quick-gen-key "
		 "'stranger <x@example.org>' ed25519 sign never 2>/dev/null", other) == 0);
	CHECK(sh("GNUPGHOME=%s gpg -q --batch --export > %s", gnupg, keyring) == 0);
	CHECK(sh("GNUPGHOME=%s gpg -q --batch --export > %s", other, wrong) == 0);

	head = rev_of("main");
	shortid = xasprintf("commit %.7s is not signed", head ? head : "");
	CHECK(resolve(spec, keyring, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), shortid));
	errbuf_release(&e);
	free(shortid);
	free(head);

	/* signed commit accepted with the right keyring */
	CHECK(sh("set -e; export HOME=%s GNUPGHOME=%s; cd %s;"
		 "echo 'cluster: signed' > clusters/lab/cluster.yaml;"
		 "git -c user.signingkey=signer@example.org commit -q -S -am signed;"
		 "git push -q %s main", tmpdir, gnupg, work, bare) == 0);
	head = rev_of("main");
	CHECK(resolve(spec, keyring, &s, &e) == 0);
	CHECK_STR(s.revision, head);
	err_print(&e, stderr, "unexpected");
	source_release(&s);
	errbuf_release(&e);

	/* ... and refused with a keyring that lacks the signer */
	CHECK(resolve(spec, wrong, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "signature by unknown key"));
	errbuf_release(&e);

	/* a missing keyring is an error, not a pass */
	CHECK(resolve(spec, "/nonexistent/keyring.gpg", &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "/nonexistent/keyring.gpg"));
	errbuf_release(&e);
	free(head);
out:
	free(gnupg);
	free(other);
	free(keyring);
	free(wrong);
	free(spec);
}

/*
 * git over ssh to a throwaway sshd on 127.0.0.1 (its own host key,
 * authorized key and config; runs as the current user): key file auth,
 * host key checked against known_hosts, wrong key refused.
 */
TEST(git_ssh)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *d = xasprintf("%s/ssh", tmpdir), *port = NULL, *spec = NULL, *key = NULL;
	char *kh = NULL, *head = rev_of("main"), *user = sh_out("id -un");
	const char *sshd = "/usr/sbin/sshd";

	if (access(sshd, X_OK) || system("command -v ssh-keygen >/dev/null")) {
		printf("# skip git_ssh: openssh-server (sshd) or ssh-keygen not installed\n");
		goto out;
	}
	if (access("/run/sshd", F_OK) && getuid() == 0)
		mkdir("/run/sshd", 0755);   /* sshd's privilege separation directory */
	CHECK(sh("set -e; mkdir -p %s; cd %s; ssh-keygen -q -t ed25519 -N '' -f hostkey;"
		 "ssh-keygen -q -t ed25519 -N '' -f userkey; ssh-keygen -q -t ed25519 -N '' -f otherkey;"
		 "cp userkey.pub authorized;"
		 "python3 -c 'import socket;s=socket.socket();s.bind((\"127.0.0.1\",0));"
		 "print(s.getsockname()[1])' > port", d, d) == 0);
	{
		struct strbuf sb = STRBUF_INIT;
		char *pf = xasprintf("%s/port", d);
		if (!strbuf_read_file(&sb, pf, 0)) {
			sb.buf[strcspn(sb.buf, "\n")] = '\0';
			port = strbuf_detach(&sb, NULL);
		}
		strbuf_release(&sb);
		free(pf);
	}
	CHECK(port != NULL);
	if (!port)
		goto out;
	CHECK(sh("cd %s && printf 'Port %s\\nListenAddress 127.0.0.1\\nHostKey %s/hostkey\\n"
		 "AuthorizedKeysFile %s/authorized\\nStrictModes no\\nUsePAM no\\n"
		 "PasswordAuthentication no\\nKbdInteractiveAuthentication no\\n"
		 "PermitRootLogin prohibit-password\\nPidFile %s/sshd.pid\\n' > sshd_config && "
		 "%s -f %s/sshd_config -E %s/log && "
		 "echo \"[127.0.0.1]:%s $(cut -d' ' -f1,2 hostkey.pub)\" > known_hosts",
		 d, port, d, d, d, sshd, d, d, port) == 0);
	for (int i = 0; i < 50; i++) {
		char *pid = xasprintf("%s/sshd.pid", d);
		bool up = access(pid, F_OK) == 0;
		free(pid);
		if (up)
			break;
		usleep(100000);
	}
	key = xasprintf("%s/userkey", d);
	kh = xasprintf("%s/known_hosts", d);
	spec = xasprintf("git+ssh://%s@127.0.0.1:%s%s//clusters/lab", user ? user : "root", port, bare);
	setenv("VEM_GIT_SSH_KEY", key, 1);
	setenv("VEM_GIT_KNOWN_HOSTS", kh, 1);
	unsetenv("SSH_AUTH_SOCK");
	CHECK(resolve(spec, NULL, &s, &e) == 0);
	err_print(&e, stderr, "unexpected");
	CHECK_STR(s.revision, head);
	source_release(&s);
	errbuf_release(&e);

	/* an unknown host key is refused */
	setenv("VEM_GIT_KNOWN_HOSTS", "/dev/null", 1);
	{
		char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
		setenv("HOME", d, 1);   /* no ~/.ssh/known_hosts there */
		CHECK(resolve(spec, NULL, &s, &e) == -1);
		CHECK(strstr(err_msg(&e), "not in known_hosts"));
		CHECK(strstr(err_msg(&e), "[127.0.0.1]:"));
		errbuf_release(&e);
		if (home)
			setenv("HOME", home, 1);
		free(home);
	}
	setenv("VEM_GIT_KNOWN_HOSTS", kh, 1);

	/* a key the server does not accept */
	free(key);
	key = xasprintf("%s/otherkey", d);
	setenv("VEM_GIT_SSH_KEY", key, 1);
	CHECK(resolve(spec, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "authentication failed"));
	errbuf_release(&e);
	sh("kill $(cat %s/sshd.pid) 2>/dev/null; true", d);
out:
	unsetenv("VEM_GIT_SSH_KEY");
	unsetenv("VEM_GIT_KNOWN_HOSTS");
	free(d);
	free(port);
	free(spec);
	free(key);
	free(kh);
	free(head);
	free(user);
}

TEST(local_file_and_dir)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *dir = xasprintf("%s/local", tmpdir);
	char *f = xasprintf("%s/local/a.yaml", tmpdir);
	char *r1 = NULL, *r2 = NULL, *r3 = NULL;

	CHECK(sh("mkdir -p %s && echo 'a: 1' > %s/a.yaml && echo 'b: 1' > %s/b.yaml && "
		 "echo junk > %s/notes.txt", dir, dir, dir, dir) == 0);
	CHECK(resolve(dir, NULL, &s, &e) == 0);
	CHECK(s.revision && str_starts_with(s.revision, "sha256:") && strlen(s.revision) == 71);
	CHECK_STR(s.local_path, dir);
	r1 = xstrdup(s.revision);
	source_release(&s);
	/* non-yaml files do not change the revision */
	CHECK(sh("echo more >> %s/notes.txt", dir) == 0);
	CHECK(resolve(dir, NULL, &s, &e) == 0);
	CHECK_STR(s.revision, r1);
	source_release(&s);
	/* yaml content does */
	CHECK(sh("echo 'b: 2' > %s/b.yaml", dir) == 0);
	CHECK(resolve(dir, NULL, &s, &e) == 0);
	r2 = xstrdup(s.revision);
	CHECK(strcmp(r1, r2));
	source_release(&s);
	/* a single file: sha256 of its content */
	CHECK(resolve(f, NULL, &s, &e) == 0);
	{
		char *cmd = xasprintf("sha256sum %s | cut -c1-64", f);
		r3 = sh_out(cmd);
		free(cmd);
	}
	CHECK(s.revision && r3 && !strcmp(s.revision + 7, r3));
	source_release(&s);
	CHECK_INT(e.nr, 0);
	CHECK(resolve("/nonexistent/cluster.yaml", NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "/nonexistent/cluster.yaml"));
	errbuf_release(&e);
	CHECK(resolve(f, "/some/keyring", &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "needs a git source"));
	errbuf_release(&e);
	free(r1);
	free(r2);
	free(r3);
	free(dir);
	free(f);
}

TEST(http_refused_off_loopback)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;

	CHECK(resolve("http://example.org/cluster.yaml", NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "plain http:// is refused"));
	errbuf_release(&e);
	/* credentials never appear in messages */
	CHECK(resolve("http://user:hunter2@example.org/c.yaml", NULL, &s, &e) == -1);
	CHECK(!strstr(err_msg(&e), "hunter2"));
	errbuf_release(&e);
	CHECK(resolve("http://127.0.0.1.example.org/c.yaml", NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "plain http:// is refused"));
	errbuf_release(&e);
	/* loopback is allowed through to the network: nothing listens on port 1 */
	CHECK(resolve("http://127.0.0.1:1/c.yaml", NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "download failed"));
	errbuf_release(&e);
}

/* An https-style download served by python's http.server on loopback. */
TEST(http_loopback_download)
{
	struct errbuf e = ERRBUF_INIT;
	struct source s;
	char *srv = xasprintf("%s/www", tmpdir);
	char *port = NULL, *url = NULL, *expect = NULL;

	if (system("command -v python3 >/dev/null 2>&1")) {
		printf("# skip http_loopback_download: python3 not installed\n");
		goto out;
	}
	CHECK(sh("mkdir -p %s && printf 'cluster: web\\n' > %s/c.yaml", srv, srv) == 0);
	CHECK(sh("cd %s && (python3 -c 'import socket,sys,http.server,functools\n"
		 "s=http.server.ThreadingHTTPServer((\"127.0.0.1\",0),http.server.SimpleHTTPRequestHandler)\n"
		 "open(\"port\",\"w\").write(str(s.server_address[1]))\n"
		 "s.serve_forever()' >/dev/null 2>&1 & echo $! > %s/pid)", srv, tmpdir) == 0);
	for (int i = 0; i < 50; i++) {
		char *pf = xasprintf("%s/port", srv);
		struct strbuf sb = STRBUF_INIT;
		if (!strbuf_read_file(&sb, pf, 0) && sb.len)
			port = strbuf_detach(&sb, NULL);
		strbuf_release(&sb);
		free(pf);
		if (port)
			break;
		usleep(100000);
	}
	CHECK(port != NULL);
	if (!port)
		goto out;
	url = xasprintf("http://127.0.0.1:%s/c.yaml", port);
	CHECK(resolve(url, NULL, &s, &e) == 0);
	CHECK(s.local_path && file_has(s.local_path, "cluster: web"));
	expect = sh_out("printf 'cluster: web\\n' | sha256sum | cut -c1-64");
	CHECK(s.revision && expect && !strcmp(s.revision + 7, expect));
	err_print(&e, stderr, "unexpected");
	source_release(&s);
	errbuf_release(&e);
	free(url);
	url = xasprintf("http://127.0.0.1:%s/missing.yaml", port);
	CHECK(resolve(url, NULL, &s, &e) == -1);
	CHECK(strstr(err_msg(&e), "HTTP 404"));
	errbuf_release(&e);
out:
	sh("kill $(cat %s/pid) 2>/dev/null; true", tmpdir);
	free(srv);
	free(port);
	free(url);
	free(expect);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	have_git = system("command -v git >/dev/null 2>&1") == 0;
	have_gpg = system("command -v gpg >/dev/null 2>&1 && command -v gpgv >/dev/null 2>&1") == 0;
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	if (have_git && setup_repo() == 0) {
		RUN(git_branch_tag_commit_subdir);
		RUN(git_errors);
		RUN(git_fetch_new_commit);
		RUN(git_dangling_head);
		RUN(git_signatures);
		RUN(git_ssh);
	} else {
		printf("# skip git tests: the git command is not available\n");
	}
	RUN(local_file_and_dir);
	RUN(http_refused_off_loopback);
	RUN(http_loopback_download);
	if (!getenv("VEM_TEST_KEEP"))
		sh("rm -rf %s", tmpdir);
	free(bare);
	free(work);
	free(cache);
	return test_done();
}
