#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vem_verbosity = 1;
char strbuf_empty[1];

static void die_oom(size_t n)
{
	fprintf(stderr, "vem: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p;
	if (!s)
		return NULL;
	p = strdup(s);
	if (!p)
		die_oom(strlen(s));
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		die_oom(n);
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	if (vasprintf(&p, fmt, ap) < 0)
		die_oom(strlen(fmt));
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* ---- strbuf ---- */

void strbuf_init(struct strbuf *sb)
{
	sb->buf = strbuf_empty;
	sb->len = sb->alloc = 0;
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb);
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *r;
	if (len)
		*len = sb->len;
	r = sb->alloc ? sb->buf : xstrdup("");
	strbuf_init(sb);
	return r;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return;
	if (!sb->alloc)
		sb->buf = NULL;
	size_t na = sb->alloc ? sb->alloc : 64;
	while (na < need)
		na *= 2;
	sb->buf = xrealloc(sb->buf, na);
	if (!sb->alloc)
		sb->buf[0] = '\0';
	sb->alloc = na;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->alloc)
		sb->buf[0] = '\0';
}

void strbuf_add_xml(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': strbuf_adds(sb, "&lt;"); break;
		case '>': strbuf_adds(sb, "&gt;"); break;
		case '&': strbuf_adds(sb, "&amp;"); break;
		case '"': strbuf_adds(sb, "&quot;"); break;
		case '\'': strbuf_adds(sb, "&apos;"); break;
		default: strbuf_addc(sb, *s);
		}
	}
}

/* Read fd to its end into sb (at most max bytes, 0 = no limit), then close
 * it. 0, or -1 with errno (EFBIG past max). */
static int read_fd_close(struct strbuf *sb, int fd, size_t max)
{
	char tmp[65536];
	ssize_t n;
	int e = 0;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		if (max && sb->len + (size_t)n > max) {
			e = EFBIG;
			break;
		}
		strbuf_add(sb, tmp, (size_t)n);
	}
	close(fd);
	errno = e;
	return e ? -1 : 0;
}

int strbuf_read_file(struct strbuf *sb, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	return read_fd_close(sb, fd, max);
}

int strbuf_read_regular(struct strbuf *sb, const char *path, size_t max, uint64_t *size_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int e;

	if (size_out)
		*size_out = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st)) {
		e = errno;
		goto fail;
	}
	if (size_out)
		*size_out = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : ENODEV;
		goto fail;
	}
	if (max && (uint64_t)st.st_size > max) {
		e = EFBIG;
		goto fail;
	}
	strbuf_grow(sb, (size_t)st.st_size);
	return read_fd_close(sb, fd, max);
fail:
	close(fd);
	errno = e;
	return -1;
}

uint64_t env_limit(const char *name, uint64_t dflt, bool is_count)
{
	const char *v = getenv(name), *why = NULL;
	uint64_t u;
	int64_t i;

	if (!v || !*v)
		return dflt;
	if (is_count ? (!parse_int64(v, &i) && i > 0 && (u = (uint64_t)i, true))
		     : (!parse_size(v, &u, &why) && u > 0))
		return u;
	fprintf(stderr, "vem: ignoring %s='%s': expected %s\n", name, v,
		is_count ? "a whole number above 0" : "a size like 16MiB");
	return dflt;
}

/* ---- errors ---- */

void errbuf_init(struct errbuf *e)
{
	e->items = NULL;
	e->nr = e->alloc = 0;
	e->kind = ERR_GENERIC;
}

void errbuf_release(struct errbuf *e)
{
	for (size_t i = 0; i < e->nr; i++) {
		free(e->items[i].file);
		free(e->items[i].msg);
	}
	free(e->items);
	errbuf_init(e);
}

static void err_vadd(struct errbuf *e, const char *file, int line, int col,
		     const char *fmt, va_list ap)
{
	struct diag *d;
	ALLOC_GROW(e->items, e->nr + 1, e->alloc);
	d = &e->items[e->nr++];
	d->file = xstrdup(file);
	d->line = line;
	d->col = col;
	d->msg = xvasprintf(fmt, ap);
}

void err_at(struct errbuf *e, const char *file, int line, int col,
	    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vadd(e, file, line, col, fmt, ap);
	va_end(ap);
}

