/*
 * source.c - resolve -f arguments into a local path and a revision.
 */
#include "source.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>

int source_resolve_git(const char *spec, const struct source_options *opt,
		       struct source *out, struct errbuf *err);
int source_resolve_https(const char *spec, const struct source_options *opt,
			 struct source *out, struct errbuf *err);

void source_release(struct source *s)
{
	free(s->local_path);
	free(s->revision);
	free(s->display);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_file_into(EVP_MD_CTX *md, const char *path, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path, 0)) {
		err_set(err, "cannot read '%s': %s", path, strerror(errno));
		strbuf_release(&sb);
		return -1;
	}
	EVP_DigestUpdate(md, sb.buf, sb.len);
	strbuf_release(&sb);
	return 0;
}

int source_hash_path(const char *path, char out[72], struct errbuf *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned int dl = 0;
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
		while ((e = readdir(dir)))
			if (e->d_name[0] != '.' && (str_ends_with(e->d_name, ".yaml") ||
						    str_ends_with(e->d_name, ".yml"))) {
				ALLOC_GROW(names, n + 1, a);
				names[n++] = xstrdup(e->d_name);
			}
		closedir(dir);
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
	EVP_DigestFinal_ex(md, d, &dl);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

char *source_cache_dir(const struct source_options *opt, const char *sub)
{
	return cache_dir(opt ? opt->cache_dir : NULL, sub);
}

int source_resolve(const char *spec, const struct source_options *opt,
		   struct source *out, struct errbuf *err)
{
	char hash[72];

	memset(out, 0, sizeof(*out));
	if (str_starts_with(spec, "git+"))
		return source_resolve_git(spec, opt, out, err);
	if (str_starts_with(spec, "https://") || str_starts_with(spec, "http://"))
		return source_resolve_https(spec, opt, out, err);
	if (opt && opt->require_signed_by)
		return err_set(err, "source '%s': --require-signed-by needs a git source", spec);
	if (source_hash_path(spec, hash, err))
		return -1;
	out->local_path = xstrdup(spec);
	out->revision = xstrdup(hash);
	out->display = xstrdup(spec);
	return 0;
}
