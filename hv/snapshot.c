/*
 * snapshot.c - the observed state as JSON (vem observe -o FILE) and back
 * (vem plan --observed FILE).
 */
#include "hv_priv.h"
#include "util/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAX_VOLUMES 256    /* per domain */
#define SNAP_MAX_NAMES 4096     /* pools or networks per host */
#define SNAPSHOT_MAX_BYTES (512u << 20)
/* Crafted snapshots must not make the reader allocate without bound nor
 * hand the planner numbers whose sums overflow: each value has a range
 * (the cluster file's own ranges where it has one) and the totals a cap. */
#define SNAPSHOT_MAX_NODES (1u << 23)       /* 250k domains; the BIG bench has 20k */
#define SNAP_MAX_CPUS 100000                /* per host, as in the cluster file */
#define SNAP_MAX_VCPUS 4096                 /* per domain, libvirt's own bound */
#define SNAP_MAX_MEMORY 1000000000000000000LL   /* 1e18 bytes, as in the cluster file */
#define SNAP_MAX_TIME (1LL << 53)           /* ms since the epoch */
#define SNAP_MAX_LOAD 1e6                   /* host CPUs busy */
#define SNAP_MAX_TOTAL_VCPUS (1LL << 30)    /* summed in int by the planner */
#define SNAP_MAX_TOTAL_MEMORY (1ULL << 62)  /* summed in uint64_t */

int observed_write_json(const struct observed *o, struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_int(&w, "format", VEM_JSON_FORMAT);
	jw_kv_string(&w, "cluster", o->cluster);
	jw_kv_int(&w, "taken_at", o->taken_at);
	jw_key(&w, "hosts");
	jw_array_begin(&w);
	for (size_t i = 0; i < o->n_hosts; i++) {
		const struct obs_host *h = &o->hosts[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "name", h->name);
		jw_kv_string(&w, "uri", h->uri);
		jw_kv_bool(&w, "online", h->online);
		if (h->error)
			jw_kv_string(&w, "error", h->error);
		jw_key(&w, "capacity");
		jw_object_begin(&w);
		jw_kv_int(&w, "cpus", h->cpus);
		jw_kv_uint(&w, "memory", h->memory);
		jw_object_end(&w);
		jw_kv_uint(&w, "reserve", h->reserve);
		jw_key(&w, "labels");
		jw_object_begin(&w);
		for (size_t j = 0; j < h->labels.nr; j++)
			jw_kv_string(&w, h->labels.items[j].key, h->labels.items[j].value);
		jw_object_end(&w);
		jw_kv_bool(&w, "maintenance", h->maintenance);
		jw_key(&w, "hv");
		jw_array_begin(&w);
		for (int t = HV_KVM; t <= HV_LXC; t++)
			if (h->hv_caps & (1u << t))
				jw_string(&w, hv_type_name((enum hv_type)t));
		jw_array_end(&w);
		if (h->host_uuid[0])
			jw_kv_string(&w, "host_uuid", h->host_uuid);
		if (h->resources_known) {
			/* active ones; absent = not known (filters nothing) */
			jw_key(&w, "pools");
			jw_array_begin(&w);
			for (size_t j = 0; j < h->n_pools; j++)
				jw_string(&w, h->pools[j]);
			jw_array_end(&w);
			jw_key(&w, "networks");
			jw_array_begin(&w);
			for (size_t j = 0; j < h->n_networks; j++)
				jw_string(&w, h->networks[j]);
			jw_array_end(&w);
		}
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "domains");
	jw_array_begin(&w);
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "name", d->name);
		jw_kv_string(&w, "uuid", d->uuid);
		jw_kv_string(&w, "host", o->hosts[d->host].name);
		jw_kv_bool(&w, "owned", d->owned);
		if (d->owned) {
			jw_kv_string(&w, "vm", d->meta.vm);
			jw_kv_string(&w, "template", d->meta.template);
			jw_kv_string(&w, "spec_hash", d->meta.spec_hash);
			jw_kv_string(&w, "revision", d->meta.revision);
			jw_kv_int(&w, "migrated_at", d->meta.migrated_at);
			jw_key(&w, "volumes");
			jw_array_begin(&w);
			for (size_t k = 0; k < d->meta.n_volumes; k++)
				jw_string(&w, d->meta.volumes[k]);
			jw_array_end(&w);
		}
		jw_kv_string(&w, "state", dom_state_name(d->state));
		jw_kv_int(&w, "vcpus", d->vcpus);
		jw_kv_uint(&w, "memory", d->memory);
		jw_kv_uint(&w, "max_memory", d->max_memory);
		jw_kv_uint(&w, "cpu_time", d->cpu_time);
		jw_kv_double(&w, "cpu_load", d->cpu_load);
		jw_kv_bool(&w, "persistent", d->persistent);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	return 0;
}

