/*
 * ha.c - high availability (see ha.h): host records, detection, fencing,
 * and the recovery decisions the plan makes from them.
 */
#include "ha.h"
#include "hv/fence.h"
#include "hv/storage.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <stdlib.h>
#include <string.h>

#define HOSTSTATE_PREFIX "vem-hoststate-"

static const char *const state_names[] = {
	[HA_UP] = "up", [HA_SUSPECT] = "suspect", [HA_DOWN] = "down", [HA_FENCED] = "fenced",
};

const char *ha_host_state_name(enum ha_host_state s)
{
	return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

static int state_parse(const char *s, enum ha_host_state *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum ha_host_state)i;
			return 0;
		}
	return -1;
}

/* ---- lists of names ---- */

static bool list_has(char *const *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i], name))
			return true;
	return false;
}

static bool list_add(char ***l, size_t *n, const char *name)
{
	if (list_has(*l, *n, name))
		return false;
	*l = xrealloc(*l, (*n + 1) * sizeof(**l));
	(*l)[(*n)++] = xstrdup(name);
	return true;
}

static void list_clear(char ***l, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*l)[i]);
	free(*l);
	*l = NULL;
	*n = 0;
}

/* ---- the state ---- */

static void host_reset(struct ha_host *h)
{
	free(h->why);
	list_clear(&h->vms, &h->n_vms);
	list_clear(&h->stale, &h->n_stale);
	h->why = NULL;
	h->state = HA_UP;
	h->since = h->fenced_at = 0;
	h->misses = 0;
}

void ha_state_init(struct ha_state *st, const struct cluster *c)
{
	memset(st, 0, sizeof(*st));
	st->n = c->n_hosts;
	st->hosts = xcalloc(st->n + 1, sizeof(*st->hosts));
	for (size_t i = 0; i < st->n; i++)
		st->hosts[i].name = xstrdup(c->hosts[i].name);
	pthread_mutex_init(&st->lock, NULL);
}

void ha_state_release(struct ha_state *st)
{
	if (!st->hosts)
		return;
	for (size_t i = 0; i < st->n; i++) {
		host_reset(&st->hosts[i]);
		free(st->hosts[i].name);
	}
	free(st->hosts);
	pthread_mutex_destroy(&st->lock);
	memset(st, 0, sizeof(*st));
}

static long host_of(const struct ha_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->hosts[i].name, name))
			return (long)i;
	return -1;
}

void ha_state_format(const struct ha_state *st, struct strbuf *out)
{
	strbuf_addf(out, "gen %ld\n", st->gen);
	for (size_t i = 0; i < st->n; i++) {
		const struct ha_host *h = &st->hosts[i];
		strbuf_addf(out, "host %s %s %lld %d %lld\n", h->name, ha_host_state_name(h->state),
			    (long long)h->since, h->misses, (long long)h->fenced_at);
		for (size_t j = 0; j < h->n_vms; j++)
			strbuf_addf(out, "vm %s %s\n", h->name, h->vms[j]);
		for (size_t j = 0; j < h->n_stale; j++)
			strbuf_addf(out, "stale %s %s\n", h->name, h->stale[j]);
		if (h->why)
			strbuf_addf(out, "why %s %s\n", h->name, h->why);
	}
}

/* Split line into at most max space-separated words (the last one keeps the
 * rest of the line); returns the count. line is modified. */
static size_t split_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		w[n++] = p;
		if (n == max)
			break;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

int ha_state_parse(struct ha_state *st, const struct cluster *c, const char *text,
		   struct errbuf *err)
{
	char *copy = xstrdup(text), *line = copy, *next;
	int lineno = 0, ret = -1;

