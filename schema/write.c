/*
 * write.c - the normalised desired state as JSON (vem validate -o json) and
 * the JSON Schema of the cluster file, generated from the key tables of
 * keys.c, the same tables the loader walks.
 */
#include "load.h"
#include "keys.h"
#include "model_priv.h"
#include "util/uri.h"

#include <stdlib.h>
#include <string.h>

/* ---- normalised desired state ---- */

/* A URI or URL, its credentials masked (validate -o json never shows them). */
static void write_uri(struct json_writer *w, const char *key, const char *uri)
{
	char *m = uri_mask(uri);
	jw_kv_string(w, key, m);
	free(m);
}

static void write_labels(struct json_writer *w, const char *key, const struct labels *l)
{
	jw_key(w, key);
	jw_object_begin(w);
	for (size_t i = 0; i < l->nr; i++)
		jw_kv_string(w, l->items[i].key, l->items[i].value);
	jw_object_end(w);
}

static void write_host(struct json_writer *w, const struct host_spec *h)
{
	jw_object_begin(w);
	jw_kv_string(w, "name", h->name);
	write_uri(w, "uri", h->uri);
	write_labels(w, "labels", &h->labels);
	jw_key(w, "capacity");
	jw_object_begin(w);
	jw_key(w, "cpus");
	h->cpus ? jw_int(w, h->cpus) : jw_null(w);      /* null: read from the host */
	jw_key(w, "memory");
	h->memory ? jw_uint(w, h->memory) : jw_null(w);
	jw_object_end(w);
	jw_kv_uint(w, "reserve", h->reserve);
	jw_kv_bool(w, "maintenance", h->maintenance);
	jw_object_end(w);
}

static void write_image(struct json_writer *w, const struct image_spec *im)
{
	jw_object_begin(w);
	jw_kv_string(w, "name", im->name);
	write_uri(w, "url", im->url);
	jw_kv_string(w, "sha256", im->sha256);
	jw_kv_string(w, "format", im->format);
	jw_object_end(w);
}

static void write_placement(struct json_writer *w, const struct placement_spec *p)
{
	jw_key(w, "placement");
	jw_object_begin(w);
	jw_key(w, "hosts");
	jw_array_begin(w);
	for (size_t j = 0; j < p->n_hosts; j++)
		jw_string(w, p->hosts[j]);
	jw_array_end(w);
	write_labels(w, "labels", &p->labels);
	jw_kv_string(w, "spread", p->spread);
	jw_kv_string(w, "together", p->together);
	jw_object_end(w);
}

static void write_vm(struct json_writer *w, const struct vm_spec *v)
{
	jw_object_begin(w);
	jw_kv_string(w, "name", v->name);
	jw_kv_string(w, "group", v->group);
	jw_key(w, "replica");
	v->replica >= 0 ? jw_int(w, v->replica) : jw_null(w);
	jw_kv_string(w, "template", v->template);
	jw_kv_string(w, "state", v->state == VM_RUNNING ? "running" : "stopped");
	jw_key(w, "config");
	vm_config_write_json(w, &v->cfg, false);
	write_placement(w, &v->placement);
	jw_kv_string(w, "spec_hash", v->spec_hash);
	jw_object_end(w);
}

static void write_balance(struct json_writer *w, const struct balance_spec *b)
{
	jw_key(w, "balance");
	jw_object_begin(w);
	jw_kv_bool(w, "enabled", b->enabled);
	jw_key(w, "metrics");
	jw_object_begin(w);
	jw_kv_double(w, "cpu", b->w_cpu);
	jw_kv_double(w, "memory", b->w_memory);
	jw_kv_double(w, "vcpu", b->w_vcpu);
	jw_object_end(w);
	jw_kv_double(w, "threshold", b->threshold);
	jw_kv_double(w, "min_gain", b->min_gain);
	jw_kv_int(w, "max_migrations", b->max_migrations);
	jw_kv_int(w, "max_parallel", b->max_parallel);
	jw_kv_int(w, "cooldown", b->cooldown);
	jw_kv_double(w, "vcpu_overcommit", b->vcpu_overcommit);
	jw_kv_uint(w, "bandwidth", b->bandwidth);
	jw_kv_int(w, "migration_timeout", b->migration_timeout);
	jw_kv_int(w, "sample_window", b->sample_window);
	jw_object_end(w);
}

