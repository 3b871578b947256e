/*
 * image.c - download, verify and cache disk images (see image.h).
 */
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t verified_lock = PTHREAD_MUTEX_INITIALIZER;
static char **verified;           /* cache files hashed by this process */
static size_t n_verified, alloc_verified;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void image_options_default(struct image_options *o)
{
	memset(o, 0, sizeof(*o));
	o->attempts = 3;
	o->progress = -1;
}

int image_hash_file(const char *path, char out[65], struct errbuf *err)
{
	unsigned char buf[1 << 16], d[32];
	unsigned int dl = 0;
	EVP_MD_CTX *md;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, "cannot read '%s': %s", path, strerror(errno));
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			EVP_DigestUpdate(md, buf, (size_t)n);
	if (n < 0) {
		err_set(err, "cannot read '%s': %s", path, strerror(errno));
		EVP_MD_CTX_free(md);
		close(fd);
		return -1;
	}
	close(fd);
	EVP_DigestFinal_ex(md, d, &dl);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int image_virtual_size(const char *path, const char *format, uint64_t *size,
		       struct errbuf *err)
{
	unsigned char h[72];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, "cannot read '%s': %s", path, strerror(errno));
	n = read(fd, h, sizeof(h));
	if (fstat(fd, &st)) {
		close(fd);
		return err_set(err, "cannot read '%s': %s", path, strerror(errno));
	}
	close(fd);
	if (n >= 4 && !memcmp(h, "QFI\xfb", 4)) {
		if (!str_eq(format, "qcow2"))
			return err_set(err, "image '%s' is qcow2 but its format is given as '%s'",
				       path, format ? format : "raw");
		if (n < 32)
			return err_set(err, "image '%s': truncated qcow2 header", path);
		if (be64(h + 8) != 0)
			return err_set(err, "image '%s' names a backing file; vem uses only "
				       "self-contained images", path);
		*size = be64(h + 24);
		return 0;
	}
	if (str_eq(format, "qcow2"))
		return err_set(err, "image '%s' is not a qcow2 file (no 'QFI' magic)", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static bool is_verified(const char *path)
{
	bool r = false;
	pthread_mutex_lock(&verified_lock);
	for (size_t i = 0; i < n_verified && !r; i++)
		r = !strcmp(verified[i], path);
	pthread_mutex_unlock(&verified_lock);
	return r;
}

static void mark_verified(const char *path)
{
	pthread_mutex_lock(&verified_lock);
	ALLOC_GROW(verified, n_verified + 1, alloc_verified);
	verified[n_verified++] = xstrdup(path);
	pthread_mutex_unlock(&verified_lock);
}

/* The same rule as sources: http:// only to loopback literals. */
static bool url_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (!h)
		return false;
	h += 3;
	if (strchr(h, '@') && (!strchr(h, '/') || strchr(h, '@') < strchr(h, '/')))
		h = strchr(h, '@') + 1;
	if (!strncmp(h, "[::1]", 5))
		return true;
	n = strcspn(h, ":/?#");
	if (n == 9 && !strncmp(h, "localhost", 9))
		return true;
	if (n >= 7 && !strncmp(h, "127.", 4)) {
		int dots = 0;
		for (size_t i = 0; i < n; i++) {
			if (h[i] == '.')
				dots++;
			else if (!isdigit((unsigned char)h[i]))
				return false;
		}
		return dots == 3;
	}
	return false;
}

/* "https://user:secret@host/p" -> "https://host/p" */
static char *url_display(const char *url)
{
	const char *p = strstr(url, "://"), *at, *slash;
	if (!p)
		return xstrdup(url);
	at = strchr(p + 3, '@');
	slash = strchr(p + 3, '/');
	if (!at || (slash && at > slash))
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(p + 3 - url), url, at + 1);
}

/* ---- one download attempt ---- */

