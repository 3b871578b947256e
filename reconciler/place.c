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
enum group_kind { G_SPREAD, G_TOGETHER };

/*
 * Spread and together groups, by index: a name table (open addressing)
 * finds a group, and a table keyed by (group, host) counts its members on
 * each host, so a constraint check costs O(1) whatever the group's size.
 */
struct group {
	char *name;
	enum group_kind kind;
	size_t n;               /* members placed, on any host */
	size_t last_host;       /* a host with a member (valid when n > 0) */
};

struct count_slot {
	uint64_t key;           /* group * (n_hosts + 1) + host + 1; 0 = empty */
	size_t count;
};

struct place_priv {
	double sum[N_METRICS], sq[N_METRICS];
	double w[N_METRICS], wsum;
	size_t n_eligible;
	double (*u)[N_METRICS];     /* utilisation per host (eligible hosts only) */
	double (*inv)[N_METRICS];   /* 1 / capacity per host and metric, 0 = none */
	struct group *groups;
	size_t n_groups, a_groups;
	size_t *names;              /* name table: group index + 1, 0 = empty */
	size_t names_cap;           /* power of two */
	struct count_slot *counts;
	size_t counts_cap, counts_used;   /* power of two; used = slots ever filled */
};

static struct place_priv *P(const struct load *l)
{
	return l->priv;
}

static bool eligible(const struct obs_host *h)
{
	return h->online && !h->maintenance;
}

static void host_caps(const struct load *l, size_t h, double inv[N_METRICS])
{
	const struct obs_host *oh = &l->o->hosts[h];
	double cap;

	cap = oh->memory > oh->reserve ? (double)(oh->memory - oh->reserve) : 0;
	inv[M_MEM] = cap > 0 ? 1 / cap : 0;
	cap = oh->cpus * l->c->balance.vcpu_overcommit;
	inv[M_VCPU] = cap > 0 ? 1 / cap : 0;
	inv[M_CPU] = oh->cpus > 0 ? 1.0 / oh->cpus : 0;
}

/* Utilisation of host h if it carried (mem, vcpus, cpu). */
static void util_of(const struct place_priv *p, size_t h, double mem, double vcpus, double cpu,
		    double u[N_METRICS])
{
	u[M_MEM] = mem * p->inv[h][M_MEM];
	u[M_VCPU] = vcpus * p->inv[h][M_VCPU];
	u[M_CPU] = cpu * p->inv[h][M_CPU];
}

static void util_update(struct load *l, size_t h)
{
	struct place_priv *p = P(l);
	const struct host_load *hl = &l->hosts[h];
	double u[N_METRICS];

	if (!eligible(&l->o->hosts[h]))
		return;
	util_of(p, h, (double)hl->mem_used, hl->vcpus_used, hl->cpu_load, u);
	for (int m = 0; m < N_METRICS; m++) {
		p->sum[m] += u[m] - p->u[h][m];
		p->sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
		p->u[h][m] = u[m];
	}
}

/* Sums from scratch: incremental updates drift over thousands of moves. */
static void sums_recompute(struct load *l)
{
	struct place_priv *p = P(l);
	memset(p->sum, 0, sizeof(p->sum));
	memset(p->sq, 0, sizeof(p->sq));
	for (size_t h = 0; h < l->o->n_hosts; h++) {
		if (!eligible(&l->o->hosts[h]))
			continue;
		for (int m = 0; m < N_METRICS; m++) {
			p->sum[m] += p->u[h][m];
			p->sq[m] += p->u[h][m] * p->u[h][m];
		}
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

static uint64_t hash_name(const char *s, enum group_kind kind)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void names_insert(struct place_priv *p, size_t gi)
{
	size_t mask = p->names_cap - 1;
	size_t i = (size_t)hash_name(p->groups[gi].name, p->groups[gi].kind) & mask;
	while (p->names[i])
		i = (i + 1) & mask;
	p->names[i] = gi + 1;
}

static long group_find(const struct place_priv *p, const char *name, enum group_kind kind)
{
	size_t mask = p->names_cap - 1, i;
	if (!p->names_cap)
		return -1;
	for (i = (size_t)hash_name(name, kind) & mask; p->names[i]; i = (i + 1) & mask) {
		const struct group *g = &p->groups[p->names[i] - 1];
		if (g->kind == kind && !strcmp(g->name, name))
			return (long)(p->names[i] - 1);
	}
	return -1;
}

static size_t group_get(struct place_priv *p, const char *name, enum group_kind kind)
{
	long gi = group_find(p, name, kind);
	if (gi >= 0)
		return (size_t)gi;
	ALLOC_GROW(p->groups, p->n_groups + 1, p->a_groups);
	memset(&p->groups[p->n_groups], 0, sizeof(p->groups[0]));
	p->groups[p->n_groups].name = xstrdup(name);
	p->groups[p->n_groups].kind = kind;
	p->n_groups++;
	if (2 * p->n_groups > p->names_cap) {
		free(p->names);
		p->names_cap = p->names_cap ? 2 * p->names_cap : 64;
		p->names = xcalloc(p->names_cap, sizeof(*p->names));
		for (size_t i = 0; i < p->n_groups; i++)
			names_insert(p, i);
	} else {
		names_insert(p, p->n_groups - 1);
	}
	return p->n_groups - 1;
}

static uint64_t count_key(const struct load *l, size_t gi, size_t host)
{
	return (uint64_t)gi * (l->o->n_hosts + 1) + host + 1;
}

static struct count_slot *count_slot(const struct place_priv *p, uint64_t key)
{
	size_t mask = p->counts_cap - 1, i;
	if (!p->counts_cap)
		return NULL;
	for (i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 17) & mask; p->counts[i].key; i = (i + 1) & mask)
		if (p->counts[i].key == key)
			return &p->counts[i];
	return &p->counts[i];
}

static size_t group_count(const struct load *l, long gi, size_t host)
{
	const struct count_slot *s;
	if (gi < 0)
		return 0;
	s = count_slot(P(l), count_key(l, (size_t)gi, host));
	return s && s->key ? s->count : 0;
}

static void group_change(struct load *l, size_t gi, size_t host, bool add)
{
	struct place_priv *p = P(l);
	uint64_t key = count_key(l, gi, host);
	struct count_slot *s;

	if (add && 2 * (p->counts_used + 1) > p->counts_cap) {
		struct count_slot *old = p->counts;
		size_t old_cap = p->counts_cap;
		p->counts_cap = old_cap ? 2 * old_cap : 256;
		p->counts = xcalloc(p->counts_cap, sizeof(*p->counts));
		p->counts_used = 0;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].key && old[i].count) {
				*count_slot(p, old[i].key) = old[i];
				p->counts_used++;
			}
		free(old);
	}
	s = count_slot(p, key);
	if (add) {
		if (!s->key) {
			s->key = key;
			p->counts_used++;
		}
		s->count++;
		p->groups[gi].n++;
		p->groups[gi].last_host = host;
	} else if (s && s->key && s->count) {
		s->count--;
		p->groups[gi].n--;
	}
}

