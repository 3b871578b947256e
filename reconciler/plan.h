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

#include "../hv/hv.h"

enum act_kind {
	ACT_CREATE,     /* define + start (if running) on host */
	ACT_START,
	ACT_STOP,
	ACT_UPDATE,     /* changes[], impact says live / restart / recreate */
	ACT_REMOVE,     /* stop, undefine, delete vem's volumes */
	ACT_MIGRATE,    /* live migration host -> dest */
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
};

struct plan_options {
	bool prune;                   /* remove owned domains absent from desired (default true) */
	bool allow_empty;             /* allow an empty desired state */
	int max_removals;             /* cap per run (default 10; < 0 = unlimited) */
	bool balance;                 /* plan balancing migrations (default: cluster's balance.enabled) */
	int64_t now;                  /* ms since the epoch, for cooldowns */
};
void plan_options_default(struct plan_options *o);

int plan_build(const struct cluster *c, const struct observed *o,
	       const struct plan_options *opt, struct plan *out,
	       struct errbuf *err);
void plan_release(struct plan *p);

/* Human output: "+ create api-0 on h2", "~ update db-0: memory 1GiB -> 2GiB (restart)",
 * "- remove old-1", "> migrate web-3 h1 -> h2 (score 0.31 -> 0.22)". */
void plan_print(const struct plan *p, const struct observed *o, FILE *f);
void plan_write_json(const struct plan *p, const struct observed *o,
		     struct strbuf *out);
/* Number of actions that change something (0 = "no changes"). */
size_t plan_changes(const struct plan *p);

/* Helpers used by plan_build and by placement/balance. */
void plan_add(struct plan *p, const struct plan_action *a);   /* copies *a (takes ownership of its strings) */
void plan_note(struct plan *p, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
