/*
 * test_trust.c - the trust boundary for cluster sources and bounded input:
 * credential masking (util/uri.c) with nasty URIs, what an untrusted (git or
 * https) cluster may reference, regular-file input that never blocks, the
 * per-load alias budget, label insertion time, huge durations and sizes.
 * Every input below is hostile; hostile() counts them for the report.
 */
#include "test.h"
#include "schema/load.h"
#include "source/source.h"
#include "hv/hv_priv.h"
#include "util/uri.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOWDOWN 5
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

static int n_hostile;
#define hostile(x) (n_hostile++, (x))

static char tmp[64];

static int64_t cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *path_in(const char *rel)
{
	return xasprintf("%s/%s", tmp, rel);
}

static void put(const char *rel, const char *content)
{
	char *p = path_in(rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
	free(p);
}

static void PRINTF_LIKE(1, 2) sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fprintf(stderr, "  command failed: %s\n", cmd);
	free(cmd);
}

/* Problems of loading rel (file or dir under tmp) as an untrusted source rooted at root_rel. */
static char *load_untrusted(const char *root_rel, const char *rel)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *root = path_in(root_rel), *p = path_in(rel);
	struct load_options o = { .untrusted = true, .root = root, .trusted_hosts = "/nonexistent" };
	struct cluster *c = cfg_load_opts(p, &o, &err);

	if (c)
		strbuf_adds(&sb, "(loaded)");
	for (size_t i = 0; i < err.nr; i++)
		strbuf_addf(&sb, "%s\n", err.items[i].msg);
	cluster_free(c);
	errbuf_release(&err);
	free(root);
	free(p);
	return strbuf_detach(&sb, NULL);
}

static bool load_trusted_ok(const char *rel)
{
	struct errbuf err = ERRBUF_INIT;
	char *p = path_in(rel);
	struct cluster *c = cfg_load(p, &err);
	bool ok = c != NULL;

	if (!c)
		err_print(&err, stderr, "  unexpected");
	cluster_free(c);
	errbuf_release(&err);
	free(p);
	return ok;
}

#define HOST "cluster: lab\nhosts:\n  - {name: h1, uri: \"qemu+tcp://10.0.0.1/system\"}\n"
#define TPL "templates:\n  - name: t\n    memory: 32MiB\n"

TEST(mask_nasty_uris)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "qemu+tcp://admin:s3cret@10.0.0.1/system", "qemu+tcp://admin:****@10.0.0.1/system" },
		/* a password with '@': the userinfo ends at the last '@' */
		{ "qemu+ssh://root:p@ss@host/system", "qemu+ssh://root:****@host/system" },
		{ "qemu+ssh://root:p@ss@w@rd@host:22", "qemu+ssh://root:****@host:22" },
		{ "qemu+ssh://root:a:b@host/", "qemu+ssh://root:****@host/" },
		{ "qemu+ssh://root:@host/", "qemu+ssh://root:****@host/" },
		{ "qemu+ssh://root@h/system?keyfile=/k", "qemu+ssh://root@h/system?keyfile=/k" },
		{ "qemu+tcp://h/system?x=a:b@c", "qemu+tcp://h/system?x=a:b@c" },
		{ "https://x/y?token=abc&v=1", "https://x/y?token=****&v=1" },
		{ "https://x/y?v=1&access_token=abc#frag", "https://x/y?v=1&access_token=****#frag" },
		{ "https://x/y?Password=abc;api_key=k", "https://x/y?Password=****;api_key=****" },
		{ "https://x/y?X-Amz-Signature=ab&X-Amz-Credential=c", "https://x/y?X-Amz-Signature=****&X-Amz-Credential=****" },
		{ "https://x/y?pass%77ord=abc", "https://x/y?pass%77ord=****" },
		{ "https://u:t@x/y?sig=s", "https://u:****@x/y?sig=****" },
		{ "no-scheme:secret@host", "no-scheme:secret@host" },
		{ "", "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *m = uri_mask(hostile(cases[i].in));
		CHECK_STR(m, cases[i].out);
		free(m);
	}
	CHECK(uri_mask(NULL) == NULL);
}

