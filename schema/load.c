/*
 * load.c - cluster files -> struct cluster.
 *
 * Each file is parsed by libyaml into a document, then walked with the key
 * tables of keys.c. Problems are collected, never fatal on their own, so a
 * user sees all of them in one run. Templates and VM overrides are merged
 * by walking the template's mapping and then the VM's mapping into the same
 * vm_config, so a VM key always wins over its template's.
 */
#include "load.h"
#include "keys.h"
#include "model_priv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ctx {
	struct errbuf *err;
	bool quiet;                    /* re-walks: problems were reported already */
	const char *file;              /* interned in files[] */
	const char *dir;               /* the file's directory */
	yaml_document_t *doc;
	size_t visits;                 /* nodes walked, aliases counted each time */
	size_t rewalk_visits;
	bool too_many;
	bool broken;                   /* a file could not be read or parsed */
	uint64_t set;                  /* override bits set by the current walk */
	struct loc locs[VMCFG_BITS];
	struct raw_top top;
	char **files;
	size_t n_files, a_files;
	char **dirs;
	size_t n_dirs, a_dirs;
	yaml_document_t **docs;
	size_t n_docs, a_docs;
	struct loc cluster_loc, balance_loc;
};

/* ---- errors ---- */

static void PRINTF_LIKE(3, 4) problem(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (x->quiet)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	err_at(x->err, x->file, n ? (int)n->start_mark.line + 1 : 1,
	       n ? (int)n->start_mark.column + 1 : 1, "%s", msg);
	free(msg);
}

static struct loc node_loc(const struct ctx *x, const yaml_node_t *n)
{
	struct loc l = { x->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
	return l;
}

static void PRINTF_LIKE(3, 4) problem_at(struct ctx *x, const struct loc *l, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (l && l->file)
		err_at(x->err, l->file, l->line, l->col, "%s", msg);
	else
		err_at(x->err, x->n_files ? x->files[0] : "cluster", 1, 1, "%s", msg);
	free(msg);
}

/* What a node is, for "expected X, found Y" messages. */
static const char *node_what(const yaml_node_t *n, char *buf, size_t len)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE:
		if (!n->data.scalar.length)
			return "an empty value";
		snprintf(buf, len, "'%.*s'", (int)(n->data.scalar.length > 40 ? 40 : n->data.scalar.length),
			 (const char *)n->data.scalar.value);
		return buf;
	default: return "nothing";
	}
}

/* Re-walks (quiet) may visit more nodes: templates are walked once per VM. */
#define CFG_MAX_REWALK_VISITS 50000000u

static bool visit(struct ctx *x, const yaml_node_t *n)
{
	if (x->quiet)
		return ++x->rewalk_visits < CFG_MAX_REWALK_VISITS;
	if (++x->visits > CFG_MAX_NODES) {
		if (!x->too_many) {
			x->too_many = true;
			problem(x, n, "too many values after expanding aliases (limit %d): "
				"is this an alias bomb?", CFG_MAX_NODES);
		}
		return false;
	}
	return true;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);
	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

/* ---- scalar setters ---- */

static bool want_scalar(struct ctx *x, const yaml_node_t *n, const struct key *k,
			const char *expected)
{
	char b[64];
	if (n->type == YAML_SCALAR_NODE && !is_null(n))
		return true;
	problem(x, n, "'%s': expected %s, found %s", k->name, expected, node_what(n, b, sizeof(b)));
	return false;
}

static const char *enum_list(const char *const *e, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; e[i]; i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s'%s'",
				      i == 0 ? "" : e[i + 1] ? ", " : " or ", e[i]);
	return buf;
}

static char *resolve_path(struct ctx *x, const char *p)
{
	if (p[0] == '/' || !x->dir)
		return xstrdup(p);
	return xasprintf("%s/%s", x->dir, p);
}

static void set_labels(struct ctx *x, const yaml_node_t *n, const struct key *k, struct labels *l)
{
	char b[64];
	if (n->type != YAML_MAPPING_NODE) {
		problem(x, n, "'%s': expected a mapping of label names to values, found %s",
			k->name, node_what(n, b, sizeof(b)));
		return;
	}
	for (size_t i = 0; i < l->nr; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->nr = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		if (!kn || !vn || !visit(x, vn))
			return;
		if (kn->type != YAML_SCALAR_NODE || vn->type != YAML_SCALAR_NODE || is_null(vn)) {
			problem(x, vn, "'%s': label '%s' must have a text value, found %s", k->name,
				scalar(kn) ? scalar(kn) : "?", node_what(vn, b, sizeof(b)));
			continue;
		}
		size_t j = l->nr;
		l->items = xrealloc(l->items, (l->nr + 1) * sizeof(*l->items));
		/* keep sorted by key */
		while (j > 0 && strcmp(l->items[j - 1].key, scalar(kn)) > 0) {
			l->items[j] = l->items[j - 1];
			j--;
		}
		l->items[j].key = xstrdup(scalar(kn));
		l->items[j].value = xstrdup(scalar(vn));
		l->nr++;
	}
}

static void set_strlist(struct ctx *x, const yaml_node_t *n, const struct key *k,
			char ***items, size_t *nr, struct loc **locs)
{
	char b[64];
	if (n->type != YAML_SEQUENCE_NODE) {
		problem(x, n, "'%s': expected a list of names, found %s", k->name, node_what(n, b, sizeof(b)));
		return;
	}
	for (size_t i = 0; i < *nr; i++)
		free((*items)[i]);
	free(*items);
	*items = NULL;
	*nr = 0;
	if (locs) {
		free(*locs);
		*locs = NULL;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = yaml_document_get_node(x->doc, *it);
		if (!in || !visit(x, in))
			return;
		if (in->type != YAML_SCALAR_NODE || is_null(in)) {
			problem(x, in, "'%s': expected a name, found %s", k->name, node_what(in, b, sizeof(b)));
			continue;
		}
		*items = xrealloc(*items, (*nr + 1) * sizeof(**items));
		(*items)[*nr] = xstrdup(scalar(in));
		if (locs) {
			*locs = xrealloc(*locs, (*nr + 1) * sizeof(**locs));
			(*locs)[*nr] = node_loc(x, in);
		}
		(*nr)++;
	}
}

