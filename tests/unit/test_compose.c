/*
 * test_compose.c - schema/compose.c: YAML documents from libyaml's event
 * stream, the same as yaml_parser_load builds, with a nesting bound.
 */
#include "test.h"
#include "schema/compose.h"
#include "util/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether two documents have the same nodes: types, marks, scalars with
 * their style, collections with the same children (ids: aliases resolve to
 * the same node in both). */
static bool same_document(const yaml_document_t *a, const yaml_document_t *b, char *why, size_t len)
{
	size_t na = (size_t)(a->nodes.top - a->nodes.start), nb = (size_t)(b->nodes.top - b->nodes.start);

	if (na != nb)
		return snprintf(why, len, "%zu nodes against %zu", na, nb), false;
	for (size_t i = 0; i < na; i++) {
		const yaml_node_t *x = &a->nodes.start[i], *y = &b->nodes.start[i];
		if (x->type != y->type || x->start_mark.line != y->start_mark.line ||
		    x->start_mark.column != y->start_mark.column)
			return snprintf(why, len, "node %zu: type or mark", i + 1), false;
		switch (x->type) {
		case YAML_SCALAR_NODE:
			if (x->data.scalar.length != y->data.scalar.length ||
			    memcmp(x->data.scalar.value, y->data.scalar.value, x->data.scalar.length) ||
			    x->data.scalar.style != y->data.scalar.style)
				return snprintf(why, len, "node %zu: scalar", i + 1), false;
			break;
		case YAML_SEQUENCE_NODE: {
			size_t n = (size_t)(x->data.sequence.items.top - x->data.sequence.items.start);
			if (n != (size_t)(y->data.sequence.items.top - y->data.sequence.items.start) ||
			    (n && memcmp(x->data.sequence.items.start, y->data.sequence.items.start,
					 n * sizeof(yaml_node_item_t))))
				return snprintf(why, len, "node %zu: items", i + 1), false;
			break;
		}
		case YAML_MAPPING_NODE: {
			size_t n = (size_t)(x->data.mapping.pairs.top - x->data.mapping.pairs.start);
			if (n != (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start))
				return snprintf(why, len, "node %zu: pairs", i + 1), false;
			for (size_t p = 0; p < n; p++)
				if (x->data.mapping.pairs.start[p].key != y->data.mapping.pairs.start[p].key ||
				    x->data.mapping.pairs.start[p].value != y->data.mapping.pairs.start[p].value)
					return snprintf(why, len, "node %zu: pair %zu", i + 1, p), false;
			break;
		}
		default:
			return snprintf(why, len, "node %zu: no type", i + 1), false;
		}
	}
	return true;
}

/* The deepest nesting of collections in text (libyaml's events). */
static int nesting(const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, deepest = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (yaml_parser_parse(&p, &ev)) {
		yaml_event_type_t t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)
			depth++;
		else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
			depth--;
		if (depth > deepest)
			deepest = depth;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return deepest;
}

/*
 * text through yaml_compose and through yaml_parser_load, document by
 * document: the same documents, or both fail at the same place. Returns the
 * number of documents compared, -1 on a difference (printed).
 */
static int compare(const char *name, const char *text, size_t len)
{
	yaml_parser_t pa, pb;
	int docs = 0;

	yaml_parser_initialize(&pa);
	yaml_parser_initialize(&pb);
	yaml_parser_set_input_string(&pa, (const unsigned char *)text, len);
	yaml_parser_set_input_string(&pb, (const unsigned char *)text, len);
	for (;;) {
		yaml_document_t a, b;
		struct compose_error e;
		enum compose_result r = yaml_compose(&pa, &a, 64, &e);
		int ok = yaml_parser_load(&pb, &b);
		char why[160];

		if (r == COMPOSE_ERROR) {
			if (ok)
				yaml_document_delete(&b);
			if (strstr(e.msg, "nesting is deeper") && nesting(text, len) > 64)
				break;       /* libyaml has no bound */
			if (ok && !strstr(e.msg, "anchor")) {
				fprintf(stderr, "%s: compose fails (%d:%d %s), libyaml loads\n", name,
					e.line, e.column, e.msg);
				docs = -1;
			} else if (!ok && (e.line != (int)pb.problem_mark.line + 1 ||
					   e.column != (int)pb.problem_mark.column + 1)) {
				fprintf(stderr, "%s: errors at %d:%d and %d:%d\n", name, e.line, e.column,
					(int)pb.problem_mark.line + 1, (int)pb.problem_mark.column + 1);
				docs = -1;
			}
			break;
		}
		if (!ok) {
			fprintf(stderr, "%s: libyaml fails (%s), compose does not\n", name,
				pb.problem ? pb.problem : "?");
			yaml_document_delete(&a);
			docs = -1;
			break;
		}
		if (r == COMPOSE_END) {
			bool empty = !yaml_document_get_root_node(&b);
			yaml_document_delete(&a);
			yaml_document_delete(&b);
			if (!empty) {
				fprintf(stderr, "%s: compose ends, libyaml has a document\n", name);
				docs = -1;
			}
			break;
		}
		if (!same_document(&a, &b, why, sizeof(why))) {
			fprintf(stderr, "%s: document %d differs: %s\n", name, docs + 1, why);
			docs = -1;
		}
		yaml_document_delete(&a);
		yaml_document_delete(&b);
		if (docs < 0)
			break;
		docs++;
	}
	yaml_parser_delete(&pa);
	yaml_parser_delete(&pb);
	return docs;
}

