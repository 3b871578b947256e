/*
 * loadmodel.c - the load model: what each host carries, and the score.
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
 * a hypothetical move is computed in O(1). The hard constraints (load_fits)
 * live here too, beside the group counts they read.
 */
#include "loadmodel_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void util_update(struct load *l, size_t h)
{
	struct load_priv *p = load_priv(l);
	const struct host_load *hl = &l->hosts[h];
	double u[N_METRICS];

	if (!load_host_eligible(&l->o->hosts[h]))
		return;
	load_util_of(p, h, (double)hl->mem_used, hl->vcpus_used, hl->cpu_load, u);
	for (int m = 0; m < N_METRICS; m++) {
		p->sum[m] += u[m] - p->u[h][m];
		p->sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
		p->u[h][m] = u[m];
	}
}

/* Sums from scratch: incremental updates drift over thousands of moves. */
void load_sums_recompute(struct load *l)
{
	struct load_priv *p = load_priv(l);
	const struct obs_host *hosts = l->o->hosts;
	size_t n = l->o->n_hosts;
	/* the sums in registers, the metrics unrolled (the compiler keeps
	 * p->sum in memory, as it may alias p->u): the same additions in the
	 * same order as summing into p->sum */
	double s0 = 0, s1 = 0, s2 = 0, q0 = 0, q1 = 0, q2 = 0;

	_Static_assert(N_METRICS == 3, "three metrics");
	for (size_t h = 0; h < n; h++) {
		const double *u = p->u[h];
		if (!load_host_eligible(&hosts[h]))
			continue;
		s0 += u[0];
		q0 += u[0] * u[0];
		s1 += u[1];
		q1 += u[1] * u[1];
		s2 += u[2];
		q2 += u[2] * u[2];
	}
	p->sum[0] = s0;
	p->sum[1] = s1;
	p->sum[2] = s2;
	p->sq[0] = q0;
	p->sq[1] = q1;
	p->sq[2] = q2;
}

double load_score(const struct load *l)
{
	return load_score_from(load_priv(l), load_priv(l)->sum, load_priv(l)->sq);
}

/* ---- groups ---- */

static void names_insert(struct load_priv *p, size_t gi)
{
	size_t mask = p->names_cap - 1;
	size_t i = (size_t)str_hash(p->groups[gi].name, (uint64_t)p->groups[gi].kind) & mask;
	while (p->names[i])
		i = (i + 1) & mask;
	p->names[i] = gi + 1;
}

long load_group_find(const struct load_priv *p, const char *name, enum group_kind kind)
{
	size_t mask = p->names_cap - 1, i;
	if (!p->names_cap)
		return -1;
	for (i = (size_t)str_hash(name, (uint64_t)kind) & mask; p->names[i]; i = (i + 1) & mask) {
		const struct group *g = &p->groups[p->names[i] - 1];
		if (g->kind == kind && !strcmp(g->name, name))
			return (long)(p->names[i] - 1);
	}
	return -1;
}

static size_t group_get(struct load_priv *p, const char *name, enum group_kind kind)
{
	long gi = load_group_find(p, name, kind);
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

static struct count_slot *count_slot(const struct load_priv *p, uint64_t key)
{
	size_t mask = p->counts_cap - 1, i;
	if (!p->counts_cap)
		return NULL;
	for (i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 17) & mask; p->counts[i].key; i = (i + 1) & mask)
		if (p->counts[i].key == key)
			return &p->counts[i];
	return &p->counts[i];
}

size_t load_group_count(const struct load *l, long gi, size_t host)
{
	const struct count_slot *s;
	if (gi < 0)
		return 0;
	s = count_slot(load_priv(l), count_key(l, (size_t)gi, host));
	return s && s->key ? s->count : 0;
}

