/*
 * load.c - cluster files -> struct cluster.
 *
 * Each file is parsed by libyaml into a document, then walked with the key
 * tables of keys.c: every list item starts from its table's defaults and the
 * user's keys are set on top. Problems are collected, never fatal on their
 * own, so a user sees all of them in one run.
 *
 * Then resolve() builds the cluster: a template's configuration is built
 * once; each VM starts from a copy of it and its own mapping is walked again
 * on top (a VM key always wins), derived defaults (max-memory = memory) are
 * filled, the result is checked and replicas are expanded.
 */
#include "load.h"
#include "compose.h"
#include "keys.h"
#include "load_priv.h"
#include "model_priv.h"
#include "util/uri.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* More problems than this and the rest is noise. */
#define CFG_MAX_PROBLEMS 1000
/* VMs after expanding replicas (10 times what must load in well under a second). */
#define CFG_MAX_VMS 200000

/* Where each VM configuration key was last set, and list item locations. */
struct cfg_locs {
	struct loc at[CK_COUNT];
	struct loc *disks, *nets;
	size_t n_disks, n_nets;
};

struct ctx {
	struct errbuf *err;
	bool quiet;                    /* re-walks: problems were reported already */
	const char *file;              /* interned in files[] */
	const char *dir;               /* the file's directory (absolute) */
	yaml_document_t *doc;
	size_t visits, max_visits;     /* alias expansion bound */
	bool too_many;
	bool broken;                   /* a file could not be read or parsed */
	size_t dropped;                /* problems beyond CFG_MAX_PROBLEMS */
	struct cfg_locs *locs;         /* while building a VM configuration */
	struct raw_vm *vm;             /* the VM being walked (placement.hosts locations) */
	const yaml_node_t *open[CFG_MAX_DEPTH + 2];   /* mappings being walked */
	int n_open;
	struct raw_top top;
	char **files;
	size_t n_files, a_files;
	char **dirs;
	size_t n_dirs, a_dirs;
	yaml_document_t **docs;
	size_t n_docs, a_docs;
	struct loc cluster_loc, balance_loc;
	/* trust (load.h) and limits */
	bool untrusted;
	char *root;                    /* realpath of the source's tree (untrusted) */
	const char *trusted_hosts;     /* file naming hosts allowed local URI parameters */
	char **allowed;                /* its entries and $VEM_TRUSTED_HOSTS, read on demand */
	size_t n_allowed;
	bool allowed_read;
	size_t err_base;               /* problems in err before this load */
	uint64_t max_file, max_dir_files, max_cloud_init;
};

/* ---- problems ---- */

static struct loc node_loc(const struct ctx *x, const yaml_node_t *n)
{
	struct loc l = { x->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
	return l;
}

static bool reported_at(const struct ctx *x, const struct loc *l);

static void add_problem(struct ctx *x, const struct loc *l, const char *msg)
{
	if (x->err->nr >= CFG_MAX_PROBLEMS) {
		x->dropped++;
		return;
	}
	if (l && l->file)
		err_at(x->err, l->file, l->line, l->col, "%s", msg);
	else
		err_at(x->err, x->n_files ? x->files[0] : "cluster", 1, 1, "%s", msg);
}

static void PRINTF_LIKE(3, 4) problem(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	struct loc l;
	char *msg;

	if (x->quiet)
		return;
	if (x->err->nr >= CFG_MAX_PROBLEMS) {
		x->dropped++;
		return;
	}
	l = node_loc(x, n);
	if (reported_at(x, &l))
		return;   /* the node again, through an alias or a merge */
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	add_problem(x, &l, msg);
	free(msg);
}

static void PRINTF_LIKE(3, 4) problem_at(struct ctx *x, const struct loc *l, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	add_problem(x, l, msg);
	free(msg);
}

static bool same_loc(const struct diag *d, const struct loc *l)
{
	return l->file && d->line == l->line && d->col == l->col && str_eq(d->file, l->file);
}

/* A problem was reported at l already (a malformed value: checks on it would be noise). */
static bool reported_at(const struct ctx *x, const struct loc *l)
{
	for (size_t i = 0; i < x->err->nr; i++)
		if (same_loc(&x->err->items[i], l))
			return true;
	return false;
}

/*
 * "what: detail" at l, once: a template's problem is not repeated for every
 * VM made from it.
 */
static void PRINTF_LIKE(4, 5) check_problem(struct ctx *x, const struct loc *l, const char *what,
					    const char *fmt, ...)
{
	va_list ap;
	char *detail;
	size_t dl;

	va_start(ap, fmt);
	detail = xvasprintf(fmt, ap);
	va_end(ap);
	dl = strlen(detail);
	for (size_t i = 0; i < x->err->nr; i++) {
		const struct diag *d = &x->err->items[i];
		size_t ml = strlen(d->msg);
		if (same_loc(d, l) && ml >= dl && !strcmp(d->msg + ml - dl, detail))
			goto out;
	}
	problem_at(x, l, "%s: %s", what, detail);
out:
	free(detail);
}

/* What a node is, for "expected X, found Y" messages. */
static const char *node_what(const yaml_node_t *n, char *buf, size_t len)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE:
		if (!n->data.scalar.length)
			return "an empty value";
		snprintf(buf, len, "'%.*s%s'", (int)(n->data.scalar.length > 40 ? 40 : n->data.scalar.length),
			 (const char *)n->data.scalar.value, n->data.scalar.length > 40 ? "..." : "");
		return buf;
	default: return "nothing";
	}
}

/* Count a node walked; aliases make nodes count once per use. */
static bool visit(struct ctx *x, const yaml_node_t *n)
{
	if (x->quiet)
		return true;
	if (++x->visits <= x->max_visits)
		return true;
	if (!x->too_many) {
		x->too_many = true;
		problem(x, n, "aliases expand to more than %d extra values: refusing an alias bomb",
			CFG_MAX_NODES);
	}
	return false;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);
	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
}

/*
 * The type YAML 1.2's core schema gives a scalar, as editors and JSON
 * Schema validators see it: a quoted scalar is text; a plain one may be
 * null, a boolean, an integer or a float. vem takes each key's value only
 * in the type its JSON Schema says, so the two agree.
 */
enum ytype { Y_STR, Y_NULL, Y_BOOL, Y_INT, Y_FLOAT };

static bool all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

static enum ytype yaml_type(const yaml_node_t *n)
{
	const char *s = scalar(n), *d;
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE" };
	static const char *const specials[] = { ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN" };

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return Y_STR;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return Y_NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bools); i++)
		if (!strcmp(s, bools[i]))
			return Y_BOOL;
	d = (*s == '-' || *s == '+') ? s + 1 : s;
	if (all_of(d, "0123456789") ||
	    (str_starts_with(s, "0o") && all_of(s + 2, "01234567")) ||
	    (str_starts_with(s, "0x") && all_of(s + 2, "0123456789abcdefABCDEF")))
		return Y_INT;
	for (size_t i = 0; i < ARRAY_SIZE(specials); i++)
		if (!strcmp(d, specials[i]))
			return Y_FLOAT;
	{
		/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
		const char *p = d;
		size_t digits = strspn(p, "0123456789");
		bool ok = true;
		p += digits;
		if (*p == '.') {
			size_t frac = strspn(p + 1, "0123456789");
			ok = digits || frac;
			p += 1 + frac;
		} else if (!digits) {
			ok = false;
		}
		if (ok && (*p == 'e' || *p == 'E')) {
			p++;
			if (*p == '-' || *p == '+')
				p++;
			ok = all_of(p, "0123456789");
			p += strlen(p);
		}
		if (ok && !*p)
			return Y_FLOAT;
	}
	return Y_STR;
}

static const char *ytype_name(enum ytype t)
{
	switch (t) {
	case Y_NULL: return "null";
	case Y_BOOL: return "a boolean";
	case Y_INT: return "a number";
	case Y_FLOAT: return "a number";
	default: return "text";
	}
}

/*
 * A plain scalar that YAML reads as a number or a boolean where text is
 * wanted, or a quoted one where a number or a boolean is wanted: the JSON
 * Schema (and an editor) would refuse it, so vem does too, with the fix.
 */
static bool type_matches(struct ctx *x, const yaml_node_t *n, const char *subject, bool want_text,
			 enum ktype kt)
{
	enum ytype t = yaml_type(n);
	const char *s = scalar(n);