TEST(mask_text_keeps_other_words)
{
	char *s;

	/* "p" as a password must not turn "parse" into "****arse" */
	s = hv_error_scrub(hostile("qemu+ssh://root:p@h/system"), "cannot parse reply from root:p@h\n");
	CHECK_STR(s, "cannot parse reply from root:****@h");
	free(s);
	/* a password with '@', quoted whole and percent-decoded */
	s = uri_mask_text("ssh root:p@ss@host failed; password p@ss rejected; 'qemu+ssh://root:p%40ss@host/system'",
			  hostile("qemu+ssh://root:p%40ss@host/system"));
	CHECK_STR(s, "ssh root:****@host failed; password **** rejected; 'qemu+ssh://root:****@host/system'");
	free(s);
	/* URLs in text are masked without knowing them; text around stays */
	s = uri_mask_text(hostile("fetch https://u:tok@git.example/r.git?token=zz failed (parse)"), NULL);
	CHECK_STR(s, "fetch https://u:****@git.example/r.git?token=**** failed (parse)");
	free(s);
	s = uri_mask_text("token zz in reply", hostile("https://x/?token=zz"));
	CHECK_STR(s, "token **** in reply");
	free(s);
	s = hv_uri_display(hostile("qemu+ssh://root:p@ss@host/system"));
	CHECK_STR(s, "qemu+ssh://root:****@host/system");
	free(s);
}

TEST(uri_pieces)
{
	struct uri u;

	CHECK(!uri_parse(hostile("qemu+ext://u:p@[::1]:9/system?COMM%61ND=/x;socket=/s&flag"), &u));
	CHECK_STR(u.transport, "ext");
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.user, "u");
	CHECK(u.has_password);
	CHECK_STR(u.path, "/system");
	CHECK_INT(u.n_params, 3);
	CHECK_STR(uri_param_get(&u, "command"), "/x");
	CHECK_STR(uri_param_get(&u, "socket"), "/s");
	CHECK_STR(uri_param_get(&u, "flag"), "");
	uri_release(&u);
	CHECK(uri_parse("no scheme", &u) == -1);
	uri_release(&u);
}

/* The one loopback rule (util/uri.c) that sources and images both use for
 * plain http://; the host is the one after the LAST '@', like masking. */
