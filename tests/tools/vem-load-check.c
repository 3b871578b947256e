/*
 * vem-load-check - load a cluster file or directory and print the problems
 * (stderr, as vem does) or the normalised desired state (stdout). Used by
 * the loader's error corpus; needs no libvirt host.
 */
#include "schema/load.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct cluster *c;

	if (argc != 2) {
		fprintf(stderr, "usage: vem-load-check PATH\n");
		return 64;
	}
	c = cfg_load(argv[1], &err);
	if (!c) {
		err_print(&err, stderr, "vem");
		errbuf_release(&err);
		return 1;
	}
	cluster_write_json(c, NULL, &sb);
	fputs(sb.buf, stdout);
	strbuf_release(&sb);
	cluster_free(c);
	return 0;
}