/* ---- reading ---- */

/* The snapshot format over util/json.h's reader: each value has a range
 * and a missing or malformed one is an error naming its place. */
struct rd {
	const struct json_doc *j;
	const char *file;
	struct errbuf *err;
};

static const struct json_node *member(struct rd *r, const struct json_node *c, size_t i,
				      const struct json_node **key)
{
	return json_member(r->j, c, i, key);
}

static const struct json_node *get(struct rd *r, const struct json_node *map, const char *key)
{
	return json_get(r->j, map, key);
}

static const char *str(struct rd *r, const struct json_node *map, const char *key)
{
	return json_get_text(r->j, map, key);
}

/* The number at key, def when absent; a value outside [min, max] (or
 * not a number) is an error and reads as def. max is at most 2^62, so
 * every accepted double converts to int64_t exactly in range. */
static int64_t num(struct rd *r, const struct json_node *map, const char *key, int64_t def,
		   int64_t min, int64_t max)
{
	const char *s = str(r, map, key);
	int64_t v = 0;
	double d;
	bool in_range;
	if (!s)
		return def;
	if (!parse_int64(s, &v)) {
		in_range = v >= min && v <= max;
	} else if (!parse_double(s, &d)) {
		in_range = d >= (double)min && d <= (double)max;
		if (in_range)
			v = (int64_t)d;
	} else {
		err_at(r->err, r->file, get(r, map, key)->line, get(r, map, key)->col,
		       "'%s': expected a number, found '%s'", key, s);
		return def;
	}
	if (!in_range) {
		err_at(r->err, r->file, get(r, map, key)->line, get(r, map, key)->col,
		       "'%s': %s is out of range (%lld..%lld)", key, s, (long long)min,
		       (long long)max);
		return def;
	}
	return v;
}

static bool boolean(struct rd *r, const struct json_node *map, const char *key, bool def)
{
	const char *s = str(r, map, key);
	return s ? !strcmp(s, "true") : def;
}

static void need(struct rd *r, const struct json_node *map, const char *key, const char *what)
{
	if (!str(r, map, key))
		err_at(r->err, r->file, map->line, map->col, "%s is missing '%s'", what, key);
}

/* The strings of array arr (at most SNAP_MAX_NAMES); *n receives the count. */
static char **read_names(struct rd *r, const struct json_node *arr, size_t *n)
{
	char **v = xcalloc(arr->n + 1, sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < arr->n && i < SNAP_MAX_NAMES; i++) {
		const struct json_node *e = member(r, arr, i, NULL);
		if (e->type == JSON_STR)
			v[(*n)++] = xstrdup(e->s);
	}
	return v;
}

/* A host's active pools and networks. A snapshot of an older vem has
 * neither: they stay unknown, and placement does not filter on them. */
static void read_resources(struct rd *r, const struct json_node *n, struct obs_host *h)
{
	const struct json_node *pools = get(r, n, "pools"), *nets = get(r, n, "networks");
	char **pv, **nv;
	size_t np, nn;

	if (!pools || pools->type != JSON_ARR || !nets || nets->type != JSON_ARR)
		return;
	pv = read_names(r, pools, &np);
	nv = read_names(r, nets, &nn);
	obs_host_set_resources(h, pv, np, nv, nn);
}

