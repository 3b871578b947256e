/*
 * Unit tests: the image cache and the cloud-init seed. A python3 HTTP
 * server on 127.0.0.1 (random free port) serves a qcow2 made with
 * qemu-img in these modes: /good/ (honours Range), /trunc/ (announces the
 * full length, sends half and closes), /plain/ (ignores Range), /nolen/
 * (no Content-Length: sends the file ten times over, then closes), /slow/
 * (2 bytes a second), /redir-file/, /redir-ftp/ and /redir-http/ (redirect
 * to file:///etc/passwd, ftp://, or plain http:// on the same server).
 */
#include "test.h"
#include "hv/cloudinit.h"
#include "hv/image.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/vem-test-image.XXXXXX";
static char *www, *cache, *lim_cache, *port;
static char qcow_sha[65], raw_sha[65];

static const char server_py[] =
	"import http.server, sys, os, re, time\n"
	"root = sys.argv[1]\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def do_HEAD(self):\n"
	"        mode, _, name = self.path.lstrip('/').partition('/')\n"
	"        with open(os.path.join(root, 'heads'), 'a') as f: f.write(self.path + '\\n')\n"
	"        ok = os.path.isfile(os.path.join(root, name))\n"
	"        self.send_response(200 if ok else 404); self.send_header('Content-Length', '0')\n"
	"        self.end_headers()\n"
	"    def do_GET(self):\n"
	"        mode, _, name = self.path.lstrip('/').partition('/')\n"
	"        rng = self.headers.get('Range')\n"
	"        if mode.startswith('redir-'):\n"
	"            to = {'redir-file': 'file:///etc/passwd', 'redir-ftp': 'ftp://127.0.0.1/x',\n"
	"                  'redir-http': 'http://127.0.0.1:%d/good/%s' % (self.server.server_address[1], name)}[mode]\n"
	"            self.send_response(302); self.send_header('Location', to)\n"
	"            self.send_header('Content-Length', '0'); self.end_headers(); return\n"
	"        with open(os.path.join(root, 'requests'), 'a') as f:\n"
	"            f.write('%s %s\\n' % (self.path, rng or '-'))\n"
	"        try:\n"
	"            data = open(os.path.join(root, name), 'rb').read()\n"
	"        except OSError:\n"
	"            self.send_response(404); self.send_header('Content-Length', '0')\n"
	"            self.end_headers(); return\n"
	"        start = 0\n"
	"        if mode == 'good' and rng:\n"
	"            start = int(re.match(r'bytes=(\\d+)-$', rng).group(1))\n"
	"            if start >= len(data):\n"
	"                self.send_response(416)\n"
	"                self.send_header('Content-Range', 'bytes */%d' % len(data))\n"
	"                self.send_header('Content-Length', '0'); self.end_headers(); return\n"
	"            self.send_response(206)\n"
	"            self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, len(data) - 1, len(data)))\n"
	"        else:\n"
	"            self.send_response(200)\n"
	"        body = data[start:]\n"
	"        if mode == 'nolen':\n"
	"            self.send_header('Connection', 'close'); self.end_headers()\n"
	"            try:\n"
	"                for i in range(10): self.wfile.write(body)\n"
	"            except OSError: pass\n"
	"            self.close_connection = True; return\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        if mode == 'slow':\n"
	"            try:\n"
	"                for i in range(0, len(body), 2):\n"
	"                    self.wfile.write(body[i:i + 2]); self.wfile.flush(); time.sleep(1)\n"
	"            except OSError: pass\n"
	"            self.close_connection = True; return\n"
	"        if mode == 'trunc':\n"
	"            self.wfile.write(body[:len(body) // 2]); self.wfile.flush()\n"
	"            self.close_connection = True\n"
	"            return\n"
	"        self.wfile.write(body)\n"
	"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
	"open(os.path.join(root, 'port.tmp'), 'w').write(str(s.server_address[1]))\n"
	"os.rename(os.path.join(root, 'port.tmp'), os.path.join(root, 'port'))\n"
	"s.serve_forever()\n";

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

static char *slurp(const char *fmt, ...) PRINTF_LIKE(1, 2);
static char *slurp(const char *fmt, ...)
{
	va_list ap;
	char *path;
	struct strbuf sb = STRBUF_INIT;

	va_start(ap, fmt);
	path = xvasprintf(fmt, ap);
	va_end(ap);
	if (strbuf_read_file(&sb, path, 0)) {
		strbuf_release(&sb);
		free(path);
		return NULL;
	}
	free(path);
	return strbuf_detach(&sb, NULL);
}