	for (size_t i = 0; i < st->n; i++)
		host_reset(&st->hosts[i]);
	st->gen = 0;
	for (; line && *line; line = next) {
		char *w[6];
		size_t n;
		long h;
		int64_t a = 0, b = 0, m = 0;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n = split_words(line, w, !strncmp(line, "why ", 4) ? 3 : 6);
		if (!n)
			continue;
		if (!strcmp(w[0], "gen") && n == 2) {
			int64_t g;
			if (parse_int64(w[1], &g))
				goto bad;
			st->gen = (long)g;
			continue;
		}
		if (n < 3)
			goto bad;
		h = host_of(st, w[1]);
		if (h < 0 || !cluster_host(c, w[1]))
			continue;      /* a host the file no longer names */
		if (!strcmp(w[0], "host") && n == 6) {
			struct ha_host *hh = &st->hosts[h];
			if (state_parse(w[2], &hh->state) || parse_int64(w[3], &a) ||
			    parse_int64(w[4], &m) || parse_int64(w[5], &b))
				goto bad;
			hh->since = a;
			hh->misses = (int)m;
			hh->fenced_at = b;
		} else if (!strcmp(w[0], "vm") && n == 3) {
			list_add(&st->hosts[h].vms, &st->hosts[h].n_vms, w[2]);
		} else if (!strcmp(w[0], "stale") && n == 3) {
			list_add(&st->hosts[h].stale, &st->hosts[h].n_stale, w[2]);
		} else if (!strcmp(w[0], "why")) {
			free(st->hosts[h].why);
			st->hosts[h].why = xstrdup(w[2]);
		} else {
			goto bad;
		}
	}
	ret = 0;
	goto out;
bad:
	err_set(err, "host records of cluster '%s': line %d is malformed", c->name, lineno);
out:
	free(copy);
	return ret;
}

/* ---- on the hosts ---- */

static virConnectPtr live_conn(struct hv_session *s, size_t host)
{
	virConnectPtr conn = hv_conn(s, host);
	return conn && virConnectIsAlive(conn) == 1 ? conn : NULL;
}

int ha_state_read(struct hv_session *s, const struct cluster *c, struct ha_state *st,
		  struct errbuf *err)
{
	char *name = xasprintf(HOSTSTATE_PREFIX "%s", c->name);
	long best = -1;

	for (size_t i = 0; i < c->n_hosts; i++) {
		virConnectPtr conn = live_conn(s, i);
		virDomainPtr d = conn ? virDomainLookupByName(conn, name) : NULL;
		char *xml = NULL, *text = NULL;
		struct ha_state tmp;
		struct errbuf perr = ERRBUF_INIT;

		if (!d)
			continue;
		xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS,
					   VIR_DOMAIN_AFFECT_CONFIG);
		text = xml ? hv_xml_text(xml, "hoststate") : NULL;
		ha_state_init(&tmp, c);
		if (text && !ha_state_parse(&tmp, c, text, &perr) && tmp.gen > best) {
			best = tmp.gen;
			ha_state_parse(st, c, text, &perr);
		}
		if (perr.nr && vem_verbosity > 0)
			fprintf(stderr, "vem: host '%s': %s\n", c->hosts[i].name, err_msg(&perr));
		errbuf_release(&perr);
		ha_state_release(&tmp);
		free(text);
		free(xml);
		virDomainFree(d);
	}
	(void)err;
	free(name);
	st->changed = false;
	return 0;
}

/* The records inside an inert domain's metadata. */
static char *hoststate_xml(struct hv_session *s, size_t host, const char *name,
			   const char *uuid, const char *text)
{
	struct strbuf meta = STRBUF_INIT;
	char *xml;

	strbuf_adds(&meta, "    <vem:hoststate xmlns:vem='" VEM_META_NS "'>");
	strbuf_add_xml(&meta, text);
	strbuf_adds(&meta, "</vem:hoststate>\n");
	xml = hv_inert_domain_xml(s, host, name, uuid, "vem host records: do not start", meta.buf);
	strbuf_release(&meta);
	return xml;
}

int ha_state_write(struct hv_session *s, const struct cluster *c, struct ha_state *st,
		   struct errbuf *err)
{
	char *name = xasprintf(HOSTSTATE_PREFIX "%s", c->name);
	struct strbuf text = STRBUF_INIT;
	char hex[65], uuid[37];
	size_t ok = 0;

	/* one UUID per cluster, the same for every vem: a redefinition */
	sha256_hex(name, strlen(name), hex);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-4%.3s-8%.3s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	st->gen++;
	ha_state_format(st, &text);
	for (size_t i = 0; i < c->n_hosts; i++) {
		virConnectPtr conn = live_conn(s, i);
		virDomainPtr d;
		char *xml;
		if (!conn)
			continue;
		xml = hoststate_xml(s, i, name, uuid, text.buf);
		d = virDomainDefineXML(conn, xml);
		free(xml);
		if (d) {
			ok++;
			virDomainFree(d);
		}
	}
	strbuf_release(&text);
	free(name);
	if (!ok)
		return err_set(err, "host records of cluster '%s' could not be written to any host",
			       c->name);
	st->changed = false;
	return 0;
}

