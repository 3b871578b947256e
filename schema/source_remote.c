/*
 * source_remote.c - git and https sources.
 */
#include "source.h"

int source_resolve_git(const char *spec, const struct source_options *opt,
		       struct source *out, struct errbuf *err)
{
	(void)opt;
	(void)out;
	return err_set(err, "source '%s': git sources are not built in yet", spec);
}

int source_resolve_https(const char *spec, const struct source_options *opt,
			 struct source *out, struct errbuf *err)
{
	(void)opt;
	(void)out;
	return err_set(err, "source '%s': https sources are not built in yet", spec);
}
