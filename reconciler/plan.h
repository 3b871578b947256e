/*
 * plan.h - desired x observed -> a plan of actions.
 *
 * plan_build() is pure: it reads a cluster and an observed state and writes
 * a plan; it never contacts a host. The plan points into both (spec, host
 * indices), so they must outlive it. Host indices are indices into
 * observed.hosts (== cluster.hosts after observed_apply_cluster()).
 */
#ifndef VEM_PLAN_H
#define VEM_PLAN_H

#include "hv/hv.h"

enum act_kind {
	ACT_CREATE,     /* define + start (if running) on host */
	ACT_START,
	ACT_STOP,
	ACT_UPDATE,     /* changes[], impact says live / restart / recreate */
	ACT_REMOVE,     /* stop, undefine, delete vem's volumes */
	ACT_MIGRATE,    /* live migration host -> dest */
	ACT_ADOPT,      /* write vem's metadata into a running domain that has none;
			 * changes[] lists what differs from the file (the next
			 * round updates it like any VM) */
};
const char *act_kind_name(enum act_kind k);

enum impact {
	IMPACT_LIVE = 0,      /* applied to the running VM */
	IMPACT_RESTART,       /* config redefined, takes a restart */
	IMPACT_RECREATE,      /* the domain must be removed and created again */
};
const char *impact_name(enum impact i);

struct field_change {
	char *field;          /* "memory", "vcpus", "kernel", ... */
	char *from, *to;      /* human-readable values */
	enum impact impact;
	bool numeric;         /* from_n/to_n hold the values (bytes, counts) */
	uint64_t from_n, to_n;
};

struct plan_action {
	enum act_kind kind;
	char *vm;                     /* VM (or domain) name */
	const struct vm_spec *spec;   /* desired spec; NULL for remove */
	size_t host;                  /* where it acts; source of a migration */
	size_t dest;                  /* target of a migration */
	struct field_change *changes; /* update only */
	size_t n_changes;
	enum impact impact;           /* the strongest impact of changes[] */
	char *reason;                 /* why: "balance", "maintenance", "duplicate", ... or NULL */
	double score_before, score_after;   /* imbalance score around a migration */
	uint64_t bytes;               /* what a migration copies: memory + host-local disks */
	long after;                   /* index of an action that must finish first, -1 none */
	/*
	 * Remove and recreate: the data disks kept (see hv_domain_remove;
	 * HV_KEEP_ALL for a duplicate's clean-up), and the data volumes the
	 * action deletes. destroys is true when it deletes any: such an
	 * action is in the plan only when the user allowed it for this VM.
	 */
	size_t keep_disks;
	char **volumes;
	size_t n_volumes;
	bool destroys;
};

/* Why a change the file asks for is not in the plan. */
enum held_kind {
	HELD_UNPLACEABLE,     /* no host can take the VM (new, or to move off its host) */
	HELD_CONSENT,         /* it would destroy data and nobody allowed it */
	HELD_BUDGET,          /* over the run's removal budget */
	HELD_UNSAFE,          /* the VM runs on two hosts: vem does not touch it */
	HELD_BLOCKED,         /* its host cannot make the change (hypervisor not offered) */
	HELD_WAITING,         /* it interrupts a VM and waits for its group's rollout */
};

struct plan_held {
	enum held_kind kind;
	char *vm;
	char *why;
};

struct plan {
	struct plan_action *actions;
	size_t n, alloc;
	char **notes;                 /* things the user must know: unplaceable VMs with
				       * the reason per host, capped removals, ... */
	size_t n_notes, notes_alloc;
	double score;                 /* imbalance score before the plan */
	double score_after;           /* ... and after it */
	bool refused;                 /* the plan must not be applied (notes say why) */
	/* Changes the file asks for that this plan does not make: */
	size_t held_budget;           /* removals beyond the run's removal budget */
	size_t held_consent;          /* destructive changes nobody allowed (--allow-destroy) */
	size_t held_unsafe;           /* VMs vem will not touch (running on two hosts, ...) */
	size_t held_unplaceable;      /* VMs no host can take (new, or to move off a host) */
	size_t held_blocked;          /* changes their host cannot make (hypervisor not offered) */
	size_t held_waiting;          /* interrupting changes waiting for the group's rollout */
	struct plan_held *held;       /* each held-back change, per VM */
	size_t n_held, held_alloc;
};
/* Changes the file asks for that the plan holds back (0 = none). */
size_t plan_held(const struct plan *p);
/* "2 VMs cannot be placed, 1 removal over the budget, ...": what is held back. */
void plan_held_describe(const struct plan *p, struct strbuf *out);

/* A VM that runs but is not ready (its probes fail): counts as unavailable. */
struct plan_unready {
	const char *vm;
	const char *why;
};
struct ha_state;

