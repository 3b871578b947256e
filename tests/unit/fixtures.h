/*
 * fixtures.h - clusters from YAML text and observed states built in code,
 * for unit tests of planning without hosts.
 */
#ifndef VEM_FIXTURES_H
#define VEM_FIXTURES_H

#include "schema/load.h"
#include "hv/hv.h"
#include "reconciler/plan.h"

#include <stdlib.h>
#include <string.h>

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
