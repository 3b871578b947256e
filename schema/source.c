/*
 * source.c - resolve -f arguments into a local path and a revision.
 *
 *  - local file or directory: used in place; revision "sha256:<hex>" of the
 *    file, or of the sorted names and contents of a directory's *.yaml files.
 *  - git+URL[//subdir][?ref=REF]: a bare mirror in <cache>/git/<sha256 of
 *    URL>/repo.git, fetched on every resolve; the commit REF names is checked
 *    out into <cache>/git/<sha>/trees/<commit> (made once, atomically by
 *    rename); revision = commit id. Optional signature check with gpgv.
 *  - https://host/path/file.yaml: one file through libcurl (certificates
 *    verified) into <cache>/https/<sha256 of URL>/<name>; revision = sha256
 *    of the content. http:// only to loopback addresses (tests) or with
 *    source_options.allow_http.
 */
#include "source.h"
#include "../util/uri.h"
#include "load.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <git2.h>
#include <openssl/evp.h>

#define SOURCE_MAX_HTTPS_BYTES (16ULL * 1024 * 1024)
#define SOURCE_TREES_KEPT 4
#define SOURCE_MAX_CHECKOUT_FILES 10000
#define SOURCE_MAX_CHECKOUT_BYTES (64ULL << 20)

void source_release(struct source *s)
{
	if (!s)
		return;
	free(s->local_path);
	free(s->revision);
	free(s->display);
	free(s->root);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_file_into(EVP_MD_CTX *md, const char *path, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	uint64_t max = env_limit("VEM_MAX_FILE_BYTES", CFG_MAX_FILE_BYTES, false);
	char b[32];

	/* a FIFO or /dev/zero as -f: refused without blocking or reading it */
	if (strbuf_read_regular(&sb, path, max, NULL)) {
		if (errno == EFBIG)
			err_set(err, "'%s': file is larger than the limit of %s (VEM_MAX_FILE_BYTES "
				"raises it)", path, format_size(max, b));
		else if (errno == ENODEV)
			err_set(err, "'%s': not a regular file (a FIFO, device or socket): refused", path);
		else
			err_set(err, "cannot read '%s': %s", path, strerror(errno));
		strbuf_release(&sb);
		return -1;
	}
	EVP_DigestUpdate(md, sb.buf, sb.len);
	strbuf_release(&sb);
	return 0;
}

static void digest_hex(EVP_MD_CTX *md, char *out)
{
	unsigned char d[32];
	unsigned int dl = 0;

	EVP_DigestFinal_ex(md, d, &dl);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int source_hash_path(const char *path, char out[72], struct errbuf *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct stat st;
	int rc = -1;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (stat(path, &st)) {
		err_set(err, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *e;
		char **names = NULL;
		size_t n = 0, a = 0;
		if (!dir) {
			err_set(err, "cannot read directory '%s': %s", path, strerror(errno));
			goto out;
		}
		uint64_t max = env_limit("VEM_MAX_DIR_FILES", CFG_MAX_DIR_FILES, true);
		while ((e = readdir(dir)) && n <= max)
			if (e->d_name[0] != '.' && (str_ends_with(e->d_name, ".yaml") ||
						    str_ends_with(e->d_name, ".yml"))) {
				ALLOC_GROW(names, n + 1, a);
				names[n++] = xstrdup(e->d_name);
			}
		closedir(dir);
		if (n > max) {
			err_set(err, "'%s': more than %llu *.yaml files in this directory "
				"(VEM_MAX_DIR_FILES raises the limit)", path, (unsigned long long)max);
			for (size_t i = 0; i < n; i++)
				free(names[i]);
			free(names);
			goto out;
		}
		if (n > 1)
			qsort(names, n, sizeof(*names), cmp_str);
		rc = 0;
		for (size_t i = 0; i < n; i++) {
			char *p = xasprintf("%s/%s", path, names[i]);
			EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1);
			if (!rc && hash_file_into(md, p, err))
				rc = -1;
			free(p);
			free(names[i]);
		}
		free(names);
		if (rc)
			goto out;
	} else if (hash_file_into(md, path, err)) {
		goto out;
	}
	memcpy(out, "sha256:", 7);
	digest_hex(md, out + 7);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

char *source_cache_dir(const struct source_options *opt, const char *sub)
{
	return cache_dir(opt ? opt->cache_dir : NULL, sub);
}

/* A URL for messages: its credentials masked (util/uri.h). */
static char *url_display(const char *url)
{
	return uri_mask(url);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- running helpers (gpgv) ---- */

/* Run argv, collect stdout+stderr into out; returns the exit status or -1. */
static int run_capture(char *const argv[], struct strbuf *out)
{
	int fds[2];
	pid_t pid;
	int status;
	char buf[4096];
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && out->len < 65536)
			strbuf_add(out, buf, (size_t)n);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/* ---- git ---- */

struct git_spec {
	char *url;      /* without "git+", subdir and query */
	char *subdir;   /* NULL: the repository's root */
	char *ref;      /* NULL: the remote's default branch */
};

static void git_spec_release(struct git_spec *g)
{
	free(g->url);
	free(g->subdir);
	free(g->ref);
}

static int git_spec_parse(const char *spec, struct git_spec *g, struct errbuf *err)
{
	const char *s = spec + 4;    /* after "git+" */
	const char *q = strchr(s, '?');
	const char *end = q ? q : s + strlen(s);
	const char *scheme = strstr(s, "://");
	const char *from = scheme && scheme < end ? scheme + 3 : s;
	const char *sub;

	memset(g, 0, sizeof(*g));
	/* file:///path: the path starts right after "://" */
	if (from < end && *from == '/')
		from++;
	sub = strstr(from, "//");
	if (sub && sub >= end)
		sub = NULL;
	g->url = xstrndup(s, (size_t)((sub ? sub : end) - s));
	if (sub) {
		const char *a = sub + 2, *b = end;
		while (b > a && b[-1] == '/')
			b--;
		if (b > a)
			g->subdir = xstrndup(a, (size_t)(b - a));
		if (g->subdir && (strstr(g->subdir, "..") || g->subdir[0] == '/')) {
			err_set(err, "source '%s': subdirectory '%s' must be a relative path inside "
				"the repository", spec, g->subdir);
			goto fail;
		}
	}
	if (q) {
		if (!str_starts_with(q + 1, "ref=") || !q[5] || strchr(q + 5, '&')) {
			err_set(err, "source '%s': the only query parameter is '?ref=BRANCH|TAG|COMMIT'",
				spec);
			goto fail;
		}
		g->ref = xstrdup(q + 5);
	}
	if (!*g->url) {
		err_set(err, "source '%s': no repository URL after 'git+'", spec);
		goto fail;
	}
	return 0;
fail:
	git_spec_release(g);
	return -1;
}

struct git_cred_state {
	const char *url;
	int attempts;
	char *user, *secret;     /* from the credentials file */
};

/*
 * Credentials file in git-credential-store format, one URL per line:
 * "https://user:token@host". $VEM_GIT_CREDENTIALS, else
 * $XDG_CONFIG_HOME/vem/git-credentials or ~/.config/vem/git-credentials,
 * else /etc/vem/git-credentials.
 */
static void creds_from_file(const char *url, struct git_cred_state *st)
{
	const char *env = getenv("VEM_GIT_CREDENTIALS");
	char *path = NULL;
	struct strbuf sb = STRBUF_INIT;
	const char *host = strstr(url, "://");
	size_t hostlen;
	char *line, *next;

	if (!host)
		return;
	host += 3;
	if (strchr(host, '@') && (!strchr(host, '/') || strchr(host, '@') < strchr(host, '/')))
		host = strchr(host, '@') + 1;
	hostlen = strcspn(host, "/");
	if (env)
		path = xstrdup(env);
	else if (getenv("XDG_CONFIG_HOME"))
		path = xasprintf("%s/vem/git-credentials", getenv("XDG_CONFIG_HOME"));
	else if (getenv("HOME"))
		path = xasprintf("%s/.config/vem/git-credentials", getenv("HOME"));
	if (!path || access(path, R_OK)) {
		free(path);
		path = xstrdup("/etc/vem/git-credentials");
	}
	if (strbuf_read_file(&sb, path, 1 << 20))
		goto out;
	for (line = sb.buf; line && *line; line = next) {
		char *h, *colon, *at;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		h = strstr(line, "://");
		if (!h)
			continue;
		h += 3;
		at = strchr(h, '@');
		if (!at)
			continue;
		if (strncmp(at + 1, host, hostlen) || (at[1 + hostlen] && at[1 + hostlen] != '/' &&
						       at[1 + hostlen] != '\r'))
			continue;
		colon = memchr(h, ':', (size_t)(at - h));
		if (!colon)
			continue;
		st->user = xstrndup(h, (size_t)(colon - h));
		st->secret = xstrndup(colon + 1, (size_t)(at - colon - 1));
		break;
	}
out:
	strbuf_release(&sb);
	free(path);
}

static int git_cred_cb(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct git_cred_state *st = payload;
	const char *user = user_from_url && *user_from_url ? user_from_url : NULL;

	if (++st->attempts > 3) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (no accepted credentials)");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user ? user : "git");
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *key = getenv("VEM_GIT_SSH_KEY");
		if (key && st->attempts == 1)
			return git_credential_ssh_key_new(out, user ? user : "git", NULL, key,
							  getenv("VEM_GIT_SSH_PASSPHRASE"));
		if (getenv("SSH_AUTH_SOCK") && *getenv("SSH_AUTH_SOCK") && st->attempts <= 2)
			return git_credential_ssh_key_from_agent(out, user ? user : "git");
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		const char *token = getenv("VEM_GIT_TOKEN");
		if (token && st->attempts == 1)
			return git_credential_userpass_plaintext_new(
				out, getenv("VEM_GIT_USER") ? getenv("VEM_GIT_USER") :
				user ? user : "x-access-token", token);
		if (!st->user)
			creds_from_file(url, st);
		if (st->user && st->attempts <= 2)
			return git_credential_userpass_plaintext_new(out, st->user, st->secret);
	}
	git_error_set_str(GIT_ERROR_NET, "authentication required and no credentials were "
			  "accepted (VEM_GIT_SSH_KEY, ssh-agent, VEM_GIT_TOKEN or a credentials file)");
	return GIT_EAUTH;
}

/* Whether known_hosts file lists key (base64) for name ("host" or "[host]:port"). */
static bool known_hosts_has(const char *file, const char *name, const char *key)
{
	char *argv[] = { "ssh-keygen", "-F", (char *)name, "-f", (char *)file, NULL };
	struct strbuf out = STRBUF_INIT;
	bool found = false;
	char *line, *next;

	if (access(file, R_OK) || run_capture(argv, &out) != 0)
		goto out;
	for (line = out.buf; line && *line && !found; line = next) {
		char *k;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#')
			continue;
		/* "name keytype base64 [comment]" */
		k = strchr(line, ' ');
		k = k ? strchr(k + 1, ' ') : NULL;
		if (k && !strncmp(k + 1, key, strlen(key)) &&
		    (k[1 + strlen(key)] == '\0' || k[1 + strlen(key)] == ' '))
			found = true;
	}
out:
	strbuf_release(&out);
	return found;
}

/*
 * libgit2 1.5 accepts any ssh host key unless told otherwise: check it
 * against $VEM_GIT_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts
 * (with ssh-keygen -F, which understands hashed entries). https keeps
 * libgit2's own certificate verification (GIT_PASSTHROUGH).
 */
static int git_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct git_cred_state *st = payload;
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	const char *p = st->url ? strstr(st->url, "://") : NULL;
	char *name = NULL, *key = NULL, *home_kh = NULL;
	const char *files[3];
	int port = 22, rc = GIT_ECERTIFICATE;

	(void)valid;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH;
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey_len) {
		git_error_set_str(GIT_ERROR_SSH, "cannot verify the ssh host key (no raw key)");
		return GIT_ECERTIFICATE;
	}
	if (p) {
		const char *h = strchr(p + 3, '@') ? strchr(p + 3, '@') + 1 : p + 3;
		const char *colon = strchr(h, ':'), *slash = strchr(h, '/');
		int64_t v;
		if (colon && (!slash || colon < slash)) {
			char *num = xstrndup(colon + 1, (size_t)((slash ? slash : colon + strlen(colon)) - colon - 1));
			if (!parse_int64(num, &v) && v > 0 && v < 65536)
				port = (int)v;
			free(num);
		}
	}
	name = port == 22 ? xstrdup(host) : xasprintf("[%s]:%d", host, port);
	key = xmalloc(4 * ((hk->hostkey_len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)key, (const unsigned char *)hk->hostkey,
			(int)hk->hostkey_len);
	home_kh = getenv("HOME") ? xasprintf("%s/.ssh/known_hosts", getenv("HOME")) : NULL;
	files[0] = getenv("VEM_GIT_KNOWN_HOSTS");
	files[1] = home_kh;
	files[2] = "/etc/ssh/ssh_known_hosts";
	for (size_t i = 0; i < ARRAY_SIZE(files) && rc; i++)
		if (files[i] && known_hosts_has(files[i], name, key))
			rc = 0;
	if (rc)
		git_error_set(GIT_ERROR_SSH, "the ssh host key of '%s' is not in known_hosts "
			      "(VEM_GIT_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts; "
			      "add it with ssh-keyscan)", name);
	free(name);
	free(key);
	free(home_kh);
	return rc;
}

static const char *git_why(int code)
{
	const git_error *e = git_error_last();
	(void)code;
	return e && e->message ? e->message : "unknown libgit2 error";
}

static const char *git_kind(int code)
{
	const git_error *e = git_error_last();
	if (code == GIT_EAUTH || (e && e->message && (strstr(e->message, "authenticat") ||
						       strstr(e->message, "Authenticat"))))
		return "authentication failed";
	if (code == GIT_ECERTIFICATE)
		return "certificate check failed";
	if (e && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_SSH ||
		  e->klass == GIT_ERROR_HTTP || e->klass == GIT_ERROR_SSL ||
		  e->klass == GIT_ERROR_OS))
		return "network error";
	return "error";
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	size_t *seen = opaque;
	(void)ptr;
	*seen += size * nmemb;
	return *seen > 65536 ? 0 : size * nmemb;   /* the status is all we need */
}

/*
 * A git server over http(s) must answer where it was asked: vem refuses
 * redirects (libgit2 1.5 follows them, relative ones into a NULL strcmp in
 * git_remote_connect). The first request libgit2 would make is asked
 * first, with libcurl and without following; libgit2 itself is then told
 * GIT_REMOTE_REDIRECT_NONE for the rest.
 */
static int git_no_redirect(const char *url, const char *display, struct errbuf *err)
{
	CURL *curl;
	char *probe, *where = NULL, curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	size_t seen = 0;
	CURLcode cc;
	int rc = 0;

	if (!str_starts_with(url, "http://") && !str_starts_with(url, "https://"))
		return 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	probe = xasprintf("%s%sinfo/refs?service=git-upload-pack", url,
			  str_ends_with(url, "/") ? "" : "/");
	curl = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, probe);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "git/2.0 (vem/" VEM_VERSION ")");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400) {
		const char *loc = NULL;
		curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &loc);
		where = loc ? uri_mask(loc) : xstrdup("elsewhere");
		rc = err_set(err, "source '%s': the server redirects (HTTP %ld to '%s'); vem does not "
			     "follow redirects for git sources: use the final URL", display, status, where);
	}
	(void)cc;   /* other failures: libgit2 reports them in its own words */
	curl_easy_cleanup(curl);
	free(probe);
	free(where);
	return rc;
}