static bool exists(const char *fmt, ...) PRINTF_LIKE(1, 2);
static bool exists(const char *fmt, ...)
{
	va_list ap;
	char *path;
	struct stat st;
	bool r;

	va_start(ap, fmt);
	path = xvasprintf(fmt, ap);
	va_end(ap);
	r = stat(path, &st) == 0;
	free(path);
	return r;
}

static long long fsize(const char *fmt, ...) PRINTF_LIKE(1, 2);
static long long fsize(const char *fmt, ...)
{
	va_list ap;
	char *path;
	struct stat st;
	long long r;

	va_start(ap, fmt);
	path = xvasprintf(fmt, ap);
	va_end(ap);
	r = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	free(path);
	return r;
}

static int fetch(const char *mode, const char *file, const char *sha, const char *fmt,
		 int attempts, char **path, struct errbuf *e)
{
	struct image_spec img;
	struct image_options o;
	char *url = xasprintf("http://127.0.0.1:%s/%s/%s", port, mode, file);
	int rc;

	memset(&img, 0, sizeof(img));
	img.name = (char *)"test";
	img.url = url;
	img.sha256 = (char *)sha;
	img.format = (char *)fmt;
	image_options_default(&o);
	o.cache_dir = cache;
	o.attempts = attempts;
	o.progress = 0;
	rc = image_fetch(&img, &o, path, e);
	free(url);
	return rc;
}

/* fetch() with caller-set limits, on a fresh cache directory. */
static int fetch_opt(const char *url, const char *sha, const struct image_options *lim,
		     char **path, struct errbuf *e)
{
	struct image_spec img;
	struct image_options o = *lim;

	memset(&img, 0, sizeof(img));
	img.name = (char *)"test";
	img.url = (char *)url;
	img.sha256 = (char *)sha;
	img.format = (char *)"raw";
	o.progress = 0;
	if (!o.cache_dir) {
		/* a fresh cache: the other tests leave the images verified in theirs */
		sh("rm -rf %s/cache-lim", tmpdir);
		o.cache_dir = lim_cache;
	}
	return image_fetch(&img, &o, path, e);
}

/* Whether any file in the cache directory is larger than max bytes. */
static bool cache_has_larger(uint64_t max)
{
	return sh("test -z \"$(find %s -type f -size +%lluc)\"", lim_cache,
		  (unsigned long long)max) != 0;
}

/* Lines in the server's log www/name ("requests": GETs, "heads": HEADs). */
static int log_lines(const char *name)
{
	char *r = slurp("%s/%s", www, name);
	int n = 0;
	for (char *p = r; p && *p; p++)
		n += *p == '\n';
	free(r);
	return n;
}

static int requests_count(void)
{
	return log_lines("requests");
}

TEST(download_and_verify)
{
	struct errbuf e = ERRBUF_INIT;
	char *path = NULL, *again = NULL, got[65] = "";
	uint64_t vsize = 0;
	int before;

	CHECK(fetch("good", "img.qcow2", qcow_sha, "qcow2", 1, &path, &e) == 0);
	err_print(&e, stderr, "unexpected");
	CHECK(path && str_ends_with(path, qcow_sha));
	CHECK(path && image_hash_file(path, got, &e) == 0 && !strcmp(got, qcow_sha));
	CHECK(path && image_virtual_size(path, "qcow2", &vsize, &e) == 0);
	CHECK_INT(vsize, 64 * MiB);
	CHECK(!exists("%s/%s.part", cache, qcow_sha));
	/* a second fetch uses the cache: no request */
	before = requests_count();
	CHECK(fetch("good", "img.qcow2", qcow_sha, "qcow2", 1, &again, &e) == 0);
	CHECK_STR(again, path);
	CHECK_INT(requests_count(), before);
	CHECK_INT(e.nr, 0);
	free(path);
	free(again);
	errbuf_release(&e);
}

/* Plans ask whether an image can be had without downloading it: the cache
 * (by name, no hashing), file:// (a readable regular file), http(s) (one
 * HEAD per URL, remembered), under the download's URL rules. */
