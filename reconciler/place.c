/*
 * place.c - the load model, placement of VMs, and balancing by live
 * migration.
 *
 * Utilisation of host h (online, not in maintenance: the "eligible" hosts):
 *
 *   u_mem(h)  = committed memory / (memory capacity - reserve)
 *   u_vcpu(h) = committed vCPUs / (CPUs x vcpu-overcommit)
 *   u_cpu(h)  = measured CPU load (cores) / CPUs
 *
 * Committed means: running domains (owned or not) and owned domains the
 * cluster file wants running; a domain commits its maximum memory.
 *
 *   score = sum_m w_m * stddev_h(u_m(h)) / sum_m w_m
 *
 * with population standard deviations over the eligible hosts and the
 * weights of balance.metrics (cpu, memory, vcpu). 0 is perfectly balanced.
 * The sums of u and u^2 per metric are kept up to date, so the score after
 * a hypothetical move is computed in O(1).
 */
#include "place.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { M_CPU, M_MEM, M_VCPU, N_METRICS };

struct group {
	char *name;
	size_t *hosts;          /* one entry per member placed, the host it is on */
	size_t n, alloc;
};

struct place_priv {
	double sum[N_METRICS], sq[N_METRICS];
	double w[N_METRICS], wsum;
	size_t n_eligible;
	struct group *spread, *together;
	size_t n_spread, n_together, a_spread, a_together;
};

static struct place_priv *P(const struct load *l)
{
	return l->priv;
}

static bool eligible(const struct obs_host *h)
{
	return h->online && !h->maintenance;
}

static double util(const struct load *l, size_t h, int m)
{
	const struct obs_host *oh = &l->o->hosts[h];
	const struct host_load *hl = &l->hosts[h];
	double cap;

	switch (m) {
	case M_MEM:
		cap = oh->memory > oh->reserve ? (double)(oh->memory - oh->reserve) : 0;
		return cap > 0 ? (double)hl->mem_used / cap : 0;
	case M_VCPU:
		cap = oh->cpus * l->c->balance.vcpu_overcommit;
		return cap > 0 ? hl->vcpus_used / cap : 0;
	default:
		return oh->cpus > 0 ? hl->cpu_load / oh->cpus : 0;
	}
}

static void sums_add(struct load *l, size_t h, double sign)
{
	struct place_priv *p = P(l);
	if (!eligible(&l->o->hosts[h]))
		return;
	for (int m = 0; m < N_METRICS; m++) {
		double u = util(l, h, m);
		p->sum[m] += sign * u;
		p->sq[m] += sign * u * u;
	}
}

static double score_from(const struct place_priv *p, const double *sum, const double *sq)
{
	double s = 0;
	if (!p->n_eligible || p->wsum <= 0)
		return 0;
	for (int m = 0; m < N_METRICS; m++) {
		double mean, var;
		if (p->w[m] <= 0)
			continue;
		mean = sum[m] / (double)p->n_eligible;
		var = sq[m] / (double)p->n_eligible - mean * mean;
		s += p->w[m] * sqrt(var > 0 ? var : 0);
	}
	return s / p->wsum;
}

double load_score(const struct load *l)
{
	return score_from(P(l), P(l)->sum, P(l)->sq);
}

/* ---- groups ---- */

static struct group *group_get(struct group **arr, size_t *n, size_t *a, const char *name,
			       bool create)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i].name, name))
			return &(*arr)[i];
	if (!create)
		return NULL;
	ALLOC_GROW(*arr, *n + 1, *a);
	memset(&(*arr)[*n], 0, sizeof((*arr)[0]));
	(*arr)[*n].name = xstrdup(name);
	return &(*arr)[(*n)++];
}

static void group_add(struct group *g, size_t host)
{
	ALLOC_GROW(g->hosts, g->n + 1, g->alloc);
	g->hosts[g->n++] = host;
}

static void group_del(struct group *g, size_t host)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->hosts[i] == host) {
			g->hosts[i] = g->hosts[--g->n];
			return;
		}
}

static size_t group_count(const struct group *g, size_t host)
{
	size_t n = 0;
	for (size_t i = 0; g && i < g->n; i++)
		n += g->hosts[i] == host;
	return n;
}