	if (want_text) {
		if (t == Y_STR || t == Y_NULL)
			return true;
		/* a number for a size or a duration: its parser explains (a unit is needed) */
		if ((kt == K_SIZE || kt == K_RATE || kt == K_DURATION) && (t == Y_INT || t == Y_FLOAT))
			return true;
		if (kt == K_UNAVAIL && t == Y_INT)    /* a count, or a percentage as text */
			return true;
		problem(x, n, "%s: expected text, found %s %s (YAML reads it so; quote it: '%s')",
			subject, ytype_name(t), s, s);
		return false;
	}
	if (t == Y_INT || (t == Y_FLOAT && kt == K_FLOAT) || (t == Y_BOOL && kt == K_BOOL))
		return true;
	if (t == Y_STR && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		problem(x, n, "%s: expected %s, found the text \"%s\" (remove the quotes)", subject,
			kt == K_BOOL ? "true or false" : kt == K_INT ? "a whole number" : "a number", s);
		return false;
	}
	return true;   /* anything else: the value's own check explains */
}

static yaml_node_t *node(const struct ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

/* ---- trust: what a cluster from git or https may reference ---- */

/* path with "." and ".." resolved lexically (path is absolute). */
static char *path_normalize(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path;

	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 2 && !strncmp(p, "..", 2)) {
			char *slash = strrchr(sb.buf, '/');
			sb.len = slash ? (size_t)(slash - sb.buf) : 0;
			sb.buf[sb.len] = '\0';
		} else if (!(n == 1 && *p == '.')) {
			strbuf_addc(&sb, '/');
			strbuf_add(&sb, p, n);
		}
		p += n;
	}
	if (!sb.len)
		strbuf_addc(&sb, '/');
	return strbuf_detach(&sb, NULL);
}

static bool under(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0' || n == 1);
}

/*
 * Whether path (absolute) resolves inside the source's tree, both as
 * written and after following symlinks. A path that does not exist is
 * outside: its absence must not be reported for files outside the tree.
 */
static bool inside_root(const struct ctx *x, const char *path)
{
	char *norm = path_normalize(path), *real = realpath(path, NULL);
	bool ok = x->root && under(x->root, norm) && real && under(x->root, real);

	free(norm);
	free(real);
	return ok;
}

/* A cloud-init path in an untrusted cluster: relative, inside the tree. */
static bool untrusted_path_ok(struct ctx *x, const yaml_node_t *n, const struct key *k,
			      const char *resolved)
{
	const char *raw = scalar(n);

	if (!x->untrusted)
		return true;
	if (raw[0] == '/') {
		problem(x, n, "'%s': '%s' is an absolute path: a cluster from git or https may only "
			"name files inside its own tree, relative to the cluster file", k->name, raw);
		return false;
	}
	if (!inside_root(x, resolved)) {
		problem(x, n, "'%s': '%s' is not a file inside the source's tree (a cluster from git "
			"or https may not name files outside it, through '..' or symlinks)", k->name, raw);
		return false;
	}
	return true;
}

/* Host directories an untrusted cluster may boot kernels and initrds from. */
static bool boot_path_allowed(const char *path)
{
	const char *env = getenv("VEM_BOOT_DIRS");
	const char *list = env && *env ? env : "/var/lib/vem/guests:/var/lib/libvirt/boot";
	char *norm;
	bool ok = false;

	if (path[0] != '/')
		return false;
	norm = path_normalize(path);
	if (strcmp(norm, path)) {     /* "..", ".", "//" or a trailing '/' */
		free(norm);
		return false;
	}
	for (const char *p = list; *p && !ok;) {
		size_t n = strcspn(p, ":");
		char *dir = xstrndup(p, n);
		ok = dir[0] == '/' && strcmp(dir, "/") && under(dir, norm) && strcmp(dir, norm);
		free(dir);
		p += n;
		if (*p)
			p++;
	}
	free(norm);
	return ok;
}

/* The trusted-hosts file and $VEM_TRUSTED_HOSTS, read once per load. */
static void read_allowed(struct ctx *x)
{
	const char *env = getenv("VEM_TRUSTED_HOSTS");
	const char *file = x->trusted_hosts ? x->trusted_hosts :
			   getenv("VEM_TRUSTED_HOSTS_FILE") ? getenv("VEM_TRUSTED_HOSTS_FILE") :
			   "/etc/vem/trusted-hosts";
	struct strbuf sb = STRBUF_INIT;
	size_t a = 0;

	if (x->allowed_read)
		return;
	x->allowed_read = true;
	if (strbuf_read_regular(&sb, file, 1 << 20, NULL))
		strbuf_reset(&sb);
	strbuf_adds(&sb, "\n");
	if (env)
		strbuf_adds(&sb, env);
	for (char *p = sb.buf; *p;) {
		size_t n;
		if (*p == '#') {             /* a comment to the end of the line */
			p += strcspn(p, "\n");
			continue;
		}
		n = strcspn(p, " \t\r\n,");
		if (n) {
			ALLOC_GROW(x->allowed, x->n_allowed + 1, a);
			x->allowed[x->n_allowed++] = xstrndup(p, n);
		}
		p += n;
		if (*p)
			p++;
	}
	strbuf_release(&sb);
}

static bool host_allowed(struct ctx *x, const char *uri, const struct uri *u)
{
	read_allowed(x);
	for (size_t i = 0; i < x->n_allowed; i++) {
		const char *e = x->allowed[i];
		if (strstr(e, "://") ? !strcmp(e, uri) : (*u->host && !strcasecmp(e, u->host)))
			return true;
	}
	return false;
}

/* libvirt URI parameters that run a command or read or write a local file,
 * or weaken the checks of the connection (libvirt's remote driver, uri.html). */
static const char *const local_params[] = {
	"command", "socket", "netcat", "keyfile", "pkipath", "known_hosts",
	"known_hosts_verify", "sshauth", "no_verify", "tls_priority", "root",
};

/* Whether an untrusted cluster may use this host URI; reports why not. */
static void check_untrusted_uri(struct ctx *x, const struct host_spec *h)
{
	struct uri u;
	const char *why = NULL, *name = h->name ? h->name : "?";
	char *what = NULL;

	if (uri_parse(h->uri, &u))
		goto out;
	if (u.transport && !strcasecmp(u.transport, "ext"))
		what = xstrdup("transport 'ext' (it runs a local command)");
	for (size_t i = 0; !what && i < u.n_params; i++)
		for (size_t j = 0; !what && j < ARRAY_SIZE(local_params); j++)
			if (!strcasecmp(u.params[i].name, local_params[j]))
				what = xasprintf("URI parameter '%s'", local_params[j]);
	if (!what && !strcasecmp(u.scheme, "test") && !*u.host && strcmp(u.path, "/default"))
		what = xstrdup("the test driver with a file (it reads a local file)");
	if (!what || host_allowed(x, h->uri, &u))
		goto out;
	why = *u.host ? u.host : NULL;
	if (why)
		problem_at(x, &h->loc, "host '%s': %s is refused in a cluster from git or https: it "
			   "runs commands or reads files on the machine running vem; to allow it, add "
			   "'%s' (or the whole URI) to /etc/vem/trusted-hosts or VEM_TRUSTED_HOSTS",
			   name, what, why);
	else
		problem_at(x, &h->loc, "host '%s': %s is refused in a cluster from git or https: it "
			   "runs commands or reads files on the machine running vem; to allow it, add "
			   "the whole URI to /etc/vem/trusted-hosts or VEM_TRUSTED_HOSTS", name, what);
out:
	free(what);
	uri_release(&u);
}

static void check_host_paths(struct ctx *x, const struct vm_config *c, const struct cfg_locs *cl,
			     const struct loc *where, const char *what)
{
	static const enum cfg_key cks[] = { CK_KERNEL, CK_INITRD };
	const char *paths[] = { c->kernel, c->initrd };
	static const char *const names[] = { "kernel", "initrd" };

	if (!x->untrusted)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cks); i++) {
		struct loc l = cl->at[cks[i]].file ? cl->at[cks[i]] : *where;
		if (paths[i] && !boot_path_allowed(paths[i]))
			check_problem(x, &l, what, "%s '%s' is refused in a cluster from git or https: "
				      "it must be a plain absolute path in a host boot directory "
				      "(/var/lib/vem/guests, /var/lib/libvirt/boot, or VEM_BOOT_DIRS "
				      "on the machine running vem)", names[i], paths[i]);
	}
}

/* ---- scalar values ---- */

static const char *enum_list(const char *const *e, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; e[i] && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s'%s'",
				      i == 0 ? "" : e[i + 1] ? ", " : " or ", e[i]);
	return buf;
}