TEST(reachability_without_download)
{
	struct image_options o;
	struct image_spec imgs[6];
	const struct image_spec *p[6];
	char *why[6];
	char *good = xasprintf("http://127.0.0.1:%s/good/img.qcow2", port);
	char *gone = xasprintf("http://127.0.0.1:%s/good/gone.qcow2", port);
	char *cached = xasprintf("http://127.0.0.1:%s/good/not-there-but-cached", port);
	const char *other = "1111111111111111111111111111111111111111111111111111111111111111";
	int heads0 = log_lines("heads");
	int64_t t0;

	memset(imgs, 0, sizeof(imgs));
	imgs[0] = (struct image_spec){ .name = (char *)"good", .url = good, .sha256 = (char *)other };
	imgs[1] = (struct image_spec){ .name = (char *)"gone", .url = gone, .sha256 = (char *)other };
	imgs[2] = (struct image_spec){ .name = (char *)"gone2", .url = gone, .sha256 = (char *)other };
	imgs[3] = (struct image_spec){ .name = (char *)"cached", .url = cached, .sha256 = qcow_sha };
	imgs[4] = (struct image_spec){ .name = (char *)"nofile", .url = (char *)"file:///nonexistent/x.qcow2",
				       .sha256 = (char *)other };
	imgs[5] = (struct image_spec){ .name = (char *)"far", .url = (char *)"http://192.0.2.1/x.qcow2",
				       .sha256 = (char *)other };
	for (int i = 0; i < 6; i++)
		p[i] = &imgs[i];
	image_options_default(&o);
	o.cache_dir = cache;   /* download_and_verify left qcow_sha there */
	t0 = time_mono_ms();
	image_check(p, 6, &o, 2000, why);
	CHECK(time_mono_ms() - t0 < 2000);
	CHECK(why[0] == NULL);
	CHECK(why[1] && strstr(why[1], "not reachable: HTTP 404") && strstr(why[1], gone));
	CHECK_STR(why[2], why[1] ? why[1] : "");
	CHECK(why[3] == NULL);
	CHECK(why[4] && strstr(why[4], "nonexistent"));
	CHECK(why[5] && strstr(why[5], "must be https://"));
	/* one HEAD per distinct URL (good, gone); none for the cached one */
	CHECK_INT(log_lines("heads") - heads0, 2);
	for (int i = 0; i < 6; i++)
		free(why[i]);
	/* asked again in this process: remembered, not asked */
	image_check(p, 3, &o, 2000, why);
	CHECK(why[0] == NULL && why[1] != NULL && why[2] != NULL);
	CHECK_INT(log_lines("heads") - heads0, 2);
	for (int i = 0; i < 3; i++)
		free(why[i]);
	free(good);
	free(gone);
	free(cached);
}

TEST(wrong_sha256_refused)
{
	struct errbuf e = ERRBUF_INIT;
	char *path = NULL;
	const char *bad = "00000000000000000000000000000000000000000000000000000000000000aa";

	CHECK(fetch("good", "img.qcow2", bad, "qcow2", 1, &path, &e) == -1);
	CHECK(path == NULL);
	CHECK(strstr(err_msg(&e), "sha256 mismatch"));
	CHECK(strstr(err_msg(&e), qcow_sha));          /* what it got */
	CHECK(!exists("%s/%s", cache, bad));           /* nothing cached as valid */
	CHECK(!exists("%s/%s.part", cache, bad));      /* and nothing kept */
	errbuf_release(&e);
	CHECK(fetch("good", "img.qcow2", "ABC", "qcow2", 1, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "64 lowercase hex"));
	errbuf_release(&e);
	CHECK(fetch("good", "missing.qcow2", bad, "qcow2", 1, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "HTTP 404"));
	CHECK(!exists("%s/%s", cache, bad));
	errbuf_release(&e);
}

TEST(truncated_refused_then_resumed)
{
	struct errbuf e = ERRBUF_INIT;
	char *path = NULL, *log = NULL, *range = NULL, got[65] = "";
	long long full = fsize("%s/disk.raw", www), part;

	/* the server closes after half the body: refused, partial kept */
	CHECK(fetch("trunc", "disk.raw", raw_sha, "raw", 2, &path, &e) == -1);
	CHECK(path == NULL);
	CHECK(strstr(err_msg(&e), "stopped after"));
	CHECK(strstr(err_msg(&e), "kept for resuming"));
	CHECK(!exists("%s/%s", cache, raw_sha));
	part = fsize("%s/%s.part", cache, raw_sha);
	CHECK(part > 0 && part < full);
	errbuf_release(&e);

	/* the next fetch resumes with Range from the partial size */
	CHECK(fetch("good", "disk.raw", raw_sha, "raw", 1, &path, &e) == 0);
	err_print(&e, stderr, "unexpected");
	log = slurp("%s/requests", www);
	range = xasprintf("/good/disk.raw bytes=%lld-\n", part);
	CHECK(log && strstr(log, range));
	CHECK(path && image_hash_file(path, got, &e) == 0 && !strcmp(got, raw_sha));
	CHECK_INT(fsize("%s/%s", cache, raw_sha), full);
	CHECK(!exists("%s/%s.part", cache, raw_sha));
	free(path);
	free(log);
	free(range);
	errbuf_release(&e);
}