static void groups_update(struct load *l, const struct vm_spec *vm, size_t host, bool add)
{
	struct place_priv *p = P(l);
	if (!vm)
		return;
	if (vm->placement.spread) {
		struct group *g = group_get(&p->spread, &p->n_spread, &p->a_spread, vm->placement.spread, add);
		if (g)
			add ? group_add(g, host) : group_del(g, host);
	}
	if (vm->placement.together) {
		struct group *g = group_get(&p->together, &p->n_together, &p->a_together, vm->placement.together, add);
		if (g)
			add ? group_add(g, host) : group_del(g, host);
	}
}

/* ---- the load ---- */

void load_add_vm(struct load *l, size_t host, const struct vm_spec *vm, uint64_t memory,
		 int vcpus, double cpu_load)
{
	sums_add(l, host, -1);
	l->hosts[host].mem_used += memory;
	l->hosts[host].vcpus_used += vcpus;
	l->hosts[host].cpu_load += cpu_load > 0 ? cpu_load : 0;
	l->hosts[host].n_vms++;
	sums_add(l, host, +1);
	groups_update(l, vm, host, true);
}

void load_remove_vm(struct load *l, size_t host, const struct vm_spec *vm, uint64_t memory,
		    int vcpus, double cpu_load)
{
	struct host_load *hl = &l->hosts[host];
	sums_add(l, host, -1);
	hl->mem_used = hl->mem_used > memory ? hl->mem_used - memory : 0;
	hl->vcpus_used = hl->vcpus_used > vcpus ? hl->vcpus_used - vcpus : 0;
	hl->cpu_load -= cpu_load > 0 ? cpu_load : 0;
	if (hl->cpu_load < 1e-9)
		hl->cpu_load = 0;
	if (hl->n_vms)
		hl->n_vms--;
	sums_add(l, host, +1);
	groups_update(l, vm, host, false);
}

static uint64_t dom_memory(const struct obs_domain *d)
{
	return d->max_memory > d->memory ? d->max_memory : d->memory;
}

/* Whether an observed domain commits resources on its host. */
static bool dom_commits(const struct load *l, const struct obs_domain *d, const struct vm_spec **spec)
{
	*spec = d->owned ? cluster_vm(l->c, d->meta.vm) : NULL;
	if (d->state == DOM_RUNNING || d->state == DOM_PAUSED)
		return true;
	return *spec && (*spec)->state == VM_RUNNING;
}

void load_init(struct load *l, const struct cluster *c, const struct observed *o)
{
	struct place_priv *p = xcalloc(1, sizeof(*p));

	l->c = c;
	l->o = o;
	l->hosts = xcalloc(o->n_hosts + 1, sizeof(*l->hosts));
	l->priv = p;
	p->w[M_CPU] = c->balance.w_cpu;
	p->w[M_MEM] = c->balance.w_memory;
	p->w[M_VCPU] = c->balance.w_vcpu;
	p->wsum = p->w[M_CPU] + p->w[M_MEM] + p->w[M_VCPU];
	for (size_t h = 0; h < o->n_hosts; h++)
		p->n_eligible += eligible(&o->hosts[h]);
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *spec;
		if (!dom_commits(l, d, &spec))
			continue;
		load_add_vm(l, d->host, spec, dom_memory(d), d->vcpus,
			    d->state == DOM_RUNNING ? d->cpu_load : 0);
	}
}

void load_release(struct load *l)
{
	struct place_priv *p = P(l);
	if (p) {
		for (size_t i = 0; i < p->n_spread; i++) {
			free(p->spread[i].name);
			free(p->spread[i].hosts);
		}
		free(p->spread);
		for (size_t i = 0; i < p->n_together; i++) {
			free(p->together[i].name);
			free(p->together[i].hosts);
		}
		free(p->together);
		free(p);
	}
	free(l->hosts);
	memset(l, 0, sizeof(*l));
}

/* ---- feasibility ---- */

