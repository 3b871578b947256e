/*
 * git.c - git+URL[//subdir][?ref=REF] sources.
 *
 * A bare mirror in <cache>/git/<sha256 of URL>/repo.git is fetched on every
 * resolve; the commit REF names is checked out into
 * <cache>/git/<sha>/trees/<commit> (made once, atomically by rename);
 * revision = commit id. Optional signature check with gpgv (verify.c);
 * credentials and host keys in git_auth.c.
 */
#include "source_priv.h"
#include "util/uri.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define SOURCE_TREES_KEPT 4
#define SOURCE_MAX_CHECKOUT_FILES 10000
#define SOURCE_MAX_CHECKOUT_BYTES (64ULL << 20)

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
	struct source_git_auth st = { .url = url };
	git_buf head = { 0 };
	int e, rc = -1;

	*default_branch = NULL;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb.credentials = source_git_credentials_cb;
	cb.certificate_check = source_git_certificate_cb;
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
		err_set(err, "source '%s': %s", display, source_git_why(e));
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
			git_kind(e), source_git_why(e));
		goto out;
	}
	if (git_remote_default_branch(&head, remote) == 0 && head.ptr)
		*default_branch = xstrdup(head.ptr);
	if ((e = git_remote_download(remote, &refspecs, &fo)) < 0 ||
	    (e = git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL)) < 0 ||
	    (e = git_remote_prune(remote, &cb)) < 0) {
		err_set(err, "source '%s': cannot fetch: %s: %s", display, git_kind(e), source_git_why(e));
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
			source_rm_tree(v[i].name);
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
		err_set(err, "source '%s': %s", w->display, source_git_why(-1));
		return -1;
	}
	if (entry && git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
		ALLOC_GROW(w->paths, w->n + 1, w->a);
		w->paths[w->n++] = xstrdup(subdir);
		rc = 0;
		goto out;
	}
	if (entry && git_tree_lookup(&sub, repo, git_tree_entry_id(entry)) < 0) {
		err_set(err, "source '%s': %s", w->display, source_git_why(-1));
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

/* The spec as messages show it: the URL's credentials masked. */
static char *git_spec_display(const struct git_spec *g)
{
	char *u = uri_mask(g->url);
	char *d = xasprintf("git+%s%s%s%s%s", u, g->subdir ? "//" : "", g->subdir ? g->subdir : "",
			    g->ref ? "?ref=" : "", g->ref ? g->ref : "");

	free(u);
	return d;
}

/*
 * The cache of one repository URL, <cache>/git/<sha256 of URL>/: the bare
 * mirror repo.git, the checked-out trees/ and a lock file held from
 * git_cache_open to git_cache_close (one fetch at a time per repository:
 * timer, hook and a workstation may resolve the same source at once).
 */
struct git_cache {
	char *dir;
	char *trees;
	int lockfd;
	git_repository *repo;
};

static void git_cache_close(struct git_cache *gc)
{
	if (gc->lockfd >= 0)
		close(gc->lockfd);
	git_repository_free(gc->repo);
	free(gc->dir);
	free(gc->trees);
	memset(gc, 0, sizeof(*gc));
	gc->lockfd = -1;
}

/* Make, lock and open the cache of url; git_cache_close always follows. */
static int git_cache_open(struct git_cache *gc, const struct source_options *opt,
			  const char *url, const char *display, struct errbuf *err)
{
	char urlhash[65];
	char *base = source_cache_dir(opt, "git");
	char *lockf = NULL, *repo_path = NULL;
	struct stat st;
	int e, rc = -1;

	memset(gc, 0, sizeof(*gc));
	sha256_hex(url, strlen(url), urlhash);
	gc->dir = xasprintf("%s/%s", base, urlhash);
	mkdir(gc->dir, 0700);
	gc->trees = xasprintf("%s/trees", gc->dir);
	mkdir(gc->trees, 0700);
	lockf = xasprintf("%s/lock", gc->dir);
	gc->lockfd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (gc->lockfd < 0 || flock(gc->lockfd, LOCK_EX)) {
		err_set(err, "source '%s': cannot lock cache '%s': %s", display, gc->dir,
			strerror(errno));
		goto out;
	}
	repo_path = xasprintf("%s/repo.git", gc->dir);
	if (stat(repo_path, &st) == 0)
		e = git_repository_open_bare(&gc->repo, repo_path);
	else
		e = git_repository_init(&gc->repo, repo_path, 1);
	if (e < 0) {
		err_set(err, "source '%s': cannot open cache '%s': %s", display, repo_path,
			source_git_why(e));
		goto out;
	}
	rc = 0;
out:
	free(base);
	free(lockf);
	free(repo_path);
	return rc;
}

/*
 * The commit that ref names (a branch, tag or commit id); without a ref the
 * remote's default branch, else main or master. The caller frees *commit.
 */
static int git_find_commit(git_repository *repo, const char *ref, const char *default_branch,
			   const char *display, git_commit **commit, struct errbuf *err)
{
	git_object *obj = NULL;
	int e, rc = -1;

	*commit = NULL;
	if (!ref)
		ref = default_branch;
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
	if (git_object_peel((git_object **)commit, obj, GIT_OBJECT_COMMIT) < 0) {
		err_set(err, "source '%s': ref '%s' does not name a commit", display, ref);
		goto out;
	}
	rc = 0;
out:
	git_object_free(obj);
	return rc;
}

/* The entry of subdir in tree (a file or directory); the caller frees it. */
static int git_find_subdir(git_tree *tree, const char *subdir, const char *display,
			   const char *hex, git_tree_entry **entry, struct errbuf *err)
{
	*entry = NULL;
	if (git_tree_entry_bypath(entry, tree, subdir) < 0)
		return err_set(err, "source '%s': path '%s' is not in the repository at commit %.7s",
			       display, subdir, hex);
	if (git_tree_entry_type(*entry) != GIT_OBJECT_TREE &&
	    git_tree_entry_type(*entry) != GIT_OBJECT_BLOB) {
		git_tree_entry_free(*entry);
		*entry = NULL;
		return err_set(err, "source '%s': path '%s' at commit %.7s is not a file or "
			       "directory", display, subdir, hex);
	}
	return 0;
}

/* Check out tree (only entry, the subdir, when given) into a new directory
 * tmp, within the limits of checkout_plan. */
static int git_checkout_into(git_repository *repo, git_tree *tree, git_tree_entry *entry,
			     const char *subdir, const char *tmp, const char *display,
			     const char *hex, struct errbuf *err)
{
	struct checkout_walk w = { .display = display };
	git_checkout_options co;
	int e, rc = -1;

	if (checkout_plan(repo, tree, entry, subdir, &w, hex, err))
		return -1;
	source_rm_tree(tmp);
	if (mkdir(tmp, 0700)) {
		err_set(err, "source '%s': cannot create '%s': %s", display, tmp, strerror(errno));
		goto out;
	}
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX |
			       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.target_directory = tmp;
	co.paths.strings = w.paths;
	co.paths.count = w.n;
	/* no paths would mean every path to libgit2: an empty tree stays empty */
	e = w.n ? git_checkout_tree(repo, (git_object *)tree, &co) : 0;
	if (e < 0) {
		err_set(err, "source '%s': cannot check out commit %.7s: %s", display, hex,
			source_git_why(e));
		goto out;
	}
	rc = 0;
out:
	checkout_walk_release(&w);
	return rc;
}

/*
 * The work tree of commit (its subdir only, when the spec names one) in the
 * cache: made once per commit and subdir, in a temporary directory renamed
 * into place; older trees are pruned. *tree_dir is the caller's.
 */
static int git_tree_for_commit(struct git_cache *gc, git_commit *commit, const char *subdir,
			       const char *display, char **tree_dir, struct errbuf *err)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	char *tree_name = NULL, *dir = NULL, *tmp = NULL;
	struct stat st;
	int e, rc = -1;

	*tree_dir = NULL;
	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	if ((e = git_commit_tree(&tree, commit)) < 0) {
		err_set(err, "source '%s': commit %.7s: %s", display, hex, source_git_why(e));
		goto out;
	}
	if (subdir && git_find_subdir(tree, subdir, display, hex, &entry, err))
		goto out;

	/* one tree per commit and subdir: only the subdir is checked out */
	if (subdir) {
		char sh[65];
		sha256_hex(subdir, strlen(subdir), sh);
		tree_name = xasprintf("%s-%.12s", hex, sh);
	} else {
		tree_name = xstrdup(hex);
	}
	dir = xasprintf("%s/%s", gc->trees, tree_name);
	if (stat(dir, &st)) {
		tmp = xasprintf("%s/tmp.%s.%ld", gc->trees, tree_name, (long)getpid());
		if (git_checkout_into(gc->repo, tree, entry, subdir, tmp, display, hex, err))
			goto out;
		if (rename(tmp, dir)) {
			err_set(err, "source '%s': cannot rename '%s': %s", display, tmp,
				strerror(errno));
			goto out;
		}
		free(tmp);
		tmp = NULL;
	} else {
		utimes(dir, NULL);   /* most recently used */
	}
	git_prune_trees(gc->trees, tree_name);
	*tree_dir = dir;
	dir = NULL;
	rc = 0;
out:
	if (tmp)
		source_rm_tree(tmp);
	free(tmp);
	free(dir);
	free(tree_name);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	return rc;
}

