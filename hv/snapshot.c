/*
 * snapshot.c - the observed state as JSON (vem observe -o FILE) and back
 * (vem plan --observed FILE). JSON is read with libyaml, which parses it as
 * YAML flow style.
 */
#include "hv_priv.h"
#include "../util/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SNAPSHOT_MAX_BYTES (512u << 20)

int observed_write_json(const struct observed *o, struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
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

struct rd {
	yaml_document_t *doc;
	const char *file;
	struct errbuf *err;
};

static yaml_node_t *get(struct rd *r, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(r->doc, p->value);
	}
	return NULL;
}

static const char *str(struct rd *r, yaml_node_t *map, const char *key)
{
	yaml_node_t *n = get(r, map, key);
	if (!n || n->type != YAML_SCALAR_NODE || (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
						  !strcmp((char *)n->data.scalar.value, "null")))
		return NULL;
	return (const char *)n->data.scalar.value;
}

static int64_t num(struct rd *r, yaml_node_t *map, const char *key, int64_t def)
{
	const char *s = str(r, map, key);
	int64_t v;
	double d;
	if (!s)
		return def;
	if (!parse_int64(s, &v))
		return v;
	if (!parse_double(s, &d))
		return (int64_t)d;
	err_at(r->err, r->file, (int)get(r, map, key)->start_mark.line + 1,
	       (int)get(r, map, key)->start_mark.column + 1, "'%s': expected a number, found '%s'", key, s);
	return def;
}

static bool boolean(struct rd *r, yaml_node_t *map, const char *key, bool def)
{
	const char *s = str(r, map, key);
	return s ? !strcmp(s, "true") : def;
}

static void need(struct rd *r, yaml_node_t *map, const char *key, const char *what)
{
	if (!str(r, map, key))
		err_at(r->err, r->file, (int)map->start_mark.line + 1, (int)map->start_mark.column + 1,
		       "%s is missing '%s'", what, key);
}

