/*
 * fixtures.h - clusters from YAML text and observed states built in code,
 * for unit tests of planning without hosts; sessions on libvirt's test
 * driver for tests of the hv layer and what uses it (no root).
 */
#ifndef VEM_FIXTURES_H
#define VEM_FIXTURES_H

#include "schema/load.h"
#include "hv/hv.h"
#include "reconciler/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* libvirt's default error handler prints every error, including the ones
 * a test provokes on purpose; tests read errors from errbufs instead. */
static inline void libvirt_errors_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static inline struct cluster *load_yaml(const char *yaml)
{
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c = cfg_load_buffer("test.yaml", yaml, strlen(yaml), &err);
	if (!c) {
		err_print(&err, stderr, "fixture");
		abort();
	}
	errbuf_release(&err);
	return c;
}

/* A cluster from two pieces of YAML: a test file's shared head (cluster,
 * hosts, templates) and one test's own lines. */
static inline struct cluster *load_yaml_parts(const char *head, const char *rest)
{
	char *y = xasprintf("%s%s", head, rest);
	struct cluster *c = load_yaml(y);
	free(y);
	return c;
}

/* The planning options most tests start from: the defaults, no balancing. */
static inline void plan_options_fixture(struct plan_options *po)
{
	plan_options_default(po);
	po->balance = false;
}

/* plan_build() of c against o that must succeed (it aborts with the error
 * otherwise, like load_yaml). */
static inline struct plan plan_fixture(const struct cluster *c, const struct observed *o,
				       const struct plan_options *po)
{
	struct errbuf err = ERRBUF_INIT;
	struct plan p;
	if (plan_build(c, o, po, &p, &err)) {
		err_print(&err, stderr, "fixture");
		abort();
	}
	errbuf_release(&err);
	return p;
}

/* Hosts of c, online, with the cluster's capacity (or 4 CPUs, 8 GiB). */
static inline void obs_init(struct observed *o, const struct cluster *c)
{
	memset(o, 0, sizeof(*o));
	o->cluster = xstrdup(c->name);
	o->n_hosts = c->n_hosts;
	o->hosts = xcalloc(c->n_hosts + 1, sizeof(*o->hosts));
	for (size_t i = 0; i < c->n_hosts; i++) {
		struct obs_host *h = &o->hosts[i];
		h->name = xstrdup(c->hosts[i].name);
		h->uri = xstrdup(c->hosts[i].uri);
		h->online = true;
		h->cpus = c->hosts[i].cpus ? c->hosts[i].cpus : 4;
		h->memory = c->hosts[i].memory ? c->hosts[i].memory : 8 * GiB;
		h->maintenance = c->hosts[i].maintenance;
		h->reserve = c->hosts[i].reserve;
		h->hv_caps = (1u << HV_QEMU);
		h->labels.nr = c->hosts[i].labels.nr;
		h->labels.items = xcalloc(h->labels.nr + 1, sizeof(*h->labels.items));
		for (size_t j = 0; j < h->labels.nr; j++) {
			h->labels.items[j].key = xstrdup(c->hosts[i].labels.items[j].key);
			h->labels.items[j].value = xstrdup(c->hosts[i].labels.items[j].value);
		}
	}
}

/* A domain on host h. vm: the VM it belongs to (owned), or NULL (foreign).
 * hash: spec hash in its metadata (NULL: the desired one). */
static inline struct obs_domain *obs_add(struct observed *o, const struct cluster *c, size_t h,
				  const char *name, bool owned, const char *hash,
				  enum dom_state st, double cpu_load)
{
	struct obs_domain *d;
	const struct vm_spec *vm = owned ? cluster_vm(c, name) : NULL;
	o->domains = xrealloc(o->domains, (o->n_domains + 1) * sizeof(*o->domains));
	d = &o->domains[o->n_domains++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->host = h;
	d->owned = owned;
	d->state = st;
	d->persistent = true;
	d->vcpus = vm ? vm->cfg.vcpus : 1;
	d->memory = vm ? vm->cfg.memory : 256 * MiB;
	d->max_memory = vm ? vm->cfg.max_memory : 256 * MiB;
	d->cpu_load = cpu_load;
	if (owned) {
		d->meta.cluster = xstrdup(c->name);
		d->meta.vm = xstrdup(name);
		d->meta.template = xstrdup(vm ? vm->template : "t");
		d->meta.spec_hash = xstrdup(hash ? hash : vm ? vm->spec_hash : "0000");
	}
	return d;
}

/* ---- sessions on the test driver ----
 * test:///default is one state that all connections of a process share;
 * test://FILE gives each connection a state of its own, read from FILE, so
 * hosts "test://FILE" stand for separate hosts. */

/* A node file with no domains, for test://FILE hosts (caller unlinks, frees). */
static inline char *test_node_file(void)
{
	char *path = xstrdup("/tmp/vem-test-node.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, "<node/>\n", 8) != 8) {
		perror(path);
		abort();
	}
	close(fd);
	return path;
}

/* "cluster: NAME" and hosts h1..hn at test://node, then extra (YAML). */
static inline char *test_hosts_yaml(const char *name, const char *node, size_t n,
				    const char *extra)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "cluster: %s\nhosts:\n", name);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "  - {name: h%zu, uri: 'test://%s'}\n", i + 1, node);
	strbuf_adds(&sb, extra ? extra : "");
	return strbuf_detach(&sb, NULL);
}

struct hv_fixture {
	struct cluster *c;
	struct hv_session *s;
};

/* The cluster of yaml and a session on it (opt NULL: the defaults, with
 * the observation cache under /tmp/vem-test-cache); aborts unless every
 * host is online. */
static inline void hv_fixture_open(struct hv_fixture *f, const char *yaml,
				   const struct hv_options *opt)
{
	struct hv_options def;

	if (!opt) {
		hv_options_default(&def);
		def.cache_dir = "/tmp/vem-test-cache";
		opt = &def;
	}
	f->c = load_yaml(yaml);
	f->s = hv_session_open(f->c, opt);
	for (size_t i = 0; i < f->c->n_hosts; i++)
		if (!hv_host_online(f->s, i)) {
			fprintf(stderr, "fixture: host '%s' did not open: %s\n",
				f->c->hosts[i].name, hv_host_error(f->s, i));
			abort();
		}
}

static inline void hv_fixture_close(struct hv_fixture *f)
{
	hv_session_free(f->s);
	cluster_free(f->c);
	memset(f, 0, sizeof(*f));
}

static inline char *plan_text(const struct plan *p, const struct observed *o)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	plan_print(p, o, f);
	fclose(f);
	return out;
}

/* plan_build with opt (NULL: the defaults); aborts on error. */
static inline struct plan fixture_plan(const struct cluster *c, const struct observed *o,
				       const struct plan_options *opt)
{
	struct errbuf err = ERRBUF_INIT;
	struct plan_options def;
	struct plan p;
	if (!opt) {
		plan_options_default(&def);
		opt = &def;
	}
	if (plan_build(c, o, opt, &p, &err)) {
		err_print(&err, stderr, "fixture_plan");
		abort();
	}
	errbuf_release(&err);
	return p;
}

#endif
