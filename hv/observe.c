/*
 * observe.c - what every host runs, with one bulk libvirt call per host.
 *
 * virConnectGetAllDomainStats() returns every domain of a host with its
 * state, CPU time, balloon (current/maximum memory) and vCPUs in one round
 * trip. Ownership needs vem's metadata, which stats do not carry: it is
 * read once and kept in a cache file (cache.c), so a converged cluster is observed
 * with one call per host. Domains whose UUID lacks this cluster's mark
 * (foreign ones, and domains vem adopted) are read too, and that they carry
 * no metadata is cached as well. A cache entry is
 * read again when the domain's vCPUs or maximum memory differ from what was
 * cached, when it is older than META_TTL, and after every change vem makes.
 *
 * CPU load (in cores) is the domain's cpu.time delta over wall time between
 * two samples. The cache keeps each domain's last sample, so a reconcile
 * that runs every minute measures the load over that minute at no cost. When
 * the last sample is younger than the sampling window (or missing) and a
 * window is asked for, a second bulk call is made after the window; with no
 * window and no usable sample the load is unknown (-1). Samples older than
 * SAMPLE_MAX_AGE are not used.
 *
 * Drivers without bulk stats (LXC answers "not supported") are observed
 * with virConnectListAllDomains and virDomainGetInfo per domain, which give
 * the same figures; a host found so is remembered for the session. What a
 * driver's bulk stats leave out (libvirt's test driver reports the state
 * only) is taken from virDomainGetInfo too.
 */
#include "hv_priv.h"
#include "cloudinit.h"
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META_TTL (10 * 60 * 1000)
#define SAMPLE_MAX_AGE (15 * 60 * 1000)


static const char *const state_names[] = {
	[DOM_RUNNING] = "running", [DOM_STOPPED] = "stopped", [DOM_PAUSED] = "paused",
	[DOM_CRASHED] = "crashed", [DOM_OTHER] = "other",
};

