/*
 * source.c - what the kinds of source share: struct source, content
 * hashes (the revision of a local file or directory: "sha256:<hex>" of the
 * file, or of the sorted names and contents of a directory's *.yaml files),
 * the cache directory and removing trees from it.
 */
#include "source_priv.h"
#include "schema/load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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


void source_digest_hex(EVP_MD_CTX *md, char *out)
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
	source_digest_hex(md, out + 7);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

char *source_cache_dir(const struct source_options *opt, const char *sub)
{
	return cache_dir(opt ? opt->cache_dir : NULL, sub);
}


static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void source_rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