static void read_host(struct rd *r, const struct json_node *n, struct obs_host *h)
{
	const struct json_node *cap = get(r, n, "capacity"), *labels = get(r, n, "labels"), *hv = get(r, n, "hv");

	need(r, n, "name", "host");
	h->name = xstrdup(str(r, n, "name") ? str(r, n, "name") : "?");
	h->uri = xstrdup(str(r, n, "uri"));
	h->online = boolean(r, n, "online", true);
	h->error = xstrdup(str(r, n, "error"));
	h->cpus = (int)num(r, cap, "cpus", 0, 0, SNAP_MAX_CPUS);
	h->memory = (uint64_t)num(r, cap, "memory", 0, 0, SNAP_MAX_MEMORY);
	h->reserve = (uint64_t)num(r, n, "reserve", 0, 0, SNAP_MAX_MEMORY);
	h->maintenance = boolean(r, n, "maintenance", false);
	if (str(r, n, "host_uuid"))
		snprintf(h->host_uuid, sizeof(h->host_uuid), "%s", str(r, n, "host_uuid"));
	if (labels && labels->type == JSON_OBJ) {
		h->labels.items = xcalloc(labels->n + 1, sizeof(*h->labels.items));
		for (size_t i = 0; i < labels->n; i++) {
			const struct json_node *k, *v = member(r, labels, i, &k);
			if (v->type == JSON_ARR || v->type == JSON_OBJ || v->type == JSON_NULL)
				continue;
			h->labels.items[h->labels.nr].key = xstrdup(k->s);
			h->labels.items[h->labels.nr++].value = xstrdup(v->s);
		}
	}
	if (hv && hv->type == JSON_ARR) {
		for (size_t i = 0; i < hv->n; i++) {
			const struct json_node *v = member(r, hv, i, NULL);
			enum hv_type t;
			if (v->type == JSON_STR && !hv_type_parse(v->s, &t))
				h->hv_caps |= 1u << t;
		}
	} else {
		h->hv_caps = (1u << HV_QEMU) | (1u << HV_KVM);
	}
	read_resources(r, n, h);
}

/* An owned domain's volumes (what removing it would delete). */
static void read_volumes(struct rd *r, const struct json_node *arr, struct vem_meta *m)
{
	if (!arr || arr->type != JSON_ARR)
		return;
	for (size_t i = 0; i < arr->n && i < SNAP_MAX_VOLUMES; i++) {
		const struct json_node *v = member(r, arr, i, NULL);
		if (v->type != JSON_STR)
			continue;
		m->volumes = xrealloc(m->volumes, (m->n_volumes + 1) * sizeof(*m->volumes));
		m->volumes[m->n_volumes++] = xstrdup(v->s);
	}
}

/* Host names to indexes while reading domains: a generated snapshot's
 * domains need not come grouped by host, and a linear search per domain
 * costs O(domains x hosts). Open addressing; a duplicate name keeps its
 * first index, as observed_host_index does. */
struct host_names {
	long *slot;                /* host index + 1, 0 = empty */
	size_t mask;
};

static void host_names_build(struct host_names *t, const struct observed *o)
{
	size_t cap = 16;
	while (cap < 2 * o->n_hosts)
		cap *= 2;
	t->slot = xcalloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	for (size_t i = 0; i < o->n_hosts; i++) {
		const char *name = o->hosts[i].name;
		size_t k;
		if (!name)
			continue;
		for (k = str_hash(name, 0) & t->mask; t->slot[k]; k = (k + 1) & t->mask)
			if (!strcmp(o->hosts[t->slot[k] - 1].name, name))
				break;
		if (!t->slot[k])
			t->slot[k] = (long)i + 1;
	}
}

static long host_names_find(const struct host_names *t, const struct observed *o, const char *name)
{
	for (size_t k = str_hash(name, 0) & t->mask; t->slot[k]; k = (k + 1) & t->mask)
		if (!strcmp(o->hosts[t->slot[k] - 1].name, name))
			return t->slot[k] - 1;
	return -1;
}

