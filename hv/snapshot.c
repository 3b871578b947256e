/*
 * snapshot.c - the observed state as JSON (vem observe -o FILE) and back
 * (vem plan --observed FILE).
 */
#include "hv_priv.h"
#include "../util/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * A small JSON reader: snapshots of thousands of hosts are tens of
 * megabytes, and a general YAML document model costs several times the
 * time and memory of this one. The file is parsed in place: strings are
 * unescaped and terminated inside the buffer, and every value becomes one
 * node; the members of an array or object are contiguous in kids[].
 */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	int line, col;
	const char *s;            /* scalars: the text, NUL-terminated */
	uint32_t first, n;        /* arrays: kids[first..first+n); objects: key, value pairs */
};

#define JSON_MAX_DEPTH 64

struct jparser {
	char *p, *end;
	char *held_at;            /* a delimiter overwritten by a scalar's NUL ... */
	char held;                /* ... and its value */
	int line;
	const char *bol;          /* start of the current line */
	const char *problem;
	int prob_line, prob_col;
	struct jnode *nodes;
	size_t n_nodes, a_nodes;
	uint32_t *kids;
	size_t n_kids, a_kids;
	uint32_t *stack;          /* members of the containers being parsed */
	size_t n_stack, a_stack;
};

static int jcur(const struct jparser *j)
{
	if (j->p == j->held_at)
		return (unsigned char)j->held;
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static void jskip_ws(struct jparser *j)
{
	for (;;) {
		int c = jcur(j);
		if (c == '\n') {
			j->line++;
			j->bol = j->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		j->p++;
	}
}

static int jfail(struct jparser *j, const char *problem)
{
	if (!j->problem) {
		j->problem = problem;
		j->prob_line = j->line;
		j->prob_col = (int)(j->p - j->bol) + 1;
	}
	return -1;
}

static uint32_t jnew(struct jparser *j, enum jtype t)
{
	struct jnode *n;
	ALLOC_GROW(j->nodes, j->n_nodes + 1, j->a_nodes);
	n = &j->nodes[j->n_nodes];
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->line = j->line;
	n->col = (int)(j->p - j->bol) + 1;
	return (uint32_t)j->n_nodes++;
}

static void jput_utf8(char **out, unsigned cp)
{
	char *o = *out;
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	*out = o;
}

static int jhex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* A string at j->p (the opening quote): unescaped in place. */
static int jstring(struct jparser *j, const char **out)
{
	char *o, *start;
	j->p++;
	o = start = j->p;
	for (;;) {
		int c = jcur(j);
		if (c < 0 || c == '\n')
			return jfail(j, "unterminated string");
		if ((unsigned)c < 0x20)
			return jfail(j, "control character in a string");
		if (c == '"')
			break;
		if (c != '\\') {
			*o++ = (char)c;
			j->p++;
			continue;
		}
		j->p++;
		c = jcur(j);
		switch (c) {
		case '"': case '\\': case '/': *o++ = (char)c; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (j->end - j->p < 5 || jhex4(j->p + 1, &cp))
				return jfail(j, "bad \\u escape");
			j->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 7 && j->p[1] == '\\' &&
			    j->p[2] == 'u' && !jhex4(j->p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				j->p += 6;
			}
			if (!cp)
				return jfail(j, "NUL in a string");
			jput_utf8(&o, cp);
			break;
		}
		default:
			return jfail(j, "bad escape in a string");
		}
		j->p++;
	}
	*o = '\0';            /* o <= the closing quote */
	j->p++;
	*out = start;
	return 0;
}

static int jvalue(struct jparser *j, int depth, uint32_t *out);

/* Members of an array or object, then the node pointing at them. */
static int jcontainer(struct jparser *j, int depth, bool object, uint32_t *out)
{
	uint32_t self = jnew(j, object ? J_OBJ : J_ARR), v;
	size_t base = j->n_stack, n;
	int close = object ? '}' : ']';

	if (depth > JSON_MAX_DEPTH)
		return jfail(j, "nested too deeply");
	j->p++;
	jskip_ws(j);
	if (jcur(j) == close) {
		j->p++;
		*out = self;
		return 0;
	}
	for (;;) {
		jskip_ws(j);
		if (object) {
			const char *key;
			if (jcur(j) != '"')
				return jfail(j, "expected a string as the key");
			v = jnew(j, J_STR);
			if (jstring(j, &key))
				return -1;
			j->nodes[v].s = key;
			ALLOC_GROW(j->stack, j->n_stack + 1, j->a_stack);
			j->stack[j->n_stack++] = v;
			jskip_ws(j);
			if (jcur(j) != ':')
				return jfail(j, "expected ':'");
			j->p++;
		}
		if (jvalue(j, depth + 1, &v))
			return -1;
		ALLOC_GROW(j->stack, j->n_stack + 1, j->a_stack);
		j->stack[j->n_stack++] = v;
		jskip_ws(j);
		if (jcur(j) == ',') {
			j->p++;
			continue;
		}
		if (jcur(j) == close) {
			j->p++;
			break;
		}
		return jfail(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	n = j->n_stack - base;
	ALLOC_GROW(j->kids, j->n_kids + n, j->a_kids);
	memcpy(j->kids + j->n_kids, j->stack + base, n * sizeof(*j->kids));
	j->nodes[self].first = (uint32_t)j->n_kids;
	j->nodes[self].n = (uint32_t)(object ? n / 2 : n);
	j->n_kids += n;
	j->n_stack = base;
	*out = self;
	return 0;
}

static int jvalue(struct jparser *j, int depth, uint32_t *out)
{
	int c;
	jskip_ws(j);
	c = jcur(j);
	if (c == '{' || c == '[')
		return jcontainer(j, depth, c == '{', out);
	if (c == '"') {
		const char *s;
		*out = jnew(j, J_STR);
		if (jstring(j, &s))
			return -1;
		j->nodes[*out].s = s;
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
		/* a number or a literal: up to the next delimiter, which is kept
		 * aside while its place holds the scalar's NUL */
		char *start = j->p;
		enum jtype t = c == 't' || c == 'f' ? J_BOOL : c == 'n' ? J_NULL : J_NUM;
		*out = jnew(j, t);
		while ((c = jcur(j)) >= 0 && !strchr(",:]} \t\r\n", c))
			j->p++;
		if (j->p >= j->end)
			return jfail(j, "unexpected end of the file");
		j->held_at = j->p;
		j->held = *j->p;
		*j->p = '\0';
		j->nodes[*out].s = start;
		if ((t == J_BOOL && strcmp(start, "true") && strcmp(start, "false")) ||
		    (t == J_NULL && strcmp(start, "null"))) {
			j->p = start;
			return jfail(j, "unknown literal");
		}
		return 0;
	}
	return jfail(j, c < 0 ? "unexpected end of the file" : "unexpected character");
}

/* Parses buf[0..len) (buf[len] must exist; it is overwritten). */
static int json_parse(struct jparser *j, char *buf, size_t len)
{
	uint32_t root;
	memset(j, 0, sizeof(*j));
	j->p = buf;
	j->bol = buf;
	j->end = buf + len;
	j->line = 1;
	if (jvalue(j, 0, &root))
		return -1;
	jskip_ws(j);
	if (jcur(j) >= 0)
		return jfail(j, "text after the JSON value");
	return 0;
}

static void json_release(struct jparser *j)
{
	free(j->nodes);
	free(j->kids);
	free(j->stack);
}

struct rd {
	struct jparser *j;
	const char *file;
	struct errbuf *err;
};

static const struct jnode *node(struct rd *r, uint32_t i)
{
	return &r->j->nodes[i];
}

/* The i-th member of an array, or the value of the i-th pair of an object. */
static const struct jnode *member(struct rd *r, const struct jnode *c, size_t i, const struct jnode **key)
{
	if (c->type == J_OBJ) {
		if (key)
			*key = node(r, r->j->kids[c->first + 2 * i]);
		return node(r, r->j->kids[c->first + 2 * i + 1]);
	}
	return node(r, r->j->kids[c->first + i]);
}

static const struct jnode *get(struct rd *r, const struct jnode *map, const char *key)
{
	if (!map || map->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct jnode *k, *v = member(r, map, i, &k);
		if (!strcmp(k->s, key))
			return v;
	}
	return NULL;
}

static const char *str(struct rd *r, const struct jnode *map, const char *key)
{
	const struct jnode *n = get(r, map, key);
	if (!n || n->type == J_NULL || n->type == J_ARR || n->type == J_OBJ)
		return NULL;
	return n->s;
}

static int64_t num(struct rd *r, const struct jnode *map, const char *key, int64_t def)
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
	err_at(r->err, r->file, get(r, map, key)->line, get(r, map, key)->col,
	       "'%s': expected a number, found '%s'", key, s);
	return def;
}

static bool boolean(struct rd *r, const struct jnode *map, const char *key, bool def)
{
	const char *s = str(r, map, key);
	return s ? !strcmp(s, "true") : def;
}

static void need(struct rd *r, const struct jnode *map, const char *key, const char *what)
{
	if (!str(r, map, key))
		err_at(r->err, r->file, map->line, map->col, "%s is missing '%s'", what, key);
}

static void read_host(struct rd *r, const struct jnode *n, struct obs_host *h)
{
	const struct jnode *cap = get(r, n, "capacity"), *labels = get(r, n, "labels"), *hv = get(r, n, "hv");

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
	if (labels && labels->type == J_OBJ) {
		h->labels.items = xcalloc(labels->n + 1, sizeof(*h->labels.items));
		for (size_t i = 0; i < labels->n; i++) {
			const struct jnode *k, *v = member(r, labels, i, &k);
			if (v->type == J_ARR || v->type == J_OBJ || v->type == J_NULL)
				continue;
			h->labels.items[h->labels.nr].key = xstrdup(k->s);
			h->labels.items[h->labels.nr++].value = xstrdup(v->s);
		}
	}
	if (hv && hv->type == J_ARR) {
		for (size_t i = 0; i < hv->n; i++) {
			const struct jnode *v = member(r, hv, i, NULL);
			enum hv_type t;
			if (v->type == J_STR && !hv_type_parse(v->s, &t))
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
	struct jparser j;
	const struct jnode *root, *hosts, *doms;
	struct rd r = { &j, path, err };
	size_t before = err->nr;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (strbuf_read_file(&sb, path, SNAPSHOT_MAX_BYTES)) {
		strbuf_release(&sb);
		return err_set(err, "cannot read snapshot '%s': %s", path,
			       errno == EFBIG ? "file too large" : strerror(errno));
	}
	strbuf_grow(&sb, 1);
	if (json_parse(&j, sb.buf, sb.len)) {
		err_at(err, path, j.prob_line, j.prob_col, "invalid snapshot: %s", j.problem);
		json_release(&j);
		strbuf_release(&sb);
		return -1;
	}
	root = &j.nodes[0];
	hosts = get(&r, root, "hosts");
	doms = get(&r, root, "domains");
	if (root->type != J_OBJ || !hosts || hosts->type != J_ARR) {
		err_at(err, path, 1, 1, "not a vem snapshot: expected an object with 'hosts' and 'domains'");
		goto out;
	}
	o->cluster = xstrdup(str(&r, root, "cluster"));
	o->taken_at = num(&r, root, "taken_at", 0);
	o->n_hosts = hosts->n;
	o->hosts = xcalloc(o->n_hosts + 1, sizeof(*o->hosts));
	for (size_t i = 0; i < o->n_hosts; i++)
		read_host(&r, member(&r, hosts, i, NULL), &o->hosts[i]);
	if (doms && doms->type == J_ARR) {
		long last = -1;
		size_t n = doms->n;
		o->domains = xcalloc(n + 1, sizeof(*o->domains));
		for (size_t i = 0; i < n; i++) {
			const struct jnode *dn = member(&r, doms, i, NULL);
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
	json_release(&j);
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