static void walk_map(struct ctx *x, const yaml_node_t *map, const struct table *const *tables,
		     void *const *bases, size_t nt, int depth);

static void walk_list(struct ctx *x, const yaml_node_t *n, const struct key *k, void *base,
		      int depth)
{
	char b[64];
	if (n->type != YAML_SEQUENCE_NODE) {
		problem(x, n, "'%s': expected a list, found %s", k->name, node_what(n, b, sizeof(b)));
		return;
	}
	if (k->clear)
		k->clear(base);
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = yaml_document_get_node(x->doc, *it);
		if (!in || !visit(x, in))
			return;
		if (in->type != YAML_MAPPING_NODE) {
			problem(x, in, "'%s': each item must be a mapping, found %s", k->name,
				node_what(in, b, sizeof(b)));
			continue;
		}
		void *item = k->add(base);
		if (k->sub == &tbl_template) {
			struct raw_template *t = item;
			const struct table *tabs[] = { &tbl_template, &tbl_vmcfg };
			void *bs[] = { t, &t->t.cfg };
			t->node = in;
			t->doc = x->doc;
			t->dir = x->dir;
			t->t.loc = node_loc(x, in);
			walk_map(x, in, tabs, bs, 2, depth + 1);
		} else if (k->sub == &tbl_vm) {
			struct raw_vm *v = item;
			const struct table *tabs[] = { &tbl_vm, &tbl_vmcfg };
			void *bs[] = { v, &v->spec.cfg };
			v->node = in;
			v->doc = x->doc;
			v->dir = x->dir;
			v->spec.loc = node_loc(x, in);
			walk_map(x, in, tabs, bs, 2, depth + 1);
		} else {
			const struct table *tabs[] = { k->sub };
			void *bs[] = { item };
			if (k->sub == &tbl_host)
				((struct host_spec *)item)->loc = node_loc(x, in);
			else if (k->sub == &tbl_image)
				((struct image_spec *)item)->loc = node_loc(x, in);
			walk_map(x, in, tabs, bs, 1, depth + 1);
		}
	}
}

/* Parse text s as key k into field p (also used for defaults). 0 / -1. */
static int parse_value(const struct key *k, const char *s, void *p, const char **why)
{
	int64_t i;
	double d;

	switch (k->type) {
	case K_STR:
	case K_PATH:
		*(char **)p = xstrdup(s);
		return 0;
	case K_ENUM:
		for (size_t j = 0; k->enums[j]; j++)
			if (!strcmp(s, k->enums[j])) {
				free(*(char **)p);
				*(char **)p = xstrdup(s);
				return 0;
			}
		*why = "enum";
		return -1;
	case K_HV:
		if (hv_type_parse(s, p)) {
			*why = "one of 'auto', 'kvm', 'qemu', 'xen' or 'lxc'";
			return -1;
		}
		return 0;
	case K_STATE:
		if (!strcmp(s, "running"))
			*(enum vm_state *)p = VM_RUNNING;
		else if (!strcmp(s, "stopped"))
			*(enum vm_state *)p = VM_STOPPED;
		else
			return (*why = "'running' or 'stopped'"), -1;
		return 0;
	case K_INT:
		if (parse_int64(s, &i)) {
			*why = "a whole number";
			return -1;
		}
		if (k->min < k->max && (i < k->min || i > k->max)) {
			*why = "range";
			return -1;
		}
		*(int *)p = (int)i;
		return 0;
	case K_FLOAT:
		if (parse_double(s, &d)) {
			*why = "a number";
			return -1;
		}
		if (k->min < k->max && (d < k->min || d > k->max)) {
			*why = "range";
			return -1;
		}
		*(double *)p = d;
		return 0;
	case K_BOOL:
		if (!strcmp(s, "true"))
			*(bool *)p = true;
		else if (!strcmp(s, "false"))
			*(bool *)p = false;
		else
			return (*why = "true or false"), -1;
		return 0;
	case K_SIZE:
		return parse_size(s, p, why);
	case K_DURATION:
		return parse_duration(s, p, why);
	default:
		*why = "a value";
		return -1;
	}
}

static void set_scalar(struct ctx *x, const yaml_node_t *n, const struct key *k, void *p)
{
	const char *why = NULL, *s;
	char b[64], eb[160];
	static const char *const expect[] = {
		[K_STR] = "text", [K_PATH] = "a file path", [K_ENUM] = "one of the listed values",
		[K_HV] = "'auto', 'kvm', 'qemu', 'xen' or 'lxc'", [K_STATE] = "'running' or 'stopped'",
		[K_INT] = "a whole number", [K_FLOAT] = "a number", [K_BOOL] = "true or false",
		[K_SIZE] = "a size like 512MiB or 4GiB", [K_DURATION] = "a duration like 90s or 10m",
	};

	if (!want_scalar(x, n, k, expect[k->type]))
		return;
	s = scalar(n);
	if (k->type == K_STR || k->type == K_PATH) {
		free(*(char **)p);
		*(char **)p = k->type == K_PATH ? resolve_path(x, s) : xstrdup(s);
		return;
	}
	if (!parse_value(k, s, p, &why))
		return;
	if (k->type == K_ENUM || (why && !strcmp(why, "enum")))
		problem(x, n, "'%s': expected %s, found %s", k->name,
			enum_list(k->enums, eb, sizeof(eb)), node_what(n, b, sizeof(b)));
	else if (why && !strcmp(why, "range"))
		problem(x, n, "'%s': %s is out of range (%g to %g)", k->name, s, k->min, k->max);
	else if (k->type == K_SIZE || k->type == K_DURATION)
		problem(x, n, "'%s': expected %s, found %s: %s", k->name, expect[k->type],
			node_what(n, b, sizeof(b)), why);
	else
		problem(x, n, "'%s': expected %s, found %s", k->name, expect[k->type],
			node_what(n, b, sizeof(b)));
}