struct dl {
	const char *name;      /* image name, for messages */
	int fd;                /* the .part file, opened O_APPEND */
	uint64_t offset;       /* bytes in the file when the attempt started */
	uint64_t written;      /* bytes added in this attempt */
	long status;           /* HTTP status once known */
	bool started;          /* first body byte seen */
	bool restarted;        /* server ignored Range: file truncated */
	bool write_failed;
	int wr_errno;
	uint64_t range_start;  /* from Content-Range, or UINT64_MAX */
	CURL *curl;
	/* progress */
	int mode;              /* 0 none, 1 lines, 2 bar */
	int64_t t0, last;
	uint64_t total;
	bool drew;
};

static size_t dl_header(char *buf, size_t size, size_t nitems, void *opaque)
{
	struct dl *d = opaque;
	size_t n = size * nitems;
	unsigned long long a;

	if (n > 14 && !strncasecmp(buf, "content-range:", 14)) {
		char tmp[128];
		size_t m = n - 14 < sizeof(tmp) - 1 ? n - 14 : sizeof(tmp) - 1;
		memcpy(tmp, buf + 14, m);
		tmp[m] = '\0';
		if (sscanf(tmp, " bytes %llu-", &a) == 1)
			d->range_start = a;
	}
	return n;
}

static size_t dl_write(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	struct dl *d = opaque;
	size_t n = size * nmemb;
	const char *p = ptr;

	if (!d->started) {
		d->started = true;
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
		if (d->status == 200 && d->offset > 0) {
			/* the server ignored Range: start over */
			if (ftruncate(d->fd, 0)) {
				d->write_failed = true;
				d->wr_errno = errno;
				return 0;
			}
			d->offset = 0;
			d->restarted = true;
		} else if (d->status == 206 && d->range_start != d->offset) {
			d->write_failed = true;
			d->wr_errno = EPROTO;
			return 0;
		}
	}
	if (d->status != 200 && d->status != 206 && d->status != 0)
		return n;   /* an error page: not image data */
	while (n) {
		ssize_t w = write(d->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			d->write_failed = true;
			d->wr_errno = errno;
			return 0;
		}
		p += w;
		n -= (size_t)w;
		d->written += (uint64_t)w;
	}
	return size * nmemb;
}