static void groups_update(struct load *l, const struct vm_spec *vm, size_t host, bool add)
{
	struct place_priv *p = P(l);
	long gi;
	if (!vm)
		return;
	if (vm->placement.spread) {
		gi = add ? (long)group_get(p, vm->placement.spread, G_SPREAD)
			 : group_find(p, vm->placement.spread, G_SPREAD);
		if (gi >= 0)
			group_change(l, (size_t)gi, host, add);
	}
	if (vm->placement.together) {
		gi = add ? (long)group_get(p, vm->placement.together, G_TOGETHER)
			 : group_find(p, vm->placement.together, G_TOGETHER);
		if (gi >= 0)
			group_change(l, (size_t)gi, host, add);
	}
}

/* A host other than `host` with a member of together group gi, or -1. */
static long together_elsewhere(const struct load *l, long gi, size_t host)
{
	const struct group *g;
	if (gi < 0)
		return -1;
	g = &P(l)->groups[gi];
	if (g->n <= group_count(l, gi, host))
		return -1;
	if (g->last_host != host && group_count(l, gi, g->last_host))
		return (long)g->last_host;
	for (size_t h = 0; h < l->o->n_hosts; h++)
		if (h != host && group_count(l, gi, h))
			return (long)h;
	return -1;
}

/* ---- the load ---- */

void load_add_vm(struct load *l, size_t host, const struct vm_spec *vm, uint64_t memory,
		 int vcpus, double cpu_load)
{
	l->hosts[host].mem_used += memory;
	l->hosts[host].vcpus_used += vcpus;
	l->hosts[host].cpu_load += cpu_load > 0 ? cpu_load : 0;
	l->hosts[host].n_vms++;
	util_update(l, host);
	groups_update(l, vm, host, true);
}

void load_remove_vm(struct load *l, size_t host, const struct vm_spec *vm, uint64_t memory,
		    int vcpus, double cpu_load)
{
	struct host_load *hl = &l->hosts[host];
	hl->mem_used = hl->mem_used > memory ? hl->mem_used - memory : 0;
	hl->vcpus_used = hl->vcpus_used > vcpus ? hl->vcpus_used - vcpus : 0;
	hl->cpu_load -= cpu_load > 0 ? cpu_load : 0;
	if (hl->cpu_load < 1e-9)
		hl->cpu_load = 0;
	if (hl->n_vms)
		hl->n_vms--;
	util_update(l, host);
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
	p->u = xcalloc(o->n_hosts + 1, sizeof(*p->u));
	p->inv = xcalloc(o->n_hosts + 1, sizeof(*p->inv));
	for (size_t h = 0; h < o->n_hosts; h++) {
		p->n_eligible += eligible(&o->hosts[h]);
		host_caps(l, h, p->inv[h]);
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *spec;
		if (!dom_commits(l, d, &spec))
			continue;
		load_add_vm(l, d->host, spec, dom_memory(d), d->vcpus,
			    d->state == DOM_RUNNING ? d->cpu_load : 0);
	}
	sums_recompute(l);
}

void load_release(struct load *l)
{
	struct place_priv *p = P(l);
	if (p) {
		for (size_t i = 0; i < p->n_groups; i++)
			free(p->groups[i].name);
		free(p->groups);
		free(p->names);
		free(p->counts);
		free(p->u);
		free(p->inv);
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

/* Which placement rule rules host out, with the value it asks for. */
static const char *disallowed_reason(const struct vm_spec *vm, const struct obs_host *h,
				     char *buf, size_t len)
{
	const struct placement_spec *ps = &vm->placement;
	size_t i;

	for (i = 0; i < ps->n_hosts; i++)
		if (!strcmp(ps->hosts[i], h->name))
			break;
	if (ps->n_hosts && i == ps->n_hosts) {
		snprintf(buf, len, "not in placement.hosts");
		return buf;
	}
	for (i = 0; i < ps->labels.nr; i++) {
		const char *k = ps->labels.items[i].key, *v = ps->labels.items[i].value;
		const char *have = labels_get(&h->labels, k);
		if (str_eq(have, v))
			continue;
		if (have)
			snprintf(buf, len, "lacks label %s=%s (has %s=%s)", k, v, k, have);
		else
			snprintf(buf, len, "lacks label %s=%s", k, v);
		return buf;
	}
	snprintf(buf, len, "not allowed by placement");
	return buf;
}

/* Feasibility of adding mem/vcpus for vm on host (vm's own membership of
 * its groups already taken off its host by the caller). The reason is
 * formatted into buf when buf is not NULL; otherwise it is generic. */
static bool fits(const struct load *l, const struct vm_spec *vm, size_t host, uint64_t mem,
		 int vcpus, const char **reason, char *buf, size_t len)
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
		if (buf)
			*reason = disallowed_reason(vm, h, buf, len);
		return false;
	}
	if (hv_resolve_type(vm->cfg.hypervisor, h->hv_caps, &t)) {
		if (!buf)
			return (*reason = "hypervisor not offered"), false;
		snprintf(buf, len, "does not offer hypervisor '%s'", hv_type_name(vm->cfg.hypervisor));
		return (*reason = buf), false;
	}
	if (h->resources_known) {
		char lb[96];
		const char *lack = obs_host_lacks(h, &vm->cfg, buf ? buf : lb, buf ? len : sizeof(lb));
		if (lack)
			return (*reason = buf ? lack : "a pool or network is missing"), false;
	}
	if (hl->mem_used + mem > cap) {
		if (!buf)
			return (*reason = "not enough memory"), false;
		snprintf(buf, len, "needs %s, %s free", format_size(mem, b1),
			 format_size(cap > hl->mem_used ? cap - hl->mem_used : 0, b2));
		return (*reason = buf), false;
	}
	if (hl->vcpus_used + vcpus > vcap + 1e-9) {
		if (!buf)
			return (*reason = "too many vCPUs"), false;
		snprintf(buf, len, "needs %d vCPUs, %d of %.0f committed", vcpus, hl->vcpus_used, vcap);
		return (*reason = buf), false;
	}
	if (vm->placement.spread &&
	    group_count(l, group_find(p, vm->placement.spread, G_SPREAD), host) > 0) {
		if (!buf)
			return (*reason = "spread group has a member here"), false;
		snprintf(buf, len, "spread group '%s' already has a member here", vm->placement.spread);
		return (*reason = buf), false;
	}
	if (vm->placement.together) {
		long other = together_elsewhere(l, group_find(p, vm->placement.together, G_TOGETHER), host);
		if (other >= 0) {
			if (!buf)
				return (*reason = "together group is elsewhere"), false;
			snprintf(buf, len, "together group '%s' is on %s", vm->placement.together,
				 l->o->hosts[other].name);
			return (*reason = buf), false;
		}
	}
	return true;
}

static __thread char reason_buf[160];

bool place_feasible(const struct load *l, const struct vm_spec *vm, size_t host, const char **reason)
{
	const char *r;
	bool ok = fits(l, vm, host, vm->cfg.max_memory, vm->cfg.vcpus, &r, reason_buf,
		       sizeof(reason_buf));
	if (reason)
		*reason = ok ? NULL : r;
	return ok;
}