int err_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vadd(e, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int err_set_kind(struct errbuf *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vadd(e, NULL, 0, 0, fmt, ap);
	va_end(ap);
	if (e->kind == ERR_GENERIC)
		e->kind = kind;
	return -1;
}

enum err_kind err_kind(const struct errbuf *e)
{
	return e->kind;
}

void err_prefix(struct errbuf *e, size_t from, const char *fmt, ...)
{
	va_list ap;
	char *pfx;
	va_start(ap, fmt);
	pfx = xvasprintf(fmt, ap);
	va_end(ap);
	for (size_t i = from; i < e->nr; i++) {
		char *m = xasprintf("%s: %s", pfx, e->items[i].msg);
		free(e->items[i].msg);
		e->items[i].msg = m;
	}
	free(pfx);
}

const char *err_msg(const struct errbuf *e)
{
	return e->nr ? e->items[0].msg : "";
}

void err_print(const struct errbuf *e, FILE *f, const char *prefix)
{
	for (size_t i = 0; i < e->nr; i++) {
		const struct diag *d = &e->items[i];
		if (d->file && d->line)
			fprintf(f, "%s:%d:%d: %s\n", d->file, d->line, d->col, d->msg);
		else if (d->file)
			fprintf(f, "%s: %s\n", d->file, d->msg);
		else
			fprintf(f, "%s: %s\n", prefix ? prefix : "vem", d->msg);
	}
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x < y ? -1 : (x > y);
}

void err_sort(struct errbuf *e)
{
	/* qsort is not stable; diag_cmp falls back on address which is the
	 * original order only before moves, so do a simple insertion sort. */
	for (size_t i = 1; i < e->nr; i++) {
		struct diag d = e->items[i];
		size_t j = i;
		while (j > 0) {
			struct diag *p = &e->items[j - 1];
			int c = strcmp(p->file ? p->file : "", d.file ? d.file : "");
			if (c < 0 || (c == 0 && (p->line < d.line ||
			    (p->line == d.line && p->col <= d.col))))
				break;
			e->items[j] = *p;
			j--;
		}
		e->items[j] = d;
	}
	(void)diag_cmp;
}

/* ---- units ---- */

/* libvirt's unit table (virScaleInteger): K M G T and KiB MiB GiB TiB are
 * powers of 1024, KB MB GB TB powers of 1000, b B bytes are bytes. */
static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{ "b", 1 }, { "B", 1 }, { "bytes", 1 },
	{ "K", KiB }, { "KiB", KiB }, { "KB", 1000ULL },
	{ "M", MiB }, { "MiB", MiB }, { "MB", 1000000ULL },
	{ "G", GiB }, { "GiB", GiB }, { "GB", 1000000000ULL },
	{ "T", GiB * 1024 }, { "TiB", GiB * 1024 }, { "TB", 1000000000000ULL },
};

/* The hint for a number without a unit: a small number is most likely
 * MiB (as in `memory: 2048`), a large one a byte count, a fraction GiB. */
static const char *size_unit_hint(const char *s, size_t len)
{
	static __thread char msg[128];
	const char *unit = "MiB";

	if (memchr(s, '.', len))
		unit = "GiB";
	else if (len > 7 || (len == 7 && strncmp(s, "1048576", 7) >= 0))
		unit = "B";
	snprintf(msg, sizeof(msg), "a size needs a unit; did you mean '%.*s%s'?",
		 (int)(len > 64 ? 64 : len), s, unit);
	return msg;
}

int parse_size(const char *s, uint64_t *bytes, const char **why)
{
	const char *p = s;
	const char *num_end;
	double v;
	size_t i;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == s) {
		*why = "a size must start with a number, like 512MiB or 4GiB";
		return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p)) {
			*why = "a size must be a number with a unit, like 512MiB or 4GiB";
			return -1;
		}
		while (isdigit((unsigned char)*p))
			p++;
	}
	num_end = p;
	if (!*p) {
		if (strspn(s, "0") == (size_t)(p - s)) {   /* "0", "00": no unit needed */
			*bytes = 0;
			return 0;
		}
		*why = size_unit_hint(s, (size_t)(p - s));
		return -1;
	}
	if (*p == ' ')
		p++;
	for (i = 0; i < ARRAY_SIZE(size_units); i++)
		if (!strcmp(p, size_units[i].name))
			break;
	if (i == ARRAY_SIZE(size_units)) {
		*why = "unknown size unit (use B, K/KiB, M/MiB, G/GiB, T/TiB or KB, MB, GB, TB)";
		return -1;
	}
	{
		char tmp[64];
		size_t n = (size_t)(num_end - s);
		if (n >= sizeof(tmp)) {
			*why = "size is too large";
			return -1;
		}
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (!strchr(tmp, '.')) {
			errno = 0;
			unsigned long long u = strtoull(tmp, NULL, 10);
			if (errno || u > SIZE_MAX_BYTES / size_units[i].mult) {
				*why = "size is too large (at most 1EiB)";
				return -1;
			}
			*bytes = u * size_units[i].mult;
			return 0;
		}
		v = strtod(tmp, NULL);
	}
	v *= (double)size_units[i].mult;
	if (v > (double)SIZE_MAX_BYTES) {
		*why = "size is too large (at most 1EiB)";
		return -1;
	}
	if (size_units[i].mult == 1 && v != floor(v)) {
		*why = "a size in bytes must be a whole number";
		return -1;
	}
	*bytes = (uint64_t)llround(v);
	return 0;
}

