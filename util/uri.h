/*
 * uri.h - the pieces of a URI, the one rule for masking its secrets, and
 * the one rule for a loopback host.
 *
 * Masking: wherever vem shows a URI or a message that may quote one
 * (validate -o json, plan, status, snapshots, errors), two spans become
 * "****" and nothing else changes:
 *  - the userinfo password: "user:SECRET@host". The userinfo ends at the
 *    LAST '@' before the path, so a password may itself contain '@'
 *    ("qemu+ssh://root:p@ss@host/system" -> "qemu+ssh://root:****@host/system");
 *  - the value of every query parameter whose name says it is a credential
 *    (token, access_token, password, secret, signature, api_key, ...).
 *
 * Parsing is for vem's own checks (transport, host, parameters); libvirt,
 * libcurl and libgit2 parse URIs again for themselves. All strings returned
 * are owned by the caller (free()); struct uri is released by uri_release().
 */
#ifndef VEM_URI_H
#define VEM_URI_H

#include "util.h"

struct uri_param {
	char *name, *value;    /* value "" for "?flag" */
};

struct uri {
	char *scheme;          /* "qemu+ssh" */
	char *transport;       /* "ssh", NULL without '+' */
	char *user;            /* NULL without userinfo */
	bool has_password;
	char *host;            /* "" for local URIs; IPv6 without brackets */
	char *path;            /* "/system", "" */
	struct uri_param *params;
	size_t n_params;
};

/* 0, or -1 when s has no "scheme://". u is always safe to release. */
int uri_parse(const char *s, struct uri *u);
void uri_release(struct uri *u);
/* The value of query parameter name (last one wins), or NULL. */
const char *uri_param_get(const struct uri *u, const char *name);
/* Whether a query parameter of this name carries a credential. */
bool uri_param_is_secret(const char *name);

/* uri with its password and secret parameter values as "****". */
char *uri_mask(const char *uri);
/* uri_mask(), and every query value too, whatever its name (a webhook URL
 * often carries its secret in a parameter with a plain name). */
char *uri_mask_all_params(const char *uri);
/*
 * text with every URL in it masked as uri_mask() does, and, when uri is
 * given, each secret of uri (raw or percent-decoded) that appears in text
 * as a whole token (not inside a longer word: "p" does not touch "parse").
 */
char *uri_mask_text(const char *text, const char *uri);

/*
 * Whether url's host is a loopback address, where plain http:// is allowed
 * (sources, images): "localhost", "[::1]" or 127.0.0.0/8 as a dotted quad.
 * The host is the one uri_parse() finds (after the LAST '@' of the
 * userinfo, brackets removed); "localhost." and other spellings are not
 * loopback.
 */
bool uri_host_is_loopback(const char *url);

#endif