static bool host_allowed(const struct vm_spec *vm, const struct obs_host *h)
{
	const struct placement_spec *ps = &vm->placement;
	if (ps->n_hosts) {
		size_t i;
		for (i = 0; i < ps->n_hosts; i++)
			if (!strcmp(ps->hosts[i], h->name))
				break;
		if (i == ps->n_hosts)
			return false;
	}
	for (size_t i = 0; i < ps->labels.nr; i++)
		if (!str_eq(labels_get(&h->labels, ps->labels.items[i].key), ps->labels.items[i].value))
			return false;
	return true;
}

/* Feasibility of adding mem/vcpus for vm on host (vm's own spread/together
 * membership counted `self` times on host already). */
static bool fits(const struct load *l, const struct vm_spec *vm, size_t host, uint64_t mem,
		 int vcpus, size_t self, const char **reason, char *buf, size_t len)
{
	const struct obs_host *h = &l->o->hosts[host];
	const struct host_load *hl = &l->hosts[host];
	const struct place_priv *p = P(l);
	enum hv_type t;
	char b1[32], b2[32];
	uint64_t cap = h->memory > h->reserve ? h->memory - h->reserve : 0;
	double vcap = h->cpus * l->c->balance.vcpu_overcommit;

	if (!h->online)
		return (*reason = "offline"), false;
	if (h->maintenance)
		return (*reason = "in maintenance"), false;
	if (!host_allowed(vm, h)) {
		*reason = vm->placement.n_hosts ? "not in placement.hosts or missing a required label"
						: "missing a required label";
		return false;
	}
	if (hv_resolve_type(vm->cfg.hypervisor, h->hv_caps, &t)) {
		snprintf(buf, len, "does not offer hypervisor '%s'", hv_type_name(vm->cfg.hypervisor));
		return (*reason = buf), false;
	}
	if (hl->mem_used + mem > cap) {
		snprintf(buf, len, "needs %s, %s free", format_size(mem, b1),
			 format_size(cap > hl->mem_used ? cap - hl->mem_used : 0, b2));
		return (*reason = buf), false;
	}
	if (hl->vcpus_used + vcpus > vcap + 1e-9) {
		snprintf(buf, len, "needs %d vCPUs, %d of %.0f committed", vcpus, hl->vcpus_used, vcap);
		return (*reason = buf), false;
	}
	if (vm->placement.spread) {
		const struct group *g = NULL;
		for (size_t i = 0; i < p->n_spread; i++)
			if (!strcmp(p->spread[i].name, vm->placement.spread))
				g = &p->spread[i];
		if (group_count(g, host) > self) {
			snprintf(buf, len, "spread group '%s' already has a member here", vm->placement.spread);
			return (*reason = buf), false;
		}
	}
	if (vm->placement.together) {
		const struct group *g = NULL;
		for (size_t i = 0; i < p->n_together; i++)
			if (!strcmp(p->together[i].name, vm->placement.together))
				g = &p->together[i];
		for (size_t i = 0; g && i < g->n; i++)
			if (g->hosts[i] != host && (self == 0 || g->n > self)) {
				snprintf(buf, len, "together group '%s' is on %s", vm->placement.together,
					 l->o->hosts[g->hosts[i]].name);
				return (*reason = buf), false;
			}
	}
	return true;
}

static __thread char reason_buf[160];

bool place_feasible(const struct load *l, const struct vm_spec *vm, size_t host, const char **reason)
{
	const char *r;
	bool ok = fits(l, vm, host, vm->cfg.max_memory, vm->cfg.vcpus, 0, &r, reason_buf,
		       sizeof(reason_buf));
	if (reason)
		*reason = ok ? NULL : r;
	return ok;
}