/* ---- detection ---- */

void ha_observe(struct ha_state *st, const struct cluster *c, const struct observed *o,
		int64_t now)
{
	int miss_cap = c->ha.confirmations > 1 ? c->ha.confirmations : 1;

	for (size_t i = 0; i < st->n && i < o->n_hosts; i++) {
		struct ha_host *h = &st->hosts[i];
		const struct obs_host *oh = &o->hosts[i];

		if (oh->online) {
			char **seen = NULL;
			size_t n_seen = 0;
			if (h->state != HA_UP || h->misses) {
				st->changed = true;
				h->state = HA_UP;
				h->since = h->fenced_at = 0;
				h->misses = 0;
				free(h->why);
				h->why = NULL;
			}
			for (size_t j = 0; j < o->n_domains; j++) {
				const struct obs_domain *d = &o->domains[j];
				if (d->host == i && d->owned && d->meta.vm)
					list_add(&seen, &n_seen, d->meta.vm);
			}
			/* a stale entry lasts while its copy is there */
			for (size_t j = 0; j < h->n_stale;) {
				if (list_has(seen, n_seen, h->stale[j])) {
					j++;
					continue;
				}
				free(h->stale[j]);
				memmove(&h->stale[j], &h->stale[j + 1], (h->n_stale - j - 1) * sizeof(char *));
				h->n_stale--;
				st->changed = true;
			}
			if (n_seen != h->n_vms)
				st->changed = true;
			for (size_t j = 0; j < n_seen && !st->changed; j++)
				st->changed = !list_has(h->vms, h->n_vms, seen[j]);
			list_clear(&h->vms, &h->n_vms);
			h->vms = seen;
			h->n_vms = n_seen;
			continue;
		}
		if (h->state == HA_UP) {
			h->state = HA_SUSPECT;
			h->since = now;
			h->misses = 0;
			st->changed = true;
		}
		/* counted up to what detection needs: a host that stays away
		 * does not change its record on every run */
		if (h->misses < miss_cap) {
			h->misses++;
			st->changed = true;
		}
		if (h->state == HA_SUSPECT && now - h->since >= c->ha.host_down_after &&
		    h->misses >= c->ha.confirmations) {
			h->state = HA_DOWN;
			st->changed = true;
		}
	}
}

int ha_fence_down(struct ha_state *st, const struct cluster *c, int64_t timeout,
		  FILE *progress)
{
	int ret = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct ha_host *h = &st->hosts[i];
		struct errbuf err = ERRBUF_INIT;
		char b[32];

		if (h->state != HA_DOWN)
			continue;
		if (progress)
			fprintf(progress, "host '%s' is down (unreachable since %s, %d observations): "
				"fencing it\n", h->name, format_time_utc(h->since, b), h->misses);
		if (fence_off(c, &c->hosts[i], timeout, &err)) {
			/* the same failure again is no news for the records */
			if (!str_eq(h->why, err_msg(&err))) {
				free(h->why);
				h->why = xstrdup(err_msg(&err));
				st->changed = true;
			}
			fprintf(stderr, "vem: host '%s' is down and could not be fenced; its VMs are "
				"not recovered: %s\n", h->name, h->why);
			ret = -1;
		} else {
			h->state = HA_FENCED;
			h->fenced_at = time_now_ms();
			st->changed = true;
			free(h->why);
			h->why = NULL;
			if (progress)
				fprintf(progress, "host '%s' fenced: its agent reports it off\n", h->name);
		}
		errbuf_release(&err);
	}
	return ret;
}

/* ---- planning ---- */

long ha_lost_from(const struct ha_state *st, const char *vm)
{
	for (size_t i = 0; st && i < st->n; i++)
		if (st->hosts[i].state == HA_FENCED && list_has(st->hosts[i].vms, st->hosts[i].n_vms, vm))
			return (long)i;
	return -1;
}

long ha_last_down(const struct ha_state *st, const char *vm)
{
	long f = ha_lost_from(st, vm);
	for (size_t i = 0; f < 0 && st && i < st->n; i++)
		if (st->hosts[i].state == HA_DOWN && list_has(st->hosts[i].vms, st->hosts[i].n_vms, vm))
			return (long)i;
	return f;
}