TEST(bad_prefix_not_used)
{
	struct errbuf e = ERRBUF_INIT;
	char *path = NULL;

	/* a partial file that is not a prefix of the image: the resumed
	 * download hashes wrong, is refused and discarded */
	CHECK(sh("rm -f %s/%s; head -c 1000 /dev/zero | tr '\\0' 'x' > %s/%s.part", cache, raw_sha,
		 cache, raw_sha) == 0);
	CHECK(fetch("good", "disk.raw", raw_sha, "raw", 1, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "sha256 mismatch"));
	CHECK(!exists("%s/%s", cache, raw_sha));
	CHECK(!exists("%s/%s.part", cache, raw_sha));
	errbuf_release(&e);
	/* and the retry from scratch works */
	CHECK(fetch("good", "disk.raw", raw_sha, "raw", 1, &path, &e) == 0);
	free(path);
	errbuf_release(&e);
	/* a server that ignores Range restarts from zero and still verifies */
	CHECK(sh("rm -f %s/%s; head -c 777 %s/disk.raw > %s/%s.part", cache, raw_sha, www, cache,
		 raw_sha) == 0);
	CHECK(fetch("plain", "disk.raw", raw_sha, "raw", 1, &path, &e) == 0);
	err_print(&e, stderr, "unexpected");
	CHECK(path != NULL);
	free(path);
	errbuf_release(&e);
}

TEST(corrupted_cache_refetched)
{
	struct errbuf e = ERRBUF_INIT;
	char *path = NULL, got[65] = "";
	char other[] = "/tmp/vem-test-image-cache2.XXXXXX";
	struct image_spec img;
	struct image_options o;
	char *url = xasprintf("http://127.0.0.1:%s/good/disk.raw", port);

	/* a fresh process-level view: a different cache dir, file corrupted
	 * before first use */
	CHECK(mkdtemp(other) != NULL);
	CHECK(sh("cp %s/disk.raw %s/%s && printf X | dd of=%s/%s bs=1 seek=10 conv=notrunc "
		 "2>/dev/null", www, other, raw_sha, other, raw_sha) == 0);
	memset(&img, 0, sizeof(img));
	img.name = (char *)"test";
	img.url = url;
	img.sha256 = raw_sha;
	img.format = (char *)"raw";
	image_options_default(&o);
	o.cache_dir = other;
	o.progress = 0;
	CHECK(image_fetch(&img, &o, &path, &e) == 0);
	CHECK(path && image_hash_file(path, got, &e) == 0 && !strcmp(got, raw_sha));
	free(path);
	errbuf_release(&e);
	sh("rm -rf %s", other);
	free(url);
}

TEST(url_rules_and_formats)
{
	struct errbuf e = ERRBUF_INIT;
	struct image_spec img;
	char *path = NULL, *furl = xasprintf("file://%s/img.qcow2", www);
	uint64_t size;

	memset(&img, 0, sizeof(img));
	img.name = (char *)"x";
	img.sha256 = qcow_sha;
	img.format = (char *)"qcow2";
	img.url = (char *)"http://mirror.example.org/x.qcow2";
	CHECK(image_fetch(&img, NULL, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "must be https:// or file://"));
	errbuf_release(&e);
	img.url = (char *)"ftp://127.0.0.1/x.qcow2";
	CHECK(image_fetch(&img, NULL, &path, &e) == -1);
	errbuf_release(&e);
	/* file:// URLs (local mirrors) */
	{
		struct image_options o;
		char *c2 = xasprintf("%s/cache-file", tmpdir);
		image_options_default(&o);
		o.cache_dir = c2;
		o.progress = 0;
		img.url = furl;
		CHECK(image_fetch(&img, &o, &path, &e) == 0);
		err_print(&e, stderr, "unexpected");
		CHECK(path && str_starts_with(path, c2));
		free(path);
		free(c2);
		errbuf_release(&e);
	}
	/* formats */
	CHECK(sh("cd %s && qemu-img create -q -f qcow2 base.qcow2 1M && "
		 "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 over.qcow2", tmpdir) == 0);
	{
		char *over = xasprintf("%s/over.qcow2", tmpdir);
		char *raw = xasprintf("%s/disk.raw", www);
		char *q = xasprintf("%s/img.qcow2", www);
		CHECK(image_virtual_size(over, "qcow2", &size, &e) == -1);
		CHECK(strstr(err_msg(&e), "backing file"));
		errbuf_release(&e);
		CHECK(image_virtual_size(raw, "qcow2", &size, &e) == -1);
		CHECK(strstr(err_msg(&e), "not a qcow2"));
		errbuf_release(&e);
		CHECK(image_virtual_size(q, "raw", &size, &e) == -1);
		CHECK(strstr(err_msg(&e), "is qcow2"));
		errbuf_release(&e);
		CHECK(image_virtual_size(raw, "raw", &size, &e) == 0 &&
		      (long long)size == fsize("%s", raw));
		free(over);
		free(raw);
		free(q);
	}
	free(furl);
}