/* Score if host a lost and host b gained (mem, vcpus, cpu); a or b may be -1. */
static double score_if(const struct load *l, long a, long b, uint64_t mem, int vcpus, double cpu)
{
	const struct place_priv *p = P(l);
	double sum[N_METRICS], sq[N_METRICS];
	long hs[2] = { a, b };

	memcpy(sum, p->sum, sizeof(sum));
	memcpy(sq, p->sq, sizeof(sq));
	for (int k = 0; k < 2; k++) {
		long h = hs[k];
		struct host_load save, *hl;
		if (h < 0 || !eligible(&l->o->hosts[h]))
			continue;
		hl = &l->hosts[h];
		save = *hl;
		for (int m = 0; m < N_METRICS; m++) {
			double u = util(l, (size_t)h, m);
			sum[m] -= u;
			sq[m] -= u * u;
		}
		if (k == 0) {
			hl->mem_used = hl->mem_used > mem ? hl->mem_used - mem : 0;
			hl->vcpus_used -= vcpus;
			hl->cpu_load -= cpu;
		} else {
			hl->mem_used += mem;
			hl->vcpus_used += vcpus;
			hl->cpu_load += cpu;
		}
		for (int m = 0; m < N_METRICS; m++) {
			double u = util(l, (size_t)h, m);
			sum[m] += u;
			sq[m] += u * u;
		}
		*hl = save;
	}
	return score_from(p, sum, sq);
}

/* ---- placement ---- */

static int vm_priority(const struct load *l, const struct vm_spec *vm)
{
	int n = 0;
	for (size_t h = 0; h < l->o->n_hosts; h++)
		n += host_allowed(vm, &l->o->hosts[h]) && eligible(&l->o->hosts[h]);
	return n;
}

struct unit {
	size_t first, n;           /* indexes into order[] */
	uint64_t mem;
	int vcpus, allowed;
};

static const struct load *sort_load;
static const struct vm_spec *const *sort_vms;

static int cmp_order(const void *a, const void *b)
{
	const struct vm_spec *x = sort_vms[*(const size_t *)a], *y = sort_vms[*(const size_t *)b];
	int c = strcmp(x->placement.together ? x->placement.together : "",
		       y->placement.together ? y->placement.together : "");
	if (c)
		return c;
	if (x->cfg.max_memory != y->cfg.max_memory)
		return x->cfg.max_memory > y->cfg.max_memory ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	if (x->allowed != y->allowed)
		return x->allowed < y->allowed ? -1 : 1;
	if (x->mem != y->mem)
		return x->mem > y->mem ? -1 : 1;
	return x->first < y->first ? -1 : 1;
}

size_t place_vms(struct load *l, const struct vm_spec *const *vms, size_t n, long *hosts,
		 struct strbuf *why)
{
	size_t *order = xcalloc(n + 1, sizeof(*order));
	struct unit *units = xcalloc(n + 1, sizeof(*units));
	size_t nu = 0, placed = 0;
	char buf[160];

	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		hosts[i] = -1;
	}
	sort_load = l;
	sort_vms = vms;
	qsort(order, n, sizeof(*order), cmp_order);
	/* a unit is one VM, or all the VMs of one together group */
	for (size_t i = 0; i < n;) {
		struct unit *u = &units[nu++];
		const char *tg = vms[order[i]]->placement.together;
		u->first = i;
		do {
			u->mem += vms[order[i]]->cfg.max_memory;
			u->vcpus += vms[order[i]]->cfg.vcpus;
			i++;
		} while (tg && i < n && str_eq(vms[order[i]]->placement.together, tg));
		u->n = i - u->first;
		u->allowed = vm_priority(l, vms[order[u->first]]);
	}
	qsort(units, nu, sizeof(*units), cmp_unit);

	for (size_t k = 0; k < nu; k++) {
		struct unit *u = &units[k];
		long best = -1;
		double best_score = 0;
		for (size_t h = 0; h < l->o->n_hosts; h++) {
			const char *r;
			bool ok = true;
			double sc;
			/* every member must fit, with the ones before it added */
			struct host_load save = l->hosts[h];
			for (size_t j = 0; j < u->n && ok; j++) {
				const struct vm_spec *vm = vms[order[u->first + j]];
				ok = fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, 0, &r, buf, sizeof(buf));
				l->hosts[h].mem_used += vm->cfg.max_memory;
				l->hosts[h].vcpus_used += vm->cfg.vcpus;
			}
			l->hosts[h] = save;
			if (!ok)
				continue;
			sc = score_if(l, -1, (long)h, u->mem, u->vcpus, 0);
			if (best < 0 || sc < best_score - 1e-12 ||
			    (fabs(sc - best_score) <= 1e-12 &&
			     (l->hosts[h].n_vms < l->hosts[best].n_vms ||
			      (l->hosts[h].n_vms == l->hosts[best].n_vms &&
			       strcmp(l->o->hosts[h].name, l->o->hosts[best].name) < 0)))) {
				best = (long)h;
				best_score = sc;
			}
		}
		if (best >= 0) {
			for (size_t j = 0; j < u->n; j++) {
				size_t idx = order[u->first + j];
				hosts[idx] = best;
				load_add_vm(l, (size_t)best, vms[idx], vms[idx]->cfg.max_memory,
					    vms[idx]->cfg.vcpus, 0);
				placed++;
			}
			continue;
		}
		/* explain, for each VM of the unit, what rules out each host */
		for (size_t j = 0; j < u->n && why; j++) {
			const struct vm_spec *vm = vms[order[u->first + j]];
			strbuf_addf(why, "cannot place '%s'", vm->name);
			if (u->n > 1)
				strbuf_addf(why, " (together group '%s' of %zu VMs must share a host)",
					    vm->placement.together, u->n);
			strbuf_adds(why, ":");
			if (!l->o->n_hosts)
				strbuf_adds(why, " the cluster has no hosts");
			for (size_t h = 0; h < l->o->n_hosts; h++) {
				const char *r = NULL;
				struct host_load save = l->hosts[h];
				if (u->n > 1) {
					l->hosts[h].mem_used += u->mem - vm->cfg.max_memory;
					l->hosts[h].vcpus_used += u->vcpus - vm->cfg.vcpus;
				}
				if (fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, 0, &r, buf, sizeof(buf)))
					r = u->n > 1 ? "the group as a whole does not fit" : "fits";
				l->hosts[h] = save;
				strbuf_addf(why, "%s %s: %s", h ? ";" : "", l->o->hosts[h].name, r);
			}
			strbuf_addc(why, '\n');
		}
	}
	free(order);
	free(units);
	return placed;
}

