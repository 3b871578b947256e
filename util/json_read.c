/*
 * json_read.c - one JSON value as a compact tree (see json.h).
 *
 * A strict RFC 8259 reader, written by hand: snapshots of thousands of
 * hosts are tens of megabytes, and a general YAML parser spent several
 * times what reading JSON needs. Every value is one node, the members of an
 * array or object are contiguous in kids[], and strings live in a string
 * arena of large chunks. Parsing is iterative (no recursion): the open
 * containers are a fixed stack of JSON_MAX_DEPTH frames.
 *
 * Refused, each with a problem and its line:column (both from 1, the
 * column in characters): anything that is not JSON (comments, single
 * quotes, bare words, trailing commas), a number outside JSON's grammar,
 * control characters and invalid UTF-8 in strings, bad escapes, lone
 * surrogates, \u0000 (vem's strings end at NUL), NUL bytes anywhere, text
 * after the value. A UTF-8 byte order mark at the start is skipped.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *p, *end;      /* the next byte to read, the end of the input */
	const char *line_start;   /* the first byte of the current line */
	size_t cont;              /* UTF-8 continuation bytes in it before p */
	int line;                 /* of p, from 1 */
	uint32_t *stack;          /* members of the containers being parsed */
	size_t n_stack, a_stack;
	struct jframe frames[JSON_MAX_DEPTH];
	size_t n_frames;
	size_t used;              /* bytes used of the last arena chunk */
};

/* The column of at (on the current line, with the continuation bytes
 * before it already counted), from 1. */
static int jcol(const struct jparser *j, const char *at)
{
	return (int)((size_t)(at - j->line_start) - j->cont) + 1;
}

static int jfail_at(struct jparser *j, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int jfail_at(struct jparser *j, int line, int col, const char *fmt, ...)
{
	struct json_doc *d = j->doc;
	va_list ap;

	if (!d->problem[0]) {
		va_start(ap, fmt);
		vsnprintf(d->problem, sizeof(d->problem), fmt, ap);
		va_end(ap);
		d->problem_line = line;
		d->problem_col = col;
	}
	return -1;
}

/* What the byte at j->p is, for a message. */
static const char *jdescribe(const struct jparser *j, char *buf, size_t size)
{
	unsigned char c = (unsigned char)*j->p;

	if (c == '\0')
		snprintf(buf, size, "a NUL byte");
	else if (c < 0x20 || c == 0x7f)
		snprintf(buf, size, "control character 0x%02x", c);
	else if (c >= 0x80)
		snprintf(buf, size, "a non-ASCII character");
	else if (c == '\'')
		snprintf(buf, size, "a single quote");
	else
		snprintf(buf, size, "'%c'", c);
	return buf;
}

/* what was expected at j->p: the end of the input, or something else. */
static int jexpected(struct jparser *j, const char *what)
{
	char buf[40];

	if (j->p == j->end)
		return jfail_at(j, j->line, jcol(j, j->p), "the document ends where %s is expected", what);
	return jfail_at(j, j->line, jcol(j, j->p), "expected %s, found %s", what,
			jdescribe(j, buf, sizeof(buf)));
}

static void jskip_ws(struct jparser *j)
{
	const char *p = j->p, *end = j->end;

	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\r') {
			p++;
		} else if (*p == '\n') {
			p++;
			j->line++;
			j->line_start = p;
			j->cont = 0;
		} else {
			break;
		}
	}
	j->p = p;
}

/* len bytes of the string arena, to be committed with jarena_commit. */
static char *jarena_reserve(struct jparser *j, size_t len)
{
	struct json_doc *d = j->doc;

	if (!d->n_chunks || j->used + len > ARENA_CHUNK) {
		ALLOC_GROW(d->chunks, d->n_chunks + 1, d->a_chunks);
		d->chunks[d->n_chunks++] = xmalloc(len > ARENA_CHUNK ? len : ARENA_CHUNK);
		j->used = 0;
	}
	return d->chunks[d->n_chunks - 1] + j->used;
}

