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

/* Each bad input, the problem and where it is (line and column from 1,
 * the column in characters). Inputs are given with their length: some
 * hold NUL bytes. */
#define T(s) s, sizeof(s) - 1
TEST(test_json_read_errors)
{
	static const struct {
		const char *text;
		size_t len, max;
		const char *problem;
		int line, col;
	} cases[] = {
		{ T("[1, 2, 3]"), 3, "more than 3 values", 1, 8 },
		{ T("{\"a\": nope}"), 10, "unknown literal", 1, 7 },
		{ T("[truex]"), 10, "unknown literal", 1, 2 },
		{ T("[True]"), 10, "unknown literal", 1, 2 },
		{ T("{\"a\": 1}\n---\n{}"), 10, "text after the JSON value", 2, 1 },
		{ T("{} {}"), 10, "text after the JSON value", 1, 4 },
		{ T("1 2"), 10, "text after the JSON value", 1, 3 },
		{ T("\"x\"\n\"y\""), 10, "text after the JSON value", 2, 1 },
		{ T(""), 10, "the file is empty", 1, 1 },
		{ T(" \n\t\r\n "), 10, "the file is empty", 1, 1 },
		{ T("{[1]: 2}"), 10, "expected a string as the key, found '['", 1, 2 },
		/* truncated documents */
		{ T("{\"a\": [1, 2"), 10, "the document ends where ',' or ']' is expected", 1, 12 },
		{ T("{\"a\": 1"), 10, "the document ends where ',' or '}' is expected", 1, 8 },
		{ T("{\"a\":\n"), 10, "the document ends where a value is expected", 2, 1 },
		{ T("{\"a\""), 10, "the document ends where ':' after the key is expected", 1, 5 },
		{ T("{"), 10, "the document ends where a string as the key is expected", 1, 2 },
		{ T("[1,"), 10, "the document ends where a value is expected", 1, 4 },
		{ T("[\"abc"), 10, "unterminated string", 1, 2 },
		{ T("[\"abc\\"), 10, "unterminated string", 1, 2 },
		/* commas */
		{ T("[1,,2]"), 10, "expected a value, found ','", 1, 4 },
		{ T("[1,]"), 10, "expected a value, found ']'", 1, 4 },
		{ T("{\"a\": 1,}"), 10, "expected a string as the key, found '}'", 1, 9 },
		{ T("[,1]"), 10, "expected a value, found ','", 1, 2 },
		{ T("[1 2]"), 10, "expected ',' or ']', found '2'", 1, 4 },
		{ T("{\"a\" 1}"), 10, "expected ':' after the key, found '1'", 1, 6 },
		{ T("{\"a\": 1 \"b\": 2}"), 10, "expected ',' or '}', found '\"'", 1, 9 },
		{ T("[1}"), 10, "expected ',' or ']', found '}'", 1, 3 },
		/* what YAML took and JSON does not */
		{ T("{a: 1}"), 10, "expected a string as the key, found 'a'", 1, 2 },
		{ T("['a']"), 10, "expected a value, found a single quote", 1, 2 },
		{ T("[1] # note"), 10, "text after the JSON value", 1, 5 },
		{ T("// note\n[1]"), 10, "expected a value, found '/'", 1, 1 },
		{ T("[&x 1, *x]"), 10, "expected a value, found '&'", 1, 2 },
		{ T("a: 1"), 10, "unknown literal", 1, 1 },
		{ T("- 1"), 10, "bad number: no digits after '-'", 1, 1 },
		{ T("[~]"), 10, "expected a value, found '~'", 1, 2 },
		/* numbers */
		{ T("[01]"), 10, "bad number: a leading zero", 1, 2 },
		{ T("[-01]"), 10, "bad number: a leading zero", 1, 2 },
		{ T("[1.]"), 10, "bad number: no digits after '.'", 1, 2 },
		{ T("[.5]"), 10, "expected a value, found '.'", 1, 2 },
		{ T("[+1]"), 10, "expected a value, found '+'", 1, 2 },
		{ T("[1e]"), 10, "bad number: no digits in the exponent", 1, 2 },
		{ T("[1e+]"), 10, "bad number: no digits in the exponent", 1, 2 },
		{ T("[0x10]"), 10, "expected ',' or ']', found 'x'", 1, 3 },
		{ T("[NaN]"), 10, "unknown literal", 1, 2 },
		{ T("[Infinity]"), 10, "unknown literal", 1, 2 },
		{ T("[-]"), 10, "bad number: no digits after '-'", 1, 2 },
		/* strings */
		{ T("[\"a\\x\"]"), 10, "bad escape '\\x' in a string", 1, 4 },
		{ T("[\"a\\'\"]"), 10, "bad escape '\\'' in a string", 1, 4 },
		{ T("[\"\\u12G4\"]"), 10, "bad \\u escape in a string: expected four hex digits", 1, 3 },
		{ T("[\"\\u12\"]"), 10, "bad \\u escape in a string: expected four hex digits", 1, 3 },
		{ T("[\"\\ud800\"]"), 10, "lone surrogate \\ud800 in a string", 1, 3 },
		{ T("[\"\\ud800\\u0041\"]"), 10, "lone surrogate \\ud800 in a string", 1, 3 },
		{ T("[\"x\\udc00\"]"), 10, "lone surrogate \\udc00 in a string", 1, 4 },
		{ T("[\"\\u0000\"]"), 10, "\\u0000 in a string: vem's strings cannot hold NUL", 1, 3 },
		{ T("[\"a\tb\"]"), 10, "control character 0x09 in a string (escape it)", 1, 4 },
		{ T("[\"a\nb\"]"), 10, "control character 0x0a in a string (escape it)", 1, 4 },
		{ T("[\"a\0b\"]"), 10, "a NUL byte in a string", 1, 4 },
		{ T("[1,\0]"), 10, "expected a value, found a NUL byte", 1, 4 },
		{ T("[1]\0"), 10, "text after the JSON value", 1, 4 },
		{ T("[\"\xc3\xa9\xc3\xa9\", \x01]"), 10, "expected a value, found control character 0x01", 1, 8 },
		/* invalid UTF-8: refused, at the first bad byte (the column counts
		 * characters, so "é" before it is one) */
		{ T("[\"\xc3\xa9\xff\"]"), 10, "invalid UTF-8 in a string", 1, 4 },
		{ T("[\"\xc3\"]"), 10, "invalid UTF-8 in a string", 1, 3 },
		{ T("[\"\xc0\xaf\"]"), 10, "invalid UTF-8 in a string", 1, 3 },          /* overlong */
		{ T("[\"\xe0\x80\xaf\"]"), 10, "invalid UTF-8 in a string", 1, 3 },      /* overlong */
		{ T("[\"\xed\xa0\x80\"]"), 10, "invalid UTF-8 in a string", 1, 3 },      /* a surrogate */
		{ T("[\"\xf4\x90\x80\x80\"]"), 10, "invalid UTF-8 in a string", 1, 3 },  /* > U+10FFFF */
		{ T("[\"\xe2\x82\"]"), 10, "invalid UTF-8 in a string", 1, 3 },          /* truncated */
		{ T("[\xc3\xa9]"), 10, "expected a value, found a non-ASCII character", 1, 2 },
		{ T("\xff\xfe[]"), 10, "expected a value, found a non-ASCII character", 1, 1 },
	};
	struct json_doc d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(json_doc_parse(&d, cases[i].text, cases[i].len, cases[i].max), -1);
		CHECK_STR(d.problem, cases[i].problem);
		CHECK_INT(d.problem_line, cases[i].line);
		CHECK_INT(d.problem_col, cases[i].col);
		if (strcmp(d.problem, cases[i].problem) || d.problem_col != cases[i].col)
			fprintf(stderr, "  in case %zu\n", i);
		json_doc_release(&d);
	}
}