TEST(size_limits)
{
	struct errbuf e = ERRBUF_INIT;
	struct image_options o;
	char *path = NULL, *url;

	image_options_default(&o);
	o.attempts = 3;
	o.max_bytes = 100000;
	/* announced larger than the limit: refused before any byte, no retry */
	url = xasprintf("http://127.0.0.1:%s/good/disk.raw", port);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "announces 300000 bytes, more than the limit of 97.7KiB"));
	CHECK(strstr(err_msg(&e), "VEM_IMAGE_MAX_BYTES"));
	CHECK(!exists("%s/%s.part", lim_cache, raw_sha));
	free(url);
	errbuf_release(&e);
	/* no Content-Length, ten times the file: stopped at the limit */
	o.max_bytes = 400000;
	url = xasprintf("http://127.0.0.1:%s/nolen/disk.raw", port);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "is larger than the limit of"));
	CHECK(!exists("%s/%s.part", lim_cache, raw_sha));
	CHECK(!cache_has_larger(400000));
	errbuf_release(&e);
	/* the environment sets the default; a bad value is an error naming it */
	o.max_bytes = 0;
	setenv("VEM_IMAGE_MAX_BYTES", "200KiB", 1);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "larger than the limit of 200KiB"));
	errbuf_release(&e);
	setenv("VEM_IMAGE_MAX_BYTES", "150000", 1);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "larger than the limit of 146.5KiB"));
	errbuf_release(&e);
	setenv("VEM_IMAGE_MAX_BYTES", "lots", 1);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "VEM_IMAGE_MAX_BYTES 'lots'"));
	errbuf_release(&e);
	unsetenv("VEM_IMAGE_MAX_BYTES");
	free(url);
	CHECK(path == NULL);
}

TEST(slow_servers_stopped)
{
	struct errbuf e = ERRBUF_INIT;
	struct image_options o;
	char *path = NULL, *url = xasprintf("http://127.0.0.1:%s/slow/disk.raw", port);
	int64_t t0;

	/* 2 bytes/s against a minimum of 1000 bytes/s over 1 s */
	image_options_default(&o);
	o.attempts = 1;
	o.min_rate = 1000;
	o.min_rate_secs = 1;
	t0 = time_mono_ms();
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "slower than 1000B/s for 1s"));
	CHECK(time_mono_ms() - t0 < 10000);
	errbuf_release(&e);
	/* fast enough for the rate limit, not for the overall deadline: no
	 * retry after the deadline, and nothing kept */
	o.attempts = 3;
	o.min_rate = 1;
	o.timeout_ms = 2000;
	t0 = time_mono_ms();
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "not finished within 2s"));
	CHECK(strstr(err_msg(&e), "VEM_IMAGE_TIMEOUT"));
	CHECK(time_mono_ms() - t0 < 6000);
	CHECK(!exists("%s/%s.part", lim_cache, raw_sha));
	errbuf_release(&e);
	/* the same deadline from the environment; a bad one is an error */
	o.timeout_ms = 0;
	setenv("VEM_IMAGE_TIMEOUT", "1s", 1);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "not finished within 1s"));
	errbuf_release(&e);
	setenv("VEM_IMAGE_TIMEOUT", "forever", 1);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "VEM_IMAGE_TIMEOUT 'forever'"));
	errbuf_release(&e);
	unsetenv("VEM_IMAGE_TIMEOUT");
	free(url);
}

