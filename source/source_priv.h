/*
 * source_priv.h - what the files of source/ share (not for other modules).
 *
 *   resolve.c   source_resolve(): which kind a spec names (calls the rest)
 *   source.c    struct source, content hashes, the cache directory
 *   git.c       git+URL: spec, mirror fetch, commit, checkout into a tree
 *   git_auth.c  git credentials and ssh host-key checks (libgit2 callbacks)
 *   verify.c    commit signatures with gpgv
 *   https.c     https:// (and loopback http://) downloads with libcurl
 */
#ifndef VEM_SOURCE_PRIV_H
#define VEM_SOURCE_PRIV_H

#include "source.h"

#include <git2.h>
#include <openssl/evp.h>

int source_git_resolve(const char *spec, const struct source_options *opt,
		       struct source *out, struct errbuf *err);
int source_https_resolve(const char *spec, const struct source_options *opt,
			 struct source *out, struct errbuf *err);

/* Remove path and everything under it (no symlinks followed). */
void source_rm_tree(const char *path);
/* Finish md (sha256) into 64 hex digits and a NUL at out. */
void source_digest_hex(EVP_MD_CTX *md, char *out);

/* libgit2's last error message (never NULL). */
const char *source_git_why(int code);

/* The payload of the libgit2 credential and certificate callbacks; the
 * caller zeroes it, sets url, and frees user and secret. */
struct source_git_auth {
	const char *url;
	int attempts;
	char *user, *secret;     /* from the credentials file */
};
int source_git_credentials_cb(git_credential **out, const char *url, const char *user_from_url,
			      unsigned int allowed, void *payload);
int source_git_certificate_cb(git_cert *cert, int valid, const char *host, void *payload);

/* Verify the commit's signature against keyring with gpgv; workdir holds
 * the temporary files. */
int source_git_verify_signed(git_repository *repo, git_oid *oid, const char *keyring,
			     const char *display, const char *workdir, struct errbuf *err);

#endif
