/*
 * loadmodel_priv.h - the load model's internals, for its two users in this
 * folder (placement: place.c, the balancer: balance.c) and their tests.
 *
 * Utilisations per host and metric, the running sums behind the score (so
 * the score after a hypothetical move costs O(1)), the group counts, and
 * the hard constraints (load_fits). Nothing outside reconciler/ includes it.
 */
#ifndef VEM_LOADMODEL_PRIV_H
#define VEM_LOADMODEL_PRIV_H

#include "loadmodel.h"

#include <math.h>

enum { M_CPU, M_MEM, M_VCPU, N_METRICS };
enum group_kind { G_SPREAD, G_TOGETHER };

struct group;
struct count_slot;

struct load_priv {
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

static inline struct load_priv *load_priv(const struct load *l)
{
	return l->priv;
}

/* Online and not in maintenance: a host that counts in the score and may
 * receive VMs. */
static inline bool load_host_eligible(const struct obs_host *h)
{
	return h->online && !h->maintenance;
}

/* Utilisation of host h if it carried (mem, vcpus, cpu). */
static inline void load_util_of(const struct load_priv *p, size_t h, double mem, double vcpus,
				double cpu, double u[N_METRICS])
{
	u[M_MEM] = mem * p->inv[h][M_MEM];
	u[M_VCPU] = vcpus * p->inv[h][M_VCPU];
	u[M_CPU] = cpu * p->inv[h][M_CPU];
}

/* What a domain commits: the larger of its current and defined memory. */
uint64_t load_dom_memory(const struct obs_domain *d);

/* Score sums from scratch (incremental updates drift over many moves). */
void load_sums_recompute(struct load *l);
/* The score of the sums sum[]/sq[] (copies of p's, changed). Inline: the
 * balancer calls it for each scan's winner and each swap that may count
 * (load_rank_from ranks the others). */
static inline double load_score_from(const struct load_priv *p, const double *sum,
				     const double *sq)
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

/* The score of sum[]/sq[] times n_eligible * wsum, without a division
 * (n^2 var = n sq - sum^2): to compare, to the last few bits; 0 where the
 * score is 0. */
static inline double load_rank_from(const struct load_priv *p, const double *sum,
				    const double *sq)
{
	double r = 0, n = (double)p->n_eligible;
	if (!p->n_eligible || p->wsum <= 0)
		return 0;
	for (int m = 0; m < N_METRICS; m++) {
		double v;
		if (p->w[m] <= 0)
			continue;
		v = n * sq[m] - sum[m] * sum[m];
		r += p->w[m] * sqrt(v > 0 ? v : 0);
	}
	return r;
}

/* Add to sum/sq the change of host h (-1: none) gaining (sign > 0) or
 * losing (mem, vcpus, cpu). */
static inline void load_sums_if(const struct load *l, long h, int sign, uint64_t mem, int vcpus,
				double cpu, double *sum, double *sq)
{
	const struct load_priv *p = load_priv(l);
	const struct host_load *hl;
	double u[N_METRICS];

	if (h < 0 || !load_host_eligible(&l->o->hosts[h]))
		return;
	hl = &l->hosts[h];
	if (sign < 0)
		load_util_of(p, (size_t)h, hl->mem_used > mem ? (double)(hl->mem_used - mem) : 0,
			hl->vcpus_used - vcpus, hl->cpu_load - cpu, u);
	else
		load_util_of(p, (size_t)h, (double)(hl->mem_used + mem), hl->vcpus_used + vcpus,
			hl->cpu_load + cpu, u);
	for (int m = 0; m < N_METRICS; m++) {
		sum[m] += u[m] - p->u[h][m];
		sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
	}
}

/* Score if host a lost and host b gained (mem, vcpus, cpu); a or b may be -1. */
double load_score_if(const struct load *l, long a, long b, uint64_t mem, int vcpus, double cpu);
/* Mean and standard deviation of each metric's utilisation over the
 * eligible hosts, and host h's combined pressure from them: how far above
 * the mean it is, in standard deviations, weighted like the score. */
void load_mean_sd(const struct load *l, double mean[N_METRICS], double sd[N_METRICS]);
double load_pressure(const struct load *l, size_t h, const double mean[N_METRICS],
		     const double sd[N_METRICS]);

/* Groups: the index of a group (-1 none), its members on host, and vm's
 * memberships added to (add) or taken off host. */
long load_group_find(const struct load_priv *p, const char *name, enum group_kind kind);
size_t load_group_count(const struct load *l, long gi, size_t host);
void load_groups_update(struct load *l, const struct vm_spec *vm, size_t host, bool add);

/* Hard constraints. Whether vm's placement rules allow host h. */
bool load_host_allowed(const struct vm_spec *vm, const struct obs_host *h);
/* Whether vm may take mem/vcpus on host (vm's own membership of its groups
 * already taken off its host by the caller); *reason when not, formatted
 * into buf when buf is not NULL, else generic. */
bool load_fits(const struct load *l, const struct vm_spec *vm, size_t host, uint64_t mem,
	       int vcpus, const char **reason, char *buf, size_t len);

/* Host indexes by name (qsort_r with the observed state), and the hosts
 * vm's placement.hosts names, found in such an index: into out. */
int load_cmp_host_name(const void *a, const void *b, void *o);
size_t load_hosts_named(const struct load *l, const size_t *by_name, const struct vm_spec *vm,
			size_t *out);

#endif