/* Fetch all branches and tags of url into the bare mirror repo; learn the
 * remote's default branch (NULL when it has none). */
static int git_fetch(git_repository *repo, const char *url, const char *display,
		     char **default_branch, struct errbuf *err)
{
	static char *refspecs_s[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { refspecs_s, 2 };
	git_remote *remote = NULL;
	git_fetch_options fo;
	git_remote_callbacks cb;
	git_remote_create_options ro;
	git_remote_connect_options co;
	struct git_cred_state st = { .url = url };
	git_buf head = { 0 };
	int e, rc = -1;

	*default_branch = NULL;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb.credentials = git_cred_cb;
	cb.certificate_check = git_cert_cb;
	cb.payload = &st;
	fo.callbacks = cb;
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	/* anonymous, and without the user's url.*.insteadOf rules: vem reads
	 * exactly the URL it was given (the rules' regex lookup also leaks
	 * pcre2 match data in libgit2 1.5) */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((e = git_remote_create_with_opts(&remote, url, &ro)) < 0) {
		err_set(err, "source '%s': %s", display, git_why(e));
		goto out;
	}
	if (git_no_redirect(url, display, err))
		goto out;
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks = cb;
	co.proxy_opts = fo.proxy_opts;
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	if ((e = git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &co)) < 0) {
		err_set(err, "source '%s': cannot reach repository: %s: %s", display,
			git_kind(e), git_why(e));
		goto out;
	}
	if (git_remote_default_branch(&head, remote) == 0 && head.ptr)
		*default_branch = xstrdup(head.ptr);
	if ((e = git_remote_download(remote, &refspecs, &fo)) < 0 ||
	    (e = git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL)) < 0 ||
	    (e = git_remote_prune(remote, &cb)) < 0) {
		err_set(err, "source '%s': cannot fetch: %s: %s", display, git_kind(e), git_why(e));
		goto out;
	}
	rc = 0;
