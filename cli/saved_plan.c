/*
 * saved_plan.c - write and read saved plans (see saved_plan.h).
 */
#include "saved_plan.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static void write_list(struct json_writer *w, const char *key, const char *const *v, size_t n)
{
	jw_key(w, key);
	jw_array_begin(w);
	for (size_t i = 0; i < n; i++)
		jw_string(w, v[i]);
	jw_array_end(w);
}

int saved_plan_write(const char *path, const struct apply_args *a, const struct cluster *c,
		     const struct observed *o, const struct plan *p, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT, pj = STRBUF_INIT;
	struct json_writer w;
	char od[65], ad[65];
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = -1, rc = -1;

	plan_observed_digest(o, od);
	plan_digest(p, o, ad);
	plan_write_json(p, c, o, &pj);
	while (pj.len && pj.buf[pj.len - 1] == '\n')
		pj.buf[--pj.len] = '\0';

	jw_init(&w, &sb, true);
	jw_object_begin(&w);
	jw_kv_string(&w, "kind", "vem-saved-plan");
	jw_kv_int(&w, "format", SAVED_PLAN_FORMAT);
	jw_kv_string(&w, "cluster", c->name);
	jw_kv_string(&w, "source", c->source);
	jw_kv_string(&w, "revision", c->revision);
	jw_kv_string(&w, "observed_digest", od);
	jw_kv_string(&w, "actions_digest", ad);
	jw_key(&w, "options");
	jw_object_begin(&w);
	jw_kv_bool(&w, "prune", a->plan.prune);
	jw_kv_bool(&w, "allow_empty", a->plan.allow_empty);
	jw_kv_int(&w, "max_removals", a->plan.max_removals);
	jw_kv_bool(&w, "balance", a->plan.balance);
	write_list(&w, "targets", a->plan.targets, a->plan.n_targets);
	write_list(&w, "allow_destroy", a->plan.allow_destroy, a->plan.n_allow_destroy);
	write_list(&w, "adopt", a->plan.adopt, a->plan.n_adopt);
	jw_object_end(&w);
	jw_key(&w, "plan");
	/* the plan object as plan -o json prints it, nested one level */
	for (size_t i = 0; i < pj.len; i++) {
		strbuf_addc(&sb, pj.buf[i]);
		if (pj.buf[i] == '\n')
			strbuf_adds(&sb, "  ");
	}
	strbuf_adds(&sb, "\n}\n");

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, sb.buf, sb.len) != (ssize_t)sb.len || fsync(fd) || close(fd)) {
		fd = -1;
		err_set(err, "cannot write '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		err_set(err, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	strbuf_release(&sb);
	strbuf_release(&pj);
	return rc;
}

/* ---- reading (JSON is YAML's flow style: libyaml's document model) ---- */

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
		if (str_eq(scalar(yaml_document_get_node(doc, p->key)), key))
			return yaml_document_get_node(doc, p->value);
	return NULL;
}

static char *get_str(yaml_document_t *doc, yaml_node_t *map, const char *key, const char *path,
		     struct errbuf *err)
{
	const char *v = scalar(map_get(doc, map, key));
	if (!v || !*v) {
		err_set(err, "'%s': not a saved plan: '%s' is missing", path, key);
		return NULL;
	}
	return xstrdup(v);
}

static bool get_bool(yaml_document_t *doc, yaml_node_t *map, const char *key, bool def)
{
	const char *v = scalar(map_get(doc, map, key));
	return v ? !strcmp(v, "true") : def;
}

static void get_list(yaml_document_t *doc, yaml_node_t *map, const char *key, char ***out,
		     size_t *n)
{
	yaml_node_t *l = map_get(doc, map, key);
	if (!l || l->type != YAML_SEQUENCE_NODE)
		return;
	for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top; it++) {
		const char *v = scalar(yaml_document_get_node(doc, *it));
		if (!v)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(v);
	}
}