TEST(redirects_stay_on_http)
{
	struct errbuf e = ERRBUF_INIT;
	struct image_options o;
	char *path = NULL, *url, passwd_sha[65];
	const char *modes[] = { "redir-file", "redir-ftp", "redir-http" };

	CHECK(image_hash_file("/etc/passwd", passwd_sha, &e) == 0);
	image_options_default(&o);
	o.attempts = 1;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		url = xasprintf("http://127.0.0.1:%s/%s/disk.raw", port, modes[i]);
		CHECK(fetch_opt(url, i == 0 ? passwd_sha : raw_sha, &o, &path, &e) == -1);
		CHECK(path == NULL);
		if (!strstr(err_msg(&e), "stopped after 0 bytes"))
			fprintf(stderr, "  %s: %s\n", modes[i], err_msg(&e));
		CHECK(strstr(err_msg(&e), "stopped after 0 bytes"));
		errbuf_release(&e);
		free(url);
	}
	CHECK(!exists("%s/%s", lim_cache, passwd_sha));
	/* the control: with allow_http the same plain http redirect is followed */
	o.allow_http = true;
	url = xasprintf("http://127.0.0.1:%s/redir-http/disk.raw", port);
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == 0);
	err_print(&e, stderr, "unexpected");
	free(path);
	free(url);
	errbuf_release(&e);
}

TEST(file_urls_bounded)
{
	struct errbuf e = ERRBUF_INIT;
	struct image_options o;
	char *path = NULL, *url, *fifo = xasprintf("%s/fifo", tmpdir);
	char *c2 = xasprintf("%s/cache-file2", tmpdir);
	const char *bad = "00000000000000000000000000000000000000000000000000000000000000bb";
	int64_t t0 = time_mono_ms();

	image_options_default(&o);
	o.cache_dir = c2;
	o.attempts = 1;
	/* a device without end, a FIFO that blocks open(): refused at once */
	CHECK(fetch_opt("file:///dev/zero", bad, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "'/dev/zero' is not a regular file"));
	errbuf_release(&e);
	CHECK(mkfifo(fifo, 0600) == 0);
	url = xasprintf("file://%s", fifo);
	CHECK(fetch_opt(url, bad, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "is not a regular file"));
	errbuf_release(&e);
	free(url);
	CHECK(time_mono_ms() - t0 < 5000);
	/* a mismatch does not tell the local file's hash nor its size */
	url = xasprintf("file://%s/disk.raw", www);
	CHECK(fetch_opt(url, bad, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "sha256 mismatch"));
	CHECK(!strstr(err_msg(&e), raw_sha));
	CHECK(!strstr(err_msg(&e), "300000"));
	errbuf_release(&e);
	/* and the size limit holds for local files too */
	o.max_bytes = 1000;
	CHECK(fetch_opt(url, raw_sha, &o, &path, &e) == -1);
	CHECK(strstr(err_msg(&e), "larger than the limit of 1000B"));
	CHECK(!exists("%s/%s.part", c2, raw_sha));
	errbuf_release(&e);
	free(url);
	free(fifo);
	free(c2);
	CHECK(path == NULL);
}

/* qcow2 images that point outside themselves, made by qemu-img or by
 * patching a clean image's header. */
