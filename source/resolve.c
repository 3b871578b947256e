/*
 * resolve.c - source_resolve(): which kind of source a -f argument names.
 *
 *  - git+URL[//subdir][?ref=REF]: git.c
 *  - https://host/path/file.yaml (http:// to loopback): https.c
 *  - anything else: a local file or directory, used in place.
 */
#include "source_priv.h"

#include <string.h>

int source_resolve(const char *spec, const struct source_options *opt,
		   struct source *out, struct errbuf *err)
{
	char hash[72];

	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return err_set(err, "no source given");
	if (str_starts_with(spec, "git+"))
		return source_git_resolve(spec, opt, out, err);
	if (str_starts_with(spec, "https://") || str_starts_with(spec, "http://"))
		return source_https_resolve(spec, opt, out, err);
	if (opt && opt->require_signed_by)
		return err_set(err, "source '%s': --require-signed-by needs a git source", spec);
	if (source_hash_path(spec, hash, err))
		return -1;
	out->local_path = xstrdup(spec);
	out->revision = xstrdup(hash);
	out->display = xstrdup(spec);
	return 0;
}