static const char *const texts[] = {
	"a: 1\nb: [x, {y: z}]\n",
	"- &a {k: v}\n- *a\n- *a\n",
	"x: &s 'single'\ny: \"double\"\nz: |\n  literal\nw: >\n  folded\nv: *s\n",
	"---\na: 1\n---\n- 2\n...\n---\n",
	"---\n---\nfoo: 1\n",
	"",
	"# only a comment\n",
	"? complex\n: key\n[a, b]: flow key\n",
	"&r {self: *r}\n",
	"base: &b {m: 1}\nvm: {<<: *b, n: 2}\nlist: [&i 1, *i, *i]\n",
	"!!map {a: !!str 1, b: !custom 2}\n",
	"a: {\n",
	"- a\n b: c\n",
	"key: [unterminated\n",
};

TEST(test_compose_matches_libyaml)
{
	int compared = 0;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		char name[32];
		snprintf(name, sizeof(name), "text %zu", i);
		int n = compare(name, texts[i], strlen(texts[i]));
		CHECK(n >= 0);
		compared += n > 0;
	}
	CHECK(compared >= 8);
}

/* Every cluster file of the loader corpus and the examples. */
TEST(test_compose_matches_libyaml_on_files)
{
	static const char *const dirs[] = { "tests/schema/fail", "tests/schema/pass", "tests/schema/warn",
					    "examples/clusters" };
	int files = 0;

	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;
		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			char path[512];
			struct strbuf sb = STRBUF_INIT;
			size_t l = strlen(de->d_name);
			if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
			if (strbuf_read_file(&sb, path, 1 << 24) < 0) {
				strbuf_release(&sb);
				continue;
			}
			CHECK(compare(path, sb.buf, sb.len) >= 0);

			files++;
			strbuf_release(&sb);
		}
		closedir(dir);
	}
	/* run from the top of the tree: the corpus and examples have some 90 files */
	CHECK(files >= 80);
}

static enum compose_result compose_text(const char *text, struct compose_error *e, int *docs)
{
	yaml_parser_t p;
	enum compose_result r;

	*docs = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_document_t d;
		r = yaml_compose(&p, &d, 64, e);
		if (r != COMPOSE_DOCUMENT)
			break;
		yaml_document_delete(&d);
		(*docs)++;
	}
	yaml_parser_delete(&p);
	return r;
}

