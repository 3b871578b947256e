/*
 * exec.h - carry out a plan on the hosts, then observe again until the
 * cluster converges.
 *
 * The reconcile loop is exec_converge(): every round, the first included,
 * observes, plans, lets the caller show the plan (and ask), and acts, until
 * a round has nothing left to change or max_rounds are spent. The caller's
 * part of a round is two hooks in exec_options (observe, planned); `vem
 * apply`, `vem plan`, `vem reconcile` (--once, timer, --watch) all run
 * their rounds through it (cli/apply.c).
 *
 * Actions run in parallel across hosts (at most per_host at once on one
 * host, migrations limited by the cluster's balance.max_parallel and to one
 * per host). One failing action does not stop the others; each result is
 * reported with its elapsed time. Every action is safe to interrupt: the
 * next run observes what is there and finishes or undoes it.
 */
#ifndef VEM_EXEC_H
#define VEM_EXEC_H

#include "plan.h"

struct exec_options {
	int per_host;            /* actions at once on one host (default 2) */
	int max_rounds;          /* observe+plan+execute rounds (default 5) */
	bool dry_run;
	FILE *progress;          /* one line per action; NULL = silent */
	volatile int *stop;      /* set to non-zero (SIGTERM) to stop between actions */
	/*
	 * Called right before every action that can lose data or run a VM
	 * twice (all but stops: another vem acting meanwhile could create the
	 * same VM elsewhere); non-zero fails the action and stops the run (the
	 * cluster's lease was lost). NULL: none.
	 */
	int (*guard)(void *arg, const struct plan_action *a, struct errbuf *err);
	void *guard_arg;
	/*
	 * Called after every action, from the thread that ran it (several may
	 * run at once): rc 0 or -1, the time it took, libvirt's error or NULL.
	 * For metrics and structured events (cli/watch.c). NULL: none.
	 */
	void (*on_action)(void *arg, const struct plan_action *a, const struct observed *o,
			  int rc, int64_t ms, const char *error);
	void *on_action_arg;
	/*
	 * The caller's part of every round of exec_converge(); round counts
	 * from 1. observe: fill o (zeroed; released by the loop, also on
	 * failure); NULL: hv_observe(). planned: called with the round's
	 * observation and plan before anything is done: show it, ask;
	 * returns EXEC_ROUND_ACT to go on (act, or end converged when the plan
	 * changes nothing), EXEC_ROUND_END to end the run here (the caller
	 * records why), -1 with err to fail it. NULL: act.
	 */
	int (*observe)(void *arg, int round, struct observed *o, struct errbuf *err);
	int (*planned)(void *arg, int round, const struct observed *o, const struct plan *p,
		       struct errbuf *err);
	void *round_arg;
	/* plan.max_removals is the budget of the whole run, over all rounds */
	struct plan_options plan;
};
enum { EXEC_ROUND_ACT = 0, EXEC_ROUND_END = 1 };
void exec_options_default(struct exec_options *o);

struct exec_result {
	size_t done, failed;     /* actions, over all rounds */
	int rounds;
	bool converged;          /* last observation needs no change */
	bool partial;            /* some host was offline */
	bool stopped;            /* interrupted by *stop */
	bool guard_failed;       /* the guard refused an action: the run stopped */
	size_t removals;         /* removals and recreates attempted (budget used) */
	size_t held;             /* changes the last plan held back (plan_held) */
	char held_what[256];     /* ... described (plan_held_describe) */
};

/* Execute one plan (no re-observation). */
int exec_plan(struct hv_session *s, const struct cluster *c, const struct observed *o,
	      const struct plan *p, const struct exec_options *opt,
	      struct exec_result *res, struct errbuf *err);

/*
 * The reconcile loop: observe, plan, execute, repeat until converged or
 * max_rounds (a round that only rolls a group on, see rollout.h, adds one).
 * Stops before a round when *opt->stop is set or the guard refused. res
 * (zeroed by the caller) accumulates over the rounds: actions, rounds that
 * acted, removals (the budget left to a round is opt->plan.max_removals -
 * res->removals), held, partial. -1 when observing or planning failed or a
 * hook returned -1; failed actions are counted, not errors.
 */
int exec_converge(struct hv_session *s, const struct cluster *c,
		  const struct exec_options *opt, struct exec_result *res,
		  struct errbuf *err);

#endif