static const char *expected(const struct key *k, char *buf, size_t len)
{
	switch (k->type) {
	case K_STR: return "text";
	case K_PATH: return "a file path";
	case K_ENUM: case K_HV: case K_STATE: case K_CHOICE: return enum_list(k->enums, buf, len);
	case K_INT: return "a whole number";
	case K_FLOAT: return "a number";
	case K_BOOL: return "true or false";
	case K_SIZE: return "a size like 512MiB or 4GiB";
	case K_RATE: return "a size per second like 100MiB";
	case K_DURATION: return "a duration like 90s or 10m";
	case K_UNAVAIL: return "a count like 2 or a percentage like 25%";
	default: return "a value";
	}
}

static const char *format_limit(const struct key *k, double v, char buf[32])
{
	if (k->type == K_SIZE || k->type == K_RATE)
		return format_size((uint64_t)v, buf);
	snprintf(buf, 32, "%g", v);
	return buf;
}

static void range_problem(struct ctx *x, const yaml_node_t *n, const struct key *k)
{
	char lo[32], hi[32], b[64];
	const char *s = scalar(n);
	int64_t i;
	double d;
	uint64_t u;
	const char *why;
	bool low;

	if (k->type == K_INT)
		low = !parse_int64(s, &i) && i < k->min;
	else if (k->type == K_FLOAT)
		low = !parse_double(s, &d) && d < k->min;
	else
		low = !parse_size(s, &u, &why) && u < k->min;
	if (low)
		problem(x, n, "'%s' must be at least %s, found %s", k->name,
			format_limit(k, k->min, lo), node_what(n, b, sizeof(b)));
	else
		problem(x, n, "'%s' must be at most %s, found %s", k->name,
			format_limit(k, k->max, hi), node_what(n, b, sizeof(b)));
}

static char *resolve_path(const struct ctx *x, const char *p)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return xstrdup(p);
	if (x->dir)
		return xasprintf("%s/%s", x->dir, p);
	if (getcwd(cwd, sizeof(cwd)))
		return xasprintf("%s/%s", cwd, p);
	return xstrdup(p);
}

static void set_scalar(struct ctx *x, const yaml_node_t *n, const struct key *k, void *p)
{
	const char *why = NULL;
	char b[64], eb[160];
	int r;

	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		problem(x, n, "'%s': expected %s, found %s", k->name, expected(k, eb, sizeof(eb)),
			node_what(n, b, sizeof(b)));
		return;
	}
	snprintf(eb, sizeof(eb), "'%s'", k->name);
	if (!type_matches(x, n, eb, k->type != K_INT && k->type != K_FLOAT && k->type != K_BOOL,
			  k->type))
		return;
	if (k->type == K_PATH) {
		char *resolved = resolve_path(x, scalar(n));
		free(*(char **)p);
		*(char **)p = resolved;
		if (!x->quiet)
			untrusted_path_ok(x, n, k, resolved);
		return;
	}
	r = keys_parse_value(k, scalar(n), p, &why);
	if (r == -2)
		range_problem(x, n, k);
	else if (r && why && !strstr(why, "like"))   /* a reason the "expected" part does not give */
		problem(x, n, "'%s': expected %s, found %s: %s", k->name, expected(k, eb, sizeof(eb)),
			node_what(n, b, sizeof(b)), why);
	else if (r)
		problem(x, n, "'%s': expected %s, found %s", k->name, expected(k, eb, sizeof(eb)),
			node_what(n, b, sizeof(b)));
}

/* A label while a mapping is read: sorted once at the end (n log n). */
struct label_at {
	const char *key, *value;
	const yaml_node_t *kn;
	size_t pos;
};

static int label_at_cmp(const void *a, const void *b)
{
	const struct label_at *p = a, *q = b;
	int c = strcmp(p->key, q->key);
	return c ? c : p->pos < q->pos ? -1 : p->pos > q->pos;
}

static void set_labels(struct ctx *x, const yaml_node_t *n, const struct key *k, struct labels *l)
{
	struct label_at *v = NULL;
	size_t nv = 0, av = 0, kept = 0;
	char b[64];

	if (n->type != YAML_MAPPING_NODE) {
		problem(x, n, "'%s': expected a mapping of label names to values, found %s",
			k->name, node_what(n, b, sizeof(b)));
		return;
	}
	labels_release(l);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(x, p->key), *vn = node(x, p->value);
		if (!kn || !vn || !visit(x, vn))
			break;
		if (kn->type != YAML_SCALAR_NODE || is_null(kn)) {
			problem(x, kn, "'%s': a label name must be text, found %s", k->name,
				node_what(kn, b, sizeof(b)));
			continue;
		}
		if (vn->type != YAML_SCALAR_NODE || is_null(vn)) {
			problem(x, vn, "'%s': label '%s' must have a text value, found %s", k->name,
				scalar(kn), node_what(vn, b, sizeof(b)));
			continue;
		}
		snprintf(b, sizeof(b), "'%s': label '%.32s'", k->name, scalar(kn));
		if (!type_matches(x, vn, b, true, K_STR))
			continue;
		ALLOC_GROW(v, nv + 1, av);
		v[nv] = (struct label_at){ scalar(kn), scalar(vn), kn, nv };
		nv++;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), label_at_cmp);
	l->items = nv ? xcalloc(nv, sizeof(*l->items)) : NULL;
	for (size_t i = 0; i < nv; i++) {
		if (kept && !strcmp(l->items[kept - 1].key, v[i].key)) {
			problem(x, v[i].kn, "'%s': label '%s' is set twice", k->name, v[i].key);
			continue;
		}
		l->items[kept].key = xstrdup(v[i].key);
		l->items[kept].value = xstrdup(v[i].value);
		kept++;
	}
	l->nr = kept;
	free(v);
}

static void strlist_clear(char ***items, size_t *nr)
{
	for (size_t i = 0; i < *nr; i++)
		free((*items)[i]);
	free(*items);
	*items = NULL;
	*nr = 0;
}

static void set_strlist(struct ctx *x, const yaml_node_t *n, const struct key *k,
			char ***items, size_t *nr)
{
	struct raw_vm *vm = k->sub ? NULL : x->vm;   /* placement.hosts: keep locations */
	char b[64];

	if (n->type != YAML_SEQUENCE_NODE) {
		problem(x, n, "'%s': expected a list of names, found %s", k->name, node_what(n, b, sizeof(b)));
		return;
	}
	if (!(k->flags & KF_APPEND))
		strlist_clear(items, nr);
	if (vm) {
		free(vm->host_locs);
		vm->host_locs = NULL;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = node(x, *it);
		if (!in || !visit(x, in))
			return;
		if (in->type != YAML_SCALAR_NODE || is_null(in)) {
			problem(x, in, "'%s': expected a name, found %s", k->name, node_what(in, b, sizeof(b)));
			continue;
		}
		snprintf(b, sizeof(b), "'%.40s'", k->name);
		if (!type_matches(x, in, b, true, K_STR))
			continue;
		*items = xrealloc(*items, (*nr + 1) * sizeof(**items));
		(*items)[*nr] = xstrdup(scalar(in));
		if (vm) {
			vm->host_locs = xrealloc(vm->host_locs, (*nr + 1) * sizeof(*vm->host_locs));
			vm->host_locs[*nr] = node_loc(x, in);
		}
		(*nr)++;
	}
}

/* ---- mappings and lists ---- */

/* The tables a mapping is walked with: t, and t->with for its second part. */
struct frame {
	const struct table *t;
	void *base;
	const char *subject;           /* "vm 'api'", "balance" */
	uint64_t seen[2];              /* keys set directly (bit per key: t, then with) */
	uint64_t merged[2];            /* keys set through '<<' */
	bool via_merge;                /* a '<<' source: keeps the subject it was given */
};

static void walk_map(struct ctx *x, const yaml_node_t *map, struct frame *f, int depth);

static void item_start(struct ctx *x, const struct table *t, void *item, const yaml_node_t *n)
{
	keys_fill_defaults(t, item);
	if (t->has_loc)
		*(struct loc *)((char *)item + t->loc_off) = node_loc(x, n);
	if (t->has_src) {
		struct raw_src *s = (struct raw_src *)((char *)item + t->src_off);
		s->doc = x->doc;
		s->node = (yaml_node_t *)n;
		s->file = x->file;
		s->dir = x->dir;
	}
}

/* A list of the VM configuration (disks, networks): remember item locations. */
static void list_locs_push(struct ctx *x, const struct key *k, const yaml_node_t *n)
{
	struct loc **arr;
	size_t *nr;

	if (!x->locs || (k->ck != CK_DISKS && k->ck != CK_NETWORKS))
		return;
	arr = k->ck == CK_DISKS ? &x->locs->disks : &x->locs->nets;
	nr = k->ck == CK_DISKS ? &x->locs->n_disks : &x->locs->n_nets;
	*arr = xrealloc(*arr, (*nr + 1) * sizeof(**arr));
	(*arr)[(*nr)++] = node_loc(x, n);
}