const char *dom_state_name(enum dom_state s)
{
	return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "other";
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void obs_host_resources_release(struct obs_host *h)
{
	names_free(h->pools, h->n_pools);
	names_free(h->networks, h->n_networks);
	h->pools = h->networks = NULL;
	h->n_pools = h->n_networks = 0;
	h->resources_known = false;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_have(char *const *v, size_t n, const char *name)
{
	return name && n && bsearch(&name, v, n, sizeof(*v), cmp_name);
}

void obs_host_set_resources(struct obs_host *h, char **pools, size_t n_pools, char **networks,
			    size_t n_networks)
{
	obs_host_resources_release(h);
	h->pools = pools;
	h->n_pools = n_pools;
	h->networks = networks;
	h->n_networks = n_networks;
	if (n_pools)
		qsort(h->pools, n_pools, sizeof(*h->pools), cmp_name);
	if (n_networks)
		qsort(h->networks, n_networks, sizeof(*h->networks), cmp_name);
	h->resources_known = true;
}

bool obs_host_has_pool(const struct obs_host *h, const char *pool)
{
	return !h->resources_known || names_have(h->pools, h->n_pools, pool);
}

bool obs_host_has_network(const struct obs_host *h, const char *network)
{
	return !h->resources_known || names_have(h->networks, h->n_networks, network);
}

const char *obs_host_lacks(const struct obs_host *h, const struct vm_config *cfg, char *buf,
			   size_t len)
{
	if (!h->resources_known)
		return NULL;
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (!obs_host_has_pool(h, disk_pool(&cfg->disks[i]))) {
			snprintf(buf, len, "pool '%s' is not defined", disk_pool(&cfg->disks[i]));
			return buf;
		}
	if (!cfg->n_disks && cloudinit_wanted(cfg) && !obs_host_has_pool(h, "default")) {
		snprintf(buf, len, "pool 'default' (for the cloud-init seed) is not defined");
		return buf;
	}
	for (size_t i = 0; i < cfg->n_nets; i++)
		if (cfg->nets[i].network && !obs_host_has_network(h, cfg->nets[i].network)) {
			snprintf(buf, len, "network '%s' is not active", cfg->nets[i].network);
			return buf;
		}
	return NULL;
}

static void host_labels_release(struct labels *l)
{
	for (size_t j = 0; j < l->nr; j++) {
		free(l->items[j].key);
		free(l->items[j].value);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void observed_release(struct observed *o)
{
	for (size_t i = 0; i < o->n_hosts; i++) {
		struct obs_host *h = &o->hosts[i];
		free(h->name);
		free(h->uri);
		free(h->error);
		free(h->hostname);
		free(h->lease);
		host_labels_release(&h->labels);
		obs_host_resources_release(h);
	}
	free(o->hosts);
	for (size_t i = 0; i < o->n_domains; i++) {
		free(o->domains[i].name);
		vem_meta_release(&o->domains[i].meta);
	}
	free(o->domains);
	free(o->cluster);
	memset(o, 0, sizeof(*o));
}

long observed_host_index(const struct observed *o, const char *name)
{
	for (size_t i = 0; i < o->n_hosts; i++)
		if (str_eq(o->hosts[i].name, name))
			return (long)i;
	return -1;
}

static int cmp_dom_vm(const void *a, const void *b)
{
	const struct obs_domain *x = *(const struct obs_domain *const *)a;
	const struct obs_domain *y = *(const struct obs_domain *const *)b;
	int c = strcmp(x->meta.vm, y->meta.vm);
	return c ? c : x < y ? -1 : x > y;
}

void obs_vm_index_init(struct obs_vm_index *ix, const struct observed *o)
{
	ix->d = xcalloc(o->n_domains + 1, sizeof(*ix->d));
	ix->n = 0;
	for (size_t i = 0; i < o->n_domains; i++)
		if (o->domains[i].owned && o->domains[i].meta.vm)
			ix->d[ix->n++] = &o->domains[i];
	qsort(ix->d, ix->n, sizeof(*ix->d), cmp_dom_vm);
}

void obs_vm_index_release(struct obs_vm_index *ix)
{
	free(ix->d);
	memset(ix, 0, sizeof(*ix));
}

size_t obs_vm_index_find(const struct obs_vm_index *ix, const char *vm,
			 const struct obs_domain **out, size_t max)
{
	size_t lo = 0, hi = ix->n, n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->d[mid]->meta.vm, vm) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->n && !strcmp(ix->d[lo]->meta.vm, vm); lo++, n++)
		if (n < max)
			out[n] = ix->d[lo];
	return n;
}

/* ---- observation ---- */

struct host_obs {
	struct hv_session *s;
	size_t host;
	struct obs_domain *d;
	size_t n, alloc;
	int64_t sampled_at;        /* when the bulk call returned */
	bool second;               /* this pass is the second CPU sample */
	bool need_second;
	bool light;                /* state only, the rest from the last full pass */
	bool need_full;            /* light, but a domain was never fully observed */
	char *error;
	bool res_known;            /* pools and networks were listed */
	char **pools, **networks;  /* active ones, sorted */
	size_t n_pools, n_networks;
};

static enum dom_state map_state(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING: return DOM_RUNNING;
	case VIR_DOMAIN_SHUTOFF: return DOM_STOPPED;
	case VIR_DOMAIN_PAUSED: return DOM_PAUSED;
	case VIR_DOMAIN_CRASHED: return DOM_CRASHED;
	default: return DOM_OTHER;
	}
}

/* Ownership of one domain: from the cache or from libvirt. */
static void read_meta(struct host_obs *ho, virDomainPtr dom, struct obs_domain *d, bool marked)
{
	struct hv_session *s = ho->s;
	const char *host_uuid = s->hosts[ho->host].host_uuid;
	struct meta_cache_entry *e;
	char *xml;
	struct vem_meta m;
	int64_t now = time_now_ms();

	pthread_mutex_lock(&s->cache_lock);
	e = meta_cache_entry(s->cache, host_uuid, d->uuid, false);
	/* an unmarked domain (adopted, or foreign) is looked at once per
	 * META_TTL: "no metadata" is cached for it too */
	if (e && (e->has_meta || !marked) && e->fetched_at && e->vcpus == d->vcpus &&
	    e->max_memory == d->max_memory && now - e->fetched_at < META_TTL && now >= e->fetched_at) {
		e->used = true;
		if (e->has_meta)
			vem_meta_copy(&d->meta, &e->meta);
		pthread_mutex_unlock(&s->cache_lock);
		d->owned = e->has_meta && str_eq(d->meta.cluster, s->c->name);
		d->foreign_meta = d->meta.cluster && !d->owned;
		if (!d->owned)
			vem_meta_release(&d->meta);
		return;
	}
	pthread_mutex_unlock(&s->cache_lock);

	xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
	if (xml && !hv_meta_parse(xml, &m)) {
		pthread_mutex_lock(&s->cache_lock);
		meta_cache_put(s->cache, host_uuid, d->uuid, &m, d->vcpus, d->max_memory);
		pthread_mutex_unlock(&s->cache_lock);
		if (str_eq(m.cluster, s->c->name)) {
			d->owned = true;
			d->meta = m;
		} else {
			d->foreign_meta = true;
			vem_meta_release(&m);
		}
	} else if (!marked) {
		pthread_mutex_lock(&s->cache_lock);
		meta_cache_put(s->cache, host_uuid, d->uuid, NULL, d->vcpus, d->max_memory);
		pthread_mutex_unlock(&s->cache_lock);
	}
	free(xml);
}

static void take_sample(struct host_obs *ho, struct obs_domain *d)
{
	struct hv_session *s = ho->s;
	struct meta_cache_entry *e;
	int64_t window = s->opt.sample_window;
	int64_t min_age = ho->second ? 100 : window > 0 ? window : 1000;
	int64_t age;

	pthread_mutex_lock(&s->cache_lock);
	e = meta_cache_entry(s->cache, s->hosts[ho->host].host_uuid, d->uuid, true);
	e->used = true;
	age = ho->sampled_at - e->sampled_at;
	d->cpu_load = -1;
	if (d->state != DOM_RUNNING) {
		d->cpu_load = 0;
		e->cpu_time = d->cpu_time;
		e->sampled_at = ho->sampled_at;
	} else if (e->sampled_at && age >= min_age && age <= SAMPLE_MAX_AGE && d->cpu_time >= e->cpu_time) {
		d->cpu_load = (double)(d->cpu_time - e->cpu_time) / 1e6 / (double)age;
		e->cpu_load = d->cpu_load;
		e->load_at = ho->sampled_at;
		e->cpu_time = d->cpu_time;
		e->sampled_at = ho->sampled_at;
	} else if (e->sampled_at && age >= 0 && age < min_age && d->cpu_time >= e->cpu_time &&
		   e->load_at && ho->sampled_at - e->load_at <= SAMPLE_MAX_AGE) {
		/* sampled moments ago: the load measured then still stands, and the
		 * older sample is kept for the next measurement */
		d->cpu_load = e->cpu_load;
	} else {
		if (window > 0 && !ho->second)
			ho->need_second = true;
		e->cpu_time = d->cpu_time;
		e->sampled_at = ho->sampled_at;
	}
	if (!e->fetched_at) {
		e->vcpus = d->vcpus;
		e->max_memory = d->max_memory;
	}
	pthread_mutex_unlock(&s->cache_lock);
}

/* A new observed domain of dom (NULL for a lease or nameless domain). */
static struct obs_domain *add_domain(struct host_obs *ho, virDomainPtr dom)
{
	const char *name = virDomainGetName(dom);
	struct obs_domain *d;

	if (!name || str_starts_with(name, "vem-lease-") || str_starts_with(name, "vem-hoststate-"))
		return NULL;
	ALLOC_GROW(ho->d, ho->n + 1, ho->alloc);
	d = &ho->d[ho->n++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->host = ho->host;
	d->persistent = true;
	virDomainGetUUIDString(dom, d->uuid);
	return d;
}

/*
 * What the bulk stats lack, from per-domain calls: all of it where the
 * driver has no bulk stats (LXC: "not supported"), memory and vCPUs where
 * it reports the state only (libvirt's test driver). virDomainGetInfo gives
 * the same figures: state, cpu time, current and maximum memory (KiB), vCPUs.
 */
static void fill_from_info(virDomainPtr dom, struct obs_domain *d, bool state, bool cpu)
{
	virDomainInfo info;

	if (virDomainGetInfo(dom, &info) < 0)
		return;
	if (state)
		d->state = map_state(info.state);
	if (cpu)
		d->cpu_time = info.cpuTime;
	if (!d->memory)
		d->memory = (uint64_t)info.memory * 1024;
	if (!d->max_memory)
		d->max_memory = (uint64_t)info.maxMem * 1024;
	if (!d->vcpus)
		d->vcpus = info.nrVirtCpu;
}

static void finish_domain(struct host_obs *ho, virDomainPtr dom, struct obs_domain *d)
{
	if (!d->max_memory)
		d->max_memory = d->memory;
	/* unmarked domains too: an adopted one carries metadata without the mark */
	if (!ho->second)
		read_meta(ho, dom, d, hv_uuid_marked(ho->s->c->name, d->uuid));
	take_sample(ho, d);
}

/* Bytes on disk of the block devices of r that are volumes vem made. */
static uint64_t volume_bytes(const virDomainStatsRecordPtr r, const struct vem_meta *m)
{
	unsigned int n = 0;
	uint64_t sum = 0;

	if (!m->n_volumes || virTypedParamsGetUInt(r->params, r->nparams, "block.count", &n) != 1)
		return 0;
	for (unsigned int i = 0; i < n && i < 1024; i++) {
		char key[48];
		const char *path = NULL;
		unsigned long long v;
		snprintf(key, sizeof(key), "block.%u.path", i);
		if (virTypedParamsGetString(r->params, r->nparams, key, &path) != 1 || !path)
			continue;
		snprintf(key, sizeof(key), "block.%u.physical", i);
		for (size_t k = 0; k < m->n_volumes; k++)
			if (!strcmp(m->volumes[k], path) &&
			    virTypedParamsGetULLong(r->params, r->nparams, key, &v) == 1) {
				sum += v;
				break;
			}
	}
	return sum;
}

/* Per-domain observation, for drivers without virConnectGetAllDomainStats. */
static void observe_each(struct host_obs *ho, virConnectPtr conn)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(conn, &doms, 0);

	ho->sampled_at = time_now_ms();
	if (n < 0) {
		ho->error = xasprintf("cannot list the domains of host '%s': %s",
				      ho->s->c->hosts[ho->host].name, hv_last_error());
		return;
	}
	for (int i = 0; i < n; i++) {
		struct obs_domain *d = add_domain(ho, doms[i]);
		if (d) {
			fill_from_info(doms[i], d, true, true);
			finish_domain(ho, doms[i], d);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

/* Remember d's figures for light observations (after a full one). */
static void remember_full(struct host_obs *ho, const struct obs_domain *d)
{
	struct hv_session *s = ho->s;
	struct meta_cache_entry *e;

	pthread_mutex_lock(&s->cache_lock);
	e = meta_cache_entry(s->cache, s->hosts[ho->host].host_uuid, d->uuid, true);
	e->used = true;
	e->obs_at = ho->sampled_at;
	e->obs_vcpus = d->vcpus;
	e->obs_memory = d->memory;
	e->obs_max_memory = d->max_memory;
	e->obs_disk_bytes = d->disk_bytes;
	pthread_mutex_unlock(&s->cache_lock);
}

/*
 * Light: one bulk call for the state, and the CPU time when balancing
 * samples the load (neither asks QEMU's monitor, unlike balloon, vCPU and
 * block statistics); vCPUs, memory, disk bytes (and the load, when not
 * sampled) come from this session's last full observation. A domain it
 * never saw fully makes the host need a full pass.
 */
static void observe_light(struct host_obs *ho, virConnectPtr conn)
{
	struct hv_session *s = ho->s;
	virDomainStatsRecordPtr *recs = NULL;
	/* CPU time (no monitor query) when balancing samples the load */
	bool cpu = s->opt.sample_window > 0;
	int n = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_STATE |
					    (cpu ? VIR_DOMAIN_STATS_CPU_TOTAL : 0), &recs, 0);

	ho->sampled_at = time_now_ms();
	if (n < 0) {
		ho->need_full = true;   /* the full pass reports the error, or falls back */
		return;
	}
	for (int i = 0; i < n && !ho->need_full; i++) {
		virDomainStatsRecordPtr r = recs[i];
		struct obs_domain *d = add_domain(ho, r->dom);
		struct meta_cache_entry *e;
		unsigned long long v;
		int st = 0;

		if (!d)
			continue;
		virTypedParamsGetInt(r->params, r->nparams, "state.state", &st);
		d->state = map_state(st);
		if (cpu && virTypedParamsGetULLong(r->params, r->nparams, "cpu.time", &v) == 1)
			d->cpu_time = v;
		pthread_mutex_lock(&s->cache_lock);
		e = meta_cache_entry(s->cache, s->hosts[ho->host].host_uuid, d->uuid, false);
		if (!e || !e->obs_at) {
			ho->need_full = true;
		} else {
			e->used = true;
			d->vcpus = e->obs_vcpus;
			d->memory = e->obs_memory;
			d->max_memory = e->obs_max_memory;
			d->disk_bytes = e->obs_disk_bytes;
			d->cpu_load = d->state != DOM_RUNNING ? 0 :
				      e->load_at && ho->sampled_at - e->load_at <= SAMPLE_MAX_AGE ?
				      e->cpu_load : -1;
		}
		pthread_mutex_unlock(&s->cache_lock);
		if (ho->need_full)
			break;
		if (!ho->second)
			read_meta(ho, r->dom, d, hv_uuid_marked(s->c->name, d->uuid));
		if (cpu)
			take_sample(ho, d);   /* the load, as a full pass measures it */
	}
	virDomainStatsRecordListFree(recs);
	if (ho->need_full) {
		for (size_t k = 0; k < ho->n; k++) {
			free(ho->d[k].name);
			vem_meta_release(&ho->d[k].meta);
		}
		ho->n = 0;
	}
}

/*
 * The names of the host's defined storage pools and active networks: one list call
 * each (names are read from the returned objects without a round trip).
 * A failure of either leaves them unknown, which filters nothing.
 */
static void observe_resources(struct host_obs *ho, virConnectPtr conn)
{
	virStoragePoolPtr *pools = NULL;
	virNetworkPtr *nets = NULL;
	int np = virConnectListAllStoragePools(conn, &pools, 0);
	int nn = np < 0 ? -1 : virConnectListAllNetworks(conn, &nets, VIR_CONNECT_LIST_NETWORKS_ACTIVE);

	if (np >= 0 && nn >= 0) {
		ho->pools = xcalloc((size_t)np + 1, sizeof(*ho->pools));
		for (int i = 0; i < np; i++) {
			const char *n = virStoragePoolGetName(pools[i]);
			if (n)
				ho->pools[ho->n_pools++] = xstrdup(n);
		}
		ho->networks = xcalloc((size_t)nn + 1, sizeof(*ho->networks));
		for (int i = 0; i < nn; i++) {
			const char *n = virNetworkGetName(nets[i]);
			if (n)
				ho->networks[ho->n_networks++] = xstrdup(n);
		}
		ho->res_known = true;
	}
	for (int i = 0; i < np; i++)
		virStoragePoolFree(pools[i]);
	for (int i = 0; i < nn; i++)
		virNetworkFree(nets[i]);
	free(pools);
	free(nets);
}

static void *observe_host(void *arg)
{
	struct host_obs *ho = arg;
	struct hv_session *s = ho->s;
	virConnectPtr conn = s->hosts[ho->host].conn;
	virDomainStatsRecordPtr *recs = NULL;
	int n;
	unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
			 VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK;

	if (!ho->second)
		observe_resources(ho, conn);
	if (ho->light && !s->hosts[ho->host].no_bulk_stats) {
		observe_light(ho, conn);
		if (!ho->need_full)
			return NULL;
		ho->light = false;
	}
	if (s->hosts[ho->host].no_bulk_stats) {
		observe_each(ho, conn);
		for (size_t k = 0; k < ho->n; k++)
			remember_full(ho, &ho->d[k]);
		return NULL;
	}
	n = virConnectGetAllDomainStats(conn, stats, &recs, 0);
	ho->sampled_at = time_now_ms();
	if (n < 0) {
		virErrorPtr e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_SUPPORT) {
			s->hosts[ho->host].no_bulk_stats = true;
			observe_each(ho, conn);
			return NULL;
		}
		ho->error = xasprintf("cannot list the domains of host '%s': %s",
				      s->c->hosts[ho->host].name, hv_last_error());
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		virDomainStatsRecordPtr r = recs[i];
		struct obs_domain *d = add_domain(ho, r->dom);
		unsigned long long v;
		int st = 0;
		unsigned int u;
		bool have_cpu = false;

		if (!d)
			continue;
		virTypedParamsGetInt(r->params, r->nparams, "state.state", &st);
		d->state = map_state(st);
		if (virTypedParamsGetULLong(r->params, r->nparams, "cpu.time", &v) == 1) {
			d->cpu_time = v;
			have_cpu = true;
		}
		if (virTypedParamsGetULLong(r->params, r->nparams, "balloon.current", &v) == 1)
			d->memory = v * 1024;
		if (virTypedParamsGetULLong(r->params, r->nparams, "balloon.maximum", &v) == 1)
			d->max_memory = v * 1024;
		if (virTypedParamsGetUInt(r->params, r->nparams, "vcpu.current", &u) == 1)
			d->vcpus = (int)u;
		if (!d->memory || !d->vcpus || !have_cpu)
			fill_from_info(r->dom, d, false, !have_cpu);
		finish_domain(ho, r->dom, d);
		if (d->owned)
			d->disk_bytes = volume_bytes(r, &d->meta);
		if (!ho->second)
			remember_full(ho, d);
	}
	virDomainStatsRecordListFree(recs);
	return NULL;
}

static void run_hosts(struct host_obs *ho, size_t n)
{
	pthread_t *th = xcalloc(n + 1, sizeof(*th));
	bool *started = xcalloc(n + 1, sizeof(*started));

	for (size_t i = 0; i < n; i++)
		if (ho[i].s->hosts[ho[i].host].online)
			started[i] = !pthread_create(&th[i], NULL, observe_host, &ho[i]);
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

void obs_host_apply_spec(struct obs_host *h, const struct host_spec *hs)
{
	char *uri = hv_uri_display(h->uri ? h->uri : hs->uri);

	if (!h->name)
		h->name = xstrdup(hs->name);
	free(h->uri);
	h->uri = uri;
	if (hs->cpus)
		h->cpus = hs->cpus;
	if (hs->memory)
		h->memory = hs->memory;
	h->reserve = hs->reserve;
	h->maintenance = hs->maintenance;
	host_labels_release(&h->labels);
	h->labels.nr = hs->labels.nr;
	h->labels.items = xcalloc(hs->labels.nr + 1, sizeof(*h->labels.items));
	for (size_t i = 0; i < hs->labels.nr; i++) {
		h->labels.items[i].key = xstrdup(hs->labels.items[i].key);
		h->labels.items[i].value = xstrdup(hs->labels.items[i].value);
	}
}

/* What the session knows of host h, then the cluster file's settings. */
static void fill_host(struct obs_host *oh, const struct hv_host *h, const struct host_spec *spec)
{
	oh->online = h->online;
	oh->error = xstrdup(h->error);
	oh->cpus = h->cpus;
	oh->memory = h->memory;
	memcpy(oh->host_uuid, h->host_uuid, sizeof(oh->host_uuid));
	oh->hostname = xstrdup(h->hostname);
	oh->hv_caps = h->caps;
	obs_host_apply_spec(oh, spec);
}

static int observe_all(struct hv_session *s, struct observed *out, bool light,
		       struct errbuf *err);

int hv_observe(struct hv_session *s, struct observed *out, struct errbuf *err)
{
	return observe_all(s, out, false, err);
}

int hv_observe_light(struct hv_session *s, struct observed *out, struct errbuf *err)
{
	return observe_all(s, out, true, err);
}

static int observe_all(struct hv_session *s, struct observed *out, bool light,
		       struct errbuf *err)
{
	struct host_obs *ho = xcalloc(s->n + 1, sizeof(*ho));
	bool second = false;
	int64_t first_at = time_now_ms();

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->cache_lock);
	if (!s->cache)
		s->cache = meta_cache_load(s->c->name, s->opt.cache_dir);
	pthread_mutex_unlock(&s->cache_lock);

	for (size_t i = 0; i < s->n; i++) {
		ho[i].s = s;
		ho[i].host = i;
		ho[i].light = light;
	}
	run_hosts(ho, s->n);
	for (size_t i = 0; i < s->n; i++)
		second |= ho[i].need_second;
	if (second) {
		/* a second sample of every host, one window after the first */
		int64_t wait = first_at + s->opt.sample_window - time_now_ms();
		struct host_obs *again = xcalloc(s->n + 1, sizeof(*again));
		if (wait > 0)
			usleep((useconds_t)wait * 1000);
		for (size_t i = 0; i < s->n; i++) {
			again[i].s = s;
			again[i].host = i;
			again[i].second = true;
			again[i].light = light && !ho[i].need_full;
		}
		run_hosts(again, s->n);
		/* the loads of the second pass, by domain UUID */
		for (size_t i = 0; i < s->n; i++)
			for (size_t j = 0; j < ho[i].n; j++)
				for (size_t k = 0; k < again[i].n; k++)
					if (!strcmp(ho[i].d[j].uuid, again[i].d[k].uuid)) {
						if (ho[i].d[j].cpu_load < 0)
							ho[i].d[j].cpu_load = again[i].d[k].cpu_load;
						break;
					}
		for (size_t i = 0; i < s->n; i++) {
			for (size_t k = 0; k < again[i].n; k++) {
				free(again[i].d[k].name);
				vem_meta_release(&again[i].d[k].meta);
			}
			free(again[i].d);
			free(again[i].error);
		}
		free(again);
	}

	out->cluster = xstrdup(s->c->name);
	out->taken_at = time_now_ms();
	out->n_hosts = s->n;
	out->hosts = xcalloc(s->n + 1, sizeof(*out->hosts));
	for (size_t i = 0; i < s->n; i++) {
		fill_host(&out->hosts[i], &s->hosts[i], &s->c->hosts[i]);
		if (ho[i].res_known)
			obs_host_set_resources(&out->hosts[i], ho[i].pools, ho[i].n_pools,
					       ho[i].networks, ho[i].n_networks);
		if (ho[i].error) {
			/* the host went away after we connected */
			out->hosts[i].online = false;
			free(out->hosts[i].error);
			out->hosts[i].error = ho[i].error;
			ho[i].error = NULL;
		}
		out->n_domains += ho[i].n;
	}
	out->domains = xcalloc(out->n_domains + 1, sizeof(*out->domains));
	out->n_domains = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (ho[i].n)
			memcpy(out->domains + out->n_domains, ho[i].d, ho[i].n * sizeof(*ho[i].d));
		out->n_domains += ho[i].n;
		free(ho[i].d);
	}
	free(ho);
	pthread_mutex_lock(&s->cache_lock);
	meta_cache_save(s->cache);
	pthread_mutex_unlock(&s->cache_lock);
	(void)err;
	return 0;
}
