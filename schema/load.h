/*
 * load.h - read cluster files into a struct cluster.
 *
 * cfg_load() takes a file or a directory (every *.yaml / *.yml in it, sorted
 * by name, merged into one cluster: each top-level list may be split across
 * files, a name defined twice is an error naming both places). Every problem
 * is reported as "file:line:col: message" in err, all of them in one run;
 * on any problem the result is NULL. Nothing here contacts a host.
 *
 * Limits (input size, nesting depth, alias expansion) keep hostile input
 * from exhausting memory or time.
 */
#ifndef VEM_LOAD_H
#define VEM_LOAD_H

#include "model.h"

#define CFG_MAX_FILE_BYTES (4u << 20)     /* per file */
#define CFG_MAX_DEPTH 64
#define CFG_MAX_NODES 200000               /* after alias expansion */

struct cluster *cfg_load(const char *path, struct errbuf *err);
/* Load from memory; name is used in error locations (fuzzing, tests). */
struct cluster *cfg_load_buffer(const char *name, const char *buf, size_t len,
				struct errbuf *err);

/* The normalised desired state as JSON (vem validate -o json). */
void cluster_write_json(const struct cluster *c, struct strbuf *out);
/* JSON Schema of the file format, generated from the loader's key tables. */
void cfg_write_json_schema(struct strbuf *out);

#endif