TEST(test_compose_errors)
{
	struct compose_error e;
	struct strbuf sb = STRBUF_INIT;
	int docs;

	CHECK_INT(compose_text("a: &x 1\nb: &x 2\n", &e, &docs), COMPOSE_ERROR);
	CHECK_STR(e.msg, "invalid YAML: anchor '&x' is defined twice (first at 1:4)");
	CHECK_INT(e.line, 2);
	CHECK_INT(e.column, 4);
	CHECK_INT(compose_text("a: 1\nb: *nowhere\n", &e, &docs), COMPOSE_ERROR);
	CHECK_STR(e.msg, "invalid YAML: alias '*nowhere' names no anchor defined before it");
	CHECK_INT(e.line, 2);
	CHECK_INT(e.column, 4);
	/* an alias before its anchor is not one to it */
	CHECK_INT(compose_text("a: *x\nb: &x 1\n", &e, &docs), COMPOSE_ERROR);
	CHECK_INT(compose_text("a: [1, 2\n", &e, &docs), COMPOSE_ERROR);
	CHECK(!strncmp(e.msg, "invalid YAML: ", 14));
	/* documents before an error are delivered */
	CHECK_INT(compose_text("a: 1\n---\nb: 2\n---\nc: [\n", &e, &docs), COMPOSE_ERROR);
	CHECK_INT(docs, 2);
	/* anchors are per document */
	CHECK_INT(compose_text("a: &x 1\n---\nb: &x 2\n", &e, &docs), COMPOSE_END);
	CHECK_INT(docs, 2);

	/* 64 levels load, 65 do not: the error is at the 65th */
	for (int i = 0; i < 64; i++)
		strbuf_addc(&sb, '[');
	for (int i = 0; i < 64; i++)
		strbuf_addc(&sb, ']');
	CHECK_INT(compose_text(sb.buf, &e, &docs), COMPOSE_END);
	CHECK_INT(docs, 1);
	strbuf_reset(&sb);
	for (int i = 0; i < 65; i++)
		strbuf_addc(&sb, '[');
	for (int i = 0; i < 65; i++)
		strbuf_addc(&sb, ']');
	CHECK_INT(compose_text(sb.buf, &e, &docs), COMPOSE_ERROR);
	CHECK_STR(e.msg, "nesting is deeper than 64 levels");
	CHECK_INT(e.line, 1);
	CHECK_INT(e.column, 65);
	strbuf_release(&sb);
}

/* A million levels of flow nesting stop at the bound (libyaml's scanner
 * would go quadratic on the whole). */
TEST(test_compose_deep_input_stops_early)
{
	size_t n = 1000000;
	char *text = xmalloc(2 * n + 1);
	struct compose_error e;
	int docs;

	memset(text, '[', n);
	memset(text + n, ']', n);
	text[2 * n] = '\0';
	CHECK_INT(compose_text(text, &e, &docs), COMPOSE_ERROR);
	CHECK_STR(e.msg, "nesting is deeper than 64 levels");
	free(text);
}

/* Many anchors: each alias is its own anchor's node (the table grows, and
 * names that share a prefix or a hash slot stay apart). */
TEST(test_compose_many_anchors)
{
	enum { N = 100000 };
	struct strbuf sb = STRBUF_INIT;
	struct compose_error e;
	yaml_parser_t p;
	yaml_document_t d;
	const yaml_node_t *root, *defs, *uses;
	bool all = true;

	strbuf_adds(&sb, "defs:\n");
	for (int i = 0; i < N; i++)
		strbuf_addf(&sb, "  - &a%d v%d\n", i, i);
	strbuf_adds(&sb, "uses:\n");
	for (int i = N; i-- > 0;)
		strbuf_addf(&sb, "  - *a%d\n", i);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)sb.buf, sb.len);
	CHECK_INT(yaml_compose(&p, &d, 64, &e), COMPOSE_DOCUMENT);
	root = yaml_document_get_root_node(&d);
	CHECK(root && root->type == YAML_MAPPING_NODE);
	defs = yaml_document_get_node(&d, root->data.mapping.pairs.start[0].value);
	uses = yaml_document_get_node(&d, root->data.mapping.pairs.start[1].value);
	CHECK_INT(defs->data.sequence.items.top - defs->data.sequence.items.start, N);
	CHECK_INT(uses->data.sequence.items.top - uses->data.sequence.items.start, N);
	for (int i = 0; i < N && all; i++) {
		int def = defs->data.sequence.items.start[i];
		int use = uses->data.sequence.items.start[N - 1 - i];
		char want[16];
		snprintf(want, sizeof(want), "v%d", i);
		const yaml_node_t *n = yaml_document_get_node(&d, use);
		all = def == use && !strcmp((const char *)n->data.scalar.value, want);
	}
	CHECK(all);
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	strbuf_release(&sb);
}

int main(void)
{
	RUN(test_compose_matches_libyaml);
	RUN(test_compose_matches_libyaml_on_files);
	RUN(test_compose_errors);
	RUN(test_compose_deep_input_stops_early);
	RUN(test_compose_many_anchors);
	return test_done();
}
