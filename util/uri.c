/*
 * uri.c - URI pieces, credential masking and the loopback rule (see uri.h).
 */
#include "uri.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK "****"

void uri_release(struct uri *u)
{
	if (!u)
		return;
	free(u->scheme);
	free(u->transport);
	free(u->user);
	free(u->host);
	free(u->path);
	for (size_t i = 0; i < u->n_params; i++) {
		free(u->params[i].name);
		free(u->params[i].value);
	}
	free(u->params);
	memset(u, 0, sizeof(*u));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoded copy of s[0..len) ("%41" -> "A"; a bad escape stays as it is). */
static char *pct_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
			*o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The authority of a URI: [*auth, *auth_end); false without "://". */
static bool authority(const char *s, const char *end, const char **auth, const char **auth_end)
{
	const char *p = memmem(s, (size_t)(end - s), "://", 3);

	if (!p)
		return false;
	*auth = p + 3;
	*auth_end = *auth;
	while (*auth_end < end && !strchr("/?#", **auth_end))
		(*auth_end)++;
	return true;
}

/* The '@' ending the userinfo: the last one in the authority. */
static const char *userinfo_end(const char *auth, const char *auth_end)
{
	const char *at = NULL;

	for (const char *q = auth; q < auth_end; q++)
		if (*q == '@')
			at = q;
	return at;
}

static void add_param(struct uri *u, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t nl = eq ? (size_t)(eq - s) : len;

	if (!len)
		return;
	u->params = xrealloc(u->params, (u->n_params + 1) * sizeof(*u->params));
	u->params[u->n_params].name = pct_decode(s, nl);
	u->params[u->n_params].value = eq ? pct_decode(eq + 1, len - nl - 1) : xstrdup("");
	u->n_params++;
}

int uri_parse(const char *s, struct uri *u)
{
	const char *end = s + strlen(s), *auth, *auth_end, *at, *host, *plus, *q, *qend;

	memset(u, 0, sizeof(*u));
	if (!authority(s, end, &auth, &auth_end))
		return -1;
	u->scheme = xstrndup(s, (size_t)(auth - 3 - s));
	plus = strchr(u->scheme, '+');
	if (plus)
		u->transport = xstrdup(plus + 1);
	at = userinfo_end(auth, auth_end);
	host = auth;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		u->user = pct_decode(auth, (size_t)((colon ? colon : at) - auth));
		u->has_password = colon != NULL;
		host = at + 1;
	}
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(auth_end - host));
		u->host = rb ? xstrndup(host + 1, (size_t)(rb - host - 1)) :
			       xstrndup(host, (size_t)(auth_end - host));
	} else {
		const char *colon = memchr(host, ':', (size_t)(auth_end - host));
		u->host = xstrndup(host, (size_t)((colon ? colon : auth_end) - host));
	}
	q = auth_end;
	while (q < end && *q != '?' && *q != '#')
		q++;
	u->path = xstrndup(auth_end, (size_t)(q - auth_end));
	if (q < end && *q == '?') {
		q++;
		qend = q + strcspn(q, "#");
		while (q < qend) {
			/* libvirt splits on '&' and ';' */
			size_t n = strcspn(q, "&;#");
			if (q + n > qend)
				n = (size_t)(qend - q);
			add_param(u, q, n);
			q += n;
			if (q < qend)
				q++;
		}
	}
	return 0;
}

const char *uri_param_get(const struct uri *u, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < u->n_params; i++)
		if (!strcasecmp(u->params[i].name, name))
			v = u->params[i].value;
	return v;
}

bool uri_param_is_secret(const char *name)
{
	static const char *const part[] = {
		"token", "secret", "passw", "signature", "credential", "apikey", "api_key",
		"api-key", "access_key", "private_key", "session",
	};
	static const char *const whole[] = { "key", "sig", "auth", "pwd", "pass", "code", "pw" };
	char low[64];
	size_t n = strlen(name);

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(part); i++)
		if (strstr(low, part[i]))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++)
		if (!strcmp(low, whole[i]))
			return true;
	return false;
}

/* Append s[0..len) (one URL) with its secrets masked; all_params: every
 * query value, whatever its name. */
static void mask_url_into(struct strbuf *sb, const char *s, size_t len, bool all_params)
{
	const char *end = s + len, *auth, *auth_end, *at, *colon, *p, *frag;

	if (!authority(s, end, &auth, &auth_end)) {
		strbuf_add(sb, s, len);
		return;
	}
	at = userinfo_end(auth, auth_end);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon) {
		strbuf_add(sb, s, (size_t)(colon + 1 - s));
		strbuf_adds(sb, MASK);
		p = at;
	} else {
		p = s;
	}
	while (p < end && *p != '?' && *p != '#')
		p++;
	strbuf_add(sb, colon ? at : s, (size_t)(p - (colon ? at : s)));
	if (p == end || *p == '#') {
		strbuf_add(sb, p, (size_t)(end - p));
		return;
	}
	frag = memchr(p, '#', (size_t)(end - p));
	if (!frag)
		frag = end;
	strbuf_addc(sb, '?');
	p++;
	while (p < frag) {
		size_t n = strcspn(p, "&;#");
		const char *eq;
		char *name;
		if (p + n > frag)
			n = (size_t)(frag - p);
		eq = memchr(p, '=', n);
		name = pct_decode(p, eq ? (size_t)(eq - p) : n);
		if (eq && (all_params || uri_param_is_secret(name))) {
			strbuf_add(sb, p, (size_t)(eq + 1 - p));
			strbuf_adds(sb, MASK);
		} else {
			strbuf_add(sb, p, n);
		}
		free(name);
		p += n;
		if (p < frag)
			strbuf_addc(sb, *p++);
	}
	strbuf_add(sb, frag, (size_t)(end - frag));
}

