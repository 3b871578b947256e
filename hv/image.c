/*
 * image.c - download, verify and cache disk images (see image.h).
 */
#include "image.h"
#include "util/uri.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#define IMAGE_MAX_BYTES (64ull << 30)
#define IMAGE_TIMEOUT_MS (6ll * 3600 * 1000)
#define IMAGE_MIN_RATE 1024
#define IMAGE_MIN_RATE_SECS 60

void image_options_default(struct image_options *o)
{
	memset(o, 0, sizeof(*o));
	o->attempts = 3;
	o->progress = -1;
}

/* A size from the environment: bytes, or a number with a unit ("64GiB"). */
static int env_size(const char *v, uint64_t *out, const char **why)
{
	int64_t n;
	if (!parse_int64(v, &n)) {
		*why = n > 0 ? NULL : "must be more than 0";
		*out = (uint64_t)n;
		return n > 0 ? 0 : -1;
	}
	return parse_size(v, out, why);
}

/* Fill the limits left 0 from the environment or the defaults. */
static int options_limits(struct image_options *o, struct errbuf *err)
{
	const char *v, *why = NULL;

	if (!o->max_bytes) {
		o->max_bytes = IMAGE_MAX_BYTES;
		if ((v = getenv("VEM_IMAGE_MAX_BYTES")) && *v &&
		    (env_size(v, &o->max_bytes, &why) || !o->max_bytes))
			return err_set(err, "VEM_IMAGE_MAX_BYTES '%s': %s", v,
				       why ? why : "must be more than 0");
	}
	if (!o->timeout_ms) {
		o->timeout_ms = IMAGE_TIMEOUT_MS;
		if ((v = getenv("VEM_IMAGE_TIMEOUT")) && *v &&
		    (parse_duration(v, &o->timeout_ms, &why) || o->timeout_ms <= 0))
			return err_set(err, "VEM_IMAGE_TIMEOUT '%s': %s", v,
				       why ? why : "must be more than 0");
	}
	if (!o->min_rate) {
		o->min_rate = IMAGE_MIN_RATE;
		if ((v = getenv("VEM_IMAGE_MIN_RATE")) && *v &&
		    (env_size(v, &o->min_rate, &why) || !o->min_rate || o->min_rate > LONG_MAX))
			return err_set(err, "VEM_IMAGE_MIN_RATE '%s': %s", v,
				       why ? why : "must be a size per second, more than 0");
	}
	if (o->min_rate_secs <= 0)
		o->min_rate_secs = IMAGE_MIN_RATE_SECS;
	return 0;
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

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* qcow2 (QEMU docs/interop/qcow2.txt): header fields and extension types */
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_KNOWN 0x1full           /* dirty, corrupt, data file, compression, extended L2 */
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)
#define QCOW2_EXT_DATA_FILE 0x44415441u        /* "DATA": external data file name */
#define QCOW2_MAX_CLUSTER_BITS 21              /* QEMU's own limit: 2 MiB */

/* Refuse a qcow2 image that names any file outside itself: a backing file,
 * an external data file (feature bit or header extension). h holds the
 * first n bytes of the file (its first cluster, or all of a shorter file). */
static int qcow2_check(const char *path, const unsigned char *h, size_t n, struct errbuf *err)
{
	uint32_t version, hlen;
	uint64_t incompat = 0, autoclear = 0;
	size_t off;

	if (n < 72)
		return err_set(err, "image '%s': truncated qcow2 header", path);
	version = be32(h + 4);
	if (version != 2 && version != 3)
		return err_set(err, "image '%s': unknown qcow2 version %u", path, version);
	if (be64(h + 8) != 0)
		return err_set(err, "image '%s' names a backing file; vem uses only "
			       "self-contained images", path);
	hlen = 72;
	if (version == 3) {
		if (n < 104)
			return err_set(err, "image '%s': truncated qcow2 header", path);
		incompat = be64(h + 72);
		autoclear = be64(h + 88);
		hlen = be32(h + 100);
		if (hlen < 104 || hlen % 8 || hlen > n)
			return err_set(err, "image '%s': bad qcow2 header length %u", path, hlen);
	}
	if (incompat & QCOW2_INCOMPAT_DATA_FILE || autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW)
		return err_set(err, "image '%s' keeps its data in an external data file; vem uses "
			       "only self-contained images", path);
	if (incompat & ~QCOW2_INCOMPAT_KNOWN)
		return err_set(err, "image '%s': unknown qcow2 incompatible features 0x%llx", path,
			       (unsigned long long)(incompat & ~QCOW2_INCOMPAT_KNOWN));
	/* header extensions, up to the end marker (or the end of the cluster) */
	for (off = hlen; off + 8 <= n;) {
		uint32_t type = be32(h + off), len = be32(h + off + 4);
		if (type == 0)
			break;
		if (type == QCOW2_EXT_DATA_FILE)
			return err_set(err, "image '%s' names an external data file; vem uses only "
				       "self-contained images", path);
		if (len > n - off - 8)
			return err_set(err, "image '%s': a qcow2 header extension runs past the "
				       "first cluster", path);
		off += 8 + (((size_t)len + 7) & ~(size_t)7);
	}
	return 0;
}

