/*
 * image.h - the local, content-addressed cache of disk images.
 *
 * image_fetch() makes the image an images: entry names available as a local
 * file whose sha256 is the one the cluster file gives:
 *
 *   <cache>/images/<sha256>           verified content (created by rename only
 *                                     after the whole file hashed right)
 *   <cache>/images/<sha256>.part      an interrupted download, resumed with an
 *                                     HTTP Range request from its size
 *
 * A download whose hash does not match is deleted, never used. A cached file
 * is hashed again once per process before its first use. One download per
 * image at a time, across threads and processes (flock on <sha256>.lock).
 *
 * URLs: https:// (certificates verified), file:// (a local regular file),
 * and http:// only to loopback addresses unless image_options.allow_http.
 * Redirects may lead to https:// only (and http:// with allow_http), never
 * to file:// or another scheme.
 *
 * Limits (each error names the limit and how to raise it):
 *   size      max_bytes, else $VEM_IMAGE_MAX_BYTES ("100GiB"), else 64GiB;
 *             checked against Content-Length and again while the bytes come
 *   time      timeout_ms for the whole fetch (all attempts), else
 *             $VEM_IMAGE_TIMEOUT ("12h"), else 6h
 *   rate      an attempt slower than min_rate bytes/s (else $VEM_IMAGE_MIN_RATE,
 *             else 1KiB) for min_rate_secs (else 60) seconds is stopped and
 *             retried from where it was
 * A file that is too large is deleted, not kept for resuming. The hash of a
 * file:// source that does not match is not printed (the URL may name a
 * local file its writer could not read).
 * Progress on stderr when vem_verbosity > 0: a bar (bytes, rate, ETA) on a
 * terminal, a plain line every 10 s otherwise.
 */
#ifndef VEM_IMAGE_H
#define VEM_IMAGE_H

#include "schema/model.h"

struct image_options {
	const char *cache_dir;   /* NULL: cache_dir(NULL, "images") */
	bool allow_http;         /* plain http:// to any host */
	int attempts;            /* resumed attempts per fetch; 0 = 3 */
	int progress;            /* -1 auto (terminal: bar), 0 none, 1 plain lines, 2 bar */
	uint64_t max_bytes;      /* 0 = $VEM_IMAGE_MAX_BYTES or 64GiB */
	int64_t timeout_ms;      /* whole fetch; 0 = $VEM_IMAGE_TIMEOUT or 6h */
	uint64_t min_rate;       /* bytes/s; 0 = $VEM_IMAGE_MIN_RATE or 1KiB */
	int min_rate_secs;       /* 0 = 60 */
};
void image_options_default(struct image_options *o);

/* Download (or find) and verify img; *path (caller frees) is the local file. */
int image_fetch(const struct image_spec *img, const struct image_options *opt,
		char **path, struct errbuf *err);

/* Virtual disk size of a local image file: the qcow2 header's size, or the
 * file size for raw. Refuses qcow2 files that name a backing file or an
 * external data file (either would make the host open a path the image
 * names), qcow2 files with incompatible features vem does not know, and a
 * file whose content does not match format. */
int image_virtual_size(const char *path, const char *format, uint64_t *size,
		       struct errbuf *err);

/*
 * Whether each of imgs can be had, without downloading it (for plans):
 * why[i] (caller frees) is NULL when it is in the cache (a file named by its
 * sha256 is put there only once verified; not hashed here) or reachable
 * under image_fetch's URL rules: file:// a readable regular file, http(s)://
 * a HEAD request answered within timeout_ms with a status below 400 (405
 * and 501, HEAD not supported, count as reachable). Otherwise why[i] says
 * what failed and names the URL (credentials masked). Distinct URLs are
 * asked in parallel, each at most once per 5 minutes in this process.
 * opt NULL: image_options_default.
 */
#define IMAGE_CHECK_TIMEOUT_MS 5000
void image_check(const struct image_spec *const *imgs, size_t n, const struct image_options *opt,
		 int64_t timeout_ms, char **why);
/* image_check with the defaults (the plan's hook, plan_options.check_images). */
void image_check_default(const struct image_spec *const *imgs, size_t n, char **why);

/* sha256 of a file as 64 hex chars. */
int image_hash_file(const char *path, char out[65], struct errbuf *err);

#endif