bool ha_copy_stale(const struct ha_state *st, size_t host, const char *vm)
{
	return st && host < st->n && list_has(st->hosts[host].stale, st->hosts[host].n_stale, vm);
}

bool ha_offline_all_fenced(const struct ha_state *st, const struct observed *o)
{
	for (size_t i = 0; i < o->n_hosts; i++)
		if (!o->hosts[i].online && (!st || i >= st->n || st->hosts[i].state != HA_FENCED))
			return false;
	return true;
}

enum policy { POL_RESTART, POL_RECREATE, POL_NONE };

static enum policy vm_policy(const struct vm_spec *vm)
{
	if (str_eq(vm->ha.policy, "recreate"))
		return POL_RECREATE;
	if (str_eq(vm->ha.policy, "none"))
		return POL_NONE;
	return POL_RESTART;
}

static int by_priority(const void *a, const void *b)
{
	const struct vm_spec *p = *(const struct vm_spec *const *)a;
	const struct vm_spec *q = *(const struct vm_spec *const *)b;
	if (p->ha.priority != q->ha.priority)
		return p->ha.priority > q->ha.priority ? -1 : 1;
	return strcmp(p->name, q->name);
}

void ha_plan_recovery(const struct cluster *c, const struct observed *o,
		      const struct plan_options *opt, const struct ha_state *st,
		      const struct vm_spec *const *lost, size_t n, struct load *l,
		      struct plan *p)
{
	const struct vm_spec **v = xcalloc(n + 1, sizeof(*v));

	memcpy(v, lost, n * sizeof(*v));
	qsort(v, n, sizeof(*v), by_priority);
	for (size_t i = 0; i < n; i++) {
		const struct vm_spec *vm = v[i];
		long from = ha_last_down(st, vm->name);
		const char *dead = from >= 0 ? st->hosts[from].name : "?";
		enum policy pol = vm_policy(vm);
		struct strbuf why = STRBUF_INIT;
		struct plan_action a;
		long host = -1;

		if (vm->state != VM_RUNNING)
			continue;      /* nothing to run */
		if (from >= 0 && st->hosts[from].state != HA_FENCED) {
			plan_hold(p, HELD_BLOCKED, vm->name, true, "'%s' was on host '%s', which is "
				  "down but not fenced%s%s: not recovered (it may still run there)",
				  vm->name, dead, st->hosts[from].why ? ": " : "",
				  st->hosts[from].why ? st->hosts[from].why : "");
			continue;
		}
		if (pol == POL_NONE) {
			plan_hold(p, HELD_BLOCKED, vm->name, true, "'%s' was on fenced host '%s' "
				  "and has ha.policy none: it waits for its host", vm->name, dead);
			continue;
		}
		if (pol == POL_RESTART && !storage_vm_shared(c, vm)) {
			plan_hold(p, HELD_BLOCKED, vm->name, true, "'%s' was on fenced host '%s' and "
				  "its disks are on that host's local storage: not restarted elsewhere "
				  "(declare the pool shared, or set ha.policy recreate to start it "
				  "again from its image)", vm->name, dead);
			continue;
		}
		if (pol == POL_RECREATE && vm->cfg.n_disks && !storage_vm_shared(c, vm) &&
		    !plan_destroy_allowed(c, opt, vm->name)) {
			plan_hold(p, HELD_CONSENT, vm->name, true, "held: recreating '%s' (lost with "
				  "fenced host '%s') from its image abandons its disks there; allow it "
				  "with --allow-destroy %s or 'allow-destroy: [%s]' in the cluster file",
				  vm->name, dead, vm->name, vm->name);
			continue;
		}
		place_vms(l, &vm, 1, &host, &why);
		if (host < 0) {
			char *nl = strchr(why.buf, '\n');
			if (nl)
				*nl = '\0';
			plan_hold(p, HELD_UNPLACEABLE, vm->name, true, "%s (lost with fenced host "
				  "'%s', ha.priority %d)", why.len ? why.buf : "cannot place it", dead,
				  vm->ha.priority);
			strbuf_release(&why);
			continue;
		}
		strbuf_release(&why);
		a = plan_action_make(ACT_CREATE, vm->name, vm, (size_t)host);
		a.reason = xasprintf("recovery from fenced host '%s': %s", dead,
				     pol == POL_RESTART ? "restart" : "recreate");
		plan_add(p, &a);
	}
	(void)o;
	free(v);
}