out:
	git_buf_dispose(&head);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	free(st.user);
	free(st.secret);
	return rc;
}

/* Verify the commit's signature against keyring with gpgv. */
static int git_verify_signed(git_repository *repo, git_oid *oid, const char *keyring,
			     const char *display, const char *workdir, struct errbuf *err)
{
	git_buf sig = { 0 }, data = { 0 };
	char shortid[8];
	char *sigf = NULL, *dataf = NULL, *kr = NULL;
	struct strbuf out = STRBUF_INIT;
	int e, rc = -1, status;

	git_oid_tostr(shortid, sizeof(shortid), oid);
	e = git_commit_extract_signature(&sig, &data, repo, oid, NULL);
	if (e == GIT_ENOTFOUND) {
		err_set(err, "source '%s': commit %s is not signed", display, shortid);
		goto out;
	}
	if (e < 0) {
		err_set(err, "source '%s': commit %s: cannot read its signature: %s", display,
			shortid, git_why(e));
		goto out;
	}
	kr = realpath(keyring, NULL);
	if (!kr) {
		err_set(err, "keyring '%s': %s", keyring, strerror(errno));
		goto out;
	}
	sigf = xasprintf("%s/commit.sig", workdir);
	dataf = xasprintf("%s/commit.data", workdir);
	if (write_file(sigf, sig.ptr, sig.size) || write_file(dataf, data.ptr, data.size)) {
		err_set(err, "source '%s': cannot write '%s': %s", display, workdir, strerror(errno));
		goto out;
	}
	{
		char *argv[] = { "gpgv", "--status-fd", "1", "--keyring", kr, sigf, dataf, NULL };
		status = run_capture(argv, &out);
	}
	if (status == 127 || status < 0) {
		err_set(err, "source '%s': cannot run gpgv to check commit %s (install gpgv)",
			display, shortid);
		goto out;
	}
	if (strstr(out.buf, "[GNUPG:] NO_PUBKEY") || strstr(out.buf, "[GNUPG:] ERRSIG")) {
		err_set(err, "source '%s': commit %s: signature by unknown key (not in '%s')",
			display, shortid, keyring);
		goto out;
	}
	if (status != 0 || !strstr(out.buf, "[GNUPG:] GOODSIG") ||
	    !strstr(out.buf, "[GNUPG:] VALIDSIG")) {
		err_set(err, "source '%s': commit %s: bad signature", display, shortid);
		goto out;
	}
	rc = 0;
out:
	if (sigf)
		unlink(sigf);
	if (dataf)
		unlink(dataf);
	free(sigf);
	free(dataf);
	free(kr);
	strbuf_release(&out);
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	return rc;
}