TEST(loopback_hosts)
{
	static const struct { const char *url; bool loop; } cases[] = {
		{ "http://127.0.0.1/c.yaml", true },
		{ "http://127.0.0.2:8080/c.yaml", true },
		{ "http://127.255.255.254", true },
		{ "http://localhost/c.yaml", true },
		{ "http://localhost:80/c.yaml", true },
		{ "http://[::1]/c.yaml", true },
		{ "http://[::1]:8000/img.qcow2", true },
		{ "http://user:pass@127.0.0.1/c.yaml", true },
		{ "http://user:p@ss@[::1]:81/c.yaml", true },
		/* not loopback */
		{ "http://localhost./c.yaml", false },
		{ "http://localhost.example.org/c.yaml", false },
		{ "http://[::1/c.yaml", false },
		{ "http://[0::2]/c.yaml", false },
		{ "http://[::ffff:127.0.0.1]/c.yaml", false },
		{ "http://127.0.0.1.evil.example/c.yaml", false },
		{ "http://127.0.0/c.yaml", false },
		{ "http://127.0.0.256/c.yaml", false },
		{ "http://127.../c.yaml", false },
		{ "http://128.0.0.1/c.yaml", false },
		{ "http://0x7f.0.0.1/c.yaml", false },
		{ "http://127.0.0.1@evil.example/c.yaml", false },
		{ "http://user:pass@evil.example/?h=127.0.0.1", false },
		{ "http://127.0.0.1:pass@evil.example/c.yaml", false },
		{ "http://evil.example/127.0.0.1", false },
		{ "127.0.0.1/c.yaml", false },
		{ "", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool got = uri_host_is_loopback(hostile(cases[i].url));
		if (got != cases[i].loop)
			fprintf(stderr, "  loopback('%s') = %d\n", cases[i].url, got);
		CHECK(got == cases[i].loop);
	}
	CHECK(!uri_host_is_loopback(NULL));
}

/* The strict mask (webhooks): every query value, and the userinfo password
 * up to the last '@'. */
TEST(mask_all_params)
{
	static const char *const cases[][2] = {
		{ "https://user:pass@h/p?a=1&token=t", "https://user:****@h/p?a=****&token=****" },
		{ "https://u:p@ss@h/p?k=v;x=y#f", "https://u:****@h/p?k=****;x=****#f" },
		{ "https://h/p?flag", "https://h/p?flag" },
		{ "https://user@h/p", "https://user@h/p" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *m = uri_mask_all_params(hostile(cases[i][0]));
		CHECK_STR(m, cases[i][1]);
		free(m);
	}
	CHECK(uri_mask_all_params(NULL) == NULL);
}

TEST(json_never_shows_secrets)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	const char *y = hostile("cluster: lab\nhosts:\n"
				"  - {name: h1, uri: \"qemu+ssh://root:p@ss@h1/system?token=t0k\"}\n"
				"images:\n  - {name: i, url: \"https://admin:pw9@x/i.qcow2?access_token=at\", "
				"sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"}\n");
	struct cluster *c = cfg_load_buffer("t.yaml", y, strlen(y), &err);

	CHECK(c != NULL);
	if (c)
		cluster_write_json(c, NULL, &sb);
	CHECK(strstr(sb.buf, "qemu+ssh://root:****@h1/system?token=****") != NULL);
	CHECK(strstr(sb.buf, "https://admin:****@x/i.qcow2?access_token=****") != NULL);
	CHECK(!strstr(sb.buf, "p@ss") && !strstr(sb.buf, "t0k") && !strstr(sb.buf, "pw9") &&
	      !strstr(sb.buf, "=at"));
	cluster_free(c);
	strbuf_release(&sb);
	errbuf_release(&err);

	/* an invalid URI is not quoted back with its password */
	y = hostile("cluster: lab\nhosts:\n  - {name: h1, uri: \"qemu+ssh://root:hunter2@h1/sys tem\"}\n");
	CHECK(cfg_load_buffer("t.yaml", y, strlen(y), &err) == NULL);
	CHECK(strstr(err_msg(&err), "not a libvirt URI") != NULL);
	CHECK(!strstr(err_msg(&err), "hunter2"));
	errbuf_release(&err);
}

TEST(untrusted_files_stay_in_the_tree)
{
	char *out;

	sh("mkdir -p %s/repo/sub %s/repo/ci", tmp, tmp);
	put("repo/ci/user-data", "#cloud-config\n");
	put("secret", "root:x:0:0\n");

	/* absolute, '..' out, a symlink out, a missing file outside */
	static const char *const bad[] = {
		"/etc/shadow", "../secret", "ci/../../secret", "link", "../nothing-here",
	};
	sh("ln -sf ../secret %s/repo/link", tmp);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *y = xasprintf(HOST TPL "    cloud-init: {user-data: %s}\n", hostile(bad[i]));
		put("repo/cluster.yaml", y);
		out = load_untrusted("repo", "repo/cluster.yaml");
		CHECK(strstr(out, "user-data") && (strstr(out, "absolute path") || strstr(out, "not a file inside")));
		CHECK(!strstr(out, "does not exist"));   /* says nothing about files outside */
		if (!strstr(out, "user-data"))
			fprintf(stderr, "  %s -> %s\n", bad[i], out);
		free(out);
		free(y);
	}
	/* the same files from a local (trusted) source keep working */
	put("repo/cluster.yaml", HOST TPL "    cloud-init: {user-data: ../secret}\n");
	CHECK(load_trusted_ok("repo/cluster.yaml"));
	/* inside the tree is fine */
	put("repo/cluster.yaml", HOST TPL "    cloud-init: {user-data: ci/user-data}\n");
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK_STR(out, "(loaded)");
	free(out);

	/* a *.yaml that is a symlink out of the tree is refused, not quoted */
	put("outside.yaml", "root:$6$hash:19000:0:99999:7:::\n");
	sh("ln -sf ../../outside.yaml %s/repo/sub/evil.yaml", tmp);
	put("repo/sub/a.yaml", HOST);
	out = hostile(load_untrusted("repo", "repo/sub"));
	CHECK(strstr(out, "resolves outside the source's tree") != NULL);
	CHECK(!strstr(out, "$6$hash"));
	free(out);
	sh("rm -f %s/repo/sub/evil.yaml", tmp);
	/* a //subdir that is a symlink out */
	sh("mkdir -p %s/elsewhere && ln -sfn ../elsewhere %s/repo/away", tmp, tmp);
	put("elsewhere/c.yaml", HOST);
	out = hostile(load_untrusted("repo", "repo/away"));
	CHECK(strstr(out, "resolves outside the source's tree") != NULL);
	free(out);
}

