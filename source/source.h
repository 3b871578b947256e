/*
 * source.h - where a cluster description comes from.
 *
 *   path/to/file.yaml, path/to/dir     local file or directory
 *   git+URL[//subdir][?ref=REF]        a git repository (libgit2), cloned
 *                                      into a cache and fetched on later runs
 *   https://host/path/cluster.yaml     one file (libcurl, certificates verified)
 *
 * source_resolve() makes the description available as a local path and
 * names its revision: the commit id for git, "sha256:<hex>" of the content
 * otherwise. The caller owns struct source and frees it with source_release.
 *
 * Trust follows the source: a local file or directory is trusted like the
 * operator; git and https sources set untrusted and root (the checked-out
 * tree, or the download directory), which cfg_load_opts() enforces. Input is
 * bounded: local files must be regular files within VEM_MAX_FILE_BYTES; git
 * checkouts within VEM_MAX_CHECKOUT_BYTES / VEM_MAX_CHECKOUT_FILES, only the
 * subdir named, submodules skipped with a note, no http redirects.
 */
#ifndef VEM_SOURCE_H
#define VEM_SOURCE_H

#include "util/util.h"

struct source_options {
	const char *require_signed_by;   /* keyring: git commits must be signed by it */
	const char *cache_dir;           /* NULL: $XDG_CACHE_HOME/vem or ~/.cache/vem */
	bool allow_http;                 /* plain http:// (loopback tests) */
};

struct source {
	char *local_path;    /* file or directory to load */
	char *revision;      /* commit id or "sha256:<hex>" */
	char *display;       /* what to call it in messages (no credentials) */
	bool untrusted;      /* git or https: loaded with load_options.untrusted */
	char *root;          /* untrusted: the tree the cluster may reference */
};

int source_resolve(const char *spec, const struct source_options *opt,
		   struct source *out, struct errbuf *err);
void source_release(struct source *s);
/* Content hash of a file, or of a directory's *.yaml files (names + contents). */
int source_hash_path(const char *path, char out[72], struct errbuf *err);
/* The cache directory vem uses (created on demand); caller frees. */
char *source_cache_dir(const struct source_options *opt, const char *sub);

#endif
