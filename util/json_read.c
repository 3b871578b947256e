/*
 * json_read.c - one JSON value as a compact tree (see json.h).
 *
 * Documents of tens of megabytes (snapshots of thousands of hosts) are
 * read, and libyaml's document model costs several times the memory of the
 * file. So the reader builds its tree from libyaml's event stream (JSON is
 * YAML flow style): every value is one node, the members of an array or
 * object are contiguous in kids[], and scalars live in a string arena of
 * large chunks.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define JSON_MAX_DEPTH 64
#define ARENA_CHUNK (1u << 20)

struct jframe {
	uint32_t self;
	size_t base;              /* its members start at stack[base] */
};

/* The parse in progress: the document and what only parsing needs. */
struct jparser {
	struct json_doc *doc;
	size_t max_values;
	uint32_t *stack;          /* members of the containers being parsed */
	size_t n_stack, a_stack;
	struct jframe *frames;
	size_t n_frames, a_frames;
	size_t used;              /* bytes used of the last arena chunk */
};

static int jfail(struct jparser *j, const char *problem, const yaml_mark_t *m)
{
	struct json_doc *d = j->doc;

	if (!d->problem[0]) {
		snprintf(d->problem, sizeof(d->problem), "%s", problem);
		d->problem_line = (int)m->line + 1;
		d->problem_col = (int)m->column + 1;
	}
	return -1;
}

static const char *jstrdup(struct jparser *j, const char *s, size_t len)
{
	struct json_doc *d = j->doc;
	char *out;

	if (!d->n_chunks || j->used + len + 1 > ARENA_CHUNK) {
		ALLOC_GROW(d->chunks, d->n_chunks + 1, d->a_chunks);
		d->chunks[d->n_chunks++] = xmalloc(len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK);
		j->used = 0;
	}
	out = d->chunks[d->n_chunks - 1] + j->used;
	memcpy(out, s, len);
	out[len] = '\0';
	j->used += len + 1;
	return out;
}

/* A new node, a member of the container being parsed (if any). */
static int jadd(struct jparser *j, enum json_type t, const yaml_mark_t *m, uint32_t *out)
{
	struct json_doc *d = j->doc;
	struct json_node *n;

	if (j->n_frames) {
		const struct jframe *f = &j->frames[j->n_frames - 1];
		if (d->nodes[f->self].type == JSON_OBJ && (j->n_stack - f->base) % 2 == 0 &&
		    t != JSON_STR && t != JSON_NUM && t != JSON_BOOL && t != JSON_NULL)
			return jfail(j, "expected a string as the key", m);
	} else if (d->n_nodes) {
		return jfail(j, "text after the JSON value", m);
	}
	if (d->n_nodes >= j->max_values) {
		char msg[64];
		snprintf(msg, sizeof(msg), "more than %zu values", j->max_values);
		return jfail(j, msg, m);
	}
	ALLOC_GROW(d->nodes, d->n_nodes + 1, d->a_nodes);
	n = &d->nodes[d->n_nodes];
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	*out = (uint32_t)d->n_nodes++;
	if (j->n_frames) {
		ALLOC_GROW(j->stack, j->n_stack + 1, j->a_stack);
		j->stack[j->n_stack++] = *out;
	}
	return 0;
}

static int jscalar(struct jparser *j, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	enum json_type t = JSON_STR;
	uint32_t id;
	double d;

	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcmp(v, "null"))
			t = JSON_NULL;
		else if (!strcmp(v, "true") || !strcmp(v, "false"))
			t = JSON_BOOL;
		else if (!parse_double(v, &d))
			t = JSON_NUM;
		else
			return jfail(j, "unknown literal", &ev->start_mark);
	}
	if (jadd(j, t, &ev->start_mark, &id))
		return -1;
	j->doc->nodes[id].s = jstrdup(j, v, len);
	return 0;
}

