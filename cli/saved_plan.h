/*
 * saved_plan.h - plans saved by `vem plan --out FILE` and carried out by
 * `vem apply FILE`, as Terraform's saved plans: what was reviewed is what
 * is applied, or nothing is.
 *
 * The file is JSON: the plan as `vem plan -o json` prints it, plus what it
 * depends on: the source and its revision, a digest of the observed state
 * (hosts, domains, states, sizes, spec hashes) and of the actions, and the
 * planning options. `vem apply FILE` resolves the same source, observes and
 * plans again with the same options, and acts only when the revision, the
 * observed state and the actions are all the same as when the plan was
 * saved; otherwise it refuses ("stale") and changes nothing.
 *
 * struct saved_plan owns its strings; saved_plan_release() frees them.
 */
#ifndef VEM_SAVED_PLAN_H
#define VEM_SAVED_PLAN_H

#include "apply.h"

#define SAVED_PLAN_FORMAT 1
#define SAVED_PLAN_MAX_BYTES (64u << 20)

struct saved_plan {
	char *cluster;
	char *source;            /* as given to -f */
	char *revision;
	char *observed_digest;
	char *actions_digest;
	size_t changes;          /* number of actions, for messages */
	bool prune, allow_empty, balance;
	int max_removals;
	char **targets;
	size_t n_targets;
	char **allow_destroy;
	size_t n_allow_destroy;
	char **adopt;                 /* --adopt patterns */
	size_t n_adopt;
};

/* Write the plan p (made from c and o with a's options) to path. */
int saved_plan_write(const char *path, const struct apply_args *a, const struct cluster *c,
		     const struct observed *o, const struct plan *p, struct errbuf *err);
/* Read a saved plan; every problem is named with the file. */
int saved_plan_read(const char *path, struct saved_plan *sp, struct errbuf *err);
void saved_plan_release(struct saved_plan *sp);
/* Make a's planning options those of the saved plan (pointing into sp). */
void saved_plan_options(const struct saved_plan *sp, struct apply_args *a);

#endif