static void dl_draw(struct dl *d, bool final)
{
	uint64_t have = d->offset + d->written;
	double secs = (double)(time_mono_ms() - d->t0) / 1000.0;
	double rate = secs > 0 ? (double)d->written / secs : 0;
	char a[32], b[32], r[32], eta[32] = "--";

	if (d->total && rate > 0 && have <= d->total)
		format_duration((int64_t)((double)(d->total - have) / rate * 1000.0) / 1000 * 1000, eta);
	format_size(have, a);
	format_size(d->total, b);
	format_size((uint64_t)rate, r);
	if (d->mode == 2) {
		int pct = d->total ? (int)(have * 100 / d->total) : 0, fill = pct * 24 / 100;
		char bar[25];
		for (int i = 0; i < 24; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[24] = '\0';
		fprintf(stderr, "\rimage '%s' [%s] %3d%% %s/%s %s/s ETA %s\033[K%s", d->name, bar,
			pct, a, d->total ? b : "?", r, eta, final ? "\n" : "");
		d->drew = true;
	} else {
		fprintf(stderr, "image '%s': %s of %s, %s/s, ETA %s\n", d->name, a,
			d->total ? b : "?", r, eta);
	}
}

static int dl_progress(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct dl *d = opaque;
	int64_t now = time_mono_ms();
	(void)dlnow; (void)ultotal; (void)ulnow;

	if (dltotal > 0)
		d->total = d->offset + (uint64_t)dltotal;
	if (d->mode == 2 && now - d->last >= 200) {
		d->last = now;
		dl_draw(d, false);
	} else if (d->mode == 1 && now - d->last >= 10000) {
		d->last = now;
		dl_draw(d, false);
	}
	return 0;
}

/* One attempt: 0 = the server sent the whole file; -1 with err otherwise. */
static int dl_attempt(const struct image_spec *img, const struct image_options *opt,
		      const char *part, const char *display, int mode, struct errbuf *err)
{
	struct dl d;
	struct stat st;
	char curl_err[CURL_ERROR_SIZE] = "", range[32];
	CURLcode cc;
	int rc = -1;
	bool http = str_starts_with(img->url, "http://");
	bool file = str_starts_with(img->url, "file://");

	memset(&d, 0, sizeof(d));
	d.name = img->name;
	d.range_start = UINT64_MAX;
	d.fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (d.fd < 0 || fstat(d.fd, &st)) {
		err_set(err, "image '%s': cannot write '%s': %s", img->name, part, strerror(errno));
		goto out;
	}
	d.offset = (uint64_t)st.st_size;
	d.mode = mode;
	d.t0 = d.last = time_mono_ms();
	d.curl = curl_easy_init();
	curl_easy_setopt(d.curl, CURLOPT_URL, img->url);
	curl_easy_setopt(d.curl, CURLOPT_PROTOCOLS_STR, file ? "file" : http ? "http" : "https");
	curl_easy_setopt(d.curl, CURLOPT_REDIR_PROTOCOLS_STR,
			 opt->allow_http ? "http,https" : "https");
	curl_easy_setopt(d.curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(d.curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(d.curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(d.curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(d.curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(d.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d.curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(d.curl, CURLOPT_USERAGENT, "vem/" VEM_VERSION);
	curl_easy_setopt(d.curl, CURLOPT_HEADERFUNCTION, dl_header);
	curl_easy_setopt(d.curl, CURLOPT_HEADERDATA, &d);
	curl_easy_setopt(d.curl, CURLOPT_WRITEFUNCTION, dl_write);
	curl_easy_setopt(d.curl, CURLOPT_WRITEDATA, &d);
	if (mode) {
		curl_easy_setopt(d.curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(d.curl, CURLOPT_XFERINFOFUNCTION, dl_progress);
		curl_easy_setopt(d.curl, CURLOPT_XFERINFODATA, &d);
	}
	/* CURLOPT_RANGE rather than RESUME_FROM: a server that ignores Range
	 * answers 200 and dl_write() starts the file over */
	if (d.offset > 0) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)d.offset);
		curl_easy_setopt(d.curl, CURLOPT_RANGE, range);
	}
	if (mode == 1 || (mode && vem_verbosity > 1))
		fprintf(stderr, "image '%s': downloading %s%s\n", img->name, display,
			d.offset ? " (resuming)" : "");
	cc = curl_easy_perform(d.curl);
	if (!d.status)
		curl_easy_getinfo(d.curl, CURLINFO_RESPONSE_CODE, &d.status);
	if (mode && (d.written || d.drew))
		dl_draw(&d, true);
	if (d.write_failed) {
		if (d.wr_errno == EPROTO)
			err_set(err, "image '%s': server resumed at the wrong offset", img->name);
		else
			err_set(err, "image '%s': cannot write '%s': %s", img->name, part,
				strerror(d.wr_errno));
		goto out;
	}
	/* the partial file was already complete: the server has nothing more */
	if (d.status == 416 && d.offset > 0) {
		rc = 0;
		goto out;
	}
	if (cc != CURLE_OK) {
		err_set(err, "image '%s': download of %s stopped after %llu bytes: %s", img->name,
			display, (unsigned long long)(d.offset + d.written),
			curl_err[0] ? curl_err : curl_easy_strerror(cc));
		goto out;
	}
	if (!file && d.status != 200 && d.status != 206) {
		err_set(err, "image '%s': %s answered HTTP %ld", img->name, display, d.status);
		goto out;
	}
	rc = 0;
out:
	if (d.curl)
		curl_easy_cleanup(d.curl);
	if (d.fd >= 0)
		close(d.fd);
	return rc;
}

static bool valid_sha(const char *s)
{
	size_t i;
	for (i = 0; s && s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return s && i == 64;
}

int image_fetch(const struct image_spec *img, const struct image_options *opt_in,
		char **path, struct errbuf *err)
{
	struct image_options opt;
	char *dir = NULL, *final = NULL, *part = NULL, *lockf = NULL, *display = NULL;
	char got[65];
	int lockfd = -1, rc = -1, mode;
	struct stat st;

	*path = NULL;
	if (opt_in)
		opt = *opt_in;
	else
		image_options_default(&opt);
	if (opt.attempts <= 0)
		opt.attempts = 3;
	if (!valid_sha(img->sha256))
		return err_set(err, "image '%s': sha256 must be 64 lowercase hex digits", img->name);
	if (!img->url)
		return err_set(err, "image '%s' has no url", img->name);
	display = url_display(img->url);
	if (!str_starts_with(img->url, "https://") && !str_starts_with(img->url, "file://") &&
	    !(str_starts_with(img->url, "http://") && (opt.allow_http || url_loopback(img->url)))) {
		err_set(err, "image '%s': url '%s' must be https:// or file:// (http:// only to "
			"loopback addresses)", img->name, display);
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	dir = cache_dir(opt.cache_dir, opt.cache_dir ? "." : "images");
	final = xasprintf("%s/%s", dir, img->sha256);
	part = xasprintf("%s/%s.part", dir, img->sha256);
	lockf = xasprintf("%s/%s.lock", dir, img->sha256);
	lockfd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lockfd < 0 || flock(lockfd, LOCK_EX)) {
		err_set(err, "image '%s': cannot lock '%s': %s", img->name, lockf, strerror(errno));
		goto out;
	}
	if (stat(final, &st) == 0) {
		if (is_verified(final)) {
			rc = 0;
			goto out;
		}
		if (image_hash_file(final, got, err))
			goto out;
		if (!strcmp(got, img->sha256)) {
			mark_verified(final);
			rc = 0;
			goto out;
		}
		/* corrupted in the cache: never use it, fetch again */
		unlink(final);
	}
	mode = opt.progress >= 0 ? opt.progress : isatty(STDERR_FILENO) ? 2 : 1;
	if (vem_verbosity <= 0)
		mode = 0;
	for (int attempt = 1;; attempt++) {
		struct errbuf aerr = ERRBUF_INIT;
		if (dl_attempt(img, &opt, part, display, mode, &aerr) == 0) {
			errbuf_release(&aerr);
			break;
		}
		if (attempt >= opt.attempts) {
			for (size_t i = 0; i < aerr.nr; i++)
				err_set(err, "%s%s", aerr.items[i].msg,
					stat(part, &st) == 0 && st.st_size > 0 ?
					" (partial download kept for resuming)" : "");
			errbuf_release(&aerr);
			goto out;
		}
		errbuf_release(&aerr);
		usleep(200000 * (useconds_t)attempt);
	}
	if (image_hash_file(part, got, err))
		goto out;
	if (strcmp(got, img->sha256)) {
		if (stat(part, &st))
			st.st_size = 0;
		unlink(part);
		err_set(err, "image '%s': sha256 mismatch for %s: expected %s, got %s (%lld bytes); "
			"the download was discarded", img->name, display, img->sha256, got,
			(long long)st.st_size);
		goto out;
	}
	if (rename(part, final)) {
		err_set(err, "image '%s': cannot rename '%s': %s", img->name, part, strerror(errno));
		goto out;
	}
	mark_verified(final);
	rc = 0;
out:
	if (rc == 0) {
		*path = final;
		final = NULL;
	}
	if (lockfd >= 0)
		close(lockfd);
	free(dir);
	free(final);
	free(part);
	free(lockf);
	free(display);
	return rc;
}