TEST(qcow2_external_files_refused)
{
	static const struct {
		const char *make;     /* shell, in tmpdir, makes q.qcow2 */
		const char *want;     /* error, or NULL: accepted */
	} cases[] = {
		{ "qemu-img create -q -f qcow2 q.qcow2 1M", NULL },
		{ "qemu-img create -q -f qcow2 -o compat=0.10 q.qcow2 1M", NULL },
		{ "qemu-img create -q -f qcow2 -o data_file=$PWD/ext.raw q.qcow2 1M",
		  "external data file" },
		{ "qemu-img create -q -f qcow2 -o data_file=$PWD/ext.raw,data_file_raw=on q.qcow2 1M",
		  "external data file" },
		/* the feature bit alone, the header extension alone */
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf '\\004' | "
		  "dd of=q.qcow2 bs=1 seek=79 conv=notrunc 2>/dev/null", "external data file" },
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf 'DATA' | "
		  "dd of=q.qcow2 bs=1 seek=112 conv=notrunc 2>/dev/null", "names an external data file" },
		/* an unknown incompatible feature, a runaway extension length */
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf '\\001' | "
		  "dd of=q.qcow2 bs=1 seek=72 conv=notrunc 2>/dev/null", "unknown qcow2 incompatible" },
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf '\\377\\377\\377\\377' | "
		  "dd of=q.qcow2 bs=1 seek=116 conv=notrunc 2>/dev/null", "runs past" },
		/* a cluster size QEMU itself refuses, a header length past the cluster */
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf '\\036' | "
		  "dd of=q.qcow2 bs=1 seek=23 conv=notrunc 2>/dev/null", "bad qcow2 cluster size" },
		{ "qemu-img create -q -f qcow2 q.qcow2 1M && printf '\\377\\377' | "
		  "dd of=q.qcow2 bs=1 seek=102 conv=notrunc 2>/dev/null", "bad qcow2 header length" },
		{ "qemu-img create -q -f qcow2 base.qcow2 1M && "
		  "qemu-img create -q -f qcow2 -b /etc/hostname -F raw q.qcow2 1M", "backing file" },
		{ "head -c 50 /dev/zero > q.qcow2 && printf 'QFI\\373' | "
		  "dd of=q.qcow2 bs=1 conv=notrunc 2>/dev/null", "truncated qcow2 header" },
	};
	char *q = xasprintf("%s/q.qcow2", tmpdir);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct errbuf e = ERRBUF_INIT;
		uint64_t size = 0;
		int rc;
		if (sh("cd %s && rm -f q.qcow2 ext.raw && %s", tmpdir, cases[i].make)) {
			CHECK(!"could not make the image");
			continue;
		}
		rc = image_virtual_size(q, "qcow2", &size, &e);
		if (cases[i].want ? rc != -1 || !strstr(err_msg(&e), cases[i].want) : rc != 0) {
			fprintf(stderr, "  case %zu: rc %d: %s\n", i, rc, err_msg(&e));
			CHECK(!"unexpected result");
		}
		if (!cases[i].want)
			CHECK_INT(size, 1 << 20);
		errbuf_release(&e);
	}
	free(q);
}