TEST(untrusted_kernel_and_images)
{
	static const char *const bad[] = {
		"/etc/shadow", "/var/lib/vem/guests/../../../etc/shadow", "guests/idle.elf",
		"/var/lib/vem/guests/./x", "/var/lib/vem/guests", "/var/lib/vem/guestsX/k",
	};
	char *out;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *y = xasprintf(HOST TPL "    kernel: %s\n", hostile(bad[i]));
		put("repo/cluster.yaml", y);
		out = load_untrusted("repo", "repo/cluster.yaml");
		CHECK(strstr(out, "kernel") && strstr(out, "host boot directory"));
		free(out);
		free(y);
	}
	put("repo/cluster.yaml", HOST TPL "    kernel: /var/lib/vem/guests/idle.elf\n"
	    "    initrd: /var/lib/libvirt/boot/initrd.img\n");
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK_STR(out, "(loaded)");
	free(out);
	put("repo/cluster.yaml", HOST TPL "    kernel: /etc/shadow\n");
	CHECK(load_trusted_ok("repo/cluster.yaml"));

	put("repo/cluster.yaml", hostile(HOST "images:\n  - {name: i, url: \"file:///etc/shadow\", "
	    "sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"}\n"));
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK(strstr(out, "file:// URLs are refused") != NULL);
	free(out);
	CHECK(load_trusted_ok("repo/cluster.yaml"));
}

TEST(untrusted_uri_parameters)
{
	static const char *const bad[] = {
		"qemu+ext:///system?command=/tmp/evil.sh",
		"qemu+ssh://h/system?command=/x",
		"qemu+ssh://h/system?COMMAND=/x",
		"qemu+ssh://h/system?comm%61nd=/x",
		"qemu+ssh://h/system?a=1;command=/x",
		"qemu+unix:///system?socket=/run/evil",
		"qemu+ssh://h/system?netcat=/x",
		"qemu+ssh://h/system?keyfile=/root/.ssh/id_rsa",
		"qemu+tls://h/system?pkipath=/root/pki",
		"qemu+libssh2://h/system?known_hosts=/etc/shadow",
		"qemu+libssh://h/system?known_hosts_verify=ignore",
		"qemu+ssh://h/system?sshauth=privkey",
		"qemu+tls://h/system?no_verify=1",
		"qemu+tls://h/system?tls_priority=NONE",
		"qemu:///embed?root=/etc",
		"test:///etc/shadow",
		"qemu+ext://h/system",
	};
	char *out;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *y = xasprintf("cluster: lab\nhosts:\n  - {name: h1, uri: \"%s\"}\n", hostile(bad[i]));
		put("repo/cluster.yaml", y);
		out = load_untrusted("repo", "repo/cluster.yaml");
		CHECK(strstr(out, "host 'h1'") && strstr(out, "refused in a cluster from git or https") &&
		      strstr(out, "VEM_TRUSTED_HOSTS"));
		if (!strstr(out, "refused"))
			fprintf(stderr, "  %s -> %s\n", bad[i], out);
		/* trusted: as today */
		CHECK(load_trusted_ok("repo/cluster.yaml"));
		free(out);
		free(y);
	}
	put("repo/cluster.yaml", "cluster: lab\nhosts:\n  - {name: h1, uri: \"qemu+ssh://h/system?command=/x\"}\n");
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK(strstr(out, "host 'h1': URI parameter 'command'") && strstr(out, "add 'h' (or the whole URI)"));
	free(out);
	/* allowed by local configuration: the host name, or the exact URI */
	setenv("VEM_TRUSTED_HOSTS", "other, h", 1);
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK_STR(out, "(loaded)");
	free(out);
	setenv("VEM_TRUSTED_HOSTS", "qemu+ssh://h/system?command=/y", 1);
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK(strstr(out, "refused") != NULL);
	free(out);
	unsetenv("VEM_TRUSTED_HOSTS");
	put("trusted-hosts", "# allowed\nqemu+ssh://h/system?command=/x\n");
	{
		struct errbuf err = ERRBUF_INIT;
		char *root = path_in("repo"), *p = path_in("repo/cluster.yaml"), *th = path_in("trusted-hosts");
		struct load_options o = { .untrusted = true, .root = root, .trusted_hosts = th };
		struct cluster *c = cfg_load_opts(p, &o, &err);
		CHECK(c != NULL);
		cluster_free(c);
		errbuf_release(&err);
		free(root);
		free(p);
		free(th);
	}
	/* plain URIs need nothing */
	put("repo/cluster.yaml", "cluster: lab\nhosts:\n  - {name: h1, uri: \"qemu+ssh://root@h/system?no_tty=1\"}\n");
	out = load_untrusted("repo", "repo/cluster.yaml");
	CHECK_STR(out, "(loaded)");
	free(out);
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "  blocked on a FIFO\n");
	_exit(1);
}

