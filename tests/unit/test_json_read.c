/*
 * test_json_read.c - util/json_read.c: one JSON value as a tree.
 */
#include "test.h"
#include "util/json.h"

static int parse(struct json_doc *d, const char *text, size_t max)
{
	return json_doc_parse(d, text, strlen(text), max);
}

TEST(test_json_read_tree)
{
	struct json_doc d;
	const struct json_node *root, *arr, *k, *v;

	CHECK_INT(parse(&d, "{\"a\": [1, \"two\", true, null, {}],\n \"b\": {\"c\": -2.5e3}}", 100), 0);
	root = json_doc_root(&d);
	CHECK(root && root->type == JSON_OBJ);
	CHECK_INT(root->n, 2);
	arr = json_get(&d, root, "a");
	CHECK(arr && arr->type == JSON_ARR);
	CHECK_INT(arr->n, 5);
	CHECK_INT(json_member(&d, arr, 0, NULL)->type, JSON_NUM);
	CHECK_STR(json_member(&d, arr, 0, NULL)->s, "1");
	CHECK_INT(json_member(&d, arr, 1, NULL)->type, JSON_STR);
	CHECK_STR(json_member(&d, arr, 1, NULL)->s, "two");
	CHECK_INT(json_member(&d, arr, 2, NULL)->type, JSON_BOOL);
	CHECK_INT(json_member(&d, arr, 3, NULL)->type, JSON_NULL);
	CHECK_INT(json_member(&d, arr, 4, NULL)->type, JSON_OBJ);
	CHECK_INT(json_member(&d, arr, 4, NULL)->n, 0);
	v = json_member(&d, root, 1, &k);
	CHECK_STR(k->s, "b");
	CHECK_INT(v->line, 2);
	CHECK_INT(v->col, 7);
	CHECK_STR(json_get_text(&d, v, "c"), "-2.5e3");
	/* absent, null and containers have no text */
	CHECK(!json_get_text(&d, root, "a"));
	CHECK(!json_get_text(&d, root, "zz"));
	CHECK(!json_get(&d, arr, "a"));
	CHECK(!json_get(&d, NULL, "a"));
	json_doc_release(&d);
	CHECK(!json_doc_root(&d));
}

TEST(test_json_read_escapes)
{
	struct json_doc d;

	CHECK_INT(parse(&d, "{\"s\": \"a\\\"b\\u00e9\\n\"}", 10), 0);
	CHECK_STR(json_get_text(&d, json_doc_root(&d), "s"), "a\"b\xc3\xa9\n");
	json_doc_release(&d);
}

/* Each bad input, the problem and where it is. */
TEST(test_json_read_errors)
{
	static const struct {
		const char *text;
		size_t max;
		const char *problem;
		int line, col;
	} cases[] = {
		{ "[1, 2, 3]", 3, "more than 3 values", 1, 8 },
		{ "{\"a\": nope}", 10, "unknown literal", 1, 7 },
		{ "{\"a\": 1}\n---\n{}", 10, "text after the JSON value", 2, 1 },
		{ "", 10, "the file is empty", 1, 1 },
		{ "[&x 1, *x]", 10, "aliases have no place in JSON", 1, 8 },
		{ "{[1]: 2}", 10, "expected a string as the key", 1, 2 },
	};
	struct json_doc d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(parse(&d, cases[i].text, cases[i].max), -1);
		CHECK_STR(d.problem, cases[i].problem);
		CHECK_INT(d.problem_line, cases[i].line);
		CHECK_INT(d.problem_col, cases[i].col);
		json_doc_release(&d);
	}
}

TEST(test_json_read_depth)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_doc d;

	for (int i = 0; i < 64; i++)
		strbuf_adds(&sb, "[");
	for (int i = 0; i < 64; i++)
		strbuf_adds(&sb, "]");
	CHECK_INT(json_doc_parse(&d, sb.buf, sb.len, 1000), 0);
	json_doc_release(&d);
	strbuf_reset(&sb);
	for (int i = 0; i < 65; i++)
		strbuf_adds(&sb, "[");
	CHECK_INT(json_doc_parse(&d, sb.buf, sb.len, 1000), -1);
	CHECK_STR(d.problem, "nested too deeply");
	json_doc_release(&d);
	strbuf_release(&sb);
}

/* Strings longer than one arena chunk keep their bytes. */
TEST(test_json_read_long_string)
{
	size_t n = (1u << 20) + 100;
	char *text = xmalloc(n + 3);
	struct json_doc d;

	text[0] = '"';
	memset(text + 1, 'x', n);
	text[n + 1] = '"';
	text[n + 2] = '\0';
	CHECK_INT(json_doc_parse(&d, text, n + 2, 10), 0);
	CHECK_INT(strlen(json_doc_root(&d)->s), n);
	json_doc_release(&d);
	free(text);
}

int main(void)
{
	RUN(test_json_read_tree);
	RUN(test_json_read_escapes);
	RUN(test_json_read_errors);
	RUN(test_json_read_depth);
	RUN(test_json_read_long_string);
	return test_done();
}