int image_virtual_size(const char *path, const char *format, uint64_t *size,
		       struct errbuf *err)
{
	unsigned char *h = NULL;
	size_t want = 104, n = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		return err_set(err, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		err_set(err, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	h = xmalloc(want);
	/* the header, then (qcow2) its whole first cluster, for the extensions */
	for (int pass = 0; pass < 2; pass++) {
		while (n < want) {
			ssize_t r = read(fd, h + n, want - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				err_set(err, "cannot read '%s': %s", path, strerror(errno));
				goto out;
			}
			if (r == 0)
				break;
			n += (size_t)r;
		}
		if (pass || n < 72 || memcmp(h, "QFI\xfb", 4))
			break;
		{
			uint32_t bits = be32(h + 20);
			if (bits < 9 || bits > QCOW2_MAX_CLUSTER_BITS) {
				err_set(err, "image '%s': bad qcow2 cluster size 2^%u", path, bits);
				goto out;
			}
			if (n == want) {
				want = (size_t)1 << bits;
				h = xrealloc(h, want);
			}
		}
	}
	if (n >= 4 && !memcmp(h, "QFI\xfb", 4)) {
		if (!str_eq(format, "qcow2")) {
			err_set(err, "image '%s' is qcow2 but its format is given as '%s'", path,
				format ? format : "raw");
			goto out;
		}
		if (qcow2_check(path, h, n, err))
			goto out;
		*size = be64(h + 24);
		rc = 0;
		goto out;
	}
	if (str_eq(format, "qcow2")) {
		err_set(err, "image '%s' is not a qcow2 file (no 'QFI' magic)", path);
		goto out;
	}
	*size = (uint64_t)st.st_size;
	rc = 0;
out:
	free(h);
	close(fd);
	return rc;
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
	uint64_t max_bytes;    /* the whole file may not be larger */
	uint64_t announced;    /* the size the server announced when too large */
	bool too_big;
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
	if (n > 15 && !strncasecmp(buf, "content-length:", 15)) {
		char tmp[64];
		size_t m = n - 15 < sizeof(tmp) - 1 ? n - 15 : sizeof(tmp) - 1;
		long status = 0;
		uint64_t base;
		memcpy(tmp, buf + 15, m);
		tmp[m] = '\0';
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
		/* the image's own response, not a redirect's or an error page's */
		base = status == 206 ? (d->range_start != UINT64_MAX ? d->range_start : d->offset) : 0;
		if ((status == 200 || status == 206) && sscanf(tmp, " %llu", &a) == 1 &&
		    (a > d->max_bytes || base + a > d->max_bytes)) {
			d->too_big = true;
			d->announced = base + a < base ? UINT64_MAX : base + a;
			return 0;   /* stops the transfer before any byte is written */
		}
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
	if (d->offset + d->written + n > d->max_bytes || d->offset + d->written + n < n) {
		d->too_big = true;   /* more than it announced, or it announced nothing */
		return 0;
	}
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

/* One attempt: 0 = the server sent the whole file; -1 with err otherwise,
 * *fatal when trying again cannot help (too large, out of time). */
static int dl_attempt(const struct image_spec *img, const struct image_options *opt,
		      const char *part, const char *display, int mode, int64_t deadline,
		      bool *fatal, struct errbuf *err)
{
	struct dl d;
	struct stat st;
	char curl_err[CURL_ERROR_SIZE] = "", range[32], lim[32];
	CURLcode cc;
	int64_t left = deadline - time_mono_ms();
	int rc = -1;
	bool http = str_starts_with(img->url, "http://");
	bool file = str_starts_with(img->url, "file://");

	memset(&d, 0, sizeof(d));
	d.name = img->name;
	d.range_start = UINT64_MAX;
	d.max_bytes = opt->max_bytes;
	*fatal = false;
	d.fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* a partial file left by an older vem may be 0644 */
	if (d.fd < 0 || fstat(d.fd, &st) || (st.st_mode & 077 && fchmod(d.fd, 0600))) {
		err_set(err, "image '%s': cannot write '%s': %s", img->name, part, strerror(errno));
		goto out;
	}
	d.offset = (uint64_t)st.st_size;
	d.mode = mode;
	d.t0 = d.last = time_mono_ms();
	d.curl = curl_easy_init();
	curl_easy_setopt(d.curl, CURLOPT_URL, img->url);
	/* the scheme of the URL only; a redirect never leads to file:// or
	 * another scheme (libcurl 7.85+: the _STR forms) */
	curl_easy_setopt(d.curl, CURLOPT_PROTOCOLS_STR, file ? "file" : http ? "http" : "https");
	curl_easy_setopt(d.curl, CURLOPT_REDIR_PROTOCOLS_STR,
			 opt->allow_http ? "http,https" : "https");
	curl_easy_setopt(d.curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(d.curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(d.curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(d.curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(d.curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(d.curl, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_LIMIT, (long)opt->min_rate);
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_TIME, (long)opt->min_rate_secs);
	if (opt->max_bytes > d.offset)
		curl_easy_setopt(d.curl, CURLOPT_MAXFILESIZE_LARGE,
				 (curl_off_t)(opt->max_bytes - d.offset < INT64_MAX ?
					      opt->max_bytes - d.offset : INT64_MAX));
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
	if (d.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		*fatal = true;
		format_size(opt->max_bytes, lim);
		if (d.announced)
			err_set(err, "image '%s': %s announces %llu bytes, more than the limit of %s "
				"(raise it with VEM_IMAGE_MAX_BYTES)", img->name, display,
				(unsigned long long)d.announced, lim);
		else
			err_set(err, "image '%s': %s is larger than the limit of %s (raise it with "
				"VEM_IMAGE_MAX_BYTES)", img->name, display, lim);
		goto out;
	}
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
	if (cc == CURLE_OPERATION_TIMEDOUT && time_mono_ms() >= deadline) {
		char t[32];
		*fatal = true;
		err_set(err, "image '%s': download of %s not finished within %s (raise the limit "
			"with VEM_IMAGE_TIMEOUT)", img->name, display,
			format_duration(opt->timeout_ms, t));
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT && strstr(curl_err, "too slow")) {
		err_set(err, "image '%s': download of %s stopped after %llu bytes: slower than "
			"%s/s for %ds (lower the limit with VEM_IMAGE_MIN_RATE)", img->name,
			display, (unsigned long long)(d.offset + d.written),
			format_size(opt->min_rate, lim), opt->min_rate_secs);
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

/* A file:// URL must name a regular file: a FIFO would block the open for
 * ever, a device (/dev/zero) has no end. */
static int file_url_check(const struct image_spec *img, const char *display, struct errbuf *err)
{
	CURLU *u = curl_url();
	char *path = NULL;
	struct stat st;
	int rc = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, img->url, 0) ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE)) {
		err_set(err, "image '%s': cannot parse url '%s'", img->name, display);
		goto out;
	}
	if (stat(path, &st)) {
		err_set(err, "image '%s': cannot read '%s': %s", img->name, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "image '%s': '%s' is not a regular file", img->name, path);
		goto out;
	}
	rc = 0;
out:
	curl_free(path);
	curl_url_cleanup(u);
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
	int64_t deadline;
	bool file = str_starts_with(img->url, "file://");
	struct stat st;

	*path = NULL;
	if (opt_in)
		opt = *opt_in;
	else
		image_options_default(&opt);
	if (opt.attempts <= 0)
		opt.attempts = 3;
	if (options_limits(&opt, err))
		return -1;
	deadline = time_mono_ms() + opt.timeout_ms;
	if (!valid_sha(img->sha256))
		return err_set(err, "image '%s': sha256 must be 64 lowercase hex digits", img->name);
	if (!img->url)
		return err_set(err, "image '%s' has no url", img->name);
	display = uri_mask(img->url);
	if (!str_starts_with(img->url, "https://") && !str_starts_with(img->url, "file://") &&
	    !(str_starts_with(img->url, "http://") && (opt.allow_http || uri_host_is_loopback(img->url)))) {
		err_set(err, "image '%s': url '%s' must be https:// or file:// (http:// only to "
			"loopback addresses)", img->name, display);
		goto out;
	}
	pthread_once(&curl_once, curl_init_once);
	if (file && file_url_check(img, display, err))
		goto out;
	dir = cache_dir(opt.cache_dir, opt.cache_dir ? "." : "images");
	final = xasprintf("%s/%s", dir, img->sha256);
	part = xasprintf("%s/%s.part", dir, img->sha256);
	lockf = xasprintf("%s/%s.lock", dir, img->sha256);
	lockfd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
		bool fatal = false;
		if (dl_attempt(img, &opt, part, display, mode, deadline, &fatal, &aerr) == 0) {
			errbuf_release(&aerr);
			break;
		}
		if (fatal) {
			/* too large or out of time: nothing worth resuming */
			unlink(part);
			for (size_t i = 0; i < aerr.nr; i++)
				err_set(err, "%s", aerr.items[i].msg);
			errbuf_release(&aerr);
			goto out;
		}
		if (attempt >= opt.attempts || time_mono_ms() >= deadline) {
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
		/* a local file's hash and size say something about a file the
		 * cluster file's writer may not be allowed to read */
		if (file)
			err_set(err, "image '%s': sha256 mismatch for %s: expected %s; the copy was "
				"discarded", img->name, display, img->sha256);
		else
			err_set(err, "image '%s': sha256 mismatch for %s: expected %s, got %s (%lld "
				"bytes); the download was discarded", img->name, display, img->sha256,
				got, (long long)st.st_size);
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

/* ---- reachability before planning (no download) ---- */

#define IMAGE_CHECK_TTL_MS (5 * 60 * 1000)
#define IMAGE_CHECK_BATCH 16

/* What this process learnt of a URL: at most one HEAD per URL per TTL. */
struct url_seen {
	char *url;
	char *why;        /* NULL: reachable */
	int64_t at;       /* time_mono_ms() when asked */
};
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct url_seen *seen;
static size_t n_seen, alloc_seen;

/* A copy of what is known of url (*known false when it must be asked). */
static char *seen_get(const char *url, bool *known)
{
	char *why = NULL;
	int64_t now = time_mono_ms();

	*known = false;
	pthread_mutex_lock(&seen_lock);
	for (size_t i = 0; i < n_seen; i++)
		if (!strcmp(seen[i].url, url) && now - seen[i].at < IMAGE_CHECK_TTL_MS) {
			*known = true;
			why = xstrdup(seen[i].why);
			break;
		}
	pthread_mutex_unlock(&seen_lock);
	return why;
}

static void seen_put(const char *url, const char *why)
{
	size_t i;

	pthread_mutex_lock(&seen_lock);
	for (i = 0; i < n_seen; i++)
		if (!strcmp(seen[i].url, url))
			break;
	if (i == n_seen) {
		ALLOC_GROW(seen, n_seen + 1, alloc_seen);
		seen[n_seen].url = xstrdup(url);
		seen[n_seen++].why = NULL;
	}
	free(seen[i].why);
	seen[i].why = xstrdup(why);
	seen[i].at = time_mono_ms();
	pthread_mutex_unlock(&seen_lock);
}

/* Whether img is in the cache: <cache>/images/<sha256> is put there (by
 * rename) only once its hash matched; image_fetch hashes it again before
 * use. A stat, no hashing: plans stay fast. */
static bool image_cached(const struct image_spec *img, const struct image_options *opt)
{
	char *dir, *final;
	struct stat st;
	bool r;

	if (!valid_sha(img->sha256))
		return false;
	dir = cache_dir(opt->cache_dir, opt->cache_dir ? "." : "images");
	final = xasprintf("%s/%s", dir, img->sha256);
	r = stat(final, &st) == 0 && S_ISREG(st.st_mode);
	free(dir);
	free(final);
	return r;
}

struct head_job {
	const struct image_spec *img;
	bool allow_http;
	int64_t timeout_ms;
	char *why;
};

/* One HEAD (or, for file://, a stat and access) under image_fetch's URL rules. */
static void *head_one(void *arg)
{
	struct head_job *j = arg;
	const char *url = j->img->url;
	bool http = str_starts_with(url, "http://"), file = str_starts_with(url, "file://");
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURL *curl;
	CURLcode cc;

	if (!str_starts_with(url, "https://") && !file &&
	    !(http && (j->allow_http || uri_host_is_loopback(url)))) {
		j->why = xstrdup("its url must be https:// or file:// (http:// only to loopback "
				 "addresses)");
		return NULL;
	}
	if (file) {
		struct errbuf err = ERRBUF_INIT;
		CURLU *u = curl_url();
		char *path = NULL;
		if (file_url_check(j->img, url, &err))
			j->why = xstrdup(err_msg(&err));
		else if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
			 !curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) &&
			 access(path, R_OK))
			j->why = xasprintf("cannot read '%s': %s", path, strerror(errno));
		curl_free(path);
		curl_url_cleanup(u);
		errbuf_release(&err);
		return NULL;
	}
	curl = curl_easy_init();
	if (!curl) {
		j->why = xstrdup("cannot start libcurl");
		return NULL;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, http ? "http" : "https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, j->allow_http ? "http,https" : "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)j->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "vem/" VEM_VERSION);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		j->why = xasprintf("%s", curl_err[0] ? curl_err : curl_easy_strerror(cc));
	else if (status >= 400 && status != 405 && status != 501)   /* 405, 501: no HEAD */
		j->why = xasprintf("HTTP %ld", status);
	curl_easy_cleanup(curl);
	return NULL;
}

void image_check(const struct image_spec *const *imgs, size_t n, const struct image_options *opt,
		 int64_t timeout_ms, char **why)
{
	struct image_options def;
	struct head_job *jobs = xcalloc(n + 1, sizeof(*jobs));
	size_t nj = 0;

	if (!opt) {
		image_options_default(&def);
		opt = &def;
	}
	pthread_once(&curl_once, curl_init_once);
	for (size_t i = 0; i < n; i++) {
		bool known, dup = false;
		why[i] = NULL;
		if (image_cached(imgs[i], opt) || !imgs[i]->url)
			continue;
		why[i] = seen_get(imgs[i]->url, &known);
		if (known)
			continue;
		for (size_t k = 0; k < nj && !dup; k++)
			dup = !strcmp(jobs[k].img->url, imgs[i]->url);
		if (!dup)
			jobs[nj++] = (struct head_job){ imgs[i], opt->allow_http, timeout_ms, NULL };
	}
	/* in parallel, a batch at a time */
	for (size_t b = 0; b < nj; b += IMAGE_CHECK_BATCH) {
		pthread_t th[IMAGE_CHECK_BATCH];
		bool started[IMAGE_CHECK_BATCH] = { false };
		size_t e = b + IMAGE_CHECK_BATCH < nj ? b + IMAGE_CHECK_BATCH : nj;
		for (size_t k = b; k < e; k++)
			started[k - b] = !pthread_create(&th[k - b], NULL, head_one, &jobs[k]);
		for (size_t k = b; k < e; k++) {
			if (started[k - b])
				pthread_join(th[k - b], NULL);
			else
				head_one(&jobs[k]);
		}
	}
	for (size_t k = 0; k < nj; k++) {
		char *shown = uri_mask(jobs[k].img->url);
		char *msg = jobs[k].why ? xasprintf("not in the cache and not reachable: %s (%s)",
						   jobs[k].why, shown) : NULL;
		seen_put(jobs[k].img->url, msg);
		for (size_t i = 0; i < n; i++)
			if (!why[i] && imgs[i]->url && !strcmp(imgs[i]->url, jobs[k].img->url) &&
			    !image_cached(imgs[i], opt))
				why[i] = xstrdup(msg);
		free(msg);
		free(shown);
		free(jobs[k].why);
	}
	free(jobs);
}

void image_check_default(const struct image_spec *const *imgs, size_t n, char **why)
{
	image_check(imgs, n, NULL, IMAGE_CHECK_TIMEOUT_MS, why);
}