static void jarena_commit(struct jparser *j, size_t len)
{
	j->used += len;
}

/* A new node at line:col, a member of the container being parsed (if any). */
static int jadd(struct jparser *j, enum json_type t, int line, int col, uint32_t *out)
{
	struct json_doc *d = j->doc;
	struct json_node *n;

	if (d->n_nodes >= j->max_values)
		return jfail_at(j, line, col, "more than %zu values", j->max_values);
	ALLOC_GROW(d->nodes, d->n_nodes + 1, d->a_nodes);
	n = &d->nodes[d->n_nodes];
	n->type = t;
	n->line = line;
	n->col = col;
	n->s = NULL;
	n->first = n->n = 0;
	*out = (uint32_t)d->n_nodes++;
	if (j->n_frames) {
		ALLOC_GROW(j->stack, j->n_stack + 1, j->a_stack);
		j->stack[j->n_stack++] = *out;
	}
	return 0;
}

/* A scalar node of the len bytes at s. */
static int jadd_text(struct jparser *j, enum json_type t, int line, int col,
		     const char *s, size_t len)
{
	uint32_t id;
	char *out;

	if (jadd(j, t, line, col, &id))
		return -1;
	out = jarena_reserve(j, len + 1);
	memcpy(out, s, len);
	out[len] = '\0';
	jarena_commit(j, len + 1);
	j->doc->nodes[id].s = out;
	return 0;
}