static void walk_list(struct ctx *x, const yaml_node_t *n, const struct key *k, void *base, int depth)
{
	char b[64];

	if (n->type != YAML_SEQUENCE_NODE) {
		problem(x, n, "'%s': expected a list, found %s", k->name, node_what(n, b, sizeof(b)));
		return;
	}
	if (k->clear) {
		k->clear(base);
		if (x->locs && k->ck == CK_DISKS)
			x->locs->n_disks = 0;
		if (x->locs && k->ck == CK_NETWORKS)
			x->locs->n_nets = 0;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = node(x, *it);
		struct frame f = { .t = k->sub };
		struct raw_vm *outer = x->vm;
		if (!in || !visit(x, in))
			return;
		if (in->type != YAML_MAPPING_NODE) {
			problem(x, in, "'%s': each item must be a mapping, found %s", k->name,
				node_what(in, b, sizeof(b)));
			continue;
		}
		f.base = k->add(base);
		item_start(x, k->sub, f.base, in);
		list_locs_push(x, k, in);
		if (k->sub == &tbl_vm)
			x->vm = f.base;
		walk_map(x, in, &f, depth + 1);
		x->vm = outer;
	}
}

static void walk_value(struct ctx *x, const yaml_node_t *vn, const struct key *k, void *base,
		       int depth)
{
	void *p = (char *)base + k->off;
	char b[64];

	if (x->locs && k->ck)
		x->locs->at[k->ck] = node_loc(x, vn);
	switch (k->type) {
	case K_MAP: {
		struct frame f = { .t = k->sub, .base = p, .subject = k->name };
		if (vn->type == YAML_MAPPING_NODE)
			walk_map(x, vn, &f, depth + 1);
		else if (!is_null(vn))
			problem(x, vn, "'%s': expected a mapping, found %s", k->name,
				node_what(vn, b, sizeof(b)));
		return;
	}
	case K_LIST:
		if (!is_null(vn))
			walk_list(x, vn, k, base, depth);
		return;
	case K_LABELS:
		set_labels(x, vn, k, p);
		return;
	case K_STRLIST:
		set_strlist(x, vn, k, p, (size_t *)((char *)base + k->off2));
		return;
	default:
		set_scalar(x, vn, k, p);
	}
}

/* Find key name in f's tables: its index (t's keys, then with's) and base. */
static const struct key *frame_key(const struct frame *f, const char *name, size_t *idx, void **base)
{
	const struct key *k = keys_find(f->t, name);

	if (k) {
		*idx = (size_t)(k - f->t->keys);
		*base = f->base;
		return k;
	}
	if (f->t->with && (k = keys_find(f->t->with, name))) {
		*idx = f->t->n + (size_t)(k - f->t->with->keys);
		*base = (char *)f->base + f->t->with_off;
		return k;
	}
	return NULL;
}

static void unknown_key(struct ctx *x, const yaml_node_t *kn, const struct frame *f)
{
	const struct table *tabs[] = { f->t, f->t->with };
	const char *name = scalar(kn), *best = NULL;
	size_t bestd = (size_t)-1;

	struct loc l = node_loc(x, kn);

	/* re-walks see the VM's own keys (name, placement...); aliases the same key again */
	if (x->quiet || reported_at(x, &l))
		return;
	for (size_t t = 0; t < 2 && tabs[t]; t++)
		for (size_t i = 0; i < tabs[t]->n; i++) {
			size_t d = str_edit_distance(name, tabs[t]->keys[i].name);
			if (d < bestd) {
				bestd = d;
				best = tabs[t]->keys[i].name;
			}
		}
	if (best && bestd <= (strlen(name) > 6 ? 3u : 2u) && bestd < strlen(name))
		problem(x, kn, "unknown key '%s' in %s; did you mean '%s'?", name, f->subject, best);
	else
		problem(x, kn, "unknown key '%s' in %s", name, f->subject);
}

/* Top-level keys with rules across files; false: do not walk the value. */
static bool top_key_wanted(struct ctx *x, const struct key *k, const yaml_node_t *kn,
			   const yaml_node_t *vn)
{
	if (!strcmp(k->name, "cluster")) {
		if (!x->top.cluster) {
			x->cluster_loc = node_loc(x, vn);
			return true;
		}
		if (scalar(vn) && !str_eq(scalar(vn), x->top.cluster))
			problem(x, vn, "'cluster' is '%s' here but '%s' at %s:%d:%d", scalar(vn),
				x->top.cluster, x->cluster_loc.file, x->cluster_loc.line, x->cluster_loc.col);
		return false;
	}
	if (!strcmp(k->name, "balance")) {
		if (x->balance_loc.file) {
			problem(x, kn, "'balance' is defined twice (first at %s:%d:%d)", x->balance_loc.file,
				x->balance_loc.line, x->balance_loc.col);
			return false;
		}
		x->balance_loc = node_loc(x, kn);
	}
	return true;
}

/* One '<<' source: its keys apply unless the mapping sets them itself. */
static void merge_one(struct ctx *x, const yaml_node_t *src, struct frame *f, int depth)
{
	struct frame mf = { .t = f->t, .base = f->base, .subject = f->subject, .via_merge = true };

	if (src->type != YAML_MAPPING_NODE) {
		problem(x, src, "'<<' merges mappings only, found %s",
			src->type == YAML_SEQUENCE_NODE ? "a list" : "a value");
		return;
	}
	walk_map(x, src, &mf, depth + 1);
	for (int i = 0; i < 2; i++)
		f->merged[i] |= mf.seen[i] | mf.merged[i];
}

/* "<<: *a" or "<<: [*a, *b]" */
static void walk_merge(struct ctx *x, const yaml_node_t *vn, struct frame *f, int depth)
{
	if (vn->type != YAML_SEQUENCE_NODE) {
		if (visit(x, vn))
			merge_one(x, vn, f, depth);
		return;
	}
	for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
		const yaml_node_t *src = node(x, *it);
		if (!src || !visit(x, src))
			return;
		merge_one(x, src, f, depth);
	}
}

static bool bit_get(const uint64_t *set, size_t i) { return i < 128 && (set[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t *set, size_t i) { if (i < 128) set[i / 64] |= 1ull << (i % 64); }

static void check_required(struct ctx *x, const yaml_node_t *map, const struct frame *f)
{
	for (size_t i = 0; i < f->t->n; i++)
		if ((f->t->keys[i].flags & KF_REQUIRED) && !bit_get(f->seen, i) && !bit_get(f->merged, i))
			problem(x, map, "%s is missing required key '%s'", f->subject, f->t->keys[i].name);
}

/* "vm 'api'" when the mapping has a name, else the table's name. */
static char *subject_of(struct ctx *x, const yaml_node_t *map, const struct table *t, const char *dflt)
{
	if (keys_find(t, "name"))
		for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
			if (str_eq(scalar(node(x, p->key)), "name") && scalar(node(x, p->value)) &&
			    !is_null(node(x, p->value)))
				return xasprintf("%s '%s'", t->name, scalar(node(x, p->value)));
	return xstrdup(dflt ? dflt : t->name);
}

/*
 * Walk a mapping: keys merged with '<<' first, so that the mapping's own keys
 * win wherever they are written; a key set twice is an error.
 */
static void walk_map(struct ctx *x, const yaml_node_t *map, struct frame *f, int depth)
{
	char *subject = NULL;
	char b[64];

	if (depth > CFG_MAX_DEPTH || x->n_open >= (int)ARRAY_SIZE(x->open)) {
		problem(x, map, "nesting is deeper than %d levels", CFG_MAX_DEPTH);
		return;
	}
	for (int i = 0; i < x->n_open; i++)
		if (x->open[i] == map) {
			problem(x, map, "this mapping contains itself through an alias");
			return;
		}
	x->open[x->n_open++] = map;
	if (!f->via_merge && (!f->subject || f->t->has_loc))
		f->subject = subject = subject_of(x, map, f->t, f->subject);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
		if (str_eq(scalar(node(x, p->key)), "<<") && node(x, p->value))
			walk_merge(x, node(x, p->value), f, depth);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(x, p->key), *vn = node(x, p->value);
		const struct key *k;
		void *base;
		size_t idx;

		if (!kn || !vn || !visit(x, vn))
			break;
		if (kn->type != YAML_SCALAR_NODE) {
			problem(x, kn, "keys must be plain names, found %s", node_what(kn, b, sizeof(b)));
			continue;
		}
		if (!strcmp(scalar(kn), "<<"))
			continue;
		k = frame_key(f, scalar(kn), &idx, &base);
		if (!k) {
			unknown_key(x, kn, f);
			continue;
		}
		if (bit_get(f->seen, idx)) {
			problem(x, kn, "'%s' is set twice in %s", k->name, f->subject);
			continue;
		}
		bit_set(f->seen, idx);
		if (f->t == &tbl_top && !top_key_wanted(x, k, kn, vn))
			continue;
		walk_value(x, vn, k, base, depth);
	}
	if (!f->via_merge)
		check_required(x, map, f);
	if (subject)
		f->subject = NULL;
	free(subject);
	x->n_open--;
}

/* ---- files ---- */

static const char *intern(char ***arr, size_t *n, size_t *a, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i], s))
			return (*arr)[i];
	ALLOC_GROW(*arr, *n + 1, *a);
	(*arr)[*n] = xstrdup(s);
	return (*arr)[(*n)++];
}