TEST(cloudinit_seed)
{
	struct errbuf e = ERRBUF_INIT;
	struct vm_spec vm;
	struct strbuf md = STRBUF_INIT;
	char *ud = xasprintf("%s/user-data.yaml", tmpdir);
	char *mdf = xasprintf("%s/meta-data.yaml", tmpdir);
	char *tmp = xasprintf("%s/tmp", tmpdir);
	char *out = xasprintf("%s/iso-listing", tmpdir);
	char *iso = NULL, *dir = NULL, *listing;
	struct stat st;

	memset(&vm, 0, sizeof(vm));
	vm.name = (char *)"web-0";
	CHECK(!cloudinit_wanted(&vm.cfg));
	CHECK(sh("printf '#cloud-config\\npackages: [nginx]\\n' > %s; "
		 "printf 'local-hostname: custom\\n' > %s", ud, mdf) == 0);
	vm.cfg.user_data = ud;
	CHECK(cloudinit_wanted(&vm.cfg));
	/* defaults when no meta-data is given */
	CHECK(cloudinit_meta_data("lab", &vm, &md, &e) == 0);
	CHECK_STR(md.buf, "instance-id: lab-web-0\nlocal-hostname: web-0\n");
	strbuf_reset(&md);
	/* the user's keys win; missing ones are added */
	vm.cfg.meta_data = mdf;
	CHECK(cloudinit_meta_data("lab", &vm, &md, &e) == 0);
	CHECK_STR(md.buf, "local-hostname: custom\ninstance-id: lab-web-0\n");
	strbuf_release(&md);

	if (system("command -v genisoimage >/dev/null || command -v xorriso >/dev/null || "
		   "command -v cloud-localds >/dev/null")) {
		printf("# skip seed ISO: none of genisoimage, xorriso, cloud-localds installed\n");
		goto out;
	}
	/* built under $TMPDIR in a private directory: 0700, the ISO 0600 */
	CHECK(sh("mkdir -p -m 1777 %s", tmp) == 0);
	setenv("TMPDIR", tmp, 1);
	CHECK(cloudinit_build_seed("lab", &vm, &iso, &e) == 0);
	unsetenv("TMPDIR");
	err_print(&e, stderr, "unexpected");
	CHECK(iso && str_starts_with(iso, tmp));
	if (!iso)
		goto out;
	dir = xasprintf("%.*s", (int)(strrchr(iso, '/') - iso), iso);
	CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK(lstat(iso, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK(fsize("%s", iso) > 0);
	/* the work files are private too (and are removed with the ISO) */
	CHECK(sh("test \"$(find %s -type f ! -perm 0600 | wc -l)\" = 0", dir) == 0);
	if (system("command -v isoinfo >/dev/null") == 0) {
		CHECK(sh("isoinfo -d -i %s > %s && isoinfo -R -f -i %s >> %s", iso, out, iso, out) == 0);
		listing = slurp("%s", out);
		CHECK(listing && strstr(listing, "Volume id: cidata"));
		CHECK(listing && strstr(listing, "/user-data"));
		CHECK(listing && strstr(listing, "/meta-data"));
		CHECK(listing && !strstr(listing, "/network-config"));
		CHECK(listing && !strstr(listing, "/seed.iso"));
		free(listing);
		CHECK(sh("isoinfo -R -i %s -x /user-data | grep -q nginx", iso) == 0);
		CHECK(sh("isoinfo -R -i %s -x /meta-data | grep -q 'instance-id: lab-web-0'", iso) == 0);
	} else {
		printf("# skip ISO content check: isoinfo not installed\n");
	}
	cloudinit_seed_remove(iso);
	CHECK(!exists("%s", dir));
	free(iso);
	iso = NULL;
	/* a missing file is an error naming it, and nothing is left behind */
	vm.cfg.network_config = (char *)"/nonexistent/net.yaml";
	setenv("TMPDIR", tmp, 1);
	CHECK(cloudinit_build_seed("lab", &vm, &iso, &e) == -1);
	unsetenv("TMPDIR");
	CHECK(iso == NULL);
	CHECK(strstr(err_msg(&e), "/nonexistent/net.yaml"));
	CHECK(sh("test -z \"$(ls -A %s)\"", tmp) == 0);
	errbuf_release(&e);
out:
	free(ud);
	free(mdf);
	free(tmp);
	free(dir);
	free(iso);
	free(out);
}

int main(void)
{
	char *py;
	int rc;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	www = xasprintf("%s/www", tmpdir);
	cache = xasprintf("%s/cache", tmpdir);
	lim_cache = xasprintf("%s/cache-lim", tmpdir);
	if (system("command -v python3 >/dev/null && command -v qemu-img >/dev/null")) {
		printf("# skip image downloads: python3 or qemu-img not installed\n");
		goto seed;
	}
	if (sh("mkdir -p %s && qemu-img create -q -f qcow2 %s/img.qcow2 64M && "
	       "head -c 300000 /dev/urandom > %s/disk.raw", www, www, www))
		return 1;
	{
		char *q = xasprintf("%s/img.qcow2", www), *r = xasprintf("%s/disk.raw", www);
		struct errbuf e = ERRBUF_INIT;
		rc = image_hash_file(q, qcow_sha, &e) | image_hash_file(r, raw_sha, &e);
		free(q);
		free(r);
		errbuf_release(&e);
		if (rc)
			return 1;
	}
	py = xasprintf("%s/server.py", tmpdir);
	{
		FILE *f = fopen(py, "w");
		if (!f)
			return 1;
		fputs(server_py, f);
		fclose(f);
	}
	if (sh("python3 %s %s >/dev/null 2>&1 & echo $! > %s/server.pid", py, www, tmpdir))
		return 1;
	free(py);
	for (int i = 0; i < 100 && !port; i++) {
		port = slurp("%s/port", www);
		if (!port)
			usleep(50000);
	}
	if (!port) {
		printf("# the test HTTP server did not start\n");
		sh("kill $(cat %s/server.pid)", tmpdir);
		return 1;
	}
	RUN(download_and_verify);
	RUN(reachability_without_download);
	RUN(wrong_sha256_refused);
	RUN(truncated_refused_then_resumed);
	RUN(bad_prefix_not_used);
	RUN(corrupted_cache_refetched);
	RUN(url_rules_and_formats);
	RUN(size_limits);
	RUN(slow_servers_stopped);
	RUN(redirects_stay_on_http);
	RUN(file_urls_bounded);
	RUN(qcow2_external_files_refused);
	sh("kill $(cat %s/server.pid)", tmpdir);
seed:
	RUN(cloudinit_seed);
	if (!getenv("VEM_TEST_KEEP"))
		sh("rm -rf %s", tmpdir);
	free(www);
	free(cache);
	free(lim_cache);
	free(port);
	return test_done();
}
