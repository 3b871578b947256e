/*
 * json.h - JSON for vem: a small writer on top of struct strbuf, and a
 * reader of one JSON value into a compact tree.
 *
 * The writer tracks nesting and commas; the caller only says what comes
 * next. Strings are escaped; NULL strings are written as null.
 *
 * The reader (json_read.c) takes strict RFC 8259 JSON in UTF-8 and nothing
 * else (no comments, single quotes or bare words; no invalid UTF-8; no
 * \u0000). The document owns every node and string it hands out; they
 * live until json_doc_release(). Scalars keep their text (numbers and
 * literals as written, strings decoded to UTF-8): the caller decides what
 * a value means.
 */
#ifndef VEM_JSON_H
#define VEM_JSON_H

#include "util.h"

/*
 * Every JSON document vem prints (validate, plan, status, observe, saved
 * plans) says "format": VEM_JSON_FORMAT and follows one style: keys in
 * snake_case, sizes in bytes, durations in milliseconds, times in
 * milliseconds since the epoch. The schemas are in schema/output/.
 */
#define VEM_JSON_FORMAT 1

struct json_writer {
	struct strbuf *out;
	bool pretty;
	int depth;
	bool first[64];     /* nothing written yet at this depth */
	bool after_key;
};

void jw_init(struct json_writer *w, struct strbuf *out, bool pretty);
void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s);
void jw_int(struct json_writer *w, int64_t v);
void jw_uint(struct json_writer *w, uint64_t v);
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);
/* Shorthands for a key and its value. */
void jw_kv_string(struct json_writer *w, const char *k, const char *v);
void jw_kv_int(struct json_writer *w, const char *k, int64_t v);
void jw_kv_uint(struct json_writer *w, const char *k, uint64_t v);
void jw_kv_double(struct json_writer *w, const char *k, double v);
void jw_kv_bool(struct json_writer *w, const char *k, bool v);
/* key: [{"file", "line", "column", "message"}, ...] for e's diagnostics
 * (file null and line/column 0 when a diagnostic has no location). */
void jw_diagnostics(struct json_writer *w, const char *key, const struct errbuf *e);
/* Append s as a quoted, escaped JSON string. */
void json_quote(struct strbuf *sb, const char *s);

/* ---- reading ---- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json_node {
	enum json_type type;
	int line, col;            /* where the value starts, from 1 */
	const char *s;            /* scalars: the text, NUL-terminated */
	uint32_t first, n;        /* containers: n members (an object: n key, value pairs) */
};

struct json_doc {
	struct json_node *nodes;  /* nodes[0] is the root */
	size_t n_nodes, a_nodes;
	uint32_t *kids;           /* members of each container, contiguous */
	size_t n_kids, a_kids;
	char **chunks;            /* the string arena */
	size_t n_chunks, a_chunks;
	char problem[96];         /* why parsing failed ("" when it did not) */
	int problem_line, problem_col;
};

/* Parse one JSON value of len bytes into doc (at most max_values values,
 * nesting at most 64 deep): 0, or -1 with problem and its place filled.
 * doc must be released either way. */
int json_doc_parse(struct json_doc *doc, const char *buf, size_t len, size_t max_values);
void json_doc_release(struct json_doc *doc);
/* The root value; NULL when the document holds none. */
const struct json_node *json_doc_root(const struct json_doc *doc);
/* The i-th member of an array, or the value of the i-th pair of an object
 * (its key into *key when key is not NULL). i < c->n. */
const struct json_node *json_member(const struct json_doc *doc, const struct json_node *c,
				    size_t i, const struct json_node **key);
/* The value at key in obj; NULL when obj is NULL, not an object or lacks key. */
const struct json_node *json_get(const struct json_doc *doc, const struct json_node *obj,
				 const char *key);
/* The text of the scalar at key (a string, number or true/false); NULL
 * when absent, null, an array or an object. */
const char *json_get_text(const struct json_doc *doc, const struct json_node *obj,
			  const char *key);

#endif