int saved_plan_read(const char *path, struct saved_plan *sp, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *opts, *plan;
	int64_t v;
	int rc = -1;
	bool have_doc = false;

	memset(sp, 0, sizeof(*sp));
	if (strbuf_read_file(&sb, path, SAVED_PLAN_MAX_BYTES)) {
		err_set(err, "cannot read saved plan '%s': %s", path,
			errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
		goto out;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)sb.buf, sb.len);
	have_doc = yaml_parser_load(&parser, &doc) != 0;
	yaml_parser_delete(&parser);
	if (!have_doc || !(root = yaml_document_get_root_node(&doc)) ||
	    root->type != YAML_MAPPING_NODE ||
	    !str_eq(scalar(map_get(&doc, root, "kind")), "vem-saved-plan")) {
		err_set(err, "'%s' is not a saved plan (make one with 'vem plan --out FILE')", path);
		goto out;
	}
	if (parse_int64(scalar(map_get(&doc, root, "format")) ? scalar(map_get(&doc, root, "format")) : "",
			&v) || v != SAVED_PLAN_FORMAT) {
		err_set(err, "'%s': saved plan format %s is not supported (this vem reads format %d)",
			path, scalar(map_get(&doc, root, "format")) ? scalar(map_get(&doc, root, "format")) : "?",
			SAVED_PLAN_FORMAT);
		goto out;
	}
	if (!(sp->cluster = get_str(&doc, root, "cluster", path, err)) ||
	    !(sp->source = get_str(&doc, root, "source", path, err)) ||
	    !(sp->revision = get_str(&doc, root, "revision", path, err)) ||
	    !(sp->observed_digest = get_str(&doc, root, "observed_digest", path, err)) ||
	    !(sp->actions_digest = get_str(&doc, root, "actions_digest", path, err)))
		goto out;
	opts = map_get(&doc, root, "options");
	sp->prune = get_bool(&doc, opts, "prune", true);
	sp->allow_empty = get_bool(&doc, opts, "allow_empty", false);
	sp->balance = get_bool(&doc, opts, "balance", true);
	if (!scalar(map_get(&doc, opts, "max_removals")) ||
	    parse_int64(scalar(map_get(&doc, opts, "max_removals")), &v) || v < -1 || v > 1000000) {
		err_set(err, "'%s': not a saved plan: bad 'options.max_removals'", path);
		goto out;
	}
	sp->max_removals = (int)v;
	get_list(&doc, opts, "targets", &sp->targets, &sp->n_targets);
	get_list(&doc, opts, "allow_destroy", &sp->allow_destroy, &sp->n_allow_destroy);
	get_list(&doc, opts, "adopt", &sp->adopt, &sp->n_adopt);
	plan = map_get(&doc, root, "plan");
	if (scalar(map_get(&doc, plan, "changes")) &&
	    !parse_int64(scalar(map_get(&doc, plan, "changes")), &v) && v >= 0)
		sp->changes = (size_t)v;
	rc = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	strbuf_release(&sb);
	if (rc)
		saved_plan_release(sp);
	return rc;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void saved_plan_release(struct saved_plan *sp)
{
	free(sp->cluster);
	free(sp->source);
	free(sp->revision);
	free(sp->observed_digest);
	free(sp->actions_digest);
	free_list(sp->targets, sp->n_targets);
	free_list(sp->allow_destroy, sp->n_allow_destroy);
	free_list(sp->adopt, sp->n_adopt);
	memset(sp, 0, sizeof(*sp));
}

void saved_plan_options(const struct saved_plan *sp, struct apply_args *a)
{
	a->plan.prune = sp->prune;
	a->plan.allow_empty = sp->allow_empty;
	a->plan.balance = sp->balance;
	a->plan.max_removals = sp->max_removals;
	a->plan.targets = (const char *const *)sp->targets;
	a->plan.n_targets = sp->n_targets;
	a->plan.allow_destroy = (const char *const *)sp->allow_destroy;
	a->plan.n_allow_destroy = sp->n_allow_destroy;
	a->plan.adopt = (const char *const *)sp->adopt;
	a->plan.n_adopt = sp->n_adopt;
}