/* What JSON allows reads back as written (strings decoded to UTF-8,
 * numbers as their text). */
TEST(test_json_read_round_trip)
{
	static const struct {
		const char *text;
		enum json_type type;
		const char *s;
	} cases[] = {
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", JSON_STR, "\"\\/\b\f\n\r\t" },
		{ "\"\\u0041\\u00e9\\u20AC\"", JSON_STR, "A\xc3\xa9\xe2\x82\xac" },
		{ "\"\\ud83d\\ude00\"", JSON_STR, "\xf0\x9f\x98\x80" },            /* a pair */
		{ "\"\\uDBFF\\uDFFF\"", JSON_STR, "\xf4\x8f\xbf\xbf" },            /* U+10FFFF */
		{ "\"\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9\x7f\"", JSON_STR,
		  "\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9\x7f" },
		{ "\"\"", JSON_STR, "" },
		{ "123456789012345678901234567890", JSON_NUM, "123456789012345678901234567890" },
		{ "-0", JSON_NUM, "-0" },
		{ "0.5e-7", JSON_NUM, "0.5e-7" },
		{ "1E+400", JSON_NUM, "1E+400" },
		{ "18446744073709551616", JSON_NUM, "18446744073709551616" },
		{ "true", JSON_BOOL, "true" },
		{ "false", JSON_BOOL, "false" },
		{ "null", JSON_NULL, "null" },
		{ "\xef\xbb\xbf 7 \r\n", JSON_NUM, "7" },                            /* a BOM */
	};
	struct json_doc d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(parse(&d, cases[i].text, 10), 0);
		if (!json_doc_root(&d)) {
			fprintf(stderr, "  in case %zu: %s\n", i, d.problem);
			json_doc_release(&d);
			continue;
		}
		CHECK_INT(json_doc_root(&d)->type, cases[i].type);
		CHECK_STR(json_doc_root(&d)->s, cases[i].s);
		json_doc_release(&d);
	}
}