TEST(bounded_input)
{
	struct errbuf err = ERRBUF_INIT;
	struct source s;
	char *p, *out;
	int fd;

	signal(SIGALRM, on_alarm);
	alarm(20);
	/* /dev/zero and a FIFO as -f: refused without reading or blocking */
	CHECK(source_resolve(hostile("/dev/zero"), NULL, &s, &err) == -1);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	CHECK(cfg_load("/dev/zero", &err) == NULL);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	p = path_in("fifo.yaml");
	mkfifo(p, 0600);
	CHECK(source_resolve(hostile(p), NULL, &s, &err) == -1);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	CHECK(cfg_load(p, &err) == NULL);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	free(p);
	/* a FIFO inside a cluster directory */
	sh("mkdir -p %s/d && mkfifo %s/d/b.yaml", tmp, tmp);
	put("d/a.yaml", HOST);
	p = path_in("d");
	CHECK(source_resolve(hostile(p), NULL, &s, &err) == -1);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	CHECK(cfg_load(p, &err) == NULL);
	CHECK(strstr(err_msg(&err), "not a regular file") != NULL);
	errbuf_release(&err);
	free(p);
	/* a FIFO as a cloud-init file */
	put("ci.yaml", HOST TPL "    cloud-init: {user-data: fifo.yaml}\n");
	CHECK(!load_trusted_ok(hostile("ci.yaml")));
	/* a sparse 100 MB file: refused from its size, before reading */
	p = path_in("big.yaml");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 100 << 20) == 0);
	close(fd);
	{
		int64_t t0 = cpu_ms();
		CHECK(cfg_load(hostile(p), &err) == NULL);
		CHECK(cpu_ms() - t0 < 50 * SLOWDOWN);
		CHECK(strstr(err_msg(&err), "larger than the limit of 4MiB (VEM_MAX_FILE_BYTES raises it)"));
		errbuf_release(&err);
		CHECK(source_resolve(p, NULL, &s, &err) == -1);
		CHECK(strstr(err_msg(&err), "VEM_MAX_FILE_BYTES") != NULL);
		errbuf_release(&err);
	}
	free(p);
	/* the limit can be raised */
	p = path_in("ok.yaml");
	put("ok.yaml", HOST);
	setenv("VEM_MAX_FILE_BYTES", "10B", 1);
	CHECK(cfg_load(p, &err) == NULL);
	CHECK(strstr(err_msg(&err), "larger than the limit of 10B") != NULL);
	errbuf_release(&err);
	unsetenv("VEM_MAX_FILE_BYTES");
	CHECK(load_trusted_ok("ok.yaml"));
	free(p);
	/* a directory with too many files */
	sh("mkdir -p %s/many && for i in 1 2 3 4 5 6; do echo 'cluster: lab' > %s/many/$i.yaml; done", tmp, tmp);
	p = path_in("many");
	setenv("VEM_MAX_DIR_FILES", "5", 1);
	CHECK(cfg_load(hostile(p), &err) == NULL);
	CHECK(strstr(err_msg(&err), "more than 5 *.yaml files in this directory (VEM_MAX_DIR_FILES") != NULL);
	errbuf_release(&err);
	CHECK(source_resolve(p, NULL, &s, &err) == -1);
	CHECK(strstr(err_msg(&err), "more than 5 *.yaml") != NULL);
	errbuf_release(&err);
	unsetenv("VEM_MAX_DIR_FILES");
	free(p);
	alarm(0);
	(void)out;
}