static void group_change(struct load *l, size_t gi, size_t host, bool add)
{
	struct load_priv *p = load_priv(l);
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

void load_groups_update(struct load *l, const struct vm_spec *vm, size_t host, bool add)
{
	struct load_priv *p = load_priv(l);
	long gi;
	if (!vm)
		return;
	if (vm->placement.spread) {
		gi = add ? (long)group_get(p, vm->placement.spread, G_SPREAD)
			 : load_group_find(p, vm->placement.spread, G_SPREAD);
		if (gi >= 0)
			group_change(l, (size_t)gi, host, add);
	}
	if (vm->placement.together) {
		gi = add ? (long)group_get(p, vm->placement.together, G_TOGETHER)
			 : load_group_find(p, vm->placement.together, G_TOGETHER);
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
	g = &load_priv(l)->groups[gi];
	if (g->n <= load_group_count(l, gi, host))
		return -1;
	if (g->last_host != host && load_group_count(l, gi, g->last_host))
		return (long)g->last_host;
	for (size_t h = 0; h < l->o->n_hosts; h++)
		if (h != host && load_group_count(l, gi, h))
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
	load_groups_update(l, vm, host, true);
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
	load_groups_update(l, vm, host, false);
}

uint64_t load_dom_memory(const struct obs_domain *d)
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
	struct load_priv *p = xcalloc(1, sizeof(*p));

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
		p->n_eligible += load_host_eligible(&o->hosts[h]);
		host_caps(l, h, p->inv[h]);
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *spec;
		if (!dom_commits(l, d, &spec))
			continue;
		load_add_vm(l, d->host, spec, load_dom_memory(d), d->vcpus,
			    d->state == DOM_RUNNING ? d->cpu_load : 0);
	}
	load_sums_recompute(l);
}

void load_release(struct load *l)
{
	struct load_priv *p = load_priv(l);
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

bool load_host_allowed(const struct vm_spec *vm, const struct obs_host *h)
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
bool load_fits(const struct load *l, const struct vm_spec *vm, size_t host, uint64_t mem,
		 int vcpus, const char **reason, char *buf, size_t len)
{
	const struct obs_host *h = &l->o->hosts[host];
	const struct host_load *hl = &l->hosts[host];
	const struct load_priv *p = load_priv(l);
	enum hv_type t;
	char b1[32], b2[32];
	uint64_t cap = h->memory > h->reserve ? h->memory - h->reserve : 0;
	double vcap = h->cpus * l->c->balance.vcpu_overcommit;

	if (!h->online)
		return (*reason = "offline"), false;
	if (h->maintenance)
		return (*reason = "in maintenance"), false;
	if (!load_host_allowed(vm, h)) {
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
	    load_group_count(l, load_group_find(p, vm->placement.spread, G_SPREAD), host) > 0) {
		if (!buf)
			return (*reason = "spread group has a member here"), false;
		snprintf(buf, len, "spread group '%s' already has a member here", vm->placement.spread);
		return (*reason = buf), false;
	}
	if (vm->placement.together) {
		long other = together_elsewhere(l, load_group_find(p, vm->placement.together, G_TOGETHER), host);
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


/* Score if host a lost and host b gained (mem, vcpus, cpu); a or b may be -1. */
double load_score_if(const struct load *l, long a, long b, uint64_t mem, int vcpus, double cpu)
{
	const struct load_priv *p = load_priv(l);
	double sum[N_METRICS], sq[N_METRICS];

	memcpy(sum, p->sum, sizeof(sum));
	memcpy(sq, p->sq, sizeof(sq));
	load_sums_if(l, a, -1, mem, vcpus, cpu, sum, sq);
	load_sums_if(l, b, +1, mem, vcpus, cpu, sum, sq);
	return load_score_from(p, sum, sq);
}


/* Host indices by host name (qsort_r with the observed state). */
int load_cmp_host_name(const void *a, const void *b, void *o)
{
	const struct observed *obs = o;
	return strcmp(obs->hosts[*(const size_t *)a].name, obs->hosts[*(const size_t *)b].name);
}

/* The hosts named by placement.hosts, by binary search in by_name. */
size_t load_hosts_named(const struct load *l, const size_t *by_name, const struct vm_spec *vm,
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

void load_mean_sd(const struct load *l, double mean[N_METRICS], double sd[N_METRICS])
{
	const struct load_priv *p = load_priv(l);

	for (int m = 0; m < N_METRICS; m++) {
		double var;
		mean[m] = p->n_eligible ? p->sum[m] / (double)p->n_eligible : 0;
		var = p->n_eligible ? p->sq[m] / (double)p->n_eligible - mean[m] * mean[m] : 0;
		sd[m] = var > 0 ? sqrt(var) : 0;
	}
}

double load_pressure(const struct load *l, size_t h, const double mean[N_METRICS],
		     const double sd[N_METRICS])
{
	const struct load_priv *p = load_priv(l);
	double press = 0;

	for (int m = 0; m < N_METRICS; m++)
		if (p->w[m] > 0 && sd[m] > 1e-12)
			press += p->w[m] * (p->u[h][m] - mean[m]) / sd[m];
	return press;
}
