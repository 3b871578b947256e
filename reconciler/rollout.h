/*
 * rollout.h - changes that interrupt VMs roll over each VM group, a few at
 * a time, waiting for readiness (docs/rolling.md).
 *
 * An action interrupts its VM when it restarts or recreates it, stops it,
 * or (with the cluster's rollout.migrations) migrates it. A group's members
 * are unavailable when they should run but do not, or run but are not ready
 * (plan_options.unready). Per group and per plan, interrupting actions are
 * admitted in replica order while at most max-unavailable members are
 * unavailable; an action on a member that is unavailable already is always
 * admitted. The others stay in the file's wish list as HELD_WAITING: the
 * next round (after the admitted ones are ready) takes them.
 *
 * The plan is pure; rollout_plan() is the one place that asks the hosts
 * which running VMs are not ready before planning, and the executor waits
 * for readiness after each action that (re)starts a VM (rollout_wait_ready).
 */
#ifndef VEM_ROLLOUT_H
#define VEM_ROLLOUT_H

#include "plan.h"

/* Whether a interrupts its VM (counted against max-unavailable). */
bool rollout_interrupts(const struct cluster *c, const struct plan_action *a);
/* Hold back p's interrupting actions beyond each group's max-unavailable
 * (called by plan_build). */
void rollout_limit(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, struct plan *p);

/*
 * plan_build, after asking the hosts (s) which running members of groups
 * with interrupting actions are not ready; s NULL: plan_build alone (an
 * offline plan counts running VMs as ready).
 */
int rollout_plan(struct hv_session *s, const struct cluster *c, const struct observed *o,
		 const struct plan_options *opt, struct plan *out, struct errbuf *err);

/*
 * Running VMs of c (only those in groups, when groups is non-NULL, a list
 * of group names) with agent or tcp probes that fail: names and reasons,
 * stored in *out (caller frees with rollout_unready_free). A VM whose spec
 * changed is not probed: it runs with its old spec, not the file's probes.
 */
size_t rollout_probe(struct hv_session *s, const struct cluster *c, const struct observed *o,
		     const char *const *groups, size_t n_groups, struct plan_unready **out);
void rollout_unready_free(struct plan_unready *u, size_t n);

/*
 * After an action started vm on host: wait out its settle time, then poll
 * its probes until they pass or its readiness timeout ends (-1: "not ready
 * after ...: why"). *stop set ends the wait early (-1). A VM without probes,
 * or meant to be stopped, is ready at once.
 */
int rollout_wait_ready(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       volatile int *stop, struct errbuf *err);

#endif