void cluster_write_json(const struct cluster *c, const struct errbuf *warnings,
			struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_int(&w, "format", VEM_JSON_FORMAT);
	jw_kv_bool(&w, "valid", true);
	jw_diagnostics(&w, "errors", NULL);
	jw_diagnostics(&w, "warnings", warnings);
	jw_kv_string(&w, "cluster", c->name);
	jw_key(&w, "hosts");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_hosts; i++)
		write_host(&w, &c->hosts[i]);
	jw_array_end(&w);
	jw_key(&w, "images");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_images; i++)
		write_image(&w, &c->images[i]);
	jw_array_end(&w);
	jw_key(&w, "templates");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_templates; i++) {
		jw_object_begin(&w);
		jw_kv_string(&w, "name", c->templates[i].name);
		jw_key(&w, "config");
		vm_config_write_json(&w, &c->templates[i].cfg, false);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "vms");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_vms; i++)
		write_vm(&w, &c->vms[i]);
	jw_array_end(&w);
	write_balance(&w, &c->balance);
	jw_key(&w, "allow_destroy");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_allow_destroy; i++)
		jw_string(&w, c->allow_destroy[i]);
	jw_array_end(&w);
	jw_object_end(&w);
	strbuf_addc(out, '\n');
}

/* ---- JSON Schema ---- */

/* libvirt's units (util.h parse_size); a number needs one, except 0 */
#define SIZE_UNITS "(b|B|bytes|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)"
#define SIZE_PATTERN "^(0+|[0-9]+(\\.[0-9]+)? ?" SIZE_UNITS ")$"
#define RATE_PATTERN "^(0+|[0-9]+(\\.[0-9]+)? ?" SIZE_UNITS "(/s)?)$"
#define DURATION_PATTERN "^(0|([0-9]+(ms|s|m|h|d))+)$"
/* the loader's cfg_valid_name, cfg_valid_uri and cfg_valid_mac (load.c) */
#define NAME_PATTERN "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#define URI_PATTERN "^[A-Za-z][A-Za-z0-9+.-]*://[^\\s\\x00-\\x1f\\x7f]*$"
#define SHA256_PATTERN "^[0-9a-f]{64}$"
#define URL_PATTERN "^(https://|http://|file:///)"
#define MAC_PATTERN "^[0-9a-fA-F][02468aAcCeE](:[0-9a-fA-F]{2}){5}$"

static void schema_object(struct json_writer *w, const struct table *t);

static void schema_enum(struct json_writer *w, const char *const *e)
{
	jw_kv_string(w, "type", "string");
	jw_key(w, "enum");
	jw_array_begin(w);
	for (size_t i = 0; e[i]; i++)
		jw_string(w, e[i]);
	jw_array_end(w);
}

static void schema_range(struct json_writer *w, const struct key *k, const char *type)
{
	jw_kv_string(w, "type", type);
	if (k->min < k->max) {
		jw_kv_double(w, "minimum", k->min);
		jw_kv_double(w, "maximum", k->max);
	}
}

static void schema_units(struct json_writer *w, const char *pattern)
{
	jw_key(w, "type");
	jw_array_begin(w);
	jw_string(w, "string");
	jw_string(w, "integer");
	jw_array_end(w);
	jw_kv_string(w, "pattern", pattern);
	jw_kv_double(w, "minimum", 0);   /* the only number without a unit is 0 */
	jw_kv_double(w, "maximum", 0);
}

static void schema_items(struct json_writer *w, const char *type)
{
	jw_key(w, "items");
	jw_object_begin(w);
	jw_kv_string(w, "type", type);
	jw_object_end(w);
}

/* The default in its JSON type (sizes and durations stay text: "512MiB"). */
static void schema_default(struct json_writer *w, const struct key *k)
{
	const char *why;
	int i = 0;
	double d = 0;
	bool b = false;

	if (k->same_as) {
		char *c = xasprintf("default: the value of '%s'", k->same_as);
		jw_kv_string(w, "$comment", c);
		free(c);
		return;
	}
	if (!k->def)
		return;
	jw_key(w, "default");
	switch (k->type) {
	case K_INT: keys_parse_value(k, k->def, &i, &why); jw_int(w, i); break;
	case K_FLOAT: keys_parse_value(k, k->def, &d, &why); jw_double(w, d); break;
	case K_BOOL: keys_parse_value(k, k->def, &b, &why); jw_bool(w, b); break;
	default: jw_string(w, k->def); break;
	}
}