/* Remove work trees of older commits, keeping the newest few (others may
 * still be loading them). */
static void git_prune_trees(const char *trees, const char *keep)
{
	DIR *d = opendir(trees);
	struct dirent *e;
	struct { char *name; time_t mtime; } *v = NULL;
	size_t n = 0, a = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		char *p;
		if (e->d_name[0] == '.' || !strcmp(e->d_name, keep))
			continue;
		p = xasprintf("%s/%s", trees, e->d_name);
		if (!lstat(p, &st)) {
			ALLOC_GROW(v, n + 1, a);
			v[n].name = p;
			v[n++].mtime = st.st_mtime;
		} else {
			free(p);
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		size_t newer = 0;
		for (size_t j = 0; j < n; j++)
			if (v[j].mtime > v[i].mtime || (v[j].mtime == v[i].mtime && j < i))
				newer++;
		/* keep's tree plus the newest SOURCE_TREES_KEPT - 1 others; leftovers
		 * of interrupted checkouts ("tmp.*") once they are an hour old */
		if (str_starts_with(strrchr(v[i].name, '/') + 1, "tmp.") ?
		    v[i].mtime < time(NULL) - 3600 : newer + 1 >= SOURCE_TREES_KEPT)
			rm_tree(v[i].name);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* What a checkout will write: blob paths within the limits, submodules noted. */
struct checkout_walk {
	const char *display;
	const char *prefix;       /* the subdir and '/', or "" */
	git_odb *odb;
	char **paths;
	size_t n, a;
	uint64_t bytes, max_bytes, max_files;
	bool too_many, too_big;
};

static void checkout_walk_release(struct checkout_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->paths[i]);
	free(w->paths);
	w->paths = NULL;
	w->n = w->a = 0;
}

static int checkout_walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct checkout_walk *w = payload;
	git_object_t type = git_tree_entry_type(e);
	size_t len = 0;
	git_object_t t;

	if (type == GIT_OBJECT_COMMIT) {
		fprintf(stderr, "vem: note: source '%s': ignoring git submodule '%s%s%s'\n",
			w->display, w->prefix, root, git_tree_entry_name(e));
		return 1;   /* nothing under it */
	}
	if (type != GIT_OBJECT_BLOB)
		return 0;
	if (w->n + 1 > w->max_files) {
		w->too_many = true;
		return -1;
	}
	if (git_odb_read_header(&len, &t, w->odb, git_tree_entry_id(e)) == 0)
		w->bytes += len;
	if (w->bytes > w->max_bytes) {
		w->too_big = true;
		return -1;
	}
	ALLOC_GROW(w->paths, w->n + 1, w->a);
	w->paths[w->n++] = xasprintf("%s%s%s", w->prefix, root, git_tree_entry_name(e));
	return 0;
}