int parse_duration(const char *s, int64_t *ms, const char **why)
{
	const char *p = s;
	int64_t total = 0;

	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	if (!*p) {
		*why = "a duration must not be empty (use 90s, 10m, 1h)";
		return -1;
	}
	while (*p) {
		int64_t v = 0, mult;
		const char *start = p;
		while (isdigit((unsigned char)*p)) {
			if (v > INT64_MAX / 10 - 10) {
				*why = "duration is too large (at most 100 years)";
				return -1;
			}
			v = v * 10 + (*p - '0');
			p++;
		}
		if (p == start) {
			*why = "a duration is a number with a unit, like 90s, 10m or 1h30m";
			return -1;
		}
		if (!strncmp(p, "ms", 2)) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else if (*p == 'm') {
			mult = 60000;
			p++;
		} else if (*p == 'h') {
			mult = 3600000;
			p++;
		} else if (*p == 'd') {
			mult = 86400000;
			p++;
		} else {
			*why = *p ? "unknown duration unit (use ms, s, m, h or d)"
				  : "a duration needs a unit (ms, s, m, h or d), like 90s";
			return -1;
		}
		if (v > (DURATION_MAX_MS - total) / mult) {
			*why = "duration is too large (at most 100 years)";
			return -1;
		}
		total += v * mult;
	}
	*ms = total;
	return 0;
}

const char *format_size(uint64_t b, char buf[32])
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	size_t u = 0;
	uint64_t v = b;

	while (u + 1 < ARRAY_SIZE(units) && v >= 1024 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (v < 1024 || u + 1 == ARRAY_SIZE(units)) {
		snprintf(buf, 32, "%llu%s", (unsigned long long)v, units[u]);
		return buf;
	}
	double d = (double)b;
	u = 0;
	while (d >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		d /= 1024;
		u++;
	}
	snprintf(buf, 32, "%.1f%s", d, units[u]);
	return buf;
}

const char *format_duration(int64_t ms, char buf[32])
{
	size_t n = 0;
	if (ms < 1000 && ms % 1000) {
		snprintf(buf, 32, "%lldms", (long long)ms);
		return buf;
	}
	if (ms == 0) {
		snprintf(buf, 32, "0s");
		return buf;
	}
	int64_t s = ms / 1000;
	buf[0] = '\0';
	if (s >= 86400 && s % 3600 == 0 && s % 86400 == 0)
		return snprintf(buf, 32, "%lldd", (long long)(s / 86400)), buf;
	if (s >= 3600) {
		n += (size_t)snprintf(buf + n, 32 - n, "%lldh", (long long)(s / 3600));
		s %= 3600;
	}
	if (s >= 60) {
		n += (size_t)snprintf(buf + n, 32 - n, "%lldm", (long long)(s / 60));
		s %= 60;
	}
	if (s || ms % 1000 || n == 0) {
		if (ms % 1000)
			snprintf(buf + n, 32 - n, "%.1fs", (double)s + (double)(ms % 1000) / 1000.0);
		else
			snprintf(buf + n, 32 - n, "%llds", (long long)s);
	}
	return buf;
}

/* ---- time ---- */

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *format_time_utc(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- hashing ---- */

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* ---- misc ---- */

uint64_t str_hash(const char *s, uint64_t salt)
{
	uint64_t h = 1469598103934665603ull ^ salt;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

bool str_starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

bool str_ends_with(const char *s, const char *suffix)
{
	size_t a, b;
	if (!s)
		return false;
	a = strlen(s);
	b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

size_t str_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	size_t r;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = prev + cost;
			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
		}
	}
	r = row[lb];
	free(row);
	return r;
}

int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int parse_double(const char *s, double *out)
{
	char *end;
	double v;
	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || isnan(v) || isinf(v))
		return -1;
	*out = v;
	return 0;
}

char *cache_dir(const char *override, const char *sub)
{
	const char *base = override ? override : getenv("VEM_CACHE_DIR");
	char *dir, *p;

	if (base)
		dir = xasprintf("%s/%s", base, sub);
	else if (getenv("XDG_CACHE_HOME"))
		dir = xasprintf("%s/vem/%s", getenv("XDG_CACHE_HOME"), sub);
	else if (getenv("HOME"))
		dir = xasprintf("%s/.cache/vem/%s", getenv("HOME"), sub);
	else
		dir = xasprintf("/var/cache/vem/%s", sub);
	for (p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	mkdir(dir, 0700);
	return dir;
}