static void walk_document(struct ctx *x, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct frame f = { .t = &tbl_top, .base = &x->top, .subject = "the cluster file" };
	char b[64];

	x->doc = doc;
	/* one budget for the whole load: every document's own nodes, plus
	 * CFG_MAX_NODES extra values from aliases across all documents */
	x->max_visits += (size_t)(doc->nodes.top - doc->nodes.start);
	if (root->type != YAML_MAPPING_NODE) {
		x->broken = true;   /* nothing of it can be used: the rest would be noise */
		problem(x, root, "expected a mapping with keys such as 'cluster', 'hosts' and 'vms', found %s",
			node_what(root, b, sizeof(b)));
		return;
	}
	walk_map(x, root, &f, 0);
}

/* Each document of buf, composed (compose.c: nesting deeper than
 * CFG_MAX_DEPTH is refused as it is met, before libyaml's scanner, whose work
 * per token grows with the flow nesting depth, goes quadratic) and walked. */
static void parse_buffer(struct ctx *x, const char *name, const char *dir,
			 const unsigned char *buf, size_t len)
{
	yaml_parser_t parser;

	x->file = intern(&x->files, &x->n_files, &x->a_files, name);
	x->dir = dir ? intern(&x->dirs, &x->n_dirs, &x->a_dirs, dir) : NULL;
	if (len > x->max_file) {
		char b[32];
		x->broken = true;
		err_at(x->err, x->file, 1, 1, "file is larger than the limit of %s "
		       "(VEM_MAX_FILE_BYTES raises it)", format_size(x->max_file, b));
		return;
	}
	if (!yaml_parser_initialize(&parser)) {
		x->broken = true;
		err_at(x->err, x->file, 1, 1, "cannot initialise the YAML parser");
		return;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	while (!x->too_many) {
		yaml_document_t *doc = xcalloc(1, sizeof(*doc));
		struct compose_error ce;
		enum compose_result r = yaml_compose(&parser, doc, CFG_MAX_DEPTH, &ce);
		if (r != COMPOSE_DOCUMENT || !yaml_document_get_root_node(doc)) {
			if (r == COMPOSE_ERROR) {
				x->broken = true;
				err_at(x->err, x->file, ce.line, ce.column, "%s", ce.msg);
			}
			yaml_document_delete(doc);
			free(doc);
			break;
		}
		ALLOC_GROW(x->docs, x->n_docs + 1, x->a_docs);
		x->docs[x->n_docs++] = doc;
		walk_document(x, doc);
	}
	yaml_parser_delete(&parser);
}

static void cannot_read(struct ctx *x, const char *path, int errnum)
{
	const char *f = intern(&x->files, &x->n_files, &x->a_files, path);
	char b[32];

	x->broken = true;
	if (errnum == EFBIG)
		err_at(x->err, f, 1, 1, "file is larger than the limit of %s "
		       "(VEM_MAX_FILE_BYTES raises it)", format_size(x->max_file, b));
	else if (errnum == ENODEV)
		err_at(x->err, f, 1, 1, "not a regular file (a FIFO, device or socket): refused");
	else if (errnum == ENOENT)
		err_at(x->err, f, 1, 1, "no such file or directory");
	else
		err_at(x->err, f, 1, 1, "cannot read: %s", strerror(errnum));
}

static void outside_root(struct ctx *x, const char *path)
{
	x->broken = true;
	err_at(x->err, intern(&x->files, &x->n_files, &x->a_files, path), 1, 1,
	       "resolves outside the source's tree (a symlink out of a cluster from git or "
	       "https): refused");
}

static void load_file(struct ctx *x, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char *copy = xstrdup(path), *slash = strrchr(copy, '/');
	char *dir, *abs = NULL;

	if (slash)
		*(slash == copy ? slash + 1 : slash) = '\0';
	dir = realpath(slash ? copy : ".", NULL);
	if (x->untrusted && dir)
		abs = xasprintf("%s/%s", dir, slash ? strrchr(path, '/') + 1 : path);
	if (x->untrusted && (!abs || !inside_root(x, abs)))
		outside_root(x, path);
	else if (strbuf_read_regular(&sb, path, x->max_file, NULL))
		cannot_read(x, path, errno);
	else
		parse_buffer(x, path, dir, (const unsigned char *)sb.buf, sb.len);
	free(abs);
	free(dir);
	free(copy);
	strbuf_release(&sb);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(struct ctx *x, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, a = 0;

	if (!d) {
		cannot_read(x, path, errno);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    !(str_ends_with(e->d_name, ".yaml") || str_ends_with(e->d_name, ".yml")))
			continue;
		if (n >= x->max_dir_files) {
			n++;   /* one more than the limit: stop reading */
			break;
		}
		ALLOC_GROW(names, n + 1, a);
		names[n++] = xasprintf("%s%s%s", path, str_ends_with(path, "/") ? "" : "/", e->d_name);
	}
	closedir(d);
	if (n > x->max_dir_files) {
		x->broken = true;
		err_at(x->err, intern(&x->files, &x->n_files, &x->a_files, path), 1, 1,
		       "more than %llu *.yaml files in this directory (VEM_MAX_DIR_FILES raises "
		       "the limit)", (unsigned long long)x->max_dir_files);
		n--;
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		n = 0;
	} else if (!n) {
		x->broken = true;
		err_at(x->err, intern(&x->files, &x->n_files, &x->a_files, path), 1, 1,
		       "no *.yaml or *.yml files in this directory");
	} else {
		qsort(names, n, sizeof(*names), cmp_str);
	}
	for (size_t i = 0; i < n; i++) {
		load_file(x, names[i]);
		free(names[i]);
	}
	free(names);
}

/* ---- checks ---- */

bool cfg_valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64 || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

bool cfg_valid_uri(const char *s)
{
	const char *p = strstr(s, "://");

	if (!p || p == s || !isalpha((unsigned char)s[0]))
		return false;
	for (const char *q = s; q < p; q++)
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
			return false;
	for (p += 3; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return false;
	return true;
}

bool cfg_valid_sha256(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return true;
}

bool cfg_valid_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return !(strtol(s, NULL, 16) & 1);   /* not multicast */
}

static void check_name(struct ctx *x, const char *what, const char *name, const struct loc *l)
{
	if (name && !cfg_valid_name(name))
		problem_at(x, l, "%s name '%s' must start with a letter or digit and use letters, "
			   "digits, '-', '_' and '.' only (at most 64)", what, name);
}

struct named {
	const char *name;
	const struct loc *loc;
};

static int named_cmp(const void *a, const void *b)
{
	const struct named *p = a, *q = b;
	int c = strcmp(p->name, q->name);
	if (c)
		return c;
	c = strcmp(p->loc->file, q->loc->file);
	if (c)
		return c;
	return p->loc->line != q->loc->line ? p->loc->line - q->loc->line : p->loc->col - q->loc->col;
}

/* "host 'h1' is defined twice (first at a.yaml:3:5)": sort, then compare neighbours. */
static void check_duplicates(struct ctx *x, const char *what, struct named *v, size_t n)
{
	qsort(v, n, sizeof(*v), named_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t first = i - 1;
		while (first > 0 && !strcmp(v[first - 1].name, v[i].name))
			first--;
		if (!strcmp(v[i].name, v[first].name))
			problem_at(x, v[i].loc, "%s '%s' is defined twice (first at %s:%d:%d)", what,
				   v[i].name, v[first].loc->file, v[first].loc->line, v[first].loc->col);
	}
}

#define CHECK_DUPS(x, what, arr, n, name_f, loc_f)                             \
	do {                                                                   \
		struct named *v_ = xcalloc((n) + 1, sizeof(*v_));               \
		size_t k_ = 0;                                                 \
		for (size_t i_ = 0; i_ < (n); i_++)                            \
			if ((arr)[i_].name_f)                                  \
				v_[k_++] = (struct named){ (arr)[i_].name_f, &(arr)[i_].loc_f }; \
		check_duplicates(x, what, v_, k_);                       \
		free(v_);                                                      \
	} while (0)

static bool fence_word(const char *s, const char *extra)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      strchr(extra, *s)))
			return false;
	return true;
}

