/*
 * place.h - placement of new VMs on hosts, by the load model (loadmodel.h).
 *
 * Placement reads and updates a struct load; it owns nothing. The caller
 * (plan_build, high availability) turns its answers into plan actions.
 */
#ifndef VEM_PLACE_H
#define VEM_PLACE_H

#include "loadmodel.h"

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

#endif