static void schema_key(struct json_writer *w, const struct key *k)
{
	jw_key(w, k->name);
	jw_object_begin(w);
	jw_kv_string(w, "description", k->doc);
	switch (k->type) {
	case K_STR: case K_PATH:
		jw_kv_string(w, "type", "string");
		if (k->flags & KF_NAME)
			jw_kv_string(w, "pattern", NAME_PATTERN);
		else if (k->flags & KF_URI)
			jw_kv_string(w, "pattern", URI_PATTERN);
		else if (k->flags & KF_MAC)
			jw_kv_string(w, "pattern", MAC_PATTERN);
		else if (k->flags & KF_SHA256)
			jw_kv_string(w, "pattern", SHA256_PATTERN);
		else if (k->flags & KF_URL)
			jw_kv_string(w, "pattern", URL_PATTERN);
		break;
	case K_ENUM: case K_HV: case K_STATE: case K_CHOICE: schema_enum(w, k->enums); break;
	case K_INT: schema_range(w, k, "integer"); break;
	case K_FLOAT: schema_range(w, k, "number"); break;
	case K_BOOL: jw_kv_string(w, "type", "boolean"); break;
	case K_SIZE: schema_units(w, SIZE_PATTERN); break;
	case K_RATE: schema_units(w, RATE_PATTERN); break;
	case K_DURATION: schema_units(w, DURATION_PATTERN); break;
	case K_UNAVAIL:   /* a count (a number), or a percentage (text) */
		jw_key(w, "type");
		jw_array_begin(w);
		jw_string(w, "string");
		jw_string(w, "integer");
		jw_array_end(w);
		jw_kv_string(w, "pattern", "^(100|[1-9][0-9]?)%$");
		jw_kv_double(w, "minimum", k->min);
		jw_kv_double(w, "maximum", k->max);
		break;
	case K_LABELS:
		jw_kv_string(w, "type", "object");
		jw_key(w, "additionalProperties");
		jw_object_begin(w);
		jw_kv_string(w, "type", "string");
		jw_object_end(w);
		break;
	case K_STRLIST:
		jw_kv_string(w, "type", "array");
		schema_items(w, "string");
		break;
	case K_MAP:
		schema_object(w, k->sub);
		break;
	case K_LIST:
		jw_kv_string(w, "type", "array");
		jw_key(w, "items");
		jw_object_begin(w);
		jw_kv_string(w, "description", k->sub->doc);
		schema_object(w, k->sub);
		jw_object_end(w);
		break;
	}
	schema_default(w, k);
	jw_object_end(w);
}

static void schema_object(struct json_writer *w, const struct table *t)
{
	bool any_required = false;

	jw_kv_string(w, "type", "object");
	jw_key(w, "properties");
	jw_object_begin(w);
	for (size_t i = 0; i < t->n; i++)
		schema_key(w, &t->keys[i]);
	for (size_t i = 0; t->with && i < t->with->n; i++)
		schema_key(w, &t->with->keys[i]);
	jw_object_end(w);
	jw_kv_bool(w, "additionalProperties", false);
	for (size_t i = 0; i < t->n; i++)
		any_required |= !!(t->keys[i].flags & KF_REQUIRED);
	if (!any_required)
		return;
	jw_key(w, "required");
	jw_array_begin(w);
	for (size_t i = 0; i < t->n; i++)
		if (t->keys[i].flags & KF_REQUIRED)
			jw_string(w, t->keys[i].name);
	jw_array_end(w);
}

void cfg_write_json_schema(struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_string(&w, "$schema", "https://json-schema.org/draft/2020-12/schema");
	jw_kv_string(&w, "$id", "https://vem.dev/schema/vem-cluster.schema.json");
	jw_kv_string(&w, "title", "vem cluster file");
	jw_kv_string(&w, "description", "Hosts, images, templates, VMs and load balancing of a vem "
		     "cluster (see vem-cluster.yaml(5)). Sizes take libvirt's units: K, M, G, T and "
		     "KiB, MiB, GiB, TiB are powers of 1024 (1G is 1GiB), KB, MB, GB, TB powers "
		     "of 1000, b or bytes are bytes (512MiB, 4G); durations too (90s, 10m, 1h30m); "
		     "a number without a unit is an error, except 0. A directory of such files "
		     "is one cluster.");
	schema_object(&w, &tbl_top);
	jw_object_end(&w);
	strbuf_addc(out, '\n');
}