int source_git_resolve(const char *spec, const struct source_options *opt,
		       struct source *out, struct errbuf *err)
{
	struct git_spec g;
	struct git_cache gc = { .lockfd = -1 };
	git_commit *commit = NULL;
	char *display = NULL, *default_branch = NULL, *tree_dir = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = -1;

	if (git_spec_parse(spec, &g, err))
		return -1;
	display = git_spec_display(&g);
	git_libgit2_init();
	if (git_cache_open(&gc, opt, g.url, display, err) ||
	    git_fetch(gc.repo, g.url, display, &default_branch, err) ||
	    git_find_commit(gc.repo, g.ref, default_branch, display, &commit, err))
		goto out;
	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	if (opt && opt->require_signed_by &&
	    source_git_verify_signed(gc.repo, (git_oid *)git_commit_id(commit),
				     opt->require_signed_by, display, gc.dir, err))
		goto out;
	if (git_tree_for_commit(&gc, commit, g.subdir, display, &tree_dir, err))
		goto out;

	out->local_path = g.subdir ? xasprintf("%s/%s", tree_dir, g.subdir) : xstrdup(tree_dir);
	out->revision = xstrdup(hex);
	out->untrusted = true;
	out->root = tree_dir;
	tree_dir = NULL;
	out->display = display;
	display = NULL;
	rc = 0;
out:
	git_commit_free(commit);
	git_cache_close(&gc);
	git_libgit2_shutdown();
	git_spec_release(&g);
	free(default_branch);
	free(display);
	free(tree_dir);
	return rc;
}