/* The length of the UTF-8 character at q (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t jutf8_len(const unsigned char *q, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (q[0] >= 0xc2 && q[0] <= 0xdf) {
		n = 2;
	} else if (q[0] >= 0xe0 && q[0] <= 0xef) {
		n = 3;
		if (q[0] == 0xe0)
			lo = 0xa0;
		else if (q[0] == 0xed)
			hi = 0x9f;
	} else if (q[0] >= 0xf0 && q[0] <= 0xf4) {
		n = 4;
		if (q[0] == 0xf0)
			lo = 0x90;
		else if (q[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if ((size_t)(end - q) < n || q[1] < lo || q[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (q[i] < 0x80 || q[i] > 0xbf)
			return 0;
	return n;
}

/* The four hex digits at q as a number, or -1. */
static long jhex4(const unsigned char *q, const unsigned char *end)
{
	long v = 0;

	if (end - q < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = q[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Check the escape at q (a backslash): its length in the input, or 0
 * with the problem set. *cp is the code point of a \u escape (0 for the
 * one-letter escapes). */
static size_t jescape_check(struct jparser *j, const unsigned char *q, const unsigned char *end,
			    long *cp)
{
	int col = jcol(j, (const char *)q);
	long lo;

	*cp = 0;
	switch (q[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return 2;
	case 'u':
		break;
	default:
		if (q[1] > 0x20 && q[1] < 0x7f)
			jfail_at(j, j->line, col, "bad escape '\\%c' in a string", q[1]);
		else
			jfail_at(j, j->line, col, "bad escape in a string");
		return 0;
	}
	*cp = jhex4(q + 2, end);
	if (*cp < 0) {
		jfail_at(j, j->line, col, "bad \\u escape in a string: expected four hex digits");
		return 0;
	}
	if (*cp == 0) {
		jfail_at(j, j->line, col, "\\u0000 in a string: vem's strings cannot hold NUL");
		return 0;
	}
	if (*cp >= 0xdc00 && *cp <= 0xdfff) {
		jfail_at(j, j->line, col, "lone surrogate \\u%04lx in a string", *cp);
		return 0;
	}
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 6;
	lo = end - q >= 12 && q[6] == '\\' && q[7] == 'u' ? jhex4(q + 8, end) : -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		jfail_at(j, j->line, col, "lone surrogate \\u%04lx in a string", *cp);
		return 0;
	}
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

static char *jutf8_put(char *o, long cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* The string at j->p (its opening quote) as a JSON_STR node. One pass
 * finds its end and checks it; a string with escapes is decoded in a
 * second (what is decoded is never longer than what was written). */
static int jstring(struct jparser *j)
{
	const unsigned char *s = (const unsigned char *)j->p + 1, *q = s;
	const unsigned char *end = (const unsigned char *)j->end;
	int line = j->line, col = jcol(j, j->p);
	bool escapes = false;
	uint32_t id;
	size_t w;
	long cp;
	char *out, *o;

	for (;;) {
		/* the common case: printable ASCII other than " and \ */
		while (q < end && (unsigned char)(*q - 0x20) < 0x60 && *q != '"' && *q != '\\')
			q++;
		if (q == end)
			return jfail_at(j, line, col, "unterminated string");
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (end - q < 2)
				return jfail_at(j, line, col, "unterminated string");
			if (!(w = jescape_check(j, q, end, &cp)))
				return -1;
			escapes = true;
			q += w;
		} else if (*q < 0x20) {
			return jfail_at(j, j->line, jcol(j, (const char *)q),
					*q ? "control character 0x%02x in a string (escape it)" :
					"a NUL byte in a string", *q);
		} else if (*q >= 0x80) {
			if (!(w = jutf8_len(q, end)))
				return jfail_at(j, j->line, jcol(j, (const char *)q),
						"invalid UTF-8 in a string");
			q += w;
			j->cont += w - 1;
		}
	}
	j->p = (const char *)q + 1;
	if (!escapes)
		return jadd_text(j, JSON_STR, line, col, (const char *)s, (size_t)(q - s));
	if (jadd(j, JSON_STR, line, col, &id))
		return -1;
	out = o = jarena_reserve(j, (size_t)(q - s) + 1);
	for (const unsigned char *r = s; r < q; ) {
		if (*r != '\\') {
			*o++ = (char)*r++;
			continue;
		}
		switch (r[1]) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': break;
		default: *o++ = (char)r[1]; break;
		}
		if (r[1] != 'u') {
			r += 2;
			continue;
		}
		r += jescape_check(j, r, q, &cp);
		o = jutf8_put(o, cp);
	}
	*o++ = '\0';
	jarena_commit(j, (size_t)(o - out));
	j->doc->nodes[id].s = out;
	return 0;
}

static bool jdigit(const char *q, const char *end)
{
	return q < end && *q >= '0' && *q <= '9';
}

/* The number at j->p (RFC 8259's grammar), kept as its text. */
static int jnumber(struct jparser *j)
{
	const char *s = j->p, *q = s, *end = j->end;
	int col = jcol(j, s);

	if (q < end && *q == '-')
		q++;
	if (!jdigit(q, end))
		return jfail_at(j, j->line, col, "bad number: no digits after '-'");
	if (*q == '0' && jdigit(q + 1, end))
		return jfail_at(j, j->line, col, "bad number: a leading zero");
	while (jdigit(q, end))
		q++;
	if (q < end && *q == '.') {
		if (!jdigit(++q, end))
			return jfail_at(j, j->line, col, "bad number: no digits after '.'");
		while (jdigit(q, end))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (!jdigit(q, end))
			return jfail_at(j, j->line, col, "bad number: no digits in the exponent");
		while (jdigit(q, end))
			q++;
	}
	j->p = q;
	return jadd_text(j, JSON_NUM, j->line, col, s, (size_t)(q - s));
}

/* true, false or null at j->p (a letter). */
static int jliteral(struct jparser *j)
{
	const char *s = j->p, *q = s;
	int col = jcol(j, s);
	enum json_type t;
	size_t len;

	while (q < j->end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			      (*q >= '0' && *q <= '9') || *q == '_'))
		q++;
	len = (size_t)(q - s);
	if (len == 4 && !memcmp(s, "true", 4))
		t = JSON_BOOL;
	else if (len == 5 && !memcmp(s, "false", 5))
		t = JSON_BOOL;
	else if (len == 4 && !memcmp(s, "null", 4))
		t = JSON_NULL;
	else
		return jfail_at(j, j->line, col, "unknown literal");
	j->p = q;
	return jadd_text(j, t, j->line, col, s, len);
}

/* Open an array or object at j->p. */
static int jopen(struct jparser *j, enum json_type t)
{
	uint32_t id;
	int col = jcol(j, j->p);

	if (j->n_frames >= JSON_MAX_DEPTH)
		return jfail_at(j, j->line, col, "nested too deeply");
	if (jadd(j, t, j->line, col, &id))
		return -1;
	j->frames[j->n_frames].self = id;
	j->frames[j->n_frames++].base = j->n_stack;
	j->p++;
	return 0;
}

/* Close the innermost container: its members move from the stack to kids[]. */
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
	j->p++;
}

/* What the parser expects next. */
enum jstate { J_VALUE, J_KEY, J_AFTER };

/* One value with everything in it: a loop over tokens, not recursion. */
static int jparse(struct jparser *j)
{
	enum jstate st = J_VALUE;
	int rc = 0;

	while (!rc) {
		jskip_ws(j);
		if (st == J_KEY) {
			if (j->p == j->end || *j->p != '"')
				return jexpected(j, "a string as the key");
			if (jstring(j))
				return -1;
			jskip_ws(j);
			if (j->p == j->end || *j->p != ':')
				return jexpected(j, "':' after the key");
			j->p++;
			st = J_VALUE;
		} else if (st == J_AFTER) {
			const struct jframe *f;
			char close;

			if (!j->n_frames)
				break;
			f = &j->frames[j->n_frames - 1];
			close = j->doc->nodes[f->self].type == JSON_OBJ ? '}' : ']';
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				st = close == '}' ? J_KEY : J_VALUE;
			} else if (j->p < j->end && *j->p == close) {
				jclose(j);
			} else {
				return jexpected(j, close == '}' ? "',' or '}'" : "',' or ']'");
			}
		} else if (j->p == j->end) {
			return jexpected(j, "a value");
		} else {
			switch (*j->p) {
			case '{':
			case '[': {
				enum json_type t = *j->p == '{' ? JSON_OBJ : JSON_ARR;
				char close = t == JSON_OBJ ? '}' : ']';

				if ((rc = jopen(j, t)))
					break;
				jskip_ws(j);
				if (j->p < j->end && *j->p == close) {
					jclose(j);
					st = J_AFTER;
				} else {
					st = t == JSON_OBJ ? J_KEY : J_VALUE;
				}
				break;
			}
			case '"':
				rc = jstring(j);
				st = J_AFTER;
				break;
			case '-': case '0': case '1': case '2': case '3': case '4':
			case '5': case '6': case '7': case '8': case '9':
				rc = jnumber(j);
				st = J_AFTER;
				break;
			default:
				if ((*j->p >= 'a' && *j->p <= 'z') || (*j->p >= 'A' && *j->p <= 'Z'))
					rc = jliteral(j);
				else
					rc = jexpected(j, "a value");
				st = J_AFTER;
				break;
			}
		}
	}
	if (rc)
		return -1;
	if (j->p != j->end)
		return jfail_at(j, j->line, jcol(j, j->p), "text after the JSON value");
	return 0;
}

int json_doc_parse(struct json_doc *doc, const char *buf, size_t len, size_t max_values)
{
	struct jparser j = { .doc = doc, .max_values = max_values, .p = buf, .end = buf + len,
			     .line_start = buf, .line = 1 };
	int rc;

	memset(doc, 0, sizeof(*doc));
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		j.p = j.line_start = buf + 3;
	jskip_ws(&j);
	if (j.p == j.end)
		rc = jfail_at(&j, 1, 1, "the file is empty");
	else
		rc = jparse(&j);
	free(j.stack);
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
