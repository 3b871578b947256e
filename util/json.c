#include "json.h"

#include <math.h>
#include <string.h>

void jw_init(struct json_writer *w, struct strbuf *out, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
	w->first[0] = true;
}

static void newline(struct json_writer *w)
{
	if (!w->pretty)
		return;
	strbuf_addc(w->out, '\n');
	for (int i = 0; i < w->depth; i++)
		strbuf_adds(w->out, "  ");
}

/* Called before every value or key. */
static void before_item(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			strbuf_addc(w->out, ',');
		newline(w);
	}
	w->first[w->depth] = false;
}

static void open(struct json_writer *w, char c)
{
	before_item(w);
	strbuf_addc(w->out, c);
	if (w->depth < 63)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct json_writer *w, char c)
{
	bool empty = w->first[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (!empty)
		newline(w);
	strbuf_addc(w->out, c);
	if (w->depth == 0 && w->pretty)
		strbuf_addc(w->out, '\n');
}

void jw_object_begin(struct json_writer *w) { open(w, '{'); }
void jw_object_end(struct json_writer *w) { close_(w, '}'); }
void jw_array_begin(struct json_writer *w) { open(w, '['); }
void jw_array_end(struct json_writer *w) { close_(w, ']'); }

void json_quote(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	strbuf_addc(sb, '"');
	for (;;) {
		/* what needs no escape goes in as one run */
		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\'; p++)
			;
		if (p > run)
			strbuf_add(sb, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"': strbuf_adds(sb, "\\\""); break;
		case '\\': strbuf_adds(sb, "\\\\"); break;
		case '\n': strbuf_adds(sb, "\\n"); break;
		case '\r': strbuf_adds(sb, "\\r"); break;
		case '\t': strbuf_adds(sb, "\\t"); break;
		default: strbuf_addf(sb, "\\u%04x", *p); break;
		}
		p++;
	}
	strbuf_addc(sb, '"');
}

void jw_key(struct json_writer *w, const char *key)
{
	before_item(w);
	json_quote(w->out, key);
	strbuf_adds(w->out, w->pretty ? ": " : ":");
	w->after_key = true;
}

void jw_string(struct json_writer *w, const char *s)
{
	before_item(w);
	if (s)
		json_quote(w->out, s);
	else
		strbuf_adds(w->out, "null");
}

/* v in decimal, after a '-' when neg: what "%llu" writes, without printf. */
static void add_decimal(struct strbuf *sb, uint64_t v, bool neg)
{
	char buf[24], *end = buf + sizeof(buf), *q = end;

	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--q = '-';
	strbuf_add(sb, q, (size_t)(end - q));
}

void jw_int(struct json_writer *w, int64_t v)
{
	before_item(w);
	if (v < 0)
		add_decimal(w->out, 0 - (uint64_t)v, true);
	else
		add_decimal(w->out, (uint64_t)v, false);
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	before_item(w);
	add_decimal(w->out, v, false);
}

void jw_double(struct json_writer *w, double v)
{
	before_item(w);
	if (isnan(v) || isinf(v))
		strbuf_adds(w->out, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		strbuf_addf(w->out, "%.1f", v);
	else
		strbuf_addf(w->out, "%.6g", v);
}

void jw_bool(struct json_writer *w, bool v)
{
	before_item(w);
	strbuf_adds(w->out, v ? "true" : "false");
}

void jw_null(struct json_writer *w)
{
	before_item(w);
	strbuf_adds(w->out, "null");
}

void jw_kv_string(struct json_writer *w, const char *k, const char *v) { jw_key(w, k); jw_string(w, v); }
void jw_kv_int(struct json_writer *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
void jw_kv_uint(struct json_writer *w, const char *k, uint64_t v) { jw_key(w, k); jw_uint(w, v); }
void jw_kv_double(struct json_writer *w, const char *k, double v) { jw_key(w, k); jw_double(w, v); }
void jw_kv_bool(struct json_writer *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }

void jw_diagnostics(struct json_writer *w, const char *key, const struct errbuf *e)
{
	jw_key(w, key);
	jw_array_begin(w);
	for (size_t i = 0; e && i < e->nr; i++) {
		jw_object_begin(w);
		jw_kv_string(w, "file", e->items[i].file);
		jw_kv_int(w, "line", e->items[i].line);
		jw_kv_int(w, "column", e->items[i].col);
		jw_kv_string(w, "message", e->items[i].msg);
		jw_object_end(w);
	}
	jw_array_end(w);
}