static enum dom_state state_parse(const char *s)
{
	for (int i = DOM_RUNNING; i <= DOM_OTHER; i++)
		if (str_eq(s, dom_state_name((enum dom_state)i)))
			return (enum dom_state)i;
	return DOM_OTHER;
}

int observed_read_json(const char *path, struct observed *o, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	memset(o, 0, sizeof(*o));
	if (strbuf_read_file(&sb, path, SNAPSHOT_MAX_BYTES)) {
		strbuf_release(&sb);
		return err_set(err, "cannot read snapshot '%s': %s", path,
			       errno == EFBIG ? "larger than 512MiB" : strerror(errno));
	}
	rc = observed_read_json_buffer(path, sb.buf, sb.len, o, err);
	strbuf_release(&sb);
	return rc;
}

int observed_read_json_buffer(const char *path, const char *buf, size_t len,
			      struct observed *o, struct errbuf *err)
{
	struct json_doc j;
	const struct json_node *root, *hosts, *doms;
	struct rd r = { &j, path, err };
	size_t before = err->nr;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (len > SNAPSHOT_MAX_BYTES)
		return err_set(err, "cannot read snapshot '%s': larger than 512MiB", path);
	if (json_doc_parse(&j, buf, len, SNAPSHOT_MAX_NODES)) {
		err_at(err, path, j.problem_line, j.problem_col, "invalid snapshot: %s", j.problem);
		json_doc_release(&j);
		return -1;
	}
	root = json_doc_root(&j);
	hosts = get(&r, root, "hosts");
	doms = get(&r, root, "domains");
	if (root->type != JSON_OBJ || !hosts || hosts->type != JSON_ARR) {
		err_at(err, path, 1, 1, "not a vem snapshot: expected an object with 'hosts' and 'domains'");
		goto out;
	}
	/* no "format": a snapshot older than the key; a newer one is refused */
	(void)num(&r, root, "format", VEM_JSON_FORMAT, 1, VEM_JSON_FORMAT);
	o->cluster = xstrdup(str(&r, root, "cluster"));
	o->taken_at = num(&r, root, "taken_at", 0, 0, SNAP_MAX_TIME);
	o->n_hosts = hosts->n;
	o->hosts = xcalloc(o->n_hosts + 1, sizeof(*o->hosts));
	for (size_t i = 0; i < o->n_hosts; i++)
		read_host(&r, member(&r, hosts, i, NULL), &o->hosts[i]);
	if (doms && doms->type == JSON_ARR) {
		long last = -1;
		size_t n = doms->n;
		int64_t total_vcpus = 0;
		uint64_t total_mem = 0;
		bool over = false;
		struct host_names names;
		host_names_build(&names, o);
		o->domains = xcalloc(n + 1, sizeof(*o->domains));
		for (size_t i = 0; i < n; i++) {
			const struct json_node *dn = member(&r, doms, i, NULL);
			struct obs_domain *d = &o->domains[o->n_domains];
			const char *hn = str(&r, dn, "host");
			long h;
			/* domains come grouped by host: try the previous one first */
			if (hn && last >= 0 && !strcmp(o->hosts[last].name, hn))
				h = last;
			else
				h = last = hn ? host_names_find(&names, o, hn) : -1;
			need(&r, dn, "name", "domain");
			if (h < 0) {
				err_at(err, path, dn->line, dn->col, "domain names unknown host '%s'", hn ? hn : "");
				continue;
			}
			d->name = xstrdup(str(&r, dn, "name") ? str(&r, dn, "name") : "?");
			if (str(&r, dn, "uuid"))
				snprintf(d->uuid, sizeof(d->uuid), "%s", str(&r, dn, "uuid"));
			d->host = (size_t)h;
			d->owned = boolean(&r, dn, "owned", false);
			if (d->owned) {
				d->meta.cluster = xstrdup(o->cluster);
				d->meta.vm = xstrdup(str(&r, dn, "vm") ? str(&r, dn, "vm") : d->name);
				d->meta.template = xstrdup(str(&r, dn, "template"));
				d->meta.spec_hash = xstrdup(str(&r, dn, "spec_hash"));
				d->meta.revision = xstrdup(str(&r, dn, "revision"));
				d->meta.migrated_at = num(&r, dn, "migrated_at", 0, 0, SNAP_MAX_TIME);
				read_volumes(&r, get(&r, dn, "volumes"), &d->meta);
			}
			d->state = state_parse(str(&r, dn, "state") ? str(&r, dn, "state") : "running");
			d->vcpus = (int)num(&r, dn, "vcpus", 1, 0, SNAP_MAX_VCPUS);
			d->memory = (uint64_t)num(&r, dn, "memory", 0, 0, SNAP_MAX_MEMORY);
			d->max_memory = (uint64_t)num(&r, dn, "max_memory", (int64_t)d->memory, 0,
							  SNAP_MAX_MEMORY);
			d->cpu_time = (uint64_t)num(&r, dn, "cpu_time", 0, 0, INT64_C(1) << 62);
			{
				const char *cl = str(&r, dn, "cpu_load");
				double v;
				d->cpu_load = cl && !parse_double(cl, &v) ? v : -1;
				if (d->cpu_load != -1 && !(d->cpu_load >= 0 && d->cpu_load <= SNAP_MAX_LOAD)) {
					const struct json_node *ln = get(&r, dn, "cpu_load");
					err_at(err, path, ln->line, ln->col, "'cpu_load': %s is out of range "
					       "(-1 or 0..1000000)", cl);
					d->cpu_load = -1;
				}
			}
			d->persistent = boolean(&r, dn, "persistent", true);
			total_vcpus += d->vcpus;
			total_mem += d->max_memory > d->memory ? d->max_memory : d->memory;
			if (!over && (total_vcpus > SNAP_MAX_TOTAL_VCPUS ||
				      total_mem > SNAP_MAX_TOTAL_MEMORY)) {
				over = true;
				err_at(err, path, dn->line, dn->col, "the domains' %s add up to more "
				       "than %s", total_vcpus > SNAP_MAX_TOTAL_VCPUS ? "vcpus" : "memory",
				       total_vcpus > SNAP_MAX_TOTAL_VCPUS ? "2^30" : "2^62 bytes");
			}
			o->n_domains++;
		}
		free(names.slot);
	}
	rc = err->nr > before ? -1 : 0;
out:
	json_doc_release(&j);
	if (rc)
		observed_release(o);
	return rc;
}

