/*
 * check.c - validate-time warnings: what the cluster file makes impossible
 * (see check.h). Pure: no host is contacted.
 */
#include "check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void warn_at(struct errbuf *w, const struct loc *l, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void warn_at(struct errbuf *w, const struct loc *l, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	err_at(w, l->file, l->line, l->col, "warning: %s", msg);
	free(msg);
}

/* qsort over VM indices: by spread group (NULL last), then vms: entry,
 * then position, so that each entry and each spread group is one run. */
static const struct cluster *sort_c;

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

static int vm_order(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct vm_spec *x = &sort_c->vms[a], *y = &sort_c->vms[b];
	int r = cmp_str(x->placement.spread, y->placement.spread);
	if (!r)
		r = cmp_str(x->group, y->group);
	return r ? r : (a > b) - (a < b);
}

static bool in_list(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static bool has_labels(const struct host_spec *h, const struct labels *want)
{
	for (size_t i = 0; i < want->nr; i++)
		if (!str_eq(labels_get(&h->labels, want->items[i].key), want->items[i].value))
			return false;
	return true;
}

/* May vm be placed on h, as far as the file says? */
static bool candidate(const struct vm_spec *vm, const struct host_spec *h)
{
	if (h->maintenance)
		return false;
	if (vm->placement.n_hosts && !in_list(vm->placement.hosts, vm->placement.n_hosts, h->name))
		return false;
	return has_labels(h, &vm->placement.labels);
}

static void labels_text(const struct labels *l, struct strbuf *sb)
{
	for (size_t i = 0; i < l->nr; i++)
		strbuf_addf(sb, "%s%s=%s", i ? ", " : "", l->items[i].key, l->items[i].value);
}

static size_t check_labels(const struct cluster *c, const struct vm_spec *vm, struct errbuf *w)
{
	const struct labels *want = &vm->placement.labels;
	size_t n = 0;

	if (!want->nr)
		return 0;
	/* each label no allowed host has, by name */
	for (size_t i = 0; i < want->nr; i++) {
		bool any = false;
		for (size_t h = 0; h < c->n_hosts && !any; h++) {
			const struct host_spec *hs = &c->hosts[h];
			if (vm->placement.n_hosts &&
			    !in_list(vm->placement.hosts, vm->placement.n_hosts, hs->name))
				continue;
			any = str_eq(labels_get(&hs->labels, want->items[i].key), want->items[i].value);
		}
		if (!any) {
			warn_at(w, &vm->loc, "vm '%s': placement label '%s=%s': no%s host has it; "
				"it cannot be placed", vm->group, want->items[i].key,
				want->items[i].value, vm->placement.n_hosts ? " allowed" : "");
			n++;
		}
	}
	if (n == 0 && want->nr > 1) {
		bool any = false;
		for (size_t h = 0; h < c->n_hosts && !any; h++)
			any = (!vm->placement.n_hosts ||
			       in_list(vm->placement.hosts, vm->placement.n_hosts, c->hosts[h].name)) &&
			      has_labels(&c->hosts[h], want);
		if (!any) {
			struct strbuf sb = STRBUF_INIT;
			labels_text(want, &sb);
			warn_at(w, &vm->loc, "vm '%s': no%s host has all the placement labels %s; "
				"it cannot be placed", vm->group, vm->placement.n_hosts ? " allowed" : "",
				sb.buf);
			strbuf_release(&sb);
			n++;
		}
	}
	return n;
}

static size_t check_size(const struct cluster *c, const struct vm_spec *vm, struct errbuf *w)
{
	uint64_t most_mem = 0;
	double most_vcpus = 0;
	bool mem_known = true, cpus_known = true;
	size_t cands = 0, n = 0;
	char b1[32], b2[32];

	for (size_t h = 0; h < c->n_hosts; h++) {
		const struct host_spec *hs = &c->hosts[h];
		if (!candidate(vm, hs))
			continue;
		cands++;
		if (!hs->memory)
			mem_known = false;
		else if (hs->memory > hs->reserve && hs->memory - hs->reserve > most_mem)
			most_mem = hs->memory - hs->reserve;
		if (!hs->cpus)
			cpus_known = false;
		else if (hs->cpus * c->balance.vcpu_overcommit > most_vcpus)
			most_vcpus = hs->cpus * c->balance.vcpu_overcommit;
	}
	if (!cands)
		return 0;   /* said by the label check, or nothing to compare with */
	if (mem_known && vm->cfg.memory > most_mem) {
		warn_at(w, &vm->loc, "vm '%s': needs %s of memory, more than any host it may use can take "
			"(at most %s: declared capacity minus reserve)", vm->group,
			format_size(vm->cfg.memory, b1), format_size(most_mem, b2));
		n++;
	}
	if (cpus_known && vm->cfg.vcpus > most_vcpus + 1e-9) {
		warn_at(w, &vm->loc, "vm '%s': needs %d vCPUs, more than any host it may use can take "
			"(at most %g: declared cpus x vcpu-overcommit %g)", vm->group,
			vm->cfg.vcpus, most_vcpus, c->balance.vcpu_overcommit);
		n++;
	}
	return n;
}

/* idx: VM indices in vm_order; a spread group is one run of it. */
static size_t check_spread(const struct cluster *c, const size_t *idx, struct errbuf *w)
{
	size_t n = 0;

	for (size_t r = 0; r < c->n_vms;) {
		const char *g = c->vms[idx[r]].placement.spread;
		size_t end = r, hosts = 0, first = idx[r];

		while (end < c->n_vms && str_eq(c->vms[idx[end]].placement.spread, g))
			end++;
		if (!g) {
			r = end;
			continue;
		}
		for (size_t k = r; k < end; k++)
			if (idx[k] < first)
				first = idx[k];
		for (size_t h = 0; h < c->n_hosts; h++) {
			bool any = false;
			/* replicas of one vms: entry share a placement: check one of each */
			for (size_t k = r; k < end && !any; k++)
				if (k == r || !str_eq(c->vms[idx[k]].group, c->vms[idx[k - 1]].group))
					any = candidate(&c->vms[idx[k]], &c->hosts[h]);
			hosts += any;
		}
		if (end - r > hosts) {
			warn_at(w, &c->vms[first].loc, "spread group '%s' has %zu VMs but only %zu "
				"host%s may take them (at most one each); %zu cannot be placed",
				g, end - r, hosts, hosts == 1 ? "" : "s", end - r - hosts);
			n++;
		}
		r = end;
	}
	return n;
}

char *check_uri_normalise(const char *uri)
{
	struct strbuf sb = STRBUF_INIT;
	const char *sep = strstr(uri, "://");
	const char *auth, *auth_end, *host, *port = NULL, *path;
	size_t scheme_len;
	char scheme[64];

	if (!sep || (size_t)(sep - uri) >= sizeof(scheme))
		return xstrdup(uri);
	scheme_len = (size_t)(sep - uri);
	for (size_t i = 0; i < scheme_len; i++)
		scheme[i] = (char)tolower((unsigned char)uri[i]);
	scheme[scheme_len] = '\0';
	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	host = auth;
	for (const char *p = auth; p < auth_end; p++)
		if (*p == '@')
			host = p + 1;   /* the user names no other daemon */
	if (host < auth_end && *host != '[') {
		port = memchr(host, ':', (size_t)(auth_end - host));
	} else if (host < auth_end) {
		const char *rb = memchr(host, ']', (size_t)(auth_end - host));
		if (rb && rb + 1 < auth_end && rb[1] == ':')
			port = rb + 1;
	}
	if (host < auth_end && !strchr(scheme, '+')) {
		size_t l = strlen(scheme);   /* qemu://host is qemu+tls://host */
		if (l + 4 < sizeof(scheme))
			memcpy(scheme + l, "+tls", 5);
	}
	strbuf_addf(&sb, "%s://", scheme);
	for (const char *p = host; p < (port ? port : auth_end); p++)
	{
		char ch = (char)tolower((unsigned char)*p);
		strbuf_add(&sb, &ch, 1);
	}
	if (port) {
		const char *transport = strchr(scheme, '+');
		size_t pl = (size_t)(auth_end - port - 1);
		bool dflt = transport &&
			((!strcmp(transport, "+tcp") && pl == 5 && !strncmp(port + 1, "16509", 5)) ||
			 (!strcmp(transport, "+tls") && pl == 5 && !strncmp(port + 1, "16514", 5)) ||
			 (!strcmp(transport, "+ssh") && pl == 2 && !strncmp(port + 1, "22", 2)));
		if (!dflt && pl)
			strbuf_add(&sb, port, (size_t)(auth_end - port));
	}
	path = auth_end;
	{
		size_t pl = strcspn(path, "?#");
		while (pl > 1 && path[pl - 1] == '/')
			pl--;
		if (pl == 1 && path[0] == '/')
			pl = 0;
		strbuf_add(&sb, path, pl);
		strbuf_addf(&sb, "%s", path + strcspn(path, "?#"));
	}
	return strbuf_detach(&sb, NULL);
}

static size_t check_uris(const struct cluster *c, struct errbuf *w)
{
	char **norm = xcalloc(c->n_hosts ? c->n_hosts : 1, sizeof(*norm));
	size_t n = 0;

	for (size_t i = 0; i < c->n_hosts; i++)
		norm[i] = check_uri_normalise(c->hosts[i].uri);
	for (size_t i = 0; i < c->n_hosts; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(norm[i], norm[j])) {
				warn_at(w, &c->hosts[i].loc, "host '%s' has the same URI as host "
					"'%s' (%s): one daemon would count twice", c->hosts[i].name,
					c->hosts[j].name, norm[i]);
				n++;
				break;
			}
	for (size_t i = 0; i < c->n_hosts; i++)
		free(norm[i]);
	free(norm);
	return n;
}

size_t check_cluster(const struct cluster *c, struct errbuf *w)
{
	size_t *idx = xcalloc(c->n_vms ? c->n_vms : 1, sizeof(*idx));
	size_t n = 0;

	n += check_uris(c, w);
	for (size_t i = 0; i < c->n_vms; i++)
		idx[i] = i;
	sort_c = c;
	qsort(idx, c->n_vms, sizeof(*idx), vm_order);
	sort_c = NULL;
	for (size_t k = 0; k < c->n_vms; k++) {
		const struct vm_spec *vm = &c->vms[idx[k]];
		/* the first replica of each vms: entry stands for all of them */
		if (k > 0 && str_eq(c->vms[idx[k - 1]].group, vm->group))
			continue;
		n += check_labels(c, vm, w);
		n += check_size(c, vm, w);
	}
	n += check_spread(c, idx, w);
	free(idx);
	err_sort(w);
	return n;
}
