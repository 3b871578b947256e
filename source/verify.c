/*
 * verify.c - a git commit's signature checked with gpgv against a keyring.
 */
#include "source_priv.h"
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

int source_git_verify_signed(git_repository *repo, git_oid *oid, const char *keyring,
			     const char *display, const char *workdir, struct errbuf *err)
{
	git_buf sig = { 0 }, data = { 0 };
	char shortid[8];
	char *sigf = NULL, *dataf = NULL, *kr = NULL;
	struct strbuf out = STRBUF_INIT;
	int e, rc = -1, status;

	git_oid_tostr(shortid, sizeof(shortid), oid);
	e = git_commit_extract_signature(&sig, &data, repo, oid, NULL);
	if (e == GIT_ENOTFOUND) {
		err_set(err, "source '%s': commit %s is not signed", display, shortid);
		goto out;
	}
	if (e < 0) {
		err_set(err, "source '%s': commit %s: cannot read its signature: %s", display,
			shortid, source_git_why(e));
		goto out;
	}
	kr = realpath(keyring, NULL);
	if (!kr) {
		err_set(err, "keyring '%s': %s", keyring, strerror(errno));
		goto out;
	}
	sigf = xasprintf("%s/commit.sig", workdir);
	dataf = xasprintf("%s/commit.data", workdir);
	if (write_file(sigf, sig.ptr, sig.size) || write_file(dataf, data.ptr, data.size)) {
		err_set(err, "source '%s': cannot write '%s': %s", display, workdir, strerror(errno));
		goto out;
	}
	{
		char *argv[] = { "gpgv", "--status-fd", "1", "--keyring", kr, sigf, dataf, NULL };
		struct proc_result pr;
		status = proc_run(argv, NULL, &out, &pr, NULL) ? -1 : pr.status;
	}
	if (status == 127 || status < 0) {
		err_set(err, "source '%s': cannot run gpgv to check commit %s (install gpgv)",
			display, shortid);
		goto out;
	}
	if (strstr(out.buf, "[GNUPG:] NO_PUBKEY") || strstr(out.buf, "[GNUPG:] ERRSIG")) {
		err_set(err, "source '%s': commit %s: signature by unknown key (not in '%s')",
			display, shortid, keyring);
		goto out;
	}
	if (status != 0 || !strstr(out.buf, "[GNUPG:] GOODSIG") ||
	    !strstr(out.buf, "[GNUPG:] VALIDSIG")) {
		err_set(err, "source '%s': commit %s: bad signature", display, shortid);
		goto out;
	}
	rc = 0;
out:
	if (sigf)
		unlink(sigf);
	if (dataf)
		unlink(dataf);
	free(sigf);
	free(dataf);
	free(kr);
	strbuf_release(&out);
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	return rc;
}