static const struct key *find_key(const struct table *const *tables, void *const *bases,
				  size_t nt, const char *name, void **base)
{
	for (size_t t = 0; t < nt; t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			if (!strcmp(tables[t]->keys[i].name, name)) {
				*base = bases[t];
				return &tables[t]->keys[i];
			}
	return NULL;
}

static void unknown_key(struct ctx *x, const yaml_node_t *kn, const struct table *const *tables,
			size_t nt)
{
	const char *name = scalar(kn);
	const char *best = NULL;
	size_t bestd = (size_t)-1;

	for (size_t t = 0; t < nt; t++)
		for (size_t i = 0; i < tables[t]->n; i++) {
			size_t d = str_edit_distance(name, tables[t]->keys[i].name);
			if (d < bestd) {
				bestd = d;
				best = tables[t]->keys[i].name;
			}
		}
	if (best && bestd <= (strlen(name) > 6 ? 3 : 2))
		problem(x, kn, "unknown key '%s' in %s; did you mean '%s'?", name, tables[0]->name, best);
	else
		problem(x, kn, "unknown key '%s' in %s", name, tables[0]->name);
}

static void walk_value(struct ctx *x, const yaml_node_t *vn, const struct key *k, void *base,
		       int depth)
{
	void *p = (char *)base + k->off;

	if (k->bit >= 0 && k->bit < VMCFG_BITS) {
		x->set |= 1ull << k->bit;
		x->locs[k->bit] = node_loc(x, vn);
	}
	switch (k->type) {
	case K_MAP: {
		char b[64];
		const struct table *tabs[] = { k->sub };
		void *bs[] = { p };
		if (vn->type != YAML_MAPPING_NODE) {
			if (!is_null(vn))
				problem(x, vn, "'%s': expected a mapping, found %s", k->name,
					node_what(vn, b, sizeof(b)));
			return;
		}
		walk_map(x, vn, tabs, bs, 1, depth + 1);
		return;
	}
	case K_LIST:
		if (is_null(vn))
			return;
		walk_list(x, vn, k, base, depth);
		return;
	case K_LABELS:
		set_labels(x, vn, k, p);
		return;
	case K_STRLIST:
		set_strlist(x, vn, k, p, (size_t *)((char *)base + k->off2),
			    k == key_placement_hosts ? &((struct raw_vm *)base)->host_locs : NULL);
		return;
	default:
		set_scalar(x, vn, k, p);
	}
}

static void walk_map(struct ctx *x, const yaml_node_t *map, const struct table *const *tables,
		     void *const *bases, size_t nt, int depth)
{
	unsigned long seen[4] = { 0 };   /* required-key tracking for tables[0] */

	if (depth > CFG_MAX_DEPTH) {
		problem(x, map, "nesting is deeper than %d levels", CFG_MAX_DEPTH);
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		const struct key *k;
		void *base = NULL;
		char b[64];

		if (!kn || !vn || !visit(x, vn))
			return;
		if (kn->type != YAML_SCALAR_NODE) {
			problem(x, kn, "keys must be plain names, found %s", node_what(kn, b, sizeof(b)));
			continue;
		}
		if (!strcmp(scalar(kn), "<<")) {
			/* merge key: mappings whose keys apply unless set here */
			const yaml_node_t *one[1] = { vn };
			const yaml_node_t *const *srcs = one;
			size_t ns = 1;
			yaml_node_t *tmp[64];
			if (vn->type == YAML_SEQUENCE_NODE) {
				ns = 0;
				for (yaml_node_item_t *it = vn->data.sequence.items.start;
				     it < vn->data.sequence.items.top && ns < 64; it++)
					tmp[ns++] = yaml_document_get_node(x->doc, *it);
				srcs = (const yaml_node_t *const *)tmp;
			}
			for (size_t i = 0; i < ns; i++) {
				if (!srcs[i] || srcs[i]->type != YAML_MAPPING_NODE) {
					problem(x, srcs[i] ? srcs[i] : vn, "'<<' merges mappings only");
					continue;
				}
				if (!visit(x, srcs[i]))
					return;
				walk_map(x, srcs[i], tables, bases, nt, depth + 1);
			}
			continue;
		}
		k = find_key(tables, bases, nt, scalar(kn), &base);
		if (!k) {
			unknown_key(x, kn, tables, nt);
			continue;
		}
		if (k >= tables[0]->keys && k < tables[0]->keys + tables[0]->n) {
			size_t idx = (size_t)(k - tables[0]->keys);
			if (idx < 64 * 4)
				seen[idx / 64] |= 1ul << (idx % 64);
		}
		if (tables[0] == &tbl_top) {
			if (!strcmp(k->name, "cluster") && x->top.cluster) {
				if (!x->quiet && scalar(vn) && strcmp(scalar(vn), x->top.cluster))
					problem(x, vn, "'cluster' is '%s' here but '%s' at %s:%d:%d",
						scalar(vn), x->top.cluster, x->cluster_loc.file,
						x->cluster_loc.line, x->cluster_loc.col);
				continue;
			}
			if (!strcmp(k->name, "cluster"))
				x->cluster_loc = node_loc(x, vn);
			if (!strcmp(k->name, "balance")) {
				if (x->top.have_balance) {
					problem(x, kn, "'balance' is defined twice (first at %s:%d:%d)",
						x->balance_loc.file, x->balance_loc.line, x->balance_loc.col);
					continue;
				}
				x->top.have_balance = true;
				x->balance_loc = node_loc(x, kn);
			}
		}
		walk_value(x, vn, k, base, depth);
	}
	for (size_t i = 0; i < tables[0]->n && i < 64 * 4; i++)
		if ((tables[0]->keys[i].flags & KF_REQUIRED) && !(seen[i / 64] & (1ul << (i % 64))))
			problem(x, map, "%s is missing required key '%s'", tables[0]->name,
				tables[0]->keys[i].name);
}

/* ---- files ---- */

static const char *intern(char ***arr, size_t *n, size_t *a, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i], s))
			return (*arr)[i];
	ALLOC_GROW(*arr, *n + 1, *a);
	(*arr)[*n] = xstrdup(s);
	return (*arr)[(*n)++];
}