static char *mask_url(const char *uri, bool all_params)
{
	struct strbuf sb = STRBUF_INIT;

	if (!uri)
		return NULL;
	mask_url_into(&sb, uri, strlen(uri), all_params);
	return strbuf_detach(&sb, NULL);
}

char *uri_mask(const char *uri)
{
	return mask_url(uri, false);
}

char *uri_mask_all_params(const char *uri)
{
	return mask_url(uri, true);
}

/* a.b.c.d, each part 1 to 3 digits up to 255 */
static bool dotted_quad(const char *h, unsigned *first)
{
	unsigned part[4];
	int n = 0;

	for (const char *p = h; n < 4; n++) {
		size_t d = 0;
		part[n] = 0;
		while (isdigit((unsigned char)p[d]) && d < 4)
			part[n] = part[n] * 10 + (unsigned)(p[d++] - '0');
		if (d == 0 || d > 3 || part[n] > 255)
			return false;
		p += d;
		if (n == 3)
			return *p == '\0' && ((*first = part[0]), true);
		if (*p++ != '.')
			return false;
	}
	return false;
}

bool uri_host_is_loopback(const char *url)
{
	struct uri u = { 0 };
	unsigned first = 0;
	bool r = false;

	if (!url || uri_parse(url, &u))
		goto out;
	r = !strcmp(u.host, "localhost") || !strcmp(u.host, "::1") ||
	    (dotted_quad(u.host, &first) && first == 127);
out:
	uri_release(&u);
	return r;
}

static bool scheme_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

/* Every "scheme://..." in text masked; a URL ends at white space or a quote. */
static char *mask_urls(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = text, *m;

	while ((m = strstr(p, "://"))) {
		const char *start = m, *end = m + 3;
		while (start > p && scheme_char(start[-1]))
			start--;
		while (start < m && !isalpha((unsigned char)*start))
			start++;
		while (*end && !isspace((unsigned char)*end) && !strchr("\"'`<>", *end))
			end++;
		strbuf_add(&sb, p, (size_t)(start - p));
		if (start == m)
			strbuf_add(&sb, m, (size_t)(end - m));   /* no scheme: not a URL */
		else
			mask_url_into(&sb, start, (size_t)(end - start), false);
		p = end;
	}
	strbuf_adds(&sb, p);
	return strbuf_detach(&sb, NULL);
}

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* text with every whole-token occurrence of secret masked. */
static char *mask_token(const char *text, const char *secret)
{
	struct strbuf sb = STRBUF_INIT;
	size_t sl = strlen(secret);
	const char *p = text, *m;

	if (!sl)
		return xstrdup(text);
	while ((m = strstr(p, secret))) {
		bool alone = (m == text || !word_char(m[-1]) || !word_char(secret[0])) &&
			     (!word_char(m[sl]) || !word_char(secret[sl - 1]));
		strbuf_add(&sb, p, (size_t)(m - p));
		if (alone) {
			strbuf_adds(&sb, MASK);
			p = m + sl;
		} else {
			strbuf_addc(&sb, *m);
			p = m + 1;
		}
	}
	strbuf_adds(&sb, p);
	return strbuf_detach(&sb, NULL);
}

/* The secrets of uri, raw and decoded, longest first (so "p@ss" goes before "p"). */
static size_t uri_secrets(const char *uri, char **out, size_t max)
{
	const char *end = uri + strlen(uri), *auth, *auth_end, *at, *colon, *q;
	size_t n = 0;

	if (!authority(uri, end, &auth, &auth_end))
		return 0;
	at = userinfo_end(auth, auth_end);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon && at > colon + 1 && n + 2 <= max) {
		out[n++] = xstrndup(colon + 1, (size_t)(at - colon - 1));
		out[n++] = pct_decode(colon + 1, (size_t)(at - colon - 1));
	}
	q = strchr(auth_end, '?');
	if (q) {
		struct uri u;
		if (!uri_parse(uri, &u))
			for (size_t i = 0; i < u.n_params && n + 1 <= max; i++)
				if (uri_param_is_secret(u.params[i].name) && *u.params[i].value)
					out[n++] = xstrdup(u.params[i].value);
		uri_release(&u);
	}
	/* longest first */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strlen(out[j]) > strlen(out[j - 1]); j--) {
			char *t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

char *uri_mask_text(const char *text, const char *uri)
{
	char *cur = mask_urls(text);
	char *secrets[16];
	size_t n = uri ? uri_secrets(uri, secrets, ARRAY_SIZE(secrets)) : 0;

	for (size_t i = 0; i < n; i++) {
		char *next = mask_token(cur, secrets[i]);
		free(cur);
		cur = next;
		free(secrets[i]);
	}
	return cur;
}