static void read_host(struct rd *r, yaml_node_t *n, struct obs_host *h)
{
	yaml_node_t *cap = get(r, n, "capacity"), *labels = get(r, n, "labels"), *hv = get(r, n, "hv");

	need(r, n, "name", "host");
	h->name = xstrdup(str(r, n, "name") ? str(r, n, "name") : "?");
	h->uri = xstrdup(str(r, n, "uri"));
	h->online = boolean(r, n, "online", true);
	h->error = xstrdup(str(r, n, "error"));
	h->cpus = (int)num(r, cap, "cpus", 0);
	h->memory = (uint64_t)num(r, cap, "memory", 0);
	h->reserve = (uint64_t)num(r, n, "reserve", 0);
	h->maintenance = boolean(r, n, "maintenance", false);
	if (str(r, n, "host_uuid"))
		snprintf(h->host_uuid, sizeof(h->host_uuid), "%s", str(r, n, "host_uuid"));
	if (labels && labels->type == YAML_MAPPING_NODE) {
		size_t nl = (size_t)(labels->data.mapping.pairs.top - labels->data.mapping.pairs.start);
		h->labels.items = xcalloc(nl + 1, sizeof(*h->labels.items));
		for (yaml_node_pair_t *p = labels->data.mapping.pairs.start; p < labels->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
			if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
				continue;
			h->labels.items[h->labels.nr].key = xstrdup((char *)k->data.scalar.value);
			h->labels.items[h->labels.nr++].value = xstrdup((char *)v->data.scalar.value);
		}
	}
	if (hv && hv->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = hv->data.sequence.items.start; it < hv->data.sequence.items.top; it++) {
			yaml_node_t *v = yaml_document_get_node(r->doc, *it);
			enum hv_type t;
			if (v->type == YAML_SCALAR_NODE && !hv_type_parse((char *)v->data.scalar.value, &t))
				h->hv_caps |= 1u << t;
		}
	} else {
		h->hv_caps = (1u << HV_QEMU) | (1u << HV_KVM);
	}
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
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *hosts, *doms;
	struct rd r = { &doc, path, err };
	size_t before = err->nr;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (strbuf_read_file(&sb, path, SNAPSHOT_MAX_BYTES)) {
		strbuf_release(&sb);
		return err_set(err, "cannot read snapshot '%s': %s", path,
			       errno == EFBIG ? "file too large" : strerror(errno));
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (unsigned char *)sb.buf, sb.len);
	if (!yaml_parser_load(&parser, &doc)) {
		err_at(err, path, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
		       "invalid snapshot: %s", parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		strbuf_release(&sb);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	hosts = get(&r, root, "hosts");
	doms = get(&r, root, "domains");
	if (!root || root->type != YAML_MAPPING_NODE || !hosts || hosts->type != YAML_SEQUENCE_NODE) {
		err_at(err, path, 1, 1, "not a vem snapshot: expected an object with 'hosts' and 'domains'");
		goto out;
	}
	o->cluster = xstrdup(str(&r, root, "cluster"));
	o->taken_at = num(&r, root, "taken_at", 0);
	o->n_hosts = (size_t)(hosts->data.sequence.items.top - hosts->data.sequence.items.start);
	o->hosts = xcalloc(o->n_hosts + 1, sizeof(*o->hosts));
	for (size_t i = 0; i < o->n_hosts; i++)
		read_host(&r, yaml_document_get_node(&doc, hosts->data.sequence.items.start[i]), &o->hosts[i]);
	if (doms && doms->type == YAML_SEQUENCE_NODE) {
		long last = -1;
		size_t n = (size_t)(doms->data.sequence.items.top - doms->data.sequence.items.start);
		o->domains = xcalloc(n + 1, sizeof(*o->domains));
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *dn = yaml_document_get_node(&doc, doms->data.sequence.items.start[i]);
			struct obs_domain *d = &o->domains[o->n_domains];
			const char *hn = str(&r, dn, "host");
			long h;
			/* domains come grouped by host: try the previous one first */
			if (hn && last >= 0 && !strcmp(o->hosts[last].name, hn))
				h = last;
			else
				h = last = hn ? observed_host_index(o, hn) : -1;
			need(&r, dn, "name", "domain");
			if (h < 0) {
				err_at(err, path, (int)dn->start_mark.line + 1, (int)dn->start_mark.column + 1,
				       "domain names unknown host '%s'", hn ? hn : "");
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
				d->meta.migrated_at = num(&r, dn, "migrated_at", 0);
			}
			d->state = state_parse(str(&r, dn, "state") ? str(&r, dn, "state") : "running");
			d->vcpus = (int)num(&r, dn, "vcpus", 1);
			d->memory = (uint64_t)num(&r, dn, "memory", 0);
			d->max_memory = (uint64_t)num(&r, dn, "max_memory", (int64_t)d->memory);
			d->cpu_time = (uint64_t)num(&r, dn, "cpu_time", 0);
			{
				const char *cl = str(&r, dn, "cpu_load");
				double v;
				d->cpu_load = cl && !parse_double(cl, &v) ? v : -1;
			}
			d->persistent = boolean(&r, dn, "persistent", true);
			o->n_domains++;
		}
	}
	rc = err->nr > before ? -1 : 0;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	strbuf_release(&sb);
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
			for (size_t k = 0; k < h->labels.nr; k++) {
				free(h->labels.items[k].key);
				free(h->labels.items[k].value);
			}
			free(h->labels.items);
		} else {
			h->name = xstrdup(hs->name);
			h->uri = xstrdup(hs->uri);
			h->online = false;
			h->error = xstrdup("not in the snapshot");
		}
		if (hs->cpus)
			h->cpus = hs->cpus;
		if (hs->memory)
			h->memory = hs->memory;
		h->reserve = hs->reserve;
		h->maintenance = hs->maintenance;
		h->labels.nr = hs->labels.nr;
		h->labels.items = xcalloc(hs->labels.nr + 1, sizeof(*h->labels.items));
		for (size_t k = 0; k < hs->labels.nr; k++) {
			h->labels.items[k].key = xstrdup(hs->labels.items[k].key);
			h->labels.items[k].value = xstrdup(hs->labels.items[k].value);
		}
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
