/*
 * json.h - a small JSON writer on top of struct strbuf.
 *
 * The writer tracks nesting and commas; the caller only says what comes
 * next. Strings are escaped; NULL strings are written as null. Reading JSON
 * (snapshots) goes through libyaml, which parses JSON as YAML flow style.
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

#endif
