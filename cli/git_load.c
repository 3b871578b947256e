/*
 * git_load.c - libgit2, opened on its first call (lazy.h). Its soname
 * (libgit2.so.1.5 on Debian 12) is the one of the library vem was built
 * against: the Makefile reads it from the library and defines
 * VEM_GIT2_SONAME.
 */
#include "lazy.h"

#include <git2.h>
#include <stdarg.h>
#include <stdio.h>

#ifndef VEM_GIT2_SONAME
#error "VEM_GIT2_SONAME: the soname of libgit2 (the Makefile defines it)"
#endif

LAZY_LIBRARY(git_sym, VEM_GIT2_SONAME, NULL)

LAZY_VOID(git_sym, git_buf_dispose, (git_buf *buffer), (buffer))
LAZY_FN(git_sym, int, git_checkout_options_init,
	(git_checkout_options *opts, unsigned int version),
	(opts, version))
LAZY_FN(git_sym, int, git_checkout_tree,
	(git_repository *repo, const git_object *treeish, const git_checkout_options *opts),
	(repo, treeish, opts))
LAZY_FN(git_sym, int, git_commit_extract_signature,
	(git_buf *signature, git_buf *signed_data, git_repository *repo, git_oid *commit_id,
	 const char *field),
	(signature, signed_data, repo, commit_id, field))
LAZY_VOID(git_sym, git_commit_free, (git_commit *commit), (commit))
LAZY_FN(git_sym, const git_oid *, git_commit_id, (const git_commit *commit), (commit))
LAZY_FN(git_sym, int, git_commit_tree,
	(git_tree **tree_out, const git_commit *commit),
	(tree_out, commit))
LAZY_FN(git_sym, int, git_credential_ssh_key_from_agent,
	(git_credential **out, const char *username),
	(out, username))
LAZY_FN(git_sym, int, git_credential_ssh_key_new,
	(git_credential **out, const char *username, const char *publickey, const char *privatekey,
	 const char *passphrase),
	(out, username, publickey, privatekey, passphrase))
LAZY_FN(git_sym, int, git_credential_username_new,
	(git_credential **out, const char *username),
	(out, username))
LAZY_FN(git_sym, int, git_credential_userpass_plaintext_new,
	(git_credential **out, const char *username, const char *password),
	(out, username, password))
LAZY_FN(git_sym, const git_error *, git_error_last, (void), ())
LAZY_FN(git_sym, int, git_error_set_str,
	(int error_class, const char *string),
	(error_class, string))
LAZY_FN(git_sym, int, git_fetch_options_init,
	(git_fetch_options *opts, unsigned int version),
	(opts, version))
LAZY_FN(git_sym, int, git_libgit2_init, (void), ())
LAZY_FN(git_sym, int, git_libgit2_shutdown, (void), ())
LAZY_VOID(git_sym, git_object_free, (git_object *object), (object))
LAZY_FN(git_sym, int, git_object_peel,
	(git_object **peeled, const git_object *object, git_object_t target_type),
	(peeled, object, target_type))
LAZY_VOID(git_sym, git_odb_free, (git_odb *db), (db))
LAZY_FN(git_sym, int, git_odb_read_header,
	(size_t *len_out, git_object_t *type_out, git_odb *db, const git_oid *id),
	(len_out, type_out, db, id))
LAZY_FN(git_sym, char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id))
LAZY_VOID(git_sym, git_reference_free, (git_reference *ref), (ref))
LAZY_FN(git_sym, int, git_reference_lookup,
	(git_reference **out, git_repository *repo, const char *name),
	(out, repo, name))
LAZY_FN(git_sym, int, git_remote_connect_ext,
	(git_remote *remote, git_direction direction, const git_remote_connect_options *opts),
	(remote, direction, opts))
LAZY_FN(git_sym, int, git_remote_connect_options_init,
	(git_remote_connect_options *opts, unsigned int version),
	(opts, version))
LAZY_FN(git_sym, int, git_remote_create_options_init,
	(git_remote_create_options *opts, unsigned int version),
	(opts, version))
LAZY_FN(git_sym, int, git_remote_create_with_opts,
	(git_remote **out, const char *url, const git_remote_create_options *opts),
	(out, url, opts))
LAZY_FN(git_sym, int, git_remote_default_branch, (git_buf *out, git_remote *remote), (out, remote))
LAZY_FN(git_sym, int, git_remote_disconnect, (git_remote *remote), (remote))
LAZY_FN(git_sym, int, git_remote_download,
	(git_remote *remote, const git_strarray *refspecs, const git_fetch_options *opts),
	(remote, refspecs, opts))
LAZY_VOID(git_sym, git_remote_free, (git_remote *remote), (remote))
LAZY_FN(git_sym, int, git_remote_init_callbacks,
	(git_remote_callbacks *opts, unsigned int version),
	(opts, version))
LAZY_FN(git_sym, int, git_remote_prune,
	(git_remote *remote, const git_remote_callbacks *callbacks),
	(remote, callbacks))
LAZY_FN(git_sym, int, git_remote_update_tips,
	(git_remote *remote, const git_remote_callbacks *callbacks, int update_fetchhead,
	 git_remote_autotag_option_t download_tags, const char *reflog_message),
	(remote, callbacks, update_fetchhead, download_tags, reflog_message))
LAZY_VOID(git_sym, git_repository_free, (git_repository *repo), (repo))
LAZY_FN(git_sym, int, git_repository_init,
	(git_repository **out, const char *path, unsigned is_bare),
	(out, path, is_bare))
LAZY_FN(git_sym, int, git_repository_odb, (git_odb **out, git_repository *repo), (out, repo))
LAZY_FN(git_sym, int, git_repository_open_bare,
	(git_repository **out, const char *bare_path),
	(out, bare_path))
LAZY_FN(git_sym, int, git_revparse_single,
	(git_object **out, git_repository *repo, const char *spec),
	(out, repo, spec))
LAZY_FN(git_sym, int, git_tree_entry_bypath,
	(git_tree_entry **out, const git_tree *root, const char *path),
	(out, root, path))
LAZY_VOID(git_sym, git_tree_entry_free, (git_tree_entry *entry), (entry))
LAZY_FN(git_sym, const git_oid *, git_tree_entry_id, (const git_tree_entry *entry), (entry))
LAZY_FN(git_sym, const char *, git_tree_entry_name, (const git_tree_entry *entry), (entry))
LAZY_FN(git_sym, git_object_t, git_tree_entry_type, (const git_tree_entry *entry), (entry))
LAZY_VOID(git_sym, git_tree_free, (git_tree *tree), (tree))
LAZY_FN(git_sym, int, git_tree_lookup,
	(git_tree **out, git_repository *repo, const git_oid *id),
	(out, repo, id))
LAZY_FN(git_sym, int, git_tree_walk,
	(const git_tree *tree, git_treewalk_mode mode, git_treewalk_cb callback, void *payload),
	(tree, mode, callback, payload))

/* variadic: formatted here, set as a string (what libgit2 does with it) */
void git_error_set(int error_class, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	git_error_set_str(error_class, msg);
}