static void parse_buffer(struct ctx *x, const char *name, const char *dir,
			 const unsigned char *buf, size_t len)
{
	yaml_parser_t parser;

	x->file = intern(&x->files, &x->n_files, &x->a_files, name);
	x->dir = dir ? intern(&x->dirs, &x->n_dirs, &x->a_dirs, dir) : NULL;
	if (len > CFG_MAX_FILE_BYTES) {
		x->broken = true;
		err_at(x->err, x->file, 1, 1, "file is larger than %u bytes", CFG_MAX_FILE_BYTES);
		return;
	}
	if (!yaml_parser_initialize(&parser)) {
		err_at(x->err, x->file, 1, 1, "cannot initialise the YAML parser");
		return;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	for (;;) {
		yaml_document_t *doc = xcalloc(1, sizeof(*doc));
		yaml_node_t *root;
		if (!yaml_parser_load(&parser, doc)) {
			const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.context_mark;
			x->broken = true;
			err_at(x->err, x->file, (int)m->line + 1, (int)m->column + 1, "invalid YAML: %s%s%s",
			       parser.problem ? parser.problem : "syntax error",
			       parser.context ? " " : "", parser.context ? parser.context : "");
			free(doc);
			break;
		}
		root = yaml_document_get_root_node(doc);
		if (!root) {
			yaml_document_delete(doc);
			free(doc);
			break;
		}
		ALLOC_GROW(x->docs, x->n_docs + 1, x->a_docs);
		x->docs[x->n_docs++] = doc;
		x->doc = doc;
		if (root->type != YAML_MAPPING_NODE) {
			char b[64];
			problem(x, root, "expected a mapping with keys such as 'cluster', 'hosts' and 'vms', found %s",
				node_what(root, b, sizeof(b)));
			continue;
		}
		{
			const struct table *tabs[] = { &tbl_top };
			void *bs[] = { &x->top };
			walk_map(x, root, tabs, bs, 1, 0);
		}
	}
	yaml_parser_delete(&parser);
}

static void load_path_file(struct ctx *x, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char *copy = xstrdup(path);
	char *dir = dirname(copy);

	if (strbuf_read_file(&sb, path, CFG_MAX_FILE_BYTES)) {
		x->broken = true;
		const char *f = intern(&x->files, &x->n_files, &x->a_files, path);
		if (errno == EFBIG)
			err_at(x->err, f, 0, 0, "file is larger than %u bytes", CFG_MAX_FILE_BYTES);
		else
			err_at(x->err, f, 0, 0, "cannot read: %s", strerror(errno));
	} else {
		parse_buffer(x, path, dir, (const unsigned char *)sb.buf, sb.len);
	}
	free(copy);
	strbuf_release(&sb);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_path(struct ctx *x, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, a = 0;

	if (stat(path, &st)) {
		x->broken = true;
		err_at(x->err, path, 0, 0, "cannot read: %s", strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		load_path_file(x, path);
		return;
	}
	d = opendir(path);
	if (!d) {
		err_at(x->err, path, 0, 0, "cannot read directory: %s", strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    !(str_ends_with(e->d_name, ".yaml") || str_ends_with(e->d_name, ".yml")))
			continue;
		ALLOC_GROW(names, n + 1, a);
		names[n++] = xasprintf("%s%s%s", path, str_ends_with(path, "/") ? "" : "/", e->d_name);
	}
	closedir(d);
	if (!n)
		err_at(x->err, path, 0, 0, "no *.yaml files in this directory");
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		load_path_file(x, names[i]);
		free(names[i]);
	}
	free(names);
}

/* ---- resolution: templates merged, replicas expanded, defaults applied ---- */

static void apply_defaults(const struct table *t, void *base, uint64_t set)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		const char *why;
		if (k->type == K_MAP) {
			apply_defaults(k->sub, (char *)base + k->off, set);
			continue;
		}
		if (!k->def || (k->bit >= 0 && (set & (1ull << k->bit))))
			continue;
		if (k->bit < 0 && t != &tbl_vmcfg) {
			/* non-override tables: defaults fill only unset (zero) fields */
			void *p = (char *)base + k->off;
			if ((k->type == K_STR || k->type == K_ENUM) && *(char **)p)
				continue;
			if (k->type != K_STR && k->type != K_ENUM)
				continue;
		}
		parse_value(k, k->def, (char *)base + k->off, &why);
	}
}

/* Defaults of every balance key; the user's keys are walked on top. */
static void balance_defaults(struct balance_spec *b)
{
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < tbl_balance.n; i++) {
		const struct key *k = &tbl_balance.keys[i];
		const char *why;
		if (k->type == K_MAP) {
			for (size_t j = 0; j < k->sub->n; j++)
				if (k->sub->keys[j].def)
					parse_value(&k->sub->keys[j], k->sub->keys[j].def,
						    (char *)b + k->off + k->sub->keys[j].off, &why);
		} else if (k->def) {
			parse_value(k, k->def, (char *)b + k->off, &why);
		}
	}
}

static void walk_map_cfg_only(struct ctx *x, const yaml_node_t *map, struct vm_config *cfg)
{
	const struct table *tabs[] = { &tbl_vmcfg };
	void *bs[] = { cfg };
	walk_map(x, map, tabs, bs, 1, 1);
}

/* Walk a template's and then a VM's mapping into cfg (quietly). */
static void build_config(struct ctx *x, const struct raw_template *t, const struct raw_vm *v,
			 struct vm_config *cfg)
{
	bool q = x->quiet;