/* A fence agent is a plain fence_* name; its options are key=value lines
 * on its stdin, so a key or value cannot hold a line break. */
static void check_fence(struct ctx *x, const struct host_spec *h)
{
	const char *name = h->name ? h->name : "?";

	if (!h->fence.agent)
		return;
	if (strncmp(h->fence.agent, "fence_", 6) || !fence_word(h->fence.agent + 6, ""))
		problem_at(x, &h->loc, "host '%s': fence agent '%s' is not a plain name like "
			   "fence_ipmilan (agents run from /usr/sbin)", name, h->fence.agent);
	for (size_t j = 0; j < h->fence.options.nr; j++) {
		const struct label *o = &h->fence.options.items[j];
		if (!fence_word(o->key, "-") || !strcmp(o->key, "action"))
			problem_at(x, &h->loc, "host '%s': fence option '%s' is not allowed (lowercase "
				   "letters, digits, '_' and '-'; vem sets 'action' itself)", name, o->key);
		else if (strpbrk(o->value, "\r\n"))
			problem_at(x, &h->loc, "host '%s': fence option '%s' holds a line break",
				   name, o->key);
	}
}

static void check_hosts(struct ctx *x)
{
	CHECK_DUPS(x, "host", x->top.hosts, x->top.n_hosts, name, loc);
	for (size_t i = 0; i < x->top.n_hosts; i++) {
		const struct host_spec *h = &x->top.hosts[i];
		check_name(x, "host", h->name, &h->loc);
		if (h->uri && !cfg_valid_uri(h->uri)) {
			char *shown = uri_mask(h->uri);
			problem_at(x, &h->loc, "host '%s': '%s' is not a libvirt URI like "
				   "qemu+tcp://10.0.0.1/system", h->name ? h->name : "?", shown);
			free(shown);
		} else if (h->uri && x->untrusted) {
			check_untrusted_uri(x, h);
		}
		if (h->memory && h->reserve >= h->memory)
			problem_at(x, &h->loc, "host '%s': reserve is not below its memory capacity",
				   h->name ? h->name : "?");
		check_fence(x, h);
	}
}

static void check_images(struct ctx *x)
{
	CHECK_DUPS(x, "image", x->top.images, x->top.n_images, name, loc);
	for (size_t i = 0; i < x->top.n_images; i++) {
		const struct image_spec *im = &x->top.images[i];
		const char *n = im->name ? im->name : "?";
		check_name(x, "image", im->name, &im->loc);
		if (im->sha256 && !cfg_valid_sha256(im->sha256))
			problem_at(x, &im->loc, "image '%s': sha256 must be 64 lowercase hex digits, "
				   "found '%.70s'", n, im->sha256);
		if (im->url && x->untrusted && str_starts_with(im->url, "file:"))
			problem_at(x, &im->loc, "image '%s': file:// URLs are refused in a cluster from "
				   "git or https (it would read a file of the machine running vem); use "
				   "https://", n);
		else if (im->url && !str_starts_with(im->url, "https://") &&
		    !str_starts_with(im->url, "http://") && !str_starts_with(im->url, "file:///"))
			problem_at(x, &im->loc, "image '%s': url must start with https://, http:// "
				   "or file:///, found '%.70s'", n, im->url);   /* not a URL: nothing to mask */
	}
}

static struct loc cfg_loc(const struct cfg_locs *cl, enum cfg_key ck, const struct loc *dflt)
{
	return cl->at[ck].file ? cl->at[ck] : *dflt;
}

static bool cfg_bad(const struct ctx *x, const struct cfg_locs *cl, enum cfg_key ck)
{
	return cl->at[ck].file && reported_at(x, &cl->at[ck]);
}

static void check_limits(struct ctx *x, const struct vm_config *c, const struct cfg_locs *cl,
			 const struct loc *where, const char *what)
{
	char b1[32], b2[32];
	struct loc l;

	if (c->memory > c->max_memory && !cfg_bad(x, cl, CK_MEMORY) && !cfg_bad(x, cl, CK_MAX_MEMORY)) {
		l = cfg_loc(cl, cl->at[CK_MAX_MEMORY].file ? CK_MAX_MEMORY : CK_MEMORY, where);
		check_problem(x, &l, what, "memory %s is above max-memory %s",
			      format_size(c->memory, b1), format_size(c->max_memory, b2));
	}
	if (c->vcpus > c->max_vcpus && !cfg_bad(x, cl, CK_VCPUS) && !cfg_bad(x, cl, CK_MAX_VCPUS)) {
		l = cfg_loc(cl, cl->at[CK_MAX_VCPUS].file ? CK_MAX_VCPUS : CK_VCPUS, where);
		check_problem(x, &l, what, "vcpus %d is above max-vcpus %d", c->vcpus, c->max_vcpus);
	}
	/* for lxc, cmdline is the container's init command: no kernel there */
	if (!c->kernel && (c->initrd || (c->cmdline && c->hypervisor != HV_LXC))) {
		l = cfg_loc(cl, c->initrd ? CK_INITRD : CK_CMDLINE, where);
		check_problem(x, &l, what, "'%s' needs a 'kernel'", c->initrd ? "initrd" : "cmdline");
	}
	if (c->hypervisor == HV_LXC && c->n_disks) {
		l = cfg_loc(cl, CK_DISKS, where);
		check_problem(x, &l, what, "lxc containers have no disks");
	}
}

static void check_devices(struct ctx *x, const struct vm_config *c, const struct cfg_locs *cl,
			  const struct image_spec *images, size_t n_images, const struct loc *where,
			  const char *what)
{
	for (size_t i = 0; i < c->n_disks; i++) {
		const struct disk_spec *d = &c->disks[i];
		const struct loc *l = i < cl->n_disks ? &cl->disks[i] : where;
		bool known = false;
		for (size_t j = 0; d->image && j < n_images; j++)
			known |= str_eq(images[j].name, d->image);
		if (d->image && !known)
			check_problem(x, l, what, "disk %zu: unknown image '%s'", i, d->image);
		if (!d->image && !d->size)
			check_problem(x, l, what, "disk %zu needs a 'size' or an 'image'", i);
	}
	for (size_t i = 0; i < c->n_nets; i++) {
		const struct net_spec *n = &c->nets[i];
		const struct loc *l = i < cl->n_nets ? &cl->nets[i] : where;
		if (n->network && n->bridge)
			check_problem(x, l, what, "network interface %zu has both 'network' and 'bridge'", i);
		else if (!n->network && !n->bridge)
			check_problem(x, l, what, "network interface %zu needs 'network' or 'bridge'", i);
		if (n->mac && !cfg_valid_mac(n->mac))
			check_problem(x, l, what, "network interface %zu: '%s' is not a unicast MAC "
				      "address like 52:54:00:12:34:56", i, n->mac);
	}
}

/*
 * Cloud-init files are read by vem itself (seed ISO, spec hash): each must
 * be a regular file within the size limit, checked without blocking on a
 * FIFO or device. A path refused already (untrusted) is not looked at.
 */