struct plan_options {
	bool prune;                   /* remove owned domains absent from desired (default true) */
	bool allow_empty;             /* allow an empty desired state */
	/*
	 * Removal budget: at most this many removals and destructive
	 * recreates in this plan (default 10; < 0 = unlimited). A run that
	 * plans several rounds passes what is left of it (exec_converge).
	 */
	int max_removals;
	/* VMs whose data the user allows to be destroyed (fnmatch patterns,
	 * from --allow-destroy); the cluster file's allow-destroy adds to it. */
	const char *const *allow_destroy;
	size_t n_allow_destroy;
	/* --target: only these VMs (names, group names or fnmatch patterns);
	 * none = all. A targeted plan plans no balancing or repairs. */
	const char *const *targets;
	size_t n_targets;
	bool balance;                 /* plan balancing migrations (default: cluster's balance.enabled) */
	/* Running VMs whose readiness probes fail (reconciler/rollout.h
	 * rollout_plan fills it from the hosts; none = all running are ready). */
	const struct plan_unready *unready;
	size_t n_unready;
	/* --adopt: VMs (names, group names or patterns) whose domains without vem
	 * metadata may be adopted; a VM's 'adopt: true' adds to it. */
	const char *const *adopt;
	size_t n_adopt;
	int64_t now;                  /* ms since the epoch, for cooldowns */
	/* Dead hosts (reconciler/ha.h): VMs lost with a fenced host are
	 * recovered, stale copies on a returned host cleaned up. NULL: none. */
	const struct ha_state *ha;
	/*
	 * Images of the VMs to create are checked with this before they are
	 * placed (hv/image.h image_check_default for vem plan and apply):
	 * why[i] (plan_build frees) NULL when imgs[i] is cached or reachable,
	 * else the reason, and the VM is held with it. NULL (the default):
	 * not checked, and plan_build contacts nothing.
	 */
	void (*check_images)(const struct image_spec *const *imgs, size_t n, char **why);
};
void plan_options_default(struct plan_options *o);

int plan_build(const struct cluster *c, const struct observed *o,
	       const struct plan_options *opt, struct plan *out,
	       struct errbuf *err);
void plan_release(struct plan *p);
/* Free one action's contents (one plan_add copied in). */
void plan_action_release(struct plan_action *a);

/* Human output: "+ create api-0 on h2", "~ update db-0: memory 1GiB -> 2GiB (restart)",
 * "- remove old-1", "> migrate web-3 h1 -> h2 (score 0.31 -> 0.22)". */
void plan_print(const struct plan *p, const struct observed *o, FILE *f);
void plan_write_json(const struct plan *p, const struct cluster *c, const struct observed *o,
		     struct strbuf *out);
/* Number of actions that change something (0 = "no changes"). */
size_t plan_changes(const struct plan *p);
/* Removals and destructive recreates in p (what the removal budget counts). */
size_t plan_removals(const struct plan *p);
/* Whether the user allowed vm's data to be destroyed (options or file). */
bool plan_destroy_allowed(const struct cluster *c, const struct plan_options *opt,
			  const char *vm);

/*
 * Digests for saved plans (vem plan --out, vem apply PLAN): of the plan's
 * actions, and of the observed state a plan depends on (hosts, domains,
 * their states, sizes and spec hashes; not the measured load). 64 hex
 * chars + NUL.
 */
void plan_digest(const struct plan *p, const struct observed *o, char out[65]);
void plan_observed_digest(const struct observed *o, char out[65]);

/* Why vm's change is held back, or NULL (the first reason recorded). */
const char *plan_held_why(const struct plan *p, const char *vm);

/* Helpers used by plan_build, rollouts and high availability. */
/* A new action (no changes, no volumes, keep_disks HV_KEEP_ALL, after -1). */
struct plan_action plan_action_make(enum act_kind k, const char *vm, const struct vm_spec *spec,
				    size_t host);
void plan_action_release(struct plan_action *a);
/* Mark the data volumes of d that removing it with keep_disks deletes (a->destroys). */
void plan_action_set_destroyed(struct plan_action *a, const struct obs_domain *d,
			       size_t keep_disks);
/* Hold a back for want of consent, naming what it would delete ("removing"). */
void plan_hold_destroy(struct plan *p, const struct plan_action *a, const struct observed *o,
		       const char *what);
void plan_add(struct plan *p, const struct plan_action *a);   /* copies *a (takes ownership of its strings) */
void plan_note(struct plan *p, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Record a held-back change of vm (counted by kind); the message is also a
 * note unless note is false. */
void plan_hold(struct plan *p, enum held_kind k, const char *vm, bool note,
	       const char *fmt, ...) PRINTF_LIKE(5, 6);

#endif
