/*
 * util.h - small shared helpers: allocation, growable strings, errors,
 * units, time, hashing.
 *
 * Rules:
 *  - x*alloc() never return NULL: out of memory aborts the process.
 *  - struct strbuf: buf is never NULL after strbuf_init()/STRBUF_INIT and is
 *    always NUL-terminated. strbuf_detach() hands the buffer to the caller
 *    (free() it) and leaves the strbuf empty.
 *  - struct errbuf collects diagnostics; each has an optional location
 *    (file:line:col). Functions that can fail return 0 / -1 (or a pointer /
 *    NULL) and add at least one diagnostic on failure.
 *  - An errbuf carries one kind (enum err_kind), set where the error is
 *    raised (err_set_kind) and kept by err_prefix and by copying the struct:
 *    exit codes and retries decide on err_kind(), never on a message's words.
 */
#ifndef VEM_UTIL_H
#define VEM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);               /* xstrdup(NULL) == NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap);

/* Make room for at least nr elements in x (alloc tracks capacity). */
#define ALLOC_GROW(x, nr, alloc)                                              \
	do {                                                                  \
		if ((size_t)(nr) > (size_t)(alloc)) {                         \
			size_t na_ = (alloc) ? (size_t)(alloc) * 2 : 8;       \
			if (na_ < (size_t)(nr))                               \
				na_ = (size_t)(nr);                           \
			(x) = xrealloc((x), na_ * sizeof(*(x)));              \
			(alloc) = na_;                                        \
		}                                                             \
	} while (0)

/* ---- strbuf ---- */
struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};
extern char strbuf_empty[];
#define STRBUF_INIT { strbuf_empty, 0, 0 }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);
/* Append s with XML special characters escaped. */
void strbuf_add_xml(struct strbuf *sb, const char *s);
/*
 * Read a whole file (at most max bytes; 0 = no limit). Returns 0, or -1 with
 * errno set (EFBIG when the file is larger than max).
 */
int strbuf_read_file(struct strbuf *sb, const char *path, size_t max);
/*
 * Read a regular file of at most max bytes (0 = no limit) for input that
 * someone else may have written: opened with O_NONBLOCK so that a FIFO or a
 * device never blocks, refused unless fstat says it is a regular file
 * (errno ENODEV), refused from its fstat size before reading when larger
 * than max (errno EFBIG; a file growing while read is cut at max + 1 and
 * refused the same way). *size_out (may be NULL) gets the size seen.
 */
int strbuf_read_regular(struct strbuf *sb, const char *path, size_t max, uint64_t *size_out);
/* Read an environment limit like VEM_MAX_FILE_BYTES (a size, or a count when
 * is_count): dflt when unset or invalid (a warning on stderr once). */
uint64_t env_limit(const char *name, uint64_t dflt, bool is_count);

/* ---- errors ---- */
struct diag {
	char *file;     /* NULL when the problem has no location */
	int line, col;  /* 1-based; 0 when unknown */
	char *msg;
};

/*
 * What kind of failure an errbuf holds, for decisions (exit codes, retries).
 * Most errors need no kind of their own: ERR_GENERIC. The first kind other
 * than ERR_GENERIC raised into an errbuf stays its kind.
 */
enum err_kind {
	ERR_GENERIC = 0,        /* anything that needs no decision of its own */
	ERR_LEASE_HELD,         /* another vem holds the cluster's lease (exit 4) */
	ERR_LEASE_LOST,         /* the lease this run held can no longer be confirmed */
};

struct errbuf {
	struct diag *items;
	size_t nr, alloc;
	enum err_kind kind;
};
#define ERRBUF_INIT { NULL, 0, 0, ERR_GENERIC }

void errbuf_init(struct errbuf *e);
void errbuf_release(struct errbuf *e);
/* Add "file:line:col: msg". */
void err_at(struct errbuf *e, const char *file, int line, int col,
	    const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Add a message without location. Returns -1 so callers can `return err_set(...)`. */
int err_set(struct errbuf *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* err_set() that also marks e as kind (unless e already has a kind). */
int err_set_kind(struct errbuf *e, enum err_kind kind, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* e's kind: ERR_GENERIC when no diagnostic raised one. */
enum err_kind err_kind(const struct errbuf *e);
/* Prefix every message added since index `from` with "prefix: ". */
void err_prefix(struct errbuf *e, size_t from, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* First message or "" (never NULL). */
const char *err_msg(const struct errbuf *e);
/* One line per diagnostic: "file:line:col: msg" or "prefix: msg". */
void err_print(const struct errbuf *e, FILE *f, const char *prefix);
/* Sort diagnostics by file, line, col (stable). */
void err_sort(struct errbuf *e);

/* ---- units ---- */
/*
 * Sizes, with libvirt's units exactly: K M G T and KiB MiB GiB TiB are
 * powers of 1024 ("1G" and "1GiB" are 1073741824), KB MB GB TB powers of
 * 1000, b B bytes are bytes: "512MiB", "4G", "1.5GiB", "100MB", "4096B".
 * One space may stand between number and unit. A number without a unit is
 * an error (except "0") whose *why suggests one ("did you mean
 * '2048MiB'?"). Returns 0 or -1 with *why set to an explanation: a static
 * string or a per-thread buffer valid until this thread's next call.
 */
int parse_size(const char *s, uint64_t *bytes, const char **why);
/* Durations: "90s", "10m", "1h30m", "500ms", "2d", "0". Result in milliseconds. */
int parse_duration(const char *s, int64_t *ms, const char **why);
/* Largest duration and size parse_duration/parse_size accept: 100 years and
 * 1 EiB, so that sums and products with them never overflow. */
#define DURATION_MAX_MS (100LL * 366 * 86400000)
#define SIZE_MAX_BYTES (1ULL << 60)
/* "1GiB", "512MiB", "1.5GiB", "123B": exact binary unit when possible. */
const char *format_size(uint64_t bytes, char buf[32]);
/* "90s", "10m", "1h30m", "250ms". */
const char *format_duration(int64_t ms, char buf[32]);

#define KiB (1024ULL)
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * 1024 * 1024)

/* ---- time ---- */
int64_t time_now_ms(void);       /* wall clock, ms since the epoch */
int64_t time_mono_ms(void);      /* monotonic, for elapsed times */
/* "2026-11-25T04:19:00Z" */
const char *format_time_utc(int64_t ms, char buf[32]);

/* ---- hashing (sha256, via OpenSSL's libcrypto) ---- */
void sha256_hex(const void *data, size_t len, char out[65]);

/* ---- misc ---- */
bool str_eq(const char *a, const char *b);     /* NULL-safe */
bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* FNV-1a of s for hash tables, its start value xor'ed with salt (0: plain
 * FNV-1a; a salt keeps equal names of different kinds apart). */
uint64_t str_hash(const char *s, uint64_t salt);
/* Levenshtein distance, for "did you mean" hints. */
size_t str_edit_distance(const char *a, const char *b);
/* Parse a decimal integer/double strictly (whole string). 0 / -1. */
int parse_int64(const char *s, int64_t *out);
int parse_double(const char *s, double *out);

/* vem's cache directory for sub ("images", "git", ...), created on demand:
 * $VEM_CACHE_DIR, else $XDG_CACHE_HOME/vem, ~/.cache/vem, /var/cache/vem.
 * override (may be NULL) wins. Caller frees. */
char *cache_dir(const char *override, const char *sub);

/* Verbosity for progress lines: 0 quiet, 1 normal, 2+ verbose. */
extern int vem_verbosity;

#endif