static int jopen(struct jparser *j, enum json_type t, const yaml_mark_t *m)
{
	uint32_t id;

	if (j->n_frames >= JSON_MAX_DEPTH)
		return jfail(j, "nested too deeply", m);
	if (jadd(j, t, m, &id))
		return -1;
	ALLOC_GROW(j->frames, j->n_frames + 1, j->a_frames);
	j->frames[j->n_frames].self = id;
	j->frames[j->n_frames++].base = j->n_stack;
	return 0;
}

static void jclose(struct jparser *j)
{
	struct json_doc *d = j->doc;
	const struct jframe *f = &j->frames[--j->n_frames];
	size_t n = j->n_stack - f->base;
	struct json_node *self = &d->nodes[f->self];

	if (n) {   /* an empty container may come before any kids[] exists */
		ALLOC_GROW(d->kids, d->n_kids + n, d->a_kids);
		memcpy(d->kids + d->n_kids, j->stack + f->base, n * sizeof(*d->kids));
	}
	self->first = (uint32_t)d->n_kids;
	self->n = (uint32_t)(self->type == JSON_OBJ ? n / 2 : n);
	d->n_kids += n;
	j->n_stack = f->base;
}

int json_doc_parse(struct json_doc *doc, const char *buf, size_t len, size_t max_values)
{
	struct jparser j = { .doc = doc, .max_values = max_values };
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0, docs = 0;
	bool done = false;

	memset(doc, 0, sizeof(*doc));
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = jfail(&j, p.problem ? p.problem : "cannot parse", &p.problem_mark);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++)
				rc = jfail(&j, "text after the JSON value", &ev.start_mark);
			break;
		case YAML_MAPPING_START_EVENT: rc = jopen(&j, JSON_OBJ, &ev.start_mark); break;
		case YAML_SEQUENCE_START_EVENT: rc = jopen(&j, JSON_ARR, &ev.start_mark); break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT: jclose(&j); break;
		case YAML_SCALAR_EVENT: rc = jscalar(&j, &ev); break;
		case YAML_ALIAS_EVENT: rc = jfail(&j, "aliases have no place in JSON", &ev.start_mark); break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (!rc && !doc->n_nodes) {
		yaml_mark_t m = { 0, 0, 0 };
		rc = jfail(&j, "the file is empty", &m);
	}
	free(j.stack);
	free(j.frames);
	return rc;
}

void json_doc_release(struct json_doc *doc)
{
	for (size_t i = 0; i < doc->n_chunks; i++)
		free(doc->chunks[i]);
	free(doc->chunks);
	free(doc->nodes);
	free(doc->kids);
	memset(doc, 0, sizeof(*doc));
}

const struct json_node *json_doc_root(const struct json_doc *doc)
{
	return doc->n_nodes ? &doc->nodes[0] : NULL;
}

const struct json_node *json_member(const struct json_doc *doc, const struct json_node *c,
				    size_t i, const struct json_node **key)
{
	if (c->type == JSON_OBJ) {
		if (key)
			*key = &doc->nodes[doc->kids[c->first + 2 * i]];
		return &doc->nodes[doc->kids[c->first + 2 * i + 1]];
	}
	if (key)
		*key = NULL;
	return &doc->nodes[doc->kids[c->first + i]];
}

const struct json_node *json_get(const struct json_doc *doc, const struct json_node *obj,
				 const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++) {
		const struct json_node *k, *v = json_member(doc, obj, i, &k);
		/* the first byte first: most keys differ there, and strcmp is
		 * a call per key of each object read */
		if (k->s[0] == key[0] && !strcmp(k->s, key))
			return v;
	}
	return NULL;
}

const char *json_get_text(const struct json_doc *doc, const struct json_node *obj,
			  const char *key)
{
	const struct json_node *n = json_get(doc, obj, key);

	if (!n || n->type == JSON_NULL || n->type == JSON_ARR || n->type == JSON_OBJ)
		return NULL;
	return n->s;
}
