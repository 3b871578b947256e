/*
 * compose.c - YAML documents from libyaml's event stream (compose.h).
 *
 * The document is libyaml's own yaml_document_t, filled the way libyaml's
 * loader fills it, so yaml_document_delete frees it: node ids are 1-based
 * indexes into doc->nodes, a collection is added to its parent when it
 * starts, strings are taken over from the events (malloc'd by libyaml).
 */
#include "compose.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct anchor {
	char *name;
	int id;
	yaml_mark_t mark;
};

struct composer {
	yaml_document_t *doc;
	int max_depth;
	int *open;                 /* ids of the collections open, outermost first */
	int *key;                  /* per open mapping: its pending key's id, 0 none */
	int depth;
	struct anchor *anchors;
	size_t n_anchors, a_anchors;
	size_t *slots, n_slots;    /* open addressing: index + 1 into anchors */
	struct compose_error *err;
};

static void PRINTF_LIKE(3, 4) compose_fail(struct composer *k, const yaml_mark_t *m,
					     const char *fmt, ...)
{
	va_list ap;
	k->err->line = (int)m->line + 1;
	k->err->column = (int)m->column + 1;
	va_start(ap, fmt);
	vsnprintf(k->err->msg, sizeof(k->err->msg), fmt, ap);
	va_end(ap);
}

/* Append to the stack s (libyaml's start/top/end) one element. */
#define STACK_PUSH(s, v)                                                                  \
	do {                                                                              \
		if ((s).top == (s).end) {                                                 \
			size_t nr_ = (size_t)((s).top - (s).start);                       \
			size_t cap_ = nr_ ? 2 * nr_ : 8;                                  \
			(s).start = xrealloc((s).start, cap_ * sizeof(*(s).start));       \
			(s).top = (s).start + nr_;                                        \
			(s).end = (s).start + cap_;                                       \
		}                                                                         \
		*(s).top++ = (v);                                                         \
	} while (0)

/* A new node of type t at mark m; its id. */
static int node_add(struct composer *k, yaml_node_type_t t, const yaml_mark_t *m)
{
	yaml_node_t n = { .type = t, .start_mark = *m, .end_mark = *m };

	STACK_PUSH(k->doc->nodes, n);
	return (int)(k->doc->nodes.top - k->doc->nodes.start);
}

static yaml_node_t *node_at(const struct composer *k, int id)
{
	return k->doc->nodes.start + id - 1;
}

/* An event's string, taken over (the event frees what is left in it). */
static char *take(yaml_char_t **s)
{
	char *t = (char *)*s;
	*s = NULL;
	return t;
}

/* Node id goes into the innermost open collection (none: it is the root). */
static void child_add(struct composer *k, int id)
{
	yaml_node_t *parent;
	int *key;

	if (!k->depth)
		return;
	parent = node_at(k, k->open[k->depth - 1]);
	if (parent->type == YAML_SEQUENCE_NODE) {
		STACK_PUSH(parent->data.sequence.items, id);
		return;
	}
	key = &k->key[k->depth - 1];
	if (!*key) {
		*key = id;
		return;
	}
	STACK_PUSH(parent->data.mapping.pairs, ((yaml_node_pair_t){ *key, id }));
	*key = 0;
}

/*
 * Anchors by name, in a hash table: a file may define and use many (a
 * linear search, as libyaml's loader does, takes seconds for a 1 MB file of
 * 40,000 anchors and aliases, and grows with the square of the file).
 */
static size_t *anchor_slot(const struct composer *k, const char *name)
{
	size_t mask = k->n_slots - 1, i = (size_t)str_hash(name, 0) & mask;

	while (k->slots[i] && strcmp(k->anchors[k->slots[i] - 1].name, name))
		i = (i + 1) & mask;
	return &k->slots[i];
}

