/*
 * ha.h - high availability: which hosts are dead, fencing them, and which
 * VMs to run again elsewhere.
 *
 * Detection. Every vem run that observes the cluster (apply, reconcile)
 * updates one record per host: up; suspect from the first observation in
 * which it did not answer (since, misses); down once it has been
 * unreachable for the cluster's ha.host-down-after and in at least
 * ha.confirmations observations in a row (misses counts up to that, so a
 * host that stays away does not change the records on every run); fenced once its fence agent
 * powered it off and a status said off (hv/fence.h). A host that answers
 * again is up. The records live on the cluster's hosts, through libvirt,
 * like the lease: an inactive domain "vem-hoststate-CLUSTER" (never
 * started) on every host that answers, whose metadata holds them with a
 * generation counter; a run reads the newest generation it finds. So a
 * timer, a workstation and a GitOps hook agree on when a host went away.
 * Only the holder of the cluster's lease writes them.
 *
 * Recovery. A VM last seen on a fenced host, and seen on no host now, is
 * lost: the plan creates it on a surviving host by its ha.policy (restart
 * with the same disks where they are all on shared pools, recreate from its
 * image with consent, none), higher ha.priority first; what does not fit is
 * held (HELD_UNPLACEABLE). Before such a create runs, the VM is recorded as
 * recovered from the dead host (ha_guard): when that host comes back, its
 * copy is stale: never started, removed under the consent rules of any
 * removal (its volumes kept on shared storage).
 *
 * Ownership: struct ha_state owns its strings; host i is cluster host i.
 * Threads: ha_guard may be called from the executor's threads.
 */
#ifndef VEM_HA_H
#define VEM_HA_H

#include "plan.h"
#include "place.h"
#include "lease.h"

#include <pthread.h>

enum ha_host_state {
	HA_UP = 0,
	HA_SUSPECT,          /* unreachable, not long enough or not often enough */
	HA_DOWN,             /* down, not fenced (no device, or the fence failed) */
	HA_FENCED,           /* down and powered off: its VMs may run elsewhere */
};
const char *ha_host_state_name(enum ha_host_state s);

struct ha_host {
	char *name;
	enum ha_host_state state;
	int64_t since;           /* wall ms of the first failed observation (0: up) */
	int misses;              /* failed observations in a row */
	int64_t fenced_at;       /* wall ms (0: not fenced) */
	char *why;               /* last fence failure, or NULL */
	char **vms;              /* VMs (owned domains) seen on it when it last answered */
	size_t n_vms;
	char **stale;            /* VMs recovered elsewhere: its copies are stale */
	size_t n_stale;
};

struct ha_state {
	struct ha_host *hosts;   /* one per cluster host, in the cluster's order */
	size_t n;
	long gen;                /* generation read (written as gen + 1) */
	bool changed;            /* differs from what was read */
	pthread_mutex_t lock;    /* ha_guard */
};

void ha_state_init(struct ha_state *st, const struct cluster *c);
void ha_state_release(struct ha_state *st);

/* The records as text ("gen N\nhost NAME STATE SINCE MISSES FENCED\nvm NAME VM\n...")
 * and back; parse keeps the hosts of c only. */
void ha_state_format(const struct ha_state *st, struct strbuf *out);
int ha_state_parse(struct ha_state *st, const struct cluster *c, const char *text,
		   struct errbuf *err);

/* Read the newest records from the hosts that answer (none: all up). */
int ha_state_read(struct hv_session *s, const struct cluster *c, struct ha_state *st,
		  struct errbuf *err);
/* Write the records (generation + 1) to every host that answers; 0 when
 * at least one took them. */
int ha_state_write(struct hv_session *s, const struct cluster *c, struct ha_state *st,
		   struct errbuf *err);

/* One observation at wall time now: updates states, misses (up to
 * ha.confirmations) and the VMs seen; drops stale entries whose host answers
 * and has no copy left; sets changed only when the records differ. Pure. */
void ha_observe(struct ha_state *st, const struct cluster *c, const struct observed *o,
		int64_t now);

/* Fence every down host that is not fenced yet: 0 when all are, -1 when some
 * could not be (their why says so; progress gets a line per host). Sets
 * changed when a host is fenced or its failure differs from the last one. */
int ha_fence_down(struct ha_state *st, const struct cluster *c, int64_t timeout,
		  FILE *progress);

/* ---- used by plan_build (plan_options.ha) ---- */

/* The down host (fenced or not) vm was last seen on, or -1. */
long ha_last_down(const struct ha_state *st, const char *vm);
/* The fenced host vm was last seen on, or -1. */
long ha_lost_from(const struct ha_state *st, const char *vm);
/* Whether vm's copy on host is stale (recovered elsewhere while host was fenced). */
bool ha_copy_stale(const struct ha_state *st, size_t host, const char *vm);
/* Whether every host offline in o is fenced (creating a VM cannot make it run twice). */
bool ha_offline_all_fenced(const struct ha_state *st, const struct observed *o);
/* Plan the recovery of lost[0..n) (VMs seen nowhere, last seen on a down
 * host): by policy and priority, placed on the surviving hosts through l;
 * those of a host that is not fenced are held (HELD_BLOCKED). */
void ha_plan_recovery(const struct cluster *c, const struct observed *o,
		      const struct plan_options *opt, const struct ha_state *st,
		      const struct vm_spec *const *lost, size_t n, struct load *l,
		      struct plan *p);
/* Plan the clean-up of a stale copy d (on a returned host): removed when
 * stopped (its volumes kept on shared storage, deleted with consent
 * otherwise), held as unsafe when it runs. */
void ha_plan_stale(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, const struct obs_domain *d,
		   struct plan *p, size_t *removals);
/* Take vm's stale copies out of found[0..*n) (planning their clean-up);
 * true when the VM must not be touched further in this plan (a stale copy
 * runs). */
bool ha_drop_stale(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, const char *vm,
		   const struct obs_domain **found, size_t *n, struct plan *p,
		   size_t *removals);

/* ---- used by apply ---- */

struct ha_guard_ctx {
	struct hv_session *s;
	const struct cluster *c;
	struct ha_state *st;
	struct lease *lease;     /* checked after recording (NULL: none) */
};
/* exec_options.guard: before creating a VM lost with a fenced host, record
 * it as recovered and write the records (the create fails when they cannot
 * be written); then the lease check. */
int ha_guard(void *arg, const struct plan_action *a, struct errbuf *err);

/* One line per host that is not up, for status and apply ("h2: fenced since ..."). */
void ha_describe(const struct ha_state *st, struct strbuf *out);

#endif