	memset(cfg, 0, sizeof(*cfg));
	x->quiet = true;
	x->set = 0;
	memset(x->locs, 0, sizeof(x->locs));
	if (t) {
		x->doc = t->doc;
		x->dir = t->dir;
		x->file = t->t.loc.file;
		walk_map_cfg_only(x, t->node, cfg);
	}
	if (v) {
		x->doc = v->doc;
		x->dir = v->dir;
		x->file = v->spec.loc.file;
		walk_map_cfg_only(x, v->node, cfg);
	}
	x->quiet = q;
	apply_defaults(&tbl_vmcfg, cfg, x->set);
	if (!(x->set & (1ull << 2)))
		cfg->max_vcpus = cfg->vcpus;
	if (!(x->set & (1ull << 4)))
		cfg->max_memory = cfg->memory;
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (!cfg->disks[i].bus)
			cfg->disks[i].bus = xstrdup("virtio");
	for (size_t i = 0; i < cfg->n_nets; i++)
		if (!cfg->nets[i].model)
			cfg->nets[i].model = xstrdup("virtio");
}

static bool valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return isalnum((unsigned char)s[0]);
}

static bool valid_uri(const char *s)
{
	const char *p = strstr(s, "://");
	if (!p || p == s)
		return false;
	for (const char *q = s; q < p; q++)
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-')
			return false;
	return true;
}

static bool valid_sha256(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static bool valid_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return !(strtol(s, NULL, 16) & 1);   /* not multicast */
}

static struct loc loc_or(const struct loc *a, const struct loc *b)
{
	return a->file ? *a : *b;
}

/* A value already reported as malformed: checks on it would only add noise. */
static bool reported_at(const struct ctx *x, const struct loc *l)
{
	for (size_t i = 0; l->file && i < x->err->nr; i++)
		if (x->err->items[i].line == l->line && x->err->items[i].col == l->col &&
		    str_eq(x->err->items[i].file, l->file))
			return true;
	return false;
}

static void check_config(struct ctx *x, const struct vm_config *c, const struct cluster *cl,
			 const struct loc *where, const char *what)
{
	char b1[32], b2[32];
	struct loc l;

	if (reported_at(x, &x->locs[3]) || reported_at(x, &x->locs[4]) ||
	    reported_at(x, &x->locs[1]) || reported_at(x, &x->locs[2]))
		return;
	if (c->memory == 0) {
		l = loc_or(&x->locs[3], where);
		problem_at(x, &l, "%s: memory must be more than 0", what);
	}
	if (c->memory > c->max_memory) {
		l = loc_or(&x->locs[4], where);
		problem_at(x, &l, "%s: memory %s is above max-memory %s", what,
			   format_size(c->memory, b1), format_size(c->max_memory, b2));
	}
	if (c->vcpus > c->max_vcpus) {
		l = loc_or(&x->locs[2], where);
		problem_at(x, &l, "%s: vcpus %d is above max-vcpus %d", what, c->vcpus, c->max_vcpus);
	}
	if (!c->kernel && (c->initrd || c->cmdline) && c->hypervisor != HV_LXC) {
		l = loc_or(&x->locs[c->initrd ? 9 : 10], where);
		problem_at(x, &l, "%s: %s needs a kernel", what, c->initrd ? "initrd" : "cmdline");
	}
	if (c->hypervisor == HV_LXC && c->n_disks) {
		l = loc_or(&x->locs[6], where);
		problem_at(x, &l, "%s: lxc containers have no disks", what);
	}
	for (size_t i = 0; i < c->n_disks; i++) {
		l = loc_or(&x->locs[6], where);
		if (c->disks[i].image && !cluster_image(cl, c->disks[i].image))
			problem_at(x, &l, "%s: disk %zu: unknown image '%s'", what, i, c->disks[i].image);
		if (!c->disks[i].image && !c->disks[i].size)
			problem_at(x, &l, "%s: disk %zu needs a size or an image", what, i);
	}
	for (size_t i = 0; i < c->n_nets; i++) {
		const struct net_spec *n = &c->nets[i];
		l = loc_or(&x->locs[7], where);
		if (!!n->network == !!n->bridge)
			problem_at(x, &l, "%s: network %zu needs exactly one of 'network' or 'bridge'", what, i);
		if (n->mac && !valid_mac(n->mac))
			problem_at(x, &l, "%s: network %zu: '%s' is not a unicast MAC address like 52:54:00:12:34:56",
				   what, i, n->mac);
	}
	for (int i = 14; i <= 16; i++) {
		const char *p = i == 14 ? c->user_data : i == 15 ? c->meta_data : c->network_config;
		struct stat st;
		if (p && stat(p, &st)) {
			l = loc_or(&x->locs[i], where);
			problem_at(x, &l, "%s: cloud-init file '%s': %s", what, p, strerror(errno));
		}
	}
}

static int vm_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_spec *)a)->name, ((const struct vm_spec *)b)->name);
}

static struct raw_template *find_template(struct ctx *x, const char *name)
{
	for (size_t i = 0; i < x->top.n_templates; i++)
		if (str_eq(x->top.templates[i].t.name, name))
			return &x->top.templates[i];
	return NULL;
}

static void check_duplicates(struct ctx *x, const char *what, size_t n,
			     const char *(*name)(struct ctx *, size_t),
			     const struct loc *(*where)(struct ctx *, size_t))
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (name(x, i) && str_eq(name(x, i), name(x, j))) {
				const struct loc *a = where(x, i), *b = where(x, j);
				problem_at(x, a, "%s '%s' is defined twice (first at %s:%d:%d)", what,
					   name(x, i), b->file, b->line, b->col);
				break;
			}
}

static const char *host_name(struct ctx *x, size_t i) { return x->top.hosts[i].name; }
static const struct loc *host_where(struct ctx *x, size_t i) { return &x->top.hosts[i].loc; }
static const char *image_name(struct ctx *x, size_t i) { return x->top.images[i].name; }
static const struct loc *image_where(struct ctx *x, size_t i) { return &x->top.images[i].loc; }
static const char *tmpl_name(struct ctx *x, size_t i) { return x->top.templates[i].t.name; }
static const struct loc *tmpl_where(struct ctx *x, size_t i) { return &x->top.templates[i].t.loc; }

static struct cluster *resolve(struct ctx *x)
{
	struct cluster *c = xcalloc(1, sizeof(*c));
	size_t nvm = 0, avm = 0;