/*
 * The paths of tree (or of its subdir, entry) to check out, within
 * VEM_MAX_CHECKOUT_FILES and VEM_MAX_CHECKOUT_BYTES; submodules are skipped
 * with a note (their commits are not in this repository).
 */
static int checkout_plan(git_repository *repo, git_tree *tree, git_tree_entry *entry,
			 const char *subdir, struct checkout_walk *w, const char *hex,
			 struct errbuf *err)
{
	git_tree *sub = NULL;
	char *prefix = NULL, b[32];
	int rc = -1;

	w->max_files = env_limit("VEM_MAX_CHECKOUT_FILES", SOURCE_MAX_CHECKOUT_FILES, true);
	w->max_bytes = env_limit("VEM_MAX_CHECKOUT_BYTES", SOURCE_MAX_CHECKOUT_BYTES, false);
	if (git_repository_odb(&w->odb, repo) < 0) {
		err_set(err, "source '%s': %s", w->display, git_why(-1));
		return -1;
	}
	if (entry && git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
		ALLOC_GROW(w->paths, w->n + 1, w->a);
		w->paths[w->n++] = xstrdup(subdir);
		rc = 0;
		goto out;
	}
	if (entry && git_tree_lookup(&sub, repo, git_tree_entry_id(entry)) < 0) {
		err_set(err, "source '%s': %s", w->display, git_why(-1));
		goto out;
	}
	prefix = entry ? xasprintf("%s/", subdir) : xstrdup("");
	w->prefix = prefix;
	git_tree_walk(sub ? sub : tree, GIT_TREEWALK_PRE, checkout_walk_cb, w);
	if (w->too_many)
		err_set(err, "source '%s': commit %.7s has more than %llu files to check out "
			"(VEM_MAX_CHECKOUT_FILES raises the limit)", w->display, hex,
			(unsigned long long)w->max_files);
	else if (w->too_big)
		err_set(err, "source '%s': commit %.7s has more than %s to check out "
			"(VEM_MAX_CHECKOUT_BYTES raises the limit)", w->display, hex,
			format_size(w->max_bytes, b));
	else
		rc = 0;
out:
	if (rc)
		checkout_walk_release(w);
	w->prefix = NULL;
	free(prefix);
	git_tree_free(sub);
	git_odb_free(w->odb);
	w->odb = NULL;
	return rc;
}