TEST(alias_budget_per_load)
{
	struct strbuf sb = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	int64_t t0, ms;

	/* 500 documents, each well under the old per-document budget: 4.2 s before */
	for (int d = 0; d < 500; d++) {
		strbuf_addf(&sb, "---\ncluster: lab\ntemplates:\n  - &a%d_0 {name: t%d_0, memory: 32MiB}\n", d, d);
		for (int i = 1; i < 5; i++) {
			strbuf_addf(&sb, "  - &a%d_%d {name: t%d_%d, <<: [", d, i, d, i);
			for (int j = 0; j < 10; j++)
				strbuf_addf(&sb, "%s*a%d_%d", j ? ", " : "", d, i - 1);
			strbuf_adds(&sb, "]}\n");
		}
	}
	n_hostile++;
	t0 = cpu_ms();
	CHECK(cfg_load_buffer("docs.yaml", sb.buf, sb.len, &err) == NULL);
	ms = cpu_ms() - t0;
	printf("# 500 documents of aliases (%zu bytes): %lld ms\n", sb.len, (long long)ms);
	CHECK(ms < 500 * SLOWDOWN);
	CHECK(strstr(err_msg(&err), "alias bomb") != NULL);
	errbuf_release(&err);
	strbuf_release(&sb);
}

TEST(many_labels)
{
	struct strbuf sb = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	int64_t t0, ms;

	strbuf_adds(&sb, "cluster: lab\nhosts:\n  - name: h1\n    uri: \"qemu:///system\"\n    labels:\n");
	for (int i = 40000; i > 0; i--)
		strbuf_addf(&sb, "      k%d: v\n", i);
	strbuf_adds(&sb, "      k17: again\n");
	n_hostile++;
	t0 = cpu_ms();
	c = cfg_load_buffer("labels.yaml", sb.buf, sb.len, &err);
	ms = cpu_ms() - t0;
	printf("# 40001 labels: %lld ms\n", (long long)ms);
	CHECK(ms < 1000 * SLOWDOWN);
	CHECK(c == NULL);
	CHECK_INT(err.nr, 1);
	CHECK(strstr(err_msg(&err), "label 'k17' is set twice") && err.items[0].line == 40006);
	errbuf_release(&err);
	/* without the duplicate: loaded, sorted */
	sb.len -= strlen("      k17: again\n");
	sb.buf[sb.len] = '\0';
	c = cfg_load_buffer("labels.yaml", sb.buf, sb.len, &err);
	CHECK(c && c->hosts[0].labels.nr == 40000);
	if (c) {
		CHECK_STR(labels_get(&c->hosts[0].labels, "k39999"), "v");
		for (size_t i = 1; i < c->hosts[0].labels.nr; i++)
			CHECK(strcmp(c->hosts[0].labels.items[i - 1].key, c->hosts[0].labels.items[i].key) < 0);
	}
	cluster_free(c);
	errbuf_release(&err);
	strbuf_release(&sb);
}

TEST(huge_durations_and_sizes)
{
	const char *why = NULL;
	int64_t ms;
	uint64_t b;

	CHECK(parse_duration(hostile("106751991167d"), &ms, &why) == -1);
	CHECK(why && strstr(why, "at most 100 years"));
	CHECK(parse_duration(hostile("9223372036854775807ms"), &ms, &why) == -1);
	CHECK(parse_duration(hostile("36601d1ms"), &ms, &why) == -1);
	CHECK(!parse_duration("36600d", &ms, &why) && ms == DURATION_MAX_MS);
	CHECK(parse_size(hostile("2000000TB"), &b, &why) == -1);
	CHECK(parse_size(hostile("17179869184GiB"), &b, &why) == -1);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/vem-trust-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	unsetenv("VEM_TRUSTED_HOSTS");
	unsetenv("VEM_TRUSTED_HOSTS_FILE");
	RUN(mask_nasty_uris);
	RUN(mask_text_keeps_other_words);
	RUN(uri_pieces);
	RUN(loopback_hosts);
	RUN(mask_all_params);
	RUN(json_never_shows_secrets);
	RUN(untrusted_files_stay_in_the_tree);
	RUN(untrusted_kernel_and_images);
	RUN(untrusted_uri_parameters);
	RUN(bounded_input);
	RUN(alias_budget_per_load);
	RUN(many_labels);
	RUN(huge_durations_and_sizes);
	sh("rm -rf %s", tmp);
	printf("# hostile inputs: %d\n", n_hostile);
	return test_done();
}
