/*
 * load.h - read cluster files into a struct cluster.
 *
 * cfg_load() takes a file or a directory (every *.yaml / *.yml in it, sorted
 * by name, merged into one cluster: each top-level list may be split across
 * files, a name defined twice is an error naming both places). Every problem
 * is reported as "file:line:col: message" in err, all of them in one run;
 * on any problem the result is NULL. Nothing here contacts a host.
 *
 * Limits (input size, file count, nesting depth, alias expansion, all per
 * load) keep hostile input from exhausting memory or time. Input files
 * (cluster files, cloud-init files) must be regular files: a FIFO, device
 * or socket is refused without blocking.
 *
 * Trust follows the source (docs/security.md). cfg_load() trusts its input
 * like the operator. cfg_load_opts() with untrusted set (a cluster from git
 * or https) also refuses:
 *  - files outside root: *.yaml files and cloud-init files must resolve
 *    (after symlinks) inside root; cloud-init paths must be relative;
 *  - kernel/initrd (paths on the libvirt host, never read by vem) outside
 *    the host boot directories (/var/lib/vem/guests, /var/lib/libvirt/boot,
 *    or $VEM_BOOT_DIRS, colon-separated), or with "." or ".." in them;
 *  - libvirt URIs that run commands or read local files (the ext
 *    transport; command=, socket=, netcat=, keyfile=, pkipath=,
 *    known_hosts=, known_hosts_verify=, sshauth=, no_verify=,
 *    tls_priority=, root=; test:/// with a file), unless the host is
 *    allowed locally: a line in the trusted-hosts file
 *    ($VEM_TRUSTED_HOSTS_FILE, default /etc/vem/trusted-hosts) or an item of
 *    $VEM_TRUSTED_HOSTS (separated by white space or commas). An item with
 *    "://" allows exactly that URI; one without allows every URI whose
 *    host part is that name;
 *  - file:// image URLs.
 */
#ifndef VEM_LOAD_H
#define VEM_LOAD_H

#include "model.h"

#define CFG_MAX_FILE_BYTES (4u << 20)     /* per file; $VEM_MAX_FILE_BYTES raises it */
#define CFG_MAX_DIR_FILES 1000             /* *.yaml per directory; $VEM_MAX_DIR_FILES */
#define CFG_MAX_CLOUD_INIT_BYTES (16u << 20)  /* per cloud-init file; $VEM_MAX_CLOUD_INIT_BYTES */
#define CFG_MAX_DEPTH 64
#define CFG_MAX_NODES 200000               /* after alias expansion */

struct load_options {
	bool untrusted;            /* from git or https: see above */
	const char *root;          /* the source's own tree (buffers: relative paths start there) */
	const char *trusted_hosts; /* NULL: $VEM_TRUSTED_HOSTS_FILE or /etc/vem/trusted-hosts */
};

struct cluster *cfg_load(const char *path, struct errbuf *err);
struct cluster *cfg_load_opts(const char *path, const struct load_options *opt,
			      struct errbuf *err);
/* Load from memory; name is used in error locations (fuzzing, tests). */
struct cluster *cfg_load_buffer(const char *name, const char *buf, size_t len,
				struct errbuf *err);
struct cluster *cfg_load_buffer_opts(const char *name, const char *buf, size_t len,
				     const struct load_options *opt, struct errbuf *err);

/* The normalised desired state as JSON (vem validate -o json). */
void cluster_write_json(const struct cluster *c, const struct errbuf *warnings,
			struct strbuf *out);
/* JSON Schema of the file format, generated from the loader's key tables. */
void cfg_write_json_schema(struct strbuf *out);

#endif