	c->name = x->top.cluster;
	x->top.cluster = NULL;
	if (!c->name)
		problem_at(x, NULL, "missing required key 'cluster' (the cluster's name)");
	else if (!valid_name(c->name))
		problem_at(x, &x->cluster_loc, "cluster name '%s' may use letters, digits, '-', '_' and '.' only", c->name);

	/* hosts */
	check_duplicates(x, "host", x->top.n_hosts, host_name, host_where);
	for (size_t i = 0; i < x->top.n_hosts; i++) {
		struct host_spec *h = &x->top.hosts[i];
		if (h->name && !valid_name(h->name))
			problem_at(x, &h->loc, "host name '%s' may use letters, digits, '-', '_' and '.' only", h->name);
		if (h->uri && !valid_uri(h->uri))
			problem_at(x, &h->loc, "host '%s': '%s' is not a libvirt URI like qemu+tcp://host/system",
				   h->name ? h->name : "?", h->uri);
		if (h->memory && h->reserve >= h->memory)
			problem_at(x, &h->loc, "host '%s': reserve is not below its memory capacity", h->name);
	}
	c->hosts = x->top.hosts;
	c->n_hosts = x->top.n_hosts;
	x->top.hosts = NULL;
	x->top.n_hosts = 0;

	/* images */
	check_duplicates(x, "image", x->top.n_images, image_name, image_where);
	for (size_t i = 0; i < x->top.n_images; i++) {
		struct image_spec *im = &x->top.images[i];
		apply_defaults(&tbl_image, im, 0);
		if (im->sha256 && !valid_sha256(im->sha256))
			problem_at(x, &im->loc, "image '%s': sha256 must be 64 lowercase hex digits", im->name);
		if (im->url && !str_starts_with(im->url, "https://") && !str_starts_with(im->url, "http://") &&
		    !str_starts_with(im->url, "file://"))
			problem_at(x, &im->loc, "image '%s': url must start with https://, http:// or file://", im->name);
	}
	c->images = x->top.images;
	c->n_images = x->top.n_images;
	x->top.images = NULL;
	x->top.n_images = 0;

	/* templates */
	check_duplicates(x, "template", x->top.n_templates, tmpl_name, tmpl_where);
	c->templates = xcalloc(x->top.n_templates + 1, sizeof(*c->templates));
	for (size_t i = 0; i < x->top.n_templates; i++) {
		struct raw_template *t = &x->top.templates[i];
		char *what;
		c->templates[i].name = xstrdup(t->t.name);
		c->templates[i].loc = t->t.loc;
		build_config(x, t, NULL, &c->templates[i].cfg);
		what = xasprintf("template '%s'", t->t.name ? t->t.name : "?");
		check_config(x, &c->templates[i].cfg, c, &t->t.loc, what);
		free(what);
	}
	c->n_templates = x->top.n_templates;

	/* vms */
	for (size_t i = 0; i < x->top.n_vms; i++) {
		struct raw_vm *v = &x->top.vms[i];
		struct raw_template *t = NULL;
		struct vm_config cfg;
		char *what;
		int n = v->replicas < 0 ? 1 : v->replicas;

		if (!v->spec.name)
			continue;
		if (!valid_name(v->spec.name))
			problem_at(x, &v->spec.loc, "vm name '%s' may use letters, digits, '-', '_' and '.' only",
				   v->spec.name);
		if (v->spec.template) {
			t = find_template(x, v->spec.template);
			if (!t) {
				const char *best = NULL;
				size_t bd = (size_t)-1;
				for (size_t j = 0; j < x->top.n_templates; j++) {
					size_t d = str_edit_distance(v->spec.template, x->top.templates[j].t.name ? x->top.templates[j].t.name : "");
					if (d < bd) {
						bd = d;
						best = x->top.templates[j].t.name;
					}
				}
				if (best && bd <= 2)
					problem_at(x, &v->spec.loc, "vm '%s': unknown template '%s'; did you mean '%s'?",
						   v->spec.name, v->spec.template, best);
				else
					problem_at(x, &v->spec.loc, "vm '%s': unknown template '%s'",
						   v->spec.name, v->spec.template);
			}
		}
		for (size_t j = 0; j < v->spec.placement.n_hosts; j++)
			if (!cluster_host(c, v->spec.placement.hosts[j]))
				problem_at(x, v->host_locs ? &v->host_locs[j] : &v->spec.loc,
					   "vm '%s': placement names unknown host '%s'", v->spec.name,
					   v->spec.placement.hosts[j]);
		build_config(x, t, v, &cfg);
		what = xasprintf("vm '%s'", v->spec.name);
		check_config(x, &cfg, c, &v->spec.loc, what);
		free(what);
		for (int r = 0; r < n; r++) {
			struct vm_spec *s;
			ALLOC_GROW(c->vms, nvm + 1, avm);
			s = &c->vms[nvm++];
			memset(s, 0, sizeof(*s));
			s->name = v->replicas < 0 ? xstrdup(v->spec.name) : xasprintf("%s-%d", v->spec.name, r);
			s->group = xstrdup(v->spec.name);
			s->replica = v->replicas < 0 ? -1 : r;
			s->template = xstrdup(v->spec.template);
			s->state = v->spec.state;
			s->loc = v->spec.loc;
			if (r == n - 1) {
				s->cfg = cfg;
				memset(&cfg, 0, sizeof(cfg));
			} else {
				vm_config_copy(&s->cfg, &cfg);
			}
			s->placement.n_hosts = v->spec.placement.n_hosts;
			s->placement.hosts = xcalloc(v->spec.placement.n_hosts + 1, sizeof(char *));
			for (size_t j = 0; j < v->spec.placement.n_hosts; j++)
				s->placement.hosts[j] = xstrdup(v->spec.placement.hosts[j]);
			labels_copy(&s->placement.labels, &v->spec.placement.labels);
			s->placement.spread = xstrdup(v->spec.placement.spread);
			s->placement.together = xstrdup(v->spec.placement.together);
		}
		vm_config_release(&cfg);
	}
	c->vms = nvm ? c->vms : NULL;
	c->n_vms = nvm;
	if (nvm)
		qsort(c->vms, nvm, sizeof(*c->vms), vm_cmp);
	for (size_t i = 1; i < nvm; i++)
		if (!strcmp(c->vms[i].name, c->vms[i - 1].name)) {
			const struct vm_spec *a = &c->vms[i], *b = &c->vms[i - 1];
			if (a->loc.line < b->loc.line || (a->loc.line == b->loc.line && a->loc.col < b->loc.col))
				a = b, b = &c->vms[i];
			problem_at(x, &a->loc, "vm '%s' is defined twice (first at %s:%d:%d)%s", a->name,
				   b->loc.file, b->loc.line, b->loc.col,
				   a->replica >= 0 || b->replica >= 0 ? ": replica names collide" : "");
		}