/* ---- balancing ---- */

struct cand {
	size_t dom;                /* index into o->domains */
	const struct vm_spec *vm;
	size_t host;               /* where it is now (in this plan) */
	bool moved;
	long target;               /* best destination in this round, -1 none */
	double gain;
};

static void add_migration(struct plan *p, struct load *l, struct cand *c, size_t dest,
			  const char *reason)
{
	const struct obs_domain *d = &l->o->domains[c->dom];
	struct plan_action a;
	uint64_t mem = dom_memory(d);
	double cpu = d->cpu_load > 0 ? d->cpu_load : 0;

	memset(&a, 0, sizeof(a));
	a.kind = ACT_MIGRATE;
	a.vm = xstrdup(c->vm->name);
	a.spec = c->vm;
	a.host = c->host;
	a.dest = dest;
	a.reason = xstrdup(reason);
	a.bytes = mem;
	a.after = -1;
	a.score_before = load_score(l);
	load_remove_vm(l, c->host, c->vm, mem, d->vcpus, cpu);
	load_add_vm(l, dest, c->vm, mem, d->vcpus, cpu);
	a.score_after = load_score(l);
	plan_add(p, &a);
	c->host = dest;
	c->moved = true;
}

/* Best target for c other than its host, by resulting score; -1 if none. */
static long best_target(struct load *l, struct cand *c, double *score_out, struct strbuf *why)
{
	const struct obs_domain *d = &l->o->domains[c->dom];
	uint64_t mem = dom_memory(d);
	double cpu = d->cpu_load > 0 ? d->cpu_load : 0;
	long best = -1;
	double best_score = 0;
	char buf[160];

	/* the VM leaves its host first: its own group membership does not count */
	groups_update(l, c->vm, c->host, false);
	for (size_t h = 0; h < l->o->n_hosts; h++) {
		const char *r;
		double sc;
		if (h == c->host)
			continue;
		if (!fits(l, c->vm, h, mem, d->vcpus, 0, &r, buf, sizeof(buf))) {
			if (why)
				strbuf_addf(why, "%s %s: %s", why->len ? ";" : "", l->o->hosts[h].name, r);
			continue;
		}
		sc = score_if(l, (long)c->host, (long)h, mem, d->vcpus, cpu);
		if (best < 0 || sc < best_score - 1e-12) {
			best = (long)h;
			best_score = sc;
		}
	}
	groups_update(l, c->vm, c->host, true);
	*score_out = best_score;
	return best;
}