static void check_cloud_init(struct ctx *x, const struct vm_config *c, const struct cfg_locs *cl,
			     const struct loc *where, const char *what)
{
	static const enum cfg_key cks[] = { CK_USER_DATA, CK_META_DATA, CK_NETWORK_CONFIG };
	const char *paths[] = { c->user_data, c->meta_data, c->network_config };
	char b[32];

	for (size_t i = 0; i < ARRAY_SIZE(cks); i++) {
		struct loc l = cfg_loc(cl, cks[i], where);
		struct stat st;
		int fd;
		if (!paths[i] || cfg_bad(x, cl, cks[i]))
			continue;
		fd = open(paths[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || fstat(fd, &st))
			check_problem(x, &l, what, "cloud-init file '%s' %s", paths[i],
				      errno == ENOENT ? "does not exist" : "cannot be read");
		else if (!S_ISREG(st.st_mode))
			check_problem(x, &l, what, "cloud-init file '%s' is not a regular file", paths[i]);
		else if ((uint64_t)st.st_size > x->max_cloud_init)
			check_problem(x, &l, what, "cloud-init file '%s' is larger than the limit of %s "
				      "(VEM_MAX_CLOUD_INIT_BYTES raises it)", paths[i],
				      format_size(x->max_cloud_init, b));
		if (fd >= 0)
			close(fd);
	}
}

static void check_config(struct ctx *x, const struct vm_config *c, const struct cfg_locs *cl,
			 const struct loc *where, const char *what)
{
	check_limits(x, c, cl, where, what);
	check_devices(x, c, cl, x->top.images, x->top.n_images, where, what);
	check_cloud_init(x, c, cl, where, what);
	check_host_paths(x, c, cl, where, what);
}

/* ---- resolution ---- */

static void cfg_locs_release(struct cfg_locs *cl)
{
	free(cl->disks);
	free(cl->nets);
	memset(cl, 0, sizeof(*cl));
}

static void cfg_locs_copy(struct cfg_locs *dst, const struct cfg_locs *src)
{
	*dst = *src;
	dst->disks = src->n_disks ? xmalloc(src->n_disks * sizeof(*src->disks)) : NULL;
	dst->nets = src->n_nets ? xmalloc(src->n_nets * sizeof(*src->nets)) : NULL;
	if (src->n_disks)
		memcpy(dst->disks, src->disks, src->n_disks * sizeof(*src->disks));
	if (src->n_nets)
		memcpy(dst->nets, src->nets, src->n_nets * sizeof(*src->nets));
}

/* Walk src's mapping quietly (VM configuration keys only) over cfg. */
static void rewalk_config(struct ctx *x, const struct raw_src *src, struct vm_config *cfg,
			  struct cfg_locs *cl)
{
	struct frame f = { .t = &tbl_vmcfg, .base = cfg, .subject = "" };

	x->quiet = true;
	x->doc = src->doc;
	x->file = src->file;
	x->dir = src->dir;
	x->locs = cl;
	walk_map(x, src->node, &f, 1);
	x->locs = NULL;
	x->quiet = false;
}

struct built_template {
	struct vm_config cfg;          /* before derived defaults */
	struct cfg_locs locs;
};

static void build_templates(struct ctx *x, struct cluster *c, struct built_template *bt)
{
	CHECK_DUPS(x, "template", x->top.templates, x->top.n_templates, t.name, t.loc);
	c->templates = xcalloc(x->top.n_templates + 1, sizeof(*c->templates));
	c->n_templates = x->top.n_templates;
	for (size_t i = 0; i < x->top.n_templates; i++) {
		const struct raw_template *rt = &x->top.templates[i];
		struct template_spec *t = &c->templates[i];
		char *what = xasprintf("template '%s'", rt->t.name ? rt->t.name : "?");

		check_name(x, "template", rt->t.name, &rt->t.loc);
		keys_fill_defaults(&tbl_vmcfg, &bt[i].cfg);
		rewalk_config(x, &rt->src, &bt[i].cfg, &bt[i].locs);
		t->name = xstrdup(rt->t.name);
		t->loc = rt->t.loc;
		vm_config_copy(&t->cfg, &bt[i].cfg);
		keys_fill_derived(&tbl_vmcfg, &t->cfg);
		check_config(x, &t->cfg, &bt[i].locs, &rt->t.loc, what);
		free(what);
	}
}

static void unknown_template(struct ctx *x, const struct raw_vm *v)
{
	const char *best = NULL;
	size_t bd = (size_t)-1;

	for (size_t j = 0; j < x->top.n_templates; j++) {
		const char *n = x->top.templates[j].t.name;
		size_t d = n ? str_edit_distance(v->spec.template, n) : bd;
		if (d < bd) {
			bd = d;
			best = n;
		}
	}
	if (best && bd <= 2 && bd < strlen(v->spec.template))
		problem_at(x, &v->spec.loc, "vm '%s': unknown template '%s'; did you mean '%s'?",
			   v->spec.name, v->spec.template, best);
	else
		problem_at(x, &v->spec.loc, "vm '%s': unknown template '%s'", v->spec.name,
			   v->spec.template);
}

static int template_index(const struct ctx *x, const char *name)
{
	for (size_t i = 0; name && i < x->top.n_templates; i++)
		if (str_eq(x->top.templates[i].t.name, name))
			return (int)i;
	return -1;
}

static void check_placement(struct ctx *x, const struct raw_vm *v, const struct cluster *c)
{
	const struct placement_spec *p = &v->spec.placement;

	for (size_t j = 0; j < p->n_hosts; j++)
		if (!cluster_host(c, p->hosts[j]))
			problem_at(x, v->host_locs ? &v->host_locs[j] : &v->spec.loc,
				   "vm '%s': placement names unknown host '%s'", v->spec.name, p->hosts[j]);
}

static void placement_copy(struct placement_spec *dst, const struct placement_spec *src)
{
	dst->n_hosts = src->n_hosts;
	dst->hosts = xcalloc(src->n_hosts + 1, sizeof(char *));
	for (size_t j = 0; j < src->n_hosts; j++)
		dst->hosts[j] = xstrdup(src->hosts[j]);
	labels_copy(&dst->labels, &src->labels);
	dst->spread = xstrdup(src->spread);
	dst->together = xstrdup(src->together);
}

/* Append v's VMs (one, or one per replica) to c; cfg is consumed. */
static void expand_vm(struct cluster *c, size_t *avm, const struct raw_vm *v, struct vm_config *cfg)
{
	int n = v->replicas < 0 ? 1 : v->replicas;

	for (int r = 0; r < n; r++) {
		struct vm_spec *s;
		ALLOC_GROW(c->vms, c->n_vms + 1, *avm);
		s = &c->vms[c->n_vms++];
		memset(s, 0, sizeof(*s));
		s->name = v->replicas < 0 ? xstrdup(v->spec.name) : xasprintf("%s-%d", v->spec.name, r);
		s->group = xstrdup(v->spec.name);
		s->replica = v->replicas < 0 ? -1 : r;
		s->template = xstrdup(v->spec.template);
		s->state = v->spec.state;
		s->rollout = v->spec.rollout;
		s->adopt = v->spec.adopt;
		s->loc = v->spec.loc;
		if (r == n - 1) {
			s->cfg = *cfg;
			memset(cfg, 0, sizeof(*cfg));
		} else {
			vm_config_copy(&s->cfg, cfg);
		}
		placement_copy(&s->placement, &v->spec.placement);
		s->ha.policy = xstrdup(v->spec.ha.policy);
		s->ha.priority = v->spec.ha.priority;
	}
	vm_config_release(cfg);
}

static void build_vm(struct ctx *x, struct cluster *c, const struct built_template *bt,
		     const struct raw_vm *v, size_t *avm)
{
	int ti = template_index(x, v->spec.template);
	struct vm_config cfg = { 0 };
	struct cfg_locs cl = { 0 };
	char *what;

	check_name(x, "vm", v->spec.name, &v->spec.loc);
	if (v->spec.template && ti < 0)
		unknown_template(x, v);
	check_placement(x, v, c);
	if (ti >= 0) {
		vm_config_copy(&cfg, &bt[ti].cfg);
		cfg_locs_copy(&cl, &bt[ti].locs);
	} else {
		keys_fill_defaults(&tbl_vmcfg, &cfg);
	}
	rewalk_config(x, &v->src, &cfg, &cl);
	keys_fill_derived(&tbl_vmcfg, &cfg);
	what = xasprintf("vm '%s'", v->spec.name);
	check_config(x, &cfg, &cl, &v->spec.loc, what);
	free(what);
	cfg_locs_release(&cl);
	expand_vm(c, avm, v, &cfg);
}

static int vm_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_spec *)a)->name, ((const struct vm_spec *)b)->name);
}

static int vm_cmp_loc(const void *a, const void *b)
{
	const struct vm_spec *p = *(const struct vm_spec *const *)a, *q = *(const struct vm_spec *const *)b;
	int c = strcmp(p->name, q->name);
	if (c)
		return c;
	if ((c = strcmp(p->loc.file, q->loc.file)))
		return c;
	return p->loc.line != q->loc.line ? p->loc.line - q->loc.line : p->loc.col - q->loc.col;
}

static const char *replica_of(const struct vm_spec *v, bool first, char *buf, size_t len)
{
	if (v->replica < 0)
		return "";
	if (first)
		snprintf(buf, len, " as replica %d of '%.64s'", v->replica, v->group);
	else
		snprintf(buf, len, " (replica %d of '%.64s')", v->replica, v->group);
	return buf;
}