	/* balance: defaults were in place before the user's keys were walked */
	c->balance = x->top.balance;
	cluster_hash_vms(c);
	return c;
}

static void ctx_release(struct ctx *x)
{
	struct raw_top *t = &x->top;

	for (size_t i = 0; i < t->n_hosts; i++) {
		free(t->hosts[i].name);
		free(t->hosts[i].uri);
		for (size_t j = 0; j < t->hosts[i].labels.nr; j++) {
			free(t->hosts[i].labels.items[j].key);
			free(t->hosts[i].labels.items[j].value);
		}
		free(t->hosts[i].labels.items);
	}
	free(t->hosts);
	for (size_t i = 0; i < t->n_images; i++) {
		free(t->images[i].name);
		free(t->images[i].url);
		free(t->images[i].sha256);
		free(t->images[i].format);
	}
	free(t->images);
	for (size_t i = 0; i < t->n_templates; i++) {
		free(t->templates[i].t.name);
		vm_config_release(&t->templates[i].t.cfg);
	}
	free(t->templates);
	for (size_t i = 0; i < t->n_vms; i++) {
		free(t->vms[i].spec.name);
		free(t->vms[i].spec.template);
		vm_config_release(&t->vms[i].spec.cfg);
		placement_release(&t->vms[i].spec.placement);
		free(t->vms[i].host_locs);
	}
	free(t->vms);
	free(t->cluster);
	for (size_t i = 0; i < x->n_docs; i++) {
		yaml_document_delete(x->docs[i]);
		free(x->docs[i]);
	}
	free(x->docs);
	for (size_t i = 0; i < x->n_dirs; i++)
		free(x->dirs[i]);
	free(x->dirs);
}

static struct cluster *finish(struct ctx *x, struct errbuf *err)
{
	struct cluster *c = NULL;
	/* after a syntax error or an alias bomb the rest would only add noise */
	if (!x->too_many && !x->broken && x->n_files)
		c = resolve(x);
	if (c) {
		c->files = x->files;
		c->n_files = x->n_files;
		x->files = NULL;
		x->n_files = 0;
	}
	for (size_t i = 0; i < x->n_files; i++)
		free(x->files[i]);
	free(x->files);
	ctx_release(x);
	if (err->nr) {
		err_sort(err);
		cluster_free(c);
		return NULL;
	}
	return c;
}

static void ctx_init(struct ctx *x, struct errbuf *err)
{
	memset(x, 0, sizeof(*x));
	x->err = err;
	balance_defaults(&x->top.balance);
}

struct cluster *cfg_load(const char *path, struct errbuf *err)
{
	struct ctx x;

	ctx_init(&x, err);
	load_path(&x, path);
	return finish(&x, err);
}

struct cluster *cfg_load_buffer(const char *name, const char *buf, size_t len,
				struct errbuf *err)
{
	struct ctx x;

	ctx_init(&x, err);
	parse_buffer(&x, name, NULL, (const unsigned char *)buf, len);
	return finish(&x, err);
}

/* ---- output: normalised desired state ---- */

static void write_labels(struct json_writer *w, const struct labels *l)
{
	jw_object_begin(w);
	for (size_t i = 0; i < l->nr; i++)
		jw_kv_string(w, l->items[i].key, l->items[i].value);
	jw_object_end(w);
}

void cluster_write_json(const struct cluster *c, struct strbuf *out)
{
	struct json_writer w;
	const struct balance_spec *b = &c->balance;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_string(&w, "cluster", c->name);
	jw_key(&w, "hosts");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_hosts; i++) {
		const struct host_spec *h = &c->hosts[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "name", h->name);
		jw_kv_string(&w, "uri", h->uri);
		jw_key(&w, "labels");
		write_labels(&w, &h->labels);
		jw_key(&w, "capacity");
		jw_object_begin(&w);
		jw_key(&w, "cpus");
		h->cpus ? jw_int(&w, h->cpus) : jw_null(&w);
		jw_key(&w, "memory");
		h->memory ? jw_uint(&w, h->memory) : jw_null(&w);
		jw_object_end(&w);
		jw_kv_uint(&w, "reserve", h->reserve);
		jw_kv_bool(&w, "maintenance", h->maintenance);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "images");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_images; i++) {
		jw_object_begin(&w);
		jw_kv_string(&w, "name", c->images[i].name);
		jw_kv_string(&w, "url", c->images[i].url);
		jw_kv_string(&w, "sha256", c->images[i].sha256);
		jw_kv_string(&w, "format", c->images[i].format);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "templates");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_templates; i++) {
		jw_object_begin(&w);
		jw_kv_string(&w, "name", c->templates[i].name);
		jw_key(&w, "config");
		vm_config_write_json(&w, &c->templates[i].cfg);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "vms");
	jw_array_begin(&w);
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *v = &c->vms[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "name", v->name);
		jw_kv_string(&w, "group", v->group);
		jw_key(&w, "replica");
		v->replica >= 0 ? jw_int(&w, v->replica) : jw_null(&w);
		jw_kv_string(&w, "template", v->template);
		jw_kv_string(&w, "state", v->state == VM_RUNNING ? "running" : "stopped");
		jw_key(&w, "config");
		vm_config_write_json(&w, &v->cfg);
		jw_key(&w, "placement");
		jw_object_begin(&w);
		jw_key(&w, "hosts");
		jw_array_begin(&w);
		for (size_t j = 0; j < v->placement.n_hosts; j++)
			jw_string(&w, v->placement.hosts[j]);
		jw_array_end(&w);
		jw_key(&w, "labels");
		write_labels(&w, &v->placement.labels);
		jw_kv_string(&w, "spread", v->placement.spread);
		jw_kv_string(&w, "together", v->placement.together);
		jw_object_end(&w);
		jw_kv_string(&w, "spec_hash", v->spec_hash);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "balance");
	jw_object_begin(&w);
	jw_kv_bool(&w, "enabled", b->enabled);
	jw_key(&w, "metrics");
	jw_object_begin(&w);
	jw_kv_double(&w, "cpu", b->w_cpu);
	jw_kv_double(&w, "memory", b->w_memory);
	jw_kv_double(&w, "vcpu", b->w_vcpu);
	jw_object_end(&w);
	jw_kv_double(&w, "threshold", b->threshold);
	jw_kv_double(&w, "min-gain", b->min_gain);
	jw_kv_int(&w, "max-migrations", b->max_migrations);
	jw_kv_int(&w, "max-parallel", b->max_parallel);
	jw_kv_int(&w, "cooldown", b->cooldown);
	jw_kv_double(&w, "vcpu-overcommit", b->vcpu_overcommit);
	jw_kv_uint(&w, "bandwidth", b->bandwidth);
	jw_kv_int(&w, "migration-timeout", b->migration_timeout);
	jw_kv_int(&w, "sample-window", b->sample_window);
	jw_object_end(&w);
	jw_object_end(&w);
}