static int source_git_resolve(const char *spec, const struct source_options *opt,
			      struct source *out, struct errbuf *err)
{
	struct git_spec g;
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	char *base = NULL, *dir = NULL, *repo_path = NULL, *trees = NULL, *tree_dir = NULL;
	char *tmp = NULL, *lockf = NULL, *default_branch = NULL, *display = NULL, *tree_name = NULL;
	char urlhash[65], hex[GIT_OID_HEXSZ + 1];
	const char *ref;
	int lockfd = -1, e, rc = -1;
	struct stat st;

	if (git_spec_parse(spec, &g, err))
		return -1;
	{
		char *u = url_display(g.url);
		display = xasprintf("git+%s%s%s%s%s", u, g.subdir ? "//" : "",
				    g.subdir ? g.subdir : "", g.ref ? "?ref=" : "", g.ref ? g.ref : "");
		free(u);
	}
	git_libgit2_init();
	sha256_hex(g.url, strlen(g.url), urlhash);
	base = source_cache_dir(opt, "git");
	dir = xasprintf("%s/%s", base, urlhash);
	mkdir(dir, 0700);
	repo_path = xasprintf("%s/repo.git", dir);
	trees = xasprintf("%s/trees", dir);
	mkdir(trees, 0700);

	/* One fetch at a time per repository (timer, hook and a workstation
	 * may resolve the same source at once). */
	lockf = xasprintf("%s/lock", dir);
	lockfd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX)) {
		err_set(err, "source '%s': cannot lock cache '%s': %s", display, dir, strerror(errno));
		goto out;
	}
	if (stat(repo_path, &st) == 0)
		e = git_repository_open_bare(&repo, repo_path);
	else
		e = git_repository_init(&repo, repo_path, 1);
	if (e < 0) {
		err_set(err, "source '%s': cannot open cache '%s': %s", display, repo_path, git_why(e));
		goto out;
	}
	if (git_fetch(repo, g.url, display, &default_branch, err))
		goto out;

	ref = g.ref ? g.ref : default_branch;
	if (!ref) {
		/* the remote's HEAD names no existing branch: the usual names */
		git_reference *r = NULL;
		if (!git_reference_lookup(&r, repo, "refs/heads/main"))
			ref = "refs/heads/main";
		else if (!git_reference_lookup(&r, repo, "refs/heads/master"))
			ref = "refs/heads/master";
		git_reference_free(r);
	}
	if (!ref) {
		err_set(err, "source '%s': the repository has no default branch; name one with "
			"'?ref=BRANCH'", display);
		goto out;
	}
	e = git_revparse_single(&obj, repo, ref);
	if (e < 0 && !str_starts_with(ref, "refs/")) {
		char *full = xasprintf("refs/tags/%s", ref);
		e = git_revparse_single(&obj, repo, full);
		free(full);
	}
	if (e < 0) {
		err_set(err, "source '%s': unknown ref '%s' (no such branch, tag or commit)",
			display, ref);
		goto out;
	}
	if ((e = git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT)) < 0) {
		err_set(err, "source '%s': ref '%s' does not name a commit", display, ref);
		goto out;
	}
	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));

	if (opt && opt->require_signed_by &&
	    git_verify_signed(repo, (git_oid *)git_commit_id(commit), opt->require_signed_by,
			      display, dir, err))
		goto out;

	if ((e = git_commit_tree(&tree, commit)) < 0) {
		err_set(err, "source '%s': commit %.7s: %s", display, hex, git_why(e));
		goto out;
	}
	if (g.subdir) {
		if (git_tree_entry_bypath(&entry, tree, g.subdir) < 0) {
			err_set(err, "source '%s': path '%s' is not in the repository at commit %.7s",
				display, g.subdir, hex);
			goto out;
		}
		if (git_tree_entry_type(entry) != GIT_OBJECT_TREE &&
		    git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
			err_set(err, "source '%s': path '%s' at commit %.7s is not a file or directory",
				display, g.subdir, hex);
			goto out;
		}
	}

	/* one tree per commit and subdir: only the subdir is checked out */
	if (g.subdir) {
		char sh[65];
		sha256_hex(g.subdir, strlen(g.subdir), sh);
		tree_name = xasprintf("%s-%.12s", hex, sh);
	} else {
		tree_name = xstrdup(hex);
	}
	tree_dir = xasprintf("%s/%s", trees, tree_name);
	if (stat(tree_dir, &st)) {
		git_checkout_options co;
		struct checkout_walk w = { .display = display };
		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		if (checkout_plan(repo, tree, entry, g.subdir, &w, hex, err))
			goto out;
		tmp = xasprintf("%s/tmp.%s.%ld", trees, tree_name, (long)getpid());
		rm_tree(tmp);
		if (mkdir(tmp, 0700)) {
			err_set(err, "source '%s': cannot create '%s': %s", display, tmp, strerror(errno));
			checkout_walk_release(&w);
			goto out;
		}
		co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX |
				       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
		co.target_directory = tmp;
		co.paths.strings = w.paths;
		co.paths.count = w.n;
		/* no paths would mean every path to libgit2: an empty tree stays empty */
		e = w.n ? git_checkout_tree(repo, (git_object *)tree, &co) : 0;
		checkout_walk_release(&w);
		if (e < 0) {
			err_set(err, "source '%s': cannot check out commit %.7s: %s", display, hex,
				git_why(e));
			goto out;
		}
		if (rename(tmp, tree_dir)) {
			err_set(err, "source '%s': cannot rename '%s': %s", display, tmp, strerror(errno));
			goto out;
		}
	} else {
		utimes(tree_dir, NULL);   /* most recently used */
	}
	git_prune_trees(trees, tree_name);

	out->local_path = g.subdir ? xasprintf("%s/%s", tree_dir, g.subdir) : xstrdup(tree_dir);
	out->revision = xstrdup(hex);
	out->untrusted = true;
	out->root = xstrdup(tree_dir);
	out->display = display;
	display = NULL;
	rc = 0;
