/*
 * loadmodel.h - the load model: what each host carries, and how evenly.
 *
 * struct load tracks what each host carries (committed memory, vCPUs,
 * measured CPU load, members of spread/together groups). Committed means
 * running or paused domains (owned or not) and owned domains the cluster
 * file wants running, at the larger of their current and defined memory:
 * the one rule that placement, the balancer and `vem status` use. The plan
 * updates the load as it places, starts, removes and migrates VMs, so
 * every decision sees the consequences of the ones before it.
 *
 * Ownership: the load points into the cluster and the observed state (both
 * must outlive it) and owns the rest; load_release frees it.
 */
#ifndef VEM_LOADMODEL_H
#define VEM_LOADMODEL_H

#include "hv/hv.h"

struct host_load {
	uint64_t mem_used;        /* bytes committed (max of current/defined memory) */
	int vcpus_used;
	double cpu_load;          /* measured, in cores */
	size_t n_vms;
};

struct load {
	const struct cluster *c;
	const struct observed *o;
	struct host_load *hosts;  /* o->n_hosts entries */
	void *priv;               /* utilisations, sums, group indexes (loadmodel_priv.h) */
};

/* Build the load from the observed state (all domains, owned or not). */
void load_init(struct load *l, const struct cluster *c, const struct observed *o);
void load_release(struct load *l);
void load_add_vm(struct load *l, size_t host, const struct vm_spec *vm,
		 uint64_t memory, int vcpus, double cpu_load);
void load_remove_vm(struct load *l, size_t host, const struct vm_spec *vm,
		    uint64_t memory, int vcpus, double cpu_load);

/* Weighted imbalance score of the current load (formula in loadmodel.c). */
double load_score(const struct load *l);

#endif