/* ---- JSON Schema, generated from the key tables ---- */

static void schema_table(struct json_writer *w, const struct table *t,
			 const struct table *extra);

static void schema_key(struct json_writer *w, const struct key *k)
{
	jw_key(w, k->name);
	jw_object_begin(w);
	jw_kv_string(w, "description", k->doc);
	switch (k->type) {
	case K_STR:
	case K_PATH:
		jw_kv_string(w, "type", "string");
		break;
	case K_ENUM:
	case K_HV:
	case K_STATE: {
		static const char *const hv[] = { "auto", "kvm", "qemu", "xen", "lxc", NULL };
		static const char *const st[] = { "running", "stopped", NULL };
		const char *const *e = k->type == K_HV ? hv : k->type == K_STATE ? st : k->enums;
		jw_kv_string(w, "type", "string");
		jw_key(w, "enum");
		jw_array_begin(w);
		for (size_t i = 0; e[i]; i++)
			jw_string(w, e[i]);
		jw_array_end(w);
		break;
	}
	case K_INT:
		jw_kv_string(w, "type", "integer");
		if (k->min < k->max) {
			jw_kv_double(w, "minimum", k->min);
			jw_kv_double(w, "maximum", k->max);
		}
		break;
	case K_FLOAT:
		jw_kv_string(w, "type", "number");
		if (k->min < k->max) {
			jw_kv_double(w, "minimum", k->min);
			jw_kv_double(w, "maximum", k->max);
		}
		break;
	case K_BOOL:
		jw_kv_string(w, "type", "boolean");
		break;
	case K_SIZE:
		jw_key(w, "type");
		jw_array_begin(w);
		jw_string(w, "string");
		jw_string(w, "integer");
		jw_array_end(w);
		jw_kv_string(w, "pattern", "^[0-9]+(\\.[0-9]+)? ?(B|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)?$");
		break;
	case K_DURATION:
		jw_key(w, "type");
		jw_array_begin(w);
		jw_string(w, "string");
		jw_string(w, "integer");
		jw_array_end(w);
		jw_kv_string(w, "pattern", "^([0-9]+(ms|s|m|h|d))+$|^0$");
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
		jw_key(w, "items");
		jw_object_begin(w);
		jw_kv_string(w, "type", "string");
		jw_object_end(w);
		break;
	case K_MAP:
		schema_table(w, k->sub, NULL);
		break;
	case K_LIST:
		jw_kv_string(w, "type", "array");
		jw_key(w, "items");
		jw_object_begin(w);
		schema_table(w, k->sub, k->sub == &tbl_template || k->sub == &tbl_vm ? &tbl_vmcfg : NULL);
		jw_object_end(w);
		break;
	}
	if (k->def)
		jw_kv_string(w, "default", k->def);
	jw_object_end(w);
}

static void schema_table(struct json_writer *w, const struct table *t, const struct table *extra)
{
	bool any_required = false;

	jw_kv_string(w, "type", "object");
	jw_key(w, "properties");
	jw_object_begin(w);
	for (size_t i = 0; i < t->n; i++)
		schema_key(w, &t->keys[i]);
	for (size_t i = 0; extra && i < extra->n; i++)
		schema_key(w, &extra->keys[i]);
	jw_object_end(w);
	jw_kv_bool(w, "additionalProperties", false);
	for (size_t i = 0; i < t->n; i++)
		any_required |= !!(t->keys[i].flags & KF_REQUIRED);
	if (any_required) {
		jw_key(w, "required");
		jw_array_begin(w);
		for (size_t i = 0; i < t->n; i++)
			if (t->keys[i].flags & KF_REQUIRED)
				jw_string(w, t->keys[i].name);
		jw_array_end(w);
	}
}

void cfg_write_json_schema(struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_string(&w, "$schema", "https://json-schema.org/draft/2020-12/schema");
	jw_kv_string(&w, "$id", "https://vem.dev/schema/vem-cluster.schema.json");
	jw_kv_string(&w, "title", "vem cluster file");
	jw_kv_string(&w, "description", "Hosts, templates, images, VMs and load balancing of a vem cluster. "
		     "Sizes take units (512MiB, 4GiB), durations too (90s, 10m).");
	schema_table(&w, &tbl_top, NULL);
	jw_object_end(&w);
}