/* Remember anchor (taken over) for node id; false if it is defined already. */
static bool anchor_add(struct composer *k, char *anchor, int id, const yaml_mark_t *m)
{
	size_t *slot;

	if (!anchor)
		return true;
	if (2 * (k->n_anchors + 1) > k->n_slots) {
		k->n_slots = k->n_slots ? 2 * k->n_slots : 64;
		free(k->slots);
		k->slots = xcalloc(k->n_slots, sizeof(*k->slots));
		for (size_t i = 0; i < k->n_anchors; i++)
			*anchor_slot(k, k->anchors[i].name) = i + 1;
	}
	slot = anchor_slot(k, anchor);
	if (*slot) {
		const struct anchor *first = &k->anchors[*slot - 1];
		compose_fail(k, m, "invalid YAML: anchor '&%.64s' is defined twice (first at %d:%d)",
			     anchor, (int)first->mark.line + 1, (int)first->mark.column + 1);
		free(anchor);
		return false;
	}
	ALLOC_GROW(k->anchors, k->n_anchors + 1, k->a_anchors);
	k->anchors[k->n_anchors++] = (struct anchor){ anchor, id, *m };
	*slot = k->n_anchors;
	return true;
}

static int anchor_find(const struct composer *k, const char *anchor)
{
	size_t *slot;

	if (!k->n_slots)
		return 0;
	slot = anchor_slot(k, anchor);
	return *slot ? k->anchors[*slot - 1].id : 0;
}

/* One event into the document: 1 done (the document ended), 0 go on, -1 error. */
static int compose_event(struct composer *k, yaml_event_t *ev)
{
	yaml_node_t *n;
	int id;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		id = node_add(k, YAML_SCALAR_NODE, &ev->start_mark);
		n = node_at(k, id);
		n->data.scalar.value = (yaml_char_t *)take(&ev->data.scalar.value);
		n->data.scalar.length = ev->data.scalar.length;
		n->data.scalar.style = ev->data.scalar.style;
		if (!anchor_add(k, take(&ev->data.scalar.anchor), id, &ev->start_mark))
			return -1;
		child_add(k, id);
		return 0;
	case YAML_ALIAS_EVENT:
		id = anchor_find(k, (const char *)ev->data.alias.anchor);
		if (!id) {
			compose_fail(k, &ev->start_mark, "invalid YAML: alias '*%.64s' names no anchor "
				     "defined before it",
				     (const char *)ev->data.alias.anchor);
			return -1;
		}
		child_add(k, id);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		yaml_char_t **anchor = seq ? &ev->data.sequence_start.anchor : &ev->data.mapping_start.anchor;
		if (k->depth >= k->max_depth) {
			compose_fail(k, &ev->start_mark, "nesting is deeper than %d levels", k->max_depth);
			return -1;
		}
		id = node_add(k, seq ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE, &ev->start_mark);
		if (seq)
			node_at(k, id)->data.sequence.style = ev->data.sequence_start.style;
		else
			node_at(k, id)->data.mapping.style = ev->data.mapping_start.style;
		if (!anchor_add(k, take(anchor), id, &ev->start_mark))
			return -1;
		child_add(k, id);
		k->open[k->depth] = id;
		k->key[k->depth] = 0;
		k->depth++;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (k->depth > 0) {
			k->depth--;
			node_at(k, k->open[k->depth])->end_mark = ev->end_mark;
		}
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

enum compose_result yaml_compose(yaml_parser_t *parser, yaml_document_t *doc, int max_depth,
				 struct compose_error *err)
{
	struct composer k = { .doc = doc, .max_depth = max_depth, .err = err };
	enum compose_result ret = COMPOSE_ERROR;
	yaml_event_t ev;
	bool started = false;

	memset(doc, 0, sizeof(*doc));
	k.open = xcalloc((size_t)max_depth + 1, sizeof(*k.open));
	k.key = xcalloc((size_t)max_depth + 1, sizeof(*k.key));
	for (;;) {
		int r;
		if (!yaml_parser_parse(parser, &ev)) {
			const yaml_mark_t *m = parser->problem ? &parser->problem_mark : &parser->context_mark;
			compose_fail(&k, m, "invalid YAML: %s%s%s",
				     parser->problem ? parser->problem : "syntax error",
				     parser->context ? " " : "", parser->context ? parser->context : "");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_NO_EVENT) {
			yaml_event_delete(&ev);
			ret = COMPOSE_END;
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT)
			started = true;
		r = started ? compose_event(&k, &ev) : 0;
		yaml_event_delete(&ev);
		if (r) {
			ret = r > 0 ? COMPOSE_DOCUMENT : COMPOSE_ERROR;
			break;
		}
	}
	if (ret != COMPOSE_DOCUMENT)
		yaml_document_delete(doc);
	for (size_t i = 0; i < k.n_anchors; i++)
		free(k.anchors[i].name);
	free(k.anchors);
	free(k.slots);
	free(k.open);
	free(k.key);
	return ret;
}