/* Score if host a lost and host b gained (mem, vcpus, cpu); a or b may be -1. */
/* Add to sum/sq the change of host h (-1: none) gaining (sign > 0) or
 * losing (mem, vcpus, cpu). */
static void sums_if(const struct load *l, long h, int sign, uint64_t mem, int vcpus, double cpu,
		    double *sum, double *sq)
{
	const struct place_priv *p = P(l);
	const struct host_load *hl;
	double u[N_METRICS];

	if (h < 0 || !eligible(&l->o->hosts[h]))
		return;
	hl = &l->hosts[h];
	if (sign < 0)
		util_of(p, (size_t)h, hl->mem_used > mem ? (double)(hl->mem_used - mem) : 0,
			hl->vcpus_used - vcpus, hl->cpu_load - cpu, u);
	else
		util_of(p, (size_t)h, (double)(hl->mem_used + mem), hl->vcpus_used + vcpus,
			hl->cpu_load + cpu, u);
	for (int m = 0; m < N_METRICS; m++) {
		sum[m] += u[m] - p->u[h][m];
		sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
	}
}

/* Score if host a lost and host b gained (mem, vcpus, cpu); a or b may be -1. */
static double score_if(const struct load *l, long a, long b, uint64_t mem, int vcpus, double cpu)
{
	const struct place_priv *p = P(l);
	double sum[N_METRICS], sq[N_METRICS];

	memcpy(sum, p->sum, sizeof(sum));
	memcpy(sq, p->sq, sizeof(sq));
	sums_if(l, a, -1, mem, vcpus, cpu, sum, sq);
	sums_if(l, b, +1, mem, vcpus, cpu, sum, sq);
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

/*
 * On clusters of more than PLACE_SMALL eligible hosts, a new VM is tried on
 * a bounded set of hosts instead of all: the PLACE_K least used by each
 * weighted metric and by combined pressure (as the balancer's targets),
 * refreshed after every PLACE_REFRESH placements; only its placement.hosts
 * when it names them; and every host when none of those takes it, so a
 * VM is never left out because of the bound.
 */
enum { PLACE_SMALL = 64, PLACE_K = 8, PLACE_REFRESH = 8 };

/* Insert host h with key v into top[0..*n) (ascending, at most k). */
static void top_insert(size_t *top, double *tv, size_t *n, size_t k, size_t h, double v)
{
	size_t pos;
	if (*n == k && v >= tv[k - 1])
		return;
	pos = *n < k ? (*n)++ : k - 1;
	while (pos > 0 && v < tv[pos - 1]) {
		top[pos] = top[pos - 1];
		tv[pos] = tv[pos - 1];
		pos--;
	}
	top[pos] = h;
	tv[pos] = v;
}

/* The candidate hosts for placement: *n of them into out (no repeats). */
static void place_candidates(struct load *l, bool *mark, size_t *out, size_t *n)
{
	const struct place_priv *p = P(l);
	const struct observed *o = l->o;
	size_t top[N_METRICS + 1][PLACE_K], nt[N_METRICS + 1] = { 0 };
	double tv[N_METRICS + 1][PLACE_K], mean[N_METRICS], sd[N_METRICS];

	for (int m = 0; m < N_METRICS; m++) {
		double var;
		mean[m] = p->n_eligible ? p->sum[m] / (double)p->n_eligible : 0;
		var = p->n_eligible ? p->sq[m] / (double)p->n_eligible - mean[m] * mean[m] : 0;
		sd[m] = var > 0 ? sqrt(var) : 0;
	}
	for (size_t h = 0; h < o->n_hosts; h++) {
		double press = 0;
		if (!eligible(&o->hosts[h]))
			continue;
		for (int m = 0; m < N_METRICS; m++) {
			if (p->w[m] <= 0)
				continue;
			top_insert(top[m], tv[m], &nt[m], PLACE_K, h, p->u[h][m]);
			if (sd[m] > 1e-12)
				press += p->w[m] * (p->u[h][m] - mean[m]) / sd[m];
		}
		top_insert(top[N_METRICS], tv[N_METRICS], &nt[N_METRICS], PLACE_K, h, press);
	}
	for (size_t i = 0; i < *n; i++)
		mark[out[i]] = false;
	*n = 0;
	for (int m = 0; m <= N_METRICS; m++)
		for (size_t i = 0; i < nt[m]; i++)
			if (!mark[top[m][i]]) {
				mark[top[m][i]] = true;
				out[(*n)++] = top[m][i];
			}
}

/* Best host for unit u among hosts[0..nh) (all when hosts is NULL), by the
 * resulting score (ties: fewer VMs, then the name); -1 if none fits. */
static long place_best(struct load *l, const struct vm_spec *const *vms, const size_t *order,
		       const struct unit *u, const size_t *hosts, size_t nh)
{
	long best = -1;
	double best_score = 0;
	char buf[160];

	for (size_t k = 0; k < nh; k++) {
		size_t h = hosts ? hosts[k] : k;
		const char *r;
		bool ok = true;
		double sc;
		/* every member must fit, with the ones before it added */
		struct host_load save = l->hosts[h];
		for (size_t j = 0; j < u->n && ok; j++) {
			const struct vm_spec *vm = vms[order[u->first + j]];
			ok = fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, &r, buf, sizeof(buf));
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
	return best;
}

/* Host indices by host name (qsort_r with the observed state). */
static int cmp_host_name(const void *a, const void *b, void *o)
{
	const struct observed *obs = o;
	return strcmp(obs->hosts[*(const size_t *)a].name, obs->hosts[*(const size_t *)b].name);
}

/* The hosts named by placement.hosts, by binary search in by_name. */
static size_t named_hosts(const struct load *l, const size_t *by_name, const struct vm_spec *vm,
			  size_t *out)
{
	size_t na = 0;
	for (size_t i = 0; i < vm->placement.n_hosts; i++) {
		size_t lo = 0, hi = l->o->n_hosts;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int cmp = strcmp(l->o->hosts[by_name[mid]].name, vm->placement.hosts[i]);
			if (!cmp) {
				out[na++] = by_name[mid];
				break;
			}
			if (cmp < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return na;
}

size_t place_vms(struct load *l, const struct vm_spec *const *vms, size_t n, long *hosts,
		 struct strbuf *why)
{
	size_t *order = xcalloc(n + 1, sizeof(*order));
	struct unit *units = xcalloc(n + 1, sizeof(*units));
	size_t nu = 0, placed = 0;
	char buf[160];
	bool bounded = P(l)->n_eligible > PLACE_SMALL;
	size_t *cand = NULL, nc = 0, *by_name = NULL, since = PLACE_REFRESH;
	bool *mark = NULL;

	if (bounded) {
		cand = xcalloc((N_METRICS + 1) * PLACE_K + l->o->n_hosts + 1, sizeof(*cand));
		mark = xcalloc(l->o->n_hosts + 1, sizeof(*mark));
		by_name = xcalloc(l->o->n_hosts + 1, sizeof(*by_name));
		for (size_t h = 0; h < l->o->n_hosts; h++)
			by_name[h] = h;
		qsort_r(by_name, l->o->n_hosts, sizeof(*by_name), cmp_host_name, (void *)l->o);
	}

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
		const struct vm_spec *first = vms[order[u->first]];
		long best = -1;
		if (bounded && first->placement.n_hosts) {
			size_t *named = cand + (N_METRICS + 1) * PLACE_K;
			best = place_best(l, vms, order, u, named, named_hosts(l, by_name, first, named));
		} else if (bounded) {
			if (since++ >= PLACE_REFRESH) {
				place_candidates(l, mark, cand, &nc);
				since = 1;
			}
			best = place_best(l, vms, order, u, cand, nc);
			if (best < 0)
				best = place_best(l, vms, order, u, NULL, l->o->n_hosts);
		} else {
			best = place_best(l, vms, order, u, NULL, l->o->n_hosts);
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
				if (fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, &r, buf, sizeof(buf)))
					r = u->n > 1 ? "the group as a whole does not fit" : "fits";
				l->hosts[h] = save;
				strbuf_addf(why, "%s %s: %s", h ? ";" : "", l->o->hosts[h].name, r);
			}
			strbuf_addc(why, '\n');
		}
	}
	free(order);
	free(units);
	free(cand);
	free(mark);
	free(by_name);
	return placed;
}

/* ---- balancing ---- */

/*
 * Balancing looks for the best move in bounded sets, so that a round costs
 * O(VMs on a few hosts x a few hosts) instead of O(VMs x hosts):
 *
 *  - targets: the TARGETS least loaded eligible hosts by each weighted
 *    metric and by their combined pressure (how far above the mean a host
 *    is, in standard deviations, weighted like the score);
 *  - sources: the most loaded hosts by the same keys, SOURCES[level] of
 *    each; when no move from them gains enough, the next level widens the
 *    sources, up to every host;
 *  - a VM that fits none of the targets is tried on every host it may use,
 *    so a hard constraint never hides a move that exists.
 *
 * Clusters of at most SMALL eligible hosts are searched exhaustively.
 */
enum { TARGETS = 8, SMALL = 64, N_LEVELS = 3 };
static const size_t SOURCES[N_LEVELS] = { 8, 64, (size_t)-1 };

struct cand {
	size_t dom;                /* index into o->domains */
	const struct vm_spec *vm;
	size_t host;               /* where it is now (in this plan) */
	uint64_t mem;
	int vcpus;
	double cpu;
	bool moved;                /* by this plan */
	bool cooling;              /* migrated within the cooldown */
	const struct vem_meta *meta;   /* its metadata (blocked moves) */
	uint64_t disk;             /* host-local disk bytes a move copies */
	int64_t now;
	long prev, next;           /* the candidates on the same host */
	long target;               /* best destination in this round, -1 none */
	double gain;
};

struct balancer {
	struct load *l;
	struct cand *cands;        /* sorted by VM name */
	size_t nc;
	long *head;                /* per host: its first candidate, -1 none */
	bool *is_target, *is_source;   /* per host, this round */
	size_t *targets, nt;
	size_t *by_name;           /* host indexes sorted by name */
	size_t *top;               /* scratch for mark_extremes */
	size_t *eval;              /* candidates evaluated this round */
	double *key;               /* per host scratch */
	bool exhaustive;
};

static void cand_link(struct balancer *b, long i)
{
	struct cand *c = &b->cands[i];
	c->prev = -1;
	c->next = b->head[c->host];
	if (c->next >= 0)
		b->cands[c->next].prev = i;
	b->head[c->host] = i;
}

static void cand_unlink(struct balancer *b, long i)
{
	struct cand *c = &b->cands[i];
	if (c->prev >= 0)
		b->cands[c->prev].next = c->next;
	else
		b->head[c->host] = c->next;
	if (c->next >= 0)
		b->cands[c->next].prev = c->prev;
}

static void add_migration(struct plan *p, struct balancer *b, long i, size_t dest,
			  const char *reason)
{
	struct load *l = b->l;
	struct cand *c = &b->cands[i];
	struct plan_action a;

	memset(&a, 0, sizeof(a));
	a.kind = ACT_MIGRATE;
	a.vm = xstrdup(c->vm->name);
	a.spec = c->vm;
	a.host = c->host;
	a.dest = dest;
	a.reason = xstrdup(reason);
	a.bytes = c->mem + c->disk;
	a.after = -1;
	a.score_before = load_score(l);
	load_remove_vm(l, c->host, c->vm, c->mem, c->vcpus, c->cpu);
	load_add_vm(l, dest, c->vm, c->mem, c->vcpus, c->cpu);
	sums_recompute(l);
	a.score_after = load_score(l);
	plan_add(p, &a);
	cand_unlink(b, i);
	c->host = dest;
	cand_link(b, i);
	c->moved = true;
}

/* Best destination for c among hosts[0..n) (all hosts when hosts is NULL),
 * by resulting score; -1 if none fits. c's group membership must be off
 * its host. why (optional) collects each rejected host's reason. */
static long scan_targets(struct load *l, const struct cand *c, const size_t *hosts, size_t n,
			 double *score_out, struct strbuf *why)
{
	const struct place_priv *p = P(l);
	long best = -1;
	double best_score = 0;
	double base_sum[N_METRICS], base_sq[N_METRICS];
	char buf[160];

	/* the VM leaving its host is the same for every destination */
	memcpy(base_sum, p->sum, sizeof(base_sum));
	memcpy(base_sq, p->sq, sizeof(base_sq));
	sums_if(l, (long)c->host, -1, c->mem, c->vcpus, c->cpu, base_sum, base_sq);
	for (size_t k = 0; k < n; k++) {
		size_t h = hosts ? hosts[k] : k;
		double sum[N_METRICS], sq[N_METRICS];
		const char *r;
		double sc;
		if (h == c->host)
			continue;
		if (c->meta && c->meta->n_blocks) {
			const struct vem_block *bl = vem_meta_blocked(c->meta, l->o->hosts[h].name, c->now,
								      l->c->revision);
			if (bl) {
				if (why)
					strbuf_addf(why, "%s %s: an earlier move failed: %s", why->len ? ";" : "",
						    l->o->hosts[h].name, bl->why);
				continue;
			}
		}
		if (!fits(l, c->vm, h, c->mem, c->vcpus, &r, why ? buf : NULL, sizeof(buf))) {
			if (why)
				strbuf_addf(why, "%s %s: %s", why->len ? ";" : "", l->o->hosts[h].name, r);
			continue;
		}
		memcpy(sum, base_sum, sizeof(sum));
		memcpy(sq, base_sq, sizeof(sq));
		sums_if(l, (long)h, +1, c->mem, c->vcpus, c->cpu, sum, sq);
		sc = score_from(p, sum, sq);
		if (best < 0 || sc < best_score - 1e-12) {
			best = (long)h;
			best_score = sc;
		}
	}
	*score_out = best_score;
	return best;
}

/* Best destination for c other than its host: among this round's targets,
 * else among every host it may use. */
static long best_target(struct balancer *b, struct cand *c, double *score_out, struct strbuf *why)
{
	struct load *l = b->l;
	const struct placement_spec *ps = &c->vm->placement;
	long t = -1;

	/* the VM leaves its host first: its own group membership does not count */
	groups_update(l, c->vm, c->host, false);
	if (!why && !b->exhaustive)
		t = scan_targets(l, c, b->targets, b->nt, score_out, NULL);
	if (t < 0 && ps->n_hosts && !why) {
		/* only the hosts it names */
		size_t *allowed = xcalloc(ps->n_hosts + 1, sizeof(*allowed)), na = 0;
		for (size_t i = 0; i < ps->n_hosts; i++) {
			size_t lo = 0, hi = l->o->n_hosts;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				int cmp = strcmp(l->o->hosts[b->by_name[mid]].name, ps->hosts[i]);
				if (!cmp) {
					allowed[na++] = b->by_name[mid];
					break;
				}
				if (cmp < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		t = scan_targets(l, c, allowed, na, score_out, NULL);
		free(allowed);
	} else if (t < 0) {
		t = scan_targets(l, c, NULL, l->o->n_hosts, score_out, why);
	}
	groups_update(l, c->vm, c->host, true);
	return t;
}

static const char *repair_reason(struct load *l, struct cand *c)
{
	const struct obs_host *h = &l->o->hosts[c->host];

	if (h->maintenance)
		return "maintenance";
	if (!host_allowed(c->vm, h))
		return "placement";
	if (c->vm->placement.spread &&
	    group_count(l, group_find(P(l), c->vm->placement.spread, G_SPREAD), c->host) > 1)
		return "spread";
	return NULL;
}

static int cmp_cand_name(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->vm->name, ((const struct cand *)b)->vm->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mark the k eligible hosts with the lowest key (highest when `high`). */
static void mark_extremes(struct balancer *b, const double *key, size_t k, bool high, bool *mark)
{
	const struct observed *o = b->l->o;
	size_t n = 0;

	for (size_t h = 0; h < o->n_hosts; h++) {
		double v = high ? -key[h] : key[h];
		size_t pos;
		if (!eligible(&o->hosts[h]))
			continue;
		if (n == k && v >= (high ? -key[b->top[n - 1]] : key[b->top[n - 1]]))
			continue;
		pos = n < k ? n++ : k - 1;
		while (pos > 0 && v < (high ? -key[b->top[pos - 1]] : key[b->top[pos - 1]])) {
			b->top[pos] = b->top[pos - 1];
			pos--;
		}
		b->top[pos] = h;
	}
	for (size_t i = 0; i < n; i++)
		mark[b->top[i]] = true;
}

/* This round's targets, and the sources of level `level`. */
static void select_hosts(struct balancer *b, int level)
{
	struct load *l = b->l;
	const struct place_priv *p = P(l);
	const struct observed *o = l->o;
	double mean[N_METRICS], sd[N_METRICS];
	size_t ks = SOURCES[level];

	memset(b->is_source, 0, o->n_hosts * sizeof(*b->is_source));
	if (ks >= o->n_hosts) {
		for (size_t h = 0; h < o->n_hosts; h++)
			b->is_source[h] = true;
	}
	if (level > 0 && ks >= o->n_hosts)
		return;     /* the targets of level 0 still hold */
	for (int m = 0; m < N_METRICS; m++) {
		double var;
		mean[m] = p->n_eligible ? p->sum[m] / (double)p->n_eligible : 0;
		var = p->n_eligible ? p->sq[m] / (double)p->n_eligible - mean[m] * mean[m] : 0;
		sd[m] = var > 0 ? sqrt(var) : 0;
	}
	/* combined pressure */
	for (size_t h = 0; h < o->n_hosts; h++) {
		b->key[h] = 0;
		for (int m = 0; m < N_METRICS; m++)
			if (p->w[m] > 0 && sd[m] > 1e-12)
				b->key[h] += p->w[m] * (p->u[h][m] - mean[m]) / sd[m];
	}
	if (level == 0)
		memset(b->is_target, 0, o->n_hosts * sizeof(*b->is_target));
	if (level == 0)
		mark_extremes(b, b->key, TARGETS, false, b->is_target);
	if (ks < o->n_hosts)
		mark_extremes(b, b->key, ks, true, b->is_source);
	for (int m = 0; m < N_METRICS; m++) {
		if (p->w[m] <= 0)
			continue;
		for (size_t h = 0; h < o->n_hosts; h++)
			b->key[h] = p->u[h][m];
		if (level == 0)
			mark_extremes(b, b->key, TARGETS, false, b->is_target);
		if (ks < o->n_hosts)
			mark_extremes(b, b->key, ks, true, b->is_source);
	}
	if (level == 0) {
		b->nt = 0;
		for (size_t h = 0; h < o->n_hosts; h++)
			if (b->is_target[h])
				b->targets[b->nt++] = h;
	}
}

/* Move candidate i to dest in the load only (lookahead). */
static void cand_move(struct balancer *b, long i, size_t dest)
{
	struct load *l = b->l;
	struct cand *c = &b->cands[i];

	load_remove_vm(l, c->host, c->vm, c->mem, c->vcpus, c->cpu);
	load_add_vm(l, dest, c->vm, c->mem, c->vcpus, c->cpu);
	sums_recompute(l);
	cand_unlink(b, i);
	c->host = dest;
	cand_link(b, i);
}

/* The best single gain from here, among the candidates of pool[]. */
static double best_next_gain(struct balancer *b, const size_t *pool, size_t np, double min_gain)
{
	double cur = load_score(b->l), best = 0;
	for (size_t k = 0; k < np; k++) {
		struct cand *cd = &b->cands[pool[k]];
		double sc;
		long t;
		if (cd->moved || cd->cooling)
			continue;
		t = best_target(b, cd, &sc, NULL);
		if (t >= 0 && cur - sc >= min_gain && cur - sc > best)
			best = cur - sc;
	}
	return best;
}

enum { LOOK_FIRST = 4, LOOK_POOL = 32 };

/* The (at most) k evaluated candidates with the highest gain, best first. */
static size_t top_by_gain(const struct balancer *b, size_t ne, size_t k, size_t *out)
{
	size_t n = 0;
	for (size_t e = 0; e < ne; e++) {
		size_t i = b->eval[e], pos;
		if (n == k && b->cands[i].gain <= b->cands[out[n - 1]].gain)
			continue;
		pos = n < k ? n++ : k - 1;
		while (pos > 0 && b->cands[i].gain > b->cands[out[pos - 1]].gain) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = i;
	}
	return n;
}

/*
 * This round's move, chosen one move ahead: each of the LOOK_FIRST moves
 * with the highest gain is made on trial, and the best move that would
 * follow it is found among the LOOK_POOL best candidates of this round. The
 * first move of the pair that gains most wins; among pairs within 0.5% of
 * the best, the one whose first move carries the least memory.
 */
static long lookahead_pick(struct balancer *b, size_t ne, double min_gain)
{
	size_t first[LOOK_FIRST], pool[LOOK_POOL], nf, np = 0;
	long target[LOOK_FIRST];
	double gain[LOOK_FIRST], pair[LOOK_FIRST], best_pair = -1;
	long pick = -1;

	nf = top_by_gain(b, ne, LOOK_FIRST, first);
	np = top_by_gain(b, ne, LOOK_POOL, pool);
	for (size_t e = 0; e < nf; e++) {
		target[e] = b->cands[first[e]].target;
		gain[e] = b->cands[first[e]].gain;
	}
	for (size_t e = 0; e < nf; e++) {
		struct cand *c = &b->cands[first[e]];
		size_t from = c->host;

		cand_move(b, (long)first[e], (size_t)target[e]);
		c->moved = true;
		pair[e] = gain[e] + best_next_gain(b, pool, np, min_gain);
		c->moved = false;
		cand_move(b, (long)first[e], from);
		if (pair[e] > best_pair)
			best_pair = pair[e];
	}
	for (size_t e = 0; e < nf; e++) {
		const struct cand *c = &b->cands[first[e]], *pk = pick >= 0 ? &b->cands[first[pick]] : NULL;
		if (pair[e] < 0.995 * best_pair)
			continue;
		if (!pk || c->mem < pk->mem || (c->mem == pk->mem && pair[e] > pair[pick]))
			pick = (long)e;
	}
	/* the trials overwrote what the round found for these candidates */
	for (size_t e = 0; e < nf; e++) {
		b->cands[first[e]].target = target[e];
		b->cands[first[e]].gain = gain[e];
	}
	return pick >= 0 ? (long)first[pick] : -1;
}

/* One balancing round: the move to make, or -1. */
static long balance_round(struct balancer *b, const struct balance_spec *bs)
{
	struct load *l = b->l;
	const struct observed *o = l->o;
	double cur = load_score(l);

	for (int level = 0; level < N_LEVELS; level++) {
		size_t ne = 0;

		if (b->exhaustive) {
			if (level)
				break;
			for (size_t h = 0; h < o->n_hosts; h++)
				b->is_source[h] = true;
		} else {
			select_hosts(b, level);
		}
		for (size_t h = 0; h < o->n_hosts; h++) {
			if (!b->is_source[h])
				continue;
			for (long i = b->head[h]; i >= 0; i = b->cands[i].next) {
				struct cand *cd = &b->cands[i];
				double sc;
				if (cd->moved || cd->cooling)
					continue;
				cd->target = best_target(b, cd, &sc, NULL);
				/* a move that copies disks must be worth it: its gain
				 * counts for less per GiB copied (cheap moves first) */
				cd->gain = (cur - sc) / (1.0 + (double)cd->disk / (double)GiB);
				if (cd->target < 0 || cd->gain < bs->min_gain)
					continue;
				b->eval[ne++] = (size_t)i;
			}
		}
		if (ne)
			return lookahead_pick(b, ne, bs->min_gain);
	}
	return -1;
}

/*
 * Swaps: exchange two VMs x (on host a) and y (on host b). Both migrations
 * must be possible one after the other (one of them fits first, the other
 * after it) and the pair must gain at least twice min-gain. A swap is taken
 * when it gains more per migration than the best single move, or, when no
 * single move is left, when it gains at least SWAP_ALONE of the score. Only the SWAP_HOSTS hosts of highest and of lowest
 * pressure are paired, so a round costs O(SWAP_HOSTS^2 x VMs per host^2).
 * VMs of spread or together groups are not swapped.
 */
enum { SWAP_HOSTS = 6, SWAP_RECHECK = 8 };
#define SWAP_ALONE 0.04     /* share of the score a swap gains when no single move is left */

struct swap {
	long first, second;        /* candidates, in migration order */
	size_t first_dest, second_dest;
	double gain;
};

/* Add to sum/sq the change of host h carrying (dmem, dvcpus, dcpu) more. */
static void sums_shift(const struct load *l, size_t h, double dmem, int dvcpus, double dcpu,
		       double *sum, double *sq)
{
	const struct place_priv *p = P(l);
	const struct host_load *hl = &l->hosts[h];
	double u[N_METRICS];

	if (!eligible(&l->o->hosts[h]))
		return;
	util_of(p, h, (double)hl->mem_used + dmem, hl->vcpus_used + dvcpus, hl->cpu_load + dcpu, u);
	for (int m = 0; m < N_METRICS; m++) {
		sum[m] += u[m] - p->u[h][m];
		sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
	}
}

/* The k eligible hosts of highest (or lowest) combined pressure. */
static size_t pressure_hosts(struct balancer *b, size_t k, bool high, size_t *out)
{
	struct load *l = b->l;
	const struct place_priv *p = P(l);
	const struct observed *o = l->o;
	double mean[N_METRICS], sd[N_METRICS];
	bool *mark = b->is_source;
	size_t n = 0;

	for (int m = 0; m < N_METRICS; m++) {
		double var;
		mean[m] = p->n_eligible ? p->sum[m] / (double)p->n_eligible : 0;
		var = p->n_eligible ? p->sq[m] / (double)p->n_eligible - mean[m] * mean[m] : 0;
		sd[m] = var > 0 ? sqrt(var) : 0;
	}
	for (size_t h = 0; h < o->n_hosts; h++) {
		b->key[h] = 0;
		for (int m = 0; m < N_METRICS; m++)
			if (p->w[m] > 0 && sd[m] > 1e-12)
				b->key[h] += p->w[m] * (p->u[h][m] - mean[m]) / sd[m];
	}
	memset(mark, 0, o->n_hosts * sizeof(*mark));
	mark_extremes(b, b->key, k, high, mark);
	for (size_t h = 0; h < o->n_hosts && n < k; h++)
		if (mark[h])
			out[n++] = h;
	return n;
}

static bool swappable(const struct cand *c)
{
	return !c->moved && !c->cooling && !c->vm->placement.spread && !c->vm->placement.together;
}

/* Whether x may go to host dest once y has left it. */
static bool fits_after(struct load *l, const struct cand *x, size_t dest, const struct cand *y)
{
	struct host_load save = l->hosts[dest];
	const char *r;
	bool ok;

	l->hosts[dest].mem_used -= y->mem;
	l->hosts[dest].vcpus_used -= y->vcpus;
	ok = fits(l, x->vm, dest, x->mem, x->vcpus, &r, NULL, 0);
	l->hosts[dest] = save;
	return ok;
}

static bool swap_best(struct balancer *b, double min_gain, struct swap *best)
{
	struct load *l = b->l;
	const struct place_priv *p = P(l);
	size_t hi[SWAP_HOSTS], lo[SWAP_HOSTS], nhi, nlo;
	double cur = load_score(l);

	best->gain = 0;
	best->first = -1;
	nhi = pressure_hosts(b, SWAP_HOSTS, true, hi);
	nlo = pressure_hosts(b, SWAP_HOSTS, false, lo);
	for (size_t i = 0; i < nhi; i++) {
		for (size_t j = 0; j < nlo; j++) {
			size_t a = hi[i], bh = lo[j];
			if (a == bh)
				continue;
			for (long xi = b->head[a]; xi >= 0; xi = b->cands[xi].next) {
				const struct cand *x = &b->cands[xi];
				if (!swappable(x))
					continue;
				for (long yi = b->head[bh]; yi >= 0; yi = b->cands[yi].next) {
					const struct cand *y = &b->cands[yi];
					double sum[N_METRICS], sq[N_METRICS], dm, gain;
					const char *r;
					if (!swappable(y))
						continue;
					dm = (double)y->mem - (double)x->mem;
					memcpy(sum, p->sum, sizeof(sum));
					memcpy(sq, p->sq, sizeof(sq));
					sums_shift(l, a, dm, y->vcpus - x->vcpus, y->cpu - x->cpu, sum, sq);
					sums_shift(l, bh, -dm, x->vcpus - y->vcpus, x->cpu - y->cpu, sum, sq);
					gain = cur - score_from(p, sum, sq);
					if (gain < 2 * min_gain || gain <= best->gain)
						continue;
					/* one of them must fit first, the other after it */
					if (fits(l, y->vm, a, y->mem, y->vcpus, &r, NULL, 0) &&
					    fits_after(l, x, bh, y)) {
						*best = (struct swap){ yi, xi, a, bh, gain };
					} else if (fits(l, x->vm, bh, x->mem, x->vcpus, &r, NULL, 0) &&
						   fits_after(l, y, a, x)) {
						*best = (struct swap){ xi, yi, bh, a, gain };
					}
				}
			}
		}
	}
	return best->first >= 0;
}

/*
 * Pack mode (balance.mode: pack), as VMware DPM does: empty as many hosts as
 * the constraints allow and say which. Hosts are tried from the least
 * committed memory up; a host is emptied only when all of its VMs find room
 * elsewhere (largest first, each on the fullest host where it fits) without
 * taking any receiving host above 1 - pack-headroom of its memory, vCPUs
 * (x vcpu-overcommit) or CPUs (measured load), and within max-migrations.
 * A host with load vem may not move (foreign domains, VMs in their
 * cooldown or already acted on by the plan, members of together groups)
 * stays. An emptied host receives nothing.
 */
struct packer {
	struct balancer *b;
	double headroom;
	bool *freed;
	long *trial;               /* candidates moved on trial */
	size_t *trial_from, nt;
};

static bool within_headroom(const struct packer *k, size_t h, const struct cand *c)
{
	const struct obs_host *oh = &k->b->l->o->hosts[h];
	const struct host_load *hl = &k->b->l->hosts[h];
	double keep = 1 - k->headroom;
	double mem = oh->memory > oh->reserve ? (double)(oh->memory - oh->reserve) : 0;

	return (double)(hl->mem_used + c->mem) <= keep * mem + 0.5 &&
	       hl->vcpus_used + c->vcpus <= keep * oh->cpus * k->b->l->c->balance.vcpu_overcommit + 1e-9 &&
	       hl->cpu_load + c->cpu <= keep * oh->cpus + 1e-9;
}

/* The fullest host (by memory used, relative) other than from that takes c. */
static long pack_receiver(struct packer *k, const struct cand *c, size_t from)
{
	struct load *l = k->b->l;
	long best = -1;
	double best_u = -1;

	groups_update(l, c->vm, from, false);
	for (size_t h = 0; h < l->o->n_hosts; h++) {
		const char *r;
		double u;
		if (h == from || k->freed[h] || !eligible(&l->o->hosts[h]) || !within_headroom(k, h, c) ||
		    !fits(l, c->vm, h, c->mem, c->vcpus, &r, NULL, 0))
			continue;
		u = P(l)->u[h][M_MEM];
		if (u > best_u + 1e-12) {
			best = (long)h;
			best_u = u;
		}
	}
	groups_update(l, c->vm, from, true);
	return best;
}

static int cmp_cand_mem_desc(const void *a, const void *b, void *arg)
{
	const struct cand *cands = arg;
	const struct cand *x = &cands[*(const long *)a], *y = &cands[*(const long *)b];
	if (x->mem != y->mem)
		return x->mem > y->mem ? -1 : 1;
	return strcmp(x->vm->name, y->vm->name);
}

static int cmp_host_mem(const void *a, const void *b, void *arg)
{
	const struct load *l = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (l->hosts[x].mem_used != l->hosts[y].mem_used)
		return l->hosts[x].mem_used < l->hosts[y].mem_used ? -1 : 1;
	return strcmp(l->o->hosts[x].name, l->o->hosts[y].name);
}

/* Whether all of host h's VMs can move off it; when so, they have moved
 * (on trial: k->trial lists them). */
static bool pack_try_host(struct packer *k, size_t h, size_t budget)
{
	struct balancer *b = k->b;
	size_t n = 0;
	bool ok = true;

	k->nt = 0;
	for (long i = b->head[h]; i >= 0; i = b->cands[i].next) {
		const struct cand *c = &b->cands[i];
		if (c->moved || c->cooling || c->vm->placement.together)
			return false;
		k->trial[n++] = i;
	}
	if (n != b->l->hosts[h].n_vms || n > budget)
		return false;      /* load vem may not move, or too many moves */
	qsort_r(k->trial, n, sizeof(*k->trial), cmp_cand_mem_desc, b->cands);
	for (size_t j = 0; j < n && ok; j++) {
		long t = pack_receiver(k, &b->cands[k->trial[j]], h);
		if (t < 0) {
			ok = false;
			break;
		}
		k->trial_from[j] = h;
		cand_move(b, k->trial[j], (size_t)t);
		k->nt++;
	}
	if (!ok) {
		while (k->nt > 0) {
			k->nt--;
			cand_move(b, k->trial[k->nt], k->trial_from[k->nt]);
		}
	}
	return ok;
}

static void pack_plan(struct balancer *b, const struct balance_spec *bs, struct plan *p, int *moves)
{
	struct load *l = b->l;
	const struct observed *o = l->o;
	struct packer k;
	size_t *order = xcalloc(o->n_hosts + 1, sizeof(*order)), no = 0, nfreed = 0, n_elig = 0;
	struct strbuf names = STRBUF_INIT;

	memset(&k, 0, sizeof(k));
	k.b = b;
	k.headroom = bs->pack_headroom;
	k.freed = xcalloc(o->n_hosts + 1, sizeof(*k.freed));
	k.trial = xcalloc(b->nc + 1, sizeof(*k.trial));
	k.trial_from = xcalloc(b->nc + 1, sizeof(*k.trial_from));
	for (size_t h = 0; h < o->n_hosts; h++) {
		if (!eligible(&o->hosts[h]))
			continue;
		n_elig++;
		if (!l->hosts[h].n_vms)
			k.freed[h] = true;     /* already empty */
		else
			order[no++] = h;
	}
	qsort_r(order, no, sizeof(*order), cmp_host_mem, l);
	for (size_t i = 0; i < no; i++) {
		size_t h = order[i], budget = bs->max_migrations > *moves ? (size_t)(bs->max_migrations - *moves) : 0;
		if (!pack_try_host(&k, h, budget))
			continue;
		/* undo the trial, then plan the same moves in the same order */
		for (size_t j = k.nt; j-- > 0;)
			cand_move(b, k.trial[j], k.trial_from[j]);
		for (size_t j = 0; j < k.nt; j++) {
			long t;
			t = pack_receiver(&k, &b->cands[k.trial[j]], h);
			if (t < 0)
				break;      /* not reached: the trial found room in this order */
			add_migration(p, b, k.trial[j], (size_t)t, "pack");
			(*moves)++;
		}
		k.freed[h] = true;
	}
	for (size_t h = 0; h < o->n_hosts; h++) {
		if (!k.freed[h])
			continue;
		strbuf_addf(&names, "%s%s", nfreed ? ", " : "", o->hosts[h].name);
		nfreed++;
	}
	if (nfreed)
		plan_note(p, "pack: %zu of %zu hosts can be emptied and powered down "
			  "(vem does not power hosts off): %s", nfreed, n_elig, names.buf);
	else
		plan_note(p, "pack: no host can be emptied within the constraints and pack-headroom");
	strbuf_release(&names);
	free(order);
	free(k.freed);
	free(k.trial);
	free(k.trial_from);
}

void balance_plan(struct load *l, const struct plan_options *opt, struct plan *p)
{
	const struct cluster *c = l->c;
	const struct observed *o = l->o;
	const struct balance_spec *bs = &c->balance;
	struct balancer b;
	char **busy = xcalloc(p->n + 1, sizeof(*busy));
	int moves = 0, since_swap = 0;
	double swap_hint = INFINITY;

	memset(&b, 0, sizeof(b));
	b.l = l;
	b.cands = xcalloc(o->n_domains + 1, sizeof(*b.cands));
	b.head = xcalloc(o->n_hosts + 1, sizeof(*b.head));
	b.is_target = xcalloc(o->n_hosts + 1, sizeof(*b.is_target));
	b.is_source = xcalloc(o->n_hosts + 1, sizeof(*b.is_source));
	b.targets = xcalloc(o->n_hosts + 1, sizeof(*b.targets));
	b.by_name = xcalloc(o->n_hosts + 1, sizeof(*b.by_name));
	b.top = xcalloc(o->n_hosts + 1, sizeof(*b.top));
	b.eval = xcalloc(o->n_domains + 1, sizeof(*b.eval));
	b.key = xcalloc(o->n_hosts + 1, sizeof(*b.key));
	b.exhaustive = P(l)->n_eligible <= SMALL;
	for (size_t h = 0; h < o->n_hosts; h++) {
		b.head[h] = -1;
		b.by_name[h] = h;
	}
	qsort_r(b.by_name, o->n_hosts, sizeof(*b.by_name), cmp_host_name, (void *)o);

	/* movable: owned, running, desired, not already acted on by the plan */
	for (size_t k = 0; k < p->n; k++)
		busy[k] = p->actions[k].vm;
	qsort(busy, p->n, sizeof(*busy), cmp_str);
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *vm = d->owned ? cluster_vm(c, d->meta.vm) : NULL;
		struct cand *cd = &b.cands[b.nc];
		if (!vm || d->state != DOM_RUNNING || !o->hosts[d->host].online)
			continue;
		if (p->n && bsearch(&vm->name, busy, p->n, sizeof(*busy), cmp_str))
			continue;
		cd->dom = i;
		cd->vm = vm;
		cd->host = d->host;
		cd->mem = dom_memory(d);
		cd->vcpus = d->vcpus;
		cd->cpu = d->cpu_load > 0 ? d->cpu_load : 0;
		cd->cooling = d->meta.migrated_at && opt->now - d->meta.migrated_at < bs->cooldown;
		cd->meta = &d->meta;
		cd->now = opt->now;
		/* vem's volumes are in pool "default": copied unless it is shared */
		cd->disk = storage_pool_shared(&c->storage, "default") ? 0 : d->disk_bytes;
		b.nc++;
	}
	qsort(b.cands, b.nc, sizeof(*b.cands), cmp_cand_name);
	for (size_t i = b.nc; i-- > 0;)
		cand_link(&b, (long)i);

	/* repairs first: maintenance, disallowed hosts, broken spread groups */
	for (size_t i = 0; i < b.nc; i++) {
		struct cand *cd = &b.cands[i];
		const char *reason = repair_reason(l, cd);
		struct strbuf why = STRBUF_INIT;
		double sc;
		long t;
		if (!reason)
			continue;
		t = best_target(&b, cd, &sc, &why);
		if (t >= 0)
			add_migration(p, &b, (long)i, (size_t)t, reason);
		else {
			plan_hold(p, HELD_UNPLACEABLE, cd->vm->name, true,
				  "cannot move '%s' off %s (%s): no host fits:%s", cd->vm->name,
				  o->hosts[cd->host].name, reason, why.buf);
		}
		strbuf_release(&why);
	}

	if (!opt->balance || !bs->enabled)
		goto out;
	if (bs->mode == BALANCE_PACK) {
		pack_plan(&b, bs, p, &moves);
		goto out;
	}
	/*
	 * Balancing: while the score exceeds the threshold, take a move chosen
	 * one move ahead (lookahead_pick): of the moves with the highest gains,
	 * the one that leaves the best next move. Each move must gain at least
	 * min-gain. VMs moved in this plan or within the cooldown do not move.
	 */
	while (moves < bs->max_migrations && load_score(l) > bs->threshold) {
		long pick = balance_round(&b, bs);
		struct swap sw;
		bool have_swap = false;
		/* the best swap gain falls as the load evens out: while the last
		 * one found is below twice this round's single move, skip the
		 * search (but look again every SWAP_RECHECK rounds) */
		if (moves + 2 <= bs->max_migrations &&
		    (pick < 0 || b.cands[pick].gain < swap_hint / 2 || ++since_swap >= SWAP_RECHECK)) {
			have_swap = swap_best(&b, bs->min_gain, &sw);
			swap_hint = have_swap ? sw.gain : 0;
			since_swap = 0;
		}
		if (pick >= 0 && (!have_swap || b.cands[pick].gain >= sw.gain / 2)) {
			add_migration(p, &b, pick, (size_t)b.cands[pick].target, "balance");
			moves++;
			continue;
		}
		/* with no single move left, a swap must gain markedly: its first
		 * migration may worsen the balance until the second is done */
		if (!have_swap || (pick < 0 && sw.gain < SWAP_ALONE * load_score(l)))
			break;
		add_migration(p, &b, sw.first, sw.first_dest, "swap");
		add_migration(p, &b, sw.second, sw.second_dest, "swap");
		moves += 2;
	}
out:
	free(busy);
	free(b.cands);
	free(b.head);
	free(b.is_target);
	free(b.is_source);
	free(b.targets);
	free(b.by_name);
	free(b.top);
	free(b.eval);
	free(b.key);
}
