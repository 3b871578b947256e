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

/* ---- reading ---- */

/* A saved plan holds a few values per action; this bounds the tree built
 * for a file of the largest size read. */
#define SAVED_PLAN_MAX_VALUES (8u << 20)

static char *get_str(const struct json_doc *doc, const struct json_node *obj, const char *key,
		     const char *path, struct errbuf *err)
{
	const struct json_node *n = json_get(doc, obj, key);

	if (!n || n->type != JSON_STR || !*n->s) {
		err_set(err, "'%s': not a saved plan: '%s' is missing or not a string", path, key);
		return NULL;
	}
	return xstrdup(n->s);
}

static int get_bool(const struct json_doc *doc, const struct json_node *obj, const char *key,
		    bool def, bool *out, const char *path, struct errbuf *err)
{
	const struct json_node *n = json_get(doc, obj, key);

	if (!n) {
		*out = def;
		return 0;
	}
	if (n->type != JSON_BOOL)
		return err_set(err, "'%s': not a saved plan: 'options.%s' is not true or false", path,
			       key);
	*out = !strcmp(n->s, "true");
	return 0;
}

static int get_list(const struct json_doc *doc, const struct json_node *obj, const char *key,
		    char ***out, size_t *n, const char *path, struct errbuf *err)
{
	const struct json_node *l = json_get(doc, obj, key);

	if (!l)
		return 0;
	if (l->type != JSON_ARR)
		return err_set(err, "'%s': not a saved plan: 'options.%s' is not a list", path, key);
	for (size_t i = 0; i < l->n; i++) {
		const struct json_node *v = json_member(doc, l, i, NULL);
		if (v->type != JSON_STR)
			return err_set(err, "'%s': not a saved plan: 'options.%s' holds a value that "
				       "is not a string", path, key);
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(v->s);
	}
	return 0;
}

int saved_plan_read(const char *path, struct saved_plan *sp, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_doc doc;
	const struct json_node *root, *opts, *plan;
	const char *format, *text;
	int64_t v;
	int rc = -1;

	memset(sp, 0, sizeof(*sp));
	memset(&doc, 0, sizeof(doc));
	if (strbuf_read_file(&sb, path, SAVED_PLAN_MAX_BYTES)) {
		err_set(err, "cannot read saved plan '%s': %s", path,
			errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
		goto out;
	}
	if (json_doc_parse(&doc, sb.buf, sb.len, SAVED_PLAN_MAX_VALUES)) {
		err_set(err, "'%s' is not a saved plan (make one with 'vem plan --out FILE'): "
			"line %d column %d: %s", path, doc.problem_line, doc.problem_col,
			doc.problem);
		goto out;
	}
	root = json_doc_root(&doc);
	text = json_get_text(&doc, root, "kind");
	if (!root || root->type != JSON_OBJ || !text || strcmp(text, "vem-saved-plan")) {
		err_set(err, "'%s' is not a saved plan (make one with 'vem plan --out FILE')", path);
		goto out;
	}
	format = json_get_text(&doc, root, "format");
	if (!format || parse_int64(format, &v) || v != SAVED_PLAN_FORMAT) {
		err_set(err, "'%s': saved plan format %s is not supported (this vem reads format %d)",
			path, format ? format : "?", SAVED_PLAN_FORMAT);
		goto out;
	}
	if (!(sp->cluster = get_str(&doc, root, "cluster", path, err)) ||
	    !(sp->source = get_str(&doc, root, "source", path, err)) ||
	    !(sp->revision = get_str(&doc, root, "revision", path, err)) ||
	    !(sp->observed_digest = get_str(&doc, root, "observed_digest", path, err)) ||
	    !(sp->actions_digest = get_str(&doc, root, "actions_digest", path, err)))
		goto out;
	opts = json_get(&doc, root, "options");
	if (!opts || opts->type != JSON_OBJ) {
		err_set(err, "'%s': not a saved plan: 'options' is missing or not an object", path);
		goto out;
	}
	if (get_bool(&doc, opts, "prune", true, &sp->prune, path, err) ||
	    get_bool(&doc, opts, "allow_empty", false, &sp->allow_empty, path, err) ||
	    get_bool(&doc, opts, "balance", true, &sp->balance, path, err))
		goto out;
	text = json_get_text(&doc, opts, "max_removals");
	if (!text || parse_int64(text, &v) || v < -1 || v > 1000000) {
		err_set(err, "'%s': not a saved plan: bad 'options.max_removals'", path);
		goto out;
	}
	sp->max_removals = (int)v;
	if (get_list(&doc, opts, "targets", &sp->targets, &sp->n_targets, path, err) ||
	    get_list(&doc, opts, "allow_destroy", &sp->allow_destroy, &sp->n_allow_destroy, path,
		     err) ||
	    get_list(&doc, opts, "adopt", &sp->adopt, &sp->n_adopt, path, err))
		goto out;
	plan = json_get(&doc, root, "plan");
	text = json_get_text(&doc, plan, "changes");
	if (text && !parse_int64(text, &v) && v >= 0)
		sp->changes = (size_t)v;
	rc = 0;
out:
	json_doc_release(&doc);
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