/* Two entries making one name: "vm 'api-1' is defined twice (first at f:3:5 as replica 1 of 'api')". */
static void check_vm_names(struct ctx *x, const struct cluster *c)
{
	const struct vm_spec **v = xcalloc(c->n_vms + 1, sizeof(*v));
	size_t first = 0;
	char b1[96], b2[96];

	for (size_t i = 0; i < c->n_vms; i++)
		v[i] = &c->vms[i];
	qsort(v, c->n_vms, sizeof(*v), vm_cmp_loc);
	for (size_t i = 1; i < c->n_vms; i++) {
		if (strcmp(v[i]->name, v[first]->name)) {
			first = i;
			continue;
		}
		problem_at(x, &v[i]->loc, "vm '%s'%s is defined twice (first at %s:%d:%d%s)", v[i]->name,
			   replica_of(v[i], false, b1, sizeof(b1)), v[first]->loc.file,
			   v[first]->loc.line, v[first]->loc.col,
			   replica_of(v[first], true, b2, sizeof(b2)));
	}
	free(v);
}

static void build_vms(struct ctx *x, struct cluster *c, const struct built_template *bt)
{
	size_t avm = 0, total = 0;

	for (size_t i = 0; i < x->top.n_vms; i++) {
		const struct raw_vm *v = &x->top.vms[i];
		if (!v->spec.name)
			continue;
		total += v->replicas < 0 ? 1 : (size_t)v->replicas;
		if (total > CFG_MAX_VMS) {
			problem_at(x, &v->spec.loc, "more than %d VMs after expanding replicas", CFG_MAX_VMS);
			break;
		}
		build_vm(x, c, bt, v, &avm);
	}
	if (c->n_vms)
		qsort(c->vms, c->n_vms, sizeof(*c->vms), vm_cmp);
	check_vm_names(x, c);
}

#define MOVE_LIST(dst, n_dst, src, n_src)                                      \
	do {                                                                   \
		(dst) = (src);                                                 \
		(n_dst) = (n_src);                                             \
		(src) = NULL;                                                  \
		(n_src) = 0;                                                   \
	} while (0)

static struct cluster *resolve(struct ctx *x)
{
	struct cluster *c = xcalloc(1, sizeof(*c));
	struct built_template *bt = xcalloc(x->top.n_templates + 1, sizeof(*bt));

	c->name = x->top.cluster;
	x->top.cluster = NULL;
	if (!c->name)
		problem_at(x, NULL, "missing required key 'cluster' (the cluster's name)");
	check_name(x, "cluster", c->name, &x->cluster_loc);
	check_hosts(x);
	MOVE_LIST(c->hosts, c->n_hosts, x->top.hosts, x->top.n_hosts);
	check_images(x);
	build_templates(x, c, bt);
	build_vms(x, c, bt);
	MOVE_LIST(c->images, c->n_images, x->top.images, x->top.n_images);
	c->balance = x->top.balance;
	c->rollout = x->top.rollout;
	MOVE_LIST(c->allow_destroy, c->n_allow_destroy, x->top.allow_destroy, x->top.n_allow_destroy);
	c->storage = x->top.storage;
	memset(&x->top.storage, 0, sizeof(x->top.storage));
	c->ha = x->top.ha;
	if (x->err->nr == x->err_base)   /* reads cloud-init files: only once they passed */
		cluster_hash_vms(c);
	for (size_t i = 0; i < x->top.n_templates; i++) {
		vm_config_release(&bt[i].cfg);
		cfg_locs_release(&bt[i].locs);
	}
	free(bt);
	return c;
}

/* ---- context ---- */

static void raw_top_release(struct raw_top *t)
{
	struct cluster tmp = {
		.hosts = t->hosts, .n_hosts = t->n_hosts,
		.images = t->images, .n_images = t->n_images,
	};

	cluster_release_hosts_images(&tmp);
	for (size_t i = 0; i < t->n_templates; i++) {
		free(t->templates[i].t.name);
		vm_config_release(&t->templates[i].t.cfg);
	}
	free(t->templates);
	for (size_t i = 0; i < t->n_vms; i++) {
		free(t->vms[i].spec.name);
		free(t->vms[i].spec.template);
		vm_config_release(&t->vms[i].spec.cfg);
		placement_release(&t->vms[i].spec.placement);
		free(t->vms[i].spec.ha.policy);
		free(t->vms[i].host_locs);
	}
	free(t->vms);
	storage_spec_release(&t->storage);
	free(t->cluster);
	for (size_t i = 0; i < t->n_allow_destroy; i++)
		free(t->allow_destroy[i]);
	free(t->allow_destroy);
	memset(t, 0, sizeof(*t));
}

static void ctx_init(struct ctx *x, struct errbuf *err)
{
	memset(x, 0, sizeof(*x));
	x->err = err;
	x->err_base = err->nr;
	x->max_visits = CFG_MAX_NODES;
	x->max_file = env_limit("VEM_MAX_FILE_BYTES", CFG_MAX_FILE_BYTES, false);
	x->max_dir_files = env_limit("VEM_MAX_DIR_FILES", CFG_MAX_DIR_FILES, true);
	x->max_cloud_init = env_limit("VEM_MAX_CLOUD_INIT_BYTES", CFG_MAX_CLOUD_INIT_BYTES, false);
	keys_fill_defaults(&tbl_balance, &x->top.balance);
	keys_fill_defaults(&tbl_rollout, &x->top.rollout);
}

static void ctx_release(struct ctx *x)
{
	raw_top_release(&x->top);
	for (size_t i = 0; i < x->n_docs; i++) {
		yaml_document_delete(x->docs[i]);
		free(x->docs[i]);
	}
	free(x->docs);
	for (size_t i = 0; i < x->n_dirs; i++)
		free(x->dirs[i]);
	free(x->dirs);
	for (size_t i = 0; i < x->n_files; i++)
		free(x->files[i]);
	free(x->files);
	for (size_t i = 0; i < x->n_allowed; i++)
		free(x->allowed[i]);
	free(x->allowed);
	free(x->root);
}

static struct cluster *finish(struct ctx *x)
{
	struct cluster *c = NULL;

	/* after a syntax error or an alias bomb the rest would only add noise */
	if (!x->too_many && !x->broken)
		c = resolve(x);
	if (c) {
		c->files = x->files;
		c->n_files = x->n_files;
		x->files = NULL;
		x->n_files = 0;
	}
	ctx_release(x);
	if (x->err->nr) {
		err_sort(x->err);
		if (x->dropped)
			err_set(x->err, "%zu more problems not shown", x->dropped);
		cluster_free(c);
		return NULL;
	}
	return c;
}

static void ctx_set_trust(struct ctx *x, const struct load_options *opt)
{
	if (!opt || !opt->untrusted)
		return;
	x->untrusted = true;
	x->trusted_hosts = opt->trusted_hosts;
	x->root = opt->root ? realpath(opt->root, NULL) : NULL;
	if (!x->root)    /* nothing is inside a tree that cannot be found */
		x->root = xstrdup("/nonexistent/vem-untrusted-root");
}

struct cluster *cfg_load_opts(const char *path, const struct load_options *opt,
			      struct errbuf *err)
{
	struct ctx x;
	struct stat st;
	struct cluster *c;

	ctx_init(&x, err);
	ctx_set_trust(&x, opt);
	if (stat(path, &st))
		cannot_read(&x, path, errno);
	else if (x.untrusted && !inside_root(&x, path))
		outside_root(&x, path);
	else if (S_ISDIR(st.st_mode))
		load_dir(&x, path);
	else
		load_file(&x, path);
	c = finish(&x);
	if (c)
		c->source = xstrdup(path);
	return c;
}

struct cluster *cfg_load(const char *path, struct errbuf *err)
{
	return cfg_load_opts(path, NULL, err);
}

struct cluster *cfg_load_buffer_opts(const char *name, const char *buf, size_t len,
				     const struct load_options *opt, struct errbuf *err)
{
	struct ctx x;
	struct cluster *c;
	char *dir = opt && opt->root ? realpath(opt->root, NULL) : NULL;

	ctx_init(&x, err);
	ctx_set_trust(&x, opt);
	parse_buffer(&x, name, dir, (const unsigned char *)buf, len);
	free(dir);
	c = finish(&x);
	if (c)
		c->source = xstrdup(name);
	return c;
}

struct cluster *cfg_load_buffer(const char *name, const char *buf, size_t len,
				struct errbuf *err)
{
	return cfg_load_buffer_opts(name, buf, len, NULL, err);
}