out:
	if (tmp && rc)
		rm_tree(tmp);
	if (lockfd >= 0)
		close(lockfd);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	git_object_free(obj);
	git_repository_free(repo);
	git_libgit2_shutdown();
	git_spec_release(&g);
	free(base);
	free(dir);
	free(repo_path);
	free(trees);
	free(tree_dir);
	free(tree_name);
	free(tmp);
	free(lockf);
	free(default_branch);
	free(display);
	return rc;
}

/* ---- https ---- */

/* Whether the URL's host is a loopback address (http:// is allowed there). */
static bool url_host_is_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;

	if (!h)
		return false;
	h += 3;
	if (strchr(h, '@') && (!strchr(h, '/') || strchr(h, '@') < strchr(h, '/')))
		h = strchr(h, '@') + 1;
	if (*h == '[') {
		n = strcspn(h + 1, "]");
		return n == 3 && !strncmp(h + 1, "::1", 3);
	}
	n = strcspn(h, ":/?#");
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!strcmp(host, "localhost"))
		return true;
	/* 127.0.0.0/8 written as a dotted quad */
	if (str_starts_with(host, "127.")) {
		int dots = 0;
		for (const char *p = host; *p; p++) {
			if (*p == '.')
				dots++;
			else if (!isdigit((unsigned char)*p))
				return false;
		}
		return dots == 3;
	}
	return false;
}

struct https_sink {
	FILE *f;
	EVP_MD_CTX *md;
	uint64_t bytes;
	bool too_big;
};

