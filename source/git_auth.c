/*
 * git_auth.c - who vem is to a git server, and who the server is to vem:
 * credentials (environment, ssh-agent, a credentials file) and the ssh host
 * key checked against known_hosts. Both are libgit2 callbacks; and
 * libgit2's last error in words.
 */
#include "source_priv.h"
#include "util/proc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *source_git_why(int code)
{
	const git_error *e = git_error_last();
	(void)code;
	return e && e->message ? e->message : "unknown libgit2 error";
}

/*
 * Credentials file in git-credential-store format, one URL per line:
 * "https://user:token@host". $VEM_GIT_CREDENTIALS, else
 * $XDG_CONFIG_HOME/vem/git-credentials or ~/.config/vem/git-credentials,
 * else /etc/vem/git-credentials.
 */
static void creds_from_file(const char *url, struct source_git_auth *st)
{
	const char *env = getenv("VEM_GIT_CREDENTIALS");
	char *path = NULL;
	struct strbuf sb = STRBUF_INIT;
	const char *host = strstr(url, "://");
	size_t hostlen;
	char *line, *next;

	if (!host)
		return;
	host += 3;
	if (strchr(host, '@') && (!strchr(host, '/') || strchr(host, '@') < strchr(host, '/')))
		host = strchr(host, '@') + 1;
	hostlen = strcspn(host, "/");
	if (env)
		path = xstrdup(env);
	else if (getenv("XDG_CONFIG_HOME"))
		path = xasprintf("%s/vem/git-credentials", getenv("XDG_CONFIG_HOME"));
	else if (getenv("HOME"))
		path = xasprintf("%s/.config/vem/git-credentials", getenv("HOME"));
	if (!path || access(path, R_OK)) {
		free(path);
		path = xstrdup("/etc/vem/git-credentials");
	}
	if (strbuf_read_file(&sb, path, 1 << 20))
		goto out;
	for (line = sb.buf; line && *line; line = next) {
		char *h, *colon, *at;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		h = strstr(line, "://");
		if (!h)
			continue;
		h += 3;
		at = strchr(h, '@');
		if (!at)
			continue;
		if (strncmp(at + 1, host, hostlen) || (at[1 + hostlen] && at[1 + hostlen] != '/' &&
						       at[1 + hostlen] != '\r'))
			continue;
		colon = memchr(h, ':', (size_t)(at - h));
		if (!colon)
			continue;
		st->user = xstrndup(h, (size_t)(colon - h));
		st->secret = xstrndup(colon + 1, (size_t)(at - colon - 1));
		break;
	}
out:
	strbuf_release(&sb);
	free(path);
}

int source_git_credentials_cb(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct source_git_auth *st = payload;
	const char *user = user_from_url && *user_from_url ? user_from_url : NULL;

	if (++st->attempts > 3) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed (no accepted credentials)");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user ? user : "git");
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *key = getenv("VEM_GIT_SSH_KEY");
		if (key && st->attempts == 1)
			return git_credential_ssh_key_new(out, user ? user : "git", NULL, key,
							  getenv("VEM_GIT_SSH_PASSPHRASE"));
		if (getenv("SSH_AUTH_SOCK") && *getenv("SSH_AUTH_SOCK") && st->attempts <= 2)
			return git_credential_ssh_key_from_agent(out, user ? user : "git");
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		const char *token = getenv("VEM_GIT_TOKEN");
		if (token && st->attempts == 1)
			return git_credential_userpass_plaintext_new(
				out, getenv("VEM_GIT_USER") ? getenv("VEM_GIT_USER") :
				user ? user : "x-access-token", token);
		if (!st->user)
			creds_from_file(url, st);
		if (st->user && st->attempts <= 2)
			return git_credential_userpass_plaintext_new(out, st->user, st->secret);
	}
	git_error_set_str(GIT_ERROR_NET, "authentication required and no credentials were "
			  "accepted (VEM_GIT_SSH_KEY, ssh-agent, VEM_GIT_TOKEN or a credentials file)");
	return GIT_EAUTH;
}

/* Whether known_hosts file lists key (base64) for name ("host" or "[host]:port"). */
static bool known_hosts_has(const char *file, const char *name, const char *key)
{
	char *argv[] = { "ssh-keygen", "-F", (char *)name, "-f", (char *)file, NULL };
	struct strbuf out = STRBUF_INIT;
	bool found = false;
	struct proc_result pr;
	char *line, *next;

	if (access(file, R_OK) || proc_run(argv, NULL, &out, &pr, NULL) || pr.status != 0)
		goto out;
	for (line = out.buf; line && *line && !found; line = next) {
		char *k;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#')
			continue;
		/* "name keytype base64 [comment]" */
		k = strchr(line, ' ');
		k = k ? strchr(k + 1, ' ') : NULL;
		if (k && !strncmp(k + 1, key, strlen(key)) &&
		    (k[1 + strlen(key)] == '\0' || k[1 + strlen(key)] == ' '))
			found = true;
	}
out:
	strbuf_release(&out);
	return found;
}

/*
 * libgit2 1.5 accepts any ssh host key unless told otherwise: check it
 * against $VEM_GIT_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts
 * (with ssh-keygen -F, which understands hashed entries). https keeps
 * libgit2's own certificate verification (GIT_PASSTHROUGH).
 */
int source_git_certificate_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct source_git_auth *st = payload;
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	const char *p = st->url ? strstr(st->url, "://") : NULL;
	char *name = NULL, *key = NULL, *home_kh = NULL;
	const char *files[3];
	int port = 22, rc = GIT_ECERTIFICATE;

	(void)valid;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH;
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey_len) {
		git_error_set_str(GIT_ERROR_SSH, "cannot verify the ssh host key (no raw key)");
		return GIT_ECERTIFICATE;
	}
	if (p) {
		const char *h = strchr(p + 3, '@') ? strchr(p + 3, '@') + 1 : p + 3;
		const char *colon = strchr(h, ':'), *slash = strchr(h, '/');
		int64_t v;
		if (colon && (!slash || colon < slash)) {
			char *num = xstrndup(colon + 1, (size_t)((slash ? slash : colon + strlen(colon)) - colon - 1));
			if (!parse_int64(num, &v) && v > 0 && v < 65536)
				port = (int)v;
			free(num);
		}
	}
	name = port == 22 ? xstrdup(host) : xasprintf("[%s]:%d", host, port);
	key = xmalloc(4 * ((hk->hostkey_len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)key, (const unsigned char *)hk->hostkey,
			(int)hk->hostkey_len);
	home_kh = getenv("HOME") ? xasprintf("%s/.ssh/known_hosts", getenv("HOME")) : NULL;
	files[0] = getenv("VEM_GIT_KNOWN_HOSTS");
	files[1] = home_kh;
	files[2] = "/etc/ssh/ssh_known_hosts";
	for (size_t i = 0; i < ARRAY_SIZE(files) && rc; i++)
		if (files[i] && known_hosts_has(files[i], name, key))
			rc = 0;
	if (rc)
		git_error_set(GIT_ERROR_SSH, "the ssh host key of '%s' is not in known_hosts "
			      "(VEM_GIT_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts; "
			      "add it with ssh-keyscan)", name);
	free(name);
	free(key);
	free(home_kh);
	return rc;
}