/* Empty containers, nested, with whitespace or none, and where each value
 * starts. */
TEST(test_json_read_containers)
{
	struct json_doc d;
	const struct json_node *root, *v, *k;

	CHECK_INT(parse(&d, "{\"a\":{},\"b\":[ ],\"c\":[[],{}],\n\t\"\xc3\xa9\":\"\xc3\xa9\",\"d\":{ }}", 100), 0);
	root = json_doc_root(&d);
	CHECK_INT(root->n, 5);
	CHECK_INT(json_get(&d, root, "a")->type, JSON_OBJ);
	CHECK_INT(json_get(&d, root, "a")->n, 0);
	CHECK_INT(json_get(&d, root, "b")->type, JSON_ARR);
	CHECK_INT(json_get(&d, root, "b")->n, 0);
	v = json_get(&d, root, "c");
	CHECK_INT(v->n, 2);
	CHECK_INT(json_member(&d, v, 0, NULL)->type, JSON_ARR);
	CHECK_INT(json_member(&d, v, 1, NULL)->type, JSON_OBJ);
	CHECK_INT(json_member(&d, v, 1, NULL)->col, 25);
	/* columns count characters, not bytes */
	v = json_member(&d, root, 3, &k);
	CHECK_STR(k->s, "\xc3\xa9");
	CHECK_INT(k->line, 2);
	CHECK_INT(k->col, 2);
	CHECK_INT(v->col, 6);
	CHECK_INT(json_get(&d, root, "d")->col, 14);
	json_doc_release(&d);
	/* duplicate keys are kept; json_get finds the first */
	CHECK_INT(parse(&d, "{\"a\": 1, \"a\": 2}", 10), 0);
	CHECK_INT(json_doc_root(&d)->n, 2);
	CHECK_STR(json_get_text(&d, json_doc_root(&d), "a"), "1");
	json_doc_release(&d);
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

/* Many decoded strings fill several arena chunks: each keeps its bytes. */
TEST(test_json_read_many_strings)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_doc d;
	const struct json_node *root;
	size_t n = 200000, bad = 0;

	strbuf_adds(&sb, "[");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "%s\"\\u00e9%zu\\n\"", i ? "," : "", i);
	strbuf_adds(&sb, "]");
	CHECK_INT(json_doc_parse(&d, sb.buf, sb.len, n + 1), 0);
	root = json_doc_root(&d);
	CHECK_INT(root->n, n);
	CHECK(d.n_chunks > 1);
	for (size_t i = 0; i < n && i < root->n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "\xc3\xa9%zu\n", i);
		bad += strcmp(json_member(&d, root, i, NULL)->s, want) != 0;
	}
	CHECK_INT(bad, 0);
	json_doc_release(&d);
	/* one value fewer than the document holds */
	CHECK_INT(json_doc_parse(&d, sb.buf, sb.len, n), -1);
	CHECK_STR(d.problem, "more than 200000 values");
	json_doc_release(&d);
	strbuf_release(&sb);
}

int main(void)
{
	RUN(test_json_read_tree);
	RUN(test_json_read_escapes);
	RUN(test_json_read_errors);
	RUN(test_json_read_round_trip);
	RUN(test_json_read_containers);
	RUN(test_json_read_depth);
	RUN(test_json_read_long_string);
	RUN(test_json_read_many_strings);
	return test_done();
}
