/*
 * https.c - https://host/path/file.yaml: one file through libcurl
 * (certificates verified) into <cache>/https/<sha256 of URL>/<name>;
 * revision = sha256 of the content. http:// only to loopback addresses
 * (tests) or with source_options.allow_http.
 */
#include "source_priv.h"
#include "util/uri.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#define SOURCE_MAX_HTTPS_BYTES (16ULL * 1024 * 1024)

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

int source_https_resolve(const char *spec, const struct source_options *opt,
				struct source *out, struct errbuf *err)
{
	bool http = str_starts_with(spec, "http://");
	char *display = uri_mask(spec);
	char *base = NULL, *dir = NULL, *name = NULL, *path = NULL, *tmp = NULL;
	char urlhash[65], hex[65], curl_err[CURL_ERROR_SIZE] = "";
	struct https_sink sink = { 0 };
	CURL *curl = NULL;
	CURLcode cc;
	long status = 0;
	int rc = -1;

	if (http && !uri_host_is_loopback(spec) && !(opt && opt->allow_http)) {
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
	source_digest_hex(sink.md, hex);
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