void ha_plan_stale(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, const struct obs_domain *d,
		   struct plan *p, size_t *removals)
{
	const char *vm = d->meta.vm ? d->meta.vm : d->name;
	const struct vm_spec *spec = cluster_vm(c, vm);
	const char *host = o->hosts[d->host].name;
	struct plan_action a;

	if (d->state == DOM_RUNNING || d->state == DOM_PAUSED) {
		plan_hold(p, HELD_UNSAFE, vm, true, "the copy of '%s' on host '%s' runs although "
			  "'%s' was recovered elsewhere while the host was fenced; vem does not "
			  "touch it until one copy is stopped by hand", vm, host, vm);
		return;
	}
	a = plan_action_make(ACT_REMOVE, d->name, NULL, d->host);
	a.reason = xasprintf("stale: recovered elsewhere while '%s' was fenced%s", host,
			     spec && storage_vm_shared(c, spec) ? "; its volumes are kept" : "");
	if (!spec || !storage_vm_shared(c, spec))
		plan_action_set_destroyed(&a, d, 0);
	if (a.destroys && !plan_destroy_allowed(c, opt, vm)) {
		plan_hold_destroy(p, &a, o, "removing the stale copy of");
		plan_action_release(&a);
		return;
	}
	if (opt->max_removals >= 0 && *removals >= (size_t)opt->max_removals) {
		plan_hold(p, HELD_BUDGET, vm, false, "stale copy clean-up held back by the removal budget");
		plan_action_release(&a);
		return;
	}
	plan_add(p, &a);
	(*removals)++;
}

bool ha_drop_stale(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, const char *vm,
		   const struct obs_domain **found, size_t *n, struct plan *p,
		   size_t *removals)
{
	size_t k = 0;
	bool running = false;

	for (size_t j = 0; j < *n; j++) {
		const struct obs_domain *d = found[j];
		if (!o->hosts[d->host].online || !ha_copy_stale(opt->ha, d->host, vm)) {
			found[k++] = d;
			continue;
		}
		running |= d->state == DOM_RUNNING || d->state == DOM_PAUSED;
		ha_plan_stale(c, o, opt, d, p, removals);
	}
	*n = k;
	return running;
}

/* ---- apply ---- */

int ha_guard(void *arg, const struct plan_action *a, struct errbuf *err)
{
	struct ha_guard_ctx *g = arg;
	int ret = 0;

	pthread_mutex_lock(&g->st->lock);
	if (a->kind == ACT_CREATE || a->kind == ACT_MIGRATE) {
		long from = a->kind == ACT_CREATE ? ha_lost_from(g->st, a->vm) : -1;
		size_t to = a->kind == ACT_CREATE ? a->host : a->dest;
		bool changed = false;
		if (from >= 0)
			changed |= list_add(&g->st->hosts[from].stale, &g->st->hosts[from].n_stale, a->vm);
		/* where it will be, before it is: a host that dies meanwhile is known */
		if (to < g->st->n)
			changed |= list_add(&g->st->hosts[to].vms, &g->st->hosts[to].n_vms, a->vm);
		if (changed && ha_state_write(g->s, g->c, g->st, err))
			ret = -1;
	}
	pthread_mutex_unlock(&g->st->lock);
	if (!ret && g->lease)
		ret = lease_check(g->lease, err);
	return ret;
}

void ha_describe(const struct ha_state *st, struct strbuf *out)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct ha_host *h = &st->hosts[i];
		char b[32], f[32];
		if (h->state == HA_UP && !h->n_stale)
			continue;
		strbuf_addf(out, "host '%s': %s", h->name, ha_host_state_name(h->state));
		if (h->since)
			strbuf_addf(out, ", unreachable since %s (%d observation%s)",
				    format_time_utc(h->since, b), h->misses, h->misses == 1 ? "" : "s");
		if (h->fenced_at)
			strbuf_addf(out, ", fenced at %s", format_time_utc(h->fenced_at, f));
		if (h->n_stale)
			strbuf_addf(out, ", %zu stale cop%s to clean up", h->n_stale,
				    h->n_stale == 1 ? "y" : "ies");
		if (h->why)
			strbuf_addf(out, "; fence failed: %s", h->why);
		strbuf_addc(out, '\n');
	}
}