static const char *repair_reason(struct load *l, struct cand *c)
{
	const struct obs_host *h = &l->o->hosts[c->host];
	const struct place_priv *p = P(l);

	if (h->maintenance)
		return "maintenance";
	if (!host_allowed(c->vm, h))
		return "placement";
	if (c->vm->placement.spread) {
		for (size_t i = 0; i < p->n_spread; i++)
			if (!strcmp(p->spread[i].name, c->vm->placement.spread) &&
			    group_count(&p->spread[i], c->host) > 1)
				return "spread";
	}
	return NULL;
}

static int cmp_cand_name(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->vm->name, ((const struct cand *)b)->vm->name);
}

void balance_plan(struct load *l, const struct plan_options *opt, struct plan *p)
{
	const struct cluster *c = l->c;
	const struct observed *o = l->o;
	const struct balance_spec *b = &c->balance;
	struct cand *cands = xcalloc(o->n_domains + 1, sizeof(*cands));
	size_t nc = 0;
	int moves = 0;

	/* movable: owned, running, desired, not already acted on by the plan */
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *vm = d->owned ? cluster_vm(c, d->meta.vm) : NULL;
		bool busy = false;
		if (!vm || d->state != DOM_RUNNING || !o->hosts[d->host].online)
			continue;
		for (size_t k = 0; k < p->n && !busy; k++)
			busy = !strcmp(p->actions[k].vm, vm->name);
		if (busy)
			continue;
		cands[nc].dom = i;
		cands[nc].vm = vm;
		cands[nc].host = d->host;
		nc++;
	}
	qsort(cands, nc, sizeof(*cands), cmp_cand_name);

	/* repairs first: maintenance, disallowed hosts, broken spread groups */
	for (size_t i = 0; i < nc; i++) {
		const char *reason = repair_reason(l, &cands[i]);
		struct strbuf why = STRBUF_INIT;
		double sc;
		long t;
		if (!reason)
			continue;
		t = best_target(l, &cands[i], &sc, &why);
		if (t >= 0)
			add_migration(p, l, &cands[i], (size_t)t, reason);
		else
			plan_note(p, "cannot move '%s' off %s (%s): no host fits:%s", cands[i].vm->name,
				  o->hosts[cands[i].host].name, reason, why.buf);
		strbuf_release(&why);
	}

	if (!opt->balance || !b->enabled)
		goto out;
	/*
	 * Balancing: while the score exceeds the threshold, take the move with
	 * the highest gain; among moves within 10% of it, the one that moves
	 * the least memory. Each move must gain at least min-gain. VMs moved in
	 * this plan or within the cooldown do not move.
	 */
	while (moves < b->max_migrations && load_score(l) > b->threshold) {
		double cur = load_score(l), best_gain = 0;
		long pick = -1;
		for (size_t i = 0; i < nc; i++) {
			struct cand *cd = &cands[i];
			const struct obs_domain *d = &o->domains[cd->dom];
			double sc;
			cd->target = -1;
			if (cd->moved || (d->meta.migrated_at && opt->now - d->meta.migrated_at < b->cooldown))
				continue;
			cd->target = best_target(l, cd, &sc, NULL);
			cd->gain = cur - sc;
			if (cd->target >= 0 && cd->gain >= b->min_gain && cd->gain > best_gain)
				best_gain = cd->gain;
		}
		for (size_t i = 0; best_gain > 0 && i < nc; i++) {
			struct cand *cd = &cands[i];
			if (cd->target < 0 || cd->gain < b->min_gain || cd->gain < 0.9 * best_gain)
				continue;
			if (pick < 0 || dom_memory(&o->domains[cd->dom]) < dom_memory(&o->domains[cands[pick].dom]) ||
			    (dom_memory(&o->domains[cd->dom]) == dom_memory(&o->domains[cands[pick].dom]) &&
			     cd->gain > cands[pick].gain))
				pick = (long)i;
		}
		if (pick < 0)
			break;
		add_migration(p, l, &cands[pick], (size_t)cands[pick].target, "balance");
		moves++;
	}
out:
	free(cands);
}