void observed_apply_cluster(struct observed *o, const struct cluster *c)
{
	struct obs_host *hosts = xcalloc(c->n_hosts + 1, sizeof(*hosts));
	long *map = xcalloc(o->n_hosts + 1, sizeof(*map));
	size_t nd = 0;

	for (size_t i = 0; i < o->n_hosts; i++)
		map[i] = -1;
	for (size_t i = 0; i < c->n_hosts; i++) {
		const struct host_spec *hs = &c->hosts[i];
		/* usually in the same order: try the same position first */
		long j = i < o->n_hosts && str_eq(o->hosts[i].name, hs->name) ? (long)i
									: observed_host_index(o, hs->name);
		struct obs_host *h = &hosts[i];
		if (j >= 0) {
			*h = o->hosts[j];
			memset(&o->hosts[j], 0, sizeof(o->hosts[j]));
			map[j] = (long)i;
		} else {
			h->online = false;
			h->error = xstrdup("not in the snapshot");
		}
		obs_host_apply_spec(h, hs);
	}
	/* domains of hosts the cluster does not list are dropped */
	for (size_t i = 0; i < o->n_domains; i++) {
		struct obs_domain *d = &o->domains[i];
		if (map[d->host] < 0) {
			free(d->name);
			vem_meta_release(&d->meta);
			continue;
		}
		d->host = (size_t)map[d->host];
		o->domains[nd++] = *d;
	}
	o->n_domains = nd;
	{
		struct observed old = *o;
		old.domains = NULL;
		old.n_domains = 0;
		old.cluster = NULL;
		observed_release(&old);
	}
	o->hosts = hosts;
	o->n_hosts = c->n_hosts;
	free(map);
}
