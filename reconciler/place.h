/*
 * place.h - placement of VMs on hosts and the load model behind it.
 *
 * struct load tracks what each host carries (committed memory, vCPUs,
 * measured CPU load, members of spread/together groups) and is updated as
 * the plan places, starts, removes and migrates VMs, so every decision sees
 * the consequences of the ones before it.
 */
#ifndef VEM_PLACE_H
#define VEM_PLACE_H

#include "plan.h"

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
	void *priv;               /* group membership indexes (place.c) */
};

/* Build the load from the observed state (all domains, owned or not). */
void load_init(struct load *l, const struct cluster *c, const struct observed *o);
void load_release(struct load *l);
void load_add_vm(struct load *l, size_t host, const struct vm_spec *vm,
		 uint64_t memory, int vcpus, double cpu_load);
void load_remove_vm(struct load *l, size_t host, const struct vm_spec *vm,
		    uint64_t memory, int vcpus, double cpu_load);

/*
 * Choose a host for each of vms[0..n) (a group to place together, e.g. all
 * new VMs of one reconcile): hosts[i] receives the index, or -1 when no host
 * fits; then *why (strbuf owned by caller) explains, per VM, which
 * constraint rules out each host. Accepted placements are added to l.
 * On clusters of more than 64 eligible hosts each VM is tried on a bounded
 * set of hosts first, then on all. Returns the number of VMs placed.
 */
size_t place_vms(struct load *l, const struct vm_spec *const *vms, size_t n,
		 long *hosts, struct strbuf *why);

/* Whether vm may run on host (hard constraints); reason when not. */
bool place_feasible(const struct load *l, const struct vm_spec *vm, size_t host,
		    const char **reason);

/* Weighted imbalance score of the current load (formula in place.c). */
double load_score(const struct load *l);

/*
 * Plan live migrations: repairs first (maintenance hosts, disallowed hosts,
 * broken spread groups), then, by balance.mode, either balancing while the
 * score exceeds the threshold (single moves chosen one move ahead, and
 * swaps of two VMs: reasons "balance" and "swap") or packing (reason
 * "pack": hosts emptied within pack-headroom, named in a plan note).
 * Appends ACT_MIGRATE actions to p. On clusters of more than 64 eligible
 * hosts each round searches bounded sets of source and target hosts
 * (docs/balancing.md); hard constraints always hold, and each migration
 * fits its destination once the ones before it in the plan are done.
 */
void balance_plan(struct load *l, const struct plan_options *opt, struct plan *p);

#endif