static size_t https_write(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	struct https_sink *s = opaque;
	size_t n = size * nmemb;
	if (s->bytes + n > SOURCE_MAX_HTTPS_BYTES) {
		s->too_big = true;
		return 0;
	}
	if (fwrite(ptr, 1, n, s->f) != n)
		return 0;
	EVP_DigestUpdate(s->md, ptr, n);
	s->bytes += n;
	return n;
}

static char *url_file_name(const char *url)
{
	const char *h = strstr(url, "://");
	const char *path = h ? strchr(h + 3, '/') : NULL;
	size_t len;
	const char *slash;

	if (!path)
		return xstrdup("cluster.yaml");
	len = strcspn(path, "?#");
	slash = path;
	for (const char *p = path; p < path + len; p++)
		if (*p == '/')
			slash = p;
	len -= (size_t)(slash + 1 - path);
	if (!len || (len == 2 && !strncmp(slash + 1, "..", 2)) || (len == 1 && slash[1] == '.'))
		return xstrdup("cluster.yaml");
	return xstrndup(slash + 1, len);
}

static int source_https_resolve(const char *spec, const struct source_options *opt,
				struct source *out, struct errbuf *err)
{
	bool http = str_starts_with(spec, "http://");
	char *display = url_display(spec);
	char *base = NULL, *dir = NULL, *name = NULL, *path = NULL, *tmp = NULL;
	char urlhash[65], hex[65], curl_err[CURL_ERROR_SIZE] = "";
	struct https_sink sink = { 0 };
	CURL *curl = NULL;
	CURLcode cc;
	long status = 0;
	int rc = -1;

	if (http && !url_host_is_loopback(spec) && !(opt && opt->allow_http)) {
		err_set(err, "source '%s': plain http:// is refused (only loopback addresses); "
			"use https://", display);
		goto out;
	}
	if (opt && opt->require_signed_by) {
		err_set(err, "source '%s': --require-signed-by needs a git source", display);
		goto out;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sha256_hex(spec, strlen(spec), urlhash);
	base = source_cache_dir(opt, "https");
	dir = xasprintf("%s/%s", base, urlhash);
	mkdir(dir, 0700);
	name = url_file_name(spec);
	path = xasprintf("%s/%s", dir, name);
	tmp = xasprintf("%s/.download.%ld", dir, (long)getpid());
	sink.f = fopen(tmp, "we");
	if (!sink.f) {
		err_set(err, "source '%s': cannot write '%s': %s", display, tmp, strerror(errno));
		goto out;
	}
	sink.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(sink.md, EVP_sha256(), NULL);
	curl = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, spec);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR,
			 opt && opt->allow_http ? "http,https" : "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);   /* a whole download, slow servers too */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "vem/" VEM_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, https_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (sink.too_big) {
		err_set(err, "source '%s': larger than the limit of %llu bytes", display,
			SOURCE_MAX_HTTPS_BYTES);
		goto out;
	}
	if (cc != CURLE_OK) {
		err_set(err, "source '%s': download failed: %s", display,
			curl_err[0] ? curl_err : curl_easy_strerror(cc));
		goto out;
	}
	if (status != 200) {
		err_set(err, "source '%s': server answered HTTP %ld", display, status);
		goto out;
	}
	if (fclose(sink.f)) {
		sink.f = NULL;
		err_set(err, "source '%s': cannot write '%s': %s", display, tmp, strerror(errno));
		goto out;
	}
	sink.f = NULL;
	if (rename(tmp, path)) {
		err_set(err, "source '%s': cannot rename '%s': %s", display, tmp, strerror(errno));
		goto out;
	}
	digest_hex(sink.md, hex);
	out->local_path = path;
	path = NULL;
	out->revision = xasprintf("sha256:%s", hex);
	out->untrusted = true;
	out->root = xstrdup(dir);
	out->display = display;
	display = NULL;
	rc = 0;
out:
	if (sink.f)
		fclose(sink.f);
	if (tmp && rc)
		unlink(tmp);
	if (sink.md)
		EVP_MD_CTX_free(sink.md);
	if (curl)
		curl_easy_cleanup(curl);
	free(display);
	free(base);
	free(dir);
	free(name);
	free(path);
	free(tmp);
	return rc;
}

int source_resolve(const char *spec, const struct source_options *opt,
		   struct source *out, struct errbuf *err)
{
	char hash[72];

	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return err_set(err, "no source given");
	if (str_starts_with(spec, "git+"))
		return source_git_resolve(spec, opt, out, err);
	if (str_starts_with(spec, "https://") || str_starts_with(spec, "http://"))
		return source_https_resolve(spec, opt, out, err);
	if (opt && opt->require_signed_by)
		return err_set(err, "source '%s': --require-signed-by needs a git source", spec);
	if (source_hash_path(spec, hash, err))
		return -1;
	out->local_path = xstrdup(spec);
	out->revision = xstrdup(hash);
	out->display = xstrdup(spec);
	return 0;
}
